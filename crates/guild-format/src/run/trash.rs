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
    /// It was moved.
    Moved,
    /// It was no longer there: another process moved or purged it.
    AlreadyGone,
}

/// Move `run` into `dest_dir` (`trash/runs` or `runs`). A run of the same
/// id already there is never replaced nor renamed.
pub fn move_to(run: &Run, dest_dir: &Path) -> Result<Moved> {
    if let Err(e) = std::fs::create_dir_all(dest_dir) {
        return Err(no_room(run, dest_dir, e));
    }
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
        Err(e) => Err(no_room(run, dest_dir, e.into())),
    }
}

/// A move that failed: on a full disk, what failed and what to do (the
/// run is where it was: a move is one rename).
fn no_room(run: &Run, dest_dir: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() != Some(libc::ENOSPC) {
        return Error::io("moving run", &run.dir, e);
    }
    let to_trash = dest_dir.ends_with("trash/runs");
    Error::user(format!(
        "cannot move run {} to {}: the disk is full ({e}); the run is unchanged. Free some space and try again{}",
        run.short_id(),
        dest_dir.display(),
        if to_trash {
            format!(", or delete it for good: guild runs delete --permanent {}", run.short_id())
        } else {
            String::new()
        }
    ))
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
