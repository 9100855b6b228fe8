//! End-to-end tests: the real `guild` binary against a private GUILD_HOME,
//! real processes and signals, and the real Guild 0.9.0 for compatibility.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_guild");

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    proj: PathBuf,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("gh");
        let proj = tmp.path().join("proj");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&proj).unwrap();
        for f in ["train.py", "globs.py", "run.sh"] {
            std::fs::copy(fixtures().join("projects/basic").join(f), proj.join(f)).unwrap();
        }
        Env {
            _tmp: tmp,
            home,
            proj,
        }
    }

    /// An env whose project is a copy of `fixtures/projects/<name>`.
    fn with_project(name: &str) -> Env {
        let e = Env::new();
        for f in std::fs::read_dir(&e.proj).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
        copy_tree(&fixtures().join("projects").join(name), &e.proj);
        e
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(&self.proj)
            .env("GUILD_HOME", &self.home)
            .env_remove("VIRTUAL_ENV")
            .env("NO_IMPORT_FLAGS_CACHE", "0")
            .stdin(Stdio::null());
        c
    }

    /// The real Guild 0.9.0 on this env's home, from its project.
    fn guild090_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(guild_venv().join("bin/guild"));
        c.args(args)
            .env("GUILD_HOME", &self.home)
            .current_dir(&self.proj)
            .stdin(Stdio::null());
        c
    }

    /// `guild remote status NAME` with the project's guild-config.yml
    /// (not a `$GUILD_CONFIG` of the environment).
    fn remote_status(&self, name: &str) -> Output {
        self.cmd(&["remote", "status", name])
            .env_remove("GUILD_CONFIG")
            .output()
            .unwrap()
    }

    fn guild090(&self, args: &[&str]) -> Output {
        self.guild090_cmd(args).output().unwrap()
    }

    /// Start `guild ARGS` and wait until a run holds a LOCK (for a sweep,
    /// the batch or a trial, whichever is first); returns the child and
    /// that run dir.
    fn spawn_until_locked(&self, args: &[&str]) -> (std::process::Child, PathBuf) {
        let child = self.cmd(args).spawn().unwrap();
        let locked = || {
            self.run_dirs()
                .into_iter()
                .find(|r| r.join(".guild/LOCK").exists())
        };
        wait_until("LOCK", Duration::from_secs(20), || locked().is_some());
        (child, locked().unwrap())
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "guild {args:?} failed: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn run_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.home.join("runs"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn runs_json(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["runs", "list", "--json"])).unwrap()
    }

    fn status_of(&self, id: &str) -> String {
        self.runs_json()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// The newest run dir whose opref names operation `op`.
fn run_of(e: &Env, op: &str) -> PathBuf {
    let runs = e.runs_json();
    let r = runs
        .iter()
        .find(|r| r["operation"] == op)
        .unwrap_or_else(|| panic!("no {op} run in {runs:?}"));
    e.home.join("runs").join(r["id"].as_str().unwrap())
}

fn attr(run: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(run.join(".guild/attrs").join(name)).ok()
}

/// Replace `run`'s output by one line of 1 GiB (sparse: cheap to make,
/// costly to read whole), then a short one, with their index records.
fn huge_line_output(run: &Path) {
    use std::io::{Seek, Write};
    let mut out = std::fs::File::create(run.join(".guild/output")).unwrap();
    out.set_len(1 << 30).unwrap();
    out.seek(std::io::SeekFrom::Start(1 << 30)).unwrap();
    out.write_all(b"\nafter the long line\n").unwrap();
    let mut idx = Vec::new();
    for ms in [1_700_000_000_000u64, 1_700_000_000_001] {
        idx.extend_from_slice(&ms.to_be_bytes());
        idx.push(0);
    }
    std::fs::write(run.join(".guild/output.index"), idx).unwrap();
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
    }
}

#[test]
fn run_writes_a_complete_guild_run_dir() {
    let e = Env::new();
    let o = e.run(&["run", "train.py", "lr=0.2", "epochs=2", "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("loss: 0.1667"),
        "output streamed live: {stdout}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("done training"));
    let runs = e.run_dirs();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    let id = r.file_name().unwrap().to_str().unwrap();
    assert_eq!(id.len(), 32);
    for a in [
        "id",
        "initialized",
        "started",
        "stopped",
        "exit_status",
        "cmd",
        "env",
        "flags",
        "user_flags",
        "label",
        "host",
        "user",
        "platform",
        "random_seed",
        "sourcecode_digest",
        "op",
        "plugins",
        "pip_freeze",
        "deps",
    ] {
        assert!(attr(r, a).is_some(), "missing attr {a}");
    }
    assert_eq!(attr(r, "exit_status").unwrap(), "0\n");
    assert_eq!(
        attr(r, "flags").unwrap(),
        "debug: false\nepochs: 2\nfail-code: 0\nlr: 0.2\nopt: adam\nsleep: 0.0\n"
    );
    assert_eq!(attr(r, "user_flags").unwrap(), "epochs: 2\nlr: 0.2\n");
    assert_eq!(
        attr(r, "label").unwrap(),
        "debug=no epochs=2 fail-code=0 lr=0.2 opt=adam sleep=0.0\n"
    );
    let opref = std::fs::read_to_string(r.join(".guild/opref")).unwrap();
    assert_eq!(
        opref,
        format!(
            "script:{} '' '' train.py",
            e.proj.canonicalize().unwrap().display()
        )
    );
    assert!(!r.join(".guild/LOCK").exists());
    assert!(!r.join(".guild/STAGED").exists() && !r.join(".guild/PENDING").exists());
    let output = std::fs::read(r.join(".guild/output")).unwrap();
    let lines = output.iter().filter(|b| **b == b'\n').count();
    assert_eq!(
        std::fs::metadata(r.join(".guild/output.index"))
            .unwrap()
            .len() as usize,
        lines * 9
    );
    let manifest = std::fs::read_to_string(r.join(".guild/manifest")).unwrap();
    assert!(
        manifest.lines().any(|l| l.starts_with("s train.py ")),
        "{manifest}"
    );
    assert!(r.join("train.py").exists(), "source snapshot at run root");
    let events: Vec<_> = std::fs::read_dir(r.join(".guild"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    assert_eq!(events.len(), 1);
    let env = attr(r, "env").unwrap();
    assert!(
        env.contains("FLAG_LR: '0.2'") && env.contains(&format!("RUN_ID: {id}")),
        "{env}"
    );
    let info: serde_json::Value = serde_json::from_str(&e.ok(&["runs", "info", "--json"])).unwrap();
    assert_eq!(info["status"], "completed");
    assert_eq!(
        info["scalars"]["loss"],
        serde_json::json!([0.16670000553131104, 2])
    );
}

#[test]
fn run_exit_code_is_the_runs_and_status_error() {
    let e = Env::new();
    let o = e.run(&["run", "train.py", "fail-code=3", "-y", "-q"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stdout.is_empty(), "--quiet echoes nothing");
    let runs = e.runs_json();
    assert_eq!(runs[0]["status"], "error");
    assert_eq!(runs[0]["exit_status"], 3);
}

#[test]
fn bad_input_fails_before_any_run_dir_exists() {
    let e = Env::new();
    for (args, needle) in [
        (vec!["run", "nope.py", "-y"], "no such file"),
        (
            vec!["run", "train.py", "lr=abc", "-y"],
            "invalid value abc for lr",
        ),
        (
            vec!["run", "train.py", "opt=rms", "-y"],
            "choose from adam, sgd",
        ),
        (
            vec!["run", "train.py", "nosuch=1", "-y"],
            "unsupported flag 'nosuch'",
        ),
        (
            vec!["run", "train.py", "garbage", "-y"],
            "expected NAME=VAL",
        ),
        (vec!["run", "run.sh", "x=1", "-y"], "unsupported flag 'x'"),
        // As Guild 0.9.0; the script is not run.
        (
            vec!["run", "train.py", "lr=0.2", "--print-trials", "-y"],
            "cannot print trials for a non-batch operation",
        ),
    ] {
        let o = e.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    }
    assert!(e.run_dirs().is_empty(), "no half-made run left behind");
    let o = e.run(&["runs", "info", "zzzz"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not find a run matching 'zzzz'"));
    let o = e.run(&["runs", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(BIN)
        .args(["runs"])
        .env("GUILD_HOME", e.home.join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
}

#[test]
fn force_flags_and_exec_scripts_get_env_flags() {
    let e = Env::new();
    std::fs::write(e.proj.join("env.sh"), "#!/bin/sh\necho \"x=$FLAG_X\"\n").unwrap();
    Command::new("chmod")
        .args(["+x", e.proj.join("env.sh").to_str().unwrap()])
        .status()
        .unwrap();
    let out = e.ok(&["run", "env.sh", "x=1", "-f", "-y"]);
    assert!(out.contains("x=1"), "{out}");
}

#[test]
fn raw_args_after_double_dash_set_known_flags() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "--", "--lr", "0.5", "--debug"]);
    let r = &e.run_dirs()[0];
    let flags = attr(r, "flags").unwrap();
    assert!(
        flags.contains("lr: 0.5") && flags.contains("debug: true"),
        "{flags}"
    );
    let out =
        String::from_utf8_lossy(&std::fs::read(r.join(".guild/output")).unwrap()).into_owned();
    assert!(out.contains("debug=True"), "{out}");
}

#[test]
fn globals_scripts_get_flags_by_rebinding() {
    let e = Env::new();
    let out = e.ok(&["run", "globs.py", "lr=0.5", "name=bar", "-y"]);
    assert!(out.contains("name: bar"), "{out}");
    let runs = e.runs_json();
    assert_eq!(runs[0]["label"], "debug=no epochs=2 lr=0.5 name=bar");
}

#[test]
fn globals_code_cache_is_shared_by_runs_and_tracebacks_name_each_run() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("boom.py"),
        "x = 1\n\ndef f():\n    raise ValueError('x=%s' % x)\n\nf()\n",
    )
    .unwrap();
    for x in ["2", "3"] {
        let o = e.run(&["run", "boom.py", &format!("x={x}"), "-y"]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(err.contains(&format!("ValueError: x={x}")), "{err}");
    }
    // Both runs used one cached code object (the key is the script's
    // content, not its path), and each traceback names that run's own copy.
    let globals: Vec<_> = std::fs::read_dir(e.home.join("cache/op-main"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path().join("globals")).unwrap())
        .flatten()
        .collect();
    assert_eq!(globals.len(), 1, "{globals:?}");
    for r in e.run_dirs() {
        let out =
            String::from_utf8_lossy(&std::fs::read(r.join(".guild/output")).unwrap()).into_owned();
        let own = format!("File \"{}\", line 4, in f", r.join("boom.py").display());
        assert!(out.contains(&own), "{own} not in {out}");
    }
}

#[test]
fn stage_then_start() {
    let e = Env::new();
    let o = e.run(&["run", "train.py", "--stage", "lr=0.9", "-y"]);
    assert!(o.status.success());
    let id = e.run_dirs()[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(e.status_of(&id), "staged");
    assert!(e.run_dirs()[0].join(".guild/ENV").exists());
    e.ok(&["run", "--start", &id[..8], "-y"]);
    assert_eq!(e.status_of(&id), "completed");
    assert_eq!(e.run_dirs().len(), 1);
}

#[test]
fn start_that_cannot_record_its_metadata_stops_the_process() {
    let e = Env::new();
    e.ok(&["run", "train.py", "--stage", "sleep=30", "-y"]);
    let r = e.run_dirs()[0].clone();
    let id = r.file_name().unwrap().to_str().unwrap().to_string();
    // `started` cannot be replaced: a non-empty directory is in its place.
    let started = r.join(".guild/attrs/started");
    std::fs::remove_file(&started).unwrap();
    std::fs::create_dir_all(started.join("x")).unwrap();
    let o = e.run(&["run", "--start", &id, "-y"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("attrs/started"), "{err}");
    // The process it spawned is gone, not left running for 30 s.
    let pid = std::fs::read_to_string(r.join(".guild/LOCK")).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "{pid}"
    );
    assert_ne!(e.status_of(&id), "running");
}

#[test]
fn background_run_pidfile_and_stop() {
    let e = Env::new();
    let pidfile = e.home.join("run.pid");
    let o = e.run(&[
        "run",
        "train.py",
        "sleep=60",
        "-y",
        "--pidfile",
        pidfile.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    wait_until("run to be running", Duration::from_secs(20), || {
        e.status_of(&id) == "running"
    });
    wait_until("pidfile", Duration::from_secs(10), || pidfile.exists());
    let child: i32 = std::fs::read_to_string(run.join(".guild/LOCK"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let o = e.run(&["stop", &id[..8], "--timeout", "10"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until("terminated", Duration::from_secs(20), || {
        e.status_of(&id) == "terminated"
    });
    assert_eq!(attr(&run, "exit_status").unwrap(), "-15\n");
    assert!(pid_gone(child));
    wait_until("pidfile removed", Duration::from_secs(10), || {
        !pidfile.exists()
    });
    assert!(!run.join(".guild/LOCK").exists());
}

#[test]
fn sigterm_and_sigint_to_foreground_run_are_forwarded() {
    for (sig, expected_status) in [("TERM", "-15\n"), ("INT", "-16\n")] {
        let e = Env::new();
        let (mut child, run) = e.spawn_until_locked(&["run", "train.py", "sleep=60", "-y", "-q"]);
        let op_pid: i32 = std::fs::read_to_string(run.join(".guild/LOCK"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            attr(&run, "exit_status").unwrap(),
            expected_status,
            "SIG{sig}"
        );
        assert_eq!(
            status.code(),
            Some(
                256 - expected_status
                    .trim()
                    .trim_start_matches('-')
                    .parse::<i32>()
                    .unwrap()
            )
        );
        assert!(pid_gone(op_pid), "no orphan after SIG{sig}");
        assert_eq!(e.runs_json()[0]["status"], "terminated");
    }
}

#[test]
fn killed_supervisor_never_leaves_a_run_running() {
    // The process recording the run (not the foreground `guild run`) is
    // killed: the run shows running while its process lives, then error.
    let e = Env::new();
    let (mut child, run) = e.spawn_until_locked(&["run", "train.py", "sleep=2", "-y", "-q"]);
    let id = run.file_name().unwrap().to_str().unwrap().to_string();
    let fg = child.id();
    let sup: i32 = std::fs::read_to_string(format!("/proc/{fg}/task/{fg}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .expect("the foreground run has a supervisor")
        .parse()
        .unwrap();
    Command::new("kill")
        .args(["-KILL", &sup.to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert_eq!(e.status_of(&id), "running", "the op process still runs");
    let op_pid: i32 = std::fs::read_to_string(run.join(".guild/LOCK"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("op exit", Duration::from_secs(20), || pid_gone(op_pid));
    wait_until("not running", Duration::from_secs(5), || {
        e.status_of(&id) != "running"
    });
    assert_eq!(e.status_of(&id), "error");
}

#[test]
fn twenty_concurrent_runs_are_distinct_and_complete() {
    let e = Env::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            e.cmd(&[
                "run",
                "train.py",
                &format!("lr=0.{i:02}"),
                "epochs=1",
                "-y",
                "-q",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let runs = e.runs_json();
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r["status"] == "completed"));
    let mut lrs: Vec<String> = e
        .run_dirs()
        .iter()
        .map(|r| attr(r, "flags").unwrap())
        .collect();
    lrs.sort();
    lrs.dedup();
    assert_eq!(lrs.len(), 20);
}

#[test]
fn selection_labels_tags_and_trash() {
    let e = Env::new();
    for lr in ["0.1", "0.2", "0.3"] {
        e.ok(&[
            "run",
            "train.py",
            &format!("lr={lr}"),
            "epochs=1",
            "-y",
            "-q",
        ]);
    }
    let runs = e.runs_json();
    let newest = runs[0]["id"].as_str().unwrap().to_string();
    let list = e.ok(&["runs", "1:2"]);
    assert_eq!(list.lines().count(), 2);
    assert!(list.starts_with("[1:"), "{list}");
    e.ok(&["label", "1", "--set", "best ${lr}"]);
    assert_eq!(e.runs_json()[0]["label"], "best 0.3");
    e.ok(&["tag", "2", "-a", "keep", "-a", "a"]);
    assert_eq!(e.runs_json()[1]["tags"], serde_json::json!(["a", "keep"]));
    assert_eq!(e.ok(&["runs", "-Ft", "keep"]).lines().count(), 1);
    assert_eq!(e.ok(&["runs", "--label", "best"]).lines().count(), 1);
    assert_eq!(e.ok(&["runs", "-Sc"]).lines().count(), 3);
    assert_eq!(e.ok(&["runs", "-Se"]).lines().count(), 0);
    e.ok(&["runs", "delete", &newest[..6], "-y"]);
    assert_eq!(e.runs_json().len(), 2);
    assert!(e.home.join("trash/runs").join(&newest).exists());
    e.ok(&["runs", "restore", &newest[..6], "-y"]);
    assert_eq!(e.runs_json().len(), 3);
    e.ok(&["runs", "rm", "1", "-y"]);
    e.ok(&["runs", "purge", "-y"]);
    assert!(!e.home.join("trash/runs").join(&newest).exists());
    let o = e.run(&["runs", "info", ""]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "empty prefix matches several runs"
    );
}

#[test]
fn watch_cat_and_ls() {
    let e = Env::new();
    let mut child = e
        .cmd(&["run", "train.py", "sleep=1", "-y", "-q"])
        .spawn()
        .unwrap();
    wait_until("LOCK", Duration::from_secs(20), || {
        e.run_dirs()
            .first()
            .is_some_and(|r| r.join(".guild/LOCK").exists())
    });
    let o = e.run(&["watch"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("loss: 0.25"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopped with a status of 'completed'"));
    assert!(child.wait().unwrap().success());
    let out = e.ok(&["cat", "--output"]);
    assert!(out.contains("step: 3"));
    let ls = e.ok(&["ls"]);
    assert!(ls.contains("  train.py") && !ls.contains(".guild"), "{ls}");
    // The tracker's own files are not listed, even with --all (Guild's
    // runs have none of them).
    let all = e.ok(&["ls", "-a"]);
    assert!(all.contains(".guild/attrs/exit_status"), "{all}");
    for private in ["LOCK.start", "LOCK.proc", "LOCK.end-"] {
        assert!(
            !all.contains(&format!(".guild/{private}")),
            "{private}: {all}"
        );
    }
    let o = e.run(&["watch"]);
    assert_eq!(o.status.code(), Some(1), "nothing running to watch");
}

#[test]
fn help_op_and_print_cmd() {
    let e = Env::new();
    let h = e.ok(&["run", "train.py", "--help-op"]);
    assert!(
        h.contains("Learning rate (default is 0.1)") && h.contains("Choices:  adam, sgd"),
        "{h}"
    );
    let c = e.ok(&["run", "train.py", "lr=0.5", "--print-cmd"]);
    assert!(
        c.trim()
            .ends_with("train --epochs 3 --fail-code 0 --lr 0.5 --opt adam --sleep 0.0"),
        "{c}"
    );
    assert!(e.run_dirs().is_empty());
}

#[test]
fn guild_090_fixtures_always_load() {
    let e = Env::new();
    let home = fixtures().join("guild-0.9.0/home");
    let expected: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("guild-0.9.0/runs.json")).unwrap(),
    )
    .unwrap();
    let out = e
        .cmd(&["-H", home.to_str().unwrap(), "runs", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let got: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(expected.iter()) {
        assert_eq!(g["id"], x["id"]);
        assert_eq!(g["status"], x["status"], "{}", x["id"]);
        assert_eq!(g["operation"], x["op"]);
        assert_eq!(
            g["label"].as_str().unwrap_or(""),
            x["label"].as_str().unwrap_or("")
        );
        let info = e
            .cmd(&[
                "-H",
                home.to_str().unwrap(),
                "runs",
                "info",
                x["id"].as_str().unwrap(),
                "--json",
            ])
            .output()
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        if x["op"] != "train.py+" {
            assert_eq!(info["flags"], x["flags"], "{}", x["id"]);
            assert_eq!(info["scalars"], x["scalars"], "{}", x["id"]);
        }
    }
    let table = e
        .cmd(&["-H", home.to_str().unwrap(), "runs", "-a"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("train.py+") && table.contains("terminated"),
        "{table}"
    );
    // Runs of another project directory carry it after the operation, as
    // Guild shows them; runs of the current directory do not.
    assert!(table.contains("train.py+ (/tmp/fx/proj)"), "{table}");
    assert!(table.contains("run.sh (/tmp/fx/proj)"), "{table}");
    e.ok(&["run", "train.py", "-y", "-q"]);
    let ours = e.ok(&["runs"]);
    assert!(
        ours.contains("train.py  ") && !ours.contains("train.py ("),
        "{ours}"
    );
}

/// `runs info` prints what Guild 0.9.0 printed for the same run directories,
/// line for line (the run dir differs: the fixtures were copied).
#[test]
fn runs_info_text_matches_guild_090() {
    let e = Env::new();
    let home = fixtures().join("guild-0.9.0/home");
    let expected = fixtures().join("guild-0.9.0/expected");
    let strip = |t: &str, skip_max: bool| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("run_dir: "))
            .filter(|l| !(skip_max && l.trim_start().starts_with("max: ")))
            .map(str::to_string)
            .collect()
    };
    let mut n = 0;
    for f in std::fs::read_dir(&expected).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix("info-")
            .and_then(|s| s.strip_suffix(".txt"))
        else {
            continue;
        };
        let (id, all) = match id.strip_suffix("-all-scalars") {
            Some(id) => (id, true),
            None => (id, false),
        };
        let mut args = vec!["-H", home.to_str().unwrap(), "runs", "info", id];
        if all {
            args.push("--all-scalars");
        }
        let got = e.ok(&args);
        let want = std::fs::read_to_string(f.path()).unwrap();
        assert_eq!(strip(&got, all), strip(&want, all), "{name}");
        n += 1;
    }
    assert_eq!(n, 11);
}

fn guild_venv() -> PathBuf {
    let p = std::env::var_os("GUILD_COMPAT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-guild"));
    assert!(
        p.join("bin/guild").exists(),
        "Guild 0.9.0 is not installed at {}: run scripts/setup-test-env.sh",
        p.display()
    );
    p
}

/// The bootstrap decodes simple flag values without importing PyYAML; each
/// value it decodes itself must equal what `yaml.safe_load` gives.
#[test]
fn op_main_fast_decode_agrees_with_pyyaml() {
    let venv = guild_venv();
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/guild-project/src/op/op_main.py");
    let check = r#"
import importlib.util, sys, yaml
spec = importlib.util.spec_from_file_location("om", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
cases = ["1", "0", "-3", "+4", "010", "0x1f", "1_000", "1.5", "-1.5", "1.", "1.0e-3",
         "1.0e3", "1e-3", "1.5E+2", ".5", "00.5", "true", "yes", "on", "off", "Null",
         "adam", "relu_2", "a1", "x-y", "1:30", "", "~", "inf", ".inf", "nan", "3.",
         "abc def", "2020-01-01", "0.0", "1.5e", "1.5e+", "TRUE", "y", "n", "é"]
fast = 0
for c in cases:
    f = m._fast_decode(c)
    if f is m._MISS:
        continue
    fast += 1
    y = yaml.safe_load(c)
    assert type(f) is type(y) and f == y, (c, f, y)
    assert m._decode(c) == y
assert fast >= 15, fast
print("ok", fast)
"#;
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", check])
        .arg(&shim)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn guild_090_reads_our_runs() {
    let venv = guild_venv();
    let e = Env::new();
    e.ok(&[
        "run", "train.py", "lr=0.2", "epochs=2", "-y", "-q", "-l", "ours", "-t", "t1",
    ]);
    e.run(&["run", "train.py", "fail-code=2", "-y", "-q"]);
    let g = Command::new(venv.join("bin/guild"))
        .args(["runs", "list", "--json"])
        .env("GUILD_HOME", &e.home)
        .current_dir(&e.proj)
        .output()
        .unwrap();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&g.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["status"], "error");
    assert_eq!(runs[1]["status"], "completed");
    assert_eq!(runs[1]["label"], "ours");
    assert_eq!(runs[1]["tags"], serde_json::json!(["t1"]));
    let info = Command::new(venv.join("bin/guild"))
        .args(["runs", "info", "2", "--json"])
        .env("GUILD_HOME", &e.home)
        .current_dir(&e.proj)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["flags"]["lr"], 0.2);
    assert_eq!(info["flags"]["epochs"], 2);
    assert_eq!(
        info["scalars"]["loss"],
        serde_json::json!([0.16670000553131104, 2])
    );
    assert_eq!(info["operation"], "train.py");
}

// ---------------------------------------------------------------- guild.yml

#[test]
fn guildfile_operations_help_and_help_op() {
    let e = Env::with_project("gf");
    let ops = e.ok(&["operations"]);
    let lines: Vec<&str> = ops.lines().collect();
    assert!(lines.contains(&"train       Train a model"), "{ops}");
    assert!(lines.contains(&"prepare     Prepare data"), "{ops}");
    assert_eq!(e.ok(&["ops"]), ops);
    let help = e.ok(&["help"]);
    assert!(
        help.contains("BASE OPERATIONS") && help.contains("Learning rate (default is 0.1)"),
        "{help}"
    );
    let h = e.ok(&["run", "train", "--help-op"]);
    assert!(
        h.starts_with(
            "Usage: guild run [OPTIONS] train [FLAG]...\n\nTrain a model\n\nUses prepared data.\n"
        ),
        "{h}"
    );
    // Columns as Guild 0.9.0 aligns them, with the dependency's flag.
    assert!(
        h.contains("  epochs             (default is 2)"),
        "imported flag: {h}"
    );
    assert!(h.trim_end().ends_with("\n  operation:prepare"), "{h}");
    assert!(h.contains("adam  Adaptive moments"), "{h}");
    assert!(
        !h.contains("name"),
        "only imported flags listed in flags-import: {h}"
    );
}

#[test]
fn guildfile_main_and_exec_ops_get_flags_env_and_args() {
    let e = Env::with_project("gf");
    let out = e.ok(&["run", "sh", "verbose=yes", "msg=hello there", "-y"]);
    assert!(
        out.contains("msg=hello there verbose=1 --n 3 --msg hello there --verbose"),
        "{out}"
    );
    let out = e.ok(&["run", "cfg", "nested.x=9", "-y"]);
    assert!(
        out.contains("params=[('lr', 0.5), ('nested', {'x': 9, 'y': 2})]"),
        "global:params: {out}"
    );
    assert!(out.contains("helper=helper-ok"), "python-path: {out}");
    let cfg = run_of(&e, "cfg");
    let manifest = std::fs::read_to_string(cfg.join(".guild/manifest")).unwrap();
    assert!(manifest.contains("s code/src/cfg.py "), "{manifest}");
    assert!(!manifest.contains("a.csv"), "excluded dir: {manifest}");
    assert!(cfg.join("code/src/helper.py").exists());
}

#[test]
fn guildfile_flag_errors_fail_before_any_run() {
    let e = Env::with_project("gf");
    let cases: [(&[&str], &str); 4] = [
        (
            &["run", "train", "opt=rmsprop", "-y"],
            "choose from adam, sgd",
        ),
        (
            &["run", "train", "lr=2", "-y"],
            "out of range (greater than max 1)",
        ),
        (&["run", "needs-name", "-y"], "missing flags: name"),
        (
            &["run", "nosuch", "-y"],
            "operation 'nosuch' is not defined",
        ),
    ];
    for (args, want) in cases {
        let o = e.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert!(e.run_dirs().is_empty());
}

#[test]
fn guildfile_requires_file_and_operation_sources() {
    let e = Env::with_project("gf");
    let o = e.run(&["run", "train", "-y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no suitable run for prepare"));
    // As Guild: the attempt is an error run that never started.
    assert_eq!(e.runs_json().len(), 1, "one error run");
    assert_eq!(e.runs_json()[0]["status"], "error");
    assert!(e.runs_json()[0]["started"].is_null());
    e.ok(&["run", "prepare", "-y"]);
    let first = run_of(&e, "prepare");
    e.ok(&["run", "prepare", "n=2", "-y"]);
    let out = e.ok(&["run", "train", "-y"]);
    assert!(
        out.contains("mode=fast-adam") && out.contains("data=hello data"),
        "{out}"
    );
    assert!(
        out.contains("prepared=prepared 2"),
        "latest prepare run: {out}"
    );
    let train = run_of(&e, "train");
    let manifest = std::fs::read_to_string(train.join(".guild/manifest")).unwrap();
    assert!(
        manifest.contains("d data.txt 81d0d14e9ef79303cfb3747c0c6d9bcad16ccfc4 file:data.txt\n"),
        "{manifest}"
    );
    assert!(manifest.contains("d out.txt "), "{manifest}");
    assert!(
        !manifest.contains("s data.txt"),
        "dep files are not source: {manifest}"
    );
    assert!(!train.join("other.txt").exists(), "select: out.txt only");
    let deps = attr(&train, "deps").unwrap();
    assert!(
        deps.contains("operation:prepare:\n  operation:prepare:\n    config: "),
        "{deps}"
    );
    let flags = attr(&train, "flags").unwrap();
    assert!(flags.contains("operation:prepare: "), "{flags}");
    assert_eq!(attr(&train, "label").unwrap(), "adam lr=0.1\n");
    assert_eq!(attr(&train, "tags").unwrap(), "- gf\n");
    // NAME=RUN picks the run a dependency uses.
    let id1 = first.file_name().unwrap().to_str().unwrap().to_string();
    let out = e.ok(&[
        "run",
        "train",
        &format!("operation:prepare={}", &id1[..6]),
        "-y",
    ]);
    assert!(out.contains("prepared=prepared 1"), "{out}");
    let info = e.ok(&["runs", "info", "1"]);
    assert!(
        info.contains("acc: 0.200000 (step 2)"),
        "output-scalars: {info}"
    );
}

#[test]
fn guildfile_pipeline_runs_steps_and_stops_at_failure() {
    let e = Env::with_project("gf");
    let out = e.ok(&["run", "pipeline", "lr=0.4", "-y"]);
    assert!(
        out.contains("prepare done") && out.contains("acc=0.80"),
        "{out}"
    );
    let pipe = run_of(&e, "pipeline");
    let train = run_of(&e, "train");
    assert_eq!(
        std::fs::read_link(pipe.join("train")).unwrap(),
        Path::new("..").join(train.file_name().unwrap())
    );
    assert!(pipe.join("prepare").join(".guild/opref").exists());
    assert!(attr(&train, "flags").unwrap().contains("lr: 0.4"));
    assert!(attr(&pipe, "steps").unwrap().contains("run: train"));
    let o = e.run(&["run", "pipefail", "-y"]);
    assert_eq!(o.status.code(), Some(3));
    let runs = e.runs_json();
    let count = |op: &str| runs.iter().filter(|r| r["operation"] == op).count();
    assert_eq!(count("train"), 1, "no step after the failing one");
    assert_eq!(
        e.status_of(
            run_of(&e, "pipefail")
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        ),
        "error"
    );
}

#[test]
fn guildfile_stage_restart_proto_and_needed() {
    let e = Env::with_project("gf");
    e.ok(&["run", "prepare", "-y"]);
    let o = e.run(&["run", "prepare", "--needed", "-y"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("Skipping because the following runs match")
    );
    assert_eq!(e.run_dirs().len(), 1);
    e.ok(&["run", "prepare", "n=5", "--stage", "-y"]);
    let staged = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(e.status_of(&staged), "staged");
    let out = e.ok(&["run", "--start", &staged[..8], "n=6", "-y"]);
    assert!(out.contains("prepare done n=6"), "{out}");
    assert_eq!(e.status_of(&staged), "completed");
    let dir = e.home.join("runs").join(&staged);
    // (`n` is quoted: Guild writes attrs as strict YAML, where it is a bool.)
    assert_eq!(attr(&dir, "user_flags").unwrap(), "'n': 6\n");
    // Restart in place with an override; the default label follows.
    let out = e.ok(&["run", "--restart", &staged[..8], "n=7", "-y"]);
    assert!(out.contains("n=7"));
    assert_eq!(attr(&dir, "label").unwrap(), "n=7\n");
    let output = std::fs::read_to_string(dir.join(".guild/output")).unwrap();
    assert_eq!(output, "prepare done n=7\n", "output replaced");
    let o = e.run(&["run", "--restart", &staged[..8], "--needed", "-y"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("flags have not changed"));
    // --proto: a new run from the old one's op, flags, source and seed.
    std::fs::write(e.proj.join("prepare.py"), "print('changed source')\n").unwrap();
    let out = e.ok(&["run", "--proto", &staged[..8], "-y"]);
    assert!(
        out.contains("prepare done n=7"),
        "proto source, not the project's: {out}"
    );
    let newest = e
        .home
        .join("runs")
        .join(e.runs_json()[0]["id"].as_str().unwrap());
    assert_eq!(attr(&newest, "random_seed"), attr(&dir, "random_seed"));
}

#[test]
fn guildfile_stoppable_and_delete_on_success() {
    let e = Env::with_project("gf");
    e.ok(&["run", "interim", "-y"]);
    assert!(e.run_dirs().is_empty(), "moved to the trash");
    assert_eq!(
        std::fs::read_dir(e.home.join("trash/runs"))
            .unwrap()
            .count(),
        1
    );
    let mut child = e
        .cmd(&["run", "sleeper", "-y"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("sleeper running", Duration::from_secs(20), || {
        e.runs_json()
            .first()
            .is_some_and(|r| r["status"] == "running")
    });
    e.ok(&["stop", "1", "-y"]);
    let st = child.wait().unwrap();
    assert!(st.success(), "a stopped stoppable op exits 0: {st:?}");
    assert_eq!(e.runs_json()[0]["status"], "completed");
}

#[test]
fn malformed_guildfiles_name_file_line_and_fix() {
    let cases = [
        (
            "train:\n  main: train\n  mian: x\n",
            "line 3, column 3",
            "did you mean 'main'",
        ),
        ("train:\n  main: x\n   bad: [\n", "invalid YAML", "line "),
        (
            "train:\n  flags: [1, 2]\n",
            "line 2, column 3",
            "invalid flags value [1, 2] in operation 'train': expected a mapping",
        ),
        (
            "train:\n  flags:\n    opt:\n      default: x\n      choices: [a, b]\n",
            "line 3",
            "choose from a, b",
        ),
        (
            "- config: a\n  extends: b\n- config: b\n  extends: a\n- model: m\n  extends: a\n",
            "cycle in 'extends'",
            "a -> b -> a",
        ),
        (
            "train:\n  requires:\n    - file: nope.txt\n",
            "cannot find source file 'nope.txt'",
            "create it",
        ),
        (
            "train:\n  stoppable: maybe\n",
            "invalid stoppable value maybe",
            "expected yes or no",
        ),
    ];
    for (yml, want1, want2) in cases {
        let e = Env::with_project("gf");
        std::fs::write(e.proj.join("guild.yml"), yml).unwrap();
        let o = e.run(&["run", "train", "-y"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{yml}: {err}");
        assert!(err.contains(want1) && err.contains(want2), "{yml}: {err}");
        if !want1.contains("nope") {
            assert!(err.contains("guild.yml"), "names the file: {err}");
        }
        if want1.contains("nope") {
            // An unmet dependency: an error run that never started, as Guild.
            let runs = e.runs_json();
            assert_eq!(runs.len(), 1, "{yml}");
            assert_eq!(runs[0]["status"], "error");
            assert!(!e.run_dirs()[0].join(".guild/output").exists());
        } else {
            assert!(e.run_dirs().is_empty(), "{yml}: no run left");
        }
    }
}

/// The same guild.yml project run by guild and by Guild 0.9.0 gives the
/// same flags, labels, commands, source snapshots and dependency records,
/// and each tool starts the other's staged runs.
#[test]
fn guildfile_runs_match_guild_090_both_ways() {
    let venv = guild_venv();
    let e = Env::with_project("gf");
    let gh_py = e.home.parent().unwrap().join("gh-py");
    std::fs::create_dir_all(&gh_py).unwrap();
    let guild_py = |home: &Path, args: &[&str]| -> Output {
        Command::new(venv.join("bin/guild"))
            .args(args)
            .env("GUILD_HOME", home)
            .env("NO_IMPORT_FLAGS_PROGRESS", "1")
            .env_remove("VIRTUAL_ENV")
            .current_dir(&e.proj)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &["run", "prepare", "-y"][..],
        &["run", "train", "lr=0.2", "-y"],
    ] {
        e.ok(args);
        let o = guild_py(&gh_py, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let newest = |home: &Path, op: &str| -> PathBuf {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(home.join("runs"))
            .unwrap()
            .flatten()
            .map(|d| d.path())
            .filter(|p| {
                std::fs::read_to_string(p.join(".guild/opref"))
                    .unwrap()
                    .ends_with(&format!(" {op}"))
            })
            .collect();
        runs.sort_by_key(|p| attr(p, "started").unwrap().trim().parse::<i64>().unwrap());
        runs.pop().unwrap()
    };
    let (ours, theirs) = (newest(&e.home, "train"), newest(&gh_py, "train"));
    let strip_ids = |s: String| {
        let re = regex::Regex::new("[0-9a-f]{32}").unwrap();
        re.replace_all(&s, "ID").into_owned()
    };
    for a in [
        "flags",
        "label",
        "tags",
        "user_flags",
        "deps",
        "opref_",
        "exit_status",
    ] {
        if a == "opref_" {
            let o = std::fs::read_to_string(ours.join(".guild/opref")).unwrap();
            let t = std::fs::read_to_string(theirs.join(".guild/opref")).unwrap();
            assert_eq!(o, t, "opref");
            continue;
        }
        assert_eq!(
            attr(&ours, a).map(strip_ids),
            attr(&theirs, a).map(strip_ids),
            "attr {a}"
        );
    }
    let tail = |run: &Path| -> Vec<String> {
        let cmd: Vec<String> = serde_yaml_ng::from_str(&attr(run, "cmd").unwrap()).unwrap();
        let i = cmd.iter().position(|a| a == "train").unwrap();
        cmd[i..].to_vec()
    };
    assert_eq!(tail(&ours), tail(&theirs), "command after the interpreter");
    let manifest = |run: &Path| -> Vec<String> {
        std::fs::read_to_string(run.join(".guild/manifest"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        manifest(&ours),
        manifest(&theirs),
        "source snapshot and dep files"
    );
    assert_eq!(
        attr(&ours, "sourcecode_digest"),
        attr(&theirs, "sourcecode_digest")
    );
    // Guild reads our guild.yml runs.
    let o = guild_py(&e.home, &["runs", "list", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(listed[0]["opref"].as_str().unwrap().ends_with("'' train"));
    assert_eq!(listed[0]["status"], "completed");
    assert_eq!(listed[0]["label"], "adam lr=0.2");
    // Guild starts a run we staged; we start one Guild staged.
    e.ok(&["run", "prepare", "n=4", "--stage", "-y"]);
    let staged = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let o = guild_py(&e.home, &["run", "--start", &staged, "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("prepare done n=4"));
    assert_eq!(e.status_of(&staged), "completed");
    let o = guild_py(&gh_py, &["run", "prepare", "n=8", "--stage", "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs = newest(&gh_py, "prepare");
    let id = theirs.file_name().unwrap().to_str().unwrap().to_string();
    let out = e.ok(&["-H", gh_py.to_str().unwrap(), "run", "--start", &id, "-y"]);
    assert!(out.contains("prepare done n=8"), "{out}");
    assert_eq!(attr(&theirs, "exit_status").unwrap(), "0\n");
}

/// guild.yml.example is examples/project's guild.yml, and every
/// `$ guild ...` line in its comments succeeds, in order.
#[test]
fn guild_yml_example_runs_as_its_comments_show() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("guild.yml.example")).unwrap();
    assert_eq!(
        example,
        std::fs::read_to_string(root.join("examples/project/guild.yml")).unwrap(),
        "guild.yml.example and examples/project/guild.yml must be identical"
    );
    let e = Env::new();
    let proj = e.proj.parent().unwrap().join("example");
    copy_tree(&root.join("examples/project"), &proj);
    let cmds: Vec<Vec<String>> = example
        .lines()
        .filter_map(|l| l.strip_prefix("#   $ guild "))
        .map(|l| shlex::split(l).unwrap())
        .collect();
    assert!(cmds.len() >= 15, "{cmds:?}");
    for args in cmds {
        let o = e.cmd(&[]).args(&args).current_dir(&proj).output().unwrap();
        assert!(
            o.status.success(),
            "guild {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let runs = e.runs_json();
    let ops: Vec<&str> = runs
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    for op in [
        "linear:prepare",
        "linear:train",
        "linear:evaluate",
        "linear:all",
        "linear:report",
    ] {
        assert!(ops.contains(&op), "{op} in {ops:?}");
    }
    assert!(runs.iter().all(|r| r["status"] == "completed"), "{runs:?}");
    // prepare: raw.csv copied, README.txt linked as docs/notes.txt.
    let prep = runs
        .iter()
        .rev()
        .find(|r| r["operation"] == "linear:prepare")
        .unwrap();
    let dir = e.home.join("runs").join(prep["id"].as_str().unwrap());
    assert!(dir.join("raw.csv").symlink_metadata().unwrap().is_file());
    let link = std::fs::read_link(dir.join("docs/notes.txt")).unwrap();
    assert!(
        link.ends_with("examples/project/data/README.txt")
            || link.ends_with("example/data/README.txt"),
        "{link:?}"
    );
    assert!(
        dir.join("prepare.py").exists(),
        "sourcecode root src/ copied to the run root"
    );
    let cmd = e
        .cmd(&["run", "train", "lr=0.5", "--print-cmd"])
        .current_dir(&proj)
        .output()
        .unwrap();
    let cmd = String::from_utf8_lossy(&cmd.stdout);
    assert!(
        cmd.contains(" train -- --epochs 5 --lr 0.5 --optimizer sgd --seed 0"),
        "{cmd}"
    );
}

// ------------------------------------------------------------------ sweeps

fn batch_dir(e: &Env) -> PathBuf {
    let runs = e.runs_json();
    let b = runs
        .iter()
        .find(|r| r["operation"].as_str().unwrap().contains('+'))
        .expect("a batch run");
    e.home.join("runs").join(b["id"].as_str().unwrap())
}

fn trial_flags(e: &Env) -> Vec<String> {
    let mut v: Vec<String> = e
        .runs_json()
        .iter()
        .filter(|r| r["operation"] == "train.py")
        .map(|r| {
            let dir = e.home.join("runs").join(r["id"].as_str().unwrap());
            attr(&dir, "flags").unwrap()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn grid_sweep_makes_a_batch_with_proto_and_linked_trials() {
    let e = Env::new();
    let out = e.ok(&[
        "run",
        "train.py",
        "lr=[0.1,0.2]",
        "epochs=range[1:3]",
        "-y",
        "--keep-batch",
    ]);
    assert_eq!(out.matches("done").count(), 0, "stdout has trial output");
    let runs = e.runs_json();
    assert_eq!(runs.len(), 7, "batch + 6 trials");
    let batch = batch_dir(&e);
    assert_eq!(
        std::fs::read_to_string(batch.join(".guild/opref")).unwrap(),
        "builtin:guildai 0.9.0 '' +"
    );
    let proto = batch.join(".guild/proto");
    assert!(attr(&proto, "flags")
        .unwrap()
        .contains("lr:\n- 0.1\n- 0.2\n"));
    assert!(
        proto.join("train.py").exists(),
        "proto has the source snapshot"
    );
    let links: Vec<PathBuf> = std::fs::read_dir(&batch)
        .unwrap()
        .flatten()
        .filter(|d| d.file_type().unwrap().is_symlink())
        .map(|d| d.path())
        .collect();
    assert_eq!(links.len(), 6);
    for l in &links {
        assert!(l.join(".guild/opref").exists(), "link to a trial run");
    }
    let flags = trial_flags(&e);
    assert_eq!(flags.len(), 6);
    assert!(flags.iter().all(|f| f.contains("fail-code: 0")));
    assert_eq!(flags.iter().filter(|f| f.contains("epochs: 3")).count(), 2);
    // Trials are named after the batch.
    let bname = attr(&batch, "name").unwrap().trim().to_string();
    let trial = e.ok(&["runs", "info", &format!("{bname}-exp0"), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&trial).unwrap();
    assert_eq!(info["flags"]["epochs"], 1);
    assert!(e
        .ok(&["runs", "--names"])
        .contains(&format!("{bname}-exp5")));
    // Guild 0.9.0 reads it as a batch and trials.
    let venv = guild_venv();
    let g = Command::new(venv.join("bin/guild"))
        .args(["runs", "list", "-a"])
        .env("GUILD_HOME", &e.home)
        .current_dir(&e.proj)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&g.stdout);
    assert!(
        listing.contains("train.py+") && listing.matches("completed").count() == 7,
        "{listing}"
    );
}

#[test]
fn random_search_is_reproducible_with_a_seed() {
    let e = Env::new();
    let args = [
        "run",
        "train.py",
        "lr=loguniform[1e-4:1e-1]",
        "opt=[adam,sgd]",
        "epochs=1",
        "--max-trials",
        "4",
        "--random-seed",
        "9",
        "-y",
        "-q",
        "--keep-batch",
    ];
    e.ok(&args);
    let first = trial_flags(&e);
    assert_eq!(first.len(), 4);
    assert!(batch_dir(&e).join(".guild/opref").exists());
    let e2 = Env::new();
    e2.ok(&args);
    assert_eq!(trial_flags(&e2), first, "same seed, same trials");
    let o = e.ok(&["run", "train.py", "lr=uniform[0:1]", "--print-trials"]);
    assert_eq!(o.lines().count(), 21, "default 20 random trials: {o}");
}

#[test]
fn grid_syntax_sweeps_like_guild_lists() {
    let e = Env::new();
    e.ok(&[
        "run",
        "train.py",
        "--lr",
        "[0.1, 0.2]",
        "--opt",
        "['adam', 'sgd']",
        "-y",
        "-q",
        "--",
        "--epochs",
        "range(1, 2)",
    ]);
    let flags = trial_flags(&e);
    assert_eq!(flags.len(), 4);
    assert!(flags
        .iter()
        .any(|f| f.contains("lr: 0.2") && f.contains("opt: sgd")));
    let e = Env::new();
    let seeded = [
        "run",
        "train.py",
        "--lr",
        "uniform(0.01, 0.1, 5)",
        "--strategy",
        "random_search",
        "--num-trials",
        "3",
        "--seed",
        "4",
        "--print-trials",
    ];
    let o = e.ok(&seeded);
    assert_eq!(o.lines().count(), 4, "{o}");
    let o2 = e.ok(&seeded);
    assert_eq!(o, o2, "seeded");
    // A script flag named like a `run` option is the script's after it.
    let e = Env::new();
    std::fs::write(
        e.proj.join("opt.py"),
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--optimizer', default='sgd')\nprint(p.parse_args().optimizer)\n",
    )
    .unwrap();
    let out = e.ok(&["run", "opt.py", "--optimizer", "['sgd','adam']", "-y"]);
    assert!(out.contains("sgd\n") && out.contains("adam\n"), "{out}");
    assert_eq!(
        e.runs_json()
            .iter()
            .filter(|r| r["operation"] == "opt.py")
            .count(),
        2
    );
}

#[test]
fn bad_sweeps_fail_before_anything_runs() {
    let e = Env::new();
    let cases: [(&[&str], &str); 8] = [
        (&["lr=[]"], "empty list"),
        (&["lr=range[1:5:0]"], "step must not be zero"),
        (&["lr=range[5:1]"], "inverted"),
        (&["lr=choice[1:2]"], "unknown function 'choice'"),
        (&["--lr", "beta(1, 2, 3)"], "unknown distribution 'beta'"),
        (&["lr=uniform(0,1,3)"], "mixes Grid syntax"),
        (&["--lr", "uniform[0:1]"], "mixes Guild syntax"),
        (&["epochs=range[1:200]", "lr=range[1:200]"], "--max-trials"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["run", "train.py", "-y"];
        args.extend_from_slice(extra);
        let o = e.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    assert!(e.run_dirs().is_empty());
}

#[test]
fn parallel_trials_overlap_and_failures_do_not_stop_the_sweep() {
    let e = Env::new();
    e.ok(&[
        "run",
        "train.py",
        "sleep=[1.0,1.01]",
        "epochs=1",
        "--parallel",
        "2",
        "-y",
        "-q",
    ]);
    let times: Vec<(i64, i64)> = e
        .runs_json()
        .iter()
        .filter(|r| r["operation"] == "train.py")
        .map(|r| {
            let d = e.home.join("runs").join(r["id"].as_str().unwrap());
            let t = |a: &str| attr(&d, a).unwrap().trim().parse::<i64>().unwrap();
            (t("started"), t("stopped"))
        })
        .collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[0].0 < times[1].1 && times[1].0 < times[0].1,
        "trials overlap: {times:?}"
    );
    // Without -q each trial's output is shown, every line (stdout and
    // stderr alike) after the trial's name.
    let e = Env::new();
    let o = e.run(&[
        "run",
        "train.py",
        "lr=[0.1,0.2]",
        "epochs=1",
        "--parallel",
        "2",
        "-y",
    ]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    let name = e.runs_json()[0]["name"].as_str().unwrap().to_string();
    let prefix = format!("[{}-exp", name.rsplit_once("-exp").unwrap().0);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with(&prefix) && l.ends_with("step: 1"))
            .count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| !l.starts_with(&prefix)).count(),
        0,
        "{out}"
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("] done training"))
            .count(),
        2,
        "{err}"
    );
    let e = Env::new();
    let o = e.run(&[
        "run",
        "train.py",
        "fail-code=[3,0]",
        "epochs=1",
        "-y",
        "-q",
        "--keep-batch",
    ]);
    assert!(o.status.success());
    let st: Vec<String> = e
        .runs_json()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(st.iter().filter(|s| *s == "error").count(), 1, "{st:?}");
    assert_eq!(st.iter().filter(|s| *s == "completed").count(), 2, "{st:?}");
    let e = Env::new();
    let o = e.run(&[
        "run",
        "train.py",
        "fail-code=[3,0]",
        "epochs=1",
        "--fail-on-trial-error",
        "-y",
        "-q",
    ]);
    assert!(!o.status.success());
    // Stopped at the failure: the other trial (staged up front) never ran.
    let st: Vec<String> = e
        .runs_json()
        .iter()
        .filter(|r| r["operation"] == "train.py")
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(
        st.iter().filter(|s| *s == "pending").count(),
        1,
        "stopped at the failure: {st:?}"
    );
}

#[test]
fn stopping_a_sweep_stops_every_running_trial() {
    let e = Env::new();
    let mut child = e
        .cmd(&[
            "run",
            "train.py",
            "sleep=[30.0,30.1,30.2]",
            "epochs=1",
            "--parallel",
            "2",
            "-y",
            "-q",
        ])
        .spawn()
        .unwrap();
    wait_until("two trials running", Duration::from_secs(30), || {
        e.runs_json()
            .iter()
            .filter(|r| r["operation"] == "train.py" && r["status"] == "running")
            .count()
            == 2
    });
    let batch = batch_dir(&e);
    let bid = batch.file_name().unwrap().to_str().unwrap().to_string();
    e.ok(&["stop", &bid[..8], "-y"]);
    let _ = child.wait().unwrap();
    wait_until("all stopped", Duration::from_secs(30), || {
        e.runs_json().iter().all(|r| r["status"] != "running")
    });
    let trials: Vec<serde_json::Value> = e
        .runs_json()
        .into_iter()
        .filter(|r| r["operation"] == "train.py")
        .collect();
    // Every trial was staged up front; the third was never started.
    assert_eq!(trials.len(), 3, "{trials:?}");
    assert_eq!(
        trials
            .iter()
            .filter(|r| r["status"] == "terminated")
            .count(),
        2,
        "{trials:?}"
    );
    assert_eq!(
        trials.iter().filter(|r| r["status"] == "pending").count(),
        1,
        "the third trial was never started: {trials:?}"
    );
}

#[test]
fn needed_skips_done_trials_and_stop_after_ends_runs() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "epochs=1", "-y", "-q"]);
    let o = e.run(&[
        "run",
        "train.py",
        "lr=[0.1,0.2]",
        "epochs=1",
        "--needed",
        "-y",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Skipping trial 0"));
    assert_eq!(
        e.runs_json()
            .iter()
            .filter(|r| r["operation"] == "train.py")
            .count(),
        2
    );
    let o = e.run(&[
        "run",
        "train.py",
        "sleep=60",
        "epochs=1",
        "--stop-after",
        "0.01",
        "-y",
        "-q",
    ]);
    assert!(!o.status.success());
    assert_eq!(e.runs_json()[0]["status"], "terminated");
    // Guild's words for it.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        regex::Regex::new(r"Stopping process early \(pid \d+\) - 0\.\d minute\(s\) elapsed")
            .unwrap()
            .is_match(&err),
        "{err}"
    );
}

#[test]
fn status_history_logs_and_compare() {
    let e = Env::new();
    e.ok(&[
        "run",
        "train.py",
        "lr=[0.1,0.2,0.3]",
        "epochs=2",
        "-y",
        "-q",
    ]);
    let hist = e.ok(&["history"]);
    let line = hist.lines().find(|l| l.contains("train.py+")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cols[3..9],
        ["completed", "0", "0", "3", "0", "0"],
        "{hist}"
    );
    assert!(e.ok(&["status"]).is_empty());
    let logs = e.ok(&["logs", "1"]);
    let re =
        regex::Regex::new(r"^\[stdout\] \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00\] step: 1$")
            .unwrap();
    assert!(logs.lines().any(|l| re.is_match(l)), "{logs}");
    assert!(logs.contains("[stderr] ["), "{logs}");
    let csv = e.ok(&["compare", "--csv", "--min", "loss"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "run,operation,started,time,status,label,debug,epochs,fail-code,lr,opt,sleep,step,acc,loss"
    );
    assert_eq!(lines.len(), 4, "trials only (no batch): {csv}");
    assert!(lines[1].contains(",0.3,"), "best first: {csv}");
    let top: Vec<serde_json::Value> =
        serde_json::from_str(&e.ok(&["compare", "--top", "1", "--json", "-c", "max acc as best"]))
            .unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0]["lr"], 0.3);
    assert!(top[0]["best"].as_f64().unwrap() > 0.9);
    let mut follow = e
        .cmd(&["run", "train.py", "sleep=1", "epochs=1", "-y", "-q", "-b"])
        .output()
        .unwrap();
    assert!(follow.status.success());
    follow = e.cmd(&["logs", "1", "--follow"]).output().unwrap();
    let out = String::from_utf8_lossy(&follow.stdout);
    assert!(
        out.contains("] loss: ") && out.contains("[stderr]"),
        "{out}"
    );
}

#[test]
fn compare_csv_matches_guild_090() {
    let venv = guild_venv();
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=[0.1,0.2]", "epochs=2", "-y", "-q"]);
    e.ok(&["run", "globs.py", "-y", "-q"]);
    let ours = e.ok(&["compare", "--csv"]);
    let g = Command::new(venv.join("bin/guild"))
        .args(["compare", "--csv", "-"])
        .env("GUILD_HOME", &e.home)
        .current_dir(&e.proj)
        .output()
        .unwrap();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(ours, String::from_utf8_lossy(&g.stdout));
}

#[test]
fn guildfile_flags_dest_none_sourcecode_off_file_select_and_scalar_mapping() {
    let e = Env::with_project("gf");
    // Without a source copy the module is not in the run: as with Guild, it
    // is found only through the caller's PYTHONPATH.
    let o = e.run(&["run", "selected", "n=9", "-y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No module named prepare"));
    let o = e
        .cmd(&["run", "selected", "n=9", "-y"])
        .env("PYTHONPATH", &e.proj)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("prepare done n=1"),
        "flags-dest none: the script keeps its own value: {out}"
    );
    let run = run_of(&e, "selected");
    assert!(
        run.join("inputs/a.csv").exists(),
        "file select into target-path"
    );
    assert!(
        !run.join("prepare.py").exists(),
        "sourcecode: no copies nothing"
    );
    let manifest = std::fs::read_to_string(run.join(".guild/manifest")).unwrap();
    let lines: Vec<&str> = manifest.lines().collect();
    assert_eq!(lines.len(), 1, "only the dependency: {manifest}");
    assert!(
        lines[0].starts_with("d inputs/a.csv ") && lines[0].ends_with(" file:data/a.csv"),
        "{manifest}"
    );
    let cmd = attr(&run, "cmd").unwrap();
    assert!(!cmd.contains("--n"), "{cmd}");
    assert!(attr(&run, "flags").unwrap().contains("'n': 9"));
    let info = e.ok(&["runs", "info", "1"]);
    assert!(
        info.contains("prepared: 1.000000"),
        "output-scalars mapping: {info}"
    );
}

#[test]
fn remotes_are_listed_from_the_user_config_as_guild_090_lists_them() {
    let e = Env::new();
    let cfg = e.proj.join("guild-config.yml");
    std::fs::write(
        &cfg,
        "remotes:\n  gpu1: {type: ssh, host: gpu1.example.com, port: 2222, description: A GPU box}\n  hpc: {type: slurm, host: login.hpc, partition: gpu, cpus-per-task: 4}\n  archive: {type: s3, bucket: b}\n",
    )
    .unwrap();
    // Found in the command's directory, as Guild finds it.
    let ours = e
        .cmd(&["remotes"])
        .env_remove("GUILD_CONFIG")
        .output()
        .unwrap();
    let theirs = e
        .guild090_cmd(&["remotes"])
        .env_remove("GUILD_CONFIG")
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert!(String::from_utf8_lossy(&ours.stdout).contains("gpu1     ssh    A GPU box"));
    // $GUILD_CONFIG wins; a bad setting is one line naming remote and key.
    let bad = e.home.join("bad.yml");
    std::fs::write(&bad, "remotes:\n  gpu1: {type: ssh, host: h, port: ssh}\n").unwrap();
    let o = e
        .cmd(&["remotes"])
        .env("GUILD_CONFIG", &bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("remote 'gpu1'") && err.contains("`port`"),
        "{err}"
    );
}

/// The client config of the test sshd that scripts/setup-test-env.sh
/// starts (a real OpenSSH server on 127.0.0.1).
fn test_sshd_config() -> PathBuf {
    let state = std::env::var("GUILD_TEST_SSHD_STATE").unwrap_or("/tmp/guild-test-sshd".into());
    let cfg = Path::new(&state).join("client/ssh_config");
    assert!(
        cfg.is_file(),
        "no test sshd at {state}: run scripts/setup-test-env.sh (it starts one)"
    );
    cfg
}

#[test]
fn remote_status_reaches_a_real_sshd_and_names_each_problem() {
    let e = Env::new();
    let ssh_config = test_sshd_config();
    std::fs::write(
        e.proj.join("guild-config.yml"),
        format!(
            "remotes:\n  box: {{type: ssh, host: sshd-local, ssh-config: '{c}'}}\n  down: {{type: ssh, host: 127.0.0.1, port: 1, connect-timeout: 2}}\n  ro: {{type: ssh, host: sshd-local, ssh-config: '{c}', guild-home: /proc/guild}}\n",
            c = ssh_config.display()
        ),
    )
    .unwrap();
    let status = |name: &str| e.remote_status(name);
    let o = status("box");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("reachable: yes"), "{out}");
    assert!(out.contains("guild home: /home/sshtest/.guild"), "{out}");
    assert!(out.contains("python: Python 3"), "{out}");
    // Unreachable: one line that says what to check.
    let o = status("down");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot reach 127.0.0.1:1") && err.contains("Connection refused"),
        "{err}"
    );
    // A guild home that cannot be made is shown as the problem (exit 1).
    let o = status("ro");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("/proc/guild (missing and cannot be created"),
        "{out}"
    );
    let o = status("nope");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("there is no remote 'nope'; declared: box, down, ro"),
        "{err}"
    );
}

#[test]
fn remote_status_checks_a_real_slurm_here_and_through_a_login_node() {
    let e = Env::new();
    let ssh_config = test_sshd_config();
    // The test setup starts a single-node Slurm whose partition is `debug`.
    std::fs::write(
        e.proj.join("guild-config.yml"),
        format!(
            "remotes:\n  hpc: {{type: slurm, partition: debug, guild-home: '{h}'}}\n  hpc-login: {{type: slurm, host: sshd-local, ssh-config: '{c}', partition: gpu}}\n",
            h = e.home.display(),
            c = ssh_config.display()
        ),
    )
    .unwrap();
    let status = |name: &str| e.remote_status(name);
    let o = status("hpc");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("sbatch: /"), "{out}");
    assert!(out.contains("partitions: debug* (up"), "{out}");
    assert!(out.contains("partition: debug (up)"), "{out}");
    assert!(out.contains("(writable)"), "{out}");
    // Through the login node (sshd): reachable, but no such partition.
    let o = status("hpc-login");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("remote: hpc-login (slurm sshd-local)"),
        "{out}"
    );
    assert!(out.contains("partition: gpu NOT found"), "{out}");
}

#[path = "cli/api.rs"]
mod api;
#[path = "cli/buckets.rs"]
mod buckets;
#[path = "cli/datastores.rs"]
mod datastores;
#[path = "cli/index.rs"]
mod index;
#[path = "cli/merge_publish.rs"]
mod merge_publish;
#[path = "cli/remote.rs"]
mod remote;
#[path = "cli/safety.rs"]
mod safety;
#[path = "cli/view.rs"]
mod view;

/// `guild select` prints what Guild 0.9.0's does, and marks set by one
/// tool are seen by the other.
#[test]
fn select_and_mark_match_guild_090() {
    let e = Env::new();
    for lr in ["0.1", "0.3", "0.2"] {
        e.ok(&[
            "run",
            "train.py",
            &format!("lr={lr}"),
            "-y",
            "-q",
            "-l",
            &format!("lr {lr}"),
        ]);
    }
    let guild = |args: &[&str]| e.guild090(args);
    for args in [
        &["select"][..],
        &["select", "-s"],
        &["select", "2"],
        &["select", "-a", "label"],
        &["select", "-a", "flags", "3"],
        &["select", "-a", "status"],
        &["select", "-p", "1"],
        &["select", "--min", "loss"],
        &["select", "--max", "loss", "-s"],
        &["select", "-max", "=lr"],
        &["select", "-A", "-s"],
        &["select", "1", "3"],
        &["select", "-Fl", "lr 0.3"],
        &["select", "-a", "nope"],
        &["select", "-s", "-a", "id"],
    ] {
        let ours = e.run(args);
        let theirs = guild(args);
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "guild {args:?}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "guild {args:?}");
    }
    // Marks: ours seen by Guild, Guild's seen by ours.
    e.ok(&["mark", "2", "-y"]);
    let g = guild(&["select", "-Fm", "-s"]);
    assert_eq!(
        String::from_utf8_lossy(&g.stdout),
        e.ok(&["select", "2", "-s"])
    );
    assert!(guild(&["mark", "--clear", "-y"]).status.success());
    assert!(guild(&["mark", "3", "-y"]).status.success());
    assert_eq!(
        e.ok(&["select", "--marked", "-s"]),
        e.ok(&["select", "3", "-s"])
    );
    e.ok(&["unmark", "-y"]);
    let o = e.run(&["select", "--marked"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no matching runs"));
}

/// Prompts read their answer from stdin, a terminal or not, as Guild 0.9.0
/// does; end of input is no, exit 1, with a message; exit codes match.
#[test]
fn prompts_read_piped_answers_like_guild_090() {
    let venv = guild_venv();
    let answer = |bin: &Path, e: &Env, args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut c = Command::new(bin);
        c.args(args)
            .env("GUILD_HOME", &e.home)
            .current_dir(&e.proj)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(i) = input {
            stdin.write_all(i.as_bytes()).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    for (tool, bin) in [
        ("ours", PathBuf::from(BIN)),
        ("Guild", venv.join("bin/guild")),
    ] {
        let e = Env::new();
        let o = answer(&bin, &e, &["run", "train.py", "epochs=1"], Some("y\n"));
        assert_eq!(o.status.code(), Some(0), "{tool}: y runs");
        assert_eq!(e.run_dirs().len(), 1, "{tool}");
        let o = answer(&bin, &e, &["run", "train.py"], Some("n\n"));
        assert_eq!(o.status.code(), Some(0), "{tool}: n does nothing");
        let o = answer(&bin, &e, &["run", "train.py"], None);
        assert_eq!(o.status.code(), Some(1), "{tool}: end of input is no");
        assert_eq!(e.run_dirs().len(), 1, "{tool}: no run made");
        let o = answer(&bin, &e, &["runs", "rm", "1"], Some("n\n"));
        assert_eq!(o.status.code(), Some(4), "{tool}: answered no");
        let o = answer(&bin, &e, &["runs", "rm", "1"], None);
        assert_eq!(o.status.code(), Some(1), "{tool}: end of input");
        assert_eq!(e.run_dirs().len(), 1, "{tool}: run kept");
        let o = answer(&bin, &e, &["runs", "rm", "1"], Some("\n"));
        assert_eq!(o.status.code(), Some(0), "{tool}: delete defaults to yes");
        assert_eq!(e.run_dirs().len(), 0, "{tool}");
        if tool == "ours" {
            let o = answer(&bin, &e, &["run", "train.py"], None);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("give -y to go ahead without asking"), "{err}");
        }
    }
}

/// `guild completion` scripts load in their shell and complete commands;
/// `--install` loads the bash one from the init file, once.
#[test]
fn completion_scripts_complete_commands_and_install_once() {
    let e = Env::new();
    let script = e.ok(&["completion", "-s", "bash"]);
    let path = e.proj.join("guild.bash");
    std::fs::write(&path, &script).unwrap();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(guild sel); COMP_CWORD=1; _guild guild sel guild; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&o.stdout);
    assert!(got.split_whitespace().any(|w| w == "select"), "{got}");
    assert!(e
        .ok(&["completion", "-s", "zsh"])
        .starts_with("#compdef guild"));
    assert!(e
        .ok(&["completion", "-s", "fish"])
        .contains("complete -c guild"));
    let home = e.proj.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".bashrc"), "alias ll='ls -l'\n").unwrap();
    for _ in 0..2 {
        let o = e
            .cmd(&["completion", "--install"])
            .env("HOME", &home)
            .env("SHELL", "/bin/bash")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let rc = std::fs::read_to_string(home.join(".bashrc")).unwrap();
    assert!(rc.starts_with("alias ll='ls -l'\n"), "{rc}");
    assert_eq!(
        rc.matches(".guild-completion.bash").count(),
        2,
        "one line: {rc}"
    );
    let o = e
        .cmd(&["completion"])
        .env("SHELL", "/bin/tcsh")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give --shell bash, zsh or fish"));
}

#[test]
fn listings_compare_and_filters_match_guild_090() {
    let e = Env::new();
    // A sweep (its batch goes when it ends well), a labelled run with a
    // tiny lr, a failed run, a marked run, a user-chosen run id.
    e.ok(&["run", "train.py", "lr=[0.1,0.3]", "epochs=2", "-y", "-q"]);
    e.ok(&[
        "run", "train.py", "lr=1e-7", "epochs=1", "-l", "tiny lr", "-y", "-q",
    ]);
    e.ok(&[
        "run",
        "train.py",
        "lr=0.00017735",
        "epochs=1",
        "-y",
        "-q",
        "--run-id",
        "up1",
    ]);
    let failed = e.run(&["run", "train.py", "fail-code=3", "epochs=1", "-y", "-q"]);
    assert_eq!(failed.status.code(), Some(3));
    e.ok(&["mark", "2", "-y"]);
    let guild = |args: &[&str]| e.guild090_cmd(args).env("COLUMNS", "200").output().unwrap();
    for args in [
        &["runs"][..],
        &["runs", "-s"],
        &["runs", "-s", "-Fl", "tiny"],
        &["compare", "-t"],
        &["compare", "-t", "-cc", ".operation,=lr,loss,acc"],
        &["compare", "-t", "-c", "lr,epochs,max acc as best"],
        &["compare", "-t", "--min", "loss", "-cc", "=lr,loss"],
        &["compare", "-t", "--max", "=lr", "-cc", "=lr"],
        &["compare", "-t", "-cc", ".label,=lr", "-u"],
        &["compare", "-t", "-cc", ".label", "--filter", "lr < 0.01"],
        &[
            "compare",
            "-t",
            "-cc",
            "=lr",
            "-F",
            "lr in [0.1,0.3] and loss < 0.5",
        ],
        &[
            "compare",
            "-t",
            "-cc",
            ".status",
            "-F",
            "status = error or label contains tiny",
        ],
        &["compare", "-t", "-cc", "=lr", "-F", "acc is undefined"],
        &["compare", "-t", "-cc", "=lr", "-F", "not op = train.py"],
        &["runs", "-s", "-F", "exit_status = 3"],
        &["compare", "--csv", "-", "-cc", "=lr,loss"],
        &["compare", "-t", "-F", "lr = ("],
        &["compare", "-t", "-F", "("],
    ] {
        let ours = e.cmd(args).env("COLUMNS", "200").output().unwrap();
        let theirs = guild(args);
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "guild {args:?}"
        );
        if !theirs.status.success() {
            assert_eq!(
                String::from_utf8_lossy(&ours.stderr),
                String::from_utf8_lossy(&theirs.stderr),
                "guild {args:?}"
            );
        }
        assert_eq!(ours.status.code(), theirs.status.code(), "guild {args:?}");
    }
    // The sweep's batch run is in the trash, its trials listed, and the
    // sweep still shown as one experiment with both trials.
    let listing = e.ok(&["runs", "-s"]);
    assert!(!listing.contains('+'), "{listing}");
    assert!(e.ok(&["runs", "-d"]).contains("train.py+"));
    let hist: Vec<serde_json::Value> = serde_json::from_str(&e.ok(&["history", "--json"])).unwrap();
    assert!(
        hist.iter().any(
            |h| h["operation"].as_str().is_some_and(|o| o.contains('+')) && h["completed"] == 2
        ),
        "{hist:?}"
    );
    // The label is the rest of Guild's line; names are opt-in.
    let line = e.ok(&["runs", "-Fl", "tiny"]);
    assert!(line.trim_end().ends_with("completed  tiny lr"), "{line}");
    let name = e.ok(&["runs", "info", "-Fl", "tiny", "--json"]);
    let name: serde_json::Value = serde_json::from_str(&name).unwrap();
    let name = name["name"].as_str().unwrap().to_string();
    assert!(!line.contains(&name), "{line}");
    assert!(e
        .ok(&["runs", "-Fl", "tiny", "--names"])
        .contains(&format!("{name}  tiny lr")));
}

#[test]
fn ctrl_c_ends_a_python_run_without_a_traceback() {
    let e = Env::new();
    let mut child = e
        .cmd(&["run", "train.py", "sleep=60", "epochs=1", "-y"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runs = e.home.join("runs");
    let mut run = PathBuf::new();
    // Python is inside the script (its handler for SIGINT is installed).
    wait_until("script sleeping", Duration::from_secs(20), || {
        std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| {
                let out = std::fs::read_to_string(d.path().join(".guild/output"));
                if out.is_ok_and(|o| o.contains("done training")) {
                    run = d.path();
                    true
                } else {
                    false
                }
            })
    });
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let recorded = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    for text in [&out, &err, &recorded] {
        assert!(
            !text.contains("Traceback") && !text.contains("KeyboardInterrupt"),
            "{text}"
        );
    }
    assert_eq!(attr(&run, "exit_status").unwrap(), "-16\n");
    assert_eq!(e.runs_json()[0]["status"], "terminated");
}

/// Guild 0.9.0's sample project `name` (shipped in the guildai package).
fn guild_sample(name: &str) -> PathBuf {
    let lib = guild_venv().join("lib");
    let py = std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|d| d.file_name().to_string_lossy().starts_with("python3"))
        .unwrap()
        .path();
    py.join("site-packages/guild/tests/samples/projects")
        .join(name)
}

/// One of Guild's sample projects, copied, with a home for this binary and
/// one for Guild 0.9.0: the same commands run on both sides compare.
struct SamplePair {
    proj: tempfile::TempDir,
    ours: tempfile::TempDir,
    theirs: tempfile::TempDir,
}

/// (exit code, stdout with trailing whitespace trimmed, stderr without
/// Guild's "Refreshing flags..." note)
type Outcome = (Option<i32>, String, String);

impl SamplePair {
    fn new(sample: &str) -> SamplePair {
        let proj = tempfile::tempdir().unwrap();
        copy_tree(&guild_sample(sample), proj.path());
        SamplePair {
            proj,
            ours: tempfile::tempdir().unwrap(),
            theirs: tempfile::tempdir().unwrap(),
        }
    }

    fn exec(&self, exe: &Path, home: &Path, args: &[&str]) -> Outcome {
        let o = Command::new(exe)
            .args(args)
            .env("GUILD_HOME", home)
            .current_dir(self.proj.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).trim_end().to_string(),
            String::from_utf8_lossy(&o.stderr).replace("Refreshing flags...\n", ""),
        )
    }

    fn ours(&self, args: &[&str]) -> Outcome {
        self.exec(Path::new(BIN), self.ours.path(), args)
    }

    fn theirs(&self, args: &[&str]) -> Outcome {
        self.exec(&guild_venv().join("bin/guild"), self.theirs.path(), args)
    }

    /// Run on both sides; assert the same outcome (whitespace in messages
    /// normalized: ours are on one line where Guild breaks them) and return
    /// it.
    fn both(&self, args: &[&str]) -> Outcome {
        let norm = |o: &Outcome| {
            let words: Vec<String> = o.2.split_whitespace().map(String::from).collect();
            (o.0, o.1.clone(), words)
        };
        let ours = self.ours(args);
        assert_eq!(norm(&ours), norm(&self.theirs(args)), "guild {args:?}");
        ours
    }
}

#[test]
fn dependency_flags_resolve_as_guild_090() {
    let venv = guild_venv();
    let proj = tempfile::tempdir().unwrap();
    copy_tree(&guild_sample("resource-flags"), proj.path());
    let ours_home = tempfile::tempdir().unwrap();
    let theirs_home = tempfile::tempdir().unwrap();
    let ids = regex::Regex::new("[0-9a-f]{32}").unwrap();
    let proj_path = regex::Regex::new(r"(\.\./)+\S*resource-flags/").unwrap();
    let run = |exe: &Path, home: &Path, args: &[&str]| {
        let o = Command::new(exe)
            .args(args)
            .env("GUILD_HOME", home)
            .env("NO_WARN_FLAGS_IMPORT", "1")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    venv.join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .current_dir(proj.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}<exit {}>",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            o.status.code().unwrap_or(-1)
        );
        ids.replace_all(&text, "ID")
            .replace(&home.display().to_string(), "HOME")
    };
    let guild = venv.join("bin/guild");
    let ours = Path::new(BIN);
    for args in [
        &["run", "file-source", "-y"][..],
        &["select", "--attr", "deps"],
        &["run", "file-source", "file:foo.txt=bar.txt", "-y"],
        &[
            "run",
            "file-source",
            "file:foo.txt=bar.txt",
            "--force-flags",
            "-y",
        ],
        &["select", "--attr", "deps"],
        &["run", "file-source-with-flag-name", "infile=bar.txt", "-y"],
        &["select", "--attr", "deps"],
        &["run", "file-source-with-name-2", "-y"],
        &["select", "--attr", "deps"],
        &["run", "op-source", "-y"],
        &["run", "upstream", "-y"],
        &["run", "op-source", "-y"],
        &["select", "--attr", "flags"],
        &["run", "op-source-with-flag-name", "upstream-run=nope", "-y"],
        &["run", "op-source-with-flag", "upstream=xxx", "-y"],
        &["run", "op-source-no-flag", "operation:upstream=xxx", "-y"],
        &["run", "multi-resource", "-y"],
        &["select", "--attr", "deps"],
        &["run", "op-source", "--help-op"],
        &["run", "file-source-with-flag", "--help-op"],
    ] {
        let a = run(ours, ours_home.path(), args);
        let b = run(&guild, theirs_home.path(), args);
        // Paths of dependencies are relative to each home's run.
        let norm = |s: &str| {
            proj_path
                .replace_all(s, "PROJ/")
                .replace("Refreshing flags...\n", "")
                // Deliberate: our error is one line (Guild breaks it here).
                .replace("' Try 'guild run", "'\nTry 'guild run")
        };
        assert_eq!(norm(&a), norm(&b), "guild {args:?}");
    }
}

#[test]
fn print_cmd_and_limited_listing_match_guild_090() {
    let e = Env::new();
    std::fs::write(e.proj.join("g.py"), "f1 = 1\nf3 = 'a'\nprint(f1, f3)\n").unwrap();
    let guild = |args: &[&str]| e.guild090(args);
    // The interpreter differs (each uses its own); the rest is Guild's.
    let tail = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                l.split_once(' ')
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
    };
    for args in [
        &["run", "train.py", "lr=0.2", "--print-cmd"][..],
        &["run", "train.py", "lr=[0.1,0.2]", "--print-cmd"],
        &["run", "g.py", "f3=[a,b]", "f1=2", "--print-cmd"],
        &["run", "g.py", "f3='1'", "--print-cmd"],
    ] {
        let ours = e.run(args);
        assert!(ours.status.success(), "{args:?}");
        assert_eq!(tail(&ours), tail(&guild(args)), "guild {args:?}");
    }
    e.ok(&["run", "g.py", "-y", "-q"]);
    e.ok(&["run", "g.py", "-y", "-q"]);
    let o = e.run(&["runs", "-n", "1"]);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "", "no note with -n");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&guild(&["runs", "-n", "1"]).stdout)
    );
    // The recorded command is Guild's form too.
    let cmd = e.ok(&["select", "-a", "cmd"]);
    assert!(cmd.contains("\n- -um\n- guild.op_main\n- g\n"), "{cmd}");
}

#[test]
fn ls_lists_like_guild_090() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("mk.py"),
        "import os\nos.makedirs('out/sub', exist_ok=True)\nos.makedirs('.hid', exist_ok=True)\n\
         for p in ['out/a10.txt', 'out/a2.txt', 'out/sub/b.txt', '.hid/x', '.dot', 'f1.txt']:\n    open(p, 'w').write('x')\n",
    )
    .unwrap();
    std::fs::write(e.proj.join("data.csv"), "1\n").unwrap();
    std::fs::write(
        e.proj.join("guild.yml"),
        "mk:\n  main: mk\n  requires:\n    - file: data.csv\n",
    )
    .unwrap();
    e.ok(&["run", "mk", "-y", "-q"]);
    let guild = |args: &[&str]| e.guild090(args);
    for args in [
        &["ls"][..],
        &["ls", "-n"],
        &["ls", "-a"],
        &["ls", "-p", "out"],
        &["ls", "-p", ".guild/attrs", "-n"],
        &["ls", "-p", "*.txt"],
        &["ls", "-p", "out/*"],
        &["ls", "-s"],
        &["ls", "-d"],
        &["ls", "-g"],
        &["ls", "-sg", "-n"],
        &["ls", "-f"],
        &["ls", "-p", "/abs"],
    ] {
        let ours = e.run(args);
        let theirs = guild(args);
        // Guild lists every file of this run, the tracker's own too
        // (`.guild/LOCK.start`), which its own runs do not have.
        let theirs_listed: String = String::from_utf8_lossy(&theirs.stdout)
            .lines()
            .filter(|l| !l.contains(".guild/LOCK.start") && !l.contains(".guild/LOCK.end-"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            theirs_listed,
            "guild {args:?}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "guild {args:?}");
    }
}

#[test]
fn models_and_model_steps_match_guild_090() {
    let venv = guild_venv();
    let proj = tempfile::tempdir().unwrap();
    copy_tree(&guild_sample("steps"), proj.path());
    let run = |exe: &Path, home: &Path, args: &[&str]| {
        let o = Command::new(exe)
            .args(args)
            .env("GUILD_HOME", home)
            .env("NO_WARN_FLAGS_IMPORT", "1")
            .current_dir(proj.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        format!(
            "{}{}<exit {}>",
            String::from_utf8_lossy(&o.stdout),
            // Guild 0.9.0 with this venv's click warns about every run
            // parameter of a step (a click 8.2+ incompatibility).
            String::from_utf8_lossy(&o.stderr)
                .replace("Refreshing flags...\n", "")
                .lines()
                .filter(|l| !l.starts_with("WARNING: [guild] run parameter "))
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
            o.status.code().unwrap_or(-1)
        )
    };
    let (h1, h2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for args in [
        &["models"][..],
        &["run", "m1:steps-basic", "-y"],
        &["run", "m1:steps-hello", "-y"],
        &["run", "m3:steps-invalid-bad-opspec-1", "-y"],
    ] {
        assert_eq!(
            run(Path::new(BIN), h1.path(), args),
            run(&venv.join("bin/guild"), h2.path(), args),
            "guild {args:?}"
        );
    }
}

#[test]
fn namespace_flags_dest_runs_as_guild_090() {
    let venv = guild_venv();
    let proj = tempfile::tempdir().unwrap();
    copy_tree(&guild_sample("flags-dest"), proj.path());
    let run = |exe: &Path, args: &[&str]| {
        let home = tempfile::tempdir().unwrap();
        let o = Command::new(exe)
            .args(args)
            .env("GUILD_HOME", home.path())
            .env("NO_WARN_FLAGS_IMPORT", "1")
            .current_dir(proj.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for args in [
        &["run", "params-namespace", "-y"][..],
        &["run", "params-namespace", "i=5", "-y"],
    ] {
        assert_eq!(
            run(Path::new(BIN), args),
            run(&venv.join("bin/guild"), args),
            "guild {args:?}"
        );
    }
}

#[test]
fn optimizer_flags_without_an_optimizer_fail_as_guild_090() {
    let e = Env::new();
    std::fs::write(e.proj.join("guild.yml"), "op:\n  main: guild.pass\n").unwrap();
    let args = ["run", "op", "-Fo", "foo=123", "-y"];
    let ours = e.run(&args);
    let theirs = e.guild090(&args);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr).replace("Refreshing flags...\n", "")
    );
    let o = e.run(&["run", "op", "-Fo", "foo=123", "-o", "random", "-y"]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .starts_with("guild: unsupported flag 'foo' Try 'guild run skopt:random --help-op'"));
    assert!(std::fs::read_dir(e.home.join("runs")).map_or(true, |d| d.count() == 0));
}

#[test]
fn config_flags_are_imported_and_written_as_guild_090() {
    let pair = SamplePair::new("config-flags");
    let both = |args: &[&str]| pair.both(args);
    let help = both(&["help"]);
    assert!(help.1.contains("foo.b  (default is 0)"), "{}", help.1);
    assert!(help.1.contains("l  (default is '1 1.2 blue true')"));
    for (args, file) in [
        (
            &["run", "yaml", "b=yes", "f=4.456", "l=a b 123", "s=hi", "-y"][..],
            "flags.yml",
        ),
        (
            &["run", "json", "s=abc", "l=2 1 'a b' d", "-y"],
            "flags.json",
        ),
        (&["run", "json-2", "aa=AAA", "bb=B", "-y"], "flags.json"),
        (
            &[
                "run",
                "cfg",
                "b=no",
                "i=321",
                "foo.b=yes",
                "foo.f=432.2",
                "foo.s=hej hej",
                "-y",
            ],
            "flags.cfg",
        ),
        (&["run", "cfg-2", "i=222", "-y"], "flags.cfg"),
        (&["run", "json-in", "-y"], "flags.json"),
        (&["run", "yaml-subdir-1", "-y"], "flags.yml"),
        (&["run", "test-args-2", "-y"], "empty.json"),
    ] {
        let out = both(args);
        assert_eq!(out.0, Some(0), "{args:?}: {}", out.2);
        both(&["cat", "-p", file]);
    }
    // A typed value is checked; nothing is left behind.
    let bad = both(&["run", "yaml", "i=not-a-number", "-y"]);
    assert_eq!(bad.0, Some(1));
    // A restart writes the file again with the new flag values.
    // (Ids differ between the two homes: restart each by its own.)
    let sel = ["select", "--operation", "json-in"];
    let ours_id = pair.ours(&sel).1;
    let theirs_id = pair.theirs(&sel).1;
    let ours = pair.ours(&["run", "--restart", &ours_id, "b=no", "f=3.345", "-y"]);
    let theirs = pair.theirs(&["run", "--restart", &theirs_id, "b=no", "f=3.345", "-y"]);
    assert_eq!(ours, theirs);
    assert!(ours.1.contains("'f': 3.345"), "{}", ours.1);
    // Each trial of a sweep gets its own file.
    let sweep = pair.ours(&["run", "yaml", "i=[7,8]", "-y"]);
    assert_eq!(sweep.0, Some(0), "{}", sweep.2);
    assert!(
        sweep.1.contains("'i': 7,") && sweep.1.contains("'i': 8,"),
        "{}",
        sweep.1
    );
    for (n, i) in [("1", "i: 8"), ("2", "i: 7")] {
        let f = pair.ours(&["cat", "-p", "flags.yml", n]).1;
        assert!(f.contains(i), "{n}: {f}");
    }
}

#[test]
fn test_sourcecode_lists_rules_and_files_as_guild_090() {
    let pair = SamplePair::new("copy-sourcecode");
    let proj = pair.proj.path();
    let _ = std::fs::remove_file(proj.join(".guildignore"));
    for f in std::fs::read_dir(proj.join("__pycache__"))
        .unwrap()
        .flatten()
    {
        if f.file_name().to_string_lossy().matches('.').count() > 1 {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    let compare = |op: &str| pair.both(&["run", op, "--test-sourcecode"]).1;
    // Not under Git: Guild's default rules (Python ones for Python ops).
    for op in [
        "hello.py",
        "hello.sh",
        "default",
        "no-sourcecode",
        "explicit-sourcecode",
        "explicit-sourcecode-2",
        "upstream",
    ] {
        compare(op);
    }
    assert!(compare("hello.sh").contains("  venv/bin/activate\n"));
    // Under Git: Git's ignore rules, with .guildignore.
    let git = |args: &[&str]| {
        assert!(Command::new("git")
            .args(args)
            .current_dir(proj)
            .output()
            .unwrap()
            .status
            .success());
    };
    git(&["init", "-q", "."]);
    compare("hello.py");
    std::fs::write(proj.join(".gitignore"), "*.in.*\ndata\n*.pyc\n").unwrap();
    let out = compare("hello.py");
    assert!(
        out.contains("exclude dir .git, __pycache__, data\n"),
        "{out}"
    );
    std::fs::write(
        proj.join(".guildignore"),
        "*.R\n*.erl\n*.sh\nfile-*\n!data\n",
    )
    .unwrap();
    compare("hello.py");
    compare("upstream");
    // Nothing was run.
    assert!(std::fs::read_dir(pair.ours.path().join("runs")).map_or(true, |d| d.count() == 0));
}

#[test]
fn sub_command_flags_and_dependency_flag_refs_as_guild_090() {
    let pair = SamplePair::new("sub-commands");
    pair.both(&["help"]);
    for args in [
        &["run", "argparse-a", "-y"][..],
        &["run", "argparse-b", "b-foo=33", "-y"],
        &["run", "click-a", "a-foo=55", "-y"],
        &["run", "click-b-sub", "-y"],
    ] {
        let out = pair.both(args);
        assert_eq!(out.0, Some(0), "{args:?}: {}", out.2);
    }
    // `${FLAG}` in dependency paths and renames.
    let pair = SamplePair::new("resource-flag-refs");
    for args in [
        &["run", "op1", "filename=bar", "-y"][..],
        &[
            "run",
            "op2",
            "undefined=foo-file.txt",
            "--force-flags",
            "-y",
        ],
        &["run", "op3", "name=bam", "-y"],
        &["run", "op4", "-y"],
        &["run", "op5", "-y"],
    ] {
        let out = pair.both(args);
        if out.0 == Some(0) {
            pair.both(&["ls", "-n"]);
        }
    }
    // Guild's wording, then where it looked and what to do.
    let out = pair.ours(&["run", "op2", "-y"]);
    assert!(
        out.2
            .contains("cannot resolve '${undefined}' in file: undefined reference 'undefined'"),
        "{}",
        out.2
    );
    let out = pair.ours(&["run", "op1", "filename=baz", "-y"]);
    assert!(
        out.2
            .contains("cannot find source file 'baz-file.txt' (looked in "),
        "{}",
        out.2
    );
}

#[test]
fn guildfile_optimizers_run_as_guild_090() {
    let pair = SamplePair::new("optimizers");
    for args in [
        &["run", "opt-test-1", "--optimize", "-y"][..],
        &[
            "run",
            "opt-test-1",
            "-o",
            "tune-echo-2",
            "-Fo",
            "beta=0.5",
            "-Fo",
            "gamma=5",
            "-y",
        ],
        &["run", "opt-test-2", "-O", "-Fo", "alpha=0.2", "-y"],
        &["run", "opt-test-3", "-Oy"],
        &["run", "opt-test-3", "-o", "o1", "-Fo", "alpha=0.9", "-y"],
        &["run", "opt-test-4", "-O", "-y"],
        &["run", "opt-test-4", "-o", "alt-tune", "-y"],
        &["run", "opt-test-4", "-o", "not-an-optimizer", "-y"],
        &["runs", "-s"],
    ] {
        pair.both(args);
    }
    let out = pair.ours(&["run", "opt-test-4", "-O", "-y"]);
    assert_eq!(out.0, Some(1));
    assert!(out
        .2
        .contains("Specify one of the following with '--optimizer': alt-tune, tune-echo"));
}

#[test]
fn run_attrs_and_runs_info_sections_as_guild_090() {
    let pair = SamplePair::new("run-attrs");
    for args in [
        &["run", "op", "-y"][..],
        &["run", "boolean-chars", "-y"],
        &["cat", "-p", ".guild/attrs/custom"],
        &["cat", "-p", ".guild/attrs/flags"],
    ] {
        pair.both(args);
    }
    // `runs info`: the custom attrs after Guild's own fields; ids, times
    // and paths differ between the two homes.
    let strip = |o: Outcome| -> Vec<String> {
        o.1.lines()
            .filter(|l| {
                ![
                    "id:",
                    "started:",
                    "stopped:",
                    "run_dir:",
                    "command:",
                    "sourcecode_digest:",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .map(String::from)
            .collect()
    };
    for n in ["1", "2"] {
        let args = ["runs", "info", n, "-d"];
        assert_eq!(
            strip(pair.ours(&args)),
            strip(pair.theirs(&args)),
            "{args:?}"
        );
    }
    let info = pair.ours(&["runs", "info", "2"]).1;
    assert!(
        info.contains("custom: bar\nyet-another-custom: \n  a: A\n  b: 123\n  c: 1.234\n"),
        "{info}"
    );
}

#[test]
fn restart_with_fresh_sourcecode_and_cat_sourcecode() {
    let e = Env::new();
    std::fs::write(e.proj.join("hello.py"), "print('hello-1')\n").unwrap();
    assert!(e.ok(&["run", "hello.py", "-y"]).contains("hello-1"));
    assert_eq!(
        e.ok(&["cat", "--sourcecode", "-p", "hello.py"]),
        "print('hello-1')\n"
    );
    std::fs::write(e.proj.join("hello.py"), "print('hello-2')\n").unwrap();
    let id = e.ok(&["select"]).trim().to_string();
    // A restart runs the run's own copy, unless told to copy again.
    assert!(e.ok(&["run", "--restart", &id, "-y"]).contains("hello-1"));
    assert!(e
        .ok(&["run", "--restart", &id, "--force-sourcecode", "-y"])
        .contains("hello-2"));
    assert_eq!(e.ok(&["cat", "-s", "-p", "hello.py"]), "print('hello-2')\n");
    let manifest =
        std::fs::read_to_string(e.home.join("runs").join(&id).join(".guild/manifest")).unwrap();
    assert_eq!(
        manifest
            .lines()
            .filter(|l| l.starts_with("s hello.py "))
            .count(),
        1,
        "{manifest}"
    );
    // New flag values need the operation's definition.
    std::fs::write(
        e.proj.join("guild.yml"),
        "op:\n  main: guild.pass\n  flags:\n    foo: 1\n",
    )
    .unwrap();
    e.ok(&["run", "op", "-y"]);
    std::fs::remove_file(e.proj.join("guild.yml")).unwrap();
    let o = e.run(&["run", "--restart", "1", "foo=111", "-y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot find definition for operation 'op'")
    );
    // Without new flags it restarts as recorded.
    e.ok(&["run", "--restart", "1", "-y"]);
}

#[test]
fn flag_aliases_as_guild_090() {
    let pair = SamplePair::new("alias");
    for args in [
        &["run", "test", "xx=2", "-y"][..],
        &["run", "test", "x=3", "xx=4", "-y"],
        &["run", "test", "x=3", "xx=4", "--force-flags", "-y"],
        &["runs", "-s"],
        &["select", "--attr", "flags"],
    ] {
        pair.both(args);
    }
}

#[test]
fn status_filter_edge_cases_as_guild_090() {
    let e = Env::new();
    std::fs::write(e.proj.join("fail.py"), "import sys\nsys.exit(3)\n").unwrap();
    std::fs::write(e.proj.join("ok.py"), "print('ok')\n").unwrap();
    e.run(&["run", "fail.py", "-y"]);
    e.ok(&["run", "ok.py", "-y"]);
    for args in [
        &["runs", "--not-error", "--error"][..],
        &["runs", "--not-error", "--not-completed"],
        &["runs", "-Sxyz"],
    ] {
        let ours = e.run(args);
        let theirs = e.guild090(args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        // (Guild pads an empty label column with spaces.)
        let words = |b: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(b)
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        assert_eq!(words(&ours.stdout), words(&theirs.stdout), "{args:?}");
        assert_eq!(words(&ours.stderr), words(&theirs.stderr), "{args:?}");
    }
}

#[test]
fn quoted_and_complex_flag_values_as_guild_090() {
    let pair = SamplePair::new("quoted-flag-vals");
    // The interpreter's path differs: compare from `-um` on.
    let cmd = |o: Outcome| -> String {
        o.1.split_once(" -um ")
            .map(|(_, c)| c.to_string())
            .unwrap_or(o.1)
    };
    for (script, flags, force) in [
        (
            "globals.py",
            &["f1='1'", "f2='1.1'", "f3='[a,b,c]'", "f4='yes'"][..],
            false,
        ),
        (
            "globals.py",
            &[
                "f2={a: 1.123, b: 2.234}",
                "f3=!!set {1,2,3}",
                "f4={a: [1,2,3], b: 123, c: !!set {1,2,3}}",
            ],
            false,
        ),
        (
            "args.py",
            &[
                "f5={a: 1.123, b: 2.234}",
                "f6=!!set {1,2,3}",
                "f7={a: [1,2,3], b: 123, c: !!set {1,2,3}}",
            ],
            true,
        ),
    ] {
        let mut args = vec!["run", script];
        args.extend(flags);
        if force {
            args.push("--force-flags");
        }
        let mut print = args.clone();
        print.push("--print-cmd");
        assert_eq!(
            cmd(pair.ours(&print)),
            cmd(pair.theirs(&print)),
            "{print:?}"
        );
        args.push("-y");
        pair.both(&args);
    }
}

#[test]
fn flags_imported_from_global_dicts_and_namespaces_as_guild_090() {
    let pair = SamplePair::new("flags-dest");
    for args in [
        &["run", "params", "--help-op"][..],
        &["run", "params-dict", "--help-op"],
        &["run", "params-namespace", "--help-op"],
        &["run", "params", "i=5", "f.a=9", "-y"],
        &["run", "params-namespace", "s=bye", "-y"],
    ] {
        let out = pair.both(args);
        assert_eq!(out.0, Some(0), "{args:?}: {}", out.2);
    }
    assert!(pair
        .ours(&["run", "params", "--help-op"])
        .1
        .contains("f.a  (default is 1.123)"));
}

/// `arg-split` as Guild 0.9.0 splits: `yes` as a shell splits words, a
/// separator (`','`) on it; for defaults from guild.yml and values given.
/// (A default split on ',' was once passed whole: `argument --y: invalid
/// int value: '1,2,3'`.)
#[test]
fn arg_split_splits_as_guild_090() {
    let pair = SamplePair::new("flags-dest");
    for args in [
        &["run", "split-args", "x=1 2 'hello there'", "-y"][..],
        &["run", "split-args", "-y"],
        &["run", "split-args", "y=4,5", "x=a", "-y"],
        &["run", "split-args", "y=6", "-y"],
    ] {
        let out = pair.both(args);
        assert_eq!(out.0, Some(0), "{args:?}: {}", out.2);
    }
    // The command, as Guild prints it (its Python is its own).
    let (ours, theirs) = (
        pair.ours(&["run", "split-args", "--print-cmd"]),
        pair.theirs(&["run", "split-args", "--print-cmd"]),
    );
    let args = |o: &Outcome| o.1.split_once(" -um ").map(|(_, a)| a.to_string());
    assert_eq!(args(&ours), args(&theirs));
    assert!(
        ours.1.ends_with("args3 -- --x 1 2 'a b' --y 1 2 3"),
        "{}",
        ours.1
    );
    let out = pair.ours(&["run", "split-args", "x=1 2 'hello there'", "-y"]);
    assert!(
        out.1.contains("['1', '2', 'hello there']") && out.1.contains("[1, 2, 3]"),
        "{}",
        out.1
    );
    // A part that is not of the flag's type is refused before any run.
    let out = pair.ours(&["run", "split-args", "y=1,x", "-y"]);
    assert_eq!(out.0, Some(1), "{out:?}");
    let theirs = pair.theirs(&["run", "split-args", "y=1,x", "-y"]);
    assert_eq!(theirs.0, Some(1), "{theirs:?}");
}

/// A local HTTP server (`python3 -m http.server`) on a free port, serving
/// `dir`; stopped when dropped.
struct HttpServer(std::process::Child, u16);

impl HttpServer {
    fn new(dir: &Path) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the HTTP server", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        HttpServer(child, port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `download` as Guild 0.9.0: the same cache path (under each home) and
/// digest, nothing downloaded twice; a guild.yml `url:` source with the
/// same URL then uses the cached file, with the server gone.
#[test]
fn download_fills_the_resource_cache_as_guild_090() {
    let srv_dir = tempfile::tempdir().unwrap();
    std::fs::write(srv_dir.path().join("hello.txt"), "hello\n").unwrap();
    let srv = HttpServer::new(srv_dir.path());
    let url = format!("http://127.0.0.1:{}/hello.txt", srv.1);
    let e = Env::new();
    let theirs_home = tempfile::tempdir().unwrap();
    let theirs = |args: &[&str]| {
        Command::new(guild_venv().join("bin/guild"))
            .args(args)
            .env("GUILD_HOME", theirs_home.path())
            .current_dir(&e.proj)
            .output()
            .unwrap()
    };
    let norm = |o: &Output, home: &Path| {
        let h = home.display().to_string();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).replace(&h, "HOME"),
            String::from_utf8_lossy(&o.stderr).replace(&h, "HOME"),
        )
    };
    for _ in 0..2 {
        let ours = norm(&e.run(&["download", &url]), &e.home);
        let want = norm(&theirs(&["download", &url]), theirs_home.path());
        assert_eq!(ours, want);
    }
    let o = e.run(&["download", &url]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  "),
        "{out}"
    );
    // A missing file: one line, exit 1, nothing cached.
    let missing = format!("http://127.0.0.1:{}/missing.txt", srv.1);
    let o = e.run(&["download", &missing]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("error downloading {missing}: HTTP Error 404")),
        "{err}"
    );
    let o = e.run(&["download", "http://127.0.0.1:1/dir/"]);
    assert_eq!(o.status.code(), Some(1));
    // The server gone: a url source of the same URL is the cached file.
    drop(srv);
    std::fs::write(
        e.proj.join("guild.yml"),
        format!("fetch:\n  main: train\n  requires:\n    - url: {url}\n"),
    )
    .unwrap();
    let o = e.run(&["run", "fetch", "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Using cached file"), "{err}");
    let run = e.run_dirs()[0].clone();
    assert_eq!(
        std::fs::read_to_string(run.join("hello.txt")).unwrap(),
        "hello\n"
    );
}

/// Guild's package and environment commands are left out, each with one
/// line that says so and what to use instead.
#[test]
fn left_out_commands_say_what_to_use_instead() {
    let e = Env::new();
    for (cmd, hint) in [
        ("init", "GUILD_HOME"),
        ("shell", "guild api"),
        ("install", "pip install"),
        ("uninstall", "pip uninstall"),
        ("package", "python3 -m build"),
        ("packages", "pip list"),
        ("search", "pypi.org"),
        ("sys", "aws s3 sync"),
        ("tensorflow", "guild tensorboard"),
    ] {
        let o = e.run(&[cmd, "some-arg", "--flag"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains(&format!("`guild {cmd}`")) && err.contains(hint),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn comments_as_guild_090() {
    let e = Env::new();
    e.ok(&["run", "train.py", "epochs=1", "-y", "-q"]);
    let words = |o: &Output| -> (Option<i32>, Vec<String>, Vec<String>) {
        let w = |b: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(b)
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        (o.status.code(), w(&o.stdout), w(&o.stderr))
    };
    // Each side adds its own comments (times differ), then reads both.
    for args in [
        &["comment", "1", "-a", "first note", "-y"][..],
        &["comment", "-a", "second", "-u", "bob@box", "-y"],
    ] {
        assert_eq!(words(&e.run(args)), words(&e.guild090(args)), "{args:?}");
    }
    let listing = e.ok(&["comment", "--list"]);
    assert_eq!(listing.matches("first note").count(), 2, "{listing}");
    assert!(listing.contains("[4] bob@box "), "{listing}");
    let theirs = e.guild090(&["comment", "--list"]);
    assert_eq!(words(&e.run(&["comment", "--list"])), words(&theirs));
    let info = ["runs", "info", "-c"];
    let strip = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip_while(|l| *l != "comments:")
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    assert_eq!(strip(&e.run(&info)), strip(&e.guild090(&info)));
    for args in [&["comment", "-d", "1", "-y"][..], &["comment", "-c", "-y"]] {
        assert_eq!(words(&e.run(args)), words(&e.guild090(args)), "{args:?}");
    }
    assert!(e.ok(&["comment", "-l"]).contains("<no comments>"));
    // Typed in an editor: `#` lines are left out; an empty one aborts.
    let editor = e.proj.join("ed.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'from the editor\\n' > \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = e.cmd(&["comment"]).env("EDITOR", &editor).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(e.ok(&["comment", "-l"]).contains("  from the editor"));
    let o = e.cmd(&["comment"]).env("EDITOR", "true").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Aborting due to an empty comment."));
}

#[test]
fn check_and_open_as_guild_090() {
    let e = Env::new();
    e.ok(&["run", "train.py", "epochs=1", "-y", "-q"]);
    let keys = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    let ours = e.run(&["check"]);
    assert!(ours.status.success());
    let mut theirs = keys(&e.guild090(&["check"]));
    theirs.retain(|k| k != "latest_guild_version");
    assert_eq!(keys(&ours), theirs);
    let out = String::from_utf8_lossy(&ours.stdout).to_string();
    assert!(
        out.contains(&format!(
            "guild_home:                {}\n",
            e.home.display()
        )),
        "{out}"
    );
    // --version checks this binary's version.
    assert!(e
        .run(&["check", "--version", ">=0.1", "-n"])
        .status
        .success());
    let o = e.run(&["check", "--version", ">=99"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match '>=99'"));
    // open: with a command, in the run directory or at a path in it.
    let run_dir = e.ok(&["select", "--path"]).trim().to_string();
    assert_eq!(e.ok(&["open", "-c", "echo"]).trim(), run_dir);
    assert!(e
        .ok(&["open", "-p", "train.py", "-c", "cat"])
        .contains("argparse"));
    assert!(e.ok(&["open", "-O", "-c", "cat"]).contains("step: 1"));
    let o = e.run(&["open", "-p", "nope.txt", "-c", "cat"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.txt does not exist"));
}

#[test]
fn diff_as_guild_090() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "epochs=1", "-y", "-q"]);
    e.ok(&["run", "train.py", "lr=0.2", "epochs=1", "-y", "-q"]);
    // With `--cmd echo` both print the paths they compare, on one home.
    for args in [
        &["diff", "--cmd", "echo"][..],
        &["diff", "--flags", "--output", "--cmd", "echo"],
        &["diff", "-a", "-c", "echo"],
        &[
            "diff", "2", "1", "-p", "train.py", "-p", "x.txt", "-c", "echo",
        ],
        &["diff", "-s", "-c", "echo"],
        &["diff", "--working", "-c", "echo"],
        &["diff", "1", "--dir", ".", "-c", "echo"],
        &["diff", "1", "-c", "echo"],
    ] {
        let ours = e.run(args);
        let theirs = e.guild090(args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
    }
    // The default program shows the flags that differ.
    let out = e.ok(&["diff", "--flags"]);
    assert!(
        out.contains("-lr: 0.1") && out.contains("+lr: 0.2"),
        "{out}"
    );
}

#[test]
fn api_runs_compare_and_ops_as_guild_090() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "epochs=2", "-y", "-q"]);
    e.ok(&["run", "train.py", "lr=[0.2,0.3]", "epochs=1", "-y", "-q"]);
    e.ok(&["comment", "-a", "a note", "-y"]);
    let json = |o: &Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    for args in [
        &["api", "runs"][..],
        &["api", "runs", "-f", "1"],
        &["api", "compare"],
        &["api", "compare", "--include-batch"],
    ] {
        assert_eq!(json(&e.run(args)), json(&e.guild090(args)), "{args:?}");
    }
    let pair = SamplePair::new("optimizers");
    let ops = |o: Outcome| -> serde_json::Value { serde_json::from_str(&o.1).unwrap() };
    assert_eq!(
        ops(pair.ours(&["api", "ops"])),
        ops(pair.theirs(&["api", "ops"]))
    );
    assert_eq!(
        ops(pair.ours(&["api", "help-op", "echo"])),
        ops(pair.theirs(&["api", "help-op", "echo"]))
    );
}

#[test]
fn export_and_import_as_guild_090() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "epochs=1", "-y", "-q"]);
    e.ok(&["run", "train.py", "lr=0.2", "epochs=1", "-y", "-q"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("exported");
    let zip = out.path().join("exported.zip");
    let (d, z) = (dir.to_str().unwrap(), zip.to_str().unwrap());
    let o = e.run(&["export", d, "-y"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).ends_with(&format!("Exported 2 run(s) to {d}\n")));
    // Again: both are there already.
    let o = e.run(&["export", d, "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("exists, skipping").count(), 2, "{err}");
    assert!(err.ends_with(&format!("Exported 0 run(s) to {d}\n")));
    e.ok(&["export", z, "1", "-y"]);
    // Guild 0.9 imports both archives into a fresh home.
    let gh = tempfile::tempdir().unwrap();
    let guild = |args: &[&str]| {
        Command::new(guild_venv().join("bin/guild"))
            .args(args)
            .env("GUILD_HOME", gh.path())
            .output()
            .unwrap()
    };
    let o = guild(&["import", d, "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = guild(&["import", z, "-y"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists, skipping"));
    let theirs = String::from_utf8_lossy(&guild(&["runs"]).stdout).to_string();
    assert_eq!(theirs.lines().count(), 2, "{theirs}");
    // And we import what Guild exports, from a directory and a zip.
    let g_out = tempfile::tempdir().unwrap();
    let gd = g_out.path().join("g");
    let gz = g_out.path().join("g.zip");
    assert!(guild(&["export", gd.to_str().unwrap(), "-y"])
        .status
        .success());
    assert!(guild(&["export", gz.to_str().unwrap(), "2", "-y"])
        .status
        .success());
    let f = Env::new();
    let o = f.run(&["import", gz.to_str().unwrap(), "-y"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = f.run(&["import", gd.to_str().unwrap(), "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exists, skipping")
            && err
                .ends_with(&("Imported 1 run(s) from ".to_string() + gd.to_str().unwrap() + "\n")),
        "{err}"
    );
    let ours: Vec<String> = f.ok(&["runs"]).lines().map(String::from).collect();
    assert_eq!(ours.len(), 2);
    // The imported runs read as they did: same flags and output.
    assert!(f.ok(&["cat", "--output", "1"]).contains("step: 1"));
    // Bad archives.
    let o = f.run(&["import", "/nonexistent/x", "-y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("archive '/nonexistent/x' does not exist"));
    let o = f.run(&["import", gz.to_str().unwrap(), "--move", "-y"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("'--move' cannot be used with zip archives")
    );
    // --move: the runs leave the home.
    let moved = out.path().join("moved");
    e.ok(&["export", moved.to_str().unwrap(), "--move", "-y"]);
    assert!(e.ok(&["runs"]).trim().is_empty());
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 2);
}

#[test]
fn sweeps_stage_every_trial_first_and_stage_trials_starts_none() {
    let e = Env::new();
    let mut child = e
        .cmd(&[
            "run",
            "train.py",
            "sleep=[30.0,30.1]",
            "epochs=1",
            "-y",
            "-q",
        ])
        .spawn()
        .unwrap();
    // While the first trial runs, the second is already there, pending.
    wait_until("a trial running", Duration::from_secs(30), || {
        e.runs_json()
            .iter()
            .any(|r| r["operation"] == "train.py" && r["status"] == "running")
    });
    let st: Vec<String> = e
        .runs_json()
        .iter()
        .filter(|r| r["operation"] == "train.py")
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(st, ["running", "pending"], "{st:?}");
    // A pending trial shows when it was staged, as Guild's do.
    let listing = e.ok(&["runs"]);
    let pending = listing.lines().find(|l| l.contains(" pending ")).unwrap();
    assert!(
        regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  pending")
            .unwrap()
            .is_match(pending),
        "{listing}"
    );
    e.ok(&["stop", "-y"]);
    let _ = child.wait();
    // The stopped sweep ends terminated (not error), its pending trial stays.
    wait_until("sweep ended", Duration::from_secs(20), || {
        e.runs_json().iter().all(|r| r["status"] != "running")
    });
    let batch = e
        .runs_json()
        .into_iter()
        .find(|r| r["operation"] == "train.py+")
        .expect("the stopped batch is kept");
    assert_eq!(batch["status"], "terminated", "{batch:?}");
    // --stage-trials: every trial staged, none started.
    let e = Env::new();
    let o = e.run(&[
        "run",
        "train.py",
        "lr=[0.1,0.2,0.3]",
        "epochs=1",
        "--stage-trials",
        "-y",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.matches("INFO: [guild] Staging trial ").count(),
        3,
        "{err}"
    );
    let trials: Vec<serde_json::Value> = e
        .runs_json()
        .into_iter()
        .filter(|r| r["operation"] == "train.py")
        .collect();
    assert_eq!(trials.len(), 3);
    assert!(trials.iter().all(|r| r["status"] == "staged"), "{trials:?}");
    let id = trials[0]["id"].as_str().unwrap();
    assert!(e.ok(&["run", "--start", id, "-y"]).contains("step: 1"));
    assert_eq!(e.status_of(id), "completed");
}

#[test]
fn small_wordings_as_guild_090() {
    // delete-on-success says why the run goes.
    let pair = SamplePair::new("delete-on-success");
    let id_free = |o: Outcome| -> String {
        regex::Regex::new("[0-9a-f]{32}")
            .unwrap()
            .replace_all(&o.2, "ID")
            .into_owned()
    };
    let args = ["run", "op", "-y"];
    assert_eq!(id_free(pair.ours(&args)), id_free(pair.theirs(&args)));
    // LOG_LEVEL=30 hides the INFO lines of dependency resolution.
    let pair = SamplePair::new("resource-flags");
    let quiet = |exe: &Path, home: &Path| {
        Command::new(exe)
            .args(["run", "file-source", "-y"])
            .env("GUILD_HOME", home)
            .env("LOG_LEVEL", "30")
            .current_dir(pair.proj.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ours = quiet(Path::new(BIN), pair.ours.path());
    let theirs = quiet(&guild_venv().join("bin/guild"), pair.theirs.path());
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(!String::from_utf8_lossy(&ours.stderr).contains("Resolving"));
    // A string default with commas is shown plain.
    let pair = SamplePair::new("flags-dest");
    let out = pair.both(&["run", "split-args", "--help-op"]);
    assert!(out.1.contains("y  (default is 1,2,3)"), "{}", out.1);
}
#[path = "cli/ray.rs"]
mod ray;
