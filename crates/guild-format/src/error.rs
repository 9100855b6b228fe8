//! The one error type of the library and the one place exit codes are decided.

use std::fmt;
use std::path::{Path, PathBuf};

/// A failure, as data: what went wrong, which run or path, and (in the
/// message) the fix. [`Error::exit_code`] is the only place a failure
/// becomes a process exit code; `Display` is the one-line message the CLI
/// prints after `guild: `.
#[derive(Debug)]
pub enum Error {
    /// Bad input (a flag value, a guild.yml, a run spec...): the message
    /// names the problem and the fix. Exit 1, as Guild's `cli.error`.
    User(String),
    /// A malformed command line (unknown option, missing argument). Exit 2.
    Usage(String),
    /// An I/O failure: what was being done, on which path, and why.
    Io {
        /// What was being done ("reading", "writing"...).
        action: String,
        /// The path it was done on.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A process could not be started or waited for: what, and why.
    Process {
        /// What was being done ("cannot start run 3f2a...").
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// No run matches the user's run spec.
    NoRun {
        /// The run spec as the user gave it (empty for no spec).
        spec: String,
    },
    /// The run is running and must be stopped first.
    Running {
        /// The run, as named in the message.
        run: String,
        /// The pid of its process, when known.
        pid: Option<i32>,
    },
    /// Another process is starting (and will supervise) the run.
    BeingStarted {
        /// The run, as named in the message.
        run: String,
    },
    /// The user answered no at a confirmation prompt (Guild's exit 4).
    Declined(String),
    /// End with this code and print nothing (a failed run's own code, a
    /// prompt answered no where Guild says nothing).
    Exit(i32),
}

/// A result whose error is the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A user error (bad input, unknown run, ...): exit 1.
    pub fn user(msg: impl Into<String>) -> Self {
        Error::User(msg.into())
    }
    /// A usage error (unknown option, missing argument): exit 2.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    /// An I/O failure, always naming what was being done and the path.
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Error::Io {
            action: action.to_string(),
            path: path.to_path_buf(),
            source: err,
        }
    }
    /// A process that could not be started (`action`: "cannot start run
    /// 3f2a..."), keeping the OS error.
    pub fn process(action: impl Into<String>, err: std::io::Error) -> Self {
        Error::Process {
            action: action.into(),
            source: err,
        }
    }
    /// The process exit code this failure ends the command with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Declined(_) => 4,
            Error::Exit(c) => *c,
            Error::User(_)
            | Error::Io { .. }
            | Error::Process { .. }
            | Error::NoRun { .. }
            | Error::Running { .. }
            | Error::BeingStarted { .. } => 1,
        }
    }
    /// The one-line message (empty for [`Error::Exit`]).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::User(m) | Error::Usage(m) | Error::Declined(m) => f.write_str(m),
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            Error::Process { action, source } => write!(f, "{action}: {source}"),
            Error::NoRun { spec } if spec.is_empty() => {
                f.write_str("no matching runs; try `guild runs list -a`")
            }
            Error::NoRun { spec } => write!(
                f,
                "could not find a run matching '{spec}'\nTry 'guild runs list' for a list."
            ),
            Error::Running {
                run,
                pid: Some(pid),
            } => write!(
                f,
                "run {run} is still running (pid {pid}); stop it with `guild stop {run}`"
            ),
            Error::Running { run, pid: None } => write!(
                f,
                "run {run} is still running; stop it with `guild stop {run}`"
            ),
            Error::BeingStarted { run } => write!(
                f,
                "run {run} is already being started; follow it with `guild watch {run}`"
            ),
            Error::Exit(_) => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Process { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Attach path and action context to an `io::Result`.
pub trait IoContext<T> {
    /// Turns an I/O error into an [`Error::Io`] naming `action` and `path`.
    fn ctx(self, action: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, action: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}

/// Process exit code for a run's exit status as Guild reports it: a negative
/// status (killed by signal N, or -16 for an interrupted run) becomes 256-N.
pub fn exit_code_for_status(status: i64) -> i32 {
    if status < 0 {
        (256 + status) as i32
    } else {
        status.min(255) as i32
    }
}
