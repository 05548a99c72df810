// Marks functions that both the CPU drivers and the CUDA kernels run, so the CPU tests
// exercise exactly the math the GPU executes.
#pragma once

#if defined(__CUDACC__)
#define QPT_HD __host__ __device__ __forceinline__
#else
#define QPT_HD inline
#endif
