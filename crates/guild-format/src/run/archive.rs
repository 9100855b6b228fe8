//! `export` and `import`: runs copied (or moved) to a directory or a zip
//! archive and back, as Guild 0.9 does. A run lands under a temporary name
//! and is renamed into place, so an interrupted copy leaves no half run;
//! a run already at the destination is skipped with a warning.

use super::Run;
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Whether `p` names a zip archive (it ends with `.zip`, any case).
pub fn is_zip(p: &Path) -> bool {
    p.to_string_lossy().to_lowercase().ends_with(".zip")
}

/// Copy `src` to `dest` (a new path): links are kept as links, or with
/// `follow` replaced by what they lead to (a dangling one is left out).
fn copy_tree(src: &Path, dest: &Path, follow: bool) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| Error::io("reading", src, e))?;
    if meta.file_type().is_symlink() {
        if !follow {
            let target = std::fs::read_link(src).map_err(|e| Error::io("reading", src, e))?;
            return std::os::unix::fs::symlink(&target, dest)
                .map_err(|e| Error::io("linking", dest, e));
        }
        if !src.exists() {
            return Ok(());
        }
        if src.is_dir() {
            return copy_dir(src, dest, follow);
        }
        std::fs::copy(src, dest).map_err(|e| Error::io("copying", src, e))?;
        return Ok(());
    }
    if meta.is_dir() {
        return copy_dir(src, dest, follow);
    }
    std::fs::copy(src, dest).map_err(|e| Error::io("copying", src, e))?;
    Ok(())
}

fn copy_dir(src: &Path, dest: &Path, follow: bool) -> Result<()> {
    crate::fsutil::create_dir_all(dest)?;
    let rd = std::fs::read_dir(src).map_err(|e| Error::io("reading", src, e))?;
    for e in rd.flatten() {
        copy_tree(&e.path(), &dest.join(e.file_name()), follow)?;
    }
    Ok(())
}

/// Put run directory `src` at `dest` (which must not exist): renamed when
/// moving on one filesystem, else copied beside `dest` and renamed into
/// place (then the source removed when moving).
///
/// A link at the run's place is never put in the home as a link (later
/// edits would write through it): the directory it leads to is copied,
/// as Guild 0.9 does, and with `mv` only the link is removed.
fn transfer(src: &Path, dest: &Path, mv: bool, follow: bool) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| Error::io("reading", src, e))?;
    let link = meta.file_type().is_symlink();
    if link && !src.is_dir() {
        return Err(Error::user(format!(
            "{} is a symbolic link that leads to no run directory; remove it or import what it pointed to",
            src.display()
        )));
    }
    if mv && !follow && !link && std::fs::rename(src, dest).is_ok() {
        return Ok(());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    crate::fsutil::create_dir_all(parent)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".stage-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let copied = if link {
        copy_dir(src, &tmp, follow)
    } else {
        copy_tree(src, &tmp, follow)
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(|e| Error::io("renaming", &tmp, e))?;
    if mv && link {
        std::fs::remove_file(src).map_err(|e| Error::io("removing", src, e))?;
    } else if mv {
        std::fs::remove_dir_all(src).map_err(|e| Error::io("removing", src, e))?;
    }
    Ok(())
}

/// Export `runs` to directory or zip file `location`; returns the ids
/// exported. `say` gets the progress lines (`Copying ID`, warnings).
pub fn export(
    runs: &[Run],
    location: &Path,
    mv: bool,
    copy_resources: bool,
    say: &dyn Fn(String),
) -> Result<Vec<String>> {
    let verb = if mv { "Moving" } else { "Copying" };
    let mut done = Vec::new();
    if is_zip(location) {
        let parent = location.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = parent {
            crate::fsutil::create_dir_all(p)?;
        }
        let tmp = PathBuf::from(format!("{}.tmp-{}", location.display(), std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        let mut zw = zip::ZipWriter::new(file);
        let mut existing = std::collections::HashSet::new();
        let zerr = |e: zip::result::ZipError| {
            Error::user(format!("cannot write {}: {e}", location.display()))
        };
        if location.exists() {
            let f = std::fs::File::open(location).map_err(|e| Error::io("reading", location, e))?;
            let mut old = zip::ZipArchive::new(f)
                .map_err(|e| Error::user(format!("cannot write to {}: {e}", location.display())))?;
            for i in 0..old.len() {
                let entry = old.by_index_raw(i).map_err(zerr)?;
                existing.insert(entry.name().to_string());
                zw.raw_copy_file(entry).map_err(zerr)?;
            }
        }
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for run in runs {
            if existing.contains(&format!("{}/", run.id)) {
                say(format!("WARNING: {} exists, skipping", run.id));
                continue;
            }
            say(format!("{verb} {}", run.id));
            zw.add_directory(format!("{}/", run.id), opts)
                .map_err(zerr)?;
            for e in walkdir::WalkDir::new(&run.dir)
                .min_depth(1)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                let Ok(rel) = e.path().strip_prefix(&run.dir) else {
                    continue;
                };
                let name = format!("{}/{}", run.id, rel.display());
                if e.file_type().is_dir() {
                    zw.add_directory(format!("{name}/"), opts).map_err(zerr)?;
                } else {
                    let mut data = Vec::new();
                    std::fs::File::open(e.path())
                        .and_then(|mut f| f.read_to_end(&mut data))
                        .map_err(|err| Error::io("reading", e.path(), err))?;
                    zw.start_file(name, opts).map_err(zerr)?;
                    zw.write_all(&data)
                        .map_err(|err| Error::io("writing", &tmp, err))?;
                }
            }
            done.push(run.id.clone());
        }
        zw.finish().map_err(zerr)?;
        std::fs::rename(&tmp, location).map_err(|e| Error::io("renaming", &tmp, e))?;
        if mv {
            for run in runs.iter().filter(|r| done.contains(&r.id)) {
                std::fs::remove_dir_all(&run.dir)
                    .map_err(|e| Error::io("removing", &run.dir, e))?;
            }
        }
        return Ok(done);
    }
    crate::fsutil::create_dir_all(location)?;
    transfer_all(runs, location, true, mv, copy_resources, say)
}

/// Each run to `into/ID` (skipped with a warning when there is one);
/// the warning names the destination path (`path`) or the run id.
fn transfer_all(
    runs: &[Run],
    into: &Path,
    path: bool,
    mv: bool,
    copy_resources: bool,
    say: &dyn Fn(String),
) -> Result<Vec<String>> {
    let verb = if mv { "Moving" } else { "Copying" };
    let mut done = Vec::new();
    for run in runs {
        let dest = into.join(&run.id);
        if dest.symlink_metadata().is_ok() {
            let shown = if path {
                dest.display().to_string()
            } else {
                run.id.clone()
            };
            say(format!("WARNING: {shown} exists, skipping"));
            continue;
        }
        say(format!("{verb} {}", run.id));
        transfer(&run.dir, &dest, mv, copy_resources)?;
        done.push(run.id.clone());
    }
    Ok(done)
}

/// A zip archive unpacked into a temporary directory (removed on drop),
/// to list and import its runs like a directory's.
pub struct Unpacked(pub PathBuf);

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unpack zip archive `zip_path` into a new temporary directory under
/// `under`, refusing entries that lead outside it or are links.
pub fn unpack(zip_path: &Path, under: &Path) -> Result<Unpacked> {
    let f = std::fs::File::open(zip_path).map_err(|e| Error::io("reading", zip_path, e))?;
    let mut za = zip::ZipArchive::new(f).map_err(|e| {
        Error::user(format!(
            "invalid archive {} - expected a directory or a zip file ({e})",
            zip_path.display()
        ))
    })?;
    let dir = under.join(format!(".import-{}", uuid::Uuid::new_v4().simple()));
    crate::fsutil::create_dir_all(&dir)?;
    let unpacked = Unpacked(dir.clone());
    for i in 0..za.len() {
        let mut entry = za
            .by_index(i)
            .map_err(|e| Error::user(format!("cannot read {}: {e}", zip_path.display())))?;
        let name = entry.name().to_string();
        let bad = |why: &str| {
            Error::user(format!(
                "invalid archive {}: entry '{}' {why}; nothing was imported",
                zip_path.display(),
                name.escape_debug()
            ))
        };
        let Some(rel) = entry.enclosed_name() else {
            return Err(bad("leads outside the archive (an absolute path or '..')"));
        };
        if entry.is_symlink() {
            return Err(bad(
                "is a symbolic link (run archives hold files and directories only)",
            ));
        }
        let path = dir.join(&rel);
        if entry.is_dir() {
            crate::fsutil::create_dir_all(&path)?;
            continue;
        }
        if let Some(p) = path.parent() {
            crate::fsutil::create_dir_all(p)?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => bad("is in the archive twice"),
                _ => Error::io("writing", &path, e),
            })?;
        std::io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                bad(&format!("cannot be read ({e})"))
            }
            _ => Error::io("writing", &path, e),
        })?;
    }
    Ok(unpacked)
}

/// Import archived runs into `runs_dir`; returns the ids imported.
pub fn import(
    runs: &[Run],
    runs_dir: &Path,
    mv: bool,
    copy_resources: bool,
    say: &dyn Fn(String),
) -> Result<Vec<String>> {
    for r in runs {
        crate::run::check_id(&r.id, "the archive")?;
    }
    transfer_all(runs, runs_dir, false, mv, copy_resources, say)
}
