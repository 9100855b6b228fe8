//! YAML as Guild 0.9 writes and reads it.
//!
//! Guild writes every attr with PyYAML's `safe_dump(default_flow_style=False,
//! indent=2)`; this module emits the same text (sorted keys, indentless lists,
//! quoting of anything YAML 1.1 would not read back as a string, Python float
//! repr, folding at 80 columns), so attrs written here are byte-for-byte what
//! Guild writes for the same values. serde_yaml_ng cannot be told to produce
//! that layout, hence the emitter; parsing is serde_yaml_ng's, plus the YAML
//! 1.1 readings (`yes`/`no`/`on`/`off`) that PyYAML applies to hand-written
//! files such as guild.yml.

use regex_lite::Regex;
use serde_yaml_ng::{Mapping, Number, Value};
use std::sync::OnceLock;

const BEST_WIDTH: usize = 80;

/// Parse YAML written by PyYAML (attrs): quoting there is already YAML 1.1-safe.
pub fn parse(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    if text.contains("!!set") {
        return serde_yaml_ng::from_str(&text.replace("!!set", SET_TAG));
    }
    serde_yaml_ng::from_str(text)
}

/// The tag `!!set` is read as (serde_yaml_ng resolves core tags away).
const SET_TAG: &str = "!__set";

/// Parse hand-written YAML (guild.yml, flag values) with YAML 1.1 booleans
/// (a `!!set` stays tagged).
pub fn parse_11(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    let v = parse(text)?;
    // A quoted scalar stays a string (`'yes'`).
    if matches!(v, Value::String(_)) && text.trim_start().starts_with(['\'', '"']) {
        return Ok(v);
    }
    Ok(coerce_11(v))
}

/// Apply PyYAML's YAML 1.1 readings of plain scalars that YAML 1.2 keeps as strings.
pub(crate) fn coerce_11(v: Value) -> Value {
    match v {
        Value::String(s) => match s.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" => Value::Bool(false),
            _ => Value::String(s),
        },
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(coerce_11).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, v)| (coerce_11(k), coerce_11(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Emit `value` as Guild writes an attr file (`safe_dump`, stripped, `\n`;
/// strict: `y`/`n` quoted).
pub fn dump(value: &Value) -> String {
    dump_with(value, true)
}

/// Emit `value` as PyYAML's `safe_dump` does (Guild's non-strict
/// `encode_yaml`: generated config files).
pub fn dump_plain(value: &Value) -> String {
    dump_with(value, false)
}

fn dump_with(value: &Value, strict: bool) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => emit_mapping(&mut out, m, 0, strict),
        Value::Sequence(s) if !s.is_empty() => emit_sequence(&mut out, s, 0, strict),
        other => {
            emit_scalar_inline(&mut out, other, 2, 0, strict);
            out.push('\n');
        }
    }
    out
}

fn sorted_entries(m: &Mapping) -> Vec<(&Value, &Value)> {
    let mut entries: Vec<(&Value, &Value)> = m.iter().collect();
    entries.sort_by_key(|e| key_sort(e.0));
    entries
}

fn key_sort(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => flow(other),
    }
}

fn emit_mapping(out: &mut String, m: &Mapping, indent: usize, strict: bool) {
    for (i, (k, v)) in sorted_entries(m).into_iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        let col = indent;
        let before = out.len();
        emit_scalar_inline(out, k, indent, col, strict);
        out.push(':');
        let key_width = out.len() - before + 1;
        match v {
            Value::Mapping(sub) if !sub.is_empty() => {
                out.push('\n');
                emit_mapping(out, sub, indent + 2, strict);
            }
            Value::Sequence(seq) if !seq.is_empty() => {
                out.push('\n');
                emit_sequence(out, seq, indent, strict);
            }
            // A set, as PyYAML writes one: its members as mapping keys.
            Value::Tagged(t) if is_set_tag(&t.tag) => match &t.value {
                Value::Mapping(sub) if !sub.is_empty() => {
                    out.push_str(" !!set\n");
                    emit_mapping(out, sub, indent + 2, strict);
                }
                _ => out.push_str(" !!set {}\n"),
            },
            other => {
                out.push(' ');
                emit_scalar_inline(out, other, indent + 2, indent + key_width + 1, strict);
                out.push('\n');
            }
        }
    }
}

fn emit_sequence(out: &mut String, seq: &[Value], indent: usize, strict: bool) {
    for (i, item) in seq.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Mapping(m) if !m.is_empty() => emit_mapping(out, m, indent + 2, strict),
            Value::Sequence(s) if !s.is_empty() => emit_sequence(out, s, indent + 2, strict),
            other => {
                emit_scalar_inline(out, other, indent + 2, indent + 2, strict);
                out.push('\n');
            }
        }
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// A scalar (or empty collection) in block context at column `col`;
/// continuation lines of folded strings are indented by `indent`.
fn emit_scalar_inline(out: &mut String, v: &Value, indent: usize, col: usize, strict: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => emit_string(out, s, indent, col, strict),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Tagged(t) => emit_scalar_inline(out, &t.value, indent, col, strict),
    }
}

/// A number as PyYAML writes it: ints plain, floats as Python's repr with
/// `.0` forced before an exponent, `.nan`, `.inf`.
pub(crate) fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    float_repr_yaml(n.as_f64().unwrap_or(f64::NAN))
}

/// A float as PyYAML writes it: Python's repr (`.nan`, `.inf`, `1.0e+20`).
pub fn float_repr_yaml(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let r = python_float_repr(f).to_lowercase();
    if !r.contains('.') && r.contains('e') {
        r.replacen('e', ".0e", 1)
    } else {
        r
    }
}

/// Python's `repr(float)`: shortest round-trip digits, fixed notation for
/// exponents in [-4, 16), else `d.ddde+XX`.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", f); // e.g. "-1.2345e-5"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let mut s = String::new();
        if exp < 0 {
            s.push_str("0.");
            for _ in 0..(-exp - 1) {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                s.push_str(&digits);
                for _ in digits.len()..int_len {
                    s.push('0');
                }
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        }
        format!("{sign}{s}")
    } else {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// PyYAML's YAML 1.1 implicit resolvers for bool, int, float (plus Guild's
/// `1e3` float patch), null, merge, value; and timestamp.
const RESOLVERS: [&str; 2] = [
    concat!(
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+",
        r"|~|null|Null|NULL|<<|=)$"
    ),
    concat!(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    ),
];

/// The resolvers, compiled by regex-lite: compiling them with `regex`
/// cost a third of a millisecond per process, more than matching the few
/// strings that reach them ever will.
fn resolvers() -> &'static [Regex; 2] {
    static R: OnceLock<[Regex; 2]> = OnceLock::new();
    R.get_or_init(|| RESOLVERS.map(|p| Regex::new(p).expect("static regex")))
}

/// True when YAML 1.1 would read the plain text `s` as something other than a string.
pub(crate) fn resolves_to_non_string(s: &str) -> bool {
    // Both patterns use only these characters: text with any other
    // (most paths, names and words) is a string without compiling them.
    const CAN_MATCH: &[u8] = b"0123456789_+-.:~<= \tabcdefilnorstuxyzABCDEFILNORSTUXYZ";
    if s.is_empty() || !s.bytes().all(|b| CAN_MATCH.contains(&b)) {
        return false;
    }
    let [a, b] = resolvers();
    a.is_match(s) || b.is_match(s)
}

/// Whether PyYAML writes `s` plain (unquoted) as a top-level scalar.
pub(crate) fn plain_scalar(s: &str) -> bool {
    matches!(choose_style(s), Style::Plain)
}

enum Style {
    Plain,
    Single,
    Double,
}

fn choose_style(s: &str) -> Style {
    if s.is_empty() {
        return Style::Single;
    }
    let special = s.chars().any(|c| !(' '..='~').contains(&c));
    if special {
        return Style::Double;
    }
    if resolves_to_non_string(s) || !plain_allowed(s) {
        return Style::Single;
    }
    Style::Plain
}

/// PyYAML's `analyze_scalar` rules for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if chars[0] == ' ' || chars[chars.len() - 1] == ' ' {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= chars.len() || chars[i + 1] == ' ' || chars[i + 1] == '\t';
        let preceded_by_ws = i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t');
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                return false;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_ws {
                return false;
            }
        } else {
            if c == ':' && followed_by_ws {
                return false;
            }
            if c == '#' && preceded_by_ws {
                return false;
            }
        }
        if c == '\t' {
            return false;
        }
    }
    true
}

fn emit_string(out: &mut String, s: &str, indent: usize, col: usize, strict: bool) {
    // Guild writes attrs "strict": the one-letter booleans of the YAML
    // spec (`y`, `n`) are quoted too, so other YAML readers keep them.
    let style = if strict && matches!(s, "y" | "Y" | "n" | "N") {
        Style::Single
    } else {
        choose_style(s)
    };
    match style {
        Style::Plain => fold(out, s, indent, col),
        Style::Single => {
            out.push('\'');
            fold(out, &s.replace('\'', "''"), indent, col + 1);
            out.push('\'');
        }
        Style::Double => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    '\0' => out.push_str("\\0"),
                    c if (' '..='~').contains(&c) => out.push(c),
                    c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
                    c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push_str(&format!("\\U{:08X}", c as u32)),
                }
            }
            out.push('"');
        }
    }
}

/// PyYAML's line folding: a single space seen past column 80 becomes a line
/// break plus indent.
fn fold(out: &mut String, s: &str, indent: usize, start_col: usize) {
    let mut column = start_col;
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == ' ' {
            let single =
                i + 1 < bytes.len() && bytes[i + 1] != ' ' && (i == 0 || bytes[i - 1] != ' ');
            if single && column > BEST_WIDTH && i > 0 {
                out.push('\n');
                pad(out, indent);
                column = indent;
                i += 1;
                continue;
            }
        }
        out.push(c);
        column += 1;
        i += 1;
    }
}

/// One-line YAML flow form, as used in displays of flag values.
/// Python's `str()` of a value.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a value.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => match n.as_u64() {
                Some(u) => u.to_string(),
                None => python_float_repr(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        Value::String(s) => {
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::new();
            out.push(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                        out.push_str(&format!("\\x{:02x}", c as u32))
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
            out
        }
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Mapping(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) => match &t.value {
            Value::Mapping(m) if is_set_tag(&t.tag) => format!(
                "{{{}}}",
                m.keys().map(py_repr).collect::<Vec<_>>().join(", ")
            ),
            other => py_repr(other),
        },
    }
}

/// The YAML `!!set` tag (`tag:yaml.org,2002:set`).
pub(crate) fn is_set_tag(tag: &serde_yaml_ng::value::Tag) -> bool {
    let t = tag.to_string();
    t == SET_TAG || t == "!!set" || t.ends_with(":set")
}

/// A value in YAML flow style on one line (`[a, b]`, `{k: v}`), keys sorted.
pub fn flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => number(n),
        Value::String(s) => {
            let mut out = String::new();
            match choose_style(s) {
                Style::Plain if !s.contains([',', '[', ']', '{', '}']) => out.push_str(s),
                Style::Double => emit_string(&mut out, s, 0, 0, false),
                _ => {
                    out.push('\'');
                    out.push_str(&s.replace('\'', "''"));
                    out.push('\'');
                }
            }
            out
        }
        Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Mapping(m) => {
            let parts: Vec<String> = sorted_entries(m)
                .into_iter()
                .map(|(k, v)| format!("{}: {}", flow(k), flow(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        // PyYAML's `!!set` (a mapping of members to null).
        Value::Tagged(t) if is_set_tag(&t.tag) => format!("!!set {}", flow(&t.value)),
        Value::Tagged(t) => flow(&t.value),
    }
}

/// Guild's `encode_flag_val`: yes/no, null, `[a, b]`, `{k: v}`, YAML flow.
pub fn encode_display(v: &Value) -> String {
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Null => "null".into(),
        Value::Sequence(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| {
                    let s = encode_display(i);
                    if s.contains(',') {
                        format!("'{s}'")
                    } else {
                        s
                    }
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Mapping(_) => flow(v),
        Value::Number(n) => number(n),
        // A top-level scalar: block rules (`1,2,3` stays plain).
        Value::String(s) if plain_scalar(s) => s.clone(),
        Value::String(_) => flow(v),
        Value::Tagged(t) => encode_display(&t.value),
    }
}

/// Guild's `format_flag`: [`encode_display`], and a string with a space
/// quoted as Python's `repr` (`'flu flam'`).
pub fn format_flag(v: &Value) -> String {
    let encoded = encode_display(v);
    match v {
        Value::String(_) if encoded.contains(' ') && !encoded.starts_with(['\'', '"']) => {
            py_repr(&Value::String(encoded))
        }
        _ => encoded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_lite_resolves_as_regex_does() {
        let full = RESOLVERS.map(|p| regex::Regex::new(p).unwrap());
        let [a, b] = resolvers();
        let alphabet: Vec<char> = "0123456789_+-.:~<= \tTtZeEabfxinoyslrNOYFAL"
            .chars()
            .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize + 1;
            let t: String = (0..len)
                .map(|i| alphabet[((seed >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(a.is_match(&t), full[0].is_match(&t), "{t:?}");
            assert_eq!(b.is_match(&t), full[1].is_match(&t), "{t:?}");
        }
        for t in [
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 Z",
            "1:30",
            "0x1F",
            "-.Inf",
        ] {
            assert!(a.is_match(t) || b.is_match(t), "{t}");
        }
    }

    #[test]
    fn the_character_filter_agrees_with_the_resolvers() {
        let [a, b] = resolvers();
        for t in [
            "yes",
            "No",
            "OFF",
            "~",
            "<<",
            "=",
            "0x1F",
            "0b101",
            "017",
            "-12",
            "1_000",
            "1:30",
            "3.14",
            ".5",
            "1e3",
            "-1E-3",
            ".inf",
            "-.Inf",
            ".NaN",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 Z",
            "null",
            "t.sh",
            "adam",
            "/tmp/x",
            "exec_script",
            "v1",
            "1.2.3",
            "é",
            "yes\n",
            "0.1 ",
        ] {
            let by_regex = a.is_match(t) || b.is_match(t);
            assert_eq!(resolves_to_non_string(t), by_regex, "{t}");
        }
    }

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(0.1), "0.1");
        assert_eq!(python_float_repr(1e-5), "1e-05");
        assert_eq!(python_float_repr(0.0001), "0.0001");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(123.0), "123.0");
        assert_eq!(python_float_repr(1.5e300), "1.5e+300");
        assert_eq!(python_float_repr(-2.5), "-2.5");
        assert_eq!(float_repr_yaml(1e-5), "1.0e-05");
        assert_eq!(float_repr_yaml(1000000.0), "1000000.0");
        assert_eq!(float_repr_yaml(f64::NAN), ".nan");
    }

    #[test]
    fn dumps_like_pyyaml() {
        assert_eq!(dump(&y("0")), "0\n");
        assert_eq!(dump(&Value::String("yes".into())), "'yes'\n");
        assert_eq!(dump(&Value::String("1".into())), "'1'\n");
        assert_eq!(dump(&Value::String("".into())), "''\n");
        assert_eq!(dump(&Value::String("2020-01-01".into())), "'2020-01-01'\n");
        assert_eq!(dump(&Value::String("y".into())), "'y'\n");
        assert_eq!(dump_plain(&Value::String("y".into())), "y\n");
        assert_eq!(dump(&Value::String("caf\u{e9}".into())), "\"caf\\xE9\"\n");
        assert_eq!(dump(&y("{b: 1, a: [x, 2]}")), "a:\n- x\n- 2\nb: 1\n");
        assert_eq!(dump(&y("{a: {c: 1, b: []}}")), "a:\n  b: []\n  c: 1\n");
        assert_eq!(dump(&y("[{a: 1, b: 2}]")), "- a: 1\n  b: 2\n");
        assert_eq!(dump(&y("{}")), "{}\n");
        assert_eq!(
            dump(&y("{lr: 1.0e-05, x: null, d: false}")),
            "d: false\nlr: 1.0e-05\nx: null\n"
        );
    }

    #[test]
    fn folds_long_plain_strings_like_pyyaml() {
        let s = "batch=32 lr=0.1 name=x operation:prepare=c402f1b2cc6f4060bfdc01c044e227ab opt=adam quiet=no";
        assert_eq!(
            dump(&Value::String(s.into())),
            "batch=32 lr=0.1 name=x operation:prepare=c402f1b2cc6f4060bfdc01c044e227ab opt=adam\n  quiet=no\n"
        );
    }

    #[test]
    fn round_trips_through_parse() {
        for s in [
            "yes", "no", "1e3", "0.1", "null", "~", "a: b", "- x", "#c", "'q'", "1:30", "x y",
        ] {
            let v = Value::String(s.into());
            assert_eq!(parse(&dump(&v)).unwrap(), v, "{s}");
        }
    }

    #[test]
    fn yaml11_booleans() {
        assert_eq!(parse_11("yes").unwrap(), Value::Bool(true));
        assert_eq!(parse_11("'yes'").unwrap(), Value::String("yes".into()));
        let set = parse_11("!!set {1,2,3}").unwrap();
        assert_eq!(flow(&set), "!!set {1: null, 2: null, 3: null}");
        let mut m = Mapping::new();
        m.insert("s".into(), set);
        let text = dump(&Value::Mapping(m.clone()));
        assert_eq!(text, "s: !!set\n  1: null\n  2: null\n  3: null\n");
        assert_eq!(parse(&text).unwrap(), Value::Mapping(m));
        assert_eq!(parse_11("[on, off]").unwrap(), y("[true, false]"));
    }
}
