//! Launching staged runs. The local target spawns and supervises the
//! operation in this process; background runs are the local target in a
//! detached `guild run --start` process; sweeps are run by [`sweep`].

pub mod local;
pub mod sweep;
