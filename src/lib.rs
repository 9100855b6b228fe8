//! guild: run, track and compare experiments in Guild AI 0.9 run directories.

pub mod api;
pub(crate) mod check;
pub(crate) mod cli;
pub(crate) mod render;
pub(crate) mod view;

use std::ffi::OsString;

/// Run the command line `args` (including the program name) and return the
/// process exit code. Callable more than once per process.
pub fn main(args: Vec<OsString>) -> i32 {
    cli::main(args)
}

/// End the process with `code`: output flushed, no exit-time work.
pub fn exit(code: i32) -> ! {
    guild_exec::exec::exit_now(code)
}
