//! Plan and stage: an operation plus resolved flags becomes a complete,
//! self-describing run directory (opref, attrs, source snapshot, manifest)
//! marked STAGED. Every run, foreground or not, is staged first and then
//! started by a target.

pub mod edit;
pub mod sweep;

use crate::op::{self, flags, OpDef, ResolvedFlags};
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::home::Home;
use guild_format::run::{manifest, now_us, Run};
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// What to stage: an operation, its flags, and how the run is made.
pub struct StageRequest<'a> {
    /// The operation the run runs.
    pub op: &'a OpDef,
    /// The run's flag values.
    pub flags: ResolvedFlags,
    /// The label (`--label`), a template with `${flag}` references; None:
    /// the operation's label template, else a default label.
    pub label: Option<String>,
    /// Tags (`--tag`) added to the operation's.
    pub tags: Vec<String>,
    /// The working directory of the command that stages the run.
    pub cwd: PathBuf,
    /// Leave out the warnings of source code and dependency copies.
    pub quiet: bool,
    /// Dependencies resolved beforehand (see `op::deps::resolve`).
    pub deps: op::deps::Resolved,
    /// Use this run id (a pipeline step's pre-allocated id).
    pub run_id: Option<String>,
    /// `--proto`: take the source code and random seed of this run.
    pub proto: Option<Run>,
    /// Create the run in this directory (a batch's proto) instead of runs/.
    pub dir: Option<PathBuf>,
    /// The run's human name (when None it goes by one made from its id).
    pub name: Option<String>,
    /// The `run` command's options as Guild records them (`run_params`).
    pub run_params: Option<Value>,
    /// Who hears the warnings staging has (source code, run-attrs).
    pub report: &'a dyn guild_format::report::Reporter,
    /// The run is started right after staging: what its start records
    /// (`env`, `pip_freeze`) is written now, in the same synced round,
    /// and the start writes only what differs.
    pub start_now: bool,
}

/// Removes a half-made run directory unless disarmed.
struct Cleanup(Option<PathBuf>);

/// Prefix of the directory a run is built in, beside its final place in
/// `runs/` (so relative links resolve the same from both): listings (ours
/// and Guild's, which needs `.guild/opref`) do not show it.
pub(crate) const STAGING_PREFIX: &str = ".stage-";

/// A run being built in `runs/.stage-ID`, moved to `runs/ID` with one
/// rename by [`Staging::publish`]. While it is built, a marker
/// `<home>/staging/PID-START-ID` names the building process, so a staging
/// left by a killed process is found (without listing `runs/`) and removed
/// by the next one ([`remove_dead_stagings`]). Dropped unpublished, the
/// half-made directory is removed.
pub struct Staging {
    /// The run, at its staging path (its `id` is the final one).
    pub run: Run,
    final_dir: PathBuf,
    marker: PathBuf,
    /// Held (flock) while the run is built: a marker whose lock can be
    /// taken belongs to a dead builder, on this host or another one
    /// sharing the home.
    _lock: std::fs::File,
    armed: bool,
}

/// Where the opref of a run being staged waits: moved to `opref` just
/// before the run is published, so not even Guild (which lists any dir
/// with `.guild/opref`) sees a half-made run.
pub(crate) const STAGED_OPREF: &str = "opref.staged";

fn lock_nb(f: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on an fd we own.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

impl Staging {
    fn new(home: &Home, id: &str) -> Result<Staging> {
        let runs_dir = home.runs_dir();
        let final_dir = runs_dir.join(id);
        let dir = runs_dir.join(format!("{STAGING_PREFIX}{id}"));
        let markers = home.path.join("staging");
        fsutil::create_dir_all(&markers)?;
        remove_dead_stagings(home);
        // Locked under a temporary name, then named: a marker is never
        // seen unlocked while its builder lives.
        let marker = markers.join(id);
        let tmp = markers.join(format!(".{id}.{}", std::process::id()));
        let lock = std::fs::File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        if !lock_nb(&lock) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::user(format!("cannot lock {}", tmp.display())));
        }
        std::fs::rename(&tmp, &marker).map_err(|e| Error::io("creating", &marker, e))?;
        if let Err(e) = std::fs::create_dir(&dir) {
            let _ = std::fs::remove_file(&marker);
            return Err(Error::io("creating run directory", &dir, e));
        }
        Ok(Staging {
            run: Run {
                id: id.to_string(),
                dir,
            },
            final_dir,
            marker,
            _lock: lock,
            armed: true,
        })
    }

    /// Move the finished run into `runs/` (one rename) and return it.
    pub(crate) fn publish(mut self) -> Result<Run> {
        // rename(2) onto an existing empty dir would succeed: refuse to
        // replace anything.
        if self.final_dir.symlink_metadata().is_ok() {
            return Err(Error::user(format!(
                "a run {} already exists in {}",
                self.run.id,
                self.final_dir.display()
            )));
        }
        let staged_opref = self.run.guild_path(STAGED_OPREF);
        if staged_opref.exists() {
            let opref = self.run.guild_path("opref");
            std::fs::rename(&staged_opref, &opref).map_err(|e| Error::io("writing", &opref, e))?;
        }
        std::fs::rename(&self.run.dir, &self.final_dir)
            .map_err(|e| Error::io("moving staged run to", &self.final_dir, e))?;
        self.armed = false;
        let _ = std::fs::remove_file(&self.marker);
        Ok(Run {
            id: self.run.id.clone(),
            dir: self.final_dir.clone(),
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.run.dir);
            let _ = std::fs::remove_file(&self.marker);
        }
    }
}

/// Remove the stagings of processes that died while building a run: their
/// markers' locks are free.
pub(crate) fn remove_dead_stagings(home: &Home) {
    let markers = home.path.join("staging");
    let Ok(rd) = std::fs::read_dir(&markers) else {
        return;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if id.starts_with('.') || id.contains('/') || id.is_empty() {
            continue;
        }
        let Ok(f) = std::fs::OpenOptions::new().write(true).open(e.path()) else {
            continue;
        };
        if lock_nb(&f) {
            let _ = std::fs::remove_dir_all(home.runs_dir().join(format!("{STAGING_PREFIX}{id}")));
            let _ = std::fs::remove_file(e.path());
        }
    }
}

pub(crate) fn label_for(
    req_label: Option<&str>,
    tags: &[String],
    template: Option<&str>,
    flag_vals: &Mapping,
) -> String {
    let default = flags::default_label(flag_vals);
    let tpl = match (req_label, template) {
        (Some(l), _) => l.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) if !tags.is_empty() => format!("{} ${{default_label}}", tags.join(" ")),
        (None, None) => return default,
    };
    flags::render_label(&tpl, flag_vals, &[("default_label", default)])
        .trim()
        .to_string()
}

/// Write a new run directory for `req`, mark it STAGED and move it into
/// `runs/` complete.
pub fn stage(home: &Home, req: StageRequest) -> Result<Run> {
    match stage_unpublished(home, req)? {
        Staged::Staging(s) => s.publish(),
        Staged::InPlace(run) => Ok(run),
    }
}

/// As [`stage`], for a run that cannot start (its dependencies cannot be
/// resolved): it appears whole but neither staged nor started, an error
/// run as Guild records one.
pub fn stage_unstartable(home: &Home, req: StageRequest) -> Result<Run> {
    let run = match stage_unpublished(home, req)? {
        Staged::Staging(s) => {
            strip_start(&s.run)?;
            return s.publish();
        }
        Staged::InPlace(run) => run,
    };
    strip_start(&run)?;
    Ok(run)
}

fn strip_start(run: &Run) -> Result<()> {
    unstage(run)?;
    fsutil::remove_if_exists(&run.guild_path("ENV"))?;
    fsutil::remove_if_exists(&run.attr_path("started"))
}

/// A staged run that will not start: no longer staged, so an error run.
pub fn unstage(run: &Run) -> Result<()> {
    fsutil::remove_if_exists(&run.guild_path("STAGED"))
}

/// A staged run: not yet published, or written in place.
pub enum Staged {
    /// A new run in `runs/`, not visible until published.
    Staging(Staging),
    /// A run written in place (`req.dir`: a batch's proto).
    InPlace(Run),
}

/// As [`stage`], leaving a new run unpublished (a batch, completed with
/// its proto before it appears).
pub fn stage_unpublished(home: &Home, req: StageRequest) -> Result<Staged> {
    let runs_dir = home.runs_dir();
    fsutil::create_dir_all(&runs_dir)?;
    let req_dir = req.dir.clone();
    let id = new_run_id(req.run_id.as_deref())?;
    let mut cleanup = Cleanup(None);
    let (run, staging) = new_run_dir(home, req_dir, &id, &mut cleanup)?;
    // Where the run will be: its command and environment name this path.
    let final_run = match &staging {
        Some(s) => Run {
            id: id.clone(),
            dir: s.final_dir.clone(),
        },
        None => run.clone(),
    };
    fsutil::create_dir_all(&run.guild_dir().join("attrs"))?;
    let op = req.op;
    let name = req.name.clone();
    // Until the run is staged it shows as pending; a crash before the
    // opref is in place leaves no run at all.
    fsutil::touch(&run.guild_path("PENDING"))?;
    // The metadata is written in one round at the end, with its fsyncs in
    // parallel: fsyncs are most of the cost of staging a run.
    let mut attrs: Vec<(&str, Value)> =
        vec![("id", id.clone().into()), ("initialized", now_us().into())];
    if let Some(n) = name {
        attrs.push(("name", n.into()));
    }
    if let Some(p) = &req.run_params {
        attrs.push(("run_params", p.clone()));
    }

    let op_attr = op_attrs(home, &req, &mut attrs);

    // Command as it will run (rebuilt identically at start).
    let built = op::cmd::build(
        home,
        &final_run,
        &op_attr,
        &req.flags.flags,
        &req.cwd,
        &op.name,
    )?;
    attrs.push((
        "cmd",
        Value::Sequence(built.display.iter().cloned().map(Value::from).collect()),
    ));
    let redact = guild_format::redact::Rules::load()?;
    if req.start_now {
        attrs.extend(op::cmd::start_attrs(home, &built, &redact));
    }

    let mut entries = sourcecode(home, &req, &run, &mut attrs)?;
    if !op.datastores.is_empty() {
        attrs.push(("datastores", mount_datastores(home, &op.datastores, &run)?));
    }
    let (dep_entries, deps_attr) =
        op::deps::apply(&run, &final_run.dir, &req.deps, req.quiet, req.report)?;
    entries.extend(dep_entries);
    attrs.push(("deps", deps_attr));
    attrs.push(("started", now_us().into()));
    let mut files = run.attr_files(&attrs);
    files.push((
        run.guild_path("manifest"),
        manifest::text(&entries).into_bytes(),
    ));
    if !req.start_now {
        // Guild writes a staged run's process environment for whoever
        // starts it; a run started at once has its `env` attr.
        files.push((
            run.guild_path("ENV"),
            env_file_text(&built.env, &redact).into_bytes(),
        ));
    }
    // The opref last: it is what makes the directory a run (for a run in
    // staging, at its waiting place until published).
    let opref_name = if staging.is_some() {
        STAGED_OPREF
    } else {
        "opref"
    };
    files.push((run.guild_path(opref_name), op.opref.format().into_bytes()));
    if staging.is_some() {
        // Nobody reads `.stage-ID` until it is published whole.
        fsutil::write_private_many(&files)?;
    } else {
        fsutil::write_atomic_many(&files)?;
    }
    fsutil::touch(&run.guild_path("STAGED"))?;
    fsutil::remove_if_exists(&run.guild_path("PENDING"))?;
    cleanup.0 = None;
    Ok(match staging {
        Some(s) => Staged::Staging(s),
        None => Staged::InPlace(run),
    })
}

/// The id of a new run: the one asked for (as Guild: any name the runs
/// directory can hold, `up1`, `1`), or a new uuid.
fn new_run_id(asked: Option<&str>) -> Result<String> {
    match asked {
        Some(id)
            if !id.is_empty()
                && id.len() <= 200
                && !id.starts_with('.')
                && !id.contains(['/', '\0']) =>
        {
            Ok(id.to_string())
        }
        Some(id) => Err(Error::user(format!(
            "invalid run id '{}': use a name of letters, digits, '-' or '_' (not starting with '.', no '/')",
            guild_format::text::escape(id)
        ))),
        None => Ok(uuid::Uuid::new_v4().simple().to_string()),
    }
}

/// The directory a new run is written in: `dir` (`--run-dir`, a batch's
/// proto), or a private staging directory beside its place in `runs/`.
/// A directory made here is removed by `cleanup` unless it is disarmed.
fn new_run_dir(
    home: &Home,
    dir: Option<PathBuf>,
    id: &str,
    cleanup: &mut Cleanup,
) -> Result<(Run, Option<Staging>)> {
    match dir {
        Some(dir) => {
            if let Some(parent) = dir.parent() {
                fsutil::create_dir_all(parent)?;
            }
            match std::fs::create_dir(&dir) {
                Ok(()) => cleanup.0 = Some(dir.clone()),
                // `--run-dir` may name a directory that exists (Guild's
                // tests use a fresh temp dir), but not a run.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
                    if dir.join(".guild").exists() {
                        return Err(Error::user(format!(
                            "{} already holds a run; give --run-dir a new or empty directory",
                            dir.display()
                        )));
                    }
                }
                Err(e) => return Err(Error::io("creating run directory", &dir, e)),
            }
            Ok((Run::at(dir), None))
        }
        None => {
            if home.runs_dir().join(id).symlink_metadata().is_ok() {
                return Err(Error::user(format!("a run {id} already exists")));
            }
            let s = Staging::new(home, id)?;
            Ok((s.run.clone(), Some(s)))
        }
    }
}

/// The attrs of a new run that say what it runs: label, tags, flags,
/// random seed, the `op` attr (returned too: the command is built from
/// it), steps, host, user, platform, plugins and the operation's
/// `run-attrs`.
fn op_attrs<'a>(home: &Home, req: &StageRequest<'a>, attrs: &mut Vec<(&'a str, Value)>) -> Value {
    let op = req.op;
    let flag_vals = Value::Mapping(req.flags.flags.clone());
    let mut tags = op.tags.clone();
    for t in &req.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let label = label_for(
        req.label.as_deref(),
        &req.tags,
        op.label_template.as_deref(),
        &req.flags.flags,
    );
    if !label.is_empty() {
        attrs.push(("label", label.into()));
    }
    if !tags.is_empty() {
        attrs.push((
            "tags",
            Value::Sequence(tags.iter().cloned().map(Value::from).collect()),
        ));
    }
    attrs.push(("flags", flag_vals.clone()));
    attrs.push(("user_flags", Value::Mapping(req.flags.user_flags.clone())));
    let seed = req
        .proto
        .as_ref()
        .and_then(|p| p.attr_i64("random_seed"))
        .unwrap_or_else(rand_seed);
    attrs.push(("random_seed", Value::from(seed)));
    let mut op_attr = op::op_attr(op);
    if let Value::Mapping(m) = &mut op_attr {
        m.insert("deps".into(), Value::Sequence(req.deps.op_deps.clone()));
        // Flags made for dependencies are extras, not the script's.
        let mut extra = Mapping::new();
        for f in op.flags.iter().filter(|f| f.generated) {
            let mut e = Mapping::new();
            e.insert("name".into(), f.name.clone().into());
            extra.insert(f.name.clone().into(), Value::Mapping(e));
        }
        m.insert("flags-extra".into(), Value::Mapping(extra));
    }
    attrs.push(("op", op_attr.clone()));
    if let Some(steps) = &op.steps {
        attrs.push((
            "steps",
            serde_yaml_ng::to_value(steps).unwrap_or(Value::Null),
        ));
    }
    attrs.push(("host", guild_format::platform::hostname().into()));
    attrs.push(("user", guild_format::platform::user().into()));
    let pyver = if op.python {
        guild_format::platform::python_exe(&req.cwd)
            .ok()
            .and_then(|p| guild_format::platform::python_version(&home.cache_dir("python"), &p))
    } else {
        None
    };
    attrs.push(("platform", guild_format::platform::platform_attr(pyver)));
    let plugin = if op.python {
        "python_script"
    } else {
        "exec_script"
    };
    attrs.push(("plugins", Value::Sequence(vec![plugin.into()])));
    // `run-attrs`: custom attrs, never one Guild itself writes.
    for (k, v) in &op.run_attrs {
        let Some(k) = k.as_str() else { continue };
        if guild_format::run::CORE_ATTRS.contains(&k) {
            req.report.warning(&format!(
                "WARNING: Invalid run attribute '{k}' (reserved attribute) - ignoring"
            ));
        } else {
            attrs.push((k, v.clone()));
        }
    }
    op_attr
}

/// Copy the run's source code (the proto run's, or a snapshot of the
/// project's); its manifest entries, its attrs added to `attrs`.
fn sourcecode(
    home: &Home,
    req: &StageRequest,
    run: &Run,
    attrs: &mut Vec<(&str, Value)>,
) -> Result<Vec<manifest::Entry>> {
    let mut entries = Vec::new();
    let op = req.op;
    if let Some(proto) = &req.proto {
        entries = copy_proto_source(proto, run)?;
        attrs.extend(source_attrs(run, &entries, proto.attr("vcs_commit"))?);
    } else if let Some(root) = &op.source_root {
        if std::env::var("NO_SOURCECODE").as_deref() != Ok("1") {
            let snap = snapshot(home, op, root, &req.deps.project_files);
            if !req.quiet {
                for w in &snap.warnings {
                    req.report.warning(&format!("WARNING: {w}"));
                }
            }
            let (copied, unreadable) = op::source::copy(&snap, &run.dir, &op.sourcecode_dest)?;
            if !req.quiet {
                for w in &unreadable {
                    req.report.warning(&format!("WARNING: {w}"));
                }
            }
            entries = copied;
            attrs.extend(source_attrs(
                run,
                &entries,
                vcs_commit(root).map(Value::from),
            )?);
        }
    }
    Ok(entries)
}

/// Mount each datastore into `run`: its version resolved now (the latest
/// when none is given), its read-only tree built once per version, and one
/// link to it at the mount directory. Returns the `datastores` attr.
fn mount_datastores(home: &Home, mounts: &[op::DatastoreMount], run: &Run) -> Result<Value> {
    let store = guild_format::datastore::Store::of(home);
    let mut out = Vec::new();
    for m in mounts {
        let (name, version) = guild_format::datastore::parse_ref(&m.spec)?;
        let v = store.find(&name, version)?;
        let tree = store.materialize(&v)?;
        let at = run.dir.join(&m.dir);
        if at.symlink_metadata().is_ok() {
            return Err(Error::user(format!(
                "cannot mount datastore {}:{} at {}: the run already has that path; give another with NAME=DIR",
                v.name, v.version, m.dir
            )));
        }
        if let Some(parent) = at.parent() {
            fsutil::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(&tree, &at).map_err(|e| Error::io("mounting", &at, e))?;
        let mut e = Mapping::new();
        e.insert("name".into(), v.name.clone().into());
        e.insert("version".into(), Value::from(v.version));
        e.insert("manifest".into(), v.manifest.clone().into());
        e.insert("mount".into(), m.dir.clone().into());
        out.push(Value::Mapping(e));
    }
    Ok(Value::Sequence(out))
}

/// Complete a staged batch run: its sweep `attrs` and its proto (`proto`,
/// staged into the batch's `.guild/proto`). On failure the batch run is
/// removed, so no half-made sweep is left behind.
pub fn complete_batch(
    home: &Home,
    batch: Staging,
    attrs: &[(&str, Value)],
    proto: StageRequest,
) -> Result<Run> {
    batch.run.write_attrs(attrs)?;
    stage(home, proto)?;
    batch.publish()
}

/// A trial of a sweep: the batch's proto run copied to a new run with
/// `flag_vals` (Guild's way), staged for its start.
pub fn stage_trial(
    home: &guild_format::home::Home,
    batch: &Run,
    index: usize,
    flag_vals: &Mapping,
) -> Result<Run> {
    let proto = Run::at(batch.guild_path("proto"));
    let id = uuid::Uuid::new_v4().simple().to_string();
    let staging = Staging::new(home, &id)?;
    let run = staging.run.clone();
    // Attrs written below are not copied: every file created and replaced
    // costs an inode allocation, the main cost of a trial on ext4.
    const REWRITTEN: &[&str] = &[
        "id",
        "initialized",
        "name",
        "flags",
        "user_flags",
        "label",
        "started",
        "cmd",
        "sweep",
    ];
    copy_dir_except(&proto.dir, &run.dir, &|p: &Path| {
        p.parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "attrs")
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| REWRITTEN.contains(&n))
            || p.file_name()
                .is_some_and(|n| n == "PENDING" || n == "STAGED" || n == "ENV" || n == "opref")
    })?;
    let batch_name = batch
        .attr_str("name")
        .unwrap_or_else(|| guild_format::run::names::for_id(&batch.id));
    let mut attrs: Vec<(&str, Value)> = vec![
        ("id", id.clone().into()),
        ("initialized", now_us().into()),
        (
            "name",
            guild_format::run::names::trial(&batch_name, index).into(),
        ),
        ("flags", Value::Mapping(flag_vals.clone())),
        ("user_flags", Value::Mapping(Mapping::new())),
        // The sweep it belongs to, after the batch run is gone.
        ("sweep", batch.id.clone().into()),
        // As any staged run (Guild shows it for pending trials); written
        // again when the trial starts.
        ("started", now_us().into()),
    ];
    let template = crate::plan::edit::label_template(&proto);
    let label = label_for(None, &[], template.as_deref(), flag_vals);
    if !label.is_empty() {
        attrs.push(("label", label.into()));
    }
    run.write_attrs(&attrs)?;
    // Waiting for its turn in the sweep: pending, as Guild shows queued
    // trials (`started` is written when it starts).
    fsutil::touch(&run.guild_path("PENDING"))?;
    // The opref last (it makes the dir a run), then the batch's link to
    // the trial (dangling for an instant), then the trial appears.
    let opref = run.guild_path(STAGED_OPREF);
    std::fs::copy(proto.guild_path("opref"), &opref)
        .map_err(|e| Error::io("writing", &opref, e))?;
    let link = batch.dir.join(&id);
    std::os::unix::fs::symlink(format!("../{id}"), &link)
        .map_err(|e| Error::io("linking trial", &link, e))?;
    match staging.publish() {
        Ok(run) => Ok(run),
        Err(e) => {
            let _ = std::fs::remove_file(&link);
            Err(e)
        }
    }
}

fn copy_dir_except(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<()> {
    fsutil::create_dir_all(to)?;
    for e in std::fs::read_dir(from).map_err(|e| Error::io("reading", from, e))? {
        let e = e.map_err(|e| Error::io("reading", from, e))?;
        let t = to.join(e.file_name());
        if skip(&e.path()) {
            continue;
        }
        let ft = e
            .file_type()
            .map_err(|err| Error::io("reading", &e.path(), err))?;
        if ft.is_dir() {
            copy_dir_except(&e.path(), &t, skip)?;
        } else if ft.is_symlink() {
            let target =
                std::fs::read_link(e.path()).map_err(|err| Error::io("reading", &e.path(), err))?;
            std::os::unix::fs::symlink(target, &t).map_err(|err| Error::io("linking", &t, err))?;
        } else {
            std::fs::copy(e.path(), &t).map_err(|err| Error::io("copying", &e.path(), err))?;
        }
    }
    Ok(())
}

/// The attrs recording a source snapshot: its digest and the VCS commit.
/// The source code of `op` a run copies: its rules, leaving out the guild
/// home and the project files the run requires.
fn snapshot(home: &Home, op: &OpDef, root: &Path, required: &[PathBuf]) -> op::source::Snapshot {
    let mut exclude = vec![home.path.clone()];
    exclude.extend(required.iter().cloned());
    op::source::select_with(
        root,
        &exclude,
        &op::source::Options {
            rules: &op.sourcecode_rules,
            python: op.python,
            trace: false,
        },
    )
}

/// `--force-sourcecode`: copy `op`'s source code into `run` again (its
/// current files replace the ones copied before), with the manifest and
/// digest updated.
pub fn refresh_sourcecode(
    home: &Home,
    run: &Run,
    op: &OpDef,
    quiet: bool,
    report: &dyn guild_format::report::Reporter,
) -> Result<()> {
    let Some(root) = &op.source_root else {
        return Ok(());
    };
    let snap = snapshot(home, op, root, &op::deps::project_files(op));
    let (copied, unreadable) = op::source::copy(&snap, &run.dir, &op.sourcecode_dest)?;
    if !quiet {
        for w in snap.warnings.iter().chain(&unreadable) {
            report.warning(&format!("WARNING: {w}"));
        }
    }
    let path = run.guild_path("manifest");
    let mut entries: Vec<manifest::Entry> = manifest::read(&path)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.kind != "s")
        .collect();
    let mut all = copied.clone();
    all.append(&mut entries);
    fsutil::write_atomic(&path, manifest::text(&all).as_bytes())?;
    let attrs = source_attrs(run, &copied, vcs_commit(root).map(Value::from))?;
    run.write_attrs(&attrs)
}

fn source_attrs(
    run: &Run,
    entries: &[manifest::Entry],
    vcs: Option<Value>,
) -> Result<Vec<(&'static str, Value)>> {
    let digest = manifest::sourcecode_digest(&run.dir, entries)?;
    let mut attrs = vec![(
        "sourcecode_digest",
        digest.map(Value::from).unwrap_or(Value::Null),
    )];
    if let Some(v) = vcs {
        attrs.push(("vcs_commit", v));
    }
    Ok(attrs)
}

/// The source files of `proto` (its manifest `s` entries) copied into `run`.
fn copy_proto_source(proto: &Run, run: &Run) -> Result<Vec<manifest::Entry>> {
    let mut out = Vec::new();
    for e in manifest::read(&proto.guild_path("manifest"))? {
        if e.kind != "s" {
            continue;
        }
        let Some(rel) = e.run_rel() else { continue };
        let src = proto.dir.join(rel);
        let dest = run.dir.join(rel);
        if !src.is_file() {
            continue;
        }
        if let Some(p) = dest.parent() {
            fsutil::create_dir_all(p)?;
        }
        std::fs::copy(&src, &dest).map_err(|err| Error::io("copying", &src, err))?;
        out.push(e.clone());
    }
    Ok(out)
}

fn rand_seed() -> i64 {
    (uuid::Uuid::new_v4().as_u128() % (1u128 << 32)) as i64
}

/// `.guild/ENV`: `export NAME=VALUE` lines so a staged run can be started by hand.
/// Secrets are redacted (see [`guild_format::redact`]).
fn env_file_text(
    env: &std::collections::BTreeMap<String, String>,
    rules: &guild_format::redact::Rules,
) -> String {
    let mut text = String::new();
    for (k, v) in env {
        if k == "PWD" || k == "_" {
            continue;
        }
        let v = rules.value(k, v);
        let val = if v.is_empty() {
            String::new()
        } else {
            guild_format::run::opref::quote(&v)
        };
        text.push_str(&format!("export {k}={val}\n"));
    }
    text
}

/// `git:<sha>` (+ `*` when dirty) when `root` is in a Git work tree.
fn vcs_commit(root: &std::path::Path) -> Option<String> {
    if std::env::var("NO_VCS_COMMIT").as_deref() == Ok("1")
        || !root.ancestors().any(|a| a.join(".git").exists())
    {
        return None;
    }
    let out = std::process::Command::new("git")
        .args(["log", "-1", "--format=%H", "."])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || sha.is_empty() {
        return None;
    }
    let dirty = std::process::Command::new("git")
        .args(["status", "-s"])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(format!("git:{sha}{}", if dirty { "*" } else { "" }))
}
