//! Run comments (`comment`): list, add, delete, clear.

use super::{Context, Selection};
use guild_format::error::Result;
use guild_format::query::{self, RunInfo};
use guild_format::run::comments;

pub use guild_format::run::comments::Comment;

/// The runs a comment command acts on: the selection, default the
/// latest; none when nothing matches.
pub fn targets(ctx: &Context, sel: &Selection) -> Result<Vec<RunInfo>> {
    let all = ctx.runs(&sel.filters, false)?;
    let specs = if sel.runs.is_empty() {
        vec!["1".to_string()]
    } else {
        sel.runs.clone()
    };
    Ok(query::select(&all, &specs, false).unwrap_or_default())
}

/// A run's comments, oldest first.
pub fn list(run: &RunInfo) -> Vec<Comment> {
    comments::read(&run.run)
}

/// Add `body` (by `user`, default the current user) to each run.
pub fn add(runs: &[RunInfo], body: &str, user: Option<&str>) -> Result<()> {
    let c = Comment::new(body, user);
    for r in runs {
        comments::add(&r.run, &c)?;
    }
    Ok(())
}

/// Delete comment `index` (1-based, as listed) of each run.
pub fn delete(runs: &[RunInfo], index: usize) -> Result<()> {
    for r in runs {
        comments::delete(&r.run, index)?;
    }
    Ok(())
}

/// Delete every comment of each run.
pub fn clear(runs: &[RunInfo]) -> Result<()> {
    for r in runs {
        comments::clear(&r.run)?;
    }
    Ok(())
}
