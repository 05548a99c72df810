"""A batch of conformers of one molecule as one System whose arrays carry a leading batch axis.

The ops take such a batch in one kernel call (their vmap rules use `expand_dims`), so the trainer
`jax.vmap`s its per-geometry loss over this axis. Everything static (symbols, basis layout, grid level,
electron count) must agree; the arrays are stacked.

Grids: PySCF's grid for one molecule and level has the same number of points at every geometry (the
atomic grids depend only on the element, the Becke partition reweights points without dropping any, and
the padding to 8 points depends only on the count). `stack_systems` still pads each grid to a common
`grid_points` with zero-weight points (copies of the grid's last point with weight 0, as PySCF pads to
its alignment: they add exactly nothing to any integral, and the functionals stay finite there), which
keeps the shapes, and with them the compiled step, fixed, and names the problem clearly if a grid ever
outgrows the size the run was compiled for.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from qpt.system import System
from qpt.system.grid import Grid


def pad_grid(grid: Grid, points: int) -> Grid:
    """`grid` with zero-weight points appended (copies of its last point) up to `points` points."""
    size = grid.size
    if size > points:
        raise ValueError(f"a grid of {size} points does not fit the batch's {points} points: conformers of "
                         "one molecule were expected to share PySCF's geometry-independent grid size")
    if size == points:
        return grid
    coords = np.concatenate([grid.coords, np.repeat(grid.coords[-1:], points - size, axis=0)])
    weights = np.concatenate([grid.weights, np.zeros(points - size, dtype=grid.weights.dtype)])
    return Grid(coords, weights, grid.level)


def stack_systems(systems, grid_points: int | None = None) -> System:
    """One System with every array stacked along a new leading axis (len(systems) conformers).

    grid_points: every grid is padded to this many points with zero-weight points (default: the
    largest grid of the batch). Raises ValueError for an empty batch, for Systems of different molecules,
    bases or grid levels, and for a grid larger than grid_points.
    """
    systems = list(systems)
    if not systems:
        raise ValueError("stack_systems: the batch is empty")
    if grid_points is None:
        grid_points = max(s.grid.size for s in systems)
    systems = [dataclasses.replace(s, grid=pad_grid(s.grid, grid_points)) for s in systems]
    structure = jax.tree_util.tree_structure(systems[0])
    for index, system in enumerate(systems[1:], start=1):
        if jax.tree_util.tree_structure(system) != structure:
            raise ValueError(f"stack_systems: System {index} ({system.summary()}) is not a conformer of System 0 "
                             f"({systems[0].summary()}): molecule, basis and grid level must agree")
    return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *systems)
