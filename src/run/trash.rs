//! Moving runs between `runs/` and `trash/runs/`, and purging them.

use crate::error::{Error, Result};
use crate::run::Run;
use std::path::Path;

/// Move `run` into `dest_dir` (`trash/runs` or `runs`), renaming an existing
/// run of the same id aside as Guild does.
pub fn move_to(run: &Run, dest_dir: &Path) -> Result<()> {
    crate::fsutil::create_dir_all(dest_dir)?;
    let dest = dest_dir.join(&run.id);
    if dest.exists() {
        let aside = dest_dir.join(format!(
            "{}_{}",
            run.id,
            &uuid::Uuid::new_v4().simple().to_string()[..4]
        ));
        eprintln!(
            "WARNING: {} exists, moving it to {}",
            dest.display(),
            aside.display()
        );
        std::fs::rename(&dest, &aside).map_err(|e| Error::io("moving", &dest, e))?;
    }
    std::fs::rename(&run.dir, &dest).map_err(|e| Error::io("moving run", &run.dir, e))
}

pub fn purge(run: &Run) -> Result<()> {
    std::fs::remove_dir_all(&run.dir).map_err(|e| Error::io("deleting run", &run.dir, e))
}
