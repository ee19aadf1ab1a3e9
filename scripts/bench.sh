#!/usr/bin/env bash
# `make bench`: every headline figure, measured on this machine and printed as one table
# (kept in build/bench/table.md): the ack path and reminder planning (criterion), each
# function's cold start and peak RSS (its release binary exec'd against a local Runtime API
# and moto), its zip (`make package`), the AWS calls of one lifecycle (the cost test), and
# click-to-updated latency: one request at a time here (build/bench/latency.md), and at scale
# from the latest `make load` (build/load/result.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build/bench
mkdir -p "$out"
# The Makefile passes its FUNCTIONS; the same list when run by hand.
functions="${FUNCTIONS:-approvals-api slack-interactions slack-events oauth-callback decision-worker daily-reminders}"
export FUNCTIONS="$functions"

cargo bench -p slack-interactions --bench ack_path
cargo bench -p approvals-core --bench reminders

# shellcheck disable=SC2086
cargo build --release $(printf ' -p %s' $functions)
cargo build --release -p integration-tests --example load
./scripts/with-aws.sh bash -c "for f in $functions; do
  .venv/bin/python scripts/cold_start.py --json target/release/\$f events/\$f.json 10 || exit 1; done" \
  >"$out/cold_start.jsonl"

./scripts/with-aws.sh cargo test -p integration-tests --test integration \
  cost::one_approval_costs_a_bounded_number_of_aws_calls -- --exact --nocapture >"$out/cost.txt"

LOAD_REQUESTS="${BENCH_LOAD_REQUESTS:-30}" LOAD_CONCURRENCY=1 LOAD_KILL_PERCENT=0 \
  DECISION_WORKER_BIN="$root/target/release/decision-worker" \
  ./scripts/with-aws.sh target/release/examples/load >"$out/latency.md"

.venv/bin/python scripts/bench_table.py | tee "$out/table.md"
