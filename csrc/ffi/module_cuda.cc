// qpt_kernels._cuda: the CUDA FFI handlers. cudart is linked statically, so this imports (and reports
// its build) on machines without a GPU; the handlers only run when XLA has a CUDA device.
#include <pybind11/pybind11.h>

#include "ffi/capsule.h"
#include "ffi/grid_handlers.h"
#include "ffi/jk_df_handlers.h"
#include "ffi/jk_handlers.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "qpt CUDA kernels (XLA FFI handlers)";
  m.def("registrations", [] {
    py::dict targets;
    targets["qpt_jk_packed"] = qpt::handler_capsule(qpt::jk_packed_cuda);
    targets["qpt_jk_direct"] = qpt::handler_capsule(qpt::jk_direct_cuda);
    targets["qpt_jk_df"] = qpt::handler_capsule(qpt::jk_df_cuda);
    targets["qpt_density_on_grid"] = qpt::handler_capsule(qpt::density_on_grid_cuda);
    targets["qpt_potential_matrix"] = qpt::handler_capsule(qpt::potential_matrix_cuda);
    return targets;
  }, "FFI target name -> handler capsule, for platform 'CUDA'");
  m.attr("version") = QPT_VERSION;
  m.attr("compiler") = QPT_COMPILER;
  m.attr("cuda_version") = QPT_CUDA_VERSION;
  m.attr("cuda_architectures") = QPT_CUDA_ARCHITECTURES;
}
