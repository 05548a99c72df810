// XLA FFI handler of the packed-ERI J/K contraction on the CPU: checks shapes, dispatches on dtype,
// groups the batch by integral set and runs the threaded driver once per set.
#include "ffi/jk_handlers.h"

#include "cpu/jk_cpu.h"
#include "ffi/jk_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
ffi::Error run_jk_cpu(ffi::ThreadPool pool, const ffi::AnyBuffer& eri, const ffi::AnyBuffer& density,
                      ffi::Result<ffi::AnyBuffer>& coulomb, ffi::Result<ffi::AnyBuffer>& exchange,
                      const ffi_shapes::JkLayout& layout, bool with_j, bool with_k) {
  const int64_t n = layout.n;
  const int64_t eri_length = packed_eri_length(n);
  const T* eri_data = eri.typed_data<T>();
  const T* density_data = density.typed_data<T>();
  T* j_data = coulomb->typed_data<T>();
  T* k_data = exchange->typed_data<T>();
  for (int64_t e = 0; e < layout.eri_count; ++e) {
    cpu::JkJob<T> job;
    job.eri = eri_data + e * eri_length;
    for (size_t o = 0; o < layout.eri_of_output.size(); ++o) {
      if (layout.eri_of_output[o] != e) continue;
      job.densities.push_back(density_data + layout.density_of_output[o] * n * n);
      job.coulomb.push_back(j_data + o * n * n);
      job.exchange.push_back(k_data + o * n * n);
    }
    if (!job.densities.empty()) cpu::jk_packed(pool, job, n, with_j, with_k);
  }
  // Outputs the flags switched off are defined as zeros rather than left uninitialised.
  const size_t count = layout.eri_of_output.size() * n * n;
  if (!with_j) std::fill(j_data, j_data + count, T(0));
  if (!with_k) std::fill(k_data, k_data + count, T(0));
  return ffi::Error::Success();
}

ffi::Error jk_packed_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer eri, ffi::AnyBuffer density,
                              bool with_j, bool with_k, ffi::Result<ffi::AnyBuffer> coulomb,
                              ffi::Result<ffi::AnyBuffer> exchange) {
  ffi_shapes::JkLayout layout;
  if (auto error = ffi_shapes::jk_layout(eri, density, coulomb->dimensions(), exchange->dimensions(),
                                         &layout);
      !error.success()) {
    return error;
  }
  if (coulomb->element_type() != eri.element_type() || exchange->element_type() != eri.element_type()) {
    return ffi::Error::InvalidArgument("qpt jk: outputs must have the dtype of the inputs");
  }
  switch (eri.element_type()) {
    case ffi::DataType::F64:
      return run_jk_cpu<double>(pool, eri, density, coulomb, exchange, layout, with_j, with_k);
    case ffi::DataType::F32:
      return run_jk_cpu<float>(pool, eri, density, coulomb, exchange, layout, with_j, with_k);
    default:
      return ffi::Error::InvalidArgument("qpt jk: dtype must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_packed_cpu, jk_packed_cpu_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()      // XLA's intra-op pool
                                  .Arg<ffi::AnyBuffer>()       // eri: [..., L] packed 's8'
                                  .Arg<ffi::AnyBuffer>()       // density: [..., n, n]
                                  .Attr<bool>("with_j")        // compute J
                                  .Attr<bool>("with_k")        // compute K
                                  .Ret<ffi::AnyBuffer>()       // J: [..., n, n]
                                  .Ret<ffi::AnyBuffer>());     // K: [..., n, n]

}  // namespace qpt
