//! Where a remote's commands run and its files go: a host over SSH (the
//! system `ssh` and `rsync`, over one multiplexed connection) or this
//! machine (a Slurm cluster whose `sbatch` runs here). Nothing needs to be
//! installed there: this `guild` binary is copied to
//! `<guild home>/bin/guild-<digest>` the first time it is needed.

use super::{last_line, Kind, Remote, Ssh};
use guild_format::error::{Error, Result};
use guild_format::run::opref::quote;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Exit code of a remote command whose guild binary is missing there.
const NO_BINARY: i32 = 97;

/// One remote's commands and files.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// The remote's name.
    pub(crate) name: String,
    /// The host; None: this machine.
    pub(crate) ssh: Option<Ssh>,
    /// The guild home there, as configured (`~/.guild` by default).
    pub(crate) home: String,
    /// Shell lines run before any guild command there: `init`, the
    /// venv's activation, `env`.
    pub(crate) setup: Vec<String>,
}

/// What [`Site::prepare`] found.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The guild home there, absolute.
    pub(crate) home: String,
    /// This binary's copy is there.
    pub(crate) has_binary: bool,
    /// `python3 --version` there.
    pub(crate) python: Option<String>,
    /// `sbatch` is on the PATH there.
    pub(crate) sbatch: bool,
}

impl Prepared {
    /// This binary's copy there.
    pub(crate) fn binary(&self, digest: &str) -> String {
        format!("{}/bin/guild-{digest}", self.home)
    }
}

impl Site {
    pub(crate) fn of(remote: &Remote) -> Result<Site> {
        let (ssh, home) = match &remote.kind {
            Kind::Ssh(s) => (Some(s.clone()), s.guild_home.clone()),
            Kind::Slurm(c) => (c.login.clone(), c.guild_home.clone()),
            Kind::Bucket(b) => {
                return Err(Error::user(format!(
                    "remote '{}' is a bucket ({}): it holds runs (push, pull, runs --remote) but does not run them; use an ssh or slurm remote to run",
                    remote.name,
                    b.url()
                )))
            }
            Kind::Ray(_) => {
                return Err(Error::user(format!(
                    "remote '{}' is a Ray cluster: its runs are reached through their records here and its storage, not a shell",
                    remote.name
                )))
            }
            Kind::Other(t) => {
                return Err(Error::user(format!(
                    "remote '{}' has type '{t}', which this tracker does not run; use type ssh or slurm",
                    remote.name
                )))
            }
        };
        let mut setup = Vec::new();
        if let Some(s) = &ssh {
            setup.extend(s.init.iter().cloned());
            if let Some(v) = &s.venv_path {
                setup.push(format!(". {}/bin/activate", home_expr(v)));
            }
            for (k, v) in &s.env {
                setup.push(format!("export {k}={}", quote(v)));
            }
        }
        Ok(Site {
            name: remote.name.clone(),
            ssh,
            home: home.unwrap_or_else(|| "~/.guild".into()),
            setup,
        })
    }

    /// Forget a shared connection that no longer works (its master was
    /// killed): the next command makes a new one.
    pub(crate) fn reset(&self) {
        if let Some(s) = &self.ssh {
            let sock = control_dir().join(socket_name(s));
            let alive = s
                .command_base()
                .arg("-o")
                .arg(format!("ControlPath={}", sock.display()))
                .args(["-O", "check"])
                .arg(&s.host)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success());
            if !alive {
                let _ = std::fs::remove_file(&sock);
            }
        }
    }

    /// Where it is, as people write it.
    pub(crate) fn describe(&self) -> String {
        match &self.ssh {
            Some(s) => s.address(),
            None => "this machine".into(),
        }
    }

    /// `sh -c SCRIPT` there (stdin null unless the caller sets it).
    pub(crate) fn shell(&self, script: &str) -> Result<Command> {
        let mut c = match &self.ssh {
            Some(s) => {
                let master = ensure_master(s)?;
                let mut c = s.command_with(&master);
                c.arg(format!("sh -c {}", quote(script)));
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(script);
                c
            }
        };
        c.stdin(Stdio::null());
        Ok(c)
    }

    /// `rsync -a` with this site's ssh options; paths there are given by
    /// [`Site::path`].
    pub(crate) fn rsync(&self) -> Result<Command> {
        let mut c = Command::new("rsync");
        c.arg("-a");
        if let Some(s) = &self.ssh {
            let master = ensure_master(s)?;
            let words: Vec<String> = std::iter::once("ssh".to_string())
                .chain(s.options(&master))
                .collect();
            let e = shlex::try_join(words.iter().map(|w| w.as_str()))
                .map_err(|_| Error::user("ssh options of the remote contain a NUL byte"))?;
            c.arg("-e").arg(e);
        }
        c.stdin(Stdio::null());
        Ok(c)
    }

    /// A path there, as rsync takes it.
    pub(crate) fn path(&self, p: &str) -> String {
        match &self.ssh {
            Some(s) => format!("{}:{p}", s.host),
            None => p.to_string(),
        }
    }

    /// One round trip: make the guild home's `runs` and `bin` there (so an
    /// unwritable home fails before anything is copied), and say whether
    /// this binary, Python, rsync and sbatch are there.
    pub(crate) fn prepare(&self, digest: &str) -> Result<Prepared> {
        let script = format!(
            "h={home}; mkdir -p \"$h/runs\" \"$h/bin\" 2>&1 | tail -1 | sed 's/^/mkdir=/'; \
             [ -w \"$h/runs\" ] || {{ echo \"unwritable=$h\"; exit 0; }}; \
             echo \"home=$(cd \"$h\" && pwd -P)\"; \
             [ -x \"$h/bin/guild-{digest}\" ] && echo binary=yes; \
             command -v rsync >/dev/null && echo rsync=yes; \
             command -v sbatch >/dev/null && echo sbatch=yes; \
             echo \"python=$(python3 --version 2>&1 | grep '^Python')\"; \
             echo \"arch=$(uname -sm)\"",
            home = home_expr(&self.home)
        );
        let script = self.with_setup(&script);
        let out = self
            .shell(&script)?
            .output()
            .map_err(|e| Error::process("cannot run ssh (is OpenSSH's client installed?)", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(self.unreachable(&out.stderr));
        }
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(h) = get("unwritable") {
            return Err(Error::user(format!(
                "the guild home {h} on {} is not writable{}; set guild-home of remote '{}' to a directory you can write",
                self.describe(),
                get("mkdir").map(|m| format!(" ({m})")).unwrap_or_default(),
                self.name
            )));
        }
        let here = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
        if let Some(arch) = get("arch") {
            let mut w = arch.split_whitespace();
            let (os, cpu) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
            let cpu = if cpu == "arm64" { "aarch64" } else { cpu };
            if !os.eq_ignore_ascii_case(std::env::consts::OS) || cpu != std::env::consts::ARCH {
                return Err(Error::user(format!(
                    "{} is {arch} and this guild is built for {here}; build guild for it, or use a remote of this kind",
                    self.describe()
                )));
            }
        }
        if get("rsync").is_none() {
            return Err(Error::user(format!(
                "rsync is not installed on {}; install it there (apt-get install rsync)",
                self.describe()
            )));
        }
        Ok(Prepared {
            home: get("home").unwrap_or_default(),
            has_binary: get("binary").is_some(),
            python: get("python"),
            sbatch: get("sbatch").is_some(),
        })
    }

    /// Copy this binary there unless it already is (by digest).
    pub(crate) fn ensure_binary(&self, prep: &Prepared, exe: &Path, digest: &str) -> Result<()> {
        if prep.has_binary {
            return Ok(());
        }
        self.copy_to(&[exe.to_path_buf()], &prep.binary(digest), &[])
    }

    /// `rsync -a SOURCES... DEST` to this site (files are written to a
    /// temporary name and renamed: an interrupted copy leaves no half
    /// file, and copying again resumes).
    pub(crate) fn copy_to(&self, sources: &[PathBuf], dest: &str, excludes: &[&str]) -> Result<()> {
        let mut c = self.rsync()?;
        for e in excludes {
            c.arg(format!("--exclude={e}"));
        }
        c.args(sources).arg(self.path(dest));
        self.run_rsync(c, "copying to")
    }

    /// `rsync -a -r --files-from` the given paths (relative to `base`
    /// there) into `dest` here; what was removed there is removed here,
    /// except the `excludes` (this side's own files).
    pub(crate) fn copy_from(
        &self,
        base: &str,
        rel: &[String],
        dest: &Path,
        excludes: &[&str],
    ) -> Result<()> {
        // A live run changes while it is copied: a file renamed into place
        // or removed there after rsync listed it is "vanished" (exit 24).
        // Nothing is wrong with what was copied; copy again, which picks
        // up the new names, and after that take the copy as it is (the
        // next sync brings the rest).
        let mut tries = 0;
        loop {
            tries += 1;
            let out = self.copy_from_once(base, rel, dest, excludes)?;
            if out.status.code() == Some(RSYNC_VANISHED) {
                if tries < 3 {
                    continue;
                }
                return Ok(());
            }
            return self.rsync_result(&out, "copying from");
        }
    }

    /// `rsync -a --files-from` the given paths (relative to `base` here)
    /// into `dest` there, skipping each that is there already (stored
    /// content never changes under its name).
    pub(crate) fn send_new_files(&self, base: &Path, rel: &[String], dest: &str) -> Result<()> {
        let mut c = self.rsync()?;
        c.arg("--ignore-existing").arg("--files-from=-");
        c.arg(format!("{}/", base.display())).arg(self.path(dest));
        let out = with_list(c, rel)?;
        self.rsync_result(&out, "copying to")
    }

    fn copy_from_once(
        &self,
        base: &str,
        rel: &[String],
        dest: &Path,
        excludes: &[&str],
    ) -> Result<std::process::Output> {
        let mut c = self.rsync()?;
        c.arg("-r").arg("--files-from=-").arg("--delete");
        for e in excludes {
            c.arg(format!("--exclude={e}"));
        }
        c.arg(self.path(&format!("{base}/"))).arg(dest);
        with_list(c, rel)
    }

    fn run_rsync(&self, mut c: Command, what: &str) -> Result<()> {
        let out = c.output().map_err(|e| {
            Error::process("cannot run rsync (install it: apt-get install rsync)", e)
        })?;
        self.rsync_result(&out, what)
    }

    fn rsync_result(&self, out: &std::process::Output, what: &str) -> Result<()> {
        if !out.status.success() {
            return Err(Error::user(format!(
                "{what} {} failed ({}); nothing was lost: run the command again to resume",
                self.describe(),
                last_line(&out.stderr, "rsync failed")
            )));
        }
        Ok(())
    }

    /// `script` after the site's setup lines.
    pub(crate) fn with_setup(&self, script: &str) -> String {
        let mut s = self.setup.join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(script);
        s
    }

    /// Shell lines that set `h` to the guild home there and `b` to this
    /// binary's copy in it, and exit with [`NO_BINARY`] when it is missing.
    pub(crate) fn guild_prelude(&self, digest: &str) -> String {
        format!(
            "h={home}; b=\"$h/bin/guild-{digest}\"; [ -x \"$b\" ] || exit {NO_BINARY}; ",
            home = home_expr(&self.home)
        )
    }

    /// A script that runs this binary's copy there with `args` (each
    /// quoted; never a flag value) in the guild home (see
    /// [`Site::guild_prelude`]).
    pub(crate) fn guild_script(&self, digest: &str, args: &[String]) -> String {
        let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
        self.with_setup(&format!(
            "{}GUILD_HOME=\"$h\" exec \"$b\" {}",
            self.guild_prelude(digest),
            args.join(" ")
        ))
    }

    /// An error for a command there that failed to connect.
    pub(crate) fn unreachable(&self, stderr: &[u8]) -> Error {
        match &self.ssh {
            Some(s) => s.unreachable(stderr),
            None => Error::user(format!(
                "a shell command on this machine failed ({})",
                last_line(stderr, "sh failed")
            )),
        }
    }
}

/// Run rsync `c` with the paths `rel` on its standard input (for
/// `--files-from=-`).
fn with_list(mut c: Command, rel: &[String]) -> Result<std::process::Output> {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| Error::process("cannot run rsync (install it: apt-get install rsync)", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // A failed write shows as rsync's own error below.
        let _ = stdin.write_all((rel.join("\n") + "\n").as_bytes());
    }
    child
        .wait_with_output()
        .map_err(|e| Error::process("cannot wait for rsync", e))
}

/// `path` for a POSIX shell, `~/` as `"$HOME"/`.
pub(crate) fn home_expr(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None if path == "~" => "\"$HOME\"".into(),
        None => quote(path),
    }
}

/// Whether a remote command's exit says the binary is missing there.
pub(crate) fn is_missing_binary(code: Option<i32>) -> bool {
    code == Some(NO_BINARY)
}

/// The control socket of one ssh connection that later commands share
/// (`ControlMaster`), started on first use and kept for a while.
fn ensure_master(s: &Ssh) -> Result<PathBuf> {
    let dir = control_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let sock = dir.join(socket_name(s));
    if sock.exists() {
        // A socket whose master is gone (killed, or the machine
        // restarted) refuses connections: ssh would warn on every command
        // and connect without it. Remove it and start a new master.
        match std::os::unix::net::UnixStream::connect(&sock) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                let _ = std::fs::remove_file(&sock);
            }
            _ => return Ok(sock),
        }
    }
    // The master runs in the background with nothing of ours open (a
    // master that inherited a pipe would hold it open after we exit).
    let mut c = s.command_base();
    c.arg("-o")
        .arg("ControlMaster=yes")
        .arg("-o")
        .arg(format!("ControlPath={}", sock.display()))
        .arg("-o")
        .arg("ControlPersist=300")
        .arg("-fN")
        .arg(&s.host)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = c
        .output()
        .map_err(|e| Error::process("cannot run ssh (is OpenSSH's client installed?)", e))?;
    if !out.status.success() {
        return Err(s.unreachable(&out.stderr));
    }
    Ok(sock)
}

fn control_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GUILD_SSH_CONTROL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("guild-ssh-{uid}"))
}

/// A short name for the socket (paths of unix sockets are limited to
/// about 100 bytes): a digest of everything that picks the connection.
fn socket_name(s: &Ssh) -> String {
    use sha1::{Digest, Sha1};
    let key = format!(
        "{}\0{:?}\0{:?}\0{:?}\0{:?}",
        s.host, s.port, s.user, s.private_key, s.ssh_config
    );
    let d = Sha1::digest(key.as_bytes());
    d.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// This binary's digest (SHA-1 of its bytes), cached in `cache` by its
/// size and modification time.
pub(crate) fn exe_digest(exe: &Path, cache: &Path) -> Result<String> {
    use sha1::{Digest, Sha1};
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(exe).map_err(|e| Error::io("reading", exe, e))?;
    let key = format!("{}:{}:{}", md.len(), md.mtime(), md.mtime_nsec());
    let cache_file = cache.join("exe-digest");
    if let Ok(text) = std::fs::read_to_string(&cache_file) {
        if let Some((k, d)) = text.trim().split_once(' ') {
            if k == key {
                return Ok(d.to_string());
            }
        }
    }
    let bytes = std::fs::read(exe).map_err(|e| Error::io("reading", exe, e))?;
    let d: String = Sha1::digest(&bytes)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let _ = std::fs::create_dir_all(cache);
    let _ = guild_format::fsutil::write_atomic(&cache_file, format!("{key} {d}\n").as_bytes());
    Ok(d)
}

impl Ssh {
    /// ssh's options for this host, through the control socket `master`.
    fn options(&self, master: &Path) -> Vec<String> {
        let mut o = self.base_options();
        o.push("-o".into());
        o.push("ControlMaster=no".into());
        o.push("-o".into());
        o.push(format!("ControlPath={}", master.display()));
        o
    }

    fn base_options(&self) -> Vec<String> {
        let mut o = Vec::new();
        if let Some(f) = &self.ssh_config {
            o.push("-F".into());
            o.push(f.clone());
        }
        o.extend(["-o".into(), "BatchMode=yes".into()]);
        o.push("-o".into());
        o.push(format!(
            "ConnectTimeout={}",
            self.connect_timeout.unwrap_or(10)
        ));
        o.extend(["-o".into(), "ServerAliveInterval=15".into()]);
        if let Some(p) = self.port {
            o.push("-p".into());
            o.push(p.to_string());
        }
        if let Some(k) = &self.private_key {
            o.push("-i".into());
            o.push(k.clone());
        }
        if let Some(u) = &self.user {
            o.push("-l".into());
            o.push(u.clone());
        }
        o
    }

    /// `ssh` with this host's options, without the host.
    pub(crate) fn command_base(&self) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.base_options());
        c
    }

    /// `ssh OPTIONS HOST` through the control socket `master`.
    fn command_with(&self, master: &Path) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.options(master)).arg(&self.host);
        c
    }

    /// One line for a failed connection, naming what to check.
    pub(crate) fn unreachable(&self, stderr: &[u8]) -> Error {
        let why = last_line(stderr, "ssh failed");
        let fix = if why.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || why.contains("Host key verification failed")
            || why.contains("host key")
        {
            "the host's key is not the one in known_hosts: if the host was reinstalled, remove the old key (ssh-keygen -R HOST) and connect once with ssh to accept the new one"
        } else if why.contains("Permission denied") {
            "the key was refused: check user and private-key of the remote (ssh-copy-id puts your key on the host)"
        } else {
            "check host, port, user and private-key of the remote, and that the host is up"
        };
        Error::user(format!(
            "cannot reach {} over ssh ({why}); {fix}",
            self.address()
        ))
    }
}

/// rsync's exit status for "partial transfer due to vanished source files".
const RSYNC_VANISHED: i32 = 24;
