"""Every op under jax.vmap over a batch of conformers (each with its own integrals, basis centres and grid):
one kernel call for the whole batch, forward and backward, and each conformer's result equal to PySCF's."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from pyscf import dft

from qpt import ops
from qpt.system import Molecule, System
from qpt.data.batch import stack_systems

WATER = Molecule.from_catalog("water")
BATCH = 3


def _conformers(count=BATCH):
    systems = [System.from_molecule(WATER.displaced(np.random.default_rng(seed), 0.1), basis="6-31g", grid_level=0)
               for seed in range(count)]
    densities = np.stack([s.minao_density for s in systems])
    return systems, stack_systems(systems), densities


def _kernel_calls(function, *args):
    """Number of custom calls per target in the lowered program (FFI kernels and LAPACK alike). A loop
    would hide a call per conformer (vmap_method="sequential" lowers to one), so there must be none."""
    text = jax.jit(function).lower(*args).as_text()
    assert "stablehlo.while" not in text, "a loop in the program: the batch is not one kernel call"
    targets = re.findall(r"custom_call\s*@([\w.]+)", text)
    return {name: targets.count(name) for name in set(targets)}


def _mol(system):
    return system.molecule.to_pyscf(system.basis_name)


def _batched_energy(function):
    """sum over the batch of a scalar per conformer: forward and backward in one program."""
    return lambda *args: jnp.sum(jax.vmap(function)(*args))


def test_jk_one_kernel_call_per_direction_for_the_batch():
    systems, stacked, densities = _conformers()
    j, k = jax.vmap(lambda s, d: ops.jk(s.eri, d))(stacked, densities)
    for index, system in enumerate(systems):
        j_ref, k_ref = dft.RKS(_mol(system)).get_jk(dm=densities[index], hermi=1)
        np.testing.assert_allclose(j[index], j_ref, atol=1e-10)
        np.testing.assert_allclose(k[index], k_ref, atol=1e-10)
    assert _kernel_calls(jax.vmap(lambda s, d: ops.jk(s.eri, d)), stacked, densities) == {"qpt_jk_packed": 1}
    energy = _batched_energy(lambda s, d: jnp.sum(d * ops.jk(s.eri, d)[0]))
    assert _kernel_calls(jax.grad(energy, argnums=1), stacked, densities) == {"qpt_jk_packed": 2}


def test_grid_ops_one_kernel_call_for_the_batch_each_conformer_on_its_own_grid():
    systems, stacked, densities = _conformers()
    assert len({s.grid.coords.tobytes() for s in systems}) == BATCH  # the grids differ between conformers

    def density(s, d):
        return ops.density_on_grid(s.basis, s.grid, d)

    rho, grad = jax.vmap(density)(stacked, densities)
    rng = np.random.default_rng(0)
    v_rho, v_grad = rng.standard_normal(rho.shape), rng.standard_normal(grad.shape)
    potential = jax.vmap(lambda s, vr, vg: ops.potential_matrix(s.basis, s.grid, vr, vg))(stacked, v_rho, v_grad)
    for index, system in enumerate(systems):
        ao = dft.numint.eval_ao(_mol(system), system.grid.coords, deriv=1)  # [4, G, N]: value, d/dx, d/dy, d/dz
        rho_ref = dft.numint.eval_rho(_mol(system), ao, densities[index], xctype="GGA")
        np.testing.assert_allclose(rho[index], rho_ref[0], atol=1e-10)
        np.testing.assert_allclose(grad[index], rho_ref[1:].T, atol=1e-10)
        weighted = ao[0] * v_rho[index][:, None] + np.einsum("gx,xgn->gn", v_grad[index], ao[1:])
        v_ref = ao[0].T @ weighted
        np.testing.assert_allclose(potential[index], v_ref + v_ref.T - ao[0].T @ (ao[0] * v_rho[index][:, None]),
                                   atol=1e-10)
    assert _kernel_calls(jax.vmap(density), stacked, densities) == {"qpt_density_on_grid": 1}
    energy = _batched_energy(lambda s, d: jnp.sum(s.grid.weights * density(s, d)[0] ** 2))
    assert _kernel_calls(jax.grad(energy, argnums=1), stacked, densities) == {
        "qpt_density_on_grid": 1, "qpt_potential_matrix": 1}


def test_density_matrix_one_eigensolver_call_for_the_batch():
    systems, stacked, densities = _conformers()
    focks = jax.vmap(lambda s, d: s.core_hamiltonian + ops.jk(s.eri, d)[0] - 0.5 * ops.jk(s.eri, d)[1])(
        stacked, densities)
    n_occ = systems[0].n_occ
    d, eps, _ = jax.vmap(lambda f, s: ops.density_matrix(f, s.orthogonalizer, n_occ))(focks, stacked)
    for index, system in enumerate(systems):
        eps_ref, c_ref = scipy.linalg.eigh(np.asarray(focks[index]), system.overlap)
        np.testing.assert_allclose(eps[index], eps_ref, atol=1e-10)
        np.testing.assert_allclose(d[index], 2 * c_ref[:, :n_occ] @ c_ref[:, :n_occ].T, atol=1e-9)
    calls = _kernel_calls(jax.vmap(lambda f, s: ops.density_matrix(f, s.orthogonalizer, n_occ)[0]), focks, stacked)
    assert sum(calls.values()) == 1, calls  # XLA's batched eigensolver, once


@pytest.mark.parametrize("count", [1, BATCH])
def test_kernel_calls_do_not_grow_with_the_batch(count):
    """The DFT energy of every conformer, forward and backward: as many kernel calls for 3 as for 1."""
    from qpt.dft.energy import energy_and_fock

    _, stacked, densities = _conformers(count)

    def energy(s, d):
        return energy_and_fock(s, d, "b3lyp5", ops=ops)[0].total

    calls = _kernel_calls(jax.grad(_batched_energy(energy), argnums=1), stacked, densities)
    single = _kernel_calls(jax.grad(energy, argnums=1), *jax.tree_util.tree_map(lambda a: a[0], (stacked, densities)))
    assert calls == single and sum(calls.values()) > 0
