"""Pure-JAX density update: eigh in the orthogonalised basis, differentiated by plain autodiff.

This is the twin `qpt.ops.density_matrix` is tested and benchmarked against. Autodiff through
`jnp.linalg.eigh` divides by every eigenvalue difference, so degenerate orbitals (benzene's e1g pair,
methane's t2 triple, N2's pi pairs) break the gradient here even for a loss of D alone, which does not
depend on how a degenerate subspace is rotated: inf/NaN when the eigensolver returns bit-equal
eigenvalues, a wrong gradient when rounding splits them by ~1e-16.

The argument checks and the occupations (integer or Fermi-Dirac) live here and are shared with the op,
so both sides validate and occupy orbitals identically.
"""
import functools
import math
import numbers
import operator

import jax
import jax.numpy as jnp

from .._checks import float_dtype, require_symmetric, square_matrices

DEFAULT_GAP_EPSILON = 1e-6
"""Hartree; the Lorentzian broadening of 1/(eps_i - eps_a) in `qpt.ops.density_matrix`'s VJP."""

_BISECTION_ROUNDS = 9       # each round splits the bracket into 64: 64**9 = 2**54 > float64 resolution
_BISECTION_POINTS = 63
_BRACKET_MARGIN = 40.0      # in units of kT: sigmoid(-40) ~ 4e-18, so the bracket holds every electron


def check_arguments(name, F, X, n_occ, smearing_temperature, gap_epsilon):
    """Validates the density_matrix arguments before any work; returns (F, X, n_occ) as arrays/int."""
    F, X = jnp.asarray(F), jnp.asarray(X)
    float_dtype(name, F, X)
    n = square_matrices(name, "F", F)
    n_x = square_matrices(name, "X", X)
    if n_x != n:
        raise ValueError(f"{name}: F is {n}x{n} but X is {n_x}x{n_x}")
    if X.shape[:-2] not in ((), F.shape[:-2]):
        raise ValueError(f"{name}: X must be [n, n] or have F's batch shape {F.shape[:-2]}, "
                         f"got X of shape {X.shape}")
    if isinstance(n_occ, bool) or not isinstance(n_occ, numbers.Integral):
        raise TypeError(f"{name}: n_occ must be a static int, got {type(n_occ).__name__}")
    n_occ = operator.index(n_occ)
    if not 1 <= n_occ <= n - 1:
        raise ValueError(f"{name}: n_occ must lie in 1..{n - 1} for {n} orbitals, got {n_occ}")
    if smearing_temperature is not None:
        _positive_float(name, "smearing_temperature", smearing_temperature)
    _positive_float(name, "gap_epsilon", gap_epsilon)
    require_symmetric(name, "F", F)
    return F, X, n_occ


def _positive_float(name, what, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {what} must be a static Python float (Hartree), got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: {what} must be a positive finite number (Hartree), got {value}")


def orthogonal_fock(F, X):
    """F' = X^T F X, symmetrised so a traced non-symmetric F acts through its symmetric part."""
    f_orth = jnp.matmul(jnp.swapaxes(X, -1, -2), jnp.matmul(F, X, precision="highest"), precision="highest")
    return (f_orth + jnp.swapaxes(f_orth, -1, -2)) / 2


def fermi_dirac_occupations(eps, n_occ, temperature):
    """Occupations f_i = 2 / (1 + exp((eps_i - mu) / kT)) [..., n] with sum f = 2 n_occ, and mu [...]."""
    mu = chemical_potential(eps, n_occ, temperature)
    return 2 * jax.nn.sigmoid((mu[..., None] - eps) / temperature), mu


def fermi_dirac_slopes(eps, mu, temperature):
    """df_i/deps_i at fixed mu, written so it neither overflows nor divides by zero."""
    x = (eps - mu[..., None]) / temperature
    return -2 * jax.nn.sigmoid(x) * jax.nn.sigmoid(-x) / temperature


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def chemical_potential(eps, n_occ, temperature):
    """mu [...] with sum_i 2 / (1 + exp((eps_i - mu) / kT)) = 2 n_occ, differentiable in eps.

    Found by a vectorised 64-way bisection (a handful of wide steps instead of ~60 sequential ones, which
    matters on GPUs); its derivative comes from the implicit function theorem (custom_jvp below), which is
    exact to every order and leaves the search itself undifferentiated.
    """
    electrons = 2.0 * n_occ
    low = jnp.min(eps, axis=-1) - _BRACKET_MARGIN * temperature
    high = jnp.max(eps, axis=-1) + _BRACKET_MARGIN * temperature
    fractions = jnp.arange(1, _BISECTION_POINTS + 1, dtype=eps.dtype) / (_BISECTION_POINTS + 1)

    def narrow(_, bracket):
        low, high = bracket
        trial = low[..., None] + (high - low)[..., None] * fractions
        count = 2 * jax.nn.sigmoid((trial[..., :, None] - eps[..., None, :]) / temperature).sum(-1)
        too_few = count < electrons
        # The count grows with mu: the crossing lies between the last trial short of electrons and the next.
        return (jnp.max(jnp.where(too_few, trial, low[..., None]), axis=-1),
                jnp.min(jnp.where(too_few, high[..., None], trial), axis=-1))

    low, high = jax.lax.fori_loop(0, _BISECTION_ROUNDS, narrow, (low, high))
    return (low + high) / 2


@chemical_potential.defjvp
def _chemical_potential_jvp(n_occ, temperature, primals, tangents):
    (eps,), (eps_dot,) = primals, tangents
    mu = chemical_potential(eps, n_occ, temperature)
    # sum_i f_i(eps_i - mu) is fixed, so sum_i g_i (deps_i - dmu) = 0 with g_i = df_i/deps_i.
    slopes = fermi_dirac_slopes(eps, mu, temperature)
    total = slopes.sum(-1)
    # Every slope underflows to 0 only when kT is far below the gap: mu is then free and any value works.
    safe_total = jnp.where(total == 0, 1.0, total)
    return mu, (slopes * eps_dot).sum(-1) / safe_total


def occupations(eps, n_occ, temperature):
    """(f [..., n], mu [...] or None): 2 for the n_occ lowest orbitals, or Fermi-Dirac at kT = temperature."""
    if temperature is None:
        return jnp.zeros_like(eps).at[..., :n_occ].set(2), None
    return fermi_dirac_occupations(eps, n_occ, temperature)


def density_matrix(F, X, n_occ, *, smearing_temperature=None, gap_epsilon=DEFAULT_GAP_EPSILON):
    """Same contract as `qpt.ops.density_matrix`, differentiated by autodiff through `jnp.linalg.eigh`.

    gap_epsilon is checked and otherwise ignored: plain autodiff has nothing to regularise with, which is
    the point of the comparison. Supports forward mode too (no custom_vjp here).
    """
    F, X, n_occ = check_arguments("qpt.ops.reference.density_matrix", F, X, n_occ,
                                  smearing_temperature, gap_epsilon)
    eps, c_orth = jnp.linalg.eigh(orthogonal_fock(F, X), symmetrize_input=False)
    C = jnp.matmul(X, c_orth, precision="highest")
    if smearing_temperature is None:
        occupied = C[..., :n_occ]
        D = 2 * jnp.matmul(occupied, jnp.swapaxes(occupied, -1, -2), precision="highest")
    else:
        f, _ = fermi_dirac_occupations(eps, n_occ, smearing_temperature)
        D = jnp.matmul(C * f[..., None, :], jnp.swapaxes(C, -1, -2), precision="highest")
    return D, eps, C
