//! `guild run`: resolve the operation and flags, stage the run, start it.

use super::Ctx;
use crate::api::{self, run::Outcome};
use crate::render;
use clap::Args;
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  guild run train.py lr=0.01 epochs=5 -y\n  guild run train.py lr=[0.01,0.1] -y     (a sweep: one trial per value)\n  guild run train.py --lr \"[0.01, 0.1]\"  (Grid.ai syntax for the same)\n  guild run train.py -- --lr 0.01       (script args; known flags are recorded)\n  guild run train.py --stage              (then: guild run --start ID)\n  guild run train.py -b --pidfile run.pid (background)\n\nAfter the script, `--NAME VALUE` sets the script's flag NAME (Grid.ai syntax), also where `run` has an option of that name (`--optimizer` of a script that declares one); put run options before the script to be sure."
)]
pub(crate) struct RunArgs {
    /// Script to run (Python script or executable file)
    #[arg(value_name = "OPERATION")]
    pub(crate) opspec: Option<String>,
    /// Flag values as NAME=VALUE
    #[arg(value_name = "FLAG=VAL")]
    pub(crate) flags: Vec<String>,
    /// Arguments for the script after `--` (`--name value` for a known flag sets it)
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) raw: Vec<String>,
    #[command(flatten)]
    pub(crate) run: api::run::RunOptions,
    /// Write the run directory without running it
    #[arg(long)]
    pub(crate) stage: bool,
    /// Start a staged run, or re-run a finished run in place with its flags (FLAG=VAL overrides)
    #[arg(long, visible_alias = "restart", value_name = "RUN")]
    pub(crate) start: Option<String>,
    /// Start a new run with the operation, flags and source code of RUN (FLAG=VAL overrides)
    #[arg(long, value_name = "RUN", conflicts_with = "start")]
    pub(crate) proto: Option<String>,
    #[command(flatten)]
    pub(crate) sweep: api::run::SweepOptions,
    /// Print the trials of a sweep and exit
    #[arg(long)]
    pub(crate) print_trials: bool,
    /// Run in the background and return at once
    #[arg(short = 'b', long)]
    pub(crate) background: bool,
    /// Write the supervising process's pid to FILE (removed when done); implies --background unless used with --start
    #[arg(long, value_name = "FILE")]
    pub(crate) pidfile: Option<PathBuf>,
    /// Create the run in DIR instead of the guild home's runs directory
    /// (it is then not listed, unless DIR is in it)
    #[arg(short = 'd', long, value_name = "DIR")]
    pub(crate) run_dir: Option<PathBuf>,
    /// Make only these GPUs visible to the run (CUDA_VISIBLE_DEVICES), e.g. `0,1`
    #[arg(long, value_name = "DEVICES")]
    pub(crate) gpus: Option<String>,
    /// Hide all GPUs from the run (CUDA_VISIBLE_DEVICES empty)
    #[arg(long)]
    pub(crate) no_gpus: bool,
    /// Print the command that would run and exit
    #[arg(long)]
    pub(crate) print_cmd: bool,
    /// Print the environment the operation adds and exit
    #[arg(long)]
    pub(crate) print_env: bool,
    /// Show the operation's flags and exit
    #[arg(long)]
    pub(crate) help_op: bool,
    /// Show which project files would be copied as source code (and the
    /// rules that decide) and exit
    #[arg(long)]
    pub(crate) test_sourcecode: bool,
    /// Run it on REMOTE (`guild remotes`): staged here, copied there and
    /// started (SSH: followed here, or --background; Slurm: submitted, a
    /// sweep as one job array)
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    /// Print what was made as JSON on stdout (id, name, trials, job) when
    /// the run is staged, started in the background or sent to a remote;
    /// with --print-trials, the trials
    #[arg(long)]
    pub(crate) json: bool,
}

impl TryFrom<RunArgs> for api::run::RunRequest {
    type Error = Error;

    /// The typed request: what to run, the mode, the GPUs and the place,
    /// with Guild's words for options that do not go together. The
    /// options shared with the API move over whole.
    fn try_from(a: RunArgs) -> Result<Self> {
        use api::run::{Gpus, Mode, Place, What};
        let gpus = match (a.gpus, a.no_gpus) {
            (Some(_), true) => {
                return Err(Error::user(
                    "--no-gpus and --gpus cannot both be used Try 'guild run --help' for more information.",
                ))
            }
            (Some(d), false) => Gpus::Only(d),
            (None, true) => Gpus::Hidden,
            (None, false) => Gpus::Inherited,
        };
        if a.stage && (a.background || a.pidfile.is_some()) {
            return Err(Error::user(
                "--stage and --background/--pidfile cannot both be used",
            ));
        }
        if a.print_cmd && a.print_env {
            return Err(Error::user(
                "--print-cmd and --print-env cannot both be used",
            ));
        }
        // `guild run lr=0.1` runs the default operation with a flag (as
        // Guild, which records it so).
        let mut flags = a.flags;
        let opspec = match a.opspec {
            Some(s) if s.contains('=') && !s.starts_with('=') => {
                flags.insert(0, s);
                None
            }
            other => other,
        };
        let what = match (a.start, a.proto, opspec) {
            (Some(_), _, Some(_)) => return Err(Error::user(
                "OPERATION cannot be used with --start/--restart (the run's own operation is used)",
            )),
            (None, Some(_), Some(_)) => {
                return Err(Error::user(
                    "OPERATION cannot be used with --proto (the proto run's operation is used)",
                ))
            }
            (Some(run), _, None) => What::Start(run),
            (None, Some(run), None) => What::Proto(run),
            (None, None, spec) => What::Operation(spec),
        };
        let place = match a.remote {
            Some(name) => {
                let bad = [
                    (a.stage, "--stage"),
                    (a.sweep.stage_trials, "--stage-trials"),
                    (a.pidfile.is_some(), "--pidfile"),
                    (a.run_dir.is_some(), "--run-dir"),
                    (a.run.needed, "--needed"),
                    (matches!(what, What::Proto(_)), "--proto"),
                ];
                if let Some((_, opt)) = bad.iter().find(|(b, _)| *b) {
                    return Err(Error::user(format!(
                        "--remote cannot be used with {opt}; stage the run here (guild run --stage), then start it there with `guild run --start ID --remote NAME`"
                    )));
                }
                Place::Remote {
                    name,
                    background: a.background,
                }
            }
            None => Place::Here {
                background: a.background,
                pidfile: a.pidfile,
                run_dir: a.run_dir,
            },
        };
        Ok(api::run::RunRequest {
            what,
            mode: Mode::of(
                a.stage,
                a.print_cmd,
                a.print_env,
                a.print_trials,
                a.help_op,
                a.test_sourcecode,
            ),
            flags,
            raw: a.raw,
            run: a.run,
            sweep: a.sweep,
            gpus,
            place,
        })
    }
}

pub(crate) fn main(ctx: &Ctx, a: RunArgs) -> Result<i32> {
    let json = a.json;
    Ok(match api::run::run(ctx, &a.try_into()?)? {
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
