//! `feedsift run`: the real daemon polls on start, serves topic feeds and
//! health over HTTP, and stops cleanly on SIGTERM.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the daemon if a test fails before stopping it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

#[test]
fn run_serves_the_topic_and_stops_cleanly_on_sigterm() {
    let feeds = serve_fixtures();
    let port = free_port();
    let config = fixture_config(feeds, &[]).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let site = Site::new(&config);
    let mut daemon = Daemon(
        site.cmd()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");

    let (status, _, body) = wait_for("/healthz", Duration::from_secs(20), || {
        get(&format!("{base}/healthz"))
    });
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
    wait_for("every feed polled", Duration::from_secs(20), || {
        let conn = rusqlite::Connection::open(site.db()).ok()?;
        let polled: i64 = conn
            .query_row(
                "SELECT count(*) FROM feeds WHERE last_success IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (polled == 4).then_some(())
    });
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
    signal(&daemon.0, "HUP");
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
    signal(&daemon.0, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&format!("{base}/healthz")).unwrap().0, 200);
    assert_eq!(get(&format!("{base}/topics/caucasus.atom")).unwrap().0, 200);

    signal(&daemon.0, "TERM");
    let started = Instant::now();
    let status = wait_for("exit after SIGTERM", Duration::from_secs(10), || {
        daemon.0.try_wait().unwrap()
    });
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut log = String::new();
    std::io::Read::read_to_string(daemon.0.stderr.as_mut().unwrap(), &mut log).unwrap();
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
