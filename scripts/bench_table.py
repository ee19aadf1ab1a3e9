#!/usr/bin/env python3
"""Prints `make bench`'s one table of headline figures from what its steps left behind:
criterion's estimates (target/criterion), the cold starts (build/bench/cold_start.jsonl),
`make package`'s zips (build/lambda), the cost test's output (build/bench/cost.txt) and the
latest `make load` result (build/load/result.md)."""

import json
import os
import pathlib
import platform
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTIONS = os.environ.get("FUNCTIONS", "approvals-api slack-interactions slack-events "
                           "oauth-callback decision-worker daily-reminders").split()


def criterion_median_ns(group, bench):
    path = ROOT / "target" / "criterion" / group / bench / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def micros(ns):
    return "not measured" if ns is None else f"{ns / 1000:.2f} µs"


def millis(ns):
    return "not measured" if ns is None else f"{ns / 1e6:.2f} ms"


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(open("/proc/meminfo", encoding="utf-8").readline().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}"


def main():
    out = ROOT / "build" / "bench"
    rows = []
    ack = criterion_median_ns("ack_path", "verify_parse_enqueue")
    goal = "" if ack is None else (" (goal ≤ 8.5 µs: met)" if ack <= 8500 else " (goal ≤ 8.5 µs: not met)")
    rows.append(("ack path: verify, parse, enqueue one signed `block_actions` (criterion median)",
                 micros(ack) + goal))
    rows.append(("ack path through lambda_http and the router",
                 micros(criterion_median_ns("ack_path", "through_lambda_http_and_router"))))
    rows.append(("reminder planning: 10k pending entries across 50 zones",
                 millis(criterion_median_ns("reminders", "plan_run_10k_entries"))))

    cold = {}
    cold_path = out / "cold_start.jsonl"
    if cold_path.exists():
        for line in cold_path.read_text().splitlines():
            if line.startswith("{"):
                run = json.loads(line)
                cold[run["function"]] = run
    for name in FUNCTIONS:
        zip_path = ROOT / "build" / "lambda" / name / "bootstrap.zip"
        size = f"{zip_path.stat().st_size / 1e6:.2f} MB zip (arm64)" if zip_path.exists() else "zip: run `make package`"
        run = cold.get(name)
        # A 4xx is an answer (the sample event names no connected tenant); a 5xx is not.
        if run and not str(run.get("status", "")).startswith("5"):
            answered = f", answered {run['status']}" if run.get("status") else ""
            start = (f"cold start {run['first_answer_ms']:.0f} ms to the first answer "
                     f"(init {run['init_ms']:.0f} ms; median of {run['runs']}{answered}), "
                     f"peak RSS {run['peak_rss_kb'] / 1024:.1f} MB")
        else:
            start = "cold start not measured"
        rows.append((f"`{name}`", f"{start}; {size}"))

    def load_rows(path, labels, suffix):
        text = path.read_text()
        for label in labels:
            row = next((l for l in text.splitlines() if l.startswith(f"| {label}")), None)
            if row:
                cells = [c.strip() for c in row.strip("|").split("|")]
                rows.append((f"{cells[0]} ({suffix})", cells[1]))

    def passed(path):
        return path.exists() and "every check passed" in path.read_text()

    latency_path = out / "latency.md"
    if passed(latency_path):
        load_rows(latency_path, ("click → every copy updated",),
                  "one request at a time, its approvers clicking at once, local stack")
    else:
        rows.append(("click → every copy updated", "not measured (its run failed or did not run)"))
    load_path = ROOT / "build" / "load" / "result.md"
    if passed(load_path):
        load_rows(load_path, ("click → every copy updated", "requests created and clicked",
                              "every decision webhook in", "requests decided",
                              "worker runs / killed mid-run"), "`make load`")
        header = next((l for l in load_path.read_text().splitlines() if l.startswith("load:")), "")
        if header:
            rows.append(("the `make load` run", header[len("load: "):]))
    else:
        rows.append(("the race at scale", "run `make load` (its last run failed or did not run)"))

    cost_path = out / "cost.txt"
    if cost_path.exists():
        text = cost_path.read_text()
        calls = {}
        for match in re.finditer(r"^\| (?:SQS )?`(\w+)` \| (\d+) \|", text, re.M):
            calls[match.group(1)] = calls.get(match.group(1), 0) + int(match.group(2))
        units = re.search(r"(\d+) WRU and ([\d.]+) RRU", text)
        listed = ", ".join(f"{n} {op}" for op, n in sorted(calls.items(), key=lambda kv: -kv[1]))
        summary = f"{sum(calls.values())} calls: {listed}"
        if units:
            summary += f"; {units.group(1)} WRU, {units.group(2)} RRU"
        rows.append(("AWS calls per approval lifecycle (cost test: two approvers, one approves)", summary))

    print(f"Measured on {machine()}.")
    print()
    print("| figure | value |")
    print("| --- | --- |")
    for figure, value in rows:
        print(f"| {figure} | {value} |")


if __name__ == "__main__":
    sys.exit(main())
