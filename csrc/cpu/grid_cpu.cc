#include "cpu/grid_cpu.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cpu/parallel_for.h"
#include "cpu/vector_width.h"
#include "qpt/grid_contraction.h"
#include "qpt/grid_screening.h"
#include "qpt/gto_eval.h"

namespace qpt::cpu {
namespace {

constexpr int64_t kBlock = kGridBlock;

// GCC/Clang vector extension: the two block products below are written with it so that their tiles
// stay in vector registers whatever the auto-vectoriser decides.
template <typename T>
struct VectorOf;
template <>
struct VectorOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VectorOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
};
template <typename T>
using Vec = typename VectorOf<T>::type;
template <typename T>
constexpr int kLanes = kVectorBytes / sizeof(T);

// Register tiles of the block products: kRowTile AO rows times kVectorsPerTile vectors of points (rho)
// or of AO columns (V). AVX-512's 32 registers hold 8 x 2 accumulators with the operands beside them;
// AVX2 and SSE have 16, where 8 x 2 spills in the inner loop, so they take 4 x 2.
constexpr int kRowTile = kVectorBytes == 64 ? 8 : 4;
constexpr int kVectorsPerTile = 2;
template <typename T>
constexpr int64_t kColumnTile = kVectorsPerTile * kLanes<T>;
template <typename T>
constexpr int64_t kPointTile = kVectorsPerTile * kLanes<T>;
// Rows of a block's AO buffers are padded with zero rows to a multiple of both tiles.
template <typename T>
constexpr int64_t kRowPadding = std::max<int64_t>(kRowTile, kColumnTile<T>);
static_assert(kTabulatedRowMultiple % kRowPadding<float> == 0 && kTabulatedRowMultiple % kRowPadding<double> == 0,
              "a tabulated block's padded rows fit its capacity");
static_assert(kBlock % (kVectorsPerTile * kVectorBytes / sizeof(float)) == 0, "point tiles fill a block");

template <typename T>
Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// A vector loaded once into a register for the whole tile. Without the empty asm, GCC folds the load into
// each of the tile's FMAs as a memory operand, which loads it once per use and makes the inner loops
// load-bound on CPUs with two load ports.
template <typename T>
Vec<T> load_to_register(const T* p) {
  Vec<T> v = load(p);
  asm("" : "+x"(v));
  return v;
}

template <typename T>
void store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof(v));
}

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Squared screening radii of every primitive and shell of one geometry (grid_screening.h).
struct ScreeningRadii {
  std::vector<double> shell;      // [nshell]
  std::vector<double> primitive;  // [nprim]
};

template <typename T>
ScreeningRadii screening_radii(const ShellLayout& basis, const GridGeometry<T>& g, double threshold) {
  ScreeningRadii radii{std::vector<double>(basis.nshell, 0.0), std::vector<double>(basis.nprim, 0.0)};
  for (int64_t s = 0; s < basis.nshell; ++s) {
    const int l = static_cast<int>(basis.angular[s]);
    const double norm = spherical_norm(l, basis.spherical, g.sph_table);
    const int64_t first = basis.prim_offsets[s], last = basis.prim_offsets[s + 1];
    const double share = threshold / static_cast<double>(last - first);
    for (int64_t p = first; p < last; ++p) {
      radii.primitive[p] = primitive_cutoff_radius2(l, static_cast<double>(g.exponents[p]),
                                                    fabs(static_cast<double>(g.coefficients[p])) * norm, share);
      radii.shell[s] = std::max(radii.shell[s], radii.primitive[p]);
    }
  }
  return radii;
}

// A block of grid points: its range and bounding box.
struct Block {
  int64_t first = 0, count = 0;
  double lower[3], upper[3];
};

template <typename T>
Block block_at(const GridGeometry<T>& g, int64_t index) {
  Block b;
  b.first = index * kBlock;
  b.count = std::min(kBlock, g.npoint - b.first);
  for (int axis = 0; axis < 3; ++axis) b.lower[axis] = b.upper[axis] = g.coords[b.first * 3 + axis];
  for (int64_t p = b.first; p < b.first + b.count; ++p) {
    for (int axis = 0; axis < 3; ++axis) {
      const double x = g.coords[p * 3 + axis];
      b.lower[axis] = std::min(b.lower[axis], x);
      b.upper[axis] = std::max(b.upper[axis], x);
    }
  }
  return b;
}

template <typename T>
double shell_distance2(const Block& b, const GridGeometry<T>& g, int64_t shell) {
  return box_distance2(b.lower, b.upper, g.centers[shell * 3], g.centers[shell * 3 + 1],
                       g.centers[shell * 3 + 2]);
}

// AO values and gradients of a block's significant shells. Row r of `values` is basis AO ao_index[r];
// rows from `rows` to `padded_rows` are zero, and points past the block's count repeat its last point.
// The four components of a row are adjacent, so every offset in the evaluation loop is a compile-time
// constant apart from the row's start, which lets GCC prove the stores independent and vectorise.
// The AO rows of one block, wherever they are held: a block just evaluated (BlockAos) or a slot of a
// tabulated grid. Row r is basis AO ao_index[r], its four components [4][kBlock] adjacent; rows from
// `rows` to `padded_rows` are zero.
template <typename T>
struct AoRows {
  const T* values;
  const int32_t* ao_index;
  int64_t rows, padded_rows;

  const T* row(int64_t r, int comp) const { return values + (4 * r + comp) * kBlock; }
};

template <typename T>
struct BlockAos {
  int64_t rows = 0, padded_rows = 0;
  std::vector<int32_t> ao_index;
  std::vector<std::pair<int64_t, double>> shells;  // significant shells, squared distance to the box
  std::vector<T> values;  // [padded_rows][4][kBlock]: value, d/dx, d/dy, d/dz
  alignas(64) T px[kBlock], py[kBlock], pz[kBlock];
  alignas(64) T dx[kBlock], dy[kBlock], dz[kBlock], r2[kBlock], radial[kBlock], slope[kBlock];

  AoRows<T> view() const { return {values.data(), ao_index.data(), rows, padded_rows}; }
};

template <int L, bool Spherical, typename T>
void shell_block_values(const BlockAos<T>& a, const T* sph_table, T* __restrict__ out) {
  const T* __restrict__ dx = a.dx;
  const T* __restrict__ dy = a.dy;
  const T* __restrict__ dz = a.dz;
  const T* __restrict__ radial = a.radial;
  const T* __restrict__ slope = a.slope;
  for (int64_t p = 0; p < kBlock; ++p) {
    shell_point_values<L, Spherical>(dx[p], dy[p], dz[p], radial[p], slope[p], sph_table, out + p, kBlock,
                                     4 * kBlock);
  }
}

template <int L, typename T>
void shell_block_values(const BlockAos<T>& a, bool spherical, const T* sph_table, T* out) {
  if (spherical) {
    shell_block_values<L, true>(a, sph_table, out);
  } else {
    shell_block_values<L, false>(a, sph_table, out);
  }
}

// The values go to a.values, or to `table_slot` (room for nao rows rounded up to kRowPadding) when
// given, so tabulate_aos writes its table without a copy.
template <typename T>
void evaluate_block(const ShellLayout& basis, const GridGeometry<T>& g, const ScreeningRadii& radii,
                    const Block& b, BlockAos<T>& a, T* table_slot = nullptr) {
  a.ao_index.clear();
  a.shells.clear();
  for (int64_t s = 0; s < basis.nshell; ++s) {
    const double d2 = shell_distance2(b, g, s);
    if (d2 <= radii.shell[s]) {
      a.shells.emplace_back(s, d2);
      for (int64_t f = basis.ao_offsets[s]; f < basis.ao_offsets[s + 1]; ++f) {
        a.ao_index.push_back(static_cast<int32_t>(f));
      }
    }
  }
  a.rows = static_cast<int64_t>(a.ao_index.size());
  a.padded_rows = round_up(a.rows, kRowPadding<T>);
  if (a.rows == 0) return;
  T* values = table_slot;
  if (values == nullptr) {
    a.values.resize(4 * a.padded_rows * kBlock);
    values = a.values.data();
  }
  std::fill(values + 4 * a.rows * kBlock, values + 4 * a.padded_rows * kBlock, T(0));
  for (int64_t p = 0; p < kBlock; ++p) {
    const int64_t point = b.first + std::min(p, b.count - 1);
    a.px[p] = g.coords[point * 3];
    a.py[p] = g.coords[point * 3 + 1];
    a.pz[p] = g.coords[point * 3 + 2];
  }
  int64_t row = 0;
  for (const auto& [s, d2] : a.shells) {
    const T cx = g.centers[s * 3], cy = g.centers[s * 3 + 1], cz = g.centers[s * 3 + 2];
    for (int64_t p = 0; p < kBlock; ++p) {
      a.dx[p] = a.px[p] - cx;
      a.dy[p] = a.py[p] - cy;
      a.dz[p] = a.pz[p] - cz;
      a.r2[p] = a.dx[p] * a.dx[p] + a.dy[p] * a.dy[p] + a.dz[p] * a.dz[p];
      a.radial[p] = T(0);
      a.slope[p] = T(0);
    }
    for (int64_t q = basis.prim_offsets[s]; q < basis.prim_offsets[s + 1]; ++q) {
      if (d2 > radii.primitive[q]) continue;
      const T coefficient = g.coefficients[q], alpha = g.exponents[q];
      for (int64_t p = 0; p < kBlock; ++p) add_primitive(coefficient, alpha, a.r2[p], a.radial[p], a.slope[p]);
    }
    T* out = values + 4 * row * kBlock;
    switch (basis.angular[s]) {
      case 0: shell_block_values<0>(a, basis.spherical, g.sph_table, out); break;
      case 1: shell_block_values<1>(a, basis.spherical, g.sph_table, out); break;
      case 2: shell_block_values<2>(a, basis.spherical, g.sph_table, out); break;
      case 3: shell_block_values<3>(a, basis.spherical, g.sph_table, out); break;
      default: shell_block_values<4>(a, basis.spherical, g.sph_table, out); break;
    }
    row += basis.ao_offsets[s + 1] - basis.ao_offsets[s];
  }
}

// rho and grad rho of a block: C = D_sig phi (a [rows, rows] x [rows, points] product, tiled so the
// C tile lives in registers), then rho = sum_j phi_j C_j and grad rho = 2 sum_j grad phi_j C_j.
// d_sig is the symmetric [padded_rows, padded_rows] density restricted to the block's AOs, so its
// row i holds column i. phi_tiles holds the AO values as pack_point_tiles lays them out.
template <typename T>
void block_density(const AoRows<T>& a, const T* d_sig, const T* phi_tiles, T* rho, T* grad) {
  using V = Vec<T>;
  constexpr int64_t point_tile = kPointTile<T>;
  const int64_t n = a.padded_rows;
  for (int64_t p0 = 0; p0 < kBlock; p0 += point_tile) {
    const T* tile = phi_tiles + p0 * n;
    V r[kVectorsPerTile] = {}, gx[kVectorsPerTile] = {}, gy[kVectorsPerTile] = {}, gz[kVectorsPerTile] = {};
    for (int64_t j0 = 0; j0 < n; j0 += kRowTile) {
      V c[kRowTile][kVectorsPerTile] = {};
      for (int64_t i = 0; i < n; ++i) {
        V phi_i[kVectorsPerTile];
        for (int v = 0; v < kVectorsPerTile; ++v) phi_i[v] = load_to_register(tile + i * point_tile + v * kLanes<T>);
        const T* d = d_sig + i * n + j0;
#pragma GCC unroll 8
        for (int jj = 0; jj < kRowTile; ++jj) {
          for (int v = 0; v < kVectorsPerTile; ++v) c[jj][v] += d[jj] * phi_i[v];
        }
      }
      for (int jj = 0; jj < kRowTile; ++jj) {
        const T* phi_j = a.row(j0 + jj, 0) + p0;
        for (int v = 0; v < kVectorsPerTile; ++v) {
          const int64_t at = v * kLanes<T>;
          add_density_term(c[jj][v], load(phi_j + at), load(phi_j + kBlock + at), load(phi_j + 2 * kBlock + at),
                           load(phi_j + 3 * kBlock + at), r[v], gx[v], gy[v], gz[v]);
        }
      }
    }
    for (int v = 0; v < kVectorsPerTile; ++v) {
      const int64_t offset = p0 + v * kLanes<T>;
      store(rho + offset, r[v]);
      store(grad + offset, gx[v]);
      store(grad + kBlock + offset, gy[v]);
      store(grad + 2 * kBlock + offset, gz[v]);
    }
  }
}

// The AO values of a block regrouped as [kBlock / kPointTile][padded_rows][kPointTile]: the inner loop of
// block_density then reads one contiguous stream per point tile. Straight from the rows, which lie
// 4 * kBlock values apart, its loads would fall into a few L1 cache sets and evict each other.
template <typename T>
void pack_point_tiles(const AoRows<T>& a, T* __restrict__ tiles) {
  constexpr int64_t point_tile = kPointTile<T>;
  for (int64_t p0 = 0; p0 < kBlock; p0 += point_tile) {
    T* tile = tiles + p0 * a.padded_rows;
    for (int64_t i = 0; i < a.padded_rows; ++i) {
      std::memcpy(tile + i * point_tile, a.row(i, 0) + p0, point_tile * sizeof(T));
    }
  }
}

// Copies `Width` point-contiguous rows (row_stride apart) into one panel [kBlock][Width], the layout the
// product below streams through (as BLAS packs its operands).
template <int Width, typename T>
void pack_panel(const T* first_row, int64_t row_stride, T* __restrict__ panel) {
  for (int64_t p = 0; p < kBlock; ++p) {
#pragma GCC unroll 32
    for (int k = 0; k < Width; ++k) panel[p * Width + k] = first_row[k * row_stride + p];
  }
}

// A += phi^T W of a block (grid_contraction.h), scattered into the [nao, nao] accumulator at the block's
// AOs. phi_panels holds phi in panels of kRowTile rows, w_panels W in panels of kColumnTile rows.
template <typename T>
void block_potential(const AoRows<T>& a, const T* phi_panels, const T* w_panels, double* accumulator,
                     int64_t nao) {
  using V = Vec<T>;
  constexpr int64_t columns_per_panel = kColumnTile<T>;
  const int64_t n = a.padded_rows;
  for (int64_t i0 = 0; i0 < n; i0 += kRowTile) {
    const T* phi = phi_panels + i0 * kBlock;
    for (int64_t j0 = 0; j0 < n; j0 += columns_per_panel) {
      const T* w = w_panels + j0 * kBlock;
      V acc[kRowTile][kVectorsPerTile] = {};
      for (int64_t p = 0; p < kBlock; ++p) {
        V w_p[kVectorsPerTile];
        for (int v = 0; v < kVectorsPerTile; ++v) w_p[v] = load_to_register(w + p * columns_per_panel + v * kLanes<T>);
        const T* phi_p = phi + p * kRowTile;
#pragma GCC unroll 8
        for (int ii = 0; ii < kRowTile; ++ii) {
          for (int v = 0; v < kVectorsPerTile; ++v) acc[ii][v] += phi_p[ii] * w_p[v];
        }
      }
      const int64_t rows = std::min<int64_t>(kRowTile, a.rows - i0);
      const int64_t columns = std::min<int64_t>(columns_per_panel, a.rows - j0);
      for (int64_t ii = 0; ii < rows; ++ii) {
        T tile_row[columns_per_panel];
        std::memcpy(tile_row, acc[ii], sizeof(tile_row));
        double* target = accumulator + a.ao_index[i0 + ii] * nao;
        for (int64_t jj = 0; jj < columns; ++jj) target[a.ao_index[j0 + jj]] += tile_row[jj];
      }
    }
  }
}

// What one participant of parallel_for (or one lane of parallel_for_lanes) owns.
template <typename T>
struct Workspace {
  BlockAos<T> aos;
  std::vector<T> scratch_a, scratch_b, scratch_c;
  std::vector<double> accumulators;  // potential_matrix, one per lane: [npotential, nao, nao]
};

// The symmetric parts of the densities, [ndens, nao, nao].
template <typename T>
std::vector<T> symmetrized(const std::vector<const T*>& densities, int64_t nao) {
  std::vector<T> out(densities.size() * nao * nao);
  for (size_t d = 0; d < densities.size(); ++d) {
    const T* in = densities[d];
    T* sym = out.data() + d * nao * nao;
    for (int64_t i = 0; i < nao; ++i) {
      for (int64_t j = 0; j <= i; ++j) sym[i * nao + j] = sym[j * nao + i] = (in[i * nao + j] + in[j * nao + i]) / T(2);
    }
  }
  return out;
}

// rho and grad rho of one block's points [first, first + count) for every density, from its AO rows.
template <typename T>
void block_densities(const AoRows<T>& a, int64_t first, int64_t count, const std::vector<T>& sym, int64_t nao,
                     const std::vector<T*>& rho, const std::vector<T*>& grad_rho, Workspace<T>& w) {
  const int64_t n = a.padded_rows;
  if (a.rows > 0) {
    w.scratch_c.resize(n * kBlock);
    pack_point_tiles(a, w.scratch_c.data());
  }
  for (size_t d = 0; d < rho.size(); ++d) {
    T* rho_out = rho[d] + first;
    T* grad_out = grad_rho[d] + 3 * first;
    if (a.rows == 0) {
      std::fill(rho_out, rho_out + count, T(0));
      std::fill(grad_out, grad_out + 3 * count, T(0));
      continue;
    }
    w.scratch_a.assign(n * n, T(0));
    const T* dm = sym.data() + d * nao * nao;
    for (int64_t i = 0; i < a.rows; ++i) {
      const T* dm_row = dm + a.ao_index[i] * nao;
      for (int64_t j = 0; j < a.rows; ++j) w.scratch_a[i * n + j] = dm_row[a.ao_index[j]];
    }
    w.scratch_b.resize(4 * kBlock);  // rho, then grad x, y, z of the block's points
    block_density(a, w.scratch_a.data(), w.scratch_c.data(), w.scratch_b.data(), w.scratch_b.data() + kBlock);
    for (int64_t p = 0; p < count; ++p) {
      rho_out[p] = w.scratch_b[p];
      for (int axis = 0; axis < 3; ++axis) grad_out[3 * p + axis] = w.scratch_b[(axis + 1) * kBlock + p];
    }
  }
}

// Adds one block's share of every potential to w.accumulators ([npotential, nao, nao], A of
// grid_contraction.h), from its AO rows and the potentials at its points [first, first + count).
template <typename T>
void block_potentials(const AoRows<T>& a, int64_t first, int64_t count, const std::vector<const T*>& v_rho,
                      const std::vector<const T*>& v_grad, int64_t nao, Workspace<T>& w) {
  const int64_t npot = static_cast<int64_t>(v_rho.size());
  if (w.accumulators.empty()) w.accumulators.assign(npot * nao * nao, 0.0);
  if (a.rows == 0) return;
  const int64_t n = a.padded_rows;
  // phi in panels, shared by all potentials of the block; W in panels, one potential at a time.
  w.scratch_a.resize(2 * n * kBlock);
  T* phi_panels = w.scratch_a.data();
  T* w_panels = phi_panels + n * kBlock;
  for (int64_t i0 = 0; i0 < n; i0 += kRowTile) {
    pack_panel<kRowTile>(a.row(i0, 0), 4 * kBlock, phi_panels + i0 * kBlock);
  }
  constexpr int64_t columns_per_panel = kColumnTile<T>;
  // v_rho / 2 and v_grad x, y, z of the block's points, then W of one panel's rows.
  w.scratch_b.resize((4 + columns_per_panel) * kBlock);
  T* half_v = w.scratch_b.data();
  T* v_x = half_v + kBlock;
  T* v_y = v_x + kBlock;
  T* v_z = v_y + kBlock;
  T* w_rows = v_z + kBlock;
  for (int64_t q = 0; q < npot; ++q) {
    // Points past the block's end carry zero potential, so they add nothing.
    for (int64_t p = 0; p < kBlock; ++p) {
      const bool inside = p < count;
      const int64_t point = first + (inside ? p : 0);
      half_v[p] = inside ? v_rho[q][point] / T(2) : T(0);
      v_x[p] = inside ? v_grad[q][3 * point] : T(0);
      v_y[p] = inside ? v_grad[q][3 * point + 1] : T(0);
      v_z[p] = inside ? v_grad[q][3 * point + 2] : T(0);
    }
    for (int64_t j0 = 0; j0 < n; j0 += columns_per_panel) {
      for (int64_t jj = 0; jj < columns_per_panel; ++jj) {
        const T* phi_j = a.row(j0 + jj, 0);
        T* w_row = w_rows + jj * kBlock;
        for (int64_t p = 0; p < kBlock; ++p) {
          w_row[p] = potential_weight(half_v[p], v_x[p], v_y[p], v_z[p], phi_j[p], phi_j[kBlock + p],
                                      phi_j[2 * kBlock + p], phi_j[3 * kBlock + p]);
        }
      }
      pack_panel<columns_per_panel>(w_rows, kBlock, w_panels + j0 * kBlock);
    }
    block_potential(a, phi_panels, w_panels, w.accumulators.data() + q * nao * nao, nao);
  }
}

// V = A + A^T, summed over the lanes' accumulators in lane order; rows in parallel.
template <typename T>
void sum_lanes(xla::ffi::ThreadPool& pool, const std::vector<Workspace<T>>& workspaces, int64_t nao,
               const std::vector<T*>& potential) {
  parallel_for(pool, nao, [&](int64_t i, int64_t) {
    for (size_t q = 0; q < potential.size(); ++q) {
      for (int64_t j = 0; j < nao; ++j) {
        double sum = 0.0;
        for (const Workspace<T>& w : workspaces) {
          if (w.accumulators.empty()) continue;
          const double* acc = w.accumulators.data() + q * nao * nao;
          sum += acc[i * nao + j] + acc[j * nao + i];
        }
        potential[q][i * nao + j] = static_cast<T>(sum);
      }
    }
  });
}

// Block `index` of a tabulated grid, checked: false when its row count or an AO index is out of range
// (the table is an operand like any other and may hold anything).
template <typename T>
bool tabulated_block(const TabulatedAos<T>& table, int64_t index, int64_t nao, AoRows<T>* rows) {
  const int32_t* header = table.index + index * (table.capacity + 1);
  const int64_t count = header[0];
  if (count < 0 || count > table.capacity) return false;
  for (int64_t r = 0; r < count; ++r) {
    if (header[1 + r] < 0 || header[1 + r] >= nao) return false;
  }
  const int64_t padded = round_up(count, kRowPadding<T>);
  if (padded > table.capacity) return false;
  *rows = {table.values + index * table.capacity * 4 * kBlock, header + 1, count, padded};
  return true;
}

}  // namespace

template <typename T>
void density_on_grid(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& g,
                     double threshold, const std::vector<const T*>& densities, const std::vector<T*>& rho,
                     const std::vector<T*>& grad_rho) {
  const std::vector<T> sym = symmetrized(densities, basis.nao);
  const ScreeningRadii radii = screening_radii(basis, g, threshold);
  std::vector<Workspace<T>> workspaces(participant_count(pool));
  parallel_for(pool, grid_block_count(g.npoint), [&](int64_t index, int64_t slot) {
    Workspace<T>& w = workspaces[slot];
    const Block b = block_at(g, index);
    evaluate_block(basis, g, radii, b, w.aos);
    block_densities(w.aos.view(), b.first, b.count, sym, basis.nao, rho, grad_rho, w);
  });
}

template <typename T>
void potential_matrix(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& g,
                      double threshold, const std::vector<const T*>& v_rho, const std::vector<const T*>& v_grad,
                      const std::vector<T*>& potential) {
  const ScreeningRadii radii = screening_radii(basis, g, threshold);
  // Lanes, not participants, own the accumulators, so V is summed in the same order on every call.
  std::vector<Workspace<T>> workspaces(lane_count(pool));
  parallel_for_lanes(pool, grid_block_count(g.npoint), lane_count(pool), [&](int64_t index, int64_t lane) {
    Workspace<T>& w = workspaces[lane];
    const Block b = block_at(g, index);
    evaluate_block(basis, g, radii, b, w.aos);
    block_potentials(w.aos.view(), b.first, b.count, v_rho, v_grad, basis.nao, w);
  });
  sum_lanes(pool, workspaces, basis.nao, potential);
}

namespace {

// A table is hundreds of MB that XLA allocates afresh for every step and the kernel touches first, so
// mapping it in 4 KB pages costs a page fault per 4 KB, which measured as much as evaluating the AOs.
// Transparent huge pages (where the kernel offers them on request) take one fault per 2 MB. Only advice:
// nothing changes if the kernel declines it.
void advise_huge_pages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace

template <typename T>
void tabulate_aos(xla::ffi::ThreadPool& pool, const ShellLayout& basis, const GridGeometry<T>& g, double threshold,
                  const TabulatedAos<T>& table) {
  advise_huge_pages(table.values, sizeof(T) * grid_block_count(g.npoint) * table.capacity * 4 * kBlock);
  const ScreeningRadii radii = screening_radii(basis, g, threshold);
  std::vector<BlockAos<T>> blocks(participant_count(pool));
  parallel_for(pool, grid_block_count(g.npoint), [&](int64_t index, int64_t slot) {
    BlockAos<T>& a = blocks[slot];
    T* values = table.values + index * table.capacity * 4 * kBlock;
    evaluate_block(basis, g, radii, block_at(g, index), a, values);
    // Zero rows up to the widest padding any build's tiles use (kTabulatedRowMultiple), not only this build's,
    // so a table reads the same in every build.
    const int64_t written = a.rows == 0 ? 0 : a.padded_rows;
    std::fill(values + 4 * written * kBlock, values + 4 * round_up(a.rows, kTabulatedRowMultiple) * kBlock, T(0));
    int32_t* header = table.index + index * (table.capacity + 1);
    header[0] = static_cast<int32_t>(a.rows);
    std::copy(a.ao_index.begin(), a.ao_index.end(), header + 1);
  });
}

template <typename T>
bool density_on_grid_tabulated(xla::ffi::ThreadPool& pool, const TabulatedAos<T>& table, int64_t npoint,
                               int64_t nao, const std::vector<const T*>& densities, const std::vector<T*>& rho,
                               const std::vector<T*>& grad_rho) {
  const std::vector<T> sym = symmetrized(densities, nao);
  std::vector<Workspace<T>> workspaces(participant_count(pool));
  std::atomic<bool> valid{true};
  parallel_for(pool, grid_block_count(npoint), [&](int64_t index, int64_t slot) {
    AoRows<T> rows;
    if (!tabulated_block(table, index, nao, &rows)) {
      valid = false;
      return;
    }
    const int64_t first = index * kBlock;
    block_densities(rows, first, std::min(kBlock, npoint - first), sym, nao, rho, grad_rho, workspaces[slot]);
  });
  return valid;
}

template <typename T>
bool potential_matrix_tabulated(xla::ffi::ThreadPool& pool, const TabulatedAos<T>& table, int64_t npoint,
                                int64_t nao, const std::vector<const T*>& v_rho, const std::vector<const T*>& v_grad,
                                const std::vector<T*>& potential) {
  std::vector<Workspace<T>> workspaces(lane_count(pool));
  std::atomic<bool> valid{true};
  parallel_for_lanes(pool, grid_block_count(npoint), lane_count(pool), [&](int64_t index, int64_t lane) {
    AoRows<T> rows;
    if (!tabulated_block(table, index, nao, &rows)) {
      valid = false;
      return;
    }
    const int64_t first = index * kBlock;
    block_potentials(rows, first, std::min(kBlock, npoint - first), v_rho, v_grad, nao, workspaces[lane]);
  });
  if (valid) sum_lanes(pool, workspaces, nao, potential);
  return valid;
}

template <typename T>
ScreeningCounts screening_counts(const ShellLayout& basis, const GridGeometry<T>& g, double threshold) {
  const ScreeningRadii radii = screening_radii(basis, g, threshold);
  ScreeningCounts counts;
  counts.blocks = grid_block_count(g.npoint);
  for (int64_t index = 0; index < counts.blocks; ++index) {
    const Block b = block_at(g, index);
    int64_t rows = 0;
    for (int64_t s = 0; s < basis.nshell; ++s) {
      const double d2 = shell_distance2(b, g, s);
      const int64_t first = basis.prim_offsets[s], last = basis.prim_offsets[s + 1];
      counts.shell_blocks += 1;
      counts.primitive_blocks += last - first;
      if (d2 > radii.shell[s]) continue;
      counts.kept_shell_blocks += 1;
      rows += basis.ao_offsets[s + 1] - basis.ao_offsets[s];
      for (int64_t p = first; p < last; ++p) counts.kept_primitive_blocks += d2 <= radii.primitive[p];
    }
    counts.ao_pair_points += static_cast<double>(basis.nao) * basis.nao * b.count;
    counts.kept_ao_pair_points += static_cast<double>(rows) * rows * b.count;
  }
  return counts;
}

#define QPT_INSTANTIATE_GRID(T)                                                                              \
  template void density_on_grid<T>(xla::ffi::ThreadPool&, const ShellLayout&, const GridGeometry<T>&, double, \
                                   const std::vector<const T*>&, const std::vector<T*>&,                      \
                                   const std::vector<T*>&);                                                   \
  template void potential_matrix<T>(xla::ffi::ThreadPool&, const ShellLayout&, const GridGeometry<T>&,       \
                                    double, const std::vector<const T*>&, const std::vector<const T*>&,      \
                                    const std::vector<T*>&);                                                  \
  template ScreeningCounts screening_counts<T>(const ShellLayout&, const GridGeometry<T>&, double);           \
  template void tabulate_aos<T>(xla::ffi::ThreadPool&, const ShellLayout&, const GridGeometry<T>&, double,   \
                                const TabulatedAos<T>&);                                                     \
  template bool density_on_grid_tabulated<T>(xla::ffi::ThreadPool&, const TabulatedAos<T>&, int64_t, int64_t, \
                                             const std::vector<const T*>&, const std::vector<T*>&,           \
                                             const std::vector<T*>&);                                        \
  template bool potential_matrix_tabulated<T>(xla::ffi::ThreadPool&, const TabulatedAos<T>&, int64_t, int64_t, \
                                              const std::vector<const T*>&, const std::vector<const T*>&,    \
                                              const std::vector<T*>&);
QPT_INSTANTIATE_GRID(float)
QPT_INSTANTIATE_GRID(double)
#undef QPT_INSTANTIATE_GRID

}  // namespace qpt::cpu
