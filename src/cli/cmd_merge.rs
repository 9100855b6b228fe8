//! `guild merge`: copy a run's files back into the project (Guild 0.9's
//! options, checks, preview and messages; everything on stderr).

use super::{Ctx, FilterArgs};
use crate::api::merge::{self, MergeRequest, Replace};
use crate::render;
use clap::Args;
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    long_about = "Copy run files to a project directory.\n\nBy default, files are copied into the current directory, which must be the project the run was started from. Use --target-dir DIR to copy them anywhere else (no project check).\n\nSource code and project-local dependencies are copied; generated files only with --all. A file is never replaced when it differs from the run's copy, unless a) --replace is given or b) the file is committed (or staged) in the project's git work tree and has no unstaged changes. --no-replace refuses even those.",
    after_help = "Examples:\n  guild merge --preview          what the latest run would copy here\n  guild merge 3 -a -x 'logs/*'    all files of run 3 but logs/\n  guild merge -s -t /tmp/src -y   the source code of the latest run, into /tmp/src"
)]
pub(crate) struct MergeArgs {
    /// The run (index, id prefix or name; default: the latest matching)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// Directory to merge run files to (required if project directory cannot be determined for the run)
    #[arg(short = 't', long, value_name = "DIR")]
    pub(crate) target_dir: Option<PathBuf>,
    /// Only copy run source code (implies --skip-deps)
    #[arg(short = 's', long)]
    pub(crate) sourcecode: bool,
    /// Copy all run files (generated files too); --skip-sourcecode, --skip-deps and --exclude still apply
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Don't copy run source code
    #[arg(long)]
    pub(crate) skip_sourcecode: bool,
    /// Don't copy project-local dependencies
    #[arg(short = 'D', long)]
    pub(crate) skip_deps: bool,
    /// Exclude a file or pattern (may be used multiple times)
    #[arg(short = 'x', long, value_name = "PATTERN")]
    pub(crate) exclude: Vec<String>,
    /// Accepted as in Guild 0.9, whose merge writes no run summary either
    #[arg(short = 'S', long)]
    pub(crate) no_summary: bool,
    /// Accepted as in Guild 0.9 (no summary is written)
    #[arg(long, value_name = "NAME")]
    pub(crate) summary_name: Option<String>,
    /// Show what would happen on a merge
    #[arg(short = 'p', long)]
    pub(crate) preview: bool,
    /// Don't prompt before copying files
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Allow replacement of existing files
    #[arg(long)]
    pub(crate) replace: bool,
    /// Fail if any target file would be replaced, even if that file is committed to the project VCS
    #[arg(long)]
    pub(crate) no_replace: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

pub(crate) fn merge(ctx: &Ctx, a: MergeArgs) -> Result<i32> {
    if a.replace && a.no_replace {
        return Err(Error::user(
            "--replace and --no-replace cannot both be specified\nTry 'guild merge --help' for more information.",
        ));
    }
    let req = MergeRequest {
        sel: super::cmd_runs::selection(&a.run.into_iter().collect::<Vec<_>>(), &a.filters, false),
        target_dir: a.target_dir,
        sourcecode: a.sourcecode,
        all: a.all,
        skip_sourcecode: a.skip_sourcecode,
        skip_deps: a.skip_deps,
        exclude: a.exclude,
        replace: match (a.replace, a.no_replace) {
            (true, _) => Replace::Always,
            (_, true) => Replace::Never,
            _ => Replace::Committed,
        },
    };
    let plan = merge::plan(ctx, &req)?;
    let row = render::id_preview(std::slice::from_ref(&plan.run), &ctx.cwd);
    if plan.to_copy.is_empty() && !a.preview {
        eprint!("Nothing to copy for the following run:\n{row}Try 'guild merge --preview' for a list of skipped files.\n");
        return Ok(0);
    }
    if !a.yes || a.preview {
        eprint!("{}", render::merge_preview(&plan, &row, a.preview));
        if a.preview {
            return Ok(0);
        }
        if !super::confirm("Continue (y/N)?", false)? {
            return Err(Error::Declined(String::new()));
        }
    }
    merge::apply(ctx, &plan, &mut |path| eprintln!("Copying {path}"))?;
    Ok(0)
}
