//! Project commands: `guild operations` and `guild help` for the guild.yml
//! in the current directory.

use super::Ctx;
use crate::error::{Error, Result};
use crate::guildfile::{op_display, Guildfile};
use crate::render;
use clap::Args;

#[derive(Args, Debug)]
pub struct OpsArgs {
    /// Include private operations (names starting with `_`)
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct HelpArgs {}

#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Include private models (names starting with `_`)
    #[arg(short = 'a', long)]
    pub all: bool,
}

/// `guild models`: named models, sorted, with their descriptions.
pub fn models(ctx: &Ctx, a: ModelsArgs) -> Result<i32> {
    let gf = load(ctx)?;
    let mut models: Vec<(String, String)> = gf
        .models
        .iter()
        .filter(|m| !m.name.is_empty() && (a.all || !m.name.starts_with('_')))
        .map(|m| {
            (
                m.name.clone(),
                m.description.lines().next().unwrap_or("").to_string(),
            )
        })
        .collect();
    models.sort();
    let w = models.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    let text: String = models.iter().map(|(n, d)| format!("{n:w$}{d}\n")).collect();
    print!("{text}");
    Ok(0)
}

fn load(ctx: &Ctx) -> Result<Guildfile> {
    Guildfile::find(&ctx.cwd)?.ok_or_else(|| {
        Error::user(format!(
            "there is no guild.yml in {}; define operations there (see guild.yml.example) or run a script with `guild run train.py`",
            ctx.cwd.display()
        ))
    })
}

pub fn operations(ctx: &Ctx, a: OpsArgs) -> Result<i32> {
    let gf = load(ctx)?;
    let ops: Vec<(String, String)> = gf
        .all_ops()
        .into_iter()
        .filter(|(_, o)| a.all || !o.is_private())
        .map(|(m, o)| {
            (
                op_display(m, o),
                o.description().lines().next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let w = ops.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    let text: String = ops.iter().map(|(n, d)| format!("{n:w$}{d}\n")).collect();
    print!("{text}");
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

pub fn help(ctx: &Ctx, _a: HelpArgs) -> Result<i32> {
    let gf = load(ctx)?;
    let mut out = String::from(OVERVIEW);
    let mut models: Vec<&crate::guildfile::Model> = gf.models.iter().collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    for m in models {
        if m.name.is_empty() {
            out.push_str("\nBASE OPERATIONS\n\n");
        } else {
            out.push_str(&format!("\n{}\n\n", m.name.to_uppercase()));
            if !m.description.is_empty() {
                out.push_str(&format!("    {}\n\n", m.description.trim()));
            }
            out.push_str("    Operations:\n\n");
        }
        let mut ops: Vec<&crate::guildfile::OpConfig> =
            m.ops.iter().filter(|o| !o.is_private()).collect();
        ops.sort_by(|a, b| a.name.cmp(&b.name));
        for o in ops {
            out.push_str(&format!("    {}\n", o.name));
            let desc = o.description();
            for line in desc.trim().lines() {
                if line.trim().is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("      {}\n", line.trim_end()));
                }
            }
            let op = crate::op::gf::resolve(&ctx.home, &gf, m, o)?;
            if !op.flags.is_empty() {
                if !desc.trim().is_empty() {
                    out.push('\n');
                }
                out.push_str("      Flags:\n");
                out.push_str(&render::flags_help(&op.flags, "        "));
            }
            out.push('\n');
        }
    }
    render::out(out.trim_end());
    Ok(0)
}
