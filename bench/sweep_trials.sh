#!/usr/bin/env bash
# Per-trial overhead of a 50-trial grid of a trivial script (total time
# minus 50 times the script alone, divided by 50), guild vs Guild 0.9.0.
source "$(dirname "$0")/common.sh"
TRIALS="${TRIALS:-50}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh-rs" "$W/gh-py"
printf 'x = 1\nprint("loss: 0.5")\n' > "$W/proj/trivial.py"
cd "$W/proj"
VPY="$(dirname "$GUILD_PY")/python"
export GUILD_PYTHON_EXE="$VPY"
base=$(median_ms 11 "$VPY" -u trivial.py)
t_rs=$(GUILD_HOME="$W/gh-rs" median_ms 1 "$GUILD_RS" run trivial.py "x=range[1:$TRIALS]" -y -q)
t_py=$(GUILD_HOME="$W/gh-py" median_ms 1 "$GUILD_PY" run trivial.py "x=range[1:$TRIALS]" -y -q)
n_rs=$(ls "$W/gh-rs/runs" | wc -l); n_py=$(ls "$W/gh-py/runs" | wc -l)
python3 - "$base" "$t_rs" "$t_py" "$TRIALS" "$n_rs" "$n_py" <<'PY'
import sys
base, rs, py, n, n_rs, n_py = map(float, sys.argv[1:])
o_rs, o_py = (rs - n * base) / n, (py - n * base) / n
print(f"trials: {int(n)} (runs dirs: guild {int(n_rs)}, Guild 0.9.0 {int(n_py)})")
print(f"script alone: {base:.1f} ms")
print(f"guild:       sweep {rs/1000:.2f} s, per-trial overhead {o_rs:.1f} ms")
print(f"Guild 0.9.0: sweep {py/1000:.2f} s, per-trial overhead {o_py:.1f} ms")
print(f"per-trial overhead ratio (Guild 0.9.0 / guild): {o_py / max(o_rs, 0.1):.0f}x")
PY
