// qpt_kernels._eri_probes: test entry points of the integral-direct engine's math (Boys function, single
// shell quartets), so the tests can compare them with independent references (quadrature, libcint) one piece
// at a time. A module of its own: the kernel module carries no test code.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/jk_direct_cpu.h"
#include "qpt/boys.h"
#include "qpt/gto_eval.h"

namespace py = pybind11;

namespace qpt {
namespace {

using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;
using Indices = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// [len(T), m_max + 1]: F_m(T) for m = 0..m_max.
Doubles boys_values(int m_max, const Doubles& t_values, bool use_table) {
  if (m_max < 0 || m_max > kBoysMaxOrder) {
    throw std::invalid_argument("boys: m_max must be 0.." + std::to_string(kBoysMaxOrder));
  }
  const int64_t count = t_values.size();
  Doubles out({count, static_cast<int64_t>(m_max + 1)});
  const double* t = t_values.data();
  double* values = out.mutable_data();
  for (int64_t k = 0; k < count; ++k) {
    if (!(t[k] >= 0)) throw std::invalid_argument("boys: T must be >= 0");
    boys_function(m_max, t[k], values + k * (m_max + 1), use_table ? cpu::boys_table() : nullptr);
  }
  return out;
}

// The AO integrals [wa, wb, wc, wd] of each requested quartet (rows of `quartets`, shell indices).
py::list eri_quartets(const Doubles& centers, const Doubles& exponents, const Doubles& coefficients,
                      const Doubles& sph_table, const std::vector<int64_t>& angular,
                      const std::vector<int64_t>& prim_offsets, bool spherical, const Indices& quartets) {
  const int64_t nshell = static_cast<int64_t>(angular.size());
  if (nshell == 0 || static_cast<int64_t>(prim_offsets.size()) != nshell + 1 || prim_offsets[0] != 0) {
    throw std::invalid_argument("eri_quartets: prim_offsets must have nshell + 1 entries starting at 0");
  }
  std::vector<int64_t> ao_offsets{0};
  for (int64_t s = 0; s < nshell; ++s) {
    if (angular[s] < 0 || angular[s] > kEriMaxAngular || prim_offsets[s + 1] <= prim_offsets[s] ||
        prim_offsets[s + 1] - prim_offsets[s] > kEriMaxPrimitives) {
      throw std::invalid_argument("eri_quartets: bad shell " + std::to_string(s));
    }
    ao_offsets.push_back(ao_offsets.back() + shell_width(static_cast<int>(angular[s]), spherical));
  }
  if (centers.size() != 3 * nshell || exponents.size() != prim_offsets.back() ||
      coefficients.size() != prim_offsets.back() || sph_table.size() != kSphTableSize) {
    throw std::invalid_argument("eri_quartets: array sizes do not match the layout");
  }
  if (quartets.ndim() != 2 || quartets.shape(1) != 4) throw std::invalid_argument("eri_quartets: quartets is [Q, 4]");
  const cpu::DirectBasis basis{{angular.data(), prim_offsets.data(), ao_offsets.data(), nshell, prim_offsets.back(),
                                ao_offsets.back(), spherical},
                               centers.data(), exponents.data(), coefficients.data(), sph_table.data()};
  py::list blocks;
  const int64_t* rows = quartets.data();
  for (int64_t q = 0; q < quartets.shape(0); ++q) {
    std::vector<int64_t> shape;
    for (int k = 0; k < 4; ++k) {
      const int64_t s = rows[4 * q + k];
      if (s < 0 || s >= nshell) throw std::invalid_argument("eri_quartets: shell index out of range");
      shape.push_back(ao_offsets[s + 1] - ao_offsets[s]);
    }
    const std::vector<double> values = cpu::eri_quartet_block(basis, rows + 4 * q);
    Doubles block(shape);
    std::copy(values.begin(), values.end(), block.mutable_data());
    blocks.append(block);
  }
  return blocks;
}

}  // namespace
}  // namespace qpt

PYBIND11_MODULE(_eri_probes, module) {
  using namespace qpt;
  module.def("boys", &boys_values, py::arg("m_max"), py::arg("t"), py::arg("use_table") = true,
             "F_m(T) for m = 0..m_max at each T: [len(T), m_max + 1], from the kernels' table or the series "
             "(qpt/boys.h)");
  module.def("eri_quartets", &eri_quartets, py::arg("centers"), py::arg("exponents"), py::arg("coefficients"),
             py::arg("sph_table"), py::arg("angular"), py::arg("prim_offsets"), py::arg("spherical"),
             py::arg("quartets"), "AO integrals of shell quartets, one [wa, wb, wc, wd] array each (qpt/eri_md.h)");
}
