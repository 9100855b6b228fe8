#!/usr/bin/env bash
# `compare --csv` over many runs (default 10,000) with 5 scalars each,
# warm (median of 3) and cold (median of 3, page cache dropped before each;
# needs root), guild vs
# Guild 0.9.0 (warm only unless GUILD_COLD=1: it takes minutes).
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh/runs"
cat > "$W/proj/t.py" <<'PY'
lr = 0.1
for step in range(1, 4):
    print("step: %d" % step)
    print("loss: %f" % (1 / step))
    print("acc: %f" % (1 - 1 / (step + 1)))
    print("f1: 0.5")
    print("precision: 0.6")
    print("recall: 0.7")
PY
fill_runs "$W/proj" t.py "$W/gh" "$COUNT"
cd "$W/proj"
export GUILD_HOME="$W/gh"
# cold N CMD...: median of N runs, each after dropping the page cache.
cold() {
  local n=$1; shift
  local ts=()
  for _ in $(seq "$n"); do
    if [ -w /proc/sys/vm/drop_caches ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
    ts+=("$(median_ms 1 "$@")")
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p"
}
rows=$("$GUILD_RS" compare --csv | wc -l)
rs_cold=$(cold 3 "$GUILD_RS" compare --csv)
rs_warm=$(median_ms 3 "$GUILD_RS" compare --csv)
"$GUILD_PY" compare --csv - >/dev/null 2>&1 || true
py_warm=$(median_ms 1 "$GUILD_PY" compare --csv -)
py_cold=""
if [ "${GUILD_COLD:-0}" = 1 ]; then py_cold=$(cold 1 "$GUILD_PY" compare --csv -); fi
python3 - "$rows" "$rs_warm" "$rs_cold" "$py_warm" "${py_cold:-0}" <<'PY'
import sys
rows = int(sys.argv[1]); rw, rc, pw, pc = map(float, sys.argv[2:])
print(f"csv rows: {rows - 1}")
print(f"guild compare --csv: warm {rw:.0f} ms, cold {rc:.0f} ms")
print(f"Guild 0.9.0 compare --csv: warm {pw:.0f} ms" + (f", cold {pc:.0f} ms" if pc else ""))
print(f"warm ratio: {pw / rw:.0f}x faster")
PY
