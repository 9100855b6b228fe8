"""Find the ``guild`` binary that ships with this package.

As uv's ``find_uv_bin``: the scripts directory of this environment, of the
base interpreter, of a ``pip install --prefix`` or ``--target`` install,
then of the user scheme (``pip install --user``). ``GUILD_BIN`` overrides
all of them. ``PATH`` is never searched: another ``guild`` there (Guild
AI's, say) must not be run by accident.
"""

import os
import sys
import sysconfig


class GuildNotFound(FileNotFoundError):
    pass


def find_guild_bin():
    """The path of the ``guild`` executable this package runs."""
    override = os.environ.get("GUILD_BIN")
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise GuildNotFound(
            "GUILD_BIN is %r, which is not an executable file; point it at the "
            "guild binary or unset it" % override
        )
    exe = "guild" + (sysconfig.get_config_var("EXE") or "")
    seen = []
    for target in _targets():
        if not target or target in seen:
            continue
        seen.append(target)
        path = os.path.join(target, exe)
        if os.path.isfile(path) and os.access(path, os.X_OK) and not _is_script(path):
            return path
    raise GuildNotFound(
        "the guild binary was not found in %s; reinstall the package "
        "(pip install guild-tracker) or set GUILD_BIN to the binary"
        % ", ".join(seen)
    )


def _is_script(path):
    """A ``#!`` script is another tool's entry point (Guild AI installs a
    Python ``guild`` script); the wheel's binary is native."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return True


def _targets():
    module = os.path.dirname(os.path.abspath(__file__))
    yield sysconfig.get_path("scripts")
    yield sysconfig.get_path("scripts", vars={"base": sys.base_prefix})
    if sys.platform == "win32":
        # <prefix>/Lib/site-packages/guild
        yield _join(_matching_parents(module, "Lib/site-packages/guild"), "Scripts")
    else:
        # <prefix>/lib/python3.X/site-packages/guild
        yield _join(_matching_parents(module, "lib/python*/site-packages/guild"), "bin")
    # pip install --target <dir>: <dir>/guild and <dir>/bin
    yield _join(_matching_parents(module, "guild"), "bin")
    yield sysconfig.get_path("scripts", scheme=_user_scheme())


def _user_scheme():
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and sys._framework:
        return "osx_framework_user"
    return "posix_user"


def _matching_parents(path, match):
    """The ancestor of ``path`` whose trailing parts match the glob parts
    of ``match``, or None."""
    from fnmatch import fnmatch

    if not path:
        return None
    parts = path.split(os.sep)
    want = match.split("/")
    if len(parts) < len(want):
        return None
    if not all(fnmatch(p, w) for p, w in zip(reversed(parts), reversed(want))):
        return None
    return os.sep.join(parts[: -len(want)])


def _join(path, *parts):
    if not path:
        return None
    return os.path.join(path, *parts)
