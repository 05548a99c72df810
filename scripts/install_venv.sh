#!/usr/bin/env bash
# Usage: scripts/install_venv.sh VENV_DIR [EXTRAS]
# Creates (or reuses) a Python 3.12 virtual environment and builds and installs qpt into it
# (the CPU kernels always, the CUDA kernels too when nvcc is found).
set -euo pipefail
venv=${1:?usage: install_venv.sh VENV_DIR [EXTRAS]}
extras=${2:-}
root="$(cd "$(dirname "$0")/.." && pwd)"

find_python312() {
  local candidate
  for candidate in python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' >/dev/null 2>&1; then
      command -v "$candidate"; return
    fi
  done
  # pyenv installs 3.12 without exposing it through its shims unless that version is selected.
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  echo "qpt: Python >= 3.12 not found (jax 0.12 needs it); install it and retry" >&2
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  "$(find_python312)" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
target="$root"
[ -n "$extras" ] && target="$root[$extras]"
echo "qpt: building and installing into $venv (this compiles the kernels; a few minutes on 2 cores)"
"$venv/bin/python" -m pip install --quiet "$target"
