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
    // (The start's attrs may still be being written: copy until a copy
    // sees no file vanish.)
    wait_until("a clean copy", Duration::from_secs(10), || {
        let _ = std::fs::remove_dir_all(&copy);
        Command::new("cp")
            .arg("-a")
            .arg(&run)
            .arg(&copy)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    });
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

/// A script that prints, then waits for `go` in its run dir, then prints
/// ten more lines.
const WAITER: &str = "import os, sys, time\n\
print('before', flush=True)\n\
while not os.path.exists('go'):\n    time.sleep(0.05)\n\
for i in range(10):\n    print('after %d' % i, flush=True)\n";

#[test]
fn killing_the_foreground_tracker_leaves_the_run_going_and_recorded() {
    for sig in ["KILL", "HUP"] {
        foreground_tracker_lost(sig);
    }
}

/// The foreground `guild run` gets SIG`sig` (kill -9, or the hangup of a
/// closed terminal or dropped SSH session) while its run waits.
fn foreground_tracker_lost(sig: &str) {
    let e = Env::new();
    std::fs::write(e.proj.join("waiter.py"), WAITER).unwrap();
    let mut child = e
        .cmd(&["run", "waiter.py", "-y"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("run dir", Duration::from_secs(20), || {
        e.run_dirs().first().is_some_and(|r| {
            std::fs::read_to_string(r.join(".guild/output")).is_ok_and(|o| o.contains("before"))
        })
    });
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    drop(child.stdout.take()); // and its terminal goes away
    assert_eq!(e.status_of(&id), "running");
    // `guild watch` reattaches and follows the rest to the end.
    let watch = e
        .cmd(&["watch", &id[..8]])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(run.join("go"), "").unwrap();
    let out = watch.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("after 9"), "watch showed: {shown}");
    wait_until("completed", Duration::from_secs(20), || {
        e.status_of(&id) == "completed"
    });
    let output = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    let want: String = std::iter::once("before\n".to_string())
        .chain((0..10).map(|i| format!("after {i}\n")))
        .collect();
    assert_eq!(output, want);
    // Every line has its index entry.
    let index = std::fs::read(run.join(".guild/output.index")).unwrap();
    assert_eq!(index.len(), 11 * 9);
    assert_eq!(attr(&run, "exit_status").unwrap(), "0\n");
}

#[test]
fn foreground_run_keeps_the_terminal_for_breakpoint() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("dbg.py"),
        "x = 6\nbreakpoint()\nprint('after', x)\n",
    )
    .unwrap();
    // `script` gives the run a real terminal; pdb reads its commands there.
    let cmd = format!("'{BIN}' run dbg.py -y");
    let mut child = Command::new("timeout")
        .args(["60", "script", "-qec", &cmd, "/dev/null"])
        .current_dir(&e.proj)
        .env("GUILD_HOME", &e.home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"p x*7\nc\n").unwrap();
    // Keep stdin open until the run has ended.
    wait_until("run to end", Duration::from_secs(50), || {
        e.run_dirs()
            .first()
            .is_some_and(|r| r.join(".guild/attrs/exit_status").exists())
    });
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("(Pdb) 42"), "{shown}");
    assert!(shown.contains("after 6"), "{shown}");
    assert_eq!(attr(&e.run_dirs()[0], "exit_status").unwrap(), "0\n");
}

#[test]
fn two_starts_of_one_run_run_it_once() {
    let e = Env::new();
    std::fs::write(e.proj.join("waiter.py"), WAITER).unwrap();
    e.ok(&["run", "waiter.py", "--stage", "-y"]);
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    let first = e.cmd(&["run", "--start", &id, "-y", "-q"]).spawn().unwrap();
    wait_until("first start", Duration::from_secs(20), || {
        std::fs::read_to_string(run.join(".guild/output")).is_ok_and(|o| o.contains("before"))
    });
    let flags_before = attr(&run, "flags");
    let o = e.run(&["run", "--start", &id, "-y", "-q", "x=1", "--force-flags"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("run {} is already being started", &id[..8])),
        "{err}"
    );
    assert_eq!(
        attr(&run, "flags"),
        flags_before,
        "the loser changed the flags"
    );
    std::fs::write(run.join("go"), "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success());
    let output = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    assert_eq!(output.matches("before").count(), 1, "{output}");
    assert_eq!(output.matches("after 9").count(), 1, "{output}");
}

#[test]
fn odd_entries_in_runs_never_panic_or_hide_valid_runs() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    e.ok(&["run", "train.py", "lr=0.2", "-y", "-q"]);
    let runs = e.home.join("runs");
    let dirs = e.run_dirs();
    let id0 = dirs[0].file_name().unwrap().to_str().unwrap().to_string();
    // A run dir named with multibyte characters, a foreign dir, a stray
    // file, a link to a run, a run with a garbage opref.
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&dirs[0])
        .arg(runs.join("日本語テスト"))
        .status()
        .unwrap()
        .success());
    std::fs::create_dir(runs.join("junk")).unwrap();
    std::fs::write(runs.join("stray"), "x").unwrap();
    std::os::unix::fs::symlink(&id0, runs.join("alias")).unwrap();
    std::fs::write(dirs[1].join(".guild/opref"), "\u{0}garbage").unwrap();
    // A label with terminal escape sequences.
    e.ok(&["label", &id0[..8], "--set", "evil\x1b[2J\x1b]0;t\x07", "-y"]);
    for args in [
        &["runs"][..],
        &["runs", "--json"],
        &["history"],
        &["runs", "-d"],
        &["compare", "--csv", "-"],
        &["runs", "info", &id0[..8]],
        &["compare"],
    ] {
        let o = e.run(args);
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "guild {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // JSON and CSV into a pipe are data; the rest is for a terminal.
        if !args.contains(&"--json") && !args.contains(&"--csv") {
            assert!(
                !out.contains('\x1b'),
                "guild {args:?} printed an escape: {out:?}"
            );
        }
        if args == ["runs"] {
            assert_eq!(
                err.matches("WARNING: skipped 2 entries").count(),
                1,
                "{err}"
            );
            assert!(err.contains("junk, stray"), "{err}");
            assert!(err.contains("unreadable .guild/opref"), "{err}");
            assert_eq!(out.lines().count(), 3, "each run once: {out}");
            assert!(out.contains("evil\\x1b[2J\\x1b]0;t\\x07"), "{out}");
        }
    }
    // CSV into a pipe is data: every run, multibyte id included.
    let csv = e.ok(&["compare", "--csv", "-"]);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("日本語テ"), "{csv}");
}

#[test]
fn a_run_killed_while_staging_leaves_nothing_visible_and_is_cleaned_up() {
    let e = Env::new();
    // A `python3` that never answers holds the staging at the platform
    // probe, after the run dir was started.
    let bin = e.proj.join("slowbin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("python3"), "#!/bin/sh\nsleep 60\n").unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(bin.join("python3"))
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = e
        .cmd(&["run", "train.py", "-y"])
        .env("PATH", &path)
        .spawn()
        .unwrap();
    let markers = e.home.join("staging");
    wait_until("staging", Duration::from_secs(20), || {
        std::fs::read_dir(&markers).is_ok_and(|mut d| d.next().is_some())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = Command::new("pkill")
        .args(["-f", "slowbin/python3"])
        .status();
    // Nothing shows: not in our listing, not a run for Guild (no opref in
    // any entry of runs/ that is not hidden).
    assert_eq!(e.runs_json().len(), 0);
    let o = e.run(&["runs"]);
    assert!(String::from_utf8_lossy(&o.stderr).is_empty());
    let visible: Vec<_> = e
        .run_dirs()
        .into_iter()
        .filter(|d| !d.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(visible.is_empty(), "{visible:?}");
    // The next run removes the leftover.
    e.ok(&["run", "train.py", "-y", "-q"]);
    assert_eq!(e.run_dirs().len(), 1, "{:?}", e.run_dirs());
    assert_eq!(std::fs::read_dir(&markers).unwrap().count(), 0);
    assert_eq!(e.runs_json()[0]["status"], "completed");
}

#[test]
fn overlapping_deletes_restores_and_purges_are_idempotent() {
    let e = Env::new();
    for i in 0..5 {
        e.ok(&["run", "train.py", &format!("lr={i}"), "-y", "-q"]);
    }
    let ids: Vec<String> = e
        .run_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let trash = e.home.join("trash/runs");
    let names_match_ids = |dir: &Path| {
        for d in std::fs::read_dir(dir).unwrap().flatten() {
            let name = d.file_name().to_str().unwrap().to_string();
            let id = std::fs::read_to_string(d.path().join(".guild/attrs/id")).unwrap();
            assert_eq!(name, id.trim(), "a run dir renamed away from its id");
        }
    };
    for cmd in [
        &["runs", "delete"][..],
        &["runs", "restore"],
        &["runs", "delete"],
        &["runs", "purge"],
    ] {
        let children: Vec<_> = (0..6)
            .map(|_| {
                let mut args = cmd.to_vec();
                args.push("-y");
                e.cmd(&args).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        names_match_ids(&e.home.join("runs"));
        if trash.exists() {
            names_match_ids(&trash);
        }
        let in_runs = std::fs::read_dir(e.home.join("runs")).unwrap().count();
        let in_trash = std::fs::read_dir(&trash).map(|d| d.count()).unwrap_or(0);
        match cmd[1] {
            "delete" => assert_eq!((in_runs, in_trash), (0, 5), "{cmd:?}"),
            "restore" => assert_eq!((in_runs, in_trash), (5, 0), "{cmd:?}"),
            _ => assert_eq!((in_runs, in_trash), (0, 0), "{cmd:?}"),
        }
    }
    assert_eq!(ids.len(), 5);
}

#[test]
fn flag_values_that_look_like_options_arrive_as_values() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("a.py"),
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--msg', default='x')\np.add_argument('--lr', type=float, default=0.1)\na = p.parse_args()\nprint('msg=%r lr=%r' % (a.msg, a.lr))\n",
    )
    .unwrap();
    std::fs::write(
        e.proj.join("g.py"),
        "msg = 'x'\nlr = 0.1\nprint('msg=%r lr=%r' % (msg, lr))\n",
    )
    .unwrap();
    let out = e.ok(&["run", "a.py", "msg=--lr", "lr=-1.5", "-y"]);
    assert!(out.contains("msg='--lr' lr=-1.5"), "{out}");
    let out = e.ok(&["run", "g.py", "msg=--lr", "lr=-1.5", "-y"]);
    assert!(out.contains("msg='--lr' lr=-1.5"), "{out}");
    let out = e.ok(&["run", "a.py", "msg=-x", "-y"]);
    assert!(out.contains("msg='-x' lr=0.1"), "{out}");
}

#[test]
fn processes_a_script_leaves_behind_are_stopped_with_a_note() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("leave.sh"),
        "#!/bin/sh\n(sleep 300; echo late) &\necho $! > child.pid\necho main done\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(e.proj.join("leave.sh"))
        .status()
        .unwrap();
    e.ok(&["run", "leave.sh", "-y"]);
    let run = e.run_dirs()[0].clone();
    let child: i32 = std::fs::read_to_string(run.join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("left-behind process gone", Duration::from_secs(10), || {
        pid_gone(child)
    });
    let output = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    assert!(output.contains("main done"), "{output}");
    assert!(
        output.contains("exited; stopping the processes it left running"),
        "{output}"
    );
    assert_eq!(attr(&run, "exit_status").unwrap(), "0\n");
}

/// `guild ARGS` with its address space capped at `mib` MiB.
fn run_capped(e: &Env, mib: u64, args: &str) -> Output {
    Command::new("bash")
        .args([
            "-c",
            &format!("ulimit -v {}; exec '{BIN}' {args}", mib * 1024),
        ])
        .current_dir(&e.proj)
        .env("GUILD_HOME", &e.home)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn reading_runs_never_loads_unbounded_data() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    let run = e.run_dirs()[0].clone();
    // A 1 GiB label (sparse: cheap to make, expensive to read whole).
    let label = std::fs::File::create(run.join(".guild/attrs/label")).unwrap();
    label.set_len(1 << 30).unwrap();
    let o = run_capped(&e, 400, "runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    let o = run_capped(&e, 400, "runs info 1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("larger than 4 MiB"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_file(run.join(".guild/attrs/label")).unwrap();
    // A 200 MB output with its index, read by `logs` and `cat` in 100 MiB.
    {
        use std::io::Write;
        let line = [b'x'; 99];
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(run.join(".guild/output")).unwrap());
        let mut idx = std::io::BufWriter::new(
            std::fs::File::create(run.join(".guild/output.index")).unwrap(),
        );
        for i in 0..2_000_000u64 {
            out.write_all(&line).unwrap();
            out.write_all(b"\n").unwrap();
            idx.write_all(&(1_700_000_000_000 + i).to_be_bytes())
                .unwrap();
            idx.write_all(&[0]).unwrap();
        }
    }
    let o = run_capped(&e, 100, "logs 1 > /dev/null");
    assert!(
        o.status.success(),
        "logs: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run_capped(&e, 100, "logs 1 | wc -l");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "2000000");
    let o = run_capped(&e, 100, "cat --output 1 | wc -c");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "200000000");
    // Nothing outside the run dir is read.
    let o = e.run(&["cat", "1", "-p", "../../../../../../etc/passwd"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside the run directory"));
}

/// `logs` of a run whose output is one 1 GiB line: printed as it is read,
/// whole and with one prefix, in a few MiB (the cap would not hold it).
#[test]
fn logs_prints_a_huge_line_in_bounded_memory() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    let run = e.run_dirs()[0].clone();
    huge_line_output(&run);
    let o = run_capped(&e, 100, "logs 1 | wc -lc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let counts = String::from_utf8_lossy(&o.stdout);
    let n: Vec<u64> = counts
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    // Two lines, each with one "[stdout] [TIME] " prefix (41 bytes).
    assert_eq!(
        n,
        [
            2,
            (1 << 30) + 41 + 1 + 41 + "after the long line\n".len() as u64
        ],
        "{counts}"
    );
    let o = run_capped(&e, 100, "logs 1 | tail -c 70");
    let tail = String::from_utf8_lossy(&o.stdout);
    assert!(
        tail.ends_with("\n[stdout] [2023-11-14T22:13:20.001+00:00] after the long line\n"),
        "{tail:?}"
    );
}

#[test]
fn secrets_in_the_environment_are_redacted_in_what_a_run_records() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    std::fs::write(
        e.proj.join("env.py"),
        "import os\nprint('got', os.environ['WANDB_API_KEY'], os.environ['DATABASE_URL'])\n",
    )
    .unwrap();
    let config = e.proj.join("config.yml");
    std::fs::write(
        &config,
        "redact-env:\n  names: [TEAM]\n  keep: [MY_AUTH_MODE]\n",
    )
    .unwrap();
    // The caller's environment, with secrets in it.
    let run_with_secrets = |args: &[&str]| {
        e.cmd(args)
            .env("GUILD_CONFIG", &config)
            .env("WANDB_API_KEY", "wandb-s3cret")
            .env("OPENAI_API_KEY", "sk-s3cret")
            .env("DATABASE_URL", "postgres://bob:pa55word@db:5432/x")
            .env("MY_TEAM", "team-s3cret")
            .env("MY_AUTH_MODE", "plain")
            .output()
            .unwrap()
    };
    let o = run_with_secrets(&["run", "env.py", "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The script gets the real values.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("got wandb-s3cret postgres://bob:pa55word@db"),
        "{out}"
    );
    let run = e.run_dirs()[0].clone();
    // A run started at once has no ENV (as Guild); a staged one has.
    assert!(!run.join(".guild/ENV").exists());
    let o = run_with_secrets(&["run", "env.py", "--stage", "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let staged = e.run_dirs().into_iter().find(|d| d != &run).unwrap();
    for (run, f) in [(&staged, ".guild/ENV"), (&run, ".guild/attrs/env")] {
        let text = std::fs::read_to_string(run.join(f)).unwrap();
        for secret in ["wandb-s3cret", "sk-s3cret", "pa55word", "team-s3cret"] {
            assert!(!text.contains(secret), "{f} keeps {secret}: {text}");
        }
        assert!(
            text.contains("postgres://bob:<redacted>@db:5432/x"),
            "{f}: {text}"
        );
        assert!(text.contains("plain"), "{f}: kept name redacted: {text}");
        let mode = std::fs::metadata(run.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f} mode {mode:o}");
    }
    // A malformed config is a one-line error naming it, before any run.
    std::fs::write(&config, "redact-env:\n  names: nope\n").unwrap();
    let o = e
        .cmd(&["run", "env.py", "-y"])
        .env("GUILD_CONFIG", &config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config.yml: redact-env.names must be a list"),
        "{err}"
    );
    assert_eq!(e.run_dirs().len(), 2, "no new run");
}

#[test]
fn source_snapshot_never_follows_links_out_of_the_project() {
    let e = Env::new();
    // A sibling project the `uplink` would reach.
    let sibling = e.proj.parent().unwrap().join("sibling");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("other.py"), "x = 1\n").unwrap();
    std::fs::create_dir_all(e.proj.join("sub")).unwrap();
    std::fs::write(e.proj.join("sub/util.py"), "y = 2\n").unwrap();
    std::os::unix::fs::symlink("/etc", e.proj.join("etc_link")).unwrap();
    std::os::unix::fs::symlink("..", e.proj.join("uplink")).unwrap();
    std::os::unix::fs::symlink("sub", e.proj.join("inner")).unwrap();
    std::os::unix::fs::symlink("..", e.proj.join("sub/loop")).unwrap();
    let o = e.run(&["run", "train.py", "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Skipping source code link etc_link because it leads outside"),
        "{err}"
    );
    assert!(err.contains("Skipping source code link uplink"), "{err}");
    let run = e.run_dirs()[0].clone();
    let manifest = std::fs::read_to_string(run.join(".guild/manifest")).unwrap();
    assert!(
        !manifest.contains("passwd") && !manifest.contains("other.py"),
        "{manifest}"
    );
    assert!(!run.join("etc_link").exists() && !run.join("uplink").exists());
    // A link inside the project is copied, as Guild does.
    assert!(run.join("inner/util.py").is_file(), "{manifest}");
    assert!(run.join("sub/util.py").is_file());
}

#[test]
fn an_unreadable_source_file_is_skipped_with_a_warning() {
    let e = Env::new();
    std::fs::write(e.proj.join("secret.txt"), "no\n").unwrap();
    Command::new("chmod")
        .arg("000")
        .arg(e.proj.join("secret.txt"))
        .status()
        .unwrap();
    // As root every file is readable: run as nobody then.
    let root = euid() == 0;
    if root {
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(e.proj.parent().unwrap())
            .status()
            .unwrap();
        Command::new("chmod")
            .arg("000")
            .arg(e.proj.join("secret.txt"))
            .status()
            .unwrap();
    }
    let mut c = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let o = c
        .args(["run", "run.sh", "-y"])
        .current_dir(&e.proj)
        .env("GUILD_HOME", &e.home)
        .env("HOME", &e.proj)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("Skipping source code file secret.txt because it cannot be read"),
        "{err}"
    );
    let run = e.run_dirs()[0].clone();
    assert!(run.join("run.sh").is_file());
    assert!(!run.join("secret.txt").exists());
}

fn euid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_big_git_tree_snapshot_says_how_to_narrow_it() {
    let e = Env::new();
    std::fs::create_dir_all(e.proj.join(".git")).unwrap();
    std::fs::create_dir_all(e.proj.join("data")).unwrap();
    for i in 0..120 {
        std::fs::write(e.proj.join(format!("data/f{i}.csv")), "1,2\n").unwrap();
    }
    let o = e.run(&["run", "train.py", "-y"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("The source code snapshot has 123 files"),
        "{err}"
    );
    assert!(err.contains(".guildignore"), "{err}");
}

#[test]
fn a_killed_sweep_is_shown_interrupted_and_resumes_on_restart() {
    let e = Env::new();
    // The second trial outlasts any delay between seeing it start and the
    // kill landing, so exactly two trials have started when the batch dies.
    std::fs::write(
        e.proj.join("slow2.py"),
        "import argparse, time\n\
         p = argparse.ArgumentParser()\n\
         p.add_argument('--lr', type=float, default=0.1)\n\
         lr = p.parse_args().lr\n\
         time.sleep(8 if lr == 2 else 0.3)\n",
    )
    .unwrap();
    let (mut child, _) = e.spawn_until_locked(&["run", "slow2.py", "lr=[1,2,3,4]", "-y", "-q"]);
    // The batch run is the one with a proto.
    let batch = || {
        e.run_dirs()
            .into_iter()
            .find(|d| d.join(".guild/proto").exists())
            .unwrap()
    };
    // Every trial is staged (pending) before the first starts: wait for
    // the second one to start.
    wait_until("second trial", Duration::from_secs(30), || {
        e.runs_json()
            .iter()
            .filter(|r| r["operation"] == "slow2.py" && r["status"] != "pending")
            .count()
            >= 2
    });
    let b = batch();
    let pid: i32 = std::fs::read_to_string(b.join(".guild/LOCK"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let id = b.file_name().unwrap().to_str().unwrap().to_string();
    wait_until("batch ended", Duration::from_secs(20), || {
        e.status_of(&id) != "running"
    });
    let status: Vec<serde_json::Value> =
        serde_json::from_str(&e.ok(&["status", "--json"])).unwrap();
    let sweep = status
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("sweep shown");
    assert_eq!(sweep["status"], "interrupted", "{status:?}");
    // Let any trial left running end, then resume.
    wait_until("no trial running", Duration::from_secs(30), || {
        e.runs_json().iter().all(|r| r["status"] != "running")
    });
    let o = e.run(&["run", "--restart", &id, "-y", "-q", "--keep-batch"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let log = std::fs::read_to_string(b.join(".guild/output")).unwrap();
    // Killed while its second trial was running.
    assert!(log.contains("Resuming the sweep: 2 of 4"), "{log}");
    let runs = e.runs_json();
    let trials: Vec<&serde_json::Value> = runs.iter().filter(|r| r["id"] != id.as_str()).collect();
    assert_eq!(trials.len(), 4, "one run per trial: {runs:?}");
    assert!(
        trials.iter().all(|t| t["status"] == "completed"),
        "{trials:?}"
    );
    let mut lrs: Vec<String> = trials
        .iter()
        .map(|t| {
            let dir = e.home.join("runs").join(t["id"].as_str().unwrap());
            let flags = attr(&dir, "flags").unwrap();
            flags
                .lines()
                .find_map(|l| l.strip_prefix("lr: "))
                .unwrap()
                .to_string()
        })
        .collect();
    lrs.sort();
    assert_eq!(lrs, ["1.0", "2.0", "3.0", "4.0"]);
}

#[test]
fn stopping_a_pipeline_gives_its_step_one_signal_and_its_grace() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("step.sh"),
        "#!/bin/sh\ntrap 'echo cleaning up; exit 3' TERM\necho started\nwhile :; do sleep 0.1; done\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(e.proj.join("step.sh"))
        .status()
        .unwrap();
    std::fs::write(
        e.proj.join("guild.yml"),
        "p:\n  steps: [s]\ns:\n  exec: ./step.sh\n",
    )
    .unwrap();
    e.ok(&["run", "p", "-y", "-b"]);
    let step_running = || {
        e.runs_json()
            .iter()
            .find(|r| r["operation"] == "s")
            .map(|r| r["id"].as_str().unwrap().to_string())
            .filter(|id| {
                std::fs::read_to_string(e.home.join("runs").join(id).join(".guild/output"))
                    .is_ok_and(|o| o.contains("started"))
            })
    };
    wait_until("step running", Duration::from_secs(30), || {
        step_running().is_some()
    });
    let step = e.home.join("runs").join(step_running().unwrap());
    let pipeline = run_of(&e, "p");
    let pid = pipeline.file_name().unwrap().to_str().unwrap().to_string();
    e.ok(&["stop", &pid[..8], "--timeout", "20"]);
    wait_until("step ended", Duration::from_secs(30), || {
        attr(&step, "exit_status").is_some()
    });
    let output = std::fs::read_to_string(step.join(".guild/output")).unwrap();
    assert!(output.contains("cleaning up"), "{output}");
    assert_eq!(
        attr(&step, "exit_status").unwrap(),
        "3\n",
        "killed, not stopped"
    );
}

#[test]
fn a_staging_whose_builder_lives_is_never_removed() {
    let e = Env::new();
    // Another host sharing the home is building a run: its marker is
    // locked (by a process whose pid means nothing here).
    let markers = e.home.join("staging");
    std::fs::create_dir_all(&markers).unwrap();
    let id = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    let staging = e.home.join("runs").join(format!(".stage-{id}"));
    std::fs::create_dir_all(staging.join(".guild")).unwrap();
    std::fs::write(markers.join(id), "").unwrap();
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(markers.join(id))
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    wait_until("the marker locked", Duration::from_secs(10), || {
        !Command::new("flock")
            .args(["-n"])
            .arg(markers.join(id))
            .arg("true")
            .status()
            .unwrap()
            .success()
    });
    e.ok(&["run", "train.py", "-y", "-q"]);
    assert!(staging.exists(), "a live staging was removed");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Its builder gone, the next run removes it.
    e.ok(&["run", "train.py", "-y", "-q"]);
    assert!(!staging.exists());
    assert!(!markers.join(id).exists());
}

/// A run directory's place holding a link (imported, or made by hand)
/// never lets a command write or delete outside the home: import copies
/// the real directory, as Guild 0.9 does; label refuses the link; delete
/// and purge remove the link, never what it leads to.
#[test]
fn links_at_a_run_directorys_place_are_never_written_through() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q", "-l", "original"]);
    let src = e.run_dirs()[0].clone();
    let outside = tempfile::tempdir().unwrap();
    // An archive directory whose run entry is a link to a run elsewhere.
    let victim = outside.path().join("victim");
    copy_tree(&src, &victim);
    let archive = outside.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let id = "0123456789abcdef0123456789abcdef";
    std::os::unix::fs::symlink(&victim, archive.join(id)).unwrap();
    e.ok(&["import", archive.to_str().unwrap(), "-y"]);
    let imported = e.home.join("runs").join(id);
    let meta = std::fs::symlink_metadata(&imported).unwrap();
    assert!(
        meta.is_dir() && !meta.file_type().is_symlink(),
        "imported as a link"
    );
    e.ok(&["label", id, "--set", "changed"]);
    assert_eq!(attr(&victim, "label").unwrap(), "original\n");
    e.ok(&["runs", "delete", id, "-y"]);
    e.ok(&["runs", "purge", "-y"]);
    assert!(
        victim.join(".guild/opref").is_file(),
        "purge reached the link's target"
    );
    // --move of a link: the link goes, its target stays.
    e.ok(&["import", archive.to_str().unwrap(), "--move", "-y"]);
    assert!(std::fs::symlink_metadata(archive.join(id)).is_err());
    assert!(victim.join(".guild/opref").is_file());
    assert!(!std::fs::symlink_metadata(&imported)
        .unwrap()
        .file_type()
        .is_symlink());
    // A link put in the runs directory by hand: listed, never written.
    let id2 = "fedcba9876543210fedcba9876543210";
    let victim2 = outside.path().join("victim2");
    copy_tree(&src, &victim2);
    std::os::unix::fs::symlink(&victim2, e.home.join("runs").join(id2)).unwrap();
    let o = e.run(&["label", id2, "--set", "through"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is a symbolic link") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert_eq!(attr(&victim2, "label").unwrap(), "original\n");
    let o = e.run(&["tag", id2, "-a", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(attr(&victim2, "tags").is_none());
    e.ok(&["runs", "delete", id2, "-y"]);
    e.ok(&["runs", "purge", "-y"]);
    assert!(
        victim2.join(".guild/opref").is_file(),
        "purge deleted through the link"
    );
    assert!(attr(&victim2, "label").is_some());
}

/// A zip archive is checked entry by entry before anything is imported:
/// a path leading out, an absolute path or a link is refused with its
/// name, and nothing is left behind.
#[test]
fn bad_zip_entries_are_named_and_nothing_is_imported() {
    let e = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, entries: &str| -> PathBuf {
        let zip = dir.path().join(name);
        let script = format!(
            "import zipfile, stat\n\
             z = zipfile.ZipFile({zip:?}, 'w')\n\
             z.writestr('0123456789abcdef0123456789abcdef/.guild/opref', 'script:. \"\" \"\" x.py\\n')\n\
             {entries}\n\
             z.close()\n",
            zip = zip.display().to_string()
        );
        let o = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        zip
    };
    let cases = [
        (
            "up.zip",
            "z.writestr('0123456789abcdef0123456789abcdef/../../evil.txt', 'x')",
            "0123456789abcdef0123456789abcdef/../../evil.txt",
        ),
        (
            "abs.zip",
            "z.writestr('/tmp/evil-abs.txt', 'x')",
            "/tmp/evil-abs.txt",
        ),
        (
            "link.zip",
            "i = zipfile.ZipInfo('0123456789abcdef0123456789abcdef/.guild/attrs')\n\
             i.external_attr = (stat.S_IFLNK | 0o777) << 16\n\
             z.writestr(i, '/etc')",
            "0123456789abcdef0123456789abcdef/.guild/attrs",
        ),
    ];
    for (name, entries, entry) in cases {
        let zip = make(name, entries);
        let o = e.run(&["import", zip.to_str().unwrap(), "-y"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(&format!("entry '{entry}'")) && err.contains("nothing was imported"),
            "{name}: {err}"
        );
        assert!(e.run_dirs().is_empty(), "{name}: a run was imported");
        let left: Vec<_> = std::fs::read_dir(&e.home)
            .unwrap()
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().starts_with(".import"))
            .collect();
        assert!(left.is_empty(), "{name}: {left:?}");
    }
    assert!(!Path::new("/tmp/evil-abs.txt").exists());
    assert!(
        !e.home.join("evil.txt").exists() && !e.home.parent().unwrap().join("evil.txt").exists()
    );
}

/// `label` racing `runs delete` of the same run: either wins, and a label
/// that loses says the run was deleted (not a bare "No such file").
#[test]
fn a_label_racing_a_delete_says_the_run_was_deleted() {
    let e = Env::new();
    let mut lost = 0;
    for round in 0..12 {
        e.ok(&["run", "train.py", "-y", "-q", "epochs=1"]);
        let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
        let labels: Vec<_> = (0..4)
            .map(|i| {
                e.cmd(&["label", &id, "--set", &format!("l{round}-{i}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        e.ok(&["runs", "delete", &id, "-y"]);
        for l in labels {
            let o = l.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            if !o.status.success() {
                lost += 1;
                assert!(
                    !err.contains("No such file")
                        && (err.contains("was deleted") || err.contains("could not find")),
                    "{err}"
                );
            }
        }
    }
    eprintln!("{lost} labels lost the race");
}

/// `stop --timeout T` of N runs that ignore TERM signals them all at once
/// and waits once: about T, not N x T; each is killed and recorded.
#[test]
fn stopping_many_runs_waits_one_timeout() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("stubborn.py"),
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(300)\n",
    )
    .unwrap();
    for _ in 0..4 {
        e.ok(&["run", "stubborn.py", "-y", "-q", "--background"]);
    }
    wait_until("4 runs up", Duration::from_secs(30), || {
        e.run_dirs().iter().all(|r| {
            std::fs::read_to_string(r.join(".guild/output")).is_ok_and(|o| o.contains("up"))
        }) && e.run_dirs().len() == 4
    });
    let t0 = Instant::now();
    let o = e.run(&["stop", "--timeout", "2", "-y"]);
    let took = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        took < Duration::from_secs(6),
        "4 stops of 2 s each took {took:?}: one after the other"
    );
    for r in e.run_dirs() {
        assert_eq!(attr(&r, "exit_status").as_deref(), Some("-9\n"), "{r:?}");
    }
}

/// A run that leaves a daemon in another session holding its output: the
/// run ends (after 5 s) and its output names the process that kept it
/// open.
#[test]
fn a_daemon_holding_the_output_is_named_in_the_runs_output() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("daemon.sh"),
        "#!/bin/sh\nsetsid sh -c 'echo $$ > daemon.pid; exec sleep 60' &\nsleep 0.5\necho main done\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(e.proj.join("daemon.sh"))
        .status()
        .unwrap();
    e.ok(&["run", "daemon.sh", "-y", "-q"]);
    let run = e.run_dirs()[0].clone();
    let pid: i32 = std::fs::read_to_string(run.join("daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let output = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    // SAFETY: the test's own daemon, still alive (it held the pipe).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    assert!(output.contains("main done"), "{output}");
    assert!(
        output.contains(&format!(
            "process {pid} (sleep) outside the run's process group kept its output open"
        )),
        "{output}"
    );
    assert_eq!(attr(&run, "exit_status").unwrap(), "0\n");
}

/// A tmpfs of its own (unmounted when dropped), to fill up.
struct SmallFs(PathBuf);

impl SmallFs {
    fn new(dir: &Path) -> SmallFs {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,nr_inodes=400", "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a tmpfs (the suite runs as root): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        SmallFs(dir.to_path_buf())
    }

    /// Use up its space and its inodes.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("fill")).unwrap();
        while f.write_all(&[0u8; 65536]).is_ok() {}
        for i in 0.. {
            if std::fs::File::create(self.0.join(format!("f{i}"))).is_err() {
                break;
            }
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A disk that fills up while a run goes on: the run's end is still
/// recorded (its start kept room for it), and a delete to the trash that
/// cannot be made says so, names the fix and leaves the run as it was.
#[test]
fn a_full_disk_still_records_the_end_and_says_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = SmallFs::new(&tmp.path().join("mnt"));
    let home = fs.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let e = Env::new();
    let cmd = |args: &[&str]| {
        let mut c = e.cmd(args);
        c.env("GUILD_HOME", &home);
        c
    };
    assert!(cmd(&["run", "train.py", "-y", "-q", "epochs=1"])
        .status()
        .unwrap()
        .success());
    assert!(cmd(&[
        "run",
        "train.py",
        "-y",
        "-q",
        "epochs=1",
        "sleep=2",
        "--background"
    ])
    .status()
    .unwrap()
    .success());
    let runs = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(home.join("runs"))
            .unwrap()
            .flatten()
            .map(|d| d.path())
            .collect();
        v.sort_by_key(|p| attr(p, "started"));
        v
    };
    let (first, second) = (runs()[0].clone(), runs()[1].clone());
    wait_until("the run going", Duration::from_secs(20), || {
        second.join(".guild/LOCK").exists()
    });
    fs.fill();
    wait_until("the run's end", Duration::from_secs(30), || {
        !second.join(".guild/LOCK").exists()
    });
    assert_eq!(attr(&second, "exit_status").as_deref(), Some("0\n"));
    assert!(attr(&second, "stopped").is_some_and(|s| s.trim().parse::<i64>().is_ok()));
    // No room for the trash: one line, the run unchanged.
    let o = cmd(&[
        "runs",
        "delete",
        &first.file_name().unwrap().to_string_lossy(),
        "-y",
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("the disk is full") && err.contains("--permanent"),
        "{err}"
    );
    assert!(first.join(".guild/opref").is_file());
    assert_eq!(runs().len(), 2);
    drop(fs);
}
