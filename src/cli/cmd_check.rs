//! `guild check` (the installation, home, Python and platform) and
//! `guild open` (a run's directory, file or output, with a program).

use super::{Ctx, FilterArgs};
use crate::api;
use crate::render;
use clap::Args;
use guild_format::error::{Error, Result};

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// Show more: the Python path and more package versions
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Only the environment (Python, platform, GPU), not the installation
    #[arg(long)]
    pub(crate) env: bool,
    /// Show the disk space used by runs, deleted runs and caches
    #[arg(long)]
    pub(crate) space: bool,
    /// Exit 1 unless this binary's version satisfies REQUIRED (`>=0.1`)
    #[arg(long = "version", value_name = "REQUIRED")]
    pub(crate) required: Option<String>,
    /// Do not print the information (with --version: only check)
    #[arg(short = 'n', long)]
    pub(crate) no_info: bool,
    /// Run Guild's own test suite (not available in this implementation)
    #[arg(short = 'T', long)]
    pub(crate) tests: bool,
}

fn print_kv(items: &[(String, String)]) {
    let mut out = String::new();
    for (k, v) in items {
        out.push_str(&format!("{:27}{v}\n", format!("{k}:")));
    }
    render::out(out.trim_end());
}

pub(crate) fn check(ctx: &Ctx, a: CheckArgs) -> Result<i32> {
    if a.tests {
        return Err(Error::user(
            "Guild's Python test suite is not part of this implementation; its CLI doctests run with ../shared/compat-doctests/run.sh (see the README)",
        ));
    }
    if let Some(req) = &a.required {
        api::check::require_version(req)?;
        if a.no_info {
            return Ok(0);
        }
    }
    if a.space {
        print_kv(&api::check::space(ctx));
        return Ok(0);
    }
    if !a.no_info {
        print_kv(&api::check::facts(ctx, a.verbose, a.env));
    }
    Ok(0)
}

#[derive(Args, Debug)]
#[command(
    after_help = "Without --cmd or --shell the path is opened with the desktop's opener (xdg-open); where there is none, it is printed.\n\nExamples:\n  guild open                  (the latest run's directory)\n  guild open -p model.ckpt -c 'ls -l'\n  guild open --shell 2"
)]
pub(crate) struct OpenArgs {
    /// Run (default: the latest)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// A path under the run directory (or under its source code with -s)
    #[arg(short = 'p', long, value_name = "PATH")]
    pub(crate) path: Option<String>,
    /// The run's source code directory
    #[arg(short = 's', long)]
    pub(crate) sourcecode: bool,
    /// The run's output file
    #[arg(short = 'O', long)]
    pub(crate) output: bool,
    /// Open with CMD (the path is its last argument)
    #[arg(short = 'c', long, value_name = "CMD")]
    pub(crate) cmd: Option<String>,
    /// Start a shell ($SHELL) in the run directory (or PATH)
    #[arg(long)]
    pub(crate) shell: bool,
    /// Start a shell with CMD in the run directory (or PATH)
    #[arg(long, value_name = "CMD")]
    pub(crate) shell_cmd: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

pub(crate) fn open(ctx: &Ctx, a: OpenArgs) -> Result<i32> {
    if a.output && (a.path.is_some() || a.sourcecode) {
        return Err(Error::user(
            "--output cannot be used with other options Try 'guild open --help' for more information.",
        ));
    }
    if a.path.as_deref().is_some_and(|p| p.starts_with('/')) {
        return Err(Error::user(
            "PATH must be relative Try 'guild open --help' for more information.",
        ));
    }
    let specs: Vec<String> = a.run.clone().into_iter().collect();
    let sel = super::cmd_runs::selection(&specs, &a.filters, false);
    let path = api::runs::path_in(ctx, &sel, a.path.as_deref(), a.sourcecode, a.output)?;
    let shell = a.shell_cmd.clone().or_else(|| {
        a.shell
            .then(|| std::env::var("SHELL").unwrap_or_else(|_| "sh".into()))
    });
    let (prog, args, dir): (String, Vec<String>, Option<std::path::PathBuf>) =
        if let Some(sh) = shell {
            let dir = if path.is_dir() {
                path.clone()
            } else {
                path.parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or(path.clone())
            };
            let parts = shlex::split(&sh).unwrap_or_else(|| vec![sh.clone()]);
            (parts[0].clone(), parts[1..].to_vec(), Some(dir))
        } else if let Some(cmd) = &a.cmd {
            let mut parts = shlex::split(cmd).unwrap_or_else(|| vec![cmd.clone()]);
            if parts.is_empty() {
                return Err(Error::user("--cmd is empty"));
            }
            parts.push(path.display().to_string());
            (parts[0].clone(), parts[1..].to_vec(), None)
        } else {
            match api::check::opener() {
                Some(o) => (
                    o.display().to_string(),
                    vec![path.display().to_string()],
                    None,
                ),
                None => {
                    println!("{}", path.display());
                    return Ok(0);
                }
            }
        };
    let mut c = std::process::Command::new(&prog);
    c.args(&args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let status = c
        .status()
        .map_err(|e| Error::user(format!("cannot run '{prog}': {e}")))?;
    Ok(status.code().unwrap_or(1))
}
