//! The events-files index: which `*.tfevents.*` files each run has in its
//! `.guild` and its root, so that `compare` over many runs costs two
//! `stat`s per run instead of listing two directories (on ext4 a listing
//! hashes every name: 40% of comparing 100,000 runs).
//!
//! As the runs index, it is derived from the run directories and never
//! trusted over them: a run's list is used only while its `.guild` and
//! its root have the modification times and inodes recorded (adding,
//! removing or renaming a file changes its directory's), and only when
//! those times are older than the index by [`RACY`] (file times are
//! coarse). It is written whole by rename, never synced, and removing it
//! only makes the next `compare` list every run again. The files' content
//! is read every time.

use super::index::{esc, now_ns, unesc, RACY};
use std::collections::HashMap;
use std::path::Path;

const MAGIC: &str = "guild-events-index 1";

type Sig = (i128, u64);

/// A run's events files (paths in the run directory, `.guild/` ones
/// first), with the signatures of the two directories they were listed
/// from.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The signature (mtime ns, inode) of the run's `.guild` directory.
    pub guild: Sig,
    /// The signature (mtime ns, inode) of the run directory.
    pub root: Sig,
    /// The events files, relative to the run directory.
    pub files: Vec<String>,
}

/// The index as read.
#[derive(Debug, Default)]
pub struct EventsIndex {
    made: i128,
    runs: HashMap<String, Listed>,
}

impl EventsIndex {
    /// The index at `path`; empty when there is none or it is damaged.
    pub fn read(path: &Path) -> EventsIndex {
        Self::parse(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
    }

    fn parse(text: &str) -> Option<EventsIndex> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let made = lines.next()?.strip_prefix("made\t")?.parse().ok()?;
        let mut runs = HashMap::new();
        for line in lines {
            let mut f = line.split('\t');
            let id = unesc(f.next()?);
            let mut sig =
                || -> Option<Sig> { Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?)) };
            let (guild, root) = (sig()?, sig()?);
            let files: Vec<String> = f.map(unesc).collect();
            // Names are read relative to the run: a crafted line must not
            // lead out of it (a failed check fails the whole index).
            let plain = |n: &str| {
                let n = n.strip_prefix(".guild/").unwrap_or(n);
                n.contains(".tfevents.") && !n.contains('/') && !n.starts_with("..")
            };
            if !crate::run::is_plain_id(&id) || !files.iter().all(|n| plain(n)) {
                return None;
            }
            runs.insert(id, Listed { guild, root, files });
        }
        Some(EventsIndex { made, runs })
    }

    /// The files of run `id` when its directories have the signatures
    /// `guild` and `root` the index recorded, long enough before it was
    /// written to be trusted.
    pub fn files(&self, id: &str, guild: Sig, root: Sig) -> Option<&[String]> {
        let l = self.runs.get(id)?;
        let trusted = |s: Sig| s.0 < self.made - RACY;
        (l.guild == guild && l.root == root && trusted(guild) && trusted(root))
            .then_some(l.files.as_slice())
    }

    /// Write the index at `path`: the runs listed now, and the runs it had
    /// that are still in `dir` (its other runs, not compared this time).
    pub fn write(mut self, path: &Path, dir: &Path, listed: Vec<(String, Listed)>) {
        let made = now_ns();
        let present: std::collections::HashSet<String> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(_) => return,
        };
        for (id, l) in listed {
            self.runs.insert(id, l);
        }
        self.runs.retain(|id, _| present.contains(id));
        let mut out = String::with_capacity(64 + self.runs.len() * 120);
        out.push_str(MAGIC);
        out.push_str(&format!("\nmade\t{made}\n"));
        for (id, l) in &self.runs {
            esc(id, &mut out);
            out.push_str(&format!(
                "\t{}\t{}\t{}\t{}",
                l.guild.0, l.guild.1, l.root.0, l.root.1
            ));
            for f in &l.files {
                out.push('\t');
                esc(f, &mut out);
            }
            out.push('\n');
        }
        crate::fsutil::write_cache(path, out.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_are_trusted_only_when_old_and_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("runs");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        let path = tmp.path().join("events");
        let old = now_ns() - 10 * RACY;
        let a = Listed {
            guild: (old, 1),
            root: (old, 2),
            files: vec![
                ".guild/events.out.tfevents.1\tx".into(),
                "e.tfevents.2".into(),
            ],
        };
        let gone = Listed {
            files: vec![],
            ..a.clone()
        };
        EventsIndex::default().write(
            &path,
            &dir,
            vec![("a".into(), a.clone()), ("gone".into(), gone)],
        );
        let idx = EventsIndex::read(&path);
        assert_eq!(idx.files("a", a.guild, a.root), Some(a.files.as_slice()));
        assert_eq!(idx.files("a", (old + 1, 1), a.root), None, "changed");
        assert_eq!(idx.files("gone", a.guild, a.root), None);
        // A time too close to the writing proves nothing.
        let now = now_ns();
        let recent = Listed {
            guild: (now, 1),
            root: (now, 2),
            files: vec![],
        };
        idx.write(&path, &dir, vec![("a".into(), recent.clone())]);
        let idx = EventsIndex::read(&path);
        assert_eq!(idx.files("a", recent.guild, recent.root), None);
        // Damaged: empty.
        std::fs::write(&path, "guild-events-index 1\nmade\tx\n").unwrap();
        assert!(EventsIndex::read(&path).runs.is_empty());
    }
}
