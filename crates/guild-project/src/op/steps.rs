//! Pipelines: the process of a `steps` operation's run. Each step runs as
//! its own run (staged, then started, by a child `guild run`), linked into
//! the pipeline's run directory as `<step name>`; the first failing step
//! stops the pipeline with its exit code. Matches Guild 0.9's steps_main.

use crate::op::{flags, template};
use guild_format::error::{Error, Result};
use serde_yaml_ng::{Mapping, Value};

/// One step of a pipeline, resolved with the pipeline's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique among the steps: the name of its link in the pipeline run.
    pub name: String,
    /// The step's name (its `name`, else its operation as written): shown
    /// when it runs.
    pub shown: String,
    /// The operation, in the pipeline's model unless it names one.
    pub opspec: String,
    /// `run` options passed to the step (`--label L`, `--tag T`, ...).
    pub options: Vec<String>,
    /// `NAME=VAL` arguments, sorted by name, values as Guild formats them.
    pub flag_args: Vec<String>,
}

/// One entry of an operation's `steps`, as guild.yml writes it (and the
/// pipeline run records it in its `steps` attr).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum StepSpec {
    /// `- OPERATION [OPTIONS] [FLAG=VAL...]`: a run spec alone.
    Run(String),
    /// A mapping: the run spec with the step's own name, label, tags and
    /// flags.
    Def(StepDef),
    /// Anything else: refused when the pipeline runs, in Guild's words.
    Invalid(Value),
}

/// A step written as a mapping. Keys of the wrong type are left unset
/// (and `run` missing is refused when the pipeline runs, as Guild does);
/// keys Guild ignores are kept as written.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct StepDef {
    /// The run spec: `OPERATION [OPTIONS] [FLAG=VAL...]`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub run: Option<String>,
    /// The step's name (its link in the pipeline run), else its operation.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub name: Option<String>,
    /// The step run's label, over the run spec's `--label`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub label: Option<String>,
    /// The step run's tags (a list, or one), over the run spec's `--tag`s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::strings"
    )]
    pub tags: Option<Vec<String>>,
    /// The step's flags, over the run spec's `FLAG=VAL`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<StepFlags>,
    /// Other keys, as written.
    #[serde(flatten)]
    pub other: Mapping,
}

/// A step's `flags`: values by name, or `NAME=VAL` strings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum StepFlags {
    /// `flags: {lr: 0.1}`.
    Values(Mapping),
    /// `flags: [lr=0.1]`.
    Assigns(Vec<String>),
    /// Anything else: no flags.
    Other(Value),
}

/// Deserializers that take what has the expected type and leave the
/// rest unset, as Guild reads step data.
mod lenient {
    use serde::Deserialize;
    use serde_yaml_ng::Value;

    pub(super) fn string<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    pub(super) fn strings<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(vec![s]),
            Value::Sequence(items) => Some(
                items
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// The `steps` of an operation or a pipeline run's `steps` attr, typed;
/// an error names what is not a list (Guild's words).
pub fn specs_of(steps: &Value) -> Result<Vec<StepSpec>> {
    let invalid = || {
        Error::user(format!(
            "invalid steps data {}: expected list",
            guild_format::run::yaml::py_repr(steps)
        ))
    };
    if !steps.is_sequence() {
        return Err(invalid());
    }
    serde_yaml_ng::from_value(steps.clone()).map_err(|_| invalid())
}

/// The run spec of a step, if it has one (for the cycle check of
/// guild.yml).
pub(crate) fn run_spec(spec: &StepSpec) -> Option<&str> {
    match spec {
        StepSpec::Run(r) => Some(r),
        StepSpec::Def(d) => d.run.as_deref(),
        StepSpec::Invalid(_) => None,
    }
}

/// Guild's `resolve_refs` on a step value: a lone `${flag}` is the flag's
/// value; references inside text are replaced by their YAML encoding.
fn resolve_value(v: &Value, parent: &Mapping) -> Value {
    let Value::String(s) = v else {
        return v.clone();
    };
    if let Some(r) = template::whole_ref(s) {
        return parent.get(r.text).cloned().unwrap_or(Value::Null);
    }
    Value::String(template::expand_lossy(s, |r| {
        parent.get(r.text).map(|v| match v {
            Value::String(x) => x.clone(),
            other => guild_format::run::yaml::dump(other).trim_end().to_string(),
        })
    }))
}

fn resolve_str(s: &str, parent: &Mapping) -> String {
    match resolve_value(&Value::String(s.to_string()), parent) {
        Value::String(x) => x,
        Value::Null => String::new(),
        other => flags::encode_display(&other),
    }
}

fn link_name(s: &str) -> String {
    s.chars()
        .map(|c| if " :/\\".contains(c) { '-' } else { c })
        .collect()
}

/// `run` options a step may use (Guild's STEP_USED_PARAMS): long and
/// short names, the parameter, and whether a value follows.
const STEP_OPTIONS: &[(&str, &str, &str, bool)] = &[
    ("--label", "-l", "label", true),
    ("--tag", "-t", "tags", true),
    ("--force-flags", "-f", "force_flags", false),
    ("--gpus", "", "gpus", true),
    ("--no-gpus", "", "no_gpus", false),
    ("--max-trials", "-m", "max_trials", true),
    ("--needed", "-n", "needed", false),
    ("--opt-flag", "-Fo", "opt_flags", true),
    ("--optimize", "-O", "optimize", false),
    ("--optimizer", "-o", "optimizer", true),
    ("--random-seed", "", "random_seed", true),
    ("--stop-after", "", "stop_after", true),
    ("--fail-on-trial-error", "", "fail_on_trial_error", false),
];

/// `run` options that take a value but mean nothing for a step.
const IGNORED_WITH_VALUE: &[&str] = &[
    "--run-dir",
    "--pidfile",
    "--proto",
    "--start",
    "--restart",
    "--comment",
    "--run-id",
    "--run-name",
    "--parallel",
];

/// The parts of a step's `run` spec: the operation, the run options it
/// passes on, its `FLAG=VAL`s, and the options it names that are ignored.
struct RunSpec {
    opspec: Option<String>,
    label: Option<String>,
    tags: Vec<String>,
    used: Vec<(&'static str, Option<String>)>,
    inline: Vec<(String, Value)>,
    ignored: Vec<String>,
}

fn parse_run_spec(args: Vec<String>) -> Result<RunSpec> {
    let mut opspec: Option<String> = None;
    let mut label: Option<String> = None;
    let mut tags: Vec<String> = Vec::new();
    let mut used: Vec<(&str, Option<String>)> = Vec::new();
    let mut inline: Vec<(String, Value)> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if let Some(&(long, _, param, takes)) = STEP_OPTIONS
            .iter()
            .find(|(l, sh, _, _)| a == *l || (!sh.is_empty() && a == *sh))
        {
            let val = if takes { it.next() } else { None };
            match param {
                "label" => label = val,
                "tags" => tags.extend(val),
                _ => used.push((long, val)),
            }
        } else if let Some(rest) = a.strip_prefix("--").filter(|r| r.contains('=')) {
            // `--label=x` style: split and look up again.
            let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
            ignored.push(k.replace('-', "_"));
            let _ = v;
        } else if a.starts_with('-') && a.len() > 1 {
            if IGNORED_WITH_VALUE.contains(&a.as_str()) {
                it.next();
            }
            ignored.push(a.trim_start_matches('-').replace('-', "_"));
        } else if opspec.is_none() {
            opspec = Some(a);
        } else {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                Error::user(format!("invalid argument(s):\n{a}\nexpected NAME=VAL"))
            })?;
            inline.push((k.to_string(), flags::decode(v)));
        }
    }
    Ok(RunSpec {
        opspec,
        label,
        tags,
        used,
        inline,
        ignored,
    })
}

/// A step's `flags:` (a mapping, or `NAME=VAL` strings), else the
/// `FLAG=VAL`s of its run spec.
fn step_flag_vals(flags_def: Option<&StepFlags>, inline: Vec<(String, Value)>) -> Mapping {
    match flags_def {
        Some(StepFlags::Values(m)) => m.clone(),
        Some(StepFlags::Assigns(assigns)) => assigns
            .iter()
            .filter_map(|a| a.split_once('='))
            .map(|(k, v)| (Value::from(k), flags::decode(v)))
            .collect(),
        _ => inline
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    }
}

/// Parse the `steps` attr. `parent` holds the pipeline's flags, `model`
/// its model, `inherited` its `--label` and `--tag`s (given to steps that
/// set none). Warnings (ignored run options) are returned with the steps.
pub fn parse(
    steps: &[StepSpec],
    parent: &Mapping,
    model: &str,
    inherited: (Option<String>, Vec<String>),
) -> Result<(Vec<Step>, Vec<String>)> {
    let mut out: Vec<Step> = Vec::new();
    let mut warnings = Vec::new();
    for item in steps {
        let data = match item {
            StepSpec::Run(s) => StepDef {
                run: Some(s.clone()),
                ..StepDef::default()
            },
            StepSpec::Def(d) => d.clone(),
            StepSpec::Invalid(other) => {
                return Err(Error::user(format!(
                    "invalid step data: {}",
                    guild_format::run::yaml::py_repr(other)
                )))
            }
        };
        let shown_data = || {
            guild_format::run::yaml::py_repr(&serde_yaml_ng::to_value(&data).unwrap_or(Value::Null))
        };
        let run_spec = data.run.as_deref().unwrap_or("").trim().to_string();
        if run_spec.is_empty() {
            return Err(Error::user(format!(
                "invalid step {}: must define run",
                shown_data()
            )));
        }
        let args = shlex::split(&run_spec).ok_or_else(|| {
            Error::user(format!("invalid run spec '{run_spec}': unbalanced quotes"))
        })?;
        let RunSpec {
            opspec: opspec_param,
            mut label,
            mut tags,
            used,
            inline,
            mut ignored,
        } = parse_run_spec(args)?;
        let Some(opspec_param) = opspec_param else {
            return Err(Error::user(format!(
                "invalid step {}: must define run",
                shown_data()
            )));
        };
        ignored.sort();
        ignored.dedup();
        for p in ignored {
            warnings.push(format!(
                "WARNING: [guild] run parameter {p} used in '{run_spec}' ignored"
            ));
        }
        // Step data (`label:`, `tags:`, `flags:`) over the run spec.
        if let Some(l) = &data.label {
            label = Some(l.clone());
        }
        if let Some(t) = &data.tags {
            tags = t.clone();
        }
        let mut flag_vals = step_flag_vals(data.flags.as_ref(), inline);
        if label.is_none() {
            label = inherited.0.clone();
        }
        if tags.is_empty() {
            tags = inherited.1.clone();
        }
        let opspec = if model.is_empty() || opspec_param.contains(':') {
            opspec_param.clone()
        } else {
            format!("{model}:{opspec_param}")
        };
        let shown = data.name.clone().unwrap_or_else(|| opspec_param.clone());
        // Pipeline flags addressed to this step (`OP:NAME`, `STEP:NAME`;
        // the first prefix that has a name wins) override the step's own.
        let mut prefixed = Mapping::new();
        for prefix in [format!("{opspec}:"), format!("{shown}:")] {
            for (k, v) in parent {
                if let Some(n) = k.as_str().and_then(|k| k.strip_prefix(&prefix)) {
                    if !prefixed.contains_key(n) {
                        prefixed.insert(n.into(), v.clone());
                    }
                }
            }
        }
        for (k, v) in prefixed {
            flag_vals.insert(k, v);
        }
        let mut assigns: Vec<(String, Value)> = flag_vals
            .iter()
            .map(|(k, v)| (flags::encode_display(k), resolve_value(v, parent)))
            .filter(|(_, v)| !v.is_null())
            .collect();
        assigns.sort_by(|a, b| a.0.cmp(&b.0));
        let flag_args = assigns
            .into_iter()
            .map(|(k, v)| format!("{k}={}", flags::format_flag(&v)))
            .collect();
        let mut options = Vec::new();
        for (long, val) in used {
            options.push(long.to_string());
            options.extend(val);
        }
        if let Some(l) = label {
            options.push("--label".into());
            options.push(resolve_str(&l, parent));
        }
        for t in tags {
            options.push("--tag".into());
            options.push(resolve_str(&t, parent));
        }
        let base = link_name(&shown);
        let mut unique = base.clone();
        let mut n = 2;
        while out.iter().any(|s| s.name == unique) {
            unique = format!("{base}_{n}");
            n += 1;
        }
        out.push(Step {
            name: unique,
            shown,
            opspec,
            options,
            flag_args,
        });
    }
    Ok((out, warnings))
}

/// How deep pipelines may nest at run time.
pub const MAX_DEPTH: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_with_flags_refs_and_unique_names() {
        let steps: Value = serde_yaml_ng::from_str(
            "- prepare\n- run: train\n  flags:\n    lr: 0.2\n- train lr=${lr}\n- run: m:eval\n  name: ev\n- m:hello msg='hi ${lr}' --run-dir /tmp --stage -l lab\n",
        )
        .unwrap();
        let parent: Mapping =
            serde_yaml_ng::from_str("lr: 0.3\ntrain:epochs: 4\nm:train:epochs: 5\n").unwrap();
        let steps = specs_of(&steps).unwrap();
        let (s, warnings) = parse(&steps, &parent, "m", (None, vec!["t1".into()])).unwrap();
        assert_eq!(s[0].name, "prepare");
        assert_eq!(s[0].opspec, "m:prepare");
        assert_eq!(s[1].name, "train");
        // The op-qualified prefix wins over the step name's.
        assert_eq!(s[1].flag_args, ["epochs=5", "lr=0.2"]);
        assert_eq!(s[2].name, "train_2");
        assert_eq!(s[2].flag_args, ["epochs=5", "lr=0.3"]);
        assert_eq!(s[3].name, "ev");
        assert_eq!(s[3].shown, "ev");
        assert_eq!(s[4].shown, "m:hello");
        assert_eq!(s[4].name, "m-hello");
        assert_eq!(s[4].flag_args, ["msg='hi 0.3'"]);
        assert_eq!(s[4].options, ["--label", "lab", "--tag", "t1"]);
        assert_eq!(
            warnings,
            [
                "WARNING: [guild] run parameter run_dir used in 'm:hello msg='hi ${lr}' --run-dir /tmp --stage -l lab' ignored",
                "WARNING: [guild] run parameter stage used in 'm:hello msg='hi ${lr}' --run-dir /tmp --stage -l lab' ignored",
            ]
        );
        let bad: Value = serde_yaml_ng::from_str("- '   '\n").unwrap();
        assert_eq!(
            parse(&specs_of(&bad).unwrap(), &parent, "", (None, vec![]))
                .unwrap_err()
                .message(),
            "invalid step {'run': '   '}: must define run"
        );
        let bad: Value = serde_yaml_ng::from_str("- null\n").unwrap();
        assert_eq!(
            parse(&specs_of(&bad).unwrap(), &parent, "", (None, vec![]))
                .unwrap_err()
                .message(),
            "invalid step data: None"
        );
        let bad: Value = serde_yaml_ng::from_str("- {}\n- [1, 2]\n").unwrap();
        let specs = specs_of(&bad).unwrap();
        assert_eq!(specs[0], StepSpec::Def(StepDef::default()));
        assert_eq!(
            parse(&specs, &parent, "", (None, vec![]))
                .unwrap_err()
                .message(),
            "invalid step {}: must define run"
        );
        let not_list: Value = serde_yaml_ng::from_str("a: 1\n").unwrap();
        assert_eq!(
            specs_of(&not_list).unwrap_err().message(),
            "invalid steps data {'a': 1}: expected list"
        );
        // Written back as read (the pipeline run's `steps` attr).
        let round: Value = serde_yaml_ng::from_str(
            "- prep\n- run: train\n  name: t\n  flags: {lr: 0.1}\n  isolate-runs: no\n",
        )
        .unwrap();
        let specs = specs_of(&round).unwrap();
        assert_eq!(serde_yaml_ng::to_value(&specs).unwrap(), round);
    }
}
