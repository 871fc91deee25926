"""moto_server, applying one request at a time.

Real DynamoDB applies each request atomically: a conditional write or a TransactWriteItems either
sees the item as it is and changes it, or fails its condition. moto's threaded server evaluates
conditions and applies writes without a lock, so two concurrent conditional updates of one item
can both succeed -- which breaks optimistic-concurrency protocols (our capacity item) that are
correct on DynamoDB. This launcher serves moto's own WSGI application behind one lock: requests
are still accepted concurrently (keep-alive and all), but handled one after the other, which is
the atomicity the protocols rely on.

    python moto_server_serial.py -H 127.0.0.1 -p 4566
"""

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # Drain the response inside the lock: moto may build it lazily.
            return [b"".join(app(environ, start_response))]

    run_simple(args.host, args.port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
