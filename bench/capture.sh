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
PY=$(command -v python3)
t0=$(date +%s.%N); "$PY" -u spam.py > "$W/direct.out"; t1=$(date +%s.%N)
"$GUILD_RS" --version >/dev/null
t2=$(date +%s.%N)
GUILD_HOME="$W/gh" python3 - "$GUILD_RS" <<'PY'
import resource, subprocess, sys
p = subprocess.run([sys.argv[1], "run", "spam.py", "-y", "-q"], stdout=subprocess.DEVNULL)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("tracker+script peak RSS of largest child (KB):", ru.ru_maxrss, file=sys.stderr)
PY
t3=$(date +%s.%N)
size=$(stat -c %s "$W/direct.out")
out=$(ls "$W"/gh/runs/*/.guild/output); osize=$(stat -c %s $out)
python3 - "$t0" "$t1" "$t2" "$t3" "$size" "$osize" <<'PYX'
import sys
t0,t1,t2,t3,size,osize = map(float, sys.argv[1:])
d, g = t1 - t0, t3 - t2
print(f"bytes: direct {int(size)}, captured {int(osize)}")
print(f"direct to file: {d:.2f} s ({size/d/1e6:.0f} MB/s)")
print(f"under guild:    {g:.2f} s ({osize/g/1e6:.0f} MB/s)")
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
