//! The library's front door: one function per command, typed requests in,
//! `Serialize` results out. The CLI and a server call the same functions;
//! progress, warnings and questions go through the [`Reporter`] the
//! caller gives in its [`Context`]. Nothing here writes to stdout or
//! stderr, formats for a terminal, or reads the process's cwd.

pub mod archive;
pub mod check;
pub mod comments;
pub mod completion;
pub mod datastores;
pub mod diff;
pub mod merge;
pub mod programs;
pub mod project;
pub mod publish;
pub mod remotes;

pub mod run;
pub mod runs;
pub mod shapes;
pub mod table;
pub mod tensorboard;
pub mod views;

pub use guild_format::report::{Collect, Question, Reporter};

// The data types requests and results are made of.
pub use guild_format::error::{Error, Result};
pub use guild_format::home::Home;
pub use guild_format::query::{Filters, Indexed, RunInfo};
pub use guild_format::run::Status;
pub use guild_project::plan::edit::{LabelEdit, TagEdit};

use guild_format::query;
use std::path::PathBuf;
use std::sync::Arc;

/// What every call works in: the guild home, the directory the command
/// runs in (after `-C`; relative paths and "is this op here" are from
/// it), and who hears about progress.
#[derive(Clone)]
pub struct Context {
    pub home: Home,
    pub cwd: PathBuf,
    pub report: Arc<dyn Reporter>,
}

impl Context {
    pub fn new(home: Home, cwd: PathBuf, report: Arc<dyn Reporter>) -> Context {
        // Statuses of runs placed in Slurm jobs ask squeue.
        guild_exec::launch::install_scheduler();
        Context { home, cwd, report }
    }

    /// Who starts and stops runs, for the launch layer.
    pub fn caller(&self) -> guild_exec::launch::Caller<'_> {
        guild_exec::launch::Caller {
            home: &self.home,
            cwd: &self.cwd,
            report: self.report.clone(),
        }
    }

    /// The runs directory of the home (or its trash) and its index.
    fn runs_dir_and_index(&self, deleted: bool) -> (PathBuf, PathBuf) {
        let dir = if deleted {
            self.home.trash_dir()
        } else {
            self.home.runs_dir()
        };
        let index = self
            .home
            .cache_dir("runs-index")
            .join(if deleted { "trash" } else { "runs" });
        (dir, index)
    }

    /// The events-files index of the home's runs (or its trash's): see
    /// `query::events`.
    pub fn events_index(&self, deleted: bool) -> PathBuf {
        self.home
            .cache_dir("runs-index")
            .join(if deleted { "events-trash" } else { "events" })
    }

    /// The runs of the home (or its trash) that pass `filters`, newest first.
    pub fn runs(&self, filters: &Filters, deleted: bool) -> Result<Vec<RunInfo>> {
        filters.apply(self.all_runs(deleted).into_vec())
    }

    /// [`Context::runs`] as a [`query::Listing`]: without filters, a run
    /// taken from the index is built only when asked for.
    pub fn listing(&self, filters: &Filters, deleted: bool) -> Result<query::Listing> {
        if filters.is_empty() {
            Ok(self.all_runs(deleted))
        } else {
            self.runs(filters, deleted).map(query::Listing::of)
        }
    }

    /// Every run of the home (or its trash), through the runs index, with
    /// warnings about what is not listed reported.
    fn all_runs(&self, deleted: bool) -> query::Listing {
        let (dir, index) = self.runs_dir_and_index(deleted);
        let (listing, warnings) = query::list_dir_indexed(&dir, &index);
        for w in warnings {
            self.report.warning(&w);
        }
        listing
    }
}

/// Which runs a command acts on: run specs (index, range, id prefix,
/// name; none means the command's default), filters, and whether from the
/// trash.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub runs: Vec<String>,
    pub filters: Filters,
    pub deleted: bool,
}

fn indexed(sel: &[RunInfo], all: &[RunInfo]) -> Vec<Indexed> {
    query::with_index(sel.iter(), all)
        .into_iter()
        .map(|(index, r)| Indexed {
            index,
            run: r.clone(),
        })
        .collect()
}
