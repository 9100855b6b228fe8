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

/// What `run` runs.
#[derive(Debug, Clone)]
pub enum What {
    /// An operation: a script, an operation of the project's guild.yml, or
    /// (None) the project's default operation.
    Operation(Option<String>),
    /// `--start`/`--restart RUN`: a staged run, or a finished one again in
    /// place with its flags (FLAG=VAL overrides).
    Start(String),
    /// `--proto RUN`: a new run with the operation, flags and source code
    /// of RUN (FLAG=VAL overrides).
    Proto(String),
}

impl Default for What {
    fn default() -> What {
        What::Operation(None)
    }
}

/// What `run` does with what it resolved: run it, or stop at a step and
/// show something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Stage the run and start it.
    #[default]
    Run,
    /// `--stage`: write the run directory without running it.
    Stage,
    /// `--print-cmd`: the command that would run.
    PrintCmd,
    /// `--print-env`: the environment the operation adds.
    PrintEnv,
    /// `--print-trials`: the trials of a sweep.
    PrintTrials,
    /// `--help-op`: the operation's flags.
    HelpOp,
    /// `--test-sourcecode`: which project files would be copied, and why.
    TestSourcecode,
}

impl Mode {
    /// The mode of the options given, as Guild reads them when several are:
    /// help, then the source code test, trials, command, environment, stage.
    pub fn of(
        stage: bool,
        print_cmd: bool,
        print_env: bool,
        print_trials: bool,
        help_op: bool,
        test_sourcecode: bool,
    ) -> Mode {
        [
            (help_op, Mode::HelpOp),
            (test_sourcecode, Mode::TestSourcecode),
            (print_trials, Mode::PrintTrials),
            (print_cmd, Mode::PrintCmd),
            (print_env, Mode::PrintEnv),
            (stage, Mode::Stage),
        ]
        .into_iter()
        .find_map(|(given, m)| given.then_some(m))
        .unwrap_or(Mode::Run)
    }
}

/// Which GPUs the run sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gpus {
    /// Those the environment gives it.
    #[default]
    Inherited,
    /// `--gpus DEVICES`: only these (CUDA_VISIBLE_DEVICES), e.g. `0,1`.
    Only(String),
    /// `--no-gpus`: none.
    Hidden,
}

impl Gpus {
    /// The CUDA_VISIBLE_DEVICES value to set, if any.
    fn visible(&self) -> Option<String> {
        match self {
            Gpus::Inherited => None,
            Gpus::Only(d) => Some(d.clone()),
            Gpus::Hidden => Some(String::new()),
        }
    }
}

/// Where the run goes and how the caller follows it.
#[derive(Debug, Clone)]
pub enum Place {
    /// On this machine.
    Here {
        /// Return once it has started (`--background`).
        background: bool,
        /// Write the supervising process's pid to this file (removed when
        /// done); a new run is then in the background.
        pidfile: Option<PathBuf>,
        /// Create the run in this directory instead of the home's runs
        /// directory (it is then not listed, unless the directory is in it).
        run_dir: Option<PathBuf>,
    },
    /// On a remote of the user config (`remotes::list`): staged here,
    /// copied there and started (SSH), or submitted (Slurm).
    Remote {
        /// The remote's name.
        name: String,
        /// Return once it has started there (SSH) instead of following it.
        background: bool,
    },
}

impl Default for Place {
    fn default() -> Place {
        Place::Here {
            background: false,
            pidfile: None,
            run_dir: None,
        }
    }
}

impl Place {
    fn background(&self) -> bool {
        match self {
            Place::Here { background, .. } | Place::Remote { background, .. } => *background,
        }
    }
    fn pidfile(&self) -> Option<&PathBuf> {
        match self {
            Place::Here { pidfile, .. } => pidfile.as_ref(),
            Place::Remote { .. } => None,
        }
    }
    fn run_dir(&self) -> Option<&PathBuf> {
        match self {
            Place::Here { run_dir, .. } => run_dir.as_ref(),
            Place::Remote { .. } => None,
        }
    }
    fn remote(&self) -> Option<&str> {
        match self {
            Place::Remote { name, .. } => Some(name),
            Place::Here { .. } => None,
        }
    }
    /// A new run returns once started: `--background`, or a pidfile.
    fn detached(&self) -> bool {
        self.background() || self.pidfile().is_some()
    }
}

/// Options of a run, as `guild run` parses them (its arguments flatten
/// this struct: one definition for the CLI and the API).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunOptions {
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Run label (a template: `${flag}`, `${default_label}`)
    #[arg(short = 'l', long, value_name = "LABEL")]
    pub label: Option<String>,
    /// Tag the run (repeatable)
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Skip the run when a run of the same operation with the same flags exists
    #[arg(long)]
    pub needed: bool,
    /// Stop the run (each trial of a sweep) after MINUTES
    #[arg(long, value_name = "MINUTES")]
    pub stop_after: Option<f64>,
    /// Continue even when a required resource cannot be resolved
    #[arg(long)]
    pub force_deps: bool,
    /// Keep the run even when its operation has `delete-on-success: yes`
    #[arg(long)]
    pub keep_run: bool,
    /// Do not echo the run's output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accept flags the operation does not define
    #[arg(short = 'f', long)]
    pub force_flags: bool,
    /// With --restart: copy the operation's source code into the run again
    /// (its current version) before starting
    #[arg(long)]
    pub force_sourcecode: bool,
    /// Create the run with this id (used for pipeline steps)
    #[arg(long, hide = true, value_name = "ID")]
    pub run_id: Option<String>,
    /// The start claim passed down by the guild process that took it
    #[arg(long, hide = true, value_name = "FD")]
    pub claim_fd: Option<i32>,
    /// Give the run this name (default: a new one like `spiffy-sunfish-821`)
    #[arg(long = "run-name", value_name = "NAME")]
    pub run_name: Option<String>,
    /// Set an environment variable for the run, NAME=VALUE (repeatable; recorded in the run's env)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Mount a datastore read-only in the run at DIR (default
    /// datastores/NAME); no VERSION: the latest (repeatable)
    #[arg(long = "datastore", value_name = "NAME[:VERSION][=DIR]")]
    pub datastores: Vec<String>,
    /// Grid's spelling: the datastore to mount
    #[arg(long = "datastore_name", value_name = "NAME")]
    pub datastore_name: Option<String>,
    /// Grid's spelling: its version (default: the latest)
    #[arg(
        long = "datastore_version",
        value_name = "VERSION",
        requires = "datastore_name"
    )]
    pub datastore_version: Option<u32>,
    /// Grid's spelling: where it is mounted in the run
    #[arg(
        long = "datastore_mount_dir",
        value_name = "DIR",
        requires = "datastore_name"
    )]
    pub datastore_mount_dir: Option<String>,
}

impl RunOptions {
    /// The datastores to mount, both spellings, checked.
    fn mounts(&self) -> Result<Vec<op::DatastoreMount>> {
        let mut out: Vec<op::DatastoreMount> = self
            .datastores
            .iter()
            .map(|s| op::DatastoreMount::parse(s))
            .collect::<Result<_>>()?;
        if let Some(name) = &self.datastore_name {
            let mut spec = name.clone();
            if let Some(v) = self.datastore_version {
                spec = format!("{spec}:{v}");
            }
            if let Some(d) = &self.datastore_mount_dir {
                spec = format!("{spec}={d}");
            }
            out.push(op::DatastoreMount::parse(&spec)?);
        }
        Ok(out)
    }
}

/// How a sweep runs, as `guild run` parses it (flattened into its
/// arguments, as [`RunOptions`]).
#[derive(Debug, Clone, clap::Args)]
pub struct SweepOptions {
    /// Sweep optimizer: + (grid, the default for lists) or random (the default for uniform[a:b])
    #[arg(short = 'o', long, value_name = "ALG")]
    pub optimizer: Option<String>,
    /// Run with the operation's default optimizer (its `optimizer`, or the
    /// one marked `default` in `optimizers`)
    #[arg(short = 'O', long)]
    pub optimize: bool,
    /// A flag for the optimizer, FLAG=VAL (repeatable; also -Fo)
    #[arg(long = "opt-flag", alias = "operation", value_name = "FLAG=VAL")]
    pub opt_flags: Vec<String>,
    /// Number of trials (random search: default 20; grid: a random sample)
    #[arg(short = 'm', long, visible_alias = "trials", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_trials: Option<u64>,
    /// Seed for sampling trials (reproducible sweeps)
    #[arg(long, value_name = "N")]
    pub random_seed: Option<u64>,
    /// Run up to N trials of a sweep at once
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub parallel: u64,
    /// Stop a sweep at the first failed trial (default: run the others)
    #[arg(long)]
    pub fail_on_trial_error: bool,
    /// Grid-style sweep strategy for `--flag VALUES` script flags
    #[arg(long, value_name = "STRATEGY", value_parser = ["grid_search", "random_search", "none"])]
    pub strategy: Option<String>,
    /// Grid-style: number of trials for random_search (default 20)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub num_trials: Option<u64>,
    /// Grid-style: seed for sampled values and trials (same as --random-seed)
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// A script flag given Grid-style (`--lr "[1, 2]"` after the script)
    #[arg(long = "grid-flag", hide = true, value_name = "NAME=VALUE")]
    pub grid_flags: Vec<String>,
    /// For a sweep: stage every trial and start none (each can be started
    /// with `guild run --start ID`)
    #[arg(long)]
    pub stage_trials: bool,
    /// Keep a sweep's batch run when the sweep ends (by default it goes to
    /// the trash and only the trials are listed)
    #[arg(long)]
    pub keep_batch: bool,
}

impl Default for SweepOptions {
    fn default() -> SweepOptions {
        SweepOptions {
            optimizer: None,
            optimize: false,
            opt_flags: Vec::new(),
            max_trials: None,
            random_seed: None,
            parallel: 1,
            fail_on_trial_error: false,
            strategy: None,
            num_trials: None,
            seed: None,
            grid_flags: Vec::new(),
            stage_trials: false,
            keep_batch: false,
        }
    }
}

/// What `run` was asked to do: Guild 0.9's `run` options, typed. Options
/// that cannot go together cannot be written together here (a remote has
/// no pidfile or run directory; GPUs are given or hidden, not both); the
/// CLI turns its arguments into one and says what does not combine.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// What to run.
    pub what: What,
    /// Run, stage, or stop at a step and show it.
    pub mode: Mode,
    /// Flag values as NAME=VALUE (`@FILE` for a batch file of trials)
    pub flags: Vec<String>,
    /// Arguments for the script after `--` (`--name value` for a known flag sets it)
    pub raw: Vec<String>,
    /// The run's options.
    pub run: RunOptions,
    /// How a sweep runs.
    pub sweep: SweepOptions,
    /// Which GPUs the run sees.
    pub gpus: Gpus,
    /// Where it runs.
    pub place: Place,
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

/// `guild run`: resolve the operation and flags, stage the run (or a
/// sweep's batch run) and start it through its target, or stop at the
/// step `a.mode` asks for and return what to show.
pub fn run(ctx: &Context, a: &RunRequest) -> Result<Outcome> {
    match &a.what {
        What::Start(spec) => start_existing(ctx, a, spec),
        What::Operation(_) | What::Proto(_) => new_run(ctx, a),
    }
}

/// A new run: the phases one after another, each a function.
fn new_run(ctx: &Context, a: &RunRequest) -> Result<Outcome> {
    let mut p = prepare(ctx, a)?;
    if a.mode == Mode::HelpOp {
        return Ok(Outcome::HelpOp(Box::new(p.op)));
    }
    let resolved = resolve_flags(ctx, a, &p)?;
    if a.mode == Mode::TestSourcecode {
        let mut exclude = vec![ctx.home.path.clone()];
        exclude.extend(op::deps::project_files(&p.op));
        return Ok(Outcome::SourcecodeTest(op::source::test(&p.op, &exclude)));
    }
    let sweep = plan_sweep(ctx, a, &p, &resolved)?;
    if let Some(shown) = show(ctx, a, &p.op, &resolved, sweep.as_ref())? {
        return Ok(shown);
    }
    let suffix = match &sweep {
        Some(s) if s.optimizer == "random" => {
            format!(" with random search ({} trials)", s.trials.len())
        }
        Some(s) => format!(" as a batch ({} trials)", s.trials.len()),
        None => String::new(),
    };
    op::check_main_module(&p.op)?;
    let staging = a.mode == Mode::Stage;
    if !a.run.yes && !confirm_run(ctx, &p.op, &resolved.flags, staging, &suffix)? {
        return Ok(Outcome::Declined);
    }
    let deps = match resolve_deps(ctx, a, &p.op, &resolved) {
        Ok(deps) => deps,
        Err(e) => {
            if sweep.is_none()
                && p.custom_opt.is_none()
                && matches!(a.place, Place::Here { run_dir: None, .. })
            {
                record_unmet_deps(ctx, a, &p.op, &resolved, p.proto.take());
            }
            return Err(e);
        }
    };
    if a.run.needed {
        let matching = already_run(ctx, &p.op, &resolved);
        if !matching.is_empty() {
            return Ok(Outcome::AlreadyRun(matching));
        }
    }
    if let Some((spec, opt_flags)) = p.custom_opt.take() {
        let custom = optimizer_op(ctx, a, &spec, &opt_flags)?;
        let sweep = guild_project::plan::sweep::Plan {
            optimizer: spec,
            trials: vec![resolved.flags.clone()],
            seed: p.seed,
        };
        return run_batch(ctx, a, &p.op, resolved, deps, sweep, p.proto, Some(custom));
    }
    match sweep {
        Some(sweep) => run_batch(ctx, a, &p.op, resolved, deps, sweep, p.proto, None),
        None => run_single(ctx, a, &p.op, resolved, deps, p.proto),
    }
}

/// What a new run is made of before its flags are resolved: the
/// operation (with the request's environment and GPUs), the proto run,
/// the flag arguments (Grid's `--name VALUES` expanded with the sweep's
/// seed, known `--name value` script args taken as flags), batch files and
/// the optimizer chosen.
struct Prepared {
    op: OpDef,
    proto: Option<Run>,
    flag_args: Vec<(String, String)>,
    batch_files: Vec<String>,
    builtin_opt: Option<String>,
    custom_opt: Option<(String, Mapping)>,
    seed: u64,
}

/// Phase 1: the operation and the flag arguments.
fn prepare(ctx: &Context, a: &RunRequest) -> Result<Prepared> {
    let (mut op, proto) = operation(ctx, a)?;
    for w in op.warnings.drain(..) {
        ctx.report.warning(&w);
    }
    if a.run.keep_run {
        op.delete_on_success = false;
    }
    for kv in &a.run.env {
        let (k, v) = parse_env(kv)?;
        op.cmd_env.insert(k.into(), v.into());
    }
    op.datastores.extend(a.run.mounts()?);
    if let Some(devices) = a.gpus.visible() {
        op.cmd_env
            .insert("CUDA_VISIBLE_DEVICES".into(), devices.into());
    }
    let (builtin_opt, custom_opt) = choose_optimizer(&op, &a.sweep)?;
    let mut flag_strs = a.flags.clone();
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
    let mut grid_pairs: Vec<(String, String)> = a
        .sweep
        .grid_flags
        .iter()
        .map(|g| {
            let (k, v) = g.split_once('=').unwrap_or((g.as_str(), "yes"));
            (k.to_string(), v.to_string())
        })
        .collect();
    let extra = split_raw_args(&op, &a.raw, &mut grid_pairs);
    let seed = a.sweep.seed.or(a.sweep.random_seed).unwrap_or_else(|| {
        use rand::Rng;
        rand::thread_rng().gen_range(0..(1u64 << 32))
    });
    expand_grid_flags(grid_pairs, seed, &mut flag_args)?;
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
    Ok(Prepared {
        op,
        proto,
        flag_args,
        batch_files,
        builtin_opt,
        custom_opt,
        seed,
    })
}

/// The operation to run: the one named (or the default), or the proto
/// run's.
fn operation(ctx: &Context, a: &RunRequest) -> Result<(OpDef, Option<Run>)> {
    match &a.what {
        What::Proto(p) => {
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
            Ok((op, Some(run)))
        }
        What::Operation(spec) => Ok((op::resolve(&ctx.home, &ctx.cwd, spec.as_deref())?, None)),
        What::Start(_) => Err(Error::user("a started run has its own operation")),
    }
}

/// `--optimizer NAME` (a name the operation declares, a built-in, or any
/// operation of the project) or `--optimize`: a built-in one's name, or an
/// optimizer operation's spec and flags.
#[allow(clippy::type_complexity)]
fn choose_optimizer(
    op: &OpDef,
    s: &SweepOptions,
) -> Result<(Option<String>, Option<(String, Mapping)>)> {
    let choice = op::optimizer::choose(op, s.optimizer.as_deref(), s.optimize)?;
    let (builtin, custom) = match choice {
        Some(op::optimizer::Choice::Builtin(n)) => (Some(n), None),
        Some(op::optimizer::Choice::Op { spec, flags }) => (None, Some((spec, flags))),
        None => (None, None),
    };
    // The built-in optimizers (+ and random) take no flags.
    if let (Some(f), None) = (s.opt_flags.first(), &custom) {
        match builtin.as_deref() {
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
            // Other optimizers are reported as unknown later.
            Some(_) => {}
        }
    }
    Ok((builtin, custom))
}

/// Grid.ai's `--name VALUES`: each expanded with the sweep's seed and
/// added to the flag arguments (given twice is an error).
fn expand_grid_flags(
    grid_pairs: Vec<(String, String)>,
    seed: u64,
    flag_args: &mut Vec<(String, String)>,
) -> Result<()> {
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
    Ok(())
}

/// Phase 2: the flag values (the proto run's, overridden), with the full
/// id of the run each operation dependency will use.
fn resolve_flags(ctx: &Context, a: &RunRequest, p: &Prepared) -> Result<op::ResolvedFlags> {
    let mut resolved = match &p.proto {
        Some(proto) => {
            let base = match proto.attr("flags") {
                Some(Value::Mapping(m)) => m,
                _ => Mapping::new(),
            };
            op::override_flags(
                Some(&p.op),
                &base,
                &p.flag_args,
                a.run.force_flags,
                &ctx.cwd,
            )?
        }
        None => op::resolve_flags(&p.op, &p.flag_args, a.run.force_flags, &ctx.cwd)?,
    };
    op::deps::apply_default_runs(
        &p.op,
        &ctx.home.runs_dir(),
        &mut resolved.flags,
        ctx.report.as_ref(),
    )?;
    Ok(resolved)
}

/// Phase 3: the sweep, if the flags make one: batch files, list values
/// or search functions.
fn plan_sweep(
    ctx: &Context,
    a: &RunRequest,
    p: &Prepared,
    resolved: &op::ResolvedFlags,
) -> Result<Option<guild_project::plan::sweep::Plan>> {
    let s = &a.sweep;
    if !p.batch_files.is_empty() {
        let mut trials = Vec::new();
        for f in &p.batch_files {
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
        return Ok(Some(guild_project::plan::sweep::Plan {
            optimizer: "+".into(),
            trials,
            seed: s.random_seed.unwrap_or(0),
        }));
    }
    let fixed: Vec<String> =
        p.op.flags
            .iter()
            .filter(|d| d.arg_split)
            .map(|d| d.name.clone())
            .collect();
    let (optimizer, max_trials) = match s.strategy.as_deref() {
        Some("random_search") => (
            Some("+"),
            Some(s.num_trials.or(s.max_trials).unwrap_or(20) as usize),
        ),
        Some("grid_search") => (Some("+"), s.max_trials.map(|n| n as usize)),
        _ => (
            p.builtin_opt.as_deref(),
            s.max_trials.or(s.num_trials).map(|n| n as usize),
        ),
    };
    let plan = guild_project::plan::sweep::plan(
        &resolved.flags,
        &fixed,
        optimizer,
        max_trials,
        Some(p.seed),
    )?;
    if s.strategy.as_deref() == Some("none") && plan.is_some() {
        return Err(Error::user(
            "--strategy none runs a single experiment, but some flags have several values; give one value each or use --strategy grid_search",
        ));
    }
    if plan.is_none() && s.max_trials.is_some() {
        ctx.report
            .warning("WARNING: not a batch run - ignoring --max-trials");
    }
    Ok(plan)
}

/// Phase 4: the modes that show instead of running (trials, command,
/// environment); None in the others.
fn show(
    ctx: &Context,
    a: &RunRequest,
    op: &OpDef,
    resolved: &op::ResolvedFlags,
    sweep: Option<&guild_project::plan::sweep::Plan>,
) -> Result<Option<Outcome>> {
    Ok(Some(match (a.mode, sweep) {
        (Mode::PrintTrials, Some(plan)) => Outcome::Trials(plan.trials.clone()),
        // As Guild; nothing is run.
        (Mode::PrintTrials, None) => {
            return Err(Error::user("cannot print trials for a non-batch operation"))
        }
        (Mode::PrintCmd, Some(plan)) => {
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
                cmds.push(command(ctx, op, t)?.display);
            }
            Outcome::Commands(cmds)
        }
        (Mode::PrintCmd, None) => {
            Outcome::Commands(vec![command(ctx, op, &resolved.flags)?.display])
        }
        (Mode::PrintEnv, _) => {
            let first = sweep.and_then(|p| p.trials.first());
            let built = command(ctx, op, first.unwrap_or(&resolved.flags))?;
            Outcome::Env(built.op_env.into_iter().collect())
        }
        _ => return Ok(None),
    }))
}

/// Phase 5: the run's dependencies (resources fetched, runs chosen).
fn resolve_deps(
    ctx: &Context,
    a: &RunRequest,
    op: &OpDef,
    resolved: &op::ResolvedFlags,
) -> Result<op::deps::Resolved> {
    op::deps::resolve(
        op,
        &ctx.home.runs_dir(),
        &resolved.flags,
        &ctx.cwd,
        op::deps::Mode {
            quiet: a.run.quiet,
            for_stage: a.mode == Mode::Stage,
            force: a.run.force_deps,
        },
        ctx.report.as_ref(),
    )
}

/// `--needed`: the runs that already ran the operation with these flags
/// (and did not fail or wait).
fn already_run(ctx: &Context, op: &OpDef, resolved: &op::ResolvedFlags) -> Vec<RunInfo> {
    query::same_op_and_flags(
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
    .collect()
}

/// Phase 6 for one run: stage it (here, in `--run-dir`, or for a remote)
/// and start it as the request says.
fn run_single(
    ctx: &Context,
    a: &RunRequest,
    op: &OpDef,
    resolved: op::ResolvedFlags,
    deps: op::deps::Resolved,
    proto: Option<Run>,
) -> Result<Outcome> {
    // `--run-dir DIR`: a run in the runs directory is an ordinary run with
    // the id DIR's name; elsewhere the run lives in DIR, unlisted.
    let runs_dir = ctx.home.runs_dir();
    let (run_dir, run_id) = match a.place.run_dir() {
        Some(d) => {
            let d = ctx.cwd.join(d);
            let in_runs = d
                .parent()
                .is_some_and(|p| guild_format::fsutil::same_file(p, &runs_dir));
            match d.file_name().and_then(|n| n.to_str()) {
                Some(n) if in_runs => (None, Some(n.to_string())),
                _ => (Some(d), a.run.run_id.clone()),
            }
        }
        None => (None, a.run.run_id.clone()),
    };
    // A remote is reached (and checked) before anything is staged: an
    // unreachable one leaves no run behind.
    let needs_python =
        a.place.remote().is_some() && command(ctx, op, &resolved.flags).is_ok_and(|b| b.python);
    let mut sender = connect(ctx, a, needs_python)?;
    let staging = a.mode == Mode::Stage;
    let run = plan::stage(
        &ctx.home,
        StageRequest {
            op,
            flags: resolved,
            label: a.run.label.clone(),
            tags: a.run.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: a.run.quiet,
            deps,
            run_id,
            proto,
            dir: run_dir.clone(),
            name: a.run.run_name.clone(),
            run_params: Some(run_params(a)),
            report: ctx.report.as_ref(),
            start_now: !staging && sender.is_none(),
        },
    )?;
    if staging && run_dir.is_some() {
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
    if staging {
        ctx.report
            .progress(&format!("{} staged as {}", op.name, run.id));
        ctx.report.progress(&format!(
            "To start the operation, use 'guild run --start {}'",
            run.id
        ));
        return Ok(Outcome::Launched(Launched::of(&run, &op.name, "staged")));
    }
    let claim = guild_exec::exec::Claim::take(&run)?;
    if a.place.detached() {
        let pid = start_background(ctx, a, &run, claim)?;
        let pf = match a.place.pidfile() {
            Some(p) => format!("pidfile {}", p.display()),
            None => format!("pid {pid}"),
        };
        ctx.report.progress(&format!(
            "{} started in background as {} ({pf})",
            op.name, run.id
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
    let overrides = op::parse_flag_args(&a.sweep.opt_flags)?;
    let mut resolved = op::override_flags(
        Some(&opt_op),
        &flags.flags,
        &overrides,
        a.run.force_flags,
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
    if a.sweep.keep_batch {
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
    if a.mode == Mode::Stage {
        return Err(Error::user(
            "--stage cannot be used with a sweep; use --stage-trials to stage every trial (then `guild run --start ID` each)",
        ));
    }
    let (batch_op, batch_flags) = batch_op(ctx, a, &sweep, custom);
    let needs_python =
        a.place.remote().is_some() && command(ctx, op, &resolved.flags).is_ok_and(|b| b.python);
    let mut sender = connect(ctx, a, needs_python)?;
    let batch = plan::stage_unpublished(
        &ctx.home,
        StageRequest {
            op: &batch_op,
            flags: batch_flags,
            label: a.run.label.clone(),
            tags: a.run.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: true,
            deps: op::deps::Resolved::default(),
            run_id: None,
            proto: None,
            dir: None,
            // A sweep's name is recorded: its trials are named after it.
            name: Some(
                a.run
                    .run_name
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
        stage_trials: a.sweep.stage_trials || sender.is_some(),
        parallel: a.sweep.parallel as usize,
        fail_on_trial_error: a.sweep.fail_on_trial_error,
        stop_after: a.run.stop_after,
        needed: a.run.needed,
        quiet: a.run.quiet,
    };
    let mut attrs: Vec<(&str, Value)> = vec![
        ("random_seed", Value::from(sweep.seed)),
        (
            "trials",
            Value::Sequence(sweep.trials.iter().cloned().map(Value::Mapping).collect()),
        ),
    ];
    if let Some(n) = a.sweep.max_trials {
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
            tags: a.run.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: a.run.quiet,
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
    if a.place.detached() {
        let pid = start_background(ctx, a, &batch, claim)?;
        // As a single run's line, then the sweep's size.
        let how = match a.place.pidfile() {
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

/// Where `--remote` sends runs: a host (SSH, Slurm) or a Ray cluster.
enum Dest<'a> {
    Host(Box<guild_exec::launch::remote::Sender<'a>>),
    Ray(Box<guild_exec::launch::ray::RaySender<'a>>),
}

/// The remote of `--remote`, reached and checked (a host: with this
/// binary there; a Ray cluster: its API version, resources and storage).
fn connect<'a>(ctx: &'a Context, a: &RunRequest, needs_python: bool) -> Result<Option<Dest<'a>>> {
    let Some(name) = a.place.remote() else {
        return Ok(None);
    };
    let remote = super::remotes::find(ctx, name)?;
    if matches!(remote.kind, guild_exec::remote::Kind::Ray(_)) {
        let s = guild_exec::launch::ray::RaySender::new(
            &ctx.home,
            &ctx.cwd,
            remote,
            ctx.report.clone(),
        )?;
        s.check()?;
        return Ok(Some(Dest::Ray(Box::new(s))));
    }
    let mut s = guild_exec::launch::remote::Sender::new(&ctx.home, remote, ctx.report.clone())?;
    s.needs_python = needs_python;
    s.connect()?;
    Ok(Some(Dest::Host(Box::new(s))))
}

/// Send staged `runs` (one run, or a sweep's trials) to the remote and
/// start them there; say what was done (a Slurm submission's summary)
/// and what the project does not declare. `head` names the run, or the
/// sweep's batch run.
fn send(
    ctx: &Context,
    a: &RunRequest,
    dest: &mut Dest,
    head: Launched,
    runs: &[Run],
    name: &str,
) -> Result<Outcome> {
    use guild_exec::launch::remote::{Follow, Sent};
    if runs.is_empty() {
        return Err(Error::user("the sweep has no trials to send"));
    }
    let s = match dest {
        Dest::Host(s) => s,
        Dest::Ray(r) => return send_ray(ctx, a, r, head, runs, name),
    };
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
    let follow = if a.place.background() {
        Follow::Background
    } else {
        Follow::Foreground { quiet: a.run.quiet }
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

/// Send staged `runs` to a Ray cluster, one job each; follow a single
/// run in the foreground, else say what was submitted.
fn send_ray(
    ctx: &Context,
    a: &RunRequest,
    s: &mut guild_exec::launch::ray::RaySender,
    head: Launched,
    runs: &[Run],
    name: &str,
) -> Result<Outcome> {
    use guild_exec::launch::ray::RayStarted;
    use guild_exec::launch::remote::Follow;
    let follow = if a.place.background() {
        Follow::Background
    } else {
        Follow::Foreground { quiet: a.run.quiet }
    };
    let remote = s.remote.name.clone();
    match s.start(runs, follow, name)? {
        RayStarted::Ended(code) => Ok(Outcome::Done(code)),
        RayStarted::Submitted(jobs) => {
            for line in s.summary(name, runs.len(), &jobs) {
                ctx.report.progress(&line);
            }
            Ok(Outcome::Launched(Launched {
                how: "submitted",
                trials: runs.iter().map(|r| r.id.clone()).collect(),
                remote: Some(remote),
                job: jobs.first().cloned(),
                ..head
            }))
        }
    }
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
            label: a.run.label.clone(),
            tags: a.run.tags.clone(),
            cwd: ctx.cwd.clone(),
            quiet: true,
            deps: op::deps::Resolved::default(),
            run_id: a.run.run_id.clone(),
            proto,
            dir: None,
            name: a.run.run_name.clone(),
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
    put("background", a.place.background().into());
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
    put("fail_on_trial_error", a.sweep.fail_on_trial_error.into());
    put("flags", list(&a.flags));
    put("force_deps", a.run.force_deps.into());
    put("force_flags", a.run.force_flags.into());
    put("force_sourcecode", a.run.force_sourcecode.into());
    put(
        "gpus",
        match &a.gpus {
            Gpus::Only(d) => Value::from(d.clone()),
            _ => Value::Null,
        },
    );
    put("help_model", false.into());
    put("help_op", false.into());
    put("keep_batch", a.sweep.keep_batch.into());
    put("keep_run", a.run.keep_run.into());
    put("label", s(&a.run.label));
    put(
        "max_trials",
        a.sweep.max_trials.map(Value::from).unwrap_or(Value::Null),
    );
    put("maximize", Value::Null);
    put("minimize", Value::Null);
    put("needed", a.run.needed.into());
    put("no_gpus", (a.gpus == Gpus::Hidden).into());
    put("no_wait", false.into());
    put(
        "opspec",
        match &a.what {
            What::Operation(spec) => s(spec),
            _ => Value::Null,
        },
    );
    put("opt_flags", list(&[]));
    put("optimize", false.into());
    put("optimizer", s(&a.sweep.optimizer));
    put("pidfile", path(&a.place.pidfile().cloned()));
    put("print_cmd", false.into());
    put("print_env", false.into());
    put("print_trials", false.into());
    put(
        "proto",
        match &a.what {
            What::Proto(p) => Value::from(p.clone()),
            _ => Value::Null,
        },
    );
    put("quiet", a.run.quiet.into());
    put(
        "random_seed",
        a.sweep.random_seed.map(Value::from).unwrap_or(Value::Null),
    );
    put("remote", Value::Null);
    put("restart", Value::Null);
    put("run_dir", path(&a.place.run_dir().cloned()));
    put("run_id", s(&a.run.run_id));
    put("save_trials", Value::Null);
    put("stage", (a.mode == Mode::Stage).into());
    put("stage_trials", a.sweep.stage_trials.into());
    put(
        "stop_after",
        a.run.stop_after.map(Value::from).unwrap_or(Value::Null),
    );
    put("tags", list(&a.run.tags));
    put("test_flags", false.into());
    put("test_output_scalars", Value::Null);
    put("test_sourcecode", false.into());
    put("yes", a.run.yes.into());
    Value::Mapping(m)
}

/// Start options from the command line. `--gpus`/`--no-gpus` apply to
/// this start only: a new run has them in its operation's environment.
fn start_opts(ctx: &Context, a: &RunRequest) -> StartOpts {
    StartOpts {
        report: Some(ctx.report.clone()),
        quiet: a.run.quiet,
        stdin_null: false,
        pidfile: a.place.pidfile().cloned(),
        stop_after: a.run.stop_after,
        gpus: a.gpus.visible(),
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
fn start_existing(ctx: &Context, a: &RunRequest, spec: &str) -> Result<Outcome> {
    let flag_strs = &a.flags;
    // A run outside the home (`--run-dir`) is started by its path.
    let path = ctx.cwd.join(spec);
    let run = if spec.contains('/') && path.join(".guild/opref").is_file() {
        Run::at(path)
    } else {
        query::find(&ctx.home.runs_dir(), spec)?
    };
    // Claimed before anything of the run is touched: of two starts of one
    // run, the loser changes nothing.
    let claim = match a.run.claim_fd {
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
    // A run staged in another home (a remote's, an imported one) mounts
    // this home's copy of its datastores.
    let store = guild_format::datastore::Store::of(&ctx.home);
    if let Some(m) = guild_format::datastore::relink(&store, &run)?.first() {
        return Err(Error::user(m.missing(&run.id)));
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
    if op_def.is_none() && (!overrides.is_empty() || a.run.force_sourcecode) {
        return Err(Error::user(format!(
            "cannot find definition for operation '{}' in run {} This is required when setting flags or using '--force-sourcecode' for restart or a new run.",
            opref.op_name, run.id
        )));
    }
    if a.run.force_sourcecode {
        if let Some(op) = &op_def {
            guild_project::plan::refresh_sourcecode(
                &ctx.home,
                &run,
                op,
                a.run.quiet,
                ctx.report.as_ref(),
            )?;
        }
    }
    if !overrides.is_empty() || a.run.needed {
        let resolved = op::override_flags(
            op_def.as_ref(),
            &base,
            &overrides,
            a.run.force_flags,
            &ctx.cwd,
        )?;
        if a.run.needed && resolved.flags == base && !staged {
            return Ok(Outcome::Unchanged);
        }
        if !a.run.yes && !confirm_start(ctx, &run, &opref.op_desc(), &resolved.flags)? {
            return Ok(Outcome::Declined);
        }
        if resolved.flags != base {
            guild_project::plan::edit::relabel_for_flags(&run, &base, &resolved.flags)?;
            run.write_attr("flags", &Value::Mapping(resolved.flags))?;
        }
        run.write_attr("user_flags", &Value::Mapping(resolved.user_flags))?;
    } else if !a.run.yes && !confirm_start(ctx, &run, &opref.op_desc(), &base)? {
        return Ok(Outcome::Declined);
    }
    if a.run.keep_run || (a.sweep.keep_batch && run.is_batch()) {
        guild_project::plan::edit::keep_on_success(&run)?;
    }
    // A staged run resolves what staging left (its operation sources); a
    // restart resolves again what is not resolved yet or must always be
    // (a config file written with the new flags).
    if a.run.claim_fd.is_none() {
        let resolved =
            op::deps::resolve_at_start(&ctx.home, &run, &ctx.cwd, a.run.quiet, ctx.report.as_ref());
        if let Err(e) = resolved {
            // A staged run that cannot start ends in error, as Guild's.
            if run.has_marker("STAGED") {
                let _ = plan::unstage(&run);
            }
            return Err(e);
        }
    }
    if a.place.background() && a.place.pidfile().is_none() {
        start_background(ctx, a, &run, claim)?;
        ctx.report
            .progress(&format!("{} started in background", run.id));
        return Ok(Outcome::Done(0));
    }
    let opts = StartOpts {
        // A supervisor passes on the stdin it was given (the terminal of a
        // foreground run); a quiet `--start` typed by a user reads nothing.
        stdin_null: a.run.quiet && a.run.claim_fd.is_none(),
        ..start_opts(ctx, a)
    };
    // With a claim handed down, this process is the supervisor.
    let attach = if a.run.claim_fd.is_some() {
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
