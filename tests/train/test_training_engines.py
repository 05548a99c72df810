"""Training with each two-electron engine: the worker processes build Systems with the configured engine,
the trainer steps with it, and evaluation labels with the same engine."""
import jax
import numpy as np
import pytest
from training_setup import small_config

from qpt.eval.evaluate import evaluate
from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.data.samples import GeometryStream, SampleBuilder
from qpt.train.trainer import Trainer

WATER = Molecule.from_catalog("water")


def test_worker_processes_build_systems_with_the_configured_engine():
    layout = TokenLayout.from_molecule(WATER, "sto-3g")
    builder = SampleBuilder(WATER, "sto-3g", 0, layout.ao_atoms, seed=0, sigma_bohr=0.1, jk="df", auxbasis="weigend")
    with GeometryStream(builder, range(2), prefetch=2, workers=1) as stream:
        samples = list(stream)
    assert [s.system.jk_engine for s in samples] == ["df", "df"]
    assert samples[0].system.two_electron.auxbasis == "weigend"
    direct = builder.build(1).system
    np.testing.assert_array_equal(samples[1].system.two_electron.cderi, direct.two_electron.cderi)


def test_training_and_evaluation_run_with_density_fitting(tmp_path):
    """(The integral-direct engine runs through the same function, qpt.dft.two_electron; tests/dft covers it.)"""
    jk = "df"
    trainer = Trainer(small_config(steps=2, warmup_steps=1, batch_size=2, jk=jk), tmp_path, progress=False)
    result = trainer.run()
    assert result.steps == 2 and np.all(np.isfinite(result.history["loss"]))
    evaluation = evaluate(trainer, 1, log=lambda *_: None)
    assert evaluation.engine.startswith("density-fitted")
    assert np.isfinite(evaluation.model["hamiltonian_mae"])
    resumed = Trainer.from_checkpoint(result.checkpoint, progress=False)
    assert resumed.config.jk == jk


def test_default_engine_is_auto_and_bad_engines_raise():
    assert small_config().jk == "auto"
    with pytest.raises(ValueError, match="jk must be one of"):
        small_config(jk="ri")
    with pytest.raises(ValueError, match="auxbasis"):
        small_config(jk="packed", auxbasis="weigend")
