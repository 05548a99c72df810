"""The trainer's parts: geometry stream, learning-rate schedule, checkpoint files, progress, plot, CLI."""
import io
import os

import jax.numpy as jnp
import numpy as np
import pytest

from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.train import checkpoint, progress
from qpt.commands import build_parser
from qpt.data.samples import HELDOUT_STREAM, TRAINING_STREAM, GeometryStream, SampleBuilder, sample_geometry
from qpt.train.optimizer import learning_rate, make_optimizer, with_learning_rate
from qpt.train.plots import plot_loss_curve

# Host-side parts: no op runs here, so the CUDA half of the suite has nothing to add (tests/conftest.py).
pytestmark = pytest.mark.platforms("cpu")

WATER = Molecule.from_catalog("water")


def test_geometries_depend_only_on_seed_stream_and_index():
    a = sample_geometry(WATER, 3, 17, 0.1)
    assert a == sample_geometry(WATER, 3, 17, 0.1)
    assert a != sample_geometry(WATER, 3, 18, 0.1)
    assert a != sample_geometry(WATER, 4, 17, 0.1)
    assert a != sample_geometry(WATER, 3, 17, 0.1, stream=HELDOUT_STREAM)
    displacement = a.coordinates - WATER.coordinates
    assert 0.0 < np.std(displacement) < 0.3


def test_stream_builds_consecutive_geometries_in_the_background():
    layout = TokenLayout.from_molecule(WATER, "sto-3g")
    builder = SampleBuilder(WATER, "sto-3g", 0, layout.ao_atoms, seed=0, sigma_bohr=0.1, stream=TRAINING_STREAM)
    with GeometryStream(builder, range(5, 8), prefetch=2, workers=2) as stream:
        samples = list(stream)
    assert [s.index for s in samples] == [5, 6, 7]
    direct = builder.build(6)
    np.testing.assert_array_equal(samples[1].system.atom_coords, direct.system.atom_coords)
    np.testing.assert_array_equal(samples[1].system.eri, direct.system.eri)
    np.testing.assert_array_equal(samples[1].positions, direct.positions)
    assert samples[1].positions.shape == (7, 3)


def test_stream_reports_a_worker_error_in_the_caller():
    class FailingBuilder(SampleBuilder):
        def build(self, index):
            if index == 2:
                raise ValueError("geometry 2 is broken")
            return super().build(index)

    layout = TokenLayout.from_molecule(WATER, "sto-3g")
    builder = FailingBuilder(WATER, "sto-3g", 0, layout.ao_atoms, seed=0, sigma_bohr=0.1)
    with GeometryStream(builder, range(4), prefetch=2, processes=False) as stream:
        assert next(stream).index == 0 and next(stream).index == 1
        with pytest.raises(ValueError, match="geometry 2 is broken"):
            next(stream)


def test_learning_rate_warms_up_linearly_then_decays_by_cosine():
    peak, warmup, total, end = 5e-4, 10, 111, 1e-7
    rates = [learning_rate(s, peak, warmup, total, end) for s in range(total)]
    np.testing.assert_allclose(rates[:warmup], peak * np.arange(1, warmup + 1) / warmup)
    assert rates[warmup] == pytest.approx(peak)
    assert rates[-1] == pytest.approx(end)
    assert rates[warmup + 50] == pytest.approx(end + (peak - end) / 2, rel=1e-3)
    assert all(a >= b for a, b in zip(rates[warmup:], rates[warmup + 1:]))


def test_optimizer_is_clipped_adamw_with_the_papers_hyperparameters():
    params = {"w": jnp.ones((3, 3)), "b": jnp.ones(3)}
    optimizer = make_optimizer("float64")
    state = with_learning_rate(optimizer.init(params), 1e-2)
    hyper = state[1].hyperparams
    assert float(hyper["learning_rate"]) == 1e-2 and float(hyper["b2"]) == 0.95
    assert float(hyper["eps"]) == 1e-12 and float(hyper["weight_decay"]) == 0.1
    assert hyper["b2"].dtype == jnp.float64
    huge = {"w": jnp.full((3, 3), 1e6), "b": jnp.zeros(3)}
    updates, _ = optimizer.update(huge, state, params)
    # First Adam step: |update| = lr per entry (+ lr * 0.1 weight decay on the matrix, none on the bias).
    np.testing.assert_allclose(updates["w"], -1e-2 * (1 + 0.1), rtol=1e-6)
    np.testing.assert_allclose(updates["b"], 0.0)


def test_checkpoint_round_trip_and_atomic_write(tmp_path, monkeypatch):
    params = {"a": jnp.arange(6.0).reshape(2, 3), "layers": {"b": jnp.ones(4, jnp.float32)}}
    state = make_optimizer("float64").init(params)
    path = tmp_path / checkpoint.FILE_NAME
    checkpoint.save_checkpoint(path, step=7, params=params, opt_state=state, metadata={"note": "x"},
                               history={"loss": np.array([1.0, 2.0])})
    loaded = checkpoint.load_checkpoint(path, params, state)
    assert loaded.step == 7 and loaded.metadata["note"] == "x"
    np.testing.assert_array_equal(loaded.params["a"], params["a"])
    assert loaded.params["layers"]["b"].dtype == np.float32
    np.testing.assert_array_equal(loaded.history["loss"], [1.0, 2.0])

    with pytest.raises(ValueError, match="expects"):
        checkpoint.load_checkpoint(path, {"a": jnp.zeros((3, 2)), "layers": {"b": jnp.ones(4, jnp.float32)}}, state)
    with pytest.raises(ValueError, match="missing"):
        checkpoint.load_checkpoint(path, {"c": jnp.zeros(1), **params}, state)

    def failing_savez(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(path, step=8, params=params, opt_state=state, metadata={}, history={})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [checkpoint.FILE_NAME]  # the temporary file is gone ...
    assert checkpoint.load_checkpoint(path, params, state).step == 7  # ... and the old checkpoint intact


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(2))
    with pytest.raises(ValueError, match="not a readable qpt checkpoint"):
        checkpoint.read_metadata(path)


def test_progress_prints_plain_lines_without_tqdm(monkeypatch):
    monkeypatch.setattr(progress, "tqdm", None)
    stream = io.StringIO()
    bar = progress.Progress(0, 3, every_seconds=0.0, stream=stream)
    for step in (1, 2, 3):
        bar.update(step, -76.0, -1.25, 1e-4, 0.05, 0.02)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("step 3/3")
    assert "-76.000000 Ha" in lines[0] and "-1.250 mHa" in lines[0] and "50 ms/step" in lines[0]
    assert "data wait 20 ms" in lines[0]


def test_loss_curve_plot(tmp_path, monkeypatch):
    history = {"step": np.arange(30), "loss": -76.0 - np.linspace(0, 1e-3, 30),
               "validation_baseline": np.full(30, -76.0),
               "validation_loss": np.where(np.arange(30) % 3 == 0, -76.0 - np.linspace(0, 1e-3, 30), np.nan)}
    pytest.importorskip("matplotlib")
    assert plot_loss_curve(history, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # as if not installed
    assert not plot_loss_curve(history, tmp_path / "skipped.png")
    assert not (tmp_path / "skipped.png").exists()


def _parser():
    return build_parser()


def test_cli_registers_train_eval_and_demo():
    parser = _parser()
    train = parser.parse_args(["train", "--out", "run", "--steps", "5", "--model", "small", "--dtype", "float32"])
    assert train.command == "train" and callable(train.run) and train.steps == 5 and train.dtype == "float32"
    evaluate = parser.parse_args(["eval", "--checkpoint", "run", "--n-test", "3"])
    assert evaluate.n_test == 3 and callable(evaluate.run)
    demo = parser.parse_args(["demo"])
    assert callable(demo.run) and demo.minutes > 0


@pytest.mark.parametrize("arguments, message", [
    (["--grid-level", "12"], "grid level"),
    (["--molecule", "unobtainium"], "unknown molecule"),
    (["--heads", "4"], "too few"),
    (["--resume"], "would be ignored"),  # --steps given with --resume
])
def test_cli_train_rejects_bad_settings_before_training(tmp_path, arguments, message):
    args = _parser().parse_args(["train", "--out", str(tmp_path / "run"), "--steps", "3", *arguments])
    with pytest.raises(ValueError, match=message):
        args.run(args)
    assert not (tmp_path / "run").exists()
