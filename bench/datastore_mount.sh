#!/usr/bin/env bash
# What mounting a datastore of FILES (default 10,000) files adds to a run:
# `guild run` of a trivial shell script with and without
# `--datastore big`, paired and alternated (N pairs, default 21), after
# one warm-up of each (the first mount builds the version's tree once).
# Prints both medians and the median of the per-pair differences.
#   bench/freshfs.sh bench/datastore_mount.sh
source "$(dirname "$0")/common.sh"
FILES="${FILES:-10000}"; N="${N:-21}"
W=$(mktemp -d); trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/home" "$W/data"
printf '#!/bin/sh\necho "loss: 0.5"\n' > "$W/proj/t.sh"; chmod +x "$W/proj/t.sh"
python3 - "$W/data" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "w") as f:
        f.write("row %d\n" % i)
PY
export GUILD_HOME="$W/home" NO_PIP_FREEZE=1
"$GUILD_RS" datastores create big "$W/data" >/dev/null
cd "$W/proj"
python3 - "$GUILD_RS" "$N" "$FILES" <<'PY'
import statistics, subprocess, sys, time
guild, n, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def t(args):
    t0 = time.perf_counter()
    subprocess.run([guild] + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000
plain = ["run", "t.sh", "-y", "-q"]
mounted = plain + ["--datastore", "big"]
t(plain); t(mounted)
a, b = [], []
for _ in range(n):
    a.append(t(plain)); b.append(t(mounted))
d = [y - x for x, y in zip(a, b)]
print("run %.1f ms, with a %d-file datastore mounted %.1f ms: +%.2f ms (median of pairs)" % (
    statistics.median(a), files, statistics.median(b), statistics.median(d)))
PY
