#!/usr/bin/env bash
# The main job: install (skipped when nothing changed), build the default index if missing, open the chat UI.
# Arguments go to `rag serve`: bash scripts/start.sh --port 8000 --index my-index
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ ! -f "${RAG_INDEX:-index}/manifest.json" ]; then
  echo "building the default index (the bundled article in data/)"
  rag build
fi
exec rag serve "$@"
