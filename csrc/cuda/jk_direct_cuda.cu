#include "cuda/jk_direct_cuda.h"

#include "qpt/boys.h"
#include "qpt/eri_quartet.h"

namespace qpt::cuda {
namespace {

// Determinism: workers add each quartet's block to the shared halves of J and K with float64 atomicAdd, in
// whatever order they arrive, so results are reproducible to float64 round-off, not bit for bit (the CPU
// driver's fixed order is): two orders of the M contributions c to one entry differ by at most
// 2 (M - 1) u sum|c|, u = 1.1e-16, whatever the dtype. A float32 result is that float64 sum rounded once,
// so it differs between calls only where the sum lies within round-off of a float32 rounding boundary,
// and then by one float32 ulp.
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
  double* bounds;         // [npair] Schwarz bounds of the shell pairs (plan order)
  double* block_density;  // [nshell, nshell] largest |D| of each block over the densities
  PrimitivePair* prims;   // [prim_total]
  double* arena;          // [coefficient_total] term coefficients
  EriWork* scratch;       // [kDirectWorkers]
};

constexpr size_t kAlign = 256;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

__host__ __device__ Work work_views(void* base, int64_t nshell, int64_t nprim, int64_t nao, int64_t count,
                                    int64_t npair, int64_t prim_total, int64_t coefficient_total) {
  char* cursor = static_cast<char*>(base);
  const auto take = [&](size_t bytes) {
    char* start = cursor;
    cursor += (bytes + kAlign - 1) / kAlign * kAlign;
    return start;
  };
  const int64_t nn = nao * nao;
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
  w.prims = reinterpret_cast<PrimitivePair*>(take(sizeof(PrimitivePair) * prim_total));
  w.arena = reinterpret_cast<double*>(take(sizeof(double) * coefficient_total));
  w.scratch = reinterpret_cast<EriWork*>(take(sizeof(EriWork) * kDirectWorkers));
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

__device__ PairView view_of(const DirectPair& pair, const Work& w) {
  return {w.prims + pair.prim_first, pair.prim_count, pair.klass};
}

// One thread per shell pair: its primitive pairs and term coefficients.
template <typename T>
__global__ void fill_pairs(DirectLaunch<T> l, Work w) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < l.npair; p += int64_t(gridDim.x) * blockDim.x) {
    const DirectPair pair = l.pairs[p];
    primitive_pairs_fill(shell_of(l, w, pair.a), shell_of(l, w, pair.b), *l.tables, w.prims + pair.prim_first,
                         w.arena, pair.coefficient_first);
  }
}

template <typename T>
__device__ const double* quartet(const DirectLaunch<T>& l, const Work& w, const DirectPair& outer,
                                 const DirectPair& inner, EriWork& s) {
  return eri_quartet_ao(view_of(outer, w), view_of(inner, w), w.arena, *l.tables, l.spherical, s);
}

// A worker's EriWork, set up for its first quartet.
template <typename T>
__device__ EriWork& worker_work(const DirectLaunch<T>& l, const Work& w, int64_t worker) {
  EriWork& s = w.scratch[worker];
  s.boys_table = l.boys_table;
  s.primitive_cutoff = 0.0;  // primitive pairs carry no bounds on the GPU (kUnscreened)
  sph_sparse_fill(w.sph_table, s.sph);
  return s;
}

// One thread per worker: Schwarz bounds of pairs worker, worker + kDirectWorkers, ...
template <typename T>
__global__ void schwarz_bounds(DirectLaunch<T> l, Work w) {
  const int64_t worker = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (worker >= kDirectWorkers) return;
  EriWork& s = worker_work(l, w, worker);
  for (int64_t p = worker; p < l.npair; p += kDirectWorkers) {
    const DirectPair pair = l.pairs[p];
    const double* block = quartet(l, w, pair, pair, s);
    const int wa = int(l.ao_offsets[pair.a + 1] - l.ao_offsets[pair.a]);
    const int wb = int(l.ao_offsets[pair.b + 1] - l.ao_offsets[pair.b]);
    w.bounds[p] = schwarz_bound_of_block(block, wa * wb);
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

// The same screening and 8-fold scaling as the CPU driver (cpu/jk_direct_cpu.cc), over the plan's pairs.
template <typename T>
__global__ void contract_quartets(DirectLaunch<T> l, Work w) {
  const int64_t worker = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (worker >= kDirectWorkers) return;
  EriWork& s = worker_work(l, w, worker);
  const int64_t nshell = l.nshell, n = l.nao;
  double largest_density = 0.0;
  for (int64_t x = 0; x < nshell * nshell; ++x) largest_density = fmax(largest_density, w.block_density[x]);
  const double weighted_threshold = l.threshold * largest_density;
  const auto density_of = [&](int64_t a, int64_t b) { return w.block_density[a * nshell + b]; };
  for (int64_t bra = worker; bra < l.npair; bra += kDirectWorkers) {
    const DirectPair ab = l.pairs[bra];
    for (int64_t ket = 0; ket <= bra; ++ket) {
      const DirectPair cd = l.pairs[ket];
      const double bound = w.bounds[bra] * w.bounds[ket];
      if (bound < l.threshold) continue;
      const double weight = fmax(fmax(fmax(2.0 * density_of(cd.a, cd.b), 2.0 * density_of(ab.a, ab.b)),
                                      fmax(density_of(ab.a, cd.a), density_of(ab.a, cd.b))),
                                 fmax(density_of(ab.b, cd.a), density_of(ab.b, cd.b)));
      if (bound * weight < weighted_threshold) continue;
      const int64_t shells[4] = {ab.a, ab.b, cd.a, cd.b};  // the block's order: (outer|inner)
      const double* block = quartet(l, w, ab, cd, s);
      QuartetPlacement placement;
      for (int k = 0; k < 4; ++k) {
        placement.first[k] = l.ao_offsets[shells[k]];
        placement.width[k] = int(l.ao_offsets[shells[k] + 1] - l.ao_offsets[shells[k]]);
      }
      placement.scale = (ab.a == ab.b ? 0.5 : 1.0) * (cd.a == cd.b ? 0.5 : 1.0) * (bra == ket ? 0.5 : 1.0);
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

size_t direct_work_bytes(int64_t nshell, int64_t nprim, int64_t nao, int64_t count, const DirectPairPlan& plan) {
  const int64_t npair = static_cast<int64_t>(plan.pairs.size()), nn = nao * nao;
  return aligned(sizeof(double) * 3 * nshell) + 2 * aligned(sizeof(double) * nprim) +
         aligned(sizeof(double) * kSphTableSize) + 3 * aligned(sizeof(double) * count * nn) +
         aligned(sizeof(double) * npair) + aligned(sizeof(double) * nshell * nshell) +
         aligned(sizeof(PrimitivePair) * plan.prim_total) + aligned(sizeof(double) * plan.coefficient_total) +
         aligned(sizeof(EriWork) * kDirectWorkers);
}

template <typename T>
cudaError_t launch_jk_direct(const DirectLaunch<T>& launch, cudaStream_t stream) {
  const Work w = work_views(launch.work, launch.nshell, launch.nprim, launch.nao, launch.count, launch.npair,
                            launch.prim_total, launch.coefficient_total);
  constexpr int kThreads = 128, kBlocks = 256;
  constexpr int kWorkerBlocks = (kDirectWorkers + 63) / 64;
  prepare<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  fill_pairs<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  schwarz_bounds<T><<<kWorkerBlocks, 64, 0, stream>>>(launch, w);
  block_densities<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  contract_quartets<T><<<kWorkerBlocks, 64, 0, stream>>>(launch, w);
  finish<T><<<kBlocks, kThreads, 0, stream>>>(launch, w);
  return cudaGetLastError();
}

template cudaError_t launch_jk_direct<float>(const DirectLaunch<float>&, cudaStream_t);
template cudaError_t launch_jk_direct<double>(const DirectLaunch<double>&, cudaStream_t);

namespace {

// Host copy of the Boys table; it outlives every asynchronous copy from it.
const std::vector<double>& host_boys_table() {
  static const std::vector<double> table = [] {
    std::vector<double> values(kBoysTableSize);
    boys_table_fill(values.data());
    return values;
  }();
  return table;
}

}  // namespace

template <typename T>
std::string jk_direct(cudaStream_t stream, const DeviceAllocate& allocate, const ShellLayout& layout,
                      const std::vector<DirectGeometry<T>>& geometries, const T* sph_table, const T* density,
                      T* coulomb, T* exchange, double threshold, bool with_j, bool with_k) {
  const size_t layout_bytes = sizeof(int64_t) * (3 * layout.nshell + 2);
  void* layout_device = allocate(layout_bytes, alignof(int64_t));
  void* table_device = allocate(sizeof(double) * kBoysTableSize, alignof(double));
  // The pair plan depends on the layout alone, so one serves every geometry of the call.
  const DirectPairPlan plan = plan_direct_pairs(layout);
  const int64_t npair = static_cast<int64_t>(plan.pairs.size());
  void* pairs_device = allocate(sizeof(DirectPair) * npair, alignof(DirectPair));
  void* classes_device = allocate(sizeof(EriClassTables), alignof(EriClassTables));
  if (!layout_device || !table_device || !pairs_device || !classes_device) return "scratch allocation failed";
  cudaMemcpyAsync(pairs_device, plan.pairs.data(), sizeof(DirectPair) * npair, cudaMemcpyHostToDevice, stream);
  cudaMemcpyAsync(classes_device, &eri_class_tables(), sizeof(EriClassTables), cudaMemcpyHostToDevice, stream);
  auto* angular = static_cast<int64_t*>(layout_device);
  int64_t* prim_offsets = angular + layout.nshell;
  int64_t* ao_offsets = prim_offsets + layout.nshell + 1;
  cudaMemcpyAsync(angular, layout.angular, sizeof(int64_t) * layout.nshell, cudaMemcpyHostToDevice, stream);
  cudaMemcpyAsync(prim_offsets, layout.prim_offsets, sizeof(int64_t) * (layout.nshell + 1), cudaMemcpyHostToDevice,
                  stream);
  cudaMemcpyAsync(ao_offsets, layout.ao_offsets, sizeof(int64_t) * (layout.nshell + 1), cudaMemcpyHostToDevice,
                  stream);
  cudaMemcpyAsync(table_device, host_boys_table().data(), sizeof(double) * kBoysTableSize, cudaMemcpyHostToDevice,
                  stream);

  for (const DirectGeometry<T>& geometry : geometries) {
    const int64_t count = static_cast<int64_t>(geometry.output_index.size());
    // The host vectors live until the call returns; the copy from them is enqueued before any launch reads it.
    std::vector<int64_t> indices(geometry.density_of_output);
    indices.insert(indices.end(), geometry.output_index.begin(), geometry.output_index.end());
    void* index_device = allocate(sizeof(int64_t) * 2 * count, alignof(int64_t));
    void* work = allocate(direct_work_bytes(layout.nshell, layout.nprim, layout.nao, count, plan), 256);
    if (!index_device || !work) return "scratch allocation failed";
    auto* density_of_output = static_cast<int64_t*>(index_device);
    cudaMemcpyAsync(density_of_output, indices.data(), sizeof(int64_t) * 2 * count, cudaMemcpyHostToDevice, stream);
    DirectLaunch<T> launch{geometry.centers,
                           geometry.exponents,
                           geometry.coefficients,
                           sph_table,
                           density,
                           coulomb,
                           exchange,
                           density_of_output,
                           density_of_output + count,
                           angular,
                           prim_offsets,
                           ao_offsets,
                           static_cast<const double*>(table_device),
                           static_cast<const EriClassTables*>(classes_device),
                           static_cast<const DirectPair*>(pairs_device),
                           work,
                           count,
                           layout.nshell,
                           layout.nprim,
                           layout.nao,
                           npair,
                           plan.prim_total,
                           plan.coefficient_total,
                           layout.spherical,
                           threshold,
                           with_j,
                           with_k};
    const cudaError_t status = launch_jk_direct(launch, stream);
    if (status != cudaSuccess) return cudaGetErrorString(status);
  }
  return "";
}

template std::string jk_direct<float>(cudaStream_t, const DeviceAllocate&, const ShellLayout&,
                                      const std::vector<DirectGeometry<float>>&, const float*, const float*, float*,
                                      float*, double, bool, bool);
template std::string jk_direct<double>(cudaStream_t, const DeviceAllocate&, const ShellLayout&,
                                       const std::vector<DirectGeometry<double>>&, const double*, const double*,
                                       double*, double*, double, bool, bool);

}  // namespace qpt::cuda
