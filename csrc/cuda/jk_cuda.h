// CUDA launcher of the packed-ERI J/K contraction (same header math as the CPU driver).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace qpt::cuda {

template <typename T>
struct JkBatch {
  const T* eri;                     // [eri_count, L]
  const T* density;                 // [density_count, n, n]
  const int64_t* eri_of_output;     // device, [outputs]
  const int64_t* density_of_output; // device, [outputs]
  T* coulomb;                       // [outputs, n, n]
  T* exchange;                      // [outputs, n, n]
  T* scratch;                       // device, jk_scratch_elements(n, outputs) values
  int64_t outputs;
  int64_t n;
  bool with_j;
  bool with_k;
};

// Scratch per output: symmetric density, packed density, K half, packed J.
int64_t jk_scratch_elements(int64_t n, int64_t outputs);

template <typename T>
cudaError_t launch_jk_packed(const JkBatch<T>& batch, cudaStream_t stream);

}  // namespace qpt::cuda
