#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (fuzz/CMakeLists.txt) in $FUZZ_BUILD, writes the seed
# corpora from real snapshots, replays fuzz/regressions/<target>/*, then runs each target for
# $FUZZ_SECONDS (one at a time) and prints a summary. Fails if any target finds a crash, a leak,
# a timeout or an out-of-memory, or if a regression input fails again.
#
# Environment: FUZZ_SECONDS (default 60, per target), FUZZ_TARGETS (default: all four),
# FUZZ_BUILD (default build-fuzz), JOBS (build parallelism, default nproc).
# Corpora grow across runs in $FUZZ_BUILD/corpus/<target>; findings land in
# $FUZZ_BUILD/artifacts/ and the log of each run in $FUZZ_BUILD/logs/<target>.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD:-build-fuzz}"
jobs="${JOBS:-$(nproc)}"
targets=(${FUZZ_TARGETS:-cbor_fuzzer inspect_snapshot_fuzzer restore_fuzzer restore_body_fuzzer})
# libFuzzer reads -max_total_time=0 as "no limit"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_SECONDS must be a positive number of seconds, got '$seconds'" >&2; exit 2; }

# The seed directory each target starts from (written by make_seeds).
seeds_of() {
  case "$1" in
    cbor_fuzzer) echo cbor ;;
    inspect_snapshot_fuzzer | restore_fuzzer) echo snapshot ;;
    restore_body_fuzzer) echo body ;;
    *) echo "fuzz: unknown target $1" >&2; exit 2 ;;
  esac
}

# Configured every time: the wasmtime prefix (scripts/build-wasmtime.sh) is resolved at configure time.
cmake -S fuzz -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build" -j "$jobs" --target make_seeds "${targets[@]}"

rm -rf "$build/seeds"
"$build/make_seeds" "$build/seeds"
mkdir -p "$build/artifacts" "$build/logs"

# libFuzzer's options for every run. A leak counts as a failure (detect_leaks is on under ASan).
common=(-timeout=10 -rss_limit_mb=4096 -print_final_stats=1)

failed=0
summary=()
for target in "${targets[@]}"; do
  bin="$build/$target"
  seeds="$build/seeds/$(seeds_of "$target")"
  # Room for the largest seed and some growth, at least 4 KiB.
  largest="$(find "$seeds" -type f -printf '%s\n' | sort -n | tail -n1)"
  max_len=$(( largest * 5 / 4 > 4096 ? largest * 5 / 4 : 4096 ))

  regressions="fuzz/regressions/$target"
  if compgen -G "$regressions/*" >/dev/null; then
    if ! "$bin" "${common[@]}" "$regressions"/* >"$build/logs/$target.regressions.log" 2>&1; then
      echo "fuzz: $target fails on a regression input again; see $build/logs/$target.regressions.log" >&2
      summary+=("$(printf '%-24s REGRESSION (replaying %s failed)' "$target" "$regressions")")
      failed=1
      continue
    fi
  fi

  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  log="$build/logs/$target.log"
  echo "fuzz: $target for ${seconds}s (max_len $max_len) ..." >&2
  status=0
  "$bin" "${common[@]}" -max_total_time="$seconds" -max_len="$max_len" \
    -artifact_prefix="$build/artifacts/$target-" "$corpus" "$seeds" >"$log" 2>&1 || status=$?

  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n1)"
  if [ "$status" -eq 0 ]; then
    result="ok"
  else
    failed=1
    artifact="$(grep -o "Test unit written to .*" "$log" | tail -n1 | sed 's/Test unit written to //')"
    kind="$(grep -o -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error|fuzz invariant failed' "$log" || true)"
    result="FAILED (exit $status: ${kind:-see log}; input ${artifact:-none}; log $log)"
  fi
  summary+=("$(printf '%-24s %10s runs %7s exec/s  %-22s %s' "$target" "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}" "$result")")
done

echo
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
