// Broadcasting over leading batch dims, for the shape checks of every op (CPU and CUDA handlers alike).
//
// Each operand is [*batch, *core]: all operands have the same number of batch dims (as vmap's "expand_dims"
// method produces them), and per dim the sizes are equal or 1. The outputs are [*broadcast(batch), ...];
// every output is mapped to the flat batch index of each operand, so a kernel can serve all the outputs that
// share an operand (one geometry's integrals, one grid) in one pass. Only shapes are read here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace qpt::ffi_shapes {

using Dimensions = xla::ffi::AnyBuffer::Dimensions;

// A core dim that may have any size (checked elsewhere, or free, as cderi's naux).
constexpr int64_t kAnySize = -3;

inline std::string dims_text(const int64_t* dims, size_t count) {
  std::string text = "[";
  for (size_t a = 0; a < count; ++a) {
    text += (a ? ", " : "") + (dims[a] == kAnySize ? std::string("*") : std::to_string(dims[a]));
  }
  return text + "]";
}

inline std::string dims_text(Dimensions dims) { return dims_text(dims.begin(), dims.size()); }

// An operand: its name (for messages), its dims, and the trailing (core) dims it must have after its batch dims.
struct Operand {
  const char* name;
  Dimensions dims;
  std::vector<int64_t> core;
};

struct BatchLayout {
  std::vector<int64_t> dims;                // broadcast batch dims of the outputs
  std::vector<std::vector<int64_t>> index;  // [operand][output]: the operand's flat batch index
  std::vector<int64_t> count;               // [operand]: the operand's number of batch entries
  int64_t outputs = 1;
};

inline xla::ffi::Error batch_layout(const std::string& op, const std::vector<Operand>& operands, BatchLayout* layout) {
  using xla::ffi::Error;
  size_t lead = 0;
  for (size_t k = 0; k < operands.size(); ++k) {
    const Operand& o = operands[k];
    const size_t core = o.core.size();
    bool ok = o.dims.size() >= core;
    for (size_t a = 0; ok && a < core; ++a) {
      ok = o.core[a] == kAnySize || o.dims[o.dims.size() - core + a] == o.core[a];
    }
    if (!ok) {
      return Error::InvalidArgument(op + ": " + o.name + " must be [..., " +
                                    dims_text(o.core.data(), o.core.size()).substr(1) + ", got " + dims_text(o.dims));
    }
    if (k == 0) lead = o.dims.size() - core;
    if (o.dims.size() - core != lead) {
      return Error::InvalidArgument(op + ": all operands need the same number of batch dims (" + o.name + " has " +
                                    std::to_string(o.dims.size() - core) + ", expected " + std::to_string(lead) + ")");
    }
  }
  layout->dims.assign(lead, 1);
  for (size_t a = 0; a < lead; ++a) {
    for (const Operand& o : operands) {
      const int64_t size = o.dims[a];
      if (size == 1) continue;
      if (layout->dims[a] != 1 && layout->dims[a] != size) {
        return Error::InvalidArgument(op + ": batch dims do not broadcast (" + o.name + " is " + dims_text(o.dims) +
                                      ")");
      }
      layout->dims[a] = size;
    }
  }
  layout->outputs = 1;
  for (int64_t size : layout->dims) layout->outputs *= size;
  layout->index.assign(operands.size(), std::vector<int64_t>(layout->outputs, 0));
  layout->count.assign(operands.size(), 1);
  for (size_t k = 0; k < operands.size(); ++k) {
    for (size_t a = 0; a < lead; ++a) layout->count[k] *= operands[k].dims[a];
    for (int64_t out = 0; out < layout->outputs; ++out) {
      int64_t rest = out, index = 0, stride = 1;
      for (size_t a = lead; a-- > 0;) {
        const int64_t coordinate = rest % layout->dims[a];
        rest /= layout->dims[a];
        if (operands[k].dims[a] != 1) index += coordinate * stride;
        stride *= operands[k].dims[a];
      }
      layout->index[k][out] = index;
    }
  }
  return Error::Success();
}

// Checks an output is [batch..., core...].
inline xla::ffi::Error check_output(const std::string& op, const char* name, Dimensions dims,
                                    const std::vector<int64_t>& batch, const std::vector<int64_t>& core) {
  bool ok = dims.size() == batch.size() + core.size();
  for (size_t a = 0; ok && a < batch.size(); ++a) ok = dims[a] == batch[a];
  for (size_t a = 0; ok && a < core.size(); ++a) ok = dims[batch.size() + a] == core[a];
  if (!ok) {
    std::vector<int64_t> expected(batch);
    expected.insert(expected.end(), core.begin(), core.end());
    return xla::ffi::Error::InvalidArgument(op + ": output shape " + dims_text(dims) + " of " + name +
                                            " is wrong, expected " + dims_text(expected.data(), expected.size()));
  }
  return xla::ffi::Error::Success();
}

}  // namespace qpt::ffi_shapes
