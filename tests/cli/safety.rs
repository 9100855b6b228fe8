//! Regression tests for the tracker's safety guarantees: what `stop` will
//! signal, what survives a crash, hostile input.

use super::*;

/// A run that looks started (no STAGED/PENDING, no exit_status): its LOCK
/// is written by the test.
fn unfinished_run(e: &Env) -> (PathBuf, String) {
    e.ok(&["run", "train.py", "--stage", "-y"]);
    let run = e.run_dirs()[0].clone();
    std::fs::remove_file(run.join(".guild/STAGED")).unwrap();
    let _ = std::fs::remove_file(run.join(".guild/PENDING"));
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    (run, id)
}

fn alive(pid: u32) -> bool {
    !pid_gone(pid as i32)
}

#[test]
fn stop_never_signals_a_process_that_is_not_the_runs() {
    let e = Env::new();
    let (run, id) = unfinished_run(&e);
    // An unrelated live process (a stale LOCK after a reboot, pid reuse).
    let mut other = Command::new("sleep").arg("300").spawn().unwrap();
    std::fs::write(run.join(".guild/LOCK"), other.id().to_string()).unwrap();
    assert_eq!(
        e.status_of(&id),
        "error",
        "a foreign pid is not a running run"
    );
    let o = e.run(&["stop", &id[..8], "--timeout", "1"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "looks running but its pid {} belongs to another process; not stopping it",
            other.id()
        )),
        "{err}"
    );
    assert!(alive(other.id()), "the unrelated process was signalled");
    // Deleting the run does not signal it either.
    e.ok(&["runs", "delete", &id[..8], "-y"]);
    assert!(alive(other.id()));
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn stop_of_a_copied_run_dir_leaves_the_original_process_alone() {
    let e = Env::new();
    e.ok(&["run", "train.py", "sleep=120", "-y", "-b"]);
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    wait_until("running", Duration::from_secs(20), || {
        e.status_of(&id) == "running"
    });
    let pid: u32 = std::fs::read_to_string(run.join(".guild/LOCK"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // A copy carries LOCK and LOCK.proc, whose pid and start time are those
    // of the original's live process.
    let copy_id = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
    let copy = e.home.join("runs").join(copy_id);
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&run)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    assert_eq!(e.status_of(copy_id), "error");
    let o = e.run(&["stop", "c0c0c0c0", "--timeout", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("belongs to another process"), "{err}");
    assert!(alive(pid));
    assert_eq!(e.status_of(&id), "running");
    e.ok(&["stop", &id[..8], "--timeout", "10"]);
    wait_until("original stopped", Duration::from_secs(20), || {
        e.status_of(&id) == "terminated"
    });
    assert!(!alive(pid));
}

#[test]
fn lock_naming_pid_1_is_not_running_and_is_never_signalled() {
    let e = Env::new();
    let (run, id) = unfinished_run(&e);
    std::fs::write(run.join(".guild/LOCK"), "1").unwrap();
    // In a PID namespace pid 1 is a shell of ours; kill(-1) there would end
    // every other process in it, such as the `sleep` below.
    let script = format!(
        "sleep 300 & S=$!; \
         '{bin}' -H '{home}' runs --json > '{tmp}/runs.json'; \
         '{bin}' -H '{home}' stop {short} --timeout 1 2> '{tmp}/stop.err'; \
         sleep 0.2; kill -0 $S && echo SURVIVED; kill $S",
        bin = BIN,
        home = e.home.display(),
        tmp = e.proj.display(),
        short = &id[..8],
    );
    let o = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "bash", "-c", &script])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "unshare: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("SURVIVED"),
        "stop signalled processes it does not own: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let runs = std::fs::read_to_string(e.proj.join("runs.json")).unwrap();
    let runs: Vec<serde_json::Value> = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs[0]["status"], "error");
    let err = std::fs::read_to_string(e.proj.join("stop.err")).unwrap();
    assert!(
        err.contains("its pid 1 belongs to another process"),
        "{err}"
    );
}

#[test]
fn pipelines_that_run_themselves_are_refused_before_any_run() {
    let e = Env::new();
    for (yml, cycle) in [
        ("t:\n  steps: [t]\n", "t -> t"),
        (
            "a:\n  steps: [b]\nb:\n  steps:\n    - run: c\nc:\n  steps: [a]\n",
            "a -> b -> c -> a",
        ),
    ] {
        std::fs::write(e.proj.join("guild.yml"), yml).unwrap();
        let first = cycle.split(' ').next().unwrap();
        let o = e.run(&["run", first, "-y"]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("pipeline cycle {cycle}")), "{err}");
        assert!(e.run_dirs().is_empty(), "a run was created");
    }
    // A cycle the guild.yml cannot show still ends at the depth cap.
    std::fs::write(
        e.proj.join("guild.yml"),
        "p:\n  steps: [s]\ns:\n  exec: 'true'\n",
    )
    .unwrap();
    let o = e
        .cmd(&["run", "p", "-y"])
        .env("GUILD_PIPELINE_DEPTH", "8")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("pipelines nested more than 8 levels"), "{out}");
    assert_eq!(e.run_dirs().len(), 1, "only the pipeline run itself");
}

#[test]
fn huge_or_deeply_nested_guild_yml_is_refused() {
    let e = Env::new();
    let deep = format!(
        "t:\n  exec: x\n  flags: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(e.proj.join("guild.yml"), deep).unwrap();
    let o = e.run(&["run", "t", "-y"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 3: collections nested more than 64 levels"),
        "{err}"
    );
    let mut big = String::from("t:\n  exec: x\n  description: |\n");
    while big.len() < 8 << 20 {
        big.push_str("    lorem ipsum dolor sit amet consectetur adipiscing elit\n");
    }
    std::fs::write(e.proj.join("guild.yml"), big).unwrap();
    let o = e.run(&["operations"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("larger than 1024 KiB"), "{err}");
    assert!(e.run_dirs().is_empty());
}
