//! How guild runs: the only layer that starts, supervises, signals and
//! waits on processes. It starts staged runs through a `Target` (this
//! machine, an SSH host, a Slurm cluster), runs the processes of sweeps and
//! pipelines, and reaches remote sites.
//!
//! - [`exec`]: spawn, supervise, stop after proving the pid, the start
//!   claim, detached supervisors, stop signals;
//! - [`launch`]: `Target`, the local target, the sweep and steps
//!   processes, remote senders and records;
//! - [`remote`]: remotes of the user config, their sites and Slurm.

#![warn(missing_docs)]

pub mod exec;
pub mod launch;
pub mod remote;
