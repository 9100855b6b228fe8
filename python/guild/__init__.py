"""guild: run, track and compare experiments.

From a training script::

    import guild
    guild.log(loss=0.25, acc=0.91)          # scalars of the current run
    run = guild.current_run()               # its id, dir and flags

From a notebook, Guild AI's API::

    from guild import ipy
    ipy.runs().compare()                    # a pandas DataFrame (or a list of dicts)

Grid.ai's datastores: ``guild.Datastore(name, source).upload()`` and
``guild.list_datastores()``.

And Grid.ai's SDK, on local runs and the remotes of the user config::

    from guild import Run
    r = Run(run_command="python train.py --lr '[0.1, 0.01]'")
    r.start(); r.status()

The package ships the ``guild`` binary and talks to it through its JSON
output; ``guild.find_guild_bin()`` says which binary (``GUILD_BIN``
overrides it).
"""

from guild._log import CurrentRun, current_run, flush, log, set_log_dir

__version__ = "0.1.0"

_LAZY = {
    "Run": "guild._grid",
    "Experiment": "guild._grid",
    "list_runs": "guild._grid",
    "find_guild_bin": "guild._find",
    "GuildNotFound": "guild._find",
    "GuildError": "guild._cli",
    "Datastore": "guild._datastore",
    "list_datastores": "guild._datastore",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is not None:
        import importlib

        return getattr(importlib.import_module(mod), name)
    raise AttributeError("module 'guild' has no attribute %r" % name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "log",
    "current_run",
    "set_log_dir",
    "flush",
    "CurrentRun",
    "Run",
    "Experiment",
    "list_runs",
    "find_guild_bin",
    "GuildError",
    "Datastore",
    "list_datastores",
]
