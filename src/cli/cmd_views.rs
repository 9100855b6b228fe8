//! Sweep-friendly views in Grid's spirit (`status`, `history`, `logs`) and
//! `compare` (flags and scalars of many runs as a table, CSV or JSON).

use super::{Ctx, FilterArgs};
use crate::api;
use crate::render;
use clap::Args;
use guild_format::error::Result;

#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// Show at most N (default 20)
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LogsArgs {
    /// Run (index, id prefix or name; default: the latest)
    pub(crate) run: Option<String>,
    /// Keep printing new lines until the run stops
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(short = 'r', long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
    /// One JSON object per line: {"stream", "time", "line"} (a line longer
    /// than 1 MiB is cut there, with "truncated": true)
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn status(ctx: &Ctx, a: StatusArgs) -> Result<i32> {
    let exps = api::views::status(ctx);
    let exps = exps.list();
    let costs = api::views::costs(ctx, &exps);
    let (rows, json) = render::experiments(&exps, &costs);
    if a.json {
        render::json(&json);
    } else if exps.is_empty() {
        eprintln!("No active runs or sweeps (see `guild history` for finished ones)");
    } else {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub(crate) fn history(ctx: &Ctx, a: HistoryArgs) -> Result<i32> {
    let exps = api::views::history(ctx, a.limit.unwrap_or(20));
    let exps = exps.list();
    let costs = api::views::costs(ctx, &exps);
    let (rows, json) = render::experiments(&exps, &costs);
    if a.json {
        render::json(&json);
    } else if !exps.is_empty() {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub(crate) fn logs(ctx: &Ctx, a: LogsArgs) -> Result<i32> {
    use std::io::Write;
    let out = std::io::stdout();
    if a.json {
        return logs_json(ctx, &a);
    }
    api::views::logs(ctx, a.run.as_deref(), a.follow, &mut |pieces| {
        let mut o = std::io::BufWriter::new(out.lock());
        for p in pieces {
            // A long line comes in pieces: one prefix, one newline.
            let written = if p.starts {
                o.write_all(render::log_line(p.ms, p.stream, &p.text).as_bytes())
            } else {
                o.write_all(p.text.as_bytes())
            };
            let end: &[u8] = if p.ends { b"\n" } else { b"" };
            if written.and_then(|_| o.write_all(end)).is_err() {
                return false;
            }
        }
        o.flush().is_ok()
    })?;
    Ok(0)
}

/// `logs --json`: JSON Lines, each line whole (up to 1 MiB).
fn logs_json(ctx: &Ctx, a: &LogsArgs) -> Result<i32> {
    use std::io::Write;
    const MAX: usize = 1 << 20;
    let out = std::io::stdout();
    let mut line = String::new();
    let mut first: Option<(u64, u8)> = None;
    let mut truncated = false;
    api::views::logs(ctx, a.run.as_deref(), a.follow, &mut |pieces| {
        let mut o = std::io::BufWriter::new(out.lock());
        for p in pieces {
            if p.starts {
                line.clear();
                truncated = false;
                first = Some((p.ms, p.stream));
            }
            let room = MAX.saturating_sub(line.len());
            if p.text.len() > room {
                let mut cut = room;
                while !p.text.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.push_str(&p.text[..cut]);
                truncated = true;
            } else {
                line.push_str(&p.text);
            }
            if p.ends {
                let (ms, stream) = first.unwrap_or((p.ms, p.stream));
                let v = render::log_json(ms, stream, &line, truncated);
                if writeln!(o, "{v}").is_err() {
                    return false;
                }
            }
        }
        o.flush().is_ok()
    })?;
    Ok(0)
}

// ------------------------------------------------------------- compare

#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    /// Runs to compare (default: all matching the filters)
    pub(crate) runs: Vec<String>,
    /// Write CSV to PATH (`-` for stdout)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "-")]
    pub(crate) csv: Option<String>,
    /// Print the table as JSON: one object per run, keyed by column
    #[arg(long)]
    pub(crate) json: bool,
    /// Print a table (the default)
    #[arg(short = 't', long)]
    pub(crate) table: bool,
    /// More columns: `loss`, `min loss`, `max acc as best`, `=lr` (flag),
    /// `.label` (attribute), `loss step`; comma-separated
    #[arg(
        short = 'c',
        long = "cols",
        visible_alias = "columns",
        value_name = "COLS"
    )]
    pub(crate) columns: Vec<String>,
    /// Only these columns (and the run id); also -cc
    #[arg(long = "strict-cols", value_name = "COLS", conflicts_with = "columns")]
    pub(crate) strict_cols: Option<String>,
    /// Show extra columns (source code digest)
    #[arg(short = 'e', long)]
    pub(crate) extra_cols: bool,
    /// Include all scalars (by default `sys/*` scalars are left out)
    #[arg(short = 's', long)]
    pub(crate) all_scalars: bool,
    /// Leave out the columns the operation's `compare` declares
    #[arg(short = 'p', long)]
    pub(crate) skip_op_cols: bool,
    /// Leave out columns whose value is the same in every run
    #[arg(short = 'u', long)]
    pub(crate) skip_unchanged: bool,
    /// Print each run's scalars (last value and step) and exit
    #[arg(long)]
    pub(crate) print_scalars: bool,
    /// Sort by COL ascending (`-COL` descending)
    #[arg(long, value_name = "COL")]
    pub(crate) sort: Option<String>,
    /// Show the lowest values of COL first
    #[arg(long, value_name = "COL")]
    pub(crate) min: Option<String>,
    /// Show the highest values of COL first
    #[arg(long, value_name = "COL")]
    pub(crate) max: Option<String>,
    /// Only the best K runs (by --min/--max/--sort, default: min loss)
    #[arg(long, value_name = "K")]
    pub(crate) top: Option<usize>,
    /// Show at most N runs
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Include batch runs
    #[arg(long)]
    pub(crate) include_batch: bool,
    /// Leave out the run, operation, started, time, status and label columns
    #[arg(short = 'r', long)]
    pub(crate) skip_core: bool,
    /// Runs in the trash
    #[arg(short = 'd', long)]
    pub(crate) deleted: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    /// Do it on REMOTE's runs (a remote of `guild remotes`), with the guild there
    #[arg(long, value_name = "REMOTE")]
    pub(crate) remote: Option<String>,
}

pub(crate) fn compare(ctx: &Ctx, a: CompareArgs) -> Result<i32> {
    // Sorting and --top.
    let sort = match (&a.min, &a.max, &a.sort) {
        (Some(c), _, _) => Some((c.clone(), false)),
        (None, Some(c), _) => Some((c.clone(), true)),
        (None, None, Some(c)) => Some(match c.strip_prefix('-') {
            Some(c) => (c.to_string(), true),
            None => (c.clone(), false),
        }),
        _ if a.top.is_some() => Some(("loss".into(), false)),
        _ => None,
    };
    let req = api::views::CompareRequest {
        select: super::cmd_runs::selection(&a.runs, &a.filters, a.deleted),
        include_batch: a.include_batch,
        columns: a
            .strict_cols
            .iter()
            .chain(a.columns.iter())
            .cloned()
            .collect(),
        strict: a.strict_cols.is_some(),
        skip_core: a.skip_core,
        extra_cols: a.extra_cols,
        skip_op_cols: a.skip_op_cols,
        all_scalars: a.all_scalars,
        sort,
        limit: a.top.or(a.limit),
        skip_unchanged: a.skip_unchanged,
    };
    if a.print_scalars {
        let mut o = String::new();
        for r in &api::views::compared_runs(ctx, &req)? {
            o.push_str(&render::scalars_listing(r, &api::views::scalars(r)));
        }
        render::out(&o);
        return Ok(0);
    }
    let api::views::Compared { header, rows } = api::views::compare(ctx, &req)?;
    if a.json {
        render::json(&render::compare_json(&header, &rows));
        return Ok(0);
    }
    if let Some(path) = &a.csv {
        let text = render::compare_csv(&header, &rows);
        if path == "-" {
            render::out_data(&text);
        } else {
            api::views::write_text(&super::process_cwd(ctx).join(path), &text)?;
        }
        return Ok(0);
    }
    render::out(&render::compare_table(&header, &rows));
    Ok(0)
}

#[derive(Args, Debug)]
pub(crate) struct ViewArgs {
    /// Address to listen on; any but loopback needs the token printed in the URL
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub(crate) host: String,
    /// Port to listen on (0: a free one)
    #[arg(short = 'p', long, default_value_t = 0, value_name = "PORT")]
    pub(crate) port: u16,
    /// Open the view in a browser (xdg-open), if there is one
    #[arg(long)]
    pub(crate) open: bool,
    /// Allow labelling, tagging, deleting and restoring runs from the page
    #[arg(long)]
    pub(crate) allow_edit: bool,
    /// Print the runs the view shows, with their files, as JSON, and exit
    /// (Guild 0.9's test hook)
    #[arg(long, hide = true)]
    pub(crate) test_runs_data: bool,
}

/// `view`: serve until interrupted.
pub(crate) fn view(ctx: Ctx, a: ViewArgs) -> Result<i32> {
    if a.test_runs_data {
        return runs_data(&ctx);
    }
    let server = crate::view::Server::bind(&crate::view::Options {
        host: a.host,
        port: a.port,
        allow_edit: a.allow_edit,
    })?;
    // Said once; a closed stdout does not stop the view.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Running guild view at {}", server.url);
    let _ = writeln!(out, "Press Ctrl-C to quit");
    let _ = out.flush();
    drop(out);
    if a.open {
        let opened = std::process::Command::new("xdg-open")
            .arg(&server.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if opened.is_err() {
            eprintln!("No browser to open here (xdg-open is missing); open the URL above yourself");
        }
    }
    server.serve(std::sync::Arc::new(ctx))?;
    Ok(0)
}

#[derive(Args, Debug)]
pub(crate) struct TensorboardArgs {
    /// Runs (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Address TensorBoard listens on
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub(crate) host: String,
    /// Port TensorBoard listens on (0: a free one)
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub(crate) port: u16,
    /// Do not open TensorBoard in a browser (it is never opened here)
    #[arg(short = 'n', long)]
    pub(crate) no_open: bool,
    /// Do not write HParams summaries
    #[arg(long)]
    pub(crate) skip_hparams: bool,
    /// Keep the log directory when TensorBoard ends
    #[arg(long)]
    pub(crate) keep_logdir: bool,
    /// Write the log directory, print where it is and exit
    #[arg(long)]
    pub(crate) test_logdir: bool,
    #[command(flatten)]
    pub(crate) filters: super::FilterArgs,
}

/// `tensorboard`: a log directory of the runs, then TensorBoard on it.
pub(crate) fn tensorboard(ctx: &Ctx, a: TensorboardArgs) -> Result<i32> {
    let sel = super::cmd_runs::selection(&a.runs, &a.filters, false);
    // TensorBoard is checked first: without it nothing is written.
    let py = if a.test_logdir {
        None
    } else {
        Some(api::tensorboard::python_with_tensorboard(ctx)?)
    };
    let dir = std::env::temp_dir().join(format!("guild-tensorboard-{}", std::process::id()));
    let written = api::tensorboard::logdir(ctx, &sel, &dir, a.skip_hparams)?;
    let Some(py) = py else {
        println!("{}", dir.display());
        return Ok(0);
    };
    println!(
        "Running TensorBoard on {} runs (log directory {})",
        written.len(),
        dir.display()
    );
    let status = std::process::Command::new(py)
        .args(["-m", "tensorboard.main", "--logdir"])
        .arg(&dir)
        .arg("--host")
        .arg(&a.host)
        .arg("--port")
        .arg(a.port.to_string())
        .status()
        .map_err(|e| guild_format::error::Error::process("cannot start TensorBoard", e))?;
    if !a.keep_logdir {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(status.code().unwrap_or(1))
}

/// The runs as the view lists them, each with its files (as `ls`: not
/// hidden ones, natural order): `view --test-runs-data`.
fn runs_data(ctx: &Ctx) -> Result<i32> {
    let all = api::runs::list(ctx, &api::Selection::default())?;
    let mut out = Vec::new();
    for i in all {
        let listing = api::runs::ls(
            ctx,
            &api::runs::LsRequest {
                select: api::Selection {
                    runs: vec![i.run.run.id.clone()],
                    ..Default::default()
                },
                ..Default::default()
            },
        )?;
        let mut v = serde_json::to_value(&i.run).unwrap_or_default();
        v["files"] = listing
            .files
            .iter()
            .filter(|(_, dir)| !dir)
            .map(|(p, _)| serde_json::json!({ "path": p }))
            .collect();
        out.push(v);
    }
    render::json(&serde_json::Value::Array(out));
    Ok(0)
}
