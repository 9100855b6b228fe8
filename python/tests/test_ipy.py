"""guild.ipy: Guild AI's notebook API, with and without pandas."""

import datetime
import os

import pytest

from guild import ipy
from conftest import guild as run_guild, guild_json, pandas_expected


def rows(t):
    """A table's rows as dicts, whichever form it has."""
    if isinstance(t, list):
        return t
    return t.to_dict("records")


def cols(t):
    return list(t[0]) if isinstance(t, list) else list(t.columns)


def test_tables_are_frames_only_with_pandas(project):
    run_guild("run", "train.py", "lr=0.5", "-y")
    t = ipy.runs()
    if pandas_expected():
        import pandas as pd

        assert isinstance(t, pd.DataFrame)
        assert isinstance(t.compare(), pd.DataFrame)
    else:
        assert isinstance(t, list) and isinstance(t[0], dict)
        assert isinstance(t.compare(), list)


def test_runs_columns_filters_and_compare(project):
    run_guild("run", "train.py", "lr=0.5", "epochs=2", "-y", "--label", "first")
    run_guild("run", "train.py", "lr=[0.1,0.2]", "epochs=3", "-y")
    run_guild("comment", "-y", "-a", "keep me", "1")
    t = ipy.runs()
    assert cols(t) == ["run", "operation", "started", "status", "label"]
    r = rows(t)
    assert len(r) == 3 and all(x["operation"] == "train.py" for x in r)
    assert str(r[0]["run"]) == r[0]["run"].value.id[:8]
    assert isinstance(r[0]["started"], datetime.datetime)
    assert rows(ipy.runs(labels=["first"]))[0]["label"] == "first"
    assert len(ipy.runs(filter_expr="lr > 0.15")) == 2
    assert len(ipy.runs(comments=["KEEP"])) == 1
    assert len(ipy.runs(error=True)) == 0
    assert len(ipy.runs(completed=True)) == 3
    c = ipy.runs().compare()
    assert cols(c) == ["run", "operation", "started", "time", "status", "label", "epochs", "lr", "sleep", "step", "loss"]
    first = rows(c)[-1]
    assert first["lr"] == 0.5 and first["step"] == 2 and first["loss"] == pytest.approx(0.25)



def test_scalars_detail_flags_info_and_delete(project, capsys):
    run_guild("run", "train.py", "lr=0.4", "epochs=3", "-y")
    t = ipy.runs()
    s = rows(t.scalars())
    assert cols(t.scalars()) == list(ipy.SCALARS_COLS)
    loss = [x for x in s if x["tag"] == "loss"][0]
    assert loss["first_val"] == pytest.approx(0.4, rel=1e-6)
    assert loss["last_val"] == pytest.approx(0.4 / 3, rel=1e-5)
    assert loss["count"] == 3
    d = rows(t.scalars_detail())
    assert [round(x["val"], 4) for x in d if x["tag"] == "loss"] == [0.4, 0.2, 0.1333]
    assert cols(t.scalars_detail()) == ["run", "path", "tag", "val", "step"]
    f = rows(t.guild_flags())
    assert f[0]["lr"] == 0.4 and f[0]["run"] == rows(t)[0]["run"].value.id
    t.info()
    assert "status: completed" in capsys.readouterr().out
    ids = t.delete()
    assert len(ids) == 1 and len(ipy.runs()) == 0 and len(ipy.runs(deleted=True)) == 1


def test_run_shows_the_output_and_returns_the_runs(project, capsys):
    t = ipy.run("train.py", lr=0.3, epochs=2, _label="from a notebook")
    out = capsys.readouterr().out
    assert "loss: 0.300000" in out and "loss: 0.150000" in out, out
    r = rows(t)
    assert len(r) == 1 and r[0]["label"] == "from a notebook" and r[0]["status"] == "completed"
    sweep = ipy.run("train.py", lr=[0.1, 0.2], epochs=1)
    assert sorted(x["status"] for x in rows(sweep)) == ["completed", "completed"]
    # The sweep's batch run goes to the trash as it ends: followed there.
    out = capsys.readouterr()
    assert "status of 'completed'" in out.out + out.err, out
    (project / "fail.py").write_text("raise SystemExit(3)\n")
    with pytest.raises(ipy.RunError):
        ipy.run("fail.py")
    with pytest.raises(TypeError, match="script"):
        ipy.run(lambda: None)


def test_guild_home_and_set_guild_home(project, tmp_path, home):
    assert ipy.guild_home() == str(home)
    other = tmp_path / "other-home"
    ipy.set_guild_home(str(other))
    try:
        assert ipy.guild_home() == str(other)
        ipy.run("train.py", epochs=1)
        assert len(os.listdir(other / "runs")) == 1
        assert not (home / "runs").exists() or not os.listdir(home / "runs")
    finally:
        ipy.set_guild_home(None)
