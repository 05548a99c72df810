#include "cpu/jk_direct_cpu.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "cpu/parallel_for.h"
#include "qpt/eri_quartet.h"

namespace qpt::cpu {

EriShell DirectBasis::shell(int64_t s) const {
  const int64_t first = layout.prim_offsets[s];
  return {{centers[3 * s], centers[3 * s + 1], centers[3 * s + 2]},
          exponents + first,
          coefficients + first,
          static_cast<int>(layout.prim_offsets[s + 1] - first),
          static_cast<int>(layout.angular[s])};
}

const double* boys_table() {
  static const std::vector<double> table = [] {
    std::vector<double> values(kBoysTableSize);
    boys_table_fill(values.data());
    return values;
  }();
  return table.data();
}

namespace {

struct ShellPair {
  int64_t a, b;   // a >= b
  double bound;   // sqrt(max |(ab|ab)|) over the pair's AO block
};

// Quartet scratch wired to the process-wide Boys table (built on first use; static init is thread-safe).
std::unique_ptr<EriScratch> new_scratch() {
  auto scratch = std::make_unique<EriScratch>();
  scratch->boys_table = boys_table();
  return scratch;
}

int width_of(const ShellLayout& layout, int64_t s) {
  return static_cast<int>(layout.ao_offsets[s + 1] - layout.ao_offsets[s]);
}

const double* quartet_block(const DirectBasis& basis, const int64_t shells[4], EriScratch& scratch) {
  const EriShell quartet[4] = {basis.shell(shells[0]), basis.shell(shells[1]), basis.shell(shells[2]),
                               basis.shell(shells[3])};
  return eri_quartet_ao(quartet, basis.layout.spherical, basis.sph_table, scratch);
}

struct PlainAdd {
  void operator()(double* target, double value) const { *target += value; }
};

}  // namespace

std::vector<double> eri_quartet_block(const DirectBasis& basis, const int64_t shells[4]) {
  auto scratch = new_scratch();
  const double* block = quartet_block(basis, shells, *scratch);
  int64_t size = 1;
  for (int k = 0; k < 4; ++k) size *= width_of(basis.layout, shells[k]);
  return std::vector<double>(block, block + size);
}

void jk_direct(xla::ffi::ThreadPool& pool, const DirectBasis& basis, double threshold,
               const std::vector<const double*>& densities, const std::vector<double*>& coulomb,
               const std::vector<double*>& exchange, bool with_j, bool with_k) {
  const ShellLayout& layout = basis.layout;
  const int64_t n = layout.nao, nshell = layout.nshell;
  const int64_t ndens = static_cast<int64_t>(densities.size());

  std::vector<double> symmetric(ndens * n * n);
  for (int64_t d = 0; d < ndens; ++d) {
    for (int64_t a = 0; a < n; ++a) {
      for (int64_t b = 0; b < n; ++b) {
        symmetric[(d * n + a) * n + b] = 0.5 * (densities[d][a * n + b] + densities[d][b * n + a]);
      }
    }
  }

  std::vector<ShellPair> pairs;
  for (int64_t a = 0; a < nshell; ++a) {
    for (int64_t b = 0; b <= a; ++b) pairs.push_back({a, b, 0.0});
  }
  const int64_t participants = participant_count(pool);
  std::vector<std::unique_ptr<EriScratch>> slot_scratch(participants);
  parallel_for(pool, static_cast<int64_t>(pairs.size()), [&](int64_t p, int64_t slot) {
    if (!slot_scratch[slot]) slot_scratch[slot] = new_scratch();
    ShellPair& pair = pairs[p];
    const int64_t shells[4] = {pair.a, pair.b, pair.a, pair.b};
    const double* block = quartet_block(basis, shells, *slot_scratch[slot]);
    const int wa = width_of(layout, pair.a), wb = width_of(layout, pair.b);
    double largest = 0.0;
    for (int i = 0; i < wa * wb; ++i) largest = std::max(largest, std::abs(block[i * wa * wb + i]));
    pair.bound = std::sqrt(largest);
  });
  // Pairs that cannot reach the threshold even with the largest partner are dropped for good.
  double largest_bound = 0.0;
  for (const ShellPair& pair : pairs) largest_bound = std::max(largest_bound, pair.bound);
  pairs.erase(std::remove_if(pairs.begin(), pairs.end(),
                             [&](const ShellPair& pair) { return pair.bound * largest_bound < threshold; }),
              pairs.end());

  // Density-weighted screening: the largest |D| of each shell pair block over all densities, so a quartet
  // whose Schwarz bound times the density elements it is contracted with stays below threshold * max|D| is
  // skipped. Relative to max|D|, the skipped set does not change when D is scaled, so the op stays linear.
  std::vector<double> block_density(nshell * nshell, 0.0);
  double largest_density = 0.0;
  for (int64_t sa = 0; sa < nshell; ++sa) {
    for (int64_t sb = 0; sb < nshell; ++sb) {
      double largest = 0.0;
      for (int64_t d = 0; d < ndens; ++d) {
        for (int64_t a = layout.ao_offsets[sa]; a < layout.ao_offsets[sa + 1]; ++a) {
          for (int64_t b = layout.ao_offsets[sb]; b < layout.ao_offsets[sb + 1]; ++b) {
            largest = std::max(largest, std::abs(symmetric[(d * n + a) * n + b]));
          }
        }
      }
      block_density[sa * nshell + sb] = largest;
      largest_density = std::max(largest_density, largest);
    }
  }
  const double weighted_threshold = threshold * largest_density;
  const auto density_of = [&](int64_t sa, int64_t sb) { return block_density[sa * nshell + sb]; };

  const int64_t lanes = lane_count(pool);
  const int64_t half_size = ndens * n * n;
  std::vector<std::vector<double>> j_half(lanes), k_half(lanes);
  std::vector<std::unique_ptr<EriScratch>> lane_scratch(lanes);
  parallel_for_lanes(pool, static_cast<int64_t>(pairs.size()), lanes, [&](int64_t bra, int64_t lane) {
    if (!lane_scratch[lane]) {
      lane_scratch[lane] = new_scratch();
      j_half[lane].assign(with_j ? half_size : 0, 0.0);
      k_half[lane].assign(with_k ? half_size : 0, 0.0);
    }
    const ShellPair& ab = pairs[bra];
    for (int64_t ket = 0; ket <= bra; ++ket) {
      const ShellPair& cd = pairs[ket];
      const double bound = ab.bound * cd.bound;
      if (bound < threshold) continue;
      const double weight = std::max({2.0 * density_of(cd.a, cd.b), 2.0 * density_of(ab.a, ab.b),
                                      density_of(ab.a, cd.a), density_of(ab.a, cd.b), density_of(ab.b, cd.a),
                                      density_of(ab.b, cd.b)});
      if (bound * weight < weighted_threshold) continue;
      const int64_t shells[4] = {ab.a, ab.b, cd.a, cd.b};
      const double* block = quartet_block(basis, shells, *lane_scratch[lane]);
      QuartetPlacement placement;
      for (int k = 0; k < 4; ++k) {
        placement.first[k] = layout.ao_offsets[shells[k]];
        placement.width[k] = width_of(layout, shells[k]);
      }
      placement.scale = 1.0;
      if (ab.a == ab.b) placement.scale *= 0.5;
      if (cd.a == cd.b) placement.scale *= 0.5;
      if (bra == ket) placement.scale *= 0.5;
      for (int64_t d = 0; d < ndens; ++d) {
        jk_quartet_update(block, placement, symmetric.data() + d * n * n,
                          with_j ? j_half[lane].data() + d * n * n : nullptr,
                          with_k ? k_half[lane].data() + d * n * n : nullptr, n, with_j, with_k, PlainAdd{});
      }
    }
  });

  for (int64_t d = 0; d < ndens; ++d) {
    for (int pass = 0; pass < 2; ++pass) {
      const bool wanted = pass == 0 ? with_j : with_k;
      if (!wanted) continue;
      const auto& halves = pass == 0 ? j_half : k_half;
      double* out = pass == 0 ? coulomb[d] : exchange[d];
      for (int64_t a = 0; a < n; ++a) {
        for (int64_t b = 0; b <= a; ++b) {
          double sum = 0.0;
          for (const auto& half : halves) {
            if (half.empty()) continue;
            sum += half[(d * n + a) * n + b] + half[(d * n + b) * n + a];
          }
          out[a * n + b] = sum;
          out[b * n + a] = sum;
        }
      }
    }
  }
}

}  // namespace qpt::cpu
