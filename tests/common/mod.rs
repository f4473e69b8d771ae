//! Shared parts of the integration tests: a real HTTP server on 127.0.0.1:0
//! serving the fixture feeds, a config in a temp dir, the real binary, and
//! the RFC 4287 checks every published document must pass.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Serves `tests/fixtures/feeds/NAME` at `/NAME` on a fresh loopback port,
/// from a thread of its own so blocking test code can use it.
pub fn serve_fixtures() -> SocketAddr {
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
            let app = axum::Router::new().route("/{name}", axum::routing::get(feed_file));
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("fixture server address")
}

async fn feed_file(UrlPath(name): UrlPath<String>) -> axum::response::Response {
    let path = fixtures().join("feeds").join(&name);
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

    /// Runs the binary with `args`, returning its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run feedsift")
    }
}

/// The config used by most tests: the fixture feeds plus the shipped topic.
pub fn fixture_config(addr: SocketAddr, extra_feeds: &[&str]) -> String {
    let mut feeds = String::new();
    for name in ["tass.rss", "axar.atom", "nhk.rdf", "markets.json"]
        .iter()
        .chain(extra_feeds)
    {
        feeds.push_str(&format!("[[feed]]\nurl = \"http://{addr}/{name}\"\n\n"));
    }
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "http://feeds.example.org/"

[polling]
interval = "1h"
timeout = "5s"

{feeds}
[alias]
russia = ["Russia", "Russian", "Moscow", "Kremlin", "Lavrov", "Putin", "Россия", "ロシア"]
japan  = ["Japan", "Japanese", "Tokyo", "Kishida", "Abe", "Kono", "Япония", "日本"]

[topic.russia-japan]
title = "Russia–Japan relations"
query = '(@russia AND @japan) OR "Kuril Islands" OR "Northern Territories" OR "peace treaty"'
"#
    )
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
    let mut ids = std::collections::HashSet::new();
    for e in &feed.entries {
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
