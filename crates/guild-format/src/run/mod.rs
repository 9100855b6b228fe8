//! The run directory: the on-disk contract shared with Guild AI 0.9.
//!
//! A run is `<home>/runs/<id>/` with `.guild/opref`; everything known about it
//! lives in `.guild/` (attrs, markers, output). Status is derived from those
//! files and the process table, never stored as a word.

pub mod archive;
pub mod comments;

pub mod ls;
pub mod manifest;
pub mod names;
pub mod opref;
pub mod placement;
pub mod proc;
pub mod trash;
pub mod yaml;

use crate::error::{Error, Result};
use crate::fsutil;
pub use opref::Opref;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

/// A run: its directory and the id it is named by.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run's id (32 hex digits): the name of its directory.
    pub id: String,
    /// The run directory.
    pub dir: PathBuf,
}

/// The state of a run, derived from its files and the process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Its process is alive, or it runs on a remote.
    Running,
    /// It exited with status 0.
    Completed,
    /// It exited with a non-zero status, or ended without recording it.
    Error,
    /// It was stopped (a negative exit status).
    Terminated,
    /// It waits to be started (`.guild/PENDING`).
    Pending,
    /// It is staged, to be started later (`.guild/STAGED`).
    Staged,
}

impl Status {
    /// The status as Guild names it (`running`, `completed`...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Error => "error",
            Status::Terminated => "terminated",
            Status::Pending => "pending",
            Status::Staged => "staged",
        }
    }
}

/// Full status: the state plus, for a run pulled from a remote, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    /// The run's state.
    pub status: Status,
    /// The remote the run was sent to, while it runs there.
    pub remote: Option<String>,
}

impl RunStatus {
    /// The status as listings show it (`running (REMOTE)` for a remote run).
    pub fn display(&self) -> String {
        match &self.remote {
            Some(r) => format!("running ({r})"),
            None => self.status.as_str().to_string(),
        }
    }
}

static LAST_TS: AtomicI64 = AtomicI64::new(0);

/// Current time in µs since the epoch, strictly increasing within a process
/// (as Guild's `timestamp()`), so attrs written in order compare in order.
pub fn now_us() -> i64 {
    let now = chrono::Utc::now().timestamp_micros();
    let mut last = LAST_TS.load(Ordering::Relaxed);
    loop {
        let next = if now > last { now } else { last + 1 };
        match LAST_TS.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(cur) => last = cur,
        }
    }
}

/// Whether `rel` (a path in a run directory) is one of this tracker's own
/// files, which Guild's runs do not have: the start claim, the process
/// stamp, the room kept for the end and a placement record (`.guild/ENV`
/// is Guild's too). Listings (`ls`, the view) leave them out.
pub(crate) fn is_private_file(rel: &str) -> bool {
    let Some(name) = rel.strip_prefix(".guild/") else {
        return false;
    };
    matches!(name, "LOCK.start" | "LOCK.proc" | "placement") || name.starts_with("LOCK.end-")
}

/// The attrs a run's end writes, for which its start keeps room.
const END_ATTRS: [&str; 2] = ["exit_status", "stopped"];

/// Whether `id` is a plain run id: what Guild makes (32 hex digits) or a
/// name of the same kind (1 to 128 letters, digits, `_`, `-` and `.`, not
/// starting with `.`), so that joined to a runs directory it names an
/// entry of that directory and nothing else. Every id that comes from
/// outside (a remote, an archive, the runs index) is checked with this
/// before it becomes a path.
pub(crate) fn is_plain_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// [`is_plain_id`] as a one-line error naming where the id came from.
pub fn check_id<'a>(id: &'a str, from: &str) -> Result<&'a str> {
    if is_plain_id(id) {
        return Ok(id);
    }
    let shown: String = id.chars().take(80).flat_map(char::escape_debug).collect();
    Err(Error::user(format!(
        "{from} gave '{shown}' as a run id, which is not one (run ids are 32 hex digits); refusing it"
    )))
}

impl Run {
    /// The run in directory `dir`, its id the directory's name.
    pub fn at(dir: PathBuf) -> Run {
        let id = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Run { id, dir }
    }

    /// The first 8 characters of the id.
    pub fn short_id(&self) -> &str {
        // Ids are 32 hex digits, but a run dir may be named anything.
        let end = self
            .id
            .char_indices()
            .nth(8)
            .map_or(self.id.len(), |(i, _)| i);
        &self.id[..end]
    }

    /// The run's `.guild` directory.
    pub fn guild_dir(&self) -> PathBuf {
        self.dir.join(".guild")
    }

    /// The path of `name` in the run's `.guild` directory.
    pub fn guild_path(&self, name: &str) -> PathBuf {
        self.dir.join(".guild").join(name)
    }

    /// The file of attr `name` (`.guild/attrs/NAME`).
    pub fn attr_path(&self, name: &str) -> PathBuf {
        self.dir.join(".guild").join("attrs").join(name)
    }

    /// Whether `.guild/NAME` exists (markers such as `STAGED`, `PENDING`).
    pub fn has_marker(&self, name: &str) -> bool {
        self.guild_path(name).exists()
    }

    /// Read an attr; `Ok(None)` when missing, an error naming the run and
    /// attr when unreadable or not YAML.
    pub fn read_attr(&self, name: &str) -> Result<Option<Value>> {
        self.read_attr_in(self, name)
    }

    /// As [`Run::read_attr`], reading through `files`.
    pub(crate) fn read_attr_in(
        &self,
        files: &impl GuildFiles,
        name: &str,
    ) -> Result<Option<Value>> {
        let path = || self.attr_path(name);
        let Some(bytes) = files
            .read_guild(&format!("attrs/{name}"))
            .map_err(|e| Error::io("reading", &path(), e))?
        else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        match fast_scalar(&text) {
            Some(v) => Ok(Some(v)),
            None => yaml::parse(&text).map(Some).map_err(|e| {
                Error::user(format!(
                    "attr '{name}' of run {} is not valid YAML ({}): {e}; fix or delete {}",
                    self.short_id(),
                    path().display(),
                    path().display()
                ))
            }),
        }
    }

    /// Read an attr, treating a missing or corrupt one as absent (listings).
    pub fn attr(&self, name: &str) -> Option<Value> {
        self.attr_in(self, name)
    }

    /// As [`Run::attr`], reading through `files`.
    pub fn attr_in(&self, files: &impl GuildFiles, name: &str) -> Option<Value> {
        self.read_attr_in(files, name)
            .ok()
            .flatten()
            .filter(|v| !v.is_null())
    }

    /// An attr as an integer (see [`Run::attr`]).
    pub fn attr_i64(&self, name: &str) -> Option<i64> {
        self.attr(name).and_then(|v| v.as_i64())
    }

    /// An attr as a string: a string as is, another value in YAML flow
    /// style (see [`Run::attr`]).
    pub fn attr_str(&self, name: &str) -> Option<String> {
        self.attr_str_in(self, name)
    }

    /// As [`Run::attr_str`], reading through `files`.
    pub(crate) fn attr_str_in(&self, files: &impl GuildFiles, name: &str) -> Option<String> {
        self.attr_in(files, name).and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(yaml::flow(&other)),
        })
    }

    /// Write attr `name` as YAML, atomically.
    pub fn write_attr(&self, name: &str, value: &Value) -> Result<()> {
        self.writable()?;
        fsutil::write_atomic(&self.attr_path(name), yaml::dump(value).as_bytes())
            .map_err(|e| self.deleted_or(e))
    }

    /// Ok when the run's files may be written: its directory and its
    /// `.guild` are real directories, not links. Nothing writes through a
    /// link at a run directory's place (a link imported, pulled or made
    /// by hand could lead anywhere); a run that is gone says so.
    pub fn writable(&self) -> Result<()> {
        for p in [self.dir.clone(), self.guild_dir()] {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    let to = std::fs::read_link(&p)
                        .map(|t| format!(" to {}", t.display()))
                        .unwrap_or_default();
                    return Err(Error::user(format!(
                        "run {}: {} is a symbolic link{to}; runs are never written through links \
                         (replace the link with a copy of the directory to change this run)",
                        self.short_id(),
                        p.display()
                    )));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(self.deleted_or(Error::io("writing", &p, e)))
                }
                Err(e) => return Err(Error::io("reading", &p, e)),
            }
        }
        Ok(())
    }

    /// `e`, or when the run directory is gone, an error that says the run
    /// was deleted while it was being changed.
    pub(crate) fn deleted_or(&self, e: Error) -> Error {
        if std::fs::symlink_metadata(&self.dir).is_err() {
            return Error::user(format!(
                "run {} was deleted (moved to the trash or purged) while being changed; nothing was written to it",
                self.short_id()
            ));
        }
        e
    }

    /// Whether attr `name` holds exactly what writing `value` would write.
    pub fn attr_is(&self, name: &str, value: &Value) -> bool {
        fsutil::read_small(&self.attr_path(name)).is_ok_and(|b| b == yaml::dump(value).as_bytes())
    }

    /// Write several attrs at once (one concurrent fsync round).
    pub fn write_attrs(&self, attrs: &[(&str, Value)]) -> Result<()> {
        self.writable()?;
        fsutil::write_atomic_many(&self.attr_files(attrs)).map_err(|e| self.deleted_or(e))
    }

    /// Keep room for the attrs a run's end writes (`exit_status`,
    /// `stopped`): two small files written at the start, filled in and
    /// renamed into `attrs/` at the end, so a disk that fills up while the
    /// run goes on cannot keep its end from being recorded. Their space is
    /// taken when they are written (the filesystem reserves it then), so
    /// they need no sync; best effort: without them the end writes its
    /// attrs as any attr is written. Private (`LOCK.*`), never listed or
    /// copied.
    pub fn keep_room_for_end(&self) {
        use nix::fcntl::{fallocate, FallocateFlags};
        use std::os::fd::AsRawFd;
        for n in END_ATTRS {
            let path = self.guild_path(&format!("LOCK.end-{n}"));
            let Ok(f) = std::fs::File::create(&path) else {
                continue;
            };
            // Space allocated past the (empty) end: filling it in later
            // needs no new block and no truncation. Where the filesystem
            // cannot, bytes written do the same (cut to size at the end).
            if fallocate(f.as_raw_fd(), FallocateFlags::FALLOC_FL_KEEP_SIZE, 0, 64).is_err() {
                let _ = std::io::Write::write_all(&mut &f, &[b' '; 32]);
            }
        }
    }

    /// Whether the room for the end is kept (a run started again needs it
    /// kept anew).
    pub fn has_room_for_end(&self) -> bool {
        END_ATTRS
            .iter()
            .all(|n| self.guild_path(&format!("LOCK.end-{n}")).is_file())
    }

    /// Write the attrs of a run's end: into the room its start kept (see
    /// [`Run::keep_room_for_end`]), else as any attr is written.
    pub fn write_end_attrs(&self, attrs: &[(&str, Value)]) -> Result<()> {
        self.writable()?;
        if self.fill_end_reserves(attrs).is_ok() {
            return Ok(());
        }
        self.write_attrs(attrs)
    }

    fn fill_end_reserves(&self, attrs: &[(&str, Value)]) -> std::io::Result<()> {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let mut filled = Vec::with_capacity(attrs.len());
        for (name, value) in attrs {
            let reserve = self.guild_path(&format!("LOCK.end-{name}"));
            let data = yaml::dump(value);
            let f = std::fs::OpenOptions::new().write(true).open(&reserve)?;
            let meta = f.metadata()?;
            // Room: blocks allocated (past the end, or written).
            if (meta.blocks() * 512) < data.len() as u64 {
                return Err(std::io::Error::other("no room kept"));
            }
            f.write_all_at(data.as_bytes(), 0)?;
            if meta.len() > data.len() as u64 {
                f.set_len(data.len() as u64)?;
            }
            filled.push((f, reserve, name));
        }
        if fsutil::syncing() {
            let handles: Vec<&std::fs::File> = filled.iter().map(|(f, _, _)| f).collect();
            fsutil::sync_all_batch(&handles)?;
        }
        for (_, reserve, name) in &filled {
            std::fs::rename(reserve, self.attr_path(name))?;
        }
        Ok(())
    }

    /// Attrs as (path, content) pairs for [`fsutil::write_atomic_many`].
    pub fn attr_files(&self, attrs: &[(&str, Value)]) -> Vec<(PathBuf, Vec<u8>)> {
        attrs
            .iter()
            .map(|(n, v)| (self.attr_path(n), yaml::dump(v).into_bytes()))
            .collect()
    }

    /// Delete attr `name` (nothing when it is missing).
    pub fn del_attr(&self, name: &str) -> Result<()> {
        self.writable()?;
        fsutil::remove_if_exists(&self.attr_path(name)).map_err(|e| self.deleted_or(e))
    }

    /// The run's operation reference (`.guild/opref`); an error when it is
    /// missing or malformed.
    pub fn opref(&self) -> Result<Opref> {
        self.opref_in(self)
    }

    /// As [`Run::opref`], reading through `files`.
    pub(crate) fn opref_in(&self, files: &impl GuildFiles) -> Result<Opref> {
        let path = || self.guild_path("opref");
        let bytes = files
            .read_guild("opref")
            .map_err(|e| Error::io("reading", &path(), e))?
            .ok_or_else(|| {
                Error::user(format!(
                    "{} is not a run: missing {}",
                    self.dir.display(),
                    path().display()
                ))
            })?;
        Opref::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|e| Error::user(format!("run {}: {e}", self.short_id())))
    }

    /// The pid in `.guild/LOCK` (the operation's process), if any.
    pub fn lock_pid(&self) -> Option<i32> {
        lock_pid_in(self)
    }

    /// The LOCK pid and whether it is proven to be this run's process
    /// (`strict`: the kernel must confirm it works in this run dir; see
    /// [`proc::owner`]). None without a LOCK.
    pub fn lock_owner(&self, strict: bool) -> Option<(i32, proc::Owner)> {
        lock_owner_in(self, self, None, strict)
    }

    /// The run's status, derived from its files and the process table.
    pub fn status(&self) -> RunStatus {
        let exit_status = || self.attr("exit_status").and_then(|v| v.as_i64());
        derive_status(self, exit_status)
    }

    /// Files and dirs under the run dir (relative, sorted), `.guild` only with `all`.
    pub fn files(&self, all: bool) -> Vec<(String, bool)> {
        walkdir::WalkDir::new(&self.dir)
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let rel = e.path().strip_prefix(&self.dir).ok()?.display().to_string();
                if is_private_file(&rel) {
                    return None;
                }
                let hidden = rel == ".guild" || rel.starts_with(".guild/");
                (all || !hidden).then(|| (rel, e.file_type().is_dir()))
            })
            .collect()
    }

    /// Open a file given relative to the run dir (`--output`:
    /// `.guild/output`) to stream it. Nothing outside the run dir: no
    /// absolute paths, and no `..` or link leading out of it.
    pub fn open_file(&self, rel: &str) -> Result<std::fs::File> {
        if Path::new(rel).is_absolute() {
            return Err(Error::user(format!(
                "{rel} is absolute; give a path relative to the run directory"
            )));
        }
        // `..` may not lead out; the run's own links (dependencies linked
        // into it) are followed, as Guild does.
        if Path::new(rel)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::user(format!(
                "{rel} is outside the run directory of run {}; give a path inside it",
                self.short_id()
            )));
        }
        let path = self.dir.join(rel);
        let not_found = || Error::user(format!("{} does not exist", path.display()));
        std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(),
            _ => Error::io("reading", &path, e),
        })
    }

    /// Ids of the runs this one links to: a batch's trials, a pipeline's
    /// steps (symlinks `<id>` -> `../<id>` in the run dir).
    pub fn linked_ids(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .filter_map(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether it is a batch run (it has a `.guild/proto`).
    pub fn is_batch(&self) -> bool {
        self.guild_is_dir("proto")
    }

    /// The names of the run's attrs, sorted.
    pub fn attr_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.guild_path("attrs"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// A pipeline run (its steps are runs linked into its directory).
    pub(crate) fn is_pipeline(&self) -> bool {
        self.guild_path("attrs/steps").is_file()
    }
}

/// `rel` (a path in the source code) as a path in the run directory: under
/// the run's `sourcecode.dest` (its op attr; `.` by default).
pub fn sourcecode_path(run: &Run, rel: &str) -> String {
    let dest = run
        .attr("op")
        .and_then(|op| {
            op.get("sourcecode")?
                .get("dest")?
                .as_str()
                .map(String::from)
        })
        .unwrap_or_else(|| ".".into());
    if dest == "." || dest.is_empty() {
        rel.to_string()
    } else {
        format!("{}/{rel}", dest.trim_end_matches('/'))
    }
}

/// The attrs Guild 0.9 writes and shows itself (its CORE_RUN_ATTRS and
/// legacy ones): an operation's `run-attrs` cannot set them, and `runs
/// info` lists the others after its own fields.
pub const CORE_ATTRS: &[&str] = &[
    "cmd",
    "comments",
    "compare",
    "deps",
    "env",
    "exit_status",
    "flags",
    "host",
    "id",
    "initialized",
    "label",
    "marked",
    "objective",
    "op",
    "pip_freeze",
    "platform",
    "plugins",
    "random_seed",
    "run_params",
    "sourcecode_digest",
    "started",
    "stopped",
    "tags",
    "user",
    "user_flags",
    "vcs_commit",
    "r_sys_info",
    "r_packages_loaded",
    "resolved_deps",
    "opdef",
];

/// Reading a run's `.guild` files: by absolute path ([`Run`]), or relative
/// to its `.guild` directory held open ([`fsutil::At`], for listings).
pub trait GuildFiles {
    /// The file `rel` under `.guild`, None when it does not exist.
    fn read_guild(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Whether `rel` under `.guild` exists.
    fn guild_exists(&self, rel: &str) -> bool;
    /// Whether `rel` under `.guild` is a directory.
    fn guild_is_dir(&self, rel: &str) -> bool;
}

impl GuildFiles for Run {
    fn read_guild(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        match fsutil::read_small(&self.guild_path(rel)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn guild_exists(&self, rel: &str) -> bool {
        self.guild_path(rel).exists()
    }
    fn guild_is_dir(&self, rel: &str) -> bool {
        self.guild_path(rel).is_dir()
    }
}

impl GuildFiles for fsutil::At {
    fn read_guild(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.read(rel)
    }
    fn guild_exists(&self, rel: &str) -> bool {
        self.exists(rel)
    }
    fn guild_is_dir(&self, rel: &str) -> bool {
        self.is_dir(rel)
    }
}

fn lock_pid_in(files: &impl GuildFiles) -> Option<i32> {
    let bytes = files.read_guild("LOCK").ok()??;
    let head = &bytes[..bytes.len().min(10)];
    std::str::from_utf8(head).ok()?.trim().parse().ok()
}

fn lock_owner_in(
    run: &Run,
    files: &impl GuildFiles,
    started: Option<i64>,
    strict: bool,
) -> Option<(i32, proc::Owner)> {
    let pid = lock_pid_in(files)?;
    let stamp = files
        .read_guild("LOCK.proc")
        .ok()
        .flatten()
        .and_then(|b| proc::ProcStamp::parse(&String::from_utf8_lossy(&b)));
    let started = || started.or_else(|| run.attr_in(files, "started").and_then(|v| v.as_i64()));
    // Only a live pid needs the proof (and the `started` read).
    if proc::proc_info(pid).is_none() {
        return Some((pid, proc::Owner::Gone));
    }
    Some((
        pid,
        proc::owner(&run.dir, pid, stamp.as_ref(), started(), strict),
    ))
}

/// Guild's status order: LOCK.remote > PENDING > STAGED > exit_status >
/// live LOCK pid > error.
pub(crate) fn derive_status(run: &Run, exit_status: impl FnOnce() -> Option<i64>) -> RunStatus {
    derive_status_in(run, run, exit_status, None)
}

/// As [`derive_status`], reading through `files`, with the `started` attr
/// when the caller has it.
pub(crate) fn derive_status_in(
    run: &Run,
    files: &impl GuildFiles,
    exit_status: impl FnOnce() -> Option<i64>,
    started: Option<i64>,
) -> RunStatus {
    if let Ok(Some(remote)) = files.read_guild("LOCK.remote") {
        let remote = String::from_utf8_lossy(&remote);
        let name = remote.split(':').next().unwrap_or("").trim().to_string();
        return RunStatus {
            status: Status::Running,
            remote: Some(name),
        };
    }
    let status = if files.guild_exists("PENDING") {
        Status::Pending
    } else if files.guild_exists("STAGED") {
        placed(files, true).unwrap_or(Status::Staged)
    } else if let Some(code) = exit_status() {
        match code {
            0 => Status::Completed,
            c if c < 0 => Status::Terminated,
            _ => Status::Error,
        }
    } else {
        match lock_owner_in(run, files, started, false) {
            Some((_, proc::Owner::Run)) => Status::Running,
            _ => placed(files, false).unwrap_or(Status::Error),
        }
    };
    RunStatus {
        status,
        remote: None,
    }
}

/// What the run's placement says of its status (a run started by a
/// scheduler, or sent to a remote), when its files cannot.
fn placed(files: &impl GuildFiles, staged: bool) -> Option<Status> {
    let text = files.read_guild("placement").ok()??;
    placement::placed_status(&text, staged)
}

/// Parse the common one-line scalar attrs (ints, plain words) without YAML.
fn fast_scalar(text: &str) -> Option<Value> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    if t.is_empty() || t.contains('\n') {
        return None;
    }
    let b = t.as_bytes();
    let digits = if b[0] == b'-' { &b[1..] } else { b };
    if !digits.is_empty() && digits.len() < 18 && digits.iter().all(|c| c.is_ascii_digit()) {
        return t.parse::<i64>().ok().map(Value::from);
    }
    if t.len() == 32
        && b.iter().all(|c| c.is_ascii_hexdigit())
        && b.iter().any(|c| c.is_ascii_alphabetic())
    {
        return Some(Value::String(t.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_run(d: &Path) -> Run {
        let dir = d.join("runs").join("abcdef0123456789abcdef0123456789");
        std::fs::create_dir_all(dir.join(".guild/attrs")).unwrap();
        Run::at(dir)
    }

    #[test]
    fn status_order_matches_guild() {
        let d = tempfile::tempdir().unwrap();
        let r = mk_run(d.path());
        assert_eq!(r.status().status, Status::Error);
        r.write_attr("exit_status", &Value::from(0)).unwrap();
        assert_eq!(r.status().status, Status::Completed);
        r.write_attr("exit_status", &Value::from(-15)).unwrap();
        assert_eq!(r.status().status, Status::Terminated);
        r.write_attr("exit_status", &Value::from(3)).unwrap();
        assert_eq!(r.status().status, Status::Error);
        fsutil::touch(&r.guild_path("STAGED")).unwrap();
        assert_eq!(r.status().status, Status::Staged);
        fsutil::touch(&r.guild_path("PENDING")).unwrap();
        assert_eq!(r.status().status, Status::Pending);
        std::fs::write(r.guild_path("LOCK.remote"), "myssh").unwrap();
        assert_eq!(r.status().display(), "running (myssh)");
    }

    #[test]
    fn live_lock_is_running_dead_lock_is_error() {
        let d = tempfile::tempdir().unwrap();
        let r = mk_run(d.path());
        r.write_attr("started", &Value::from(now_us())).unwrap();
        // A process working in the run dir is the run's.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&r.dir)
            .spawn()
            .unwrap();
        std::fs::write(r.guild_path("LOCK"), child.id().to_string()).unwrap();
        assert_eq!(r.status().status, Status::Running);
        // Its stamp must match: another start time is pid reuse.
        let mut stamp = proc::ProcStamp::of(child.id() as i32).unwrap();
        fsutil::replace_nosync(&r.guild_path("LOCK.proc"), stamp.format().as_bytes()).unwrap();
        assert_eq!(r.status().status, Status::Running);
        stamp.start_ticks += 1;
        fsutil::replace_nosync(&r.guild_path("LOCK.proc"), stamp.format().as_bytes()).unwrap();
        assert_eq!(r.status().status, Status::Error);
        child.kill().unwrap();
        child.wait().unwrap();
        // This test process lives, but not in the run dir: not the run's.
        let me = std::process::id();
        std::fs::write(r.guild_path("LOCK"), me.to_string()).unwrap();
        assert_eq!(r.status().status, Status::Error);
        std::fs::write(r.guild_path("LOCK"), "1").unwrap();
        assert_eq!(r.status().status, Status::Error);
        std::fs::write(r.guild_path("LOCK"), "999999999").unwrap();
        assert_eq!(r.status().status, Status::Error);
    }

    #[test]
    fn plain_ids_are_names_in_one_directory() {
        for ok in ["0123456789abcdef0123456789abcdef", "run-1", "a.b_c"] {
            assert!(is_plain_id(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", ".stage-x", "../x", "/abs/dir", "a/b", "a\\b", "a b", "a\nb",
        ] {
            assert!(!is_plain_id(bad), "{bad:?}");
        }
        assert!(!is_plain_id(&"a".repeat(129)));
        let e = check_id("../x", "remote 'r'").unwrap_err().message();
        assert!(e.contains("remote 'r' gave '../x' as a run id"), "{e}");
    }

    #[test]
    fn writes_refuse_links_and_say_when_the_run_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let real = mk_run(&tmp.path().join("real"));
        std::fs::create_dir_all(real.guild_path("attrs")).unwrap();
        let link = Run::at(tmp.path().join("link"));
        std::os::unix::fs::symlink(&real.dir, &link.dir).unwrap();
        let e = link
            .write_attr("label", &Value::from("x"))
            .unwrap_err()
            .message();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert!(!real.attr_path("label").exists());
        let gone = Run::at(tmp.path().join("gone"));
        let e = gone
            .write_attr("label", &Value::from("x"))
            .unwrap_err()
            .message();
        assert!(e.contains("was deleted"), "{e}");
        real.write_attr("label", &Value::from("x")).unwrap();
    }

    #[test]
    fn corrupt_attr_is_named() {
        let d = tempfile::tempdir().unwrap();
        let r = mk_run(d.path());
        std::fs::write(r.attr_path("flags"), "a: [1,\n").unwrap();
        let e = r.read_attr("flags").unwrap_err();
        assert!(
            e.message().contains("attr 'flags' of run abcdef01"),
            "{}",
            e.message()
        );
        assert!(r.attr("flags").is_none());
    }
}
