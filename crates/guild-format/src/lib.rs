//! The run directory contract: what a run is on disk, in Guild AI 0.9's
//! format, and everything read from it. The lowest layer of guild; it
//! depends on no other crate of the workspace and starts no process but the
//! Python interpreter it asks for facts (`platform`).
//!
//! - [`run`]: the run handle, its attrs, opref, status, placement, manifest,
//!   names, trash, archives, comments, file listings, process identity;
//! - [`output`]: the run's output, output index, scalars and event files;
//! - [`query`]: run listings, selection, filters and their indexes;
//! - [`home`], [`fsutil`], [`platform`], [`redact`], [`text`]: the guild
//!   home, atomic files, the machine, secrets kept out of records, text
//!   made safe for terminals;
//! - [`error`] and [`report`]: how every layer fails and speaks.

#![warn(missing_docs)]

pub mod datastore;
pub mod error;
pub mod fsutil;
pub mod home;
pub mod output;
pub mod platform;
pub mod query;
pub mod redact;
pub mod report;
pub mod run;
pub mod text;
