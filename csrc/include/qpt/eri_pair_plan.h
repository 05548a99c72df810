// Host-side plan of the shell pairs of the integral-direct J/K, shared by the CPU and CUDA drivers: which
// shell is stored first in each pair (higher l: eri_pairs.h), where each pair's primitive pairs and term
// coefficients go, and the order of the pairs.
//
// Pairs are ordered by class, (la + lb, la) ascending, so the drivers' loop over unique quartets (bra pair
// >= ket pair in this order) meets long runs of one quartet class, and the bra always has the higher L: it
// is the outer pair of eri_md.h with no reordering per quartet.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "qpt/eri_pairs.h"
#include "qpt/shell_layout.h"

namespace qpt {

struct DirectPair {
  int64_t a, b;             // shells, la >= lb (shell order when equal)
  int klass;                // pair_class(la, lb)
  int prim_count;           // primitive pairs (the CPU driver lowers it when it screens primitive pairs)
  int64_t prim_first;       // first primitive pair in the plan's primitive-pair array
  int64_t coefficient_first;  // first term coefficient in the plan's coefficient arena
  double bound;             // Schwarz bound sqrt(max |(ab|ab)|), filled by the driver
};

struct DirectPairPlan {
  std::vector<DirectPair> pairs;
  int64_t prim_total = 0;
  int64_t coefficient_total = 0;
};

inline const EriClassTables& eri_class_tables() { return kEriClassTables; }

// The pair of shells x and y, the one of higher l first (x when equal), not yet placed in a plan.
inline DirectPair direct_pair(const ShellLayout& layout, int64_t x, int64_t y) {
  const bool swap = layout.angular[y] > layout.angular[x];
  const int64_t a = swap ? y : x, b = swap ? x : y;
  const int klass = pair_class(static_cast<int>(layout.angular[a]), static_cast<int>(layout.angular[b]));
  const int prims = static_cast<int>((layout.prim_offsets[a + 1] - layout.prim_offsets[a]) *
                                     (layout.prim_offsets[b + 1] - layout.prim_offsets[b]));
  return {a, b, klass, prims, 0, 0, 0.0};
}

// Gives `pair` the next free place in the plan's primitive-pair array and coefficient arena.
inline void place_direct_pair(DirectPairPlan& plan, DirectPair& pair) {
  pair.prim_first = plan.prim_total;
  pair.coefficient_first = plan.coefficient_total;
  plan.prim_total += pair.prim_count;
  plan.coefficient_total += static_cast<int64_t>(pair.prim_count) * eri_class_tables().classes[pair.klass].count;
}

inline DirectPairPlan plan_direct_pairs(const ShellLayout& layout) {
  const EriClassTables& tables = eri_class_tables();
  DirectPairPlan plan;
  for (int64_t i = 0; i < layout.nshell; ++i) {
    for (int64_t j = 0; j <= i; ++j) plan.pairs.push_back(direct_pair(layout, i, j));
  }
  std::stable_sort(plan.pairs.begin(), plan.pairs.end(), [&](const DirectPair& x, const DirectPair& y) {
    const int lx = class_l(tables, x.klass), ly = class_l(tables, y.klass);
    return lx != ly ? lx < ly : x.klass < y.klass;
  });
  for (DirectPair& pair : plan.pairs) place_direct_pair(plan, pair);
  return plan;
}

}  // namespace qpt
