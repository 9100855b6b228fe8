//! Sweep-friendly views in Grid's spirit (`status`, `history`, `logs`) and
//! `compare` (flags and scalars of many runs as a table, CSV or JSON).

use super::{Ctx, FilterArgs};
use crate::error::{Error, Result};
use crate::output::scalars::Summary;
use crate::query::{self, RunInfo};
use crate::render;
use crate::run::Status;
use clap::Args;
use serde_yaml_ng::Value;
use std::collections::{HashMap, HashSet};

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show at most N (default 20)
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Run (index, id prefix or name; default: the latest)
    pub run: Option<String>,
    /// Keep printing new lines until the run stops
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// A sweep (batch run) or a standalone run, with its trials by state.
struct Experiment<'a> {
    run: &'a RunInfo,
    trials: Vec<&'a RunInfo>,
    queued: usize,
}

fn experiments(runs: &[RunInfo]) -> Vec<Experiment<'_>> {
    let by_id: HashMap<&str, &RunInfo> = runs.iter().map(|r| (r.run.id.as_str(), r)).collect();
    let mut trial_ids: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for r in runs.iter().filter(|r| r.batch) {
        let linked: Vec<String> = std::fs::read_dir(&r.run.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .filter_map(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let planned = match r.run.attr("trials") {
            Some(Value::Sequence(t)) => t.len(),
            _ => linked.len(),
        };
        let trials: Vec<&RunInfo> = linked
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        trial_ids.extend(linked);
        let finished_batch = r.status.status != Status::Running;
        let queued = if finished_batch {
            0
        } else {
            planned.saturating_sub(trials.len())
        };
        out.push(Experiment {
            run: r,
            trials,
            queued,
        });
    }
    for r in runs {
        if !r.batch && !trial_ids.contains(&r.run.id) {
            out.push(Experiment {
                run: r,
                trials: vec![r],
                queued: 0,
            });
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.run.timestamp()));
    out
}

fn counts(e: &Experiment) -> [usize; 5] {
    let mut c = [e.queued, 0, 0, 0, 0];
    for t in &e.trials {
        match t.status.status {
            Status::Staged | Status::Pending => c[0] += 1,
            Status::Running => c[1] += 1,
            Status::Completed => c[2] += 1,
            Status::Error => c[3] += 1,
            Status::Terminated => c[4] += 1,
        }
    }
    c
}

fn duration(r: &RunInfo) -> String {
    let end = if r.status.status == Status::Running {
        Some(crate::run::now_us())
    } else {
        r.stopped()
    };
    render::fmt_duration(r.started, end)
}

fn exp_rows(exps: &[Experiment]) -> (Vec<Vec<String>>, serde_json::Value) {
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
    let mut json = Vec::new();
    for e in exps {
        let c = counts(e);
        let name = e.run.name.clone().unwrap_or_default();
        let mut row = vec![
            name.clone(),
            e.run.run.short_id().to_string(),
            e.run.op_desc(),
            e.run.status.display(),
        ];
        row.extend(c.iter().map(|n| n.to_string()));
        row.push(duration(e.run));
        rows.push(row);
        json.push(serde_json::json!({
            "name": name,
            "id": e.run.run.id,
            "operation": e.run.op_desc(),
            "status": e.run.status.status.as_str(),
            "queued": c[0], "running": c[1], "completed": c[2], "failed": c[3], "stopped": c[4],
            "duration": duration(e.run),
        }));
    }
    (rows, serde_json::Value::Array(json))
}

fn active(e: &Experiment) -> bool {
    matches!(
        e.run.status.status,
        Status::Running | Status::Pending | Status::Staged
    ) || e.trials.iter().any(|t| t.status.status == Status::Running)
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let exps: Vec<Experiment> = experiments(&runs).into_iter().filter(active).collect();
    let (rows, json) = exp_rows(&exps);
    if a.json {
        render::json(&json);
    } else if exps.is_empty() {
        eprintln!("No active runs or sweeps (see `guild history` for finished ones)");
    } else {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let exps: Vec<Experiment> = experiments(&runs)
        .into_iter()
        .filter(|e| !active(e))
        .take(a.limit.unwrap_or(20))
        .collect();
    let (rows, json) = exp_rows(&exps);
    if a.json {
        render::json(&json);
    } else if !exps.is_empty() {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let specs: Vec<String> = a.run.iter().cloned().collect();
    let r = query::select(&runs, &specs, false)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::user("there are no runs yet; start one with `guild run`".to_string())
        })?;
    let gdir = r.run.guild_dir();
    let mut printed = 0usize;
    let out = std::io::stdout();
    loop {
        let running = a.follow && r.run.status().status == Status::Running;
        let lines = crate::output::read_indexed(&gdir).unwrap_or_default();
        // While running, the last line may be partial: print complete lines.
        let idx_len = std::fs::metadata(gdir.join("output.index"))
            .map(|m| m.len() as usize / 9)
            .unwrap_or(0);
        let upto = if running {
            idx_len.min(lines.len())
        } else {
            lines.len()
        };
        {
            use std::io::Write;
            let mut o = out.lock();
            for (ms, stream, line) in lines.iter().take(upto).skip(printed) {
                if writeln!(o, "{}", render::log_line(*ms, *stream, line)).is_err() {
                    return Ok(0);
                }
            }
            let _ = o.flush();
        }
        printed = printed.max(upto);
        if !running {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(0)
}

// ------------------------------------------------------------- compare

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Runs to compare (default: all matching the filters)
    pub runs: Vec<String>,
    /// Write CSV to PATH (`-` for stdout)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "-")]
    pub csv: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Print a table (the default)
    #[arg(short = 't', long)]
    pub table: bool,
    /// Extra columns: `loss`, `min loss`, `max acc as best`, `=lr`, `.label`
    #[arg(short = 'c', long = "columns", value_name = "COLS")]
    pub columns: Vec<String>,
    /// Sort by COL ascending (`-COL` descending)
    #[arg(long, value_name = "COL")]
    pub sort: Option<String>,
    /// Sort by COL, smallest first
    #[arg(long, value_name = "COL")]
    pub min: Option<String>,
    /// Sort by COL, largest first
    #[arg(long, value_name = "COL")]
    pub max: Option<String>,
    /// Only the best K runs (by --min/--max/--sort, default: min loss)
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
    /// Show at most N runs
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Include batch runs
    #[arg(long)]
    pub include_batch: bool,
    /// Leave out the run, operation, started, time, status and label columns
    #[arg(short = 'r', long)]
    pub skip_core: bool,
    /// Runs in the trash
    #[arg(short = 'd', long)]
    pub deleted: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Str(String),
    Num(f64),
    Int(i64),
    Bool(bool),
}

impl Cell {
    fn from_flag(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::Empty,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::Num(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Cell::Str(s.clone()),
            other => Cell::Str(crate::run::yaml::flow(other)),
        }
    }
    fn csv(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Str(s) => s.clone(),
            Cell::Num(f) => crate::run::yaml::python_float_repr(*f),
            Cell::Int(i) => i.to_string(),
            Cell::Bool(b) => if *b { "True" } else { "False" }.into(),
        }
    }
    fn table(&self) -> String {
        match self {
            Cell::Num(f) => {
                let t = (f * 1e6).trunc() / 1e6;
                format!("{t:.6}")
            }
            Cell::Bool(b) => if *b { "yes" } else { "no" }.into(),
            other => other.csv(),
        }
    }
    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Empty => serde_json::Value::Null,
            Cell::Str(s) => s.clone().into(),
            Cell::Num(f) => serde_json::json!(f),
            Cell::Int(i) => (*i).into(),
            Cell::Bool(b) => (*b).into(),
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Cell::Num(f) => Some(*f),
            Cell::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// A `-c` column: `[first|last|min|max|avg|total|count] TAG [step] [as
/// NAME]`, `=FLAG` or `.ATTR`.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    Scalar {
        agg: String,
        tag: String,
        step: bool,
        name: String,
    },
    Flag {
        flag: String,
        name: String,
    },
    Attr {
        attr: String,
        name: String,
    },
}

fn parse_col(spec: &str) -> Result<Col> {
    let (body, alias) = match spec.split_once(" as ") {
        Some((b, n)) => (b.trim(), Some(n.trim().to_string())),
        None => (spec.trim(), None),
    };
    if let Some(f) = body.strip_prefix('=') {
        return Ok(Col::Flag {
            flag: f.into(),
            name: alias.unwrap_or_else(|| f.into()),
        });
    }
    if let Some(at) = body.strip_prefix('.') {
        return Ok(Col::Attr {
            attr: at.into(),
            name: alias.unwrap_or_else(|| at.into()),
        });
    }
    let parts: Vec<&str> = body.split_whitespace().collect();
    let aggs = ["first", "last", "min", "max", "avg", "total", "count"];
    let (agg, rest) = match parts.first() {
        Some(a) if aggs.contains(a) && parts.len() > 1 => (a.to_string(), &parts[1..]),
        Some(_) => ("last".to_string(), &parts[..]),
        None => return Err(Error::user(format!("empty column spec '{spec}'"))),
    };
    let (tag, step) = match rest {
        [t] => (t.to_string(), false),
        [t, "step"] => (t.to_string(), true),
        _ => {
            return Err(Error::user(format!(
                "invalid column '{spec}': expected [first|last|min|max|avg|total|count] TAG [step] [as NAME], =FLAG or .ATTR"
            )))
        }
    };
    let default_name = if step {
        format!("{tag} step")
    } else if agg == "last" {
        tag.clone()
    } else {
        format!("{agg} {tag}")
    };
    Ok(Col::Scalar {
        agg,
        tag,
        step,
        name: alias.unwrap_or(default_name),
    })
}

fn scalar_cell(s: Option<&Summary>, agg: &str, step: bool) -> Cell {
    let Some(s) = s else { return Cell::Empty };
    if step {
        return Cell::Int(match agg {
            "first" => s.first_step,
            "min" => s.min_step,
            "max" => s.max_step,
            _ => s.last_step,
        });
    }
    match agg {
        "first" => Cell::Num(s.first),
        "min" => Cell::Num(s.min),
        "max" => Cell::Num(s.max),
        "avg" => Cell::Num(s.avg()),
        "total" => Cell::Num(s.total),
        "count" => Cell::Int(s.count),
        _ => Cell::Num(s.last),
    }
}

struct Row {
    cells: Vec<(String, Cell)>,
}

fn core_cells(r: &RunInfo) -> Vec<(String, Cell)> {
    let s = |x: String| {
        if x.is_empty() {
            Cell::Empty
        } else {
            Cell::Str(x)
        }
    };
    vec![
        ("run".into(), Cell::Str(r.run.short_id().to_string())),
        ("operation".into(), Cell::Str(r.op_desc())),
        ("started".into(), s(render::fmt_time(r.started))),
        (
            "time".into(),
            s(render::fmt_duration(r.started, r.stopped())),
        ),
        ("status".into(), Cell::Str(r.status.display())),
        ("label".into(), s(r.label.clone().unwrap_or_default())),
    ]
}

fn run_row(r: &RunInfo, extra: &[Col], skip_core: bool) -> Row {
    let mut cells = if skip_core {
        vec![("run".to_string(), Cell::Str(r.run.short_id().to_string()))]
    } else {
        core_cells(r)
    };
    let flags = match r.run.attr("flags") {
        Some(Value::Mapping(m)) => m,
        _ => Default::default(),
    };
    let mut names: Vec<(String, &Value)> = flags
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in names {
        cells.push((k, Cell::from_flag(v)));
    }
    let scalars = crate::output::scalars::own_scalars(&r.run);
    let step_of = scalars.get("loss").or_else(|| scalars.values().next());
    if let Some(s) = step_of {
        cells.push(("step".into(), Cell::Int(s.last_step)));
    } else if r.status.status != Status::Staged {
        cells.push(("step".into(), Cell::Empty));
    }
    for (k, s) in &scalars {
        if k.starts_with("sys/") {
            continue;
        }
        cells.push((k.clone(), Cell::Num(s.last)));
    }
    for c in extra {
        let cell = match c {
            Col::Scalar { agg, tag, step, .. } => scalar_cell(scalars.get(tag), agg, *step),
            Col::Flag { flag, .. } => flags
                .get(flag.as_str())
                .map(Cell::from_flag)
                .unwrap_or(Cell::Empty),
            Col::Attr { attr, .. } => r
                .run
                .attr(attr)
                .as_ref()
                .map(Cell::from_flag)
                .unwrap_or(Cell::Empty),
        };
        let name = match c {
            Col::Scalar { name, .. } | Col::Flag { name, .. } | Col::Attr { name, .. } => {
                name.clone()
            }
        };
        cells.retain(|(k, _)| *k != name);
        cells.push((name, cell));
    }
    Row { cells }
}

pub fn compare(ctx: &Ctx, a: CompareArgs) -> Result<i32> {
    let dir = if a.deleted {
        ctx.home.trash_dir()
    } else {
        ctx.home.runs_dir()
    };
    let all = query::list_dir(&dir);
    let filtered = a.filters.filters().apply(all)?;
    let mut runs = query::select(&filtered, &a.runs, true)?;
    if !a.include_batch {
        runs.retain(|r| !r.batch);
    }
    let extra: Vec<Col> = a
        .columns
        .iter()
        .flat_map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .map(|c| parse_col(&c))
        .collect::<Result<_>>()?;
    // Rows are built in parallel: each needs a few small reads per run.
    let threads = query::io_threads(runs.len());
    let chunk = runs.len().div_ceil(threads).max(1);
    let mut rows: Vec<Row> = std::thread::scope(|s| {
        let hs: Vec<_> = runs
            .chunks(chunk)
            .map(|c| {
                let extra = &extra;
                s.spawn(move || {
                    c.iter()
                        .map(|r| run_row(r, extra, a.skip_core))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Sorting and --top.
    let sort = match (&a.min, &a.max, &a.sort) {
        (Some(c), _, _) => Some((c.clone(), false)),
        (None, Some(c), _) => Some((c.clone(), true)),
        (None, None, Some(c)) => Some(match c.strip_prefix('-') {
            Some(c) => (c.to_string(), true),
            None => (c.clone(), false),
        }),
        _ if a.top.is_some() => Some(("loss".into(), false)),
        _ => None,
    };
    if let Some((col, desc)) = &sort {
        let key = |r: &Row| -> Option<f64> {
            r.cells
                .iter()
                .find(|(k, _)| k == col)
                .and_then(|(_, c)| c.num())
        };
        if !rows.iter().any(|r| key(r).is_some()) {
            return Err(Error::user(format!(
                "no run has a numeric '{col}' column to sort by; check the name with `guild compare`"
            )));
        }
        rows.sort_by(|x, y| match (key(x), key(y)) {
            (Some(p), Some(q)) => {
                let o = p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal);
                if *desc {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        });
    }
    if let Some(k) = a.top.or(a.limit) {
        rows.truncate(k);
    }
    // Header: the union of columns in first-seen order.
    let mut header: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for r in &rows {
        for (k, _) in &r.cells {
            if seen.insert(k.clone()) {
                header.push(k.clone());
            }
        }
    }
    let lookup = |r: &Row, h: &str| -> Cell {
        r.cells
            .iter()
            .find(|(k, _)| k == h)
            .map(|(_, c)| c.clone())
            .unwrap_or(Cell::Empty)
    };
    if a.json {
        let arr: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    header
                        .iter()
                        .map(|h| (h.clone(), lookup(r, h).json()))
                        .collect(),
                )
            })
            .collect();
        render::json(&serde_json::Value::Array(arr));
        return Ok(0);
    }
    if let Some(path) = &a.csv {
        let mut w = String::new();
        w.push_str(
            &header
                .iter()
                .map(|h| csv_field(h))
                .collect::<Vec<_>>()
                .join(","),
        );
        w.push('\n');
        for r in &rows {
            let line: Vec<String> = header
                .iter()
                .map(|h| csv_field(&lookup(r, h).csv()))
                .collect();
            w.push_str(&line.join(","));
            w.push('\n');
        }
        if path == "-" {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(w.as_bytes());
        } else {
            crate::fsutil::write_atomic(std::path::Path::new(path), w.as_bytes())?;
        }
        return Ok(0);
    }
    let mut table = vec![header.clone()];
    for r in &rows {
        table.push(header.iter().map(|h| lookup(r, h).table()).collect());
    }
    render::out(&render::table(table));
    Ok(0)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_specs() {
        assert_eq!(
            parse_col("min loss as best").unwrap(),
            Col::Scalar {
                agg: "min".into(),
                tag: "loss".into(),
                step: false,
                name: "best".into()
            }
        );
        assert_eq!(
            parse_col("loss step").unwrap(),
            Col::Scalar {
                agg: "last".into(),
                tag: "loss".into(),
                step: true,
                name: "loss step".into()
            }
        );
        assert_eq!(
            parse_col("=lr").unwrap(),
            Col::Flag {
                flag: "lr".into(),
                name: "lr".into()
            }
        );
        assert!(parse_col("min loss extra junk").is_err());
        assert_eq!(Cell::Num(0.69999998).table(), "0.699999");
        assert_eq!(Cell::Bool(false).csv(), "False");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
