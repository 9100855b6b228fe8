//! `guild datastores`: the list, a version, a create, a verify.

use crate::api::datastores::{Created, Gc, Info, Listed, Verified, Version};

/// A byte count as people read it (`1.2 MB`).
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// One row per version: name:version, files, size, created, runs using it.
pub(crate) fn datastores_table(list: &[Listed]) -> String {
    if list.is_empty() {
        return "No datastores (create one with `guild datastores create NAME DIR`)".into();
    }
    let mut rows = vec![vec![
        "datastore".to_string(),
        "files".into(),
        "size".into(),
        "created".into(),
        "runs".into(),
    ]];
    for d in list {
        for u in &d.versions {
            let v = &u.version;
            rows.push(vec![
                guild_format::text::escape(&format!("{}:{}", v.name, v.version)).into_owned(),
                v.files.to_string(),
                size(v.size),
                guild_format::query::fmt_time(Some(v.created)),
                u.runs.len().to_string(),
            ]);
        }
    }
    super::table(rows)
}

/// What a create stored.
pub(crate) fn datastore_created(c: &Created) -> String {
    let v = &c.version;
    if c.new {
        format!(
            "Created datastore {}:{} ({} files, {}; {} new object(s), {} file(s) hashed)",
            v.name,
            v.version,
            v.files,
            size(v.size),
            c.objects_written,
            c.files_hashed
        )
    } else {
        format!(
            "Datastore {}:{} already holds this content ({} files, {}); no new version",
            v.name,
            v.version,
            v.files,
            size(v.size)
        )
    }
}

/// A version and its files.
pub(crate) fn datastore_info(i: &Info) -> String {
    let v = &i.version;
    let mut out = vec![
        format!("name: {}", v.name),
        format!("version: {}", v.version),
        format!("manifest: {}", v.manifest),
        format!(
            "created: {}",
            guild_format::query::fmt_time(Some(v.created))
        ),
        format!("source: {}", guild_format::text::escape(&v.source)),
        format!("files: {}", v.files),
        format!("size: {}", size(v.size)),
        format!("runs: {}", i.runs.len()),
        "entries:".into(),
    ];
    for e in &i.entries {
        let what = match (&e.link, &e.digest) {
            (Some(t), _) => format!("-> {}", guild_format::text::escape(t)),
            (None, Some(d)) => format!("{} {}", &d[..12.min(d.len())], size(e.size)),
            (None, None) => String::new(),
        };
        out.push(format!("  {}  {what}", guild_format::text::escape(&e.path)));
    }
    out.join("\n")
}

/// What a verify found.
pub(crate) fn datastore_verified(v: &Verified) -> String {
    let mut out = vec![format!("Checked {} object(s)", v.objects)];
    for d in &v.changed {
        out.push(format!(
            "CHANGED {d}: its content no longer matches its digest (restore it by creating its version again from the original files)"
        ));
    }
    for (d, at) in &v.missing {
        out.push(format!(
            "MISSING {d} (needed by {})",
            guild_format::text::escape(at)
        ));
    }
    if v.changed.is_empty() && v.missing.is_empty() {
        out.push("All objects match their digests".into());
    }
    out.join("\n")
}

/// The versions a delete removed, one line each.
pub(crate) fn datastores_deleted(deleted: &[Version]) -> String {
    deleted
        .iter()
        .map(|v| format!("Deleted datastore {}:{}", v.name, v.version))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What gc removed.
pub(crate) fn datastores_gc(gc: &Gc) -> String {
    format!(
        "Removed {} object(s) ({}), {} manifest(s), {} partial file(s)",
        gc.objects,
        size(gc.bytes),
        gc.manifests,
        gc.partial
    )
}
