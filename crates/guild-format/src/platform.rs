//! Facts about this machine and its Python that runs record: host, user,
//! `platform`, the interpreter and its installed packages (`pip_freeze`,
//! read from site-packages metadata and cached, not by running pip).

use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// This machine's host name: `$HOST` when set, else the system's, else
/// `localhost`.
pub fn hostname() -> String {
    if let Ok(h) = std::env::var("HOST") {
        if !h.is_empty() {
            return h;
        }
    }
    nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|| "localhost".into())
}

/// The user name from `$USER` (empty when unset).
pub fn user() -> String {
    std::env::var("USER").unwrap_or_default()
}

/// The guild executable that supervisors, sweeps and pipelines run:
/// `GUILD_EXE` when set (a program that uses the library, not the CLI,
/// names the binary there), else this process's own executable.
pub fn guild_exe() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("GUILD_EXE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().map_err(|e| {
        crate::error::Error::user(format!(
            "cannot find the guild executable ({e}); set GUILD_EXE to its path"
        ))
    })
}

/// The interpreter for Python ops: `GUILD_PYTHON_EXE`, the active venv or
/// conda env, the virtual environment this binary is installed in (as
/// Guild runs ops with the Python it is installed in: `pip install` of
/// the wheel puts the binary in the venv's `bin`), else `python3` (or
/// `python`) on PATH. `dir` is the directory the command runs in: a pyenv
/// shim runs the version its `.python-version` names.
pub fn python_exe(dir: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("GUILD_PYTHON_EXE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            for name in ["python", "python3"] {
                let p = PathBuf::from(&prefix).join("bin").join(name);
                if p.exists() {
                    return Ok(p);
                }
            }
        }
    }
    if let Some(p) = own_venv_python() {
        return Ok(p);
    }
    for name in ["python3", "python"] {
        if let Some(p) = which(name) {
            return Ok(pyenv_resolved(&p, dir).unwrap_or(p));
        }
    }
    Err(crate::error::Error::user(
        "cannot find a Python interpreter (python3) on PATH; install Python or set GUILD_PYTHON_EXE",
    ))
}

/// The Python of the virtual environment whose `bin` holds this binary
/// (its parent has a `pyvenv.cfg`).
fn own_venv_python() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?;
    if !bin.parent()?.join("pyvenv.cfg").is_file() {
        return None;
    }
    ["python", "python3"]
        .iter()
        .map(|n| bin.join(n))
        .find(|p| p.exists())
}

/// The first executable file named `name` in the directories of `$PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PyInfo {
    exe_mtime: i64,
    version: String,
    site_dirs: Vec<PathBuf>,
}

fn mtime(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    p.metadata()
        .map(|m| m.mtime() * 1_000_000_000 + m.mtime_nsec())
        .unwrap_or(0)
}

/// Version and site-packages dirs of `python`, probed once and cached.
fn py_info(cache_dir: &Path, python: &Path) -> Option<PyInfo> {
    use md5::{Digest, Md5};
    let key = format!("{:x}", Md5::digest(python.display().to_string().as_bytes()));
    let path = cache_dir.join(format!("{key}.json"));
    let exe_mtime = mtime(
        &python
            .canonicalize()
            .unwrap_or_else(|_| python.to_path_buf()),
    );
    if let Ok(data) = std::fs::read(&path) {
        if let Ok(info) = serde_json::from_slice::<PyInfo>(&data) {
            if info.exe_mtime == exe_mtime {
                return Some(info);
            }
        }
    }
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys,site,platform;print(platform.python_version());[print(p) for p in site.getsitepackages()+[site.getusersitepackages()]]",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next()?.trim().to_string();
    let site_dirs = lines.map(PathBuf::from).filter(|p| p.is_dir()).collect();
    let info = PyInfo {
        exe_mtime,
        version,
        site_dirs,
    };
    if std::fs::create_dir_all(cache_dir).is_ok() {
        if let Ok(json) = serde_json::to_vec(&info) {
            let _ = crate::fsutil::write_atomic(&path, &json);
        }
    }
    Some(info)
}

/// The site directory of `python` that holds a `guild` Python package
/// (this tool's, or Guild AI's), which a run's `PYTHONPATH` names right
/// after its source code, as Guild's does, so that `import guild` in a
/// script finds it whatever the caller's environment.
pub fn guild_pkgdir(cache_dir: &Path, python: &Path) -> Option<PathBuf> {
    py_info(cache_dir, python)?
        .site_dirs
        .into_iter()
        .find(|d| d.join("guild").join("__init__.py").is_file())
}

/// The version of `python` (`platform.python_version()`), cached under
/// `cache_dir`.
pub fn python_version(cache_dir: &Path, python: &Path) -> Option<String> {
    py_info(cache_dir, python).map(|i| i.version)
}

/// `name==version` for every distribution in the interpreter's site dirs,
/// sorted case-insensitively as `pip freeze` prints them.
pub fn pip_freeze(cache_dir: &Path, python: &Path) -> Vec<String> {
    let Some(info) = py_info(cache_dir, python) else {
        return Vec::new();
    };
    // Cached until a site dir changes (installing or removing a package
    // adds or removes its .dist-info directory, which changes the mtime).
    let stamp: Vec<String> = info
        .site_dirs
        .iter()
        .map(|d| {
            let m = std::fs::metadata(d)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}@{m}", d.display())
        })
        .collect();
    use md5::{Digest, Md5};
    let key = format!("{:x}", Md5::digest(stamp.join("\n").as_bytes()));
    let cache = cache_dir.join(format!("freeze-{key}.json"));
    if let Ok(Some(text)) = crate::fsutil::read_opt(&cache) {
        if let Ok(pkgs) = serde_json::from_str::<Vec<String>>(&text) {
            return pkgs;
        }
    }
    let pkgs = scan_site_dirs(&info.site_dirs);
    if let Ok(json) = serde_json::to_vec(&pkgs) {
        let _ = crate::fsutil::create_dir_all(cache_dir);
        let _ = crate::fsutil::write_atomic(&cache, &json);
    }
    pkgs
}

fn scan_site_dirs(site_dirs: &[PathBuf]) -> Vec<String> {
    let mut pkgs = Vec::new();
    for dir in site_dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".dist-info") else {
                continue;
            };
            if let Some((n, v)) = dist_name_version(&e.path().join("METADATA")).or_else(|| {
                stem.rsplit_once('-')
                    .map(|(n, v)| (n.to_string(), v.to_string()))
            }) {
                if !matches!(
                    n.to_ascii_lowercase().as_str(),
                    "pip" | "setuptools" | "wheel" | "distribute"
                ) {
                    pkgs.push(format!("{n}=={v}"));
                }
            }
        }
    }
    pkgs.sort_by_key(|p| p.to_ascii_lowercase());
    pkgs.dedup();
    pkgs
}

fn dist_name_version(metadata: &Path) -> Option<(String, String)> {
    use std::io::{BufRead, BufReader};
    let f = std::fs::File::open(metadata).ok()?;
    let (mut name, mut version) = (None, None);
    for line in BufReader::new(f).lines().take(20).map_while(|l| l.ok()) {
        if let Some(n) = line.strip_prefix("Name: ") {
            name = Some(n.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version: ") {
            version = Some(v.trim().to_string());
        }
        if line.is_empty() || (name.is_some() && version.is_some()) {
            break;
        }
    }
    Some((name?, version?))
}

/// The `platform` attr: architecture, cpus, processor, python_version, uname.
pub fn platform_attr(python_version: Option<String>) -> Value {
    let u = nix::sys::utsname::uname().ok();
    let s = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        u.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let machine = s(|u| u.machine());
    let mut m = Mapping::new();
    m.insert("architecture".into(), "64bit ELF".into());
    m.insert(
        "cpus".into(),
        // All online CPUs, as Python's os.cpu_count() (not the cgroup quota).
        Value::from(
            nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
                .ok()
                .flatten()
                .unwrap_or(1),
        ),
    );
    m.insert("processor".into(), Value::from(machine.clone()));
    m.insert(
        "python_version".into(),
        python_version.map(Value::from).unwrap_or(Value::Null),
    );
    m.insert(
        "uname".into(),
        Value::from(format!(
            "{} {} {} {} {}",
            s(|u| u.sysname()),
            s(|u| u.nodename()),
            s(|u| u.release()),
            s(|u| u.version()),
            machine
        )),
    );
    Value::Mapping(m)
}

/// The interpreter a pyenv shim `shim` runs in `dir`,
/// or None when `shim` is not one (or it cannot be resolved). A shim is a
/// shell script that asks pyenv which version applies (tens of
/// milliseconds per start): it is resolved once for what decides it
/// (`PYENV_VERSION`, the nearest `.python-version`, the global version
/// file) and the answer cached in `~/.cache/guild/pyenv-shims`.
fn pyenv_resolved(shim: &Path, dir: &Path) -> Option<PathBuf> {
    type Memo = std::collections::HashMap<(PathBuf, PathBuf), Option<PathBuf>>;
    static RESOLVED: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);
    let key = (shim.to_path_buf(), dir.to_path_buf());
    let mut memo = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
    memo.get_or_insert_with(Memo::new)
        .entry(key)
        .or_insert_with(|| resolve_shim(shim, dir))
        .clone()
}

fn is_pyenv_shim(p: &Path) -> bool {
    if p.parent().and_then(|d| d.file_name()) != Some(std::ffi::OsStr::new("shims")) {
        return false;
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head[..n].starts_with(b"#!") && memchr::memmem::find(&head[..n], b"pyenv").is_some()
}

/// What decides which interpreter a pyenv shim runs in `dir`, as one key.
fn shim_key(shim: &Path, dir: &Path) -> String {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| shim.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let start = std::env::var_os("PYENV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    let local = start
        .ancestors()
        .map(|d| d.join(".python-version"))
        .find(|p| p.is_file());
    format!(
        "{}\0{}\0{}\0{}\0{}",
        shim.display(),
        std::env::var("PYENV_VERSION").unwrap_or_default(),
        local
            .as_ref()
            .map(|p| format!("{}={}", p.display(), read(p)))
            .unwrap_or_default(),
        read(&root.join("version")),
        std::env::var("PATH").unwrap_or_default(),
    )
}

fn shim_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("guild").join("pyenv-shims"))
}

fn resolve_shim(shim: &Path, dir: &Path) -> Option<PathBuf> {
    if !is_pyenv_shim(shim) {
        return None;
    }
    use md5::Digest;
    let key = format!("{:x}", md5::Md5::digest(shim_key(shim, dir).as_bytes()));
    let cache = shim_cache();
    let cached = cache
        .as_ref()
        .and_then(|c| std::fs::read_to_string(c).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}\t")).map(PathBuf::from))
        })
        .filter(|p| p.is_file());
    if cached.is_some() {
        return cached;
    }
    let out = std::process::Command::new(shim)
        .args(["-c", "import sys; print(sys.executable)"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let exe = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !exe.is_absolute() || !exe.is_file() {
        return None;
    }
    if let Some(c) = cache {
        // Appended, one line per key; a cache, so failures are ignored.
        let _ = std::fs::create_dir_all(c.parent().unwrap_or(Path::new("/")));
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&c)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, format!("{key}\t{}\n", exe.display()).as_bytes())
            });
    }
    Some(exe)
}
