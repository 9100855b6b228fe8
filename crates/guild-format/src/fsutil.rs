//! Small filesystem helpers shared by every writer: atomic replace, exclusive
//! create, and reads that carry the path in their error.

use crate::error::{IoContext, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_path_for(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Leading dot + pid + counter: unique per writer, ignored by Guild's attr
    // listing only by name check, so keep the `.tmp-` prefix recognisable.
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Files that record a run's environment (`.guild/ENV`, `attrs/env`):
/// readable by their owner only.
fn is_private(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str());
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    matches!(
        (parent, name),
        (Some(".guild"), Some("ENV")) | (Some("attrs"), Some("env"))
    )
}

fn create_tmp(tmp: &Path, private: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o666 })
        .open(tmp)
}

/// Whether files are synced to disk before they are put in place (yes,
/// unless `GUILD_NO_FSYNC=1`: for scratch homes, tests and tmpfs, where a
/// power loss does not matter; files are still replaced atomically).
pub(crate) fn syncing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GUILD_NO_FSYNC").as_deref() != Ok("1"))
}

/// A relative path of plain names: not empty, not absolute, no `..` or
/// `.`. What a path from outside (a manifest, an attr, a bucket) must be
/// before it is joined to a directory.
pub fn is_plain_rel(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Write `data` to `path` atomically: temp file in the same directory, fsync,
/// rename. Readers see either the old or the new content, never a mix.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = tmp_path_for(path);
    let res = (|| -> std::io::Result<()> {
        let mut f = create_tmp(&tmp, is_private(path))?;
        f.write_all(data)?;
        if syncing() {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.ctx("writing", path)
}

/// Replace `path` atomically (temp file + rename) without fsync: for files
/// that mean nothing after a crash (a process stamp, which names this boot).
pub fn replace_nosync(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = tmp_path_for(path);
    let res = fs::write(&tmp, data).and_then(|_| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.ctx("writing", path)
}

/// Write a cache file whole (temp file + rename, its directory made if
/// needed), not synced: a cache is rebuilt from what it caches, so losing
/// it in a crash, or failing to write it, is no error.
pub(crate) fn write_cache(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        let _ = fs::create_dir_all(parent);
    }
    let _ = replace_nosync(path, data);
}

/// [`write_atomic`] for several files at once: every temp file is written,
/// then all are synced in one batch (see [`sync_all_batch`]), then each is
/// renamed into place in the order given.
pub fn write_atomic_many(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    write_many(files, true)
}

/// Write new files in a directory that no reader sees yet (a run being
/// staged, published later by one rename of the directory): each is
/// written in place and all are synced in one batch, without the temp
/// file and rename per file that [`write_atomic_many`] needs for files
/// others may read.
pub fn write_private_many(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    write_many(files, false)
}

fn write_many(files: &[(PathBuf, Vec<u8>)], atomic: bool) -> Result<()> {
    let mut made: Vec<(PathBuf, File)> = Vec::with_capacity(files.len());
    let cleanup = |made: &[(PathBuf, File)]| {
        for (t, _) in made {
            let _ = fs::remove_file(t);
        }
    };
    for (path, data) in files {
        let at = if atomic {
            tmp_path_for(path)
        } else {
            path.clone()
        };
        let f = create_tmp(&at, is_private(path)).and_then(|mut f| f.write_all(data).map(|_| f));
        match f {
            Ok(f) => made.push((at, f)),
            Err(e) => {
                let _ = fs::remove_file(&at);
                cleanup(&made);
                return Err(crate::error::Error::io("writing", path, e));
            }
        }
    }
    let handles: Vec<&File> = made.iter().map(|(_, f)| f).collect();
    if let Err(e) = sync_all_batch(&handles) {
        cleanup(&made);
        return Err(crate::error::Error::io("syncing", &files[0].0, e));
    }
    if atomic {
        for ((tmp, _), (path, _)) in made.iter().zip(files) {
            if let Err(e) = fs::rename(tmp, path) {
                cleanup(&made);
                return Err(crate::error::Error::io("writing", path, e));
            }
        }
    }
    Ok(())
}

/// fsync every file, as a batch: writeback of all of them is started
/// first, so their data goes out together, then up to four threads fsync
/// them at once, so the filesystem's journal commits them in one or two
/// commits instead of one per file (each file is still synced by its own
/// fsync, as durability needs on any filesystem).
pub(crate) fn sync_all_batch(files: &[&File]) -> std::io::Result<()> {
    if !syncing() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    for f in files {
        use std::os::fd::AsRawFd;
        // SAFETY: `f` is an open file we own; SYNC_FILE_RANGE_WRITE only
        // starts writeback and touches no memory of ours. Failure is fine:
        // the fsync below does the work then.
        unsafe {
            libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    const THREADS: usize = 4;
    if files.len() <= 2 {
        return files.iter().try_for_each(|f| f.sync_all());
    }
    let per = files.len().div_ceil(THREADS);
    std::thread::scope(|s| {
        let mut chunks = files.chunks(per);
        let first = chunks.next().unwrap_or(&[]);
        let others: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter().try_for_each(|f| f.sync_all())))
            .collect();
        let mine = first.iter().try_for_each(|f| f.sync_all());
        others
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("fsync thread panicked")))
            })
            .fold(mine, |acc, r| acc.and(r))
    })
}

/// Create `path` only if it does not exist (never check-then-create).
/// Not synced: for files that mean nothing after a crash of the machine
/// (a LOCK names a process of this boot; an empty or missing one after a
/// reboot reads as no process).
pub fn create_new(path: &Path, data: &[u8]) -> std::io::Result<()> {
    // Written aside, then linked into place: the link fails if `path`
    // exists, and a reader never sees it empty (a LOCK read mid-write).
    let tmp = tmp_path_for(path);
    let res = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    res
}

/// Touch an empty marker file (PENDING, STAGED, manifest).
pub fn touch(path: &Path) -> Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|_| ())
        .ctx("creating", path)
}

/// Remove a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::error::Error::io("removing", path, e)),
    }
}

/// Read a file to a string; `Ok(None)` when it does not exist.
pub fn read_opt(path: &Path) -> Result<Option<String>> {
    // Not capped: a manifest lists every file of a run.
    match fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::Error::io("reading", path, e)),
    }
}

/// Read a whole file that is usually small (attrs, markers) in one read
/// call: `fs::read` also stats the file and reads again to see EOF, which
/// doubles the syscalls of listing thousands of runs.
pub(crate) fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    read_all_small(fs::File::open(path)?)
}

/// The largest run metadata file read (an attr, a marker, the opref):
/// reading a run never loads unbounded data.
pub(crate) const MAX_SMALL_FILE: u64 = 4 << 20;

fn read_all_small(mut f: File) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let mut n = 0;
    loop {
        match f.read(&mut buf[n..]) {
            Ok(0) => return Ok(buf[..n].to_vec()),
            // A short read of a regular file is its end.
            Ok(k) if n + k < buf.len() => return Ok(buf[..n + k].to_vec()),
            Ok(k) => {
                n += k;
                if n == buf.len() {
                    let mut v = buf.to_vec();
                    f.take(MAX_SMALL_FILE + 1 - n as u64).read_to_end(&mut v)?;
                    if v.len() as u64 > MAX_SMALL_FILE {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("larger than {} MiB", MAX_SMALL_FILE >> 20),
                        ));
                    }
                    return Ok(v);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A directory held open so that files in it are opened relative to it
/// (`openat`): the kernel then walks a one- or two-part path instead of the
/// whole absolute one, which is most of the cost of reading thousands of
/// runs' small files.
pub struct At(std::os::fd::OwnedFd);

impl At {
    /// Open `dir` (absolute, or relative to the cwd).
    pub fn open(dir: &Path) -> std::io::Result<At> {
        open_at(
            None,
            dir,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
        )
        .map(At)
    }

    /// Open the directory `rel` inside this one.
    pub fn open_dir(&self, rel: &str) -> std::io::Result<At> {
        use std::os::fd::AsRawFd;
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY;
        open_at(Some(self.0.as_raw_fd()), Path::new(rel), flags).map(At)
    }

    /// The whole (usually small) file `rel`, or None when it does not exist.
    pub fn read(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        use std::os::fd::AsRawFd;
        match open_at(
            Some(self.0.as_raw_fd()),
            Path::new(rel),
            nix::fcntl::OFlag::O_RDONLY,
        ) {
            Ok(fd) => read_all_small(File::from(fd)).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Open the file `rel` for reading (any size).
    pub fn open_file(&self, rel: &str) -> std::io::Result<File> {
        use std::os::fd::AsRawFd;
        open_at(
            Some(self.0.as_raw_fd()),
            Path::new(rel),
            nix::fcntl::OFlag::O_RDONLY,
        )
        .map(File::from)
    }

    /// The names in the directory `rel` (`.` for this one), without `.`
    /// and `..`; names that are not UTF-8 are left out.
    pub(crate) fn names(&self, rel: &str) -> std::io::Result<Vec<String>> {
        use std::os::fd::AsRawFd;
        let mut dir = nix::dir::Dir::openat(
            Some(self.0.as_raw_fd()),
            rel,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let mut out = Vec::new();
        for e in dir.iter() {
            let e = e?;
            match e.file_name().to_str() {
                Ok("." | "..") | Err(_) => {}
                Ok(name) => out.push(name.to_string()),
            }
        }
        Ok(out)
    }

    /// Whether `rel` exists (following symlinks, as `Path::exists`).
    pub fn exists(&self, rel: &str) -> bool {
        self.stat(rel).is_some()
    }

    /// Whether `rel` is a directory (following symlinks, as `Path::is_dir`).
    pub(crate) fn is_dir(&self, rel: &str) -> bool {
        self.stat(rel)
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }

    /// `stat` of this directory itself.
    pub fn stat_self(&self) -> Option<nix::sys::stat::FileStat> {
        use std::os::fd::AsRawFd;
        nix::sys::stat::fstat(self.0.as_raw_fd()).ok()
    }

    /// `stat` of `rel` (following symlinks).
    pub fn stat_of(&self, rel: &str) -> Option<nix::sys::stat::FileStat> {
        self.stat(rel)
    }

    fn stat(&self, rel: &str) -> Option<nix::sys::stat::FileStat> {
        use std::os::fd::AsRawFd;
        nix::sys::stat::fstatat(Some(self.0.as_raw_fd()), rel, nix::fcntl::AtFlags::empty()).ok()
    }
}

fn open_at(
    dirfd: Option<std::os::fd::RawFd>,
    path: &Path,
    flags: nix::fcntl::OFlag,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let fd = nix::fcntl::openat(
        dirfd,
        path,
        flags | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    // SAFETY: `openat` just returned this descriptor and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// `p` with `.` and `..` components resolved lexically (no filesystem).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Relative path from `from_dir` to `to` (both absolute): `../p/data.txt`.
pub fn relative_path(to: &Path, from_dir: &Path) -> PathBuf {
    let a: Vec<_> = to.components().collect();
    let b: Vec<_> = from_dir.components().collect();
    let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..b.len() {
        p.push("..");
    }
    for c in &a[common..] {
        p.push(c.as_os_str());
    }
    p
}

/// Creates `path` and its missing parents, failing with the path named.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).ctx("creating directory", path)
}

/// Abbreviate a path under the user's home with `~`.
pub fn tilde(path: &Path) -> String {
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        if home.as_os_str().len() > 1 {
            if let Ok(rest) = path.strip_prefix(&home) {
                if rest.as_os_str().is_empty() {
                    return "~".into();
                }
                return format!("~/{}", rest.display());
            }
        }
    }
    path.display().to_string()
}

/// Whether `a` and `b` name the same existing file or directory (device
/// and inode), whatever the path spelling.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_reads_relative_to_the_open_dir() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("r/.guild/attrs")).unwrap();
        fs::write(d.path().join("r/.guild/attrs/started"), "12\n").unwrap();
        let big = vec![b'x'; 10_000];
        fs::write(d.path().join("r/.guild/output"), &big).unwrap();
        let at = At::open(d.path()).unwrap().open_dir("r/.guild").unwrap();
        assert_eq!(at.read("attrs/started").unwrap().unwrap(), b"12\n");
        assert_eq!(at.read("output").unwrap().unwrap(), big);
        assert!(at.read("attrs/label").unwrap().is_none());
        assert!(at.is_dir("attrs") && at.exists("output") && !at.is_dir("output"));
        assert!(!at.exists("PENDING"));
        assert!(At::open(&d.path().join("missing")).is_err());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_new_refuses_existing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("LOCK");
        create_new(&p, b"1").unwrap();
        assert!(create_new(&p, b"2").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"1");
    }

    #[test]
    fn read_small_reads_whole_files_of_any_size() {
        let d = tempfile::tempdir().unwrap();
        for n in [0usize, 1, 4095, 4096, 4097, 100_000] {
            let p = d.path().join(format!("f{n}"));
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            fs::write(&p, &data).unwrap();
            assert_eq!(read_small(&p).unwrap(), data, "size {n}");
        }
        assert_eq!(read_opt(&d.path().join("missing")).unwrap(), None);
    }

    #[test]
    fn write_atomic_many_writes_all_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        write_atomic(&d.path().join("a"), b"old").unwrap();
        let files: Vec<(PathBuf, Vec<u8>)> = (0..5)
            .map(|i| {
                (
                    d.path().join(["a", "b", "c", "d", "e"][i]),
                    vec![b'0' + i as u8],
                )
            })
            .collect();
        write_atomic_many(&files).unwrap();
        assert_eq!(fs::read(d.path().join("a")).unwrap(), b"0");
        assert_eq!(fs::read(d.path().join("e")).unwrap(), b"4");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 5);
        let bad = vec![(d.path().join("nodir/x"), b"1".to_vec())];
        assert!(write_atomic_many(&bad).is_err());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 5);
    }
}
