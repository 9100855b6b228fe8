//! Runs on remotes. A run is staged here exactly as a local one, then
//! [`Sender`] copies it to the remote (with this binary, when the remote
//! has no copy of it) and starts it there: over SSH, following it like a
//! local foreground run or leaving it in the background; on Slurm, as one
//! job per run, or one job array for the trials of a sweep. The local run
//! stays as the record of where the run went ([`Placement::Remote`]);
//! [`Sender::sync`] refreshes it from the remote run directory and the
//! scheduler. The remote's own guild (this binary's copy) answers for the
//! runs there: `guild runs --remote` and the like run it ([`Sender::guild`]).

use super::{Placement, StartRequest, Started, Target};
use crate::exec::{StopSignals, Stopped};
use crate::remote::site::{self, Prepared, Site};
use crate::remote::{slurm, Kind, Remote};
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::home::Home;
use guild_format::report::Reporter;
use guild_format::run::{Run, Status};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files of a run that are not copied to or from a remote: where it went
/// (each side has its own), the process and start locks (each side's
/// own), and the staging environment (this machine's, which may hold
/// secrets; the run records its own environment where it starts).
const NOT_COPIED: &[&str] = &[".guild/placement", ".guild/LOCK*", ".guild/ENV"];

/// How a run sent over SSH is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Stream its output here until it ends; Ctrl-C stops it there.
    Foreground {
        /// Start it there with `--quiet` (its output is not echoed).
        quiet: bool,
    },
    /// Return once it has started there.
    Background,
}

/// What a start on a remote did.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Over SSH, followed to the end: the remote guild's exit code.
    Ended(i32),
    /// Over SSH, in the background.
    Background,
    /// Submitted to Slurm as `job`.
    Submitted {
        /// The Slurm job id.
        job: String,
    },
}

/// One remote, reached and ready: its guild home exists and holds this
/// binary.
pub struct Sender<'a> {
    pub(crate) home: &'a Home,
    /// The remote, as the user config defines it.
    pub remote: Remote,
    pub(crate) site: Site,
    pub(crate) report: Arc<dyn Reporter>,
    digest: String,
    prep: Option<Prepared>,
    /// The runs to send need Python there (checked when connecting).
    pub needs_python: bool,
}

impl<'a> Sender<'a> {
    /// A sender for `remote`; nothing is contacted yet.
    pub fn new(home: &'a Home, remote: Remote, report: Arc<dyn Reporter>) -> Result<Sender<'a>> {
        let site = Site::of(&remote)?;
        let exe = guild_format::platform::guild_exe()?;
        let digest = site::exe_digest(&exe, &home.cache_dir("remote"))?;
        Ok(Sender {
            home,
            remote,
            site,
            report,
            digest,
            prep: None,
            needs_python: false,
        })
    }

    /// Reach the remote (one round trip), make its guild home and copy
    /// this binary there if it has no copy. An unreachable host, a home
    /// that cannot be written, a missing rsync: one line naming the fix.
    pub fn connect(&mut self) -> Result<&Prepared> {
        if self.prep.is_none() {
            let prep = self.site.prepare(&self.digest)?;
            if self.slurm().is_some() && !prep.sbatch {
                return Err(Error::user(format!(
                    "sbatch is not on the PATH on {}; install Slurm's client there, or add the line that makes it available (module load slurm) to init of remote '{}'",
                    self.site.describe(),
                    self.remote.name
                )));
            }
            if self.needs_python && prep.python.is_none() {
                return Err(self.no_python());
            }
            if !prep.has_binary {
                let exe = guild_format::platform::guild_exe()?;
                self.site.ensure_binary(&prep, &exe, &self.digest)?;
            }
            self.prep = Some(prep);
        }
        self.prep
            .as_ref()
            .ok_or_else(|| Error::user("the remote was not reached"))
    }

    fn slurm(&self) -> Option<&crate::remote::Slurm> {
        match &self.remote.kind {
            Kind::Slurm(c) => Some(c),
            _ => None,
        }
    }

    /// Copy staged `runs` to the remote and start them there: over SSH as
    /// `follow` says (a sweep's trials one after another); on Slurm as one
    /// job, or one job array for several runs, named `name`.
    pub fn start(&mut self, runs: &[Run], follow: Follow, name: &str) -> Result<Sent> {
        self.connect()?;
        self.check_python(runs)?;
        self.send_datastores(runs, false)?;
        self.send(runs)?;
        if self.slurm().is_some() {
            let job = self.submit(runs, name)?;
            return Ok(Sent::Submitted { job });
        }
        self.start_ssh(runs, follow)
    }

    /// A run whose command is Python's needs Python there.
    fn check_python(&self, runs: &[Run]) -> Result<()> {
        let prep = self.prep.as_ref();
        let needs = runs.iter().any(|r| {
            r.attr("cmd")
                .and_then(|c| c.as_sequence().and_then(|s| s.first().cloned()))
                .and_then(|v| v.as_str().map(|s| s.contains("python")))
                .unwrap_or(false)
        });
        if needs && prep.is_some_and(|p| p.python.is_none()) {
            return Err(self.no_python());
        }
        Ok(())
    }

    fn no_python(&self) -> Error {
        Error::user(format!(
            "there is no python3 on {} (the run's command is Python); install Python 3 there, or set venv-path or init of remote '{}' to one",
            self.site.describe(),
            self.remote.name
        ))
    }

    /// The local record of each run says where it goes; the runs are
    /// copied into the remote's `runs/`. An interrupted copy leaves the
    /// runs staged here (starting them again resumes the copy).
    fn send(&self, runs: &[Run]) -> Result<()> {
        let prep = self
            .prep
            .as_ref()
            .ok_or_else(|| Error::user("not connected"))?;
        for r in runs {
            self.placement(r, None, Some("staged")).write(r)?;
        }
        let sources: Vec<PathBuf> = runs.iter().map(|r| r.dir.clone()).collect();
        let mut c = self.site.rsync()?;
        // Links out of a run (resolved dependencies) are copied as the
        // files they point to: the remote has no such paths.
        c.arg("--copy-unsafe-links");
        for e in NOT_COPIED {
            c.arg(format!("--exclude={e}"));
        }
        for e in Self::mount_excludes(runs) {
            c.arg(format!("--exclude={e}"));
        }
        c.args(&sources)
            .arg(self.site.path(&format!("{}/runs/", prep.home)));
        let out = c.output().map_err(|e| {
            Error::process("cannot run rsync (install it: apt-get install rsync)", e)
        })?;
        if !out.status.success() {
            return Err(Error::user(format!(
                "copying the run{} to {} failed ({}); the run{} stay{} staged here: start {} again with `guild run --start ID --remote {}` to resume",
                if runs.len() == 1 { "" } else { "s" },
                self.site.describe(),
                crate::remote::last_line(&out.stderr, "rsync failed"),
                if runs.len() == 1 { "" } else { "s" },
                if runs.len() == 1 { "s" } else { "" },
                if runs.len() == 1 { "it" } else { "them" },
                self.remote.name
            )));
        }
        Ok(())
    }

    fn placement(&self, run: &Run, job: Option<String>, state: Option<&str>) -> Placement {
        let home = self
            .prep
            .as_ref()
            .map(|p| p.home.clone())
            .unwrap_or_default();
        Placement::Remote {
            remote: self.remote.name.clone(),
            host: self.site.describe(),
            dir: format!("{home}/runs/{}", run.id),
            job,
            state: state.map(String::from),
        }
    }

    fn start_ssh(&mut self, runs: &[Run], follow: Follow) -> Result<Sent> {
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let stop_mark = format!(".stop-{}", ids.first().map(|s| s.as_str()).unwrap_or(""));
        let mut args = vec!["run".to_string(), "--start".into()];
        let script = if ids.len() == 1 {
            args.push(ids[0].clone());
            args.push("-y".into());
            if follow == (Follow::Foreground { quiet: true }) {
                args.push("--quiet".into());
            }
            if follow == Follow::Background {
                args.push("--background".into());
            }
            self.site.guild_script(&self.digest, &args)
        } else {
            // A sweep's trials, one after another; a stop mark in the
            // home ends it between trials.
            let quiet = if follow == (Follow::Foreground { quiet: true }) {
                " --quiet"
            } else {
                ""
            };
            let body = format!(
                "{prelude}export GUILD_HOME=\"$h\"; rc=0; \
                 for id in {ids}; do [ -e \"$h/{stop_mark}\" ] && break; \"$b\" run --start \"$id\" -y{quiet} || rc=1; done; \
                 rm -f \"$h/{stop_mark}\"; exit $rc",
                prelude = self.site.guild_prelude(&self.digest),
                ids = ids.join(" ")
            );
            let body = if follow == Follow::Background {
                format!(
                    "nohup sh -c {} >/dev/null 2>&1 </dev/null & echo started",
                    guild_format::run::opref::quote(&body)
                )
            } else {
                body
            };
            self.site.with_setup(&body)
        };
        // The record shows running from here: the remote run directory
        // and `guild sync` say how it ends.
        for r in runs {
            fsutil::remove_if_exists(&r.guild_path("STAGED"))?;
            fsutil::write_atomic(&r.guild_path("LOCK.remote"), self.remote.name.as_bytes())?;
            self.placement(r, None, None).write(r)?;
        }
        let mut cmd = self.site.shell(&script)?;
        if follow == Follow::Background {
            let out = cmd
                .stderr(Stdio::piped())
                .output()
                .map_err(|e| Error::process("cannot run ssh", e))?;
            if !out.status.success() {
                self.restage(runs)?;
                return Err(self.failed(&out.stderr, out.status.code()));
            }
            return Ok(Sent::Background);
        }
        // Ctrl-C here stops the run there (the ssh client is in a process
        // group of its own, so the terminal's signal reaches only us).
        let signals = StopSignals::catch(
            &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
            crate::exec::signals::Forward::Nothing,
        )?;
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .stderr(Stdio::inherit())
            .stdout(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::process("cannot run ssh", e))?;
        let mut stopping = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => return Err(Error::process("cannot wait for ssh", e)),
            }
            if !stopping && signals.received() != 0 {
                stopping = true;
                let mut stop = vec!["stop".to_string(), "-y".into()];
                stop.extend(ids.iter().cloned());
                let mark = format!(
                    "h={}; touch \"$h/{stop_mark}\"",
                    site::home_expr(&self.site.home)
                );
                let _ = self.site.shell(&mark).and_then(|mut c| {
                    c.stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .map_err(|e| Error::process("cannot run ssh", e))
                });
                let _ = self.guild_output(&stop);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(signals);
        let code = status.code();
        if code == Some(255) || code.is_none() {
            return Err(Error::user(format!(
                "the connection to {} was lost; the run{} may go on there: `guild sync` updates {}, `guild watch --remote {}` follows it",
                self.site.describe(),
                if ids.len() == 1 { "" } else { "s" },
                if ids.len() == 1 { "its record" } else { "their records" },
                self.remote.name
            )));
        }
        if site::is_missing_binary(code) {
            return Err(Error::user(format!(
                "the guild copy on {} disappeared before the run started; run the command again",
                self.site.describe()
            )));
        }
        if let Err(e) = self.sync(runs) {
            self.report.warning(&format!(
                "WARNING: the run ended but its record here was not updated ({}); `guild sync` updates it",
                e.message()
            ));
        }
        Ok(Sent::Ended(code.unwrap_or(1)))
    }

    /// Runs that did not start there are staged here again.
    fn restage(&self, runs: &[Run]) -> Result<()> {
        for r in runs {
            fsutil::remove_if_exists(&r.guild_path("LOCK.remote"))?;
            fsutil::write_atomic(&r.guild_path("STAGED"), b"")?;
            self.placement(r, None, Some("staged")).write(r)?;
        }
        Ok(())
    }

    fn failed(&self, stderr: &[u8], code: Option<i32>) -> Error {
        if code == Some(255) {
            return self.site.unreachable(stderr);
        }
        Error::user(format!(
            "the remote guild on {} failed: {}",
            self.site.describe(),
            crate::remote::last_line(stderr, "no message")
        ))
    }

    /// Submit `runs` to Slurm: one job, or one job array with a task per
    /// run, in a single `sbatch`. Each run there records its job, so the
    /// guild there can ask the scheduler what the run dir cannot say.
    fn submit(&self, runs: &[Run], name: &str) -> Result<String> {
        let c = self
            .slurm()
            .ok_or_else(|| Error::user("not a Slurm remote"))?;
        let prep = self
            .prep
            .as_ref()
            .ok_or_else(|| Error::user("not connected"))?;
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let home = &prep.home;
        let script = slurm::job_script(
            c,
            &self.site.setup,
            home,
            &prep.binary(&self.digest),
            &ids,
            name,
        );
        let file = format!("{home}/slurm/{}.sbatch", &ids[0]);
        let q = guild_format::run::opref::quote;
        let array = ids.len() > 1;
        let submit = format!(
            "mkdir -p {dir} && cat > {f} <<'GUILD_SBATCH_EOF'\n{script}GUILD_SBATCH_EOF\n\
             out=$(sbatch --parsable {f} 2>&1) || {{ echo \"$out\" >&2; exit 98; }}\n\
             jid=$(printf '%s\\n' \"$out\" | tail -1); jid=${{jid%%;*}}\n\
             i=0; for id in {ids}; do j=$jid; {array_j} \
             printf 'type: slurm\\njob: \"%s\"\\n' \"$j\" > {runs}/$id/.guild/placement.tmp && \
             mv -f {runs}/$id/.guild/placement.tmp {runs}/$id/.guild/placement; i=$((i+1)); done\n\
             echo \"job=$jid\"",
            dir = q(&format!("{home}/slurm")),
            f = q(&file),
            ids = ids.join(" "),
            runs = q(&format!("{home}/runs")),
            array_j = if array { "j=\"${jid}_$i\";" } else { "" },
        );
        let out = self
            .site
            .shell(&self.site.with_setup(&submit))?
            .output()
            .map_err(|e| Error::process("cannot run ssh", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let job = text
            .lines()
            .find_map(|l| l.strip_prefix("job="))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let Some(job) = job.filter(|_| out.status.success()) else {
            if out.status.code() == Some(98) {
                return Err(Error::user(format!(
                    "sbatch on {} rejected the job ({}); fix the settings of remote '{}' (partition, account, qos, time...); `guild remote status {}` lists the partitions. The run{} stay{} staged here",
                    self.site.describe(),
                    crate::remote::last_line(&out.stderr, "no message").trim_start_matches("sbatch: error: "),
                    self.remote.name,
                    self.remote.name,
                    if runs.len() == 1 { "" } else { "s" },
                    if runs.len() == 1 { "s" } else { "" },
                )));
            }
            return Err(self.failed(&out.stderr, out.status.code()));
        };
        for (i, r) in runs.iter().enumerate() {
            let j = if array {
                format!("{job}_{i}")
            } else {
                job.clone()
            };
            self.placement(r, Some(j), Some("pending")).write(r)?;
            fsutil::remove_if_exists(&r.guild_path("STAGED"))?;
        }
        Ok(job)
    }

    /// Run the remote's guild with `args` (quoted; never flag values) with
    /// its output here as it comes; its exit code. The copy of this
    /// binary is put there first when it is missing. With `resume` (a
    /// command whose output is the same on every try: `watch`, `cat`,
    /// `logs`), a lost connection is made again and the output goes on
    /// where it stopped, each byte printed once.
    pub fn guild(&mut self, args: &[String], resume: bool) -> Result<i32> {
        use std::io::{Read, Write};
        let mut printed: u64 = 0;
        let mut copied = false;
        let mut retries = 0;
        loop {
            let script = self.site.guild_script(&self.digest, args);
            let mut cmd = self.site.shell(&script)?;
            cmd.stderr(Stdio::inherit());
            let code = if resume {
                let mut child = cmd
                    .stdout(Stdio::piped())
                    .spawn()
                    .map_err(|e| Error::process("cannot run ssh", e))?;
                let mut from = child
                    .stdout
                    .take()
                    .ok_or_else(|| Error::user("ssh gave no output pipe"))?;
                let mut out = std::io::stdout().lock();
                let mut seen: u64 = 0;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    // What an earlier connection printed is skipped.
                    let skip = printed.saturating_sub(seen).min(n as u64) as usize;
                    seen += n as u64;
                    if skip < n {
                        if out.write_all(&buf[skip..n]).is_err() {
                            let _ = child.kill();
                            break;
                        }
                        let _ = out.flush();
                        printed += (n - skip) as u64;
                    }
                }
                child
                    .wait()
                    .map_err(|e| Error::process("cannot wait for ssh", e))?
                    .code()
            } else {
                cmd.stdout(Stdio::inherit())
                    .status()
                    .map_err(|e| Error::process("cannot run ssh", e))?
                    .code()
            };
            if site::is_missing_binary(code) && !copied {
                copied = true;
                self.connect()?;
                continue;
            }
            if code == Some(255) || code.is_none() {
                if resume && retries < 5 {
                    retries += 1;
                    self.report.warning(&format!(
                        "WARNING: the connection to {} was lost; connecting again ({retries} of 5)",
                        self.site.describe()
                    ));
                    std::thread::sleep(Duration::from_millis(500 * retries));
                    self.site.reset();
                    continue;
                }
                return Err(Error::user(format!(
                    "cannot reach {} or the connection was lost; check that the host is up (`guild remote status {}`)",
                    self.site.describe(),
                    self.remote.name
                )));
            }
            return Ok(code.unwrap_or(1));
        }
    }

    /// As [`Sender::guild`], capturing stdout.
    pub(crate) fn guild_output(&mut self, args: &[String]) -> Result<String> {
        for attempt in 0..2 {
            let script = self.site.guild_script(&self.digest, args);
            let out = self
                .site
                .shell(&script)?
                .output()
                .map_err(|e| Error::process("cannot run ssh", e))?;
            if site::is_missing_binary(out.status.code()) && attempt == 0 {
                self.connect()?;
                continue;
            }
            if !out.status.success() {
                return Err(self.failed(&out.stderr, out.status.code()));
            }
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(Error::user("the remote guild could not be started"))
    }

    /// The remote's guild home and the status of its runs (`specs`, or
    /// all), as its guild sees them: run dir plus scheduler.
    pub(crate) fn remote_statuses(
        &mut self,
        specs: &[String],
    ) -> Result<(String, Vec<(String, String)>)> {
        let mut args = vec!["__status".to_string()];
        args.extend(specs.iter().cloned());
        let text = self.guild_output(&args)?;
        let mut home = String::new();
        let mut out = Vec::new();
        for l in text.lines() {
            if let Some(h) = l.strip_prefix("home=") {
                home = h.to_string();
            } else if let Some((id, st)) = l.split_once(' ') {
                guild_format::run::check_id(id, &format!("remote '{}'", self.remote.name))?;
                out.push((id.to_string(), st.to_string()));
            }
        }
        Ok((home, out))
    }

    /// Refresh the local records of `runs` (sent to this remote): their
    /// files from the remote run directories, their status from the
    /// remote's guild. Returns each run's status there.
    pub fn sync(&mut self, runs: &[Run]) -> Result<Vec<(String, String)>> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let (home, statuses) = self.remote_statuses(&ids)?;
        let known: HashMap<&str, &str> = statuses
            .iter()
            .map(|(i, s)| (i.as_str(), s.as_str()))
            .collect();
        let present: Vec<String> = ids
            .iter()
            .filter(|i| known.get(i.as_str()).is_some_and(|s| *s != "missing"))
            .cloned()
            .collect();
        let local_runs = self.home.runs_dir();
        self.copy_back(&home, &present, &local_runs)?;
        for r in runs {
            match known.get(r.id.as_str()) {
                Some(&"missing") | None => self.report.warning(&format!(
                    "WARNING: run {} is no longer on remote '{}'; its record here is left as it is",
                    r.short_id(),
                    self.remote.name
                )),
                Some(st) => self.apply(r, st)?,
            }
        }
        Ok(statuses)
    }

    /// Copy run dirs `ids` of the remote's `home` into `dest` (here),
    /// files the remote removed removed here too (except this side's own).
    fn copy_back(&self, home: &str, ids: &[String], dest: &std::path::Path) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let runs_there = format!("{home}/runs");
        self.site.copy_from(&runs_there, ids, dest, NOT_COPIED)?;
        // A link there is copied as a link: never keep one at a run's
        // place (or its .guild's), where later writes would follow it.
        for id in ids {
            for rel in [id.clone(), format!("{id}/.guild")] {
                let p = dest.join(&rel);
                if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                    let _ = std::fs::remove_file(&p);
                    return Err(Error::user(format!(
                        "remote '{}': runs/{rel} there is a symbolic link, not a run directory; \
                         refusing it (the link was not kept here)",
                        self.remote.name
                    )));
                }
            }
        }
        // A mount there links to the remote's store: link it to this one's.
        let store = guild_format::datastore::Store::of(self.home);
        for id in ids {
            for m in guild_format::datastore::relink(&store, &Run::at(dest.join(id)))? {
                self.report
                    .warning(&format!("WARNING: {}", m.missing(&id[..8.min(id.len())])));
            }
        }
        Ok(())
    }

    /// Make the local record of `run` say what the remote says of it.
    fn apply(&self, run: &Run, status: &str) -> Result<()> {
        run.writable()?;
        let job = match Placement::of(run)? {
            Placement::Remote { job, .. } => job,
            _ => None,
        };
        if status == "running" {
            fsutil::write_atomic(&run.guild_path("LOCK.remote"), self.remote.name.as_bytes())?;
            return self.placement(run, job, None).write_keeping_dir(run);
        }
        fsutil::remove_if_exists(&run.guild_path("LOCK.remote"))?;
        let state = (run.attr("exit_status").is_none()).then_some(status);
        self.placement(run, job, state).write_keeping_dir(run)
    }

    /// `pull`: copy the remote's runs `specs` (all when empty) here,
    /// complete; a run that is not finished there keeps a record of
    /// where it is, for `sync`. Returns the ids.
    pub fn pull(&mut self, specs: &[String]) -> Result<Vec<String>> {
        let (home, statuses) = self.remote_statuses(specs)?;
        let ids: Vec<String> = statuses
            .iter()
            .filter(|(_, s)| s != "missing")
            .map(|(i, _)| i.clone())
            .collect();
        let local_runs = self.home.runs_dir();
        std::fs::create_dir_all(&local_runs).map_err(|e| Error::io("creating", &local_runs, e))?;
        self.copy_back(&home, &ids, &local_runs)?;
        for (id, st) in statuses.iter().filter(|(_, s)| s != "missing") {
            let run = Run::at(local_runs.join(id));
            let finished = matches!(st.as_str(), "completed" | "error" | "terminated")
                && run.attr("exit_status").is_some();
            if !finished {
                let p = Placement::Remote {
                    remote: self.remote.name.clone(),
                    host: self.site.describe(),
                    dir: format!("{home}/runs/{id}"),
                    job: None,
                    state: None,
                };
                p.write(&run)?;
                self.apply(&run, st)?;
            }
        }
        Ok(ids)
    }

    /// `push`: copy local `runs` to the remote's runs (not their locks or
    /// this machine's staging environment).
    pub fn push(&mut self, runs: &[Run]) -> Result<()> {
        let prep = self.connect()?.clone();
        let sources: Vec<PathBuf> = runs.iter().map(|r| r.dir.clone()).collect();
        let mounts = Self::mount_excludes(runs);
        let mut excludes: Vec<&str> = NOT_COPIED.to_vec();
        excludes.extend(mounts.iter().map(String::as_str));
        self.site
            .copy_to(&sources, &format!("{}/runs/", prep.home), &excludes)?;
        self.send_datastores(runs, true)
    }
}

/// The submission summary of a Slurm job: trials, resources, estimated
/// cost, how to follow it.
pub fn slurm_summary(remote: &Remote, job: &str, name: &str, trials: usize) -> Vec<String> {
    let Kind::Slurm(c) = &remote.kind else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let at_once = c
        .array_parallelism
        .map(|p| (p as usize).min(trials))
        .unwrap_or(trials);
    lines.push(if trials > 1 {
        format!(
            "Submitted {name} to {} as job array {job}: {trials} trials, {}",
            remote.name,
            match c.array_parallelism {
                Some(p) => format!("at most {p} at a time"),
                None => "as many at a time as the cluster allows".into(),
            }
        )
    } else {
        format!("Submitted {name} to {} as job {job}", remote.name)
    });
    lines.push(format!("Resources per trial: {}", slurm::resources(c)));
    if let Some(cost) = c.hourly_cost {
        lines.push(format!(
            "Estimated cost: {:.2} per hour while {at_once} {} ({cost:.2} per job-hour)",
            cost * at_once as f64,
            if at_once == 1 { "runs" } else { "run" }
        ));
    }
    lines.push(format!(
        "Follow it: guild runs --remote {r}, guild status, guild sync",
        r = remote.name
    ));
    lines
}

/// The local record of a run on a remote: stopping it stops it there.
pub(crate) struct Record<'h> {
    pub(crate) caller: &'h super::Caller<'h>,
    pub(crate) remote: String,
}

impl Record<'_> {
    fn sender(&self) -> Result<Sender<'_>> {
        let remote = crate::remote::find(self.caller.cwd, &self.remote).map_err(|_| {
            Error::user(format!(
                "the run is on remote '{}', which the user config no longer declares; declare it again to reach the run",
                self.remote
            ))
        })?;
        Sender::new(self.caller.home, remote, self.caller.report.clone())
    }
}

impl Target for Record<'_> {
    fn start(&self, run: &Run, _req: StartRequest) -> Result<Started> {
        Err(Error::user(format!(
            "run {} was sent to remote '{}'; start it there with `guild run --start {} --remote {}`",
            run.short_id(),
            self.remote,
            run.id,
            self.remote
        )))
    }

    fn status(&self, run: &Run) -> Status {
        run.status().status
    }

    fn stoppable(&self, run: &Run) -> bool {
        matches!(self.status(run), Status::Running | Status::Pending)
    }

    fn stop(&self, run: &Run, _grace: Duration) -> Result<Stopped> {
        if let Ok(remote) = crate::remote::find(self.caller.cwd, &self.remote) {
            if let Kind::Ray(_) = remote.kind {
                let mut s = super::ray::RaySender::new(
                    self.caller.home,
                    self.caller.cwd,
                    remote,
                    self.caller.report.clone(),
                )?;
                s.stop(run)?;
                return Ok(Stopped::Ended);
            }
        }
        let mut s = self.sender()?;
        let args = vec!["stop".to_string(), "-y".into(), run.id.clone()];
        s.guild_output(&args)?;
        s.sync(std::slice::from_ref(run))?;
        Ok(Stopped::Ended)
    }
}

/// A run started by a Slurm job on this cluster.
pub(crate) struct SlurmJob<'h> {
    pub(crate) home: &'h Home,
    pub(crate) job: String,
}

impl Target for SlurmJob<'_> {
    fn start(&self, run: &Run, req: StartRequest) -> Result<Started> {
        super::Local { home: self.home }.start(run, req)
    }

    fn status(&self, run: &Run) -> Status {
        run.status().status
    }

    fn stoppable(&self, run: &Run) -> bool {
        matches!(self.status(run), Status::Running | Status::Pending)
    }

    /// `scancel`: Slurm sends the job TERM (the run's supervisor passes it
    /// on and records the end), then KILL after its grace. Waits until
    /// the run or the scheduler says it ended.
    fn stop(&self, run: &Run, grace: Duration) -> Result<Stopped> {
        let out = std::process::Command::new("scancel")
            .arg(&self.job)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::process("cannot run scancel (is Slurm's client on the PATH?)", e)
            })?;
        if !out.status.success() {
            return Err(Error::user(format!(
                "scancel {} failed ({}); is it your job?",
                self.job,
                crate::remote::last_line(&out.stderr, "no message")
            )));
        }
        let t0 = Instant::now();
        while t0.elapsed() < grace + Duration::from_secs(10) {
            if !matches!(run.status().status, Status::Running | Status::Pending) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(Stopped::Ended)
    }
}
