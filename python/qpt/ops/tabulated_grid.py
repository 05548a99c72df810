"""A grid with its AO blocks tabulated: the AO values of one geometry evaluated once and read by every
density_on_grid and potential_matrix pass over it, instead of evaluated again in each.

A training step makes about a dozen grid passes over one geometry (the Fock builds of the features and of
the DFT iterations, forward and backward), and evaluating the AO blocks is about half of each pass on the
CPU. `qpt.ops.tabulate_grid(basis, grid)` returns a TabulatedGrid, which the two grid ops accept wherever
they accept a grid: the results are the same bits as on the untabulated grid (the same blocks, the same
arithmetic in the same order), the passes only skip the AO evaluation.

The price is memory: the table holds the screened AO values and gradients of every block in a fixed-size
slot, [blocks, capacity, 4, 64] values (capacity = N rounded up to 32) plus an int32 index,
`tabulated_grid_bytes` of it per geometry, and it lives as long as the step needs it (as an autodiff
residual too). Callers decide under a budget; the trainer's is `TrainConfig.grid_table_gib`.

CPU only: the CUDA module evaluates AOs on the fly (a GPU recomputes them faster than it could read
them back), so tabulate_grid refuses other backends.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import qpt_kernels  # noqa: F401  (registers the FFI targets)
from ._broadcast import batched_ffi_call, unbroadcast

# Points per block and the capacity multiple; must match kGridBlock and kTabulatedRowMultiple (grid_cpu.h).
GRID_BLOCK = 64
ROW_MULTIPLE = 32

_DENSITY_TARGET = "qpt_density_on_grid_tabulated"
_POTENTIAL_TARGET = "qpt_potential_matrix_tabulated"


@dataclass(frozen=True, eq=False)
class TabulatedGrid:
    """`grid` (a Grid, or anything with .coords [..., G, 3] and .weights [..., G]) with the AO blocks of
    one basis on it: `values` [..., blocks, capacity, 4, 64] and `index` [..., blocks, capacity + 1] int32,
    in the layout of csrc/cpu/grid_cpu.h. `static` (pytree metadata) is the basis layout and screening
    threshold it was made with, which the grid ops check. Attribute reads it does not define (.coords,
    .weights, .level, .size) go to `grid`, so code written for a Grid runs on it unchanged.
    """

    grid: Any
    values: Any
    index: Any
    static: Any

    def __getattr__(self, name):
        # Only called for names the dataclass lacks; never for the fields (avoids recursion while
        # a half-built instance is copied).
        if name in ("grid", "values", "index", "static") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.grid, name)


jax.tree_util.register_dataclass(TabulatedGrid, data_fields=["grid", "values", "index"], meta_fields=["static"])


def table_shape(npoint: int, nao: int) -> tuple[int, int]:
    """(blocks, capacity) of the table of a grid of `npoint` points and a basis of `nao` AOs."""
    return -(-npoint // GRID_BLOCK), -(-nao // ROW_MULTIPLE) * ROW_MULTIPLE


def tabulated_grid_bytes(nao: int, npoint: int, dtype="float64") -> int:
    """Bytes of one geometry's table (values and index) for `nao` AOs on `npoint` grid points."""
    blocks, capacity = table_shape(npoint, nao)
    return blocks * capacity * 4 * GRID_BLOCK * jnp.dtype(dtype).itemsize + blocks * (capacity + 1) * 4


def _density_kernel(npoint, values, index, density):
    def outputs(batch):
        return (jax.ShapeDtypeStruct(batch + (npoint,), density.dtype),
                jax.ShapeDtypeStruct(batch + (npoint, 3), density.dtype))

    return batched_ffi_call(_DENSITY_TARGET, outputs, (values, index, density), (4, 2, 2), {"npoint": np.int64(npoint)})


def _potential_kernel(nao, values, index, v_rho, v_grad):
    def outputs(batch):
        return jax.ShapeDtypeStruct(batch + (nao, nao), v_rho.dtype)

    return batched_ffi_call(_POTENTIAL_TARGET, outputs, (values, index, v_rho, v_grad), (4, 2, 1, 2), {})


# The same transpose pair as grid.py's, over the table: each op's VJP is the other one. The table is a
# constant to autodiff (its cotangents are zero: None).
@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def tabulated_density(npoint, values, index, density):
    return _density_kernel(npoint, values, index, density)


def _density_forward(npoint, values, index, density):
    return tabulated_density(npoint, values, index, density), (values, index, density)


def _density_backward(npoint, residuals, cotangents):
    values, index, density = residuals
    rho_bar, grad_bar = cotangents
    density_bar = tabulated_potential(density.shape[-1], values, index, rho_bar, grad_bar)
    return None, None, unbroadcast(density_bar, density.shape).astype(density.dtype)


tabulated_density.defvjp(_density_forward, _density_backward)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def tabulated_potential(nao, values, index, v_rho, v_grad):
    return _potential_kernel(nao, values, index, v_rho, v_grad)


def _potential_forward(nao, values, index, v_rho, v_grad):
    return tabulated_potential(nao, values, index, v_rho, v_grad), (values, index, v_rho, v_grad)


def _potential_backward(nao, residuals, potential_bar):
    values, index, v_rho, v_grad = residuals
    v_rho_bar, v_grad_bar = tabulated_density(v_rho.shape[-1], values, index, potential_bar)
    return (None, None, unbroadcast(v_rho_bar, v_rho.shape).astype(v_rho.dtype),
            unbroadcast(v_grad_bar, v_grad.shape).astype(v_grad.dtype))


tabulated_potential.defvjp(_potential_forward, _potential_backward)
