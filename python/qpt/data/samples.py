"""On-the-fly training data: a new geometry every step, its System built in the background.

Geometry `index` of stream `stream` comes from a deterministic geometry source (qpt.data): a frame of
500 K molecular dynamics (qpt.data.thermal, the default) or Gaussian displacements of the equilibrium
geometry (qpt.data.gaussian). It depends on (seed, stream, index) and the source's settings alone, so a
resumed run sees exactly the geometries an uninterrupted one would, and evaluation (HELDOUT_STREAM)
never sees a training geometry (thermal: other trajectories; Gaussian: other draws). Building a System (integrals, grid, minao guess) is PySCF work on the host, much of it
under the GIL; worker processes (spawned, so no JAX state is forked) do it for the next steps while the
trainer computes the current one. `default_workers` sizes the pool to the machine.
"""
from __future__ import annotations

import collections
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

from qpt.data.gaussian import GaussianGeometries
from qpt.data.streams import HELDOUT_STREAM, TRAINING_STREAM
from qpt.data.thermal import ThermalGeometries
from qpt.data.thermal_settings import ThermalSettings
from qpt.system import Molecule, System
from qpt.system.principal_axes import ao_positions

__all__ = ["HELDOUT_STREAM", "TRAINING_STREAM", "GeometryStream", "Sample", "SampleBuilder", "default_workers",
           "sample_geometry"]
TRAJECTORY_DIRECTORY = "trajectories"  # thermal MD frames, inside a run directory


def sample_geometry(molecule: Molecule, seed: int, index: int, sigma_bohr: float,
                    stream: int = TRAINING_STREAM) -> Molecule:
    """The equilibrium `molecule` with every coordinate displaced by N(0, sigma_bohr^2), deterministically
    (a draw that puts atoms on top of each other is redrawn: qpt.data.gaussian)."""
    if min(seed, index, stream) < 0:
        raise ValueError(f"seed, index and stream must be >= 0, got {seed}, {index}, {stream}")
    return GaussianGeometries(molecule, seed, stream, sigma_bohr).geometry(index)


@dataclass(frozen=True)
class Sample:
    """One geometry, ready for the training step."""

    index: int
    molecule: Molecule
    system: System
    positions: np.ndarray     # [N, 3] AO positions in the principal-axis frame (model input)
    build_seconds: float      # wall time of the System build in its worker


@dataclass(frozen=True)
class SampleBuilder:
    """Turns geometry indices of one molecule/basis/grid into Samples. Thermal geometries (MD frames cached
    in `cache_dir`) when `thermal` is given, else Gaussian displacements with std sigma_bohr."""

    molecule: Molecule
    basis: str
    grid_level: int
    ao_atoms: tuple   # the atom of each AO (the model's TokenLayout.ao_atoms): where its token sits
    seed: int
    sigma_bohr: float
    stream: int = TRAINING_STREAM
    thermal: Optional[ThermalSettings] = None
    cache_dir: Optional[str] = None
    jk: str = "auto"          # the Systems' two-electron engine (qpt.system.two_electron)
    auxbasis: str | None = None

    def __post_init__(self):
        try:
            ao_atoms = tuple(int(atom) for atom in self.ao_atoms)
        except TypeError:
            raise TypeError(f"SampleBuilder: ao_atoms must be the atom index of each AO (TokenLayout.ao_atoms), "
                            f"got {type(self.ao_atoms).__name__}") from None
        object.__setattr__(self, "ao_atoms", ao_atoms)
        if self.thermal is not None and self.cache_dir is None:
            raise ValueError("SampleBuilder: thermal geometries need a cache_dir for their MD frames")

    @classmethod
    def for_run(cls, config, ao_atoms, run_dir, stream: int = TRAINING_STREAM) -> "SampleBuilder":
        """The builder of stream `stream` of a training run (a TrainConfig) saved in run_dir."""
        return cls(config.molecule, config.basis, config.grid_level, ao_atoms, config.seed, config.sigma_bohr,
                   stream, config.thermal_settings, os.path.join(os.fspath(run_dir), TRAJECTORY_DIRECTORY),
                   jk=config.jk, auxbasis=config.auxbasis)

    def geometry(self, index: int) -> Molecule:
        if self.thermal is None:
            return sample_geometry(self.molecule, self.seed, index, self.sigma_bohr, self.stream)
        return ThermalGeometries(self.molecule, self.seed, self.stream, self.thermal, self.cache_dir).geometry(index)

    def build(self, index: int) -> Sample:
        start = time.perf_counter()
        molecule = self.geometry(index)
        system = System.from_molecule(molecule, basis=self.basis, grid_level=self.grid_level, jk=self.jk,
                                      auxbasis=self.auxbasis)
        return Sample(index, molecule, system, ao_positions(molecule, self.ao_atoms), time.perf_counter() - start)


def _exit_with_parent(parent_pid: int):
    """Worker initializer: a worker whose trainer died (killed, or aborted by jax.distributed) exits too,
    instead of lingering as an orphan."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="qpt-parent-watch").start()


def default_workers(local_devices: int = 1) -> int:
    """Worker processes for System builds: the CPU cores this process may use, less one per local
    device for the trainer's own host work, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - local_devices)


class GeometryStream:
    """The Samples of `indices` (any iterable of geometry indices, in order), `prefetch` of them built
    ahead by `workers` worker processes (threads with processes=False). Use as an iterator and close()
    it (or use `with`) to stop the workers. `wait_seconds` sums the time __next__ spent blocked on a build."""

    def __init__(self, builder: SampleBuilder, indices, *, prefetch: int = 2, workers: int = 1,
                 processes: bool = True):
        if prefetch < 1 or workers < 1:
            raise ValueError(f"prefetch and workers must be >= 1, got {prefetch} and {workers}")
        self._builder = builder
        self._indices = iter(indices)
        if processes:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_exit_with_parent, initargs=(os.getpid(),))
        else:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="qpt-geometry")
        self._pending = collections.deque()
        self.wait_seconds = 0.0
        for _ in range(prefetch):
            self._submit()

    def _submit(self):
        index = next(self._indices, None)
        if index is not None:
            self._pending.append(self._pool.submit(self._builder.build, index))

    def __iter__(self):
        return self

    def __next__(self) -> Sample:
        if not self._pending:
            raise StopIteration
        future = self._pending.popleft()
        self._submit()
        started = time.perf_counter()
        try:
            return future.result()  # a worker's exception surfaces here, in the trainer's thread
        finally:
            self.wait_seconds += time.perf_counter() - started

    def close(self):
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
