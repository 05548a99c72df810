"""Atomic npz writes: what qpt saves (Systems, checkpoints, label caches) is never left half-written."""
import os
import tempfile

import numpy as np


def write_npz_atomically(path, arrays: dict) -> None:
    """np.savez to a temporary file next to `path`, then os.replace onto it (atomic on one filesystem)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
