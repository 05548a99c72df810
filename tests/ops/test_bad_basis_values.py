"""Bad values in a basis (issue 20, defects 1 and 5): every op that takes a BasisShells refuses them, eagerly
with a ValueError from Python and under jit with the FFI handler's error, instead of crashing the process
(negative exponents sent the Boys table lookup out of bounds) or screening them into finite, wrong results."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qpt import ops
from qpt.system import System


@functools.lru_cache(maxsize=None)
def _water():
    return System.from_molecule("water", basis="sto-3g", grid_level=0)


def _damaged(field, value, where=-3):
    basis = _water().basis
    array = np.array(getattr(basis, field), dtype=np.float64)
    flat = array.reshape(-1)
    flat[where:] = value if not callable(value) else value(flat[where:])
    return dataclasses.replace(basis, **{field: array})


def _calls():
    system = _water()
    D = jnp.asarray(system.minao_density)
    v_rho = jnp.ones(system.grid.size)
    v_grad = jnp.zeros((system.grid.size, 3))
    return {
        "jk_direct": lambda basis: ops.jk_direct(basis, D, screening_threshold=0.0)[0],
        "jk_direct screened": lambda basis: ops.jk_direct(basis, D)[1],
        "density_on_grid": lambda basis: ops.density_on_grid(basis, system.grid, D)[0],
        "potential_matrix": lambda basis: ops.potential_matrix(basis, system.grid, v_rho, v_grad),
    }


BAD_VALUES = [
    ("exponents", lambda e: -e, "exponent"),          # the reproduction
    ("exponents", 0.0, "exponent"),
    ("exponents", np.nan, "exponent"),
    ("exponents", np.inf, "exponent"),
    ("coefficients", np.nan, "coefficient"),
    ("coefficients", np.inf, "coefficient"),          # made the screening radius search loop for ever
    ("centers", np.nan, "centre|center"),
]


@pytest.mark.parametrize("op", list(_calls()))
@pytest.mark.parametrize("field,value,word", BAD_VALUES)
def test_refused_eagerly_with_a_value_error(op, field, value, word):
    with pytest.raises(ValueError, match=field):
        _calls()[op](_damaged(field, value))


@pytest.mark.parametrize("op", list(_calls()))
@pytest.mark.parametrize("field,value,word", BAD_VALUES)
def test_refused_under_jit_by_the_handler(op, field, value, word):
    # Under jit Python sees tracers only: the C++ handler must check the values itself.
    with pytest.raises(jax.errors.JaxRuntimeError, match=word):
        jax.block_until_ready(jax.jit(_calls()[op])(_damaged(field, value)))


def test_screening_statistics_refuses_negative_exponents():
    system = _water()
    with pytest.raises(ValueError, match="exponents"):
        ops.screening_statistics(_damaged("exponents", lambda e: -e), system.grid)


def test_good_basis_still_matches_after_the_checks():
    # The checks only refuse; a valid basis gives what it gave before (J against the packed ERIs).
    system = _water()
    D = jnp.asarray(system.minao_density)
    J_direct, K_direct = jax.jit(lambda b: ops.jk_direct(b, D, screening_threshold=0.0))(system.basis)
    J, K = ops.jk(jnp.asarray(system.eri), D)
    np.testing.assert_allclose(J_direct, J, atol=1e-10)
    np.testing.assert_allclose(K_direct, K, atol=1e-10)
