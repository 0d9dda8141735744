#!/usr/bin/env bash
# Builds the libFuzzer harnesses of the native core (with ASan + UBSan) and runs each one.
# Usage: native/fuzz/run.sh [seconds per harness, default 60] [parallel jobs, default 1]
# Needs clang with libFuzzer (Debian: apt-get install -y clang). Findings go to native/fuzz/out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:-60}
JOBS=${2:-1}
OUT=native/fuzz/out
mkdir -p "$OUT" native/fuzz/corpus-requests native/fuzz/corpus-replies
command -v clang++ >/dev/null || { echo "clang++ not found: apt-get install -y clang" >&2; exit 1; }
[ -f dist/src/commands/table.js ] || npx tsc -p tsconfig.json
node native/fuzz/gen-table.js dist "$OUT/table.inc"
FLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I "$OUT")
CORE=(native/slot_hash.cc native/command_table.cc native/request_parser.cc native/reply_framer.cc native/split_merge.cc)
clang++ "${FLAGS[@]}" native/fuzz/fuzz_requests.cc "${CORE[@]}" -o "$OUT/fuzz_requests"
clang++ "${FLAGS[@]}" native/fuzz/fuzz_replies.cc "${CORE[@]}" -o "$OUT/fuzz_replies"
clang++ "${FLAGS[@]}" native/fuzz/fuzz_stream_core.cc native/stream_core.cc -o "$OUT/fuzz_stream_core"
mkdir -p native/fuzz/corpus-stream_core native/fuzz/seeds/stream_core
for h in requests replies stream_core; do
  echo "== fuzz_$h for ${SECONDS_PER}s"
  PAR=()
  [ "$JOBS" -gt 1 ] && PAR=(-jobs="$JOBS" -workers="$JOBS")
  "$OUT/fuzz_$h" -max_total_time="$SECONDS_PER" -max_len=4096 "${PAR[@]}" \
    -artifact_prefix="$OUT/$h-" -print_final_stats=1 \
    native/fuzz/corpus-$h native/fuzz/seeds/$h 2>&1 | tee "$OUT/fuzz_$h.log" | grep -E "^#[0-9]+ *(DONE|INITED)|stat::|ERROR|CHECK failed|SUMMARY" || true
done
