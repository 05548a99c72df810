#include "cuda/jk_cuda.h"

#include "qpt/jk_update.h"
#include "qpt/packed_index.h"

namespace qpt::cuda {
namespace {

// Determinism: the threads of contract_rows add their segments' sums to shared entries of J and K with
// atomicAdd, in whatever order they arrive, so results are reproducible to round-off, not bit for bit (the
// CPU driver's fixed order is). Two orders of the M contributions c to one entry differ by at most
// 2 (M - 1) u sum|c|, u the unit round-off of T: 1.1e-16 for float64, and 6e-8 for float32, which is
// accumulated in float32 here, so float32 results vary between calls at the level of float32's own error.
struct AtomicAdd {
  template <typename T>
  __device__ void operator()(T* target, T value) const { atomicAdd(target, value); }
};

template <typename T>
struct ScratchViews {
  T* symmetric;  // [outputs, n, n]
  T* packed;     // [outputs, npair]
  T* k_half;     // [outputs, n, n]
  T* j_packed;   // [outputs, npair]
};

template <typename T>
__host__ __device__ ScratchViews<T> scratch_views(T* scratch, int64_t n, int64_t outputs) {
  const int64_t nn = n * n, npair = packed_pair_count(n);
  return {scratch, scratch + outputs * nn, scratch + outputs * (nn + npair),
          scratch + outputs * (2 * nn + npair)};
}

template <typename T>
__global__ void prepare_densities(JkBatch<T> b) {
  const ScratchViews<T> s = scratch_views(b.scratch, b.n, b.outputs);
  const int64_t n = b.n, nn = n * n, npair = packed_pair_count(n);
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < b.outputs * nn;
       x += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = x / nn, a = (x % nn) / n, c = x % n;
    const T* dm = b.density + b.density_of_output[o] * nn;
    const T mean = (dm[a * n + c] + dm[c * n + a]) / T(2);
    s.symmetric[x] = mean;
    s.k_half[x] = T(0);
    if (c <= a) {
      s.packed[o * npair + packed_pair_index(a, c)] = (a == c) ? mean : T(2) * mean;
      s.j_packed[o * npair + packed_pair_index(a, c)] = T(0);
    }
  }
}

// blockIdx.y is the output; blocks stride over packed rows, threads over the row's k segments.
template <typename T>
__global__ void contract_rows(JkBatch<T> b) {
  const ScratchViews<T> s = scratch_views(b.scratch, b.n, b.outputs);
  const int64_t n = b.n, npair = packed_pair_count(n), o = blockIdx.y;
  const T* eri = b.eri + b.eri_of_output[o] * packed_eri_length(n);
  const JkTargets<T> targets{s.symmetric + o * n * n, s.packed + o * npair, s.k_half + o * n * n,
                             s.j_packed + o * npair, n, b.with_j, b.with_k};
  for (int64_t row = blockIdx.x; row < npair; row += gridDim.x) {
    const int64_t i = packed_pair_row(row), j = row - i * (i + 1) / 2;
    const T* row_integrals = eri + row * (row + 1) / 2;
    for (int64_t k = threadIdx.x; k <= i; k += blockDim.x) {
      jk_segment(i, j, k, k < i ? k + 1 : j + 1, row_integrals + k * (k + 1) / 2, targets, AtomicAdd{});
    }
  }
}

template <typename T>
__global__ void finalize_outputs(JkBatch<T> b) {
  const ScratchViews<T> s = scratch_views(b.scratch, b.n, b.outputs);
  const int64_t n = b.n, nn = n * n, npair = packed_pair_count(n);
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < b.outputs * nn;
       x += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = x / nn, a = (x % nn) / n, c = x % n;
    b.coulomb[x] = b.with_j ? s.j_packed[o * npair + packed_pair_index(a, c)] : T(0);
    b.exchange[x] = b.with_k ? s.k_half[o * nn + a * n + c] + s.k_half[o * nn + c * n + a] : T(0);
  }
}

int elementwise_blocks(int64_t count, int threads) {
  return static_cast<int>(std::min<int64_t>((count + threads - 1) / threads, 65535));
}

}  // namespace

int64_t jk_scratch_elements(int64_t n, int64_t outputs) {
  return outputs * (2 * n * n + 2 * packed_pair_count(n));
}

template <typename T>
cudaError_t launch_jk_packed(const JkBatch<T>& batch, cudaStream_t stream) {
  if (batch.outputs == 0 || batch.n == 0) return cudaSuccess;
  constexpr int threads = 128;
  const int64_t elements = batch.outputs * batch.n * batch.n;
  prepare_densities<T><<<elementwise_blocks(elements, threads), threads, 0, stream>>>(batch);
  const int64_t npair = packed_pair_count(batch.n);
  const dim3 row_grid(static_cast<unsigned>(std::min<int64_t>(npair, 65535)),
                      static_cast<unsigned>(batch.outputs));
  contract_rows<T><<<row_grid, threads, 0, stream>>>(batch);
  finalize_outputs<T><<<elementwise_blocks(elements, threads), threads, 0, stream>>>(batch);
  return cudaGetLastError();
}

template cudaError_t launch_jk_packed<float>(const JkBatch<float>&, cudaStream_t);
template cudaError_t launch_jk_packed<double>(const JkBatch<double>&, cudaStream_t);

}  // namespace qpt::cuda
