//! `guild check`: facts about this installation, the guild home, Python and
//! the platform, in Guild 0.9's keys and order.

use guild_format::home::Home;
use std::path::Path;
use std::process::Command;

/// What `check` reports on: everything, or (`env`) the environment only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options<'a> {
    pub(crate) verbose: bool,
    pub(crate) env_only: bool,
    /// The directory the command runs in (the Python of a pyenv there).
    pub(crate) cwd: &'a std::path::Path,
}

/// The plugins this binary implements (Guild's names).
const PLUGINS: &[&str] = &[
    "config_flags",
    "exec_script",
    "python_script",
    "resource_flags",
];

/// Python packages Guild reports on (`--verbose` adds the second list).
const PACKAGES: &[&str] = &["psutil", "tensorboard"];
const MORE_PACKAGES: &[&str] = &[
    "click",
    "dask",
    "numpy",
    "pandas",
    "pip",
    "sklearn:scikit-learn",
    "setuptools",
    "twine",
    "yaml:PyYAML",
    "werkzeug",
];

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The Python facts, in one interpreter start: version, sys.path and the
/// versions of `packages` ("not installed" when absent).
fn python_facts(python: &Path, packages: &[&str]) -> Option<(String, String, Vec<String>)> {
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p.split_once(':').map(|(_, d)| d).unwrap_or(p))
        .collect();
    let script = format!(
        "import sys, os\nfrom importlib import metadata as m\nprint(sys.version.replace('\\n', ' '))\nprint(os.pathsep.join(sys.path[1:]))\nfor n in {names:?}:\n    try:\n        print(m.version(n))\n    except Exception:\n        print('not installed')\n"
    );
    let out = run(&python.display().to_string(), &["-c", &script])?;
    let mut lines = out.lines().map(String::from);
    let version = lines.next()?;
    let path = lines.next().unwrap_or_default();
    Some((version, path, lines.collect()))
}

/// `(key, value)` lines, as Guild prints them.
pub(crate) fn facts(home: &Home, opts: Options) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_string(), v));
    if !opts.env_only {
        put("guild_version", env!("CARGO_PKG_VERSION").to_string());
        put(
            "guild_install_location",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        put("guild_home", home.path.display().to_string());
        put(
            "guild_resource_cache",
            home.cache_dir("resources").display().to_string(),
        );
        put("installed_plugins", PLUGINS.join(", "));
    }
    let mut packages: Vec<&str> = PACKAGES.to_vec();
    if opts.verbose {
        packages.extend(MORE_PACKAGES);
    }
    match guild_format::platform::python_exe(opts.cwd) {
        Ok(py) => match python_facts(&py, &packages) {
            Some((version, path, versions)) => {
                put("python_version", version);
                put("python_exe", py.display().to_string());
                if opts.verbose {
                    put("python_path", path);
                }
                let uname = nix::sys::utsname::uname().ok();
                put(
                    "platform",
                    uname
                        .map(|u| {
                            format!(
                                "{} {} {}",
                                u.sysname().to_string_lossy(),
                                u.release().to_string_lossy(),
                                u.machine().to_string_lossy()
                            )
                        })
                        .unwrap_or_default(),
                );
                let mut vs = versions.into_iter();
                for p in &packages[..PACKAGES.len()] {
                    put(&format!("{p}_version"), vs.next().unwrap_or_default());
                }
                put(
                    "cuda_version",
                    run("nvcc", &["--version"])
                        .and_then(|o| {
                            o.lines()
                                .last()
                                .and_then(|l| l.split("release ").nth(1))
                                .map(|r| r.split(',').next().unwrap_or(r).to_string())
                        })
                        .unwrap_or_else(|| "not installed".into()),
                );
                put(
                    "nvidia_smi_version",
                    run(
                        "nvidia-smi",
                        &["--query-gpu=driver_version", "--format=csv,noheader"],
                    )
                    .and_then(|o| o.lines().next().map(String::from))
                    .unwrap_or_else(|| "not installed".into()),
                );
                for p in &packages[PACKAGES.len()..] {
                    let key = p.split(':').next().unwrap_or(p);
                    put(&format!("{key}_version"), vs.next().unwrap_or_default());
                }
            }
            None => put(
                "python_version",
                format!("error: cannot run {}", py.display()),
            ),
        },
        Err(e) => put("python_exe", format!("not found ({})", e.message())),
    }
    out
}

/// Disk space used under the guild home (`--space`), as Guild lists it.
pub(crate) fn space(home: &Home) -> Vec<(String, String)> {
    let size = |p: &Path| -> u64 {
        walkdir::WalkDir::new(p)
            .into_iter()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };
    vec![
        (
            "runs".into(),
            guild_format::text::format_bytes(size(&home.runs_dir())),
        ),
        (
            "deleted".into(),
            guild_format::text::format_bytes(size(&home.trash_dir())),
        ),
        (
            "remote_state".into(),
            guild_format::text::format_bytes(size(&home.path.join("remotes"))),
        ),
        (
            "cache".into(),
            guild_format::text::format_bytes(size(&home.path.join("cache"))),
        ),
    ]
}

/// Whether `version` satisfies a requirement like `>=0.7.0` or `==0.1.*`
/// (comma-separated clauses all hold).
pub(crate) fn satisfies(version: &str, req: &str) -> Result<bool, String> {
    let parse = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0))
            .collect()
    };
    let v = parse(version);
    for clause in req.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (op, want) = ["==", ">=", "<=", "!=", "~=", ">", "<"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|w| (*op, w.trim())))
            .unwrap_or(("==", clause));
        if want.is_empty()
            || !want
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '*')
        {
            return Err(format!("invalid version spec '{req}'"));
        }
        let ok = if let Some(prefix) = want.strip_suffix(".*") {
            let p = parse(prefix);
            let same = v.iter().take(p.len()).eq(p.iter());
            if op == "!=" {
                !same
            } else {
                same
            }
        } else {
            let w = parse(want);
            let n = v.len().max(w.len());
            let pad = |x: &[u64]| -> Vec<u64> {
                let mut x = x.to_vec();
                x.resize(n, 0);
                x
            };
            let (a, b) = (pad(&v), pad(&w));
            match op {
                "==" => a == b,
                "!=" => a != b,
                ">=" => a >= b,
                "<=" => a <= b,
                ">" => a > b,
                "<" => a < b,
                // ~=X.Y: >= X.Y and == X.*
                _ => a >= b && a[..w.len().saturating_sub(1)] == b[..w.len().saturating_sub(1)],
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_requirements() {
        assert_eq!(satisfies("0.9.0", ">=0.7.0"), Ok(true));
        assert_eq!(satisfies("0.9.0", "<0.9"), Ok(false));
        assert_eq!(satisfies("0.9.1", "==0.9.*"), Ok(true));
        assert_eq!(satisfies("0.9.1", ">=0.8,<1"), Ok(true));
        assert_eq!(satisfies("1.2.3", "~=1.2"), Ok(true));
        assert!(satisfies("1.0", ">=abc").is_err());
        assert_eq!(guild_format::text::format_bytes(512), "512");
        assert_eq!(guild_format::text::format_bytes(1536), "1.5K");
    }
}
