"""Multi-frame xyz files (trajectories): one Molecule per frame."""
from __future__ import annotations

import os
import pathlib

from qpt.system.molecule import Molecule


def read_xyz_frames(text_or_path, charge: int = 0, spin: int = 0) -> list:
    """The frames of a multi-frame xyz file or text (each frame: atom count line, comment line, atom lines),
    Angstrom, as Molecules. A single-frame file gives one. ValueError naming the frame that is malformed."""
    if isinstance(text_or_path, pathlib.Path) or (isinstance(text_or_path, str) and "\n" not in text_or_path.strip()
                                                  and os.path.isfile(text_or_path)):
        text = pathlib.Path(text_or_path).read_text()
    elif isinstance(text_or_path, str):
        text = text_or_path
    else:
        raise TypeError(f"expected xyz text or a path, got {type(text_or_path).__name__}")
    lines = text.splitlines()
    frames, line = [], 0
    while line < len(lines):
        if not lines[line].strip():
            line += 1
            continue
        try:
            count = int(lines[line].split()[0]) if len(lines[line].split()) == 1 else None
        except ValueError:
            count = None
        if count is None or count < 1:
            raise ValueError(f"xyz frame {len(frames) + 1} (line {line + 1}): expected an atom count, "
                             f"got {lines[line]!r}")
        block = lines[line:line + count + 2]
        if len(block) < count + 2:
            raise ValueError(f"xyz frame {len(frames) + 1} (line {line + 1}): {count} atoms announced, the file "
                             "ends first")
        try:
            frames.append(Molecule.from_xyz("\n".join(block), charge=charge, spin=spin))
        except ValueError as error:
            raise ValueError(f"xyz frame {len(frames) + 1} (line {line + 1}): {error}") from None
        line += count + 2
    if not frames:
        raise ValueError("xyz: no frames")
    return frames
