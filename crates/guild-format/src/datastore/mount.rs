//! Runs and the datastore versions they mount: the `datastores` attr, the
//! link at each mount, and versions copied between stores (a remote's, an
//! imported run's home).
//!
//! A run names a version by name, number and manifest digest. The digest is
//! what counts when a run moves between homes: the same files make the same
//! manifest, whatever number the version has there.

use super::{check_name, is_digest, Entry, Store, Version};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::run::Run;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// A datastore version a run mounts, as its `datastores` attr records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mounted {
    /// The datastore's name.
    pub name: String,
    /// The version's number where the run was made.
    pub version: u32,
    /// The digest of the version's manifest.
    pub manifest: String,
    /// Where in the run it is mounted (relative).
    pub mount: String,
}

impl Mounted {
    /// `NAME:VERSION`.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// The one-line error for a run that mounts a version this home lacks:
    /// which one, and how to get it.
    pub fn missing(&self, run_id: &str) -> String {
        format!(
            "run {run_id} mounts datastore {} (manifest {}), which this home does not have; \
             create it here from the same files with `guild datastores create {} DIR` \
             (the same files make the same manifest), or send the run with `guild push`, which sends its data",
            self.spec(),
            &self.manifest[..12],
            self.name
        )
    }
}

/// The datastores `run` mounts. Entries that are not well formed (a bad
/// name, digest or mount path) are left out: they never become paths.
pub fn mounted(run: &Run) -> Vec<Mounted> {
    mounted_in(run.attr("datastores").as_ref())
}

/// The datastores a `datastores` attr names (see [`mounted`]).
pub fn mounted_in(attr: Option<&Value>) -> Vec<Mounted> {
    let Some(Value::Sequence(items)) = attr else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|m| {
            let s = |k: &str| m.get(k).and_then(Value::as_str).map(String::from);
            let found = Mounted {
                name: s("name")?,
                version: u32::try_from(m.get("version")?.as_u64()?).ok()?,
                manifest: s("manifest")?,
                mount: s("mount")?,
            };
            (check_name(&found.name).is_ok()
                && is_digest(&found.manifest)
                && fsutil::is_plain_rel(&found.mount))
            .then_some(found)
        })
        .collect()
}

impl Store {
    /// This store's version with the content `m` names: the same name and
    /// number if it has that content, else the first version with it.
    pub fn version_of(&self, m: &Mounted) -> Option<Version> {
        let same_name = self.versions(&m.name).ok().unwrap_or_default();
        if let Some(v) = same_name
            .iter()
            .find(|v| v.version == m.version && v.manifest == m.manifest)
            .or_else(|| same_name.iter().find(|v| v.manifest == m.manifest))
        {
            return Some(v.clone());
        }
        self.names().ok()?.into_iter().find_map(|n| {
            self.versions(&n)
                .ok()?
                .into_iter()
                .find(|v| v.manifest == m.manifest)
        })
    }

    /// What a copy of version `v` to another store sends, relative to the
    /// store's directory: its manifest and its objects.
    pub fn files_of(&self, v: &Version) -> Result<Vec<String>> {
        let mut out = vec![format!("manifests/{}.json", v.manifest)];
        let mut objects: Vec<String> = self
            .manifest(v)?
            .into_iter()
            .filter_map(|e| e.digest)
            .map(|d| format!("objects/{}/{}", &d[..2], &d[2..]))
            .collect();
        objects.sort();
        objects.dedup();
        out.extend(objects);
        Ok(out)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Take in a version whose manifest and objects were copied into this
    /// store: check the manifest's digest and that every object is there,
    /// publish it as a version of `name` (number `number` when it is free)
    /// unless a version of `name` has that content, and build its tree.
    pub fn receive(&self, name: &str, number: u32, digest: &str) -> Result<Version> {
        check_name(name)?;
        if !is_digest(digest) {
            return Err(Error::user(format!(
                "'{}' is not a datastore manifest digest",
                crate::text::escape(digest)
            )));
        }
        let _lock = self.lock(false)?;
        let path = self.manifest_path(digest);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        if blake3::hash(&bytes).to_hex().as_str() != digest {
            let _ = std::fs::remove_file(&path);
            return Err(Error::user(format!(
                "the manifest {digest} received is not what was sent; send it again"
            )));
        }
        let entries: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| Error::user(format!("manifest {digest} is not a manifest ({e})")))?;
        for e in &entries {
            let Some(d) = &e.digest else { continue };
            let ok = is_digest(d)
                && std::fs::metadata(self.object_path(d)).is_ok_and(|m| m.len() == e.size);
            if !ok {
                return Err(Error::user(format!(
                    "datastore {name}: {} arrived missing or with another size than its manifest says; run `guild datastores verify` where it came from, then send it again",
                    crate::text::escape(&e.path)
                )));
            }
        }
        let existing = self
            .versions(name)?
            .into_iter()
            .find(|v| v.manifest == digest);
        let v = match existing {
            Some(v) => v,
            None => self.publish_at(name, Some(number), digest, &entries, "received")?,
        };
        drop(_lock);
        self.materialize(&v)?;
        Ok(v)
    }
}

/// Point each mount of `run` at this store's tree of its version (a link
/// made where the run was, or none). A mount that holds files rather
/// than a link is left as it is. Returns the versions the store lacks.
pub fn relink(store: &Store, run: &Run) -> Result<Vec<Mounted>> {
    let mut missing = Vec::new();
    for m in mounted(run) {
        let at = run.dir.join(&m.mount);
        let meta = at.symlink_metadata();
        if meta.as_ref().is_ok_and(|md| !md.file_type().is_symlink()) {
            continue;
        }
        let Some(v) = store.version_of(&m) else {
            missing.push(m);
            continue;
        };
        let tree = store.materialize(&v)?;
        if std::fs::read_link(&at).is_ok_and(|t| t == tree) {
            continue;
        }
        check_parents(run, &m.mount)?;
        if let Some(parent) = at.parent() {
            fsutil::create_dir_all(parent)?;
        }
        let tmp = at.with_file_name(format!(".guild-mount-{}", uuid::Uuid::new_v4().simple()));
        std::os::unix::fs::symlink(&tree, &tmp).map_err(|e| Error::io("mounting", &tmp, e))?;
        if let Err(e) = std::fs::rename(&tmp, &at) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io("mounting", &at, e));
        }
    }
    Ok(missing)
}

/// No directory on the way to a mount is a link: a run from elsewhere
/// must not make this home write outside it.
fn check_parents(run: &Run, rel: &str) -> Result<()> {
    let mut p = PathBuf::from(&run.dir);
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        p.push(part);
        if p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(Error::user(format!(
                "run {}: {} is a link; a datastore is mounted only inside the run",
                run.short_id(),
                p.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::Home;

    const D: &str = "764f40c608ee6932e2319aa3540493ec9f95da6460e0fc2bd8cdda267d6660fe";

    #[test]
    fn attr_entries_that_could_become_bad_paths_are_left_out() {
        let attr: Value = serde_yaml_ng::from_str(&format!(
            "- {{name: ok, version: 1, manifest: {D}, mount: data}}\n\
             - {{name: a, version: 1, manifest: {D}, mount: ../up}}\n\
             - {{name: b, version: 1, manifest: {D}, mount: /abs}}\n\
             - {{name: ../c, version: 1, manifest: {D}, mount: x}}\n\
             - {{name: d, version: 1, manifest: ../../etc, mount: x}}\n\
             - {{name: e, version: -1, manifest: {D}, mount: x}}\n"
        ))
        .unwrap();
        let found = mounted_in(Some(&attr));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].spec(), found[0].mount.as_str()),
            ("ok:1".into(), "data")
        );
    }

    #[test]
    fn relink_points_a_moved_run_at_this_store_and_never_through_a_link() {
        let t = tempfile::tempdir().unwrap();
        let home = Home {
            path: t.path().join("home"),
        };
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("a.txt"), "alpha").unwrap();
        let store = Store::of(&home);
        let v = store.create("ds", &src, false).unwrap().version;
        let run = Run::at(t.path().join("run"));
        std::fs::create_dir_all(run.guild_path("attrs")).unwrap();
        let attr = |mount: &str| {
            format!(
                "- {{name: ds, version: 7, manifest: {}, mount: {mount}}}\n",
                v.manifest
            )
        };
        // Made elsewhere: a link to another home's tree, and version 7 there.
        std::fs::write(run.guild_path("attrs/datastores"), attr("in/data")).unwrap();
        std::fs::create_dir_all(run.dir.join("in")).unwrap();
        std::os::unix::fs::symlink("/elsewhere/trees/x", run.dir.join("in/data")).unwrap();
        assert!(relink(&store, &run).unwrap().is_empty());
        let text = std::fs::read_to_string(run.dir.join("in/data/a.txt")).unwrap();
        assert_eq!(text, "alpha");
        // A directory on the way that is a link is refused.
        std::fs::write(run.guild_path("attrs/datastores"), attr("via/data")).unwrap();
        std::os::unix::fs::symlink(t.path(), run.dir.join("via")).unwrap();
        assert!(relink(&store, &run).is_err());
        assert!(!t.path().join("data").exists());
        // Content this store lacks is named, not guessed.
        let other = attr("in/data").replace(&v.manifest, &D.replace('7', "8"));
        std::fs::write(run.guild_path("attrs/datastores"), other).unwrap();
        let missing = relink(&store, &run).unwrap();
        assert_eq!(missing.len(), 1);
        assert!(missing[0].missing("abc").contains("mounts datastore ds:7"));
    }
}
