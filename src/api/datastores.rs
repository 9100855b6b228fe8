//! Datastores: named, versioned, immutable data in the guild home, stored
//! by content (`guild_format::datastore`). Create, list, show, delete,
//! collect garbage, verify.

use super::{Context, Question};
use guild_format::datastore::{self, Store};
pub use guild_format::datastore::{Created, Entry, Gc, Verified, Version};
use guild_format::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a new version's files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory or a file (relative to the command's directory).
    Path(PathBuf),
    /// `RUN[:PATH]`: a run's files (without its `.guild`), or PATH in it.
    Run(String),
}

/// A datastore with its versions and the runs that use each.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The datastore's name.
    pub name: String,
    /// Its versions, oldest first.
    pub versions: Vec<Used>,
}

/// A version and the runs of the home that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Used {
    /// The version.
    #[serde(flatten)]
    pub version: Version,
    /// Ids of runs that mount it.
    pub runs: Vec<String>,
}

/// `datastores info`: a version, its files, and the runs that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The version.
    #[serde(flatten)]
    pub version: Version,
    /// Its files.
    pub entries: Vec<Entry>,
    /// Ids of runs that mount it.
    pub runs: Vec<String>,
}

/// `datastores create NAME SOURCE`.
pub fn create(ctx: &Context, name: &str, source: &Source) -> Result<Created> {
    let (path, skip_guild) = match source {
        Source::Path(p) => (ctx.cwd.join(p), false),
        Source::Run(spec) => {
            let (run_spec, sub) = match spec.split_once(':') {
                Some((r, p)) => (r, Some(p)),
                None => (spec.as_str(), None),
            };
            let run = guild_format::query::find(&ctx.home.runs_dir(), run_spec)?;
            match sub {
                Some(p) => {
                    // `RUN:` (an empty path) is the whole run.
                    if !p.is_empty() && !guild_format::fsutil::is_plain_rel(p) {
                        return Err(Error::user(format!(
                            "--from-run {spec}: give a path inside the run (no '..', not absolute)"
                        )));
                    }
                    (run.dir.join(p), false)
                }
                None => (run.dir.clone(), true),
            }
        }
    };
    Store::of(&ctx.home).create(name, &path, skip_guild)
}

/// `datastores`: every datastore and its versions.
pub fn list(ctx: &Context) -> Result<Vec<Listed>> {
    let store = Store::of(&ctx.home);
    let using = runs_using(ctx);
    let mut out = Vec::new();
    for name in store.names()? {
        let versions = store
            .versions(&name)?
            .into_iter()
            .map(|v| Used {
                runs: using
                    .get(&(v.name.clone(), v.version))
                    .cloned()
                    .unwrap_or_default(),
                version: v,
            })
            .collect::<Vec<_>>();
        if !versions.is_empty() {
            out.push(Listed { name, versions });
        }
    }
    Ok(out)
}

/// `datastores info NAME[:VERSION]` (no version: the latest).
pub fn info(ctx: &Context, spec: &str) -> Result<Info> {
    let (name, version) = datastore::parse_ref(spec)?;
    let store = Store::of(&ctx.home);
    let v = store.find(&name, version)?;
    Ok(Info {
        entries: store.manifest(&v)?,
        runs: runs_using(ctx)
            .remove(&(v.name.clone(), v.version))
            .unwrap_or_default(),
        version: v,
    })
}

/// `datastores delete NAME[:VERSION]` (no version: every version). Refused
/// while a run of the home uses one, unless `force`.
pub fn delete(ctx: &Context, spec: &str, force: bool, yes: bool) -> Result<Vec<Version>> {
    let (name, version) = datastore::parse_ref(spec)?;
    let store = Store::of(&ctx.home);
    let doomed: Vec<Version> = match version {
        Some(_) => vec![store.find(&name, version)?],
        None => {
            let all = store.versions(&name)?;
            if all.is_empty() {
                return Err(store.find(&name, None).unwrap_err());
            }
            all
        }
    };
    let using = runs_using(ctx);
    if !force {
        for v in &doomed {
            if let Some(runs) = using.get(&(v.name.clone(), v.version)) {
                return Err(Error::user(format!(
                    "datastore {}:{} is used by {} run(s) ({}); delete them first, or use --force",
                    v.name,
                    v.version,
                    runs.len(),
                    runs.iter()
                        .map(|r| &r[..8.min(r.len())])
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    if !yes {
        let list: Vec<String> = doomed
            .iter()
            .map(|v| format!("  {}:{} ({} files)", v.name, v.version, v.files))
            .collect();
        let go = ctx.report.confirm(&Question::Text {
            details: format!(
                "You are about to delete these datastore versions (their data stays until `guild datastores gc`):\n{}\n",
                list.join("\n")
            ),
            question: "Continue?".into(),
            default_yes: false,
        })?;
        if !go {
            return Ok(Vec::new());
        }
    }
    for v in &doomed {
        store.delete(v)?;
    }
    Ok(doomed)
}

/// `datastores gc`.
pub fn gc(ctx: &Context) -> Result<Gc> {
    Store::of(&ctx.home).gc()
}

/// `datastores verify`.
pub fn verify(ctx: &Context) -> Result<Verified> {
    Store::of(&ctx.home).verify()
}

/// Take in versions sent by another guild (`NAME:VERSION@MANIFEST`, their
/// manifests and objects already copied into the store), then mount the
/// datastores of the runs `relink` (copied here too). A run whose
/// version is still missing is an error that names it.
pub fn receive(ctx: &Context, specs: &[String], relink: &[String]) -> Result<Vec<Version>> {
    let store = Store::of(&ctx.home);
    let mut out = Vec::new();
    for s in specs {
        let bad = || {
            Error::user(format!(
                "'{}' is not NAME:VERSION@MANIFEST",
                guild_format::text::escape(s)
            ))
        };
        let (spec, digest) = s.split_once('@').ok_or_else(bad)?;
        let (name, version) = datastore::parse_ref(spec)?;
        out.push(store.receive(&name, version.ok_or_else(bad)?, digest)?);
    }
    for id in relink {
        guild_format::run::check_id(id, "the sending guild")?;
        let run = guild_format::run::Run::at(ctx.home.runs_dir().join(id));
        if let Some(m) = datastore::relink(&store, &run)?.first() {
            return Err(Error::user(m.missing(&run.id)));
        }
    }
    Ok(out)
}

/// Run ids of the home by the datastore versions they mount.
fn runs_using(ctx: &Context) -> BTreeMap<(String, u32), Vec<String>> {
    datastore::runs_using(&ctx.home.runs_dir())
}
