// Screening of AO evaluation on the grid: which shells (and which of their primitives) can matter for a
// block of grid points.
//
// For a primitive c exp(-alpha r^2) of a shell with angular momentum l, every cartesian function and each
// of its three derivatives is bounded at distance r from the centre by
//   b(r) = |c| (r^l + l r^(l-1) + 2 alpha r^(l+1)) exp(-alpha r^2)
// (|x^a y^b z^c| <= r^l, and the derivative formula of gto_eval.h), and a spherical function by
// `spherical_norm(l)` times that (the largest column 1-norm of the cart -> spherical matrix).
// Each primitive gets the radius beyond which its bound stays below threshold / nprim, so beyond the
// largest of them (the shell's radius) every AO value and gradient component of the shell is below the
// threshold. A block of points then skips a shell when the distance from the shell's centre to the
// block's bounding box exceeds the shell's radius, and a primitive likewise: the error of any AO value or
// gradient is below the threshold (an absolute bound; AOs are normalised, so O(1) near their centres).
#pragma once

#include <cmath>
#include <cstdint>

#include "qpt/gto_eval.h"
#include "qpt/host_device.h"

namespace qpt {

// The largest column 1-norm of l's cart -> spherical matrix (1 for cartesian AOs and for l <= 1).
template <typename T>
QPT_HD double spherical_norm(int l, bool spherical, const T* sph_table) {
  if (!spherical || l <= 1) return 1.0;
  const int ncart = cartesian_count(l), nsph = spherical_count(l);
  const T* matrix = sph_table + sph_table_offset(l);
  double largest = 0.0;
  for (int m = 0; m < nsph; ++m) {
    double norm = 0.0;
    for (int f = 0; f < ncart; ++f) norm += fabs(static_cast<double>(matrix[f * nsph + m]));
    largest = norm > largest ? norm : largest;
  }
  return largest;
}

// b(r) above, times `scale`.
QPT_HD double primitive_bound(double r, int l, double alpha, double scale) {
  double r_l = 1.0;
  for (int k = 0; k < l; ++k) r_l *= r;
  const double lower = l > 0 ? l * r_l / r : 0.0;
  return scale * (r_l + lower + 2.0 * alpha * r_l * r) * exp(-alpha * r * r);
}

// Squared radius beyond which scale * b(r) < threshold. b decreases for r > sqrt((l+1) / (2 alpha)), the
// maximum of its fastest-growing term, so the search starts there and bisects outwards. A threshold <= 0
// turns screening off (infinite radius).
QPT_HD double primitive_cutoff_radius2(int l, double alpha, double scale, double threshold) {
  if (!(threshold > 0.0)) return INFINITY;
  if (!(alpha > 0.0) || scale == 0.0) return scale == 0.0 ? 0.0 : INFINITY;
  double inner = sqrt((l + 1) / (2.0 * alpha));
  if (primitive_bound(inner, l, alpha, scale) < threshold) return inner * inner;
  double outer = 2.0 * inner;
  while (primitive_bound(outer, l, alpha, scale) >= threshold) {
    inner = outer;
    outer *= 2.0;
  }
  for (int step = 0; step < 60; ++step) {
    const double middle = 0.5 * (inner + outer);
    (primitive_bound(middle, l, alpha, scale) >= threshold ? inner : outer) = middle;
  }
  return outer * outer;
}

// Squared distance from `point` to the box [lower, upper] (0 inside it).
QPT_HD double box_distance2(const double (&lower)[3], const double (&upper)[3], double px, double py,
                            double pz) {
  const double p[3] = {px, py, pz};
  double sum = 0.0;
  for (int axis = 0; axis < 3; ++axis) {
    const double below = lower[axis] - p[axis], above = p[axis] - upper[axis];
    const double gap = below > 0.0 ? below : (above > 0.0 ? above : 0.0);
    sum += gap * gap;
  }
  return sum;
}

}  // namespace qpt
