"""``python -m guild ARGS``: the ``guild`` binary with ARGS."""

import os
import sys


def _run():
    from guild._find import find_guild_bin

    guild = find_guild_bin()
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.call([guild] + sys.argv[1:]))
    os.execvp(guild, [guild] + sys.argv[1:])


if __name__ == "__main__":
    _run()
