#!/usr/bin/env bash
# Builds and runs the unit tests of the plain C++ stream core (no libuv, no N-API), with ASan +
# UBSan when the compiler has them. Usage: native/test/run.sh [output dir, default native/test/out]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-native/test/out}
mkdir -p "$OUT"
CXX=${CXX:-$(command -v g++ || command -v clang++ || true)}
[ -n "$CXX" ] || { echo "no C++ compiler (g++ or clang++)" >&2; exit 2; }
FLAGS=(-std=c++17 -O1 -g -Wall -Wextra -Werror)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
if echo 'int main(){}' | "$CXX" -x c++ "${SAN[@]}" -o "$OUT/.probe" - 2>/dev/null; then FLAGS+=("${SAN[@]}"); fi
rm -f "$OUT/.probe"
"$CXX" "${FLAGS[@]}" native/test/stream_core_test.cc native/stream_core.cc -o "$OUT/stream_core_test"
"$OUT/stream_core_test"
