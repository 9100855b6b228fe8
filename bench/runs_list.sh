#!/usr/bin/env bash
# `runs -a` over many runs (default 10,000), warm, guild vs Guild 0.9.0.
# The runs are copies of one real run with fresh ids and start times.
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh/runs"
printf 'lr = 0.1\nprint("loss: 0.5")\n' > "$W/proj/t.py"
fill_runs "$W/proj" t.py "$W/gh" "$COUNT"
cd "$W/proj"
GUILD_HOME="$W/gh" "$GUILD_RS" runs -a >/dev/null   # warm
rs=$(GUILD_HOME="$W/gh" median_ms 7 "$GUILD_RS" runs -a)
GUILD_HOME="$W/gh" "$GUILD_PY" runs -a >/dev/null 2>&1 # warm
py=$(GUILD_HOME="$W/gh" median_ms 3 "$GUILD_PY" runs -a)
n=$(GUILD_HOME="$W/gh" "$GUILD_RS" runs -a | wc -l)
echo "runs listed: $n"
python3 -c "import sys; rs,py=float(sys.argv[1]),float(sys.argv[2]); print(f'guild runs -a: {rs:.0f} ms'); print(f'Guild 0.9.0 runs -a: {py:.0f} ms'); print(f'ratio: {py/rs:.0f}x faster')" "$rs" "$py"
