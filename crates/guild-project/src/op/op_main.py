# Bootstrap for Python operations: runs MODULE with flag arguments the way
# Guild AI 0.9's guild.op_main does (FLAGS_DEST=args passes them as argv;
# FLAGS_DEST=globals rebinds module globals). Written by guild; do not edit.
import os
import sys

# Heavier modules (yaml, ast, json, runpy) are imported only when needed:
# every millisecond here is added to each run's start.
_YAML_WORDS = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE "
    "on On ON off Off OFF null Null NULL".split()
)
_MISS = object()


def _fast_decode(s):
    # Values whose YAML 1.1 reading is certain without loading PyYAML.
    t = s[1:] if s[:1] in ("-", "+") else s
    if t.isascii() and t.isdigit() and (t == "0" or t[0] != "0"):
        return int(s)
    mant, _, exp = t.replace("E", "e").partition("e")
    whole, dot, frac = mant.partition(".")
    if (
        dot
        and whole.isascii()
        and whole.isdigit()
        and (not frac or (frac.isascii() and frac.isdigit()))
        and (
            not _
            or (exp[:1] in ("-", "+") and exp[1:].isascii() and exp[1:].isdigit())
        )
    ):
        return float(s)
    if s.isascii() and s[:1].isalpha() and s.replace("_", "a").isalnum():
        if s not in _YAML_WORDS:
            return s
    return _MISS


def _decode(s):
    fast = _fast_decode(s)
    if fast is not _MISS:
        return fast
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            return yaml.safe_load(s)
        except Exception:
            return s
    if s in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"):
        return True
    if s in ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"):
        return False
    if s in ("null", "Null", "NULL", "~", ""):
        return None
    if len(s) >= 2 and s[0] == s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if len(s) >= 2 and s[0] == s[-1] == '"':
        import json

        try:
            return json.loads(s)
        except ValueError:
            return s[1:-1]
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    if s[:1] in "[{":
        import ast

        try:
            return ast.literal_eval(s)
        except Exception:
            pass
        if s[0] == "[" and s[-1] == "]":
            return [_decode(x.strip()) for x in s[1:-1].split(",") if x.strip()]
    return s


def _parse_flags(args):
    flags = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                # `--name=value`: a value that starts with `-`.
                name, raw = a[2:].split("=", 1)
                val = _decode(raw)
                i += 1
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                name = a[2:]
                val = _decode(args[i + 1])
                i += 2
            else:
                name = a[2:]
                val = True
                i += 1
            if name in flags:
                prev = flags[name]
                flags[name] = (prev if isinstance(prev, list) else [prev]) + [val]
            else:
                flags[name] = val
        else:
            i += 1
    return flags


def _init_sys_path(mod):
    """sys.path as Guild's op_main leaves it: the launcher's directory out,
    PYTHONPATH (the source code root first) in charge, and for
    `SUBDIR/MODULE` the subdirectory second."""
    if os.environ.get("SCRIPT_DIR") is not None:
        sys.path[0] = os.environ["SCRIPT_DIR"]
    elif os.environ.get("NO_SYS_PATH_MODIFY") != "1":
        del sys.path[0]
    if not sys.path or not os.environ.get("PYTHONPATH"):
        # Started without the run's PYTHONPATH: the source root first.
        sys.path.insert(0, os.path.abspath(os.environ.get("GUILD_SOURCECODE") or "."))
    if "/" in mod:
        sub = mod.rsplit("/", 1)[0]
        for p in sys.path:
            if os.path.exists(os.path.join(p, sub)):
                sub = os.path.join(p, sub)
                break
        sys.path.insert(1, sub)


def _find(mod):
    base = os.environ.get("GUILD_SOURCECODE") or "."
    if mod.endswith(".py"):
        return os.path.abspath(os.path.join(base, mod)), None
    if "/" in mod:
        sub, mod = mod.rsplit("/", 1)
        base = os.path.join(base, sub)
    # A plain module file in the source dir needs no import machinery.
    direct = os.path.join(base, mod.replace(".", "/") + ".py")
    if os.path.isfile(direct):
        return os.path.abspath(direct), mod
    import importlib.util

    spec = importlib.util.find_spec(mod)
    if spec is None or not spec.origin:
        sys.stderr.write("guild: No module named %s\n" % mod)
        sys.exit(1)
    return spec.origin, mod


def _globals_code(path, names):
    # The script compiled without the first assignment of each flag name.
    # Cached beside this file (marshal), keyed by the script's content (not
    # its path: every run has its own copy), the flag names and the Python
    # version, since ast costs milliseconds. The cached code gets this run's
    # path as its file name, so tracebacks name the run's copy.
    import marshal
    import zlib

    with open(path, "rb") as f:
        src = f.read()
    key = (src, ",".join(sorted(names)), sys.version)
    cache_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "globals")
    sig = zlib.crc32(src, zlib.crc32((key[1] + key[2]).encode()))
    cache = os.path.join(cache_dir, "g%08x.bin" % sig)
    can_rename = hasattr(_globals_code.__code__, "replace")
    if can_rename:
        try:
            with open(cache, "rb") as f:
                stored_key, code = marshal.load(f)
            if stored_key == key:
                return _renamed(code, path)
        except Exception:
            pass
    import ast

    tree = ast.parse(src, path)
    pending = set(names)
    body = []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in pending
        ):
            pending.discard(node.targets[0].id)
            continue
        body.append(node)
    tree.body = body
    code = compile(tree, path, "exec")
    if can_rename:
        try:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = "%s.%d.tmp" % (cache, os.getpid())
            with open(tmp, "wb") as f:
                marshal.dump((key, code), f)
            os.replace(tmp, cache)
        except OSError:
            pass
    return code


def _renamed(code, path):
    # `code` and every code object nested in it, with co_filename = path.
    if code.co_filename == path:
        return code
    consts = tuple(
        _renamed(c, path) if isinstance(c, type(code)) else c for c in code.co_consts
    )
    return code.replace(co_filename=path, co_consts=consts)


def _run_globals(path, flags):
    flags = {sys.intern(k.replace("-", "_")): v for k, v in flags.items()}
    code = _globals_code(path, flags)
    g = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    # Interned names keep module-level name lookups on the fast identity path.
    g.update(flags)
    exec(code, g)


def _nest(flags):
    # Dotted flag names nest: {"opt.lr": 0.1} -> {"opt": {"lr": 0.1}}.
    out = {}
    for name, val in flags.items():
        parts = name.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = val
    return out


def _merge(base, new):
    if not isinstance(base, dict):
        return new
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def _to_ns(d):
    import types

    return types.SimpleNamespace(
        **{k: _to_ns(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}
    )


def _from_ns(v):
    import types

    if isinstance(v, types.SimpleNamespace):
        return {k: _from_ns(x) for k, x in vars(v).items()}
    return v


def _merge_ns(base, new):
    return _to_ns(_merge(_from_ns(base) if base is not None else {}, new))


def _run_dict_global(path, name, flags, namespace=False):
    # FLAGS_DEST=global:NAME / dict:NAME: flag values are merged into the
    # dict the script assigns to NAME (or NAME is set to them).
    import ast

    with open(path) as f:
        src = f.read()
    tree = ast.parse(src, path)
    merge_call = ast.parse(
        "%s = __guild_merge__(%s, __guild_flags__)" % (name, name)
    ).body[0]
    body = []
    merged = False
    for node in tree.body:
        body.append(node)
        if (
            not merged
            and isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == name
        ):
            body.append(ast.copy_location(merge_call, node))
            merged = True
    tree.body = body
    ast.fix_missing_locations(tree)
    code = compile(tree, path, "exec")
    nested = _nest(flags)
    g = {
        "__name__": "__main__",
        "__file__": path,
        "__builtins__": __builtins__,
        "__guild_merge__": _merge_ns if namespace else _merge,
        "__guild_flags__": nested,
    }
    if not merged:
        g[sys.intern(name)] = _to_ns(nested) if namespace else nested
    exec(code, g)


def main():
    try:
        _main()
    except KeyboardInterrupt:
        # As Guild's op_main: Ctrl-C ends the run without a traceback (the
        # tracker records it as terminated), unless the operation asks to
        # handle it itself.
        if os.environ.get("HANDLE_KEYBOARD_INTERRUPT"):
            raise
        sys.exit(130)


def _main():
    argv = sys.argv[1:]
    if not argv:
        sys.stderr.write("guild: missing module argument\n")
        sys.exit(2)
    mod, rest = argv[0], argv[1:]
    if "--" in rest:
        i = len(rest) - 1 - rest[::-1].index("--")
        base, flag_args = rest[:i], rest[i + 1 :]
    else:
        base, flag_args = [], rest
    _init_sys_path(mod)
    if mod == "guild.pass":
        # Guild's no-op module (operations that only resolve dependencies):
        # it prints the arguments it is given.
        import shlex

        dest = os.environ.get("FLAGS_DEST", "args")
        args = base + (flag_args if dest == "args" or dest.startswith("args:") else [])
        if args:
            print(" ".join(shlex.quote(a) for a in args))
        return
    path, modname = _find(mod)
    dest = os.environ.get("FLAGS_DEST", "args")
    if dest == "globals":
        sys.argv = [path] + base
        _run_globals(path, _parse_flags(flag_args))
        return
    if dest.startswith(("global:", "dict:", "namespace:")):
        sys.argv = [path] + base
        _run_dict_global(
            path,
            dest.split(":", 1)[1],
            _parse_flags(flag_args),
            namespace=dest.startswith("namespace:"),
        )
        return
    if not (dest == "args" or dest.startswith("args:")):
        # `none`, `config:` and unknown dests: no flag arguments.
        flag_args = []
    if dest == "none":
        flag_args = []
    sys.argv = [path] + base + flag_args
    import runpy

    if modname:
        runpy.run_module(modname, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main()
