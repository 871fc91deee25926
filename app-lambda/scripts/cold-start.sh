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
# Builds the zip with `cargo lambda build --profile lambda --x86-64 --output-format zip` if missing.
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
  "$CARGO_LAMBDA" lambda build --profile lambda --x86-64 --output-format zip -p app-lambda --bin app-lambda >&2
fi
work="$(mktemp -d)"
cleanup() {
  lambda_cold_start_stop
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && unzip -q "$zip")
bootstrap="$work/bootstrap"
log "bootstrap: $(stat -c %s "$bootstrap") bytes ($(stat -c %s "$zip") zipped)"

suffix="$(date +%s)$RANDOM"
runs_table="cold-runs-$suffix"
readings_table="cold-readings-$suffix"

# one_run CREATE_TABLES: one cold start (scripts/lib/lambda.sh), into LAMBDA_COLD_START.
one_run() {
  lambda_cold_start "$work" "$bootstrap" "$request_path" \
    DYNAMODB_ENDPOINT="$TEST_DYNAMODB_ENDPOINT" RUNS_TABLE="$runs_table" READINGS_TABLE="$readings_table" \
    CREATE_TABLES="$1"
}

log "warm-up run (creates $runs_table, $readings_table; not counted)"
one_run true
results=()
for ((i = 1; i <= runs; i++)); do
  one_run false
  results+=("${LAMBDA_COLD_START%% *}")
done
lambda_delete_tables "$runs_table" "$readings_table"
sorted="$(printf '%s\n' "${results[@]}" | sort -n)"
median="$(sed -n "$(((runs + 1) / 2))p" <<<"$sorted")"
echo "cold start, bootstrap spawn -> answered $request_path, $runs runs (ms): $(tr '\n' ' ' <<<"$sorted")"
echo "min $(head -n 1 <<<"$sorted") ms, median $median ms, max $(tail -n 1 <<<"$sorted") ms"
