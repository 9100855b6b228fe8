//! Remotes: where runs can go besides this machine (SSH hosts, Slurm
//! clusters), as the user config declares them.

use super::Context;
use crate::error::Result;

pub use crate::remote::{Kind, Remote, Slurm, Ssh};

/// `remotes`: every remote of the user config, sorted by name.
pub fn list(ctx: &Context) -> Result<Vec<Remote>> {
    match crate::remote::user_config_path(&ctx.cwd) {
        Some(path) => crate::remote::load(&path),
        None => Ok(Vec::new()),
    }
}
