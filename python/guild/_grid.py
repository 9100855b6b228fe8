"""Grid.ai's SDK: ``Run``, ``Experiment`` and ``list_runs()``.

A ``Run`` is a sweep (or one run) started from a command line in Grid's
syntax; its ``Experiment``s are the trials. Runs go to this machine, or to
a remote of the user config named by ``cluster_id`` (an SSH host, a Slurm
cluster or a Ray cluster)::

    from guild import Run
    r = Run(run_command="python train.py --lr '[0.1, 0.01]' --dropout 'uniform(0.1, 0.5, 3)'",
            strategy="random_search", num_trials=4, cluster_id="hpc")
    r.estimated_hourly_cost
    r.start()               # returns at once
    r.status()              # defaultdict(list, {'QUEUED': ['name-exp0', ...]})
    r.experiments["%s-exp0" % r.name].logs()
    Run(r.name)             # the same run, later, from another process

There is no login: remotes and their credentials come from the user
config, as for the ``guild`` command.
"""

import collections
import datetime
import os
import re
import shlex
import sys

from guild import _cli
from guild._cli import GuildError

# Guild's run status -> Grid's experiment state.
GRID_STATE = {
    "staged": "QUEUED",
    "pending": "PENDING",
    "running": "RUNNING",
    "completed": "SUCCEEDED",
    "error": "FAILED",
    "terminated": "CANCELLED",
}
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_EPOCH = datetime.datetime(1970, 1, 1)
_STRATEGIES = ("grid_search", "random_search")


def list_runs():
    """The names of the runs of the guild home (sweeps and single runs),
    newest first."""
    return [e["name"] or e["id"][:8] for e in _cli.experiment_groups()]


def _datastore_spec(ds):
    """``NAME`` or ``NAME:VERSION`` for ``Run(datastore=...)``: a
    :class:`guild.Datastore`, or such a string (no version: the latest
    when the run starts)."""
    if ds is None:
        return None
    name = getattr(ds, "name", None)
    if name is not None and not isinstance(ds, str):
        version = getattr(ds, "version", None)
        return "%s:%s" % (name, version) if version else str(name)
    if isinstance(ds, str) and ds and "=" not in ds:
        return ds
    raise ValueError(
        "Run(datastore=...) takes a guild.Datastore or 'NAME' / 'NAME:VERSION', not %r" % (ds,)
    )


class Run:
    """A set of experiments over a search space (Grid's ``Run``).

    Give ``run_command`` to define a new run, then :meth:`start` it; give
    only ``name`` to load a run started before.
    """

    def __init__(
        self,
        name=None,
        run_command=None,
        description=None,
        strategy="grid_search",
        strategy_options=None,
        num_trials=0,
        env_vars=None,
        dependency_file=None,
        resources=None,
        datastore=None,
        datastore_mount_dir=None,
        cluster_id=None,
        config_file=None,
        dry_run=False,
        framework="lightning",
        localdir=False,
        url=None,
        path=None,
        dockerfile=None,
        auto_resume=False,
        actions=None,
        scratch=None,
    ):
        # Grid's arguments for its cloud builds: the run uses the project
        # directory and environment it is started from, as they are.
        for arg, val, default in (
            ("url", url, None),
            ("path", path, None),
            ("dockerfile", dockerfile, None),
            ("auto_resume", auto_resume, False),
            ("actions", actions, None),
            ("scratch", scratch, None),
        ):
            if val != default:
                raise NotImplementedError(
                    "Run(%s=...): runs start from the current directory and its "
                    "environment; there is no %s here" % (arg, arg)
                )
        self.framework = framework
        self.localdir = localdir
        if strategy not in _STRATEGIES:
            raise ValueError("strategy must be one of %s, not %r" % (", ".join(_STRATEGIES), strategy))
        self.datastore = _datastore_spec(datastore)
        if datastore_mount_dir is not None and self.datastore is None:
            raise ValueError("Run(datastore_mount_dir=...) needs datastore= too")
        if datastore_mount_dir is not None and (
            not isinstance(datastore_mount_dir, str) or "=" in datastore_mount_dir
        ):
            raise ValueError(
                "datastore_mount_dir must be a directory inside the run, such as 'data', "
                "not %r" % (datastore_mount_dir,)
            )
        self.datastore_mount_dir = datastore_mount_dir
        if config_file is not None:
            raise NotImplementedError(
                "Run(config_file=...): Grid's YAML run configs are not read; pass "
                "env_vars=, cluster_id= and strategy= instead, or use a guild.yml operation"
            )
        if resources is not None:
            raise NotImplementedError(
                "Run(resources=...): per-run resources are not taken here; set them on "
                "the remote in the user config (cpus-per-task, gres, mem, time)"
            )
        self._name = name
        self.run_command = run_command
        self.description = description
        self.strategy = strategy
        self.strategy_options = dict(strategy_options or {})
        self.num_trials = num_trials
        self.env_vars = dict(env_vars or {})
        self.dependency_file = dependency_file
        self.cluster_id = cluster_id
        self.dry_run = dry_run
        self.user = _user()
        self.created_at = None
        self._id = None
        self._experiments = collections.OrderedDict()
        self._trial_ids = []
        self._started = False
        self._dry_trials = None
        # The scheduler's job id, for a run submitted to Slurm.
        self.job = None
        self._head_status = None
        if run_command is None:
            if name is None:
                raise ValueError("Run() needs a run_command for a new run, or the name of one to load")
            self._load(name)

    # -- defining and starting -------------------------------------------

    @property
    def name(self):
        """The name given, or the one made when the run started."""
        return self._name or ""

    @property
    def script_command(self):
        return self.run_command or ""

    def _run_args(self):
        """``guild run`` arguments for the command line in Grid's syntax."""
        try:
            words = shlex.split(self.run_command)
        except ValueError as e:
            raise ValueError("run_command cannot be split into words: %s" % e)
        if words and re.fullmatch(r"python[\d.]*(\.exe)?", os.path.basename(words[0])):
            words = words[1:]
            # The interpreter's own options (-u, -O, -X dev...).
            while words and words[0].startswith("-"):
                opt = words.pop(0)
                if opt == "-m":
                    raise ValueError(
                        "run_command: 'python -m MODULE' is not taken; name the script "
                        "(python path/to/script.py ...)"
                    )
                if opt in ("-X", "-W") and words:
                    words.pop(0)
        if not words:
            raise ValueError("run_command names no script (e.g. 'python train.py --lr 0.1')")
        script, script_args = words[0], words[1:]
        if not os.path.exists(script):
            raise ValueError(
                "run_command: %s does not exist in %s; run from the project directory"
                % (script, os.getcwd())
            )
        # Every option before the script: after it, `--NAME` is the
        # script's own flag when it declares one (`--seed`, say).
        args = ["run", "-y"]
        if self.strategy == "random_search":
            args.append("--strategy=random_search")
            if self.num_trials:
                args.append("--num-trials=%d" % int(self.num_trials))
        seed = self.strategy_options.get("seed")
        if seed is not None:
            args.append("--seed=%d" % int(seed))
        if self._name:
            args.append("--run-name=%s" % self._name)
        if self.description:
            args.append("--label=%s" % self.description)
        for k, v in self.env_vars.items():
            args.append("--env=%s=%s" % (k, v))
        if self.datastore:
            # Grid mounts at /datastores/NAME by default; here, inside
            # each experiment's run directory: datastores/NAME.
            mount = "=%s" % self.datastore_mount_dir if self.datastore_mount_dir else ""
            args.append("--datastore=%s%s" % (self.datastore, mount))
        if self.cluster_id:
            args.append("--remote=%s" % self.cluster_id)
        return args, [script] + script_args

    @property
    def estimated_hourly_cost(self):
        """Cost per hour (the remote's ``hourly-cost`` for each job that
        runs at once); 0.0 on this machine or a remote without one."""
        if not self.cluster_id:
            return 0.0
        remote = _remote(self.cluster_id)
        cost = remote.get("hourly_cost")
        if not cost:
            return 0.0
        n = len(self._trial_ids) or self._planned_trials()
        par = remote.get("array_parallelism") or remote.get("max_concurrent") or n
        return round(float(cost) * max(1, min(n, par)), 2)

    def _planned_trials(self):
        if self._dry_trials is None and self.run_command:
            args, script_args = self._run_args()
            try:
                self._dry_trials = _cli.json(args + ["--print-trials", "--json"] + script_args)
            except GuildError as e:
                if "non-batch" not in str(e):
                    raise
                self._dry_trials = [{}]  # one run, not a sweep
        return len(self._dry_trials or []) or 1

    def start(self):
        """Start the experiments and return at once (on a remote: once
        they are submitted). With ``dry_run``, only work out the trials."""
        if self._started:
            raise RuntimeError("run %s was already started" % self.name)
        if self.run_command is None:
            raise RuntimeError("run %s was loaded, not defined here: it cannot be started again" % self.name)
        if self._name and self._name in list_runs():
            raise ValueError("a run named %r already exists; choose another name" % self._name)
        if self.dependency_file and not os.path.exists(self.dependency_file):
            raise ValueError("dependency_file %s does not exist" % self.dependency_file)
        if self.cluster_id:
            _remote(self.cluster_id)
        args, script_args = self._run_args()
        if self.dry_run:
            self._planned_trials()
            return None
        launched = _cli.json(args + ["--background", "--json"] + script_args)
        self._started = True
        self._id = launched["id"]
        self._name = launched.get("name") or self._id[:8]
        self._trial_ids = list(launched.get("trials") or [])
        self.job = launched.get("job")
        self._refresh()
        return None

    # -- reading -------------------------------------------------------------

    def _load(self, name):
        for e in _cli.experiment_groups():
            if e["name"] == name or e["id"] == name:
                self._id = e["id"]
                self._name = e["name"] or name
                self._trial_ids = list(e["trials"])
                break
        else:
            raise ValueError("no run named %r (list_runs() lists them)" % name)
        try:
            head = _cli.json(["api", "runs", "--", self._id])
        except GuildError:
            # A sweep that ended well has its batch run in the trash.
            head = _cli.json(["api", "runs", "-d", "--", self._id])
        if head:
            h = head[0]
            self.created_at = _utc(h.get("started"))
            if (h.get("operation") or "").endswith("+"):
                self.description = h.get("label") or None
            self.run_command = None
        self._started = True
        self._refresh()

    def _refresh(self):
        if not self._id:
            return
        if not self._trial_ids or self._is_local_sweep():
            for e in _cli.experiment_groups():
                if e["id"] == self._id:
                    self._trial_ids = list(e["trials"])
                    self._head_status = e.get("status")
                    break
        ids = self._trial_ids or [self._id]
        if self.cluster_id or any(e.status not in TERMINAL for e in self._experiments.values()):
            # Runs sent to a remote are followed through `guild sync`
            # (which leaves runs of this machine alone).
            try:
                _cli.run(["sync", "--"] + ids)
            except GuildError as e:
                sys.stderr.write("WARNING: cannot refresh from the remote: %s\n" % e)
        data = {r["id"]: r for r in _cli.json(["api", "runs", "--"] + ids)}
        found = [Experiment._of(data[i], self.cluster_id) for i in ids if i in data]
        if self._is_local_sweep() and self._head_status in ("terminated", "error"):
            # Trials a stopped local sweep had queued never start.
            for e in found:
                e._orphaned = True
        found.sort(key=lambda e: _name_key(e.name))
        exps = collections.OrderedDict((e.name, e) for e in found)
        self._experiments = exps
        if self.created_at is None and exps:
            self.created_at = min(
                (_utc(e._data.get("started")) for e in exps.values() if e._data.get("started")),
                default=None,
            )

    def _is_local_sweep(self):
        # A local sweep makes its trials as it goes; a remote one sent
        # them all at the start.
        return not self.cluster_id

    @property
    def experiments(self):
        """Experiment name -> :class:`Experiment`, as of now."""
        self._refresh()
        return dict(self._experiments)

    def status(self):
        """Grid state -> experiment names (QUEUED, PENDING, RUNNING,
        SUCCEEDED, FAILED, CANCELLED)."""
        self._refresh()
        out = collections.defaultdict(list)
        for name, e in self._experiments.items():
            out[e.status].append(name)
        return out

    def cancel(self):
        """Cancel every experiment; the names of those now cancelled or
        already finished."""
        self._refresh()
        going = [e for e in self._experiments.values() if e.status not in TERMINAL]
        ids = [e._id for e in going]
        if self._id and self._trial_ids:
            # The sweep first, so that it starts no further trial.
            _cli.run(["stop", "-y", "--", self._id], check=False)
        if ids:
            _cli.run(["stop", "-y", "--"] + ids, check=False)
        self._refresh()
        return [n for n, e in self._experiments.items() if e.status in TERMINAL]

    def delete(self):
        """Delete the run's experiments (to the trash)."""
        self.cancel()
        ids = [e._id for e in self._experiments.values()]
        if ids:
            _cli.run(["runs", "delete", "-y", "--"] + ids)
        if self._id and self._id not in ids:
            # The sweep's batch run (it may be in the trash already).
            _cli.run(["runs", "delete", "-y", "--", self._id], check=False)

    def __len__(self):
        self._refresh()
        return len(self._experiments)

    def __iter__(self):
        self._refresh()
        return iter(list(self._experiments.values()))

    def __contains__(self, item):
        self._refresh()
        return (item.name if isinstance(item, Experiment) else item) in self._experiments

    def __repr__(self):
        if self._started:
            self._refresh()
        counts = collections.Counter(e.status for e in self._experiments.values())
        return (
            "Run(\n"
            "    name=%s,\n"
            '    description="%s",\n'
            "    script_command=%s,\n"
            "    num_experiments=%d,\n"
            "    status=%s,\n"
            "    user=%s,\n"
            "    created_at=%s,\n"
            "    cluster=%s,\n"
            ")"
        ) % (
            self.name,
            self.description,
            self.script_command,
            len(self._experiments),
            dict(counts),
            self.user,
            self.created_at,
            self.cluster_id or "",
        )


class Experiment:
    """One experiment (a trial, or the run itself) of a :class:`Run`."""

    def __init__(self, name, cluster_id=None):
        self.cluster_id = cluster_id
        self._orphaned = False
        self._id = None
        self._data = {}
        if name is not None:
            data = _cli.listed(["api", "list"])
            hit = [r for r in data if r.get("name") == name or r["id"] == name]
            if not hit:
                raise ValueError("no experiment named %r" % name)
            self._set(_cli.json(["api", "runs", "--", hit[0]["id"]])[0])

    @classmethod
    def _of(cls, data, cluster_id):
        e = cls(None, cluster_id)
        e._set(data)
        return e

    def _set(self, d):
        self._id = d["id"]
        self._data = d

    def _reload(self):
        data = _cli.json(["api", "runs", "--", self._id])
        if data:
            self._data = data[0]

    @property
    def id(self):
        return self._id

    @property
    def name(self):
        return (self._data.get("otherAttrs") or {}).get("name") or self._id[:8]

    @property
    def status(self):
        st = self._data.get("status")
        if self._orphaned and st in ("staged", "pending"):
            return "CANCELLED"
        return GRID_STATE.get(st, str(st or "").upper())

    @property
    def parameters(self):
        """The flags, as Grid shows them: ``{'Script': ..., name: str}``."""
        p = {"Script": self._data.get("operation")}
        for k, v in (self._data.get("flags") or {}).items():
            p[k] = _flag_str(v)
        return p

    @property
    def invocation_command(self):
        op = self._data.get("operation") or ""
        if op.endswith(".py"):
            args = " ".join(
                "--%s %s" % (k, shlex.quote(_flag_str(v))) for k, v in (self._data.get("flags") or {}).items()
            )
            return ("python %s %s" % (op, args)).strip()
        return self._data.get("command") or op

    command = invocation_command

    @property
    def description(self):
        return self._data.get("label") or ""

    @property
    def env(self):
        return dict(self._data.get("env") or {})

    @property
    def created_at(self):
        return _local(self._data.get("started"))

    @property
    def started_running_at(self):
        if self._data.get("status") in ("staged", "pending"):
            return _EPOCH
        return _local(self._data.get("started")) or _EPOCH

    @property
    def finished_at(self):
        return _local(self._data.get("stopped")) or _EPOCH

    start_timestamp = started_running_at
    finish_timestamp = finished_at

    @property
    def user(self):
        return _user()

    @property
    def project(self):
        return self._data.get("projectDir") or ""

    def cancel(self):
        """Stop the experiment (a queued one never starts); its name."""
        if self.status not in TERMINAL:
            _cli.run(["stop", "-y", "--", self._id], check=False)
            self._reload()
        return self.name

    def delete(self):
        self.cancel()
        _cli.run(["runs", "delete", "-y", "--", self._id])

    def logs(self):
        """The output so far: a list of ``{'stream', 'time', 'line'}``
        (stream ``stdout``/``stderr``, time a UTC datetime)."""
        import json

        out = []
        for text in _cli.run(["logs", "--json", "--", self._id]).splitlines():
            l = json.loads(text)
            out.append(
                {
                    "stream": l.get("stream"),
                    "time": _parse_iso(l.get("time")),
                    "line": l.get("line", l.get("text", "")),
                }
            )
        return out

    def scalars(self):
        """Scalar summaries of the experiment: tag -> last value, step and
        more (first, min, max, avg, count)."""
        rows = _cli.json(["api", "scalars", "--", self._id])
        return {
            r["tag"]: {
                "last": r["last_val"],
                "step": r["last_step"],
                "first": r["first_val"],
                "min": r["min_val"],
                "max": r["max_val"],
                "avg": r["avg_val"],
                "count": r["count"],
            }
            for r in rows
        }

    def __repr__(self):
        return (
            "Experiment(,\n"
            "    name=%s,\n"
            "    status=%s,\n"
            "    project=%s,\n"
            "    parameters=%s,\n"
            "    invocation_command=%s,\n"
            "    user=%s,\n"
            "    created_at=%s,\n"
            "    started_running_at=%s,\n"
            "    finished_at=%s,\n"
            ")"
        ) % (
            self.name,
            self.status,
            self.project,
            self.parameters,
            self.invocation_command,
            self.user,
            self.created_at,
            self.started_running_at,
            self.finished_at,
        )


def _name_key(name):
    """`x-exp2` before `x-exp10`."""
    head, _, n = name.rpartition("-exp")
    return (head, int(n)) if n.isdigit() else (name, -1)


def _flag_str(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _remote(name):
    for r in _cli.json(["remotes", "--json"]):
        if r["name"] == name:
            return r
    raise ValueError("no remote named %r in the user config (guild remotes lists them)" % name)


def _user():
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return ""


def _local(us):
    if not us:
        return None
    return datetime.datetime.fromtimestamp(us / 1e6)


def _utc(us):
    if not us:
        return None
    return datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.timezone.utc)


def _parse_iso(s):
    if not s:
        return None
    try:
        return datetime.datetime.fromisoformat(s)
    except ValueError:
        return s
