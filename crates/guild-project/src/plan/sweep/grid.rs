//! Grid.ai's sweep syntax for script flags (`--lr "[0.1, 0.01]"`,
//! `--layers "range(1, 4)"`, `--lr "uniform(1e-4, 1e-1, 5)"`): each value
//! expands to a concrete list, sampled with the sweep's seed, which then
//! makes a grid like Guild's lists.

use guild_format::error::{Error, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde_yaml_ng::Value;

pub(crate) const FUNCTIONS: &[&str] = &[
    "range",
    "arange",
    "linspace",
    "logspace",
    "uniform",
    "loguniform",
    "normal",
    "lognormal",
    "randint",
];

fn call(s: &str) -> Option<(String, Vec<String>)> {
    let re = regex::Regex::new(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\s*$").ok()?;
    let c = re.captures(s)?;
    let args = if c[2].trim().is_empty() {
        Vec::new()
    } else {
        c[2].split(',').map(|a| a.trim().to_string()).collect()
    };
    Some((c[1].to_string(), args))
}

/// True when `s` is a Grid-style function call (for mixed-syntax errors).
pub fn is_grid_call(s: &str) -> bool {
    call(s).is_some_and(|(name, _)| FUNCTIONS.contains(&name.as_str()))
}

fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// Expand one Grid-style flag value. Plain values decode as usual.
pub fn expand(name: &str, raw: &str, rng: &mut ChaCha8Rng) -> Result<Value> {
    let err = |why: String| Error::user(format!("invalid value {raw} for flag '{name}': {why}"));
    if crate::op::flagfn::parse_fn(raw).is_some() {
        return Err(Error::user(format!(
            "flag '{name}' mixes Guild syntax ({raw}) with Grid syntax (--{name} VALUE); write {name}={raw}, or --{name} \"uniform(a, b, n)\" / \"range(a, b)\""
        )));
    }
    let Some((fname, args)) = call(raw) else {
        let v = crate::op::flags::decode(raw);
        if matches!(&v, Value::Sequence(s) if s.is_empty()) {
            return Err(err("the list is empty; give at least one value".into()));
        }
        return Ok(v);
    };
    if !FUNCTIONS.contains(&fname.as_str()) {
        return Err(err(format!(
            "unknown distribution '{fname}'; use one of {}",
            FUNCTIONS.join(", ")
        )));
    }
    let nums: Vec<f64> = args
        .iter()
        .map(|a| a.parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| err("arguments must be numbers".into()))?;
    let ints = args.iter().all(|a| a.parse::<i64>().is_ok());
    let need = |n: usize, usage: &str| -> Result<()> {
        if nums.len() < n || nums.len() > n + 1 {
            Err(err(format!("expected {usage}")))
        } else {
            Ok(())
        }
    };
    let count = |i: usize| -> Result<usize> {
        let n = nums[i];
        if n < 1.0 || n.fract() != 0.0 {
            return Err(err("the number of values must be a positive integer".into()));
        }
        if n as usize > crate::plan::sweep::MAX_TRIALS {
            return Err(err(format!(
                "{n} values is more than the limit of {}",
                crate::plan::sweep::MAX_TRIALS
            )));
        }
        Ok(n as usize)
    };
    let vals: Vec<Value> = match fname.as_str() {
        "range" | "arange" => {
            if nums.is_empty() || nums.len() > 3 {
                return Err(err(
                    "expected range(stop), range(start, stop) or range(start, stop, step)".into(),
                ));
            }
            let (start, stop) = if nums.len() == 1 {
                (0.0, nums[0])
            } else {
                (nums[0], nums[1])
            };
            let step = nums.get(2).copied().unwrap_or(1.0);
            if step == 0.0 {
                return Err(err("step must not be zero".into()));
            }
            let n = ((stop - start) / step).ceil();
            if n <= 0.0 {
                return Err(err(
                    "the range is empty (is it inverted? use a negative step to count down)".into(),
                ));
            }
            if n as usize > crate::plan::sweep::MAX_TRIALS {
                return Err(err(format!(
                    "{n} values is more than the limit of {}",
                    crate::plan::sweep::MAX_TRIALS
                )));
            }
            (0..n as usize)
                .map(|i| {
                    let x = start + step * i as f64;
                    if ints {
                        Value::from(x as i64)
                    } else {
                        Value::from(round(x))
                    }
                })
                .collect()
        }
        "linspace" | "logspace" => {
            need(3, &format!("{fname}(start, stop, num)"))?;
            let n = count(2)?;
            (0..n)
                .map(|i| {
                    let x = if n == 1 {
                        nums[0]
                    } else {
                        nums[0] + (nums[1] - nums[0]) * i as f64 / (n - 1) as f64
                    };
                    Value::from(round(if fname == "logspace" {
                        10f64.powf(x)
                    } else {
                        x
                    }))
                })
                .collect()
        }
        "uniform" | "loguniform" | "randint" => {
            need(3, &format!("{fname}(low, high, n)"))?;
            let (lo, hi) = (nums[0], nums[1]);
            if lo >= hi {
                return Err(err("low must be less than high (inverted range?)".into()));
            }
            if fname == "loguniform" && lo <= 0.0 {
                return Err(err("loguniform needs a positive low".into()));
            }
            let n = count(2)?;
            (0..n)
                .map(|_| match fname.as_str() {
                    "randint" => Value::from(rng.gen_range(lo as i64..hi as i64)),
                    "loguniform" => Value::from(rng.gen_range(lo.ln()..hi.ln()).exp()),
                    _ => Value::from(rng.gen_range(lo..hi)),
                })
                .collect()
        }
        "normal" | "lognormal" => {
            need(3, &format!("{fname}(mean, std, n)"))?;
            if nums[1] <= 0.0 {
                return Err(err("std must be positive".into()));
            }
            let n = count(2)?;
            if fname == "normal" {
                let d = Normal::new(nums[0], nums[1]).map_err(|e| err(e.to_string()))?;
                (0..n).map(|_| Value::from(d.sample(rng))).collect()
            } else {
                let d = LogNormal::new(nums[0], nums[1]).map_err(|e| err(e.to_string()))?;
                (0..n).map(|_| Value::from(d.sample(rng))).collect()
            }
        }
        _ => unreachable!("checked against FUNCTIONS"),
    };
    Ok(Value::Sequence(vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ex(s: &str) -> Result<Value> {
        expand("x", s, &mut ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn grid_values() {
        assert_eq!(
            ex("[1, 2]").unwrap(),
            serde_yaml_ng::from_str::<Value>("[1, 2]").unwrap()
        );
        assert_eq!(
            ex("['pizza', 'hotdog']").unwrap(),
            serde_yaml_ng::from_str::<Value>("[pizza, hotdog]").unwrap()
        );
        assert_eq!(
            ex("range(1, 4)").unwrap(),
            serde_yaml_ng::from_str::<Value>("[1, 2, 3]").unwrap()
        );
        assert_eq!(
            ex("range(0, 1, 0.5)").unwrap(),
            serde_yaml_ng::from_str::<Value>("[0.0, 0.5]").unwrap()
        );
        assert_eq!(
            ex("linspace(0, 1, 3)").unwrap(),
            serde_yaml_ng::from_str::<Value>("[0.0, 0.5, 1.0]").unwrap()
        );
        let u = ex("uniform(0, 1, 4)").unwrap();
        assert_eq!(u.as_sequence().unwrap().len(), 4);
        assert_eq!(u, ex("uniform(0, 1, 4)").unwrap(), "same seed, same values");
        for v in ex("randint(1, 3, 10)").unwrap().as_sequence().unwrap() {
            assert!((1..3).contains(&v.as_i64().unwrap()));
        }
        assert_eq!(
            ex("normal(0, 1, 3)").unwrap().as_sequence().unwrap().len(),
            3
        );
        assert_eq!(ex("0.5").unwrap(), Value::from(0.5));
    }

    #[test]
    fn grid_errors() {
        let msg = |s: &str| ex(s).unwrap_err().message();
        assert!(msg("range(1, 5, 0)").contains("step must not be zero"));
        assert!(msg("range(5, 1)").contains("inverted"));
        assert!(msg("uniform(1, 0, 3)").contains("inverted"));
        assert!(msg("beta(1, 2, 3)").contains("unknown distribution 'beta'"));
        assert!(msg("uniform[0:1]").contains("mixes Guild syntax"));
        assert!(msg("[]").contains("empty"));
        assert!(msg("uniform(0, 1, 0)").contains("positive integer"));
    }
}
