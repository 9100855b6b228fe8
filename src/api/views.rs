//! Views over many runs: sweeps by state (`status`, `history`), a run's
//! output lines (`logs`), and `compare`.

use super::{Context, Selection};
use crate::error::{Error, Result};
use crate::query::compare::{self, Row};
use crate::query::experiments::Experiment;
use crate::query::{self, RunInfo};
use crate::run::Status;
use std::time::{Duration, Instant};

/// Runs with the batch runs of their finished sweeps (in the trash).
fn runs_and_sweeps(ctx: &Context) -> Vec<RunInfo> {
    let mut runs = query::list_dir(&ctx.home.runs_dir());
    let batches = query::experiments::deleted_batches(&runs, &ctx.home.trash_dir());
    runs.extend(batches);
    runs
}

/// Sweeps and standalone runs: the runs they are made of, and which of
/// them a view shows ([`Experiments::list`]).
pub struct Experiments {
    runs: Vec<RunInfo>,
    active: bool,
    limit: usize,
}

impl Experiments {
    /// The experiments, newest first, each with its trials by state.
    pub fn list(&self) -> Vec<Experiment<'_>> {
        query::experiments::of(&self.runs)
            .into_iter()
            .filter(|e| e.active() == self.active)
            .take(self.limit)
            .collect()
    }
}

/// What the runs of each experiment cost so far on remotes that declare
/// an `hourly-cost` (Slurm): run hours times the remote's cost per
/// job-hour. None for an experiment with nothing on such a remote.
pub fn costs(ctx: &Context, exps: &[Experiment]) -> Vec<Option<f64>> {
    let rates: std::collections::HashMap<String, f64> = super::remotes::list(ctx)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| match r.kind {
            crate::remote::Kind::Slurm(c) => c.hourly_cost.map(|h| (r.name, h)),
            _ => None,
        })
        .collect();
    if rates.is_empty() {
        return vec![None; exps.len()];
    }
    let now = crate::run::now_us();
    exps.iter()
        .map(|e| {
            let mut total = None;
            for t in &e.trials {
                let Ok(crate::launch::Placement::Remote { remote, .. }) =
                    crate::launch::Placement::of(&t.run)
                else {
                    continue;
                };
                let Some(rate) = rates.get(&remote) else {
                    continue;
                };
                let hours = match (t.started, t.stopped()) {
                    (Some(a), Some(b)) => (b - a).max(0) as f64 / 3.6e9,
                    (Some(a), None) if t.status.status == Status::Running => {
                        (now - a).max(0) as f64 / 3.6e9
                    }
                    _ => 0.0,
                };
                *total.get_or_insert(0.0) += hours * rate;
            }
            total
        })
        .collect()
}

/// `status`: sweeps and runs still going, each sweep with its trials by
/// state.
pub fn status(ctx: &Context) -> Experiments {
    Experiments {
        runs: runs_and_sweeps(ctx),
        active: true,
        limit: usize::MAX,
    }
}

/// `history`: finished sweeps and runs, newest first, at most `limit`.
pub fn history(ctx: &Context, limit: usize) -> Experiments {
    Experiments {
        runs: runs_and_sweeps(ctx),
        active: false,
        limit,
    }
}

/// One line of a run's output: milliseconds since the run started, the
/// stream (0 stdout, 1 stderr), the text.
pub type LogLine = (u64, u8, String);

/// `logs`: the output lines of a run (`spec`, default the latest), to
/// `sink` as they are read; with `follow`, until the run stops. `sink`
/// returns false to stop early (a closed pipe).
pub fn logs(
    ctx: &Context,
    spec: Option<&str>,
    follow: bool,
    sink: &mut dyn FnMut(&[LogLine]) -> bool,
) -> Result<()> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let specs: Vec<String> = spec.map(String::from).into_iter().collect();
    let r = query::select(&runs, &specs, false)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::user("there are no runs yet; start one with `guild run`"))?;
    let gdir = r.run.guild_dir();
    let t0 = Instant::now();
    // A run just started may not show running yet: until it has an exit
    // status, it is followed for a few seconds before giving up.
    let going = || {
        let status = r.run.status().status;
        follow
            && (matches!(status, Status::Running | Status::Pending | Status::Staged)
                || (r.run.attr("exit_status").is_none() && t0.elapsed() < Duration::from_secs(5)))
    };
    let mut lines = loop {
        match crate::output::IndexedLines::open(&gdir) {
            Ok(l) => break l,
            Err(_) if going() => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return Ok(()), // no output
        }
    };
    loop {
        let running = going();
        // While running, the last line may be partial: complete lines only.
        let mut batch = Vec::new();
        while let Some(l) = lines.next_line(running) {
            batch.push(l);
            if batch.len() >= 4096 {
                if !sink(&batch) {
                    return Ok(());
                }
                batch.clear();
            }
        }
        if !batch.is_empty() && !sink(&batch) {
            return Ok(());
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `compare`: which runs, which columns, in what order.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    pub select: Selection,
    pub include_batch: bool,
    /// Column specs (`lr`, `=lr`, `max acc as best`...).
    pub columns: Vec<String>,
    /// Only the given columns (Guild's `--strict-cols`).
    pub strict: bool,
    pub skip_core: bool,
    pub extra_cols: bool,
    pub skip_op_cols: bool,
    pub all_scalars: bool,
    /// Sort by this column, descending when true.
    pub sort: Option<(String, bool)>,
    pub limit: Option<usize>,
    pub skip_unchanged: bool,
}

/// A run's scalars: each key's summary (last, min, max... with steps).
pub fn scalars(
    run: &RunInfo,
) -> std::collections::BTreeMap<String, crate::output::scalars::Summary> {
    crate::output::scalars::run_scalars(&run.run.dir)
}

/// The compare table: its header and one row per run.
#[derive(Debug)]
pub struct Compared {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// The runs a compare request selects (batch runs only if asked).
pub fn compared_runs(ctx: &Context, req: &CompareRequest) -> Result<Vec<RunInfo>> {
    let all = ctx.runs(&req.select.filters, req.select.deleted)?;
    let mut runs = query::select(&all, &req.select.runs, true)?;
    if !req.include_batch {
        runs.retain(|r| !r.batch);
    }
    Ok(runs)
}

pub fn compare(ctx: &Context, req: &CompareRequest) -> Result<Compared> {
    let runs = compared_runs(ctx, req)?;
    let user: Vec<compare::Col> = req
        .columns
        .iter()
        .map(|c| compare::parse_cols(c))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let layout = compare::Layout {
        skip_core: req.skip_core || req.strict,
        extra_cols: req.extra_cols,
        skip_op_cols: req.skip_op_cols || req.strict,
        all_scalars: req.all_scalars,
        user,
    };
    let (mut header, mut rows) = compare::table(&runs, &layout);
    if let Some((col, desc)) = &req.sort {
        compare::sort_rows(&mut rows, col, *desc);
    }
    if let Some(k) = req.limit {
        rows.truncate(k);
    }
    if req.skip_unchanged && rows.len() > 1 {
        compare::drop_unchanged(&mut header, &mut rows);
    }
    Ok(Compared { header, rows })
}

/// Write a file the user asked for (`compare --csv PATH`), atomically.
pub fn write_text(path: &std::path::Path, text: &str) -> Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes())
}
