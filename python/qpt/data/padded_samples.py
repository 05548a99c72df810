"""Samples of many molecules, each padded to its bucket's layout in the worker that builds it.

A PaddedSampleBuilder turns a (molecule, conformer) Row of a MoleculeSchedule into a PaddedSample: the
conformer's geometry from that molecule's own SampleBuilder (its thermal or Gaussian stream), its System
built with the bucket's J/K engine and padded (qpt.data.padding), and the token ids, AO positions and token
mask the network reads, all in the padded AO order. Padding happens in the worker processes with the System
build, so the trainer only stacks arrays of one shape.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from qpt.data.molecule_schedule import Row
from qpt.data.padding import PaddingLayout, pad_system
from qpt.data.samples import SampleBuilder
from qpt.system import Molecule, System


@dataclass(frozen=True)
class PaddedSample:
    row: Row
    bucket: int
    molecule: Molecule       # the conformer's geometry
    system: System           # padded to the bucket's layout
    token_ids: np.ndarray    # [N] int32, ghosts 0 (masked)
    positions: np.ndarray    # [N, 3], ghosts at 0
    token_mask: np.ndarray   # [N] bool, True on the molecule's AOs
    ao_index: np.ndarray     # [n]: where the molecule's AOs sit in the padded order
    build_seconds: float


@dataclass(frozen=True)
class PaddedSampleBuilder:
    builders: tuple    # one SampleBuilder per molecule (its geometry stream, basis, grid, engine)
    token_ids: tuple   # per molecule: [n] int32 ids in the model's vocabulary
    buckets: tuple     # per molecule: its bucket's index
    layouts: tuple     # per bucket: its PaddingLayout

    def __post_init__(self):
        if not len(self.builders) == len(self.token_ids) == len(self.buckets):
            raise ValueError("PaddedSampleBuilder: one builder, token id array and bucket per molecule")
        if not all(isinstance(layout, PaddingLayout) for layout in self.layouts):
            raise TypeError("PaddedSampleBuilder: layouts must be PaddingLayouts")
        for builder, ids in zip(self.builders, self.token_ids):
            if not isinstance(builder, SampleBuilder) or len(ids) != len(builder.ao_atoms):
                raise ValueError("PaddedSampleBuilder: each molecule needs a SampleBuilder and one token id per AO")

    def build(self, row: Row) -> PaddedSample:
        start = time.perf_counter()
        row = Row(*row)
        sample = self.builders[row.molecule].build(row.conformer)
        bucket = self.buckets[row.molecule]
        padded = pad_system(sample.system, self.layouts[bucket])
        return PaddedSample(row, bucket, sample.molecule, padded.system,
                            padded.scatter_rows(np.asarray(self.token_ids[row.molecule], np.int32)),
                            padded.scatter_rows(sample.positions), padded.token_mask(), padded.ao_index,
                            time.perf_counter() - start)
