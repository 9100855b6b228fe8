#!/usr/bin/env bash
# Tracker overhead of `run` on a trivial script: median total time minus the
# script's own median time, for guild (this project) and Guild 0.9.0.
source "$(dirname "$0")/common.sh"
N="${N:-21}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh-rs" "$W/gh-py"
printf 'x = 1\nprint("loss: 0.5")\n' > "$W/proj/trivial.py"
cd "$W/proj"
PY=$(python3 -c 'import sys; print(sys.executable)')
export GUILD_PYTHON_EXE="$PY"
base=$(median_ms "$N" "$PY" -u trivial.py)
VPY="$(dirname "$GUILD_PY")/python"
base_py=$(median_ms "$N" "$VPY" -u trivial.py)
GUILD_HOME="$W/gh-rs" "$GUILD_RS" run trivial.py -y -q >/dev/null  # warm caches
rs=$(GUILD_HOME="$W/gh-rs" median_ms "$N" "$GUILD_RS" run trivial.py -y -q)
GUILD_PYTHON_EXE="$VPY" GUILD_HOME="$W/gh-py" "$GUILD_PY" run trivial.py -y -q >/dev/null 2>&1
py=$(GUILD_PYTHON_EXE="$VPY" GUILD_HOME="$W/gh-py" median_ms "$((N / 3 + 1))" "$GUILD_PY" run trivial.py -y -q)
python3 - "$base" "$rs" "$py" "$base_py" <<'PY'
import sys
base, rs, py, base_py = map(float, sys.argv[1:])
o_rs, o_py = rs - base, py - base_py
print(f"script alone: {base:.1f} ms")
print(f"guild:      total {rs:.1f} ms, overhead {o_rs:.1f} ms")
print(f"Guild 0.9.0: total {py:.1f} ms, overhead {o_py:.1f} ms")
print(f"overhead ratio (Guild 0.9.0 / guild): {o_py / max(o_rs, 0.1):.0f}x")
PY
