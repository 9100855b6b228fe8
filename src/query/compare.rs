//! `compare`'s rows: for each run its core fields, flags and scalars (last
//! value, or the `-c` column specs Guild supports), sorted and cut to the
//! best `--top`. Rendering as table, CSV or JSON is in `render`.

use super::RunInfo;
use crate::error::{Error, Result};
use crate::output::scalars::Summary;
use crate::run::Status;
use serde_yaml_ng::Value;
use std::collections::HashSet;

/// One value of a compare row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Str(String),
    Num(f64),
    Int(i64),
    Bool(bool),
}

impl Cell {
    pub fn from_flag(v: &Value) -> Cell {
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

    /// The cell as a number, for sorting.
    pub fn num(&self) -> Option<f64> {
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
pub enum Col {
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

impl Col {
    /// The column's name in a [`Row`].
    pub fn name(&self) -> &str {
        match self {
            Col::Scalar { name, .. } | Col::Flag { name, .. } | Col::Attr { name, .. } => name,
        }
    }
}

pub fn parse_col(spec: &str) -> Result<Col> {
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

/// A run's compare columns, in order: name and value.
pub struct Row {
    pub cells: Vec<(String, Cell)>,
}

impl Row {
    /// The value of column `name` (empty when the run has none).
    pub fn get(&self, name: &str) -> Cell {
        self.cells
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, c)| c.clone())
            .unwrap_or(Cell::Empty)
    }

    fn num(&self, name: &str) -> Option<f64> {
        self.cells
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, c)| c.num())
    }
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
        ("started".into(), s(crate::render::fmt_time(r.started))),
        (
            "time".into(),
            s(crate::render::fmt_duration(r.started, r.stopped())),
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

/// Rows for `runs`, built in parallel: each needs a few small reads per run.
pub fn rows(runs: &[RunInfo], extra: &[Col], skip_core: bool) -> Vec<Row> {
    let threads = super::io_threads(runs.len());
    let chunk = runs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let hs: Vec<_> = runs
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|r| run_row(r, extra, skip_core))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Order of two column values: ascending (descending with `desc`), a
/// missing value last either way.
fn cmp_values(x: Option<f64>, y: Option<f64>, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (x, y) {
        (Some(p), Some(q)) => {
            let o = p.partial_cmp(&q).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The run of `runs` with the lowest value of column `spec` (the highest
/// with `desc`), as `select --min/--max` picks it; runs without the value
/// come last.
pub fn best<'a>(runs: &'a [RunInfo], spec: &str, desc: bool) -> Result<Option<&'a RunInfo>> {
    let col = parse_col(spec)
        .map_err(|e| Error::user(format!("invalid col spec '{spec}': {}", e.msg)))?;
    let rows = rows(runs, std::slice::from_ref(&col), true);
    let mut pairs: Vec<(&RunInfo, Option<f64>)> = runs
        .iter()
        .zip(rows.iter())
        .map(|(r, row)| (r, row.num(col.name())))
        .collect();
    pairs.sort_by(|x, y| cmp_values(x.1, y.1, desc));
    Ok(pairs.first().map(|(r, _)| *r))
}

/// Sort `rows` by the numeric column `col` (ascending, or descending with
/// `desc`); rows without it go last.
pub fn sort_rows(rows: &mut [Row], col: &str, desc: bool) -> Result<()> {
    if !rows.iter().any(|r| r.num(col).is_some()) {
        return Err(Error::user(format!(
            "no run has a numeric '{col}' column to sort by; check the name with `guild compare`"
        )));
    }
    rows.sort_by(|x, y| cmp_values(x.num(col), y.num(col), desc));
    Ok(())
}

/// The union of the rows' columns, in first-seen order.
pub fn header(rows: &[Row]) -> Vec<String> {
    let mut header: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for r in rows {
        for (k, _) in &r.cells {
            if seen.insert(k) {
                header.push(k.clone());
            }
        }
    }
    header
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
    }
}
