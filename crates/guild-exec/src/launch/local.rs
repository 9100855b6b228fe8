//! Start a staged run on this machine.

use crate::exec;
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::home::Home;
use guild_format::output::scalars::ScalarParser;
use guild_format::run::{now_us, Run, Status};
use guild_project::op::cmd;
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a run is started (the options of `guild run` that apply to a start).
#[derive(Default)]
pub struct StartOpts {
    /// `--quiet`: the run's output is not echoed here.
    pub quiet: bool,
    /// The run's process gets no stdin (`/dev/null`).
    pub stdin_null: bool,
    /// `--pidfile`: the file that holds the supervisor's pid while the run
    /// runs.
    pub pidfile: Option<PathBuf>,
    /// `--stop-after MINUTES`.
    pub stop_after: Option<f64>,
    /// `--gpus DEVICES` (`Some("")` for `--no-gpus`): CUDA_VISIBLE_DEVICES
    /// for this start only.
    pub gpus: Option<String>,
    /// Staged just now by this process for this start: its `started`
    /// (the staging time) stands.
    pub fresh: bool,
    /// Who hears what the supervisor says (`--stop-after` stopping the
    /// run, an interim run deleted); nobody when None.
    pub report: Option<std::sync::Arc<dyn guild_format::report::Reporter>>,
}

impl StartOpts {
    /// The options as `guild run --start` arguments, for a supervisor that
    /// is a new process.
    fn supervisor_args(&self, cmd: &mut std::process::Command) {
        if self.quiet {
            cmd.arg("--quiet");
        }
        if let Some(p) = &self.pidfile {
            cmd.arg("--pidfile").arg(p);
        }
        if let Some(m) = self.stop_after {
            cmd.arg("--stop-after").arg(m.to_string());
        }
        match self.gpus.as_deref() {
            Some("") => {
                cmd.arg("--no-gpus");
            }
            Some(g) => {
                cmd.arg("--gpus").arg(g);
            }
            None => {}
        }
    }
}

/// Run a staged (or pending) run to completion in this process; returns
/// its exit status. `claim` is the start claim taken by the caller (see
/// [`exec::Claim`]); without one it is taken here, before anything is
/// touched.
pub fn start(
    home: &Home,
    run: &Run,
    cwd: &Path,
    opts: &StartOpts,
    claim: Option<exec::Claim>,
) -> Result<i64> {
    let _claim = match claim {
        Some(c) => c,
        None => exec::Claim::take(run)?,
    };
    let st = run.status().status;
    if st == Status::Running {
        return Err(Error::Running {
            run: run.short_id().to_string(),
            pid: None,
        });
    }
    let op = run.read_attr("op")?.unwrap_or(Value::Null);
    let flags: Mapping = match run.read_attr("flags")? {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    let opref = run.opref()?;
    let mut built = cmd::build(home, run, &op, &flags, cwd, &opref.op_desc())?;
    if let Some(g) = &opts.gpus {
        built.env.insert("CUDA_VISIBLE_DEVICES".into(), g.clone());
    }
    let pid_guard = match &opts.pidfile {
        Some(p) => {
            fsutil::write_atomic(p, std::process::id().to_string().as_bytes())?;
            Some(PidFile(p.clone()))
        }
        None => None,
    };
    let mut attrs = vec![(
        "cmd",
        Value::Sequence(built.display.iter().cloned().map(Value::from).collect()),
    )];
    attrs.extend(cmd::start_attrs(
        home,
        &built,
        &guild_format::redact::Rules::load()?,
    ));
    if !opts.fresh {
        attrs.push(("started", now_us().into()));
    }
    // What staging wrote the same need not be written again (a run
    // started as it is staged writes nothing more before it runs).
    attrs.retain(|(name, value)| !run.attr_is(name, value));
    // No longer staged: from here a killed supervisor leaves a run that
    // shows running while its process lives, then error.
    fsutil::remove_if_exists(&run.guild_path("STAGED"))?;
    fsutil::remove_if_exists(&run.guild_path("PENDING"))?;
    // A run started again shows running, not how it ended last time.
    run.del_attr("exit_status")?;
    run.del_attr("stopped")?;
    // Room for the end's attrs, kept when it starts (a staged run has
    // only Guild's files).
    if !run.has_room_for_end() {
        run.keep_room_for_end();
    }
    // Written once the process is spawned, while it boots.
    let on_start = move || {
        if attrs.is_empty() {
            Ok(())
        } else {
            run.write_attrs(&attrs)
        }
    };
    let flag_names: Vec<String> = flags
        .keys()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    let scalars_cfg = op
        .as_mapping()
        .and_then(|m| m.get("output-scalars"))
        .cloned()
        .unwrap_or(Value::Null);
    let scalars_cfg = guild_format::output::scalars::OutputScalars::from_value(&scalars_cfg)
        .map_err(Error::user)?;
    let parser = ScalarParser::from_config(&scalars_cfg, flag_names).map_err(Error::user)?;
    let op_flag = |k: &str| {
        op.as_mapping()
            .and_then(|m| m.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let status = exec::supervise(
        run,
        exec::SpawnSpec {
            argv: &built.argv,
            env: &built.env,
            cwd: &run.dir,
            echo: !opts.quiet,
            parser,
            stdin_null: opts.stdin_null,
            stoppable: op_flag("stoppable"),
            deadline: crate::launch::sweep::deadline(opts.stop_after),
            on_start: Some(Box::new(on_start)),
            report: opts.report.clone(),
        },
    );
    drop(pid_guard);
    // `delete-on-success`: a successful run goes to the trash.
    if matches!(status, Ok(0)) && op_flag("delete-on-success") {
        // A sweep's batch goes silently, as in Guild (its trials remain).
        if let (false, false, Some(report)) = (opts.quiet, run.is_batch(), &opts.report) {
            report.progress(&format!(
                "Deleting interim run {} ('{}' is configured for deletion on success)",
                run.id,
                opref.op_desc()
            ));
        }
        guild_format::run::trash::move_to(run, &home.trash_dir())?;
    }
    status
}

struct PidFile(PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The command of a `guild run --start` supervisor for `run`.
fn supervisor_cmd(home: &Home, run: &Run, cwd: &Path) -> Result<std::process::Command> {
    let mut cmd = std::process::Command::new(guild_format::platform::guild_exe()?);
    cmd.arg("-H")
        .arg(&home.path)
        .arg("-C")
        .arg(cwd)
        .args(["run", "--yes", "--start"]);
    // A run outside the home (`--run-dir`) by its path.
    if run
        .dir
        .parent()
        .is_some_and(|p| fsutil::same_file(p, &home.runs_dir()))
    {
        cmd.arg(&run.id);
    } else {
        cmd.arg(&run.dir);
    }
    Ok(cmd)
}

/// Start `run` in a detached `guild run --start` process and wait until it
/// runs (or has ended). Returns the supervising process's pid.
pub(crate) fn start_background(
    home: &Home,
    run: &Run,
    cwd: &Path,
    opts: &StartOpts,
    claim: &exec::Claim,
) -> Result<u32> {
    let mut cmd = supervisor_cmd(home, run, cwd)?;
    StartOpts {
        quiet: true,
        pidfile: opts.pidfile.clone(),
        stop_after: opts.stop_after,
        gpus: opts.gpus.clone(),
        stdin_null: true,
        report: None,
        fresh: false,
    }
    .supervisor_args(&mut cmd);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = exec::spawn_supervisor(cmd, claim, exec::Detach::Session)
        .map_err(|e| Error::process("cannot start background run", e))?;
    let pid = child.id();
    // Reaped when it ends, so a long-lived caller keeps no zombie.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    // Started means running (or already ended): a `stop` right after
    // finds it.
    let t0 = Instant::now();
    while !run.guild_path("LOCK").exists()
        && run.attr("exit_status").is_none()
        && t0.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(pid)
}

/// Start `run` in a `guild run --start` supervisor that stays in this
/// process's group (stopping the group stops it) and return it to the
/// caller to wait on; its output goes to pipes when `piped`.
pub(crate) fn start_child(
    home: &Home,
    run: &Run,
    cwd: &Path,
    opts: &StartOpts,
    claim: &exec::Claim,
    piped: bool,
) -> Result<std::process::Child> {
    let mut cmd = supervisor_cmd(home, run, cwd)?;
    opts.supervisor_args(&mut cmd);
    if piped {
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    if opts.stdin_null {
        cmd.stdin(std::process::Stdio::null());
    }
    exec::spawn_supervisor(cmd, claim, exec::Detach::No)
        .map_err(|e| Error::process(format!("cannot start run {}", run.short_id()), e))
}

/// Start `run` attached to this terminal: a `guild run --start` supervisor
/// in a session of its own records the run and echoes its output here,
/// with this terminal as its stdin; this process waits for it and passes
/// Ctrl-C and SIGTERM on. Killing this process, closing the terminal or
/// losing the SSH session leaves the run and its recording going (follow it
/// with `guild watch`). Inside a pipeline or sweep (`detach` false) the
/// supervisor stays in the caller's process group, so stopping the caller's
/// group stops it. Returns the run's exit code.
pub(crate) fn start_attached(
    home: &Home,
    run: &Run,
    cwd: &Path,
    opts: &StartOpts,
    claim: &exec::Claim,
    detach: exec::Detach,
) -> Result<i32> {
    // The supervisor is this process, forked (cheap: nothing read or built
    // twice), or when threads make that unsound, `guild run --start`.
    let forked = exec::fork_supervisor(
        detach,
        || {
            claim
                .try_clone()
                .and_then(|c| start(home, run, cwd, opts, Some(c)))
                .map(guild_format::error::exit_code_for_status)
        },
        |e| {
            if let Some(r) = &opts.report {
                r.warning(&format!("guild: {e}"));
            }
            e.exit_code()
        },
    )?;
    if let Some(pid) = forked {
        return exec::attach(pid);
    }
    let mut cmd = supervisor_cmd(home, run, cwd)?;
    opts.supervisor_args(&mut cmd);
    if opts.stdin_null {
        cmd.stdin(std::process::Stdio::null());
    }
    let child = exec::spawn_supervisor(cmd, claim, detach)
        .map_err(|e| Error::process(format!("cannot start run {}", run.short_id()), e))?;
    exec::attach(child.id() as i32)
}
