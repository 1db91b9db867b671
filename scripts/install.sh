#!/usr/bin/env bash
# Create .venv (if needed) and install the project with CPU-only torch. Idempotent.
# Usage: bash scripts/install.sh [--test]   (--test adds test tools and Debian's chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
# CPU torch first: a plain "torch" requirement would pull a multi-GB CUDA build.
python -c "import torch" 2>/dev/null || pip install -q torch==2.13.0 2>&1 | grep -v '^WARNING: Location' || true
if [ "${1:-}" = "--test" ]; then
  pip install -q -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "warning: could not install chromium; browser tests will be skipped" >&2
    else
      echo "warning: /usr/bin/chromium missing (sudo apt-get install chromium); browser tests will be skipped" >&2
    fi
  fi
else
  pip install -q -e . 2>&1 | grep -v '^WARNING: Location' || true
fi
