"""The dtype policy of qpt.dft: float64 by default, float32 as a measured speed option.

Every public function in qpt.dft takes `dtype=`; it casts the System's floating arrays and the inputs
once, at the top, so all ops run in one precision.
"""
import warnings

import jax
import jax.numpy as jnp

SUPPORTED = (jnp.float64, jnp.float32)


def resolve(dtype):
    dtype = jnp.dtype(dtype if dtype is not None else jnp.float64)
    if dtype not in SUPPORTED:
        raise TypeError(f"qpt.dft: dtype must be float32 or float64, got {dtype}")
    return dtype


def cast_floats(tree, dtype):
    """Casts every floating array leaf of a pytree (System, matrices) to `dtype`; integers stay."""
    def cast(leaf):
        leaf = jnp.asarray(leaf)
        return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree_util.tree_map(cast, tree)


def cast_input(array, dtype, name):
    """A user's matrix in `dtype`, with a warning when that widens it: a float32 array computed in float64
    keeps only float32's ~7 digits (typically an array made before `import qpt` turned on float64)."""
    array = jnp.asarray(array)
    if jnp.issubdtype(array.dtype, jnp.floating) and jnp.finfo(array.dtype).bits < jnp.finfo(dtype).bits:
        warnings.warn(f"qpt.dft: {name} is {array.dtype} but is computed in {jnp.dtype(dtype).name}: it carries only "
                      f"{array.dtype} precision (was it created before `import qpt` enabled float64?)",
                      stacklevel=3)
    return array.astype(dtype)
