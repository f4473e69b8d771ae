//! Polling benchmark on loopback: 1000 feeds of 50 items spread over 50
//! loopback hosts, served by an in-process HTTP server, polled by the real
//! release binary (`feedsift poll`), and by newsboat as a peer when it is
//! installed.
//!
//! Scenarios, each timed over several runs (medians reported):
//!   first   — an empty database: every feed fetched, parsed, stored;
//!   304     — nothing changed: every request conditional, every answer 304;
//!   hang    — 1% of the feeds never answer: the poll must end within the
//!             timeout plus 2 s with every healthy item stored.
//!
//! `cargo bench --bench poll` runs it all; `-- --smoke` runs a small, quick
//! version (CI). `-- --feeds N --runs R` to change the size.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

const HOSTS: usize = 50;
const ITEMS: usize = 50;
const TIMEOUT_SECS: u64 = 5;

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    conditional: AtomicUsize,
    not_modified: AtomicUsize,
}

struct Feeds {
    bodies: HashMap<usize, String>,
    counters: Counters,
}

fn feed_body(n: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Feed {n}</title><link>https://site{n}.example/</link><description>bench</description>\n"
    );
    // Every item its own text, as news is: a few shared news words and
    // rarer ones drawn per item (names, places, figures).
    let mut seed = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut word = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        const NEWS: &[&str] = &[
            "talks",
            "Tokyo",
            "Moscow",
            "trade",
            "minister",
            "energy",
            "fisheries",
            "visit",
        ];
        if seed.is_multiple_of(4) {
            NEWS[(seed >> 8) as usize % NEWS.len()].to_owned()
        } else {
            format!("w{}", (seed >> 16) % 50_000)
        }
    };
    for i in 0..ITEMS {
        let title: Vec<String> = (0..8).map(|_| word()).collect();
        let body: Vec<String> = (0..40).map(|_| word()).collect();
        s.push_str(&format!(
            "<item><title>{}</title><link>https://site{n}.example/news/{i}</link><guid>f{n}-i{i}</guid><pubDate>Fri, 10 May 2019 {:02}:{:02}:00 +0000</pubDate><description>&lt;p&gt;{}.&lt;/p&gt;</description></item>\n",
            title.join(" "),
            i % 24,
            (i * 7) % 60,
            body.join(" ")
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

async fn serve_feed(
    State(feeds): State<Arc<Feeds>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let c = &feeds.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    let Some(n) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"v1-{n}\"");
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let ims = headers.get(header::IF_MODIFIED_SINCE);
    if inm.is_some() || ims.is_some() {
        c.conditional.fetch_add(1, Ordering::Relaxed);
    }
    if inm == Some(etag.as_str()) {
        c.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    match feeds.bodies.get(&n) {
        Some(b) => (
            [
                (header::CONTENT_TYPE, "application/rss+xml".to_owned()),
                (header::ETAG, etag),
                (
                    header::LAST_MODIFIED,
                    "Fri, 10 May 2019 12:00:00 GMT".to_owned(),
                ),
            ],
            b.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn hang() -> Response {
    std::future::pending::<()>().await;
    StatusCode::OK.into_response()
}

/// Starts the server on 127.0.1.1..=127.0.1.HOSTS, one port for all.
fn start_server(feeds: usize) -> (Vec<SocketAddr>, Arc<Feeds>) {
    let state = Arc::new(Feeds {
        bodies: (0..feeds).map(|n| (n, feed_body(n))).collect(),
        counters: Counters::default(),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let st = state.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/f/{name}", axum::routing::get(serve_feed))
                .route("/hang/{name}", axum::routing::get(hang))
                .with_state(st);
            let mut addrs = Vec::new();
            for h in 1..=HOSTS {
                let l = tokio::net::TcpListener::bind(format!("127.0.1.{h}:0"))
                    .await
                    .expect("bind loopback");
                addrs.push(l.local_addr().expect("addr"));
                let app = app.clone();
                tokio::spawn(async move { axum::serve(l, app).await });
            }
            tx.send(addrs).expect("send");
            std::future::pending::<()>().await;
        });
    });
    (rx.recv().expect("server addresses"), state)
}

fn feed_urls(addrs: &[SocketAddr], feeds: usize, hanging: usize) -> Vec<String> {
    (0..feeds)
        .map(|n| {
            let a = addrs[n % addrs.len()];
            // One feed in each block of feeds/hanging hangs, each on a
            // different host: a hanging server, not a hanging host of
            // which per_host slots would all be taken (see BENCHMARKS.md).
            let hangs = feeds
                .checked_div(hanging)
                .is_some_and(|block| n % block == (n / block) % addrs.len());
            if hangs {
                format!("http://{a}/hang/{n}.xml")
            } else {
                format!("http://{a}/f/{n}.xml")
            }
        })
        .collect()
}

fn write_config(dir: &Path, urls: &[String]) {
    let mut c = format!(
        "[storage]\npath = \"feedsift.db\"\n[polling]\ninterval = \"1h\"\ntimeout = \"{TIMEOUT_SECS}s\"\n\n"
    );
    for u in urls {
        c.push_str(&format!("[[feed]]\nurl = \"{u}\"\n"));
    }
    c.push_str("\n[alias]\nrussia = [\"Russia\", \"Moscow\"]\njapan = [\"Japan\", \"Tokyo\"]\n[topic.russia-japan]\nquery = '@russia AND @japan'\n");
    std::fs::write(dir.join("config.toml"), c).expect("write config");
}

fn poll(dir: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_feedsift"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("poll")
        .env("FEEDSIFT_LOG", "warn")
        .output()
        .expect("run feedsift");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "poll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn count(dir: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(dir.join("feedsift.db")).expect("open db");
    c.query_row(sql, [], |r| r.get(0)).expect("query")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Peak resident memory of the children waited for so far, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass it.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    }
}

fn newsboat_available() -> bool {
    Command::new("newsboat").arg("--version").output().is_ok()
}

/// newsboat reloading the same feeds, with as many threads as feedsift's
/// default concurrency and the same timeout.
fn newsboat_poll(dir: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new("newsboat")
        .args([
            "-u",
            "urls",
            "-c",
            "cache.db",
            "-C",
            "newsboat.conf",
            "-x",
            "reload",
        ])
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("run newsboat");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "newsboat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    let smoke = flag("--smoke").is_some();
    let value = |name: &str, default: usize| {
        flag(name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let feeds = value("--feeds", if smoke { 100 } else { 1000 });
    let runs = value("--runs", if smoke { 1 } else { 5 });
    let (addrs, server) = start_server(feeds);
    println!(
        "feedsift poll benchmark: {feeds} feeds x {ITEMS} items on {HOSTS} loopback hosts, {runs} runs each"
    );

    // first poll + 304 polls
    let mut first = Vec::new();
    let mut not_modified = Vec::new();
    let mut dir_keep = None;
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), &feed_urls(&addrs, feeds, 0));
        first.push(poll(dir.path()));
        let items = count(dir.path(), "SELECT count(*) FROM items");
        assert_eq!(items as usize, feeds * ITEMS, "every item stored");
        let before = (
            server.counters.conditional.load(Ordering::Relaxed),
            server.counters.not_modified.load(Ordering::Relaxed),
            server.counters.requests.load(Ordering::Relaxed),
        );
        not_modified.push(poll(dir.path()));
        let cond = server.counters.conditional.load(Ordering::Relaxed) - before.0;
        let nm = server.counters.not_modified.load(Ordering::Relaxed) - before.1;
        let req = server.counters.requests.load(Ordering::Relaxed) - before.2;
        assert_eq!(
            (req, cond, nm),
            (feeds, feeds, feeds),
            "every request conditional, every answer 304"
        );
        dir_keep = Some(dir);
    }
    let rss = children_max_rss_kib();
    println!(
        "first poll (empty db, {} items stored): median {}",
        feeds * ITEMS,
        secs(median(first.clone()))
    );
    println!(
        "second poll (all 304, {feeds}/{feeds} conditional): median {}",
        secs(median(not_modified.clone()))
    );
    println!(
        "peak RSS of feedsift across these polls: {} MiB",
        rss / 1024
    );

    // hanging feeds
    let hanging = (feeds / 100).max(1);
    let mut hang_runs = Vec::new();
    for _ in 0..runs.min(3) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), &feed_urls(&addrs, feeds, hanging));
        let took = poll(dir.path());
        let items = count(dir.path(), "SELECT count(*) FROM items") as usize;
        assert_eq!(
            items,
            (feeds - hanging) * ITEMS,
            "every healthy item stored"
        );
        let timeouts = count(
            dir.path(),
            "SELECT count(*) FROM feeds WHERE last_status = 'timeout'",
        ) as usize;
        assert_eq!(timeouts, hanging);
        hang_runs.push(took);
    }
    let hang_median = median(hang_runs.clone());
    println!(
        "poll with {hanging} hanging feeds (timeout {TIMEOUT_SECS} s): median {} (limit {} s)",
        secs(hang_median),
        TIMEOUT_SECS + 2
    );
    assert!(
        hang_runs
            .iter()
            .all(|d| *d < Duration::from_secs(TIMEOUT_SECS + 2)),
        "a hanging feed held the poll up: {hang_runs:?}"
    );

    // the peer
    if newsboat_available() {
        let dir = dir_keep.expect("a run");
        let urls = feed_urls(&addrs, feeds, 0).join("\n");
        std::fs::write(dir.path().join("urls"), urls).expect("urls");
        std::fs::write(
            dir.path().join("newsboat.conf"),
            format!("reload-threads 32\ndownload-timeout {TIMEOUT_SECS}\n"),
        )
        .expect("conf");
        let nb_first = newsboat_poll(dir.path());
        let c = &server.counters;
        let before = (
            c.requests.load(Ordering::Relaxed),
            c.conditional.load(Ordering::Relaxed),
            c.not_modified.load(Ordering::Relaxed),
        );
        let mut nb_second = Vec::new();
        for _ in 0..runs {
            nb_second.push(newsboat_poll(dir.path()));
        }
        println!(
            "newsboat's unchanged reloads sent {} requests, {} conditional, {} answered 304",
            c.requests.load(Ordering::Relaxed) - before.0,
            c.conditional.load(Ordering::Relaxed) - before.1,
            c.not_modified.load(Ordering::Relaxed) - before.2
        );
        let (ours, theirs) = (median(not_modified), median(nb_second));
        println!(
            "newsboat (reload-threads 32): first reload {}, unchanged reload median {}",
            secs(nb_first),
            secs(theirs)
        );
        println!(
            "ratio, unchanged poll: newsboat / feedsift = {:.1}x; first poll: {:.1}x",
            theirs.as_secs_f64() / ours.as_secs_f64(),
            nb_first.as_secs_f64() / median(first).as_secs_f64()
        );
    } else {
        println!("newsboat not installed: no peer comparison (apt-get install newsboat)");
    }
}
