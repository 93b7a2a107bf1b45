#!/usr/bin/env bash
# Builds the libFuzzer targets of the parsers with clang (ASan + UBSan) and
# runs each for a fixed time from the seed corpus in tests/fuzz/corpus.
# Prints one row per target (executions, executions/s, corpus size, crashes)
# and exits non-zero when any target crashed, leaked, ran out of memory or
# timed out; the inputs that did are kept under BUILD/artifacts/TARGET/.
#
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET (60)] [TARGET...]
# Environment: FUZZ_BUILD_DIR (default build-fuzz).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
budget="${1:-60}"
shift || true
all_targets=(safetensors index config tokenizer_json tokenizer_files ppm)

targets=("${all_targets[@]}")
[ $# -eq 0 ] || targets=("$@")
out="${FUZZ_BUILD_DIR:-$root/build-fuzz}"

tools/setup.sh --fuzz
cxx="${CXX_FUZZ:-clang++}"
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -Isrc -Itests/fuzz)
core=(error config config_check decode_limits file_check safetensors unicode tokenizer ppm)

mkdir -p "$out/obj"
objects=()
for name in "${core[@]}"; do
  obj="$out/obj/$name.o"
  if [ ! -f "$obj" ] || [ "src/$name.cpp" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj")" ]; then
    echo "fuzz: compiling src/$name.cpp"
    "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "src/$name.cpp" -o "$obj"
  fi
  objects+=("$obj")
done

printf '%-16s %8s %12s %10s %8s %8s\n' target seconds executions exec/s corpus crashes
failed=0
for target in "${targets[@]}"; do
  exe="$out/fuzz_$target"
  "$cxx" "${flags[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$target.cpp" "${objects[@]}" -o "$exe"
  work="$out/corpus/$target"
  artifacts="$out/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  log="$out/$target.log"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$exe" "$work" "tests/fuzz/corpus/$target" -max_total_time="$budget" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
  crashes="$(find "$artifacts" -type f | wc -l)"
  corpus="$(find "$work" -type f | wc -l)"
  rate=$(( execs / (budget > 0 ? budget : 1) ))
  printf '%-16s %8s %12s %10s %8s %8s\n' "$target" "$budget" "$execs" "$rate" "$corpus" "$crashes"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    echo "fuzz: $target: see $log and $artifacts" >&2
  fi
done
exit $failed
