"""Training checkpoints: parameters, optimiser state, step, settings and loss history in one .npz.

No pickle anywhere: arrays are stored under their pytree paths ('params/...', 'opt_state/...'), the
settings as a JSON string, and loading (allow_pickle=False) puts the arrays back into the tree
structure of a freshly initialised template, checking every name, shape and dtype. Files are written
to a temporary file in the same directory and renamed over the old one (os.replace), so a crash
mid-write leaves the previous checkpoint intact. Arrays round-trip bit for bit, which is what lets a
resumed run continue exactly like an uninterrupted one.
"""
from __future__ import annotations

import json
import os
from typing import NamedTuple

import jax
import numpy as np

from qpt.npz_file import read_npz, write_npz_atomically

FORMAT = "qpt.checkpoint"
VERSION = 1
FILE_NAME = "checkpoint.npz"
SNAPSHOT_PATTERN = "checkpoint-step{step:06d}.npz"  # kept copies (TrainConfig.keep_checkpoints)


class Checkpoint(NamedTuple):
    step: int          # completed training steps
    params: dict
    opt_state: tuple
    metadata: dict     # JSON-serialisable settings (the trainer's config, vocabulary, schedule length)
    history: dict      # name -> 1-d numpy array (per-step loss, energy, time)


def _flatten(prefix, tree):
    return {f"{prefix}/{jax.tree_util.keystr(path, simple=True, separator='/')}": np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def save_checkpoint(path, *, step: int, params, opt_state, metadata: dict, history: dict) -> None:
    arrays = {**_flatten("params", params), **_flatten("opt_state", opt_state)}
    arrays.update({f"history/{name}": np.asarray(values) for name, values in history.items()})
    arrays["step"] = np.asarray(step, dtype=np.int64)
    arrays["metadata"] = np.array(json.dumps({"format": FORMAT, "version": VERSION, **metadata}))
    write_npz_atomically(path, arrays)


def checkpoint_file(path) -> str:
    """The checkpoint file of `path` (the file itself or the run directory holding it); ValueError if none."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, FILE_NAME)
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint at {path}")
    return path


def read_metadata(path) -> dict:
    """The settings stored in a checkpoint (enough to rebuild the templates load_checkpoint needs)."""
    entry = read_npz(path, "qpt checkpoint", ["metadata"])["metadata"]
    try:
        metadata = json.loads(str(entry))
    except ValueError:
        raise ValueError(f"{path} is not a readable qpt checkpoint: its metadata is not JSON") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT or metadata.get("version") != VERSION:
        raise ValueError(f"{path} is not a version-{VERSION} qpt checkpoint")
    return metadata


def _unflatten(prefix, template, arrays, path):
    leaves, treedef = jax.tree_util.tree_flatten(template)
    names = list(_flatten(prefix, template))
    restored = []
    for name, leaf in zip(names, leaves):
        if name not in arrays:
            raise ValueError(f"{path}: missing {name!r} (the checkpoint was written by a different model)")
        value = arrays[name]
        if value.shape != tuple(leaf.shape) or value.dtype != leaf.dtype:
            raise ValueError(f"{path}: {name!r} is {value.dtype}{list(value.shape)}, the model expects "
                             f"{leaf.dtype}{list(leaf.shape)}")
        restored.append(value)
    extra = sorted(name for name in arrays if name.startswith(prefix + "/") and name not in set(names))
    if extra:
        raise ValueError(f"{path}: unexpected arrays {extra[:5]} (the checkpoint was written by a different model)")
    return jax.tree_util.tree_unflatten(treedef, restored)


def load_checkpoint(path, params_template, opt_state_template) -> Checkpoint:
    """Reads `path` into the structures of the templates (arrays or jax.ShapeDtypeStruct leaves)."""
    metadata = read_metadata(path)
    arrays = read_npz(path, "qpt checkpoint")
    if "step" not in arrays or arrays["step"].shape != () or arrays["step"].dtype.kind != "i":
        raise ValueError(f"{path} is not a valid qpt checkpoint: no integer 'step'")
    params = _unflatten("params", params_template, arrays, path)
    opt_state = _unflatten("opt_state", opt_state_template, arrays, path)
    history = {name.removeprefix("history/"): values for name, values in arrays.items()
               if name.startswith("history/")}
    return Checkpoint(int(arrays["step"]), params, opt_state, metadata, history)
