"""Gaussian geometries: a draw that puts atoms on top of each other is redrawn deterministically
(issue 20, defect 3: `qpt train --sigma 0.5 --basis sto-3g --grid-level 0` died at step 141, and so did
every --resume, because training geometry 141 of seed 0 was such a draw)."""
import numpy as np
import pytest

from qpt.data.gaussian import GaussianGeometries
from qpt.model import TokenLayout
from qpt.system import Molecule
from qpt.system.molecule import MIN_ATOM_SEPARATION_BOHR
from qpt.data.samples import GeometryStream, SampleBuilder, sample_geometry

WATER = Molecule.from_catalog("water")
BAD_INDEX = 141  # seed 0, training stream 0, sigma 0.5 bohr


def _min_distance(molecule):
    d = np.linalg.norm(molecule.coordinates[:, None] - molecule.coordinates[None], axis=-1)
    return d[np.triu_indices(len(d), 1)].min()


def test_the_bad_draw_is_redrawn_deterministically():
    with pytest.raises(ValueError, match="on top of each other"):  # the plain draw (what qpt used to take)
        WATER.displaced(np.random.default_rng([0, 0, BAD_INDEX]), 0.5)
    geometry = sample_geometry(WATER, 0, BAD_INDEX, 0.5)
    assert _min_distance(geometry) >= MIN_ATOM_SEPARATION_BOHR
    assert geometry == sample_geometry(WATER, 0, BAD_INDEX, 0.5)  # a resumed run sees the same one
    assert geometry == GaussianGeometries(WATER, 0, 0, 0.5).geometry(BAD_INDEX)


def test_good_draws_are_unchanged():
    """Existing runs (checkpoints) keep their geometries: only rejected draws are replaced."""
    for index in (0, 140, 142):
        assert sample_geometry(WATER, 0, index, 0.5) == WATER.displaced(np.random.default_rng([0, 0, index]), 0.5)


def test_the_stream_builds_the_bad_index():
    layout = TokenLayout.from_molecule(WATER, "sto-3g")
    builder = SampleBuilder(WATER, "sto-3g", 0, layout.ao_atoms, seed=0, sigma_bohr=0.5)
    with GeometryStream(builder, [BAD_INDEX], workers=1, processes=False) as stream:
        sample = next(stream)
    assert sample.index == BAD_INDEX and sample.molecule == sample_geometry(WATER, 0, BAD_INDEX, 0.5)


def test_a_hopeless_distribution_is_a_clear_error():
    """A chain of 40 H atoms just above the minimum separation: each draw keeps all 39 neighbours apart
    with probability about 2^-39, so every one of the allowed attempts collides."""
    spacing = MIN_ATOM_SEPARATION_BOHR + 1e-4
    chain = Molecule(("H",) * 40, [(spacing * i, 0.0, 0.0) for i in range(40)])
    with pytest.raises(ValueError, match="use a smaller sigma"):
        GaussianGeometries(chain, 0, 0, 0.01).geometry(0)
