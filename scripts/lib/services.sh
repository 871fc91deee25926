# shellcheck shell=bash
#
# scripts/lib/services.sh: start the local services the test suites need.
#
#   source scripts/lib/services.sh
#   ensure_postgres   # PostgreSQL 15 + role/database iot, exports TEST_DATABASE_URL
#   ensure_moto       # moto DynamoDB emulator, exports TEST_DYNAMODB_ENDPOINT + dummy AWS_*
#   ensure_promtool   # promtool (Debian `prometheus` package), server left stopped
#   stop_started_services [--all]   # stop moto started by this shell (--all: any we recorded)
#   stop_postgres
#
# Every function is idempotent: it reuses whatever already runs and only starts
# what is missing. The library does not change the caller's shell options (it
# may be sourced from an interactive shell), so each function checks its own
# errors and returns non-zero instead of relying on `set -e`. The functions
# export variables, so call them in the current shell, not inside "$(...)".
# All chatter goes to stderr so stdout stays usable (scripts/dev-services).

# Sourcing twice must not reset the record of what this shell started.
if [[ -n "${_IOT_SERVICES_LIB_LOADED:-}" ]]; then
  return 0
fi
_IOT_SERVICES_LIB_LOADED=1

IOT_TOOLS_DIR="${IOT_TOOLS_DIR:-$HOME/.cache/iot-playground}"
# Pid files live here so that another shell (scripts/dev-services stop) can find them.
_IOT_RUN_DIR="$IOT_TOOLS_DIR/run"
_IOT_LOG_DIR="$IOT_TOOLS_DIR/logs"
_IOT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Microseconds since the epoch; strip the decimal separator, whatever the locale uses.
_IOT_T0_US="${EPOCHREALTIME//[!0-9]/}"
_IOT_APT_UPDATED=0
# Ports of the moto servers this shell started (only these are stopped on exit).
_IOT_STARTED_MOTO_PORTS=()

_IOT_PG_VERSION=15
# Another cluster (created on first use) keeps a benchmark away from the one tests share.
_IOT_PG_CLUSTER="${IOT_PG_CLUSTER:-main}"
_IOT_PG_PORT="${IOT_PG_PORT:-5432}"
_IOT_MOTO_SPEC='moto[dynamodb]==5.*'

# log MESSAGE... : "==> [  12.3s] message" on stderr, seconds since the library was sourced.
log() {
  local now_us elapsed_ds
  now_us="${EPOCHREALTIME//[!0-9]/}"
  elapsed_ds=$(((now_us - _IOT_T0_US) / 100000))
  printf '==> [%4d.%ds] %s\n' "$((elapsed_ds / 10))" "$((elapsed_ds % 10))" "$*" >&2
}

# Run as root: directly when we are root (CI), through sudo otherwise.
_iot_as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

# _iot_apt_install PACKAGE...: `apt-get update` at most once per shell, then a
# non-interactive install without Recommends (prometheus would otherwise pull
# in prometheus-node-exporter, another daemon). dpkg ignores -qq, so the
# output goes to a log file that is shown only when the install fails.
_iot_apt_install() {
  local aptlog="$_IOT_LOG_DIR/apt.log"
  mkdir -p "$_IOT_LOG_DIR" || return 1
  if [[ $_IOT_APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    if ! _iot_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$aptlog" 2>&1; then
      tail -n 20 "$aptlog" >&2
      log "ERROR: apt-get update failed (full log: $aptlog)"
      return 1
    fi
    _IOT_APT_UPDATED=1
  fi
  log "apt-get install $* (log: $aptlog)"
  if ! _iot_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@" >>"$aptlog" 2>&1; then
    tail -n 20 "$aptlog" >&2
    log "ERROR: apt-get install $* failed (full log: $aptlog)"
    return 1
  fi
}

# psql as the postgres superuser over the local socket (peer auth), SQL on
# stdin. cd / first: otherwise psql warns it cannot change into root's home.
_iot_psql_admin() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$_IOT_PG_PORT" -d postgres)
  else
    (cd / && sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -p "$_IOT_PG_PORT" -d postgres)
  fi
}

# Log a database URL without its password.
_iot_redact_url() {
  sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$1"
}

_iot_pg_check_url() {
  local url="$1"
  PGCONNECT_TIMEOUT=10 psql "$url" -X -A -t -q -c 'select 1' >/dev/null ||
    { log "ERROR: cannot connect to $(_iot_redact_url "$url")"; return 1; }
}

# Before a stopped cluster starts: load pg_stat_statements with it (bench/run reads statements
# per request from it; it costs the tests nothing measurable), unless the configuration already
# names libraries to preload. A file of its own in conf.d, written once.
_iot_pg_preload_statements() {
  local conf="/etc/postgresql/$_IOT_PG_VERSION/$_IOT_PG_CLUSTER/conf.d/iot-playground.conf"
  local current
  [[ -f $conf ]] && return 0
  current=$(pg_conftool -s "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" show shared_preload_libraries 2>/dev/null) || current=""
  current="${current//\'/}"
  if [[ -n $current ]]; then
    log "postgres: shared_preload_libraries is already '$current'; left as it is"
    return 0
  fi
  log "postgres: preloading pg_stat_statements ($conf)"
  echo "shared_preload_libraries = 'pg_stat_statements'" | _iot_as_root tee "$conf" >/dev/null ||
    { log "ERROR: cannot write $conf"; return 1; }
}

ensure_postgres() {
  # A URL chosen by the caller wins (another server, another port): only check it.
  if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
    log "postgres: using TEST_DATABASE_URL=$(_iot_redact_url "$TEST_DATABASE_URL")"
    if ! command -v psql >/dev/null 2>&1; then
      _iot_apt_install "postgresql-client-$_IOT_PG_VERSION" || return 1
    fi
    _iot_pg_check_url "$TEST_DATABASE_URL" || return 1
    export TEST_DATABASE_URL
    return 0
  fi

  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "postgres: installing PostgreSQL $_IOT_PG_VERSION"
    _iot_apt_install "postgresql-$_IOT_PG_VERSION" "postgresql-client-$_IOT_PG_VERSION" || return 1
  fi
  # The Debian package normally creates 15/main; recreate it if someone dropped it.
  if [[ ! -d "/etc/postgresql/$_IOT_PG_VERSION/$_IOT_PG_CLUSTER" ]]; then
    log "postgres: creating cluster $_IOT_PG_VERSION/$_IOT_PG_CLUSTER"
    _iot_as_root pg_createcluster -p "$_IOT_PG_PORT" "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" >&2 ||
      { log "ERROR: pg_createcluster failed"; return 1; }
  fi

  # status exits 0 when running, 3 when stopped. `start` on a running cluster
  # is an error, hence the check. --skip-systemctl-redirect: there is no systemd.
  if pg_ctlcluster "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" status >/dev/null 2>&1; then
    log "postgres: cluster $_IOT_PG_VERSION/$_IOT_PG_CLUSTER already running"
  else
    _iot_pg_preload_statements || return 1
    log "postgres: starting cluster $_IOT_PG_VERSION/$_IOT_PG_CLUSTER"
    _iot_as_root pg_ctlcluster --skip-systemctl-redirect "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" start >&2 ||
      { log "ERROR: pg_ctlcluster start failed; see /var/log/postgresql/postgresql-$_IOT_PG_VERSION-$_IOT_PG_CLUSTER.log"; return 1; }
  fi
  pg_isready -q -h 127.0.0.1 -p "$_IOT_PG_PORT" -t 30 ||
    { log "ERROR: PostgreSQL not ready on 127.0.0.1:$_IOT_PG_PORT after 30 s"; return 1; }

  # TCP logins need a password (scram in pg_hba.conf), so the role gets one.
  # CREATEDB because every test creates and drops its own database; no SUPERUSER.
  # ALTER on an existing role re-asserts the attributes the tests rely on.
  # CREATE DATABASE cannot run inside DO, hence \gexec.
  _iot_psql_admin >&2 <<'SQL' || { log "ERROR: could not create role/database iot"; return 1; }
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iot') THEN
    CREATE ROLE iot LOGIN CREATEDB PASSWORD 'iot';
  ELSE
    ALTER ROLE iot LOGIN CREATEDB PASSWORD 'iot';
  END IF;
END
$$;
SELECT 'CREATE DATABASE iot OWNER iot'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iot')\gexec
SQL

  export TEST_DATABASE_URL="postgres://iot:iot@127.0.0.1:$_IOT_PG_PORT/iot"
  _iot_pg_check_url "$TEST_DATABASE_URL" || return 1
  log "postgres: ready, TEST_DATABASE_URL=$(_iot_redact_url "$TEST_DATABASE_URL")"
}

stop_postgres() {
  if command -v pg_ctlcluster >/dev/null 2>&1 &&
    pg_ctlcluster "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" status >/dev/null 2>&1; then
    log "postgres: stopping cluster $_IOT_PG_VERSION/$_IOT_PG_CLUSTER"
    _iot_as_root pg_ctlcluster --skip-systemctl-redirect "$_IOT_PG_VERSION" "$_IOT_PG_CLUSTER" stop >&2
  fi
}

_iot_moto_answers() {
  curl -fsS -o /dev/null --max-time 2 "$1/moto-api/" 2>/dev/null
}

# 0 when nothing accepts connections on URL (curl exit 7: connection refused).
_iot_port_free() {
  local rc=0
  curl -s -o /dev/null --max-time 2 "$1/" || rc=$?
  [[ $rc -eq 7 ]]
}

_iot_install_moto() {
  local venv="$IOT_TOOLS_DIR/venv-moto"
  # The marker is written only after a successful install, so an interrupted
  # pip run is retried; it names the spec so a new pin triggers a reinstall.
  local marker="$venv/.installed-${_IOT_MOTO_SPEC//[^A-Za-z0-9.]/_}"
  if [[ -f "$marker" && -x "$venv/bin/moto_server" ]]; then
    return 0
  fi
  log "moto: installing $_IOT_MOTO_SPEC into $venv"
  "${IOT_PYTHON:-python3}" -m venv "$venv" >&2 ||
    { log "ERROR: python3 -m venv $venv failed"; return 1; }
  "$venv/bin/python" -m pip install -q "$_IOT_MOTO_SPEC" flask flask-cors >&2 ||
    { log "ERROR: pip install moto failed"; return 1; }
  touch "$marker"
}

ensure_moto() {
  local port="${MOTO_PORT:-4566}"
  local url="http://127.0.0.1:$port"
  local venv="$IOT_TOOLS_DIR/venv-moto"
  local pidfile="$_IOT_RUN_DIR/moto-$port.pid"
  local logfile="$_IOT_LOG_DIR/moto-$port.log"

  if _iot_moto_answers "$url"; then
    log "moto: already answering on $url (reused, not stopped by this script)"
  elif ! _iot_port_free "$url"; then
    log "ERROR: port $port is in use by something that is not moto; set MOTO_PORT"
    return 1
  else
    _iot_install_moto || return 1
    mkdir -p "$_IOT_RUN_DIR" "$_IOT_LOG_DIR"
    rm -f "$pidfile"
    log "moto: starting on $url (log: $logfile)"
    # setsid -f: moto gets its own session and process group, detached from
    # our terminal and job control. The inner bash records its own pid and
    # then execs the venv's moto_server (no shim/wrapper in between), so the
    # recorded pid is moto itself and also its process-group id. `$!` would
    # not do: with job control on, setsid forks and `$!` is a pid that exits.
    # shellcheck disable=SC2016 # $$ and $1.. expand in the inner bash
    # moto_server_serial.py serves moto one request at a time: the atomicity of each DynamoDB
    # request, which moto's own threaded server lacks (see the script).
    setsid -f bash -c 'echo "$$" >"$1"; exec "$2" "$3" -H 127.0.0.1 -p "$4"' \
      moto-launcher "$pidfile" "$venv/bin/python" "$_IOT_LIB_DIR/moto_server_serial.py" "$port" \
      </dev/null >>"$logfile" 2>&1 ||
      { log "ERROR: could not launch moto_server"; return 1; }

    local deadline=$((SECONDS + 30)) pid=""
    until _iot_moto_answers "$url"; do
      [[ -z "$pid" && -s "$pidfile" ]] && pid="$(<"$pidfile")"
      if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
        log "ERROR: moto_server exited during startup; last log lines:"
        tail -n 20 "$logfile" >&2
        rm -f "$pidfile"
        return 1
      fi
      if ((SECONDS >= deadline)); then
        log "ERROR: moto not answering on $url/moto-api/ after 30 s; last log lines:"
        tail -n 20 "$logfile" >&2
        [[ -n "$pid" ]] && kill -- "-$pid" 2>/dev/null
        rm -f "$pidfile"
        return 1
      fi
      sleep 0.2
    done
    _IOT_STARTED_MOTO_PORTS+=("$port")
    log "moto: ready (pid $(<"$pidfile"))"
  fi

  export TEST_DYNAMODB_ENDPOINT="$url"
  # Dummy credentials so the AWS SDK never looks for real ones or asks the
  # EC2 metadata service (a slow timeout off EC2). Caller-set values win.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_EC2_METADATA_DISABLED="${AWS_EC2_METADATA_DISABLED:-true}"
}

# _iot_stop_moto PORT: stop the moto recorded in its pid file, if it is still ours.
_iot_stop_moto() {
  local port="$1" pidfile="$_IOT_RUN_DIR/moto-$1.pid" pid i
  [[ -s "$pidfile" ]] || return 0
  pid="$(<"$pidfile")"
  rm -f "$pidfile"
  # Pids are recycled: only signal the group if the pid is still a moto_server.
  if ! grep -qa moto_server "/proc/$pid/cmdline" 2>/dev/null; then
    log "moto: pid $pid (port $port) already gone"
    return 0
  fi
  log "moto: stopping pid $pid (port $port)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "moto: pid $pid ignored SIGTERM, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.2
  fi
  if ! _iot_port_free "http://127.0.0.1:$port"; then
    log "WARNING: something still listens on port $port"
  fi
}

# stop_started_services: stop the moto servers started by this shell.
# stop_started_services --all: stop every moto recorded in $IOT_TOOLS_DIR/run
# (e.g. the one a previous `scripts/dev-services` left running).
# PostgreSQL is left running (cheap, shared); use stop_postgres for that.
stop_started_services() {
  local port pidfile
  if [[ "${1:-}" == "--all" ]]; then
    for pidfile in "$_IOT_RUN_DIR"/moto-*.pid; do
      [[ -e "$pidfile" ]] || continue
      port="${pidfile##*/moto-}"
      _iot_stop_moto "${port%.pid}"
    done
  else
    for port in "${_IOT_STARTED_MOTO_PORTS[@]}"; do
      _iot_stop_moto "$port"
    done
  fi
  _IOT_STARTED_MOTO_PORTS=()
}

ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    log "promtool: present"
    return 0
  fi
  # The `prometheus` package's postinst asks invoke-rc.d to start a server on
  # :9090. Inside containers /usr/sbin/policy-rc.d usually forbids that (exit
  # 101); without systemd nothing re-enables it at boot except the sysv links.
  # We only need promtool, so: remember the prometheus processes that already
  # ran, and afterwards stop only the ones the install started.
  local before after pid
  before="$(pgrep -x prometheus || true)"
  log "promtool: installing the prometheus package"
  _iot_apt_install prometheus || return 1
  after="$(pgrep -x prometheus || true)"
  for pid in $after; do
    if ! grep -qx "$pid" <<<"$before"; then
      log "promtool: stopping the prometheus server the package started (pid $pid)"
      _iot_as_root kill "$pid" || true
    fi
  done
  # Not enabled at boot either: update-rc.d flips the sysv links to K01 and
  # also removes the systemd wants/ symlink that deb-systemd-helper created.
  if [[ -x /etc/init.d/prometheus ]]; then
    _iot_as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null 2>&1 ||
    { log "ERROR: promtool still missing after installing prometheus"; return 1; }
  log "promtool: installed ($(promtool --version 2>&1 | head -n 1))"
}
