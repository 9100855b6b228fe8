//! `guild api`: runs, operations and comparisons as Guild 0.9's JSON, for
//! programs (the guildai R package reads runs through it).

use super::{Context, Selection};
use crate::api::table as compare;
use guild_format::error::Result;
use guild_format::query::{self, RunInfo};

/// `api runs`: each selected run as Guild's run data.
pub fn runs(ctx: &Context, sel: &Selection) -> Result<serde_json::Value> {
    let dir = if sel.deleted {
        ctx.home.trash_dir()
    } else {
        ctx.home.runs_dir()
    };
    let all = ctx.runs(&sel.filters, sel.deleted)?;
    let runs = query::select(&all, &sel.runs, true)?;
    Ok(serde_json::Value::Array(
        runs.iter()
            .map(|x| crate::api::shapes::run_data(x, &dir))
            .collect(),
    ))
}

/// `api list`: the selected runs in brief, newest first, read through the
/// runs index: a header row (id, name, operation, started, status, label,
/// marked), then one row per run.
pub fn list(ctx: &Context, sel: &Selection) -> Result<serde_json::Value> {
    let (page, _) = super::runs::page(ctx, sel, None)?;
    let header = serde_json::json!(crate::api::shapes::BRIEF_COLUMNS);
    Ok(serde_json::Value::Array(
        std::iter::once(header)
            .chain(page.iter().map(|i| crate::api::shapes::brief(&i.run)))
            .collect(),
    ))
}

/// `api scalars`: each selected run's scalar summaries, or with `detail`
/// every value, as rows.
pub fn scalars(ctx: &Context, sel: &Selection, detail: bool) -> Result<serde_json::Value> {
    let all = ctx.runs(&sel.filters, sel.deleted)?;
    let runs = query::select(&all, &sel.runs, true)?;
    Ok(serde_json::Value::Array(
        runs.iter()
            .flat_map(|r| {
                if detail {
                    crate::api::shapes::scalar_detail_rows(&r.run)
                } else {
                    crate::api::shapes::scalar_rows(&r.run)
                }
            })
            .collect(),
    ))
}

/// `api ops`: the public operations of the guild.yml here.
pub fn ops(ctx: &Context) -> Result<serde_json::Value> {
    let ops = match guild_project::guildfile::Guildfile::find(&ctx.cwd)? {
        Some(gf) => gf
            .all_ops()
            .into_iter()
            .filter(|(_, o)| !o.is_private())
            .map(|(m, o)| {
                guild_project::op::gf::resolve(&ctx.home, &gf, m, o)
                    .map(|op| crate::api::shapes::op_data(&op, &gf.path))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(serde_json::Value::Array(ops))
}

/// `api help-op`: one operation.
pub fn help_op(ctx: &Context, opspec: &str) -> Result<serde_json::Value> {
    let op = guild_project::op::resolve(&ctx.home, &ctx.cwd, Some(opspec))?;
    let gf = guild_project::guildfile::Guildfile::find(&ctx.cwd)?
        .map(|g| g.path)
        .unwrap_or_default();
    Ok(crate::api::shapes::op_data(&op, &gf))
}

/// `api compare`: the default compare table of the selected runs
/// (batch runs only with `include_batch`), with the runs in row order.
pub fn compare(
    ctx: &Context,
    sel: &Selection,
    include_batch: bool,
) -> Result<(Vec<String>, Vec<RunInfo>, Vec<compare::Row>)> {
    let all = ctx.runs(&sel.filters, false)?;
    let mut runs = query::select(&all, &sel.runs, true)?;
    if !include_batch {
        runs.retain(|r| !r.batch);
    }
    let (header, rows) = compare::table(&runs, &compare::Layout::default());
    Ok((header, runs, rows))
}
