//! `guild diff`: two runs (or a run and a directory, or a run's source code
//! and the project it came from) compared with a diff program, as Guild 0.9
//! does: `diff -ru` unless `--cmd` or the user config's `diff.command`
//! says otherwise.

use super::{Ctx, FilterArgs};
use crate::api;
use clap::Args;
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Without RUN arguments the latest two runs are compared (run 2, then run 1).\n\nThe program: --cmd, else the user config's `diff: {command: CMD}` (or a mapping of file extensions to commands, with `default`), else `diff -ru`.\n\nExamples:\n  guild diff --flags\n  guild diff 3 1 -p train.py\n  guild diff --working          (the latest run's source code vs the project now)"
)]
pub(crate) struct DiffArgs {
    /// The runs to compare (default: 2 and 1; one with --working/--dir)
    #[arg(value_name = "RUN", num_args = 0..=2)]
    pub(crate) runs: Vec<String>,
    /// Compare the runs' output
    #[arg(short = 'O', long)]
    pub(crate) output: bool,
    /// Compare the runs' source code
    #[arg(short = 's', long)]
    pub(crate) sourcecode: bool,
    /// Compare the runs' environment
    #[arg(short = 'e', long)]
    pub(crate) env: bool,
    /// Compare the runs' flags
    #[arg(short = 'f', long)]
    pub(crate) flags: bool,
    /// Compare all run attributes
    #[arg(short = 'a', long)]
    pub(crate) attrs: bool,
    /// Compare the runs' dependencies
    #[arg(short = 'D', long)]
    pub(crate) deps: bool,
    /// Compare the datastore versions the runs mount (name, version, manifest)
    #[arg(long)]
    pub(crate) datastores: bool,
    /// Compare PATH (repeatable)
    #[arg(short = 'p', long = "path", value_name = "PATH")]
    pub(crate) paths: Vec<String>,
    /// Compare the run's source code with the project it was copied from
    #[arg(short = 'w', long)]
    pub(crate) working: bool,
    /// Compare the run with directory PATH (relative to the current directory)
    #[arg(short = 'd', long = "dir", value_name = "PATH")]
    pub(crate) dir: Option<PathBuf>,
    /// Program to compare with (the two paths are its last arguments)
    #[arg(short = 'c', long, value_name = "CMD")]
    pub(crate) cmd: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

pub(crate) fn diff_cmd(ctx: &Ctx, a: DiffArgs) -> Result<i32> {
    // As given, unless `-C` moved the directory it is relative to.
    let dir = a.dir.as_ref().map(|d| {
        if ctx.cwd == super::process_cwd(ctx) {
            d.clone()
        } else {
            ctx.cwd.join(d)
        }
    });
    let req = api::diff::DiffRequest {
        select: super::cmd_runs::selection(&a.runs, &a.filters, false),
        output: a.output,
        sourcecode: a.sourcecode,
        env: a.env,
        flags: a.flags,
        attrs: a.attrs,
        deps: a.deps,
        datastores: a.datastores,
        paths: a.paths.clone(),
        working: a.working,
        dir,
    };
    for (x, y) in api::diff::pairs(ctx, &req)? {
        let argv = api::diff::command(a.cmd.as_deref(), &x, &y)?;
        // The program's own status (1 = they differ) is not an error.
        std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status()
            .map_err(|e| Error::user(format!("error running '{}': {e}", argv.join(" "))))?;
    }
    Ok(0)
}
