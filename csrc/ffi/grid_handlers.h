// The grid FFI handler symbols (density on the grid, potential matrix, screening counts, the tabulated grid), per platform;
// the pybind11 modules hand them to Python as capsules.
#pragma once

#include "xla/ffi/api/ffi.h"

namespace qpt {
XLA_FFI_DECLARE_HANDLER_SYMBOL(density_on_grid_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(potential_matrix_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(grid_screening_counts_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(tabulate_grid_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(density_on_grid_tabulated_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(potential_matrix_tabulated_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(density_on_grid_cuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(potential_matrix_cuda);
}  // namespace qpt
