//! The runs index (`<home>/cache/runs-index`): listings served from it
//! stay right when runs change, appear or go behind its back.

use super::*;

/// Let file times age past the index's distrust of recent times.
fn settle() {
    std::thread::sleep(Duration::from_millis(2100));
}

fn ids(e: &Env) -> Vec<String> {
    e.runs_json()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn listings_from_the_index_follow_changes_made_behind_its_back() {
    let e = Env::new();
    for lr in ["0.1", "0.2", "0.3"] {
        e.ok(&["run", "train.py", &format!("lr={lr}"), "-y", "-q"]);
    }
    settle();
    let first = ids(&e);
    let index = e.home.join("cache/runs-index/runs");
    assert!(index.is_file(), "the listing made the index");
    settle();
    assert_eq!(ids(&e), first, "served from the index");
    // An attr replaced by another program (a label, as Guild writes it
    // anew): the run is read again.
    let run_dir = e.home.join("runs").join(&first[1]);
    let tmp = run_dir.join(".guild/attrs/.label.tmp");
    std::fs::write(&tmp, "from elsewhere\n").unwrap();
    std::fs::rename(&tmp, run_dir.join(".guild/attrs/label")).unwrap();
    let listed = e.ok(&["runs"]);
    assert!(listed.contains("from elsewhere"), "{listed}");
    // A run removed and a run copied in by hand.
    std::fs::remove_dir_all(e.home.join("runs").join(&first[2])).unwrap();
    let copy = "0123456789abcdef0123456789abcdef";
    let status = Command::new("cp")
        .args(["-a"])
        .arg(e.home.join("runs").join(&first[0]))
        .arg(e.home.join("runs").join(copy))
        .status()
        .unwrap();
    assert!(status.success());
    let now = ids(&e);
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(
        now.contains(&copy.to_string()) && !now.contains(&first[2]),
        "{now:?}"
    );
    // A run restarted: it runs, then ends, and the listing says so.
    settle();
    let (mut child, _) =
        e.spawn_until_locked(&["run", "--restart", &first[1], "-y", "-q", "sleep=2"]);
    let st = e.ok(&["runs", "info", &first[1]]);
    assert!(st.contains("status: running"), "{st}");
    assert!(child.wait().unwrap().success());
    let st = e.ok(&["runs", "info", &first[1]]);
    assert!(st.contains("status: completed"), "{st}");
    // A damaged index, or none: the same listing, and a good index again.
    let before = e.ok(&["runs"]);
    std::fs::write(&index, "garbage\n\0\0").unwrap();
    assert_eq!(e.ok(&["runs"]), before);
    assert!(std::fs::read_to_string(&index)
        .unwrap()
        .starts_with("guild-runs-index 2\n"));
    std::fs::remove_dir_all(e.home.join("cache")).unwrap();
    assert_eq!(e.ok(&["runs"]), before);
}

#[test]
fn concurrent_listings_leave_a_whole_index() {
    let e = Env::new();
    for _ in 0..3 {
        e.ok(&["run", "run.sh", "-y", "-q"]);
    }
    let expected = e.ok(&["runs"]);
    let children: Vec<_> = (0..6)
        .map(|_| e.cmd(&["runs"]).stdout(Stdio::piped()).spawn().unwrap())
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
    let index = std::fs::read_to_string(e.home.join("cache/runs-index/runs")).unwrap();
    assert_eq!(
        index
            .lines()
            .filter(|l| l.starts_with("r\t") || l.starts_with("o\t"))
            .count(),
        3,
        "{index}"
    );
}

/// `python3` as a pyenv shim: resolved once for what decides it, not
/// paid for by every run.
#[test]
fn a_pyenv_shim_is_resolved_once_per_version_choice() {
    let e = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pyenv");
    let shims = root.join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let real = guild_venv().join("bin/python");
    let count = tmp.path().join("count");
    // A stand-in for pyenv's shim: it counts its runs, then runs the
    // interpreter.
    std::fs::write(
        shims.join("python3"),
        format!(
            "#!/usr/bin/env bash\n# pyenv shim\necho x >> '{}'\nexec '{}' \"$@\"\n",
            count.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        shims.join("python3"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(root.join("version"), "3.11\n").unwrap();
    let path = format!("{}:{}", shims.display(), std::env::var("PATH").unwrap());
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "globs.py", "-y", "-q"];
        a.extend_from_slice(extra);
        let o = e
            .cmd(&a)
            .env("PATH", &path)
            .env("PYENV_ROOT", &root)
            .env("XDG_CACHE_HOME", tmp.path().join("cache"))
            .env_remove("GUILD_PYTHON_EXE")
            .env_remove("VIRTUAL_ENV")
            .env_remove("CONDA_PREFIX")
            .env("NO_PIP_FREEZE", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let runs_of_shim = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .lines()
            .count()
    };
    run(&[]);
    assert_eq!(runs_of_shim(), 1, "resolved once");
    run(&[]);
    run(&[]);
    assert_eq!(runs_of_shim(), 1, "then taken from the cache");
    let cmd = e.ok(&["runs", "info"]);
    assert!(
        cmd.contains(&format!("command: {}", real.display())),
        "{cmd}"
    );
    // A project that chooses its own version: resolved again.
    std::fs::write(e.proj.join(".python-version"), "3.10\n").unwrap();
    run(&[]);
    assert_eq!(runs_of_shim(), 2);
    run(&[]);
    assert_eq!(runs_of_shim(), 2);
}
