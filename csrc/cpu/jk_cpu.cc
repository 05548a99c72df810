#include "cpu/jk_cpu.h"

#include <algorithm>

#include "cpu/parallel_for.h"
#include "cpu/jk_row_cpu.h"
#include "qpt/packed_index.h"

namespace qpt::cpu {
namespace {

// Splits the packed rows into `chunks` ranges holding about the same number of integrals
// (row p holds p+1 of them), so threads finish together.
std::vector<int64_t> balanced_row_bounds(int64_t npair, int64_t chunks) {
  const double total = static_cast<double>(packed_pair_count(npair));
  std::vector<int64_t> bounds{0};
  for (int64_t c = 1; c < chunks; ++c) {
    // rows [0, r) hold r(r+1)/2 integrals; solve r(r+1)/2 = total * c / chunks.
    const double target = total * static_cast<double>(c) / static_cast<double>(chunks);
    const int64_t row = static_cast<int64_t>((std::sqrt(8.0 * target + 1.0) - 1.0) / 2.0);
    if (row > bounds.back() && row < npair) bounds.push_back(row);
  }
  bounds.push_back(npair);
  return bounds;
}

// Each chunk of rows accumulates into buffers it owns, so additions are plain and the bulk loops may
// vectorise; the buffers are summed in chunk order, so results do not depend on which thread ran which chunk.
template <typename T>
struct ChunkAccumulators {
  std::vector<T> k_half;    // [ndens, n, n]
  std::vector<T> j_packed;  // [ndens, npair]
};

}  // namespace

template <typename T>
void jk_packed(xla::ffi::ThreadPool& pool, const JkJob<T>& job, int64_t n, bool with_j, bool with_k) {
  const int64_t npair = packed_pair_count(n);
  const int64_t ndens = static_cast<int64_t>(job.densities.size());

  std::vector<T> symmetric(ndens * n * n), packed(ndens * npair);
  for (int64_t d = 0; d < ndens; ++d) {
    const T* dm = job.densities[d];
    for (int64_t a = 0; a < n; ++a) {
      for (int64_t b = 0; b <= a; ++b) {
        const T mean = (dm[a * n + b] + dm[b * n + a]) / T(2);
        symmetric[d * n * n + a * n + b] = mean;
        symmetric[d * n * n + b * n + a] = mean;
        packed[d * npair + packed_pair_index(a, b)] = (a == b) ? mean : T(2) * mean;
      }
    }
  }

  const std::vector<int64_t> bounds = balanced_row_bounds(npair, lane_count(pool));
  std::vector<ChunkAccumulators<T>> accumulators(bounds.size() - 1);

  parallel_for(pool, static_cast<int64_t>(bounds.size()) - 1, [&](int64_t chunk, int64_t) {
    ChunkAccumulators<T>& acc = accumulators[chunk];
    acc.k_half.assign(with_k ? ndens * n * n : 1, T(0));
    acc.j_packed.assign(with_j ? ndens * npair : 1, T(0));
    for (int64_t row = bounds[chunk]; row < bounds[chunk + 1]; ++row) {
      const int64_t i = packed_pair_row(row);
      const int64_t j = row - i * (i + 1) / 2;
      for (int64_t d = 0; d < ndens; ++d) {
        const JkTargets<T> targets{symmetric.data() + d * n * n, packed.data() + d * npair,
                                   acc.k_half.data() + (with_k ? d * n * n : 0),
                                   acc.j_packed.data() + (with_j ? d * npair : 0), n, with_j, with_k};
        jk_row_plain(i, j, job.eri, targets);
      }
    }
  });

  for (int64_t d = 0; d < ndens; ++d) {
    if (with_j) {
      T* out = job.coulomb[d];
      for (int64_t a = 0; a < n; ++a) {
        for (int64_t b = 0; b <= a; ++b) {
          T sum = 0;
          for (const auto& acc : accumulators) {
            sum += acc.j_packed[d * npair + packed_pair_index(a, b)];
          }
          out[a * n + b] = sum;
          out[b * n + a] = sum;
        }
      }
    }
    if (with_k) {
      T* out = job.exchange[d];
      for (int64_t a = 0; a < n; ++a) {
        for (int64_t b = 0; b <= a; ++b) {
          T sum = 0;
          for (const auto& acc : accumulators) {
            sum += acc.k_half[d * n * n + a * n + b] + acc.k_half[d * n * n + b * n + a];
          }
          out[a * n + b] = sum;
          out[b * n + a] = sum;
        }
      }
    }
  }
}

template void jk_packed<float>(xla::ffi::ThreadPool&, const JkJob<float>&, int64_t, bool, bool);
template void jk_packed<double>(xla::ffi::ThreadPool&, const JkJob<double>&, int64_t, bool, bool);

}  // namespace qpt::cpu
