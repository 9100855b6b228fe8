//! The project in a directory: its guild.yml models and operations.

use super::Context;
use guild_format::error::{Error, Result};
use guild_project::guildfile::{op_display, Guildfile};
use guild_project::op::flags::FlagDef;

fn load(ctx: &Context) -> Result<Guildfile> {
    Guildfile::find(&ctx.cwd)?.ok_or_else(|| {
        Error::user(format!(
            "there is no guild.yml in {}; define operations there (see guild.yml.example) or run a script with `guild run train.py`",
            ctx.cwd.display()
        ))
    })
}

/// First line of a description.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// `models`: named models (private ones, `_x`, with `all`), sorted, with
/// the first line of their descriptions.
pub fn models(ctx: &Context, all: bool) -> Result<Vec<(String, String)>> {
    let gf = load(ctx)?;
    let mut models: Vec<(String, String)> = gf
        .models
        .iter()
        .filter(|m| !m.name.is_empty() && (all || !m.name.starts_with('_')))
        .map(|m| (m.name.clone(), first_line(&m.description)))
        .collect();
    models.sort();
    Ok(models)
}

/// `operations`: `MODEL:OP` (or `OP`) with the first line of each
/// description, in guild.yml order.
pub fn operations(ctx: &Context, all: bool) -> Result<Vec<(String, String)>> {
    let gf = load(ctx)?;
    Ok(gf
        .all_ops()
        .into_iter()
        .filter(|(_, o)| all || !o.is_private())
        .map(|(m, o)| (op_display(m, o), first_line(&o.description())))
        .collect())
}

/// An operation as `help` describes it.
#[derive(Debug)]
pub struct OpHelp {
    pub name: String,
    pub description: String,
    pub flags: Vec<FlagDef>,
}

/// A model (the unnamed one holds the base operations) and its public
/// operations, sorted by name.
#[derive(Debug)]
pub struct ModelHelp {
    pub name: String,
    pub description: String,
    pub ops: Vec<OpHelp>,
}

/// `help`: every model, sorted by name, with its operations and their
/// flags (imported from the scripts as a run would).
pub fn help(ctx: &Context) -> Result<Vec<ModelHelp>> {
    let gf = load(ctx)?;
    let mut models: Vec<&guild_project::guildfile::Model> = gf.models.iter().collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for m in models {
        let mut ops: Vec<&guild_project::guildfile::OpConfig> =
            m.ops.iter().filter(|o| !o.is_private()).collect();
        ops.sort_by(|a, b| a.name.cmp(&b.name));
        let mut helps = Vec::new();
        for o in ops {
            let op = guild_project::op::gf::resolve(&ctx.home, &gf, m, o)?;
            helps.push(OpHelp {
                name: o.name.clone(),
                description: o.description(),
                flags: op.flags,
            });
        }
        out.push(ModelHelp {
            name: m.name.clone(),
            description: m.description.clone(),
            ops: helps,
        });
    }
    Ok(out)
}

/// What `download` fetched: the file in the resource cache and its digest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Downloaded {
    pub sha256: String,
    pub path: std::path::PathBuf,
}

/// `download URL`: the file into the resource cache (skipped when it is
/// there already: the reporter hears `Using cached file PATH`), and its
/// SHA-256. A `url:` source of guild.yml with the same URL then uses it.
pub fn download(ctx: &Context, url: &str) -> Result<Downloaded> {
    let path = guild_project::op::fetch::fetch(&ctx.home, url, &|m| ctx.report.progress(m))?;
    Ok(Downloaded {
        sha256: guild_project::op::fetch::sha256_file(&path)?,
        path,
    })
}
