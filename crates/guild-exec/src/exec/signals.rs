//! Stop signals (SIGINT, SIGTERM, SIGHUP) while this process supervises
//! or waits for a run. A [`StopSignals`] guard owns its handlers: they
//! record what arrived and pass it on to the child it is told about, and
//! are removed when the guard drops, so a long-lived process (a server
//! starting many runs) leaks no handler and keeps no stale child pid.
//! Several guards may be alive at once (a sweep and the trial it
//! supervises): each sees every signal.

use guild_format::error::{Error, Result};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// What a guard does with a signal besides recording it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forward {
    /// Only record it (the caller checks [`StopSignals::received`]).
    Nothing,
    /// To the process group set with [`StopSignals::forward_to`]: SIGINT as
    /// SIGINT, others as SIGTERM, and SIGKILL from the second signal on.
    Group,
    /// The same signal to the process set with [`StopSignals::forward_to`]
    /// (a supervisor, which escalates itself).
    Process,
}

#[derive(Debug, Default)]
struct State {
    first: AtomicI32,
    count: AtomicI32,
    target: AtomicI32,
}

impl State {
    /// The handler. Async-signal-safe: atomics and kill(2) only.
    fn on_signal(&self, sig: i32, forward: Forward) {
        let _ = self
            .first
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let target = self.target.load(Ordering::SeqCst);
        if target <= 1 {
            return;
        }
        let (pid, fwd) = match forward {
            Forward::Nothing => return,
            Forward::Process => (target, sig),
            Forward::Group if n >= 2 => (-target, libc::SIGKILL),
            Forward::Group if sig == libc::SIGINT => (-target, libc::SIGINT),
            Forward::Group => (-target, libc::SIGTERM),
        };
        // SAFETY: kill(2) is async-signal-safe; the target is a child (or
        // the group it leads) that the guard's owner started and set.
        unsafe {
            libc::kill(pid, fwd);
        }
    }
}

/// The stop signals of this process while the guard lives.
#[derive(Debug)]
pub(crate) struct StopSignals {
    state: Arc<State>,
    ids: Vec<signal_hook::SigId>,
}

impl StopSignals {
    /// Catch `signals`, doing `forward` with each.
    pub(crate) fn catch(signals: &[i32], forward: Forward) -> Result<StopSignals> {
        let state = Arc::new(State::default());
        let mut guard = StopSignals {
            state: state.clone(),
            ids: Vec::with_capacity(signals.len()),
        };
        for &sig in signals {
            let st = state.clone();
            // SAFETY: the action only touches atomics and calls kill(2)
            // (`State::on_signal`), both async-signal-safe.
            let id = unsafe {
                signal_hook::low_level::register(sig, move || st.on_signal(sig, forward))
            }
            .map_err(|e| Error::user(format!("cannot catch signal {sig}: {e}")))?;
            guard.ids.push(id);
        }
        Ok(guard)
    }

    /// SIGINT, SIGTERM and SIGHUP, passed on to the run's process group.
    pub(crate) fn for_supervisor() -> Result<StopSignals> {
        Self::catch(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP], Forward::Group)
    }

    /// Where signals go from now on (a pid or group leader; 0: nowhere).
    /// A signal that arrived before the child existed is passed on now.
    pub(crate) fn forward_to(&self, pid: i32) {
        self.state.target.store(pid, Ordering::SeqCst);
        let first = self.received();
        if pid > 1 && first != 0 {
            // SAFETY: signalling the child (group) the caller just started.
            unsafe {
                libc::kill(-pid, libc::SIGTERM);
            }
        }
    }

    /// Where [`Forward::Process`] signals go from now on; one that arrived
    /// before is passed on at once.
    pub(crate) fn forward_to_process(&self, pid: i32) {
        self.state.target.store(pid, Ordering::SeqCst);
        let first = self.received();
        if pid > 1 && first != 0 {
            // SAFETY: signalling the child the caller just started.
            unsafe {
                libc::kill(pid, first);
            }
        }
    }

    /// The first signal received, 0 if none.
    pub(crate) fn received(&self) -> i32 {
        self.state.first.load(Ordering::SeqCst)
    }

    /// A handle on what arrived, for a watchdog thread.
    pub(crate) fn watch(&self) -> Received {
        Received(self.state.clone())
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        self.state.target.store(0, Ordering::SeqCst);
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// What a [`StopSignals`] guard has received, readable from another thread.
#[derive(Debug, Clone)]
pub(crate) struct Received(Arc<State>);

impl Received {
    /// The first signal received, 0 if none.
    pub(crate) fn first(&self) -> i32 {
        self.0.first.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_record_signals_and_unregister_on_drop() {
        // SIGUSR2: nothing else in the test process uses it.
        let a = StopSignals::catch(&[libc::SIGUSR2], Forward::Nothing).unwrap();
        let b = StopSignals::catch(&[libc::SIGUSR2], Forward::Nothing).unwrap();
        signal_hook::low_level::raise(libc::SIGUSR2).unwrap();
        assert_eq!(a.received(), libc::SIGUSR2);
        assert_eq!(b.watch().first(), libc::SIGUSR2);
        drop(a);
        let c = StopSignals::catch(&[libc::SIGUSR2], Forward::Nothing).unwrap();
        assert_eq!(c.received(), 0, "a new guard starts clean");
        drop(b);
        drop(c);
    }
}
