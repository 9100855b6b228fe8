//! Output scalars: Guild's patterns applied to each output line (default
//! `key: value` patterns with `step` handling, or an op's `output-scalars`),
//! and per-run summaries (first/last/min/max/avg/total/count) read back from
//! every events file in a run.

use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

fn expand_aliases(p: &str) -> String {
    p.replace(r"\key", r"[^ \t]+")
        .replace(r"\value", r"[0-9\.e\-]+")
        .replace(r"\step", r"[0-9]+")
}

struct Pattern {
    re: Regex,
    /// For `{KEY: PATTERN}` items: the scalar name for a single group.
    key: Option<String>,
}

/// An operation's `output-scalars`: how its run's output becomes scalars.
/// Parsed from guild.yml by the project model and from a run's `op` attr
/// when its output is read; written back as Guild writes it.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum OutputScalars {
    /// Not given (null): the default `key: value` patterns.
    #[default]
    Defaults,
    /// `no`/`false`: no scalars from the output (`yes` is not a config).
    Switch(bool),
    /// A list of patterns.
    Patterns(Vec<ScalarPattern>),
    /// One pattern.
    One(ScalarPattern),
}

/// One `output-scalars` pattern.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ScalarPattern {
    /// A regex whose named groups (or `key`/`value` groups) give scalars.
    Plain(String),
    /// Scalar names to regexes whose first group is the value.
    Keyed(std::collections::BTreeMap<String, String>),
}

impl OutputScalars {
    /// The config in a run's `op` attr (or guild.yml): an error names what
    /// is not one.
    pub fn from_value(v: &serde_yaml_ng::Value) -> Result<OutputScalars, String> {
        serde_yaml_ng::from_value(v.clone()).map_err(|_| {
            format!(
                "invalid output-scalars {}: expected a pattern, a list of patterns, a mapping of names to patterns, or no",
                crate::run::yaml::flow(v)
            )
        })
    }

    /// As Guild writes it into the run's `op` attr.
    pub fn to_value(&self) -> serde_yaml_ng::Value {
        serde_yaml_ng::to_value(self).unwrap_or(serde_yaml_ng::Value::Null)
    }
}

/// Finds scalars in output lines with Guild's default patterns or an
/// operation's `output-scalars`.
pub struct ScalarParser {
    patterns: Vec<Pattern>,
    defaults: bool,
    ignore: Vec<String>,
    step: Option<i64>,
}

impl ScalarParser {
    /// Guild's default patterns; keys equal to a flag name are ignored.
    pub(crate) fn defaults(flag_names: Vec<String>) -> ScalarParser {
        let pats = [
            r"\key: +\value\s+\((?:step\s+)?(?P<step>\step)\)$",
            r"^(\key):\s+(\value)(?:\s+\(.*\))?$",
        ];
        ScalarParser {
            patterns: pats
                .iter()
                .map(|p| Pattern {
                    re: Regex::new(&expand_aliases(p)).expect("static regex"),
                    key: None,
                })
                .collect(),
            defaults: true,
            ignore: flag_names,
            step: None,
        }
    }

    /// The parser of an `output-scalars` config (defaults, none, or the
    /// patterns given).
    pub fn from_config(
        cfg: &OutputScalars,
        flag_names: Vec<String>,
    ) -> Result<ScalarParser, String> {
        let items: Vec<&ScalarPattern> = match cfg {
            OutputScalars::Defaults => return Ok(ScalarParser::defaults(flag_names)),
            OutputScalars::Switch(false) => Vec::new(),
            OutputScalars::Switch(true) => {
                return Err("invalid output-scalars yes: give patterns, or no for none".to_string())
            }
            OutputScalars::Patterns(items) => items.iter().collect(),
            OutputScalars::One(item) => vec![item],
        };
        let mut patterns = Vec::new();
        for item in items {
            match item {
                ScalarPattern::Plain(s) => patterns.push(Pattern {
                    re: compile(s)?,
                    key: None,
                }),
                // Sorted by name (a BTreeMap), as Guild's dict order.
                ScalarPattern::Keyed(m) => {
                    for (k, p) in m {
                        patterns.push(Pattern {
                            re: compile(p)?,
                            key: Some(k.clone()),
                        });
                    }
                }
            }
        }
        Ok(ScalarParser {
            patterns,
            defaults: false,
            ignore: Vec::new(),
            step: None,
        })
    }

    /// The parser a run's output was read with: its op's `output-scalars`
    /// and its flag names (the run's `op` and `flags` attributes).
    pub fn for_run(run: &crate::run::Run) -> Result<ScalarParser, String> {
        let cfg = run
            .attr("op")
            .and_then(|op| op.as_mapping()?.get("output-scalars").cloned())
            .unwrap_or(serde_yaml_ng::Value::Null);
        let flags = run
            .attr("flags")
            .and_then(|f| {
                Some(
                    f.as_mapping()?
                        .keys()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect(),
                )
            })
            .unwrap_or_default();
        ScalarParser::from_config(&OutputScalars::from_value(&cfg)?, flags)
    }

    /// False when no pattern can match `line` (cheap byte test): the default
    /// patterns all need a `:`, so most log lines are skipped unread.
    pub fn may_match(&self, line: &[u8]) -> bool {
        !self.patterns.is_empty() && (!self.defaults || memchr::memchr(b':', line).is_some())
    }

    /// What a line needs to be tried at all: None when no line can match
    /// (no patterns), Some(true) when it needs a `:` (the default
    /// patterns), Some(false) when every line is tried.
    pub(crate) fn needs_colon(&self) -> Option<bool> {
        (!self.patterns.is_empty()).then_some(self.defaults)
    }

    /// Scalars in one line (sorted by key), with the step in effect.
    pub fn parse_line(&mut self, line: &str, out: &mut Vec<(String, f64, i64)>) {
        let line = line.trim_end();
        if self.defaults && !line.contains(':') {
            return;
        }
        if self.defaults {
            if let Some(found) = default_fast(line) {
                if let Some((k, v)) = found {
                    if k == "step" {
                        self.step = Some(v as i64);
                    } else if !self.ignore.iter().any(|i| i == k) {
                        out.push((k.to_string(), v, self.step.unwrap_or(0)));
                    }
                }
                return;
            }
        }
        let mut vals: BTreeMap<String, f64> = BTreeMap::new();
        for (i, p) in self.patterns.iter().enumerate() {
            // Guild's first default pattern ends with `(step N)` or `(N)`:
            // a line that does not end with `)` is not tried.
            if self.defaults && i == 0 && !line.ends_with(')') {
                continue;
            }
            let names: Vec<&str> = p.re.capture_names().flatten().collect();
            for caps in p.re.captures_iter(line) {
                if !names.is_empty() {
                    let kv = (caps.name("_key"), caps.name("_val"));
                    if let (Some(k), Some(v)) = kv {
                        if let Ok(x) = v.as_str().parse() {
                            vals.insert(k.as_str().to_string(), x);
                        }
                    }
                    for &n in &names {
                        if n == "_key" || n == "_val" {
                            continue;
                        }
                        if let Some(m) = caps.name(n) {
                            if let Ok(x) = m.as_str().parse::<f64>() {
                                vals.insert(n.to_string(), x);
                            }
                        }
                    }
                } else if caps.len() == 3 {
                    if let (Some(k), Some(v)) = (caps.get(1), caps.get(2)) {
                        if let Ok(x) = v.as_str().parse() {
                            vals.insert(k.as_str().to_string(), x);
                        }
                    }
                } else if caps.len() == 2 {
                    if let (Some(k), Some(v)) = (&p.key, caps.get(1)) {
                        if let Ok(x) = v.as_str().parse() {
                            vals.insert(k.clone(), x);
                        }
                    }
                }
            }
        }
        if let Some(s) = vals.remove("step") {
            self.step = Some(s as i64);
        }
        for (k, v) in vals {
            if self.defaults && self.ignore.contains(&k) {
                continue;
            }
            out.push((k, v, self.step.unwrap_or(0)));
        }
    }
}

/// Guild's default patterns on a plain line, without the regexes: the
/// scalar `key: value` it holds (or None), when the line is printable
/// ASCII and does not end with `)` (the step pattern's and the trailing
/// `(...)`'s end); otherwise None, and the regexes decide. Same answers as
/// the patterns (see the differential test).
fn default_fast(line: &str) -> Option<Option<(&str, f64)>> {
    let b = line.as_bytes();
    if b.last() == Some(&b')') || !b.iter().all(|&c| (0x20..0x7f).contains(&c) || c == b'\t') {
        return None;
    }
    let token_end = b.iter().position(|&c| c == b' ' || c == b'\t');
    let Some(token_end) = token_end else {
        return Some(None);
    };
    if token_end < 2 || b[token_end - 1] != b':' {
        return Some(None);
    }
    let key = &line[..token_end - 1];
    let mut i = token_end;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let v0 = i;
    while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'-')) {
        i += 1;
    }
    if i == v0 || i != b.len() {
        return Some(None);
    }
    Some(line[v0..].parse().ok().map(|v| (key, v)))
}

fn compile(p: &str) -> Result<Regex, String> {
    Regex::new(&expand_aliases(p)).map_err(|e| format!("invalid output-scalars pattern {p:?}: {e}"))
}

/// The summary of one scalar's values in a run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The value at the lowest step.
    pub first: f64,
    /// The lowest step.
    pub first_step: i64,
    /// The value at the highest step.
    pub last: f64,
    /// The highest step.
    pub last_step: i64,
    /// The smallest value.
    pub min: f64,
    /// The step of the smallest value.
    pub min_step: i64,
    /// The largest value.
    pub max: f64,
    /// The step of the largest value.
    pub max_step: i64,
    /// The sum of the values.
    pub total: f64,
    /// How many values there are.
    pub count: i64,
}

impl Summary {
    /// The mean of the values (0 when there are none).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total / self.count as f64
        }
    }
    fn new(v: f64, s: i64) -> Summary {
        Summary {
            first: v,
            first_step: s,
            last: v,
            last_step: s,
            min: v,
            min_step: s,
            max: v,
            max_step: s,
            total: v,
            count: 1,
        }
    }
    fn add(&mut self, v: f64, s: i64) {
        if s < self.first_step {
            self.first = v;
            self.first_step = s;
        }
        if s >= self.last_step {
            self.last = v;
            self.last_step = s;
        }
        if v < self.min {
            self.min = v;
            self.min_step = s;
        }
        if v > self.max {
            self.max = v;
            self.max_step = s;
        }
        self.total += v;
        self.count += 1;
    }
}

/// Summaries of `(tag, value, step)` events by tag.
pub fn summarize(events: impl Iterator<Item = (String, f64, i64)>) -> BTreeMap<String, Summary> {
    let mut out: BTreeMap<String, Summary> = BTreeMap::new();
    for (tag, v, s) in events {
        match out.get_mut(&tag) {
            Some(sum) => sum.add(v, s),
            None => {
                out.insert(tag, Summary::new(v, s));
            }
        }
    }
    out
}

/// Scalars of a run keyed by `tag` (events in `.guild` or the run root) or
/// `<dir>#tag`. Walks the run dir for `*.tfevents.*`, following a symlink
/// only when it points at another run (batch trials).
pub fn run_scalars(run_dir: &Path) -> BTreeMap<String, Summary> {
    let mut out: BTreeMap<String, Summary> = BTreeMap::new();
    for (rel, path) in events_files(run_dir) {
        let prefix = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let key_prefix = if prefix == ".guild" || prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}#")
        };
        for (tag, v, s) in crate::output::tfevents::read_scalars(&path) {
            let key = format!("{key_prefix}{tag}");
            match out.get_mut(&key) {
                Some(sum) => sum.add(v, s),
                None => {
                    out.insert(key, Summary::new(v, s));
                }
            }
        }
    }
    out
}

/// The `*.tfevents.*` files of a run directory and its subdirectories
/// (a symlink followed only into another run: a batch's trials), as
/// (path in the run directory, path), in the order scalars are read:
/// each directory's files by name, then its subdirectories.
pub fn events_files(run_dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut files = Vec::new();
    let mut stack = vec![(run_dir.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if ft.is_symlink() {
                if path.join(".guild").join("opref").exists() {
                    stack.push((path, rel));
                }
            } else if ft.is_dir() {
                stack.push((path, rel));
            } else if name.contains(".tfevents.") {
                files.push((rel, path));
            }
        }
    }
    files
}

/// Scalars of a run's own events files (`.guild/` and the run root), no
/// walk into subdirectories or linked runs: the hot path of `compare`.
pub fn own_scalars(run: &crate::run::Run) -> BTreeMap<String, Summary> {
    // A batch's and a pipeline's scalars are those of their linked runs.
    if run.is_batch() || run.is_pipeline() {
        return run_scalars(&run.dir);
    }
    match runs_dir_of(run) {
        Some(runs) => {
            let files = own_events_files_at(&runs, &run.id);
            scalars_of_files_at(&runs, &run.id, &files)
        }
        None => BTreeMap::new(),
    }
}

/// The directory holding `run`, held open.
fn runs_dir_of(run: &crate::run::Run) -> Option<crate::fsutil::At> {
    crate::fsutil::At::open(run.dir.parent()?).ok()
}

/// A run's own events files (in `.guild/` and the run root), sorted.
pub fn own_events_files(run: &crate::run::Run) -> Vec<std::path::PathBuf> {
    match runs_dir_of(run) {
        Some(runs) => own_events_files_at(&runs, &run.id)
            .into_iter()
            .map(|rel| run.dir.join(rel))
            .collect(),
        None => Vec::new(),
    }
}

/// The events files of run `id` of the runs directory held open as
/// `runs`: their paths in the run directory (`.guild/NAME`, then root
/// `NAME`s, sorted). Listed relative to the open directory, so the kernel
/// walks one or two path parts instead of the whole path.
pub fn own_events_files_at(runs: &crate::fsutil::At, id: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for (dir, prefix) in [(format!("{id}/.guild"), ".guild/"), (id.to_string(), "")] {
        files.extend(
            runs.names(&dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n.contains(".tfevents."))
                .map(|n| format!("{prefix}{n}")),
        );
    }
    files.sort();
    files
}

/// The scalars of the events `files` of run `id` (paths in the run
/// directory, as [`own_events_files_at`] gives them), read relative to
/// the open runs directory.
pub fn scalars_of_files_at(
    runs: &crate::fsutil::At,
    id: &str,
    files: &[String],
) -> BTreeMap<String, Summary> {
    summarize(files.iter().flat_map(|rel| {
        let mut data = Vec::new();
        if runs
            .open_file(&format!("{id}/{rel}"))
            .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut data))
            .is_err()
        {
            data.clear();
        }
        crate::output::tfevents::scalars_timed_in(&data)
            .into_iter()
            .map(|(tag, v, step, _)| (tag, v, step))
    }))
}

/// Scalars in Guild's display order: by events dir (the run's own first),
/// then by tag.
pub fn in_guild_order(s: &BTreeMap<String, Summary>) -> Vec<(&String, &Summary)> {
    let mut v: Vec<(&String, &Summary)> = s.iter().collect();
    v.sort_by_key(|(k, _)| match k.rsplit_once('#') {
        Some((prefix, tag)) => (prefix.to_string(), tag.to_string()),
        None => (String::new(), k.to_string()),
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &mut ScalarParser, lines: &[&str]) -> Vec<(String, f64, i64)> {
        let mut out = Vec::new();
        for l in lines {
            p.parse_line(l, &mut out);
        }
        out
    }

    #[test]
    fn the_fast_path_answers_as_the_default_patterns() {
        let alphabet: Vec<char> = "ab:: \t0123456789.e-()xs".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut fast = ScalarParser::defaults(vec![]);
        let mut slow = ScalarParser::defaults(vec![]);
        slow.defaults = false; // the regexes only
        for n in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 14) as usize + 1;
            let mut line: String = (0..len)
                .map(|i| alphabet[((seed >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            if n % 3 == 0 {
                line = format!("loss: {}", &line[..line.len().min(6)]);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            fast.parse_line(&line, &mut a);
            slow.parse_line(&line, &mut b);
            assert_eq!(a, b, "{line:?}");
            assert_eq!(fast.step, slow.step, "{line:?}");
        }
    }

    #[test]
    fn default_patterns_as_guild() {
        let mut p = ScalarParser::defaults(vec!["lr".into()]);
        let got = parse(
            &mut p,
            &[
                "loss: 0.5",
                "acc: 1e-3",
                "val-loss:   .25",
                "train/loss: 0.1 (foo)",
                "loss: -1",
                "x: 1.2.3",
                "Epoch 1 loss: 0.3",
                "  indented: 1",
                "loss:0.5",
                "nan: nan",
                "a: 1 b: 2",
                "step 6",
                "lr: 0.1",
            ],
        );
        let keys: Vec<(&str, f64)> = got.iter().map(|(k, v, _)| (k.as_str(), *v)).collect();
        assert_eq!(
            keys,
            [
                ("loss", 0.5),
                ("acc", 0.001),
                ("val-loss", 0.25),
                ("train/loss", 0.1),
                ("loss", -1.0)
            ]
        );
        let mut p = ScalarParser::defaults(vec![]);
        let got = parse(
            &mut p,
            &[
                "loss: 0.5 (step 10)",
                "step: 0",
                "loss: 1",
                "step: 2",
                "loss: 0.3",
                "accuracy: 0.9",
            ],
        );
        assert_eq!(got[0], ("loss".into(), 0.5, 10));
        assert_eq!(got[1], ("loss".into(), 1.0, 0));
        assert_eq!(got[3], ("accuracy".into(), 0.9, 2));
    }

    #[test]
    fn custom_patterns() {
        let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            "- step: 'Epoch (\\step)'\n- 'Loss=(?P<loss>\\value) Acc=(?P<acc>\\value)'\n- val_acc: 'val accuracy is (\\value)'\n",
        )
        .unwrap();
        let cfg = OutputScalars::from_value(&cfg).unwrap();
        assert_eq!(OutputScalars::from_value(&cfg.to_value()).unwrap(), cfg);
        let mut p = ScalarParser::from_config(&cfg, vec![]).unwrap();
        let got = parse(
            &mut p,
            &[
                "Epoch 2",
                "Loss=0.333333 Acc=0.7",
                "val accuracy is 0.77",
                "ignored: 5",
            ],
        );
        assert_eq!(
            got,
            vec![
                ("acc".into(), 0.7, 2),
                ("loss".into(), 0.333333, 2),
                ("val_acc".into(), 0.77, 2)
            ]
        );
    }
}
