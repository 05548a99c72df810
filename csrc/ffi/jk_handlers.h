// The J/K FFI handler symbols, one per platform; the pybind11 modules hand them to Python as capsules.
#pragma once

#include "xla/ffi/api/ffi.h"

namespace qpt {
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_packed_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_packed_cuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_direct_cpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(jk_direct_cuda);
}  // namespace qpt
