"""On-the-fly training data: a new thermal-like geometry every step, its System built in the background.

Geometry `index` of stream `stream` is the equilibrium geometry plus Gaussian displacements drawn from
numpy's Generator seeded with (seed, stream, index): it depends on nothing else, so a resumed run sees
exactly the geometries an uninterrupted one would, and evaluation (HELDOUT_STREAM) never sees a
training geometry. Building a System (integrals, grid, minao guess) is PySCF work on the host, much of it
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

import numpy as np

from qpt.model import TokenLayout
from qpt.system import Molecule, System

TRAINING_STREAM = 0
HELDOUT_STREAM = 1


def sample_geometry(molecule: Molecule, seed: int, index: int, sigma_bohr: float,
                    stream: int = TRAINING_STREAM) -> Molecule:
    """The equilibrium `molecule` with every coordinate displaced by N(0, sigma_bohr^2), deterministically."""
    if min(seed, index, stream) < 0:
        raise ValueError(f"seed, index and stream must be >= 0, got {seed}, {index}, {stream}")
    return molecule.displaced(np.random.default_rng([seed, stream, index]), sigma_bohr)


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
    """Turns geometry indices of one molecule/basis/grid into Samples."""

    molecule: Molecule
    basis: str
    grid_level: int
    layout: TokenLayout
    seed: int
    sigma_bohr: float
    stream: int = TRAINING_STREAM
    jk: str = "auto"          # the Systems' two-electron engine (qpt.system.two_electron)
    auxbasis: str | None = None

    def geometry(self, index: int) -> Molecule:
        return sample_geometry(self.molecule, self.seed, index, self.sigma_bohr, self.stream)

    def build(self, index: int) -> Sample:
        start = time.perf_counter()
        molecule = self.geometry(index)
        system = System.from_molecule(molecule, basis=self.basis, grid_level=self.grid_level, jk=self.jk,
                                      auxbasis=self.auxbasis)
        return Sample(index, molecule, system, self.layout.positions(molecule), time.perf_counter() - start)


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
