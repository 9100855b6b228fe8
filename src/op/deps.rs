//! `requires` dependencies: `file:` sources from the project and
//! `operation:` sources from an earlier run, resolved *before* a run
//! directory exists (so a missing source leaves nothing behind), then
//! copied or linked into the new run and recorded as Guild 0.9 records them
//! (`d` manifest lines, `attrs/deps`, `op.deps`, one flag per operation
//! dependency holding the chosen run id).

use super::OpDef;
use crate::error::{Error, Result};
use crate::query::RunInfo;
use crate::run::manifest::Entry;
use crate::run::{Run, Status};
use serde_yaml_ng::{Mapping, Value};
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

/// One source of a dependency, resolved to concrete files.
#[derive(Debug, Clone)]
pub struct Source {
    /// Key in `attrs/deps` (the source's `name`, else its uri).
    pub name: String,
    pub uri: String,
    /// Run id of an operation source.
    pub run_id: Option<String>,
    /// (absolute source path, run-relative target path)
    pub files: Vec<(PathBuf, String)>,
    pub link: bool,
    /// The source as written in guild.yml (for `op.deps`).
    pub def: Value,
    /// A file source's resolved path (files selected inside it are recorded
    /// in the manifest as `file:<source>/<path>`).
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Dep {
    pub name: String,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub deps: Vec<Dep>,
    /// Flags added by operation dependencies: dep name -> run id.
    pub flags: Mapping,
    /// Project files that are dependencies (left out of the source copy).
    pub project_files: Vec<PathBuf>,
    /// `op.deps` as Guild records it.
    pub op_deps: Vec<Value>,
}

/// The dep's name: `name`, else the uri of its single source.
fn source_uri(m: &Mapping) -> Option<String> {
    if let Some(f) = m.get("file").and_then(Value::as_str) {
        return Some(format!("file:{f}"));
    }
    if let Some(o) = m.get("operation").and_then(Value::as_str) {
        return Some(format!("operation:{o}"));
    }
    None
}

/// Names of the flags operation dependencies add (for validation of
/// `NAME=RUN` arguments before resolution).
pub fn dep_flag_names(op: &OpDef) -> Vec<String> {
    let mut out = Vec::new();
    for d in &op.requires {
        let Value::Mapping(m) = d else { continue };
        let single = m.contains_key("operation");
        let sources: Vec<Mapping> = if single {
            vec![m.clone()]
        } else {
            match m.get("sources") {
                Some(Value::Sequence(s)) => {
                    s.iter().filter_map(|v| v.as_mapping().cloned()).collect()
                }
                _ => Vec::new(),
            }
        };
        for s in sources {
            if s.contains_key("operation") {
                let name = s
                    .get("name")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                    .map(String::from)
                    .or_else(|| source_uri(&s));
                if let Some(n) = name {
                    out.push(n);
                }
            }
        }
    }
    out
}

fn full_match(re: &str, s: &str) -> Result<bool> {
    let r = regex::Regex::new(&format!("^(?:{re})$"))
        .map_err(|e| Error::user(format!("invalid select pattern {re:?}: {e}")))?;
    Ok(r.is_match(s))
}

fn rel_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() || e.file_type().is_symlink())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .ok()?
                .to_string_lossy()
                .into_owned();
            (!rel.starts_with(".guild/") && rel != ".guild").then_some(rel)
        })
        .collect();
    out.sort();
    out
}

/// Apply `rename: "FROM TO"` (a regex and its replacement) to a target.
fn renamed(target: &str, rename: Option<&Value>) -> String {
    let Some(spec) = rename.and_then(Value::as_str) else {
        return target.to_string();
    };
    let parts: Vec<String> = shlex::split(spec).unwrap_or_default();
    match parts.as_slice() {
        [from, to] => regex::Regex::new(from)
            .map(|r| r.replace_all(target, to.as_str()).into_owned())
            .unwrap_or_else(|_| target.to_string()),
        _ => target.to_string(),
    }
}

fn join_target(tp: Option<&str>, rel: &str) -> String {
    match tp {
        Some(t) if !t.is_empty() && t != "." => format!("{}/{rel}", t.trim_end_matches('/')),
        _ => rel.to_string(),
    }
}

/// The run an operation source uses: `wanted` id prefix, else the marked,
/// else the latest completed/running/terminated run of `op_name`.
fn pick_run(
    runs: &[RunInfo],
    gf_path: &str,
    model: &str,
    op_name: &str,
    wanted: Option<&str>,
) -> Option<RunInfo> {
    let candidates = runs.iter().filter(|r| {
        r.opref.as_ref().is_some_and(|o| {
            o.op_name == op_name
                && o.model_name == model
                && (o.pkg_type != "guildfile" || o.pkg_name == gf_path)
        })
    });
    if let Some(w) = wanted {
        let mut hits = candidates.filter(|r| !w.is_empty() && r.run.id.starts_with(w));
        let first = hits.next()?;
        // An ambiguous prefix picks nothing rather than a guess.
        return hits.next().is_none().then(|| first.clone());
    }
    let ok: Vec<&RunInfo> = candidates
        .filter(|r| {
            matches!(
                r.status.status,
                Status::Completed | Status::Running | Status::Terminated
            )
        })
        .collect();
    ok.iter()
        .find(|r| r.marked)
        .or_else(|| ok.first())
        .map(|r| (*r).clone())
}

/// Resolve every `requires` entry of `op`. `user` holds `NAME=RUN` values
/// given for operation dependencies. Nothing is written.
pub fn resolve(op: &OpDef, runs_dir: &Path, user: &Mapping, quiet: bool) -> Result<Resolved> {
    let mut out = Resolved::default();
    if op.requires.is_empty() {
        return Ok(out);
    }
    let location = op.project_dir.clone();
    let gf_path = op.opref.pkg_name.clone();
    let mut runs: Option<Vec<RunInfo>> = None;
    for (i, d) in op.requires.iter().enumerate() {
        let m = match d {
            Value::Mapping(m) => m.clone(),
            Value::String(s) if s.starts_with("file:") || s.starts_with("operation:") => {
                let (k, v) = s.split_once(':').unwrap_or_default();
                let mut m = Mapping::new();
                m.insert(k.into(), v.into());
                m
            }
            other => {
                return Err(Error::user(format!(
                    "requires entry {} of operation '{}' ({}) is not supported: use `file: PATH` or `operation: NAME` sources",
                    i + 1,
                    op.name,
                    crate::run::yaml::flow(other)
                )))
            }
        };
        let (dep_name, source_defs): (String, Vec<Mapping>) =
            if let Some(Value::Sequence(s)) = m.get("sources") {
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .ok_or_else(|| {
                        Error::user(format!(
                            "requires entry {} of operation '{}' has sources but no name",
                            i + 1,
                            op.name
                        ))
                    })?;
                (
                    name,
                    s.iter().filter_map(|v| v.as_mapping().cloned()).collect(),
                )
            } else {
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .or_else(|| source_uri(&m))
                    .ok_or_else(|| {
                        Error::user(format!(
                            "requires entry {} of operation '{}' needs `file:` or `operation:`",
                            i + 1,
                            op.name
                        ))
                    })?;
                (name, vec![m.clone()])
            };
        if !quiet {
            eprintln!("Resolving {dep_name}");
        }
        let mut dep = Dep {
            name: dep_name.clone(),
            sources: Vec::new(),
        };
        let mut config = Mapping::new();
        for s in &source_defs {
            let uri = source_uri(s).ok_or_else(|| {
                Error::user(format!(
                    "a source of dependency '{dep_name}' needs `file:` or `operation:`"
                ))
            })?;
            let sname = s
                .get("name")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| uri.clone());
            let select = s.get("select").and_then(Value::as_str);
            let tp = s
                .get("target-path")
                .or_else(|| s.get("path"))
                .and_then(Value::as_str);
            let link = s.get("target-type").and_then(Value::as_str) == Some("link");
            let optional = s.get("optional").and_then(Value::as_bool) == Some(true);
            let rename = s.get("rename");
            let mut src = Source {
                name: sname.clone(),
                uri: uri.clone(),
                run_id: None,
                files: Vec::new(),
                link,
                def: Value::Mapping(s.clone()),
                root: None,
            };
            if let Some(f) = s.get("file").and_then(Value::as_str) {
                let p = location.join(f);
                src.root = Some(p.clone());
                if !p.exists() {
                    if optional {
                        continue;
                    }
                    return Err(Error::user(format!(
                        "run failed because a dependency was not met: could not resolve '{uri}' in {dep_name} resource: cannot find source file '{f}' (looked in {}); create it or fix `requires` in guild.yml",
                        location.display()
                    )));
                }
                if p.is_dir() && select.is_some() {
                    for rel in rel_files(&p) {
                        if full_match(select.unwrap_or(""), &rel)? {
                            let t = renamed(&join_target(tp, &rel), rename);
                            src.files.push((p.join(&rel), t));
                        }
                    }
                } else {
                    let base = Path::new(f)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| f.to_string());
                    let t = renamed(&join_target(tp, &base), rename);
                    if p.is_file() {
                        out.project_files.push(p.clone());
                    }
                    src.files.push((p, t));
                }
            } else if let Some(o) = s.get("operation").and_then(Value::as_str) {
                let all = runs.get_or_insert_with(|| {
                    let mut all = crate::query::list_dir(runs_dir);
                    // In a pipeline, a step uses runs of the same pipeline.
                    if let Ok(parent) = std::env::var("GUILD_RUNS_PARENT") {
                        let linked = Run::at(runs_dir.join(&parent)).linked_ids();
                        if !parent.is_empty() {
                            all.retain(|r| linked.contains(&r.run.id));
                        }
                    }
                    all
                });
                let flag_name = if source_defs.len() == 1 {
                    dep_name.clone()
                } else {
                    sname.clone()
                };
                let wanted = user.get(flag_name.as_str()).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => crate::op::flags::encode_display(other),
                });
                let (model, op_name) = match o.split_once(':') {
                    Some((m, n)) => (m.to_string(), n.to_string()),
                    None => (op.opref.model_name.clone(), o.to_string()),
                };
                let Some(up) = pick_run(all, &gf_path, &model, &op_name, wanted.as_deref()) else {
                    if optional {
                        continue;
                    }
                    let why = match &wanted {
                        Some(w) => format!("no run matches '{w}'"),
                        None => format!("no suitable run for {o}"),
                    };
                    return Err(Error::user(format!(
                        "run failed because a dependency was not met: could not resolve '{uri}' in {dep_name} resource: {why}; run `guild run {o}` first or pass {flag_name}=RUN_ID"
                    )));
                };
                if !quiet {
                    eprintln!("Using run {} for {dep_name}", up.run.id);
                }
                let generated = generated_files(&up.run);
                let names: Vec<String> = match select {
                    Some(re) => {
                        let mut v = Vec::new();
                        for rel in rel_files(&up.run.dir) {
                            if full_match(re, &rel)? {
                                v.push(rel);
                            }
                        }
                        v
                    }
                    None => generated,
                };
                if names.is_empty() && !quiet {
                    eprintln!("WARNING: nothing resolved for {dep_name}");
                }
                for rel in names {
                    let t = renamed(&join_target(tp, &rel), rename);
                    src.files.push((up.run.dir.join(&rel), t));
                }
                src.run_id = Some(up.run.id.clone());
                config.insert(flag_name.clone().into(), up.run.id.clone().into());
                out.flags
                    .insert(flag_name.into(), Value::from(up.run.id.clone()));
            }
            dep.sources.push(src);
        }
        let mut od = Mapping::new();
        if !config.is_empty() {
            od.insert("config".into(), Value::Mapping(config));
        }
        od.insert("location".into(), location.display().to_string().into());
        od.insert("name".into(), dep_name.clone().into());
        od.insert(
            "sources".into(),
            Value::Sequence(source_defs.into_iter().map(Value::Mapping).collect()),
        );
        out.op_deps.push(Value::Mapping(od));
        out.deps.push(dep);
    }
    Ok(out)
}

/// Top-level entries of a run that its process made (no manifest entry).
fn generated_files(run: &Run) -> Vec<String> {
    let listed: std::collections::HashSet<String> =
        crate::run::manifest::read(&run.guild_path("manifest"))
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.run_rel().map(String::from))
            .collect();
    let mut tops: Vec<String> = Vec::new();
    for rel in rel_files(&run.dir) {
        if listed.contains(&rel) {
            continue;
        }
        let top = rel.split('/').next().unwrap_or(&rel).to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    tops.sort();
    tops
}

fn sha1_file(p: &Path) -> Result<String> {
    let data = std::fs::read(p).map_err(|e| Error::io("reading", p, e))?;
    Ok(format!("{:x}", Sha1::digest(&data)))
}

/// Relative path from `from_dir` to `to` (both absolute).
fn relative(to: &Path, from_dir: &Path) -> PathBuf {
    let a: Vec<_> = to.components().collect();
    let b: Vec<_> = from_dir.components().collect();
    let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..b.len() {
        p.push("..");
    }
    for c in &a[common..] {
        p.push(c.as_os_str());
    }
    p
}

/// Copy or link the resolved files into `run`; returns the manifest `d`
/// entries and the `attrs/deps` value.
pub fn apply(run: &Run, res: &Resolved, quiet: bool) -> Result<(Vec<Entry>, Value)> {
    let mut entries = Vec::new();
    let mut attr = Mapping::new();
    for dep in &res.deps {
        let mut dm = Mapping::new();
        for s in &dep.sources {
            let mut paths = Vec::new();
            for (src, target) in &s.files {
                let uri = match s.root.as_ref().and_then(|r| src.strip_prefix(r).ok()) {
                    Some(rel) if !rel.as_os_str().is_empty() => {
                        format!("{}/{}", s.uri, rel.display())
                    }
                    _ => s.uri.clone(),
                };
                paths.push(Value::from(
                    relative(src, &run.dir).to_string_lossy().into_owned(),
                ));
                let dest = run.dir.join(target);
                if dest.symlink_metadata().is_ok() {
                    if !quiet {
                        eprintln!("WARNING: {} already exists, skipping copy", dest.display());
                    }
                    continue;
                }
                if let Some(parent) = dest.parent() {
                    crate::fsutil::create_dir_all(parent)?;
                }
                if s.link {
                    let rel = relative(src, dest.parent().unwrap_or(&run.dir));
                    std::os::unix::fs::symlink(&rel, &dest)
                        .map_err(|e| Error::io("linking", &dest, e))?;
                    if src.is_file() {
                        entries.push(dep_entry(target, &sha1_file(src)?, &uri));
                    }
                } else if src.is_dir() {
                    for rel in rel_files(src) {
                        let from = src.join(&rel);
                        let to = dest.join(&rel);
                        if let Some(p) = to.parent() {
                            crate::fsutil::create_dir_all(p)?;
                        }
                        std::fs::copy(&from, &to).map_err(|e| Error::io("copying", &from, e))?;
                        entries.push(dep_entry(
                            &format!("{target}/{rel}"),
                            &sha1_file(&to)?,
                            &uri,
                        ));
                    }
                } else {
                    std::fs::copy(src, &dest).map_err(|e| Error::io("copying", src, e))?;
                    entries.push(dep_entry(target, &sha1_file(&dest)?, &uri));
                }
            }
            let mut sm = Mapping::new();
            if let Some(id) = &s.run_id {
                sm.insert("config".into(), id.clone().into());
            }
            paths.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            sm.insert("paths".into(), Value::Sequence(paths));
            sm.insert("uri".into(), s.uri.clone().into());
            dm.insert(s.name.clone().into(), Value::Mapping(sm));
        }
        attr.insert(dep.name.clone().into(), Value::Mapping(dm));
    }
    Ok((entries, Value::Mapping(attr)))
}

fn dep_entry(target: &str, sha: &str, uri: &str) -> Entry {
    Entry {
        kind: "d".into(),
        fields: vec![target.into(), sha.into(), uri.into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_and_rename() {
        assert_eq!(
            relative(Path::new("/a/p/data.txt"), Path::new("/a/gh/runs/x")),
            PathBuf::from("../../../p/data.txt")
        );
        assert_eq!(
            renamed("data.txt", Some(&"data.txt input.txt".into())),
            "input.txt"
        );
        assert_eq!(join_target(Some("inputs"), "a.txt"), "inputs/a.txt");
        assert!(full_match(r".*\.csv", "a.csv").unwrap());
        assert!(!full_match(r".*\.csv", "a.csv.bak").unwrap());
    }
}
