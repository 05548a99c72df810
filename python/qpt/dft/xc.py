"""Exchange-correlation energy and potential on the grid.

The functional is pointwise JAX: e(rho, sigma) per volume. Its derivatives come from autodiff, and the
grid ops (`density_on_grid` and its transpose `potential_matrix`) carry them to and from the AO basis.
Because every step is differentiable, the VJP of V_xc (needed to backpropagate through several Fock
builds) uses the functional's second derivatives automatically.
"""
import dataclasses

import jax
import jax.numpy as jnp

from qpt.dft import precision
from qpt.ops.platform import default_platform
from qpt.ops.tabulated_grid import tabulated_grid_bytes


def xc_energy_and_potential(functional, basis, grid, D, ops):
    """E_xc [...] and V_xc [..., n, n] for densities D [..., n, n] on `grid`.

    E_xc = sum_g w_g e(rho_g, sigma_g); V_xc = dE_xc/dD, assembled by `ops.potential_matrix` from
    v_rho = w de/drho and v_grad = 2 w de/dsigma grad(rho).
    """
    rho, grad_rho = ops.density_on_grid(basis, grid, D)
    sigma = jnp.sum(grad_rho * grad_rho, axis=-1)
    weights = grid.weights.astype(rho.dtype)

    def energies(rho, sigma):
        return jnp.sum(weights * functional.energy_density(rho, sigma), axis=-1)

    def total(rho, sigma):
        e = energies(rho, sigma)
        return jnp.sum(e), e

    (_, e_xc), (v_rho, v_sigma) = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(rho, sigma)
    v_grad = 2.0 * v_sigma[..., None] * grad_rho
    return e_xc, ops.potential_matrix(basis, grid, v_rho, v_grad)


def grid_table_size(system, dtype) -> int:
    """Bytes of the AO table (qpt.ops.tabulate_grid) of one geometry of `system` (batched or not) in `dtype`."""
    return tabulated_grid_bytes(system.nao, system.grid.coords.shape[-2], dtype)


def tabulate_within(system, ops, dtype, budget_bytes, geometries=1):
    """`system` with its grid tabulated (tabulate_system_grid) when the tables of `geometries` such geometries
    (a vmapped batch) fit in budget_bytes and JAX runs on the CPU; otherwise `system` itself."""
    dtype = precision.resolve(dtype)
    if 0 < geometries * grid_table_size(system, dtype) <= budget_bytes and default_platform() == "cpu":
        return tabulate_system_grid(system, ops, dtype)
    return system


def tabulate_system_grid(system, ops, dtype):
    """`system` with its grid replaced by `ops.tabulate_grid` of it in `dtype`: the XC passes over it then read
    the AO values instead of evaluating them, with the same results. The reference ops evaluate AOs in every
    pass and return the grid as it is."""
    return dataclasses.replace(system, grid=ops.tabulate_grid(system.basis, system.grid, dtype=dtype))
