"""Data-parallel training: batches of conformers, a device mesh of several CPU devices, two jax.distributed
processes on localhost, and a killed peer.

The multi-device and multi-process runs happen in subprocesses: XLA_FLAGS must be set before JAX starts,
and jax.distributed can be initialised once per process. Every subprocess has a bounded timeout.
"""
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from training_setup import small_config, water

from qpt import ops
from qpt.dft.functionals import get_functional
from qpt.dft.xc import xc_energy_and_potential
from qpt.system import Molecule, System
from qpt.train import checkpoint
from qpt.data.batch import pad_grid, stack_systems
from qpt.data.samples import GeometryStream, SampleBuilder
from qpt.train.parallel import local_rows, make_data_mesh
from qpt.model import TokenLayout

HERE = os.path.dirname(os.path.abspath(__file__))
WATER = Molecule.from_catalog("water")


def _environment(**changes):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env["JAX_PLATFORMS"] = "cpu"  # these runs are about CPU devices and processes, on a GPU machine too
    env["PYTHONPATH"] = os.pathsep.join([HERE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(changes)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _params(path):
    with np.load(path, allow_pickle=False) as file:
        return {name: file[name] for name in file.files if name.startswith("params/")}


def _initial_params():
    from qpt.model import init_params

    config = small_config()
    layout = TokenLayout.from_molecule(config.molecule, config.basis)
    params = init_params(config.model, len(layout.vocabulary()), config.seed)
    return {jax.tree_util.keystr(path, simple=True, separator="/"): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]}


# ---- batches of conformers ----------------------------------------------------------------------

def test_padded_grid_points_add_nothing_to_the_xc_energy_and_potential():
    system, _, _ = water()
    padded = pad_grid(system.grid, system.grid.size + 13)
    assert padded.size == system.grid.size + 13 and np.all(padded.weights[-13:] == 0)
    functional = get_functional("b3lyp5")
    e, v = xc_energy_and_potential(functional, system.basis, system.grid, system.minao_density, ops)
    e_padded, v_padded = xc_energy_and_potential(functional, system.basis, padded, system.minao_density, ops)
    np.testing.assert_allclose(e_padded, e, rtol=0, atol=1e-13)
    np.testing.assert_allclose(v_padded, v, rtol=0, atol=1e-13)


def test_stacked_conformers_keep_each_system_and_reject_mismatches():
    a = System.from_molecule(WATER.displaced(np.random.default_rng(1), 0.1), basis="sto-3g", grid_level=0)
    b = System.from_molecule(WATER.displaced(np.random.default_rng(2), 0.1), basis="sto-3g", grid_level=0)
    assert a.grid.size == b.grid.size  # PySCF's grid size does not depend on the geometry
    stacked = stack_systems([a, b], grid_points=a.grid.size + 8)
    assert stacked.eri.shape == (2,) + a.eri.shape and stacked.grid.coords.shape == (2, a.grid.size + 8, 3)
    np.testing.assert_array_equal(stacked.eri[1], b.eri)
    np.testing.assert_array_equal(stacked.basis.centers[0], a.basis.centers)
    with pytest.raises(ValueError, match="does not fit"):
        stack_systems([a, b], grid_points=a.grid.size - 1)
    with pytest.raises(ValueError, match="empty"):
        stack_systems([])
    other_basis = System.from_molecule(WATER, basis="6-31g", grid_level=0)
    with pytest.raises(ValueError, match="not a conformer"):
        stack_systems([a, other_basis], grid_points=max(a.grid.size, other_basis.grid.size))


# ---- settings and mesh --------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    (dict(batch_size=0), "batch_size"),
    (dict(devices=0), "devices"),
    (dict(batch_size=3, devices=2), "split evenly"),
    (dict(workers=0), "workers"),
])
def test_bad_parallel_settings_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


def test_mesh_needs_the_devices_it_is_given():
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count"):
        make_data_mesh(jax.device_count() + 1)
    mesh = make_data_mesh(1)
    assert local_rows(mesh, 3) == [0, 1, 2]


class _BrokenBuilder(SampleBuilder):
    """Module level, so a spawned worker process can unpickle it."""

    def build(self, index):
        if index == 1:
            raise ValueError("geometry 1 is broken")
        return super().build(index)


@pytest.mark.platforms("cpu")
def test_worker_process_errors_reach_the_trainer_and_waiting_is_timed():
    layout = TokenLayout.from_molecule(WATER, "sto-3g")
    builder = _BrokenBuilder(WATER, "sto-3g", 0, layout.ao_atoms, seed=0, sigma_bohr=0.1)
    with GeometryStream(builder, range(3), prefetch=2, workers=1) as stream:
        assert next(stream).index == 0
        assert stream.wait_seconds > 0  # the first build in a fresh process cannot be ready at once
        with pytest.raises(ValueError, match="geometry 1 is broken"):
            next(stream)


# ---- several devices, several processes ---------------------------------------------------------

@pytest.mark.platforms("cpu")
def test_sharded_training_matches_one_device_and_a_per_geometry_reference(tmp_path):
    """4 CPU devices: batch 4 on meshes of 1, 2 and 4 devices vs each geometry's gradient taken alone."""
    out = tmp_path / "runs.npz"
    subprocess.run([sys.executable, os.path.join(HERE, "data_parallel_script.py"), str(out), "2", "4", "1", "2", "4"],
                   env=_environment(XLA_FLAGS="--xla_force_host_platform_device_count=4"), cwd=HERE, check=True,
                   timeout=600)
    with np.load(out) as file:
        runs = {name: file[name] for name in file.files}
    reference = {name.removeprefix("reference/"): value for name, value in runs.items()
                 if name.startswith("reference/")}
    initial = _initial_params()
    moved = max(np.max(np.abs(reference[name] - initial[name])) for name in reference)
    assert moved > 1e-4  # two Adam steps moved the parameters: agreement below is not trivial
    for devices in (1, 2, 4):
        worst = max(np.max(np.abs(runs[f"params/{devices}/{name}"] - value)) for name, value in reference.items())
        assert worst < 1e-10, (devices, worst)
        np.testing.assert_allclose(runs[f"loss/{devices}"], runs["loss/1"], rtol=0, atol=1e-10)
        # Adam hardly sees a constant factor on the gradient; its norm does (a sum instead of a mean, say).
        np.testing.assert_allclose(runs[f"gradient_norm/{devices}"], runs["reference_gradient_norm"], rtol=1e-9)


_CLI_RUN = ["--molecule", "water", "--basis", "sto-3g", "--grid-level", "0", "--batch-size", "2", "--lr", "2e-3",
            "--warmup-steps", "1", "--workers", "1", "--no-progress"]


def _cli(*arguments):
    return [sys.executable, "-m", "qpt", "train", *_CLI_RUN, *arguments]


def _distributed(port, process_id, *arguments):
    return _cli("--distributed", "--coordinator-address", f"127.0.0.1:{port}", "--num-processes", "2",
                "--process-id", str(process_id), *arguments)


@pytest.mark.platforms("cpu")
def test_two_processes_on_localhost_train_like_one(tmp_path):
    """Process 0 gets the coordinator from flags, process 1 from JAX's environment variables."""
    port, run = _free_port(), ["--steps", "2", "--out", str(tmp_path / "two")]
    from_environment = _environment(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                                    JAX_PROCESS_ID="1")
    processes = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
                 for command, env in ((_distributed(port, 0, *run), _environment()),
                                      (_cli("--distributed", *run), from_environment))]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [0, 0], outputs
    subprocess.run(_cli("--steps", "2", "--out", str(tmp_path / "one")), env=_environment(), cwd=tmp_path,
                   check=True, timeout=300, capture_output=True)
    two, one = _params(tmp_path / "two" / checkpoint.FILE_NAME), _params(tmp_path / "one" / checkpoint.FILE_NAME)
    assert sorted(two) == sorted(one)
    worst = max(np.max(np.abs(two[name] - one[name])) for name in one)
    assert worst < 1e-10, worst
    initial = _initial_params()
    assert max(np.max(np.abs(one[name] - initial[name.removeprefix("params/")])) for name in one) > 1e-4


@pytest.mark.platforms("cpu")
def test_a_killed_process_ends_the_other_with_an_error_not_a_hang(tmp_path):
    port, peer_timeout = _free_port(), 10
    run = tmp_path / "run"
    processes = [subprocess.Popen(_distributed(port, i, "--steps", "500", "--checkpoint-every", "1",
                                               "--peer-timeout", str(peer_timeout), "--out", str(run)),
                                  env=_environment(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
                 for i in range(2)]
    try:
        deadline = time.monotonic() + 240
        while not (run / checkpoint.FILE_NAME).exists():  # the first step is complete: training is under way
            assert time.monotonic() < deadline and processes[0].poll() is None, "training did not start"
            time.sleep(0.5)
        processes[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        output = processes[0].communicate(timeout=peer_timeout + 60)[0]
        assert processes[0].returncode != 0
        assert time.monotonic() - killed < peer_timeout + 60
        assert "heartbeat timeout" in output or "another task died" in output, output[-2000:]
    finally:
        for p in processes:
            p.kill()
            p.communicate()
