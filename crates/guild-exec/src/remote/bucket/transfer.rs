//! Push and pull of runs: only files whose size and digest differ are
//! sent; a run's manifest goes last. A push remembers what it sent (per
//! remote, under the home's cache), so a second push of an unchanged run
//! makes no request for it: the manifests' listing says whether the bucket
//! still holds what was pushed.

use super::Client;
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::home::Home;
use guild_format::report::Reporter;
use guild_format::run::Run;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many transfers are in flight at once.
const IN_FLIGHT: usize = 16;
/// A metadata file up to this size is kept in the manifest too.
const META_MAX: u64 = 64 * 1024;

/// One file (or link) of a run, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    /// Modification time, ns since the epoch.
    pub(crate) mtime: i64,
    /// BLAKE3 of the content (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) digest: Option<String>,
    /// Where a link points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<String>,
}

/// A run in the bucket: its files, and its small metadata files inline
/// (what listing shows without reading the files).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) id: String,
    pub(crate) files: Vec<FileEntry>,
    /// `.guild/opref` and `.guild/attrs/*`, path → text.
    pub(crate) meta: BTreeMap<String, String>,
    /// The run's status when pushed (`running` shows as running there).
    pub(crate) status: String,
}

/// What a push or pull did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Moved {
    /// The runs, by id.
    pub ids: Vec<String>,
    /// Files copied.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Runs left as they were (nothing changed).
    pub unchanged: usize,
}

/// What this home last pushed of a run to a remote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Pushed {
    /// The manifest's ETag in the bucket.
    etag: String,
    files: Vec<FileEntry>,
}

/// What a push knows of a run in the bucket.
#[derive(Clone, Copy)]
enum There<'a> {
    /// The manifests' listing: its manifest's ETag there (None: absent).
    Listed(Option<&'a String>),
    /// Nothing changed since this home's last push: its record holds.
    Trusted,
}

/// A run a push sends: the files to upload, then its manifest.
struct Planned<'r> {
    run: &'r Run,
    todo: Vec<FileEntry>,
    manifest: Manifest,
    cache_file: PathBuf,
}

/// The files of a local run dir (not its locks or this machine's
/// placement), sorted.
fn scan(run: &Run) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(&run.dir)
        .min_depth(1)
        .sort_by_file_name()
    {
        let e = e.map_err(|err| Error::user(format!("reading {}: {err}", run.dir.display())))?;
        let rel = e
            .path()
            .strip_prefix(&run.dir)
            .map_err(|_| Error::user("a file outside the run"))?
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".guild/LOCK") || rel == ".guild/placement" {
            continue;
        }
        let md = e
            .path()
            .symlink_metadata()
            .map_err(|err| Error::io("reading", e.path(), err))?;
        let mtime = md.mtime() * 1_000_000_000 + md.mtime_nsec();
        let mode = md.permissions().mode() & 0o7777;
        if md.file_type().is_symlink() {
            let target =
                std::fs::read_link(e.path()).map_err(|err| Error::io("reading", e.path(), err))?;
            out.push(FileEntry {
                path: rel,
                size: 0,
                mode,
                mtime,
                digest: None,
                link: Some(target.to_string_lossy().into_owned()),
            });
        } else if md.is_file() {
            out.push(FileEntry {
                path: rel,
                size: md.len(),
                mode,
                mtime,
                digest: None,
                link: None,
            });
        }
    }
    Ok(out)
}

/// The metadata files listing needs, from a scan of the run.
fn meta_of(run: &Run, files: &[FileEntry]) -> BTreeMap<String, String> {
    files
        .iter()
        .filter(|f| f.link.is_none() && f.size <= META_MAX)
        .filter(|f| f.path == ".guild/opref" || f.path.starts_with(".guild/attrs/"))
        .filter_map(|f| {
            let text = std::fs::read_to_string(run.dir.join(&f.path)).ok()?;
            Some((f.path.clone(), text))
        })
        .collect()
}

impl Client {
    fn cache_dir(&self, home: &Home) -> PathBuf {
        home.cache_dir("remotes").join(&self.remote)
    }

    /// `push`: send `runs` to `place` (`runs`, or `trash` for deleted
    /// runs): the changed files of them all (a bounded number at once,
    /// across runs), then each run's manifest, then the index entries.
    pub fn push(
        &self,
        home: &Home,
        runs: &[Run],
        place: Place,
        report: &dyn Reporter,
    ) -> Result<Moved> {
        let place = place.name();
        let cache = self.cache_dir(home);
        let pushed_dir = cache.join(if place == "trash" {
            "pushed-trash"
        } else {
            "pushed"
        });
        fsutil::create_dir_all(&pushed_dir)?;
        // Nothing changed in the bucket since this home last looked (its
        // meta-id is the one recorded then): what this home pushed is
        // there as it left it, and no listing is needed.
        let known_file = pushed_dir.join(".meta-id");
        let now = self.meta_id()?;
        let trusted = now.is_some() && std::fs::read_to_string(&known_file).ok() == now;
        let listed = if trusted {
            HashMap::new()
        } else {
            self.manifest_etags(place)?
        };
        let mut moved = Moved::default();
        let mut planned = Vec::new();
        for run in runs {
            moved.ids.push(run.id.clone());
            let there = if trusted {
                There::Trusted
            } else {
                There::Listed(listed.get(&run.id))
            };
            match self.plan_one(run, &pushed_dir, place, there, report)? {
                Some(p) => {
                    moved.files += p.todo.len();
                    moved.bytes += p.todo.iter().map(|f| f.size).sum::<u64>();
                    planned.push(p);
                }
                None => moved.unchanged += 1,
            }
        }
        if planned.is_empty() {
            if let Some(id) = now.filter(|_| !trusted) {
                fsutil::write_atomic(&known_file, id.as_bytes())?;
            }
            return Ok(moved);
        }
        let todo: Vec<(&Run, &FileEntry)> = planned
            .iter()
            .flat_map(|p| p.todo.iter().map(move |f| (p.run, f)))
            .collect();
        self.upload(&todo, &cache, place, report)?;
        let mut indexed = Vec::new();
        for p in planned {
            let etag = self.put_manifest(place, &p.manifest)?;
            let record = Pushed {
                etag: etag.clone(),
                files: p.manifest.files.clone(),
            };
            let text = serde_json::to_vec(&record).map_err(|e| Error::user(e.to_string()))?;
            fsutil::write_atomic(&p.cache_file, &text)?;
            indexed.push((p.manifest, etag));
        }
        self.index_add(place, indexed);
        // What this home knows stays current unless another writer
        // changed the bucket meanwhile (then the next push lists it).
        let unchanged = self.meta_id()? == now;
        let id = self.touch_meta_id()?;
        if unchanged {
            fsutil::write_atomic(&known_file, id.as_bytes())?;
        } else {
            fsutil::remove_if_exists(&known_file)?;
        }
        Ok(moved)
    }

    /// What a push of `run` sends (None: it is unchanged since this home
    /// pushed it, and the bucket still holds that push).
    fn plan_one<'r>(
        &self,
        run: &'r Run,
        pushed_dir: &Path,
        place: &str,
        there: There,
        report: &dyn Reporter,
    ) -> Result<Option<Planned<'r>>> {
        let mut files = scan(run)?;
        let cache_file = pushed_dir.join(format!("{}.json", run.id));
        let pushed: Option<Pushed> = std::fs::read(&cache_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|p: &Pushed| match there {
                There::Trusted => true,
                There::Listed(etag) => Some(&p.etag) == etag,
            });
        let status = run.status().status.as_str().to_string();
        let before: HashMap<&str, &FileEntry> = pushed
            .as_ref()
            .map(|p| p.files.iter().map(|f| (f.path.as_str(), f)).collect())
            .unwrap_or_default();
        // Unchanged since this home pushed it, and the bucket still holds
        // that push: nothing to send, no request.
        let same = |a: &FileEntry, b: &FileEntry| {
            a.size == b.size && a.mtime == b.mtime && a.mode == b.mode && a.link == b.link
        };
        if pushed.is_some()
            && files.len() == before.len()
            && files
                .iter()
                .all(|f| before.get(f.path.as_str()).is_some_and(|b| same(f, b)))
            && status != "running"
        {
            return Ok(None);
        }
        // What the bucket holds of it (from the cache, else its manifest).
        let there: HashMap<String, FileEntry> = match (&pushed, there) {
            (Some(p), _) => p
                .files
                .iter()
                .map(|f| (f.path.clone(), f.clone()))
                .collect(),
            (None, There::Listed(Some(_)) | There::Trusted) => self
                .manifest(place, &run.id)?
                .map(|m| m.files.into_iter().map(|f| (f.path.clone(), f)).collect())
                .unwrap_or_default(),
            (None, There::Listed(None)) => HashMap::new(),
        };
        let mut todo = Vec::new();
        for f in files.iter_mut().filter(|f| f.link.is_none()) {
            f.digest = match before.get(f.path.as_str()) {
                Some(b) if same(f, b) => b.digest.clone(),
                _ => Some(guild_format::datastore::hash_file(&run.dir.join(&f.path))?),
            };
            let held = there
                .get(&f.path)
                .is_some_and(|t| t.digest == f.digest && t.size == f.size);
            if !held {
                todo.push(f.clone());
            }
        }
        let bytes: u64 = todo.iter().map(|f| f.size).sum();
        if !todo.is_empty() {
            report.progress(&format!(
                "Copying {} to {} ({} file{}, {})",
                run.id,
                self.remote,
                todo.len(),
                if todo.len() == 1 { "" } else { "s" },
                guild_format::text::format_bytes(bytes)
            ));
        }
        let manifest = Manifest {
            id: run.id.clone(),
            meta: meta_of(run, &files),
            files,
            status,
        };
        Ok(Some(Planned {
            run,
            todo,
            manifest,
            cache_file,
        }))
    }

    /// Upload `files` of `run`, a bounded number at once; large ones in
    /// parts (see [`Client::upload_parts`]).
    fn upload(
        &self,
        files: &[(&Run, &FileEntry)],
        cache: &Path,
        place: &str,
        report: &dyn Reporter,
    ) -> Result<()> {
        let large = |f: &FileEntry| f.size >= super::parts::MULTIPART_FROM;
        let small = files.iter().filter(|(_, f)| !large(f));
        for (run, f) in files.iter().filter(|(_, f)| large(f)) {
            let key = self.key(&format!("{}/{}", run_prefix(place, &run.id), f.path));
            let path = run.dir.join(&f.path);
            self.upload_parts(cache, &path, &key, f.size, f.mtime, report)?;
        }
        let store = self.store.clone();
        let jobs = small.map(|(run, f)| {
            let key = self.key(&format!("{}/{}", run_prefix(place, &run.id), f.path));
            let path = run.dir.join(&f.path);
            let store = store.clone();
            async move {
                let data = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
                store
                    .put(&key, PutPayload::from(data))
                    .await
                    .map_err(|e| self.explain("writing to", e))?;
                Ok::<(), Error>(())
            }
        });
        self.in_flight(jobs)
    }

    /// Drive `jobs`, [`IN_FLIGHT`] at once; the first error ends them.
    fn in_flight<F>(&self, jobs: impl Iterator<Item = F>) -> Result<()>
    where
        F: std::future::Future<Output = Result<()>>,
    {
        use futures::stream::{self, StreamExt, TryStreamExt};
        self.rt.block_on(
            stream::iter(jobs)
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<()>>(),
        )?;
        Ok(())
    }

    /// Write a run's manifest under `manifests/PLACE/`; its ETag.
    pub(crate) fn put_manifest(&self, place: &str, m: &Manifest) -> Result<String> {
        let text = serde_json::to_vec(m).map_err(|e| Error::user(e.to_string()))?;
        let key = self.key(&format!("manifests/{place}/{}.json", m.id));
        let r = self
            .rt
            .block_on(self.store.put(&key, PutPayload::from(text)))
            .map_err(|e| self.explain("writing to", e))?;
        Ok(r.e_tag.unwrap_or_default())
    }

    /// A run's manifest under `manifests/PLACE/` (None: there is none).
    pub(crate) fn manifest(&self, place: &str, id: &str) -> Result<Option<Manifest>> {
        let key = self.key(&format!("manifests/{place}/{id}.json"));
        let bytes = match self.rt.block_on(async {
            let got = self.store.get(&key).await?;
            got.bytes().await
        }) {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.explain("reading", e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::user(format!(
                "{}/manifests/{place}/{id}.json is not a run manifest ({e}); push the run again",
                self.bucket.url()
            ))
        })?;
        if m.id != id {
            return Err(Error::user(format!(
                "{}/manifests/{place}/{id}.json names another run ({}); push the run again",
                self.bucket.url(),
                guild_format::text::escape(&m.id)
            )));
        }
        Ok(Some(m))
    }

    /// Say that something changed, as Guild's s3 remote does (its
    /// clients re-read the runs when `meta-id` changes). The new id.
    pub(crate) fn touch_meta_id(&self) -> Result<String> {
        let key = self.key("meta-id");
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.rt
            .block_on(
                self.store
                    .put(&key, PutPayload::from(id.clone().into_bytes())),
            )
            .map_err(|e| self.explain("writing to", e))?;
        Ok(id)
    }

    /// `meta-id` as it is now (None: the bucket has none yet). Every
    /// change touches it after it is made, so a reader that read it before
    /// looking and finds it the same later knows nothing changed since.
    pub(crate) fn meta_id(&self) -> Result<Option<String>> {
        let key = self.key("meta-id");
        match self.rt.block_on(async {
            let got = self.store.get(&key).await?;
            got.bytes().await
        }) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).trim().to_string())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.explain("reading", e)),
        }
    }

    /// `pull`: bring runs `ids` of `place` (`runs`, or `trash` for
    /// deleted runs) into `runs_dir`, each as its manifest says: changed
    /// files only, modes and times kept.
    pub fn pull(
        &self,
        runs_dir: &Path,
        ids: &[String],
        place: Place,
        report: &dyn Reporter,
    ) -> Result<Moved> {
        let place = place.name();
        let mut moved = Moved::default();
        for id in ids {
            guild_format::run::check_id(id, &format!("remote '{}'", self.remote))?;
            let m = self.manifest(place, id)?.ok_or_else(|| {
                let deleted = if place == "trash" { " --deleted" } else { "" };
                Error::user(format!(
                    "there is no {}run {id} on remote '{}'; `guild runs --remote {}{deleted}` lists them",
                    if place == "trash" { "deleted " } else { "" },
                    self.remote,
                    self.remote
                ))
            })?;
            let (files, bytes) = self.pull_one(runs_dir, &m, place, report)?;
            if files == 0 {
                moved.unchanged += 1;
            }
            moved.files += files;
            moved.bytes += bytes;
            moved.ids.push(id.clone());
        }
        Ok(moved)
    }

    fn pull_one(
        &self,
        runs_dir: &Path,
        m: &Manifest,
        place: &str,
        report: &dyn Reporter,
    ) -> Result<(usize, u64)> {
        let dest = runs_dir.join(&m.id);
        if dest
            .symlink_metadata()
            .is_ok_and(|md| md.file_type().is_symlink())
        {
            return Err(Error::user(format!(
                "{} is a link; refusing to pull run {} through it",
                dest.display(),
                m.id
            )));
        }
        for f in &m.files {
            if !fsutil::is_plain_rel(&f.path) {
                return Err(Error::user(format!(
                    "run {} on remote '{}' names the file '{}', which is not a path inside the run; refusing it",
                    m.id,
                    self.remote,
                    guild_format::text::escape(&f.path)
                )));
            }
        }
        let mut todo = Vec::new();
        for f in &m.files {
            let local = dest.join(&f.path);
            let md = local.symlink_metadata().ok();
            let same = match (&f.link, md) {
                (Some(t), Some(md)) if md.file_type().is_symlink() => {
                    std::fs::read_link(&local).is_ok_and(|l| l.to_string_lossy() == *t)
                }
                (None, Some(md)) if md.is_file() && md.len() == f.size => {
                    let mtime = md.mtime() * 1_000_000_000 + md.mtime_nsec();
                    mtime == f.mtime
                        || f.digest.as_deref()
                            == guild_format::datastore::hash_file(&local).ok().as_deref()
                }
                _ => false,
            };
            if !same {
                todo.push(f.clone());
            }
        }
        // A run that was running when pushed shows as running here. Its
        // end shows only once its last files are here (after the
        // download): a `watch` that sees it end has its last output.
        let lock = dest.join(".guild/LOCK.remote");
        let mark = |lock: &Path| -> Result<()> {
            if m.status == "running" {
                make_dirs_inside(&dest, Path::new(".guild"))?;
                fsutil::write_atomic(lock, self.remote.as_bytes())
            } else {
                fsutil::remove_if_exists(lock)
            }
        };
        if todo.is_empty() {
            mark(&lock)?;
            return Ok((0, 0));
        }
        let bytes: u64 = todo.iter().map(|f| f.size).sum();
        report.progress(&format!(
            "Copying {} from {} ({} file{}, {})",
            m.id,
            self.remote,
            todo.len(),
            if todo.len() == 1 { "" } else { "s" },
            guild_format::text::format_bytes(bytes)
        ));
        if m.status == "running" {
            mark(&lock)?;
        }
        self.download(&dest, &run_prefix(place, &m.id), &todo, report)?;
        mark(&lock)?;
        Ok((todo.len(), bytes))
    }

    /// Download `files` of the run at `prefix` into `dest`, each into a
    /// temporary name renamed into place, with its mode and time.
    fn download(
        &self,
        dest: &Path,
        prefix: &str,
        files: &[FileEntry],
        report: &dyn Reporter,
    ) -> Result<()> {
        let id = prefix.rsplit('/').next().unwrap_or(prefix);
        for f in files {
            if let Some(parent) = Path::new(&f.path).parent() {
                make_dirs_inside(dest, parent)?;
            }
        }
        for f in files.iter().filter(|f| f.link.is_some()) {
            let at = dest.join(&f.path);
            let _ = std::fs::remove_file(&at);
            std::os::unix::fs::symlink(f.link.as_deref().unwrap_or_default(), &at)
                .map_err(|e| Error::io("linking", &at, e))?;
        }
        let jobs = files.iter().filter(|f| f.link.is_none()).map(|f| {
            let key = self.key(&format!("{prefix}/{}", f.path));
            let at = dest.join(&f.path);
            async move {
                // A stable temporary name: a pull cut short is continued.
                let tmp = at.with_file_name(format!(
                    ".{}.guild-pull",
                    at.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                ));
                let as_said = |tmp: &Path| {
                    tmp.metadata().is_ok_and(|m| m.len() == f.size)
                        && (f.digest.is_none()
                            || f.digest.as_deref()
                                == guild_format::datastore::hash_file(tmp).ok().as_deref())
                };
                let resumed = self.download_to(&key, &tmp, f.size, report).await?;
                let mut ok = as_said(&tmp);
                if !ok && resumed {
                    // What an earlier pull left was of another version of
                    // the file: fetched again whole.
                    let _ = std::fs::remove_file(&tmp);
                    self.download_to(&key, &tmp, f.size, report).await?;
                    ok = as_said(&tmp);
                }
                if !ok {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(Error::user(format!(
                        "{} of run {id} on remote '{}' is not what its manifest says; push the run again, then pull",
                        f.path, self.remote
                    )));
                }
                set_mode_time(&tmp, f)?;
                if at.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(Error::user(format!("{} is a directory here", at.display())));
                }
                std::fs::rename(&tmp, &at).map_err(|e| Error::io("writing", &at, e))?;
                Ok::<(), Error>(())
            }
        });
        self.in_flight(jobs)
    }
}

/// Where runs go in a bucket: its runs, or its trash (deleted runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `runs/ID`: the runs there.
    Runs,
    /// `trash/runs/ID`: its deleted runs.
    Trash,
}

impl Place {
    /// `runs` or `trash`: the manifests' and the index's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Place::Runs => "runs",
            Place::Trash => "trash",
        }
    }
}

/// Where the files of run `id` are under the root: `runs/ID`, or
/// `trash/runs/ID` for `place` `trash` (the manifest's place).
fn run_prefix(place: &str, id: &str) -> String {
    if place == "trash" {
        format!("trash/runs/{id}")
    } else {
        format!("runs/{id}")
    }
}

/// Make `rel` (plain names) under `base`, never through a link.
fn make_dirs_inside(base: &Path, rel: &Path) -> Result<()> {
    let mut at = base.to_path_buf();
    fsutil::create_dir_all(base)?;
    for c in rel.components() {
        at.push(c);
        match at.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::user(format!(
                    "{} is not a directory; refusing to write through it",
                    at.display()
                )))
            }
            Err(_) => std::fs::create_dir(&at).map_err(|e| Error::io("creating", &at, e))?,
        }
    }
    Ok(())
}

fn set_mode_time(path: &Path, f: &FileEntry) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(f.mode & 0o7777))
        .map_err(|e| Error::io("writing", path, e))?;
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            (f.mtime / 1_000_000_000) as u64,
            (f.mtime % 1_000_000_000) as u32,
        );
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .or_else(|_| std::fs::File::open(path))
        .map_err(|e| Error::io("writing", path, e))?;
    file.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
        .map_err(|e| Error::io("writing", path, e))?;
    Ok(())
}

impl Client {
    /// Every key under `prefix/`.
    fn keys_under(&self, prefix: &str) -> Result<Vec<object_store::path::Path>> {
        use futures::TryStreamExt;
        let p = self.key(prefix);
        let metas: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(self.store.list(Some(&p)).try_collect())
            .map_err(|e| self.explain("listing", e))?;
        Ok(metas.into_iter().map(|m| m.location).collect())
    }

    /// Move run `id` from `from` (`runs` or `trash`) to `to`: its files
    /// copied, its manifest moved (the run shows in its new place at
    /// once), then the old files removed.
    pub fn move_run(&self, id: &str, from: &str, to: &str) -> Result<()> {
        guild_format::run::check_id(id, &format!("remote '{}'", self.remote))?;
        let (src, dst) = (run_prefix(from, id), run_prefix(to, id));
        let keys = self.keys_under(&src)?;
        let src_prefix = self.key(&src);
        let dst_prefix = self.key(&dst);
        let copies = keys.iter().filter_map(|k| {
            let rest = k.prefix_match(&src_prefix)?;
            let mut target = dst_prefix.clone();
            for part in rest {
                target = target.child(part);
            }
            Some((k.clone(), target))
        });
        self.rt
            .block_on(async {
                for (a, b) in copies {
                    self.store.copy(&a, &b).await?;
                }
                let (ma, mb) = (
                    self.key(&format!("manifests/{from}/{id}.json")),
                    self.key(&format!("manifests/{to}/{id}.json")),
                );
                self.store.copy(&ma, &mb).await?;
                self.store.delete(&ma).await?;
                for k in &keys {
                    self.store.delete(k).await?;
                }
                Ok::<(), object_store::Error>(())
            })
            .map_err(|e| self.explain("moving a run in", e))?;
        self.touch_meta_id().map(drop)
    }

    /// Remove run `id` from `place` for good: its manifest first (it is
    /// gone from listings at once), then its files.
    pub fn purge_run(&self, id: &str, place: &str) -> Result<()> {
        guild_format::run::check_id(id, &format!("remote '{}'", self.remote))?;
        let keys = self.keys_under(&run_prefix(place, id))?;
        let manifest = self.key(&format!("manifests/{place}/{id}.json"));
        self.rt
            .block_on(async {
                self.store.delete(&manifest).await?;
                for k in &keys {
                    self.store.delete(k).await?;
                }
                Ok::<(), object_store::Error>(())
            })
            .map_err(|e| self.explain("deleting in", e))?;
        self.touch_meta_id().map(drop)
    }
}
