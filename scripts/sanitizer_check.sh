#!/usr/bin/env bash
# Usage: scripts/sanitizer_check.sh VENV [PYTEST_ARGS...]
# Builds the CPU kernels with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option QPT_SANITIZE) and
# runs the op tests (default: tests/ops, bad-input and property tests included) against that build, in the
# VENV where qpt is installed. Any out-of-bounds access, use after free or undefined behaviour in a kernel
# aborts the run with the sanitizer's report, so a clean exit means none was met. CI runs it after the suite.
set -euo pipefail
venv=${1:?usage: sanitizer_check.sh VENV [PYTEST_ARGS...]}
venv="$(cd "$venv" && pwd)"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
# QPT_SANITIZER_WORK keeps the build between runs (incremental rebuilds while you fix what it found).
if [ -n "${QPT_SANITIZER_WORK:-}" ]; then
  work="$QPT_SANITIZER_WORK"; mkdir -p "$work"
else
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fi
start=$(date +%s)

"$venv/bin/python" -m pip install --quiet cmake ninja pybind11
"$venv/bin/cmake" -S "$root" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQPT_SANITIZE=ON -DQPT_ENABLE_CUDA=OFF \
      -DCMAKE_MAKE_PROGRAM="$venv/bin/ninja" -DPython_EXECUTABLE="$venv/bin/python" \
      -Dpybind11_DIR="$("$venv/bin/python" -m pybind11 --cmakedir)" >/dev/null
"$venv/bin/cmake" --build "$work/build" --target _cpu _eri_probes -j "$(nproc)" >/dev/null
# The sanitized qpt_kernels and this tree's qpt come first on the path, then the venv's packages (jax, PySCF,
# pytest). Python runs with -S, so no .pth file of the venv (an editable install's import redirect) applies.
rm -rf "$work/site" && mkdir -p "$work/site/qpt_kernels"
cp "$root"/qpt_kernels/*.py "$work/site/qpt_kernels/"
cp "$work"/build/_cpu*.so "$work"/build/_eri_probes*.so "$work/site/qpt_kernels/"
ln -s "$root/python/qpt" "$work/site/qpt"
packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "sanitizer: CPU modules built with ASan + UBSan in $(( $(date +%s) - start )) s"

# The interpreter is not instrumented, so the ASan runtime must be loaded first, and libstdc++ with it: jaxlib
# throws C++ exceptions while it imports, and ASan's __cxa_throw interceptor needs the real one loaded. Leak
# checks are off: Python and XLA keep allocations alive until exit by design.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$work/site:$packages"
"$venv/bin/python" -S - "$work/site" <<'PY'
import sys
import qpt_kernels._cpu as module
assert module.__file__.startswith(sys.argv[1]), f"the sanitized module is not the one imported: {module.__file__}"
PY
cd "$root"
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/ops)
"$venv/bin/python" -S -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "sanitizer: clean ($(( $(date +%s) - start )) s in all)"
