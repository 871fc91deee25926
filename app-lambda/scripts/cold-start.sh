#!/usr/bin/env bash
#
# app-lambda/scripts/cold-start.sh [RUNS] [PATH]: cold start of the release bootstrap under the
# cargo-lambda runtime emulator, on moto.
#
# For each run: start `cargo lambda watch --only-lambda-apis` (the Runtime API and the function
# URL endpoint, no function), queue one request on the function URL (default
# GET /api/runs/running, which reads DynamoDB), then spawn the bootstrap in a clean environment
# and time from the spawn to the answered request: process start, init (SDK config, router),
# the runtime's first poll, the handler, the response. A first, uncounted run creates the tables
# (CREATE_TABLES=true); the counted runs start as in production (CREATE_TABLES=false).
# Builds the zip with `cargo lambda build --release --x86-64 --output-format zip` if missing.
set -euo pipefail

runs="${1:-10}"
request_path="${2:-/api/runs/running}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
# shellcheck source-path=SCRIPTDIR/../.. source=scripts/lib/services.sh
source scripts/lib/services.sh
# shellcheck source-path=SCRIPTDIR/../.. source=scripts/lib/lambda.sh
source scripts/lib/lambda.sh
ensure_moto
ensure_cargo_lambda

target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
zip="$target_dir/lambda/app-lambda/bootstrap.zip"
if [[ ! -f "$zip" ]]; then
  log "building $zip"
  "$CARGO_LAMBDA" lambda build --release --x86-64 --output-format zip -p app-lambda --bin app-lambda >&2
fi
work="$(mktemp -d)"
watch_pid=""
function_pid=""
cleanup() {
  [[ -n "$function_pid" ]] && kill "$function_pid" 2>/dev/null
  [[ -n "$watch_pid" ]] && kill -TERM -- "-$watch_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && unzip -q "$zip")
bootstrap="$work/bootstrap"
log "bootstrap: $(stat -c %s "$bootstrap") bytes ($(stat -c %s "$zip") zipped)"

suffix="$(date +%s)$RANDOM"
runs_table="cold-runs-$suffix"
readings_table="cold-readings-$suffix"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# one_run CREATE_TABLES: prints the milliseconds from spawning the bootstrap to the answer.
one_run() {
  local create="$1" port out t0 t1 code
  port="$(free_port)"
  # shellcheck disable=SC2016 # $$ and $1.. expand in the inner bash
  setsid bash -c 'echo "$$" >"$1"; exec "$2" lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$3"' \
    watch "$work/watch.pid" "$CARGO_LAMBDA" "$port" >"$work/watch.log" 2>&1 </dev/null &
  until [[ -s "$work/watch.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
  watch_pid="$(<"$work/watch.pid")"
  out="$work/answer"
  curl -s -o "$out" -w '%{http_code}' --max-time 60 "http://127.0.0.1:$port$request_path" >"$work/code" &
  local curl_pid=$!
  sleep 0.3 # the request is queued, waiting for a function instance
  t0="${EPOCHREALTIME//[!0-9]/}"
  env -i \
    AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
    DYNAMODB_ENDPOINT="$TEST_DYNAMODB_ENDPOINT" RUNS_TABLE="$runs_table" READINGS_TABLE="$readings_table" \
    CREATE_TABLES="$create" RUST_LOG=warn \
    "$bootstrap" >"$work/function.out" 2>"$work/function.err" &
  function_pid=$!
  wait "$curl_pid"
  t1="${EPOCHREALTIME//[!0-9]/}"
  code="$(<"$work/code")"
  kill "$function_pid" 2>/dev/null; wait "$function_pid" 2>/dev/null || true
  function_pid=""
  kill -TERM -- "-$watch_pid" 2>/dev/null; wait 2>/dev/null || true
  watch_pid=""
  rm -f "$work/watch.pid"
  if [[ "$code" != 200 ]]; then
    log "ERROR: $request_path answered $code: $(cat "$out")"
    tail -n 5 "$work/function.err" >&2
    return 1
  fi
  echo $(((t1 - t0) / 1000))
}

log "warm-up run (creates $runs_table, $readings_table; not counted)"
one_run true >/dev/null
results=()
for ((i = 1; i <= runs; i++)); do
  results+=("$(one_run false)")
done
# The tables go with boto3 from moto's venv.
"$IOT_TOOLS_DIR/venv-moto/bin/python" - "$TEST_DYNAMODB_ENDPOINT" "$runs_table" "$readings_table" <<'PY' || log "WARNING: could not delete the tables"
import sys, boto3
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
for table in sys.argv[2:]:
    client.delete_table(TableName=table)
PY
sorted="$(printf '%s\n' "${results[@]}" | sort -n)"
median="$(sed -n "$(((runs + 1) / 2))p" <<<"$sorted")"
echo "cold start, bootstrap spawn -> answered $request_path, $runs runs (ms): $(tr '\n' ' ' <<<"$sorted")"
echo "min $(head -n 1 <<<"$sorted") ms, median $median ms, max $(tail -n 1 <<<"$sorted") ms"
