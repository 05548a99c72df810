// Density-fitted J and K from Cholesky-factored 3-index integrals, the per-element math shared by the CPU
// driver and the CUDA kernels.
//
// The factors are PySCF's `cderi`: L[P, pq] for aux index P and packed pair pq = packed_pair_index(p, q),
// with (pq|rs) ~ sum_P L[P, pq] L[P, rs]. Then
//   J_pq = sum_P L[P, pq] rho_P,  rho_P = sum_rs L[P, rs] D_rs = sum_{r >= s} L[P, rs] Dp[rs],
// with Dp the packed density (off-diagonal D_rs + D_sr, diagonal D_rr), and, for D = F diag(s) F^T
// (F [n, m], s = +-1; for a closed-shell density F = sqrt(2) C_occ and s = 1),
//   K = sum_P X_P diag(s) X_P^T,  X_P = L^P F,
// where L^P is row P unpacked to a symmetric n x n matrix. Both are GEMM-shaped: the drivers tile them.
#pragma once

#include <cstdint>

#include "qpt/host_device.h"
#include "qpt/packed_index.h"

namespace qpt {

// Dp[pq] of a density stored [n, n] row-major: its symmetric part counted for both (p, q) and (q, p).
template <typename T>
QPT_HD T packed_density(const T* density, int64_t n, int64_t p, int64_t q) {
  return p == q ? density[p * n + p] : density[p * n + q] + density[q * n + p];
}

// Element (p, q) of the symmetric matrix unpacked from one packed row.
template <typename T>
QPT_HD T unpacked_element(const T* packed_row, int64_t p, int64_t q) {
  return packed_row[packed_pair_index(p, q)];
}

// Writes the symmetric n x n matrix of a packed row into `dense` (row stride `stride` >= n); columns
// n .. stride-1 are left as they are (the CPU driver keeps them zero as padding).
template <typename T>
QPT_HD void unpack_symmetric_row(const T* packed_row, int64_t n, T* dense, int64_t stride) {
  for (int64_t p = 0; p < n; ++p) {
    const T* segment = packed_row + p * (p + 1) / 2;
    for (int64_t q = 0; q <= p; ++q) {
      dense[p * stride + q] = segment[q];
      dense[q * stride + p] = segment[q];
    }
  }
}

}  // namespace qpt
