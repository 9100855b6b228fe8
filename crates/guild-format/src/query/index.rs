//! The runs index: a cache of what listing a run reads (its opref, times,
//! exit status, label, name, mark), so that listing N runs costs one
//! `stat` per run instead of a dozen reads.
//!
//! It is derived from the run directories and never trusted over them:
//! - the set of runs is taken from the index only while the runs
//!   directory has the modification time and inode the index recorded;
//!   otherwise the directory is listed again (runs added or removed);
//! - a run is taken from the index only while its `.guild/attrs` has the
//!   modification time and inode recorded (every start, end, restart,
//!   label, tag, mark or flag change writes an attr, and attrs are written
//!   by replacing files, which changes the directory), and only when it had
//!   ended (a run that is staged, pending or running is read every time:
//!   its status depends on its process);
//! - a time within [`RACY`] of when the index was written proves nothing
//!   (file times are coarse), so such a run or directory is read again.
//!
//! The index is written whole to a temp file and renamed into place, so
//! processes listing at once each leave a complete one (the last wins,
//! and any of them is as good). It is a cache: removing it at any time
//! only makes the next listing read every run.

use super::{Loaded, RunInfo};
use crate::fsutil::At;
use crate::run::{Opref, Run, RunStatus, Status};
use std::path::Path;
use std::sync::OnceLock;

const MAGIC: &str = "guild-runs-index 3";

/// Times closer than this to the index's writing are not trusted.
pub(super) const RACY: i128 = 2_000_000_000;

/// One ended run as the index keeps it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: String,
    sig: (i128, u64),
    opref: Option<String>,
    started: Option<i64>,
    initialized: Option<i64>,
    stopped: Option<i64>,
    exit_status: i64,
    label: Option<String>,
    marked: bool,
    name: Option<String>,
    batch: bool,
}

pub(super) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// A file's signature for the indexes: modification time (ns) and inode.
pub fn sig_of(st: &nix::sys::stat::FileStat) -> (i128, u64) {
    (
        st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128,
        st.st_ino,
    )
}

pub(super) fn esc(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

pub(super) fn unesc(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(c) => out.push(c),
            None => {}
        }
    }
    out
}

/// An optional text field: `-` for none, `=text` for some.
fn opt_str(v: &Option<String>, out: &mut String) {
    match v {
        None => out.push('-'),
        Some(s) => {
            out.push('=');
            esc(s, out);
        }
    }
}

fn parse_opt_str(f: &str) -> Option<Option<String>> {
    match f.as_bytes().first() {
        Some(b'-') if f.len() == 1 => Some(None),
        Some(b'=') => Some(Some(unesc(&f[1..]))),
        _ => None,
    }
}

fn opt_int(v: Option<i64>, out: &mut String) {
    if let Some(v) = v {
        out.push_str(&v.to_string());
    }
}

fn parse_opt_int(f: &str) -> Option<Option<i64>> {
    if f.is_empty() {
        Some(None)
    } else {
        f.parse().ok().map(Some)
    }
}

/// An entry line of the index as a listing needs it before a run is
/// shown: where it is in the text, the run's id, its attrs signature and
/// its sort key. The rest of the line is parsed only for runs shown.
#[derive(Debug, Clone)]
struct Lean {
    line: (u32, u32),
    id: (u32, u32),
    sig: (i128, u64),
    /// `started`, else `initialized` (as [`RunInfo::timestamp`]).
    key: Option<i64>,
    no_opref: bool,
}

/// The index file as read: its text, a lean view of its entry lines and
/// the names read every time.
#[derive(Debug, Default)]
struct Index {
    text: Text,
    /// When it was written (ns since the epoch).
    made: i128,
    /// The runs directory's mtime and inode then.
    dir_sig: Option<(i128, u64)>,
    lines: Vec<Lean>,
    /// Entries read every time (a run not ended, or not a run).
    others: Vec<String>,
}

/// The number of tab-separated fields of an entry line.
const FIELDS: usize = 12;

fn lean_line(text: &str, line: std::ops::Range<usize>) -> Option<Lean> {
    let s = &text[line.clone()];
    let mut f: [(usize, usize); FIELDS] = [(0, 0); FIELDS];
    let mut n = 0;
    let mut from = 0;
    for end in memchr::memchr_iter(b'\t', s.as_bytes()).chain(std::iter::once(s.len())) {
        *f.get_mut(n)? = (from, end);
        n += 1;
        from = end + 1;
    }
    if n != FIELDS {
        return None;
    }
    let field = |i: usize| &s[f[i].0..f[i].1];
    let id = field(1);
    // An id becomes a path: a line with anything but a plain id (a
    // crafted `../other/home/runs/ID`) fails the whole index.
    if !crate::run::is_plain_id(id) {
        return None;
    }
    let started = parse_opt_int(field(4))?;
    let initialized = parse_opt_int(field(5))?;
    let at = |i: usize| u32::try_from(line.start + i).ok();
    Some(Lean {
        id: (at(f[1].0)?, at(f[1].1)?),
        sig: (field(2).parse().ok()?, field(3).parse().ok()?),
        key: started.or(initialized),
        no_opref: field(9) == "-",
        line: (at(0)?, at(s.len())?),
    })
}

impl Lean {
    fn id_in<'a>(&self, text: &'a str) -> &'a str {
        &text[self.id.0 as usize..self.id.1 as usize]
    }
}

/// The entry lines and other names in `range` of the index text (whole
/// lines).
fn parse_lines(text: &str, range: std::ops::Range<usize>) -> Option<(Vec<Lean>, Vec<String>)> {
    let mut lines = Vec::with_capacity(range.len() / 150 + 1);
    let mut others = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let end =
            memchr::memchr(b'\n', &text.as_bytes()[at..range.end]).map_or(range.end, |i| at + i);
        let line = &text[at..end];
        if line.starts_with("r\t") {
            lines.push(lean_line(text, at..end)?);
        } else {
            let name = line.strip_prefix("o\t")?;
            if !crate::run::is_plain_id(name) {
                return None;
            }
            others.push(name.to_string());
        }
        at = end + 1;
    }
    Some((lines, others))
}

/// The index file's text: mapped from the page cache when it can be (read
/// into memory, 10,000 runs' index of 1.8 MB costs a millisecond of
/// copying and faulting in fresh pages, a twentieth of the listing).
#[derive(Debug)]
enum Text {
    Mapped(Mapped),
    Read(String),
}

impl Default for Text {
    fn default() -> Self {
        Text::Read(String::new())
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Mapped(m) => m.text(),
            Text::Read(s) => s,
        }
    }
}

impl Text {
    fn read(path: &Path) -> Option<Text> {
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        if len >= 64 << 10 {
            if let Some(m) = Mapped::new(&file, len) {
                return Some(Text::Mapped(m));
            }
        }
        let mut s = String::with_capacity(len as usize);
        std::io::Read::read_to_string(&mut &file, &mut s).ok()?;
        Some(Text::Read(s))
    }
}

/// A whole file mapped read-only, checked to be UTF-8.
///
/// The index file is never changed in place: it is written whole to a
/// temp file and renamed over the old one, so a mapping of it keeps the
/// text it had (the replaced file lives on while mapped). Only someone
/// truncating the file by hand during a listing could make a read of the
/// mapping fail (SIGBUS).
#[derive(Debug)]
struct Mapped {
    ptr: std::ptr::NonNull<std::ffi::c_void>,
    len: usize,
}

// SAFETY: the mapping is private and read-only, never written through
// and unmapped only on drop: sharing it between threads is sharing
// immutable bytes.
unsafe impl Send for Mapped {}
// SAFETY: as for Send: immutable bytes.
unsafe impl Sync for Mapped {}

impl Mapped {
    fn new(file: &std::fs::File, len: u64) -> Option<Mapped> {
        use nix::sys::mman::{mmap, MapFlags, ProtFlags};
        let len = usize::try_from(len).ok()?;
        // SAFETY: a new private read-only mapping of a whole file that is
        // only ever replaced, never changed in place (see above); nothing
        // else is mapped at the address the kernel picks.
        let ptr = unsafe {
            mmap(
                None,
                std::num::NonZeroUsize::new(len)?,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_POPULATE,
                file,
                0,
            )
        }
        .ok()?;
        let m = Mapped { ptr, len };
        std::str::from_utf8(m.bytes()).ok()?;
        Some(m)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live read-only mapping of `len` bytes, kept
        // until drop, and never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr() as *const u8, self.len) }
    }

    fn text(&self) -> &str {
        // SAFETY: checked to be UTF-8 when mapped, and it never changes.
        unsafe { std::str::from_utf8_unchecked(self.bytes()) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; nothing
        // borrowed from it outlives `self`.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr, self.len) };
    }
}

/// The index file's text and header, and where its lines are cut into
/// parts to be parsed at once (a tenth of listing 10,000 runs otherwise).
struct Raw {
    text: Text,
    made: i128,
    dir_sig: (i128, u64),
    cuts: Vec<usize>,
}

impl Raw {
    fn read(path: &Path) -> Option<Raw> {
        let text = Text::read(path)?;
        let (magic, rest) = text.split_once('\n')?;
        let (head, _) = rest.split_once('\n').unwrap_or((rest, ""));
        if magic != MAGIC {
            return None;
        }
        let head: Vec<&str> = head.split('\t').collect();
        let ["made", made, dir_mtime, dir_ino, body_len] = head[..] else {
            return None;
        };
        let made = made.parse().ok()?;
        let dir_sig = (dir_mtime.parse().ok()?, dir_ino.parse().ok()?);
        let body =
            (magic.len() + 1 + head.iter().map(|f| f.len() + 1).sum::<usize>()).min(text.len());
        // Self-checking: an index cut short (or grown) is not this index.
        if body_len.parse::<usize>().ok()? != text.len() - body {
            return None;
        }
        let parts = (text.len() / (64 << 10)).clamp(1, 4);
        let mut cuts = vec![body];
        for k in 1..parts {
            let want = (body + (text.len() - body) * k / parts).max(cuts[cuts.len() - 1]);
            match memchr::memchr(b'\n', &text.as_bytes()[want..]) {
                Some(i) => cuts.push(want + i + 1),
                None => break,
            }
        }
        cuts.push(text.len());
        Some(Raw {
            text,
            made,
            dir_sig,
            cuts,
        })
    }

    fn parts(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.cuts.windows(2).map(|w| w[0]..w[1])
    }

    /// `f` of each part, the parts on threads of their own when there
    /// are several (a thread costs more than a small index).
    fn each_part<T: Send>(
        &self,
        f: impl Fn(std::ops::Range<usize>) -> Option<T> + Sync,
    ) -> Vec<Option<T>> {
        if self.cuts.len() <= 2 {
            return self.parts().map(f).collect();
        }
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = self.parts().map(|r| s.spawn(move || f(r))).collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        })
    }

    /// The index, with its parts' lines put together (in order).
    fn into_index(self, parts: Vec<(Vec<Lean>, Vec<String>)>) -> Index {
        let mut lines = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
        let mut others = Vec::new();
        for (l, o) in parts {
            lines.extend(l);
            others.extend(o);
        }
        Index {
            text: self.text,
            made: self.made,
            dir_sig: Some(self.dir_sig),
            lines,
            others,
        }
    }
}

impl Index {
    #[cfg(test)]
    fn read(path: &Path) -> Option<Index> {
        Self::parse(Raw::read(path)?)
    }

    /// Parse every line (the parts at once).
    fn parse(raw: Raw) -> Option<Index> {
        let text = &raw.text;
        let parsed = raw.each_part(|r| parse_lines(text, r));
        let parts = parsed.into_iter().collect::<Option<Vec<_>>>()?;
        Some(raw.into_index(parts))
    }

    fn id(&self, l: &Lean) -> &str {
        l.id_in(&self.text)
    }

    fn line(&self, l: &Lean) -> &str {
        &self.text[l.line.0 as usize..l.line.1 as usize]
    }

    /// The run of line `n`, of the runs directory `dir`.
    fn build_line(&self, dir: &Path, n: usize, oprefs: &mut Oprefs) -> RunInfo {
        let lean = &self.lines[n];
        match Entry::parse(self.line(lean)).map(|e| e.info(dir, oprefs)) {
            Some(Loaded::Run(r) | Loaded::BadOpref(r)) => r,
            // Not expected (the line was checked when read): read the run.
            _ => RunInfo::load(Run::at(dir.join(self.id(lean)))),
        }
    }
}

/// Write the index: a header, then entry lines (newest first, as listings
/// sort them: read back in this order, the runs are sorted already), then
/// the names read every time.
fn write_index(
    path: &Path,
    made: i128,
    dir_sig: (i128, u64),
    mut lines: Vec<(Option<i64>, &str, std::borrow::Cow<str>)>,
    others: &[&str],
) {
    lines.sort_by(|a, b| super::newest_first((a.0, a.1), (b.0, b.1)));
    let size: usize = lines.iter().map(|l| l.2.len() + 1).sum();
    let mut out = String::with_capacity(96 + size + others.len() * 40);
    out.push_str(MAGIC);
    out.push('\n');
    let mut body = String::with_capacity(size + others.len() * 40);
    for (_, _, l) in &lines {
        body.push_str(l);
        body.push('\n');
    }
    // Names that are not plain ids (not runs, or runs named oddly by
    // hand) make no index: such a directory is listed in full.
    for o in others {
        if !crate::run::is_plain_id(o) {
            return;
        }
        body.push_str("o\t");
        body.push_str(o);
        body.push('\n');
    }
    out.push_str(&format!(
        "made\t{made}\t{}\t{}\t{}\n",
        dir_sig.0,
        dir_sig.1,
        body.len()
    ));
    out.push_str(&body);
    crate::fsutil::write_cache(path, out.as_bytes());
}

impl Entry {
    /// Parse an entry line (`r` and [`FIELDS`] - 1 fields).
    fn parse(line: &str) -> Option<Entry> {
        let mut f = line.split('\t');
        let mut next = || f.next();
        if next()? != "r" {
            return None;
        }
        let id = unesc(next()?);
        let sig = (next()?.parse().ok()?, next()?.parse().ok()?);
        let started = parse_opt_int(next()?)?;
        let initialized = parse_opt_int(next()?)?;
        let stopped = parse_opt_int(next()?)?;
        let exit_status = next()?.parse().ok()?;
        let flags = next()?;
        let opref = parse_opt_str(next()?)?;
        let label = parse_opt_str(next()?)?;
        let name = parse_opt_str(next()?)?;
        if next().is_some() {
            return None;
        }
        Some(Entry {
            id,
            sig,
            opref,
            started,
            initialized,
            stopped,
            exit_status,
            label,
            marked: flags.contains('m'),
            batch: flags.contains('b'),
            name,
        })
    }

    /// The entry as an index line (without its newline).
    fn line(&self) -> String {
        let mut out = String::with_capacity(160);
        out.push_str("r\t");
        esc(&self.id, &mut out);
        out.push_str(&format!("\t{}\t{}\t", self.sig.0, self.sig.1));
        opt_int(self.started, &mut out);
        out.push('\t');
        opt_int(self.initialized, &mut out);
        out.push('\t');
        opt_int(self.stopped, &mut out);
        out.push_str(&format!("\t{}\t", self.exit_status));
        if self.marked {
            out.push('m');
        }
        if self.batch {
            out.push('b');
        }
        out.push('_');
        out.push('\t');
        opt_str(&self.opref, &mut out);
        out.push('\t');
        opt_str(&self.label, &mut out);
        out.push('\t');
        opt_str(&self.name, &mut out);
        out
    }

    /// The entry of a run just read, when it has ended (else None: it is
    /// read every time).
    fn of(info: &RunInfo, files: &At, sig: (i128, u64)) -> Option<Entry> {
        let ended = matches!(
            info.status.status,
            Status::Completed | Status::Error | Status::Terminated
        );
        let exit_status = info.exit_status?;
        if !ended
            || info.status.remote.is_some()
            || files.exists("LOCK")
            || files.exists("placement")
            || files.exists("PENDING")
            || files.exists("STAGED")
        {
            return None;
        }
        Some(Entry {
            id: info.run.id.clone(),
            sig,
            opref: info.opref.as_deref().map(Opref::format),
            started: info.started,
            initialized: info.initialized(),
            stopped: info.stopped(),
            exit_status,
            label: info.label.clone(),
            marked: info.marked,
            name: info.name.clone(),
            batch: info.batch,
        })
    }

    /// The run as listed. `oprefs` holds the oprefs parsed so far (most
    /// runs share a few).
    fn info(&self, runs_path: &Path, oprefs: &mut Oprefs) -> Loaded {
        let run = Run::at(runs_path.join(&self.id));
        let opref = match &self.opref {
            Some(text) => match oprefs.get(text) {
                Some(o) => Some(o.clone()),
                None => match Opref::parse(text) {
                    Ok(o) => {
                        let o = std::sync::Arc::new(o);
                        oprefs.insert(text.clone(), o.clone());
                        Some(o)
                    }
                    Err(_) => return Loaded::NotARun,
                },
            },
            None => None,
        };
        let info = RunInfo {
            started: self.started,
            exit_status: Some(self.exit_status),
            status: RunStatus {
                status: match self.exit_status {
                    0 => Status::Completed,
                    c if c < 0 => Status::Terminated,
                    _ => Status::Error,
                },
                remote: None,
            },
            label: self.label.clone(),
            marked: self.marked,
            name: self.name.clone(),
            batch: self.batch,
            initialized: OnceLock::from(self.initialized),
            stopped: OnceLock::from(self.stopped),
            tags: OnceLock::new(),
            run,
            opref: opref.clone(),
        };
        if opref.is_some() {
            Loaded::Run(info)
        } else {
            Loaded::BadOpref(info)
        }
    }
}

/// The entries of the runs directory `dir` (its names, and whether any is
/// a link), or None when it cannot be read.
fn dir_names(dir: &Path) -> Option<(Vec<String>, bool)> {
    let mut names = Vec::new();
    let mut links = false;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            return None; // not UTF-8: the full listing warns of it
        };
        if name.starts_with('.') {
            continue;
        }
        links |= e.file_type().is_ok_and(|t| t.is_symlink());
        names.push(name);
    }
    Some((names, links))
}

/// The runs of a directory, newest first, as listed through the index:
/// runs read from their files are held whole; runs taken from the index
/// are built from their index line when asked for, so that showing the
/// latest 20 of 10,000 runs builds 20.
pub struct Listing {
    dir: std::path::PathBuf,
    index: Index,
    items: Vec<Item>,
}

/// Oprefs parsed so far, by their text (most runs share a few).
type Oprefs = std::collections::HashMap<String, std::sync::Arc<Opref>>;

enum Item {
    /// The index line of this number.
    Cached(usize),
    Info(Box<RunInfo>),
}

impl Listing {
    /// A listing of runs already read (in their order).
    pub fn of(runs: Vec<RunInfo>) -> Listing {
        Listing {
            dir: Default::default(),
            index: Index::default(),
            items: runs.into_iter().map(|r| Item::Info(Box::new(r))).collect(),
        }
    }

    /// How many runs the listing has.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the listing has no runs.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The run at `i` (0 is the newest).
    pub fn get(&self, i: usize) -> Option<RunInfo> {
        Some(self.build(self.items.get(i)?, &mut Default::default()))
    }

    /// The first `n` runs.
    pub fn first(&self, n: usize) -> Vec<RunInfo> {
        let mut oprefs = Default::default();
        self.items
            .iter()
            .take(n)
            .map(|i| self.build(i, &mut oprefs))
            .collect()
    }

    /// Every run.
    pub fn into_vec(self) -> Vec<RunInfo> {
        let mut oprefs = Default::default();
        let Listing { dir, index, items } = self;
        items
            .into_iter()
            .map(|i| match i {
                Item::Info(r) => *r,
                Item::Cached(n) => index.build_line(&dir, n, &mut oprefs),
            })
            .collect()
    }

    fn build(&self, item: &Item, oprefs: &mut Oprefs) -> RunInfo {
        match item {
            Item::Info(r) => (**r).clone(),
            Item::Cached(n) => self.index.build_line(&self.dir, *n, oprefs),
        }
    }

    fn key_id<'a>(&'a self, item: &'a Item) -> (Option<i64>, &'a str) {
        match item {
            Item::Info(r) => (r.timestamp(), r.run.id.as_str()),
            Item::Cached(n) => {
                let l = &self.index.lines[*n];
                (l.key, self.index.id(l))
            }
        }
    }
}

/// What listing did with one name of the runs directory.
enum Seen {
    /// The index line of this number holds it, unchanged.
    Fresh(usize),
    /// Read from its files (boxed: most are not).
    Read(Box<ReadRun>),
}

/// A run read from its files, with its entry for the index when it has
/// ended; `was_line` when the index held a line for it.
struct ReadRun {
    id: String,
    loaded: Loaded,
    entry: Option<Entry>,
    was_line: bool,
}

/// Look at one name of the runs directory: a run with an index line
/// (its number and attrs signature there) is taken from the index when
/// its attrs are as the line says; anything else is read.
fn look(
    at: &At,
    dir: &Path,
    id: &str,
    line: Option<(usize, (i128, u64))>,
    made: i128,
    path: &mut String,
) -> Seen {
    path.clear();
    path.push_str(id);
    path.push_str("/.guild/attrs");
    let sig = at.stat_of(path).map(|st| sig_of(&st));
    if let (Some((i, was)), Some(sig)) = (line, sig) {
        if was == sig && sig.0 < made - RACY {
            return Seen::Fresh(i);
        }
    }
    let loaded = RunInfo::try_load_in(at, dir, id);
    let entry = match (&loaded, sig) {
        (Loaded::Run(r) | Loaded::BadOpref(r), Some(sig)) => at
            .open_dir(&format!("{id}/.guild"))
            .ok()
            .and_then(|files| Entry::of(r, &files, sig))
            .filter(|e| !e.id.contains('\\')),
        _ => None,
    };
    Seen::Read(Box::new(ReadRun {
        id: id.to_string(),
        loaded,
        entry,
        was_line: line.is_some(),
    }))
}

/// The runs directory is as the index saw it: parse each part of the
/// index and look at its runs, the parts at once. Err(the index) when a
/// part cannot be parsed (it is then read as a whole).
#[allow(clippy::type_complexity)]
fn look_at_parts(at: &At, dir: &Path, raw: Raw) -> Result<(Index, Vec<Seen>), Option<Raw>> {
    let (text, made) = (&raw.text, raw.made);
    type Part = (Vec<Lean>, Vec<String>, Vec<Seen>);
    let parts: Vec<Option<Part>> = raw.each_part(|r| {
        let (lines, others) = parse_lines(text, r)?;
        let mut path = String::new();
        let mut seen = Vec::with_capacity(lines.len() + others.len());
        for (i, l) in lines.iter().enumerate() {
            let line = Some((i, l.sig));
            seen.push(look(at, dir, l.id_in(text), line, made, &mut path));
        }
        for o in &others {
            seen.push(look(at, dir, o, None, made, &mut path));
        }
        Some((lines, others, seen))
    });
    let Some(parts) = parts.into_iter().collect::<Option<Vec<Part>>>() else {
        return Err(None);
    };
    // Line numbers were the part's own: make them the index's.
    let mut all_seen = Vec::with_capacity(parts.iter().map(|p| p.2.len()).sum());
    let mut base = 0;
    let mut parsed = Vec::with_capacity(parts.len());
    for (lines, others, seen) in parts {
        all_seen.extend(seen.into_iter().map(|s| match s {
            Seen::Fresh(i) => Seen::Fresh(base + i),
            read => read,
        }));
        base += lines.len();
        parsed.push((lines, others));
    }
    Ok((raw.into_index(parsed), all_seen))
}

/// The runs directory changed since the index saw it (or there is no
/// index): list it, and look at each name (in parallel), taking runs the
/// index has a line for from it when they are unchanged. None when the
/// directory holds links (the caller lists it in full).
fn look_at_dir(at: &At, dir: &Path, old: &Index) -> Option<Vec<Seen>> {
    let (listed, links) = dir_names(dir)?;
    if links {
        return None;
    }
    let by_id: std::collections::HashMap<&str, usize> = old
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (old.id(l), i))
        .collect();
    let threads = super::io_threads(listed.len() / 8).min(4);
    let chunk = listed.len().div_ceil(threads).max(1);
    let (by_id, made) = (&by_id, old.made);
    let look_all = move |c: &[String]| {
        let mut path = String::new();
        c.iter()
            .map(|id| {
                let line = by_id.get(id.as_str()).map(|i| (*i, old.lines[*i].sig));
                look(at, dir, id, line, made, &mut path)
            })
            .collect::<Vec<_>>()
    };
    if threads == 1 {
        return Some(look_all(&listed));
    }
    let look_all = &look_all;
    Some(std::thread::scope(|s| {
        let handles: Vec<_> = listed
            .chunks(chunk)
            .map(|c| s.spawn(move || look_all(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    }))
}

/// The runs in `dir` with the index at `index_path` (made or brought up
/// to date), with the names that are not runs and the runs whose opref
/// cannot be read; or None when the index cannot serve this directory
/// (it holds links, or names that are not UTF-8): the caller lists it in
/// full.
pub(super) fn list(dir: &Path, index_path: &Path) -> Option<(Listing, Vec<String>, Vec<String>)> {
    let at = At::open(dir).ok()?;
    let dir_sig = nix::sys::stat::stat(dir).ok().map(|st| sig_of(&st))?;
    let raw = Raw::read(index_path);
    let made = now_ns();
    let fused = match raw {
        // The directory is as the index saw it: its names are the index's,
        // and each part of the index is parsed and looked at in one go.
        Some(raw) if raw.dir_sig == dir_sig && dir_sig.0 < raw.made - RACY => {
            look_at_parts(&at, dir, raw)
        }
        raw => Err(raw),
    };
    let (old, seen) = match fused {
        Ok(done) => done,
        Err(raw) => {
            let old = raw.and_then(Index::parse).unwrap_or_default();
            let seen = look_at_dir(&at, dir, &old)?;
            (old, seen)
        }
    };
    let trusted = |sig: (i128, u64)| sig.0 < old.made - RACY;
    let changed = seen.len() != old.lines.len() + old.others.len()
        || old.dir_sig != Some(dir_sig)
        // A directory time too recent to trust then may be trusted now.
        || (!trusted(dir_sig) && dir_sig.0 < made - RACY)
        || seen.iter().any(|s| match s {
            Seen::Fresh(_) => false,
            Seen::Read(r) => r.entry.is_some() || r.was_line,
        });
    if changed {
        let mut lines = Vec::with_capacity(seen.len());
        let mut others = Vec::new();
        for s in &seen {
            match s {
                Seen::Fresh(i) => {
                    let l = &old.lines[*i];
                    lines.push((l.key, old.id(l), std::borrow::Cow::Borrowed(old.line(l))));
                }
                Seen::Read(r) => match &r.entry {
                    Some(e) => lines.push((
                        e.started.or(e.initialized),
                        e.id.as_str(),
                        std::borrow::Cow::Owned(e.line()),
                    )),
                    None => others.push(r.id.as_str()),
                },
            }
        }
        write_index(index_path, made, dir_sig, lines, &others);
    }
    let mut skipped = Vec::new();
    let mut bad_opref = Vec::new();
    let mut items = Vec::with_capacity(seen.len());
    for s in seen {
        match s {
            Seen::Fresh(i) => {
                if old.lines[i].no_opref {
                    bad_opref.push(old.id(&old.lines[i]).to_string());
                }
                items.push(Item::Cached(i));
            }
            Seen::Read(r) => match (r.id, r.loaded) {
                (_, Loaded::Run(r)) => items.push(Item::Info(Box::new(r))),
                (id, Loaded::BadOpref(r)) => {
                    bad_opref.push(id);
                    items.push(Item::Info(Box::new(r)));
                }
                (id, Loaded::NotARun) => skipped.push(id),
            },
        }
    }
    let mut listing = Listing {
        dir: dir.to_path_buf(),
        index: old,
        items,
    };
    // As [`super::sort`]: newest first, then by id; no time last. Runs
    // from the index come in this order already.
    let mut items = std::mem::take(&mut listing.items);
    items.sort_by(|a, b| super::newest_first(listing.key_id(a), listing.key_id(b)));
    listing.items = items;
    Some((listing, skipped, bad_opref))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_the_file() {
        let e = Entry {
            id: "abc".into(),
            sig: (1_700_000_000_123_456_789, 42),
            opref: Some("script:/p 'a\tb' '' train.py".into()),
            started: Some(5),
            initialized: None,
            stopped: Some(7),
            exit_status: -15,
            label: Some("lr=0.1\nx\\y".into()),
            marked: true,
            name: None,
            batch: false,
        };
        let none = Entry {
            id: "def".into(),
            opref: None,
            started: None,
            initialized: Some(9),
            ..e.clone()
        };
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("i");
        let lines = vec![
            (none.initialized, none.id.as_str(), none.line().into()),
            (e.started, e.id.as_str(), e.line().into()),
        ];
        write_index(&p, 9, (7, 8), lines.clone(), &["not-a-run"]);
        let back = Index::read(&p).unwrap();
        // Newest first.
        let parsed: Vec<Entry> = back
            .lines
            .iter()
            .map(|l| Entry::parse(back.line(l)).unwrap())
            .collect();
        assert_eq!(parsed, vec![none.clone(), e.clone()]);
        let lean: Vec<_> = back
            .lines
            .iter()
            .map(|l| (back.id(l), l.sig, l.key, l.no_opref))
            .collect();
        assert_eq!(
            lean,
            [
                ("def", e.sig, Some(9), true),
                ("abc", e.sig, Some(5), false)
            ]
        );
        assert_eq!(back.others, ["not-a-run"]);
        assert_eq!((back.made, back.dir_sig), (9, Some((7, 8))));
        // A name that is not a plain id makes no index at all.
        let q = tmp.path().join("q");
        write_index(&q, 9, (7, 8), lines, &["not a\trun"]);
        assert!(!q.exists());
        // Cut short, grown, or with a line that does not parse: not used.
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, &text[..text.len() - 10]).unwrap();
        assert!(Index::read(&p).is_none());
        std::fs::write(&p, format!("{text}o\tmore\n")).unwrap();
        assert!(Index::read(&p).is_none());
        std::fs::write(&p, "guild-runs-index 3\nmade\t1\t2\t3\t9\nr\tbroken\n").unwrap();
        assert!(Index::read(&p).is_none());
        // An id that needs escapes is not kept as an entry.
        let odd = Entry {
            id: "a\\b".into(),
            ..e.clone()
        };
        let body = format!("{}\n", odd.line());
        std::fs::write(
            &p,
            format!("guild-runs-index 3\nmade\t1\t2\t3\t{}\n{body}", body.len()),
        )
        .unwrap();
        assert!(Index::read(&p).is_none());
    }

    #[test]
    fn a_big_index_is_read_in_parts_whole_and_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("i");
        let entries: Vec<Entry> = (0..6000)
            .map(|i| Entry {
                id: format!("{i:032x}"),
                sig: (1_700_000_000_000_000_000 + i, i as u64),
                opref: Some("script:/some/project/dir '' '' train.py".into()),
                started: Some(1_000_000 + i as i64),
                initialized: Some(i as i64),
                stopped: Some(2_000_000),
                exit_status: 0,
                label: Some(format!("lr=0.{i}")),
                marked: false,
                name: Some(format!("name-{i}")),
                batch: false,
            })
            .collect();
        let lines = entries
            .iter()
            .map(|e| (e.started, e.id.as_str(), e.line().into()))
            .collect();
        let others: Vec<String> = (0..50).map(|i| format!("other-{i}")).collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        write_index(&p, 9, (7, 8), lines, &others);
        assert!(std::fs::metadata(&p).unwrap().len() > 3 * (256 << 10));
        let back = Index::read(&p).unwrap();
        let ids: Vec<&str> = back.lines.iter().map(|l| back.id(l)).collect();
        let want: Vec<&str> = entries.iter().rev().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, want);
        assert_eq!(back.others, others);
        for l in &back.lines {
            let e = Entry::parse(back.line(l)).unwrap();
            assert_eq!((e.sig, e.started), (l.sig, l.key));
        }
    }
}
