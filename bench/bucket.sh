#!/usr/bin/env bash
# Object storage remotes against a local S3 server (moto's, started by
# services/s3-local.sh), with the requests each command made (counted in
# the server's log).
#
# 1. Side by side with Guild 0.9.0 (VS_COUNT runs, default 1,000; each the
#    small run of common.sh): the first push, a second push with nothing
#    changed and `runs --remote`, each tool to a bucket of its own. Guild
#    pushes through the `aws` CLI, installed from PyPI into .venv-aws.
#    VS_COUNT=0 leaves this part out; VS_AGAIN=0 leaves out the second
#    push (Guild's takes as long as its first).
# 2. This tool alone on COUNT runs (default 10,000): the first push, a
#    second push with nothing changed, and `runs --remote` (cold: no local
#    mirror; warm: the mirror kept).
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
VS_COUNT="${VS_COUNT:-1000}"
VS_AGAIN="${VS_AGAIN:-1}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
S3_STATE="$W/s3"
SVC="$ROOT/services/s3-local.sh"
env_out=$(S3_LOCAL_PORT= "$SVC" start "$S3_STATE")
eval "$(printf '%s\n' "$env_out" | sed 's/^/export /')"
trap '"$SVC" stop "$S3_STATE"; rm -rf "$W"' EXIT
AWS_VENV="$ROOT/.venv-aws"
if [ "$VS_COUNT" -gt 0 ] && ! [ -x "$AWS_VENV/bin/aws" ]; then
  python3 -m venv "$AWS_VENV"
  "$AWS_VENV/bin/pip" install -q --disable-pip-version-check 'awscli==1.*' >/dev/null
fi
export AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s
for b in vs-ours vs-guild bench-runs; do
  "$S3_LOCAL_VENV/bin/python" -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])" "$S3_LOCAL_ENDPOINT" "$b"
done
# Guild's s3 remote passes no endpoint to `aws`; the CLI reads it from
# AWS_ENDPOINT_URL, which the remote's `local-env` sets.
cat > "$W/cfg.yml" <<EOF
remotes:
  b: {type: s3, bucket: bench-runs, endpoint: '$S3_LOCAL_ENDPOINT'}
  ours: {type: s3, bucket: vs-ours, region: us-east-1, endpoint: '$S3_LOCAL_ENDPOINT'}
  theirs:
    type: s3
    bucket: vs-guild
    region: us-east-1
    local-env: {AWS_ENDPOINT_URL: '$S3_LOCAL_ENDPOINT'}
EOF
export GUILD_CONFIG="$W/cfg.yml"
LOG="$S3_STATE/server.log"
mkdir -p "$W/proj"
printf 'lr = 0.1\nprint("loss: %%f" %% lr)\n' > "$W/proj/t.py"
cd "$W/proj"
# timed LABEL RUNS CMD...: seconds and requests of one command (it must
# succeed); the seconds go to $W/last.
timed() {
  local label=$1 n=$2; shift 2
  local before after t0 t1
  before=$(wc -l < "$LOG")
  t0=$(date +%s.%N)
  "$@" >"$W/out" 2>&1 || { cat "$W/out" >&2; exit 1; }
  t1=$(date +%s.%N)
  after=$(wc -l < "$LOG")
  python3 - "$t0" "$t1" "$((after - before))" "$n" "$label" "$W/last" <<'PY'
import sys
t = float(sys.argv[2]) - float(sys.argv[1]); r = int(sys.argv[3]); n = int(sys.argv[4])
print("%-42s %8.2f s  %7d requests  %6.2f per run  %7.1f ms per run" % (sys.argv[5], t, r, r / n, t * 1000 / n))
open(sys.argv[6], "w").write("%f" % t)
PY
}
ratio() { python3 -c "import sys; print('  %s: %.1fx' % (sys.argv[3], float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2" "$3"; }
if [ "$VS_COUNT" -gt 0 ]; then
  mkdir -p "$W/vs/runs"
  fill_runs "$W/proj" t.py "$W/vs" "$VS_COUNT"
  export GUILD_HOME="$W/vs"
  echo "== $VS_COUNT runs, $(find "$W/vs/runs" -type f | wc -l) files, side by side with Guild 0.9.0"
  timed "push (first), this tool" "$VS_COUNT" "$GUILD_RS" push ours -y; ours=$(cat "$W/last")
  timed "push (first), Guild 0.9.0" "$VS_COUNT" env PATH="$AWS_VENV/bin:$PATH" "$GUILD_PY" push theirs -y; theirs=$(cat "$W/last")
  ratio "$theirs" "$ours" "first push, Guild / this tool"
  if [ "$VS_AGAIN" = 1 ]; then
    timed "push (nothing changed), this tool" "$VS_COUNT" "$GUILD_RS" push ours -y; ours=$(cat "$W/last")
    timed "push (nothing changed), Guild 0.9.0" "$VS_COUNT" env PATH="$AWS_VENV/bin:$PATH" "$GUILD_PY" push theirs -y; theirs=$(cat "$W/last")
    ratio "$theirs" "$ours" "second push, Guild / this tool"
  fi
  timed "runs --remote (first), this tool" "$VS_COUNT" "$GUILD_RS" runs --remote ours; ours=$(cat "$W/last")
  timed "runs --remote (first), Guild 0.9.0" "$VS_COUNT" env PATH="$AWS_VENV/bin:$PATH" "$GUILD_PY" runs --remote theirs; theirs=$(cat "$W/last")
  ratio "$theirs" "$ours" "runs --remote, Guild / this tool"
  rm -rf "$W/vs"
fi
if [ "$COUNT" -gt 0 ]; then
  mkdir -p "$W/home/runs"
  fill_runs "$W/proj" t.py "$W/home" "$COUNT"
  export GUILD_HOME="$W/home"
  echo "== $COUNT runs, $(find "$W/home/runs" -type f | wc -l) files, this tool"
  timed "push (first)" "$COUNT" "$GUILD_RS" push b -y
  timed "push (nothing changed)" "$COUNT" "$GUILD_RS" push b -y
  rm -rf "$W/home/cache/remotes/b/mirror"
  timed "runs --remote (cold mirror)" "$COUNT" "$GUILD_RS" runs --remote b
  timed "runs --remote (warm mirror)" "$COUNT" "$GUILD_RS" runs --remote b
  timed "runs --remote (warm, again)" "$COUNT" "$GUILD_RS" runs --remote b
fi
