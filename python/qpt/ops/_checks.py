"""Argument checks shared by the ops: run in Python, before any kernel, with messages that name the problem."""
import jax
import jax.numpy as jnp
import numpy as np

FLOAT_DTYPES = (jnp.float32, jnp.float64)


def float_dtype(name, *arrays):
    """The common float32/float64 dtype of `arrays`, or a TypeError naming `name`."""
    dtypes = {jnp.dtype(a.dtype) for a in arrays}
    if len(dtypes) != 1:
        raise TypeError(f"{name}: all arrays must share one dtype, got {sorted(map(str, dtypes))}")
    (dtype,) = dtypes
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype}")
    return dtype


def square_matrices(name, what, array):
    """Checks `array` is [..., n, n] and returns n."""
    if array.ndim < 2 or array.shape[-1] != array.shape[-2]:
        raise ValueError(f"{name}: {what} must be square [..., n, n], got shape {array.shape}")
    return array.shape[-1]


def is_concrete(array):
    return not isinstance(array, jax.core.Tracer)


def require_symmetric(name, what, array, rtol=1e-8):
    """Raises for a concrete non-symmetric matrix; traced values cannot be inspected, and the ops then
    use the symmetric part, as their docstrings say."""
    if not is_concrete(array):
        return
    values = np.asarray(array)
    scale = max(float(np.max(np.abs(values), initial=0.0)), 1.0)
    tol = rtol if values.dtype == np.float64 else 1e-5
    asymmetry = float(np.max(np.abs(values - np.swapaxes(values, -1, -2)), initial=0.0))
    if asymmetry > tol * scale:
        raise ValueError(f"{name}: {what} must be symmetric; max |{what} - {what}^T| = {asymmetry:.3g}")
