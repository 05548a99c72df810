// J/K contraction of 8-fold packed ERIs: the work of one "segment" of integrals (ij|k l) for fixed
// i >= j, k and l = 0 .. l_count-1, which are contiguous in the packed array.
//
// Each unique integral stands for up to 8 index permutations. Instead of enumerating the distinct ones,
// every integral is scaled by 1/2 for each coincidence (i == j, k == l, pair(ij) == pair(kl)) and then
// all permutations are applied; duplicates then add up to exactly one contribution each. For a symmetric
// density, the 8 exchange updates come in transposed pairs, so only 4 are applied to `k_half`, and the
// caller forms K = k_half + k_half^T. Coulomb uses the packed form J[ij] = sum_kl (ij|kl) Dp[kl], with
// Dp[kl] = D_kl + D_lk off the diagonal and D_kk on it, so each integral feeds J[ij] and J[kl].
#pragma once

#include <cstdint>

#include "qpt/host_device.h"
#include "qpt/packed_index.h"

namespace qpt {

template <typename T>
struct JkTargets {
  const T* density;         // [n, n], symmetric
  const T* density_packed;  // [npair], Dp as above
  T* k_half;                // [n, n], 4 of the 8 exchange permutations
  T* j_packed;              // [npair]
  int64_t n;
  bool with_j;
  bool with_k;
};

// `add(ptr, value)` accumulates into shared memory: an atomic add on the GPU, a plain += on the CPU (which
// runs this only for the rows where i == j; cpu/jk_row_cpu.h has its vectorised path for the rest).
// Contributions to K[i,k], K[j,k] and J[ij] are summed over the segment in registers first and added once.
// The coincidences l == k and kl == ij can only happen at the segment's last element, so the bulk of the
// loop has no branches.
template <typename T, typename Add>
QPT_HD void jk_segment(int64_t i, int64_t j, int64_t k, int64_t l_count, const T* integrals,
                       const JkTargets<T>& t, Add add) {
  const int64_t n = t.n;
  const int64_t ij = i * (i + 1) / 2 + j;
  const int64_t kl0 = k * (k + 1) / 2;
  const T row_scale = (i == j) ? T(0.5) : T(1);
  const T d_ij_packed = t.density_packed[ij];
  const T d_jk = t.density[j * n + k];
  const T d_ik = t.density[i * n + k];
  const T* d_row_i = t.density + i * n;
  const T* d_row_j = t.density + j * n;
  const T* dp_segment = t.density_packed + kl0;
  T* j_segment = t.j_packed + kl0;
  T* k_row_i = t.k_half + i * n;
  T* k_row_j = t.k_half + j * n;
  T k_ik = 0, k_jk = 0, j_ij = 0;

  const auto apply = [&](int64_t l, T v, T k_scale, bool feeds_j_kl) {
    if (t.with_j) {
      j_ij += v * dp_segment[l];
      if (feeds_j_kl) add(&j_segment[l], v * d_ij_packed);
    }
    if (t.with_k) {
      const T w = v * k_scale;
      k_ik += w * d_row_j[l];
      k_jk += w * d_row_i[l];
      add(&k_row_i[l], w * d_jk);
      add(&k_row_j[l], w * d_ik);
    }
  };
  const int64_t last = l_count - 1;
  for (int64_t l = 0; l < last; ++l) apply(l, integrals[l], row_scale, true);
  const bool pair_diagonal = (kl0 + last == ij);
  const T last_scale = row_scale * (last == k ? T(0.5) : T(1)) * (pair_diagonal ? T(0.5) : T(1));
  apply(last, integrals[last], last_scale, !pair_diagonal);

  if (t.with_j) add(&t.j_packed[ij], j_ij);
  if (t.with_k) {
    add(&k_row_i[k], k_ik);
    add(&k_row_j[k], k_jk);
  }
}

// Dp from a symmetric density: D_kl + D_lk off the diagonal, D_kk on it.
template <typename T>
QPT_HD T packed_density_entry(const T* density, int64_t n, int64_t k, int64_t l) {
  return k == l ? density[k * n + k] : density[k * n + l] + density[l * n + k];
}

}  // namespace qpt

namespace qpt {

// All segments of one packed row pair(ij) = (i, j): k runs over 0..i, and l over 0..k (0..j when k == i),
// which is exactly the stored range pair(kl) <= pair(ij).
template <typename T, typename Add>
QPT_HD void jk_row(int64_t i, int64_t j, const T* eri, const JkTargets<T>& t, Add add) {
  const int64_t ij = i * (i + 1) / 2 + j;
  const T* row = eri + ij * (ij + 1) / 2;
  for (int64_t k = 0; k <= i; ++k) {
    jk_segment(i, j, k, k < i ? k + 1 : j + 1, row + k * (k + 1) / 2, t, add);
  }
}

}  // namespace qpt
