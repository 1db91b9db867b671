#!/usr/bin/env bash
# The main job: install, build the default index if missing, open the chat UI on http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
[ -f index/manifest.json ] || rag build
exec rag serve "$@"
