//! `guild view` in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver), against the view of a test home.

use super::*;
use fantoccini::{ClientBuilder, Locator};
use std::io::{BufRead, BufReader};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/view-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn view_lists_opens_compares_and_follows_runs_in_chromium() {
    let e = Env::new();
    let data = e.home.parent().unwrap().join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.csv"), "x\n1\n").unwrap();
    e.ok(&["datastores", "create", "mnist", &data.display().to_string()]);
    for lr in ["0.1", "0.2"] {
        let lr = format!("lr={lr}");
        let mut args = vec!["run", "train.py", &lr, "epochs=5", "-y", "-q"];
        // The second run mounts a datastore: its page says which version.
        if lr == "lr=0.2" {
            args.extend(["--datastore", "mnist=data"]);
        }
        e.ok(&args);
    }
    // A run that ends while the page is open.
    e.ok(&["run", "train.py", "sleep=5", "-y", "-q", "--background"]);
    let ids: Vec<String> = e
        .runs_json()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let (running, done) = (ids[0].clone(), ids[1..].to_vec());
    let mut view = Killed(
        e.cmd(&["view", "--port", "0", "--allow-edit"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    let mut said = BufReader::new(view.0.stdout.take().unwrap());
    said.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("Running guild view at ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let port = free_port();
    let _driver = Killed(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup-test-env.sh installs it)"),
    );
    wait_until("chromedriver", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let profile = tempfile::tempdir().unwrap();
    let shots = screenshots();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1400,900",
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let js = |script: &'static str| {
            let c = c.clone();
            async move { c.execute(script, vec![]).await.unwrap() }
        };
        let until = |what: &'static str, script: &'static str| {
            let c = c.clone();
            async move {
                let t0 = Instant::now();
                loop {
                    let v = c.execute(script, vec![]).await.unwrap();
                    if v == serde_json::Value::Bool(true) {
                        return;
                    }
                    assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what} ({v})");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        // The runs table lists the home's runs.
        c.goto(&url).await.unwrap();
        until("3 rows", "return document.querySelectorAll('.row').length === 3").await;
        let text = c.find(Locator::Css("#rows")).await.unwrap().text().await.unwrap();
        for id in &ids {
            assert!(text.contains(&id[..8]), "{text}");
        }
        let dur = js("return [...document.querySelectorAll('.row .dur')].map(d => d.textContent)").await;
        assert!(dur.as_array().unwrap().iter().all(|d| d.as_str().unwrap().starts_with("0:00:")), "{dur}");
        std::fs::write(shots.join("runs.png"), c.screenshot().await.unwrap()).unwrap();
        // Chosen flag and scalar columns.
        js("const i = document.querySelector('#f-cols'); i.value = 'lr, loss'; i.dispatchEvent(new Event('change')); return true").await;
        until("the lr and loss columns", "return document.querySelectorAll('#thead span').length === 12 && document.querySelectorAll('.row .col').length === 6 && [...document.querySelectorAll('.row .col')].some(c => c.textContent === '0.2')").await;
        // The running run finishes: its status changes without a reload.
        assert!(text.contains("running"), "{text}");
        until(
            "the running run to complete",
            "return window.__view.runs.every(r => r.status === 'completed')",
        )
        .await;
        // A click opens a run: its flags and output.
        let link = format!(".row a[href='#/run/{}']", done[0]);
        c.find(Locator::Css(&link)).await.unwrap().click().await.unwrap();
        until(
            "the run page",
            "return !!document.querySelector('#output') && document.querySelector('#output').textContent.includes('loss:')",
        )
        .await;
        let flags = c.find(Locator::Css("#flags")).await.unwrap().text().await.unwrap();
        assert!(flags.contains("lr") && flags.contains("epochs"), "{flags}");
        let ds = c.find(Locator::Css("#datastores")).await.unwrap().text().await.unwrap();
        assert!(ds.contains("mnist:1") && ds.contains("data"), "{ds}");
        std::fs::write(shots.join("run.png"), c.screenshot().await.unwrap()).unwrap();
        // Compare: one series per run in each chart, with the run's points.
        c.goto(&format!("{url}#/compare?ids={}", done.join(",")))
            .await
            .unwrap();
        until("the charts", "return !!(window.__view.charts && window.__view.charts.loss)").await;
        let loss = js("const c = window.__view.charts.loss; return {runs: c.runs, points: c.points, series: c.chart.series.length, first: c.chart.data[1].filter(v => v != null).length};").await;
        assert_eq!(loss["runs"].as_array().unwrap().len(), 2, "{loss}");
        assert_eq!(loss["series"], 3, "{loss}");
        assert_eq!(loss["points"], serde_json::json!([5, 5]), "{loss}");
        assert_eq!(loss["first"], 5, "{loss}");
        until("the compare table", "return document.querySelectorAll('#cmp-table tr').length === 3").await;
        // Flags to the metric: a line per run, an axis per flag and the metric.
        let pc = js("return window.__view.parcoords").await;
        assert_eq!(pc["lines"], 2, "{pc}");
        let axes = pc["axes"].as_array().unwrap();
        assert!(axes.contains(&serde_json::json!("lr")) && axes.len() >= 3, "{pc}");
        // Grouped by a flag: one mean line (and band) per value.
        js("const s = document.querySelector('#group'); s.value = 'lr'; s.dispatchEvent(new Event('change')); return true").await;
        let grouped = js("const c = window.__view.charts.loss; return {groups: c.groups, series: c.chart.series.length, bands: (c.chart.bands || []).length}").await;
        assert_eq!(grouped["groups"], 2, "{grouped}");
        assert_eq!(grouped["series"], 7, "{grouped}");
        assert_eq!(grouped["bands"], 2, "{grouped}");
        js("const s = document.querySelector('#group'); s.value = ''; s.dispatchEvent(new Event('change')); return true").await;
        // x = time: seconds since each run's first scalar.
        js("const s = document.querySelector('#xaxis'); s.value = 'time'; s.dispatchEvent(new Event('change')); return true").await;
        // Drawn once the timed series have come.
        until("charts at x = time", "return window.__view.charts.loss && window.__view.charts.loss.chart.series[0].label === 'time (s)'").await;
        let timed = js("const c = window.__view.charts.loss.chart; return {label: c.series[0].label, xs: c.data[0].length, last: c.data[0][c.data[0].length - 1]}").await;
        assert_eq!(timed["label"], "time (s)", "{timed}");
        assert!(timed["last"].as_f64().unwrap() >= 0.0, "{timed}");
        js("const s = document.querySelector('#xaxis'); s.value = 'step'; s.dispatchEvent(new Event('change')); return true").await;
        std::fs::write(shots.join("compare.png"), c.screenshot().await.unwrap()).unwrap();
        // A file path with ../ is refused.
        let status = js("return fetch('/api/file?id=' + window.__view.runs[0].id + '&path=../../../etc/passwd').then(r => r.status)").await;
        assert_eq!(status, 403);
        // Deleted runs are listed on their own page and restored from it.
        e.ok(&["runs", "rm", &done[1], "-y"]);
        c.goto(&format!("{url}#/deleted")).await.unwrap();
        until("the deleted run", "return document.querySelectorAll('#deleted button.restore').length === 1").await;
        let row = c.find(Locator::Css("#deleted")).await.unwrap().text().await.unwrap();
        assert!(row.contains(&done[1][..8]), "{row}");
        std::fs::write(shots.join("deleted.png"), c.screenshot().await.unwrap()).unwrap();
        c.find(Locator::Css("button.restore")).await.unwrap().click().await.unwrap();
        until("the run restored", "return document.querySelector('#restored').textContent.startsWith('restored')").await;
        assert_eq!(e.runs_json().len(), 3);
        // A script in a run's SVG never runs with the view's origin:
        // opened from the Files list, framed, or shown as an image.
        let run_dir = e.home.join("runs").join(&done[0]);
        std::fs::write(
            run_dir.join("evil.svg"),
            "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'>\
             <script>localStorage.setItem('pwned', location.href)</script></svg>",
        )
        .unwrap();
        let file_url = format!("{url}api/file?id={}&path=evil.svg", done[0]);
        let _ = tokio::time::timeout(Duration::from_secs(10), c.goto(&file_url)).await;
        c.goto(&url).await.unwrap();
        let frame = format!(
            "const f = document.createElement('iframe'); f.src = '{file_url}'; document.body.appendChild(f); \
             const i = document.createElement('img'); i.src = '{file_url}'; document.body.appendChild(i); return true"
        );
        c.execute(&frame, vec![]).await.unwrap();
        until("the image loaded", "const i = document.querySelector('img[src*=evil]'); return !!i && i.complete").await;
        let pwned = js("return localStorage.getItem('pwned')").await;
        assert_eq!(pwned, serde_json::Value::Null, "the SVG's script ran in the view's origin");
        // A page of another origin can neither change runs (a no-cors
        // POST) nor read the view's CSRF token.
        let view_port = port_of(&url);
        let other = tempfile::tempdir().unwrap();
        let target = format!("http://127.0.0.1:{view_port}/api/label?id={}&label=pwned", done[0]);
        std::fs::write(
            other.path().join("evil.html"),
            format!(
                "<script>\
                 fetch('{target}', {{method: 'POST', mode: 'no-cors'}}).then(() => document.body.dataset.sent = '1');\
                 fetch('http://127.0.0.1:{view_port}/api/config').then(r => r.json())\
                   .then(c => fetch('{target}', {{method: 'POST', headers: {{'X-Guild-Csrf': c.csrf}}}}))\
                   .then(() => document.title = 'read', () => document.title = 'blocked');\
                 </script><body></body>"
            ),
        )
        .unwrap();
        let other_port = free_port();
        let _other = Killed(
            Command::new("python3")
                .args(["-m", "http.server", "--bind", "127.0.0.1", &other_port.to_string()])
                .current_dir(other.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until("the other origin's server", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", other_port)).is_ok()
        });
        c.goto(&format!("http://127.0.0.1:{other_port}/evil.html")).await.unwrap();
        until(
            "the cross-origin requests answered",
            "return document.body && document.body.dataset.sent === '1' && document.title !== ''",
        )
        .await;
        let title = js("return document.title").await;
        assert_eq!(title, "blocked", "another origin read /api/config");
        let info = e.ok(&["runs", "info", &done[0]]);
        assert!(!info.contains("pwned"), "a cross-origin POST changed a run: {info}");
        c.close().await.unwrap();
    });
    let _ = running;
}

/// `guild view` on `host`, with its URL.
fn serve(e: &Env, args: &[&str]) -> (Killed, String, BufReader<std::process::ChildStdout>) {
    let mut a = vec!["view", "--port", "0"];
    a.extend_from_slice(args);
    let mut child = Killed(e.cmd(&a).stdout(Stdio::piped()).spawn().unwrap());
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("Running guild view at ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    (child, url, out)
}

/// One HTTP request to `port` (Host: the view's own address): the status
/// code and the body.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let host = format!("127.0.0.1:{port}");
    let (code, _, body) = http_with(port, method, path, &[("Host", &host)]);
    (code, body)
}

/// One HTTP request with exactly these headers: the status code, the
/// response headers (lowercase names) and the body.
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (code, head.to_ascii_lowercase(), body.to_string())
}

/// A change as the view's own page makes it: its Origin and the CSRF
/// token of `/api/config`.
fn post_as_page(port: u16, path: &str) -> (u16, String) {
    let host = format!("127.0.0.1:{port}");
    let origin = format!("http://{host}");
    let (_, cfg) = http(port, "GET", "/api/config");
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let csrf = cfg["csrf"].as_str().unwrap().to_string();
    let (code, _, body) = http_with(
        port,
        "POST",
        path,
        &[
            ("Host", &host),
            ("Origin", &origin),
            ("X-Guild-Csrf", &csrf),
        ],
    );
    (code, body)
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn view_needs_a_token_off_loopback_and_edits_only_when_allowed() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "-y", "-q", "-l", "first"]);
    e.ok(&["run", "globs.py", "-y", "-q"]);
    let id = e.runs_json()[1]["id"].as_str().unwrap().to_string();
    // Loopback: no token; read-only by default.
    let (_v, url, _o) = serve(&e, &[]);
    let port = port_of(&url);
    let (code, body) = http(port, "GET", "/api/runs");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body.matches("\"id\"").count(), 2, "{body}");
    let (code, body) = http(port, "GET", "/api/runs?op=globs.py");
    assert_eq!(code, 200);
    assert_eq!(body.matches("\"id\"").count(), 1, "{body}");
    assert!(body.contains("globs.py"), "{body}");
    let (code, body) = http(port, "GET", "/api/runs?label=first&status=completed");
    assert_eq!(body.matches("\"id\"").count(), 1, "{code} {body}");
    let (code, body) = http(port, "GET", &format!("/api/compare.csv?run={id}"));
    assert_eq!(code, 200);
    assert!(
        body.starts_with("run,operation,started,time,status,label"),
        "{body}"
    );
    assert!(body.contains(&id[..8]) && body.contains("loss"), "{body}");
    let (code, body) = post_as_page(port, &format!("/api/label?id={id}&label=x"));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("--allow-edit"), "{body}");
    assert_eq!(http(port, "GET", "/api/nothing").0, 404);
    // --allow-edit: label, tag, delete, restore.
    let (_w, url, _o2) = serve(&e, &["--allow-edit"]);
    let port = port_of(&url);
    assert_eq!(
        post_as_page(port, &format!("/api/label?id={id}&label=best+run")).0,
        200
    );
    assert_eq!(
        post_as_page(port, &format!("/api/tag?id={id}&add=keep")).0,
        200
    );
    let info = e.ok(&["runs", "info", &id]);
    assert!(info.contains("label: best run"), "{info}");
    assert!(info.contains("- keep"), "{info}");
    assert_eq!(post_as_page(port, &format!("/api/delete?id={id}")).0, 200);
    assert_eq!(e.runs_json().len(), 1);
    let (code, body) = http(port, "GET", "/api/runs?deleted=1");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(&id) && body.matches("\"id\"").count() == 1,
        "{body}"
    );
    assert_eq!(post_as_page(port, &format!("/api/restore?id={id}")).0, 200);
    assert_eq!(e.runs_json().len(), 2);
    // Any other address: the token in the printed URL, else 403.
    let (_x, url, _o3) = serve(&e, &["--host", "0.0.0.0"]);
    let token = url
        .split("token=")
        .nth(1)
        .expect("a token in the URL")
        .to_string();
    let port = port_of(url.split('?').next().unwrap().trim_end_matches('/'));
    let (code, body) = http(port, "GET", "/api/runs");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("token"), "{body}");
    assert_eq!(
        http(port, "GET", &format!("/api/runs?token={token}")).0,
        200
    );
    assert_eq!(http(port, "GET", "/api/runs?token=wrong").0, 403);
}

/// x = time for output scalars: each value at the time of the output line
/// it was read from (their events carry no wall time, as Guild's).
#[test]
fn output_scalars_are_charted_at_their_lines_times() {
    let e = Env::new();
    std::fs::write(
        e.proj.join("ticks.py"),
        "import time\nfor i in range(4):\n    print('loss: %s' % (1.0 / (i + 1)), flush=True)\n    time.sleep(0.3)\n",
    )
    .unwrap();
    e.ok(&["run", "ticks.py", "-y", "-q"]);
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let (_v, url, _o) = serve(&e, &[]);
    let port = port_of(&url);
    let (code, body) = http(port, "GET", &format!("/api/series?run={id}&times=1"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let loss = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tag"] == "loss")
        .unwrap_or_else(|| panic!("{body}"));
    let t: Vec<f64> = loss["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(t.len(), 4, "{body}");
    assert_eq!(t[0], 0.0, "{body}");
    assert!(t.windows(2).all(|w| w[1] - w[0] >= 0.25), "{body}");
    // The same times as the output's index says.
    let index = std::fs::read(e.home.join("runs").join(&id).join(".guild/output.index")).unwrap();
    let ms: Vec<u64> = index
        .chunks(9)
        .map(|r| u64::from_be_bytes(r[..8].try_into().unwrap()))
        .collect();
    assert!(
        (t[3] - (ms[3] - ms[0]) as f64 / 1000.0).abs() < 1e-6,
        "{body}"
    );
}

#[test]
fn tensorboard_logdir_has_each_runs_scalars_and_hparams_session() {
    let e = Env::new();
    for lr in ["0.1", "0.2"] {
        e.ok(&[
            "run",
            "train.py",
            &format!("lr={lr}"),
            "opt=sgd",
            "-y",
            "-q",
        ]);
    }
    let dir = e.ok(&["tensorboard", "--test-logdir"]).trim().to_string();
    // Read back with the tensorboard package's own reader.
    let script = r#"
import json, os, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
root = sys.argv[1]
out = {"runs": {}}
def hp(path):
    acc = EventAccumulator(path, size_guidance={"tensors": 0})
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    data = {k: plugin_data_pb2.HParamsPluginData.FromString(v) for k, v in content.items()}
    return acc, data
acc, data = hp(root)
exp = data["_hparams_/experiment"].experiment
out["hparams"] = sorted(h.name for h in exp.hparam_infos)
out["metrics"] = sorted(m.name.tag for m in exp.metric_infos)
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d)
    if not os.path.isdir(p):
        continue
    acc, data = hp(p)
    start = data["_hparams_/session_start_info"].session_start_info
    end = data["_hparams_/session_end_info"].session_end_info
    out["runs"][d] = {
        "lr": start.hparams["lr"].number_value,
        "opt": start.hparams["opt"].string_value,
        "status": end.status,
        "loss": [s.value for s in acc.Scalars("loss")],
    }
print(json.dumps(out))
"#;
    let o = Command::new(guild_venv().join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hps = v["hparams"].as_array().unwrap();
    assert!(
        hps.contains(&serde_json::json!("lr")) && hps.contains(&serde_json::json!("opt")),
        "{v}"
    );
    assert!(
        v["metrics"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("loss")),
        "{v}"
    );
    let runs = v["runs"].as_object().unwrap();
    assert_eq!(runs.len(), 2, "{v}");
    let mut lrs: Vec<f64> = runs.values().map(|r| r["lr"].as_f64().unwrap()).collect();
    lrs.sort_by(f64::total_cmp);
    assert_eq!(lrs, [0.1, 0.2]);
    for r in runs.values() {
        assert_eq!(r["opt"], "sgd");
        assert_eq!(r["status"], 1, "STATUS_SUCCESS");
        assert_eq!(r["loss"].as_array().unwrap().len(), 3, "{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Without the tensorboard package: one line that says how to get it.
    let o = e
        .cmd(&["tensorboard"])
        .env("GUILD_PYTHON_EXE", "/usr/bin/python3")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("pip install tensorboard"), "{err}");
}

/// DNS rebinding and cross-site changes: only Host headers that name the
/// view are answered, and a change needs the view's own Origin (or
/// Referer) and the page's CSRF token. The page's CSP allows no inline
/// script.
#[test]
fn view_answers_its_own_host_and_takes_changes_from_its_own_page_only() {
    let e = Env::new();
    e.ok(&["run", "train.py", "lr=0.1", "-y", "-q", "-l", "keep-me"]);
    let id = e.runs_json()[0]["id"].as_str().unwrap().to_string();
    let (_v, url, _o) = serve(&e, &["--allow-edit"]);
    let port = port_of(&url);
    let own = format!("127.0.0.1:{port}");
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost:{}", port + 1),
    ] {
        let (code, _, body) = http_with(port, "GET", "/api/runs", &[("Host", &host)]);
        assert_eq!(code, 403, "Host {host}: {body}");
        assert!(!body.contains(&id), "Host {host} read the runs: {body}");
    }
    let (code, _, _) = http_with(port, "GET", "/api/runs", &[]);
    assert_eq!(code, 403, "no Host header");
    for host in [
        own.clone(),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (code, _, body) = http_with(port, "GET", "/api/runs", &[("Host", &host)]);
        assert_eq!(code, 200, "Host {host}: {body}");
        assert!(body.contains(&id), "{body}");
    }
    // The page: a strict policy, no inline script.
    let (code, head, page) = http_with(port, "GET", "/", &[("Host", &own)]);
    assert_eq!(code, 200);
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no CSP: {head}"));
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or_else(|| panic!("no script-src: {csp}"));
    assert!(
        script_src.contains("'self'") && !script_src.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!page.contains("<script>"), "inline script in the page");
    // Changes: the view's origin and token, both.
    let (_, cfg) = http(port, "GET", "/api/config");
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let csrf = cfg["csrf"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 32, "{cfg}");
    let label = |l: &str| format!("/api/label?id={id}&label={l}");
    let own_origin = format!("http://{own}");
    let refused: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no origin, no token", vec![("Host", &own)]),
        ("no token", vec![("Host", &own), ("Origin", &own_origin)]),
        (
            "a foreign origin",
            vec![
                ("Host", &own),
                ("Origin", "http://evil.example"),
                ("X-Guild-Csrf", &csrf),
            ],
        ),
        (
            "a foreign referer",
            vec![
                ("Host", &own),
                ("Referer", "http://evil.example/page"),
                ("X-Guild-Csrf", &csrf),
            ],
        ),
        (
            "a wrong token",
            vec![
                ("Host", &own),
                ("Origin", &own_origin),
                ("X-Guild-Csrf", "0123456789abcdef0123456789abcdef"),
            ],
        ),
    ];
    for (what, headers) in &refused {
        let (code, _, body) = http_with(port, "POST", &label("pwned"), headers);
        assert_eq!(code, 403, "{what}: {body}");
        let (code, _, _) = http_with(port, "POST", &format!("/api/delete?id={id}"), headers);
        assert_eq!(code, 403, "{what}");
    }
    assert_eq!(e.runs_json().len(), 1, "a refused delete deleted");
    let info = e.ok(&["runs", "info", &id]);
    assert!(info.contains("label: keep-me"), "{info}");
    // From the page: Origin, or a Referer of the view when there is none.
    let (code, _, body) = http_with(
        port,
        "POST",
        &label("by-origin"),
        &[
            ("Host", &own),
            ("Origin", &own_origin),
            ("X-Guild-Csrf", &csrf),
        ],
    );
    assert_eq!(code, 200, "{body}");
    let referer = format!("http://{own}/#/run/{id}");
    let (code, _, body) = http_with(
        port,
        "POST",
        &label("by-referer"),
        &[
            ("Host", &own),
            ("Referer", &referer),
            ("X-Guild-Csrf", &csrf),
        ],
    );
    assert_eq!(code, 200, "{body}");
    let info = e.ok(&["runs", "info", &id]);
    assert!(info.contains("label: by-referer"), "{info}");
}

/// Run files are untrusted: a script in an SVG or HTML file never runs
/// with the view's origin (sandboxed, a download), images and text are
/// shown, nothing is sniffed; a file is streamed, not read whole.
#[test]
fn view_serves_run_files_sandboxed() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::write(
        run.join("chart.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'><script>fetch('/api/runs')</script></svg>",
    )
    .unwrap();
    std::fs::write(run.join("report.html"), "<script>alert(1)</script>").unwrap();
    std::fs::write(run.join("notes.txt"), "plain notes\n").unwrap();
    std::fs::write(run.join("plot.png"), b"\x89PNG\r\n\x1a\n....").unwrap();
    std::fs::write(run.join("blob.bin"), [0u8, 159, 146, 150, 255]).unwrap();
    let (_v, url, _o) = serve(&e, &[]);
    let port = port_of(&url);
    let own = format!("127.0.0.1:{port}");
    let get = |name: &str| {
        let (code, head, body) = http_with(
            port,
            "GET",
            &format!("/api/file?id={id}&path={name}"),
            &[("Host", &own)],
        );
        assert_eq!(code, 200, "{name}: {body}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        let csp = head
            .lines()
            .find_map(|l| l.strip_prefix("content-security-policy: "))
            .unwrap_or_else(|| panic!("{name}: no CSP: {head}"))
            .to_string();
        assert!(csp.starts_with("sandbox"), "{name}: {csp}");
        (head, body)
    };
    for name in ["chart.svg", "blob.bin"] {
        let (head, _) = get(name);
        assert!(
            head.contains(&format!(
                "content-disposition: attachment; filename=\"{name}\""
            )),
            "{name}: {head}"
        );
    }
    let (head, body) = get("report.html");
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert!(!head.contains("content-disposition"), "{head}");
    assert_eq!(body, "<script>alert(1)</script>");
    let (head, body) = get("notes.txt");
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert_eq!(body, "plain notes\n");
    let (head, _) = get("plot.png");
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(!head.contains("content-disposition"), "{head}");
}

/// One 1 GiB output line: the view answers with the line cut (a marker
/// says how much was left out and how to get it all) and holds a few MiB,
/// under an address-space cap the whole line could never fit in.
#[test]
fn view_pages_a_huge_output_line_in_bounded_memory() {
    let e = Env::new();
    e.ok(&["run", "train.py", "-y", "-q"]);
    let run = e.run_dirs()[0].clone();
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    huge_line_output(&run);
    let port = free_port();
    let mut view = Killed(
        Command::new("bash")
            .args([
                "-c",
                &format!("ulimit -v {}; exec '{BIN}' view --port {port}", 300 * 1024),
            ])
            .env("GUILD_HOME", &e.home)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(view.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("guild view"), "{first}");
    for path in [
        format!("/api/output?id={id}"),
        format!("/api/output?id={id}&start=0&count=10"),
    ] {
        let (code, body) = http(port, "GET", &path);
        assert_eq!(code, 200, "{path}: {}", &body[..body.len().min(300)]);
        assert!(body.len() < 1 << 20, "{path}: {} bytes", body.len());
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let lines = page["lines"].as_array().unwrap();
        assert_eq!(page["total"], 2, "{path}");
        assert_eq!(lines.len(), 2, "{path}");
        let cut = lines[0][2].as_str().unwrap();
        assert!(
            cut.contains(&format!(
                "{} more bytes in this line",
                (1u64 << 30) - (64 << 10)
            )) && cut.contains(&format!("guild cat --output {}", &id[..8])),
            "{path}: {}",
            &cut[cut.len() - 200..]
        );
        assert_eq!(lines[1][2], "after the long line", "{path}");
    }
    assert!(view.0.try_wait().unwrap().is_none(), "the view died");
    assert_eq!(http(port, "GET", "/api/runs").0, 200);
}
