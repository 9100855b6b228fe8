//! `export` and `import`: runs to and from a directory or a zip archive.

use super::{Context, Selection};
use guild_format::error::{Error, Result};
use guild_format::query::{self, RunInfo};
use guild_format::run::archive;
use std::path::{Path, PathBuf};

/// The runs `export` would write.
pub fn export_selection(ctx: &Context, sel: &Selection) -> Result<Vec<RunInfo>> {
    let all = ctx.runs(&sel.filters, false)?;
    query::select(&all, &sel.runs, true)
}

/// Copy (or with `mv`, move) `runs` to the directory or `.zip` at `dest`;
/// returns the ids written. Each run's line goes to the reporter.
pub fn export(
    ctx: &Context,
    runs: &[RunInfo],
    dest: &Path,
    mv: bool,
    copy_resources: bool,
) -> Result<Vec<String>> {
    let runs: Vec<guild_format::run::Run> = runs.iter().map(|r| r.run.clone()).collect();
    archive::export(&runs, dest, mv, copy_resources, &|m| {
        ctx.report.progress(&m)
    })
}

/// An archive opened for import: a directory, or a zip unpacked under the
/// home (removed when this is dropped).
pub struct Archive {
    pub zip: bool,
    dir: PathBuf,
    _unpacked: Option<archive::Unpacked>,
}

impl Archive {
    /// Open `path` (shown to the user as `shown`); `mv` is refused for zip
    /// archives.
    pub fn open(ctx: &Context, path: &Path, shown: &str, mv: bool) -> Result<Archive> {
        if !path.exists() {
            return Err(Error::user(format!("archive '{shown}' does not exist")));
        }
        let zip = archive::is_zip(path);
        if zip && mv {
            return Err(Error::user("'--move' cannot be used with zip archives"));
        }
        if !zip && path.is_file() {
            return Err(Error::user(format!(
                "invalid archive {shown} - expected a directory or a zip file"
            )));
        }
        guild_format::fsutil::create_dir_all(&ctx.home.runs_dir())?;
        let unpacked = if zip {
            Some(archive::unpack(path, &ctx.home.path)?)
        } else {
            None
        };
        let dir = unpacked
            .as_ref()
            .map(|u| u.0.clone())
            .unwrap_or(path.to_path_buf());
        Ok(Archive {
            zip,
            dir,
            _unpacked: unpacked,
        })
    }

    /// The runs in the archive that `sel` names.
    pub fn runs(&self, sel: &Selection) -> Result<Vec<RunInfo>> {
        let all = sel.filters.apply(query::list_dir(&self.dir))?;
        query::select(&all, &sel.runs, true)
    }

    /// Copy (or move) `runs` into the home; returns the ids imported.
    pub fn import(
        &self,
        ctx: &Context,
        runs: &[RunInfo],
        mv: bool,
        copy_resources: bool,
    ) -> Result<Vec<String>> {
        let runs: Vec<guild_format::run::Run> = runs.iter().map(|r| r.run.clone()).collect();
        let zip = self.zip;
        // From a zip, the unpacked copy is moved into place.
        let ids = archive::import(
            &runs,
            &ctx.home.runs_dir(),
            mv || zip,
            copy_resources,
            &|m| {
                ctx.report.progress(&if zip {
                    m.replace("Moving ", "Copying ")
                } else {
                    m
                })
            },
        )?;
        // The datastores the runs mount: this home's copy, or a warning
        // naming the version that is missing and how to get it.
        let store = guild_format::datastore::Store::of(&ctx.home);
        for id in &ids {
            let run = guild_format::run::Run::at(ctx.home.runs_dir().join(id));
            for m in guild_format::datastore::relink(&store, &run)? {
                ctx.report
                    .warning(&format!("WARNING: {}", m.missing(run.short_id())));
            }
        }
        Ok(ids)
    }
}
