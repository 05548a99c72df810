"""System: everything a closed-shell Kohn-Sham calculation needs for one geometry, as a JAX pytree.

Built once per geometry with PySCF/libcint (integrals, grid, minao guess); afterwards the ops and the
trainer only read its arrays. Arrays are pytree children, the descriptive metadata is static
(hashable) aux data, so a System can be passed straight through jax.jit.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields

import jax
import numpy as np
import scipy.linalg
from pyscf.scf.hf import init_guess_by_minao

from qpt.npz_file import write_npz_atomically
from qpt.system.basis import BasisShells, basis_shells_from_mol
from qpt.system.grid import Grid, check_grid_level
from qpt.system.molecule import Molecule

_FILE_FORMAT = "qpt.System"
_FILE_VERSION = 1
_METADATA_KEY = "metadata"

_META_FIELDS = ("symbols", "basis_name", "grid_level", "charge", "spin", "n_electrons", "n_occ", "nao")


@dataclass(frozen=True, eq=False)
class System:
    """Integrals, basis, grid and initial guess of one closed-shell molecule (atomic units).

    eri holds the 8-fold packed two-electron integrals in libcint's 's8' order, length
    npair*(npair+1)/2 with npair = nao*(nao+1)/2. orthogonalizer X = inv(L).T with S = L L^T, so
    X^T S X = I. minao_density is PySCF's minao initial guess (pyscf.scf.hf.init_guess_by_minao).
    """

    atom_coords: np.ndarray
    atom_charges: np.ndarray
    overlap: np.ndarray
    kinetic: np.ndarray
    nuclear: np.ndarray
    core_hamiltonian: np.ndarray
    nuclear_repulsion: np.ndarray
    eri: np.ndarray
    orthogonalizer: np.ndarray
    minao_density: np.ndarray
    basis: BasisShells
    grid: Grid
    symbols: tuple
    basis_name: str
    grid_level: int
    charge: int
    spin: int
    n_electrons: int
    n_occ: int
    nao: int

    @classmethod
    def from_molecule(cls, molecule, basis: str = "def2-svp", grid_level: int = 3,
                      spherical: bool = True) -> "System":
        """Build with PySCF. `molecule` is a Molecule or anything Molecule.get accepts."""
        molecule = Molecule.get(molecule)
        if molecule.n_electrons % 2:
            raise ValueError(
                f"odd electron count {molecule.n_electrons} ({molecule.formula}, charge {molecule.charge}): "
                "System supports closed-shell molecules only")
        if molecule.spin != 0:
            raise ValueError(f"spin (2S) {molecule.spin}: System supports closed-shell (spin 0) molecules only")
        grid_level = check_grid_level(grid_level)
        if not isinstance(spherical, bool):
            raise ValueError(f"spherical must be True or False, got {spherical!r}")
        mol = molecule.to_pyscf(basis, spherical=spherical)

        overlap = mol.intor_symmetric("int1e_ovlp")
        kinetic = mol.intor_symmetric("int1e_kin")
        nuclear = mol.intor_symmetric("int1e_nuc")
        try:
            lower = np.linalg.cholesky(overlap)
        except np.linalg.LinAlgError:
            raise ValueError(f"overlap matrix of {basis!r} for {molecule.formula} is not positive definite: "
                             "the basis is linearly dependent at this geometry") from None
        orthogonalizer = scipy.linalg.solve_triangular(lower, np.eye(mol.nao), lower=True).T
        return cls(
            atom_coords=mol.atom_coords(),
            atom_charges=mol.atom_charges().astype(np.float64),
            overlap=overlap,
            kinetic=kinetic,
            nuclear=nuclear,
            core_hamiltonian=kinetic + nuclear,
            nuclear_repulsion=np.asarray(mol.energy_nuc(), dtype=np.float64),
            eri=mol.intor("int2e", aosym="s8"),
            orthogonalizer=orthogonalizer,
            minao_density=init_guess_by_minao(mol),
            basis=basis_shells_from_mol(mol),
            grid=Grid.from_pyscf(mol, grid_level),
            symbols=molecule.symbols,
            basis_name=basis,
            grid_level=grid_level,
            charge=molecule.charge,
            spin=molecule.spin,
            n_electrons=molecule.n_electrons,
            n_occ=molecule.n_electrons // 2,
            nao=int(mol.nao),
        )

    @property
    def molecule(self) -> Molecule:
        return Molecule(self.symbols, np.asarray(self.atom_coords), self.charge, self.spin)

    @property
    def nbytes(self) -> int:
        return sum(int(leaf.nbytes) for leaf in jax.tree_util.tree_leaves(self))

    def summary(self) -> str:
        """One line for progress messages.

        For example 'C2H6O: 9 atoms, def2-svp nao=72, grid level 3: 101168 points, ERI 27.6 MB'.
        """
        return (f"{self.molecule.formula}: {len(self.symbols)} atoms, {self.basis_name} nao={self.nao}, "
                f"grid level {self.grid_level}: {self.grid.size} points, ERI {_megabytes(self.eri)}")

    # ---- files ---------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write an .npz (no pickled objects) atomically: a crash never leaves a half-written file at `path`."""
        arrays = {_leaf_name(key_path): np.asarray(leaf)
                  for key_path, leaf in jax.tree_util.tree_flatten_with_path(self)[0]}
        metadata = {name: getattr(self, name) for name in _META_FIELDS}
        metadata.update(format=_FILE_FORMAT, version=_FILE_VERSION, spherical=bool(self.basis.spherical))
        arrays[_METADATA_KEY] = np.array(json.dumps(metadata))
        write_npz_atomically(path, arrays)

    @classmethod
    def load(cls, path) -> "System":
        """Read a file written by save(); arrays come back bit-for-bit."""
        with np.load(os.fspath(path), allow_pickle=False) as file:
            arrays = {name: file[name] for name in file.files}
        if _METADATA_KEY not in arrays:
            raise ValueError(f"{path} is not a qpt System file: no {_METADATA_KEY!r} entry")
        metadata = json.loads(str(arrays.pop(_METADATA_KEY)))
        if metadata.get("format") != _FILE_FORMAT or metadata.get("version") != _FILE_VERSION:
            raise ValueError(f"{path} is not a version-{_FILE_VERSION} qpt System file")
        # The basis shells' static layout comes from PySCF for the saved geometry and basis name;
        # every array, the basis' included, is then taken from the file, so nothing is recomputed.
        molecule = Molecule(tuple(metadata["symbols"]), arrays["atom_coords"], metadata["charge"], metadata["spin"])
        mol = molecule.to_pyscf(metadata["basis_name"], spherical=metadata["spherical"])
        template = {f.name: np.zeros(0) for f in fields(cls)}
        template.update({name: metadata[name] for name in _META_FIELDS}, symbols=molecule.symbols,
                        basis=basis_shells_from_mol(mol), grid=Grid(np.zeros(0), np.zeros(0), metadata["grid_level"]))
        template = cls(**template)
        key_paths, treedef = jax.tree_util.tree_flatten_with_path(template)
        names = [_leaf_name(key_path) for key_path, _ in key_paths]
        if sorted(names) != sorted(arrays):
            raise ValueError(f"{path}: arrays {sorted(arrays)} do not match a System's {sorted(names)}")
        return jax.tree_util.tree_unflatten(treedef, [arrays[name] for name in names])


def _leaf_name(key_path) -> str:
    return jax.tree_util.keystr(key_path, simple=True, separator=".")


def _megabytes(array) -> str:
    return f"{array.nbytes / 1e6:.1f} MB"


jax.tree_util.register_dataclass(
    System,
    data_fields=[f.name for f in fields(System) if f.name not in _META_FIELDS],
    meta_fields=list(_META_FIELDS),
)
