"""Density-fitted J+K: fused kernel (orbital and general paths) vs the pure-JAX twin vs PySCF's DF get_jk
(same cderi) vs qpt's packed-ERI kernel, one table per molecule ("jk_df <molecule>").

The density is that of the core-Hamiltonian orbitals, D = 2 C_occ C_occ^T. "occupied" rows give the
orbitals (qpt: density_factor = sqrt(2) C_occ; PySCF: D tagged with mo_coeff/mo_occ, its own orbital
path), "general" rows only D (qpt: eigendecomposition of D; PySCF: its N^3 path). The twin and the
packed kernel get their inputs outside the timing. Run: pytest --benchmark-only bench/bench_jk_df.py
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from inputs import packed_eri, scaling_molecule, timed
from pyscf import df, lib
from pyscf.df import df_jk

from qpt import ops
from qpt.ops import reference

AUXBASIS = "def2-universal-jkfit"
MOLECULES = ["water", "ethanol", "benzene", "uracil", "aspirin", "alkane13"]
PACKED = ["water", "ethanol", "benzene", "uracil"]            # packed ERIs above uracil: 2.4 GB and up
GENERAL = ["water", "ethanol", "benzene", "uracil", "aspirin"]  # PySCF's N^3 path takes minutes above
TWIN = ["water", "ethanol", "benzene", "uracil"]


@functools.lru_cache(maxsize=None)
def fitted(name):
    """(PySCF DF object, cderi, D, C_occ, C, occupations)."""
    mol = scaling_molecule(name)
    fit = df.DF(mol, auxbasis=AUXBASIS).build()
    _, orbitals = scipy.linalg.eigh(mol.intor("int1e_kin") + mol.intor("int1e_nuc"), mol.intor("int1e_ovlp"))
    n_occ = mol.nelectron // 2
    occupations = np.zeros(mol.nao)
    occupations[:n_occ] = 2.0
    c_occ = orbitals[:, :n_occ]
    return fit, np.asarray(fit._cderi), 2 * c_occ @ c_occ.T, c_occ, orbitals, occupations


def _group(benchmark, name, dtype=np.float64):
    benchmark.group = f"jk_df {name} {np.dtype(dtype).name}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_df_kernel_occupied(benchmark, name, dtype):
    _group(benchmark, name, dtype)
    _, cderi, density, c_occ, _, _ = fitted(name)
    call = jax.jit(lambda c, d, f: ops.jk_df(c, d, density_factor=f))
    timed(benchmark, call, *(jnp.asarray(a, dtype) for a in (cderi, density, np.sqrt(2) * c_occ)), rounds=5)


@pytest.mark.parametrize("name", GENERAL)
def bench_jk_df_kernel_general(benchmark, name):
    _group(benchmark, name)
    _, cderi, density, _, _, _ = fitted(name)
    timed(benchmark, jax.jit(ops.jk_df), jnp.asarray(cderi), jnp.asarray(density), rounds=3)


@pytest.mark.parametrize("name", TWIN)
def bench_jk_df_pure_jax(benchmark, name):
    _group(benchmark, name)
    _, cderi, density, _, _, _ = fitted(name)
    timed(benchmark, jax.jit(reference.jk_df), jnp.asarray(cderi), jnp.asarray(density), rounds=3)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_df_pyscf_occupied(benchmark, name):
    _group(benchmark, name)
    fit, _, density, _, orbitals, occupations = fitted(name)
    tagged = lib.tag_array(density, mo_coeff=orbitals, mo_occ=occupations)
    benchmark.pedantic(lambda: df_jk.get_jk(fit, tagged, hermi=1), rounds=3, iterations=1)


@pytest.mark.parametrize("name", GENERAL)
def bench_jk_df_pyscf_general(benchmark, name):
    _group(benchmark, name)
    fit, _, density, _, _, _ = fitted(name)
    benchmark.pedantic(lambda: df_jk.get_jk(fit, density, hermi=1), rounds=3, iterations=1)


@pytest.mark.parametrize("name", PACKED)
def bench_jk_packed_kernel(benchmark, name):
    _group(benchmark, name)
    _, _, density, _, _, _ = fitted(name)
    timed(benchmark, jax.jit(ops.jk), jnp.asarray(packed_eri(name)), jnp.asarray(density), rounds=5)
