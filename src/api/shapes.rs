//! The data of `guild api runs|ops|compare|help-op`: Guild 0.9's JSON for
//! programs (its R package reads runs through it), built from the run
//! directories and guild.yml as the CLI's own views are.

use guild_format::query::RunInfo;
use guild_format::run::Run;
use guild_project::op::OpDef;
use serde_json::{json, Map, Value as J};
use serde_yaml_ng::Value;
use std::path::Path;

fn to_json(v: Option<Value>) -> J {
    v.as_ref()
        .map(guild_format::query::yaml_to_json)
        .unwrap_or(J::Null)
}

fn opref_json(r: &RunInfo) -> J {
    match &r.opref {
        Some(o) => json!({
            "pkgType": o.pkg_type,
            "pkgName": o.pkg_name,
            "pkgVersion": o.pkg_version,
            "modelName": o.model_name,
            "opName": o.op_name,
        }),
        None => J::Null,
    }
}

/// Files of the run directory (not `.guild`), with size and mtime (ms);
/// a link to another run's file names that run and its operation.
fn files_json(run: &Run, runs_dir: &Path) -> J {
    let mut out = Vec::new();
    for (rel, is_dir) in run.files(false) {
        if is_dir {
            continue;
        }
        let p = run.dir.join(&rel);
        let meta = std::fs::metadata(&p).ok();
        let (mut op, mut from) = (J::Null, J::Null);
        if p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            if let Ok(target) = p.canonicalize() {
                let runs = runs_dir.canonicalize().unwrap_or(runs_dir.to_path_buf());
                if let Ok(sub) = target.strip_prefix(&runs) {
                    if let Some(id) = sub.components().next() {
                        let id = id.as_os_str().to_string_lossy().into_owned();
                        let other = RunInfo::load(Run::at(runs_dir.join(&id)));
                        op = other.op_desc().into();
                        from = other.run.short_id().into();
                    }
                }
            }
        }
        out.push(json!({
            "path": rel,
            "size": meta.as_ref().map(|m| m.len()),
            "mtime": meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64),
            "operation": op,
            "run": from,
        }));
    }
    J::Array(out)
}

/// `deps` as the runs they came from: `{run, operation, paths}` by operation.
fn deps_json(run: &Run, runs_dir: &Path) -> J {
    let mut by_run: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(Value::Mapping(deps)) = run.attr("deps") {
        for srcs in deps.values().filter_map(Value::as_mapping) {
            for src in srcs.values() {
                let Some(Value::Sequence(paths)) = src.get("paths") else {
                    continue;
                };
                for p in paths.iter().filter_map(Value::as_str) {
                    let abs = guild_format::fsutil::normalize(&run.dir.join(p));
                    let Ok(sub) = abs.strip_prefix(runs_dir) else {
                        continue;
                    };
                    let mut parts = sub.components();
                    let Some(id) = parts.next() else { continue };
                    let id = id.as_os_str().to_string_lossy().into_owned();
                    let rest = parts.as_path().display().to_string();
                    match by_run.iter_mut().find(|(r, _)| *r == id) {
                        Some((_, v)) => v.push(rest),
                        None => by_run.push((id, vec![rest])),
                    }
                }
            }
        }
    }
    let mut out: Vec<J> = by_run
        .into_iter()
        .filter(|(id, _)| runs_dir.join(id).join(".guild/opref").is_file())
        .map(|(id, paths)| {
            let other = RunInfo::load(Run::at(runs_dir.join(&id)));
            json!({"run": other.run.short_id(), "operation": other.op_desc(), "paths": paths})
        })
        .collect();
    out.sort_by(|a, b| a["operation"].as_str().cmp(&b["operation"].as_str()));
    J::Array(out)
}

fn scalars_json(run: &Run) -> J {
    J::Array(scalar_summaries(run, &GUILD_API_KEYS))
}

/// Keys of a scalar summary: first, first step, last, last step, min, min
/// step, max, max step, average, total, count.
type SummaryKeys = [&'static str; 11];
const GUILD_API_KEYS: SummaryKeys = [
    "firstVal",
    "firstStep",
    "lastVal",
    "lastStep",
    "minVal",
    "minStep",
    "maxVal",
    "maxStep",
    "avgVal",
    "total",
    "count",
];
const IPY_KEYS: SummaryKeys = [
    "first_val",
    "first_step",
    "last_val",
    "last_step",
    "min_val",
    "min_step",
    "max_val",
    "max_step",
    "avg_val",
    "total",
    "count",
];

/// A run's scalar summaries, one object per prefix and tag in that order,
/// with `keys` for the values (Guild's `api runs`, or its `ipy` names).
fn scalar_summaries(run: &Run, keys: &SummaryKeys) -> Vec<J> {
    let scalars = guild_format::output::scalars::run_scalars(&run.dir);
    let mut rows: Vec<(String, String, J)> = scalars
        .iter()
        .map(|(k, s)| {
            let (prefix, tag) = match k.rsplit_once('#') {
                Some((p, t)) => (p.to_string(), t.to_string()),
                None => (".guild".to_string(), k.clone()),
            };
            let mut v = json!({"run": run.id, "prefix": prefix, "tag": tag});
            let vals = [
                json!(s.first),
                json!(s.first_step),
                json!(s.last),
                json!(s.last_step),
                json!(s.min),
                json!(s.min_step),
                json!(s.max),
                json!(s.max_step),
                json!(s.avg()),
                json!(s.total),
                json!(s.count),
            ];
            for (k, x) in keys.iter().zip(vals) {
                v[*k] = x;
            }
            (prefix, tag, v)
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows.into_iter().map(|(_, _, v)| v).collect()
}

/// A run's scalar summaries as rows in Guild's `ipy` shape (`run`,
/// `prefix`, `tag`, `first_val`... `total`, `count`).
pub fn scalar_rows(run: &Run) -> Vec<J> {
    scalar_summaries(run, &IPY_KEYS)
}

/// Every scalar value of a run: `run`, `path` (the events file in the run
/// directory), `tag`, `val`, `step`, file by file in path order. Links are
/// followed only into other runs (a batch's trials), as for the summaries.
pub fn scalar_detail_rows(run: &Run) -> Vec<J> {
    let mut files = guild_format::output::scalars::events_files(&run.dir);
    files.sort();
    let mut rows = Vec::new();
    for (rel, path) in files {
        for (tag, val, step) in guild_format::output::tfevents::read_scalars(&path) {
            rows.push(json!({"run": run.id, "path": rel, "tag": tag, "val": val, "step": step}));
        }
    }
    rows
}

/// The columns of [`brief`].
pub const BRIEF_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "operation",
    "started",
    "status",
    "label",
    "marked",
];

/// A run in brief, for listings read by programs (what `runs` shows), as
/// one row of [`BRIEF_COLUMNS`]: arrays, not objects, so that 10,000 runs
/// are quick to read.
pub fn brief(r: &RunInfo) -> J {
    json!([
        r.run.id,
        r.name,
        r.op_desc(),
        r.started,
        r.status.display(),
        r.label,
        r.marked
    ])
}

/// One run as `guild api runs` (API version 2) shows it.
pub fn run_data(r: &RunInfo, runs_dir: &Path) -> J {
    let run = &r.run;
    let mut other = Map::new();
    for name in run.attr_names() {
        if !name.starts_with('_') && !guild_format::run::CORE_ATTRS.contains(&name.as_str()) {
            other.insert(name.clone(), to_json(run.attr(&name)));
        }
    }
    let manifest =
        guild_format::run::manifest::read(&run.guild_path("manifest")).unwrap_or_default();
    let mut source_files: Vec<String> = manifest
        .iter()
        .filter(|e| e.kind == "s")
        .filter_map(|e| e.fields.get(2).cloned())
        .collect();
    source_files.sort();
    let dest = guild_format::run::sourcecode_path(run, ".");
    let root = dest.trim_end_matches("/.").to_string();
    json!({
        "id": run.id,
        "shortId": run.short_id(),
        "dir": run.dir.display().to_string(),
        "operation": r.op_desc(),
        "started": r.started,
        "stopped": r.stopped(),
        "label": r.label.clone().unwrap_or_default(),
        "tags": r.tags(),
        "comments": to_json(run.attr("comments")).as_array().cloned().unwrap_or_default(),
        "status": r.status.display(),
        "exitStatus": r.exit_status,
        "command": run.attr("cmd").as_ref().map(guild_project::op::cmd::command_line).unwrap_or_default(),
        "otherAttrs": other,
        "flags": match to_json(run.attr("flags")) { J::Null => json!({}), v => v },
        "env": match to_json(run.attr("env")) { J::Null => json!({}), v => v },
        "deps": deps_json(run, runs_dir),
        "files": files_json(run, runs_dir),
        "sourcecode": {"root": root, "files": source_files},
        "projectDir": r.op_dir(),
        "opRef": opref_json(r),
        "marked": r.marked,
        "scalars": scalars_json(run),
    })
}

/// An operation as `guild api ops` / `help-op` show it.
pub fn op_data(op: &OpDef, gf_path: &Path) -> J {
    let mut flags = Map::new();
    for f in &op.flags {
        let default = f.default.clone().unwrap_or(Value::Null);
        let assign = format!(
            "{}={}",
            f.name,
            guild_format::run::yaml::format_flag(&default)
        );
        flags.insert(
            f.name.clone(),
            json!({
                "default": guild_format::query::yaml_to_json(&default),
                "defaultAssign": assign,
                "description": f.description,
                "choices": f.choices.iter().enumerate().map(|(i, c)| json!({
                    "value": guild_format::query::yaml_to_json(c),
                    "alias": J::Null,
                    "description": f.choice_descriptions.get(i).cloned().unwrap_or_default(),
                })).collect::<Vec<_>>(),
                "type": f.ftype.map(|t| t.name()),
            }),
        );
    }
    let o = &op.opref;
    let name = op.name.rsplit(':').next().unwrap_or(&op.name).to_string();
    json!({
        "opref": {
            "pkgType": o.pkg_type, "pkgName": o.pkg_name, "pkgVersion": o.pkg_version,
            "modelName": o.model_name, "opName": o.op_name,
        },
        "name": name,
        "fullname": op.name,
        "description": op.description,
        "guildfile": {
            "dir": gf_path.parent().map(|p| p.display().to_string()),
            "src": gf_path.display().to_string(),
        },
        "flags": flags,
    })
}
