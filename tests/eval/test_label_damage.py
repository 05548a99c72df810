"""A damaged label cache entry is recomputed (issue 20, defect 8): before the fix a truncated label file broke
`qpt eval` for good, since the cache was trusted and never rewritten."""
import os

import numpy as np

from qpt.eval.labels import LabelCache
from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.data.samples import HELDOUT_STREAM, SampleBuilder


def test_truncated_label_is_recomputed_with_a_warning(tmp_path):
    molecule = Molecule.from_catalog("water")
    builder = SampleBuilder(molecule, "sto-3g", 0, TokenLayout.from_molecule(molecule, "sto-3g").ao_atoms, 0, 0.05,
                            stream=HELDOUT_STREAM)
    sample = builder.build(0)
    messages = []
    cache = LabelCache(tmp_path, "b3lyp5", log=messages.append)
    first = cache.label(builder, sample)
    path = cache.path(builder, sample)
    data = open(path, "rb").read()
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])
    again = cache.label(builder, sample)
    assert any("recomputing" in m and os.path.basename(path) in m for m in messages), messages
    assert again.energy == first.energy
    np.testing.assert_array_equal(again.fock, first.fock)
    assert cache.label(builder, sample).energy == first.energy  # the rewritten entry reads back
