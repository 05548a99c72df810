"""Pure-JAX AO values, density on the grid and its transpose, the potential matrix.

AOs are evaluated per group of shells with the same angular momentum and primitive count, so tracing
costs a handful of array ops per group instead of a Python loop over shells; inside, everything runs
in "grouped" AO order and the permutation to PySCF's order is applied once to D or V, not per block.
density_on_grid and potential_matrix walk the grid in blocks (lax.map / lax.scan) and rematerialise
each block's AO values in the backward pass (jax.checkpoint), so the full [4, G, N] AO table is never
held in memory, not even as an autodiff residual.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from qpt.ops.basis import BasisShells, cart_to_sph_matrix, cartesian_powers
from .._checks import float_dtype

DEFAULT_BLOCK_SIZE = 2048

# Full-precision products: this module is the accuracy baseline, and XLA's default float32 dot on
# recent NVIDIA GPUs may round inputs to TF32 (~1e-3 relative).
_einsum = functools.partial(jnp.einsum, precision=jax.lax.Precision.HIGHEST)


class _ShellGroup(NamedTuple):
    """Shells sharing l and primitive count; `aos` lists their AOs (shell-major) in PySCF order."""
    l: int
    shells: np.ndarray  # [S]
    prims: np.ndarray  # [S, P]
    aos: np.ndarray  # [S * width]


@functools.lru_cache(maxsize=64)
def _shell_groups(angular, prim_offsets, ao_offsets):
    """The groups, and `order`: grouped AO position k holds PySCF AO order[k]."""
    keys = sorted({(l, prim_offsets[s + 1] - prim_offsets[s]) for s, l in enumerate(angular)})
    groups = []
    for l, nprim in keys:
        shells = np.array([s for s, ls in enumerate(angular)
                           if ls == l and prim_offsets[s + 1] - prim_offsets[s] == nprim], dtype=np.int64)
        prims = np.array([prim_offsets[s] + np.arange(nprim) for s in shells], dtype=np.int64)
        aos = np.concatenate([np.arange(ao_offsets[s], ao_offsets[s + 1]) for s in shells])
        groups.append(_ShellGroup(l, shells, prims, aos))
    order = np.concatenate([g.aos for g in groups])
    return tuple(groups), order


def _monomial_selectors(l):
    """Constant [3, l+1, ncart] maps from the powers offset_axis**k (k = 0..l) to each cartesian component's
    factor along that axis, x^a (value) and a x^(a-1) (derivative): contracting with these 0/1/integer
    matrices is exact and compiles to one small matmul instead of many gathers."""
    powers = cartesian_powers(l)  # [ncart, 3]
    value = np.zeros((3, l + 1, len(powers)))
    derivative = np.zeros((3, l + 1, len(powers)))
    for c, power in enumerate(powers):
        for axis, a in enumerate(power):
            value[axis, a, c] = 1.0
            if a:
                derivative[axis, a - 1, c] = a
    return value, derivative


def _group_ao_values(group, spherical, centers, exponents, coefficients, coords, deriv):
    """[1 + 3*deriv, G, S * width] AO values (and x, y, z derivatives) of one shell group."""
    l = group.l
    dtype = coords.dtype
    offset = coords[:, None, :] - centers[group.shells][None]  # [G, S, 3]
    r2 = jnp.sum(offset * offset, axis=-1)
    alpha = exponents[group.prims]  # [S, P]
    primitives = coefficients[group.prims] * jnp.exp(-alpha * r2[..., None])  # [G, S, P]
    radial = jnp.sum(primitives, axis=-1)  # [G, S]
    # monomials[..., axis, k] = offset[..., axis]**k, k = 0..l, by repeated products (no pow at 0).
    monomials = [jnp.ones_like(offset)]
    for _ in range(l):
        monomials.append(monomials[-1] * offset)
    monomials = jnp.stack(monomials, axis=-1)  # [G, S, 3, l+1]
    value_selector, derivative_selector = (jnp.asarray(m, dtype=dtype) for m in _monomial_selectors(l))
    factors = _einsum("gsak,akc->gsac", monomials, value_selector)  # [G, S, 3, ncart]: x^a, y^b, z^c
    polynomial = factors[:, :, 0] * factors[:, :, 1] * factors[:, :, 2]  # [G, S, ncart]
    parts = [(radial[..., None] * polynomial)[:, :, None]]
    if deriv:
        # d/dx [P R(r^2)] = (dP/dx) R + P * 2x dR/d(r^2); dP/dx = a x^(a-1) y^b z^c.
        radial_slope = -2.0 * jnp.sum(alpha * primitives, axis=-1)  # [G, S]
        other_factors = factors[:, :, (1, 2, 0)] * factors[:, :, (2, 0, 1)]  # product over the other two axes
        polynomial_gradient = _einsum("gsak,akc->gsac", monomials, derivative_selector) * other_factors
        parts.append(radial[..., None, None] * polynomial_gradient
                     + (radial_slope[..., None] * offset)[..., None] * polynomial[:, :, None])
    cartesian = jnp.concatenate(parts, axis=2)  # [G, S, 1 + 3*deriv, ncart]
    if spherical:
        cartesian = _einsum("gsdc,cm->gsdm", cartesian, jnp.asarray(cart_to_sph_matrix(l), dtype=dtype))
    cartesian = jnp.moveaxis(cartesian, 2, 0)  # [1 + 3*deriv, G, S, width]
    return cartesian.reshape(cartesian.shape[0], cartesian.shape[1], -1)


def _grouped_ao_values(basis, coords, deriv):
    """[1 + 3*deriv, G, N] in grouped AO order (see _shell_groups)."""
    groups, _ = _shell_groups(basis.angular, basis.prim_offsets, basis.ao_offsets)
    dtype = coords.dtype
    centers = jnp.asarray(basis.centers).astype(dtype)
    exponents = jnp.asarray(basis.exponents).astype(dtype)
    coefficients = jnp.asarray(basis.coefficients).astype(dtype)
    return jnp.concatenate([_group_ao_values(g, basis.spherical, centers, exponents, coefficients, coords, deriv)
                            for g in groups], axis=-1)


# ---- argument checks ----------------------------------------------------------------------------

def _check_basis(name, basis):
    if not isinstance(basis, BasisShells):
        raise TypeError(f"{name}: basis must be a qpt.ops.BasisShells, got {type(basis).__name__}")


def _check_coords(name, coords):
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"{name}: grid coordinates must be [G, 3], got shape {coords.shape}")
    if coords.shape[0] == 0:
        raise ValueError(f"{name}: the grid has no points")
    if not jnp.issubdtype(coords.dtype, jnp.floating):
        raise TypeError(f"{name}: grid coordinates must be floating point, got {coords.dtype}")


def _grid_coords(name, grid):
    if not hasattr(grid, "coords") or not hasattr(grid, "weights"):
        raise TypeError(f"{name}: grid must have .coords [G, 3] and .weights [G] (a qpt.system.Grid), "
                        f"got {type(grid).__name__}")
    coords = jnp.asarray(grid.coords)
    _check_coords(name, coords)
    if jnp.shape(grid.weights) != coords.shape[:1]:
        raise ValueError(f"{name}: grid weights must be [G] = [{coords.shape[0]}], "
                         f"got shape {jnp.shape(grid.weights)}")
    return coords


def _check_block_size(name, block_size):
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"{name}: block_size must be a positive integer, got {block_size!r}")
    return int(block_size)


def _blocks(coords, block_size):
    """coords padded to whole blocks, [nblock, block, 3]; padded points sit at the origin and are
    dropped (density) or carry zero potential (potential matrix)."""
    npoint = coords.shape[0]
    block = min(block_size, npoint)
    nblock = -(-npoint // block)
    padded = jnp.pad(coords, ((0, nblock * block - npoint), (0, 0)))
    return padded.reshape(nblock, block, 3), block


def _pad_points(array, nblock, block, axis):
    """Pads grid axis `axis` of `array` with zeros to nblock*block and splits it into [nblock, block]."""
    pad = [(0, 0)] * array.ndim
    pad[axis] = (0, nblock * block - array.shape[axis])
    array = jnp.pad(array, pad)
    return array.reshape(array.shape[:axis] + (nblock, block) + array.shape[axis + 1:])


# ---- public functions ---------------------------------------------------------------------------

def ao_values(basis: BasisShells, coords, deriv: int = 1):
    """AO values at `coords` [G, 3] (bohr), PySCF order: deriv=1 -> [4, G, N] (value, d/dx, d/dy, d/dz),
    equal to mol.eval_ao('GTOval_sph_deriv1') (or _cart_ for a cartesian basis); deriv=0 -> [G, N].

    The dtype of `coords` (float32 or float64) sets the dtype of the computation and the result.
    """
    name = "qpt.ops.reference.ao_values"
    _check_basis(name, basis)
    if deriv not in (0, 1) or isinstance(deriv, bool):
        raise ValueError(f"{name}: deriv must be 0 or 1, got {deriv!r}")
    coords = jnp.asarray(coords)
    _check_coords(name, coords)
    float_dtype(name, coords)
    return _ao_values(basis, coords, deriv)


@functools.partial(jax.jit, static_argnames="deriv")
def _ao_values(basis, coords, deriv):
    _, order = _shell_groups(basis.angular, basis.prim_offsets, basis.ao_offsets)
    values = _grouped_ao_values(basis, coords, deriv)[..., np.argsort(order)]
    return values if deriv else values[0]


def density_on_grid(basis: BasisShells, grid, D, *, block_size: int = DEFAULT_BLOCK_SIZE):
    """rho_g = sum_mn D_mn phi_m(r_g) phi_n(r_g) and its gradient at every grid point.

    D is [..., N, N] with N = basis.nao; only its symmetric part (D + D^T)/2 is used. Returns
    (rho [..., G], grad_rho [..., G, 3]) in D's dtype (float32 or float64), equal to PySCF's
    numint.eval_rho(mol, ao, D, xctype='GGA'). Grid weights are not applied; grid and basis arrays are
    cast to D's dtype. AO values are computed `block_size` points at a time and never stored for the
    whole grid. Differentiable in D, the grid coordinates and the basis arrays (reverse and forward mode).
    """
    name = "qpt.ops.reference.density_on_grid"
    _check_basis(name, basis)
    coords = _grid_coords(name, grid)
    block_size = _check_block_size(name, block_size)
    D = jnp.asarray(D)
    float_dtype(name, D)
    if D.ndim < 2 or D.shape[-2:] != (basis.nao, basis.nao):
        raise ValueError(f"{name}: D must be [..., {basis.nao}, {basis.nao}] (basis.nao = {basis.nao}), "
                         f"got shape {D.shape}")
    return _density_on_grid(basis, coords, D, block_size)


# jit so that eager calls compile once per basis layout and shape instead of dispatching op by op.
@functools.partial(jax.jit, static_argnames="block_size")
def _density_on_grid(basis, coords, D, block_size):
    dtype = D.dtype
    batch_shape = D.shape[:-2]
    npoint = coords.shape[0]
    _, order = _shell_groups(basis.angular, basis.prim_offsets, basis.ao_offsets)
    D = D.reshape((-1,) + D.shape[-2:])
    D = (D + jnp.swapaxes(D, -1, -2)) / 2
    D_grouped = D[:, order[:, None], order[None, :]]
    blocks, block = _blocks(coords.astype(dtype), block_size)

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def block_density(block_coords):
        ao = _grouped_ao_values(basis, block_coords, deriv=1)  # [4, g, N]
        half = _einsum("gi,bij->bgj", ao[0], D_grouped)
        rho = _einsum("bgj,gj->bg", half, ao[0])
        grad = 2 * _einsum("bgj,kgj->bgk", half, ao[1:])
        return rho, grad

    rho, grad = jax.lax.map(block_density, blocks)  # [nblock, B, g], [nblock, B, g, 3]
    rho = jnp.moveaxis(rho, 0, 1).reshape(D.shape[0], -1)[:, :npoint]
    grad = jnp.moveaxis(grad, 0, 1).reshape(D.shape[0], -1, 3)[:, :npoint]
    return rho.reshape(batch_shape + (npoint,)), grad.reshape(batch_shape + (npoint, 3))


def potential_matrix(basis: BasisShells, grid, v_rho, v_grad, *, block_size: int = DEFAULT_BLOCK_SIZE):
    """V_mn = sum_g [v_rho_g phi_m phi_n + v_grad_g . (grad phi_m phi_n + phi_m grad phi_n)].

    The exact linear transpose of density_on_grid: <V, D> = sum_g v_rho_g rho_g + v_grad_g . grad_rho_g
    for every symmetric D. No weights are applied here: callers pass weighted potentials, i.e. for
    E_xc = sum_g w_g e(rho_g, sigma_g) with sigma = |grad rho|^2 the Kohn-Sham matrix dE_xc/dD takes
        v_rho = w * de/drho,   v_grad = 2 * w * de/dsigma * grad_rho,
    which is what PySCF's numint.nr_rks builds (eval_xc_eff's GGA vxc times weights).
    v_rho is [..., G] and v_grad [..., G, 3] with the same leading dims and dtype; returns the symmetric
    V [..., N, N] in that dtype (grid and basis arrays are cast to it).
    """
    name = "qpt.ops.reference.potential_matrix"
    _check_basis(name, basis)
    coords = _grid_coords(name, grid)
    block_size = _check_block_size(name, block_size)
    v_rho, v_grad = jnp.asarray(v_rho), jnp.asarray(v_grad)
    float_dtype(name, v_rho, v_grad)
    npoint = coords.shape[0]
    if v_rho.ndim < 1 or v_rho.shape[-1] != npoint:
        raise ValueError(f"{name}: v_rho must be [..., G] with G = {npoint} grid points, got shape {v_rho.shape}")
    if v_grad.shape != v_rho.shape + (3,):
        raise ValueError(f"{name}: v_grad must be v_rho's shape + (3,) = {v_rho.shape + (3,)}, "
                         f"got shape {v_grad.shape}")
    return _potential_matrix(basis, coords, v_rho, v_grad, block_size)


@functools.partial(jax.jit, static_argnames="block_size")
def _potential_matrix(basis, coords, v_rho, v_grad, block_size):
    dtype = v_rho.dtype
    npoint = coords.shape[0]
    batch_shape = v_rho.shape[:-1]
    nao = basis.nao
    _, order = _shell_groups(basis.angular, basis.prim_offsets, basis.ao_offsets)
    blocks, block = _blocks(coords.astype(dtype), block_size)
    nblock = blocks.shape[0]
    # Half of v_rho goes into A, and V = A + A^T restores it while symmetrising the gradient term.
    v_rho_blocks = jnp.moveaxis(_pad_points(v_rho.reshape(-1, npoint) / 2, nblock, block, axis=1), 1, 0)
    v_grad_blocks = jnp.moveaxis(_pad_points(v_grad.reshape(-1, npoint, 3), nblock, block, axis=1), 1, 0)

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def add_block(A, inputs):
        block_coords, half_v_rho, block_v_grad = inputs
        ao = _grouped_ao_values(basis, block_coords, deriv=1)  # [4, g, N]
        weighted = half_v_rho[..., None] * ao[0] + _einsum("bgk,kgj->bgj", block_v_grad, ao[1:])
        return A + _einsum("gi,bgj->bij", ao[0], weighted), None

    A0 = jnp.zeros((v_rho_blocks.shape[1], nao, nao), dtype=dtype)
    A, _ = jax.lax.scan(add_block, A0, (blocks, v_rho_blocks, v_grad_blocks))
    V_grouped = A + jnp.swapaxes(A, -1, -2)
    inverse = np.argsort(order)
    V = V_grouped[:, inverse[:, None], inverse[None, :]]
    return V.reshape(batch_shape + (nao, nao))


def tabulate_grid(basis: BasisShells, grid, *, screening_threshold=None, dtype=None):
    """The grid itself: this module evaluates the AO values of every block in each pass (and rematerialises them
    in the backward pass), so it has nothing to tabulate. It exists so that code written against qpt.ops'
    tabulate_grid runs with either module; the arguments are accepted and ignored."""
    del basis, screening_threshold, dtype
    return grid
