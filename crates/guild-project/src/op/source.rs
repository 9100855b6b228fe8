//! Source code snapshot: which project files are copied into a new run, with
//! Guild 0.9's default rules (text files, size and count caps, hidden dirs,
//! virtualenvs and build dirs skipped; `.gitignore`/`.guildignore` honoured in
//! a Git tree) plus `.gridignore`, and the manifest entries for the copies.

use guild_format::error::{IoContext, Result};
use guild_format::run::manifest::Entry;
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

const DEFAULT_MAX_SIZE: u64 = 1_048_576;
const DEFAULT_MAX_COUNT: usize = 100;

#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) root: PathBuf,
    pub(crate) files: Vec<PathBuf>, // relative to root, in copy order
    pub(crate) warnings: Vec<String>,
    /// With [`Options::trace`]: what was not selected (path relative to
    /// root, is a directory), in Guild's listing order.
    pub(crate) skipped: Vec<(PathBuf, bool)>,
    /// Selected with a Git tree's rules.
    pub(crate) git: bool,
    /// With [`Options::trace`] in a Git tree: the directories Git ignores
    /// as a whole.
    pub(crate) ignored_dirs: Vec<String>,
}

/// How to select: the operation's rules, whether Python's default
/// directory rules apply, and whether to record what is skipped (for
/// `--test-sourcecode`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options<'a> {
    pub(crate) rules: &'a [Rule],
    pub(crate) python: bool,
    pub(crate) trace: bool,
}

impl std::fmt::Display for Rule {
    /// As Guild prints a rule: `exclude dir build`, `include *.py, *.yml`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = vec![if self.include { "include" } else { "exclude" }.to_string()];
        match self.kind {
            Some(RuleType::Text) => parts.push("text".into()),
            Some(RuleType::Binary) => parts.push("binary".into()),
            Some(RuleType::Dir) => parts.push("dir".into()),
            None => {}
        }
        let pats: Vec<String> = self
            .patterns
            .iter()
            .map(|p| {
                if p.contains(' ') {
                    guild_format::run::opref::quote(p)
                } else {
                    p.clone()
                }
            })
            .collect();
        parts.push(pats.join(", "));
        write!(f, "{}", parts.join(" "))
    }
}

/// The rules a selection applied, as `--test-sourcecode` lists them.
pub(crate) fn rule_lines(snap: &Snapshot, opts: &Options) -> Vec<String> {
    let mut out: Vec<String> = if snap.git {
        let mut dirs = vec![".git".to_string()];
        dirs.extend(snap.ignored_dirs.iter().cloned());
        vec![
            "exclude dir .guild".into(),
            "exclude dir * containing .guild-nocopy".into(),
            format!("exclude dir {}", dirs.join(", ")),
            "gitignore + guildignore patterns".into(),
            "exclude .git*, .guildignore".into(),
        ]
    } else {
        let max_size = env_num("MAX_DEFAULT_SOURCECODE_FILE_SIZE", DEFAULT_MAX_SIZE);
        let max_count = env_num("MAX_DEFAULT_SOURCECODE_COUNT", DEFAULT_MAX_COUNT as u64);
        let mut v: Vec<String> = vec![
            "exclude dir .*".into(),
            "exclude dir * containing .guild-nocopy".into(),
            format!(
                "include text * size < {}, max match {max_count}",
                max_size + 1
            ),
        ];
        if opts.python {
            v.extend(
                [
                    "exclude dir __pycache__",
                    "exclude dir * containing bin/activate",
                    "exclude dir * containing Scripts/activate",
                    "exclude dir build",
                    "exclude dir dist",
                    "exclude dir *.egg-info",
                ]
                .map(String::from),
            );
        }
        v
    };
    out.extend(opts.rules.iter().map(|r| r.to_string()));
    out
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn in_git_tree(root: &Path) -> bool {
    root.ancestors().any(|a| a.join(".git").exists())
}

const TEXT_EXTS: &[&str] = &[
    "py", "sh", "txt", "md", "csv", "json", "yml", "yaml", "toml", "cfg", "ini", "rst", "r", "jl",
    "js", "ts", "c", "h", "cc", "cpp", "hpp", "rs", "go", "java", "scala", "lua", "pl", "rb",
    "sql", "html", "css", "xml", "ipynb", "bash", "zsh", "conf", "tsv",
];
const BINARY_EXTS: &[&str] = &[
    "pyc", "pyo", "so", "o", "a", "bin", "pkl", "pickle", "npy", "npz", "h5", "hdf5", "pt", "pth",
    "ckpt", "onnx", "pb", "zip", "gz", "tgz", "bz2", "xz", "7z", "tar", "rar", "jpg", "jpeg",
    "png", "gif", "bmp", "tiff", "ico", "webp", "mp3", "wav", "flac", "ogg", "mp4", "avi", "mov",
    "mkv", "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "exe", "dll", "whl", "egg",
    "parquet", "feather", "arrow", "db", "sqlite",
];

/// Guild's text test: known extensions, else a sniff of the first 1024 bytes.
pub(crate) fn is_text_file(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if let Some(e) = ext.as_deref() {
        if TEXT_EXTS.contains(&e) {
            return true;
        }
        if BINARY_EXTS.contains(&e) {
            return false;
        }
    }
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let n = match std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => n,
        Err(_) => return false,
    };
    let head = &buf[..n];
    if head.is_empty() {
        return true;
    }
    if head.contains(&0) {
        return false;
    }
    if std::str::from_utf8(head).is_ok() {
        return true;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x08))
        .count();
    control * 10 < head.len()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RuleType {
    Text,
    Binary,
    Dir,
}

/// One `sourcecode` select rule: the last rule matching a file decides.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) include: bool,
    pub(crate) patterns: Vec<String>,
    pub(crate) kind: Option<RuleType>,
}

/// Parsed `sourcecode` config of a model or operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceSpec {
    pub(crate) root: Option<String>,
    pub(crate) dest: Option<String>,
    pub(crate) disabled: bool,
    pub(crate) rules: Vec<Rule>,
}

impl SourceSpec {
    /// `no`/`[]` (disabled), a pattern, a list of patterns or rule maps, or
    /// a mapping with `root`, `dest` and `select`.
    pub(crate) fn from_config(v: &serde_yaml_ng::Value) -> std::result::Result<SourceSpec, String> {
        use serde_yaml_ng::Value;
        let mut spec = SourceSpec::default();
        match v {
            Value::Null | Value::Bool(true) => {}
            Value::Bool(false) => spec.disabled = true,
            Value::Mapping(m) if m.contains_key("include") || m.contains_key("exclude") => {
                spec.rules.push(rule_from_map(m)?);
            }
            Value::Mapping(m) => {
                for (k, val) in m {
                    match k.as_str().unwrap_or("") {
                        "root" => spec.root = val.as_str().map(String::from),
                        "dest" => spec.dest = val.as_str().map(String::from),
                        "digest" => {}
                        "select" => {
                            let inner = SourceSpec::from_config(val)?;
                            spec.disabled |= inner.disabled;
                            spec.rules.extend(inner.rules);
                        }
                        other => {
                            return Err(format!(
                                "unknown key '{other}' (expected root, dest, digest or select)"
                            ))
                        }
                    }
                }
            }
            Value::String(p) => {
                spec.rules.push(Rule::new(false, "*"));
                spec.rules.push(Rule::new(true, p));
            }
            Value::Sequence(items) if items.is_empty() => spec.disabled = true,
            Value::Sequence(items) => {
                if items.iter().all(|i| i.is_string()) {
                    spec.rules.push(Rule::new(false, "*"));
                }
                for item in items {
                    match item {
                        Value::String(p) => spec.rules.push(Rule::new(true, p)),
                        Value::Mapping(m) => spec.rules.push(rule_from_map(m)?),
                        other => {
                            return Err(format!(
                            "invalid rule {}: expected a pattern or {{include|exclude: PATTERN}}",
                            guild_format::run::yaml::flow(other)
                        ))
                        }
                    }
                }
            }
            other => {
                return Err(format!(
                    "invalid value {}",
                    guild_format::run::yaml::flow(other)
                ))
            }
        }
        Ok(spec)
    }
}

impl Rule {
    fn new(include: bool, pattern: &str) -> Rule {
        Rule {
            include,
            patterns: vec![pattern.to_string()],
            kind: None,
        }
    }

    /// Python `fnmatch` on the basename (pattern without `/`) or the
    /// relative path; a pattern naming a directory under `root` covers it.
    fn matches(&self, root: &Path, rel: &str, is_text: &mut dyn FnMut() -> bool) -> bool {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let hit = self.patterns.iter().any(|p| {
            let p = p.trim_end_matches('/');
            let (pat, subject) = if root.join(p).is_dir() {
                (format!("{p}/*"), rel)
            } else if p.contains('/') {
                (p.to_string(), rel)
            } else {
                (p.to_string(), base)
            };
            globset::GlobBuilder::new(&pat)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| g.compile_matcher().is_match(subject))
                .unwrap_or(false)
        });
        hit && match self.kind {
            None => true,
            Some(RuleType::Text) => is_text(),
            Some(RuleType::Binary) => !is_text(),
            Some(RuleType::Dir) => false,
        }
    }

    fn excludes_dir(&self, rel: &str) -> bool {
        if self.include || self.kind != Some(RuleType::Dir) {
            return false;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        self.patterns.iter().any(|p| {
            let subject = if p.contains('/') { rel } else { base };
            globset::Glob::new(p)
                .map(|g| g.compile_matcher().is_match(subject))
                .unwrap_or(false)
        })
    }
}

fn rule_from_map(m: &serde_yaml_ng::Mapping) -> std::result::Result<Rule, String> {
    use serde_yaml_ng::Value;
    let (include, spec) = match (m.get("include"), m.get("exclude")) {
        (Some(v), None) => (true, v),
        (None, Some(v)) => (false, v),
        _ => return Err("a rule needs exactly one of include or exclude".into()),
    };
    let mut kind = match m.get("type").and_then(Value::as_str) {
        None => None,
        Some("text") => Some(RuleType::Text),
        Some("binary") => Some(RuleType::Binary),
        Some("dir") => Some(RuleType::Dir),
        Some(t) => {
            return Err(format!(
                "invalid rule type '{t}': expected text, binary or dir"
            ))
        }
    };
    let pats = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Sequence(s) => s
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    };
    let patterns = match spec {
        Value::Mapping(inner) => {
            let mut out = Vec::new();
            for (k, v) in inner {
                match k.as_str().unwrap_or("") {
                    "dir" => kind = Some(RuleType::Dir),
                    "text" => kind = Some(RuleType::Text),
                    "binary" => kind = Some(RuleType::Binary),
                    other => {
                        return Err(format!(
                            "invalid rule key '{other}': expected dir, text or binary"
                        ))
                    }
                }
                out.extend(pats(v));
            }
            out
        }
        other => pats(other),
    };
    if patterns.is_empty() {
        return Err("a rule needs at least one pattern".into());
    }
    Ok(Rule {
        include,
        patterns,
        kind,
    })
}

fn python_excluded_dir(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == "__pycache__"
        || name == "build"
        || name == "dist"
        || name.ends_with(".egg-info")
        || path.join("bin").join("activate").exists()
        || path.join("Scripts").join("activate").exists()
}

/// What `--test-sourcecode` shows: where source code is copied from, the
/// rules, and each file and directory selected or skipped (absolute).
#[derive(Debug, Clone)]
pub struct Test {
    /// The directory source code is copied from.
    pub from: PathBuf,
    /// The select rules, one line each, as shown.
    pub rules: Vec<String>,
    /// Source code copy is disabled for the operation.
    pub disabled: bool,
    /// The files selected for copy.
    pub selected: Vec<PathBuf>,
    /// What is skipped: each path and whether it is a directory.
    pub skipped: Vec<(PathBuf, bool)>,
}

/// Select `op`'s source code as a run would, recording what is skipped.
pub fn test(op: &super::OpDef, exclude: &[PathBuf]) -> Test {
    let Some(root) = &op.source_root else {
        return Test {
            from: op.project_dir.clone(),
            rules: vec!["exclude *".into()],
            disabled: true,
            selected: Vec::new(),
            skipped: Vec::new(),
        };
    };
    let opts = Options {
        rules: &op.sourcecode_rules,
        python: op.python,
        trace: true,
    };
    let snap = select_with(root, exclude, &opts);
    Test {
        from: root.clone(),
        rules: rule_lines(&snap, &opts),
        disabled: false,
        selected: snap.files.iter().map(|f| root.join(f)).collect(),
        skipped: snap
            .skipped
            .iter()
            .map(|(p, d)| (root.join(p), *d))
            .collect(),
    }
}

type Shared<T> = std::sync::Arc<std::sync::Mutex<T>>;

/// The walk of a source snapshot, and what its filter collects on the
/// way: warnings about links leading outside the project, and (traced)
/// the entries the rules skipped and the directories walked.
struct Walk {
    builder: ignore::WalkBuilder,
    link_warnings: Shared<Vec<String>>,
    skipped: Shared<Vec<(PathBuf, bool)>>,
    visited: Shared<std::collections::HashSet<PathBuf>>,
}

/// The walk of `root` for a snapshot: Git's ignore files in a Git tree,
/// `.gridignore` (and `.guildignore`), the directory rules of `rules`,
/// hidden and Python-environment directories, `exclude`, and links only
/// inside the project.
fn walker(
    root: &Path,
    exclude: &[PathBuf],
    rules: &[Rule],
    python: bool,
    trace: bool,
    git: bool,
) -> Walk {
    let mut wb = ignore::WalkBuilder::new(root);
    wb.hidden(false)
        .follow_links(true)
        .git_ignore(git)
        .git_global(false)
        .git_exclude(git)
        .ignore(false)
        .parents(true)
        .add_custom_ignore_filename(".gridignore");
    if git {
        wb.add_custom_ignore_filename(".guildignore");
    }
    // Files of a directory first (sorted), then its subdirectories (sorted),
    // as Guild's os.walk consumes its file budget.
    wb.sort_by_file_path(|a, b| a.is_dir().cmp(&b.is_dir()).then_with(|| a.cmp(b)));
    let root_owned = root.to_path_buf();
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let excl = exclude.to_vec();
    let dir_rules: Vec<Rule> = rules.to_vec();
    let link_warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let lw = link_warnings.clone();
    // Traced: entries the rules skipped, and the directories walked.
    let skipped: Shared<Vec<(PathBuf, bool)>> = Default::default();
    let visited: Shared<std::collections::HashSet<PathBuf>> = Default::default();
    let (sk, vis) = (skipped.clone(), visited.clone());
    let note = move |rel: &Path, is_dir: bool| {
        if trace {
            if let Ok(mut v) = sk.lock() {
                v.push((rel.to_path_buf(), is_dir));
            }
        }
    };
    wb.filter_entry(move |e| {
        let p = e.path();
        if p == root_owned {
            return true;
        }
        // Links are followed only inside the project: a link to /etc or to
        // the project's parent would copy what is not the project's.
        if e.path_is_symlink() {
            let inside = p.canonicalize().is_ok_and(|t| t.starts_with(&real_root));
            if !inside {
                let rel = p.strip_prefix(&root_owned).unwrap_or(p);
                if let Ok(mut w) = lw.lock() {
                    w.push(format!(
                        "Skipping source code link {} because it leads outside the project (or nowhere).",
                        rel.display()
                    ));
                }
                return false;
            }
        }
        let rel_path = p.strip_prefix(&root_owned).unwrap_or(p);
        let rel = slash(rel_path);
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if dir_rules.iter().any(|r| r.excludes_dir(&rel)) {
            note(rel_path, is_dir);
            return false;
        }
        let name = e.file_name().to_string_lossy();
        if is_dir {
            let real = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            if excl.contains(&real) {
                return false;
            }
            // Hidden directories are skipped, but in a Git tree (where
            // Git's rules decide) only Git's and Guild's own.
            let hidden = if git {
                name == ".git" || name == ".guild"
            } else {
                name.starts_with('.')
            };
            if hidden
                || p.join(".guild-nocopy").exists()
                || (!git && python && python_excluded_dir(p))
            {
                note(rel_path, true);
                return false;
            }
            if trace {
                if let Ok(mut v) = vis.lock() {
                    v.insert(rel_path.to_path_buf());
                }
            }
        } else if git
            && (name.starts_with(".git") || name == ".guildignore" || name == ".gridignore")
        {
            note(rel_path, false);
            return false;
        }
        true
    });
    Walk {
        builder: wb,
        link_warnings,
        skipped,
        visited,
    }
}

/// The files to copy from `root`, skipping `exclude` (the guild home,
/// dependency sources) wherever they appear under it; `sourcecode` rules
/// are evaluated after the default rules.
pub(crate) fn select_with(root: &Path, exclude: &[PathBuf], opts: &Options) -> Snapshot {
    let rules = opts.rules;
    let python = opts.python;
    let trace = opts.trace;
    let git = in_git_tree(root);
    let max_size = env_num("MAX_DEFAULT_SOURCECODE_FILE_SIZE", DEFAULT_MAX_SIZE);
    let max_count = env_num("MAX_DEFAULT_SOURCECODE_COUNT", DEFAULT_MAX_COUNT as u64) as usize;
    let exclude: Vec<PathBuf> = exclude
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let Walk {
        builder: wb,
        link_warnings,
        skipped,
        visited,
    } = walker(root, &exclude, rules, python, trace, git);
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let mut count = 0usize;
    let mut capped = false;
    let mut total_bytes = 0u64;
    for entry in wb.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let looped = matches!(&e, ignore::Error::WithPath { err, .. } if matches!(**err, ignore::Error::Loop { .. }))
                    || matches!(&e, ignore::Error::Loop { .. });
                if looped {
                    warnings.push(format!("Skipping a directory loop in the source code: {e}"));
                } else {
                    warnings.push(format!("Skipping unreadable source code: {e}"));
                }
                continue;
            }
        };
        if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let p = entry.path();
        let real = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        if exclude.iter().any(|x| real == *x || real.starts_with(x)) {
            // A required project file is listed as skipped.
            if trace && exclude.contains(&real) {
                if let (Ok(mut v), Ok(rel)) = (skipped.lock(), p.strip_prefix(root)) {
                    v.push((rel.to_path_buf(), false));
                }
            }
            continue;
        }
        let rel = match p.strip_prefix(root) {
            Ok(r) => r.to_path_buf(),
            Err(_) => continue,
        };
        let rel_s = slash(&rel);
        let mut text_cache: Option<bool> = None;
        let mut is_text = || *text_cache.get_or_insert_with(|| is_text_file(p));
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let too_big = !git && size > max_size;
        let mut include = git || (!too_big && is_text());
        let mut by_default = true;
        for r in rules {
            if r.matches(root, &rel_s, &mut is_text) {
                include = r.include;
                by_default = false;
            }
        }
        if !include {
            if trace {
                if let Ok(mut v) = skipped.lock() {
                    v.push((rel.clone(), false));
                }
            }
            if by_default && too_big && is_text() {
                warnings.push(format!(
                    "Skipping source code file {} because it's too big. To control which files are copied, define 'sourcecode' for the operation in a Guild file.",
                    rel.display()
                ));
            }
            continue;
        }
        if by_default && !git {
            if count >= max_count {
                if !capped {
                    warnings.push(format!(
                        "Found more than {max_count} source code files but will only copy {max_count} as a safety measure. To control which files are copied, define 'sourcecode' for the operation in a Guild file."
                    ));
                    capped = true;
                }
                if trace {
                    if let Ok(mut v) = skipped.lock() {
                        v.push((rel.clone(), false));
                    }
                }
                continue;
            }
            count += 1;
        }
        total_bytes += size;
        files.push(rel);
        continue;
    }
    if let Ok(mut w) = link_warnings.lock() {
        let mut w = std::mem::take(&mut *w);
        w.append(&mut warnings);
        warnings = w;
    }
    if git && (files.len() > GIT_WARN_COUNT || total_bytes > GIT_WARN_BYTES) {
        warnings.push(format!(
            "The source code snapshot has {} files ({:.1} MB): everything in the Git tree that is not ignored is copied into each run. To narrow it, define 'sourcecode' for the operation in guild.yml or list what to leave out in .guildignore.",
            files.len(),
            total_bytes as f64 / 1e6
        ));
    }
    let mut skipped: Vec<(PathBuf, bool)> = skipped.lock().map(|v| v.clone()).unwrap_or_default();
    let mut ignored_dirs = Vec::new();
    if trace && git {
        let visited = visited.lock().map(|v| v.clone()).unwrap_or_default();
        let (more, dirs) = git_ignored(root, &files, &skipped, &visited, &exclude);
        skipped.extend(more);
        ignored_dirs = dirs;
    }
    // Guild's listing order: directory by directory (walk order), each
    // one's skipped subdirectories before its files.
    skipped.sort_by(|a, b| {
        let key = |(p, d): &(PathBuf, bool)| {
            (
                p.parent().map(Path::to_path_buf).unwrap_or_default(),
                !*d,
                p.file_name().map(|n| n.to_os_string()).unwrap_or_default(),
            )
        };
        key(a).cmp(&key(b))
    });
    Snapshot {
        root: root.to_path_buf(),
        files,
        warnings,
        skipped,
        git,
        ignored_dirs,
    }
}

/// In a Git tree, what Git's ignore rules left out (the walk never shows
/// it): directories never walked, files not selected, and directories
/// holding only ignored files, which Git reports as a whole. Returns the
/// skipped entries and the ignored directories (sorted).
fn git_ignored(
    root: &Path,
    selected: &[PathBuf],
    already: &[(PathBuf, bool)],
    visited: &std::collections::HashSet<PathBuf>,
    exclude: &[PathBuf],
) -> (Vec<(PathBuf, bool)>, Vec<String>) {
    let selected: std::collections::HashSet<&PathBuf> = selected.iter().collect();
    let noted: std::collections::HashSet<&PathBuf> = already.iter().map(|(p, _)| p).collect();
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    let mut it = walkdir::WalkDir::new(root).min_depth(1).into_iter();
    while let Some(Ok(e)) = it.next() {
        let Ok(rel) = e.path().strip_prefix(root) else {
            continue;
        };
        let real = e
            .path()
            .canonicalize()
            .unwrap_or_else(|_| e.path().to_path_buf());
        if exclude.iter().any(|x| real == *x || real.starts_with(x)) {
            if e.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        if e.file_type().is_dir() {
            if noted.contains(&rel.to_path_buf()) {
                it.skip_current_dir();
            } else if !visited.contains(rel) {
                out.push((rel.to_path_buf(), true));
                it.skip_current_dir();
            }
        } else if !selected.contains(&rel.to_path_buf()) && !noted.contains(&rel.to_path_buf()) {
            out.push((rel.to_path_buf(), false));
        }
    }
    // A walked directory with nothing selected and only ignored files in
    // it is ignored as a whole (the outermost one is listed).
    let mut whole: Vec<PathBuf> = Vec::new();
    let mut dirs: Vec<&PathBuf> = visited
        .iter()
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    dirs.sort();
    for d in dirs {
        if whole.iter().any(|w| d.starts_with(w)) {
            continue;
        }
        let has_ignored = out.iter().any(|(p, _)| p.starts_with(d));
        let clean = !selected.iter().any(|p| p.starts_with(d))
            && !already.iter().any(|(p, _)| p.starts_with(d));
        if has_ignored && clean {
            whole.push(d.clone());
        }
    }
    out.retain(|(p, _)| !whole.iter().any(|w| p.starts_with(w)));
    out.extend(whole.iter().map(|w| (w.clone(), true)));
    let mut ignored: Vec<String> = out
        .iter()
        .filter(|(_, is_dir)| *is_dir)
        .map(|(p, _)| slash(p))
        .collect();
    ignored.sort();
    (out, ignored)
}

/// In a Git tree every file not ignored is copied: past this many files or
/// bytes, say how to narrow the snapshot.
const GIT_WARN_COUNT: usize = 100;
const GIT_WARN_BYTES: u64 = 10_000_000;

/// Copy the selected files under `run_dir/dest`, returning manifest entries
/// and a warning for each file that could not be read (skipped).
pub(crate) fn copy(
    snap: &Snapshot,
    run_dir: &Path,
    dest: &str,
) -> Result<(Vec<Entry>, Vec<String>)> {
    let mut entries = Vec::with_capacity(snap.files.len());
    let mut warnings = Vec::new();
    for rel in &snap.files {
        let src = snap.root.join(rel);
        let run_rel = if dest == "." || dest.is_empty() {
            rel.clone()
        } else {
            Path::new(dest).join(rel)
        };
        let target = run_dir.join(&run_rel);
        if let Some(parent) = target.parent() {
            guild_format::fsutil::create_dir_all(parent)?;
        }
        // Opened first: an unreadable source file is skipped, not fatal.
        let mut from = match std::fs::File::open(&src) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(format!(
                    "Skipping source code file {} because it cannot be read: {e}",
                    rel.display()
                ));
                continue;
            }
        };
        let mut to = std::fs::File::create(&target).ctx("creating", &target)?;
        std::io::copy(&mut from, &mut to).ctx("copying source file", &src)?;
        drop(to);
        if let Ok(meta) = from.metadata() {
            let _ = std::fs::set_permissions(&target, meta.permissions());
        }
        let data = std::fs::read(&target).ctx("reading", &target)?;
        let sha = format!("{:x}", Sha1::digest(&data));
        entries.push(Entry::source(&slash(&run_rel), &sha, &slash(rel)));
    }
    Ok((entries, warnings))
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(root: &Path, exclude: &[PathBuf]) -> Snapshot {
        select_with(
            root,
            exclude,
            &Options {
                python: true,
                ..Options::default()
            },
        )
    }
    use std::fs;

    fn names(s: &Snapshot) -> Vec<String> {
        s.files.iter().map(|f| slash(f)).collect()
    }

    #[test]
    fn default_rules() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("train.py"), "x=1\n").unwrap();
        fs::write(r.join(".hidden_file"), "a").unwrap();
        fs::create_dir_all(r.join(".hid")).unwrap();
        fs::write(r.join(".hid/x.py"), "a").unwrap();
        fs::create_dir_all(r.join("venv/bin")).unwrap();
        fs::write(r.join("venv/bin/activate"), "a").unwrap();
        fs::create_dir_all(r.join("__pycache__")).unwrap();
        fs::write(r.join("__pycache__/m.py"), "a").unwrap();
        fs::write(r.join("model.bin"), [0u8, 1, 2]).unwrap();
        fs::write(r.join("blob"), [0u8, 159, 146, 150]).unwrap();
        fs::write(r.join("big.txt"), vec![b'a'; 1_048_577]).unwrap();
        fs::create_dir_all(r.join("nocopy")).unwrap();
        fs::write(r.join("nocopy/.guild-nocopy"), "").unwrap();
        fs::write(r.join("nocopy/a.py"), "").unwrap();
        fs::create_dir_all(r.join("sub")).unwrap();
        fs::write(r.join("sub/util.py"), "").unwrap();
        fs::write(r.join("skipme.py"), "").unwrap();
        fs::write(r.join(".gridignore"), "skipme.py\n").unwrap();
        fs::write(r.join(".gitignore"), "sub/\n").unwrap(); // not a git tree: ignored
        let s = select(r, &[]);
        assert_eq!(
            names(&s),
            [
                ".gitignore",
                ".gridignore",
                ".hidden_file",
                "train.py",
                "sub/util.py"
            ]
        );
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn count_cap_and_order() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("many")).unwrap();
        for i in 0..150 {
            fs::write(r.join(format!("many/f{i:03}.txt")), "x").unwrap();
        }
        fs::write(r.join("z.txt"), "x").unwrap();
        let s = select(r, &[]);
        assert_eq!(s.files.len(), 100);
        assert_eq!(names(&s)[0], "z.txt");
        assert!(s.warnings[0].contains("more than 100"));
    }

    #[test]
    fn git_tree_honours_gitignore_and_guildignore() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join(".git")).unwrap();
        fs::write(r.join(".gitignore"), "data/\n*.log\n").unwrap();
        fs::write(r.join(".guildignore"), "secret.py\n").unwrap();
        fs::create_dir_all(r.join("data")).unwrap();
        fs::write(r.join("data/x.txt"), "x").unwrap();
        fs::write(r.join("a.log"), "x").unwrap();
        fs::write(r.join("secret.py"), "x").unwrap();
        fs::write(r.join("train.py"), "x").unwrap();
        fs::write(r.join("weights.bin"), vec![0u8; 2_000_000]).unwrap();
        let s = select(r, &[]);
        assert_eq!(names(&s), ["train.py", "weights.bin"]);
    }

    #[test]
    fn copies_with_sha1_and_excludes_home() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("proj");
        fs::create_dir_all(r.join("gh/runs")).unwrap();
        fs::write(r.join("gh/runs/x.txt"), "x").unwrap();
        fs::write(r.join("a.py"), "print(1)\n").unwrap();
        let s = select(&r, &[r.join("gh")]);
        assert_eq!(names(&s), ["a.py"]);
        let run = d.path().join("run");
        fs::create_dir_all(&run).unwrap();
        let (e, _) = copy(&s, &run, "code").unwrap();
        assert_eq!(e[0].fields[0], "code/a.py");
        assert_eq!(e[0].fields[1], format!("{:x}", Sha1::digest(b"print(1)\n")));
        assert!(run.join("code/a.py").exists());
    }
}
