// exp(x) for x <= 0, written so that GCC vectorises loops that call it.
//
// A call to libm's exp stops the vectoriser unless the whole file is built with -ffast-math, and the
// radial parts of the AOs (one exp per primitive and grid point) would then run one point at a time.
// This is the textbook reduction x = k ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series (enough terms
// for a truncation error below half an ulp) and 2^k assembled in the exponent bits; branch-free, so
// the compiler turns it into vector code; within 3 ulp of libm. Arguments below -708 (-87 in float32,
// where results stop being normal numbers) give 0.
// On the GPU the device's own exp is as fast, so it is used there.
#pragma once

#include <cstdint>
#include <cstring>

#include "qpt/host_device.h"

namespace qpt {
namespace detail {

template <typename T>
struct ExpConstants;

template <>
struct ExpConstants<double> {
  using Bits = uint64_t;
  static constexpr int mantissa_bits = 52;
  static constexpr Bits exponent_bias = 1023;
  static constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  static constexpr double log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // fdlibm's split of ln 2
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double min_argument = -708.0;  // exp(-708) is still a normal double
  static constexpr int terms = 13;                // r^13/13! < 2e-16 for |r| <= ln2/2
};

template <>
struct ExpConstants<float> {
  using Bits = uint32_t;
  static constexpr int mantissa_bits = 23;
  static constexpr Bits exponent_bias = 127;
  static constexpr float shifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr float log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693145751953125f;
  static constexpr float ln2_lo = 1.428606765330187045e-06f;
  static constexpr float min_argument = -87.0f;
  static constexpr int terms = 8;  // r^8/8! < 6e-9 for |r| <= ln2/2
};

}  // namespace detail

template <typename T>
QPT_HD T exp_nonpositive(T x) {
#if defined(__CUDA_ARCH__)
  return exp(x);
#else
  using C = detail::ExpConstants<T>;
  using Bits = typename C::Bits;
  const bool underflows = x < C::min_argument;
  const T clamped = underflows ? T(C::min_argument) : x;
  const T shifted = clamped * C::log2e + C::shifter;  // k + shifter, k = round(x / ln 2)
  const T k = shifted - C::shifter;
  const T r = (clamped - k * C::ln2_hi) - k * C::ln2_lo;
  // exp(r) = 1 + r (1 + r/2 (1 + r/3 (...))), innermost term first.
  T series = T(1);
  for (int n = C::terms - 1; n >= 1; --n) series = T(1) + series * r * T(1.0 / n);
  Bits bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  // The low bits of `shifted` hold k; shifting them into the exponent field drops the rest.
  bits = (bits + C::exponent_bias) << C::mantissa_bits;
  T scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return underflows ? T(0) : series * scale;
#endif
}

}  // namespace qpt
