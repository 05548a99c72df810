// CUDA launcher of density-fitted J/K (same header math, qpt/df_jk.h, as the CPU driver).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace qpt::cuda {

// One output: J and K of one density with one geometry's factors.
template <typename T>
struct JkDfOutput {
  const T* cderi;    // [naux, npair]
  const T* density;  // [n, n]
  const T* factor;   // [n, m]
  const T* signs;    // [m]
  T* coulomb;        // [n, n]
  T* exchange;       // [n, n]
};

// Aux functions per K pass whose half-transformed factors X_P = L^P F fit the scratch bound.
int64_t jk_df_aux_chunk(int64_t naux, int64_t n, int64_t m);

// Scratch values one output needs: rho [naux] and the X_P of one chunk [chunk, n, m].
int64_t jk_df_scratch_elements(int64_t naux, int64_t n, int64_t m);

template <typename T>
cudaError_t launch_jk_df(const JkDfOutput<T>& output, int64_t naux, int64_t n, int64_t m, bool with_j,
                         bool with_k, T* scratch, cudaStream_t stream);

}  // namespace qpt::cuda
