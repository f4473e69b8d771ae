//! What the integration tests share: loopback HTTP servers on port 0 for
//! the fixture feeds, a config in a temp dir, the real binary (daemon.rs),
//! and the RFC 4287 checks every published document must pass.

mod daemon;
mod pg;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

pub use daemon::{Daemon, Site, listen, serve_app, serve_dir, serve_on, wait_for};
pub use pg::PgDb;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Serves `tests/fixtures/feeds/NAME` at `/NAME` on a fresh loopback port,
/// from a thread of its own so blocking test code can use it.
pub fn serve_fixtures() -> SocketAddr {
    serve_dir(fixtures().join("feeds"))
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

/// A response body that sends `head`, then a byte every 200 ms, for ever:
/// never idle long, never large, so only a timeout on the whole request
/// stops a client reading it.
pub fn trickle(head: &'static [u8]) -> axum::body::Body {
    let stream = futures_util::stream::unfold(0u64, move |n| async move {
        let chunk = if n == 0 {
            bytes::Bytes::from_static(head)
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            bytes::Bytes::from_static(b" ")
        };
        Some((Ok::<_, std::convert::Infallible>(chunk), n + 1))
    });
    axum::body::Body::from_stream(stream)
}

impl Site {
    /// A site whose `[storage] url` is `url` (a PostgreSQL database)
    /// instead of the SQLite file in its folder. `config` must have no
    /// `[storage]` table of its own.
    pub fn with_storage_url(config: &str, url: &str) -> Site {
        Site::new(&format!("[storage]\nurl = \"{url}\"\n{config}"))
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("feedsift.db")
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

    /// What `args` prints, after asserting it succeeded.
    pub fn output(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "feedsift {args:?} failed:\n{}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }
}

impl Daemon {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
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
