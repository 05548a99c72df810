"""npz files that are never left half-written and never read unchecked (Systems, checkpoints, label caches).

Writes go to a temporary file next to the target and are renamed onto it (atomic on one filesystem). Reads
turn every way a file can be damaged (empty, truncated, not a zip, a corrupt member) into a ValueError that
names the file, and can check each array's shape and dtype from its .npy header before anything is
decompressed, so a tampered file is refused before it costs memory or gives a silently wrong result.
"""
from __future__ import annotations

import contextlib
import glob
import os
import secrets
import zipfile
import zlib

import numpy as np

_TEMPORARY_PREFIX = ".tmp-"
# What a damaged npz raises from np.load or from reading one of its arrays.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)


def write_npz_atomically(path, arrays: dict) -> None:
    """np.savez to a temporary file next to `path`, then os.replace onto it.

    The file gets the permissions of any new file (0666 less the umask), and is flushed to disk before the
    rename, so a crash leaves either the old file or the new one. Temporary files of writers that were killed
    (their process no longer exists) are removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(path)
    temporary = os.path.join(directory, f"{_temporary_stem(path)}{os.getpid()}-{secrets.token_hex(4)}.npz")
    # os.open honours the umask (tempfile.mkstemp would force 0600 on every file qpt writes).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _temporary_stem(path) -> str:
    return f"{_TEMPORARY_PREFIX}{os.path.basename(path)}-"


def _remove_stale_temporaries(path) -> None:
    pattern = os.path.join(glob.escape(os.path.dirname(os.path.abspath(path))), glob.escape(_temporary_stem(path)))
    for candidate in glob.glob(pattern + "*.npz"):
        pid = os.path.basename(candidate)[len(_temporary_stem(path)):].split("-")[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(candidate)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def array_headers(path, what: str) -> dict:
    """{name: (shape, dtype)} of every array in the npz at `path`, from the .npy headers alone.

    ValueError (naming `what` and the file) when it is not a readable npz or an entry is not a plain array.
    """
    path = os.fspath(path)
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    raise ValueError(f"unexpected entry {member!r}")
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                if dtype.hasobject:
                    raise ValueError(f"entry {member!r} holds Python objects")
                headers[member[:-len(".npy")]] = (tuple(shape), dtype)
    except _DAMAGE as error:
        raise ValueError(f"{path} is not a readable {what} (damaged or truncated?): {error}") from None
    return headers


def check_array_headers(path, what: str, headers: dict, expected: dict) -> None:
    """ValueError unless `headers` (from array_headers) hold exactly the arrays of `expected`,
    {name: (shape, dtype)}, where a shape entry of None matches any size."""
    if sorted(headers) != sorted(expected):
        missing, extra = sorted(set(expected) - set(headers)), sorted(set(headers) - set(expected))
        raise ValueError(f"{path} is not a valid {what}: missing arrays {missing}, unexpected arrays {extra}")
    for name, (shape, dtype) in expected.items():
        found_shape, found_dtype = headers[name]
        if found_dtype != np.dtype(dtype) or len(found_shape) != len(shape) or any(
                want is not None and want != got for want, got in zip(shape, found_shape)):
            wanted = "[" + ", ".join("*" if size is None else str(size) for size in shape) + "]"
            raise ValueError(f"{path} is not a valid {what}: {name!r} is {found_dtype}{list(found_shape)}, "
                             f"expected {np.dtype(dtype)}{wanted}")


def read_npz(path, what: str, names=None) -> dict:
    """The arrays of the npz at `path` (all, or those in `names`), read with allow_pickle=False; any damage is
    a ValueError naming `what` and the file."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as file:
            return {name: file[name] for name in (file.files if names is None else names)}
    except _DAMAGE as error:
        raise ValueError(f"{path} is not a readable {what} (damaged or truncated?): {error}") from None
