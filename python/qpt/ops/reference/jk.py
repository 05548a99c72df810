"""Pure-JAX J and K: unpack the 8-fold ERIs to the dense N^4 tensor and contract with einsum.

This is the baseline the fused kernel is measured against and tested with; it needs N^4 memory
(2.4 GB for uracil/def2-svp in float64).
"""
import jax.numpy as jnp

from .._checks import float_dtype, square_matrices


def _packed_pair_index(i, j):
    high, low = jnp.maximum(i, j), jnp.minimum(i, j)
    return high * (high + 1) // 2 + low


def unpack_eri(eri, nao):
    """Packed 's8' ERIs [..., L] -> dense (ij|kl) [..., n, n, n, n]."""
    index = jnp.arange(nao)
    pair = _packed_pair_index(index[:, None], index[None, :])
    flat = _packed_pair_index(pair[:, :, None, None], pair[None, None, :, :])
    return eri[..., flat]


def jk(eri, D, *, with_j=True, with_k=True):
    """Same contract as `qpt.ops.jk`; `eri` may also be the dense [..., n, n, n, n] tensor."""
    eri, D = jnp.asarray(eri), jnp.asarray(D)
    float_dtype("qpt.ops.reference.jk", eri, D)
    nao = square_matrices("qpt.ops.reference.jk", "D", D)
    dense = eri if eri.ndim >= 4 and eri.shape[-4:] == (nao,) * 4 else unpack_eri(eri, nao)
    D = (D + jnp.swapaxes(D, -1, -2)) / 2
    J = jnp.einsum("...ijkl,...kl->...ij", dense, D) if with_j else jnp.zeros_like(D)
    K = jnp.einsum("...ijkl,...jl->...ik", dense, D) if with_k else jnp.zeros_like(D)
    return J, K


def coulomb(eri, D):
    return jk(eri, D, with_k=False)[0]


def exchange(eri, D):
    return jk(eri, D, with_j=False)[1]
