"""Pure-JAX twins of `qpt.ops`, with identical signatures: the baseline for tests and benches."""
from .density_matrix import density_matrix
from .grid import ao_values, density_on_grid, potential_matrix, tabulate_grid
from .jk import coulomb, exchange, jk, unpack_eri
from .jk_df import jk_df, unpack_cderi

__all__ = ["jk", "coulomb", "exchange", "unpack_eri", "jk_df", "unpack_cderi", "density_matrix", "density_on_grid",
           "potential_matrix", "ao_values", "tabulate_grid"]
