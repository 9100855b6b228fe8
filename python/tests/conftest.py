"""Fixtures: a private guild home and project per test, the installed
package's binary, and Guild AI 0.9.0 (GUILD_COMPAT_VENV) for reading runs
back."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

TRAIN_PY = """\
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--sleep", type=float, default=0.0)
a = p.parse_args()
for e in range(1, a.epochs + 1):
    print("step: %d" % e, flush=True)
    print("loss: %f" % (a.lr / e), flush=True)
    time.sleep(a.sleep)
"""


def pandas_expected():
    flavor = os.environ.get("GUILD_TEST_FLAVOR")
    if flavor:
        return flavor == "pandas"
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "guild-home"
    h.mkdir()
    monkeypatch.setenv("GUILD_HOME", str(h))
    monkeypatch.delenv("GUILD_CONFIG", raising=False)
    monkeypatch.delenv("RUN_DIR", raising=False)
    monkeypatch.delenv("RUN_ID", raising=False)
    return h


@pytest.fixture
def project(tmp_path, home, monkeypatch):
    p = tmp_path / "proj"
    p.mkdir()
    (p / "train.py").write_text(TRAIN_PY)
    monkeypatch.chdir(p)
    return p


def guild(*args, cwd=None, check=True):
    """The installed binary, as the package finds it."""
    from guild import find_guild_bin

    p = subprocess.run(
        [find_guild_bin()] + list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and p.returncode != 0:
        raise AssertionError("guild %s failed: %s%s" % (args, p.stdout, p.stderr))
    return p


def guild_json(*args):
    return json.loads(guild(*args).stdout)


def wait_for(pred, timeout=60, what="condition"):
    t0 = time.time()
    while True:
        v = pred()
        if v:
            return v
        if time.time() - t0 > timeout:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.1)


def compat_venv():
    v = os.environ.get("GUILD_COMPAT_VENV")
    if not v or not os.path.exists(os.path.join(v, "bin", "guild")):
        raise AssertionError(
            "GUILD_COMPAT_VENV must name the venv with guildai==0.9.0 "
            "(scripts/setup-test-env.sh makes it)"
        )
    return v
