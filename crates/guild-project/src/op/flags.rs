//! Flag definitions and values: decoding `NAME=VALUE` as Guild does, checking
//! against a definition (type, choices, range), and the encodings used for
//! command lines, the environment, labels and displays.

use guild_format::run::yaml;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

/// A flag's declared `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagType {
    /// `string`: any value, as a string.
    String,
    /// `int`: an integer.
    Int,
    /// `float`: a floating-point number.
    Float,
    /// `number`: an integer or a float.
    Number,
    /// `boolean`: true or false.
    Boolean,
    /// `path`: a path, made absolute.
    Path,
    /// `existing-path`: a path that must exist, made absolute.
    ExistingPath,
}

impl FlagType {
    /// The type a guild.yml `type` names (`str` and `bool` too); None for
    /// an unknown one.
    pub fn parse(s: &str) -> Option<FlagType> {
        Some(match s {
            "string" | "str" => FlagType::String,
            "int" => FlagType::Int,
            "float" => FlagType::Float,
            "number" => FlagType::Number,
            "boolean" | "bool" => FlagType::Boolean,
            "path" => FlagType::Path,
            "existing-path" => FlagType::ExistingPath,
            _ => return None,
        })
    }
    /// The type's name as guild.yml spells it.
    pub fn name(&self) -> &'static str {
        match self {
            FlagType::String => "string",
            FlagType::Int => "int",
            FlagType::Float => "float",
            FlagType::Number => "number",
            FlagType::Boolean => "boolean",
            FlagType::Path => "path",
            FlagType::ExistingPath => "existing-path",
        }
    }
}

/// A flag's definition: declared in guild.yml or detected in a script.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagDef {
    /// The flag's name.
    pub name: String,
    /// The default value (None: no default).
    #[serde(default)]
    pub default: Option<Value>,
    /// The declared type (None: values are decoded as YAML).
    #[serde(default)]
    pub ftype: Option<FlagType>,
    /// The values allowed (empty: any).
    #[serde(default)]
    pub choices: Vec<Value>,
    /// A value must be given (`required`).
    #[serde(default)]
    pub required: bool,
    /// The flag's description (may be empty).
    #[serde(default)]
    pub description: String,
    /// The command-line option name, when not the flag's name (`arg-name`).
    #[serde(default)]
    pub arg_name: Option<String>,
    #[serde(default)]
    pub(crate) arg_skip: bool,
    /// `arg-switch`: the value for which the bare `--NAME` option is given
    /// (and no option for any other value).
    #[serde(default)]
    pub arg_switch: Option<Value>,
    /// `arg-split`: the value is split into several arguments.
    #[serde(default)]
    pub arg_split: bool,
    /// `arg-split: ','`: the separator its value is split on (None: split
    /// as a shell splits words, `arg-split: yes` or `shlex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_split_sep: Option<String>,
    #[serde(default)]
    pub(crate) min: Option<Value>,
    #[serde(default)]
    pub(crate) max: Option<Value>,
    #[serde(default)]
    pub(crate) env_name: Option<String>,
    #[serde(default)]
    pub(crate) null_label: Option<String>,
    /// Descriptions of `choices` (same order; empty when none given).
    #[serde(default)]
    pub choice_descriptions: Vec<String>,
    /// Values outside `choices` are accepted.
    #[serde(default)]
    pub(crate) allow_other: bool,
    /// Another name the flag may be assigned by (`upstream` for
    /// `operation:upstream`).
    #[serde(default)]
    pub(crate) alias: Option<String>,
    /// Made for a dependency (not declared or imported).
    #[serde(default)]
    pub generated: bool,
}

impl FlagDef {
    /// The parts of an `arg-split` value (see [`split_arg`]).
    pub(crate) fn split(&self, s: &str) -> Vec<String> {
        split_arg(s, self.arg_split_sep.as_deref())
    }

    pub(crate) fn new(name: &str) -> FlagDef {
        FlagDef {
            name: name.into(),
            ..Default::default()
        }
    }

    /// A flag definition from guild.yml: a bare value is the default, else a
    /// mapping of flag attributes. Errors say what is wrong and expected.
    pub(crate) fn from_config(name: &str, v: &Value) -> Result<FlagDef, String> {
        let mut d = FlagDef::new(name);
        d.apply_config(v)?;
        Ok(d)
    }

    /// Set the attributes `v` gives (a bare value sets the default); the
    /// others keep their values, so a declaration can refine an imported flag.
    pub(crate) fn apply_config(&mut self, v: &Value) -> Result<(), String> {
        let name = self.name.clone();
        let m = match v {
            Value::Mapping(m) => m,
            other => {
                self.default = Some(other.clone()).filter(|v| !v.is_null());
                return Ok(());
            }
        };
        let has = |k: &str| m.contains_key(k);
        let get = |k: &str| m.get(k).filter(|v| !v.is_null());
        let string = |k: &str| -> Result<Option<String>, String> {
            match get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(format!(
                    "invalid {k} {} for flag '{name}': expected a string",
                    yaml::flow(other)
                )),
            }
        };
        let boolean = |k: &str| -> Result<bool, String> {
            match get(k) {
                None => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(format!(
                    "invalid {k} {} for flag '{name}': expected yes or no",
                    yaml::flow(other)
                )),
            }
        };
        if has("default") {
            self.default = get("default").cloned();
        }
        if has("description") {
            self.description = string("description")?.unwrap_or_default();
        }
        if has("type") {
            self.ftype = match string("type")? {
                Some(t) if t != "auto" => Some(FlagType::parse(&t).ok_or_else(|| {
                    format!(
                        "invalid type '{t}' for flag '{name}': expected one of string, int, float, number, boolean, path, existing-path"
                    )
                })?),
                _ => None,
            };
        }
        if has("required") {
            self.required = boolean("required")?;
        }
        if has("allow-other") {
            self.allow_other = boolean("allow-other")?;
        }
        if has("arg-skip") {
            self.arg_skip = boolean("arg-skip")?;
        }
        if has("arg-split") {
            let spec = get("arg-split");
            self.arg_split = !matches!(spec, None | Some(Value::Null) | Some(Value::Bool(false)));
            self.arg_split_sep = split_sep(spec);
        }
        if has("arg-name") {
            self.arg_name = string("arg-name")?;
        }
        if has("alias") {
            self.alias = string("alias")?;
        }
        if has("env-name") {
            self.env_name = string("env-name")?;
        }
        if has("null-label") {
            self.null_label = string("null-label")?;
        }
        if has("arg-switch") {
            self.arg_switch = get("arg-switch").cloned();
        }
        for k in ["min", "max"] {
            if let Some(v) = get(k) {
                if v.as_f64().is_none() {
                    return Err(format!(
                        "invalid {k} {} for flag '{name}': expected a number",
                        yaml::flow(v)
                    ));
                }
            }
        }
        if has("min") {
            self.min = get("min").cloned();
        }
        if has("max") {
            self.max = get("max").cloned();
        }
        if has("choices") {
            self.choices.clear();
            self.choice_descriptions.clear();
        }
        match get("choices") {
            None => {}
            Some(Value::Sequence(items)) => {
                for c in items {
                    let (val, desc) = match c {
                        Value::Mapping(cm) => (
                            cm.get("value").cloned().ok_or_else(|| {
                                format!(
                                    "invalid choice {} for flag '{name}': a choice mapping needs 'value'",
                                    yaml::flow(c)
                                )
                            })?,
                            cm.get("description")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                        ),
                        other => (other.clone(), String::new()),
                    };
                    self.choices.push(val);
                    self.choice_descriptions.push(desc);
                }
            }
            Some(other) => {
                return Err(format!(
                    "invalid choices {} for flag '{name}': expected a list",
                    yaml::flow(other)
                ))
            }
        }
        Ok(())
    }

    /// A default must satisfy the flag's own type, choices and range.
    pub(crate) fn check_default(&self, cwd: &std::path::Path) -> Result<(), String> {
        match &self.default {
            // An existing-path default may be made by a dependency at run time.
            Some(_) if self.ftype == Some(FlagType::ExistingPath) => Ok(()),
            Some(v) if !v.is_null() && !self.arg_split => check(self, v, cwd)
                .map(|_| ())
                .map_err(|e| format!("default of flag '{}' is not valid: {e}", self.name)),
            _ => Ok(()),
        }
    }

    /// Per-flag command options as Guild stores them in `op.op-cmd.cmd-flags`.
    pub(crate) fn cmd_flag_attrs(&self) -> Value {
        let mut m = Mapping::new();
        if let Some(a) = &self.arg_name {
            m.insert("arg-name".into(), a.clone().into());
        }
        if self.arg_skip {
            m.insert("arg-skip".into(), true.into());
        }
        if self.arg_split {
            // As Guild records it: `true`, or the separator.
            let spec = match &self.arg_split_sep {
                Some(sep) => Value::from(sep.clone()),
                None => Value::Bool(true),
            };
            m.insert("arg-split".into(), spec);
        }
        if let Some(s) = &self.arg_switch {
            m.insert("arg-switch".into(), s.clone());
        }
        if let Some(e) = &self.env_name {
            m.insert("env-name".into(), e.clone().into());
        }
        Value::Mapping(m)
    }
}

/// Python's `int()` on a string: sign, digits, single underscores between digits.
pub(crate) fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    if !body.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Python's `float()` on a string.
pub(crate) fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    match body {
        "nan" | "inf" | "infinity" => {
            let v = if body == "nan" {
                f64::NAN
            } else {
                f64::INFINITY
            };
            return Some(if lower.starts_with('-') { -v } else { v });
        }
        _ => {}
    }
    let ok = body
        .chars()
        .all(|c| c.is_ascii_digit() || "._e+-".contains(c))
        && body.chars().any(|c| c.is_ascii_digit())
        && !body.contains("__");
    if !ok {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Decode a command-line flag value without a declared type (Guild's
/// `decode_flag_val`): int, float, sequence function, `[..]*N`, YAML, string.
/// The separator of an `arg-split` spec: None for `yes`/`true`/`shlex`
/// (a shell's word splitting), else the text given (`','`).
pub(crate) fn split_sep(spec: Option<&Value>) -> Option<String> {
    match spec {
        // YAML 1.1 booleans read as text by a YAML 1.2 parser are `yes`.
        Some(Value::String(s))
            if !matches!(
                s.to_ascii_lowercase().as_str(),
                "shlex" | "yes" | "true" | "on" | "y"
            ) =>
        {
            Some(s.clone())
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// An `arg-split` value as its parts, as Guild splits it: on `sep` (empty
/// parts dropped), or without one as a shell splits words.
pub(crate) fn split_arg(s: &str, sep: Option<&str>) -> Vec<String> {
    match sep {
        Some(sep) if !sep.is_empty() => s
            .split(sep)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect(),
        _ => shlex::split(s).unwrap_or_else(|| s.split_whitespace().map(String::from).collect()),
    }
}

pub(crate) fn decode(s: &str) -> Value {
    if s.is_empty() {
        return Value::String(String::new());
    }
    let keep_raw = (s.contains('_') || s.contains(':')) && !s.contains("!!");
    if let Some(i) = py_int(s) {
        return if keep_raw { s.into() } else { i.into() };
    }
    if let Some(f) = py_float(s) {
        return if keep_raw { s.into() } else { f.into() };
    }
    if let Some(Ok(seq)) = crate::op::flagfn::expand_sequence_fn(s) {
        return Value::Sequence(seq);
    }
    if let Some(v) = decode_repeat(s) {
        return v;
    }
    match yaml::parse_11(s) {
        Ok(Value::Number(_)) if keep_raw => s.into(),
        Err(_) => s.into(),
        Ok(v) => v,
    }
}

/// `[1, 2]*3` -> the list repeated.
fn decode_repeat(s: &str) -> Option<Value> {
    let (list, n) = s.rsplit_once("]*")?;
    let n: usize = n.trim().parse().ok()?;
    match yaml::parse_11(&format!("{list}]")).ok()? {
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len() * n);
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Some(Value::Sequence(out))
        }
        _ => None,
    }
}

/// Decode with a declared type: strings stay strings unless they look like
/// a list/quoted/mapping value.
pub(crate) fn decode_typed(s: &str, t: Option<FlagType>) -> Value {
    match t {
        Some(FlagType::String | FlagType::Path | FlagType::ExistingPath) => {
            if s.starts_with(['[', '\'', '"', '{']) {
                decode(s)
            } else {
                s.into()
            }
        }
        _ => decode(s),
    }
}

/// Coerce a decoded value to a flag's type; `Err` names the expected type.
pub(crate) fn coerce(v: &Value, t: FlagType, cwd: &std::path::Path) -> Result<Value, String> {
    let bad = || format!("invalid value for type '{}'", t.name());
    if v.is_null() {
        return Ok(Value::Null);
    }
    if let Value::Sequence(items) = v {
        return items
            .iter()
            .map(|i| coerce(i, t, cwd))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Sequence);
    }
    match t {
        // A boolean is a number in Python (`int(True)` is 1).
        FlagType::Int => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::Bool(b) => Ok(Value::from(i64::from(*b))),
            Value::String(s) => py_int(s).map(Value::from).ok_or_else(bad),
            _ => Err(bad()),
        },
        FlagType::Float => match v {
            Value::Number(n) => Ok(Value::from(n.as_f64().unwrap_or(f64::NAN))),
            Value::Bool(b) => Ok(Value::from(f64::from(u8::from(*b)))),
            Value::String(s) => py_float(s).map(Value::from).ok_or_else(bad),
            _ => Err(bad()),
        },
        FlagType::Number => match v {
            Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
            Value::String(s) => py_int(s)
                .map(Value::from)
                .or_else(|| py_float(s).map(Value::from))
                .ok_or_else(bad),
            _ => Err(bad()),
        },
        FlagType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::Bool(n.as_f64().unwrap_or(0.0) != 0.0)),
            Value::String(s) => match yaml::parse_11(s) {
                Ok(Value::Bool(b)) => Ok(Value::Bool(b)),
                Ok(Value::Number(n)) => Ok(Value::Bool(n.as_f64().unwrap_or(0.0) != 0.0)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        FlagType::String => match v {
            Value::String(_) => Ok(v.clone()),
            other => Ok(Value::String(encode_display(other))),
        },
        FlagType::Path | FlagType::ExistingPath => {
            let s = match v {
                Value::String(s) => s.clone(),
                other => encode_display(other),
            };
            let p = if std::path::Path::new(&s).is_absolute() {
                s.clone().into()
            } else {
                cwd.join(&s)
            };
            if t == FlagType::ExistingPath && !p.exists() {
                return Err(format!("{} does not exist", p.display()));
            }
            Ok(Value::String(p.display().to_string()))
        }
    }
}

/// Check a value against a definition: type, choices, min/max.
pub(crate) fn check(def: &FlagDef, v: &Value, cwd: &std::path::Path) -> Result<Value, String> {
    let v = match def.ftype {
        Some(t) => coerce(v, t, cwd)
            .map_err(|e| format!("invalid value {} for {}: {e}", encode_display(v), def.name))?,
        None => v.clone(),
    };
    if v.is_null() {
        return Ok(v);
    }
    if !def.choices.is_empty()
        && !def.allow_other
        && !def.choices.iter().any(|c| values_equal(c, &v))
    {
        let allowed: Vec<String> = def.choices.iter().map(encode_display).collect();
        return Err(format!(
            "invalid value {} for {}: choose from {}",
            encode_display(&v),
            def.name,
            allowed.join(", ")
        ));
    }
    if let (Some(min), Some(x)) = (def.min.as_ref().and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            return Err(format!(
                "invalid value {} for {}: out of range (less than min {})",
                encode_display(&v),
                def.name,
                encode_display(def.min.as_ref().unwrap_or(&Value::Null))
            ));
        }
    }
    if let (Some(max), Some(x)) = (def.max.as_ref().and_then(Value::as_f64), v.as_f64()) {
        if x > max {
            return Err(format!(
                "invalid value {} for {}: out of range (greater than max {})",
                encode_display(&v),
                def.name,
                encode_display(def.max.as_ref().unwrap_or(&Value::Null))
            ));
        }
    }
    Ok(v)
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

pub use guild_format::run::yaml::{encode_display, format_flag};

/// A value as a command-line argument for an `args` flags-dest.
pub(crate) fn encode_arg(v: &Value) -> String {
    match v {
        Value::Bool(true) => "1".into(),
        Value::Bool(false) | Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => yaml::python_float_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Sequence(items) => items
            .iter()
            .map(|i| guild_format::run::opref::quote(&encode_arg(i)))
            .collect::<Vec<_>>()
            .join(" "),
        // Python's `str()`, as Guild passes a mapping or a set.
        other => yaml::py_str(other),
    }
}

/// A value as an argument for a `globals` flags-dest (YAML flow, decoded
/// back by the op's bootstrap).
pub(crate) fn encode_global_arg(v: &Value) -> String {
    yaml::flow(v)
}

/// `FLAG_<NAME>`: upper-cased, characters outside `[A-Z0-9_]` become `_`.
pub(crate) fn env_name(def_env: Option<&str>, name: &str) -> String {
    if let Some(e) = def_env {
        return e.to_string();
    }
    let up: String = name
        .to_ascii_uppercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("FLAG_{up}")
}

/// A value as it appears in a default label.
pub(crate) fn label_val(v: &Value) -> String {
    match v {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            let s = yaml::float_repr_yaml(n.as_f64().unwrap_or(f64::NAN));
            truncate_decimals(&s, 5)
        }
        Value::String(s) if s.is_empty() => "''".into(),
        Value::String(s) if s.contains(' ') => format!("'{}'", s.replace('\'', "\\'")),
        Value::String(s) => s.clone(),
        other => encode_display(other),
    }
}

fn truncate_decimals(s: &str, n: usize) -> String {
    if s.contains('e') {
        return s.to_string();
    }
    match s.split_once('.') {
        Some((i, d)) if d.len() > n => format!("{i}.{}", &d[..n]),
        _ => s.to_string(),
    }
}

/// Guild's default label: `name=value` for every non-null flag, sorted.
pub(crate) fn default_label(flags: &Mapping) -> String {
    let mut items: Vec<(String, &Value)> = flags
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
        .into_iter()
        .map(|(k, v)| format!("{k}={}", label_val(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Expand a label template: `${flag}`, `${default_label}`, `${label}`, with
/// `|%.3f`, `|default:X`, `|basename`, `|unquote` filters.
pub(crate) fn render_label(template: &str, flags: &Mapping, extra: &[(&str, String)]) -> String {
    super::template::expand_lossy(template, |r| {
        if r.name.is_empty() {
            // Not a reference (`${|x}`): kept as written.
            return Some(format!("${{{}}}", r.text));
        }
        let val: Option<Value> = extra
            .iter()
            .find(|(k, _)| *k == r.name)
            .map(|(_, v)| Value::String(v.clone()))
            .or_else(|| flags.get(r.name).cloned());
        Some(apply_filter(val, r.filter))
    })
}

fn apply_filter(val: Option<Value>, filter: Option<&str>) -> String {
    let val = val.filter(|v| !v.is_null());
    match filter {
        Some(f) if f.starts_with('%') => match &val {
            Some(Value::Number(n)) => format_printf(f, n.as_f64().unwrap_or(f64::NAN)),
            Some(v) => label_val(v),
            None => String::new(),
        },
        Some(f) if f.starts_with("default:") => match &val {
            Some(v) => label_val(v),
            None => f["default:".len()..].to_string(),
        },
        Some("basename") => val
            .map(|v| {
                let s = label_val(&v);
                std::path::Path::new(&s)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or(s)
            })
            .unwrap_or_default(),
        Some("unquote") => val
            .map(|v| {
                label_val(&v)
                    .trim_matches(|c| c == '\'' || c == '"')
                    .to_string()
            })
            .unwrap_or_default(),
        _ => val
            .map(|v| match v {
                Value::String(s) => s,
                other => label_val(&other),
            })
            .unwrap_or_default(),
    }
}

fn format_printf(spec: &str, x: f64) -> String {
    let re = regex::Regex::new(r"^%(\d*)(?:\.(\d+))?([fdegs])$").expect("static regex");
    let Some(c) = re.captures(spec) else {
        return yaml::python_float_repr(x);
    };
    let width: usize = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
    let prec: usize = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(6);
    let s = match &c[3] {
        "f" => format!("{x:.prec$}"),
        "d" => format!("{}", x.trunc() as i64),
        "e" => format!("{x:.prec$e}"),
        _ => yaml::python_float_repr(x),
    };
    format!("{s:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yv(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn arg_split_specs_split_as_guild() {
        let spec = |y: &str| split_sep(Some(&serde_yaml_ng::from_str::<Value>(y).unwrap()));
        assert_eq!(spec("yes"), None);
        assert_eq!(spec("shlex"), None);
        assert_eq!(spec("','"), Some(",".into()));
        assert_eq!(split_arg("1 2 'a b'", None), ["1", "2", "a b"]);
        assert_eq!(split_arg("1,2,,3", Some(",")), ["1", "2", "3"]);
        assert_eq!(split_arg("a b", Some(",")), ["a b"]);
        let mut d = FlagDef::new("y");
        let v: Value = serde_yaml_ng::from_str("{arg-split: ',', default: 1,2,3}").unwrap();
        d.apply_config(&v).unwrap();
        assert!(d.arg_split);
        assert_eq!(d.split("1,2,3"), ["1", "2", "3"]);
        assert_eq!(
            d.cmd_flag_attrs(),
            serde_yaml_ng::from_str::<Value>("{arg-split: ','}").unwrap()
        );
    }

    #[test]
    fn decodes_like_guild() {
        assert_eq!(decode("1"), yv("1"));
        assert_eq!(decode("1.0"), yv("1.0"));
        assert_eq!(decode("1e-3"), Value::from(0.001));
        assert_eq!(decode(".5"), Value::from(0.5));
        assert_eq!(decode("+1"), yv("1"));
        assert_eq!(decode("010"), yv("10"));
        assert_eq!(decode("1_000"), Value::from("1_000"));
        assert_eq!(decode("1:30"), Value::from("1:30"));
        assert_eq!(decode("0x10"), yv("16"));
        assert_eq!(decode("yes"), Value::Bool(true));
        assert_eq!(decode("off"), Value::Bool(false));
        assert_eq!(decode("y"), Value::from("y"));
        assert_eq!(decode("null"), Value::Null);
        assert_eq!(decode("None"), Value::from("None"));
        assert_eq!(decode("[1, a, \"b c\"]"), yv("[1, a, 'b c']"));
        assert_eq!(decode("{a: 1}"), yv("{a: 1}"));
        assert_eq!(decode("'1'"), Value::from("1"));
        assert_eq!(decode("a b"), Value::from("a b"));
        assert_eq!(decode(""), Value::from(""));
        assert_eq!(decode("[1]*3"), yv("[1, 1, 1]"));
        assert_eq!(decode("range[1:3]"), yv("[1, 2, 3]"));
        assert_eq!(decode("uniform[0:1]"), Value::from("uniform[0:1]"));
        assert!(decode("nan").as_f64().unwrap().is_nan());
    }

    #[test]
    fn checks_types_and_choices() {
        let cwd = std::path::Path::new("/");
        let mut d = FlagDef::new("lr");
        d.ftype = Some(FlagType::Float);
        assert_eq!(check(&d, &Value::from(1), cwd).unwrap(), Value::from(1.0));
        let e = check(&d, &Value::from("abc"), cwd).unwrap_err();
        assert_eq!(
            e,
            "invalid value abc for lr: invalid value for type 'float'"
        );
        let mut c = FlagDef::new("opt");
        c.choices = vec!["adam".into(), "sgd".into()];
        assert!(check(&c, &Value::from("rms"), cwd)
            .unwrap_err()
            .contains("choose from adam, sgd"));
        let mut i = FlagDef::new("n");
        i.ftype = Some(FlagType::Int);
        assert!(check(&i, &Value::from(1.5), cwd).is_err());
        i.max = Some(Value::from(3));
        assert!(check(&i, &Value::from(4), cwd)
            .unwrap_err()
            .contains("greater than max 3"));
    }

    #[test]
    fn labels_and_encodings() {
        let flags: Mapping = serde_yaml_ng::from_str(
            "{lr: 0.123456789, b: true, s: 'a b', x: '', e: 1.0e-10, l: [1, 2], n: null}",
        )
        .unwrap();
        assert_eq!(
            default_label(&flags),
            "b=yes e=1.0e-10 l=[1, 2] lr=0.12345 s='a b' x=''"
        );
        assert_eq!(encode_arg(&Value::from(1e-5)), "1e-05");
        assert_eq!(encode_arg(&Value::from(0.2)), "0.2");
        assert_eq!(encode_global_arg(&Value::Bool(false)), "false");
        assert_eq!(encode_global_arg(&Value::from("1")), "'1'");
        assert_eq!(env_name(None, "no-cuda"), "FLAG_NO_CUDA");
        let f: Mapping = serde_yaml_ng::from_str("{lr: 0.3, epochs: 3}").unwrap();
        assert_eq!(
            render_label(
                "x ${lr|%.3f} ${default_label}",
                &f,
                &[("default_label", default_label(&f))]
            ),
            "x 0.300 epochs=3 lr=0.3"
        );
    }
}
