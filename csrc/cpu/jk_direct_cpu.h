// CPU driver of the integral-direct J/K: each unique shell quartet that survives Schwarz screening is
// computed (qpt/eri_md.h) and contracted into J and K at once, so memory stays O(N^2) per lane.
#pragma once

#include <cstdint>
#include <vector>

#include "qpt/eri_md.h"
#include "qpt/shell_layout.h"
#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

// One geometry's basis in float64: the layout plus centers [nshell, 3], exponents and coefficients [nprim]
// and the cart -> spherical table of gto_eval.h.
struct DirectBasis {
  ShellLayout layout;
  const double* centers;
  const double* exponents;
  const double* coefficients;
  const double* sph_table;

  EriShell shell(int64_t s) const;
};

// J and K [n, n] of every density [n, n] (symmetrised here), float64; quartets whose Schwarz bound
// sqrt(max|(ab|ab)|) sqrt(max|(cd|cd)|) is below `threshold`, or whose bound times the density blocks it meets
// is below threshold * max|D|, are skipped (qpt/ops/jk_direct.py). Bitwise reproducible for a given pool
// size (fixed lanes, reduced in lane order).
void jk_direct(xla::ffi::ThreadPool& pool, const DirectBasis& basis, double threshold,
               const std::vector<const double*>& densities, const std::vector<double*>& coulomb,
               const std::vector<double*>& exchange, bool with_j, bool with_k);

// The Boys function table (qpt/boys.h) the CPU kernels use.
const double* boys_table();

// The AO integrals of one shell quartet, [wa][wb][wc][wd] (for tests against libcint).
std::vector<double> eri_quartet_block(const DirectBasis& basis, const int64_t shells[4]);

}  // namespace qpt::cpu
