"""density_matrix: the op's forward and forward+backward vs one bare eigh and vs autodiff through eigh.

Groups are "density_matrix N=<n> B=<batch> <dtype>", so in each table:
  eigh_forward         jnp.linalg.eigh of F' alone (the floor: the op's forward cannot beat it)
  op_forward           qpt.ops.density_matrix -> (D, eps, C)
  op_forward_backward  value and F-gradient of a loss on D through the op's custom VJP
  eigh_autodiff_...    the same through qpt.ops.reference.density_matrix (plain autodiff through eigh)
Inputs are synthetic (a Fock-like symmetric F, an overlap near identity, n_occ = n/4), since the cost of
a dense eigensolver depends on n, not on the molecule. Rounds shrink with n to keep the file under ~2 min.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inputs import timed

from qpt.ops.density_matrix import density_matrix
from qpt.ops.reference.density_matrix import density_matrix as eigh_autodiff_density_matrix

SIZES = [24, 60, 132, 300]
ROUNDS = {24: 20, 60: 20, 132: 10, 300: 3}
CASES = [(size, batch, dtype) for size in SIZES for batch in (1, 8) for dtype in (np.float64, np.float32)]
configurations = pytest.mark.parametrize("size,batch,dtype", CASES,
                                         ids=[f"N{n}-B{b}-{d.__name__}" for n, b, d in CASES])


@functools.lru_cache(maxsize=None)
def _inputs(size, batch, dtype):
    """(F, X, loss weights, n_occ); a batch is conformers, each with its own F and X."""
    rng = np.random.default_rng(size)
    shape = (batch, size, size) if batch > 1 else (size, size)
    a = rng.standard_normal(shape)
    fock = (a + np.swapaxes(a, -1, -2)) / np.sqrt(size) + np.diag(np.linspace(-20.0, 5.0, size))
    b = rng.standard_normal(shape) / np.sqrt(size)
    overlap = np.eye(size) + 0.1 * b @ np.swapaxes(b, -1, -2)
    x = np.swapaxes(np.linalg.inv(np.linalg.cholesky(overlap)), -1, -2)
    c = rng.standard_normal((size, size))
    weights = c + c.T
    return tuple(jnp.asarray(v, dtype) for v in (fock, x, weights)) + (size // 4,)


def _group(benchmark, size, batch, dtype):
    benchmark.group = f"density_matrix N={size} B={batch} {dtype.__name__}"


def _forward_backward(function, n_occ):
    def loss(fock, x, weights):
        return jnp.sum(function(fock, x, n_occ)[0] * weights)
    return jax.jit(jax.value_and_grad(loss))


@configurations
def bench_eigh_forward(benchmark, size, batch, dtype):
    _group(benchmark, size, batch, dtype)
    fock, x, _, _ = _inputs(size, batch, dtype)
    f_orth = jnp.swapaxes(x, -1, -2) @ fock @ x
    f_orth = jax.block_until_ready((f_orth + jnp.swapaxes(f_orth, -1, -2)) / 2)
    timed(benchmark, jax.jit(jnp.linalg.eigh), f_orth, rounds=ROUNDS[size])


@configurations
def bench_op_forward(benchmark, size, batch, dtype):
    _group(benchmark, size, batch, dtype)
    fock, x, _, n_occ = _inputs(size, batch, dtype)
    timed(benchmark, jax.jit(functools.partial(density_matrix, n_occ=n_occ)), fock, x, rounds=ROUNDS[size])


@configurations
def bench_op_forward_backward(benchmark, size, batch, dtype):
    _group(benchmark, size, batch, dtype)
    fock, x, weights, n_occ = _inputs(size, batch, dtype)
    timed(benchmark, _forward_backward(density_matrix, n_occ), fock, x, weights, rounds=ROUNDS[size])


@configurations
def bench_eigh_autodiff_forward_backward(benchmark, size, batch, dtype):
    _group(benchmark, size, batch, dtype)
    fock, x, weights, n_occ = _inputs(size, batch, dtype)
    timed(benchmark, _forward_backward(eigh_autodiff_density_matrix, n_occ), fock, x, weights,
          rounds=ROUNDS[size])
