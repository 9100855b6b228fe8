#!/usr/bin/env bash
# Listing at scale, warm, guild vs Guild 0.9.0:
#   `runs info` (the latest run) and `runs` (the latest 20) with COUNT runs
#   (default 10,000; Guild 0.9.0 with GUILD_COUNT, default 1,000);
#   `runs -a` and `compare --csv` with BIG runs (default 100,000; Guild
#   0.9.0 with GUILD_BIG, default 10,000: at 100,000 it takes minutes).
# Each run has a few scalars; the runs are copies of one real run.
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"; GUILD_COUNT="${GUILD_COUNT:-1000}"
BIG="${BIG:-100000}"; GUILD_BIG="${GUILD_BIG:-10000}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/a" "$W/b"
cat > "$W/proj/t.py" <<'PY'
lr = 0.1
for step in range(1, 4):
    print("step: %d" % step)
    print("loss: %f" % (1 / step))
    print("acc: %f" % (1 - 1 / (step + 1)))
PY
cd "$W/proj"
(GUILD_HOME="$W/a" "$GUILD_RS" run t.py -y -q >/dev/null)
cp -a "$W/a/runs" "$W/b/"
ms() { # ms N HOME CMD...: median wall ms of N warm runs
  local n=$1 home=$2; shift 2
  GUILD_HOME="$home" "$@" >/dev/null 2>&1  # warm (and the index made)
  sleep 2.1                                # let the newest times age
  GUILD_HOME="$home" "$@" >/dev/null 2>&1
  GUILD_HOME="$home" median_ms "$n" "$@"
}
row() { printf '%-44s %10s %14s\n' "$1" "$2" "$3"; }
fill_links "$W/a" "$GUILD_COUNT"
g_info=$(ms 5 "$W/a" "$GUILD_PY" runs info); g_runs=$(ms 5 "$W/a" "$GUILD_PY" runs)
fill_links "$W/a" "$COUNT"
r_info=$(ms 15 "$W/a" "$GUILD_RS" runs info); r_runs=$(ms 15 "$W/a" "$GUILD_RS" runs)
# The floor: the one stat per run that detects a run changed behind the
# index's back (a C loop, when a C compiler is here).
floor=""
if command -v cc >/dev/null 2>&1 && cc -O2 -o "$W/stat_floor" "$ROOT/bench/stat_floor.c" 2>/dev/null; then
  floor=$("$W/stat_floor" "$W/a/runs")
fi
fill_links "$W/b" "$GUILD_BIG"
g_all=$(ms 3 "$W/b" "$GUILD_PY" runs -a); g_csv=$(ms 3 "$W/b" "$GUILD_PY" compare --csv -)
fill_links "$W/b" "$BIG"
r_all=$(ms 5 "$W/b" "$GUILD_RS" runs -a); r_csv=$(ms 5 "$W/b" "$GUILD_RS" compare --csv -)
row "" "guild" "Guild 0.9.0"
row "runs info (latest), $COUNT runs (Guild: $GUILD_COUNT)" "$r_info ms" "$g_info ms"
row "runs (latest 20), $COUNT runs (Guild: $GUILD_COUNT)" "$r_runs ms" "$g_runs ms"
row "runs -a, $BIG runs (Guild: $GUILD_BIG)" "$r_all ms" "$g_all ms"
row "compare --csv, $BIG runs (Guild: $GUILD_BIG)" "$r_csv ms" "$g_csv ms"
[ -z "$floor" ] || echo "floor: $floor"
