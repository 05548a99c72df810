// qpt_kernels._cpu: the CPU FFI handlers and what they were built with.
#include <pybind11/pybind11.h>

#include "ffi/capsule.h"
#include "ffi/grid_handlers.h"
#include "ffi/jk_df_handlers.h"
#include "ffi/jk_handlers.h"

namespace py = pybind11;

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "qpt CPU kernels (XLA FFI handlers)";
  m.def("registrations", [] {
    py::dict targets;
    targets["qpt_jk_packed"] = qpt::handler_capsule(qpt::jk_packed_cpu);
    targets["qpt_jk_direct"] = qpt::handler_capsule(qpt::jk_direct_cpu);
    targets["qpt_jk_df"] = qpt::handler_capsule(qpt::jk_df_cpu);
    targets["qpt_density_on_grid"] = qpt::handler_capsule(qpt::density_on_grid_cpu);
    targets["qpt_potential_matrix"] = qpt::handler_capsule(qpt::potential_matrix_cpu);
    targets["qpt_grid_screening_counts"] = qpt::handler_capsule(qpt::grid_screening_counts_cpu);
    targets["qpt_tabulate_grid"] = qpt::handler_capsule(qpt::tabulate_grid_cpu);
    targets["qpt_density_on_grid_tabulated"] = qpt::handler_capsule(qpt::density_on_grid_tabulated_cpu);
    targets["qpt_potential_matrix_tabulated"] = qpt::handler_capsule(qpt::potential_matrix_tabulated_cpu);
    return targets;
  }, "FFI target name -> handler capsule, for platform 'cpu'");
  m.attr("version") = QPT_VERSION;
  m.attr("compiler") = QPT_COMPILER;
}
