//! `compare`'s rows: for each run its core fields, flags and scalars (last
//! value, or the `-c` column specs Guild supports), sorted and cut to the
//! best `--top`. Rendering as table, CSV or JSON is in `render`.

use guild_format::error::{Error, Result};
use guild_format::fsutil::At;
use guild_format::output::scalars::Summary;
use guild_format::query::events::{EventsIndex, Listed};
use guild_format::query::{run_attr, RunInfo};
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

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
            other => Cell::Str(guild_format::run::yaml::flow(other)),
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

/// A compare column as Guild 0.9's column specs write it:
/// `[scalar:][first|last|min|max|avg|total|count] [PREFIX#]TAG [step]`,
/// `=FLAG` or `flag:FLAG`, `.ATTR` or `attr:ATTR`, each `[as NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    Scalar {
        key: String,
        qual: Option<String>,
        step: bool,
        named_as: Option<String>,
    },
    Flag {
        name: String,
        named_as: Option<String>,
    },
    Attr {
        name: String,
        named_as: Option<String>,
    },
}

impl Col {
    /// The column's header, as Guild names it: the alias, else the flag
    /// or attr name, else the scalar key (`loss`, `loss step`; the
    /// qualifier is not part of it).
    pub fn name(&self) -> String {
        match self {
            Col::Scalar {
                key,
                step,
                named_as,
                ..
            } => named_as.clone().unwrap_or_else(|| {
                let key = key.replace('#', " ");
                let key = key.trim();
                if *step {
                    format!("{key} step")
                } else {
                    key.to_string()
                }
            }),
            Col::Flag { name, named_as } | Col::Attr { name, named_as } => {
                named_as.clone().unwrap_or_else(|| name.clone())
            }
        }
    }
}

const QUALIFIERS: &[&str] = &["first", "last", "min", "max", "avg", "total", "count"];

#[derive(Debug, Clone, PartialEq)]
enum QTok {
    ScalarPrefix,
    AttrPrefix,
    FlagPrefix,
    Dot,
    Comma,
    Equals,
    Word(String),
    Quoted(String),
}

fn qlex(spec: &str) -> Result<Vec<QTok>> {
    let mut out = Vec::new();
    let mut rest = spec;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\n']);
        let Some(c) = rest.chars().next() else {
            return Ok(out);
        };
        let fixed = [
            ("scalar:", QTok::ScalarPrefix),
            ("attr:", QTok::AttrPrefix),
            ("flag:", QTok::FlagPrefix),
            (".", QTok::Dot),
            (",", QTok::Comma),
            ("=", QTok::Equals),
        ];
        if let Some((t, tok)) = fixed.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push(tok.clone());
            rest = &rest[t.len()..];
            continue;
        }
        if c == '\'' || c == '"' {
            let end = rest[1..].find(c).ok_or_else(|| {
                Error::user(format!("unterminated quote in column spec '{spec}'"))
            })?;
            let lit = &rest[..end + 2];
            let v = serde_yaml_ng::from_str::<Value>(lit)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| lit[1..lit.len() - 1].to_string());
            out.push(QTok::Quoted(v));
            rest = &rest[end + 2..];
            continue;
        }
        let end = rest.find([' ', ',', '\n', '\t']).unwrap_or(rest.len());
        out.push(QTok::Word(rest[..end].to_string()));
        rest = &rest[end..];
    }
}

/// Parse a comma-separated column spec (`-c`, `-cc`, a guild.yml
/// `compare` entry) into columns.
pub fn parse_cols(spec: &str) -> Result<Vec<Col>> {
    let bad = |what: &str| {
        Error::user(format!(
            "invalid column spec '{spec}': {what}; expected [first|last|min|max|avg|total|count] TAG [step] [as NAME], =FLAG or .ATTR"
        ))
    };
    let toks = qlex(spec)?;
    let mut cols = Vec::new();
    for part in toks.split(|t| *t == QTok::Comma) {
        let mut it = part.iter().peekable();
        let term = |t: Option<&QTok>| match t {
            Some(QTok::Word(w)) | Some(QTok::Quoted(w)) => Some(w.clone()),
            _ => None,
        };
        let mut col = match it.next() {
            None => return Err(bad("empty column")),
            Some(QTok::Dot) | Some(QTok::AttrPrefix) => Col::Attr {
                name: term(it.next()).ok_or_else(|| bad("missing attribute name"))?,
                named_as: None,
            },
            Some(QTok::Equals) | Some(QTok::FlagPrefix) => Col::Flag {
                name: term(it.next()).ok_or_else(|| bad("missing flag name"))?,
                named_as: None,
            },
            Some(first) => {
                let (qual, key) = match first {
                    QTok::ScalarPrefix => (None, term(it.next())),
                    QTok::Word(w) if QUALIFIERS.contains(&w.as_str()) => {
                        (Some(w.clone()), term(it.next()))
                    }
                    t => (None, term(Some(t))),
                };
                let key = key.ok_or_else(|| bad("missing scalar name"))?;
                if matches!(key.as_str(), "step" | "as") || QUALIFIERS.contains(&key.as_str()) {
                    return Err(bad(&format!("unexpected '{key}'")));
                }
                let step = it.peek() == Some(&&QTok::Word("step".into()));
                if step {
                    it.next();
                }
                Col::Scalar {
                    key,
                    qual,
                    step,
                    named_as: None,
                }
            }
        };
        while let Some(t) = it.next() {
            if *t != QTok::Word("as".into()) {
                return Err(bad(&format!("unexpected {t:?}")));
            }
            let name = term(it.next()).ok_or_else(|| bad("missing name after 'as'"))?;
            match &mut col {
                Col::Scalar { named_as, .. }
                | Col::Flag { named_as, .. }
                | Col::Attr { named_as, .. } => *named_as = Some(name),
            }
        }
        cols.push(col);
    }
    Ok(cols)
}

/// One column spec.
pub fn parse_col(spec: &str) -> Result<Col> {
    let mut cols = parse_cols(spec)?;
    if cols.len() != 1 {
        return Err(Error::user(format!(
            "invalid column spec '{spec}': expected one column"
        )));
    }
    Ok(cols.remove(0))
}

fn scalar_cell(s: Option<&Summary>, qual: Option<&str>, step: bool) -> Cell {
    let Some(s) = s else { return Cell::Empty };
    let qual = qual.unwrap_or("last");
    if step {
        return match qual {
            "first" => Cell::Int(s.first_step),
            "min" => Cell::Int(s.min_step),
            "max" => Cell::Int(s.max_step),
            "last" => Cell::Int(s.last_step),
            _ => Cell::Empty,
        };
    }
    match qual {
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
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<(String, Cell)>,
    /// The run is marked: the table shows `[marked]` after its operation.
    pub marked: bool,
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

/// What decides a run's columns besides its own data.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Core columns: `.run` only (`-r`, `-cc`), else run, operation,
    /// started, time, status, label.
    pub skip_core: bool,
    /// Add `.sourcecode` (`-e`).
    pub extra_cols: bool,
    /// Leave out the operation's columns (`-p`, `-cc`).
    pub skip_op_cols: bool,
    /// Include `sys/` scalars in the operation's default columns (`-s`).
    pub all_scalars: bool,
    /// The user's columns (`-c`, `-cc`).
    pub user: Vec<Col>,
    /// The events-files index of the runs' directory (see
    /// [`super::events`]), when it is to be used.
    pub events_index: Option<std::path::PathBuf>,
}

fn core_cols(l: &Layout) -> Vec<Col> {
    let names: &[&str] = if l.skip_core {
        &["run"]
    } else {
        &["run", "operation", "started", "time", "status", "label"]
    };
    let mut cols: Vec<Col> = names
        .iter()
        .map(|n| Col::Attr {
            name: n.to_string(),
            named_as: None,
        })
        .collect();
    if l.extra_cols {
        cols.push(Col::Attr {
            name: "sourcecode".into(),
            named_as: None,
        });
    }
    cols
}

/// The `compare` columns the operation declares in its guild.yml, read
/// once per guild.yml and operation.
fn guildfile_compare(
    opref: &guild_format::run::Opref,
    cache: &std::sync::Mutex<HashMap<String, Option<Vec<Col>>>>,
) -> Option<Vec<Col>> {
    if opref.pkg_type != "guildfile" {
        return None;
    }
    let key = format!(
        "{}\0{}\0{}",
        opref.pkg_name, opref.model_name, opref.op_name
    );
    if let Some(v) = cache.lock().ok()?.get(&key) {
        return v.clone();
    }
    let found = (|| {
        let gf = guild_project::guildfile::Guildfile::load(std::path::Path::new(&opref.pkg_name))
            .ok()?;
        let spec = if opref.model_name.is_empty() {
            opref.op_name.clone()
        } else {
            format!("{}:{}", opref.model_name, opref.op_name)
        };
        let (_, op) = gf.find_op(&spec)?;
        let specs: Vec<String> = match op.get("compare")? {
            Value::Sequence(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| guild_format::run::yaml::encode_display(v))
                })
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => return None,
        };
        Some(
            specs
                .iter()
                .flat_map(|s| parse_cols(s).unwrap_or_default())
                .collect(),
        )
    })();
    if let Ok(mut c) = cache.lock() {
        c.insert(key, found.clone());
    }
    found
}

/// Per run: its core, operation and user columns with their values, as
/// Guild's compare resolves them (sections in that order).
type Sections = [Vec<(String, Cell)>; 3];

fn run_sections(
    r: &RunInfo,
    l: &Layout,
    cache: &std::sync::Mutex<HashMap<String, Option<Vec<Col>>>>,
    runs: Option<&At>,
    events: Option<&EventsIndex>,
) -> (Sections, Option<(String, Listed)>) {
    // The run's files, relative to its runs directory when that is open.
    let guild = runs.and_then(|at| at.open_dir(&format!("{}/.guild", r.run.id)).ok());
    let flags_attr = match &guild {
        Some(g) => r.run.attr_in(g, "flags"),
        None => r.run.attr("flags"),
    };
    let flags = match flags_attr {
        Some(Value::Mapping(m)) => m,
        _ => Default::default(),
    };
    let (scalars, listed) = match (runs, &guild) {
        // A batch's and a pipeline's scalars are those of their linked runs.
        (Some(at), Some(g)) if !r.batch && !g.exists("attrs/steps") => {
            indexed_scalars(&r.run.id, at, g, events)
        }
        _ => (guild_format::output::scalars::own_scalars(&r.run), None),
    };
    let find_scalar = |key: &str| -> Option<&Summary> {
        if key.contains('#') {
            // A prefix matches as SQL `LIKE 'prefix%'`.
            let (prefix, tag) = key.split_once('#').unwrap_or(("", key));
            scalars.iter().find_map(|(k, s)| match k.split_once('#') {
                Some((p, t)) if p.starts_with(prefix) && t == tag => Some(s),
                None if prefix.is_empty() && k == tag => Some(s),
                _ => None,
            })
        } else {
            scalars.get(key).or_else(|| {
                scalars
                    .iter()
                    .find(|(k, _)| k.rsplit_once('#').is_some_and(|(_, t)| t == key))
                    .map(|(_, s)| s)
            })
        }
    };
    let value = |c: &Col| -> Cell {
        match c {
            Col::Scalar {
                key, qual, step, ..
            } => scalar_cell(find_scalar(key), qual.as_deref(), *step),
            Col::Flag { name, .. } => flags
                .get(name.as_str())
                .map(Cell::from_flag)
                .unwrap_or(Cell::Empty),
            Col::Attr { name, .. } => Cell::from_flag(&run_attr(r, name)),
        }
    };
    let cells = |cols: &[Col]| -> Vec<(String, Cell)> {
        cols.iter().map(|c| (c.name(), value(c))).collect()
    };
    let op_cols: Vec<Col> = if l.skip_op_cols {
        Vec::new()
    } else if let Some(cols) = r.opref.as_deref().and_then(|o| guildfile_compare(o, cache)) {
        cols
    } else {
        let mut cols: Vec<Col> = {
            let mut names: Vec<&str> = flags.keys().filter_map(|k| k.as_str()).collect();
            names.sort();
            names
                .into_iter()
                .map(|n| Col::Flag {
                    name: n.to_string(),
                    named_as: None,
                })
                .collect()
        };
        let mut tags: Vec<String> = scalars
            .keys()
            .map(|k| k.rsplit_once('#').map(|(_, t)| t).unwrap_or(k).to_string())
            .filter(|t| l.all_scalars || !t.starts_with("sys/"))
            .collect();
        tags.sort();
        tags.dedup();
        if !tags.is_empty() {
            let step_of = if tags.iter().any(|t| t == "loss") {
                "loss".to_string()
            } else {
                tags[0].clone()
            };
            cols.push(Col::Scalar {
                key: step_of,
                qual: None,
                step: true,
                named_as: Some("step".into()),
            });
            cols.extend(tags.into_iter().map(|t| Col::Scalar {
                key: t,
                qual: None,
                step: false,
                named_as: None,
            }));
        }
        cols
    };
    let mut op_cols = op_cols;
    // A run that mounts datastores shows which versions.
    let mounts = match &guild {
        Some(g) => g.exists("attrs/datastores"),
        None => r.run.guild_path("attrs/datastores").exists(),
    };
    if mounts && !l.skip_op_cols {
        op_cols.push(Col::Attr {
            name: "datastores".into(),
            named_as: None,
        });
    }
    (
        [cells(&core_cols(l)), cells(&op_cols), cells(&l.user)],
        listed,
    )
}

/// The scalars of run `id` of the runs directory `runs` (its `.guild`
/// open as `guild`), its events files taken from the events-files index
/// when its directories are as recorded there; else listed, and returned
/// for the index to learn.
fn indexed_scalars(
    id: &str,
    runs: &At,
    guild: &At,
    events: Option<&EventsIndex>,
) -> (BTreeMap<String, Summary>, Option<(String, Listed)>) {
    use guild_format::output::scalars::{own_events_files_at, scalars_of_files_at};
    // The directories' signatures are taken before they are listed: a
    // change while listing shows next time.
    let sig = |st: Option<nix::sys::stat::FileStat>| st.map(|st| guild_format::query::sig_of(&st));
    let (gs, rs) = (sig(guild.stat_self()), sig(runs.stat_of(id)));
    let cached = match (events, gs, rs) {
        (Some(ix), Some(gs), Some(rs)) => ix.files(id, gs, rs),
        _ => None,
    };
    if let Some(files) = cached {
        return (scalars_of_files_at(runs, id, files), None);
    }
    let files = own_events_files_at(runs, id);
    let scalars = scalars_of_files_at(runs, id, &files);
    let listed = gs
        .zip(rs)
        .map(|(guild, root)| (id.to_string(), Listed { guild, root, files }));
    (scalars, listed)
}

/// Guild's cell for a column: the last section with a value wins; within
/// a section, the first column of that name with a value.
fn row_val(name: &str, sections: &Sections) -> Cell {
    let mut val = Cell::Empty;
    for cells in sections {
        if let Some((_, c)) = cells.iter().find(|(n, c)| n == name && *c != Cell::Empty) {
            val = c.clone();
        }
    }
    val
}

/// The compare table of `runs`: the header (core columns, then the
/// operations' columns, then the user's, each name once) and one row per
/// run with a cell for every header column, built in parallel.
pub fn table(runs: &[RunInfo], l: &Layout) -> (Vec<String>, Vec<Row>) {
    let cache = std::sync::Mutex::new(HashMap::new());
    let events = l.events_index.as_deref().map(EventsIndex::read);
    let first_dir = runs.first().and_then(|r| r.run.dir.parent());
    let threads = guild_format::query::io_threads(runs.len());
    let chunk = runs.len().div_ceil(threads).max(1);
    let (sections, listed): (Vec<Sections>, Vec<Option<(String, Listed)>>) =
        std::thread::scope(|s| {
            let hs: Vec<_> = runs
                .chunks(chunk)
                .map(|c| {
                    let (cache, events) = (&cache, events.as_ref());
                    s.spawn(move || {
                        // The runs directory held open (runs are in one,
                        // usually): each run's files are opened relative
                        // to it.
                        let mut open: Option<(std::path::PathBuf, Option<At>)> = None;
                        c.iter()
                            .map(|r| {
                                let parent = r.run.dir.parent().unwrap_or(Path::new("/"));
                                if open.as_ref().is_none_or(|(p, _)| p != parent) {
                                    open = Some((parent.to_path_buf(), At::open(parent).ok()));
                                }
                                let at = open.as_ref().and_then(|(_, a)| a.as_ref());
                                let (sections, listed) = run_sections(r, l, cache, at, events);
                                // Only runs of the first run's directory
                                // are indexed.
                                (sections, listed.filter(|_| Some(parent) == first_dir))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .unzip()
        });
    // Runs listed again (new, changed, or no index): the index learns
    // them.
    let listed: Vec<(String, Listed)> = listed.into_iter().flatten().collect();
    if let (Some(path), Some(ix), Some(dir)) = (&l.events_index, events, first_dir) {
        if !listed.is_empty() {
            ix.write(path, dir, listed);
        }
    }
    let mut header: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for i in 0..3 {
        for s in &sections {
            for (name, _) in &s[i] {
                if seen.insert(name.clone()) {
                    header.push(name.clone());
                }
            }
        }
    }
    let rows = sections
        .iter()
        .zip(runs)
        .map(|(s, r)| Row {
            cells: header.iter().map(|h| (h.clone(), row_val(h, s))).collect(),
            marked: r.marked,
        })
        .collect();
    (header, rows)
}

/// Leave out the columns whose value is the same in every row (`-u`).
pub fn drop_unchanged(header: &mut Vec<String>, rows: &mut [Row]) {
    let unchanged: HashSet<String> = header
        .iter()
        .filter(|h| {
            let first = rows.first().map(|r| r.get(h));
            rows.iter().all(|r| Some(r.get(h)) == first)
        })
        .cloned()
        .collect();
    header.retain(|h| !unchanged.contains(h));
    for r in rows {
        r.cells.retain(|(k, _)| !unchanged.contains(k));
    }
}

/// Rows with the run id and the columns `extra` only (for `select`).
pub fn rows(runs: &[RunInfo], extra: &[Col]) -> Vec<Row> {
    let l = Layout {
        skip_core: true,
        skip_op_cols: true,
        user: extra.to_vec(),
        ..Default::default()
    };
    table(runs, &l).1
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
        .map_err(|e| Error::user(format!("invalid col spec '{spec}': {}", e.message())))?;
    let rows = rows(runs, std::slice::from_ref(&col));
    let name = col.name();
    let mut pairs: Vec<(&RunInfo, Option<f64>)> = runs
        .iter()
        .zip(rows.iter())
        .map(|(r, row)| (r, row.num(&name)))
        .collect();
    pairs.sort_by(|x, y| cmp_values(x.1, y.1, desc));
    Ok(pairs.first().map(|(r, _)| *r))
}

/// Guild's order of two compare values: numbers by value, the same
/// types by value, other pairs by their text; a missing value is last.
fn cmp_cells(x: &Cell, y: &Cell) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (x, y) {
        (Cell::Empty, Cell::Empty) => Ordering::Equal,
        (Cell::Empty, _) => Ordering::Greater,
        (_, Cell::Empty) => Ordering::Less,
        (Cell::Str(a), Cell::Str(b)) => a.cmp(b),
        _ => {
            let n = |c: &Cell| match c {
                Cell::Bool(b) => Some(f64::from(u8::from(*b))),
                c => c.num(),
            };
            match (n(x), n(y)) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                _ => cell_csv(x).cmp(&cell_csv(y)),
            }
        }
    }
}

/// Sort `rows` by column `col` (ascending, or descending with `desc`) as
/// Guild's `--min`/`--max` do; rows without a value go last.
pub fn sort_rows(rows: &mut [Row], col: &str, desc: bool) {
    rows.sort_by(|x, y| {
        let (a, b) = (x.get(col), y.get(col));
        match (&a, &b) {
            (Cell::Empty, _) | (_, Cell::Empty) => cmp_cells(&a, &b),
            _ if desc => cmp_cells(&b, &a),
            _ => cmp_cells(&a, &b),
        }
    });
}

/// A compare cell as Guild's `compare --csv` writes it.
pub fn cell_csv(c: &Cell) -> String {
    match c {
        Cell::Empty => String::new(),
        Cell::Str(s) => s.clone(),
        Cell::Num(f) => guild_format::run::yaml::python_float_repr(*f),
        Cell::Int(i) => i.to_string(),
        Cell::Bool(b) => if *b { "True" } else { "False" }.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_specs() {
        let scalar = |key: &str, qual: Option<&str>, step, named_as: Option<&str>| Col::Scalar {
            key: key.into(),
            qual: qual.map(String::from),
            step,
            named_as: named_as.map(String::from),
        };
        assert_eq!(
            parse_col("min loss as best").unwrap(),
            scalar("loss", Some("min"), false, Some("best"))
        );
        assert_eq!(parse_col("min loss as best").unwrap().name(), "best");
        assert_eq!(
            parse_col("loss step").unwrap(),
            scalar("loss", None, true, None)
        );
        assert_eq!(parse_col("loss step").unwrap().name(), "loss step");
        assert_eq!(parse_col("max acc").unwrap().name(), "acc");
        assert_eq!(
            parse_col("=lr").unwrap(),
            Col::Flag {
                name: "lr".into(),
                named_as: None
            }
        );
        assert_eq!(
            parse_cols(".operation,=batch,loss,test-acc").unwrap().len(),
            4
        );
        assert_eq!(
            parse_col("attr:label as 'the label'").unwrap().name(),
            "the label"
        );
        assert!(parse_col("min loss extra junk").is_err());
    }
}
