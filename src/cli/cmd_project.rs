//! Project commands: `guild operations` and `guild help` for the guild.yml
//! in the current directory.

use super::Ctx;
use crate::api;
use crate::error::Result;
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

#[derive(Args, Debug)]
pub struct RemotesArgs {}

/// `guild remotes`: name, type and description of each remote, as Guild
/// prints them.
pub fn remotes(ctx: &Ctx) -> Result<i32> {
    print!("{}", render::remotes_table(&api::remotes::list(ctx)?));
    Ok(0)
}

#[derive(Args, Debug)]
pub struct RemoteArgs {
    #[command(subcommand)]
    pub cmd: RemoteCmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum RemoteCmd {
    /// Reach the remote and show its guild home, guild and Python
    Status {
        /// A remote of `guild remotes`
        #[arg(value_name = "REMOTE")]
        name: String,
    },
}

/// `guild remote status NAME`.
pub fn remote(ctx: &Ctx, a: RemoteArgs) -> Result<i32> {
    let RemoteCmd::Status { name } = a.cmd;
    let status = api::remotes::status(ctx, &name)?;
    print!("{}", render::remote_status(&status));
    // A problem to fix (a home runs cannot be copied to, no sbatch, a
    // partition missing or down) ends with 1.
    Ok(if status.ok { 0 } else { 1 })
}

/// Names and descriptions in two columns.
fn two_columns(items: &[(String, String)]) -> String {
    let w = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    items.iter().map(|(n, d)| format!("{n:w$}{d}\n")).collect()
}

/// `guild models`: named models, sorted, with their descriptions.
pub fn models(ctx: &Ctx, a: ModelsArgs) -> Result<i32> {
    print!("{}", two_columns(&api::project::models(ctx, a.all)?));
    Ok(0)
}

pub fn operations(ctx: &Ctx, a: OpsArgs) -> Result<i32> {
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

pub fn help(ctx: &Ctx, _a: HelpArgs) -> Result<i32> {
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
