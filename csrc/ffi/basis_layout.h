// The basis layout of the ops that take a basis (the grid kernels, integral-direct J/K): the static part of a
// BasisShells (l of each shell, primitive offsets, spherical flag), passed as FFI attributes, checked and
// owned here; the arrays (centers, exponents, coefficients) are operands checked by each op's shapes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qpt/gto_eval.h"
#include "qpt/shell_layout.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

// The basis layout, owned (ShellLayout points into it).
struct BasisLayout {
  std::vector<int64_t> angular, prim_offsets, ao_offsets;
  bool spherical = true;

  ShellLayout view() const {
    return {angular.data(), prim_offsets.data(), ao_offsets.data(), static_cast<int64_t>(angular.size()),
            prim_offsets.back(), ao_offsets.back(), spherical};
  }
};

// Checks the layout (every shell has l in 0..max_l and at least one primitive) and builds the AO offsets.
// `supports` names whose limit max_l is, for the message ("the grid kernels support").
inline xla::ffi::Error basis_layout(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                    xla::ffi::Span<const int64_t> prim_offsets, bool spherical, int max_l,
                                    const char* supports, BasisLayout* basis) {
  using xla::ffi::Error;
  const size_t nshell = angular.size();
  if (nshell == 0) return Error::InvalidArgument(op + ": the basis has no shells");
  if (prim_offsets.size() != nshell + 1 || prim_offsets[0] != 0) {
    return Error::InvalidArgument(op + ": prim_offsets must have nshell + 1 entries starting at 0");
  }
  basis->angular.assign(angular.begin(), angular.end());
  basis->prim_offsets.assign(prim_offsets.begin(), prim_offsets.end());
  basis->ao_offsets.assign(1, 0);
  basis->spherical = spherical;
  for (size_t s = 0; s < nshell; ++s) {
    if (angular[s] < 0 || angular[s] > max_l) {
      return Error::InvalidArgument(op + ": shell " + std::to_string(s) + " has l = " + std::to_string(angular[s]) +
                                    "; " + supports + " l = 0.." + std::to_string(max_l));
    }
    if (prim_offsets[s + 1] <= prim_offsets[s]) {
      return Error::InvalidArgument(op + ": shell " + std::to_string(s) + " has no primitives");
    }
    basis->ao_offsets.push_back(basis->ao_offsets.back() + shell_width(static_cast<int>(angular[s]), spherical));
  }
  return Error::Success();
}

// The FFI attributes of the basis layout and the screening threshold, in the Python call's order (shared by
// the CPU and CUDA bindings of every basis op).
template <typename Binding>
auto basis_attributes(Binding&& binding) {
  return std::move(binding)
      .template Attr<xla::ffi::Span<const int64_t>>("angular")       // l of each shell
      .template Attr<xla::ffi::Span<const int64_t>>("prim_offsets")  // [nshell + 1]
      .template Attr<bool>("spherical")                              // spherical AOs
      .template Attr<double>("threshold");                           // screening threshold
}

}  // namespace qpt::ffi_shapes
