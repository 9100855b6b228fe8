//! Targets start staged runs. The local target spawns and supervises the
//! operation in this process; background runs are the local target in a
//! detached `guild run --start` process.

pub mod local;
