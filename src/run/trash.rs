//! Moving runs between `runs/` and `trash/runs/`, and purging them. Each
//! is one atomic rename, so overlapping deletes, restores and purges of the
//! same runs are idempotent: a run another process already moved is done,
//! not an error, and a run dir's name always stays its id.

use crate::error::{Error, Result};
use crate::run::Run;
use nix::errno::Errno;
use std::path::Path;

/// What became of a run asked to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Moved,
    /// It was no longer there: another process moved or purged it.
    AlreadyGone,
}

/// Move `run` into `dest_dir` (`trash/runs` or `runs`). A run of the same
/// id already there is never replaced nor renamed.
pub fn move_to(run: &Run, dest_dir: &Path) -> Result<Moved> {
    crate::fsutil::create_dir_all(dest_dir)?;
    let dest = dest_dir.join(&run.id);
    match nix::fcntl::renameat2(
        None,
        &run.dir,
        None,
        &dest,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(Moved::Moved),
        Err(Errno::ENOENT) if !run.dir.exists() => Ok(Moved::AlreadyGone),
        Err(Errno::EEXIST | Errno::ENOTEMPTY) => Err(Error::user(format!(
            "a run {} is already in {}; purge or restore that one first",
            run.id,
            dest_dir.display()
        ))),
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            // A filesystem without RENAME_NOREPLACE: check, then rename.
            if dest.symlink_metadata().is_ok() {
                return Err(Error::user(format!(
                    "a run {} is already in {}; purge or restore that one first",
                    run.id,
                    dest_dir.display()
                )));
            }
            match std::fs::rename(&run.dir, &dest) {
                Ok(()) => Ok(Moved::Moved),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Moved::AlreadyGone),
                Err(e) => Err(Error::io("moving run", &run.dir, e)),
            }
        }
        Err(e) => Err(Error::io("moving run", &run.dir, e.into())),
    }
}

/// Delete `run` for good: first renamed out of sight (one process wins),
/// then removed.
pub fn purge(run: &Run) -> Result<Moved> {
    let Some(parent) = run.dir.parent() else {
        return Err(Error::user(format!(
            "cannot purge {}: no parent directory",
            run.dir.display()
        )));
    };
    let doomed = parent.join(format!(".purge-{}", uuid::Uuid::new_v4().simple()));
    match std::fs::rename(&run.dir, &doomed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Moved::AlreadyGone),
        Err(e) => return Err(Error::io("deleting run", &run.dir, e)),
    }
    // A link at the run's place: the link goes, never what it leads to.
    if std::fs::symlink_metadata(&doomed).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(&doomed).map_err(|e| Error::io("deleting run", &doomed, e))?;
        return Ok(Moved::Moved);
    }
    // Not a run any more, even if removing the rest fails (through a
    // real `.guild` only: a link's target is not the run's to change).
    let guild = doomed.join(".guild");
    if std::fs::symlink_metadata(&guild).is_ok_and(|m| m.is_dir()) {
        let _ = std::fs::remove_file(guild.join("opref"));
    }
    std::fs::remove_dir_all(&doomed).map_err(|e| Error::io("deleting run", &doomed, e))?;
    Ok(Moved::Moved)
}
