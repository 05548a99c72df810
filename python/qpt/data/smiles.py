"""Molecules from SMILES: RDKit's ETKDG embedding with hydrogens added, then a force-field relaxation.

The geometry is a starting point (thermal MD or a conformer stream samples around it), so a force field is
enough: MMFF94 where RDKit has parameters for every atom, UFF otherwise. Embedding is seeded and
single-threaded, so one SMILES gives the same geometry on every run with the same RDKit.
rdkit is part of the `train` extra; only this module needs it.
"""
from __future__ import annotations

import numpy as np

from qpt.system import Molecule

FORCE_FIELD_ITERATIONS = 2000


class SmilesError(ValueError):
    """A SMILES string that gives no closed-shell molecule with a 3D geometry (the message says why)."""


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import AllChem
    except ImportError:
        raise ImportError("molecules from SMILES need RDKit: pip install rdkit (or qpt's `train` extra)") from None
    RDLogger.DisableLog("rdApp.*")  # its parse errors go to stderr; SmilesError carries the reason instead
    return Chem, AllChem


def molecule_from_smiles(smiles: str, seed: int = 0) -> Molecule:
    """The relaxed 3D molecule of `smiles` (hydrogens added; charge from the formal charges).

    Raises SmilesError for an unparsable string, a radical (open shell: the System is closed-shell only), or a
    molecule RDKit cannot embed in 3D."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise SmilesError(f"expected a SMILES string, got {smiles!r}")
    Chem, AllChem = _rdkit()
    parsed = Chem.MolFromSmiles(smiles.strip())
    if parsed is None:
        raise SmilesError(f"{smiles!r} is not a valid SMILES string")
    radicals = sum(atom.GetNumRadicalElectrons() for atom in parsed.GetAtoms())
    if radicals:
        raise SmilesError(f"{smiles!r} has {radicals} unpaired electron(s): only closed-shell molecules are supported")
    molecule = Chem.AddHs(parsed)
    parameters = AllChem.ETKDGv3()
    parameters.randomSeed = int(seed)
    parameters.numThreads = 1
    if AllChem.EmbedMolecule(molecule, parameters) != 0:
        # Strained or crowded molecules: random starting coordinates usually embed where ETKDG's bounds fail.
        parameters.useRandomCoords = True
        if AllChem.EmbedMolecule(molecule, parameters) != 0:
            raise SmilesError(f"RDKit could not embed {smiles!r} in 3D")
    if AllChem.MMFFHasAllMoleculeParams(molecule):
        AllChem.MMFFOptimizeMolecule(molecule, maxIters=FORCE_FIELD_ITERATIONS)
    else:
        AllChem.UFFOptimizeMolecule(molecule, maxIters=FORCE_FIELD_ITERATIONS)
    positions = np.asarray(molecule.GetConformer().GetPositions(), dtype=np.float64)  # Angstrom
    atoms = [(atom.GetSymbol(), position) for atom, position in zip(molecule.GetAtoms(), positions)]
    try:
        return Molecule.from_atoms(atoms, "angstrom", charge=Chem.GetFormalCharge(molecule), spin=0)
    except ValueError as error:
        raise SmilesError(f"{smiles!r}: {error}") from None
