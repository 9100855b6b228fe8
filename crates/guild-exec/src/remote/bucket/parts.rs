//! Large files go up in parts: a bounded number in flight, a progress line
//! on a terminal, and a record of the parts done under the home's cache,
//! so that an interrupted upload resumes where it stopped (the same file,
//! unchanged, to the same key). Downloads stream to a temporary file that
//! a later pull continues with a ranged read.

use super::Client;
use futures::stream::{self, StreamExt};
use guild_format::error::{Error, Result};
use guild_format::fsutil;
use guild_format::report::Reporter;
use object_store::multipart::PartId;
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Files from this size go up in parts.
pub(crate) const MULTIPART_FROM: u64 = 32 * 1024 * 1024;
/// The size of a part.
const PART: u64 = 16 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// An upload in parts, as far as it got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Upload {
    key: String,
    id: String,
    size: u64,
    mtime: i64,
    part: u64,
    /// The ETag of each part sent (None: not yet).
    done: Vec<Option<String>>,
}

impl Client {
    fn uploads_dir(&self, cache: &Path) -> PathBuf {
        cache.join("uploads")
    }

    /// Upload `path` (`size` bytes, modified at `mtime`) to `key` in parts,
    /// resuming an upload of the same file that was cut short.
    pub(crate) fn upload_parts(
        &self,
        cache: &Path,
        path: &Path,
        key: &Key,
        size: u64,
        mtime: i64,
        report: &dyn Reporter,
    ) -> Result<()> {
        let dir = self.uploads_dir(cache);
        fsutil::create_dir_all(&dir)?;
        let state_file = dir.join(format!(
            "{}.json",
            blake3::hash(key.as_ref().as_bytes()).to_hex()
        ));
        let parts = size.div_ceil(PART) as usize;
        let previous: Option<Upload> = std::fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|u: &Upload| {
                u.key == key.as_ref() && u.size == size && u.mtime == mtime && u.part == PART
            })
            .filter(|u| u.done.len() == parts);
        let mut up = match previous {
            Some(u) => {
                let have = u.done.iter().filter(|d| d.is_some()).count();
                report.progress(&format!(
                    "Resuming the upload of {} at part {} of {parts}",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    have + 1
                ));
                u
            }
            None => {
                let id = self
                    .rt
                    .block_on(self.multipart.create_multipart(key))
                    .map_err(|e| self.explain("writing to", e))?;
                Upload {
                    key: key.as_ref().to_string(),
                    id,
                    size,
                    mtime,
                    part: PART,
                    done: vec![None; parts],
                }
            }
        };
        save(&state_file, &up)?;
        let file = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
        let state = Mutex::new(up.clone());
        let progress = Progress::new(path, size);
        let todo: Vec<usize> = (0..parts).filter(|i| up.done[*i].is_none()).collect();
        progress.add((parts - todo.len()) as u64 * PART);
        let jobs = todo.into_iter().map(|i| {
            let (file, state, progress, state_file) = (&file, &state, &progress, &state_file);
            let id = up.id.clone();
            async move {
                let start = i as u64 * PART;
                let len = PART.min(size - start) as usize;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, start)
                    .map_err(|e| Error::io("reading", path, e))?;
                let part = self
                    .multipart
                    .put_part(key, &id, i, PutPayload::from(buf))
                    .await
                    .map_err(|e| self.explain("writing to", e))?;
                let snapshot = {
                    let mut s = state
                        .lock()
                        .map_err(|_| Error::user("upload state poisoned"))?;
                    s.done[i] = Some(part.content_id);
                    s.clone()
                };
                save(state_file, &snapshot)?;
                progress.add(len as u64);
                Ok::<(), Error>(())
            }
        });
        let results: Vec<Result<()>> = self.rt.block_on(
            stream::iter(jobs)
                .buffer_unordered(PARTS_IN_FLIGHT)
                .collect(),
        );
        progress.finish();
        results.into_iter().collect::<Result<Vec<()>>>()?;
        up = state
            .into_inner()
            .map_err(|_| Error::user("upload state poisoned"))?;
        let ids: Vec<PartId> = up
            .done
            .iter()
            .map(|d| PartId {
                content_id: d.clone().unwrap_or_default(),
            })
            .collect();
        let done = self
            .rt
            .block_on(self.multipart.complete_multipart(key, &up.id, ids));
        if let Err(e) = done {
            // An upload the server no longer has (expired, aborted): the
            // next push starts it again.
            let _ = std::fs::remove_file(&state_file);
            return Err(self.explain("writing to", e));
        }
        let _ = std::fs::remove_file(&state_file);
        Ok(())
    }

    /// Stream `key` (`size` bytes) into `tmp`, continuing what an earlier
    /// pull left there (then true). A large file shows its progress on a
    /// terminal.
    pub(crate) async fn download_to(
        &self,
        key: &Key,
        tmp: &Path,
        size: u64,
        report: &dyn Reporter,
    ) -> Result<bool> {
        let have = tmp.metadata().map(|m| m.len()).unwrap_or(0);
        let resume = have > 0 && have < size;
        let name = key.filename().unwrap_or_default();
        if resume {
            report.progress(&format!(
                "Resuming the download of {name} at {} of {}",
                guild_format::text::format_bytes(have),
                guild_format::text::format_bytes(size)
            ));
        }
        let progress = (size >= MULTIPART_FROM).then(|| Progress::named(name, size));
        let opts = GetOptions {
            range: resume.then_some(GetRange::Offset(have)),
            ..Default::default()
        };
        let got = self
            .store
            .get_opts(key, opts)
            .await
            .map_err(|e| self.explain("reading", e))?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resume)
            .truncate(!resume)
            .open(tmp)
            .map_err(|e| Error::io("writing", tmp, e))?;
        if let Some(p) = &progress {
            p.add(if resume { have } else { 0 });
        }
        let mut chunks = got.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.explain("reading", e))?;
            out.write_all(&chunk)
                .map_err(|e| Error::io("writing", tmp, e))?;
            if let Some(p) = &progress {
                p.add(chunk.len() as u64);
            }
        }
        if let Some(p) = &progress {
            p.finish();
        }
        Ok(resume)
    }
}

fn save(path: &Path, up: &Upload) -> Result<()> {
    let text = serde_json::to_vec(up).map_err(|e| Error::user(e.to_string()))?;
    fsutil::write_atomic(path, &text)
}

/// A progress line on a terminal (nothing otherwise).
struct Progress {
    name: String,
    total: u64,
    sent: Mutex<u64>,
    shown: bool,
}

impl Progress {
    fn new(path: &Path, total: u64) -> Progress {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Progress::named(&name, total)
    }

    fn named(name: &str, total: u64) -> Progress {
        Progress {
            name: name.to_string(),
            total,
            sent: Mutex::new(0),
            shown: std::io::stderr().is_terminal(),
        }
    }

    fn add(&self, n: u64) {
        let Ok(mut sent) = self.sent.lock() else {
            return;
        };
        *sent = (*sent + n).min(self.total);
        if self.shown {
            let pct = *sent * 100 / self.total.max(1);
            eprint!(
                "\r{}: {pct}% ({} of {})",
                self.name,
                guild_format::text::format_bytes(*sent),
                guild_format::text::format_bytes(self.total)
            );
        }
    }

    fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}
