//! Shared parts of the integration tests: a real HTTP server on 127.0.0.1:0
//! serving the fixture feeds, a config in a temp dir, the real binary, and
//! the RFC 4287 checks every published document must pass.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Serves `tests/fixtures/feeds/NAME` at `/NAME` on a fresh loopback port,
/// from a thread of its own so blocking test code can use it.
pub fn serve_fixtures() -> SocketAddr {
    serve_dir(fixtures().join("feeds"))
}

/// Serves the files of `dir` at `/NAME`, read afresh on every request, so
/// a test can change a feed between polls.
pub fn serve_dir(dir: PathBuf) -> SocketAddr {
    serve_app(axum::Router::new().route(
        "/{name}",
        axum::routing::get(move |name| feed_file(dir.clone(), name)),
    ))
}

/// Serves `app` on a fresh loopback port from a thread of its own, so
/// blocking test code can use it; the listener is bound before the address
/// is returned, so there is no window for another process to take it.
pub fn serve_app(app: axum::Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("test server address")
}

/// Serves every file under `dir` at its relative path (`/a/b/c.xml`), as
/// `application/xml`: that type defers to the document's own declaration
/// (RFC 3023), so a third-party corpus is read the way its files say.
pub fn serve_tree(dir: PathBuf) -> SocketAddr {
    serve_app(axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |UrlPath(path): UrlPath<String>| {
            let dir = dir.clone();
            async move {
                if path.split('/').any(|p| p == "..") {
                    return StatusCode::BAD_REQUEST.into_response();
                }
                match std::fs::read(dir.join(&path)) {
                    Ok(bytes) => {
                        ([(header::CONTENT_TYPE, "application/xml")], bytes).into_response()
                    }
                    Err(_) => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    ))
}

async fn feed_file(dir: PathBuf, UrlPath(name): UrlPath<String>) -> axum::response::Response {
    let path = dir.join(&name);
    if name.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match std::fs::read(&path) {
        Ok(bytes) => {
            let ct = match path.extension().and_then(|e| e.to_str()) {
                Some("json") => "application/feed+json",
                Some("atom") => "application/atom+xml",
                Some("rss") => "application/rss+xml",
                _ => "application/xml",
            };
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A temp dir holding config.toml (and, once polled, the database).
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new(config: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        Site { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("feedsift.db")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_feedsift"));
        c.arg("--config").arg(self.config());
        c.env("FEEDSIFT_LOG", "info");
        c
    }

    /// Waits until `n` feeds have been polled successfully (by a daemon).
    pub fn wait_until_polled(&self, n: i64) {
        wait_for("every feed polled", Duration::from_secs(20), || {
            let conn = rusqlite::Connection::open(self.db()).ok()?;
            let polled: i64 = conn
                .query_row(
                    "SELECT count(*) FROM feeds WHERE last_success IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .ok()?;
            (polled == n).then_some(())
        });
    }

    /// Runs the binary with `args`, returning its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run feedsift")
    }
}

/// The config used by most tests: the fixture feeds plus the shipped topic.
pub fn fixture_config(addr: SocketAddr, extra_feeds: &[&str]) -> String {
    let urls = ["tass.rss", "axar.atom", "nhk.rdf", "markets.json"]
        .iter()
        .chain(extra_feeds)
        .map(|name| format!("http://{addr}/{name}"));
    feeds_config(
        urls,
        r#"
[alias]
russia = ["Russia", "Russian", "Moscow", "Kremlin", "Lavrov", "Putin", "Россия", "ロシア"]
japan  = ["Japan", "Japanese", "Tokyo", "Kishida", "Abe", "Kono", "Япония", "日本"]

[topic.russia-japan]
title = "Russia–Japan relations"
query = '(@russia AND @japan) OR "Kuril Islands" OR "Northern Territories" OR "peace treaty"'
"#,
    )
}

/// A config polling `urls` hourly with a 5 s timeout, listening on port 0,
/// followed by `rest` (aliases, topics).
pub fn feeds_config(urls: impl IntoIterator<Item = String>, rest: &str) -> String {
    let mut feeds = String::new();
    for url in urls {
        feeds.push_str(&format!("[[feed]]\nurl = \"{url}\"\n\n"));
    }
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "http://feeds.example.org/"

[polling]
interval = "1h"
timeout = "5s"

{feeds}{rest}"#
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// The real daemon; killed if a test fails before stopping it. Its log is
/// read as it comes (a full pipe would stall the daemon).
pub struct Daemon {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts `feedsift run` for `site` (whose config must say `listen =
    /// "127.0.0.1:PORT"`) and waits until it answers /healthz.
    pub fn start(site: &Site, port: u16) -> Daemon {
        Daemon::start_logging(site, port, "info")
    }

    /// The same with a `FEEDSIFT_LOG` filter of the test's choosing.
    pub fn start_logging(site: &Site, port: u16, filter: &str) -> Daemon {
        let mut child = site
            .cmd()
            .arg("run")
            .env("FEEDSIFT_LOG", filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start feedsift run");
        let log = Arc::new(Mutex::new(String::new()));
        let reader = child.stderr.take().map(|err| {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut l = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    l.push_str(&line);
                    l.push('\n');
                }
            })
        });
        let d = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            reader,
        };
        let health = format!("{}/healthz", d.base);
        wait_for("/healthz", Duration::from_secs(20), || {
            reqwest::blocking::get(&health)
                .ok()
                .filter(|r| r.status() == 200)
        });
        d
    }
}

impl Daemon {
    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Everything it logged, once it has exited.
    pub fn final_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.log()
    }
}

/// A config listening on a fixed free port, with its port.
pub fn on_free_port(config: &str) -> (String, u16) {
    let port = free_port();
    let config = config.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    (config, port)
}

pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} failed");
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Entry titles of an Atom document, in document order.
pub fn titles(atom: &str) -> Vec<String> {
    let feed: atom_syndication::Feed = atom.parse().expect("our Atom parses");
    feed.entries.iter().map(|e| e.title.value.clone()).collect()
}

/// Checks an Atom document against the RFC 4287 RELAX NG grammar (with
/// jing) and the rules the grammar cannot express.
pub fn assert_valid_atom(atom: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("feed.atom");
    std::fs::write(&file, atom).expect("write");
    let rnc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/atom.rnc");
    let out = Command::new("jing")
        .arg("-c")
        .arg(&rnc)
        .arg(&file)
        .output()
        .expect("jing must be installed to run the tests: apt-get install jing (or bash .ci/run)");
    assert!(
        out.status.success(),
        "RFC 4287 grammar rejects the feed:\n{}{}\n{atom}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let feed: atom_syndication::Feed = atom.parse().expect("our Atom parses");
    let abs = |s: &str| url::Url::parse(s).is_ok();
    assert!(
        abs(&feed.id),
        "feed id {:?} is not an absolute IRI",
        feed.id
    );
    assert!(
        feed.links.iter().any(|l| l.rel == "self"),
        "feed has no rel=self link"
    );
    for l in feed.links.iter().filter(|l| l.rel == "self") {
        assert!(abs(&l.href), "self link {:?} is not absolute", l.href);
    }
    let mut ids = std::collections::HashSet::new();
    for e in &feed.entries {
        // The original feed, so a reader can say where the entry came from.
        let src = e
            .source
            .as_ref()
            .unwrap_or_else(|| panic!("entry {} has no atom:source", e.id));
        assert!(
            !src.id.is_empty() && !src.title.value.is_empty() && !src.links.is_empty(),
            "entry {}: atom:source lacks an id, title or link",
            e.id
        );
        assert!(abs(&e.id), "entry id {:?} is not an absolute IRI", e.id);
        assert!(ids.insert(e.id.clone()), "duplicate entry id {}", e.id);
        assert!(
            !feed.authors.is_empty() || !e.authors.is_empty(),
            "entry {} has no author",
            e.id
        );
        assert!(
            e.links.iter().any(|l| l.rel == "alternate") || e.content.is_some(),
            "entry {} has neither an alternate link nor content",
            e.id
        );
    }
}
