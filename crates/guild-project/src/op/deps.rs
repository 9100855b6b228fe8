//! `requires` dependencies: `file:` sources from the project and
//! `operation:` sources from an earlier run, resolved *before* a run
//! directory exists (so a missing source leaves nothing behind), then
//! copied or linked into the new run and recorded as Guild 0.9 records them
//! (`d` manifest lines, `attrs/deps`, `op.deps`, one flag per operation
//! dependency holding the chosen run id).

use super::OpDef;
use guild_format::error::{Error, Result};
use guild_format::query::RunInfo;
use guild_format::run::manifest::Entry;
use guild_format::run::{Run, Status};
use serde_yaml_ng::{Mapping, Value};
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

/// One source of a dependency, resolved to concrete files.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Key in `attrs/deps`: the source's resolving name.
    pub(crate) name: String,
    pub(crate) uri: String,
    /// Run id of an operation source.
    pub(crate) run_id: Option<String>,
    /// (absolute source path, run-relative target path)
    pub(crate) files: Vec<(PathBuf, String)>,
    pub(crate) link: bool,
    /// A file source's resolved path (files selected inside it are recorded
    /// in the manifest as `file:<source>/<path>`).
    pub(crate) root: Option<PathBuf>,
    /// The flag value that configured the source (`config` in `attrs/deps`).
    pub(crate) config: Option<Value>,
    /// Replace a file already at the target (`replace-existing`).
    pub(crate) replace: bool,
    /// A config source: the run's copy of the file, written under
    /// `.guild/generated/` and copied to the target.
    pub(crate) generated: Option<String>,
    /// Files unpacked from an archive (`root` is the unpack directory):
    /// the manifest names the archive and the member.
    pub(crate) archive: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Dep {
    /// The resource's resolving name (key in `attrs/deps`).
    pub(crate) name: String,
    pub(crate) sources: Vec<Source>,
}

/// An operation's dependencies once resolved, ready to be put in a run.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub(crate) deps: Vec<Dep>,
    /// Project files that are dependencies (left out of the source copy).
    pub(crate) project_files: Vec<PathBuf>,
    /// `op.deps` as Guild records it.
    pub(crate) op_deps: Vec<Value>,
}

/// A source's `flag-name`.
#[derive(Debug, Clone, PartialEq)]
enum FlagName {
    Unset,
    Disabled,
    Name(String),
}

/// One source of a `requires` resource, as written.
#[derive(Debug, Clone)]
pub(crate) struct SourceDef {
    pub(crate) def: Mapping,
    pub(crate) uri: String,
    /// `file` or `operation`.
    pub(crate) scheme: String,
    /// The part of the uri after `scheme:`.
    pub(crate) path: String,
    name: Option<String>,
    flag_name: FlagName,
}

impl SourceDef {
    fn parse(v: &Value) -> Option<SourceDef> {
        let def = match v {
            // A plain string in `sources` is a file; `file:x` / `operation:x`.
            Value::String(s) => {
                let (k, p) = match s.split_once(':') {
                    Some((k @ ("file" | "operation" | "config"), p)) => (k, p),
                    Some(("http" | "https", _)) => ("url", s.as_str()),
                    _ => ("file", s.as_str()),
                };
                let mut m = Mapping::new();
                m.insert(k.into(), p.into());
                m
            }
            Value::Mapping(m) => m.clone(),
            _ => return None,
        };
        let (scheme, path) = ["file", "operation", "config", "url"]
            .iter()
            .find_map(|k| Some((k.to_string(), def.get(*k)?.as_str()?.to_string())))?;
        let flag_name = match def.get("flag-name") {
            None | Some(Value::Null) => FlagName::Unset,
            Some(Value::Bool(false)) => FlagName::Disabled,
            Some(Value::String(s)) if s == "no" || s == "false" => FlagName::Disabled,
            Some(Value::String(s)) => FlagName::Name(s.clone()),
            Some(other) => FlagName::Name(guild_format::run::yaml::encode_display(other)),
        };
        Some(SourceDef {
            // A URL is its own uri (as Guild records it).
            uri: if scheme == "url" {
                path.clone()
            } else {
                format!("{scheme}:{path}")
            },
            name: def.get("name").and_then(Value::as_str).map(String::from),
            scheme,
            path,
            flag_name,
            def,
        })
    }

    /// How Guild names the source in messages and `attrs/deps`.
    pub(crate) fn resolving_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if let FlagName::Name(f) = &self.flag_name {
            return f.clone();
        }
        self.uri.clone()
    }

    /// The flag names that may configure the source.
    fn flag_candidates(&self) -> Vec<String> {
        if let FlagName::Name(f) = &self.flag_name {
            return vec![f.clone()];
        }
        if let Some(n) = &self.name {
            return vec![n.clone()];
        }
        vec![self.uri.clone(), self.path.clone()]
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.def.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(matches!(s.as_str(), "yes" | "true" | "on")),
            _ => None,
        }
    }
}

/// One entry of an operation's `requires`, as guild.yml writes it (and
/// a run's `op` attr records it, under `deps`). The keys of a source are
/// read when the run is resolved ([`SourceDef`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Require {
    /// One source as a string: `file:PATH`, `operation:NAME`,
    /// `config:PATH`, a URL, a path, or the name of a model's resource.
    Uri(String),
    /// A resource: its sources, with a name and keys its sources share.
    Resource(ResourceSpec),
    /// One source as a mapping (`file: data.csv`, with `select`...).
    Source(Mapping),
    /// Anything else: refused when the run's dependencies are resolved.
    Invalid(Value),
}

/// A `requires` entry with `sources`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResourceSpec {
    /// Its sources.
    pub sources: Vec<SourceItem>,
    /// `name`, `target-path` and the other keys, as written.
    #[serde(flatten)]
    pub rest: Mapping,
}

/// One of a resource's `sources`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SourceItem {
    /// A source as a string.
    Uri(String),
    /// A source as a mapping.
    Source(Mapping),
    /// Anything else: refused when resolved.
    Invalid(Value),
}

impl Require {
    /// The entries of a `requires` value (one entry, or a list).
    pub fn list_of(v: &Value) -> Vec<Require> {
        match v {
            Value::Sequence(items) => items.iter().map(Require::of).collect(),
            Value::Null => Vec::new(),
            other => vec![Require::of(other)],
        }
    }

    /// One entry (what is not an entry: [`Require::Invalid`]).
    pub fn of(v: &Value) -> Require {
        serde_yaml_ng::from_value(v.clone()).unwrap_or_else(|_| Require::Invalid(v.clone()))
    }

    /// The entry as written.
    pub fn to_value(&self) -> Value {
        serde_yaml_ng::to_value(self).unwrap_or(Value::Null)
    }
}

/// Take the `datastore:` sources out of `requires`: a run mounts each one
/// read-only (at its `target-path`, or its resource's; by default
/// `datastores/NAME`) instead of copying files. Written as
/// `datastore: NAME[:VERSION]` (a mapping, or a string `datastore:NAME`),
/// alone or among a resource's `sources`.
pub fn take_datastores(requires: &mut Vec<Require>) -> Result<Vec<super::DatastoreMount>> {
    fn spec_of(v: &Value) -> Result<String> {
        v.as_str().map(String::from).ok_or_else(|| {
            Error::user(format!(
                "datastore source '{}' is not a name: write `datastore: NAME` or `datastore: NAME:VERSION`",
                guild_format::run::yaml::flow(v)
            ))
        })
    }
    fn dir_of(m: &Mapping) -> Option<String> {
        m.get("target-path")
            .or_else(|| m.get("path"))
            .and_then(Value::as_str)
            .map(String::from)
    }
    // One source: Some(mount) when it is a datastore.
    let one = |v: &Value, outer: Option<&Mapping>| -> Result<Option<super::DatastoreMount>> {
        let (spec, dir) = match v {
            Value::String(s) => match s.strip_prefix("datastore:") {
                Some(spec) => (spec.to_string(), None),
                None => return Ok(None),
            },
            Value::Mapping(m) => match m.get("datastore") {
                Some(d) => (spec_of(d)?, dir_of(m)),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let dir = dir.or_else(|| outer.and_then(dir_of));
        super::DatastoreMount::new(&spec, dir).map(Some)
    };
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for r in requires.drain(..) {
        match r {
            Require::Uri(_) | Require::Source(_) => match one(&r.to_value(), None)? {
                Some(m) => out.push(m),
                None => kept.push(r),
            },
            Require::Resource(mut res) => {
                let mut sources = Vec::new();
                for item in res.sources.drain(..) {
                    match one(&item.to_value(), Some(&res.rest))? {
                        Some(m) => out.push(m),
                        None => sources.push(item),
                    }
                }
                if !sources.is_empty() {
                    res.sources = sources;
                    kept.push(Require::Resource(res));
                }
            }
            Require::Invalid(_) => kept.push(r),
        }
    }
    *requires = kept;
    Ok(out)
}

impl SourceItem {
    fn to_value(&self) -> Value {
        match self {
            SourceItem::Uri(s) => Value::String(s.clone()),
            SourceItem::Source(m) => Value::Mapping(m.clone()),
            SourceItem::Invalid(v) => v.clone(),
        }
    }
}

/// One `requires` entry: a named resource with its sources, or a single
/// inline source (whose `name` belongs to the source).
#[derive(Debug, Clone)]
pub(crate) struct ResourceDef {
    name: Option<String>,
    pub(crate) sources: Vec<SourceDef>,
    /// The entry as written (an inline source as `{sources: [item]}`).
    raw: Mapping,
}

impl ResourceDef {
    pub(crate) fn resolving_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.sources
                .iter()
                .map(SourceDef::resolving_name)
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    fn flag_candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sources {
            for c in s.flag_candidates() {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    fn target_path(&self, s: &SourceDef) -> Option<String> {
        let get = |m: &Mapping| {
            m.get("target-path")
                .or_else(|| m.get("path"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        get(&s.def).or_else(|| get(&self.raw))
    }
}

/// The `requires` entries of `op` as resources.
pub(crate) fn resources(op: &OpDef) -> Result<Vec<ResourceDef>> {
    let mut out = Vec::new();
    for (i, d) in op.requires.iter().enumerate() {
        let bad = || {
            Error::user(format!(
                "requires entry {} of operation '{}' ({}) is not supported: use `file: PATH` or `operation: NAME` sources",
                i + 1,
                op.name,
                guild_format::run::yaml::flow(&d.to_value())
            ))
        };
        match d {
            Require::Resource(r) => {
                let sources = r
                    .sources
                    .iter()
                    .map(|v| SourceDef::parse(&v.to_value()).ok_or_else(bad))
                    .collect::<Result<Vec<_>>>()?;
                let mut raw = r.rest.clone();
                raw.insert(
                    "sources".into(),
                    Value::Sequence(r.sources.iter().map(SourceItem::to_value).collect()),
                );
                out.push(ResourceDef {
                    name: r.rest.get("name").and_then(Value::as_str).map(String::from),
                    sources,
                    raw,
                });
            }
            Require::Uri(_) | Require::Source(_) => {
                let s = SourceDef::parse(&d.to_value()).ok_or_else(bad)?;
                let mut raw = Mapping::new();
                raw.insert(
                    "sources".into(),
                    Value::Sequence(vec![Value::Mapping(s.def.clone())]),
                );
                out.push(ResourceDef {
                    name: None,
                    sources: vec![s],
                    raw,
                });
            }
            Require::Invalid(_) => return Err(bad()),
        }
    }
    Ok(out)
}

/// The project files `op` requires (`file:` and `config:` sources as
/// written): left out of its source code.
pub fn project_files(op: &OpDef) -> Vec<PathBuf> {
    let Ok(res) = resources(op) else {
        return Vec::new();
    };
    res.iter()
        .flat_map(|r| r.sources.iter())
        .filter(|s| s.scheme == "file" || s.scheme == "config")
        .map(|s| op.project_dir.join(&s.path))
        .filter(|p| p.is_file())
        .collect()
}

/// The flags dependencies define, as Guild's resource-flags plugin makes
/// them: a file source with `flag-name` (its path the default), every
/// operation source unless `flag-name: no` (named `flag-name`, `name`, or
/// its uri with the operation as alias). None is passed to the process.
pub(crate) fn generated_flags(op: &OpDef) -> Vec<crate::op::flags::FlagDef> {
    let Ok(res) = resources(op) else {
        return Vec::new();
    };
    let mut out: Vec<crate::op::flags::FlagDef> = Vec::new();
    for r in &res {
        for s in &r.sources {
            let (name, alias, default) = match (s.scheme.as_str(), &s.flag_name) {
                ("file", FlagName::Name(f)) => (f.clone(), None, Some(Value::from(s.path.clone()))),
                ("operation", FlagName::Disabled) | ("file", _) | ("config", _) | ("url", _) => {
                    continue
                }
                ("operation", FlagName::Name(f)) => (f.clone(), None, None),
                _ => match &s.name {
                    Some(n) => (n.clone(), None, None),
                    None => (s.uri.clone(), Some(s.path.clone()), None),
                },
            };
            if out.iter().any(|f| f.name == name) {
                continue;
            }
            let mut f = crate::op::flags::FlagDef::new(&name);
            f.alias = alias;
            f.default = default;
            f.arg_skip = true;
            f.ftype = Some(crate::op::flags::FlagType::String);
            f.generated = true;
            out.push(f);
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

/// Apply `rename` to a name: `"PATTERN REPL"` (first match replaced), or
/// one word: the new name.
/// `${FLAG}` references in a dependency spec, with the run's flag values;
/// the error is the undefined name.
fn flag_refs(s: &str, flags: &Mapping) -> std::result::Result<String, String> {
    match super::template::expand(s, |r| flags.get(r.text).map(crate::op::flags::encode_arg)) {
        (_, Some(name)) => Err(name.to_string()),
        (out, None) => Ok(out),
    }
}

/// Guild's message for an undefined reference in `s` (`val_desc`: where).
fn undefined_ref(s: &str, val_desc: Option<&str>, name: &str) -> String {
    let at = val_desc.map(|d| format!(" in {d}")).unwrap_or_default();
    format!("cannot resolve '{s}'{at}: undefined reference '{name}'")
}

/// `target` after the first `rename` spec (`PATTERN REPL`, or `REPL`) that
/// changes it; flag references in specs are resolved first.
fn renamed_with(
    target: &str,
    rename: Option<&Value>,
    flags: &Mapping,
) -> std::result::Result<String, String> {
    let specs: Vec<&str> = match rename {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(target.to_string()),
    };
    for spec in specs {
        let parts: Vec<String> = shlex::split(spec).unwrap_or_default();
        let (from, to) = match parts.as_slice() {
            [to] => (".*".to_string(), to.clone()),
            [from, to] => (from.clone(), to.clone()),
            _ => continue,
        };
        let resolve = |x: &str| {
            flag_refs(x, flags).map_err(|name| {
                format!(
                    "error renaming source {target} ('{from}' -> '{to}'): resolution error: {}",
                    undefined_ref(x, None, &name)
                )
            })
        };
        let (rfrom, rto) = (resolve(&from)?, resolve(&to)?);
        if let Ok(r) = regex::Regex::new(&rfrom) {
            let out = r.replacen(target, 1, rto.as_str()).into_owned();
            if out != target {
                return Ok(out);
            }
        }
    }
    Ok(target.to_string())
}

#[cfg(test)]
fn renamed(target: &str, rename: Option<&Value>) -> String {
    renamed_with(target, rename, &Mapping::new()).unwrap_or_default()
}

/// Where the file `p` of source `s` goes in the run: its name, renamed,
/// under the resource's target path.
fn file_target(
    p: &Path,
    s: &SourceDef,
    tp: Option<&str>,
    rename: Option<&Value>,
    flags: &Mapping,
) -> Result<String> {
    let base = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.path.clone());
    Ok(join_target(
        tp,
        &renamed_with(&base, rename, flags).map_err(Error::user)?,
    ))
}

fn join_target(tp: Option<&str>, rel: &str) -> String {
    match tp {
        Some(t) if !t.is_empty() && t != "." => format!("{}/{rel}", t.trim_end_matches('/')),
        _ => rel.to_string(),
    }
}

/// Runs an operation source may use, as Guild's `marked_or_latest_run`:
/// a full id names its run; otherwise runs of `spec` (`op`, `model:op`,
/// comma-separated; names are regexes) with the id prefix, completed,
/// running or terminated (or staged), the marked one first, else the
/// newest.
fn find_op_run(
    runs: &[RunInfo],
    spec: &str,
    prefix: Option<&str>,
    include_staged: bool,
) -> Option<RunInfo> {
    if let Some(p) = prefix {
        if p.len() == 32 {
            return runs.iter().find(|r| r.run.id == p).cloned();
        }
    }
    let specs: Vec<(Option<String>, String)> = spec
        .split(',')
        .map(|s| {
            let s = s.trim().trim_start_matches("./");
            let s = s.rsplit_once('/').map(|(_, o)| o).unwrap_or(s);
            match s.split_once(':') {
                Some((m, o)) => (Some(m.to_string()), o.to_string()),
                None => (None, s.to_string()),
            }
        })
        .collect();
    let fm = |re: &str, s: &str| full_match(re, s).unwrap_or(re == s);
    let ok: Vec<&RunInfo> = runs
        .iter()
        .filter(|r| {
            r.opref.as_ref().is_some_and(|o| {
                specs.iter().any(|(m, op)| {
                    fm(op, &o.op_name) && m.as_deref().is_none_or(|m| fm(m, &o.model_name))
                })
            })
        })
        .filter(|r| {
            matches!(
                r.status.status,
                Status::Completed | Status::Running | Status::Terminated
            ) || (include_staged && r.status.status == Status::Staged)
        })
        .filter(|r| prefix.is_none_or(|p| r.run.id.starts_with(p)))
        .collect();
    ok.iter()
        .find(|r| r.marked)
        .or_else(|| ok.first())
        .map(|r| (*r).clone())
}

/// The runs operation sources may use (in a pipeline, its own runs).
fn candidate_runs(runs_dir: &Path) -> Vec<RunInfo> {
    let mut all = guild_format::query::list_dir(runs_dir);
    if let Ok(parent) = std::env::var("GUILD_RUNS_PARENT") {
        if !parent.is_empty() {
            let linked = Run::at(runs_dir.join(&parent)).linked_ids();
            all.retain(|r| linked.contains(&r.run.id));
        }
    }
    all
}

fn flag_values(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::Bool(false) => Vec::new(),
        Value::Sequence(items) => items.iter().flat_map(flag_values).collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![guild_format::run::yaml::encode_display(other)],
    }
}

/// Before the run is confirmed: every operation source's flag gets the
/// full id of the run it will use (a prefix given is completed), as
/// Guild shows them in the prompt; a source without a run is warned about.
pub fn apply_default_runs(
    op: &OpDef,
    runs_dir: &Path,
    flags: &mut Mapping,
    report: &dyn guild_format::report::Reporter,
) -> Result<()> {
    let res = resources(op)?;
    if !res
        .iter()
        .any(|r| r.sources.iter().any(|s| s.scheme == "operation"))
    {
        return Ok(());
    }
    let runs = candidate_runs(runs_dir);
    for r in &res {
        let mut wanted: Vec<String> = Vec::new();
        for name in r.flag_candidates() {
            if let Some(v) = flags.get(name.as_str()) {
                wanted.extend(flag_values(v));
            }
        }
        for s in r.sources.iter().filter(|s| s.scheme == "operation") {
            let found: Vec<RunInfo> = if wanted.is_empty() {
                find_op_run(&runs, &s.path, None, true)
                    .into_iter()
                    .collect()
            } else {
                wanted
                    .iter()
                    .filter_map(|w| find_op_run(&runs, &s.path, Some(w), true))
                    .collect()
            };
            if found.is_empty() && s.bool("optional") != Some(true) {
                report.warning(&format!(
                    "WARNING: cannot find a suitable run for required resource '{}'",
                    s.resolving_name()
                ));
            }
            let name = s
                .flag_candidates()
                .into_iter()
                .find(|c| op.flags.iter().any(|f| &f.name == c))
                .unwrap_or_else(|| match &s.flag_name {
                    FlagName::Name(f) => f.clone(),
                    _ => s.name.clone().unwrap_or_else(|| s.uri.clone()),
                });
            for run in found {
                let id = run.run.id.clone();
                match flags.get_mut(name.as_str()) {
                    None | Some(Value::Null) => {
                        flags.insert(name.clone().into(), id.into());
                    }
                    Some(Value::Sequence(items)) => {
                        if let Some(i) = items.iter_mut().find(|x| {
                            let x = flag_values(x).join("");
                            !x.is_empty() && id.starts_with(&x) && x != id
                        }) {
                            *i = id.into();
                        }
                    }
                    Some(v) => {
                        let cur = flag_values(v).join("");
                        if !cur.is_empty() && id.starts_with(&cur) {
                            *v = id.into();
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Guild's `LOG_LEVEL` (Python logging levels): 30 (WARNING) and up
/// hide the INFO lines (`Resolving ...`).
fn info_enabled() -> bool {
    std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_none_or(|l| l < 30)
}

/// How a resolution is done: for a staged run operation sources wait for
/// the start; with `force` an unmet dependency is a warning.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// No `Resolving ...` progress lines.
    pub quiet: bool,
    /// The run is being staged: operation sources are left for its start.
    pub for_stage: bool,
    /// An unmet dependency is a warning, not an error.
    pub force: bool,
}

/// Resolve every `requires` entry of `op` with the run's `flags` (values
/// of dependency flags pick runs and files). Nothing is written.
pub fn resolve(
    op: &OpDef,
    runs_dir: &Path,
    flags: &Mapping,
    cwd: &Path,
    mode: Mode,
    report: &dyn guild_format::report::Reporter,
) -> Result<Resolved> {
    resolve_after(op, runs_dir, flags, cwd, mode, &Mapping::new(), report)
}

/// As [`resolve`], for a run whose `deps` attr is `prior`: a source
/// recorded there is not resolved again.
fn resolve_after(
    op: &OpDef,
    runs_dir: &Path,
    flags: &Mapping,
    cwd: &Path,
    mode: Mode,
    prior: &Mapping,
    report: &dyn guild_format::report::Reporter,
) -> Result<Resolved> {
    let mut out = Resolved::default();
    let res = resources(op)?;
    if res.is_empty() {
        return Ok(out);
    }
    let location = op.project_dir.clone();
    let mut runs: Option<Vec<RunInfo>> = None;
    let say = |msg: String| {
        if !mode.quiet && info_enabled() {
            report.progress(&msg);
        }
    };
    let mut resolved_names: Vec<(String, String)> = Vec::new();
    for (k, v) in prior {
        if let (Some(k), Value::Mapping(srcs)) = (k.as_str(), v) {
            for sk in srcs.keys().filter_map(Value::as_str) {
                resolved_names.push((k.to_string(), sk.to_string()));
            }
        }
    }
    for r in &res {
        let dep_name = r.resolving_name();
        say(format!("Resolving {dep_name}"));
        let mut config = Mapping::new();
        for c in r.flag_candidates() {
            if let Some(v) = flags.get(c.as_str()) {
                config.insert(c.into(), v.clone());
            }
        }
        let mut dep = Dep {
            name: dep_name.clone(),
            sources: Vec::new(),
        };
        let result = (|| -> Result<()> {
            for s in &r.sources {
                let sname = s.resolving_name();
                let always = s.bool("always-resolve") == Some(true);
                if !always && resolved_names.contains(&(dep_name.clone(), sname.clone())) {
                    say(format!(
                        "Skipping resolution of {sname} because it's already resolved"
                    ));
                    continue;
                }
                if mode.for_stage && s.scheme == "operation" {
                    say(format!(
                        "Skipping resolution of {sname} because it's being staged"
                    ));
                    continue;
                }
                match resolve_source(
                    op, r, s, &config, flags, &location, cwd, runs_dir, &mut runs, mode, &mut out,
                    report,
                ) {
                    Ok(src) => {
                        resolved_names.push((dep_name.clone(), sname));
                        dep.sources.push(src);
                    }
                    Err(e) if s.bool("optional") == Some(true) => {
                        let _ = e;
                        say(format!(
                            "Could not resolve {sname} - skipping because dependency is optional"
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            if mode.force {
                report.warning(&format!(
                    "WARNING: a dependency was not met: {}",
                    e.message()
                ));
            } else {
                return Err(Error::user(format!(
                    "run failed because a dependency was not met: {}",
                    e.message()
                )));
            }
        }
        let mut od = r.raw.clone();
        od.remove("config");
        if !config.is_empty() {
            od.insert("config".into(), Value::Mapping(config));
        }
        od.insert("location".into(), location.display().to_string().into());
        od.insert("name".into(), dep_name.clone().into());
        out.op_deps.push(Value::Mapping(sorted(od)));
        out.deps.push(dep);
    }
    Ok(out)
}

fn sorted(m: Mapping) -> Mapping {
    let mut items: Vec<(Value, Value)> = m.into_iter().collect();
    items.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    items.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn resolve_source(
    op: &OpDef,
    r: &ResourceDef,
    s: &SourceDef,
    config: &Mapping,
    flags: &Mapping,
    location: &Path,
    cwd: &Path,
    runs_dir: &Path,
    runs: &mut Option<Vec<RunInfo>>,
    mode: Mode,
    out: &mut Resolved,
    report: &dyn guild_format::report::Reporter,
) -> Result<Source> {
    let c = Resolving {
        s,
        flags,
        config,
        location,
        cwd,
        runs_dir,
        mode,
        report,
        dep_name: r.resolving_name(),
        sname: s.resolving_name(),
        select: match s.def.get("select") {
            Some(Value::String(x)) => vec![x.clone()],
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        },
        target_path: r.target_path(s),
    };
    let fname = match &s.flag_name {
        FlagName::Name(f) => Some(f.clone()),
        _ => None,
    };
    let attr_config = c.first_config(&[
        s.name.clone(),
        fname.clone(),
        Some(s.uri.clone()),
        Some(s.path.clone()),
    ]);
    let mut src = Source {
        name: c.sname.clone(),
        uri: s.uri.clone(),
        run_id: None,
        files: Vec::new(),
        link: s.def.get("target-type").and_then(Value::as_str) == Some("link"),
        root: None,
        config: attr_config,
        replace: s.bool("replace-existing") == Some(true),
        generated: None,
        archive: false,
    };
    match s.scheme.as_str() {
        "file" => file_source(&c, fname, &mut src, out)?,
        "operation" => operation_source(&c, runs, &mut src)?,
        "config" => config_source(&c, op, &mut src, out)?,
        "url" => url_source(&c, &mut src)?,
        other => {
            return Err(c.fail(format!("{other} sources are not supported")));
        }
    }
    Ok(src)
}

/// What resolving one source of a resource works with.
struct Resolving<'a> {
    s: &'a SourceDef,
    flags: &'a Mapping,
    config: &'a Mapping,
    location: &'a Path,
    cwd: &'a Path,
    runs_dir: &'a Path,
    mode: Mode,
    report: &'a dyn guild_format::report::Reporter,
    dep_name: String,
    sname: String,
    select: Vec<String>,
    target_path: Option<String>,
}

impl Resolving<'_> {
    /// Guild's error for this source, with its `help`.
    fn fail(&self, why: String) -> Error {
        let mut msg = format!(
            "could not resolve '{}' in {} resource: {why}",
            self.sname, self.dep_name
        );
        if let Some(h) = self.s.def.get("help").and_then(Value::as_str) {
            msg.push('\n');
            msg.push_str(h);
        }
        Error::user(msg)
    }

    /// A progress line, unless quiet.
    fn say(&self, msg: String) {
        if !self.mode.quiet && info_enabled() {
            self.report.progress(&msg);
        }
    }

    /// The flag value that configures the source, by Guild's key order.
    fn first_config(&self, keys: &[Option<String>]) -> Option<Value> {
        keys.iter()
            .flatten()
            .find_map(|k| self.config.get(k.as_str()).cloned())
    }

    /// The files of `dir` that the source's `select` picks.
    fn selected(&self, dir: &Path) -> Result<Vec<String>> {
        select_paths(rel_files(dir), &self.select)
    }

    fn tp(&self) -> Option<&str> {
        self.target_path.as_deref()
    }

    fn rename(&self) -> Option<&Value> {
        self.s.def.get("rename")
    }
}

/// A `file:` source: a file or directory of the project (or one a flag
/// names), an archive unpacked into the resource cache.
fn file_source(
    c: &Resolving,
    fname: Option<String>,
    src: &mut Source,
    out: &mut Resolved,
) -> Result<()> {
    let source_config = c
        .first_config(&[fname, c.s.name.clone(), Some(c.s.uri.clone())])
        .filter(|v| !flag_values(v).is_empty());
    let p = match &source_config {
        Some(v) => {
            let given = flag_values(v).join(" ");
            let p = c.cwd.join(&given);
            if !p.exists() {
                return Err(c.fail(format!("{} does not exist", p.display())));
            }
            let shown = guild_format::fsutil::relative_path(&p, c.cwd);
            c.say(format!("Using {} for {}", shown.display(), c.sname));
            p
        }
        None => {
            let path = flag_refs(&c.s.path, c.flags)
                .map_err(|name| c.fail(undefined_ref(&c.s.path, Some(&c.s.scheme), &name)))?;
            let p = c.location.join(&path);
            if !p.exists() {
                // Guild's reason, and where to fix it.
                return Err(c.fail(format!(
                    "cannot find source file '{}' (looked in {}); create it or fix `requires` in guild.yml",
                    path,
                    c.location.display()
                )));
            }
            p
        }
    };
    src.root = Some(p.clone());
    let archive = if p.is_file() && c.s.bool("unpack") != Some(false) {
        super::unpack::kind(&p, c.s.def.get("type").and_then(Value::as_str))
    } else {
        None
    };
    if let Some(kind) = archive {
        // Unpacked once into the resource cache.
        let cache = c
            .runs_dir
            .parent()
            .unwrap_or(c.runs_dir)
            .join("cache/resources");
        let dir = super::unpack::file_unpack_dir(&cache, &p);
        src.files = archive_files(
            &p,
            kind,
            &dir,
            &c.select,
            c.tp(),
            c.rename(),
            c.flags,
            &|m| c.say(m.to_string()),
        )
        .map_err(|e| c.fail(e.to_string()))?;
        if source_config.is_none() {
            out.project_files.push(p.clone());
        }
        src.root = Some(dir);
        src.archive = true;
    } else if p.is_dir() && !c.select.is_empty() {
        for rel in c.selected(&p)? {
            let t = join_target(c.tp(), &rel);
            src.files.push((p.join(&rel), t));
        }
    } else {
        let t = file_target(&p, c.s, c.tp(), c.rename(), c.flags)?;
        // The declared file is not source code (a file given by a
        // flag instead is, as in Guild).
        if p.is_file() && source_config.is_none() {
            out.project_files.push(p.clone());
        }
        src.files.push((p, t));
    }
    Ok(())
}

/// An `operation:` source: files of the run the flag names, or of the
/// latest suitable run.
fn operation_source(
    c: &Resolving,
    runs: &mut Option<Vec<RunInfo>>,
    src: &mut Source,
) -> Result<()> {
    let all = runs.get_or_insert_with(|| candidate_runs(c.runs_dir));
    let spec = src
        .config
        .as_ref()
        .map(|v| flag_values(v).join(""))
        .filter(|v| !v.is_empty());
    let up = match &spec {
        Some(p) if c.cwd.join(p).join(".guild/opref").is_file() => {
            Some(RunInfo::load(Run::at(c.cwd.join(p))))
        }
        _ => find_op_run(all, &c.s.path, spec.as_deref(), false),
    };
    let Some(up) = up else {
        return Err(c.fail(format!("no suitable run for {}", c.s.path)));
    };
    c.say(format!("Using run {} for {}", up.run.id, c.sname));
    let names: Vec<String> = if c.select.is_empty() {
        generated_files(&up.run)
    } else {
        c.selected(&up.run.dir)?
    };
    if names.is_empty() {
        if c.s.bool("fail-if-empty") == Some(true) {
            return Err(c.fail(format!("nothing resolved for {}", c.sname)));
        }
        if c.s.bool("warn-if-empty") != Some(false) {
            c.say(format!("WARNING: nothing resolved for {}", c.sname));
        }
    }
    for rel in names {
        let t = join_target(
            c.tp(),
            &renamed_with(&rel, c.rename(), c.flags).map_err(Error::user)?,
        );
        src.files.push((up.run.dir.join(&rel), t));
    }
    src.run_id = Some(up.run.id.clone());
    Ok(())
}

/// A `config:` source: the project's config file written with the run's
/// flags.
fn config_source(c: &Resolving, op: &OpDef, src: &mut Source, out: &mut Resolved) -> Result<()> {
    let p = c.location.join(&c.s.path);
    if !p.is_file() {
        return Err(c.fail(format!(
            "cannot find source file '{}' (looked in {}); create it or fix `c.flags-dest`/`requires` in guild.yml",
            c.s.path,
            c.location.display()
        )));
    }
    let text = super::config::generate(&p, c.s.def.get("params"), c.flags, &op.flags)
        .map_err(|e| c.fail(e))?;
    let t = file_target(&p, c.s, c.tp(), c.rename(), c.flags)?;
    src.generated = Some(text);
    // The run gets its own copy, not the project's as source code.
    out.project_files.push(p.clone());
    src.files.push((p, t));
    Ok(())
}

/// A `url:` source: downloaded into the resource cache (checked against
/// its sha256), an archive unpacked beside it.
fn url_source(c: &Resolving, src: &mut Source) -> Result<()> {
    // The cache is keyed by the URL as written (as Guild keys it),
    // so `guild download URL` fills it for this source.
    let url = flag_refs(&c.s.path, c.flags)
        .map_err(|name| c.fail(undefined_ref(&c.s.path, Some("url"), &name)))?;
    c.say(format!("Resolving {}", c.s.path));
    let home = guild_format::home::Home {
        path: c.runs_dir.parent().unwrap_or(c.runs_dir).to_path_buf(),
    };
    let p =
        super::fetch::fetch_as(&home, &c.s.path, &url, &|m| c.say(m.to_string())).map_err(|e| {
            c.fail(
                e.message()
                    .trim_start_matches("error downloading ")
                    .to_string(),
            )
        })?;
    if let Some(want) = c.s.def.get("sha256").and_then(Value::as_str) {
        let got = super::fetch::sha256_file(&p)?;
        if got != want {
            return Err(c.fail(format!(
                "bad sha256 for '{}' (expected {want} but got {got})",
                p.display()
            )));
        }
    }
    let archive = (c.s.bool("unpack") != Some(false))
        .then(|| super::unpack::kind(&p, c.s.def.get("type").and_then(Value::as_str)))
        .flatten();
    src.root = p.parent().map(Path::to_path_buf);
    match (archive, p.parent()) {
        (Some(kind), Some(dir)) => {
            // Unpacked beside the download, as Guild.
            src.files = archive_files(
                &p,
                kind,
                dir,
                &c.select,
                c.tp(),
                c.rename(),
                c.flags,
                &|m| c.say(m.to_string()),
            )
            .map_err(|e| c.fail(e.to_string()))?;
            src.archive = true;
        }
        _ => {
            let t = file_target(&p, c.s, c.tp(), c.rename(), c.flags)?;
            src.files.push((p, t));
        }
    }
    Ok(())
}

/// When a staged run starts: resolve what staging left (operation
/// sources), with the run's flags, into the run; `deps` attr and manifest
/// updated.
pub fn resolve_at_start(
    home: &guild_format::home::Home,
    run: &Run,
    cwd: &Path,
    quiet: bool,
    report: &dyn guild_format::report::Reporter,
) -> Result<()> {
    let Ok(opref) = run.opref() else {
        return Ok(());
    };
    let Some(op) = super::for_run(home, &opref) else {
        return Ok(());
    };
    if op.requires.is_empty() {
        return Ok(());
    }
    let flags = match run.attr("flags") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    let prior = match run.attr("deps") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    let mode = Mode {
        quiet,
        ..Mode::default()
    };
    let res = resolve_after(&op, &home.runs_dir(), &flags, cwd, mode, &prior, report)?;
    if res.deps.iter().all(|d| d.sources.is_empty()) {
        return Ok(());
    }
    let (entries, attr) = apply(run, &run.dir, &res, quiet, report)?;
    let mut merged = prior;
    if let Value::Mapping(new) = attr {
        for (k, v) in new {
            match (merged.get_mut(&k), v) {
                (Some(Value::Mapping(old)), Value::Mapping(add)) => old.extend(add),
                (_, v) => {
                    merged.insert(k, v);
                }
            }
        }
    }
    run.write_attr("deps", &Value::Mapping(merged))?;
    if !entries.is_empty() {
        let path = run.guild_path("manifest");
        let mut all = guild_format::run::manifest::read(&path).unwrap_or_default();
        all.extend(entries);
        guild_format::fsutil::write_atomic(
            &path,
            guild_format::run::manifest::text(&all).as_bytes(),
        )?;
    }
    Ok(())
}

/// Top-level entries of a run that its process made (no manifest entry).
fn generated_files(run: &Run) -> Vec<String> {
    let listed: std::collections::HashSet<String> =
        guild_format::run::manifest::read(&run.guild_path("manifest"))
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

/// Copy or link the resolved files into `run`; returns the manifest `d`
/// entries and the `attrs/deps` value.
pub(crate) fn apply(
    run: &Run,
    shown_dir: &Path,
    res: &Resolved,
    quiet: bool,
    report: &dyn guild_format::report::Reporter,
) -> Result<(Vec<Entry>, Value)> {
    let mut entries = Vec::new();
    let mut attr = Mapping::new();
    for dep in &res.deps {
        let mut dm = Mapping::new();
        for s in &dep.sources {
            let mut paths = Vec::new();
            let mut generated_at = None;
            if let (Some(text), Some((src, _))) = (&s.generated, s.files.first()) {
                let base = src.file_name().unwrap_or(src.as_os_str());
                let dir = run.guild_path("generated").join(generated_dir_name());
                guild_format::fsutil::create_dir_all(&dir)?;
                let at = dir.join(base);
                guild_format::fsutil::write_atomic(&at, text.as_bytes())?;
                generated_at = Some(at);
            }
            for (src, target) in &s.files {
                let src = generated_at.as_ref().unwrap_or(src);
                // An archive member is named beside the archive's URI.
                let member = s
                    .root
                    .as_ref()
                    .filter(|_| s.archive)
                    .and_then(|r| src.strip_prefix(r).ok())
                    .map(|rel| rel.display().to_string());
                let uri = match s.root.as_ref().and_then(|r| src.strip_prefix(r).ok()) {
                    _ if s.archive => s.uri.clone(),
                    Some(rel) if !rel.as_os_str().is_empty() => {
                        format!("{}/{}", s.uri, rel.display())
                    }
                    _ => s.uri.clone(),
                };
                let entry = |target: &str, sha: &str, sub: Option<&str>| {
                    let mut e = dep_entry(target, sha, &uri);
                    let inner = match (member.as_deref(), sub) {
                        (Some(m), Some(sub)) => Some(format!("{m}/{sub}")),
                        (Some(m), None) => Some(m.to_string()),
                        _ => None,
                    };
                    e.fields.extend(inner);
                    e
                };
                paths.push(Value::from(
                    guild_format::fsutil::relative_path(src, &run.dir)
                        .to_string_lossy()
                        .into_owned(),
                ));
                let dest = run.dir.join(target);
                if dest.symlink_metadata().is_ok() {
                    if s.replace {
                        let _ = std::fs::remove_file(&dest);
                    } else {
                        if !quiet {
                            report.warning(&format!(
                                "WARNING: {} already exists, skipping {}",
                                shown_dir.join(target).display(),
                                if s.link { "link" } else { "copy" }
                            ));
                        }
                        continue;
                    }
                }
                if let Some(parent) = dest.parent() {
                    guild_format::fsutil::create_dir_all(parent)?;
                }
                if s.link {
                    let rel =
                        guild_format::fsutil::relative_path(src, dest.parent().unwrap_or(&run.dir));
                    std::os::unix::fs::symlink(&rel, &dest)
                        .map_err(|e| Error::io("linking", &dest, e))?;
                    if src.is_file() {
                        entries.push(entry(target, &sha1_file(src)?, None));
                    } else if src.is_dir() {
                        // A linked directory: one entry, no digest (Guild's `-`).
                        entries.push(entry(target, "-", None));
                    }
                } else if src.is_dir() {
                    for rel in rel_files(src) {
                        let from = src.join(&rel);
                        let to = dest.join(&rel);
                        if let Some(p) = to.parent() {
                            guild_format::fsutil::create_dir_all(p)?;
                        }
                        std::fs::copy(&from, &to).map_err(|e| Error::io("copying", &from, e))?;
                        if !s.archive {
                            entries.push(entry(
                                &format!("{target}/{rel}"),
                                &sha1_file(&to)?,
                                Some(&rel),
                            ));
                        }
                    }
                    if s.archive {
                        // A directory of an archive: one entry, as Guild.
                        entries.push(entry(target, "-", None));
                    }
                } else {
                    std::fs::copy(src, &dest).map_err(|e| Error::io("copying", src, e))?;
                    entries.push(entry(target, &sha1_file(&dest)?, None));
                }
            }
            let mut sm = Mapping::new();
            if let Some(c) = &s.config {
                sm.insert("config".into(), c.clone());
            }
            paths.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            sm.insert("paths".into(), Value::Sequence(paths));
            sm.insert("uri".into(), s.uri.clone().into());
            dm.insert(s.name.clone().into(), Value::Mapping(sm));
        }
        // Resources of the same name share one entry.
        match attr.get_mut(dep.name.as_str()) {
            Some(Value::Mapping(prev)) => prev.extend(dm),
            _ => {
                attr.insert(dep.name.clone().into(), Value::Mapping(dm));
            }
        }
    }
    Ok((entries, Value::Mapping(attr)))
}

/// A fresh directory name under `.guild/generated/` (Guild uses mkdtemp).
fn generated_dir_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// The `paths` that one of the `select` regexes matches whole.
fn select_paths(paths: Vec<String>, select: &[String]) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for p in paths {
        for re in select {
            if full_match(re, &p)? {
                v.push(p);
                break;
            }
        }
    }
    Ok(v)
}

/// The files an archive source resolves to: its members unpacked in `dir`
/// (the top-level ones, or those `select` matches), with their targets.
#[allow(clippy::too_many_arguments)]
fn archive_files(
    archive: &Path,
    kind: super::unpack::Kind,
    dir: &Path,
    select: &[String],
    tp: Option<&str>,
    rename: Option<&Value>,
    flags: &Mapping,
    say: &dyn Fn(&str),
) -> Result<Vec<(PathBuf, String)>> {
    let members = super::unpack::ensure_unpacked(archive, kind, dir, say)?;
    let chosen = if select.is_empty() {
        super::unpack::root_paths(&members)
    } else {
        select_paths(members, select)?
    };
    chosen
        .into_iter()
        .map(|rel| {
            // Each resolved path lands under its own name, as Guild.
            let base = rel.rsplit('/').next().unwrap_or(&rel);
            let t = join_target(tp, &renamed_with(base, rename, flags).map_err(Error::user)?);
            Ok((dir.join(&rel), t))
        })
        .collect()
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
    fn datastore_sources_become_mounts_and_the_rest_stays() {
        let v: Value = serde_yaml_ng::from_str(
            "- datastore: mnist:2\n  target-path: data\n- datastore:cifar\n- file: a.txt\n\
             - name: d\n  target-path: in\n  sources:\n    - datastore: imgs\n    - b.txt\n\
             - name: only\n  sources:\n    - {datastore: x, target-path: here}\n",
        )
        .unwrap();
        let mut reqs = Require::list_of(&v);
        let mounts = take_datastores(&mut reqs).unwrap();
        let got: Vec<(&str, &str)> = mounts
            .iter()
            .map(|m| (m.spec.as_str(), m.dir.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("mnist:2", "data"),
                ("cifar", "datastores/cifar"),
                ("imgs", "in"),
                ("x", "here")
            ]
        );
        // The file entry, and the resource with its file source only.
        assert_eq!(reqs.len(), 2);
        match &reqs[1] {
            Require::Resource(r) => assert_eq!(r.sources, [SourceItem::Uri("b.txt".into())]),
            other => panic!("{other:?}"),
        }
        for bad in [
            "- datastore: [1]\n",
            "- datastore: '../x'\n",
            "- {datastore: x, target-path: /etc}\n",
            "- {datastore: x, target-path: 'a/../../b'}\n",
            "- {datastore: 'x:0'}\n",
        ] {
            let mut reqs = Require::list_of(&serde_yaml_ng::from_str(bad).unwrap());
            assert!(take_datastores(&mut reqs).is_err(), "{bad}");
        }
    }

    #[test]
    fn requires_entries_are_typed_and_written_back_as_read() {
        let v: Value = serde_yaml_ng::from_str(
            "- file:data.csv\n- operation: prepare\n  select: out.*\n- name: data\n  target-path: d\n  sources:\n    - a.txt\n    - {url: 'https://x/y.zip', sha256: abc}\n- 3\n",
        )
        .unwrap();
        let reqs = Require::list_of(&v);
        assert!(matches!(&reqs[0], Require::Uri(u) if u == "file:data.csv"));
        assert!(matches!(&reqs[1], Require::Source(m) if m.contains_key("select")));
        match &reqs[2] {
            Require::Resource(r) => {
                assert_eq!(r.sources.len(), 2);
                assert_eq!(r.rest.get("name").and_then(Value::as_str), Some("data"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&reqs[3], Require::Invalid(_)));
        let back = Value::Sequence(reqs.iter().map(Require::to_value).collect());
        assert_eq!(back, v);
    }

    #[test]
    fn relative_paths_and_rename() {
        assert_eq!(
            guild_format::fsutil::relative_path(
                Path::new("/a/p/data.txt"),
                Path::new("/a/gh/runs/x")
            ),
            PathBuf::from("../../../p/data.txt")
        );
        assert_eq!(
            renamed("data.txt", Some(&"data.txt input.txt".into())),
            "input.txt"
        );
        assert_eq!(renamed("data.txt", Some(&"input.txt".into())), "input.txt");
        assert_eq!(renamed("a-a.txt", Some(&"a b".into())), "b-a.txt");
        assert_eq!(join_target(Some("inputs"), "a.txt"), "inputs/a.txt");
        assert!(full_match(r".*\.csv", "a.csv").unwrap());
        assert!(!full_match(r".*\.csv", "a.csv.bak").unwrap());
    }
}
