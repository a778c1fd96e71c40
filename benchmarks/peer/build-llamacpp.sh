#!/usr/bin/env bash
# Builds llama.cpp's native CLI tools from the source that node-llama-cpp@3.21.1 ships (a git bundle), so the
# peer benchmark compares Specula with the same llama.cpp a Node user would get, built natively for this CPU.
# Nothing of llama.cpp is committed: everything lands under $PEER_DIR (default target/peer/). Idempotent.
# Prints the directory holding the binaries on its last line.
#
# LLAMA_BUILD=native (default): CMake + Ninja over the whole source, GGML_NATIVE=ON (-march=native): ~270
#   compile units, some minutes on free cores, hours on 2 cores shared with other jobs.
# LLAMA_BUILD=prebuilt: compiles only the tools' own sources (5 programs) from the same source tree and links
#   them against the shared libraries node-llama-cpp ships prebuilt from that source (libllama, libllama-common,
#   libggml with one CPU backend per x86 generation, the best one for this CPU chosen at load time). For a
#   starved machine; the kernels then carry that generation's -march flags rather than -march=native.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEER_DIR="${PEER_DIR:-$ROOT/target/peer}"
NODE_LLAMA_CPP_VERSION="3.21.1"
TARGETS=(llama-completion llama-speculative llama-lookup llama-bench llama-quantize)
JOBS="${JOBS:-$(nproc)}"

mkdir -p "$PEER_DIR"
cd "$PEER_DIR"

bundle="$PEER_DIR/npm/node_modules/node-llama-cpp/llama/gitRelease.bundle"
if [[ ! -f "$bundle" ]]; then
  echo "installing node-llama-cpp@$NODE_LLAMA_CPP_VERSION (scripts off) into $PEER_DIR/npm" >&2
  mkdir -p npm
  (cd npm && [[ -f package.json ]] || echo '{"private":true}' > package.json)
  (cd npm && npm i -E "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" --ignore-scripts --no-audit --no-fund >&2)
fi
[[ -f "$bundle" ]] || { echo "expected llama.cpp git bundle at $bundle, not found" >&2; exit 1; }

src="$PEER_DIR/llama.cpp"
if [[ ! -d "$src/.git" ]]; then
  echo "cloning llama.cpp from $bundle" >&2
  git clone -q "$bundle" "$src"
fi

if [[ "${LLAMA_BUILD:-native}" == prebuilt ]]; then
  libs="$PEER_DIR/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
  out="$PEER_DIR/prebuilt/bin"
  mkdir -p "$out"
  cp -u "$libs"/*.so "$out/"
  flags=(-O2 -std=c++17 -I"$src/include" -I"$src/common" -I"$src/ggml/include" -I"$src/vendor")
  link=(-L"$out" -l:libllama-common.so -l:libllama.v0.4.0.so -l:libggml.v0.4.0.so -l:libggml-base.so
        -Wl,-rpath,'$ORIGIN' -pthread)
  declare -A sources=(
    [llama-completion]="tools/completion/completion.cpp tools/completion/main.cpp"
    [llama-speculative]="examples/speculative/speculative.cpp"
    [llama-lookup]="examples/lookup/lookup.cpp"
    [llama-bench]="tools/llama-bench/llama-bench.cpp tools/llama-bench/main.cpp"
    [llama-quantize]="tools/quantize/quantize.cpp tools/quantize/main.cpp")
  pids=()
  for t in "${TARGETS[@]}"; do
    [[ -x "$out/$t" ]] && continue
    files=()
    for f in ${sources[$t]}; do files+=("$src/$f"); done
    echo "compiling $t" >&2
    g++ "${flags[@]}" "${files[@]}" -o "$out/$t.tmp" "${link[@]}" && mv "$out/$t.tmp" "$out/$t" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for t in "${TARGETS[@]}"; do
    [[ -x "$out/$t" ]] || { echo "build finished but $out/$t is missing" >&2; exit 1; }
  done
  echo "$out"
  exit 0
fi

if ! command -v ninja >/dev/null; then
  echo "ninja not found: installing ninja-build" >&2
  apt-get install -y ninja-build >&2
fi

build="$src/build"
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF >&2
fi
cmake --build "$build" -j "$JOBS" --target "${TARGETS[@]}" >&2
for t in "${TARGETS[@]}"; do
  [[ -x "$build/bin/$t" ]] || { echo "build finished but $build/bin/$t is missing" >&2; exit 1; }
done
echo "$build/bin"
