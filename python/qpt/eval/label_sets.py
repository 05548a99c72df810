"""`qpt dataset`: builds a held-out label set (qpt.data.label_set) from independent thermal MD.

The geometries are frames of the DATASET_STREAM trajectories (qpt.data.thermal), which no training run
or run-held-out stream shares; each gets a tightly converged SCF (qpt.dft.run_scf). Resumable: every
finished geometry is written at once (atomically) to <set>.parts/, an interrupted run picks up where it
stopped, a complete set is only extended, and damaged files are recomputed; when all geometries are
there the set is written (atomically) and the parts removed.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field

from qpt import ops as kernel_ops
from qpt.data.label_set import LabelEntry, LabelSet, read_label_set, write_label_set
from qpt.data.streams import DATASET_STREAM
from qpt.data.thermal_settings import ThermalSettings
from qpt.dft.functionals import get_functional
from qpt.dft.scf import run_scf
from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.system.grid import check_grid_level
from qpt.system.molecule import check_basis
from qpt.train.config import DEFAULT_SIGMA_BOHR
from qpt.data.samples import GeometryStream, SampleBuilder, default_workers

# Tighter than run_scf's defaults (1e-10 Ha, 1e-7): labels are the reference of µHa-level metrics.
LABEL_ENERGY_TOLERANCE = 1e-11
LABEL_COMMUTATOR_TOLERANCE = 1e-8
LABEL_MAX_ITERATIONS = 200


@dataclass(frozen=True)
class LabelSetSpec:
    """Everything a label set's content depends on (its identity, stored as the file's metadata)."""

    molecule: Molecule
    basis: str = "def2-svp"
    xc: str = "b3lyp5"
    grid_level: int = 3
    seed: int = 0
    thermal: ThermalSettings = field(default_factory=ThermalSettings)

    def __post_init__(self):
        object.__setattr__(self, "molecule", Molecule.get(self.molecule))
        check_basis(self.basis, self.molecule.symbols)
        get_functional(self.xc)
        object.__setattr__(self, "grid_level", check_grid_level(self.grid_level))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"label set: seed must be an integer >= 0, got {self.seed!r}")

    def identity(self) -> dict:
        molecule = self.molecule
        return {"molecule": {"symbols": list(molecule.symbols), "equilibrium_bohr": molecule.coordinates.tolist(),
                             "charge": molecule.charge, "spin": molecule.spin},
                "basis": self.basis, "xc": self.xc, "grid_level": self.grid_level,
                "geometries": {"source": "thermal", "seed": self.seed, "stream": DATASET_STREAM,
                               **asdict(self.thermal)},
                "scf": {"energy_tolerance": LABEL_ENERGY_TOLERANCE,
                        "commutator_tolerance": LABEL_COMMUTATOR_TOLERANCE,
                        "max_iterations": LABEL_MAX_ITERATIONS}}


def _identity_of(metadata: dict) -> dict:
    return {name: metadata[name] for name in ("molecule", "basis", "xc", "grid_level", "geometries", "scf")
            if name in metadata}


def _differences(a: dict, b: dict) -> list:
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


def part_path(path: str, index: int) -> str:
    return os.path.join(path + ".parts", f"geometry-{index:06d}.npz")


def _read_part(path: str, index: int, identity: dict, log):
    """The finished entry `index` from a previous run, or None (missing, damaged or of another set)."""
    part = part_path(path, index)
    if not os.path.exists(part):
        return None
    try:
        stored = read_label_set(part)
    except ValueError as error:
        log(f"warning: {error}; recomputing geometry {index}")
        return None
    if _identity_of(stored.metadata) != identity or stored.metadata.get("index") != index or len(stored) != 1:
        log(f"warning: {part} belongs to another label set; recomputing geometry {index}")
        return None
    return stored.entry(0)


def build_label_set(spec: LabelSetSpec, n: int, path, *, ops=kernel_ops, workers=None, processes=True,
                    progress=True, log=print) -> LabelSet:
    """Makes `path` hold the first n geometries of `spec`'s set (reusing whatever is already on disk).
    MD and System builds run ahead in `workers` processes (threads with processes=False)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"label set: the number of geometries must be a positive integer, got {n!r}")
    path = os.fspath(path)
    identity = spec.identity()
    entries = {}
    if os.path.exists(path):
        try:
            current = read_label_set(path)
        except ValueError as error:
            log(f"warning: {error}; rebuilding it")
            current = None
        if current is not None:
            differences = _differences(_identity_of(current.metadata), identity)
            if differences:
                raise ValueError(f"{path} holds another label set (it differs in {differences}); "
                                 "choose another --out")
            if len(current) >= n:
                log(f"{path} is complete: {len(current)} geometries")
                return current
            entries = {i: current.entry(i) for i in range(len(current))}
    for index in range(len(entries), n):
        entry = _read_part(path, index, identity, log)
        if entry is not None:
            entries[index] = entry
    missing = [index for index in range(n) if index not in entries]
    layout = TokenLayout.from_molecule(spec.molecule, spec.basis)
    n_ao = len(layout.keys)
    metadata = {**identity, "n_ao": n_ao, "n_occ": spec.molecule.n_electrons // 2}
    if missing:
        log(f"{spec.molecule.formula} {spec.basis} {spec.xc} grid {spec.grid_level}: {n - len(missing)} of {n} "
            f"geometries on disk, computing {len(missing)} (parts in {path}.parts)")
        builder = SampleBuilder(spec.molecule, spec.basis, spec.grid_level, layout.ao_atoms, spec.seed, DEFAULT_SIGMA_BOHR,
                                DATASET_STREAM, spec.thermal, os.path.join(path + ".parts", "trajectories"))
        bar = _Bar(n, n - len(missing), enabled=progress)
        try:
            with GeometryStream(builder, missing, prefetch=2, workers=workers or default_workers(),
                                processes=processes) as stream:
                for sample in stream:
                    entries[sample.index] = _label(sample, spec, metadata, path, ops, log)
                    bar.advance()
        finally:
            bar.close()
    write_label_set(path, metadata, [entries[i] for i in range(n)])
    shutil.rmtree(path + ".parts", ignore_errors=True)
    log(f"wrote {path}: {n} geometries")
    return read_label_set(path)


def _label(sample, spec, metadata, path, ops, log) -> LabelEntry:
    result = run_scf(sample.system, spec.xc, ops=ops, energy_tolerance=LABEL_ENERGY_TOLERANCE,
                     commutator_tolerance=LABEL_COMMUTATOR_TOLERANCE, max_iterations=LABEL_MAX_ITERATIONS)
    if not result.converged:
        log(f"warning: the SCF of geometry {sample.index} did not converge in {result.iterations} iterations; "
            "its label is the last iterate (flagged in `converged`)")
    entry = LabelEntry(sample.molecule.coordinates, result.fock, sample.system.overlap, result.orbital_energies,
                       result.orbitals, float(result.energy), bool(result.converged), int(result.iterations))
    write_label_set(part_path(path, sample.index), {**metadata, "index": sample.index}, [entry])
    return entry


class _Bar:
    """A tqdm bar when tqdm is installed, else a line every 10 s."""

    def __init__(self, total, done, *, enabled):
        self.total, self.done, self.enabled = total, done, enabled
        self._started, self._last, self._bar = time.monotonic(), 0.0, None
        self._done_at_start = done
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, initial=done, unit="geometry", dynamic_ncols=True, file=sys.stderr)

    def advance(self):
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last >= 10.0 or self.done == self.total:
            self._last = now
            rate = (self.done - self._done_at_start) / max(now - self._started, 1e-9)
            print(f"{self.done}/{self.total} geometries ({rate * 60:.1f} per minute)", file=sys.stderr, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
