//! Optimizers of an operation (`optimizer:`/`optimizers:` in guild.yml) and
//! the choice `--optimizer NAME`/`--optimize` makes, as Guild 0.9 does: a
//! named optimizer is an algorithm (a built-in, or any operation of the
//! project) with default flags.

use super::OpDef;
use guild_format::error::{Error, Result};
use serde_yaml_ng::{Mapping, Value};

/// One optimizer an operation declares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptimizerDef {
    pub(crate) name: String,
    /// What runs it: a built-in (`+`, `random`, `gp`...) or an operation.
    pub(crate) opspec: String,
    pub(crate) default: bool,
    /// Flags for the optimizer (every other key of its definition).
    pub(crate) flags: Mapping,
}

/// The optimizers Guild ships: ours run `+` and `random`.
const BUILTIN: &[&str] = &[
    "+",
    "random",
    "skopt:random",
    "gp",
    "skopt:gp",
    "forest",
    "skopt:forest",
    "gbrt",
    "skopt:gbrt",
];

/// Guild's default optimizer for `--optimize` when none is declared.
const DEFAULT_OPTIMIZER: &str = "gp";

/// `optimizer: ALG | {algorithm: ALG, FLAG: VAL...}` or `optimizers:` (a
/// mapping of names to the same, or a list of names), sorted by name.
pub(crate) fn parse(
    op_name: &str,
    cfg: &Mapping,
) -> std::result::Result<Vec<OptimizerDef>, String> {
    let item = |v: &Value| -> Mapping {
        match v {
            Value::String(s) => {
                let mut m = Mapping::new();
                m.insert("algorithm".into(), s.clone().into());
                m
            }
            Value::Mapping(m) => m.clone(),
            _ => Mapping::new(),
        }
    };
    let entries: Vec<(String, Mapping)> = match (cfg.get("optimizer"), cfg.get("optimizers")) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "conflicting optimizer configuration in operation '{op_name}' - cannot define both 'optimizer' and 'optimizers'"
            ))
        }
        (None, Some(Value::Mapping(m))) => m
            .iter()
            .map(|(k, v)| (super::flags::encode_display(k).trim_matches('\'').to_string(), item(v)))
            .collect(),
        (None, Some(Value::Sequence(names))) => names
            .iter()
            .filter_map(Value::as_str)
            .map(|n| (n.to_string(), Mapping::new()))
            .collect(),
        (Some(v), None) if !v.is_null() => {
            let m = item(v);
            let name = m
                .get("algorithm")
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or_else(|| {
                    format!("optimizer of operation '{op_name}' needs an 'algorithm'")
                })?;
            vec![(name, m)]
        }
        (None, None) | (Some(_), None) => Vec::new(),
        (None, Some(other)) => {
            return Err(format!(
                "invalid optimizers {}: expected a list or mapping",
                guild_format::run::yaml::flow(other)
            ))
        }
    };
    let mut out: Vec<OptimizerDef> = entries
        .into_iter()
        .map(|(name, mut m)| {
            let opspec = m
                .remove("algorithm")
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| name.clone());
            let default = match m.remove("default") {
                Some(Value::Bool(b)) => b,
                Some(Value::String(s)) => matches!(s.as_str(), "yes" | "true" | "on"),
                _ => false,
            };
            OptimizerDef {
                name,
                opspec,
                default,
                flags: m,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What runs a sweep or search.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// A built-in optimizer.
    Builtin(String),
    /// An operation of the project, with the optimizer's flags.
    Op {
        /// The operation spec (`model:op`, `op`).
        spec: String,
        /// The optimizer's flag values.
        flags: Mapping,
    },
}

impl Choice {
    fn of(def: &OptimizerDef) -> Choice {
        if BUILTIN.contains(&def.opspec.as_str()) {
            Choice::Builtin(def.opspec.clone())
        } else {
            Choice::Op {
                spec: def.opspec.clone(),
                flags: def.flags.clone(),
            }
        }
    }
}

/// The optimizer `--optimizer NAME` (a declared name, else an op spec) or
/// `--optimize` (the declared default) picks for `op`; `None` when neither
/// is given.
pub fn choose(op: &OpDef, name: Option<&str>, optimize: bool) -> Result<Option<Choice>> {
    if let Some(n) = name {
        if let Some(d) = op.optimizers.iter().find(|d| d.name == n) {
            return Ok(Some(Choice::of(d)));
        }
        return Ok(Some(if BUILTIN.contains(&n) {
            Choice::Builtin(n.to_string())
        } else {
            Choice::Op {
                spec: n.to_string(),
                flags: Mapping::new(),
            }
        }));
    }
    if !optimize {
        return Ok(None);
    }
    let def = match op.optimizers.as_slice() {
        [] => return Ok(Some(Choice::Builtin(DEFAULT_OPTIMIZER.into()))),
        [one] => one,
        many => many.iter().find(|d| d.default).ok_or_else(|| {
            let names: Vec<&str> = many.iter().map(|d| d.name.as_str()).collect();
            Error::user(format!(
                "no default optimizer defined for {} Specify one of the following with '--optimizer': {}",
                op.name,
                names.join(", ")
            ))
        })?,
    };
    Ok(Some(Choice::of(def)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Mapping {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn parses_and_chooses_as_guild() {
        let one = parse("t", &cfg("optimizer: {algorithm: tune-echo, beta: 0.3}")).unwrap();
        assert_eq!(one[0].name, "tune-echo");
        assert_eq!(one[0].flags.get("beta"), Some(&Value::from(0.3)));
        let many = parse(
            "t",
            &cfg(
                "optimizers: {o1: tune-echo, o2: {algorithm: tune-echo-2, default: yes, gamma: 4}}",
            ),
        )
        .unwrap();
        let mut op = OpDef::new(
            "t",
            guild_format::run::Opref::default(),
            std::path::Path::new("."),
        );
        op.optimizers = many;
        match choose(&op, None, true).unwrap() {
            Some(Choice::Op { spec, flags }) => {
                assert_eq!(spec, "tune-echo-2");
                assert_eq!(flags.get("gamma"), Some(&Value::from(4)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            choose(&op, Some("+"), false).unwrap(),
            Some(Choice::Builtin("+".into()))
        );
        op.optimizers = parse("t", &cfg("optimizers: {tune-echo: {}, alt-tune: x}")).unwrap();
        let e = choose(&op, None, true).unwrap_err();
        assert!(
            e.message().ends_with("'--optimizer': alt-tune, tune-echo"),
            "{}",
            e.message()
        );
        assert!(parse("t", &cfg("optimizer: a\noptimizers: [b]")).is_err());
    }
}
