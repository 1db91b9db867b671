#!/usr/bin/env bash
# Create .venv (if needed) and install the project with CPU-only torch.
# Usage: bash scripts/install.sh [--test]   (--test adds test tools and Debian's chromium)
#
# Nothing is installed when nothing changed since the last successful install: .venv/.install-stamp
# holds a hash of pyproject.toml, this script and the venv's Python version (and whether --test was given).
# torch: an importable torch is kept (install a CUDA build first on a GPU machine); otherwise the CPU-only
# build comes from the PyTorch CPU wheel index when it answers within a few seconds, else torch==TORCH_VERSION
# from the configured package index (on plain PyPI, for Linux, that would be the multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=2.13.0
TORCH_CPU_INDEX=${RAG_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
STAMP=.venv/.install-stamp
MODE=app
if [ "${1:-}" = "--test" ]; then MODE=test; fi

# pip with its normal progress; only the noise about missing local index folders is dropped.
pip_() { pip "$@" 2> >(grep -v '^WARNING: Location' >&2); }

stamp_key() {
  { cat pyproject.toml scripts/install.sh; python -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  [ -f "$STAMP" ] && [ -x .venv/bin/rag ] || return 1
  local stamp
  stamp=$(cat "$STAMP")
  [ "$stamp" = "$KEY test" ] || { [ "$MODE" = app ] && [ "$stamp" = "$KEY app" ]; }
}

cpu_index_answers() {
  # A connect/read timeout of 5 s, and 8 s in all (name resolution is not covered by urlopen's timeout).
  timeout 8 python - "$TORCH_CPU_INDEX" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=5).read(1)
EOF
}

install_torch() {
  local installed
  if installed=$(python -c "import torch; print(torch.__version__)" 2>/dev/null); then
    echo "torch $installed is already installed: keeping it"
  elif cpu_index_answers; then
    echo "installing CPU-only torch $TORCH_VERSION from $TORCH_CPU_INDEX"
    pip_ install --index-url "$TORCH_CPU_INDEX" "torch==$TORCH_VERSION"
  else
    echo "$TORCH_CPU_INDEX does not answer: installing torch==$TORCH_VERSION from the configured package index"
    pip_ install "torch==$TORCH_VERSION"
  fi
}

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
KEY=$(stamp_key)

if up_to_date; then
  echo "dependencies up to date (.venv/.install-stamp): nothing to install"
else
  echo "installing rag and its dependencies into .venv (the first run takes ~2-3 minutes)"
  rm -f "$STAMP"
  pip_ install -q --upgrade pip
  install_torch
  if [ "$MODE" = test ]; then pip_ install -e ".[test]"; else pip_ install -e .; fi
  echo "$KEY $MODE" >"$STAMP"
fi

if [ "$MODE" = test ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: /usr/bin/chromium missing (sudo apt-get install chromium); browser tests will be skipped" >&2
  fi
fi
