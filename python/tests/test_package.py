"""The wheel: its binary, how the package finds it, and a light import."""

import os
import subprocess
import sys
import sysconfig

import pytest

import guild
from guild import _find
from conftest import guild as run_guild


def test_the_binary_is_the_wheels_script(monkeypatch):
    monkeypatch.delenv("GUILD_BIN", raising=False)
    path = guild.find_guild_bin()
    assert path == os.path.join(sysconfig.get_path("scripts"), "guild")
    out = subprocess.run([path, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "guild" in out.stdout


def test_guild_bin_overrides_and_a_bad_one_is_named(monkeypatch, tmp_path):
    fake = tmp_path / "my-guild"
    fake.write_text("#!/bin/sh\necho fake\n")
    fake.chmod(0o755)
    monkeypatch.setenv("GUILD_BIN", str(fake))
    assert guild.find_guild_bin() == str(fake)
    monkeypatch.setenv("GUILD_BIN", str(tmp_path / "missing"))
    with pytest.raises(_find.GuildNotFound, match="GUILD_BIN"):
        guild.find_guild_bin()


def test_a_guild_script_of_another_tool_is_passed_over(tmp_path):
    # Guild AI installs `guild` as a Python entry-point script; a finder
    # run beside such a script (a --target install) does not take it.
    import shutil

    pkg = tmp_path / "t" / "guild"
    pkg.mkdir(parents=True)
    (tmp_path / "t" / "bin").mkdir()
    (tmp_path / "t" / "bin" / "guild").write_text("#!/usr/bin/python3\nimport guild.main\n")
    (tmp_path / "t" / "bin" / "guild").chmod(0o755)
    shutil.copy(_find.__file__, pkg / "_find.py")
    code = "import sys; sys.path.insert(0, %r); import _find; print(_find._is_script(%r))" % (
        str(pkg),
        str(tmp_path / "t" / "bin" / "guild"),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
    assert not _find._is_script(guild.find_guild_bin())


def test_another_guild_on_path_is_never_used(monkeypatch, tmp_path):
    other = tmp_path / "bin"
    other.mkdir()
    (other / "guild").write_text("#!/bin/sh\necho impostor\n")
    (other / "guild").chmod(0o755)
    monkeypatch.setenv("PATH", str(other) + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("GUILD_BIN", raising=False)
    assert guild.find_guild_bin() != str(other / "guild")
    assert "impostor" not in run_guild("--version").stdout


def test_target_and_prefix_layouts_are_found(tmp_path):
    # pip install --target DIR puts the package in DIR/guild and the script
    # in DIR/bin; --prefix DIR, under DIR/lib/pythonX.Y/site-packages and
    # DIR/bin. The finder, run from such a package, looks there.
    import shutil

    for pkg, scripts in [
        (tmp_path / "t" / "guild", tmp_path / "t" / "bin"),
        (tmp_path / "p" / "lib" / "python3.11" / "site-packages" / "guild", tmp_path / "p" / "bin"),
    ]:
        pkg.mkdir(parents=True)
        shutil.copy(_find.__file__, pkg / "_find.py")
        code = "import sys; sys.path.insert(0, %r); import _find; print(list(_find._targets()))" % str(pkg)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert repr(str(scripts)) in out.stdout, out.stdout + out.stderr


def test_python_dash_m_guild_runs_the_binary():
    out = subprocess.run([sys.executable, "-m", "guild", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("guild"), out.stderr


def test_import_guild_stays_light():
    code = (
        "import sys, guild; "
        "heavy = [m for m in ('pandas', 'subprocess', 'json', 'guild.ipy', 'guild._grid') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_datastores_upload_version_list_and_delete(project):
    data = project / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("x\n1\n")
    (data / "sub" / "b.csv").write_text("x\n2\n")
    ds = guild.Datastore(name="mnist", source=str(data)).upload()
    assert (ds.version, ds.files) == (1, 2)
    assert ds.size == 8 and ds.snapshot_status == "succeeded"
    # Unchanged: the same version; changed: the next.
    assert guild.Datastore(name="mnist", source=str(data)).upload().version == 1
    (data / "a.csv").write_text("x\n1\n3\n")
    assert guild.Datastore(name="mnist", source=str(data)).upload().version == 2
    assert [str(d) for d in guild.list_datastores()] == ["mnist:1", "mnist:2"]
    assert guild.Datastore(name="mnist", version=1).files == 2
    guild.Datastore(name="mnist", version=1).delete()
    assert [str(d) for d in guild.list_datastores()] == ["mnist:2"]
    with pytest.raises(guild.GuildError, match="has no version 1"):
        guild.Datastore(name="mnist", version=1).size
    with pytest.raises(guild.GuildError, match="leave out cluster_id"):
        guild.Datastore(name="x", source=str(data), cluster_id="hpc")
