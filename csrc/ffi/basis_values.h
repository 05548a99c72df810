// Checks of the basis arrays' values, made by every handler that takes a basis before any kernel runs.
//
// Shapes are checked elsewhere (grid_shapes.h); these are the values the math relies on: a negative or NaN
// exponent sends the Boys table lookup out of bounds (T < 0) and the screening radius search into an endless
// loop (an infinite coefficient), and a NaN centre or coefficient is silently screened away, giving finite,
// wrong results. Under jit Python sees only tracers, so this is the check that always runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

// Host copies (or views) of the three basis arrays, every batch entry included.
template <typename T>
struct BasisValues {
  const T* centers;
  int64_t center_count;
  const T* exponents;
  int64_t exponent_count;
  const T* coefficients;
  int64_t coefficient_count;
};

template <typename T>
xla::ffi::Error check_basis_values(const std::string& op, const BasisValues<T>& values) {
  using xla::ffi::Error;
  for (int64_t i = 0; i < values.exponent_count; ++i) {
    const double alpha = static_cast<double>(values.exponents[i]);
    if (!(std::isfinite(alpha) && alpha > 0.0)) {
      return Error::InvalidArgument(op + ": basis exponent " + std::to_string(i) + " is " + std::to_string(alpha) +
                                    "; Gaussian exponents must be finite and > 0");
    }
  }
  for (int64_t i = 0; i < values.coefficient_count; ++i) {
    if (!std::isfinite(static_cast<double>(values.coefficients[i]))) {
      return Error::InvalidArgument(op + ": basis coefficient " + std::to_string(i) + " is not finite");
    }
  }
  for (int64_t i = 0; i < values.center_count; ++i) {
    if (!std::isfinite(static_cast<double>(values.centers[i]))) {
      return Error::InvalidArgument(op + ": shell centre " + std::to_string(i / 3) + " has a non-finite coordinate");
    }
  }
  return Error::Success();
}

// The check on arrays the handler can read directly (the CPU handlers).
inline xla::ffi::Error check_host_basis(const std::string& op, const xla::ffi::AnyBuffer& centers,
                                        const xla::ffi::AnyBuffer& exponents, const xla::ffi::AnyBuffer& coefficients) {
  auto check = [&](auto zero) {
    using T = decltype(zero);
    return check_basis_values<T>(op, {centers.typed_data<T>(), static_cast<int64_t>(centers.element_count()),
                                      exponents.typed_data<T>(), static_cast<int64_t>(exponents.element_count()),
                                      coefficients.typed_data<T>(), static_cast<int64_t>(coefficients.element_count())});
  };
  if (exponents.element_type() == xla::ffi::DataType::F64) return check(0.0);
  return check(0.0f);
}

}  // namespace qpt::ffi_shapes
