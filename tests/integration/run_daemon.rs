//! `feedsift run`: the real daemon polls on start, serves topic feeds and
//! health over HTTP, and stops cleanly on SIGTERM.

use std::time::{Duration, Instant};

use crate::util::*;

fn get(url: &str) -> Option<(u16, String, String)> {
    let resp = reqwest::blocking::get(url).ok()?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Some((status, ct, resp.text().ok()?))
}

#[test]
fn run_serves_the_topic_and_stops_cleanly_on_sigterm() {
    let feeds = serve_fixtures();
    let config = fixture_config(feeds, &[]);
    let site = Site::new(&config);
    let mut daemon = Daemon::start(&site);
    let base = daemon.base();

    let (status, _, body) = get(&format!("{base}/healthz")).unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));

    // The scheduler polls every feed shortly after start.
    let url = format!("{base}/topics/russia-japan.atom");
    let (ct, doc) = wait_for("the topic to fill", Duration::from_secs(20), || {
        let (status, ct, body) = get(&url)?;
        assert_eq!(status, 200);
        // Five items, four stories: Axar.az's copy joins the TASS original.
        (titles(&body).len() == 4).then_some((ct, body))
    });
    assert_eq!(ct, "application/atom+xml; charset=utf-8");
    // markets.json adds no entry of its own; wait until it is polled too.
    site.wait_until_polled(4);
    assert_valid_atom(&doc);

    let (status, _, body) = get(&format!("{base}/topics/nope.atom")).unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("no topic \"nope\""), "{body}");

    // SIGHUP reloads: a topic added to config.toml is served, filled from
    // the stored history.
    std::fs::write(
        site.config(),
        format!("{config}\n[topic.caucasus]\nquery = \"Armenia OR Caucasus\"\n"),
    )
    .unwrap();
    signal(&daemon.child, "HUP");
    let doc = wait_for("the added topic", Duration::from_secs(10), || {
        let (status, _, body) = get(&format!("{base}/topics/caucasus.atom"))?;
        (status == 200).then_some(body)
    });
    assert_eq!(titles(&doc).len(), 2, "{doc}");

    // An invalid config is refused and the running one kept.
    std::fs::write(
        site.config(),
        format!("{config}\n[topic.Bad]\nquery = \"x\"\n"),
    )
    .unwrap();
    signal(&daemon.child, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&format!("{base}/healthz")).unwrap().0, 200);
    assert_eq!(get(&format!("{base}/topics/caucasus.atom")).unwrap().0, 200);

    signal(&daemon.child, "TERM");
    let started = Instant::now();
    let status = wait_for("exit after SIGTERM", Duration::from_secs(10), || {
        daemon.child.try_wait().unwrap()
    });
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = daemon.final_log();
    assert!(log.contains("stopped"), "{log}");
    assert!(
        log.contains("reload refused") && log.contains("bad topic slug \"Bad\""),
        "{log}"
    );

    // The database is whole after the stop.
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let items: i64 = conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(items, 11);
}

/// Reads sd_notify datagrams sent to a socket the test owns.
struct NotifySocket {
    sock: std::os::unix::net::UnixDatagram,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        NotifySocket {
            sock,
            _dir: dir,
            path,
            seen: Vec::new(),
        }
    }

    /// Waits for a message holding `line`; returns its position in the
    /// order of all messages received.
    fn wait(&mut self, line: &str, limit: Duration) -> usize {
        self.wait_after(line, 0, limit)
    }

    /// Like `wait`, for a message at or after position `from`.
    fn wait_after(&mut self, line: &str, mut from: usize, limit: Duration) -> usize {
        let start = Instant::now();
        loop {
            if let Some(i) = self.seen[from..]
                .iter()
                .position(|m| m.lines().any(|l| l == line))
            {
                return from + i;
            }
            from = self.seen.len();
            assert!(
                start.elapsed() < limit,
                "no {line} within {limit:?}; got {:?}",
                self.seen
            );
            self.pump();
        }
    }

    /// Receives one message, if one comes within the read timeout.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        if let Ok(n) = self.sock.recv(&mut buf) {
            self.seen
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping_in_order() {
    let config = fixture_config(serve_fixtures(), &[]);
    let site = Site::new(&config);
    let mut sock = NotifySocket::new();
    // An environment of the test's making; not waiting for /healthz.
    let mut daemon = Daemon::spawn(
        site.cmd()
            .arg("run")
            .env("NOTIFY_SOCKET", &sock.path)
            // WatchdogSec=1s: a ping every half second.
            .env("WATCHDOG_USEC", "1000000")
            .env_remove("WATCHDOG_PID"),
    );
    let ready = sock.wait("READY=1", Duration::from_secs(20));
    // READY comes once the server listens.
    assert_eq!(
        get(&format!("{}/healthz", daemon.base())).map(|r| r.0),
        Some(200)
    );
    assert!(
        sock.seen[ready]
            .lines()
            .any(|l| l.starts_with("STATUS=") && l.contains("feeds")),
        "{:?}",
        sock.seen
    );
    let ping = sock.wait("WATCHDOG=1", Duration::from_secs(5));
    // A later STATUS carries the counts of what was polled.
    let status = wait_for("a STATUS with items", Duration::from_secs(20), || {
        sock.pump();
        sock.seen
            .iter()
            .rev()
            .find(|m| m.contains("STATUS=4 feeds") && m.contains("last poll"))
            .cloned()
    });
    assert!(status.contains(" items, "), "{status}");

    signal(&daemon.child, "HUP");
    let reloading = sock.wait("RELOADING=1", Duration::from_secs(10));
    assert!(
        sock.seen[reloading].contains("MONOTONIC_USEC="),
        "{:?}",
        sock.seen[reloading]
    );
    let ready_again = sock.wait_after("READY=1", reloading, Duration::from_secs(10));

    signal(&daemon.child, "TERM");
    let stopping = sock.wait("STOPPING=1", Duration::from_secs(10));
    let status = wait_for("exit after SIGTERM", Duration::from_secs(10), || {
        daemon.child.try_wait().unwrap()
    });
    assert!(status.success(), "exit status {status:?}");
    assert!(
        ready < ping && ping < reloading && reloading < ready_again && ready_again < stopping,
        "out of order: {:?}",
        sock.seen
    );
}

#[test]
fn logs_suit_the_journal_and_follow_the_configured_level() {
    let feeds = serve_fixtures();
    let config = fixture_config(feeds, &[]);
    let site = Site::new(&config);
    // Under systemd: a syslog priority first, no timestamp, no colour.
    let out = site
        .cmd()
        .arg("poll")
        .env("JOURNAL_STREAM", "8:12345")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    let lines: Vec<&str> = log.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| l.starts_with(p)),
            "no priority prefix: {l}"
        );
        assert!(!l.contains('\x1b'), "colour in the journal: {l:?}");
        assert!(!l.contains("Z "), "timestamp in the journal: {l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("poll finished")),
        "{log}"
    );

    // `[log] level` applies when the environment sets none...
    std::fs::write(site.config(), format!("[log]\nlevel = \"warn\"\n{config}")).unwrap();
    let quiet = site
        .cmd()
        .arg("poll")
        .env_remove("FEEDSIFT_LOG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(
        !stderr(&quiet).contains("poll finished"),
        "{}",
        stderr(&quiet)
    );
    // ...and RUST_LOG overrides it.
    let loud = site
        .cmd()
        .arg("poll")
        .env_remove("FEEDSIFT_LOG")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(stderr(&loud).contains("poll finished"), "{}", stderr(&loud));

    // A bad level is refused with its line.
    std::fs::write(
        site.config(),
        format!("[log]\nlevel = \"info,[=\"\n{config}"),
    )
    .unwrap();
    let bad = site.run(&["check"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("bad log level"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains(":2:"), "{}", stderr(&bad));
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    // The four fixture feeds, and one that parses to no items.
    let config = fixture_config(serve_fixtures(), &["empty-channel.rss"]);
    let site = Site::new(&config);
    let daemon = Daemon::start(&site);
    let url = format!("{}/metrics", daemon.base());
    // Every fixture feed polled once.
    let scrape = wait_for("five polls in the metrics", Duration::from_secs(20), || {
        let resp = reqwest::blocking::get(&url).ok()?;
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp
            .headers()
            .get("content-type")?
            .to_str()
            .ok()?
            .to_owned();
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
        let text = resp.text().ok()?;
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let polls: f64 = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "feedsift_polls_total")
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => panic!("polls_total is not a counter: {s:?}"),
            })
            .sum();
        (polls == 5.0).then_some(scrape)
    });
    let value = |metric: &str, label: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no {metric} {label:?}"));
        match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
            other => panic!("{metric}: {other:?}"),
        }
    };
    assert_eq!(value("feedsift_polls_total", Some(("result", "ok"))), 4.0);
    // A feed with no items is counted as such, never as ok, and logged
    // with its url and status for an operator to see.
    assert_eq!(
        value("feedsift_polls_total", Some(("result", "no_items"))),
        1.0
    );
    assert_eq!(
        value("feedsift_polls_total", Some(("result", "malformed"))),
        0.0
    );
    let log = daemon.log();
    assert!(
        log.lines().any(|l| l.contains("empty-channel.rss")
            && l.contains("status=no-items")
            && l.contains("WARN")),
        "{log}"
    );
    assert_eq!(
        value("feedsift_polls_total", Some(("result", "failed"))),
        0.0
    );
    assert_eq!(value("feedsift_items_ingested_total", None), 11.0);
    assert_eq!(value("feedsift_items", None), 11.0);
    assert_eq!(value("feedsift_feeds", None), 5.0);
    assert_eq!(value("feedsift_feeds_in_backoff", None), 0.0);
    assert_eq!(value("feedsift_fetch_duration_seconds", None), 5.0);
    assert!(value("feedsift_topic_items", Some(("topic", "russia-japan"))) >= 5.0);
    assert!(value("feedsift_database_bytes", None) > 0.0);
    assert!(value("feedsift_last_poll_timestamp_seconds", None) > 1.7e9);
    assert!(value("feedsift_stories", None) >= 0.0);
}

/// A feed answering 304 is polled again after its interval, not at once:
/// the refresh of an unchanged feed reports the next poll it recorded.
#[test]
fn a_not_modified_feed_waits_for_its_interval() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    // No <ttl>: the configured interval decides.
    let doc = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Japan and Russia talk</title><link>http://t.example/1</link></item>
</channel></rss>"#
        .to_string();
    let app = {
        let hits = hits.clone();
        axum::Router::new().route(
            "/feed.rss",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let (hits, doc) = (hits.clone(), doc.clone());
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let etag = [(axum::http::header::ETAG, "\"v1\"")];
                    if headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                        (axum::http::StatusCode::NOT_MODIFIED, etag, String::new())
                    } else {
                        (axum::http::StatusCode::OK, etag, doc)
                    }
                }
            }),
        )
    };
    let addr = serve_app(app);
    let config = feeds_config([format!("http://{addr}/feed.rss")], "")
        .replace("interval = \"1h\"", "interval = \"2s\"");
    let site = Site::new(&config);
    let daemon = Daemon::start(&site);
    std::thread::sleep(Duration::from_secs(7));
    let n = hits.load(Ordering::SeqCst);
    // The first poll, then one every 2 s (with jitter): a handful, never
    // a loop of conditional requests.
    assert!(
        (2..=6).contains(&n),
        "{n} requests in 7 s\n{}",
        daemon.log()
    );
}
