# Shared helpers for the benchmarks: paths to both tools and a median timer.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GUILD_RS="${GUILD_RS:-$ROOT/target/release/guild}"
GUILD_PY="${GUILD_PY:-${GUILD_COMPAT_VENV:-$ROOT/.venv-guild}/bin/guild}"
[ -x "$GUILD_RS" ] || (cd "$ROOT" && cargo build --release >/dev/null)
[ -x "$GUILD_PY" ] || "$ROOT/scripts/setup-test-env.sh" >/dev/null
export NO_IMPORT_FLAGS_PROGRESS=1
# Start from a quiet disk: writeback left by an earlier benchmark (the
# capture one writes over a gigabyte) would compete for the CPUs.
sync
# median_ms N CMD...: run CMD N times, print the median wall time in ms.
median_ms() {
  local n=$1; shift
  python3 - "$n" "$@" <<'PY'
import subprocess, sys, time, statistics
n = int(sys.argv[1]); cmd = sys.argv[2:]
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
print("%.1f" % statistics.median(ts))
PY
}
# fill_runs PROJ SCRIPT HOME COUNT: run SCRIPT once with guild, then copy
# that run to COUNT runs in total with fresh ids and earlier start times.
fill_runs() {
  (cd "$1" && GUILD_HOME="$3" "$GUILD_RS" run "$2" -y -q >/dev/null)
  local tpl
  tpl=$(ls -d "$3/runs/"*)
  python3 - "$tpl" "$3/runs" "$4" <<'PY'
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
  # Let writeback of the new files finish so it does not compete with the
  # timed commands (warm means cached, not being flushed).
  sync
}
# fill_links HOME COUNT: as fill_runs, for homes of 100,000 runs: the first
# run of HOME is the template, and each copy is made of hard links to its
# files (new directories, and a new id and start time of their own).
fill_links() {
  python3 - "$1/runs" "$2" <<'PY'
import os, shutil, sys, uuid
runs, n = sys.argv[1], int(sys.argv[2])
src = {}
# The template: the run made first (the oldest initialized).
ids = [d for d in os.listdir(runs) if not d.startswith(".")]
tpl = os.path.join(runs, min(ids, key=lambda d: int(open(os.path.join(runs, d, ".guild/attrs/initialized")).read())))
have = len([d for d in os.listdir(runs) if not d.startswith(".")])
started = int(open(os.path.join(tpl, ".guild/attrs/started")).read())
tree = []
for root, dirs, files in os.walk(tpl):
    rel = os.path.relpath(root, tpl)
    tree.append((rel, files))
for i in range(have, n):
    rid = uuid.uuid4().hex
    d = os.path.join(runs, rid)
    for rel, files in tree:
        os.mkdir(os.path.normpath(os.path.join(d, rel)))
        for f in files:
            if rel == ".guild/attrs" and f in ("id", "started"):
                continue
            key = os.path.join(rel, f)
            dst = os.path.join(d, rel, f)
            try:
                os.link(src.get(key, os.path.join(tpl, key)), dst)
            except OSError as e:
                if e.errno != 31:  # EMLINK: 65,000 links to the file
                    raise
                shutil.copy2(os.path.join(tpl, key), dst)
                src[key] = dst
    open(os.path.join(d, ".guild/attrs/id"), "w").write(rid + "\n")
    open(os.path.join(d, ".guild/attrs/started"), "w").write("%d\n" % (started - (i + 1) * 1000000))
PY
  sync
}
# write_gen_py FILE: a Python script that writes $GEN_MB (default 200)
# megabytes of 100-byte lines in 1 MiB writes, 1% of them scalar lines
# (`loss: 0.5...`): the output the capture benchmarks run.
write_gen_py() {
  cat > "$1" <<'PY'
import os, sys
mb = int(os.environ.get("GEN_MB", "200"))
lines = []
for i in range(10486):  # ~1 MiB of 100-byte lines
    if i % 100 == 0:
        s = "loss: 0.%s" % ("%d" % (i + 1)).rjust(89, "1")
    else:
        s = ("epoch 1 batch %d " % i).ljust(99, "x")
    lines.append(s + "\n")
block = "".join(lines).encode()
out = sys.stdout.buffer
for _ in range(mb * 1024 * 1024 // len(block)):
    out.write(block)
    out.flush()
PY
}
