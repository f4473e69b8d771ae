//! Several processes over one PostgreSQL database (README, "Scaling
//! out"): `poll` processes share the feeds by lease, one of them groups
//! stories, `serve` processes publish what they wrote and learn of changes
//! by LISTEN/NOTIFY. Each test has a database of its own (`util::PgDb`);
//! without a server at 127.0.0.1:5432 they say SKIPPED and pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::IntoResponse;

use crate::util::*;

/// A loopback publisher of `n` feeds at `/f/{i}`, three items each (even
/// feeds about Russia and Japan, odd ones not), counting every fetch; a
/// test can add an item to a feed and slow every answer down.
#[derive(Clone)]
struct Publisher {
    fetches: Arc<Vec<AtomicU32>>,
    extra: Arc<Mutex<HashMap<usize, String>>>,
    delay: Arc<Mutex<Duration>>,
    /// While set, every answer waits: lets a test hold the first fetches
    /// until all its pollers are leasing.
    hold: Arc<AtomicBool>,
    /// Requests being answered now, and the most there ever were.
    in_flight: Arc<AtomicU32>,
    most: Arc<AtomicU32>,
}

impl Publisher {
    fn start(n: usize) -> (Publisher, std::net::SocketAddr) {
        let p = Publisher {
            fetches: Arc::new((0..n).map(|_| AtomicU32::new(0)).collect()),
            extra: Arc::default(),
            delay: Arc::default(),
            hold: Arc::default(),
            in_flight: Arc::default(),
            most: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/f/{i}", axum::routing::get(feed))
            .with_state(p.clone());
        let addr = serve_app(app);
        (p, addr)
    }

    fn fetches(&self) -> Vec<u32> {
        self.fetches
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

async fn feed(State(p): State<Publisher>, UrlPath(i): UrlPath<usize>) -> axum::response::Response {
    let Some(count) = p.fetches.get(i) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    count.fetch_add(1, Ordering::Relaxed);
    let now = p.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    p.most.fetch_max(now, Ordering::SeqCst);
    let delay = *p.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    while p.hold.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    p.in_flight.fetch_sub(1, Ordering::SeqCst);
    let subject = if i % 2 == 0 {
        "Japan and Russia hold talks"
    } else {
        "Weather in Lisbon"
    };
    let mut items = String::new();
    for k in 0..3 {
        items.push_str(&format!(
            "<item><title>{subject}, round {i}-{k}</title><link>http://news{i}.example/{k}</link>\
             <description>Report {i}-{k}: officials met on day {k} of feed {i}.</description>\
             <pubDate>Mon, 02 Dec 2024 1{k}:00:00 GMT</pubDate></item>"
        ));
    }
    if let Some(extra) = p.extra.lock().unwrap().get(&i) {
        items.push_str(extra);
    }
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {i}</title>\
             <link>http://news{i}.example/</link><description>d</description>{items}</channel></rss>"
        ),
    )
        .into_response()
}

/// Topics over the publisher's feeds: by story (the default) and by item.
const TOPICS: &str = r#"
[topic.rj]
title = "Russia and Japan"
query = 'Japan AND Russia'

[topic.rj-items]
title = "Russia and Japan, every item"
query = 'Japan AND Russia'
group = "item"
"#;

fn config(addr: std::net::SocketAddr, feeds: impl Iterator<Item = usize>, polling: &str) -> String {
    feeds_config(feeds.map(|i| format!("http://{addr}/f/{i}")), TOPICS)
        .replace("[polling]\n", &format!("[polling]\n{polling}\n"))
}

fn get(url: &str) -> (String, String) {
    let r = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(r.status(), 200, "GET {url}");
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (etag, r.text().expect("body"))
}

fn start(site: &Site, role: &str) -> Daemon {
    let mut cmd = site.cmd();
    cmd.args(["run", "--role", role]);
    if role == "serve" {
        Daemon::spawn(&mut cmd)
    } else {
        let mut d = Daemon::spawn_quiet(&mut cmd);
        wait_leasing(&mut d);
        d
    }
}

/// Waits until a poller has joined the lease loop.
fn wait_leasing(d: &mut Daemon) {
    let started = Instant::now();
    while !d.log().contains("polling feeds leased") {
        if started.elapsed() > Duration::from_secs(30)
            || d.child.try_wait().ok().flatten().is_some()
        {
            let _ = d.child.kill();
            panic!("a poller did not start:\n{}", d.final_log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to `secs` until `feeds` feeds have been polled successfully.
fn wait_all_polled(db: &PgDb, feeds: usize, secs: u64) {
    wait_for("every feed polled", Duration::from_secs(secs), || {
        (db.count("SELECT count(*) FROM feeds WHERE last_success IS NOT NULL") == feeds as i64)
            .then_some(())
    });
}

#[test]
fn three_pollers_and_two_servers_share_one_database() {
    let Some(db) = PgDb::create("three_pollers_and_two_servers_share_one_database") else {
        return;
    };
    const FEEDS: usize = 1000;
    let (publisher, addr) = Publisher::start(FEEDS);
    // `per_host` bounds the requests to one host across all pollers: at
    // 16 (one poller's `concurrency`), a poller that finished a fetch took
    // the freed lease again at once while the others asked once a second,
    // and one of three could poll nothing (seen in CI). At 48 each can
    // hold its 16 at once, so every poller has work while fetches are held.
    let site = Site::with_storage_url(
        &config(addr, 0..FEEDS, "per_host = 48\nconcurrency = 16"),
        &db.url,
    );
    // The servers first: they create nothing, and must learn of every
    // write the pollers make.
    let servers = [start(&site, "serve"), start(&site, "serve")];
    // All three spawned before any is waited for, and every fetch held
    // until all three lease: a poller started a second after the others
    // could find every feed already polled (seen under load in CI).
    publisher.hold.store(true, Ordering::SeqCst);
    let mut pollers: Vec<Daemon> = (0..3)
        .map(|_| {
            let mut cmd = site.cmd();
            cmd.args(["run", "--role", "poll"]);
            Daemon::spawn_quiet(&mut cmd)
        })
        .collect();
    for p in &mut pollers {
        wait_leasing(p);
    }
    publisher.hold.store(false, Ordering::SeqCst);

    wait_all_polled(&db, FEEDS, 180);
    wait_for("every item in a story", Duration::from_secs(60), || {
        (db.count("SELECT count(*) FROM items WHERE story_id IS NULL") == 0).then_some(())
    });
    // Nothing is fetched again within the interval (an hour).
    std::thread::sleep(Duration::from_secs(3));
    let fetches = publisher.fetches();
    let wrong: Vec<(usize, u32)> = fetches
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 1)
        .map(|(i, n)| (i, *n))
        .collect();
    assert!(
        wrong.is_empty(),
        "feeds not fetched exactly once (feed, fetches): {:?}",
        &wrong[..wrong.len().min(20)]
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), 3 * FEEDS as i64);
    assert_eq!(
        db.count("SELECT count(*) FROM item_sources"),
        3 * FEEDS as i64
    );
    assert_eq!(
        db.count("SELECT count(*) FROM topic_items WHERE slug = 'rj'"),
        3 * FEEDS as i64 / 2
    );
    // The feeds were shared: every poller stored some.
    for p in &mut pollers {
        assert!(
            p.log().contains("new_items=3"),
            "a poller polled nothing:\n{}",
            p.log()
        );
    }
    // Exactly one poller groups stories.
    let grouping = pollers
        .iter()
        .filter(|p| p.log().contains("this process groups stories"))
        .count();
    assert_eq!(grouping, 1, "processes that grouped stories");

    // Both servers publish the same bytes under the same ETag.
    for path in [
        "/topics/rj.atom",
        "/topics/rj-items.atom",
        "/topics/rj.json",
    ] {
        let (a, b) = (
            get(&format!("{}{path}", servers[0].base())),
            get(&format!("{}{path}", servers[1].base())),
        );
        assert!(!a.0.is_empty(), "{path} has no ETag");
        assert_eq!(a.0, b.0, "{path}: the servers' ETags differ");
        assert!(a.1 == b.1, "{path}: the servers' documents differ");
        assert!(
            a.1.contains("Japan and Russia hold talks, round"),
            "{path} lacks the items:\n{}",
            a.1
        );
    }

    // A change written by another process reaches both servers within a
    // second of its commit: a one-off poll of feed 0 with a new item.
    publisher.extra.lock().unwrap().insert(
        0,
        "<item><title>Japan and Russia sign a fisheries deal</title>\
         <link>http://news0.example/deal</link></item>"
            .into(),
    );
    let one_off = Site::with_storage_url(&config(addr, 0..1, ""), &db.url);
    let out = one_off.run(&["poll"]);
    assert!(out.status.success(), "poll: {}", stderr(&out));
    let committed = Instant::now();
    for s in &servers {
        let url = format!("{}/topics/rj-items.atom", s.base());
        wait_for("the new item on a server", Duration::from_secs(5), || {
            get(&url).1.contains("fisheries deal").then_some(())
        });
    }
    let took = committed.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the change took {took:?} to reach both servers"
    );
}

/// Terminates every session on the test's database, as a server restart
/// does to its clients (a real restart would cut the other tests' databases
/// on the same server too).
fn cut_connections(db: &PgDb) {
    let mut admin = postgres::Client::connect(
        "postgres://postgres@127.0.0.1:5432/postgres",
        postgres::NoTls,
    )
    .expect("admin connection");
    let name = db.url.rsplit('/').next().expect("database name");
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .expect("terminate sessions");
}

#[test]
fn a_killed_poller_s_feeds_are_polled_by_another_within_the_lease() {
    let Some(db) = PgDb::create("a_killed_poller_s_feeds_are_polled_by_another_within_the_lease")
    else {
        return;
    };
    const FEEDS: usize = 40;
    let (publisher, addr) = Publisher::start(FEEDS);
    *publisher.delay.lock().unwrap() = Duration::from_secs(2);
    let site = Site::with_storage_url(
        &config(addr, 0..FEEDS, "per_host = 16\nconcurrency = 8"),
        &db.url,
    );
    let mut victim = start(&site, "poll");
    let _survivor = start(&site, "poll");
    // Both hold leases: polls are in flight in each.
    wait_for("both pollers polling", Duration::from_secs(20), || {
        (db.count("SELECT count(DISTINCT lease_owner) FROM feeds WHERE lease_owner IS NOT NULL")
            == 2)
            .then_some(())
    });
    let orphaned = db.count(
        "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL
         AND lease_owner = (SELECT min(lease_owner) FROM feeds)",
    );
    let _ = victim.child.kill();
    let killed = Instant::now();
    wait_all_polled(&db, FEEDS, 100);
    let took = killed.elapsed();
    eprintln!("every feed polled {took:?} after kill -9 of a poller holding {orphaned} leases");
    assert!(
        took < Duration::from_secs(75),
        "the killed poller's feeds took {took:?} to be polled (lease 60 s)"
    );
    assert!(orphaned > 0);
    assert_eq!(db.count("SELECT count(*) FROM items"), 3 * FEEDS as i64);
    assert_eq!(
        db.count("SELECT count(*) FROM item_sources"),
        3 * FEEDS as i64
    );
    // Only the polls the killed process abandoned were made twice.
    let twice = publisher.fetches().iter().filter(|n| **n > 1).count();
    assert!(twice <= 8, "{twice} feeds fetched more than once");
}

#[test]
fn a_lost_database_connection_is_survived_and_nothing_after_it_is_lost() {
    let Some(db) =
        PgDb::create("a_lost_database_connection_is_survived_and_nothing_after_it_is_lost")
    else {
        return;
    };
    const FEEDS: usize = 10;
    let (publisher, addr) = Publisher::start(FEEDS);
    let site = Site::with_storage_url(&config(addr, 0..FEEDS, ""), &db.url);
    let server = start(&site, "serve");
    let poller = start(&site, "poll");
    wait_all_polled(&db, FEEDS, 30);
    let url = format!("{}/topics/rj-items.atom", server.base());
    let (etag, _) = wait_for("the items published", Duration::from_secs(10), || {
        let (etag, body) = get(&url);
        (body.matches("<entry>").count() == 15).then_some((etag, body))
    });

    // Mid-poll: every feed due again, answers slowed, connections cut.
    *publisher.delay.lock().unwrap() = Duration::from_millis(800);
    db.client()
        .execute("UPDATE feeds SET next_poll = 0", &[])
        .expect("make feeds due");
    std::thread::sleep(Duration::from_millis(1500));
    cut_connections(&db);
    // The server still answers with what it last built.
    let (same, _) = get(&url);
    assert_eq!(same, etag, "the server did not keep its last document");

    // After the connection returns, a new item is stored and published.
    *publisher.delay.lock().unwrap() = Duration::ZERO;
    publisher.extra.lock().unwrap().insert(
        4,
        "<item><title>Japan and Russia resume ferry service</title>\
         <link>http://news4.example/ferry</link></item>"
            .into(),
    );
    let mut admin = db.client();
    wait_for("the new item published", Duration::from_secs(90), || {
        let _ = admin.execute(
            "UPDATE feeds SET next_poll = 0 WHERE lease_owner IS NULL AND url LIKE '%/f/4'",
            &[],
        );
        get(&url).1.contains("ferry service").then_some(())
    });
    let log = poller.log();
    assert!(
        log.contains("connection was lost") || log.contains("reconnect"),
        "the poller did not log the lost connection:\n{log}"
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), 3 * FEEDS as i64 + 1);
}

#[test]
fn per_host_holds_across_pollers() {
    let Some(db) = PgDb::create("per_host_holds_across_pollers") else {
        return;
    };
    const FEEDS: usize = 24;
    let (publisher, addr) = Publisher::start(FEEDS);
    *publisher.delay.lock().unwrap() = Duration::from_millis(300);
    // Every feed is on one host; each process alone would open 2 at once.
    let site = Site::with_storage_url(
        &config(addr, 0..FEEDS, "per_host = 2\nconcurrency = 8"),
        &db.url,
    );
    let _pollers: Vec<Daemon> = (0..3).map(|_| start(&site, "poll")).collect();
    wait_all_polled(&db, FEEDS, 60);
    let most = publisher.most.load(Ordering::SeqCst);
    assert!(
        most <= 2,
        "{most} requests at once to one host from 3 pollers with per_host = 2"
    );
    assert_eq!(publisher.fetches().iter().sum::<u32>(), FEEDS as u32);
}
