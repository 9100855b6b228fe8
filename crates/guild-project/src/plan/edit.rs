//! Changing a run's label and tags (`guild label`, `guild tag`): compute the
//! new value as Guild 0.9 does and write or delete the attr.

use crate::op::flags;
use guild_format::error::Result;
use guild_format::run::Run;
use serde_yaml_ng::Value;

/// A change to a run's label.
pub enum LabelEdit {
    /// A template with `${flag}`, `${label}` and `${default_label}`.
    Set(String),
    /// Put a template (as for `Set`) before the label, with a space.
    Prepend(String),
    /// Put a template (as for `Set`) after the label, with a space.
    Append(String),
    /// Remove each string; whitespace is collapsed afterwards.
    Remove(Vec<String>),
    /// Remove the label.
    Clear,
}

/// The label `edit` makes of `current` for a run with `run_flags`.
pub(crate) fn new_label(
    current: &str,
    run_flags: &serde_yaml_ng::Mapping,
    edit: &LabelEdit,
) -> String {
    let render = |t: &str| {
        flags::render_label(
            t,
            run_flags,
            &[
                ("label", current.to_string()),
                ("default_label", flags::default_label(run_flags)),
            ],
        )
    };
    let new = match edit {
        LabelEdit::Set(t) => render(t),
        LabelEdit::Prepend(t) => format!("{} {current}", render(t)),
        LabelEdit::Append(t) => format!("{current} {}", render(t)),
        LabelEdit::Clear => String::new(),
        LabelEdit::Remove(parts) => {
            let mut l = current.to_string();
            for rm in parts {
                l = l.replace(rm.as_str(), "");
            }
            l.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    new.trim().to_string()
}

/// Apply `edit` to the run's label attr (deleted when the result is empty).
pub fn edit_label(run: &Run, edit: &LabelEdit) -> Result<String> {
    let current = run.attr_str("label").unwrap_or_default();
    let run_flags = match run.attr("flags") {
        Some(Value::Mapping(m)) => m,
        _ => Default::default(),
    };
    let new = new_label(&current, &run_flags, edit);
    if new.is_empty() {
        run.del_attr("label")?;
    } else {
        run.write_attr("label", &new.clone().into())?;
    }
    Ok(new)
}

/// `--keep-run`/`--keep-batch` on a start: the run stays when it
/// succeeds, whatever its operation's `delete-on-success` says.
pub fn keep_on_success(run: &Run) -> Result<()> {
    if let Some(Value::Mapping(mut op)) = run.attr("op") {
        if op.get("delete-on-success").and_then(Value::as_bool) == Some(true) {
            op.insert("delete-on-success".into(), false.into());
            run.write_attr("op", &Value::Mapping(op))?;
        }
    }
    Ok(())
}

/// The op's label template (`op` attr), if it has one.
pub(crate) fn label_template(run: &Run) -> Option<String> {
    run.attr("op").and_then(|o| {
        o.get("label-template")
            .and_then(|t| t.as_str().map(String::from))
    })
}

/// After a run's flags change from `old` to `new`: a default label follows
/// the new flags, a chosen label stays.
pub fn relabel_for_flags(
    run: &Run,
    old: &serde_yaml_ng::Mapping,
    new: &serde_yaml_ng::Mapping,
) -> Result<()> {
    let label = run.attr_str("label").unwrap_or_default();
    if label == flags::default_label(old) {
        let template = label_template(run);
        let label = super::label_for(None, &[], template.as_deref(), new);
        run.write_attr("label", &label.into())?;
    }
    Ok(())
}

/// A change to a run's tags: clear, then delete, then add.
pub struct TagEdit {
    /// Tags to add (a tag already there is not added twice).
    pub add: Vec<String>,
    /// Tags to delete.
    pub delete: Vec<String>,
    /// Delete every tag first.
    pub clear: bool,
}

/// The sorted, distinct tags `edit` makes of `current`.
pub(crate) fn new_tags(current: &[String], edit: &TagEdit) -> Vec<String> {
    let mut tags: Vec<String> = if edit.clear {
        Vec::new()
    } else {
        current.to_vec()
    };
    tags.retain(|t| !edit.delete.contains(t));
    for t in &edit.add {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    tags.sort();
    tags
}

/// Apply `edit` to the run's tags attr (deleted when no tag is left).
pub fn edit_tags(run: &Run, current: &[String], edit: &TagEdit) -> Result<Vec<String>> {
    let tags = new_tags(current, edit);
    if tags.is_empty() {
        run.del_attr("tags")?;
    } else {
        run.write_attr(
            "tags",
            &Value::Sequence(tags.iter().cloned().map(Value::from).collect()),
        )?;
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> serde_yaml_ng::Mapping {
        serde_yaml_ng::from_str("lr: 0.1\nepochs: 2\n").unwrap()
    }

    #[test]
    fn label_edits() {
        let f = flags();
        let set = LabelEdit::Set("lr=${lr} ${label}".into());
        assert_eq!(new_label("old", &f, &set), "lr=0.1 old");
        let pre = LabelEdit::Prepend("best".into());
        assert_eq!(new_label("old", &f, &pre), "best old");
        let app = LabelEdit::Append("x".into());
        assert_eq!(new_label("", &f, &app), "x");
        let rm = LabelEdit::Remove(vec!["b".into()]);
        assert_eq!(new_label("a b  c", &f, &rm), "a c");
        assert_eq!(new_label("a", &f, &LabelEdit::Clear), "");
    }

    #[test]
    fn tag_edits_are_sorted_and_distinct() {
        let cur = vec!["b".to_string(), "a".to_string()];
        let e = TagEdit {
            add: vec!["c".into(), "a".into()],
            delete: vec!["b".into()],
            clear: false,
        };
        assert_eq!(new_tags(&cur, &e), ["a", "c"]);
        let clear = TagEdit {
            add: vec!["z".into()],
            delete: vec![],
            clear: true,
        };
        assert_eq!(new_tags(&cur, &clear), ["z"]);
    }
}
