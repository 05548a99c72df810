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
// kernel is a template on (outer class, inner class), so every loop length is fixed at compile time, and the
// class tables are compile-time constants on the host (eri_pairs.h), so unrolled loops index fixed
// addresses. On the CPU, kEriLanes inner primitive pairs go through Boys, R and the inner terms side by
// side in vector lanes.
//
// Cartesian components follow PySCF's order and a shell's functions are x^a y^b z^c sum_p c_p exp(-alpha_p r^2)
// with every normalisation in the coefficients (qpt.system.basis.BasisShells): PySCF's cartesian integrals.
#pragma once

#include "qpt/boys.h"
#include "qpt/eri_pairs.h"
#include "qpt/fast_exp.h"
#include "qpt/host_device.h"

namespace qpt {

static_assert(kEriMaxTotalL <= kBoysMaxOrder, "the Boys function must reach the highest total L");

// Primitive quartets evaluated side by side: on the CPU, kEriLanes inner primitive pairs share one pass
// through Boys, R and the inner terms, each lane in its own slot of small arrays, so every step is a vector
// operation (AVX-512 holds 8 doubles; 4 lanes keep the waste low when an inner pair has few primitives).
// The GPU runs one primitive quartet per thread step.
#if defined(__CUDA_ARCH__)
constexpr int kEriLanes = 1;
#else
constexpr int kEriLanes = 4;
#endif

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
      if (count == 0) {  // an all-zero column (never in PySCF's tables): one zero term keeps the loops simple
        sph.index[l - 2][j][0] = 0;
        sph.coefficient[l - 2][j][count++] = 0.0;
      }
      sph.count[l - 2][j] = static_cast<int8_t>(count);
    }
  }
}

// Working memory of one quartet evaluation (about 720 kB with 4 lanes, 350 kB on the GPU): owned per
// thread/lane by the caller, which sets the Boys table and the cutoff and fills `sph` (sph_sparse_fill) before
// the first quartet.
struct EriWork {
  const double* boys_table;  // boys_table_fill's table, or null for the series
  // Primitive quartets whose bound(bra) bound(ket) is below this are skipped (0: none). Each pair's primitive
  // pairs must then be sorted by bound, largest first (the CPU driver does), so the loops stop at the first.
  double primitive_cutoff;
  SphSparse sph;
  double rmat[kEriMaxPairHermite * kEriMaxPairHermite * kEriLanes];         // [inner h][outer h][lane]
  double w_lanes[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite * kEriLanes];  // [cd][outer h][lane]
  double wt[kEriMaxCartesian * kEriMaxCartesian * kEriMaxPairHermite];     // [outer h][inner product]
  double cart[kEriMaxQuartet];                                              // [a][b][c][d] (outer, inner)
  double transformed[kEriMaxQuartet];                                       // spherical transform buffer
};

#if defined(__CUDA_ARCH__)
#define QPT_ERI_UNROLL _Pragma("unroll 1")  // unrolling 58 class kernels costs nvcc minutes per architecture
#elif defined(__GNUC__) && !defined(__CUDACC__)
#define QPT_ERI_UNROLL _Pragma("GCC unroll 32")
#else
#define QPT_ERI_UNROLL
#endif
#if defined(__GNUC__) && !defined(__CUDACC__)
#define QPT_ERI_SIMD _Pragma("omp simd")
#else
#define QPT_ERI_SIMD
#endif

// F_m(T[v]) for m <= L into boys[m][v]: the table's Taylor series below kBoysTableLimit, above it
// F_0 = sqrt(pi / T) / 2 (erf(sqrt(T)) = 1 - erfc(6) rounds to 1 there) and the upward recursion. Each part
// runs over all lanes and selects per lane (vector code); the second only when some lane needs it.
template <int L, int V>
QPT_HD QPT_GTO_INLINE void boys_lanes(const double* T, const double* table, double (&boys)[L + 1][V]) {
  bool any_large = false;
  QPT_ERI_SIMD
  for (int v = 0; v < V; ++v) {
    const double t = T[v];
    any_large |= !(t < kBoysTableLimit);
    boys_from_table(L, t < kBoysTableLimit ? t : 0.0, table, &boys[0][v], V);  // large T: replaced below
  }
  if (!any_large) return;  // the exp below is as costly as the rest: only pay it when some lane needs it
  QPT_ERI_SIMD
  for (int v = 0; v < V; ++v) {
    const bool large = !(T[v] < kBoysTableLimit);
    const double t = large ? T[v] : kBoysTableLimit;
    const double half_over_t = 0.5 / t;
    const double exp_minus_t = exp_nonpositive(-t);
    double upward = 0.886226925452758014 * sqrt(1.0 / t);  // sqrt(pi)/2 / sqrt(T)
    for (int m = 0; m <= L; ++m) {
      boys[m][v] = large ? upward : boys[m][v];
      upward = ((2 * m + 1) * upward - exp_minus_t) * half_over_t;
    }
  }
}

// R_tuv (n = 0, scaled by scale[v]) of the vectors x[.][v] for t + u + v <= L, in canonical order, into
// levels[0][h][v]: at each order n from L - 1 down, every (t, u, v) of degree <= L - n from order n + 1 along
// its table axis. Orders alternate between the two halves of `levels`, small local arrays (the recurrence
// is a chain through all orders, so where its values live sets its speed).
template <int L, int V>
QPT_HD QPT_GTO_INLINE void hermite_integrals(const double* scale, const double* alpha, const double (&x)[3][V],
                                             const double* T, const EriClassTables& tab, const double* boys_table,
                                             double (&levels)[2][hermite_count(L)][V]) {
  double boys[L + 1][V];
  boys_lanes<L, V>(T, boys_table, boys);
  QPT_ERI_SIMD
  for (int v = 0; v < V; ++v) {
    double factor = scale[v];  // scale (-2 alpha)^n
    for (int n = 0; n <= L; ++n, factor *= -2.0 * alpha[v]) boys[n][v] *= factor;
    levels[L & 1][0][v] = boys[L][v];
  }
  QPT_ERI_UNROLL
  for (int n = L - 1; n >= 0; --n) {
    double(&cur)[hermite_count(L)][V] = levels[n & 1];
    const double(&prev)[hermite_count(L)][V] = levels[(n + 1) & 1];
    QPT_ERI_SIMD
    for (int v = 0; v < V; ++v) cur[0][v] = boys[n][v];
    const int count = hermite_count(L - n);
    QPT_ERI_UNROLL
    for (int h = 1; h < count; ++h) {
      const double* axis = x[tab.hermite_axis[h]];
      const double* from = prev[tab.hermite_from[h]];
      const double* from2 = prev[tab.hermite_from2[h]];
      const double factor = tab.hermite_factor[h];
      QPT_ERI_SIMD
      for (int v = 0; v < V; ++v) cur[h][v] = axis[v] * from[v] + factor * from2[v];
    }
  }
}

// w.cart[outer product][inner product] for an outer pair of class Ko and an inner one of class Ki, L(Ko) >=
// L(Ki), with V inner primitive pairs per pass. Both classes are template arguments, so every loop length is
// known at compile time and, on the host, the loops over terms and Hermite indices unroll against the
// compile-time tables.
template <int Ko, int Ki, int V>
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
  double(&w_lanes)[ni * nho][V] = *reinterpret_cast<double(*)[ni * nho][V]>(w.w_lanes);
  double(&r_lanes)[nhi * nho][V] = *reinterpret_cast<double(*)[nhi * nho][V]>(w.rmat);

  for (int k = 0; k < no * ni; ++k) w.cart[k] = 0.0;
  for (int po = 0; po < outer.count; ++po) {
    const PrimitivePair& bra = outer.prims[po];
    int inner_count = inner.count;
    while (inner_count > 0 && bra.bound * inner.prims[inner_count - 1].bound < w.primitive_cutoff) --inner_count;
    if (inner_count == 0) break;  // and for every later (smaller) outer primitive pair too
    for (int k = 0; k < ni * nho; ++k) {
      for (int v = 0; v < V; ++v) w_lanes[k][v] = 0.0;
    }
    for (int first = 0; first < inner_count; first += V) {
      // Lanes past the last inner primitive pair repeat it with weight 0.
      double x[3][V], T[V], alpha[V], scale[V];
      const double* coefficient[V];
      for (int v = 0; v < V; ++v) {
        const bool real = first + v < inner_count;
        const PrimitivePair& ket = inner.prims[real ? first + v : inner_count - 1];
        const double p = bra.p, q = ket.p;
        for (int c = 0; c < 3; ++c) x[c][v] = ket.center[c] - bra.center[c];
        const double inverse_sum = 1.0 / (p + q);
        alpha[v] = p * q * inverse_sum;
        T[v] = alpha[v] * (x[0][v] * x[0][v] + x[1][v] * x[1][v] + x[2][v] * x[2][v]);
        scale[v] = real ? kTwoPiToFiveHalves * sqrt(inverse_sum) * bra.weight_over_p * ket.weight_over_p : 0.0;
        coefficient[v] = arena + ket.coefficients;
      }
      double levels[2][hermite_count(Lo + Li)][V];
      hermite_integrals<Lo + Li, V>(scale, alpha, x, T, tab, w.boys_table, levels);
      QPT_ERI_UNROLL
      for (int k = 0; k < nhi; ++k) {
        QPT_ERI_UNROLL
        for (int h = 0; h < nho; ++h) {
          const double* source = levels[0][tab.hermite_sum[k][h]];
          QPT_ERI_SIMD
          for (int v = 0; v < V; ++v) r_lanes[k * nho + h][v] = source[v];
        }
      }
      QPT_ERI_UNROLL
      for (int term = 0; term < inner_terms; ++term) {
        double c[V];
        for (int v = 0; v < V; ++v) c[v] = coefficient[v][term];
        double(*w_row)[V] = w_lanes + tab.term_product[inner_first + term] * nho;
        const double(*r_row)[V] = r_lanes + tab.term_hermite[inner_first + term] * nho;
        for (int h = 0; h < nho; ++h) {
          QPT_ERI_SIMD
          for (int v = 0; v < V; ++v) w_row[h][v] += c[v] * r_row[h][v];
        }
      }
    }
    // cart[ab][cd] += sum_h W[cd][h] (-1)^|h| E^ab_h over the terms of each product ab (sparse: a pair has far
    // fewer terms than Hermite indices x products); each term's update is ni long, fixed at compile time.
    for (int k = 0; k < ni; ++k) {
      for (int h = 0; h < nho; ++h) {
        double sum = 0.0;
        for (int v = 0; v < V; ++v) sum += w_lanes[k * nho + h][v];
        w.wt[h * ni + k] = tab.hermite_sign[h] * sum;
      }
    }
    // Product by product, its row of inner products summed in registers over the product's terms.
    const double* coefficient = arena + bra.coefficients;
    const int16_t* product_start = tab.product_start[Ko];
    QPT_ERI_UNROLL
    for (int ab = 0; ab < no; ++ab) {
      double row[ni];
      for (int k = 0; k < ni; ++k) row[k] = 0.0;
      for (int term = product_start[ab]; term < product_start[ab + 1]; ++term) {
        const double* w_row = w.wt + tab.term_hermite[outer_first + term] * ni;
        const double c = coefficient[term];
        for (int k = 0; k < ni; ++k) row[k] += c * w_row[k];
      }
      double* out = w.cart + ab * ni;
      for (int k = 0; k < ni; ++k) out[k] += row[k];
    }
  }
}

// Lanes pay off from two inner primitive pairs on; a single one runs the one-lane code. Quartets of total L
// above kEriLaneMaxL (rare in the bases this is for, and large to compile in lanes) always run one lane.
constexpr int kEriLaneMaxL = 6;

template <int Ko, int Ki>
QPT_HD void eri_quartet_class_lanes(const PairView& outer, const PairView& inner, const double* arena,
                                    const EriClassTables& tables, EriWork& w) {
  constexpr int L = class_la(Ko) + class_lb(Ko) + class_la(Ki) + class_lb(Ki);
  if constexpr (kEriLanes > 1 && L <= kEriLaneMaxL) {
    if (inner.count >= 2) {
      eri_quartet_class<Ko, Ki, kEriLanes>(outer, inner, arena, tables, w);
      return;
    }
  }
  eri_quartet_class<Ko, Ki, 1>(outer, inner, arena, tables, w);
}

// w.cart = (outer|inner) over the cartesian products of the two pairs; needs L(outer) >= L(inner).
QPT_HD void eri_quartet_cartesian(const PairView& outer, const PairView& inner, const double* arena,
                                  const EriClassTables& tables, EriWork& w) {
#define QPT_ERI_CASE(KO, KI)                                    \
  case (KO) * 16 + (KI):                                        \
    eri_quartet_class_lanes<KO, KI>(outer, inner, arena, tables, w); \
    return;
  // Class pairs (outer, inner) with L(outer) >= L(inner); classes 0 ss, 1 ps, 2 pp, 3 ds, 4 dp, 5 dd, 6 fs,
  // 7 fp, 8 fd, 9 ff have L = 0 1 2 2 3 4 3 4 5 6.
  switch (outer.klass * 16 + inner.klass) {
    QPT_ERI_CASE(0, 0) QPT_ERI_CASE(1, 0) QPT_ERI_CASE(2, 0) QPT_ERI_CASE(3, 0) QPT_ERI_CASE(4, 0)
    QPT_ERI_CASE(5, 0) QPT_ERI_CASE(6, 0) QPT_ERI_CASE(7, 0) QPT_ERI_CASE(8, 0) QPT_ERI_CASE(9, 0)
    QPT_ERI_CASE(1, 1) QPT_ERI_CASE(2, 1) QPT_ERI_CASE(3, 1) QPT_ERI_CASE(4, 1) QPT_ERI_CASE(5, 1)
    QPT_ERI_CASE(6, 1) QPT_ERI_CASE(7, 1) QPT_ERI_CASE(8, 1) QPT_ERI_CASE(9, 1)
    QPT_ERI_CASE(2, 2) QPT_ERI_CASE(3, 2) QPT_ERI_CASE(4, 2) QPT_ERI_CASE(5, 2) QPT_ERI_CASE(6, 2)
    QPT_ERI_CASE(7, 2) QPT_ERI_CASE(8, 2) QPT_ERI_CASE(9, 2)
    QPT_ERI_CASE(2, 3) QPT_ERI_CASE(3, 3) QPT_ERI_CASE(4, 3) QPT_ERI_CASE(5, 3) QPT_ERI_CASE(6, 3)
    QPT_ERI_CASE(7, 3) QPT_ERI_CASE(8, 3) QPT_ERI_CASE(9, 3)
    QPT_ERI_CASE(4, 4) QPT_ERI_CASE(5, 4) QPT_ERI_CASE(6, 4) QPT_ERI_CASE(7, 4) QPT_ERI_CASE(8, 4)
    QPT_ERI_CASE(9, 4)
    QPT_ERI_CASE(5, 5) QPT_ERI_CASE(7, 5) QPT_ERI_CASE(8, 5) QPT_ERI_CASE(9, 5)
    QPT_ERI_CASE(4, 6) QPT_ERI_CASE(5, 6) QPT_ERI_CASE(6, 6) QPT_ERI_CASE(7, 6) QPT_ERI_CASE(8, 6)
    QPT_ERI_CASE(9, 6)
    QPT_ERI_CASE(5, 7) QPT_ERI_CASE(7, 7) QPT_ERI_CASE(8, 7) QPT_ERI_CASE(9, 7)
    QPT_ERI_CASE(8, 8) QPT_ERI_CASE(9, 8)
    QPT_ERI_CASE(9, 9)
    default:
      break;  // unreachable: the drivers only build pairs with l <= 3 and order each quartet L(outer) >= L(inner)
  }
#undef QPT_ERI_CASE
}

}  // namespace qpt
