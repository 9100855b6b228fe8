#!/usr/bin/env bash
# Output capture: a script writes MB (default 200) megabytes of 100-byte
# lines in 1 MiB writes, 1% of them scalar lines (`loss: 0.5...`), run
# under guild vs piped through `cat` to a file; throughput of each, the
# ratio, and the peak RSS of guild's supervising process. Guild 0.9.0
# is timed on GUILD_MB (default 20) megabytes: it is much slower.
source "$(dirname "$0")/common.sh"
MB="${MB:-200}"
GUILD_MB="${GUILD_MB:-20}"
N="${N:-5}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh" "$W/gh-py"
write_gen_py "$W/proj/gen.py"
cd "$W/proj"
PY=$(dirname "$GUILD_PY")/python
export GUILD_PYTHON_EXE="$PY" NO_PIP_FREEZE=1
python3 - "$N" "$PY" "$GUILD_RS" "$GUILD_PY" "$W" "$MB" "$GUILD_MB" <<'PYX'
import os, statistics, subprocess, sys, time, glob, shutil, threading
n, py, guild, guild_py, w, mb, gmb = int(sys.argv[1]), *sys.argv[2:5], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
env = dict(os.environ, GUILD_HOME=w + "/gh", GEN_MB=str(mb))
def hwm(pid):
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith("VmHWM:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0
def peak_rss(pid):
    # The process started and the guild processes it starts (the
    # supervisor that captures the output), not the script.
    peak = {}
    while os.path.exists(f"/proc/{pid}"):
        pids = [pid]
        try:
            kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
        except OSError:
            kids = []
        for k in kids:
            try:
                if open(f"/proc/{k}/comm").read().strip() == "guild":
                    pids.append(int(k))
            except OSError:
                pass
        for p in pids:
            peak[p] = max(peak.get(p, 0), hwm(p))
        time.sleep(0.02)
    return max(peak.values(), default=0)
direct, tracked, rss = [], [], []
for i in range(n):
    # Each timed run starts with no dirty pages left by the one before
    # (writing back 200 MB behind a run's back slows it at random).
    os.sync()
    t = time.perf_counter()
    subprocess.run(f"'{py}' gen.py | cat > '{w}/direct.out'", shell=True, env=env, check=True)
    direct.append(time.perf_counter() - t)
    os.sync()
    t = time.perf_counter()
    p = subprocess.Popen([guild, "run", "gen.py", "-y", "-q"], env=env)
    box = []
    th = threading.Thread(target=lambda: box.append(peak_rss(p.pid)))
    th.start()
    p.wait()
    tracked.append(time.perf_counter() - t)
    th.join()
    rss.append(box[0])
    run = glob.glob(w + "/gh/runs/*")[0]
    assert os.path.getsize(run + "/.guild/output") == os.path.getsize(w + "/direct.out")
    shutil.rmtree(run)
size = os.path.getsize(w + "/direct.out")
d, g = statistics.median(direct), statistics.median(tracked)
print(f"bytes per run: {size}")
print(f"gen | cat > file:  median {d:.3f} s ({size/d/1e6:.0f} MB/s) of {n}")
print(f"guild run gen.py:  median {g:.3f} s ({size/g/1e6:.0f} MB/s) of {n}")
print(f"throughput ratio (guild / cat): {d/g:.2f}x")
print(f"guild peak RSS (VmHWM of its process and of the supervisor it starts): max {max(rss)/1024:.1f} MiB of {n}")
env_py = dict(env, GUILD_HOME=w + "/gh-py", GEN_MB=str(gmb))
t = time.perf_counter()
subprocess.run([guild_py, "run", "gen.py", "-y"], env=env_py, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
gp = time.perf_counter() - t
gsize = gmb * size // mb
print(f"Guild 0.9.0 ({gmb} MB): {gp:.2f} s ({gsize/gp/1e6:.0f} MB/s)")
PYX
