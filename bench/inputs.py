"""Shared bench inputs: molecules built once per session from the catalog, integrals from PySCF."""
import functools

import time

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


def best_seconds(function, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call (compilation, caches), for benches outside
    pytest-benchmark; `function` must wait for its own result."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def alkane(carbons: int):
    """n-alkane C_nH_(2n+2), all-trans, from ideal bond lengths and tetrahedral angles (not relaxed): a chain
    that grows the basis linearly with n, for scaling benches up to ~40 atoms (carbons=13)."""
    import numpy as np

    from qpt.system import Molecule

    half = np.radians(109.47) / 2
    along, across = 1.53 * np.sin(half), 1.53 * np.cos(half)  # C-C bond projected on / across the chain axis
    h_side, h_out = 1.09 * np.cos(half), 1.09 * np.sin(half)  # C-H bond: away from the chain, and out of plane
    atoms = []
    for i in range(carbons):
        side = 1.0 if i % 2 else -1.0  # the chain zig-zags in y; each carbon's hydrogens point away from it
        c = np.array([along * i, across * (i % 2), 0.0])
        atoms.append(("C", c))
        for z in (h_out, -h_out):
            atoms.append(("H", c + [0.0, side * h_side, z]))
        if i in (0, carbons - 1):  # the end groups' third hydrogen continues the chain
            step = -1.0 if i == 0 else 1.0
            atoms.append(("H", c + [step * 1.09 * np.sin(half), -side * 1.09 * np.cos(half), 0.0]))
    return Molecule.from_atoms([(symbol, tuple(xyz)) for symbol, xyz in atoms])


@functools.lru_cache(maxsize=None)
def scaling_molecule(name, basis="def2-svp"):
    """A catalog molecule or "alkaneN" (see alkane) as a PySCF Mole."""
    if name.startswith("alkane"):
        return alkane(int(name[len("alkane"):])).to_pyscf(basis)
    return pyscf_molecule(name, basis)
