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
        grids.build()
        return cls(np.asarray(grids.coords, dtype=np.float64), np.asarray(grids.weights, dtype=np.float64), level)

    @property
    def size(self) -> int:
        return int(self.weights.shape[-1])


jax.tree_util.register_dataclass(Grid, data_fields=["coords", "weights"], meta_fields=["level"])
