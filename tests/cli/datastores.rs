//! `guild datastores`: create, list, info, delete, gc and verify through the
//! binary, on a private home.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn data(e: &Env) -> PathBuf {
    let d = e.proj.join("data");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("train.csv"), "x,y\n1,2\n").unwrap();
    std::fs::write(d.join("sub/test.csv"), "x,y\n3,4\n").unwrap();
    d
}

#[test]
fn datastores_are_versioned_by_content_and_checked() {
    let e = Env::new();
    let d = data(&e);
    let out = e.ok(&["datastores", "create", "mnist", "data", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["version"]["version"], 1, "{out}");
    assert_eq!(c["version"]["files"], 2, "{out}");
    assert_eq!(c["new"], true);
    // The same tree again: no new version, nothing read.
    let out = e.ok(&["datastores", "create", "mnist", "data", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (c["new"].as_bool(), c["files_hashed"].as_u64()),
        (Some(false), Some(0)),
        "{out}"
    );
    std::fs::write(d.join("train.csv"), "x,y\n1,2\n5,6\n").unwrap();
    let out = e.ok(&["datastores", "create", "mnist", "data"]);
    assert!(out.contains("Created datastore mnist:2"), "{out}");
    assert!(out.contains("1 new object(s), 1 file(s) hashed"), "{out}");
    let list: serde_json::Value = serde_json::from_str(&e.ok(&["datastores", "--json"])).unwrap();
    assert_eq!(list[0]["name"], "mnist");
    assert_eq!(list[0]["versions"].as_array().unwrap().len(), 2);
    let table = e.ok(&["datastores"]);
    assert!(
        table.contains("mnist:1") && table.contains("mnist:2"),
        "{table}"
    );
    let info = e.ok(&["datastores", "info", "mnist:1"]);
    assert!(info.contains("sub/test.csv"), "{info}");
    // Bad names and versions: one line that names the fix.
    for (args, want) in [
        (
            vec!["datastores", "create", "../x", "data"],
            "invalid datastore name",
        ),
        (
            vec!["datastores", "info", "mnist:0"],
            "invalid datastore version",
        ),
        (vec!["datastores", "info", "mnist:9"], "has no version 9"),
        (
            vec!["datastores", "info", "nope"],
            "there is no datastore nope",
        ),
    ] {
        let o = e.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // Stored data cannot be changed by the run's user through the store
    // (objects are read-only); verify finds a change made anyway.
    assert!(e
        .ok(&["datastores", "verify"])
        .contains("All objects match"));
    let objects = e.home.join("datastores/objects");
    let obj = walk_files(&objects).into_iter().next().unwrap();
    let mode = std::fs::metadata(&obj).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444);
    std::fs::set_permissions(&obj, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&obj, "changed").unwrap();
    let o = e.run(&["datastores", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("CHANGED"));
    // Delete then gc: the version goes, its data with it.
    e.ok(&["datastores", "delete", "mnist:1", "-y"]);
    let gc: serde_json::Value =
        serde_json::from_str(&e.ok(&["datastores", "gc", "--json"])).unwrap();
    assert_eq!(gc["manifests"], 1, "{gc}");
    assert!(e.run(&["datastores", "info", "mnist:1"]).status.code() == Some(1));
}

#[test]
fn a_runs_output_becomes_a_datastore_and_outside_links_are_refused() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    let out = e.ok(&[
        "datastores",
        "create",
        "results",
        "--from-run",
        "1",
        "--json",
    ]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let info = e.ok(&["datastores", "info", "results", "--json"]);
    assert!(
        !info.contains("\".guild/"),
        "the run's metadata is not data: {info}"
    );
    assert!(c["version"]["files"].as_u64().unwrap() >= 1, "{out}");
    let d = e.proj.join("linked");
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", d.join("host")).unwrap();
    let o = e.run(&["datastores", "create", "linked", "linked"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("outside"), "{err}");
    assert!(
        !e.ok(&["datastores"]).contains("linked"),
        "nothing half-made"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A tree of `n` files of about `size` bytes each, all different.
fn tree(dir: &Path, n: usize, size: usize) {
    for i in 0..n {
        let sub = dir.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        let mut body = format!("{} file {i}\n", dir.display()).into_bytes();
        body.resize(size, b'x');
        std::fs::write(sub.join(format!("f{i}.bin")), body).unwrap();
    }
}

fn versions(e: &Env) -> Vec<serde_json::Value> {
    let list: serde_json::Value = serde_json::from_str(&e.ok(&["datastores", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["versions"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn a_create_killed_at_any_point_leaves_no_version_and_the_next_completes_it() {
    let e = Env::new();
    tree(&e.proj.join("big"), 3000, 20_000);
    // Kill at growing delays (fsync on): each leaves no version, or a
    // complete one; never a version whose objects are missing.
    for ms in [5u64, 20, 60, 120, 250, 400] {
        let mut child = e
            .cmd(&["datastores", "create", "big", "big"])
            .env_remove("GUILD_NO_FSYNC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        for v in versions(&e) {
            assert_eq!(v["files"], 3000, "a visible version is whole: {v}");
        }
        let o = e.run(&["datastores", "verify", "--json"]);
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            got["changed"].as_array().unwrap().is_empty(),
            "no half-written object: {got}"
        );
        assert!(got["missing"].as_array().unwrap().is_empty(), "{got}");
    }
    let out = e.ok(&["datastores", "create", "big", "big", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["version"]["files"], 3000);
    assert_eq!(
        versions(&e).len(),
        1,
        "one version, whatever the kills left"
    );
    let gc: serde_json::Value =
        serde_json::from_str(&e.ok(&["datastores", "gc", "--json"])).unwrap();
    assert_eq!(
        gc["objects"], 0,
        "every stored object is the version's: {gc}"
    );
}

#[test]
fn gc_racing_creates_never_removes_what_a_version_needs() {
    let e = Env::new();
    for k in 0..4 {
        tree(&e.proj.join(format!("t{k}")), 400, 5_000);
    }
    let creates: Vec<_> = (0..4)
        .map(|k| {
            e.cmd(&["datastores", "create", &format!("ds{k}"), &format!("t{k}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for _ in 0..6 {
        e.ok(&["datastores", "gc"]);
    }
    for c in creates {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    e.ok(&["datastores", "gc"]);
    let o = e.run(&["datastores", "verify", "--json"]);
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(o.status.success(), "{got}");
    assert_eq!(versions(&e).len(), 4);
    assert_eq!(got["objects"], 1600, "{got}");
}

#[test]
fn runs_mount_a_version_read_only_without_copying_it() {
    let e = Env::new();
    data(&e);
    e.ok(&["datastores", "create", "mnist", "data"]);
    std::fs::write(
        e.proj.join("read.py"),
        "print(open('datastores/mnist/train.csv').read().splitlines()[1])\n",
    )
    .unwrap();
    let out = e.ok(&["run", "read.py", "--datastore", "mnist", "-y"]);
    assert!(out.contains("1,2"), "{out}");
    let run = e.run_dirs().pop().unwrap();
    let attr = std::fs::read_to_string(run.join(".guild/attrs/datastores")).unwrap();
    assert!(
        attr.contains("name: mnist") && attr.contains("version: 1"),
        "{attr}"
    );
    let mount = run.join("datastores/mnist");
    assert!(mount.symlink_metadata().unwrap().file_type().is_symlink());
    // Grid's spelling, a version and a mount dir; a sweep of three trials
    // shares one tree.
    std::fs::write(e.proj.join("data/train.csv"), "x,y\n7,8\n").unwrap();
    e.ok(&["datastores", "create", "mnist", "data"]);
    std::fs::write(
        e.proj.join("sweep.py"),
        "lr = 0.1\nprint(lr, open('input/train.csv').read().splitlines()[1])\n",
    )
    .unwrap();
    let out = e.ok(&[
        "run",
        "sweep.py",
        "lr=[0.1,0.2,0.3]",
        "--datastore_name",
        "mnist",
        "--datastore_version",
        "1",
        "--datastore_mount_dir",
        "input",
        "-y",
    ]);
    assert_eq!(out.matches("1,2").count(), 3, "{out}");
    let trees = std::fs::read_dir(e.home.join("datastores/trees"))
        .unwrap()
        .count();
    assert_eq!(
        trees, 1,
        "one tree for version 1, however many runs mount it"
    );
    // The data cannot be changed through a mount (an unprivileged user;
    // root bypasses file modes).
    if Path::new("/usr/bin/setpriv").exists() {
        // The user can reach and read the data (so a refused write is the
        // data's own protection, not a closed parent directory).
        for d in mount
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(e.home.parent().unwrap()))
        {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
        }
        let tmp_root = e.home.parent().unwrap();
        for d in [
            tmp_root,
            &e.home.join("datastores"),
            &e.home.join("datastores/trees"),
        ] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
        }
        let target = mount.join("train.csv");
        let o = as_nobody(&format!("cat '{}'", target.display()));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = as_nobody(&format!("echo changed > '{}'", target.display()));
        assert!(!o.status.success(), "a write into the mount succeeded");
        let o = as_nobody(&format!("touch '{}'", mount.join("new.txt").display()));
        assert!(!o.status.success(), "a file was added to the mount");
    }
    // In use: delete is refused without --force.
    let o = e.run(&["datastores", "delete", "mnist:1", "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is used by"), "{err}");
    // Forced, then gc: the version's tree goes with its data.
    e.ok(&["datastores", "delete", "mnist:1", "-y", "--force"]);
    e.ok(&["datastores", "gc"]);
    let trees = std::fs::read_dir(e.home.join("datastores/trees"))
        .unwrap()
        .count();
    assert_eq!(trees, 0, "gc removes the trees of deleted versions");
    // A missing version is named before anything is staged.
    let before = e.run_dirs().len();
    let o = e.run(&["run", "read.py", "--datastore", "mnist:7", "-y"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no version 7"));
    assert_eq!(e.run_dirs().len(), before);
}

/// `sh -c SCRIPT` as the unprivileged user nobody (root bypasses modes).
fn as_nobody(script: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

#[test]
fn guild_yml_requires_a_datastore_and_a_moved_run_names_what_it_misses() {
    let e = Env::new();
    data(&e);
    e.ok(&["datastores", "create", "mnist", "data"]);
    std::fs::write(
        e.proj.join("read.py"),
        "print('row', open('input/train.csv').read().splitlines()[1])\n",
    )
    .unwrap();
    std::fs::write(
        e.proj.join("guild.yml"),
        "train:\n  main: read\n  requires:\n    - datastore: mnist:1\n      target-path: input\n\
         prep:\n  main: read\n  requires:\n    - name: d\n      target-path: input\n      sources:\n        - datastore: mnist\n\
         bad:\n  main: read\n  requires:\n    - datastore: [1]\n",
    )
    .unwrap();
    // The data is not in the source code (it is not in the project).
    std::fs::rename(e.proj.join("data"), e.home.parent().unwrap().join("data")).unwrap();
    let out = e.ok(&["run", "train", "-y"]);
    assert!(out.contains("row 1,2"), "{out}");
    let out = e.ok(&["run", "prep", "-y"]);
    assert!(out.contains("row 1,2"), "{out}");
    let o = e.run(&["run", "bad", "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(1) && err.contains("datastore source '[1]' is not a name"),
        "{err}"
    );
    // runs info, compare and diff show which version a run saw.
    let info = e.ok(&["runs", "info"]);
    assert!(
        info.contains("datastores:\n  - mnist:1 at input (manifest "),
        "{info}"
    );
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["runs", "info", "--json"])).unwrap();
    assert_eq!(json["datastores"][0]["name"], "mnist");
    assert_eq!(json["datastores"][0]["mount"], "input");
    let table = e.ok(&["compare", "--table"]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("datastores"), "{table}");
    assert_eq!(table.matches("mnist:1").count(), 2, "{table}");
    let diff = e.ok(&["diff", "--datastores", "-c", "echo"]);
    assert_eq!(diff.matches(".guild/attrs/datastores").count(), 2, "{diff}");
    // Export, then import into a home without the data: the reference
    // comes along and the missing version is named with the fix.
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let archive = e.home.parent().unwrap().join("exported");
    e.ok(&["export", &archive.display().to_string(), &id[..8], "-y"]);
    let other = Env::new();
    let o = other.run(&["import", &archive.display().to_string(), "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("mounts datastore mnist:1")
            && err.contains("guild datastores create mnist DIR"),
        "{err}"
    );
    let imported = other.home.join("runs").join(&id);
    let attr = std::fs::read_to_string(imported.join(".guild/attrs/datastores")).unwrap();
    assert!(attr.contains("name: mnist"), "{attr}");
    // Started again there, it refuses with the same line.
    let o = other.run(&["run", "--restart", &id[..8], "-y"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(1) && err.contains("mounts datastore mnist:1"),
        "{err}"
    );
    // The same files make the same manifest, whatever the version number
    // there: version 2 of that home serves the run.
    let elsewhere = other.proj.join("other");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("x.csv"), "other\n").unwrap();
    other.ok(&["datastores", "create", "mnist", "other"]);
    let data = e.home.parent().unwrap().join("data");
    other.ok(&["datastores", "create", "mnist", &data.display().to_string()]);
    std::fs::copy(e.proj.join("read.py"), other.proj.join("read.py")).unwrap();
    let out = other.ok(&["run", "--restart", &id[..8], "-y"]);
    assert!(out.contains("row 1,2"), "{out}");
    let link = std::fs::read_link(imported.join("input")).unwrap();
    assert!(
        link.starts_with(other.home.join("datastores/trees")),
        "{link:?}"
    );
}
