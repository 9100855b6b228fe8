//! Read and manage runs: `runs` (list, info, delete, restore, purge),
//! `stop`, `watch`, `cat`, `ls`, `label`, `tag`.

use super::{Ctx, FilterArgs};
use crate::api::{self, runs::Change, Selection};
use crate::render;
use clap::{Args, Subcommand};
use guild_format::error::{Error, Result};
use std::time::Duration;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct RunsArgs {
    #[command(subcommand)]
    pub(crate) cmd: Option<RunsCmd>,
    #[command(flatten)]
    pub(crate) list: ListArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RunsCmd {
    /// List runs (newest first)
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show run details: attributes, flags, scalars
    Info(InfoArgs),
    /// Move runs to the trash (`runs restore` brings them back)
    #[command(visible_alias = "rm")]
    Delete(DeleteArgs),
    /// Restore deleted runs from the trash
    Restore(BulkArgs),
    /// Permanently remove deleted runs from the trash
    Purge(BulkArgs),
    /// Stop running runs
    Stop(StopArgs),
    /// Copy run files to a project directory (as `guild merge`)
    Merge(super::cmd_merge::MergeArgs),
    /// Publish runs as a browsable directory (as `guild publish`)
    Publish(super::cmd_publish::PublishArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ListArgs {
    /// Runs to list: index, A:B range, or id prefix
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Show all runs
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Show at most N runs
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Show deleted runs (in the trash)
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
    /// Show 20 more runs (may be repeated: -mm)
    #[arg(short = 'm', long, action = clap::ArgAction::Count)]
    pub(crate) more: u8,
    /// Show a simplified list: [N]  OPERATION  STATUS  LABEL
    #[arg(short = 's', long)]
    pub(crate) simplified: bool,
    /// Add a NAME column (sweep and trial names) before the label
    #[arg(long)]
    pub(crate) names: bool,
    /// Output JSON (all matching runs)
    #[arg(long)]
    pub(crate) json: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct InfoArgs {
    /// Run (default: latest)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// Show the run's environment
    #[arg(short = 'e', long)]
    pub(crate) env: bool,
    /// Show the manifest
    #[arg(short = 'm', long)]
    pub(crate) manifest: bool,
    /// Show first/last/min/max/avg/total of every scalar
    #[arg(short = 's', long)]
    pub(crate) all_scalars: bool,
    /// Show the run's comments
    #[arg(short = 'c', long)]
    pub(crate) comments: bool,
    /// Show the resolved dependencies
    #[arg(short = 'd', long)]
    pub(crate) deps: bool,
    /// Show the plugins used by the run
    #[arg(short = 'p', long)]
    pub(crate) plugins: bool,
    /// Look for the run among deleted runs
    #[arg(long)]
    pub(crate) deleted: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub(crate) bulk: BulkArgs,
    /// Delete permanently instead of moving to the trash
    #[arg(short = 'p', long)]
    pub(crate) permanent: bool,
}

#[derive(Args, Debug)]
pub(crate) struct BulkArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`): with the guild
    /// there, or in the bucket (deleted runs go to its trash)
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct StopArgs {
    /// Runs to stop (default: all running)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) timeout: f64,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    /// Run to watch (default: the latest running run)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct CatArgs {
    /// Run: index, id prefix or name (default: the latest)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// File to print, relative to the run directory
    #[arg(short = 'p', long, value_name = "PATH")]
    pub(crate) path: Option<String>,
    /// Print the run's output
    #[arg(short = 'O', long)]
    pub(crate) output: bool,
    /// PATH is relative to the run's source code (its `sourcecode.dest`)
    #[arg(short = 's', long)]
    pub(crate) sourcecode: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct LsArgs {
    /// Run: index, id prefix or name (default: the latest)
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// List only PATH (a relative path, or a pattern with * and ?)
    #[arg(short = 'p', long, value_name = "PATH")]
    pub(crate) path: Option<String>,
    /// Show all files, hidden ones and .guild included
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// List source code files
    #[arg(short = 's', long)]
    pub(crate) sourcecode: bool,
    /// List dependencies
    #[arg(short = 'd', long)]
    pub(crate) dependencies: bool,
    /// List generated files
    #[arg(short = 'g', long)]
    pub(crate) generated: bool,
    /// Follow links to directories
    #[arg(short = 'L', long)]
    pub(crate) follow_links: bool,
    /// Show full paths
    #[arg(short = 'f', long)]
    pub(crate) full_path: bool,
    /// No header or indent
    #[arg(short = 'n', long)]
    pub(crate) no_format: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct LabelArgs {
    /// Runs: indexes, id prefixes, names or ranges like 1:3
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Set the label (template: `${flag}`, `${label}`)
    #[arg(short = 's', long, value_name = "VAL")]
    pub(crate) set: Option<String>,
    /// Prepend to the label
    #[arg(short = 'p', long, value_name = "VAL")]
    pub(crate) prepend: Option<String>,
    /// Append to the label
    #[arg(short = 'a', long, value_name = "VAL")]
    pub(crate) append: Option<String>,
    /// Remove text from the label (also -rm)
    #[arg(long = "remove", value_name = "VAL")]
    pub(crate) remove: Vec<String>,
    /// Clear the label
    #[arg(short = 'c', long)]
    pub(crate) clear: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct TagArgs {
    /// Runs: indexes, id prefixes, names or ranges like 1:3
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Add a tag
    #[arg(short = 'a', long = "add", value_name = "TAG")]
    pub(crate) add: Vec<String>,
    /// Delete a tag
    #[arg(short = 'd', long = "delete", value_name = "TAG")]
    pub(crate) delete: Vec<String>,
    /// Remove all tags
    #[arg(short = 'c', long)]
    pub(crate) clear: bool,
    /// List all tags in use
    #[arg(long)]
    pub(crate) list_all: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

/// The runs named on the command line (none: the command's default).
pub(crate) fn selection(runs: &[String], filters: &FilterArgs, deleted: bool) -> Selection {
    Selection {
        runs: runs.to_vec(),
        filters: filters.filters(),
        deleted,
    }
}

fn one_spec(run: Option<&String>, filters: &FilterArgs, deleted: bool) -> Selection {
    selection(
        &run.cloned().into_iter().collect::<Vec<_>>(),
        filters,
        deleted,
    )
}

pub(crate) fn runs(ctx: &Ctx, a: RunsArgs) -> Result<i32> {
    match a.cmd {
        None => list(ctx, a.list),
        Some(RunsCmd::List(l)) => list(ctx, l),
        Some(RunsCmd::Info(i)) => info(ctx, i),
        Some(RunsCmd::Delete(d)) => {
            let c = change(&d.bulk.runs, &d.bulk.filters, d.bulk.yes);
            api::runs::delete(ctx, &c, d.permanent).map(|_| 0)
        }
        Some(RunsCmd::Restore(b)) => {
            api::runs::restore(ctx, &change(&b.runs, &b.filters, b.yes)).map(|_| 0)
        }
        Some(RunsCmd::Purge(b)) => {
            api::runs::purge(ctx, &change(&b.runs, &b.filters, b.yes)).map(|_| 0)
        }
        Some(RunsCmd::Stop(s)) => stop(ctx, s),
        Some(RunsCmd::Merge(m)) => super::cmd_merge::merge(ctx, m),
        Some(RunsCmd::Publish(p)) => super::cmd_publish::publish(ctx, p),
    }
}

fn change(runs: &[String], filters: &FilterArgs, yes: bool) -> Change {
    Change {
        select: selection(runs, filters, false),
        yes,
    }
}

fn list(ctx: &Ctx, a: ListArgs) -> Result<i32> {
    let sel = selection(&a.runs, &a.filters, a.deleted);
    if a.json {
        let listed = api::runs::list(ctx, &sel)?;
        let runs: Vec<&api::RunInfo> = listed.iter().map(|i| &i.run).collect();
        render::json(&serde_json::to_value(runs).unwrap_or_default());
        return Ok(0);
    }
    let limit = (!a.all).then(|| a.limit.unwrap_or(20 * (usize::from(a.more) + 1)));
    let (listed, total) = api::runs::page(ctx, &sel, limit)?;
    let limit = limit.unwrap_or(total);
    let style = render::RowStyle {
        simplified: a.simplified,
        names: a.names,
    };
    let indexed: Vec<(usize, &api::RunInfo)> = listed
        .iter()
        .take(limit)
        .map(|i| (i.index, &i.run))
        .collect();
    if !indexed.is_empty() {
        render::out(&render::table(render::run_rows(&indexed, style, &ctx.cwd)));
    } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        // Said to a person only: scripts (and Guild) get empty output.
        eprintln!("No runs (home: {})", ctx.home.path.display());
    }
    // As Guild: no note when the user chose the number (-n).
    if total > limit && a.limit.is_none() {
        eprintln!("Showing the first {limit} runs ({total} total) - use --all to show all or -m to show more");
    }
    Ok(0)
}

pub(crate) fn info(ctx: &Ctx, a: InfoArgs) -> Result<i32> {
    let parts = api::runs::InfoParts {
        env: a.env,
        manifest: a.manifest,
        deps: a.deps,
        plugins: a.plugins,
        comments: a.comments,
    };
    let d = api::runs::info(ctx, &one_spec(a.run.as_ref(), &a.filters, a.deleted), parts)?;
    if a.json {
        render::json(&render::run_info_json(&d, a.all_scalars));
    } else {
        render::out(&render::run_info_text(&d, a.all_scalars));
    }
    Ok(0)
}

pub(crate) fn stop(ctx: &Ctx, a: StopArgs) -> Result<i32> {
    let grace = Duration::from_secs_f64(a.timeout.max(0.0));
    api::runs::stop(ctx, &change(&a.runs, &a.filters, a.yes), grace).map(|_| 0)
}

pub(crate) fn watch(ctx: &Ctx, a: WatchArgs) -> Result<i32> {
    let r = api::runs::watched(ctx, &one_spec(a.run.as_ref(), &a.filters, false))?;
    let mut out = std::io::stdout().lock();
    api::runs::watch(ctx, &r, &mut out)?;
    Ok(0)
}

pub(crate) fn cat(ctx: &Ctx, a: CatArgs) -> Result<i32> {
    let path = if a.output {
        None
    } else {
        Some(a.path.clone().ok_or_else(|| {
            Error::user("specify a file with -p PATH or the output with --output")
        })?)
    };
    let sel = one_spec(a.run.as_ref(), &a.filters, false);
    let mut file = api::runs::open_file(ctx, &sel, path.as_deref(), a.sourcecode)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // Streamed: a run's output may be far larger than memory.
    let _ = std::io::copy(&mut file, &mut out);
    let _ = out.flush();
    Ok(0)
}

pub(crate) fn ls(ctx: &Ctx, a: LsArgs) -> Result<i32> {
    let req = api::runs::LsRequest {
        select: one_spec(a.run.as_ref(), &a.filters, false),
        path: a.path.clone(),
        all: a.all,
        sourcecode: a.sourcecode,
        dependencies: a.dependencies,
        generated: a.generated,
        follow_links: a.follow_links,
    };
    let listing = api::runs::ls(ctx, &req)?;
    if a.json {
        render::json(&serde_json::json!(listing
            .files
            .iter()
            .map(|(f, _)| f)
            .collect::<Vec<_>>()));
        return Ok(0);
    }
    let mut o = String::new();
    if !a.no_format && !a.full_path {
        o.push_str(&format!("{}:\n", render::tilde(&listing.dir)));
    }
    for (f, dir) in listing.files {
        let name = if a.full_path {
            listing.dir.join(&f).display().to_string()
        } else {
            f
        };
        let slash = if dir { "/" } else { "" };
        if a.no_format || a.full_path {
            o.push_str(&format!("{name}{slash}\n"));
        } else {
            o.push_str(&format!("  {name}{slash}\n"));
        }
    }
    render::out(&guild_format::text::escape_keep_newlines(&o));
    Ok(0)
}

pub(crate) fn label(ctx: &Ctx, a: LabelArgs) -> Result<i32> {
    let n = [
        a.set.is_some(),
        a.prepend.is_some(),
        a.append.is_some(),
        !a.remove.is_empty(),
        a.clear,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n != 1 {
        return Err(Error::user(
            "give exactly one of --set, --prepend, --append, --remove, --clear",
        ));
    }
    use crate::api::LabelEdit;
    let edit = if let Some(t) = a.set {
        LabelEdit::Set(t)
    } else if let Some(t) = a.prepend {
        LabelEdit::Prepend(t)
    } else if let Some(t) = a.append {
        LabelEdit::Append(t)
    } else if a.clear {
        LabelEdit::Clear
    } else {
        LabelEdit::Remove(a.remove.clone())
    };
    api::runs::label(ctx, &selection(&a.runs, &a.filters, false), &edit).map(|_| 0)
}

pub(crate) fn tag(ctx: &Ctx, a: TagArgs) -> Result<i32> {
    if a.list_all {
        render::out(&api::runs::all_tags(ctx, &a.filters.filters())?.join("\n"));
        return Ok(0);
    }
    if a.add.is_empty() && a.delete.is_empty() && !a.clear {
        return Err(Error::user("give --add TAG, --delete TAG or --clear"));
    }
    let edit = api::TagEdit {
        add: a.add.clone(),
        delete: a.delete.clone(),
        clear: a.clear,
    };
    api::runs::tag(ctx, &selection(&a.runs, &a.filters, false), &edit).map(|_| 0)
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  guild run --restart $(guild select -Fo train)\n  guild select --min loss          (the run with the lowest loss)\n  guild select -a flags 1           (an attribute instead of the id)\n  guild select -A -p -Fm            (paths of all marked runs)"
)]
pub(crate) struct SelectArgs {
    /// Runs to select (index, id prefix or name; default: the latest matching run)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Select all matching runs, not just the latest
    #[arg(short = 'A', long)]
    pub(crate) all: bool,
    /// Select the run with the lowest value of COLSPEC (a scalar, `=FLAG` or `.ATTR`, as in compare); also -min
    #[arg(long, value_name = "COLSPEC")]
    pub(crate) min: Option<String>,
    /// Select the run with the highest value of COLSPEC; also -max
    #[arg(long, value_name = "COLSPEC")]
    pub(crate) max: Option<String>,
    /// Print the short id
    #[arg(short = 's', long)]
    pub(crate) short_id: bool,
    /// Print run attribute ATTR (`label`, `status`, `flags`, ...) instead of the id
    #[arg(short = 'a', long, value_name = "ATTR")]
    pub(crate) attr: Option<String>,
    /// Print the run directory
    #[arg(short = 'p', long, visible_alias = "dir")]
    pub(crate) path: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

pub(crate) fn select(ctx: &Ctx, a: SelectArgs) -> Result<i32> {
    let incompatible = [
        (a.short_id && a.attr.is_some(), "--short-id", "--attr"),
        (a.min.is_some() && a.max.is_some(), "--min", "--max"),
    ];
    for (both, x, y) in incompatible {
        if both {
            return Err(Error::user(format!(
                "{x} and {y} cannot both be specified Try 'guild select --help' for more information."
            )));
        }
    }
    let req = api::runs::SelectRequest {
        select: selection(&a.runs, &a.filters, false),
        all: a.all,
        best: a
            .min
            .clone()
            .map(|c| (c, false))
            .or(a.max.clone().map(|c| (c, true))),
    };
    let mut out = String::new();
    for r in &api::runs::select(ctx, &req)? {
        let line = if let Some(attr) = &a.attr {
            render::select_attr(r, attr)?
        } else if a.short_id {
            r.run.short_id().to_string()
        } else if a.path {
            r.run.dir.display().to_string()
        } else {
            r.run.id.clone()
        };
        out.push_str(&guild_format::text::escape_keep_newlines(&line));
        out.push('\n');
    }
    render::out(&out);
    Ok(0)
}

#[derive(Args, Debug)]
pub(crate) struct MarkArgs {
    /// Runs to mark (default: the latest; for unmark, all marked runs)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Unmark the runs instead
    #[arg(short = 'c', long)]
    pub(crate) clear: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

/// `mark` / `unmark` (`clear`): set or remove the `marked` attr.
pub(crate) fn mark(ctx: &Ctx, a: MarkArgs, clear: bool) -> Result<i32> {
    api::runs::mark(ctx, &change(&a.runs, &a.filters, a.yes), clear).map(|_| 0)
}
