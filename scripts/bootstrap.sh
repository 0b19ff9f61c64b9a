#!/usr/bin/env bash
# Create .venv from a Python 3.10 interpreter and install the pinned requirements.
#
# Rasa 3.6 supports Python 3.8-3.10 only, and this machine's default python is
# newer, so we look for 3.10 explicitly instead of trusting `python3`. CI runs
# without an interactive shell's pyenv set-up, hence the direct path search.
# Re-running is cheap: the install is skipped while requirements.lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
LOCK=requirements.lock

is_python310() {
  [[ -n "$1" ]] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1
}

find_python310() {
  local candidates=("${PYTHON310:-}" python3.10)
  local root
  if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root)
  else
    root=${PYENV_ROOT:-$HOME/.pyenv}
  fi
  candidates+=("$root"/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10)
  local c
  for c in "${candidates[@]}"; do
    if is_python310 "$c"; then
      command -v "$c" 2>/dev/null || echo "$c"
      return 0
    fi
  done
  return 1
}

if ! is_python310 "$VENV/bin/python"; then
  if ! PY=$(find_python310); then
    cat >&2 <<'MSG'
ERROR: no Python 3.10 interpreter found (Rasa 3.6 needs Python 3.8-3.10).
Install one, then re-run this command:
  - with pyenv:  pyenv install 3.10.13
  - or set PYTHON310=/path/to/python3.10
MSG
    exit 1
  fi
  echo "bootstrap: creating $VENV from $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"
if [[ ! -f "$STAMP" ]]; then
  echo "bootstrap: installing pinned requirements into $VENV (first time: about 3 minutes)"
  "$VENV/bin/python" -m pip install -qq --upgrade 'pip==24.2'
  # The lock lists every package with its exact version, so no resolver backtracking.
  "$VENV/bin/python" -m pip install -qq --no-deps -r "$LOCK"
  "$VENV/bin/python" -m pip check
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
