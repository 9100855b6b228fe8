//! Object storage remotes: a bucket (S3 or S3-compatible, GCS, Azure Blob)
//! holding run directories as Guild 0.9's `type: s3` remotes lay them out,
//! one object per file:
//!
//! ```text
//! ROOT/runs/ID/...            a run's files (attrs, output, source code...)
//! ROOT/trash/runs/ID/...      deleted runs (`runs delete --remote`)
//! ROOT/manifests/runs/ID.json every file of a run with its size, mode,
//!                             mtime and BLAKE3 digest, and the run's small
//!                             metadata files inline; written last by push
//! ROOT/manifests/trash/ID.json
//! ROOT/index.json             the metadata of every run, by manifest ETag:
//!                             a cache that listing rebuilds from manifests
//! ROOT/meta-id                changed on every change, as Guild does
//! ```
//!
//! A reader goes by the manifests, so it never sees half a run: files first,
//! the manifest last. The client is `object_store`, driven by a
//! single-threaded runtime made per command.

use guild_format::error::{Error, Result};
use object_store::multipart::MultipartStore;
use object_store::path::Path as Key;
use object_store::ObjectStore;
use std::sync::Arc;

mod listing;
mod parts;
mod transfer;

pub use listing::{mirror_places, BucketStatus, Listed};
pub use transfer::{Moved, Place};

/// Which object storage service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// S3, or an S3-compatible server (MinIO, Ceph, R2, GCS's S3 API).
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage (the bucket is the container).
    Azure,
}

impl Service {
    pub(crate) fn of(t: &str) -> Service {
        match t {
            "gcs" => Service::Gcs,
            "azure-blob" => Service::Azure,
            _ => Service::S3,
        }
    }

    /// The `type` of the remote.
    pub fn type_name(&self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gcs",
            Service::Azure => "azure-blob",
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gs",
            Service::Azure => "az",
        }
    }
}

/// A bucket remote, as the user config defines it (Guild's keys `bucket`,
/// `root`, `region`, `local-env`, plus `endpoint` and `profile`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The service.
    pub service: Service,
    /// The bucket (Azure: the container).
    pub bucket: String,
    /// The prefix runs are under, without leading or trailing `/` ("" for
    /// the bucket's top).
    pub root: String,
    /// The region (S3).
    pub region: Option<String>,
    /// The server's URL, for an S3-compatible store.
    pub endpoint: Option<String>,
    /// A profile of `~/.aws/credentials` and `~/.aws/config` (S3).
    pub profile: Option<String>,
    /// Environment for the client (credentials, `AWS_PROFILE`...), over
    /// the process's own.
    pub local_env: Vec<(String, String)>,
}

/// `root` as a key prefix: `/a/b/` → `a/b`. Only plain names.
pub(crate) fn clean_root(root: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(format!(
            "`root` must be a path of plain names, not '{root}'"
        ));
    }
    Ok(parts.join("/"))
}

impl Bucket {
    /// `s3://bucket/root`, as people write it.
    pub fn url(&self) -> String {
        let mut u = format!("{}://{}", self.service.scheme(), self.bucket);
        if !self.root.is_empty() {
            u.push('/');
            u.push_str(&self.root);
        }
        u
    }

    /// The user config that declares this bucket as remote `name`, for a
    /// guild elsewhere (a Ray job): its settings, never `local-env` (where
    /// credentials may be).
    pub fn config_yaml(&self, name: &str) -> String {
        let mut def = serde_yaml_ng::Mapping::new();
        let mut put = |k: &str, v: &str| {
            def.insert(k.into(), v.into());
        };
        put("type", self.service.type_name());
        put("bucket", &self.bucket);
        if !self.root.is_empty() {
            put("root", &self.root);
        }
        for (k, v) in [
            ("region", &self.region),
            ("endpoint", &self.endpoint),
            ("profile", &self.profile),
        ] {
            if let Some(v) = v {
                put(k, v);
            }
        }
        let mut remotes = serde_yaml_ng::Mapping::new();
        remotes.insert(name.into(), serde_yaml_ng::Value::Mapping(def));
        let mut top = serde_yaml_ng::Mapping::new();
        top.insert("remotes".into(), serde_yaml_ng::Value::Mapping(remotes));
        serde_yaml_ng::to_string(&top).unwrap_or_default()
    }

    /// The environment the client reads: the process's, with `local-env`
    /// over it, and the profile's credentials and region under both.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        env.extend(self.local_env.iter().cloned());
        let get = |env: &[(String, String)], k: &str| {
            env.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let profile = self.profile.clone().or_else(|| get(&env, "AWS_PROFILE"));
        if self.service == Service::S3 {
            if let Some(p) = profile {
                let mut from_profile = aws_profile(&env, &p);
                // What the environment sets wins over the profile.
                from_profile.retain(|(k, _)| get(&env, k).is_none());
                env.extend(from_profile);
            }
        }
        env
    }

    /// Connect (nothing is sent until the first request).
    pub fn client(&self, remote: &str) -> Result<Client> {
        let env = self.env();
        let bad = |e: object_store::Error| {
            Error::user(format!(
                "remote '{remote}': cannot set up the {} client ({}); check its settings",
                self.service.type_name(),
                one_line(&e.to_string())
            ))
        };
        let (store, multipart): (Arc<dyn ObjectStore>, Arc<dyn MultipartStore>) = match self.service
        {
            Service::S3 => {
                use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
                let mut b = AmazonS3Builder::new();
                for (key, v) in config_keys::<AmazonS3ConfigKey>(&env, "AWS_") {
                    b = b.with_config(key, v);
                }
                b = b.with_bucket_name(&self.bucket).with_region(
                    self.region
                        .clone()
                        .or_else(|| lookup(&env, "AWS_REGION"))
                        .or_else(|| lookup(&env, "AWS_DEFAULT_REGION"))
                        .unwrap_or_else(|| "us-east-1".into()),
                );
                if let Some(e) = self
                    .endpoint
                    .clone()
                    .or_else(|| lookup(&env, "AWS_ENDPOINT_URL"))
                {
                    b = b
                        .with_allow_http(e.starts_with("http://"))
                        .with_endpoint(e)
                        .with_virtual_hosted_style_request(false);
                }
                let s = Arc::new(b.build().map_err(bad)?);
                (s.clone(), s)
            }
            Service::Gcs => {
                use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
                let mut b = GoogleCloudStorageBuilder::new();
                for (key, v) in config_keys::<GoogleConfigKey>(&env, "GOOGLE_") {
                    b = b.with_config(key, v);
                }
                let s = Arc::new(b.with_bucket_name(&self.bucket).build().map_err(bad)?);
                (s.clone(), s)
            }
            Service::Azure => {
                use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
                let mut b = MicrosoftAzureBuilder::new();
                for (key, v) in config_keys::<AzureConfigKey>(&env, "AZURE_") {
                    b = b.with_config(key, v);
                }
                if let Some(e) = &self.endpoint {
                    b = b
                        .with_endpoint(e.clone())
                        .with_allow_http(e.starts_with("http://"));
                }
                let s = Arc::new(b.with_container_name(&self.bucket).build().map_err(bad)?);
                (s.clone(), s)
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::process("cannot start the I/O runtime", e))?;
        Ok(Client {
            store,
            multipart,
            rt,
            root: self.root.clone(),
            remote: remote.to_string(),
            bucket: self.clone(),
        })
    }
}

/// The settings of a client in `env`: each variable named `PREFIX…` whose
/// lowercased name is one of the client's config keys (`AWS_REGION` →
/// `aws_region`), as the builders' own `from_env` reads them.
fn config_keys<'e, K: std::str::FromStr>(
    env: &'e [(String, String)],
    prefix: &str,
) -> Vec<(K, &'e str)> {
    env.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase().parse::<K>().ok()?, v.as_str())))
        .collect()
}

fn lookup(env: &[(String, String)], k: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
}

/// The credentials and region of AWS profile `name`, from the shared
/// credentials and config files (where the environment says they are).
fn aws_profile(env: &[(String, String)], name: &str) -> Vec<(String, String)> {
    let home = lookup(env, "HOME").unwrap_or_default();
    let creds = lookup(env, "AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let config = lookup(env, "AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    let mut out = Vec::new();
    let keys = [
        ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("aws_session_token", "AWS_SESSION_TOKEN"),
        ("region", "AWS_REGION"),
        ("endpoint_url", "AWS_ENDPOINT_URL"),
    ];
    let sections = [
        (creds, name.to_string()),
        (config, format!("profile {name}")),
    ];
    for (file, section) in sections {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut inside = false;
        for line in text.lines().map(str::trim) {
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let s = s.trim();
                inside = s == section || (s == name && section.starts_with("profile "));
                continue;
            }
            let Some((k, v)) = line.split_once('=').filter(|_| inside) else {
                continue;
            };
            if let Some((_, var)) = keys.iter().find(|(key, _)| *key == k.trim()) {
                if !out.iter().any(|(n, _): &(String, String)| n == var) {
                    out.push((var.to_string(), v.trim().to_string()));
                }
            }
        }
    }
    out
}

/// A connected bucket: its store, a runtime to drive it, and the keys of
/// its layout.
pub struct Client {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The same store's multipart uploads, driven part by part (so an
    /// interrupted upload resumes).
    pub(crate) multipart: Arc<dyn MultipartStore>,
    pub(crate) rt: tokio::runtime::Runtime,
    root: String,
    pub(crate) remote: String,
    pub(crate) bucket: Bucket,
}

impl Client {
    /// The key of `rel` under the root.
    pub(crate) fn key(&self, rel: &str) -> Key {
        if self.root.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.root))
        }
    }

    /// A request's error as one line that names the fix.
    pub(crate) fn explain(&self, what: &str, e: object_store::Error) -> Error {
        let text = one_line(&e.to_string());
        let b = &self.bucket;
        let r = &self.remote;
        let fix = if text.contains("NoSuchBucket") || text.contains("bucket does not exist") {
            format!(
                "the bucket {} does not exist{}; create it, or fix `bucket` of remote '{r}'",
                b.bucket,
                b.endpoint
                    .as_deref()
                    .map(|e| format!(" on {e}"))
                    .unwrap_or_default()
            )
        } else if text.contains("InvalidAccessKeyId")
            || text.contains("SignatureDoesNotMatch")
            || text.contains("ExpiredToken")
            || matches!(e, object_store::Error::Unauthenticated { .. })
        {
            format!(
                "{} refused the credentials ({}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or `profile`/`local-env` of remote '{r}'",
                b.url(),
                first_code(&text)
            )
        } else if text.contains("AccessDenied")
            || matches!(e, object_store::Error::PermissionDenied { .. })
        {
            format!(
                "{what} {} was refused (AccessDenied); give these credentials access to the bucket, or use others (`profile`/`local-env` of remote '{r}')",
                b.url()
            )
        } else if text.contains("error sending request")
            || text.contains("Connection refused")
            || text.contains("dns error")
        {
            format!(
                "cannot reach {} ({}); check `endpoint` of remote '{r}' and the network",
                b.endpoint.as_deref().unwrap_or(b.service.type_name()),
                text.chars().take(160).collect::<String>()
            )
        } else {
            format!("{what} {} failed: {text}", b.url())
        };
        Error::user(fix)
    }
}

/// The first S3 error code in `text` (`InvalidAccessKeyId`...).
fn first_code(text: &str) -> String {
    [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
    ]
    .iter()
    .find(|c| text.contains(*c))
    .map(|c| c.to_string())
    .unwrap_or_else(|| "unauthenticated".into())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_profiles() {
        assert_eq!(clean_root("/").unwrap(), "");
        assert_eq!(clean_root("/a/b/").unwrap(), "a/b");
        assert!(clean_root("/a/../b").is_err());
        let t = tempfile::tempdir().unwrap();
        let creds = t.path().join("credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = D\n[team]\naws_access_key_id = K\naws_secret_access_key = S\n",
        )
        .unwrap();
        let cfg = t.path().join("config");
        std::fs::write(&cfg, "[profile team]\nregion = eu-west-1\n").unwrap();
        let env = vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                creds.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_string(), cfg.display().to_string()),
        ];
        let got = aws_profile(&env, "team");
        assert_eq!(
            got,
            [
                ("AWS_ACCESS_KEY_ID".to_string(), "K".to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), "S".to_string()),
                ("AWS_REGION".to_string(), "eu-west-1".to_string()),
            ]
        );
    }
}
