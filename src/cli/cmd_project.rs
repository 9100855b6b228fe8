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
    let remotes = api::remotes::list(ctx)?;
    let w1 = remotes.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let w2 = remotes
        .iter()
        .map(|r| r.type_name().len())
        .max()
        .unwrap_or(0);
    let text: String = remotes
        .iter()
        .map(|r| {
            format!(
                "{:w1$}  {:w2$}  {}\n",
                r.name,
                r.type_name(),
                r.description.lines().next().unwrap_or("")
            )
        })
        .collect();
    print!("{}", crate::text::escape_keep_newlines(&text));
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
    let (remote, p) = api::remotes::status(ctx, &name)?;
    let (address, partition) = match &remote.kind {
        api::remotes::Kind::Ssh(s) => (s.address(), None),
        api::remotes::Kind::Slurm(c) => (
            c.login
                .as_ref()
                .map(|l| l.address())
                .unwrap_or_else(|| "sbatch here".into()),
            Some(c.partition.clone()),
        ),
        _ => (String::new(), None),
    };
    let home = format!(
        "{} ({})",
        p.guild_home,
        match (p.home_exists, p.home_writable) {
            (true, true) => "writable",
            (true, false) => "NOT writable: runs cannot be copied there",
            (false, true) => "created at the first run",
            (false, false) => "missing and cannot be created: set guild-home",
        }
    );
    let mut ok = p.home_writable;
    let mut rows = vec![
        (
            "remote",
            format!("{} ({} {address})", remote.name, remote.type_name()),
        ),
        ("reachable", "yes".to_string()),
        ("guild home", home),
        (
            "guild",
            p.guild.clone().unwrap_or_else(|| {
                "none on PATH (this binary is copied there at the first run)".into()
            }),
        ),
        (
            "python",
            p.python
                .clone()
                .unwrap_or_else(|| "none (python3 is needed for Python scripts)".into()),
        ),
    ];
    if let Some(wanted) = partition {
        ok &= p.sbatch.is_some();
        rows.push((
            "sbatch",
            p.sbatch.clone().unwrap_or_else(|| {
                "NOT found: install Slurm's client or set host to a login node".into()
            }),
        ));
        let shown: Vec<String> = p
            .partitions
            .iter()
            .map(|(n, a, d, s)| format!("{n} ({a}, {d} node(s) {s})"))
            .collect();
        rows.push(("partitions", shown.join(", ")));
        if let Some(w) = wanted {
            let found = p
                .partitions
                .iter()
                .find(|(n, ..)| n.trim_end_matches('*') == w);
            let line = match found {
                Some((_, a, ..)) if a == "up" => format!("{w} (up)"),
                Some((_, a, ..)) => {
                    ok = false;
                    format!("{w} is {a}: jobs would wait; pick another partition")
                }
                None => {
                    ok = false;
                    format!("{w} NOT found: set partition to one of the partitions above")
                }
            };
            rows.push(("partition", line));
        }
    }
    let text: String = rows.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    print!("{}", crate::text::escape_keep_newlines(&text));
    // A home runs cannot be copied to, no sbatch, a partition that is
    // missing or down: problems to fix.
    Ok(if ok { 0 } else { 1 })
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
