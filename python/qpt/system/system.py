"""System: everything a closed-shell Kohn-Sham calculation needs for one geometry, as a JAX pytree.

Built once per geometry with PySCF/libcint (integrals, grid, minao guess); afterwards the ops and the
trainer only read its arrays. Arrays are pytree children, the descriptive metadata is static
(hashable) aux data, so a System can be passed straight through jax.jit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields

import jax
import numpy as np
import scipy.linalg
from pyscf.scf.hf import init_guess_by_minao

from qpt.npz_file import array_headers, check_array_headers, read_npz, write_npz_atomically
from qpt.ops.basis import BasisShells
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid, check_grid_level
from qpt.system.molecule import Molecule
from qpt.system.two_electron import DEFAULT_ENGINE, ENGINE_CLASSES, PackedEri, choose_engine

_FILE_FORMAT = "qpt.System"
_FILE_VERSION = 2
# Version 1 files (before the engine choice) hold packed ERIs as "eri"; they load as a packed System.
_PACKED_V1_NAME = "eri"
_METADATA_KEY = "metadata"

_META_FIELDS = ("symbols", "basis_name", "grid_level", "charge", "spin", "n_electrons", "n_occ", "nao",
                "jk_reason")


@dataclass(frozen=True, eq=False)
class System:
    """Integrals, basis, grid and initial guess of one closed-shell molecule (atomic units).

    two_electron is the two-electron operator of the engine chosen at build time (qpt.system.two_electron:
    packed ERIs, density-fitting factors or nothing for integral-direct); jk_reason says why it was chosen.
    qpt.dft.two_electron.coulomb_exchange contracts it. orthogonalizer X = inv(L).T with S = L L^T, so
    X^T S X = I. minao_density is PySCF's minao initial guess (pyscf.scf.hf.init_guess_by_minao).
    With a basis that carries effective core potentials (def2 bases for Rb and heavier), `nuclear` includes
    the ECP operator, atom_charges are the effective (valence) charges and n_electrons counts the valence
    electrons, as in PySCF.
    """

    atom_coords: np.ndarray
    atom_charges: np.ndarray
    overlap: np.ndarray
    kinetic: np.ndarray
    nuclear: np.ndarray
    core_hamiltonian: np.ndarray
    nuclear_repulsion: np.ndarray
    two_electron: object   # PackedEri | DensityFitted | IntegralDirect (qpt.system.two_electron)
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
    jk_reason: str   # why this engine: "requested", or what "auto" measured

    @classmethod
    def from_molecule(cls, molecule, basis: str = "def2-svp", grid_level: int = 3,
                      spherical: bool = True, jk: str = DEFAULT_ENGINE, auxbasis=None) -> "System":
        """Build with PySCF. `molecule` is a Molecule or anything Molecule.get accepts.

        jk: the two-electron engine, "packed" (8-fold ERIs), "df" (density fitting with `auxbasis`, default
        PySCF's make_auxbasis: def2-universal-jkfit for the def2 bases), "direct" (no stored integrals) or
        "auto" (packed while the ERIs take at most AUTO_PACKED_MAX_BYTES, else df; see two_electron.py).
        Only the chosen engine's integrals are computed."""
        molecule = Molecule.get(molecule)
        if molecule.n_electrons % 2:
            raise ValueError(
                f"odd electron count {molecule.n_electrons} ({molecule.formula}, charge {molecule.charge}): "
                "System supports closed-shell molecules only")
        if molecule.spin != 0:
            raise ValueError(f"spin (2S) {molecule.spin}: System supports closed-shell (spin 0) molecules only")
        grid_level = check_grid_level(grid_level)
        if auxbasis is not None and jk not in ("df", DEFAULT_ENGINE):
            raise ValueError(f"auxbasis is for jk='df' (or 'auto'), got jk={jk!r}")
        if not isinstance(spherical, bool):
            raise ValueError(f"spherical must be True or False, got {spherical!r}")
        mol = molecule.to_pyscf(basis, spherical=spherical)

        n_electrons = int(mol.nelectron)  # valence electrons when the basis has effective core potentials
        n_occ = n_electrons // 2
        if n_occ >= mol.nao:
            raise ValueError(
                f"{molecule.formula} with charge {molecule.charge} has {n_occ} doubly occupied orbitals, but "
                f"{basis!r} gives only {mol.nao} basis functions: at least one virtual orbital is needed")
        overlap = mol.intor_symmetric("int1e_ovlp")
        kinetic = mol.intor_symmetric("int1e_kin")
        nuclear = mol.intor_symmetric("int1e_nuc")
        if mol.has_ecp():
            nuclear = nuclear + mol.intor_symmetric("ECPscalar")
        try:
            lower = np.linalg.cholesky(overlap)
        except np.linalg.LinAlgError:
            raise ValueError(f"overlap matrix of {basis!r} for {molecule.formula} is not positive definite: "
                             "the basis is linearly dependent at this geometry") from None
        engine, jk_reason = choose_engine(jk, int(mol.nao))
        orthogonalizer = scipy.linalg.solve_triangular(lower, np.eye(mol.nao), lower=True).T
        return cls(
            atom_coords=mol.atom_coords(),
            atom_charges=mol.atom_charges().astype(np.float64),
            overlap=overlap,
            kinetic=kinetic,
            nuclear=nuclear,
            core_hamiltonian=kinetic + nuclear,
            nuclear_repulsion=np.asarray(mol.energy_nuc(), dtype=np.float64),
            two_electron=ENGINE_CLASSES[engine].build(mol, auxbasis),
            orthogonalizer=orthogonalizer,
            minao_density=init_guess_by_minao(mol),
            basis=basis_shells_from_mol(mol),
            grid=Grid.from_pyscf(mol, grid_level),
            symbols=molecule.symbols,
            basis_name=basis,
            grid_level=grid_level,
            charge=molecule.charge,
            spin=molecule.spin,
            n_electrons=n_electrons,
            n_occ=n_occ,
            nao=int(mol.nao),
            jk_reason=jk_reason,
        )

    @property
    def molecule(self) -> Molecule:
        return Molecule(self.symbols, np.asarray(self.atom_coords), self.charge, self.spin)

    @property
    def jk_engine(self) -> str:
        """"packed", "df" or "direct"."""
        return self.two_electron.name

    @property
    def eri(self) -> np.ndarray:
        """The packed ERIs of a jk="packed" System."""
        if not isinstance(self.two_electron, PackedEri):
            raise AttributeError(f"this System has no packed ERIs: its J/K engine is {self.jk_engine!r} "
                                 "(build it with jk='packed' for them)")
        return self.two_electron.eri

    @property
    def nbytes(self) -> int:
        return sum(int(leaf.nbytes) for leaf in jax.tree_util.tree_leaves(self))

    def summary(self) -> str:
        """One line for progress messages.

        For example 'C2H6O: 9 atoms, def2-svp nao=72, grid level 3: 101168 points, J/K: packed ERIs 27.6 MB
        (auto: packed ERIs 28 MB <= 70 MB)'.
        """
        return (f"{self.molecule.formula}: {len(self.symbols)} atoms, {self.basis_name} nao={self.nao}, "
                f"grid level {self.grid_level}: {self.grid.size} points, J/K: {self.two_electron.describe()} "
                f"({self.jk_reason})")

    # ---- files ---------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write an .npz (no pickled objects) atomically: a crash never leaves a half-written file at `path`."""
        arrays = {_leaf_name(key_path): np.asarray(leaf)
                  for key_path, leaf in jax.tree_util.tree_flatten_with_path(self)[0]}
        metadata = {name: getattr(self, name) for name in _META_FIELDS}
        metadata.update(format=_FILE_FORMAT, version=_FILE_VERSION, spherical=bool(self.basis.spherical),
                        jk_engine=self.jk_engine, auxbasis=getattr(self.two_electron, "auxbasis", None))
        arrays[_METADATA_KEY] = np.array(json.dumps(metadata))
        write_npz_atomically(path, arrays)

    @classmethod
    def load(cls, path) -> "System":
        """Read a file written by save(); arrays come back bit-for-bit.

        Every array's name, shape and dtype is checked against the metadata (from the .npy headers, before
        anything is decompressed); a damaged, truncated or tampered file is a ValueError naming it.
        """
        what = "qpt System file"
        headers = array_headers(path, what)
        if _METADATA_KEY not in headers:
            raise ValueError(f"{path} is not a qpt System file: no {_METADATA_KEY!r} entry")
        metadata = _read_metadata(path, read_npz(path, what, [_METADATA_KEY])[_METADATA_KEY])
        # The basis shells' static layout comes from PySCF for the saved geometry and basis name;
        # every array, the basis' included, is then taken from the file, so nothing is recomputed.
        if headers.get("atom_coords") != ((len(metadata["symbols"]), 3), np.dtype(np.float64)):
            raise ValueError(f"{path} is not a valid qpt System file: 'atom_coords' is missing or not "
                             f"float64[{len(metadata['symbols'])}, 3]")
        coordinates = read_npz(path, what, ["atom_coords"])["atom_coords"]
        try:
            molecule = Molecule(tuple(metadata["symbols"]), coordinates, metadata["charge"], metadata["spin"])
            mol = molecule.to_pyscf(metadata["basis_name"], spherical=metadata["spherical"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a valid qpt System file: {error}") from None
        basis = basis_shells_from_mol(mol)
        if metadata["nao"] != basis.nao or not 0 < metadata["n_occ"] < basis.nao:
            raise ValueError(f"{path} is not a valid qpt System file: nao {metadata['nao']} and n_occ "
                             f"{metadata['n_occ']} do not fit the basis ({basis.nao} functions)")
        # Leaf name of each stored array (version-1 files hold the packed ERIs as "eri").
        renamed = {name: ("two_electron.eri" if metadata["version"] == 1 and name == _PACKED_V1_NAME else name)
                   for name in headers if name != _METADATA_KEY}
        weights_shape = headers.get("grid.weights", ((), None))[0]
        grid_points = weights_shape[0] if len(weights_shape) == 1 else None
        engine = ENGINE_CLASSES[metadata["jk_engine"]]
        expected = _array_layout(molecule.n_atoms, basis, grid_points)
        expected.update({f"two_electron.{name}": layout for name, layout in engine.stored_layout(basis.nao).items()})
        check_array_headers(path, what, {renamed[name]: headers[name] for name in renamed}, expected)
        stored = read_npz(path, what, list(renamed))
        arrays = {renamed[name]: value for name, value in stored.items()}
        engine_template = engine(**{f.name: (metadata["auxbasis"] if f.name == "auxbasis" else np.zeros(0))
                                    for f in fields(engine)})
        template = {f.name: np.zeros(0) for f in fields(cls)}
        template["two_electron"] = engine_template
        template.update({name: metadata[name] for name in _META_FIELDS}, symbols=molecule.symbols,
                        basis=basis, grid=Grid(np.zeros(0), np.zeros(0), metadata["grid_level"]))
        template = cls(**template)
        key_paths, treedef = jax.tree_util.tree_flatten_with_path(template)
        names = [_leaf_name(key_path) for key_path, _ in key_paths]
        return jax.tree_util.tree_unflatten(treedef, [arrays[name] for name in names])


def _read_metadata(path, entry) -> dict:
    try:
        metadata = json.loads(str(entry))
    except ValueError:
        raise ValueError(f"{path} is not a valid qpt System file: its metadata is not JSON") from None
    if not isinstance(metadata, dict) or metadata.get("format") != _FILE_FORMAT \
            or metadata.get("version") not in (1, _FILE_VERSION):
        raise ValueError(f"{path} is not a qpt System file of version 1 or {_FILE_VERSION}")
    if metadata["version"] == 1:
        metadata.update(jk_engine=PackedEri.name, auxbasis=None, jk_reason="version-1 file: packed ERIs")
    if metadata.get("jk_engine") not in ENGINE_CLASSES:
        raise ValueError(f"{path}: unknown J/K engine {metadata.get('jk_engine')!r}")
    if not isinstance(metadata.get("auxbasis"), (str, type(None))) or not isinstance(metadata.get("jk_reason"), str):
        raise ValueError(f"{path} is not a valid qpt System file: bad auxbasis or jk_reason in its metadata")
    kinds = dict(symbols=list, basis_name=str, grid_level=int, charge=int, spin=int, n_electrons=int, n_occ=int,
                 nao=int, spherical=bool)
    for name, kind in kinds.items():
        value = metadata.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{path} is not a valid qpt System file: metadata {name!r} is {value!r}")
    try:
        check_grid_level(metadata["grid_level"])
    except ValueError as error:
        raise ValueError(f"{path} is not a valid qpt System file: {error}") from None
    return metadata


def _array_layout(n_atoms: int, basis: BasisShells, grid_points) -> dict:
    """{leaf name: (shape, dtype)} of a System's arrays but the two-electron engine's; grid_points None matches
    any grid size."""
    nao = basis.nao
    square = ((nao, nao), np.float64)
    return {
        "atom_coords": ((n_atoms, 3), np.float64),
        "atom_charges": ((n_atoms,), np.float64),
        "overlap": square, "kinetic": square, "nuclear": square, "core_hamiltonian": square,
        "orthogonalizer": square, "minao_density": square,
        "nuclear_repulsion": ((), np.float64),
        "basis.centers": ((basis.nshell, 3), np.float64),
        "basis.exponents": ((basis.nprim,), np.float64),
        "basis.coefficients": ((basis.nprim,), np.float64),
        "grid.coords": ((grid_points, 3), np.float64),
        "grid.weights": ((grid_points,), np.float64),
    }


def _leaf_name(key_path) -> str:
    return jax.tree_util.keystr(key_path, simple=True, separator=".")


def _megabytes(array) -> str:
    return f"{array.nbytes / 1e6:.1f} MB"


jax.tree_util.register_dataclass(
    System,
    data_fields=[f.name for f in fields(System) if f.name not in _META_FIELDS],
    meta_fields=list(_META_FIELDS),
)
