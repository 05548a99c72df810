// qpt_kernels._cpu: the CPU FFI handlers and what they were built with.
#include <pybind11/pybind11.h>

#include "ffi/capsule.h"
#include "ffi/jk_handlers.h"

namespace py = pybind11;

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "qpt CPU kernels (XLA FFI handlers)";
  m.def("registrations", [] {
    py::dict targets;
    targets["qpt_jk_packed"] = qpt::handler_capsule(qpt::jk_packed_cpu);
    return targets;
  }, "FFI target name -> handler capsule, for platform 'cpu'");
  m.attr("version") = QPT_VERSION;
  m.attr("compiler") = QPT_COMPILER;
}
