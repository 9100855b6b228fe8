//! Remote runs against the real OpenSSH server and single-node Slurm that
//! scripts/setup-test-env.sh starts: `run --remote` over SSH and Slurm,
//! the `--remote` views, stop, pull/push/sync, and the faults.

use super::*;
use std::io::{BufRead, BufReader};

/// A project with a remote config, and a guild home of its own on the
/// test sshd (removed at the end).
struct Remote {
    e: Env,
    /// `~/NAME` on the sshd user's side.
    ssh_home: String,
    ssh_config: PathBuf,
}

const ECHO_PY: &str = r#"import argparse, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--msg", default="hi")
p.add_argument("--x", type=float, default=1.0)
p.add_argument("--steps", type=int, default=2)
p.add_argument("--sleep", type=float, default=0)
a = p.parse_args()
print("msg=[%s]" % a.msg)
for i in range(a.steps):
    print("step %d" % i, flush=True)
    print("loss: %f" % (a.x / (i + 1)), flush=True)
    time.sleep(a.sleep)
"#;

impl Remote {
    /// `remotes` is the YAML under `remotes:`; `{ssh}` in it is the
    /// connection settings of the test sshd, `{home}` this test's guild
    /// home there, `{here}` a guild home on this machine for Slurm.
    fn new(remotes: &str) -> Remote {
        let e = Env::new();
        std::fs::write(e.proj.join("echo.py"), ECHO_PY).unwrap();
        let ssh_config = test_sshd_config();
        let tag = e
            .home
            .parent()
            .and_then(|p| p.file_name())
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
            .to_string();
        let ssh_home = format!("~/gt-{tag}");
        let here = e.home.parent().unwrap().join("cluster");
        let cfg = remotes
            .replace(
                "{ssh}",
                &format!("host: sshd-local, ssh-config: '{}'", ssh_config.display()),
            )
            .replace("{home}", &ssh_home)
            .replace("{here}", &here.display().to_string());
        std::fs::write(e.proj.join("guild-config.yml"), format!("remotes:\n{cfg}")).unwrap();
        Remote {
            e,
            ssh_home,
            ssh_config,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.e.cmd(args);
        c.env("GUILD_CONFIG", self.e.proj.join("guild-config.yml"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "guild {args:?} failed: {}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// One error line and exit 1, and no run dir made here.
    fn fails(&self, args: &[&str], words: &[&str]) -> String {
        let before = self.e.run_dirs();
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: expected {w:?} in {err}");
        }
        assert_eq!(self.e.run_dirs(), before, "{args:?} left a run behind");
        err
    }

    /// A shell command on the sshd, as its user.
    fn ssh(&self, script: &str) -> String {
        let o = Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .arg("sshd-local")
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The status word (a run on a remote shows as `running (NAME)`).
    /// A directory with an executable `name` (`body` is its script),
    /// to put first on the PATH.
    fn shim(&self, name: &str, body: &str) -> PathBuf {
        let dir = self.e.home.parent().unwrap().join("shim");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(
            dir.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        dir
    }

    fn status(&self, id: &str) -> String {
        let s = self.e.status_of(id);
        s.split(' ').next().unwrap_or("").to_string()
    }

    fn ids(&self) -> Vec<String> {
        self.e
            .runs_json()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// `sync` until the local record of `id` shows `status`.
    fn sync_until(&self, id: &str, status: &str, timeout: Duration) {
        let t0 = Instant::now();
        let mut said = std::collections::BTreeSet::new();
        loop {
            let synced = self.ok(&["sync", id]);
            said.insert(synced.clone());
            if self.status(id) == status {
                return;
            }
            assert!(
                t0.elapsed() < timeout,
                "timed out waiting for {id} to be {status}: sync said {said:?}; runs:\n{}",
                self.e.ok(&["runs"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if self.ssh_home.starts_with("~/gt-") {
            self.ssh(&format!("rm -rf {}", self.ssh_home));
        }
    }
}

#[test]
fn ssh_run_streams_output_and_flag_values_never_reach_a_command_line() {
    let r = Remote::new("  box: {type: ssh, {ssh}, guild-home: '{home}'}\n");
    // Every ssh command line (rsync's too) is logged by a shim.
    let log = r.e.home.parent().unwrap().join("ssh.log");
    let shim = r.shim(
        "ssh",
        &format!(
            "printf '%s\\n' \"$*\" >> '{}'\nexec /usr/bin/ssh \"$@\"",
            log.display()
        ),
    );
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());
    let ctl = r.e.home.parent().unwrap().join("ctl");
    let hostile = "a;b $(touch /tmp/guild-pwned) `id` \"q\" 'x'\nsecond line";
    let o = r
        .cmd(&[
            "run",
            "echo.py",
            &format!("msg={hostile}"),
            "-y",
            "--remote",
            "box",
        ])
        .env("PATH", &path)
        .env("GUILD_SSH_CONTROL_DIR", &ctl)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The output streamed here; the flag value arrived as data: what a
    // run here prints.
    let here =
        r.e.ok(&["run", "echo.py", &format!("msg={hostile}"), "-y", "--stage"]);
    let _ = here;
    let staged = r.e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let local = r.e.ok(&["run", "--start", &staged, "-y"]);
    let msg = local.lines().find(|l| l.starts_with("msg=[")).unwrap();
    assert!(msg.contains("$(touch /tmp/guild-pwned) `id`"), "{msg}");
    assert!(out.contains(msg), "{out}\nexpected {msg}");
    r.e.ok(&["runs", "rm", "-p", "-y", &staged]);
    assert!(out.contains("loss: 0.5"), "{out}");
    assert!(!Path::new("/tmp/guild-pwned").exists());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("sshd-local"), "{logged}");
    for part in ["pwned", "second line", "msg="] {
        assert!(
            !logged.contains(part),
            "{part} on an ssh command line:\n{logged}"
        );
    }
    // The record here: where it went, complete after the run.
    let id = r.ids()[0].clone();
    let run = r.e.home.join("runs").join(&id);
    let placement = std::fs::read_to_string(run.join(".guild/placement")).unwrap();
    assert!(
        placement.contains("type: remote") && placement.contains("remote: box"),
        "{placement}"
    );
    assert!(placement.contains(&format!("/runs/{id}")), "{placement}");
    assert_eq!(r.status(&id), "completed");
    let output = std::fs::read_to_string(run.join(".guild/output")).unwrap();
    assert!(output.contains("loss: 0.5"), "{output}");
    // The remote's guild answers for its runs.
    let listed = r.ok(&["runs", "--remote", "box"]);
    assert!(
        listed.contains(&id[..8]) && listed.contains("completed"),
        "{listed}"
    );
    let info = r.ok(&["runs", "info", "--remote", "box"]);
    assert!(info.contains(&format!("id: {id}")), "{info}");
    assert!(
        info.contains("/gt-") && info.contains("exit_status: 0"),
        "{info}"
    );
    let cat = r.ok(&["cat", "--output", "-r", "box"]);
    assert!(cat.contains("step 1"), "{cat}");
    let ls = r.ok(&["ls", "--remote", "box"]);
    assert!(ls.contains("echo.py"), "{ls}");
    let logs = r.ok(&["logs", "--remote", "box"]);
    assert!(logs.contains("loss: 0.5"), "{logs}");
    let bare = r.ok(&["compare", "-r", "--csv", "--remote", "box"]);
    assert!(
        bare.starts_with("run,msg,") && !bare.contains("operation"),
        "{bare}"
    );
    let csv = r.ok(&["compare", "--csv", "--remote", "box"]);
    assert!(csv.contains(&id[..8]) && csv.contains("0.5"), "{csv}");
    // A second run reuses the binary there (one copy, by digest).
    r.ok(&["run", "echo.py", "x=2", "-y", "-q", "--remote", "box"]);
    let bins = r.ssh(&format!("ls {}/bin", r.ssh_home));
    assert_eq!(bins.lines().count(), 1, "{bins}");
    assert_eq!(r.e.runs_json().len(), 2);
    // A shell script runs from the run's copy: the project is not there
    // (this test's project dir cannot be read by the sshd's user).
    r.ok(&["run", "run.sh", "-y", "-q", "--remote", "box"]);
    let id = r.ids()[0].clone();
    assert_eq!(r.status(&id), "completed");
}

#[test]
fn ssh_background_stop_ctrl_c_and_a_lost_connection_during_watch() {
    let r = Remote::new("  box: {type: ssh, {ssh}, guild-home: '{home}'}\n");
    // A connection of this test's own: it is killed below.
    let ctl = r.e.home.parent().unwrap().join("ctl");
    let cmd = |args: &[&str]| {
        let mut c = r.cmd(args);
        c.env("GUILD_SSH_CONTROL_DIR", &ctl);
        c
    };
    let ok = |args: &[&str]| {
        let o = cmd(args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // --background returns at once; the record shows it running there.
    let t0 = Instant::now();
    let o = cmd(&[
        "run",
        "echo.py",
        "steps=40",
        "sleep=0.25",
        "-y",
        "--background",
        "--remote",
        "box",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t0.elapsed() < Duration::from_secs(5));
    let id = r.ids()[0].clone();
    let listed = r.e.ok(&["runs"]);
    assert!(listed.contains("running (box)"), "{listed}");
    // watch --remote: the connection is lost midway (its master ssh is
    // killed); the watch connects again and prints each line once.
    let mut watch = cmd(&["watch", &id, "--remote", "box"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(l)) = lines.next() {
        seen.push(l.clone());
        if l == "step 3" {
            break;
        }
    }
    let masters = Command::new("pkill")
        .args(["-9", "-f", &format!("ControlPath={}", ctl.display())])
        .status()
        .unwrap();
    assert!(masters.success(), "no ssh master to kill");
    for l in lines.map_while(|l| l.ok()) {
        seen.push(l);
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut watch.stderr.take().unwrap(), &mut err).unwrap();
    assert!(watch.wait().unwrap().success(), "{err}");
    assert!(
        err.contains("connection to sshd-local was lost; connecting again"),
        "{err}"
    );
    let steps: Vec<&String> = seen.iter().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(steps.len(), 40, "{seen:?}");
    // A master killed between commands leaves its socket behind: the next
    // command starts a new master, instead of ssh warning on every command
    // and connecting without one.
    let killed = Command::new("pkill")
        .args(["-9", "-f", &format!("ControlPath={}", ctl.display())])
        .status()
        .unwrap();
    assert!(killed.success(), "no ssh master to kill");
    wait_until("the master to exit", Duration::from_secs(10), || {
        !Command::new("pgrep")
            .args(["-f", &format!("ControlPath={}", ctl.display())])
            .status()
            .unwrap()
            .success()
    });
    for _ in 0..2 {
        let o = cmd(&["runs", "--remote", "box"]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && !err.contains("Control socket"),
            "{err}"
        );
    }
    for (i, l) in steps.iter().enumerate() {
        assert_eq!(**l, format!("step {i}"));
    }
    r.sync_until(&id, "completed", Duration::from_secs(20));
    // stop (local record): stopped there, terminated here.
    ok(&[
        "run",
        "echo.py",
        "steps=200",
        "sleep=0.2",
        "-y",
        "--background",
        "--remote",
        "box",
    ]);
    let id = r.ids()[0].clone();
    let out = ok(&["stop", "-y", &id[..8]]);
    let _ = out;
    assert_eq!(r.status(&id), "terminated");
    let there = ok(&["runs", "--remote", "box"]);
    assert!(
        there.lines().next().unwrap().contains("terminated"),
        "{there}"
    );
    // Ctrl-C of a foreground remote run stops it there.
    let mut fg = cmd(&[
        "run",
        "echo.py",
        "steps=200",
        "sleep=0.2",
        "-y",
        "--remote",
        "box",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = BufReader::new(fg.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = out.next() {
        if l == "step 2" {
            break;
        }
    }
    // SAFETY-free: the test's own child.
    Command::new("kill")
        .args(["-INT", &fg.id().to_string()])
        .status()
        .unwrap();
    let code = fg.wait().unwrap();
    assert!(!code.success());
    let id = r.ids()[0].clone();
    assert_eq!(r.status(&id), "terminated");
    let info = ok(&["runs", "info", &id, "--remote", "box"]);
    assert!(info.contains("status: terminated"), "{info}");
}

#[test]
fn ssh_sweep_pull_push_and_sync() {
    let r = Remote::new("  box: {type: ssh, {ssh}, guild-home: '{home}'}\n");
    let out = r.ok(&["run", "echo.py", "x=[1,2,3]", "-y", "--remote", "box"]);
    assert_eq!(out.matches("msg=[hi]").count(), 3, "{out}");
    let runs = r.e.runs_json();
    let trials: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|t| t["operation"] == "echo.py")
        .collect();
    assert_eq!(trials.len(), 3, "{runs:?}");
    assert!(
        trials.iter().all(|t| t["status"] == "completed"),
        "{trials:?}"
    );
    let there = r.ok(&["runs", "--remote", "box"]);
    assert_eq!(there.matches("completed").count(), 3, "{there}");
    let hist = r.e.ok(&["history"]);
    assert!(hist.contains("echo.py+") && hist.contains(" 3 "), "{hist}");
    // pull into another home: complete, as a local run.
    let other = Env::new();
    std::fs::copy(
        r.e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    let id = trials[0]["id"].as_str().unwrap().to_string();
    let o = other
        .cmd(&["pull", "box", &id])
        .env("GUILD_CONFIG", other.proj.join("guild-config.yml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pulled = other.home.join("runs").join(&id);
    assert!(!pulled.join(".guild/placement").exists());
    let mine = other.ok(&["runs", "info", &id]);
    let theirs = r.ok(&["runs", "info", &id, "--remote", "box"]);
    let keep = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                !l.starts_with("run_dir:")
                    && !l.starts_with("from:")
                    && !l.starts_with("operation:")
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(keep(&mine), keep(&theirs));
    assert!(
        mine.contains("sourcecode_digest: ") && mine.contains("status: completed"),
        "{mine}"
    );
    assert_eq!(
        std::fs::read_to_string(pulled.join(".guild/opref")).unwrap(),
        std::fs::read_to_string(r.e.home.join("runs").join(&id).join(".guild/opref")).unwrap()
    );
    let cat = other.ok(&["cat", "--output", &id]);
    assert!(cat.contains("step 1"), "{cat}");
    // push a run made here; the remote lists it.
    r.e.ok(&["run", "echo.py", "x=9", "-y", "-q"]);
    let local = r.e.runs_json()[0]["id"].as_str().unwrap().to_string();
    r.ok(&["push", "box", &local[..8]]);
    let there = r.ok(&["runs", "--remote", "box"]);
    assert!(there.contains(&local[..8]), "{there}");
    // sync: nothing unfinished, nothing to do.
    let s = r.ok(&["sync"]);
    assert!(s.contains("No remote runs"), "{s}");
}

#[test]
fn slurm_sweep_is_one_job_array_with_parallelism_and_cost() {
    let r = Remote::new(
        "  hpc: {type: slurm, partition: debug, guild-home: '{here}', array-parallelism: 2, hourly-cost: 3.6, time: '00:05:00'}\n",
    );
    let t0 = Instant::now();
    let out = String::from_utf8_lossy(
        &r.run(&[
            "run",
            "echo.py",
            "x=[1,2,3,4,5,6,7,8]",
            "sleep=0.5",
            "-y",
            "--remote",
            "hpc",
        ])
        .stderr,
    )
    .into_owned();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(out.contains(": 8 trials, at most 2 at a time"), "{out}");
    assert!(
        out.contains("Resources per trial: partition debug, time limit 00:05:00"),
        "{out}"
    );
    assert!(
        out.contains("Estimated cost: 7.20 per hour while 2 run"),
        "{out}"
    );
    // No requirements file: the imports are named (none here but stdlib).
    let cluster = r.e.home.parent().unwrap().join("cluster");
    let scripts: Vec<_> = std::fs::read_dir(cluster.join("slurm"))
        .unwrap()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|x| x == "sbatch"))
        .collect();
    assert_eq!(scripts.len(), 1, "one sbatch for the sweep");
    let script = std::fs::read_to_string(scripts[0].path()).unwrap();
    assert!(script.contains("#SBATCH --array=0-7%2"), "{script}");
    // At most 2 run at once; all complete.
    let ids = r.ids();
    let trials: Vec<String> = ids
        .iter()
        .filter(|i| r.e.status_of(i) != "completed")
        .cloned()
        .collect();
    assert_eq!(trials.len(), 8);
    let mut max_running = 0;
    wait_until("8 trials completed", Duration::from_secs(90), || {
        let there = r.ok(&["runs", "--remote", "hpc"]);
        max_running = max_running.max(there.matches(" running ").count());
        there.matches(" completed ").count() == 8
    });
    assert!(max_running <= 2, "{max_running} ran at once");
    r.ok(&["sync"]);
    assert!(trials.iter().all(|i| r.status(i) == "completed"));
    let hist = r.e.ok(&["history"]);
    let row = hist.lines().find(|l| l.contains("echo.py+")).unwrap();
    assert!(hist.lines().next().unwrap().contains("COST"), "{hist}");
    assert!(row.contains(" 8 "), "{hist}");
}

#[test]
fn slurm_cancel_pending_and_running_and_the_time_limit() {
    let r = Remote::new(
        "  hpc: {type: slurm, partition: debug, guild-home: '{here}'}\n  later: {type: slurm, partition: debug, guild-home: '{here}', sbatch: ['--begin=now+1hour']}\n  short: {type: slurm, partition: debug, guild-home: '{here}', time: '00:01:00'}\n",
    );
    // Held by the scheduler (BeginTime): pending here and there; stop
    // cancels it: terminated.
    r.ok(&["run", "echo.py", "-y", "--remote", "later"]);
    let pending = r.ids()[0].clone();
    assert_eq!(r.status(&pending), "pending");
    let there = r.ok(&["runs", "--remote", "later"]);
    assert!(there.contains("pending"), "{there}");
    let st = r.e.ok(&["status"]);
    assert!(st.contains("echo.py"), "{st}");
    r.ok(&["stop", "-y", &pending]);
    assert_eq!(r.status(&pending), "terminated");
    // Running: scancel; the run records its end.
    r.ok(&[
        "run",
        "echo.py",
        "steps=300",
        "sleep=0.2",
        "-y",
        "--remote",
        "hpc",
    ]);
    let running = r.ids()[0].clone();
    r.sync_until(&running, "running", Duration::from_secs(120));
    r.ok(&["stop", "-y", &running]);
    r.sync_until(&running, "terminated", Duration::from_secs(60));
    // The time limit (Slurm rounds to a minute): terminated there and here.
    r.ok(&[
        "run",
        "echo.py",
        "steps=1000",
        "sleep=0.2",
        "-y",
        "--remote",
        "short",
    ]);
    let timed = r.ids()[0].clone();
    r.sync_until(&timed, "terminated", Duration::from_secs(240));
    let info = r.ok(&["runs", "info", &timed, "--remote", "short"]);
    assert!(info.contains("status: terminated"), "{info}");
}

/// A file that vanishes while a live run is copied back (rsync exits 24)
/// is not a failed sync: the copy is made again and the run comes home.
#[test]
fn a_file_vanishing_while_a_run_is_copied_back_is_copied_again() {
    let r = Remote::new("  hpc: {type: slurm, partition: debug, guild-home: '{here}'}\n");
    let real = String::from_utf8_lossy(
        &Command::new("sh")
            .args(["-c", "command -v rsync"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let bin = r.e.home.parent().unwrap().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let mark = bin.join("vanished-once");
    let wrapper = bin.join("rsync");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \" $* \" in *--files-from=-*) if [ ! -e '{m}' ]; then : > '{m}'; '{real}' \"$@\"; exit 24; fi;; esac\nexec '{real}' \"$@\"\n",
            m = mark.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = r
        .cmd(&["run", "echo.py", "x=3", "-y", "--remote", "hpc"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = r.ids()[0].clone();
    let t0 = Instant::now();
    while r.status(&id) != "completed" {
        let o = r.cmd(&["sync", &id]).env("PATH", &path).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{id} never completed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(mark.exists(), "the wrapper never stood in for rsync");
    let out =
        std::fs::read_to_string(r.e.home.join("runs").join(&id).join(".guild/output")).unwrap();
    assert!(out.contains("loss: 3"), "{out}");
}

#[test]
fn slurm_through_a_login_node_over_ssh() {
    let r = Remote::new("  hpc: {type: slurm, {ssh}, partition: debug, guild-home: '{home}'}\n");
    let out = String::from_utf8_lossy(
        &r.run(&["run", "echo.py", "x=4", "-y", "--remote", "hpc"])
            .stderr,
    )
    .into_owned();
    assert!(out.contains("Submitted echo.py to hpc as job "), "{out}");
    let id = r.ids()[0].clone();
    r.sync_until(&id, "completed", Duration::from_secs(60));
    let out =
        std::fs::read_to_string(r.e.home.join("runs").join(&id).join(".guild/output")).unwrap();
    assert!(out.contains("loss: 2"), "{out}");
    // It ran as the login user, in its home.
    let info = r.ok(&["runs", "info", "--remote", "hpc"]);
    assert!(info.contains("run_dir: /home/sshtest/gt-"), "{info}");
}

#[test]
fn remote_faults_are_one_line_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // A key the sshd does not know, and a known_hosts with another key
    // for the host.
    let key = dir.path().join("k");
    let gen = |path: &Path| {
        assert!(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .status()
            .unwrap()
            .success());
    };
    gen(&key);
    let other_host = dir.path().join("h");
    gen(&other_host);
    let pubkey = std::fs::read_to_string(other_host.with_extension("pub")).unwrap();
    let kh = dir.path().join("known_hosts");
    let mut words = pubkey.split_whitespace();
    let cfg = std::fs::read_to_string(test_sshd_config()).unwrap();
    // The test sshd's port (a free one, when 2222 was taken).
    let port = cfg
        .lines()
        .find_map(|l| l.trim().strip_prefix("Port "))
        .unwrap()
        .to_string();
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{port} {} {}\n",
            words.next().unwrap(),
            words.next().unwrap()
        ),
    )
    .unwrap();
    let bad_cfg = dir.path().join("ssh_config");
    let known = cfg
        .lines()
        .find_map(|l| l.trim().strip_prefix("UserKnownHostsFile "))
        .unwrap()
        .to_string();
    std::fs::write(&bad_cfg, cfg.replace(&known, &kh.display().to_string())).unwrap();
    // The same host with a key it does not know.
    let ident = cfg
        .lines()
        .find_map(|l| l.trim().strip_prefix("IdentityFile "))
        .unwrap()
        .to_string();
    let key_cfg = dir.path().join("ssh_config_key");
    std::fs::write(&key_cfg, cfg.replace(&ident, &key.display().to_string())).unwrap();
    let r = Remote::new(&format!(
        "  down: {{type: ssh, host: 127.0.0.1, port: 1, connect-timeout: 2}}\n  \
         badkey: {{type: ssh, host: sshd-local, ssh-config: '{kc}', guild-home: '{{home}}'}}\n  \
         hostkey: {{type: ssh, host: sshd-local, ssh-config: '{c}'}}\n  \
         ro: {{type: ssh, {{ssh}}, guild-home: /proc/guild}}\n  \
         nopy: {{type: ssh, {{ssh}}, guild-home: '{{home}}', init: ['python3() {{ return 127; }}']}}\n  \
         badpart: {{type: slurm, partition: nosuch, guild-home: '{{here}}'}}\n  \
         nosbatch: {{type: slurm, partition: debug, guild-home: '{{here}}'}}\n",
        kc = key_cfg.display(),
        c = bad_cfg.display()
    ));
    let run = |remote: &'static str| ["run", "echo.py", "-y", "--remote", remote];
    r.fails(
        &run("down"),
        &[
            "cannot reach 127.0.0.1:1",
            "Connection refused",
            "check host, port",
        ],
    );
    r.fails(
        &run("badkey"),
        &["Permission denied", "the key was refused"],
    );
    r.fails(
        &run("hostkey"),
        &["Host key verification failed", "known_hosts"],
    );
    r.fails(
        &run("ro"),
        &["/proc/guild", "not writable", "set guild-home"],
    );
    r.fails(
        &run("nopy"),
        &["no python3 on sshd-local", "install Python 3"],
    );
    r.fails(&run("nope"), &["there is no remote 'nope'"]);
    r.fails(&["runs", "--remote", "down"], &["cannot reach 127.0.0.1:1"]);
    // sbatch rejects the partition: one line; the run stays staged here.
    let o = r.run(&run("badpart"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("rejected the job") && err.contains("Invalid partition"),
        "{err}"
    );
    let id = r.ids()[0].clone();
    assert_eq!(r.status(&id), "staged");
    // No sbatch on the PATH: one line that says what to do.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["/usr/bin", "/bin", "/usr/local/bin"] {
        for f in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let name = f.file_name();
            let n = name.to_string_lossy();
            if !n.starts_with("sbatch") && !n.starts_with("squeue") && !bin.join(&name).exists() {
                let _ = std::os::unix::fs::symlink(f.path(), bin.join(&name));
            }
        }
    }
    let before = r.e.run_dirs();
    let o = r.cmd(&run("nosbatch")).env("PATH", &bin).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("sbatch is not on the PATH"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(r.e.run_dirs(), before, "no run is made");
}

#[test]
fn a_copy_cut_short_leaves_the_run_staged_and_starting_it_again_resumes() {
    let r = Remote::new("  box: {type: ssh, {ssh}, guild-home: '{home}'}\n");
    // 20 MB of source code (20 text files under the 1 MiB limit) and a
    // script that prints their digest where it runs.
    use std::fmt::Write as _;
    let mut seed: u64 = 42;
    for i in 0..20 {
        let mut text = String::with_capacity(1_000_000);
        while text.len() < 1_000_000 - 20 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            writeln!(text, "{:016x}", seed).unwrap();
        }
        std::fs::write(r.e.proj.join(format!("data{i:02}.txt")), text).unwrap();
    }
    std::fs::write(
        r.e.proj.join("digest.py"),
        "import glob, hashlib\nh = hashlib.md5()\nfor f in sorted(glob.glob('data*.txt')):\n    h.update(open(f, 'rb').read())\nprint('digest', h.hexdigest())\n",
    )
    .unwrap();
    // The copy goes slowly (an rsync that limits its bandwidth) and its
    // connection is cut (the shared ssh connection is killed).
    let shim = r.shim("rsync", "exec /usr/bin/rsync --bwlimit=2000 \"$@\"");
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());
    let ctl = r.e.home.parent().unwrap().join("ctl");
    let child = r
        .cmd(&["run", "digest.py", "-y", "--remote", "box"])
        .env("PATH", &path)
        .env("GUILD_SSH_CONTROL_DIR", &ctl)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Cut once the copy has started there.
    wait_until("the copy to start", Duration::from_secs(20), || {
        r.ssh(&format!("ls {}/runs 2>/dev/null", r.ssh_home))
            .trim()
            .len()
            == 32
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("pkill")
        .args(["-9", "-f", &format!("ControlPath={}", ctl.display())])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("copying the run to sshd-local failed"),
        "{err}"
    );
    assert!(err.contains("guild run --start ID --remote box"), "{err}");
    let id = r.ids()[0].clone();
    assert_eq!(r.status(&id), "staged");
    // Starting it again resumes the copy and runs it: the same bytes there.
    let out = r.ok(&["run", "--start", &id, "-y", "--remote", "box"]);
    let here = r.e.ok(&["run", "digest.py", "-y"]);
    let digest = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("digest "))
            .unwrap()
            .to_string()
    };
    assert_eq!(digest(&out), digest(&here));
    assert_eq!(r.status(&id), "completed");
}

/// A remote whose `guild` is replaced by a hostile script: run ids that
/// are paths (`../x`, `/abs/dir`) and a `runs/ID` that is a link are
/// refused with one line, and nothing is written outside the home.
#[test]
fn pull_refuses_ids_and_links_a_hostile_remote_reports() {
    let r = Remote::new("  box: {type: ssh, {ssh}, guild-home: '{home}'}\n");
    r.ok(&["run", "echo.py", "-y", "--remote", "box"]);
    let tag = r.ssh_home.trim_start_matches("~/").to_string();
    let escape = format!("escape-{tag}");
    let abs = format!("/tmp/abs-{tag}");
    let hostile = |lines: &str| {
        r.ssh(&format!(
            "for b in {home}/bin/guild-*; do printf '%s\\n' '#!/bin/sh' \
             'echo \"home=$HOME/{tag}\"' {lines} > \"$b\"; chmod +x \"$b\"; done",
            home = r.ssh_home,
        ));
    };
    let other = Env::new();
    std::fs::copy(
        r.e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    let pull = || {
        other
            .cmd(&["pull", "box", "-y"])
            .env("GUILD_CONFIG", other.proj.join("guild-config.yml"))
            .output()
            .unwrap()
    };
    for bad in [format!("../../{escape}"), abs.clone()] {
        hostile(&format!("'echo \"{bad} running\"'"));
        let o = pull();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{bad}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("remote 'box' gave '{bad}' as a run id")),
            "{err}"
        );
        assert!(!other.home.parent().unwrap().join(&escape).exists());
        assert!(!other.home.join(&escape).exists());
        assert!(!Path::new(&abs).exists(), "{abs} was written");
    }
    // A plain id whose run directory there is a link to elsewhere.
    let id = "0123456789abcdef0123456789abcdef";
    r.ssh(&format!(
        "mkdir -p {h}/elsewhere/.guild && echo x > {h}/elsewhere/.guild/opref && \
         ln -sfn \"$HOME/{tag}/elsewhere\" {h}/runs/{id}",
        h = r.ssh_home
    ));
    hostile(&format!("'echo \"{id} running\"'"));
    let o = pull();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(other.home.join("runs").join(id)).is_err(),
        "the link was kept"
    );
    let there = r.ssh(&format!("ls -a {}/elsewhere/.guild", r.ssh_home));
    assert!(
        !there.contains("placement") && !there.contains("LOCK"),
        "{there}"
    );
}

/// The suite's sshd never stops the suite because a port is taken: with
/// 2222 in use (by this suite's own sshd, or a listener here) another
/// starts on a free port; a port asked for that is taken is one line.
#[test]
fn the_test_sshd_picks_a_free_port_when_2222_is_taken() {
    let _held = std::net::TcpListener::bind("127.0.0.1:2222");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/sshd-local.sh");
    let state = tempfile::tempdir().unwrap();
    let st = state.path().join("s");
    let start = |port: Option<&str>| {
        let mut c = Command::new(&script);
        c.arg("start").arg(&st).env("SSHD_LOCAL_CLIENT_CONFIG", "0");
        match port {
            Some(p) => c.env("SSHD_LOCAL_PORT", p),
            None => c.env_remove("SSHD_LOCAL_PORT"),
        };
        c.output().unwrap()
    };
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().port().to_string();
    let o = start(Some(&taken));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{taken} is taken")),
        "{err}"
    );
    let o = start(None);
    let stop = || Command::new(&script).arg("stop").arg(&st).output().unwrap();
    let facts = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        stop();
        panic!("{facts}{}", String::from_utf8_lossy(&o.stderr));
    }
    let port = facts
        .lines()
        .find_map(|l| l.strip_prefix("SSHD_LOCAL_PORT="))
        .unwrap()
        .to_string();
    let login = Command::new("ssh")
        .arg("-F")
        .arg(st.join("client/ssh_config"))
        .args(["sshd-local", "true"])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    stop();
    assert_ne!(port, "2222");
    assert!(login.success(), "no login on the port picked ({port})");
}

const READ_PY: &str = r#"import os
x = 1
print("row", open("input/train.csv").read().splitlines()[1])
refused = 0
# Root bypasses file modes (and would change the store): only others try.
tries = [] if os.getuid() == 0 else ["input/train.csv", "input/new.txt"]
for path in tries:
    try:
        open(path, "w").write("changed")
    except OSError:
        refused += 1
print("writes refused: %d" % refused)
"#;

#[test]
fn datastores_go_to_each_host_once_and_runs_there_mount_them() {
    let r = Remote::new(
        "  box: {type: ssh, {ssh}, guild-home: '{home}'}\n  hpc: {type: slurm, partition: debug, guild-home: '{here}'}\n",
    );
    let data = r.e.home.parent().unwrap().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("train.csv"), "x,y\n1,2\n").unwrap();
    std::fs::write(data.join("sub/big.bin"), vec![7u8; 300_000]).unwrap();
    r.ok(&["datastores", "create", "mnist", &data.display().to_string()]);
    std::fs::write(r.e.proj.join("read.py"), READ_PY).unwrap();
    let both = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // A sweep of three trials over SSH: the data goes to the host once.
    let args = [
        "run",
        "read.py",
        "x=[1,2,3]",
        "--datastore",
        "mnist=input",
        "-y",
    ];
    let o = r.run(&[&args[..], &["--remote", "box"]].concat());
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(out.matches("Sending datastore mnist:1").count(), 1, "{out}");
    assert_eq!(out.matches("row 1,2").count(), 3, "{out}");
    // The sshd's user is not root: the mount refuses both writes.
    assert_eq!(out.matches("writes refused: 2").count(), 3, "{out}");
    // Another run: nothing is sent again.
    let o = r.run(&[
        "run",
        "read.py",
        "--datastore",
        "mnist=input",
        "-y",
        "--remote",
        "box",
    ]);
    let out = both(&o);
    assert!(o.status.success() && out.contains("row 1,2"), "{out}");
    assert!(!out.contains("Sending datastore"), "{out}");
    // There, a run links the host's copy; here, the copy brought back
    // links this home's.
    let id = r.ids()[0].clone();
    let there = r.ssh(&format!("readlink {}/runs/{id}/input", r.ssh_home));
    assert!(there.contains("/datastores/trees/"), "{there}");
    assert!(!there.contains(&r.e.home.display().to_string()), "{there}");
    let objects = r.ssh(&format!(
        "find {}/datastores/objects -type f | wc -l",
        r.ssh_home
    ));
    assert_eq!(objects.trim(), "2", "{objects}");
    let here = std::fs::read_link(r.e.home.join("runs").join(&id).join("input")).unwrap();
    assert!(
        here.starts_with(r.e.home.join("datastores/trees")),
        "{here:?}"
    );
    // push: the data goes with the run, and the run there links it.
    r.e.ok(&["run", "read.py", "--datastore", "mnist=input", "-y", "-q"]);
    let local = r.ids()[0].clone();
    let o = r.run(&["push", "hpc", &local[..8]]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        both(&o).contains("Sending datastore mnist:1"),
        "{}",
        both(&o)
    );
    let cluster = r.e.home.parent().unwrap().join("cluster");
    let link = std::fs::read_link(cluster.join("runs").join(&local).join("input")).unwrap();
    assert!(
        link.starts_with(cluster.join("datastores/trees")),
        "{link:?}"
    );
    // A Slurm sweep on that home: the data is there already.
    let o = r.run(&[&args[..2], &["x=[4,5]"], &args[3..], &["--remote", "hpc"]].concat());
    assert!(o.status.success(), "{}", both(&o));
    assert!(!both(&o).contains("Sending datastore"), "{}", both(&o));
    let trials: Vec<String> = r.ids()[..2].to_vec();
    for t in &trials {
        r.sync_until(t, "completed", Duration::from_secs(60));
        let out =
            std::fs::read_to_string(r.e.home.join("runs").join(t).join(".guild/output")).unwrap();
        assert!(out.contains("row 1,2"), "{out}");
    }
    // pulled into a home without the data: the run comes, and the
    // missing version is named with the fix.
    let other = Env::new();
    let o = other
        .cmd(&["pull", "box", &id])
        .env("GUILD_CONFIG", r.e.proj.join("guild-config.yml"))
        .output()
        .unwrap();
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("mounts datastore mnist:1") && out.contains("guild datastores create mnist"),
        "{out}"
    );
}
