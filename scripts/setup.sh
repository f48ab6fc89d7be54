#!/usr/bin/env bash
# Create .venv and install the project into it, from nothing. Safe to re-run: it does nothing
# when pyproject.toml, constraints.txt and this script have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.seedqa-installed"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)

# llama.cpp's default build uses -march=native, which compiles AMX code that crashes on first
# inference on some CPUs, and dies on CPUs without the host's extensions. Build for what this CPU
# reports instead: the AVX-512 family when it has it (prompts read 20-45% faster), the portable
# AVX2 build otherwise; never AMX, never GGML_NATIVE. The wheel is cached outside pip's cache,
# keyed by its flags, and the CPU features it needs are written into the environment so that
# loading the model on another CPU gives a clear message instead of an illegal instruction
# (qa/cpu.py). QA_LLAMA_CPU=portable forces the AVX2 build (an environment to copy elsewhere).
LLAMA_VERSION=0.3.36
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { case "$cpu_flags" in *" $1 "*) return 0;; esac; return 1; }
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
LLAMA_NEEDS="avx avx2 fma f16c bmi2"
if [ "${QA_LLAMA_CPU:-auto}" != portable ] && has avx512f && has avx512cd && has avx512vl && has avx512dq && has avx512bw; then
  LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512=ON"
  LLAMA_NEEDS="$LLAMA_NEEDS avx512f avx512cd avx512vl avx512dq avx512bw"
  if has avx512vbmi; then LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512_VBMI=ON"; LLAMA_NEEDS="$LLAMA_NEEDS avx512vbmi"; fi
  if has avx512_vnni; then LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512_VNNI=ON"; LLAMA_NEEDS="$LLAMA_NEEDS avx512_vnni"; fi
  if has avx512_bf16; then LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512_BF16=ON"; LLAMA_NEEDS="$LLAMA_NEEDS avx512_bf16"; fi
  if has avx_vnni; then LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX_VNNI=ON"; LLAMA_NEEDS="$LLAMA_NEEDS avx_vnni"; fi
fi
LLAMA_CMAKE_ARGS=${QA_LLAMA_CMAKE_ARGS:-$LLAMA_CMAKE_ARGS}  # an explicit override wins (then no CPU check is recorded)
[ -n "${QA_LLAMA_CMAKE_ARGS:-}" ] && LLAMA_NEEDS=""
flags_key=$(echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/seedqa/wheels/llama-cpp-$flags_key"
want=$(echo "$want $flags_key" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

echo "==> creating $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

echo "==> torch (CPU build, pinned)"
"${PIP[@]}" install -q -c constraints.txt torch==2.13.0

if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "==> building llama-cpp-python $LLAMA_VERSION for this CPU ($LLAMA_CMAKE_ARGS; 3 to 6 minutes, once)"
  mkdir -p "$WHEELS"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "${PIP[@]}" wheel -q --no-deps --no-cache-dir -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi
"${PIP[@]}" install -q --no-deps --no-index --force-reinstall --find-links "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
mkdir -p "$VENV/share/seedqa"
echo "$LLAMA_NEEDS" > "$VENV/share/seedqa/llama-cpu-flags"

echo "==> the project and its dependencies"
"${PIP[@]}" install -q -c constraints.txt --find-links "$WHEELS" -e ".[test]"
"${PIP[@]}" check
echo "$want" > "$STAMP"
echo "==> installed into $VENV"
