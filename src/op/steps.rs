//! Pipelines: the process of a `steps` operation's run. Each step runs as
//! its own run (staged, then started, by a child `guild run`), linked into
//! the pipeline's run directory as `<step name>`; the first failing step
//! stops the pipeline with its exit code. Matches Guild 0.9's steps_main.

use crate::error::{Error, Result};
use crate::op::flags;
use crate::run::Run;
use serde_yaml_ng::{Mapping, Value};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique among the steps: the name of its link in the pipeline run.
    pub name: String,
    /// The step's name as given (shown when it runs).
    pub shown: String,
    pub opspec: String,
    /// `NAME=VAL` arguments, in order.
    pub flag_args: Vec<String>,
    pub label: Option<String>,
    pub tags: Vec<String>,
}

/// Resolve `${flag}` references against the pipeline's flags.
fn resolve_refs(s: &str, parent: &Mapping) -> String {
    let re = regex::Regex::new(r"\$\{([^}]+)\}").expect("static regex");
    re.replace_all(s, |c: &regex::Captures| {
        parent
            .get(&c[1])
            .map(flags::encode_display)
            .unwrap_or_default()
    })
    .into_owned()
}

fn link_name(s: &str) -> String {
    s.chars()
        .map(|c| if " :/\\".contains(c) { '-' } else { c })
        .collect()
}

/// Parse the `steps` attr into steps with their final flag arguments.
pub fn parse(steps: &Value, parent: &Mapping) -> Result<Vec<Step>> {
    let Value::Sequence(items) = steps else {
        return Err(Error::user("steps must be a list".to_string()));
    };
    let mut out: Vec<Step> = Vec::new();
    for item in items {
        let (run, name, mut flag_map, label, tags) = match item {
            Value::String(s) => (s.clone(), None, Mapping::new(), None, Vec::new()),
            Value::Mapping(m) => {
                let run = m
                    .get("run")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::user(format!(
                            "step {} needs `run: OPERATION`",
                            crate::run::yaml::flow(item)
                        ))
                    })?
                    .to_string();
                let flags = m
                    .get("flags")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default();
                let tags = match m.get("tags") {
                    Some(Value::Sequence(t)) => t
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    Some(Value::String(t)) => vec![t.clone()],
                    _ => Vec::new(),
                };
                (
                    run,
                    m.get("name").and_then(Value::as_str).map(String::from),
                    flags,
                    m.get("label").and_then(Value::as_str).map(String::from),
                    tags,
                )
            }
            other => {
                // Guild's message (a step is OPERATION or {run: OPERATION, ...}).
                return Err(Error::user(format!(
                    "invalid step data: {}",
                    crate::run::yaml::flow(other)
                )));
            }
        };
        // Split first: a flag value with spaces stays one argument.
        let parts: Vec<String> = shlex::split(&run)
            .unwrap_or_default()
            .iter()
            .map(|p| resolve_refs(p, parent))
            .collect();
        let Some((opspec, inline)) = parts.split_first() else {
            return Err(Error::user("a step has an empty operation".to_string()));
        };
        let mut flag_args: Vec<String> = inline.to_vec();
        // Pipeline flags addressed to this step (`STEP:NAME`) are passed down.
        let step_name = name.clone().unwrap_or_else(|| link_name(opspec));
        for (k, v) in parent {
            if let Some(k) = k.as_str() {
                for prefix in [format!("{opspec}:"), format!("{step_name}:")] {
                    if let Some(n) = k.strip_prefix(&prefix) {
                        if !v.is_null() {
                            flag_map.insert(n.into(), v.clone());
                        }
                    }
                }
            }
        }
        for (k, v) in &flag_map {
            if v.is_null() {
                continue;
            }
            let val = match v {
                Value::String(s) => resolve_refs(s, parent),
                other => flags::encode_display(other),
            };
            flag_args.push(format!("{}={val}", flags::encode_display(k)));
        }
        let mut unique = step_name.clone();
        let mut n = 2;
        while out.iter().any(|s| s.name == unique) {
            unique = format!("{step_name}_{n}");
            n += 1;
        }
        out.push(Step {
            shown: step_name.clone(),
            name: unique,
            opspec: opspec.clone(),
            flag_args,
            label,
            tags,
        });
    }
    Ok(out)
}

/// How deep pipelines may nest at run time.
pub const MAX_DEPTH: u32 = 8;

/// Run the steps of the pipeline run in the current directory (its run
/// dir, as set up by the supervisor); returns the exit code.
pub fn main() -> Result<i32> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let run_dir = env("RUN_DIR").map(PathBuf::from).ok_or_else(|| {
        Error::user("__steps runs inside a pipeline run (RUN_DIR is not set)".to_string())
    })?;
    let project = env("PROJECT_DIR").map(PathBuf::from).ok_or_else(|| {
        Error::user("__steps runs inside a pipeline run (PROJECT_DIR is not set)".to_string())
    })?;
    let home = env("GUILD_HOME").ok_or_else(|| {
        Error::user("__steps runs inside a pipeline run (GUILD_HOME is not set)".to_string())
    })?;
    // Pipelines started by pipelines: a cycle the guild.yml check cannot
    // see (another project's operations, a changed guild.yml) ends here.
    let depth: u32 = env("GUILD_PIPELINE_DEPTH")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    if depth >= MAX_DEPTH {
        return Err(Error::user(format!(
            "pipelines nested more than {MAX_DEPTH} levels deep (a pipeline that runs itself?); check the steps of the operations in this chain"
        )));
    }
    let run = Run::at(run_dir);
    let steps = run.attr("steps").unwrap_or(Value::Sequence(Vec::new()));
    let parent = match run.attr("flags") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::user(format!("cannot find the guild executable: {e}")))?;
    // Stopping the pipeline signals its process group: the running step's
    // `guild run` passes the signal on to its run; this process waits for
    // the step to end (so no step is left behind) and starts no other.
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(
                sig,
                on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
    // A step's operation is in the pipeline's model unless it names one.
    let model = run.opref().map(|o| o.model_name).unwrap_or_default();
    for mut step in parse(&steps, &parent)? {
        if !model.is_empty() && !step.opspec.contains(':') {
            step.opspec = format!("{model}:{}", step.opspec);
        }
        let stop = STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst);
        if stop != 0 {
            eprintln!("guild: pipeline stopped; later steps were not run");
            return Ok(128 + stop);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let link = run.dir.join(&step.name);
        std::os::unix::fs::symlink(format!("../{id}"), &link)
            .map_err(|e| Error::io("linking step run", &link, e))?;
        let mut shown = vec![step.opspec.clone()];
        shown.extend(step.flag_args.iter().map(|a| match a.split_once('=') {
            Some((k, v)) => format!("{k}={}", crate::run::opref::quote(v)),
            None => a.clone(),
        }));
        eprintln!("INFO: [guild] running {}: {}", step.shown, shown.join(" "));
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["-H", &home, "run", "-y", "--run-id", &id, &step.opspec]);
        if let Some(l) = &step.label {
            cmd.args(["--label", l]);
        }
        for t in &step.tags {
            cmd.args(["--tag", t]);
        }
        cmd.args(&step.flag_args)
            .current_dir(&project)
            .env("GUILD_RUNS_PARENT", &run.id)
            .env("GUILD_PIPELINE_DEPTH", (depth + 1).to_string());
        let status = cmd
            .status()
            .map_err(|e| Error::user(format!("cannot run step {}: {e}", step.name)))?;
        if !status.success() {
            let code = status.code().unwrap_or(1);
            // A step that failed before its run existed leaves no dangling link.
            if !link.exists() {
                let _ = std::fs::remove_file(&link);
            }
            eprintln!(
                "guild: step {} failed with exit status {code}; later steps were not run",
                step.name
            );
            return Ok(code);
        }
    }
    let stop = STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst);
    Ok(if stop != 0 { 128 + stop } else { 0 })
}

static STOP_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, std::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_with_flags_refs_and_unique_names() {
        let steps: Value = serde_yaml_ng::from_str(
            "- prepare\n- run: train\n  flags:\n    lr: 0.2\n- train lr=${lr}\n- run: m:eval\n  name: ev\n",
        )
        .unwrap();
        let parent: Mapping = serde_yaml_ng::from_str("lr: 0.3\ntrain:epochs: 4\n").unwrap();
        let s = parse(&steps, &parent).unwrap();
        assert_eq!(s[0].name, "prepare");
        assert_eq!(s[1].name, "train");
        assert_eq!(s[1].flag_args, ["lr=0.2", "epochs=4"]);
        assert_eq!(s[2].name, "train_2");
        assert_eq!(s[2].flag_args, ["lr=0.3", "epochs=4"]);
        assert_eq!(s[3].name, "ev");
        assert_eq!(s[3].opspec, "m:eval");
        assert_eq!(link_name("m:eval"), "m-eval");
    }
}
