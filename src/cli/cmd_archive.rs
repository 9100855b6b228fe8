//! `guild export` and `guild import`: runs to and from a directory or a
//! zip archive (Guild 0.9's options and messages).

use super::{Ctx, FilterArgs};
use crate::api;
use crate::render;
use clap::Args;
use guild_format::error::Result;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "LOCATION is a directory (made when missing) or a file ending in .zip. A run already there is skipped. Without RUN, all runs matching the filters are exported.\n\nExamples:\n  guild export ~/runs-backup\n  guild export results.zip 1:3 --operation train\n  guild export /mnt/archive --move -y"
)]
pub(crate) struct ExportArgs {
    /// Directory or .zip file to export to
    #[arg(value_name = "LOCATION")]
    pub(crate) location: PathBuf,
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Move the runs instead of copying them
    #[arg(short = 'm', long = "move")]
    pub(crate) mv: bool,
    /// Copy what the runs link to (dependencies) instead of the links
    #[arg(short = 'r', long)]
    pub(crate) copy_resources: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "ARCHIVE is a directory of runs (as `guild export` makes) or a .zip file. A run already in the home is skipped. Without RUN, all runs of the archive matching the filters are imported.\n\nExamples:\n  guild import ~/runs-backup\n  guild import results.zip --operation train -y"
)]
pub(crate) struct ImportArgs {
    /// Directory or .zip file to import from
    #[arg(value_name = "ARCHIVE")]
    pub(crate) archive: PathBuf,
    /// Runs of the archive (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Move the runs instead of copying them (not from a zip archive)
    #[arg(short = 'm', long = "move")]
    pub(crate) mv: bool,
    /// Copy what the runs link to (dependencies) instead of the links
    #[arg(long)]
    pub(crate) copy_resources: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

fn confirm(yes: bool, what: String, preview: &str, copy_resources: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    eprint!("{what}\n{preview}");
    if !super::confirm("Continue?", true)? {
        return Ok(false);
    }
    if copy_resources {
        eprintln!(
            "WARNING: You specified --copy-resources, which will copy resources used by each run."
        );
        return super::confirm("Really copy resources exported runs?", true);
    }
    Ok(true)
}

pub(crate) fn export(ctx: &Ctx, a: ExportArgs) -> Result<i32> {
    let sel = api::archive::export_selection(
        ctx,
        &super::cmd_runs::selection(&a.runs, &a.filters, false),
    )?;
    if sel.is_empty() {
        eprintln!("No runs to export.");
        return Ok(0);
    }
    let shown = a.location.display().to_string();
    let what = format!(
        "You are about to {} the following runs to '{shown}':",
        if a.mv { "move" } else { "copy" }
    );
    if !confirm(
        a.yes,
        what,
        &render::id_preview(&sel, &ctx.cwd),
        a.copy_resources,
    )? {
        return Ok(1);
    }
    let dest = ctx.cwd.join(&a.location);
    let done = api::archive::export(ctx, &sel, &dest, a.mv, a.copy_resources)?;
    eprintln!("Exported {} run(s) to {shown}", done.len());
    Ok(0)
}

pub(crate) fn import(ctx: &Ctx, a: ImportArgs) -> Result<i32> {
    let path = ctx.cwd.join(&a.archive);
    let shown = a.archive.display().to_string();
    let archive = api::archive::Archive::open(ctx, &path, &shown, a.mv)?;
    let sel = archive.runs(&super::cmd_runs::selection(&a.runs, &a.filters, false))?;
    if sel.is_empty() {
        eprintln!("No runs to import.");
        return Ok(0);
    }
    let what = format!(
        "You are about to import ({}) the following runs from '{shown}':",
        if a.mv { "move" } else { "copy" }
    );
    if !confirm(
        a.yes,
        what,
        &render::id_preview(&sel, &ctx.cwd),
        a.copy_resources,
    )? {
        return Ok(1);
    }
    let done = archive.import(ctx, &sel, a.mv, a.copy_resources)?;
    eprintln!("Imported {} run(s) from {shown}", done.len());
    Ok(0)
}
