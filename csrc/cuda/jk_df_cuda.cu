// Density-fitted J/K on CUDA. J: one block per aux function reduces rho_P over the packed row, then one
// thread per (p, q) sums L[P, pq] rho_P over P (reads coalesced along the row). K: per chunk of aux
// functions, one thread per (P, p, o) forms X_P[p, o] = sum_q L^P_pq F_qo, then one thread per lower
// element (p, r) adds sum_{P, o} X_P[p, o] s_o X_P[r, o]; chunks run in stream order, so every K element
// has one writer at a time and no atomics are needed.
#include "cuda/jk_df_cuda.h"

#include <algorithm>

#include "qpt/df_jk.h"

namespace qpt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxChunkElements = int64_t{1} << 26;  // X_P scratch bound: 512 MB of float64

unsigned blocks_for(int64_t count) {
  return static_cast<unsigned>(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 65535));
}

template <typename T>
__global__ void fitted_density(JkDfOutput<T> out, int64_t naux, int64_t n, T* rho) {
  __shared__ T partial[kThreads];
  const int64_t npair = packed_pair_count(n);
  for (int64_t aux = blockIdx.x; aux < naux; aux += gridDim.x) {
    const T* row = out.cderi + aux * npair;
    T sum = 0;
    for (int64_t pq = threadIdx.x; pq < npair; pq += blockDim.x) {
      const int64_t p = packed_pair_row(pq), q = pq - p * (p + 1) / 2;
      sum += row[pq] * packed_density(out.density, n, p, q);
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
      __syncthreads();
    }
    if (threadIdx.x == 0) rho[aux] = partial[0];
    __syncthreads();
  }
}

template <typename T>
__global__ void coulomb_from_rho(JkDfOutput<T> out, int64_t naux, int64_t n, const T* rho) {
  const int64_t npair = packed_pair_count(n);
  for (int64_t pq = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; pq < npair;
       pq += int64_t(gridDim.x) * blockDim.x) {
    T sum = 0;
    for (int64_t aux = 0; aux < naux; ++aux) sum += out.cderi[aux * npair + pq] * rho[aux];
    const int64_t p = packed_pair_row(pq), q = pq - p * (p + 1) / 2;
    out.coulomb[p * n + q] = sum;
    out.coulomb[q * n + p] = sum;
  }
}

template <typename T>
__global__ void half_transform(JkDfOutput<T> out, int64_t first, int64_t count, int64_t n, int64_t m, T* x) {
  const int64_t npair = packed_pair_count(n);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count * n * m;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t local = e / (n * m), p = (e / m) % n, o = e % m;
    const T* row = out.cderi + (first + local) * npair;
    T sum = 0;
    for (int64_t q = 0; q < n; ++q) sum += unpacked_element(row, p, q) * out.factor[q * m + o];
    x[e] = sum;
  }
}

template <typename T>
__global__ void exchange_update(JkDfOutput<T> out, int64_t count, int64_t n, int64_t m, const T* x) {
  const int64_t lower = packed_pair_count(n);
  for (int64_t pr = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; pr < lower;
       pr += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = packed_pair_row(pr), r = pr - p * (p + 1) / 2;
    T sum = 0;
    for (int64_t local = 0; local < count; ++local) {
      const T* xp = x + local * n * m;
      for (int64_t o = 0; o < m; ++o) sum += xp[p * m + o] * out.signs[o] * xp[r * m + o];
    }
    out.exchange[p * n + r] += sum;
    if (p != r) out.exchange[r * n + p] += sum;
  }
}

}  // namespace

int64_t jk_df_aux_chunk(int64_t naux, int64_t n, int64_t m) {
  const int64_t per_aux = std::max<int64_t>(n * m, 1);
  return std::clamp<int64_t>(kMaxChunkElements / per_aux, 1, std::max<int64_t>(naux, 1));
}

int64_t jk_df_scratch_elements(int64_t naux, int64_t n, int64_t m) {
  return std::max<int64_t>(naux, 1) + jk_df_aux_chunk(naux, n, m) * std::max<int64_t>(n * m, 1);
}

template <typename T>
cudaError_t launch_jk_df(const JkDfOutput<T>& output, int64_t naux, int64_t n, int64_t m, bool with_j,
                         bool with_k, T* scratch, cudaStream_t stream) {
  const size_t bytes = sizeof(T) * n * n;
  T* rho = scratch;
  T* x = scratch + std::max<int64_t>(naux, 1);
  if (with_j) {
    if (naux > 0) {
      fitted_density<T><<<static_cast<unsigned>(std::min<int64_t>(naux, 65535)), kThreads, 0, stream>>>(
          output, naux, n, rho);
      coulomb_from_rho<T><<<blocks_for(packed_pair_count(n)), kThreads, 0, stream>>>(output, naux, n, rho);
    } else {
      cudaMemsetAsync(output.coulomb, 0, bytes, stream);
    }
  } else {
    cudaMemsetAsync(output.coulomb, 0, bytes, stream);
  }
  cudaMemsetAsync(output.exchange, 0, bytes, stream);
  if (with_k && m > 0) {
    const int64_t chunk = jk_df_aux_chunk(naux, n, m);
    for (int64_t first = 0; first < naux; first += chunk) {
      const int64_t count = std::min(chunk, naux - first);
      half_transform<T><<<blocks_for(count * n * m), kThreads, 0, stream>>>(output, first, count, n, m, x);
      exchange_update<T><<<blocks_for(packed_pair_count(n)), kThreads, 0, stream>>>(output, count, n, m, x);
    }
  }
  return cudaGetLastError();
}

template cudaError_t launch_jk_df<float>(const JkDfOutput<float>&, int64_t, int64_t, int64_t, bool, bool, float*,
                                         cudaStream_t);
template cudaError_t launch_jk_df<double>(const JkDfOutput<double>&, int64_t, int64_t, int64_t, bool, bool,
                                          double*, cudaStream_t);

}  // namespace qpt::cuda
