//! Output capture: one reader thread per child pipe streams to the terminal,
//! `.guild/output` and `.guild/output.index`, and feeds complete lines to the
//! scalar parser, whose scalars are appended to the run's events file as they
//! appear. Memory is bounded by the read buffer and one partial line.

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

const READ_BUF: usize = 256 * 1024;
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
    pub fn reader<R: Read + Send + 'static>(
        &self,
        mut pipe: R,
        stream: u8,
    ) -> std::thread::JoinHandle<()> {
        let sink = Arc::clone(&self.sink);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; READ_BUF];
            let mut partial: Vec<u8> = Vec::new();
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let mut s = match sink.lock() {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
                s.chunk(&buf[..n], stream, &mut partial);
            }
            let mut s = match sink.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            s.finish(stream, &mut partial);
        })
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

impl Sink {
    fn chunk(&mut self, data: &[u8], stream: u8, partial: &mut Vec<u8>) {
        if let Err(e) = self.output.write_all(data) {
            self.note_err(e);
        }
        if self.echo {
            // A closed terminal (e.g. `| head`) must not stop the run.
            let _ = if stream == 0 {
                let mut o = std::io::stdout().lock();
                o.write_all(data).and_then(|_| o.flush())
            } else {
                std::io::stderr().lock().write_all(data)
            };
        }
        let ms = now_ms();
        let mut rest = data;
        self.index_buf.clear();
        while let Some(pos) = memchr_nl(rest) {
            let line = &rest[..pos];
            self.index_buf.extend_from_slice(&ms.to_be_bytes());
            self.index_buf.push(stream);
            if partial.is_empty() {
                self.parse(line);
            } else {
                partial.extend_from_slice(line);
                let full = std::mem::take(partial);
                self.parse(&full);
            }
            rest = &rest[pos + 1..];
        }
        if !rest.is_empty() {
            let room = MAX_PARSE_LINE.saturating_sub(partial.len());
            partial.extend_from_slice(&rest[..rest.len().min(room)]);
        }
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

    fn finish(&mut self, stream: u8, partial: &mut Vec<u8>) {
        if !partial.is_empty() {
            let mut rec = now_ms().to_be_bytes().to_vec();
            rec.push(stream);
            if let Err(e) = self.index.write_all(&rec) {
                self.note_err(e);
            }
            let full = std::mem::take(partial);
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

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// Lines of a run's output with their stream and time from `output.index`.
pub fn read_indexed(guild_dir: &Path) -> Result<Vec<(u64, u8, String)>> {
    let out_path = guild_dir.join("output");
    let data = std::fs::read(&out_path).ctx("reading", &out_path)?;
    let idx = std::fs::read(guild_dir.join("output.index")).unwrap_or_default();
    let mut lines = Vec::new();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        let rec = idx.get(i * 9..i * 9 + 9);
        if rec.is_none() && line.is_empty() {
            break;
        }
        let (ms, stream) = rec
            .map(|r| {
                (
                    u64::from_be_bytes(r[..8].try_into().unwrap_or([0; 8])),
                    r[8],
                )
            })
            .unwrap_or((0, 0));
        lines.push((ms, stream, String::from_utf8_lossy(line).into_owned()));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_lines_index_and_scalars() {
        let d = tempfile::tempdir().unwrap();
        let cap = Capture::open(d.path(), ScalarParser::defaults(vec![]), false).unwrap();
        let h1 = cap.reader(
            std::io::Cursor::new(b"step: 1\nloss: 0.5\npart".to_vec()),
            0,
        );
        h1.join().unwrap();
        let h2 = cap.reader(std::io::Cursor::new(b"err\n".to_vec()), 1);
        h2.join().unwrap();
        cap.close().unwrap();
        let lines = read_indexed(d.path()).unwrap();
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
