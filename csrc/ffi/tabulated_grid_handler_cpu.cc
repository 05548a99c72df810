// XLA FFI handlers of the tabulated grid on the CPU: tabulate one geometry's AO blocks once, then run
// density_on_grid / potential_matrix passes that read them instead of evaluating the AOs again.
//
// A tabulated grid is two arrays, values [*, nblock, capacity, 4, kGridBlock] in the geometry's dtype and
// index [*, nblock, capacity + 1] int32 (grid_cpu.h has the layout). Batch dims broadcast like the other
// grid ops' (batch_layout.h); outputs that share one table are served by one pass.
#include <map>
#include <utility>

#include "cpu/grid_cpu.h"
#include "ffi/basis_values.h"
#include "ffi/grid_handlers.h"
#include "ffi/grid_shapes.h"

namespace ffi = xla::ffi;

namespace qpt {
namespace {

using ffi_shapes::Operand;

// The table's shape: capacity, and the number of blocks a grid of npoint points has.
struct TableShape {
  int64_t nblock = 0, capacity = 0;
};

ffi::Error table_shape(const std::string& op, const ffi::AnyBuffer& values, int64_t nao, TableShape* shape) {
  const auto v = values.dimensions();
  if (v.size() < 4 || v[v.size() - 1] != cpu::kGridBlock || v[v.size() - 2] != 4) {
    return ffi::Error::InvalidArgument(op + ": table values must be [..., blocks, capacity, 4, " +
                                       std::to_string(cpu::kGridBlock) + "], got " + ffi_shapes::dims_text(v));
  }
  shape->nblock = v[v.size() - 4];
  shape->capacity = v[v.size() - 3];
  const int64_t multiple = cpu::kTabulatedRowMultiple;
  if (shape->capacity % multiple != 0 || shape->capacity < (nao + multiple - 1) / multiple * multiple) {
    return ffi::Error::InvalidArgument(op + ": table capacity " + std::to_string(shape->capacity) +
                                       " must be a multiple of " + std::to_string(multiple) + " holding all " +
                                       std::to_string(nao) + " AOs");
  }
  return ffi::Error::Success();
}

// Checks a tabulated pass: the table operands first, then the op's own; groups outputs by table.
ffi::Error tabulated_call(const std::string& op, const ffi::AnyBuffer& values, const ffi::Buffer<ffi::DataType::S32>& index,
                          int64_t npoint, int64_t nao, std::vector<Operand> own, TableShape* shape,
                          ffi_shapes::BatchLayout* batch,
                          std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>>* outputs_by_table) {
  if (auto error = table_shape(op, values, nao, shape); !error.success()) return error;
  if (npoint < 1 || npoint > shape->nblock * cpu::kGridBlock || shape->nblock != cpu::grid_block_count(npoint)) {
    return ffi::Error::InvalidArgument(op + ": the table has " + std::to_string(shape->nblock) + " blocks, a grid of " +
                                       std::to_string(npoint) + " points has " + std::to_string(cpu::grid_block_count(npoint)));
  }
  std::vector<Operand> operands{{"table values", values.dimensions(), {shape->nblock, shape->capacity, 4, cpu::kGridBlock}},
                                {"table index", index.dimensions(), {shape->nblock, shape->capacity + 1}}};
  operands.insert(operands.end(), own.begin(), own.end());
  if (auto error = ffi_shapes::batch_layout(op, operands, batch); !error.success()) return error;
  for (int64_t out = 0; out < batch->outputs; ++out) {
    (*outputs_by_table)[{batch->index[0][out], batch->index[1][out]}].push_back(out);
  }
  return ffi::Error::Success();
}

template <typename T>
cpu::TabulatedAos<T> table_at(const ffi::AnyBuffer& values, const ffi::Buffer<ffi::DataType::S32>& index,
                              const TableShape& shape, std::pair<int64_t, int64_t> key) {
  const int64_t block_values = shape.nblock * shape.capacity * 4 * cpu::kGridBlock;
  // The kernels only read the table; TabulatedAos is shared with tabulate_aos, which writes it.
  return {const_cast<T*>(values.typed_data<T>()) + key.first * block_values,
          const_cast<int32_t*>(index.typed_data()) + key.second * shape.nblock * (shape.capacity + 1),
          shape.capacity};
}

ffi::Error invalid_table(const std::string& op) {
  return ffi::Error::InvalidArgument(op + ": the table index holds a row count above its capacity or an AO index "
                                          "outside the basis (not a table that tabulate_grid wrote)");
}

// One table per output (batch entry), from the geometry its operands index.
template <typename T>
void run_tabulate(ffi::ThreadPool& pool, const ffi_shapes::GridCall& call, const ffi::AnyBuffer& centers,
                  const ffi::AnyBuffer& exponents, const ffi::AnyBuffer& coefficients, const ffi::AnyBuffer& coords,
                  const ffi::AnyBuffer& sph_table, double threshold, const ffi::AnyBuffer& values,
                  const ffi::Buffer<ffi::DataType::S32>& index, const TableShape& shape) {
  const ShellLayout basis = call.basis.view();
  for (const auto& [key, outputs] : call.outputs_by_geometry) {
    const cpu::GridGeometry<T> g{centers.typed_data<T>() + key[0] * basis.nshell * 3,
                                 exponents.typed_data<T>() + key[1] * basis.nprim,
                                 coefficients.typed_data<T>() + key[2] * basis.nprim,
                                 coords.typed_data<T>() + key[3] * call.npoint * 3, sph_table.typed_data<T>(),
                                 call.npoint};
    for (int64_t out : outputs) cpu::tabulate_aos(pool, basis, g, threshold, table_at<T>(values, index, shape, {out, out}));
  }
}

ffi::Error tabulate_grid_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer centers, ffi::AnyBuffer exponents,
                                  ffi::AnyBuffer coefficients, ffi::AnyBuffer coords, ffi::AnyBuffer sph_table,
                                  ffi::Span<const int64_t> angular, ffi::Span<const int64_t> prim_offsets,
                                  bool spherical, double threshold, ffi::Result<ffi::AnyBuffer> values,
                                  ffi::Result<ffi::Buffer<ffi::DataType::S32>> index) {
  const std::string op = "qpt tabulate_grid";
  ffi_shapes::GridCall call;
  if (auto error = ffi_shapes::grid_call(op, angular, prim_offsets, spherical, threshold, centers, exponents,
                                         coefficients, coords, sph_table, {}, &call);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_host_basis(op, centers, exponents, coefficients); !error.success()) return error;
  const ShellLayout basis = call.basis.view();
  TableShape shape;
  if (auto error = table_shape(op, *values, basis.nao, &shape); !error.success()) return error;
  if (auto error = ffi_shapes::check_output(op, "table values", values->dimensions(), call.batch.dims,
                                            {cpu::grid_block_count(call.npoint), shape.capacity, 4, cpu::kGridBlock});
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_output(op, "table index", index->dimensions(), call.batch.dims,
                                            {shape.nblock, shape.capacity + 1});
      !error.success()) {
    return error;
  }
  if (values->element_type() != coords.element_type()) {
    return ffi::Error::InvalidArgument(op + ": the table values must have the dtype of the inputs");
  }
  if (coords.element_type() == ffi::DataType::F64) {
    run_tabulate<double>(pool, call, centers, exponents, coefficients, coords, sph_table, threshold, *values, *index,
                         shape);
  } else {
    run_tabulate<float>(pool, call, centers, exponents, coefficients, coords, sph_table, threshold, *values, *index,
                        shape);
  }
  return ffi::Error::Success();
}

template <typename T>
bool run_density(ffi::ThreadPool& pool, const ffi::AnyBuffer& values, const ffi::Buffer<ffi::DataType::S32>& index,
                 const TableShape& shape, const ffi_shapes::BatchLayout& batch,
                 const std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>>& outputs_by_table,
                 const ffi::AnyBuffer& density, int64_t npoint, int64_t nao, T* rho, T* grad) {
  for (const auto& [key, outputs] : outputs_by_table) {
    std::vector<const T*> densities;
    std::vector<T*> rho_out, grad_out;
    for (int64_t out : outputs) {
      densities.push_back(density.typed_data<T>() + batch.index[2][out] * nao * nao);
      rho_out.push_back(rho + out * npoint);
      grad_out.push_back(grad + out * npoint * 3);
    }
    if (!cpu::density_on_grid_tabulated(pool, table_at<T>(values, index, shape, key), npoint, nao, densities,
                                        rho_out, grad_out)) {
      return false;
    }
  }
  return true;
}

ffi::Error density_on_grid_tabulated_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer values,
                                              ffi::Buffer<ffi::DataType::S32> index, ffi::AnyBuffer density,
                                              int64_t npoint, ffi::Result<ffi::AnyBuffer> rho,
                                              ffi::Result<ffi::AnyBuffer> grad_rho) {
  const std::string op = "qpt density_on_grid (tabulated)";
  const auto d = density.dimensions();
  if (d.size() < 2 || d[d.size() - 1] != d[d.size() - 2]) {
    return ffi::Error::InvalidArgument(op + ": density must be [..., N, N], got " + ffi_shapes::dims_text(d));
  }
  const int64_t nao = d[d.size() - 1];
  TableShape shape;
  ffi_shapes::BatchLayout batch;
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> outputs_by_table;
  if (auto error = tabulated_call(op, values, index, npoint, nao, {{"density", d, {nao, nao}}}, &shape, &batch,
                                  &outputs_by_table);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_output(op, "rho", rho->dimensions(), batch.dims, {npoint}); !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_output(op, "grad_rho", grad_rho->dimensions(), batch.dims, {npoint, 3});
      !error.success()) {
    return error;
  }
  const auto dtype = density.element_type();
  if ((dtype != ffi::DataType::F64 && dtype != ffi::DataType::F32) || values.element_type() != dtype ||
      rho->element_type() != dtype || grad_rho->element_type() != dtype) {
    return ffi::Error::InvalidArgument(op + ": the table values, density and outputs must share one float dtype");
  }
  const bool valid = dtype == ffi::DataType::F64
                         ? run_density<double>(pool, values, index, shape, batch, outputs_by_table, density, npoint,
                                               nao, rho->typed_data<double>(), grad_rho->typed_data<double>())
                         : run_density<float>(pool, values, index, shape, batch, outputs_by_table, density, npoint,
                                              nao, rho->typed_data<float>(), grad_rho->typed_data<float>());
  return valid ? ffi::Error::Success() : invalid_table(op);
}

template <typename T>
bool run_potential(ffi::ThreadPool& pool, const ffi::AnyBuffer& values, const ffi::Buffer<ffi::DataType::S32>& index,
                   const TableShape& shape, const ffi_shapes::BatchLayout& batch,
                   const std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>>& outputs_by_table,
                   const ffi::AnyBuffer& v_rho, const ffi::AnyBuffer& v_grad, int64_t npoint, int64_t nao,
                   T* potential) {
  for (const auto& [key, outputs] : outputs_by_table) {
    std::vector<const T*> v_rho_in, v_grad_in;
    std::vector<T*> potential_out;
    for (int64_t out : outputs) {
      v_rho_in.push_back(v_rho.typed_data<T>() + batch.index[2][out] * npoint);
      v_grad_in.push_back(v_grad.typed_data<T>() + batch.index[3][out] * npoint * 3);
      potential_out.push_back(potential + out * nao * nao);
    }
    if (!cpu::potential_matrix_tabulated(pool, table_at<T>(values, index, shape, key), npoint, nao, v_rho_in,
                                         v_grad_in, potential_out)) {
      return false;
    }
  }
  return true;
}

ffi::Error potential_matrix_tabulated_cpu_impl(ffi::ThreadPool pool, ffi::AnyBuffer values,
                                               ffi::Buffer<ffi::DataType::S32> index, ffi::AnyBuffer v_rho,
                                               ffi::AnyBuffer v_grad, ffi::Result<ffi::AnyBuffer> potential) {
  const std::string op = "qpt potential_matrix (tabulated)";
  const auto r = v_rho.dimensions(), p = potential->dimensions();
  if (r.size() < 1 || p.size() < 2 || p[p.size() - 1] != p[p.size() - 2]) {
    return ffi::Error::InvalidArgument(op + ": v_rho must be [..., G] and V [..., N, N], got " +
                                       ffi_shapes::dims_text(r) + " and " + ffi_shapes::dims_text(p));
  }
  const int64_t npoint = r[r.size() - 1], nao = p[p.size() - 1];
  TableShape shape;
  ffi_shapes::BatchLayout batch;
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> outputs_by_table;
  if (auto error = tabulated_call(op, values, index, npoint, nao,
                                  {{"v_rho", r, {npoint}}, {"v_grad", v_grad.dimensions(), {npoint, 3}}}, &shape,
                                  &batch, &outputs_by_table);
      !error.success()) {
    return error;
  }
  if (auto error = ffi_shapes::check_output(op, "V", p, batch.dims, {nao, nao}); !error.success()) return error;
  const auto dtype = v_rho.element_type();
  if ((dtype != ffi::DataType::F64 && dtype != ffi::DataType::F32) || values.element_type() != dtype ||
      v_grad.element_type() != dtype || potential->element_type() != dtype) {
    return ffi::Error::InvalidArgument(op + ": the table values, potentials and output must share one float dtype");
  }
  const bool valid = dtype == ffi::DataType::F64
                         ? run_potential<double>(pool, values, index, shape, batch, outputs_by_table, v_rho, v_grad,
                                                 npoint, nao, potential->typed_data<double>())
                         : run_potential<float>(pool, values, index, shape, batch, outputs_by_table, v_rho, v_grad,
                                                npoint, nao, potential->typed_data<float>());
  return valid ? ffi::Error::Success() : invalid_table(op);
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(tabulate_grid_cpu, tabulate_grid_cpu_impl,
                              ffi_shapes::basis_attributes(ffi_shapes::grid_geometry_arguments(
                                                               ffi::Ffi::Bind().Ctx<ffi::ThreadPool>()))
                                  .Ret<ffi::AnyBuffer>()                        // values
                                  .Ret<ffi::Buffer<ffi::DataType::S32>>());     // index

XLA_FFI_DEFINE_HANDLER_SYMBOL(density_on_grid_tabulated_cpu, density_on_grid_tabulated_cpu_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()                        // table values
                                  .Arg<ffi::Buffer<ffi::DataType::S32>>()       // table index
                                  .Arg<ffi::AnyBuffer>()                        // density: [..., N, N]
                                  .Attr<int64_t>("npoint")
                                  .Ret<ffi::AnyBuffer>()                        // rho: [..., G]
                                  .Ret<ffi::AnyBuffer>());                      // grad_rho: [..., G, 3]

XLA_FFI_DEFINE_HANDLER_SYMBOL(potential_matrix_tabulated_cpu, potential_matrix_tabulated_cpu_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()                        // table values
                                  .Arg<ffi::Buffer<ffi::DataType::S32>>()       // table index
                                  .Arg<ffi::AnyBuffer>()                        // v_rho: [..., G]
                                  .Arg<ffi::AnyBuffer>()                        // v_grad: [..., G, 3]
                                  .Ret<ffi::AnyBuffer>());                      // V: [..., N, N]

}  // namespace qpt
