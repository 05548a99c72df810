"""The many-molecule schedule: one bucket per step, every molecule once per epoch of its bucket, dense
conformer indices, and the same rows whatever was asked before (resume)."""
import collections

import pytest

from qpt.data.molecule_schedule import MoleculeSchedule, Row


def test_rows_come_from_one_bucket_and_cover_each_molecule_once_per_epoch():
    schedule = MoleculeSchedule([(0, 1, 2), (3,), (4, 5, 6, 7, 8, 9)], batch_size=2, seed=4)
    seen = collections.defaultdict(list)
    buckets = collections.Counter()
    for step in range(600):
        rows = schedule.rows(step)
        bucket = schedule.bucket(step)
        buckets[bucket] += 1
        assert len(rows) == 2 and all(row.molecule in schedule.buckets[bucket] for row in rows)
        for row in rows:
            seen[row.molecule].append(row.conformer)
    for molecule, conformers in seen.items():
        assert conformers == sorted(conformers)  # a molecule's conformers in order ...
        assert conformers == list(range(len(conformers)))  # ... each once, none skipped
    # buckets drawn in proportion to their molecules (3 : 1 : 6 of 600 steps, loosely)
    assert 120 < buckets[0] < 240 and 25 < buckets[1] < 95 and 290 < buckets[2] < 430


def test_a_resumed_schedule_gives_the_same_rows():
    first = MoleculeSchedule([(0, 1), (2, 3, 4)], batch_size=3, seed=9)
    expected = [first.rows(step) for step in range(5000)]
    resumed = MoleculeSchedule([(0, 1), (2, 3, 4)], batch_size=3, seed=9)
    assert resumed.rows(4999) == expected[4999] and resumed.rows(17) == expected[17]
    other_seed = MoleculeSchedule([(0, 1), (2, 3, 4)], batch_size=3, seed=10)
    assert [other_seed.rows(step) for step in range(20)] != expected[:20]


def test_a_small_bucket_repeats_molecules_with_new_conformers():
    schedule = MoleculeSchedule([(7,)], batch_size=3)
    assert schedule.rows(0) == [Row(7, 0), Row(7, 1), Row(7, 2)]
    assert schedule.rows(1) == [Row(7, 3), Row(7, 4), Row(7, 5)]


@pytest.mark.parametrize("buckets, batch_size, problem", [([], 1, "at least one"), ([(0,), ()], 1, "at least one"),
                                                          ([(0, 1), (1,)], 1, "more than one"), ([(0,)], 0, "batch_size")])
def test_bad_schedules_are_refused(buckets, batch_size, problem):
    with pytest.raises(ValueError, match=problem):
        MoleculeSchedule(buckets, batch_size)
