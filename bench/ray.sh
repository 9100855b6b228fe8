#!/usr/bin/env bash
# Runs on a Ray cluster against a local head (services/ray-local.sh: `ray
# start --head --num-cpus 2`, its own ports and temp dir), median of N
# (default 15):
# 1. a trivial script through `guild run --remote` (followed to the end, its
#    run directory back here) against `ray job submit` of the same script
#    (which also waits for the end), alternating;
# 2. a 100-trial sweep submitted: `guild run` returned (COUNT trials).
source "$(dirname "$0")/common.sh"
N="${N:-15}"
COUNT="${COUNT:-100}"
W=$(mktemp -d)
# Ray's own files under a short path: its socket paths must stay under
# 108 bytes, which a TMPDIR on a fresh filesystem's mount can exceed.
RAY_STATE=$(mktemp -d /tmp/grb.XXXXXX)
SVC="$ROOT/services/ray-local.sh"
trap '"$SVC" stop "$RAY_STATE" 2>/dev/null; rm -rf "$W" "$RAY_STATE"' EXIT
env_out=$(RAY_LOCAL_PORT= "$SVC" start "$RAY_STATE")
eval "$(printf '%s\n' "$env_out" | sed 's/^/export /')"
mkdir -p "$W/proj" "$W/home" "$W/shared" "$W/direct"
printf 'x = 0\nprint("hello", x)\n' > "$W/proj/t.py"
cp "$W/proj/t.py" "$W/direct/t.py"
cat > "$W/cfg.yml" <<EOF
remotes:
  r: {type: ray, address: '$RAY_LOCAL_ADDRESS', storage: '$W/shared', num-cpus: 0.25}
EOF
export GUILD_CONFIG="$W/cfg.yml" GUILD_HOME="$W/home"
cd "$W/proj"
# The binary's package goes up once, as it would for a user.
"$GUILD_RS" run t.py -y -q --remote r >/dev/null
python3 - "$N" "$GUILD_RS" "$RAY_LOCAL_VENV/bin/ray" "$RAY_LOCAL_ADDRESS" "$W/direct" <<'PY'
import statistics, subprocess, sys, time
n, guild, ray, address, direct = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, **kw)
    return time.perf_counter() - t
ours, theirs = [], []
for _ in range(n):
    theirs.append(timed([ray, "job", "submit", "--address", address, "--working-dir", direct,
                         "--entrypoint-num-cpus", "0.25", "--", "python", "t.py"]))
    ours.append(timed([guild, "run", "t.py", "-y", "--remote", "r"]))
o, t = statistics.median(ours), statistics.median(theirs)
print("trivial run, guild run --remote (median of %d)   %6.2f s" % (n, o))
print("trivial run, ray job submit (median of %d)       %6.2f s" % (n, t))
print("  ratio %.2fx, %+.2f s" % (o / t, o - t))
PY
t0=$(date +%s.%N)
"$GUILD_RS" run t.py "x=range[1:$COUNT]" -y --background --remote r >/dev/null 2>&1 || { echo "the sweep was not submitted" >&2; exit 1; }
t1=$(date +%s.%N)
python3 -c "import sys; print('%d-trial sweep submitted, guild run returned   %6.2f s' % (int(sys.argv[3]), float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1" "$COUNT"
# Let the cluster drain before the head is stopped.
for _ in $(seq 1 600); do
  "$GUILD_RS" sync >/dev/null 2>&1 || true
  left=$("$GUILD_RS" runs list --json 2>/dev/null | python3 -c "import json, sys; print(sum(r['status'] in ('pending', 'running') for r in json.load(sys.stdin)))")
  [ "$left" = 0 ] && break
  sleep 2
done
echo "sweep drained ($left left)"
