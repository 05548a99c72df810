"""Grid: the DFT integration grid PySCF's RKS would use, as a JAX pytree."""
from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from pyscf.dft import gen_grid

MIN_GRID_LEVEL, MAX_GRID_LEVEL = 0, 9


def check_grid_level(level) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"grid level must be an integer {MIN_GRID_LEVEL}..{MAX_GRID_LEVEL}, got {level!r}")
    if not MIN_GRID_LEVEL <= level <= MAX_GRID_LEVEL:
        raise ValueError(f"grid level must be in {MIN_GRID_LEVEL}..{MAX_GRID_LEVEL}, got {level}")
    return int(level)


def box_order(mol, coords) -> np.ndarray:
    """The permutation by which PySCF's Grids.build groups points into boxes (gen_grid.arg_group_grids): boxes
    of about GROUP_BOX_SIZE bohr over the atoms' bounding box widened by GROUP_BOUNDARY_PENALTY, points
    outside it clamped into the outer layer, boxes in lexicographic order, points in their original order
    within a box. PySCF ranks the box triples with np.unique(axis=0), half of a uracil grid build; one
    integer key per point and a stable argsort give the same permutation (tests/system check it)."""
    atoms = mol.atom_coords()
    low = atoms.min(axis=0) - gen_grid.GROUP_BOUNDARY_PENALTY
    high = atoms.max(axis=0) + gen_grid.GROUP_BOUNDARY_PENALTY
    boxes = ((high - low) * (1.0 / gen_grid.GROUP_BOX_SIZE)).round().astype(int)
    size = (high - low) / boxes
    ids = np.floor((coords - low) * (1.0 / size)).astype(np.int64)
    ids = np.clip(ids, -1, boxes)  # ids run -1 .. boxes in each direction
    span = boxes + 2
    key = ((ids[:, 0] + 1) * span[1] + (ids[:, 1] + 1)) * span[2] + (ids[:, 2] + 1)
    return np.argsort(key, kind="stable")


@dataclass(frozen=True, eq=False)
class Grid:
    """Quadrature points `coords` [G, 3] (bohr) and `weights` [G]; `level` is static pytree metadata.

    The points are PySCF's, in PySCF's order, including the zero-weight points PySCF appends so the
    count is a multiple of its block alignment: integrals over this grid equal PySCF's exactly.
    """

    coords: np.ndarray
    weights: np.ndarray
    level: int

    @classmethod
    def from_pyscf(cls, mol, level: int = 3) -> "Grid":
        """The grid `dft.RKS(mol)` builds with `mf.grids.level = level` (default pruning, Becke partition)."""
        level = check_grid_level(level)
        grids = gen_grid.Grids(mol)
        grids.level = level
        grids.build(sort_grids=False)  # PySCF's own sort is replaced by box_order (same order, faster)
        coords, weights = np.asarray(grids.coords, np.float64), np.asarray(grids.weights, np.float64)
        real = int(np.count_nonzero(grids.atm_idx >= 0))  # the alignment padding comes last, unsorted
        order = np.concatenate([box_order(mol, coords[:real]), np.arange(real, coords.shape[0])])
        return cls(coords[order], weights[order], level)

    @property
    def size(self) -> int:
        return int(self.weights.shape[-1])


jax.tree_util.register_dataclass(Grid, data_fields=["coords", "weights"], meta_fields=["level"])
