"""BasisShells: a PySCF basis flattened to single-contraction shells with every normalisation folded in.

A shell is one centre, one angular momentum l and one contracted radial function
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
from pyscf import gto

# libcint normalises the s and p cartesian functions with the constant spherical harmonics Y_00 and
# sqrt(3/4pi) (CINTcommon_fac_sp); for l >= 2 the factor lives in the cart -> spherical transform.
_LIBCINT_SP_FACTOR = {0: 0.282094791773878143, 1: 0.488602511902919921}

# PySCF's cart2sph goes through libcint, which implements the transform up to this l.
MAX_ANGULAR = 15


def n_cartesian(l: int) -> int:
    return (l + 1) * (l + 2) // 2


def n_spherical(l: int) -> int:
    return 2 * l + 1


def cartesian_powers(l: int) -> np.ndarray:
    """[ncart(l), 3] integer powers (a, b, c) of x^a y^b z^c in PySCF's cartesian order (xx, xy, xz, yy, ...)."""
    return np.array([(a, l - a - c, c) for a in range(l, -1, -1) for c in range(0, l - a + 1)], dtype=np.int64)


@functools.lru_cache(maxsize=None)
def _cart_to_sph_cached(l: int) -> np.ndarray:
    # normalized='sp': the cartesian s and p functions already carry libcint's factor (see above), so the
    # transform for l = 0, 1 is the identity with p ordered px, py, pz, as PySCF's spherical p shells are.
    matrix = np.array(gto.mole.cart2sph(l, normalized="sp"), dtype=np.float64)
    matrix.setflags(write=False)
    return matrix


def cart_to_sph_matrix(l: int) -> np.ndarray:
    """[ncart(l), 2l+1] map from PySCF-normalised cartesian components to PySCF's real spherical AOs.

    Columns are in PySCF's spherical order: px, py, pz for l = 1, m = -l..l for l >= 2. Read-only.
    """
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 0 <= l <= MAX_ANGULAR:
        raise ValueError(f"angular momentum must be an integer 0..{MAX_ANGULAR}, got {l!r}")
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


def basis_shells_from_mol(mol: gto.Mole) -> BasisShells:
    """The shells of a built PySCF Mole, one per contraction, so AO order and count equal PySCF's."""
    if not isinstance(mol, gto.MoleBase):
        raise TypeError(f"basis_shells_from_mol needs a pyscf.gto.Mole, got {type(mol).__name__}")
    if mol._bas is None or len(mol._bas) == 0:
        raise ValueError("basis_shells_from_mol: the Mole has no basis shells; was mol.build() called?")
    spherical = not mol.cart
    centers, exponents, coefficients, angular = [], [], [], []
    prim_offsets, ao_offsets = [0], [0]
    for shell in range(mol.nbas):
        l = int(mol.bas_angular(shell))
        if l > MAX_ANGULAR:
            raise ValueError(f"basis_shells_from_mol: shell {shell} has l={l} > {MAX_ANGULAR}")
        shell_exponents = np.asarray(mol.bas_exp(shell), dtype=np.float64)
        # [nprim, nctr]: contraction coefficients times the primitive norms, each contraction normalised.
        contractions = mol._libcint_ctr_coeff(shell) * _LIBCINT_SP_FACTOR.get(l, 1.0)
        width = n_spherical(l) if spherical else n_cartesian(l)
        for column in contractions.T:
            centers.append(mol.bas_coord(shell))
            exponents.append(shell_exponents)
            coefficients.append(column)
            angular.append(l)
            prim_offsets.append(prim_offsets[-1] + len(shell_exponents))
            ao_offsets.append(ao_offsets[-1] + width)
    nao = ao_offsets[-1]
    expected = mol.nao_nr(cart=mol.cart)
    if nao != expected:
        raise ValueError(f"basis_shells_from_mol: built {nao} AOs, PySCF has {expected}")
    return BasisShells(
        centers=np.asarray(centers, dtype=np.float64).reshape(-1, 3),
        exponents=np.concatenate(exponents),
        coefficients=np.concatenate(coefficients).astype(np.float64),
        angular=tuple(angular),
        prim_offsets=tuple(prim_offsets),
        ao_offsets=tuple(ao_offsets),
        spherical=bool(spherical),
        nao=int(nao),
    )
