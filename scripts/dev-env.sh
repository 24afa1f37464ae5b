# Source this (`. scripts/dev-env.sh`) before running cargo by hand. The Makefile exports the same
# variables: torch-sys rebuilds its C++ part (~1.5 min) whenever they differ between invocations.
_tat_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export VIRTUAL_ENV="${TAT_VENV:-$_tat_root/.venv}"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
unset _tat_root
