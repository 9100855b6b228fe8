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

const MAGIC: &str = "guild-runs-index 2";

/// Times closer than this to the index's writing are not trusted.
const RACY: i128 = 2_000_000_000;

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

/// What the index file holds.
#[derive(Debug, Default)]
struct Index {
    /// When it was written (ns since the epoch).
    made: i128,
    /// The runs directory's mtime and inode then.
    dir_sig: Option<(i128, u64)>,
    /// Every entry of the directory: an ended run's entry, or the name
    /// of an entry read every time (a run not ended, or not a run).
    entries: Vec<Entry>,
    others: Vec<String>,
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn sig_of(st: &nix::sys::stat::FileStat) -> (i128, u64) {
    (
        st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128,
        st.st_ino,
    )
}

fn esc(s: &str, out: &mut String) {
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

fn unesc(s: &str) -> String {
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

impl Index {
    fn read(path: &Path) -> Option<Index> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut idx = Index::default();
        let head: Vec<&str> = lines.next()?.split('\t').collect();
        if let ["made", made, dir_mtime, dir_ino] = head[..] {
            idx.made = made.parse().ok()?;
            idx.dir_sig = Some((dir_mtime.parse().ok()?, dir_ino.parse().ok()?));
        } else {
            return None;
        }
        for line in lines {
            let mut f = line.split('\t');
            let mut next = || f.next();
            match next()? {
                "o" => idx.others.push(unesc(next()?)),
                "r" => {
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
                    idx.entries.push(Entry {
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
                _ => return None,
            }
        }
        Some(idx)
    }

    fn text(&self) -> String {
        let mut out = String::with_capacity(64 + self.entries.len() * 160);
        out.push_str(MAGIC);
        out.push('\n');
        let (m, i) = self.dir_sig.unwrap_or((0, 0));
        out.push_str(&format!("made\t{}\t{m}\t{i}\n", self.made));
        for e in &self.entries {
            out.push_str("r\t");
            esc(&e.id, &mut out);
            out.push_str(&format!("\t{}\t{}\t", e.sig.0, e.sig.1));
            opt_int(e.started, &mut out);
            out.push('\t');
            opt_int(e.initialized, &mut out);
            out.push('\t');
            opt_int(e.stopped, &mut out);
            out.push_str(&format!("\t{}\t", e.exit_status));
            if e.marked {
                out.push('m');
            }
            if e.batch {
                out.push('b');
            }
            out.push('_');
            out.push('\t');
            opt_str(&e.opref, &mut out);
            out.push('\t');
            opt_str(&e.label, &mut out);
            out.push('\t');
            opt_str(&e.name, &mut out);
            out.push('\n');
        }
        for o in &self.others {
            out.push_str("o\t");
            esc(o, &mut out);
            out.push('\n');
        }
        out
    }
}

impl Entry {
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
    fn info(
        &self,
        runs_path: &Path,
        oprefs: &mut std::collections::HashMap<String, std::sync::Arc<Opref>>,
    ) -> Loaded {
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

/// The runs in `dir` with the index at `index_path` (made or brought up
/// to date), or None when the index cannot serve this directory (it holds
/// links, or names that are not UTF-8): the caller lists it in full.
pub(super) fn list(dir: &Path, index_path: &Path) -> Option<Vec<(String, Loaded)>> {
    let at = At::open(dir).ok()?;
    let dir_sig = nix::sys::stat::stat(dir).ok().map(|st| sig_of(&st))?;
    let old = Index::read(index_path).unwrap_or_default();
    let trusted = |sig: (i128, u64)| sig.0 < old.made - RACY;
    let names: Vec<String> = if old.dir_sig == Some(dir_sig) && trusted(dir_sig) {
        old.entries
            .iter()
            .map(|e| e.id.clone())
            .chain(old.others.iter().cloned())
            .collect()
    } else {
        let (names, links) = dir_names(dir)?;
        if links {
            return None;
        }
        names
    };
    let cached: std::collections::HashMap<&str, &Entry> =
        old.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let made = now_ns();
    let threads = super::io_threads(names.len() / 8).min(4);
    let chunk = names.len().div_ceil(threads).max(1);
    let at = &at;
    let cached = &cached;
    let trusted = &trusted;
    // Each name: (name, what it is, its entry for the new index, whether
    // it was read from the run rather than the index).
    type Row = (String, Loaded, Option<Entry>, bool);
    let rows: Vec<Row> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    let mut oprefs = std::collections::HashMap::new();
                    c.iter()
                        .map(|id| {
                            let sig = at
                                .stat_of(&format!("{id}/.guild/attrs"))
                                .map(|st| sig_of(&st));
                            if let (Some(e), Some(sig)) = (cached.get(id.as_str()), sig) {
                                if e.sig == sig && trusted(sig) {
                                    // Its entry is cloned only if the
                                    // index is written again.
                                    return (id.clone(), e.info(dir, &mut oprefs), None, false);
                                }
                            }
                            let loaded = RunInfo::try_load_in(at, dir, id);
                            let entry = match (&loaded, sig) {
                                (Loaded::Run(r) | Loaded::BadOpref(r), Some(sig)) => at
                                    .open_dir(&format!("{id}/.guild"))
                                    .ok()
                                    .and_then(|files| Entry::of(r, &files, sig)),
                                _ => None,
                            };
                            (id.clone(), loaded, entry, true)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let changed = rows.len() != old.entries.len() + old.others.len()
        || old.dir_sig != Some(dir_sig)
        // A directory time too recent to trust then may be trusted now.
        || (!trusted(dir_sig) && dir_sig.0 < made - RACY)
        || rows.iter().any(|(_, _, e, read)| *read && e.is_some());
    if !changed {
        return Some(rows.into_iter().map(|(id, l, _, _)| (id, l)).collect());
    }
    let mut new = Index {
        made,
        dir_sig: Some(dir_sig),
        ..Default::default()
    };
    let mut o = Vec::with_capacity(rows.len());
    for (id, loaded, entry, read) in rows {
        match (entry, read) {
            (Some(e), _) => new.entries.push(e),
            (None, false) => match cached.get(id.as_str()) {
                Some(e) => new.entries.push((*e).clone()),
                None => new.others.push(id.clone()),
            },
            (None, true) => new.others.push(id.clone()),
        }
        o.push((id, loaded));
    }
    // Newest first, as listings sort them: read back in this order,
    // the runs are sorted already.
    new.entries.sort_by(|a, b| {
        let (x, y) = (a.started.or(a.initialized), b.started.or(b.initialized));
        y.cmp(&x).then_with(|| a.id.cmp(&b.id))
    });
    // A cache: not synced, and a failure to write it is no error.
    if let Some(parent) = index_path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = crate::fsutil::replace_nosync(index_path, new.text().as_bytes());
    Some(o)
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
        let idx = Index {
            made: 9,
            dir_sig: Some((7, 8)),
            entries: vec![e.clone()],
            others: vec!["not a run".into()],
        };
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("i");
        std::fs::write(&p, idx.text()).unwrap();
        let back = Index::read(&p).unwrap();
        assert_eq!(back.entries, vec![e]);
        assert_eq!(back.others, ["not a run"]);
        assert_eq!((back.made, back.dir_sig), (9, Some((7, 8))));
        std::fs::write(&p, "guild-runs-index 2\nmade\t1\t2\t3\nr\tbroken\n").unwrap();
        assert!(Index::read(&p).is_none());
    }
}
