// CUDA launcher of the integral-direct J/K (same header math as the CPU driver, csrc/include/qpt/eri_*.h).
//
// One geometry per launch. The host plans the shell pairs (qpt/eri_pair_plan.h: order, storage); one thread
// per pair fills its primitive-pair data on the device. Each of `kDirectWorkers` threads owns an EriWork in
// device memory (about 350 kB, sized for (ff|ff)) and walks bra shell pairs worker, worker + kDirectWorkers,
// ...; J/K halves are accumulated with atomicAdd in float64, so GPU results are not bitwise reproducible
// (summation order varies), unlike the CPU's. Primitive pairs are not screened on the GPU (the CPU drops the
// negligible ones), so the two differ by at most the primitive screening's bound.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "qpt/eri_pair_plan.h"
#include "qpt/shell_layout.h"

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
  const EriClassTables* tables;       // device copy of eri_class_tables()
  const DirectPair* pairs;            // device, [npair] in plan order
  void* work;                         // device, direct_work_bytes(...)
  int64_t count;
  int64_t nshell;
  int64_t nprim;
  int64_t nao;
  int64_t npair;
  int64_t prim_total;         // primitive pairs of the plan
  int64_t coefficient_total;  // term coefficients of the plan
  bool spherical;
  double threshold;
  bool with_j;
  bool with_k;
};

size_t direct_work_bytes(int64_t nshell, int64_t nprim, int64_t nao, int64_t count, const DirectPairPlan& plan);

template <typename T>
cudaError_t launch_jk_direct(const DirectLaunch<T>& launch, cudaStream_t stream);

// Device scratch for the driver (XLA's allocator in the handler): a pointer, or nullptr when it fails.
using DeviceAllocate = std::function<void*(size_t bytes, size_t alignment)>;

// One geometry of a call: its basis arrays (device) and the densities and outputs that use it (flat batch
// indices, host).
template <typename T>
struct DirectGeometry {
  const T* centers;
  const T* exponents;
  const T* coefficients;
  std::vector<int64_t> density_of_output;
  std::vector<int64_t> output_index;
};

// The driver, the CUDA twin of cpu::jk_direct: plans the shell pairs once for the layout, uploads the plan,
// the layout and the Boys and class tables, then launches one geometry after another on `stream`. Returns ""
// or what failed.
template <typename T>
std::string jk_direct(cudaStream_t stream, const DeviceAllocate& allocate, const ShellLayout& layout,
                      const std::vector<DirectGeometry<T>>& geometries, const T* sph_table, const T* density,
                      T* coulomb, T* exchange, double threshold, bool with_j, bool with_k);

}  // namespace qpt::cuda
