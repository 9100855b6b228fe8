//! The one error type of the library and the one place exit codes are decided.

use std::fmt;
use std::path::Path;

/// A user-facing failure. `msg` is printed as `guild: <msg>` on stderr (unless
/// empty) and the process exits with `code`.
#[derive(Debug)]
pub struct Error {
    pub msg: String,
    pub code: i32,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A user error (bad input, unknown run, ...): exit 1, as Guild's `cli.error`.
    pub fn user(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            code: 1,
        }
    }
    /// A usage error (unknown option, missing argument): exit 2.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            code: 2,
        }
    }
    /// Exit with `code` without printing anything (e.g. a failed run's own code).
    pub fn exit(code: i32) -> Self {
        Error {
            msg: String::new(),
            code,
        }
    }
    /// An I/O failure, always naming what was being done and the path.
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Error::user(format!("{action} {}: {err}", path.display()))
    }
    pub fn exit_code(&self) -> i32 {
        self.code
    }
    /// Print the error as `guild: <msg>` (unless empty) and return the
    /// exit code: how the process ends on it.
    pub fn report(&self) -> i32 {
        if !self.msg.is_empty() {
            eprintln!("guild: {}", self.msg);
        }
        self.code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// Attach path and action context to an `io::Result`.
pub trait IoContext<T> {
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
