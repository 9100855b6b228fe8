//! Secrets kept out of what a run records about its environment
//! (`.guild/ENV`, `attrs/env`): one rule for both. A variable whose name
//! contains KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, AUTH, PRIVATE
//! or SESSION (any case) has its value replaced, as has one that repeats
//! other variables (Ray's `RAY_JOB_CONFIG_JSON_ENV_VAR`, which holds a
//! job's `env_vars`); a URL's password part
//! (`scheme://user:PASSWORD@host`) is replaced in any value. The user
//! config (`$GUILD_CONFIG`, else `~/.guild/config.yml`) adds name parts and
//! exempts names:
//!
//! ```yaml
//! redact-env:
//!   names: [WANDB, MY_PRIVATE_THING]   # more name parts to redact
//!   keep: [SSH_AUTH_SOCK]              # names never redacted
//! ```

use crate::error::{Error, Result};
use serde_yaml_ng::Value;
use std::borrow::Cow;

pub(crate) const REDACTED: &str = "<redacted>";

const NAME_PARTS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "SESSION",
];

/// Variables whose value holds other variables' values: Ray gives a job's
/// processes its whole config, `env_vars` (credentials) included.
const WHOLE_NAMES: &[&str] = &["RAY_JOB_CONFIG_JSON_ENV_VAR"];

/// Which environment variables are secrets: the default name parts plus
/// the user config's `redact-env` names, less its `keep` names.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    extra: Vec<String>,
    keep: Vec<String>,
}

impl Rules {
    /// The default rules plus the user config's `redact-env`.
    pub fn load() -> Result<Rules> {
        let Some(path) = crate::home::user_config_path(None) else {
            return Ok(Rules::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Rules::default()),
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        let bad = |what: &str| {
            Error::user(format!(
                "error in {}: {what}; expected `redact-env: {{names: [PART, ...], keep: [NAME, ...]}}`",
                path.display()
            ))
        };
        let cfg: Value =
            crate::run::yaml::parse(&text).map_err(|e| bad(&format!("invalid YAML: {e}")))?;
        let Some(r) = cfg.get("redact-env").filter(|v| !v.is_null()) else {
            return Ok(Rules::default());
        };
        let list = |k: &str| -> Result<Vec<String>> {
            match r.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Sequence(s)) => s
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(String::from)
                            .ok_or_else(|| bad(&format!("redact-env.{k} must be a list of names")))
                    })
                    .collect(),
                Some(_) => Err(bad(&format!("redact-env.{k} must be a list of names"))),
            }
        };
        Ok(Rules {
            extra: list("names")?
                .into_iter()
                .map(|s| s.to_ascii_uppercase())
                .collect(),
            keep: list("keep")?,
        })
    }

    pub(crate) fn secret_name(&self, name: &str) -> bool {
        if self.keep.iter().any(|k| k == name) {
            return false;
        }
        let upper = name.to_ascii_uppercase();
        WHOLE_NAMES.contains(&upper.as_str())
            || NAME_PARTS.iter().any(|p| upper.contains(p))
            || self.extra.iter().any(|p| upper.contains(p.as_str()))
    }

    /// The value to record for variable `name`.
    pub fn value<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if self.secret_name(name) && !value.is_empty() {
            return Cow::Borrowed(REDACTED);
        }
        if self.keep.iter().any(|k| k == name) {
            return Cow::Borrowed(value);
        }
        url_password(value)
    }
}

/// `value` with the password of every `scheme://user:password@` replaced.
fn url_password(value: &str) -> Cow<'_, str> {
    if !value.contains("://") || !value.contains('@') {
        return Cow::Borrowed(value);
    }
    let re = regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):([^@/\s]+)@")
        .expect("static regex");
    match re.replace_all(value, format!("$1:{REDACTED}@").as_str()) {
        Cow::Borrowed(_) => Cow::Borrowed(value),
        Cow::Owned(s) => Cow::Owned(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_url_passwords_are_redacted() {
        let r = Rules::default();
        assert_eq!(r.value("WANDB_API_KEY", "abc"), REDACTED);
        assert_eq!(r.value("OPENAI_API_KEY", "sk-1"), REDACTED);
        assert_eq!(
            r.value("RAY_JOB_CONFIG_JSON_ENV_VAR", r#"{"env_vars": {"A": "x"}}"#),
            REDACTED
        );
        assert_eq!(r.value("github_token", "x"), REDACTED);
        assert_eq!(r.value("HOME", "/root"), "/root");
        assert_eq!(
            r.value("DATABASE_URL", "postgres://bob:s3cr%40t@db:5432/x"),
            "postgres://bob:<redacted>@db:5432/x"
        );
        assert_eq!(r.value("URL", "https://host/a@b"), "https://host/a@b");
        let r = Rules {
            extra: vec!["WANDB".into()],
            keep: vec!["SSH_AUTH_SOCK".into()],
        };
        assert_eq!(r.value("WANDB_ENTITY", "me"), REDACTED);
        assert_eq!(r.value("SSH_AUTH_SOCK", "/tmp/s"), "/tmp/s");
    }
}
