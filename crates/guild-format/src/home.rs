//! Guild home resolution (as Guild 0.9: `-H`/`GUILD_HOME`, active venv or
//! conda `.guild`, a `.guild` directory found walking up from cwd, `~/.guild`)
//! and the paths inside it.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A guild home: the directory holding runs, trash and caches.
#[derive(Debug, Clone)]
pub struct Home {
    /// The home directory (`.guild` or the `-H`/`GUILD_HOME` directory).
    pub path: PathBuf,
}

impl Home {
    /// Resolve the home. `explicit` is `-H`; the `GUILD_HOME` env var is
    /// treated the same way. Either must name an existing directory.
    pub fn resolve(explicit: Option<&Path>, cwd: &Path) -> Result<Home> {
        let env_home = std::env::var_os("GUILD_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(p) = explicit.map(Path::to_path_buf).or(env_home) {
            let p = if p.is_absolute() { p } else { cwd.join(p) };
            if !p.is_dir() {
                return Err(Error::user(format!(
                    "directory '{}' does not exist; create it (mkdir -p {}) or point GUILD_HOME/-H at an existing guild home",
                    p.display(),
                    p.display()
                )));
            }
            return Ok(Home { path: p });
        }
        for var in ["CONDA_PREFIX", "VIRTUAL_ENV"] {
            if let Some(prefix) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                let cand = PathBuf::from(prefix).join(".guild");
                if let Ok(real) = cand.canonicalize() {
                    if real.is_dir() {
                        return Ok(Home { path: real });
                    }
                }
                break;
            }
        }
        let user_home = std::env::var_os("HOME").map(PathBuf::from);
        let user_home_real = user_home.as_ref().and_then(|h| h.canonicalize().ok());
        let mut cur = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
        loop {
            let cand = cur.join(".guild");
            if cand.is_dir() {
                return Ok(Home { path: cand });
            }
            if Some(&cur) == user_home_real.as_ref() || !cur.pop() {
                break;
            }
        }
        let base = user_home.ok_or_else(|| {
            Error::user("cannot find a guild home: HOME is not set; set GUILD_HOME or use -H")
        })?;
        Ok(Home {
            path: base.join(".guild"),
        })
    }

    /// The runs directory of the home (`runs`).
    pub fn runs_dir(&self) -> PathBuf {
        self.path.join("runs")
    }

    /// Where deleted runs go (`trash/runs`).
    pub fn trash_dir(&self) -> PathBuf {
        self.path.join("trash").join("runs")
    }

    /// The cache directory `name` under the home's `cache`.
    pub fn cache_dir(&self, name: &str) -> PathBuf {
        self.path.join("cache").join(name)
    }
}

/// The user config file, as Guild finds it: `$GUILD_CONFIG`, else (when
/// `cwd` is given) `guild-config.yml` there, else `~/.guild/config.yml`.
pub fn user_config_path(cwd: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GUILD_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(here) = cwd
        .map(|d| d.join("guild-config.yml"))
        .filter(|p| p.is_file())
    {
        return Some(here);
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".guild").join("config.yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_up_to_a_guild_dir() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("a/b/.guild")).unwrap();
        std::fs::create_dir_all(base.join("a/b/c/d")).unwrap();
        // Only meaningful when GUILD_HOME is not set in the test environment.
        if std::env::var_os("GUILD_HOME").is_none()
            && std::env::var_os("VIRTUAL_ENV").is_none()
            && std::env::var_os("CONDA_PREFIX").is_none()
        {
            let h = Home::resolve(None, &base.join("a/b/c/d")).unwrap();
            assert_eq!(h.path, base.join("a/b/.guild"));
        }
    }

    #[test]
    fn explicit_home_must_exist() {
        let d = tempfile::tempdir().unwrap();
        let e = Home::resolve(Some(&d.path().join("nope")), d.path()).unwrap_err();
        assert!(e.message().contains("does not exist"));
        assert!(Home::resolve(Some(d.path()), d.path()).is_ok());
    }
}
