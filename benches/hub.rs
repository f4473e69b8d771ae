//! WebSub hub benchmark: how fast the built-in hub pushes a changed topic
//! feed to many subscribers. The real release binary (`feedsift run`) polls
//! one loopback feed into a topic; an in-process subscriber (one axum
//! server, a callback per subscriber) subscribes N times through
//! `/websub/hub`, answering each verification. Then, each round, a new item
//! is stored by a one-off `feedsift poll` (another process: the daemon
//! notices its commit within 5 s, its check for other processes' writes on
//! SQLite) and the hub delivers the new document to all N.
//!
//! Reported per round: from the poll's exit to the first and the last
//! delivery, and the hub's throughput (deliveries per second from the
//! first to the last). `cargo bench --bench hub` runs 1,000 subscribers x
//! 3 rounds; `-- --smoke` (CI) 50 x 1, checking every subscriber got every
//! round once, signed. `-- --subscribers N --runs R` to change them.

#[path = "common/args.rs"]
mod args;
#[path = "../tests/integration/util/daemon.rs"]
mod daemon;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::IntoResponse;
use daemon::{Daemon, Site, serve_app, serve_dir};

/// Per callback, when each delivery came and whether it was signed.
type Deliveries = Vec<Vec<(Instant, bool)>>;

/// What the subscriber saw.
#[derive(Clone, Default)]
struct Seen {
    verified: Arc<Mutex<usize>>,
    deliveries: Arc<Mutex<Deliveries>>,
}

async fn verify(
    State(s): State<Seen>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> String {
    *s.verified.lock().unwrap() += 1;
    q.get("hub.challenge").cloned().unwrap_or_default()
}

async fn deliver(
    State(s): State<Seen>,
    UrlPath(n): UrlPath<usize>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let signed = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("sha256="));
    if let Some(d) = s.deliveries.lock().unwrap().get_mut(n) {
        d.push((Instant::now(), signed));
    }
    axum::http::StatusCode::NO_CONTENT.into_response()
}

fn rss(items: usize) -> String {
    let mut body = String::new();
    for k in 0..items {
        body.push_str(&format!(
            "<item><title>Japan and Russia talks, round {k}</title>\
             <link>https://news.example/{k}</link><guid>https://news.example/{k}</guid>\
             <description>Officials of Japan and Russia met for round {k}.</description></item>"
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>\
         <link>https://news.example/</link><description>d</description>{body}</channel></rss>"
    )
}

fn count(site: &Site, sql: &str) -> i64 {
    rusqlite::Connection::open(site.dir.path().join("feedsift.db"))
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args = args::Args::from_env();
    let smoke = args.has("--smoke");
    let subscribers = args.value("--subscribers", if smoke { 50 } else { 1000 });
    let runs = args.value("--runs", if smoke { 1 } else { 3 }).max(1);

    let feeds = tempfile::tempdir().expect("tempdir");
    std::fs::write(feeds.path().join("wire.rss"), rss(20)).expect("feed");
    let feed_addr = serve_dir(feeds.path().to_path_buf());
    let seen = Seen {
        deliveries: Arc::new(Mutex::new(vec![Vec::new(); subscribers])),
        ..Seen::default()
    };
    let sub_addr = serve_app(
        axum::Router::new()
            .route("/cb/{n}", axum::routing::get(verify).post(deliver))
            .with_state(seen.clone()),
    );
    let site = Site::new(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.example.org/\"\n\
         [polling]\ninterval = \"1h\"\nallow_private_networks = true\n\
         [[feed]]\nurl = \"http://{feed_addr}/wire.rss\"\n\
         [topic.rj]\nquery = 'Japan AND Russia'\ngroup = \"item\"\n"
    ));
    let daemon = Daemon::start(&site);
    wait("the first poll", Duration::from_secs(30), || {
        count(
            &site,
            "SELECT count(*) FROM feeds WHERE last_success IS NOT NULL",
        ) == 1
    });

    // Subscribing: the hub verifies at most 16 at once and says 429 past
    // that, so requests that meet it are sent again.
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    for n in 0..subscribers {
        let body = format!(
            "hub.mode=subscribe&hub.topic=http%3A%2F%2Ffeeds.example.org%2Ftopics%2Frj.atom\
             &hub.callback=http%3A%2F%2F{sub_addr}%2Fcb%2F{n}&hub.secret=secret{n}"
        );
        loop {
            let r = client
                .post(format!("http://{}/websub/hub", daemon.addr))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .expect("POST /websub/hub");
            match r.status().as_u16() {
                202 => break,
                429 => std::thread::sleep(Duration::from_millis(5)),
                s => panic!("the hub answered {s}"),
            }
        }
    }
    wait("every subscription", Duration::from_secs(120), || {
        count(&site, "SELECT count(*) FROM hub_subscribers") == subscribers as i64
    });
    println!(
        "feedsift hub benchmark: {subscribers} subscribers of one topic feed, {runs} rounds; subscribed and verified in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let (mut first, mut last, mut rate) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=runs {
        std::fs::write(feeds.path().join("wire.rss"), rss(20 + round)).expect("feed");
        let out = site.cmd().arg("poll").output().expect("run feedsift poll");
        assert!(out.status.success(), "poll failed");
        let stored = Instant::now();
        // Each subscriber's deliveries since the poll: at least one, all
        // signed. A second one in a round is a second version of the
        // topic feed (the daemon grouping the new items into stories after
        // it first published them ungrouped), not a delivery repeated.
        let since = |x: &Vec<(Instant, bool)>| x.iter().filter(|(t, _)| *t >= stored).count();
        wait("every delivery", Duration::from_secs(60), || {
            seen.deliveries
                .lock()
                .unwrap()
                .iter()
                .all(|d| since(d) >= 1)
        });
        std::thread::sleep(Duration::from_millis(300));
        let d = seen.deliveries.lock().unwrap();
        assert!(
            d.iter().all(|x| x.iter().all(|(_, s)| *s)),
            "every delivery is signed"
        );
        let extra: usize = d.iter().map(|x| since(x).saturating_sub(1)).sum();
        if extra > 0 {
            println!("  round {round}: {extra} deliveries of a second version");
        }
        let times: Vec<Instant> = d
            .iter()
            .filter_map(|x| x.iter().map(|(t, _)| *t).find(|t| *t >= stored))
            .collect();
        let (Some(a), Some(b)) = (times.iter().min(), times.iter().max()) else {
            continue;
        };
        first.push(a.duration_since(stored).as_secs_f64());
        last.push(b.duration_since(stored).as_secs_f64());
        rate.push(subscribers as f64 / b.duration_since(*a).as_secs_f64().max(1e-3));
        println!(
            "  round {round}: first delivery {:.3} s after the poll, last {:.3} s; {:.0} deliveries/s",
            first[round - 1],
            last[round - 1],
            rate[round - 1]
        );
    }
    println!(
        "median: first delivery {:.3} s after the poll (of which up to 5 s is the daemon noticing another process's commit), last {:.3} s; {:.0} deliveries/s",
        median(&first),
        median(&last),
        median(&rate)
    );
    drop(daemon);
}
