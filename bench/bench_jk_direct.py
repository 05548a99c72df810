"""J+K without stored ERIs: the integral-direct kernel vs PySCF's direct get_jk (libcint + libcvhf) vs
computing libcint's packed ERIs and contracting them with the packed-ERI kernel (what an on-the-fly
training step pays per geometry today).

Groups are "jk_direct <molecule>" (def2-svp, float64, minao density), so the three sit in one table.
"""
import jax
import jax.numpy as jnp
import pytest
from inputs import pyscf_molecule, timed
from pyscf import scf

from qpt import ops
from qpt.system.basis import basis_shells_from_mol

MOLECULES = ["water", "ethanol", "benzene", "uracil"]


def _density(name):
    return scf.hf.init_guess_by_minao(pyscf_molecule(name))


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_direct_kernel(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    basis = basis_shells_from_mol(pyscf_molecule(name))
    timed(benchmark, jax.jit(lambda d: ops.jk_direct(basis, d)), jnp.asarray(_density(name)), rounds=3)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_direct_pyscf(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    mol, density = pyscf_molecule(name), _density(name)
    benchmark.pedantic(lambda: scf.hf.get_jk(mol, density, hermi=1), rounds=3, iterations=1)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_libcint_eri_then_packed_kernel(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    mol, density = pyscf_molecule(name), jnp.asarray(_density(name))
    contract = jax.jit(ops.jk)

    def step():
        eri = mol.intor("int2e", aosym="s8")
        return jax.block_until_ready(contract(jnp.asarray(eri), density))

    step()
    benchmark.pedantic(step, rounds=3, iterations=1)
