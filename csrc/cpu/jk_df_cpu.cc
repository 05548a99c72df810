#include "cpu/jk_df_cpu.h"

#include <algorithm>

#include "cpu/parallel_for.h"
#include "cpu/vector_width.h"
#include "qpt/df_jk.h"

namespace qpt::cpu {
namespace {

// Vectors of kVectorBytes (cpu/vector_width.h) through the compiler's vector extension.
template <typename T>
struct Simd {
  typedef T V __attribute__((vector_size(kVectorBytes)));
  static constexpr int kLanes = kVectorBytes / sizeof(T);
  static V broadcast(T x) { return V{} + x; }
};

// Unaligned vector access: a packed struct makes the compiler emit unaligned loads and stores (an aligned
// typedef's attribute can be lost when the type passes through a template).
template <typename V>
struct __attribute__((packed, may_alias)) UnalignedVector {
  V value;
};

// A register tile is kTileRows x (kTileVectors vectors), with room for its accumulators, the kTileVectors
// loads and one broadcast per step of the inner dimension: 24 + 4 of AVX-512's 32 registers, 12 + 4 of
// AVX2's (and SSE's) 16.
#if defined(__AVX512F__)
constexpr int kTileRows = 8;
#else
constexpr int kTileRows = 4;
#endif
constexpr int kTileVectors = 3;

template <typename T>
constexpr int64_t tile_width() {
  return kTileVectors * Simd<T>::kLanes;
}

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// c[r * ldc + w] (+)= sum_k a[k * lda + r] b[k * ldb + w] for r < kTileRows, w < tile_width<T>().
template <typename T, bool kAccumulate>
inline void gemm_tile(const T* a, int64_t lda, const T* b, int64_t ldb, int64_t depth, T* c, int64_t ldc) {
  using V = typename Simd<T>::V;
  using Unaligned = UnalignedVector<V>;
  constexpr int kLanes = Simd<T>::kLanes;
  V acc[kTileRows][kTileVectors];
  for (int r = 0; r < kTileRows; ++r) {
    for (int v = 0; v < kTileVectors; ++v) acc[r][v] = V{};
  }
  for (int64_t k = 0; k < depth; ++k) {
    const T* b_row = b + k * ldb;
    V bv[kTileVectors];
    for (int v = 0; v < kTileVectors; ++v) bv[v] = reinterpret_cast<const Unaligned*>(b_row + v * kLanes)->value;
    for (int r = 0; r < kTileRows; ++r) {
      const V av = Simd<T>::broadcast(a[k * lda + r]);
      for (int v = 0; v < kTileVectors; ++v) acc[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    for (int v = 0; v < kTileVectors; ++v) {
      auto* target = reinterpret_cast<Unaligned*>(c + r * ldc + v * kLanes);
      target->value = kAccumulate ? target->value + acc[r][v] : acc[r][v];
    }
  }
}

// C = A^T B: A [depth, >= rows] (stride lda), B [depth, >= cols] (stride ldb), C [rows, cols] (stride
// ldc); rows a multiple of kTileRows, cols of the tile width. Column strips outside, so a strip of B
// stays in L1 while every row tile passes over it.
template <typename T>
void gemm_at_b(const T* a, int64_t lda, const T* b, int64_t ldb, int64_t depth, int64_t rows, int64_t cols,
               T* c, int64_t ldc) {
  for (int64_t col = 0; col < cols; col += tile_width<T>()) {
    for (int64_t row = 0; row < rows; row += kTileRows) {
      gemm_tile<T, false>(a + row, lda, b + col, ldb, depth, c + row * ldc + col, ldc);
    }
  }
}

// C += A^T B on the tiles that hold C's lower triangle (row >= col); elements above it in those tiles
// are computed too and never read.
template <typename T>
void gemm_at_b_lower(const T* a, const T* b, int64_t ld, int64_t depth, int64_t rows, int64_t cols, T* c) {
  for (int64_t col = 0; col < cols; col += tile_width<T>()) {
    for (int64_t row = col / kTileRows * kTileRows; row < rows; row += kTileRows) {
      gemm_tile<T, true>(a + row, ld, b + col, ld, depth, c + row * ld + col, ld);
    }
  }
}

// Sizes of one call's padded buffers: matrices are stored with row stride `ld` (n rounded up to the tile
// width, zero columns beyond n), factors with m rounded up to kTileRows (zero columns, zero signs).
template <typename T>
struct Layout {
  int64_t n, npair, ld, rows, m_pad, block;

  Layout(int64_t n_, int64_t m) : n(n_), npair(packed_pair_count(n_)) {
    ld = round_up(std::max<int64_t>(n, 1), tile_width<T>());
    rows = round_up(std::max<int64_t>(n, 1), kTileRows);
    m_pad = round_up(m, kTileRows);
    // Aux functions per K update: their stacked X_P^T (block * m_pad rows of ld) about 128 KB, inside L2.
    const int64_t bytes_per_aux = std::max<int64_t>(m_pad, 1) * ld * static_cast<int64_t>(sizeof(T));
    block = std::clamp<int64_t>((int64_t{128} << 10) / bytes_per_aux, 1, 32);
  }
};

// What a chunk of aux functions adds up; owned by the chunk, summed in chunk order at the end, so the
// result does not depend on which thread ran which chunk.
template <typename T>
struct ChunkAccumulators {
  std::vector<T> j_packed;  // [ndens, npair]
  std::vector<T> k_lower;   // [ndens, rows, ld], lower triangle
};

template <typename T>
void contract_chunk(const JkDfJob<T>& job, const Layout<T>& s, const std::vector<T>& density_packed,
                    const std::vector<T>& factor_padded, const std::vector<T>& sign_padded,
                    const std::vector<char>& needs_signs, int64_t first, int64_t last, bool with_j, bool with_k,
                    ChunkAccumulators<T>& acc) {
  const int64_t ndens = static_cast<int64_t>(job.densities.size());
  const int64_t z_size = s.block * s.m_pad * s.ld;
  acc.j_packed.assign(with_j ? ndens * s.npair : 0, T(0));
  acc.k_lower.assign(with_k ? ndens * s.rows * s.ld : 0, T(0));
  std::vector<T> dense(with_k ? s.n * s.ld : 0, T(0));
  std::vector<T> x_t(with_k ? ndens * z_size : 0);
  const bool any_signed = std::any_of(needs_signs.begin(), needs_signs.end(), [](char c) { return c; });
  std::vector<T> x_t_signed(with_k && any_signed ? ndens * z_size : 0);

  for (int64_t start = first; start < last; start += s.block) {
    const int64_t count = std::min(s.block, last - start);
    for (int64_t slot = 0; slot < count; ++slot) {
      const T* row = job.cderi + (start + slot) * s.npair;
      if (with_k) unpack_symmetric_row(row, s.n, dense.data(), s.ld);
      for (int64_t d = 0; d < ndens; ++d) {
        if (with_j) {
          const T* dp = density_packed.data() + d * s.npair;
          T* j = acc.j_packed.data() + d * s.npair;
          T rho = 0;
#pragma omp simd reduction(+ : rho)
          for (int64_t pq = 0; pq < s.npair; ++pq) rho += row[pq] * dp[pq];
#pragma omp simd
          for (int64_t pq = 0; pq < s.npair; ++pq) j[pq] += rho * row[pq];
        }
        if (with_k && s.m_pad > 0) {
          // X_P^T = F^T L^P (L^P symmetric), m_pad x ld, stacked by slot.
          T* x = x_t.data() + d * z_size + slot * s.m_pad * s.ld;
          gemm_at_b(factor_padded.data() + d * s.n * s.m_pad, s.m_pad, dense.data(), s.ld, s.n, s.m_pad, s.ld,
                    x, s.ld);
          if (!needs_signs[d]) continue;  // s = 1 (orbitals): X_P^T serves as both factors
          T* signed_x = x_t_signed.data() + d * z_size + slot * s.m_pad * s.ld;
          const T* sign = sign_padded.data() + d * s.m_pad;
          for (int64_t o = 0; o < s.m_pad; ++o) {
#pragma omp simd
            for (int64_t c = 0; c < s.ld; ++c) signed_x[o * s.ld + c] = sign[o] * x[o * s.ld + c];
          }
        }
      }
    }
    if (with_k && s.m_pad > 0) {
      // K += sum_P X_P diag(s) X_P^T over this block: depth count * m_pad.
      for (int64_t d = 0; d < ndens; ++d) {
        const T* signed_x = (needs_signs[d] ? x_t_signed : x_t).data() + d * z_size;
        gemm_at_b_lower(x_t.data() + d * z_size, signed_x, s.ld, count * s.m_pad, s.rows,
                        s.ld, acc.k_lower.data() + d * s.rows * s.ld);
      }
    }
  }
}

}  // namespace

template <typename T>
void jk_df(xla::ffi::ThreadPool& pool, const JkDfJob<T>& job, int64_t n, int64_t m, bool with_j, bool with_k) {
  // Columns after the last non-zero sign add nothing to K: the general path orders the eigenvectors of D
  // by |eigenvalue| and gives those below round-off sign 0, so a low-rank D (the VJP's cotangents are)
  // costs its rank, not n. `m` stays the stride of the factors as stored.
  int64_t used = 0;
  for (int64_t d = 0; with_k && d < static_cast<int64_t>(job.signs.size()); ++d) {
    for (int64_t column = m; column > used; --column) {
      if (job.signs[d][column - 1] != T(0)) {
        used = column;
        break;
      }
    }
  }
  const Layout<T> s(n, used);
  const int64_t ndens = static_cast<int64_t>(job.densities.size());

  std::vector<T> density_packed(with_j ? ndens * s.npair : 0);
  std::vector<T> factor_padded(with_k ? ndens * n * s.m_pad : 0, T(0));
  std::vector<T> sign_padded(with_k ? ndens * s.m_pad : 0, T(0));
  std::vector<char> needs_signs(ndens, 0);
  for (int64_t d = 0; d < ndens; ++d) {
    if (with_j) {
      for (int64_t p = 0; p < n; ++p) {
        for (int64_t q = 0; q <= p; ++q) {
          density_packed[d * s.npair + packed_pair_index(p, q)] = packed_density(job.densities[d], n, p, q);
        }
      }
    }
    if (with_k) {
      for (int64_t p = 0; p < n; ++p) {
        std::copy(job.factors[d] + p * m, job.factors[d] + p * m + used,
                  factor_padded.begin() + d * n * s.m_pad + p * s.m_pad);
      }
      std::copy(job.signs[d], job.signs[d] + used, sign_padded.begin() + d * s.m_pad);
      // A column with sign 0 must add nothing even where its F column is not zero (the signed copy zeroes
      // it); padding columns of F are zero, so only a sign other than +1 in use needs the signed copy.
      needs_signs[d] = std::any_of(job.signs[d], job.signs[d] + used, [](T sign) { return sign != T(1); });
    }
  }

  const int64_t chunks = std::min(job.naux, lane_count(pool));
  std::vector<ChunkAccumulators<T>> accumulators(chunks);
  parallel_for(pool, chunks, [&](int64_t chunk, int64_t) {
    contract_chunk(job, s, density_packed, factor_padded, sign_padded, needs_signs, job.naux * chunk / chunks,
                   job.naux * (chunk + 1) / chunks, with_j, with_k, accumulators[chunk]);
  });

  for (int64_t d = 0; d < ndens; ++d) {
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = 0; q <= p; ++q) {
        if (with_j) {
          T sum = 0;
          for (const auto& acc : accumulators) sum += acc.j_packed[d * s.npair + packed_pair_index(p, q)];
          job.coulomb[d][p * n + q] = job.coulomb[d][q * n + p] = sum;
        }
        if (with_k) {
          T sum = 0;
          for (const auto& acc : accumulators) sum += acc.k_lower[d * s.rows * s.ld + p * s.ld + q];
          job.exchange[d][p * n + q] = job.exchange[d][q * n + p] = sum;
        }
      }
    }
  }
}

template void jk_df<float>(xla::ffi::ThreadPool&, const JkDfJob<float>&, int64_t, int64_t, bool, bool);
template void jk_df<double>(xla::ffi::ThreadPool&, const JkDfJob<double>&, int64_t, int64_t, bool, bool);

}  // namespace qpt::cpu
