"""Which molecule and conformer each row of each training step gets, when one model trains on many molecules.

The molecules are grouped into buckets (one padding layout each: qpt.data.padding), and a batch must come
from one bucket so that it has one shape. Step s draws its bucket at random with probability proportional
to the bucket's number of molecules (a fixed function of (seed, s)), and its rows are that bucket's next
draws. A bucket's draws run through its molecules in a fresh seeded permutation per epoch, so every
molecule is seen once per epoch of its bucket; draw d of a molecule-epoch e takes that molecule's conformer
e. Everything is a function of (seed, step), so a resumed run gets exactly the rows an uninterrupted one
would, and conformer indices of a molecule are dense (0, 1, 2, ...), which keeps its MD trajectories short.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

_CHUNK = 4096  # bucket choices are drawn in chunks with their own seeds, so a prefix never depends on the length


class Row(NamedTuple):
    molecule: int    # index into the schedule's molecule list
    conformer: int   # index into that molecule's geometry stream


class MoleculeSchedule:
    def __init__(self, buckets, batch_size: int, seed: int = 0):
        """buckets: for each bucket, the indices of its molecules (every molecule in exactly one bucket)."""
        self.buckets = tuple(tuple(int(m) for m in bucket) for bucket in buckets)
        if not self.buckets or any(not bucket for bucket in self.buckets):
            raise ValueError("MoleculeSchedule: every bucket needs at least one molecule")
        members = [m for bucket in self.buckets for m in bucket]
        if len(set(members)) != len(members):
            raise ValueError("MoleculeSchedule: a molecule is in more than one bucket")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"MoleculeSchedule: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size, self.seed = batch_size, int(seed)
        sizes = np.array([len(bucket) for bucket in self.buckets], dtype=np.float64)
        self._probabilities = sizes / sizes.sum()
        self._choices = np.zeros(0, dtype=np.int64)
        self._draws_before = np.zeros((0, len(self.buckets)), dtype=np.int64)  # per step: draws of each bucket

    def bucket(self, step: int) -> int:
        self._extend(step + 1)
        return int(self._choices[step])

    def rows(self, step: int) -> list:
        """The batch_size Rows of `step`, all from bucket(step)."""
        bucket = self.bucket(step)
        first = int(self._draws_before[step, bucket])
        return [self._draw(bucket, first + row) for row in range(self.batch_size)]

    def _draw(self, bucket: int, draw: int) -> Row:
        members = self.buckets[bucket]
        epoch, position = divmod(draw, len(members))
        order = np.random.default_rng([self.seed, bucket, epoch]).permutation(len(members))
        return Row(members[int(order[position])], epoch)

    def _extend(self, steps: int):
        if steps <= len(self._choices):
            return
        chunks = []
        for chunk in range(len(self._choices) // _CHUNK, -(-steps // _CHUNK)):
            rng = np.random.default_rng([self.seed, 1_000_003, chunk])
            chunks.append(rng.choice(len(self.buckets), size=_CHUNK, p=self._probabilities))
        start = len(self._choices) // _CHUNK * _CHUNK
        choices = np.concatenate([self._choices[:start]] + chunks)
        counts = np.zeros((len(choices), len(self.buckets)), dtype=np.int64)
        counts[np.arange(len(choices)), choices] = self.batch_size
        draws_before = np.cumsum(counts, axis=0) - counts
        self._choices, self._draws_before = choices, draws_before
