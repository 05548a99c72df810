// Width of the vectors the CPU kernels write with the compiler's vector extension: as wide as the
// registers of the CPU they are built for (QPT_NATIVE_ARCH=OFF builds get SSE's 16 bytes; the arithmetic
// is the same at every width, only slower).
#pragma once

namespace qpt::cpu {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

}  // namespace qpt::cpu
