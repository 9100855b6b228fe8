"""Grid.ai's Run / Experiment SDK on local runs and on the test Slurm."""

import os
import subprocess
import sys

import pytest

from guild import Experiment, GuildError, Run, list_runs
from conftest import guild_json, wait_for

SWEEP = "python train.py --lr '[0.1, 0.01]' --epochs '[1, 2]' --sleep 0.3"


def test_a_local_sweep_starts_at_once_and_is_followed(project):
    r = Run(name="local-sweep", run_command=SWEEP, description="two by two")
    assert r.estimated_hourly_cost == 0.0
    assert r.start() is None
    # Returned before the sweep ended.
    st = r.status()
    assert st and set(st) <= {"QUEUED", "PENDING", "RUNNING", "SUCCEEDED"}, dict(st)
    assert "SUCCEEDED" not in st or len(st["SUCCEEDED"]) < 4
    wait_for(lambda: r.status().get("SUCCEEDED", []) == [
        "local-sweep-exp0", "local-sweep-exp1", "local-sweep-exp2", "local-sweep-exp3"
    ], 120, "the sweep to succeed")
    assert len(r) == 4 and "local-sweep-exp3" in r and "local-sweep-exp9" not in r
    e = r.experiments["local-sweep-exp1"]
    assert isinstance(e, Experiment)
    assert e.parameters == {"Script": "train.py", "epochs": "1", "lr": "0.01", "sleep": "0.3"}
    assert e.invocation_command == "python train.py --epochs 1 --lr 0.01 --sleep 0.3"
    assert e.finished_at > e.started_running_at >= e.created_at
    lines = e.logs()
    assert lines[0]["stream"] == "stdout" and lines[0]["line"] == "step: 1"
    assert e.scalars()["loss"]["last"] == pytest.approx(0.01)
    text = repr(r)
    assert text.startswith("Run(\n    name=local-sweep,\n    description=\"two by two\",")
    assert "num_experiments=4,\n    status={'SUCCEEDED': 4}," in text
    assert repr(e).startswith("Experiment(,\n    name=local-sweep-exp1,\n    status=SUCCEEDED,")
    assert "local-sweep" in list_runs()


def test_run_by_name_after_a_restart(project):
    r = Run(run_command="python train.py --lr '[0.3, 0.4]'")
    r.start()
    name = r.name
    assert name and name != "local-sweep"
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 2, 60, "the sweep")
    code = (
        "from guild import Run\n"
        "r = Run(%r)\n"
        "print(dict(r.status()), len(r), sorted(e.parameters['lr'] for e in r))\n" % name
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == (
        "{'SUCCEEDED': ['%s-exp0', '%s-exp1']} 2 ['0.3', '0.4']" % (name, name)
    ), p.stdout
    with pytest.raises(ValueError, match="no run named"):
        Run("no-such-run-1")


def test_random_search_env_vars_and_cancel(project):
    # The script has a `seed` flag of its own: the sweep's seed stays the
    # sweep's (options go before the script).
    (project / "env.py").write_text(
        "import os, time\nx = 0.5\nseed = 0\nprint('FOO=' + os.environ.get('FOO', ''))\ntime.sleep(60)\n"
    )
    r = Run(
        run_command="python env.py --x 'uniform(0, 1, 10)'",
        strategy="random_search",
        num_trials=3,
        strategy_options={"seed": 7},
        env_vars={"FOO": "bar"},
    )
    r.start()
    wait_for(lambda: r.status().get("RUNNING"), 60, "a running experiment")
    wait_for(lambda: any(l["line"] == "FOO=bar" for e in r for l in e.logs()), 30, "output")
    done = r.cancel()
    assert len(done) == 3, dict(r.status())
    st = r.status()
    assert set(st) == {"CANCELLED"}, dict(st)
    xs = [float(e.parameters["x"]) for e in r]
    assert len(set(xs)) == 3 and all(0 <= x <= 1 for x in xs)
    assert {e.parameters["seed"] for e in r} == {"0"}
    assert r.created_at.tzinfo is not None


def test_grid_command_lines_with_interpreter_options(project):
    r = Run(run_command="python3 -u train.py --lr 0.2", dry_run=True)
    r.start()
    assert r._planned_trials() == 1
    with pytest.raises(ValueError, match="python -m"):
        Run(run_command="python -m train --lr 0.2").start()
    with pytest.raises(NotImplementedError, match="dockerfile"):
        Run(run_command=SWEEP, dockerfile="Dockerfile")


def test_bad_definitions_are_refused_before_anything_runs(project):
    with pytest.raises(ValueError, match="does not exist"):
        Run(run_command="python nope.py").start()
    with pytest.raises(ValueError, match="strategy"):
        Run(run_command=SWEEP, strategy="bayes")
    with pytest.raises(ValueError, match="needs datastore="):
        Run(run_command=SWEEP, datastore_mount_dir="data")
    with pytest.raises(ValueError, match="NAME:VERSION"):
        Run(run_command=SWEEP, datastore=3)
    with pytest.raises(GuildError, match="there is no datastore nope"):
        Run(run_command=SWEEP, datastore="nope").start()
    with pytest.raises(ValueError, match="no remote named"):
        Run(run_command=SWEEP, cluster_id="nowhere").start()
    assert list_runs() == []


def test_every_experiment_of_a_sweep_mounts_the_datastore(project, tmp_path):
    import guild
    data = tmp_path / "mnist"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    ds = guild.Datastore(name="mnist", source=str(data)).upload()
    (project / "read.py").write_text(
        "import os\nlr = 0.1\nd = os.environ.get('DS_DIR', 'input')\n"
        "print('row', open(os.path.join(d, 'a.csv')).read().split()[1], os.path.islink(d))\n"
    )
    r = Run(run_command="python read.py --lr '[0.1, 0.2]'", datastore=ds, datastore_mount_dir="input")
    r.start()
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 2, 60, "the sweep")
    for e in r:
        assert [l["line"] for l in e.logs()] == ["row 1 True"]
    # A name (no version: the latest), mounted at datastores/NAME.
    r = Run(run_command="python read.py", datastore="mnist", env_vars={"DS_DIR": "datastores/mnist"})
    r.start()
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 1, 60, "the run")
    assert [l["line"] for e in r for l in e.logs()] == ["row 1 True"]


def test_dry_run_works_out_the_trials_and_runs_nothing(project):
    r = Run(run_command=SWEEP, dry_run=True)
    r.start()
    assert r._planned_trials() == 4
    assert list_runs() == []


@pytest.fixture
def slurm(project, tmp_path, monkeypatch):
    cluster = tmp_path / "cluster-home"
    cfg = tmp_path / "guild-config.yml"
    cfg.write_text(
        "remotes:\n"
        "  hpc: {type: slurm, partition: debug, guild-home: '%s', hourly-cost: 1.5, array-parallelism: 2}\n"
        "  later: {type: slurm, partition: debug, guild-home: '%s', sbatch: ['--begin=now+1hour']}\n"
        % (cluster, cluster)
    )
    monkeypatch.setenv("GUILD_CONFIG", str(cfg))
    return cluster


def test_a_sweep_on_slurm_by_cluster_id(slurm):
    r = Run(run_command="python train.py --lr '[0.1, 0.2, 0.3]'", cluster_id="hpc")
    # Three trials, two at a time, 1.5 per job-hour.
    assert r.estimated_hourly_cost == 3.0
    r.start()
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 3, 180, "the Slurm sweep")
    e = r.experiments["%s-exp2" % r.name]
    assert e.parameters["lr"] == "0.3"
    assert e.scalars()["loss"]["last"] == pytest.approx(0.15)
    assert "cluster=hpc" in repr(r)


def test_cancel_of_a_pending_slurm_job(slurm):
    r = Run(run_command="python train.py --lr 0.1", cluster_id="later")
    r.start()
    assert dict(r.status()) in ({"PENDING": [r.name]}, {"QUEUED": [r.name]}), dict(r.status())
    assert r.cancel() == [r.name]
    assert dict(r.status()) == {"CANCELLED": [r.name]}
    assert r.job
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
    assert r.job not in jobs, jobs


@pytest.fixture
def ssh_remote(project, tmp_path, monkeypatch):
    state = os.environ.get("GUILD_TEST_SSHD_STATE", "/tmp/guild-test-sshd")
    ssh_config = os.path.join(state, "client", "ssh_config")
    assert os.path.isfile(ssh_config), "no test sshd at %s: run scripts/setup-test-env.sh" % state
    there = "~/gt-py-%s" % os.urandom(4).hex()
    cfg = tmp_path / "guild-config.yml"
    cfg.write_text(
        "remotes:\n"
        "  gpu: {type: ssh, host: sshd-local, ssh-config: '%s', guild-home: '%s'}\n"
        % (ssh_config, there)
    )
    monkeypatch.setenv("GUILD_CONFIG", str(cfg))
    yield
    subprocess.run(["ssh", "-F", ssh_config, "sshd-local", "rm -rf %s" % there], capture_output=True)


def test_a_sweep_on_an_ssh_host_and_its_runs_listed_there(ssh_remote):
    from guild import ipy

    r = Run(run_command="python train.py --lr '[0.1, 0.2]'", cluster_id="gpu")
    assert r.estimated_hourly_cost == 0.0
    r.start()
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 2, 120, "the SSH sweep")
    assert sorted(e.parameters["lr"] for e in r) == ["0.1", "0.2"]
    there = ipy.runs(remote="gpu")
    listed = there if isinstance(there, list) else there.to_dict("records")
    assert sorted(str(x["run"]) for x in listed) == sorted(e.id[:8] for e in r)
    assert {x["status"] for x in listed} == {"completed"}


@pytest.fixture
def ray_cluster(project, tmp_path, monkeypatch):
    state = os.environ.get("GUILD_TEST_RAY_STATE", "/tmp/guild-test-ray")
    env_file = os.path.join(state, "env")
    assert os.path.isfile(env_file), "no test Ray head at %s: run scripts/setup-test-env.sh" % state
    facts = dict(l.split("=", 1) for l in open(env_file).read().split())
    shared = tmp_path / "ray-runs"
    cfg = tmp_path / "guild-config.yml"
    cfg.write_text(
        "remotes:\n"
        "  ray: {type: ray, address: '%s', storage: '%s', num-cpus: 0.5, max-concurrent: 2, hourly-cost: 2.0}\n"
        % (facts["RAY_LOCAL_ADDRESS"], shared)
    )
    monkeypatch.setenv("GUILD_CONFIG", str(cfg))
    return shared


def test_a_sweep_on_a_ray_cluster_by_cluster_id(ray_cluster):
    r = Run(run_command="python train.py --lr '[0.1, 0.2, 0.3]'", cluster_id="ray")
    # Three trials, two at a time, 2.0 per run-hour.
    assert r.estimated_hourly_cost == 4.0
    r.start()
    assert r.job and r.job.startswith("guild-")
    wait_for(lambda: len(r.status().get("SUCCEEDED", [])) == 3, 180, "the Ray sweep")
    e = r.experiments["%s-exp2" % r.name]
    assert e.parameters["lr"] == "0.3"
    assert e.scalars()["loss"]["last"] == pytest.approx(0.15)
    # The runs are in the cluster's storage too.
    assert len(os.listdir(ray_cluster / "runs")) == 3
