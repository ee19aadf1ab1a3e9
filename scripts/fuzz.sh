#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target for FUZZ_SECONDS (default 60) on nightly, from its
# committed seeds (fuzz/seeds/<target>) plus what earlier runs found (build/fuzz/corpus),
# and prints the executions of each. A crash stops the run; libFuzzer saves the input in
# fuzz/artifacts/<target>/ — make it a regression test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
targets=(slack_interaction events_envelope host_api_bodies oauth_query_and_cookie)
mkdir -p "$root/build/fuzz"
total=0
printf '| target | executions | seconds |\n| --- | --- | --- |\n' > "$root/build/fuzz/summary.md"
for target in "${targets[@]}"; do
  corpus="$root/build/fuzz/corpus/$target"
  mkdir -p "$corpus"
  log="$root/build/fuzz/$target.log"
  (cd "$root/fuzz" && cargo +nightly fuzz run "$target" "$corpus" "$root/fuzz/seeds/$target" \
     -- -max_total_time="$seconds" -print_final_stats=1) >"$log" 2>&1 || {
    tail -40 "$log"; echo "fuzz: $target failed; its input is in fuzz/artifacts/$target/" >&2; exit 1; }
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  total=$((total + runs))
  printf '| `%s` | %s | %s |\n' "$target" "$runs" "$seconds" >> "$root/build/fuzz/summary.md"
done
printf '| all | %s | |\n' "$total" >> "$root/build/fuzz/summary.md"
cat "$root/build/fuzz/summary.md"
