//! Output capture: one reader thread per child pipe streams to the terminal,
//! `.guild/output` and `.guild/output.index`, and feeds complete lines to the
//! scalar parser, whose scalars are appended to the run's events file as they
//! appear. Memory is bounded by the read buffer and one partial line.

pub mod hparams;
pub mod scalars;
pub mod tfevents;
pub mod watch;

use crate::error::{IoContext, Result};
use scalars::ScalarParser;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tfevents::EventWriter;

/// Reads are up to this big once output comes fast (fewer, larger
/// reads); a reader starts at [`FIRST_READ_BUF`] and doubles when a read
/// fills its buffer, so a run that prints a few lines does not zero (and
/// fault in) a mebibyte per pipe.
const READ_BUF: usize = 1024 * 1024;
const FIRST_READ_BUF: usize = 16 * 1024;
/// A line longer than this is split for scalar parsing (never for output).
const MAX_PARSE_LINE: usize = 64 * 1024;

struct Sink {
    output: File,
    index: File,
    events: EventWriter,
    parser: ScalarParser,
    echo: bool,
    scratch: Vec<(String, f64, i64)>,
    index_buf: Vec<u8>,
    error: Option<crate::error::Error>,
}

/// The output capture of a run: the pipes' reader threads write to its
/// `output`, `output.index` and events file.
pub struct Capture {
    sink: Arc<Mutex<Sink>>,
}

impl Capture {
    /// Open (truncating) `output` and `output.index` in `guild_dir`.
    pub fn open(guild_dir: &Path, parser: ScalarParser, echo: bool) -> Result<Capture> {
        let out_path = guild_dir.join("output");
        let idx_path = guild_dir.join("output.index");
        let output = File::create(&out_path).ctx("creating", &out_path)?;
        let index = File::create(&idx_path).ctx("creating", &idx_path)?;
        Ok(Capture {
            sink: Arc::new(Mutex::new(Sink {
                output,
                index,
                events: EventWriter::new(guild_dir),
                parser,
                echo,
                scratch: Vec::new(),
                index_buf: Vec::new(),
                error: None,
            })),
        })
    }

    /// Start a reader thread for one pipe (`stream` 0 = stdout, 1 = stderr).
    /// It sends on `done` when the pipe has been read to its end.
    pub fn reader<R: Read + Send + 'static>(
        &self,
        mut pipe: R,
        stream: u8,
        done: Option<std::sync::mpsc::Sender<()>>,
    ) -> std::thread::JoinHandle<()> {
        let sink = Arc::clone(&self.sink);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; FIRST_READ_BUF];
            let mut partial = LineState::default();
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                {
                    let mut s = match sink.lock() {
                        Ok(s) => s,
                        Err(p) => p.into_inner(),
                    };
                    s.chunk(&buf[..n], stream, &mut partial);
                }
                if n == buf.len() && buf.len() < READ_BUF {
                    buf.resize(buf.len() * 2, 0);
                }
            }
            let mut s = match sink.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            s.finish(stream, &mut partial);
            drop(s);
            if let Some(d) = done {
                let _ = d.send(());
            }
        })
    }

    /// Record (and echo) a line of the tracker's own on stderr, between
    /// the run's lines.
    pub fn note(&self, line: &str) {
        let mut s = match self.sink.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let text = format!("{line}\n");
        s.chunk(text.as_bytes(), 1, &mut LineState::default());
    }

    /// Flush scalars and report the first write error, if any.
    pub fn close(self) -> Result<()> {
        let mut s = match self.sink.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.events.flush()?;
        match s.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Per-stream state: the current line's bytes not yet in `output` (only
/// complete lines are written, so stdout and stderr never interleave inside
/// a line) and its prefix kept for scalar parsing.
#[derive(Default)]
struct LineState {
    pending: Vec<u8>,
    parse: Vec<u8>,
}

/// A line longer than this is written out before its end arrives.
const MAX_PENDING: usize = 1024 * 1024;

impl Sink {
    fn chunk(&mut self, data: &[u8], stream: u8, st: &mut LineState) {
        if self.echo {
            // A closed terminal (e.g. `| head`) must not stop the run.
            let _ = if stream == 0 {
                let mut o = std::io::stdout().lock();
                o.write_all(data).and_then(|_| o.flush())
            } else {
                std::io::stderr().lock().write_all(data)
            };
        }
        let mut rec = [0u8; 9];
        rec[..8].copy_from_slice(&now_ms().to_be_bytes());
        rec[8] = stream;
        self.index_buf.clear();
        let mut held = std::mem::take(&mut st.pending);
        // One pass for the line ends and one for the colons over the whole
        // chunk: a line is parsed only if a pattern could match it (with
        // the default patterns, only a line with a `:`).
        let needs_colon = self.parser.needs_colon();
        let mut colons = memchr::memchr_iter(b':', data);
        let mut next_colon = match needs_colon {
            Some(true) => colons.next().unwrap_or(usize::MAX),
            _ => 0,
        };
        let mut start = 0;
        // The first line ends a line begun in an earlier chunk.
        let mut continued = !st.parse.is_empty() || !held.is_empty();
        for end in memchr::memchr_iter(b'\n', data) {
            self.index_buf.extend_from_slice(&rec);
            let line = &data[start..end];
            if !continued {
                if needs_colon == Some(true) {
                    while next_colon < start {
                        next_colon = colons.next().unwrap_or(usize::MAX);
                    }
                }
                if needs_colon.is_some() && next_colon < end {
                    self.parse(line);
                }
            } else {
                let room = MAX_PARSE_LINE.saturating_sub(st.parse.len());
                st.parse.extend_from_slice(&line[..line.len().min(room)]);
                let full = std::mem::take(&mut st.parse);
                self.parse(&full);
                continued = false;
            }
            start = end + 1;
        }
        let rest = &data[start..];
        let complete_len = start;
        if complete_len > 0 {
            if !held.is_empty() {
                if let Err(e) = self.output.write_all(&held) {
                    self.note_err(e);
                }
                held.clear();
            }
            if let Err(e) = self.output.write_all(&data[..complete_len]) {
                self.note_err(e);
            }
        }
        // The unfinished line waits for its end (or is written when huge).
        if !rest.is_empty() {
            held.extend_from_slice(rest);
            let room = MAX_PARSE_LINE.saturating_sub(st.parse.len());
            st.parse.extend_from_slice(&rest[..rest.len().min(room)]);
            if held.len() > MAX_PENDING {
                if let Err(e) = self.output.write_all(&held) {
                    self.note_err(e);
                }
                held.clear();
            }
        }
        st.pending = held;
        if !self.index_buf.is_empty() {
            let buf = std::mem::take(&mut self.index_buf);
            if let Err(e) = self.index.write_all(&buf) {
                self.note_err(e);
            }
            self.index_buf = buf;
        }
        if let Err(e) = self.events.flush() {
            self.error.get_or_insert(e);
        }
    }

    fn finish(&mut self, stream: u8, st: &mut LineState) {
        if !st.pending.is_empty() {
            let pending = std::mem::take(&mut st.pending);
            if let Err(e) = self.output.write_all(&pending) {
                self.note_err(e);
            }
        }
        if !st.parse.is_empty() || !st.pending.is_empty() {
            let mut rec = now_ms().to_be_bytes().to_vec();
            rec.push(stream);
            if let Err(e) = self.index.write_all(&rec) {
                self.note_err(e);
            }
            let full = std::mem::take(&mut st.parse);
            self.parse(&full);
            if let Err(e) = self.events.flush() {
                self.error.get_or_insert(e);
            }
        }
    }

    fn parse(&mut self, line: &[u8]) {
        if !self.parser.may_match(line) {
            return;
        }
        let text = String::from_utf8_lossy(line);
        self.scratch.clear();
        let mut found = std::mem::take(&mut self.scratch);
        self.parser.parse_line(&text, &mut found);
        for (k, v, s) in &found {
            self.events.add(k, *v, *s);
        }
        self.scratch = found;
    }

    fn note_err(&mut self, e: std::io::Error) {
        if self.error.is_none() {
            self.error = Some(crate::error::Error::user(format!(
                "writing run output: {e}"
            )));
        }
    }
}

/// A piece of a run's output line (see [`IndexedLines::next_piece`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// When its line was written, in ms since the epoch (0 if unindexed).
    pub ms: u64,
    /// The stream it was written to: 0 = stdout, 1 = stderr.
    pub stream: u8,
    /// Its text, without the line's newline.
    pub text: String,
    /// The first piece of its line.
    pub starts: bool,
    /// The last piece of its line.
    pub ends: bool,
}

/// The lines of a run's `output` with their time (ms) and stream from
/// `output.index`, read as a stream (bounded memory whatever the output's
/// size). `only_indexed`: stop at the first line without both its newline
/// and its index record (the run is still writing it); call
/// [`IndexedLines::next_line`] again later to go on from there.
pub struct IndexedLines {
    /// The last piece returned did not end its line.
    mid: bool,
    out: std::io::BufReader<File>,
    idx: Option<std::io::BufReader<File>>,
    /// Bytes of a line read before its end arrived.
    partial: Vec<u8>,
    /// An index record read before its line was complete.
    rec: Option<(u64, u8)>,
}

impl IndexedLines {
    /// Opens the `output` and (if there is one) `output.index` in `guild_dir`.
    pub fn open(guild_dir: &Path) -> Result<IndexedLines> {
        let out_path = guild_dir.join("output");
        let out = File::open(&out_path).ctx("reading", &out_path)?;
        let idx = File::open(guild_dir.join("output.index")).ok();
        Ok(IndexedLines {
            mid: false,
            out: std::io::BufReader::with_capacity(1 << 16, out),
            idx: idx.map(|f| std::io::BufReader::with_capacity(1 << 14, f)),
            partial: Vec::new(),
            rec: None,
        })
    }

    fn next_rec(&mut self) -> Option<(u64, u8)> {
        if self.rec.is_none() {
            use std::io::Read;
            let idx = self.idx.as_mut()?;
            let mut r = [0u8; 9];
            let mut n = 0;
            while n < 9 {
                match idx.read(&mut r[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if n < 9 {
                // A record being written: read it again next time.
                if n > 0 {
                    let _ = std::io::Seek::seek_relative(idx, -(n as i64));
                }
                return None;
            }
            let mut ms = [0u8; 8];
            ms.copy_from_slice(&r[..8]);
            self.rec = Some((u64::from_be_bytes(ms), r[8]));
        }
        self.rec
    }

    /// The next line, or None at the (current) end. A line longer than
    /// [`MAX_PENDING`] comes in pieces, each as a line (see
    /// [`IndexedLines::next_piece`] to tell them apart).
    pub fn next_line(&mut self, only_indexed: bool) -> Option<(u64, u8, String)> {
        self.next_piece(only_indexed)
            .map(|p| (p.ms, p.stream, p.text))
    }

    /// The next piece of output: a whole line, or a part of a long one
    /// (never more than [`MAX_PENDING`] bytes held).
    pub fn next_piece(&mut self, only_indexed: bool) -> Option<Piece> {
        let starts = !self.mid;
        let (ms, stream, text, ends) = self.read_piece(only_indexed)?;
        self.mid = !ends;
        Some(Piece {
            ms,
            stream,
            text,
            starts,
            ends,
        })
    }

    fn read_piece(&mut self, only_indexed: bool) -> Option<(u64, u8, String, bool)> {
        use std::io::BufRead;
        if !self.partial.ends_with(b"\n") {
            // Lines are capped in memory: a line longer than this is
            // returned in pieces.
            let room = (MAX_PENDING as u64).saturating_sub(self.partial.len() as u64);
            let mut limited = std::io::Read::take(&mut self.out, room.max(1));
            let _ = limited.read_until(b'\n', &mut self.partial);
        }
        let ended = self.partial.ends_with(b"\n");
        let complete = ended || self.partial.len() >= MAX_PENDING;
        let rec = self.next_rec();
        if only_indexed && (!complete || rec.is_none()) {
            return None;
        }
        if self.partial.is_empty() {
            return None;
        }
        // One index record per line: a piece of a long line does not use
        // it up (the line's end does, or an unterminated last line).
        if ended || !complete {
            self.rec = None;
        }
        let mut line = std::mem::take(&mut self.partial);
        if line.ends_with(b"\n") {
            line.pop();
        }
        let (ms, stream) = rec.unwrap_or((0, 0));
        Some((
            ms,
            stream,
            String::from_utf8_lossy(&line).into_owned(),
            ended || !complete,
        ))
    }
}

/// Every line of a run's output (see [`IndexedLines`]).
#[cfg(test)]
fn read_indexed(guild_dir: &Path, only_indexed: bool) -> Result<Vec<(u64, u8, String)>> {
    let mut r = IndexedLines::open(guild_dir)?;
    let mut lines = Vec::new();
    while let Some(l) = r.next_line(only_indexed) {
        lines.push(l);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_never_interleave_inside_a_line() {
        let d = tempfile::tempdir().unwrap();
        let cap = Capture::open(d.path(), ScalarParser::defaults(vec![]), false).unwrap();
        let (mut out, mut err) = (LineState::default(), LineState::default());
        {
            let mut s = cap.sink.lock().unwrap();
            s.chunk(b"loss: ", 0, &mut out);
            s.chunk(b"warn\n", 1, &mut err);
            s.chunk(b"0.5\nnext", 0, &mut out);
            s.finish(0, &mut out);
            s.finish(1, &mut err);
        }
        cap.close().unwrap();
        let lines = read_indexed(d.path(), false).unwrap();
        let got: Vec<(u8, &str)> = lines.iter().map(|(_, s, l)| (*s, l.as_str())).collect();
        assert_eq!(got, [(1, "warn"), (0, "loss: 0.5"), (0, "next")]);
        assert_eq!(scalars::run_scalars(d.path())["loss"].last, 0.5);
    }

    #[test]
    fn a_line_longer_than_the_cap_keeps_later_lines_in_step_with_the_index() {
        let d = tempfile::tempdir().unwrap();
        let cap = Capture::open(d.path(), ScalarParser::defaults(vec![]), false).unwrap();
        let (mut out, mut err) = (LineState::default(), LineState::default());
        {
            let mut s = cap.sink.lock().unwrap();
            let long = vec![b'x'; MAX_PENDING + MAX_PENDING / 2];
            s.chunk(&long, 0, &mut out);
            s.chunk(b"\n", 0, &mut out);
            s.chunk(b"err\n", 1, &mut err);
            s.chunk(b"out\n", 0, &mut out);
            s.finish(0, &mut out);
            s.finish(1, &mut err);
        }
        cap.close().unwrap();
        for only_indexed in [false, true] {
            let lines = read_indexed(d.path(), only_indexed).unwrap();
            let tail: Vec<(u8, &str)> = lines
                .iter()
                .rev()
                .take(2)
                .map(|(_, s, l)| (*s, l.as_str()))
                .collect();
            assert_eq!(
                tail,
                [(0, "out"), (1, "err")],
                "only_indexed={only_indexed}"
            );
            let long: usize = lines[..lines.len() - 2]
                .iter()
                .map(|(_, _, l)| l.len())
                .sum();
            assert_eq!(long, MAX_PENDING + MAX_PENDING / 2);
        }
    }

    #[test]
    fn captures_lines_index_and_scalars() {
        let d = tempfile::tempdir().unwrap();
        let cap = Capture::open(d.path(), ScalarParser::defaults(vec![]), false).unwrap();
        let h1 = cap.reader(
            std::io::Cursor::new(b"step: 1\nloss: 0.5\npart".to_vec()),
            0,
            None,
        );
        h1.join().unwrap();
        let h2 = cap.reader(std::io::Cursor::new(b"err\n".to_vec()), 1, None);
        h2.join().unwrap();
        cap.close().unwrap();
        let lines = read_indexed(d.path(), false).unwrap();
        let text: Vec<(u8, &str)> = lines
            .iter()
            .take(3)
            .map(|(_, s, l)| (*s, l.as_str()))
            .collect();
        assert_eq!(text, [(0, "step: 1"), (0, "loss: 0.5"), (0, "parterr")]);
        assert_eq!(
            std::fs::metadata(d.path().join("output.index"))
                .unwrap()
                .len(),
            4 * 9
        );
        let s = scalars::run_scalars(d.path());
        assert_eq!(s["loss"].last, 0.5);
        assert_eq!(s["loss"].last_step, 1);
    }
}
