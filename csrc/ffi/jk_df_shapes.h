// Shape checks and batch layout of the density-fitted J/K call, shared by the CPU and CUDA handlers.
//
// cderi [*E, naux, npair], density [*B, n, n], factor [*F, n, m], signs [*S, m], with npair = n(n+1)/2,
// batch dims broadcast (ffi/batch_layout.h). J and K are [*broadcast(E, B, F, S), n, n]. Every output is
// mapped to the flat index of each of its inputs, so one pass over each geometry's factors serves all the
// densities that use it.
// Only shapes are read: no value of any array can send a kernel out of bounds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ffi/batch_layout.h"
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
    return Error::InvalidArgument("qpt jk_df: density must be [..., n, n], got " + dims_text(d));
  }
  const size_t lead = d.size() - 2;
  const int64_t n = d[lead];
  if (c.size() != lead + 2 || c[lead + 1] != packed_pair_count(n)) {
    return Error::InvalidArgument("qpt jk_df: cderi must be [..., naux, " + std::to_string(packed_pair_count(n)) +
                                  "] with the density's number of batch dims (n = " + std::to_string(n) +
                                  "), got " + dims_text(c));
  }
  if (f.size() != lead + 2 || f[lead] != n || s.size() != lead + 1 || s[lead] != f[lead + 1]) {
    return Error::InvalidArgument("qpt jk_df: factor must be [..., n, m] and signs [..., m], got " +
                                  dims_text(f) + " and " + dims_text(s));
  }
  const int64_t m = f[lead + 1];
  BatchLayout batch;
  if (auto error = batch_layout("qpt jk_df", {{"cderi", c, {kAnySize, packed_pair_count(n)}}, {"density", d, {n, n}},
                                              {"factor", f, {n, m}}, {"signs", s, {m}}},
                                &batch);
      !error.success()) {
    return error;
  }
  for (const auto& [name, out] : {std::pair{"J", &out_j}, std::pair{"K", &out_k}}) {
    if (auto error = check_output("qpt jk_df", name, *out, batch.dims, {n, n}); !error.success()) return error;
  }
  layout->n = n;
  layout->naux = c[lead];
  layout->m = m;
  layout->cderi_count = batch.count[0];
  layout->cderi_of_output = std::move(batch.index[0]);
  layout->density_of_output = std::move(batch.index[1]);
  layout->factor_of_output = std::move(batch.index[2]);
  layout->signs_of_output = std::move(batch.index[3]);
  return Error::Success();
}

}  // namespace qpt::ffi_shapes
