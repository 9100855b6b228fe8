#!/usr/bin/env bash
# `publish` of many runs (default 200, each with source code, output and
# scalars) and `merge --preview` of one, guild vs Guild 0.9.0 on the same
# home. Publish: median of 3 into a fresh directory each time.
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-200}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh/runs"
cat > "$W/proj/t.py" <<'PY'
lr = 0.1
for step in range(1, 4):
    print("step: %d" % step)
    print("loss: %f" % (1 / step))
open("model.txt", "w").write("weights\n")
PY
fill_runs "$W/proj" t.py "$W/gh" "$COUNT"
cd "$W/proj"
export GUILD_HOME="$W/gh" PYTHONWARNINGS=ignore
# publish_ms TOOL: median of 3 publishes of every run into a new directory.
publish_ms() {
  python3 - "$1" "$W" <<'PY'
import subprocess, sys, time, statistics, shutil
tool, w = sys.argv[1], sys.argv[2]
ts = []
for i in range(3):
    dest = f"{w}/pub-{i}"
    t = time.perf_counter()
    subprocess.run([tool, "publish", "-y", "-d", dest], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
    shutil.rmtree(dest)
print("%.1f" % statistics.median(ts))
PY
}
rs_pub=$(publish_ms "$GUILD_RS")
py_pub=$(publish_ms "$GUILD_PY")
rs_merge=$(median_ms 5 "$GUILD_RS" merge --preview -a)
py_merge=$(median_ms 3 "$GUILD_PY" merge --preview -a)
python3 - "$COUNT" "$rs_pub" "$py_pub" "$rs_merge" "$py_merge" <<'PY'
import sys
n = int(sys.argv[1]); rp, pp, rm, pm = map(float, sys.argv[2:])
print(f"publish {n} runs: guild {rp:.0f} ms, Guild 0.9.0 {pp:.0f} ms, {pp / rp:.0f}x faster")
print(f"merge --preview -a: guild {rm:.1f} ms, Guild 0.9.0 {pm:.0f} ms, {pm / rm:.0f}x faster")
PY
