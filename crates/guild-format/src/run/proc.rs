//! Process liveness from `/proc/<pid>/stat`: a zombie is dead, and a pid
//! whose process started after the run's recorded start is a reused pid.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, Copy)]
pub struct ProcInfo {
    /// The process state (`R`, `S`, `Z` for a zombie...).
    pub state: char,
    /// Process start time, µs since the epoch.
    pub(crate) start_us: i64,
    /// Process start time, clock ticks since boot (as in /proc/PID/stat).
    pub(crate) start_ticks: u64,
    /// The process group id.
    pub pgid: i32,
}

fn boot_time_s() -> Option<i64> {
    static BT: OnceLock<Option<i64>> = OnceLock::new();
    *BT.get_or_init(|| {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

fn clock_ticks() -> i64 {
    // SAFETY: sysconf has no preconditions and only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as i64
    } else {
        100
    }
}

/// The process `pid` as `/proc` shows it; None when there is none.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    if pid <= 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parens: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let pgid: i32 = fields.get(2)?.parse().ok()?;
    let start_ticks: u64 = fields.get(19)?.parse().ok()?;
    let start_us = boot_time_s()? * 1_000_000 + start_ticks as i64 * 1_000_000 / clock_ticks();
    Some(ProcInfo {
        state,
        start_us,
        start_ticks,
        pgid,
    })
}

/// Seconds of slack between a run's `started` attr and its process start:
/// covers clock-tick granularity, boot-time rounding and the spawn itself.
const START_SLACK_US: i64 = 10_000_000;

/// Is `pid` a live (non-zombie) process that could be the one started at
/// `started_us`? Without `/proc`, assume alive as Guild does. (The
/// checks `owner` makes, tested on their own.)
#[cfg(test)]
fn pid_alive(pid: i32, started_us: Option<i64>) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    match proc_info(pid) {
        None => false,
        Some(p) if p.state == 'Z' || p.state == 'X' => false,
        Some(p) => match started_us {
            Some(s) => p.start_us <= s + START_SLACK_US,
            None => true,
        },
    }
}

/// What identifies a process across pid reuse: its pid, its start time in
/// clock ticks since boot, and the boot it started in. Recorded next to
/// `LOCK` in `LOCK.proc` (a file Guild ignores) when a run's process starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStamp {
    pub(crate) pid: i32,
    pub(crate) start_ticks: u64,
    pub(crate) boot_id: String,
}

impl ProcStamp {
    /// The stamp of the live process `pid`, if it exists.
    pub fn of(pid: i32) -> Option<ProcStamp> {
        let info = proc_info(pid)?;
        Some(ProcStamp {
            pid,
            start_ticks: info.start_ticks,
            boot_id: boot_id(),
        })
    }

    /// The stamp as `LOCK.proc` holds it (`pid:`, `start:` and `boot:` lines).
    pub fn format(&self) -> String {
        format!(
            "pid: {}\nstart: {}\nboot: {}\n",
            self.pid, self.start_ticks, self.boot_id
        )
    }

    /// Parse the text of a `LOCK.proc`; None without a pid and start.
    pub fn parse(text: &str) -> Option<ProcStamp> {
        let mut pid = None;
        let mut start = None;
        let mut boot = String::new();
        for line in text.lines() {
            match line.split_once(": ") {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("start", v)) => start = v.trim().parse().ok(),
                Some(("boot", v)) => boot = v.trim().to_string(),
                _ => {}
            }
        }
        Some(ProcStamp {
            pid: pid?,
            start_ticks: start?,
            boot_id: boot,
        })
    }
}

fn boot_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
    .clone()
}

/// Whose process a run's LOCK pid is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Proven to be the run's process: it is alive, started when the run
    /// recorded, and its cwd or environment names the run dir.
    Run,
    /// Alive, but not proven to be the run's (pid reuse, a copied run dir,
    /// pid 1, another user's process): never signalled.
    Foreign,
    /// No such live process (gone, or a zombie).
    Gone,
}

/// Decide whether `pid` (from the LOCK of the run at `run_dir`) is the
/// run's process. `stamp` is the run's `LOCK.proc`, `started_us` its
/// `started` attr (the fallback for runs started by Guild, which records no
/// stamp). `strict` (stop) also requires the kernel to confirm the process
/// names the run dir; listings accept an exact stamp when /proc hides that
/// (another user's process).
pub(crate) fn owner(
    run_dir: &Path,
    pid: i32,
    stamp: Option<&ProcStamp>,
    started_us: Option<i64>,
    strict: bool,
) -> Owner {
    if pid <= 1 {
        return Owner::Foreign;
    }
    if !Path::new("/proc/self/stat").exists() {
        // No /proc: nothing can be proven; assume alive as Guild does for
        // listings, never signal.
        return Owner::Foreign;
    }
    let Some(info) = proc_info(pid) else {
        return Owner::Gone;
    };
    if info.state == 'Z' || info.state == 'X' {
        return Owner::Gone;
    }
    let stamped = match stamp.filter(|s| s.pid == pid) {
        Some(s) => {
            if s.start_ticks != info.start_ticks
                || (!s.boot_id.is_empty() && s.boot_id != boot_id())
            {
                return Owner::Foreign;
            }
            true
        }
        None => {
            if let Some(s) = started_us {
                if info.start_us > s + START_SLACK_US {
                    return Owner::Foreign;
                }
            }
            false
        }
    };
    match names_run_dir(pid, run_dir) {
        Some(true) => Owner::Run,
        Some(false) => Owner::Foreign,
        None if stamped && !strict => Owner::Run,
        None => Owner::Foreign,
    }
}

/// Whether the kernel says process `pid` works in `run_dir`: its cwd is the
/// run dir, or its environment's `RUN_DIR` is. None when /proc hides both.
fn names_run_dir(pid: i32, run_dir: &Path) -> Option<bool> {
    let want = fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    let cwd = fs::read_link(format!("/proc/{pid}/cwd"));
    if let Ok(cwd) = &cwd {
        if *cwd == want {
            return Some(true);
        }
    }
    let environ = fs::read(format!("/proc/{pid}/environ"));
    if let Ok(env) = &environ {
        let found = env
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"RUN_DIR="))
            .map(|v| {
                let p = Path::new(std::ffi::OsStr::from_bytes(v));
                fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()) == want
            });
        if found == Some(true) {
            return Some(true);
        }
    }
    if cwd.is_err() && environ.is_err() {
        None
    } else {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_reused_pid_is_not() {
        let me = std::process::id() as i32;
        let info = proc_info(me).unwrap();
        assert!(pid_alive(me, Some(info.start_us)));
        // A run recorded as started long before this process began is not us.
        assert!(!pid_alive(me, Some(info.start_us - 3_600_000_000)));
        assert!(!pid_alive(i32::MAX - 1, None));
    }

    #[test]
    fn zombie_is_not_alive() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Wait until it exits without reaping it: it is a zombie now.
        for _ in 0..200 {
            if proc_info(pid).map(|p| p.state) == Some('Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!pid_alive(pid, None));
        drop(child);
    }
}
