#!/usr/bin/env bash
# Object storage remotes against a local S3 server (moto's, started by
# services/s3-local.sh): the first push of COUNT runs (default 10,000; each
# the small run of common.sh), a second push with nothing changed, and
# `runs --remote` (cold: no local mirror; warm: the mirror kept), with the
# requests each made (counted in the server's log).
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
S3_STATE="$W/s3"
SVC="$ROOT/services/s3-local.sh"
env_out=$(S3_LOCAL_PORT= "$SVC" start "$S3_STATE")
eval "$(printf '%s\n' "$env_out" | sed 's/^/export /')"
trap '"$SVC" stop "$S3_STATE"; rm -rf "$W"' EXIT
"$S3_LOCAL_VENV/bin/python" -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket='bench-runs')" "$S3_LOCAL_ENDPOINT"
mkdir -p "$W/proj" "$W/home/runs"
printf 'lr = 0.1\nprint("loss: %%f" %% lr)\n' > "$W/proj/t.py"
fill_runs "$W/proj" t.py "$W/home" "$COUNT"
printf "remotes:\n  b: {type: s3, bucket: bench-runs, endpoint: '%s'}\n" "$S3_LOCAL_ENDPOINT" > "$W/cfg.yml"
export GUILD_CONFIG="$W/cfg.yml" GUILD_HOME="$W/home" AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s
LOG="$S3_STATE/server.log"
# timed LABEL CMD...: seconds and requests of one command.
timed() {
  local label=$1; shift
  local before after t0 t1
  before=$(wc -l < "$LOG")
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  after=$(wc -l < "$LOG")
  python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); r=int(sys.argv[3]); n=int(sys.argv[4]); print('%-34s %8.2f s  %7d requests  %6.2f per run' % (sys.argv[5], t, r, r / n))" "$t0" "$t1" "$((after - before))" "$COUNT" "$label"
}
cd "$W/proj"
echo "$COUNT runs, $(find "$W/home/runs" -type f | wc -l) files"
timed "push (first)" "$GUILD_RS" push b -y
timed "push (nothing changed)" "$GUILD_RS" push b -y
rm -rf "$W/home/cache/remotes/b/mirror"
timed "runs --remote (cold mirror)" "$GUILD_RS" runs --remote b
timed "runs --remote (warm mirror)" "$GUILD_RS" runs --remote b
timed "runs --remote (warm, again)" "$GUILD_RS" runs --remote b
