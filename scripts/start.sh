#!/usr/bin/env bash
# The main job: install (skipped when nothing changed), build the default index if missing, open the chat UI.
# Arguments go to `rag serve`: bash scripts/start.sh --port 8000 --index my-index
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The index `rag serve` will open: its --index argument, else RAG_INDEX, else index/.
index="${RAG_INDEX:-index}"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --index) index="${args[i + 1]:-$index}" ;;
    --index=*) index="${args[i]#--index=}" ;;
  esac
done
if [ ! -f "$index/manifest.json" ]; then
  echo "building the index at $index (the bundled article in data/)"
  rag build --index "$index"
fi
exec rag serve "$@"
