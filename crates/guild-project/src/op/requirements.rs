//! Does a project say what it needs? A run sent to another machine needs
//! the project's third-party packages there: when the project declares
//! none (`requirements.txt`, `environment.yml`, `pyproject.toml`...), the
//! imports of its source code that are neither the standard library nor
//! the project's own modules are named, so the user knows what to install.

use std::collections::BTreeSet;
use std::path::Path;

/// Files that declare a Python project's dependencies.
const DECLARATIONS: &[&str] = &[
    "requirements.txt",
    "environment.yml",
    "environment.yaml",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
];

/// The top-level modules of Python 3.11's standard library
/// (`sys.stdlib_module_names`, private ones left out).
const STDLIB: &[&str] = &[
    "abc aifc antigravity argparse array ast asynchat asyncio asyncore atexit audioop",
    "base64 bdb binascii bisect builtins bz2 cProfile calendar cgi cgitb chunk cmath",
    "cmd code codecs codeop collections colorsys compileall concurrent configparser",
    "contextlib contextvars copy copyreg crypt csv ctypes curses dataclasses datetime",
    "dbm decimal difflib dis distutils doctest email encodings ensurepip enum errno",
    "faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc",
    "genericpath getopt getpass gettext glob graphlib grp gzip hashlib heapq hmac",
    "html http idlelib imaplib imghdr imp importlib inspect io ipaddress itertools",
    "json keyword lib2to3 linecache locale logging lzma mailbox mailcap marshal math",
    "mimetypes mmap modulefinder msilib msvcrt multiprocessing netrc nis nntplib nt",
    "ntpath nturl2path numbers opcode operator optparse os ossaudiodev pathlib pdb",
    "pickle pickletools pipes pkgutil platform plistlib poplib posix posixpath pprint",
    "profile pstats pty pwd py_compile pyclbr pydoc pydoc_data pyexpat queue quopri",
    "random re readline reprlib resource rlcompleter runpy sched secrets select",
    "selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket",
    "socketserver spwd sqlite3 sre_compile sre_constants sre_parse ssl stat",
    "statistics string stringprep struct subprocess sunau symtable sys sysconfig",
    "syslog tabnanny tarfile telnetlib tempfile termios textwrap this threading time",
    "timeit tkinter token tokenize tomllib trace traceback tracemalloc tty turtle",
    "turtledemo types typing unicodedata unittest urllib uu uuid venv warnings wave",
    "weakref webbrowser winreg winsound wsgiref xdrlib xml xmlrpc zipapp zipfile",
    "zipimport zlib zoneinfo",
];

/// Whether `dir` (a project directory) declares its dependencies.
pub fn declared(dir: &Path) -> bool {
    DECLARATIONS.iter().any(|f| dir.join(f).is_file())
}

/// The third-party modules the Python files under `dir` import (a run's
/// source code snapshot): neither standard library nor a module or
/// package of `dir` itself. Sorted, each once.
pub fn third_party_imports(dir: &Path) -> Vec<String> {
    let stdlib: BTreeSet<&str> = STDLIB.iter().flat_map(|l| l.split_whitespace()).collect();
    let mut own = BTreeSet::new();
    let mut imported = BTreeSet::new();
    let files = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".guild")
        .flatten();
    for e in files {
        let path = e.path();
        let Ok(rel) = path.strip_prefix(dir) else {
            continue;
        };
        // Modules and packages of the project, importable by their name.
        if let Some(first) = rel.components().next() {
            let name = first.as_os_str().to_string_lossy();
            own.insert(name.trim_end_matches(".py").to_string());
        }
        if e.file_type().is_file() && path.extension().is_some_and(|x| x == "py") {
            if let Ok(text) = std::fs::read_to_string(path) {
                imported.extend(crate::op::detect::imports(&text));
            }
        }
    }
    imported
        .into_iter()
        .filter(|m| !stdlib.contains(m.as_str()) && !own.contains(m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_third_party_imports_only() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(
            d.join("train.py"),
            "import os, sys\nimport numpy as np\nfrom torch.nn import Linear\nimport util\nfrom . import x\nfrom pkg.sub import y\n",
        )
        .unwrap();
        std::fs::write(d.join("util.py"), "import json\nimport sklearn.metrics\n").unwrap();
        std::fs::create_dir(d.join("pkg")).unwrap();
        std::fs::write(d.join("pkg/__init__.py"), "").unwrap();
        assert_eq!(third_party_imports(d), ["numpy", "sklearn", "torch"]);
        assert!(!declared(d));
        std::fs::write(d.join("requirements.txt"), "numpy\n").unwrap();
        assert!(declared(d));
    }
}
