"""Property-based tests (hypothesis) of every loader on damaged files (issue 20): Systems, checkpoints and
label files, truncated at random lengths or with random bytes overwritten. What must hold: a ValueError that
names the file, or (when the damage hit bytes nothing reads) exactly the original content; never a crash, a
hang, another exception type or silently different arrays."""
import functools
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qpt.eval import labels
from qpt.system import System
from qpt.train import checkpoint

PARAMS = {"w": jnp.arange(6.0).reshape(2, 3)}
OPT_STATE = (jnp.ones(2),)


@functools.lru_cache(maxsize=None)
def _originals():
    directory = tempfile.mkdtemp(prefix="qpt-loader-properties-")
    system_path = os.path.join(directory, "system.npz")
    System.from_molecule("h2", basis="sto-3g", grid_level=0).save(system_path)
    checkpoint_path = os.path.join(directory, checkpoint.FILE_NAME)
    checkpoint.save_checkpoint(checkpoint_path, step=2, params=PARAMS, opt_state=OPT_STATE, metadata={"m": 1},
                               history={"loss": np.arange(2.0)})
    label_path = os.path.join(directory, "label.npz")
    fock = np.diag([-1.0, 0.5])
    labels._write(label_path, labels.Label(-1.1, fock, np.eye(2), np.array([-1.0, 0.5]), np.eye(2), True, 7))
    return {kind: open(path, "rb").read() for kind, path in
            (("system", system_path), ("checkpoint", checkpoint_path), ("label", label_path))}


def _load(kind, path):
    if kind == "system":
        return jax.tree_util.tree_leaves(System.load(path))
    if kind == "checkpoint":
        loaded = checkpoint.load_checkpoint(path, PARAMS, OPT_STATE)
        return [np.asarray(loaded.step), *jax.tree_util.tree_leaves((loaded.params, loaded.opt_state)),
                loaded.history["loss"]]
    return [np.asarray(v) for v in labels._read(path, 2)]


DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("overwrite"), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)),
                                             min_size=1, max_size=4)),
)


@settings(max_examples=60)
@given(st.sampled_from(["system", "checkpoint", "label"]), DAMAGE)
def test_damaged_files_raise_a_value_error_or_load_unchanged(kind, damage):
    original = _originals()[kind]
    data = bytearray(original)
    how, what = damage
    if how == "truncate":
        data = data[:int(what * (len(data) - 1))]
    else:
        for position, value in what:
            data[int(position * (len(data) - 1))] = value
    with tempfile.TemporaryDirectory() as directory:
        intact = os.path.join(directory, f"intact-{kind}.npz")
        with open(intact, "wb") as file:
            file.write(original)
        damaged = os.path.join(directory, f"damaged-{kind}.npz")
        with open(damaged, "wb") as file:
            file.write(bytes(data))
        try:
            loaded = _load(kind, damaged)
        except ValueError as error:
            assert "damaged-" in str(error), error
            return
        for a, b in zip(loaded, _load(kind, intact), strict=True):
            np.testing.assert_array_equal(a, b)
