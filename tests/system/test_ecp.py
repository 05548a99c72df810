"""Effective core potentials (issue 20, defect 2): a basis with ECPs is computed with them, as PySCF does.
Before the fix HI/def2-tzvp was computed all-electron without a word (-2698.5 Ha instead of ~-298)."""
import pytest
from pyscf import dft as pyscf_dft

from qpt import dft
from qpt.system import Molecule, System

HI = Molecule.from_atoms([("H", (0.0, 0.0, 0.0)), ("I", (0.0, 0.0, 1.61))])


@pytest.fixture(scope="module")
def system():
    return System.from_molecule(HI, basis="def2-tzvp", grid_level=1)


def test_valence_electrons_and_effective_charges(system):
    assert system.n_electrons == 1 + 53 - 28  # def2's ECP replaces iodine's 28 core electrons
    assert list(system.atom_charges) == [1.0, 25.0]


def test_scf_energy_matches_pyscf_rks_with_the_ecp(system):
    result = dft.run_scf(system, "b3lyp5")
    mf = pyscf_dft.RKS(HI.to_pyscf("def2-tzvp"))
    mf.xc, mf.grids.level, mf.conv_tol, mf.verbose = "b3lyp5", 1, 1e-11, 0
    reference = mf.kernel()
    assert mf.mol.has_ecp() and mf.converged and result.converged
    assert abs(result.energy - reference) < 1e-8, (result.energy, reference)


def test_bases_without_ecps_are_unchanged():
    mol = Molecule.from_catalog("water").to_pyscf("sto-3g")
    assert not mol.has_ecp() and mol.nelectron == 10
