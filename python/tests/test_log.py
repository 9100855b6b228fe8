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


def test_a_stopped_script_keeps_what_it_logged_up_to_its_last_second(project):
    (project / "slow.py").write_text(
        "import guild, time\n"
        "for step in range(100000):\n"
        "    guild.log(step=step, loss=float(step))\n"
        "    time.sleep(0.01)\n"
    )
    run_guild("run", "slow.py", "-y", "--background")
    run_id = guild_json("runs", "info", "--json")["id"]

    def logged():
        rows = guild_json("api", "scalars", run_id)
        return rows and rows[0]["last_step"] >= 100 and rows[0]["last_step"]

    # Written while it runs: flushed without the script ending.
    seen = wait_for(logged, 60, "the running script's scalars")
    assert guild_json("runs", "info", "--json", run_id)["status"] == "running"
    run_guild("stop", "-y", run_id)
    wait_for(lambda: guild_json("runs", "info", "--json", run_id)["status"] == "terminated", 60, "stop")
    rows = guild_json("api", "scalars", run_id)
    assert rows[0]["last_step"] >= seen
    assert rows[0]["count"] == rows[0]["last_step"] + 1  # no gap, no torn record
