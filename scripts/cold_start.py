#!/usr/bin/env python3
"""Cold start of a function binary, from exec to its first answer, on this machine.

It plays Lambda's Runtime API on a free loopback port, starts the binary as Lambda would
(`AWS_LAMBDA_RUNTIME_API` and the function variables set), hands it one event and times:
  init:  exec -> the first `GET /runtime/invocation/next` (clients built, secret read);
  first: exec -> the first answer posted back (the event handled, the queue written).
  peak RSS: the process's resident-set high-water mark (VmHWM), read while it waits for
             its next event.
The AWS calls go to the moto server `scripts/with-aws.sh` started, so the secret's fetch
and the SQS send are real SDK calls over loopback. Run it through `make cold-start`.

usage: cold_start.py [--json] BINARY EVENT_JSON [RUNS]
"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

DEV_SECRET = json.load(open(os.path.join(os.path.dirname(__file__), "dev-secret.json")))
SIGNING_SECRET = DEV_SECRET["slack_signing_secret"].encode()
HOST_API_SECRET = DEV_SECRET["host_api_secret"].encode()


def fresh(event):
    """Re-signs a sample Slack or host event with the current time, so it is answered, not
    refused (the host's signature covers method, path and query, and body)."""
    headers = event.get("headers", {})
    now = str(int(time.time()))
    if "x-slack-signature" in headers:
        base = f"v0:{now}:{event['body']}".encode()
        headers["x-slack-request-timestamp"] = now
        headers["x-slack-signature"] = "v0=" + hmac.new(SIGNING_SECRET, base, hashlib.sha256).hexdigest()
    if "x-approvals-signature" in headers:
        http = event["requestContext"]["http"]
        query = event.get("rawQueryString") or ""
        target = event["rawPath"] + (f"?{query}" if query else "")
        base = f"v1:{now}:{http['method']}:{target}:".encode() + (event.get("body") or "").encode()
        headers["x-approvals-timestamp"] = now
        headers["x-approvals-signature"] = "v1=" + hmac.new(HOST_API_SECRET, base, hashlib.sha256).hexdigest()
    return event


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The two Runtime API calls a function makes for its first invocation."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        run = self.server.run
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        if run["served"]:
            # A second `next`: the invocation is over; the function stays parked here,
            # alive for its memory to be read, until it is killed, so nothing is answered.
            run["release"].wait(10)
            self.close_connection = True
            return
        run["init"] = time.perf_counter()
        run["served"] = True
        body = json.dumps(fresh(run["event"])).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "cold-start-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cold-start")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        run = self.server.run
        length = int(self.headers.get("Content-Length", 0))
        answer = self.rfile.read(length)
        run["first"] = time.perf_counter()
        run["answer"] = answer.decode(errors="replace")
        run["error"] = "/error" in self.path
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        run["done"].set()


def peak_rss_kb(pid):
    """VmHWM of a live process, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(binary, event):
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), RuntimeApi)
    server.run = {"event": event, "served": False, "done": threading.Event(),
                  "release": threading.Event()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        AWS_LAMBDA_FUNCTION_NAME="cold-start",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_STREAM_NAME="cold-start",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/cold-start",
        RUST_LOG="warn",
    )
    env.setdefault("HOST_WEBHOOK_URL", "http://127.0.0.1:9/webhooks")
    env.setdefault("PUBLIC_BASE_URL", "http://127.0.0.1:9")
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = server.run["done"].wait(20)
    # Read while the process waits on its next event: the kernel's high-water mark of its
    # resident set (not the reaped child's ru_maxrss, which keeps the forking parent's).
    rss = peak_rss_kb(process.pid)
    server.run["release"].set()
    process.kill()
    _, stderr = process.communicate()
    server.shutdown()
    run = server.run
    if not finished or run.get("error"):
        raise SystemExit(f"{binary} gave no answer: {run.get('answer')} {stderr.decode()[-2000:]}")
    return (run["init"] - start) * 1000, (run["first"] - start) * 1000, run["answer"], rss


def main():
    args = sys.argv[1:]
    as_json = args[:1] == ["--json"]
    args = args[1:] if as_json else args
    binary, event_path = args[0], args[1]
    runs = int(args[2]) if len(args) > 2 else 15
    event = json.load(open(event_path))
    inits, firsts, peaks = [], [], []
    answer = ""
    for _ in range(runs):
        init, first, answer, rss = one_run(binary, json.loads(json.dumps(event)))
        inits.append(init)
        firsts.append(first)
        peaks.append(rss)
    name = os.path.basename(binary)
    if as_json:
        status = ""
        try:
            status = json.loads(answer).get("statusCode", "")
        except (ValueError, AttributeError):
            pass
        print(json.dumps({
            "function": name, "runs": runs, "init_ms": round(statistics.median(inits), 1),
            "first_answer_ms": round(statistics.median(firsts), 1),
            "first_answer_max_ms": round(max(firsts), 1), "peak_rss_kb": max(peaks), "peak_rss_min_kb": min(peaks),
            "status": status,
        }))
        return
    print(
        f"{name}: init {statistics.median(inits):.1f} ms, first answer {statistics.median(firsts):.1f} ms "
        f"(median of {runs}; min {min(firsts):.1f}, max {max(firsts):.1f}); peak RSS {max(peaks) / 1024:.1f} MB; "
        f"answer {answer[:120]}"
    )


if __name__ == "__main__":
    main()
