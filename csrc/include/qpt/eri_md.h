// Two-electron repulsion integrals (ab|cd) of one quartet of contracted cartesian Gaussian shells, by
// McMurchie-Davidson.
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
//             sum_{tuv} E^ab_tuv sum_{tau nu phi} (-1)^(tau+nu+phi) E^cd_{tau nu phi} R_{t+tau,u+nu,v+phi}
// where E^ab_tuv = E^x_t E^y_u E^z_v (1D Hermite coefficients, recurrences below), K_ab = exp(-ab/p |AB|^2)
// and R_tuv = R^0_tuv(alpha, P - Q) from R^n_000 = (-2 alpha)^n F_n(alpha |PQ|^2) and
//   R^n_{t+1,u,v} = t R^{n+1}_{t-1,u,v} + X_PQ R^{n+1}_{t,u,v}   (likewise for u and v).
// The contraction is ordered so that the ket's primitives are summed at the Hermite level of the bra
// (W below) before the bra's E coefficients are applied once per bra primitive pair.
//
// Cartesian components follow PySCF's order (a from l down to 0, then c up from 0; b = l - a - c), and a
// shell's functions are x^a y^b z^c sum_p c_p exp(-alpha_p r^2): the coefficients carry every
// normalisation factor (qpt.system.basis.BasisShells), so these are PySCF's cartesian integrals.
#pragma once

#include "qpt/boys.h"
#include "qpt/host_device.h"

namespace qpt {

// Highest angular momentum of the integral-direct engine (f functions).
constexpr int kEriMaxAngular = 3;
constexpr int kEriMaxCartesian = (kEriMaxAngular + 1) * (kEriMaxAngular + 2) / 2;
constexpr int kEriMaxPairL = 2 * kEriMaxAngular;
constexpr int kEriMaxTotalL = 4 * kEriMaxAngular;
// Hermite indices (t, u, v) of a pair live in a cube of side pair L + 1; R's in a cube of side total L + 1.
constexpr int kEriPairCube = (kEriMaxPairL + 1) * (kEriMaxPairL + 1) * (kEriMaxPairL + 1);
constexpr int kEriTotalCube = (kEriMaxTotalL + 1) * (kEriMaxTotalL + 1) * (kEriMaxTotalL + 1);
constexpr int kEriMaxQuartet = kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian * kEriMaxCartesian;
// Most primitives per shell (def2 and cc-pVXZ bases have at most 12); the handlers reject more.
constexpr int kEriMaxPrimitives = 16;

static_assert(kEriMaxTotalL <= kBoysMaxOrder, "the Boys function must reach the highest total L");

// One contracted shell: centre, angular momentum and its primitives (coefficients normalised).
struct EriShell {
  double center[3];
  const double* exponents;
  const double* coefficients;
  int nprim;
  int l;
};

// 1D Hermite coefficients e[i][j][t] (i <= la, j <= lb, t <= i + j) of a primitive pair.
using HermiteTable = double[kEriMaxAngular + 1][kEriMaxAngular + 1][kEriMaxPairL + 1];

// What the quartet loop needs of one ket primitive pair, computed once per quartet rather than once per
// bra primitive pair: exponent sum q, centre Q, c_c c_d exp(-cd/q |CD|^2), and E with the ket's sign
// (-1)^tau folded in.
struct KetPrimitivePair {
  double q;
  double center[3];
  double weight;
  HermiteTable signed_e[3];
};

// Working memory of one quartet evaluation (about 1 MB): owned per thread/lane by the caller.
// Hermite terms of a pair's cartesian products: E^ab_tuv = E^x_t E^y_u E^z_v is nonzero for t <= a_x + b_x
// (likewise u, v), at most 3 x 3 x 3 terms per product for l <= 3. Flat term lists turn the nested small
// loops over (t, u, v) into one loop per product.
constexpr int kEriMaxPairTerms = kEriMaxCartesian * kEriMaxCartesian * 27;

struct PairTerms {
  int start[kEriMaxCartesian * kEriMaxCartesian + 1];  // terms of product k: start[k] .. start[k+1]-1
  int offset[kEriMaxPairTerms];     // where the term's (t, u, v) sits in a cube (R's for the ket, W's for the bra)
  int source[kEriMaxPairTerms][3];  // flat indices of E^x_t, E^y_u, E^z_v in the pair's HermiteTables
  double coefficient[kEriMaxPairTerms];
};

struct EriScratch {
  const double* boys_table;  // boys_table_fill's table, or null for the series
  KetPrimitivePair ket[kEriMaxPrimitives * kEriMaxPrimitives];
  PairTerms bra_terms, ket_terms;
  int bra_hermite[kEriPairCube];     // R offset of each bra (t, u, v), t+u+v <= la+lb, in W row order
  int hermite_row[kEriPairCube];     // W row of each bra (t, u, v) by its cube index
  double w[kEriMaxCartesian * kEriMaxCartesian * kEriPairCube];  // [bra Hermite (t,u,v)][ket cart pair]
  double r[2][kEriTotalCube];                                    // R^n and R^(n+1)
  double cart[kEriMaxQuartet];                                   // [a][b][c][d] cartesian integrals
  double transformed[kEriMaxQuartet];                            // spherical transform buffers
};

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

// R_tuv (n = 0) for t + u + v <= total_l into r[0], cube of side total_l + 1; r[1] is work space.
QPT_HD void hermite_coulomb(int total_l, double alpha, const double* pq, EriScratch& s) {
  double boys[kBoysMaxOrder + 1];
  boys_function(total_l, alpha * (pq[0] * pq[0] + pq[1] * pq[1] + pq[2] * pq[2]), boys, s.boys_table);
  const int side = total_l + 1;
  double factor = 1.0;  // (-2 alpha)^n
  for (int n = 0; n < total_l; ++n) factor *= -2.0 * alpha;
  for (int n = total_l; n >= 0; --n) {
    double* current = s.r[n & 1];
    const double* previous = s.r[(n + 1) & 1];
    current[0] = factor * boys[n];
    const int top = total_l - n;
    for (int t = 0; t <= top; ++t) {
      for (int u = 0; u <= top - t; ++u) {
        for (int v = 0; v <= top - t - u; ++v) {
          if (t + u + v == 0) continue;
          double value;
          if (t > 0) {
            value = pq[0] * previous[((t - 1) * side + u) * side + v];
            if (t > 1) value += (t - 1) * previous[((t - 2) * side + u) * side + v];
          } else if (u > 0) {
            value = pq[1] * previous[(u - 1) * side + v];
            if (u > 1) value += (u - 1) * previous[(u - 2) * side + v];
          } else {
            value = pq[2] * previous[v - 1];
            if (v > 1) value += (v - 1) * previous[v - 2];
          }
          current[(t * side + u) * side + v] = value;
        }
      }
    }
    if (n > 0) factor /= -2.0 * alpha;
  }
}

// The Hermite term list of every cartesian product of a pair (la, lb); term (t, u, v) of a product gets the
// cube offset (t * side + u) * side + v.
QPT_HD void pair_terms(int la, int lb, int side, PairTerms& terms) {
  constexpr int kTableJ = kEriMaxPairL + 1, kTableI = (kEriMaxAngular + 1) * kTableJ;
  const int na = (la + 1) * (la + 2) / 2, nb = (lb + 1) * (lb + 2) / 2;
  int count = 0;
  for (int a = 0; a < na; ++a) {
    int pa[3];
    cartesian_powers(la, a, pa);
    for (int b = 0; b < nb; ++b) {
      int pb[3];
      cartesian_powers(lb, b, pb);
      terms.start[a * nb + b] = count;
      for (int t = 0; t <= pa[0] + pb[0]; ++t) {
        for (int u = 0; u <= pa[1] + pb[1]; ++u) {
          for (int v = 0; v <= pa[2] + pb[2]; ++v) {
            terms.offset[count] = (t * side + u) * side + v;
            terms.source[count][0] = pa[0] * kTableI + pb[0] * kTableJ + t;
            terms.source[count][1] = pa[1] * kTableI + pb[1] * kTableJ + u;
            terms.source[count][2] = pa[2] * kTableI + pb[2] * kTableJ + v;
            ++count;
          }
        }
      }
    }
  }
  terms.start[na * nb] = count;
}

// coefficient = scale E^x_t E^y_u E^z_v for every term, from the pair's three HermiteTables.
QPT_HD void pair_term_coefficients(const HermiteTable* e, double scale, PairTerms& terms, int count) {
  const double* ex = &e[0][0][0][0];
  const double* ey = &e[1][0][0][0];
  const double* ez = &e[2][0][0][0];
  for (int k = 0; k < count; ++k) {
    terms.coefficient[k] = scale * ex[terms.source[k][0]] * ey[terms.source[k][1]] * ez[terms.source[k][2]];
  }
}

// s.cart[((a * nb + b) * nc + c) * nd + d] = (ab|cd) over the cartesian components of the four shells.
QPT_HD void eri_quartet_cartesian(const EriShell& sa, const EriShell& sb, const EriShell& sc, const EriShell& sd,
                                  EriScratch& s) {
  constexpr double kTwoPiToFiveHalves = 34.98683665524972;  // 2 pi^(5/2)
  const int la = sa.l, lb = sb.l, lc = sc.l, ld = sd.l;
  const int nab = (la + 1) * (la + 2) / 2 * ((lb + 1) * (lb + 2) / 2);
  const int ncd = (lc + 1) * (lc + 2) / 2 * ((ld + 1) * (ld + 2) / 2);
  const int lab = la + lb, total_l = lab + lc + ld;
  const int pair_side = lab + 1, total_side = total_l + 1;

  pair_terms(la, lb, pair_side, s.bra_terms);
  pair_terms(lc, ld, total_side, s.ket_terms);
  const int bra_count = s.bra_terms.start[nab], ket_terms = s.ket_terms.start[ncd];
  int bra_hermite_count = 0;
  for (int t = 0; t <= lab; ++t) {
    for (int u = 0; u <= lab - t; ++u) {
      for (int v = 0; v <= lab - t - u; ++v) {
        s.hermite_row[(t * pair_side + u) * pair_side + v] = bra_hermite_count;
        s.bra_hermite[bra_hermite_count] = (t * total_side + u) * total_side + v;
        ++bra_hermite_count;
      }
    }
  }
  // Bra terms address W rows, which hold only the (t, u, v) with t+u+v <= la+lb (zeroed per bra pair).
  for (int k = 0; k < bra_count; ++k) s.bra_terms.offset[k] = s.hermite_row[s.bra_terms.offset[k]];

  double ab[3], cd[3];
  for (int x = 0; x < 3; ++x) {
    ab[x] = sa.center[x] - sb.center[x];
    cd[x] = sc.center[x] - sd.center[x];
  }
  const double ab2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  const double cd2 = cd[0] * cd[0] + cd[1] * cd[1] + cd[2] * cd[2];

  for (int k = 0; k < nab * ncd; ++k) s.cart[k] = 0.0;

  int ket_count = 0;
  for (int pc = 0; pc < sc.nprim; ++pc) {
    for (int pd = 0; pd < sd.nprim; ++pd) {
      KetPrimitivePair& ket = s.ket[ket_count++];
      const double alpha_c = sc.exponents[pc], alpha_d = sd.exponents[pd];
      ket.q = alpha_c + alpha_d;
      ket.weight = sc.coefficients[pc] * sd.coefficients[pd] * exp(-alpha_c * alpha_d / ket.q * cd2);
      for (int x = 0; x < 3; ++x) {
        ket.center[x] = (alpha_c * sc.center[x] + alpha_d * sd.center[x]) / ket.q;
        hermite_coefficients(lc, ld, 0.5 / ket.q, ket.center[x] - sc.center[x], ket.center[x] - sd.center[x],
                             ket.signed_e[x]);
        for (int i = 0; i <= lc; ++i)
          for (int j = 0; j <= ld; ++j)
            for (int t = 1; t <= i + j; t += 2) ket.signed_e[x][i][j][t] = -ket.signed_e[x][i][j][t];
      }
    }
  }

  HermiteTable e_bra[3];
  for (int pa = 0; pa < sa.nprim; ++pa) {
    for (int pb = 0; pb < sb.nprim; ++pb) {
      const double alpha_a = sa.exponents[pa], alpha_b = sb.exponents[pb];
      const double p = alpha_a + alpha_b;
      const double k_ab = sa.coefficients[pa] * sb.coefficients[pb] * exp(-alpha_a * alpha_b / p * ab2);
      double center_p[3];
      for (int x = 0; x < 3; ++x) {
        center_p[x] = (alpha_a * sa.center[x] + alpha_b * sb.center[x]) / p;
        hermite_coefficients(la, lb, 0.5 / p, center_p[x] - sa.center[x], center_p[x] - sb.center[x], e_bra[x]);
      }
      for (int k = 0; k < bra_hermite_count * ncd; ++k) s.w[k] = 0.0;

      for (int k = 0; k < ket_count; ++k) {
        const KetPrimitivePair& ket = s.ket[k];
        const double q = ket.q;
        double pq[3];
        for (int x = 0; x < 3; ++x) pq[x] = center_p[x] - ket.center[x];
        const double alpha = p * q / (p + q);
        hermite_coulomb(total_l, alpha, pq, s);
        pair_term_coefficients(ket.signed_e, kTwoPiToFiveHalves / (p * q * sqrt(p + q)) * k_ab * ket.weight,
                               s.ket_terms, ket_terms);
        const double* r = s.r[0];
        const int* ket_start = s.ket_terms.start;
        const int* ket_offset = s.ket_terms.offset;
        const double* ket_coefficient = s.ket_terms.coefficient;

        // W[tuv][cd] += prefactor sum_{tau nu phi} (-1)^(tau+nu+phi) E^cd_{tau nu phi} R_{t+tau,u+nu,v+phi}
        for (int h = 0; h < bra_hermite_count; ++h) {
          double* w_row = s.w + h * ncd;
          const double* r_base = r + s.bra_hermite[h];
          for (int cd_index = 0; cd_index < ncd; ++cd_index) {
            double sum = 0.0;
            for (int term = ket_start[cd_index]; term < ket_start[cd_index + 1]; ++term) {
              sum += ket_coefficient[term] * r_base[ket_offset[term]];
            }
            w_row[cd_index] += sum;
          }
        }
      }

      // cart[ab][cd] += sum_tuv E^ab_tuv W[tuv][cd]
      pair_term_coefficients(e_bra, 1.0, s.bra_terms, bra_count);
      for (int ab_index = 0; ab_index < nab; ++ab_index) {
        double* out = s.cart + ab_index * ncd;
        for (int term = s.bra_terms.start[ab_index]; term < s.bra_terms.start[ab_index + 1]; ++term) {
          const double coefficient = s.bra_terms.coefficient[term];
          const double* w_row = s.w + s.bra_terms.offset[term] * ncd;
          for (int cd_index = 0; cd_index < ncd; ++cd_index) out[cd_index] += coefficient * w_row[cd_index];
        }
      }
    }
  }
}

}  // namespace qpt
