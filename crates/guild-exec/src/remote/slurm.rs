//! Slurm: the batch script of a submission (one job, or one job array for
//! a sweep), and what the scheduler says of a job, for the status of a run
//! that the run directory alone cannot tell (queued, cancelled before it
//! started, killed at its time limit, lost with its node).

use super::Slurm;
use guild_format::run::opref::quote;
use guild_format::run::Status;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The batch script that starts `ids` (one run, or a job array whose task
/// N starts `ids[N]`) with `bin` in the guild home `home` (absolute paths
/// on the cluster's shared filesystem). Run ids are the only per-run
/// values in it: flag values stay in the run directories.
pub(crate) fn job_script(
    c: &Slurm,
    setup: &[String],
    home: &str,
    bin: &str,
    ids: &[String],
    job_name: &str,
) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let mut d = |line: String| {
        s.push_str("#SBATCH ");
        s.push_str(&line);
        s.push('\n');
    };
    d(format!("--job-name={}", quote(job_name)));
    d(format!(
        "--output={}",
        quote(&format!("{home}/slurm/%A_%a.out"))
    ));
    if ids.len() > 1 {
        let par = c
            .array_parallelism
            .map(|p| format!("%{p}"))
            .unwrap_or_default();
        d(format!("--array=0-{}{par}", ids.len() - 1));
    }
    for (k, v) in [
        ("partition", &c.partition),
        ("account", &c.account),
        ("qos", &c.qos),
        ("time", &c.time),
        ("mem", &c.mem),
        ("gres", &c.gres),
    ] {
        if let Some(v) = v {
            d(format!("--{k}={}", quote(v)));
        }
    }
    if let Some(n) = c.cpus_per_task {
        d(format!("--cpus-per-task={n}"));
    }
    for line in &c.sbatch {
        d(line.trim_start_matches("#SBATCH").trim().to_string());
    }
    s.push_str("set -- ");
    s.push_str(&ids.join(" "));
    s.push_str("\nshift \"${SLURM_ARRAY_TASK_ID:-0}\"\n");
    for l in setup {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!(
        "export GUILD_HOME={}\nexec {} run --start \"$1\" -y\n",
        quote(home),
        quote(bin)
    ));
    s
}

/// What was asked of the scheduler, for the submission summary.
pub(crate) fn resources(c: &Slurm) -> String {
    let mut r = Vec::new();
    if let Some(p) = &c.partition {
        r.push(format!("partition {p}"));
    }
    if let Some(n) = c.cpus_per_task {
        r.push(format!("{n} CPU{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(m) = &c.mem {
        r.push(format!("{m} memory"));
    }
    if let Some(g) = &c.gres {
        r.push(g.clone());
    }
    if let Some(t) = &c.time {
        r.push(format!("time limit {t}"));
    }
    if let Some(a) = &c.account {
        r.push(format!("account {a}"));
    }
    if let Some(q) = &c.qos {
        r.push(format!("qos {q}"));
    }
    if r.is_empty() {
        "the cluster's defaults".into()
    } else {
        r.join(", ")
    }
}

/// A run's status from the scheduler's state of its job, for a run whose
/// directory cannot say (it never started, or its process was killed).
pub(crate) fn status_of_state(state: &str) -> Option<Status> {
    Some(match state {
        "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED" | "RESV_DEL_HOLD" => {
            Status::Pending
        }
        "RUNNING" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT" | "SIGNALING" | "RESIZING" => {
            Status::Running
        }
        "CANCELLED" | "TIMEOUT" | "PREEMPTED" | "DEADLINE" => Status::Terminated,
        "FAILED" | "NODE_FAIL" | "BOOT_FAIL" | "OUT_OF_MEMORY" | "COMPLETED" | "SPECIAL_EXIT"
        | "REVOKED" => Status::Error,
        _ => return None,
    })
}

/// The scheduler's state and reason for `job` (`123`, or `123_4` for an
/// array task), None when squeue is not here or no longer knows it. One
/// `squeue` answers every run that asks within a second (a listing of
/// many runs costs one call; a long-lived process still sees changes).
pub(crate) fn job_state(job: &str) -> Option<(String, String)> {
    type Snapshot = (Instant, HashMap<String, (String, String)>);
    static SNAPSHOT: Mutex<Option<Snapshot>> = Mutex::new(None);
    let mut guard = SNAPSHOT.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = guard
        .as_ref()
        .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(1));
    if !fresh {
        *guard = Some((Instant::now(), snapshot()));
    }
    guard.as_ref().and_then(|(_, m)| m.get(job).cloned())
}

fn snapshot() -> HashMap<String, (String, String)> {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%i|%T|%r"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => parse_squeue(&String::from_utf8_lossy(&o.stdout)),
        _ => HashMap::new(),
    }
}

fn parse_squeue(text: &str) -> HashMap<String, (String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, '|');
            let id = f.next()?.to_string();
            let state = f.next()?.to_string();
            let reason = f.next().unwrap_or("").to_string();
            Some((id, (state, reason)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_script_has_one_task_per_run_and_no_flag_values() {
        let c = Slurm {
            partition: Some("debug".into()),
            time: Some("00:10:00".into()),
            cpus_per_task: Some(2),
            array_parallelism: Some(2),
            sbatch: vec!["#SBATCH --exclusive".into()],
            ..Slurm::default()
        };
        let ids: Vec<String> = (0..8).map(|i| format!("id{i}")).collect();
        let s = job_script(&c, &[], "/h", "/h/bin/guild-x", &ids, "train+");
        assert!(s.contains("#SBATCH --array=0-7%2\n"), "{s}");
        assert!(s.contains("#SBATCH --partition=debug\n"));
        assert!(s.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(s.contains("#SBATCH --exclusive\n"));
        assert!(s.contains("set -- id0 id1 id2 id3 id4 id5 id6 id7\n"));
        assert!(s.ends_with("exec /h/bin/guild-x run --start \"$1\" -y\n"));
        let one = job_script(&c, &[], "/h", "/b", &ids[..1], "t");
        assert!(!one.contains("--array"));
    }

    #[test]
    fn scheduler_states_map_to_run_status() {
        assert_eq!(status_of_state("PENDING"), Some(Status::Pending));
        assert_eq!(status_of_state("RUNNING"), Some(Status::Running));
        assert_eq!(status_of_state("TIMEOUT"), Some(Status::Terminated));
        assert_eq!(status_of_state("CANCELLED"), Some(Status::Terminated));
        assert_eq!(status_of_state("NODE_FAIL"), Some(Status::Error));
        assert_eq!(status_of_state("WHATEVER"), None);
        let m = parse_squeue("8_3|RUNNING|None\n12|PENDING|Priority\n");
        assert_eq!(m["8_3"].0, "RUNNING");
        assert_eq!(m["12"].1, "Priority");
    }
}
