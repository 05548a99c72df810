// One shell quartet's integrals in the AO basis (spherical or cartesian, PySCF order), and their
// contribution to J and K.
//
// Spherical AOs are the cartesian ones times PySCF's cart -> spherical matrix of each l (the concatenated
// table of gto_eval.h, identity for l <= 1 and skipped there), applied one index at a time.
//
// J/K: the engine visits each unique quartet (AB|CD), A >= B, C >= D, pair(AB) >= pair(CD), once. As in
// jk_update.h, the block is scaled by 1/2 for each coincidence (A == B, C == D, AB == CD) and all 8
// permutations are applied; for a symmetric density the exchange updates come in transposed pairs and
// Coulomb's in pairs (ab), (ba), so the caller accumulates halves and forms J = J_half + J_half^T,
// K = K_half + K_half^T:
//   J_half[a,b] += 2 v D[c,d],  J_half[c,d] += 2 v D[a,b],
//   K_half[a,c] += v D[b,d],  K_half[a,d] += v D[b,c],  K_half[b,c] += v D[a,d],  K_half[b,d] += v D[a,c].
#pragma once

#include <cstdint>

#include "qpt/eri_md.h"
#include "qpt/gto_eval.h"
#include "qpt/host_device.h"

namespace qpt {

// out[p][j][q] = sum_i in[p][i][q] C[i][j] for C = the [ncart(l), nsph(l)] block of the table (l = 2, 3),
// over C's nonzeros only (two or three per column).
QPT_HD void cart_to_sph_axis(const double* in, double* out, int pre, int l, int post, const SphSparse& sph) {
  const int ncart = cartesian_count(l), nsph = spherical_count(l), slot = l - 2;
  for (int p = 0; p < pre; ++p) {
    const double* source = in + p * ncart * post;
    for (int j = 0; j < nsph; ++j) {
      double* target = out + (p * nsph + j) * post;
      const int count = sph.count[slot][j];
      const int8_t* index = sph.index[slot][j];
      const double* c = sph.coefficient[slot][j];
      // One contiguous axpy over q per nonzero (the first one assigns).
      const double* first = source + index[0] * post;
      for (int q = 0; q < post; ++q) target[q] = c[0] * first[q];
      for (int k = 1; k < count; ++k) {
        const double* row = source + index[k] * post;
        const double ck = c[k];
        for (int q = 0; q < post; ++q) target[q] += ck * row[q];
      }
    }
  }
}

// The quartet's AO integrals [na][nb][nc][nd] of (outer|inner) (widths of the shells' AO blocks, outer pair
// first, each pair in its stored order: higher l first); returns a pointer into the work (w.cart or
// w.transformed).
QPT_HD const double* eri_quartet_ao(const PairView& outer, const PairView& inner, const double* arena,
                                    const EriClassTables& tables, bool spherical, EriWork& w) {
  eri_quartet_cartesian(outer, inner, arena, tables, w);
  if (!spherical) return w.cart;
  const int ls[4] = {tables.classes[outer.klass].la, tables.classes[outer.klass].lb,
                     tables.classes[inner.klass].la, tables.classes[inner.klass].lb};
  int widths[4];
  for (int k = 0; k < 4; ++k) widths[k] = cartesian_count(ls[k]);
  double* current = w.cart;
  double* other = w.transformed;
  for (int axis = 0; axis < 4; ++axis) {
    const int l = ls[axis];
    if (l <= 1) continue;
    int pre = 1, post = 1;
    for (int k = 0; k < axis; ++k) pre *= widths[k];
    for (int k = axis + 1; k < 4; ++k) post *= widths[k];
    cart_to_sph_axis(current, other, pre, l, post, w.sph);
    widths[axis] = spherical_count(l);
    double* swap = current;
    current = other;
    other = swap;
  }
  return current;
}

// Schwarz bound sqrt(max_i |(ii|ii)|) of a pair from its (pair|pair) block, `width` AO products per side.
QPT_HD double schwarz_bound_of_block(const double* block, int width) {
  double largest = 0.0;
  for (int i = 0; i < width; ++i) largest = fmax(largest, fabs(block[i * width + i]));
  return sqrt(largest);
}

// Where a quartet's AO block sits: first AO and width of each shell, and its 8-fold degeneracy scale.
struct QuartetPlacement {
  int64_t first[4];
  int width[4];
  double scale;
};

// Adds one quartet's block (scaled by placement.scale) to J_half and K_half of a symmetric density, with the
// widths of the last two shells fixed at compile time when FixedC, FixedD are nonzero (jk_quartet_update
// picks them for the pairs of spherical s, p and d shells).
template <int FixedC, int FixedD, typename Add>
QPT_HD void jk_quartet_update_widths(const double* block, const QuartetPlacement& placement, const double* density,
                                     double* j_half, double* k_half, int64_t n, bool with_j, bool with_k, Add add) {
  const int wa = placement.width[0], wb = placement.width[1];
  const int wc = FixedC != 0 ? FixedC : placement.width[2], wd = FixedD != 0 ? FixedD : placement.width[3];
  const int64_t oa = placement.first[0], ob = placement.first[1], oc = placement.first[2], od = placement.first[3];
  const int wcd = wc * wd;
  const double scale = placement.scale;
  if (with_j) {
    // J[c][d] gathers its sum over (a, b) in a local row first: one memory update per element and block.
    double j_cd[kEriMaxCartesian * kEriMaxCartesian];
    for (int k = 0; k < wcd; ++k) j_cd[k] = 0.0;
    for (int a = 0; a < wa; ++a) {
      for (int b = 0; b < wb; ++b) {
        const double* row = block + (a * wb + b) * wcd;
        const double d_ab = density[(oa + a) * n + ob + b];
        double to_ab = 0.0;
        for (int c = 0; c < wc; ++c) {
          const double* d_c = density + (oc + c) * n + od;
          for (int d = 0; d < wd; ++d) {
            to_ab += row[c * wd + d] * d_c[d];
            j_cd[c * wd + d] += d_ab * row[c * wd + d];
          }
        }
        add(&j_half[(oa + a) * n + ob + b], 2.0 * scale * to_ab);
      }
    }
    for (int c = 0; c < wc; ++c) {
      for (int d = 0; d < wd; ++d) add(&j_half[(oc + c) * n + od + d], 2.0 * scale * j_cd[c * wd + d]);
    }
  }
  if (with_k) {
    // Per (a, b, c) the two updates that stay on element c are summed over d in registers; the two that move
    // with d go to memory. Shells may coincide (some targets are then one element): every contribution is
    // still added exactly once.
    for (int a = 0; a < wa; ++a) {
      for (int b = 0; b < wb; ++b) {
        const double* row = block + (a * wb + b) * wcd;
        const double* d_a = density + (oa + a) * n;
        const double* d_b = density + (ob + b) * n;
        double* k_a = k_half + (oa + a) * n;
        double* k_b = k_half + (ob + b) * n;
        for (int c = 0; c < wc; ++c) {
          const double d_bc = d_b[oc + c], d_ac = d_a[oc + c];
          double to_ac = 0.0, to_bc = 0.0;
          for (int d = 0; d < wd; ++d) {
            const double v = scale * row[c * wd + d];
            to_ac += v * d_b[od + d];
            to_bc += v * d_a[od + d];
            add(&k_a[od + d], v * d_bc);
            add(&k_b[od + d], v * d_ac);
          }
          add(&k_a[oc + c], to_ac);
          add(&k_b[oc + c], to_bc);
        }
      }
    }
  }
}

// Adds one quartet's block (scaled by placement.scale) to J_half and K_half of a symmetric density.
template <typename Add>
QPT_HD void jk_quartet_update(const double* block, const QuartetPlacement& placement, const double* density,
                              double* j_half, double* k_half, int64_t n, bool with_j, bool with_k, Add add) {
#define QPT_JK_WIDTHS(C, D)                                                                                     \
  if (placement.width[2] == (C) && placement.width[3] == (D)) {                                                 \
    jk_quartet_update_widths<C, D>(block, placement, density, j_half, k_half, n, with_j, with_k, add);          \
    return;                                                                                                     \
  }
  // Pairs of spherical s, p, d shells (higher l first, as the drivers store them).
  QPT_JK_WIDTHS(1, 1) QPT_JK_WIDTHS(3, 1) QPT_JK_WIDTHS(3, 3) QPT_JK_WIDTHS(5, 1) QPT_JK_WIDTHS(5, 3)
  QPT_JK_WIDTHS(5, 5)
#undef QPT_JK_WIDTHS
  jk_quartet_update_widths<0, 0>(block, placement, density, j_half, k_half, n, with_j, with_k, add);
}

}  // namespace qpt
