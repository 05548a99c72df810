"""Density-fitted J and K from Cholesky-factored 3-index integrals (`qpt_jk_df`).

The factors are PySCF's `cderi` layout, L [naux, npair] with packed lower-triangle pairs (as
`pyscf.df.DF(mol, auxbasis).build()._cderi` holds them in memory), so (pq|rs) ~ sum_P L[P,pq] L[P,rs]:

- J_pq = sum_P L[P,pq] rho_P with rho_P = sum_rs L[P,rs] D_rs: two passes over L, fused into one read.
- K = sum_P X_P diag(s) X_P^T with X_P = L^P F, for a factorisation D = F diag(s) F^T. When the caller has
  the orbitals (the QPT iterations and the SCF do: D = 2 C_occ C_occ^T), `density_factor` = sqrt(2) C_occ
  gives F with m = n_occ columns and s = 1, and K costs ~3 naux N^2 n_occ flops. Without it (a guess
  density, the cotangents of the VJP, any symmetric D) F and s come from the eigendecomposition of D
  (signs of the eigenvalues), ~3 naux N^2 r flops for a D of numerical rank r <= N.

J and K are linear and self-adjoint in D, so the VJP is the same kernel on the (symmetrised) cotangents
(J of Jbar and K of Kbar, each alone), through the general path; it is differentiable again, so
grad-of-grad works. `density_factor` only says how to compute K(D): it gets a zero cotangent, and the
derivative flows through D (correct because K is a function of D alone). custom_vjp has no forward mode:
jvp/jacfwd through this op fail by design. The factors are constants to autodiff (zero cotangent).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

import qpt_kernels  # noqa: F401  (registers the FFI targets)

from ._broadcast import batch_shape, unbroadcast, with_batch_dims
from ._checks import float_dtype, is_concrete, require_symmetric, square_matrices

_TARGET = "qpt_jk_df"
_NAME = "qpt.ops.jk_df"


def check_jk_df_arguments(name, cderi, D, density_factor):
    """dtype, n and the broadcast batch shape of a jk_df call; raises naming the problem."""
    arrays = (cderi, D) if density_factor is None else (cderi, D, density_factor)
    dtype = float_dtype(name, *arrays)
    nao = square_matrices(name, "D", D)
    npair = nao * (nao + 1) // 2
    if cderi.ndim < 2 or cderi.shape[-1] != npair:
        raise ValueError(f"{name}: cderi must be [..., naux, {npair}] (packed pairs, npair = n(n+1)/2 for "
                         f"n = {nao}), got shape {cderi.shape}")
    batch = batch_shape(name, (cderi, D), (2, 2), ("cderi", "D"))
    if density_factor is not None:
        if density_factor.ndim != D.ndim or density_factor.shape[:-1] != D.shape[:-1]:
            raise ValueError(f"{name}: density_factor must be [..., {nao}, m] with D's batch shape "
                             f"{D.shape[:-2]}, got shape {density_factor.shape}")
        if is_concrete(density_factor) and is_concrete(D):
            factor = np.asarray(density_factor, np.float64)
            rebuilt = factor @ np.swapaxes(factor, -1, -2)
            scale = max(float(np.max(np.abs(np.asarray(D)), initial=0.0)), 1.0)
            tol = 1e-8 if dtype == jnp.float64 else 1e-4
            if float(np.max(np.abs(rebuilt - np.asarray(D)), initial=0.0)) > tol * scale:
                raise ValueError(f"{name}: density_factor F must satisfy D = F F^T")
    return dtype, nao, batch


def _signed_factor(D):
    """F, s with D = F diag(s) F^T: eigenvectors scaled by sqrt|eigenvalue|, s the eigenvalues' signs.

    The columns are ordered by |eigenvalue|, largest first, and those at or below N eps max|eigenvalue|
    (round-off: what eigh cannot tell from zero) get s = 0 and F = 0. The CPU kernel stops at the last
    non-zero sign, so a D of rank r costs r columns instead of N (the CUDA kernel still runs all N); the cotangents of a QPT step are such
    (rank about 2 n_occ: a density-matrix VJP gives C_occ-by-C_virt blocks).
    """
    eigenvalues, vectors = jnp.linalg.eigh((D + jnp.swapaxes(D, -1, -2)) / 2)
    order = jnp.argsort(-jnp.abs(eigenvalues), axis=-1)
    eigenvalues = jnp.take_along_axis(eigenvalues, order, axis=-1)
    vectors = jnp.take_along_axis(vectors, order[..., None, :], axis=-1)
    magnitude = jnp.abs(eigenvalues)
    cutoff = D.shape[-1] * jnp.finfo(D.dtype).eps * magnitude[..., :1]
    kept = magnitude > cutoff
    signs = jnp.where(kept, jnp.sign(eigenvalues), 0)
    return vectors * jnp.where(kept, jnp.sqrt(magnitude), 0)[..., None, :], signs


def _call_kernel(cderi, density, density_factor, with_j, with_k):
    dtype, nao, batch = check_jk_df_arguments(_NAME, cderi, density, density_factor)
    if not with_k:
        factor = jnp.zeros(density.shape[:-1] + (0,), dtype)
        signs = jnp.zeros(density.shape[:-2] + (0,), dtype)
    elif density_factor is None:
        factor, signs = _signed_factor(density)
    else:
        factor = density_factor
        signs = jnp.ones_like(density_factor[..., 0, :])
    cderi, density, factor, signs = with_batch_dims((cderi, density, factor, signs), (2, 2, 2, 1), batch)
    out = jax.ShapeDtypeStruct(batch + (nao, nao), dtype)
    call = jax.ffi.ffi_call(_TARGET, (out, out), vmap_method="expand_dims")
    return call(cderi, density, factor, signs, with_j=bool(with_j), with_k=bool(with_k))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _jk_df(cderi, density, density_factor, with_j, with_k):
    return _call_kernel(cderi, density, density_factor, with_j, with_k)


def _forward(cderi, density, density_factor, with_j, with_k):
    return _jk_df(cderi, density, density_factor, with_j, with_k), (cderi, density, density_factor)


def _backward(with_j, with_k, residuals, cotangents):
    cderi, density, density_factor = residuals
    j_bar, k_bar = cotangents
    # d<Jbar, J(D)>/dD = J(Jbar) and likewise for K. Two calls rather than one on the stacked cotangents:
    # the general-path K of Jbar would cost as much as the K of Kbar and is not needed.
    j_part = _jk_df(cderi, j_bar, None, True, False)[0] if with_j else 0
    k_part = _jk_df(cderi, k_bar, None, False, True)[1] if with_k else 0
    density_bar = jnp.broadcast_to(j_part + k_part, j_bar.shape)
    density_bar = unbroadcast(density_bar, density.shape).astype(density.dtype)
    factor_bar = None if density_factor is None else jnp.zeros_like(density_factor)
    return jnp.zeros_like(cderi), density_bar, factor_bar


_jk_df.defvjp(_forward, _backward)


def jk_df(cderi, D, *, density_factor=None, with_j=True, with_k=True):
    """Density-fitted J_pq = sum_rs (pq|rs) D_rs and K_pr = sum_qs (pq|rs) D_qs, (pq|rs) from the factors.

    cderi: Cholesky-factored 3-index integrals [..., naux, npair] (PySCF's `_cderi` of `df.DF(mol, auxbasis)`,
    npair = N(N+1)/2 packed lower-triangle pairs). D: symmetric densities [..., N, N]; batch dims of cderi
    (conformers) and D broadcast. density_factor: optional [..., N, m] with D = F F^T (e.g. sqrt(2) C_occ),
    which makes K cost O(naux N^2 m) instead of O(naux N^3); it must describe D exactly (checked when
    concrete; under jit the caller guarantees it). float32 or float64, the same for all.
    A concrete non-symmetric D raises; under tracing the symmetric part of D is used.
    Returns (J, K) [..., N, N], equal to PySCF's density-fitted get_jk with the same factors; an output
    switched off by with_j/with_k is zeros. Works under jit, vmap and grad (reverse mode, any order).
    """
    cderi, D = jnp.asarray(cderi), jnp.asarray(D)
    if density_factor is not None:
        density_factor = jax.lax.stop_gradient(jnp.asarray(density_factor))
    check_jk_df_arguments(_NAME, cderi, D, density_factor)
    require_symmetric(_NAME, "D", D)
    return _jk_df(cderi, D, density_factor, bool(with_j), bool(with_k))
