//! `guild datastores`: named, versioned, immutable data stored by content
//! in the guild home.

use super::Ctx;
use crate::api::{self, datastores::Source};
use crate::render;
use clap::{Args, Subcommand};
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "A datastore is a named set of files, stored once by content (BLAKE3) under the guild home's `datastores/`. Each create of a changed tree makes a new version (1, 2, 3...); an unchanged tree is not read again. Stored files are read-only.\n\nExamples:\n  guild datastores create mnist ./data/mnist\n  guild datastores create results --from-run 1:out   (a run's output as data)\n  guild datastores                                    (the list)\n  guild datastores info mnist:2\n  guild datastores delete mnist:1 && guild datastores gc\n  guild datastores verify"
)]
pub(crate) struct DatastoresArgs {
    #[command(subcommand)]
    cmd: Option<DsCmd>,
    /// Print the list as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum DsCmd {
    /// List the datastores: versions, files, sizes, created, runs using each
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Store a directory or a file as the next version of NAME
    Create {
        /// The datastore's name (letters, digits, '.', '_', '-')
        name: String,
        /// A directory or a file
        #[arg(required_unless_present = "from_run", conflicts_with = "from_run")]
        source: Option<PathBuf>,
        /// Store a run's files (without its .guild) or PATH in the run
        #[arg(long, value_name = "RUN[:PATH]")]
        from_run: Option<String>,
        /// Print what was stored as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a version (default: the latest) and its files
    Info {
        /// NAME or NAME:VERSION
        #[arg(value_name = "NAME[:VERSION]")]
        spec: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete a version (or every version of NAME); its data stays until gc
    Delete {
        /// NAME or NAME:VERSION
        #[arg(value_name = "NAME[:VERSION]")]
        spec: String,
        /// Delete even when runs of the home use it
        #[arg(long)]
        force: bool,
        /// Do not ask for confirmation
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Remove stored data no version needs
    Gc {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Take in versions another guild copied here, and mount them in its runs
    #[command(hide = true)]
    Receive {
        /// NAME:VERSION@MANIFEST
        specs: Vec<String>,
        /// A run copied here whose datastores to mount
        #[arg(long, value_name = "RUN")]
        relink: Vec<String>,
    },
    /// Hash every stored object again and name any whose content changed
    Verify {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// `guild datastores ...`.
pub(crate) fn main(ctx: &Ctx, a: DatastoresArgs) -> Result<i32> {
    match a.cmd.unwrap_or(DsCmd::List { json: a.json }) {
        DsCmd::List { json } => {
            let list = api::datastores::list(ctx)?;
            if json {
                render::json(&serde_json::to_value(&list).unwrap_or_default());
            } else {
                render::out(&render::datastores_table(&list));
            }
        }
        DsCmd::Create {
            name,
            source,
            from_run,
            json,
        } => {
            let src = match (source, from_run) {
                (_, Some(r)) => Source::Run(r),
                (Some(p), None) => Source::Path(p),
                (None, None) => {
                    return Err(Error::user(
                        "give a SOURCE directory or file, or --from-run RUN[:PATH]",
                    ))
                }
            };
            let c = api::datastores::create(ctx, &name, &src)?;
            if json {
                render::json(&serde_json::to_value(&c).unwrap_or_default());
            } else {
                render::out(&render::datastore_created(&c));
            }
        }
        DsCmd::Info { spec, json } => {
            let info = api::datastores::info(ctx, &spec)?;
            if json {
                render::json(&serde_json::to_value(&info).unwrap_or_default());
            } else {
                render::out(&render::datastore_info(&info));
            }
        }
        DsCmd::Delete { spec, force, yes } => {
            let deleted = api::datastores::delete(ctx, &spec, force, yes)?;
            if !deleted.is_empty() {
                render::out(&render::datastores_deleted(&deleted));
            }
        }
        DsCmd::Gc { json } => {
            let gc = api::datastores::gc(ctx)?;
            if json {
                render::json(&serde_json::to_value(&gc).unwrap_or_default());
            } else {
                render::out(&render::datastores_gc(&gc));
            }
        }
        DsCmd::Receive { specs, relink } => {
            api::datastores::receive(ctx, &specs, &relink)?;
        }
        DsCmd::Verify { json } => {
            let v = api::datastores::verify(ctx)?;
            if json {
                render::json(&serde_json::to_value(&v).unwrap_or_default());
            } else {
                render::out(&render::datastore_verified(&v));
            }
            if !v.changed.is_empty() || !v.missing.is_empty() {
                return Ok(1);
            }
        }
    }
    Ok(0)
}
