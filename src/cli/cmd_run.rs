//! `guild run`: resolve the operation and flags, stage the run, start it.

use super::Ctx;
use crate::api::{self, run::Outcome};
use crate::render;
use clap::Args;
use guild_format::error::Result;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  guild run train.py lr=0.01 epochs=5 -y\n  guild run train.py lr=[0.01,0.1] -y     (a sweep: one trial per value)\n  guild run train.py --lr \"[0.01, 0.1]\"  (Grid.ai syntax for the same)\n  guild run train.py -- --lr 0.01       (script args; known flags are recorded)\n  guild run train.py --stage              (then: guild run --start ID)\n  guild run train.py -b --pidfile run.pid (background)\n\nAfter the script, `--NAME VALUE` sets the script's flag NAME (Grid.ai syntax), also where `run` has an option of that name (`--optimizer` of a script that declares one); put run options before the script to be sure."
)]
pub struct RunArgs {
    /// Script to run (Python script or executable file)
    #[arg(value_name = "OPERATION")]
    pub opspec: Option<String>,
    /// Flag values as NAME=VALUE
    #[arg(value_name = "FLAG=VAL")]
    pub flags: Vec<String>,
    /// Arguments for the script after `--` (`--name value` for a known flag sets it)
    #[arg(last = true, value_name = "ARGS")]
    pub raw: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Run label (a template: `${flag}`, `${default_label}`)
    #[arg(short = 'l', long, value_name = "LABEL")]
    pub label: Option<String>,
    /// Tag the run (repeatable)
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Write the run directory without running it
    #[arg(long)]
    pub stage: bool,
    /// Start a staged run, or re-run a finished run in place with its flags (FLAG=VAL overrides)
    #[arg(long, visible_alias = "restart", value_name = "RUN")]
    pub start: Option<String>,
    /// Start a new run with the operation, flags and source code of RUN (FLAG=VAL overrides)
    #[arg(long, value_name = "RUN")]
    pub proto: Option<String>,
    /// Skip the run when a run of the same operation with the same flags exists
    #[arg(long)]
    pub needed: bool,
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
    /// Stop the run (each trial of a sweep) after MINUTES
    #[arg(long, value_name = "MINUTES")]
    pub stop_after: Option<f64>,
    /// Print the trials of a sweep and exit
    #[arg(long)]
    pub print_trials: bool,
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
    /// Run in the background and return at once
    #[arg(short = 'b', long)]
    pub background: bool,
    /// Write the supervising process's pid to FILE (removed when done); implies --background unless used with --start
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Create the run in DIR instead of the guild home's runs directory
    /// (it is then not listed, unless DIR is in it)
    #[arg(short = 'd', long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Continue even when a required resource cannot be resolved
    #[arg(long)]
    pub force_deps: bool,
    /// Make only these GPUs visible to the run (CUDA_VISIBLE_DEVICES), e.g. `0,1`
    #[arg(long, value_name = "DEVICES")]
    pub gpus: Option<String>,
    /// Hide all GPUs from the run (CUDA_VISIBLE_DEVICES empty)
    #[arg(long)]
    pub no_gpus: bool,
    /// Keep a sweep's batch run when the sweep ends (by default it goes to
    /// the trash and only the trials are listed)
    #[arg(long)]
    pub keep_batch: bool,
    /// Keep the run even when its operation has `delete-on-success: yes`
    #[arg(long)]
    pub keep_run: bool,
    /// Do not echo the run's output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accept flags the operation does not define
    #[arg(short = 'f', long)]
    pub force_flags: bool,
    /// Print the command that would run and exit
    #[arg(long)]
    pub print_cmd: bool,
    /// Print the environment the operation adds and exit
    #[arg(long)]
    pub print_env: bool,
    /// For a sweep: stage every trial and start none (each can be started
    /// with `guild run --start ID`)
    #[arg(long)]
    pub stage_trials: bool,
    /// Show the operation's flags and exit
    #[arg(long)]
    pub help_op: bool,
    /// With --restart: copy the operation's source code into the run again
    /// (its current version) before starting
    #[arg(long)]
    pub force_sourcecode: bool,
    /// Show which project files would be copied as source code (and the
    /// rules that decide) and exit
    #[arg(long)]
    pub test_sourcecode: bool,
    /// Create the run with this id (used for pipeline steps)
    #[arg(long, hide = true, value_name = "ID")]
    pub run_id: Option<String>,
    /// The start claim passed down by the guild process that took it
    #[arg(long, hide = true, value_name = "FD")]
    pub claim_fd: Option<i32>,
    /// Give the run this name (default: a new one like `spiffy-sunfish-821`)
    #[arg(long = "run-name", value_name = "NAME")]
    pub run_name: Option<String>,
    /// Run it on REMOTE (`guild remotes`): staged here, copied there and
    /// started (SSH: followed here, or --background; Slurm: submitted, a
    /// sweep as one job array)
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// Set an environment variable for the run, NAME=VALUE (repeatable; recorded in the run's env)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Print what was made as JSON on stdout (id, name, trials, job) when
    /// the run is staged, started in the background or sent to a remote;
    /// with --print-trials, the trials
    #[arg(long)]
    pub json: bool,
}

impl From<RunArgs> for api::run::RunRequest {
    fn from(a: RunArgs) -> Self {
        api::run::RunRequest {
            opspec: a.opspec,
            flags: a.flags,
            raw: a.raw,
            yes: a.yes,
            label: a.label,
            tags: a.tags,
            stage: a.stage,
            start: a.start,
            proto: a.proto,
            needed: a.needed,
            optimizer: a.optimizer,
            optimize: a.optimize,
            opt_flags: a.opt_flags,
            max_trials: a.max_trials,
            random_seed: a.random_seed,
            parallel: a.parallel,
            fail_on_trial_error: a.fail_on_trial_error,
            stop_after: a.stop_after,
            print_trials: a.print_trials,
            strategy: a.strategy,
            num_trials: a.num_trials,
            seed: a.seed,
            grid_flags: a.grid_flags,
            background: a.background,
            pidfile: a.pidfile,
            run_dir: a.run_dir,
            force_deps: a.force_deps,
            gpus: a.gpus,
            no_gpus: a.no_gpus,
            keep_batch: a.keep_batch,
            keep_run: a.keep_run,
            quiet: a.quiet,
            force_flags: a.force_flags,
            print_cmd: a.print_cmd,
            print_env: a.print_env,
            stage_trials: a.stage_trials,
            help_op: a.help_op,
            force_sourcecode: a.force_sourcecode,
            test_sourcecode: a.test_sourcecode,
            run_id: a.run_id,
            claim_fd: a.claim_fd,
            run_name: a.run_name,
            remote: a.remote,
            env: a.env,
        }
    }
}

pub fn main(ctx: &Ctx, a: RunArgs) -> Result<i32> {
    let json = a.json;
    Ok(match api::run::run(ctx, &a.into())? {
        Outcome::Done(code) => code,
        Outcome::Launched(l) => {
            if json {
                render::json(&serde_json::to_value(&l).unwrap_or_default());
            }
            0
        }
        Outcome::Trials(trials) if json => {
            render::json(&serde_json::to_value(&trials).unwrap_or_default());
            0
        }
        Outcome::Declined => 0,
        Outcome::Unchanged => {
            render::out("Skipping run because flags have not changed (--needed specified)");
            0
        }
        Outcome::HelpOp(op) => {
            render::out(&render::help_op(&op));
            0
        }
        Outcome::SourcecodeTest(test) => {
            render::out(&render::sourcecode_test(&test, &super::process_cwd(ctx)));
            0
        }
        Outcome::Trials(trials) => {
            render::out(&render::trials_table(&trials));
            0
        }
        Outcome::Commands(cmds) => {
            for c in cmds {
                render::out(&render::cmd_line(&c));
            }
            0
        }
        Outcome::Env(env) => {
            render::out(&render::env_lines(&env));
            0
        }
        Outcome::AlreadyRun(matching) => {
            render::out(&render::needed_skip(&matching));
            0
        }
    })
}
