//! Process liveness from `/proc/<pid>/stat`: a zombie is dead, and a pid
//! whose process started after the run's recorded start is a reused pid.

use std::fs;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
pub struct ProcInfo {
    pub state: char,
    /// Process start time, µs since the epoch.
    pub start_us: i64,
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
    let start_ticks: i64 = fields.get(19)?.parse().ok()?;
    let start_us = boot_time_s()? * 1_000_000 + start_ticks * 1_000_000 / clock_ticks();
    Some(ProcInfo {
        state,
        start_us,
        pgid,
    })
}

/// Seconds of slack between a run's `started` attr and its process start:
/// covers clock-tick granularity, boot-time rounding and the spawn itself.
const START_SLACK_US: i64 = 10_000_000;

/// Is `pid` a live (non-zombie) process that could be the one started at
/// `started_us`? Without `/proc`, assume alive as Guild does.
pub fn pid_alive(pid: i32, started_us: Option<i64>) -> bool {
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
