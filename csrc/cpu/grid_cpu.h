// CPU drivers of the density on the grid and of its transpose, the potential matrix.
//
// Both walk the grid in blocks of kGridBlock points on XLA's thread pool. A block computes the values and
// gradients of the AOs of its significant shells (grid_screening.h), uses them for every density (or
// potential) of the call and discards them, so the [grid, AO, 4] table never exists.
#pragma once

#include <cstdint>
#include <vector>

#include "qpt/shell_layout.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

constexpr int64_t kGridBlock = 64;

template <typename T>
struct GridGeometry {
  const T* centers;       // [nshell, 3] bohr
  const T* exponents;     // [nprim]
  const T* coefficients;  // [nprim], normalisation included
  const T* coords;        // [npoint, 3] bohr
  const T* sph_table;     // [kSphTableSize], cart -> spherical matrices (gto_eval.h)
  int64_t npoint;
};

// rho[d] [npoint] and grad_rho[d] [npoint, 3] of the symmetric part of each densities[d] [nao, nao].
template <typename T>
void density_on_grid(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& geometry,
                     double threshold, const std::vector<const T*>& densities, const std::vector<T*>& rho,
                     const std::vector<T*>& grad_rho);

// potential[p] [nao, nao] from v_rho[p] [npoint] and v_grad[p] [npoint, 3] (grid_contraction.h).
template <typename T>
void potential_matrix(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& geometry,
                      double threshold, const std::vector<const T*>& v_rho, const std::vector<const T*>& v_grad,
                      const std::vector<T*>& potential);

// How much work the screening of one geometry keeps, summed over blocks.
struct ScreeningCounts {
  int64_t blocks = 0;
  int64_t shell_blocks = 0, kept_shell_blocks = 0;          // (shell, block) pairs
  int64_t primitive_blocks = 0, kept_primitive_blocks = 0;  // (primitive, block) pairs evaluated
  double ao_pair_points = 0, kept_ao_pair_points = 0;       // nao^2 (resp. significant AOs^2) x points
};

template <typename T>
ScreeningCounts screening_counts(const ShellLayout& basis, const GridGeometry<T>& geometry, double threshold);

}  // namespace qpt::cpu
