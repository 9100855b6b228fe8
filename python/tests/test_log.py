"""guild.log and SummaryWriter from a script under `guild run`, read back by
TensorBoard, `guild compare` and Guild AI 0.9.0."""

import json
import os
import subprocess
import sys

import pytest

import guild
from conftest import compat_venv, guild as run_guild, guild_json, wait_for

LOGGING_PY = """\
import guild
from guild.summary import SummaryWriter
for step in range(5):
    guild.log(step=step, loss=1.0 / (step + 1), acc=0.5 + step / 10)
guild.log({"lr": 0.01}, step=4)
w = SummaryWriter()
for step in range(3):
    w.add_scalar("val/loss", 2.0 - step, step)
w.add_text("note", "lr halved", 2)
w.close()
run = guild.current_run()
print("in run", run.id, "flags", sorted(run.flags))
x = 3
"""


def test_logged_scalars_are_read_by_tensorboard_compare_and_guild_090(project):
    (project / "logs.py").write_text(LOGGING_PY)
    out = run_guild("run", "logs.py", "-y")
    assert "in run" in out.stdout and "flags ['x']" in out.stdout, out.stdout + out.stderr
    run_dir = guild_json("runs", "info", "--json")["run_dir"]
    # TensorBoard's own reader.
    venv = compat_venv()
    code = (
        "import sys, json\n"
        "from tensorboard.backend.event_processing import event_accumulator as ea\n"
        "a = ea.EventAccumulator(sys.argv[1]); a.Reload()\n"
        "print(json.dumps({t: [[e.step, round(e.value, 6)] for e in a.Scalars(t)] for t in a.Tags()['scalars']}))\n"
        "print(json.dumps(a.Tags()['tensors']))\n"
    )
    p = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c", code, run_dir], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    scalars = json.loads(lines[0])
    assert scalars["loss"] == [[s, round(1.0 / (s + 1), 6)] for s in range(5)]
    assert scalars["acc"][-1] == [4, 0.9]
    assert scalars["lr"] == [[4, 0.01]]
    assert scalars["val/loss"] == [[0, 2.0], [1, 1.0], [2, 0.0]]
    assert json.loads(lines[1]) == ["note"]
    # guild compare.
    rows = guild_json("compare", "--json")
    assert rows[0]["loss"] == pytest.approx(0.2) and rows[0]["val/loss"] == 0.0, rows
    # Guild AI 0.9.0 on the same home.
    g = subprocess.run(
        [os.path.join(venv, "bin", "guild"), "runs", "info"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert g.returncode == 0, g.stderr
    assert "loss: 0.2" in g.stdout and "val/loss: 0.0" in g.stdout, g.stdout


def test_logging_outside_a_run_says_so_once_and_never_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("RUN_DIR", raising=False)
    code = (
        "import guild\n"
        "guild.log(loss=1.0); guild.log(loss=2.0, bad='x'); guild.log(3, loss=object())\n"
        "print('still here')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and "still here" in p.stdout
    assert p.stderr.count("nothing is recorded") == 1, p.stderr
    assert not any(f.name.startswith("events") for f in tmp_path.iterdir())


def test_set_log_dir_writes_outside_a_run(tmp_path, monkeypatch):
    monkeypatch.delenv("RUN_DIR", raising=False)
    out = tmp_path / "logs"
    code = (
        "import guild\n"
        "guild.set_log_dir(%r)\n"
        "guild.log(loss=1.5); guild.log(loss=2.5, bad='x')\n" % str(out)
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "bad='x' is not a number" in p.stderr
    files = list(out.iterdir())
    assert len(files) == 1 and files[0].name.startswith("events.out.tfevents.")
    from guild import _events

    # Both records decode and their CRCs hold.
    data = files[0].read_bytes()
    n = 0
    i = 0
    import struct

    while i < len(data):
        (ln,) = struct.unpack("<Q", data[i : i + 8])
        body = data[i + 12 : i + 12 + ln]
        (crc,) = struct.unpack("<I", data[i + 12 + ln : i + 16 + ln])
        assert crc == _events.masked_crc32c(body)
        i += 16 + ln
        n += 1
    assert n == 3  # file version, then one event per log call


def test_a_stopped_script_keeps_everything_it_logged(project):
    # Each step is printed after it is logged: what the output shows was
    # logged, and `guild stop` (SIGTERM) must not lose it.
    (project / "slow.py").write_text(
        "import guild, time\n"
        "for step in range(100000):\n"
        "    guild.log(step=step, loss=float(step))\n"
        "    print('logged %d' % step, flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    run_guild("run", "slow.py", "-y", "--background")
    run_id = guild_json("runs", "info", "--json")["id"]

    def logged():
        rows = guild_json("api", "scalars", run_id)
        return rows and rows[0]["last_step"] >= 100 and rows[0]["last_step"]

    # Written while it runs: flushed without the script ending.
    wait_for(logged, 60, "the running script's scalars")
    assert guild_json("runs", "info", "--json", run_id)["status"] == "running"
    run_guild("stop", "-y", run_id)
    wait_for(lambda: guild_json("runs", "info", "--json", run_id)["status"] == "terminated", 60, "stop")
    printed = [l for l in run_guild("cat", "--output", run_id).stdout.splitlines() if l.startswith("logged ")]
    last_printed = int(printed[-1].split()[1])
    rows = guild_json("api", "scalars", run_id)
    assert rows[0]["last_step"] >= last_printed, (rows[0], last_printed)
    assert rows[0]["count"] == rows[0]["last_step"] + 1  # no gap, no torn record


def test_log_never_raises_and_a_forked_child_writes_its_own_file(tmp_path):
    out = tmp_path / "logs"
    code = (
        "import os, guild\n"
        "class Tensor:\n"
        "    def __float__(self): raise RuntimeError('only one element tensors can be converted')\n"
        "guild.set_log_dir(%r)\n"
        "guild.log(step=0, loss=1e300)\n"          # past float32: inf
        "guild.log({0: 1.0, 'ok': 2.0}, step=1)\n"  # a key that is not a string
        "guild.log(step=2, loss=Tensor())\n"
        "guild.log(step=float('inf'), loss=1.0)\n"
        "guild.log(step=2 ** 70, a=1.0, b=2.0)\n"
        "guild.log('\\ud800', loss=3.0)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    guild.log(step=100, child=1.0)\n"
        "    os._exit(0) if False else None\n"
        "    raise SystemExit(0)\n"
        "os.waitpid(pid, 0)\n"
        "guild.log(step=200, parent=1.0)\n"
        "print('done')\n" % str(out)
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and "done" in p.stdout, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    import struct

    from guild import _events

    tags = {}
    files = sorted(out.iterdir())
    assert len(files) == 2, files  # the parent's and the child's
    for f in files:
        data = f.read_bytes()
        i = 0
        seen = []
        while i < len(data):
            (ln,) = struct.unpack("<Q", data[i : i + 8])
            (hcrc,) = struct.unpack("<I", data[i + 8 : i + 12])
            assert hcrc == _events.masked_crc32c(data[i : i + 8])
            body = data[i + 12 : i + 12 + ln]
            (crc,) = struct.unpack("<I", data[i + 12 + ln : i + 16 + ln])
            assert crc == _events.masked_crc32c(body)
            seen.append(body)
            i += 16 + ln
        tags[f.name] = b"".join(seen)
    parent, child = (tags[f.name] for f in files)
    assert b"child" in child and b"child" not in parent
    assert b"parent" in parent and parent.count(b"loss") >= 1 and child.count(b"loss") == 0


def test_crc32c_known_answers():
    from guild import _events

    # RFC 3720's check value, and TensorBoard's masking of a record header.
    assert _events.crc32c(b"123456789") == 0xE3069283
    assert _events.crc32c(b"") == 0
    assert _events.masked_crc32c(b"") == 0xA282EAD8
