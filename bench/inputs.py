"""Shared bench inputs: molecules built once per session from the catalog, integrals from PySCF."""
import functools

import jax

jax.config.update("jax_enable_x64", True)


@functools.lru_cache(maxsize=None)
def pyscf_molecule(name, basis="def2-svp"):
    from qpt.system import Molecule

    return Molecule.from_catalog(name).to_pyscf(basis)


@functools.lru_cache(maxsize=None)
def packed_eri(name, basis="def2-svp"):
    return pyscf_molecule(name, basis).intor("int2e", aosym="s8")


def timed(benchmark, function, *args, rounds=5):
    """Compile/warm up outside the timing, then time `rounds` calls that block until the result is ready."""
    jax.block_until_ready(function(*args))
    return benchmark.pedantic(lambda: jax.block_until_ready(function(*args)), rounds=rounds, iterations=1)
