"""``guild.log``: scalars from a training script into its run.

Inside a run (``guild run``, which sets ``RUN_DIR``), scalars are written as
TensorBoard events into the run directory, where ``guild compare``,
``guild view``, TensorBoard and Guild AI 0.9 read them. Outside a run they go
to the directory given to :func:`set_log_dir`, or nowhere (said once on
stderr). Logging never raises: a value that is not a number is skipped with
a warning.
"""


import operator
import os
import sys
import threading
import time

from guild import _events

_NOTHING = object()
_state = {"writer": None, "dir": None, "step": 0, "warned": set()}


def current_run():
    """The run this process belongs to, or ``None`` outside a run.

    The run's ``id`` and ``dir`` come from the environment ``guild run``
    sets; its ``flags`` are read from the run's record when first used.
    """
    run_dir = os.environ.get("RUN_DIR")
    if not run_dir:
        return None
    return CurrentRun(os.environ.get("RUN_ID") or os.path.basename(run_dir), run_dir)


class CurrentRun:
    """The run a script runs in: ``id``, ``dir`` and ``flags``."""

    def __init__(self, run_id, run_dir):
        self.id = run_id
        self.dir = run_dir
        self._flags = None

    @property
    def flags(self):
        """The run's flags, as recorded in the run (a dict)."""
        if self._flags is None:
            from guild import _cli

            try:
                info = _cli.json(["runs", "info", "--json", "--", self.id])
                self._flags = info.get("flags") or {}
            except Exception as e:
                _warn_once("flags", "guild.current_run(): cannot read the run's flags (%s)" % e)
                return {}
        return self._flags

    @property
    def short_id(self):
        return self.id[:8]

    def __repr__(self):
        return "<guild run %s in %s>" % (self.short_id, self.dir)


def set_log_dir(path):
    """Write what ``guild.log`` logs into ``path`` (outside a run; inside one,
    logs go into the run directory unless this is called)."""
    with _LOCK:
        w = _state["writer"]
        _state["writer"] = None
        _state["dir"] = os.path.abspath(path) if path is not None else None
    if w is not None:
        w.close()


_LOCK = threading.Lock()


def _writer():
    with _LOCK:
        w = _state["writer"]
        if w is not None:
            return w
        logdir = _state["dir"] or os.environ.get("RUN_DIR")
        if not logdir:
            return None
        try:
            w = _state["writer"] = _events.EventWriter(logdir)
        except OSError as e:
            _warn_once("dir", "guild.log: cannot write to %s (%s); nothing is recorded" % (logdir, e))
            _state["dir"] = None
            return None
        return w


def _reset_after_fork():
    global _LOCK
    _LOCK = threading.Lock()
    _state["writer"] = None


_events._FORK_HOOKS.append(_reset_after_fork)


def log(*args, step=None, **scalars):
    """Log scalars at a step, as TensorBoard events in the current run.

    ``guild.log(loss=0.2, acc=0.9)``, ``guild.log({"loss": 0.2}, step=10)``
    (wandb's and mlflow's shapes) and ``guild.log(10, loss=0.2)`` all work.
    Without a step, each call is the step after the last one (from 0).
    Values are anything ``float()`` takes (numbers, numpy and torch
    scalars); others are skipped with a warning. Never raises.
    """
    try:
        _log(args, step, scalars)
    except Exception as e:
        _warn_once(("error", type(e)), "guild.log: %s: %s; not recorded" % (type(e).__name__, e))


def _log(args, step, scalars):
    for a in args:
        if isinstance(a, dict):
            scalars = dict(a, **{str(k): v for k, v in scalars.items()}) if scalars else a
        elif step is None and not isinstance(a, bool) and _is_index(a):
            step = operator.index(a)
        else:
            _warn_once("arg", "guild.log: ignored argument %r (pass a dict or name=value)" % (a,))
    w = _state["writer"] or _writer()
    if step is None:
        step = _state["step"]
    else:
        try:
            step = _events.clamp_step(int(step))
        except (TypeError, ValueError, OverflowError):
            _warn_once("step", "guild.log: step %r is not an integer; logged at 0" % (step,))
            step = 0
    _state["step"] = step + 1
    if w is None:
        _warn_once(
            "norun",
            "guild.log: not in a run (no RUN_DIR) and no guild.set_log_dir(PATH): "
            "nothing is recorded",
        )
        return
    now = time.time()
    if len(scalars) == 1:
        for tag, value in scalars.items():
            v = _float(tag, value)
            if v is not _NOTHING:
                w.add_scalar(tag if tag.__class__ is str else str(tag), v, step, now)
        return
    values = []
    for tag, value in scalars.items():
        v = _float(tag, value)
        if v is not _NOTHING:
            values.append(_events.scalar_value(tag, v))
    if values:
        w.add_values(values, step, now)


def _is_index(a):
    try:
        operator.index(a)
        return True
    except TypeError:
        return False


def _float(tag, value):
    if value.__class__ is float:
        return value
    try:
        return float(value)
    except Exception:
        _warn_once(("value", str(tag)), "guild.log: %s=%r is not a number; skipped" % (tag, value))
        return _NOTHING


def _warn_once(key, msg):
    if key in _state["warned"]:
        return
    _state["warned"].add(key)
    try:
        sys.stderr.write(msg + "\n")
    except Exception:
        pass


def flush():
    """Write what was logged so far (done every second and at exit anyway)."""
    _events.flush_all()


__all__ = ["log", "current_run", "set_log_dir", "flush", "CurrentRun"]
