# shellcheck shell=bash
#
# scripts/lib/lambda.sh: the Lambda tooling the tests and the local playground need.
#
#   source scripts/lib/lambda.sh
#   ensure_cargo_lambda   # cargo-lambda (PyPI) in its own venv, exports CARGO_LAMBDA
#   lambda_cold_start WORK BOOTSTRAP PATH [VAR=VALUE...]   # one cold start, timed (below)
#   lambda_delete_tables TABLE...   # drops tables from the moto emulator (after ensure_moto)
#
# Idempotent: a finished install is reused (marker file naming the pinned spec);
# an interrupted one is retried. Does not change the caller's shell options;
# returns non-zero on failure. Chatter goes to stderr. Call it in the current
# shell (it exports), not inside "$(...)".

if [[ -n "${_IOT_LAMBDA_LIB_LOADED:-}" ]]; then
  return 0
fi
_IOT_LAMBDA_LIB_LOADED=1

IOT_TOOLS_DIR="${IOT_TOOLS_DIR:-$HOME/.cache/iot-playground}"
# 1.9.x is the version these scripts are tested with; the wheel bundles
# the cargo-lambda binary and pulls ziglang (used for cross builds and zips).
_IOT_CARGO_LAMBDA_SPEC='cargo-lambda==1.9.*'

_iot_lambda_log() {
  printf '==> %s\n' "$*" >&2
}

ensure_cargo_lambda() {
  local venv="$IOT_TOOLS_DIR/venv-cargo-lambda"
  local marker="$venv/.installed-${_IOT_CARGO_LAMBDA_SPEC//[^A-Za-z0-9.]/_}"
  local bin="$venv/bin/cargo-lambda"

  if [[ -n "${CARGO_LAMBDA:-}" && -x "$CARGO_LAMBDA" ]]; then
    _iot_lambda_log "cargo-lambda: using CARGO_LAMBDA=$CARGO_LAMBDA"
    export CARGO_LAMBDA
    return 0
  fi
  if [[ ! -f "$marker" || ! -x "$bin" ]]; then
    _iot_lambda_log "cargo-lambda: installing $_IOT_CARGO_LAMBDA_SPEC into $venv"
    "${IOT_PYTHON:-python3}" -m venv "$venv" >&2 ||
      { _iot_lambda_log "ERROR: python3 -m venv $venv failed"; return 1; }
    "$venv/bin/python" -m pip install -q "$_IOT_CARGO_LAMBDA_SPEC" >&2 ||
      { _iot_lambda_log "ERROR: pip install cargo-lambda failed"; return 1; }
    [[ -x "$bin" ]] ||
      { _iot_lambda_log "ERROR: $bin missing after the install"; return 1; }
    touch "$marker"
  fi
  # `cargo lambda build` links with zig, which it looks up as `zig` on PATH (or as the
  # ziglang module of whatever `python3` comes first). The ziglang wheel ships the binary in
  # its package folder: append that folder (not the venv's bin, whose python3 would shadow
  # the system one).
  local zig_dir
  zig_dir="$("$venv/bin/python" -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))')" ||
    { _iot_lambda_log "ERROR: the ziglang package is missing from $venv"; return 1; }
  [[ -x "$zig_dir/zig" ]] ||
    { _iot_lambda_log "ERROR: no zig binary in $zig_dir"; return 1; }
  case ":$PATH:" in
    *":$zig_dir:"*) ;;
    *) export PATH="$PATH:$zig_dir" ;;
  esac
  export CARGO_LAMBDA="$bin"
  _iot_lambda_log "cargo-lambda: ready ($("$bin" lambda --version 2>&1 | head -n 1), zig $("$zig_dir/zig" version 2>&1))"
}

# lambda_cold_start WORK BOOTSTRAP REQUEST_PATH [VAR=VALUE...]: one cold start under the
# cargo-lambda runtime emulator. Starts `cargo lambda watch --only-lambda-apis` (the Runtime API
# and the function URL endpoint, no function) on a free port, queues `GET REQUEST_PATH` on the
# function URL, then spawns BOOTSTRAP in a clean environment (Lambda's variables, dummy AWS
# credentials, `RUST_LOG=warn`, then the VAR=VALUE given) and times from the spawn to the
# answered request: process start, init, the runtime's first poll, the handler, the response.
# Sets LAMBDA_COLD_START to "MS RSS_KB CPU_US": the milliseconds (to 0.1 ms), the function's VmRSS right
# after it answered, and the CPU time its threads had used by then (from /proc/PID/task/*/schedstat:
# unlike the milliseconds, it does not grow when other processes compete for the cores). Fails (non-zero, the answer and the function's stderr on stderr) unless the
# answer is 200. WORK is a scratch directory; needs ensure_cargo_lambda. Call it in the current
# shell (not inside "$(...)"), and lambda_cold_start_stop from an EXIT trap: it stops what an
# interrupted run left behind.
lambda_cold_start() {
  local work="$1" bootstrap="$2" request_path="$3"
  shift 3
  local port t0 t1 code rss cpu curl_pid
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  rm -f "$work/watch.pid"
  # shellcheck disable=SC2016 # $$ and $1.. expand in the inner bash
  setsid bash -c 'echo "$$" >"$1"; exec "$2" lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$3"' \
    watch "$work/watch.pid" "$CARGO_LAMBDA" "$port" >"$work/watch.log" 2>&1 </dev/null &
  until [[ -s "$work/watch.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
  _iot_watch_pid="$(<"$work/watch.pid")"
  curl -s -o "$work/answer" -w '%{http_code}' --max-time 60 "http://127.0.0.1:$port$request_path" >"$work/code" &
  curl_pid=$!
  sleep 0.3 # the request is queued, waiting for a function instance
  t0="${EPOCHREALTIME//[!0-9]/}"
  env -i \
    AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
    RUST_LOG=warn "$@" \
    "$bootstrap" >"$work/function.out" 2>"$work/function.err" &
  _iot_function_pid=$!
  wait "$curl_pid"
  t1="${EPOCHREALTIME//[!0-9]/}"
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$_iot_function_pid/status" 2>/dev/null || echo 0)"
  cpu="$(cat "/proc/$_iot_function_pid"/task/*/schedstat 2>/dev/null | awk '{ns += $1} END {printf "%d", ns / 1000}')"
  code="$(<"$work/code")"
  lambda_cold_start_stop
  if [[ "$code" != 200 ]]; then
    _iot_lambda_log "ERROR: $request_path answered $code: $(cat "$work/answer")"
    tail -n 5 "$work/function.err" >&2
    return 1
  fi
  LAMBDA_COLD_START="$(awk -v us="$((t1 - t0))" 'BEGIN {printf "%.1f", us / 1000}') ${rss:-0} ${cpu:-0}"
}

lambda_cold_start_stop() {
  if [[ -n "${_iot_function_pid:-}" ]]; then
    kill "$_iot_function_pid" 2>/dev/null || true
    wait "$_iot_function_pid" 2>/dev/null || true
  fi
  if [[ -n "${_iot_watch_pid:-}" ]]; then
    kill -TERM -- "-$_iot_watch_pid" 2>/dev/null || true
    wait 2>/dev/null || true
  fi
  _iot_function_pid="" _iot_watch_pid=""
}

# lambda_delete_tables TABLE...: deletes the tables from the emulator at TEST_DYNAMODB_ENDPOINT
# (boto3 from moto's venv); a failure is only a warning.
lambda_delete_tables() {
  "$IOT_TOOLS_DIR/venv-moto/bin/python" - "$TEST_DYNAMODB_ENDPOINT" "$@" <<'PY' ||
import sys, boto3
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
for table in sys.argv[2:]:
    client.delete_table(TableName=table)
PY
    _iot_lambda_log "WARNING: could not delete the tables $*"
}
