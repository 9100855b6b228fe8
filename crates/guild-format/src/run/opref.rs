//! `.guild/opref`: `TYPE:NAME VERSION MODEL OP`, shell-quoted, no newline.

use crate::error::{Error, Result};

/// A run's operation reference: the package, model and operation it ran.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opref {
    /// The package type (`guildfile`, `script`, `package`, `builtin`...).
    pub pkg_type: String,
    /// The package name (a guild.yml's path, a script's directory).
    pub pkg_name: String,
    /// The package version.
    pub pkg_version: String,
    /// The model name (may be empty).
    pub model_name: String,
    /// The operation name.
    pub op_name: String,
}

impl Opref {
    /// Parse the text of an opref file; an error when it is malformed.
    pub fn parse(text: &str) -> Result<Opref> {
        let parts = shlex::split(text.trim())
            .filter(|p| p.len() == 4)
            .ok_or_else(|| Error::user(format!("invalid opref {text:?}")))?;
        let (pkg_type, pkg_name) = parts[0]
            .split_once(':')
            .ok_or_else(|| Error::user(format!("invalid opref {text:?}: missing package type")))?;
        Ok(Opref {
            pkg_type: pkg_type.into(),
            pkg_name: pkg_name.into(),
            pkg_version: parts[1].clone(),
            model_name: parts[2].clone(),
            op_name: parts[3].clone(),
        })
    }

    /// The file content: every field quoted as Python's `shlex.quote` does.
    pub fn format(&self) -> String {
        [
            quote(&format!("{}:{}", self.pkg_type, self.pkg_name)),
            quote(&self.pkg_version),
            quote(&self.model_name),
            quote(&self.op_name),
        ]
        .join(" ")
    }

    /// Operation as Guild displays it (`train.py`, `mnist:train`, `pkg/op`).
    pub fn op_desc(&self) -> String {
        match self.pkg_type.as_str() {
            "package" => {
                if self.model_name.is_empty() {
                    format!("{}/{}", self.pkg_name, self.op_name)
                } else {
                    format!("{}/{}:{}", self.pkg_name, self.model_name, self.op_name)
                }
            }
            "func" => format!("{}()", self.op_name),
            "pending" => self.op_name.clone(),
            _ => {
                if self.model_name.is_empty() {
                    self.op_name.clone()
                } else {
                    format!("{}:{}", self.model_name, self.op_name)
                }
            }
        }
    }

    /// The "from" column: a path, `name==version`, or `guildai`.
    pub fn origin_desc(&self) -> String {
        match self.pkg_type.as_str() {
            "script" | "guildfile" => crate::fsutil::tilde(std::path::Path::new(&self.pkg_name)),
            "package" => format!("{}=={}", self.pkg_name, self.pkg_version),
            "builtin" => "guildai".into(),
            _ => self.pkg_name.clone(),
        }
    }
}

/// Python's `shlex.quote`.
pub fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        s.into()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_guild_oprefs() {
        for text in [
            "script:/home/me/p1 '' '' train.py",
            "guildfile:/home/me/exp/gm/guild.yml 7a46e24d4539e73078723e2d34b2facd mnist train",
            "builtin:guildai 0.9.0 '' +",
        ] {
            let o = Opref::parse(text).unwrap();
            assert_eq!(o.format(), text);
        }
        assert_eq!(
            Opref::parse("pending:? ? ? train").unwrap().op_desc(),
            "train"
        );
        let o = Opref::parse("guildfile:/x/guild.yml abc mnist train").unwrap();
        assert_eq!(o.op_desc(), "mnist:train");
        assert!(Opref::parse("nonsense").is_err());
    }

    #[test]
    fn quotes_like_python() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("--lr=0.1"), "--lr=0.1");
    }
}
