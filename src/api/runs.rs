//! Runs as a whole: list, info, select, label/tag/mark, delete, restore,
//! purge, stop, and the files of a run (cat, ls, watch).

use super::{indexed, Context, Indexed, Question, Selection};
use guild_exec::exec::Stopped;
use guild_exec::launch::target_of;
use guild_format::error::{Error, Result};
use guild_format::output::scalars::Summary;
use guild_format::query::{self, RunInfo};
use guild_format::run::{trash, Status};
use serde::Serialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The runs a selection names, newest first, with their listing index.
/// No run specs means all of them.
pub fn list(ctx: &Context, sel: &Selection) -> Result<Vec<Indexed>> {
    let all = ctx.runs(&sel.filters, sel.deleted)?;
    if sel.runs.is_empty() {
        // All of them, in order: numbered as they come.
        return Ok(all
            .into_iter()
            .enumerate()
            .map(|(i, run)| Indexed { index: i + 1, run })
            .collect());
    }
    let chosen = query::select(&all, &sel.runs, true)?;
    Ok(indexed(&chosen, &all))
}

/// The first `limit` (None: all) of the runs a selection names, with how
/// many it names in all: what `runs` shows. Without run specs or
/// filters, only the runs shown are built.
pub fn page(ctx: &Context, sel: &Selection, limit: Option<usize>) -> Result<(Vec<Indexed>, usize)> {
    if sel.runs.is_empty() {
        let listing = ctx.listing(&sel.filters, sel.deleted)?;
        let total = listing.len();
        let shown = listing.first(limit.unwrap_or(total));
        let page = shown
            .into_iter()
            .enumerate()
            .map(|(i, run)| Indexed { index: i + 1, run })
            .collect();
        return Ok((page, total));
    }
    let mut all = list(ctx, sel)?;
    let total = all.len();
    all.truncate(limit.unwrap_or(total));
    Ok((all, total))
}

/// The one run a selection names (the latest when it names none).
pub fn one(ctx: &Context, sel: &Selection) -> Result<RunInfo> {
    let no_run = || Error::NoRun {
        spec: String::new(),
    };
    // The latest, or the Nth: only that run is built.
    let nth = match &sel.runs[..] {
        [] => Some(1),
        [spec] => spec.parse::<usize>().ok().filter(|n| *n >= 1),
        _ => None,
    };
    if let Some(n) = nth {
        let listing = ctx.listing(&sel.filters, sel.deleted)?;
        if let Some(r) = listing.get(n - 1) {
            return Ok(r);
        }
        if sel.runs.is_empty() {
            return Err(no_run());
        }
        // Past the last run: an id prefix or a name (as `select`).
        let all = listing.into_vec();
        return query::select(&all, &sel.runs, false)?
            .into_iter()
            .next()
            .ok_or_else(no_run);
    }
    let all = ctx.runs(&sel.filters, sel.deleted)?;
    query::select(&all, &sel.runs, false)?
        .into_iter()
        .next()
        .ok_or_else(no_run)
}

/// What `runs info` shows beyond the run's own fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoParts {
    pub env: bool,
    pub manifest: bool,
    pub deps: bool,
    pub plugins: bool,
    pub comments: bool,
}

/// A run in detail.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub run: RunInfo,
    pub flags: Option<Value>,
    pub cmd: Option<Value>,
    pub vcs_commit: Option<Value>,
    pub sourcecode_digest: Option<Value>,
    /// The pid in its LOCK, while it has one.
    pub pid: Option<i32>,
    /// Attributes beyond Guild's core ones (`run-attrs`...), by name.
    pub other_attrs: Vec<(String, Value)>,
    /// A sweep's proto flags (the flags its trials vary).
    pub proto_flags: Option<Value>,
    pub scalars: BTreeMap<String, Summary>,
    pub env: Option<Value>,
    pub comments: Option<Vec<guild_format::run::comments::Comment>>,
    pub manifest: Option<Vec<guild_format::run::manifest::Entry>>,
    pub deps: Option<Value>,
    pub plugins: Option<Value>,
}

/// `runs info`: one run in detail. An attr that cannot be read is a
/// warning, not a failure (the rest is still worth seeing).
pub fn info(ctx: &Context, sel: &Selection, parts: InfoParts) -> Result<RunDetail> {
    let r = one(ctx, sel)?;
    let run = &r.run;
    let attr = |name: &str| -> Option<Value> {
        match run.read_attr(name) {
            Ok(v) => v,
            Err(e) => {
                ctx.report.warning(&format!("WARNING: {}", e.message()));
                None
            }
        }
    };
    let flags = attr("flags");
    let cmd = attr("cmd");
    let vcs_commit = attr("vcs_commit");
    let sourcecode_digest = attr("sourcecode_digest");
    let env = if parts.env { attr("env") } else { None };
    let _ = attr("label"); // shown from the listing; a broken one is reported
    let proto_flags = if run.is_batch() {
        guild_format::run::Run::at(run.guild_path("proto")).attr("flags")
    } else {
        None
    };
    let other_attrs = run
        .attr_names()
        .into_iter()
        .filter(|n| !n.starts_with('_') && !guild_format::run::CORE_ATTRS.contains(&n.as_str()))
        .map(|n| {
            let v = run.attr(&n).unwrap_or(Value::Null);
            (n, v)
        })
        .collect();
    let manifest = if parts.manifest {
        Some(guild_format::run::manifest::read(
            &run.guild_path("manifest"),
        )?)
    } else {
        None
    };
    Ok(RunDetail {
        flags,
        cmd,
        vcs_commit,
        sourcecode_digest,
        pid: run.lock_pid(),
        other_attrs,
        proto_flags,
        scalars: guild_format::output::scalars::run_scalars(&run.dir),
        env,
        comments: parts
            .comments
            .then(|| guild_format::run::comments::read(run)),
        manifest,
        deps: parts.deps.then(|| run.attr("deps").unwrap_or(Value::Null)),
        plugins: parts
            .plugins
            .then(|| run.attr("plugins").unwrap_or(Value::Null)),
        run: r,
    })
}

/// A request that changes runs: which, and whether the user already said
/// yes (`-y`); otherwise the reporter is asked.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub select: Selection,
    pub yes: bool,
}

/// What a change did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changed {
    /// The ids of the runs changed.
    pub ids: Vec<String>,
}

/// Ask before changing `sel` unless `yes`; a no is [`Error::Declined`].
fn confirm(
    ctx: &Context,
    verb: &str,
    sel: &[RunInfo],
    all: &[RunInfo],
    yes: bool,
    default_yes: bool,
) -> Result<()> {
    if yes {
        return Ok(());
    }
    let runs = indexed(sel, all);
    let q = Question::Runs {
        verb,
        runs: &runs,
        default_yes,
    };
    if ctx.report.confirm(&q)? {
        Ok(())
    } else {
        Err(Error::Declined("cancelled; no run was changed".to_string()))
    }
}

fn chosen(ctx: &Context, c: &Change) -> Result<(Vec<RunInfo>, Vec<RunInfo>)> {
    let all = ctx.runs(&c.select.filters, c.select.deleted)?;
    let sel = query::select(&all, &c.select.runs, true)?;
    Ok((sel, all))
}

fn ids(sel: &[RunInfo]) -> Changed {
    Changed {
        ids: sel.iter().map(|r| r.run.id.clone()).collect(),
    }
}

/// `runs delete`: to the trash (`permanent`: gone). A running run is
/// stopped first; one whose pid is not proven to be its own is left.
pub fn delete(ctx: &Context, c: &Change, permanent: bool) -> Result<Changed> {
    let (sel, all) = chosen(ctx, c)?;
    if sel.is_empty() {
        ctx.report.progress("Nothing to delete.");
        return Ok(Changed::default());
    }
    if permanent && !c.yes {
        ctx.report
            .warning("WARNING: You are about to permanently delete runs. This cannot be undone.");
    }
    let verb = if permanent {
        "permanently delete"
    } else {
        "delete"
    };
    confirm(ctx, verb, &sel, &all, c.yes, !permanent)?;
    let mut done = Vec::new();
    for r in &sel {
        if r.status.status == Status::Running && r.status.remote.is_none() {
            ctx.report.progress(&format!(
                "Stopping {} (pid {})",
                r.run.id,
                r.run.lock_pid().unwrap_or(0)
            ));
            let caller = ctx.caller();
            let target = target_of(&caller, &r.run)?;
            if let Stopped::Foreign(pid) = target.stop(&r.run, Duration::from_secs(30))? {
                ctx.report.progress(&format!(
                    "{}; not deleting it either: stop its process first",
                    foreign_pid_msg(&r.run, pid)
                ));
                continue;
            }
        }
        if permanent {
            trash::purge(&r.run)?;
        } else {
            trash::move_to(&r.run, &ctx.home.trash_dir())?;
        }
        done.push(r.clone());
    }
    ctx.report.progress(&format!(
        "{} {} run(s)",
        if permanent {
            "Permanently deleted"
        } else {
            "Deleted"
        },
        sel.len()
    ));
    Ok(ids(&done))
}

/// `runs restore`: runs in the trash back to the home.
pub fn restore(ctx: &Context, c: &Change) -> Result<Changed> {
    let words = Words {
        command: "restore",
        verb: "restore",
        done: "Restored",
        default_yes: true,
    };
    in_trash(ctx, c, &words, |r| {
        trash::move_to(&r.run, &ctx.home.runs_dir()).map(drop)
    })
}

/// `runs purge`: runs in the trash, gone for good.
pub fn purge(ctx: &Context, c: &Change) -> Result<Changed> {
    let words = Words {
        command: "purge",
        verb: "permanently delete",
        done: "Permanently deleted",
        default_yes: false,
    };
    in_trash(ctx, c, &words, |r| trash::purge(&r.run).map(drop))
}

/// How a change to runs in the trash is worded, as Guild words it.
struct Words<'a> {
    /// "Nothing to {command}."
    command: &'a str,
    /// "You are about to {verb} the following runs"
    verb: &'a str,
    /// "{done} N run(s)"
    done: &'a str,
    /// The answer when the user just presses Enter.
    default_yes: bool,
}

/// Do `act` to the selected runs of the trash, after asking unless `yes`.
fn in_trash(
    ctx: &Context,
    c: &Change,
    words: &Words,
    act: impl Fn(&RunInfo) -> Result<()>,
) -> Result<Changed> {
    let c = Change {
        select: Selection {
            deleted: true,
            ..c.select.clone()
        },
        yes: c.yes,
    };
    let (sel, all) = chosen(ctx, &c)?;
    if sel.is_empty() {
        ctx.report
            .progress(&format!("Nothing to {}.", words.command));
        return Ok(Changed::default());
    }
    confirm(ctx, words.verb, &sel, &all, c.yes, words.default_yes)?;
    for r in &sel {
        act(r)?;
    }
    ctx.report
        .progress(&format!("{} {} run(s)", words.done, sel.len()));
    Ok(ids(&sel))
}

/// `stop`: the running runs selected (default: every running run, after
/// asking), each through its target: TERM, `grace`, KILL.
pub fn stop(ctx: &Context, c: &Change, grace: Duration) -> Result<Changed> {
    let mut filters = c.select.filters.clone();
    if c.select.runs.is_empty() {
        // Running runs, and pending ones a remote scheduler holds.
        filters.status.push(Status::Running);
        filters.status.push(Status::Pending);
    }
    let all = ctx.runs(&filters, false)?;
    let mut sel: Vec<RunInfo> = Vec::new();
    for r in query::select(&all, &c.select.runs, true)? {
        if target_of(&ctx.caller(), &r.run)?.stoppable(&r.run) {
            sel.push(r);
        } else if r.status.status == Status::Error && r.run.attr("exit_status").is_none() {
            // A LOCK whose live pid is not proven to be the run's.
            if let Some((pid, guild_format::run::proc::Owner::Foreign)) = r.run.lock_owner(true) {
                ctx.report.progress(&foreign_pid_msg(&r.run, pid));
            }
        }
    }
    if sel.is_empty() {
        ctx.report.progress("Nothing to stop.");
        return Ok(Changed::default());
    }
    if c.select.runs.is_empty() {
        confirm(ctx, "stop", &sel, &all, c.yes, false)?;
    }
    for r in &sel {
        let whereabouts = match guild_format::run::placement::Placement::of(&r.run)? {
            guild_format::run::placement::Placement::Remote { remote, .. } => {
                format!("on {remote}")
            }
            guild_format::run::placement::Placement::Slurm { job } => format!("Slurm job {job}"),
            guild_format::run::placement::Placement::Local { .. } => {
                format!("pid {}", r.run.lock_pid().unwrap_or(0))
            }
        };
        ctx.report
            .progress(&format!("Stopping {} ({whereabouts})", r.run.id));
    }
    // Every run is signalled at once and their grace periods overlap:
    // N runs stop in one timeout, not N.
    let stopped: Vec<Result<Stopped>> = std::thread::scope(|s| {
        let handles: Vec<_> = sel
            .iter()
            .map(|r| s.spawn(move || target_of(&ctx.caller(), &r.run)?.stop(&r.run, grace)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::user("stopping a run failed unexpectedly")))
            })
            .collect()
    });
    let mut done = Vec::new();
    let mut first_err = None;
    for (r, res) in sel.iter().zip(stopped) {
        match res {
            Ok(Stopped::Foreign(pid)) => ctx.report.progress(&foreign_pid_msg(&r.run, pid)),
            Ok(_) => done.push(r.clone()),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(ids(&done)),
    }
}

fn foreign_pid_msg(run: &guild_format::run::Run, pid: i32) -> String {
    format!(
        "run {} looks running but its pid {pid} belongs to another process; not stopping it",
        run.short_id()
    )
}

/// `mark` (or with `clear`, `unmark`): set or remove the `marked` attr.
/// Default runs: the latest to mark, every marked one to unmark.
pub fn mark(ctx: &Context, c: &Change, clear: bool) -> Result<Changed> {
    let mut filters = c.select.filters.clone();
    if clear && c.select.runs.is_empty() {
        filters.marked = true;
    }
    let all = ctx.runs(&filters, false)?;
    let sel = if c.select.runs.is_empty() && !clear {
        query::select(&all, &["1".to_string()], false).unwrap_or_default()
    } else {
        query::select(&all, &c.select.runs, true)?
    };
    let (verb, done) = if clear {
        ("unmark", "Unmarked")
    } else {
        ("mark", "Marked")
    };
    if sel.is_empty() {
        ctx.report.progress(&format!("No runs to {verb}."));
        return Ok(Changed::default());
    }
    confirm(ctx, verb, &sel, &all, c.yes, true)?;
    for r in &sel {
        if clear {
            r.run.del_attr("marked")?;
        } else {
            r.run.write_attr("marked", &Value::Bool(true))?;
        }
    }
    ctx.report.progress(&format!("{done} {} run(s)", sel.len()));
    Ok(ids(&sel))
}

/// `label`: change the labels of the selected runs (default: the latest).
pub fn label(
    ctx: &Context,
    sel: &Selection,
    edit: &guild_project::plan::edit::LabelEdit,
) -> Result<Changed> {
    let all = ctx.runs(&sel.filters, false)?;
    let runs = query::select(&all, &sel.runs, false)?;
    for r in &runs {
        guild_project::plan::edit::edit_label(&r.run, edit)?;
    }
    let cleared = matches!(edit, guild_project::plan::edit::LabelEdit::Clear);
    ctx.report.progress(&format!(
        "{} {} run(s)",
        if cleared {
            "Cleared label for"
        } else {
            "Labeled"
        },
        runs.len()
    ));
    Ok(ids(&runs))
}

/// `tag`: add, delete or clear tags of the selected runs (default: the
/// latest).
pub fn tag(
    ctx: &Context,
    sel: &Selection,
    edit: &guild_project::plan::edit::TagEdit,
) -> Result<Changed> {
    let all = ctx.runs(&sel.filters, false)?;
    let runs = query::select(&all, &sel.runs, false)?;
    for r in &runs {
        guild_project::plan::edit::edit_tags(&r.run, r.tags(), edit)?;
    }
    ctx.report
        .progress(&format!("Modified tags for {} run(s)", runs.len()));
    Ok(ids(&runs))
}

/// Every tag of the runs that pass `filters`, sorted, once each.
pub fn all_tags(ctx: &Context, filters: &query::Filters) -> Result<Vec<String>> {
    let mut tags: Vec<String> = ctx
        .runs(filters, false)?
        .iter()
        .flat_map(|r| r.tags().to_vec())
        .collect();
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// `select`: which runs; by default the latest, `all` every match, or the
/// run with the lowest (`Best::Min`) or highest value of a column.
#[derive(Debug, Clone, Default)]
pub struct SelectRequest {
    pub select: Selection,
    pub all: bool,
    pub best: Option<(String, bool)>,
}

pub fn select(ctx: &Context, req: &SelectRequest) -> Result<Vec<RunInfo>> {
    let all = ctx.runs(&req.select.filters, false)?;
    if all.is_empty() {
        return Err(Error::user("no matching runs"));
    }
    let specs = &req.select.runs;
    if let Some((spec, desc)) = &req.best {
        let candidates = query::select(&all, specs, true)?;
        return Ok(crate::api::table::best(&candidates, spec, *desc)?
            .into_iter()
            .cloned()
            .collect());
    }
    if req.all || specs.len() > 1 {
        return query::select(&all, specs, true);
    }
    let spec = specs.first().cloned().unwrap_or_else(|| "1".to_string());
    query::select(&all, &[spec], false)
}

/// A file of a run (relative to its directory; `sourcecode`: to its
/// source snapshot), or its output, opened for reading.
pub fn open_file(
    ctx: &Context,
    sel: &Selection,
    path: Option<&str>,
    sourcecode: bool,
) -> Result<std::fs::File> {
    let r = one(ctx, sel)?;
    let rel = match path {
        None => ".guild/output".to_string(),
        Some(p) if sourcecode => guild_format::run::sourcecode_path(&r.run, p),
        Some(p) => p.to_string(),
    };
    r.run.open_file(&rel)
}

/// The path of a run's directory, a file in it (`sourcecode`: in its
/// source snapshot) or its output (`output`); an error if it does not
/// exist.
pub fn path_in(
    ctx: &Context,
    sel: &Selection,
    path: Option<&str>,
    sourcecode: bool,
    output: bool,
) -> Result<std::path::PathBuf> {
    let r = one(ctx, sel)?;
    let rel = if output {
        ".guild/output".to_string()
    } else {
        let p = path.unwrap_or(".");
        if sourcecode {
            guild_format::run::sourcecode_path(&r.run, p)
        } else {
            p.to_string()
        }
    };
    let full = if rel == "." {
        r.run.dir.clone()
    } else {
        r.run.dir.join(&rel)
    };
    if !full.exists() {
        return Err(Error::user(format!("{} does not exist", full.display())));
    }
    Ok(full)
}

/// `ls`: what to list of a run.
#[derive(Debug, Clone, Default)]
pub struct LsRequest {
    pub select: Selection,
    pub path: Option<String>,
    pub all: bool,
    pub sourcecode: bool,
    pub dependencies: bool,
    pub generated: bool,
    pub follow_links: bool,
}

/// A run's files: paths relative to its directory, and whether each is a
/// directory.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub dir: std::path::PathBuf,
    pub files: Vec<(String, bool)>,
}

pub fn ls(ctx: &Context, req: &LsRequest) -> Result<Listing> {
    if req.path.as_deref().is_some_and(|p| p.starts_with('/')) {
        return Err(Error::user(
            "PATH must be relative Try 'guild ls --help' for more information.",
        ));
    }
    let r = one(ctx, &req.select)?;
    let types: Vec<&str> = [
        (req.sourcecode, "s"),
        (req.dependencies, "d"),
        (req.generated, "g"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, t)| *t)
    .collect();
    let filter = guild_format::run::ls::Filter::new(req.path.as_deref(), req.all);
    let files = guild_format::run::ls::list(&r.run.dir, &filter, &types, req.follow_links)?;
    Ok(Listing {
        dir: r.run.dir.clone(),
        files,
    })
}

/// `watch`: the run to follow (given, or the latest running one).
pub fn watched(ctx: &Context, sel: &Selection) -> Result<RunInfo> {
    if !sel.runs.is_empty() {
        return one(ctx, sel);
    }
    let mut filters = sel.filters.clone();
    filters.status.push(Status::Running);
    ctx.runs(&filters, false)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::user(
                "nothing to watch; view the output of a specific run with `guild watch RUN`",
            )
        })
}

/// Copy the run's output to `out` as it grows, until the run stops;
/// returns how it ended.
pub fn watch(ctx: &Context, run: &RunInfo, out: &mut dyn std::io::Write) -> Result<Status> {
    if std::env::var("NO_WATCHING_MSG").as_deref() != Ok("1") {
        ctx.report.progress(&format!("Watching run {}", run.run.id));
    }
    let moved_to = ctx.home.trash_dir().join(&run.run.id);
    let status = guild_format::output::watch::follow_to(&run.run, &moved_to, out)?;
    ctx.report.progress(&format!(
        "Run {} stopped with a status of '{}'",
        run.run.id,
        status.as_str()
    ));
    Ok(status)
}
