//! Run comments: the `comments` attr, a list of `{body, host, time,
//! user}` as Guild 0.9 writes it (`time` in microseconds).

use super::Run;
use crate::error::{Error, Result};
use serde_yaml_ng::{Mapping, Value};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comment {
    pub body: String,
    pub user: String,
    pub host: String,
    pub time: i64,
}

impl Comment {
    /// A new comment by `user` (`USER` or `USER@HOST`; default: this user
    /// on this host), now.
    pub fn new(body: &str, user: Option<&str>) -> Comment {
        let (user, host) = match user {
            Some(u) => match u.split_once('@') {
                Some((u, h)) => (u.to_string(), h.to_string()),
                None => (u.to_string(), crate::platform::hostname()),
            },
            None => (crate::platform::user(), crate::platform::hostname()),
        };
        Comment {
            body: body.to_string(),
            user,
            host,
            time: super::now_us(),
        }
    }

    /// `user@host` (just `user` without a host), as Guild shows it.
    pub fn user_at_host(&self) -> String {
        if self.host.is_empty() {
            self.user.clone()
        } else {
            format!("{}@{}", self.user, self.host)
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert("body".into(), self.body.clone().into());
        m.insert("host".into(), self.host.clone().into());
        m.insert("time".into(), self.time.into());
        m.insert("user".into(), self.user.clone().into());
        Value::Mapping(m)
    }
}

fn raw(run: &Run) -> Vec<Value> {
    match run.attr("comments") {
        Some(Value::Sequence(s)) => s,
        _ => Vec::new(),
    }
}

/// The run's comments, oldest first.
pub fn read(run: &Run) -> Vec<Comment> {
    raw(run)
        .iter()
        .filter_map(|v| {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Some(Comment {
                body: s("body"),
                user: s("user"),
                host: s("host"),
                time: v.get("time").and_then(Value::as_i64)?,
            })
        })
        .collect()
}

pub fn add(run: &Run, c: &Comment) -> Result<()> {
    let mut all = raw(run);
    all.push(c.to_value());
    run.write_attr("comments", &Value::Sequence(all))
}

/// Delete comment `index` (1-based); an index past the end changes nothing.
pub fn delete(run: &Run, index: usize) -> Result<()> {
    let mut all = raw(run);
    if index >= 1 && index <= all.len() {
        all.remove(index - 1);
        run.write_attr("comments", &Value::Sequence(all))?;
    }
    Ok(())
}

pub fn clear(run: &Run) -> Result<()> {
    run.del_attr("comments")
}

/// A comment typed in the user's editor (`$VISUAL`, `$EDITOR`, else `vi`),
/// starting from `initial`; `#` lines (the help and the runs) are left out.
pub fn edit(initial: &str, runs: &[String]) -> Result<String> {
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
