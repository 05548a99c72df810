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

#include "qpt/gto_eval.h"
#include "qpt/shell_layout.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

using Dimensions = xla::ffi::AnyBuffer::Dimensions;

inline std::string grid_dims_text(Dimensions dims) {
  std::string text = "[";
  for (size_t a = 0; a < dims.size(); ++a) text += (a ? ", " : "") + std::to_string(dims[a]);
  return text + "]";
}

// The basis layout, owned (ShellLayout points into it).
struct GridBasis {
  std::vector<int64_t> angular, prim_offsets, ao_offsets;
  bool spherical = true;

  ShellLayout view() const {
    return {angular.data(), prim_offsets.data(), ao_offsets.data(), static_cast<int64_t>(angular.size()),
            prim_offsets.back(), ao_offsets.back(), spherical};
  }
};

inline xla::ffi::Error grid_basis(const std::string& op, xla::ffi::Span<const int64_t> angular,
                                  xla::ffi::Span<const int64_t> prim_offsets, bool spherical, GridBasis* basis) {
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
    if (angular[s] < 0 || angular[s] > kMaxAngular) {
      return Error::InvalidArgument(op + ": shell " + std::to_string(s) + " has l = " + std::to_string(angular[s]) +
                                    "; the grid kernels support l = 0.." + std::to_string(kMaxAngular));
    }
    if (prim_offsets[s + 1] <= prim_offsets[s]) {
      return Error::InvalidArgument(op + ": shell " + std::to_string(s) + " has no primitives");
    }
    basis->ao_offsets.push_back(basis->ao_offsets.back() + shell_width(static_cast<int>(angular[s]), spherical));
  }
  return Error::Success();
}

// An operand: its dims, and the exact trailing (core) dims it must have after its batch dims.
struct Operand {
  const char* name;
  Dimensions dims;
  std::vector<int64_t> core;
};

struct BatchLayout {
  std::vector<int64_t> dims;               // broadcast batch dims of the outputs
  std::vector<std::vector<int64_t>> index;  // [operand][output]: the operand's flat batch index
  int64_t outputs = 1;
};

inline xla::ffi::Error batch_layout(const std::string& op, const std::vector<Operand>& operands, BatchLayout* layout) {
  using xla::ffi::Error;
  size_t lead = 0;
  for (size_t k = 0; k < operands.size(); ++k) {
    const Operand& o = operands[k];
    const size_t core = o.core.size();
    bool ok = o.dims.size() >= core;
    for (size_t a = 0; ok && a < core; ++a) ok = o.dims[o.dims.size() - core + a] == o.core[a];
    if (!ok) {
      return Error::InvalidArgument(op + ": " + o.name + " must be [..., " +
                                    grid_dims_text(Dimensions(o.core.data(), o.core.size())).substr(1) +
                                    ", got " + grid_dims_text(o.dims));
    }
    if (k == 0) lead = o.dims.size() - core;
    if (o.dims.size() - core != lead) {
      return Error::InvalidArgument(op + ": all operands need the same number of batch dims (" + o.name + " has " +
                                    std::to_string(o.dims.size() - core) + ", expected " + std::to_string(lead) + ")");
    }
  }
  layout->dims.assign(lead, 1);
  for (size_t a = 0; a < lead; ++a) {
    for (const Operand& o : operands) {
      const int64_t size = o.dims[a];
      if (size == 1) continue;
      if (layout->dims[a] != 1 && layout->dims[a] != size) {
        return Error::InvalidArgument(op + ": batch dims do not broadcast (" + o.name + " is " +
                                      grid_dims_text(o.dims) + ")");
      }
      layout->dims[a] = size;
    }
  }
  layout->outputs = 1;
  for (int64_t size : layout->dims) layout->outputs *= size;
  layout->index.assign(operands.size(), std::vector<int64_t>(layout->outputs, 0));
  for (size_t k = 0; k < operands.size(); ++k) {
    for (int64_t out = 0; out < layout->outputs; ++out) {
      int64_t rest = out, index = 0, stride = 1;
      for (size_t a = lead; a-- > 0;) {
        const int64_t coordinate = rest % layout->dims[a];
        rest /= layout->dims[a];
        if (operands[k].dims[a] != 1) index += coordinate * stride;
        stride *= operands[k].dims[a];
      }
      layout->index[k][out] = index;
    }
  }
  return Error::Success();
}

// Checks an output is [batch..., core...].
inline xla::ffi::Error check_output(const std::string& op, const char* name, Dimensions dims,
                                    const std::vector<int64_t>& batch, const std::vector<int64_t>& core) {
  bool ok = dims.size() == batch.size() + core.size();
  for (size_t a = 0; ok && a < batch.size(); ++a) ok = dims[a] == batch[a];
  for (size_t a = 0; ok && a < core.size(); ++a) ok = dims[batch.size() + a] == core[a];
  if (!ok) {
    return xla::ffi::Error::InvalidArgument(op + ": output " + name + " has the wrong shape " + grid_dims_text(dims));
  }
  return xla::ffi::Error::Success();
}

// The checked call: basis, grid size, batch layout (operands 0..3 are centers, exponents, coefficients,
// coords, then the op's own) and the outputs grouped by geometry.
struct GridCall {
  GridBasis basis;
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
  if (auto error = grid_basis(op, angular, prim_offsets, spherical, &call->basis); !error.success()) return error;
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
    return Error::InvalidArgument(op + ": coords must be [..., G, 3], got " + grid_dims_text(c));
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
auto basis_attributes(Binding&& binding) {
  return std::move(binding)
      .template Attr<xla::ffi::Span<const int64_t>>("angular")       // l of each shell
      .template Attr<xla::ffi::Span<const int64_t>>("prim_offsets")  // [nshell + 1]
      .template Attr<bool>("spherical")                              // spherical AOs
      .template Attr<double>("threshold");                           // screening threshold
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
