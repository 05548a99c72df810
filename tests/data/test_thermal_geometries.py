"""Thermal geometry streams: deterministic per index (across processes, cache deletions and damaged cache
files), disjoint between streams, physically moving, and wired into the trainer's config."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import qpt.data.thermal as thermal
from qpt.data.streams import DATASET_STREAM, HELDOUT_STREAM, TRAINING_STREAM
from qpt.data.thermal import FRAMES_PER_CHUNK, TRAJECTORIES, ThermalGeometries
from qpt.data.thermal_settings import ThermalSettings
from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.train.config import TrainConfig
from qpt.data.samples import SampleBuilder
from qpt.train.trainer import Trainer

WATER = Molecule.from_catalog("water")
# a few MD steps per frame: enough to test the bookkeeping in a fraction of a second per trajectory
FAST = ThermalSettings(timestep_fs=0.5, spacing_fs=2.0, equilibration_fs=5.0)
# index of frame FRAMES_PER_CHUNK + 1 of trajectory 3: in its second chunk, which needs the first
SECOND_CHUNK_INDEX = (FRAMES_PER_CHUNK + 1) * TRAJECTORIES + 3


def _source(cache_dir, stream=TRAINING_STREAM, seed=0, settings=FAST, molecule=WATER):
    return ThermalGeometries(molecule, seed, stream, settings, str(cache_dir))


def test_same_index_same_geometry_whatever_the_order_or_the_process(tmp_path):
    in_order = _source(tmp_path / "a")
    sequence = [in_order.geometry(i) for i in range(SECOND_CHUNK_INDEX + 1)]
    # a fresh cache, straight to the second chunk (so the first one is computed on the way)
    assert _source(tmp_path / "b").geometry(SECOND_CHUNK_INDEX) == sequence[-1]
    # another process (as a worker or a resumed run), its own fresh cache
    code = ("import sys, numpy as np; from qpt.data.thermal import ThermalGeometries; "
            "from qpt.data.thermal_settings import ThermalSettings; from qpt.system import Molecule; "
            "settings = ThermalSettings(timestep_fs=0.5, spacing_fs=2.0, equilibration_fs=5.0); "
            "source = ThermalGeometries(Molecule.from_catalog('water'), 0, 0, settings, sys.argv[1]); "
            f"np.save(sys.argv[2], source.geometry({SECOND_CHUNK_INDEX}).coordinates)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "c"), str(tmp_path / "c.npy")], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), sequence[-1].coordinates)
    # frames move: consecutive frames of a trajectory and the trajectories differ
    coordinates = np.array([m.coordinates for m in sequence])
    assert len({c.tobytes() for c in coordinates}) == len(coordinates)
    assert not np.allclose(sequence[0].coordinates, WATER.coordinates, atol=1e-3)


def test_cached_frames_are_read_not_recomputed_and_damaged_ones_recomputed(tmp_path, monkeypatch):
    source = _source(tmp_path)
    first = source.geometry(SECOND_CHUNK_INDEX)
    chunks = sorted(name for name in os.listdir(tmp_path) if name.endswith(".npz"))
    assert len(chunks) == 2 and all("traj3" in name for name in chunks)  # only trajectory 3, chunks 0 and 1
    thermal._read_chunk.cache_clear()
    with monkeypatch.context() as patch:
        patch.setattr(thermal, "run_frames", lambda *a, **k: pytest.fail("MD rerun for a cached frame"))
        assert source.geometry(SECOND_CHUNK_INDEX) == first
    with open(tmp_path / chunks[1], "r+b") as file:  # truncate the second chunk
        file.truncate(100)
    thermal._read_chunk.cache_clear()
    assert source.geometry(SECOND_CHUNK_INDEX) == first


def test_streams_and_seeds_are_disjoint_trajectories(tmp_path):
    def frames(**kwargs):
        source = _source(tmp_path, **kwargs)
        return {source.geometry(i).coordinates.tobytes() for i in range(2 * TRAJECTORIES)}

    training = frames(stream=TRAINING_STREAM)
    for other in (frames(stream=HELDOUT_STREAM), frames(stream=DATASET_STREAM), frames(seed=1)):
        assert not training & other


def test_temperature_sets_the_spread_of_bond_lengths(tmp_path):
    """At 500 K the O-H bonds fluctuate more than at 50 K (equipartition: variance ~ T)."""
    def bond_spread(temperature):
        settings = ThermalSettings(temperature_k=temperature, timestep_fs=0.5, spacing_fs=5.0, equilibration_fs=20.0)
        source = _source(tmp_path, settings=settings)
        lengths = [np.linalg.norm(m.coordinates[1:] - m.coordinates[0], axis=1)
                   for m in map(source.geometry, range(2 * TRAJECTORIES))]
        return np.std(lengths)

    assert bond_spread(500.0) > 2.0 * bond_spread(50.0)


def test_other_molecules_charges_and_spins(tmp_path):
    for molecule in (Molecule.from_catalog("methane"), Molecule.from_atoms([("O", (0, 0, 0)), ("H", (0.97, 0, 0))],
                                                                           charge=-1),
                     Molecule.from_atoms([("O", (0, 0, 0)), ("H", (0.97, 0, 0))], spin=1)):
        geometry = _source(tmp_path, molecule=molecule).geometry(1)
        assert geometry.symbols == molecule.symbols and geometry.charge == molecule.charge
        assert geometry.spin == molecule.spin and not np.allclose(geometry.coordinates, molecule.coordinates)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="temperature_k"):
        ThermalSettings(temperature_k=-1.0)
    with pytest.raises(ValueError, match="exceeds the frame spacing"):
        ThermalSettings(timestep_fs=5.0, spacing_fs=1.0)
    with pytest.raises(ValueError, match="geometry index"):
        _source("/nonexistent").geometry(-1)
    with pytest.raises(ValueError, match="geometries must be one of"):
        TrainConfig(molecule="water", basis="sto-3g", steps=2, geometries="md")


def test_train_config_defaults_to_thermal_and_round_trips_its_md_settings(tmp_path):
    config = TrainConfig(molecule="water", basis="sto-3g", grid_level=0, steps=2, md_spacing_fs=2.0,
                         md_equilibration_fs=5.0)
    assert config.geometries == "thermal" and config.thermal_settings == FAST
    again = TrainConfig.from_dict(config.to_dict())
    assert again == config
    layout = TokenLayout.from_molecule(config.molecule, "sto-3g")
    builder = SampleBuilder.for_run(again, layout.ao_atoms, tmp_path)
    assert builder.geometry(5) == _source(tmp_path / "trajectories").geometry(5)
    old = config.to_dict()
    del old["geometries"]  # a checkpoint from before thermal geometries: it trained on Gaussian ones
    assert TrainConfig.from_dict(old).thermal_settings is None


def test_a_training_run_on_thermal_geometries(tmp_path):
    config = TrainConfig(molecule="water", basis="sto-3g", grid_level=0, model="tiny", steps=2, workers=1,
                         md_spacing_fs=2.0, md_equilibration_fs=5.0)
    trainer = Trainer(config, tmp_path, progress=False, log=lambda *_: None)
    result = trainer.run()
    assert result.steps == 2 and np.all(np.isfinite(result.history["loss"]))
    trajectories = {re.search(r"stream(\d+)-traj(\d+)-", name).groups()
                    for name in os.listdir(tmp_path / "trajectories") if name.endswith(".npz")}
    # training geometries 0 and 1 (trajectories 0 and 1) and the held-out validation geometry 0
    assert trajectories == {("0", "0"), ("0", "1"), ("1", "0")}
