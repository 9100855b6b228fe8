//! Listing a bucket's runs in a few requests: the manifests' listing (one
//! request per 1,000 runs) says which runs there are and whether each
//! changed; `index.json` holds the metadata of each by its manifest's ETag,
//! and only the manifests of runs it lacks are read (then it is written
//! again). The metadata is mirrored into a guild home of its own under
//! this home's cache, which the usual listing, filters and formats read.

use super::transfer::Manifest;
use super::Client;
use futures::TryStreamExt;
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What a listing found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listed {
    /// Runs under `runs/`.
    pub runs: usize,
    /// Deleted runs (under `trash/runs/`).
    pub deleted: usize,
    /// Manifests read (runs new or changed since the index was written).
    pub manifests_read: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Entry {
    etag: String,
    meta: BTreeMap<String, String>,
    status: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Index {
    runs: BTreeMap<String, Entry>,
    trash: BTreeMap<String, Entry>,
}

impl Client {
    /// Run id → manifest ETag of the manifests under `manifests/PLACE/`.
    pub(crate) fn manifest_etags(&self, place: &str) -> Result<HashMap<String, String>> {
        let prefix = self.key(&format!("manifests/{place}"));
        let metas: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(self.store.list(Some(&prefix)).try_collect())
            .map_err(|e| self.explain("listing", e))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.strip_suffix(".json")?.to_string();
                guild_format::run::check_id(&name, "a bucket").ok()?;
                Some((name, m.e_tag.unwrap_or_default()))
            })
            .collect())
    }

    fn read_index(&self) -> Index {
        let key = self.key("index.json");
        self.rt
            .block_on(async {
                let got = self.store.get(&key).await?;
                got.bytes().await
            })
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Mirror the metadata of the bucket's runs into `dir` (a guild home:
    /// `runs/ID/.guild/...`, deleted ones under `trash/runs/`).
    pub fn mirror(&self, dir: &Path) -> Result<Listed> {
        // The mirror is current when the bucket's meta-id is the one read
        // before it was last written (every change touches meta-id after
        // it is made): one request.
        let mark = dir.join(".meta-id");
        let now = self.meta_id()?;
        if now.is_some() && std::fs::read_to_string(&mark).ok() == now {
            let count = |d: &Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
            return Ok(Listed {
                runs: count(&dir.join("runs")),
                deleted: count(&dir.join("trash/runs")),
                manifests_read: 0,
            });
        }
        let _ = std::fs::remove_file(&mark);
        let mut index = self.read_index();
        let mut listed = Listed::default();
        let mut changed = false;
        for place in ["runs", "trash"] {
            let etags = self.manifest_etags(place)?;
            let entries = if place == "runs" {
                &mut index.runs
            } else {
                &mut index.trash
            };
            let before = entries.len();
            entries.retain(|id, e| etags.get(id) == Some(&e.etag));
            changed |= entries.len() != before;
            for (id, etag) in &etags {
                if entries.contains_key(id) {
                    continue;
                }
                let Some(m) = self.manifest(place, id)? else {
                    continue;
                };
                listed.manifests_read += 1;
                changed = true;
                entries.insert(id.clone(), entry_of(m, etag));
            }
            let base = if place == "runs" {
                dir.join("runs")
            } else {
                dir.join("trash").join("runs")
            };
            write_mirror(&base, entries, &self.remote)?;
            if place == "runs" {
                listed.runs = entries.len();
            } else {
                listed.deleted = entries.len();
            }
        }
        if let Some(id) = &now {
            fsutil::write_atomic(&mark, id.as_bytes())?;
        }
        if changed {
            // A cache for the next reader: a bucket these credentials
            // cannot write is still listed.
            if let Ok(text) = serde_json::to_vec(&index) {
                let key = self.key("index.json");
                let _ = self
                    .rt
                    .block_on(self.store.put(&key, PutPayload::from(text)));
            }
        }
        Ok(listed)
    }
}

impl Client {
    /// Where this home mirrors the bucket's runs:
    /// `cache/remotes/NAME/mirror`, a guild home of its own.
    pub fn mirror_dir(&self, home: &guild_format::home::Home) -> std::path::PathBuf {
        home.cache_dir("remotes").join(&self.remote).join("mirror")
    }

    /// Do in the bucket what a command did to the mirror: runs that went
    /// from `runs` to the trash are deleted there, back restored, gone
    /// purged (`before` is [`mirror_places`] before the command).
    pub fn apply_mirror(&self, mirror: &Path, before: &BTreeMap<String, String>) -> Result<()> {
        let after = mirror_places(mirror);
        for (id, was) in before {
            match (was.as_str(), after.get(id).map(|s| s.as_str())) {
                ("runs", Some("trash")) => self.move_run(id, "runs", "trash")?,
                ("trash", Some("runs")) => self.move_run(id, "trash", "runs")?,
                (place, None) => self.purge_run(id, place)?,
                _ => {}
            }
        }
        self.mirror(mirror).map(|_| ())
    }

    /// Add the runs just written under `manifests/PLACE/` to `index.json`
    /// (read, merged, written): the next listing anywhere need not read
    /// their manifests. A cache only: a push that races another may leave
    /// entries out, and the next listing reads those manifests and writes
    /// it again.
    pub(crate) fn index_add(&self, place: &str, runs: Vec<(Manifest, String)>) {
        let mut index = self.read_index();
        let entries = if place == "runs" {
            &mut index.runs
        } else {
            &mut index.trash
        };
        for (m, etag) in runs {
            entries.insert(m.id.clone(), entry_of(m, &etag));
        }
        if let Ok(text) = serde_json::to_vec(&index) {
            let key = self.key("index.json");
            let _ = self
                .rt
                .block_on(self.store.put(&key, PutPayload::from(text)));
        }
    }
}

fn entry_of(m: Manifest, etag: &str) -> Entry {
    Entry {
        etag: etag.to_string(),
        meta: m.meta,
        status: m.status,
    }
}

/// A metadata path a mirror may write: `.guild/opref` or
/// `.guild/attrs/NAME`.
fn meta_path_ok(p: &str) -> bool {
    fsutil::is_plain_rel(p)
        && (p == ".guild/opref"
            || p.strip_prefix(".guild/attrs/")
                .is_some_and(|n| !n.is_empty() && !n.contains('/')))
}

/// Make `base/ID/.guild` say what `entries` say: a run written again only
/// when its manifest changed; runs no longer listed removed.
fn write_mirror(base: &Path, entries: &BTreeMap<String, Entry>, remote: &str) -> Result<()> {
    fsutil::create_dir_all(base)?;
    for e in std::fs::read_dir(base)
        .map_err(|e| Error::io("reading", base, e))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !entries.contains_key(&name) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    for (id, entry) in entries {
        let run = base.join(id);
        let mark = run.join(".guild/mirrored-etag");
        if std::fs::read_to_string(&mark).is_ok_and(|t| t == entry.etag) {
            continue;
        }
        let _ = std::fs::remove_dir_all(&run);
        fsutil::create_dir_all(&run.join(".guild/attrs"))?;
        for (p, text) in entry.meta.iter().filter(|(p, _)| meta_path_ok(p)) {
            std::fs::write(run.join(p), text).map_err(|e| Error::io("writing", &run, e))?;
        }
        if entry.status == "running" {
            std::fs::write(run.join(".guild/LOCK.remote"), remote)
                .map_err(|e| Error::io("writing", &run, e))?;
        }
        std::fs::write(&mark, &entry.etag).map_err(|e| Error::io("writing", &mark, e))?;
    }
    Ok(())
}

/// What `remote status` found of a bucket.
#[derive(Debug, Clone, Serialize)]
pub struct BucketStatus {
    /// `s3://bucket/root`.
    pub url: String,
    /// The runs there (manifests under `runs/`).
    pub runs: usize,
    /// Writing works; otherwise why not (one line with its fix).
    pub write: std::result::Result<(), String>,
}

impl Client {
    /// `remote status`: reach the bucket (its runs' listing), then write
    /// and delete a small object.
    pub fn status(&self) -> Result<BucketStatus> {
        let runs = self.manifest_etags("runs")?.len();
        let key = self.key(&format!(
            ".guild-write-check-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let write = self
            .rt
            .block_on(async {
                self.store.put(&key, PutPayload::from_static(b"ok")).await?;
                self.store.delete(&key).await
            })
            .map_err(|e| self.explain("writing to", e).message());
        Ok(BucketStatus {
            url: self.bucket.url(),
            runs,
            write,
        })
    }
}

/// Where each run of a mirror is: `runs` or `trash`.
pub fn mirror_places(mirror: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (dir, place) in [
        (mirror.join("runs"), "runs"),
        (mirror.join("trash/runs"), "trash"),
    ] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                place.to_string(),
            );
        }
    }
    out
}
