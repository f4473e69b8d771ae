//! Stopping and crashing in the middle of a poll: SIGTERM stops within
//! 10 s with everything committed so far kept; kill -9 at any moment
//! leaves a database that passes integrity_check, and the next poll
//! resumes and completes without duplicates.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::util::*;

/// An RSS feed of `n` items unique to feed `f`.
fn feed(f: usize, n: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {f}</title><link>http://example.org/{f}</link><description>d</description>"
    );
    for i in 0..n {
        s.push_str(&format!(
            "<item><title>Report {f}-{i} on harbour works</title><link>http://example.org/{f}/{i}</link><guid>f{f}-i{i}</guid><description>Paragraph {f} {i} about quay number {i} and crane {f}.</description><pubDate>Sat, 28 Nov 2026 0{h}:00:00 GMT</pubDate></item>",
            h = i % 10
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// Serves `/feed/N.xml` with `items` items each; `/slow/N.xml` sends its
/// headers, then a byte every 200 ms for ever.
fn serve(items: usize) -> SocketAddr {
    serve_counting(items, Hits::default())
}

/// Requests per path.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

fn serve_counting(items: usize, hits: Hits) -> SocketAddr {
    serve_app(axum::Router::new().fallback(move |req: Request| answer(req, items, hits.clone())))
}

async fn answer(req: Request, items: usize, hits: Hits) -> Response {
    let path = req.uri().path().to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let n: usize = path
        .rsplit('/')
        .next()
        .and_then(|s| s.trim_end_matches(".xml").parse().ok())
        .unwrap_or(0);
    let rss = [(header::CONTENT_TYPE, "application/rss+xml")];
    if path.starts_with("/slow/") {
        // Promises 100,000 bytes; sends a few a second.
        let length = [(header::CONTENT_LENGTH, "100000")];
        return (rss, length, trickle(b"<?xml version=\"1.0\"?>")).into_response();
    }
    (rss, feed(n, items)).into_response()
}

fn config(addr: SocketAddr, fast: usize, slow: usize) -> String {
    let mut s = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[polling]\ninterval = \"1h\"\ntimeout = \"60s\"\nper_host = 8\nallow_private_networks = true\n\n",
    );
    for f in 0..fast {
        s.push_str(&format!(
            "[[feed]]\nurl = \"http://{addr}/feed/{f}.xml\"\n\n"
        ));
    }
    for f in 0..slow {
        s.push_str(&format!(
            "[[feed]]\nurl = \"http://{addr}/slow/{f}.xml\"\n\n"
        ));
    }
    s.push_str("[topic.harbour]\nquery = \"harbour\"\n");
    s
}

fn count(site: &Site, sql: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open(site.db()).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(sql, [], |r| r.get(0)).ok()
}

fn integrity(site: &Site) -> String {
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_during_a_poll_stops_within_10s_and_keeps_what_was_committed() {
    let addr = serve(20);
    let site = Site::new(&config(addr, 30, 3));
    let mut daemon = Kill(
        site.cmd()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Wait until the fast feeds are stored while the slow ones still trickle.
    let start = Instant::now();
    while count(&site, "SELECT count(*) FROM items") != Some(600) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fast feeds not stored"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let in_flight = count(
        &site,
        "SELECT count(*) FROM feeds WHERE last_attempt IS NULL",
    );
    assert_eq!(
        in_flight,
        Some(3),
        "the slow feeds should still be in flight"
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(integrity(&site), "ok");
    assert_eq!(count(&site, "SELECT count(*) FROM items"), Some(600));
    assert_eq!(count(&site, "SELECT count(*) FROM topic_items"), Some(600));
}

#[test]
fn kill_9_during_a_large_poll_then_restart_loses_and_duplicates_nothing() {
    let feeds = 200;
    let per_feed = 50;
    let addr = serve(per_feed);
    let site = Site::new(&config(addr, feeds, 0));
    let total = (feeds * per_feed) as i64;
    // Kill at a different moment each round, spread over the poll. CI runs
    // 4 rounds; FEEDSIFT_CRASH_ROUNDS=20 runs the longer series that
    // RELIABILITY.md reports.
    let rounds: u64 = std::env::var("FEEDSIFT_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let delays = (0..rounds).map(|r| 100 + (r * 617) % 1400);
    for (round, delay_ms) in delays.enumerate() {
        let mut poll = Kill(
            site.cmd()
                .arg("poll")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        poll.0.kill().unwrap();
        poll.0.wait().unwrap();
        if std::fs::metadata(site.db()).is_err() {
            continue;
        }
        assert_eq!(integrity(&site), "ok", "round {round}");
        let stored = count(&site, "SELECT count(*) FROM items").unwrap_or(0);
        assert!(stored <= total, "round {round}: {stored} items");
        eprintln!(
            "round {round}: killed after {delay_ms} ms with {stored} of {total} items stored"
        );
        // What is stored is consistent: every item has its source row and
        // its topic row.
        assert_eq!(
            count(
                &site,
                "SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM item_sources)"
            ),
            Some(0),
            "round {round}"
        );
        assert_eq!(
            count(&site, "SELECT count(*) FROM topic_items"),
            Some(stored),
            "round {round}"
        );
    }
    // The next poll completes the work.
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&site), "ok");
    assert_eq!(count(&site, "SELECT count(*) FROM items"), Some(total));
    assert_eq!(
        count(&site, "SELECT count(DISTINCT uid) FROM items"),
        Some(total)
    );
    assert_eq!(
        count(&site, "SELECT count(*) FROM topic_items"),
        Some(total)
    );
}

#[test]
fn sighup_applies_added_removed_and_retimed_feeds_without_losing_items() {
    let hits = Hits::default();
    let addr = serve_counting(5, hits.clone());
    let feed = |f: usize, interval: &str| {
        format!("[[feed]]\nurl = \"http://{addr}/feed/{f}.xml\"\ninterval = \"{interval}\"\n\n")
    };
    let head = "[server]\nlisten = \"127.0.0.1:0\"\n\n[polling]\nper_host = 8\nallow_private_networks = true\n\n";
    let topic = "[topic.harbour]\nquery = \"harbour\"\n";
    let site = Site::new(&format!("{head}{}{}{topic}", feed(0, "1h"), feed(1, "1h")));
    let mut daemon = Kill(
        site.cmd()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hit = |p: &str| hits.lock().unwrap().get(p).copied().unwrap_or(0);
    wait_for("both feeds stored", Duration::from_secs(20), || {
        (count(&site, "SELECT count(*) FROM items") == Some(10)).then_some(())
    });

    // Feed 0 goes, feed 2 comes, feed 1 is polled every second.
    std::fs::write(
        site.config(),
        format!("{head}{}{}{topic}", feed(1, "1s"), feed(2, "1h")),
    )
    .unwrap();
    signal(&daemon.0, "HUP");
    wait_for("the added feed stored", Duration::from_secs(20), || {
        (count(&site, "SELECT count(*) FROM items") == Some(15)).then_some(())
    });
    let (zero, one) = (hit("/feed/0.xml"), hit("/feed/1.xml"));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(hit("/feed/0.xml"), zero, "a removed feed is still polled");
    assert!(
        hit("/feed/1.xml") >= one + 2,
        "the shorter interval was not applied"
    );
    assert_eq!(hit("/feed/2.xml"), 1);
    // Nothing stored was lost, and the removed feed's items stay.
    assert_eq!(count(&site, "SELECT count(*) FROM items"), Some(15));
    assert_eq!(count(&site, "SELECT count(*) FROM topic_items"), Some(15));
    signal(&daemon.0, "TERM");
    let status = wait_for("exit", Duration::from_secs(10), || {
        daemon.0.try_wait().unwrap()
    });
    assert!(status.success());
    assert_eq!(integrity(&site), "ok");
}
