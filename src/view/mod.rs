//! `guild view`: a local web view of the runs, served from this binary
//! (its page and assets are embedded; nothing is fetched from elsewhere).
//! Like the CLI it is a front end of the library API: every answer comes
//! from the same functions, and its JSON is the CLI's `--json`.

use crate::api::{self, Context, Selection};
use crate::render;
use guild_format::error::{Error, Result};
use std::io::Read;
use std::sync::Arc;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const UPLOT_JS: &str = include_str!("../../assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../../assets/vendor/uplot/LICENSE");

/// How to serve.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) host: String,
    /// 0: any free port.
    pub(crate) port: u16,
    /// Label, tag, delete and restore from the page.
    pub(crate) allow_edit: bool,
}

/// A view being served.
pub(crate) struct Server {
    http: Arc<tiny_http::Server>,
    /// The address to open (with the token when one is needed).
    pub(crate) url: String,
    guard: Arc<Guard>,
}

/// What a request must show to be answered: a Host header naming the
/// view (DNS rebinding), the token when the view is not on loopback, and
/// for changes, the view's own Origin and the page's CSRF token.
struct Guard {
    /// The Host headers answered (lowercase, `name:port`); None: any,
    /// for a view on every address, which requires the token.
    hosts: Option<Vec<String>>,
    token: Option<String>,
    /// Sent by the page with every change (`X-Guild-Csrf`): read from
    /// `/api/config`, which another origin's page cannot read.
    csrf: String,
    allow_edit: bool,
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// The Host headers a view bound to `host`:`port` answers: the loopback
/// names and the host given; None for every address (0.0.0.0, ::).
fn allowed_hosts(host: &str, port: u16) -> Option<Vec<String>> {
    let bracket = |h: &str| {
        if h.contains(':') {
            format!("[{h}]")
        } else {
            h.to_string()
        }
    };
    if host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_unspecified())
    {
        return None;
    }
    let mut names = vec![bracket(&host.to_ascii_lowercase())];
    if is_loopback(host) {
        names.extend(["127.0.0.1", "localhost", "[::1]"].map(String::from));
    }
    let mut hosts: Vec<String> = names.iter().map(|n| format!("{n}:{port}")).collect();
    if port == 80 {
        hosts.extend(names);
    }
    Some(hosts)
}

impl Server {
    /// Bind. Any address but loopback requires a token, given in the URL
    /// (as Jupyter does).
    pub(crate) fn bind(opts: &Options) -> Result<Server> {
        let addr = if opts.host.contains(':') {
            format!("[{}]:{}", opts.host, opts.port)
        } else {
            format!("{}:{}", opts.host, opts.port)
        };
        let http = tiny_http::Server::http(&addr).map_err(|e| {
            Error::user(format!(
                "cannot serve on {addr} ({e}); choose another port with --port"
            ))
        })?;
        let port = http
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .unwrap_or(opts.port);
        let token = (!is_loopback(&opts.host)).then(|| uuid::Uuid::new_v4().simple().to_string());
        let host = if opts.host.contains(':') {
            format!("[{}]", opts.host)
        } else {
            opts.host.clone()
        };
        let url = match &token {
            Some(t) => format!("http://{host}:{port}/?token={t}"),
            None => format!("http://{host}:{port}/"),
        };
        Ok(Server {
            http: Arc::new(http),
            url,
            guard: Arc::new(Guard {
                hosts: allowed_hosts(&opts.host, port),
                token,
                csrf: uuid::Uuid::new_v4().simple().to_string(),
                allow_edit: opts.allow_edit,
            }),
        })
    }

    /// Answer requests until the process ends, a thread per request.
    pub(crate) fn serve(&self, ctx: Arc<Context>) -> Result<()> {
        loop {
            let req = match self.http.recv() {
                Ok(r) => r,
                Err(e) => return Err(Error::process("cannot accept a connection", e)),
            };
            let ctx = ctx.clone();
            let guard = self.guard.clone();
            std::thread::spawn(move || {
                let resp = answer(&ctx, &req, &guard);
                let _ = req.respond(resp);
            });
        }
    }
}

/// A response; its body is read as it is sent (a run file is streamed,
/// never held whole).
type Response = tiny_http::Response<Box<dyn Read + Send>>;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values of this module are ASCII")
}

/// The page's policy: its own scripts only (none inline), nothing framed,
/// nothing fetched from elsewhere. Inline style attributes are allowed
/// (the tables are laid out with them); they cannot run code.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'none'";

/// A run's file is untrusted: sandboxed (no script, an opaque origin),
/// even when opened on its own.
const FILE_CSP: &str = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; media-src 'self'";

fn streamed(code: u16, ctype: &str, data: Box<dyn Read + Send>, len: Option<usize>) -> Response {
    tiny_http::Response::new(
        tiny_http::StatusCode(code),
        vec![
            header("Content-Type", ctype),
            header("Cache-Control", "no-store"),
            header("X-Content-Type-Options", "nosniff"),
            header("X-Frame-Options", "DENY"),
            header("Referrer-Policy", "same-origin"),
        ],
        data,
        len,
        None,
    )
}

fn body(code: u16, ctype: &str, data: Vec<u8>) -> Response {
    let len = data.len();
    streamed(code, ctype, Box::new(std::io::Cursor::new(data)), Some(len))
        .with_header(header("Content-Security-Policy", PAGE_CSP))
}

fn json(v: &serde_json::Value) -> Response {
    body(
        200,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn error(code: u16, msg: &str) -> Response {
    body(
        code,
        "application/json",
        serde_json::to_vec(&serde_json::json!({ "error": msg })).unwrap_or_default(),
    )
}

/// The query parameters of a URL, decoded (`+` and `%XX`).
fn params(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// The value of request header `name`.
fn header_of<'a>(req: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

impl Guard {
    fn token_ok(&self, req: &tiny_http::Request) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let in_url = params(req.url())
            .iter()
            .any(|(k, v)| k == "token" && v == token);
        let in_cookie = header_of(req, "Cookie").is_some_and(|c| {
            c.split(';')
                .any(|c| c.trim() == format!("guild_token={token}"))
        });
        in_url || in_cookie
    }

    /// The request's Host, when it names this view.
    fn host<'a>(&self, req: &'a tiny_http::Request) -> Option<&'a str> {
        let host = header_of(req, "Host")?.trim();
        match &self.hosts {
            None => Some(host),
            Some(hosts) => hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
                .then_some(host),
        }
    }

    /// A change must come from the view's own page: its Origin (or
    /// Referer) is the view's, and it carries the page's CSRF token.
    fn same_origin_change(&self, req: &tiny_http::Request, host: &str) -> bool {
        let own = format!("http://{host}");
        let origin_ok = match header_of(req, "Origin") {
            Some(o) => o.trim().eq_ignore_ascii_case(&own),
            None => header_of(req, "Referer").is_some_and(|r| {
                r.get(..own.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(&own))
                    && r[own.len()..].starts_with('/')
            }),
        };
        origin_ok && header_of(req, "X-Guild-Csrf") == Some(self.csrf.as_str())
    }
}

fn answer(ctx: &Context, req: &tiny_http::Request, guard: &Guard) -> Response {
    let Some(host) = guard.host(req) else {
        return error(
            403,
            "this view answers only requests addressed to it (Host: 127.0.0.1, localhost or the --host given)",
        );
    };
    if !guard.token_ok(req) {
        return error(
            403,
            "a token is required: open the URL that `guild view` printed",
        );
    }
    let (token, allow_edit) = (guard.token.as_deref(), guard.allow_edit);
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("/").to_string();
    let q = params(&url);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let all = |k: &str| -> Vec<String> {
        q.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let method = req.method().clone();
    if method == tiny_http::Method::Post {
        if !guard.same_origin_change(req, host) {
            return error(
                403,
                "changes are taken only from the view's own page (Origin and X-Guild-Csrf)",
            );
        }
        if !allow_edit {
            return error(
                403,
                "the view is read-only; start it with --allow-edit to label, tag, delete or restore runs",
            );
        }
        return edit(ctx, &path, &get("id").unwrap_or_default(), &get)
            .unwrap_or_else(|e| error(400, &e.message()));
    }
    if method != tiny_http::Method::Get {
        return error(405, "GET or POST only");
    }
    let r = match path.as_str() {
        "/api/config" => Ok(json(
            &serde_json::json!({ "allow_edit": allow_edit, "csrf": guard.csrf }),
        )),
        "/" | "/index.html" => {
            let mut resp = body(
                200,
                "text/html; charset=utf-8",
                INDEX_HTML.as_bytes().to_vec(),
            );
            if let Some(t) = token {
                resp = resp.with_header(header(
                    "Set-Cookie",
                    &format!("guild_token={t}; HttpOnly; SameSite=Strict; Path=/"),
                ));
            }
            Ok(resp)
        }
        "/assets/app.js" => Ok(body(200, "text/javascript", APP_JS.as_bytes().to_vec())),
        "/assets/app.css" => Ok(body(200, "text/css", APP_CSS.as_bytes().to_vec())),
        "/assets/uplot.js" => Ok(body(200, "text/javascript", UPLOT_JS.as_bytes().to_vec())),
        "/assets/uplot.css" => Ok(body(200, "text/css", UPLOT_CSS.as_bytes().to_vec())),
        "/assets/uplot-LICENSE" => Ok(body(200, "text/plain", UPLOT_LICENSE.as_bytes().to_vec())),
        "/api/runs" => runs(
            ctx,
            &filters(&get),
            get("deleted").is_some_and(|d| d == "1"),
        ),
        "/api/compare" => compare(ctx, &all("run"), &get("cols").unwrap_or_default(), false),
        "/api/compare.csv" => compare(ctx, &all("run"), &get("cols").unwrap_or_default(), true),
        "/api/run" => run_info(ctx, &get("id").unwrap_or_default()),
        "/api/output" => output(
            ctx,
            &get("id").unwrap_or_default(),
            get("start").and_then(|s| s.parse().ok()).unwrap_or(-1000),
            get("count").and_then(|s| s.parse().ok()).unwrap_or(1000),
            get("keep").is_some_and(|k| k == "last"),
        ),
        "/api/files" => files(ctx, &get("id").unwrap_or_default()),
        "/api/file" => file(
            ctx,
            &get("id").unwrap_or_default(),
            &get("path").unwrap_or_default(),
        ),
        "/api/series" => series(
            ctx,
            &all("run"),
            get("points").and_then(|s| s.parse().ok()).unwrap_or(1000),
            get("times").is_some_and(|t| t == "1"),
        ),
        "/api/sweeps" => sweeps(ctx),
        _ => Ok(error(404, "no such page")),
    };
    r.unwrap_or_else(|e| match e {
        Error::NoRun { .. } => error(404, &e.message()),
        _ => error(400, &e.message()),
    })
}

fn find(ctx: &Context, id: &str) -> Result<api::RunInfo> {
    if id.is_empty() {
        return Err(Error::user("give a run id (id=...)"));
    }
    api::runs::one(
        ctx,
        &Selection {
            runs: vec![id.to_string()],
            ..Default::default()
        },
    )
}

/// A comma-separated query parameter as its items.
fn list_param(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Vec<String> {
    get(k)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The CLI's run filters from the query: `op`, `label`, `tag`, `status`
/// (comma-separated), `started` (`last 2 hours`...), `filter` (an
/// expression as `-F` takes it).
fn filters(get: &dyn Fn(&str) -> Option<String>) -> api::Filters {
    let list = |k: &str| list_param(get, k);
    let status = list("status")
        .iter()
        .filter_map(|s| {
            Some(match s.as_str() {
                "running" => api::Status::Running,
                "completed" => api::Status::Completed,
                "error" => api::Status::Error,
                "terminated" => api::Status::Terminated,
                "pending" => api::Status::Pending,
                "staged" => api::Status::Staged,
                _ => return None,
            })
        })
        .collect();
    api::Filters {
        ops: list("op"),
        labels: list("label"),
        tags: list("tag"),
        started: get("started").filter(|s| !s.is_empty()),
        expr: get("filter").filter(|s| !s.is_empty()),
        status,
        ..Default::default()
    }
}

/// The runs table; `deleted` lists the trash (`runs --deleted`).
fn runs(ctx: &Context, filters: &api::Filters, deleted: bool) -> Result<Response> {
    let listed = api::runs::list(
        ctx,
        &Selection {
            filters: filters.clone(),
            deleted,
            ..Default::default()
        },
    )?;
    // The table's fields of `runs --json` (not `cmd`: a file to read and
    // parse per run, which a table of 10,000 does not show).
    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: &'a str,
        operation: String,
        exit_status: Option<i64>,
        marked: bool,
        name: &'a Option<String>,
        label: &'a Option<String>,
        started: Option<i64>,
        stopped: Option<i64>,
        status: String,
        tags: Option<&'a [String]>,
    }
    let rows: Vec<Row> = listed
        .iter()
        .map(|i| {
            let r = &i.run;
            let tags = r.tags();
            Row {
                id: &r.run.id,
                operation: r.op_desc(),
                exit_status: r.exit_status,
                marked: r.marked,
                name: &r.name,
                label: &r.label,
                started: r.started,
                stopped: r.stopped(),
                status: r.status.display(),
                tags: (!tags.is_empty()).then_some(tags),
            }
        })
        .collect();
    Ok(body(
        200,
        "application/json",
        serde_json::to_vec(&rows).unwrap_or_default(),
    ))
}

fn run_info(ctx: &Context, id: &str) -> Result<Response> {
    find(ctx, id)?;
    let d = api::runs::info(
        ctx,
        &Selection {
            runs: vec![id.to_string()],
            ..Default::default()
        },
        api::runs::InfoParts::default(),
    )?;
    Ok(json(&render::run_info_json(&d, true)))
}

/// A page of a run's output, bounded in lines and in bytes (a line over
/// 64 KiB is cut, with a marker naming how much was left out).
fn output(ctx: &Context, id: &str, start: i64, count: usize, keep_last: bool) -> Result<Response> {
    let r = find(ctx, id)?;
    let page = api::views::output_page(&r.run, start, count.min(100_000), keep_last)?;
    Ok(json(&serde_json::to_value(page).unwrap_or_default()))
}

fn files(ctx: &Context, id: &str) -> Result<Response> {
    let r = find(ctx, id)?;
    let list: Vec<serde_json::Value> = r
        .run
        .files(false)
        .into_iter()
        .map(|(rel, dir)| {
            let size = std::fs::metadata(r.run.dir.join(&rel))
                .map(|m| m.len())
                .unwrap_or(0);
            serde_json::json!({ "path": rel, "dir": dir, "size": size })
        })
        .collect();
    Ok(json(&serde_json::Value::Array(list)))
}

/// A file of a run, never one outside its directory (no `..`, no
/// absolute path, no link leading out), streamed. Run files are
/// untrusted: sandboxed, never sniffed, and anything but a plain image
/// or text is a download (an SVG or HTML file cannot run script with the
/// view's origin).
fn file(ctx: &Context, id: &str, rel: &str) -> Result<Response> {
    let r = find(ctx, id)?;
    let mut f = match r.run.open_file(rel) {
        Ok(f) => f,
        Err(e) => return Ok(error(403, &e.message())),
    };
    let inside = std::fs::canonicalize(r.run.dir.join(rel))
        .ok()
        .zip(std::fs::canonicalize(&r.run.dir).ok())
        .is_some_and(|(p, d)| p.starts_with(d));
    if !inside {
        return Ok(error(403, &format!("{rel} is outside the run directory")));
    }
    let path = r.run.dir.join(rel);
    let len = f
        .metadata()
        .map_err(|e| Error::io("reading", &path, e))?
        .len();
    let mut head = Vec::with_capacity(4096);
    (&mut f)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("reading", &path, e))?;
    let ext = rel.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let text = || match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    let (ctype, inline) = match ext.as_str() {
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        "svg" => ("image/svg+xml", false),
        _ if text() => ("text/plain; charset=utf-8", true),
        _ => ("application/octet-stream", false),
    };
    let data: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(f));
    let mut resp = streamed(200, ctype, data, usize::try_from(len).ok())
        .with_header(header("Content-Security-Policy", FILE_CSP));
    if !inline {
        let name: String = rel
            .rsplit('/')
            .next()
            .unwrap_or("file")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        resp = resp.with_header(header(
            "Content-Disposition",
            &format!("attachment; filename=\"{name}\""),
        ));
    }
    Ok(resp)
}

fn series(ctx: &Context, ids: &[String], points: usize, times: bool) -> Result<Response> {
    let mut out = Vec::new();
    for id in ids {
        let r = find(ctx, id)?;
        out.extend(api::views::series(&r.run, points.clamp(2, 100_000), times));
    }
    if !times {
        for s in &mut out {
            s.times.clear();
        }
    }
    Ok(json(&serde_json::to_value(out).unwrap_or_default()))
}

fn sweeps(ctx: &Context) -> Result<Response> {
    let status = api::views::status(ctx);
    let active = status.list();
    let history = api::views::history(ctx, 200);
    let done = history.list();
    let (_, a) = render::experiments(&active, &api::views::costs(ctx, &active));
    let (_, h) = render::experiments(&done, &api::views::costs(ctx, &done));
    Ok(json(&serde_json::json!({ "active": a, "history": h })))
}

/// `guild compare` of `ids` (with extra columns `cols`, as `-c` takes
/// them): its JSON rows, or its CSV as a download.
fn compare(ctx: &Context, ids: &[String], cols: &str, csv: bool) -> Result<Response> {
    let req = api::views::CompareRequest {
        select: Selection {
            runs: ids.to_vec(),
            ..Default::default()
        },
        columns: if cols.is_empty() {
            Vec::new()
        } else {
            vec![cols.to_string()]
        },
        ..Default::default()
    };
    let api::views::Compared { header: cols, rows } = api::views::compare(ctx, &req)?;
    if csv {
        return Ok(body(
            200,
            "text/csv",
            render::compare_csv(&cols, &rows).into_bytes(),
        )
        .with_header(header(
            "Content-Disposition",
            "attachment; filename=\"compare.csv\"",
        )));
    }
    Ok(json(&serde_json::json!({
        "header": cols,
        "rows": render::compare_json(&cols, &rows),
    })))
}

/// `--allow-edit`: label, tag, delete or restore one run.
fn edit(
    ctx: &Context,
    path: &str,
    id: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Response> {
    let restore = path == "/api/restore";
    if !restore {
        find(ctx, id)?;
    }
    let sel = Selection {
        runs: vec![id.to_string()],
        deleted: restore,
        ..Default::default()
    };
    let change = api::runs::Change {
        select: sel.clone(),
        yes: true,
    };
    let changed = match path {
        "/api/label" => {
            let edit = match get("label").filter(|l| !l.is_empty()) {
                Some(l) => api::LabelEdit::Set(l),
                None => api::LabelEdit::Clear,
            };
            api::runs::label(ctx, &sel, &edit)?
        }
        "/api/tag" => {
            let split = |k: &str| list_param(get, k);
            api::runs::tag(
                ctx,
                &sel,
                &api::TagEdit {
                    add: split("add"),
                    delete: split("remove"),
                    clear: false,
                },
            )?
        }
        "/api/delete" => api::runs::delete(ctx, &change, false)?,
        "/api/restore" => api::runs::restore(ctx, &change)?,
        _ => return Ok(error(404, "no such action")),
    };
    Ok(json(&serde_json::json!({ "changed": changed.ids })))
}
