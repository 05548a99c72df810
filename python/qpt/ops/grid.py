"""Density on the grid and its transpose, the potential matrix, through the fused native kernels.

`density_on_grid` and `potential_matrix` walk the grid in blocks of points; each block evaluates the
values and gradients of the AOs of the shells that can matter there (screening, below), contracts them
with every density (or potential) of the call and discards them, so the [grid, AO, 4] table is never
stored. The two ops are each other's linear transpose,
    sum(v_rho * rho(D)) + sum(v_grad * grad_rho(D)) == sum(potential_matrix(v_rho, v_grad) * D),
so each one's VJP is the other kernel; both are differentiable again, so grad-of-grad works. custom_vjp
has no forward mode: jvp/jacfwd through these ops fail by design. The basis and the grid are constants
to autodiff: their cotangents are zero (nuclear gradients belong to separate code).

Screening: a shell (and each of its primitives) is skipped for a block of points when, at the distance
from its centre to the block's bounding box, a bound on every one of its AO values and gradient
components is below `screening_threshold` (default 1e-14, absolute; see csrc/include/qpt/grid_screening.h).
0 turns screening off. `screening_statistics` reports how much work it skips.

`tabulate_grid` evaluates the blocks once and returns a TabulatedGrid, which both ops accept in place of
the grid: the same results, without the AO evaluation in each pass (qpt/ops/tabulated_grid.py).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import qpt_kernels  # noqa: F401  (registers the FFI targets)
from .basis import BasisShells

from ._basis_args import (BasisStatic, basis_arrays, basis_static, call_with_sph_table,
                          check_density_shape, sph_table)
from ._broadcast import batch_shape, unbroadcast
from ._checks import float_dtype
from .platform import default_platform
from .tabulated_grid import GRID_BLOCK, TabulatedGrid, table_shape, tabulated_density, tabulated_potential

# Highest angular momentum the kernels evaluate (g functions); must match kAoMaxAngular in gto_eval.h.
MAX_ANGULAR = 4
DEFAULT_SCREENING_THRESHOLD = 1e-14

_DENSITY_TARGET = "qpt_density_on_grid"
_POTENTIAL_TARGET = "qpt_potential_matrix"
_COUNTS_TARGET = "qpt_grid_screening_counts"
_TABULATE_TARGET = "qpt_tabulate_grid"


# ---- argument checks ----------------------------------------------------------------------------

def _static(name, basis, threshold) -> BasisStatic:
    return basis_static(name, basis, threshold, max_l=MAX_ANGULAR, support="the grid kernels support")


def _table(name, static, grid, dtype, geometry_batch):
    """The (values, index) of a TabulatedGrid, checked to belong to this basis, threshold, dtype and batch of
    geometries (a table holds the AOs of the geometries it was made from, so its batch shape is theirs)."""
    if grid.static != static:
        raise ValueError(f"{name}: the TabulatedGrid was made for another basis or screening threshold "
                         f"(nao {grid.static.nao}, threshold {grid.static.threshold}; this call: nao {static.nao}, "
                         f"threshold {static.threshold}); tabulate the grid again for this one")
    values, index = jnp.asarray(grid.values), jnp.asarray(grid.index)
    blocks, capacity = table_shape(grid.coords.shape[-2], static.nao)
    if values.shape[-4:] != (blocks, capacity, 4, GRID_BLOCK) or not jnp.issubdtype(values.dtype, jnp.floating):
        raise ValueError(f"{name}: TabulatedGrid values must be floating [..., {blocks}, {capacity}, 4, {GRID_BLOCK}] "
                         f"for this grid ({blocks} blocks) and basis (capacity {capacity}), got {values.dtype} "
                         f"{values.shape}")
    if index.dtype != jnp.int32 or index.shape != values.shape[:-3] + (capacity + 1,):
        raise ValueError(f"{name}: TabulatedGrid index must be int32 {values.shape[:-3] + (capacity + 1,)}, got "
                         f"{index.dtype} {index.shape}")
    if values.dtype != dtype:
        raise TypeError(f"{name}: the TabulatedGrid is {values.dtype} but the call computes in {jnp.dtype(dtype).name}: "
                        f"tabulate the grid with dtype={jnp.dtype(dtype).name} (a cast would copy the whole table "
                        "every pass and not give the AOs evaluated in that precision)")
    if values.shape[:-4] != tuple(geometry_batch):
        raise ValueError(f"{name}: the TabulatedGrid holds geometries of batch shape {values.shape[:-4]}, the basis "
                         f"and grid arrays have batch shape {tuple(geometry_batch)}: tabulate the same geometries")
    return values, index


def _geometry(name, basis, grid, dtype):
    """(centers, exponents, coefficients, coords) in `dtype`, their shapes checked against the basis layout."""
    if not hasattr(grid, "coords") or not hasattr(grid, "weights"):
        raise TypeError(f"{name}: grid must have .coords [G, 3] and .weights [G] (a qpt.system.Grid), "
                        f"got {type(grid).__name__}")
    centers, exponents, coefficients = basis_arrays(name, basis)
    coords, weights = jnp.asarray(grid.coords), jnp.asarray(grid.weights)
    if coords.ndim < 2 or coords.shape[-1] != 3:
        raise ValueError(f"{name}: grid coordinates must be [..., G, 3], got shape {coords.shape}")
    if coords.shape[-2] == 0:
        raise ValueError(f"{name}: the grid has no points")
    if weights.shape != coords.shape[:-1]:
        raise ValueError(f"{name}: grid weights must be [..., G] = {coords.shape[:-1]}, got shape {weights.shape}")
    if not jnp.issubdtype(coords.dtype, jnp.floating):
        raise TypeError(f"{name}: grid coordinates must be floating point, got {coords.dtype}")
    return tuple(a.astype(dtype) for a in (centers, exponents, coefficients, coords))


_CORE_RANKS = (2, 1, 1, 2)  # centers, exponents, coefficients, coords
_GEOMETRY_NAMES = ("basis.centers", "basis.exponents", "basis.coefficients", "grid coordinates")


# ---- kernel calls -------------------------------------------------------------------------------

def _call(target, outputs, static, arrays, core_ranks):
    return call_with_sph_table(target, outputs, static.attributes(), arrays, core_ranks, table_position=4)


def _density_kernel(static, centers, exponents, coefficients, coords, density):
    npoint = coords.shape[-2]

    def outputs(batch, dtype):
        return (jax.ShapeDtypeStruct(batch + (npoint,), dtype), jax.ShapeDtypeStruct(batch + (npoint, 3), dtype))

    return _call(_DENSITY_TARGET, outputs, static, (centers, exponents, coefficients, coords, density),
                 _CORE_RANKS + (2,))


def _potential_kernel(static, centers, exponents, coefficients, coords, v_rho, v_grad):
    def outputs(batch, dtype):
        return jax.ShapeDtypeStruct(batch + (static.nao, static.nao), dtype)

    return _call(_POTENTIAL_TARGET, outputs, static, (centers, exponents, coefficients, coords, v_rho, v_grad),
                 _CORE_RANKS + (1, 2))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _density(static, centers, exponents, coefficients, coords, density):
    return _density_kernel(static, centers, exponents, coefficients, coords, density)


def _density_forward(static, *arrays):
    return _density(static, *arrays), arrays


def _density_backward(static, residuals, cotangents):
    centers, exponents, coefficients, coords, density = residuals
    rho_bar, grad_bar = cotangents
    # rho and grad rho are linear in D; their transpose is the potential matrix (symmetric, as it must be
    # for a function of D's symmetric part).
    density_bar = _potential(static, centers, exponents, coefficients, coords, rho_bar, grad_bar)
    density_bar = unbroadcast(density_bar, density.shape).astype(density.dtype)
    zeros = tuple(jnp.zeros_like(a) for a in (centers, exponents, coefficients, coords))
    return zeros + (density_bar,)


_density.defvjp(_density_forward, _density_backward)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _potential(static, centers, exponents, coefficients, coords, v_rho, v_grad):
    return _potential_kernel(static, centers, exponents, coefficients, coords, v_rho, v_grad)


def _potential_forward(static, *arrays):
    return _potential(static, *arrays), arrays


def _potential_backward(static, residuals, potential_bar):
    centers, exponents, coefficients, coords, v_rho, v_grad = residuals
    # <Vbar, V(v)> = sum_g v_rho rho(Vbar) + v_grad . grad rho(Vbar) (rho of Vbar's symmetric part).
    v_rho_bar, v_grad_bar = _density(static, centers, exponents, coefficients, coords, potential_bar)
    zeros = tuple(jnp.zeros_like(a) for a in (centers, exponents, coefficients, coords))
    return zeros + (unbroadcast(v_rho_bar, v_rho.shape).astype(v_rho.dtype),
                    unbroadcast(v_grad_bar, v_grad.shape).astype(v_grad.dtype))


_potential.defvjp(_potential_forward, _potential_backward)


# ---- public functions ---------------------------------------------------------------------------

def density_on_grid(basis: BasisShells, grid, D, *, screening_threshold: float = DEFAULT_SCREENING_THRESHOLD):
    """rho_g = sum_mn D_mn phi_m(r_g) phi_n(r_g) and its gradient at every grid point, by the native kernel.

    basis: BasisShells (l <= 4); grid: a Grid (.coords [G, 3] bohr, .weights [G], not applied here);
    D: [..., N, N] with N = basis.nao, float32 or float64; only its symmetric part is used. Batch dims of D
    and of the basis/grid arrays broadcast. Returns (rho [..., G], grad_rho [..., G, 3]) in D's dtype,
    equal to PySCF's numint.eval_rho(mol, ao, D, xctype='GGA'). Works under jit, vmap and grad (reverse
    mode, any order); no forward mode. See the module docstring for screening.
    """
    name = "qpt.ops.density_on_grid"
    static = _static(name, basis, screening_threshold)
    D = jnp.asarray(D)
    dtype = float_dtype(name, D)
    geometry = _geometry(name, basis, grid, dtype)
    check_density_shape(name, D, basis.nao)
    batch_shape(name, geometry + (D,), _CORE_RANKS + (2,), _GEOMETRY_NAMES + ("D",))
    if isinstance(grid, TabulatedGrid):
        values, index = _table(name, static, grid, dtype, batch_shape(name, geometry, _CORE_RANKS, _GEOMETRY_NAMES))
        batch_shape(name, (values, D), (4, 2), ("table values", "D"))
        return tabulated_density(geometry[3].shape[-2], values, index, D)
    return _density(static, *geometry, D)


def potential_matrix(basis: BasisShells, grid, v_rho, v_grad, *,
                     screening_threshold: float = DEFAULT_SCREENING_THRESHOLD):
    """V_mn = sum_g [v_rho_g phi_m phi_n + v_grad_g . (grad phi_m phi_n + phi_m grad phi_n)], by the native kernel.

    The exact linear transpose of density_on_grid; no grid weights are applied, so for
    E_xc = sum_g w_g e(rho_g, sigma_g) pass v_rho = w de/drho and v_grad = 2 w de/dsigma grad_rho
    (what PySCF's numint.nr_rks builds). v_rho [..., G] and v_grad [..., G, 3] (same leading dims, same
    float dtype; their batch dims broadcast with the basis/grid arrays). Returns the symmetric
    V [..., N, N] in that dtype. Works under jit, vmap and grad (reverse mode, any order).
    """
    name = "qpt.ops.potential_matrix"
    static = _static(name, basis, screening_threshold)
    v_rho, v_grad = jnp.asarray(v_rho), jnp.asarray(v_grad)
    dtype = float_dtype(name, v_rho, v_grad)
    geometry = _geometry(name, basis, grid, dtype)
    npoint = geometry[3].shape[-2]
    if v_rho.ndim < 1 or v_rho.shape[-1] != npoint:
        raise ValueError(f"{name}: v_rho must be [..., G] with G = {npoint} grid points, got shape {v_rho.shape}")
    if v_grad.shape != v_rho.shape + (3,):
        raise ValueError(f"{name}: v_grad must be v_rho's shape + (3,) = {v_rho.shape + (3,)}, "
                         f"got shape {v_grad.shape}")
    batch_shape(name, geometry + (v_rho,), _CORE_RANKS + (1,), _GEOMETRY_NAMES + ("v_rho",))
    if isinstance(grid, TabulatedGrid):
        values, index = _table(name, static, grid, dtype, batch_shape(name, geometry, _CORE_RANKS, _GEOMETRY_NAMES))
        batch_shape(name, (values, v_rho), (4, 1), ("table values", "v_rho"))
        return tabulated_potential(static.nao, values, index, v_rho, v_grad)
    return _potential(static, *geometry, v_rho, v_grad)


def tabulate_grid(basis: BasisShells, grid, *, screening_threshold: float = DEFAULT_SCREENING_THRESHOLD,
                  dtype=None) -> TabulatedGrid:
    """`grid` with the screened AO blocks of `basis` on it evaluated once, for many density_on_grid /
    potential_matrix passes over the same geometry (qpt/ops/tabulated_grid.py): those ops then give the
    same results without evaluating the AOs. Batch dims of the basis and grid arrays carry over. The table
    is in `dtype` (default: the grid coordinates' float dtype) and takes
    tabulated_grid_bytes(basis.nao, G, dtype) bytes per geometry. The table is a constant to autodiff.
    CPU only (a ValueError on other backends): the CUDA kernels evaluate AOs on the fly.
    """
    name = "qpt.ops.tabulate_grid"
    if default_platform() != "cpu":
        raise ValueError(f"{name}: tables are a CPU feature; on {default_platform()} the grid ops evaluate the "
                         f"AO blocks on the fly (use the grid itself)")
    if isinstance(grid, TabulatedGrid):
        raise TypeError(f"{name}: the grid is already tabulated")
    static = _static(name, basis, screening_threshold)
    if dtype is None:
        coords_dtype = jnp.asarray(getattr(grid, "coords", np.zeros(0))).dtype
        dtype = coords_dtype if jnp.issubdtype(coords_dtype, jnp.floating) else jnp.float64
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype}")
    geometry = tuple(jax.lax.stop_gradient(a) for a in _geometry(name, basis, grid, dtype))
    batch_shape(name, geometry, _CORE_RANKS, _GEOMETRY_NAMES)
    blocks, capacity = table_shape(geometry[3].shape[-2], static.nao)

    def outputs(batch, dtype):
        return (jax.ShapeDtypeStruct(batch + (blocks, capacity, 4, GRID_BLOCK), dtype),
                jax.ShapeDtypeStruct(batch + (blocks, capacity + 1), jnp.int32))

    values, index = _call(_TABULATE_TARGET, outputs, static, geometry, _CORE_RANKS)
    return TabulatedGrid(grid, values, index, static)


def screening_statistics(basis: BasisShells, grid, *,
                         screening_threshold: float = DEFAULT_SCREENING_THRESHOLD) -> dict:
    """How much AO work the screening keeps for one geometry (no batch dims), computed by the kernels' own
    screening code on the CPU: counts of (shell, block) and (primitive, block) pairs, AO pairs x points
    summed over blocks, and the kept fractions of each."""
    name = "qpt.ops.screening_statistics"
    static = _static(name, basis, screening_threshold)
    with jax.default_device(jax.devices("cpu")[0]):
        geometry = _geometry(name, basis, grid, jnp.float64)
        if any(a.ndim != rank for a, rank in zip(geometry, _CORE_RANKS)):
            raise ValueError(f"{name}: one geometry at a time (no batch dims)")
        table = jnp.asarray(sph_table("float64"))
        counts = jax.ffi.ffi_call(_COUNTS_TARGET, jax.ShapeDtypeStruct((7,), jnp.float64))(
            *geometry, table, **static.attributes())
    keys = ("blocks", "shell_blocks", "kept_shell_blocks", "primitive_blocks", "kept_primitive_blocks",
            "ao_pair_points", "kept_ao_pair_points")
    stats = dict(zip(keys, (float(c) for c in np.asarray(counts))))
    stats["kept_shell_fraction"] = stats["kept_shell_blocks"] / stats["shell_blocks"]
    stats["kept_primitive_fraction"] = stats["kept_primitive_blocks"] / stats["primitive_blocks"]
    stats["kept_ao_pair_fraction"] = stats["kept_ao_pair_points"] / stats["ao_pair_points"]
    return stats
