"""E(D) and its gradient dE/dD = F(D) (B3LYP5, def2-svp, grid level 3): qpt.ops kernels vs pure JAX vs PySCF.

Each group "energy <molecule> <dtype>" times one density -> (E, dE/dD) step, under one jit:
- kernel: qpt.dft.energy with qpt.ops (J/K kernel + fused grid kernels), value_and_grad;
- pure_jax_reference: the same with qpt.ops.reference (dense ERIs, blocked pure-JAX grid);
- pyscf: the same quantities from PySCF, RKS.get_veff (J, K, V_xc from the incore ERIs and numint) and
  energy_tot; its Fock matrix is the gradient (up to symmetrisation) that autodiff gives the other two.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inputs import timed
from pyscf import dft as pyscf_dft

from qpt import dft, ops
from qpt.ops import reference
from qpt.system import Molecule, System

XC = "b3lyp5"
GRID_LEVEL = 3
CASES = [("water", np.float64), ("uracil", np.float64), ("uracil", np.float32)]
CASE_IDS = [f"{name}-{np.dtype(dtype).name}" for name, dtype in CASES]


@functools.lru_cache(maxsize=None)
def _system(name):
    return System.from_molecule(Molecule.get(name), basis="def2-svp", grid_level=GRID_LEVEL, jk="packed")


def _energy_and_gradient(backend, dtype):
    return jax.jit(jax.value_and_grad(lambda d, s: dft.energy(s, d, XC, ops=backend, dtype=dtype)))


@pytest.mark.parametrize("name,dtype", CASES, ids=CASE_IDS)
def bench_energy_kernel(benchmark, name, dtype):
    benchmark.group = f"energy {name} {np.dtype(dtype).name}"
    system = _system(name)
    timed(benchmark, _energy_and_gradient(ops, dtype), jnp.asarray(system.minao_density, dtype), system)


@pytest.mark.parametrize("name", ["water", "uracil"])
def bench_energy_pure_jax_reference(benchmark, name):
    benchmark.group = f"energy {name} float64"
    system = _system(name)
    timed(benchmark, _energy_and_gradient(reference, jnp.float64), jnp.asarray(system.minao_density), system,
          rounds=2)


@pytest.mark.parametrize("name", ["water", "uracil"])
def bench_energy_pyscf(benchmark, name):
    benchmark.group = f"energy {name} float64"
    system = _system(name)
    mf = pyscf_dft.RKS(system.molecule.to_pyscf("def2-svp"))
    mf.xc, mf.grids.level, mf.verbose = XC, GRID_LEVEL, 0
    mf.grids.build()
    mf._eri = mf.mol.intor("int2e", aosym="s8")  # incore ERIs, built outside the timing like the System's
    density = np.asarray(system.minao_density)
    h = mf.get_hcore()

    def energy_and_fock():
        veff = mf.get_veff(mf.mol, density)
        return mf.energy_tot(density, h, veff), h + veff

    energy_and_fock()
    benchmark.pedantic(energy_and_fock, rounds=3, iterations=1)
