// Values and gradients of the contracted Gaussian AOs of one shell at one point.
//
// A shell (see qpt.system.basis.BasisShells) has angular momentum l and the radial function
//   R(r^2) = sum_p c_p exp(-alpha_p r^2);
// its cartesian functions are x^a y^b z^c R (a+b+c = l, PySCF order: a from l down to 0, then c up),
// with x, y, z measured from the centre. With S = dR/d(r^2) * 2 = sum_p -2 alpha_p c_p exp(-alpha_p r^2),
//   d/dx [x^a y^b z^c R] = y^b z^c (a x^(a-1) R + x^(a+1) S)   (and likewise for y, z).
// Spherical functions are the cartesian ones times PySCF's cart -> spherical matrix of l, which the caller
// passes as a table (qpt.ops.basis.cart_to_sph_matrix for l = 0 .. kAoMaxAngular, concatenated, each
// [ncart(l), nsph(l)] row-major). For l <= 1 those matrices are the identity, so they are skipped.
#pragma once

#include <cstdint>

#include "qpt/fast_exp.h"
#include "qpt/host_device.h"

// The CPU loops over grid points vectorise only if the per-point evaluation is inlined into them, which
// GCC's size heuristics refuse for the larger shells unless told.
// The same goes for unrolling the small loops over cartesian components inside it.
#if defined(__CUDACC__)
#define QPT_GTO_INLINE  // QPT_HD already force-inlines
#elif defined(__GNUC__)
#define QPT_GTO_INLINE __attribute__((always_inline))
#else
#define QPT_GTO_INLINE
#endif
#if defined(__CUDA_ARCH__)
#define QPT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && !defined(__CUDACC__)  // (nvcc's host pass of a .cu file runs no CPU hot loops)
#define QPT_UNROLL _Pragma("GCC unroll 16")
#else
#define QPT_UNROLL
#endif

namespace qpt {

// Highest angular momentum the AO evaluation and its cart -> spherical table cover (g functions, as in
// cc-pVQZ): the grid kernels' limit. The ERI engine has its own, lower one (kEriMaxAngular, eri_md.h).
constexpr int kAoMaxAngular = 4;

QPT_HD constexpr int cartesian_count(int l) { return (l + 1) * (l + 2) / 2; }
QPT_HD constexpr int spherical_count(int l) { return 2 * l + 1; }

// Where the [ncart(l), nsph(l)] block of l starts in the concatenated cart -> spherical table.
QPT_HD constexpr int64_t sph_table_offset(int l) {
  int64_t offset = 0;
  for (int k = 0; k < l; ++k) offset += cartesian_count(k) * spherical_count(k);
  return offset;
}

// Length of the whole table, l = 0 .. kAoMaxAngular.
constexpr int64_t kSphTableSize = sph_table_offset(kAoMaxAngular + 1);

// Adds one primitive c exp(-alpha r^2) to the radial value and to its slope S (see above).
template <typename T>
QPT_HD void add_primitive(T coefficient, T alpha, T r2, T& radial, T& slope) {
  const T term = coefficient * exp_nonpositive(-alpha * r2);
  radial += term;
  slope += T(-2) * alpha * term;
}

// cart[0][k] is the value of cartesian function k, cart[1..3][k] its x, y, z derivatives.
template <int L, typename T>
QPT_HD QPT_GTO_INLINE void cartesian_values(T x, T y, T z, T radial, T slope, T (&cart)[4][cartesian_count(L)]) {
  T xp[L + 2], yp[L + 2], zp[L + 2];
  xp[0] = yp[0] = zp[0] = T(1);
  QPT_UNROLL
  for (int k = 1; k <= L + 1; ++k) {
    xp[k] = xp[k - 1] * x;
    yp[k] = yp[k - 1] * y;
    zp[k] = zp[k - 1] * z;
  }
  int k = 0;
  QPT_UNROLL
  for (int a = L; a >= 0; --a) {
  QPT_UNROLL
    for (int c = 0; c <= L - a; ++c, ++k) {
      const int b = L - a - c;
      const T yz = yp[b] * zp[c], xz = xp[a] * zp[c], xy = xp[a] * yp[b];
      cart[0][k] = xp[a] * yz * radial;
      cart[1][k] = yz * ((a > 0 ? T(a) * xp[a > 0 ? a - 1 : 0] : T(0)) * radial + xp[a + 1] * slope);
      cart[2][k] = xz * ((b > 0 ? T(b) * yp[b > 0 ? b - 1 : 0] : T(0)) * radial + yp[b + 1] * slope);
      cart[3][k] = xy * ((c > 0 ? T(c) * zp[c > 0 ? c - 1 : 0] : T(0)) * radial + zp[c + 1] * slope);
    }
  }
}

// Number of AOs of a shell with angular momentum l.
QPT_HD constexpr int shell_width(int l, bool spherical) {
  return spherical ? spherical_count(l) : cartesian_count(l);
}

// Values and x, y, z derivatives of the shell's AOs at offset (x, y, z) from its centre, given the
// radial value and slope there: out[comp * comp_stride + f * function_stride] for comp = 0 (value),
// 1..3 (d/dx, d/dy, d/dz) and f < shell_width(L, Spherical). `sph_table` is the whole concatenated
// table. Branch-free for fixed L and Spherical, so a CPU loop over points around it vectorises.
template <int L, bool Spherical, typename T>
QPT_HD QPT_GTO_INLINE void shell_point_values(T x, T y, T z, T radial, T slope, const T* sph_table, T* out,
                                              int64_t comp_stride, int64_t function_stride) {
  constexpr int ncart = cartesian_count(L);
  T cart[4][ncart];
  cartesian_values<L>(x, y, z, radial, slope, cart);
  if constexpr (L <= 1 || !Spherical) {
  QPT_UNROLL
    for (int comp = 0; comp < 4; ++comp) {
  QPT_UNROLL
      for (int f = 0; f < ncart; ++f) out[comp * comp_stride + f * function_stride] = cart[comp][f];
    }
  } else {
    constexpr int nsph = spherical_count(L);
    const T* matrix = sph_table + sph_table_offset(L);
  QPT_UNROLL
    for (int m = 0; m < nsph; ++m) {
      T sum[4] = {T(0), T(0), T(0), T(0)};
  QPT_UNROLL
      for (int f = 0; f < ncart; ++f) {
        const T weight = matrix[f * nsph + m];
  QPT_UNROLL
        for (int comp = 0; comp < 4; ++comp) sum[comp] += weight * cart[comp][f];
      }
  QPT_UNROLL
      for (int comp = 0; comp < 4; ++comp) out[comp * comp_stride + m * function_stride] = sum[comp];
    }
  }
}

// Dispatches on l and the spherical flag at run time (l <= kAoMaxAngular, checked by the argument checks).
template <typename T>
QPT_HD void shell_point_values(int l, bool spherical, T x, T y, T z, T radial, T slope, const T* sph_table,
                               T* out, int64_t comp_stride, int64_t function_stride) {
#define QPT_SHELL_CASE(L)                                                                                    \
  case L:                                                                                                    \
    if (spherical) {                                                                                         \
      shell_point_values<L, true>(x, y, z, radial, slope, sph_table, out, comp_stride, function_stride);    \
    } else {                                                                                                 \
      shell_point_values<L, false>(x, y, z, radial, slope, sph_table, out, comp_stride, function_stride);   \
    }                                                                                                        \
    break;
  switch (l) {
    QPT_SHELL_CASE(0)
    QPT_SHELL_CASE(1)
    QPT_SHELL_CASE(2)
    QPT_SHELL_CASE(3)
    QPT_SHELL_CASE(4)
    default: break;
  }
#undef QPT_SHELL_CASE
}

}  // namespace qpt
