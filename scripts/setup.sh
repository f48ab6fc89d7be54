#!/usr/bin/env bash
# Create .venv and install the project into it, from nothing. Safe to re-run: it does nothing
# when pyproject.toml, constraints.txt and this script have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.seedqa-installed"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

# llama.cpp's default build uses -march=native, which crashes on first inference on some CPUs
# (AMX code) and dies on CPUs without the host's extensions. Build a portable AVX2 wheel once,
# keyed by its flags, outside pip's cache so that a native build is never picked up instead.
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS=${QA_LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"}
flags_key=$(echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/seedqa/wheels/llama-cpp-$flags_key"

echo "==> creating $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

echo "==> torch (CPU build, pinned)"
"${PIP[@]}" install -q -c constraints.txt torch==2.13.0

if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "==> building llama-cpp-python $LLAMA_VERSION (portable CPU flags; 3 to 6 minutes, once)"
  mkdir -p "$WHEELS"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "${PIP[@]}" wheel -q --no-deps --no-cache-dir -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi
"${PIP[@]}" install -q --no-deps --no-index --find-links "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"

echo "==> the project and its dependencies"
"${PIP[@]}" install -q -c constraints.txt --find-links "$WHEELS" -e ".[test]"
"${PIP[@]}" check
echo "$want" > "$STAMP"
echo "==> installed into $VENV"
