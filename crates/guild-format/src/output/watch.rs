//! Following a run's output while it runs: file notifications (notify) with
//! a polling fallback for filesystems that do not deliver them (NFS).

use crate::error::{IoContext, Result};
use crate::run::{Run, Status};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

/// Copy `output` to `out` from the start, then follow it until the run
/// stops being running. Returns the final status.
pub fn follow_to(run: &Run, moved_to: &std::path::Path, out: &mut dyn Write) -> Result<Status> {
    use notify::Watcher;
    let mut run = run.clone();
    let mut path = run.guild_path("output");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |_res| {
        let _ = tx.send(());
    })
    .ok();
    if let Some(w) = watcher.as_mut() {
        if w.watch(&run.guild_dir(), notify::RecursiveMode::NonRecursive)
            .is_err()
        {
            watcher = None;
        }
    }
    let mut pos: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // A sweep that ends well moves its batch run to the trash
        // (`moved_to`): it is followed there.
        if !run.dir.exists() && moved_to.join(".guild").is_dir() {
            run = Run::at(moved_to.to_path_buf());
            path = run.guild_path("output");
        }
        let running = run.status().status == Status::Running;
        pos = copy_from(&path, pos, &mut buf, out)?;
        if !running {
            // Final drain after the run ended.
            copy_from(&path, pos, &mut buf, out)?;
            break;
        }
        // Wake on a change, or poll: notifications may never come on NFS,
        // and a process exit is not a file event.
        let timeout = if watcher.is_some() {
            Duration::from_millis(250)
        } else {
            Duration::from_millis(100)
        };
        let _ = rx.recv_timeout(timeout);
        while rx.try_recv().is_ok() {}
    }
    // The supervisor writes exit_status right after the process ends.
    for _ in 0..50 {
        if !run.dir.exists() && moved_to.join(".guild").is_dir() {
            run = Run::at(moved_to.to_path_buf());
        }
        if run.attr("exit_status").is_some() || run.status().status != Status::Error {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(run.status().status)
}

fn copy_from(path: &std::path::Path, pos: u64, buf: &mut [u8], out: &mut dyn Write) -> Result<u64> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(pos),
        Err(e) => return Err(crate::error::Error::io("reading", path, e)),
    };
    f.seek(SeekFrom::Start(pos)).ctx("reading", path)?;
    let mut pos = pos;
    loop {
        let n = f.read(buf).ctx("reading", path)?;
        if n == 0 {
            break;
        }
        let _ = out.write_all(&buf[..n]);
        pos += n as u64;
    }
    let _ = out.flush();
    Ok(pos)
}
