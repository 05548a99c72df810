// Shape checks and batch layout of the packed-ERI J/K call, shared by the CPU and CUDA handlers.
//
// eri is [*E, L] and density [*B, n, n], batch dims broadcast (ffi/batch_layout.h); J and K are
// [*broadcast(E, B), n, n].
// Every output is mapped to the flat indices of its integrals and its density, so one pass over each
// distinct set of integrals serves all densities that use it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ffi/batch_layout.h"
#include "qpt/packed_index.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

struct JkLayout {
  int64_t n = 0;
  std::vector<int64_t> eri_of_output;      // flat eri index of each output
  std::vector<int64_t> density_of_output;  // flat density index of each output
  int64_t eri_count = 0;                   // number of distinct integral sets
};

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
  BatchLayout batch;
  if (auto error = batch_layout("qpt jk", {{"eri", e, {packed_eri_length(n)}}, {"density", d, {n, n}}}, &batch);
      !error.success()) {
    return error;
  }
  for (const auto& [name, out] : {std::pair{"J", &out_j}, std::pair{"K", &out_k}}) {
    if (auto error = check_output("qpt jk", name, *out, batch.dims, {n, n}); !error.success()) return error;
  }
  layout->n = n;
  layout->eri_count = batch.count[0];
  layout->eri_of_output = std::move(batch.index[0]);
  layout->density_of_output = std::move(batch.index[1]);
  return Error::Success();
}

}  // namespace qpt::ffi_shapes
