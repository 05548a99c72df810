"""Density update D = 2 C_occ C_occ^T from a Fock matrix, with a degeneracy-safe custom VJP.

Forward: F' = X^T F X, (eps, C') = eigh(F'), C = X C', D = C diag(f) C^T with f = 2 for the n_occ lowest
orbitals (or Fermi-Dirac occupations). The eigensolver is XLA's: LAPACK on CPU, cuSOLVER on GPU.

Backward (Daleckii-Krein), written in the AO basis with C: a cotangent Dbar becomes G = C^T sym(Dbar) C,
is scaled by the divided differences L_ij = (f_i - f_j) / (eps_i - eps_j) and rotated back,
Fbar = C (L o G) C^T. With integer occupations L vanishes unless one orbital is occupied and the other
virtual, so only the occupied-virtual block is formed (thin N x N x n_occ matmuls) and orbitals degenerate
inside the occupied or the virtual space never meet a 1/0. Differentiating through jnp.linalg.eigh instead
divides by every eigenvalue difference: NaN/inf for bit-equal eigenvalues, rounding noise / 1e-16 (a wrong
gradient) for degenerate ones split by rounding.

Native kernels around the eigensolver do not pay, so the transforms are XLA matmuls: three dense matmuls
(F', C) plus thin ones, already at BLAS speed, while the eigensolver takes most of the op's time
(bench/bench_density_matrix.py times eigh alone, one N x N matmul and the op side by side).
"""
import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from .reference.density_matrix import (DEFAULT_GAP_EPSILON, check_arguments, occupations,
                                       orthogonal_fock)

_matmul = functools.partial(jnp.matmul, precision="highest")  # no TF32 shortcuts for float32 on GPUs


def _transpose(a):
    return jnp.swapaxes(a, -1, -2)


def _diagonal_matrix(values):
    return jnp.eye(values.shape[-1], dtype=values.dtype) * values[..., None, :]


def _lorentzian_inverse(delta, gap_epsilon):
    """1/delta broadened to delta / (delta^2 + gap_epsilon^2): finite everywhere, 0 at delta = 0, and
    within a relative (gap_epsilon/delta)^2 of 1/delta elsewhere (1e-10 for a 0.1 Ha gap at the default)."""
    return delta / (delta * delta + gap_epsilon * gap_epsilon)


def _antisymmetric_eigenvector_weights(eps, c_bar_rotated, gap_epsilon):
    """K o antisym(C^T Cbar) with K_ij ~ 1/(eps_j - eps_i): the eigenvector term of the VJP.

    The diagonal (the norm gauge) is zero, and degenerate pairs are masked by the broadening (K = 0 at
    equal eigenvalues). That is exact for losses invariant under rotations within degenerate subspaces,
    for which antisym(C^T Cbar) vanishes on those pairs.
    """
    weights = _lorentzian_inverse(eps[..., None, :] - eps[..., :, None], gap_epsilon)
    return weights * (c_bar_rotated - _transpose(c_bar_rotated)) / 2


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _eigh(f_orth, gap_epsilon):
    """eigh whose own VJP masks degenerate pairs. Only second derivatives reach this VJP (the first order
    of density_matrix is closed-form below): it keeps them free of eigh's 1/0 at degeneracies."""
    eps, c_orth = jnp.linalg.eigh(f_orth, symmetrize_input=False)
    return eps, c_orth


def _eigh_forward(f_orth, gap_epsilon):
    eps, c_orth = _eigh(f_orth, gap_epsilon)  # through the custom rule again, so every order is masked
    return (eps, c_orth), (eps, c_orth)


def _eigh_backward(gap_epsilon, residuals, cotangents):
    eps, c_orth = residuals
    eps_bar, c_bar = cotangents
    weights = _antisymmetric_eigenvector_weights(eps, _matmul(_transpose(c_orth), c_bar), gap_epsilon) \
        + _diagonal_matrix(eps_bar)
    return (_matmul(c_orth, _matmul(weights, _transpose(c_orth))),)


_eigh.defvjp(_eigh_forward, _eigh_backward)


def _fermi_divided_differences(eps, mu, temperature):
    """L_ij = (f_i - f_j) / (eps_i - eps_j) for Fermi-Dirac f, with L_ii = df_i/deps_i, free of cancellation.

    With f = 1 - tanh(x/2), x = (eps - mu)/kT: L = -(sinh(u)/u) / (cosh(s) + cosh(u)) / kT with u = (x_i - x_j)/2,
    s = (x_i + x_j)/2. Numerator and denominator are scaled by exp(-max(|s|, |u|)) so nothing overflows,
    and sinh(u)/u takes its series near u = 0, so degenerate pairs get exactly the derivative limit.
    """
    x = (eps - mu[..., None]) / temperature
    half_gap = (eps[..., :, None] - eps[..., None, :]) / (2 * temperature)
    centre = (x[..., :, None] + x[..., None, :]) / 2
    # The scale cancels between numerator and denominator, so it carries no derivative.
    scale = jax.lax.stop_gradient(jnp.maximum(jnp.abs(centre), jnp.abs(half_gap)))
    small = jnp.abs(half_gap) < 1e-4
    safe = jnp.where(small, 1.0, jnp.abs(half_gap))  # keeps the unused branch's derivative finite too
    sinhc = jnp.where(small, jnp.exp(-scale) * (1 + half_gap * half_gap / 6),
                      (jnp.exp(safe - scale) - jnp.exp(-safe - scale)) / (2 * safe))
    cosh_sum = (jnp.exp(centre - scale) + jnp.exp(-centre - scale)
                + jnp.exp(half_gap - scale) + jnp.exp(-half_gap - scale)) / 2
    return -sinhc / cosh_sum / temperature


def _sum_to_shape(value, shape):
    """Sums the leading batch dims an [n, n] argument shared by a batch was broadcast along."""
    return value.reshape((-1,) + tuple(shape)).sum(0) if value.ndim > len(shape) else value


def _times_inverse_transpose(terms, orthogonalizer):
    """terms X^{-T}. Every X cotangent has this form: with C = X C' and C' orthogonal, C W C'^T = C W C^T X^{-T},
    so X's cotangents follow from F's and D's without holding C' (one solve, dead code when X is constant)."""
    terms = _sum_to_shape(terms, orthogonalizer.shape)
    return _transpose(jnp.linalg.solve(orthogonalizer, _transpose(terms)))


def _inverse_gaps(eps, n_occ, gap_epsilon):
    """Broadened 1/(eps_i - eps_a) [..., n_occ, n - n_occ] for i occupied, a virtual."""
    return _lorentzian_inverse(eps[..., :n_occ, None] - eps[..., None, n_occ:], gap_epsilon)


def _second_order_weights(g_rotated, h_rotated, inverse_gaps, n_occ):
    """Y with d2D[G, H] = C Y C^T for integer occupations (G, H rotated to the orbital basis).

    Y_ij = sum_k f[e_i, e_k, e_j] (G_ik H_kj + H_ik G_kj) with the second divided differences of the step
    occupation: -2 l_ik l_jk for two occupied and one virtual, +2 l_ik l_jk for one occupied and two virtual,
    l = 1/(e_occ - e_virt), 0 otherwise. No difference within the occupied or the virtual space appears,
    so this is exact at degeneracies, where differentiating the first-order formula through eigenvectors
    would drop the degenerate pairs' terms.
    """
    n = n_occ
    g_ov, h_ov = inverse_gaps * g_rotated[..., :n, n:], inverse_gaps * h_rotated[..., :n, n:]
    occ_occ = -2 * (_matmul(g_ov, _transpose(h_ov)) + _matmul(h_ov, _transpose(g_ov)))
    virt_virt = 2 * (_matmul(_transpose(g_ov), h_ov) + _matmul(_transpose(h_ov), g_ov))
    occ_virt = 2 * inverse_gaps * (_matmul(g_ov, h_rotated[..., n:, n:]) + _matmul(h_ov, g_rotated[..., n:, n:])
                                   - _matmul(g_rotated[..., :n, :n], h_ov) - _matmul(h_rotated[..., :n, :n], g_ov))
    return jnp.concatenate([jnp.concatenate([occ_occ, occ_virt], axis=-1),
                            jnp.concatenate([_transpose(occ_virt), virt_virt], axis=-1)], axis=-2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _occupied_virtual_response(fock_sym, orthogonalizer, g_sym, eps, coefficients, n_occ, gap_epsilon):
    """D's VJP for integer occupations: Fbar = C (L o C^T G C) C^T for a symmetric cotangent G, with
    L_ia = 2/(e_i - e_a) on occupied-virtual pairs only (thin matmuls). The map is self-adjoint, so this is
    also D's derivative along G.

    Its own VJP is the exact second derivative, which is what grad of grad differentiates. eps and C are
    F's eigenpairs passed in to avoid a second eigh; their cotangents are zero because the whole dependence
    on F and X is accounted for through `fock_sym` and `orthogonalizer`.
    """
    occupied, virtual = coefficients[..., :n_occ], coefficients[..., n_occ:]
    block = 2 * _inverse_gaps(eps, n_occ, gap_epsilon) * _matmul(_matmul(_transpose(occupied), g_sym), virtual)
    half = _matmul(occupied, _matmul(block, _transpose(virtual)))
    return half + _transpose(half)


def _occupied_virtual_response_forward(fock_sym, orthogonalizer, g_sym, eps, coefficients, n_occ, gap_epsilon):
    response = _occupied_virtual_response(fock_sym, orthogonalizer, g_sym, eps, coefficients, n_occ, gap_epsilon)
    return response, (fock_sym, orthogonalizer, g_sym, eps, coefficients, response)


def _occupied_virtual_response_backward(n_occ, gap_epsilon, residuals, response_bar):
    fock_sym, orthogonalizer, g_sym, eps, coefficients, response = residuals
    h_sym = (response_bar + _transpose(response_bar)) / 2
    # Self-adjoint in G; calling the op itself keeps third and higher orders on these rules too.
    response_h = _occupied_virtual_response(fock_sym, orthogonalizer, h_sym, eps, coefficients, n_occ, gap_epsilon)
    rotate = lambda a: _matmul(_matmul(_transpose(coefficients), a), coefficients)  # noqa: E731
    weights = _second_order_weights(rotate(g_sym), rotate(h_sym), _inverse_gaps(eps, n_occ, gap_epsilon), n_occ)
    fock_bar = _matmul(_matmul(coefficients, weights), _transpose(coefficients))
    # X enters through the sandwich X M X^T, through F' = X^T F X and through G' = X^T G X.
    orthogonalizer_bar = _times_inverse_transpose(
        2 * (_matmul(h_sym, response) + _matmul(fock_sym, fock_bar) + _matmul(g_sym, response_h)), orthogonalizer)
    return fock_bar, orthogonalizer_bar, response_h, jnp.zeros_like(eps), jnp.zeros_like(coefficients)


_occupied_virtual_response.defvjp(_occupied_virtual_response_forward, _occupied_virtual_response_backward)


def _smeared_weights(g_rotated, eps, mu, temperature):
    """W with dD along G = C W C^T for Fermi-Dirac occupations, mu's response included."""
    divided = _fermi_divided_differences(eps, mu, temperature)
    # Occupations also move through mu, which keeps sum f fixed: dmu = sum_k g_k deps_k / sum_k g_k.
    slopes = jnp.diagonal(divided, axis1=-2, axis2=-1)
    total = slopes.sum(-1, keepdims=True)
    safe_total = jnp.where(total == 0, 1.0, total)  # all slopes underflow only when kT << gap: no mu term
    through_mu = (slopes * jnp.diagonal(g_rotated, axis1=-2, axis2=-1)).sum(-1, keepdims=True)
    return divided * g_rotated + _diagonal_matrix(-slopes * through_mu / safe_total)


def _primal(fock, orthogonalizer, n_occ, temperature, gap_epsilon):
    eps, c_orth = _eigh(orthogonal_fock(fock, orthogonalizer), gap_epsilon)
    coefficients = _matmul(orthogonalizer, c_orth)
    f, mu = occupations(eps, n_occ, temperature)
    if temperature is None:
        occupied = coefficients[..., :n_occ]
        density = 2 * _matmul(occupied, _transpose(occupied))
    else:
        density = _matmul(coefficients * f[..., None, :], _transpose(coefficients))
    return (density, eps, coefficients), (fock, orthogonalizer, coefficients, eps, density, mu)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _density_matrix(fock, orthogonalizer, n_occ, temperature, gap_epsilon):
    return _primal(fock, orthogonalizer, n_occ, temperature, gap_epsilon)[0]


def _forward(fock, orthogonalizer, n_occ, temperature, gap_epsilon):
    return _primal(fock.value, orthogonalizer.value, n_occ, temperature, gap_epsilon)


def _backward(n_occ, temperature, gap_epsilon, residuals, cotangents):
    fock, orthogonalizer, coefficients, eps, density, mu = residuals
    d_bar, eps_bar, c_bar = (None if isinstance(ct, SymbolicZero) else ct for ct in cotangents)
    fock_sym = (fock + _transpose(fock)) / 2
    fock_bar = jnp.zeros_like(fock)
    x_terms = jnp.zeros_like(fock)  # the X cotangent is x_terms X^{-T}
    weights = None  # Fbar = C W C^T for the terms that need the full orbital basis
    if d_bar is not None:
        g_sym = (d_bar + _transpose(d_bar)) / 2
        if temperature is None:
            fock_bar = fock_bar + _occupied_virtual_response(fock_sym, orthogonalizer, g_sym, eps, coefficients,
                                                             n_occ, gap_epsilon)
        else:
            weights = _smeared_weights(_matmul(_matmul(_transpose(coefficients), g_sym), coefficients),
                                       eps, mu, temperature)
        x_terms = x_terms + 2 * _matmul(g_sym, density)
    if eps_bar is not None:
        weights = _diagonal_matrix(eps_bar) + (0 if weights is None else weights)
    if c_bar is not None:
        weights = _antisymmetric_eigenvector_weights(eps, _matmul(_transpose(coefficients), c_bar), gap_epsilon) \
            + (0 if weights is None else weights)
        x_terms = x_terms + _matmul(c_bar, _transpose(coefficients))
    if weights is not None:
        fock_bar = fock_bar + _matmul(_matmul(coefficients, weights), _transpose(coefficients))
    x_terms = x_terms + 2 * _matmul(fock_sym, fock_bar)
    return fock_bar, _times_inverse_transpose(x_terms, orthogonalizer)


_density_matrix.defvjp(_forward, _backward, symbolic_zeros=True)


def density_matrix(F, X, n_occ, *, smearing_temperature=None, gap_epsilon=DEFAULT_GAP_EPSILON):
    """Closed-shell density matrix, orbital energies and MO coefficients from a Fock matrix.

    F: symmetric Fock/Kohn-Sham matrices [..., n, n] (AO basis); a concrete non-symmetric F raises, a traced
    one acts through its symmetric part. X: orthogonaliser with X^T S X = I, [n, n] or F's batch shape
    (e.g. X = inv(cholesky(S)).T). float32 or float64, the same for both. n_occ: static int in 1..n-1.
    Returns (D [..., n, n], eps [..., n] ascending, C [..., n, n] with C^T S C = I), where
    D = 2 C_occ C_occ^T, or C diag(f) C^T with Fermi-Dirac f when smearing.

    smearing_temperature: kT in Hartree, or None for integer occupations. With it, f_i = 2/(1 + exp((eps_i -
    mu)/kT)), mu chosen so sum f = 2 n_occ; mu's dependence on eps is part of the derivative.
    gap_epsilon (Hartree, > 0): the VJP's 1/(eps_i - eps_a) becomes (eps_i - eps_a)/((eps_i - eps_a)^2 +
    gap_epsilon^2). This is the regularisation when the HOMO-LUMO gap closes: gradients stay finite (and
    go to 0 for a closed gap) instead of becoming inf/NaN. It is exact to a relative (gap_epsilon/gap)^2,
    and it also masks degenerate pairs in the eigenvector (C) VJP. Under smearing D's VJP needs no
    broadening (its divided differences are bounded by 1/(2 kT)).

    What the VJP defines:
    - D: the exact derivative whenever the HOMO-LUMO gap is open (up to the broadening above), however
      degenerate the occupied or the virtual orbitals are; with smearing, the exact derivative including
      the occupations' dependence on eps and mu, degenerate pairs taking the limit df/deps.
    - eps: the exact derivative for non-degenerate eigenvalues, and for losses symmetric within each
      degenerate set (e.g. the sum over a shell).
    - C: defined up to its gauge (signs, rotations within degenerate sets). The VJP is the
      off-diagonal-only eigenvector derivative with degenerate pairs masked, exact for losses invariant
      under that gauge.
    - X gets a full cotangent too (for nuclear gradients through S); it costs one solve with X and is
      dead code under jit when X is not differentiated.

    Transforms: jit, vmap and grad. Reverse mode only: custom_vjp has no forward mode, so jvp/jacfwd
    raise. Second order (grad of grad, Hessian-vector products) is supported: for D with integer
    occupations it is exact, degeneracies included (D's first-order VJP is itself a custom_vjp whose VJP
    is the closed-form second derivative). For eps, C and smeared D the first-order VJP is differentiated
    through an eigh whose VJP masks degenerate pairs: exact for a non-degenerate spectrum; at exactly
    degenerate eigenvalues those second derivatives are finite but lack the degenerate pairs' terms.
    """
    F, X, n_occ = check_arguments("qpt.ops.density_matrix", F, X, n_occ, smearing_temperature, gap_epsilon)
    temperature = None if smearing_temperature is None else float(smearing_temperature)
    return _density_matrix(F, X, n_occ, temperature, float(gap_epsilon))
