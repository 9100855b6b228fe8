#!/usr/bin/env bash
# Output capture: a script printing ~200 MB of lines (1% scalar lines) run
# under guild vs redirected straight to a file; throughput ratio and the
# tracker's peak RSS (from the supervisor's own getrusage via /proc polling).
source "$(dirname "$0")/common.sh"
MB="${MB:-200}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh"
cat > "$W/proj/spam.py" <<PY
import sys
line = "epoch 1 batch 100 some log text padding padding padding padding\n"
out = sys.stdout
total = $MB * 1024 * 1024
n = 0
i = 0
buf = []
while n < total:
    s = ("loss: %f\n" % (1.0 / (i + 1))) if i % 100 == 0 else line
    buf.append(s)
    n += len(s)
    i += 1
    if len(buf) >= 256:
        out.write("".join(buf)); buf = []
out.write("".join(buf))
PY
cd "$W/proj"
PY=$(python3 -c 'import sys; print(sys.executable)')
export GUILD_PYTHON_EXE="$PY"
N="${N:-5}"
# Alternate the two ways N times and compare medians: a shared 2-core
# machine's noise is larger than the difference being measured.
python3 - "$N" "$PY" "$GUILD_RS" "$W" <<'PYX'
import os, statistics, subprocess, sys, time, glob
n, py, guild, w = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
env = dict(os.environ, GUILD_HOME=w + "/gh")
direct, tracked = [], []
for i in range(n):
    with open(w + "/direct.out", "wb") as f:
        t = time.perf_counter()
        subprocess.run([py, "-u", "spam.py"], stdout=f, check=True)
        direct.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([guild, "run", "spam.py", "-y", "-q"], env=env, check=True)
    tracked.append(time.perf_counter() - t)
    for d in glob.glob(w + "/gh/runs/*"):
        subprocess.run(["rm", "-rf", d])
size = os.path.getsize(w + "/direct.out")
d, g = statistics.median(direct), statistics.median(tracked)
print(f"bytes per run: {size}")
print(f"direct to file: median {d:.2f} s ({size/d/1e6:.0f} MB/s) of {n}")
print(f"under guild:    median {g:.2f} s ({size/g/1e6:.0f} MB/s) of {n}")
print(f"throughput ratio (guild / direct): {d/g*100:.0f}%")
PYX
# Peak RSS of the supervising guild process alone.
GUILD_HOME="$W/gh" "$GUILD_RS" run spam.py -y -q & gpid=$!
peak=0
while kill -0 $gpid 2>/dev/null; do
  r=$(awk '/VmHWM/ {print $2}' /proc/$gpid/status 2>/dev/null || echo 0); [ "${r:-0}" -gt "$peak" ] && peak=$r
  sleep 0.05
done
echo "guild supervisor peak RSS: $((peak / 1024)) MB"
