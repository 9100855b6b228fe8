//! What guild runs: the project model (guild.yml and the operations of
//! scripts), flags and their detection in Python, source snapshot rules,
//! dependencies and the resource cache, and the plans that turn an
//! operation and flag values into staged runs and sweeps. It reads and
//! writes run directories through `guild-format` and starts no run.
//!
//! - [`guildfile`]: guild.yml, its models, operations and includes;
//! - [`op`]: operations, flags, detection, config files, source rules,
//!   dependencies, commands, optimizers, pipeline steps;
//! - [`plan`]: staging runs and expanding sweeps.

#![warn(missing_docs)]

pub mod guildfile;
pub mod op;
pub mod plan;
