// XLA FFI handler of the integral-direct J/K on CUDA: the same checks as the CPU handler
// (ffi/jk_direct_shapes.h), then the CUDA driver (cuda/jk_direct_cuda.h) once for all geometries, with device
// scratch from XLA's allocator, on XLA's stream.
#include <cuda_runtime.h>

#include <string>
#include <utility>
#include <vector>

#include "cuda/jk_direct_cuda.h"
#include "ffi/basis_values_cuda.h"
#include "ffi/jk_direct_shapes.h"
#include "ffi/jk_handlers.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
ffi::Error run_direct_cuda(cudaStream_t stream, ffi::ScratchAllocator& scratch, const ffi_shapes::DirectCall& call,
                           const ffi::AnyBuffer& centers, const ffi::AnyBuffer& exponents,
                           const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& sph_table,
                           const ffi::AnyBuffer& density, double threshold, bool with_j, bool with_k,
                           ffi::Result<ffi::AnyBuffer>& coulomb, ffi::Result<ffi::AnyBuffer>& exchange) {
  const ShellLayout layout = call.basis.view();
  std::vector<cuda::DirectGeometry<T>> geometries;
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    cuda::DirectGeometry<T> geometry{centers.typed_data<T>() + key[0] * layout.nshell * 3,
                                     exponents.typed_data<T>() + key[1] * layout.nprim,
                                     coefficients.typed_data<T>() + key[2] * layout.nprim, {}, outputs};
    for (const int64_t out : outputs) geometry.density_of_output.push_back(call.batch.index[3][out]);
    geometries.push_back(std::move(geometry));
  }
  const cuda::DeviceAllocate allocate = [&scratch](size_t bytes, size_t alignment) -> void* {
    const auto pointer = scratch.Allocate(bytes, alignment);
    return pointer ? *pointer : nullptr;
  };
  const std::string failure = cuda::jk_direct<T>(stream, allocate, layout, geometries, sph_table.typed_data<T>(),
                                                 density.typed_data<T>(), coulomb->typed_data<T>(),
                                                 exchange->typed_data<T>(), threshold, with_j, with_k);
  if (!failure.empty()) return ffi::Error::Internal("qpt jk_direct (CUDA): " + failure);
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
