//! `guild completion`: shell completion scripts generated from the clap
//! definitions (bash, zsh, fish), printed or installed.

use super::{Cli, Ctx};
use crate::api;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  guild completion -s bash > /etc/bash_completion.d/guild\n  eval \"$(guild completion -s bash)\"      (this shell only)\n  guild completion --install               (for the shell in $SHELL, every new terminal)"
)]
pub(crate) struct CompletionArgs {
    /// Shell to generate the script for: bash, zsh or fish (default: the one in $SHELL)
    #[arg(short = 's', long, value_name = "NAME", value_parser = ["bash", "zsh", "fish"])]
    pub(crate) shell: Option<String>,
    /// Install the script and load it from the shell's init file, so every new terminal has it
    #[arg(short = 'i', long)]
    pub(crate) install: bool,
    /// The shell init file to change with --install (default: ~/.bashrc, ~/.zshrc)
    #[arg(long, value_name = "PATH")]
    pub(crate) shell_init: Option<PathBuf>,
}

fn shell_of(a: &CompletionArgs) -> Result<(String, Shell)> {
    let name = match &a.shell {
        Some(s) => s.clone(),
        None => std::env::var("SHELL")
            .ok()
            .and_then(|s| s.rsplit('/').next().map(String::from))
            .filter(|s| ["bash", "zsh", "fish"].contains(&s.as_str()))
            .ok_or_else(|| {
                Error::user("cannot tell the shell from $SHELL; give --shell bash, zsh or fish")
            })?,
    };
    let shell = match name.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    Ok((name, shell))
}

pub(crate) fn completion(_ctx: &Ctx, a: CompletionArgs) -> Result<i32> {
    let (name, shell) = shell_of(&a)?;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "guild", &mut script);
    if !a.install {
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(&script);
        return Ok(0);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| Error::user("HOME is not set; give --shell-init PATH"))?;
    if name == "fish" {
        let path = api::completion::install_fish(&home, &script)?;
        eprintln!("Installed {} (fish loads it by itself)", path.display());
        return Ok(0);
    }
    let init = a
        .shell_init
        .clone()
        .unwrap_or_else(|| home.join(format!(".{name}rc")));
    let path = api::completion::install_sourced(&home, &name, &script, &init)?;
    eprintln!(
        "Installed {} and loaded it from {}; open a new terminal to use it",
        path.display(),
        init.display()
    );
    Ok(0)
}
