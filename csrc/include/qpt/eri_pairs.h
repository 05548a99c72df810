// Shell-pair data of the integral-direct engine, computed once per call instead of once per quartet.
//
// A shell pair (AB) is stored with its higher angular momentum first (la >= lb; (ab|cd) = (ba|cd)), so ten
// classes cover l <= 3. For each class, EriClassTables lists the McMurchie-Davidson Hermite terms of every
// cartesian product x_a x_b: product k has the terms E^x_t E^y_u E^z_v, t <= a_x + b_x (likewise u, v),
// of the Hermite index h = (t, u, v) in the canonical order below. For each primitive pair the products'
// coefficients (the term's three E factors multiplied out) are stored in that same term order, so the
// quartet loop reads them as one flat array (eri_md.h).
//
// Canonical Hermite order: (t, u, v) by total degree n = t + u + v, then t descending, then u descending.
// The first hermite_count(L) indices are exactly those with t + u + v <= L for every L, so a pair of total
// angular momentum L uses a prefix of the order, and the Hermite integrals R_tuv of a quartet of total L are
// stored in canonical order too; the canonical index of (t + tau, u + nu, v + phi) is a table entry.
#pragma once

#include <cmath>
#include <cstdint>

#include "qpt/gto_eval.h"
#include "qpt/host_device.h"

namespace qpt {

// Highest angular momentum of the integral-direct engine (f functions).
constexpr int kEriMaxAngular = 3;
constexpr int kEriMaxCartesian = (kEriMaxAngular + 1) * (kEriMaxAngular + 2) / 2;
constexpr int kEriMaxPairL = 2 * kEriMaxAngular;
constexpr int kEriMaxTotalL = 4 * kEriMaxAngular;
constexpr int kEriMaxQuartet = kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian;
// Most primitives per shell (def2 and cc-pVXZ bases have at most 12); the handlers reject more.
constexpr int kEriMaxPrimitives = 16;
constexpr int kEriClasses = (kEriMaxAngular + 1) * (kEriMaxAngular + 2) / 2;
// Hermite terms of all ten classes together (1 + 6 + 33 + 21 + 108 + 336 + 56 + 273 + 816 + 1920).
constexpr int kEriClassTerms = 3570;

QPT_HD constexpr int hermite_count(int l) { return (l + 1) * (l + 2) * (l + 3) / 6; }
constexpr int kEriMaxPairHermite = hermite_count(kEriMaxPairL);
constexpr int kEriMaxHermite = hermite_count(kEriMaxTotalL);

// Hermite terms of all cartesian products of a pair (la, lb): sum over products of
// (a_x + b_x + 1)(a_y + b_y + 1)(a_z + b_z + 1).
QPT_HD constexpr int class_term_count(int la, int lb) {
  int count = 0;
  for (int ax = la; ax >= 0; --ax)
    for (int az = 0; az <= la - ax; ++az)
      for (int bx = lb; bx >= 0; --bx)
        for (int bz = 0; bz <= lb - bx; ++bz) {
          count += (ax + bx + 1) * (la - ax - az + lb - bx - bz + 1) * (az + bz + 1);
        }
  return count;
}

// Class index of a pair la >= lb, and back.
QPT_HD constexpr int pair_class(int la, int lb) { return la * (la + 1) / 2 + lb; }
QPT_HD constexpr int class_la(int k) { return k >= 6 ? 3 : k >= 3 ? 2 : k >= 1 ? 1 : 0; }
QPT_HD constexpr int class_lb(int k) { return k - class_la(k) * (class_la(k) + 1) / 2; }

// 1D Hermite coefficients e[i][j][t] (i <= la, j <= lb, t <= i + j) of a primitive pair.
using HermiteTable = double[kEriMaxAngular + 1][kEriMaxAngular + 1][kEriMaxPairL + 1];

struct PairClass {
  int la, lb;
  int products;  // ncart(la) * ncart(lb)
  int first;     // first term in EriClassTables' term arrays
  int count;     // number of terms
};

// Term tables of the ten classes and the canonical Hermite order up to total L 12 with R's recurrence
// (eri_md.h: R_h = x[axis] R_from + factor R_from2 at the next order n). Plain data, computed at compile
// time (make_eri_class_tables) and copied to the device as is.
struct EriClassTables {
  PairClass classes[kEriClasses];
  int16_t hermite_from[kEriMaxHermite];    // canonical index of h lowered by one along hermite_axis
  int16_t hermite_from2[kEriMaxHermite];   // lowered by two (by one where the factor is 0, never read then)
  int8_t hermite_axis[kEriMaxHermite];     // 0, 1, 2: the first of t, u, v that is nonzero
  int8_t hermite_factor[kEriMaxHermite];   // that index minus one
  int8_t hermite_sign[kEriMaxHermite];     // (-1)^(t + u + v)
  int16_t hermite_sum[kEriMaxPairHermite][kEriMaxPairHermite];  // canonical index of (t+t', u+u', v+v')
  int16_t term_product[kEriClassTerms];    // cartesian product a * nb + b of the term
  int16_t term_hermite[kEriClassTerms];    // canonical Hermite index of the term
  int16_t term_source[kEriClassTerms][3];  // flat indices of E^x_t, E^y_u, E^z_v in a HermiteTable
  // Terms of product p of class k: product_start[k][p] .. product_start[k][p + 1] - 1, relative to the class's
  // first term (terms are stored product by product).
  int16_t product_start[kEriClasses][kEriMaxCartesian * kEriMaxCartesian + 1];
};

// Total angular momentum of a pair class.
QPT_HD int class_l(const EriClassTables& tables, int klass) {
  return tables.classes[klass].la + tables.classes[klass].lb;
}

// x^a y^b z^c powers of cartesian component k of angular momentum l, PySCF order.
QPT_HD constexpr void cartesian_powers(int l, int k, int* powers) {
  int index = 0;
  for (int a = l; a >= 0; --a) {
    for (int c = 0; c <= l - a; ++c, ++index) {
      if (index == k) {
        powers[0] = a;
        powers[1] = l - a - c;
        powers[2] = c;
        return;
      }
    }
  }
}

QPT_HD constexpr EriClassTables make_eri_class_tables() {
  EriClassTables tables{};
  int hermite_of[kEriMaxTotalL + 1][kEriMaxTotalL + 1][kEriMaxTotalL + 1] = {};
  int h = 0;
  for (int n = 0; n <= kEriMaxTotalL; ++n) {
    for (int t = n; t >= 0; --t) {
      for (int u = n - t; u >= 0; --u, ++h) hermite_of[t][u][n - t - u] = h;
    }
  }
  h = 0;
  for (int n = 0; n <= kEriMaxTotalL; ++n) {
    for (int t = n; t >= 0; --t) {
      for (int u = n - t; u >= 0; --u, ++h) {
        const int v = n - t - u;
        const int axis = t > 0 ? 0 : u > 0 ? 1 : 2;
        const int index = axis == 0 ? t : axis == 1 ? u : v;
        const int down[3] = {axis == 0 ? 1 : 0, axis == 1 ? 1 : 0, axis == 2 ? 1 : 0};
        const int from = n == 0 ? 0 : hermite_of[t - down[0]][u - down[1]][v - down[2]];
        tables.hermite_from[h] = static_cast<int16_t>(from);
        tables.hermite_from2[h] = static_cast<int16_t>(
            index >= 2 ? hermite_of[t - 2 * down[0]][u - 2 * down[1]][v - 2 * down[2]] : from);
        tables.hermite_axis[h] = static_cast<int8_t>(axis);
        tables.hermite_factor[h] = static_cast<int8_t>(index >= 2 ? index - 1 : 0);
        tables.hermite_sign[h] = static_cast<int8_t>(n % 2 == 0 ? 1 : -1);
      }
    }
  }
  int tuv[kEriMaxPairHermite][3] = {};
  h = 0;
  for (int n = 0; n <= kEriMaxPairL; ++n) {
    for (int t = n; t >= 0; --t) {
      for (int u = n - t; u >= 0; --u, ++h) {
        tuv[h][0] = t;
        tuv[h][1] = u;
        tuv[h][2] = n - t - u;
      }
    }
  }
  for (int i = 0; i < kEriMaxPairHermite; ++i) {
    for (int j = 0; j < kEriMaxPairHermite; ++j) {
      tables.hermite_sum[i][j] =
          static_cast<int16_t>(hermite_of[tuv[i][0] + tuv[j][0]][tuv[i][1] + tuv[j][1]][tuv[i][2] + tuv[j][2]]);
    }
  }
  constexpr int kTableJ = kEriMaxPairL + 1, kTableI = (kEriMaxAngular + 1) * kTableJ;
  int term = 0;
  for (int la = 0; la <= kEriMaxAngular; ++la) {
    for (int lb = 0; lb <= la; ++lb) {
      const int na = cartesian_count(la), nb = cartesian_count(lb);
      PairClass& pc = tables.classes[pair_class(la, lb)];
      pc.la = la;
      pc.lb = lb;
      pc.products = na * nb;
      pc.first = term;
      for (int a = 0; a < na; ++a) {
        int pa[3] = {};
        cartesian_powers(la, a, pa);
        for (int b = 0; b < nb; ++b) {
          int pb[3] = {};
          cartesian_powers(lb, b, pb);
          tables.product_start[pair_class(la, lb)][a * nb + b] = static_cast<int16_t>(term - pc.first);
          for (int t = 0; t <= pa[0] + pb[0]; ++t) {
            for (int u = 0; u <= pa[1] + pb[1]; ++u) {
              for (int v = 0; v <= pa[2] + pb[2]; ++v, ++term) {
                tables.term_product[term] = static_cast<int16_t>(a * nb + b);
                tables.term_hermite[term] = static_cast<int16_t>(hermite_of[t][u][v]);
                tables.term_source[term][0] = static_cast<int16_t>(pa[0] * kTableI + pb[0] * kTableJ + t);
                tables.term_source[term][1] = static_cast<int16_t>(pa[1] * kTableI + pb[1] * kTableJ + u);
                tables.term_source[term][2] = static_cast<int16_t>(pa[2] * kTableI + pb[2] * kTableJ + v);
              }
            }
          }
        }
      }
      pc.count = term - pc.first;
      tables.product_start[pair_class(la, lb)][na * nb] = static_cast<int16_t>(pc.count);
    }
  }
  return tables;
}

// The host's copy, a compile-time constant: with the kernels' loops unrolled, its entries fold into the
// instructions (fixed addresses instead of index loads). Device code reads a copy in device memory (a host
// constexpr array cannot be indexed there).
inline constexpr EriClassTables kEriClassTables = make_eri_class_tables();
static_assert(kEriClassTables.classes[kEriClasses - 1].first + kEriClassTables.classes[kEriClasses - 1].count ==
                  kEriClassTerms,
              "kEriClassTerms must count the terms of every class");

// 1D Hermite coefficients of a primitive pair without the exp(-ab/p X_AB^2) factor:
//   E^{i+1,j}_t = E^{ij}_{t-1} / (2p) + X_PA E^{ij}_t + (t+1) E^{ij}_{t+1}, and likewise in j with X_PB.
QPT_HD void hermite_coefficients(int la, int lb, double half_over_p, double xpa, double xpb, HermiteTable& e) {
  for (int i = 0; i <= la; ++i)
    for (int j = 0; j <= lb; ++j)
      for (int t = 0; t <= la + lb; ++t) e[i][j][t] = 0.0;
  e[0][0][0] = 1.0;
  for (int i = 0; i < la; ++i) {
    for (int t = 0; t <= i + 1; ++t) {
      double value = xpa * e[i][0][t];
      if (t > 0) value += half_over_p * e[i][0][t - 1];
      if (t + 1 <= i) value += (t + 1) * e[i][0][t + 1];
      e[i + 1][0][t] = value;
    }
  }
  for (int j = 0; j < lb; ++j) {
    for (int i = 0; i <= la; ++i) {
      for (int t = 0; t <= i + j + 1; ++t) {
        double value = xpb * e[i][j][t];
        if (t > 0) value += half_over_p * e[i][j][t - 1];
        if (t + 1 <= i + j) value += (t + 1) * e[i][j][t + 1];
        e[i][j + 1][t] = value;
      }
    }
  }
}

// One contracted shell: centre, angular momentum and its primitives (coefficients normalised).
struct EriShell {
  double center[3];
  const double* exponents;
  const double* coefficients;
  int nprim;
  int l;
};

// One primitive pair: exponent sum p, centre P, c_a c_b exp(-ab/p |AB|^2) / p (the 1/p of the quartet
// prefactor folded in once here), and where its class's term coefficients start in the coefficient arena.
struct PrimitivePair {
  double p;
  double center[3];
  double weight_over_p;
  double bound;  // Schwarz bound sqrt(max |(k|k)|) of this primitive pair, or kUnscreened when not computed
  int64_t coefficients;
};

// PrimitivePair::bound of primitive pairs whose bound was not computed: never screened.
constexpr double kUnscreened = 1e300;

// A shell pair as the quartet engine reads it.
struct PairView {
  const PrimitivePair* prims;
  int count;   // primitive pairs (after screening)
  int klass;   // pair_class(la, lb), la >= lb
};

// Writes the na * nb primitive pairs of shells a (la >= lb) and b into `prims`, and their term coefficients
// at arena + coefficient_start (count(class) per primitive pair, in primitive-pair order).
QPT_HD void primitive_pairs_fill(const EriShell& a, const EriShell& b, const EriClassTables& tables,
                                 PrimitivePair* prims, double* arena, int64_t coefficient_start) {
  const PairClass& pc = tables.classes[pair_class(a.l, b.l)];
  double ab[3];
  for (int x = 0; x < 3; ++x) ab[x] = a.center[x] - b.center[x];
  const double ab2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  HermiteTable e[3];
  int k = 0;
  for (int i = 0; i < a.nprim; ++i) {
    for (int j = 0; j < b.nprim; ++j, ++k) {
      const double alpha = a.exponents[i], beta = b.exponents[j], p = alpha + beta;
      PrimitivePair& pair = prims[k];
      pair.p = p;
      pair.weight_over_p = a.coefficients[i] * b.coefficients[j] * exp(-alpha * beta / p * ab2) / p;
      pair.bound = kUnscreened;
      pair.coefficients = coefficient_start + static_cast<int64_t>(k) * pc.count;
      for (int x = 0; x < 3; ++x) {
        pair.center[x] = (alpha * a.center[x] + beta * b.center[x]) / p;
        hermite_coefficients(a.l, b.l, 0.5 / p, pair.center[x] - a.center[x], pair.center[x] - b.center[x], e[x]);
      }
      const double* ex = &e[0][0][0][0];
      const double* ey = &e[1][0][0][0];
      const double* ez = &e[2][0][0][0];
      double* out = arena + pair.coefficients;
      for (int t = 0; t < pc.count; ++t) {
        const int16_t* source = tables.term_source[pc.first + t];
        out[t] = ex[source[0]] * ey[source[1]] * ez[source[2]];
      }
    }
  }
}

}  // namespace qpt
