//! The process of a pipeline run (`guild __steps`): it runs the steps of
//! its operation one after another, each as a `guild run` of its own in the
//! project directory, linked from the pipeline's run directory. Beside the
//! sweep process (`sweep.rs`); the steps themselves are read from the run
//! by `op::steps`.

use guild_format::error::{Error, Result};
use guild_format::run::Run;
use guild_project::op::steps::{parse, specs_of, MAX_DEPTH};
use serde_yaml_ng::{Mapping, Value};
use std::path::PathBuf;

/// Run the steps of the pipeline run in the current directory (its run
/// dir, as set up by the supervisor); returns the exit code.
/// `report` hears the runner's lines (they are the run's output).
pub fn main(report: &dyn guild_format::report::Reporter) -> Result<i32> {
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
    let exe = guild_format::platform::guild_exe()?;
    // Stopping the pipeline signals its process group: the running step's
    // `guild run` passes the signal on to its run; this process waits for
    // the step to end (so no step is left behind) and starts no other.
    let signals = crate::exec::StopSignals::catch(
        &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP],
        crate::exec::Forward::Nothing,
    )?;
    // A step's operation is in the pipeline's model unless it names one.
    let model = run.opref().map(|o| o.model_name).unwrap_or_default();
    let params = match run.attr("run_params") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    let inherited = (
        params
            .get("label")
            .and_then(Value::as_str)
            .map(String::from),
        match params.get("tags") {
            Some(Value::Sequence(t)) => t
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        },
    );
    let (steps, warnings) = parse(&specs_of(&steps)?, &parent, &model, inherited)?;
    for w in warnings {
        report.progress(&w);
    }
    for step in steps {
        let stop = signals.received();
        if stop != 0 {
            report.progress("guild: pipeline stopped; later steps were not run");
            return Ok(128 + stop);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let link = run.dir.join(&step.name);
        std::os::unix::fs::symlink(format!("../{id}"), &link)
            .map_err(|e| Error::io("linking step run", &link, e))?;
        // As Guild shows it: the arguments joined, unquoted.
        let mut shown = vec![step.opspec.clone()];
        shown.extend(step.options.iter().cloned());
        shown.extend(step.flag_args.iter().cloned());
        report.progress(&format!(
            "INFO: [guild] running {}: {}",
            step.shown,
            shown.join(" ")
        ));
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["-H", &home, "run", "-y", "--run-id", &id, &step.opspec]);
        cmd.args(&step.options);
        cmd.args(&step.flag_args)
            .current_dir(&project)
            .env("GUILD_RUNS_PARENT", &run.id)
            .env("GUILD_PIPELINE_DEPTH", (depth + 1).to_string());
        let status = cmd
            .status()
            .map_err(|e| Error::process(format!("cannot run step {}", step.name), e))?;
        if !status.success() {
            let code = status.code().unwrap_or(1);
            // A step that failed before its run existed leaves no dangling link.
            if !link.exists() {
                let _ = std::fs::remove_file(&link);
            }
            report.progress(&format!(
                "guild: step {} failed with exit status {code}; later steps were not run",
                step.name
            ));
            return Ok(code);
        }
    }
    let stop = signals.received();
    Ok(if stop != 0 { 128 + stop } else { 0 })
}
