"""Damaged checkpoints (issue 20, defect 8): empty, truncated or tampered files give a ValueError naming the
file (before the fix: a raw BadZipFile or EOFError), and a kill mid-write leaves no temporary file behind."""
import os

import jax.numpy as jnp
import numpy as np
import pytest

from qpt.train import checkpoint

PARAMS = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.zeros(3)}
OPT_STATE = (jnp.ones(4),)


@pytest.fixture
def written(tmp_path):
    path = tmp_path / checkpoint.FILE_NAME
    checkpoint.save_checkpoint(path, step=3, params=PARAMS, opt_state=OPT_STATE, metadata={"model": "m"},
                               history={"loss": np.arange(3.0)})
    return path


def test_round_trip(written):
    loaded = checkpoint.load_checkpoint(written, PARAMS, OPT_STATE)
    assert loaded.step == 3 and loaded.metadata["model"] == "m"
    np.testing.assert_array_equal(loaded.params["w"], PARAMS["w"])


@pytest.mark.parametrize("keep", [0, 1, 50, 400, -100, -1])
def test_truncated_or_empty_checkpoints_name_the_file(written, keep):
    data = written.read_bytes()
    written.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match=checkpoint.FILE_NAME):
        checkpoint.load_checkpoint(written, PARAMS, OPT_STATE)


def test_tampered_arrays_are_refused(written, tmp_path):
    with np.load(written, allow_pickle=False) as file:
        arrays = {name: file[name] for name in file.files}
    for name, value in (("params/w", np.zeros((3, 2))), ("step", np.array(1.5)), ("metadata", np.array("{"))):
        np.savez(written, **dict(arrays, **{name: value}))
        with pytest.raises(ValueError, match=checkpoint.FILE_NAME):
            checkpoint.load_checkpoint(written, PARAMS, OPT_STATE)


def test_temporary_file_of_a_killed_writer_is_removed(written):
    # What a kill -9 during np.savez leaves: a temporary file of a process that no longer exists.
    stale = written.parent / f".tmp-{checkpoint.FILE_NAME}-999999999-abcd.npz"
    stale.write_bytes(b"partial")
    live = written.parent / f".tmp-{checkpoint.FILE_NAME}-{os.getpid()}-abcd.npz"  # a writer still running
    live.write_bytes(b"partial")
    checkpoint.save_checkpoint(written, step=4, params=PARAMS, opt_state=OPT_STATE, metadata={}, history={})
    assert not stale.exists() and live.exists()
