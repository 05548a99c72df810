"""Grouping many molecules into a few padding layouts (buckets), so the compiled training steps stay few.

Each bucket is one PaddingLayout (qpt.data.padding) and one two-electron engine; its molecules are padded to
it, and every batch comes from one bucket (qpt.data.molecule_schedule), so a run compiles at most one step
per bucket. Molecules are sorted by AO count and cut into buckets of about equal size: neighbours in size
share a layout, which keeps the padding (wasted AOs and grid points) small.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from pyscf.df import addons as df_addons

from qpt.data.padding import PaddingLayout, SystemShape, shell_classes
from qpt.system import Molecule
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid
from qpt.system.two_electron import choose_engine

DEFAULT_MAX_BUCKETS = 4


class Bucket(NamedTuple):
    layout: PaddingLayout
    members: tuple   # indices of its molecules in the list given to plan_buckets
    engine: str      # the two-electron engine of its Systems ("packed", "df" or "direct")


def probe_shape(molecule: Molecule, basis: str, grid_level: int, *, density_fitted: bool = False,
                auxbasis: Optional[str] = None) -> SystemShape:
    """The SystemShape of `molecule` without building its System (no integrals): basis shells, occupied
    orbitals, atoms, grid size (PySCF's, the same at every geometry of the molecule) and, when
    density_fitted, the auxiliary basis size (PySCF's default JK-fitting basis unless `auxbasis`)."""
    mol = molecule.to_pyscf(basis)
    naux = None
    if density_fitted:
        naux = int(df_addons.make_auxmol(mol, auxbasis or df_addons.make_auxbasis(mol)).nao)
    grid = Grid.from_pyscf(mol, grid_level)
    return SystemShape(shell_classes(basis_shells_from_mol(mol)), int(mol.nelectron) // 2, mol.natm, grid.size,
                       not mol.cart, naux)


def plan_buckets(shapes, max_buckets: int = DEFAULT_MAX_BUCKETS, jk: str = "auto") -> tuple:
    """Buckets of the molecules whose SystemShapes are `shapes` (at most max_buckets of them, contiguous in AO
    count). jk: the engine request; "auto" chooses per bucket from its padded AO count (as System does per
    molecule), and a density-fitted bucket's shapes must carry naux (probe_shape(density_fitted=True))."""
    shapes = list(shapes)
    if not shapes:
        raise ValueError("plan_buckets: no molecules")
    if isinstance(max_buckets, bool) or not isinstance(max_buckets, int) or max_buckets < 1:
        raise ValueError(f"plan_buckets: max_buckets must be a positive integer, got {max_buckets!r}")
    order = sorted(range(len(shapes)), key=lambda i: (shapes[i].nao, shapes[i].grid_points, i))
    count = min(max_buckets, len(shapes))
    groups = [order[len(order) * b // count:len(order) * (b + 1) // count] for b in range(count)]
    buckets = []
    for group in groups:
        plain = [shapes[i]._replace(naux=None) for i in group]
        engine, _ = choose_engine(jk, PaddingLayout.covering(plain).nao)
        members = [shapes[i] if engine == "df" else shapes[i]._replace(naux=None) for i in group]
        if engine == "df" and any(shape.naux is None for shape in members):
            raise ValueError("plan_buckets: a density-fitted bucket needs each molecule's naux "
                             "(probe_shape(..., density_fitted=True))")
        buckets.append(Bucket(PaddingLayout.covering(members), tuple(sorted(group)), engine))
    return tuple(buckets)
