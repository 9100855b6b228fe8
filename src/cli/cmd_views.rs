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
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show at most N (default 20)
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON instead of text
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

/// Runs with the batch runs of their finished sweeps (in the trash).
fn runs_and_sweeps(ctx: &Ctx) -> Vec<query::RunInfo> {
    let mut runs = query::list_dir(&ctx.home.runs_dir());
    let batches = query::experiments::deleted_batches(&runs, &ctx.home.trash_dir());
    runs.extend(batches);
    runs
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<i32> {
    let runs = runs_and_sweeps(ctx);
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
    let runs = runs_and_sweeps(ctx);
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
    let t0 = std::time::Instant::now();
    // A run just started may not show running yet: until it has an exit
    // status, it is followed for a few seconds before giving up.
    let going = || {
        let status = r.run.status().status;
        a.follow
            && (matches!(status, Status::Running | Status::Pending | Status::Staged)
                || (r.run.attr("exit_status").is_none()
                    && t0.elapsed() < std::time::Duration::from_secs(5)))
    };
    let mut lines = loop {
        match crate::output::IndexedLines::open(&gdir) {
            Ok(l) => break l,
            Err(_) if going() => std::thread::sleep(std::time::Duration::from_millis(100)),
            Err(_) => return Ok(0), // no output
        }
    };
    let out = std::io::stdout();
    loop {
        let running = going();
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
    /// Print the table as JSON: one object per run, keyed by column
    #[arg(long)]
    pub json: bool,
    /// Print a table (the default)
    #[arg(short = 't', long)]
    pub table: bool,
    /// More columns: `loss`, `min loss`, `max acc as best`, `=lr` (flag),
    /// `.label` (attribute), `loss step`; comma-separated
    #[arg(
        short = 'c',
        long = "cols",
        visible_alias = "columns",
        value_name = "COLS"
    )]
    pub columns: Vec<String>,
    /// Only these columns (and the run id); also -cc
    #[arg(long = "strict-cols", value_name = "COLS", conflicts_with = "columns")]
    pub strict_cols: Option<String>,
    /// Show extra columns (source code digest)
    #[arg(short = 'e', long)]
    pub extra_cols: bool,
    /// Include all scalars (by default `sys/*` scalars are left out)
    #[arg(short = 's', long)]
    pub all_scalars: bool,
    /// Leave out the columns the operation's `compare` declares
    #[arg(short = 'p', long)]
    pub skip_op_cols: bool,
    /// Leave out columns whose value is the same in every run
    #[arg(short = 'u', long)]
    pub skip_unchanged: bool,
    /// Print each run's scalars (last value and step) and exit
    #[arg(long)]
    pub print_scalars: bool,
    /// Sort by COL ascending (`-COL` descending)
    #[arg(long, value_name = "COL")]
    pub sort: Option<String>,
    /// Show the lowest values of COL first
    #[arg(long, value_name = "COL")]
    pub min: Option<String>,
    /// Show the highest values of COL first
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
    let user: Vec<compare::Col> = a
        .strict_cols
        .iter()
        .chain(a.columns.iter())
        .map(|c| compare::parse_cols(c))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let strict = a.strict_cols.is_some();
    let layout = compare::Layout {
        skip_core: a.skip_core || strict,
        extra_cols: a.extra_cols,
        skip_op_cols: a.skip_op_cols || strict,
        all_scalars: a.all_scalars,
        user,
    };
    if a.print_scalars {
        for r in &runs {
            println!("[{}] {}", r.run.short_id(), r.op_desc());
            let scalars = crate::output::scalars::run_scalars(&r.run.dir);
            for (k, s) in crate::output::scalars::in_guild_order(&scalars) {
                println!("  {k}: {:.6} (step {})", s.last, s.last_step);
            }
        }
        return Ok(0);
    }
    let (mut header, mut rows) = compare::table(&runs, &layout);
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
        compare::sort_rows(&mut rows, col, *desc);
    }
    if let Some(k) = a.top.or(a.limit) {
        rows.truncate(k);
    }
    if a.skip_unchanged && rows.len() > 1 {
        compare::drop_unchanged(&mut header, &mut rows);
    }
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
