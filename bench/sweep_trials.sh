#!/usr/bin/env bash
# Per-trial overhead of a 50-trial grid of a trivial script, guild vs
# Guild 0.9.0: the sweep's time minus the time of running the script 50
# times on its own, divided by 50. Each sweep is timed right after its own
# 50 plain runs, so a machine that speeds up or slows down affects both
# alike; guild's figure is the median of REPS such pairs (Guild's sweep
# takes long, so it gets one pair).
source "$(dirname "$0")/common.sh"
TRIALS="${TRIALS:-50}"
REPS="${REPS:-3}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj"
printf 'x = 1\nprint("loss: 0.5")\n' > "$W/proj/trivial.py"
cd "$W/proj"
VPY="$(dirname "$GUILD_PY")/python"
export GUILD_PYTHON_EXE="$VPY"
python3 - "$TRIALS" "$REPS" "$VPY" "$GUILD_RS" "$GUILD_PY" "$W" <<'PY'
import os, statistics, subprocess, sys, time
n, reps, vpy, rs_bin, py_bin, w = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
def t(cmd, **env):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, **env), check=False)
    return (time.perf_counter() - t0) * 1000
def pair(tool, home):
    os.makedirs(home)
    base = sum(t([vpy, "-u", "trivial.py"]) for _ in range(n))
    sweep = t([tool, "run", "trivial.py", f"x=range[1:{n}]", "-y", "-q"], GUILD_HOME=home)
    runs = len(os.listdir(os.path.join(home, "runs")))
    return base / n, sweep, (sweep - base) / n, runs
rs = [pair(rs_bin, os.path.join(w, f"gh-rs{i}")) for i in range(reps)]
py = pair(py_bin, os.path.join(w, "gh-py"))
o_rs = statistics.median(r[2] for r in rs)
print(f"trials: {n} (run dirs per sweep: guild {rs[0][3]}, Guild 0.9.0 {py[3]})")
print("guild:       script alone %.1f ms, sweeps %s s, per-trial overhead %s ms (median %.1f)" % (
    statistics.median(r[0] for r in rs),
    "/".join("%.2f" % (r[1] / 1000) for r in rs),
    "/".join("%.1f" % r[2] for r in rs), o_rs))
print(f"Guild 0.9.0: script alone {py[0]:.1f} ms, sweep {py[1]/1000:.2f} s, per-trial overhead {py[2]:.1f} ms")
print(f"per-trial overhead ratio (Guild 0.9.0 / guild): {py[2] / max(o_rs, 0.1):.0f}x")
PY
