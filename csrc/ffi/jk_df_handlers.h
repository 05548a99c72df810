// The density-fitted J/K FFI handler symbols, one per platform; the pybind11 modules hand them to Python.
#pragma once

#include "xla/ffi/api/ffi.h"

namespace qpt {
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_df_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_df_cuda);
}  // namespace qpt
