"""Molecule: element symbols, nuclear positions (bohr), charge and spin, checked on construction.

A Molecule is the cheap, validated input that everything heavier (System, PySCF) is built from, so
every check that can be made without integrals is made here, before PySCF sees the geometry.
"""
from __future__ import annotations

import os
import pathlib
import re
import warnings
from dataclasses import dataclass

import numpy as np
from pyscf import gto
from pyscf.data.elements import ELEMENTS
from pyscf.data.nist import BOHR
from pyscf.lib.exceptions import BasisNotFoundError
from scipy.spatial import cKDTree

from qpt.system.catalog import CATALOG_NAMES, catalog_xyz

# Two nuclei closer than this are almost certainly a duplicated or mistyped line: the shortest
# chemical bond (H2, 1.40 bohr) is ~3x longer, and integrals of near-coincident centres are garbage.
MIN_ATOM_SEPARATION_BOHR = 0.5

# PySCF's list starts with the ghost atom "X" at index 0, so index == atomic number.
_ATOMIC_NUMBER = {symbol.lower(): z for z, symbol in enumerate(ELEMENTS) if z > 0}

_UNITS_TO_BOHR = {"angstrom": 1.0 / BOHR, "bohr": 1.0}

# A coordinate as people write one (Python's float() also reads "1_0" as 10). NaN and infinity are read, so
# that the finiteness check can name the atom.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)",
                      re.IGNORECASE)


def _coordinate(value) -> float:
    """A float from a number or from decimal text; ValueError for anything else (complex, '1_0', '0x10')."""
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not a decimal number")
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{value!r} is not a real number")
    return float(value)


def _canonical_symbol(symbol) -> str:
    if not isinstance(symbol, str) or symbol.strip().lower() not in _ATOMIC_NUMBER:
        raise ValueError(f"unknown element {symbol!r}: expected an element symbol such as 'H', 'C', 'Cl'")
    return ELEMENTS[_ATOMIC_NUMBER[symbol.strip().lower()]]


def _integer(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Molecule:
    """An immutable molecule.

    symbols: element symbols (canonical capitalisation), coordinates: [A, 3] float64 bohr (read-only),
    charge: net charge, spin: 2S (number of unpaired electrons).
    """

    symbols: tuple
    coordinates: np.ndarray
    charge: int = 0
    spin: int = 0

    def __post_init__(self):
        if isinstance(self.symbols, str):
            raise ValueError(f"symbols must be a sequence of element symbols, got the string {self.symbols!r}")
        symbols = tuple(_canonical_symbol(s) for s in self.symbols)
        if not symbols:
            raise ValueError("a molecule needs at least one atom")
        given = np.asarray(self.coordinates)
        if given.dtype.kind not in "fiu":
            raise ValueError(f"coordinates must be real numbers, got an array of dtype {given.dtype}")
        coordinates = np.array(given, dtype=np.float64)
        if coordinates.shape != (len(symbols), 3):
            raise ValueError(
                f"coordinates must have shape ({len(symbols)}, 3) for {len(symbols)} atoms, got {coordinates.shape}")
        if not np.all(np.isfinite(coordinates)):
            bad = sorted({int(i) for i in np.nonzero(~np.isfinite(coordinates))[0]})
            raise ValueError(f"non-finite (NaN or inf) coordinates for atom(s) {bad}")
        coordinates.setflags(write=False)
        charge = _integer(self.charge, "charge")
        spin = _integer(self.spin, "spin")
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "coordinates", coordinates)
        object.__setattr__(self, "charge", charge)
        object.__setattr__(self, "spin", spin)
        self._check_separation()
        self._check_electrons()

    def _check_separation(self):
        # A k-d tree finds close pairs in O(A log A) time and memory; all pairwise distances would need A^2.
        pairs = cKDTree(self.coordinates).query_pairs(np.nextafter(MIN_ATOM_SEPARATION_BOHR, 0.0),
                                                      output_type="ndarray")
        if len(pairs):
            a, b = min((int(i), int(j)) if i < j else (int(j), int(i)) for i, j in pairs)
            distance = np.linalg.norm(self.coordinates[a] - self.coordinates[b])
            raise ValueError(
                f"atoms {a} ({self.symbols[a]}) and {b} ({self.symbols[b]}) are on top of each other: "
                f"{distance:.3g} bohr apart, minimum is {MIN_ATOM_SEPARATION_BOHR} bohr")

    def _check_electrons(self):
        n = self.n_electrons
        if n <= 0:
            raise ValueError(
                f"charge {self.charge} leaves {n} electrons (nuclear charge {self.nuclear_charge}); need at least one")
        if self.spin < 0 or self.spin > n:
            raise ValueError(f"spin (2S) must be between 0 and the electron count {n}, got {self.spin}")
        if (n - self.spin) % 2:
            raise ValueError(
                f"spin (2S) {self.spin} does not fit an {('odd', 'even')[n % 2 == 0]} electron count {n}: "
                "2S and the electron count must have the same parity")

    @property
    def atomic_numbers(self) -> tuple:
        return tuple(_ATOMIC_NUMBER[s.lower()] for s in self.symbols)

    @property
    def nuclear_charge(self) -> int:
        return sum(self.atomic_numbers)

    @property
    def n_electrons(self) -> int:
        return self.nuclear_charge - self.charge

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)

    @property
    def formula(self) -> str:
        """Hill formula (C first, then H, then the rest alphabetically), e.g. 'C2H6O'."""
        counts = {s: self.symbols.count(s) for s in set(self.symbols)}
        hill = [s for s in ("C", "H") if s in counts] if "C" in counts else []  # CO2, CF4: no H
        order = hill + sorted(s for s in counts if s not in hill)
        return "".join(s + (str(counts[s]) if counts[s] > 1 else "") for s in order)

    def __eq__(self, other):
        if not isinstance(other, Molecule):
            return NotImplemented
        return (self.symbols == other.symbols and self.charge == other.charge and self.spin == other.spin
                and np.array_equal(self.coordinates, other.coordinates))

    def __hash__(self):
        # + 0.0 turns -0.0 into 0.0: equal molecules (np.array_equal) must hash equally.
        return hash((self.symbols, (self.coordinates + 0.0).tobytes(), self.charge, self.spin))

    def __repr__(self):
        return f"Molecule({self.formula}, {self.n_atoms} atoms, charge={self.charge}, spin={self.spin})"

    # ---- constructors -------------------------------------------------------------------------

    @classmethod
    def from_atoms(cls, atoms, unit: str = "angstrom", charge: int = 0, spin: int = 0) -> "Molecule":
        """From [(symbol, (x, y, z)), ...] in `unit` ("angstrom" or "bohr")."""
        if not isinstance(unit, str) or unit.lower() not in _UNITS_TO_BOHR:
            raise ValueError(f"unknown unit {unit!r}: expected 'angstrom' or 'bohr'")
        symbols, positions = [], []
        for k, atom in enumerate(atoms):
            try:
                symbol, position = atom
                position = [_coordinate(x) for x in position]
            except (TypeError, ValueError):
                raise ValueError(f"atom {k}: expected (symbol, (x, y, z)) with numeric coordinates, got {atom!r}")
            if len(position) != 3:
                raise ValueError(f"atom {k}: expected 3 coordinates, got {len(position)}")
            symbols.append(symbol)
            positions.append(position)
        coordinates = np.array(positions, dtype=np.float64).reshape(-1, 3) * _UNITS_TO_BOHR[unit.lower()]
        return cls(tuple(symbols), coordinates, charge, spin)

    @classmethod
    def from_xyz(cls, text_or_path, charge: int = 0, spin: int = 0) -> "Molecule":
        """From xyz text or an xyz file, coordinates in Angstrom.

        Standard xyz (atom count line, comment line, then `El x y z` lines) or a bare list of
        `El x y z` lines. One geometry per input; exactly four fields per atom line.
        """
        return cls.from_atoms(_parse_xyz(_xyz_text(text_or_path)), "angstrom", charge, spin)

    @classmethod
    def from_catalog(cls, name: str, charge: int = 0, spin: int = 0) -> "Molecule":
        """A built-in geometry by (case-insensitive) name; see qpt.system.CATALOG_NAMES."""
        return cls.from_xyz(catalog_xyz(name), charge, spin)

    @classmethod
    def get(cls, spec, charge: int = 0, spin: int = 0) -> "Molecule":
        """A Molecule from whatever a user typed: catalog name, xyz file path or xyz text."""
        if isinstance(spec, Molecule):
            return spec
        if isinstance(spec, pathlib.Path):
            return cls.from_xyz(spec, charge, spin)
        if not isinstance(spec, str):
            raise TypeError(f"expected a catalog name, xyz path or xyz text, got {type(spec).__name__}")
        if spec.strip().lower() in CATALOG_NAMES:
            return cls.from_catalog(spec, charge, spin)
        if "\n" in spec.strip() or os.path.isfile(spec) or len(spec.split()) == 4:
            return cls.from_xyz(spec, charge, spin)
        raise ValueError(
            f"unknown molecule {spec!r}: not a catalog name ({', '.join(CATALOG_NAMES)}), "
            "an existing xyz file, or xyz text")

    # ---- conversions --------------------------------------------------------------------------

    def to_xyz(self, comment: str = "") -> str:
        """Standard xyz text in Angstrom (enough digits that from_xyz round-trips to ~1e-12 bohr)."""
        if "\n" in comment:
            raise ValueError("xyz comment must be a single line")
        lines = [str(self.n_atoms), comment]
        for symbol, position in zip(self.symbols, self.coordinates * BOHR):
            lines.append(f"{symbol:<2s} {position[0]:18.12f} {position[1]:18.12f} {position[2]:18.12f}")
        return "\n".join(lines) + "\n"

    def to_pyscf(self, basis: str, spherical: bool = True) -> gto.Mole:
        """A built PySCF Mole (unit bohr), after checking that `basis` covers every element.

        The basis' effective core potentials come with it (def2 bases replace the cores of Rb and heavier
        elements), as in PySCF's own `gto.M(basis=name, ecp=name)`: the electron count is then the valence
        count and the core Hamiltonian carries the ECP operator.
        """
        check_basis(basis, self.symbols)
        mol = gto.M(
            atom=[(s, tuple(p)) for s, p in zip(self.symbols, self.coordinates)],
            unit="Bohr", basis=basis, ecp=_ecp_of(basis, self.symbols), charge=self.charge, spin=self.spin,
            cart=not spherical, verbose=0)
        return mol

    def ao_labels(self, basis: str, spherical: bool = True) -> tuple:
        """(atom index, element, shell 'nl', component) per AO, in PySCF's AO order (its `ao_labels`): what
        the model's tokens are made of, without the model building a Mole."""
        labels = self.to_pyscf(basis, spherical=spherical).ao_labels(fmt=False)
        return tuple((int(atom), str(element), str(shell), str(component))
                     for atom, element, shell, component in labels)

    def displaced(self, rng, sigma_bohr: float) -> "Molecule":
        """A copy with independent Gaussian displacements (std `sigma_bohr`) of every coordinate.

        `rng` is a numpy Generator (or a seed). Raises ValueError if the displacement brings two
        atoms closer than MIN_ATOM_SEPARATION_BOHR.
        """
        sigma = float(sigma_bohr)
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"sigma_bohr must be finite and >= 0, got {sigma_bohr!r}")
        rng = np.random.default_rng(rng)
        return Molecule(self.symbols, self.coordinates + rng.normal(0.0, sigma, self.coordinates.shape),
                        self.charge, self.spin)


def check_basis(basis, symbols) -> None:
    """ValueError unless `basis` is a PySCF basis name with functions for every element in `symbols`."""
    if not isinstance(basis, str) or not basis.strip():
        raise ValueError(f"basis must be a PySCF basis name such as 'def2-svp', got {basis!r}")
    for symbol in sorted(set(symbols)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PySCF suggests installing basis-set-exchange; not useful here
                shells = gto.basis.load(basis, symbol)
        except BasisNotFoundError:
            shells = None
        if not shells:
            raise ValueError(f"unknown basis {basis!r} for element {symbol}: PySCF has no such basis for it")


def _ecp_of(basis: str, symbols) -> dict:
    """{element: basis} for the elements whose `basis` defines an effective core potential."""
    ecp = {}
    for symbol in sorted(set(symbols)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if gto.basis.load_ecp(basis, symbol):
                    ecp[symbol] = basis
        except (BasisNotFoundError, KeyError, RuntimeError):
            pass  # bases without ECP data (sto-3g, 6-31g*, ...) have none to load
    return ecp


def _xyz_text(text_or_path) -> str:
    if isinstance(text_or_path, pathlib.Path):
        return text_or_path.read_text()
    if not isinstance(text_or_path, str):
        raise TypeError(f"expected xyz text or a path, got {type(text_or_path).__name__}")
    if "\n" not in text_or_path.strip() and os.path.isfile(text_or_path):
        return pathlib.Path(text_or_path).read_text()
    return text_or_path


def _parse_xyz(text: str):
    lines = text.splitlines()
    numbered = [(k + 1, line) for k, line in enumerate(lines)]
    while numbered and not numbered[-1][1].strip():
        numbered.pop()
    while numbered and not numbered[0][1].strip():
        numbered.pop(0)
    if not numbered:
        raise ValueError("malformed xyz: no atoms")
    first = numbered[0][1].split()
    if len(first) == 1:
        try:
            count = int(first[0])
        except ValueError:
            raise ValueError(f"malformed xyz line {numbered[0][0]}: expected the atom count, got {numbered[0][1]!r}")
        atom_lines = numbered[2:]
        if count != len(atom_lines):
            raise ValueError(
                f"malformed xyz: the count line says {count} atoms but there are {len(atom_lines)} atom lines")
    else:
        atom_lines = numbered
    atoms = []
    for number, line in atom_lines:
        fields = line.split()
        if len(fields) != 4:
            raise ValueError(f"malformed xyz line {number}: expected 'El x y z' (4 fields), got {line!r}")
        try:
            position = tuple(_coordinate(x) for x in fields[1:])
        except ValueError:
            raise ValueError(f"malformed xyz line {number}: non-numeric coordinate in {line!r}")
        atoms.append((fields[0], position))
    return atoms
