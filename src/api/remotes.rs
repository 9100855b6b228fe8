//! Remotes: where runs can go besides this machine (SSH hosts, Slurm
//! clusters), as the user config declares them.

use super::Context;
use guild_format::error::Result;

pub use guild_exec::remote::{Kind, Probe, Remote, Slurm, Ssh};
use guild_format::error::Error;

/// `remotes`: every remote of the user config, sorted by name.
pub fn list(ctx: &Context) -> Result<Vec<Remote>> {
    guild_exec::remote::declared(&ctx.cwd)
}

/// The remote `name` of the user config.
pub fn find(ctx: &Context, name: &str) -> Result<Remote> {
    guild_exec::remote::find(&ctx.cwd, name)
}

/// What `remote status` found.
#[derive(Debug, Clone)]
pub struct RemoteStatus {
    pub remote: Remote,
    pub probe: Probe,
    /// A bucket remote: what the bucket said.
    pub bucket: Option<guild_exec::remote::bucket::BucketStatus>,
    /// A Ray remote: what the cluster and the storage said.
    pub ray: Option<guild_exec::launch::ray::RayStatus>,
    /// Nothing to fix: the guild home can hold runs and, for Slurm,
    /// sbatch is there and the configured partition is up.
    pub ok: bool,
}

/// `remote status NAME`: reach the remote and say what it has. A remote
/// that cannot be reached is an error that says what to check.
pub fn status(ctx: &Context, name: &str) -> Result<RemoteStatus> {
    let remote = find(ctx, name)?;
    let probe = match &remote.kind {
        Kind::Ssh(ssh) => ssh.probe()?,
        Kind::Slurm(slurm) => slurm.probe()?,
        Kind::Bucket(b) => {
            let st = b.client(name)?.status()?;
            let ok = st.write.is_ok();
            return Ok(RemoteStatus {
                remote,
                probe: Probe::default(),
                bucket: Some(st),
                ray: None,
                ok,
            });
        }
        Kind::Ray(_) => {
            let st = ray_sender(ctx, name)?.status()?;
            let ok = st.storage_ok.is_ok();
            return Ok(RemoteStatus {
                remote,
                probe: Probe::default(),
                bucket: None,
                ray: Some(st),
                ok,
            });
        }
        Kind::Other(t) => {
            return Err(Error::user(format!(
                "remote '{name}' has type '{t}', which this tracker does not run; use type ssh or slurm"
            )))
        }
    };
    let ok = probe.home_writable
        && match &remote.kind {
            Kind::Slurm(c) => {
                probe.sbatch.is_some()
                    && c.partition
                        .as_deref()
                        .is_none_or(|p| probe.availability(p) == Some("up"))
            }
            _ => true,
        };
    Ok(RemoteStatus {
        remote,
        probe,
        bucket: None,
        ray: None,
        ok,
    })
}

use guild_exec::launch::remote::Sender;
use guild_format::run::placement::Placement;
use guild_format::run::Run;

fn sender<'a>(ctx: &'a Context, name: &str) -> Result<Sender<'a>> {
    Sender::new(&ctx.home, find(ctx, name)?, ctx.report.clone())
}

fn ray_sender<'a>(ctx: &'a Context, name: &str) -> Result<guild_exec::launch::ray::RaySender<'a>> {
    guild_exec::launch::ray::RaySender::new(
        &ctx.home,
        &ctx.cwd,
        find(ctx, name)?,
        ctx.report.clone(),
    )
}

/// Where a Ray remote keeps its runs.
fn ray_store(ctx: &Context, name: &str) -> Result<guild_exec::launch::ray::RunStore> {
    match &find(ctx, name)?.kind {
        Kind::Ray(r) => guild_exec::launch::ray::RunStore::of(&ctx.cwd, name, r),
        _ => Err(Error::user(format!("remote '{name}' is not a Ray cluster"))),
    }
}

/// `CMD --remote NAME ARGS`: the remote's guild (this binary's copy,
/// put there when missing) runs `args` in its guild home, its output
/// here as it comes. Its exit code.
pub fn forward(ctx: &Context, name: &str, args: &[String]) -> Result<i32> {
    match &find(ctx, name)?.kind {
        Kind::Bucket(b) => return bucket_view(ctx, name, b, args),
        Kind::Ray(_) => return ray_view(ctx, name, args),
        _ => {}
    }
    // Commands that print the same on every try resume after a lost
    // connection.
    let resume = matches!(
        args.first().map(|s| s.as_str()),
        Some("watch" | "cat" | "logs")
    );
    let code = sender(ctx, name)?.guild(args, resume)?;
    // A stop there changes runs whose records are here.
    let stop = args.first().map(|s| s.as_str()) == Some("stop")
        || args.iter().take(2).map(|s| s.as_str()).eq(["runs", "stop"]);
    if stop {
        let records = records_on(ctx, name)?;
        if let Err(e) = sender(ctx, name)?.sync(&records) {
            ctx.report.warning(&format!(
                "WARNING: the records of runs on {name} were not updated ({}); `guild sync` updates them",
                e.message()
            ));
        }
    }
    Ok(code)
}

/// `CMD --remote NAME ARGS` on a bucket: its runs' metadata mirrored into
/// a guild home under this home's cache (a few requests), then this
/// binary runs `args` on that home. `cat`, `ls`, `logs` and `watch`
/// pull the run they name into the mirror first. What `runs delete`,
/// `restore` and `purge` did to the mirror is then done in the bucket.
fn bucket_view(
    ctx: &Context,
    name: &str,
    b: &guild_exec::remote::bucket::Bucket,
    args: &[String],
) -> Result<i32> {
    let client = b.client(name)?;
    let mirror = client.mirror_dir(&ctx.home);
    client.mirror(&mirror)?;
    let cmd: Vec<&str> = args.iter().take(2).map(|s| s.as_str()).collect();
    let mut named_ids = Vec::new();
    if matches!(cmd.first(), Some(&("cat" | "ls" | "logs" | "watch"))) {
        let all = guild_format::query::list_dir(&mirror.join("runs"));
        let named = args[1..]
            .iter()
            .filter(|a| !a.starts_with('-'))
            .find_map(|a| guild_format::query::select(&all, std::slice::from_ref(a), false).ok());
        let run = match named {
            Some(r) => r,
            None => guild_format::query::select(&all, &["1".to_string()], false)?,
        };
        let ids: Vec<String> = run.into_iter().take(1).map(|r| r.run.id).collect();
        client.pull(
            &mirror.join("runs"),
            &ids,
            guild_exec::remote::bucket::Place::Runs,
            &guild_format::report::Collect::answering_yes(),
        )?;
        named_ids = ids;
    }
    let changes = matches!(
        cmd.as_slice(),
        ["runs", "delete" | "rm" | "restore" | "purge"]
    );
    let before = if changes {
        guild_exec::remote::bucket::mirror_places(&mirror)
    } else {
        Default::default()
    };
    let mut command = guild_on_home(ctx, &mirror, args)?;
    let status = if cmd.first() == Some(&"ls") {
        // `ls` names the run's directory: the bucket's, not the mirror's.
        let out = command
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::process("cannot run guild", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let here = format!("{}/", mirror.join("runs").display());
        print!("{}", text.replace(&here, &format!("{}/runs/", b.url())));
        out.status
    } else if cmd.first() == Some(&"watch") {
        watch_mirrored(&mut command, &client, &mirror, &named_ids)?
    } else {
        command
            .status()
            .map_err(|e| Error::process("cannot run guild", e))?
    };
    if changes {
        client.apply_mirror(&mirror, &before)?;
    }
    Ok(status.code().unwrap_or(1))
}

/// This binary running `args` on the guild home `home` (a bucket's
/// mirror, a Ray remote's shared home), from the working directory.
fn guild_on_home(
    ctx: &Context,
    home: &std::path::Path,
    args: &[String],
) -> Result<std::process::Command> {
    let mut command = std::process::Command::new(guild_format::platform::guild_exe()?);
    command.arg("-H").arg(home).args(args).current_dir(&ctx.cwd);
    Ok(command)
}

/// Run `watch` (`command`) on the mirror of a bucket while the runs `ids`
/// there are pulled every 2 s: their output grows, and their end (their
/// last push) ends the watch.
fn watch_mirrored(
    command: &mut std::process::Command,
    client: &guild_exec::remote::bucket::Client,
    mirror: &std::path::Path,
    ids: &[String],
) -> Result<std::process::ExitStatus> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let quiet = guild_format::report::Collect::answering_yes();
            'rounds: while !done.load(Ordering::Relaxed) {
                for _ in 0..20 {
                    if done.load(Ordering::Relaxed) {
                        break 'rounds;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                // A failed refresh is tried again at the next round.
                let _ = client.pull(
                    &mirror.join("runs"),
                    ids,
                    guild_exec::remote::bucket::Place::Runs,
                    &quiet,
                );
            }
        });
        let status = command
            .status()
            .map_err(|e| Error::process("cannot run guild", e));
        done.store(true, Ordering::Relaxed);
        status
    })
}

/// `CMD --remote NAME ARGS` on a Ray cluster: the command runs on the
/// runs of its storage (a bucket's mirror, or the shared guild home).
/// Runs there are stopped through their records here.
fn ray_view(ctx: &Context, name: &str, args: &[String]) -> Result<i32> {
    let first: Vec<&str> = args.iter().take(2).map(|s| s.as_str()).collect();
    if matches!(first.as_slice(), ["stop", ..] | ["runs", "stop"]) {
        return Err(Error::user(format!(
            "runs on Ray remote '{name}' are stopped through their records here: `guild stop RUN` (`guild runs -Fo ... --remote` lists them there)"
        )));
    }
    match ray_store(ctx, name)? {
        guild_exec::launch::ray::RunStore::Bucket(bname, b) => bucket_view(ctx, &bname, &b, args),
        guild_exec::launch::ray::RunStore::Path(home) => {
            let status = guild_on_home(ctx, &home, args)?
                .status()
                .map_err(|e| Error::process("cannot run guild", e))?;
            Ok(status.code().unwrap_or(1))
        }
    }
}

/// The records here of runs on remote `name` that have not finished.
fn records_on(ctx: &Context, name: &str) -> Result<Vec<Run>> {
    Ok(ctx
        .runs(&guild_format::query::Filters::default(), false)?
        .into_iter()
        .filter(|r| {
            matches!(
                r.status.status,
                guild_format::run::Status::Running | guild_format::run::Status::Pending
            )
        })
        .filter(|r| {
            matches!(Placement::of(&r.run), Ok(Placement::Remote { remote, .. }) if remote == name)
        })
        .map(|r| r.run)
        .collect())
}

/// `__status [RUN...]` (what a remote's guild answers): the guild home,
/// then the status of each run (`missing` for an id that is not here).
/// A full id is looked up directly; other specs as `runs` selects.
pub fn here_status(ctx: &Context, specs: &[String]) -> Result<(String, Vec<(String, String)>)> {
    let home = std::fs::canonicalize(&ctx.home.path)
        .unwrap_or_else(|_| ctx.home.path.clone())
        .display()
        .to_string();
    let runs_dir = ctx.home.runs_dir();
    let mut out = Vec::new();
    let is_id = |s: &str| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit());
    let mut lookup = Vec::new();
    for s in specs {
        if is_id(s) {
            let run = Run::at(runs_dir.join(s));
            let st = if run.guild_path("opref").is_file() {
                run.status().status.as_str()
            } else {
                "missing"
            };
            out.push((s.clone(), st.to_string()));
        } else {
            lookup.push(s.clone());
        }
    }
    if specs.is_empty() || !lookup.is_empty() {
        let all = ctx.runs(&guild_format::query::Filters::default(), false)?;
        let sel = if specs.is_empty() {
            all
        } else {
            guild_format::query::select(&all, &lookup, false)?
        };
        for r in sel {
            out.push((r.run.id.clone(), r.status.status.as_str().to_string()));
        }
    }
    Ok((home, out))
}

/// What `sync` did with one run record.
#[derive(Debug, Clone)]
pub struct Synced {
    pub id: String,
    pub remote: String,
    /// Its status there (`missing` when the remote no longer has it).
    pub status: String,
}

/// `sync [RUN...]`: refresh the local records of remote runs (the
/// selection's, default: every record not finished) from their remotes:
/// files from the remote run directories, status from the remote's guild
/// and scheduler.
pub fn sync(ctx: &Context, sel: &super::Selection) -> Result<Vec<Synced>> {
    let all = ctx.runs(&sel.filters, false)?;
    let chosen = if sel.runs.is_empty() {
        all.into_iter()
            .filter(|r| {
                !matches!(
                    r.status.status,
                    guild_format::run::Status::Completed
                        | guild_format::run::Status::Error
                        | guild_format::run::Status::Terminated
                ) || r.status.remote.is_some()
            })
            .collect()
    } else {
        guild_format::query::select(&all, &sel.runs, false)?
    };
    let mut by_remote: std::collections::BTreeMap<String, Vec<Run>> = Default::default();
    for r in chosen {
        if let Ok(Placement::Remote { remote, .. }) = Placement::of(&r.run) {
            by_remote.entry(remote).or_default().push(r.run);
        }
    }
    let mut out = Vec::new();
    for (name, runs) in by_remote {
        let synced = if matches!(find(ctx, &name).map(|r| r.kind), Ok(Kind::Ray(_))) {
            ray_sender(ctx, &name)?.sync(&runs)?
        } else {
            sender(ctx, &name)?.sync(&runs)?
        };
        for (id, status) in synced {
            out.push(Synced {
                id,
                remote: name.clone(),
                status,
            });
        }
    }
    Ok(out)
}

/// `pull REMOTE [RUN...]`: copy runs of the remote (default: all) into
/// this home, complete; with `deleted`, the runs of its trash into this
/// home's trash (object storage remotes). Returns their ids.
pub fn pull(ctx: &Context, name: &str, specs: &[String], deleted: bool) -> Result<Vec<String>> {
    use guild_exec::remote::bucket::Place;
    if let Kind::Bucket(b) = &find(ctx, name)?.kind {
        let client = b.client(name)?;
        let mirror = client.mirror_dir(&ctx.home);
        client.mirror(&mirror)?;
        let (from, into, place) = if deleted {
            (
                mirror.join("trash/runs"),
                ctx.home.trash_dir(),
                Place::Trash,
            )
        } else {
            (mirror.join("runs"), ctx.home.runs_dir(), Place::Runs)
        };
        let chosen = chosen_ids(&from, specs)?;
        guild_format::fsutil::create_dir_all(&into)?;
        return Ok(client.pull(&into, &chosen, place, ctx.report.as_ref())?.ids);
    }
    if let Kind::Ray(_) = &find(ctx, name)?.kind {
        return match ray_store(ctx, name)? {
            guild_exec::launch::ray::RunStore::Bucket(bname, _) => {
                pull(ctx, &bname, specs, deleted)
            }
            guild_exec::launch::ray::RunStore::Path(home) => {
                // The shared home's trash is laid out as a home's runs.
                let (from, into) = if deleted {
                    (home.join("trash"), ctx.home.trash_dir())
                } else {
                    (home, ctx.home.runs_dir())
                };
                let chosen = chosen_ids(&from.join("runs"), specs)?;
                guild_exec::launch::ray::RunStore::Path(from).fetch(&into, &chosen)
            }
        };
    }
    if deleted {
        return Err(deleted_on_bucket_only(name));
    }
    sender(ctx, name)?.pull(specs)
}

/// The ids of the runs under `runs_dir` that `specs` name, as `runs`
/// selects them (all when there are none).
fn chosen_ids(runs_dir: &std::path::Path, specs: &[String]) -> Result<Vec<String>> {
    let all = guild_format::query::list_dir(runs_dir);
    if specs.is_empty() {
        return Ok(all.into_iter().map(|r| r.run.id).collect());
    }
    Ok(guild_format::query::select(&all, specs, false)?
        .into_iter()
        .map(|r| r.run.id)
        .collect())
}

/// `--deleted` names a bucket's trash: other remotes have none to reach.
fn deleted_on_bucket_only(name: &str) -> Error {
    Error::user(format!(
        "--deleted moves runs to and from an object storage remote's trash, and '{name}' is not one; \
         restore the runs first (`guild runs restore`, or `guild runs restore --remote {name}`)"
    ))
}

/// `push REMOTE [RUN...]`: copy runs of this home (the selection) to the
/// remote; with `sel.deleted`, deleted runs to its trash (object storage
/// remotes). Returns their ids.
pub fn push(ctx: &Context, name: &str, sel: &super::Selection) -> Result<Vec<String>> {
    use guild_exec::remote::bucket::Place;
    let all = ctx.runs(&sel.filters, sel.deleted)?;
    let runs: Vec<Run> = if sel.runs.is_empty() {
        all.into_iter().map(|r| r.run).collect()
    } else {
        guild_format::query::select(&all, &sel.runs, false)?
            .into_iter()
            .map(|r| r.run)
            .collect()
    };
    let remote = find(ctx, name)?;
    if let Kind::Bucket(b) = &remote.kind {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let client = b.client(name)?;
        let place = if sel.deleted {
            Place::Trash
        } else {
            Place::Runs
        };
        return Ok(client
            .push(&ctx.home, &runs, place, ctx.report.as_ref())?
            .ids);
    }
    if let Kind::Ray(r) = &remote.kind {
        return Err(Error::user(format!(
            "remote '{name}' is a Ray cluster: runs go there with `guild run --remote {name}`; to copy runs to its storage, push to {}",
            match &r.storage {
                guild_exec::remote::ray::Storage::Bucket(b) => format!("remote '{b}'"),
                guild_exec::remote::ray::Storage::Path(p) => format!("{p} (guild -H {p} import ...)"),
            }
        )));
    }
    if sel.deleted {
        return Err(deleted_on_bucket_only(name));
    }
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    sender(ctx, name)?.push(&runs)?;
    Ok(runs.into_iter().map(|r| r.id).collect())
}

/// `ray-job`: start run `id` on a node of a Ray cluster, in the job's
/// working directory (the run's package, `ctx.cwd`), keeping it in the
/// shared `home` or writing it to `bucket`. The run's exit code.
pub fn ray_job(
    ctx: &Context,
    id: &str,
    home: Option<&std::path::Path>,
    bucket: Option<&str>,
    every: std::time::Duration,
) -> Result<i32> {
    guild_exec::launch::ray::job_main(&ctx.cwd, id, home, bucket, every)
}
