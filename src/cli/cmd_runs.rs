//! Read and manage runs: `runs` (list, info, delete, restore, purge),
//! `stop`, `watch`, `cat`, `ls`, `label`, `tag`.

use super::{Ctx, FilterArgs};
use crate::error::{Error, Result};
use crate::query::{self, RunInfo};
use crate::render;
use crate::run::{trash, Status};
use clap::{Args, Subcommand};
use serde_yaml_ng::Value;
use std::time::Duration;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub cmd: Option<RunsCmd>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Subcommand, Debug)]
pub enum RunsCmd {
    /// List runs (newest first)
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show run details: attributes, flags, scalars
    Info(InfoArgs),
    /// Move runs to the trash (`runs restore` brings them back)
    #[command(visible_alias = "rm")]
    Delete(DeleteArgs),
    /// Restore deleted runs from the trash
    Restore(BulkArgs),
    /// Permanently remove deleted runs from the trash
    Purge(BulkArgs),
    /// Stop running runs
    Stop(StopArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Runs to list: index, A:B range, or id prefix
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Show all runs
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show at most N runs
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Show deleted runs (in the trash)
    #[arg(short = 'd', long)]
    pub deleted: bool,
    /// Show 20 more runs (may be repeated: -mm)
    #[arg(short = 'm', long, action = clap::ArgAction::Count)]
    pub more: u8,
    /// Show a simplified list: [N]  OPERATION  STATUS  LABEL
    #[arg(short = 's', long)]
    pub simplified: bool,
    /// Add a NAME column (sweep and trial names) before the label
    #[arg(long)]
    pub names: bool,
    /// Output JSON (all matching runs)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Run (default: latest)
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// Show the run's environment
    #[arg(short = 'e', long)]
    pub env: bool,
    /// Show the manifest
    #[arg(short = 'm', long)]
    pub manifest: bool,
    /// Show first/last/min/max/avg/total of every scalar
    #[arg(short = 's', long)]
    pub all_scalars: bool,
    /// Show the run's comments
    #[arg(short = 'c', long)]
    pub comments: bool,
    /// Show the resolved dependencies
    #[arg(short = 'd', long)]
    pub deps: bool,
    /// Show the plugins used by the run
    #[arg(short = 'p', long)]
    pub plugins: bool,
    /// Look for the run among deleted runs
    #[arg(long)]
    pub deleted: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// Delete permanently instead of moving to the trash
    #[arg(short = 'p', long)]
    pub permanent: bool,
}

#[derive(Args, Debug)]
pub struct BulkArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Runs to stop (default: all running)
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Run to watch (default: the latest running run)
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// Run: index, id prefix or name (default: the latest)
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// File to print, relative to the run directory
    #[arg(short = 'p', long, value_name = "PATH")]
    pub path: Option<String>,
    /// Print the run's output
    #[arg(short = 'O', long)]
    pub output: bool,
    /// PATH is relative to the run's source code (its `sourcecode.dest`)
    #[arg(short = 's', long)]
    pub sourcecode: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Run: index, id prefix or name (default: the latest)
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// List only PATH (a relative path, or a pattern with * and ?)
    #[arg(short = 'p', long, value_name = "PATH")]
    pub path: Option<String>,
    /// Show all files, hidden ones and .guild included
    #[arg(short = 'a', long)]
    pub all: bool,
    /// List source code files
    #[arg(short = 's', long)]
    pub sourcecode: bool,
    /// List dependencies
    #[arg(short = 'd', long)]
    pub dependencies: bool,
    /// List generated files
    #[arg(short = 'g', long)]
    pub generated: bool,
    /// Follow links to directories
    #[arg(short = 'L', long)]
    pub follow_links: bool,
    /// Show full paths
    #[arg(short = 'f', long)]
    pub full_path: bool,
    /// No header or indent
    #[arg(short = 'n', long)]
    pub no_format: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct LabelArgs {
    /// Runs: indexes, id prefixes, names or ranges like 1:3
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Set the label (template: `${flag}`, `${label}`)
    #[arg(short = 's', long, value_name = "VAL")]
    pub set: Option<String>,
    /// Prepend to the label
    #[arg(short = 'p', long, value_name = "VAL")]
    pub prepend: Option<String>,
    /// Append to the label
    #[arg(short = 'a', long, value_name = "VAL")]
    pub append: Option<String>,
    /// Remove text from the label (also -rm)
    #[arg(long = "remove", value_name = "VAL")]
    pub remove: Vec<String>,
    /// Clear the label
    #[arg(short = 'c', long)]
    pub clear: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Runs: indexes, id prefixes, names or ranges like 1:3
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Add a tag
    #[arg(short = 'a', long = "add", value_name = "TAG")]
    pub add: Vec<String>,
    /// Delete a tag
    #[arg(short = 'd', long = "delete", value_name = "TAG")]
    pub delete: Vec<String>,
    /// Remove all tags
    #[arg(short = 'c', long)]
    pub clear: bool,
    /// List all tags in use
    #[arg(long)]
    pub list_all: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

fn load(ctx: &Ctx, filters: &FilterArgs, deleted: bool) -> Result<Vec<RunInfo>> {
    let dir = if deleted {
        ctx.home.trash_dir()
    } else {
        ctx.home.runs_dir()
    };
    filters.filters().apply(query::list_dir(&dir))
}

fn one(ctx: &Ctx, spec: Option<&String>, filters: &FilterArgs, deleted: bool) -> Result<RunInfo> {
    let runs = load(ctx, filters, deleted)?;
    let specs: Vec<String> = spec.cloned().into_iter().collect();
    query::select(&runs, &specs, false)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NoRun {
            spec: String::new(),
        })
}

pub fn runs(ctx: &Ctx, a: RunsArgs) -> Result<i32> {
    match a.cmd {
        None => list(ctx, a.list),
        Some(RunsCmd::List(l)) => list(ctx, l),
        Some(RunsCmd::Info(i)) => info(ctx, i),
        Some(RunsCmd::Delete(d)) => delete(ctx, d),
        Some(RunsCmd::Restore(b)) => restore(ctx, b),
        Some(RunsCmd::Purge(b)) => purge(ctx, b),
        Some(RunsCmd::Stop(s)) => stop(ctx, s),
    }
}

fn list(ctx: &Ctx, a: ListArgs) -> Result<i32> {
    let runs = load(ctx, &a.filters, a.deleted)?;
    let selected = query::select(&runs, &a.runs, true)?;
    if a.json {
        render::json(&serde_json::Value::Array(
            selected.iter().map(render::run_json).collect(),
        ));
        return Ok(0);
    }
    let total = selected.len();
    let limit = if a.all {
        total
    } else {
        a.limit.unwrap_or(20 * (usize::from(a.more) + 1))
    };
    let style = render::RowStyle {
        simplified: a.simplified,
        names: a.names,
    };
    let indexed = query::with_index(selected.iter().take(limit), &runs);
    if !indexed.is_empty() {
        render::out(&render::table(render::run_rows(&indexed, style, &ctx.cwd)));
    } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        // Said to a person only: scripts (and Guild) get empty output.
        eprintln!("No runs (home: {})", ctx.home.path.display());
    }
    // As Guild: no note when the user chose the number (-n).
    if total > limit && a.limit.is_none() {
        eprintln!("Showing the first {limit} runs ({total} total) - use --all to show all or -m to show more");
    }
    Ok(0)
}

pub fn info(ctx: &Ctx, a: InfoArgs) -> Result<i32> {
    let r = one(ctx, a.run.as_ref(), &a.filters, a.deleted)?;
    let run = &r.run;
    let mut warnings = Vec::new();
    let mut attr = |name: &str| -> Option<Value> {
        match run.read_attr(name) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(e.message());
                None
            }
        }
    };
    let flags = attr("flags");
    let cmd = attr("cmd");
    let vcs = attr("vcs_commit");
    let digest = attr("sourcecode_digest");
    let env = if a.env { attr("env") } else { None };
    let _ = attr("label"); // shown from the listing; a broken one is reported
    for w in &warnings {
        eprintln!("WARNING: {w}");
    }
    let scalars = crate::output::scalars::run_scalars(&run.dir);
    let proto_flags = if run.is_batch() {
        crate::run::Run::at(run.guild_path("proto")).attr("flags")
    } else {
        None
    };
    let pid = run.lock_pid().map(|p| p.to_string()).unwrap_or_default();
    let other: Vec<String> = run
        .attr_names()
        .into_iter()
        .filter(|n| !n.starts_with('_') && !crate::run::CORE_ATTRS.contains(&n.as_str()))
        .collect();
    // Guild shows a missing or null attr as an empty value.
    let s = |v: &Option<Value>| {
        v.as_ref()
            .filter(|v| !v.is_null())
            .map(crate::op::flags::encode_display)
            .unwrap_or_default()
    };
    if a.json {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), run.id.clone().into());
        m.insert("operation".into(), r.op_desc().into());
        m.insert(
            "from".into(),
            r.opref
                .as_ref()
                .map(|o| o.from_desc())
                .unwrap_or_default()
                .into(),
        );
        m.insert("status".into(), r.status.display().into());
        m.insert("started".into(), render::fmt_time(r.started).into());
        m.insert("stopped".into(), render::fmt_time(r.stopped()).into());
        m.insert("marked".into(), r.marked.into());
        m.insert("label".into(), r.label.clone().unwrap_or_default().into());
        m.insert(
            "name".into(),
            r.name.clone().map(Into::into).unwrap_or_default(),
        );
        m.insert(
            "sourcecode_digest".into(),
            digest
                .as_ref()
                .map(render::yaml_to_json)
                .unwrap_or_default(),
        );
        m.insert(
            "vcs_commit".into(),
            vcs.as_ref().map(render::yaml_to_json).unwrap_or_default(),
        );
        m.insert("run_dir".into(), run.dir.display().to_string().into());
        m.insert(
            "command".into(),
            cmd.as_ref()
                .map(render::command_line)
                .unwrap_or_default()
                .into(),
        );
        m.insert(
            "exit_status".into(),
            r.exit_status
                .map(serde_json::Value::from)
                .unwrap_or_default(),
        );
        m.insert("pid".into(), pid.into());
        for name in &other {
            let v = run.attr(name).unwrap_or(Value::Null);
            m.insert(name.clone(), render::yaml_to_json(&v));
        }
        m.insert("tags".into(), serde_json::json!(r.tags()));
        m.insert(
            "flags".into(),
            flags
                .as_ref()
                .map(render::yaml_to_json)
                .unwrap_or(serde_json::json!({})),
        );
        if let Some(p) = &proto_flags {
            m.insert("proto-flags".into(), render::yaml_to_json(p));
        }
        m.insert(
            "scalars".into(),
            render::scalars_json(&scalars, a.all_scalars),
        );
        if let Some(e) = &env {
            m.insert("environment".into(), render::yaml_to_json(e));
        }
        render::json(&serde_json::Value::Object(m));
        return Ok(0);
    }
    let mut o = String::new();
    let mut kv = |k: &str, v: String| o.push_str(&format!("{k}: {}\n", crate::text::escape(&v)));
    kv("id", run.id.clone());
    kv("operation", r.op_desc());
    kv(
        "from",
        r.opref.as_ref().map(|o| o.from_desc()).unwrap_or_default(),
    );
    kv("status", r.status.display());
    kv("started", render::fmt_time(r.started));
    kv("stopped", render::fmt_time(r.stopped()));
    kv("marked", if r.marked { "yes" } else { "no" }.into());
    kv("label", r.label.clone().unwrap_or_default());
    kv("sourcecode_digest", s(&digest));
    kv("vcs_commit", s(&vcs));
    kv("run_dir", run.dir.display().to_string());
    kv(
        "command",
        cmd.as_ref().map(render::command_line).unwrap_or_default(),
    );
    kv(
        "exit_status",
        r.exit_status.map(|e| e.to_string()).unwrap_or_default(),
    );
    kv("pid", pid);
    // Other attrs (`run-attrs`, ...), as Guild formats them.
    for name in &other {
        let v = run.attr(name).unwrap_or(Value::Null);
        o.push_str(&format!(
            "{name}: {}\n",
            crate::text::escape_keep_newlines(&render::attr_text(&v))
        ));
    }
    o.push_str("tags:\n");
    for t in r.tags() {
        o.push_str(&format!("  - {}\n", crate::text::escape(t)));
    }
    push_flags(&mut o, "flags", flags.as_ref());
    if proto_flags.is_some() {
        push_flags(&mut o, "proto-flags", proto_flags.as_ref());
    }
    o.push_str("scalars:\n");
    for (k, v) in crate::output::scalars::in_guild_order(&scalars) {
        if a.all_scalars {
            // Guild's layout: summaries sorted by name; avg and total carry
            // the count where the others carry a step.
            o.push_str(&format!(
                "  {k}:\n    avg: {:.6} (step {})\n    first: {:.6} (step {})\n    last: {:.6} (step {})\n    max: {:.6} (step {})\n    min: {:.6} (step {})\n    total: {:.6} (step {})\n",
                v.avg(), v.count, v.first, v.first_step, v.last, v.last_step, v.max, v.max_step, v.min, v.min_step, v.total, v.count
            ));
        } else if !k.starts_with("sys/") {
            o.push_str(&render::scalar_line(k, v));
            o.push('\n');
        }
    }
    if a.comments {
        o.push_str("comments:\n");
        for c in crate::run::comments::read(run) {
            o.push_str("  -\n");
            let time = render::fmt_time(Some(c.time));
            for (k, v) in [
                ("body", c.body.trim()),
                ("host", c.host.as_str()),
                ("time", time.as_str()),
                ("user", c.user.as_str()),
            ] {
                o.push_str(&format!("    {k}: {v}\n"));
            }
        }
    }
    if let Some(Value::Mapping(e)) = &env {
        o.push_str("environment:\n");
        for (k, v) in e {
            o.push_str(&format!(
                "  {}: {}\n",
                k.as_str().unwrap_or(""),
                crate::op::flags::encode_display(v)
            ));
        }
    }
    if a.manifest {
        o.push_str("manifest:\n");
        for e in crate::run::manifest::read(&run.guild_path("manifest"))? {
            o.push_str(&format!("  {} {}\n", e.kind, e.fields.join(" ")));
        }
    }
    if a.deps {
        o.push_str("dependencies:\n");
        if let Some(Value::Mapping(m)) = run.attr("deps") {
            let mut items: Vec<(String, &Value)> = m
                .iter()
                .map(|(k, v)| (crate::run::yaml::py_str(k), v))
                .collect();
            items.sort_by(|x, y| x.0.cmp(&y.0));
            for (k, v) in items {
                match v {
                    Value::Mapping(_) => {
                        o.push_str(&format!("  {k}:\n"));
                        for line in crate::run::yaml::dump(v).lines() {
                            o.push_str(&format!("    {line}\n"));
                        }
                    }
                    other => o.push_str(&format!(
                        "  {k}: {}\n",
                        crate::op::flags::encode_display(other)
                    )),
                }
            }
        }
    }
    if a.plugins {
        o.push_str("plugins:\n");
        if let Some(Value::Sequence(p)) = run.attr("plugins") {
            for x in p {
                o.push_str(&format!("  - {}\n", crate::op::flags::encode_display(&x)));
            }
        }
    }
    render::out(&crate::text::escape_keep_newlines(&o));
    Ok(0)
}

fn push_flags(o: &mut String, title: &str, flags: Option<&Value>) {
    o.push_str(&format!("{title}:\n"));
    if let Some(Value::Mapping(m)) = flags {
        let mut items: Vec<(&str, &Value)> = m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
            .collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in items {
            match v {
                Value::Sequence(s) => {
                    o.push_str(&format!("  {k}:\n"));
                    for i in s {
                        o.push_str(&format!("    - {}\n", crate::op::flags::encode_display(i)));
                    }
                }
                other => o.push_str(&format!(
                    "  {k}: {}\n",
                    crate::op::flags::encode_display(other)
                )),
            }
        }
    }
}

fn preview(runs: &[RunInfo], all: &[RunInfo], cwd: &std::path::Path) -> String {
    let indexed = query::with_index(runs.iter(), all);
    render::indented(
        &render::table(render::run_rows(&indexed, Default::default(), cwd)),
        "  ",
    )
}

fn bulk_select(ctx: &Ctx, b: &BulkArgs, deleted: bool) -> Result<(Vec<RunInfo>, Vec<RunInfo>)> {
    let all = load(ctx, &b.filters, deleted)?;
    let sel = query::select(&all, &b.runs, true)?;
    Ok((sel, all))
}

fn confirm_bulk(
    cwd: &std::path::Path,
    what: &str,
    sel: &[RunInfo],
    all: &[RunInfo],
    yes: bool,
    default_yes: bool,
) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    eprint!(
        "You are about to {what} the following runs:\n{}",
        preview(sel, all, cwd)
    );
    if super::confirm(
        &format!("{} {} run(s)?", capitalize(what), sel.len()),
        default_yes,
    )? {
        Ok(true)
    } else {
        // Guild's exit code for an answered no, with a word about it.
        Err(Error::Declined("cancelled; no run was changed".to_string()))
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn delete(ctx: &Ctx, d: DeleteArgs) -> Result<i32> {
    let (sel, all) = bulk_select(ctx, &d.bulk, false)?;
    if sel.is_empty() {
        eprintln!("Nothing to delete.");
        return Ok(0);
    }
    if d.permanent && !d.bulk.yes {
        eprintln!("WARNING: You are about to permanently delete runs. This cannot be undone.");
    }
    confirm_bulk(
        &ctx.cwd,
        if d.permanent {
            "permanently delete"
        } else {
            "delete"
        },
        &sel,
        &all,
        d.bulk.yes,
        !d.permanent,
    )?;
    for r in &sel {
        if r.status.status == Status::Running && r.status.remote.is_none() {
            eprintln!(
                "Stopping {} (pid {})",
                r.run.id,
                r.run.lock_pid().unwrap_or(0)
            );
            if let crate::exec::Stopped::Foreign(pid) =
                crate::exec::stop(&r.run, Duration::from_secs(30))?
            {
                eprintln!(
                    "{}; not deleting it either: stop its process first",
                    foreign_pid_msg(&r.run, pid)
                );
                continue;
            }
        }
        if d.permanent {
            trash::purge(&r.run)?;
        } else {
            trash::move_to(&r.run, &ctx.home.trash_dir())?;
        }
    }
    eprintln!(
        "{} {} run(s)",
        if d.permanent {
            "Permanently deleted"
        } else {
            "Deleted"
        },
        sel.len()
    );
    Ok(0)
}

fn restore(ctx: &Ctx, b: BulkArgs) -> Result<i32> {
    let (sel, all) = bulk_select(ctx, &b, true)?;
    if sel.is_empty() {
        eprintln!("Nothing to restore.");
        return Ok(0);
    }
    confirm_bulk(&ctx.cwd, "restore", &sel, &all, b.yes, true)?;
    for r in &sel {
        trash::move_to(&r.run, &ctx.home.runs_dir())?;
    }
    eprintln!("Restored {} run(s)", sel.len());
    Ok(0)
}

fn purge(ctx: &Ctx, b: BulkArgs) -> Result<i32> {
    let (sel, all) = bulk_select(ctx, &b, true)?;
    if sel.is_empty() {
        eprintln!("Nothing to purge.");
        return Ok(0);
    }
    confirm_bulk(&ctx.cwd, "permanently delete", &sel, &all, b.yes, false)?;
    for r in &sel {
        trash::purge(&r.run)?;
    }
    eprintln!("Permanently deleted {} run(s)", sel.len());
    Ok(0)
}

pub fn stop(ctx: &Ctx, a: StopArgs) -> Result<i32> {
    let mut f = a.filters.clone();
    if a.runs.is_empty() {
        f.running = true;
    }
    let all = load(ctx, &f, false)?;
    let mut sel: Vec<RunInfo> = Vec::new();
    for r in query::select(&all, &a.runs, true)? {
        if r.status.remote.is_some() {
            continue;
        }
        if r.status.status == Status::Running {
            sel.push(r);
        } else if r.status.status == Status::Error && r.run.attr("exit_status").is_none() {
            // A LOCK whose live pid is not proven to be the run's.
            if let Some((pid, crate::run::proc::Owner::Foreign)) = r.run.lock_owner(true) {
                eprintln!("{}", foreign_pid_msg(&r.run, pid));
            }
        }
    }
    if sel.is_empty() {
        eprintln!("Nothing to stop.");
        return Ok(0);
    }
    if a.runs.is_empty() {
        confirm_bulk(&ctx.cwd, "stop", &sel, &all, a.yes, false)?;
    }
    let timeout = Duration::from_secs_f64(a.timeout.max(0.0));
    for r in &sel {
        eprintln!(
            "Stopping {} (pid {})",
            r.run.id,
            r.run.lock_pid().unwrap_or(0)
        );
        if let crate::exec::Stopped::Foreign(pid) = crate::exec::stop(&r.run, timeout)? {
            eprintln!("{}", foreign_pid_msg(&r.run, pid));
        }
    }
    Ok(0)
}

fn foreign_pid_msg(run: &crate::run::Run, pid: i32) -> String {
    format!(
        "run {} looks running but its pid {pid} belongs to another process; not stopping it",
        run.short_id()
    )
}

pub fn watch(ctx: &Ctx, a: WatchArgs) -> Result<i32> {
    let r = match &a.run {
        Some(spec) => one(ctx, Some(spec), &a.filters, false)?,
        None => {
            let mut f = a.filters.clone();
            f.running = true;
            load(ctx, &f, false)?.into_iter().next().ok_or_else(|| {
                Error::user(
                    "nothing to watch; view the output of a specific run with `guild watch RUN`",
                )
            })?
        }
    };
    if std::env::var("NO_WATCHING_MSG").as_deref() != Ok("1") {
        eprintln!("Watching run {}", r.run.id);
    }
    let status = crate::output::watch::follow(&r.run)?;
    eprintln!(
        "Run {} stopped with a status of '{}'",
        r.run.id,
        status.as_str()
    );
    Ok(0)
}

pub fn cat(ctx: &Ctx, a: CatArgs) -> Result<i32> {
    let r = one(ctx, a.run.as_ref(), &a.filters, false)?;
    let rel = if a.output {
        ".guild/output".to_string()
    } else {
        let p = a.path.clone().ok_or_else(|| {
            Error::user("specify a file with -p PATH or the output with --output")
        })?;
        if a.sourcecode {
            crate::run::sourcecode_path(&r.run, &p)
        } else {
            p
        }
    };
    let mut file = r.run.open_file(&rel)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // Streamed: a run's output may be far larger than memory.
    let _ = std::io::copy(&mut file, &mut out);
    let _ = out.flush();
    Ok(0)
}

pub fn ls(ctx: &Ctx, a: LsArgs) -> Result<i32> {
    if a.path.as_deref().is_some_and(|p| p.starts_with('/')) {
        return Err(Error::user(
            "PATH must be relative Try 'guild ls --help' for more information.",
        ));
    }
    let r = one(ctx, a.run.as_ref(), &a.filters, false)?;
    let types: Vec<&str> = [
        (a.sourcecode, "s"),
        (a.dependencies, "d"),
        (a.generated, "g"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, t)| *t)
    .collect();
    let filter = crate::run::ls::Filter::new(a.path.as_deref(), a.all);
    let files = crate::run::ls::list(&r.run.dir, &filter, &types, a.follow_links)?;
    if a.json {
        render::json(&serde_json::json!(files
            .iter()
            .map(|(f, _)| f)
            .collect::<Vec<_>>()));
        return Ok(0);
    }
    let mut o = String::new();
    if !a.no_format && !a.full_path {
        o.push_str(&format!("{}:\n", crate::fsutil::tilde(&r.run.dir)));
    }
    for (f, dir) in files {
        let name = if a.full_path {
            r.run.dir.join(&f).display().to_string()
        } else {
            f
        };
        let slash = if dir { "/" } else { "" };
        if a.no_format || a.full_path {
            o.push_str(&format!("{name}{slash}\n"));
        } else {
            o.push_str(&format!("  {name}{slash}\n"));
        }
    }
    render::out(&crate::text::escape_keep_newlines(&o));
    Ok(0)
}

pub fn label(ctx: &Ctx, a: LabelArgs) -> Result<i32> {
    let n = [
        a.set.is_some(),
        a.prepend.is_some(),
        a.append.is_some(),
        !a.remove.is_empty(),
        a.clear,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n != 1 {
        return Err(Error::user(
            "give exactly one of --set, --prepend, --append, --remove, --clear",
        ));
    }
    use crate::run::edit::{edit_label, LabelEdit};
    let edit = if let Some(t) = a.set {
        LabelEdit::Set(t)
    } else if let Some(t) = a.prepend {
        LabelEdit::Prepend(t)
    } else if let Some(t) = a.append {
        LabelEdit::Append(t)
    } else if a.clear {
        LabelEdit::Clear
    } else {
        LabelEdit::Remove(a.remove.clone())
    };
    let all = load(ctx, &a.filters, false)?;
    let sel = query::select(&all, &a.runs, false)?;
    for r in &sel {
        edit_label(&r.run, &edit)?;
    }
    eprintln!(
        "{} {} run(s)",
        if a.clear {
            "Cleared label for"
        } else {
            "Labeled"
        },
        sel.len()
    );
    Ok(0)
}

pub fn tag(ctx: &Ctx, a: TagArgs) -> Result<i32> {
    let all = load(ctx, &a.filters, false)?;
    if a.list_all {
        let mut tags: Vec<String> = all.iter().flat_map(|r| r.tags().to_vec()).collect();
        tags.sort();
        tags.dedup();
        render::out(&tags.join("\n"));
        return Ok(0);
    }
    if a.add.is_empty() && a.delete.is_empty() && !a.clear {
        return Err(Error::user("give --add TAG, --delete TAG or --clear"));
    }
    let edit = crate::run::edit::TagEdit {
        add: a.add.clone(),
        delete: a.delete.clone(),
        clear: a.clear,
    };
    let sel = query::select(&all, &a.runs, false)?;
    for r in &sel {
        crate::run::edit::edit_tags(&r.run, r.tags(), &edit)?;
    }
    eprintln!("Modified tags for {} run(s)", sel.len());
    Ok(0)
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  guild run --restart $(guild select -Fo train)\n  guild select --min loss          (the run with the lowest loss)\n  guild select -a flags 1           (an attribute instead of the id)\n  guild select -A -p -Fm            (paths of all marked runs)"
)]
pub struct SelectArgs {
    /// Runs to select (index, id prefix or name; default: the latest matching run)
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Select all matching runs, not just the latest
    #[arg(short = 'A', long)]
    pub all: bool,
    /// Select the run with the lowest value of COLSPEC (a scalar, `=FLAG` or `.ATTR`, as in compare); also -min
    #[arg(long, value_name = "COLSPEC")]
    pub min: Option<String>,
    /// Select the run with the highest value of COLSPEC; also -max
    #[arg(long, value_name = "COLSPEC")]
    pub max: Option<String>,
    /// Print the short id
    #[arg(short = 's', long)]
    pub short_id: bool,
    /// Print run attribute ATTR (`label`, `status`, `flags`, ...) instead of the id
    #[arg(short = 'a', long, value_name = "ATTR")]
    pub attr: Option<String>,
    /// Print the run directory
    #[arg(short = 'p', long, visible_alias = "dir")]
    pub path: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

pub fn select(ctx: &Ctx, a: SelectArgs) -> Result<i32> {
    let incompatible = [
        (a.short_id && a.attr.is_some(), "--short-id", "--attr"),
        (a.min.is_some() && a.max.is_some(), "--min", "--max"),
    ];
    for (both, x, y) in incompatible {
        if both {
            return Err(Error::user(format!(
                "{x} and {y} cannot both be specified Try 'guild select --help' for more information."
            )));
        }
    }
    let all = load(ctx, &a.filters, false)?;
    if all.is_empty() {
        return Err(Error::user("no matching runs"));
    }
    let by_col = a
        .min
        .as_ref()
        .map(|c| (c, false))
        .or(a.max.as_ref().map(|c| (c, true)));
    let many = by_col.is_none() && (a.all || a.runs.len() > 1);
    let sel: Vec<RunInfo> = if let Some((spec, desc)) = by_col {
        let candidates = query::select(&all, &a.runs, true)?;
        query::compare::best(&candidates, spec, desc)?
            .into_iter()
            .cloned()
            .collect()
    } else if many {
        query::select(&all, &a.runs, true)?
    } else {
        let spec = a.runs.first().cloned().unwrap_or_else(|| "1".to_string());
        query::select(&all, &[spec], false)?
    };
    let mut out = String::new();
    for r in &sel {
        let line = if let Some(attr) = &a.attr {
            select_attr(r, attr)?
        } else if a.short_id {
            r.run.short_id().to_string()
        } else if a.path {
            r.run.dir.display().to_string()
        } else {
            r.run.id.clone()
        };
        out.push_str(&crate::text::escape_keep_newlines(&line));
        out.push('\n');
    }
    render::out(&out);
    Ok(0)
}

/// A run attribute as `guild select --attr` prints it: Guild's formatted
/// run fields first, else the raw attr as YAML.
fn select_attr(r: &RunInfo, name: &str) -> Result<String> {
    let opref = r.opref.as_ref();
    let formatted = match name {
        "id" => Some(r.run.id.clone()),
        "short_id" => Some(r.run.short_id().to_string()),
        "run_dir" => Some(r.run.dir.display().to_string()),
        "label" => Some(r.label.clone().unwrap_or_default()),
        "status" => Some(r.status.status.as_str().to_string()),
        "operation" => Some(r.op_desc()),
        "op_name" => opref.map(|o| o.op_name.clone()),
        "model" => opref.map(|o| o.model_name.clone()),
        "pkg_name" => opref.map(|o| o.pkg_name.clone()),
        "from" => opref.map(|o| o.from_desc()),
        "started" => Some(render::fmt_time(r.started)),
        "stopped" => Some(render::fmt_time(r.stopped())),
        "marked" => Some(if r.marked { "yes" } else { "no" }.to_string()),
        "exit_status" => Some(r.exit_status.map(|e| e.to_string()).unwrap_or_default()),
        "pid" => Some(r.run.lock_pid().map(|p| p.to_string()).unwrap_or_default()),
        "duration" => Some(render::fmt_duration(r.started, r.stopped())),
        "index" => Some(format!("[{}]", r.run.short_id())),
        _ => None,
    };
    if let Some(v) = formatted {
        return Ok(v);
    }
    match r.run.read_attr(name)? {
        Some(v) => Ok(crate::run::yaml::dump(&v).trim_end().to_string()),
        None => Err(Error::user(format!("no such run attribute '{name}'"))),
    }
}

#[derive(Args, Debug)]
pub struct MarkArgs {
    /// Runs to mark (default: the latest; for unmark, all marked runs)
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Unmark the runs instead
    #[arg(short = 'c', long)]
    pub clear: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// `mark` / `unmark` (`clear`): set or remove the `marked` attr.
pub fn mark(ctx: &Ctx, a: MarkArgs, clear: bool) -> Result<i32> {
    let mut filters = a.filters.clone();
    if clear && a.runs.is_empty() {
        filters.marked = true;
    }
    let all = load(ctx, &filters, false)?;
    let sel = if a.runs.is_empty() && !clear {
        query::select(&all, &["1".to_string()], false).unwrap_or_default()
    } else {
        query::select(&all, &a.runs, true)?
    };
    let (verb, done) = if clear {
        ("unmark", "Unmarked")
    } else {
        ("mark", "Marked")
    };
    if sel.is_empty() {
        eprintln!("No runs to {verb}.");
        return Ok(0);
    }
    confirm_bulk(&ctx.cwd, verb, &sel, &all, a.yes, true)?;
    for r in &sel {
        if clear {
            r.run.del_attr("marked")?;
        } else {
            r.run.write_attr("marked", &Value::Bool(true))?;
        }
    }
    eprintln!("{done} {} run(s)", sel.len());
    Ok(0)
}
