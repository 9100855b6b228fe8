//! Launching staged runs: the [`Target`] through which every start and stop
//! of a run goes, and where a run executes ([`Placement`]). The local
//! target ([`Local`]) supervises the operation in this process, in a
//! detached supervisor attached to this terminal, or in the background;
//! sweeps are run by [`sweep`] and start their trials through it too.

pub mod local;
pub mod remote;
pub mod sweep;

use crate::error::Result;
use crate::exec::{self, Claim, Detach, Stopped};
use crate::home::Home;
use crate::run::{Run, Status};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

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
    Child { piped: bool },
}

/// A start: where the operation's relative paths are from, the options,
/// how to follow it, and the start claim if the caller already took it.
pub struct StartRequest<'a> {
    pub cwd: &'a Path,
    pub opts: &'a StartOpts,
    pub attach: Attach,
    pub claim: Option<Claim>,
}

/// What a start did.
#[derive(Debug)]
pub enum Started {
    /// The run ended: the process exit code for it (a signal N: 256-N)
    /// and the exit status recorded in the run.
    Ended { code: i32, exit_status: i64 },
    /// The run goes on in the background, supervised by `pid`.
    Background { pid: u32 },
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
                    code: crate::error::exit_code_for_status(status),
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
    pub home: &'h Home,
    pub cwd: &'h Path,
    pub report: std::sync::Arc<dyn crate::report::Reporter>,
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

/// The status of a run that its own files cannot give (it is not
/// running here and recorded no exit): what its placement knows. A
/// Slurm job's state from the scheduler; the state a remote last
/// reported for the local record of a remote run. `staged`: the run dir
/// is still staged (a queued job's, or one cancelled before it started).
pub fn placed_status(text: &[u8], staged: bool) -> Option<Status> {
    let p: Placement = serde_yaml_ng::from_slice(text).ok()?;
    match p {
        Placement::Local { .. } => None,
        Placement::Slurm { job } => {
            if !is_job_id(&job) {
                return None;
            }
            let (state, _) = crate::remote::slurm::job_state(&job)?;
            let s = crate::remote::slurm::status_of_state(&state)?;
            match (staged, s) {
                // The job is starting the run: it is still to start (its
                // own start must not find it running).
                (true, Status::Running) => Some(Status::Pending),
                // Ended without starting the run (a failed job step): the
                // run is staged, as its directory says.
                (true, Status::Error) => None,
                (_, s) => Some(s),
            }
        }
        Placement::Remote { state, .. } => match state.as_deref()? {
            "pending" => Some(Status::Pending),
            "staged" => Some(Status::Staged),
            "terminated" => Some(Status::Terminated),
            "running" => Some(Status::Running),
            "completed" => Some(Status::Completed),
            _ => Some(Status::Error),
        },
    }
}

/// Where a run executes, as data in the run. A run started on this
/// machine needs no record of its own (its `host` attr says which
/// machine); a target that runs it elsewhere writes one
/// (`.guild/placement`) before starting it, and status, stop and fetch
/// follow it rather than a local pid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Placement {
    Local {
        host: String,
    },
    /// The local record of a run sent to a remote: the remote's name, its
    /// host, the run directory there, the Slurm job (`123`, or `123_4`
    /// for task 4 of an array) and, while the record is not running, the
    /// state the remote last reported when the run itself cannot say
    /// (`pending`, or how the scheduler ended it).
    Remote {
        remote: String,
        host: String,
        dir: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
    },
    /// On a Slurm cluster: the run is started by job `job`, and the
    /// scheduler says what the run directory cannot (queued, cancelled
    /// before it started, killed at its time limit).
    Slurm {
        job: String,
    },
}

const PLACEMENT: &str = "placement";

/// A Slurm job id: `123`, or an array task `123_4`.
fn is_job_id(j: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    match j.split_once('_') {
        Some((a, b)) => digits(a) && digits(b),
        None => digits(j),
    }
}

impl Placement {
    /// Write it into the run (atomically).
    pub fn write(&self, run: &Run) -> Result<()> {
        run.writable()?;
        let text = serde_yaml_ng::to_string(self)
            .map_err(|e| crate::error::Error::user(format!("cannot write a placement: {e}")))?;
        crate::fsutil::write_atomic(&run.guild_path(PLACEMENT), text.as_bytes())
    }

    pub fn of(run: &Run) -> Result<Placement> {
        let path = run.guild_path(PLACEMENT);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let p: Placement = serde_yaml_ng::from_str(&text).map_err(|e| {
                    crate::error::Error::user(format!(
                        "{} is not a run placement ({e}); remove it to treat the run as local",
                        path.display()
                    ))
                })?;
                // A job id is given to scancel: never an option or a name.
                let job = match &p {
                    Placement::Slurm { job } => Some(job),
                    Placement::Remote { job, .. } => job.as_ref(),
                    Placement::Local { .. } => None,
                };
                match job {
                    Some(j) if !is_job_id(j) => Err(crate::error::Error::user(format!(
                        "{} names job '{}', which is not a Slurm job id; remove it to treat the run as local",
                        path.display(),
                        j.escape_debug()
                    ))),
                    _ => Ok(p),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Placement::Local {
                host: run.attr_str("host").unwrap_or_default(),
            }),
            Err(e) => Err(crate::error::Error::io("reading", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_local_unless_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let run = Run::at(tmp.path().join("r"));
        std::fs::create_dir_all(run.guild_path("attrs")).unwrap();
        std::fs::write(run.guild_path("attrs/host"), "box1\n").unwrap();
        assert_eq!(
            Placement::of(&run).unwrap(),
            Placement::Local {
                host: "box1".into()
            }
        );
        let p = Placement::Local {
            host: "box2".into(),
        };
        let text = serde_yaml_ng::to_string(&p).unwrap();
        std::fs::write(run.guild_path(PLACEMENT), text).unwrap();
        assert_eq!(Placement::of(&run).unwrap(), p);
        std::fs::write(run.guild_path(PLACEMENT), "type: slurm\njob: \"123_4\"\n").unwrap();
        assert!(Placement::of(&run).is_ok());
        std::fs::write(
            run.guild_path(PLACEMENT),
            "type: slurm\njob: \"--user=bob\"\n",
        )
        .unwrap();
        let e = Placement::of(&run).unwrap_err().message();
        assert!(e.contains("not a Slurm job id"), "{e}");
        std::fs::write(run.guild_path(PLACEMENT), "type: nowhere\n").unwrap();
        let e = Placement::of(&run).unwrap_err().message();
        assert!(e.contains("not a run placement"), "{e}");
    }
}
