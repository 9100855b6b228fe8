#!/usr/bin/env python3
"""Production Rust functions longer than a limit (default 150 lines).

A brace-matching scan of every .rs file under src/ (and crates/, once
there): a `fn` item's length runs from its `fn` line to the line of the
brace that closes its body. Test modules (`#[cfg(test)] mod ...`) and
string/char literals and comments are skipped. Prints `LINES PATH:LINE NAME`
for each function over the limit, longest first; exits 1 if any is not in
the allowance file given with --allow (one `PATH NAME` per line), so the
list can only shrink.
"""

import argparse
import os
import re
import sys

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def strip(src):
    """The source with comments, strings and chars blanked (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = len(re.match(r"r(#*)\"", src[i:]).group(1))
            end = '"' + "#" * hashes
            j = src.find(end, i + 2 + hashes)
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i:]):
            m = re.match(r"'(\\.|[^\\'])'", src[i:])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        elif c == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", src[i:]):
            m = re.match(r"'\\u\{[0-9a-fA-F]+\}'", src[i:])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    src = strip(open(path, encoding="utf-8").read())
    # Blank out test modules.
    for m in list(re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", src)):
        start, depth, j = m.start(), 0, m.end() - 1
        while j < len(src):
            if src[j] == "{":
                depth += 1
            elif src[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        src = src[:start] + re.sub(r"[^\n]", " ", src[start : j + 1]) + src[j + 1 :]
    for m in FN.finditer(src):
        # The body: the first `{` after the signature, unless a `;` comes
        # first (a declaration without a body).
        j = m.end()
        while j < len(src) and src[j] not in "{;":
            j += 1
        if j >= len(src) or src[j] == ";":
            continue
        depth, k = 0, j
        while k < len(src):
            if src[k] == "{":
                depth += 1
            elif src[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        first = src.count("\n", 0, m.start()) + 1
        last = src.count("\n", 0, k) + 1
        yield first, last - first + 1, m.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--allow", help="file of allowed `PATH NAME` lines")
    ap.add_argument("roots", nargs="*", default=["src", "crates"])
    a = ap.parse_args()
    found = []
    for root in a.roots:
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith(".rs"):
                    p = os.path.join(d, f)
                    for line, length, name in functions(p):
                        if length > a.limit:
                            found.append((length, p, line, name))
    found.sort(reverse=True)
    allowed = set()
    if a.allow and os.path.exists(a.allow):
        allowed = {l.strip() for l in open(a.allow) if l.strip() and not l.startswith("#")}
    bad = 0
    for length, p, line, name in found:
        ok = "%s %s" % (p, name) in allowed
        bad += not ok
        print("%5d %s:%d %s%s" % (length, p, line, name, "" if ok else "  (new)"))
    if bad:
        print("fn-lengths: %d function(s) over %d lines" % (bad, a.limit), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
