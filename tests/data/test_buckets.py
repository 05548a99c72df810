"""Bucket planning for many molecules: the probed shape is the built System's, buckets are contiguous in
size, every molecule fits its bucket's layout, and the engine follows the padded size."""
import pytest

from qpt.data.buckets import plan_buckets, probe_shape
from qpt.data.padding import SystemShape, pad_system
from qpt.system import Molecule, System

NAMES = ("h2", "water", "methane", "ethanol", "malondialdehyde", "benzene")


@pytest.mark.parametrize("jk", ["packed", "df"])
def test_probed_shape_is_the_built_systems(jk):
    molecule = Molecule.get("water")
    system = System.from_molecule(molecule, basis="def2-svp", grid_level=1, jk=jk)
    assert probe_shape(molecule, "def2-svp", 1, density_fitted=jk == "df") == SystemShape.of(system)


def test_buckets_are_contiguous_in_size_and_hold_their_molecules():
    molecules = [Molecule.get(name) for name in NAMES]
    shapes = [probe_shape(m, "sto-3g", 0, density_fitted=True) for m in molecules]
    buckets = plan_buckets(shapes, max_buckets=3)
    assert len(buckets) == 3 and sorted(i for b in buckets for i in b.members) == list(range(len(NAMES)))
    largest = [max(shapes[i].nao for i in b.members) for b in buckets]
    smallest = [min(shapes[i].nao for i in b.members) for b in buckets]
    assert all(high <= low for high, low in zip(largest, smallest[1:]))
    for bucket in buckets:
        assert bucket.engine == "packed"  # sto-3g: small enough for the exact ERIs at every padded size
        for i in bucket.members:
            assert bucket.layout.problem(shapes[i]._replace(naux=None)) is None
    system = System.from_molecule(molecules[0], basis="sto-3g", grid_level=0, jk="packed")
    pad_system(system, next(b.layout for b in buckets if 0 in b.members))  # the probe's promise holds


def test_auto_picks_density_fitting_for_a_large_padded_bucket():
    molecules = [Molecule.get(name) for name in ("benzene", "malondialdehyde")]
    shapes = [probe_shape(m, "def2-svp", 0, density_fitted=True) for m in molecules]
    (bucket,) = plan_buckets(shapes, max_buckets=1)
    assert bucket.engine == "df" and bucket.layout.naux == max(s.naux for s in shapes)
    with pytest.raises(ValueError, match="naux"):
        plan_buckets([s._replace(naux=None) for s in shapes], max_buckets=1)
    assert plan_buckets(shapes, max_buckets=1, jk="packed")[0].layout.naux is None


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="no molecules"):
        plan_buckets([])
    with pytest.raises(ValueError, match="max_buckets"):
        plan_buckets([probe_shape(Molecule.get("h2"), "sto-3g", 0)], max_buckets=0)
