#!/usr/bin/env bash
# Usage: bash scripts/gpu_check.sh [OUT_DIR]        (default OUT_DIR: gpu-check/)
#
# Proves the CUDA kernels on a machine with an NVIDIA GPU, from nothing prepared: builds qpt with its
# CUDA module for this GPU's architecture only (one nvcc target keeps the build short) into a virtual
# environment, prints `qpt info`, runs the CUDA half of the test suite (`pytest -m cuda`: every op, dft
# and train test on the GPU, see tests/conftest.py), then prints one bench table (each op on the GPU vs
# the CPU kernel vs gpu4pyscf where it computes the same thing, and one training step) and writes it to
# OUT_DIR/gpu_bench.json. Meant to finish in about 8 minutes; each step prints its time.
# Without a GPU it says so and does nothing (exit 0). Exit status: that of the tests (1 if the build fails
# or JAX sees no GPU), the bench's failures are reported in its table.
#
# Environment: QPT_GPU_VENV (default .venv-gpu) is the environment, reused when it exists; pip's own
# PIP_INDEX_URL / PIP_FIND_LINKS / PIP_NO_INDEX select where packages come from (e.g. a wheelhouse).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/gpu-check}"
start=$(date +%s)
step() { echo; echo "gpu_check: $* ($(( $(date +%s) - start )) s so far)"; }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi finds none); nothing to check."
  exit 0
fi
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader
# "9.0" -> "90": this GPU's architecture, the only one nvcc builds for (real code, no PTX to JIT).
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "gpu_check: no nvcc (CUDA toolkit) found, so the CUDA module cannot be built; install CUDA >= 13" >&2
  exit 1
fi

venv="${QPT_GPU_VENV:-$root/.venv-gpu}"
step "building qpt with CUDA for sm_$arch into $venv"
CMAKE_ARGS="-DQPT_CUDA_ARCHITECTURES=${arch}-real ${CMAKE_ARGS:-}" QPT_ENABLE_CUDA=ON \
  bash "$root/scripts/install_venv.sh" "$venv" gpu,test
# gpu4pyscf is only a point of comparison for the bench (and GPL-licensed): optional, never a dependency.
if ! "$venv/bin/python" -m pip install --quiet gpu4pyscf-cuda13x; then
  echo "gpu_check: gpu4pyscf-cuda13x could not be installed; the bench table marks its column missing"
fi

step "qpt info"
"$venv/bin/qpt" info
if ! "$venv/bin/python" -c 'import jax, sys; sys.exit(not any(d.platform == "gpu" for d in jax.devices()))'; then
  echo "gpu_check: nvidia-smi sees a GPU but JAX does not (see the devices line above): jax[cuda13] is" \
       "not working here, so nothing would run on the GPU" >&2
  exit 1
fi
"$venv/bin/python" -c 'import qpt_kernels, sys; sys.exit(not qpt_kernels.build_info()["cuda_compiled"])' || {
  echo "gpu_check: the CUDA module was not built (see 'CUDA module' above)" >&2; exit 1; }

step "the CUDA half of the test suite (pytest -m cuda)"
set +e
(cd "$root" && "$venv/bin/pytest" -q -m cuda --durations=10 tests)
tests=$?
set -e

step "bench: GPU vs CPU kernel vs gpu4pyscf"
mkdir -p "$out"
"$venv/bin/python" "$root/bench/gpu_table.py" --json "$out/gpu_bench.json" || \
  echo "gpu_check: the bench failed (above); the tests' result stands"

echo
echo "gpu_check: tests exit status $tests; took $(( $(date +%s) - start )) s in all"
exit "$tests"
