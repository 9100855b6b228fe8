//! The one place that formats for humans: run tables fitted to the
//! terminal, `runs info` text, times and durations, and JSON output.

use crate::output::scalars::Summary;
use crate::query::RunInfo;
use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

/// Local time as Guild shows it.
pub fn fmt_time(us: Option<i64>) -> String {
    use chrono::TimeZone;
    us.and_then(|u| chrono::Local.timestamp_micros(u).single())
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub fn fmt_duration(start: Option<i64>, stop: Option<i64>) -> String {
    match (start, stop) {
        (Some(a), Some(b)) if b >= a => {
            let s = (b - a) / 1_000_000;
            format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
        }
        _ => String::new(),
    }
}

pub fn term_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0)
}

/// A borderless table like Guild's listings, fitted to the terminal.
pub fn table(rows: Vec<Vec<String>>) -> String {
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
        t.add_row(r);
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

pub fn run_rows(runs: &[(usize, &RunInfo)]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|(i, r)| {
            let mut op = r.op_desc();
            if r.marked {
                op.push_str(" [marked]");
            }
            vec![
                format!("[{}:{}]", i, r.run.short_id()),
                op,
                fmt_time(r.started),
                r.status.display(),
                r.label.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

/// Print to stdout; a closed pipe (`guild runs | head`) is not an error.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    if !text.ends_with('\n') && !text.is_empty() {
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
}

pub fn json(v: &serde_json::Value) {
    out(&serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn yaml_to_json(v: &serde_yaml_ng::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub fn run_json(r: &RunInfo) -> serde_json::Value {
    serde_json::json!({
        "id": r.run.id,
        "short_id": r.run.short_id(),
        "run_dir": r.run.dir.display().to_string(),
        "opref": r.opref.as_ref().map(|o| o.format()),
        "operation": r.op_desc(),
        "exit_status": r.exit_status,
        "cmd": r.run.attr("cmd").map(|v| yaml_to_json(&v)),
        "marked": r.marked,
        "label": r.label,
        "started": r.started,
        "stopped": r.stopped(),
        "status": r.status.display(),
        "tags": if r.tags().is_empty() { serde_json::Value::Null } else { serde_json::json!(r.tags()) },
    })
}

pub fn scalar_line(key: &str, s: &Summary) -> String {
    format!("  {key}: {:.6} (step {})", s.last, s.last_step)
}

pub fn scalars_json(s: &BTreeMap<String, Summary>) -> serde_json::Value {
    serde_json::Value::Object(
        s.iter()
            .map(|(k, v)| (k.clone(), serde_json::json!([v.last, v.last_step])))
            .collect(),
    )
}

/// Shell-ish command display: args with spaces or empty are double-quoted.
pub fn command_line(cmd: &serde_yaml_ng::Value) -> String {
    cmd.as_sequence()
        .map(|s| {
            s.iter()
                .map(|a| {
                    let a = match a {
                        serde_yaml_ng::Value::String(s) => s.clone(),
                        other => crate::op::flags::encode_arg(other),
                    };
                    if a.is_empty() || a.contains(' ') {
                        format!("\"{a}\"")
                    } else {
                        a
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
