#!/usr/bin/env bash
# Tracker overhead of `run` on a trivial script: total time minus the
# script's own time, for guild (this project) and Guild 0.9.0. The script
# alone and the tracked run are timed in alternation, so a machine that
# speeds up or slows down during the benchmark affects both alike; the
# overhead is the median of the per-pair differences.
source "$(dirname "$0")/common.sh"
N="${N:-21}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh-rs" "$W/gh-py"
printf 'x = 1\nprint("loss: 0.5")\n' > "$W/proj/trivial.py"
cd "$W/proj"
PY="$(dirname "$GUILD_PY")/python"  # the same interpreter for both tools
VPY="$PY"
GUILD_PYTHON_EXE="$PY" GUILD_HOME="$W/gh-rs" "$GUILD_RS" run trivial.py -y -q >/dev/null  # warm caches
GUILD_PYTHON_EXE="$VPY" GUILD_HOME="$W/gh-py" "$GUILD_PY" run trivial.py -y -q >/dev/null 2>&1
python3 - "$N" "$PY" "$VPY" "$GUILD_RS" "$GUILD_PY" "$W" <<'PY'
import os, statistics, subprocess, sys, time
n, py, vpy, rs_bin, py_bin, w = int(sys.argv[1]), *sys.argv[2:]
def t(cmd, **env):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, **env), check=False)
    return (time.perf_counter() - t0) * 1000
def pairs(k, python, tool, home):
    base, total = [], []
    for _ in range(k):
        base.append(t([python, "-u", "trivial.py"]))
        total.append(t([tool, "run", "trivial.py", "-y", "-q"],
                       GUILD_HOME=home, GUILD_PYTHON_EXE=python))
    diffs = [b - a for a, b in zip(base, total)]
    return statistics.median(base), statistics.median(total), statistics.median(diffs)
b_rs, rs, o_rs = pairs(n, py, rs_bin, os.path.join(w, "gh-rs"))
b_py, pyt, o_py = pairs(n // 3 + 1, vpy, py_bin, os.path.join(w, "gh-py"))
print(f"guild:       script alone {b_rs:.1f} ms, run {rs:.1f} ms, overhead {o_rs:.1f} ms")
print(f"Guild 0.9.0: script alone {b_py:.1f} ms, run {pyt:.1f} ms, overhead {o_py:.1f} ms")
print(f"overhead ratio (Guild 0.9.0 / guild): {o_py / max(o_rs, 0.1):.0f}x")
PY
