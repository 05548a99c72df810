// check_basis_values for the CUDA handlers: the basis arrays live on the device, so they are copied to the
// host first (a few kB: nshell x 3 centres and nprim exponents and coefficients per geometry) and the stream
// is synchronised, the price of refusing bad values before a kernel reads them.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "ffi/basis_values.h"

namespace qpt::ffi_shapes {

template <typename T>
xla::ffi::Error check_device_basis_typed(const std::string& op, cudaStream_t stream,
                                         const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                         const xla::ffi::AnyBuffer& coefficients) {
  std::vector<T> c(centers.element_count()), e(exponents.element_count()), k(coefficients.element_count());
  cudaMemcpyAsync(c.data(), centers.untyped_data(), sizeof(T) * c.size(), cudaMemcpyDeviceToHost, stream);
  cudaMemcpyAsync(e.data(), exponents.untyped_data(), sizeof(T) * e.size(), cudaMemcpyDeviceToHost, stream);
  cudaMemcpyAsync(k.data(), coefficients.untyped_data(), sizeof(T) * k.size(), cudaMemcpyDeviceToHost, stream);
  if (const cudaError_t status = cudaStreamSynchronize(stream); status != cudaSuccess) {
    return xla::ffi::Error::Internal(op + " (CUDA): copying the basis to the host failed: " +
                                     cudaGetErrorString(status));
  }
  return check_basis_values<T>(op, {c.data(), static_cast<int64_t>(c.size()), e.data(),
                                    static_cast<int64_t>(e.size()), k.data(), static_cast<int64_t>(k.size())});
}

inline xla::ffi::Error check_device_basis(const std::string& op, cudaStream_t stream,
                                          const xla::ffi::AnyBuffer& centers, const xla::ffi::AnyBuffer& exponents,
                                          const xla::ffi::AnyBuffer& coefficients) {
  if (exponents.element_type() == xla::ffi::DataType::F64) {
    return check_device_basis_typed<double>(op, stream, centers, exponents, coefficients);
  }
  return check_device_basis_typed<float>(op, stream, centers, exponents, coefficients);
}

}  // namespace qpt::ffi_shapes
