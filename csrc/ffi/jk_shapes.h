// Shape checks and batch layout of the packed-ERI J/K call, shared by the CPU and CUDA handlers.
//
// eri is [*E, L] and density [*B, n, n] with equal numbers of leading dims that broadcast (each pair equal,
// or one of them 1), as vmap's "expand_dims" method produces them; J and K are [*broadcast(E, B), n, n].
// Every output is mapped to the flat indices of its integrals and its density, so one pass over each
// distinct set of integrals serves all densities that use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qpt/packed_index.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

struct JkLayout {
  int64_t n = 0;
  std::vector<int64_t> eri_of_output;      // flat eri index of each output
  std::vector<int64_t> density_of_output;  // flat density index of each output
  int64_t eri_count = 0;                   // number of distinct integral sets
};

inline std::string dims_text(xla::ffi::AnyBuffer::Dimensions dims) {
  std::string text = "[";
  for (size_t a = 0; a < dims.size(); ++a) text += (a ? ", " : "") + std::to_string(dims[a]);
  return text + "]";
}

inline xla::ffi::Error jk_layout(const xla::ffi::AnyBuffer& eri, const xla::ffi::AnyBuffer& density,
                                 const xla::ffi::AnyBuffer::Dimensions& out_j,
                                 const xla::ffi::AnyBuffer::Dimensions& out_k, JkLayout* layout) {
  using xla::ffi::Error;
  const auto e = eri.dimensions();
  const auto d = density.dimensions();
  if (eri.element_type() != density.element_type()) {
    return Error::InvalidArgument("qpt jk: eri and density must have the same dtype");
  }
  if (d.size() < 2 || d[d.size() - 1] != d[d.size() - 2]) {
    return Error::InvalidArgument("qpt jk: density must be [..., n, n], got " + dims_text(d));
  }
  const int64_t n = d[d.size() - 1];
  if (e.size() < 1 || e[e.size() - 1] != packed_eri_length(n)) {
    return Error::InvalidArgument("qpt jk: eri must be [..., " + std::to_string(packed_eri_length(n)) +
                                  "] (8-fold packed for n = " + std::to_string(n) + "), got " +
                                  dims_text(e));
  }
  const size_t lead = d.size() - 2;
  if (e.size() - 1 != lead) {
    return Error::InvalidArgument("qpt jk: eri and density need the same number of batch dims");
  }
  std::vector<int64_t> out_dims(lead);
  for (size_t a = 0; a < lead; ++a) {
    if (e[a] != d[a] && e[a] != 1 && d[a] != 1) {
      return Error::InvalidArgument("qpt jk: batch dims do not broadcast: eri " + dims_text(e) +
                                    ", density " + dims_text(d));
    }
    out_dims[a] = std::max(e[a], d[a]);
  }
  for (const auto* out : {&out_j, &out_k}) {
    bool ok = out->size() == lead + 2 && (*out)[lead] == n && (*out)[lead + 1] == n;
    for (size_t a = 0; ok && a < lead; ++a) ok = (*out)[a] == out_dims[a];
    if (!ok) return Error::InvalidArgument("qpt jk: output shape " + dims_text(*out) + " is wrong");
  }

  int64_t outputs = 1, eri_count = 1;
  for (size_t a = 0; a < lead; ++a) {
    outputs *= out_dims[a];
    eri_count *= e[a];
  }
  layout->n = n;
  layout->eri_count = eri_count;
  layout->eri_of_output.assign(outputs, 0);
  layout->density_of_output.assign(outputs, 0);
  for (int64_t o = 0; o < outputs; ++o) {
    int64_t rest = o, eri_index = 0, density_index = 0, eri_stride = 1, density_stride = 1;
    for (size_t a = lead; a-- > 0;) {
      const int64_t coordinate = rest % out_dims[a];
      rest /= out_dims[a];
      if (e[a] != 1) eri_index += coordinate * eri_stride;
      if (d[a] != 1) density_index += coordinate * density_stride;
      eri_stride *= e[a];
      density_stride *= d[a];
    }
    layout->eri_of_output[o] = eri_index;
    layout->density_of_output[o] = density_index;
  }
  return Error::Success();
}

}  // namespace qpt::ffi_shapes
