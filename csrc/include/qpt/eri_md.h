// Two-electron repulsion integrals (ab|cd) of one quartet of contracted cartesian Gaussian shells, by
// McMurchie-Davidson, from precomputed shell-pair data (eri_pairs.h).
//
// Why McMurchie-Davidson rather than Rys quadrature: every step is a short, branch-free recurrence on small
// fixed-size arrays (Hermite expansion coefficients E of each primitive pair, Hermite Coulomb integrals R
// from one Boys function evaluation), so one code path covers every shell class up to (ff|ff) without
// per-class roots/weights tables, compiles unchanged for the GPU, and is easy to check term by term against
// the textbook (Helgaker, Jorgensen, Olsen, "Molecular Electronic-Structure Theory", ch. 9). Rys needs
// fewer flops for high l, which matters less here: def2-svp and friends are dominated by s, p and d.
//
// With p = a + b, P = (aA + bB)/p, q and Q likewise, alpha = pq/(p+q):
//   (ab|cd) = 2 pi^(5/2) / (p q sqrt(p+q)) K_ab K_cd
//             sum_{tuv} E^ab_tuv sum_{tau nu phi} (-1)^(tau+nu+phi) E^cd_{tau nu phi} R_{t+tau,u+nu,v+phi}(P - Q)
// where E^ab_tuv = E^x_t E^y_u E^z_v, K_ab = exp(-ab/p |AB|^2), R^n_000 = (-2 alpha)^n F_n(alpha |PQ|^2) and
//   R^n_{t+1,u,v} = t R^{n+1}_{t-1,u,v} + X_PQ R^{n+1}_{t,u,v}   (likewise for u and v).
// Since R_tuv(-X) = (-1)^(t+u+v) R_tuv(X), the ket's sign moves out of the sum: the inner sum is taken with R
// of Q - P and unsigned E, and the bra's (-1)^(t+u+v) is applied once per bra primitive pair.
//
// Loop order, per quartet "outer" (the pair of higher L) x "inner" pair:
//   for each outer primitive pair:  W[cd][tuv] = sum over inner primitive pairs, sum_terms E^cd R   (per
//                                   primitive quartet: one Boys evaluation, R, then nH(L_outer)-long
//                                   vector updates, one per inner Hermite term)
//                                   cart[ab][cd] += sum_tuv (-1)^(t+u+v) E^ab_tuv W[cd][tuv]
// The per-primitive-quartet work, nH(L_outer) x terms(inner), is smaller with the higher L outside (terms
// grow faster with L than Hermite counts do), which is why the caller orders each quartet that way. The
// kernel is a template on (L_outer, L_inner), so the Hermite loop lengths and R's recurrence are fixed at
// compile time; the term lists (which depend on how L splits into la + lb) stay data.
//
// Cartesian components follow PySCF's order and a shell's functions are x^a y^b z^c sum_p c_p exp(-alpha_p r^2)
// with every normalisation in the coefficients (qpt.system.basis.BasisShells): PySCF's cartesian integrals.
#pragma once

#include "qpt/boys.h"
#include "qpt/eri_pairs.h"
#include "qpt/host_device.h"

namespace qpt {

static_assert(kEriMaxTotalL <= kBoysMaxOrder, "the Boys function must reach the highest total L");

// Working memory of one quartet evaluation (about 390 kB): owned per thread/lane by the caller.
struct EriWork {
  const double* boys_table;  // boys_table_fill's table, or null for the series
  double r[2][kEriCube];     // R^n at two consecutive n, cube of side kEriCubeSide
  double rmat[kEriMaxPairHermite * kEriMaxPairHermite];                     // [inner h][outer h]
  double w[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite];      // [inner product][outer h]
  double wt[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite];     // [outer h][inner product]
  double cart[kEriMaxQuartet];                                              // [a][b][c][d]
  double transformed[kEriMaxQuartet];                                       // spherical transform buffer
};

// R_tuv (n = 0, scaled by `scale`) of the vector x for t + u + v <= L into w.r[0].
template <int L>
QPT_HD void hermite_integrals(double scale, double alpha, const double* x, double T, EriWork& w) {
  constexpr int S = kEriCubeSide;
  double boys[L + 1];
  boys_function(L, T, boys, w.boys_table);
  double factor = scale;  // scale (-2 alpha)^n
  for (int n = 0; n <= L; ++n, factor *= -2.0 * alpha) boys[n] *= factor;
  w.r[L & 1][0] = boys[L];
  for (int n = L - 1; n >= 0; --n) {
    double* cur = w.r[n & 1];
    const double* prev = w.r[(n + 1) & 1];
    const int top = L - n;
    cur[0] = boys[n];
    cur[1] = x[2] * prev[0];
    for (int v = 2; v <= top; ++v) cur[v] = x[2] * prev[v - 1] + (v - 1) * prev[v - 2];
    for (int v = 0; v <= top - 1; ++v) cur[S + v] = x[1] * prev[v];
    for (int u = 2; u <= top; ++u) {
      for (int v = 0; v <= top - u; ++v) {
        cur[u * S + v] = x[1] * prev[(u - 1) * S + v] + (u - 1) * prev[(u - 2) * S + v];
      }
    }
    for (int u = 0; u <= top - 1; ++u) {
      for (int v = 0; v <= top - 1 - u; ++v) cur[(S + u) * S + v] = x[0] * prev[u * S + v];
    }
    for (int t = 2; t <= top; ++t) {
      for (int u = 0; u <= top - t; ++u) {
        for (int v = 0; v <= top - t - u; ++v) {
          cur[(t * S + u) * S + v] = x[0] * prev[((t - 1) * S + u) * S + v] + (t - 1) * prev[((t - 2) * S + u) * S + v];
        }
      }
    }
  }
}

// w.cart[outer product][inner product] for outer L = Lo >= inner L = Li.
template <int Lo, int Li>
QPT_HD void eri_quartet_class(const PairView& outer, const PairView& inner, const double* arena,
                              const EriClassTables& tables, EriWork& w) {
  constexpr double kTwoPiToFiveHalves = 34.98683665524972;  // 2 pi^(5/2)
  constexpr int nho = hermite_count(Lo), nhi = hermite_count(Li);
  const PairClass& co = tables.classes[outer.klass];
  const PairClass& ci = tables.classes[inner.klass];
  const int no = co.products, ni = ci.products;
  const int16_t* offset = tables.hermite_offset;
  const int16_t* inner_product = tables.term_product + ci.first;
  const int16_t* inner_hermite = tables.term_hermite + ci.first;
  const int16_t* outer_product = tables.term_product + co.first;
  const int16_t* outer_hermite = tables.term_hermite + co.first;

  for (int k = 0; k < no * ni; ++k) w.cart[k] = 0.0;
  for (int po = 0; po < outer.count; ++po) {
    const PrimitivePair& bra = outer.prims[po];
    for (int k = 0; k < ni * nho; ++k) w.w[k] = 0.0;
    for (int pi = 0; pi < inner.count; ++pi) {
      const PrimitivePair& ket = inner.prims[pi];
      const double p = bra.p, q = ket.p;
      const double qp[3] = {ket.center[0] - bra.center[0], ket.center[1] - bra.center[1],
                            ket.center[2] - bra.center[2]};
      const double alpha = p * q / (p + q);
      const double T = alpha * (qp[0] * qp[0] + qp[1] * qp[1] + qp[2] * qp[2]);
      const double scale = kTwoPiToFiveHalves / (p * q * sqrt(p + q)) * bra.weight * ket.weight;
      hermite_integrals<Lo + Li>(scale, alpha, qp, T, w);
      const double* r = w.r[0];
      for (int k = 0; k < nhi; ++k) {
        for (int h = 0; h < nho; ++h) w.rmat[k * nho + h] = r[offset[k] + offset[h]];
      }
      const double* coefficient = arena + ket.coefficients;
      for (int term = 0; term < ci.count; ++term) {
        double* w_row = w.w + inner_product[term] * nho;
        const double* r_row = w.rmat + inner_hermite[term] * nho;
        const double c = coefficient[term];
        for (int h = 0; h < nho; ++h) w_row[h] += c * r_row[h];
      }
    }
    for (int k = 0; k < ni; ++k) {
      for (int h = 0; h < nho; ++h) w.wt[h * ni + k] = tables.hermite_sign[h] * w.w[k * nho + h];
    }
    const double* coefficient = arena + bra.coefficients;
    for (int term = 0; term < co.count; ++term) {
      double* out = w.cart + outer_product[term] * ni;
      const double* w_row = w.wt + outer_hermite[term] * ni;
      const double c = coefficient[term];
      for (int k = 0; k < ni; ++k) out[k] += c * w_row[k];
    }
  }
}

// w.cart = (outer|inner) over the cartesian products of the two pairs; needs L(outer) >= L(inner).
QPT_HD void eri_quartet_cartesian(const PairView& outer, const PairView& inner, const double* arena,
                                  const EriClassTables& tables, EriWork& w) {
  const int lo = class_l(tables, outer.klass), li = class_l(tables, inner.klass);
#define QPT_ERI_CASE(LO, LI) \
  case (LO) * 8 + (LI):      \
    eri_quartet_class<LO, LI>(outer, inner, arena, tables, w); return;
  switch (lo * 8 + li) {
    QPT_ERI_CASE(0, 0)
    QPT_ERI_CASE(1, 0) QPT_ERI_CASE(1, 1)
    QPT_ERI_CASE(2, 0) QPT_ERI_CASE(2, 1) QPT_ERI_CASE(2, 2)
    QPT_ERI_CASE(3, 0) QPT_ERI_CASE(3, 1) QPT_ERI_CASE(3, 2) QPT_ERI_CASE(3, 3)
    QPT_ERI_CASE(4, 0) QPT_ERI_CASE(4, 1) QPT_ERI_CASE(4, 2) QPT_ERI_CASE(4, 3) QPT_ERI_CASE(4, 4)
    QPT_ERI_CASE(5, 0) QPT_ERI_CASE(5, 1) QPT_ERI_CASE(5, 2) QPT_ERI_CASE(5, 3) QPT_ERI_CASE(5, 4)
    QPT_ERI_CASE(5, 5)
    QPT_ERI_CASE(6, 0) QPT_ERI_CASE(6, 1) QPT_ERI_CASE(6, 2) QPT_ERI_CASE(6, 3) QPT_ERI_CASE(6, 4)
    QPT_ERI_CASE(6, 5) QPT_ERI_CASE(6, 6)
    default:
      break;  // unreachable: the drivers only build pairs with l <= 3 and order each quartet L(outer) >= L(inner)
  }
#undef QPT_ERI_CASE
}

}  // namespace qpt
