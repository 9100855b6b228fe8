//! Command-line interface: clap definitions, Guild's short option aliases,
//! and dispatch. Commands parse into typed requests and call the library.

mod cmd_api;
mod cmd_archive;
mod cmd_check;
mod cmd_comment;
mod cmd_completion;
mod cmd_datastores;
mod cmd_diff;
mod cmd_merge;
mod cmd_project;
mod cmd_publish;
mod cmd_run;
mod cmd_runs;
mod cmd_views;

use crate::api::{Filters, Home, Status};
use clap::{Args, Parser, Subcommand};
use guild_format::error::{Error, Result};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "guild",
    disable_help_subcommand = true,
    version,
    about = "Run, track and compare experiments (Guild AI 0.9 compatible)",
    long_about = "Run, track and compare experiments.\n\nRuns live in $GUILD_HOME/runs (default ~/.guild) in Guild AI 0.9's format.\n\nExamples:\n  guild run train.py lr=0.01 epochs=5\n  guild runs\n  guild runs info 1\n  guild watch\n  guild stop 1",
    after_long_help = "Exit codes: 0 ok; 1 an error (the message says what to fix), also no answer at a prompt; 2 a usage error; 4 answered no at a runs delete/purge/stop prompt. A foreground run exits with its own code (killed by signal N: 256-N; Ctrl-C: 240, recorded as -16)."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) globals: Globals,
    #[command(subcommand)]
    pub(crate) cmd: Command,
}

/// The options of every command.
#[derive(Args, Debug)]
pub(crate) struct Globals {
    /// Guild home directory (default: $GUILD_HOME, an active venv's .guild, a .guild found walking up, ~/.guild)
    #[arg(short = 'H', long = "home", global = true, value_name = "PATH")]
    pub(crate) home: Option<PathBuf>,
    /// Change to DIR before doing anything
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub(crate) cwd: Option<PathBuf>,
}

/// The parser of one command alone (with the global options), for the
/// commands whose start-up counts: `run`, and `runs` (with `runs info`).
/// Building every command's parser costs about a millisecond, as much as
/// the rest of a trivial run's bookkeeping, or a tenth of listing 10,000
/// runs.
fn one_parser(sub: &str) -> Option<clap::Command> {
    use clap::Args as _;
    let cmd = match sub {
        "run" => cmd_run::RunArgs::augment_args(clap::Command::new("run")),
        "runs" => cmd_runs::RunsArgs::augment_args(clap::Command::new("runs")),
        _ => return None,
    };
    Some(Globals::augment_args(clap::Command::new("guild")).subcommand(cmd))
}

/// The command line parsed. `guild run ...` and `guild runs ...` are
/// parsed by [`one_parser`]; what it does not take (help, version, a usage
/// error) is parsed again by the full parser, which answers as always.
fn parse_cli(args: Vec<OsString>) -> std::result::Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let plain = !args
        .iter()
        .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")));
    if let Some(mut cmd) = subcommand_of(&args).filter(|_| plain).and_then(one_parser) {
        if let Ok(m) = cmd.try_get_matches_from_mut(args.clone()) {
            if let (Ok(globals), Ok(c)) =
                (Globals::from_arg_matches(&m), Command::from_arg_matches(&m))
            {
                std::mem::forget(cmd);
                return Ok(Cli { globals, cmd: c });
            }
        }
    }
    let mut cmd = Cli::command();
    let m = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd));
    // The parser is not dropped: freeing its thousands of pieces takes a
    // third of the time it took to build, and the process ends soon.
    std::mem::forget(cmd);
    cli
}

/// The subcommand word of `args` (after the global options).
fn subcommand_of(args: &[OsString]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        match a {
            "-H" | "--home" | "-C" => {
                it.next();
            }
            _ if a.starts_with("--home=") || a.starts_with("-H") || a.starts_with("-C") => {}
            _ if a.starts_with('-') => return None,
            _ => return Some(a),
        }
    }
    None
}

/// The arguments of a command left out, whatever they are.
#[derive(clap::Args, Debug)]
pub(crate) struct LeftOut {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// What a Guild 0.9 command left out did, and what to use instead.
fn left_out(name: &str) -> Result<i32> {
    let (what, instead) = match name {
        "init" => (
            "made a project-local Guild home or a virtualenv",
            "set GUILD_HOME (or -H DIR) to choose a home, and make virtualenvs with `python3 -m venv`",
        ),
        "shell" => (
            "started a Python shell with Guild's API",
            "use `guild api` for runs as JSON, or read the run directories",
        ),
        "install" => ("installed Guild packages with pip", "use `pip install`"),
        "uninstall" => ("uninstalled Guild packages with pip", "use `pip uninstall`"),
        "package" => (
            "built a Python package from guild.yml",
            "use `python3 -m build` (and `twine upload`)",
        ),
        "packages" => (
            "listed and removed Guild packages",
            "use `pip list`, `pip show` and `pip uninstall`",
        ),
        "search" => (
            "searched PyPI (disabled in Guild 0.9 too)",
            "search https://pypi.org",
        ),
        "sys" => (
            "ran cloud instance services (S3 sync, a shutdown timer)",
            "use `aws s3 sync` and `shutdown -h +MINUTES`",
        ),
        _ => (
            "inspected TensorFlow checkpoints",
            "use TensorFlow's own tools (`saved_model_cli`, `tf.train.list_variables`), or `guild tensorboard` for scalars",
        ),
    };
    Err(Error::user(format!(
        "`guild {name}` {what}; it is Guild's package and environment plumbing, which this tracker leaves out: {instead}"
    )))
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a script or operation as a tracked run
    Run(cmd_run::RunArgs),
    /// List or manage runs (default: list)
    Runs(cmd_runs::RunsArgs),
    /// Stop running runs (SIGTERM to the run's process group, then SIGKILL)
    Stop(cmd_runs::StopArgs),
    /// Follow a run's output until it stops
    Watch(cmd_runs::WatchArgs),
    /// Print a run file or the run's output
    Cat(cmd_runs::CatArgs),
    /// List files of a run
    Ls(cmd_runs::LsArgs),
    /// Set or change run labels
    Label(cmd_runs::LabelArgs),
    /// Add or remove run tags
    Tag(cmd_runs::TagArgs),
    /// Print the id (or an attribute, or the path) of the latest matching run
    Select(cmd_runs::SelectArgs),
    /// Runs, operations and comparisons as JSON, for programs
    Api(cmd_api::ApiArgs),
    /// Copy or move runs to a directory or a .zip archive
    Export(cmd_archive::ExportArgs),
    /// Copy or move runs from a directory or a .zip archive into the home
    Import(cmd_archive::ImportArgs),
    /// Show the installation, guild home, Python and platform
    Check(cmd_check::CheckArgs),
    /// Open a run's directory, a file in it or its output (or print the path)
    Open(cmd_check::OpenArgs),
    /// Compare two runs (flags, output, files, source code) with a diff program
    Diff(cmd_diff::DiffArgs),
    /// List, add, delete or clear run comments
    Comment(cmd_comment::CommentArgs),
    /// Mark runs (`--marked` filters on marks); with -c, unmark them
    Mark(cmd_runs::MarkArgs),
    /// Unmark runs (default: all marked runs)
    Unmark(cmd_runs::MarkArgs),
    /// Active sweeps and runs with their trials by state
    Status(cmd_views::StatusArgs),
    /// Finished sweeps and runs, newest first
    History(cmd_views::HistoryArgs),
    /// A run's output lines with stream and time (`--follow` while it runs)
    Logs(cmd_views::LogsArgs),
    /// Compare runs: flags and scalars as a table, CSV or JSON
    Compare(cmd_views::CompareArgs),
    /// Serve a web view of the runs (runs, a run's output and files, charts compared, sweeps)
    View(cmd_views::ViewArgs),
    /// Start TensorBoard on the runs (their scalars, and their flags as HParams)
    Tensorboard(cmd_views::TensorboardArgs),
    /// List the operations of the guild.yml in the current directory
    #[command(visible_alias = "ops")]
    Operations(cmd_project::OpsArgs),
    /// Show help for the operations of the guild.yml in the current directory
    Help(cmd_project::HelpArgs),
    /// List the models of the guild.yml in the current directory
    Models(cmd_project::ModelsArgs),
    /// Print (or install) a shell completion script for bash, zsh or fish
    Completion(cmd_completion::CompletionArgs),
    /// List the remotes of the user config ($GUILD_CONFIG, ./guild-config.yml or ~/.guild/config.yml)
    #[command(
        after_help = "A remote is declared under `remotes:` in the user config:

  remotes:
    gpu1:
      type: ssh
      host: gpu1.example.com
      description: A GPU box
    hpc:
      type: slurm
      host: login.hpc.example.org   (where sbatch runs; omit to run it here)
      partition: gpu\n\nSSH keys (Guild's): host, port, user, private-key, connect-timeout, guild-home, venv-path, init, env; and ssh-config: an ssh client config file (ssh -F) instead of ~/.ssh/config. ssh runs in batch mode with host key checking: a host must be in known_hosts.\n\nCheck one with `guild remote status NAME`."
    )]
    Remotes(cmd_project::RemotesArgs),
    /// Check a remote: reachable, its guild home, guild and Python there
    Remote(cmd_project::RemoteArgs),
    /// Named, versioned, immutable data stored by content (create, list, info, delete, gc, verify)
    Datastores(cmd_datastores::DatastoresArgs),
    /// Download a file resource into the resource cache
    #[command(
        long_about = "Download a file resource into the resource cache.\n\nURL (http, https or file) is downloaded into the guild home's resource cache and printed with its SHA-256 digest. A `url:` source in guild.yml with exactly the same URL then uses the cached file instead of downloading it.\n\nA file already in the cache is not downloaded again: delete it to download it anew. Verify the digest independently for anything you will execute."
    )]
    Download {
        /// The URL of the file
        url: String,
    },
    /// Copy run files to a project directory (source code, dependencies, with -a generated files)
    Merge(cmd_merge::MergeArgs),
    /// Publish runs as a browsable directory (Markdown README per run, CSVs, files)
    Publish(cmd_publish::PublishArgs),
    /// Copy runs of a remote into this home (complete, as local runs)
    Pull(cmd_project::PullArgs),
    /// Copy runs of this home to a remote
    Push(cmd_project::PushArgs),
    /// Refresh the records of runs sent to remotes: files and status
    Sync(cmd_project::SyncArgs),
    /// The guild home and the status of runs, for the guild that sent them
    #[command(name = "__status", hide = true)]
    RemoteStatus {
        #[arg(value_name = "RUN")]
        runs: Vec<String>,
    },
    /// Guild 0.9's package and environment commands, left out: each
    /// says so in one line, with what to use instead.
    #[command(hide = true, disable_help_flag = true)]
    Init(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Shell(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Install(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Uninstall(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Package(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Packages(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Search(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Sys(LeftOut),
    #[command(hide = true, disable_help_flag = true)]
    Tensorflow(LeftOut),
    /// Run the trials of a batch run (the process of a sweep)
    #[command(name = "__batch", hide = true)]
    Batch,
    /// Run the steps of a pipeline run (the process of a `steps` operation)
    #[command(name = "__steps", hide = true)]
    Steps,
    /// Start a run sent to a Ray cluster, on a node of it (a job's entrypoint)
    #[command(name = "ray-job", hide = true)]
    RayJob {
        /// The run
        #[arg(long)]
        id: String,
        /// The guild home the run lives in (a path the nodes share)
        #[arg(long, conflicts_with = "bucket")]
        home: Option<std::path::PathBuf>,
        /// The object storage remote the run is written to (declared in the job's package)
        #[arg(long, required_unless_present = "home")]
        bucket: Option<String>,
        /// Seconds between writes of the run to the bucket while it runs
        #[arg(long, default_value_t = 5)]
        every: u64,
    },
}

/// Run selection filters shared by every command that takes RUN specs.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FilterArgs {
    /// Filter expression: `lr > 0.01 and loss < 0.8`, `status in [error,terminated]`,
    /// `label contains best`, `acc is not undefined` (see `guild compare --help`)
    #[arg(short = 'F', long = "filter", value_name = "EXPR")]
    pub(crate) filter: Option<String>,
    /// Filter by operation (`train`, `model:`, `^regex`); also -Fo
    #[arg(long = "operation", value_name = "VAL")]
    pub(crate) ops: Vec<String>,
    /// Filter by label substring (`-` = unlabeled); also -Fl
    #[arg(long = "label", value_name = "VAL")]
    pub(crate) labels: Vec<String>,
    /// Only runs without a label; also -Fu
    #[arg(long)]
    pub(crate) unlabeled: bool,
    /// Filter by tag; also -Ft
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
    /// Only marked runs; also -Fm
    #[arg(long)]
    pub(crate) marked: bool,
    /// Only unmarked runs; also -Fn
    #[arg(long)]
    pub(crate) unmarked: bool,
    /// Started range: 'after DT', 'before DT', 'between DT and DT', 'last N hours', 'today'; also -Fs
    #[arg(long, value_name = "RANGE")]
    pub(crate) started: Option<String>,
    /// Filter by source code digest prefix; also -Fd
    #[arg(long, value_name = "VAL")]
    pub(crate) digest: Option<String>,
    /// Filter by comment: a case-insensitive substring of a comment (`-`: runs without comments); also -Fc
    #[arg(long = "comment", value_name = "VAL")]
    pub(crate) comments: Vec<String>,
    /// Running runs; also -Sr
    #[arg(long)]
    pub(crate) running: bool,
    /// Completed runs; also -Sc
    #[arg(long)]
    pub(crate) completed: bool,
    /// Runs that exited with an error; also -Se
    #[arg(long)]
    pub(crate) error: bool,
    /// Terminated runs; also -St
    #[arg(long)]
    pub(crate) terminated: bool,
    /// Pending runs; also -Sp
    #[arg(long)]
    pub(crate) pending: bool,
    /// Staged runs; also -Ss
    #[arg(long)]
    pub(crate) staged: bool,
    #[arg(long, hide = true)]
    pub(crate) not_running: bool,
    #[arg(long, hide = true)]
    pub(crate) not_completed: bool,
    #[arg(long, hide = true)]
    pub(crate) not_error: bool,
    #[arg(long, hide = true)]
    pub(crate) not_terminated: bool,
    #[arg(long, hide = true)]
    pub(crate) not_pending: bool,
    #[arg(long, hide = true)]
    pub(crate) not_staged: bool,
}

impl FilterArgs {
    pub(crate) fn filters(&self) -> Filters {
        let pick = |flags: [(bool, Status); 6]| {
            flags.iter().filter(|(b, _)| *b).map(|(_, s)| *s).collect()
        };
        Filters {
            ops: self.ops.clone(),
            labels: self.labels.clone(),
            unlabeled: self.unlabeled,
            tags: self.tags.clone(),
            marked: self.marked,
            unmarked: self.unmarked,
            started: self.started.clone(),
            digest: self.digest.clone(),
            comments: self.comments.clone(),
            expr: self.filter.clone(),
            status: pick([
                (self.running, Status::Running),
                (self.completed, Status::Completed),
                (self.error, Status::Error),
                (self.terminated, Status::Terminated),
                (self.pending, Status::Pending),
                (self.staged, Status::Staged),
            ]),
            // `--error --not-error` means `--error`, as in Guild.
            not_status: pick([
                (self.not_running && !self.running, Status::Running),
                (self.not_completed && !self.completed, Status::Completed),
                (self.not_error && !self.error, Status::Error),
                (self.not_terminated && !self.terminated, Status::Terminated),
                (self.not_pending && !self.pending, Status::Pending),
                (self.not_staged && !self.staged, Status::Staged),
            ]),
        }
    }
}

/// Guild 0.9's two-letter short options (`-Fo`, `-Sr`, `-Set`) as long options.
fn expand_guild_shorts(args: Vec<OsString>) -> Vec<OsString> {
    let map = |s: &str| -> Option<Vec<&'static str>> {
        Some(match s {
            "-Fo" => vec!["--operation"],
            "-Fl" => vec!["--label"],
            "-Fu" => vec!["--unlabeled"],
            "-Ft" => vec!["--tag"],
            "-Fm" => vec!["--marked"],
            "-Fn" => vec!["--unmarked"],
            "-Fs" => vec!["--started"],
            "-Fd" => vec!["--digest"],
            "-Fc" => vec!["--comment"],
            "-rm" => vec!["--remove"],
            "-cc" => vec!["--strict-cols"],
            "-min" => vec!["--min"],
            "-max" => vec!["--max"],
            _ if s.starts_with("-S")
                && s.len() > 2
                && s[2..].chars().all(|c| "rcetps".contains(c)) =>
            {
                s[2..]
                    .chars()
                    .map(|c| match c {
                        'r' => "--running",
                        'c' => "--completed",
                        'e' => "--error",
                        't' => "--terminated",
                        'p' => "--pending",
                        _ => "--staged",
                    })
                    .collect()
            }
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(args.len());
    let mut passthrough = false;
    for (i, a) in args.into_iter().enumerate() {
        if passthrough || i == 0 {
            out.push(a);
            continue;
        }
        if a == "--" {
            passthrough = true;
            out.push(a);
            continue;
        }
        match a.to_str().and_then(map) {
            Some(longs) => out.extend(longs.into_iter().map(OsString::from)),
            None => out.push(a),
        }
    }
    out
}

/// What every command works in (home, directory, reporter).
pub(crate) type Ctx = crate::api::Context;

/// The directory the command was started in (`ctx.cwd` is after `-C`):
/// where paths shown to the user are relative to, as in Guild.
pub(crate) fn process_cwd(ctx: &Ctx) -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| ctx.cwd.clone())
}

/// The CLI's reporter: progress and warnings on stderr, questions asked
/// on stderr and answered on stdin.
pub(crate) struct Terminal {
    /// For run listings in questions (operations defined elsewhere show
    /// where).
    pub(crate) cwd: PathBuf,
}

impl crate::api::Reporter for Terminal {
    fn progress(&self, line: &str) {
        eprintln!("{line}");
    }
    fn warning(&self, line: &str) {
        eprintln!("{line}");
    }
    fn confirm(&self, q: &crate::api::Question) -> Result<bool> {
        match q {
            crate::api::Question::Runs {
                verb,
                runs,
                default_yes,
            } => {
                let rows: Vec<(usize, &crate::api::RunInfo)> =
                    runs.iter().map(|i| (i.index, &i.run)).collect();
                let preview = crate::render::indented(
                    &crate::render::table(crate::render::run_rows(
                        &rows,
                        Default::default(),
                        &self.cwd,
                    )),
                    "  ",
                );
                eprint!("You are about to {verb} the following runs:\n{preview}");
                let mut c = verb.chars();
                let verb_cap = c
                    .next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default();
                confirm(&format!("{verb_cap} {} run(s)?", runs.len()), *default_yes)
            }
            crate::api::Question::Text {
                details,
                question,
                default_yes,
            } => {
                eprint!("{details}");
                confirm(question, *default_yes)
            }
        }
    }
}

/// Grid.ai style script flags (`guild run train.py --lr "[1, 2]"`): after
/// the operation of `run`, a `--name VALUE` that is not a `run` option
/// becomes `--grid-flag name=VALUE`. Arguments after `--` are untouched.
fn rewrite_grid_flags(args: Vec<OsString>) -> Vec<OsString> {
    if subcommand_of(&args) != Some("run") {
        return args;
    }
    let Some(cmd) = one_parser("run") else {
        return args;
    };
    let Some(run) = cmd.find_subcommand("run") else {
        return args;
    };
    let mut longs: Vec<(String, bool)> = Vec::new();
    let mut shorts: Vec<(char, bool)> = Vec::new();
    for a in run.get_arguments().chain(cmd.get_arguments()) {
        let takes = a.get_action().takes_values();
        if let Some(l) = a.get_long() {
            longs.push((l.to_string(), takes));
        }
        for al in a.get_all_aliases().unwrap_or_default() {
            longs.push((al.to_string(), takes));
        }
        if let Some(c) = a.get_short() {
            shorts.push((c, takes));
        }
    }
    longs.push(("help".into(), false));
    let strs: Vec<Option<String>> = args.iter().map(|a| a.to_str().map(String::from)).collect();
    let Some(run_at) = strs.iter().position(|a| a.as_deref() == Some("run")) else {
        return args;
    };
    let mut out: Vec<OsString> = args[..=run_at].to_vec();
    let mut i = run_at + 1;
    let mut seen_op = false;
    // The flags the script declares: after it, `--NAME` is the script's
    // even where `run` has an option of that name (`--optimizer`).
    let cwd = strs
        .iter()
        .position(|a| a.as_deref() == Some("-C"))
        .and_then(|p| strs.get(p + 1).cloned().flatten())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut script_flags: Vec<String> = Vec::new();
    while i < args.len() {
        let Some(a) = strs[i].clone() else {
            out.push(args[i].clone());
            i += 1;
            continue;
        };
        if a == "--" {
            out.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let known = longs
                .iter()
                .find(|(l, _)| *l == name)
                .filter(|_| !(seen_op && script_flags.contains(&name)));
            match known {
                Some((_, takes)) => {
                    out.push(args[i].clone());
                    if *takes && inline.is_none() && i + 1 < args.len() {
                        out.push(args[i + 1].clone());
                        i += 1;
                    }
                }
                None if seen_op => {
                    let value = match inline {
                        Some(v) => v,
                        None if i + 1 < args.len()
                            && !strs[i + 1].as_deref().unwrap_or("").starts_with("--") =>
                        {
                            i += 1;
                            strs[i].clone().unwrap_or_default()
                        }
                        None => "yes".into(),
                    };
                    out.push("--grid-flag".into());
                    out.push(format!("{name}={value}").into());
                }
                None => out.push(args[i].clone()),
            }
        } else if let Some(c) = a.strip_prefix('-').and_then(|r| r.chars().next()) {
            out.push(args[i].clone());
            if a.len() == 2 && shorts.iter().any(|(s, t)| *s == c && *t) && i + 1 < args.len() {
                out.push(args[i + 1].clone());
                i += 1;
            }
        } else {
            if !a.contains('=') && !a.starts_with('@') && !seen_op {
                seen_op = true;
                let script = cwd.join(&a);
                if a.ends_with(".py") && script.is_file() {
                    if let Ok(src) = std::fs::read_to_string(&script) {
                        script_flags = crate::api::run::script_flags(&src, &a);
                    }
                }
            }
            out.push(args[i].clone());
        }
        i += 1;
    }
    out
}

/// `-SX...` with a status char Guild does not know: its error.
fn check_status_chars(args: &[OsString]) -> Result<()> {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let Some(bad) = words.iter().find_map(|w| {
        let chars = w.strip_prefix("-S")?;
        if chars.is_empty() || !chars.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        chars.chars().find(|c| !"rcetps".contains(*c))
    }) else {
        return Ok(());
    };
    // The command the option was given to (`runs`, `runs list`, `compare`).
    let cmd: Vec<&str> = words
        .iter()
        .skip(1)
        .take_while(|w| !w.starts_with('-'))
        .copied()
        .collect();
    Err(Error::user(format!(
        "unrecognized status char '{bad}' in option '-S' Try 'guild {} --help' for more information.",
        cmd.join(" ")
    )))
}

/// Run the command line; an error is printed as `guild: <message>` and
/// ends the command with its exit code.
pub(crate) fn main(args: Vec<OsString>) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            let msg = e.message();
            if !msg.is_empty() {
                eprintln!("guild: {msg}");
            }
            e.exit_code()
        }
    }
}

/// The remote of a command given `--remote NAME` that the remote's own
/// guild answers (all but `run`, which sends the run there).
fn forwarded_remote(cmd: &Command) -> Option<&str> {
    use cmd_runs::RunsCmd;
    match cmd {
        Command::Runs(a) => match &a.cmd {
            None => a.list.remote.as_deref(),
            Some(RunsCmd::List(l)) => l.remote.as_deref(),
            Some(RunsCmd::Info(i)) => i.remote.as_deref(),
            Some(RunsCmd::Stop(s)) => s.remote.as_deref(),
            Some(RunsCmd::Delete(d)) => d.bulk.remote.as_deref(),
            Some(RunsCmd::Restore(b) | RunsCmd::Purge(b)) => b.remote.as_deref(),
            _ => None,
        },
        Command::Stop(a) => a.remote.as_deref(),
        Command::Watch(a) => a.remote.as_deref(),
        Command::Cat(a) => a.remote.as_deref(),
        Command::Ls(a) => a.remote.as_deref(),
        Command::Logs(a) => a.remote.as_deref(),
        Command::Compare(a) => a.remote.as_deref(),
        _ => None,
    }
}

/// The command line for the remote's guild: without the program, the
/// home and directory options (the remote has its own) and `--remote`.
fn forwarded_args(args: &[OsString]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "-H" | "--home" | "-C" | "--remote" => {
                it.next();
            }
            // `-r` is `--remote` except in `compare`, where it is a flag.
            "-r" if !args.iter().skip(1).any(|a| a == "compare") => {
                it.next();
            }
            _ if a.starts_with("--home=") || a.starts_with("--remote=") => {}
            _ if a.len() > 2 && (a.starts_with("-H") || a.starts_with("-C")) => {}
            _ => out.push(a),
        }
    }
    out
}

pub(crate) fn run(args: Vec<OsString>) -> Result<i32> {
    check_status_chars(&args)?;
    let raw = args.clone();
    let cli = match parse_cli(rewrite_grid_flags(expand_guild_shorts(args))) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(code);
        }
    };
    let base = std::env::current_dir()
        .map_err(|e| Error::user(format!("cannot read the current directory: {e}")))?;
    let cwd = match &cli.globals.cwd {
        Some(c) => base.join(c),
        None => base,
    };
    let home = Home::resolve(cli.globals.home.as_deref(), &cwd)?;
    let report = std::sync::Arc::new(Terminal { cwd: cwd.clone() });
    let ctx = Ctx::new(home, cwd, report);
    if let Some(name) = forwarded_remote(&cli.cmd) {
        return cmd_project::forward(&ctx, name, &forwarded_args(&raw));
    }
    match cli.cmd {
        Command::Run(a) => cmd_run::main(&ctx, a),
        Command::Runs(a) => cmd_runs::runs(&ctx, a),
        Command::Stop(a) => cmd_runs::stop(&ctx, a),
        Command::Watch(a) => cmd_runs::watch(&ctx, a),
        Command::Cat(a) => cmd_runs::cat(&ctx, a),
        Command::Ls(a) => cmd_runs::ls(&ctx, a),
        Command::Label(a) => cmd_runs::label(&ctx, a),
        Command::Comment(a) => cmd_comment::comment(&ctx, a),
        Command::Check(a) => cmd_check::check(&ctx, a),
        Command::Api(a) => cmd_api::api(&ctx, a),
        Command::Export(a) => cmd_archive::export(&ctx, a),
        Command::Import(a) => cmd_archive::import(&ctx, a),
        Command::Diff(a) => cmd_diff::diff_cmd(&ctx, a),
        Command::Open(a) => cmd_check::open(&ctx, a),
        Command::Tag(a) => cmd_runs::tag(&ctx, a),
        Command::Select(a) => cmd_runs::select(&ctx, a),
        Command::Completion(a) => cmd_completion::completion(&ctx, a),
        Command::Remotes(a) => cmd_project::remotes(&ctx, a),
        Command::Remote(a) => cmd_project::remote(&ctx, a),
        Command::Pull(a) => cmd_project::pull(&ctx, a),
        Command::Merge(a) => cmd_merge::merge(&ctx, a),
        Command::Publish(a) => cmd_publish::publish(&ctx, a),
        Command::Download { url } => cmd_project::download(&ctx, &url),
        Command::Datastores(a) => cmd_datastores::main(&ctx, a),
        Command::Push(a) => cmd_project::push(&ctx, a),
        Command::Sync(a) => cmd_project::sync(&ctx, a),
        Command::RemoteStatus { runs } => cmd_project::here_status(&ctx, &runs),
        Command::Mark(a) => {
            let clear = a.clear;
            cmd_runs::mark(&ctx, a, clear)
        }
        Command::Unmark(a) => cmd_runs::mark(&ctx, a, true),
        Command::Steps => crate::api::run::pipeline_process(ctx.report.as_ref()),
        Command::Init(_) => left_out("init"),
        Command::Shell(_) => left_out("shell"),
        Command::Install(_) => left_out("install"),
        Command::Uninstall(_) => left_out("uninstall"),
        Command::Package(_) => left_out("package"),
        Command::Packages(_) => left_out("packages"),
        Command::Search(_) => left_out("search"),
        Command::Sys(_) => left_out("sys"),
        Command::Tensorflow(_) => left_out("tensorflow"),
        Command::Batch => crate::api::run::sweep_process(ctx.report.clone()),
        Command::RayJob {
            id,
            home,
            bucket,
            every,
        } => crate::api::remotes::ray_job(
            &ctx,
            &id,
            home.as_deref(),
            bucket.as_deref(),
            std::time::Duration::from_secs(every.max(1)),
        ),
        Command::Status(a) => cmd_views::status(&ctx, a),
        Command::History(a) => cmd_views::history(&ctx, a),
        Command::Logs(a) => cmd_views::logs(&ctx, a),
        Command::Compare(a) => cmd_views::compare(&ctx, a),
        Command::View(a) => cmd_views::view(ctx, a),
        Command::Tensorboard(a) => cmd_views::tensorboard(&ctx, a),
        Command::Operations(a) => cmd_project::operations(&ctx, a),
        Command::Models(a) => cmd_project::models(&ctx, a),
        Command::Help(a) => cmd_project::help(&ctx, a),
    }
}

/// Ask a yes/no question on stderr and read the answer from stdin, a
/// terminal or not (`echo y | guild run ...`), as Guild does. End of input
/// is an error (exit 1) that says to use -y.
pub(crate) fn confirm(prompt: &str, default_yes: bool) -> Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{prompt} {}", if default_yes { "(Y/n) " } else { "(y/N) " });
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            eprintln!();
            Err(Error::user(
                "no answer (end of input); give -y to go ahead without asking",
            ))
        }
        Ok(_) => {
            let a = line.trim().to_ascii_lowercase();
            Ok(if a.is_empty() {
                default_yes
            } else {
                a == "y" || a == "yes"
            })
        }
    }
}
