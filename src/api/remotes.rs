//! Remotes: where runs can go besides this machine (SSH hosts, Slurm
//! clusters), as the user config declares them.

use super::Context;
use crate::error::Result;

use crate::error::Error;
pub use crate::remote::{Kind, Probe, Remote, Slurm, Ssh};

/// `remotes`: every remote of the user config, sorted by name.
pub fn list(ctx: &Context) -> Result<Vec<Remote>> {
    match crate::home::user_config_path(Some(&ctx.cwd)) {
        Some(path) => crate::remote::load(&path),
        None => Ok(Vec::new()),
    }
}

/// The remote `name` of the user config.
pub fn find(ctx: &Context, name: &str) -> Result<Remote> {
    let all = list(ctx)?;
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    let hint = if names.is_empty() {
        "the user config declares none (see `guild remotes --help`)".to_string()
    } else {
        format!("declared: {}", names.join(", "))
    };
    all.iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| Error::user(format!("there is no remote '{name}'; {hint}")))
}

/// What `remote status` found.
#[derive(Debug, Clone)]
pub struct RemoteStatus {
    pub remote: Remote,
    pub probe: Probe,
    /// Nothing to fix: the guild home can hold runs and, for Slurm,
    /// sbatch is there and the configured partition is up.
    pub ok: bool,
}

/// `remote status NAME`: reach the remote and say what it has. A remote
/// that cannot be reached is an error that says what to check.
pub fn status(ctx: &Context, name: &str) -> Result<RemoteStatus> {
    let remote = find(ctx, name)?;
    let probe = match &remote.kind {
        Kind::Ssh(ssh) => ssh.probe()?,
        Kind::Slurm(slurm) => slurm.probe()?,
        Kind::Other(t) => {
            return Err(Error::user(format!(
                "remote '{name}' has type '{t}', which this tracker does not run; use type ssh or slurm"
            )))
        }
    };
    let ok = probe.home_writable
        && match &remote.kind {
            Kind::Slurm(c) => {
                probe.sbatch.is_some()
                    && c.partition
                        .as_deref()
                        .is_none_or(|p| probe.availability(p) == Some("up"))
            }
            _ => true,
        };
    Ok(RemoteStatus { remote, probe, ok })
}
