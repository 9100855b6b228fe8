//! Flag functions (`range[1:5]`, `uniform[0:1]`, `[0:1]`): parsing, and the
//! pure expansion of sequence functions with a hard cap and typed errors.

use serde_yaml_ng::Value;

/// Largest number of values a sequence function may produce.
pub(crate) const MAX_SEQUENCE: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SweepError {
    ZeroStep(String),
    EmptyRange(String),
    TooLarge(String, usize),
    BadArgs(String),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::ZeroStep(s) => write!(f, "{s}: step must not be zero"),
            SweepError::EmptyRange(s) => write!(
                f,
                "{s}: range is empty (is it inverted? use a negative step to count down)"
            ),
            SweepError::TooLarge(s, n) => {
                write!(f, "{s}: would produce {n} values (limit {MAX_SEQUENCE})")
            }
            SweepError::BadArgs(s) => write!(f, "{s}: invalid arguments"),
        }
    }
}

/// Split `name[a:b:c]` into its name (empty for `[a:b]`) and args.
pub(crate) fn parse_fn(s: &str) -> Option<(String, Vec<String>)> {
    let re = regex::Regex::new(r"^([a-zA-Z0-9_\-\.]*)\[([^\[\]]*:[^\[\]]*)\]$").ok()?;
    let c = re.captures(s.trim())?;
    let args = c[2].split(':').map(|a| a.trim().to_string()).collect();
    Some((c[1].to_string(), args))
}

fn num(s: &str) -> Option<Value> {
    match crate::op::flags::decode(s) {
        v @ Value::Number(_) => Some(v),
        _ => None,
    }
}

/// Expand `range`, `linspace`, `logspace`; `None` if `s` is not one of them.
pub(crate) fn expand_sequence_fn(s: &str) -> Option<Result<Vec<Value>, SweepError>> {
    let (name, args) = parse_fn(s)?;
    let vals: Option<Vec<Value>> = args.iter().map(|a| num(a)).collect();
    let vals = match vals {
        Some(v) => v,
        None => {
            return matches!(name.as_str(), "range" | "linspace" | "logspace")
                .then(|| Err(SweepError::BadArgs(s.into())))
        }
    };
    let f = |i: usize| vals.get(i).and_then(Value::as_f64);
    let all_int = vals.iter().all(|v| v.as_i64().is_some());
    Some(match name.as_str() {
        "range" => {
            let (Some(start), Some(end)) = (f(0), f(1)) else {
                return Some(Err(SweepError::BadArgs(s.into())));
            };
            let step = f(2).unwrap_or(1.0);
            if step == 0.0 {
                return Some(Err(SweepError::ZeroStep(s.into())));
            }
            let n = ((end - start) / step).floor();
            if n < 0.0 {
                return Some(Err(SweepError::EmptyRange(s.into())));
            }
            let n = n as usize + 1;
            if n > MAX_SEQUENCE {
                return Some(Err(SweepError::TooLarge(s.into(), n)));
            }
            Ok((0..n)
                .map(|i| {
                    let x = start + step * i as f64;
                    if all_int {
                        Value::from(x.round() as i64)
                    } else {
                        Value::from(round_sig(x))
                    }
                })
                .collect())
        }
        "linspace" | "logspace" => {
            let (Some(start), Some(end)) = (f(0), f(1)) else {
                return Some(Err(SweepError::BadArgs(s.into())));
            };
            let count = f(2).unwrap_or(5.0);
            if count < 1.0 {
                return Some(Err(SweepError::EmptyRange(s.into())));
            }
            let count = count as usize;
            if count > MAX_SEQUENCE {
                return Some(Err(SweepError::TooLarge(s.into(), count)));
            }
            let base = f(3).unwrap_or(10.0);
            Ok((0..count)
                .map(|i| {
                    let x = if count == 1 {
                        start
                    } else {
                        start + (end - start) * i as f64 / (count - 1) as f64
                    };
                    let x = if name == "logspace" { base.powf(x) } else { x };
                    Value::from(round_sig(x))
                })
                .collect())
        }
        _ => return None,
    })
}

/// Remove float noise (0.30000000000000004 -> 0.3) at 12 significant digits.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(s: &str) -> Vec<Value> {
        expand_sequence_fn(s).unwrap().unwrap()
    }

    #[test]
    fn sequences_are_inclusive() {
        assert_eq!(ex("range[1:5]").len(), 5);
        assert_eq!(
            ex("range[1:10:3]"),
            vec![Value::from(1), 4.into(), 7.into(), 10.into()]
        );
        assert_eq!(
            ex("linspace[0:1:3]"),
            vec![Value::from(0.0), 0.5.into(), 1.0.into()]
        );
        assert_eq!(
            ex("logspace[-3:-1:3]"),
            vec![Value::from(0.001), 0.01.into(), 0.1.into()]
        );
        assert_eq!(ex("range[0:1:0.25]").len(), 5);
    }

    #[test]
    fn bad_sequences_are_typed_errors() {
        assert!(matches!(
            expand_sequence_fn("range[1:5:0]"),
            Some(Err(SweepError::ZeroStep(_)))
        ));
        assert!(matches!(
            expand_sequence_fn("range[5:1]"),
            Some(Err(SweepError::EmptyRange(_)))
        ));
        assert!(matches!(
            expand_sequence_fn("range[0:1000000000]"),
            Some(Err(SweepError::TooLarge(..)))
        ));
        assert!(expand_sequence_fn("uniform[0:1]").is_none());
        assert!(expand_sequence_fn("plain").is_none());
    }
}
