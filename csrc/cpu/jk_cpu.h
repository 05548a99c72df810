// CPU driver of the packed-ERI J/K contraction: one pass over the integrals feeds every density.
#pragma once

#include <cstdint>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

template <typename T>
struct JkJob {
  const T* eri;                     // packed 's8' integrals of one geometry
  std::vector<const T*> densities;  // [n, n] each, all contracted with `eri`
  std::vector<T*> coulomb;          // [n, n] each (unused when !with_j)
  std::vector<T*> exchange;         // [n, n] each (unused when !with_k)
};

template <typename T>
void jk_packed(xla::ffi::ThreadPool& pool, const JkJob<T>& job, int64_t n, bool with_j, bool with_k);

}  // namespace qpt::cpu
