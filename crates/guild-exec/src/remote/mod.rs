//! Remotes declared in the user config under `remotes:` (Guild 0.9's
//! `~/.guild/config.yml`, or `$GUILD_CONFIG`): SSH hosts, Slurm clusters
//! and object storage buckets (S3 and S3-compatible, GCS, Azure Blob),
//! parsed into typed definitions with one-line errors. Other types Guild
//! knows (ec2...) are listed but cannot run anything here.

use guild_format::error::{Error, Result};
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

pub mod bucket;
pub mod ray;
pub(crate) mod site;
pub(crate) mod slurm;

/// How to reach a host over SSH (the system `ssh`, so `~/.ssh/config`,
/// agents and ProxyJump apply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ssh {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) private_key: Option<String>,
    pub(crate) connect_timeout: Option<u64>,
    /// The guild home on the host (default: `~/.guild`).
    pub(crate) guild_home: Option<String>,
    /// A venv to activate before running (`venv-path`).
    pub(crate) venv_path: Option<String>,
    /// Shell lines run before the command (`init`).
    pub(crate) init: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// An ssh client config file to use (`ssh -F`), instead of the user's.
    pub(crate) ssh_config: Option<String>,
}

/// What a probe of a host found (`remote status`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Probe {
    /// The guild home there, as the shell expands it.
    pub guild_home: String,
    /// The guild home exists.
    pub home_exists: bool,
    /// The guild home, or the nearest directory above it that exists, is
    /// writable.
    pub home_writable: bool,
    /// `guild --version` there, when a guild is on its PATH.
    pub guild: Option<String>,
    /// `python3 --version` there.
    pub python: Option<String>,
    /// Slurm: where `sbatch` is, when it is on the PATH.
    pub sbatch: Option<String>,
    /// Slurm: each partition as `sinfo` shows it: name (`*` marks the
    /// default), availability, node count, node state.
    pub partitions: Vec<(String, String, String, String)>,
}

impl Probe {
    /// The availability `sinfo` gives partition `name` (`up`, `down`...),
    /// None when there is no such partition.
    pub fn availability(&self, name: &str) -> Option<&str> {
        self.partitions
            .iter()
            .find(|(n, ..)| n.trim_end_matches('*') == name)
            .map(|(_, a, ..)| a.as_str())
    }

    fn parse(text: &str) -> Probe {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let partitions = text
            .lines()
            .filter_map(|l| l.strip_prefix("partition="))
            .filter_map(|l| {
                let f: Vec<&str> = l.trim().split('|').collect();
                (f.len() == 4).then(|| {
                    (
                        f[0].to_string(),
                        f[1].to_string(),
                        f[2].to_string(),
                        f[3].to_string(),
                    )
                })
            })
            .collect();
        Probe {
            guild_home: get("home").unwrap_or_default(),
            home_exists: get("exists").as_deref() == Some("yes"),
            home_writable: get("writable").as_deref() == Some("yes"),
            guild: get("guild"),
            python: get("python"),
            sbatch: get("sbatch"),
            partitions,
        }
    }
}

/// The shell script of a probe: the guild home `home` (its `~/` expanded
/// there), a guild and Python on the PATH, and with `slurm`, sbatch and
/// the partitions. It writes nothing. `home` comes from the user's own
/// config and is quoted.
fn probe_script(home: &str, slurm: bool) -> String {
    let home_expr = site::home_expr(home);
    let mut script = format!(
        "h={home_expr}; echo \"home=$h\"; \
         if [ -d \"$h\" ]; then echo exists=yes; else echo exists=no; fi; \
         d=\"$h\"; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; \
         if [ -w \"$d\" ]; then echo writable=yes; else echo writable=no; fi; \
         echo \"guild=$(guild --version 2>/dev/null | head -1)\"; \
         echo \"python=$(python3 --version 2>&1 | grep '^Python')\""
    );
    if slurm {
        script.push_str(
            "; echo \"sbatch=$(command -v sbatch)\"; \
             sinfo -h -o '%P|%a|%D|%t' 2>/dev/null | sed 's/^/partition=/'",
        );
    }
    script
}

/// The last non-empty line of a command's stderr.
pub(crate) fn last_line(stderr: &[u8], default: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(default)
        .trim()
        .to_string()
}

impl Slurm {
    /// One round trip to where `sbatch` runs (the login node over ssh, or
    /// this machine): the probe of an SSH host plus sbatch and partitions.
    pub fn probe(&self) -> Result<Probe> {
        let home = self.guild_home.as_deref().unwrap_or("~/.guild");
        let script = probe_script(home, true);
        let out = match &self.login {
            Some(ssh) => ssh.command().arg(script).output(),
            None => std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output(),
        }
        .map_err(|e| Error::process("cannot run the Slurm probe", e))?;
        if !out.status.success() {
            let at = self
                .login
                .as_ref()
                .map(|l| l.address())
                .unwrap_or_else(|| "this machine".into());
            return Err(Error::user(format!(
                "cannot reach {at} ({}); check host, port, user and private-key of the remote",
                last_line(&out.stderr, "failed")
            )));
        }
        Ok(Probe::parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

impl Ssh {
    /// `ssh` with this host's options, ready for a remote command. Batch
    /// mode: never a password prompt.
    pub(crate) fn command(&self) -> std::process::Command {
        let mut c = self.command_base();
        c.arg(&self.host);
        c
    }

    /// Where this host is, as people write it (`user@host:port`).
    pub fn address(&self) -> String {
        let mut a = match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        };
        if let Some(p) = self.port {
            a.push_str(&format!(":{p}"));
        }
        a
    }

    /// One round trip: is the host reachable, and what does it have (the
    /// guild home, a guild, Python). Nothing is written there.
    pub fn probe(&self) -> Result<Probe> {
        let home = self.guild_home.as_deref().unwrap_or("~/.guild");
        let out = self
            .command()
            .arg(probe_script(home, false))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::process("cannot run ssh (is OpenSSH's client installed?)", e))?;
        if !out.status.success() {
            return Err(self.unreachable(&out.stderr));
        }
        Ok(Probe::parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// A Slurm cluster: where `sbatch` runs (here, or a login node over SSH)
/// and what each job asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slurm {
    /// The login node; None: `sbatch` runs on this machine.
    pub login: Option<Ssh>,
    /// The partition jobs are submitted to (`--partition`).
    pub partition: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) qos: Option<String>,
    /// `--time` (`HH:MM:SS`, `D-HH:MM`...).
    pub(crate) time: Option<String>,
    pub(crate) cpus_per_task: Option<u64>,
    pub(crate) mem: Option<String>,
    pub(crate) gres: Option<String>,
    /// At most this many tasks of a sweep's job array at once.
    pub array_parallelism: Option<u64>,
    /// Extra `#SBATCH` lines, as given.
    pub(crate) sbatch: Vec<String>,
    /// The guild home on the cluster's shared filesystem.
    pub(crate) guild_home: Option<String>,
    /// Cost of one job-hour, for the submission summary.
    pub hourly_cost: Option<f64>,
}

/// What a remote is, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// An SSH host (`type: ssh`).
    Ssh(Ssh),
    /// A Slurm cluster (`type: slurm`).
    Slurm(Box<Slurm>),
    /// An object storage bucket holding run directories (`type: s3`,
    /// `gcs`, `azure-blob`).
    Bucket(Box<bucket::Bucket>),
    /// A Ray cluster, reached through its Jobs API (`type: ray`).
    Ray(Box<ray::Ray>),
    /// A type Guild knows that this tracker does not run (`ec2`...).
    Other(String),
}

/// One entry of `remotes:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// The remote's name (its key under `remotes:`).
    pub name: String,
    /// Its type and definition.
    pub kind: Kind,
    /// Its `description` (may be empty).
    pub description: String,
}

impl Remote {
    /// The type as written (`ssh`, `slurm`, ...).
    pub fn type_name(&self) -> &str {
        match &self.kind {
            Kind::Ssh(_) => "ssh",
            Kind::Slurm(_) => "slurm",
            Kind::Bucket(b) => b.service.type_name(),
            Kind::Ray(_) => "ray",
            Kind::Other(t) => t,
        }
    }
}

/// The remotes of the config at `path` (none when it does not exist),
/// sorted by name.
pub(crate) fn load(path: &Path) -> Result<Vec<Remote>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Vec<Remote>> {
    let shown = guild_format::fsutil::tilde(path);
    let cfg = guild_format::run::yaml::parse(text)
        .map_err(|e| Error::user(format!("{shown} is not valid YAML ({e}); fix it")))?;
    let remotes = match cfg.get("remotes") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            return Err(Error::user(format!(
                "`remotes` in {shown} must map names to remote definitions (remotes: {{NAME: {{type: ssh, host: HOST}}}})"
            )))
        }
    };
    let mut out = Vec::new();
    for (k, v) in remotes {
        let name = guild_format::run::yaml::py_str(k);
        let bad = |what: String| Error::user(format!("remote '{name}' in {shown}: {what}"));
        let Value::Mapping(def) = v else {
            return Err(bad(
                "expected a mapping of settings (type: ssh, host: HOST, ...)".into(),
            ));
        };
        let field = Fields { def, bad: &bad };
        let description = field.string("description")?.unwrap_or_default();
        let kind = match field.string("type")?.as_deref() {
            Some("ssh") => Kind::Ssh(field.ssh(true)?.unwrap_or_default()),
            Some("slurm") => Kind::Slurm(Box::new(Slurm {
                login: field.ssh(false)?,
                partition: field.string("partition")?,
                account: field.string("account")?,
                qos: field.string("qos")?,
                time: field.string("time")?,
                cpus_per_task: field.uint("cpus-per-task")?,
                mem: field.string("mem")?,
                gres: field.string("gres")?,
                array_parallelism: field.uint("array-parallelism")?,
                sbatch: field.strings("sbatch")?,
                guild_home: field.string("guild-home")?,
                hourly_cost: field.float("hourly-cost")?,
            })),
            Some(t @ ("s3" | "gcs" | "azure-blob")) => Kind::Bucket(Box::new(bucket::Bucket {
                service: bucket::Service::of(t),
                bucket: field
                    .string("bucket")?
                    .ok_or_else(|| bad("missing `bucket` (the bucket's name)".into()))?,
                root: bucket::clean_root(field.string("root")?.as_deref().unwrap_or("/"))
                    .map_err(&bad)?,
                region: field.string("region")?,
                endpoint: field.string("endpoint")?,
                profile: field.string("profile")?,
                local_env: field.env("local-env")?,
            })),
            Some("ray") => Kind::Ray(Box::new(field.ray()?)),
            Some(other) => Kind::Other(other.to_string()),
            None => {
                return Err(bad(
                    "missing `type` (ssh, slurm, ray, s3, gcs or azure-blob)".into(),
                ))
            }
        };
        out.push(Remote {
            name,
            kind,
            description,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Typed reads of one remote's settings, each error naming the key.
struct Fields<'a> {
    def: &'a Mapping,
    bad: &'a dyn Fn(String) -> Error,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.def.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                Ok(Some(guild_format::run::yaml::encode_display(v)))
            }
            Some(v) => Err((self.bad)(format!(
                "`{key}` must be a string, not {}",
                guild_format::run::yaml::flow(v)
            ))),
        }
    }

    fn uint(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                (self.bad)(format!(
                    "`{key}` must be a whole number, not {}",
                    guild_format::run::yaml::flow(v)
                ))
            }),
        }
    }

    fn float(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().filter(|f| *f >= 0.0).map(Some).ok_or_else(|| {
                (self.bad)(format!(
                    "`{key}` must be a number >= 0, not {}",
                    guild_format::run::yaml::flow(v)
                ))
            }),
        }
    }

    /// A string or a list of strings.
    fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s.lines().map(String::from).collect()),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(String::from)
                        .ok_or_else(|| (self.bad)(format!("`{key}` must list strings")))
                })
                .collect(),
            Some(_) => Err((self.bad)(format!(
                "`{key}` must be a string or a list of strings"
            ))),
        }
    }

    /// A mapping of environment variable names to values.
    fn env(&self, key: &str) -> Result<Vec<(String, String)>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Mapping(m)) => Ok(m
                .iter()
                .map(|(k, v)| {
                    (
                        guild_format::run::yaml::py_str(k),
                        guild_format::run::yaml::encode_display(v),
                    )
                })
                .collect()),
            Some(_) => Err((self.bad)(format!("`{key}` must map names to values"))),
        }
    }

    /// A Ray cluster's settings.
    fn ray(&self) -> Result<ray::Ray> {
        let address = self.string("address")?.ok_or_else(|| {
            (self.bad)("missing `address` (the dashboard's URL, http://HEAD:8265)".into())
        })?;
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err((self.bad)(format!(
                "`address` must be the dashboard's URL (http://HEAD:8265), not '{address}'"
            )));
        }
        let storage = match self.string("storage")? {
            None => {
                return Err((self.bad)(
                    "missing `storage`: the name of an object storage remote, or a path the cluster's nodes and this machine share".into(),
                ))
            }
            Some(s) if s.starts_with('/') => ray::Storage::Path(s),
            Some(s) if s.starts_with('~') || s.starts_with('.') => {
                return Err((self.bad)(format!(
                    "`storage` must be an absolute path the nodes share, or a remote's name, not '{s}'"
                )))
            }
            Some(s) => ray::Storage::Bucket(s),
        };
        let memory = match self.get("memory") {
            None => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                (self.bad)(format!(
                    "`memory` must be bytes or a size like 4GB, not {n}"
                ))
            })?),
            Some(v) => Some(
                ray::parse_memory(&guild_format::run::yaml::encode_display(v))
                    .map_err(|e| (self.bad)(e))?,
            ),
        };
        let resources = match self.get("resources") {
            None => Vec::new(),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let name = guild_format::run::yaml::py_str(k);
                    v.as_f64()
                        .filter(|f| *f >= 0.0)
                        .map(|f| (name.clone(), f))
                        .ok_or_else(|| {
                            (self.bad)(format!(
                                "`resources` must map names to amounts; {name} is not a number"
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => {
                return Err((self.bad)(
                    "`resources` must map names to amounts ({accelerator: 1})".into(),
                ))
            }
        };
        let max_concurrent = self.uint("max-concurrent")?;
        if max_concurrent == Some(0) {
            return Err((self.bad)("`max-concurrent` must be 1 or more".into()));
        }
        Ok(ray::Ray {
            address,
            headers: self.env("headers")?,
            storage,
            num_cpus: self.float("num-cpus")?,
            num_gpus: self.float("num-gpus")?,
            memory,
            resources,
            env: self.env("env")?,
            pip: self.strings("pip")?,
            max_concurrent,
            hourly_cost: self.float("hourly-cost")?,
        })
    }

    /// The SSH settings (`host` required when `required`).
    fn ssh(&self, required: bool) -> Result<Option<Ssh>> {
        let Some(host) = self.string("host")? else {
            if required {
                return Err((self.bad)("missing `host` (the host to run on)".into()));
            }
            return Ok(None);
        };
        let port = match self.uint("port")? {
            None => None,
            Some(p) => Some(
                u16::try_from(p)
                    .map_err(|_| (self.bad)(format!("`port` must be 1 to 65535, not {p}")))?,
            ),
        };
        let env = self.env("env")?;
        Ok(Some(Ssh {
            host,
            port,
            user: self.string("user")?,
            private_key: self.string("private-key")?,
            connect_timeout: self.uint("connect-timeout")?,
            guild_home: self.string("guild-home")?,
            venv_path: self.string("venv-path")?,
            init: self.strings("init")?,
            env,
            ssh_config: self.string("ssh-config")?,
        }))
    }
}

/// Every remote of the user config (found from `cwd`, as Guild finds
/// it), sorted by name.
pub fn declared(cwd: &Path) -> Result<Vec<Remote>> {
    match guild_format::home::user_config_path(Some(cwd)) {
        Some(path) => load(&path),
        None => Ok(Vec::new()),
    }
}

/// The remote `name` of the user config (found from `cwd`).
pub fn find(cwd: &Path, name: &str) -> Result<Remote> {
    let all = declared(cwd)?;
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    let hint = if names.is_empty() {
        "the user config declares none (see `guild remotes --help`)".to_string()
    } else {
        format!("declared: {}", names.join(", "))
    };
    all.iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| Error::user(format!("there is no remote '{name}'; {hint}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Remote>> {
        parse(text, Path::new("/cfg/config.yml"))
    }

    #[test]
    fn ssh_and_slurm_remotes_parse_into_typed_settings() {
        let r = p("remotes:
  gpu1: {type: ssh, host: gpu1.lan, port: 2222, user: me, init: 'module load cuda', env: {A: 1}}
  hpc:
    type: slurm
    host: login.hpc
    partition: gpu
    cpus-per-task: 4
    array-parallelism: 2
    sbatch: ['--exclusive']
    hourly-cost: 2.5
  local-slurm: {type: slurm}
  bucket: {type: s3, bucket: runs, root: /team/vision/, endpoint: 'http://127.0.0.1:9000', description: old runs}
  vm: {type: ec2}
")
        .unwrap();
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["bucket", "gpu1", "hpc", "local-slurm", "vm"]);
        let Kind::Bucket(b) = &r[0].kind else {
            panic!()
        };
        assert_eq!(
            (b.bucket.as_str(), b.root.as_str()),
            ("runs", "team/vision")
        );
        assert_eq!(b.url(), "s3://runs/team/vision");
        assert_eq!(r[0].description, "old runs");
        assert_eq!(r[4].kind, Kind::Other("ec2".into()));
        let err = p("remotes:\n  b: {type: s3}\n").unwrap_err().message();
        assert!(err.contains("missing `bucket`"), "{err}");
        let err = p("remotes:\n  b: {type: gcs, bucket: x, root: /a/../b}\n")
            .unwrap_err()
            .message();
        assert!(
            err.contains("`root` must be a path of plain names"),
            "{err}"
        );
        let Kind::Ssh(s) = &r[1].kind else { panic!() };
        assert_eq!((s.host.as_str(), s.port), ("gpu1.lan", Some(2222)));
        assert_eq!(s.init, ["module load cuda"]);
        assert_eq!(s.env, [("A".to_string(), "1".to_string())]);
        let Kind::Slurm(c) = &r[2].kind else { panic!() };
        assert_eq!(c.login.as_ref().map(|l| l.host.as_str()), Some("login.hpc"));
        assert_eq!(c.cpus_per_task, Some(4));
        assert_eq!(c.array_parallelism, Some(2));
        assert_eq!(c.sbatch, ["--exclusive"]);
        assert_eq!(c.hourly_cost, Some(2.5));
        let Kind::Slurm(l) = &r[3].kind else { panic!() };
        assert_eq!(l.login, None, "sbatch runs here");
    }

    #[test]
    fn bad_settings_are_one_line_errors_naming_remote_and_key() {
        let e = |t: &str| p(t).unwrap_err().message();
        let m = e("remotes: {a: {type: ssh, host: h, port: abc}}");
        assert!(m.contains("remote 'a'") && m.contains("`port`"), "{m}");
        let m = e("remotes: {a: {type: ssh, host: h, port: 70000}}");
        assert!(m.contains("1 to 65535"), "{m}");
        let m = e("remotes: {a: {type: ssh}}");
        assert!(m.contains("missing `host`"), "{m}");
        let m = e("remotes: {a: {host: h}}");
        assert!(m.contains("missing `type`"), "{m}");
        let m = e("remotes: {a: {type: slurm, hourly-cost: -1}}");
        assert!(m.contains("`hourly-cost`"), "{m}");
        let m = e("remotes: 3");
        assert!(m.contains("must map names") && !m.contains('\n'), "{m}");
        assert!(p("other: 1").unwrap().is_empty());
    }
}
