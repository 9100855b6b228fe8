//! `${...}` references, as Guild expands them in commands, dependency
//! specs, pipeline steps and labels: one syntax, one scanner. Each caller
//! says what a reference stands for; what is left undefined is reported
//! back, so the caller decides between an error and an empty string.
//!
//! A reference is `${` up to the next `}`. Its text may carry a filter
//! after `|` (`${lr|%.3f}`, `${name|default:x}`), which only labels read.

use regex::Regex;
use std::sync::OnceLock;

/// A `${...}` reference in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ref<'a> {
    /// Everything between the braces.
    pub(crate) text: &'a str,
    /// The name before a `|` filter, trimmed.
    pub(crate) name: &'a str,
    /// The filter after `|`, if any.
    pub(crate) filter: Option<&'a str>,
}

impl<'a> Ref<'a> {
    fn of(text: &'a str) -> Ref<'a> {
        let (name, filter) = match text.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f)),
            None => (text.trim(), None),
        };
        Ref { text, name, filter }
    }
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\$\{([^}]+)\}").expect("static regex"))
}

/// Whether `s` has any reference to expand.
pub(crate) fn has_refs(s: &str) -> bool {
    s.contains("${")
}

/// The reference `s` is made of, when it is nothing else (`${lr}`): a
/// step's value then takes the flag's value, not its text.
pub(crate) fn whole_ref(s: &str) -> Option<Ref<'_>> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    (!inner.is_empty() && !inner.contains('}')).then(|| Ref::of(inner))
}

/// `s` with each reference replaced by `value(reference)`. A reference
/// `value` has nothing for becomes empty, and the first such is returned
/// beside the text.
pub(crate) fn expand<'s>(
    s: &'s str,
    mut value: impl FnMut(Ref<'_>) -> Option<String>,
) -> (String, Option<&'s str>) {
    if !has_refs(s) {
        return (s.to_string(), None);
    }
    let mut undefined: Option<&'s str> = None;
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for c in pattern().captures_iter(s) {
        let (Some(m), Some(inner)) = (c.get(0), c.get(1)) else {
            continue;
        };
        out.push_str(&s[last..m.start()]);
        match value(Ref::of(inner.as_str())) {
            Some(v) => out.push_str(&v),
            None => {
                undefined.get_or_insert(inner.as_str());
            }
        }
        last = m.end();
    }
    out.push_str(&s[last..]);
    (out, undefined)
}

/// As [`expand`], for a caller that needs only the text.
pub(crate) fn expand_lossy(s: &str, value: impl FnMut(Ref<'_>) -> Option<String>) -> String {
    expand(s, value).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_reports_the_first_undefined_and_reads_filters() {
        let (s, undefined) = expand("a=${a} b=${b} c=${c}", |r| {
            (r.name == "a").then(|| "1".to_string())
        });
        assert_eq!(s, "a=1 b= c=");
        assert_eq!(undefined, Some("b"));
        let (s, undefined) = expand("no refs", |_| None);
        assert_eq!((s.as_str(), undefined), ("no refs", None));
        let seen = std::cell::RefCell::new(Vec::new());
        expand_lossy("${lr|%.3f} ${ name |default:x}", |r| {
            seen.borrow_mut().push((
                r.text.to_string(),
                r.name.to_string(),
                r.filter.map(String::from),
            ));
            Some(String::new())
        });
        assert_eq!(
            seen.into_inner(),
            vec![
                ("lr|%.3f".into(), "lr".into(), Some("%.3f".into())),
                (
                    " name |default:x".into(),
                    "name".into(),
                    Some("default:x".into())
                ),
            ]
        );
        assert_eq!(whole_ref("${lr}").map(|r| r.text), Some("lr"));
        assert_eq!(whole_ref("x${lr}"), None);
        assert_eq!(whole_ref("${a}${b}"), None);
        // An unclosed reference is text.
        assert_eq!(expand_lossy("${open", |_| Some("X".into())), "${open");
    }
}
