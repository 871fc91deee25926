"""Warm figures of Lambda bootstraps, served by a minimal Lambda Runtime API (bench/lambda).

    python3 bench/lambda_runtime.py HELLO_BOOTSTRAP APP_BOOTSTRAP

Each bootstrap runs as one long-lived process polling its own Runtime API (the endpoints a
custom runtime uses: `invocation/next`, `invocation/{id}/response`, `invocation/{id}/error`,
`init/error`), on one keep-alive connection, as in Lambda. This script hands out API Gateway
HTTP API (payload 2.0) events one at a time and checks every answer.

Measures, with the environment's ROUNDS (5), INVOCATIONS (200 per round and function),
LARGE_RUN (5000 readings), WARM_REQUEST (`ingest`; `health` sends `GET /health` instead, which
sets the router's own cost apart from the store's):
  * warm CPU per ingest: utime + stime of the function's process (from /proc) over the
    invocations of a round, rounds interleaved between the functions, after a warm-up;
    app-lambda answers `POST /api/sensors/data` (one reading, server-stamped, into DynamoDB),
    the hello world the same event;
  * RSS (VmRSS) of each process after the warm rounds;
  * app-lambda's RSS after it ingested a run of LARGE_RUN readings (batches of 1000), then
    after it answered `GET /api/runs/{id}/summary` of that run, and its peak RSS (VmHWM).

The app's environment (DynamoDB endpoint, tables, credentials) is this script's environment
plus what `bench/lambda` passes; prints one JSON object on stdout.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TICK = os.sysconf("SC_CLK_TCK")
ANSWER_TIMEOUT = 120


class Function:
    """One bootstrap process and the Runtime API it polls."""

    def __init__(self, name, bootstrap, env):
        self.name = name
        self.events = queue.Queue()
        self.answers = {}
        self.answered = threading.Condition()
        self.failure = None
        function = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.reply(404)
                    return
                request_id, event = function.events.get()
                deadline = int(time.time() * 1000) + ANSWER_TIMEOUT * 1000
                self.reply(200, json.dumps(event).encode(), [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     f"arn:aws:lambda:us-east-1:123456789012:function:{function.name}"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                ])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.split("/")
                if self.path.endswith("/init/error"):
                    function.failure = f"init error: {body.decode(errors='replace')}"
                    self.reply(202)
                    with function.answered:
                        function.answered.notify_all()
                    return
                if len(parts) < 2 or parts[-1] not in ("response", "error"):
                    self.reply(404)
                    return
                request_id = parts[-2]
                answer = json.loads(body) if parts[-1] == "response" else {"error": body.decode()}
                self.reply(202)
                with function.answered:
                    function.answers[request_id] = answer
                    function.answered.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a stopped function's reset
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        port = self.server.server_address[1]
        self.process = subprocess.Popen(
            [bootstrap],
            env={**env, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}",
                 "AWS_LAMBDA_FUNCTION_NAME": name},
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("FUNCTION_LOG_DIR", "/tmp") + f"/{name}.err", "w"),
        )

    def invoke(self, event):
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        deadline = time.monotonic() + ANSWER_TIMEOUT
        with self.answered:
            while request_id not in self.answers:
                if self.failure or self.process.poll() is not None:
                    sys.exit(f"{self.name}: {self.failure or 'exited'} (rc {self.process.poll()})")
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit(f"{self.name}: no answer within {ANSWER_TIMEOUT} s")
                self.answered.wait(min(left, 1))
            return self.answers.pop(request_id)

    def cpu_ms(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / TICK

    def status_kb(self, key):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.server.shutdown()


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def http_event(method, path, body=None, headers=None):
    """An API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-user": "bench", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(function, event, expected):
    answer = function.invoke(event)
    if answer.get("statusCode") not in expected:
        sys.exit(f"{function.name}: {event['requestContext']['http']['method']} "
                 f"{event['rawPath']} answered {answer}")
    return json.loads(answer.get("body") or "null")


BATCH = 1000


def function_env(**overrides):
    """The functions' environment: this script's DynamoDB endpoint, tables and credentials, with
    timeouts generous enough for the emulator, which is slower than DynamoDB at reading a large
    partition; then `overrides`."""
    env = {key: os.environ[key] for key in (
        "PATH", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED", "DYNAMODB_ENDPOINT", "RUNS_TABLE", "READINGS_TABLE",
        "RUST_LOG") if key in os.environ}
    env.update(AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
               CREATE_TABLES="true", MAX_CONCURRENT_RUNS="100", MAX_RUNS_PER_USER="100",
               DYNAMODB_OPERATION_TIMEOUT_MS="120000", DYNAMODB_ATTEMPT_TIMEOUT_MS="60000",
               REQUEST_TIMEOUT_SECS="300", **overrides)
    return env


def ingest_batches(app, run_id, count, sensors):
    """Ingests `count` readings (rounded down to whole batches) of `sensors` into run `run_id`,
    in batches of BATCH, one timestamped second per batch."""
    for b in range(count // BATCH):
        readings = [{"sensorId": sensors[i % len(sensors)], "type": "temperature",
                     "reading": 20 + (i % 50) / 10,
                     "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
                         1767225600 + b)) + f".{i:06d}Z"}
                    for i in range(BATCH)]
        call(app, http_event("POST", f"/api/runs/{run_id}/readings",
                             {"readings": readings}), {201})


SENSORS = [f"sensor-{i}" for i in range(100)]


def start_run(app):
    run = call(app, http_event("POST", "/api/runs/start",
                               {"sensorIds": SENSORS, "duration": 86400, "interval": 0.2}), {201})
    return run["id"]


def ingest_event(run_id, i):
    return http_event("POST", "/api/sensors/data",
                      {"sensorId": SENSORS[i % len(SENSORS)], "type": "temperature",
                       "reading": 15 + (i % 200) / 10},
                      {"x-run-id": run_id})


def main():
    hello_bootstrap, app_bootstrap = sys.argv[1:3]
    rounds = int(os.environ.get("ROUNDS", "5"))
    invocations = int(os.environ.get("INVOCATIONS", "200"))
    large = int(os.environ.get("LARGE_RUN", "5000"))
    warm_request = os.environ.get("WARM_REQUEST", "ingest")
    if warm_request not in ("ingest", "health"):
        sys.exit(f"WARM_REQUEST={warm_request}: expected ingest or health")
    health = http_event("GET", "/health") if warm_request == "health" else None
    env = function_env()
    functions = {"hello": Function("hello", hello_bootstrap, env),
                 "app": Function("app", app_bootstrap, env)}
    try:
        hello, app = functions["hello"], functions["app"]
        run_id = start_run(app)
        counter = 0

        def ingest(function):
            nonlocal counter
            counter += 1
            event = health if health else ingest_event(run_id, counter)
            call(function, event, {200, 201})

        for _ in range(min(invocations, 100)):  # warm-up: connections, caches, allocator
            ingest(hello)
            ingest(app)
        cpu = {"hello": 0.0, "app": 0.0}
        for _ in range(rounds):
            for name, function in functions.items():
                before = function.cpu_ms()
                for _ in range(invocations):
                    ingest(function)
                cpu[name] += function.cpu_ms() - before
        log(f"warm rounds done: {rounds} x {invocations} invocations per function")
        result = {name: {"cpu_ms_per_invocation": cpu[name] / (rounds * invocations),
                         "rss_warm_kb": f.status_kb("VmRSS")}
                  for name, f in functions.items()}

        large_run = start_run(app)
        batch = BATCH
        ingest_batches(app, large_run, large, SENSORS)
        log(f"large run: {large} readings ingested")
        rss_after_ingest = app.status_kb("VmRSS")
        summary = call(app, http_event("GET", f"/api/runs/{large_run}/summary"), {200})
        count = sum(group["count"] for group in summary["sensors"])
        if count != large // batch * batch:
            sys.exit(f"app: the summary counts {count} readings, {large // batch * batch} were sent")
        result["app"].update(large_run_readings=large, summary_count=count,
                             rss_after_ingest_kb=rss_after_ingest,
                             rss_after_summary_kb=app.status_kb("VmRSS"),
                             rss_peak_kb=app.status_kb("VmHWM"))
        result["hello"]["rss_peak_kb"] = hello.status_kb("VmHWM")
        json.dump(result, sys.stdout)
        print()
    finally:
        for function in functions.values():
            function.stop()


if __name__ == "__main__":
    main()
