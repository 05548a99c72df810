"""Pure-JAX density-fitted J and K: unpack the Cholesky factors to [naux, N, N] and contract with einsum.

The baseline the fused kernel is measured against and tested with; it holds the unpacked factors
(naux N^2 values, twice the packed size) for the duration of the call.
"""
import jax.numpy as jnp

from ..jk_df import check_jk_df_arguments


def unpack_cderi(cderi, nao):
    """Packed-pair factors [..., naux, npair] -> symmetric [..., naux, n, n]."""
    index = jnp.arange(nao)
    high, low = jnp.maximum(index[:, None], index[None, :]), jnp.minimum(index[:, None], index[None, :])
    return cderi[..., high * (high + 1) // 2 + low]


def jk_df(cderi, D, *, density_factor=None, with_j=True, with_k=True):
    """Same contract as `qpt.ops.jk_df`. K always comes from D here: with autodiff through einsum, a K
    computed from the (constant) factor would carry no derivative in D. The factor is only checked."""
    cderi, D = jnp.asarray(cderi), jnp.asarray(D)
    if density_factor is not None:
        density_factor = jnp.asarray(density_factor)
    _, nao, _ = check_jk_df_arguments("qpt.ops.reference.jk_df", cderi, D, density_factor)
    factors = unpack_cderi(cderi, nao)
    D = (D + jnp.swapaxes(D, -1, -2)) / 2
    if with_j:
        rho = jnp.einsum("...Pkl,...kl->...P", factors, D)
        J = jnp.einsum("...Pij,...P->...ij", factors, rho)
    else:
        J = jnp.zeros_like(D)
    if with_k:
        K = jnp.einsum("...Pik,...kl,...Plj->...ij", factors, D, factors)
    else:
        K = jnp.zeros_like(D)
    return J, K
