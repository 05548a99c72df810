#!/usr/bin/env bash
# The README's main command: builds qpt into .venv (first run only) and runs `qpt demo`.
# Arguments are passed to `qpt demo` (see `qpt demo --help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${QPT_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/qpt" ] || [ -n "${QPT_REINSTALL:-}" ]; then
  bash "$root/scripts/install_venv.sh" "$venv" train
fi
exec "$venv/bin/qpt" demo "$@"
