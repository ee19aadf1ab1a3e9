#!/usr/bin/env python3
"""moto's server with DynamoDB requests serialised.

moto applies a conditional write in several steps without a lock, so two concurrent writes
can both pass their condition, which DynamoDB never allows. Our race tests (20 concurrent
clicks, 10 concurrent token refreshes) need DynamoDB's per-request atomicity, so DynamoDB
calls take one lock here; other services (SQS long polls included) stay concurrent.
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
