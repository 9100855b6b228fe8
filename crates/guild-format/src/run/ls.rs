//! `guild ls`: a run's files as Guild 0.9 lists them: hidden names only
//! with `-a`, `-p PATH` (a path or a `*`/`?` pattern), `-s`/`-d`/`-g` by
//! manifest type (generated = no manifest entry), directories with `/`,
//! in natural order.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn split(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|p| !p.is_empty()).collect()
}

/// Which paths are listed (before the manifest types).
pub enum Filter {
    /// Everything but hidden names (unless `all`).
    Default {
        /// List hidden names too (`-a`).
        all: bool,
    },
    /// `-p` with `*` or `?`: each part of the path matches a part of the
    /// pattern.
    Pattern {
        /// The pattern's parts, split at `/`.
        parts: Vec<String>,
        /// List hidden names too (`-a`).
        all: bool,
    },
    /// `-p PATH`: PATH and what is under it.
    Path {
        /// The path's parts, split at `/`.
        parts: Vec<String>,
        /// List hidden names too (`-a`).
        all: bool,
    },
}

impl Filter {
    /// The filter for `-p PATH` (None: no `-p`) and `-a` (`all`).
    pub fn new(path: Option<&str>, all: bool) -> Filter {
        match path {
            Some(p) if p.contains(['*', '?']) => Filter::Pattern {
                parts: split(p).into_iter().map(String::from).collect(),
                all,
            },
            Some(p) => Filter::Path {
                parts: split(p).into_iter().map(String::from).collect(),
                all,
            },
            None => Filter::Default { all },
        }
    }

    fn matches(&self, rel: &str, force_all: bool) -> bool {
        let parts = split(rel);
        match self {
            Filter::Default { all } => {
                force_all || *all || !hidden(parts.last().copied().unwrap_or(""))
            }
            Filter::Pattern { parts: pat, all } => {
                if parts.len() < pat.len() {
                    return false;
                }
                for (i, p) in pat.iter().enumerate() {
                    if !glob_match(p, parts[i]) {
                        return false;
                    }
                }
                if !(*all || force_all) {
                    for (i, part) in parts.iter().enumerate() {
                        if hidden(part) && !pat.get(i).is_some_and(|p| hidden(p)) {
                            return false;
                        }
                    }
                }
                true
            }
            Filter::Path { parts: want, all } => {
                if !(*all || force_all) && hidden(parts.last().copied().unwrap_or("")) {
                    return parts.iter().copied().eq(want.iter().map(String::as_str));
                }
                is_subpath(want, &parts)
            }
        }
    }

    /// Whether to walk into directory `rel` (named `name`) that did not
    /// match.
    fn descend(&self, name: &str, rel: &str) -> bool {
        let parts = split(rel);
        match self {
            Filter::Default { all } => *all || !hidden(name),
            Filter::Pattern { parts: pat, all } => {
                if *all || !hidden(name) {
                    return true;
                }
                pat.len() < parts.len() || hidden(&pat[parts.len() - 1])
            }
            Filter::Path { parts: want, .. } => {
                let p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
                is_subpath(&p, &want.iter().map(String::as_str).collect::<Vec<_>>())
            }
        }
    }
}

fn is_subpath(sub: &[String], path: &[&str]) -> bool {
    path.len() >= sub.len() && sub.iter().zip(path).all(|(a, b)| a == b)
}

/// Shell-style `*`, `?` and `[...]` as Python's fnmatch.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let mut re = String::from("^");
    let mut chars = pat.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    class.push(d);
                }
                let class = match class.strip_prefix('!') {
                    Some(rest) => format!("^{rest}"),
                    None => class,
                };
                re.push_str(&format!("[{}]", class.replace('\\', "\\\\")));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(s))
}

/// Natural order as Python's natsort: runs of digits compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut digit = None;
        for (i, c) in s.char_indices() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|x| x != d) {
                out.push((digit.unwrap_or(false), &s[start..i]));
                start = i;
            }
            digit = Some(d);
        }
        if start < s.len() {
            out.push((digit.unwrap_or(false), &s[start..]));
        }
        // natsort's key starts with text (empty when s starts with a digit).
        if out.first().is_some_and(|(d, _)| *d) {
            out.insert(0, (false, ""));
        }
        out
    }
    let (x, y) = (chunks(a), chunks(b));
    for (p, q) in x.iter().zip(y.iter()) {
        let o = match (p, q) {
            ((true, m), (true, n)) => {
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                m.len().cmp(&n.len()).then_with(|| m.cmp(n))
            }
            ((_, m), (_, n)) => m.cmp(n),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// Manifest types by run-relative path.
fn manifest_index(dir: &Path) -> HashMap<String, String> {
    crate::run::manifest::read(&dir.join(".guild/manifest"))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let p = e.fields.first()?.trim_end_matches('/').to_string();
            Some((p, e.kind))
        })
        .collect()
}

fn entry_type(index: &HashMap<String, String>, rel: &str) -> Option<String> {
    if let Some(t) = index.get(rel) {
        return Some(t.clone());
    }
    let mut p = Path::new(rel).parent();
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
        if let Some(t) = index.get(d.to_string_lossy().as_ref()) {
            return Some(t.clone());
        }
        p = d.parent();
    }
    None
}

/// The listed paths under `dir` (relative, with whether each is a
/// directory), in natural order. `types` limits to manifest types
/// (`s`, `d`, `g`).
pub fn list(
    dir: &Path,
    filter: &Filter,
    types: &[&str],
    follow_links: bool,
) -> Result<Vec<(String, bool)>> {
    let index = (!types.is_empty()).then(|| manifest_index(dir));
    // Directories that hold manifest entries (walked for -s/-d/-g).
    let index_dirs: HashSet<String> = index
        .iter()
        .flat_map(|m| m.keys())
        .flat_map(|k| {
            let mut v = Vec::new();
            let mut p = Path::new(k).parent();
            while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
                v.push(d.to_string_lossy().into_owned());
                p = d.parent();
            }
            v
        })
        .collect();
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut stack: Vec<String> = vec![String::new()];
    while let Some(rel_dir) = stack.pop() {
        let path = dir.join(&rel_dir);
        let rd = match std::fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if rel_dir.is_empty() => return Err(Error::io("listing", &path, e)),
            Err(_) => continue,
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name.clone()
            } else {
                format!("{rel_dir}/{name}")
            };
            if crate::run::is_private_file(&rel) {
                continue;
            }
            let ft = e.file_type().ok();
            let is_link = ft.is_some_and(|t| t.is_symlink());
            let is_dir = e.path().is_dir();
            let walk_into = is_dir && (!is_link || follow_links);
            let matched = match &index {
                None => filter.matches(&rel, false),
                Some(idx) => {
                    // A directory is listed only for an entry of its own
                    // (a linked directory dependency), not its parent's.
                    let t = match entry_type(idx, &rel) {
                        _ if is_dir => idx.get(&rel).cloned(),
                        Some(t) => Some(t),
                        None if rel == ".guild" || rel.starts_with(".guild/") => None,
                        None => Some("g".to_string()),
                    };
                    t.is_some_and(|t| types.contains(&t.as_str())) && filter.matches(&rel, true)
                }
            };
            if matched {
                out.push((rel.clone(), is_dir));
                if walk_into {
                    stack.push(rel);
                }
            } else if walk_into {
                let descend = match &index {
                    None => filter.descend(&name, &rel),
                    // Guild walks every directory with files, but .guild.
                    Some(_) => {
                        index_dirs.contains(&rel)
                            || (rel != ".guild" && !rel.starts_with(".guild/"))
                    }
                };
                if descend {
                    stack.push(rel);
                }
            }
        }
    }
    out.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["a10", "a2", "b", "a1/x", "10", "9", "A"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["9", "10", "A", "a1/x", "a2", "a10", "b"]);
    }

    #[test]
    fn filters() {
        let d = Filter::new(None, false);
        assert!(d.matches("a/b", false));
        assert!(!d.matches("a/.b", false));
        let p = Filter::new(Some(".guild/attrs"), false);
        assert!(p.matches(".guild/attrs/cmd", false));
        assert!(!p.matches("a", false));
        let g = Filter::new(Some("*.txt"), false);
        assert!(g.matches("a.txt", false));
        assert!(!g.matches(".a.txt", false));
        assert!(glob_match("f[0-9].txt", "f1.txt"));
    }
}
