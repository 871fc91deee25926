# shellcheck shell=bash
#
# scripts/lib/lambda.sh: the Lambda tooling the tests and the local playground need.
#
#   source scripts/lib/lambda.sh
#   ensure_cargo_lambda   # cargo-lambda (PyPI) in its own venv, exports CARGO_LAMBDA
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
