// CPU drivers of the density on the grid and of its transpose, the potential matrix.
//
// Both walk the grid in blocks of kGridBlock points on XLA's thread pool. A block computes the values and
// gradients of the AOs of its significant shells (grid_screening.h), uses them for every density (or
// potential) of the call and discards them, so the [grid, AO, 4] table never exists. The tabulated
// variants instead read blocks that tabulate_aos evaluated once, for a caller that makes many passes
// over one geometry (a training step makes about a dozen).
#pragma once

#include <cstdint>
#include <vector>

#include "qpt/shell_layout.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

constexpr int64_t kGridBlock = 64;

inline int64_t grid_block_count(int64_t npoint) { return (npoint + kGridBlock - 1) / kGridBlock; }

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

// AO blocks of one geometry as tabulate_aos writes them: block b's rows at
// values[b][capacity][4][kGridBlock] (rows past its count up to the next multiple of the kernels' tile
// are zero, the rest unused) and index[b][capacity + 1] = {row count, AO index of each row}. capacity is a
// multiple of kTabulatedRowMultiple, at least nao rounded up to it, so every block fits whatever it keeps.
constexpr int64_t kTabulatedRowMultiple = 32;

template <typename T>
struct TabulatedAos {
  T* values;
  int32_t* index;
  int64_t capacity;
};

template <typename T>
void tabulate_aos(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& geometry,
                  double threshold, const TabulatedAos<T>& table);

// density_on_grid and potential_matrix over a tabulated grid of npoint points; the same arithmetic in the
// same order, so the same results bit for bit. false (and outputs undefined) when a block's header is
// out of range: a row count above capacity or an AO index outside [0, nao).
template <typename T>
bool density_on_grid_tabulated(xla::ffi::ThreadPool& pool, const TabulatedAos<T>& table, int64_t npoint,
                               int64_t nao, const std::vector<const T*>& densities, const std::vector<T*>& rho,
                               const std::vector<T*>& grad_rho);

template <typename T>
bool potential_matrix_tabulated(xla::ffi::ThreadPool& pool, const TabulatedAos<T>& table, int64_t npoint,
                                int64_t nao, const std::vector<const T*>& v_rho, const std::vector<const T*>& v_grad,
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
