"""Molecule sources for training across chemical space: SMILES embedding, molecule lists, the shipped set."""
import warnings

import numpy as np
import pytest

pytest.importorskip("rdkit")  # the `train` extra, which CI installs

from qpt.data.molecule_list import read_molecule_list  # noqa: E402
from qpt.data.molecule_sets import BUILTIN_SETS, builtin_set_path  # noqa: E402
from qpt.data.smiles import SmilesError, molecule_from_smiles  # noqa: E402
from qpt.system import Molecule  # noqa: E402


def test_smiles_gives_a_relaxed_molecule_with_hydrogens():
    ethanol = molecule_from_smiles("CCO")
    assert ethanol.formula == Molecule.get("ethanol").formula
    distances = np.linalg.norm(ethanol.coordinates[:, None] - ethanol.coordinates[None], axis=-1)
    carbon, oxygen = ethanol.symbols.index("C"), ethanol.symbols.index("O")
    # A force-field C-C bond, 1.51-1.53 Angstrom (2.85-2.90 bohr); a C-O bond near 1.42 Angstrom.
    assert 2.80 < distances[carbon, carbon + 1] < 2.95
    assert 2.55 < np.min(distances[oxygen][np.array(ethanol.symbols) == "C"]) < 2.80


def test_smiles_is_deterministic_per_seed():
    first, again = molecule_from_smiles("CC(C)CO", seed=5), molecule_from_smiles("CC(C)CO", seed=5)
    np.testing.assert_array_equal(first.coordinates, again.coordinates)


def test_charged_smiles_keeps_its_charge():
    acetate = molecule_from_smiles("CC(=O)[O-]")
    assert acetate.charge == -1 and acetate.n_electrons % 2 == 0


@pytest.mark.parametrize("smiles, reason", [("C1CC", "not a valid SMILES"), ("[CH3]", "unpaired"),
                                            ("", "expected a SMILES"), ("c1cccc1", "not a valid SMILES")])
def test_bad_smiles_raise_a_clear_error(smiles, reason):
    with pytest.raises(SmilesError, match=reason):
        molecule_from_smiles(smiles)


def test_list_reads_catalog_xyz_and_smiles_and_skips_bad_entries(tmp_path):
    (tmp_path / "geometries").mkdir()
    (tmp_path / "geometries" / "h2.xyz").write_text(Molecule.get("h2").to_xyz())
    listing = tmp_path / "molecules.txt"
    listing.write_text("\n".join([
        "# a comment", "", "water train", "geometries/h2.xyz heldout", "CCO  # ethanol", "not-a-smiles",
        "[CH3] train", "CCl", "CCCCCCCCCC", "water heldout"]))
    with pytest.warns(UserWarning, match=r"skipped 5 of 8 entries"):
        molecules = read_molecule_list(listing, elements="HCNO", max_heavy_atoms=9)
    assert [entry.name for entry in molecules.entries] == ["water", "geometries/h2.xyz", "CCO"]
    assert [entry.split for entry in molecules.entries] == ["train", "heldout", None]
    reasons = {skip.name: skip.reason for skip in molecules.skipped}
    assert "not a valid SMILES" in reasons["not-a-smiles"]
    assert "unpaired" in reasons["[CH3]"]
    assert "Cl" in reasons["CCl"]
    assert "10 heavy atoms" in reasons["CCCCCCCCCC"]
    assert "repeat" in reasons["water"]
    assert [e.name for e in molecules.split("heldout").entries] == ["geometries/h2.xyz"]


def test_list_skips_elements_the_basis_lacks(tmp_path):
    listing = tmp_path / "molecules.txt"
    listing.write_text("water\n[Xe]\n")
    with pytest.warns(UserWarning, match="skipped 1 of 2"):
        molecules = read_molecule_list(listing, basis="sto-3g")
    assert "Xe" in molecules.skipped[0].reason and len(molecules) == 1


@pytest.mark.parametrize("line, problem", [("water test", "unknown split"), ("water train extra", "3 fields")])
def test_malformed_lines_raise_with_the_line_number(tmp_path, line, problem):
    listing = tmp_path / "molecules.txt"
    listing.write_text(f"CCO\n{line}\n")
    with pytest.raises(ValueError, match=f"line 2: .*{problem}"):
        read_molecule_list(listing)


def test_a_list_without_usable_molecules_raises(tmp_path):
    listing = tmp_path / "molecules.txt"
    listing.write_text("[CH3]\nxyz!\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="no usable molecule"):
            read_molecule_list(listing)
    with pytest.raises(FileNotFoundError):
        read_molecule_list(tmp_path / "missing.txt")


def test_the_shipped_set_is_installed_split_and_within_its_rules():
    assert builtin_set_path("organic9") is not None and builtin_set_path("nonexistent") is None
    molecules = read_molecule_list(BUILTIN_SETS[0], elements="HCNOF", max_heavy_atoms=9, basis="def2-svp")
    assert len(molecules) >= 250 and not molecules.skipped  # the generator kept only molecules that embed
    train, heldout = molecules.split("train"), molecules.split("heldout")
    assert len(train) + len(heldout) == len(molecules)
    assert 0.1 < len(heldout) / len(molecules) < 0.3
    assert not {e.name for e in train.entries} & {e.name for e in heldout.entries}
