//! The built-in WebSub hub for topic feeds, against a test subscriber
//! written from the W3C WebSub Recommendation (sections 5–8): discovery
//! (Atom link, JSON Feed hubs, HTTP Link header), verification of intent,
//! signed content distribution, unsubscription, leases, 410, and hostile
//! callbacks (private addresses, slow answers, huge answers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, KeyInit, Mac};

use crate::util::*;

/// A request's query, by parameter.
type Params = HashMap<String, String>;

/// What the test subscriber received.
#[derive(Clone, Default)]
struct Subscriber {
    /// Verification requests by callback name: their query.
    verified: Arc<Mutex<Vec<(String, Params)>>>,
    /// Deliveries by callback name: (headers, body).
    delivered: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
}

impl Subscriber {
    fn start() -> (Subscriber, std::net::SocketAddr) {
        let s = Subscriber::default();
        let app = axum::Router::new()
            .route("/cb/{name}", axum::routing::get(verify).post(deliver))
            .with_state(s.clone());
        (s, serve_app(app))
    }

    fn deliveries(&self, name: &str) -> Vec<(HeaderMap, String)> {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }

    fn verifications(&self, name: &str) -> Vec<Params> {
        self.verified
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, q)| q.clone())
            .collect()
    }
}

/// WebSub 5.3: a subscriber confirms by echoing `hub.challenge`; `refuse`
/// does not.
async fn verify(
    State(s): State<Subscriber>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    s.verified.lock().unwrap().push((name.clone(), q.clone()));
    if name == "refuse" {
        return StatusCode::NOT_FOUND.into_response();
    }
    q.get("hub.challenge")
        .cloned()
        .unwrap_or_default()
        .into_response()
}

/// WebSub 7: content distribution. `slow` answers after 20 s, `big` with
/// 10 MB, `gone` with 410.
async fn deliver(
    State(s): State<Subscriber>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    s.delivered
        .lock()
        .unwrap()
        .push((name.clone(), headers, body));
    match name.as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            StatusCode::OK.into_response()
        }
        "big" => vec![b'x'; 10 << 20].into_response(),
        "gone" => StatusCode::GONE.into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

const TOPIC: &str = "http://feeds.example.org/topics/russia-japan.atom";

/// A site on the fixture feeds plus `f.atom`, a feed the test adds items
/// to, with callbacks on loopback allowed (`allow_private_networks`).
fn site(feed_dir: &std::path::Path) -> Site {
    Site::new(&config(feed_dir))
}

fn config(feed_dir: &std::path::Path) -> String {
    for name in ["tass.rss", "axar.atom", "nhk.rdf", "markets.json"] {
        std::fs::copy(fixtures().join("feeds").join(name), feed_dir.join(name)).expect("copy");
    }
    std::fs::write(
        feed_dir.join("f.atom"),
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>F</title>\
         <id>urn:test:f</id><updated>2026-12-01T09:00:00Z</updated>\
         <entry><title>Weather</title><id>urn:test:w</id><link href=\"https://f.example/w\"/>\
         <updated>2026-12-01T09:00:00Z</updated><summary>Rain.</summary></entry></feed>",
    )
    .expect("write feed");
    let addr = serve_dir(feed_dir.to_path_buf());
    fixture_config(addr, &["f.atom"])
        .replace("[polling]\n", "[polling]\nallow_private_networks = true\n")
}

/// Asks the hub for `mode` of `callback` (a name on the test subscriber).
fn ask(
    daemon: &Daemon,
    sub: std::net::SocketAddr,
    mode: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let callback = format!("http://{sub}/cb/{name}");
    let mut form = vec![
        ("hub.mode", mode),
        ("hub.topic", TOPIC),
        ("hub.callback", callback.as_str()),
    ];
    form.extend_from_slice(extra);
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/websub/hub", daemon.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .expect("POST /websub/hub");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Adds an item about Russia and Japan to the feed and stores it with a
/// one-off poll, as another process would; the daemon notices the commit.
fn publish_item(site: &Site, feed_dir: &std::path::Path, title: &str) {
    let path = feed_dir.join("f.atom");
    let doc = std::fs::read_to_string(&path).expect("feed");
    let id = title.replace(' ', "-");
    let entry = format!(
        "<entry><title>{title}</title><id>urn:test:{id}</id>\
         <link href=\"https://axar.example/{id}\"/><updated>2026-12-01T10:00:00Z</updated>\
         <summary>Russia and Japan: {title}.</summary></entry></feed>"
    );
    std::fs::write(&path, doc.replace("</feed>", &entry)).expect("write feed");
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "poll: {}", stderr(&out));
}

/// The single number `sql` selects in `site`'s SQLite database.
fn count(site: &Site, sql: &str) -> i64 {
    rusqlite::Connection::open(site.db())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn hmac_sha256(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn a_verified_subscriber_gets_each_new_version_signed() {
    let feed_dir = tempfile::tempdir().expect("tempdir");
    let site = site(feed_dir.path());
    let mut daemon = Daemon::start(&site);
    site.wait_until_polled(5);
    let (sub, sub_addr) = Subscriber::start();

    // Discovery: the document and its headers name the hub and the topic.
    let r = reqwest::blocking::get(format!("{}/topics/russia-japan.atom", daemon.base())).unwrap();
    let link = r
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        link.contains("<http://feeds.example.org/websub/hub>; rel=\"hub\"")
            && link.contains(&format!("<{TOPIC}>; rel=\"self\"")),
        "Link: {link}"
    );
    let atom = r.text().unwrap();
    assert!(
        atom.contains(r#"<link href="http://feeds.example.org/websub/hub" rel="hub"/>"#),
        "{atom}"
    );
    assert_valid_atom(&atom);
    let json = reqwest::blocking::get(format!("{}/topics/russia-japan.json", daemon.base()))
        .unwrap()
        .text()
        .unwrap();
    assert!(json.contains(r#""type": "WebSub""#), "{json}");

    // Subscribing: 202, then the hub asks the callback to confirm.
    let (status, _) = ask(
        &daemon,
        sub_addr,
        "subscribe",
        "echo",
        &[("hub.secret", "s3cret"), ("hub.lease_seconds", "3600")],
    );
    assert_eq!(status, 202);
    let (status, _) = ask(
        &daemon,
        sub_addr,
        "subscribe",
        "refuse",
        &[("hub.secret", "other")],
    );
    assert_eq!(status, 202);
    let (status, _) = ask(&daemon, sub_addr, "subscribe", "plain", &[]);
    assert_eq!(status, 202);
    wait_for("the verifications", Duration::from_secs(10), || {
        (sub.verifications("echo").len() == 1
            && sub.verifications("refuse").len() == 1
            && sub.verifications("plain").len() == 1)
            .then_some(())
    });
    let q = &sub.verifications("echo")[0];
    assert_eq!(q["hub.mode"], "subscribe");
    assert_eq!(q["hub.topic"], TOPIC);
    assert_eq!(q["hub.lease_seconds"], "3600");
    assert!(q["hub.challenge"].len() >= 16, "{q:?}");
    let stored = || count(&site, "SELECT count(*) FROM hub_subscribers");
    wait_for("two subscriptions stored", Duration::from_secs(5), || {
        (stored() == 2).then_some(())
    });

    // A new item: the new document goes to the verified subscribers only,
    // signed with the secret given (the other one unsigned).
    let published = Instant::now();
    publish_item(
        &site,
        feed_dir.path(),
        "Tokyo and Moscow agree on fishing quotas",
    );
    let (headers, body) = wait_for("a delivery", Duration::from_secs(15), || {
        sub.deliveries("echo").pop()
    });
    eprintln!(
        "delivered {:?} after the poll that stored it",
        published.elapsed()
    );
    assert!(
        body.contains("Tokyo and Moscow agree on fishing quotas"),
        "{body}"
    );
    let signature = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(signature, hmac_sha256("s3cret", body.as_bytes()));
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/atom+xml; charset=utf-8")
    );
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        link.contains("rel=\"hub\"") && link.contains(&format!("<{TOPIC}>; rel=\"self\"")),
        "{link}"
    );
    // The same bytes a reader gets.
    let served = reqwest::blocking::get(format!("{}/topics/russia-japan.atom", daemon.base()))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(served, body);
    let (h, _) = wait_for("the unsigned delivery", Duration::from_secs(5), || {
        sub.deliveries("plain").pop()
    });
    assert!(h.get("x-hub-signature").is_none());
    assert!(
        sub.deliveries("refuse").is_empty(),
        "an unconfirmed callback got a delivery"
    );

    // Subscriptions outlive a restart.
    signal(&daemon.child, "TERM");
    let _ = daemon.child.wait();
    let daemon = Daemon::start(&site);
    publish_item(&site, feed_dir.path(), "Kuril ferry resumes service");
    wait_for(
        "a delivery after the restart",
        Duration::from_secs(15),
        || {
            sub.deliveries("echo")
                .iter()
                .any(|(_, b)| b.contains("Kuril ferry"))
                .then_some(())
        },
    );

    // Unsubscribing is verified too, and ends the deliveries.
    let (status, _) = ask(&daemon, sub_addr, "unsubscribe", "echo", &[]);
    assert_eq!(status, 202);
    wait_for("the unsubscription", Duration::from_secs(10), || {
        (stored() == 1).then_some(())
    });
    assert_eq!(
        sub.verifications("echo").last().unwrap()["hub.mode"],
        "unsubscribe"
    );
    let before = sub.deliveries("echo").len();
    publish_item(&site, feed_dir.path(), "Lavrov meets Kamikawa in Hanoi");
    wait_for(
        "the remaining subscriber's delivery",
        Duration::from_secs(15),
        || {
            sub.deliveries("plain")
                .iter()
                .any(|(_, b)| b.contains("Hanoi"))
                .then_some(())
        },
    );
    assert_eq!(
        sub.deliveries("echo").len(),
        before,
        "delivered after unsubscribing"
    );
}

#[test]
fn hostile_and_failing_subscribers_are_refused_or_bounded() {
    let feed_dir = tempfile::tempdir().expect("tempdir");
    let site = site(feed_dir.path());
    let daemon = Daemon::start(&site);
    site.wait_until_polled(5);
    let (sub, sub_addr) = Subscriber::start();

    // Requests the hub refuses outright.
    let (status, text) = ask(&daemon, sub_addr, "publish", "echo", &[]);
    assert_eq!(status, 400, "{text}");
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/websub/hub", daemon.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "hub.mode=subscribe&hub.topic={}&hub.callback=http%3A%2F%2F127.0.0.1%2Fx",
            urlencode("http://feeds.example.org/topics/nope.atom")
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let (status, text) = ask(
        &daemon,
        sub_addr,
        "subscribe",
        "echo",
        &[("hub.secret", &"k".repeat(300))],
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("200 bytes"), "{text}");

    // slow (20 s), big (10 MB) and gone (410) next to a good one, which
    // still gets its delivery at once; the 410 ends that subscription.
    for name in ["slow", "big", "gone", "echo"] {
        assert_eq!(ask(&daemon, sub_addr, "subscribe", name, &[]).0, 202);
    }
    let stored = || count(&site, "SELECT count(*) FROM hub_subscribers");
    wait_for("four subscriptions", Duration::from_secs(10), || {
        (stored() == 4).then_some(())
    });
    let lease = ask(
        &daemon,
        sub_addr,
        "subscribe",
        "short",
        &[("hub.lease_seconds", "1")],
    );
    assert_eq!(lease.0, 202);
    wait_for("the short lease", Duration::from_secs(10), || {
        (sub.verifications("short").len() == 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));

    let published = Instant::now();
    publish_item(
        &site,
        feed_dir.path(),
        "Japan protests Russian drills near Iturup",
    );
    wait_for(
        "the good subscriber's delivery",
        Duration::from_secs(15),
        || sub.deliveries("echo").pop(),
    );
    assert!(
        published.elapsed() < Duration::from_secs(12),
        "the good subscriber waited {:?}",
        published.elapsed()
    );
    let gone = || {
        count(
            &site,
            "SELECT count(*) FROM hub_subscribers WHERE callback LIKE '%/cb/gone'",
        )
    };
    wait_for(
        "the 410 to end its subscription",
        Duration::from_secs(10),
        || (gone() == 0).then_some(()),
    );
    assert!(
        sub.deliveries("short").is_empty(),
        "delivered after the lease ended"
    );
    assert_eq!(sub.deliveries("gone").len(), 1, "a 410 is not retried");
    // The daemon still answers (the 10 MB answer was never read).
    assert!(
        reqwest::blocking::get(format!("{}/healthz", daemon.base()))
            .unwrap()
            .status()
            .is_success()
    );

    // Without allow_private_networks, a callback on a private address is
    // refused at the request.
    let strict = std::fs::read_to_string(site.config())
        .unwrap()
        .replace("allow_private_networks = true\n", "");
    let strict_site = Site::new(&strict);
    let strict_daemon = Daemon::start(&strict_site);
    let (status, text) = ask(&strict_daemon, sub_addr, "subscribe", "echo", &[]);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("private address"), "{text}");
}

#[test]
fn several_servers_over_postgres_deliver_each_version_once() {
    let Some(db) = PgDb::create("several_servers_over_postgres_deliver_each_version_once") else {
        return;
    };
    let feed_dir = tempfile::tempdir().expect("tempdir");
    let site = Site::with_storage_url(&config(feed_dir.path()), &db.url);
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "poll: {}", stderr(&out));
    let serve = |site: &Site| {
        let mut cmd = site.cmd();
        cmd.args(["run", "--role", "serve"]);
        Daemon::spawn(&mut cmd)
    };
    let servers = [serve(&site), serve(&site)];
    let (sub, sub_addr) = Subscriber::start();
    assert_eq!(
        ask(
            &servers[0],
            sub_addr,
            "subscribe",
            "echo",
            &[("hub.secret", "k")]
        )
        .0,
        202
    );
    wait_for("the subscription", Duration::from_secs(10), || {
        (db.count("SELECT count(*) FROM hub_subscribers") == 1).then_some(())
    });
    // A poller groups the new item into its story, so it shows.
    let mut poller = site.cmd();
    poller.args(["run", "--role", "poll"]);
    let _poller = Daemon::spawn_quiet(&mut poller);
    publish_item(&site, feed_dir.path(), "Japan and Russia open a hotline");
    let body = wait_for("the new version delivered", Duration::from_secs(20), || {
        sub.deliveries("echo")
            .into_iter()
            .map(|(_, b)| b)
            .find(|b| b.contains("hotline"))
    });
    std::thread::sleep(Duration::from_secs(3));
    let bodies: Vec<String> = sub.deliveries("echo").into_iter().map(|(_, b)| b).collect();
    let distinct: std::collections::HashSet<&String> = bodies.iter().collect();
    assert_eq!(
        distinct.len(),
        bodies.len(),
        "a version was delivered more than once ({} deliveries)",
        bodies.len()
    );
    for s in &servers {
        let served = reqwest::blocking::get(format!("{}/topics/russia-japan.atom", s.base()))
            .unwrap()
            .text()
            .unwrap();
        // The last delivery is what both servers serve now.
        assert_eq!(
            &served,
            bodies.last().unwrap_or(&body),
            "a server's document differs from the last delivery"
        );
    }
}
