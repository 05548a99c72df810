"""How many SCF iterations PySCF needs from a given starting density, to measure a prediction as an
SCF guess: PySCF's RKS with its default settings (DIIS, conv_tol 1e-9) on the same basis, functional and
grid, started from the predicted density (dm0) or from its default guess (minao).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from qpt.dft.functionals import get_functional


def pyscf_scf_iterations(molecule, basis: str, xc: str, grid_level: int,
                         density: Optional[np.ndarray] = None) -> tuple:
    """(iterations, converged) of PySCF's RKS from `density` (None: PySCF's default guess)."""
    from pyscf import dft as pyscf_dft

    mf = pyscf_dft.RKS(molecule.to_pyscf(basis))
    mf.xc, mf.grids.level, mf.verbose = get_functional(xc).pyscf_xc, grid_level, 0
    mf.kernel(dm0=None if density is None else np.asarray(density, dtype=np.float64))
    return int(mf.cycles), bool(mf.converged)
