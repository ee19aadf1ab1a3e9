#!/usr/bin/env python3
"""moto's server with DynamoDB requests serialised, and every request counted.

moto applies a conditional write in several steps without a lock, so two concurrent writes
can both pass their condition, which DynamoDB never allows. Our race tests (20 concurrent
clicks, 10 concurrent token refreshes) need DynamoDB's per-request atomicity, so DynamoDB
calls take one lock here; other services (SQS long polls included) stay concurrent.

Each DynamoDB, SQS and Secrets Manager request is also counted by the table, queue or
secret it names, so a test can say what one approval costs: `GET /_counts/<name>` answers
`{"Operation": {"calls": n, "items": m}}` for that resource (items: what a batch carried).

moto's SQS is also made quick on long queues (`quick_sqs`), so the load test's queue of
thousands keeps up.

It is also the fault-injecting proxy of the fault matrix: `POST /_faults` with
`{"resource": <table>, "operation": "UpdateItem", "count": n}` makes the next n such
requests answer DynamoDB's `ProvisionedThroughputExceededException` (HTTP 400), as a
throttled table does, without reaching moto.
"""

import argparse
import collections
import io
import json
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

DYNAMODB_TARGET_PREFIX = "DynamoDB_"


def serialise_dynamodb(app):
    lock = threading.Lock()

    def application(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            with lock:
                # Consume the whole answer inside the lock: moto may build it lazily.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return application


COUNTS = collections.defaultdict(
    lambda: collections.defaultdict(lambda: {"calls": 0, "items": 0, "by_key": collections.Counter()})
)
COUNTS_LOCK = threading.Lock()
FAULTS = collections.Counter()

def quick_sqs():
    """moto's SQS walks every message of a queue on each send and receive (its attributes
    count them, and a receive checks each message's retention through them), reading the
    clock through two datetime conversions per message: a queue holding thousands (`make
    load`) stalls everything behind the GIL. Read the clock directly and check retention
    against the one attribute it needs; the answers are the same."""
    import time

    from moto.core import utils as moto_utils
    from moto.sqs import models

    exact_unix_time = moto_utils.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else exact_unix_time(dt)

    def unix_time_millis(dt=None):
        return unix_time(dt) * 1000.0

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


THROTTLED = json.dumps({
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded.",
}).encode()


def resources_of(operation, body):
    """(resource, items) pairs a request touches: batches name several tables."""
    if "RequestItems" in body:
        return [(table, len(items) if isinstance(items, list) else len(items.get("Keys", [])))
                for table, items in body["RequestItems"].items()]
    if "TransactItems" in body:
        touched = collections.Counter()
        for item in body["TransactItems"]:
            for action in item.values():
                touched[action.get("TableName", "?")] += 1
        return list(touched.items())
    if "TableName" in body:
        return [(body["TableName"], 1)]
    if "QueueUrl" in body:
        entries = body.get("Entries")
        return [(body["QueueUrl"].rstrip("/").rsplit("/", 1)[-1], len(entries) if entries else 1)]
    if "SecretId" in body:
        return [(body["SecretId"], 1)]
    return []


def key_kind(body):
    """What a single-item request names, as `PK/SK` prefixes (`APPROVAL/APPROVAL` is an
    approval's own item), `+consistent` for a strongly consistent read: its size and
    consistency decide what DynamoDB bills."""
    key = body.get("Key") or body.get("Item")
    if not isinstance(key, dict):
        return None
    prefix = lambda name: str(key.get(name, {}).get("S", "?")).split("#", 1)[0]
    kind = f"{prefix('pk')}/{prefix('sk')}"
    return kind + "+consistent" if body.get("ConsistentRead") else kind


def count_requests(app):
    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_counts/"):
            name = path[len("/_counts/"):]
            with COUNTS_LOCK:
                answer = json.dumps(COUNTS.get(name, {})).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [answer]
        if path == "/_faults" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            fault = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with COUNTS_LOCK:
                FAULTS[(fault["resource"], fault["operation"])] += int(fault["count"])
            start_response("204 No Content", [])
            return [b""]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            operation = target.split(".")[-1]
            kind = key_kind(body)
            throttled = False
            with COUNTS_LOCK:
                for resource, items in resources_of(operation, body):
                    COUNTS[resource][operation]["calls"] += 1
                    COUNTS[resource][operation]["items"] += items
                    if kind:
                        COUNTS[resource][operation]["by_key"][kind] += 1
                    if FAULTS[(resource, operation)] > 0:
                        FAULTS[(resource, operation)] -= 1
                        throttled = True
            if throttled:
                start_response("400 Bad Request", [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("x-amzn-ErrorType", "ProvisionedThroughputExceededException"),
                ])
                return [THROTTLED]
        return app(environ, start_response)

    return application


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    quick_sqs()
    app = count_requests(serialise_dynamodb(DomainDispatcherApplication(create_backend_app)))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
