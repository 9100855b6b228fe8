//! Installing a shell completion script (the script itself is generated
//! by the CLI from its own definitions).

use guild_format::error::Result;
use guild_format::fsutil;
use std::path::{Path, PathBuf};

/// Install fish's `script` where fish loads it by itself; returns the path.
pub fn install_fish(home: &Path, script: &[u8]) -> Result<PathBuf> {
    let path = home.join(".config/fish/completions/guild.fish");
    if let Some(dir) = path.parent() {
        fsutil::create_dir_all(dir)?;
    }
    fsutil::write_atomic(&path, script)?;
    Ok(path)
}

/// Install `script` as `~/.guild-completion.SHELL` and source it from
/// `init` (once: a line already there is not added again); returns the
/// script's path.
pub fn install_sourced(home: &Path, shell: &str, script: &[u8], init: &Path) -> Result<PathBuf> {
    let path = home.join(format!(".guild-completion.{shell}"));
    fsutil::write_atomic(&path, script)?;
    let line = format!(
        "[ -f {0} ] && . {0}",
        guild_format::run::opref::quote(&path.display().to_string())
    );
    let current = fsutil::read_opt(init)?.unwrap_or_default();
    if !current.lines().any(|l| l.trim() == line) {
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# guild command completion\n");
        text.push_str(&line);
        text.push('\n');
        fsutil::write_atomic(init, text.as_bytes())?;
    }
    Ok(path)
}
