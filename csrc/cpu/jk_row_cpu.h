// One packed ERI row (ij|kl), kl <= ij, contracted into J and K on the CPU, where every target is memory the
// calling thread owns.
//
// The shared jk_segment (qpt/jk_update.h) walks a row in segments of fixed k, which the exchange updates
// need, and carries Coulomb along. On the CPU that costs more than it should: a row of uracil/def2-svp has
// ~90 segments of ~50 integrals, so per-segment work (horizontal sums, the scalar last element) rivals the
// bulk. Coulomb needs no segments at all: J[ij] += v . Dp and J[kl] += v Dp[ij] are one dot product and
// one axpy over the whole contiguous row. So J gets two long vector passes here, and the segments carry K
// alone, which also leaves the segment loop fewer streams to vectorise. The sums are vectorised through
// `omp simd reduction` (-fopenmp-simd, no OpenMP runtime): the compiler may not reassociate them otherwise.
// The vector width is fixed at compile time, so the summation order, and the result, is the same every call.
#pragma once

#include <cstdint>

#include "qpt/jk_update.h"

namespace qpt::cpu {

struct PlainAdd {
  template <typename T>
  void operator()(T* target, T value) const { *target += value; }
};

// J from the whole row: J[ij] += sum_kl v Dp[kl]; J[kl] += v Dp[ij] for kl < ij (kl == ij is the pair's
// own diagonal, counted once by the dot product).
template <typename T>
inline void coulomb_row(int64_t ij, const T* __restrict__ row, const T* __restrict__ density_packed,
                        T* __restrict__ j_packed) {
  T dot = 0;
  const T d_ij = density_packed[ij];
#pragma omp simd reduction(+ : dot)
  for (int64_t kl = 0; kl < ij; ++kl) {
    dot += row[kl] * density_packed[kl];
    j_packed[kl] += row[kl] * d_ij;
  }
  j_packed[ij] += dot + row[ij] * d_ij;
}

// The exchange part of jk_segment for i != j, where rows i and j of K are distinct memory, so the bulk
// loop vectorises: for l < count, K[i,k] += w D[j,l]; K[j,k] += w D[i,l]; K[i,l] += w D[j,k];
// K[j,l] += w D[i,k] (w = v scale).
template <typename T>
inline void exchange_segment_bulk(int64_t count, const T* __restrict__ v, const T* __restrict__ d_row_i,
                                  const T* __restrict__ d_row_j, T* __restrict__ k_row_i,
                                  T* __restrict__ k_row_j, T d_ik, T d_jk, T scale, T& k_ik, T& k_jk) {
  T k_ik_sum = 0, k_jk_sum = 0;
#pragma omp simd reduction(+ : k_ik_sum, k_jk_sum)
  for (int64_t l = 0; l < count; ++l) {
    const T w = v[l] * scale;
    k_ik_sum += w * d_row_j[l];
    k_jk_sum += w * d_row_i[l];
    k_row_i[l] += w * d_jk;
    k_row_j[l] += w * d_ik;
  }
  k_ik += k_ik_sum;
  k_jk += k_jk_sum;
}

template <typename T>
inline void jk_row_plain(int64_t i, int64_t j, const T* eri, const JkTargets<T>& t) {
  const int64_t n = t.n;
  const int64_t ij = i * (i + 1) / 2 + j;
  const T* row = eri + ij * (ij + 1) / 2;
  if (t.with_j) coulomb_row(ij, row, t.density_packed, t.j_packed);
  if (!t.with_k) return;
  if (i == j) {
    // Rows i and j of K coincide: the general segment code handles the aliasing (n of the npair rows).
    JkTargets<T> exchange_only = t;
    exchange_only.with_j = false;
    for (int64_t k = 0; k <= i; ++k) {
      jk_segment(i, j, k, k < i ? k + 1 : j + 1, row + k * (k + 1) / 2, exchange_only, PlainAdd{});
    }
    return;
  }
  const T* d_row_i = t.density + i * n;
  const T* d_row_j = t.density + j * n;
  T* k_row_i = t.k_half + i * n;
  T* k_row_j = t.k_half + j * n;
  // The next row starts right after this one and has the same segment layout. Coulomb's pass is the first
  // to touch a row and waits on memory, while the exchange segments work from cache and leave memory idle:
  // prefetching segment k of the next row while working on segment k here overlaps the two.
  const T* next_row = row + ij + 1;
  const bool has_next_row = ij + 1 < n * (n + 1) / 2;
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t k = 0; k <= i; ++k) {
    const int64_t count = k < i ? k + 1 : j + 1;
    const T* segment = row + k * (k + 1) / 2;
    if (has_next_row) {
      for (int64_t at = k * (k + 1) / 2; at < (k + 1) * (k + 2) / 2; at += kLine) __builtin_prefetch(next_row + at);
    }
    const T d_ik = t.density[i * n + k];
    const T d_jk = t.density[j * n + k];
    T k_ik = 0, k_jk = 0;
    // All but the segment's last element carry the plain weight (i != j); the last one may be a k == l
    // or pair(kl) == pair(ij) coincidence, each halving it (see jk_update.h).
    const int64_t last = count - 1;
    exchange_segment_bulk(last, segment, d_row_i, d_row_j, k_row_i, k_row_j, d_ik, d_jk, T(1), k_ik, k_jk);
    const bool pair_diagonal = (k * (k + 1) / 2 + last == ij);
    const T w = segment[last] * (last == k ? T(0.5) : T(1)) * (pair_diagonal ? T(0.5) : T(1));
    k_ik += w * d_row_j[last];
    k_jk += w * d_row_i[last];
    k_row_i[last] += w * d_jk;
    k_row_j[last] += w * d_ik;
    k_row_i[k] += k_ik;
    k_row_j[k] += k_jk;
  }
}

}  // namespace qpt::cpu
