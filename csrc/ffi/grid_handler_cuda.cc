// XLA FFI handlers of the grid kernels on CUDA: the same checks as the CPU handlers, device scratch from
// XLA's allocator, and one launch per distinct geometry on XLA's stream.
#include <cuda_runtime.h>

#include "cuda/grid_cuda.h"
#include "ffi/basis_values_cuda.h"
#include "ffi/grid_handlers.h"
#include "ffi/grid_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

using ffi_shapes::GridCall;

template <typename T>
cuda::DeviceGeometry<T> device_geometry(const GridCall& call, const std::array<int64_t, 4>& key,
                                        const ffi::AnyBuffer& centers, const ffi::AnyBuffer& exponents,
                                        const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                                        const ffi::AnyBuffer& sph_table) {
  const ShellLayout basis = call.basis.view();
  return {centers.typed_data<T>() + key[0] * basis.nshell * 3, exponents.typed_data<T>() + key[1] * basis.nprim,
          coefficients.typed_data<T>() + key[2] * basis.nprim, coords.typed_data<T>() + key[3] * call.npoint * 3,
          sph_table.typed_data<T>(), call.npoint};
}

ffi::Error cuda_status(const std::string& op, cudaError_t status) {
  if (status == cudaSuccess) return ffi::Error::Success();
  return ffi::Error::Internal(op + " (CUDA): " + cudaGetErrorString(status));
}

template <typename T>
ffi::Error run_density(cudaStream_t stream, ffi::ScratchAllocator& scratch, const GridCall& call,
                       const ffi::AnyBuffer& centers, const ffi::AnyBuffer& exponents,
                       const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                       const ffi::AnyBuffer& sph_table, const ffi::AnyBuffer& density, double threshold, T* rho,
                       T* grad) {
  const std::string op = "qpt density_on_grid";
  const ShellLayout basis = call.basis.view();
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    cuda::GridJob job;
    job.outputs = outputs;
    for (int64_t out : outputs) job.inputs.push_back(call.batch.index[4][out]);
    const size_t bytes = cuda::density_scratch_bytes<T>(basis, call.npoint, static_cast<int64_t>(outputs.size()));
    auto work = scratch.Allocate(bytes, 256);
    if (!work) return ffi::Error::Internal(op + " (CUDA): scratch allocation failed");
    const cudaError_t status = cuda::launch_density_on_grid(
        basis, device_geometry<T>(call, key, centers, exponents, coefficients, coords, sph_table), threshold,
        density.typed_data<T>(), rho, grad, job, *work, bytes, stream);
    if (auto error = cuda_status(op, status); !error.success()) return error;
  }
  return ffi::Error::Success();
}

ffi::Error density_on_grid_cuda_impl(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer centers,
                                     ffi::AnyBuffer exponents, ffi::AnyBuffer coefficients, ffi::AnyBuffer coords,
                                     ffi::AnyBuffer sph_table, ffi::AnyBuffer density,
                                     ffi::Span<const int64_t> angular, ffi::Span<const int64_t> prim_offsets,
                                     bool spherical, double threshold, ffi::Result<ffi::AnyBuffer> rho,
                                     ffi::Result<ffi::AnyBuffer> grad_rho) {
  const std::string op = "qpt density_on_grid";
  GridCall call;
  if (auto error = ffi_shapes::density_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                            coefficients, coords, sph_table, density, *rho, *grad_rho, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_device_basis(op, stream, centers, exponents, coefficients); !error.success()) {
    return error;
  }
  if (density.element_type() == ffi::DataType::F64) {
    return run_density<double>(stream, scratch, call, centers, exponents, coefficients, coords, sph_table, density,
                               threshold, rho->typed_data<double>(), grad_rho->typed_data<double>());
  }
  return run_density<float>(stream, scratch, call, centers, exponents, coefficients, coords, sph_table, density,
                            threshold, rho->typed_data<float>(), grad_rho->typed_data<float>());
}

template <typename T>
ffi::Error run_potential(cudaStream_t stream, ffi::ScratchAllocator& scratch, const GridCall& call,
                         const ffi::AnyBuffer& centers, const ffi::AnyBuffer& exponents,
                         const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                         const ffi::AnyBuffer& sph_table, const ffi::AnyBuffer& v_rho, const ffi::AnyBuffer& v_grad,
                         double threshold, T* potential) {
  const std::string op = "qpt potential_matrix";
  const ShellLayout basis = call.basis.view();
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    cuda::GridJob job;
    job.outputs = outputs;
    for (int64_t out : outputs) {
      job.inputs.push_back(call.batch.index[4][out]);
      job.v_grad_inputs.push_back(call.batch.index[5][out]);
    }
    const size_t bytes = cuda::potential_scratch_bytes<T>(basis, call.npoint, static_cast<int64_t>(outputs.size()));
    auto work = scratch.Allocate(bytes, 256);
    if (!work) return ffi::Error::Internal(op + " (CUDA): scratch allocation failed");
    const cudaError_t status = cuda::launch_potential_matrix(
        basis, device_geometry<T>(call, key, centers, exponents, coefficients, coords, sph_table), threshold,
        v_rho.typed_data<T>(), v_grad.typed_data<T>(), potential, job, *work, bytes, stream);
    if (auto error = cuda_status(op, status); !error.success()) return error;
  }
  return ffi::Error::Success();
}

ffi::Error potential_matrix_cuda_impl(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer centers,
                                      ffi::AnyBuffer exponents, ffi::AnyBuffer coefficients, ffi::AnyBuffer coords,
                                      ffi::AnyBuffer sph_table, ffi::AnyBuffer v_rho, ffi::AnyBuffer v_grad,
                                      ffi::Span<const int64_t> angular, ffi::Span<const int64_t> prim_offsets,
                                      bool spherical, double threshold, ffi::Result<ffi::AnyBuffer> potential) {
  const std::string op = "qpt potential_matrix";
  GridCall call;
  if (auto error = ffi_shapes::potential_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                              coefficients, coords, sph_table, v_rho, v_grad, *potential, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_device_basis(op, stream, centers, exponents, coefficients); !error.success()) {
    return error;
  }
  if (v_rho.element_type() == ffi::DataType::F64) {
    return run_potential<double>(stream, scratch, call, centers, exponents, coefficients, coords, sph_table, v_rho,
                                 v_grad, threshold, potential->typed_data<double>());
  }
  return run_potential<float>(stream, scratch, call, centers, exponents, coefficients, coords, sph_table, v_rho,
                              v_grad, threshold, potential->typed_data<float>());
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(density_on_grid_cuda, density_on_grid_cuda_impl,
                              ffi_shapes::density_on_grid_binding(ffi::Ffi::Bind()
                                                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                                                  .Ctx<ffi::ScratchAllocator>()));

XLA_FFI_DEFINE_HANDLER_SYMBOL(potential_matrix_cuda, potential_matrix_cuda_impl,
                              ffi_shapes::potential_matrix_binding(ffi::Ffi::Bind()
                                                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                                                  .Ctx<ffi::ScratchAllocator>()));

}  // namespace qpt
