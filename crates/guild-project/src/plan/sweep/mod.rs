//! Sweep expansion, pure: a flag with a list of values makes a grid (`+`),
//! a search function (`uniform[a:b]`, `loguniform[a:b]`, `[a:b]`) a random
//! search (`random`), Grid.ai's syntax ([`grid`]) concrete lists. The trials
//! it plans are staged by [`crate::plan::stage_trial`] and run by
//! `guild_exec::launch::sweep`.

pub mod grid;

use crate::op::flags;
use guild_format::error::{Error, Result};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// More trials than this need an explicit `--max-trials`.
pub(crate) const MAX_TRIALS: usize = 10_000;

/// One searched flag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dim {
    Values(Vec<Value>),
    Uniform { lo: f64, hi: f64, int: bool },
    LogUniform { lo: f64, hi: f64 },
}

/// A sweep: the flag values of each of its trials.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `+` (grid) or `random`.
    pub optimizer: String,
    /// Each trial's flag values, in run order.
    pub trials: Vec<Mapping>,
    /// The random seed the trials were drawn with (given, or chosen).
    pub seed: u64,
}

/// A search function in Guild syntax, or None when `s` is not one.
pub(crate) fn search_dim(name: &str, s: &str) -> Option<Result<Dim>> {
    let (fname, args) = crate::op::flagfn::parse_fn(s)?;
    let nums: Vec<Option<Value>> = args
        .iter()
        .map(|a| match flags::decode(a) {
            v @ Value::Number(_) => Some(v),
            _ => None,
        })
        .collect();
    let bad = |why: &str| {
        Some(Err(Error::user(format!(
            "invalid value {s} for flag '{name}': {why}"
        ))))
    };
    match fname.as_str() {
        "" | "uniform" | "loguniform" => {
            if nums.len() < 2 || nums.iter().take(2).any(Option::is_none) {
                return bad("expected numbers as in uniform[MIN:MAX]");
            }
            let lo_v = nums[0].clone().unwrap_or(Value::Null);
            let hi_v = nums[1].clone().unwrap_or(Value::Null);
            let (lo, hi) = (lo_v.as_f64().unwrap_or(0.0), hi_v.as_f64().unwrap_or(0.0));
            if lo >= hi {
                return bad("the minimum must be less than the maximum (inverted range?)");
            }
            if fname == "loguniform" {
                if lo <= 0.0 {
                    return bad("loguniform needs a positive minimum");
                }
                return Some(Ok(Dim::LogUniform { lo, hi }));
            }
            Some(Ok(Dim::Uniform {
                lo,
                hi,
                int: lo_v.as_i64().is_some() && hi_v.as_i64().is_some(),
            }))
        }
        "range" | "linspace" | "logspace" => None,
        other => Some(Err(Error::user(format!(
            "unknown function '{other}' used for flag '{name}': use a list [a, b], range[a:b:step], linspace[a:b:n], logspace[a:b:n], uniform[a:b] or loguniform[a:b]"
        )))),
    }
}

fn sample(dim: &Dim, rng: &mut ChaCha8Rng) -> Value {
    match dim {
        Dim::Values(v) => v[rng.gen_range(0..v.len())].clone(),
        Dim::Uniform { lo, hi, int: true } => Value::from(rng.gen_range(*lo as i64..=*hi as i64)),
        Dim::Uniform { lo, hi, .. } => Value::from(rng.gen_range(*lo..*hi)),
        Dim::LogUniform { lo, hi } => Value::from(rng.gen_range(lo.ln()..hi.ln()).exp()),
    }
}

/// The sweep `flag_vals` asks for, or None when it is a single run.
/// `fixed` names flags whose list value is one value (`arg-split`).
pub fn plan(
    flag_vals: &Mapping,
    fixed: &[String],
    optimizer: Option<&str>,
    max_trials: Option<usize>,
    seed: Option<u64>,
) -> Result<Option<Plan>> {
    let mut dims: Vec<(String, Dim)> = Vec::new();
    let mut names: Vec<&Value> = flag_vals.keys().collect();
    names.sort_by_key(|k| k.as_str().unwrap_or("").to_string());
    for k in names {
        let name = k.as_str().unwrap_or("").to_string();
        if fixed.contains(&name) {
            continue;
        }
        match flag_vals.get(k) {
            Some(Value::Sequence(items)) => {
                if items.is_empty() {
                    return Err(Error::user(format!(
                        "flag '{name}' has an empty list: give at least one value, e.g. {name}=[1,2]"
                    )));
                }
                dims.push((name, Dim::Values(items.clone())));
            }
            Some(Value::String(s)) => {
                match crate::op::flagfn::expand_sequence_fn(s) {
                    Some(Err(e)) => {
                        return Err(Error::user(format!("invalid value for flag '{name}': {e}")))
                    }
                    Some(Ok(items)) => {
                        dims.push((name, Dim::Values(items)));
                        continue;
                    }
                    None => {}
                }
                if let Some(d) = search_dim(&name, s) {
                    dims.push((name, d?));
                }
            }
            _ => {}
        }
    }
    let random_needed = dims.iter().any(|(_, d)| !matches!(d, Dim::Values(_)));
    let optimizer =
        match optimizer {
            None | Some("+") if !random_needed => "+",
            None | Some("random") | Some("skopt:random") => "random",
            Some("+") => return Err(Error::user(
                "uniform/loguniform flags need a random search: drop --optimizer + or use lists"
                    .to_string(),
            )),
            Some(other) => {
                return Err(Error::user(format!(
                    "unknown optimizer '{other}': use + (grid) or random"
                )))
            }
        };
    if dims.is_empty() && optimizer == "+" {
        return Ok(None);
    }
    let seed = seed.unwrap_or_else(|| rand::thread_rng().gen_range(0..(1u64 << 32)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = flag_vals.clone();
    let mut trials = Vec::new();
    if optimizer == "random" {
        let n = max_trials.unwrap_or(20);
        if n > MAX_TRIALS {
            return Err(Error::user(format!(
                "--max-trials {n} is more than the limit of {MAX_TRIALS} trials"
            )));
        }
        for _ in 0..n {
            let mut t = base.clone();
            for (name, d) in &dims {
                t.insert(name.clone().into(), sample(d, &mut rng));
            }
            trials.push(t);
        }
    } else {
        let total = dims.iter().try_fold(1usize, |acc, (_, d)| match d {
            Dim::Values(v) => acc.checked_mul(v.len()),
            _ => Some(acc),
        });
        let total = total.unwrap_or(usize::MAX);
        let keep: Option<Vec<usize>> = match max_trials {
            Some(n) if n < total => {
                if total > 10 * MAX_TRIALS * 100 {
                    return Err(Error::user(format!(
                        "the grid has {total} trials, too many to sample from; use fewer values"
                    )));
                }
                let mut idx = rand::seq::index::sample(&mut rng, total, n).into_vec();
                idx.sort_unstable();
                Some(idx)
            }
            _ if total > MAX_TRIALS => {
                return Err(Error::user(format!(
                    "the grid has {total} trials, more than the limit of {MAX_TRIALS}; use --max-trials N to run a random sample of it"
                )))
            }
            _ => None,
        };
        let sizes: Vec<usize> = dims
            .iter()
            .map(|(_, d)| match d {
                Dim::Values(v) => v.len(),
                _ => 1,
            })
            .collect();
        let indexes: Box<dyn Iterator<Item = usize>> = match keep {
            Some(k) => Box::new(k.into_iter()),
            None => Box::new(0..total),
        };
        for mut i in indexes {
            // Last flag varies fastest, as itertools.product does.
            let mut t = base.clone();
            for (j, (name, d)) in dims.iter().enumerate().rev() {
                if let Dim::Values(v) = d {
                    t.insert(name.clone().into(), v[i % sizes[j]].clone());
                    i /= sizes[j];
                }
            }
            trials.push(t);
        }
    }
    Ok(Some(Plan {
        optimizer: optimizer.to_string(),
        trials,
        seed,
    }))
}

/// A batch file (`@trials.csv|json|yaml`): one flag map per trial.
pub fn read_batch_file(path: &Path) -> Result<Vec<Mapping>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::user(format!(
            "cannot read batch file {}: {e}; give @FILE with an existing .csv, .json or .yaml file",
            path.display()
        ))
    })?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows: Vec<Mapping> = if ext == "csv" {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .map(|h| h.split(',').map(|c| c.trim().to_string()).collect())
            .unwrap_or_default();
        lines
            .map(|l| {
                header
                    .iter()
                    .zip(l.split(','))
                    .map(|(k, v)| (Value::from(k.clone()), flags::decode(v.trim())))
                    .collect()
            })
            .collect()
    } else {
        match guild_format::run::yaml::parse_11(&text) {
            Ok(Value::Sequence(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Mapping(m) => Some(m),
                    _ => None,
                })
                .collect(),
            Ok(_) => {
                return Err(Error::user(format!(
                    "batch file {} must hold a list of flag mappings",
                    path.display()
                )))
            }
            Err(e) => {
                return Err(Error::user(format!(
                    "batch file {} is not valid {}: {e}",
                    path.display(),
                    if ext == "json" { "JSON" } else { "YAML" }
                )))
            }
        }
    };
    if rows.is_empty() {
        return Err(Error::user(format!(
            "batch file {} has no trials",
            path.display()
        )));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(s: &str) -> Mapping {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn grid_is_a_product_in_name_order() {
        let p = plan(
            &flags("b: [1, 2]\na: [x, y, z]\nc: 5\n"),
            &[],
            None,
            None,
            Some(1),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.optimizer, "+");
        assert_eq!(p.trials.len(), 6);
        assert_eq!(p.trials[0], flags("a: x\nb: 1\nc: 5\n"));
        assert_eq!(p.trials[1], flags("a: x\nb: 2\nc: 5\n"));
        assert_eq!(p.trials[5], flags("a: z\nb: 2\nc: 5\n"));
        let s = plan(
            &flags("b: [1, 2]\na: [x, y, z]\n"),
            &[],
            None,
            Some(4),
            Some(1),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.trials.len(), 4);
        assert!(plan(&flags("a: 1\n"), &[], None, None, None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn random_search_is_reproducible_and_in_range() {
        let f = flags("lr: 'loguniform[1e-4:1e-1]'\nn: 'uniform[1:5]'\nopt: [a, b]\n");
        let p = plan(&f, &[], None, Some(30), Some(7)).unwrap().unwrap();
        assert_eq!(p.optimizer, "random");
        assert_eq!(p.trials.len(), 30);
        for t in &p.trials {
            let lr = t["lr"].as_f64().unwrap();
            assert!((1e-4..1e-1).contains(&lr), "{lr}");
            let n = t["n"].as_i64().unwrap();
            assert!((1..=5).contains(&n));
        }
        let q = plan(&f, &[], None, Some(30), Some(7)).unwrap().unwrap();
        assert_eq!(p.trials, q.trials);
        assert_eq!(
            plan(&f, &[], None, None, Some(7))
                .unwrap()
                .unwrap()
                .trials
                .len(),
            20
        );
    }

    #[test]
    fn bad_sweeps_are_clear_errors() {
        let err = |s: &str, max: Option<usize>| {
            plan(&flags(s), &[], None, max, Some(1))
                .unwrap_err()
                .message()
        };
        assert!(err("a: []\n", None).contains("empty list"));
        assert!(err("a: 'range[1:5:0]'\n", None).contains("step must not be zero"));
        assert!(err("a: 'range[5:1]'\n", None).contains("inverted"));
        assert!(err("a: 'uniform[5:1]'\n", None).contains("inverted"));
        assert!(err("a: 'choice[1:2]'\n", None).contains("unknown function 'choice'"));
        assert!(err("a: 'range[1:200]'\nb: 'range[1:200]'\n", None).contains("--max-trials"));
        assert!(err("a: 'uniform[0:1]'\n", Some(20_000)).contains("limit"));
    }
}
