"""Training one model on many molecules: mixed-size padded batches train, the compiled shapes stay within
the buckets, and a resumed run equals an uninterrupted one bit for bit."""
import jax
import numpy as np
import pytest

from qpt.system import Molecule
from qpt.train.config import TrainConfig
from qpt.train.many_molecules import ManyMoleculeTrainer
from qpt.train.trainer import Trainer

MOLECULES = ("h2", "water", "methane", "n2", "CO", "C#N", "OO")  # catalog names and SMILES, 2 to 9 AOs in sto-3g


def _config(**changes):
    values = dict(molecules=[_molecule(m) for m in MOLECULES], basis="sto-3g", grid_level=0, model="tiny",
                  geometries="gaussian", steps=6, batch_size=2, max_buckets=2, learning_rate=2e-3,
                  checkpoint_every=1000, workers=1, prefetch=2)
    values.update(changes)
    return TrainConfig(**values)


def _molecule(name):
    if name.lower() in ("h2", "water", "methane", "n2"):
        return Molecule.get(name)
    from qpt.data.smiles import molecule_from_smiles
    return molecule_from_smiles(name)


def test_mixed_size_batches_train_within_the_bucket_shapes(tmp_path):
    pytest.importorskip("rdkit")
    messages = []
    trainer = Trainer(_config(), tmp_path, progress=False, log=messages.append)
    assert isinstance(trainer, ManyMoleculeTrainer) and len(trainer.buckets) == 2
    sizes = {bucket.layout.nao for bucket in trainer.buckets}
    assert len(sizes) == 2  # two padded sizes: mixed-size molecules in each
    result = trainer.run()
    assert result.steps == 6 and np.all(np.isfinite(result.history["loss"]))
    assert 1 <= len(trainer.compiled_buckets) <= 2
    assert any("compiled shapes so far" in message for message in messages)
    # every molecule's tokens are in the one vocabulary, and the bucket of each step holds its rows' molecules
    for step in range(6):
        rows = trainer.schedule.rows(step)
        assert all(row.molecule in trainer.buckets[trainer.schedule.bucket(step)].members for row in rows)


def test_resumed_many_molecule_run_equals_an_uninterrupted_one(tmp_path):
    pytest.importorskip("rdkit")
    config = _config(steps=5, checkpoint_every=2)
    uninterrupted = Trainer(config, tmp_path / "a", progress=False, log=lambda message: None)
    uninterrupted.run()
    interrupted = Trainer(config, tmp_path / "b", progress=False, log=lambda message: None)
    interrupted.run(stop_at=3)
    resumed = Trainer.from_checkpoint(tmp_path / "b", progress=False, log=lambda message: None)
    assert isinstance(resumed, ManyMoleculeTrainer) and resumed.step == 3
    resumed.run()
    for a, b in zip(jax.tree_util.tree_leaves(uninterrupted.local_params), jax.tree_util.tree_leaves(resumed.local_params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(uninterrupted.history["loss"], resumed.history["loss"])


def test_many_molecule_config_is_checked():
    with pytest.raises(ValueError, match="no training molecules"):
        TrainConfig(molecules=[], steps=2)
    with pytest.raises(ValueError, match="max_buckets"):
        TrainConfig(molecules=["water"], steps=2, max_buckets=0)
    with pytest.raises(ValueError, match="minao' or 'core'"):
        Trainer(TrainConfig(molecules=["water", "h2"], steps=2, basis="sto-3g", grid_level=0,
                            initial_hamiltonian="perturbed"), "unused", progress=False)


def test_cli_trains_on_a_molecule_list_and_evaluates_its_heldout_molecules(tmp_path, capsys):
    """`qpt train --molecules FILE` then `qpt eval` on the list's heldout molecule (never trained on), with a
    bad SMILES in the list skipped and counted."""
    pytest.importorskip("rdkit")
    from qpt.commands import main

    listing = tmp_path / "molecules.txt"
    listing.write_text("h2 train\nwater train\nCO train\nnot-a-smiles train\nmethane heldout\n")
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match="skipped 1 of 5"):
        assert main(["train", "--molecules", str(listing), "--basis", "sto-3g", "--grid-level", "0", "--steps", "3",
                     "--geometries", "gaussian", "--batch-size", "2", "--max-buckets", "2", "--workers", "1",
                     "--no-progress", "--out", str(run)]) == 0
    assert "3 training molecules" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(run), "--n-test", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 held-out molecules" in out and "methane (CH4)" in out and "baseline (W = 0)" in out
    assert main(["eval", "--checkpoint", str(run), "--dataset", "x.npz"]) == 2
    assert "single-molecule runs" in capsys.readouterr().err


def test_a_many_molecule_model_predicts_a_new_molecule(tmp_path):
    pytest.importorskip("rdkit")
    from qpt.predict import Predictor

    Trainer(_config(steps=2), tmp_path, progress=False, log=lambda message: None).run()
    predictor = Predictor.from_checkpoint(tmp_path)
    assert "7 molecules" in predictor.describe()
    (prediction,) = predictor.predict(_molecule("CC"))  # ethane: in no training list above, its elements are
    assert np.isfinite(prediction.energy)
    with pytest.raises(ValueError, match="no tokens for element"):
        predictor.predict(Molecule.from_xyz("S 0 0 0\nH 0 0 1.34\nH 1.3 0 -0.1"))
