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

static_assert(kEriMaxTotalL <= kBoysMaxOrder, "the Boys function must reach the highest total L");

// One contracted shell: centre, angular momentum and its primitives (coefficients normalised).
struct EriShell {
  double center[3];
  const double* exponents;
  const double* coefficients;
  int nprim;
  int l;
};

// Working memory of one quartet evaluation (about 200 kB): owned per thread/lane by the caller.
struct EriScratch {
  double w[kEriMaxCartesian * kEriMaxCartesian * kEriPairCube];  // [ket cart pair][bra Hermite cube]
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

// 1D Hermite coefficients e[i][j][t] (i <= la, j <= lb, t <= i + j) of a primitive pair without the
// exp(-ab/p X_AB^2) factor:
//   E^{i+1,j}_t = E^{ij}_{t-1} / (2p) + X_PA E^{ij}_t + (t+1) E^{ij}_{t+1}, and likewise in j with X_PB.
using HermiteTable = double[kEriMaxAngular + 1][kEriMaxAngular + 1][kEriMaxPairL + 1];

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
  boys_function(total_l, alpha * (pq[0] * pq[0] + pq[1] * pq[1] + pq[2] * pq[2]), boys);
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

// s.cart[((a * nb + b) * nc + c) * nd + d] = (ab|cd) over the cartesian components of the four shells.
QPT_HD void eri_quartet_cartesian(const EriShell& sa, const EriShell& sb, const EriShell& sc, const EriShell& sd,
                                  EriScratch& s) {
  constexpr double kTwoPiToFiveHalves = 34.98683665524972;  // 2 pi^(5/2)
  const int la = sa.l, lb = sb.l, lc = sc.l, ld = sd.l;
  const int na = (la + 1) * (la + 2) / 2, nb = (lb + 1) * (lb + 2) / 2;
  const int nc = (lc + 1) * (lc + 2) / 2, nd = (ld + 1) * (ld + 2) / 2;
  const int lab = la + lb, lcd = lc + ld, total_l = lab + lcd;
  const int pair_side = lab + 1, total_side = total_l + 1;
  const int pair_cube = pair_side * pair_side * pair_side;
  const int ncd = nc * nd, nab = na * nb;

  int powers_a[kEriMaxCartesian][3], powers_b[kEriMaxCartesian][3];
  int powers_c[kEriMaxCartesian][3], powers_d[kEriMaxCartesian][3];
  for (int k = 0; k < na; ++k) cartesian_powers(la, k, powers_a[k]);
  for (int k = 0; k < nb; ++k) cartesian_powers(lb, k, powers_b[k]);
  for (int k = 0; k < nc; ++k) cartesian_powers(lc, k, powers_c[k]);
  for (int k = 0; k < nd; ++k) cartesian_powers(ld, k, powers_d[k]);

  double ab[3], cd[3];
  for (int x = 0; x < 3; ++x) {
    ab[x] = sa.center[x] - sb.center[x];
    cd[x] = sc.center[x] - sd.center[x];
  }
  const double ab2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  const double cd2 = cd[0] * cd[0] + cd[1] * cd[1] + cd[2] * cd[2];

  for (int k = 0; k < nab * ncd; ++k) s.cart[k] = 0.0;

  HermiteTable e_bra[3], e_ket[3];
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
      for (int k = 0; k < ncd * pair_cube; ++k) s.w[k] = 0.0;

      for (int pc = 0; pc < sc.nprim; ++pc) {
        for (int pd = 0; pd < sd.nprim; ++pd) {
          const double alpha_c = sc.exponents[pc], alpha_d = sd.exponents[pd];
          const double q = alpha_c + alpha_d;
          const double k_cd = sc.coefficients[pc] * sd.coefficients[pd] * exp(-alpha_c * alpha_d / q * cd2);
          double pq[3];
          for (int x = 0; x < 3; ++x) {
            const double center_q = (alpha_c * sc.center[x] + alpha_d * sd.center[x]) / q;
            hermite_coefficients(lc, ld, 0.5 / q, center_q - sc.center[x], center_q - sd.center[x], e_ket[x]);
            pq[x] = center_p[x] - center_q;
          }
          const double alpha = p * q / (p + q);
          const double prefactor = kTwoPiToFiveHalves / (p * q * sqrt(p + q)) * k_ab * k_cd;
          hermite_coulomb(total_l, alpha, pq, s);
          const double* r = s.r[0];

          // W[cd][tuv] += prefactor sum_{tau nu phi} (-1)^(tau+nu+phi) E^cd_{tau nu phi} R_{t+tau,u+nu,v+phi}
          for (int c = 0; c < nc; ++c) {
            for (int d = 0; d < nd; ++d) {
              const int* pc3 = powers_c[c];
              const int* pd3 = powers_d[d];
              const double* ex = e_ket[0][pc3[0]][pd3[0]];
              const double* ey = e_ket[1][pc3[1]][pd3[1]];
              const double* ez = e_ket[2][pc3[2]][pd3[2]];
              const int tx = pc3[0] + pd3[0], ty = pc3[1] + pd3[1], tz = pc3[2] + pd3[2];
              double* w = s.w + (c * nd + d) * pair_cube;
              for (int t = 0; t <= lab; ++t) {
                for (int u = 0; u <= lab - t; ++u) {
                  for (int v = 0; v <= lab - t - u; ++v) {
                    double sum = 0.0;
                    for (int tau = 0; tau <= tx; ++tau) {
                      double sum_y = 0.0;
                      for (int nu = 0; nu <= ty; ++nu) {
                        const double* r_row = r + ((t + tau) * total_side + (u + nu)) * total_side + v;
                        double sum_z = 0.0;
                        for (int phi = 0; phi <= tz; ++phi) {
                          sum_z += ((phi & 1) ? -ez[phi] : ez[phi]) * r_row[phi];
                        }
                        sum_y += ((nu & 1) ? -ey[nu] : ey[nu]) * sum_z;
                      }
                      sum += ((tau & 1) ? -ex[tau] : ex[tau]) * sum_y;
                    }
                    w[(t * pair_side + u) * pair_side + v] += prefactor * sum;
                  }
                }
              }
            }
          }
        }
      }

      // cart[ab][cd] += sum_tuv E^ab_tuv W[cd][tuv]
      for (int a = 0; a < na; ++a) {
        for (int b = 0; b < nb; ++b) {
          const int* pa3 = powers_a[a];
          const int* pb3 = powers_b[b];
          const double* ex = e_bra[0][pa3[0]][pb3[0]];
          const double* ey = e_bra[1][pa3[1]][pb3[1]];
          const double* ez = e_bra[2][pa3[2]][pb3[2]];
          const int tx = pa3[0] + pb3[0], ty = pa3[1] + pb3[1], tz = pa3[2] + pb3[2];
          double* out = s.cart + (a * nb + b) * ncd;
          for (int k = 0; k < ncd; ++k) {
            const double* w = s.w + k * pair_cube;
            double sum = 0.0;
            for (int t = 0; t <= tx; ++t) {
              double sum_y = 0.0;
              for (int u = 0; u <= ty; ++u) {
                const double* w_row = w + (t * pair_side + u) * pair_side;
                double sum_z = 0.0;
                for (int v = 0; v <= tz; ++v) sum_z += ez[v] * w_row[v];
                sum_y += ey[u] * sum_z;
              }
              sum += ex[t] * sum_y;
            }
            out[k] += sum;
          }
        }
      }
    }
  }
}

}  // namespace qpt
