//! Finding runs: list a runs directory (read in parallel), filter as
//! Guild 0.9's `runs` options do, sort newest first, and select by index,
//! `A:B` range or id prefix.

pub mod started;

use crate::error::{Error, Result};
use crate::run::{Opref, Run, RunStatus, Status};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run: Run,
    pub opref: Option<Opref>,
    pub started: Option<i64>,
    pub initialized: Option<i64>,
    pub stopped: Option<i64>,
    pub exit_status: Option<i64>,
    pub status: RunStatus,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub marked: bool,
}

impl RunInfo {
    pub fn load(run: Run) -> RunInfo {
        let exit_status = run.attr_i64("exit_status");
        let status = crate::run::derive_status(&run, || exit_status);
        let tags = match run.attr("tags") {
            Some(serde_yaml_ng::Value::Sequence(t)) => {
                t.iter().map(crate::op::flags::encode_display).collect()
            }
            _ => Vec::new(),
        };
        RunInfo {
            opref: run.opref().ok(),
            started: run.attr_i64("started"),
            initialized: run.attr_i64("initialized"),
            stopped: run.attr_i64("stopped"),
            exit_status,
            status,
            label: run.attr_str("label"),
            tags,
            marked: run
                .attr("marked")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            run,
        }
    }

    pub fn timestamp(&self) -> Option<i64> {
        self.started.or(self.initialized)
    }

    pub fn op_desc(&self) -> String {
        let base = self
            .opref
            .as_ref()
            .map(Opref::op_desc)
            .unwrap_or_else(|| "?".into());
        if self.run.is_batch() {
            let proto = Run::at(self.run.guild_path("proto"));
            let proto_op = proto.opref().map(|o| o.op_desc()).unwrap_or_default();
            if base.starts_with('+') {
                return format!("{proto_op}{base}");
            }
            return format!("{proto_op}+{base}");
        }
        base
    }
}

/// All runs in `dir` (`runs/` or `trash/runs/`), newest first.
pub fn list_dir(dir: &Path) -> Vec<RunInfo> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let dirs: Vec<std::path::PathBuf> = rd.flatten().map(|e| e.path()).collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = dirs.len().div_ceil(threads).max(1);
    let mut runs: Vec<RunInfo> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .filter(|p| crate::run::is_run_dir(p))
                        .map(|p| RunInfo::load(Run::at(p.clone())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    sort(&mut runs);
    runs
}

pub fn sort(runs: &mut [RunInfo]) {
    runs.sort_by(|a, b| match (a.timestamp(), b.timestamp()) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.run.id.cmp(&b.run.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.run.id.cmp(&b.run.id),
    });
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub ops: Vec<String>,
    pub labels: Vec<String>,
    pub unlabeled: bool,
    pub tags: Vec<String>,
    pub marked: bool,
    pub unmarked: bool,
    pub started: Option<String>,
    pub digest: Option<String>,
    pub status: Vec<Status>,
    pub not_status: Vec<Status>,
}

impl Filters {
    pub fn apply(&self, runs: Vec<RunInfo>) -> Result<Vec<RunInfo>> {
        let range = match &self.started {
            Some(s) => Some(started::parse_range(s, chrono::Local::now().naive_local())?),
            None => None,
        };
        Ok(runs
            .into_iter()
            .filter(|r| self.matches(r, range.as_ref()))
            .collect())
    }

    fn matches(&self, r: &RunInfo, range: Option<&started::Range>) -> bool {
        if !self.ops.is_empty() && !self.ops.iter().any(|o| op_matches(o, &r.op_desc())) {
            return false;
        }
        let label = r.label.as_deref().unwrap_or("");
        if !self.labels.is_empty()
            && !self.labels.iter().any(|l| {
                if l == "-" {
                    label.is_empty()
                } else {
                    label.contains(l.as_str())
                }
            })
        {
            return false;
        }
        if self.unlabeled && !label.is_empty() {
            return false;
        }
        if !self.tags.is_empty() && !self.tags.iter().any(|t| r.tags.contains(t)) {
            return false;
        }
        if self.marked && !r.marked || self.unmarked && r.marked {
            return false;
        }
        if let Some(d) = &self.digest {
            match r.run.attr_str("sourcecode_digest") {
                Some(x) if x.starts_with(d.as_str()) => {}
                _ => return false,
            }
        }
        if let Some(range) = range {
            match r.started {
                Some(s) if range.contains(s) => {}
                _ => return false,
            }
        }
        if !self.status.is_empty() && !self.status.contains(&r.status.status) {
            return false;
        }
        if self.not_status.contains(&r.status.status) {
            return false;
        }
        true
    }
}

/// Guild's operation filter: regex when anchored with `^`/`$`, else a match
/// on the op name parts (`model:op`), `*` wildcards allowed.
fn op_matches(filter: &str, op: &str) -> bool {
    if filter.starts_with('^') || filter.ends_with('$') {
        return regex::Regex::new(filter)
            .map(|re| re.is_match(op))
            .unwrap_or(false);
    }
    let wild = |pat: &str, s: &str| -> bool {
        if pat.is_empty() || pat == s {
            return true;
        }
        if pat.contains('*') {
            let re = format!("^{}$", regex::escape(pat).replace("\\*", ".*"));
            return regex::Regex::new(&re)
                .map(|r| r.is_match(s))
                .unwrap_or(false);
        }
        false
    };
    let (fm, fo) = filter.rsplit_once(':').unwrap_or(("", filter));
    let (m, o) = op.rsplit_once(':').unwrap_or(("", op));
    wild(fm, m) && wild(fo, o)
}

/// Apply RUN specs to a filtered, sorted list. Empty specs select `default_all`
/// ? everything : the latest run.
pub fn select(runs: &[RunInfo], specs: &[String], default_all: bool) -> Result<Vec<RunInfo>> {
    if specs.is_empty() {
        return Ok(if default_all {
            runs.to_vec()
        } else {
            runs.iter().take(1).cloned().collect()
        });
    }
    let mut out: Vec<RunInfo> = Vec::new();
    let range_re = regex::Regex::new(r"^(\d+)?:(\d+)?$").expect("static regex");
    for spec in specs {
        let picked: Vec<&RunInfo> = if let Some(c) = range_re.captures(spec) {
            let a: usize = c
                .get(1)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(1)
                .max(1);
            let b: usize = c
                .get(2)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(runs.len());
            runs.iter()
                .skip(a - 1)
                .take(b.saturating_sub(a - 1))
                .collect()
        } else if let Some(r) = spec
            .parse::<usize>()
            .ok()
            .filter(|i| *i >= 1 && *i <= runs.len())
            .map(|i| &runs[i - 1])
        {
            vec![r]
        } else {
            let matches: Vec<&RunInfo> = runs
                .iter()
                .filter(|r| r.run.id.starts_with(spec.as_str()))
                .collect();
            match matches.len() {
                0 => {
                    return Err(Error::user(format!(
                    "could not find a run matching '{spec}'; try `guild runs list -a` for a list"
                )))
                }
                1 => matches,
                _ => {
                    let ids: Vec<&str> = matches.iter().map(|r| r.run.short_id()).collect();
                    return Err(Error::user(format!(
                        "'{spec}' matches multiple runs ({}); use a longer id prefix",
                        ids.join(", ")
                    )));
                }
            }
        };
        for r in picked {
            if !out.iter().any(|o| o.run.id == r.run.id) {
                out.push(r.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_filter_forms() {
        assert!(op_matches("train", "train"));
        assert!(op_matches("train.py", "train.py"));
        assert!(op_matches("mnist:", "mnist:train"));
        assert!(op_matches("^tr", "train.py"));
        assert!(!op_matches("eval", "train"));
        assert!(op_matches("tr*", "train"));
    }
}
