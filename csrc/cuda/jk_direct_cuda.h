// CUDA launcher of the integral-direct J/K (same header math as the CPU driver, csrc/include/qpt/eri_*.h).
//
// One geometry per launch. Each of `kDirectWorkers` threads owns an EriScratch in device memory (about
// 1.3 MB: the quartet engine's arrays are sized for (ff|ff) with 16 primitives per shell) and walks bra shell
// pairs worker, worker + kDirectWorkers, ...; J/K halves are accumulated with atomicAdd in float64, so GPU
// results are not bitwise reproducible (summation order varies), unlike the CPU's.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace qpt::cuda {

constexpr int kDirectWorkers = 256;

template <typename T>
struct DirectLaunch {
  const T* centers;                   // [nshell, 3] of this geometry
  const T* exponents;                 // [nprim]
  const T* coefficients;              // [nprim]
  const T* sph_table;                 // kSphTableSize
  const T* density;                   // base of all densities
  T* coulomb;                         // base of all J outputs
  T* exchange;                        // base of all K outputs
  const int64_t* density_of_output;   // device, [count]: flat density index of each output of this geometry
  const int64_t* output_index;        // device, [count]: flat output index
  const int64_t* angular;             // device, [nshell]
  const int64_t* prim_offsets;        // device, [nshell + 1]
  const int64_t* ao_offsets;          // device, [nshell + 1]
  const double* boys_table;           // device, kBoysTableSize
  void* work;                         // device, direct_work_bytes(...)
  int64_t count;
  int64_t nshell;
  int64_t nprim;
  int64_t nao;
  bool spherical;
  double threshold;
  bool with_j;
  bool with_k;
};

size_t direct_work_bytes(int64_t nshell, int64_t nprim, int64_t nao, int64_t count);

template <typename T>
cudaError_t launch_jk_direct(const DirectLaunch<T>& launch, cudaStream_t stream);

}  // namespace qpt::cuda
