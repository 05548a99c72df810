"""Systems and PySCF objects shared by the dft tests, built once per test session."""
import functools

from pyscf import dft as pyscf_dft

from qpt.system import Molecule, System


@functools.lru_cache(maxsize=None)
def system(name, basis, grid_level=1):
    # Packed ERIs whatever the size: these tests compare with PySCF's exact (not density-fitted) RKS.
    return System.from_molecule(Molecule.from_catalog(name), basis=basis, grid_level=grid_level, jk="packed")


# PySCF's own "lda" is Slater exchange alone; qpt's "lda" is Slater + VWN5, PySCF's "lda,vwn".
PYSCF_XC = {"lda": "lda,vwn", "pbe": "pbe", "b3lyp5": "b3lyp5", "b3lyp": "b3lyp"}


@functools.lru_cache(maxsize=None)
def pyscf_rks(name, basis, xc, grid_level=1):
    """An (unconverged) PySCF RKS object on the same molecule and grid level."""
    mf = pyscf_dft.RKS(Molecule.from_catalog(name).to_pyscf(basis))
    mf.xc, mf.grids.level, mf.verbose = PYSCF_XC[xc], grid_level, 0
    mf.grids.build()
    return mf
