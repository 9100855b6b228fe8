#!/usr/bin/env bash
# `runs -a` over many runs (default 10,000), warm, guild vs Guild 0.9.0.
# The runs are copies of one real run with fresh ids and start times.
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh/runs"
printf 'lr = 0.1\nprint("loss: 0.5")\n' > "$W/proj/t.py"
(cd "$W/proj" && GUILD_HOME="$W/gh" "$GUILD_RS" run t.py -y -q >/dev/null)
tpl=$(ls -d "$W/gh/runs/"*)
python3 - "$tpl" "$W/gh/runs" "$COUNT" <<'PY'
import os, shutil, sys, uuid
tpl, runs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = int(open(os.path.join(tpl, ".guild/attrs/started")).read())
for i in range(n - 1):
    rid = uuid.uuid4().hex
    d = os.path.join(runs, rid)
    shutil.copytree(tpl, d, symlinks=True)
    open(os.path.join(d, ".guild/attrs/id"), "w").write(rid + "\n")
    open(os.path.join(d, ".guild/attrs/started"), "w").write("%d\n" % (started - i * 1000000))
PY
cd "$W/proj"
GUILD_HOME="$W/gh" "$GUILD_RS" runs -a >/dev/null   # warm
rs=$(GUILD_HOME="$W/gh" median_ms 7 "$GUILD_RS" runs -a)
GUILD_HOME="$W/gh" "$GUILD_PY" runs -a >/dev/null 2>&1 # warm
py=$(GUILD_HOME="$W/gh" median_ms 3 "$GUILD_PY" runs -a)
n=$(GUILD_HOME="$W/gh" "$GUILD_RS" runs -a | wc -l)
echo "runs listed: $n"
python3 -c "import sys; rs,py=float(sys.argv[1]),float(sys.argv[2]); print(f'guild runs -a: {rs:.0f} ms'); print(f'Guild 0.9.0 runs -a: {py:.0f} ms'); print(f'ratio: {py/rs:.0f}x faster')" "$rs" "$py"
