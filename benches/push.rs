//! WebSub push latency (issue #23): from a publisher's push to the
//! delivery of the topic feed to a subscriber of it.
//!
//! The real binary (`feedsift run`) follows one feed whose document names a
//! test publisher's hub (in-process, on loopback): its first poll finds the
//! hub and subscribes, and the test hub verifies the intent. A test reader
//! subscribes to the topic feed (shown by item, so each entry is its own
//! and "a delivery holding it" means one thing) at feedsift's built-in
//! hub. Then, N times, the publisher adds an entry about Russia and Japan
//! to its feed (the document holds the latest 20, about 10 KB) and POSTs
//! the document, signed with the secret feedsift gave, to feedsift's
//! callback. Measured: from just before that POST to the reader receiving
//! a delivery, signed with its secret, whose body holds the new entry.
//!
//! Two runs: pushes one at a time (each after the previous one's
//! delivery), then the same number at a fixed rate (`--rate`, per second),
//! where a delivery may carry several new entries. Reported for each:
//! median, p90, p99 and max, and the median time feedsift took to answer
//! the push (the refresh and commit, before delivery starts).
//!
//! `cargo bench --bench push` runs 1,000 pushes each way at 20/s;
//! `-- --smoke` (CI) 20, checking each is delivered, signed. `-- --pushes N
//! --rate R` to change them.

#[path = "common/args.rs"]
mod args;
// (Its `serve_dir` goes unused: the publisher serves its feed itself.)
#[allow(dead_code)]
#[path = "../tests/integration/util/daemon.rs"]
mod daemon;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use daemon::{Daemon, Site, serve_app, wait_for};
use hmac::{Hmac, KeyInit, Mac};

type Params = HashMap<String, String>;

/// The topic feed the reader subscribes to.
const TOPIC: &str = "http://feeds.example.org/topics/rj.atom";
/// The reader's secret at our hub.
const READER_SECRET: &str = "reader-secret";
/// Entries in the publisher's feed document.
const KEPT: usize = 20;
/// A push not delivered within this fails the benchmark.
const LIMIT: Duration = Duration::from_secs(30);

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the publisher's hub knows.
#[derive(Default)]
struct HubState {
    /// feedsift's address once started: callbacks name base_url
    /// (feeds.example.org), reached here as through a reverse proxy.
    daemon: Option<String>,
    /// The verified subscription: (callback as given, secret).
    subscribed: Option<(String, String)>,
    /// The feed document, as fetched.
    doc: String,
}

#[derive(Clone)]
struct Publisher {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<HubState>>,
}

async fn feed(State(p): State<Publisher>) -> axum::response::Response {
    let doc = p.state.lock().unwrap().doc.clone();
    ([("content-type", "application/atom+xml")], doc).into_response()
}

/// WebSub 5.1: answered 202, then the intent is verified (5.3).
async fn hub(
    State(p): State<Publisher>,
    axum::extract::Form(form): axum::extract::Form<Params>,
) -> StatusCode {
    tokio::spawn(async move {
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        let (callback, secret) = (get("hub.callback"), get("hub.secret"));
        let mut base = None;
        for _ in 0..200 {
            base = p.state.lock().unwrap().daemon.clone();
            if base.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(base) = base else { return };
        let mut url = url::Url::parse(&callback.replace("http://feeds.example.org/", &base))
            .expect("callback url");
        url.query_pairs_mut()
            .append_pair("hub.mode", &get("hub.mode"))
            .append_pair("hub.topic", &get("hub.topic"))
            .append_pair("hub.challenge", "challenge-42")
            .append_pair("hub.lease_seconds", "864000");
        let ok = match reqwest::Client::new().get(url).send().await {
            Ok(r) => r.status() == 200 && r.text().await.unwrap_or_default() == "challenge-42",
            Err(_) => false,
        };
        if ok && get("hub.mode") == "subscribe" {
            p.state.lock().unwrap().subscribed = Some((callback, secret));
        }
    });
    StatusCode::ACCEPTED
}

impl Publisher {
    fn start() -> Publisher {
        let listener = daemon::listen("127.0.0.1");
        let p = Publisher {
            addr: listener.local_addr().expect("address"),
            state: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/pub.atom", axum::routing::get(feed))
            .route("/hub", axum::routing::post(hub))
            .with_state(p.clone());
        daemon::serve_on(listener, app);
        p
    }

    /// The feed document with these entries, newest first.
    fn doc(&self, entries: &VecDeque<String>) -> String {
        let (hub, me) = (
            format!("http://{}/hub", self.addr),
            format!("http://{}/pub.atom", self.addr),
        );
        let updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut doc = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Pacific Wire</title>\
             <id>urn:pacific-wire</id><updated>{updated}</updated>\
             <link rel=\"hub\" href=\"{hub}\"/><link rel=\"self\" href=\"{me}\"/>\
             <link rel=\"alternate\" href=\"https://wire.example/\"/>\n"
        );
        for e in entries {
            doc.push_str(e);
        }
        doc.push_str("</feed>\n");
        doc
    }
}

/// Entry `n`, published `at`: about 400 bytes, as a wire story's.
fn entry(n: usize, at: chrono::DateTime<chrono::Utc>) -> String {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        "<entry><title>Russia and Japan resume fisheries talks, {}</title>\
         <id>urn:pacific-wire:{n}</id><link href=\"https://wire.example/{n}\"/>\
         <published>{at}</published><updated>{at}</updated>\
         <author><name>Pacific Wire</name></author>\
         <summary>Negotiators from Russia and Japan met again in Tokyo to discuss \
         quotas for the waters around the Kuril Islands; both sides called the \
         session constructive and agreed to meet next month.</summary></entry>\n",
        marker(n)
    )
}

/// What identifies entry `n` in a delivered document (fixed width, so no
/// marker is a prefix of another).
fn marker(n: usize) -> String {
    format!("round {n:06}")
}

/// The reader's side: when each push was sent and when a delivery holding
/// it came.
#[derive(Default)]
struct Timing {
    sent: Vec<Option<Instant>>,
    got: Vec<Option<Instant>>,
    /// Every push before this one was delivered.
    low: usize,
    deliveries: usize,
    unsigned: usize,
}

#[derive(Clone, Default)]
struct Reader {
    timing: Arc<(Mutex<Timing>, Condvar)>,
}

async fn reader_verify(Query(q): Query<Params>) -> String {
    q.get("hub.challenge").cloned().unwrap_or_default()
}

async fn reader_deliver(
    State(r): State<Reader>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> StatusCode {
    let now = Instant::now();
    let signed = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .is_some_and(|v| v == hmac_hex(READER_SECRET, &body));
    let text = String::from_utf8_lossy(&body);
    let (lock, cvar) = &*r.timing;
    let mut t = lock.lock().unwrap();
    t.deliveries += 1;
    if !signed {
        t.unsigned += 1;
    } else {
        for i in t.low..t.sent.len() {
            if t.sent[i].is_some() && t.got[i].is_none() && text.contains(&marker(i)) {
                t.got[i] = Some(now);
            }
        }
        while t.low < t.got.len() && t.got[t.low].is_some() {
            t.low += 1;
        }
    }
    cvar.notify_all();
    StatusCode::NO_CONTENT
}

/// The nearest-rank percentile `q` of sorted `v`.
fn pct(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

struct Bench {
    publisher: Publisher,
    reader: Reader,
    client: reqwest::blocking::Client,
    /// Entries in the feed document, newest first.
    entries: VecDeque<String>,
    /// Entries made so far (the next one's number).
    made: usize,
}

impl Bench {
    /// Adds entry `n` to the feed and pushes the document; how long
    /// feedsift took to answer.
    fn push(&mut self, n: usize) -> Duration {
        self.entries.push_front(entry(n, chrono::Utc::now()));
        self.entries.truncate(KEPT);
        let doc = self.publisher.doc(&self.entries);
        let (callback, secret, base) = {
            let s = self.publisher.state.lock().unwrap();
            let (c, k) = s.subscribed.clone().expect("a verified subscription");
            (c, k, s.daemon.clone().expect("the daemon's address"))
        };
        let url = callback.replace("http://feeds.example.org/", &base);
        let signature = format!("sha256={}", hmac_hex(&secret, doc.as_bytes()));
        let link = format!(
            "<http://{0}/hub>; rel=\"hub\", <http://{0}/pub.atom>; rel=\"self\"",
            self.publisher.addr
        );
        {
            let (lock, _) = &*self.reader.timing;
            let mut t = lock.lock().unwrap();
            t.sent.resize(n + 1, None);
            t.got.resize(n + 1, None);
            t.sent[n] = Some(Instant::now());
        }
        let start = Instant::now();
        let r = self
            .client
            .post(url)
            .header("content-type", "application/atom+xml")
            .header("link", link)
            .header("x-hub-signature", signature)
            .body(doc)
            .send()
            .expect("push");
        let answered = start.elapsed();
        assert!(
            r.status().is_success(),
            "the callback answered {}",
            r.status()
        );
        answered
    }

    /// Waits until every push so far was delivered.
    fn wait_delivered(&self) {
        let (lock, cvar) = &*self.reader.timing;
        let start = Instant::now();
        let mut t = lock.lock().unwrap();
        while t.low < t.sent.len() {
            let left = LIMIT
                .checked_sub(start.elapsed())
                .unwrap_or_else(|| panic!("push {} not delivered within {LIMIT:?}", t.low));
            t = cvar.wait_timeout(t, left).unwrap().0;
        }
    }

    /// `count` pushes, one at a time or `rate` per second; prints and
    /// returns the latencies (seconds, sorted).
    fn run(&mut self, name: &str, count: usize, rate: Option<f64>) -> Vec<f64> {
        let first = self.made;
        let mut answers = Vec::with_capacity(count);
        let started = Instant::now();
        for k in 0..count {
            if let Some(rate) = rate {
                let due = started + Duration::from_secs_f64(k as f64 / rate);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            answers.push(self.push(first + k).as_secs_f64());
            self.made += 1;
            if rate.is_none() {
                self.wait_delivered();
            }
        }
        self.wait_delivered();
        let (lock, _) = &*self.reader.timing;
        let t = lock.lock().unwrap();
        let mut lat: Vec<f64> = (first..first + count)
            .map(|i| {
                let (Some(s), Some(g)) = (t.sent[i], t.got[i]) else {
                    unreachable!("waited for every delivery")
                };
                g.duration_since(s).as_secs_f64()
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        answers.sort_by(f64::total_cmp);
        let ms = |s: f64| s * 1000.0;
        println!(
            "  {name}: {count} pushes in {:.1} s: push -> delivery median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (push answered, median {:.1} ms)",
            started.elapsed().as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.9)),
            ms(pct(&lat, 0.99)),
            ms(lat[lat.len() - 1]),
            ms(pct(&answers, 0.5)),
        );
        lat
    }
}

fn main() {
    let args = args::Args::from_env();
    let smoke = args.has("--smoke");
    let pushes = args.value("--pushes", if smoke { 20 } else { 1000 }).max(1);
    let rate: f64 = args.value("--rate", 20.0);

    let publisher = Publisher::start();
    let now = chrono::Utc::now();
    // The feed as first polled: 20 earlier entries, an hour apart.
    let entries: VecDeque<String> = (0..KEPT)
        .map(|k| entry(1_000_000 + k, now - chrono::Duration::hours(k as i64 + 1)))
        .collect();
    publisher.state.lock().unwrap().doc = publisher.doc(&entries);

    let reader = Reader::default();
    let reader_addr = serve_app(
        axum::Router::new()
            .route(
                "/cb",
                axum::routing::get(reader_verify).post(reader_deliver),
            )
            .with_state(reader.clone()),
    );
    let site = Site::new(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.example.org/\"\n\
         [polling]\ninterval = \"1h\"\nallow_private_networks = true\n\
         [[feed]]\nurl = \"http://{}/pub.atom\"\n\
         [topic.rj]\nquery = 'Japan AND Russia'\ngroup = \"item\"\n",
        publisher.addr
    ));
    let daemon = Daemon::start(&site);
    publisher.state.lock().unwrap().daemon = Some(format!("http://{}/", daemon.addr));
    // The first poll finds the hub; feedsift subscribes and the hub
    // verifies.
    wait_for("feedsift's subscription", Duration::from_secs(30), || {
        publisher.state.lock().unwrap().subscribed.clone()
    });

    // The reader subscribes to the topic feed at feedsift's hub.
    let client = reqwest::blocking::Client::new();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.topic", TOPIC)
        .append_pair("hub.callback", &format!("http://{reader_addr}/cb"))
        .append_pair("hub.secret", READER_SECRET)
        .finish();
    let r = client
        .post(format!("http://{}/websub/hub", daemon.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .expect("POST /websub/hub");
    assert_eq!(r.status().as_u16(), 202, "the hub refused the reader");
    let db = site.dir.path().join("feedsift.db");
    wait_for("the reader's subscription", Duration::from_secs(30), || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM hub_subscribers", [], |r| r.get(0)))
            .ok()
            .filter(|n: &i64| *n == 1)
    });

    println!(
        "feedsift push latency: a signed push of a {}-entry feed to feedsift's callback -> a signed delivery of the topic feed holding the new entry, {pushes} pushes each way",
        KEPT
    );
    let mut bench = Bench {
        publisher,
        reader,
        client,
        entries,
        made: 0,
    };
    // A few first, unmeasured: connections and caches warm.
    bench.run("warm-up", 5.min(pushes), None);
    bench.run("one at a time", pushes, None);
    bench.run(&format!("{rate}/s"), pushes, Some(rate));

    let (lock, _) = &*bench.reader.timing;
    let t = lock.lock().unwrap();
    assert_eq!(
        t.unsigned, 0,
        "every delivery is signed with the reader's secret"
    );
    drop(daemon);
}
