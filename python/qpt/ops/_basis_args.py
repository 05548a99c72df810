"""What the ops that take a BasisShells share (the grid kernels and integral-direct J/K): the checks of the
basis made in Python before any kernel, the static part passed to the FFI as attributes, the cart ->
spherical table, and the FFI call that gives every operand the same number of batch dims."""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._broadcast import batched_ffi_call
from .basis import BasisShells, cart_to_sph_matrix

# The cart -> spherical table covers l = 0..4 for every kernel; its size must match kSphTableSize in gto_eval.h.
SPH_TABLE_MAX_L = 4


@functools.lru_cache(maxsize=None)
def sph_table(dtype_name: str) -> np.ndarray:
    """PySCF's cart -> spherical matrices for l = 0..SPH_TABLE_MAX_L, each [ncart, nsph] row-major, concatenated."""
    table = np.concatenate([cart_to_sph_matrix(l).ravel() for l in range(SPH_TABLE_MAX_L + 1)])
    return table.astype(dtype_name)


class BasisStatic(NamedTuple):
    """The hashable, non-array part of a call: the basis layout and the screening threshold."""
    angular: tuple
    prim_offsets: tuple
    spherical: bool
    nao: int
    threshold: float

    def attributes(self):
        return dict(angular=np.asarray(self.angular, dtype=np.int64),
                    prim_offsets=np.asarray(self.prim_offsets, dtype=np.int64),
                    spherical=bool(self.spherical), threshold=float(self.threshold))


def basis_static(name, basis, threshold, *, max_l: int, support: str) -> BasisStatic:
    """Checks `basis` is a BasisShells with l <= max_l and the threshold is usable; `support` names the limit
    in the message ("the grid kernels support")."""
    if not isinstance(basis, BasisShells):
        raise TypeError(f"{name}: basis must be a qpt.ops.BasisShells, got {type(basis).__name__}")
    if basis.max_l > max_l:
        raise ValueError(f"{name}: the basis has l = {basis.max_l} shells; {support} l <= {max_l}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) \
            or not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"{name}: screening_threshold must be a finite number >= 0 (0 = no screening), "
                         f"got {threshold!r}")
    return BasisStatic(tuple(int(l) for l in basis.angular), tuple(int(p) for p in basis.prim_offsets),
                       bool(basis.spherical), int(basis.nao), float(threshold))


def basis_arrays(name, basis):
    """(centers, exponents, coefficients), their shapes checked against the basis layout, floating point."""
    centers, exponents, coefficients = (jnp.asarray(a) for a in (basis.centers, basis.exponents,
                                                                 basis.coefficients))
    if centers.ndim < 2 or centers.shape[-2:] != (basis.nshell, 3):
        raise ValueError(f"{name}: basis.centers must be [..., {basis.nshell}, 3], got shape {centers.shape}")
    for what, array in (("exponents", exponents), ("coefficients", coefficients)):
        if array.ndim < 1 or array.shape[-1] != basis.nprim:
            raise ValueError(f"{name}: basis.{what} must be [..., {basis.nprim}], got shape {array.shape}")
    for what, array in (("centers", centers), ("exponents", exponents), ("coefficients", coefficients)):
        if not jnp.issubdtype(array.dtype, jnp.floating):
            raise TypeError(f"{name}: basis.{what} must be floating point, got {array.dtype}")
    _check_basis_values(name, centers, exponents, coefficients)
    return centers, exponents, coefficients


def _check_basis_values(name, centers, exponents, coefficients):
    """The friendly version of the handlers' value checks (ffi/basis_values.h), for concrete arrays; under jit
    the values are tracers and the handler's check is the one that runs."""
    if any(isinstance(a, jax.core.Tracer) for a in (centers, exponents, coefficients)):
        return
    exponents_host = np.asarray(exponents)
    bad = np.flatnonzero(~(np.isfinite(exponents_host) & (exponents_host > 0)))
    if bad.size:
        raise ValueError(f"{name}: basis.exponents[{bad[0]}] is {exponents_host.ravel()[bad[0]]}; Gaussian exponents "
                         f"must be finite and > 0 ({bad.size} are not)")
    for what, array in (("coefficients", coefficients), ("centers", centers)):
        if not np.all(np.isfinite(np.asarray(array))):
            raise ValueError(f"{name}: basis.{what} has non-finite (NaN or inf) values")


def check_density_shape(name, D, nao):
    if D.ndim < 2 or D.shape[-2:] != (nao, nao):
        raise ValueError(f"{name}: D must be [..., {nao}, {nao}] (basis.nao = {nao}), got shape {D.shape}")


def call_with_sph_table(target, outputs, attributes, arrays, core_ranks, table_position):
    """The FFI call with the cart -> spherical table inserted at `table_position`, every operand given the same
    number of batch dims (size-1 dims broadcast), as vmap's expand_dims method produces them.
    outputs(batch, dtype) gives the result shapes; dtype is the last array's."""
    dtype = arrays[-1].dtype
    arrays, core_ranks = list(arrays), list(core_ranks)
    arrays.insert(table_position, jnp.asarray(sph_table(jnp.dtype(dtype).name)))
    core_ranks.insert(table_position, 1)
    return batched_ffi_call(target, lambda batch: outputs(batch, dtype), arrays, core_ranks, attributes)
