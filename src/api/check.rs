//! `check`: the installation, home, Python and platform, as facts.

use super::Context;
use guild_format::error::{Error, Result};

/// Whether this version satisfies Guild's version requirement `req`
/// (`>=0.9`, `0.9.*`...): an error that says which when it does not.
pub fn require_version(req: &str) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    match crate::check::satisfies(version, req) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::user(format!(
            "version mismatch: current version '{version}' does not match '{req}'"
        ))),
        Err(e) => Err(Error::user(e)),
    }
}

/// Disk space used by the home (runs, trash, cache), as name/value pairs.
pub fn space(ctx: &Context) -> Vec<(String, String)> {
    crate::check::space(&ctx.home)
}

/// What `check` reports, as name/value pairs.
pub fn facts(ctx: &Context, verbose: bool, env_only: bool) -> Vec<(String, String)> {
    crate::check::facts(
        &ctx.home,
        crate::check::Options {
            verbose,
            env_only,
            cwd: &ctx.cwd,
        },
    )
}

/// The desktop's program to open a path with (`xdg-open`, `open`).
pub fn opener() -> Option<std::path::PathBuf> {
    guild_format::platform::which("xdg-open").or_else(|| guild_format::platform::which("open"))
}
