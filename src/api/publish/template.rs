//! Publish templates: Jinja (minijinja) with Guild 0.9's settings, its
//! filters and its two built-in templates (`publish-default/`,
//! `runs-index/`, the files beside this one, as Guild ships them).
//!
//! A template is a directory; each of its files whose name does not start
//! with `_` is an output file. Names in `{% include %}` / `{% extends %}`
//! resolve first in the directory of the template, then among the
//! built-ins, as Guild's loader does.

use minijinja::value::Value;
use minijinja::{Environment, Error as JError, ErrorKind};
use std::path::{Path, PathBuf};

const BUILTIN: &[(&str, &str)] = &[
    (
        "publish-default/README.md",
        include_str!("templates/publish-default/README.md"),
    ),
    (
        "publish-default/_summary.md",
        include_str!("templates/publish-default/_summary.md"),
    ),
    (
        "publish-default/_flags.md",
        include_str!("templates/publish-default/_flags.md"),
    ),
    (
        "publish-default/_scalars.md",
        include_str!("templates/publish-default/_scalars.md"),
    ),
    (
        "publish-default/_runfiles.md",
        include_str!("templates/publish-default/_runfiles.md"),
    ),
    (
        "publish-default/_sourcecode.md",
        include_str!("templates/publish-default/_sourcecode.md"),
    ),
    (
        "publish-default/_output.md",
        include_str!("templates/publish-default/_output.md"),
    ),
    (
        "runs-index/README.md",
        include_str!("templates/runs-index/README.md"),
    ),
];

/// Where a template's files are.
#[derive(Debug, Clone)]
pub enum Source {
    /// A built-in directory (`publish-default`, `runs-index`).
    Builtin(&'static str),
    /// A directory of the user's.
    Dir(PathBuf),
}

/// A template, compiled: its output files, each with its text (None: a
/// binary file, copied as is).
pub struct Template {
    pub source: Source,
    /// (relative path, text or None for a byte copy).
    pub files: Vec<(String, Option<String>)>,
    env: Environment<'static>,
}

impl Template {
    /// Read and compile every output file of the template. The error is
    /// Guild's: `<file>:<line>: <message>`.
    pub fn load(source: Source, run_dest: Option<PathBuf>) -> Result<Template, String> {
        let files = match &source {
            Source::Builtin(dir) => BUILTIN
                .iter()
                .filter_map(|(name, text)| {
                    let rel = name.strip_prefix(dir)?.strip_prefix('/')?;
                    (!rel.starts_with('_')).then(|| (rel.to_string(), Some(text.to_string())))
                })
                .collect(),
            Source::Dir(dir) => dir_files(dir)?,
        };
        let env = environment(source.clone(), run_dest);
        let t = Template { source, files, env };
        for (rel, text) in &t.files {
            if text.is_some() {
                t.env.get_template(rel).map_err(|e| {
                    format!("{}:{}: {}", t.shown(rel), e.line().unwrap_or(1), detail(&e))
                })?;
            }
        }
        Ok(t)
    }

    /// The runs index template: the built-in one, or the file `path`.
    pub fn index(path: Option<&Path>) -> Result<Template, String> {
        let (source, rel) = match path {
            None => (Source::Builtin("runs-index"), "README.md".to_string()),
            Some(p) => (
                Source::Dir(p.parent().map(Path::to_path_buf).unwrap_or_default()),
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        };
        let env = environment(source.clone(), None);
        let t = Template {
            source,
            files: vec![(rel.clone(), Some(String::new()))],
            env,
        };
        t.env.get_template(&rel).map_err(|e| {
            format!(
                "{}:{}: {}",
                t.shown(&rel),
                e.line().unwrap_or(1),
                detail(&e)
            )
        })?;
        Ok(t)
    }

    /// A file of the template as the user knows it.
    fn shown(&self, rel: &str) -> String {
        match &self.source {
            Source::Builtin(dir) => format!("{dir}/{rel}"),
            Source::Dir(d) => d.join(rel).display().to_string(),
        }
    }

    /// What the error names as the template: the file, or `{a,b}` when
    /// there are several.
    fn shown_all(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|(r, _)| r.as_str()).collect();
        match names.as_slice() {
            [one] => self.shown(one),
            _ => self.shown(&format!("{{{}}}", names.join(","))),
        }
    }

    /// Render every output file into `dest` with `ctx`. Text output gets
    /// a final newline, as Guild writes it.
    pub fn generate(&self, dest: &Path, ctx: &Value) -> Result<(), String> {
        for (rel, text) in &self.files {
            let out = dest.join(rel);
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            match text {
                None => {
                    let src = match &self.source {
                        Source::Dir(d) => d.join(rel),
                        Source::Builtin(_) => continue,
                    };
                    std::fs::copy(&src, &out).map_err(|e| format!("{}: {e}", src.display()))?;
                }
                Some(_) => {
                    let rendered = self
                        .env
                        .get_template(rel)
                        .and_then(|t| t.render(ctx))
                        .map_err(|e| format!("{}: {}", self.shown_all(), detail(&e)))?;
                    std::fs::write(&out, rendered + "\n")
                        .map_err(|e| format!("{}: {e}", out.display()))?;
                }
            }
        }
        Ok(())
    }

    /// Render the one file `rel` to a string (the runs index).
    pub fn render(&self, rel: &str, ctx: &Value) -> Result<String, String> {
        self.env
            .get_template(rel)
            .and_then(|t| t.render(ctx))
            .map(|s| s + "\n")
            .map_err(|e| detail(&e))
    }
}

/// The message of a template error, as Jinja words the common ones.
fn detail(e: &JError) -> String {
    match e.kind() {
        ErrorKind::TemplateNotFound => format!(
            "template not found: {}",
            e.detail().unwrap_or("a template was not found")
        ),
        ErrorKind::UndefinedError => e.detail().map_or_else(|| e.to_string(), str::to_string),
        _ => e
            .detail()
            .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    }
}

/// The output files of a template directory (names not starting with `_`),
/// sorted; text files are compiled, others copied.
fn dir_files(dir: &Path) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        if !e.file_type().is_file() || e.file_name().to_string_lossy().starts_with('_') {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(dir) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let bytes =
            std::fs::read(e.path()).map_err(|err| format!("{}: {err}", e.path().display()))?;
        let text = String::from_utf8(bytes).ok().filter(|t| !t.contains('\0'));
        out.push((rel, text));
    }
    Ok(out)
}

/// Guild's Jinja environment: the template's directory, then the
/// built-ins; Python-like printing of None and booleans; its filters.
fn environment(source: Source, run_dest: Option<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(false);
    env.set_loader(move |name: &str| Ok(load(&source, name)));
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return out.write_str("None").map_err(JError::from);
        }
        if value.kind() == minijinja::value::ValueKind::Bool {
            let text = if value.is_true() { "True" } else { "False" };
            return out.write_str(text).map_err(JError::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("csv_dict_rows", csv_dict_rows);
    env.add_filter("empty", |v: Value| {
        if v.is_undefined() || v.is_none() || v.as_str() == Some("") {
            Value::from("")
        } else {
            v
        }
    });
    env.add_filter("file_size", file_size);
    env.add_filter("flag_val", flag_val);
    env.add_filter("nbhyph", |v: Value| match v.as_str() {
        Some(s) if !s.is_empty() => Value::from(s.replace('-', "&#8209;")),
        _ => v,
    });
    env.add_filter("nbsp", |v: Value| {
        if v.is_true() {
            v
        } else {
            Value::from("&nbsp;")
        }
    });
    env.add_filter("runfile_link", move |v: Value| -> Result<Value, JError> {
        let Some(dest) = &run_dest else {
            return Err(JError::new(
                ErrorKind::InvalidOperation,
                "runfile_link cannot be used in this context (not publishing a run)",
            ));
        };
        let Some(path) = v.as_str() else {
            return Ok(Value::from(""));
        };
        let link = dest.join("runfiles").join(path);
        Ok(if safe_rel(path) && link.is_file() {
            Value::from(format!("runfiles/{path}"))
        } else {
            Value::from(())
        })
    });
    env.add_filter("scalar_key", |row: Value| -> Value {
        let get = |k: &str| {
            row.get_attr(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        };
        if row.kind() != minijinja::value::ValueKind::Map {
            return Value::from("");
        }
        let tag = get("tag").unwrap_or_default();
        match get("prefix").unwrap_or_default().as_str() {
            "" | ".guild" => Value::from(tag),
            p => Value::from(format!("{p}#{tag}")),
        }
    });
    env.add_filter("short_id", |v: Value| {
        Value::from(
            v.as_str()
                .map(|s| s.chars().take(8).collect::<String>())
                .unwrap_or_default(),
        )
    });
    env.add_filter("utc_date", utc_date);
    env
}

/// A template by name: in the template's own directory, then built-in.
fn load(source: &Source, name: &str) -> Option<String> {
    if !safe_rel(name) {
        return None;
    }
    match source {
        Source::Dir(dir) => {
            if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                return Some(text);
            }
        }
        Source::Builtin(dir) => {
            if let Some(t) = builtin(&format!("{dir}/{name}")) {
                return Some(t);
            }
        }
    }
    builtin(name)
}

fn builtin(name: &str) -> Option<String> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.to_string())
}

/// A relative path without `..` or a root: it stays where it is joined.
fn safe_rel(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

fn csv_dict_rows(rows: Value) -> Result<Value, JError> {
    if rows.is_undefined() || rows.is_none() {
        return Err(JError::new(
            ErrorKind::UndefinedError,
            "csv_dict_rows of an undefined value (not publishing a run)",
        ));
    }
    let Ok(mut it) = rows.try_iter() else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    let Some(header) = it.next() else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    let keys: Vec<Value> = header.try_iter().map(|i| i.collect()).unwrap_or_default();
    let out: Vec<Value> = it
        .map(|row| {
            let vals: Vec<Value> = row.try_iter().map(|i| i.collect()).unwrap_or_default();
            let map: std::collections::BTreeMap<String, Value> = keys
                .iter()
                .zip(vals)
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Value::from(map)
        })
        .collect();
    Ok(Value::from(out))
}

fn as_int(v: &Value) -> Option<i64> {
    if let Some(s) = v.as_str() {
        return s.trim().parse::<i64>().ok();
    }
    match v.kind() {
        minijinja::value::ValueKind::Number => i64::try_from(v.clone())
            .ok()
            .or_else(|| f64::try_from(v.clone()).ok().map(|f| f as i64)),
        _ => None,
    }
}

fn file_size(v: Value) -> Value {
    Value::from(
        as_int(&v)
            .map(|n| guild_format::text::format_bytes(n.max(0) as u64))
            .unwrap_or_default(),
    )
}

fn flag_val(v: Value) -> Value {
    if v.is_undefined() || v.is_none() {
        return Value::from("");
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::to_value(&v).unwrap_or(serde_yaml_ng::Value::Null);
    let text = match &yaml {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Sequence(items) => items
            .iter()
            .map(|i| format!("\n  {}", guild_format::run::yaml::encode_display(i)))
            .collect(),
        serde_yaml_ng::Value::Mapping(m) => {
            let mut kv: Vec<(String, String)> = m
                .iter()
                .map(|(k, v)| {
                    (
                        guild_format::run::yaml::encode_display(k),
                        guild_format::run::yaml::encode_display(v),
                    )
                })
                .collect();
            kv.sort();
            kv.into_iter()
                .map(|(k, v)| format!("\n  {k}: {v}"))
                .collect()
        }
        other => guild_format::run::yaml::encode_display(other),
    };
    Value::from(text)
}

fn utc_date(v: Value, unit: Option<String>) -> Result<Value, JError> {
    utc_date_in(v, unit.as_deref().unwrap_or("s"))
}

fn utc_date_in(v: Value, unit: &str) -> Result<Value, JError> {
    let Some(n) = as_int(&v) else {
        return Ok(Value::from(""));
    };
    let us = match unit {
        "s" => n.saturating_mul(1_000_000),
        "ms" => n.saturating_mul(1000),
        "us" => n,
        other => {
            return Err(JError::new(
                ErrorKind::InvalidOperation,
                format!("unsupported unit {other:?}"),
            ))
        }
    };
    if us == 0 {
        return Ok(Value::from(()));
    }
    Ok(Value::from(
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_rel_refuses_escapes() {
        assert!(safe_rel("_flags.md"));
        assert!(safe_rel("publish-default/_flags.md"));
        assert!(!safe_rel("../x"));
        assert!(!safe_rel("/etc/passwd"));
        assert!(!safe_rel(""));
    }
}
