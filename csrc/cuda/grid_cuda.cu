#include "cuda/grid_cuda.h"

#include <algorithm>

#include "qpt/grid_contraction.h"
#include "qpt/grid_screening.h"
#include "qpt/gto_eval.h"

namespace qpt::cuda {
namespace {

constexpr int kThreads = kCudaGridBlock;
constexpr int kTile = 4;  // AO rows (and columns) per thread in the block products

// Carves aligned pieces out of one scratch allocation; with a null base it only counts the bytes.
class ScratchCarver {
 public:
  explicit ScratchCarver(void* base) : base_(static_cast<char*>(base)) {}
  template <typename U>
  U* take(int64_t count) {
    used_ = (used_ + 255) / 256 * 256;
    U* piece = base_ ? reinterpret_cast<U*>(base_ + used_) : nullptr;
    used_ += sizeof(U) * static_cast<size_t>(count);
    return piece;
  }
  size_t used() const { return used_; }

 private:
  char* base_;
  size_t used_ = 0;
};

// Device copy of the shell layout.
struct DeviceLayout {
  const int64_t* angular;
  const int64_t* prim_offsets;
  const int64_t* ao_offsets;
  int64_t nshell, nprim, nao;
  bool spherical;
};

// Per-CTA work areas: CTA c uses base + c * stride of each.
template <typename T>
struct CtaAreas {
  T* values;  // [4][nao][kThreads] (density) or [4][kThreads][nao] (potential)
  T* work;    // density: D restricted to the block's AOs [nao, nao]; potential: W [kThreads][nao]
  int* ints;  // flags [nshell], significant shells [nshell], their first rows [nshell], AO of each row [nao]
  int64_t values_stride, work_stride, ints_stride;
};

// Everything a launch keeps in scratch, carved in a fixed order so sizing and launching agree.
template <typename T>
struct ScratchPlan {
  int64_t *angular, *prim_offsets, *ao_offsets;
  double *shell_radius2, *primitive_radius2;
  int64_t *inputs, *v_grad_inputs, *outputs;
  T* symmetric;           // density: [jobs, nao, nao]
  double* accumulators;   // potential: [jobs, nao, nao]
  CtaAreas<T> areas;
  int64_t ctas;
  size_t bytes;
};

__host__ __device__ int64_t point_blocks(int64_t npoint) { return (npoint + kThreads - 1) / kThreads; }

// Two CTAs per SM (what their register use allows), but at most 1 GiB of per-CTA scratch.
int64_t cta_count(int64_t npoint, size_t bytes_per_cta) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms < 1) {
    sms = 1;
  }
  const int64_t by_memory = std::max<int64_t>(1, static_cast<int64_t>((size_t(1) << 30) / bytes_per_cta));
  return std::max<int64_t>(1, std::min({point_blocks(npoint), int64_t(2) * sms, by_memory}));
}

template <typename T>
ScratchPlan<T> plan_scratch(void* base, const ShellLayout& basis, int64_t npoint, int64_t jobs, bool potential) {
  const int64_t nao = basis.nao, nshell = basis.nshell;
  CtaAreas<T> areas{};
  areas.values_stride = 4 * nao * kThreads;
  areas.work_stride = potential ? nao * kThreads : nao * nao;
  areas.ints_stride = 3 * nshell + nao;
  const size_t per_cta = sizeof(T) * (areas.values_stride + areas.work_stride) + sizeof(int) * areas.ints_stride;
  ScratchPlan<T> plan{};
  plan.ctas = cta_count(npoint, per_cta);
  ScratchCarver carve(base);
  plan.angular = carve.take<int64_t>(nshell);
  plan.prim_offsets = carve.take<int64_t>(nshell + 1);
  plan.ao_offsets = carve.take<int64_t>(nshell + 1);
  plan.shell_radius2 = carve.take<double>(nshell);
  plan.primitive_radius2 = carve.take<double>(basis.nprim);
  plan.inputs = carve.take<int64_t>(jobs);
  plan.v_grad_inputs = carve.take<int64_t>(jobs);
  plan.outputs = carve.take<int64_t>(jobs);
  plan.symmetric = potential ? nullptr : carve.take<T>(jobs * nao * nao);
  plan.accumulators = potential ? carve.take<double>(jobs * nao * nao) : nullptr;
  areas.values = carve.take<T>(plan.ctas * areas.values_stride);
  areas.work = carve.take<T>(plan.ctas * areas.work_stride);
  areas.ints = carve.take<int>(plan.ctas * areas.ints_stride);
  plan.areas = areas;
  plan.bytes = carve.used();
  return plan;
}

template <typename T>
__global__ void screening_radii_kernel(DeviceLayout basis, DeviceGeometry<T> g, double threshold,
                                       double* shell_radius2, double* primitive_radius2) {
  const int64_t s = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (s >= basis.nshell) return;
  const int l = static_cast<int>(basis.angular[s]);
  const double norm = spherical_norm(l, basis.spherical, g.sph_table);
  const int64_t first = basis.prim_offsets[s], last = basis.prim_offsets[s + 1];
  const double share = threshold / static_cast<double>(last - first);
  double largest = 0.0;
  for (int64_t p = first; p < last; ++p) {
    primitive_radius2[p] = primitive_cutoff_radius2(l, static_cast<double>(g.exponents[p]),
                                                    fabs(static_cast<double>(g.coefficients[p])) * norm, share);
    largest = fmax(largest, primitive_radius2[p]);
  }
  shell_radius2[s] = largest;
}

template <typename T>
__global__ void symmetrize_kernel(const T* density, const int64_t* inputs, int64_t jobs, int64_t nao, T* symmetric) {
  const int64_t nn = nao * nao;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < jobs * nn; x += stride) {
    const int64_t job = x / nn, i = (x % nn) / nao, j = x % nao;
    const T* dm = density + inputs[job] * nn;
    symmetric[x] = (dm[i * nao + j] + dm[j * nao + i]) / T(2);
  }
}

// What a CTA knows about its current block of points (kept in shared memory).
struct BlockInfo {
  int64_t first;
  int count, shells, rows;
  double lower[3], upper[3];
};

// Bounding box of the block, its significant shells (in order, with their first rows) and the AO of
// every row. All threads of the CTA take part; `box` is shared scratch.
template <typename T>
__device__ void screen_block(const DeviceLayout& basis, const DeviceGeometry<T>& g, const double* shell_radius2,
                             int* ints, BlockInfo& info, double (&box)[6][kThreads]) {
  int* flags = ints;
  int* shells = flags + basis.nshell;
  int* first_rows = shells + basis.nshell;
  int* ao_of_row = first_rows + basis.nshell;
  const int t = threadIdx.x;
  const int64_t point = info.first + min(t, info.count - 1);
  for (int axis = 0; axis < 3; ++axis) {
    box[axis][t] = box[3 + axis][t] = static_cast<double>(g.coords[point * 3 + axis]);
  }
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      for (int axis = 0; axis < 3; ++axis) {
        box[axis][t] = fmin(box[axis][t], box[axis][t + stride]);
        box[3 + axis][t] = fmax(box[3 + axis][t], box[3 + axis][t + stride]);
      }
    }
    __syncthreads();
  }
  const double lower[3] = {box[0][0], box[1][0], box[2][0]};
  const double upper[3] = {box[3][0], box[4][0], box[5][0]};
  for (int64_t s = t; s < basis.nshell; s += kThreads) {
    const T* c = g.centers + 3 * s;
    flags[s] = box_distance2(lower, upper, c[0], c[1], c[2]) <= shell_radius2[s];
  }
  __syncthreads();
  if (t == 0) {
    int count = 0, rows = 0;
    for (int64_t s = 0; s < basis.nshell; ++s) {
      if (!flags[s]) continue;
      shells[count] = static_cast<int>(s);
      first_rows[count] = rows;
      rows += static_cast<int>(basis.ao_offsets[s + 1] - basis.ao_offsets[s]);
      ++count;
    }
    info.shells = count;
    info.rows = rows;
    for (int axis = 0; axis < 3; ++axis) {
      info.lower[axis] = lower[axis];
      info.upper[axis] = upper[axis];
    }
  }
  __syncthreads();
  for (int k = t; k < info.shells; k += kThreads) {
    const int64_t s = shells[k];
    for (int64_t f = 0; f < basis.ao_offsets[s + 1] - basis.ao_offsets[s]; ++f) {
      ao_of_row[first_rows[k] + f] = static_cast<int>(basis.ao_offsets[s] + f);
    }
  }
  __syncthreads();
}

// This thread's point: values and gradients of the block's significant AOs, written to
// out[comp * comp_stride + row * row_stride] (rows in screen_block's order).
template <typename T>
__device__ void evaluate_point(const DeviceLayout& basis, const DeviceGeometry<T>& g, const double* primitive_radius2,
                               const int* ints, const BlockInfo& info, T* out, int64_t comp_stride,
                               int64_t row_stride) {
  const int* shells = ints + basis.nshell;
  const int* first_rows = shells + basis.nshell;
  const int64_t point = info.first + min(static_cast<int>(threadIdx.x), info.count - 1);
  const T px = g.coords[point * 3], py = g.coords[point * 3 + 1], pz = g.coords[point * 3 + 2];
  for (int k = 0; k < info.shells; ++k) {
    const int64_t s = shells[k];
    const T* c = g.centers + 3 * s;
    const double d2 = box_distance2(info.lower, info.upper, c[0], c[1], c[2]);
    const T x = px - c[0], y = py - c[1], z = pz - c[2];
    const T r2 = x * x + y * y + z * z;
    T radial = T(0), slope = T(0);
    for (int64_t q = basis.prim_offsets[s]; q < basis.prim_offsets[s + 1]; ++q) {
      if (d2 <= primitive_radius2[q]) add_primitive(g.coefficients[q], g.exponents[q], r2, radial, slope);
    }
    shell_point_values(static_cast<int>(basis.angular[s]), basis.spherical, x, y, z, radial, slope, g.sph_table,
                       out + first_rows[k] * row_stride, comp_stride, row_stride);
  }
}

template <typename T>
__global__ void density_kernel(DeviceLayout basis, DeviceGeometry<T> g, ScratchPlan<T> plan, int64_t jobs,
                               T* rho, T* grad_rho) {
  __shared__ double box[6][kThreads];
  __shared__ BlockInfo info;
  const int64_t nao = basis.nao;
  const int t = threadIdx.x;
  T* values = plan.areas.values + blockIdx.x * plan.areas.values_stride;  // [4][nao][kThreads]
  T* d_sig = plan.areas.work + blockIdx.x * plan.areas.work_stride;      // [rows, rows]
  int* ints = plan.areas.ints + blockIdx.x * plan.areas.ints_stride;
  const int* ao_of_row = ints + 3 * basis.nshell;
  const int64_t comp_stride = nao * kThreads;
  for (int64_t block = blockIdx.x; block < point_blocks(g.npoint); block += gridDim.x) {
    if (t == 0) {
      info.first = block * kThreads;
      info.count = static_cast<int>(min(int64_t(kThreads), g.npoint - info.first));
    }
    __syncthreads();
    screen_block(basis, g, plan.shell_radius2, ints, info, box);
    evaluate_point(basis, g, plan.primitive_radius2, ints, info, values + t, comp_stride, int64_t(kThreads));
    __syncthreads();
    const int rows = info.rows;
    for (int64_t job = 0; job < jobs; ++job) {
      const T* dm = plan.symmetric + job * nao * nao;
      for (int64_t x = t; x < int64_t(rows) * rows; x += kThreads) {
        d_sig[x] = dm[ao_of_row[x / rows] * nao + ao_of_row[x % rows]];
      }
      __syncthreads();
      T r = T(0), gx = T(0), gy = T(0), gz = T(0);
      for (int j0 = 0; j0 < rows; j0 += kTile) {
        T c[kTile] = {};
        for (int i = 0; i < rows; ++i) {
          const T phi_i = values[i * kThreads + t];
#pragma unroll
          for (int jj = 0; jj < kTile; ++jj) c[jj] += d_sig[min(j0 + jj, rows - 1) * rows + i] * phi_i;
        }
#pragma unroll
        for (int jj = 0; jj < kTile; ++jj) {
          if (j0 + jj >= rows) break;
          const int64_t at = (j0 + jj) * kThreads + t;
          add_density_term(c[jj], values[at], values[comp_stride + at], values[2 * comp_stride + at],
                           values[3 * comp_stride + at], r, gx, gy, gz);
        }
      }
      if (t < info.count) {
        const int64_t point = plan.outputs[job] * g.npoint + info.first + t;
        rho[point] = r;
        grad_rho[3 * point] = gx;
        grad_rho[3 * point + 1] = gy;
        grad_rho[3 * point + 2] = gz;
      }
      __syncthreads();
    }
  }
}

template <typename T>
__global__ void potential_kernel(DeviceLayout basis, DeviceGeometry<T> g, ScratchPlan<T> plan, int64_t jobs,
                                 const T* v_rho, const T* v_grad) {
  __shared__ double box[6][kThreads];
  __shared__ BlockInfo info;
  const int64_t nao = basis.nao;
  const int t = threadIdx.x;
  T* values = plan.areas.values + blockIdx.x * plan.areas.values_stride;  // [4][kThreads][nao]
  T* weighted = plan.areas.work + blockIdx.x * plan.areas.work_stride;   // [kThreads][nao]
  int* ints = plan.areas.ints + blockIdx.x * plan.areas.ints_stride;
  const int* ao_of_row = ints + 3 * basis.nshell;
  const int64_t comp_stride = nao * kThreads;
  for (int64_t block = blockIdx.x; block < point_blocks(g.npoint); block += gridDim.x) {
    if (t == 0) {
      info.first = block * kThreads;
      info.count = static_cast<int>(min(int64_t(kThreads), g.npoint - info.first));
    }
    __syncthreads();
    screen_block(basis, g, plan.shell_radius2, ints, info, box);
    evaluate_point(basis, g, plan.primitive_radius2, ints, info, values + t * nao, comp_stride, int64_t(1));
    const int rows = info.rows;
    for (int64_t job = 0; job < jobs; ++job) {
      // Points past the block's end carry zero potential, so they add nothing.
      const bool inside = t < info.count;
      const int64_t point = info.first + (inside ? t : 0);
      const T* vg = v_grad + plan.v_grad_inputs[job] * g.npoint * 3 + 3 * point;
      const T half_v = inside ? v_rho[plan.inputs[job] * g.npoint + point] / T(2) : T(0);
      const T v_x = inside ? vg[0] : T(0), v_y = inside ? vg[1] : T(0), v_z = inside ? vg[2] : T(0);
      const T* phi = values + t * nao;
      for (int j = 0; j < rows; ++j) {
        weighted[t * nao + j] = potential_weight(half_v, v_x, v_y, v_z, phi[j], phi[comp_stride + j],
                                                 phi[2 * comp_stride + j], phi[3 * comp_stride + j]);
      }
      __syncthreads();
      // A += phi^T W over the block's points, kTile x kTile entries per thread, added atomically.
      // Determinism: each thread sums its tile over the block's points in a fixed order, but the blocks of
      // points add their tiles to the float64 accumulators in whatever order they finish, so V is
      // reproducible to float64 round-off (2 (M - 1) u sum|c| for M blocks' contributions c, u = 1.1e-16),
      // not bit for bit, for both dtypes; a float32 V is that sum rounded once (a one-ulp change at most,
      // where the sum lies next to a rounding boundary). density_kernel has no atomics: each point is one
      // thread's fixed-order sum, so rho and grad rho are bitwise reproducible on the GPU too.
      double* accumulator = plan.accumulators + job * nao * nao;
      const int tiles = (rows + kTile - 1) / kTile;
      for (int tile = t; tile < tiles * tiles; tile += kThreads) {
        const int i0 = (tile % tiles) * kTile, j0 = (tile / tiles) * kTile;
        T acc[kTile][kTile] = {};
        for (int p = 0; p < kThreads; ++p) {
          T a[kTile], w[kTile];
#pragma unroll
          for (int k = 0; k < kTile; ++k) {
            a[k] = values[p * nao + min(i0 + k, rows - 1)];
            w[k] = weighted[p * nao + min(j0 + k, rows - 1)];
          }
#pragma unroll
          for (int ii = 0; ii < kTile; ++ii) {
#pragma unroll
            for (int jj = 0; jj < kTile; ++jj) acc[ii][jj] += a[ii] * w[jj];
          }
        }
        for (int ii = 0; ii < kTile && i0 + ii < rows; ++ii) {
          for (int jj = 0; jj < kTile && j0 + jj < rows; ++jj) {
            atomicAdd(&accumulator[int64_t(ao_of_row[i0 + ii]) * nao + ao_of_row[j0 + jj]],
                      static_cast<double>(acc[ii][jj]));
          }
        }
      }
      __syncthreads();
    }
  }
}

template <typename T>
__global__ void finalize_potential_kernel(const double* accumulators, const int64_t* outputs, int64_t jobs, int64_t nao,
                                          T* potential) {
  const int64_t nn = nao * nao;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t x = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; x < jobs * nn; x += stride) {
    const int64_t job = x / nn, i = (x % nn) / nao, j = x % nao;
    const double* acc = accumulators + job * nn;
    potential[outputs[job] * nn + i * nao + j] = static_cast<T>(acc[i * nao + j] + acc[j * nao + i]);
  }
}

int elementwise_blocks(int64_t count) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((count + 255) / 256, 65535)));
}

// Copies the layout and the job's indices to scratch and computes the screening radii.
template <typename T>
DeviceLayout upload(const ShellLayout& basis, const DeviceGeometry<T>& g, double threshold, const GridJob& job,
                    const ScratchPlan<T>& plan, cudaStream_t stream) {
  const auto copy = [&](int64_t* to, const int64_t* from, int64_t count) {
    if (count > 0) cudaMemcpyAsync(to, from, sizeof(int64_t) * count, cudaMemcpyHostToDevice, stream);
  };
  const int64_t jobs = static_cast<int64_t>(job.outputs.size());
  copy(plan.angular, basis.angular, basis.nshell);
  copy(plan.prim_offsets, basis.prim_offsets, basis.nshell + 1);
  copy(plan.ao_offsets, basis.ao_offsets, basis.nshell + 1);
  copy(plan.inputs, job.inputs.data(), jobs);
  copy(plan.outputs, job.outputs.data(), jobs);
  if (!job.v_grad_inputs.empty()) copy(plan.v_grad_inputs, job.v_grad_inputs.data(), jobs);
  const DeviceLayout layout{plan.angular, plan.prim_offsets, plan.ao_offsets, basis.nshell, basis.nprim, basis.nao,
                            basis.spherical};
  screening_radii_kernel<T><<<static_cast<int>((basis.nshell + 127) / 128), 128, 0, stream>>>(
      layout, g, threshold, plan.shell_radius2, plan.primitive_radius2);
  return layout;
}

}  // namespace

template <typename T>
size_t density_scratch_bytes(const ShellLayout& basis, int64_t npoint, int64_t jobs) {
  return plan_scratch<T>(nullptr, basis, npoint, jobs, false).bytes;
}

template <typename T>
size_t potential_scratch_bytes(const ShellLayout& basis, int64_t npoint, int64_t jobs) {
  return plan_scratch<T>(nullptr, basis, npoint, jobs, true).bytes;
}

template <typename T>
cudaError_t launch_density_on_grid(const ShellLayout& basis, const DeviceGeometry<T>& g, double threshold,
                                   const T* density, T* rho, T* grad_rho, const GridJob& job, void* scratch,
                                   size_t scratch_bytes, cudaStream_t stream) {
  const int64_t jobs = static_cast<int64_t>(job.outputs.size());
  if (jobs == 0 || g.npoint == 0) return cudaSuccess;
  const ScratchPlan<T> plan = plan_scratch<T>(scratch, basis, g.npoint, jobs, false);
  if (plan.bytes > scratch_bytes) return cudaErrorInvalidValue;
  const DeviceLayout layout = upload(basis, g, threshold, job, plan, stream);
  symmetrize_kernel<T><<<elementwise_blocks(jobs * basis.nao * basis.nao), 256, 0, stream>>>(
      density, plan.inputs, jobs, basis.nao, plan.symmetric);
  density_kernel<T><<<static_cast<int>(plan.ctas), kThreads, 0, stream>>>(layout, g, plan, jobs, rho, grad_rho);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_potential_matrix(const ShellLayout& basis, const DeviceGeometry<T>& g, double threshold,
                                    const T* v_rho, const T* v_grad, T* potential, const GridJob& job, void* scratch,
                                    size_t scratch_bytes, cudaStream_t stream) {
  const int64_t jobs = static_cast<int64_t>(job.outputs.size());
  if (jobs == 0) return cudaSuccess;
  const ScratchPlan<T> plan = plan_scratch<T>(scratch, basis, g.npoint, jobs, true);
  if (plan.bytes > scratch_bytes || job.v_grad_inputs.size() != job.outputs.size()) return cudaErrorInvalidValue;
  const DeviceLayout layout = upload(basis, g, threshold, job, plan, stream);
  cudaMemsetAsync(plan.accumulators, 0, sizeof(double) * jobs * basis.nao * basis.nao, stream);
  if (g.npoint > 0) {
    potential_kernel<T><<<static_cast<int>(plan.ctas), kThreads, 0, stream>>>(layout, g, plan, jobs, v_rho, v_grad);
  }
  finalize_potential_kernel<T><<<elementwise_blocks(jobs * basis.nao * basis.nao), 256, 0, stream>>>(
      plan.accumulators, plan.outputs, jobs, basis.nao, potential);
  return cudaGetLastError();
}

#define QPT_INSTANTIATE_GRID_CUDA(T)                                                                              \
  template size_t density_scratch_bytes<T>(const ShellLayout&, int64_t, int64_t);                                 \
  template size_t potential_scratch_bytes<T>(const ShellLayout&, int64_t, int64_t);                               \
  template cudaError_t launch_density_on_grid<T>(const ShellLayout&, const DeviceGeometry<T>&, double, const T*,  \
                                                 T*, T*, const GridJob&, void*, size_t, cudaStream_t);            \
  template cudaError_t launch_potential_matrix<T>(const ShellLayout&, const DeviceGeometry<T>&, double, const T*, \
                                                  const T*, T*, const GridJob&, void*, size_t, cudaStream_t);
QPT_INSTANTIATE_GRID_CUDA(float)
QPT_INSTANTIATE_GRID_CUDA(double)
#undef QPT_INSTANTIATE_GRID_CUDA

}  // namespace qpt::cuda
