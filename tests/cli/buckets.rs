//! Object storage remotes against the real S3-compatible server (moto's)
//! that scripts/setup-test-env.sh starts: push, pull, the views, status
//! and the faults, each test in a bucket of its own.

use super::*;
use std::collections::BTreeMap;

/// The test server's settings (`services/s3-local.sh`'s state file).
fn s3_env() -> BTreeMap<String, String> {
    let state =
        std::env::var("GUILD_TEST_S3_STATE").unwrap_or_else(|_| "/tmp/guild-test-s3".into());
    let text = std::fs::read_to_string(format!("{state}/env"))
        .expect("the test S3 server (scripts/setup-test-env.sh starts it)");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A new bucket on the test server, made with boto3 (another client).
fn new_bucket() -> (String, String) {
    let env = s3_env();
    let endpoint = env["S3_LOCAL_ENDPOINT"].clone();
    let name = format!("gt-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let py = format!("{}/bin/python", env["S3_LOCAL_VENV"]);
    let o = Command::new(py)
        .args([
            "-c",
            "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', \
             aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
            &endpoint,
            &name,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (endpoint, name)
}

/// An env with remotes `b` (the new bucket, under a root) and `nob` (a
/// bucket that does not exist), and test credentials.
fn bucket_env() -> (Env, String) {
    let (endpoint, bucket) = new_bucket();
    let e = Env::new();
    std::fs::write(
        e.proj.join("guild-config.yml"),
        format!(
            "remotes:\n  b: {{type: s3, bucket: {bucket}, root: /team/runs, endpoint: '{endpoint}'}}\n  \
             nob: {{type: s3, bucket: no-such-bucket-here, endpoint: '{endpoint}'}}\n"
        ),
    )
    .unwrap();
    (e, bucket)
}

/// `args` with the env's user config and the test server's credentials.
pub(super) fn cmd(e: &Env, args: &[&str]) -> Command {
    let mut c = e.cmd(args);
    c.env("GUILD_CONFIG", e.proj.join("guild-config.yml"))
        .env("AWS_ACCESS_KEY_ID", "k")
        .env("AWS_SECRET_ACCESS_KEY", "s");
    c
}

/// `c` run by `script`, on a pseudo-terminal of its own (its output and
/// errors both come out on stdout).
fn on_a_terminal(c: &Command) -> Command {
    let line: Vec<String> = std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let mut t = Command::new("script");
    t.args(["-qec", &line.join(" "), "/dev/null"]);
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(d) = c.get_current_dir() {
        t.current_dir(d);
    }
    t
}

/// [`cmd`], which must succeed: its stdout and stderr.
pub(super) fn ok(e: &Env, args: &[&str]) -> (String, String) {
    let o = cmd(e, args).output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{args:?}: {out}{err}");
    (out, err)
}

/// Every file under `dir` (not the tracker's own locks): path, mode,
/// mtime and content.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, i64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| !e.file_name().to_string_lossy().starts_with("LOCK"))
        .map(|e| {
            let md = e.metadata().unwrap();
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                (
                    md.mode(),
                    md.mtime() * 1_000_000_000 + md.mtime_nsec(),
                    std::fs::read(e.path()).unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn runs_pushed_to_a_bucket_are_listed_and_pulled_back_identical() {
    let (e, _) = bucket_env();
    ok(&e, &["run", "train.py", "lr=0.2", "-y", "-q"]);
    ok(&e, &["run", "train.py", "lr=[0.3,0.4]", "-y", "-q"]);
    std::fs::set_permissions(
        e.proj.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // A run still running when pushed.
    ok(
        &e,
        &["run", "train.py", "sleep=30", "-y", "-q", "--background"],
    );
    let ids: Vec<String> = e
        .runs_json()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    wait_until(
        "the background run to start",
        Duration::from_secs(20),
        || e.status_of(&ids[0]).starts_with("running"),
    );
    let (_, err) = ok(&e, &["push", "b", "-y"]);
    assert_eq!(err.matches("Copying ").count(), 4, "{err}");
    // Listed there, with filters, in a few requests.
    let (out, _) = ok(&e, &["runs", "--remote", "b"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert_eq!(out.matches("completed").count(), 3, "{out}");
    assert_eq!(out.matches("running").count(), 1, "{out}");
    let (out, _) = ok(&e, &["runs", "--remote", "b", "--running"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (info, _) = ok(&e, &["runs", "info", "--remote", "b", &ids[1][..8]]);
    assert!(
        info.contains("status: completed") && info.contains("lr: 0.4"),
        "{info}"
    );
    // A second push sends only the running run's changes.
    let (_, err) = ok(&e, &["push", "b", "-y"]);
    assert!(err.matches("Copying ").count() <= 1, "{err}");
    assert!(!err.contains(&format!("Copying {}", ids[1])), "{err}");
    // Pulled into another home: the same bytes, modes and times; the
    // running run shows as running there.
    let other = Env::new();
    std::fs::copy(
        e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    ok(&other, &["pull", "b"]);
    for id in &ids[1..] {
        let a = snapshot(&e.home.join("runs").join(id));
        let b = snapshot(&other.home.join("runs").join(id));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert!(a == b, "run {id} differs after a pull");
    }
    assert!(
        other.status_of(&ids[0]).starts_with("running"),
        "{}",
        other.status_of(&ids[0])
    );
    // Guild 0.9.0 lists and inspects what was pulled.
    let g = other.guild090(&["runs", "-a"]);
    let listed = String::from_utf8_lossy(&g.stdout);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    for id in &ids[1..] {
        assert!(listed.contains(&id[..8]), "{listed}");
    }
    let g = other.guild090(&["runs", "info", &ids[1][..8]]);
    let info = String::from_utf8_lossy(&g.stdout);
    assert!(
        info.contains("status: completed") && info.contains("lr: 0.4"),
        "{info}"
    );
    // A second pull copies nothing.
    let (_, err) = ok(&other, &["pull", "b"]);
    assert!(err.matches("Copying ").count() <= 1, "{err}");
    ok(&e, &["stop", "-y"]);
    // Deleted runs: this home's trash to the bucket's, then into the
    // trash of another home, where Guild 0.9.0 lists and restores it.
    let gone = &ids[3];
    ok(&e, &["runs", "rm", &gone[..8], "-y"]);
    // (The trash also holds the sweep's batch run, deleted when it ended.)
    let (local, _) = ok(&e, &["runs", "--deleted"]);
    assert_eq!(local.lines().count(), 2, "{local}");
    let (out, _) = ok(&e, &["push", "b", "--deleted", "-y"]);
    assert!(out.contains(&format!("Copied {gone} to b")), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let (out, _) = ok(&e, &["runs", "--remote", "b", "--deleted"]);
    assert!(
        out.contains(&gone[..8]) && out.lines().count() == 2,
        "{out}"
    );
    let third = Env::new();
    std::fs::copy(
        e.proj.join("guild-config.yml"),
        third.proj.join("guild-config.yml"),
    )
    .unwrap();
    let (out, _) = ok(&third, &["pull", "b", "--deleted", &gone[..8]]);
    assert_eq!(out.trim(), format!("Copied {gone} from b"), "{out}");
    assert!(!third.home.join("runs").join(gone).exists());
    assert!(
        snapshot(&e.home.join("trash/runs").join(gone))
            == snapshot(&third.home.join("trash/runs").join(gone)),
        "deleted run {gone} differs after push and pull"
    );
    let g = third.guild090(&["runs", "--deleted"]);
    assert!(
        String::from_utf8_lossy(&g.stdout).contains(&gone[..8]),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    let g = third.guild090(&["runs", "restore", &gone[..8], "-y"]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(third.status_of(gone), "completed");
}

#[test]
fn bucket_status_and_faults_are_one_line_that_names_the_fix() {
    let (e, bucket) = bucket_env();
    let (out, _) = ok(&e, &["remote", "status", "b"]);
    assert!(out.contains(&format!("s3://{bucket}/team/runs")), "{out}");
    assert!(
        out.contains("write: yes") && out.contains("runs: 0"),
        "{out}"
    );
    ok(&e, &["run", "train.py", "-y", "-q"]);
    for args in [
        &["push", "nob", "-y"][..],
        &["runs", "--remote", "nob"],
        &["remote", "status", "nob"],
    ] {
        let o = cmd(&e, args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("the bucket no-such-bucket-here does not exist")
                && err.contains("fix `bucket`"),
            "{args:?}: {err}"
        );
    }
    // cat and ls of a run there; delete to the bucket's trash, restore,
    // purge.
    ok(&e, &["push", "b", "-y"]);
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let (out, _) = ok(&e, &["cat", "--remote", "b", "--output", &id[..8]]);
    assert!(out.contains("loss: "), "{out}");
    let (out, _) = ok(&e, &["ls", "--remote", "b", &id[..8]]);
    assert!(out.contains("train.py"), "{out}");
    assert!(
        out.starts_with(&format!("s3://{bucket}/team/runs/runs/{id}")),
        "{out}"
    );
    ok(&e, &["runs", "delete", "--remote", "b", &id[..8], "-y"]);
    let (out, _) = ok(&e, &["runs", "--remote", "b"]);
    assert_eq!(out.trim(), "", "{out}");
    let (out, _) = ok(&e, &["runs", "--remote", "b", "--deleted"]);
    assert!(out.contains(&id[..8]), "{out}");
    let objects = |prefix: &str| -> usize {
        let env = s3_env();
        let o = Command::new(format!("{}/bin/python", env["S3_LOCAL_VENV"]))
            .args([
                "-c",
                "import boto3, sys; c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', \
                 aws_secret_access_key='s', region_name='us-east-1'); \
                 print(c.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3]).get('KeyCount', 0))",
                &env["S3_LOCAL_ENDPOINT"],
                &bucket,
                prefix,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    assert_eq!(objects(&format!("team/runs/runs/{id}/")), 0);
    assert!(objects(&format!("team/runs/trash/runs/{id}/")) > 5);
    ok(&e, &["runs", "restore", "--remote", "b", &id[..8], "-y"]);
    let (out, _) = ok(&e, &["runs", "--remote", "b"]);
    assert!(out.contains(&id[..8]), "{out}");
    ok(&e, &["runs", "delete", "--remote", "b", &id[..8], "-y"]);
    ok(&e, &["runs", "purge", "--remote", "b", "-y"]);
    let (out, _) = ok(&e, &["runs", "--remote", "b", "--deleted"]);
    assert_eq!(out.trim(), "", "{out}");
    assert_eq!(objects(&format!("team/runs/trash/runs/{id}/")), 0);
    // Two pushes of the same runs at once: both succeed, one copy there.
    let spawn = || {
        cmd(&e, &["push", "b", "-y"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let (out, _) = ok(&e, &["runs", "--remote", "b"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let other = Env::new();
    std::fs::copy(
        e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    ok(&other, &["pull", "b"]);
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    assert!(
        snapshot(&e.home.join("runs").join(&id)) == snapshot(&other.home.join("runs").join(&id))
    );
}

#[test]
fn a_large_file_goes_in_parts_and_an_upload_cut_short_resumes() {
    let (e, _) = bucket_env();
    std::fs::write(
        e.proj.join("big.py"),
        "import os\nopen('big.bin', 'wb').write(os.urandom(200 * 1024 * 1024))\n",
    )
    .unwrap();
    ok(&e, &["run", "big.py", "-y", "-q"]);
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    // The push is killed once a part is up.
    let uploads = e.home.join("cache/remotes/b/uploads");
    let mut child = cmd(&e, &["push", "b", "-y"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The parts the upload's record says are done (its temporary files,
    // `.NAME.tmp-…`, are not the record yet).
    let parts_done = || -> usize {
        std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|f| std::fs::read(f.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|v| {
                v["done"]
                    .as_array()
                    .map_or(0, |d| d.iter().filter(|p| !p.is_null()).count())
            })
            .sum()
    };
    wait_until("a part up", Duration::from_secs(60), || parts_done() >= 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = parts_done();
    assert!(
        (1..13).contains(&before),
        "{before} of 13 parts were up when it was cut"
    );
    // Nothing of the run is listed there: its manifest goes last.
    let (out, _) = ok(&e, &["runs", "--remote", "b"]);
    assert_eq!(out.trim(), "", "{out}");
    // Pushed again: the upload goes on from where it stopped.
    let (_, err) = ok(&e, &["push", "b", "-y"]);
    let resumed = err
        .lines()
        .find_map(|l| l.strip_prefix("Resuming the upload of big.bin at part "))
        .unwrap_or_else(|| panic!("{err}"));
    let at: usize = resumed.split(' ').next().unwrap().parse().unwrap();
    assert!(at > before.min(12), "{err}");
    assert!(resumed.ends_with("of 13"), "{err}");
    // Pulled elsewhere: the same 200 MB.
    let other = Env::new();
    std::fs::copy(
        e.proj.join("guild-config.yml"),
        other.proj.join("guild-config.yml"),
    )
    .unwrap();
    // A pull cut off midway, then pulled again on a terminal: it goes on
    // from where it stopped, with its progress shown.
    let run_dir = other.home.join("runs").join(&id);
    let partial = run_dir.join(".big.bin.guild-pull");
    let mut child = cmd(&other, &["pull", "b", &id[..8]])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let size = || partial.metadata().map_or(0, |m| m.len());
    wait_until("a part of big.bin down", Duration::from_secs(60), || {
        size() >= 1024 * 1024
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let had = size();
    assert!(had < 200 * 1024 * 1024, "the pull was not cut off: {had}");
    let o = on_a_terminal(&cmd(&other, &["pull", "b", &id[..8]]))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{shown}");
    assert!(
        shown.contains("Resuming the download of big.bin at "),
        "{shown}"
    );
    assert!(shown.contains("big.bin: 100% ("), "{shown}");
    assert!(!partial.exists());
    let same = Command::new("cmp")
        .arg(e.home.join("runs").join(&id).join("big.bin"))
        .arg(other.home.join("runs").join(&id).join("big.bin"))
        .status()
        .unwrap();
    assert!(same.success(), "big.bin differs after push and pull");
}

/// A server of the test's own that checks credentials (moto with IAM
/// enforced after the setup's first four requests), killed at the end.
struct AuthServer(std::process::Child);

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn refused_credentials_and_a_refused_write_are_one_line_that_names_the_fix() {
    let env = s3_env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = AuthServer(
        Command::new(format!("{}/bin/moto_server", env["S3_LOCAL_VENV"]))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    // A bucket, and a user who may only read it (the four free requests).
    let o = Command::new(format!("{}/bin/python", env["S3_LOCAL_VENV"]))
        .args([
            "-c",
            "import boto3, json, sys\n\
             kw = dict(endpoint_url=sys.argv[1], aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1')\n\
             boto3.client('s3', **kw).create_bucket(Bucket='auth-runs')\n\
             iam = boto3.client('iam', **kw)\n\
             iam.create_user(UserName='ro')\n\
             iam.put_user_policy(UserName='ro', PolicyName='ro', PolicyDocument=json.dumps({'Version': '2012-10-17', \
             'Statement': [{'Effect': 'Allow', 'Action': ['s3:Get*', 's3:List*'], 'Resource': '*'}]}))\n\
             k = iam.create_access_key(UserName='ro')['AccessKey']\n\
             print(k['AccessKeyId'], k['SecretAccessKey'])",
            &endpoint,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let keys = String::from_utf8_lossy(&o.stdout).into_owned();
    let (key, secret) = keys.trim().split_once(' ').unwrap();
    let e = Env::new();
    std::fs::write(
        e.proj.join("guild-config.yml"),
        format!("remotes:\n  a: {{type: s3, bucket: auth-runs, endpoint: '{endpoint}'}}\n"),
    )
    .unwrap();
    ok(&e, &["run", "train.py", "-y", "-q"]);
    let run = |args: &[&str], key: &str, secret: &str| {
        let o = cmd(&e, args)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Wrong credentials.
    for args in [&["runs", "--remote", "a"][..], &["push", "a", "-y"]] {
        let (code, _, err) = run(args, "AKIAWRONGWRONGWRONG0", "nope");
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("refused the credentials (InvalidAccessKeyId)")
                && err.contains("set AWS_ACCESS_KEY_ID"),
            "{err}"
        );
        assert!(!err.contains("nope"), "the secret was printed: {err}");
    }
    // Read-only credentials: listed, but a write is refused.
    let (code, out, err) = run(&["runs", "--remote", "a"], key, secret);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, _) = run(&["remote", "status", "a"], key, secret);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("write: NO: writing to s3://auth-runs was refused (AccessDenied)"),
        "{out}"
    );
    let (code, _, err) = run(&["push", "a", "-y"], key, secret);
    assert_eq!(code, Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("guild: writing to s3://auth-runs was refused (AccessDenied)"),
        "{err}"
    );
    // The secret is in no file of the home.
    for f in walkdir::WalkDir::new(&e.home).into_iter().flatten() {
        if f.file_type().is_file() {
            let text = std::fs::read(f.path()).unwrap();
            assert!(
                !text.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                f.path().display()
            );
        }
    }
}
