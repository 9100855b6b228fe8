//! The datastores of runs sent to a remote: each version goes to a host
//! once, by the digest of its manifest, whatever the number of runs (a
//! sweep's trials share it). Only the objects the host lacks are copied;
//! the guild there takes the version in and mounts it in the runs.

use super::remote::Sender;
use guild_format::datastore::{self, Mounted, Store};
use guild_format::error::{Error, Result};
use guild_format::run::opref::quote;
use guild_format::run::Run;
use std::collections::BTreeMap;

impl Sender<'_> {
    /// rsync `--exclude` patterns for the mounts of `runs`: each is a link
    /// into this home's store; the host links its own copy.
    pub(crate) fn mount_excludes(runs: &[Run]) -> Vec<String> {
        runs.iter()
            .flat_map(|r| {
                datastore::mounted(r)
                    .into_iter()
                    .map(move |m| format!("/{}/{}", r.id, m.mount))
            })
            .collect()
    }

    /// Send the datastore versions `runs` mount that the host does not
    /// have yet, and have the guild there take them in (and, with
    /// `relink`, mount them in `runs`, already copied there).
    pub(crate) fn send_datastores(&mut self, runs: &[Run], relink: bool) -> Result<()> {
        // By manifest digest: the version, and the first run that mounts it.
        let mut wanted: BTreeMap<String, (Mounted, &str)> = BTreeMap::new();
        for r in runs {
            for m in datastore::mounted(r) {
                wanted.entry(m.manifest.clone()).or_insert((m, &r.id));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let home = self.connect()?.home.clone();
        let have = self.hosted(&home, wanted.keys())?;
        let store = Store::of(self.home);
        let mut specs = Vec::new();
        for (digest, (m, run_id)) in &wanted {
            if have.contains(digest) {
                continue;
            }
            let v = store
                .version_of(m)
                .ok_or_else(|| Error::user(m.missing(run_id)))?;
            let files = store.files_of(&v)?;
            self.report.progress(&format!(
                "Sending datastore {} ({} files, {}) to {}",
                m.spec(),
                v.files,
                guild_format::text::format_bytes(v.size),
                self.site.describe()
            ));
            self.site
                .send_new_files(store.dir(), &files, &format!("{home}/datastores/"))?;
            specs.push(format!("{}@{digest}", m.spec()));
        }
        if specs.is_empty() && !relink {
            return Ok(());
        }
        let mut args = vec!["datastores".to_string(), "receive".into()];
        args.extend(specs);
        if relink {
            for r in runs {
                args.push("--relink".into());
                args.push(r.id.clone());
            }
        }
        self.guild_output(&args).map(|_| ())
    }

    /// The versions (by manifest digest) whose tree the host has built:
    /// one round trip.
    fn hosted<'d>(
        &self,
        home: &str,
        digests: impl Iterator<Item = &'d String>,
    ) -> Result<Vec<String>> {
        let list: Vec<&str> = digests.map(|d| d.as_str()).collect();
        let script = format!(
            "h={}; for d in {}; do [ -d \"$h/datastores/trees/$d\" ] && echo \"have=$d\"; done; exit 0",
            quote(home),
            list.join(" ")
        );
        let out = self
            .site
            .shell(&script)?
            .output()
            .map_err(|e| Error::process("cannot run ssh", e))?;
        if !out.status.success() {
            return Err(self.site.unreachable(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("have="))
            .map(String::from)
            .collect())
    }
}
