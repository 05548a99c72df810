"""Loss schemes (qpt.train.scheme): the number of iterations and their mixing, and the H_init the network
corrects, as the trainer, evaluation and prediction use them."""
import jax
import numpy as np
import pytest
from training_setup import small_config, water

from qpt import ops
from qpt.dft.energy import energy_and_fock
from qpt.dft.functionals import get_functional
from qpt.dft.iterations import PAPER_MIXING
from qpt.train import checkpoint
from qpt.train.config import TrainConfig
from qpt.train.features import quantum_features
from qpt.train.loss import make_predictor
from qpt.train.scheme import LossScheme, default_mixing
from qpt.train.trainer import Trainer

B3LYP5 = get_functional("b3lyp5")


def _features(scheme, system=None, positions=None):
    default_system, token_ids, default_positions = water()
    system = default_system if system is None else system
    positions = default_positions if positions is None else positions
    return quantum_features(system, token_ids, positions, B3LYP5, ops=ops, scheme=scheme)


def _density(fock, system):
    return ops.density_matrix(fock, system.orthogonalizer, system.n_occ)[0]


def test_default_mixing_extends_the_papers_scheme():
    assert default_mixing(2) == PAPER_MIXING
    assert default_mixing(1) == (0.0,)
    assert default_mixing(4) == (0.5, 0.5, 0.5, 0.0)
    assert small_config().loss_scheme == LossScheme()
    assert TrainConfig.from_dict(small_config(dft_iterations=4).to_dict()).loss_scheme.mixing == default_mixing(4)


@pytest.mark.parametrize("mixing", [(0.0,), (0.5, 0.5, 0.0)])
def test_the_baseline_follows_the_schemes_iterations(mixing):
    """W = 0: D1 = dm(H_init), then D <- a D + (1 - a) dm(F(D)) per weight, E and F of the last D."""
    system, token_ids, positions = water()
    result = make_predictor(small_config().model, B3LYP5, ops=ops, scheme=LossScheme(mixing))(
        None, system, token_ids, positions)
    _, fock = energy_and_fock(system, system.minao_density, B3LYP5)
    density = _density(fock, system)
    for alpha in mixing:
        density = alpha * density + (1 - alpha) * _density(energy_and_fock(system, density, B3LYP5)[1], system)
    terms, fock = energy_and_fock(system, density, B3LYP5)
    np.testing.assert_allclose(float(result.terms.total), float(terms.total), atol=1e-10)
    np.testing.assert_allclose(result.fock, fock, atol=1e-10)


def test_core_scheme_starts_from_the_core_hamiltonian():
    system, _, _ = water()
    features = _features(LossScheme(initial_hamiltonian="core"))
    np.testing.assert_array_equal(features.initial_hamiltonian, system.core_hamiltonian)


def test_perturbation_is_symmetric_sized_and_a_fixed_function_of_the_geometry():
    system, _, positions = water()
    minao = np.asarray(_features(LossScheme()).initial_hamiltonian)
    scheme = LossScheme(initial_hamiltonian="perturbed", perturbation_ha=0.02, seed=3)
    first = np.asarray(_features(scheme).initial_hamiltonian)
    noise = first - minao
    np.testing.assert_allclose(noise, noise.T, atol=1e-15)
    off_diagonal = noise[~np.eye(len(noise), dtype=bool)]
    assert 0.005 < np.std(off_diagonal) < 0.05  # 42 samples of std 0.02
    jitted = np.asarray(jax.jit(_features, static_argnums=0)(scheme).initial_hamiltonian)
    np.testing.assert_allclose(jitted, first, atol=1e-13)  # the same draw (the Fock build differs by round-off)
    moved = np.asarray(_features(scheme, positions=positions + 1e-3).initial_hamiltonian)
    other_seed = np.asarray(_features(LossScheme(initial_hamiltonian="perturbed", perturbation_ha=0.02, seed=4))
                            .initial_hamiltonian)
    assert np.max(np.abs(moved - first)) > 1e-3 and np.max(np.abs(other_seed - first)) > 1e-3


@pytest.mark.parametrize("changes, message", [
    (dict(dft_iterations=3, mixing=(0.5, 0.0)), "2 weights for 3"),
    (dict(dft_iterations=0), "dft_iterations"),
    (dict(dft_iterations=1, mixing=(1.0,)), "in \\[0, 1\\)"),
    (dict(dft_iterations=1, mixing=("a",)), "sequence of numbers"),
    (dict(initial_hamiltonian="huckel"), "initial_hamiltonian"),
    (dict(initial_hamiltonian="perturbed", perturbation_ha=-1.0), "perturbation_ha"),
])
def test_bad_schemes_are_refused_before_any_work(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


def test_the_scheme_and_kept_checkpoints_survive_a_run(tmp_path):
    config = small_config(steps=2, checkpoint_every=1, keep_checkpoints=True, dft_iterations=3,
                          mixing=(0.3, 0.6, 0.0), initial_hamiltonian="core")
    Trainer(config, tmp_path, progress=False).run()
    kept = sorted(name for name in tmp_path.iterdir() if name.name.startswith("checkpoint-step"))
    assert [p.name for p in kept] == [checkpoint.SNAPSHOT_PATTERN.format(step=s) for s in (1, 2)]
    resumed = Trainer.from_checkpoint(kept[0], progress=False)
    assert resumed.step == 1 and resumed.config.loss_scheme == config.loss_scheme
    assert resumed.config.loss_scheme.mixing == (0.3, 0.6, 0.0)
