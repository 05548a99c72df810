"""J and K of a System from whatever two-electron operator it carries: the one function qpt.dft, the
trainer's features and everything above call; none of them names an engine.

The engine classes (qpt.system.two_electron) each contract through their own op of `ops`, so a new engine
is added there alone. `density_factor` F (D = F F^T, e.g. sqrt(2) C_occ) is a hint the density-fitted
engine uses to compute K through the occupied orbitals; the other engines ignore it, and it never changes
the result beyond round-off.
"""
import jax.numpy as jnp

from qpt import ops as kernel_ops


def coulomb_exchange(system, D, *, ops=kernel_ops, with_j=True, with_k=True, density_factor=None):
    """(J, K) [..., N, N] of densities D [..., N, N] with `system`'s J/K engine; an output switched off by
    with_j/with_k is zeros."""
    return system.two_electron.contract(ops, system.basis, D, with_j=bool(with_j), with_k=bool(with_k),
                                        density_factor=density_factor)


def closed_shell_factor(orbitals, n_occ, dtype=None):
    """F = sqrt(2) C[..., :, :n_occ], so that D = 2 C_occ C_occ^T = F F^T."""
    orbitals = jnp.asarray(orbitals, dtype)
    return jnp.sqrt(jnp.asarray(2.0, orbitals.dtype)) * orbitals[..., :, :n_occ]


def mixed_factor(alpha, factor_a, factor_b):
    """The factor of alpha D_a + (1 - alpha) D_b for D = F F^T factors, 0 <= alpha < 1 (static)."""
    if alpha == 0.0:
        return factor_b
    return jnp.concatenate([jnp.sqrt(alpha) * factor_a, jnp.sqrt(1.0 - alpha) * factor_b], axis=-1)
