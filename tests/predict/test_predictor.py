"""qpt.Predictor and `qpt predict` on a tiny trained run (water, sto-3g, grid level 0): predictions equal what
the evaluation computes, trajectories work, bad checkpoints and foreign molecules are refused, and an SCF
started from the predicted density converges to the same energy as from the minao guess."""
import json

import numpy as np
import pytest

import qpt
import qpt.ops  # noqa: F401  (loads the kernels outside capsys: an editable install's rebuild check needs stdout)
from qpt import dft
from qpt.commands import main
from qpt.system import Molecule, System
from qpt.train.checkpoint import FILE_NAME
from qpt.train.config import TrainConfig
from qpt.data.samples import HELDOUT_STREAM, SampleBuilder
from qpt.train.trainer import Trainer

CONFIG = TrainConfig(molecule="water", basis="sto-3g", grid_level=0, model="tiny", steps=3, workers=1,
                     learning_rate=2e-3, geometries="gaussian")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    trainer = Trainer(CONFIG, out, progress=False, log=lambda *_: None)
    trainer.run()
    return trainer


def _heldout(trainer, count):
    builder = SampleBuilder(CONFIG.molecule, CONFIG.basis, CONFIG.grid_level, trainer.layout.ao_atoms, CONFIG.seed,
                            CONFIG.sigma_bohr, stream=HELDOUT_STREAM)
    return [builder.build(i) for i in range(count)]


def test_predictions_equal_the_evaluation_of_the_same_geometries(run):
    samples = _heldout(run, 3)
    predictor = qpt.Predictor.from_checkpoint(run.out_dir, batch_size=2)  # 3 geometries: one padded batch
    predictions = predictor.predict([s.molecule for s in samples])
    for sample, prediction in zip(samples, predictions):
        result = run._predict(run.local_params, sample.system, run.token_ids, sample.positions)
        np.testing.assert_allclose(prediction.hamiltonian, np.asarray(result.fock), atol=1e-10)
        np.testing.assert_allclose(prediction.density, np.asarray(result.density), atol=1e-10)
        assert abs(prediction.energy - float(result.terms.total)) < 1e-10
        n_occ = sample.system.n_occ
        S = sample.system.overlap
        c = prediction.orbitals
        np.testing.assert_allclose(c.T @ S @ c, np.eye(len(c)), atol=1e-10)
        np.testing.assert_allclose(prediction.hamiltonian @ c, S @ c * prediction.orbital_energies, atol=1e-9)
        assert prediction.homo_lumo_gap == pytest.approx(prediction.orbital_energies[n_occ]
                                                         - prediction.orbital_energies[n_occ - 1])


def test_scf_from_the_prediction_converges_to_the_minao_energy(run):
    sample = _heldout(run, 1)[0]
    prediction = qpt.Predictor.from_checkpoint(run.out_dir).predict(sample.molecule)[0]
    from_minao = dft.run_scf(sample.system, CONFIG.xc)
    from_prediction = dft.run_scf(sample.system, CONFIG.xc, initial_density=prediction.density)
    assert from_minao.converged and from_prediction.converged
    assert abs(from_prediction.energy - from_minao.energy) < 1e-8


def test_trajectory_through_the_cli(run, tmp_path, capsys):
    frames = [s.molecule for s in _heldout(run, 3)]
    xyz = tmp_path / "trajectory.xyz"
    xyz.write_text("".join(m.to_xyz(f"frame {k}") for k, m in enumerate(frames)))
    out = tmp_path / "predictions.npz"
    assert main(["predict", "--checkpoint", run.out_dir, "--xyz", str(xyz), "--out", str(out),
                 "--no-progress"]) == 0
    with np.load(out, allow_pickle=False) as file:
        assert file["hamiltonian"].shape == (3, 7, 7) and file["energy"].shape == (3,)
        np.testing.assert_allclose(file["coordinates_bohr"], [m.coordinates for m in frames], atol=1e-9)
        metadata = json.loads(str(file["metadata"]))
    assert metadata["frames"] == 3 and metadata["basis"] == "sto-3g"
    single = qpt.Predictor.from_checkpoint(run.out_dir).predict(frames[1])[0]
    with np.load(out, allow_pickle=False) as file:
        np.testing.assert_allclose(file["hamiltonian"][1], single.hamiltonian, atol=1e-10)


@pytest.mark.parametrize("keep", [0, 100, -100])
def test_damaged_checkpoint_is_a_clear_error(run, tmp_path, keep):
    data = open(run.checkpoint_path, "rb").read()
    damaged = tmp_path / FILE_NAME
    damaged.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match=FILE_NAME):
        qpt.Predictor.from_checkpoint(damaged)
    assert main(["predict", "--checkpoint", str(damaged), "--xyz", _water_xyz(tmp_path)]) == 2


def _water_xyz(tmp_path):
    path = tmp_path / "water.xyz"
    path.write_text(Molecule.from_catalog("water").to_xyz())
    return str(path)


def test_elements_without_tokens_and_other_molecules_are_refused(run):
    predictor = qpt.Predictor.from_checkpoint(run.out_dir)
    with pytest.raises(ValueError, match="no tokens for element"):
        predictor.predict(Molecule.from_catalog("ethanol"))
    peroxide = Molecule.from_atoms([("O", (0, 0, 0)), ("O", (0, 0, 1.45)), ("H", (0.9, 0, -0.3)),
                                    ("H", (-0.9, 0, 1.75))])
    with pytest.raises(ValueError, match="trained on H2O"):
        predictor.predict(peroxide)
    assert len(predictor.predict(peroxide, allow_other_molecules=True)) == 1


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        qpt.Predictor.from_checkpoint(tmp_path)

