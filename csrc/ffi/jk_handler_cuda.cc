// XLA FFI handler of the packed-ERI J/K contraction on CUDA: the same shape checks as the CPU handler,
// device scratch from XLA's allocator, and the kernels launched on XLA's stream.
#include <cuda_runtime.h>

#include "cuda/jk_cuda.h"
#include "ffi/jk_handlers.h"
#include "ffi/jk_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
ffi::Error run_jk_cuda(cudaStream_t stream, ffi::ScratchAllocator& scratch, const ffi::AnyBuffer& eri,
                       const ffi::AnyBuffer& density, ffi::Result<ffi::AnyBuffer>& coulomb,
                       ffi::Result<ffi::AnyBuffer>& exchange, const ffi_shapes::JkLayout& layout,
                       bool with_j, bool with_k) {
  const int64_t outputs = static_cast<int64_t>(layout.eri_of_output.size());
  if (outputs > 65535) {
    return ffi::Error::InvalidArgument("qpt jk (CUDA): at most 65535 densities per call");
  }
  const size_t index_bytes = sizeof(int64_t) * outputs;
  auto indices = scratch.Allocate(2 * index_bytes, alignof(int64_t));
  auto work = scratch.Allocate(sizeof(T) * cuda::jk_scratch_elements(layout.n, outputs), alignof(T));
  if (!indices || !work) return ffi::Error::Internal("qpt jk (CUDA): scratch allocation failed");
  auto* eri_of_output = static_cast<int64_t*>(*indices);
  int64_t* density_of_output = eri_of_output + outputs;
  cudaMemcpyAsync(eri_of_output, layout.eri_of_output.data(), index_bytes, cudaMemcpyHostToDevice, stream);
  cudaMemcpyAsync(density_of_output, layout.density_of_output.data(), index_bytes, cudaMemcpyHostToDevice,
                  stream);

  cuda::JkBatch<T> batch{eri.typed_data<T>(), density.typed_data<T>(), eri_of_output, density_of_output,
                         coulomb->typed_data<T>(), exchange->typed_data<T>(), static_cast<T*>(*work),
                         outputs, layout.n, with_j, with_k};
  const cudaError_t status = cuda::launch_jk_packed(batch, stream);
  if (status != cudaSuccess) {
    return ffi::Error::Internal(std::string("qpt jk (CUDA): ") + cudaGetErrorString(status));
  }
  return ffi::Error::Success();
}

ffi::Error jk_packed_cuda_impl(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer eri,
                               ffi::AnyBuffer density, bool with_j, bool with_k,
                               ffi::Result<ffi::AnyBuffer> coulomb, ffi::Result<ffi::AnyBuffer> exchange) {
  ffi_shapes::JkLayout layout;
  if (auto error = ffi_shapes::jk_layout(eri, density, coulomb->dimensions(), exchange->dimensions(),
                                         &layout);
      !error.success()) {
    return error;
  }
  switch (eri.element_type()) {
    case ffi::DataType::F64:
      return run_jk_cuda<double>(stream, scratch, eri, density, coulomb, exchange, layout, with_j, with_k);
    case ffi::DataType::F32:
      return run_jk_cuda<float>(stream, scratch, eri, density, coulomb, exchange, layout, with_j, with_k);
    default:
      return ffi::Error::InvalidArgument("qpt jk: dtype must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_packed_cuda, jk_packed_cuda_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()  // XLA's CUDA stream
                                  .Ctx<ffi::ScratchAllocator>()              // device scratch
                                  .Arg<ffi::AnyBuffer>()                     // eri: [..., L]
                                  .Arg<ffi::AnyBuffer>()                     // density: [..., n, n]
                                  .Attr<bool>("with_j")                      // compute J
                                  .Attr<bool>("with_k")                      // compute K
                                  .Ret<ffi::AnyBuffer>()                     // J: [..., n, n]
                                  .Ret<ffi::AnyBuffer>());                   // K: [..., n, n]

}  // namespace qpt
