//! The only place that touches pids and signals: spawn an operation in its
//! own process group, supervise it (forwarding SIGINT/SIGTERM/SIGHUP to the
//! group, SIGKILL after a grace period), and stop runs from another process.

pub(crate) mod signals;

pub(crate) use signals::{Forward, StopSignals};

use guild_format::error::{Error, IoContext, Result};
use guild_format::fsutil;
use guild_format::output::Capture;
use guild_format::run::{proc, Run};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Exit status Guild records for a foreground run interrupted with Ctrl-C.
pub(crate) const INTERRUPTED_STATUS: i64 = -16;
/// Grace between forwarding a stop signal and SIGKILL of the group.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// What [`wait_any_child`] saw.
pub(crate) enum Waited {
    /// Child `pid` ended: its exit code, or 128 + the signal that killed it.
    Ended { pid: i32, code: i32 },
    /// Nothing to report this time (interrupted, or a stop or continue).
    Again,
    /// This process has no children left to wait for.
    NoChildren,
}

/// Wait for any child of this process to end (a parallel sweep's trial
/// supervisors).
pub(crate) fn wait_any_child() -> Waited {
    use nix::sys::wait::{waitpid, WaitStatus};
    match waitpid(None, None) {
        Ok(WaitStatus::Exited(pid, c)) => Waited::Ended {
            pid: pid.as_raw(),
            code: c,
        },
        Ok(WaitStatus::Signaled(pid, sig, _)) => Waited::Ended {
            pid: pid.as_raw(),
            code: 128 + sig as i32,
        },
        Ok(_) | Err(nix::errno::Errno::EINTR) => Waited::Again,
        Err(_) => Waited::NoChildren,
    }
}

/// End this process by signal `sig` itself (output flushed), so that its
/// supervisor records how it was stopped (terminated, exit -15) as
/// Guild's does. Returns only when the signal does not end the process.
pub(crate) fn end_by_signal(sig: i32) {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: restoring the default action of a signal and raising it on
    // this process; no memory is touched.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Enlarge a capture pipe so a fast writer is not throttled by 64 KiB
/// round trips; best effort (the kernel caps it at pipe-max-size).
fn grow_pipe<F: std::os::fd::AsFd>(f: &F) {
    let _ = nix::fcntl::fcntl(
        f.as_fd().as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20),
    );
}

pub(crate) struct SpawnSpec<'a> {
    pub(crate) argv: &'a [String],
    pub(crate) env: &'a BTreeMap<String, String>,
    pub(crate) cwd: &'a Path,
    pub(crate) echo: bool,
    pub(crate) parser: guild_format::output::scalars::ScalarParser,
    pub(crate) stdin_null: bool,
    /// A run stopped by a signal counts as completed (op `stoppable`).
    pub(crate) stoppable: bool,
    /// `--stop-after`: SIGTERM to the run's group at this time.
    pub(crate) deadline: Option<Instant>,
    /// Called once the process is started (LOCK written), or failed to
    /// start: the start's metadata is written while the process boots. An
    /// error stops the process.
    pub(crate) on_start: Option<Box<dyn FnOnce() -> Result<()> + 'a>>,
    /// Who hears the supervisor's own lines (`--stop-after`).
    pub(crate) report: Option<std::sync::Arc<dyn guild_format::report::Reporter>>,
}

/// Spawn and supervise the operation of `run` until it exits; record LOCK,
/// `exit_status`, `stopped`. Returns the recorded exit status.
pub(crate) fn supervise(run: &Run, mut spec: SpawnSpec) -> Result<i64> {
    let mut on_start = spec.on_start.take();
    let mut started = move || on_start.take().map_or(Ok(()), |f| f());
    let lock = run.guild_path("LOCK");
    if let Some((pid, proc::Owner::Run)) = run.lock_owner(false) {
        if run.attr("exit_status").is_none() {
            return Err(Error::Running {
                run: run.short_id().to_string(),
                pid: Some(pid),
            });
        }
    }
    fsutil::remove_if_exists(&lock)?;
    let capture = Capture::open(&run.guild_dir(), spec.parser, spec.echo)?;
    let (prog, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| Error::user(format!("run {} has an empty command", run.short_id())))?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(spec.env)
        .current_dir(spec.cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if spec.stdin_null {
        cmd.stdin(Stdio::null());
    }
    let signals = StopSignals::for_supervisor()?;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = started();
            return Err(Error::user(format!(
                "cannot start {prog}: {e}; check that it exists and is executable"
            )));
        }
    };
    let pid = child.id() as i32;
    // From now on stop signals go to the run's group (one that arrived
    // before it existed, at once).
    signals.forward_to(pid);
    // What proves later that this pid is the run's (see `stop`), written
    // before LOCK so a LOCK never lacks it.
    let stamp = proc::ProcStamp::of(pid)
        .map(|s| s.format())
        .unwrap_or_default();
    let made = fsutil::replace_nosync(&run.guild_path("LOCK.proc"), stamp.as_bytes())
        .map_err(|e| std::io::Error::other(e.message()))
        .and_then(|_| fsutil::create_new(&lock, pid.to_string().as_bytes()));
    if let Err(e) = made {
        // SAFETY: killing the group we just created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.wait();
        let _ = started();
        return Err(Error::io("creating lock", &lock, e));
    }
    if let Err(e) = started() {
        // SAFETY: killing the group we just created; its start could not
        // be recorded.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.wait();
        return Err(e);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut readers = 0;
    let pipes: Vec<u64> = [
        child.stdout.as_ref().map(|p| p.as_raw_fd()),
        child.stderr.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    .filter_map(|fd| nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino))
    .collect();
    if let Some(out) = child.stdout.take() {
        grow_pipe(&out);
        readers += 1;
        capture.reader(out, 0, Some(tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        grow_pipe(&err);
        readers += 1;
        capture.reader(err, 1, Some(tx.clone()));
    }
    let watchdog_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    watchdog(
        pid,
        spec.deadline,
        signals.watch(),
        spec.report.clone(),
        watchdog_done.clone(),
    );
    let status = child.wait().ctx("waiting for", Path::new(prog))?;

    watchdog_done.store(true, Ordering::SeqCst);
    let sig = signals.received();
    stop_leftovers(pid, sig, &capture);
    wait_for_output(&rx, readers, &pipes, &capture);
    // The group is gone: nothing to pass signals on to.
    signals.forward_to(0);
    let capture_result = capture.close();

    let stopped_by_signal = sig != 0 || status.signal().is_some();
    let exit_status: i64 = if spec.stoppable && stopped_by_signal {
        0
    } else if sig == libc::SIGINT {
        INTERRUPTED_STATUS
    } else {
        match (status.code(), status.signal()) {
            (Some(c), _) => c as i64,
            (None, Some(s)) => -(s as i64),
            _ => 1,
        }
    };
    finish(run, exit_status)?;
    capture_result?;
    Ok(exit_status)
}

/// The run's watchdog: TERM at `--stop-after`'s deadline, KILL after the
/// grace period then or after a stop signal; ends when `done` is set.
fn watchdog(
    pid: i32,
    deadline: Option<Instant>,
    received: signals::Received,
    report: Option<std::sync::Arc<dyn guild_format::report::Reporter>>,
    wd: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let spawned = Instant::now();
    std::thread::spawn(move || {
        let mut since: Option<Instant> = None;
        let mut timed_out = false;
        while !wd.load(Ordering::SeqCst) {
            if !timed_out && deadline.is_some_and(|d| Instant::now() >= d) {
                timed_out = true;
                since = Some(Instant::now());
                // Guild's words for `--stop-after`.
                if let Some(r) = &report {
                    r.progress(&format!(
                        "Stopping process early (pid {pid}) - {:.1} minute(s) elapsed",
                        spawned.elapsed().as_secs_f64() / 60.0
                    ));
                }
                // SAFETY: the group is ours; --stop-after reached.
                unsafe {
                    libc::kill(-pid, libc::SIGTERM);
                }
            }
            if timed_out && since.is_some_and(|t| t.elapsed() >= DEFAULT_GRACE) {
                // SAFETY: the group is ours; escalation after the grace period.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
                break;
            }
            if received.first() != 0 {
                let t = *since.get_or_insert_with(Instant::now);
                if t.elapsed() >= DEFAULT_GRACE {
                    // SAFETY: the group is ours; escalation after the grace period.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                    }
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// After the run's main process exited: what it started and left behind
/// in its group is stopped (TERM, 5 s, KILL), so the run's record of what
/// ran is complete; after a stop signal, the group is killed.
fn stop_leftovers(pid: i32, sig: i32, capture: &guild_format::output::Capture) {
    // The run is its main process: what it started and left behind in its
    // group is stopped, so the run's record of what ran is complete.
    if sig == 0 && group_alive(pid) {
        capture.note(&format!(
            "INFO: [guild] the run's main process (pid {pid}) exited; stopping the processes it left running"
        ));
        // SAFETY: the group we created; its leader has exited and been
        // reaped, and the group id cannot be reused while members remain.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while group_alive(pid) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if group_alive(pid) {
            // SAFETY: as above; escalation after the grace period.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    if sig != 0 {
        // Never leave an orphan behind a stopped run.
        // SAFETY: signalling the group we created; ESRCH when empty is fine.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Wait (up to 5 s) for the run's output readers to reach the end of the
/// pipes; if a process outside the group holds them open, say which.
fn wait_for_output(
    rx: &std::sync::mpsc::Receiver<()>,
    readers: usize,
    pipes: &[u64],
    capture: &guild_format::output::Capture,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..readers {
        let left = deadline.saturating_duration_since(Instant::now());
        if rx.recv_timeout(left).is_err() {
            // The group is gone, yet the output is open: a process that
            // left it (setsid, a daemon) holds it. Say which.
            let holders = pipe_holders(pipes);
            if holders.is_empty() {
                capture.note("WARNING: [guild] the run's output was still open 5 s after its processes ended; the run ended without waiting for the rest");
            }
            for (p, comm) in holders {
                capture.note(&format!(
                    "WARNING: [guild] process {p} ({comm}) outside the run's process group kept its output open; the run ended without waiting for it"
                ));
            }
            break;
        }
    }
}

/// The processes (pid, name) other than this one with a pipe of inode
/// `pipes` open: a scan of `/proc/*/fd`, done only when a run's output
/// stays open after its group ended.
fn pipe_holders(pipes: &[u64]) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let names: Vec<String> = pipes.iter().map(|i| format!("pipe:[{i}]")).collect();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for pid in rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| *p != me)
    {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| names.iter().any(|n| t.as_os_str() == n.as_str()))
        });
        if holds {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            found.push((pid, comm.trim().to_string()));
        }
    }
    found
}

/// Whether process group `pgid` still has a live (non-zombie) member.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists and may be
    // signalled; nothing is delivered.
    if unsafe { libc::kill(-pgid, 0) } != 0 {
        return false;
    }
    // Zombies count for kill(2); they are not running anything.
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return true;
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc::proc_info)
        .any(|p| p.pgid == pgid && p.state != 'Z' && p.state != 'X')
}

/// Record the end of a run: `exit_status`, `stopped`, then remove LOCK.
pub(crate) fn finish(run: &Run, exit_status: i64) -> Result<()> {
    if !run.guild_dir().exists() {
        return Ok(()); // deleted while running
    }
    run.write_end_attrs(&[
        ("exit_status", exit_status.into()),
        ("stopped", guild_format::run::now_us().into()),
    ])
    .map_err(|e| {
        Error::user(format!(
            "cannot record the end of run {} (exit status {exit_status}): {}; free some space, then `guild runs` shows it as error",
            run.short_id(),
            e.message()
        ))
    })?;
    fsutil::remove_if_exists(&run.guild_path("LOCK"))?;
    fsutil::remove_if_exists(&run.guild_path("LOCK.proc"))
}

/// What `stop` did with a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Its process was signalled and has ended.
    Ended,
    /// It was not running.
    NotRunning,
    /// Its LOCK names a live process that is not proven to be the run's
    /// (pid reuse, a copied run dir, pid 1, this very process): left alone.
    Foreign(i32),
}

/// Stop a running run: SIGTERM to its process group (or to its process when
/// it does not lead a group, as Guild's own runs), wait `timeout`, SIGKILL.
/// Only a process proven to be the run's is signalled ([`proc::owner`]:
/// the start recorded in `LOCK.proc` or `started`, and the kernel's word
/// that it works in the run dir); never pid <= 1, this process or its group.
/// If no supervisor records the end, record it here.
pub(crate) fn stop(run: &Run, timeout: Duration) -> Result<Stopped> {
    let Some((pid, owner)) = run.lock_owner(true) else {
        return Ok(Stopped::NotRunning);
    };
    let me = std::process::id() as i32;
    // SAFETY: getpgrp(2) has no preconditions and cannot fail.
    let my_group = unsafe { libc::getpgrp() };
    match owner {
        proc::Owner::Gone => return Ok(Stopped::NotRunning),
        proc::Owner::Foreign => return Ok(Stopped::Foreign(pid)),
        proc::Owner::Run if pid <= 1 || pid == me || pid == my_group => {
            return Ok(Stopped::Foreign(pid))
        }
        proc::Owner::Run => {}
    }
    let group = proc::proc_info(pid).map(|p| p.pgid == pid).unwrap_or(false);
    let target = if group { -pid } else { pid };
    // Still the very process signalled (a restart may have written a new
    // LOCK meanwhile: that one is not ours to kill).
    let alive = || run.lock_owner(true) == Some((pid, proc::Owner::Run));
    // SAFETY: plain kill(2) on the run's pid (or the group it leads), proven
    // above to be the run's process and never 0, 1, -1 or our own group.
    unsafe {
        libc::kill(target, libc::SIGTERM);
    }
    let t0 = Instant::now();
    while alive() && t0.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut recorded = -15;
    if alive() {
        // SAFETY: as above, re-proven by `alive()` just now; escalation
        // after the grace period.
        unsafe {
            libc::kill(target, libc::SIGKILL);
        }
        recorded = -9;
        let t1 = Instant::now();
        while alive() && t1.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // The supervisor records the end (after stopping what the process left
    // behind and draining its output); wait for it while it holds the
    // run's start claim. Without a live supervisor, record the end here.
    let t2 = Instant::now();
    while run.guild_path("LOCK").exists()
        && t2.elapsed() < Duration::from_secs(20)
        && (t2.elapsed() < Duration::from_secs(1) || Claim::is_held(run))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    if run.lock_pid() == Some(pid) && !alive() && !Claim::is_held(run) {
        finish(run, recorded)?;
    }
    Ok(Stopped::Ended)
}

/// The exclusive right to start a run: a `flock` on `.guild/LOCK.start`,
/// taken before anything of the run is touched and held by the process
/// that supervises it (passed down to it by fd), so two `--start`s of one
/// run never both run it. The kernel drops it when its holders end, so a
/// killed starter never leaves a stale claim.
#[derive(Debug)]
pub struct Claim {
    file: std::fs::File,
}

impl Claim {
    /// Take the claim on `run`, or fail with "already being started".
    pub fn take(run: &Run) -> Result<Claim> {
        let path = run.guild_path("LOCK.start");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx("creating", &path)?;
        // SAFETY: flock(2) on an fd we own; non-blocking, no memory involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::BeingStarted {
                    run: run.short_id().to_string(),
                });
            }
            return Err(Error::io("locking", &path, err));
        }
        Ok(Claim { file })
    }

    /// Whether some process holds the claim on `run` (its supervisor).
    pub(crate) fn is_held(run: &Run) -> bool {
        let Ok(file) = std::fs::File::open(run.guild_path("LOCK.start")) else {
            return false;
        };
        // SAFETY: flock(2) on an fd we own; released when `file` closes.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
    }

    /// The claim passed down by the process that took it (`fd`), checked
    /// to be the locked `LOCK.start` of `run`.
    pub fn inherited(run: &Run, fd: i32) -> Result<Claim> {
        use std::os::fd::FromRawFd;
        use std::os::unix::fs::MetadataExt;
        let path = run.guild_path("LOCK.start");
        let bad = || {
            Error::user(format!(
                "--claim-fd {fd} is not the start claim of run {}",
                run.short_id()
            ))
        };
        // SAFETY: fcntl(F_GETFD) only queries the descriptor table.
        if fd < 3 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(bad());
        }
        // SAFETY: the fd is open (checked above) and was handed to this
        // process for it to own; nothing else in this process uses it.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        let (Ok(held), Ok(want)) = (file.metadata(), std::fs::metadata(&path)) else {
            return Err(bad());
        };
        if held.dev() != want.dev() || held.ino() != want.ino() {
            return Err(bad());
        }
        // Not for the operation's process: it must not hold the claim.
        // SAFETY: fcntl(F_SETFD) on an fd we own.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        // Already ours through the shared open file description: this
        // succeeds at once; it fails if the fd was never locked and someone
        // else holds the claim.
        // SAFETY: flock(2) on an fd we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Error::BeingStarted {
                run: run.short_id().to_string(),
            });
        }
        Ok(Claim { file })
    }

    pub(crate) fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// Another handle on the same claim (a dup of its fd).
    pub(crate) fn try_clone(&self) -> Result<Claim> {
        Ok(Claim {
            file: self
                .file
                .try_clone()
                .map_err(|e| Error::user(format!("cannot hand on the start claim: {e}")))?,
        })
    }
}

/// Start `cmd` (a `guild run --start` supervisor) with the claim passed
/// down as `--claim-fd`. `detach`: in a session of its own, so that closing
/// the terminal, a dropped SSH session or killing this process leaves the
/// run (and the recording of its output) going.
/// Where a supervisor runs relative to the process that starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detach {
    /// A session of its own: a closed terminal, a dropped SSH session or
    /// killing the starter leave it going (a foreground run).
    Session,
    /// A process group of its own: signals sent to the starter's group
    /// (stopping a pipeline) reach it only as the starter passes them on.
    Group,
    /// The starter's group: stopping the starter's group stops it (the
    /// trials of a `--parallel` sweep).
    No,
}

impl Detach {
    /// Apply in the new process. Async-signal-safe.
    fn apply(self) -> std::io::Result<()> {
        // SAFETY: setsid(2)/setpgid(2) are async-signal-safe and only
        // change this process's own session or group.
        let rc = unsafe {
            match self {
                Detach::Session => libc::setsid(),
                Detach::Group => libc::setpgid(0, 0),
                Detach::No => 0,
            }
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

pub(crate) fn spawn_supervisor(
    mut cmd: Command,
    claim: &Claim,
    detach: Detach,
) -> std::io::Result<std::process::Child> {
    let fd = claim.raw_fd();
    cmd.arg("--claim-fd").arg(fd.to_string());
    // SAFETY: between fork and exec only async-signal-safe calls: fcntl(2)
    // to let the claim fd survive exec, setsid(2)/setpgid(2) to detach.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            detach.apply()
        });
    }
    cmd.spawn()
}

/// Whether this process runs a single thread (then `fork` without `exec`
/// is sound: no other thread can hold a lock the child would need).
fn single_threaded() -> bool {
    let one = || std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1);
    // A thread just joined (staging syncs files on a few) can be listed
    // for a moment after its join returns: look again before giving up.
    (0..3).any(|i| {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        one()
    })
}

/// End this process with `code` once Rust's buffered output is flushed,
/// without exit-time work: the allocator's would hand every freed page
/// back to the kernel, one `madvise` each (2 ms after listing 10,000
/// runs, for nothing).
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process. Rust's buffered output was
    // flushed above, and no C stdio or atexit work of ours is pending.
    unsafe { libc::_exit(code) }
}

/// Run `f` as the supervisor in a forked copy of this process (no exec,
/// so nothing is read or built twice), detached as `detach` says. The
/// child exits with `f`'s code, or `fail`'s for its error. None when this process has other threads
/// (the caller then starts a supervisor with [`spawn_supervisor`]).
pub(crate) fn fork_supervisor(
    detach: Detach,
    f: impl FnOnce() -> Result<i32>,
    fail: impl FnOnce(Error) -> i32,
) -> Result<Option<i32>> {
    if !single_threaded() {
        return Ok(None);
    }
    {
        // Nothing buffered may be written twice, by both processes.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
    }
    // SAFETY: this process has a single thread (checked just above), so
    // the child, a copy of it, may run ordinary code: no lock can be held
    // by a thread that does not exist in the child.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = match detach
                .apply()
                .map_err(|e| Error::user(format!("cannot detach the run's supervisor: {e}")))
                .and_then(|()| f())
            {
                Ok(c) => c,
                Err(e) => fail(e),
            };
            // The run's files were written and closed by `f`.
            exit_now(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Some(child.as_raw())),
        Err(e) => Err(Error::user(format!(
            "cannot start the run's supervisor: {e}"
        ))),
    }
}

/// Wait for the detached supervisor `child` of a foreground run, passing
/// Ctrl-C and SIGTERM on to it (it stops the run and records how it
/// ended). A hangup ends only this process: the run goes on. Returns the
/// supervisor's exit code, which is the run's.
pub(crate) fn attach(child: i32) -> Result<i32> {
    let signals = StopSignals::catch(&[libc::SIGINT, libc::SIGTERM], Forward::Process)?;
    signals.forward_to_process(child);
    use nix::sys::wait::{waitpid, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(child);
    let code = loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::user(format!(
                    "waiting for the run's supervisor: {e}"
                )));
            }
        }
    };
    drop(signals);
    Ok(code)
}
