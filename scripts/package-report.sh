#!/usr/bin/env bash
# Prints each function's zip and binary size from build/lambda, and fails if a zip is over
# this project's budget: 5 MB (Lambda's own limit for a direct upload is 50 MB).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$root/build/lambda" <<'PY'
import pathlib, sys, zipfile
LIMIT = 5 * 1000 * 1000
zips = sorted(pathlib.Path(sys.argv[1]).glob("*/bootstrap.zip"))
if not zips:
    sys.exit("package: no build/lambda/*/bootstrap.zip; run `make package`")
print("| function | bootstrap.zip | bootstrap inside |")
print("| --- | --- | --- |")
over = []
for path in zips:
    name = path.parent.name
    size = path.stat().st_size
    inside = zipfile.ZipFile(path).getinfo("bootstrap").file_size
    print(f"| `{name}` | {size / 1e6:.2f} MB | {inside / 1e6:.1f} MB |")
    if size > LIMIT:
        over.append(f"{name} ({size} bytes)")
if over:
    sys.exit("package: over the 5 MB budget: " + ", ".join(over))
PY
