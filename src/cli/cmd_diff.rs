//! `guild diff`: two runs (or a run and a directory, or a run's source code
//! and the project it came from) compared with a diff program, as Guild 0.9
//! does: `diff -ru` unless `--cmd` or the user config's `diff.command`
//! says otherwise.

use super::{Ctx, FilterArgs};
use crate::error::{Error, Result};
use crate::query::{self, RunInfo};
use crate::run::Run;
use clap::Args;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(
    after_help = "Without RUN arguments the latest two runs are compared (run 2, then run 1).\n\nThe program: --cmd, else the user config's `diff: {command: CMD}` (or a mapping of file extensions to commands, with `default`), else `diff -ru`.\n\nExamples:\n  guild diff --flags\n  guild diff 3 1 -p train.py\n  guild diff --working          (the latest run's source code vs the project now)"
)]
pub struct DiffArgs {
    /// The runs to compare (default: 2 and 1; one with --working/--dir)
    #[arg(value_name = "RUN", num_args = 0..=2)]
    pub runs: Vec<String>,
    /// Compare the runs' output
    #[arg(short = 'O', long)]
    pub output: bool,
    /// Compare the runs' source code
    #[arg(short = 's', long)]
    pub sourcecode: bool,
    /// Compare the runs' environment
    #[arg(short = 'e', long)]
    pub env: bool,
    /// Compare the runs' flags
    #[arg(short = 'f', long)]
    pub flags: bool,
    /// Compare all run attributes
    #[arg(short = 'a', long)]
    pub attrs: bool,
    /// Compare the runs' dependencies
    #[arg(short = 'D', long)]
    pub deps: bool,
    /// Compare PATH (repeatable)
    #[arg(short = 'p', long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Compare the run's source code with the project it was copied from
    #[arg(short = 'w', long)]
    pub working: bool,
    /// Compare the run with directory PATH (relative to the current directory)
    #[arg(short = 'd', long = "dir", value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Program to compare with (the two paths are its last arguments)
    #[arg(short = 'c', long, value_name = "CMD")]
    pub cmd: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

const DEFAULT_DIFF_CMD: &str = "diff -ru";

/// The user config's `diff.command`: one command, or by file extension.
fn config_cmd(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(crate::redact::user_config_path()?).ok()?;
    let cfg = crate::run::yaml::parse_11(&text).ok()?;
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

fn diff(cmd: &Option<String>, a: &Path, b: &Path) -> Result<()> {
    let line = cmd
        .clone()
        .or_else(|| config_cmd(a))
        .unwrap_or_else(|| DEFAULT_DIFF_CMD.into());
    let mut parts = shlex::split(&line)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::user(format!("invalid diff command '{line}'")))?;
    parts.push(a.display().to_string());
    parts.push(b.display().to_string());
    // The program's own status (1 = they differ) is not an error.
    std::process::Command::new(&parts[0])
        .args(&parts[1..])
        .status()
        .map_err(|e| Error::user(format!("error running '{}': {e}", parts.join(" "))))?;
    Ok(())
}

/// A run's source code directory in the run.
fn sourcecode_dir(run: &Run) -> PathBuf {
    let rel = crate::run::sourcecode_path(run, ".");
    if rel == "." {
        run.dir.clone()
    } else {
        run.dir.join(rel.trim_end_matches("/."))
    }
}

pub fn diff_cmd(ctx: &Ctx, a: DiffArgs) -> Result<i32> {
    if a.working && a.dir.is_some() {
        return Err(Error::user("--working and --dir cannot both be used"));
    }
    if a.working && a.sourcecode {
        return Err(Error::user(
            "--working and --sourcecode cannot both be used",
        ));
    }
    let single = a.working || a.dir.is_some();
    let specs: Vec<String> = match (a.runs.as_slice(), single) {
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
    let all = a
        .filters
        .filters()
        .apply(query::list_dir(&ctx.home.runs_dir()))?;
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
        // As given, unless `-C` moved the directory it is relative to.
        let d = if ctx.cwd == super::process_cwd(ctx) {
            d.clone()
        } else {
            ctx.cwd.join(d)
        };
        pairs_under(&run.dir, &d)
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
    for (x, y) in pairs {
        diff(&a.cmd, &x, &y)?;
    }
    Ok(0)
}

/// Where a run's source code came from: its operation's source root
/// (guild.yml directory and `sourcecode.root`), or a script's directory.
fn working_dir(ctx: &Ctx, run: &Run) -> Option<PathBuf> {
    let opref = run.opref().ok()?;
    if let Some(op) = crate::op::for_run(&ctx.home, &opref) {
        if let Some(root) = op.source_root {
            return Some(root);
        }
    }
    (opref.pkg_type == "script").then(|| PathBuf::from(&opref.pkg_name))
}
