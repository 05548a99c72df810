"""Batch dims of the ops, written once: the broadcast batch shape of a call, the operands as the FFI targets
take them (equal numbers of batch dims, size-1 dims broadcast, as vmap's expand_dims method produces them;
csrc/ffi/batch_layout.h is the C++ side), and the cotangents of inputs shared across a batch."""
import jax
import jax.numpy as jnp


def batch_shape(name, arrays, core_ranks, names):
    """The broadcast batch shape of `arrays` (each with `core_ranks` trailing core dims), or a ValueError."""
    shapes = [a.shape[:a.ndim - rank] for a, rank in zip(arrays, core_ranks)]
    try:
        return jnp.broadcast_shapes(*shapes)
    except ValueError:
        described = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{name}: batch shapes do not broadcast: {described}") from None


def with_batch_dims(arrays, core_ranks, batch):
    """Each array reshaped to len(batch) batch dims (leading size-1 dims added), its core dims kept."""
    return [a.reshape((1,) * (len(batch) - (a.ndim - rank)) + a.shape) for a, rank in zip(arrays, core_ranks)]


def batched_ffi_call(target, outputs, arrays, core_ranks, attributes):
    """The FFI call of `target` on `arrays`, each given the call's broadcast number of batch dims;
    outputs(batch) gives the result shapes."""
    batch = jnp.broadcast_shapes(*(a.shape[:a.ndim - r] for a, r in zip(arrays, core_ranks)))
    operands = with_batch_dims(arrays, core_ranks, batch)
    return jax.ffi.ffi_call(target, outputs(batch), vmap_method="expand_dims")(*operands, **attributes)


def unbroadcast(value, shape):
    """Sums `value` over the leading dims and size-1 dims it was broadcast along, back to `shape`."""
    extra = value.ndim - len(shape)
    if extra > 0:
        value = value.sum(axis=tuple(range(extra)))
    axes = tuple(a for a, size in enumerate(shape) if size == 1 and value.shape[a] != 1)
    return value.sum(axis=axes, keepdims=True) if axes else value
