//! `merge` and `publish` side by side with Guild 0.9.0, on the same runs
//! (made by Guild, and one made here): the same messages and exit codes,
//! and byte for byte the same files written.

use super::*;
use std::collections::BTreeMap;

/// Every file under `dir` (relative path -> bytes; links followed), but
/// a git repository's own.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// Exit code, stdout and stderr, with `dirs` named alike on both sides
/// and trailing blanks and Python warnings left out.
fn outcome(o: &Output, dirs: &[(&Path, &str)]) -> (Option<i32>, String, String) {
    let norm = |b: &[u8]| {
        let mut s = String::from_utf8_lossy(b).into_owned();
        for (d, name) in dirs {
            s = s.replace(&d.display().to_string(), name);
        }
        s.lines()
            .filter(|l| {
                !l.contains("UserWarning")
                    && !l.contains("make_parser")
                    && !l.contains("parse_args(ctx")
            })
            .filter(|l| !l.starts_with("Refreshing flags"))
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    };
    (o.status.code(), norm(&o.stdout), norm(&o.stderr))
}

/// The same exit code; on success the same output, on failure the same
/// first line of the error (the rest is a hint, or a template engine's
/// own wording).
fn same_outcome(
    ours: (Option<i32>, String, String),
    theirs: (Option<i32>, String, String),
    args: &[&str],
) {
    assert_eq!(
        ours.0, theirs.0,
        "exit of {args:?}: ours {ours:?}, Guild's {theirs:?}"
    );
    if ours.0 == Some(0) {
        assert_eq!(ours, theirs, "{args:?}");
    } else {
        let first = |s: &str| s.lines().next().unwrap_or("").to_string();
        assert_eq!(first(&ours.2), first(&theirs.2), "{args:?}");
    }
}

/// Byte for byte the same files under `ours` and `theirs`.
fn same_tree(ours: &Path, theirs: &Path, args: &[&str]) {
    let (a, b) = (tree(ours), tree(theirs));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        assert!(
            x == y,
            "{args:?}: {k} differs\nours:\n{}\nGuild's:\n{}",
            x.map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or("(missing)".into()),
            y.map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or("(missing)".into()),
        );
    }
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A project whose op has source code, a project file dependency, files
/// from an archive dependency, and generated files.
fn merge_project() -> Env {
    let e = Env::new();
    for f in std::fs::read_dir(&e.proj).unwrap().flatten() {
        std::fs::remove_file(f.path()).unwrap();
    }
    std::fs::write(
        e.proj.join("guild.yml"),
        "train:\n  main: train\n  flags:\n    x: 1\n  requires:\n    - file: data.txt\n    - file: files.zip\n",
    )
    .unwrap();
    std::fs::write(
        e.proj.join("train.py"),
        "import os\nx = 1\nopen('gen.txt', 'w').write('generated\\n')\nos.makedirs('out', exist_ok=True)\nopen('out/result.txt', 'w').write('r\\n')\nprint('loss: 0.2')\n",
    )
    .unwrap();
    std::fs::write(e.proj.join("data.txt"), "some data\n").unwrap();
    let zip = std::fs::File::create(e.proj.join("files.zip")).unwrap();
    let mut z = zip::ZipWriter::new(zip);
    for name in ["yyy", "zzz"] {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, name.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    e
}

#[test]
fn merge_copies_and_refuses_as_guild_090() {
    let e = merge_project();
    let o = e.guild090_cmd(&["run", "train", "-y"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tmp = tempfile::tempdir().unwrap();
    let (t, g) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let names = [(t.as_path(), "TARGET"), (g.as_path(), "TARGET")];
    // Each case from the project, then its files: the same on both sides.
    let same = |args: &[&str], stdin: &str| {
        let with = |target: &Path, mut c: Command| {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("TARGET", &target.display().to_string()))
                .collect();
            c.args(&args)
                .env("PYTHONWARNINGS", "ignore")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap();
            std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        };
        let mut ours = e.cmd(&[]);
        ours.current_dir(&e.proj);
        let ours = with(&t, ours);
        let theirs = with(&g, e.guild090_cmd(&[]));
        same_outcome(outcome(&ours, &names), outcome(&theirs, &names), args);
        same_tree(&t, &g, args);
    };
    same(&["merge", "--preview"], "");
    same(&["merge", "-y"], "");
    same(&["merge", "-a", "--preview"], "");
    same(
        &["merge", "--skip-sourcecode", "-t", "TARGET", "--preview"],
        "",
    );
    same(
        &[
            "merge",
            "1",
            "-a",
            "-x",
            "out/*",
            "-x",
            "guild.yml",
            "-D",
            "--preview",
            "-t",
            "TARGET",
        ],
        "",
    );
    same(&["merge", "-s", "-a", "--preview", "-t", "TARGET"], "");
    same(&["merge", "zzzz"], "");
    same(&["merge", "-Fo", "nothing"], "");
    same(&["merge", "--replace", "--no-replace"], "");
    same(&["merge", "-s", "--skip-sourcecode"], "");
    // Asked, answered no: exit 4, nothing copied; yes: copied.
    same(&["merge", "-t", "TARGET"], "n\n");
    same(&["merge", "-t", "TARGET", "-a"], "y\n");
    // The same files again: nothing to copy.
    same(&["merge", "-t", "TARGET", "-a", "-y"], "");
    // A changed target file is not replaced without --replace.
    for d in [&t, &g] {
        std::fs::write(d.join("train.py"), "changed\n").unwrap();
    }
    same(&["merge", "-t", "TARGET", "-y"], "");
    same(&["merge", "-t", "TARGET", "--no-replace", "-y"], "");
    same(&["merge", "-t", "TARGET", "--replace", "-y"], "");
    // In a git work tree: unstaged changes refuse, committed files are
    // replaced (and --no-replace still refuses).
    for d in [&t, &g] {
        git(d, &["init", "-q", "."]);
        git(d, &["add", "."]);
        git(d, &["commit", "-qm", "merged"]);
        std::fs::write(d.join("train.py"), "changed again\n").unwrap();
    }
    same(&["merge", "-t", "TARGET", "-y"], "");
    for d in [&t, &g] {
        git(d, &["add", "train.py"]);
    }
    same(&["merge", "-t", "TARGET", "--no-replace", "-y"], "");
    same(&["merge", "-t", "TARGET", "-y"], "");
    // From elsewhere, without --target-dir: a different project.
    let o = e
        .cmd(&["merge", "-y"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let theirs = e
        .guild090_cmd(&["merge", "-y"])
        .env("PYTHONWARNINGS", "ignore")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    same_outcome(outcome(&o, &[]), outcome(&theirs, &[]), &["merge", "-y"]);
    assert_eq!(o.status.code(), Some(1));
}

/// Guild's sample project `publish` (custom templates, publish files
/// rules, a legacy source code layout, a linked dependency), every run
/// published with each set of options by both: the same trees.
#[test]
fn publish_writes_what_guild_090_writes() {
    let e = Env::new();
    for f in std::fs::read_dir(&e.proj).unwrap().flatten() {
        std::fs::remove_file(f.path()).unwrap();
    }
    copy_tree(&guild_sample("publish"), &e.proj);
    for args in [
        &["run", "op", "a=1", "b=2", "-y"][..],
        &["run", "op2", "-y"],
        &["run", "op3", "c=4", "-y"],
        &["run", "legacy-sourcecode", "-y"],
        &["run", "op", "-l", "my label: x", "-y"],
    ] {
        let o = e.guild090(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // One run made here, published by both.
    e.ok(&["run", "op", "a=3", "b=4", "-y"]);
    // A broken template and a missing one.
    std::fs::create_dir_all(e.proj.join("bad")).unwrap();
    std::fs::write(e.proj.join("bad/README.md"), "{% if x %}\nhello\n").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (t, g) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let names = [(t.as_path(), "DEST"), (g.as_path(), "DEST")];
    for opts in [
        &["-y"][..],
        &["-y", "--files"],
        &["-y", "--all-files"],
        &["-y", "-L"],
        &["-y", "-L", "--all-files", "--no-md5"],
        &["-y", "-t", "t1"],
        &["-y", "-t", "t3", "-i", "index-t1"],
        &["-y", "-t", "./t2", "-i", "index-t2"],
        &["-y", "-r"],
        &["-y", "-r", "-i", "nothere"],
        &["-y", "-r", "-i", "index-t2/TEMPLATE.md"],
        &["-y", "1", "2", "1"],
        &["-y", "-Fo", "op3"],
        &["-y", "-Fo", "nothing"],
        &["-y", "--files", "--all-files"],
        &["-y", "1", "-t", "nope"],
        &["-y", "1", "-t", "bad"],
    ] {
        let refresh = opts.contains(&"-r");
        for d in [&t, &g] {
            if !refresh {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        let with = |dest: &Path| {
            let mut a = vec!["publish", "-d"];
            let dest = dest.display().to_string();
            a.push(&dest);
            a.extend_from_slice(opts);
            a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        };
        let ours_args = with(&t);
        let ours = e.run(&ours_args.iter().map(String::as_str).collect::<Vec<_>>());
        let theirs_args = with(&g);
        let theirs = e
            .guild090_cmd(&theirs_args.iter().map(String::as_str).collect::<Vec<_>>())
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .unwrap();
        let (ours, theirs) = (outcome(&ours, &names), outcome(&theirs, &names));
        assert_eq!(
            ours.0, theirs.0,
            "exit of publish {opts:?}: {ours:?} {theirs:?}"
        );
        if ours.0 == Some(0) {
            assert_eq!(ours, theirs, "publish {opts:?}");
        } else {
            // Errors: the same first line (template messages are the
            // engine's own).
            let first = |s: &str| s.lines().next().unwrap_or("").to_string();
            assert_eq!(first(&ours.2), first(&theirs.2), "publish {opts:?}");
        }
        same_tree(&t, &g, opts);
    }
}

/// `view --test-runs-data`, Guild's hook: every run with its files (not
/// hidden ones), in natural order, as JSON.
#[test]
fn view_runs_data_lists_files_in_natural_order() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("imgs.py"),
        "for i in (10, 2, 1):\n    open('img%d' % i, 'w').write('x')\n",
    )
    .unwrap();
    e.ok(&["run", "imgs.py", "-y"]);
    let data: serde_json::Value =
        serde_json::from_str(&e.ok(&["view", "--test-runs-data"])).unwrap();
    let runs = data.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let paths: Vec<&str> = runs[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .filter(|p| p.starts_with("img"))
        .collect();
    assert_eq!(paths, ["img1", "img2", "img10", "imgs.py"]);
}

/// Archive sources (zip, tar.gz, gzip), unpacked once into the resource
/// cache and copied into the run as Guild 0.9.0 copies them: the same run
/// files and the same manifest entries (archive and member named).
#[test]
fn archive_sources_unpack_as_guild_090() {
    let setup = || {
        let e = Env::new();
        for f in std::fs::read_dir(&e.proj).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
        copy_tree(&guild_sample("run-manifest"), &e.proj);
        let data = e.proj.join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("a.csv"), "1,2\n").unwrap();
        std::fs::write(data.join("sub/b.csv"), "3,4\n").unwrap();
        let tar = Command::new("tar")
            .args(["czf", "data.tar.gz", "data"])
            .current_dir(&e.proj)
            .status()
            .unwrap();
        assert!(tar.success());
        std::fs::remove_dir_all(&data).unwrap();
        let gz = Command::new("sh")
            .args(["-c", "printf 'x,y\\n' > t.csv && gzip t.csv"])
            .current_dir(&e.proj)
            .status()
            .unwrap();
        assert!(gz.success());
        let yml = std::fs::read_to_string(e.proj.join("guild.yml")).unwrap();
        std::fs::write(
            e.proj.join("guild.yml"),
            format!(
                "{yml}\ntar-dep:\n  main: guild.pass\n  sourcecode: no\n  requires:\n    - file: data.tar.gz\n      target-path: d\ngz-dep:\n  main: guild.pass\n  sourcecode: no\n  requires:\n    - file: t.csv.gz\n"
            ),
        )
        .unwrap();
        e
    };
    let (ours, theirs) = (setup(), setup());
    let files = |e: &Env| -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
        let run = e.run_dirs()[0].clone();
        let mut t = tree(&run);
        t.retain(|k, _| !k.starts_with(".guild"));
        let manifest = std::fs::read_to_string(run.join(".guild/manifest")).unwrap();
        let deps = manifest
            .lines()
            .filter(|l| l.starts_with("d "))
            .map(String::from)
            .collect();
        (t, deps)
    };
    for op in ["file-deps", "zip-dep", "zip-dep-2", "tar-dep"] {
        for e in [&ours, &theirs] {
            for d in e.run_dirs() {
                std::fs::remove_dir_all(d).unwrap();
            }
        }
        let o = ours.run(&["run", op, "-y"]);
        assert!(
            o.status.success(),
            "{op}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        let g = theirs.guild090(&["run", op, "-y"]);
        assert!(
            g.status.success(),
            "{op}: {}",
            String::from_utf8_lossy(&g.stderr)
        );
        assert_eq!(files(&ours), files(&theirs), "{op}");
        if op == "file-deps" {
            assert!(
                err.contains("Unpacking") && err.contains("files.zip"),
                "{err}"
            );
        }
    }
    // Unpacked once: the second run reads the cached member list.
    let o = ours.run(&["run", "tar-dep", "-y"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("Unpacking"));
    // A gzip file (Guild 0.9.0 fails on these: it does not make the unpack
    // directory): its one member.
    ours.ok(&["run", "gz-dep", "-y"]);
    let run = run_of(&ours, "gz-dep");
    assert_eq!(std::fs::read_to_string(run.join("t.csv")).unwrap(), "x,y\n");
    let manifest = std::fs::read_to_string(run.join(".guild/manifest")).unwrap();
    assert!(manifest.contains(" file:t.csv.gz t.csv"), "{manifest}");
}
