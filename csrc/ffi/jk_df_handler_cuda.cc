// XLA FFI handler of density-fitted J/K on CUDA: the same shape checks as the CPU handler, device scratch
// from XLA's allocator, and the kernels launched on XLA's stream, one output after another.
#include <cuda_runtime.h>

#include <string>

#include "cuda/jk_df_cuda.h"
#include "ffi/jk_df_handlers.h"
#include "ffi/jk_df_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
ffi::Error run_jk_df_cuda(cudaStream_t stream, ffi::ScratchAllocator& scratch, const ffi::AnyBuffer& cderi,
                          const ffi::AnyBuffer& density, const ffi::AnyBuffer& factor, const ffi::AnyBuffer& signs,
                          ffi::Result<ffi::AnyBuffer>& coulomb, ffi::Result<ffi::AnyBuffer>& exchange,
                          const ffi_shapes::JkDfLayout& layout, bool with_j, bool with_k) {
  const int64_t n = layout.n, m = with_k ? layout.m : 0, naux = layout.naux;
  if (n == 0) return ffi::Error::Success();
  auto work = scratch.Allocate(sizeof(T) * cuda::jk_df_scratch_elements(naux, n, m), alignof(T));
  if (!work) return ffi::Error::Internal("qpt jk_df (CUDA): scratch allocation failed");
  const int64_t cderi_size = naux * packed_pair_count(n);
  for (size_t o = 0; o < layout.cderi_of_output.size(); ++o) {
    const cuda::JkDfOutput<T> output{cderi.typed_data<T>() + layout.cderi_of_output[o] * cderi_size,
                                     density.typed_data<T>() + layout.density_of_output[o] * n * n,
                                     factor.typed_data<T>() + layout.factor_of_output[o] * n * layout.m,
                                     signs.typed_data<T>() + layout.signs_of_output[o] * layout.m,
                                     coulomb->typed_data<T>() + o * n * n,
                                     exchange->typed_data<T>() + o * n * n};
    const cudaError_t status =
        cuda::launch_jk_df(output, naux, n, m, with_j, with_k, static_cast<T*>(*work), stream);
    if (status != cudaSuccess) {
      return ffi::Error::Internal(std::string("qpt jk_df (CUDA): ") + cudaGetErrorString(status));
    }
  }
  return ffi::Error::Success();
}

ffi::Error jk_df_cuda_impl(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer cderi,
                           ffi::AnyBuffer density, ffi::AnyBuffer factor, ffi::AnyBuffer signs, bool with_j,
                           bool with_k, ffi::Result<ffi::AnyBuffer> coulomb, ffi::Result<ffi::AnyBuffer> exchange) {
  ffi_shapes::JkDfLayout layout;
  if (auto error = ffi_shapes::jk_df_layout(cderi, density, factor, signs, coulomb->dimensions(),
                                            exchange->dimensions(), &layout);
      !error.success()) {
    return error;
  }
  if (coulomb->element_type() != cderi.element_type() || exchange->element_type() != cderi.element_type()) {
    return ffi::Error::InvalidArgument("qpt jk_df: outputs must have the dtype of the inputs");
  }
  switch (cderi.element_type()) {
    case ffi::DataType::F64:
      return run_jk_df_cuda<double>(stream, scratch, cderi, density, factor, signs, coulomb, exchange, layout,
                                    with_j, with_k);
    case ffi::DataType::F32:
      return run_jk_df_cuda<float>(stream, scratch, cderi, density, factor, signs, coulomb, exchange, layout,
                                   with_j, with_k);
    default:
      return ffi::Error::InvalidArgument("qpt jk_df: dtype must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_df_cuda, jk_df_cuda_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()  // XLA's CUDA stream
                                  .Ctx<ffi::ScratchAllocator>()              // device scratch
                                  .Arg<ffi::AnyBuffer>()                     // cderi: [..., naux, npair]
                                  .Arg<ffi::AnyBuffer>()                     // density: [..., n, n] (J)
                                  .Arg<ffi::AnyBuffer>()                     // factor: [..., n, m] (K)
                                  .Arg<ffi::AnyBuffer>()                     // signs: [..., m]
                                  .Attr<bool>("with_j")                      // compute J
                                  .Attr<bool>("with_k")                      // compute K
                                  .Ret<ffi::AnyBuffer>()                     // J: [..., n, n]
                                  .Ret<ffi::AnyBuffer>());                   // K: [..., n, n]

}  // namespace qpt
