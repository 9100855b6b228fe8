#!/usr/bin/env bash
# ray-local.sh - a real Ray head node (ray[default] from PyPI: the dashboard
# and its Jobs API) on 127.0.0.1 for the Ray remote tests.
#
# Usage: ray-local.sh [start|stop|env] [STATE_DIR]
#   start  install ray[default] into VENV if missing, start a head node with
#          --num-cpus 2 unless the one recorded in STATE_DIR still answers,
#          print its facts (KEY=VALUE) on stdout. Idempotent.
#   stop   stop the head recorded in STATE_DIR (only its own processes: they
#          are found by its temp dir, so other Ray clusters of the user are
#          left alone).
#   env    print the facts without touching anything.
#
# Settings (environment):
#   RAY_LOCAL_VENV  the virtualenv for Ray (default: .venv-ray beside this script's project)
#   RAY_LOCAL_PORT  the dashboard's port (default: 8265 when free, else a free
#                   one; a port given here that is taken is an error naming it)
# Every other port the head listens on is picked free, so two heads (or a
# busy machine) do not collide.
set -euo pipefail
ACTION=${1:-start}
STATE=${2:-/tmp/guild-test-ray}
HERE=$(cd "$(dirname "$0")/.." && pwd)
VENV=${RAY_LOCAL_VENV:-$HERE/.venv-ray}
me=ray-local
die() { echo "$me: error: $*" >&2; exit 1; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Whether the Jobs API answers on 127.0.0.1:$1.
answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import json, sys, urllib.request
v = json.load(urllib.request.urlopen("http://127.0.0.1:%s/api/version" % sys.argv[1], timeout=2))
assert v.get("version")
PY
}
# Ray keeps its temp dir (sockets live there) under a short path: the
# unix socket paths it makes must stay under 108 bytes.
TMP="$STATE/t"

do_stop() {
  if [ -d "$TMP" ]; then
    pkill -TERM -f -- "$TMP" 2>/dev/null || true
    for _ in $(seq 1 50); do
      pgrep -f -- "$TMP" >/dev/null || break
      sleep 0.1
    done
    pkill -KILL -f -- "$TMP" 2>/dev/null || true
  fi
  rm -f "$STATE/env"
}

case "$ACTION" in
  env) cat "$STATE/env"; exit 0 ;;
  stop) do_stop; exit 0 ;;
  start) ;;
  *) die "unknown action '$ACTION' (start, stop or env)" ;;
esac

mkdir -p "$STATE"
if [ -s "$STATE/env" ]; then
  port=$(sed -n 's/^RAY_LOCAL_PORT=//p' "$STATE/env")
  if answers "$port"; then cat "$STATE/env"; exit 0; fi
  do_stop
fi
if [ ! -x "$VENV/bin/ray" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'ray[default]==2.*' >/dev/null
fi
if [ -n "${RAY_LOCAL_PORT:-}" ]; then
  port=$RAY_LOCAL_PORT
  port_taken "$port" && die "port $port on 127.0.0.1 is taken; set RAY_LOCAL_PORT to a free one"
else
  port=8265
  port_taken "$port" && port=$(free_port)
fi
gcs=$(free_port)
mkdir -p "$TMP"
# The jobs' entrypoints run `python`: the venv's, with Ray in it.
PATH="$VENV/bin:$PATH" RAY_USAGE_STATS_ENABLED=0 "$VENV/bin/ray" start --head \
  --num-cpus 2 --node-ip-address 127.0.0.1 \
  --port "$gcs" --dashboard-host 127.0.0.1 --dashboard-port "$port" \
  --ray-client-server-port "$(free_port)" \
  --dashboard-agent-listen-port "$(free_port)" \
  --dashboard-agent-grpc-port "$(free_port)" \
  --metrics-export-port "$(free_port)" \
  --runtime-env-agent-port "$(free_port)" \
  --node-manager-port "$(free_port)" --object-manager-port "$(free_port)" \
  --disable-usage-stats --temp-dir "$TMP" >"$STATE/start.log" 2>&1 \
  || die "ray start failed: $(grep -v '^\s*$' "$STATE/start.log" | tail -1)"
for _ in $(seq 1 300); do
  answers "$port" && break
  sleep 0.1
done
answers "$port" || die "the Ray dashboard did not answer on 127.0.0.1:$port in 30 s (see $STATE/start.log)"
cat >"$STATE/env" <<ENV
RAY_LOCAL_PORT=$port
RAY_LOCAL_ADDRESS=http://127.0.0.1:$port
RAY_LOCAL_GCS=127.0.0.1:$gcs
RAY_LOCAL_VENV=$VENV
RAY_LOCAL_TMP=$TMP
ENV
cat "$STATE/env"
