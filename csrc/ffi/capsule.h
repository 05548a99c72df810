// Wraps an FFI handler symbol in the capsule jax.ffi.register_ffi_target expects.
#pragma once

#include <pybind11/pybind11.h>

#include <type_traits>

#include "xla/ffi/api/c_api.h"

namespace qpt {

template <typename Handler>
pybind11::capsule handler_capsule(Handler* handler) {
  static_assert(std::is_invocable_r_v<XLA_FFI_Error*, Handler, XLA_FFI_CallFrame*>,
                "an XLA FFI handler takes a call frame");
  return pybind11::capsule(reinterpret_cast<void*>(handler));
}

}  // namespace qpt
