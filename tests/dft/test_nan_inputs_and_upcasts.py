"""NaN in, NaN out (issue 20, defect 5): the functionals screened rho = NaN into an energy of 0; and a float32
matrix computed in float64 is no longer widened silently (defect 9)."""
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qpt import dft
from qpt.dft.functionals import KNOWN_NAMES, get_functional
from qpt.system import System


@pytest.mark.parametrize("name", KNOWN_NAMES)
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_nan_density_or_gradient_gives_nan_energy_density(name, dtype):
    functional = get_functional(name)
    rho = jnp.array([0.3, jnp.nan, 0.2, 1e-20, 0.1], dtype)
    sigma = jnp.array([0.01, 0.01, jnp.nan, 0.0, 0.02], dtype)
    e = functional.energy_density(rho, sigma)
    expected_nan = [False, True, True, False, False]  # a NaN sigma is NaN input even to an LDA
    np.testing.assert_array_equal(np.isnan(e), expected_nan)
    assert e.dtype == dtype


@pytest.mark.parametrize("name", ["lda", "b3lyp5"])
def test_gradients_stay_finite_where_the_inputs_are(name):
    functional = get_functional(name)
    rho = jnp.array([0.3, 0.0, 1e-30, 0.2])
    sigma = jnp.array([0.01, 0.0, 0.0, 0.0])
    grad = jax.grad(lambda r, s: jnp.sum(functional.energy_density(r, s)), argnums=(0, 1))(rho, sigma)
    assert all(np.all(np.isfinite(g)) for g in grad)


@functools.lru_cache(maxsize=None)
def _water():
    return System.from_molecule("water", basis="sto-3g", grid_level=0)


def test_nan_density_matrix_gives_nan_energy():
    system = _water()
    D = np.array(system.minao_density)
    D[0, 0] = np.nan
    assert np.isnan(float(dft.energy(system, jnp.asarray(D), "b3lyp5")))


def test_float32_input_computed_in_float64_warns():
    system = _water()
    D32 = jnp.asarray(system.minao_density, jnp.float32)
    with pytest.warns(UserWarning, match="float32 precision"):
        dft.energy(system, D32, "lda")
    with pytest.warns(UserWarning, match="hamiltonian is float32"):
        dft.dft_iterations(system, jnp.asarray(system.core_hamiltonian, jnp.float32), "lda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dft.energy(system, D32, "lda", dtype=jnp.float32)  # float32 on purpose: no warning
        dft.energy(system, jnp.asarray(system.minao_density), "lda")
