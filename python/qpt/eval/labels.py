"""Evaluation labels: converged SCF results (qpt.dft.run_scf) on held-out geometries, cached on disk.

Labels are used to measure a trained model, never in its loss. A label file is an .npz written
atomically (temporary file + os.replace) under a name built from the molecule, basis, functional,
grid level, seed and geometry index, plus a hash of the exact displaced coordinates, so a cache entry can
only be reused for the very same calculation.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import NamedTuple

import numpy as np

from qpt import ops as kernel_ops
from qpt.dft.scf import run_scf
from qpt.npz_file import read_npz, write_npz_atomically
from qpt.data.samples import Sample, SampleBuilder

_FORMAT = "qpt.label"
_VERSION = 1


class Label(NamedTuple):
    energy: float                 # converged total energy, Hartree
    fock: np.ndarray              # F(D) at convergence [N, N]
    density: np.ndarray
    orbital_energies: np.ndarray  # [N], ascending
    orbitals: np.ndarray          # [N, N] columns, C^T S C = I
    converged: bool
    iterations: int


def label_from_scf(result) -> Label:
    return Label(float(result.energy), np.asarray(result.fock), np.asarray(result.density),
                 np.asarray(result.orbital_energies), np.asarray(result.orbitals), bool(result.converged),
                 int(result.iterations))


class LabelCache:
    """Labels of held-out geometries, computed once and kept in `directory`."""

    def __init__(self, directory, xc: str, *, ops=kernel_ops, log=None):
        self.directory = os.fspath(directory)
        self.xc = xc
        self.ops = ops
        self.log = log

    def path(self, builder: SampleBuilder, sample: Sample) -> str:
        molecule = sample.molecule
        identity = json.dumps({"symbols": molecule.symbols, "coordinates": molecule.coordinates.tolist(),
                               "charge": molecule.charge, "spin": molecule.spin, "basis": builder.basis,
                               "xc": self.xc, "grid_level": builder.grid_level,
                               "jk": sample.system.jk_engine,
                               "auxbasis": getattr(sample.system.two_electron, "auxbasis", None)})
        digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
        readable = (f"{molecule.formula}-{builder.basis}-{self.xc}-grid{builder.grid_level}-{sample.system.jk_engine}-"
                    f"seed{builder.seed}-stream{builder.stream}-{sample.index:05d}")
        return os.path.join(self.directory, re.sub(r"[^A-Za-z0-9._+-]", "_", readable) + f"-{digest}.npz")

    def label(self, builder: SampleBuilder, sample: Sample) -> Label:
        path = self.path(builder, sample)
        if os.path.exists(path):
            try:
                return _read(path, sample.system.nao)
            except ValueError as error:  # a damaged cache entry is recomputed, never trusted or fatal
                if self.log is not None:
                    self.log(f"warning: recomputing the label of held-out geometry {sample.index}: {error}")
        result = run_scf(sample.system, self.xc, ops=self.ops)
        label = label_from_scf(result)
        if not label.converged and self.log is not None:
            self.log(f"warning: the label SCF of held-out geometry {sample.index} did not converge in "
                     f"{label.iterations} iterations; its metrics are against the last iterate")
        _write(path, label)
        return label


def _write(path, label: Label):
    arrays = {name: np.asarray(value) for name, value in label._asdict().items()}
    arrays["format"] = np.array(f"{_FORMAT} {_VERSION}")
    write_npz_atomically(path, arrays)


def _read(path, nao: int) -> Label:
    arrays = read_npz(path, "qpt label file", ("format",) + Label._fields)
    if str(arrays["format"]) != f"{_FORMAT} {_VERSION}":
        raise ValueError(f"{path} is not a version-{_VERSION} qpt label file")
    shapes = dict(energy=(), fock=(nao, nao), density=(nao, nao), orbital_energies=(nao,), orbitals=(nao, nao),
                  converged=(), iterations=())
    for name, shape in shapes.items():
        if arrays[name].shape != shape or arrays[name].dtype.kind not in "fbiu":
            raise ValueError(f"{path} is not a valid qpt label file: {name!r} is {arrays[name].dtype}"
                             f"{list(arrays[name].shape)}, expected shape {list(shape)}")
    return Label(float(arrays["energy"]), arrays["fock"], arrays["density"], arrays["orbital_energies"],
                 arrays["orbitals"], bool(arrays["converged"]), int(arrays["iterations"]))
