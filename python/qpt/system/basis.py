"""basis_shells_from_mol: a PySCF basis as the ops' BasisShells (qpt.ops.basis), one shell per contraction,
with libcint's normalisation folded into the coefficients."""
from __future__ import annotations

import numpy as np
from pyscf import gto

from qpt.ops.basis import BasisShells, n_cartesian, n_spherical

# libcint normalises the s and p cartesian functions with the constant spherical harmonics Y_00 and
# sqrt(3/4pi) (CINTcommon_fac_sp); for l >= 2 the factor lives in the cart -> spherical transform.
_LIBCINT_SP_FACTOR = {0: 0.282094791773878143, 1: 0.488602511902919921}

# PySCF's cart2sph goes through libcint, which implements the transform up to this l.
MAX_ANGULAR = 15


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
