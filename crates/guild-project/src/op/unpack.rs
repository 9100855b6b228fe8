//! Archives named by a `file:` or `url:` source, unpacked once into the
//! resource cache, as Guild 0.9 unpacks them: zip, tar (plain, gzip, bzip2
//! not included) and single-file gzip. The members are listed in
//! `.guild-cache-<archive>.unpacked` beside them; the list is reused while
//! it is newer than the archive. A member never lands outside the unpack
//! directory.

use guild_format::error::{Error, IoContext, Result};
use std::path::{Path, PathBuf};

/// What kind of archive a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Zip,
    Tar,
    Gzip,
}

/// The archive kind of `path` by its `type:` or its name, as Guild decides
/// it (`.zip`; `.tar`, `.tgz`, `.tar.*`; `.gz`).
pub(crate) fn kind(path: &Path, declared: Option<&str>) -> Option<Kind> {
    match declared {
        Some("zip") => return Some(Kind::Zip),
        Some("tar") => return Some(Kind::Tar),
        Some("gzip") => return Some(Kind::Gzip),
        _ => {}
    }
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let parts: Vec<&str> = name.split('.').collect();
    let last = *parts.last()?;
    let before = parts.len().checked_sub(2).map(|i| parts[i]);
    if parts.len() < 2 {
        return None;
    }
    match last {
        "zip" => Some(Kind::Zip),
        "tar" | "tgz" => Some(Kind::Tar),
        _ if before == Some("tar") => Some(Kind::Tar),
        "gz" => Some(Kind::Gzip),
        _ => None,
    }
}

/// Where a local archive is unpacked: `<cache>/<SHA-224 of "file\n" +
/// its absolute path>`, as Guild keys it.
pub(crate) fn file_unpack_dir(resources_cache: &Path, archive: &Path) -> PathBuf {
    use sha2::{Digest, Sha224};
    let key = format!("file\n{}", archive.display());
    resources_cache.join(format!("{:x}", Sha224::digest(key.as_bytes())))
}

/// The archive's members (and the directories they imply) as unpacked in
/// `dir`: from the cached list when it is newer than the archive, else
/// unpacked now (`say` hears `Unpacking <archive>`).
pub(crate) fn ensure_unpacked(
    archive: &Path,
    kind: Kind,
    dir: &Path,
    say: &dyn Fn(&str),
) -> Result<Vec<String>> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let list = dir.join(format!(".guild-cache-{name}.unpacked"));
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(l), Some(a)) = (mtime(&list), mtime(archive)) {
        if l >= a {
            if let Ok(text) = std::fs::read_to_string(&list) {
                return Ok(text.lines().map(str::to_string).collect());
            }
        }
    }
    guild_format::fsutil::create_dir_all(dir)?;
    say(&format!("Unpacking {}", archive.display()));
    let bad = |e: String| Error::user(format!("cannot unpack {}: {e}", archive.display()));
    let names = match kind {
        Kind::Zip => unzip(archive, dir).map_err(bad)?,
        Kind::Tar => untar(archive, dir).map_err(bad)?,
        Kind::Gzip => gunzip(archive, dir).map_err(bad)?,
    };
    let mut all: Vec<String> = names
        .iter()
        .filter_map(|n| n.rsplit_once('/').map(|(d, _)| d.to_string()))
        .filter(|d| !names.contains(d))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    all.extend(names);
    let text: String = all.iter().map(|n| format!("{n}\n")).collect();
    guild_format::fsutil::write_atomic(&list, text.as_bytes())?;
    Ok(all)
}

/// The top-level names of the members (what a source without `select`
/// resolves to), `.guild*` left out.
pub(crate) fn root_paths(members: &[String]) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.split('/').next())
        .filter(|n| !n.is_empty() && !n.starts_with(".guild"))
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// A member name as a relative path that stays inside the unpack dir.
fn safe_member(name: &str) -> Option<String> {
    let name = name.trim_start_matches("./").trim_end_matches('/');
    let p = Path::new(name);
    let ok = !name.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    ok.then(|| name.to_string())
}

fn unzip(archive: &Path, dir: &Path) -> std::result::Result<Vec<String>, String> {
    let f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(|e| e.to_string())?;
        let raw = entry.name().to_string();
        let name =
            safe_member(&raw).ok_or_else(|| format!("member '{raw}' would be written outside"))?;
        let out = dir.join(&name);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        } else {
            if !out.exists() {
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                let mut w =
                    std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
                std::io::copy(&mut entry, &mut w).map_err(|e| format!("member '{raw}': {e}"))?;
            }
            names.push(name);
        }
    }
    Ok(names)
}

fn untar(archive: &Path, dir: &Path) -> std::result::Result<Vec<String>, String> {
    let f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut head = [0u8; 2];
    let gz = {
        use std::io::Read;
        let mut probe = std::fs::File::open(archive).map_err(|e| e.to_string())?;
        probe.read_exact(&mut head).is_ok() && head == [0x1f, 0x8b]
    };
    let reader: Box<dyn std::io::Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut t = tar::Archive::new(reader);
    let mut names = Vec::new();
    for entry in t.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = entry
            .path()
            .map_err(|e| e.to_string())?
            .display()
            .to_string();
        if raw == "." || raw == "./" {
            continue;
        }
        let name =
            safe_member(&raw).ok_or_else(|| format!("member '{raw}' would be written outside"))?;
        let is_dir = entry.header().entry_type().is_dir();
        if !dir.join(&name).exists() {
            // unpack_in refuses a path that leaves `dir` (also through links).
            let inside = entry
                .unpack_in(dir)
                .map_err(|e| format!("member '{raw}': {e}"))?;
            if !inside {
                return Err(format!("member '{raw}' would be written outside"));
            }
        }
        if !is_dir {
            names.push(name);
        }
    }
    Ok(names)
}

fn gunzip(archive: &Path, dir: &Path) -> std::result::Result<Vec<String>, String> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .and_then(|n| n.strip_suffix(".gz").map(str::to_string))
        .filter(|n| !n.is_empty())
        .ok_or("a gzip file's name must end in .gz")?;
    let out = dir.join(&name);
    if !out.exists() {
        let f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
        let tmp = dir.join(format!(".{name}.unpacking"));
        let mut w = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        std::io::copy(&mut flate2::read::GzDecoder::new(f), &mut w).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &out)
            .ctx("unpacking", &out)
            .map_err(|e| e.to_string())?;
    }
    Ok(vec![name])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_as_guild_names_them() {
        let k = |n: &str| kind(Path::new(n), None);
        assert_eq!(k("files.zip"), Some(Kind::Zip));
        assert_eq!(k("d.tar"), Some(Kind::Tar));
        assert_eq!(k("d.tgz"), Some(Kind::Tar));
        assert_eq!(k("d.tar.gz"), Some(Kind::Tar));
        assert_eq!(k("d.tar.bz2"), Some(Kind::Tar));
        assert_eq!(k("x.csv.gz"), Some(Kind::Gzip));
        assert_eq!(k("data.csv"), None);
        assert_eq!(k("zip"), None);
        assert_eq!(kind(Path::new("blob"), Some("zip")), Some(Kind::Zip));
    }

    #[test]
    fn members_outside_are_refused() {
        assert_eq!(safe_member("a/b.txt").as_deref(), Some("a/b.txt"));
        assert_eq!(safe_member("./a").as_deref(), Some("a"));
        assert_eq!(safe_member("../x"), None);
        assert_eq!(safe_member("/etc/passwd"), None);
        assert_eq!(safe_member("a/../../x"), None);
    }

    #[test]
    fn zip_unpacks_once_and_lists_members_and_dirs() {
        let d = tempfile::tempdir().unwrap();
        let zp = d.path().join("files.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
        for name in ["a.txt", "sub/b.txt"] {
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut z, name.as_bytes()).unwrap();
        }
        z.finish().unwrap();
        let out = d.path().join("out");
        let said = std::cell::RefCell::new(Vec::new());
        let say = |m: &str| said.borrow_mut().push(m.to_string());
        let names = ensure_unpacked(&zp, Kind::Zip, &out, &say).unwrap();
        assert_eq!(names, ["sub", "a.txt", "sub/b.txt"]);
        assert_eq!(
            std::fs::read_to_string(out.join("sub/b.txt")).unwrap(),
            "sub/b.txt"
        );
        assert_eq!(root_paths(&names), ["a.txt", "sub"]);
        // Again: from the list, not unpacked again.
        ensure_unpacked(&zp, Kind::Zip, &out, &say).unwrap();
        assert_eq!(said.borrow().len(), 1);
    }
}
