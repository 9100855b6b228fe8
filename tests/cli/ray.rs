//! Ray remotes against the real Ray head (`ray start --head --num-cpus 2`)
//! that scripts/setup-test-env.sh starts: runs and sweeps sent as jobs
//! through the Jobs API, stops, faults, and the runs' directories back
//! through a shared path and through the real S3 server. The tests take
//! turns: they share the head's two CPUs.

use super::buckets::{cmd, ok};
use super::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

static HEAD: Mutex<()> = Mutex::new(());

/// A service's settings (its state file's KEY=VALUE lines).
fn service_env(var: &str, default: &str) -> BTreeMap<String, String> {
    let state = std::env::var(var).unwrap_or_else(|_| default.into());
    let text = std::fs::read_to_string(format!("{state}/env"))
        .unwrap_or_else(|_| panic!("{state}/env: scripts/setup-test-env.sh starts the service"));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ray_address() -> String {
    service_env("GUILD_TEST_RAY_STATE", "/tmp/guild-test-ray")["RAY_LOCAL_ADDRESS"].clone()
}

/// An env whose user config declares `remotes` (YAML under `remotes:`).
fn ray_env(remotes: &str) -> Env {
    let e = Env::new();
    std::fs::write(
        e.proj.join("guild-config.yml"),
        format!("remotes:\n{remotes}"),
    )
    .unwrap();
    e
}

/// `guild sync` until every run here has one of `states` (polled).
fn sync_until(e: &Env, what: &str, secs: u64, states: &[&str]) -> Vec<serde_json::Value> {
    let t0 = Instant::now();
    loop {
        let (out, _) = ok(e, &["sync"]);
        let runs = e.runs_json();
        if !runs.is_empty()
            && runs
                .iter()
                .all(|r| states.contains(&r["status"].as_str().unwrap_or("")))
        {
            return runs;
        }
        let st: Vec<&str> = runs
            .iter()
            .map(|r| r["status"].as_str().unwrap_or(""))
            .collect();
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{what}: {st:?} after sync: {out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// An attr of a run in `home`, as an integer.
fn attr_i64(home: &Path, id: &str, name: &str) -> i64 {
    std::fs::read_to_string(home.join("runs").join(id).join(".guild/attrs").join(name))
        .unwrap_or_else(|_| panic!("run {id} has no {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn ray_runs_sweeps_and_stops_with_a_shared_path() {
    let _head = HEAD.lock().unwrap_or_else(|p| p.into_inner());
    let shared = tempfile::tempdir().unwrap();
    let e = ray_env(&format!(
        "  r:\n    type: ray\n    address: {}\n    storage: {}\n    num-cpus: 0.5\n    max-concurrent: 2\n    hourly-cost: 3.6\n",
        ray_address(),
        shared.path().display()
    ));
    let (out, _) = ok(&e, &["remote", "status", "r"]);
    assert!(out.contains("jobs api: version 4"), "{out}");
    assert!(out.contains("2 CPU") && out.contains("write: yes"), "{out}");
    // Foreground: the output here as it comes, the run back when it ends.
    let (out, _) = ok(&e, &["run", "train.py", "lr=0.3", "--remote", "r", "-y"]);
    assert!(out.contains("loss: 0.25"), "{out}");
    let runs = e.runs_json();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let output =
        std::fs::read_to_string(e.home.join("runs").join(&id).join(".guild/output")).unwrap();
    assert!(output.contains("acc: "), "{output}");
    // An 8-trial sweep, in the background: at most 2 at once, though the
    // cluster could run 4 of them (0.5 CPU each).
    let (_, err) = ok(
        &e,
        &[
            "run",
            "train.py",
            "lr=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]",
            "sleep=2",
            "--remote",
            "r",
            "--background",
            "-y",
        ],
    );
    assert!(
        err.contains("as 8 jobs") && err.contains("at most 2 at a time"),
        "{err}"
    );
    assert!(err.contains("Estimated cost: 7.20 per hour"), "{err}");
    let runs = sync_until(&e, "the sweep to end", 240, &["completed"]);
    let trials: Vec<String> = runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .filter(|t| *t != id)
        .collect();
    assert_eq!(trials.len(), 8);
    let spans: Vec<(i64, i64)> = trials
        .iter()
        .map(|t| {
            (
                attr_i64(&e.home, t, "started"),
                attr_i64(&e.home, t, "stopped"),
            )
        })
        .collect();
    for (a, _) in &spans {
        let at_once = spans.iter().filter(|(s, t)| s <= a && a < t).count();
        assert!(at_once <= 2, "{at_once} trials ran at once: {spans:?}");
    }
    // The sweep's cost: its trials' run-hours at 3.6 an hour.
    let (out, _) = ok(&e, &["history"]);
    let sweep = out
        .lines()
        .find(|l| l.contains("train.py+"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = sweep.split_whitespace().collect();
    assert_eq!(cols[6], "8", "{out}");
    let cost: f64 = cols.last().unwrap().parse().unwrap();
    assert!(cost > 0.0 && cost < 1.0, "{out}");
    // Stop a running run, and a trial that waits for a slot.
    let before: Vec<String> = e
        .runs_json()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let (_, err) = ok(
        &e,
        &[
            "run",
            "train.py",
            "lr=[0.1,0.2,0.3]",
            "sleep=60",
            "--remote",
            "r",
            "--background",
            "-y",
        ],
    );
    assert!(err.contains("as 3 jobs"), "{err}");
    let fresh = |e: &Env| -> Vec<(String, String)> {
        e.runs_json()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .filter(|(i, _)| !before.contains(i))
            .collect()
    };
    let t0 = Instant::now();
    let trials = loop {
        ok(&e, &["sync"]);
        let st = fresh(&e);
        if st.iter().filter(|(_, s)| s.starts_with("running")).count() == 2 {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "two trials running, not {st:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(trials.len(), 3, "{trials:?}");
    // `status` counts the sweep's trials by state, with the cost so far.
    let (out, _) = ok(&e, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sweep = st
        .as_array()
        .and_then(|a| a.iter().find(|x| x["running"] == 2))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(sweep["queued"], 1, "{out}");
    assert!(sweep["cost"].as_f64().is_some(), "{out}");
    let waiting = trials
        .iter()
        .find(|(_, s)| s == "pending")
        .expect("a pending trial");
    let running = trials
        .iter()
        .find(|(_, s)| s.starts_with("running"))
        .unwrap();
    for (id, _) in [waiting, running] {
        ok(&e, &["stop", &id[..8], "-y"]);
        assert_eq!(e.status_of(id), "terminated", "{id}");
    }
    ok(&e, &["stop", "-y"]);
    // The stopped sweep leaves no actor behind on the cluster.
    wait_until(
        "the sweep's slots actor to end",
        Duration::from_secs(90),
        || {
            let url = format!("{}/api/v0/actors?limit=1000", ray_address());
            let Ok(mut r) = ureq::get(&url).call() else {
                return false;
            };
            let body = r.body_mut().read_to_string().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            v["data"]["result"]["result"]
                .as_array()
                .is_some_and(|actors| {
                    let ours: Vec<&serde_json::Value> = actors
                        .iter()
                        .filter(|a| {
                            trials
                                .iter()
                                .any(|(i, _)| a["name"] == format!("guild-slots-{i}"))
                        })
                        .collect();
                    !ours.is_empty() && ours.iter().all(|a| a["state"] == "DEAD")
                })
        },
    );
    // Pulled into another home from the storage; Guild 0.9.0 lists them.
    let other = ray_env(&format!(
        "  r: {{type: ray, address: '{}', storage: '{}'}}\n",
        ray_address(),
        shared.path().display()
    ));
    ok(&other, &["pull", "r", &id[..8]]);
    // Identical to the run as it ended there: every file, byte for byte
    // (but the locks of the process that ran it, which stay there).
    let files = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .filter(|f| f.file_type().is_file())
            .map(|f| {
                let rel = f.path().strip_prefix(dir).unwrap().display().to_string();
                (rel, std::fs::read(f.path()).unwrap())
            })
            .filter(|(rel, _)| !rel.starts_with(".guild/LOCK"))
            .collect()
    };
    let there = files(&shared.path().join("runs").join(&id));
    let here = files(&other.home.join("runs").join(&id));
    assert!(there.contains_key(".guild/output"), "{:?}", there.keys());
    assert_eq!(
        here.keys().collect::<Vec<_>>(),
        there.keys().collect::<Vec<_>>()
    );
    assert!(here == there, "the pulled run differs from the storage's");
    let g = other.guild090(&["runs", "info", &id[..8]]);
    let info = String::from_utf8_lossy(&g.stdout);
    assert!(
        info.contains("status: completed") && info.contains("lr: 0.3"),
        "{info}"
    );
    // Deleted there, it comes into another home's trash with --deleted.
    ok(&e, &["runs", "delete", "--remote", "r", &id[..8], "-y"]);
    let third = ray_env(&format!(
        "  r: {{type: ray, address: '{}', storage: '{}'}}\n",
        ray_address(),
        shared.path().display()
    ));
    ok(&third, &["pull", "r", "--deleted", &id[..8]]);
    assert!(
        third
            .home
            .join("trash/runs")
            .join(&id)
            .join(".guild/opref")
            .is_file(),
        "the deleted run is not in the trash here"
    );
}

#[test]
fn ray_runs_come_back_through_a_bucket_while_they_run() {
    let _head = HEAD.lock().unwrap_or_else(|p| p.into_inner());
    let s3 = service_env("GUILD_TEST_S3_STATE", "/tmp/guild-test-s3");
    let bucket = format!("gr-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let made = Command::new(format!("{}/bin/python", s3["S3_LOCAL_VENV"]))
        .args([
            "-c",
            "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', \
             aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
            &s3["S3_LOCAL_ENDPOINT"],
            &bucket,
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let e = ray_env(&format!(
        "  store: {{type: s3, bucket: {bucket}, endpoint: '{ep}'}}\n  r:\n    type: ray\n    address: {}\n    storage: store\n    env: {{AWS_ACCESS_KEY_ID: k, AWS_SECRET_ACCESS_KEY: not-in-any-run-9c1}}\n  \
           tmpless: {{type: ray, address: '{a}', storage: store, env: {{TMPDIR: /no/such/tmp, AWS_ACCESS_KEY_ID: k, AWS_SECRET_ACCESS_KEY: s}}}}\n",
        ray_address(),
        ep = s3["S3_LOCAL_ENDPOINT"],
        a = ray_address()
    ));
    std::fs::write(
        e.proj.join("slow.py"),
        "import time\nprint('loss: 0.5', flush=True)\ntime.sleep(12)\nprint('loss: 0.1', flush=True)\n",
    )
    .unwrap();
    ok(
        &e,
        &["run", "slow.py", "--remote", "r", "--background", "-y"],
    );
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    // While it runs, its output is in the bucket.
    wait_until(
        "the first line in the bucket",
        Duration::from_secs(90),
        || {
            cmd(&e, &["cat", "--remote", "r", "--output", &id[..8]])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("loss: 0.5"))
        },
    );
    let (out, _) = ok(&e, &["runs", "--remote", "r"]);
    assert!(out.contains("running"), "{out}");
    let (out, _) = ok(&e, &["runs", "info", "--remote", "r", &id[..8]]);
    assert!(out.contains("status: running"), "{out}");
    // `watch --remote` follows it from the bucket to its end.
    let (out, err) = ok(&e, &["watch", "--remote", "r", &id[..8]]);
    assert!(
        out.contains("loss: 0.5") && out.contains("loss: 0.1"),
        "{out}{err}"
    );
    assert!(
        err.contains("stopped with a status of 'completed'"),
        "{err}"
    );
    let runs = sync_until(&e, "the run to end", 120, &["completed"]);
    assert_eq!(runs[0]["id"], id.as_str());
    let output =
        std::fs::read_to_string(e.home.join("runs").join(&id).join(".guild/output")).unwrap();
    assert!(output.contains("loss: 0.1"), "{output}");
    // Pulled into another home: Guild 0.9.0 lists it.
    let other = Env::new();
    std::fs::copy(
        e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    ok(&other, &["pull", "r"]);
    let g = other.guild090(&["runs", "-a"]);
    let listed = String::from_utf8_lossy(&g.stdout);
    assert!(
        listed.contains(&id[..8]) && listed.contains("completed"),
        "{listed}"
    );
    // A job whose entrypoint fails (the nodes have no such TMPDIR, where
    // the run's home would be): the log's tail, and how to go on.
    let o = cmd(&other, &["run", "train.py", "--remote", "tmpless", "-y"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("failed before the run started")
            && err.contains("its log ends:")
            && err.contains("cannot make a directory under /no/such/tmp")
            && err.contains("then `guild run --restart"),
        "{err}"
    );
    // The credentials given in `env` went to the job, not into the run.
    let attrs = std::fs::read_dir(other.home.join("runs").join(&id).join(".guild/attrs"))
        .unwrap()
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        attrs.contains("AWS_SECRET_ACCESS_KEY") && !attrs.contains("not-in-any-run-9c1"),
        "{attrs}"
    );
}

#[test]
fn ray_faults_are_one_line_that_names_the_fix_and_leave_nothing_staged() {
    let _head = HEAD.lock().unwrap_or_else(|p| p.into_inner());
    // A server that answers /api/version as an older Jobs API.
    let old = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let old_port = old.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in old.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let body = r#"{"version": "2", "ray_version": "2.2.0"}"#;
            let _ = std::io::Write::write_all(
                &mut s,
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
            );
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let shared = tempfile::tempdir().unwrap();
    let sh = shared.path().display();
    let e = ray_env(&format!(
        "  down: {{type: ray, address: 'http://127.0.0.1:{closed}', storage: '{sh}'}}\n  \
           old: {{type: ray, address: 'http://127.0.0.1:{old_port}', storage: '{sh}'}}\n  \
           gpus: {{type: ray, address: '{a}', storage: '{sh}', num-gpus: 1}}\n  \
           ro: {{type: ray, address: '{a}', storage: /proc/no-runs-here}}\n  \
           broken: {{type: ray, address: '{a}', storage: '{sh}', pip: [no-such-package-guild-3f1]}}\n",
        a = ray_address()
    ));
    for (remote, words) in [
        ("down", "cannot reach the Ray dashboard"),
        ("old", "Jobs API version 2 (Ray 2.2.0)"),
        (
            "gpus",
            "has 0 GPU in all and a run asks for 1; lower `num-gpus`",
        ),
        ("ro", "the storage of remote 'ro' cannot be written"),
    ] {
        let o = cmd(&e, &["run", "train.py", "--remote", remote, "-y"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{remote}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{remote}: {err}");
        assert!(err.contains(words), "{remote}: {err}");
        assert!(e.runs_json().is_empty(), "{remote} left a run staged");
    }
    // A job that fails before its entrypoint (a package pip cannot
    // find): Ray's reason, and how to go on.
    let o = cmd(&e, &["run", "train.py", "--remote", "broken", "-y"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or("");
    assert!(
        last.starts_with("guild: the Ray job")
            && last.contains("failed before the run started (ERROR: Could not find a version that satisfies the requirement no-such-package-guild-3f1"),
        "{err}"
    );
    assert!(err.contains("--restart"), "{err}");
    let runs = e.runs_json();
    assert_eq!(runs[0]["status"], "error", "{runs:?}");
}
