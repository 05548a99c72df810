"""Grid.from_pyscf sorts the points itself (box_order) instead of PySCF's slower sort: the grid must
still be PySCF's RKS grid point for point, padding included."""
import numpy as np
import pytest
from pyscf.dft import gen_grid

from qpt.system import Molecule
from qpt.system.grid import Grid


@pytest.mark.parametrize("name,level", [("water", 0), ("water", 3), ("ethanol", 2), ("uracil", 1)])
def test_grid_equals_pyscf_point_for_point(name, level):
    mol = Molecule.get(name).to_pyscf("sto-3g")
    grids = gen_grid.Grids(mol)
    grids.level = level
    grids.build()
    grid = Grid.from_pyscf(mol, level)
    np.testing.assert_array_equal(grid.coords, grids.coords)
    np.testing.assert_array_equal(grid.weights, grids.weights)


def test_points_far_outside_the_atoms_fall_into_the_outer_boxes():
    # Exercise the clamping on both sides: a linear molecule whose grid reaches far beyond the boxes.
    mol = Molecule.from_atoms([("H", (0.0, 0.0, 0.0)), ("H", (0.0, 0.0, 1.4))]).to_pyscf("sto-3g")
    grids = gen_grid.Grids(mol)
    grids.level = 4
    grids.build()
    grid = Grid.from_pyscf(mol, 4)
    assert np.abs(grid.coords).max() > 4.2 + 1.4 + 5  # bohr: well outside the boxes (4.2-bohr margin)
    np.testing.assert_array_equal(grid.coords, grids.coords)
