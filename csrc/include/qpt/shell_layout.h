// The static layout of a basis as the grid kernels see it (from BasisShells' aux data): shell s has
// angular momentum angular[s], primitives prim_offsets[s] .. prim_offsets[s+1]-1 and AOs
// ao_offsets[s] .. ao_offsets[s+1]-1. Plain pointers to host memory owned by the caller.
#pragma once

#include <cstdint>

namespace qpt {

struct ShellLayout {
  const int64_t* angular;       // [nshell]
  const int64_t* prim_offsets;  // [nshell + 1]
  const int64_t* ao_offsets;    // [nshell + 1]
  int64_t nshell;
  int64_t nprim;
  int64_t nao;
  bool spherical;
};

}  // namespace qpt
