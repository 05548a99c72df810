"""Molecule and System input that used to be accepted wrongly or checked too late (issue 20, defect 9)."""
import resource
import time

import numpy as np
import pytest

from qpt.system import Molecule, System


@pytest.mark.parametrize("text", ["1_0", "1_000.5", "0x10", "1e", "--1", "1.2.3", "١"])
def test_xyz_coordinates_must_be_plain_decimals(text):
    # Python's float() reads "1_0" as 10 (and Arabic-Indic digits as digits); an xyz file never means that.
    with pytest.raises(ValueError, match="xyz line"):
        Molecule.from_xyz(f"H 0 0 0\nH 0 0 {text}\n")


def test_decimal_forms_people_write_are_read():
    molecule = Molecule.from_xyz("H 0 0 0\nH +.74 0 -0.0E0\n")
    assert molecule.coordinates[1, 0] == pytest.approx(0.74 / 0.529177210903, rel=1e-9)


def test_string_coordinates_in_atom_lists_are_strict_too():
    with pytest.raises(ValueError, match="atom 1"):
        Molecule.from_atoms([("H", (0, 0, 0)), ("H", ("1_0", 0, 0))])


@pytest.mark.parametrize("coordinates", [np.array([[0, 0, 0], [0, 0, 1.4 + 1j]]),
                                         np.array([["0", "0", "0"], ["0", "0", "1.4"]]),
                                         [[0, 0, 0], [0, 0, 1.4 + 0.5j]]])
def test_complex_or_text_arrays_are_refused(coordinates):
    with pytest.raises(ValueError, match="real numbers|dtype"):
        Molecule(("H", "H"), coordinates)


def test_equal_molecules_hash_equally_with_signed_zeros():
    a = Molecule(("H", "H"), [[0.0, 0.0, 0.0], [0.0, 0.0, 1.4]])
    b = Molecule(("H", "H"), [[-0.0, 0.0, -0.0], [0.0, -0.0, 1.4]])
    assert a == b and hash(a) == hash(b)


def test_separation_check_is_not_quadratic_in_memory():
    # 15,000 atoms on a lattice: all pairwise distances would need 15000^2 * 8 B = 1.8 GB (5 GiB measured before).
    side = 25
    grid = np.stack(np.meshgrid(*(np.arange(side) * 2.0,) * 3, indexing="ij"), axis=-1).reshape(-1, 3)[:15000]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    molecule = Molecule(("H",) * len(grid), grid, charge=0, spin=0)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert molecule.n_atoms == 15000
    assert grown_mb < 300, grown_mb
    assert time.perf_counter() - start < 20


def test_close_pair_is_still_found_and_named():
    coordinates = np.array([[0.0, 0, 0], [5.0, 0, 0], [10.0, 0, 0], [5.2, 0, 0]])
    with pytest.raises(ValueError, match=r"atoms 1 \(H\) and 3 \(H\) are on top of each other"):
        Molecule(("H",) * 4, coordinates)


def test_more_occupied_orbitals_than_basis_functions_fails_at_build_time():
    h2 = Molecule.from_atoms([("H", (0, 0, 0)), ("H", (0, 0, 0.74))], charge=-100)
    with pytest.raises(ValueError, match="virtual orbital"):
        System.from_molecule(h2, basis="sto-3g", grid_level=0)
