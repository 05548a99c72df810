"""qpt's public kernel ops: custom_vjp functions over the fused native kernels.

`qpt.ops.reference` holds pure-JAX twins with identical signatures; every function in `qpt.dft` takes
either module as its `ops` argument, which is how tests and benches compare the two.

- jk, coulomb, exchange: J/K from 8-fold packed ERIs (fused C++/CUDA kernel).
- jk_df: density-fitted J/K from Cholesky-factored 3-index integrals (PySCF cderi layout).
- jk_direct: J/K integral-direct from the basis shells (ERIs computed per shell quartet, never stored).
- density_matrix: eigh-based density update with an occupied-virtual (degeneracy-safe) VJP; the
  eigensolver is XLA's (LAPACK on CPU, cuSOLVER on GPU).
- density_on_grid, potential_matrix: density (and its gradient) on the grid and the potential matrix,
  fused C++/CUDA kernels that evaluate screened AO blocks on the fly and never store the AO table;
  screening_statistics reports how much work the screening skips. tabulate_grid evaluates the blocks
  once for many passes over one geometry (a TabulatedGrid; tabulated_grid_bytes is its memory).
- BasisShells (qpt.ops.basis): the basis description the basis ops take, arrays and a layout; the ops know
  no molecule (qpt.system builds one from a PySCF Mole).
"""
from .basis import BasisShells
from .density_matrix import density_matrix
from .grid import density_on_grid, potential_matrix, screening_statistics, tabulate_grid
from .jk import coulomb, exchange, jk
from .jk_df import jk_df
from .jk_direct import jk_direct
from .tabulated_grid import TabulatedGrid, tabulated_grid_bytes

__all__ = ["BasisShells", "jk", "coulomb", "exchange", "jk_df", "jk_direct", "density_matrix", "density_on_grid", "potential_matrix",
           "screening_statistics", "tabulate_grid", "TabulatedGrid", "tabulated_grid_bytes"]
