//! Sweep-friendly views in Grid's spirit (`status`, `history`, `logs`) and
//! `compare` (flags and scalars of many runs as a table, CSV or JSON).

use super::{Ctx, FilterArgs};
use crate::error::{Error, Result};
use crate::query::experiments::Experiment;
use crate::query::{self, compare};
use crate::render;
use crate::run::Status;
use clap::Args;

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show at most N (default 20)
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Run (index, id prefix or name; default: the latest)
    pub run: Option<String>,
    /// Keep printing new lines until the run stops
    #[arg(short = 'f', long)]
    pub follow: bool,
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let exps: Vec<Experiment> = query::experiments::of(&runs)
        .into_iter()
        .filter(Experiment::active)
        .collect();
    let (rows, json) = render::experiments(&exps);
    if a.json {
        render::json(&json);
    } else if exps.is_empty() {
        eprintln!("No active runs or sweeps (see `guild history` for finished ones)");
    } else {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let exps: Vec<Experiment> = query::experiments::of(&runs)
        .into_iter()
        .filter(|e| !e.active())
        .take(a.limit.unwrap_or(20))
        .collect();
    let (rows, json) = render::experiments(&exps);
    if a.json {
        render::json(&json);
    } else if !exps.is_empty() {
        render::out(&render::table(rows));
    }
    Ok(0)
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<i32> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let specs: Vec<String> = a.run.iter().cloned().collect();
    let r = query::select(&runs, &specs, false)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::user("there are no runs yet; start one with `guild run`".to_string())
        })?;
    let gdir = r.run.guild_dir();
    let Ok(mut lines) = crate::output::IndexedLines::open(&gdir) else {
        return Ok(0); // no output yet
    };
    let out = std::io::stdout();
    loop {
        let running = a.follow && r.run.status().status == Status::Running;
        // While running, the last line may be partial: print complete lines.
        {
            use std::io::Write;
            let mut o = std::io::BufWriter::new(out.lock());
            while let Some((ms, stream, line)) = lines.next_line(running) {
                if writeln!(o, "{}", render::log_line(ms, stream, &line)).is_err() {
                    return Ok(0);
                }
            }
            let _ = o.flush();
        }
        if !running {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(0)
}

// ------------------------------------------------------------- compare

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Runs to compare (default: all matching the filters)
    pub runs: Vec<String>,
    /// Write CSV to PATH (`-` for stdout)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "-")]
    pub csv: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Print a table (the default)
    #[arg(short = 't', long)]
    pub table: bool,
    /// Extra columns: `loss`, `min loss`, `max acc as best`, `=lr`, `.label`
    #[arg(short = 'c', long = "columns", value_name = "COLS")]
    pub columns: Vec<String>,
    /// Sort by COL ascending (`-COL` descending)
    #[arg(long, value_name = "COL")]
    pub sort: Option<String>,
    /// Sort by COL, smallest first
    #[arg(long, value_name = "COL")]
    pub min: Option<String>,
    /// Sort by COL, largest first
    #[arg(long, value_name = "COL")]
    pub max: Option<String>,
    /// Only the best K runs (by --min/--max/--sort, default: min loss)
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
    /// Show at most N runs
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Include batch runs
    #[arg(long)]
    pub include_batch: bool,
    /// Leave out the run, operation, started, time, status and label columns
    #[arg(short = 'r', long)]
    pub skip_core: bool,
    /// Runs in the trash
    #[arg(short = 'd', long)]
    pub deleted: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

pub fn compare(ctx: &Ctx, a: CompareArgs) -> Result<i32> {
    let dir = if a.deleted {
        ctx.home.trash_dir()
    } else {
        ctx.home.runs_dir()
    };
    let all = query::list_dir(&dir);
    let filtered = a.filters.filters().apply(all)?;
    let mut runs = query::select(&filtered, &a.runs, true)?;
    if !a.include_batch {
        runs.retain(|r| !r.batch);
    }
    let extra: Vec<compare::Col> = a
        .columns
        .iter()
        .flat_map(|c| c.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(compare::parse_col)
        .collect::<Result<_>>()?;
    let mut rows = compare::rows(&runs, &extra, a.skip_core);
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
    if let Some((col, desc)) = &sort {
        compare::sort_rows(&mut rows, col, *desc)?;
    }
    if let Some(k) = a.top.or(a.limit) {
        rows.truncate(k);
    }
    let header = compare::header(&rows);
    if a.json {
        render::json(&render::compare_json(&header, &rows));
        return Ok(0);
    }
    if let Some(path) = &a.csv {
        let text = render::compare_csv(&header, &rows);
        if path == "-" {
            render::out_data(&text);
        } else {
            crate::fsutil::write_atomic(std::path::Path::new(path), text.as_bytes())?;
        }
        return Ok(0);
    }
    render::out(&render::compare_table(&header, &rows));
    Ok(0)
}
