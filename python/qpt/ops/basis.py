"""BasisShells: a basis flattened to single-contraction shells with every normalisation folded in.

This is the basis description the ops take: arrays and a static layout, no molecule and no PySCF
(qpt.system.basis builds one from a PySCF Mole). A shell is one centre, one angular momentum l and one
contracted radial function
    R(r) = sum_p coefficients[p] * exp(-exponents[p] * r^2)      (p over the shell's primitives).
Its cartesian component x^a y^b z^c (a+b+c = l, PySCF order) is x^a y^b z^c R(r), with x, y, z
relative to the centre, and equals PySCF's `mol.eval_ao('GTOval_cart')` column for column; the
spherical AOs are `cartesian @ cart_to_sph_matrix(l)` and equal `mol.eval_ao('GTOval_sph')`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np

from ._spherical_table import CART_TO_SPH
from ._spherical_table import MAX_L as SPHERICAL_MAX_L


def n_cartesian(l: int) -> int:
    return (l + 1) * (l + 2) // 2


def n_spherical(l: int) -> int:
    return 2 * l + 1


def cartesian_powers(l: int) -> np.ndarray:
    """[ncart(l), 3] integer powers (a, b, c) of x^a y^b z^c in PySCF's cartesian order (xx, xy, xz, yy, ...)."""
    return np.array([(a, l - a - c, c) for a in range(l, -1, -1) for c in range(0, l - a + 1)], dtype=np.int64)


@functools.lru_cache(maxsize=None)
def _cart_to_sph_cached(l: int) -> np.ndarray:
    matrix = np.array(CART_TO_SPH[l], dtype=np.float64).reshape(n_cartesian(l), n_spherical(l))
    matrix.setflags(write=False)
    return matrix


def cart_to_sph_matrix(l: int) -> np.ndarray:
    """[ncart(l), 2l+1] map from PySCF-normalised cartesian components to PySCF's real spherical AOs.

    Columns are in PySCF's spherical order: px, py, pz for l = 1, m = -l..l for l >= 2. Read-only. The s and
    p cartesian functions already carry libcint's factors, so l = 0, 1 give the identity. Tabulated for the
    l the kernels take (SPHERICAL_MAX_L); ops/_spherical_table.py is PySCF's transform written out.
    """
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 0 <= l <= SPHERICAL_MAX_L:
        raise ValueError(f"angular momentum must be an integer 0..{SPHERICAL_MAX_L}, got {l!r}")
    return _cart_to_sph_cached(int(l))


@dataclass(frozen=True, eq=False)
class BasisShells:
    """Flat shells of one molecule's basis (atomic units), in PySCF's AO order.

    Arrays (pytree children): centers [nshell, 3] bohr, exponents [nprim], coefficients [nprim]
    (normalisation included, see the module docstring). Static (hashable) aux data: angular (l per
    shell), prim_offsets (shell s owns primitives prim_offsets[s]:prim_offsets[s+1]), ao_offsets (shell
    s owns AOs ao_offsets[s]:ao_offsets[s+1]), spherical (AOs spherical, else cartesian), nao.
    """

    centers: np.ndarray
    exponents: np.ndarray
    coefficients: np.ndarray
    angular: tuple
    prim_offsets: tuple
    ao_offsets: tuple
    spherical: bool
    nao: int

    def __post_init__(self):
        # Only the static layout is checked: under jax transforms the arrays may be tracers or placeholders.
        nshell = len(self.angular)
        if len(self.prim_offsets) != nshell + 1 or len(self.ao_offsets) != nshell + 1:
            raise ValueError(f"BasisShells: prim_offsets and ao_offsets need nshell + 1 = {nshell + 1} entries, "
                             f"got {len(self.prim_offsets)} and {len(self.ao_offsets)}")
        if self.ao_offsets[-1] != self.nao:
            raise ValueError(f"BasisShells: ao_offsets end at {self.ao_offsets[-1]}, nao is {self.nao}")
        size = n_spherical if self.spherical else n_cartesian
        for s, l in enumerate(self.angular):
            if self.ao_offsets[s + 1] - self.ao_offsets[s] != size(l):
                raise ValueError(f"BasisShells: shell {s} (l={l}) spans "
                                 f"{self.ao_offsets[s + 1] - self.ao_offsets[s]} AOs, expected {size(l)}")
            if self.prim_offsets[s + 1] <= self.prim_offsets[s]:
                raise ValueError(f"BasisShells: shell {s} has no primitives")

    @property
    def nshell(self) -> int:
        return len(self.angular)

    @property
    def nprim(self) -> int:
        return self.prim_offsets[-1]

    @property
    def max_l(self) -> int:
        return max(self.angular, default=0)

    @property
    def shell_nprim(self) -> tuple:
        """Number of primitives of each shell."""
        return tuple(b - a for a, b in zip(self.prim_offsets[:-1], self.prim_offsets[1:]))


jax.tree_util.register_dataclass(
    BasisShells,
    data_fields=["centers", "exponents", "coefficients"],
    meta_fields=["angular", "prim_offsets", "ao_offsets", "spherical", "nao"],
)
