// Shape checks and batch layout of the density-fitted J/K call, shared by the CPU and CUDA handlers.
//
// cderi [*E, naux, npair], density [*B, n, n], factor [*F, n, m], signs [*S, m], with npair = n(n+1)/2
// and equal numbers of leading dims that broadcast (per dim: equal, or 1), as vmap's "expand_dims" method
// produces them. J and K are [*broadcast(E, B, F, S), n, n]. Every output is mapped to the flat index of
// each of its inputs, so one pass over each geometry's factors serves all the densities that use it.
// Only shapes are read: no value of any array can send a kernel out of bounds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "qpt/packed_index.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

struct JkDfLayout {
  int64_t n = 0, naux = 0, m = 0;
  int64_t cderi_count = 0;                  // distinct geometries
  std::vector<int64_t> cderi_of_output;     // flat cderi index of each output
  std::vector<int64_t> density_of_output;   // flat density index of each output
  std::vector<int64_t> factor_of_output;    // flat factor index of each output
  std::vector<int64_t> signs_of_output;     // flat signs index of each output
};

inline std::string df_dims_text(xla::ffi::AnyBuffer::Dimensions dims) {
  std::string text = "[";
  for (size_t a = 0; a < dims.size(); ++a) text += (a ? ", " : "") + std::to_string(dims[a]);
  return text + "]";
}

inline xla::ffi::Error jk_df_layout(const xla::ffi::AnyBuffer& cderi, const xla::ffi::AnyBuffer& density,
                                    const xla::ffi::AnyBuffer& factor, const xla::ffi::AnyBuffer& signs,
                                    const xla::ffi::AnyBuffer::Dimensions& out_j,
                                    const xla::ffi::AnyBuffer::Dimensions& out_k, JkDfLayout* layout) {
  using xla::ffi::Error;
  const auto c = cderi.dimensions();
  const auto d = density.dimensions();
  const auto f = factor.dimensions();
  const auto s = signs.dimensions();
  const auto type = cderi.element_type();
  if (density.element_type() != type || factor.element_type() != type || signs.element_type() != type) {
    return Error::InvalidArgument("qpt jk_df: cderi, density, factor and signs must share one dtype");
  }
  if (d.size() < 2 || d[d.size() - 1] != d[d.size() - 2]) {
    return Error::InvalidArgument("qpt jk_df: density must be [..., n, n], got " + df_dims_text(d));
  }
  const size_t lead = d.size() - 2;
  const int64_t n = d[lead];
  if (c.size() != lead + 2 || c[lead + 1] != packed_pair_count(n)) {
    return Error::InvalidArgument("qpt jk_df: cderi must be [..., naux, " + std::to_string(packed_pair_count(n)) +
                                  "] with the density's number of batch dims (n = " + std::to_string(n) +
                                  "), got " + df_dims_text(c));
  }
  if (f.size() != lead + 2 || f[lead] != n || s.size() != lead + 1 || s[lead] != f[lead + 1]) {
    return Error::InvalidArgument("qpt jk_df: factor must be [..., n, m] and signs [..., m], got " +
                                  df_dims_text(f) + " and " + df_dims_text(s));
  }
  std::vector<int64_t> out_dims(lead);
  for (size_t a = 0; a < lead; ++a) {
    out_dims[a] = std::max({c[a], d[a], f[a], s[a]});
    for (const int64_t size : {c[a], d[a], f[a], s[a]}) {
      if (size != 1 && size != out_dims[a]) {
        return Error::InvalidArgument("qpt jk_df: batch dims do not broadcast: cderi " + df_dims_text(c) +
                                      ", density " + df_dims_text(d) + ", factor " + df_dims_text(f) +
                                      ", signs " + df_dims_text(s));
      }
    }
  }
  for (const auto* out : {&out_j, &out_k}) {
    bool ok = out->size() == lead + 2 && (*out)[lead] == n && (*out)[lead + 1] == n;
    for (size_t a = 0; ok && a < lead; ++a) ok = (*out)[a] == out_dims[a];
    if (!ok) return Error::InvalidArgument("qpt jk_df: output shape " + df_dims_text(*out) + " is wrong");
  }

  int64_t outputs = 1, cderi_count = 1;
  for (size_t a = 0; a < lead; ++a) {
    outputs *= out_dims[a];
    cderi_count *= c[a];
  }
  layout->n = n;
  layout->naux = c[lead];
  layout->m = f[lead + 1];
  layout->cderi_count = cderi_count;
  layout->cderi_of_output.assign(outputs, 0);
  layout->density_of_output.assign(outputs, 0);
  layout->factor_of_output.assign(outputs, 0);
  layout->signs_of_output.assign(outputs, 0);
  std::vector<int64_t>* targets[] = {&layout->cderi_of_output, &layout->density_of_output,
                                           &layout->factor_of_output, &layout->signs_of_output};
  const xla::ffi::AnyBuffer::Dimensions* inputs[] = {&c, &d, &f, &s};
  for (int input = 0; input < 4; ++input) {
    const auto& dims = *inputs[input];
    std::vector<int64_t>& index_of_output = *targets[input];
    for (int64_t o = 0; o < outputs; ++o) {
      int64_t rest = o, index = 0, stride = 1;
      for (size_t a = lead; a-- > 0;) {
        const int64_t coordinate = rest % out_dims[a];
        rest /= out_dims[a];
        if (dims[a] != 1) index += coordinate * stride;
        stride *= dims[a];
      }
      index_of_output[o] = index;
    }
  }
  return Error::Success();
}

}  // namespace qpt::ffi_shapes
