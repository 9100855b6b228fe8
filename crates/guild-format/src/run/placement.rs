//! Where a run executes, as data in the run (`.guild/placement`), and the
//! status that data gives a run its own files cannot settle.
//!
//! A run placed in a batch job (Slurm) may be queued, or ended by the
//! scheduler before it could record anything. Only the scheduler knows;
//! asking it means running its client, which is the exec layer's work,
//! not the run format's. The format declares the question
//! ([`Scheduler`]); the exec layer answers it and the front end installs
//! its answer once ([`set_scheduler`]). Without one, such a run shows what
//! its files say (staged, or error).

use super::{Run, Status};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// What a batch scheduler says of its jobs.
pub trait Scheduler: Send + Sync {
    /// The run status job `job` (`123`, or `123_4` for an array task)
    /// amounts to; None when the scheduler does not know it (any more).
    fn job_status(&self, job: &str) -> Option<Status>;
}

static SCHEDULER: OnceLock<&'static dyn Scheduler> = OnceLock::new();

/// Install the scheduler statuses ask about placed runs (the first one
/// installed stays).
pub fn set_scheduler(s: &'static dyn Scheduler) {
    let _ = SCHEDULER.set(s);
}

/// The status of a run that its own files cannot give (it is not
/// running here and recorded no exit): what its placement knows. A
/// Slurm job's state from the installed [`Scheduler`]; the state a remote last
/// reported for the local record of a remote run. `staged`: the run dir
/// is still staged (a queued job's, or one cancelled before it started).
pub(crate) fn placed_status(text: &[u8], staged: bool) -> Option<Status> {
    let p: Placement = serde_yaml_ng::from_slice(text).ok()?;
    match p {
        Placement::Local { .. } => None,
        Placement::Slurm { job } => {
            if !is_job_id(&job) {
                return None;
            }
            let s = SCHEDULER.get()?.job_status(&job)?;
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
    /// Started directly on a machine (without a record: its `host` attr).
    Local {
        /// The machine's host name.
        host: String,
    },
    /// The local record of a run sent to a remote: the remote's name, its
    /// host, the run directory there, the Slurm job (`123`, or `123_4`
    /// for task 4 of an array) and, while the record is not running, the
    /// state the remote last reported when the run itself cannot say
    /// (`pending`, or how the scheduler ended it).
    Remote {
        /// The remote's name in the user config.
        remote: String,
        /// The remote's host, as it is shown (`user@host`, or `this machine`).
        host: String,
        /// The run directory on the remote.
        dir: String,
        /// The Slurm job that runs it there, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        /// The state the remote last reported, when not running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
    },
    /// On a Slurm cluster: the run is started by job `job`, and the
    /// scheduler says what the run directory cannot (queued, cancelled
    /// before it started, killed at its time limit).
    Slurm {
        /// The Slurm job id (`123`, or `123_4` for an array task).
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

/// A Ray job's submission id as guild makes them (`guild-HEX12-MS`): it
/// goes into the Jobs API's URLs, so nothing else is taken.
fn is_ray_job_id(j: &str) -> bool {
    let Some(rest) = j.strip_prefix("guild-") else {
        return false;
    };
    match rest.split_once('-') {
        Some((hex, ms)) => {
            hex.len() == 12
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && !ms.is_empty()
                && ms.len() <= 20
                && ms.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
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

    /// As [`Placement::write`], keeping the remote run dir already
    /// recorded (a sender that did not connect does not know it).
    pub fn write_keeping_dir(self, run: &Run) -> Result<()> {
        match (self, Placement::of(run)) {
            (
                Placement::Remote {
                    remote,
                    host,
                    job,
                    state,
                    ..
                },
                Ok(Placement::Remote { dir, .. }),
            ) => Placement::Remote {
                remote,
                host,
                dir,
                job,
                state,
            }
            .write(run),
            (p, _) => p.write(run),
        }
    }

    /// The run's placement (local when it records none).
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
                // A job id is given to scancel, or put in a Jobs API URL:
                // never an option, a name or a path.
                let job = match &p {
                    Placement::Slurm { job } => Some((job, false)),
                    Placement::Remote { job, .. } => job.as_ref().map(|j| (j, true)),
                    Placement::Local { .. } => None,
                };
                match job {
                    Some((j, remote)) if !(is_job_id(j) || remote && is_ray_job_id(j)) => Err(crate::error::Error::user(format!(
                        "{} names job '{}', which is not a Slurm or Ray job id; remove it to treat the run as local",
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
        assert!(e.contains("not a Slurm or Ray job id"), "{e}");
        assert!(is_ray_job_id("guild-9580f020effc-1796531649672"));
        assert!(!is_ray_job_id("guild-../../x-1") && !is_ray_job_id("guild-9580f020effc-"));
        std::fs::write(run.guild_path(PLACEMENT), "type: nowhere\n").unwrap();
        let e = Placement::of(&run).unwrap_err().message();
        assert!(e.contains("not a run placement"), "{e}");
    }
}
