//! `guild.yml`: both file forms (a mapping of operations, or a list of
//! `model:` / `config:` / `include:` items), `extends` and `$include`
//! reuse, `params` substitution and `operation-defaults`, validated up front
//! so that a mistake is reported with the file, line and column before any
//! run exists.

use guild_format::error::{Error, Result};
use guild_format::run::yaml;
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

pub(crate) const NAME: &str = "guild.yml";

/// Operation keys Guild 0.9 accepts.
const OP_KEYS: &[&str] = &[
    "main",
    "exec",
    "steps",
    "notebook",
    "description",
    "flags",
    "flags-dest",
    "flags-import",
    "flags-import-skip",
    "default-flag-arg-skip",
    "env",
    "env-secrets",
    "requires",
    "sourcecode",
    "output-scalars",
    "compare",
    "label",
    "tags",
    "objective",
    "optimizer",
    "optimizers",
    "default-max-trials",
    "delete-on-success",
    "can-stage-trials",
    "pip-freeze",
    "python-path",
    "python-requires",
    "plugins",
    "stoppable",
    "handle-keyboard-interrupt",
    "run-attrs",
    "publish",
    "default",
];

const MODEL_KEYS: &[&str] = &[
    "model",
    "description",
    "operations",
    "resources",
    "extends",
    "params",
    "operation-defaults",
    "sourcecode",
    "plugins",
    "python-requires",
    "references",
    "extra",
    "default",
    "python-path",
];

const FLAG_KEYS: &[&str] = &[
    "default",
    "description",
    "type",
    "required",
    "choices",
    "allow-other",
    "min",
    "max",
    "distribution",
    "arg-name",
    "arg-skip",
    "arg-switch",
    "arg-split",
    "arg-encoding",
    "env-name",
    "env-encoding",
    "null-label",
    "alias",
];

/// A loaded guild.yml: its models and their operations.
#[derive(Debug, Clone)]
pub struct Guildfile {
    /// The file's path (canonical when it could be resolved).
    pub path: PathBuf,
    /// The directory holding the file: the project directory.
    pub dir: PathBuf,
    /// MD5 of the file's bytes: the opref version of its operations.
    pub(crate) md5: String,
    /// The models it defines.
    pub models: Vec<Model>,
}

/// A model of a guild.yml and its operations.
#[derive(Debug, Clone)]
pub struct Model {
    /// Empty for the anonymous model of an operations-only file.
    pub name: String,
    /// The model's `description` (empty without one).
    pub description: String,
    pub(crate) default: bool,
    pub(crate) sourcecode: Option<Value>,
    /// The model's operations.
    pub ops: Vec<OpConfig>,
    /// `resources`: named lists of sources operations may require by name.
    pub(crate) resources: Mapping,
}

/// One operation's configuration after extends, includes, params and
/// operation-defaults are applied; keys and value types are validated.
#[derive(Debug, Clone)]
pub struct OpConfig {
    /// The operation's name.
    pub name: String,
    /// The operation's keys and values.
    pub cfg: Mapping,
}

impl OpConfig {
    /// The value of key `key`; None when missing or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cfg.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => Some(guild_format::run::yaml::encode_display(other)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// The operation's `description` (empty without one).
    pub fn description(&self) -> String {
        self.str("description").unwrap_or_default()
    }

    /// Whether the operation is private (its name starts with `_`).
    pub fn is_private(&self) -> bool {
        self.name.starts_with('_')
    }
}

impl Guildfile {
    /// The guild.yml in `dir`, if any.
    pub fn find(dir: &Path) -> Result<Option<Guildfile>> {
        let path = dir.join(NAME);
        if !path.is_file() {
            return Ok(None);
        }
        Guildfile::load(&path).map(Some)
    }

    /// Load and validate the guild.yml at `path` and what it includes.
    pub fn load(path: &Path) -> Result<Guildfile> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let bytes = read_limited(&path)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        use md5::{Digest, Md5};
        let md5 = format!("{:x}", Md5::digest(&bytes));
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut loader = Loader {
            files: Vec::new(),
            items: Vec::new(),
        };
        loader.read(&path, &text, 0)?;
        let models = loader.models()?;
        check_pipeline_cycles(&path, &models)?;
        Ok(Guildfile {
            path,
            dir,
            md5,
            models,
        })
    }

    pub(crate) fn default_model(&self) -> Option<&Model> {
        if self.models.len() == 1 {
            return self.models.first();
        }
        self.models.iter().find(|m| m.default)
    }

    /// Find `[MODEL:]OP`: in the named model, else the default model, else
    /// the one model that defines OP.
    pub fn find_op(&self, spec: &str) -> Option<(&Model, &OpConfig)> {
        let (model, op) = match spec.split_once(':') {
            Some((m, o)) => (Some(m), o),
            None => (None, spec),
        };
        if let Some(mname) = model {
            let m = self.models.iter().find(|m| m.name == mname)?;
            return m.ops.iter().find(|o| o.name == op).map(|o| (m, o));
        }
        if let Some(m) = self.default_model() {
            if let Some(o) = m.ops.iter().find(|o| o.name == op) {
                return Some((m, o));
            }
        }
        let mut hits = self
            .models
            .iter()
            .filter_map(|m| m.ops.iter().find(|o| o.name == op).map(|o| (m, o)));
        let first = hits.next()?;
        if hits.next().is_some() {
            return None;
        }
        Some(first)
    }

    /// Every operation, as `(model, op)`, sorted by display name.
    pub fn all_ops(&self) -> Vec<(&Model, &OpConfig)> {
        let mut v: Vec<(&Model, &OpConfig)> = self
            .models
            .iter()
            .flat_map(|m| m.ops.iter().map(move |o| (m, o)))
            .collect();
        v.sort_by_key(|(m, o)| op_display(m, o));
        v
    }
}

/// The largest guild.yml read: real ones are a few KiB; a huge one would
/// take the YAML parser seconds and hundreds of MB.
pub(crate) const MAX_BYTES: u64 = 1 << 20;
/// The deepest flow (`[`/`{`) nesting and block indentation accepted.
const MAX_FLOW_DEPTH: usize = 64;
const MAX_INDENT: usize = 512;

/// Read a guild.yml, refusing one over [`MAX_BYTES`] before reading it.
fn read_limited(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::user(format!(
            "error in {}: the file is larger than {} KiB; a guild.yml describes operations, keep data in other files",
            path.display(),
            MAX_BYTES / 1024
        )));
    }
    Ok(bytes)
}

/// Refuse deeply nested YAML before parsing it (the parser is slow and
/// recursive on such input): flow collections over [`MAX_FLOW_DEPTH`]
/// levels or block indentation over [`MAX_INDENT`] columns.
fn check_nesting(path: &Path, text: &str) -> Result<()> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let too_deep = |line: usize, what: &str| {
        Error::user(format!(
            "error in {}, line {line}: {what}; flatten the structure",
            path.display()
        ))
    };
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > MAX_INDENT {
            return Err(too_deep(
                n + 1,
                &format!("indented more than {MAX_INDENT} columns"),
            ));
        }
        let mut prev = ' ';
        for c in line.chars() {
            match (quote, c) {
                (None, '#') if prev == ' ' || prev == '\t' => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q && prev != '\\' => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(too_deep(
                            n + 1,
                            &format!("collections nested more than {MAX_FLOW_DEPTH} levels"),
                        ));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
        // A single-quoted or plain scalar does not span lines in flow
        // context often; a double-quoted one may.
        if quote == Some('\'') {
            quote = None;
        }
    }
    Ok(())
}

/// A pipeline that runs itself, directly or through other operations,
/// would start runs without end: refuse it when the guild.yml is read.
fn check_pipeline_cycles(path: &Path, models: &[Model]) -> Result<()> {
    let gf = Guildfile {
        path: path.to_path_buf(),
        dir: PathBuf::new(),
        md5: String::new(),
        models: models.to_vec(),
    };
    let key = |m: &Model, o: &OpConfig| op_display(m, o);
    let step_ops = |o: &OpConfig| -> Vec<String> {
        let Some(Ok(steps)) = o.get("steps").map(crate::op::steps::specs_of) else {
            return Vec::new();
        };
        steps
            .iter()
            .filter_map(crate::op::steps::run_spec)
            .filter_map(|r| shlex::split(r).and_then(|p| p.into_iter().next()))
            .collect()
    };
    // Depth-first search from every op; `path` holds the current chain.
    fn visit<'a>(
        gf: &'a Guildfile,
        m: &'a Model,
        o: &'a OpConfig,
        chain: &mut Vec<String>,
        done: &mut std::collections::HashSet<String>,
        key: &dyn Fn(&Model, &OpConfig) -> String,
        step_ops: &dyn Fn(&OpConfig) -> Vec<String>,
    ) -> Option<Vec<String>> {
        let k = key(m, o);
        if let Some(pos) = chain.iter().position(|c| *c == k) {
            let mut cycle = chain[pos..].to_vec();
            cycle.push(k);
            return Some(cycle);
        }
        if done.contains(&k) {
            return None;
        }
        chain.push(k.clone());
        for spec in step_ops(o) {
            // Unqualified step ops resolve in the pipeline's own model first.
            let target = if spec.contains(':') || m.name.is_empty() {
                gf.find_op(&spec)
            } else {
                m.ops
                    .iter()
                    .find(|x| x.name == spec)
                    .map(|x| (m, x))
                    .or_else(|| gf.find_op(&spec))
            };
            if let Some((tm, to)) = target {
                if let Some(c) = visit(gf, tm, to, chain, done, key, step_ops) {
                    return Some(c);
                }
            }
        }
        chain.pop();
        done.insert(k);
        None
    }
    let mut done = std::collections::HashSet::new();
    for m in &gf.models {
        for o in &m.ops {
            let mut chain = Vec::new();
            if let Some(cycle) = visit(&gf, m, o, &mut chain, &mut done, &key, &step_ops) {
                return Err(Error::user(format!(
                    "error in {}: pipeline cycle {}: a pipeline cannot run itself; remove the step that closes the cycle",
                    path.display(),
                    cycle.join(" -> ")
                )));
            }
        }
    }
    Ok(())
}

/// The operation as Guild names it: `model:op`, or `op` for the anonymous
/// model.
pub fn op_display(m: &Model, o: &OpConfig) -> String {
    if m.name.is_empty() {
        o.name.clone()
    } else {
        format!("{}:{}", m.name, o.name)
    }
}

/// A raw top-level item with where it came from.
struct Item {
    file: usize,
    kind: ItemKind,
    name: String,
    data: Mapping,
    /// Index of the item in its file's top-level list (None: mapping form).
    index: Option<usize>,
}

#[derive(PartialEq, Clone, Copy)]
enum ItemKind {
    Model,
    Config,
}

struct Loader {
    files: Vec<(PathBuf, String)>,
    items: Vec<Item>,
}

impl Loader {
    fn err_at(&self, file: usize, path: &[PathSeg], msg: String) -> Error {
        let (p, text) = &self.files[file];
        let loc = locate(text, path)
            .map(|(l, c)| format!(", line {l}, column {c}"))
            .unwrap_or_default();
        Error::user(format!("error in {}{loc}: {msg}", p.display()))
    }

    fn read(&mut self, path: &Path, text: &str, depth: usize) -> Result<()> {
        if depth > 10 {
            return Err(Error::user(format!(
                "error in {}: includes nested too deeply (an include cycle?)",
                path.display()
            )));
        }
        check_nesting(path, text)?;
        let file = self.files.len();
        self.files.push((path.to_path_buf(), text.to_string()));
        let data = yaml::parse_11(text).map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!(", line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Error::user(format!(
                "error in {}{loc}: invalid YAML: {msg}",
                path.display()
            ))
        })?;
        match data {
            Value::Null => Ok(()),
            Value::Mapping(ops) => {
                let mut m = Mapping::new();
                m.insert("operations".into(), Value::Mapping(ops));
                self.items.push(Item {
                    file,
                    kind: ItemKind::Model,
                    name: String::new(),
                    data: m,
                    index: None,
                });
                Ok(())
            }
            Value::Sequence(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.read_item(file, i, item, depth)?;
                }
                Ok(())
            }
            other => Err(self.err_at(
                file,
                &[],
                format!(
                    "expected a mapping of operations or a list of models, got {}",
                    kind_of(&other)
                ),
            )),
        }
    }

    fn read_item(&mut self, file: usize, i: usize, item: Value, depth: usize) -> Result<()> {
        let seg = [PathSeg::Index(i)];
        let Value::Mapping(m) = item else {
            return Err(self.err_at(
                file,
                &seg,
                format!(
                    "top-level item {} must be a mapping, got {}",
                    i + 1,
                    kind_of(&item)
                ),
            ));
        };
        let has = |k: &str| m.contains_key(k);
        if has("include") {
            let incs = match m.get("include") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Sequence(s)) => s
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            };
            let base = self.files[file]
                .0
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            for inc in incs {
                let mut p = base.join(&inc);
                if p.is_dir() {
                    p = p.join(NAME);
                }
                let text = match read_limited(&p) {
                    Ok(b) => String::from_utf8(b).map_err(|e| {
                        self.err_at(
                            file,
                            &[PathSeg::Index(i), PathSeg::Key("include".into())],
                            format!("cannot include '{inc}': {e}"),
                        )
                    })?,
                    Err(e) if p.exists() => return Err(e),
                    Err(_) => {
                        return Err(self.err_at(
                            file,
                            &[PathSeg::Index(i), PathSeg::Key("include".into())],
                            format!("cannot include '{inc}': {} does not exist", p.display()),
                        ))
                    }
                };
                self.read(&p, &text, depth + 1)?;
            }
            return Ok(());
        }
        let (kind, name) = if has("model") {
            (ItemKind::Model, scalar(m.get("model")))
        } else if has("config") {
            (ItemKind::Config, scalar(m.get("config")))
        } else if has("package") {
            return Ok(());
        } else if has("operations") {
            (ItemKind::Model, String::new())
        } else {
            return Err(self.err_at(
                file,
                &seg,
                format!(
                    "missing required type (one of: config, include, model, package) in {}",
                    yaml::flow(&Value::Mapping(m))
                ),
            ));
        };
        self.items.push(Item {
            file,
            kind,
            name,
            data: m,
            index: Some(i),
        });
        Ok(())
    }

    fn item_path(&self, item: &Item) -> Vec<PathSeg> {
        item.index.map(PathSeg::Index).into_iter().collect()
    }

    /// Apply `extends` (depth first, child wins, cycles rejected).
    fn resolved(&self, idx: usize, chain: &mut Vec<usize>) -> Result<Mapping> {
        let item = &self.items[idx];
        if chain.contains(&idx) {
            let names: Vec<String> = chain
                .iter()
                .chain(std::iter::once(&idx))
                .map(|i| self.items[*i].name.clone())
                .collect();
            return Err(self.err_at(
                item.file,
                &self.item_path(item),
                format!("cycle in 'extends': {}", names.join(" -> ")),
            ));
        }
        chain.push(idx);
        let parents = match item.data.get("extends") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(s)) => s.iter().map(|v| scalar(Some(v))).collect(),
            Some(other) => {
                return Err(self.err_at(
                    item.file,
                    &[self.item_path(item), vec![PathSeg::Key("extends".into())]].concat(),
                    format!(
                        "invalid extends value {}: expected a name or a list of names",
                        yaml::flow(other)
                    ),
                ))
            }
        };
        let mut merged = Mapping::new();
        for p in &parents {
            let Some(pidx) = self
                .items
                .iter()
                .position(|it| &it.name == p && !p.is_empty())
            else {
                return Err(self.err_at(
                    item.file,
                    &[self.item_path(item), vec![PathSeg::Key("extends".into())]].concat(),
                    format!(
                        "'{}' extends '{p}', which is not defined as a model or config",
                        item.name
                    ),
                ));
            };
            let parent = self.resolved(pidx, chain)?;
            deep_merge(&mut merged, &parent);
        }
        chain.pop();
        let mut own = item.data.clone();
        own.remove("extends");
        // Params of parents are defaults for the child's.
        deep_merge_child_wins(&mut merged, &own);
        Ok(merged)
    }

    fn models(&self) -> Result<Vec<Model>> {
        let mut models = Vec::new();
        for (idx, item) in self.items.iter().enumerate() {
            if item.kind != ItemKind::Model {
                continue;
            }
            let data = self.resolved(idx, &mut Vec::new())?;
            let base = self.item_path(item);
            for k in data.keys() {
                let k = scalar(Some(k));
                // `config` and `flags` come with an extended config item.
                if !MODEL_KEYS.contains(&k.as_str()) && k != "config" && k != "flags" {
                    return Err(self.err_at(
                        item.file,
                        &[base.clone(), vec![PathSeg::Key(k.clone())]].concat(),
                        format!(
                            "unknown model attribute '{k}' (expected one of: {})",
                            MODEL_KEYS.join(", ")
                        ),
                    ));
                }
            }
            let params = match data.get("params") {
                Some(Value::Mapping(p)) => p.clone(),
                _ => Mapping::new(),
            };
            let data = substitute_params(Value::Mapping(data), &params);
            let Value::Mapping(data) = data else {
                continue;
            };
            let op_defaults = match data.get("operation-defaults") {
                Some(Value::Mapping(d)) => d.clone(),
                _ => Mapping::new(),
            };
            let ops_path = if item.index.is_some() {
                [base.clone(), vec![PathSeg::Key("operations".into())]].concat()
            } else {
                Vec::new()
            };
            let ops_val = data.get("operations").cloned().unwrap_or(Value::Null);
            let ops_map = match ops_val {
                Value::Null => Mapping::new(),
                Value::Mapping(m) => m,
                other => {
                    return Err(self.err_at(
                        item.file,
                        &ops_path,
                        format!(
                            "invalid operations value {}: expected a mapping of operation names to definitions",
                            yaml::flow(&other)
                        ),
                    ))
                }
            };
            let ops_map = self.include_ops(item.file, &ops_path, ops_map)?;
            let mut ops = Vec::new();
            for (k, v) in ops_map {
                let name = scalar(Some(&k));
                let op_path = [ops_path.clone(), vec![PathSeg::Key(name.clone())]].concat();
                let mut cfg = match v {
                    Value::Null => Mapping::new(),
                    Value::String(s) => {
                        let mut m = Mapping::new();
                        m.insert("main".into(), s.into());
                        m
                    }
                    Value::Mapping(m) => m,
                    other => {
                        return Err(self.err_at(
                            item.file,
                            &op_path,
                            format!(
                            "invalid definition for operation '{name}': expected a mapping, got {}",
                            kind_of(&other)
                        ),
                        ))
                    }
                };
                for (dk, dv) in &op_defaults {
                    if !cfg.contains_key(dk) {
                        cfg.insert(dk.clone(), dv.clone());
                    }
                }
                self.check_op(item.file, &op_path, &name, &mut cfg)?;
                ops.push(OpConfig { name, cfg });
            }
            models.push(Model {
                name: item.name.clone(),
                description: scalar(data.get("description")),
                default: data
                    .get("default")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                sourcecode: data.get("sourcecode").cloned(),
                ops,
                resources: data
                    .get("resources")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default(),
            });
        }
        Ok(models)
    }

    /// The names an `$include` value gives (one, or a list).
    fn include_refs(&self, file: usize, path: &[PathSeg], refs: &Value) -> Result<Vec<String>> {
        match refs {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Sequence(s) => Ok(s.iter().map(|v| scalar(Some(v))).collect()),
            other => Err(self.err_at(
                file,
                path,
                format!(
                    "invalid $include value {}: expected a name or list of names",
                    yaml::flow(other)
                ),
            )),
        }
    }

    /// `$include: NAME` in `operations`: the operations of config item
    /// NAME (or of each of a list), those defined here winning.
    fn include_ops(&self, file: usize, path: &[PathSeg], mut ops: Mapping) -> Result<Mapping> {
        let Some(refs) = ops.remove("$include") else {
            return Ok(ops);
        };
        let refs = self.include_refs(file, path, &refs)?;
        let mut out = Mapping::new();
        for r in refs {
            let included = self
                .items
                .iter()
                .enumerate()
                .find(|(_, it)| it.name == r && it.kind == ItemKind::Config)
                .and_then(|(i, _)| self.resolved(i, &mut Vec::new()).ok())
                .ok_or_else(|| {
                    self.err_at(
                        file,
                        path,
                        format!("cannot $include '{r}': no config with that name"),
                    )
                })?;
            if let Some(Value::Mapping(m)) = included.get("operations") {
                for (k, v) in m {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        for (k, v) in ops {
            out.insert(k, v);
        }
        Ok(out)
    }

    fn include_flags(
        &self,
        file: usize,
        path: &[PathSeg],
        refs: &Value,
        depth: usize,
    ) -> Result<Mapping> {
        if depth > 10 {
            return Err(self.err_at(file, path, "cycle in flags '$include'".into()));
        }
        let refs = self.include_refs(file, path, refs)?;
        let mut out = Mapping::new();
        for r in refs {
            let (mname, oname) = match r.split_once(':') {
                Some((m, o)) => (Some(m.to_string()), Some(o.to_string())),
                None => (None, None),
            };
            let found: Option<Mapping> = match (mname, oname) {
                (Some(m), Some(o)) => self
                    .items
                    .iter()
                    .enumerate()
                    .find(|(_, it)| it.name == m)
                    .and_then(|(i, _)| self.resolved(i, &mut Vec::new()).ok())
                    .and_then(|d| match d.get("operations") {
                        Some(Value::Mapping(ops)) => ops.get(o.as_str()).cloned(),
                        _ => None,
                    })
                    .and_then(|op| match op {
                        Value::Mapping(op) => match op.get("flags") {
                            Some(Value::Mapping(f)) => Some(f.clone()),
                            _ => Some(Mapping::new()),
                        },
                        _ => None,
                    }),
                _ => self
                    .items
                    .iter()
                    .enumerate()
                    .find(|(_, it)| it.name == r && it.kind == ItemKind::Config)
                    .and_then(|(i, _)| self.resolved(i, &mut Vec::new()).ok())
                    .map(|d| match d.get("flags") {
                        Some(Value::Mapping(f)) => f.clone(),
                        _ => Mapping::new(),
                    }),
            };
            let Some(mut flags) = found else {
                return Err(self.err_at(
                    file,
                    path,
                    format!("cannot $include '{r}': no config or operation with that name"),
                ));
            };
            if let Some(inner) = flags.remove("$include") {
                let mut base = self.include_flags(file, path, &inner, depth + 1)?;
                deep_merge_child_wins(&mut base, &flags);
                flags = base;
            }
            for (k, v) in flags {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    fn check_op(&self, file: usize, path: &[PathSeg], name: &str, cfg: &mut Mapping) -> Result<()> {
        let at = |k: &str| [path.to_vec(), vec![PathSeg::Key(k.to_string())]].concat();
        for k in cfg.keys() {
            let k = scalar(Some(k));
            if !OP_KEYS.contains(&k.as_str()) {
                let hint = closest(&k, OP_KEYS)
                    .map(|c| format!("did you mean '{c}'? "))
                    .unwrap_or_default();
                return Err(self.err_at(
                    file,
                    &at(&k),
                    format!(
                        "unknown attribute '{k}' in operation '{name}'; {hint}expected one of: {}",
                        OP_KEYS.join(", ")
                    ),
                ));
            }
        }
        let expect = |k: &str, ok: fn(&Value) -> bool, what: &str| -> Result<()> {
            match cfg.get(k) {
                Some(v) if !v.is_null() && !ok(v) => Err(self.err_at(
                    file,
                    &at(k),
                    format!(
                        "invalid {k} value {} in operation '{name}': expected {what}",
                        yaml::flow(v)
                    ),
                )),
                _ => Ok(()),
            }
        };
        let is_str = |v: &Value| matches!(v, Value::String(_));
        let is_scalar = |v: &Value| !matches!(v, Value::Mapping(_) | Value::Sequence(_));
        let is_bool = |v: &Value| matches!(v, Value::Bool(_));
        let is_map = |v: &Value| matches!(v, Value::Mapping(_));
        let is_list = |v: &Value| matches!(v, Value::Sequence(_));
        let str_or_list = |v: &Value| matches!(v, Value::String(_) | Value::Sequence(_));
        expect("main", is_str, "a string (`module [args]`)")?;
        expect("exec", is_str, "a command line string")?;
        expect("description", is_scalar, "a string")?;
        expect("flags", is_map, "a mapping")?;
        expect(
            "flags-dest",
            is_str,
            "args, globals, global:NAME, dict:NAME or none",
        )?;
        expect("env", is_map, "a mapping of names to values")?;
        expect("label", is_scalar, "a string")?;
        expect("tags", str_or_list, "a list of strings")?;
        expect("python-path", str_or_list, "a path or list of paths")?;
        expect("stoppable", is_bool, "yes or no")?;
        expect("delete-on-success", is_bool, "yes or no")?;
        expect("steps", is_list, "a list of steps")?;
        expect(
            "flags-import",
            |v| matches!(v, Value::String(_) | Value::Sequence(_) | Value::Bool(_)),
            "all, no, or a list of flag names",
        )?;
        expect("flags-import-skip", str_or_list, "a list of flag names")?;
        expect(
            "requires",
            |v| matches!(v, Value::String(_) | Value::Sequence(_) | Value::Mapping(_)),
            "a list of dependencies",
        )?;
        expect(
            "output-scalars",
            |v| {
                matches!(
                    v,
                    Value::String(_) | Value::Sequence(_) | Value::Mapping(_) | Value::Bool(false)
                )
            },
            "a list of patterns, a mapping of names to patterns, or no",
        )?;
        expect(
            "sourcecode",
            |v| {
                matches!(
                    v,
                    Value::String(_) | Value::Sequence(_) | Value::Mapping(_) | Value::Bool(_)
                )
            },
            "a pattern, a list of rules, a mapping (root, dest, select) or no",
        )?;
        // Flags: $include, then each definition checked.
        if let Some(Value::Mapping(flags)) = cfg.get("flags").cloned() {
            let mut flags = flags;
            if let Some(refs) = flags.remove("$include") {
                let mut base = self.include_flags(file, &at("flags"), &refs, 0)?;
                deep_merge_child_wins(&mut base, &flags);
                flags = base;
            }
            for (k, v) in &flags {
                let fname = scalar(Some(k));
                let fpath = [at("flags"), vec![PathSeg::Key(fname.clone())]].concat();
                if let Value::Mapping(fm) = v {
                    for fk in fm.keys() {
                        let fk = scalar(Some(fk));
                        if !FLAG_KEYS.contains(&fk.as_str()) {
                            let hint = closest(&fk, FLAG_KEYS)
                                .map(|c| format!("did you mean '{c}'? "))
                                .unwrap_or_default();
                            return Err(self.err_at(
                                file,
                                &[fpath.clone(), vec![PathSeg::Key(fk.clone())]].concat(),
                                format!(
                                    "unknown attribute '{fk}' of flag '{fname}' in operation '{name}'; {hint}expected one of: {}",
                                    FLAG_KEYS.join(", ")
                                ),
                            ));
                        }
                    }
                }
                let def = crate::op::flags::FlagDef::from_config(&fname, v)
                    .map_err(|e| self.err_at(file, &fpath, format!("{e} (operation '{name}')")))?;
                let base = self.files[file].0.parent().unwrap_or(Path::new("."));
                def.check_default(base)
                    .map_err(|e| self.err_at(file, &fpath, format!("{e} (operation '{name}')")))?;
            }
            cfg.insert("flags".into(), Value::Mapping(flags));
        }
        Ok(())
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => guild_format::run::yaml::encode_display(other),
    }
}

/// The closest known key by edit distance (for "did you mean").
fn closest<'a>(k: &str, known: &[&'a str]) -> Option<&'a str> {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .iter()
        .map(|c| (dist(k, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// `into` gets every key of `from` it lacks; nested mappings merge.
fn deep_merge(into: &mut Mapping, from: &Mapping) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Mapping(a)), Value::Mapping(b)) => deep_merge(a, b),
            (Some(_), _) => {}
            (None, _) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Overlay `child` on `base`: child values win, nested mappings merge.
fn deep_merge_child_wins(base: &mut Mapping, child: &Mapping) {
    for (k, v) in child {
        match (base.get_mut(k), v) {
            (Some(Value::Mapping(a)), Value::Mapping(b)) => deep_merge_child_wins(a, b),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `{{name}}` references to model params in every string.
fn substitute_params(v: Value, params: &Mapping) -> Value {
    if params.is_empty() {
        return v;
    }
    match v {
        Value::String(s) if s.contains("{{") => {
            // A string that is exactly one reference takes the param's type.
            for (k, pv) in params {
                let k = scalar(Some(k));
                if s.trim() == format!("{{{{{k}}}}}") {
                    return pv.clone();
                }
            }
            let mut out = s;
            for (k, pv) in params {
                let k = scalar(Some(k));
                out = out.replace(&format!("{{{{{k}}}}}"), &scalar(Some(pv)));
            }
            Value::String(out)
        }
        Value::Sequence(s) => Value::Sequence(
            s.into_iter()
                .map(|x| substitute_params(x, params))
                .collect(),
        ),
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, x)| (k, substitute_params(x, params)))
                .collect(),
        ),
        other => other,
    }
}

#[derive(Debug, Clone)]
pub(crate) enum PathSeg {
    Key(String),
    Index(usize),
}

/// Best-effort 1-based (line, column) of a node in block-style YAML, found
/// by following `path` through indentation. None when it cannot be found.
pub(crate) fn locate(text: &str, path: &[PathSeg]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize;
    let mut min_indent: isize = -1;
    let mut found = None;
    for seg in path {
        let mut hit = None;
        let mut list_count = 0usize;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = (line.len() - trimmed.len()) as isize;
            if indent <= min_indent && i > start {
                break;
            }
            match seg {
                PathSeg::Key(k) => {
                    let body = trimmed.trim_start_matches("- ");
                    let ind = indent + (trimmed.len() - body.len()) as isize;
                    let unq = body.trim_start_matches(['"', '\'']);
                    if unq.starts_with(k.as_str())
                        && unq[k.len()..]
                            .trim_start_matches(['"', '\''])
                            .starts_with(':')
                    {
                        hit = Some((i, ind));
                        break;
                    }
                }
                PathSeg::Index(n) => {
                    if trimmed.starts_with("- ") || trimmed == "-" {
                        if list_count == *n {
                            hit = Some((i, indent));
                            break;
                        }
                        list_count += 1;
                    }
                }
            }
        }
        let (i, ind) = hit?;
        found = Some((i + 1, ind as usize + 1));
        start = i;
        min_indent = ind;
        if let PathSeg::Index(_) = seg {
            // Keys of a list item are indented past the dash.
            min_indent = ind;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Guildfile> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(NAME);
        std::fs::write(&p, text).unwrap();
        Guildfile::load(&p)
    }

    #[test]
    fn operations_only_form() {
        let gf = load("train:\n  description: Train it\n  main: train --x 1\n  flags:\n    lr: 0.1\nprep: prepare\n").unwrap();
        assert_eq!(gf.models.len(), 1);
        assert_eq!(gf.models[0].name, "");
        let (_, op) = gf.find_op("prep").unwrap();
        assert_eq!(op.str("main").as_deref(), Some("prepare"));
        assert_eq!(gf.find_op("train").unwrap().1.description(), "Train it");
        assert!(gf.find_op("nope").is_none());
    }

    #[test]
    fn models_configs_extends_and_includes() {
        let gf = load(
            "- config: base\n  operation-defaults:\n    output-scalars: no\n  operations:\n    train:\n      main: train\n      flags:\n        lr: 0.1\n        epochs: 5\n- config: shared\n  flags:\n    seed: 1\n- model: m\n  extends: base\n  params:\n    n: 7\n  operations:\n    train:\n      flags:\n        lr: 0.2\n        $include: shared\n    eval:\n      main: eval --n {{n}}\n",
        )
        .unwrap();
        let (m, op) = gf.find_op("m:train").unwrap();
        assert_eq!(m.name, "m");
        let flags = op.get("flags").unwrap().as_mapping().unwrap();
        assert_eq!(flags.get("lr"), Some(&Value::from(0.2)));
        assert_eq!(flags.get("epochs"), Some(&Value::from(5)));
        assert_eq!(flags.get("seed"), Some(&Value::from(1)));
        assert_eq!(op.str("main").as_deref(), Some("train"));
        assert_eq!(op.get("output-scalars"), Some(&Value::Bool(false)));
        let (_, ev) = gf.find_op("eval").unwrap();
        assert_eq!(ev.str("main").as_deref(), Some("eval --n 7"));
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = load("train:\n  mian: train\n").unwrap_err();
        assert!(e.message().contains("line 2, column 3"), "{}", e.message());
        assert!(
            e.message().contains("did you mean 'main'"),
            "{}",
            e.message()
        );
        let e = load("train:\n  flags: [1, 2]\n").unwrap_err();
        assert!(
            e.message().contains("invalid flags value [1, 2]"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("line 2"), "{}", e.message());
        let e = load("train:\n  main: x\n   bad: [\n").unwrap_err();
        assert!(e.message().contains("invalid YAML"), "{}", e.message());
        assert!(e.message().contains("line "), "{}", e.message());
        let e = load(
            "- config: a\n  extends: b\n- config: b\n  extends: a\n- model: m\n  extends: a\n",
        )
        .unwrap_err();
        assert!(
            e.message().contains("cycle in 'extends'"),
            "{}",
            e.message()
        );
        let e = load(
            "train:\n  flags:\n    opt:\n      default: rmsprop\n      choices: [adam, sgd]\n",
        )
        .unwrap_err();
        assert!(
            e.message().contains("opt") && e.message().contains("line 3"),
            "{}",
            e.message()
        );
        let e = load("- foo: 1\n").unwrap_err();
        assert!(
            e.message().contains("missing required type"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn locate_follows_indentation() {
        let t = "a:\n  b:\n    c: 1\n  d: 2\n- x: 1\n";
        assert_eq!(
            locate(t, &[PathSeg::Key("a".into()), PathSeg::Key("d".into())]),
            Some((4, 3))
        );
        assert_eq!(
            locate(
                t,
                &[
                    PathSeg::Key("a".into()),
                    PathSeg::Key("b".into()),
                    PathSeg::Key("c".into())
                ]
            ),
            Some((3, 5))
        );
    }
}
