//! `run`: resolve the operation and flags, stage the run (or a sweep's
//! batch run), and start it through its target. Whatever a caller must
//! show (help, a source code test, commands) comes back as an
//! [`Outcome`]; progress and questions go through the reporter.

use super::{Context, Question};
use guild_exec::launch::{Attach, Local, StartOpts, StartRequest, Started, Target};
use guild_format::error::{Error, Result};
use guild_format::query::{self, RunInfo};
use guild_format::run::Run;
use guild_project::op::{self, flags, OpDef};
use guild_project::plan::{self, StageRequest};
use serde_yaml_ng::{Mapping, Value};
use std::path::PathBuf;

/// What `run` was asked to do: Guild 0.9's `run` options.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Script to run (Python script or executable file)
    pub opspec: Option<String>,
    /// Flag values as NAME=VALUE
    pub flags: Vec<String>,
    /// Arguments for the script after `--` (`--name value` for a known flag sets it)
    pub raw: Vec<String>,
    /// Do not ask for confirmation
    pub yes: bool,
    /// Run label (a template: `${flag}`, `${default_label}`)
    pub label: Option<String>,
    /// Tag the run (repeatable)
    pub tags: Vec<String>,
    /// Write the run directory without running it
    pub stage: bool,
    /// Start a staged run, or re-run a finished run in place with its flags (FLAG=VAL overrides)
    pub start: Option<String>,
    /// Start a new run with the operation, flags and source code of RUN (FLAG=VAL overrides)
    pub proto: Option<String>,
    /// Skip the run when a run of the same operation with the same flags exists
    pub needed: bool,
    /// Sweep optimizer: + (grid, the default for lists) or random (the default for uniform[a:b])
    pub optimizer: Option<String>,
    /// Run with the operation's default optimizer (its `optimizer`, or the
    /// one marked `default` in `optimizers`)
    pub optimize: bool,
    /// A flag for the optimizer, FLAG=VAL (repeatable; also -Fo)
    pub opt_flags: Vec<String>,
    /// Number of trials (random search: default 20; grid: a random sample)
    pub max_trials: Option<u64>,
    /// Seed for sampling trials (reproducible sweeps)
    pub random_seed: Option<u64>,
    /// Run up to N trials of a sweep at once
    pub parallel: u64,
    /// Stop a sweep at the first failed trial (default: run the others)
    pub fail_on_trial_error: bool,
    /// Stop the run (each trial of a sweep) after MINUTES
    pub stop_after: Option<f64>,
    /// Print the trials of a sweep and exit
    pub print_trials: bool,
    /// Grid-style sweep strategy for `--flag VALUES` script flags
    pub strategy: Option<String>,
    /// Grid-style: number of trials for random_search (default 20)
    pub num_trials: Option<u64>,
    /// Grid-style: seed for sampled values and trials (same as --random-seed)
    pub seed: Option<u64>,
    /// A script flag given Grid-style (`--lr "[1, 2]"` after the script)
    pub grid_flags: Vec<String>,
    /// Run in the background and return at once
    pub background: bool,
    /// Write the supervising process's pid to FILE (removed when done); implies --background unless used with --start
    pub pidfile: Option<PathBuf>,
    /// Create the run in DIR instead of the guild home's runs directory
    /// (it is then not listed, unless DIR is in it)
    pub run_dir: Option<PathBuf>,
    /// Continue even when a required resource cannot be resolved
    pub force_deps: bool,
    /// Make only these GPUs visible to the run (CUDA_VISIBLE_DEVICES), e.g. `0,1`
    pub gpus: Option<String>,
    /// Hide all GPUs from the run (CUDA_VISIBLE_DEVICES empty)
    pub no_gpus: bool,
    /// Keep a sweep's batch run when the sweep ends (by default it goes to
    /// the trash and only the trials are listed)
    pub keep_batch: bool,
    /// Keep the run even when its operation has `delete-on-success: yes`
    pub keep_run: bool,
    /// Do not echo the run's output
    pub quiet: bool,
    /// Accept flags the operation does not define
    pub force_flags: bool,
    /// Print the command that would run and exit
    pub print_cmd: bool,
    /// Print the environment the operation adds and exit
    pub print_env: bool,
    /// For a sweep: stage every trial and start none (each can be started
    /// with `guild run --start ID`)
    pub stage_trials: bool,
    /// Show the operation's flags and exit
    pub help_op: bool,
    /// With --restart: copy the operation's source code into the run again
    /// (its current version) before starting
    pub force_sourcecode: bool,
    /// Show which project files would be copied as source code (and the
    /// rules that decide) and exit
    pub test_sourcecode: bool,
    /// Create the run with this id (used for pipeline steps)
    pub run_id: Option<String>,
    /// The start claim passed down by the guild process that took it
    pub claim_fd: Option<i32>,
    /// Give the run this name (default: a new one like `spiffy-sunfish-821`)
    pub run_name: Option<String>,
    /// Run it on this remote (`remotes::list`): staged here, copied there
    /// and started there (SSH), or submitted (Slurm)
    pub remote: Option<String>,
    /// Environment variables for the run, `NAME=VALUE` (recorded with it)
    pub env: Vec<String>,
}

/// The flags a Python script declares (its argparse/click options and
/// globals), by name: what `--NAME` after the script refers to.
pub fn script_flags(source: &str, name: &str) -> Vec<String> {
    op::detect::detect(source, name)
        .flags
        .into_iter()
        .map(|f| f.name)
        .collect()
}

/// The process of a pipeline run (`guild __steps`): run its steps.
pub fn pipeline_process(report: &dyn super::Reporter) -> Result<i32> {
    guild_exec::launch::install_scheduler();
    guild_exec::launch::steps::main(report)
}

/// The process of a sweep's batch run (`guild __batch`): run its trials.
pub fn sweep_process(report: std::sync::Arc<dyn super::Reporter>) -> Result<i32> {
    guild_exec::launch::install_scheduler();
    guild_exec::launch::sweep::main(report)
}

/// How a `run` ended, and what the caller has to show.
#[derive(Debug)]
pub enum Outcome {
    /// Staged, started in the background, or run: the exit code (a
    /// foreground run's own).
    Done(i32),
    /// The user answered no.
    Declined,
    /// `--help-op`: the operation to describe.
    HelpOp(Box<OpDef>),
    /// `--test-sourcecode`.
    SourcecodeTest(op::source::Test),
    /// `--print-trials`: each trial's flags.
    Trials(Vec<Mapping>),
    /// `--print-cmd`: the commands, one per line.
    Commands(Vec<Vec<String>>),
    /// `--print-env`: the operation's environment.
    Env(Vec<(String, String)>),
    /// `--needed`: these runs already ran the operation with its flags.
    AlreadyRun(Vec<RunInfo>),
    /// `--needed` on a restart whose flags did not change.
    Unchanged,
    /// Staged, started in the background or sent to a remote: the run (a
    /// sweep's batch run) that was made.
    Launched(Launched),
}

/// A run made by `run` that goes on without the caller.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Launched {
    pub id: String,
    pub name: Option<String>,
    pub operation: String,
    /// `staged`, `background`, `remote` (an SSH run in the background) or
    /// `submitted` (Slurm).
    pub how: &'static str,
    /// The trials sent with a sweep (a local sweep makes its own later).
    pub trials: Vec<String>,
    pub remote: Option<String>,
    pub job: Option<String>,
    pub pid: Option<u32>,
}

impl Launched {
    fn of(run: &Run, operation: &str, how: &'static str) -> Launched {
        Launched {
            id: run.id.clone(),
            name: run.attr_str("name"),
            operation: operation.to_string(),
            how,
            trials: Vec::new(),
            remote: None,
            job: None,
            pid: None,
        }
    }
}

pub fn run(ctx: &Context, a: &RunRequest) -> Result<Outcome> {
    if a.gpus.is_some() && a.no_gpus {
        return Err(Error::user(
            "--no-gpus and --gpus cannot both be used Try 'guild run --help' for more information.",
        ));
    }
    if a.stage && (a.background || a.pidfile.is_some()) {
        return Err(Error::user(
            "--stage and --background/--pidfile cannot both be used",
        ));
    }
    if a.remote.is_some() {
        let bad = [
            (a.stage, "--stage"),
            (a.stage_trials, "--stage-trials"),
            (a.pidfile.is_some(), "--pidfile"),
            (a.run_dir.is_some(), "--run-dir"),
            (a.needed, "--needed"),
            (a.proto.is_some(), "--proto"),
        ];
        if let Some((_, opt)) = bad.iter().find(|(b, _)| *b) {
            return Err(Error::user(format!(
                "--remote cannot be used with {opt}; stage the run here (guild run --stage), then start it there with `guild run --start ID --remote NAME`"
            )));
        }
    }
    if a.print_cmd && a.print_env {
        return Err(Error::user(
            "--print-cmd and --print-env cannot both be used",
        ));
    }
    // `guild run lr=0.1` runs the default operation with a flag.
    let mut flag_strs = a.flags.clone();
    let spec = match a.opspec.clone() {
        Some(s) if s.contains('=') && !s.starts_with('=') => {
            flag_strs.insert(0, s);
            None
        }
        other => other,
    };
    if let Some(run_spec) = &a.start {
        if spec.is_some() {
            return Err(Error::user(
                "OPERATION cannot be used with --start/--restart (the run's own operation is used)",
            ));
        }
        return start_existing(ctx, a, run_spec, &flag_strs);
    }
    let mut proto: Option<Run> = None;
    let mut op = match &a.proto {
        Some(p) => {
            if spec.is_some() {
                return Err(Error::user(
                    "OPERATION cannot be used with --proto (the proto run's operation is used)",
                ));
            }
            let run = query::find(&ctx.home.runs_dir(), p)?;
            let opref = run.opref()?;
            let op = op::for_run(&ctx.home, &opref).ok_or_else(|| {
                Error::user(format!(
                    "cannot use run {} as a prototype: its operation {} is no longer defined at {}",
                    run.short_id(),
                    opref.op_desc(),
                    opref.pkg_name
                ))
            })?;
            proto = Some(run);
            op
        }
        None => op::resolve(&ctx.home, &ctx.cwd, spec.as_deref())?,
    };
    for w in op.warnings.drain(..) {
        ctx.report.warning(&w);
    }
    if a.keep_run {
        op.delete_on_success = false;
    }
    for kv in &a.env {
        let (k, v) = parse_env(kv)?;
        op.cmd_env.insert(k.into(), v.into());
    }
    if a.no_gpus {
        op.cmd_env
            .insert("CUDA_VISIBLE_DEVICES".into(), String::new().into());
    } else if let Some(g) = &a.gpus {
        op.cmd_env
            .insert("CUDA_VISIBLE_DEVICES".into(), g.clone().into());
    }
    // `--optimizer NAME` (a name the operation declares, a built-in, or
    // any operation of the project) or `--optimize`.
    let choice = op::optimizer::choose(&op, a.optimizer.as_deref(), a.optimize)?;
    let builtin_opt = match &choice {
        Some(op::optimizer::Choice::Builtin(n)) => Some(n.clone()),
        _ => None,
    };
    let custom_opt = match &choice {
        Some(op::optimizer::Choice::Op { spec, flags }) => Some((spec.clone(), flags.clone())),
        _ => None,
    };
    // The built-in optimizers (+ and random) take no flags.
    if let (Some(f), None) = (a.opt_flags.first(), &custom_opt) {
        match builtin_opt.as_deref() {
            None => {
                return Err(Error::user(format!(
                    "invalid optimizer flag {f}: no optimizer specified"
                )))
            }
            Some(o @ ("+" | "random")) => {
                let name = f.split_once('=').map(|(n, _)| n).unwrap_or(f);
                let opt = if o == "random" { "skopt:random" } else { o };
                return Err(Error::user(format!(
                    "unsupported flag '{name}' Try 'guild run {opt} --help-op' for a list of flags or use --force-flags to skip this check."
                )));
            }
            // Other optimizers are reported as unknown below.
            Some(_) => {}
        }
    }
    let batch_files: Vec<String> = flag_strs
        .iter()
        .filter_map(|f| f.strip_prefix('@').map(String::from))
        .collect();
    flag_strs.retain(|f| !f.starts_with('@'));
    let mut flag_args = op::parse_flag_args(&flag_strs)?;
    // Grid.ai syntax: `--name VALUES` flags (before or after `--`) expand
    // to lists with the sweep's seed; Guild's NAME=VALUE must not use it.
    for (k, v) in &flag_args {
        if guild_project::plan::sweep::grid::is_grid_call(v) {
            return Err(Error::user(format!(
                "flag '{k}' mixes Grid syntax ({v}) with Guild syntax ({k}=VALUE); write --{k} \"{v}\" after the script, or {k}=uniform[a:b] / {k}=range[a:b]"
            )));
        }
    }
    let mut grid_pairs: Vec<(String, String)> = Vec::new();
    for g in &a.grid_flags {
        let (k, v) = g.split_once('=').unwrap_or((g.as_str(), "yes"));
        grid_pairs.push((k.to_string(), v.to_string()));
    }
    let extra = split_raw_args(&op, &a.raw, &mut grid_pairs);
    let seed = a.seed.or(a.random_seed).unwrap_or_else(|| {
        use rand::Rng;
        rand::thread_rng().gen_range(0..(1u64 << 32))
    });
    {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for (k, raw) in grid_pairs {
            if flag_args.iter().any(|(n, _)| *n == k) {
                return Err(Error::user(format!(
                    "flag '{k}' is given twice, as {k}=VALUE and as --{k} VALUE; give it once"
                )));
            }
            let v = guild_project::plan::sweep::grid::expand(&k, &raw, &mut rng)?;
            let text = match &v {
                Value::String(s) => s.clone(),
                other => guild_format::run::yaml::flow(other),
            };
            flag_args.push((k, text));
        }
    }
    if !extra.is_empty() {
        let pos = op
            .cmd_args
            .iter()
            .position(|x| x == "__flag_args__")
            .map(|p| p + 1)
            .unwrap_or(op.cmd_args.len());
        for (i, x) in extra.into_iter().enumerate() {
            op.cmd_args.insert(pos + i, x);
        }
    }
    if a.help_op {
        return Ok(Outcome::HelpOp(Box::new(op)));
    }
    let mut resolved = match &proto {
        Some(p) => {
            let base = match p.attr("flags") {
                Some(Value::Mapping(m)) => m,
                _ => serde_yaml_ng::Mapping::new(),
            };
            op::override_flags(Some(&op), &base, &flag_args, a.force_flags, &ctx.cwd)?
        }
        None => op::resolve_flags(&op, &flag_args, a.force_flags, &ctx.cwd)?,
    };
    // Operation dependencies: their flags get the full id of the run
    // each will use (shown in the prompt).
    op::deps::apply_default_runs(
        &op,
        &ctx.home.runs_dir(),
        &mut resolved.flags,
        ctx.report.as_ref(),
    )?;
    if a.test_sourcecode {
        let mut exclude = vec![ctx.home.path.clone()];
        exclude.extend(op::deps::project_files(&op));
        return Ok(Outcome::SourcecodeTest(op::source::test(&op, &exclude)));
    }
    // Sweeps: list values, search functions or @batch files.
    let fixed: Vec<String> = op
        .flags
        .iter()
        .filter(|d| d.arg_split)
        .map(|d| d.name.clone())
        .collect();
    let sweep = if !batch_files.is_empty() {
        let mut trials = Vec::new();
        for f in &batch_files {
            for row in guild_project::plan::sweep::read_batch_file(&ctx.cwd.join(f))? {
                let mut t = resolved.flags.clone();
                for (k, v) in row {
                    t.insert(k, v);
                }
                for (k, v) in &resolved.user_flags {
                    t.insert(k.clone(), v.clone());
                }
                trials.push(t);
            }
        }
        Some(guild_project::plan::sweep::Plan {
            optimizer: "+".into(),
            trials,
            seed: a.random_seed.unwrap_or(0),
        })
    } else {
        let (optimizer, max_trials) = match a.strategy.as_deref() {
            Some("random_search") => (
                Some("+"),
                Some(a.num_trials.or(a.max_trials).unwrap_or(20) as usize),
            ),
            Some("grid_search") => (Some("+"), a.max_trials.map(|n| n as usize)),
            _ => (
                builtin_opt.as_deref(),
                a.max_trials.or(a.num_trials).map(|n| n as usize),
            ),
        };
        let plan = guild_project::plan::sweep::plan(
            &resolved.flags,
            &fixed,
            optimizer,
            max_trials,
            Some(seed),
        )?;
        if a.strategy.as_deref() == Some("none") && plan.is_some() {
            return Err(Error::user(
                "--strategy none runs a single experiment, but some flags have several values; give one value each or use --strategy grid_search",
            ));
        }
        plan
    };
    if sweep.is_none() && a.max_trials.is_some() {
        ctx.report
            .warning("WARNING: not a batch run - ignoring --max-trials");
    }
    if let Some(plan) = &sweep {
        if a.print_trials {
            return Ok(Outcome::Trials(plan.trials.clone()));
        }
    } else if a.print_trials {
        // As Guild; nothing is run.
        return Err(Error::user("cannot print trials for a non-batch operation"));
    }
    if let (true, Some(plan)) = (a.print_cmd, &sweep) {
        // As Guild: the batch's command, then each trial's.
        let py = guild_format::platform::python_exe(&ctx.cwd)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "python3".into());
        let main = if plan.optimizer == "random" {
            "guild.plugins.random_main"
        } else {
            "guild.batch_main"
        };
        let mut cmds = vec![vec![py, "-um".into(), main.into()]];
        for t in &plan.trials {
            cmds.push(command(ctx, &op, t)?.display);
        }
        return Ok(Outcome::Commands(cmds));
    }
    if a.print_cmd || a.print_env {
        let first = sweep.as_ref().and_then(|p| p.trials.first().cloned());
        let built = command(ctx, &op, first.as_ref().unwrap_or(&resolved.flags))?;
        return Ok(if a.print_cmd {
            Outcome::Commands(vec![built.display])
        } else {
            Outcome::Env(built.op_env.into_iter().collect())
        });
    }
    let suffix = match &sweep {
        Some(p) if p.optimizer == "random" => {
            format!(" with random search ({} trials)", p.trials.len())
        }
        Some(p) => format!(" as a batch ({} trials)", p.trials.len()),
        None => String::new(),
    };
    op::check_main_module(&op)?;
    if !a.yes && !confirm_run(ctx, &op, &resolved.flags, a.stage, &suffix)? {
        return Ok(Outcome::Declined);
    }
    let deps = match op::deps::resolve(
        &op,
        &ctx.home.runs_dir(),
        &resolved.flags,
        &ctx.cwd,
        op::deps::Mode {
            quiet: a.quiet,
            for_stage: a.stage,
            force: a.force_deps,
        },
        ctx.report.as_ref(),
    ) {
        Ok(deps) => deps,
        Err(e) => {
            if sweep.is_none() && custom_opt.is_none() && a.remote.is_none() && a.run_dir.is_none()
            {
                record_unmet_deps(ctx, a, &op, &resolved, proto);
            }
            return Err(e);
        }
    };
    if a.needed {
        let matching: Vec<query::RunInfo> = query::same_op_and_flags(
            query::list_dir(&ctx.home.runs_dir()),
            &op.opref,
            &resolved.flags,
        )
        .filter(|r| {
            !matches!(
                r.status.status,
                guild_format::run::Status::Pending | guild_format::run::Status::Error
            )
        })
        .collect();
        if !matching.is_empty() {
            return Ok(Outcome::AlreadyRun(matching));
        }
    }
    if let Some((spec, opt_flags)) = custom_opt {
        let (batch_op, batch_flags) = optimizer_op(ctx, a, &spec, &opt_flags)?;
        let sweep = guild_project::plan::sweep::Plan {
            optimizer: spec,
            trials: vec![resolved.flags.clone()],
            seed,
        };
        return run_batch(
            ctx,
            a,
            &op,
            resolved,
            deps,
            sweep,
            proto,
            Some((batch_op, batch_flags)),
        );
    }
    if let Some(sweep) = sweep {
        if a.run_dir.is_some() {
            return Err(Error::user(
                "--run-dir cannot be used with a sweep (each trial is a run of its own)",
            ));
        }
        return run_batch(ctx, a, &op, resolved, deps, sweep, proto, None);
    }
    // `--run-dir DIR`: a run in the runs directory is an ordinary run with
    // the id DIR's name; elsewhere the run lives in DIR, unlisted.
    let runs_dir = ctx.home.runs_dir();
    let (run_dir, run_id) = match &a.run_dir {
        Some(d) => {
            let d = ctx.cwd.join(d);
            let in_runs = d
                .parent()
                .is_some_and(|p| guild_format::fsutil::same_file(p, &runs_dir));
            match d.file_name().and_then(|n| n.to_str()) {
                Some(n) if in_runs => (None, Some(n.to_string())),
                _ => (Some(d), a.run_id.clone()),
            }
        }
        None => (None, a.run_id.clone()),
    };
    // A remote is reached (and checked) before anything is staged: an
    // unreachable one leaves no run behind.
    let needs_python =
        a.remote.is_some() && command(ctx, &op, &resolved.flags).is_ok_and(|b| b.python);
    let mut sender = connect(ctx, a, needs_python)?;
    let run = plan::stage(
        &ctx.home,
        StageRequest {
            op: &op,
            flags: resolved,
            label: a.label.clone(),
            tags: a.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: a.quiet,
            deps,
            run_id,
            proto,
            dir: run_dir.clone(),
            name: a.run_name.clone(),
            run_params: Some(run_params(a)),
            report: ctx.report.as_ref(),
            start_now: !a.stage && sender.is_none(),
        },
    )?;
    if a.stage && run_dir.is_some() {
        let dir = run.dir.display().to_string();
        let cmd = run
            .attr("cmd")
            .as_ref()
            .map(op::cmd::command_line)
            .unwrap_or_default();
        ctx.report
            .progress(&format!("{} staged in '{dir}'", op.name));
        ctx.report.progress(&format!(
            "To start the operation, use \"(cd '{dir}' && source .guild/ENV && {cmd})\""
        ));
        return Ok(Outcome::Done(0));
    }
    if let Some(s) = sender.as_mut() {
        let head = Launched::of(&run, &op.name, "remote");
        return send(ctx, a, s, head, std::slice::from_ref(&run), &op.name);
    }
    if a.stage {
        ctx.report
            .progress(&format!("{} staged as {}", op.name, run.id));
        ctx.report.progress(&format!(
            "To start the operation, use 'guild run --start {}'",
            run.id
        ));
        return Ok(Outcome::Launched(Launched::of(&run, &op.name, "staged")));
    }
    let claim = guild_exec::exec::Claim::take(&run)?;
    if a.background || a.pidfile.is_some() {
        let pid = start_background(ctx, a, &run, claim)?;
        let pf = a
            .pidfile
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("pid {pid}"));
        ctx.report.progress(&format!(
            "{} started in background as {} ({})",
            op.name,
            run.id,
            if a.pidfile.is_some() {
                format!("pidfile {pf}")
            } else {
                pf
            }
        ));
        return Ok(Outcome::Launched(Launched {
            pid: Some(pid),
            ..Launched::of(&run, &op.name, "background")
        }));
    }
    start_foreground(ctx, a, &run, claim)
}

/// The operation an optimizer `spec` names (in this project), with its
/// flags: its defaults, the optimizer's, then `-Fo` ones.
fn optimizer_op(
    ctx: &Context,
    a: &RunRequest,
    spec: &str,
    opt_flags: &serde_yaml_ng::Mapping,
) -> Result<(OpDef, op::ResolvedFlags)> {
    let opt_op = op::resolve(&ctx.home, &ctx.cwd, Some(spec)).map_err(|_| {
        Error::user(format!(
            "operation '{spec}' is not defined for this project Try 'guild operations' for a list of available operations."
        ))
    })?;
    let mut flags = op::resolve_flags(&opt_op, &[], true, &ctx.cwd)?;
    for (k, v) in opt_flags {
        flags.flags.insert(k.clone(), v.clone());
    }
    let overrides = op::parse_flag_args(&a.opt_flags)?;
    let mut resolved = op::override_flags(
        Some(&opt_op),
        &flags.flags,
        &overrides,
        a.force_flags,
        &ctx.cwd,
    )?;
    for (k, v) in opt_flags {
        if !resolved.user_flags.contains_key(k) {
            resolved.user_flags.insert(k.clone(), v.clone());
        }
    }
    Ok((opt_op, resolved))
}

/// A sweep: stage the batch run and, inside it, the proto run of `op`;
/// then start the batch, whose process stages and starts each trial. With
/// `custom`, the batch run is that optimizer operation (and its flags),
/// which runs in place of the built-in batch.
/// The operation of a sweep's batch run and its flags: the optimizer
/// operation the user chose, or the built-in one.
fn batch_op(
    ctx: &Context,
    a: &RunRequest,
    sweep: &guild_project::plan::sweep::Plan,
    custom: Option<(OpDef, op::ResolvedFlags)>,
) -> (OpDef, op::ResolvedFlags) {
    let (mut batch_op, batch_flags) = match custom {
        // An optimizer operation keeps its own `delete-on-success`.
        Some((o, f)) => (o, f),
        None => {
            let mut o = OpDef::batch(&sweep.optimizer, &ctx.cwd);
            // As Guild: a sweep that ends well leaves its trials, not its
            // batch run (it goes to the trash; `status`/`history` still
            // group them).
            o.delete_on_success = true;
            (
                o,
                op::ResolvedFlags {
                    flags: serde_yaml_ng::Mapping::new(),
                    user_flags: serde_yaml_ng::Mapping::new(),
                },
            )
        }
    };
    if a.keep_batch {
        batch_op.delete_on_success = false;
    }
    (batch_op, batch_flags)
}

#[allow(clippy::too_many_arguments)]
fn run_batch(
    ctx: &Context,
    a: &RunRequest,
    op: &OpDef,
    resolved: op::ResolvedFlags,
    deps: op::deps::Resolved,
    sweep: guild_project::plan::sweep::Plan,
    proto: Option<Run>,
    custom: Option<(OpDef, op::ResolvedFlags)>,
) -> Result<Outcome> {
    if a.stage {
        return Err(Error::user(
            "--stage cannot be used with a sweep; use --stage-trials to stage every trial (then `guild run --start ID` each)",
        ));
    }
    let (batch_op, batch_flags) = batch_op(ctx, a, &sweep, custom);
    let needs_python =
        a.remote.is_some() && command(ctx, op, &resolved.flags).is_ok_and(|b| b.python);
    let mut sender = connect(ctx, a, needs_python)?;
    let batch = plan::stage_unpublished(
        &ctx.home,
        StageRequest {
            op: &batch_op,
            flags: batch_flags,
            label: a.label.clone(),
            tags: a.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: true,
            deps: op::deps::Resolved::default(),
            run_id: None,
            proto: None,
            dir: None,
            // A sweep's name is recorded: its trials are named after it.
            name: Some(
                a.run_name
                    .clone()
                    .unwrap_or_else(guild_format::run::names::generate),
            ),
            run_params: Some(run_params(a)),
            report: ctx.report.as_ref(),
            start_now: false,
        },
    )?;
    let plan::Staged::Staging(batch) = batch else {
        return Err(Error::user("a batch run is staged in runs/"));
    };
    let opts = guild_exec::launch::sweep::Options {
        stage_trials: a.stage_trials || sender.is_some(),
        parallel: a.parallel as usize,
        fail_on_trial_error: a.fail_on_trial_error,
        stop_after: a.stop_after,
        needed: a.needed,
        quiet: a.quiet,
    };
    let mut attrs: Vec<(&str, Value)> = vec![
        ("random_seed", Value::from(sweep.seed)),
        (
            "trials",
            Value::Sequence(sweep.trials.iter().cloned().map(Value::Mapping).collect()),
        ),
    ];
    if let Some(n) = a.max_trials {
        attrs.push(("max_trials", Value::from(n)));
    }
    attrs.push(("batch", opts.to_value()));
    let name = batch.run.attr_str("name");
    let proto_dir = batch.run.guild_path("proto");
    let batch = plan::complete_batch(
        &ctx.home,
        batch,
        &attrs,
        StageRequest {
            op,
            flags: resolved,
            label: None,
            tags: a.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: a.quiet,
            deps,
            run_id: None,
            proto,
            dir: Some(proto_dir),
            name,
            run_params: None,
            report: ctx.report.as_ref(),
            start_now: false,
        },
    )?;
    let claim = guild_exec::exec::Claim::take(&batch)?;
    if let Some(s) = sender.as_mut() {
        // Read before the batch process runs: a batch that ends well goes
        // to the trash.
        let head = Launched::of(&batch, &format!("{}+", op.name), "remote");
        // The batch process stages every trial here; then they go.
        let staged = start_with(
            ctx,
            &batch,
            &StartOpts {
                quiet: true,
                ..start_opts(ctx, a)
            },
            Attach::InProcess,
            claim,
        )?;
        if !matches!(staged, Outcome::Done(0)) {
            return Ok(staged);
        }
        let trials: Vec<Run> = query::list_dir(&ctx.home.runs_dir())
            .into_iter()
            .filter(|r| {
                r.run.attr_str("sweep").as_deref() == Some(batch.id.as_str())
                    && r.status.status == guild_format::run::Status::Staged
            })
            .map(|r| r.run)
            .rev()
            .collect();
        return send(ctx, a, s, head, &trials, &format!("{}+", op.name));
    }
    if a.background || a.pidfile.is_some() {
        let pid = start_background(ctx, a, &batch, claim)?;
        // As a single run's line, then the sweep's size.
        let how = match &a.pidfile {
            Some(p) => format!("pidfile {}", p.display()),
            None => format!("pid {pid}"),
        };
        ctx.report.progress(&format!(
            "{}+ started in background as {} ({how}; {} trials)",
            op.name,
            batch.id,
            sweep.trials.len()
        ));
        return Ok(Outcome::Launched(Launched {
            pid: Some(pid),
            ..Launched::of(&batch, &format!("{}+", op.name), "background")
        }));
    }
    start_foreground(ctx, a, &batch, claim)
}

/// The remote of `--remote`, reached, with this binary there.
fn connect<'a>(
    ctx: &'a Context,
    a: &RunRequest,
    needs_python: bool,
) -> Result<Option<guild_exec::launch::remote::Sender<'a>>> {
    let Some(name) = &a.remote else {
        return Ok(None);
    };
    let remote = super::remotes::find(ctx, name)?;
    let mut s = guild_exec::launch::remote::Sender::new(&ctx.home, remote, ctx.report.clone())?;
    s.needs_python = needs_python;
    s.connect()?;
    Ok(Some(s))
}

/// Send staged `runs` (one run, or a sweep's trials) to the remote and
/// start them there; say what was done (a Slurm submission's summary)
/// and what the project does not declare. `head` names the run, or the
/// sweep's batch run.
fn send(
    ctx: &Context,
    a: &RunRequest,
    s: &mut guild_exec::launch::remote::Sender,
    head: Launched,
    runs: &[Run],
    name: &str,
) -> Result<Outcome> {
    use guild_exec::launch::remote::{Follow, Sent};
    if runs.is_empty() {
        return Err(Error::user("the sweep has no trials to send"));
    }
    if !op::requirements::declared(&ctx.cwd) {
        let imports = op::requirements::third_party_imports(&runs[0].dir);
        if !imports.is_empty() {
            ctx.report.warning(&format!(
                "WARNING: the project declares no requirements (requirements.txt, environment.yml or pyproject.toml); {} needs these packages installed: {}",
                s.remote.name,
                imports.join(", ")
            ));
        }
    }
    let follow = if a.background {
        Follow::Background
    } else {
        Follow::Foreground { quiet: a.quiet }
    };
    let remote = s.remote.clone();
    let ids = |r: &[Run]| {
        if r.len() == 1 {
            r[0].id.clone()
        } else {
            format!("{} trials", r.len())
        }
    };
    let launched = |how, job| Launched {
        how,
        trials: runs.iter().map(|r| r.id.clone()).collect(),
        remote: Some(remote.name.clone()),
        job,
        ..head.clone()
    };
    Ok(match s.start(runs, follow, name)? {
        Sent::Ended(code) => Outcome::Done(code),
        Sent::Background => {
            ctx.report.progress(&format!(
                "{name} started on {} as {} (follow it: guild watch {} --remote {})",
                remote.name,
                ids(runs),
                runs[0].id,
                remote.name
            ));
            Outcome::Launched(launched("remote", None))
        }
        Sent::Submitted { job } => {
            for line in guild_exec::launch::remote::slurm_summary(&remote, &job, name, runs.len()) {
                ctx.report.progress(&line);
            }
            Outcome::Launched(launched("submitted", Some(job)))
        }
    })
}

/// The `run` command's options under Guild 0.9's names, as Guild records
/// them in the `run_params` attr.
/// A run whose dependencies cannot be resolved is recorded as Guild
/// records it: a complete run directory (flags, command, source code)
/// that ended in error before it started, so that `runs` shows the
/// attempt. It appears whole, with no output and no dependencies.
fn record_unmet_deps(
    ctx: &Context,
    a: &RunRequest,
    op: &op::OpDef,
    resolved: &op::ResolvedFlags,
    proto: Option<Run>,
) {
    let quiet = super::Collect::default();
    // Recording the attempt is best effort: the dependency error is what
    // the caller hears.
    let _ = plan::stage_unstartable(
        &ctx.home,
        StageRequest {
            op,
            flags: op::ResolvedFlags {
                flags: resolved.flags.clone(),
                user_flags: resolved.user_flags.clone(),
            },
            label: a.label.clone(),
            tags: a.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: true,
            deps: op::deps::Resolved::default(),
            run_id: a.run_id.clone(),
            proto,
            dir: None,
            name: a.run_name.clone(),
            run_params: Some(run_params(a)),
            report: &quiet,
            start_now: false,
        },
    );
}

fn run_params(a: &RunRequest) -> Value {
    use serde_yaml_ng::Mapping;
    let s = |v: &Option<String>| v.clone().map(Value::from).unwrap_or(Value::Null);
    let list = |v: &[String]| Value::Sequence(v.iter().cloned().map(Value::from).collect());
    let path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| Value::from(p.display().to_string()))
            .unwrap_or(Value::Null)
    };
    let mut m = Mapping::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    put("additional_deps", list(&[]));
    put("background", a.background.into());
    put("batch_comment", Value::Null);
    put("batch_label", Value::Null);
    put("batch_tags", list(&[]));
    put("break_", list(&[]));
    put("break_on_error", false.into());
    put("comment", Value::Null);
    put("debug_sourcecode", Value::Null);
    put("edit_batch_comment", false.into());
    put("edit_comment", false.into());
    put("edit_flags", false.into());
    put("fail_on_trial_error", a.fail_on_trial_error.into());
    put("flags", list(&a.flags));
    put("force_deps", a.force_deps.into());
    put("force_flags", a.force_flags.into());
    put("force_sourcecode", a.force_sourcecode.into());
    put("gpus", s(&a.gpus));
    put("help_model", false.into());
    put("help_op", false.into());
    put("keep_batch", a.keep_batch.into());
    put("keep_run", a.keep_run.into());
    put("label", s(&a.label));
    put(
        "max_trials",
        a.max_trials.map(Value::from).unwrap_or(Value::Null),
    );
    put("maximize", Value::Null);
    put("minimize", Value::Null);
    put("needed", a.needed.into());
    put("no_gpus", a.no_gpus.into());
    put("no_wait", false.into());
    put("opspec", s(&a.opspec));
    put("opt_flags", list(&[]));
    put("optimize", false.into());
    put("optimizer", s(&a.optimizer));
    put("pidfile", path(&a.pidfile));
    put("print_cmd", false.into());
    put("print_env", false.into());
    put("print_trials", false.into());
    put("proto", s(&a.proto));
    put("quiet", a.quiet.into());
    put(
        "random_seed",
        a.random_seed.map(Value::from).unwrap_or(Value::Null),
    );
    put("remote", Value::Null);
    put("restart", Value::Null);
    put("run_dir", path(&a.run_dir));
    put("run_id", s(&a.run_id));
    put("save_trials", Value::Null);
    put("stage", a.stage.into());
    put("stage_trials", a.stage_trials.into());
    put(
        "stop_after",
        a.stop_after.map(Value::from).unwrap_or(Value::Null),
    );
    put("tags", list(&a.tags));
    put("test_flags", false.into());
    put("test_output_scalars", Value::Null);
    put("test_sourcecode", false.into());
    put("yes", a.yes.into());
    Value::Mapping(m)
}

/// Start options from the command line. `--gpus`/`--no-gpus` apply to
/// this start only: a new run has them in its operation's environment.
fn start_opts(ctx: &Context, a: &RunRequest) -> StartOpts {
    StartOpts {
        report: Some(ctx.report.clone()),
        quiet: a.quiet,
        stdin_null: false,
        pidfile: a.pidfile.clone(),
        stop_after: a.stop_after,
        gpus: if a.no_gpus {
            Some(String::new())
        } else {
            a.gpus.clone()
        },
        fresh: false,
    }
}

/// How the supervisor of a run attached to this process is detached: a
/// session of its own, but for a pipeline step a process group of its own
/// (stopping the pipeline reaches it once, through this process).
fn attached_detach() -> guild_exec::exec::Detach {
    if std::env::var_os("GUILD_RUNS_PARENT").is_some() {
        guild_exec::exec::Detach::Group
    } else {
        guild_exec::exec::Detach::Session
    }
}

/// Start a staged run attached to this terminal; the exit code is the run's.
fn start_foreground(
    ctx: &Context,
    a: &RunRequest,
    run: &Run,
    claim: guild_exec::exec::Claim,
) -> Result<Outcome> {
    let opts = StartOpts {
        pidfile: None,
        fresh: true,
        ..start_opts(ctx, a)
    };
    start_with(
        ctx,
        run,
        &opts,
        Attach::Foreground(attached_detach()),
        claim,
    )
}

/// Start a staged run in the background; returns its supervisor's pid.
fn start_background(
    ctx: &Context,
    a: &RunRequest,
    run: &Run,
    claim: guild_exec::exec::Claim,
) -> Result<u32> {
    let target = Local { home: &ctx.home };
    let req = StartRequest {
        cwd: &ctx.cwd,
        opts: &start_opts(ctx, a),
        attach: Attach::Background,
        claim: Some(claim),
    };
    match target.start(run, req)? {
        Started::Background { pid } => Ok(pid),
        _ => Ok(0),
    }
}

/// Start `run` on the local target, following it as `attach` says.
fn start_with(
    ctx: &Context,
    run: &Run,
    opts: &StartOpts,
    attach: Attach,
    claim: guild_exec::exec::Claim,
) -> Result<Outcome> {
    let target = Local { home: &ctx.home };
    let req = StartRequest {
        cwd: &ctx.cwd,
        opts,
        attach,
        claim: Some(claim),
    };
    Ok(match target.start(run, req)? {
        Started::Ended { code, .. } => Outcome::Done(code),
        Started::Background { .. } | Started::Child(_) => Outcome::Done(0),
    })
}

/// `--start`/`--restart RUN [FLAG=VAL...]`: run an existing run in place,
/// with its recorded flags and any overrides.
fn start_existing(
    ctx: &Context,
    a: &RunRequest,
    spec: &str,
    flag_strs: &[String],
) -> Result<Outcome> {
    // A run outside the home (`--run-dir`) is started by its path.
    let path = ctx.cwd.join(spec);
    let run = if spec.contains('/') && path.join(".guild/opref").is_file() {
        Run::at(path)
    } else {
        query::find(&ctx.home.runs_dir(), spec)?
    };
    // Claimed before anything of the run is touched: of two starts of one
    // run, the loser changes nothing.
    let claim = match a.claim_fd {
        Some(fd) => guild_exec::exec::Claim::inherited(&run, fd)?,
        None => guild_exec::exec::Claim::take(&run)?,
    };
    let placed = guild_format::run::placement::Placement::of(&run)?;
    if let Some(mut s) = connect(ctx, a, false)? {
        if !flag_strs.is_empty() || !run.has_marker("STAGED") {
            return Err(Error::user(format!(
                "run {} is not staged: only a staged run is started on a remote, as it is (stage a new one with `guild run --stage`)",
                run.short_id()
            )));
        }
        let name = run.opref()?.op_name;
        let head = Launched::of(&run, &name, "remote");
        let out = send(ctx, a, &mut s, head, std::slice::from_ref(&run), &name);
        drop(claim);
        return out;
    }
    if let guild_format::run::placement::Placement::Remote { remote, .. } = placed {
        return Err(Error::user(format!(
            "run {} was sent to remote '{remote}'; start it there with `guild run --start {} --remote {remote}`",
            run.short_id(),
            run.id
        )));
    }
    let overrides = op::parse_flag_args(flag_strs)?;
    let opref = run.opref()?;
    let base = match run.attr("flags") {
        Some(Value::Mapping(m)) => m,
        _ => serde_yaml_ng::Mapping::new(),
    };
    let staged = run.has_marker("STAGED");
    // New flag values and fresh source code need the operation's
    // definition (Guild's rule).
    let mut op_def = op::for_run(&ctx.home, &opref);
    for w in op_def.iter_mut().flat_map(|o| o.warnings.drain(..)) {
        ctx.report.warning(&w);
    }
    if op_def.is_none() && (!overrides.is_empty() || a.force_sourcecode) {
        return Err(Error::user(format!(
            "cannot find definition for operation '{}' in run {} This is required when setting flags or using '--force-sourcecode' for restart or a new run.",
            opref.op_name, run.id
        )));
    }
    if a.force_sourcecode {
        if let Some(op) = &op_def {
            guild_project::plan::refresh_sourcecode(
                &ctx.home,
                &run,
                op,
                a.quiet,
                ctx.report.as_ref(),
            )?;
        }
    }
    if !overrides.is_empty() || a.needed {
        let resolved =
            op::override_flags(op_def.as_ref(), &base, &overrides, a.force_flags, &ctx.cwd)?;
        if a.needed && resolved.flags == base && !staged {
            return Ok(Outcome::Unchanged);
        }
        if !a.yes && !confirm_start(ctx, &run, &opref.op_desc(), &resolved.flags)? {
            return Ok(Outcome::Declined);
        }
        if resolved.flags != base {
            guild_project::plan::edit::relabel_for_flags(&run, &base, &resolved.flags)?;
            run.write_attr("flags", &Value::Mapping(resolved.flags))?;
        }
        run.write_attr("user_flags", &Value::Mapping(resolved.user_flags))?;
    } else if !a.yes && !confirm_start(ctx, &run, &opref.op_desc(), &base)? {
        return Ok(Outcome::Declined);
    }
    if a.keep_run || (a.keep_batch && run.is_batch()) {
        guild_project::plan::edit::keep_on_success(&run)?;
    }
    // A staged run resolves what staging left (its operation sources); a
    // restart resolves again what is not resolved yet or must always be
    // (a config file written with the new flags).
    if a.claim_fd.is_none() {
        let resolved =
            op::deps::resolve_at_start(&ctx.home, &run, &ctx.cwd, a.quiet, ctx.report.as_ref());
        if let Err(e) = resolved {
            // A staged run that cannot start ends in error, as Guild's.
            if run.has_marker("STAGED") {
                let _ = plan::unstage(&run);
            }
            return Err(e);
        }
    }
    if a.background && a.pidfile.is_none() {
        start_background(ctx, a, &run, claim)?;
        ctx.report
            .progress(&format!("{} started in background", run.id));
        return Ok(Outcome::Done(0));
    }
    let opts = StartOpts {
        // A supervisor passes on the stdin it was given (the terminal of a
        // foreground run); a quiet `--start` typed by a user reads nothing.
        stdin_null: a.quiet && a.claim_fd.is_none(),
        ..start_opts(ctx, a)
    };
    // With a claim handed down, this process is the supervisor.
    let attach = if a.claim_fd.is_some() {
        Attach::InProcess
    } else {
        Attach::Foreground(attached_detach())
    };
    start_with(ctx, &run, &opts, attach, claim)
}

/// Show `lines` and the flags, then ask to continue.
fn ask(ctx: &Context, mut lines: Vec<String>, flag_vals: &serde_yaml_ng::Mapping) -> Result<bool> {
    let mut names: Vec<(String, &Value)> = flag_vals
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in names {
        lines.push(format!("  {k}: {}", flags::encode_display(v)));
    }
    ctx.report.confirm(&Question::Text {
        details: format!("{}\n", lines.join("\n")),
        question: "Continue?".into(),
        default_yes: true,
    })
}

fn confirm_start(
    ctx: &Context,
    run: &Run,
    op_desc: &str,
    flag_vals: &serde_yaml_ng::Mapping,
) -> Result<bool> {
    ask(
        ctx,
        vec![format!("You are about to start {} ({op_desc})", run.id)],
        flag_vals,
    )
}

/// Turn `--name value` / `--name=value` for known flags into flag values;
/// everything else is passed to the script as is.
fn split_raw_args(
    op: &OpDef,
    raw: &[String],
    flag_args: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut extra = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let a = &raw[i];
        let (name, inline) = match a.strip_prefix("--") {
            Some(rest) => match rest.split_once('=') {
                Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
                None => (Some(rest.to_string()), None),
            },
            None => (None, None),
        };
        let def = name.as_ref().and_then(|n| {
            op.flags
                .iter()
                .find(|d| d.arg_name.as_deref().unwrap_or(&d.name) == n)
        });
        match (def, inline) {
            (Some(d), Some(v)) => {
                flag_args.push((d.name.clone(), v));
                i += 1;
            }
            (Some(d), None) if d.arg_switch.is_some() => {
                let sw = d.arg_switch.clone().unwrap_or(Value::Bool(true));
                flag_args.push((d.name.clone(), flags::encode_display(&sw)));
                i += 1;
            }
            (Some(d), None) if i + 1 < raw.len() => {
                let mut vals = vec![raw[i + 1].clone()];
                let mut j = i + 2;
                if d.arg_split {
                    while j < raw.len() && !raw[j].starts_with("--") {
                        vals.push(raw[j].clone());
                        j += 1;
                    }
                }
                let joined = match &d.arg_split_sep {
                    Some(sep) if d.arg_split => vals.join(sep),
                    _ => vals.join(" "),
                };
                flag_args.push((d.name.clone(), joined));
                i = j;
            }
            _ => {
                extra.push(a.clone());
                i += 1;
            }
        }
    }
    extra
}

fn confirm_run(
    ctx: &Context,
    op: &OpDef,
    flag_vals: &serde_yaml_ng::Mapping,
    stage: bool,
    suffix: &str,
) -> Result<bool> {
    let lines = vec![format!(
        "You are about to {} {}{suffix}",
        if stage { "stage" } else { "run" },
        op.name
    )];
    ask(ctx, lines, flag_vals)
}

/// The command (and environment) a run of `op` with `flag_vals` gets.
fn command(
    ctx: &Context,
    op: &OpDef,
    flag_vals: &serde_yaml_ng::Mapping,
) -> Result<op::cmd::Built> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let run = Run::at(ctx.home.runs_dir().join(id));
    op::cmd::build(
        &ctx.home,
        &run,
        &op::op_attr(op),
        flag_vals,
        &ctx.cwd,
        &op.name,
    )
}

/// `NAME=VALUE` of `--env`: a name a shell could export.
fn parse_env(kv: &str) -> Result<(&str, &str)> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| Error::user(format!("--env {kv:?} has no '='; give it as NAME=VALUE")))?;
    let valid = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || v.contains('\0') {
        return Err(Error::user(format!(
            "--env {kv:?}: the name must be letters, digits and '_' (not first a digit), and the value without NUL; give it as NAME=VALUE"
        )));
    }
    Ok((k, v))
}

#[cfg(test)]
mod tests {
    use super::parse_env;

    #[test]
    fn env_values_must_be_name_equals_value() {
        assert_eq!(parse_env("FOO=bar=baz").unwrap(), ("FOO", "bar=baz"));
        assert_eq!(parse_env("_X1=").unwrap(), ("_X1", ""));
        for bad in ["FOO", "=x", "1X=2", "A-B=1", "A B=1", "A=\0"] {
            let e = parse_env(bad).unwrap_err().to_string();
            assert!(e.contains("NAME=VALUE"), "{bad}: {e}");
        }
    }
}
