"""E_xc + V_xc per Fock build (PBE, def2-svp): fused grid kernels vs pure JAX vs PySCF's nr_rks.

Each group "xc <molecule> L<grid level> <dtype>" times one density -> (E_xc, V_xc) step:
- kernel: qpt.ops.grid density_on_grid -> pointwise PBE in JAX (autodiff for v_rho, v_sigma) ->
  potential_matrix, under one jit (qpt.dft.xc.xc_energy_and_potential, the path the Fock build runs);
- pure_jax_reference: the same with qpt.ops.reference's blocked pure-JAX twins (AOs recomputed per block);
- kernel_tabulated: the kernel path on a grid tabulated (qpt.ops.tabulate_grid) outside the timing, as a
  training step's later passes see it;
- pure_jax_ao_table: the same with the [4, G, N] AO table precomputed outside the timing (as the QPT paper's
  code holds it), rho = einsum over AOs and V = ao^T (v ao);
- pyscf_nr_rks: numint.nr_rks(mol, grids, 'pbe', D) (AO evaluation, libxc, V_xc, on PySCF's threads).
The target: uracil L3 float64, kernel at least 3x faster than PySCF.
"""
import functools
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inputs import pyscf_molecule, timed
from pyscf import dft, scf

from qpt.dft.functionals import get_functional
from qpt.dft.xc import xc_energy_and_potential
from qpt.ops import grid as grid_ops
from qpt.ops.reference import grid as reference_grid
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid

PBE = get_functional("pbe")
KERNEL_OPS = types.SimpleNamespace(density_on_grid=grid_ops.density_on_grid,
                                   potential_matrix=grid_ops.potential_matrix)
REFERENCE_OPS = types.SimpleNamespace(density_on_grid=reference_grid.density_on_grid,
                                      potential_matrix=reference_grid.potential_matrix)

CASES = [("uracil", 3), ("uracil", 1), ("water", 3), ("ethanol", 3), ("benzene", 3)]
CASE_IDS = [f"{name}-L{level}" for name, level in CASES]
# float32 is timed on the target case only.
TYPED_CASES = [(name, level, np.float64) for name, level in CASES] + [("uracil", 3, np.float32)]
TYPED_IDS = [f"{name}-L{level}-{np.dtype(dtype).name}" for name, level, dtype in TYPED_CASES]


@functools.lru_cache(maxsize=None)
def _inputs(name, level):
    mol = pyscf_molecule(name)
    return mol, basis_shells_from_mol(mol), Grid.from_pyscf(mol, level), scf.hf.init_guess_by_minao(mol)


def _cast(dtype, basis, grid, density):
    grid = Grid(jnp.asarray(grid.coords, dtype), jnp.asarray(grid.weights, dtype), grid.level)
    return basis, grid, jnp.asarray(density, dtype)


def _xc_step(ops, basis, grid):
    return jax.jit(lambda density: xc_energy_and_potential(PBE, basis, grid, density, ops))


def _ao_table_ops(ao):
    """density_on_grid / potential_matrix on a precomputed AO table ao [4, G, N] (basis and grid ignored)."""

    def density_on_grid(basis, grid, density):
        half = ao[0] @ density
        return jnp.sum(half * ao[0], axis=-1), 2 * jnp.einsum("gj,kgj->gk", half, ao[1:])

    def potential_matrix(basis, grid, v_rho, v_grad):
        weighted = 0.5 * v_rho[:, None] * ao[0] + jnp.einsum("gk,kgj->gj", v_grad, ao[1:])
        half = ao[0].T @ weighted
        return half + half.T

    return types.SimpleNamespace(density_on_grid=density_on_grid, potential_matrix=potential_matrix)


def _group(benchmark, name, level, dtype, suffix=""):
    benchmark.group = f"xc {name} L{level} {np.dtype(dtype).name}{suffix}"


@pytest.mark.parametrize("name,level,dtype", TYPED_CASES, ids=TYPED_IDS)
def bench_xc_kernel(benchmark, name, level, dtype):
    _group(benchmark, name, level, dtype)
    basis, grid, density = _cast(dtype, *_inputs(name, level)[1:])
    timed(benchmark, _xc_step(KERNEL_OPS, basis, grid), density, rounds=5)


@pytest.mark.parametrize("name,level,dtype", TYPED_CASES, ids=TYPED_IDS)
def bench_xc_kernel_tabulated(benchmark, name, level, dtype):
    _group(benchmark, name, level, dtype)
    basis, grid, density = _cast(dtype, *_inputs(name, level)[1:])
    table = jax.block_until_ready(grid_ops.tabulate_grid(basis, grid))
    # The table is an argument: closed over, jit would embed its hundreds of MB as a constant.
    step = jax.jit(lambda table, density: xc_energy_and_potential(PBE, basis, table, density, KERNEL_OPS))
    timed(benchmark, step, table, density, rounds=5)


@pytest.mark.parametrize("name,level", CASES, ids=CASE_IDS)
def bench_xc_pure_jax_reference(benchmark, name, level):
    _group(benchmark, name, level, np.float64)
    basis, grid, density = _cast(np.float64, *_inputs(name, level)[1:])
    timed(benchmark, _xc_step(REFERENCE_OPS, basis, grid), density, rounds=1)


@pytest.mark.parametrize("name,level,dtype", TYPED_CASES, ids=TYPED_IDS)
def bench_xc_pure_jax_ao_table(benchmark, name, level, dtype):
    _group(benchmark, name, level, dtype)
    basis, grid, density = _cast(dtype, *_inputs(name, level)[1:])
    ao = jax.block_until_ready(reference_grid.ao_values(basis, grid.coords, deriv=1))
    timed(benchmark, _xc_step(_ao_table_ops(ao), basis, grid), density, rounds=3)


@pytest.mark.parametrize("name,level", CASES, ids=CASE_IDS)
def bench_xc_pyscf_nr_rks(benchmark, name, level):
    _group(benchmark, name, level, np.float64)
    mol, _, _, density = _inputs(name, level)
    grids = dft.gen_grid.Grids(mol)
    grids.level = level
    grids.build()
    numint = dft.numint.NumInt()
    numint.nr_rks(mol, grids, "pbe", density)
    benchmark.pedantic(lambda: numint.nr_rks(mol, grids, "pbe", density), rounds=3, iterations=1)


def bench_xc_kernel_batch_of_8(benchmark):
    """Eight densities share one pass over the AO blocks (as in the SCF/QPT iterations of a batch)."""
    _group(benchmark, "uracil", 3, np.float64, " batch8")
    basis, grid, density = _cast(np.float64, *_inputs("uracil", 3)[1:])
    batch = jnp.stack([density * (1 + 0.01 * b) for b in range(8)])
    timed(benchmark, _xc_step(KERNEL_OPS, basis, grid), batch, rounds=2)
