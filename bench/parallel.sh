#!/usr/bin/env bash
# `--parallel 2` on CPU-bound trials: wall time of a 4-trial sweep run
# sequentially and two at a time (guild only: Guild 0.9.0 has no --parallel).
source "$(dirname "$0")/common.sh"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh"
cat > "$W/proj/burn.py" <<'PY'
n = 0
i = 0
while i < 12_000_000:
    n += i * i % 7
    i += 1
print("loss: %d" % (n % 10))
PY
cd "$W/proj"
export GUILD_HOME="$W/gh" GUILD_PYTHON_EXE="$(python3 -c 'import sys; print(sys.executable)')"
seq=$(median_ms 1 "$GUILD_RS" run burn.py "n=[1,2,3,4]" -y -q)
par=$(median_ms 1 "$GUILD_RS" run burn.py "n=[1,2,3,4]" --parallel 2 -y -q)
python3 -c "import sys; s,p=float(sys.argv[1]),float(sys.argv[2]); print(f'sequential: {s/1000:.2f} s'); print(f'--parallel 2: {p/1000:.2f} s'); print(f'ratio (parallel / sequential): {p/s:.2f}')" "$seq" "$par"
