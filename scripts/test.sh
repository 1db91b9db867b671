#!/usr/bin/env bash
# Install everything (venv, CPU torch, test tools, Chromium) and run lint, types and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ruff check rag ui tests benchmarks
ruff format --check rag ui tests benchmarks
mypy
python -m pytest "$@"
