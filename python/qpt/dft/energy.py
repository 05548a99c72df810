"""Kohn-Sham energy E(D) and Fock matrix F(D) = h + J - a/2 K + V_xc of closed-shell densities.

Both come from one pass: J and K share a single kernel call, and E_xc and V_xc a single trip through the
grid. They are differentiable in D (and F's derivative is what backpropagates through DFT iterations).
`ops` is `qpt.ops` (the kernels) or `qpt.ops.reference` (pure JAX); results agree to round-off.
"""
from typing import NamedTuple

import jax.numpy as jnp

from qpt import ops as kernel_ops
from qpt.dft import precision
from qpt.dft.functionals import resolve_functional
from qpt.dft.two_electron import coulomb_exchange
from qpt.dft.validation import check_density
from qpt.dft.xc import xc_energy_and_potential


class EnergyTerms(NamedTuple):
    """Energy components in Hartree ([...] for a batch of densities)."""

    total: jnp.ndarray
    one_electron: jnp.ndarray
    coulomb: jnp.ndarray
    exact_exchange: jnp.ndarray
    xc: jnp.ndarray
    nuclear_repulsion: jnp.ndarray


def _trace(a, b):
    return jnp.sum(a * b, axis=(-2, -1))


class FockTerms(NamedTuple):
    """The parts of one Fock build of D ([...] for a batch of densities)."""

    coulomb: jnp.ndarray        # J [..., n, n]
    exchange: jnp.ndarray       # K [..., n, n] (zeros when not asked for)
    xc_energy: jnp.ndarray      # E_xc [...]
    xc_potential: jnp.ndarray   # V_xc [..., n, n]
    fock: jnp.ndarray           # F = h + J - a/2 K + V_xc


def fock_terms(system, D, functional, ops, *, density_factor=None, with_k=None) -> FockTerms:
    """One Fock build: J and K in one kernel call, E_xc and V_xc in one trip through the grid.

    No checks and no casts: `system`, D (and density_factor) must already be checked and in one dtype, as the
    entry points (energy_and_fock, dft_iterations, the trainer's features) make them, once. with_k: default
    only when the functional has exact exchange."""
    a = functional.exact_exchange
    J, K = coulomb_exchange(system, D, ops=ops, with_k=(a != 0.0) if with_k is None else with_k,
                            density_factor=density_factor)
    e_xc, v_xc = xc_energy_and_potential(functional, system.basis, system.grid, D, ops)
    return FockTerms(J, K, e_xc, v_xc, system.core_hamiltonian + J - 0.5 * a * K + v_xc)


def assemble_energy_and_fock(system, D, functional, ops, density_factor=None):
    """(EnergyTerms, F) of D from one Fock build, for checked inputs in one dtype (see fock_terms)."""
    parts = fock_terms(system, D, functional, ops, density_factor=density_factor)
    a = functional.exact_exchange
    one_electron = _trace(D, system.core_hamiltonian)
    coulomb = 0.5 * _trace(D, parts.coulomb)
    exact_exchange = -0.25 * a * _trace(D, parts.exchange)
    nuclear = system.nuclear_repulsion * jnp.ones_like(one_electron)
    total = one_electron + coulomb + exact_exchange + parts.xc_energy + nuclear
    return EnergyTerms(total, one_electron, coulomb, exact_exchange, parts.xc_energy, nuclear), parts.fock


def energy_and_fock(system, D, xc="b3lyp5", *, ops=kernel_ops, dtype=None, density_factor=None):
    """(EnergyTerms, F) of density D [..., n, n] (symmetric, closed shell: D = 2 C_occ C_occ^T).

    density_factor: optional F [..., n, m] with D = F F^T (qpt.dft.two_electron.closed_shell_factor); the
    density-fitted engine then computes K through it (cheaper), the others ignore it."""
    dtype = precision.resolve(dtype)
    functional = resolve_functional(xc)
    check_density(system, D)
    system = precision.cast_floats(system, dtype)
    D = precision.cast_input(D, dtype, "D")
    if density_factor is not None:
        density_factor = jnp.asarray(density_factor, dtype)
    return assemble_energy_and_fock(system, D, functional, ops, density_factor)


def energy(system, D, xc="b3lyp5", *, ops=kernel_ops, dtype=None):
    """Total energy E(D) in Hartree."""
    return energy_and_fock(system, D, xc, ops=ops, dtype=dtype)[0].total


def fock(system, D, xc="b3lyp5", *, ops=kernel_ops, dtype=None):
    """Fock (Kohn-Sham) matrix F(D) = h + J - a/2 K + V_xc."""
    return energy_and_fock(system, D, xc, ops=ops, dtype=dtype)[1]
