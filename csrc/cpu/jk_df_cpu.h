// CPU driver of density-fitted J/K (math in qpt/df_jk.h): one pass over the Cholesky factors of one
// geometry feeds every density that uses them.
#pragma once

#include <cstdint>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

template <typename T>
struct JkDfJob {
  const T* cderi;                   // [naux, npair] of one geometry
  int64_t naux;
  std::vector<const T*> densities;  // [n, n] each: J's input
  std::vector<const T*> factors;    // [n, m] each: K's input, D = F diag(s) F^T
  std::vector<const T*> signs;      // [m] each
  std::vector<T*> coulomb;          // [n, n] each (unused when !with_j)
  std::vector<T*> exchange;         // [n, n] each (unused when !with_k)
};

template <typename T>
void jk_df(xla::ffi::ThreadPool& pool, const JkDfJob<T>& job, int64_t n, int64_t m, bool with_j, bool with_k);

}  // namespace qpt::cpu
