//! Runs on Ray clusters. A run is staged here as every run is; then
//! [`RaySender`] checks the cluster (Jobs API version, resources, the
//! storage), uploads this binary as a package of its own (named by its
//! digest, so an unchanged binary is uploaded once) and the staged run as
//! the job's working directory, and submits one job per run whose
//! entrypoint starts the run there (`guild ray-job`, by way of
//! `guild_ray_job.py`, which keeps a sweep to `max-concurrent` trials at
//! once). The run's directory comes back through the remote's `storage`: a
//! path the nodes share (the run lives there), or an object storage remote
//! (the job pushes the run there while it runs and when it ends).
//! [`RaySender::sync`] brings it here, with Ray's job status.

use super::remote::Follow;
use crate::remote::bucket::{self, Place};
use crate::remote::ray::{self, Job, Ray, Storage};
use crate::remote::{Kind, Remote};
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::home::Home;
use guild_format::report::Reporter;
use guild_format::run::placement::Placement;
use guild_format::run::Run;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The entrypoint module, in the binary's package.
const LAUNCHER: &str = include_str!("guild_ray_job.py");

/// Files of a run not sent in its package: this side's placement, locks
/// and staging environment (as for SSH remotes).
const NOT_SENT: &[&str] = &[".guild/placement", ".guild/ENV"];

/// Where a Ray remote's runs are kept, reached from here.
pub enum RunStore {
    /// A guild home on a shared path.
    Path(PathBuf),
    /// An object storage remote: its name and definition.
    Bucket(String, Box<bucket::Bucket>),
}

impl RunStore {
    /// `storage` of a Ray remote, found among the remotes of the user
    /// config (from `cwd`).
    pub fn of(cwd: &Path, remote: &str, ray: &Ray) -> Result<RunStore> {
        match &ray.storage {
            Storage::Path(p) => Ok(RunStore::Path(PathBuf::from(p))),
            Storage::Bucket(name) => {
                let r = crate::remote::find(cwd, name).map_err(|e| {
                    Error::user(format!(
                        "`storage` of remote '{remote}' names remote '{name}': {}",
                        e.message()
                    ))
                })?;
                match r.kind {
                    Kind::Bucket(b) => Ok(RunStore::Bucket(name.clone(), b)),
                    _ => Err(Error::user(format!(
                        "`storage` of remote '{remote}' names remote '{name}', which is a {} remote; name an object storage remote (type s3, gcs or azure-blob) or give a shared path",
                        r.type_name()
                    ))),
                }
            }
        }
    }

    /// Where runs are, as people write it.
    pub fn describe(&self) -> String {
        match self {
            RunStore::Path(p) => p.display().to_string(),
            RunStore::Bucket(name, b) => format!("{} (remote '{name}')", b.url()),
        }
    }

    /// Check that runs can be written there; one line naming the fix.
    pub fn check_writable(&self, remote: &str) -> Result<()> {
        match self {
            RunStore::Path(p) => {
                let runs = p.join("runs");
                let probe = runs.join(format!(".guild-write-check-{}", std::process::id()));
                let ok = std::fs::create_dir_all(&runs)
                    .and_then(|_| std::fs::write(&probe, b"ok"))
                    .and_then(|_| std::fs::remove_file(&probe));
                ok.map_err(|e| {
                    Error::user(format!(
                        "the storage of remote '{remote}' cannot be written ({}: {e}); make {} writable here and on the cluster's nodes, or set `storage` to another path or an object storage remote",
                        runs.display(),
                        p.display()
                    ))
                })
            }
            RunStore::Bucket(name, b) => {
                let st = b.client(name)?.status()?;
                st.write.map_err(|why| {
                    Error::user(format!(
                        "the storage of remote '{remote}' ({}) cannot be written ({why}); fix the credentials or the bucket of remote '{name}'",
                        b.url()
                    ))
                })
            }
        }
    }

    /// Bring runs `ids` from the storage into `runs_dir`: the ones there
    /// (the others are not written yet). Returns the ids brought.
    pub fn fetch(&self, runs_dir: &Path, ids: &[String]) -> Result<Vec<String>> {
        fsutil::create_dir_all(runs_dir)?;
        match self {
            RunStore::Path(p) => {
                let mut got = Vec::new();
                for id in ids {
                    let src = p.join("runs").join(id);
                    if !src.join(".guild/opref").is_file() {
                        continue;
                    }
                    copy_tree(&src, &runs_dir.join(id), NOT_SENT)?;
                    prune_tree(&src, &runs_dir.join(id), NOT_SENT)?;
                    got.push(id.clone());
                }
                Ok(got)
            }
            RunStore::Bucket(name, b) => {
                let client = b.client(name)?;
                let there = client.manifest_etags(Place::Runs.name())?;
                let present: Vec<String> = ids
                    .iter()
                    .filter(|i| there.contains_key(i.as_str()))
                    .cloned()
                    .collect();
                let quiet = guild_format::report::Collect::answering_yes();
                client.pull(runs_dir, &present, Place::Runs, &quiet)?;
                Ok(present)
            }
        }
    }
}

/// Copy the tree `src` to `dst` (files, modes and times; links as links),
/// leaving out `.guild` paths matching `skip`, the run's locks and the
/// temporary files of writes in progress. The run may be running there: a
/// file that goes away while it is copied is left out (the next copy has
/// what replaced it).
fn copy_tree(src: &Path, dst: &Path, skip: &[&str]) -> Result<()> {
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    for e in walkdir::WalkDir::new(src).into_iter() {
        let e = match e {
            Ok(e) => e,
            Err(err) if err.io_error().is_some_and(gone) => continue,
            Err(err) => return Err(Error::user(format!("cannot read {}: {err}", src.display()))),
        };
        if e.file_name().to_string_lossy().contains(".tmp-") {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(src) else {
            continue;
        };
        let rel_s = rel.to_string_lossy();
        if skip.iter().any(|s| rel_s == *s) || rel_s.starts_with(".guild/LOCK") {
            continue;
        }
        let to = dst.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fsutil::create_dir_all(&to)?;
        } else if ft.is_symlink() {
            let target =
                std::fs::read_link(e.path()).map_err(|err| Error::io("reading", e.path(), err))?;
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|err| Error::io("linking", &to, err))?;
        } else {
            let tmp = to.with_file_name(format!(
                ".{}.guild-copy",
                to.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            match std::fs::copy(e.path(), &tmp) {
                Ok(_) => {}
                Err(err) if gone(&err) => {
                    let _ = std::fs::remove_file(&tmp);
                    continue;
                }
                Err(err) => return Err(Error::io("copying", e.path(), err)),
            }
            if let Some(mtime) = e.metadata().ok().and_then(|md| md.modified().ok()) {
                let _ = set_mtime(&tmp, mtime);
            }
            std::fs::rename(&tmp, &to).map_err(|err| Error::io("writing", &to, err))?;
        }
    }
    Ok(())
}

/// Remove from `dst` what is no longer in `src` (a marker such as
/// `.guild/STAGED` that the run removed when it started, a file it
/// deleted), but not the `.guild` paths matching `skip` nor the locks:
/// these are this side's own.
fn prune_tree(src: &Path, dst: &Path, skip: &[&str]) -> Result<()> {
    let mut it = walkdir::WalkDir::new(dst).min_depth(1).into_iter();
    while let Some(e) = it.next() {
        let Ok(e) = e else { continue };
        let Ok(rel) = e.path().strip_prefix(dst) else {
            continue;
        };
        let rel_s = rel.to_string_lossy();
        if skip.iter().any(|s| rel_s == *s) || rel_s.starts_with(".guild/LOCK") {
            continue;
        }
        if std::fs::symlink_metadata(src.join(rel)).is_ok() {
            continue;
        }
        let res = if e.file_type().is_dir() {
            it.skip_current_dir();
            std::fs::remove_dir_all(e.path())
        } else {
            std::fs::remove_file(e.path())
        };
        match res {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io("removing", e.path(), err)),
        }
    }
    Ok(())
}

fn set_mtime(path: &Path, t: std::time::SystemTime) -> std::io::Result<()> {
    let f = std::fs::File::options().write(true).open(path)?;
    f.set_modified(t)
}

/// A zip of `entries` (name, mode, bytes), as Ray takes a package.
fn zip_of(entries: Vec<(String, u32, Vec<u8>)>) -> Result<Vec<u8>> {
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let zerr = |e: zip::result::ZipError| Error::user(format!("cannot make a package: {e}"));
    for (name, mode, data) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(data.len() as u64 >= u32::MAX as u64)
            .unix_permissions(mode);
        zw.start_file(name, opts).map_err(zerr)?;
        zw.write_all(&data)
            .map_err(|e| Error::user(format!("cannot make a package: {e}")))?;
    }
    Ok(zw.finish().map_err(zerr)?.into_inner())
}

/// The package name Ray takes for `bytes`: `_ray_pkg_HEX.zip`.
fn package_name(digest: &str) -> String {
    format!("_ray_pkg_{digest}.zip")
}

/// One Ray remote, ready to take runs.
pub struct RaySender<'a> {
    home: &'a Home,
    /// The remote, as the user config defines it.
    pub remote: Remote,
    ray: Ray,
    client: ray::Client,
    store: RunStore,
    report: Arc<dyn Reporter>,
}

/// What `remote status` says of a Ray cluster.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RayStatus {
    /// The dashboard's address.
    pub address: String,
    /// The Jobs API version and Ray's.
    pub api_version: String,
    /// Ray's version.
    pub ray_version: String,
    /// Alive nodes.
    pub nodes: usize,
    /// The cluster's resources, summed over its nodes.
    pub resources: BTreeMap<String, f64>,
    /// What each run asks for, in words.
    pub per_run: String,
    /// Where runs are kept.
    pub storage: String,
    /// Whether the storage can be written (else why not).
    pub storage_ok: std::result::Result<(), String>,
}

impl<'a> RaySender<'a> {
    /// A sender for `remote` (a Ray remote); nothing is contacted yet.
    pub fn new(
        home: &'a Home,
        cwd: &Path,
        remote: Remote,
        report: Arc<dyn Reporter>,
    ) -> Result<RaySender<'a>> {
        let Kind::Ray(r) = &remote.kind else {
            return Err(Error::user(format!(
                "remote '{}' is not a Ray cluster",
                remote.name
            )));
        };
        let ray = (**r).clone();
        let client = ray.client(&remote.name);
        let store = RunStore::of(cwd, &remote.name, &ray)?;
        Ok(RaySender {
            home,
            remote,
            ray,
            client,
            store,
            report,
        })
    }

    /// The storage of the remote.
    pub fn store(&self) -> &RunStore {
        &self.store
    }

    /// `remote status`: the API version, the cluster's resources, the
    /// storage. An unreachable head or a wrong version is an error.
    pub fn status(&self) -> Result<RayStatus> {
        let (api, ray_version) = self.client.version()?;
        let (resources, nodes) = self.client.resources()?;
        let storage_ok = self
            .store
            .check_writable(&self.remote.name)
            .map_err(|e| e.message().to_string());
        Ok(RayStatus {
            address: self.client.address().to_string(),
            api_version: api,
            ray_version,
            nodes,
            resources,
            per_run: self.ray.describe_asks(),
            storage: self.store.describe(),
            storage_ok,
        })
    }

    /// Before anything is staged or sent: the API version, whether the
    /// cluster has what a run asks for, and whether the storage can be
    /// written. Each fault is one line naming the fix.
    pub fn check(&self) -> Result<()> {
        self.client.version()?;
        let (total, _) = self.client.resources()?;
        for (k, want) in self.ray.asks() {
            let have = total.get(&k).copied().unwrap_or(0.0);
            if have + 1e-9 < want {
                let key = match k.as_str() {
                    "CPU" => "num-cpus".to_string(),
                    "GPU" => "num-gpus".to_string(),
                    "memory" => "memory".to_string(),
                    other => format!("resources: {other}"),
                };
                return Err(Error::user(format!(
                    "the Ray cluster of remote '{}' has {} {k} in all and a run asks for {}; lower `{key}` of the remote, or add nodes that have it. Nothing was sent",
                    self.remote.name,
                    ray::amount(&k, have),
                    ray::amount(&k, want)
                )));
            }
        }
        self.store.check_writable(&self.remote.name)
    }

    /// The binary's package on the cluster (uploaded when it is not
    /// there): this binary and the entrypoint module.
    fn binary_package(&self) -> Result<String> {
        let exe = guild_format::platform::guild_exe()?;
        let digest = crate::remote::site::exe_digest(&exe, &self.home.cache_dir("remote"))?;
        let launcher = blake3::hash(LAUNCHER.as_bytes()).to_hex();
        let name = package_name(&format!("{digest}{}", &launcher[..8]));
        if self.client.has_package(&name)? {
            return Ok(name);
        }
        let cache = self.home.cache_dir("ray").join(&name);
        let zip = match std::fs::read(&cache) {
            Ok(z) => z,
            Err(_) => {
                let bin = std::fs::read(&exe).map_err(|e| Error::io("reading", &exe, e))?;
                let z = zip_of(vec![
                    ("guild".into(), 0o755, bin),
                    (
                        "guild_ray_job.py".into(),
                        0o644,
                        LAUNCHER.as_bytes().to_vec(),
                    ),
                ])?;
                fsutil::create_dir_all(&self.home.cache_dir("ray"))?;
                fsutil::write_atomic(&cache, &z)?;
                z
            }
        };
        self.report.progress(&format!(
            "Uploading guild to {} ({})",
            self.remote.name,
            guild_format::text::format_bytes(zip.len() as u64)
        ));
        self.client.put_package(&name, &zip)?;
        Ok(name)
    }

    /// The package of a staged run: the run under `run/`, and with bucket
    /// storage, a user config naming that bucket (never its credentials).
    fn run_package(&self, run: &Run) -> Result<String> {
        let mut entries = Vec::new();
        for e in walkdir::WalkDir::new(&run.dir)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
        {
            let e = e.map_err(|e| Error::user(format!("cannot read run {}: {e}", run.id)))?;
            if !e.file_type().is_file() {
                continue;
            }
            let Ok(rel) = e.path().strip_prefix(&run.dir) else {
                continue;
            };
            let rel = rel.to_string_lossy().to_string();
            if NOT_SENT.contains(&rel.as_str()) || rel.starts_with(".guild/LOCK") {
                continue;
            }
            let data =
                std::fs::read(e.path()).map_err(|err| Error::io("reading", e.path(), err))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                e.metadata()
                    .map(|m| m.permissions().mode() & 0o7777)
                    .unwrap_or(0o644)
            };
            entries.push((format!("run/{rel}"), mode, data));
        }
        if let RunStore::Bucket(name, b) = &self.store {
            entries.push((
                "guild-storage.yml".into(),
                0o644,
                b.config_yaml(name).into_bytes(),
            ));
        }
        let zip = zip_of(entries)?;
        let name = package_name(&blake3::hash(&zip).to_hex()[..32]);
        // A small package goes up at once (as cheap as asking whether it
        // is there); a large one only when the cluster lacks it (a run
        // sent again).
        if zip.len() < 1 << 20 || !self.client.has_package(&name)? {
            self.client.put_package(&name, &zip)?;
        }
        Ok(name)
    }

    /// The entrypoint's arguments for `run`.
    fn job_args(&self, run: &Run) -> Vec<String> {
        let mut args = vec!["--id".to_string(), run.id.clone()];
        match &self.store {
            RunStore::Path(p) => {
                args.push("--home".into());
                args.push(p.display().to_string());
            }
            RunStore::Bucket(name, _) => {
                args.push("--bucket".into());
                args.push(name.clone());
            }
        }
        args
    }

    fn placement(&self, run: &Run, job: Option<String>, state: Option<&str>) -> Placement {
        let dir = match &self.store {
            RunStore::Path(p) => p.join("runs").join(&run.id).display().to_string(),
            RunStore::Bucket(_, b) => format!("{}/runs/{}", b.url(), run.id),
        };
        Placement::Remote {
            remote: self.remote.name.clone(),
            host: self.client.address().to_string(),
            dir,
            job,
            state: state.map(String::from),
        }
    }

    /// Send staged `runs` (one run, or the trials of a sweep named
    /// `name`) as one job each, submitted together; follow a single run
    /// as `follow` says. Returns the submission ids.
    pub fn start(&mut self, runs: &[Run], follow: Follow, name: &str) -> Result<RayStarted> {
        for r in runs {
            if r.attr("datastores").is_some() {
                return Err(Error::user(format!(
                    "run {} mounts a datastore, which Ray remotes do not carry yet; send it to an ssh or slurm remote, or read the data from the storage",
                    r.short_id()
                )));
            }
        }
        let bin = self.binary_package()?;
        // A sweep with `max-concurrent`: its slots' actor, limit, trials.
        let slots = match (runs.len() > 1, self.ray.max_concurrent) {
            (true, Some(limit)) => Some((format!("guild-slots-{}", runs[0].id), limit, runs.len())),
            _ => None,
        };
        let jobs = self.submit_all(runs, &bin, slots.as_ref(), name)?;
        if runs.len() == 1 && matches!(follow, Follow::Foreground { .. }) {
            let code = self.follow(
                &runs[0],
                &jobs[0],
                follow == (Follow::Foreground { quiet: true }),
            )?;
            return Ok(RayStarted::Ended(code));
        }
        Ok(RayStarted::Submitted(jobs))
    }

    /// Submit `runs`, each as its job, a few at a time: a sweep's time
    /// goes in waiting for the dashboard and the disk, which overlap.
    /// Every run is tried; the first error is returned after (a run whose
    /// submission failed stays staged, its placement says so).
    fn submit_all(
        &self,
        runs: &[Run],
        bin: &str,
        slots: Option<&(String, u64, usize)>,
        name: &str,
    ) -> Result<Vec<String>> {
        const AT_ONCE: usize = 8;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: std::sync::Mutex<Vec<Option<Result<String>>>> =
            std::sync::Mutex::new((0..runs.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..AT_ONCE.min(runs.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(r) = runs.get(i) else { break };
                    let got = self.submit_one(r, bin, slots, name);
                    if let Ok(mut d) = done.lock() {
                        d[i] = Some(got);
                    }
                });
            }
        });
        let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut jobs = Vec::with_capacity(runs.len());
        let mut first_err = None;
        for got in done {
            match got {
                Some(Ok(job)) => jobs.push(job),
                Some(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                None => {
                    first_err.get_or_insert(Error::user("a run was not submitted"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(jobs),
        }
    }

    /// Submit `r` as a job: its package, then the job; its submission id.
    fn submit_one(
        &self,
        r: &Run,
        bin: &str,
        slots: Option<&(String, u64, usize)>,
        name: &str,
    ) -> Result<String> {
        let pkg = self.run_package(r)?;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        // Time for a stopped run to be recorded and written to the
        // storage before Ray kills what is left of the job.
        env.insert("RAY_JOB_STOP_WAIT_TIME_S".into(), "20".into());
        env.extend(self.ray.env.iter().cloned());
        if let Some((slots, limit, total)) = slots {
            env.insert("GUILD_RAY_SLOTS".into(), format!("{slots}:{limit}:{total}"));
        }
        let mut runtime_env = json!({
            "working_dir": format!("gcs://{pkg}"),
            "py_modules": [format!("gcs://{bin}")],
            "env_vars": env,
        });
        if !self.ray.pip.is_empty() {
            runtime_env["pip"] = json!(self.ray.pip);
        }
        let entry = format!(
            "python -m guild_ray_job {}",
            self.job_args(r)
                .iter()
                .map(|a| guild_format::run::opref::quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let id = format!(
            "guild-{}-{}",
            &r.id[..12],
            guild_format::run::now_us() / 1000
        );
        let mut meta = BTreeMap::new();
        meta.insert("guild_run".to_string(), r.id.clone());
        meta.insert("guild_op".to_string(), name.to_string());
        let body = ray::submission(&self.ray, &id, &entry, runtime_env, &meta);
        self.placement(r, Some(id.clone()), Some("staged"))
            .write(r)?;
        let job = self.client.submit(&body)?;
        self.placement(r, Some(job.clone()), Some("pending"))
            .write(r)?;
        fsutil::remove_if_exists(&r.guild_path("STAGED"))?;
        Ok(job)
    }

    /// Print a job's output as it comes, until Ray is done with it (Ctrl-C
    /// stops it there); then bring the run here. The run's exit code.
    fn follow(&mut self, run: &Run, job: &str, quiet: bool) -> Result<i32> {
        let signals = crate::exec::StopSignals::catch(
            &[libc::SIGINT, libc::SIGTERM],
            crate::exec::Forward::Nothing,
        )?;
        let mut printed = 0usize;
        let mut stopping = false;
        let mut out = std::io::stdout();
        let last = loop {
            let j = self.client.job(job)?.unwrap_or_default();
            if !quiet {
                let logs = self.client.logs(job).unwrap_or_default();
                let body = job_output(&logs);
                if body.len() > printed {
                    let _ = out.write_all(&body.as_bytes()[printed..]);
                    let _ = out.flush();
                    printed = body.len();
                }
            }
            if j.finished() {
                break j;
            }
            if signals.received() != 0 && !stopping {
                stopping = true;
                self.report.progress(&format!(
                    "Stopping {} on {}",
                    run.short_id(),
                    self.remote.name
                ));
                self.client.stop(job)?;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        self.sync(std::slice::from_ref(run))?;
        if last.status == "FAILED" && run.attr("exit_status").is_none() {
            return Err(self.failed_before_start(run, job, &last));
        }
        Ok(run
            .attr("exit_status")
            .and_then(|v| v.as_i64())
            .map(guild_format::error::exit_code_for_status)
            .unwrap_or(if last.status == "SUCCEEDED" { 0 } else { 1 }))
    }

    fn failed_before_start(&self, run: &Run, job: &str, j: &Job) -> Error {
        let logs = self.client.logs(job).unwrap_or_default();
        let tail: Vec<&str> = logs
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        // Ray's message ends with what went wrong (a pip error, a
        // traceback's last line); its first error line says it best.
        let msg: Vec<&str> = j
            .message
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let why = msg
            .iter()
            .find(|l| l.starts_with("ERROR"))
            .or(msg.last())
            .copied()
            .unwrap_or("no message from Ray");
        Error::user(format!(
            "the Ray job {job} of run {} failed before the run started ({why}){}. Fix that (`pip`/`env` of remote '{}', or the cluster's Python), then `guild run --restart {} --remote {}`",
            run.short_id(),
            if tail.is_empty() {
                String::new()
            } else {
                format!("; its log ends: {tail}")
            },
            self.remote.name,
            run.short_id(),
            self.remote.name
        ))
    }

    /// Refresh the local records of `runs` (sent to this remote): their
    /// directories from the storage, their status from Ray's jobs (one
    /// request for all). Returns each run's status.
    pub fn sync(&mut self, runs: &[Run]) -> Result<Vec<(String, String)>> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = self.client.jobs()?;
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let fetched = self.store.fetch(&self.home.runs_dir(), &ids)?;
        let mut out = Vec::new();
        for r in runs {
            let job = match Placement::of(r)? {
                Placement::Remote { job, .. } => job,
                _ => None,
            };
            let j = job.as_deref().and_then(|id| jobs.get(id));
            let st = self.apply(r, job.clone(), j, fetched.contains(&r.id))?;
            out.push((r.id.clone(), st));
        }
        Ok(out)
    }

    /// Make the local record of `run` say what Ray and the run's own
    /// files say. Returns the status.
    fn apply(
        &self,
        run: &Run,
        job: Option<String>,
        j: Option<&Job>,
        fetched: bool,
    ) -> Result<String> {
        let lock = run.guild_path("LOCK.remote");
        let ended = run.attr("exit_status").is_some();
        let state = match j.map(|j| j.status.as_str()) {
            _ if ended => None,
            Some("PENDING") => Some("pending"),
            Some("RUNNING") if fetched => Some("running"),
            Some("RUNNING") => Some("pending"),
            Some("STOPPED") => Some("terminated"),
            // FAILED, or SUCCEEDED with no exit status: the run never
            // ended there; or a job Ray no longer knows.
            _ => Some("error"),
        };
        if state == Some("running") {
            fsutil::write_atomic(&lock, self.remote.name.as_bytes())?;
        } else {
            fsutil::remove_if_exists(&lock)?;
        }
        // A running run says so by its lock; the others by their state.
        let keep = if state == Some("running") {
            None
        } else {
            state
        };
        self.placement(run, job, keep).write(run)?;
        Ok(run.status().status.as_str().to_string())
    }

    /// Stop `run`'s job: Ray stops it (TERM, then KILL); then the record
    /// here says how it ended.
    pub fn stop(&mut self, run: &Run) -> Result<()> {
        let Ok(Placement::Remote { job: Some(job), .. }) = Placement::of(run) else {
            return Err(Error::user(format!(
                "run {} has no Ray job on record",
                run.short_id()
            )));
        };
        self.client.stop(&job)?;
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if self.client.job(&job)?.is_none_or(|j| j.finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.sync(std::slice::from_ref(run))?;
        Ok(())
    }
}

impl RaySender<'_> {
    /// What was submitted: the jobs, the resources, the cost, how to
    /// follow it.
    pub fn summary(&self, name: &str, trials: usize, jobs: &[String]) -> Vec<String> {
        let mut lines = Vec::new();
        let at_once = self
            .ray
            .max_concurrent
            .map(|m| (m as usize).min(trials))
            .unwrap_or(trials);
        if trials > 1 {
            lines.push(format!(
                "Submitted {name} to {} as {trials} jobs ({}...): {}",
                self.remote.name,
                jobs.first().map(String::as_str).unwrap_or(""),
                match self.ray.max_concurrent {
                    Some(m) => format!("at most {m} at a time"),
                    None => "as many at a time as the cluster's resources allow".into(),
                }
            ));
        } else {
            lines.push(format!(
                "Submitted {name} to {} as job {}",
                self.remote.name,
                jobs.first().map(String::as_str).unwrap_or("")
            ));
        }
        lines.push(format!("Resources per run: {}", self.ray.describe_asks()));
        if let Some(cost) = self.ray.hourly_cost {
            lines.push(format!(
                "Estimated cost: {:.2} per hour while {at_once} {} ({cost:.2} per run-hour)",
                cost * at_once as f64,
                if at_once == 1 { "runs" } else { "run" }
            ));
        }
        lines.push(format!(
            "Runs go to {}. Follow them: guild runs --remote {r}, guild status, guild sync",
            self.store.describe(),
            r = self.remote.name
        ));
        lines
    }
}

/// What a start on a Ray remote did.
#[derive(Debug, Clone, PartialEq)]
pub enum RayStarted {
    /// Followed to the end: the run's exit code.
    Ended(i32),
    /// Submitted: the jobs' submission ids.
    Submitted(Vec<String>),
}

/// The entrypoint's output in a job's log: after Ray's own first lines
/// (`Runtime env is setting up.`, `Running entrypoint for job ...`).
fn job_output(logs: &str) -> &str {
    match logs.find("Running entrypoint for job ") {
        Some(i) => match logs[i..].find('\n') {
            Some(n) => &logs[i + n + 1..],
            None => "",
        },
        None => "",
    }
}

/// `guild ray-job --id ID (--home PATH | --bucket NAME)`, on a node of the
/// cluster, in the job's working directory (the run's package): put the
/// run in the guild home (the shared path, or a home of the job's own that
/// is pushed to the bucket every `every` and at the end), start it there
/// (TERM and INT passed on) and return its exit code.
pub fn job_main(
    pkg: &Path,
    id: &str,
    home: Option<&Path>,
    bucket: Option<&str>,
    every: Duration,
) -> Result<i32> {
    guild_format::run::check_id(id, "the job's arguments")?;
    let own_home;
    let home_dir = match home {
        Some(h) => h.to_path_buf(),
        None => {
            own_home = tempfile_dir()?;
            own_home.clone()
        }
    };
    let runs = home_dir.join("runs");
    fsutil::create_dir_all(&runs)?;
    // The run appears whole in the storage (a reader never sees half of
    // it): copied beside, then renamed into place.
    let dest = runs.join(id);
    if dest.exists() {
        copy_tree(&pkg.join("run"), &dest, &[])?;
    } else {
        let part = runs.join(format!(".tmp-{id}-{}", std::process::id()));
        copy_tree(&pkg.join("run"), &part, &[])?;
        std::fs::rename(&part, &dest).map_err(|e| Error::io("writing", &dest, e))?;
    }
    let store = match bucket {
        Some(name) => {
            let cfg = pkg.join("guild-storage.yml");
            let remotes = crate::remote::load(&cfg)?;
            let r = remotes
                .into_iter()
                .find(|r| r.name == name)
                .ok_or_else(|| {
                    Error::user(format!("the job's package names no remote '{name}'"))
                })?;
            match r.kind {
                Kind::Bucket(b) => Some((name.to_string(), b)),
                _ => return Err(Error::user(format!("remote '{name}' is not a bucket"))),
            }
        }
        None => None,
    };
    let exe = guild_format::platform::guild_exe()?;
    let mut child = std::process::Command::new(&exe)
        .arg("-H")
        .arg(&home_dir)
        .args(["run", "--start", id, "-y"])
        .spawn()
        .map_err(|e| Error::process("cannot start guild", e))?;
    // Ray stops a job by signalling its process group (TERM, then KILL
    // after RAY_JOB_STOP_WAIT_TIME_S): `run --start` hears it and passes it
    // on to the run's supervisor, which records the run as terminated.
    // This process only outlives it, to write the run to the storage.
    let signals = crate::exec::StopSignals::catch(
        &[libc::SIGTERM, libc::SIGINT],
        crate::exec::Forward::Nothing,
    )?;
    let h = Home {
        path: home_dir.clone(),
    };
    let push = |final_push: bool| -> Result<()> {
        if let Some((name, b)) = &store {
            let client = b.client(name)?;
            let quiet = guild_format::report::Collect::answering_yes();
            let run = Run::at(runs.join(id));
            if let Err(e) = client.push(&h, std::slice::from_ref(&run), Place::Runs, &quiet) {
                if final_push {
                    return Err(e);
                }
                eprintln!(
                    "guild: the run could not be written to its storage yet ({})",
                    e.message()
                );
            }
        }
        Ok(())
    };
    let mut last: Option<Instant> = None;
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| Error::process("cannot wait for guild", e))?
        {
            break st;
        }
        if last.is_none_or(|t| t.elapsed() >= every) {
            push(false)?;
            last = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(signals);
    push(true)?;
    if home.is_none() {
        let _ = std::fs::remove_dir_all(&home_dir);
    }
    Ok(status.code().unwrap_or(1))
}

/// A new directory of the job's own under the temporary directory.
fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for _ in 0..10 {
        let p = base.join(format!("guild-ray-{}", uuid::Uuid::new_v4().simple()));
        if std::fs::create_dir(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(Error::user(format!(
        "cannot make a directory under {}",
        base.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_output_follows_rays_own_lines() {
        let logs = "Runtime env is setting up.\nRunning entrypoint for job guild-1: python -m x\nloss: 1\n";
        assert_eq!(job_output(logs), "loss: 1\n");
        assert_eq!(job_output("Runtime env is setting up.\n"), "");
    }

    #[test]
    fn a_package_keeps_modes() {
        let z = zip_of(vec![("guild".into(), 0o755, b"x".to_vec())]).unwrap();
        let mut a = zip::ZipArchive::new(std::io::Cursor::new(z)).unwrap();
        assert_eq!(
            a.by_index(0).unwrap().unix_mode().map(|m| m & 0o777),
            Some(0o755)
        );
    }

    #[test]
    fn a_fetch_brings_what_the_run_removed_and_keeps_this_sides_own() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        for d in [&src, &dst] {
            std::fs::create_dir_all(d.join(".guild/attrs")).unwrap();
            std::fs::write(d.join(".guild/opref"), "x").unwrap();
        }
        std::fs::write(src.join(".guild/attrs/exit_status"), "0").unwrap();
        std::fs::write(src.join(".guild/output.tmp-1-2"), "half").unwrap();
        std::fs::write(dst.join(".guild/STAGED"), "").unwrap();
        std::fs::write(dst.join(".guild/placement"), "mine").unwrap();
        std::fs::write(dst.join(".guild/LOCK.remote"), "r").unwrap();
        std::fs::create_dir_all(dst.join("gone/deep")).unwrap();
        std::fs::write(dst.join("gone/deep/f"), "").unwrap();
        copy_tree(&src, &dst, NOT_SENT).unwrap();
        prune_tree(&src, &dst, NOT_SENT).unwrap();
        let names = |d: &Path| -> Vec<String> {
            walkdir::WalkDir::new(d)
                .min_depth(1)
                .sort_by_file_name()
                .into_iter()
                .flatten()
                .map(|e| e.path().strip_prefix(d).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(
            names(&dst),
            [
                ".guild",
                ".guild/LOCK.remote",
                ".guild/attrs",
                ".guild/attrs/exit_status",
                ".guild/opref",
                ".guild/placement"
            ]
        );
    }
}
