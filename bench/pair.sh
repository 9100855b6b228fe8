#!/usr/bin/env bash
# pair.sh OLD NEW: two builds of guild side by side, timed in alternation
# (A B A B ...: a machine that drifts affects both alike), to show that a
# change made nothing slower. Each build has a home of its own (the index
# format may differ between them). Prints each path's median per build
# and the median of the per-pair ratios NEW/OLD.
#   run        `guild run` of a trivial shell script (staging, start, end)
#   run .py    `guild run` of a trivial Python script (op_main, PYTHONPATH)
#   runs       `guild runs` with COUNT runs (default 10,000), warm
#   runs info  `guild runs info` with COUNT runs, warm
#   runs -a    `guild runs -a` with COUNT runs, warm
#   capture    `guild run` of a Python script that writes GEN_MB
#              (default 50) megabytes of 100-byte lines, 1% of them scalars
# ONLY=capture,run (names as above) times only those paths.
# Run it on a fresh filesystem: bench/freshfs.sh bench/pair.sh OLD NEW
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_GUILD NEW_GUILD" >&2; exit 2; }
OLD=$(realpath "$1"); NEW=$(realpath "$2"); HERE=$(cd "$(dirname "$0")" && pwd)
COUNT="${COUNT:-10000}"; N="${N:-21}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/old" "$W/new"
printf '#!/bin/sh\necho "loss: 0.5"\n' > "$W/proj/t.sh"; chmod +x "$W/proj/t.sh"
printf 'lr = 0.1\nprint("loss: %%s" %% lr)\n' > "$W/proj/t.py"
cd "$W/proj"
export NO_PIP_FREEZE=1
# COUNT runs: one real run, copied with fresh ids and earlier start
# times (common.sh's fill_runs, made with the old build).
GUILD_RS="$OLD"; GUILD_PY="${GUILD_PY:-/bin/true}"
source "$HERE/common.sh"
write_gen_py "$W/proj/gen.py"
fill_runs "$W/proj" t.sh "$W/old" "$COUNT"
cp -a "$W/old/runs" "$W/new/"
sync
python3 - "$N" "$OLD" "$NEW" "$W" <<'PY'
import os, statistics, subprocess, sys, time
os.environ.setdefault("GEN_MB", "50")
n, old, new, w = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def t(cmd, home):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, GUILD_HOME=home), check=True)
    return (time.perf_counter() - t0) * 1000
only = [x for x in os.environ.get("ONLY", "").split(",") if x]
def pair(name, args, warm=True, k=n):
    if only and name not in only:
        return
    a_home, b_home = os.path.join(w, "old"), os.path.join(w, "new")
    if warm:
        for b, h in ((old, a_home), (new, b_home)):
            t([b] + args, h)
        time.sleep(2.1)  # let the newest file times age past the index's distrust
        for b, h in ((old, a_home), (new, b_home)):
            t([b] + args, h)
    a, b, r = [], [], []
    for _ in range(k):
        x = t([old] + args, a_home)
        y = t([new] + args, b_home)
        a.append(x); b.append(y); r.append(y / x)
    print("%-12s %10.1f %10.1f %8.3f" % (name, statistics.median(a), statistics.median(b), statistics.median(r)))
print("%-12s %10s %10s %8s" % ("path (ms)", "old", "new", "new/old"))
pair("runs info", ["runs", "info"])
pair("runs", ["runs"])
pair("runs -a", ["runs", "-a"], k=max(5, n // 3))
pair("run", ["run", "t.sh", "-y", "-q"], warm=False)
# A Python run: flag detection, PYTHONPATH, op_main (caches warmed once).
pair("run .py", ["run", "t.py", "-y", "-q"])
# Output capture: the supervisor's pipe, output, output.index, scalars.
pair("capture", ["run", "gen.py", "-y", "-q"], k=max(5, n // 2))
PY
