"""Held-out label sets (`qpt dataset`): geometries with converged SCF labels, one npz file per set.

A set file holds, for n geometries of one molecule: coordinates [n, A, 3] (bohr), and from the converged
Kohn-Sham SCF in the set's basis, functional and grid: fock [n, N, N] and overlap [n, N, N] (Hartree,
PySCF's AO order), orbital_energies [n, N] (ascending), orbitals [n, N, N] (columns, C^T S C = I),
energy [n] (Hartree), converged [n] and iterations [n]; plus `metadata` (JSON: molecule, basis, xc, grid
level, how the geometries were made, SCF tolerances, N, n_occ) and `checksum`, a SHA-256 over every other
array's name, dtype, shape and bytes. Files are written atomically and read with allow_pickle=False;
read_label_set checks names, dtypes, shapes, finiteness and the checksum, so a truncated or edited file
gives a ValueError naming it instead of wrong metrics.

The per-geometry files that `qpt dataset` writes while it works (to resume an interrupted run) use the
same format with n = 1.
"""
from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

import numpy as np

from qpt.npz_file import write_npz_atomically
from qpt.system import Molecule

FORMAT = "qpt.label-set 1"
ENTRY_FIELDS = ("coordinates", "fock", "overlap", "orbital_energies", "orbitals", "energy", "converged", "iterations")
_DTYPES = {"converged": np.bool_, "iterations": np.int64}  # the others float64


class LabelEntry(NamedTuple):
    """One geometry of a set (the attributes qpt.eval.metrics reads from a label)."""

    coordinates: np.ndarray       # [A, 3] bohr
    fock: np.ndarray              # [N, N]
    overlap: np.ndarray           # [N, N]
    orbital_energies: np.ndarray  # [N]
    orbitals: np.ndarray          # [N, N]
    energy: float
    converged: bool
    iterations: int


class LabelSet(NamedTuple):
    path: str
    metadata: dict
    arrays: dict   # ENTRY_FIELDS -> stacked arrays, read-only

    def __len__(self):
        return len(self.arrays["energy"])

    def molecule(self, index: int) -> Molecule:
        meta = self.metadata["molecule"]
        return Molecule(tuple(meta["symbols"]), self.arrays["coordinates"][index], meta["charge"], meta["spin"])

    def entry(self, index: int) -> LabelEntry:
        a = self.arrays
        return LabelEntry(a["coordinates"][index], a["fock"][index], a["overlap"][index],
                          a["orbital_energies"][index], a["orbitals"][index], float(a["energy"][index]),
                          bool(a["converged"][index]), int(a["iterations"][index]))


def _shapes(metadata: dict, n: int) -> dict:
    atoms, nao = len(metadata["molecule"]["symbols"]), metadata["n_ao"]
    return {"coordinates": (n, atoms, 3), "fock": (n, nao, nao), "overlap": (n, nao, nao),
            "orbital_energies": (n, nao), "orbitals": (n, nao, nao), "energy": (n,), "converged": (n,),
            "iterations": (n,)}


def checksum(arrays: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_label_set(path, metadata: dict, entries) -> None:
    """Writes `entries` (LabelEntry or anything with ENTRY_FIELDS attributes) atomically to `path`."""
    entries = list(entries)
    if not entries:
        raise ValueError(f"{path}: a label set needs at least one geometry")
    arrays = {name: np.stack([np.asarray(getattr(e, name), dtype=_DTYPES.get(name, np.float64)) for e in entries])
              for name in ENTRY_FIELDS}
    arrays["format"] = np.array(FORMAT)
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    arrays["checksum"] = np.array(checksum(arrays))
    write_npz_atomically(path, arrays)


def read_label_set(path) -> LabelSet:
    """The validated set in `path`; ValueError naming the file if it is not a complete, unmodified one."""
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as file:
            arrays = {name: np.array(file[name]) for name in file.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such label set file") from None
    except Exception as error:  # truncated or not an npz at all: zipfile, EOF, pickle and format errors
        raise ValueError(f"{path} is not a readable label set file ({type(error).__name__}: {error})") from error
    missing = sorted(set(ENTRY_FIELDS + ("format", "metadata", "checksum")) - set(arrays))
    if missing:
        raise ValueError(f"{path} is not a complete label set file: missing {missing}")
    if arrays["format"].shape != () or str(arrays["format"]) != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT!r} file (format {arrays['format']!r})")
    stored = arrays.pop("checksum")
    if stored.shape != () or str(stored) != checksum(arrays):
        raise ValueError(f"{path}: checksum mismatch: the file was modified or damaged after it was written")
    try:
        metadata = json.loads(str(arrays["metadata"]))
        shapes = _shapes(metadata, len(arrays["energy"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: unreadable metadata ({error})") from error
    for name in ENTRY_FIELDS:
        array = arrays[name]
        if array.dtype != _DTYPES.get(name, np.float64) or array.shape != shapes[name]:
            raise ValueError(f"{path}: {name} has dtype {array.dtype} and shape {array.shape}, expected "
                             f"{np.dtype(_DTYPES.get(name, np.float64))} {shapes[name]}")
        if array.dtype == np.float64 and not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: {name} holds NaN or inf")
        array.setflags(write=False)
    return LabelSet(path, metadata, {name: arrays[name] for name in ENTRY_FIELDS})
