#!/usr/bin/env bash
# A portable llama-cpp-python wheel for the installers: runs on any x86-64 CPU and picks the
# fastest code the CPU has at start (AVX2 desktops, AVX-512/AMX Xeons alike).
#
#   packaging/llama_cpp/build_wheel.sh OUT_DIR      # prints the wheel's path
#
# pip's own build is -march=native (GGML_NATIVE=ON): its libraries die with SIGILL on any CPU
# older than the build machine's. Here llama.cpp is built with GGML_NATIVE=OFF,
# GGML_BACKEND_DL=ON and GGML_CPU_ALL_VARIANTS=ON: the core libraries use the x86-64 baseline,
# and each CPU family gets its own libggml-cpu-<family>.so, of which the app loads the best
# (jradi_desktop/inference/_llama_runtime.py). docs/adr/0011 says why.
#
# The version is the one pyproject.toml pins. The wheel is cached under
# $JRADI_WHEEL_CACHE (default ~/.cache/jradi-desktop/wheels), keyed by version and flags; the
# build takes about 20 minutes on 2 cores. pip's cache is bypassed both ways: it keys wheels by
# version only, and would otherwise hand a native wheel to this build or this one to a
# developer install.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${BUILD_PYTHON:-python3}
VERSION=$("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
pins = [d for d in deps if re.match(r"llama-cpp-python\s*==", d)]
if len(pins) != 1:
    sys.exit("pyproject.toml must pin llama-cpp-python with ==")
print(pins[0].split("==", 1)[1].strip())
PYEOF
)
FLAGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
FLAGS+=" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF"
KEY=$(printf "%s %s %s" "$VERSION" "$FLAGS" "$(sha256sum <"$HERE/install_cpu_variants.cmake")" |
    sha256sum | cut -c1-16)
CACHE=${JRADI_WHEEL_CACHE:-$HOME/.cache/jradi-desktop/wheels}/llama-cpp-python-$VERSION-portable-$KEY
mkdir -p "$OUT"
if ! compgen -G "$CACHE/llama_cpp_python-$VERSION-*.whl" >/dev/null; then
    echo "building portable llama-cpp-python $VERSION ($FLAGS); about 20 minutes" >&2
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    CMAKE_ARGS="$FLAGS -DCMAKE_PROJECT_llama_cpp_INCLUDE=$HERE/install_cpu_variants.cmake" \
        CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
        "$PY" -m pip wheel -v --no-deps --no-cache-dir --no-binary llama-cpp-python \
        -w "$TMP" "llama-cpp-python==$VERSION" >&2
    WHEEL=$(compgen -G "$TMP/llama_cpp_python-$VERSION-*.whl")
    VARIANTS=$("$PY" -m zipfile -l "$WHEEL" | grep -c 'llama_cpp/lib/libggml-cpu-' || true)
    [[ $VARIANTS -ge 2 ]] || { echo "$WHEEL holds $VARIANTS CPU variants" >&2; exit 1; }
    mkdir -p "$CACHE"
    cp "$WHEEL" "$CACHE/"
fi
WHEEL=$(compgen -G "$CACHE/llama_cpp_python-$VERSION-*.whl")
cp "$WHEEL" "$OUT/"
echo "$OUT/$(basename "$WHEEL")"
