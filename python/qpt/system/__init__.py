"""The molecular system layer: Molecule (xyz, atoms, catalog) -> System (integrals, basis, grid, guess)."""
from qpt.ops.basis import BasisShells
from qpt.system.catalog import CATALOG_NAMES
from qpt.system.grid import Grid
from qpt.system.molecule import Molecule
from qpt.system.system import System

__all__ = ["BasisShells", "CATALOG_NAMES", "Grid", "Molecule", "System"]
