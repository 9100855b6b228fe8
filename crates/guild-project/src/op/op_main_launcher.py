# Runs guild_op_main_impl. It is imported, so its bytecode is cached (also
# under PYTHONDONTWRITEBYTECODE) and not compiled again on every run.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guild_op_main_impl as m  # noqa: E402

del sys.path[0]
if m.__cached__ and not os.path.exists(m.__cached__):
    try:
        import py_compile

        py_compile.compile(m.__file__, cfile=m.__cached__, doraise=True)
    except Exception:
        pass
m.main()
