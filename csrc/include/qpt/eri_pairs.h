// Shell-pair data of the integral-direct engine, computed once per call instead of once per quartet.
//
// A shell pair (AB) is stored with its higher angular momentum first (la >= lb; (ab|cd) = (ba|cd)), so ten
// classes cover l <= 3. For each class, EriClassTables lists the McMurchie-Davidson Hermite terms of every
// cartesian product x_a x_b: product k has the terms E^x_t E^y_u E^z_v, t <= a_x + b_x (likewise u, v),
// of the Hermite index h = (t, u, v) in the canonical order below. For each primitive pair the products'
// coefficients (the term's three E factors multiplied out) are stored in that same term order, so the
// quartet loop reads them as one flat array (eri_md.h) when the pair is the inner one of a quartet. For use
// as the outer pair the same coefficients follow densely, [Hermite h][product], with the sign (-1)^(t+u+v)
// of eri_md.h folded in: the outer stage is then a small dense matrix product.
//
// Canonical Hermite order: (t, u, v) by total degree n = t + u + v, then t descending, then u descending.
// The first hermite_count(L) indices are exactly those with t + u + v <= L for every L, so a pair of total
// angular momentum L uses a prefix of the order. Hermite integrals R_tuv live in a cube of fixed side
// kEriCubeSide (whatever the quartet's total L), so an index's cube offset is one table lookup and the
// offset of (t + tau, u + nu, v + phi) is the sum of two.
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
constexpr int kEriCubeSide = kEriMaxTotalL + 1;
constexpr int kEriCube = kEriCubeSide * kEriCubeSide * kEriCubeSide;
constexpr int kEriMaxQuartet = kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian;
// Most primitives per shell (def2 and cc-pVXZ bases have at most 12); the handlers reject more.
constexpr int kEriMaxPrimitives = 16;
constexpr int kEriClasses = (kEriMaxAngular + 1) * (kEriMaxAngular + 2) / 2;
// Hermite terms of all ten classes together (1 + 6 + 33 + 21 + 108 + 336 + 56 + 273 + 816 + 1920).
constexpr int kEriClassTerms = 3570;

QPT_HD constexpr int hermite_count(int l) { return (l + 1) * (l + 2) * (l + 3) / 6; }
constexpr int kEriMaxPairHermite = hermite_count(kEriMaxPairL);

// Hermite terms of all cartesian products of a pair (la, lb): sum over products of
// (a_x + b_x + 1)(a_y + b_y + 1)(a_z + b_z + 1).
QPT_HD constexpr int class_term_count(int la, int lb) {
  int count = 0;
  for (int ax = la; ax >= 0; --ax)
    for (int az = 0; az <= la - ax; ++az)
      for (int bx = lb; bx >= 0; --bx)
        for (int bz = 0; bz <= lb - bx; ++bz) count += (ax + bx + 1) * (la - ax - az + lb - bx - bz + 1) * (az + bz + 1);
  return count;
}

// Class index of a pair la >= lb.
QPT_HD constexpr int pair_class(int la, int lb) { return la * (la + 1) / 2 + lb; }

// 1D Hermite coefficients e[i][j][t] (i <= la, j <= lb, t <= i + j) of a primitive pair.
using HermiteTable = double[kEriMaxAngular + 1][kEriMaxAngular + 1][kEriMaxPairL + 1];

struct PairClass {
  int la, lb;
  int products;  // ncart(la) * ncart(lb)
  int first;     // first term in EriClassTables' term arrays
  int count;     // number of terms
  int dense;     // hermite_count(la + lb) * products: size of the dense [h][product] copy
};

// Doubles per primitive pair in the coefficient arena: the sparse terms, then the dense copy.
QPT_HD int class_coefficient_stride(const PairClass& pc) { return pc.count + pc.dense; }

// Term tables of the ten classes, plus the cube offsets of the canonical Hermite order. Plain data, built on
// the host (eri_class_tables_fill) and copied to the device as is.
struct EriClassTables {
  PairClass classes[kEriClasses];
  int16_t hermite_offset[kEriMaxPairHermite];  // cube offset of canonical Hermite index h
  int16_t hermite_sign[kEriMaxPairHermite];    // (-1)^(t + u + v)
  int16_t term_product[kEriClassTerms];        // cartesian product a * nb + b of the term
  int16_t term_hermite[kEriClassTerms];        // canonical Hermite index of the term
  int16_t term_source[kEriClassTerms][3];      // flat indices of E^x_t, E^y_u, E^z_v in a HermiteTable
};

// Total angular momentum of a pair class.
QPT_HD int class_l(const EriClassTables& tables, int klass) {
  return tables.classes[klass].la + tables.classes[klass].lb;
}

// x^a y^b z^c powers of cartesian component k of angular momentum l, PySCF order.
QPT_HD void cartesian_powers(int l, int k, int* powers) {
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

inline void eri_class_tables_fill(EriClassTables& tables) {
  int hermite_of[kEriMaxPairL + 1][kEriMaxPairL + 1][kEriMaxPairL + 1];
  int h = 0;
  for (int n = 0; n <= kEriMaxPairL; ++n) {
    for (int t = n; t >= 0; --t) {
      for (int u = n - t; u >= 0; --u, ++h) {
        const int v = n - t - u;
        hermite_of[t][u][v] = h;
        tables.hermite_offset[h] = static_cast<int16_t>((t * kEriCubeSide + u) * kEriCubeSide + v);
        tables.hermite_sign[h] = static_cast<int16_t>(n % 2 == 0 ? 1 : -1);
      }
    }
  }
  constexpr int kTableJ = kEriMaxPairL + 1, kTableI = (kEriMaxAngular + 1) * kTableJ;
  int term = 0;
  for (int la = 0; la <= kEriMaxAngular; ++la) {
    for (int lb = 0; lb <= la; ++lb) {
      const int na = cartesian_count(la), nb = cartesian_count(lb);
      PairClass& pc = tables.classes[pair_class(la, lb)];
      pc = {la, lb, na * nb, term, 0, hermite_count(la + lb) * na * nb};
      for (int a = 0; a < na; ++a) {
        int pa[3];
        cartesian_powers(la, a, pa);
        for (int b = 0; b < nb; ++b) {
          int pb[3];
          cartesian_powers(lb, b, pb);
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
    }
  }
}

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
  int64_t coefficients;
};

// A shell pair as the quartet engine reads it.
struct PairView {
  const PrimitivePair* prims;
  int count;   // primitive pairs (after screening)
  int klass;   // pair_class(la, lb), la >= lb
};

// Writes the na * nb primitive pairs of shells a (la >= lb) and b into `prims`, and their term coefficients
// at arena + coefficient_start (class_coefficient_stride per primitive pair, in primitive-pair order).
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
      pair.coefficients = coefficient_start + static_cast<int64_t>(k) * class_coefficient_stride(pc);
      for (int x = 0; x < 3; ++x) {
        pair.center[x] = (alpha * a.center[x] + beta * b.center[x]) / p;
        hermite_coefficients(a.l, b.l, 0.5 / p, pair.center[x] - a.center[x], pair.center[x] - b.center[x], e[x]);
      }
      const double* ex = &e[0][0][0][0];
      const double* ey = &e[1][0][0][0];
      const double* ez = &e[2][0][0][0];
      double* out = arena + pair.coefficients;
      double* dense = out + pc.count;
      for (int t = 0; t < pc.dense; ++t) dense[t] = 0.0;
      for (int t = 0; t < pc.count; ++t) {
        const int16_t* source = tables.term_source[pc.first + t];
        out[t] = ex[source[0]] * ey[source[1]] * ez[source[2]];
        const int h = tables.term_hermite[pc.first + t];
        dense[h * pc.products + tables.term_product[pc.first + t]] = tables.hermite_sign[h] * out[t];
      }
    }
  }
}

}  // namespace qpt
