// XLA FFI handler of the integral-direct J/K on the CPU: checks the call, converts float32 operands to the
// engine's float64 (and results back), and runs the threaded driver once per distinct geometry with all the
// densities that use it.
#include "cpu/jk_direct_cpu.h"
#include "ffi/basis_values.h"
#include "ffi/jk_direct_shapes.h"
#include "ffi/jk_handlers.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

template <typename T>
std::vector<double> as_double(const ffi::AnyBuffer& buffer, int64_t offset, int64_t count) {
  const T* data = buffer.typed_data<T>() + offset;
  return std::vector<double>(data, data + count);
}

template <typename T>
void run_direct(ffi::ThreadPool& pool, const ffi_shapes::DirectCall& call, const ffi::AnyBuffer& centers,
                const ffi::AnyBuffer& exponents, const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& sph_table,
                const ffi::AnyBuffer& density, double threshold, bool with_j, bool with_k, T* coulomb, T* exchange) {
  const ShellLayout layout = call.basis.view();
  const int64_t n = layout.nao, nn = n * n;
  const std::vector<double> table = as_double<T>(sph_table, 0, kSphTableSize);
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    const std::vector<double> center_values = as_double<T>(centers, key[0] * layout.nshell * 3, layout.nshell * 3);
    const std::vector<double> exponent_values = as_double<T>(exponents, key[1] * layout.nprim, layout.nprim);
    const std::vector<double> coefficient_values = as_double<T>(coefficients, key[2] * layout.nprim, layout.nprim);
    const cpu::DirectBasis basis{layout, center_values.data(), exponent_values.data(), coefficient_values.data(),
                                 table.data()};
    const int64_t count = static_cast<int64_t>(outputs.size());
    std::vector<double> densities_in(count * nn), j_out(count * nn, 0.0), k_out(count * nn, 0.0);
    std::vector<const double*> densities;
    std::vector<double*> j_targets, k_targets;
    for (int64_t o = 0; o < count; ++o) {
      const T* source = density.typed_data<T>() + call.batch.index[3][outputs[o]] * nn;
      std::copy(source, source + nn, densities_in.begin() + o * nn);
      densities.push_back(densities_in.data() + o * nn);
      j_targets.push_back(j_out.data() + o * nn);
      k_targets.push_back(k_out.data() + o * nn);
    }
    cpu::jk_direct(pool, basis, threshold, densities, j_targets, k_targets, with_j, with_k);
    // Outputs the flags switched off stay zeros rather than uninitialised.
    for (int64_t o = 0; o < count; ++o) {
      std::copy(j_out.begin() + o * nn, j_out.begin() + (o + 1) * nn, coulomb + outputs[o] * nn);
      std::copy(k_out.begin() + o * nn, k_out.begin() + (o + 1) * nn, exchange + outputs[o] * nn);
    }
  }
}

ffi::Error jk_direct_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer centers, ffi::AnyBuffer exponents,
                              ffi::AnyBuffer coefficients, ffi::AnyBuffer sph_table, ffi::AnyBuffer density,
                              ffi::Span<const int64_t> angular, ffi::Span<const int64_t> prim_offsets, bool spherical,
                              double threshold, bool with_j, bool with_k, ffi::Result<ffi::AnyBuffer> coulomb,
                              ffi::Result<ffi::AnyBuffer> exchange) {
  const std::string op = "qpt jk_direct";
  ffi_shapes::DirectCall call;
  if (auto error = ffi_shapes::direct_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                           coefficients, sph_table, density, *coulomb, *exchange, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_host_basis(op, centers, exponents, coefficients); !error.success()) return error;
  if (density.element_type() == ffi::DataType::F64) {
    run_direct<double>(pool, call, centers, exponents, coefficients, sph_table, density, threshold, with_j, with_k,
                       coulomb->typed_data<double>(), exchange->typed_data<double>());
  } else {
    run_direct<float>(pool, call, centers, exponents, coefficients, sph_table, density, threshold, with_j, with_k,
                      coulomb->typed_data<float>(), exchange->typed_data<float>());
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jk_direct_cpu, jk_direct_cpu_impl,
                              ffi_shapes::jk_direct_binding(ffi::Ffi::Bind().Ctx<ffi::ThreadPool>()));

}  // namespace qpt
