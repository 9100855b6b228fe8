//! `guild comment`: list, add (from `-a` or an editor), delete and clear
//! run comments, kept in the `comments` attr as Guild 0.9 keeps them.

use super::{Ctx, FilterArgs};
use crate::api::{self, RunInfo};
use crate::render;
use clap::Args;
use guild_format::error::{Error, Result};

#[derive(Args, Debug)]
#[command(
    after_help = "Without --add, an editor ($VISUAL, $EDITOR, else vi) opens for the comment; lines starting with '#' are left out and an empty comment aborts.\n\nExamples:\n  guild comment -a 'baseline for the paper'\n  guild comment --list 1:3\n  guild comment --delete 2 1"
)]
pub(crate) struct CommentArgs {
    /// Runs (default: the latest)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// List the comments of the runs
    #[arg(short = 'l', long)]
    pub(crate) list: bool,
    /// Add COMMENT to the runs
    #[arg(short = 'a', long, value_name = "COMMENT")]
    pub(crate) add: Option<String>,
    /// Type the comment in an editor (the default without --add)
    #[arg(short = 'e', long)]
    pub(crate) edit: bool,
    /// Delete the comment at INDEX (as --list shows it) from the runs
    #[arg(short = 'd', long, value_name = "INDEX")]
    pub(crate) delete: Option<usize>,
    /// Delete all comments of the runs
    #[arg(short = 'c', long)]
    pub(crate) clear: bool,
    /// User of new comments, USER or USER@HOST (default: you on this host)
    #[arg(short = 'u', long, value_name = "USER")]
    pub(crate) user: Option<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

/// A run line as the comment listing shows it (Guild: short id, no index).
fn run_line(r: &RunInfo, cwd: &std::path::Path) -> String {
    let rows = render::run_rows(&[(0, r)], Default::default(), cwd);
    let mut row = rows.into_iter().next().unwrap_or_default();
    if let Some(first) = row.first_mut() {
        *first = r.run.short_id().to_string();
    }
    row.join("  ").trim_end().to_string()
}

pub(crate) fn comment(ctx: &Ctx, a: CommentArgs) -> Result<i32> {
    let modes = [
        a.list,
        a.add.is_some() || a.edit,
        a.delete.is_some(),
        a.clear,
    ];
    if modes.iter().filter(|m| **m).count() > 1 {
        return Err(Error::user(
            "use one of --list, --add/--edit, --delete and --clear Try 'guild comment --help' for more information.",
        ));
    }
    let sel = api::comments::targets(ctx, &super::cmd_runs::selection(&a.runs, &a.filters, false))?;
    if a.list {
        let mut out = String::new();
        for r in &sel {
            out.push_str(&run_line(r, &ctx.cwd));
            out.push('\n');
            let cs = api::comments::list(r);
            if cs.is_empty() {
                out.push_str("  <no comments>\n");
            }
            for (i, c) in cs.iter().enumerate() {
                out.push_str(&format!(
                    "[{}] {} {}\n\n",
                    i + 1,
                    c.user_at_host(),
                    render::fmt_time(Some(c.time))
                ));
                for line in c.body.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
                out.push('\n');
            }
        }
        render::out(out.trim_end());
        return Ok(0);
    }
    if sel.is_empty() {
        eprintln!("No runs to modify.");
        return Ok(0);
    }
    let preview = render::id_preview(&sel, &ctx.cwd);
    let ask = |what: &str| -> Result<bool> {
        if a.yes {
            return Ok(true);
        }
        eprint!("{what}\n{preview}");
        super::confirm("Continue?", true)
    };
    if let Some(index) = a.delete {
        if !ask(&format!(
            "You are about to delete comment {index} from the following runs:"
        ))? {
            return Ok(1);
        }
        api::comments::delete(&sel, index)?;
        eprintln!("Deleted comment for {} run(s)", sel.len());
        return Ok(0);
    }
    if a.clear {
        if !ask("WARNING: You are about to delete ALL comments from the following runs:")? {
            return Ok(1);
        }
        api::comments::clear(&sel)?;
        eprintln!("Deleted all comments for {} run(s)", sel.len());
        return Ok(0);
    }
    // Add: from --add, else typed in an editor (which is the prompt).
    let (body, edited) = match (&a.add, a.edit) {
        (Some(c), false) => (c.trim().to_string(), false),
        (initial, _) => {
            let runs: Vec<String> = sel.iter().map(|r| run_line(r, &ctx.cwd)).collect();
            (edit(initial.as_deref().unwrap_or(""), &runs)?, true)
        }
    };
    if body.is_empty() {
        return Err(Error::user("Aborting due to an empty comment."));
    }
    if !edited && !ask("You are about to add a comment to the following runs:")? {
        return Ok(1);
    }
    api::comments::add(&sel, &body, a.user.as_deref())?;
    eprintln!("Added comment to {} run(s)", sel.len());
    Ok(0)
}

/// A comment typed in the user's editor (a user program: started by the
/// front end, never below it) (`$VISUAL`, `$EDITOR`, else `vi`),
/// starting from `initial`; `#` lines (the help and the runs) are left out.
fn edit(initial: &str, runs: &[String]) -> Result<String> {
    let mut text = format!(
        "{initial}\n# Type a comment for the runs below. Lines starting with '#' are\n# ignored. An empty comment aborts the command.\n#\n# Runs:\n"
    );
    for r in runs {
        text.push_str(&format!("#  {r}\n"));
    }
    let dir = tempfile_dir()?;
    let path = dir.join("COMMENT.GUILD_COMMENT");
    std::fs::write(&path, &text).map_err(|e| Error::io("writing", &path, e))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let mut parts = shlex::split(&editor).unwrap_or_else(|| vec![editor.clone()]);
    if parts.is_empty() {
        parts.push("vi".into());
    }
    let status = std::process::Command::new(&parts[0])
        .args(&parts[1..])
        .arg(&path)
        .status()
        .map_err(|e| {
            Error::user(format!(
                "cannot start the editor '{editor}': {e}; set $EDITOR or use --add COMMENT"
            ))
        })?;
    let typed = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(Error::user(format!(
            "the editor '{editor}' failed ({status}); no comment added"
        )));
    }
    Ok(typed
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("guild-comment-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    Ok(dir)
}
