//! Finding runs: list a runs directory (read in parallel), filter as
//! Guild 0.9's `runs` options do, sort newest first, and select by index,
//! `A:B` range or id prefix.

pub mod events;
pub mod experiments;
pub(crate) mod filter;
mod index;
pub use index::sig_of;
pub use index::Listing;
pub(crate) mod started;

use crate::error::{Error, Result};
use crate::fsutil::At;
use crate::run::{GuildFiles, Opref, Run, RunStatus, Status};
use std::path::Path;
use std::sync::OnceLock;

/// What a read command knows about one run. The fields every listing needs
/// are read up front; the rest are read on first use, so `runs` over many
/// runs costs a handful of small reads per run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The run.
    pub run: Run,
    /// The run's opref, if it could be read.
    /// Shared: runs listed from the index share one per operation.
    pub opref: Option<std::sync::Arc<Opref>>,
    /// When the run started (`started` attr, µs since the epoch).
    pub started: Option<i64>,
    /// The run's exit status (`exit_status` attr), once it has ended.
    pub exit_status: Option<i64>,
    /// The run's status.
    pub status: RunStatus,
    /// The run's label (`label` attr).
    pub label: Option<String>,
    /// Whether the run is marked (`marked` attr).
    pub marked: bool,
    /// The run's human name (`name` attr), when it has one.
    pub name: Option<String>,
    /// A batch run (it has a `.guild/proto`).
    pub batch: bool,
    initialized: OnceLock<Option<i64>>,
    stopped: OnceLock<Option<i64>>,
    tags: OnceLock<Vec<String>>,
}

/// A run as `runs --json` lists it (Guild's field names).
impl serde::Serialize for RunInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let tags = self.tags();
        serde_json::json!({
            "id": self.run.id,
            "short_id": self.run.short_id(),
            "run_dir": self.run.dir.display().to_string(),
            "opref": self.opref.as_ref().map(|o| o.format()),
            "operation": self.op_desc(),
            "exit_status": self.exit_status,
            "cmd": self.run.attr("cmd"),
            "marked": self.marked,
            "name": self.name,
            "label": self.label,
            "started": self.started,
            "stopped": self.stopped(),
            "status": self.status.display(),
            "tags": if tags.is_empty() { None } else { Some(tags) },
        })
        .serialize(s)
    }
}

/// Runs chosen from a listing, each with its index in it (`[N:ID]`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Indexed {
    /// The run's index in the listing (1 is the newest).
    pub index: usize,
    /// The run.
    pub run: RunInfo,
}

impl RunInfo {
    /// Read what a listing knows of `run` from its files.
    pub fn load(run: Run) -> RunInfo {
        let opref = run.opref().ok();
        let r = run.clone();
        RunInfo::read(run, &r, opref)
    }

    /// As [`RunInfo::load_in`], telling why an entry is not listed (no
    /// `.guild`), or listing a run whose opref cannot be read with a note.
    fn try_load_in(runs: &At, runs_path: &Path, id: &str) -> Loaded {
        let Ok(files) = runs.open_dir(&format!("{id}/.guild")) else {
            return Loaded::NotARun;
        };
        // As Guild: without an opref it is not a run.
        let Ok(Some(opref)) = files.read_guild("opref") else {
            return Loaded::NotARun;
        };
        let run = Run::at(runs_path.join(id));
        match Opref::parse(&String::from_utf8_lossy(&opref)) {
            Ok(opref) => Loaded::Run(RunInfo::read(run, &files, Some(opref))),
            Err(_) => Loaded::BadOpref(RunInfo::read(run, &files, None)),
        }
    }

    fn read(run: Run, files: &impl GuildFiles, opref: Option<Opref>) -> RunInfo {
        let int = |name| run.attr_in(files, name).and_then(|v| v.as_i64());
        let exit_status = int("exit_status");
        let started = int("started");
        let status = crate::run::derive_status_in(&run, files, || exit_status, started);
        RunInfo {
            opref: opref.map(std::sync::Arc::new),
            started,
            exit_status,
            status,
            label: run.attr_str_in(files, "label"),
            marked: run
                .attr_in(files, "marked")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            name: Some(
                run.attr_str_in(files, "name")
                    .unwrap_or_else(|| crate::run::names::for_id(&run.id)),
            ),
            batch: files.guild_is_dir("proto"),
            initialized: OnceLock::new(),
            stopped: OnceLock::new(),
            tags: OnceLock::new(),
            run,
        }
    }

    pub(crate) fn initialized(&self) -> Option<i64> {
        *self
            .initialized
            .get_or_init(|| self.run.attr_i64("initialized"))
    }

    /// When the run stopped (`stopped` attr, µs since the epoch).
    pub fn stopped(&self) -> Option<i64> {
        *self.stopped.get_or_init(|| self.run.attr_i64("stopped"))
    }

    /// The run's tags (`tags` attr).
    pub fn tags(&self) -> &[String] {
        self.tags.get_or_init(|| match self.run.attr("tags") {
            Some(serde_yaml_ng::Value::Sequence(t)) => {
                t.iter().map(crate::run::yaml::encode_display).collect()
            }
            _ => Vec::new(),
        })
    }

    pub(crate) fn timestamp(&self) -> Option<i64> {
        self.started.or_else(|| self.initialized())
    }

    /// The project directory of the run's operation (of its proto for a
    /// batch), as Guild 0.9 shows it after the operation in listings.
    pub fn op_dir(&self) -> Option<String> {
        let opref = if self.batch {
            Run::at(self.run.guild_path("proto")).opref().ok()?
        } else {
            self.opref.as_deref().cloned()?
        };
        match opref.pkg_type.as_str() {
            "script" => Some(opref.pkg_name),
            "guildfile" | "import" => Path::new(&opref.pkg_name)
                .parent()
                .map(|p| p.display().to_string()),
            _ => None,
        }
    }

    /// The operation as listings show it (`model:op`; a batch's with its
    /// proto's operation, `op+optimizer`).
    pub fn op_desc(&self) -> String {
        let base = self
            .opref
            .as_deref()
            .map(Opref::op_desc)
            .unwrap_or_else(|| "?".into());
        if self.batch {
            let proto = Run::at(self.run.guild_path("proto"));
            let proto_op = proto.opref().map(|o| o.op_desc()).unwrap_or_default();
            if base.starts_with('+') {
                return format!("{proto_op}{base}");
            }
            return format!("{proto_op}+{base}");
        }
        base
    }
}

/// [`list_dir_checked`] through the runs index at `index` (see
/// [`index`]): one stat per ended run instead of reading it, and a run
/// taken from the index is built only when asked for (see [`Listing`]).
pub fn list_dir_indexed(dir: &Path, index: &Path) -> (Listing, Vec<String>) {
    if let Some((listing, skipped, bad_opref)) = index::list(dir, index) {
        return (listing, warnings(dir, &skipped, &bad_opref));
    }
    let (runs, warnings) = list_dir_checked(dir);
    (Listing::of(runs), warnings)
}

/// Threads for reading many small files. With a cold page cache the work
/// waits on the disk, one small read per file, so what counts is how many
/// reads are in flight, not the number of cores: 32 threads read 10,000
/// cold runs in about 2/3 of the time 8 take, and cost nothing warm.
pub fn io_threads(items: usize) -> usize {
    32.min(items / 64 + 1)
}

/// All runs in `dir` (`runs/` or `trash/runs/`), newest first.
pub fn list_dir(dir: &Path) -> Vec<RunInfo> {
    list_dir_checked(dir).0
}

/// [`list_dir`], with warnings about entries that are not runs (skipped)
/// and runs whose opref cannot be read (listed without it).
pub(crate) fn list_dir_checked(dir: &Path) -> (Vec<RunInfo>, Vec<String>) {
    let (Ok(rd), Ok(at)) = (std::fs::read_dir(dir), At::open(dir)) else {
        return (Vec::new(), Vec::new());
    };
    let mut ids: Vec<String> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for e in rd.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            skipped.push(e.file_name().to_string_lossy().into_owned());
            continue;
        };
        if name.starts_with('.') {
            continue; // a run being staged (.stage-ID) or purged (.purge-X)
        }
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            links.push(name);
        } else {
            ids.push(name);
        }
    }
    // A link to a run listed under its own name, or a second link to the
    // same run, is not listed again.
    if !links.is_empty() {
        let here = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut seen = std::collections::HashSet::new();
        for l in links {
            match std::fs::canonicalize(dir.join(&l)) {
                Ok(t) if t.parent() == Some(here.as_path()) => {}
                Ok(t) => {
                    if seen.insert(t) {
                        ids.push(l)
                    }
                }
                Err(_) => skipped.push(l),
            }
        }
    }
    let threads = io_threads(ids.len());
    let chunk = ids.len().div_ceil(threads).max(1);
    let at = &at;
    let mut runs: (Vec<RunInfo>, Vec<String>) = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|id| (id, RunInfo::try_load_in(at, dir, id)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut runs = Vec::new();
        let mut bad_opref = Vec::new();
        for r in handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
        {
            match r {
                (_, Loaded::Run(r)) => runs.push(r),
                (_, Loaded::BadOpref(r)) => {
                    bad_opref.push(r.run.id.clone());
                    runs.push(r);
                }
                (id, Loaded::NotARun) => skipped.push(id.clone()),
            }
        }
        let warnings = warnings(dir, &skipped, &bad_opref);
        (runs, warnings)
    });
    sort(&mut runs.0);
    runs
}

#[allow(clippy::large_enum_variant)] // built once per entry, moved once
enum Loaded {
    Run(RunInfo),
    /// Listed without its operation.
    BadOpref(RunInfo),
    NotARun,
}

/// Warnings about entries of a runs dir that are not runs (skipped) and
/// runs whose opref cannot be read (listed without it).
fn warnings(dir: &Path, skipped: &[String], bad_opref: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let names = |v: &[String]| {
        let mut v: Vec<String> = v
            .iter()
            .map(|n| crate::text::escape(n).into_owned())
            .collect();
        v.sort();
        let more = v.len().saturating_sub(5);
        v.truncate(5);
        let mut s = v.join(", ");
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    };
    if !skipped.is_empty() {
        out.push(format!(
            "WARNING: skipped {} entr{} of {} that {} not a run: {}",
            skipped.len(),
            if skipped.len() == 1 { "y" } else { "ies" },
            dir.display(),
            if skipped.len() == 1 { "is" } else { "are" },
            names(skipped)
        ));
    }
    if !bad_opref.is_empty() {
        out.push(format!(
            "WARNING: {} run(s) have an unreadable .guild/opref and are listed without their operation: {}",
            bad_opref.len(),
            names(bad_opref)
        ));
    }
    out
}

/// The run `spec` names (index, id prefix or name) in `runs_dir`. A full
/// id needs no listing (trials are started this way).
pub fn find(runs_dir: &Path, spec: &str) -> Result<Run> {
    if spec.len() == 32 && spec.chars().all(|c| c.is_ascii_hexdigit()) {
        let dir = runs_dir.join(spec);
        if dir.join(".guild/opref").exists() {
            return Ok(Run::at(dir));
        }
    }
    let runs = list_dir(runs_dir);
    select(&runs, &[spec.to_string()], false)?
        .into_iter()
        .next()
        .map(|r| r.run)
        .ok_or_else(|| Error::user(format!("could not find a run matching '{spec}'")))
}

/// Runs of operation `opref` (including its guild.yml version) with exactly
/// `flag_vals`: what `--needed` looks for.
pub fn same_op_and_flags<'a>(
    runs: impl IntoIterator<Item = RunInfo> + 'a,
    opref: &'a Opref,
    flag_vals: &'a serde_yaml_ng::Mapping,
) -> impl Iterator<Item = RunInfo> + 'a {
    runs.into_iter()
        .filter(move |r| r.opref.as_deref() == Some(opref))
        .filter(move |r| match r.run.attr("flags") {
            Some(serde_yaml_ng::Value::Mapping(m)) => &m == flag_vals,
            None => flag_vals.is_empty(),
            _ => false,
        })
}

/// Pair each of `runs` with its 1-based index in the full listing `all`, as
/// `runs` shows it (0 when absent).
pub fn with_index<'a>(
    runs: impl Iterator<Item = &'a RunInfo>,
    all: &[RunInfo],
) -> Vec<(usize, &'a RunInfo)> {
    let pos: std::collections::HashMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, r)| (r.run.id.as_str(), i + 1))
        .collect();
    runs.map(|r| (pos.get(r.run.id.as_str()).copied().unwrap_or(0), r))
        .collect()
}

pub(crate) fn sort(runs: &mut [RunInfo]) {
    runs.sort_by(|a, b| newest_first((a.timestamp(), &a.run.id), (b.timestamp(), &b.run.id)));
}

/// The order of listings, on (timestamp, id): newest first, then by id;
/// runs without a time last.
fn newest_first(a: (Option<i64>, &str), b: (Option<i64>, &str)) -> std::cmp::Ordering {
    match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.1.cmp(b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(b.1),
    }
}

/// The run filters of Guild 0.9's `runs` options: a run passes when it
/// passes every filter given.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Operation filters (`-Fo`): any may match the run's operation.
    pub ops: Vec<String>,
    /// Label filters (`-Fl`): any may be a substring of the run's label
    /// (`-`: runs without a label).
    pub labels: Vec<String>,
    /// Only runs without a label (`-Fu`).
    pub unlabeled: bool,
    /// Tag filters (`-Ft`): the run has any of these tags.
    pub tags: Vec<String>,
    /// Only marked runs (`-Fm`).
    pub marked: bool,
    /// Only unmarked runs (`-Fn`).
    pub unmarked: bool,
    /// The range the run's start must be in (`-Fs`: `last 2 hours`...).
    pub started: Option<String>,
    /// A prefix of the run's source code digest (`-Fd`).
    pub digest: Option<String>,
    /// Comment filters (`-Fc`): a case-insensitive substring of a
    /// comment's user, host or body; `-` for runs without comments.
    pub comments: Vec<String>,
    /// Only runs with any of these statuses (`-Sr`, `-Sc`...; none: any).
    pub status: Vec<Status>,
    /// Runs with any of these statuses are left out.
    pub not_status: Vec<Status>,
    /// A `--filter` expression.
    pub expr: Option<String>,
}

impl Filters {
    /// No filter at all: every run passes.
    pub fn is_empty(&self) -> bool {
        let Filters {
            ops,
            labels,
            unlabeled,
            tags,
            marked,
            unmarked,
            started,
            digest,
            comments,
            status,
            not_status,
            expr,
        } = self;
        ops.is_empty()
            && labels.is_empty()
            && !unlabeled
            && tags.is_empty()
            && !marked
            && !unmarked
            && started.is_none()
            && digest.is_none()
            && comments.is_empty()
            && status.is_empty()
            && not_status.is_empty()
            && expr.is_none()
    }

    /// The runs that pass the filters, in their order; an error for a bad
    /// `started` range or filter expression.
    pub fn apply(&self, runs: Vec<RunInfo>) -> Result<Vec<RunInfo>> {
        let range = match &self.started {
            Some(s) => Some(started::parse_range(s, chrono::Local::now().naive_local())?),
            None => None,
        };
        let expr = match &self.expr {
            Some(e) => Some(filter::Filter::parse(e)?),
            None => None,
        };
        Ok(runs
            .into_iter()
            .filter(|r| self.matches(r, range.as_ref()))
            .filter(|r| expr.as_ref().is_none_or(|e| e.matches(r)))
            .collect())
    }

    fn matches(&self, r: &RunInfo, range: Option<&started::Range>) -> bool {
        if !self.ops.is_empty() && !self.ops.iter().any(|o| op_matches(o, &r.op_desc())) {
            return false;
        }
        let label = r.label.as_deref().unwrap_or("");
        if !self.labels.is_empty()
            && !self.labels.iter().any(|l| {
                if l == "-" {
                    label.is_empty()
                } else {
                    label.contains(l.as_str())
                }
            })
        {
            return false;
        }
        if self.unlabeled && !label.is_empty() {
            return false;
        }
        if !self.tags.is_empty() && !self.tags.iter().any(|t| r.tags().contains(t)) {
            return false;
        }
        if self.marked && !r.marked || self.unmarked && r.marked {
            return false;
        }
        if let Some(d) = &self.digest {
            match r.run.attr_str("sourcecode_digest") {
                Some(x) if x.starts_with(d.as_str()) => {}
                _ => return false,
            }
        }
        if !self.comments.is_empty() && !comments_match(&self.comments, &r.run) {
            return false;
        }
        if let Some(range) = range {
            match r.started {
                Some(s) if range.contains(s) => {}
                _ => return false,
            }
        }
        if !self.status.is_empty() && !self.status.contains(&r.status.status) {
            return false;
        }
        if self.not_status.contains(&r.status.status) {
            return false;
        }
        true
    }
}

/// Guild's comment filter: any of `filters` is a case-insensitive
/// substring of the run's comments (user, host and body), or `-` and the
/// run has none.
fn comments_match(filters: &[String], run: &crate::run::Run) -> bool {
    let text = crate::run::comments::read(run)
        .iter()
        .map(|c| format!("{}\n{}\n{}", c.user, c.host, c.body).to_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    filters.iter().any(|f| {
        if f == "-" {
            text.is_empty()
        } else {
            text.contains(&f.to_lowercase())
        }
    })
}

/// Guild's operation filter: regex when anchored with `^`/`$`, else a match
/// on the op name parts (`model:op`), `*` wildcards allowed.
fn op_matches(filter: &str, op: &str) -> bool {
    if filter.starts_with('^') || filter.ends_with('$') {
        return regex::Regex::new(filter)
            .map(|re| re.is_match(op))
            .unwrap_or(false);
    }
    let wild = |pat: &str, s: &str| -> bool {
        if pat.is_empty() || pat == s {
            return true;
        }
        if pat.contains('*') {
            let re = format!("^{}$", regex::escape(pat).replace("\\*", ".*"));
            return regex::Regex::new(&re)
                .map(|r| r.is_match(s))
                .unwrap_or(false);
        }
        false
    };
    let (fm, fo) = filter.rsplit_once(':').unwrap_or(("", filter));
    let (m, o) = op.rsplit_once(':').unwrap_or(("", op));
    wild(fm, m) && wild(fo, o)
}

/// Apply RUN specs to a filtered, sorted list. Empty specs select `default_all`
/// ? everything : the latest run.
pub fn select(runs: &[RunInfo], specs: &[String], default_all: bool) -> Result<Vec<RunInfo>> {
    if specs.is_empty() {
        return Ok(if default_all {
            runs.to_vec()
        } else {
            runs.iter().take(1).cloned().collect()
        });
    }
    let mut out: Vec<RunInfo> = Vec::new();
    let range_re = regex::Regex::new(r"^(\d+)?:(\d+)?$").expect("static regex");
    for spec in specs {
        let picked: Vec<&RunInfo> = if let Some(c) = range_re.captures(spec) {
            let a: usize = c
                .get(1)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(1)
                .max(1);
            let b: usize = c
                .get(2)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(runs.len());
            runs.iter()
                .skip(a - 1)
                .take(b.saturating_sub(a - 1))
                .collect()
        } else if let Some(r) = spec
            .parse::<usize>()
            .ok()
            .filter(|i| *i >= 1 && *i <= runs.len())
            .map(|i| &runs[i - 1])
        {
            vec![r]
        } else {
            // An id prefix (ids are any safe name with `--run-id`), else a
            // run name.
            let mut matches: Vec<&RunInfo> = runs
                .iter()
                .filter(|r| r.run.id.starts_with(spec.as_str()))
                .collect();
            if matches.is_empty() {
                matches = runs
                    .iter()
                    .filter(|r| r.name.as_deref() == Some(spec.as_str()))
                    .collect();
            }
            match matches.len() {
                0 => return Err(Error::NoRun { spec: spec.clone() }),
                1 => matches,
                _ => {
                    let ids: Vec<&str> = matches.iter().map(|r| r.run.short_id()).collect();
                    return Err(Error::user(format!(
                        "'{spec}' matches multiple runs ({}); use a longer id prefix",
                        ids.join(", ")
                    )));
                }
            }
        };
        for r in picked {
            if !out.iter().any(|o| o.run.id == r.run.id) {
                out.push(r.clone());
            }
        }
    }
    Ok(out)
}

/// A run attribute as Guild's index reads it for `.ATTR` columns and
/// filters: the computed ones (`run`, `operation`, `op`, `model`, `from`,
/// `started`, `stopped`, `time`, `status`, `sourcecode`), else the attr
/// file (`label`, `exit_status`, ...).
pub fn run_attr(r: &RunInfo, name: &str) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value;
    let opref = r.opref.as_deref().cloned().unwrap_or_default();
    let s = |x: String| Value::String(x);
    match name {
        "id" => s(r.run.id.clone()),
        "run" | "short_id" => s(r.run.short_id().to_string()),
        "model" => s(opref.model_name),
        "operation" => s(r.op_desc()),
        "from" => s(opref.origin_desc()),
        "op" => s(opref.op_name),
        "sourcecode" => match r.run.attr_str("sourcecode_digest") {
            Some(d) => s(d.chars().take(8).collect()),
            None => s(String::new()),
        },
        "started" => s(fmt_time(r.started)),
        "stopped" => s(fmt_time(r.stopped())),
        "status" => s(r.status.display()),
        "time" => s(run_duration(r)),
        "label" => r.label.clone().map(Value::String).unwrap_or(Value::Null),
        // The versions a run mounts, `NAME:VERSION` each.
        "datastores" => {
            let m = crate::datastore::mounted(&r.run);
            if m.is_empty() {
                Value::Null
            } else {
                s(m.iter().map(|m| m.spec()).collect::<Vec<_>>().join(" "))
            }
        }
        _ => r.run.attr(name).unwrap_or(Value::Null),
    }
}

/// Local time as Guild shows it.
pub fn fmt_time(us: Option<i64>) -> String {
    use chrono::TimeZone;
    us.and_then(|u| chrono::Local.timestamp_micros(u).single())
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The time from `start` to `stop` (µs) as `H:MM:SS`; empty without both.
pub fn fmt_duration(start: Option<i64>, stop: Option<i64>) -> String {
    match (start, stop) {
        (Some(a), Some(b)) if b >= a => {
            let s = (b - a) / 1_000_000;
            format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
        }
        _ => String::new(),
    }
}

/// How long a run ran (so far, while it runs).
pub fn run_duration(r: &RunInfo) -> String {
    use crate::run::Status;
    let end = if r.status.status == Status::Running {
        Some(crate::run::now_us())
    } else {
        r.stopped()
    };
    fmt_duration(r.started, end)
}

/// A YAML value as JSON (null where JSON has no equivalent).
pub fn yaml_to_json(v: &serde_yaml_ng::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_filter_forms() {
        assert!(op_matches("train", "train"));
        assert!(op_matches("train.py", "train.py"));
        assert!(op_matches("mnist:", "mnist:train"));
        assert!(op_matches("^tr", "train.py"));
        assert!(!op_matches("eval", "train"));
        assert!(op_matches("tr*", "train"));
    }

    #[test]
    fn comment_filter_matches_user_host_and_body_case_blind_or_none() {
        let d = tempfile::tempdir().unwrap();
        let run = crate::run::Run::at(d.path().join("r1"));
        std::fs::create_dir_all(run.guild_path("attrs")).unwrap();
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(comments_match(&f(&["-"]), &run));
        assert!(!comments_match(&f(&["keep"]), &run));
        std::fs::write(
            run.guild_path("attrs/comments"),
            "- body: Keep THIS one\n  host: gpu7\n  time: 1\n  user: ada\n",
        )
        .unwrap();
        assert!(comments_match(&f(&["keep this"]), &run));
        assert!(comments_match(&f(&["GPU7"]), &run));
        assert!(comments_match(&f(&["nope", "ada"]), &run));
        assert!(!comments_match(&f(&["-"]), &run));
        assert!(!comments_match(&f(&["bob"]), &run));
    }

    #[test]
    fn lists_newest_first_with_indexes_and_skips_non_runs() {
        let d = tempfile::tempdir().unwrap();
        for (id, started) in [("a1", 100), ("b2", 300), ("c3", 200)] {
            let g = d.path().join(id).join(".guild");
            std::fs::create_dir_all(g.join("attrs")).unwrap();
            std::fs::write(g.join("opref"), "script:/p '' '' t.py").unwrap();
            std::fs::write(g.join("attrs/started"), format!("{started}\n")).unwrap();
            std::fs::write(g.join("attrs/exit_status"), "0\n").unwrap();
        }
        std::fs::create_dir_all(d.path().join("not-a-run/.guild")).unwrap();
        let all = list_dir(d.path());
        let ids: Vec<&str> = all.iter().map(|r| r.run.id.as_str()).collect();
        assert_eq!(ids, ["b2", "c3", "a1"]);
        assert_eq!(all[0].status.status, Status::Completed);
        let picked = [&all[2], &all[0]];
        let idx: Vec<usize> = with_index(picked.into_iter(), &all)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(idx, [3, 1]);
    }
}
