"""Thermal geometries: frames of Langevin molecular dynamics on GFN2-xTB (ASE + tblite), as a
deterministic stream index -> geometry.

Geometry `index` of a stream is frame index // TRAJECTORIES of trajectory index % TRAJECTORIES (consecutive
indices come from different trajectories, so worker processes extend different trajectories in
parallel and a batch holds independent geometries). Trajectory t of stream s with seed k starts at the
equilibrium geometry with Maxwell-Boltzmann velocities, is equilibrated for `equilibration_fs`, and gives a
frame every `spacing_fs` after that. Every MD segment between two frames draws its thermostat noise (and
frame 0 its velocities) from numpy's Generator seeded with (seed, stream, t, frame); a chunk of frames
(below) is computed in one go from the stored positions and momenta of the previous chunk's last frame
with a fresh calculator, so a frame depends only on (molecule, settings, seed, stream, t, frame), not on
which process computed it, when, or whether the cache was deleted in between. Streams are disjoint
trajectories: the training stream and held-out streams never share a frame.

Frames are cached on disk (`cache_dir`) in chunks of FRAMES_PER_CHUNK, each an npz written atomically
under a name that hashes everything a frame depends on; a per-trajectory file lock keeps two workers
from running the same MD. A damaged chunk file is recomputed (the result is the same). A process keeps
the chunks it read in memory.

The settings and their defaults are in qpt.data.thermal_settings.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import numbers
import os
import re
from dataclasses import asdict, dataclass

import numpy as np

from qpt.data.thermal_settings import ThermalSettings
from qpt.npz_file import write_npz_atomically
from qpt.system import Molecule

TRAJECTORIES = 8                # interleaved trajectories per stream
FRAMES_PER_CHUNK = 4            # frames per cache file
_FORMAT = "qpt.trajectory-chunk 1"
_ANGSTROM_PER_BOHR = 0.529177210903  # CODATA 2018, as PySCF's BOHR


@dataclass(frozen=True)
class ThermalGeometries:
    """Geometry source: `geometry(index)` is frame index // TRAJECTORIES of trajectory index % TRAJECTORIES
    of stream `stream` (module docstring). Picklable, so worker processes can use it."""

    molecule: Molecule
    seed: int
    stream: int
    settings: ThermalSettings
    cache_dir: str

    def __post_init__(self):
        for name in ("seed", "stream"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"thermal geometries: {name} must be an integer >= 0, got {value!r}")
        object.__setattr__(self, "cache_dir", os.fspath(self.cache_dir))

    def geometry(self, index: int) -> Molecule:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
            raise ValueError(f"geometry index must be an integer >= 0, got {index!r}")
        trajectory, frame = index % TRAJECTORIES, index // TRAJECTORIES
        chunk = self._chunk(trajectory, frame // FRAMES_PER_CHUNK)
        positions = chunk["positions"][frame % FRAMES_PER_CHUNK]
        return Molecule(self.molecule.symbols, positions, self.molecule.charge, self.molecule.spin)

    # ---- the cache ---------------------------------------------------------------------------

    def _identity(self, trajectory: int) -> str:
        molecule = self.molecule
        return json.dumps({"format": _FORMAT, "symbols": list(molecule.symbols),
                           "coordinates": molecule.coordinates.tolist(), "charge": molecule.charge,
                           "spin": molecule.spin, "seed": self.seed, "stream": self.stream,
                           "trajectory": trajectory, "settings": asdict(self.settings),
                           "frames_per_chunk": FRAMES_PER_CHUNK, "trajectories": TRAJECTORIES})

    def _prefix(self, trajectory: int) -> str:
        digest = hashlib.sha256(self._identity(trajectory).encode()).hexdigest()[:16]
        readable = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{self.molecule.formula}-seed{self.seed}-stream{self.stream}")
        return os.path.join(self.cache_dir, f"{readable}-traj{trajectory}-{digest}")

    def _chunk_path(self, trajectory: int, chunk: int) -> str:
        return f"{self._prefix(trajectory)}-chunk{chunk:05d}.npz"

    def _chunk(self, trajectory: int, chunk: int) -> dict:
        path = self._chunk_path(trajectory, chunk)
        arrays = _read_chunk_if_valid(path, self.molecule.n_atoms)
        if arrays is not None:
            return arrays
        os.makedirs(self.cache_dir, exist_ok=True)
        with open(self._prefix(trajectory) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be running this trajectory's MD
            first_missing = chunk
            while first_missing > 0 and _read_chunk_if_valid(self._chunk_path(trajectory, first_missing - 1),
                                                             self.molecule.n_atoms) is None:
                first_missing -= 1
            for missing in range(first_missing, chunk + 1):
                if _read_chunk_if_valid(self._chunk_path(trajectory, missing), self.molecule.n_atoms) is None:
                    self._run_chunk(trajectory, missing)
        return _read_chunk(path, self.molecule.n_atoms)

    def _run_chunk(self, trajectory: int, chunk: int):
        if chunk == 0:
            state = None
        else:
            previous = _read_chunk(self._chunk_path(trajectory, chunk - 1), self.molecule.n_atoms)
            state = (previous["positions"][-1], previous["last_momenta"])
        frames, momenta = run_frames(self.molecule, self.settings, (self.seed, self.stream, trajectory),
                                     chunk * FRAMES_PER_CHUNK, FRAMES_PER_CHUNK, state)
        write_npz_atomically(self._chunk_path(trajectory, chunk),
                             {"format": np.array(_FORMAT), "identity": np.array(self._identity(trajectory)),
                              "positions": frames, "last_momenta": momenta})


def _read_chunk_if_valid(path: str, n_atoms: int):
    """The chunk's arrays, or None when the file is missing or damaged (then it is to be recomputed)."""
    if not os.path.exists(path):
        return None
    try:
        return _read_chunk(path, n_atoms)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4 * TRAJECTORIES)
def _read_chunk(path: str, n_atoms: int) -> dict:
    try:
        with np.load(path, allow_pickle=False) as file:
            if str(file["format"]) != _FORMAT:
                raise ValueError("not a trajectory chunk of this version")
            arrays = {"positions": np.array(file["positions"], dtype=np.float64),
                      "last_momenta": np.array(file["last_momenta"], dtype=np.float64)}
    except Exception as error:
        raise ValueError(f"trajectory cache file {path} is unreadable ({error})") from error
    if (arrays["positions"].shape != (FRAMES_PER_CHUNK, n_atoms, 3) or arrays["last_momenta"].shape != (n_atoms, 3)
            or not all(np.all(np.isfinite(a)) for a in arrays.values())):
        raise ValueError(f"trajectory cache file {path} has wrong shapes or non-finite values")
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


def run_frames(molecule: Molecule, settings: ThermalSettings, key: tuple, first_frame: int, n_frames: int,
               state=None):
    """Frames first_frame ... first_frame + n_frames - 1 of the trajectory `key` (seed, stream, trajectory):
    positions [n_frames, A, 3] in bohr and the momenta of the last frame (ASE units). `state`: (positions
    in bohr, momenta) of frame first_frame - 1; None with first_frame 0 (start at equilibrium)."""
    from ase import Atoms, units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta
    from tblite.ase import TBLite
    from threadpoolctl import threadpool_limits

    if (state is None) != (first_frame == 0):
        raise ValueError("run_frames: a state is needed exactly when the first frame is not frame 0")
    # tblite's OpenMP threads make its forces differ in the last bits from run to run (and, oversubscribed by
    # the trainer's own threads, cost ~10x): one thread keeps a trajectory bitwise reproducible.
    with threadpool_limits(1, user_api="openmp"):
        atoms = Atoms(molecule.symbols, positions=molecule.coordinates * _ANGSTROM_PER_BOHR)
        atoms.calc = TBLite(method="GFN2-xTB", charge=molecule.charge, multiplicity=molecule.spin + 1, verbosity=0)
        if state is None:
            thermalize_momenta(atoms, settings.temperature_k,
                               rng=np.random.default_rng([*key, first_frame, 0]))
        else:
            atoms.set_positions(np.asarray(state[0]) * _ANGSTROM_PER_BOHR)
            atoms.set_momenta(np.asarray(state[1]))
        frames = np.empty((n_frames, molecule.n_atoms, 3))
        for offset in range(n_frames):
            frame = first_frame + offset
            dynamics = Langevin(atoms, settings.timestep_fs * units.fs, temperature_K=settings.temperature_k,
                                friction=settings.friction_per_fs / units.fs, fixcm=False,
                                rng=np.random.default_rng([*key, frame, 1]))
            dynamics.run(settings.steps_per_frame + (settings.equilibration_steps if frame == 0 else 0))
            frames[offset] = atoms.get_positions() / _ANGSTROM_PER_BOHR
        return frames, atoms.get_momenta()
