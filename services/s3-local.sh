#!/usr/bin/env bash
# s3-local.sh - a real S3-compatible server (moto's server, from PyPI) on
# 127.0.0.1 for the object storage remote tests.
#
# Usage: s3-local.sh [start|stop|env] [STATE_DIR]
#   start  install moto[server] into VENV if missing, start the server unless
#          the one recorded in STATE_DIR still answers, print its facts
#          (KEY=VALUE) on stdout. Idempotent.
#   stop   stop the server recorded in STATE_DIR.
#   env    print the facts without touching anything.
#
# Settings (environment):
#   S3_LOCAL_VENV  the virtualenv for moto (default: .venv-s3 beside this script's project)
#   S3_LOCAL_PORT  the port (default: 9300 when free, else a free one; a port
#                  given here that is taken is an error that names it)
# moto keeps everything in memory and accepts any access key and secret
# (region us-east-1, path-style URLs). A restart empties it.
set -euo pipefail
ACTION=${1:-start}
STATE=${2:-/tmp/guild-test-s3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
VENV=${S3_LOCAL_VENV:-$HERE/.venv-s3}
me=s3-local
die() { echo "$me: error: $*" >&2; exit 1; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Whether an HTTP server answers on 127.0.0.1:$1 (any status).
answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
}

do_stop() {
  if [ -s "$STATE/pid" ]; then
    kill "$(cat "$STATE/pid")" 2>/dev/null || true
    rm -f "$STATE/pid"
  fi
}

case "$ACTION" in
  env) cat "$STATE/env"; exit 0 ;;
  stop) do_stop; exit 0 ;;
  start) ;;
  *) die "unknown action '$ACTION' (start, stop or env)" ;;
esac

mkdir -p "$STATE"
if [ -s "$STATE/env" ] && [ -s "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
  port=$(sed -n 's/^S3_LOCAL_PORT=//p' "$STATE/env")
  if answers "$port"; then cat "$STATE/env"; exit 0; fi
  do_stop
fi
if [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.*' boto3 >/dev/null
fi
if [ -n "${S3_LOCAL_PORT:-}" ]; then
  port=$S3_LOCAL_PORT
  port_taken "$port" && die "port $port on 127.0.0.1 is taken; set S3_LOCAL_PORT to a free one"
else
  port=9300
  port_taken "$port" && port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/server.log" 2>&1 &
echo $! >"$STATE/pid"
for _ in $(seq 1 100); do
  answers "$port" && break
  kill -0 "$(cat "$STATE/pid")" 2>/dev/null || die "moto_server exited: $(tail -1 "$STATE/server.log")"
  sleep 0.1
done
answers "$port" || die "moto_server did not answer on 127.0.0.1:$port in 10 s (see $STATE/server.log)"
cat >"$STATE/env" <<ENV
S3_LOCAL_PORT=$port
S3_LOCAL_ENDPOINT=http://127.0.0.1:$port
S3_LOCAL_PID=$(cat "$STATE/pid")
S3_LOCAL_VENV=$VENV
ENV
cat "$STATE/env"
