//! guild: run, track and compare experiments in Guild AI 0.9 run directories.

pub mod api;
pub mod check;
pub mod cli;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod guildfile;
pub mod home;
pub mod launch;
pub mod op;
pub mod output;
pub mod plan;
pub mod platform;
pub mod query;
pub mod redact;
pub mod render;
pub mod run;
pub mod text;

use std::ffi::OsString;

/// Run the command line `args` (including the program name) and return the
/// process exit code. Callable more than once per process.
pub fn main(args: Vec<OsString>) -> i32 {
    cli::main(args)
}
