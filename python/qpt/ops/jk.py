"""J and K from 8-fold packed ERIs through the fused native kernel (`qpt_jk_packed`).

One pass over the N^4/8 unique integrals feeds all 8 symmetric updates of J and K, for every density in
the batch. J and K are linear and self-adjoint in D, so the VJP is the same kernel applied to the
(symmetrised) cotangents; it is itself differentiable, so grad-of-grad works. custom_vjp has no forward
mode: jvp/jacfwd through these ops fail by design.
"""
import functools

import jax
import jax.numpy as jnp

import qpt_kernels  # noqa: F401  (registers the FFI targets)

from ._broadcast import batch_shape, unbroadcast, with_batch_dims
from ._checks import float_dtype, require_symmetric, square_matrices

_TARGET = "qpt_jk_packed"


def packed_eri_length(nao: int) -> int:
    npair = nao * (nao + 1) // 2
    return npair * (npair + 1) // 2


def _check(eri, density):
    dtype = float_dtype("qpt.ops.jk", eri, density)
    nao = square_matrices("qpt.ops.jk", "D", density)
    expected = packed_eri_length(nao)
    if eri.ndim < 1 or eri.shape[-1] != expected:
        raise ValueError(
            f"qpt.ops.jk: eri must be 8-fold packed with {expected} values for n = {nao} "
            f"(npair = n(n+1)/2, length npair(npair+1)/2), got shape {eri.shape}")
    return dtype, nao, batch_shape("qpt.ops.jk", (eri, density), (1, 2), ("eri", "D"))


def _call_kernel(eri, density, with_j, with_k):
    dtype, nao, batch = _check(eri, density)
    eri, density = with_batch_dims((eri, density), (1, 2), batch)
    out = jax.ShapeDtypeStruct(batch + (nao, nao), dtype)
    call = jax.ffi.ffi_call(_TARGET, (out, out), vmap_method="expand_dims")
    return call(eri, density, with_j=bool(with_j), with_k=bool(with_k))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _jk(eri, density, with_j, with_k):
    return _call_kernel(eri, density, with_j, with_k)


def _jk_forward(eri, density, with_j, with_k):
    return _jk(eri, density, with_j, with_k), (eri, density)


def _jk_backward(with_j, with_k, residuals, cotangents):
    eri, density = residuals
    j_bar, k_bar = cotangents
    # d<Jbar, J(D)>/dD = J(Jbar) and likewise for K; both cotangents share one pass over the integrals.
    stacked = jnp.stack([j_bar, k_bar], axis=-3)
    j_of_jbar, k_of_kbar = _jk(eri[..., None, :], stacked, with_j, with_k)
    j_part = j_of_jbar[..., 0, :, :] if with_j else 0
    k_part = k_of_kbar[..., 1, :, :] if with_k else 0
    density_bar = jnp.broadcast_to(j_part + k_part, j_bar.shape)
    # Sum over batch dims the density was broadcast along, so the cotangent has the density's shape.
    density_bar = unbroadcast(density_bar, density.shape)
    # ERIs are treated as constants: the integrals' derivatives belong to the nuclear-gradient code.
    return jnp.zeros_like(eri), density_bar.astype(density.dtype)


_jk.defvjp(_jk_forward, _jk_backward)


def jk(eri, D, *, with_j=True, with_k=True):
    """Coulomb and exchange matrices J_ij = sum_kl (ij|kl) D_kl and K_ik = sum_jl (ij|kl) D_jl.

    eri: packed 8-fold ERIs [..., npair(npair+1)/2] (libcint 's8' order, as `System.eri`).
    D: symmetric density matrices [..., n, n]; batch dims of eri and D broadcast (one molecule's integrals
    with many densities, or a batch of conformers each with its own). float32 or float64, the same for both.
    A concrete non-symmetric D raises; under tracing the symmetric part of D is used.
    Returns (J, K) [..., n, n]; an output switched off by with_j/with_k is zeros.
    Works under jit, vmap and grad (reverse mode, any order); the ERIs get a zero cotangent.
    """
    eri, D = jnp.asarray(eri), jnp.asarray(D)
    _check(eri, D)
    require_symmetric("qpt.ops.jk", "D", D)
    return _jk(eri, D, bool(with_j), bool(with_k))


def coulomb(eri, D):
    """J alone (see `jk`)."""
    return jk(eri, D, with_k=False)[0]


def exchange(eri, D):
    """K alone (see `jk`)."""
    return jk(eri, D, with_j=False)[1]
