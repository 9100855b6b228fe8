"""Running the ``guild`` binary and reading its JSON."""

import json as _json
import os
import subprocess

from guild._find import find_guild_bin

_HOME = [None]


class GuildError(RuntimeError):
    """A ``guild`` command failed; the message is its error line."""

    def __init__(self, message, args=None, code=None):
        super().__init__(message)
        self.cmd_args = args
        self.code = code


def set_home(path):
    _HOME[0] = os.path.abspath(os.path.expanduser(path)) if path else None


def home():
    return _HOME[0]


def env():
    e = dict(os.environ)
    if _HOME[0]:
        e["GUILD_HOME"] = _HOME[0]
    return e


def command(args):
    return [find_guild_bin()] + list(args)


def run(args, cwd=None, check=True):
    """Run ``guild ARGS``; its stdout as text. Raises :class:`GuildError`
    with the binary's error line when it fails."""
    p = subprocess.run(
        command(args),
        cwd=cwd,
        env=env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if check and p.returncode != 0:
        raise _error(args, p.returncode, p.stderr)
    return p.stdout.decode("utf-8", "replace")


def json(args, cwd=None):
    """Run ``guild ARGS`` and decode its JSON output."""
    return _json.loads(run(args, cwd=cwd) or "null")


def _error(args, code, stderr):
    text = stderr.decode("utf-8", "replace").strip()
    lines = [l for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("guild: ")]
    msg = (errors or lines[-1:] or ["guild %s exited with %d" % (" ".join(args), code)])[0]
    if msg.startswith("guild: "):
        msg = msg[len("guild: ") :]
    return GuildError(msg, args, code)


def listed(args, cwd=None):
    """Rows of ``guild api list ARGS`` (a header row, then one row per run)
    as dicts."""
    data = json(args, cwd=cwd) or [[]]
    header = data[0]
    return [dict(zip(header, r)) for r in data[1:]]


def experiment_groups():
    """Sweeps and single runs, active ones first (``status --json`` then
    ``history --json``), each once: id, name, status, trials..."""
    seen = set()
    out = []
    for args in (["status", "--json"], ["history", "--json", "--limit", "1000000"]):
        for e in json(args):
            if e["id"] not in seen:
                seen.add(e["id"])
                out.append(e)
    return out
