"""The QPT loss: features (H_init and the quantum biases), the W = 0 path, gradients, float32 network."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training_setup import water

from qpt import ops
from qpt.dft.energy import energy_and_fock
from qpt.dft.functionals import get_functional
from qpt.dft.iterations import dft_iterations
from qpt.model import BIAS_NAMES, PRESETS, init_params
from qpt.train.features import quantum_features
from qpt.train.loss import make_predictor, predicted_hamiltonian, qpt_loss

B3LYP5 = get_functional("b3lyp5")
TINY = PRESETS["tiny"]


def _features():
    system, token_ids, positions = water()
    return jax.jit(lambda s: quantum_features(s, token_ids, positions, B3LYP5, ops=ops))(system)


def test_initial_hamiltonian_is_the_fock_matrix_of_the_minao_density():
    system, _, positions = water()
    features = _features()
    _, fock = energy_and_fock(system, system.minao_density, B3LYP5)
    np.testing.assert_allclose(features.initial_hamiltonian, fock, atol=1e-12)
    biases = np.asarray(features.inputs.biases)
    assert biases.shape == (len(BIAS_NAMES), 7, 7)
    np.testing.assert_allclose(np.max(np.abs(biases), axis=(1, 2)), 1.0)
    gram = positions @ positions.T
    np.testing.assert_allclose(biases[BIAS_NAMES.index("position_gram")], gram / np.max(np.abs(gram)), atol=1e-14)
    np.testing.assert_allclose(biases[BIAS_NAMES.index("initial_hamiltonian")],
                               fock / np.max(np.abs(fock)), atol=1e-12)


def test_no_network_path_reproduces_dft_iterations_from_h_init():
    system, token_ids, positions = water()
    baseline = make_predictor(TINY, B3LYP5, ops=ops)(None, system, token_ids, positions)
    _, h_init = energy_and_fock(system, system.minao_density, B3LYP5)
    direct = dft_iterations(system, h_init, B3LYP5, ops=ops)
    assert abs(float(baseline.terms.total - direct.terms.total)) < 1e-10
    np.testing.assert_allclose(baseline.fock, direct.fock, atol=1e-10)
    np.testing.assert_allclose(baseline.density, direct.density, atol=1e-10)


def test_loss_gradient_matches_finite_differences():
    system, _, _ = water()
    features = _features()
    params = init_params(TINY, 5, seed=1)
    value_and_grad = jax.jit(jax.value_and_grad(
        lambda p: qpt_loss(p, TINY, system, features, B3LYP5, ops=ops)[0]))
    loss, grads = value_and_grad(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))
    direction = jax.tree_util.tree_map(
        lambda p: jnp.asarray(np.random.default_rng(p.size).normal(size=p.shape)), params)
    step = 1e-5
    shifted = [value_and_grad(jax.tree_util.tree_map(lambda p, v: p + sign * step * v, params, direction))[0]
               for sign in (1.0, -1.0)]
    numeric = float(shifted[0] - shifted[1]) / (2 * step)
    analytic = sum(float(jnp.vdot(g, v)) for g, v in zip(jax.tree_util.tree_leaves(grads),
                                                         jax.tree_util.tree_leaves(direction)))
    assert abs(numeric - analytic) < 1e-5 * max(1.0, abs(analytic))
    assert abs(analytic) > 1e-4


def test_float32_network_keeps_the_dft_in_float64():
    system, _, _ = water()
    features = _features()
    config = TINY.replace(dtype="float32")
    params = init_params(config, 5, seed=1)
    hamiltonian = predicted_hamiltonian(params, config, features)
    assert hamiltonian.dtype == jnp.float64
    (loss, result), grads = jax.jit(jax.value_and_grad(
        lambda p: qpt_loss(p, config, system, features, B3LYP5, ops=ops), has_aux=True))(params)
    assert loss.dtype == jnp.float64 and result.fock.dtype == jnp.float64
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads))
    # The float32 network's W equals the float64 network's (same weights) to float32 accuracy.
    params64 = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
    w64 = predicted_hamiltonian(params64, TINY, features) - features.initial_hamiltonian
    np.testing.assert_allclose(hamiltonian - features.initial_hamiltonian, w64,
                               atol=1e-6 * float(jnp.max(jnp.abs(w64))))


@pytest.mark.platforms("cpu")
def test_predictions_on_a_tabulated_grid_are_the_same_bits():
    """make_predictor with a table budget tabulates the geometry's grid once for its XC passes (eval and predict
    use it); without one every pass evaluates the AOs. The same IterationResult either way."""
    system, token_ids, positions = water()
    params = init_params(TINY, int(np.max(token_ids)) + 1)
    results = {}
    for budget in (0, 2**31):
        predict = make_predictor(TINY, B3LYP5, ops=ops, dtype="float64", grid_table_bytes=budget)
        text = predict.lower(params, system, token_ids, positions).compile().as_text()
        assert ("qpt_tabulate_grid" in text) == (budget > 0)
        results[budget] = predict(params, system, token_ids, positions)
    for a, b in zip(jax.tree_util.tree_leaves(results[0]), jax.tree_util.tree_leaves(results[2**31])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
