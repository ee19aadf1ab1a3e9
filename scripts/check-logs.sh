#!/usr/bin/env bash
# Fails if any log written during `make test` holds a secret or a token: every value of the
# local application secret (but the public client id) and anything shaped like a Slack
# token. The logs are the integration tests' (build/logs/integration.jsonl) and the local
# stack's under the browser test (build/logs/dev-server.log).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
logs=("$root"/build/logs/*)
[ -e "${logs[0]}" ] || { echo "check-logs: no logs in build/logs; run the tests first" >&2; exit 1; }

lines=$(cat "${logs[@]}" | wc -l)
# A search of empty logs would prove nothing.
[ "$lines" -ge 100 ] || { echo "check-logs: only $lines log lines; is logging on?" >&2; exit 1; }

secrets=$(python3 - "$root/scripts/dev-secret.json" <<'PY'
import json, sys
secret = json.load(open(sys.argv[1]))
for key, value in secret.items():
    if key == "slack_client_id":
        continue
    for one in value if isinstance(value, list) else [value]:
        if isinstance(one, str):
            print(one)
PY
)

found=0
while IFS= read -r value; do
  [ -n "$value" ] || continue
  if grep -F -l -- "$value" "${logs[@]}" >/dev/null; then
    echo "check-logs: a secret value appears in $(grep -F -l -- "$value" "${logs[@]}" | tr '\n' ' ')" >&2
    found=1
  fi
done <<< "$secrets"
# Bot, user, refresh and rotated tokens (xoxb-, xoxp-, xoxe-, xoxe.xoxb-).
if grep -E -n -o 'xox[abpe][.-][A-Za-z0-9.-]{8,}' "${logs[@]}" | sed -E 's/(xox[abpe][.-][A-Za-z0-9]{2}).*/\1…/' | head -5 | grep .; then
  echo "check-logs: Slack tokens appear in the logs (first five shown, cut short)" >&2
  found=1
fi
[ "$found" -eq 0 ] && echo "check-logs: $lines log lines, no secret or token"
exit "$found"
