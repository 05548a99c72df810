// XLA FFI handler of density-fitted J/K on the CPU: checks shapes, dispatches on dtype, groups the batch
// by geometry and runs the threaded driver once per geometry.
#include "cpu/jk_df_cpu.h"
#include "ffi/jk_df_handlers.h"
#include "ffi/jk_df_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
ffi::Error run_jk_df_cpu(ffi::ThreadPool pool, const ffi::AnyBuffer& cderi, const ffi::AnyBuffer& density,
                         const ffi::AnyBuffer& factor, const ffi::AnyBuffer& signs,
                         ffi::Result<ffi::AnyBuffer>& coulomb, ffi::Result<ffi::AnyBuffer>& exchange,
                         const ffi_shapes::JkDfLayout& layout, bool with_j, bool with_k) {
  const int64_t n = layout.n, m = layout.m;
  const int64_t cderi_size = layout.naux * packed_pair_count(n);
  T* j_data = coulomb->typed_data<T>();
  T* k_data = exchange->typed_data<T>();
  for (int64_t g = 0; g < layout.cderi_count; ++g) {
    cpu::JkDfJob<T> job;
    job.cderi = cderi.typed_data<T>() + g * cderi_size;
    job.naux = layout.naux;
    for (size_t o = 0; o < layout.cderi_of_output.size(); ++o) {
      if (layout.cderi_of_output[o] != g) continue;
      job.densities.push_back(density.typed_data<T>() + layout.density_of_output[o] * n * n);
      job.factors.push_back(factor.typed_data<T>() + layout.factor_of_output[o] * n * m);
      job.signs.push_back(signs.typed_data<T>() + layout.signs_of_output[o] * m);
      job.coulomb.push_back(j_data + o * n * n);
      job.exchange.push_back(k_data + o * n * n);
    }
    if (!job.densities.empty()) cpu::jk_df(pool, job, n, m, with_j, with_k);
  }
  // Outputs the flags switched off are defined as zeros rather than left uninitialised.
  const size_t count = layout.cderi_of_output.size() * n * n;
  if (!with_j) std::fill(j_data, j_data + count, T(0));
  if (!with_k) std::fill(k_data, k_data + count, T(0));
  return ffi::Error::Success();
}

ffi::Error jk_df_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer cderi, ffi::AnyBuffer density, ffi::AnyBuffer factor,
                          ffi::AnyBuffer signs, bool with_j, bool with_k, ffi::Result<ffi::AnyBuffer> coulomb,
                          ffi::Result<ffi::AnyBuffer> exchange) {
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
      return run_jk_df_cpu<double>(pool, cderi, density, factor, signs, coulomb, exchange, layout, with_j, with_k);
    case ffi::DataType::F32:
      return run_jk_df_cpu<float>(pool, cderi, density, factor, signs, coulomb, exchange, layout, with_j, with_k);
    default:
      return ffi::Error::InvalidArgument("qpt jk_df: dtype must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_df_cpu, jk_df_cpu_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()      // XLA's intra-op pool
                                  .Arg<ffi::AnyBuffer>()       // cderi: [..., naux, npair]
                                  .Arg<ffi::AnyBuffer>()       // density: [..., n, n] (J)
                                  .Arg<ffi::AnyBuffer>()       // factor: [..., n, m] (K)
                                  .Arg<ffi::AnyBuffer>()       // signs: [..., m]
                                  .Attr<bool>("with_j")        // compute J
                                  .Attr<bool>("with_k")        // compute K
                                  .Ret<ffi::AnyBuffer>()       // J: [..., n, n]
                                  .Ret<ffi::AnyBuffer>());     // K: [..., n, n]

}  // namespace qpt
