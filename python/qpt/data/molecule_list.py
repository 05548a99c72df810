"""Lists of molecules for training one model across chemical space.

A list is a text file with one molecule per line, optionally followed by its split:

    # comment lines, blank lines and text after whitespace + '#' are ignored
    water                    train      <- a catalog name (qpt.system.CATALOG_NAMES)
    geometries/ala.xyz       heldout    <- an xyz file, relative to the list's directory
    CC(=O)Nc1ccccc1                     <- anything else is SMILES (qpt.data.smiles)

An entry is read as a catalog name if it is one, else as an xyz file if that file exists, else as SMILES.
Entries that give no usable molecule (a bad SMILES, an element the basis or `elements` lacks, an open shell,
too many heavy atoms, a repeat) are skipped and counted, with one warning naming them; a malformed line (an
unknown split, extra columns) is an error of the file and raises. `qpt.data.molecule_sets` names the lists
that ship with qpt.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Optional

from qpt.data.molecule_sets import builtin_set_path
from qpt.data.smiles import SmilesError, molecule_from_smiles
from qpt.system import CATALOG_NAMES, Molecule
from qpt.system.molecule import check_basis

SPLITS = ("train", "heldout")
_INLINE_COMMENT = re.compile(r"\s#")
_SHOWN_SKIPS = 5  # the warning names this many skipped entries, then counts the rest


@dataclass(frozen=True)
class MoleculeEntry:
    name: str             # the entry as written: catalog name, xyz path or SMILES
    molecule: Molecule
    split: Optional[str]  # "train", "heldout" or None when the line gives none


@dataclass(frozen=True)
class SkippedEntry:
    line: int    # 1-based line number in the list
    name: str
    reason: str


@dataclass(frozen=True)
class MoleculeList:
    path: str
    entries: tuple   # MoleculeEntry, in file order
    skipped: tuple   # SkippedEntry, in file order

    def __len__(self) -> int:
        return len(self.entries)

    def split(self, name: str) -> "MoleculeList":
        """The entries of one split (their skipped entries are not kept)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
        return MoleculeList(self.path, tuple(e for e in self.entries if e.split == name), ())

    @property
    def molecules(self) -> tuple:
        return tuple(entry.molecule for entry in self.entries)


def molecule_from_entry(text: str, base_dir: str = ".", seed: int = 0) -> Molecule:
    """One entry of a list: a catalog name, an xyz file (relative paths from base_dir) or SMILES."""
    if text.lower() in CATALOG_NAMES:
        return Molecule.from_catalog(text)
    path = os.path.join(base_dir, text)
    if os.path.isfile(path):
        return Molecule.from_xyz(path)
    return molecule_from_smiles(text, seed=seed)


def _parse_line(raw: str, number: int, path: str):
    """(entry, split) of a line, or None for blank and comment lines."""
    # '#' is also SMILES's triple bond, so a comment starts a line or follows whitespace.
    fields = [] if raw.lstrip().startswith("#") else _INLINE_COMMENT.split(raw, 1)[0].split()
    if not fields:
        return None
    if len(fields) > 2:
        raise ValueError(f"{path}, line {number}: expected 'molecule [split]', got {len(fields)} fields: {raw.strip()!r}")
    split = fields[1].lower() if len(fields) == 2 else None
    if split is not None and split not in SPLITS:
        raise ValueError(f"{path}, line {number}: unknown split {fields[1]!r}, expected one of {', '.join(SPLITS)}")
    return fields[0], split


def read_molecule_list(path_or_name, *, basis: Optional[str] = None, elements=None,
                       max_heavy_atoms: Optional[int] = None, seed: int = 0, warn: bool = True) -> MoleculeList:
    """Read a molecule list (a file, or the name of a list in qpt.data.molecule_sets).

    basis: skip molecules with an element this basis lacks. elements: skip molecules with any other element.
    max_heavy_atoms: skip molecules with more non-hydrogen atoms. seed: the SMILES embedding seed.
    warn: one UserWarning counting and naming the skipped entries. Raises ValueError when no entry is usable."""
    path = builtin_set_path(path_or_name) or os.fspath(path_or_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"molecule list {path!r} does not exist (nor is it a built-in list)")
    allowed = None if elements is None else {str(symbol).strip().capitalize() for symbol in elements}
    base_dir = os.path.dirname(os.path.abspath(path))
    entries, skipped, seen = [], [], set()
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, raw in enumerate(lines, start=1):
        parsed = _parse_line(raw, number, path)
        if parsed is None:
            continue
        name, split = parsed
        reason = "a repeat of an earlier entry" if name in seen else None
        molecule = None
        if reason is None:
            try:
                molecule = molecule_from_entry(name, base_dir, seed)
                reason = _unsupported(molecule, basis, allowed, max_heavy_atoms)
            except (SmilesError, ValueError) as error:
                reason = str(error)
        seen.add(name)
        if reason is not None:
            skipped.append(SkippedEntry(number, name, reason))
        else:
            entries.append(MoleculeEntry(name, molecule, split))
    if skipped and warn:
        warnings.warn(_skip_message(path, skipped, len(entries)), stacklevel=2)
    if not entries:
        raise ValueError(f"molecule list {path}: no usable molecule"
                         + (f" ({len(skipped)} skipped; first: {skipped[0].name}: {skipped[0].reason})" if skipped else ""))
    return MoleculeList(path, tuple(entries), tuple(skipped))


def _unsupported(molecule: Molecule, basis, allowed, max_heavy_atoms) -> Optional[str]:
    if allowed is not None:
        other = sorted(set(molecule.symbols) - allowed)
        if other:
            return f"element(s) {', '.join(other)} not in {', '.join(sorted(allowed))}"
    if max_heavy_atoms is not None:
        heavy = sum(symbol != "H" for symbol in molecule.symbols)
        if heavy > max_heavy_atoms:
            return f"{heavy} heavy atoms, more than {max_heavy_atoms}"
    if molecule.n_electrons % 2 or molecule.spin:
        return f"open shell ({molecule.n_electrons} electrons, spin {molecule.spin}): only closed shells are supported"
    if basis is not None:
        check_basis(basis, molecule.symbols)  # ValueError names the element; the caller records it
    return None


def _skip_message(path: str, skipped, kept: int) -> str:
    shown = "; ".join(f"line {s.line} {s.name!r}: {s.reason}" for s in skipped[:_SHOWN_SKIPS])
    more = f"; and {len(skipped) - _SHOWN_SKIPS} more" if len(skipped) > _SHOWN_SKIPS else ""
    return f"molecule list {path}: skipped {len(skipped)} of {len(skipped) + kept} entries ({shown}{more})"
