//! Project commands: `guild operations` and `guild help` for the guild.yml
//! in the current directory.

use super::Ctx;
use crate::api;
use crate::render;
use clap::Args;
use guild_format::error::Result;

#[derive(Args, Debug)]
pub(crate) struct OpsArgs {
    /// Include private operations (names starting with `_`)
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
}

#[derive(Args, Debug)]
pub(crate) struct HelpArgs {}

#[derive(Args, Debug)]
pub(crate) struct ModelsArgs {
    /// Include private models (names starting with `_`)
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
}

#[derive(Args, Debug)]
pub(crate) struct RemotesArgs {
    /// Print JSON instead of text: name, type, description and, for Slurm,
    /// partition, array-parallelism and hourly-cost
    #[arg(long)]
    pub(crate) json: bool,
}

/// `guild remotes`: name, type and description of each remote, as Guild
/// prints them.
pub(crate) fn remotes(ctx: &Ctx, a: RemotesArgs) -> Result<i32> {
    let list = api::remotes::list(ctx)?;
    if a.json {
        render::json(&render::remotes_json(&list));
        return Ok(0);
    }
    print!("{}", render::remotes_table(&list));
    Ok(0)
}

#[derive(Args, Debug)]
pub(crate) struct RemoteArgs {
    #[command(subcommand)]
    pub(crate) cmd: RemoteCmd,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum RemoteCmd {
    /// Reach the remote and show its guild home, guild and Python
    Status {
        /// A remote of `guild remotes`
        #[arg(value_name = "REMOTE")]
        name: String,
    },
}

/// `guild remote status NAME`.
pub(crate) fn remote(ctx: &Ctx, a: RemoteArgs) -> Result<i32> {
    let RemoteCmd::Status { name } = a.cmd;
    let status = api::remotes::status(ctx, &name)?;
    print!("{}", render::remote_status(&status));
    // A problem to fix (a home runs cannot be copied to, no sbatch, a
    // partition missing or down) ends with 1.
    Ok(if status.ok { 0 } else { 1 })
}

/// `CMD --remote NAME ...`: the remote's guild answers.
pub(crate) fn forward(ctx: &Ctx, name: &str, args: &[String]) -> Result<i32> {
    api::remotes::forward(ctx, name, args)
}

#[derive(Args, Debug)]
pub(crate) struct PullArgs {
    /// A remote of `guild remotes`
    #[arg(value_name = "REMOTE")]
    pub(crate) remote: String,
    /// Runs there: index, id prefix or name, as `guild runs --remote REMOTE` shows them (default: all)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Accepted as Guild takes it; nothing is asked
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Pull deleted runs: the object storage remote's trash into this home's (`guild runs --deleted` lists them, `guild runs restore` brings them back)
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
}

/// `pull REMOTE [RUN...]`.
pub(crate) fn pull(ctx: &Ctx, a: PullArgs) -> Result<i32> {
    let ids = api::remotes::pull(ctx, &a.remote, &a.runs, a.deleted)?;
    copied(&ids, &format!("from {}", a.remote));
    Ok(0)
}

/// `download URL`: the digest and the cached path, as Guild prints them.
pub(crate) fn download(ctx: &Ctx, url: &str) -> Result<i32> {
    let d = api::project::download(ctx, url)?;
    println!("{}  {}", d.sha256, d.path.display());
    Ok(0)
}

/// One line per run copied, or that there was nothing to copy.
fn copied(ids: &[String], place: &str) {
    for id in ids {
        println!("Copied {id} {place}");
    }
    if ids.is_empty() {
        println!("Nothing to copy.");
    }
}

#[derive(Args, Debug)]
pub(crate) struct PushArgs {
    /// A remote of `guild remotes`
    #[arg(value_name = "REMOTE")]
    pub(crate) remote: String,
    /// Runs here (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Accepted as Guild takes it; nothing is asked
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Push deleted runs (this home's trash) to the object storage remote's trash (`guild runs --remote REMOTE --deleted` lists them there)
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
    #[command(flatten)]
    pub(crate) filters: super::FilterArgs,
}

/// `push REMOTE [RUN...]`.
pub(crate) fn push(ctx: &Ctx, a: PushArgs) -> Result<i32> {
    let sel = api::Selection {
        runs: a.runs.clone(),
        filters: a.filters.filters(),
        deleted: a.deleted,
    };
    let ids = api::remotes::push(ctx, &a.remote, &sel)?;
    copied(&ids, &format!("to {}", a.remote));
    Ok(0)
}

#[derive(Args, Debug)]
pub(crate) struct SyncArgs {
    /// Runs (default: every run sent to a remote that has not finished)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    #[command(flatten)]
    pub(crate) filters: super::FilterArgs,
}

/// `sync [RUN...]`.
pub(crate) fn sync(ctx: &Ctx, a: SyncArgs) -> Result<i32> {
    let sel = api::Selection {
        runs: a.runs.clone(),
        filters: a.filters.filters(),
        deleted: false,
    };
    let synced = api::remotes::sync(ctx, &sel)?;
    for s in &synced {
        println!("{}  {}  {}", &s.id[..8.min(s.id.len())], s.remote, s.status);
    }
    if synced.is_empty() {
        println!("No remote runs to synchronize.");
    }
    Ok(0)
}

/// `__status [RUN...]`.
pub(crate) fn here_status(ctx: &Ctx, runs: &[String]) -> Result<i32> {
    let (home, st) = api::remotes::here_status(ctx, runs)?;
    let mut out = format!("home={home}\n");
    for (id, s) in st {
        out.push_str(&format!("{id} {s}\n"));
    }
    print!("{out}");
    Ok(0)
}

/// Names and descriptions in two columns.
fn two_columns(items: &[(String, String)]) -> String {
    let w = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    items.iter().map(|(n, d)| format!("{n:w$}{d}\n")).collect()
}

/// `guild models`: named models, sorted, with their descriptions.
pub(crate) fn models(ctx: &Ctx, a: ModelsArgs) -> Result<i32> {
    print!("{}", two_columns(&api::project::models(ctx, a.all)?));
    Ok(0)
}

pub(crate) fn operations(ctx: &Ctx, a: OpsArgs) -> Result<i32> {
    print!("{}", two_columns(&api::project::operations(ctx, a.all)?));
    Ok(0)
}

const OVERVIEW: &str = "OVERVIEW

    You are viewing help for operations defined in the current directory.

    To run an operation use 'guild run OPERATION' where OPERATION is one of
    options listed below. If an operation is associated with a model, include
    the model name as MODEL:OPERATION.

    To list available operations, run 'guild operations'.

    Set operation flags using 'FLAG=VALUE' arguments to the run command. Refer
    to the operations below for a list of supported flags.

    For more information on running operations, try 'guild run --help'.

    For general information, try 'guild --help'.
";

pub(crate) fn help(ctx: &Ctx, _a: HelpArgs) -> Result<i32> {
    let mut out = String::from(OVERVIEW);
    for m in api::project::help(ctx)? {
        if m.name.is_empty() {
            out.push_str("\nBASE OPERATIONS\n\n");
        } else {
            out.push_str(&format!("\n{}\n\n", m.name.to_uppercase()));
            if !m.description.is_empty() {
                out.push_str(&format!("    {}\n\n", m.description.trim()));
            }
            out.push_str("    Operations:\n\n");
        }
        for o in m.ops {
            out.push_str(&format!("    {}\n", o.name));
            for line in o.description.trim().lines() {
                if line.trim().is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("      {}\n", line.trim_end()));
                }
            }
            if !o.flags.is_empty() {
                if !o.description.trim().is_empty() {
                    out.push('\n');
                }
                out.push_str("      Flags:\n");
                out.push_str(&render::flags_help(&o.flags, "        "));
            }
            out.push('\n');
        }
    }
    render::out(out.trim_end());
    Ok(0)
}
