//! `tensorboard`: a TensorBoard log directory of the selected runs: each
//! run's own events files (linked), and HParams summaries so TensorBoard's
//! HParams dashboard compares them (a session per run: its flags as
//! hparams, its status; its scalars as metrics).

use super::{Context, Selection};
use guild_format::error::{Error, Result};
use guild_format::output::hparams::{self, HValue, SessionStatus};
use guild_format::run::Status;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Write the log directory of `sel`'s runs into `dir` (made if missing).
/// Returns the run directories written there.
pub fn logdir(
    ctx: &Context,
    sel: &Selection,
    dir: &Path,
    skip_hparams: bool,
) -> Result<Vec<PathBuf>> {
    let runs = super::runs::list(ctx, sel)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let mut all_hparams: BTreeMap<String, HValue> = BTreeMap::new();
    let mut metrics: std::collections::BTreeSet<String> = Default::default();
    let mut written = Vec::new();
    for i in &runs {
        let r = &i.run;
        if r.batch {
            continue;
        }
        let name = format!("{} {}", r.run.short_id(), r.op_desc().replace('/', "_"));
        let rdir = dir.join(&name);
        std::fs::create_dir_all(&rdir).map_err(|e| Error::io("creating", &rdir, e))?;
        for f in guild_format::output::scalars::own_events_files(&r.run) {
            let Some(fname) = f.file_name() else { continue };
            let link = rdir.join(fname);
            if !link.exists() {
                std::os::unix::fs::symlink(&f, &link)
                    .map_err(|e| Error::io("linking", &link, e))?;
            }
        }
        for tag in guild_format::output::scalars::own_scalars(&r.run).keys() {
            metrics.insert(tag.clone());
        }
        if !skip_hparams {
            let flags: Vec<(String, HValue)> = match r.run.attr("flags") {
                Some(Value::Mapping(m)) => m
                    .iter()
                    .filter_map(|(k, v)| {
                        let k = k.as_str()?.to_string();
                        let h = match v {
                            Value::Bool(b) => HValue::Bool(*b),
                            Value::Number(n) => HValue::Number(n.as_f64()?),
                            Value::Null => return None,
                            other => HValue::Text(guild_format::run::yaml::encode_display(other)),
                        };
                        Some((k, h))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (k, v) in &flags {
                all_hparams.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let secs = |us: Option<i64>| us.unwrap_or(0) as f64 / 1e6;
            let ended = match r.status.status {
                Status::Completed => Some((SessionStatus::Success, secs(r.stopped()))),
                Status::Error | Status::Terminated => {
                    Some((SessionStatus::Failure, secs(r.stopped())))
                }
                Status::Running => Some((SessionStatus::Running, secs(r.started))),
                _ => None,
            };
            let data = hparams::session_file(&flags, &r.run.id, secs(r.started), ended);
            let path = rdir.join("events.out.tfevents.0.guild-hparams");
            guild_format::fsutil::write_atomic(&path, &data)?;
        }
        written.push(rdir);
    }
    if !skip_hparams {
        let hp: Vec<(String, HValue)> = all_hparams.into_iter().collect();
        let m: Vec<String> = metrics.into_iter().collect();
        let now = guild_format::run::now_us() as f64 / 1e6;
        let path = dir.join("events.out.tfevents.0.guild-hparams-experiment");
        guild_format::fsutil::write_atomic(&path, &hparams::experiment_file(&hp, &m, now))?;
    }
    Ok(written)
}

/// The Python that has the `tensorboard` package, or a one-line error
/// that says how to install it.
pub fn python_with_tensorboard(ctx: &super::Context) -> Result<PathBuf> {
    let py = guild_format::platform::python_exe(&ctx.cwd)?;
    let ok = std::process::Command::new(&py)
        .args(["-c", "import tensorboard"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(Error::user(format!(
            "TensorBoard is not installed for {}; install it with `{} -m pip install tensorboard`",
            py.display(),
            py.display()
        )));
    }
    Ok(py)
}
