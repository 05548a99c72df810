"""The training loop: it learns, it resumes bit for bit, and it rejects bad settings before any work."""
import os

import jax
import numpy as np
import pytest
from training_setup import small_config, water

from qpt.model import get_model_config
from qpt.train import checkpoint
from qpt.train.config import TrainConfig
from qpt.data.batch import stack_systems
from qpt.data.samples import HELDOUT_STREAM, SampleBuilder
from qpt.train.loss import make_predictor
from qpt.train.trainer import Trainer


def _leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def _heldout_energy(trainer, params, count=2):
    """Mean E(D3) over held-out geometries: the quantity training lowers, on geometries it never saw."""
    config = trainer.config
    builder = SampleBuilder(config.molecule, config.basis, config.grid_level, trainer.layout.ao_atoms, config.seed,
                            config.sigma_bohr, stream=HELDOUT_STREAM)
    predict = make_predictor(config.model, trainer.functional, ops=trainer.ops, dtype=config.dft_dtype)
    samples = [builder.build(i) for i in range(count)]
    return np.mean([float(predict(params, s.system, trainer.token_ids, s.positions).terms.total) for s in samples])


def test_a_few_steps_lower_the_energy_on_held_out_geometries(tmp_path):
    trainer = Trainer(small_config(steps=8, learning_rate=3e-3, warmup_steps=2), tmp_path, progress=False)
    before = _heldout_energy(trainer, trainer.params)
    result = trainer.run()
    after = _heldout_energy(trainer, trainer.params)
    assert result.steps == 8 and result.stopped_by == "steps"
    assert after < before - 1e-4, (before, after)
    assert np.all(np.isfinite(result.history["loss"]))
    validation = result.history["validation_loss"]
    assert np.isfinite(validation[0]) and np.isnan(validation[1]) and np.isfinite(validation[-1])
    assert validation[-1] < validation[0]  # the fixed held-out geometry's energy falls as the network learns
    assert np.all(result.history["validation_baseline"] == result.history["validation_baseline"][0])


# On a GPU the kernels' atomic additions (csrc/cuda/*.cu) make every loss and gradient reproducible to
# float64 round-off (~1e-16 relative), not bit for bit, so there a resumed run must match to round-off as
# Adam carries it into the parameters. Adam amplifies it where a gradient is itself round-off: 563 of the
# tiny model's 107136 gradient components here are below 1e-16 (the attention key bias, zero by the
# softmax's shift invariance, among them), and such a component moves by lr * g / (|g| + eps), up to
# 2e-3 * 1e-16 / 1e-12 = 2e-7 per step and different in each run: 1.2e-6 over 6 steps. Hence parameters to
# 1e-5, the optimiser state to 1e-6 of each leaf's largest value, losses to 1e-9 relative. A wrong resume
# (a step skipped or repeated, other geometries, optimiser state or schedule lost) moves the parameters by
# about the learning rate per step, 2e-3: still two orders of magnitude above the tolerance.
GPU_PARAMS_ATOL, GPU_STATE_RELATIVE, GPU_LOSS_RTOL = 1e-5, 1e-6, 1e-9


def _assert_resumed_matches(platform, uninterrupted, resumed):
    if platform == "cpu":
        for a, b in zip(_leaves(uninterrupted.params) + _leaves(uninterrupted.opt_state),
                        _leaves(resumed.params) + _leaves(resumed.opt_state)):
            np.testing.assert_array_equal(a, b)
        for name in ("loss", "validation_loss"):
            np.testing.assert_array_equal(uninterrupted.history[name], resumed.history[name])
        return
    for a, b in zip(_leaves(uninterrupted.params), _leaves(resumed.params)):
        np.testing.assert_allclose(a, b, rtol=0, atol=GPU_PARAMS_ATOL)
    for a, b in zip(_leaves(uninterrupted.opt_state), _leaves(resumed.opt_state)):
        if np.issubdtype(a.dtype, np.integer):  # Adam's step count
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=GPU_STATE_RELATIVE * float(np.max(np.abs(a), initial=0)))
    for name in ("loss", "validation_loss"):  # validation_loss is NaN where none was taken, in both runs
        np.testing.assert_allclose(uninterrupted.history[name], resumed.history[name], rtol=GPU_LOSS_RTOL)


def test_resumed_training_equals_an_uninterrupted_run(tmp_path, platform):
    """With the kernel ops (the default): on the CPU they reduce their per-lane partial sums in a fixed order,
    so they are bitwise reproducible and a resumed run must equal the uninterrupted one exactly; on a GPU to
    round-off (see GPU_PARAMS_ATOL)."""
    config = small_config(steps=6, checkpoint_every=2)
    uninterrupted = Trainer(config, tmp_path / "a", progress=False)
    uninterrupted.run()

    interrupted = Trainer(config, tmp_path / "b", progress=False)
    assert interrupted.run(stop_at=3).stopped_by == "stop_at"
    assert sorted(os.listdir(tmp_path / "b")) == [checkpoint.FILE_NAME]  # no temporary files left over
    resumed = Trainer.from_checkpoint(tmp_path / "b", progress=False)
    assert resumed.step == 3
    resumed.run()

    assert resumed.step == uninterrupted.step == 6
    _assert_resumed_matches(platform, uninterrupted, resumed)
    for name in ("learning_rate", "step"):  # host-side numbers: exact on every platform
        np.testing.assert_array_equal(uninterrupted.history[name], resumed.history[name])
    # The saved file holds the same state and no pickled objects.
    reloaded = Trainer.from_checkpoint(tmp_path / "b" / checkpoint.FILE_NAME, progress=False)
    for a, b in zip(_leaves(resumed.params), _leaves(reloaded.params)):
        np.testing.assert_array_equal(a, b)
    with np.load(tmp_path / "b" / checkpoint.FILE_NAME, allow_pickle=False) as file:
        assert all(file[name].dtype != object for name in file.files)


@pytest.mark.platforms("cpu")
def test_tabulated_grid_steps_equal_evaluated_ones_bit_for_bit(tmp_path):
    """The default budget tabulates each geometry's grid once per step (one AO evaluation instead of one per
    grid pass); with grid_table_gib=0 every pass evaluates the AOs. Same parameters, same bits."""
    runs = {}
    for gib in (0.0, 2.0):
        trainer = Trainer(small_config(steps=3, grid_table_gib=gib), tmp_path / str(gib), progress=False)
        trainer.run()
        runs[gib] = trainer
        system, _, positions = water()
        arguments = (trainer.params, trainer.opt_state, stack_systems([system]), trainer.token_ids, positions[None],
                     np.float64(1e-4))
        text = trainer._train_step.lower(*arguments).compile().as_text()
        assert ("qpt_tabulate_grid" in text) == (gib > 0)
    for a, b in zip(_leaves(runs[0.0].params), _leaves(runs[2.0].params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0.0].history["loss"], runs[2.0].history["loss"])
    # The budget describes the machine, not the run: a resumed run may take another one.
    resumed = Trainer.from_checkpoint(tmp_path / "2.0", progress=False, grid_table_gib=0.0)
    assert resumed.config.grid_table_gib == 0.0 and resumed.step == 3


@pytest.mark.parametrize("changes, message", [
    (dict(molecule="unobtainium"), "unknown molecule"),
    (dict(model="gigantic"), "unknown model"),
    (dict(grid_level=10), "grid level"),
    (dict(grid_level=-1), "grid level"),
    (dict(xc="m06"), "unknown functional"),
    (dict(basis="no-such-basis"), "unknown basis"),
    (dict(steps=None, minutes=None), "steps"),
    (dict(steps=0), "steps"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(warmup_steps=6), "warmup_steps"),
    (dict(network_dtype="float16"), "dtype"),
    (dict(dft_dtype="bfloat16"), "dft_dtype"),
    (dict(grid_table_gib=-1.0), "grid_table_gib"),
    (dict(grid_table_gib="lots"), "grid_table_gib"),
])
def test_bad_configs_raise_before_training(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


def test_too_few_heads_for_the_quantum_biases_raise():
    with pytest.raises(ValueError, match="too few for 7 quantum biases"):
        small_config(model=get_model_config("tiny", n_heads=4))


def test_config_round_trips_through_json_exactly():
    config = small_config(molecule="ethanol", minutes=2.5, network_dtype="float32")
    again = TrainConfig.from_dict(config.to_dict())
    assert again == config  # the molecule included: coordinates are bit-for-bit the same


def test_time_budget_fixes_the_run_length_after_timing_the_first_steps(tmp_path, monkeypatch):
    import qpt.train.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "_PROBE_STEPS", 3)
    monkeypatch.setattr(trainer_module, "_TIMED_PROBE_STEPS", 2)
    logged = []
    trainer = Trainer(small_config(steps=None, minutes=0.2, warmup_steps=1), tmp_path, progress=False,
                      log=logged.append)
    result = trainer.run(stop_at=4)
    assert trainer.schedule_steps is not None and any("time budget" in line for line in logged)
    assert result.stopped_by in ("stop_at", "time", "steps")
    assert checkpoint.read_metadata(result.checkpoint)["schedule_steps"] == trainer.schedule_steps
