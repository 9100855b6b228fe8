//! The sweep runner. As in Guild 0.9 a sweep is a batch run holding the
//! user operation's proto run (`.guild/proto`) and a link to each trial;
//! trials are ordinary runs, staged from the proto and then started, up to
//! `--parallel` at a time, by the batch run's own process (`guild __batch`).

use crate::launch::Target;
use guild_format::error::{Error, Result};
use guild_format::run::Run;
use guild_project::op::flags;
use serde_yaml_ng::{Mapping, Value};
use std::time::{Duration, Instant};

// ------------------------------------------------------------- the runner

/// Options of a batch, stored in its `batch` attr.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How many trials run at a time (`--parallel`, at least 1).
    pub parallel: usize,
    /// The first failing trial ends the sweep with its error
    /// (`--fail-on-trial-error`).
    pub fail_on_trial_error: bool,
    /// `--stop-after MINUTES` for each trial.
    pub stop_after: Option<f64>,
    /// Skip a trial whose operation and flags already ran (`--needed`).
    pub needed: bool,
    /// Trials start quietly (`--quiet`).
    pub quiet: bool,
    /// Stage every trial and start none (`--stage-trials`).
    pub stage_trials: bool,
}

impl Options {
    /// The options as the `batch` attr records them.
    pub fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert("parallel".into(), (self.parallel as u64).into());
        m.insert(
            "fail-on-trial-error".into(),
            self.fail_on_trial_error.into(),
        );
        m.insert(
            "stop-after".into(),
            self.stop_after.map(Value::from).unwrap_or(Value::Null),
        );
        m.insert("needed".into(), self.needed.into());
        m.insert("quiet".into(), self.quiet.into());
        m.insert("stage-trials".into(), self.stage_trials.into());
        Value::Mapping(m)
    }

    pub(crate) fn from_value(v: Option<&Value>) -> Options {
        let get = |k: &str| v.and_then(|v| v.get(k));
        Options {
            parallel: get("parallel").and_then(Value::as_u64).unwrap_or(1).max(1) as usize,
            fail_on_trial_error: get("fail-on-trial-error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            stop_after: get("stop-after").and_then(Value::as_f64),
            needed: get("needed").and_then(Value::as_bool).unwrap_or(false),
            quiet: get("quiet").and_then(Value::as_bool).unwrap_or(false),
            stage_trials: get("stage-trials")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

impl Options {
    /// How each trial is started: no stdin, the sweep's quiet and time
    /// limit; `report` hears a trial supervised in this process.
    fn start_opts(
        &self,
        report: Option<std::sync::Arc<dyn guild_format::report::Reporter>>,
    ) -> crate::launch::StartOpts {
        crate::launch::StartOpts {
            quiet: self.quiet,
            stdin_null: true,
            pidfile: None,
            stop_after: self.stop_after,
            gpus: None,
            report,
            fresh: false,
        }
    }
}

/// The process of a batch run (`guild __batch`): create and start each
/// trial, at most `parallel` at once. Returns the batch's exit code.
/// `report` hears the runner's lines (they are the run's output).
pub fn main(report: std::sync::Arc<dyn guild_format::report::Reporter>) -> Result<i32> {
    let (home, batch) = batch_from_env()?;
    let opts = Options::from_value(batch.attr("batch").as_ref());
    let trials = trials_of(&batch);
    // A stop ends the sweep: no trial starts after it. A trial supervised
    // here gets the signal from its supervisor; parallel trials share this
    // process group.
    let signals = crate::exec::StopSignals::catch(
        &[libc::SIGTERM, libc::SIGINT],
        crate::exec::Forward::Nothing,
    )?;
    let proto = Run::at(batch.guild_path("proto"));
    let opref = proto.opref()?;
    let target = crate::launch::Local { home: &home };
    let existing = if opts.needed {
        guild_format::query::list_dir(&home.runs_dir())
    } else {
        Vec::new()
    };
    // A batch started again resumes: a trial that completed or runs is
    // kept, one left staged or that failed runs again in place, the rest
    // are new.
    let mut resume = resumed(&home, &batch, &trials);
    // A trial --needed skips: a run of the operation with its flags ran.
    let needed_done = |t: &Mapping| {
        opts.needed
            && guild_format::query::same_op_and_flags(existing.iter().cloned(), &opref, t).any(
                |r| {
                    matches!(
                        r.status.status,
                        guild_format::run::Status::Completed | guild_format::run::Status::Running
                    )
                },
            )
    };
    // Every trial exists before the first starts (as Guild: `guild runs`
    // shows the sweep's pending trials, which `stop`/`delete` can reach).
    for (i, t) in trials.iter().enumerate() {
        if resume[i].is_none() && !needed_done(t) {
            if signals.received() != 0 {
                break;
            }
            resume[i] = Some(guild_project::plan::stage_trial(&home, &batch, i, t)?);
        }
    }
    if opts.stage_trials {
        return stage_only(report.as_ref(), &opref, &resume);
    }
    // Trials staged up front and never started do not count as started.
    let started = resume
        .iter()
        .flatten()
        .filter(|r| !r.has_marker("PENDING"))
        .count();
    if started > 0 {
        report.progress(&format!(
            "INFO: [guild] Resuming the sweep: {started} of {} trials were started before",
            trials.len()
        ));
    }
    // Trials are child processes, reaped with a blocking wait (no polling
    // delay between one trial's end and the next one's start).
    let mut running: Vec<(String, i32)> = Vec::new();
    // Parallel trials' output, relayed line by line with the trial's name.
    let mut relays: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let mut failed: Option<i32> = None;
    let mut next = 0usize;
    loop {
        let stopping = signals.received() != 0 || failed.is_some();
        let can_launch = next < trials.len() && !stopping && running.len() < opts.parallel;
        if !can_launch {
            if running.is_empty() {
                break;
            }
            if !reap_one(&mut running, report.as_ref(), &opts, &mut failed) {
                break;
            }
            continue;
        }
        let t = &trials[next];
        let index = next;
        next += 1;
        if resume[index].is_none() && needed_done(t) {
            report.progress(&format!(
                "INFO: [guild] Skipping trial {index} because a run with its flags exists (--needed)"
            ));
            continue;
        }
        let Some(run) = trial_run(
            report.as_ref(),
            &home,
            &batch,
            resume[index].take(),
            index,
            t,
        )?
        else {
            continue;
        };
        report.progress(&format!(
            "INFO: [guild] Running trial {}: {} ({})",
            run.id,
            opref.op_desc(),
            trial_desc(t)
        ));
        let Some(cwd) = trial_cwd(&home, &run, &opts, report.as_ref()) else {
            if opts.fail_on_trial_error && failed.is_none() {
                failed = Some(1);
            }
            continue;
        };
        if opts.parallel == 1 {
            let code = run_in_process(&target, &run, &cwd, &opts, &report);
            if signals.received() != 0 {
                report.progress(&format!("INFO: [guild] Stopping trial {}", run.id));
            }
            if code != 0 && signals.received() == 0 {
                report.progress(&format!(
                    "INFO: [guild] Trial {} exited with an error ({code}) - see log for details",
                    run.id
                ));
                if opts.fail_on_trial_error && failed.is_none() {
                    failed = Some(guild_format::error::exit_code_for_status(code));
                }
            }
            continue;
        }
        if let Some(pid) = start_child(&target, &run, &cwd, &opts, &mut relays)? {
            running.push((run.id.clone(), pid));
        }
    }
    for r in relays {
        let _ = r.join();
    }
    let sig = signals.received();
    if sig != 0 {
        report.progress("INFO: [guild] Stopping batch (pending trials can be started as needed)");
        // End by the signal itself, so the batch run records it
        // (terminated, exit -15), as Guild's does.
        crate::exec::end_by_signal(sig);
        return Ok(128 + sig);
    }
    Ok(failed.unwrap_or(0))
}

/// Wait for one parallel trial to end and note its failure. False when
/// there is nothing left to wait for.
fn reap_one(
    running: &mut Vec<(String, i32)>,
    report: &dyn guild_format::report::Reporter,
    opts: &Options,
    failed: &mut Option<i32>,
) -> bool {
    let (pid, code) = match crate::exec::wait_any_child() {
        crate::exec::Waited::Ended { pid, code } => (pid, code),
        crate::exec::Waited::Again => return true,
        crate::exec::Waited::NoChildren => return false,
    };
    if let Some(pos) = running.iter().position(|(_, p)| *p == pid) {
        let (id, _) = running.remove(pos);
        if code != 0 {
            report.progress(&format!(
                "INFO: [guild] Trial {id} exited with an error ({code}) - see log for details"
            ));
            if opts.fail_on_trial_error && failed.is_none() {
                *failed = Some(code);
            }
        }
    }
    true
}

/// The run of trial `index`: the one from before (None when it completed
/// or runs: it is kept), or a new one staged.
fn trial_run(
    report: &dyn guild_format::report::Reporter,
    home: &guild_format::home::Home,
    batch: &Run,
    before: Option<Run>,
    index: usize,
    t: &Mapping,
) -> Result<Option<Run>> {
    match before {
        Some(run) => match run.status().status {
            guild_format::run::Status::Completed | guild_format::run::Status::Running
                if !run.has_marker("PENDING") =>
            {
                report.progress(&format!(
                    "INFO: [guild] Keeping trial {} ({})",
                    run.id,
                    run.status().display()
                ));
                Ok(None)
            }
            _ => Ok(Some(run)),
        },
        None => guild_project::plan::stage_trial(home, batch, index, t).map(Some),
    }
}

/// Where trial `run` runs, once it resolved its own dependencies (a
/// config file written with the trial's flags; operation sources staging
/// left); None when they cannot be (said to `report`).
fn trial_cwd(
    home: &guild_format::home::Home,
    run: &Run,
    opts: &Options,
    report: &dyn guild_format::report::Reporter,
) -> Option<std::path::PathBuf> {
    let cwd = std::env::var("CMD_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| run.dir.clone());
    match guild_project::op::deps::resolve_at_start(home, run, &cwd, opts.quiet, report) {
        Ok(_) => Some(cwd),
        Err(e) => {
            report.progress(&format!("guild: trial {}: {}", run.id, e.message()));
            None
        }
    }
}

/// The home and the batch run of this process, from its environment.
fn batch_from_env() -> Result<(guild_format::home::Home, Run)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let run_dir = env("RUN_DIR").ok_or_else(|| {
        Error::user("__batch runs inside a batch run (RUN_DIR is not set)".to_string())
    })?;
    let home_path = env("GUILD_HOME").ok_or_else(|| {
        Error::user("__batch runs inside a batch run (GUILD_HOME is not set)".to_string())
    })?;
    let home = guild_format::home::Home {
        path: home_path.into(),
    };
    Ok((home, Run::at(run_dir.into())))
}

/// The trials the batch records (each a mapping of flag values).
fn trials_of(batch: &Run) -> Vec<Mapping> {
    match batch.attr("trials") {
        Some(Value::Sequence(t)) => t
            .into_iter()
            .filter_map(|v| match v {
                Value::Mapping(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A batch started again (after its process was killed, or by
/// `--restart`) resumes: each trial's run from before, by its flags.
fn resumed(home: &guild_format::home::Home, batch: &Run, trials: &[Mapping]) -> Vec<Option<Run>> {
    let mut resume: Vec<Option<Run>> = vec![None; trials.len()];
    for id in batch.linked_ids() {
        let run = Run::at(home.runs_dir().join(&id));
        let Some(Value::Mapping(f)) = run.attr("flags") else {
            continue;
        };
        if let Some(i) = (0..trials.len()).find(|i| resume[*i].is_none() && trials[*i] == f) {
            resume[i] = Some(run);
        }
    }
    resume
}

/// `--stage-trials`: the trials staged, not pending; each starts with
/// `guild run --start ID`.
fn stage_only(
    report: &dyn guild_format::report::Reporter,
    opref: &guild_format::run::Opref,
    resume: &[Option<Run>],
) -> Result<i32> {
    for run in resume.iter().flatten().filter(|r| r.has_marker("PENDING")) {
        guild_format::fsutil::touch(&run.guild_path("STAGED"))?;
        guild_format::fsutil::remove_if_exists(&run.guild_path("PENDING"))?;
        let flags = match run.attr("flags") {
            Some(Value::Mapping(m)) => m,
            _ => Mapping::new(),
        };
        report.progress(&format!(
            "INFO: [guild] Staging trial {}: {} ({})",
            run.id,
            opref.op_desc(),
            trial_desc(&flags)
        ));
    }
    Ok(0)
}

/// One trial at a time: run it under this process's supervision (no
/// extra process start per trial); a stop signal received meanwhile is
/// forwarded to the trial and ends the sweep. Returns the trial's exit
/// status.
fn run_in_process(
    target: &crate::launch::Local,
    run: &Run,
    cwd: &std::path::Path,
    opts: &Options,
    report: &std::sync::Arc<dyn guild_format::report::Reporter>,
) -> i64 {
    let start = opts.start_opts(Some(report.clone()));
    let started = target.start(
        run,
        crate::launch::StartRequest {
            cwd,
            opts: &start,
            attach: crate::launch::Attach::InProcess,
            claim: None,
        },
    );
    match started {
        Ok(crate::launch::Started::Ended { exit_status, .. }) => exit_status,
        Ok(_) => 0,
        Err(e) => {
            report.progress(&format!("guild: trial {}: {}", run.id, e.message()));
            1
        }
    }
}

/// Trials in parallel: start the trial's supervisor as a child of this
/// process, its output relayed with the trial's name. Returns its pid.
fn start_child(
    target: &crate::launch::Local,
    run: &Run,
    cwd: &std::path::Path,
    opts: &Options,
    relays: &mut Vec<std::thread::JoinHandle<()>>,
) -> Result<Option<i32>> {
    let start = opts.start_opts(None);
    let started = target.start(
        run,
        crate::launch::StartRequest {
            cwd,
            opts: &start,
            attach: crate::launch::Attach::Child { piped: !opts.quiet },
            claim: None,
        },
    )?;
    let crate::launch::Started::Child(mut child) = started else {
        return Ok(None);
    };
    let name = run
        .attr_str("name")
        .unwrap_or_else(|| run.short_id().to_string());
    if let Some(out) = child.stdout.take() {
        relays.push(relay_lines(out, format!("[{name}] "), false));
    }
    if let Some(err) = child.stderr.take() {
        relays.push(relay_lines(err, format!("[{name}] "), true));
    }
    Ok(Some(child.id() as i32))
}

/// Copy `from` line by line to this process's stdout (stderr with `err`),
/// each line after `prefix` and written whole (lines of parallel trials
/// never interleave inside a line).
fn relay_lines(
    from: impl std::io::Read + Send + 'static,
    prefix: String,
    err: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let mut r = std::io::BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            let mut buf = prefix.clone().into_bytes();
            buf.extend_from_slice(&line);
            let _ = if err {
                std::io::stderr().lock().write_all(&buf)
            } else {
                std::io::stdout().lock().write_all(&buf)
            };
        }
    })
}

/// A trial's flags as the batch's log lines show them (`a=1, b=x`).
fn trial_desc(t: &Mapping) -> String {
    let mut v: Vec<(String, String)> = t
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), flags::encode_display(v))))
        .collect();
    v.sort();
    v.into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A deadline for `--stop-after MINUTES`.
pub(crate) fn deadline(minutes: Option<f64>) -> Option<Instant> {
    minutes
        .filter(|m| *m > 0.0)
        .map(|m| Instant::now() + Duration::from_secs_f64(m * 60.0))
}
