//! The one place that formats for humans: run tables fitted to the
//! terminal, `runs info` text, times and durations, and JSON output.

use crate::api::table::{Cell, Row};
use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use guild_format::output::scalars::Summary;
use guild_format::query::experiments::Experiment;
use guild_format::query::RunInfo;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

mod datastores;
mod info;
pub(crate) use datastores::{
    datastore_created, datastore_info, datastore_verified, datastores_deleted, datastores_gc,
    datastores_table,
};

pub(crate) use info::{run_info_json, run_info_text};

pub(crate) use guild_format::query::{fmt_duration, fmt_time, run_duration};

pub(crate) fn term_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0)
}

/// ` (DIR)` after an operation run from another directory than `cwd`,
/// formatted and shortened as Guild 0.9 does (`sub/dir`, `../peer`, `~/x`).
pub(crate) fn op_dir_suffix(op_dir: &str, cwd: &str) -> String {
    let trim = |s: &str| -> String {
        let t = s.trim_end_matches('/');
        if t.is_empty() {
            "/".into()
        } else {
            t.into()
        }
    };
    let (dir, cwd) = (trim(op_dir), trim(cwd));
    if dir == cwd {
        return String::new();
    }
    let sub = |path: &str, start: &str| -> Option<String> {
        let start = if start.ends_with('/') {
            start.to_string()
        } else {
            format!("{start}/")
        };
        (path != start.trim_end_matches('/'))
            .then(|| path.strip_prefix(&start).map(str::to_string))
            .flatten()
    };
    let parent = Path::new(&cwd)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let formatted = if let Some(s) = sub(&dir, &cwd) {
        s
    } else if parent == dir {
        "../".to_string()
    } else if let Some(s) = sub(&dir, &parent) {
        format!("../{s}")
    } else {
        guild_format::fsutil::tilde(Path::new(&dir))
    };
    format!(" ({})", shorten_path(&formatted, 28))
}

/// Guild's `util.shorten_path`: keep the rightmost part (and the leftmost of
/// a relative path), add parts alternately while they fit, join with `…`.
fn shorten_path(path: &str, max_len: usize) -> String {
    const ELLIPSIS: &str = "\u{2026}";
    let n = |s: &str| s.chars().count();
    if n(path) <= max_len {
        return path.to_string();
    }
    // Split on '/', prefixing leading or repeated separators to the part.
    let mut parts: Vec<String> = Vec::new();
    let mut blanks = 0;
    for part in path.split('/') {
        if part.is_empty() {
            blanks += 1;
        } else {
            parts.push(format!("{}{part}", "/".repeat(blanks)));
            blanks = 0;
        }
    }
    if blanks > 1 {
        parts.push("/".repeat(blanks - 1));
    }
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut parts: std::collections::VecDeque<String> = parts.into();
    let mut r = vec![parts.pop_back().unwrap_or_default()];
    let (mut l, mut pop_r) = if parts.front().is_some_and(|p| p.starts_with('/')) {
        (Vec::new(), false)
    } else {
        (vec![parts.pop_front().unwrap_or_default()], true)
    };
    while !parts.is_empty() {
        let len_l: usize = l.iter().map(|s: &String| n(s) + 1).sum();
        let len_r: usize = r.iter().map(|s: &String| n(s) + 1).sum();
        let part = if pop_r {
            parts.pop_back()
        } else {
            parts.pop_front()
        }
        .unwrap_or_default();
        if len_l + len_r + n(&part) + n(ELLIPSIS) >= max_len {
            break;
        }
        if pop_r {
            r.push(part)
        } else {
            l.push(part)
        }
        pop_r = !pop_r;
    }
    r.reverse();
    let shortened = [l.join("/"), ELLIPSIS.to_string(), r.join("/")].join("/");
    if n(&shortened) >= n(path) {
        return path.to_string();
    }
    shortened
}

/// A borderless table like Guild's listings, fitted to the terminal.
pub(crate) fn table(rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    match term_width() {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let ncols = rows.first().map(Vec::len).unwrap_or(0);
    for r in rows {
        t.add_row(
            r.into_iter()
                .map(|c| guild_format::text::escape(&c).into_owned())
                .collect::<Vec<_>>(),
        );
    }
    for (i, col) in t.column_iter_mut().enumerate() {
        col.set_padding((0, if i + 1 == ncols { 0 } else { 2 }));
        col.set_cell_alignment(CellAlignment::Left);
        if i + 1 < ncols {
            col.set_constraint(ColumnConstraint::ContentWidth);
        } else {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(1)));
        }
    }
    let s = t.to_string();
    s.lines()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Columns of a run listing: Guild's `[N:ID]  OP  STARTED  STATUS  LABEL`
/// by default, so the label is the rest of the line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowStyle {
    /// Guild's `-s`: `[N]  OP  STATUS  LABEL`.
    pub(crate) simplified: bool,
    /// A NAME column (sweep and trial names) before the label.
    pub(crate) names: bool,
}

/// Rows of a run listing; an operation defined outside `cwd` (the
/// command's directory, after `-C`) shows where it is, as in Guild.
pub(crate) fn run_rows(
    runs: &[(usize, &RunInfo)],
    style: RowStyle,
    cwd: &Path,
) -> Vec<Vec<String>> {
    let cwd = cwd.to_string_lossy();
    runs.iter()
        .map(|(i, r)| {
            let mut op = r.op_desc();
            if let Some(dir) = r.op_dir() {
                op.push_str(&op_dir_suffix(&dir, &cwd));
            }
            if r.marked {
                op.push_str(" [marked]");
            }
            let mut row = Vec::with_capacity(6);
            if style.simplified {
                row.push(format!("[{i}]"));
                row.push(op);
            } else {
                row.push(format!("[{}:{}]", i, r.run.short_id()));
                row.push(op);
                row.push(fmt_time(r.started));
            }
            row.push(r.status.display());
            if style.names {
                row.push(r.name.clone().unwrap_or_default());
            }
            row.push(r.label.clone().unwrap_or_default());
            row
        })
        .collect()
}

/// The runs an operation is about to change, as Guild lists them before
/// asking (`  [SHORT_ID]  OP  STARTED  STATUS  LABEL`).
pub(crate) fn id_preview(runs: &[RunInfo], cwd: &Path) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = run_rows(&[(0, r)], RowStyle::default(), cwd)
                .into_iter()
                .next()
                .unwrap_or_default();
            if let Some(first) = row.first_mut() {
                *first = format!("[{}]", r.run.short_id());
            }
            row
        })
        .collect();
    indented(&table(rows), "  ")
}

/// A command line as Guild prints it: shell-quoted, with `'x'` shown as
/// `"'x'"` rather than `''"'"'x'"'"''`.
pub(crate) fn cmd_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let q = guild_format::run::opref::quote(a);
            match q
                .strip_prefix("''\"'\"'")
                .and_then(|r| r.strip_suffix("'\"'\"''"))
            {
                Some(inner) => format!("\"'{inner}'\""),
                None => q,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Print data (CSV) to stdout: as is into a pipe or file, with control
/// characters escaped on a terminal.
pub(crate) fn out_data(text: &str) {
    let text = if std::io::stdout().is_terminal() {
        guild_format::text::escape_keep_newlines(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Print to stdout; a closed pipe (`guild runs | head`) is not an error.
pub(crate) fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    if !text.ends_with('\n') && !text.is_empty() {
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
}

pub(crate) fn json(v: &serde_json::Value) {
    out(&serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) use guild_format::query::yaml_to_json;

/// `compare --print-scalars`: a run and its scalars' last values.
pub(crate) fn scalars_listing(r: &RunInfo, scalars: &BTreeMap<String, Summary>) -> String {
    let mut o = format!("[{}] {}\n", r.run.short_id(), r.op_desc());
    for (k, s) in guild_format::output::scalars::in_guild_order(scalars) {
        o.push_str(&format!("  {k}: {:.6} (step {})\n", s.last, s.last_step));
    }
    o
}

pub(crate) fn scalar_line(key: &str, s: &Summary) -> String {
    format!("  {key}: {:.6} (step {})", s.last, s.last_step)
}

/// Scalars as Guild's `--json` gives them: `[last, step]`, or with `all`
/// every summary as `[value, step]` (`[value, count]` for avg and total).
pub(crate) fn scalars_json(s: &BTreeMap<String, Summary>, all: bool) -> serde_json::Value {
    serde_json::Value::Object(
        s.iter()
            .map(|(k, v)| {
                let val = if all {
                    serde_json::json!({
                        "first": [v.first, v.first_step],
                        "last": [v.last, v.last_step],
                        "min": [v.min, v.min_step],
                        "max": [v.max, v.max_step],
                        "avg": [v.avg(), v.count],
                        "total": [v.total, v.count],
                    })
                } else {
                    serde_json::json!([v.last, v.last_step])
                };
                (k.clone(), val)
            })
            .collect(),
    )
}

pub(crate) use guild_format::fsutil::tilde;
pub(crate) use guild_format::run::opref::quote as shell_quote;
pub(crate) use guild_project::op::cmd::command_line;

/// `--help-op` as Guild prints it: usage, description, flags with their
/// defaults and choices.
pub(crate) fn help_op(op: &guild_project::op::OpDef) -> String {
    let mut s = format!("Usage: guild run [OPTIONS] {} [FLAG]...\n\n", op.name);
    let desc = op.description.trim();
    if !desc.is_empty() {
        s.push_str(desc);
        s.push_str("\n\n");
    }
    s.push_str("Use 'guild run --help' for a list of options.\n");
    if op.flags.is_empty() {
        return s;
    }
    s.push_str("\nFlags:\n");
    s.push_str(&flags_help(&op.flags, "  "));
    s
}

/// An attr's value as `runs info` shows it (Guild's `format_attr`): text
/// as is, scalars encoded, lists and mappings as indented lines.
pub(crate) fn attr_text(v: &serde_yaml_ng::Value) -> String {
    use serde_yaml_ng::Value;
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => guild_format::run::yaml::encode_display(v),
        Value::Sequence(items) => items
            .iter()
            .map(|i| format!("\n  {}", attr_text(i)))
            .collect(),
        Value::Mapping(m) => {
            let mut items: Vec<(String, &Value)> = m
                .iter()
                .map(|(k, v)| (guild_format::run::yaml::py_str(k), v))
                .collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            items
                .into_iter()
                .map(|(k, v)| format!("\n  {k}: {}", attr_text(v)))
                .collect()
        }
        Value::Tagged(t) => attr_text(&t.value),
    }
}

/// `run --test-sourcecode`, as Guild prints it: paths relative to the
/// directory the command was started in (`cwd`), directories with `/`.
pub(crate) fn sourcecode_test(
    t: &guild_project::op::source::Test,
    cwd: &std::path::Path,
) -> String {
    let rel = |p: &std::path::Path| guild_format::fsutil::relative_path(p, cwd);
    let from = rel(&t.from);
    let mut s = if from.as_os_str().is_empty() || from == std::path::Path::new(".") {
        "Copying from the current directory\n".to_string()
    } else {
        format!("Copying from '{}'\n", from.display())
    };
    s.push_str("Rules:\n");
    for r in &t.rules {
        s.push_str(&format!("  {r}\n"));
    }
    if t.disabled {
        s.push_str("Source code copy disabled\n");
        return s;
    }
    s.push_str("Selected for copy:\n");
    for p in &t.selected {
        s.push_str(&format!("  {}\n", rel(p).display()));
    }
    s.push_str("Skipped:\n");
    for (p, is_dir) in &t.skipped {
        let slash = if *is_dir { "/" } else { "" };
        s.push_str(&format!("  {}{slash}\n", rel(p).display()));
    }
    s
}

/// The flag list of `--help-op` and `guild help`, each line indented.
pub(crate) fn flags_help(defs: &[guild_project::op::flags::FlagDef], indent: &str) -> String {
    let mut defs: Vec<&guild_project::op::flags::FlagDef> = defs.iter().collect();
    // By name; flags made for dependencies last, as Guild lists them.
    defs.sort_by(|a, b| (a.generated, &a.name).cmp(&(b.generated, &b.name)));
    let w = defs.iter().map(|f| f.name.len()).max().unwrap_or(0) + 2;
    let mut s = String::new();
    for f in defs {
        let mut desc = f
            .description
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let note = match &f.default {
            Some(d) if !d.is_null() => {
                format!("(default is {})", guild_format::run::yaml::format_flag(d))
            }
            _ if f.required => "(required)".to_string(),
            _ => String::new(),
        };
        if !note.is_empty() {
            if !desc.is_empty() {
                desc.push(' ');
            }
            desc.push_str(&note);
        }
        let line = format!("{indent}{:w$}{desc}", f.name);
        s.push_str(line.trim_end());
        s.push('\n');
        if !f.choices.is_empty() {
            let pad = " ".repeat(w);
            let described = f.choice_descriptions.iter().any(|d| !d.is_empty());
            s.push_str(&format!("{indent}{pad}\n"));
            if described {
                s.push_str(&format!("{indent}{pad}Choices:\n"));
                let cw = f
                    .choices
                    .iter()
                    .map(|c| guild_format::run::yaml::encode_display(c).len())
                    .max()
                    .unwrap_or(0)
                    + 2;
                for (c, d) in f.choices.iter().zip(f.choice_descriptions.iter()) {
                    s.push_str(&format!(
                        "{indent}{pad}  {:cw$}{d}\n",
                        guild_format::run::yaml::encode_display(c)
                    ));
                }
            } else {
                let c: Vec<String> = f
                    .choices
                    .iter()
                    .map(guild_format::run::yaml::encode_display)
                    .collect();
                s.push_str(&format!("{indent}{pad}Choices:  {}\n", c.join(", ")));
            }
            s.push('\n');
        }
    }
    s
}

/// `--print-trials`: a table of the flags of each trial.
pub(crate) fn trials_table(trials: &[serde_yaml_ng::Mapping]) -> String {
    let mut names: Vec<String> = trials
        .iter()
        .flat_map(|t| t.keys().filter_map(|k| k.as_str().map(String::from)))
        .collect();
    names.sort();
    names.dedup();
    let mut rows = vec![std::iter::once("#".to_string())
        .chain(names.iter().cloned())
        .collect::<Vec<_>>()];
    for (i, t) in trials.iter().enumerate() {
        let mut row = vec![(i + 1).to_string()];
        for n in &names {
            row.push(
                t.get(n.as_str())
                    .map(guild_format::run::yaml::encode_display)
                    .unwrap_or_default(),
            );
        }
        rows.push(row);
    }
    table(rows)
}

/// A `guild logs` line: stream, UTC time with milliseconds, text.
pub(crate) fn log_line(ms: u64, stream: u8, line: &str) -> String {
    format!("[{}] [{}] {line}", stream_name(stream), log_time(ms))
}

/// A log line's time: UTC, to the millisecond.
fn log_time(ms: u64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string())
        .unwrap_or_default()
}

fn stream_name(stream: u8) -> &'static str {
    if stream == 1 {
        "stderr"
    } else {
        "stdout"
    }
}

/// A line of `logs --json`: its stream, UTC time (as the text form) and
/// text.
pub(crate) fn log_json(ms: u64, stream: u8, line: &str, truncated: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "stream": stream_name(stream),
        "time": log_time(ms),
        "line": line,
    });
    if truncated {
        v["truncated"] = true.into();
    }
    v
}

/// Each line of `text` with `prefix` before it.
pub(crate) fn indented(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

pub(crate) use crate::api::table::cell_csv;

/// A compare cell as Guild's compare table shows it.
pub(crate) fn cell_table(c: &Cell) -> String {
    match c {
        // Guild's `format_flag(v, truncate_floats=6)`: the YAML form with
        // at most 6 decimals, cut, not rounded (`1.0e-07`, `0.699999`).
        Cell::Num(f) => truncate_decimals(&guild_format::run::yaml::float_repr_yaml(*f), 6),
        Cell::Bool(b) => if *b { "yes" } else { "no" }.into(),
        other => cell_csv(other),
    }
}

fn truncate_decimals(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        out.push(c);
        if c == '.' && s[i + 1..].starts_with(|d: char| d.is_ascii_digit()) {
            let mut kept = 0;
            while let Some((_, d)) = chars.peek().copied() {
                if !d.is_ascii_digit() {
                    break;
                }
                chars.next();
                if kept < n {
                    out.push(d);
                    kept += 1;
                }
            }
        }
    }
    out
}

pub(crate) fn cell_json(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Empty => serde_json::Value::Null,
        Cell::Str(s) => s.clone().into(),
        Cell::Num(f) => serde_json::json!(f),
        Cell::Int(i) => (*i).into(),
        Cell::Bool(b) => (*b).into(),
    }
}

pub(crate) fn compare_json(header: &[String], rows: &[Row]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            serde_json::Value::Object(
                header
                    .iter()
                    .map(|h| (h.clone(), cell_json(&r.get(h))))
                    .collect(),
            )
        })
        .collect()
}

pub(crate) fn compare_csv(header: &[String], rows: &[Row]) -> String {
    if header.is_empty() {
        return String::new();
    }
    let mut w = header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    w.push('\n');
    for r in rows {
        let line: Vec<String> = header
            .iter()
            .map(|h| csv_field(&cell_csv(&r.get(h))))
            .collect();
        w.push_str(&line.join(","));
        w.push('\n');
    }
    w
}

pub(crate) fn compare_table(header: &[String], rows: &[Row]) -> String {
    if header.is_empty() {
        return String::new();
    }
    let mut t = vec![header.to_vec()];
    for r in rows {
        t.push(
            header
                .iter()
                .map(|h| {
                    let mut c = cell_table(&r.get(h));
                    if h == "operation" && r.marked {
                        c.push_str(" [marked]");
                    }
                    c
                })
                .collect(),
        );
    }
    table(t)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `status`/`history` rows (header first) and the same as JSON.
pub(crate) fn experiments(
    exps: &[Experiment],
    costs: &[Option<f64>],
) -> (Vec<Vec<String>>, serde_json::Value) {
    // A COST column only when some experiment ran on a remote with a cost.
    let with_cost = costs.iter().any(|c| c.is_some());
    let mut rows = vec![[
        "NAME",
        "ID",
        "OPERATION",
        "STATUS",
        "QUEUED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "STOPPED",
        "DURATION",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    if with_cost {
        rows[0].push("COST".into());
    }
    let mut json = Vec::new();
    for (i, e) in exps.iter().enumerate() {
        let cost = costs.get(i).copied().flatten();
        let c = e.counts();
        let name = e.run.name.clone().unwrap_or_default();
        let mut row = vec![
            name.clone(),
            e.run.run.short_id().to_string(),
            e.run.op_desc(),
            e.status(),
        ];
        row.extend(c.iter().map(|n| n.to_string()));
        row.push(run_duration(e.run));
        if with_cost {
            row.push(cost.map(|c| format!("{c:.2}")).unwrap_or_default());
        }
        rows.push(row);
        let trials: Vec<&str> = if e.run.batch {
            e.trials.iter().map(|t| t.run.id.as_str()).collect()
        } else {
            Vec::new()
        };
        json.push(serde_json::json!({
            "trials": trials,
            "cost": cost,
            "name": name,
            "id": e.run.run.id,
            "operation": e.run.op_desc(),
            "status": if e.interrupted() { "interrupted" } else { e.run.status.status.as_str() },
            "queued": c[0], "running": c[1], "completed": c[2], "failed": c[3], "stopped": c[4],
            "duration": run_duration(e.run),
        }));
    }
    (rows, serde_json::Value::Array(json))
}

/// A run attribute as `guild select --attr` prints it: Guild's formatted
/// run fields first, else the raw attr as YAML.
pub(crate) fn select_attr(r: &RunInfo, name: &str) -> guild_format::error::Result<String> {
    let opref = r.opref.as_deref();
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
        "from" => opref.map(|o| o.origin_desc()),
        "started" => Some(fmt_time(r.started)),
        "stopped" => Some(fmt_time(r.stopped())),
        "marked" => Some(if r.marked { "yes" } else { "no" }.to_string()),
        "exit_status" => Some(r.exit_status.map(|e| e.to_string()).unwrap_or_default()),
        "pid" => Some(r.run.lock_pid().map(|p| p.to_string()).unwrap_or_default()),
        "duration" => Some(fmt_duration(r.started, r.stopped())),
        "index" => Some(format!("[{}]", r.run.short_id())),
        _ => None,
    };
    if let Some(v) = formatted {
        return Ok(v);
    }
    match r.run.read_attr(name)? {
        Some(v) => Ok(guild_format::run::yaml::dump(&v).trim_end().to_string()),
        None => Err(guild_format::error::Error::user(format!(
            "no such run attribute '{name}'"
        ))),
    }
}

/// `run --print-env`: `NAME=value` lines, values shell-quoted.
pub(crate) fn env_lines(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                format!("{k}=")
            } else {
                format!("{k}={}", shell_quote(v))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `run --needed` skipping: the runs that already match, as Guild lists
/// them.
pub(crate) fn needed_skip(matching: &[RunInfo]) -> String {
    let rows: Vec<Vec<String>> = matching
        .iter()
        .map(|r| {
            vec![
                format!("[{}]", r.run.short_id()),
                r.op_desc(),
                fmt_time(r.started),
                r.status.display(),
                r.label.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let table = indented(&table(rows), "  ");
    format!(
        "Skipping because the following runs match this operation (--needed specified):\n{table}"
    )
}

/// `guild remotes`: name, type and description, as Guild 0.9 prints them.
pub(crate) fn remotes_table(remotes: &[crate::api::remotes::Remote]) -> String {
    let w1 = remotes.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let w2 = remotes
        .iter()
        .map(|r| r.type_name().len())
        .max()
        .unwrap_or(0);
    let text: String = remotes
        .iter()
        .map(|r| {
            format!(
                "{:w1$}  {:w2$}  {}\n",
                r.name,
                r.type_name(),
                r.description.lines().next().unwrap_or("")
            )
        })
        .collect();
    guild_format::text::escape_keep_newlines(&text).into_owned()
}

/// `guild remotes --json`: each remote's name, type and description, and
/// what a program needs to plan a Slurm submission.
pub(crate) fn remotes_json(remotes: &[crate::api::remotes::Remote]) -> serde_json::Value {
    use crate::api::remotes::Kind;
    serde_json::Value::Array(
        remotes
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({
                    "name": r.name,
                    "type": r.type_name(),
                    "description": r.description,
                });
                if let Kind::Slurm(c) = &r.kind {
                    v["partition"] = c.partition.clone().into();
                    v["array_parallelism"] = c.array_parallelism.into();
                    v["hourly_cost"] = c.hourly_cost.into();
                }
                if let Kind::Ray(c) = &r.kind {
                    v["address"] = c.address.clone().into();
                    v["max_concurrent"] = c.max_concurrent.into();
                    v["hourly_cost"] = c.hourly_cost.into();
                }
                v
            })
            .collect(),
    )
}

/// `guild remote status`: what the remote has, a `key: value` line each,
/// problems worded with their fix.
pub(crate) fn remote_status(st: &crate::api::remotes::RemoteStatus) -> String {
    use crate::api::remotes::Kind;
    if let Some(r) = &st.ray {
        let res: Vec<String> = r
            .resources
            .iter()
            // Not Ray's per-node keys (`node:IP`).
            .filter(|(k, _)| !k.contains(':'))
            .map(|(k, v)| format!("{} {k}", guild_exec::remote::ray::amount(k, *v)))
            .collect();
        let rows = [
            ("remote", format!("{} (ray {})", st.remote.name, r.address)),
            ("reachable", "yes".to_string()),
            (
                "jobs api",
                format!("version {} (Ray {})", r.api_version, r.ray_version),
            ),
            ("nodes", r.nodes.to_string()),
            ("resources", res.join(", ")),
            ("per run", r.per_run.clone()),
            ("storage", r.storage.clone()),
            ("write", write_row(&r.storage_ok)),
        ];
        return key_lines(&rows);
    }
    if let Some(b) = &st.bucket {
        let rows = [
            (
                "remote",
                format!("{} ({} {})", st.remote.name, st.remote.type_name(), b.url),
            ),
            ("reachable", "yes".to_string()),
            ("bucket", "exists".to_string()),
            ("runs", b.runs.to_string()),
            ("write", write_row(&b.write)),
        ];
        return key_lines(&rows);
    }
    let p = &st.probe;
    let (address, slurm) = match &st.remote.kind {
        Kind::Ssh(s) => (s.address(), None),
        Kind::Slurm(c) => (
            c.login
                .as_ref()
                .map(|l| l.address())
                .unwrap_or_else(|| "sbatch here".into()),
            Some(c),
        ),
        Kind::Bucket(_) | Kind::Ray(_) | Kind::Other(_) => (String::new(), None),
    };
    let home = match (p.home_exists, p.home_writable) {
        (true, true) => "writable",
        (true, false) => "NOT writable: runs cannot be copied there",
        (false, true) => "created at the first run",
        (false, false) => "missing and cannot be created: set guild-home",
    };
    let mut rows = vec![
        (
            "remote",
            format!("{} ({} {address})", st.remote.name, st.remote.type_name()),
        ),
        ("reachable", "yes".to_string()),
        ("guild home", format!("{} ({home})", p.guild_home)),
        (
            "guild",
            p.guild.clone().unwrap_or_else(|| {
                "none on PATH (this binary is copied there at the first run)".into()
            }),
        ),
        (
            "python",
            p.python
                .clone()
                .unwrap_or_else(|| "none (python3 is needed for Python scripts)".into()),
        ),
    ];
    if let Some(c) = slurm {
        rows.push((
            "sbatch",
            p.sbatch.clone().unwrap_or_else(|| {
                "NOT found: install Slurm's client or set host to a login node".into()
            }),
        ));
        let shown: Vec<String> = p
            .partitions
            .iter()
            .map(|(n, a, d, s)| format!("{n} ({a}, {d} node(s) {s})"))
            .collect();
        rows.push(("partitions", shown.join(", ")));
        if let Some(w) = &c.partition {
            let line = match p.availability(w) {
                Some("up") => format!("{w} (up)"),
                Some(a) => format!("{w} is {a}: jobs would wait; pick another partition"),
                None => format!("{w} NOT found: set partition to one of the partitions above"),
            };
            rows.push(("partition", line));
        }
    }
    key_lines(&rows)
}

/// `key: value` lines, escaped for the terminal.
fn key_lines<V: std::fmt::Display>(rows: &[(&str, V)]) -> String {
    let text: String = rows.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    guild_format::text::escape_keep_newlines(&text).into_owned()
}

/// The `write` row of a remote's status: yes, or why not.
fn write_row(w: &Result<(), String>) -> String {
    match w {
        Ok(()) => "yes".to_string(),
        Err(e) => format!("NO: {e}"),
    }
}

/// What a merge will copy, and (with --preview) what it skips and why.
pub(crate) fn merge_preview(plan: &crate::api::merge::MergePlan, row: &str, full: bool) -> String {
    let mut out = if full {
        format!(
            "Merge will copy files from the following run to {}:\n",
            plan.target_desc
        )
    } else {
        format!(
            "You are about to copy files from the following run to {}:\n",
            plan.target_desc
        )
    };
    out.push_str(row);
    out.push_str("Files:\n");
    if plan.to_copy.is_empty() {
        out.push_str("  nothing to copy\n");
    }
    for f in &plan.to_copy {
        out.push_str(&format!("  {}\n", f.target_path));
    }
    match plan.skipped.len() {
        0 => {}
        n if !full => out.push_str(&format!(
            "{n} file{} will not be copied (use --preview to show the full list)\n",
            if n == 1 { "" } else { "s" }
        )),
        _ => {
            out.push_str("Skipped:\n");
            let width = plan
                .skipped
                .iter()
                .map(|s| s.path.chars().count())
                .max()
                .unwrap_or(0);
            for s in &plan.skipped {
                out.push_str(&format!("  {:width$}  {}\n", s.path, s.reason));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_cells() {
        assert_eq!(cell_table(&Cell::Num(0.69999998)), "0.699999");
        assert_eq!(cell_table(&Cell::Num(1e-7)), "1.0e-07");
        assert_eq!(cell_table(&Cell::Num(0.00017735)), "0.000177");
        assert_eq!(
            cell_table(&Cell::Num(123_456_789.123_456_79)),
            "123456789.123456"
        );
        assert_eq!(cell_table(&Cell::Num(100.0)), "100.0");
        assert_eq!(cell_csv(&Cell::Bool(false)), "False");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    /// Expected values are Guild 0.9.0's `run_util.shorten_op_dir`.
    #[test]
    fn op_dir_suffix_as_guild() {
        let cases = [
            ("/a/b/proj", "/a/b/proj", ""),
            ("/a/b/proj/sub", "/a/b/proj", " (sub)"),
            ("/a/b", "/a/b/proj", " (../)"),
            ("/a/b/other", "/a/b/proj", " (../other)"),
            ("/x/y", "/a/b/proj", " (/x/y)"),
            (
                "/home/u/projects/alpha",
                "/tmp",
                " (../home/u/projects/alpha)",
            ),
            (
                "/very/long/path/with/many/parts/to/the/project/dir",
                "/tmp/w",
                " (/very/long/\u{2026}/the/project/dir)",
            ),
            (
                "/a/b/proj/deep/er/and/deeper/still/more/levels",
                "/a/b/proj",
                " (deep/er/\u{2026}/still/more/levels)",
            ),
        ];
        for (dir, cwd, want) in cases {
            assert_eq!(op_dir_suffix(dir, cwd), want, "{dir} from {cwd}");
        }
    }
}
