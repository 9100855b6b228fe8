//! Launching staged runs: the [`Target`] through which every start and stop
//! of a run goes, and where a run executes ([`Placement`]). The local
//! target ([`Local`]) supervises the operation in this process, in a
//! detached supervisor attached to this terminal, or in the background;
//! sweeps are run by [`sweep`] and start their trials through it too.

pub mod local;
pub mod ray;
pub mod remote;
mod remote_data;
pub mod steps;
pub mod sweep;

use crate::exec::{self, Claim, Detach, Stopped};
use guild_format::error::Result;
use guild_format::home::Home;
use guild_format::run::{Run, Status};
use std::path::Path;
use std::time::Duration;

pub(crate) use guild_format::run::placement::Placement;
pub use local::StartOpts;

/// How the caller of [`Target::start`] follows the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Supervise it in this process until it ends (the process that
    /// `guild run --start` or a sequential sweep is).
    InProcess,
    /// A supervisor detached as given echoes the output here; the caller
    /// waits for it and Ctrl-C and SIGTERM are passed on.
    Foreground(Detach),
    /// A supervisor in a session of its own; return once it has started.
    Background,
    /// A supervisor in the caller's process group, returned to the caller
    /// (parallel sweep trials); output to pipes when `piped`.
    Child {
        /// The supervisor's stdout and stderr are pipes (else inherited).
        piped: bool,
    },
}

/// A start: where the operation's relative paths are from, the options,
/// how to follow it, and the start claim if the caller already took it.
pub struct StartRequest<'a> {
    /// The directory the operation's relative paths are from.
    pub cwd: &'a Path,
    /// The start options.
    pub opts: &'a StartOpts,
    /// How the caller follows the run.
    pub attach: Attach,
    /// The start claim, when the caller already took it.
    pub claim: Option<Claim>,
}

/// What a start did.
#[derive(Debug)]
pub enum Started {
    /// The run ended: the process exit code for it (a signal N: 256-N)
    /// and the exit status recorded in the run.
    Ended {
        /// The process exit code for the run.
        code: i32,
        /// The exit status recorded in the run.
        exit_status: i64,
    },
    /// The run goes on in the background, supervised by `pid`.
    Background {
        /// The supervisor's pid.
        pid: u32,
    },
    /// The run's supervisor, for the caller to wait on.
    Child(std::process::Child),
}

/// Where runs execute. Every start and stop of a run goes through one (a
/// remote target adds fetching its files here).
pub trait Target {
    /// Start a staged or pending run (or a finished one again). The start
    /// is claimed exclusively first: two starts of one run never both run.
    fn start(&self, run: &Run, req: StartRequest) -> Result<Started>;
    /// The run's status as this target sees it.
    fn status(&self, run: &Run) -> Status;
    /// Whether `stop` has something to stop (a queued job can be
    /// cancelled; a local pending run is not started yet).
    fn stoppable(&self, run: &Run) -> bool {
        self.status(run) == Status::Running
    }
    /// Stop the run: TERM, `grace`, KILL, only to a process proven to be
    /// the run's.
    fn stop(&self, run: &Run, grace: Duration) -> Result<Stopped>;
}

/// This machine.
pub struct Local<'h> {
    /// The guild home of the runs.
    pub home: &'h Home,
}

impl Target for Local<'_> {
    fn start(&self, run: &Run, req: StartRequest) -> Result<Started> {
        let home = self.home;
        let claim = match req.claim {
            Some(c) => c,
            None => Claim::take(run)?,
        };
        Ok(match req.attach {
            Attach::InProcess => {
                let status = local::start(home, run, req.cwd, req.opts, Some(claim))?;
                Started::Ended {
                    code: guild_format::error::exit_code_for_status(status),
                    exit_status: status,
                }
            }
            Attach::Foreground(detach) => {
                let code = local::start_attached(home, run, req.cwd, req.opts, &claim, detach)?;
                Started::Ended {
                    code,
                    exit_status: run
                        .attr("exit_status")
                        .and_then(|v| v.as_i64())
                        .unwrap_or(code as i64),
                }
            }
            Attach::Background => Started::Background {
                pid: local::start_background(home, run, req.cwd, req.opts, &claim)?,
            },
            Attach::Child { piped } => Started::Child(local::start_child(
                home, run, req.cwd, req.opts, &claim, piped,
            )?),
        })
    }

    fn status(&self, run: &Run) -> Status {
        run.status().status
    }

    fn stop(&self, run: &Run, grace: Duration) -> Result<Stopped> {
        exec::stop(run, grace)
    }
}

/// Who starts and stops runs: the guild home, the directory the command
/// runs in (where the user config of remotes is found from), and who
/// hears about progress.
pub struct Caller<'h> {
    /// The guild home.
    pub home: &'h Home,
    /// The directory the command runs in.
    pub cwd: &'h Path,
    /// Who hears about progress.
    pub report: std::sync::Arc<dyn guild_format::report::Reporter>,
}

/// The target a run was started on (or would be started on), for `caller`.
pub fn target_of<'h>(caller: &'h Caller<'h>, run: &Run) -> Result<Box<dyn Target + 'h>> {
    let home = caller.home;
    match Placement::of(run)? {
        Placement::Local { .. } => Ok(Box::new(Local { home })),
        Placement::Slurm { job } => Ok(Box::new(remote::SlurmJob { home, job })),
        Placement::Remote { remote, .. } => Ok(Box::new(remote::Record { caller, remote })),
    }
}

/// The launch layer's answer to the run format's question about batch
/// jobs: what Slurm's `squeue` says of a job (one call a second answers
/// every run that asks). Installed by [`install_scheduler`].
struct Slurm;

impl guild_format::run::placement::Scheduler for Slurm {
    fn job_status(&self, job: &str) -> Option<Status> {
        let (state, _) = crate::remote::slurm::job_state(job)?;
        crate::remote::slurm::status_of_state(&state)
    }
}

/// Let run statuses include what the batch scheduler says of runs placed
/// in its jobs (the front end calls it once, before it reads statuses).
pub fn install_scheduler() {
    guild_format::run::placement::set_scheduler(&Slurm);
}
