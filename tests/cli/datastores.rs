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
