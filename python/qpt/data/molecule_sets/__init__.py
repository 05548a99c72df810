"""Molecule lists that ship with qpt (text files beside this module; qpt.data.molecule_list reads them).

- organic9: a few hundred small closed-shell organic molecules (H, C, N, O, F; 1 to 9 heavy atoms, QM9-like),
  each tagged train or heldout (a fixed split by a hash of the canonical SMILES). Written by
  scripts/generate_molecule_set.py from the fragment rules there; rerunning it reproduces the file.
"""
from __future__ import annotations

import os
from typing import Optional

_DIRECTORY = os.path.dirname(os.path.abspath(__file__))
BUILTIN_SETS = ("organic9",)


def builtin_set_path(name) -> Optional[str]:
    """The file of the built-in list `name`, or None when `name` is not one."""
    if isinstance(name, str) and name in BUILTIN_SETS:
        return os.path.join(_DIRECTORY, f"{name}.smi")
    return None
