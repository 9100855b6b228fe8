//! `guild api`: runs, operations and the compare table as JSON, in Guild
//! 0.9's shapes, for programs (Guild's R package reads runs this way).

use super::{Ctx, FilterArgs};
use crate::api;
use clap::{Args, Subcommand};
use guild_format::error::{Error, Result};

#[derive(Args, Debug)]
pub(crate) struct ApiArgs {
    #[command(subcommand)]
    pub(crate) cmd: ApiCmd,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ApiCmd {
    /// Runs as JSON (flags, attributes, files, scalars, ...)
    Runs(ApiRunsArgs),
    /// Runs in brief as JSON, fast: a header row (id, name, operation, started, status, label, marked), then one row per run
    List(ApiRunsArgs),
    /// Scalars of runs as JSON rows: summaries (first, last, min, max, avg, count, total per tag), or every value with --detail
    Scalars(ApiScalarsArgs),
    /// The guild home this command uses, as JSON (`{"home": PATH}`)
    Home(ApiFormat),
    /// The operations of the guild.yml in the current directory as JSON
    Ops(ApiFormat),
    /// The compare table (header row, then one row per run) as JSON
    Compare(ApiCompareArgs),
    /// One operation's help (flags, defaults, choices) as JSON
    HelpOp(ApiHelpOpArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ApiFormat {
    /// Indent the JSON (keys sorted)
    #[arg(short = 'f', long)]
    pub(crate) format: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ApiRunsArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    #[command(flatten)]
    pub(crate) out: ApiFormat,
    /// API version (2 is the default and the only one)
    #[arg(short = 'v', long, value_name = "N", default_value = "2")]
    pub(crate) api_version: u8,
    /// Deleted runs instead
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ApiScalarsArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    #[command(flatten)]
    pub(crate) out: ApiFormat,
    /// Every value (run, path, tag, val, step) instead of summaries
    #[arg(long)]
    pub(crate) detail: bool,
    /// Deleted runs instead
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ApiCompareArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    #[command(flatten)]
    pub(crate) out: ApiFormat,
    /// Include batch runs
    #[arg(long)]
    pub(crate) include_batch: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ApiHelpOpArgs {
    /// The operation (`train`, `model:train`)
    #[arg(value_name = "OPSPEC")]
    pub(crate) opspec: String,
    #[command(flatten)]
    pub(crate) out: ApiFormat,
}

fn out(v: &serde_json::Value, f: &ApiFormat) -> Result<i32> {
    let text = if f.format {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .map_err(|e| Error::user(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(0)
}

pub(crate) fn api(ctx: &Ctx, a: ApiArgs) -> Result<i32> {
    match a.cmd {
        ApiCmd::Runs(r) => {
            if r.api_version != 2 {
                return Err(Error::user(
                    "only API version 2 is supported; use -v 2 (the default)",
                ));
            }
            let sel = super::cmd_runs::selection(&r.runs, &r.filters, r.deleted);
            out(&api::programs::runs(ctx, &sel)?, &r.out)
        }
        ApiCmd::List(r) => {
            let sel = super::cmd_runs::selection(&r.runs, &r.filters, r.deleted);
            out(&api::programs::list(ctx, &sel)?, &r.out)
        }
        ApiCmd::Scalars(r) => {
            let sel = super::cmd_runs::selection(&r.runs, &r.filters, r.deleted);
            out(&api::programs::scalars(ctx, &sel, r.detail)?, &r.out)
        }
        ApiCmd::Home(f) => out(
            &serde_json::json!({"home": ctx.home.path.display().to_string()}),
            &f,
        ),
        ApiCmd::Ops(f) => out(&api::programs::ops(ctx)?, &f),
        ApiCmd::HelpOp(h) => out(&api::programs::help_op(ctx, &h.opspec)?, &h.out),
        ApiCmd::Compare(c) => {
            let sel = super::cmd_runs::selection(&c.runs, &c.filters, false);
            let (header, runs, rows) = api::programs::compare(ctx, &sel, c.include_batch)?;
            // As Guild: the run column holds the full id, named `id`.
            let mut data = vec![serde_json::Value::Array(
                header
                    .iter()
                    .map(|h| {
                        if h == "run" {
                            "id".into()
                        } else {
                            h.clone().into()
                        }
                    })
                    .collect(),
            )];
            for (r, row) in runs.iter().zip(&rows) {
                data.push(serde_json::Value::Array(
                    header
                        .iter()
                        .map(|h| {
                            if h == "run" {
                                r.run.id.clone().into()
                            } else {
                                crate::render::cell_json(&row.get(h))
                            }
                        })
                        .collect(),
                ));
            }
            out(&serde_json::Value::Array(data), &c.out)
        }
    }
}
