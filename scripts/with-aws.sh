#!/usr/bin/env bash
# Runs a command against a fresh moto server on a free loopback port, provisioned from
# template.yaml. The server is stopped when the command ends, however it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
state="$root/.dev"
mkdir -p "$state"

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null || true' EXIT INT TERM

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

for _ in $(seq 1 100); do
  if curl -fsS "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1; then break; fi
  kill -0 "$moto_pid" 2>/dev/null || { cat "$state/moto.log"; echo "moto did not start" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$AWS_ENDPOINT_URL/moto-api/" >/dev/null || { echo "moto is not answering on $AWS_ENDPOINT_URL" >&2; exit 1; }

"$venv/bin/python" "$root/scripts/provision.py" "$AWS_ENDPOINT_URL" >"$state/aws.env"
# shellcheck disable=SC1091
. "$state/aws.env"
echo "moto on $AWS_ENDPOINT_URL; table $APP_TABLE" >&2
"$@"
