"""Guild AI's notebook API: runs, their flags and scalars as tables.

``from guild import ipy`` works as with Guild AI 0.9::

    runs = ipy.runs(operations=["train"], completed=True)
    runs.compare()          # run, operation, started, time, status, label,
                            # flags, step, the last value of each scalar
    runs.scalars()          # first/last/min/max/avg/count/total per tag
    runs.scalars_detail()   # every value
    ipy.run("train.py", lr=[0.1, 0.01], epochs=5)   # output in the cell

The tables are pandas DataFrames when pandas is installed, otherwise lists
of dicts (one per row, keys in column order) with the same methods. pandas
is imported only when a table is made.
"""

import datetime
import os
import subprocess
import sys

from guild import _cli
from guild._cli import GuildError

RUNS_COLS = ("run", "operation", "started", "status", "label")
SCALARS_COLS = (
    "run",
    "prefix",
    "tag",
    "first_val",
    "first_step",
    "last_val",
    "last_step",
    "min_val",
    "min_step",
    "max_val",
    "max_step",
    "avg_val",
    "count",
    "total",
)
SCALARS_DETAIL_COLS = ("run", "path", "tag", "val", "step")
CORE_COMPARE_COLS = ("run", "operation", "started", "time", "status", "label")
# Past this many rows, a table's runs are named to the binary by the
# filters that listed them (then picked by id here), not one by one.
_IDS_LIMIT = 200


class RunException(Exception):
    def __init__(self, run, msg):
        super().__init__(msg)
        self.run = run


class RunError(RunException):
    """``ipy.run``: the run ended in error."""


class RunTerminated(RunException):
    """``ipy.run``: the run was stopped."""


def _pandas():
    try:
        import pandas
    except ImportError:
        return None
    return pandas


class RunRef:
    """A run named by a table (``.id``, ``.short_id``)."""

    __slots__ = ("id",)

    def __init__(self, run_id):
        self.id = run_id

    @property
    def short_id(self):
        return self.id[:8]

    @property
    def dir(self):
        return _cli.json(["runs", "info", "--json", "--", self.id]).get("run_dir")

    path = dir

    def __repr__(self):
        return "<guild run %s>" % self.id


class RunIndex:
    """The ``run`` cell of a table: shows the short id, ``.value`` is the
    run (as Guild's ``RunIndex``)."""

    __slots__ = ("id",)

    def __init__(self, run_id):
        self.id = run_id

    @property
    def value(self):
        return RunRef(self.id)

    run = value

    def __str__(self):
        return self.id[:8]

    __repr__ = __str__

    def __eq__(self, x):
        return _run_id(x) == self.id

    def __lt__(self, x):
        return self.id < (_run_id(x) or "")

    def __hash__(self):
        return hash(self.id)


def _run_id(x):
    if isinstance(x, RunIndex):
        return x.id
    if isinstance(x, RunRef):
        return x.id
    if isinstance(x, str):
        return x
    return None


# ---------------------------------------------------------------------------
# runs()


def runs(
    operations=None,
    filter_expr=None,
    labels=None,
    tags=None,
    comments=None,
    running=None,
    completed=None,
    error=None,
    terminated=None,
    pending=None,
    staged=None,
    unlabeled=None,
    marked=False,
    unmarked=False,
    started=None,
    digest=None,
    deleted=None,
    remote=None,
):
    """The runs of the guild home, newest first, as a table with columns
    ``run, operation, started, status, label``; Guild AI's filters."""
    args = []
    for op in _seq(operations):
        args.append("--operation=%s" % op)
    if filter_expr:
        args.append("--filter=%s" % filter_expr)
    for l in _seq(labels):
        args.append("--label=%s" % l)
    for t in _seq(tags):
        args.append("--tag=%s" % t)
    for c in _seq(comments):
        args.append("--comment=%s" % c)
    for on, opt in (
        (running, "--running"),
        (completed, "--completed"),
        (error, "--error"),
        (terminated, "--terminated"),
        (pending, "--pending"),
        (staged, "--staged"),
        (unlabeled, "--unlabeled"),
        (marked, "--marked"),
        (unmarked, "--unmarked"),
    ):
        if on:
            args.append(opt)
    if started:
        args.append("--started=%s" % started)
    if digest:
        args.append("--digest=%s" % digest)
    origin = _Origin(args, bool(deleted), remote)
    if remote:
        data = _cli.json(["runs", "--json", "--remote=%s" % remote] + args + (["-d"] if deleted else []))
        rows = [
            (
                RunIndex(r["id"]),
                r.get("operation"),
                _from_us(r.get("started")),
                r.get("status"),
                r.get("label") or "",
            )
            for r in data
        ]
    else:
        rows = _brief_rows(_cli.json(["api", "list"] + args + (["-d"] if deleted else [])))
    return _runs_table(rows, origin)


def _brief_rows(data):
    """Table rows from ``api list`` (a header row, then arrays)."""
    if not data:
        return []
    ix = {h: i for i, h in enumerate(data[0])}
    i_id, i_op, i_st = ix["id"], ix["operation"], ix["started"]
    i_status, i_label = ix["status"], ix["label"]
    from_us = _from_us
    return [
        (RunIndex(r[i_id]), r[i_op], from_us(r[i_st]), r[i_status], r[i_label] or "")
        for r in data[1:]
    ]


def _seq(v):
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return v


class _Origin:
    """How a table's runs were listed, to name them to the binary again."""

    __slots__ = ("args", "deleted", "remote")

    def __init__(self, args, deleted, remote):
        self.args = args
        self.deleted = deleted
        self.remote = remote

    def select(self, ids):
        """Arguments that select at least ``ids``."""
        extra = ["-d"] if self.deleted else []
        if len(ids) <= _IDS_LIMIT:
            return extra + ["--"] + list(ids)
        return list(self.args) + extra


_FROMTS = datetime.datetime.fromtimestamp


def _from_us(us):
    if us is None:
        return None
    return _FROMTS(us // 1000000)


def _runs_table(rows, origin):
    pd = _pandas()
    if pd is None:
        t = RunsList(dict(zip(RUNS_COLS, r)) for r in rows)
    else:
        t = _frame_class(pd)(data=rows, columns=list(RUNS_COLS))
    t._guild_origin = origin
    return t


# ---------------------------------------------------------------------------
# The table methods, shared by the list and DataFrame forms.


class _RunsMethods:
    _guild_origin = None

    def _ids(self):
        raise NotImplementedError

    def _origin(self):
        return self._guild_origin or _Origin([], False, None)

    def compare(self):
        """``run, operation, started, time, status, label``, the flags,
        ``step``, then the last value of each scalar."""
        ids = self._ids()
        if not ids:
            return _table([], list(CORE_COMPARE_COLS))
        o = self._origin()
        if o.remote:
            raise GuildError("compare() of remote runs: pull them first (guild pull %s)" % o.remote)
        if o.deleted:
            raise GuildError("compare() of deleted runs: restore them first (guild runs restore)")
        data = _cli.json(["api", "compare", "--include-batch"] + o.select(ids))
        header = ["run"] + list(data[0][1:])
        by_id = {}
        ix = {h: i for i, h in enumerate(header)}
        i_started, i_time = ix.get("started"), ix.get("time")
        for row in data[1:]:
            row = list(row)
            row[0] = RunIndex(row[0])
            if i_started is not None:
                row[i_started] = _parse_dt(row[i_started])
            if i_time is not None:
                row[i_time] = _parse_duration(row[i_time])
            by_id[row[0].id] = row
        rows = [by_id[i] for i in ids if i in by_id]
        order = _guild_compare_order(header)
        return _table([[row[i] for i in order] for row in rows], [header[i] for i in order])

    def scalars(self):
        """One row per run and tag: first, last, min, max (with their
        steps), average, count and total."""
        return self._scalars([], SCALARS_COLS)

    def scalars_detail(self):
        """One row per scalar value: run, events file, tag, value, step."""
        return self._scalars(["--detail"], SCALARS_DETAIL_COLS)

    def _scalars(self, extra, cols):
        ids = self._ids()
        if not ids:
            return _table([], list(cols))
        o = self._origin()
        data = _cli.json(["api", "scalars"] + extra + o.select(ids))
        want = set(ids)
        rows = [[r.get(c) for c in cols] for r in data if r.get("run") in want]
        order = {i: n for n, i in enumerate(ids)}
        rows.sort(key=lambda r: order.get(r[0], 0))
        return _table(rows, list(cols))

    def guild_flags(self):
        """The flags of each run, one column per flag, and ``run``."""
        ids = self._ids()
        if not ids:
            return _table([], ["run"])
        o = self._origin()
        data = _cli.json(["api", "runs"] + o.select(ids))
        by_id = {r["id"]: r for r in data}
        rows = []
        cols = []
        for i in ids:
            r = by_id.get(i)
            if r is None:
                continue
            flags = dict(r.get("flags") or {})
            key = "run"
            while key in flags:
                key = "_" + key
            flags[key] = i
            for k in flags:
                if k not in cols:
                    cols.append(k)
            rows.append(flags)
        return _table([[f.get(c) for c in cols] for f in rows], cols)

    def info(self, output=False, scalars=False):
        """Print the first run's details (``guild runs info``)."""
        ids = self._ids()
        if not ids:
            print("no runs")
            return
        o = self._origin()
        d = ["-d"] if o.deleted else []
        sys.stdout.write(_cli.run(["runs", "info"] + d + (["--all-scalars"] if scalars else []) + ["--", ids[0]]))
        if output:
            print("output:")
            for line in _cli.run(["cat", "--output"] + d + ["--", ids[0]]).splitlines():
                print("  " + line)

    def delete(self, permanent=False):
        """Delete the runs (to the trash, or for good with ``permanent``);
        returns their ids."""
        ids = self._ids()
        if ids:
            _cli.run(["runs", "delete", "-y"] + (["-p"] if permanent else []) + ["--"] + ids)
        return ids


def _guild_compare_order(header):
    """Guild's ipy column order: the core columns, the flags sorted, then
    ``step`` and the scalars sorted (a scalar named as a flag left out).
    The binary's header has the flags, then ``step``, then the scalars."""
    n = len(CORE_COMPARE_COLS)
    core = list(range(min(n, len(header))))
    rest = list(range(len(core), len(header)))
    step = [i for i in rest if header[i] == "step"][:1]
    split = step[0] if step else len(header)
    flags = sorted((i for i in rest if i < split), key=lambda i: header[i])
    names = {header[i] for i in flags}
    scalars = sorted((i for i in rest if i > split and header[i] not in names), key=lambda i: header[i])
    return core + flags + step + scalars


class RunsList(list, _RunsMethods):
    """``runs()`` without pandas: a list of dicts, one per run."""

    def __getitem__(self, i):
        v = list.__getitem__(self, i)
        if isinstance(i, slice):
            v = RunsList(v)
            v._guild_origin = self._guild_origin
        return v

    def _ids(self):
        return [r["run"].id for r in self]


def _table(rows, cols):
    pd = _pandas()
    if pd is None:
        return [dict(zip(cols, r)) for r in rows]
    return pd.DataFrame(rows, columns=cols)


_FRAME = []


def _frame_class(pd):
    """``RunsDataFrame``, a pandas DataFrame with the table methods (made
    when pandas is first used)."""
    if _FRAME:
        return _FRAME[0]

    class RunsSeries(_RunsMethods, pd.Series):
        """One row of a runs table: the table methods on its run."""

        @property
        def _constructor(self):
            return RunsSeries

        def _ids(self):
            try:
                return [_run_id(self["run"])]
            except KeyError:
                return []

        @property
        def _constructor_expanddim(self):
            return RunsDataFrame

    class RunsDataFrame(_RunsMethods, pd.DataFrame):
        _metadata = ["_guild_origin"]

        @property
        def _constructor(self):
            return RunsDataFrame

        @property
        def _constructor_sliced(self):
            return RunsSeries

        def _ids(self):
            if "run" not in self.columns:
                return []
            return [_run_id(r) for r in self["run"]]

    _FRAME.append(RunsDataFrame)
    return RunsDataFrame


def _memo(parse):
    """``parse`` of a cell's text, remembered per text (a column repeats
    the same few values); text it cannot parse is kept as it is."""
    cache = {}

    def f(s):
        if not s:
            return None
        v = cache.get(s)
        if v is None:
            try:
                v = parse(s)
            except (ValueError, IndexError):
                return s
            if len(cache) < 100000:
                cache[s] = v
        return v

    return f


@_memo
def _parse_dt(s):
    return datetime.datetime(
        int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19])
    )


@_memo
def _parse_duration(s):
    days, rest = 0, s
    if " day" in s:
        d, _, rest = s.partition(", ")
        days = int(d.split()[0])
    h, m, sec = rest.split(":")
    return datetime.timedelta(days=days, hours=int(h), minutes=int(m), seconds=float(sec))


# ---------------------------------------------------------------------------
# run()


def run(op, *args, **kw):
    """Run operation ``op`` (a script or a guild.yml operation) with flags,
    showing its output here; returns its runs as a table (the trials, for
    a sweep). A list value makes a sweep (``lr=[0.1, 0.01]``).

    Options as Guild's: ``_label``, ``_tag``, ``_optimizer``,
    ``_max_trials``; any other ``_name=value`` is ``--name value`` of
    ``guild run`` (``_remote="hpc"``, ``_random_seed=1``). Raises
    :class:`RunError` when the run fails and :class:`RunTerminated` when it
    is stopped; interrupting the cell stops the run.
    """
    if callable(op) and not isinstance(op, str):
        raise TypeError(
            "ipy.run takes an operation name or a script path (e.g. 'train.py'); "
            "Python functions are not run in-process: put the code in a script"
        )
    opts = {k[1:]: kw.pop(k) for k in list(kw) if k.startswith("_")}
    # Every option before the operation: after it, `--NAME` may be a
    # script's own flag.
    cmd = ["run", "-y", "--background", "--json"]
    for name, val in opts.items():
        opt = "--" + name.replace("_", "-")
        if val is True:
            cmd.append(opt)
        elif val is False or val is None:
            continue
        elif isinstance(val, (list, tuple)):
            cmd += ["%s=%s" % (opt, v) for v in val]
        else:
            cmd.append("%s=%s" % (opt, val))
    cmd.append(str(op))
    for a in args:
        cmd.append(str(a))
    for name, val in kw.items():
        cmd.append("%s=%s" % (name, _flag_arg(val)))
    started = _cli.json(cmd, cwd=os.getcwd())
    run_id = started["id"]
    try:
        _follow(run_id)
    except KeyboardInterrupt:
        _cli.run(["stop", "-y", "--", run_id], check=False)
        raise
    sweep = (started.get("operation") or "").endswith("+")
    table = _sweep_trials(run_id) if sweep else _one(run_id)
    statuses = [r["status"] for r in _rows(table)]
    if "error" in statuses:
        raise RunError(run_id, "run %s failed (see its output above)" % run_id[:8])
    if "terminated" in statuses:
        raise RunTerminated(run_id, "run %s was terminated" % run_id[:8])
    return table


def _rows(t):
    return t if isinstance(t, list) else t.to_dict("records")


def _follow(run_id):
    p = subprocess.Popen(
        _cli.command(["watch", "--", run_id]),
        env=_cli.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for line in p.stdout:
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()
    except BaseException:
        p.terminate()
        raise
    finally:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _one(run_id):
    rows = _brief_rows(_cli.json(["api", "list", "--", run_id]))
    return _runs_table(rows, _Origin([], False, None))


def _sweep_trials(batch_id):
    """The trials of a sweep (whose batch run may be in the trash)."""
    trials = next((e["trials"] for e in _cli.experiment_groups() if e["id"] == batch_id), [])
    if not trials:
        return _one(batch_id)
    rows = _brief_rows(_cli.json(["api", "list", "--"] + list(trials)))
    return _runs_table(rows, _Origin([], False, None))


def _flag_arg(val, in_list=False):
    if isinstance(val, bool):
        return "yes" if val else "no"
    if isinstance(val, (list, tuple)):
        return "[" + ",".join(_flag_arg(v, True) for v in val) + "]"
    if val is None:
        return "null"
    if in_list and isinstance(val, str) and any(c in val for c in ",[]{}:'\" #"):
        import json

        return json.dumps(val)
    return str(val)


# ---------------------------------------------------------------------------


def guild_home():
    """The guild home that ``runs()`` and ``run()`` use."""
    return _cli.json(["api", "home"])["home"]


def set_guild_home(path):
    """Use the guild home at ``path`` from now on (created if missing);
    ``None`` goes back to the default (``GUILD_HOME``, ``~/.guild``...)."""
    if path is None:
        _cli.set_home(None)
        return
    path = os.path.abspath(os.path.expanduser(path))
    os.makedirs(path, exist_ok=True)
    _cli.set_home(path)
