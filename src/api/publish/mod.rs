//! `guild publish`: runs written out as a browsable directory, as Guild
//! 0.9 writes them. Each run becomes `<dest>/<run id>/` with `run.yml`,
//! `flags.yml`, `scalars.csv`, `output.txt`, `sourcecode.csv`,
//! `runfiles.csv`, `sourcecode/`, optionally `runfiles/`, and the files of
//! its template (by default a README.md); `<dest>/README.md` indexes them.

pub mod template;

use super::{Context, RunInfo, Selection};
use guild_format::error::{Error, IoContext, Result};
use guild_format::run::manifest;
use guild_project::guildfile::Guildfile;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use template::{Source, Template};

/// The directory runs are published to when none is given.
pub const DEFAULT_DEST: &str = "published-runs";

/// Which run files are copied into `runfiles/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyFiles {
    /// None (only listed in `runfiles.csv`).
    #[default]
    No,
    /// As the operation's `publish: files:` selects (all but source code
    /// and links when it selects nothing).
    Configured,
    /// All but source code (and links, unless `include_links`).
    All,
}

/// What to publish, where and how.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    pub sel: Selection,
    /// Absolute.
    pub dest: PathBuf,
    /// A template name: `default`, a directory next to the run's guild.yml,
    /// or a `./`-relative directory (from `template_base`).
    pub template: Option<String>,
    pub template_base: PathBuf,
    pub copy: CopyFiles,
    pub include_links: bool,
    pub md5: bool,
    pub include_batch: bool,
}

/// The runs a publish request names (all by default), batch runs left
/// out unless asked for.
pub fn runs(ctx: &Context, req: &PublishRequest) -> Result<Vec<RunInfo>> {
    let mut seen = BTreeSet::new();
    let sel = Selection {
        runs: req
            .sel
            .runs
            .iter()
            .filter(|r| seen.insert(r.as_str()))
            .cloned()
            .collect(),
        ..req.sel.clone()
    };
    Ok(super::runs::list(ctx, &sel)?
        .into_iter()
        .map(|i| i.run)
        .filter(|r| req.include_batch || !r.batch)
        .collect())
}

/// Publish one run into `<dest>/<id>` (replacing an earlier publication);
/// returns the size of what was written. Nothing is written when the
/// template cannot be found or compiled.
pub fn publish_run(ctx: &Context, req: &PublishRequest, run: &RunInfo) -> Result<u64> {
    let fail = |msg: String| Error::user(format!("error publishing run {}:\n{msg}", run.run.id));
    let opdef = opdef(run);
    let run_dest = req.dest.join(&run.run.id);
    let tpl = find_template(req, opdef.as_ref()).map_err(fail)?;
    let tpl = Template::load(tpl, Some(run_dest.clone())).map_err(fail)?;
    guild_format::fsutil::create_dir_all(&req.dest)?;
    guild_format::fsutil::touch(&req.dest.join(".guild-nocopy"))?;
    if run_dest.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(&run_dest).ctx("removing the earlier publication", &run_dest)?;
    }
    std::fs::create_dir(&run_dest).ctx("creating", &run_dest)?;
    let source = source_paths(run);
    write_run_yml(run, &run_dest)?;
    write(&run_dest.join("flags.yml"), &flags_yml(run))?;
    write(&run_dest.join("scalars.csv"), &scalars_csv(&run.run.dir))?;
    let output = run.run.guild_path("output");
    if output.is_file() {
        std::fs::copy(&output, run_dest.join("output.txt")).ctx("copying", &output)?;
    }
    let mut src_rows = source.iter().cloned().collect::<Vec<_>>();
    src_rows.sort_by(|a, b| guild_format::run::ls::natural_cmp(a, b));
    write(
        &run_dest.join("sourcecode.csv"),
        &files_csv(&run.run.dir, &src_rows, req.md5),
    )?;
    let mut run_files: Vec<String> = walk(&run.run.dir, &mut |_, _| true)
        .into_iter()
        .map(|(rel, _)| rel)
        .filter(|rel| !source.contains(rel))
        .collect();
    run_files.sort_by(|a, b| guild_format::run::ls::natural_cmp(a, b));
    write(
        &run_dest.join("runfiles.csv"),
        &files_csv(&run.run.dir, &run_files, req.md5),
    )?;
    copy_sourcecode(ctx, run, &source, &run_dest.join("sourcecode"));
    if req.copy != CopyFiles::No {
        let rules = match req.copy {
            CopyFiles::Configured => opdef
                .as_ref()
                .and_then(|o| o.get("publish"))
                .and_then(|p| p.get("files"))
                .map(select_rules)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        copy_runfiles(run, req, &rules, &source, &run_dest.join("runfiles"))?;
    }
    let ctx_vars = template_context(&run_dest);
    tpl.generate(&run_dest, &ctx_vars).map_err(fail)?;
    Ok(dir_size(&run_dest))
}

/// Write `<dest>/README.md` from the runs published there (newest first),
/// with the built-in index template or the one at `index_template`
/// (a file, or a directory holding README.md; relative to the command's
/// directory).
pub fn refresh_index(ctx: &Context, dest: &Path, index_template: Option<&str>) -> Result<()> {
    let path = match index_template {
        None => None,
        Some(t) => {
            let shown = Path::new(".").join(t);
            let p = ctx.cwd.join(t);
            if !p.exists() {
                return Err(Error::user(format!(
                    "index template '{}' does not exist",
                    shown.display()
                )));
            }
            if p.is_dir() {
                if !p.join("README.md").is_file() {
                    return Err(Error::user(format!(
                        "index template '{}' is missing README.md",
                        shown.display()
                    )));
                }
                Some(p.join("README.md"))
            } else {
                Some(p)
            }
        }
    };
    let fail = |m: String| Error::user(format!("error refreshing index: {m}"));
    if !dest.is_dir() {
        return Err(fail(format!("{} does not exist", dest.display())));
    }
    let tpl = Template::index(path.as_deref()).map_err(fail)?;
    let mut runs: Vec<(String, String, Value)> = Vec::new();
    let entries = std::fs::read_dir(dest).ctx("listing", dest)?;
    for e in entries.flatten() {
        let yml = e.path().join("run.yml");
        let Some(text) = guild_format::fsutil::read_opt(&yml).ok().flatten() else {
            continue;
        };
        let v: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::Null);
        let started = match v.get("started") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => guild_format::run::yaml::encode_display(other),
            None => String::new(),
        };
        runs.push((started, e.file_name().to_string_lossy().into_owned(), v));
    }
    // Newest first; runs started in the same second keep the directory's
    // order, as Guild's stable sort over `os.listdir` does.
    runs.sort_by(|a, b| b.0.cmp(&a.0));
    let runs: Vec<Value> = runs.into_iter().map(|(_, _, v)| v).collect();
    let ctx_vars = minijinja::context! { runs => minijinja::Value::from_serialize(&runs) };
    let name = tpl
        .files
        .first()
        .map(|(n, _)| n.clone())
        .unwrap_or_default();
    let text = tpl.render(&name, &ctx_vars).map_err(fail)?;
    guild_format::fsutil::write_atomic(&dest.join("README.md"), text.as_bytes())
}

/// What `du --apparent-size` would say less the top directory: every
/// entry's size (links followed), directories included, as Guild sums it.
pub fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| {
            std::fs::metadata(e.path())
                .or_else(|_| std::fs::symlink_metadata(e.path()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).ctx("writing", path)
}

/// The run's operation in its project's guild.yml as it is now.
fn opdef(run: &RunInfo) -> Option<Mapping> {
    let opref = run.opref.as_deref()?;
    if opref.pkg_type != "guildfile" {
        return None;
    }
    let gf = Guildfile::load(Path::new(&opref.pkg_name)).ok()?;
    let spec = if opref.model_name.is_empty() {
        opref.op_name.clone()
    } else {
        format!("{}:{}", opref.model_name, opref.op_name)
    };
    gf.find_op(&spec).map(|(_, o)| {
        let mut cfg = o.cfg.clone();
        cfg.insert("__dir".into(), Value::String(gf.dir.display().to_string()));
        cfg
    })
}

/// The template a run is published with, as Guild finds it.
fn find_template(
    req: &PublishRequest,
    opdef: Option<&Mapping>,
) -> std::result::Result<Source, String> {
    let name = req
        .template
        .clone()
        .or_else(|| {
            opdef?
                .get("publish")?
                .get("template")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".into());
    if name.starts_with('.') && req.template_base.join(&name).exists() {
        return Ok(Source::Dir(req.template_base.join(&name)));
    }
    if name == "default" {
        return Ok(Source::Builtin("publish-default"));
    }
    if let Some(dir) = opdef.and_then(|o| o.get("__dir")).and_then(Value::as_str) {
        let p = Path::new(dir).join(&name);
        if p.is_dir() {
            return Ok(Source::Dir(p));
        }
    }
    Err(format!("cannot find template {name}"))
}

/// The run's source code files (manifest `s` entries, run paths).
fn source_paths(run: &RunInfo) -> BTreeSet<String> {
    manifest::read(&run.run.guild_path("manifest"))
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.kind == "s")
        .filter_map(|e| e.run_rel().map(str::to_string))
        .collect()
}

/// The 10 lines of `run.yml`, as Guild writes them.
fn write_run_yml(run: &RunInfo, dest: &Path) -> Result<()> {
    let y = |v: Value| {
        guild_format::run::yaml::dump_plain(&v)
            .trim_end()
            .to_string()
    };
    let utc = |us: Option<i64>| {
        us.filter(|u| *u != 0)
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map_or_else(
                || "None".to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            )
    };
    let started = run.started;
    let stopped = run.stopped();
    let command = match run.run.attr("cmd") {
        Some(Value::Sequence(args)) => args
            .iter()
            .map(|a| {
                let s = guild_format::run::yaml::py_str(a);
                if s.is_empty() || s.contains(' ') {
                    format!("\"{s}\"")
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let label = run.run.attr("label").unwrap_or(Value::Null);
    let exit_status = run
        .run
        .attr("exit_status")
        .unwrap_or(Value::String(String::new()));
    let text = format!(
        "id: {}\noperation: {}\nstatus: {}\nstarted: {}\nstopped: {}\ntime: {}\nmarked: {}\nlabel: {}\ncommand: {}\nexit_status: {}\n",
        run.run.id,
        y(Value::String(run.op_desc())),
        y(Value::String(run.status.status.as_str().to_string())),
        utc(started),
        utc(stopped),
        if started.is_some() && stopped.is_some() {
            guild_format::query::fmt_duration(started, stopped)
        } else {
            String::new()
        },
        y(Value::String(if run.marked { "yes" } else { "no" }.into())),
        y(label),
        y(Value::String(command)),
        y(exit_status),
    );
    write(&dest.join("run.yml"), &text)
}

fn flags_yml(run: &RunInfo) -> String {
    match run.run.attr("flags") {
        Some(Value::Mapping(m)) if !m.is_empty() => {
            guild_format::run::yaml::dump_plain(&Value::Mapping(m))
        }
        _ => "{}\n".into(),
    }
}

/// `scalars.csv`: one row per events directory (relative to the run,
/// `.guild` for output scalars) and tag.
fn scalars_csv(run_dir: &Path) -> String {
    let mut events: BTreeMap<String, Vec<(String, f64, i64)>> = BTreeMap::new();
    let files = walkdir::WalkDir::new(run_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type().is_file() && e.file_name().to_string_lossy().contains(".tfevents.")
        });
    for f in files {
        let prefix = f
            .path()
            .parent()
            .and_then(|p| p.strip_prefix(run_dir).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        events
            .entry(prefix)
            .or_default()
            .extend(guild_format::output::tfevents::read_scalars(f.path()));
    }
    let per = events.into_iter().flat_map(|(prefix, ev)| {
        guild_format::output::scalars::summarize(ev.into_iter())
            .into_iter()
            .map(move |(tag, s)| ((prefix.clone(), tag), s))
    });
    let f = guild_format::run::yaml::python_float_repr;
    let mut out = String::from(
        "prefix,tag,count,total,avg_val,first_val,first_step,last_val,last_step,min_val,min_step,max_val,max_step\n",
    );
    for ((prefix, tag), s) in per {
        let row = [
            prefix,
            tag,
            s.count.to_string(),
            f(s.total),
            f(s.avg()),
            f(s.first),
            s.first_step.to_string(),
            f(s.last),
            s.last_step.to_string(),
            f(s.min),
            s.min_step.to_string(),
            f(s.max),
            s.max_step.to_string(),
        ];
        out.push_str(&csv_row(&row));
    }
    out
}

/// One CSV line as Python's `csv.writer` writes it (minimal quoting).
fn csv_row(fields: &[String]) -> String {
    let cells: Vec<String> = fields
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    let mut line = cells.join(",");
    if fields.len() == 1 && fields[0].is_empty() {
        line = "\"\"".into();
    }
    line.push('\n');
    line
}

/// CSV text back into rows (the inverse of [`csv_row`]).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => row.push(std::mem::take(&mut cell)),
            '\n' if !quoted => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            c => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// `sourcecode.csv` / `runfiles.csv`: path, type, size, mtime (µs), md5.
fn files_csv(run_dir: &Path, paths: &[String], md5: bool) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut out = String::from("path,type,size,mtime,md5\n");
    for rel in paths {
        let p = run_dir.join(rel);
        let st = std::fs::metadata(&p).ok();
        let lst = std::fs::symlink_metadata(&p).ok();
        let mut kind = Vec::new();
        if let Some(st) = &st {
            kind.push(if st.is_file() {
                "file"
            } else if st.is_dir() {
                "dir"
            } else {
                "other"
            });
        }
        if lst.as_ref().is_some_and(|l| l.file_type().is_symlink()) {
            kind.push("link");
        }
        let (size, mtime) = match &st {
            Some(st) => {
                let t = st.mtime() as f64 + st.mtime_nsec() as f64 * 1e-9;
                (
                    st.len().to_string(),
                    ((t + utc_offset()) * 1e6).trunc().to_string(),
                )
            }
            None => (String::new(), String::new()),
        };
        let digest = match &st {
            Some(st) if md5 && st.is_file() => file_md5(&p).unwrap_or_default(),
            _ => String::new(),
        };
        out.push_str(&csv_row(&[
            rel.clone(),
            kind.join(" "),
            size,
            mtime,
            digest,
        ]));
    }
    out
}

/// Guild adds the local UTC offset to file times (0 on a UTC machine).
fn utc_offset() -> f64 {
    chrono::Local::now().offset().local_minus_utc() as f64
}

fn file_md5(p: &Path) -> Option<String> {
    use md5::{Digest, Md5};
    let mut f = std::fs::File::open(p).ok()?;
    let mut h = Md5::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(format!("{:x}", h.finalize()))
}

/// The files under `dir` as Python's `os.walk(followlinks=True)` sees
/// them, `.guild` left out at every level, each directory visited once:
/// (relative path, path). A directory is entered only when `enter(rel,
/// path)` says so.
fn walk(dir: &Path, enter: &mut dyn FnMut(&str, &Path) -> bool) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        if let Ok(real) = std::fs::canonicalize(&d) {
            if !seen.insert(real) {
                continue;
            }
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if path.is_dir() {
                if name != ".guild" && enter(&r, &path) {
                    stack.push((path, r));
                }
            } else {
                out.push((r, path));
            }
        }
    }
    out
}

/// Copy the source code files into `dest` (made only when there is one),
/// from the run's source code directory (`op.sourcecode.dest` for older
/// layouts). A file that cannot be copied is left out with a warning.
fn copy_sourcecode(ctx: &Context, run: &RunInfo, source: &BTreeSet<String>, dest: &Path) {
    let dest_attr = run.run.attr("op").and_then(|op| {
        op.get("sourcecode")?
            .get("dest")?
            .as_str()
            .filter(|d| !d.is_empty())
            .map(str::to_string)
    });
    let root = match dest_attr {
        Some(d) => guild_format::fsutil::normalize(&run.run.dir.join(d)),
        None => run.run.dir.clone(),
    };
    for rel in source {
        let src = run.run.dir.join(rel);
        let Ok(sub) = src.strip_prefix(&root) else {
            continue;
        };
        if !src.is_file() {
            continue;
        }
        let out = dest.join(sub);
        let copied = out
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::copy(&src, &out));
        if let Err(e) = copied {
            ctx.report.warning(&format!(
                "could not copy source code file {}: {e}",
                src.display()
            ));
        }
    }
}

/// A select rule of `publish: files:`: include (true) or exclude, and
/// fnmatch patterns.
type Rule = (bool, Vec<String>);

/// `publish: files:` as Guild coerces it: a string or a list of strings
/// selects only those; a list with mappings is a list of include/exclude
/// rules.
fn select_rules(v: &Value) -> Vec<Rule> {
    let pats = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Sequence(s) => s
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect(),
            // `{include: {text: pattern}}`: the type is not used here.
            Value::Mapping(m) => m
                .values()
                .flat_map(|p| match p {
                    Value::String(s) => vec![s.clone()],
                    Value::Sequence(s) => s
                        .iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    match v {
        Value::String(s) => vec![(false, vec!["*".into()]), (true, vec![s.clone()])],
        Value::Sequence(items) => {
            let mut rules: Vec<Rule> = items
                .iter()
                .flat_map(|i| match i {
                    Value::String(s) => vec![(true, vec![s.clone()])],
                    Value::Mapping(m) => m
                        .iter()
                        .filter_map(|(k, v)| match k.as_str() {
                            Some("include") => Some((true, pats(v))),
                            Some("exclude") => Some((false, pats(v))),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            if items.iter().all(Value::is_string) {
                rules.insert(0, (false, vec!["*".into()]));
            }
            rules
        }
        _ => Vec::new(),
    }
}

/// The last rule matching `rel` decides; None when none matches.
fn selected(rules: &[Rule], rel: &str) -> Option<bool> {
    rules
        .iter()
        .rev()
        .find(|(_, pats)| {
            pats.iter()
                .any(|p| guild_format::run::ls::glob_match(p, rel))
        })
        .map(|(inc, _)| *inc)
}

fn copy_runfiles(
    run: &RunInfo,
    req: &PublishRequest,
    rules: &[Rule],
    source: &BTreeSet<String>,
    dest: &Path,
) -> Result<()> {
    let mut enter = |rel: &str, path: &Path| {
        selected(rules, rel).unwrap_or(true) && (req.include_links || !path.is_symlink())
    };
    for (rel, path) in walk(&run.run.dir, &mut enter) {
        if !path.is_file() {
            continue;
        }
        let copy = selected(rules, &rel)
            .unwrap_or_else(|| !source.contains(&rel) && (req.include_links || !path.is_symlink()));
        if copy {
            let out = dest.join(&rel);
            if let Some(parent) = out.parent() {
                guild_format::fsutil::create_dir_all(parent)?;
            }
            std::fs::copy(&path, &out).ctx("copying run file", &path)?;
        }
    }
    Ok(())
}

/// The template's variables, read back from what was written: `run`,
/// `flags` (YAML), `scalars`, `sourcecode`, `runfiles` (CSV rows),
/// `output` (text, or None).
fn template_context(run_dest: &Path) -> minijinja::Value {
    let load = |name: &str| -> minijinja::Value {
        if let Ok(text) = std::fs::read_to_string(run_dest.join(format!("{name}.yml"))) {
            let v: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::Null);
            return minijinja::Value::from_serialize(&v);
        }
        if let Ok(text) = std::fs::read_to_string(run_dest.join(format!("{name}.csv"))) {
            return minijinja::Value::from_serialize(csv_rows(&text));
        }
        if let Ok(bytes) = std::fs::read(run_dest.join(format!("{name}.txt"))) {
            return minijinja::Value::from(String::from_utf8_lossy(&bytes).into_owned());
        }
        minijinja::Value::from(())
    };
    minijinja::context! {
        run => load("run"),
        flags => load("flags"),
        scalars => load("scalars"),
        sourcecode => load("sourcecode"),
        runfiles => load("runfiles"),
        output => load("output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_quoted_cells() {
        let row = vec![
            "a,b".to_string(),
            "say \"hi\"".into(),
            String::new(),
            "x".into(),
        ];
        let text = csv_row(&row);
        assert_eq!(text, "\"a,b\",\"say \"\"hi\"\"\",,x\n");
        assert_eq!(csv_rows(&text), vec![row]);
    }

    #[test]
    fn select_rules_coerce_as_guild() {
        let v: Value = serde_yaml_ng::from_str("['*.md', generated-1.txt]").unwrap();
        let r = select_rules(&v);
        assert_eq!(selected(&r, "a.md"), Some(true));
        assert_eq!(selected(&r, "generated-2.txt"), Some(false));
        let v: Value = serde_yaml_ng::from_str("[{exclude: '*-2.txt'}]").unwrap();
        let r = select_rules(&v);
        assert_eq!(selected(&r, "generated-2.txt"), Some(false));
        assert_eq!(selected(&r, "generated-1.txt"), None);
    }
}
