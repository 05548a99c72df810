// CUDA launchers of the density on the grid and of the potential matrix (same header math as the CPU
// driver: gto_eval.h, grid_screening.h, grid_contraction.h).
//
// One CUDA block (kCudaGridBlock threads, one per point) handles a block of grid points at a time: it
// screens the shells against the points' bounding box, evaluates the significant AOs into its own slice
// of device scratch, contracts them with every density (or potential) of the call and moves on, so the
// [grid, AO, 4] table never exists. Potential matrices are accumulated in float64 with atomics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

#include "qpt/shell_layout.h"

namespace qpt::cuda {

constexpr int kCudaGridBlock = 128;

// Device pointers of one geometry.
template <typename T>
struct DeviceGeometry {
  const T* centers;       // [nshell, 3]
  const T* exponents;     // [nprim]
  const T* coefficients;  // [nprim]
  const T* coords;        // [npoint, 3]
  const T* sph_table;     // [kSphTableSize]
  int64_t npoint;
};

// Work of one call on one geometry: `inputs` are the flat indices (into the operand's batch) of the
// densities (or of v_rho and v_grad), `outputs` the flat output indices they produce.
struct GridJob {
  std::vector<int64_t> inputs;
  std::vector<int64_t> v_grad_inputs;  // potential_matrix only
  std::vector<int64_t> outputs;
};

// Bytes of device scratch a launch needs (`basis` holds host pointers).
template <typename T>
size_t density_scratch_bytes(const ShellLayout& basis, int64_t npoint, int64_t jobs);
template <typename T>
size_t potential_scratch_bytes(const ShellLayout& basis, int64_t npoint, int64_t jobs);

// density: [*, nao, nao]; rho: [*, npoint]; grad_rho: [*, npoint, 3] (batch bases, indexed by `job`).
template <typename T>
cudaError_t launch_density_on_grid(const ShellLayout& basis, const DeviceGeometry<T>& geometry, double threshold,
                                   const T* density, T* rho, T* grad_rho, const GridJob& job, void* scratch,
                                   size_t scratch_bytes, cudaStream_t stream);

// v_rho: [*, npoint]; v_grad: [*, npoint, 3]; potential: [*, nao, nao].
template <typename T>
cudaError_t launch_potential_matrix(const ShellLayout& basis, const DeviceGeometry<T>& geometry, double threshold,
                                    const T* v_rho, const T* v_grad, T* potential, const GridJob& job,
                                    void* scratch, size_t scratch_bytes, cudaStream_t stream);

}  // namespace qpt::cuda
