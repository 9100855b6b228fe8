//! `guild merge`: copy a run's files back into a project directory, as
//! Guild 0.9's `run_merge` does. [`plan`] decides, file by file, what is
//! copied and what is skipped and why, and refuses to replace changed
//! files (see [`Replace`]); [`apply`] copies.

use super::{Context, RunInfo, Selection};
use guild_format::error::{Error, IoContext, Result};
use guild_format::run::manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// When a merge may overwrite a file of the target that differs from the
/// run's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Replace {
    /// Only files committed or staged in the target's git work tree (and
    /// so recoverable); in a directory that is not a work tree, none.
    #[default]
    Committed,
    /// Any file (`--replace`).
    Always,
    /// None, even committed ones (`--no-replace`).
    Never,
}

/// What to merge and where.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    pub sel: Selection,
    /// As given (relative to the command's directory); without it the
    /// command's directory, which must be the run's project.
    pub target_dir: Option<PathBuf>,
    /// Source code only (and no dependencies).
    pub sourcecode: bool,
    /// Generated files too.
    pub all: bool,
    pub skip_sourcecode: bool,
    pub skip_deps: bool,
    /// fnmatch patterns (`*` crosses `/`) on the target path.
    pub exclude: Vec<String>,
    pub replace: Replace,
}

/// What kind of run file a merged file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Source code (manifest `s`).
    Source,
    /// A project-local dependency (manifest `d` with a `file:` source).
    Dep,
    /// Anything else the run has (generated files).
    Other,
}

/// A file the merge copies: `run_path` of the run to `target_path` of the
/// target directory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToCopy {
    pub kind: FileKind,
    pub run_path: String,
    pub target_path: String,
}

/// Why a file is not copied (Guild's wording in `reason`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The target path when there is one, else the run path.
    pub path: String,
    pub reason: String,
}

/// A merge, decided.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergePlan {
    pub run: RunInfo,
    /// Where the files go, as given (or `.`).
    pub target_dir: PathBuf,
    /// `the current directory` or `'<target as given>'`.
    pub target_desc: String,
    /// Sorted by target path.
    pub to_copy: Vec<ToCopy>,
    /// Sorted by path.
    pub skipped: Vec<Skipped>,
}

/// The run, the target and the plan, with every check Guild makes before
/// it copies: the project check, the manifest, and the replacement check
/// of [`Replace`]. Nothing is written.
pub fn plan(ctx: &Context, req: &MergeRequest) -> Result<MergePlan> {
    if req.sourcecode && req.skip_sourcecode {
        return Err(Error::user(
            "--sourcecode and --skip-sourcecode cannot both be specified\nTry 'guild merge --help' for more information.",
        ));
    }
    let run = one_run(ctx, &req.sel)?;
    let (target_dir, target) = match &req.target_dir {
        Some(t) => (t.clone(), ctx.cwd.join(t)),
        None => {
            check_project(ctx, &run)?;
            (PathBuf::from("."), ctx.cwd.clone())
        }
    };
    let target_desc =
        if guild_format::fsutil::normalize(&target) == guild_format::fsutil::normalize(&ctx.cwd) {
            "the current directory".to_string()
        } else {
            format!("'{}'", target_dir.display())
        };
    let rules = Rules {
        skip_sourcecode: req.skip_sourcecode,
        skip_deps: req.skip_deps || req.sourcecode,
        all: req.all,
        exclude: &req.exclude,
    };
    let (to_copy, skipped) = classify(&run, &target, &rules)?;
    let plan = MergePlan {
        run,
        target_dir,
        target_desc,
        to_copy,
        skipped,
    };
    if req.replace != Replace::Always && target.is_dir() {
        check_replaced(&plan, &target, req.replace)?;
    }
    Ok(plan)
}

/// Copy the plan's files, in order, telling `each` the target path of
/// each before it is copied. Content and permission bits are copied, links
/// followed, and parent directories made.
pub fn apply(ctx: &Context, plan: &MergePlan, each: &mut dyn FnMut(&str)) -> Result<()> {
    let target = ctx.cwd.join(&plan.target_dir);
    for f in &plan.to_copy {
        each(&f.target_path);
        let src = plan.run.run.dir.join(&f.run_path);
        let dest = target.join(&f.target_path);
        if guild_format::fsutil::same_file(&src, &dest) {
            continue;
        }
        if let Some(parent) = dest.parent() {
            guild_format::fsutil::create_dir_all(parent)?;
        }
        copy_file(&src, &dest)?;
    }
    Ok(())
}

/// Copy through a temporary file beside `dest` and rename it into place,
/// so that an interrupted merge never leaves a half-written project file.
fn copy_file(src: &Path, dest: &Path) -> Result<()> {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dest.with_file_name(format!(
        ".{}.guild-merge-{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let copied = std::fs::copy(src, &tmp)
        .ctx("copying run file", src)
        .and_then(|_| std::fs::rename(&tmp, dest).ctx("replacing", dest));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

/// Filters first (none left: "no matching runs"), then the one run the
/// spec names (default: the latest).
fn one_run(ctx: &Context, sel: &Selection) -> Result<RunInfo> {
    if ctx.listing(&sel.filters, sel.deleted)?.is_empty() {
        return Err(Error::user("no matching runs"));
    }
    super::runs::one(ctx, sel)
}

/// Without `--target-dir`, the run must come from the project in the
/// command's directory.
fn check_project(ctx: &Context, run: &RunInfo) -> Result<()> {
    let id = &run.run.id;
    let opref = run.opref.as_deref().cloned().unwrap_or_default();
    if !matches!(opref.pkg_type.as_str(), "guildfile" | "script") {
        return Err(Error::user(format!(
            "run {id} does not originate from a project - cannot merge to the current directory by default\nUse --target-dir to skip this check or try 'guild merge --help' for more information."
        )));
    }
    let project = match opref.pkg_type.as_str() {
        "script" => Some(PathBuf::from(&opref.pkg_name)).filter(|p| !p.as_os_str().is_empty()),
        _ => {
            let gf = run.run.dir.join(&opref.pkg_name);
            (!opref.pkg_name.is_empty() && gf.is_file())
                .then(|| gf.parent().map(Path::to_path_buf))
                .flatten()
        }
    };
    let Some(project) = project else {
        return Err(Error::user(format!(
            "unexpected missing project directory for run {id} ({})\nSkip this check by using --target-dir",
            opref.format()
        )));
    };
    let real =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| guild_format::fsutil::normalize(p));
    if real(&ctx.cwd) != real(&project) {
        return Err(Error::user(format!(
            "run {id} was created from a different project ({}) - cannot merge to the current directory by default\nUse '--target-dir .' to override this check or try 'guild merge --help' for more information.",
            guild_format::fsutil::tilde(&guild_format::fsutil::normalize(&project))
        )));
    }
    Ok(())
}

struct Rules<'a> {
    skip_sourcecode: bool,
    skip_deps: bool,
    all: bool,
    exclude: &'a [String],
}

impl Rules<'_> {
    fn excluded(&self, path: &str) -> bool {
        self.exclude
            .iter()
            .any(|p| guild_format::run::ls::glob_match(p, path))
    }
}

/// Every file of the run (links followed), copied or skipped.
fn classify(run: &RunInfo, target: &Path, rules: &Rules) -> Result<(Vec<ToCopy>, Vec<Skipped>)> {
    let dir = &run.run.dir;
    let manifest_path = run.run.guild_path("manifest");
    if !manifest_path.is_file() {
        return Err(Error::user(format!(
            "run manifest does not exist for run {}",
            run.run.id
        )));
    }
    let entries: BTreeMap<String, manifest::Entry> = manifest::read(&manifest_path)?
        .into_iter()
        .filter(|e| (3..=4).contains(&e.fields.len()))
        .filter_map(|e| Some((e.run_rel()?.to_string(), e)))
        .collect();
    let unchanged = |run_path: &str, target_path: &str| {
        same_bytes(&dir.join(run_path), &target.join(target_path))
    };
    let mut to_copy = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |path: &str, reason: &str| {
        skipped.push(Skipped {
            path: path.to_string(),
            reason: reason.to_string(),
        })
    };
    for path in run_files(dir) {
        let decide = |kind: FileKind, tpath: &str| -> std::result::Result<ToCopy, &'static str> {
            if rules.excluded(tpath) {
                Err("excluded")
            } else if unchanged(&path, tpath) {
                Err("unchanged")
            } else {
                Ok(ToCopy {
                    kind,
                    run_path: path.clone(),
                    target_path: tpath.to_string(),
                })
            }
        };
        let decided = match entries.get(&path) {
            Some(e) if e.kind == "s" => {
                let tpath = &e.fields[2];
                if rules.skip_sourcecode {
                    Err((tpath.clone(), "skipped source code".to_string()))
                } else {
                    decide(FileKind::Source, tpath).map_err(|r| (tpath.clone(), r.to_string()))
                }
            }
            Some(e) if e.kind == "d" => {
                let local = e.fields[2]
                    .strip_prefix("file:")
                    .filter(|_| e.fields.len() == 3);
                match local {
                    _ if rules.skip_deps => Err((
                        local.unwrap_or(&path).to_string(),
                        "skipped dependency".to_string(),
                    )),
                    Some(p) => decide(FileKind::Dep, p).map_err(|r| (p.to_string(), r.to_string())),
                    None => Err((path.clone(), "non-project dependency".to_string())),
                }
            }
            Some(e) => Err((e.fields[2].clone(), format!("unknown (type={})", e.kind))),
            None if path.starts_with(".guild") => continue,
            None if !rules.all => Err((path.clone(), "non-project file".to_string())),
            None => decide(FileKind::Other, &path).map_err(|r| (path.clone(), r.to_string())),
        };
        match decided {
            Ok(c) => to_copy.push(c),
            Err((p, reason)) => skip(&p, &reason),
        }
    }
    // A dependency or generated file wins over the source snapshot of the
    // same path.
    let nonsource: BTreeSet<String> = to_copy
        .iter()
        .filter(|c| c.kind != FileKind::Source)
        .map(|c| c.target_path.clone())
        .collect();
    to_copy.retain(|c| c.kind != FileKind::Source || !nonsource.contains(&c.target_path));
    to_copy.sort_by(|a, b| a.target_path.cmp(&b.target_path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((to_copy, skipped))
}

/// The run's regular files (links followed, loops skipped), relative with
/// `/`, sorted.
fn run_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .min_depth(1)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(dir).ok()?;
            Some(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            )
        })
        .collect();
    out.sort();
    out
}

/// Whether `b` is a regular file with the same bytes as `a`.
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if !mb.is_file() || ma.len() != mb.len() {
        return false;
    }
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let Ok(n) = fa.read(&mut ba) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Refuse to replace files that differ from the run's copies, unless git
/// holds them (committed or staged) and `replace` allows that.
fn check_replaced(plan: &MergePlan, target: &Path, replace: Replace) -> Result<()> {
    let replacing: Vec<&str> = plan
        .to_copy
        .iter()
        .map(|c| c.target_path.as_str())
        .filter(|p| target.join(p).exists())
        .collect();
    if replacing.is_empty() {
        return Ok(());
    }
    let would_replace = |paths: &[&str]| {
        Error::user(format!(
            "files in {} would be replaced:\n{}\nUse --replace to skip this check.",
            plan.target_desc,
            listed(paths)
        ))
    };
    let git = if replace == Replace::Never {
        None
    } else {
        GitState::read(target)
    };
    let Some(git) = git else {
        return Err(would_replace(&replacing));
    };
    if replacing.iter().any(|p| !git.known.contains(*p)) {
        return Err(would_replace(&replacing));
    }
    let unstaged: Vec<&str> = replacing
        .iter()
        .copied()
        .filter(|p| git.unstaged(p))
        .collect();
    if !unstaged.is_empty() {
        return Err(Error::user(format!(
            "files in {} have unstaged changes:\n{}\nStage or stash these changes or use --replace to skip this check.",
            plan.target_desc,
            listed(&unstaged)
        )));
    }
    Ok(())
}

fn listed(paths: &[&str]) -> String {
    let mut paths = paths.to_vec();
    paths.sort();
    paths
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What git says of a work tree: its status lines and the files it knows
/// (tracked, or untracked and not ignored).
struct GitState {
    /// (the second status letter, path), in `git status` order.
    status: Vec<(char, String)>,
    known: BTreeSet<String>,
}

impl GitState {
    /// None when `dir` is not in a git work tree (or git is missing).
    fn read(dir: &Path) -> Option<GitState> {
        let git = |args: &[&str]| -> Option<String> {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let status = git(&["status", "--short", "--renames", "."])?
            .lines()
            .filter(|l| l.len() > 3)
            .map(|l| {
                let y = l.chars().nth(1).unwrap_or(' ');
                let path = &l[3..];
                let path = path.rsplit_once(" -> ").map_or(path, |(_, b)| b);
                (y, unquote(path))
            })
            .collect();
        let mut known: BTreeSet<String> = git(&["ls-files"])?.lines().map(unquote).collect();
        known.extend(
            git(&["ls-files", "--other", "--exclude-standard"])?
                .lines()
                .map(unquote),
        );
        Some(GitState { status, known })
    }

    /// Whether the first status entry covering `path` has a change not in
    /// the index (untracked ones included).
    fn unstaged(&self, path: &str) -> bool {
        self.status
            .iter()
            .find(|(_, p)| path.starts_with(p.as_str()))
            .is_some_and(|(y, _)| *y != ' ')
    }
}

/// A path as git prints it: C-quoted when it has unusual characters.
fn unquote(p: &str) -> String {
    match p.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_status_lines_unquote_and_rename() {
        assert_eq!(unquote("\"a b\\\"c\""), "a b\"c");
        assert_eq!(unquote("plain"), "plain");
        let g = GitState {
            status: vec![
                ('M', "train.py".into()),
                (' ', "data.txt".into()),
                ('?', "out/".into()),
            ],
            known: BTreeSet::new(),
        };
        assert!(g.unstaged("train.py"));
        assert!(!g.unstaged("data.txt"));
        assert!(g.unstaged("out/result.txt"));
        assert!(!g.unstaged("other.py"));
    }

    #[test]
    fn same_bytes_compares_content_not_just_size() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
        std::fs::write(&a, "hello").unwrap();
        std::fs::write(&b, "hello").unwrap();
        std::fs::write(&c, "hellp").unwrap();
        assert!(same_bytes(&a, &b));
        assert!(!same_bytes(&a, &c));
        assert!(!same_bytes(&a, &d.path().join("missing")));
        assert!(!same_bytes(&a, d.path()));
    }
}
