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
        .starts_with("guild-runs-index 3\n"));
    std::fs::remove_dir_all(e.home.join("cache")).unwrap();
    assert_eq!(e.ok(&["runs"]), before);
}

/// `runs`, `runs -n N` and `runs info [N]` build only the runs they show
/// from the index: they agree with the full listing, and an old run
/// restarted behind the index's back comes first.
#[test]
fn the_runs_shown_agree_with_the_full_listing() {
    let e = Env::new();
    for lr in ["0.1", "0.2", "0.3", "0.4"] {
        e.ok(&["run", "train.py", &format!("lr={lr}"), "-y", "-q"]);
    }
    settle();
    let all = e.ok(&["runs", "--all"]);
    settle();
    // Served from the index now.
    assert_eq!(e.ok(&["runs"]), all);
    let first_two: String = all.lines().take(2).map(|l| format!("{l}\n")).collect();
    let o = e.run(&["runs", "-n", "2"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), first_two);
    let listed = e.runs_json();
    let info_id = |args: &[&str]| -> String {
        let mut a = vec!["runs", "info"];
        a.extend_from_slice(args);
        a.push("--json");
        let v: serde_json::Value = serde_json::from_str(&e.ok(&a)).unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    assert_eq!(info_id(&[]), listed[0]["id"]);
    assert_eq!(info_id(&["3"]), listed[2]["id"]);
    // A number past the last run is an id prefix (none here: ids are
    // random hex, one in 16^7 starts so).
    let o = e.run(&["runs", "info", "9999999"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("'9999999'"));
    // The oldest run, restarted by a program that does not touch the
    // index (its attrs are replaced): now the newest.
    let oldest = listed[3]["id"].as_str().unwrap().to_string();
    let attrs = e.home.join("runs").join(&oldest).join(".guild/attrs");
    let tmp = attrs.join(".started.tmp");
    let later = listed[0]["started"].as_i64().unwrap() + 1_000_000;
    std::fs::write(&tmp, format!("{later}\n")).unwrap();
    std::fs::rename(&tmp, attrs.join("started")).unwrap();
    assert_eq!(info_id(&[]), oldest);
    let first = e.ok(&["runs", "-n", "1"]);
    assert!(first.contains(&oldest[..8]), "{first}");
}

/// `compare` takes each run's events files from the events index while
/// the run's `.guild` and root are unchanged, and lists them again when
/// a file comes or goes behind its back.
#[test]
fn compare_follows_events_files_added_and_removed() {
    let e = Env::new();
    for lr in ["0.1", "0.2"] {
        e.ok(&["run", "train.py", &format!("lr={lr}"), "-y", "-q"]);
    }
    let csv = || e.ok(&["compare", "--csv", "-"]);
    let first = csv();
    assert!(e.home.join("cache/runs-index/events").is_file());
    settle();
    assert_eq!(csv(), first);
    settle();
    assert_eq!(csv(), first, "served from the index");
    // The newest run's events file moved out of the way: its scalars go.
    let run = e
        .home
        .join("runs")
        .join(e.runs_json()[0]["id"].as_str().unwrap());
    let events = std::fs::read_dir(run.join(".guild"))
        .unwrap()
        .flatten()
        .find(|f| f.file_name().to_string_lossy().contains(".tfevents."))
        .unwrap()
        .path();
    let aside = run.join("events-aside");
    std::fs::rename(&events, &aside).unwrap();
    let without = csv();
    assert_ne!(without, first);
    let row = without.lines().nth(1).unwrap();
    assert!(row.ends_with(",,,"), "no loss, acc or step: {row}");
    // Back, but in the run's root: its scalars again.
    std::fs::rename(&aside, run.join("events.out.tfevents.1.x")).unwrap();
    assert_eq!(csv(), first);
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

/// The index is a cache, never trusted to say which runs there are: one
/// cut short at a line end (the runs directory unchanged) is rebuilt, and
/// a crafted line naming another home's run is refused.
#[test]
fn a_cut_or_crafted_index_never_hides_or_invents_runs() {
    let e = Env::new();
    for lr in ["0.1", "0.2", "0.3", "0.4"] {
        e.ok(&["run", "train.py", &format!("lr={lr}"), "-y", "-q"]);
    }
    settle();
    let all = ids(&e);
    let full = e.ok(&["runs"]);
    let index = e.home.join("cache/runs-index/runs");
    settle();
    assert_eq!(e.ok(&["runs"]), full, "served from the index");
    // Cut after its second entry line: two runs gone from the index.
    let text = std::fs::read_to_string(&index).unwrap();
    let cut: String = text.split_inclusive('\n').take(4).collect();
    assert!(cut.matches("\nr\t").count() == 2, "{cut}");
    std::fs::write(&index, &cut).unwrap();
    assert_eq!(e.ok(&["runs"]), full, "a cut index hid runs");
    std::fs::write(&index, &cut).unwrap();
    let info = e.ok(&["runs", "info", "4"]);
    assert!(info.contains(&format!("id: {}", all[3])), "{info}");
    // Another home with a run, and an index line that leads to it.
    let other = tempfile::tempdir().unwrap();
    let victim = "fedcba9876543210fedcba9876543210";
    let victim_dir = other.path().join("runs").join(victim);
    copy_tree(&e.home.join("runs").join(&all[0]), &victim_dir);
    settle();
    e.ok(&["runs"]);
    let text = std::fs::read_to_string(&index).unwrap();
    let rel = format!("../../{}/runs/{victim}", other.path().display());
    // The crafted line is counted in the header's length, so only the id
    // check can refuse it.
    let lines: Vec<&str> = text.lines().collect();
    let mut body: String = lines[2..].iter().map(|l| format!("{l}\n")).collect();
    body.push_str(&format!("o\t{rel}\n"));
    let fields: Vec<&str> = lines[1].split('\t').collect();
    let head = format!("{}\n{}\t{}", lines[0], fields[..4].join("\t"), body.len());
    std::fs::write(&index, format!("{head}\n{body}")).unwrap();
    let listed = ids(&e);
    assert_eq!(listed, all, "a crafted line listed another home's run");
    // `+5` is index 5 and cannot be an id prefix (`5` could: ids are random).
    let o = e.run(&["runs", "delete", "+5", "-y"]);
    assert!(!o.status.success());
    assert!(
        victim_dir.join(".guild/opref").is_file(),
        "the other home's run was touched"
    );
    assert_eq!(ids(&e), all);
}
