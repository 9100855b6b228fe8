//! `diff`: which files of two runs (or of a run and its working source
//! code) to compare, and with which program.

use super::{Context, Selection};
use guild_format::error::{Error, Result};
use guild_format::query::{self, RunInfo};
use guild_format::run::Run;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

const DEFAULT_DIFF_CMD: &str = "diff -ru";

/// The user config's `diff.command`: one command, or by file extension.
fn config_cmd(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(guild_format::home::user_config_path(None)?).ok()?;
    let cfg = guild_format::run::yaml::parse_11(&text).ok()?;
    match cfg.get("diff")?.get("command")? {
        Value::String(s) => Some(s.clone()),
        Value::Mapping(m) => {
            let ext = path
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            m.iter()
                .filter(|(k, _)| k.as_str() != Some("default"))
                .find(|(k, _)| {
                    k.as_str().is_some_and(|p| {
                        p == ext || regex::Regex::new(p).is_ok_and(|r| r.is_match(&ext))
                    })
                })
                .or_else(|| m.iter().find(|(k, _)| k.as_str() == Some("default")))
                .and_then(|(_, v)| v.as_str().map(String::from))
        }
        _ => None,
    }
}

/// The diff program's argv for comparing `a` with `b`: `cmd`, else the
/// user config's `diff.command` (by `a`'s extension), else `diff -ru`.
pub fn command(cmd: Option<&str>, a: &Path, b: &Path) -> Result<Vec<String>> {
    let line = cmd
        .map(String::from)
        .or_else(|| config_cmd(a))
        .unwrap_or_else(|| DEFAULT_DIFF_CMD.into());
    let mut parts = shlex::split(&line)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::user(format!("invalid diff command '{line}'")))?;
    parts.push(a.display().to_string());
    parts.push(b.display().to_string());
    Ok(parts)
}

/// A run's source code directory in the run.
fn sourcecode_dir(run: &Run) -> PathBuf {
    let rel = guild_format::run::sourcecode_path(run, ".");
    if rel == "." {
        run.dir.clone()
    } else {
        run.dir.join(rel.trim_end_matches("/."))
    }
}

/// What to compare: two runs (default the latest two), or one run with
/// its working source code or a directory.
#[derive(Debug, Clone, Default)]
pub struct DiffRequest {
    pub select: Selection,
    pub output: bool,
    pub sourcecode: bool,
    pub env: bool,
    pub flags: bool,
    pub attrs: bool,
    /// Compare the datastore versions the runs mount.
    pub datastores: bool,
    pub deps: bool,
    pub paths: Vec<String>,
    pub working: bool,
    pub dir: Option<PathBuf>,
}

/// The pairs of paths to compare, in order.
pub fn pairs(ctx: &Context, a: &DiffRequest) -> Result<Vec<(PathBuf, PathBuf)>> {
    if a.working && a.dir.is_some() {
        return Err(Error::user("--working and --dir cannot both be used"));
    }
    if a.working && a.sourcecode {
        return Err(Error::user(
            "--working and --sourcecode cannot both be used",
        ));
    }
    let single = a.working || a.dir.is_some();
    let specs: Vec<String> = match (a.select.runs.as_slice(), single) {
        ([], true) => vec!["1".into()],
        ([], false) => vec!["2".into(), "1".into()],
        ([_], false) => {
            return Err(Error::user(
                "diff requires two runs Try specifying a second RUN or 'guild diff --help' for more information.",
            ))
        }
        ([_, _], true) => {
            return Err(Error::user(if a.dir.is_some() {
                "cannot specify second RUN and --dir"
            } else {
                "cannot specify second RUN and --working"
            }))
        }
        (r, _) => r.to_vec(),
    };
    let all = ctx.runs(&a.select.filters, false)?;
    let pick = |spec: &str| -> Result<RunInfo> {
        query::select(&all, &[spec.to_string()], false)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoRun {
                spec: String::new(),
            })
    };
    let run = pick(&specs[0])?.run;
    let pairs_under = |x: &Path, y: &Path| -> Vec<(PathBuf, PathBuf)> {
        if a.paths.is_empty() {
            vec![(x.to_path_buf(), y.to_path_buf())]
        } else {
            a.paths.iter().map(|p| (x.join(p), y.join(p))).collect()
        }
    };
    let pairs: Vec<(PathBuf, PathBuf)> = if let Some(d) = &a.dir {
        pairs_under(&run.dir, d)
    } else if a.working {
        let working = working_dir(ctx, &run).ok_or_else(|| {
            Error::user(format!(
                "cannot find working source code directory for run {id} Try specifying the directory with 'guild diff {id} --dir DIR'.",
                id = run.short_id()
            ))
        })?;
        pairs_under(&sourcecode_dir(&run), &working)
    } else {
        let other = pick(&specs[1])?.run;
        let mut v: Vec<(PathBuf, PathBuf)> = Vec::new();
        let attr = |name: &str| {
            (
                run.guild_path("attrs").join(name),
                other.guild_path("attrs").join(name),
            )
        };
        if a.attrs {
            v.push((run.guild_path("attrs"), other.guild_path("attrs")));
        } else {
            if a.env {
                v.push(attr("env"));
            }
            if a.flags {
                v.push(attr("flags"));
            }
            if a.deps {
                v.push(attr("deps"));
            }
            if a.datastores {
                v.push(attr("datastores"));
            }
        }
        if a.output {
            v.push((run.guild_path("output"), other.guild_path("output")));
        }
        if a.sourcecode {
            v.extend(pairs_under(&sourcecode_dir(&run), &sourcecode_dir(&other)));
        } else {
            v.extend(a.paths.iter().map(|p| (run.dir.join(p), other.dir.join(p))));
        }
        if v.is_empty() {
            v.push((run.dir.clone(), other.dir.clone()));
        }
        v
    };
    Ok(pairs)
}

/// Where a run's source code came from: its operation's source root
/// (guild.yml directory and `sourcecode.root`), or a script's directory.
fn working_dir(ctx: &Context, run: &Run) -> Option<PathBuf> {
    let opref = run.opref().ok()?;
    if let Some(op) = guild_project::op::for_run(&ctx.home, &opref) {
        if let Some(root) = op.source_root {
            return Some(root);
        }
    }
    (opref.pkg_type == "script").then(|| PathBuf::from(&opref.pkg_name))
}
