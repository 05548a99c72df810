// Index algebra of libcint's 8-fold packed ERIs ('s8'): a symmetric pair (i >= j) is stored at
// i(i+1)/2 + j, and the integral (ij|kl) with pair(ij) >= pair(kl) at pair(ij)(pair(ij)+1)/2 + pair(kl).
#pragma once

#include <cmath>
#include <cstdint>

#include "qpt/host_device.h"

namespace qpt {

QPT_HD int64_t packed_pair_index(int64_t i, int64_t j) {
  return i >= j ? i * (i + 1) / 2 + j : j * (j + 1) / 2 + i;
}

QPT_HD int64_t packed_pair_count(int64_t n) { return n * (n + 1) / 2; }

// Number of unique integrals of an n-function basis under 8-fold symmetry.
QPT_HD int64_t packed_eri_length(int64_t nao) {
  const int64_t npair = packed_pair_count(nao);
  return npair * (npair + 1) / 2;
}

// Inverse of packed_pair_index: the row i of packed index p (so p = i(i+1)/2 + j, 0 <= j <= i).
// The floating-point guess is corrected by integer steps, so it is exact for any 64-bit index.
QPT_HD int64_t packed_pair_row(int64_t p) {
  int64_t i = static_cast<int64_t>((std::sqrt(8.0 * static_cast<double>(p) + 1.0) - 1.0) / 2.0);
  while (i * (i + 1) / 2 > p) --i;
  while ((i + 1) * (i + 2) / 2 <= p) ++i;
  return i;
}

}  // namespace qpt
