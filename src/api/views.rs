//! Views over many runs: sweeps by state (`status`, `history`), a run's
//! output lines (`logs`), and `compare`.

use super::{Context, Selection};
use crate::api::table::{self as compare, Row};
use guild_format::error::{Error, Result};
use guild_format::query::experiments::Experiment;
use guild_format::query::{self, RunInfo};
use guild_format::run::Status;
use std::time::{Duration, Instant};

/// Runs with the batch runs of their finished sweeps (in the trash).
fn runs_and_sweeps(ctx: &Context) -> Vec<RunInfo> {
    let mut runs = query::list_dir(&ctx.home.runs_dir());
    let batches = query::experiments::deleted_batches(&runs, &ctx.home.trash_dir());
    runs.extend(batches);
    runs
}

/// Sweeps and standalone runs: the runs they are made of, and which of
/// them a view shows ([`Experiments::list`]).
pub struct Experiments {
    runs: Vec<RunInfo>,
    active: bool,
    limit: usize,
}

impl Experiments {
    /// The experiments, newest first, each with its trials by state.
    pub fn list(&self) -> Vec<Experiment<'_>> {
        query::experiments::of(&self.runs)
            .into_iter()
            .filter(|e| e.active() == self.active)
            .take(self.limit)
            .collect()
    }
}

/// What the runs of each experiment cost so far on remotes that declare
/// an `hourly-cost` (Slurm, Ray): run hours times the remote's cost per
/// job-hour. None for an experiment with nothing on such a remote.
pub fn costs(ctx: &Context, exps: &[Experiment]) -> Vec<Option<f64>> {
    let rates: std::collections::HashMap<String, f64> = super::remotes::list(ctx)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| match r.kind {
            guild_exec::remote::Kind::Slurm(c) => c.hourly_cost.map(|h| (r.name, h)),
            guild_exec::remote::Kind::Ray(c) => c.hourly_cost.map(|h| (r.name, h)),
            _ => None,
        })
        .collect();
    if rates.is_empty() {
        return vec![None; exps.len()];
    }
    let now = guild_format::run::now_us();
    exps.iter()
        .map(|e| {
            let mut total = None;
            for t in &e.trials {
                let Ok(guild_format::run::placement::Placement::Remote { remote, .. }) =
                    guild_format::run::placement::Placement::of(&t.run)
                else {
                    continue;
                };
                let Some(rate) = rates.get(&remote) else {
                    continue;
                };
                let hours = match (t.started, t.stopped()) {
                    (Some(a), Some(b)) => (b - a).max(0) as f64 / 3.6e9,
                    (Some(a), None) if t.status.status == Status::Running => {
                        (now - a).max(0) as f64 / 3.6e9
                    }
                    _ => 0.0,
                };
                *total.get_or_insert(0.0) += hours * rate;
            }
            total
        })
        .collect()
}

/// `status`: sweeps and runs still going, each sweep with its trials by
/// state.
pub fn status(ctx: &Context) -> Experiments {
    Experiments {
        runs: runs_and_sweeps(ctx),
        active: true,
        limit: usize::MAX,
    }
}

/// `history`: finished sweeps and runs, newest first, at most `limit`.
pub fn history(ctx: &Context, limit: usize) -> Experiments {
    Experiments {
        runs: runs_and_sweeps(ctx),
        active: false,
        limit,
    }
}

/// One line of a run's output: milliseconds since the run started, the
/// stream (0 stdout, 1 stderr), the text.
pub type LogLine = (u64, u8, String);

/// `logs`: the output of a run (`spec`, default the latest), to `sink`
/// as it is read, in pieces of whole lines or parts of a long line (a
/// line is never held whole: a 1 GB line is passed on a MiB at a time);
/// with `follow`, until the run stops. `sink` returns false to stop
/// early (a closed pipe).
pub fn logs(
    ctx: &Context,
    spec: Option<&str>,
    follow: bool,
    sink: &mut dyn FnMut(&[guild_format::output::Piece]) -> bool,
) -> Result<()> {
    let runs = query::list_dir(&ctx.home.runs_dir());
    let specs: Vec<String> = spec.map(String::from).into_iter().collect();
    let r = query::select(&runs, &specs, false)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::user("there are no runs yet; start one with `guild run`"))?;
    let gdir = r.run.guild_dir();
    let t0 = Instant::now();
    // A run just started may not show running yet: until it has an exit
    // status, it is followed for a few seconds before giving up.
    let going = || {
        let status = r.run.status().status;
        follow
            && (matches!(status, Status::Running | Status::Pending | Status::Staged)
                || (r.run.attr("exit_status").is_none() && t0.elapsed() < Duration::from_secs(5)))
    };
    let mut lines = loop {
        match guild_format::output::IndexedLines::open(&gdir) {
            Ok(l) => break l,
            Err(_) if going() => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return Ok(()), // no output
        }
    };
    loop {
        let running = going();
        // While running, the last line may be partial: complete lines only.
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(p) = lines.next_piece(running) {
            bytes += p.text.len();
            batch.push(p);
            if batch.len() >= 4096 || bytes >= 2 << 20 {
                if !sink(&batch) {
                    return Ok(());
                }
                batch.clear();
                bytes = 0;
            }
        }
        if !batch.is_empty() && !sink(&batch) {
            return Ok(());
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `compare`: which runs, which columns, in what order.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    pub select: Selection,
    pub include_batch: bool,
    /// Column specs (`lr`, `=lr`, `max acc as best`...).
    pub columns: Vec<String>,
    /// Only the given columns (Guild's `--strict-cols`).
    pub strict: bool,
    pub skip_core: bool,
    pub extra_cols: bool,
    pub skip_op_cols: bool,
    pub all_scalars: bool,
    /// Sort by this column, descending when true.
    pub sort: Option<(String, bool)>,
    pub limit: Option<usize>,
    pub skip_unchanged: bool,
}

/// A run's scalars: each key's summary (last, min, max... with steps).
pub fn scalars(
    run: &RunInfo,
) -> std::collections::BTreeMap<String, guild_format::output::scalars::Summary> {
    guild_format::output::scalars::run_scalars(&run.run.dir)
}

/// The compare table: its header and one row per run.
#[derive(Debug)]
pub struct Compared {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// The runs a compare request selects (batch runs only if asked).
pub fn compared_runs(ctx: &Context, req: &CompareRequest) -> Result<Vec<RunInfo>> {
    let all = ctx.runs(&req.select.filters, req.select.deleted)?;
    let mut runs = query::select(&all, &req.select.runs, true)?;
    if !req.include_batch {
        runs.retain(|r| !r.batch);
    }
    Ok(runs)
}

pub fn compare(ctx: &Context, req: &CompareRequest) -> Result<Compared> {
    let runs = compared_runs(ctx, req)?;
    let user: Vec<compare::Col> = req
        .columns
        .iter()
        .map(|c| compare::parse_cols(c))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let layout = compare::Layout {
        skip_core: req.skip_core || req.strict,
        extra_cols: req.extra_cols,
        skip_op_cols: req.skip_op_cols || req.strict,
        all_scalars: req.all_scalars,
        user,
        events_index: Some(ctx.events_index(req.select.deleted)),
    };
    let (mut header, mut rows) = compare::table(&runs, &layout);
    if let Some((col, desc)) = &req.sort {
        compare::sort_rows(&mut rows, col, *desc);
    }
    if let Some(k) = req.limit {
        rows.truncate(k);
    }
    if req.skip_unchanged && rows.len() > 1 {
        compare::drop_unchanged(&mut header, &mut rows);
    }
    Ok(Compared { header, rows })
}

/// Write a file the user asked for (`compare --csv PATH`), atomically.
pub fn write_text(path: &std::path::Path, text: &str) -> Result<()> {
    guild_format::fsutil::write_atomic(path, text.as_bytes())
}

/// Lines `start..start+count` of a run's output (a negative `start`
/// counts from the end: -100 is the last 100 lines), each with its time
/// (ms since the epoch) and stream from `output.index`; and the number of
/// lines there are. Only the lines asked for are read: a long output is
/// reached by seeking, from its end for a tail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputPage {
    pub total: u64,
    pub start: u64,
    pub lines: Vec<LogLine>,
}

/// The most of one output line a page holds (the rest is counted).
const LINE_MAX: usize = 64 << 10;
/// The most text one page of output holds.
const PAGE_MAX: usize = 4 << 20;

/// The next whole line of `r` into `buf` (without its newline), at most
/// `cap` bytes of it kept: Some(the number of bytes left out), or None at
/// the end (or a last line not ended yet, which is still being written).
fn read_line_capped(
    r: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<u64>> {
    buf.clear();
    let mut more = 0u64;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(None);
        }
        let (part, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        let room = cap.saturating_sub(buf.len()).min(part.len());
        buf.extend_from_slice(&part[..room]);
        more += (part.len() - room) as u64;
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(more));
        }
    }
}

/// The byte offset of line `first` (of `total`) in the output file `out`
/// of `size` bytes: counted from the end when that is nearer.
fn line_offset(
    out: &mut std::fs::File,
    out_path: &std::path::Path,
    chunk: &mut [u8],
    size: u64,
    first: u64,
    total: u64,
) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut offset = 0u64;
    if first > 0 && first < total {
        if first > total / 2 {
            // Going back from the end: past the newline that ends the
            // last line, the newline that ends line `first - 1` is the
            // (total - first)th.
            let mut to_skip = total - first - 1;
            let mut pos = size;
            let mut found = None;
            // The last byte is the newline of the last line.
            let mut skip_last = true;
            while pos > 0 && found.is_none() {
                let len = chunk.len().min(pos as usize);
                pos -= len as u64;
                out.seek(SeekFrom::Start(pos))
                    .map_err(|e| Error::io("reading", out_path, e))?;
                out.read_exact(&mut chunk[..len])
                    .map_err(|e| Error::io("reading", out_path, e))?;
                for i in memchr::memrchr_iter(b'\n', &chunk[..len]) {
                    if skip_last {
                        skip_last = false;
                        if pos + i as u64 + 1 == size {
                            continue;
                        }
                    }
                    if to_skip == 0 {
                        found = Some(pos + i as u64 + 1);
                        break;
                    }
                    to_skip -= 1;
                }
            }
            offset = found.unwrap_or(0);
        } else {
            let mut seen = 0u64;
            let mut pos = 0u64;
            out.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io("reading", out_path, e))?;
            'scan: loop {
                let k = out
                    .read(chunk)
                    .map_err(|e| Error::io("reading", out_path, e))?;
                if k == 0 {
                    break;
                }
                for i in memchr::memchr_iter(b'\n', &chunk[..k]) {
                    seen += 1;
                    if seen == first {
                        offset = pos + i as u64 + 1;
                        break 'scan;
                    }
                }
                pos += k as u64;
            }
        }
    }
    Ok(offset)
}

/// `keep_last`: when the lines asked for hold more text than a page
/// does, keep the last ones (as a tail, `start` < 0, always does) rather
/// than the first; the page's `start` says where it begins.
pub fn output_page(
    run: &guild_format::run::Run,
    start: i64,
    count: usize,
    keep_last: bool,
) -> Result<OutputPage> {
    use std::io::{Read, Seek, SeekFrom};
    let out_path = run.guild_path("output");
    let mut out = match std::fs::File::open(&out_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(OutputPage {
                total: 0,
                start: 0,
                lines: Vec::new(),
            })
        }
        Err(e) => return Err(Error::io("reading", &out_path, e)),
    };
    let size = out
        .metadata()
        .map_err(|e| Error::io("reading", &out_path, e))?
        .len();
    // Complete lines only (the last may be being written).
    let mut chunk = vec![0u8; 1 << 20];
    let count_all = |out: &mut std::fs::File, chunk: &mut [u8]| -> u64 {
        let _ = out.seek(SeekFrom::Start(0));
        let mut n = 0u64;
        while let Ok(k) = out.read(chunk) {
            if k == 0 {
                break;
            }
            n += memchr::memchr_iter(b'\n', &chunk[..k]).count() as u64;
        }
        n
    };
    let idx_path = run.guild_path("output.index");
    let total = match std::fs::metadata(&idx_path) {
        Ok(m) => m.len() / 9,
        Err(_) => count_all(&mut out, &mut chunk),
    };
    let first = if start < 0 {
        total.saturating_sub(start.unsigned_abs())
    } else {
        (start as u64).min(total)
    };
    let last = (first + count as u64).min(total);
    let offset = line_offset(&mut out, &out_path, &mut chunk, size, first, total)?;
    out.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io("reading", &out_path, e))?;
    let mut reader = std::io::BufReader::new(out);
    let mut idx = std::fs::File::open(&idx_path).ok();
    if let Some(f) = idx.as_mut() {
        let _ = f.seek(SeekFrom::Start(first * 9));
    }
    // Bounded in bytes as well as lines: a line is cut at LINE_MAX, and
    // a page keeps at most PAGE_MAX of text (a tail drops its earliest
    // lines, a page from `start` its last ones).
    let mut lines: std::collections::VecDeque<LogLine> = std::collections::VecDeque::new();
    let mut kept = 0usize;
    // Where the page begins: `first`, later when a tail drops lines.
    let mut page_start = first;
    let tail = start < 0 || keep_last;
    let mut buf = Vec::new();
    for _ in first..last {
        let Some(more) = read_line_capped(&mut reader, &mut buf, LINE_MAX)
            .map_err(|e| Error::io("reading", &out_path, e))?
        else {
            break;
        };
        let mut rec = [0u8; 9];
        let (ms, stream) = match idx.as_mut().map(|f| f.read_exact(&mut rec)) {
            Some(Ok(())) => {
                let mut t = [0u8; 8];
                t.copy_from_slice(&rec[..8]);
                (u64::from_be_bytes(t), rec[8])
            }
            _ => (0, 0),
        };
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        if more > 0 {
            text.push_str(&format!(
                " \u{2026} [{more} more bytes in this line; `guild cat --output {}` prints it whole]",
                run.short_id()
            ));
        }
        if kept + text.len() > PAGE_MAX && !lines.is_empty() {
            if !tail {
                break;
            }
            while kept + text.len() > PAGE_MAX {
                let Some((_, _, t)) = lines.pop_front() else {
                    break;
                };
                kept -= t.len();
                page_start += 1;
            }
        }
        kept += text.len();
        lines.push_back((ms, stream, text));
    }
    let lines: Vec<LogLine> = lines.into();
    Ok(OutputPage {
        total,
        start: page_start,
        lines,
    })
}

/// One scalar of one run as a series (downsampled, see [`series`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    pub run: String,
    pub tag: String,
    pub steps: Vec<i64>,
    pub values: Vec<f64>,
    /// Seconds since the run's first event, for x = time.
    pub times: Vec<f64>,
    /// Points in the run before downsampling.
    pub points: usize,
}

/// Every scalar of each run (its own events files) as a series in step
/// order. A series longer than `max_points` is downsampled to the min and
/// max of each of `max_points / 2` buckets, so a spike is never lost.
/// `with_times` fills [`Series::times`] (else zeros).
pub fn series(run: &guild_format::run::Run, max_points: usize, with_times: bool) -> Vec<Series> {
    let files = guild_format::output::scalars::own_events_files(run);
    let mut by_tag: std::collections::BTreeMap<String, Vec<(i64, f64, f64)>> = Default::default();
    let mut line_times = None;
    for f in &files {
        let mut events = guild_format::output::tfevents::read_scalars_timed(f);
        // Output scalars carry no wall time (Guild's bytes): each takes the
        // time of the output line it was read from.
        if with_times
            && f.parent() == Some(run.guild_dir().as_path())
            && events.iter().all(|e| e.3 == 0.0)
        {
            let times = line_times.get_or_insert_with(|| output_scalar_times(run));
            for e in &mut events {
                if let Some(t) = times.get_mut(&e.0).and_then(|q| q.pop_front()) {
                    e.3 = t;
                }
            }
        }
        for (tag, v, step, t) in events {
            by_tag.entry(tag).or_default().push((step, v, t));
        }
    }
    let t0 = by_tag
        .values()
        .flat_map(|p| p.iter().map(|x| x.2))
        .filter(|t| *t > 0.0)
        .fold(f64::INFINITY, f64::min);
    by_tag
        .into_iter()
        .map(|(tag, mut pts)| {
            pts.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.total_cmp(&b.2)));
            let points = pts.len();
            let pts = downsample(&pts, max_points.max(2));
            Series {
                run: run.id.clone(),
                tag,
                steps: pts.iter().map(|p| p.0).collect(),
                values: pts.iter().map(|p| p.1).collect(),
                times: pts
                    .iter()
                    .map(|p| {
                        if t0.is_finite() {
                            (p.2 - t0).max(0.0)
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                points,
            }
        })
        .collect()
}

/// For each output scalar key, the times (seconds) of the output lines it
/// was read from, in order: the output read again with the run's own
/// output-scalars config.
fn output_scalar_times(
    run: &guild_format::run::Run,
) -> std::collections::HashMap<String, std::collections::VecDeque<f64>> {
    let mut times: std::collections::HashMap<String, std::collections::VecDeque<f64>> =
        Default::default();
    let (Ok(mut parser), Ok(mut lines)) = (
        guild_format::output::scalars::ScalarParser::for_run(run),
        guild_format::output::IndexedLines::open(&run.guild_dir()),
    ) else {
        return times;
    };
    let mut found = Vec::new();
    while let Some((ms, _, line)) = lines.next_line(false) {
        if !parser.may_match(line.as_bytes()) {
            continue;
        }
        found.clear();
        parser.parse_line(&line, &mut found);
        for (k, _, _) in found.drain(..) {
            times.entry(k).or_default().push_back(ms as f64 / 1000.0);
        }
    }
    times
}

/// At most `max` points: the min and max of each bucket, in step order.
fn downsample(pts: &[(i64, f64, f64)], max: usize) -> Vec<(i64, f64, f64)> {
    if pts.len() <= max {
        return pts.to_vec();
    }
    let buckets = max / 2;
    let size = pts.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max);
    for b in pts.chunks(size) {
        let lo = b.iter().min_by(|a, c| a.1.total_cmp(&c.1)).copied();
        let hi = b.iter().max_by(|a, c| a.1.total_cmp(&c.1)).copied();
        match (lo, hi) {
            (Some(l), Some(h)) if l.0 == h.0 && l.2 == h.2 => out.push(l),
            (Some(l), Some(h)) if (l.0, l.2) < (h.0, h.2) => out.extend([l, h]),
            (Some(l), Some(h)) => out.extend([h, l]),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn downsampling_keeps_spikes_and_order() {
        let mut pts: Vec<(i64, f64, f64)> = (0..10_000).map(|i| (i, 1.0, i as f64)).collect();
        pts[7777].1 = 99.0;
        pts[1234].1 = -5.0;
        let d = downsample(&pts, 200);
        assert!(d.len() <= 200);
        assert!(d.iter().any(|p| p == &(7777, 99.0, 7777.0)));
        assert!(d.iter().any(|p| p == &(1234, -5.0, 1234.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn output_pages_are_read_from_either_end() {
        let tmp = tempfile::tempdir().unwrap();
        let run = guild_format::run::Run::at(tmp.path().join("r"));
        std::fs::create_dir_all(run.guild_dir()).unwrap();
        let mut out = String::new();
        let mut idx = Vec::new();
        for i in 0..1000u64 {
            out.push_str(&format!("line {i}\n"));
            idx.extend_from_slice(&(1000 + i).to_be_bytes());
            idx.push((i % 2) as u8);
        }
        std::fs::write(run.guild_path("output"), &out).unwrap();
        std::fs::write(run.guild_path("output.index"), &idx).unwrap();
        let p = output_page(&run, -3, 10, false).unwrap();
        assert_eq!(p.total, 1000);
        assert_eq!(p.start, 997);
        let texts: Vec<&str> = p.lines.iter().map(|l| l.2.as_str()).collect();
        assert_eq!(texts, ["line 997", "line 998", "line 999"]);
        assert_eq!(p.lines[0].0, 1997);
        let p = output_page(&run, 10, 2, false).unwrap();
        assert_eq!(p.lines[0], (1010, 0, "line 10".to_string()));
        assert_eq!(p.lines[1].2, "line 11");
        let p = output_page(&run, 700, 1, false).unwrap();
        assert_eq!(p.lines[0].2, "line 700");
        assert_eq!(p.lines[0].1, 0);
        let p = output_page(&run, 0, 1, false).unwrap();
        assert_eq!(p.lines[0].2, "line 0");
    }
}
