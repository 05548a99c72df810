"""The named functionals as weighted sums of components, matching PySCF 2.14 / libxc 7 exactly.

PySCF's names, checked with `pyscf.dft.libxc.parse_xc`:
- "LDA,VWN" (= "SVWN"): LDA_X + LDA_C_VWN (VWN5). Our "lda" means this; note PySCF's bare "LDA" is
  Slater exchange alone.
- "PBE": GGA_X_PBE + GGA_C_PBE.
- "B3LYP5": 0.08 LDA_X + 0.72 GGA_X_B88 + 0.19 LDA_C_VWN + 0.81 GGA_C_LYP, 20% HF exchange.
- "B3LYP": libxc's HYB_GGA_XC_B3LYP (PySCF >= 2.3): the same but VWN_RPA, the Gaussian convention.
libxc screens each part of a mixed functional with that part's own threshold; so do the components.
"""
from qpt.dft.functionals.functional import Functional
from qpt.dft.functionals.gga_correlation import LYP, PBE_C
from qpt.dft.functionals.gga_exchange import B88, PBE_X
from qpt.dft.functionals.lda import SLATER, VWN5, VWN_RPA

LDA = Functional("lda", exact_exchange=0.0, components=((1.0, SLATER), (1.0, VWN5)), pyscf_xc="lda,vwn")
PBE = Functional("pbe", exact_exchange=0.0, components=((1.0, PBE_X), (1.0, PBE_C)), pyscf_xc="pbe")
B3LYP5 = Functional(
    "b3lyp5", exact_exchange=0.2, components=((0.08, SLATER), (0.72, B88), (0.19, VWN5), (0.81, LYP)),
    pyscf_xc="b3lyp5",
)
B3LYP = Functional(
    "b3lyp", exact_exchange=0.2, components=((0.08, SLATER), (0.72, B88), (0.19, VWN_RPA), (0.81, LYP)),
    pyscf_xc="b3lyp",
)
