// The Boys function F_m(T) = int_0^1 t^(2m) exp(-T t^2) dt, for m = 0..m_max at once, in double.
//
// Two regimes, no tables (so nvcc and the CPU compile the same few lines):
//  - T < boys_series_limit(m_max): the all-positive series
//        F_M(T) = exp(-T) sum_k (2T)^k / ((2M+1)(2M+3)...(2M+2k+1))
//    for the highest order M, then the downward recursion F_{m-1} = (2T F_m + exp(-T)) / (2m-1), which only
//    adds positive terms, so both steps keep full relative precision. The series needs about T + 40 terms.
//  - otherwise: F_0 = sqrt(pi/T) erf(sqrt(T)) / 2 and the upward recursion
//        F_{m+1} = ((2m+1) F_m - exp(-T)) / (2T),
//    whose error is multiplied by (2m+1)/(2T) per step and which loses digits to the subtraction when exp(-T)
//    is not small against (2m+1) F_m. Measured in double against scipy's incomplete gamma, the relative
//    error stays below 3e-15 for T >= 1.05 (m_max <= 3), 4.7 (m_max = 8), 9.1 (12), 14 (16); the switch
//    point 3 + 1.5 m_max keeps a margin and spares the series (about T + 40 terms) where it is slowest.
// The series costs about 80 ns for T near the switch, which dominated the direct J/K of s-rich bases, so the
// kernels pass a table instead (boys_table_fill, 72 kB, built once on the host from the series itself): F_M
// at the nearest grid point T_i = i h (h = 0.1) expanded to 8th order,
//     F_M(T) = sum_k F_{M+k}(T_i) (T_i - T)^k / k!     (error below (h/2)^9 / 9! ~ 5e-18 relative),
// (each order from its own expansion). The table covers T < kBoysTableLimit = 36 for every order, so the hot
// path never calls erf; beyond it erf(sqrt(T)) = 1 - erfc(6) rounds to 1 and the upward recursion is cheap.
// Measured against closed forms (tests/ops/test_eri_direct.py): relative error below 2e-14 for m <= 16.
#pragma once

#include <cmath>

#include "qpt/host_device.h"

namespace qpt {

// Highest order the callers need: 4 l_max for (ff|ff) is 12, plus spare orders for derivative integrals.
constexpr int kBoysMaxOrder = 16;

QPT_HD double boys_series_limit(int m_max) { return 3.0 + 1.5 * m_max; }

constexpr int kBoysTaylorOrder = 8;
constexpr double kBoysGridStep = 0.1;
constexpr int kBoysTableOrders = kBoysMaxOrder + kBoysTaylorOrder + 1;
// Grid points T_i = 0 .. 36.1: the table serves every T < kBoysTableLimit (nearest point rounds up to 36.0).
constexpr double kBoysTableLimit = 36.0;
constexpr int kBoysGridPoints = 362;
constexpr int kBoysTableSize = kBoysGridPoints * kBoysTableOrders;

// values[m * stride] = F_m(T) for m = 0..m_max and T < kBoysTableLimit, from boys_table_fill's table: every
// order from its own Taylor series, m_max + 1 independent 9-term dot products, no exp and no division, so the
// orders evaluate in parallel (the downward recursion is a dependent chain of them). The powers come from a
// shallow product tree and each sum from two interleaved halves, keeping the dependency chains short: this
// sits at the head of every primitive quartet.
QPT_HD void boys_from_table(int m_max, double T, const double* table, double* values, int stride = 1) {
  // The index is clamped so that no T (negative, NaN, past the limit) reads outside the table; the handlers
  // refuse the inputs that would produce such a T (non-positive or non-finite exponents, non-finite centres).
  const double position = T * (1.0 / kBoysGridStep) + 0.5;
  const int point = position > 0.0 ? (position < kBoysGridPoints - 1 ? static_cast<int>(position) : kBoysGridPoints - 1)
                                    : 0;
  const double s1 = point * kBoysGridStep - T;
  const double* row = table + point * kBoysTableOrders;
  const double s2 = s1 * s1, s3 = s2 * s1, s4 = s2 * s2;
  const double power[kBoysTaylorOrder + 1] = {1.0,
                                              s1,
                                              s2 * (1.0 / 2),
                                              s3 * (1.0 / 6),
                                              s4 * (1.0 / 24),
                                              s4 * s1 * (1.0 / 120),
                                              s4 * s2 * (1.0 / 720),
                                              s4 * s3 * (1.0 / 5040),
                                              s4 * s4 * (1.0 / 40320)};
  static_assert(kBoysTaylorOrder == 8, "the power table above is written out for order 8");
  for (int m = 0; m <= m_max; ++m) {
    const double* f = row + m;
    const double even = (f[0] * power[0] + f[2] * power[2]) + (f[4] * power[4] + f[6] * power[6]) + f[8] * power[8];
    const double odd = (f[1] * power[1] + f[3] * power[3]) + (f[5] * power[5] + f[7] * power[7]);
    values[m * stride] = even + odd;
  }
}

// values[m] = F_m(T) for m = 0..m_max (m_max <= kBoysMaxOrder, T >= 0); `table` from boys_table_fill or null
// (series; the table's own source).
QPT_HD void boys_function(int m_max, double T, double* values, const double* table = nullptr) {
  if (table != nullptr && T < kBoysTableLimit) {
    boys_from_table(m_max, T, table, values);
    return;
  }
  const double exp_minus_t = exp(-T);
  if (T < boys_series_limit(m_max)) {
    double term = 1.0 / (2 * m_max + 1), sum = term;
    const double two_t = 2.0 * T;
    for (int k = 1; k < 300; ++k) {
      term *= two_t / (2 * m_max + 2 * k + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    values[m_max] = exp_minus_t * sum;
    for (int m = m_max; m > 0; --m) values[m - 1] = (two_t * values[m] + exp_minus_t) / (2 * m - 1);
    return;
  }
  const double sqrt_t = sqrt(T);
  values[0] = 0.886226925452758014 / sqrt_t * erf(sqrt_t);  // sqrt(pi)/2 / sqrt(T) erf(sqrt(T))
  const double half_over_t = 0.5 / T;
  for (int m = 0; m < m_max; ++m) values[m + 1] = ((2 * m + 1) * values[m] - exp_minus_t) * half_over_t;
}

// The table of boys_function: F_m(T_i) for m < kBoysTableOrders at T_i = i kBoysGridStep, from the series.
inline void boys_table_fill(double* table) {
  for (int point = 0; point < kBoysGridPoints; ++point) {
    const double T = point * kBoysGridStep;
    const double exp_minus_t = exp(-T);
    double* row = table + point * kBoysTableOrders;
    const int top = kBoysTableOrders - 1;
    double term = 1.0 / (2 * top + 1), sum = term;
    for (int k = 1; k < 300; ++k) {
      term *= 2.0 * T / (2 * top + 2 * k + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    row[top] = exp_minus_t * sum;
    for (int m = top; m > 0; --m) row[m - 1] = (2.0 * T * row[m] + exp_minus_t) / (2 * m - 1);
  }
}

}  // namespace qpt
