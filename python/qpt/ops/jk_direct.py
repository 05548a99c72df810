"""J and K computed integral-direct from the basis (`qpt_jk_direct`): the ERIs are never stored.

A separate op rather than a second meaning of `jk`'s first argument, so each signature says what it takes
and the packed-ERI path stays as it is. The kernel loops over the unique shell quartets (8-fold symmetry),
evaluates each one's integrals (McMurchie-Davidson, csrc/include/qpt/eri_md.h) and contracts them into J
and K at once, so memory is O(N^2) and nothing is precomputed per geometry.

Screening: with Q_ab = sqrt(max|(ab|ab)|) over a shell pair's AO block (Cauchy-Schwarz: |(ab|cd)| <= Q_ab
Q_cd), a quartet is skipped when Q_ab Q_cd < `screening_threshold` (default 1e-13, absolute, on the
integrals), or when Q_ab Q_cd times the largest |D| it is contracted with (D_cd, D_ab for J; D_ac, D_ad,
D_bc, D_bd for K; block maxima over the batch) is below screening_threshold * max|D|. The second test is
relative to max|D|, so scaling D does not change what is skipped and the op stays exactly linear (which the
VJP relies on). 0 turns both off. Inside a pair, primitive pairs whose own Schwarz bound times the largest
sum of bounds over any pair's primitive pairs is below screening_threshold / 100 are dropped (CPU; each
dropped one changes any integral by less than that), and inside a quartet each primitive quartet whose own
bound is below screening_threshold is skipped.

How the engine is organised (csrc/include/qpt/eri_pairs.h, eri_md.h): each shell pair's primitive pairs and
their Hermite expansion coefficients are built once per call; quartets run in class order, through kernels
compiled per (outer class, inner class), with the higher-L pair outside and, on the CPU, four inner
primitive pairs at a time in vector lanes.

Numerics: the engine works in float64 whatever the dtype; float32 inputs are converted on entry and the
results rounded to float32 on exit (the cart -> spherical table is passed in the inputs' dtype).

J and K are linear and self-adjoint in D, so the VJP is the same kernel on the (symmetrised) cotangents;
it is differentiable again, so grad-of-grad works. custom_vjp has no forward mode: jvp/jacfwd through
this op fail by design. The basis is a constant to autodiff (zero cotangent): nuclear gradients belong to
separate code.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

import qpt_kernels  # noqa: F401  (registers the FFI targets)
from .basis import BasisShells

from ._basis_args import (BasisStatic, basis_arrays, basis_static, call_with_sph_table,
                          check_density_shape)
from ._broadcast import batch_shape, unbroadcast
from ._checks import float_dtype, require_symmetric

# Highest angular momentum and most primitives per shell of the ERI engine; must match kEriMaxAngular and
# kEriMaxPrimitives in eri_pairs.h.
MAX_ANGULAR = 3
MAX_PRIMITIVES = 16
DEFAULT_SCREENING_THRESHOLD = 1e-13

_TARGET = "qpt_jk_direct"
_NAME = "qpt.ops.jk_direct"


class _Static(NamedTuple):
    """The hashable part of a call: basis layout and screening threshold, and which outputs are wanted."""
    basis: BasisStatic
    with_j: bool
    with_k: bool

    @property
    def nao(self):
        return self.basis.nao

    def attributes(self):
        return dict(self.basis.attributes(), with_j=bool(self.with_j), with_k=bool(self.with_k))


def _static(basis, threshold, with_j, with_k) -> _Static:
    layout = basis_static(_NAME, basis, threshold, max_l=MAX_ANGULAR, support="the ERI engine supports")
    if max(basis.shell_nprim) > MAX_PRIMITIVES:
        raise ValueError(f"{_NAME}: a shell has {max(basis.shell_nprim)} primitives; the ERI engine supports at "
                         f"most {MAX_PRIMITIVES} per shell")
    return _Static(layout, bool(with_j), bool(with_k))


_CORE_RANKS = (2, 1, 1, 2)  # centers, exponents, coefficients, density


def _kernel(static, centers, exponents, coefficients, density):
    def outputs(batch, dtype):
        out = jax.ShapeDtypeStruct(batch + (static.nao, static.nao), dtype)
        return out, out

    return call_with_sph_table(_TARGET, outputs, static.attributes(), (centers, exponents, coefficients, density),
                               _CORE_RANKS, table_position=3)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _jk_direct(static, centers, exponents, coefficients, density):
    return _kernel(static, centers, exponents, coefficients, density)


def _forward(static, *arrays):
    return _jk_direct(static, *arrays), arrays


def _backward(static, residuals, cotangents):
    centers, exponents, coefficients, density = residuals
    j_bar, k_bar = cotangents
    # d<Jbar, J(D)>/dD = J(Jbar) and likewise for K (the kernel uses each density's symmetric part); both
    # cotangents share one pass over the quartets.
    stacked = jnp.stack([j_bar, k_bar], axis=-3)
    geometry = (centers[..., None, :, :], exponents[..., None, :], coefficients[..., None, :])
    j_of_jbar, k_of_kbar = _jk_direct(static, *geometry, stacked)
    j_part = j_of_jbar[..., 0, :, :] if static.with_j else 0
    k_part = k_of_kbar[..., 1, :, :] if static.with_k else 0
    density_bar = jnp.broadcast_to(j_part + k_part, j_bar.shape)
    density_bar = unbroadcast(density_bar, density.shape).astype(density.dtype)
    zeros = tuple(jnp.zeros_like(a) for a in (centers, exponents, coefficients))
    return zeros + (density_bar,)


_jk_direct.defvjp(_forward, _backward)


def jk_direct(basis: BasisShells, D, *, with_j=True, with_k=True,
              screening_threshold: float = DEFAULT_SCREENING_THRESHOLD):
    """Coulomb and exchange matrices J_ij = sum_kl (ij|kl) D_kl and K_ik = sum_jl (ij|kl) D_jl, integral-direct.

    basis: BasisShells (l <= 3); its arrays may carry batch dims (conformers of one molecule).
    D: symmetric density matrices [..., N, N], N = basis.nao, float32 or float64; batch dims of D and of the
    basis arrays broadcast. A concrete non-symmetric D raises; under tracing the symmetric part is used.
    Returns (J, K) [..., N, N] in D's dtype, equal to PySCF's scf.hf.get_jk(mol, D); an output switched off
    by with_j/with_k is zeros. See the module docstring for screening and precision. Works under jit, vmap
    and grad (reverse mode, any order); the basis gets a zero cotangent.
    """
    static = _static(basis, screening_threshold, with_j, with_k)
    D = jnp.asarray(D)
    dtype = float_dtype(_NAME, D)
    check_density_shape(_NAME, D, basis.nao)
    geometry = tuple(a.astype(dtype) for a in basis_arrays(_NAME, basis))
    batch_shape(_NAME, geometry + (D,), _CORE_RANKS, ("centers", "exponents", "coefficients", "D"))
    require_symmetric(_NAME, "D", D)
    return _jk_direct(static, *geometry, D)
