//! Ray clusters (`type: ray`): the definition in the user config, and a
//! client of the Ray Jobs REST API that the head node's dashboard serves
//! (`/api/version`, `/api/packages/...`, `/api/jobs/...`). Runs go there as
//! jobs; their directories come back through the remote's `storage`.

use guild_format::error::{Error, Result};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The Jobs API versions this client speaks (Ray 2.9 and later say 4).
pub const API_VERSIONS: &[&str] = &["4"];

/// Where a Ray cluster's runs are kept, which its nodes and this machine
/// both reach.
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    /// An object storage remote of the user config, by name.
    Bucket(String),
    /// A guild home on a path the cluster's nodes and this machine share.
    Path(String),
}

/// A Ray cluster, reached through its dashboard's Jobs API.
#[derive(Debug, Clone, PartialEq)]
pub struct Ray {
    /// The dashboard's URL (`http://HEAD:8265`).
    pub address: String,
    /// Headers sent with every request (an auth proxy's token).
    pub headers: Vec<(String, String)>,
    /// Where runs go.
    pub storage: Storage,
    /// CPUs each run asks for (default 1).
    pub num_cpus: Option<f64>,
    /// GPUs each run asks for.
    pub num_gpus: Option<f64>,
    /// Memory each run asks for, in bytes.
    pub memory: Option<u64>,
    /// Custom resources each run asks for.
    pub resources: Vec<(String, f64)>,
    /// Environment of the jobs (runtime_env `env_vars`).
    pub env: Vec<(String, String)>,
    /// Packages pip installs for the jobs (runtime_env `pip`).
    pub pip: Vec<String>,
    /// At most this many trials of a sweep run at once.
    pub max_concurrent: Option<u64>,
    /// Cost of one run-hour, for the summary and `status`.
    pub hourly_cost: Option<f64>,
}

/// `2GB`, `512MiB`, `1000`: bytes.
pub(crate) fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`memory` must be bytes or a size like 4GB, not '{text}'"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024f64.powi(4),
        _ => {
            return Err(format!(
                "`memory` must be bytes or a size like 4GB, not '{text}'"
            ))
        }
    };
    Ok((n * mult) as u64)
}

impl Ray {
    /// What each run asks of the cluster, as Ray names it (`CPU`, `GPU`,
    /// `memory`, custom names).
    pub fn asks(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        m.insert("CPU".to_string(), self.num_cpus.unwrap_or(1.0));
        if let Some(g) = self.num_gpus.filter(|g| *g > 0.0) {
            m.insert("GPU".to_string(), g);
        }
        if let Some(b) = self.memory {
            m.insert("memory".to_string(), b as f64);
        }
        for (k, v) in &self.resources {
            m.insert(k.clone(), *v);
        }
        m
    }

    /// The resources of a run, in words (`1 CPU, 1 GPU, 2.0 GB memory`).
    pub fn describe_asks(&self) -> String {
        self.asks()
            .iter()
            .map(|(k, v)| format!("{} {k}", amount(k, *v)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A client of the cluster's Jobs API.
    pub fn client(&self, remote: &str) -> Client {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(5)))
                .timeout_global(Some(Duration::from_secs(120)))
                .build(),
        );
        Client {
            agent,
            base: self.address.trim_end_matches('/').to_string(),
            headers: self.headers.clone(),
            remote: remote.to_string(),
        }
    }
}

/// `1`, `0.5`: a resource amount as people write it.
/// An amount of Ray resource `k` as people read it: memory in bytes
/// (`4.0G`), the others as numbers (f64's Display writes 2.0 as `2`).
pub fn amount(k: &str, v: f64) -> String {
    match k {
        "memory" | "objectStoreMemory" => guild_format::text::format_bytes(v as u64),
        _ => format!("{v}"),
    }
}

/// A job as the Jobs API describes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Job {
    /// The id it was submitted under.
    #[serde(default)]
    pub submission_id: Option<String>,
    /// PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED.
    #[serde(default)]
    pub status: String,
    /// Ray's word on it (why it failed).
    #[serde(default)]
    pub message: Option<String>,
    /// When it started and ended, ms since the epoch.
    #[serde(default)]
    pub start_time: Option<i64>,
    /// When it ended.
    #[serde(default)]
    pub end_time: Option<i64>,
    /// The metadata given at submission.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Job {
    /// Whether Ray is done with it.
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "STOPPED" | "SUCCEEDED" | "FAILED")
    }
}

/// The Jobs API of one cluster.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    headers: Vec<(String, String)>,
    remote: String,
}

/// A response: its status code and body.
struct Got {
    code: u16,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn text(&self) -> String {
        // Ray answers errors as text, often a traceback: its last line.
        crate::remote::last_line(&self.body, "")
            .chars()
            .take(300)
            .collect()
    }
}

impl Client {
    /// The address of the dashboard.
    pub fn address(&self) -> &str {
        &self.base
    }

    fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Got> {
        let url = format!("{}{path}", self.base);
        let mut b = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let resp = match body {
            Some((ctype, data)) => {
                let req = b
                    .header("Content-Type", ctype)
                    .body(data.to_vec())
                    .map_err(|e| Error::user(format!("bad request to {url}: {e}")))?;
                self.agent.run(req)
            }
            None => {
                let req = b
                    .body(())
                    .map_err(|e| Error::user(format!("bad request to {url}: {e}")))?;
                self.agent.run(req)
            }
        };
        let mut resp = resp.map_err(|e| self.unreachable(&e.to_string()))?;
        let code = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| self.unreachable(&e.to_string()))?;
        if code == 401 || code == 403 {
            return Err(Error::user(format!(
                "the Ray dashboard at {} refused the request (HTTP {code}); set the token the proxy wants under `headers` of remote '{}'",
                self.base, self.remote
            )));
        }
        Ok(Got { code, body })
    }

    fn unreachable(&self, why: &str) -> Error {
        Error::user(format!(
            "cannot reach the Ray dashboard at {} ({}); check `address` of remote '{}' and that the head node is up (`ray status` there)",
            self.base,
            why.lines().next().unwrap_or(why),
            self.remote
        ))
    }

    fn failed(&self, what: &str, got: &Got) -> Error {
        Error::user(format!(
            "the Ray cluster of remote '{}' refused to {what} (HTTP {}: {})",
            self.remote,
            got.code,
            got.text()
        ))
    }

    /// The Jobs API version and Ray's version; an error naming the fix
    /// when this client does not speak it.
    pub fn version(&self) -> Result<(String, String)> {
        let got = self.request("GET", "/api/version", None)?;
        let v = got.json().filter(|_| got.code == 200).ok_or_else(|| {
            Error::user(format!(
                "{} does not answer as a Ray dashboard (HTTP {} for /api/version); point `address` of remote '{}' at the dashboard (port 8265 by default)",
                self.base, got.code, self.remote
            ))
        })?;
        let api = v["version"].as_str().unwrap_or("").to_string();
        let ray = v["ray_version"].as_str().unwrap_or("?").to_string();
        if !API_VERSIONS.contains(&api.as_str()) {
            return Err(Error::user(format!(
                "the Ray cluster of remote '{}' speaks Jobs API version {} (Ray {ray}); this tool speaks version {}: use a cluster with Ray 2.9 or later",
                self.remote,
                if api.is_empty() { "unknown" } else { &api },
                API_VERSIONS.join(", ")
            )));
        }
        Ok((api, ray))
    }

    /// The cluster's total and available resources (summed over its
    /// alive nodes).
    pub fn resources(&self) -> Result<(BTreeMap<String, f64>, usize)> {
        let got = self.request("GET", "/nodes?view=summary", None)?;
        let v = got
            .json()
            .filter(|_| got.code == 200)
            .ok_or_else(|| self.failed("list its nodes", &got))?;
        let mut total: BTreeMap<String, f64> = BTreeMap::new();
        let mut alive = 0;
        let nodes = v["data"]["summary"].as_array().cloned().unwrap_or_default();
        for n in &nodes {
            let raylet = &n["raylet"];
            if raylet["state"].as_str().unwrap_or("ALIVE") != "ALIVE" {
                continue;
            }
            alive += 1;
            if let Some(res) = raylet["resourcesTotal"].as_object() {
                for (k, v) in res {
                    if k.starts_with("node:") || k.contains("_group_") {
                        continue;
                    }
                    *total.entry(k.clone()).or_default() += v.as_f64().unwrap_or(0.0);
                }
            }
        }
        Ok((total, alive))
    }

    /// Whether the package `name` (`_ray_pkg_HEX.zip`) is on the cluster.
    pub fn has_package(&self, name: &str) -> Result<bool> {
        let got = self.request("GET", &format!("/api/packages/gcs/{name}"), None)?;
        match got.code {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.failed("look up a package", &got)),
        }
    }

    /// Upload the package `name` (a zip).
    pub fn put_package(&self, name: &str, zip: &[u8]) -> Result<()> {
        let got = self.request(
            "PUT",
            &format!("/api/packages/gcs/{name}"),
            Some(("application/octet-stream", zip)),
        )?;
        if got.code != 200 {
            return Err(self.failed("take a package", &got));
        }
        Ok(())
    }

    /// Submit a job (the body of `POST /api/jobs/`); its submission id.
    pub fn submit(&self, body: &Value) -> Result<String> {
        let data = serde_json::to_vec(body).map_err(|e| Error::user(e.to_string()))?;
        let got = self.request("POST", "/api/jobs/", Some(("application/json", &data)))?;
        let v = got.json().filter(|_| got.code == 200);
        v.as_ref()
            .and_then(|v| v["submission_id"].as_str().or(v["job_id"].as_str()))
            .map(String::from)
            .ok_or_else(|| self.failed("take the job", &got))
    }

    /// A job by submission id (None: the cluster does not know it).
    pub fn job(&self, id: &str) -> Result<Option<Job>> {
        let got = self.request("GET", &format!("/api/jobs/{id}"), None)?;
        if got.code == 404 {
            return Ok(None);
        }
        if got.code != 200 {
            return Err(self.failed("describe a job", &got));
        }
        serde_json::from_slice(&got.body)
            .map(Some)
            .map_err(|e| Error::user(format!("the Ray cluster described job {id} oddly ({e})")))
    }

    /// Every job the cluster knows, by submission id (one request).
    pub fn jobs(&self) -> Result<BTreeMap<String, Job>> {
        let got = self.request("GET", "/api/jobs/", None)?;
        if got.code != 200 {
            return Err(self.failed("list its jobs", &got));
        }
        let jobs: Vec<Job> = serde_json::from_slice(&got.body)
            .map_err(|e| Error::user(format!("the Ray cluster listed its jobs oddly ({e})")))?;
        Ok(jobs
            .into_iter()
            .filter_map(|j| Some((j.submission_id.clone()?, j)))
            .collect())
    }

    /// A job's log (Ray's lines, then the entrypoint's output).
    pub fn logs(&self, id: &str) -> Result<String> {
        let got = self.request("GET", &format!("/api/jobs/{id}/logs"), None)?;
        if got.code != 200 {
            return Err(self.failed("give a job's log", &got));
        }
        Ok(got
            .json()
            .and_then(|v| v["logs"].as_str().map(String::from))
            .unwrap_or_default())
    }

    /// Ask Ray to stop a job (true: it was still going).
    pub fn stop(&self, id: &str) -> Result<bool> {
        let got = self.request(
            "POST",
            &format!("/api/jobs/{id}/stop"),
            Some(("application/json", b"{}")),
        )?;
        if got.code == 404 {
            return Ok(false);
        }
        if got.code != 200 {
            return Err(self.failed("stop a job", &got));
        }
        Ok(got
            .json()
            .and_then(|v| v["stopped"].as_bool())
            .unwrap_or(false))
    }
}

/// The body of a job submission: the entrypoint, the runtime_env, the
/// resources of `ray`, an id and metadata.
pub fn submission(
    ray: &Ray,
    id: &str,
    entrypoint: &str,
    runtime_env: Value,
    metadata: &BTreeMap<String, String>,
) -> Value {
    let asks = ray.asks();
    let mut body = json!({
        "entrypoint": entrypoint,
        "submission_id": id,
        "runtime_env": runtime_env,
        "metadata": metadata,
        "entrypoint_num_cpus": asks.get("CPU").copied().unwrap_or(1.0),
    });
    if let Some(g) = asks.get("GPU") {
        body["entrypoint_num_gpus"] = json!(g);
    }
    if let Some(m) = asks.get("memory") {
        body["entrypoint_memory"] = json!(*m as u64);
    }
    let custom: BTreeMap<&String, &f64> = asks
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "CPU" | "GPU" | "memory"))
        .collect();
    if !custom.is_empty() {
        body["entrypoint_resources"] = json!(custom);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_as_people_write_them() {
        assert_eq!(parse_memory("1000"), Ok(1000));
        assert_eq!(parse_memory("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_memory("512MiB"), Ok(512 * 1024 * 1024));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("2 parsecs").is_err());
    }

    #[test]
    fn a_submission_asks_for_the_runs_resources() {
        let ray = Ray {
            address: "http://h:8265".into(),
            headers: vec![],
            storage: Storage::Path("/shared".into()),
            num_cpus: Some(2.0),
            num_gpus: Some(1.0),
            memory: Some(4 * 1024 * 1024 * 1024),
            resources: vec![("tpu".into(), 0.5)],
            env: vec![],
            pip: vec![],
            max_concurrent: None,
            hourly_cost: None,
        };
        let b = submission(&ray, "guild-x", "true", json!({}), &BTreeMap::new());
        assert_eq!(b["entrypoint_num_cpus"], json!(2.0));
        assert_eq!(b["entrypoint_num_gpus"], json!(1.0));
        assert_eq!(b["entrypoint_memory"], json!(4_u64 * 1024 * 1024 * 1024));
        assert_eq!(b["entrypoint_resources"], json!({"tpu": 0.5}));
        assert_eq!(ray.describe_asks(), "2 CPU, 1 GPU, 4.0G memory, 0.5 tpu");
    }
}
