//! Resources fetched by URL into the resource cache, as Guild 0.9 keeps
//! them: `<home>/cache/resources/<key>/<file name>`, where the key is the
//! SHA-224 of the URL's six parts (Python's `urlparse`) joined by
//! newlines. `guild download URL` fills it; a `url:` source of guild.yml
//! with the same URL then finds the file there and fetches nothing.

use guild_format::error::{Error, Result};
use guild_format::home::Home;
use std::path::{Path, PathBuf};

/// A URL in the six parts Python's `urllib.parse.urlparse` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    scheme: String,
    netloc: String,
    path: String,
    params: String,
    query: String,
    fragment: String,
}

/// Schemes whose last path segment may carry `;params` (Python's
/// `uses_params`).
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

/// `urlparse(url)` as Python 3 splits it.
fn urlparse(url: &str) -> Parts {
    let mut rest = url;
    let mut scheme = String::new();
    if let Some(i) = url.find(':') {
        let s = &url[..i];
        let valid = s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if valid {
            scheme = s.to_ascii_lowercase();
            rest = &url[i + 1..];
        }
    }
    let mut netloc = String::new();
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = after[..end].to_string();
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (mut path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut params = "";
    if USES_PARAMS.contains(&scheme.as_str()) {
        let from = path.rfind('/').unwrap_or(0);
        if let Some(i) = path[from..].find(';') {
            params = &path[from + i + 1..];
            path = &path[..from + i];
        }
    }
    Parts {
        scheme,
        netloc,
        path: path.to_string(),
        params: params.to_string(),
        query: query.to_string(),
        fragment: fragment.to_string(),
    }
}

/// `%XX` decoded (as Python's `unquote`: invalid escapes kept).
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cache directory of `url`.
pub(crate) fn cache_dir(home: &Home, url: &str) -> PathBuf {
    use sha2::Digest;
    let p = urlparse(url);
    let key = [p.scheme, p.netloc, p.path, p.params, p.query, p.fragment].join("\n");
    let digest = sha2::Sha224::digest(key.as_bytes());
    home.cache_dir("resources").join(format!("{digest:x}"))
}

/// The file name a URL is kept under: its last path segment, decoded.
fn file_name(url: &str) -> Option<String> {
    let p = urlparse(url);
    let name = unquote(p.path.rsplit('/').next().unwrap_or(""));
    (!name.is_empty() && name != "." && name != ".." && !name.contains('/')).then_some(name)
}

/// Where `url` is (or would be) cached.
pub(crate) fn cached_path(home: &Home, url: &str) -> Result<PathBuf> {
    let name = file_name(url).ok_or_else(|| {
        Error::user(format!(
            "error downloading {url}: cannot tell a file name from the URL (it must end with one, as in http://host/data.csv)"
        ))
    })?;
    Ok(cache_dir(home, url).join(name))
}

/// The cached file of `url`, downloaded first unless it is there already
/// (`say` hears `Using cached file PATH`). A download goes to a temporary
/// file renamed into place when complete: an interrupted one leaves no
/// file that looks cached.
pub fn fetch(home: &Home, url: &str, say: &dyn Fn(&str)) -> Result<PathBuf> {
    fetch_as(home, url, url, say)
}

/// [`fetch`] of `url`, cached as `key` says (a guild.yml source is cached
/// by its URL as written, before flag references are filled in).
pub(crate) fn fetch_as(home: &Home, key: &str, url: &str, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let target = cached_path(home, key)?;
    if std::fs::symlink_metadata(&target).is_ok() {
        say(&format!("Using cached file {}", target.display()));
        return Ok(target);
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    guild_format::fsutil::create_dir_all(dir)?;
    let tmp = dir.join(format!(".download-{}", std::process::id()));
    let got = download(url, &tmp);
    if let Err(e) = got {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::user(format!("error downloading {url}: {e}")));
    }
    std::fs::rename(&tmp, &target).map_err(|e| Error::io("renaming", &tmp, e))?;
    Ok(target)
}

/// Copy what `url` names into `to`: http and https, or a `file:` URL.
fn download(url: &str, to: &Path) -> std::result::Result<(), String> {
    let p = urlparse(url);
    match p.scheme.as_str() {
        "http" | "https" => {
            let resp = ureq::get(url).call().map_err(|e| match e {
                ureq::Error::StatusCode(code) => format!(
                    "HTTP Error {code}: {}",
                    ureq::http::StatusCode::from_u16(code)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("")
                ),
                other => other.to_string(),
            })?;
            let mut body = resp.into_body().into_reader();
            let mut f = std::fs::File::create(to).map_err(|e| e.to_string())?;
            std::io::copy(&mut body, &mut f).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())
        }
        "file" => {
            let path = unquote(&p.path);
            std::fs::copy(&path, to)
                .map(drop)
                .map_err(|e| format!("{e}: '{path}'"))
        }
        "" => Err(format!("unknown url type: '{url}'")),
        other => Err(format!("unknown url type: {other}")),
    }
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io("reading", path, e))?;
    Ok(format!("{:x}", h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_key_as_python_does() {
        let p = urlparse("http://127.0.0.1:18765/sub/a.txt;v=1?x=1#frag");
        assert_eq!(
            (p.scheme.as_str(), p.netloc.as_str(), p.path.as_str()),
            ("http", "127.0.0.1:18765", "/sub/a.txt")
        );
        assert_eq!(
            (p.params.as_str(), p.query.as_str(), p.fragment.as_str()),
            ("v=1", "x=1", "frag")
        );
        assert_eq!(urlparse("srv/hello.txt").scheme, "");
        assert_eq!(urlparse("file:/x").path, urlparse("file:///x").path);
        // Guild 0.9.0's own cache directory for this URL (observed).
        let home = Home {
            path: PathBuf::from("/h"),
        };
        assert_eq!(
            cache_dir(&home, "http://127.0.0.1:18765/hello.txt"),
            PathBuf::from(
                "/h/cache/resources/c6242e2804934d4d77b78c64a03904ea1febe85cb1bcc79f89728478"
            )
        );
        assert_eq!(
            file_name("http://h/sub/with%20space.txt").unwrap(),
            "with space.txt"
        );
        assert_eq!(file_name("http://h/dir/"), None);
        assert_eq!(file_name("http://h/%2e%2e"), None);
    }
}
