// Test entry points of the integral-direct engine's math (Boys function, single shell quartets), so the
// tests can compare them with independent references (quadrature, libcint) one piece at a time.
#pragma once

#include <pybind11/pybind11.h>

namespace qpt {
void add_eri_probes(pybind11::module_& module);
}  // namespace qpt
