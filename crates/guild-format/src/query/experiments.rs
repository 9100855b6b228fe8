//! Sweeps and runs as experiments (`guild status`, `history`): a batch run
//! with its trials, or a standalone run, and its trials counted by state.

use super::RunInfo;
use crate::run::Status;
use serde_yaml_ng::Value;
use std::collections::{HashMap, HashSet};

/// A sweep (batch run) or a standalone run, with its trials by state.
pub struct Experiment<'a> {
    /// The batch run of the sweep, or the standalone run.
    pub run: &'a RunInfo,
    /// The sweep's trials among the runs (a standalone run: the run itself).
    pub trials: Vec<&'a RunInfo>,
    /// Planned trials not staged yet (of a sweep still going).
    pub(crate) queued: usize,
}

/// The batch runs in `trash` of sweeps whose trials are in `runs`: a
/// sweep that ended well leaves its batch run in the trash, and its
/// trials name it (`sweep` attr).
pub fn deleted_batches(runs: &[RunInfo], trash: &std::path::Path) -> Vec<RunInfo> {
    let present: HashSet<&str> = runs
        .iter()
        .filter(|r| r.batch)
        .map(|r| r.run.id.as_str())
        .collect();
    let mut wanted: Vec<String> = runs
        .iter()
        .filter(|r| !r.batch)
        .filter_map(|r| r.run.attr_str("sweep"))
        .filter(|id| !present.contains(id.as_str()) && !id.contains('/'))
        .collect();
    wanted.sort();
    wanted.dedup();
    wanted
        .into_iter()
        .map(|id| crate::run::Run::at(trash.join(id)))
        .filter(|run| run.is_batch())
        .map(RunInfo::load)
        .collect()
}

/// The experiments among `runs`, newest first.
pub fn of(runs: &[RunInfo]) -> Vec<Experiment<'_>> {
    let by_id: HashMap<&str, &RunInfo> = runs.iter().map(|r| (r.run.id.as_str(), r)).collect();
    let mut trial_ids: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for r in runs.iter().filter(|r| r.batch) {
        let linked = r.run.linked_ids();
        let planned = match r.run.attr("trials") {
            Some(Value::Sequence(t)) => t.len(),
            _ => linked.len(),
        };
        let trials: Vec<&RunInfo> = linked
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        trial_ids.extend(linked);
        let finished_batch = r.status.status != Status::Running && !interrupted(r);
        let queued = if finished_batch {
            0
        } else {
            planned.saturating_sub(trials.len())
        };
        out.push(Experiment {
            run: r,
            trials,
            queued,
        });
    }
    for r in runs {
        if !r.batch && !trial_ids.contains(&r.run.id) {
            out.push(Experiment {
                run: r,
                trials: vec![r],
                queued: 0,
            });
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.run.timestamp()));
    out
}

/// A sweep whose batch process was killed (SIGKILL, or it died without
/// recording its end: its supervisor was killed, the machine was lost):
/// `guild run --restart BATCH` resumes it.
fn interrupted(r: &RunInfo) -> bool {
    r.batch
        && matches!(r.status.status, Status::Error | Status::Terminated)
        && matches!(r.exit_status, None | Some(-9))
}

impl Experiment<'_> {
    /// Whether it is a sweep whose batch process was killed (see
    /// `guild run --restart`).
    pub fn interrupted(&self) -> bool {
        interrupted(self.run)
    }

    /// The status shown for the experiment.
    pub fn status(&self) -> String {
        if self.interrupted() {
            "interrupted".to_string()
        } else {
            self.run.status.display()
        }
    }

    /// Trials by state: queued, running, completed, failed, stopped.
    pub fn counts(&self) -> [usize; 5] {
        let mut c = [self.queued, 0, 0, 0, 0];
        for t in &self.trials {
            match t.status.status {
                Status::Staged | Status::Pending => c[0] += 1,
                Status::Running => c[1] += 1,
                Status::Completed => c[2] += 1,
                Status::Error => c[3] += 1,
                Status::Terminated => c[4] += 1,
            }
        }
        c
    }

    /// Still going: the run itself or one of its trials.
    pub fn active(&self) -> bool {
        self.interrupted()
            || matches!(
                self.run.status.status,
                Status::Running | Status::Pending | Status::Staged
            )
            || self
                .trials
                .iter()
                .any(|t| matches!(t.status.status, Status::Running | Status::Pending))
    }
}
