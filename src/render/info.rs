//! `runs info` as Guild prints it: text and JSON.

use crate::api::runs::RunDetail;
use guild_format::run::yaml::encode_display;
use serde_yaml_ng::Value;

/// Guild shows a missing or null attr as an empty value.
fn shown(v: &Option<Value>) -> String {
    v.as_ref()
        .filter(|v| !v.is_null())
        .map(encode_display)
        .unwrap_or_default()
}

pub(crate) fn run_info_json(d: &RunDetail, all_scalars: bool) -> serde_json::Value {
    let r = &d.run;
    let run = &r.run;
    let json = |v: &Option<Value>| v.as_ref().map(super::yaml_to_json).unwrap_or_default();
    let mut m = serde_json::Map::new();
    m.insert("id".into(), run.id.clone().into());
    m.insert("operation".into(), r.op_desc().into());
    m.insert(
        "from".into(),
        r.opref
            .as_ref()
            .map(|o| o.origin_desc())
            .unwrap_or_default()
            .into(),
    );
    m.insert("status".into(), r.status.display().into());
    m.insert("started".into(), super::fmt_time(r.started).into());
    m.insert("stopped".into(), super::fmt_time(r.stopped()).into());
    m.insert("marked".into(), r.marked.into());
    m.insert("label".into(), r.label.clone().unwrap_or_default().into());
    m.insert(
        "name".into(),
        r.name.clone().map(Into::into).unwrap_or_default(),
    );
    m.insert("sourcecode_digest".into(), json(&d.sourcecode_digest));
    m.insert("vcs_commit".into(), json(&d.vcs_commit));
    m.insert("run_dir".into(), run.dir.display().to_string().into());
    m.insert(
        "command".into(),
        d.cmd
            .as_ref()
            .map(super::command_line)
            .unwrap_or_default()
            .into(),
    );
    m.insert(
        "exit_status".into(),
        r.exit_status
            .map(serde_json::Value::from)
            .unwrap_or_default(),
    );
    m.insert(
        "pid".into(),
        d.pid.map(|p| p.to_string()).unwrap_or_default().into(),
    );
    for (name, v) in &d.other_attrs {
        m.insert(name.clone(), super::yaml_to_json(v));
    }
    m.insert("tags".into(), serde_json::json!(r.tags()));
    m.insert(
        "flags".into(),
        d.flags
            .as_ref()
            .map(super::yaml_to_json)
            .unwrap_or(serde_json::json!({})),
    );
    if let Some(p) = &d.proto_flags {
        m.insert("proto-flags".into(), super::yaml_to_json(p));
    }
    m.insert(
        "scalars".into(),
        super::scalars_json(&d.scalars, all_scalars),
    );
    if let Some(e) = &d.env {
        m.insert("environment".into(), super::yaml_to_json(e));
    }
    serde_json::Value::Object(m)
}

pub(crate) fn run_info_text(d: &RunDetail, all_scalars: bool) -> String {
    let r = &d.run;
    let run = &r.run;
    let mut o = String::new();
    let mut kv =
        |k: &str, v: String| o.push_str(&format!("{k}: {}\n", guild_format::text::escape(&v)));
    kv("id", run.id.clone());
    kv("operation", r.op_desc());
    kv(
        "from",
        r.opref
            .as_ref()
            .map(|o| o.origin_desc())
            .unwrap_or_default(),
    );
    kv("status", r.status.display());
    kv("started", super::fmt_time(r.started));
    kv("stopped", super::fmt_time(r.stopped()));
    kv("marked", if r.marked { "yes" } else { "no" }.into());
    kv("label", r.label.clone().unwrap_or_default());
    kv("sourcecode_digest", shown(&d.sourcecode_digest));
    kv("vcs_commit", shown(&d.vcs_commit));
    kv("run_dir", run.dir.display().to_string());
    kv(
        "command",
        d.cmd.as_ref().map(super::command_line).unwrap_or_default(),
    );
    kv(
        "exit_status",
        r.exit_status.map(|e| e.to_string()).unwrap_or_default(),
    );
    kv("pid", d.pid.map(|p| p.to_string()).unwrap_or_default());
    // Other attrs (`run-attrs`, ...), as Guild formats them.
    for (name, v) in &d.other_attrs {
        if name == "datastores" {
            o.push_str("datastores:\n");
            for m in guild_format::datastore::mounted_in(Some(v)) {
                o.push_str(&format!(
                    "  - {} at {} (manifest {})\n",
                    m.spec(),
                    guild_format::text::escape(&m.mount),
                    &m.manifest[..12]
                ));
            }
            continue;
        }
        o.push_str(&format!(
            "{name}: {}\n",
            guild_format::text::escape_keep_newlines(&super::attr_text(v))
        ));
    }
    o.push_str("tags:\n");
    for t in r.tags() {
        o.push_str(&format!("  - {}\n", guild_format::text::escape(t)));
    }
    push_flags(&mut o, "flags", d.flags.as_ref());
    if d.proto_flags.is_some() {
        push_flags(&mut o, "proto-flags", d.proto_flags.as_ref());
    }
    o.push_str("scalars:\n");
    for (k, v) in guild_format::output::scalars::in_guild_order(&d.scalars) {
        if all_scalars {
            // Guild's layout: summaries sorted by name; avg and total carry
            // the count where the others carry a step.
            o.push_str(&format!(
                "  {k}:\n    avg: {:.6} (step {})\n    first: {:.6} (step {})\n    last: {:.6} (step {})\n    max: {:.6} (step {})\n    min: {:.6} (step {})\n    total: {:.6} (step {})\n",
                v.avg(), v.count, v.first, v.first_step, v.last, v.last_step, v.max, v.max_step, v.min, v.min_step, v.total, v.count
            ));
        } else if !k.starts_with("sys/") {
            o.push_str(&super::scalar_line(k, v));
            o.push('\n');
        }
    }
    if let Some(comments) = &d.comments {
        o.push_str("comments:\n");
        for c in comments {
            o.push_str("  -\n");
            let time = super::fmt_time(Some(c.time));
            for (k, v) in [
                ("body", c.body.trim()),
                ("host", c.host.as_str()),
                ("time", time.as_str()),
                ("user", c.user.as_str()),
            ] {
                o.push_str(&format!("    {k}: {v}\n"));
            }
        }
    }
    if let Some(Value::Mapping(e)) = &d.env {
        o.push_str("environment:\n");
        for (k, v) in e {
            o.push_str(&format!(
                "  {}: {}\n",
                k.as_str().unwrap_or(""),
                encode_display(v)
            ));
        }
    }
    if let Some(entries) = &d.manifest {
        o.push_str("manifest:\n");
        for e in entries {
            o.push_str(&format!("  {} {}\n", e.kind, e.fields.join(" ")));
        }
    }
    if let Some(deps) = &d.deps {
        o.push_str("dependencies:\n");
        if let Value::Mapping(m) = deps {
            let mut items: Vec<(String, &Value)> = m
                .iter()
                .map(|(k, v)| (guild_format::run::yaml::py_str(k), v))
                .collect();
            items.sort_by(|x, y| x.0.cmp(&y.0));
            for (k, v) in items {
                match v {
                    Value::Mapping(_) => {
                        o.push_str(&format!("  {k}:\n"));
                        for line in guild_format::run::yaml::dump(v).lines() {
                            o.push_str(&format!("    {line}\n"));
                        }
                    }
                    other => o.push_str(&format!("  {k}: {}\n", encode_display(other))),
                }
            }
        }
    }
    if let Some(plugins) = &d.plugins {
        o.push_str("plugins:\n");
        if let Value::Sequence(p) = plugins {
            for x in p {
                o.push_str(&format!("  - {}\n", encode_display(x)));
            }
        }
    }
    guild_format::text::escape_keep_newlines(&o).into_owned()
}

fn push_flags(o: &mut String, title: &str, flags: Option<&Value>) {
    o.push_str(&format!("{title}:\n"));
    if let Some(Value::Mapping(m)) = flags {
        let mut items: Vec<(&str, &Value)> = m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
            .collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in items {
            match v {
                Value::Sequence(s) => {
                    o.push_str(&format!("  {k}:\n"));
                    for i in s {
                        o.push_str(&format!("    - {}\n", encode_display(i)));
                    }
                }
                other => o.push_str(&format!("  {k}: {}\n", encode_display(other))),
            }
        }
    }
}
