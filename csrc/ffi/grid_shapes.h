// Argument checks and batch layout of the grid calls (density on the grid, potential matrix), shared by
// the CPU and CUDA handlers.
//
// The basis arrives as attributes (angular momentum of each shell, primitive offsets, spherical flag) and
// as arrays centers [*, nshell, 3], exponents [*, nprim], coefficients [*, nprim]; the grid as coords
// [*, G, 3]; plus the cart -> spherical table (kSphTableSize values) and the op's own operands, density
// [*, N, N] or v_rho [*, G] and v_grad [*, G, 3]. All operands have equal numbers of leading batch dims
// that broadcast (as vmap's "expand_dims" method produces them). Outputs that share one geometry
// (the same centers, exponents, coefficients and coords) are grouped, so one pass over the grid's AO
// blocks serves all of them.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ffi/basis_layout.h"
#include "ffi/batch_layout.h"
#include "qpt/gto_eval.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

// The checked call: basis, grid size, batch layout (operands 0..3 are centers, exponents, coefficients,
// coords, then the op's own) and the outputs grouped by geometry.
struct GridCall {
  BasisLayout basis;
  int64_t npoint = 0;
  BatchLayout batch;
  std::map<std::array<int64_t, 4>, std::vector<int64_t>> outputs_by_geometry;
};

// `own` lists the op's own operands; their core dims may use kPoints and kAos for G and N.
constexpr int64_t kPoints = -1, kAos = -2;

inline xla::ffi::Error grid_call(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                 xla::ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                 const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                 const xla::ffi::AnyBuffer& coefficients, const xla::ffi::AnyBuffer& coords,
                                 const xla::ffi::AnyBuffer& sph_table,
                                 std::vector<std::pair<const xla::ffi::AnyBuffer*, Operand>> own, GridCall* call) {
  using xla::ffi::DataType;
  using xla::ffi::Error;
  if (std::isnan(threshold)) return Error::InvalidArgument(op + ": the screening threshold is NaN");
  if (auto error = basis_layout(op, angular, prim_offsets, spherical, kAoMaxAngular, "the grid kernels support",
                                &call->basis);
      !error.success()) {
    return error;
  }
  const auto dtype = coords.element_type();
  if (dtype != DataType::F32 && dtype != DataType::F64) {
    return Error::InvalidArgument(op + ": dtype must be float32 or float64");
  }
  for (const auto* buffer : {&centers, &exponents, &coefficients, &sph_table}) {
    if (buffer->element_type() != dtype) return Error::InvalidArgument(op + ": all operands must share one dtype");
  }
  for (const auto& [buffer, operand] : own) {
    if (buffer->element_type() != dtype) return Error::InvalidArgument(op + ": all operands must share one dtype");
  }
  if (static_cast<int64_t>(sph_table.element_count()) != kSphTableSize) {
    return Error::InvalidArgument(op + ": the cart -> spherical table must hold " + std::to_string(kSphTableSize) +
                                  " values");
  }
  const auto c = coords.dimensions();
  if (c.size() < 2 || c[c.size() - 1] != 3) {
    return Error::InvalidArgument(op + ": coords must be [..., G, 3], got " + dims_text(c));
  }
  call->npoint = c[c.size() - 2];
  const ShellLayout layout = call->basis.view();
  std::vector<Operand> operands{{"centers", centers.dimensions(), {layout.nshell, 3}},
                                {"exponents", exponents.dimensions(), {layout.nprim}},
                                {"coefficients", coefficients.dimensions(), {layout.nprim}},
                                {"coords", c, {call->npoint, 3}}};
  for (auto& [buffer, operand] : own) {
    for (int64_t& size : operand.core) size = size == kPoints ? call->npoint : (size == kAos ? layout.nao : size);
    operands.push_back(operand);
  }
  if (auto error = batch_layout(op, operands, &call->batch); !error.success()) return error;
  for (int64_t out = 0; out < call->batch.outputs; ++out) {
    const std::array<int64_t, 4> key{call->batch.index[0][out], call->batch.index[1][out], call->batch.index[2][out],
                                     call->batch.index[3][out]};
    call->outputs_by_geometry[key].push_back(out);
  }
  return Error::Success();
}

// A density_on_grid call: the operands, then rho [..., G] and grad_rho [..., G, 3] in the inputs' dtype.
inline xla::ffi::Error density_call(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                    xla::ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                    const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                    const xla::ffi::AnyBuffer& coefficients, const xla::ffi::AnyBuffer& coords,
                                    const xla::ffi::AnyBuffer& sph_table, const xla::ffi::AnyBuffer& density,
                                    const xla::ffi::AnyBuffer& rho, const xla::ffi::AnyBuffer& grad_rho,
                                    GridCall* call) {
  if (auto error = grid_call(op, angular, prim_offsets, spherical, threshold, centers, exponents, coefficients,
                             coords, sph_table, {{&density, {"density", density.dimensions(), {kAos, kAos}}}}, call);
      !error.success()) {
    return error;
  }
  if (auto error = check_output(op, "rho", rho.dimensions(), call->batch.dims, {call->npoint}); !error.success()) {
    return error;
  }
  if (auto error = check_output(op, "grad_rho", grad_rho.dimensions(), call->batch.dims, {call->npoint, 3});
      !error.success()) {
    return error;
  }
  if (rho.element_type() != density.element_type() || grad_rho.element_type() != density.element_type()) {
    return xla::ffi::Error::InvalidArgument(op + ": outputs must have the dtype of the inputs");
  }
  return xla::ffi::Error::Success();
}

// A potential_matrix call: the operands, then V [..., N, N] in the inputs' dtype.
inline xla::ffi::Error potential_call(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                      xla::ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                      const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                      const xla::ffi::AnyBuffer& coefficients, const xla::ffi::AnyBuffer& coords,
                                      const xla::ffi::AnyBuffer& sph_table, const xla::ffi::AnyBuffer& v_rho,
                                      const xla::ffi::AnyBuffer& v_grad, const xla::ffi::AnyBuffer& potential,
                                      GridCall* call) {
  if (auto error = grid_call(op, angular, prim_offsets, spherical, threshold, centers, exponents, coefficients,
                             coords, sph_table,
                             {{&v_rho, {"v_rho", v_rho.dimensions(), {kPoints}}},
                              {&v_grad, {"v_grad", v_grad.dimensions(), {kPoints, 3}}}},
                             call);
      !error.success()) {
    return error;
  }
  const int64_t nao = call->basis.view().nao;
  if (auto error = check_output(op, "V", potential.dimensions(), call->batch.dims, {nao, nao}); !error.success()) {
    return error;
  }
  if (potential.element_type() != v_rho.element_type()) {
    return xla::ffi::Error::InvalidArgument(op + ": the output must have the dtype of the inputs");
  }
  return xla::ffi::Error::Success();
}

// The operands, attributes and results of the grid FFI targets after the platform's context (thread pool, or
// stream and scratch), shared by the CPU and CUDA bindings so both always match the Python call's order.
template <typename Binding>
auto grid_geometry_arguments(Binding&& binding) {
  return std::move(binding)
      .template Arg<xla::ffi::AnyBuffer>()   // centers: [..., nshell, 3]
      .template Arg<xla::ffi::AnyBuffer>()   // exponents: [..., nprim]
      .template Arg<xla::ffi::AnyBuffer>()   // coefficients: [..., nprim]
      .template Arg<xla::ffi::AnyBuffer>()   // coords: [..., G, 3]
      .template Arg<xla::ffi::AnyBuffer>();  // cart -> spherical table
}

template <typename Binding>
auto density_on_grid_binding(Binding&& context) {
  return basis_attributes(grid_geometry_arguments(std::move(context))
                              .template Arg<xla::ffi::AnyBuffer>())  // density: [..., N, N]
      .template Ret<xla::ffi::AnyBuffer>()                           // rho: [..., G]
      .template Ret<xla::ffi::AnyBuffer>();                          // grad_rho: [..., G, 3]
}

template <typename Binding>
auto potential_matrix_binding(Binding&& context) {
  return basis_attributes(grid_geometry_arguments(std::move(context))
                              .template Arg<xla::ffi::AnyBuffer>()   // v_rho: [..., G]
                              .template Arg<xla::ffi::AnyBuffer>())  // v_grad: [..., G, 3]
      .template Ret<xla::ffi::AnyBuffer>();                          // V: [..., N, N]
}

}  // namespace qpt::ffi_shapes
