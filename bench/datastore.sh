#!/usr/bin/env bash
# Datastores: `guild datastores create` of MB (default 1000) megabytes in
# FILES (default 10,000) files against `cp -r` of the same tree on the same
# filesystem (alternated, N rounds, fresh destination each time, a sync
# after each so that neither pays the other's writeback); then a second
# create of the unchanged tree, a create after one file changed, and
# `verify` against b3sum over the same objects (b3sum is installed into
# .bench-tools with cargo when missing). Run it on a fresh filesystem:
#   bench/freshfs.sh bench/datastore.sh
source "$(dirname "$0")/common.sh"
MB="${MB:-1000}"; FILES="${FILES:-10000}"; N="${N:-3}"
B3SUM="$(command -v b3sum || true)"
if [ -z "$B3SUM" ]; then
  [ -x "$ROOT/.bench-tools/bin/b3sum" ] || cargo install -q --root "$ROOT/.bench-tools" b3sum >/dev/null 2>&1
  B3SUM="$ROOT/.bench-tools/bin/b3sum"
fi
W=$(mktemp -d); trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
python3 - "$W/src" "$MB" "$FILES" <<'PY'
import os, sys
root, mb, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = mb * 1000 * 1000 // n
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
PY
sync
python3 - "$GUILD_RS" "$W" "$N" "$B3SUM" <<'PY'
import os, shutil, statistics, subprocess, sys, time, glob
guild, w, n, b3 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
src = os.path.join(w, "src")
def timed(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t
cp, ds = [], []
for i in range(n):
    dest = os.path.join(w, "cp%d" % i)
    cp.append(timed(["cp", "-r", src, dest]))
    home = os.path.join(w, "h%d" % i)
    os.makedirs(home)
    ds.append(timed([guild, "datastores", "create", "d", src], dict(os.environ, GUILD_HOME=home)))
    shutil.rmtree(dest)
home = os.path.join(w, "h0")
env = dict(os.environ, GUILD_HOME=home)
again = timed([guild, "datastores", "create", "d", src], env)
one = sorted(glob.glob(os.path.join(src, "d000", "*")))[0]
with open(one, "ab") as f:
    f.write(b"changed")
changed = timed([guild, "datastores", "create", "d", src], env)
objs = glob.glob(os.path.join(home, "datastores", "objects", "*", "*"))
subprocess.run(["sync"])
v = [timed([guild, "datastores", "verify"], env) for _ in range(n)]
b = [timed([b3, "--num-threads", str(os.cpu_count())] + objs) if len(objs) < 20000 else float("nan") for _ in range(n)]
mc, md = statistics.median(cp), statistics.median(ds)
nsrc = sum(len(f) for _, _, f in os.walk(src))
print("create %d files: guild %.2f s, cp -r %.2f s: %.2fx the speed of cp -r" % (nsrc, md, mc, mc / md))
print("create again, unchanged: %.3f s" % again)
print("create after one file changed: %.3f s" % changed)
print("verify %d objects: guild %.2f s, b3sum %.2f s: %.2fx the speed of b3sum" % (len(objs), statistics.median(v), statistics.median(b), statistics.median(b) / statistics.median(v)))
PY
