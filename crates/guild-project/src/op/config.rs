//! Config files as flags (`flags-dest: config:PATH`), as Guild 0.9 does
//! them: flags are imported from a YAML, JSON or INI/CFG file (nested keys
//! become dotted names), and each run gets its own copy of the file, written
//! with the run's flag values, under `.guild/generated/` and at the file's
//! place in the run directory.

use super::flags::{FlagDef, FlagType};
use guild_format::run::yaml;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// The kinds of config file Guild reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Yaml,
    Json,
    Cfg,
}

impl Kind {
    /// By extension; `NAME.EXT.in` is read as `NAME.EXT`.
    pub(crate) fn of(path: &str) -> Option<Kind> {
        let lower = path.to_ascii_lowercase();
        let p = lower.strip_suffix(".in").unwrap_or(&lower);
        let ext = Path::new(p).extension()?.to_str()?;
        match ext {
            "yml" | "yaml" => Some(Kind::Yaml),
            "json" => Some(Kind::Json),
            "cfg" | "ini" => Some(Kind::Cfg),
            _ => None,
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The flags a config file defines: one per leaf (dotted names for nested
/// keys), typed by its value; a list becomes a space-separated default with
/// `arg-split`.
pub(crate) fn import_flags(path: &Path) -> Result<Vec<FlagDef>, String> {
    let kind = Kind::of(&path.to_string_lossy())
        .ok_or_else(|| format!("config type for {} not supported", path.display()))?;
    let leaves: Vec<(String, Value)> = match kind {
        Kind::Cfg => cfg_typed(&parse_cfg(&read(path)?)?),
        _ => {
            let mut out = Vec::new();
            flatten("", &load(path, kind)?, &mut out);
            out
        }
    };
    let mut flags = Vec::new();
    for (name, v) in leaves {
        let mut f = FlagDef::new(&name);
        match &v {
            Value::Null => {}
            Value::String(_) => f.ftype = Some(FlagType::String),
            Value::Bool(_) => f.ftype = Some(FlagType::Boolean),
            Value::Number(_) => f.ftype = Some(FlagType::Number),
            Value::Sequence(items) => {
                f.arg_split = true;
                let parts: Vec<String> = items
                    .iter()
                    .map(|x| guild_format::run::opref::quote(yaml::dump(x).trim_end()))
                    .collect();
                f.default = Some(Value::String(parts.join(" ")));
                flags.push(f);
                continue;
            }
            // Other values (tagged) are not flags.
            _ => continue,
        }
        f.default = Some(v).filter(|v| !v.is_null());
        flags.push(f);
    }
    Ok(flags)
}

/// Guild's `_iter_keyvals`: leaves of nested mappings with dotted names.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    let Value::Mapping(m) = v else { return };
    for (k, v) in m {
        let key = match k {
            Value::String(s) => s.clone(),
            other => super::flags::encode_display(other),
        };
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match v {
            Value::Mapping(_) => flatten(&name, v, out),
            other => out.push((name, other.clone())),
        }
    }
}

/// A YAML (1.1 readings, as PyYAML) or JSON file as a value; a CFG file
/// as nested sections of strings.
fn load(path: &Path, kind: Kind) -> Result<Value, String> {
    let text = read(path)?;
    match kind {
        Kind::Yaml => yaml::parse_11(&text).map_err(|e| e.to_string()),
        Kind::Json => serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|j| serde_yaml_ng::to_value(j).map_err(|e| e.to_string())),
        Kind::Cfg => {
            let cfg = parse_cfg(&text)?;
            let mut flat = Mapping::new();
            for (name, v) in &cfg.defaults {
                flat.insert(name.clone().into(), v.clone().into());
            }
            for (section, opts) in &cfg.sections {
                for (name, v) in cfg.options(opts) {
                    flat.insert(format!("{section}.{name}").into(), v.into());
                }
            }
            let mut nested = Value::Mapping(Mapping::new());
            nested_config(&flat, &mut nested)?;
            Ok(nested)
        }
    }
}

/// The run's copy of config file `src`: `params` then the run's `flags`
/// (non-null values; `arg-split` values split into lists; `arg-name` as
/// the key) applied as dotted keys, encoded as the file's kind.
pub(crate) fn generate(
    src: &Path,
    params: Option<&Value>,
    flags: &Mapping,
    defs: &[FlagDef],
) -> Result<String, String> {
    let name = src.to_string_lossy();
    let kind = Kind::of(&name).ok_or_else(|| format!("unsupported file type for '{name}'"))?;
    let mut config =
        load(src, kind).map_err(|e| format!("error loading config from {name}: {e}"))?;
    if !matches!(config, Value::Mapping(_)) {
        config = Value::Mapping(Mapping::new());
    }
    if let Some(Value::Mapping(p)) = params {
        nested_config(p, &mut config)?;
    }
    let mut applied = Mapping::new();
    for (k, v) in flags {
        let Some(name) = k.as_str() else { continue };
        if v.is_null() {
            continue;
        }
        let def = defs.iter().find(|d| d.name == name);
        let v = match (v, def.filter(|d| d.arg_split)) {
            (Value::String(s), Some(d)) => {
                Value::Sequence(d.split(s).iter().map(|p| super::flags::decode(p)).collect())
            }
            (other, _) => other.clone(),
        };
        let key = def
            .and_then(|d| d.arg_name.clone())
            .unwrap_or_else(|| name.to_string());
        applied.insert(key.into(), v);
    }
    nested_config(&applied, &mut config)?;
    Ok(match kind {
        Kind::Yaml => yaml::dump_plain(&config).trim_end().to_string(),
        Kind::Json => py_json(&config),
        Kind::Cfg => encode_cfg(&config),
    })
}

/// Guild's `util.nested_config`: set each dotted key (in sorted order) in
/// `nested`, making mappings on the way.
fn nested_config(kv: &Mapping, nested: &mut Value) -> Result<(), String> {
    let mut items: Vec<(String, &Value)> = kv
        .iter()
        .map(|(k, v)| {
            let k = match k {
                Value::String(s) => s.clone(),
                other => super::flags::encode_display(other),
            };
            (k, v)
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, val) in items {
        let parts: Vec<&str> = name.split('.').collect();
        let mut cur = &mut *nested;
        for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
            let Value::Mapping(m) = cur else { break };
            let next = m
                .entry(Value::String(part.to_string()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if !matches!(next, Value::Mapping(_)) {
                return Err(format!(
                    "'{name}' cannot be nested: conflicts with {{'{}': {}}}",
                    parts[..=i].join("."),
                    yaml::py_str(next)
                ));
            }
            cur = next;
        }
        if let Value::Mapping(m) = cur {
            m.insert(
                Value::String(parts[parts.len() - 1].to_string()),
                val.clone(),
            );
        }
    }
    Ok(())
}

/// An INI file as Python's `configparser` reads it (keys lower-cased,
/// `=` or `:` delimiters, `#`/`;` comment lines, indented continuations).
#[derive(Debug, Default)]
pub(crate) struct Cfg {
    defaults: Vec<(String, String)>,
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Cfg {
    /// `configparser.options(section)`: its own options, then the defaults.
    fn options(&self, own: &[(String, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = own.to_vec();
        for (k, v) in &self.defaults {
            match out.iter_mut().find(|(n, _)| n == k) {
                Some(_) => {}
                None => out.push((k.clone(), v.clone())),
            }
        }
        out
    }
}

fn set_opt(opts: &mut Vec<(String, String)>, k: String, v: String) {
    match opts.iter_mut().find(|(n, _)| *n == k) {
        Some(e) => e.1 = v,
        None => opts.push((k, v)),
    }
}

fn parse_cfg(text: &str) -> Result<Cfg, String> {
    let mut cfg = Cfg::default();
    // None: DEFAULT; Some(i): sections[i].
    let mut cur: Option<usize> = None;
    let mut in_section = false;
    let mut last_key: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented {
            if let Some(k) = &last_key {
                let opts = match cur {
                    None => &mut cfg.defaults,
                    Some(i) => &mut cfg.sections[i].1,
                };
                if let Some(e) = opts.iter_mut().find(|(n, _)| n == k) {
                    e.1.push('\n');
                    e.1.push_str(trimmed);
                }
                continue;
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            in_section = true;
            last_key = None;
            if name == "DEFAULT" {
                cur = None;
            } else {
                cur = Some(match cfg.sections.iter().position(|(s, _)| s == name) {
                    Some(i) => i,
                    None => {
                        cfg.sections.push((name.to_string(), Vec::new()));
                        cfg.sections.len() - 1
                    }
                });
            }
            continue;
        }
        if !in_section {
            return Err(format!(
                "File contains no section headers (line {}: {trimmed:?})",
                n + 1
            ));
        }
        let at = trimmed.find(['=', ':']).ok_or_else(|| {
            format!(
                "Source contains parsing errors: line {}: {trimmed:?}",
                n + 1
            )
        })?;
        let key = trimmed[..at].trim().to_lowercase();
        let val = trimmed[at + 1..].trim().to_string();
        let opts = match cur {
            None => &mut cfg.defaults,
            Some(i) => &mut cfg.sections[i].1,
        };
        set_opt(opts, key.clone(), val);
        last_key = Some(key);
    }
    Ok(cfg)
}

/// Typed leaves of an INI file, as Guild imports them: int, float,
/// boolean (`yes`/`on`/`1`...), else the string.
fn cfg_typed(cfg: &Cfg) -> Vec<(String, Value)> {
    let typed = |s: &str| -> Value {
        if let Some(i) = super::flags::py_int(s) {
            return i.into();
        }
        if let Some(f) = super::flags::py_float(s) {
            return f.into();
        }
        match s.to_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Value::Bool(true),
            "0" | "no" | "false" | "off" => Value::Bool(false),
            _ => Value::String(s.to_string()),
        }
    };
    let mut out: Vec<(String, Value)> = cfg
        .defaults
        .iter()
        .map(|(k, v)| (k.clone(), typed(v)))
        .collect();
    for (section, own) in &cfg.sections {
        for (k, v) in cfg.options(own) {
            out.push((format!("{section}.{k}"), typed(&v)));
        }
    }
    out
}

/// Guild's `util.encode_cfg`: top-level values in `[DEFAULT]`, mappings as
/// sections, both sorted, values as Python's `str()`.
fn encode_cfg(config: &Value) -> String {
    let Value::Mapping(m) = config else {
        return String::new();
    };
    let mut items: Vec<(String, &Value)> = m
        .iter()
        .map(|(k, v)| {
            (
                k.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| yaml::py_str(k)),
                v,
            )
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (k, v) in items {
        match v {
            Value::Mapping(sub) => {
                let mut opts: Vec<(String, String)> = sub
                    .iter()
                    .map(|(ok, ov)| {
                        (
                            ok.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| yaml::py_str(ok))
                                .to_lowercase(),
                            yaml::py_str(ov),
                        )
                    })
                    .collect();
                opts.sort_by(|a, b| a.0.cmp(&b.0));
                sections.push((k, opts));
            }
            other => defaults.push((k.to_lowercase(), yaml::py_str(other))),
        }
    }
    let mut out = String::new();
    let mut write = |name: &str, opts: &[(String, String)]| {
        out.push_str(&format!("[{name}]\n"));
        for (k, v) in opts {
            out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
        }
        out.push('\n');
    };
    if !defaults.is_empty() {
        write("DEFAULT", &defaults);
    }
    for (name, opts) in &sections {
        write(name, opts);
    }
    out
}

/// Python's `json.dumps(v, sort_keys=True)`.
fn py_json(v: &Value) -> String {
    let mut out = String::new();
    json_into(&mut out, v);
    out
}

fn json_into(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (_, Some(u)) => out.push_str(&u.to_string()),
            _ => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                out.push_str(&if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    yaml::python_float_repr(f)
                })
            }
        },
        Value::String(s) => json_str(out, s),
        Value::Sequence(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_into(out, x);
            }
            out.push(']');
        }
        Value::Mapping(m) => {
            let mut items: Vec<(String, &Value)> = m
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
                        Value::Null => "null".into(),
                        other => yaml::py_str(other),
                    };
                    (k, v)
                })
                .collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_str(out, &k);
                out.push_str(": ");
                json_into(out, v);
            }
            out.push('}');
        }
        Value::Tagged(t) => json_into(out, &t.value),
    }
}

/// A JSON string with Python's default `ensure_ascii` escapes.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn imports_typed_flags_from_each_kind() {
        let d = tempfile::tempdir().unwrap();
        let y = write(
            d.path(),
            "f.yml",
            "i: 123\nf: 1.123\ns: Howdy\nb: no\nl: [1, 1.2, blue, yes]\nd: {}\na: {b: {c: 1}}\n",
        );
        let flags = import_flags(&y).unwrap();
        let names: Vec<&str> = flags.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["i", "f", "s", "b", "l", "a.b.c"]);
        assert_eq!(flags[3].default, Some(Value::Bool(false)));
        assert_eq!(flags[3].ftype, Some(FlagType::Boolean));
        assert_eq!(flags[4].default, Some("1 1.2 blue true".into()));
        assert!(flags[4].arg_split);
        let c = write(
            d.path(),
            "f.cfg",
            "[DEFAULT]\ni = 123\nb = yes\n\n[foo]\nb = 0\ns = hello there\n",
        );
        let flags = import_flags(&c).unwrap();
        let got: Vec<(String, Option<Value>)> =
            flags.into_iter().map(|f| (f.name, f.default)).collect();
        assert_eq!(
            got,
            vec![
                ("i".into(), Some(123.into())),
                ("b".into(), Some(true.into())),
                ("foo.b".into(), Some(0.into())),
                ("foo.s".into(), Some("hello there".into())),
                ("foo.i".into(), Some(123.into())),
            ]
        );
        assert!(import_flags(&d.path().join("x.badext")).is_err());
    }

    #[test]
    fn generates_each_kind_with_run_flags() {
        let d = tempfile::tempdir().unwrap();
        let j = write(
            d.path(),
            "f.json.in",
            r#"{"i": 456, "s": "flu", "l": [1, 2], "d": {"a": "A", "b": "B"}}"#,
        );
        let mut l = FlagDef::new("l");
        l.arg_split = true;
        let mut aa = FlagDef::new("aa");
        aa.arg_name = Some("d.a".into());
        let mut flags = Mapping::new();
        flags.insert("l".into(), "2 1 'a b' d".into());
        flags.insert("aa".into(), "AAA".into());
        flags.insert("i".into(), Value::Null);
        assert_eq!(
            generate(&j, None, &flags, &[l, aa]).unwrap(),
            r#"{"d": {"a": "AAA", "b": "B"}, "i": 456, "l": [2, 1, "a b", "d"], "s": "flu"}"#
        );
        let c = write(
            d.path(),
            "f.cfg",
            "[DEFAULT]\ni = 123\nb = yes\n\n[foo]\nb = 0\n",
        );
        let mut flags = Mapping::new();
        flags.insert("b".into(), false.into());
        flags.insert("foo.f".into(), 432.2.into());
        assert_eq!(
            generate(&c, None, &flags, &[]).unwrap(),
            "[DEFAULT]\nb = False\ni = 123\n\n[foo]\nb = 0\nf = 432.2\ni = 123\n\n"
        );
        let y = write(d.path(), "f.yml", "b: no\nl:\n  - 1\n");
        let mut flags = Mapping::new();
        flags.insert("b".into(), true.into());
        flags.insert("x.y".into(), "s".into());
        assert_eq!(
            generate(&y, None, &flags, &[]).unwrap(),
            "b: true\nl:\n- 1\nx:\n  y: s"
        );
        let mut bad = Mapping::new();
        bad.insert("b.c".into(), 1.into());
        assert!(generate(&y, None, &bad, &[]).is_err());
    }
}
