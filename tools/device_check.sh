#!/usr/bin/env bash
# The one GPU check, in one call of at most 8 minutes (docs/gpu.md). Everything
# of ours runs the production path: blip2-caption and blip2-bench use only the
# public API (Model::load, Captioner), as the element does.
#   1. build src/, blip2-caption and blip2-bench against the machine's torch (no
#      GStreamer, no tests; meson/ninja wheels and nlohmann-json come from the
#      carried .device/)
#   2. parity with transformers on the tiny random checkpoints: blip2-caption's
#      greedy ids against generate's on the same device (float32: must be equal;
#      the bench dtype: reported)
#   3. the card's ceilings (copy bandwidth, fp16 matmul rate)
#   4. a full-size blip2-opt-2.7b-coco checkpoint with random weights written
#      to disk, then blip2-bench on it (load, first caption, per-stage times
#      from the library, batches 1..32, beam 5, the graphed and the static
#      step) and transformers' generate on the same architecture
#   5. a results table: $OUT/results.md (+ results.json, the raw JSONs, the log)
#
#   tools/device_check.sh          on the GPU machine ($OUT set by the device tool)
#   tools/device_check.sh --cpu    dry run here: the project's build folder
#                                  (BUILD=... to change), float32, the tiny
#                                  -coco fixture instead of the full size
# Steps run under time limits; a failed step is reported and the rest go on.
set -uo pipefail

mode=gpu
[ "${1:-}" = "--cpu" ] && mode=cpu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="${WORK:-/tmp/blip2-device-check}"
out="${OUT:-$work/out}"
rm -rf "$work/parity" "$work/results"
mkdir -p "$work" "$out" "$work/parity"
deadline=$((SECONDS + ${BUDGET_S:-450}))  # the call's limit is 480 s
status=0
exec > >(tee "$out/log.txt") 2>&1

say() { echo "== [${SECONDS}s] $*"; }
left() { echo $((deadline - SECONDS)); }
# run_step SECONDS NAME COMMAND...: runs with a limit (capped by the deadline)
run_step() {
  local limit="$1" name="$2"
  shift 2
  local cap
  cap=$(left)
  [ "$cap" -lt "$limit" ] && limit="$cap"
  if [ "$limit" -le 5 ]; then
    say "SKIP $name (out of time)"
    status=1
    return 1
  fi
  say "$name (limit ${limit}s)"
  timeout --kill-after=5 "$limit" "$@"
  local rc=$?
  [ $rc -ne 0 ] && { say "FAIL $name (exit $rc)"; status=1; }
  return $rc
}
collect() {  # at most 8 files come back from $OUT
  [ -f "$work/results.md" ] && cp "$work/results.md" "$out/results.md"
  [ -f "$work/results.json" ] && cp "$work/results.json" "$out/results.json"
  for f in ours_bench.json ours_bench_eager.json hf_bench.json ceilings.json; do [ -f "$work/$f" ] && cp "$work/$f" "$out/"; done
  $py -c 'import glob, json, os, sys
print(json.dumps({os.path.basename(os.path.dirname(p)): json.load(open(p))
                  for p in sorted(glob.glob(sys.argv[1] + "/*/parity_result.json"))}, indent=1))' \
    "$work/parity" >"$out/parity.json" 2>/dev/null || true
}
trap collect EXIT

py=python3
bench_py="$root/tests/bench/bench_transformers_gpu.py"
if [ "$mode" = gpu ]; then
  device=cuda dtype=float16 build="$work/build"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader || true
else
  device=cpu dtype=float32 build="${BUILD:-$root/build}"
  py="$root/.venv/bin/python"
  [ -x "$py" ] || py=python3
  export PATH="$root/.venv/bin:$PATH"  # ninja
fi
command -v c++ >/dev/null || { say "no C++ compiler on this machine"; exit 1; }
c++ --version | head -1
$py -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), "transformers", transformers.__version__)'

# ---------------------------------------------------------------- 1. build (background)
torch_dir="$($py -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
build_log="$work/build.log"
if [ "$mode" = gpu ]; then
  $py -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$root"/.device/wheels/*.whl ||
    { say "cannot install the carried wheels (run tools/prepare_device_carry.sh, carry .device)"; exit 1; }
  export PATH="/tmp/site/bin:$PATH" PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  export CMAKE_PREFIX_PATH="$root/.device/json${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PKG_CONFIG_PATH="$root/.device/json/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  nvcc_root="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)" 2>/dev/null || echo /x/x)")")"
  for d in "${CUDA_PATH:-}" /usr/local/cuda "$nvcc_root"; do  # TorchConfig's FindCUDA
    if [ -n "$d" ] && [ -f "$d/include/cuda_runtime.h" ]; then
      export CUDA_PATH="$d" CUDA_HOME="$d" CUDAToolkit_ROOT="$d"
      break
    fi
  done
  say "build: torch $torch_dir, CUDA_PATH ${CUDA_PATH:-unset}"
  (meson setup "$build" "$root" -Dgstreamer=disabled -Dtests=false -Dtorch_dir="$torch_dir" \
     --buildtype=release && ninja -C "$build" examples/blip2-bench examples/blip2-caption) \
    >"$build_log" 2>&1 &
else
  say "build: $build (CPU dry run)"
  (ninja -C "$build" examples/blip2-bench examples/blip2-caption) >"$build_log" 2>&1 &
fi
build_pid=$!

# ---------------------------------------------------------------- 2a. fixtures + references (during the build)
fixtures="${BLIP2_FIXTURES:-$work/fixtures}"
if [ ! -f "$fixtures/models/tiny/config.json" ] || [ ! -f "$fixtures/models/tiny-coco/config.json" ]; then
  run_step 150 "tiny fixtures" sh -c "$py model/oracle/make_tokenizer.py --out '$fixtures/tokenizer' &&
    $py model/oracle/make_models.py --fixtures '$fixtures' --only tiny tiny-coco" >"$work/fixtures.log" 2>&1 ||
    tail -20 "$work/fixtures.log"
fi
# transformers' greedy ids: float32 (ours must equal them) and, on the GPU, the bench dtype
parity_dtypes=float32
[ "$dtype" != float32 ] && parity_dtypes="float32 $dtype"
for m in tiny tiny-coco; do
  for pd in $parity_dtypes; do
    run_step 90 "transformers reference $m ($device $pd)" $py "$bench_py" parity-ref \
      --model "$fixtures/models/$m" --image "$fixtures/images/gradient-64x48.ppm" --steps 10 \
      --device "$device" --dtype "$pd" --out "$work/parity/$m-$pd"
  done
done
full="$work/full"
if [ "$mode" = gpu ]; then
  $py "$bench_py" config "$full" >/dev/null
  checkpoint="$work/checkpoint"
  [ -f "$checkpoint/model.safetensors.index.json" ] ||
    run_step 200 "random full-size checkpoint ($dtype)" $py "$bench_py" checkpoint "$checkpoint" \
      --tokenizer "$fixtures/tokenizer/fast" --dtype "$dtype"
else
  mkdir -p "$full" && cp "$fixtures/models/tiny-coco/config.json" "$full/config.json"
  checkpoint="$fixtures/models/tiny-coco"
fi

say "waiting for the build"
if ! wait "$build_pid"; then
  say "FAIL build"
  grep -E "error|Error|ERROR" "$build_log" | head -30
  tail -30 "$build_log"
  exit 1
fi
tail -2 "$build_log"
bench="$build/examples/blip2-bench"

# ---------------------------------------------------------------- 2b. parity
cli="$build/examples/blip2-caption"
for m in tiny tiny-coco; do
  for pd in $parity_dtypes; do
    dir="$work/parity/$m-$pd"
    [ -f "$dir/parity_ref.json" ] || continue
    informative=()
    [ "$pd" != float32 ] && informative=(--informative)
    run_step 60 "blip2-caption $m ($device $pd)" sh -c "'$cli' --model '$fixtures/models/$m' \
      --device '$device' --dtype '$pd' --prompt 'a photo of' --max-new-tokens 10 \
      --min-new-tokens 10 --json '$fixtures/images/gradient-64x48.ppm' >'$dir/ours.jsonl'" &&
      run_step 30 "compare $m ($pd)" $py "$bench_py" parity-compare --dir "$dir" \
        --ours "$dir/ours.jsonl" "${informative[@]}"
  done
done

# ---------------------------------------------------------------- 3. ceilings
if [ "$mode" = gpu ]; then
  run_step 40 "ceilings" $py "$bench_py" ceilings --out "$work/ceilings.json"
  batches=1,4,8,16,32 new=12 iters=5 warm=2 frame=1920x1080
else
  batches=1,2 new=4 iters=2 warm=1 frame=320x240
fi

# ---------------------------------------------------------------- 4. benchmarks
run_step 150 "blip2-bench" "$bench" --model "$checkpoint" --device "$device" --dtype "$dtype" \
  --batches "$batches" --beams 1,5 --beam-batches 1 --new-tokens "$new" --iters "$iters" \
  --warmup "$warm" --frame "$frame" --json "$work/ours_bench.json"
run_step 150 "transformers generate" $py "$bench_py" bench --config "$full" --device "$device" \
  --dtype "$dtype" --batches "$batches" --beams 1,5 --beam-batches 1 --new-tokens "$new" \
  --iters "$iters" --warmup "$warm" --out "$work/hf_bench.json"
if [ "$(left)" -gt 45 ]; then  # the static step without graph capture, batch 1: what capture buys
  run_step 40 "blip2-bench (static step, no graph, batch 1)" "$bench" --model "$checkpoint" \
    --device "$device" --dtype "$dtype" --decode-step static --batches 1 --new-tokens "$new" \
    --iters "$iters" --warmup "$warm" --frame "$frame" --json "$work/ours_bench_eager.json"
fi

# ---------------------------------------------------------------- 5. report
ceil_arg=()
[ -f "$work/ceilings.json" ] && ceil_arg=(--ceilings "$work/ceilings.json")
if [ -f "$work/ours_bench.json" ]; then
  run_step 20 "report" $py "$bench_py" report --ours "$work/ours_bench.json" --hf "$work/hf_bench.json" \
    "${ceil_arg[@]}" --config "$full" --parity "$work"/parity/* \
    --eager "$work/ours_bench_eager.json" --out "$work/results"
fi
say "done, status $status"
exit $status
