#include "cuda/jk_direct_cuda.h"

#include "qpt/boys.h"
#include "qpt/eri_quartet.h"
#include "qpt/packed_index.h"

namespace qpt::cuda {
namespace {

struct AtomicAdd {
  __device__ void operator()(double* target, double value) const { atomicAdd(target, value); }
};

// Slices of the work buffer, float64.
struct Work {
  double* centers;        // [nshell, 3]
  double* exponents;      // [nprim]
  double* coefficients;   // [nprim]
  double* sph_table;      // kSphTableSize
  double* symmetric;      // [count, n, n]
  double* j_half;         // [count, n, n]
  double* k_half;         // [count, n, n]
  double* bounds;         // [npair] Schwarz bounds of the shell pairs
  double* block_density;  // [nshell, nshell] largest |D| of each block over the densities
  EriScratch* scratch;    // [kDirectWorkers]
};

constexpr size_t kAlign = 256;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

__host__ __device__ Work work_views(void* base, int64_t nshell, int64_t nprim, int64_t nao, int64_t count) {
  char* cursor = static_cast<char*>(base);
  const auto take = [&](size_t bytes) {
    char* start = cursor;
    cursor += (bytes + kAlign - 1) / kAlign * kAlign;
    return start;
  };
  const int64_t npair = nshell * (nshell + 1) / 2, nn = nao * nao;
  Work w;
  w.centers = reinterpret_cast<double*>(take(sizeof(double) * 3 * nshell));
  w.exponents = reinterpret_cast<double*>(take(sizeof(double) * nprim));
  w.coefficients = reinterpret_cast<double*>(take(sizeof(double) * nprim));
  w.sph_table = reinterpret_cast<double*>(take(sizeof(double) * kSphTableSize));
  w.symmetric = reinterpret_cast<double*>(take(sizeof(double) * count * nn));
  w.j_half = reinterpret_cast<double*>(take(sizeof(double) * count * nn));
  w.k_half = reinterpret_cast<double*>(take(sizeof(double) * count * nn));
  w.bounds = reinterpret_cast<double*>(take(sizeof(double) * npair));
  w.block_density = reinterpret_cast<double*>(take(sizeof(double) * nshell * nshell));
  w.scratch = reinterpret_cast<EriScratch*>(take(sizeof(EriScratch) * kDirectWorkers));
  return w;
}

template <typename T>
__global__ void prepare(DirectLaunch<T> l, Work w) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x, first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  for (int64_t x = first; x < 3 * l.nshell; x += stride) w.centers[x] = double(l.centers[x]);
  for (int64_t x = first; x < l.nprim; x += stride) {
    w.exponents[x] = double(l.exponents[x]);
    w.coefficients[x] = double(l.coefficients[x]);
  }
  for (int64_t x = first; x < kSphTableSize; x += stride) w.sph_table[x] = double(l.sph_table[x]);
  const int64_t n = l.nao, nn = n * n;
  for (int64_t x = first; x < l.count * nn; x += stride) {
    const int64_t o = x / nn, a = (x % nn) / n, b = x % n;
    const T* dm = l.density + l.density_of_output[o] * nn;
    w.symmetric[x] = 0.5 * (double(dm[a * n + b]) + double(dm[b * n + a]));
    w.j_half[x] = 0.0;
    w.k_half[x] = 0.0;
  }
}

template <typename T>
__device__ EriShell shell_of(const DirectLaunch<T>& l, const Work& w, int64_t s) {
  const int64_t first = l.prim_offsets[s];
  return {{w.centers[3 * s], w.centers[3 * s + 1], w.centers[3 * s + 2]},
          w.exponents + first,
          w.coefficients + first,
          static_cast<int>(l.prim_offsets[s + 1] - first),
          static_cast<int>(l.angular[s])};
}

template <typename T>
__device__ const double* quartet(const DirectLaunch<T>& l, const Work& w, const int64_t* shells, EriScratch& s) {
  const EriShell q[4] = {shell_of(l, w, shells[0]), shell_of(l, w, shells[1]), shell_of(l, w, shells[2]),
                         shell_of(l, w, shells[3])};
  return eri_quartet_ao(q, l.spherical, w.sph_table, s);
}

// One thread per worker: Schwarz bounds of pairs worker, worker + kDirectWorkers, ...
template <typename T>
__global__ void schwarz_bounds(DirectLaunch<T> l, Work w) {
  const int64_t worker = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (worker >= kDirectWorkers) return;
  EriScratch& s = w.scratch[worker];
  s.boys_table = l.boys_table;
  const int64_t npair = l.nshell * (l.nshell + 1) / 2;
  for (int64_t p = worker; p < npair; p += kDirectWorkers) {
    const int64_t a = packed_pair_row(p), b = p - a * (a + 1) / 2;
    const int64_t shells[4] = {a, b, a, b};
    const double* block = quartet(l, w, shells, s);
    const int wa = int(l.ao_offsets[a + 1] - l.ao_offsets[a]), wb = int(l.ao_offsets[b + 1] - l.ao_offsets[b]);
    double largest = 0.0;
    for (int i = 0; i < wa * wb; ++i) largest = fmax(largest, fabs(block[i * wa * wb + i]));
    w.bounds[p] = sqrt(largest);
  }
}

template <typename T>
__global__ void block_densities(DirectLaunch<T> l, Work w) {
  const int64_t n = l.nao;
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < l.nshell * l.nshell;
       x += int64_t(gridDim.x) * blockDim.x) {
    const int64_t sa = x / l.nshell, sb = x % l.nshell;
    double largest = 0.0;
    for (int64_t o = 0; o < l.count; ++o)
      for (int64_t a = l.ao_offsets[sa]; a < l.ao_offsets[sa + 1]; ++a)
        for (int64_t b = l.ao_offsets[sb]; b < l.ao_offsets[sb + 1]; ++b)
          largest = fmax(largest, fabs(w.symmetric[(o * n + a) * n + b]));
    w.block_density[x] = largest;
  }
}

// The same screening and 8-fold scaling as the CPU driver (cpu/jk_direct_cpu.cc).
template <typename T>
__global__ void contract_quartets(DirectLaunch<T> l, Work w) {
  const int64_t worker = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (worker >= kDirectWorkers) return;
  EriScratch& s = w.scratch[worker];
  s.boys_table = l.boys_table;
  const int64_t nshell = l.nshell, npair = nshell * (nshell + 1) / 2, n = l.nao;
  double largest_density = 0.0;
  for (int64_t x = 0; x < nshell * nshell; ++x) largest_density = fmax(largest_density, w.block_density[x]);
  const double weighted_threshold = l.threshold * largest_density;
  const auto density_of = [&](int64_t a, int64_t b) { return w.block_density[a * nshell + b]; };
  for (int64_t bra = worker; bra < npair; bra += kDirectWorkers) {
    const int64_t a = packed_pair_row(bra), b = bra - a * (a + 1) / 2;
    for (int64_t ket = 0; ket <= bra; ++ket) {
      const int64_t c = packed_pair_row(ket), d = ket - c * (c + 1) / 2;
      const double bound = w.bounds[bra] * w.bounds[ket];
      if (bound < l.threshold) continue;
      const double weight = fmax(fmax(fmax(2.0 * density_of(c, d), 2.0 * density_of(a, b)),
                                      fmax(density_of(a, c), density_of(a, d))),
                                 fmax(density_of(b, c), density_of(b, d)));
      if (bound * weight < weighted_threshold) continue;
      const int64_t shells[4] = {a, b, c, d};
      const double* block = quartet(l, w, shells, s);
      QuartetPlacement placement;
      for (int k = 0; k < 4; ++k) {
        placement.first[k] = l.ao_offsets[shells[k]];
        placement.width[k] = int(l.ao_offsets[shells[k] + 1] - l.ao_offsets[shells[k]]);
      }
      placement.scale = (a == b ? 0.5 : 1.0) * (c == d ? 0.5 : 1.0) * (bra == ket ? 0.5 : 1.0);
      for (int64_t o = 0; o < l.count; ++o) {
        jk_quartet_update(block, placement, w.symmetric + o * n * n, w.j_half + o * n * n, w.k_half + o * n * n,
                          n, l.with_j, l.with_k, AtomicAdd{});
      }
    }
  }
}

template <typename T>
__global__ void finish(DirectLaunch<T> l, Work w) {
  const int64_t n = l.nao, nn = n * n;
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < l.count * nn;
       x += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = x / nn, a = (x % nn) / n, b = x % n;
    const int64_t transposed = (o * n + b) * n + a;
    const int64_t target = l.output_index[o] * nn + a * n + b;
    l.coulomb[target] = l.with_j ? T(w.j_half[x] + w.j_half[transposed]) : T(0);
    l.exchange[target] = l.with_k ? T(w.k_half[x] + w.k_half[transposed]) : T(0);
  }
}

}  // namespace

size_t direct_work_bytes(int64_t nshell, int64_t nprim, int64_t nao, int64_t count) {
  const int64_t npair = nshell * (nshell + 1) / 2, nn = nao * nao;
  return aligned(sizeof(double) * 3 * nshell) + 2 * aligned(sizeof(double) * nprim) +
         aligned(sizeof(double) * kSphTableSize) + 3 * aligned(sizeof(double) * count * nn) +
         aligned(sizeof(double) * npair) + aligned(sizeof(double) * nshell * nshell) +
         aligned(sizeof(EriScratch) * kDirectWorkers);
}

template <typename T>
cudaError_t launch_jk_direct(const DirectLaunch<T>& launch, cudaStream_t stream) {
  const Work w = work_views(launch.work, launch.nshell, launch.nprim, launch.nao, launch.count);
  constexpr int kThreads = 128, kBlocks = 256;
  constexpr int kWorkerBlocks = (kDirectWorkers + 63) / 64;
  prepare<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  schwarz_bounds<T><<<kWorkerBlocks, 64, 0, stream>>>(launch, w);
  block_densities<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  contract_quartets<T><<<kWorkerBlocks, 64, 0, stream>>>(launch, w);
  finish<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  return cudaGetLastError();
}

template cudaError_t launch_jk_direct<float>(const DirectLaunch<float>&, cudaStream_t);
template cudaError_t launch_jk_direct<double>(const DirectLaunch<double>&, cudaStream_t);

}  // namespace qpt::cuda
