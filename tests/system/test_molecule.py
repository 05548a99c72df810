import dataclasses
import pathlib

import numpy as np
import pytest
from pyscf import gto
from pyscf.data import elements, radii

from qpt.system import CATALOG_NAMES, Molecule
from qpt.system.molecule import MIN_ATOM_SEPARATION_BOHR

BOHR_PER_ANGSTROM = 1 / 0.52917721092

WATER_XYZ = """3
water, Angstrom
O   0.000000   0.000000   0.117300
H   0.000000   0.757200  -0.469200
H   0.000000  -0.757200  -0.469200
"""

# Molecular formulas written down independently of the catalog's coordinates.
EXPECTED_FORMULAS = {
    "h2": {"H": 2}, "n2": {"N": 2}, "methane": {"C": 1, "H": 4}, "water": {"O": 1, "H": 2},
    "ethanol": {"C": 2, "H": 6, "O": 1}, "malondialdehyde": {"C": 3, "H": 4, "O": 2},
    "uracil": {"C": 4, "H": 4, "N": 2, "O": 2}, "benzene": {"C": 6, "H": 6},
    "aspirin": {"C": 9, "H": 8, "O": 4},
}

# How many covalent bonds each element may form in these closed-shell organic molecules.
ALLOWED_VALENCE = {"H": {1}, "C": {3, 4}, "N": {1, 2, 3}, "O": {1, 2}}


def test_catalog_has_the_required_molecules():
    assert set(EXPECTED_FORMULAS) <= set(CATALOG_NAMES)


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMULAS))
def test_catalog_formula_and_pyscf_electron_count(name):
    molecule = Molecule.from_catalog(name)
    counts = {s: molecule.symbols.count(s) for s in set(molecule.symbols)}
    assert counts == EXPECTED_FORMULAS[name]
    expected_electrons = sum(elements.charge(s) * n for s, n in EXPECTED_FORMULAS[name].items())
    mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(molecule.symbols, molecule.coordinates)],
                unit="Bohr", basis="sto-3g", verbose=0)
    assert molecule.n_electrons == mol.nelectron == expected_electrons


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMULAS))
def test_catalog_bonds_are_chemically_sensible(name):
    molecule = Molecule.from_catalog(name)
    xyz = molecule.coordinates
    covalent = np.array([radii.COVALENT[elements.charge(s)] for s in molecule.symbols])
    ratio = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1) / (covalent[:, None] + covalent[None])
    np.fill_diagonal(ratio, np.inf)
    bonded = ratio < 1.25
    # Bonded pairs are neither squeezed nor stretched relative to the covalent radii sum.
    assert np.all(ratio[bonded] > 0.75), ratio[bonded].min()
    for i, symbol in enumerate(molecule.symbols):
        assert bonded[i].sum() in ALLOWED_VALENCE[symbol], (i, symbol, bonded[i].sum())
    # One connected molecule: every atom reachable from atom 0 through bonds.
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in np.nonzero(bonded[i])[0]:
            if int(j) not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    assert len(reached) == molecule.n_atoms


@pytest.mark.parametrize("spelling", ["Water", " WATER ", "water"])
def test_catalog_names_are_case_insensitive(spelling):
    assert Molecule.from_catalog(spelling) == Molecule.from_catalog("water")


def test_unknown_catalog_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown molecule 'caffeine'.*aspirin.*water"):
        Molecule.from_catalog("caffeine")


def test_from_xyz_converts_angstrom_to_bohr_like_pyscf():
    molecule = Molecule.from_xyz(WATER_XYZ)
    mol = gto.M(atom="\n".join(WATER_XYZ.splitlines()[2:]), unit="Angstrom", basis="sto-3g", verbose=0)
    assert molecule.symbols == ("O", "H", "H")
    assert molecule.coordinates.dtype == np.float64
    np.testing.assert_allclose(molecule.coordinates, mol.atom_coords(), rtol=0, atol=1e-12)
    assert molecule.n_electrons == 10


def test_from_xyz_accepts_bare_lines_files_and_paths(tmp_path):
    reference = Molecule.from_xyz(WATER_XYZ)
    assert Molecule.from_xyz("\n".join(WATER_XYZ.splitlines()[2:])) == reference
    path = tmp_path / "water.xyz"
    path.write_text(WATER_XYZ)
    assert Molecule.from_xyz(path) == reference
    assert Molecule.from_xyz(str(path)) == reference
    assert Molecule.get(str(path)) == reference


def test_from_atoms_units():
    in_angstrom = Molecule.from_atoms([("H", (0, 0, 0)), ("H", (0.74, 0, 0))])
    in_bohr = Molecule.from_atoms([("h", (0, 0, 0)), ("H", (0.74 * BOHR_PER_ANGSTROM, 0, 0))], unit="Bohr")
    np.testing.assert_allclose(in_angstrom.coordinates, in_bohr.coordinates, rtol=0, atol=1e-14)
    assert in_bohr.symbols == ("H", "H")


def test_get_dispatches_on_what_it_is_given():
    water = Molecule.from_catalog("water")
    assert Molecule.get("Water") == water
    assert Molecule.get(water) is water
    assert Molecule.get(water.to_xyz()).symbols == water.symbols
    assert Molecule.get("H 0 0 0", spin=1).n_electrons == 1
    with pytest.raises(ValueError, match="unknown molecule 'no-such-thing'.*water"):
        Molecule.get("no-such-thing")


def test_to_xyz_round_trips():
    aspirin = Molecule.from_catalog("aspirin")
    again = Molecule.from_xyz(aspirin.to_xyz("aspirin"))
    assert again.symbols == aspirin.symbols
    np.testing.assert_allclose(again.coordinates, aspirin.coordinates, rtol=0, atol=1e-10)


@pytest.mark.parametrize("spherical", [True, False])
def test_to_pyscf(spherical):
    molecule = Molecule.from_catalog("water")
    mol = molecule.to_pyscf("6-31g*", spherical=spherical)
    np.testing.assert_array_equal(mol.atom_coords(), molecule.coordinates)
    assert mol.cart == (not spherical)
    assert mol.nao == (18 if spherical else 19)  # one d shell on O: 5 spherical vs 6 cartesian functions
    assert (mol.charge, mol.spin, mol.nelectron) == (0, 0, 10)


def test_charge_and_spin_reach_pyscf():
    mol = Molecule.from_catalog("water", charge=1, spin=1).to_pyscf("sto-3g")
    assert (mol.charge, mol.spin, mol.nelectron) == (1, 1, 9)


def test_displaced_is_random_gaussian_and_reproducible():
    aspirin = Molecule.from_catalog("aspirin")
    a = aspirin.displaced(np.random.default_rng(0), 0.05)
    b = aspirin.displaced(np.random.default_rng(0), 0.05)
    c = aspirin.displaced(np.random.default_rng(1), 0.05)
    assert a == b and a != c and a.symbols == aspirin.symbols
    delta = a.coordinates - aspirin.coordinates
    assert 0.03 < delta.std() < 0.07 and abs(delta.mean()) < 0.03
    assert aspirin.displaced(7, 0.0) == aspirin
    with pytest.raises(ValueError, match="sigma_bohr"):
        aspirin.displaced(0, -0.1)


def test_molecule_is_immutable_and_hashable():
    water = Molecule.from_catalog("water")
    with pytest.raises(dataclasses.FrozenInstanceError):
        water.charge = 1
    with pytest.raises(ValueError):
        water.coordinates[0, 0] = 1.0
    assert hash(water) == hash(Molecule.from_catalog("water"))
    assert len({water, Molecule.from_catalog("water"), Molecule.from_catalog("h2")}) == 2


def test_formula_is_hill_order():
    assert Molecule.from_catalog("aspirin").formula == "C9H8O4"
    assert Molecule.from_catalog("water").formula == "H2O"
    carbon_dioxide = Molecule.from_atoms([("O", (0, 0, -1.16)), ("C", (0, 0, 0)), ("O", (0, 0, 1.16))])
    assert carbon_dioxide.formula == "CO2"  # carbon without hydrogen: C first, no H


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ("3\nc\nO 0 0 0\nH 0 0 1\n", "count line says 3 atoms but there are 2"),
    ("x\nc\nO 0 0 0\n", "expected the atom count"),
    ("2\nc\nO 0 0 0\nH 0 zero 1\n", "non-numeric coordinate"),
    ("2\nc\nO 0 0 0\nH 0 1\n", "4 fields"),
    ("O 0 0 0\nH 0 0 1 9\n", "4 fields"),
    ("", "no atoms"),
])
def test_malformed_xyz(text, problem):
    with pytest.raises(ValueError, match=problem):
        Molecule.from_xyz(text)


def test_unknown_element():
    with pytest.raises(ValueError, match="unknown element 'Qx'"):
        Molecule.from_xyz("Qx 0 0 0\nH 0 0 1\n")
    with pytest.raises(ValueError, match="unknown element 'X'"):
        Molecule.from_atoms([("X", (0, 0, 0))])


def test_atoms_on_top_of_each_other():
    with pytest.raises(ValueError, match="atoms 0 \\(O\\) and 2 \\(O\\) are on top of each other"):
        Molecule.from_xyz("O 0 0 0\nH 0 0 1\nO 0 0 0.1\n")
    # The threshold is documented and just above it is accepted.
    Molecule.from_atoms([("H", (0, 0, 0)), ("H", (0, 0, 1.01 * MIN_ATOM_SEPARATION_BOHR))], unit="bohr")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_coordinates(bad):
    with pytest.raises(ValueError, match="non-finite.*atom\\(s\\) \\[1\\]"):
        Molecule.from_xyz(f"O 0 0 0\nH 0 0 {bad}\nH 0 1 0\n")


def test_charge_leaving_no_electrons():
    with pytest.raises(ValueError, match="charge 12 leaves -2 electrons"):
        Molecule.from_catalog("water", charge=12)
    with pytest.raises(ValueError, match="charge 10 leaves 0 electrons"):
        Molecule.from_catalog("water", charge=10)


def test_spin_must_fit_the_electron_count():
    with pytest.raises(ValueError, match="same parity"):
        Molecule.from_catalog("water", spin=1)
    with pytest.raises(ValueError, match="spin \\(2S\\) must be between 0 and"):
        Molecule.from_catalog("h2", spin=4)
    with pytest.raises(ValueError, match="spin \\(2S\\) must be between 0 and"):
        Molecule.from_catalog("h2", spin=-2)


def test_charge_must_be_an_integer():
    with pytest.raises(ValueError, match="charge must be an integer"):
        Molecule.from_catalog("water", charge=0.5)


def test_bad_atoms_and_units():
    with pytest.raises(ValueError, match="unknown unit 'nm'"):
        Molecule.from_atoms([("H", (0, 0, 0))], unit="nm")
    with pytest.raises(ValueError, match="atom 0: expected 3 coordinates"):
        Molecule.from_atoms([("H", (0, 0))])
    with pytest.raises(ValueError, match="atom 1: expected \\(symbol, \\(x, y, z\\)\\)"):
        Molecule.from_atoms([("H", (0, 0, 0)), ("H", ("a", 0, 0))])
    with pytest.raises(ValueError, match="at least one atom"):
        Molecule.from_atoms([])
    with pytest.raises(ValueError, match="shape \\(2, 3\\)"):
        Molecule(("H", "H"), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="got the string 'HH'"):
        Molecule("HH", np.zeros((2, 3)))


def test_unknown_basis():
    water = Molecule.from_catalog("water")
    with pytest.raises(ValueError, match="unknown basis 'not-a-basis'"):
        water.to_pyscf("not-a-basis")
    with pytest.raises(ValueError, match="unknown basis 'sto-3g' for element Rn"):
        Molecule.from_atoms([("Rn", (0, 0, 0))]).to_pyscf("sto-3g")


def test_missing_xyz_path_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        Molecule.from_xyz(pathlib.Path(tmp_path / "missing.xyz"))
