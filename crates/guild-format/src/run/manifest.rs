//! `.guild/manifest`: one shell-quoted entry per line (`s` source files, `d`
//! dependencies, `i` internal), and the `sourcecode_digest` derived from it.

use crate::error::{IoContext, Result};
use md5::{Digest, Md5};
use std::path::Path;

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The entry's type: `s` (source), `d` (dependency) or `i` (internal).
    pub kind: String,
    /// The entry's fields, the path in the run directory first.
    pub fields: Vec<String>,
}

impl Entry {
    /// A source file entry: its path in the run directory, its SHA-1 and
    /// its path in the source directory.
    pub fn source(run_rel: &str, sha1: &str, src_rel: &str) -> Entry {
        Entry {
            kind: "s".into(),
            fields: vec![run_rel.into(), sha1.into(), src_rel.into()],
        }
    }

    pub(crate) fn line(&self) -> String {
        let mut parts = vec![self.kind.clone()];
        parts.extend(self.fields.iter().map(|f| super::opref::quote(f)));
        let mut s = parts.join(" ");
        s.push('\n');
        s
    }

    /// The entry's path in the run directory.
    pub fn run_rel(&self) -> Option<&str> {
        self.fields.first().map(String::as_str)
    }
}

/// The entries of the manifest at `path` (none when there is no file).
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let Some(text) = crate::fsutil::read_opt(path)? else {
        return Ok(Vec::new());
    };
    Ok(text
        .lines()
        .filter_map(shlex::split)
        .filter(|p| !p.is_empty())
        .map(|mut p| {
            let kind = p.remove(0);
            Entry { kind, fields: p }
        })
        .collect())
}

/// The manifest's text for `entries`.
pub fn text(entries: &[Entry]) -> String {
    entries.iter().map(Entry::line).collect()
}

/// Guild's `sourcecode_digest`: md5 over sorted `s` paths, each as
/// `path \0 bytes \0`; `None` when there are no source files.
pub fn sourcecode_digest(run_dir: &Path, entries: &[Entry]) -> Result<Option<String>> {
    let mut paths: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == "s")
        .filter_map(Entry::run_rel)
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    paths.sort();
    let mut h = Md5::new();
    for p in paths {
        let full = run_dir.join(p);
        let data = std::fs::read(&full).ctx("reading source file", &full)?;
        h.update(p.as_bytes());
        h.update([0u8]);
        h.update(&data);
        h.update([0u8]);
    }
    Ok(Some(format!("{:x}", h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_guild_algorithm() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("train.py"), b"print(1)\n").unwrap();
        let e = vec![Entry::source("train.py", "x", "train.py")];
        let mut h = Md5::new();
        h.update(b"train.py\0print(1)\n\0");
        assert_eq!(
            sourcecode_digest(d.path(), &e).unwrap(),
            Some(format!("{:x}", h.finalize()))
        );
        assert_eq!(sourcecode_digest(d.path(), &[]).unwrap(), None);
    }

    #[test]
    fn lines_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("manifest");
        let e = vec![Entry::source("a b.py", "123", "a b.py")];
        std::fs::write(&p, text(&e)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "s 'a b.py' 123 'a b.py'\n"
        );
        assert_eq!(read(&p).unwrap(), e);
    }
}
