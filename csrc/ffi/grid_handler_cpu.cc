// XLA FFI handlers of the grid kernels on the CPU: check shapes, dispatch on dtype, and run the threaded
// drivers once per distinct geometry with all the densities (or potentials) that use it.
#include "cpu/grid_cpu.h"
#include "ffi/basis_values.h"
#include "ffi/grid_handlers.h"
#include "ffi/grid_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

using ffi_shapes::GridCall;

template <typename T>
cpu::GridGeometry<T> geometry_of(const GridCall& call, const std::array<int64_t, 4>& key, const ffi::AnyBuffer& centers,
                                 const ffi::AnyBuffer& exponents, const ffi::AnyBuffer& coefficients,
                                 const ffi::AnyBuffer& coords, const ffi::AnyBuffer& sph_table) {
  const ShellLayout basis = call.basis.view();
  return {centers.typed_data<T>() + key[0] * basis.nshell * 3, exponents.typed_data<T>() + key[1] * basis.nprim,
          coefficients.typed_data<T>() + key[2] * basis.nprim, coords.typed_data<T>() + key[3] * call.npoint * 3,
          sph_table.typed_data<T>(), call.npoint};
}

template <typename T>
void run_density(ffi::ThreadPool& pool, const GridCall& call, const ffi::AnyBuffer& centers,
                 const ffi::AnyBuffer& exponents, const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                 const ffi::AnyBuffer& sph_table, const ffi::AnyBuffer& density, double threshold, T* rho, T* grad) {
  const ShellLayout basis = call.basis.view();
  const int64_t nao = basis.nao, npoint = call.npoint;
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    std::vector<const T*> densities;
    std::vector<T*> rho_out, grad_out;
    for (int64_t out : outputs) {
      densities.push_back(density.typed_data<T>() + call.batch.index[4][out] * nao * nao);
      rho_out.push_back(rho + out * npoint);
      grad_out.push_back(grad + out * npoint * 3);
    }
    cpu::density_on_grid(pool, basis, geometry_of<T>(call, key, centers, exponents, coefficients, coords, sph_table),
                         threshold, densities, rho_out, grad_out);
  }
}

ffi::Error density_on_grid_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer centers, ffi::AnyBuffer exponents,
                                    ffi::AnyBuffer coefficients, ffi::AnyBuffer coords, ffi::AnyBuffer sph_table,
                                    ffi::AnyBuffer density, ffi::Span<const int64_t> angular,
                                    ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                    ffi::Result<ffi::AnyBuffer> rho, ffi::Result<ffi::AnyBuffer> grad_rho) {
  const std::string op = "qpt density_on_grid";
  GridCall call;
  if (auto error = ffi_shapes::density_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                            coefficients, coords, sph_table, density, *rho, *grad_rho, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_host_basis(op, centers, exponents, coefficients); !error.success()) return error;
  if (density.element_type() == ffi::DataType::F64) {
    run_density<double>(pool, call, centers, exponents, coefficients, coords, sph_table, density, threshold,
                        rho->typed_data<double>(), grad_rho->typed_data<double>());
  } else {
    run_density<float>(pool, call, centers, exponents, coefficients, coords, sph_table, density, threshold,
                       rho->typed_data<float>(), grad_rho->typed_data<float>());
  }
  return ffi::Error::Success();
}

template <typename T>
void run_potential(ffi::ThreadPool& pool, const GridCall& call, const ffi::AnyBuffer& centers,
                   const ffi::AnyBuffer& exponents, const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                   const ffi::AnyBuffer& sph_table, const ffi::AnyBuffer& v_rho, const ffi::AnyBuffer& v_grad,
                   double threshold, T* potential) {
  const ShellLayout basis = call.basis.view();
  const int64_t nao = basis.nao, npoint = call.npoint;
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    std::vector<const T*> v_rho_in, v_grad_in;
    std::vector<T*> potential_out;
    for (int64_t out : outputs) {
      v_rho_in.push_back(v_rho.typed_data<T>() + call.batch.index[4][out] * npoint);
      v_grad_in.push_back(v_grad.typed_data<T>() + call.batch.index[5][out] * npoint * 3);
      potential_out.push_back(potential + out * nao * nao);
    }
    cpu::potential_matrix(pool, basis, geometry_of<T>(call, key, centers, exponents, coefficients, coords, sph_table),
                          threshold, v_rho_in, v_grad_in, potential_out);
  }
}

ffi::Error potential_matrix_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer centers, ffi::AnyBuffer exponents,
                                     ffi::AnyBuffer coefficients, ffi::AnyBuffer coords, ffi::AnyBuffer sph_table,
                                     ffi::AnyBuffer v_rho, ffi::AnyBuffer v_grad, ffi::Span<const int64_t> angular,
                                     ffi::Span<const int64_t> prim_offsets, bool spherical, double threshold,
                                     ffi::Result<ffi::AnyBuffer> potential) {
  const std::string op = "qpt potential_matrix";
  GridCall call;
  if (auto error = ffi_shapes::potential_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                              coefficients, coords, sph_table, v_rho, v_grad, *potential, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_host_basis(op, centers, exponents, coefficients); !error.success()) return error;
  if (v_rho.element_type() == ffi::DataType::F64) {
    run_potential<double>(pool, call, centers, exponents, coefficients, coords, sph_table, v_rho, v_grad, threshold,
                          potential->typed_data<double>());
  } else {
    run_potential<float>(pool, call, centers, exponents, coefficients, coords, sph_table, v_rho, v_grad, threshold,
                         potential->typed_data<float>());
  }
  return ffi::Error::Success();
}

// [blocks, shell_blocks, kept_shell_blocks, primitive_blocks, kept_primitive_blocks, ao_pair_points,
//  kept_ao_pair_points] of one geometry (no batch dims), as float64.
ffi::Error grid_screening_counts_cpu_impl(ffi::AnyBuffer centers, ffi::AnyBuffer exponents,
                                          ffi::AnyBuffer coefficients, ffi::AnyBuffer coords, ffi::AnyBuffer sph_table,
                                          ffi::Span<const int64_t> angular, ffi::Span<const int64_t> prim_offsets,
                                          bool spherical, double threshold,
                                          ffi::Result<ffi::Buffer<ffi::DataType::F64>> counts) {
  const std::string op = "qpt grid_screening_counts";
  GridCall call;
  if (auto error = ffi_shapes::grid_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                         coefficients, coords, sph_table, {}, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_host_basis(op, centers, exponents, coefficients); !error.success()) return error;
  if (call.batch.outputs != 1 || counts->element_count() != 7) {
    return ffi::Error::InvalidArgument(op + ": one geometry in, 7 counts out");
  }
  const std::array<int64_t, 4> key{0, 0, 0, 0};
  cpu::ScreeningCounts c;
  if (coords.element_type() == ffi::DataType::F64) {
    c = cpu::screening_counts(call.basis.view(),
                              geometry_of<double>(call, key, centers, exponents, coefficients, coords, sph_table),
                              threshold);
  } else {
    c = cpu::screening_counts(call.basis.view(),
                              geometry_of<float>(call, key, centers, exponents, coefficients, coords, sph_table),
                              threshold);
  }
  double* out = counts->typed_data();
  const double values[7] = {double(c.blocks),           double(c.shell_blocks), double(c.kept_shell_blocks),
                            double(c.primitive_blocks), double(c.kept_primitive_blocks), c.ao_pair_points,
                            c.kept_ao_pair_points};
  std::copy(values, values + 7, out);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(density_on_grid_cpu, density_on_grid_cpu_impl,
                              ffi_shapes::density_on_grid_binding(ffi::Ffi::Bind()
                                                                  .Ctx<ffi::ThreadPool>()));

XLA_FFI_DEFINE_HANDLER_SYMBOL(potential_matrix_cpu, potential_matrix_cpu_impl,
                              ffi_shapes::potential_matrix_binding(ffi::Ffi::Bind()
                                                                  .Ctx<ffi::ThreadPool>()));

XLA_FFI_DEFINE_HANDLER_SYMBOL(grid_screening_counts_cpu, grid_screening_counts_cpu_impl,
                              ffi_shapes::basis_attributes(ffi_shapes::grid_geometry_arguments(ffi::Ffi::Bind()))
                                  .Ret<ffi::Buffer<ffi::DataType::F64>>());  // the 7 counts (one geometry)

}  // namespace qpt
