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
//                                   cart[cd][ab] += sum_tuv W[cd][tuv] (-1)^(t+u+v) E^ab_tuv
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

// The nonzeros of each column of the cart -> spherical matrices of l = 2 and 3 (gto_eval.h's table).
struct SphSparse {
  int8_t count[2][7];
  int8_t index[2][7][kEriMaxCartesian];
  double coefficient[2][7][kEriMaxCartesian];
};

QPT_HD void sph_sparse_fill(const double* sph_table, SphSparse& sph) {
  for (int l = 2; l <= 3; ++l) {
    const int ncart = cartesian_count(l), nsph = spherical_count(l);
    const double* matrix = sph_table + sph_table_offset(l);
    for (int j = 0; j < nsph; ++j) {
      int count = 0;
      for (int i = 0; i < ncart; ++i) {
        if (matrix[i * nsph + j] == 0.0) continue;
        sph.index[l - 2][j][count] = static_cast<int8_t>(i);
        sph.coefficient[l - 2][j][count++] = matrix[i * nsph + j];
      }
      sph.count[l - 2][j] = static_cast<int8_t>(count);
    }
  }
}

// Working memory of one quartet evaluation (about 390 kB): owned per thread/lane by the caller, which sets
// the Boys table and fills `sph` (sph_sparse_fill) before the first quartet.
struct EriWork {
  const double* boys_table;  // boys_table_fill's table, or null for the series
  SphSparse sph;
  double rmat[kEriMaxPairHermite * kEriMaxPairHermite];                     // [inner h][outer h]
  double w[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite];      // [inner product][outer h]
  double wt[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite];     // [outer h][inner product]
  double cart[kEriMaxQuartet];                                              // [c][d][a][b] (inner, outer)
  double transformed[kEriMaxQuartet];                                       // spherical transform buffer
};

#if defined(__CUDA_ARCH__)
#define QPT_ERI_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && !defined(__CUDACC__)
#define QPT_ERI_UNROLL _Pragma("GCC unroll 64")
#else
#define QPT_ERI_UNROLL
#endif
#if defined(__GNUC__) && !defined(__CUDACC__)
#define QPT_ERI_SIMD _Pragma("omp simd")
#else
#define QPT_ERI_SIMD
#endif

// R_tuv (n = 0, scaled by `scale`) of the vector x for t + u + v <= L, in canonical order, into levels[0]:
// at each order n from L - 1 down, every (t, u, v) of degree <= L - n from order n + 1 along its table axis.
// Orders alternate between the two rows of `levels`, small local arrays the compiler keeps close (the
// recurrence is a chain through all orders, so where its values live sets its speed).
template <int L>
QPT_HD void hermite_integrals(double scale, double alpha, const double* x, double T, const EriClassTables& tab,
                              const double* boys_table, double (&levels)[2][hermite_count(L)]) {
  double boys[L + 1];
  boys_function(L, T, boys, boys_table);
  double factor = scale;  // scale (-2 alpha)^n
  for (int n = 0; n <= L; ++n, factor *= -2.0 * alpha) boys[n] *= factor;
  levels[L & 1][0] = boys[L];
  QPT_ERI_UNROLL
  for (int n = L - 1; n >= 0; --n) {
    double* cur = levels[n & 1];
    const double* prev = levels[(n + 1) & 1];
    cur[0] = boys[n];
    const int count = hermite_count(L - n);
    QPT_ERI_UNROLL
    for (int h = 1; h < count; ++h) {
      cur[h] = x[tab.hermite_axis[h]] * prev[tab.hermite_from[h]] + tab.hermite_factor[h] * prev[tab.hermite_from2[h]];
    }
  }
}

// w.cart[inner product][outer product] for an outer pair of class Ko and an inner one of class Ki, L(Ko) >=
// L(Ki). Both classes are template arguments, so every loop length is known at compile time and, on the host,
// the loops over terms and Hermite indices unroll against the compile-time tables.
template <int Ko, int Ki>
QPT_HD void eri_quartet_class(const PairView& outer, const PairView& inner, const double* arena,
                              const EriClassTables& tables, EriWork& w) {
#if defined(__CUDA_ARCH__)
  const EriClassTables& tab = tables;
#else
  const EriClassTables& tab = kEriClassTables;
  (void)tables;
#endif
  constexpr double kTwoPiToFiveHalves = 34.98683665524972;  // 2 pi^(5/2)
  constexpr int Lo = class_la(Ko) + class_lb(Ko), Li = class_la(Ki) + class_lb(Ki);
  constexpr int nho = hermite_count(Lo), nhi = hermite_count(Li);
  constexpr int ni = cartesian_count(class_la(Ki)) * cartesian_count(class_lb(Ki));
  constexpr int no = cartesian_count(class_la(Ko)) * cartesian_count(class_lb(Ko));
  constexpr int inner_terms = class_term_count(class_la(Ki), class_lb(Ki));
  constexpr int outer_terms = class_term_count(class_la(Ko), class_lb(Ko));
  const int inner_first = tab.classes[Ki].first, outer_first = tab.classes[Ko].first;

  for (int k = 0; k < no * ni; ++k) w.cart[k] = 0.0;
  for (int po = 0; po < outer.count; ++po) {
    const PrimitivePair& bra = outer.prims[po];
    for (int k = 0; k < ni * nho; ++k) w.w[k] = 0.0;
    for (int pi = 0; pi < inner.count; ++pi) {
      const PrimitivePair& ket = inner.prims[pi];
      const double p = bra.p, q = ket.p;
      const double qp[3] = {ket.center[0] - bra.center[0], ket.center[1] - bra.center[1],
                            ket.center[2] - bra.center[2]};
      const double inverse_sum = 1.0 / (p + q);
      const double alpha = p * q * inverse_sum;
      const double T = alpha * (qp[0] * qp[0] + qp[1] * qp[1] + qp[2] * qp[2]);
      const double scale = kTwoPiToFiveHalves * sqrt(inverse_sum) * bra.weight_over_p * ket.weight_over_p;
      double levels[2][hermite_count(Lo + Li)];
      hermite_integrals<Lo + Li>(scale, alpha, qp, T, tab, w.boys_table, levels);
      QPT_ERI_UNROLL
      for (int k = 0; k < nhi; ++k) {
        QPT_ERI_UNROLL
        for (int h = 0; h < nho; ++h) w.rmat[k * nho + h] = levels[0][tab.hermite_sum[k][h]];
      }
      const double* coefficient = arena + ket.coefficients;
      QPT_ERI_UNROLL
      for (int term = 0; term < inner_terms; ++term) {
        double* w_row = w.w + tab.term_product[inner_first + term] * nho;
        const double* r_row = w.rmat + tab.term_hermite[inner_first + term] * nho;
        const double c = coefficient[term];
        QPT_ERI_SIMD
        for (int h = 0; h < nho; ++h) w_row[h] += c * r_row[h];
      }
    }
    // cart[cd][ab] += sum_h W[cd][h] (-1)^|h| E^ab_h, term by term (sparse: a pair has far fewer terms than
    // Hermite indices x products); each term's update is ni long, fixed at compile time.
    for (int k = 0; k < ni; ++k) {
      for (int h = 0; h < nho; ++h) w.wt[h * ni + k] = tab.hermite_sign[h] * w.w[k * nho + h];
    }
    const double* coefficient = arena + bra.coefficients;
    QPT_ERI_UNROLL
    for (int term = 0; term < outer_terms; ++term) {
      const int ab = tab.term_product[outer_first + term];
      const double* w_row = w.wt + tab.term_hermite[outer_first + term] * ni;
      const double c = coefficient[term];
      for (int k = 0; k < ni; ++k) w.cart[k * no + ab] += c * w_row[k];
    }
  }
}

// w.cart = (inner|outer) over the cartesian products of the two pairs; needs L(outer) >= L(inner).
QPT_HD void eri_quartet_cartesian(const PairView& outer, const PairView& inner, const double* arena,
                                  const EriClassTables& tables, EriWork& w) {
#define QPT_ERI_CASE(KO, KI) \
  case (KO) * 16 + (KI):     \
    eri_quartet_class<KO, KI>(outer, inner, arena, tables, w); return;
  // Class pairs (outer, inner) with L(outer) >= L(inner); classes 0 ss, 1 ps, 2 pp, 3 ds, 4 dp, 5 dd, 6 fs,
  // 7 fp, 8 fd, 9 ff have L = 0 1 2 2 3 4 3 4 5 6.
  switch (outer.klass * 16 + inner.klass) {
    QPT_ERI_CASE(0, 0) QPT_ERI_CASE(1, 0) QPT_ERI_CASE(2, 0) QPT_ERI_CASE(3, 0) QPT_ERI_CASE(4, 0) QPT_ERI_CASE(5, 0) QPT_ERI_CASE(6, 0) QPT_ERI_CASE(7, 0) QPT_ERI_CASE(8, 0) QPT_ERI_CASE(9, 0)
    QPT_ERI_CASE(1, 1) QPT_ERI_CASE(2, 1) QPT_ERI_CASE(3, 1) QPT_ERI_CASE(4, 1) QPT_ERI_CASE(5, 1) QPT_ERI_CASE(6, 1) QPT_ERI_CASE(7, 1) QPT_ERI_CASE(8, 1) QPT_ERI_CASE(9, 1)
    QPT_ERI_CASE(2, 2) QPT_ERI_CASE(3, 2) QPT_ERI_CASE(4, 2) QPT_ERI_CASE(5, 2) QPT_ERI_CASE(6, 2) QPT_ERI_CASE(7, 2) QPT_ERI_CASE(8, 2) QPT_ERI_CASE(9, 2)
    QPT_ERI_CASE(2, 3) QPT_ERI_CASE(3, 3) QPT_ERI_CASE(4, 3) QPT_ERI_CASE(5, 3) QPT_ERI_CASE(6, 3) QPT_ERI_CASE(7, 3) QPT_ERI_CASE(8, 3) QPT_ERI_CASE(9, 3)
    QPT_ERI_CASE(4, 4) QPT_ERI_CASE(5, 4) QPT_ERI_CASE(6, 4) QPT_ERI_CASE(7, 4) QPT_ERI_CASE(8, 4) QPT_ERI_CASE(9, 4)
    QPT_ERI_CASE(5, 5) QPT_ERI_CASE(7, 5) QPT_ERI_CASE(8, 5) QPT_ERI_CASE(9, 5)
    QPT_ERI_CASE(4, 6) QPT_ERI_CASE(5, 6) QPT_ERI_CASE(6, 6) QPT_ERI_CASE(7, 6) QPT_ERI_CASE(8, 6) QPT_ERI_CASE(9, 6)
    QPT_ERI_CASE(5, 7) QPT_ERI_CASE(7, 7) QPT_ERI_CASE(8, 7) QPT_ERI_CASE(9, 7)
    QPT_ERI_CASE(8, 8) QPT_ERI_CASE(9, 8)
    QPT_ERI_CASE(9, 9)
    default:
      break;  // unreachable: the drivers only build pairs with l <= 3 and order each quartet L(outer) >= L(inner)
  }
#undef QPT_ERI_CASE
}

}  // namespace qpt
