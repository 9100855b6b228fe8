//! Run comments: the `comments` attr, a list of `{body, host, time,
//! user}` as Guild 0.9 writes it (`time` in microseconds).

use super::Run;
use crate::error::Result;
use serde_yaml_ng::{Mapping, Value};

/// A comment on a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comment {
    /// The comment's text.
    pub body: String,
    /// Who wrote it.
    pub user: String,
    /// The host it was written on (may be empty).
    pub host: String,
    /// When it was written, in µs since the epoch.
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

/// Append comment `c` to the run's comments.
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

/// Delete all the run's comments.
pub fn clear(run: &Run) -> Result<()> {
    run.del_attr("comments")
}
