"""Cotangents of broadcast inputs: what the custom VJPs return for an input shared across a batch."""


def unbroadcast(value, shape):
    """Sums `value` over the leading dims and size-1 dims it was broadcast along, back to `shape`."""
    extra = value.ndim - len(shape)
    if extra > 0:
        value = value.sum(axis=tuple(range(extra)))
    axes = tuple(a for a, size in enumerate(shape) if size == 1 and value.shape[a] != 1)
    return value.sum(axis=axes, keepdims=True) if axes else value
