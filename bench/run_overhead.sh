#!/usr/bin/env bash
# Tracker overhead of `run` on a trivial script: the tracked run's time
# minus the script's own, for guild and Guild 0.9.0, three ways:
#   shell   a trivial shell script;
#   python  a trivial Python script, python3 on PATH a real interpreter;
#   pyenv   the same with python3 a pyenv shim (when pyenv is installed);
# and guild with GUILD_NO_FSYNC=1, to show what the fsyncs cost.
# The script alone and the tracked run are timed in alternation (a machine
# that changes speed affects both alike); the overhead is the median of the
# per-pair differences. Guild 0.9.0 runs Python with its own interpreter.
source "$(dirname "$0")/common.sh"
N="${N:-21}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj" "$W/gh-rs" "$W/gh-py" "$W/bin"
printf '#!/bin/sh\necho "loss: 0.5"\n' > "$W/proj/t.sh"; chmod +x "$W/proj/t.sh"
printf 'x = 1\nprint("loss: 0.5")\n' > "$W/proj/t.py"
REAL=$(python3 -c 'import sys; print(sys.executable)')
ln -s "$REAL" "$W/bin/python3"
SHIMS=""
if command -v pyenv >/dev/null 2>&1; then SHIMS="$(pyenv root)/shims"; fi
cd "$W/proj"
unset GUILD_PYTHON_EXE VIRTUAL_ENV CONDA_PREFIX
export NO_PIP_FREEZE=1
python3 - "$N" "$GUILD_RS" "$GUILD_PY" "$W" "$REAL" "$SHIMS" <<'PY'
import os, statistics, subprocess, sys, time
n, rs, gpy, w, real, shims = int(sys.argv[1]), *sys.argv[2:]
base_path = os.environ["PATH"]
def t(cmd, **env):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, **env), check=True)
    return (time.perf_counter() - t0) * 1000
def overhead(k, alone, tracked, **env):
    t(tracked, **env)  # warm caches (and a shim's resolution)
    diffs = []
    for _ in range(k):
        a = t(alone)
        b = t(tracked, **env)
        diffs.append(b - a)
    return statistics.median(diffs)
rs_env = lambda path: dict(GUILD_HOME=w + "/gh-rs", PATH=path)
py_env = dict(GUILD_HOME=w + "/gh-py")
rows = []
sh_alone = ["./t.sh"]
rows.append(("trivial shell script",
    overhead(n, sh_alone, [rs, "run", "t.sh", "-y", "-q"], **rs_env(base_path)),
    overhead(n, sh_alone, [rs, "run", "t.sh", "-y", "-q"], GUILD_NO_FSYNC="1", **rs_env(base_path)),
    overhead(max(3, n // 4), sh_alone, [gpy, "run", "t.sh", "-y"], **py_env)))
py_alone = [real, "t.py"]
real_path = w + "/bin:" + base_path
rows.append(("trivial Python script, python3 a real interpreter",
    overhead(n, py_alone, [rs, "run", "t.py", "-y", "-q"], **rs_env(real_path)),
    overhead(n, py_alone, [rs, "run", "t.py", "-y", "-q"], GUILD_NO_FSYNC="1", **rs_env(real_path)),
    overhead(max(3, n // 4), py_alone, [gpy, "run", "t.py", "-y"], **py_env)))
if shims:
    shim_path = shims + ":" + base_path
    shim_alone = t([shims + "/python3", "t.py"], PATH=shim_path) - t(py_alone)
    rows.append(("trivial Python script, python3 a pyenv shim",
        overhead(n, py_alone, [rs, "run", "t.py", "-y", "-q"], **rs_env(shim_path)),
        overhead(n, py_alone, [rs, "run", "t.py", "-y", "-q"], GUILD_NO_FSYNC="1", **rs_env(shim_path)),
        None))
    print(f"(the shim itself costs {shim_alone:.0f} ms per start)")
print(f"{'script':<52} {'guild':>9} {'no fsync':>9} {'Guild 0.9.0':>12} {'ratio':>7}")
for name, a, b, g in rows:
    gs = f"{g:.0f} ms" if g is not None else "-"
    ratio = f"{g / max(a, 0.1):.0f}x" if g is not None else "-"
    print(f"{name:<52} {a:>6.1f} ms {b:>6.1f} ms {gs:>12} {ratio:>7}")
PY
