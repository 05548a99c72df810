// XLA FFI handler of the integral-direct J/K on CUDA: the same checks as the CPU handler
// (ffi/jk_direct_shapes.h), device scratch from XLA's allocator, kernels launched on XLA's stream.
#include <cuda_runtime.h>

#include <vector>

#include "cuda/jk_direct_cuda.h"
#include "ffi/basis_values_cuda.h"
#include "ffi/jk_direct_shapes.h"
#include "ffi/jk_handlers.h"
#include "qpt/boys.h"

namespace ffi = xla::ffi;

namespace qpt {
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

template <typename T>
ffi::Error run_direct_cuda(cudaStream_t stream, ffi::ScratchAllocator& scratch, const ffi_shapes::DirectCall& call,
                           const ffi::AnyBuffer& centers, const ffi::AnyBuffer& exponents,
                           const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& sph_table,
                           const ffi::AnyBuffer& density, double threshold, bool with_j, bool with_k,
                           ffi::Result<ffi::AnyBuffer>& coulomb, ffi::Result<ffi::AnyBuffer>& exchange) {
  const std::string op = "qpt jk_direct (CUDA)";
  const ShellLayout layout = call.basis.view();
  const size_t layout_bytes = sizeof(int64_t) * (3 * layout.nshell + 2);
  auto layout_device = scratch.Allocate(layout_bytes, alignof(int64_t));
  auto table_device = scratch.Allocate(sizeof(double) * kBoysTableSize, alignof(double));
  // The pair plan depends on the layout alone, so one serves every geometry of the call.
  const DirectPairPlan plan = plan_direct_pairs(layout);
  const int64_t npair = static_cast<int64_t>(plan.pairs.size());
  auto pairs_device = scratch.Allocate(sizeof(DirectPair) * npair, alignof(DirectPair));
  auto classes_device = scratch.Allocate(sizeof(EriClassTables), alignof(EriClassTables));
  if (!layout_device || !table_device || !pairs_device || !classes_device) {
    return ffi::Error::Internal(op + ": scratch allocation failed");
  }
  cudaMemcpyAsync(*pairs_device, plan.pairs.data(), sizeof(DirectPair) * npair, cudaMemcpyHostToDevice, stream);
  cudaMemcpyAsync(*classes_device, &eri_class_tables(), sizeof(EriClassTables), cudaMemcpyHostToDevice, stream);
  auto* angular = static_cast<int64_t*>(*layout_device);
  int64_t* prim_offsets = angular + layout.nshell;
  int64_t* ao_offsets = prim_offsets + layout.nshell + 1;
  cudaMemcpyAsync(angular, layout.angular, sizeof(int64_t) * layout.nshell, cudaMemcpyHostToDevice, stream);
  cudaMemcpyAsync(prim_offsets, layout.prim_offsets, sizeof(int64_t) * (layout.nshell + 1), cudaMemcpyHostToDevice,
                  stream);
  cudaMemcpyAsync(ao_offsets, layout.ao_offsets, sizeof(int64_t) * (layout.nshell + 1), cudaMemcpyHostToDevice,
                  stream);
  cudaMemcpyAsync(*table_device, host_boys_table().data(), sizeof(double) * kBoysTableSize, cudaMemcpyHostToDevice,
                  stream);

  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    const int64_t count = static_cast<int64_t>(outputs.size());
    std::vector<int64_t> indices(2 * count);
    for (int64_t o = 0; o < count; ++o) {
      indices[o] = call.batch.index[3][outputs[o]];
      indices[count + o] = outputs[o];
    }
    auto index_device = scratch.Allocate(sizeof(int64_t) * 2 * count, alignof(int64_t));
    auto work = scratch.Allocate(cuda::direct_work_bytes(layout.nshell, layout.nprim, layout.nao, count, plan), 256);
    if (!index_device || !work) return ffi::Error::Internal(op + ": scratch allocation failed");
    auto* density_of_output = static_cast<int64_t*>(*index_device);
    cudaMemcpyAsync(density_of_output, indices.data(), sizeof(int64_t) * 2 * count, cudaMemcpyHostToDevice, stream);
    cuda::DirectLaunch<T> launch{centers.typed_data<T>() + key[0] * layout.nshell * 3,
                                 exponents.typed_data<T>() + key[1] * layout.nprim,
                                 coefficients.typed_data<T>() + key[2] * layout.nprim,
                                 sph_table.typed_data<T>(),
                                 density.typed_data<T>(),
                                 coulomb->typed_data<T>(),
                                 exchange->typed_data<T>(),
                                 density_of_output,
                                 density_of_output + count,
                                 angular,
                                 prim_offsets,
                                 ao_offsets,
                                 static_cast<const double*>(*table_device),
                                 static_cast<const EriClassTables*>(*classes_device),
                                 static_cast<const DirectPair*>(*pairs_device),
                                 *work,
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
    const cudaError_t status = cuda::launch_jk_direct(launch, stream);
    if (status != cudaSuccess) return ffi::Error::Internal(op + ": " + cudaGetErrorString(status));
  }
  return ffi::Error::Success();
}

ffi::Error jk_direct_cuda_impl(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer centers,
                               ffi::AnyBuffer exponents, ffi::AnyBuffer coefficients, ffi::AnyBuffer sph_table,
                               ffi::AnyBuffer density, ffi::Span<const int64_t> angular,
                               ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold, bool with_j,
                               bool with_k, ffi::Result<ffi::AnyBuffer> coulomb,
                               ffi::Result<ffi::AnyBuffer> exchange) {
  const std::string op = "qpt jk_direct";
  ffi_shapes::DirectCall call;
  if (auto error = ffi_shapes::direct_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                           coefficients, sph_table, density, *coulomb, *exchange, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_device_basis(op, stream, centers, exponents, coefficients); !error.success()) {
    return error;
  }
  if (density.element_type() == ffi::DataType::F64) {
    return run_direct_cuda<double>(stream, scratch, call, centers, exponents, coefficients, sph_table, density,
                                   threshold, with_j, with_k, coulomb, exchange);
  }
  return run_direct_cuda<float>(stream, scratch, call, centers, exponents, coefficients, sph_table, density,
                                threshold, with_j, with_k, coulomb, exchange);
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_direct_cuda, jk_direct_cuda_impl,
                              ffi_shapes::jk_direct_binding(ffi::Ffi::Bind()
                                                            .Ctx<ffi::PlatformStream<cudaStream_t>>()  // XLA's stream
                                                            .Ctx<ffi::ScratchAllocator>()));  // device scratch

}  // namespace qpt
