#!/usr/bin/env bash
# The Python package, side by side with what a user would otherwise use:
#   ipy.runs() and ipy.runs().compare() on COUNT (default 10,000) runs,
#     this package vs Guild 0.9.0's guild.ipy on the same home (pandas
#     imported before timing: both import it when a table is made);
#   guild.log of one scalar per call: a script logging N (200,000) scalars
#     minus the same script logging none, whole processes, beside
#     tensorboardX's SummaryWriter.add_scalar and beside printing
#     `loss: x` lines under `guild run`;
#   `import guild` (minus a bare interpreter start).
# Run it on a fresh filesystem: bench/freshfs.sh bench/python.sh
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
N="${N:-200000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
# This package's wheel in a venv of its own (the `guild` module of
# guildai==0.9.0 would conflict), with pandas and tensorboardX.
BENCH_VENV="$ROOT/target/py-bench"
[ -x "$ROOT/.venv-build/bin/maturin" ] || { python3 -m venv "$ROOT/.venv-build"; "$ROOT/.venv-build/bin/pip" install -q "maturin>=1.5,<2"; }
(cd "$ROOT" && .venv-build/bin/maturin build --release --quiet -o "$W/wheels" >/dev/null 2>&1)
python3 -m venv --clear "$BENCH_VENV"
"$BENCH_VENV/bin/pip" install -q "$W"/wheels/*.whl pandas tensorboardX
GUILD_VENV="$(dirname "$(dirname "$GUILD_PY")")"
# Guild 0.9.0's compare() reads rows positionally (row[1][0]), which pandas 3
# refuses (KeyError: 0): it gets the last pandas it works with.
"$GUILD_VENV/bin/pip" install -q "pandas<3"
PY="$BENCH_VENV/bin/python"
mkdir -p "$W/proj" "$W/gh/runs"
cat > "$W/proj/t.py" <<'PY'
lr = 0.1
for step in range(1, 4):
    print("step: %d" % step)
    print("loss: %f" % (1 / step))
    print("acc: %f" % (1 - 1 / (step + 1)))
PY
GUILD_RS="$BENCH_VENV/bin/guild" fill_runs "$W/proj" t.py "$W/gh" "$COUNT"
export GUILD_HOME="$W/gh"
cd "$W/proj"
cat > "$W/ipy_bench.py" <<'PY'
import statistics, sys, time
import pandas  # noqa: F401  (both tools make frames; its import is not timed)
from guild import ipy
what, n = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(n):
    t = time.perf_counter()
    df = ipy.runs()
    if what == "compare":
        df = df.compare()
    ts.append((time.perf_counter() - t) * 1000)
print("%.1f %d" % (statistics.median(ts), len(df)))
PY
read -r rs_runs rows < <("$PY" "$W/ipy_bench.py" runs 5)
read -r rs_cmp _ < <("$PY" "$W/ipy_bench.py" compare 3)
read -r py_runs _ < <("$GUILD_VENV/bin/python" "$W/ipy_bench.py" runs 1)
read -r py_cmp _ < <("$GUILD_VENV/bin/python" "$W/ipy_bench.py" compare 1)
# Logging: N scalars minus none, whole processes, median of 5.
mkdir -p "$W/logrun"
cat > "$W/log_guild.py" <<'PY'
import sys, guild
n = int(sys.argv[1])
log = guild.log
for i in range(n):
    log(step=i, loss=0.5)
PY
cat > "$W/log_tbx.py" <<'PY'
import sys
from tensorboardX import SummaryWriter
n = int(sys.argv[1])
w = SummaryWriter(sys.argv[2])
for i in range(n):
    w.add_scalar("loss", 0.5, i)
w.close()
PY
cat > "$W/proj/print_loss.py" <<'PY'
import sys
n = 0
for i in range(n):
    print("loss: 0.5")
PY
delta() {  # delta REPS CMD_N... -- CMD_0...: median ms of CMD_N minus median of CMD_0
  python3 - "$@" <<'PY'
import subprocess, sys, time, statistics
reps = int(sys.argv[1]); i = sys.argv.index("--")
a, b = sys.argv[2:i], sys.argv[i + 1:]
def med(cmd):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)
print("%.1f" % (med(a) - med(b)))
PY
}
export RUN_DIR="$W/logrun"
log_ms=$(delta 5 "$PY" "$W/log_guild.py" "$N" -- "$PY" "$W/log_guild.py" 0)
unset RUN_DIR
tbx_ms=$(delta 5 "$PY" "$W/log_tbx.py" "$N" "$W/tbx" -- "$PY" "$W/log_tbx.py" 0 "$W/tbx0")
export GUILD_HOME="$W/gh2"; mkdir -p "$GUILD_HOME"
print_ms=$(delta 3 "$BENCH_VENV/bin/guild" run print_loss.py n="$N" -y -q -- "$BENCH_VENV/bin/guild" run print_loss.py n=0 -y -q)
imp_ms=$(delta 11 "$PY" -c "import guild" -- "$PY" -c "pass")
python3 - "$COUNT" "$rows" "$rs_runs" "$py_runs" "$rs_cmp" "$py_cmp" "$N" "$log_ms" "$tbx_ms" "$print_ms" "$imp_ms" <<'PY'
import sys
count, rows = int(sys.argv[1]), int(sys.argv[2])
rs_runs, py_runs, rs_cmp, py_cmp = map(float, sys.argv[3:7])
n = int(sys.argv[7]); log_ms, tbx_ms, print_ms, imp_ms = map(float, sys.argv[8:12])
print(f"runs in the home: {count} (frame rows: {rows})")
print(f"ipy.runs():           {rs_runs:8.1f} ms   Guild 0.9.0 {py_runs:9.1f} ms   ({py_runs / rs_runs:.0f}x)")
print(f"ipy.runs().compare(): {rs_cmp:8.1f} ms   Guild 0.9.0 {py_cmp:9.1f} ms   ({py_cmp / rs_cmp:.0f}x)")
rate = lambda ms: n / (ms / 1000)
print(f"guild.log, {n} scalars: {log_ms:.0f} ms = {rate(log_ms):,.0f} calls/s")
print(f"tensorboardX add_scalar: {tbx_ms:.0f} ms = {rate(tbx_ms):,.0f} calls/s ({tbx_ms / log_ms:.1f}x the time of guild.log)")
print(f"printing 'loss: x' lines under guild run: {print_ms:.0f} ms = {rate(print_ms):,.0f} scalars/s ({print_ms / log_ms:.1f}x)")
print(f"import guild: {imp_ms:.1f} ms over a bare interpreter start")
PY
