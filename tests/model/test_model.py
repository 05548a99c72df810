"""The QPT Transformer: configs, AO tokens, quantum biases and the symmetric output."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf.data.elements import MASSES

from qpt.model import (BIAS_NAMES, PRESETS, ModelConfig, ModelInputs, TokenLayout, get_model_config,
                       hamiltonian_correction, init_params, normalised_bias_stack, parameter_count,
                       principal_axis_coordinates)
from qpt.model.attention import head_biases
from qpt.system import Molecule


def _random_inputs(config, layout, molecule, seed=0):
    rng = np.random.default_rng(seed)
    n = layout.nao
    matrices = {name: (lambda a: a + a.T)(rng.normal(size=(n, n))) for name in BIAS_NAMES}
    return ModelInputs(jnp.asarray(layout.token_ids(layout.vocabulary())), jnp.asarray(layout.positions(molecule)),
                       normalised_bias_stack(matrices))


@pytest.fixture(scope="module")
def water():
    molecule = Molecule.from_catalog("water")
    return molecule, TokenLayout.from_molecule(molecule, "sto-3g")


def test_presets_are_valid_and_the_paper_model_has_302m_parameters():
    for config in PRESETS.values():
        assert config.n_heads >= config.n_bias_heads and config.d_model % config.n_heads == 0
        assert config.d_ff == 4 * config.d_model
    for name in ("tiny", "small"):
        assert PRESETS[name].parameter_count(20) == parameter_count(init_params(PRESETS[name], 20))
    paper = PRESETS["paper"]
    assert (paper.d_model, paper.n_layers, paper.n_heads) == (1024, 24, 16)
    # 24 blocks of 12 d^2 (attention 4 d^2, MLP 8 d^2) are the paper's 302M; head and embeddings add ~1M.
    assert 302e6 < paper.parameter_count(20) < 305e6


@pytest.mark.parametrize("changes, message", [
    (dict(n_heads=4), "too few"),
    (dict(d_model=60), "not divisible"),
    (dict(n_layers=0), "n_layers"),
    (dict(dtype="float16"), "dtype"),
    (dict(bias_heads_per_matrix=2), "too few"),
])
def test_bad_model_configs_raise_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        PRESETS["tiny"].replace(**changes)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="tiny, small, base, paper"):
        get_model_config("huge")
    assert get_model_config("TINY", n_layers=3).n_layers == 3


def test_tokens_follow_pyscf_ao_labels(water):
    molecule, layout = water
    labels = molecule.to_pyscf("sto-3g").ao_labels(fmt=False)
    assert layout.nao == len(labels) == 7
    assert layout.keys[2] == "O 2p x" and layout.keys[5] == "H 1s" == layout.keys[6]
    np.testing.assert_array_equal(layout.ao_atoms, [label[0] for label in labels])
    vocabulary = layout.vocabulary()
    ids = layout.token_ids(vocabulary)
    assert ids[5] == ids[6] != ids[0]
    assert [vocabulary[i] for i in ids] == list(layout.keys)
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        TokenLayout.from_molecule(Molecule.from_catalog("methane"), "sto-3g").token_ids(vocabulary)


def test_principal_axis_frame_is_centred_and_diagonalises_the_inertia_tensor():
    molecule = Molecule.from_catalog("ethanol").displaced(np.random.default_rng(1), 0.2)
    rotation = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))[0]
    moved = Molecule(molecule.symbols, molecule.coordinates @ rotation.T + [1.0, -2.0, 0.5])
    for m in (molecule, moved):
        coords = principal_axis_coordinates(m)
        masses = np.array([MASSES[z] for z in m.atomic_numbers])
        np.testing.assert_allclose(masses @ coords, 0.0, atol=1e-10)
        second_moments = np.einsum("a,ai,aj->ij", masses, coords, coords)
        np.testing.assert_allclose(second_moments - np.diag(np.diag(second_moments)), 0.0, atol=1e-9)
        distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
        np.testing.assert_allclose(distances, np.linalg.norm(
            m.coordinates[:, None] - m.coordinates[None], axis=-1), atol=1e-10)
    # The frame does not depend on how the molecule was placed (up to each axis' sign).
    np.testing.assert_allclose(np.abs(principal_axis_coordinates(moved)),
                               np.abs(principal_axis_coordinates(molecule)), atol=1e-9)


def test_biases_are_normalised_and_assigned_to_their_heads():
    rng = np.random.default_rng(0)
    matrices = {name: rng.normal(size=(5, 5)) * (i + 1) for i, name in enumerate(BIAS_NAMES)}
    matrices["minao_density"] = np.zeros((5, 5))  # an all-zero matrix stays zero instead of NaN
    stack = normalised_bias_stack(matrices)
    assert stack.shape == (len(BIAS_NAMES), 5, 5)
    for i, name in enumerate(BIAS_NAMES):
        expected = 0.0 if name == "minao_density" else 1.0
        assert float(jnp.max(jnp.abs(stack[i]))) == pytest.approx(expected)
    config = ModelConfig(d_model=32, n_heads=16, bias_heads_per_matrix=2)
    per_head = head_biases(stack, config)
    assert per_head.shape == (16, 5, 5)
    np.testing.assert_array_equal(per_head[2], stack[1])
    np.testing.assert_array_equal(per_head[3], stack[1])
    np.testing.assert_array_equal(per_head[14:], 0.0)
    with pytest.raises(ValueError, match="missing"):
        normalised_bias_stack({"core_hamiltonian": np.eye(2)})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_output_is_an_exactly_symmetric_small_correction(water, dtype):
    molecule, layout = water
    config = PRESETS["tiny"].replace(dtype=dtype)
    params = init_params(config, len(layout.vocabulary()), seed=3)
    w = jax.jit(lambda p, x: hamiltonian_correction(p, config, x))(params, _random_inputs(config, layout, molecule))
    assert w.shape == (7, 7) and w.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(w, w.T)
    assert np.all(np.linalg.eigvalsh(np.asarray(w, np.float64)) > -1e-6)  # q q^T is positive semidefinite
    assert 1e-5 < float(jnp.max(jnp.abs(w))) < 0.1  # small at initialisation: H_init + W starts near H_init


def test_initialisation_is_deterministic_in_the_seed():
    config = PRESETS["tiny"]
    a, b, c = init_params(config, 4, 0), init_params(config, 4, 0), init_params(config, 4, 1)
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
    assert not np.array_equal(a["head"]["w"], c["head"]["w"])
    assert a["layers"]["mlp"]["w_in"].shape == (config.n_layers, 64, 256)


def test_output_follows_a_permutation_of_the_tokens(water):
    """Attention has no notion of order: permuting the AOs (and the bias rows/columns) permutes W."""
    molecule, layout = water
    config = PRESETS["tiny"]
    params = init_params(config, len(layout.vocabulary()))
    inputs = _random_inputs(config, layout, molecule)
    order = np.array([3, 0, 6, 1, 5, 2, 4])
    permuted = ModelInputs(inputs.token_ids[order], inputs.positions[order], inputs.biases[:, order][:, :, order])
    w = hamiltonian_correction(params, config, inputs)
    np.testing.assert_allclose(hamiltonian_correction(params, config, permuted), w[order][:, order], atol=1e-12)
