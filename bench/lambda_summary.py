"""app-lambda's `GET /api/runs/{id}/summary` as a run grows, on DynamoDB (bench/lambda, row l4).

    python3 bench/lambda_summary.py APP_BOOTSTRAP

For each size of SUMMARY_SIZES (default "1000 5000"), starts a run of SUMMARY_SENSORS
sensors (default 10), ingests that many readings through the function in batches of 1000, then
reads the run's summary SUMMARY_READS times (default 7) and checks that it counts every reading.
The function reaches the emulator through a counting proxy (this script), which adds up the
`ScannedCount` of every `Query` answer: the items DynamoDB reads, and bills, for a summary.

Prints one JSON object: per size, the median wall time of a summary (runtime API round trip) and
the items one summary read. Wall times come from the emulator, whose every `Query` walks the
whole table (moto); the items read are what DynamoDB itself would read.

The function's environment is this script's (DynamoDB endpoint, tables, credentials), as for
bench/lambda_runtime.py, whose minimal Runtime API this script reuses.
"""

import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_runtime import (  # noqa: E402
    BATCH, Function, call, function_env, http_event, ingest_batches, log)


class Counter:
    """Items read by `Query` calls since the last reset."""

    def __init__(self):
        self.lock = threading.Lock()
        self.scanned = 0
        self.queries = 0

    def add(self, scanned):
        with self.lock:
            self.scanned += scanned
            self.queries += 1

    def take(self):
        with self.lock:
            taken = (self.scanned, self.queries)
            self.scanned = self.queries = 0
            return taken


def start_proxy(upstream, counter):
    """A plain-HTTP proxy to the emulator at `upstream` that counts what each `Query` read."""
    target = urllib.parse.urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
            connection.request("POST", self.path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            if self.headers.get("X-Amz-Target", "").endswith(".Query") and answer.status == 200:
                counter.add(json.loads(data).get("ScannedCount", 0))
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    app_bootstrap = sys.argv[1]
    sizes = [int(n) for n in os.environ.get("SUMMARY_SIZES", "1000 5000").split()]
    sensors = [f"sensor-{i}" for i in range(int(os.environ.get("SUMMARY_SENSORS", "10")))]
    reads = int(os.environ.get("SUMMARY_READS", "7"))
    counter = Counter()
    proxy = start_proxy(os.environ["DYNAMODB_ENDPOINT"], counter)
    env = function_env(DYNAMODB_ENDPOINT=f"http://127.0.0.1:{proxy.server_address[1]}")
    app = Function("summary", app_bootstrap, env)
    result = {}
    try:
        for size in sizes:
            run = call(app, http_event("POST", "/api/runs/start",
                                       {"sensorIds": sensors, "duration": 86400,
                                        "interval": 0.2}), {201})["id"]
            started = time.monotonic()
            ingest_batches(app, run, size, sensors)
            log(f"summary run: {size} readings ingested in {time.monotonic() - started:.0f} s")
            counter.take()
            walls, scanned = [], []
            for _ in range(reads):
                before = time.monotonic()
                summary = call(app, http_event("GET", f"/api/runs/{run}/summary"), {200})
                walls.append((time.monotonic() - before) * 1000)
                scanned.append(counter.take()[0])
                count = sum(group["count"] for group in summary["sensors"])
                if count != size // BATCH * BATCH:
                    sys.exit(f"summary: counts {count} readings, {size // BATCH * BATCH} were sent")
            result[str(size)] = {"wall_ms": statistics.median(walls),
                                 "items_read": statistics.median(scanned)}
        json.dump(result, sys.stdout)
        print()
    finally:
        app.stop()
        proxy.shutdown()


if __name__ == "__main__":
    main()
