// Argument checks and batch layout of the integral-direct J/K call, shared by the CPU and CUDA handlers.
//
// The basis arrives as attributes (l of each shell, primitive offsets, spherical flag) and as arrays
// centers [*, nshell, 3], exponents [*, nprim], coefficients [*, nprim], plus the cart -> spherical table
// (kSphTableSize values, any leading size-1 dims) and density [*, N, N]. Batch dims broadcast as vmap's
// "expand_dims" method produces them; J and K are [*batch, N, N]. Outputs that share one geometry are
// grouped, so one pass over the quartets serves all their densities.
#pragma once

#include <array>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ffi/basis_layout.h"
#include "ffi/batch_layout.h"
#include "qpt/eri_md.h"
#include "qpt/gto_eval.h"

namespace qpt::ffi_shapes {

struct DirectCall {
  BasisLayout basis;
  BatchLayout batch;
  std::map<std::array<int64_t, 3>, std::vector<int64_t>> outputs_by_geometry;
};

inline xla::ffi::Error direct_call(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                   xla::ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                   const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                   const xla::ffi::AnyBuffer& coefficients, const xla::ffi::AnyBuffer& sph_table,
                                   const xla::ffi::AnyBuffer& density, const xla::ffi::AnyBuffer& coulomb,
                                   const xla::ffi::AnyBuffer& exchange, DirectCall* call) {
  using xla::ffi::DataType;
  using xla::ffi::Error;
  if (std::isnan(threshold) || threshold < 0) {
    return Error::InvalidArgument(op + ": the screening threshold must be >= 0");
  }
  if (auto error = basis_layout(op, angular, prim_offsets, spherical, kEriMaxAngular, "the ERI engine supports",
                                &call->basis);
      !error.success()) {
    return error;
  }
  for (size_t s = 0; s < angular.size(); ++s) {
    if (prim_offsets[s + 1] - prim_offsets[s] > kEriMaxPrimitives) {
      return Error::InvalidArgument(op + ": shell " + std::to_string(s) + " has more than " +
                                    std::to_string(kEriMaxPrimitives) + " primitives");
    }
  }
  const auto dtype = density.element_type();
  if (dtype != DataType::F32 && dtype != DataType::F64) {
    return Error::InvalidArgument(op + ": dtype must be float32 or float64");
  }
  for (const auto* buffer : {&centers, &exponents, &coefficients, &sph_table, &coulomb, &exchange}) {
    if (buffer->element_type() != dtype) return Error::InvalidArgument(op + ": all operands must share one dtype");
  }
  if (static_cast<int64_t>(sph_table.element_count()) != kSphTableSize) {
    return Error::InvalidArgument(op + ": the cart -> spherical table must hold " + std::to_string(kSphTableSize) +
                                  " values");
  }
  const ShellLayout layout = call->basis.view();
  const std::vector<Operand> operands{{"centers", centers.dimensions(), {layout.nshell, 3}},
                                      {"exponents", exponents.dimensions(), {layout.nprim}},
                                      {"coefficients", coefficients.dimensions(), {layout.nprim}},
                                      {"density", density.dimensions(), {layout.nao, layout.nao}}};
  if (auto error = batch_layout(op, operands, &call->batch); !error.success()) return error;
  for (const auto* out : {&coulomb, &exchange}) {
    if (auto error = check_output(op, out == &coulomb ? "J" : "K", out->dimensions(), call->batch.dims,
                                  {layout.nao, layout.nao});
        !error.success()) {
      return error;
    }
  }
  for (int64_t out = 0; out < call->batch.outputs; ++out) {
    const std::array<int64_t, 3> key{call->batch.index[0][out], call->batch.index[1][out], call->batch.index[2][out]};
    call->outputs_by_geometry[key].push_back(out);
  }
  return Error::Success();
}

// The operands, attributes and results of qpt_jk_direct after the platform's context, shared by the CPU and
// CUDA bindings.
template <typename Binding>
auto jk_direct_binding(Binding&& context) {
  return basis_attributes(std::move(context)
                              .template Arg<xla::ffi::AnyBuffer>()   // centers: [..., nshell, 3]
                              .template Arg<xla::ffi::AnyBuffer>()   // exponents: [..., nprim]
                              .template Arg<xla::ffi::AnyBuffer>()   // coefficients: [..., nprim]
                              .template Arg<xla::ffi::AnyBuffer>()   // cart -> spherical table
                              .template Arg<xla::ffi::AnyBuffer>())  // density: [..., N, N]
      .template Attr<bool>("with_j")                                 // compute J
      .template Attr<bool>("with_k")                                 // compute K
      .template Ret<xla::ffi::AnyBuffer>()                           // J: [..., N, N]
      .template Ret<xla::ffi::AnyBuffer>();                          // K: [..., N, N]
}

}  // namespace qpt::ffi_shapes
