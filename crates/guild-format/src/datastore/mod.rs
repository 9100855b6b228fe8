//! Datastores: named, versioned, immutable sets of files in the guild home
//! (`<home>/datastores`), stored by content.
//!
//! ```text
//! datastores/
//!   objects/ab/cdef...       one read-only file per content (BLAKE3 digest)
//!   manifests/DIGEST.json    a version's files: path -> digest, size, mode
//!   names/NAME/N.json        version N of NAME: its manifest digest, when, from where
//!   cache/hashes             digests of source files by device, inode, size, mtime
//!   tmp/                     objects being written (removed by the next create or gc)
//!   LOCK                     creates hold it shared, gc exclusively
//! ```
//!
//! A create writes every new object into `tmp/`, syncs the filesystem once,
//! renames the objects into place, writes the manifest, and makes the version
//! visible last, with one link of its file (which fails if another create
//! took the number: it takes the next). Killed at any point, it leaves no
//! version and no half-written object. An unchanged tree is not read again:
//! a file whose device, inode, size and mtime are in the hash cache keeps its
//! digest. Objects are written once and made read-only; `verify` hashes them
//! again and names any whose content changed.

use crate::error::{Error, Result};
use crate::fsutil;
use crate::home::Home;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

mod mount;
pub use mount::{mounted, mounted_in, relink, Mounted};

/// One file (or link) of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path inside the datastore, `/`-separated.
    pub path: String,
    /// The content's digest (BLAKE3, hex); None for a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The size in bytes.
    pub size: u64,
    /// The permission bits (a mounted file is read-only whatever they say).
    pub mode: u32,
    /// For a link: where it points (inside the datastore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Version N of a datastore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The datastore's name.
    pub name: String,
    /// Its number, from 1.
    pub version: u32,
    /// The digest of its manifest: what identifies its content.
    pub manifest: String,
    /// When it was created (µs since the epoch).
    pub created: i64,
    /// How many files it holds (links included).
    pub files: usize,
    /// Their total size in bytes.
    pub size: u64,
    /// Where it was created from.
    pub source: String,
}

/// What a create did.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The version (a new one, or the latest when nothing changed).
    pub version: Version,
    /// False when the latest version already had this content.
    pub new: bool,
    /// Objects written (contents the store did not have).
    pub objects_written: usize,
    /// Files read and hashed (the others were in the hash cache).
    pub files_hashed: usize,
}

/// The datastores of a guild home.
pub struct Store {
    root: PathBuf,
}

/// `NAME` or `NAME:VERSION`, checked.
pub fn parse_ref(spec: &str) -> Result<(String, Option<u32>)> {
    let (name, version) = match spec.rsplit_once(':') {
        Some((n, v)) => {
            let v: u32 = v.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
                Error::user(format!(
                    "invalid datastore version '{}' in '{}': give a number from 1 (NAME:VERSION)",
                    crate::text::escape(v),
                    crate::text::escape(spec)
                ))
            })?;
            (n, Some(v))
        }
        None => (spec, None),
    };
    check_name(name)?;
    Ok((name.to_string(), version))
}

/// A datastore name: letters, digits, `.`, `_`, `-`, not starting with
/// `.` or `-`, at most 100 characters.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::user(format!(
            "invalid datastore name '{}': use up to 100 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
            crate::text::escape(name)
        )))
    }
}

/// A BLAKE3 digest as the store names things by it: 64 lowercase hex
/// digits. Anything read from the store's files is checked before it
/// becomes a path.
fn is_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Store {
    /// The datastores of `home`.
    pub fn of(home: &Home) -> Store {
        Store {
            root: home.path.join("datastores"),
        }
    }

    fn object_path(&self, digest: &str) -> PathBuf {
        self.root
            .join("objects")
            .join(&digest[..2])
            .join(&digest[2..])
    }

    fn manifest_path(&self, digest: &str) -> PathBuf {
        self.root.join("manifests").join(format!("{digest}.json"))
    }

    fn name_dir(&self, name: &str) -> PathBuf {
        self.root.join("names").join(name)
    }

    /// Hold the store's lock: shared for a create, exclusive for gc.
    fn lock(&self, exclusive: bool) -> Result<std::fs::File> {
        fsutil::create_dir_all(&self.root)?;
        let path = self.root.join("LOCK");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening", &path, e))?;
        let op = if exclusive {
            nix::fcntl::FlockArg::LockExclusive
        } else {
            nix::fcntl::FlockArg::LockShared
        };
        #[allow(deprecated)]
        nix::fcntl::flock(std::os::fd::AsRawFd::as_raw_fd(&f), op)
            .map_err(|e| Error::io("locking", &path, std::io::Error::from(e)))?;
        Ok(f)
    }

    /// The versions of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Version>> {
        check_name(name)?;
        let dir = self.name_dir(name);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading", &dir, e)),
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some(n) = file
                .strip_suffix(".json")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let text =
                std::fs::read(e.path()).map_err(|err| Error::io("reading", &e.path(), err))?;
            let v: Version = serde_json::from_slice(&text).map_err(|err| {
                Error::user(format!(
                    "{} is not a datastore version ({err}); remove it",
                    e.path().display()
                ))
            })?;
            if v.version == n && v.name == name && is_digest(&v.manifest) {
                out.push(v);
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    /// Every datastore name, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let dir = self.root.join("names");
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading", &dir, e)),
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| check_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Version `version` of `name` (None: the latest).
    pub fn find(&self, name: &str, version: Option<u32>) -> Result<Version> {
        let all = self.versions(name)?;
        let found = match version {
            Some(n) => all.into_iter().find(|v| v.version == n),
            None => all.into_iter().last(),
        };
        found.ok_or_else(|| match version {
            Some(n) => Error::user(format!(
                "datastore {name} has no version {n}; `guild datastores info {name}` lists its versions"
            )),
            None => Error::user(format!(
                "there is no datastore {name}; create it with `guild datastores create {name} DIR`"
            )),
        })
    }

    /// The files of a version.
    pub fn manifest(&self, v: &Version) -> Result<Vec<Entry>> {
        let path = self.manifest_path(&v.manifest);
        let text = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        let entries: Vec<Entry> = serde_json::from_slice(&text).map_err(|e| {
            Error::user(format!(
                "{} is not a datastore manifest ({e}); `guild datastores verify` checks the store",
                path.display()
            ))
        })?;
        if let Some(bad) = entries
            .iter()
            .find(|e| e.digest.as_deref().is_some_and(|d| !is_digest(d)))
        {
            return Err(Error::user(format!(
                "{} names '{}' for {}, which is not a digest; create the version again",
                path.display(),
                crate::text::escape(bad.digest.as_deref().unwrap_or_default()),
                crate::text::escape(&bad.path)
            )));
        }
        Ok(entries)
    }

    /// Every version of every datastore, with its files.
    fn all_versions(&self) -> Result<Vec<(Version, Vec<Entry>)>> {
        let mut out = Vec::new();
        for name in self.names()? {
            for v in self.versions(&name)? {
                let entries = self.manifest(&v)?;
                out.push((v, entries));
            }
        }
        Ok(out)
    }

    /// Every stored object: its digest and path.
    fn objects(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let odir = self.root.join("objects");
        for sub in std::fs::read_dir(odir).into_iter().flatten().flatten() {
            let prefix = sub.file_name().to_string_lossy().into_owned();
            for e in std::fs::read_dir(sub.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push((
                    format!("{prefix}{}", e.file_name().to_string_lossy()),
                    e.path(),
                ));
            }
        }
        out
    }

    /// Store `source` (a directory or a file) as the next version of
    /// `name`, or return the latest version when it has the same content.
    /// With `skip_guild`, the source's `.guild` directory is left out (a
    /// run's directory published as data).
    pub fn create(&self, name: &str, source: &Path, skip_guild: bool) -> Result<Created> {
        check_name(name)?;
        let _lock = self.lock(false)?;
        let root = source
            .canonicalize()
            .map_err(|e| Error::io("reading", source, e))?;
        let mut scanned = scan(&root)?;
        if skip_guild {
            scanned.retain(|s| s.rel != ".guild" && !s.rel.starts_with(".guild/"));
        }
        if scanned.is_empty() {
            return Err(Error::user(format!(
                "{} holds no files; a datastore needs at least one",
                root.display()
            )));
        }
        let mut cache = HashCache::load(&self.root.join("cache").join("hashes"));
        let (entries, written, hashed) = self.store_files(&root, scanned, &mut cache)?;
        let manifest = serde_json::to_vec(&entries).map_err(|e| Error::user(e.to_string()))?;
        let digest = blake3::hash(&manifest).to_hex().to_string();
        let mpath = self.manifest_path(&digest);
        if !mpath.exists() {
            fsutil::create_dir_all(&self.root.join("manifests"))?;
            fsutil::write_atomic(&mpath, &manifest)?;
        }
        cache.save()?;
        if let Some(latest) = self.versions(name)?.into_iter().last() {
            if latest.manifest == digest {
                return Ok(Created {
                    version: latest,
                    new: false,
                    objects_written: written,
                    files_hashed: hashed,
                });
            }
        }
        let version =
            self.publish_at(name, None, &digest, &entries, &root.display().to_string())?;
        Ok(Created {
            version,
            new: true,
            objects_written: written,
            files_hashed: hashed,
        })
    }

    /// Make a version of `name` visible: its file linked into place, as
    /// number `want` when that is free, else the next after the latest (a
    /// number another create takes meanwhile is skipped).
    fn publish_at(
        &self,
        name: &str,
        want: Option<u32>,
        digest: &str,
        entries: &[Entry],
        source: &str,
    ) -> Result<Version> {
        let dir = self.name_dir(name);
        fsutil::create_dir_all(&dir)?;
        let next =
            |s: &Store| Ok::<u32, Error>(s.versions(name)?.last().map_or(1, |v| v.version + 1));
        let mut n = match want {
            Some(w) if !dir.join(format!("{w}.json")).exists() => w,
            _ => next(self)?,
        };
        loop {
            let v = Version {
                name: name.to_string(),
                version: n,
                manifest: digest.to_string(),
                created: now_us(),
                files: entries.len(),
                size: entries.iter().map(|e| e.size).sum(),
                source: source.to_string(),
            };
            let text = serde_json::to_vec_pretty(&v).map_err(|e| Error::user(e.to_string()))?;
            let tmp = dir.join(format!(".{n}.{}.tmp", uuid::Uuid::new_v4().simple()));
            fsutil::write_atomic(&tmp, &text)?;
            let done = std::fs::hard_link(&tmp, dir.join(format!("{n}.json")));
            let _ = std::fs::remove_file(&tmp);
            match done {
                Ok(()) => return Ok(v),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    n = next(self)?.max(n + 1)
                }
                Err(e) => return Err(Error::io("publishing", &dir, e)),
            }
        }
    }

    /// The objects of `scanned` files: digests from the cache, new ones
    /// hashed while copied into `tmp/` (in parallel), synced once and
    /// renamed into place. Returns the entries, objects written and files
    /// hashed.
    fn store_files(
        &self,
        root: &Path,
        scanned: Vec<Scanned>,
        cache: &mut HashCache,
    ) -> Result<(Vec<Entry>, usize, usize)> {
        let tmp = self.root.join("tmp");
        fsutil::create_dir_all(&tmp)?;
        let mut todo: Vec<usize> = Vec::new();
        let mut digests: Vec<Option<String>> = vec![None; scanned.len()];
        for (i, s) in scanned.iter().enumerate() {
            if s.link.is_some() {
                continue;
            }
            match cache.get(&s.key) {
                Some(d) if self.object_path(d).exists() => digests[i] = Some(d.to_string()),
                _ => todo.push(i),
            }
        }
        let results: Vec<Result<Hashed>> = parallel(&todo, |&i| {
            let src = root.join(&scanned[i].rel);
            let (digest, staged) = self.hash_into(&src, &tmp)?;
            Ok((i, digest, staged))
        })?;
        let mut staged: Vec<(PathBuf, String)> = Vec::new();
        for r in results {
            {
                let (i, digest, tmpfile) = r?;
                cache.put(scanned[i].key, &digest);
                if let Some(t) = tmpfile {
                    staged.push((t, digest.clone()));
                }
                digests[i] = Some(digest);
            }
        }
        let written = self.place_objects(staged)?;
        let entries = scanned
            .into_iter()
            .zip(digests)
            .map(|(s, d)| Entry {
                path: s.rel,
                digest: if s.link.is_some() { None } else { d },
                size: s.size,
                mode: s.mode,
                link: s.link,
            })
            .collect();
        Ok((entries, written, todo.len()))
    }

    /// Hash `src`; when the store lacks its content, copy it into `tmp`
    /// while hashing (one read) and return that copy too.
    fn hash_into(&self, src: &Path, tmp: &Path) -> Result<(String, Option<PathBuf>)> {
        let out_path = tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let mut out =
            std::fs::File::create(&out_path).map_err(|e| Error::io("writing", &out_path, e))?;
        let digest = hash_copy(src, Some((&mut out, &out_path)))?;
        drop(out);
        if self.object_path(&digest).exists() {
            let _ = std::fs::remove_file(&out_path);
            return Ok((digest, None));
        }
        Ok((digest, Some(out_path)))
    }

    /// Sync the new objects once, make them read-only and rename them into
    /// place (a content already there keeps the first copy).
    fn place_objects(&self, staged: Vec<(PathBuf, String)>) -> Result<usize> {
        if staged.is_empty() {
            return Ok(0);
        }
        if fsutil::syncing() {
            let dir = std::fs::File::open(self.root.join("tmp"))
                .map_err(|e| Error::io("opening", &self.root, e))?;
            // One sync of the filesystem for every object written.
            nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir))
                .map_err(|e| Error::io("syncing", &self.root, std::io::Error::from(e)))?;
        }
        let mut written = 0;
        for (tmp, digest) in staged {
            let dest = self.object_path(&digest);
            if dest.exists() {
                let _ = std::fs::remove_file(&tmp);
                continue;
            }
            if let Some(parent) = dest.parent() {
                fsutil::create_dir_all(parent)?;
            }
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io("protecting", &tmp, e))?;
            std::fs::rename(&tmp, &dest).map_err(|e| Error::io("storing", &dest, e))?;
            written += 1;
        }
        Ok(written)
    }

    /// The read-only tree of a version's files (links to its objects), built
    /// once per version under `trees/MANIFEST` and shared by every run
    /// that mounts it: a mount is one link to it, never a copy.
    pub fn materialize(&self, v: &Version) -> Result<PathBuf> {
        let dest = self.root.join("trees").join(&v.manifest);
        if dest.is_dir() {
            return Ok(dest);
        }
        let _lock = self.lock(false)?;
        let entries = self.manifest(v)?;
        let tmp = self
            .root
            .join("trees")
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        fsutil::create_dir_all(&tmp)?;
        for e in &entries {
            if !fsutil::is_plain_rel(&e.path) {
                return Err(Error::user(format!(
                    "datastore {}:{} names a path outside it ({}); `guild datastores verify` checks the store",
                    v.name, v.version, e.path
                )));
            }
            let path = tmp.join(&e.path);
            if let Some(parent) = path.parent() {
                if !parent.is_dir() {
                    fsutil::create_dir_all(parent)?;
                }
            }
            match (&e.link, &e.digest) {
                (Some(target), _) => std::os::unix::fs::symlink(target, &path)
                    .map_err(|err| Error::io("linking", &path, err))?,
                (None, Some(d)) => {
                    std::fs::hard_link(self.object_path(d), &path).map_err(|err| {
                        Error::io("linking (run `guild datastores verify`)", &path, err)
                    })?
                }
                (None, None) => {}
            }
        }
        // Directories read-only too: nothing can be added or removed.
        for d in walkdir::WalkDir::new(&tmp)
            .contents_first(true)
            .into_iter()
            .flatten()
        {
            if d.file_type().is_dir() {
                let _ = std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o555));
            }
        }
        match std::fs::rename(&tmp, &dest) {
            Ok(()) => Ok(dest),
            // Another run built it first: use theirs.
            Err(_) if dest.is_dir() => {
                let _ = make_writable_and_remove(&tmp);
                Ok(dest)
            }
            Err(err) => Err(Error::io("placing", &dest, err)),
        }
    }

    /// Delete version `v`. Its objects stay until `gc`.
    pub fn delete(&self, v: &Version) -> Result<()> {
        check_name(&v.name)?;
        let dir = self.name_dir(&v.name);
        fsutil::remove_if_exists(&dir.join(format!("{}.json", v.version)))?;
        // The name goes with its last version.
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }

    /// Remove what no version needs: manifests, objects, and what killed
    /// creates left in `tmp/`. Waits for running creates (the lock).
    pub fn gc(&self) -> Result<Gc> {
        let _lock = self.lock(true)?;
        let mut keep_manifests = HashSet::new();
        let mut keep_objects = HashSet::new();
        for (v, entries) in self.all_versions()? {
            keep_objects.extend(entries.into_iter().filter_map(|e| e.digest));
            keep_manifests.insert(v.manifest);
        }
        let mut report = Gc::default();
        let mdir = self.root.join("manifests");
        for e in std::fs::read_dir(&mdir).into_iter().flatten().flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            let d = f.strip_suffix(".json").unwrap_or(&f);
            if !keep_manifests.contains(d) {
                fsutil::remove_if_exists(&e.path())?;
                report.manifests += 1;
            }
        }
        for (d, path) in self.objects() {
            if !keep_objects.contains(&d) {
                report.bytes += path.metadata().map(|m| m.len()).unwrap_or(0);
                fsutil::remove_if_exists(&path)?;
                report.objects += 1;
            }
        }
        for sub in std::fs::read_dir(self.root.join("objects"))
            .into_iter()
            .flatten()
            .flatten()
        {
            // Only an empty prefix directory goes.
            let _ = std::fs::remove_dir(sub.path());
        }
        // The read-only trees of versions no longer kept.
        for e in std::fs::read_dir(self.root.join("trees"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let f = e.file_name().to_string_lossy().into_owned();
            if !keep_manifests.contains(&f) {
                let _ = make_writable_and_remove(&e.path());
            }
        }
        for e in std::fs::read_dir(self.root.join("tmp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            fsutil::remove_if_exists(&e.path())?;
            report.partial += 1;
        }
        Ok(report)
    }

    /// Hash every object again (in parallel); the digests of those whose
    /// content no longer matches their name, and of objects a version
    /// needs that are missing.
    pub fn verify(&self) -> Result<Verified> {
        let objects = self.objects();
        let changed: Vec<String> = parallel(&objects, |(digest, path)| {
            (hash_copy(path, None).ok().as_deref() != Some(digest.as_str())).then(|| digest.clone())
        })?
        .into_iter()
        .flatten()
        .collect();
        let present: HashSet<&str> = objects.iter().map(|(d, _)| d.as_str()).collect();
        let mut missing = BTreeMap::new();
        for (v, entries) in self.all_versions()? {
            for e in entries {
                if let Some(d) = e.digest.filter(|d| !present.contains(d.as_str())) {
                    missing.insert(d, format!("{}:{} {}", v.name, v.version, e.path));
                }
            }
        }
        let mut changed = changed;
        changed.sort();
        Ok(Verified {
            objects: objects.len(),
            changed,
            missing: missing.into_iter().collect(),
        })
    }
}

/// Run ids in `runs_dir` by the datastore versions they mount (their
/// `datastores` attr: a list of `{name, version, ...}`).
pub fn runs_using(runs_dir: &Path) -> BTreeMap<(String, u32), Vec<String>> {
    let mut out: BTreeMap<(String, u32), Vec<String>> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(runs_dir) else {
        return out;
    };
    for e in rd.flatten() {
        let attr = e.path().join(".guild/attrs/datastores");
        let Ok(text) = std::fs::read_to_string(&attr) else {
            continue;
        };
        let value: Option<serde_yaml_ng::Value> = serde_yaml_ng::from_str(&text).ok();
        for m in mount::mounted_in(value.as_ref()) {
            out.entry((m.name, m.version))
                .or_default()
                .push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

/// Remove a read-only tree.
fn make_writable_and_remove(dir: &Path) -> std::io::Result<()> {
    for d in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if d.file_type().is_dir() {
            let _ = std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755));
        }
    }
    std::fs::remove_dir_all(dir)
}

/// What `gc` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gc {
    /// Objects no version needs.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Manifests no version names.
    pub manifests: usize,
    /// Files killed creates left half-written.
    pub partial: usize,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    /// Objects hashed.
    pub objects: usize,
    /// Objects whose content no longer matches their digest.
    pub changed: Vec<String>,
    /// Objects a version needs that are not in the store (digest, and
    /// the first `NAME:VERSION PATH` that needs it).
    pub missing: Vec<(String, String)>,
}

/// `f` over `items` on up to 8 threads (the store's hashing is CPU and
/// I/O bound alike); the results in no particular order. A worker that
/// panicked is an error, never a silently shorter list.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
        .min(items.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| {
                    let mut out = Vec::new();
                    while let Some(item) =
                        items.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        out.push(f(item));
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| Error::user("a datastore worker thread failed"))?,
            );
        }
        Ok(all)
    })
}

/// The BLAKE3 digest of `src`'s content, copied to `out` on the way when
/// given (one read for both).
/// The BLAKE3 digest of a file (hex): what the store names content by.
pub fn hash_file(path: &Path) -> Result<String> {
    hash_copy(path, None)
}

fn hash_copy(src: &Path, mut out: Option<(&mut std::fs::File, &Path)>) -> Result<String> {
    let mut f = std::fs::File::open(src).map_err(|e| Error::io("reading", src, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("reading", src, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some((w, path)) = out.as_mut() {
            w.write_all(&buf[..n])
                .map_err(|e| Error::io("writing", path, e))?;
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// A file of the source, as found.
struct Scanned {
    rel: String,
    size: u64,
    mode: u32,
    key: Key,
    link: Option<String>,
}

/// A file hashed by a create: its index, digest, and its copy in `tmp/`
/// when the store lacked its content.
type Hashed = (usize, String, Option<PathBuf>);

/// What identifies an unchanged file: device, inode, size, mtime (ns).
type Key = (u64, u64, u64, i128);

/// The files and links of `root` (a directory, or a single file), sorted.
/// A link must point inside `root`.
fn scan(root: &Path) -> Result<Vec<Scanned>> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io("reading", root, e))?;
    let entry = |rel: String, m: &std::fs::Metadata| Scanned {
        rel,
        size: m.len(),
        mode: m.mode() & 0o777,
        key: (
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ),
        link: None,
    };
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into());
        return Ok(vec![entry(name, &meta)]);
    }
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::user(format!("cannot read {}: {e}", root.display())))?;
        let path = e.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let rel_s = rel
            .to_str()
            .ok_or_else(|| {
                Error::user(format!("{} is not a UTF-8 path; rename it", path.display()))
            })?
            .to_string();
        let m = e
            .path()
            .symlink_metadata()
            .map_err(|err| Error::io("reading", path, err))?;
        let ft = m.file_type();
        if ft.is_dir() {
            continue;
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(|err| Error::io("reading", path, err))?;
            let resolved = path.parent().unwrap_or(root).join(&target);
            let inside = resolved.canonicalize().is_ok_and(|t| t.starts_with(root));
            if !inside || target.is_absolute() {
                return Err(Error::user(format!(
                    "{} links to {}, outside {} (or nowhere); a datastore holds only links inside it: copy the file in, or remove the link",
                    rel.display(),
                    target.display(),
                    root.display()
                )));
            }
            out.push(Scanned {
                rel: rel_s,
                size: 0,
                mode: 0o777,
                key: (0, 0, 0, 0),
                link: Some(target.to_string_lossy().into_owned()),
            });
        } else if ft.is_file() {
            out.push(entry(rel_s, &m));
        } else {
            return Err(Error::user(format!(
                "{} is not a regular file, a directory or a link; a datastore cannot hold it",
                path.display()
            )));
        }
    }
    Ok(out)
}

/// Digests of source files by [`Key`]: `DEV INO SIZE MTIME DIGEST` lines,
/// rewritten whole (atomically) after a create.
struct HashCache {
    path: PathBuf,
    map: HashMap<Key, String>,
    changed: bool,
}

impl HashCache {
    fn load(path: &Path) -> HashCache {
        let mut map = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines() {
                let f: Vec<&str> = line.split(' ').collect();
                if let [d, i, s, m, h] = f[..] {
                    if let (Ok(d), Ok(i), Ok(s), Ok(m)) =
                        (d.parse(), i.parse(), s.parse(), m.parse())
                    {
                        if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                            map.insert((d, i, s, m), h.to_string());
                        }
                    }
                }
            }
        }
        HashCache {
            path: path.to_path_buf(),
            map,
            changed: false,
        }
    }

    fn get(&self, k: &Key) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }

    fn put(&mut self, k: Key, digest: &str) {
        if self.map.get(&k).map(String::as_str) != Some(digest) {
            self.map.insert(k, digest.to_string());
            self.changed = true;
        }
    }

    fn save(&self) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        let mut text = String::with_capacity(self.map.len() * 100);
        for ((d, i, s, m), h) in &self.map {
            text.push_str(&format!("{d} {i} {s} {m} {h}\n"));
        }
        if let Some(parent) = self.path.parent() {
            fsutil::create_dir_all(parent)?;
        }
        fsutil::write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Home) {
        let t = tempfile::tempdir().unwrap();
        let h = Home {
            path: t.path().join("home"),
        };
        std::fs::create_dir_all(&h.path).unwrap();
        (t, h)
    }

    #[test]
    fn versions_dedupe_content_and_skip_unchanged_files() {
        let (t, h) = home();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), "alpha").unwrap();
        std::fs::write(src.join("sub/b.txt"), "beta").unwrap();
        std::fs::write(src.join("sub/c.txt"), "alpha").unwrap();
        std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
        let s = Store::of(&h);
        let c1 = s.create("mnist", &src, false).unwrap();
        assert!(c1.new);
        assert_eq!(c1.version.version, 1);
        assert_eq!(c1.version.files, 4);
        assert_eq!(c1.objects_written, 2, "two contents");
        let again = s.create("mnist", &src, false).unwrap();
        assert!(!again.new);
        assert_eq!(again.files_hashed, 0, "unchanged files are not read again");
        std::fs::write(src.join("sub/b.txt"), "beta 2").unwrap();
        let c2 = s.create("mnist", &src, false).unwrap();
        assert_eq!(c2.version.version, 2);
        assert_eq!((c2.files_hashed, c2.objects_written), (1, 1));
        let m = s.manifest(&c2.version).unwrap();
        assert_eq!(
            m.iter().find(|e| e.path == "link").unwrap().link.as_deref(),
            Some("a.txt")
        );
        // Objects are read-only.
        let d = m
            .iter()
            .find(|e| e.path == "a.txt")
            .unwrap()
            .digest
            .clone()
            .unwrap();
        let mode = std::fs::metadata(s.object_path(&d)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o444);
        // Deleting version 1 and gc removes only what no version needs.
        s.delete(&s.find("mnist", Some(1)).unwrap()).unwrap();
        let gc = s.gc().unwrap();
        assert_eq!((gc.objects, gc.manifests), (1, 1));
        assert!(s.verify().unwrap().changed.is_empty());
        // A changed object is named by verify.
        let p = s.object_path(&d);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&p, "tampered").unwrap();
        assert_eq!(s.verify().unwrap().changed, vec![d]);
    }

    #[test]
    fn names_versions_and_links_are_checked() {
        let (t, h) = home();
        for bad in ["", "a/b", "..", ".x", "-x", &"n".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_ref("d:3").unwrap(), ("d".into(), Some(3)));
        assert!(parse_ref("d:0").is_err());
        assert!(parse_ref("d:x").is_err());
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("out")).unwrap();
        let e = Store::of(&h)
            .create("d", &src, false)
            .unwrap_err()
            .message();
        assert!(e.contains("outside"), "{e}");
        assert!(Store::of(&h).versions("d").unwrap().is_empty());
    }
}
