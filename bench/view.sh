#!/usr/bin/env bash
# `guild view` with 10,000 runs in the home (copies of one real run):
#   1. the JSON of the runs table (/api/runs), warm, median of N;
#   2. the first page in headless Chromium, from navigation to a usable
#      table (rows drawn), measured in the browser (performance.now());
#   3. compare of 50 runs x 10,000 steps x 3 scalars: navigation to all
#      charts drawn, in the browser.
# Chromium is driven over WebDriver with curl (chromedriver from Debian's
# packages, which scripts/setup-test-env.sh installs).
source "$(dirname "$0")/common.sh"
COUNT="${COUNT:-10000}"
N="${N:-15}"
W=$(mktemp -d)
VIEW_PID= ; DRIVER_PID=
cleanup() {
  [ -n "$VIEW_PID" ] && kill "$VIEW_PID" 2>/dev/null
  [ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/proj" "$W/gh/runs" "$W/gc/runs"
printf 'lr = 0.1\nprint("loss: 0.5")\n' > "$W/proj/t.py"
fill_runs "$W/proj" t.py "$W/gh" "$COUNT"
# 50 runs of 10,000 steps x 3 scalars.
cat > "$W/proj/long.py" <<'EOF'
import math
seed = 1
for i in range(10000):
    print("step: %d" % i)
    print("loss: %f" % (1.0 / (i + seed)))
    print("acc: %f" % (1 - 1.0 / (i + 2)))
    print("lr: %f" % (0.1 * math.exp(-i / 5000)))
EOF
for s in $(seq 1 50); do
  (cd "$W/proj" && GUILD_HOME="$W/gc" "$GUILD_RS" run long.py seed=$s -y -q >/dev/null)
done
sync

serve() { # HOME -> sets URL
  GUILD_HOME="$1" "$GUILD_RS" view --port 0 > "$W/view.out" &
  VIEW_PID=$!
  for _ in $(seq 100); do grep -q "Running guild view" "$W/view.out" 2>/dev/null && break; sleep 0.05; done
  URL=$(sed -n 's/^Running guild view at //p' "$W/view.out")
}

serve "$W/gh"
curl -s "${URL}api/runs" >/dev/null   # warm
json_ms=$(median_ms "$N" curl -s -o /dev/null "${URL}api/runs")
rows=$(curl -s "${URL}api/runs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chromedriver --port="$PORT" >/dev/null 2>&1 &
DRIVER_PID=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/status" >/dev/null && break; sleep 0.1; done
WD="http://127.0.0.1:$PORT"
SID=$(curl -s -X POST "$WD/session" -H 'Content-Type: application/json' -d "{\"capabilities\":{\"alwaysMatch\":{\"goog:chromeOptions\":{\"binary\":\"/usr/bin/chromium\",\"args\":[\"--headless=new\",\"--no-sandbox\",\"--disable-gpu\",\"--disable-quic\",\"--no-first-run\",\"--disable-background-networking\",\"--disable-component-update\",\"--disable-sync\",\"--window-size=1400,900\",\"--user-data-dir=$W/profile\"]}}}}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
js() { # SCRIPT -> the value it returns
  curl -s -X POST "$WD/session/$SID/execute/sync" -H 'Content-Type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"script": sys.argv[1], "args": []}))' "$1")" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'
}
goto() { curl -s -X POST "$WD/session/$SID/url" -H 'Content-Type: application/json' -d "{\"url\":\"$1\"}" >/dev/null; }
# Time from navigation start to a condition, polled in the page every frame.
until_ms() { # URL CONDITION
  goto "about:blank"
  goto "$1"
  js "return new Promise(done => { const t = () => ($2) ? done(performance.now()) : requestAnimationFrame(t); t(); })"
}
page=()
for _ in 1 2 3 4 5; do page+=("$(until_ms "$URL" "document.querySelectorAll('.row').length > 10")"); done
kill "$VIEW_PID"; VIEW_PID=
serve "$W/gc"
IDS=$(GUILD_HOME="$W/gc" "$GUILD_RS" runs -a --json | python3 -c 'import json,sys; print(",".join(r["id"] for r in json.load(sys.stdin)))')
charts=()
for _ in 1 2 3; do charts+=("$(until_ms "${URL}#/compare?ids=$IDS" "window.__view && window.__view.charts && Object.keys(window.__view.charts).length === 3")"); done
pts=$(js "return Object.values(window.__view.charts).map(c => Math.max(...c.points)).join(',')")
# 4. The output tail: from a line written by a running run to the line
#    shown in the page (each line carries the time it was written).
printf 'import time\nfor i in range(40):\n    print("tick %%d %%.3f" %% (i, time.time() * 1000), flush=True)\n    time.sleep(0.25)\n' > "$W/proj/ticks.py"
(cd "$W/proj" && GUILD_HOME="$W/gc" "$GUILD_RS" run ticks.py -y -q --background >/dev/null 2>&1)
TID=$(GUILD_HOME="$W/gc" "$GUILD_RS" select)
goto "${URL}#/run/$TID"
tail_ms=$(js 'return new Promise(done => {
  const lat = [], seen = new Set();
  const poll = () => {
    const el = document.querySelector("#output");
    if (el) for (const d of el.querySelectorAll("div")) {
      const m = /tick (\d+) ([0-9.]+)/.exec(d.textContent);
      if (m && !seen.has(m[1])) { seen.add(m[1]); if (seen.size > 2) lat.push(Date.now() - parseFloat(m[2])); }
    }
    if (lat.length >= 20) { lat.sort((a, b) => a - b); done(lat[Math.floor(lat.length / 2)]); } else requestAnimationFrame(poll);
  };
  poll();
})')
curl -s -X DELETE "$WD/session/$SID" >/dev/null

python3 - "$json_ms" "$rows" "$pts" "${page[*]}" "${charts[*]}" "$tail_ms" <<'PY'
import statistics, sys
tail = float(sys.argv[6])
json_ms, rows, pts = float(sys.argv[1]), sys.argv[2], sys.argv[3]
page = [float(x) for x in sys.argv[4].split()]
charts = [float(x) for x in sys.argv[5].split()]
print(f"/api/runs JSON, {rows} runs:                 {json_ms:.0f} ms (target < 300)")
print(f"first page to a usable table, in Chromium: {statistics.median(page):.0f} ms (median of {len(page)}; target < 1000)")
print(f"output tail, written to shown in the page: {tail:.0f} ms (median of 20 lines; target < 500)")
print(f"compare 50 runs x 10,000 steps x 3 scalars: {statistics.median(charts):.0f} ms to 3 charts drawn (median of {len(charts)}; target < 1000); points per series after downsampling: {pts}")
PY
