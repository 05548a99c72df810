// The Boys function F_m(T) = int_0^1 t^(2m) exp(-T t^2) dt, for m = 0..m_max at once, in double.
//
// Two regimes, no tables (so nvcc and the CPU compile the same few lines):
//  - T < kBoysSeriesLimit: the all-positive series
//        F_M(T) = exp(-T) sum_k (2T)^k / ((2M+1)(2M+3)...(2M+2k+1))
//    for the highest order M, then the downward recursion F_{m-1} = (2T F_m + exp(-T)) / (2m-1), which only
//    adds positive terms, so both steps keep full relative precision. The series needs about T + 40 terms.
//  - T >= kBoysSeriesLimit: F_0 = sqrt(pi/T) erf(sqrt(T)) / 2 and the upward recursion
//        F_{m+1} = ((2m+1) F_m - exp(-T)) / (2T),
//    which is stable while 2m+1 < 2T (errors are multiplied by (2m+1)/(2T) < 1 per step) and loses at most a
//    digit to the subtraction for m <= kBoysMaxOrder at the switch point (exp(-T) is then below 1e-13 of F_m).
// Measured against quadrature (tests/ops/test_eri_direct.py): relative error below 1e-14 for m <= 16.
#pragma once

#include <cmath>

#include "qpt/host_device.h"

namespace qpt {

// Highest order the callers need: 4 l_max for (ff|ff) is 12, plus spare orders for derivative integrals.
constexpr int kBoysMaxOrder = 16;
constexpr double kBoysSeriesLimit = 36.0;

// values[m] = F_m(T) for m = 0..m_max (m_max <= kBoysMaxOrder, T >= 0).
QPT_HD void boys_function(int m_max, double T, double* values) {
  const double exp_minus_t = exp(-T);
  if (T < kBoysSeriesLimit) {
    double term = 1.0 / (2 * m_max + 1), sum = term;
    const double two_t = 2.0 * T;
    for (int k = 1; k < 200; ++k) {
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

}  // namespace qpt
