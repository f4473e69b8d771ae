//! Polling benchmark on loopback: N news feeds × 50 items spread over 50
//! loopback hosts, served by an in-process HTTP server, polled by the real
//! release binary (`feedsift poll`), and by newsboat as a peer in the same
//! run when it is installed.
//!
//! The workload is deterministic (seeded by feed and item numbers): a mix of
//! RSS 2.0, Atom 1.0 and RSS 1.0; items with HTML bodies as publishers write
//! them (paragraphs, links, emphasis, images, entities, the odd script); a
//! share of items on Russia–Japan relations (the topic configured); wire
//! stories copied by several feeds with their own headlines, some linking
//! the agency's page (deduplicated by URL), some their own (grouped into
//! stories). The server answers conditional requests (ETag and
//! Last-Modified) with 304, gzips when asked, and can advance time: every
//! second feed then has new items on top.
//!
//! Scenarios, each timed over several runs (medians reported), each with
//! the peak RSS of the polling process (wait4's rusage, see `run_measured`):
//!   cold    — an empty database: every feed fetched, parsed, stored;
//!   warm    — nothing changed: every request conditional, every answer 304;
//!   steady  — after time advanced: half the feeds changed, the rest 304;
//!   faults  — 1% of the feeds hang, 1% answer 503: the poll ends within
//!             the timeout plus 2 s with every healthy item stored;
//!   idle    — `feedsift run` on the cold database, once it has settled:
//!             its resident memory, with the story window loaded and once
//!             `[stories] unload_after` freed it; again on a workload whose
//!             items span 90 days rather than 8 hours, as a real feed's 50
//!             do; and the time the next new items take to read the window
//!             back.
//!
//! `cargo bench --bench poll` runs it all; `-- --smoke` runs a small, quick
//! version (CI). `-- --feeds N --runs R --peer-runs P`, `--no-peer`, `--cold-only`,
//! `--idle-only` (one cold poll of each workload and the idle daemon on it),
//! `--postgres` (issue 22's PostgreSQL scenario; with `--cold-only`, its
//! cold polls and ratio alone),
//! `--idle-days D` (the span of the second idle workload, 90; 0 skips it);
//! `FEEDSIFT_BENCH_BIN=path` runs another build of feedsift instead;
//! `FEEDSIFT_BENCH_WRAP="perf record -g --"` runs each poll under a profiler;
//! `FEEDSIFT_BENCH_KEEP=dir` keeps a copy of each database the idle daemon
//! was measured on, to profile it by hand.

#[path = "common/args.rs"]
mod args;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

const HOSTS: usize = 50;
const ITEMS: usize = 50;
/// Items a changed feed gains when time advances.
const NEW_PER_ADVANCE: usize = 10;
const TIMEOUT_SECS: u64 = 5;
/// `[stories] unload_after` in the idle daemon's config: long enough for
/// its memory to be measured with the window still loaded first.
const UNLOAD_SECS: u64 = 20;
/// 2026-11-20T00:00:00Z: item k of a feed is published k × `STEP` seconds
/// later (10 minutes: a feed's 50 items span 8 hours).
const BASE_TIME: i64 = 1_795_132_800;
const STEP: i64 = 600;
/// Seconds between a feed's items in the workload being generated: `STEP`,
/// or longer for the idle scenario over many days (`--idle-days`).
static ITEM_STEP: AtomicI64 = AtomicI64::new(STEP);

/// Words of ordinary news prose. None is a Russia or Japan term, so the
/// topic matches exactly the items written to match it.
const PROSE: &[&str] = &[
    "the",
    "the",
    "the",
    "of",
    "of",
    "and",
    "and",
    "to",
    "to",
    "in",
    "in",
    "a",
    "a",
    "on",
    "for",
    "with",
    "said",
    "after",
    "over",
    "government",
    "minister",
    "officials",
    "talks",
    "trade",
    "energy",
    "market",
    "prices",
    "shares",
    "rose",
    "fell",
    "percent",
    "billion",
    "million",
    "week",
    "year",
    "month",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "report",
    "according",
    "agency",
    "statement",
    "president",
    "parliament",
    "election",
    "vote",
    "court",
    "police",
    "company",
    "bank",
    "central",
    "interest",
    "rates",
    "inflation",
    "growth",
    "economy",
    "exports",
    "imports",
    "oil",
    "gas",
    "pipeline",
    "deal",
    "agreement",
    "sanctions",
    "security",
    "defence",
    "border",
    "region",
    "province",
    "city",
    "residents",
    "workers",
    "union",
    "strike",
    "storm",
    "flood",
    "weather",
    "season",
    "team",
    "match",
    "league",
    "coach",
    "players",
    "scientists",
    "study",
    "research",
    "university",
    "hospital",
    "health",
    "patients",
    "vaccine",
    "climate",
    "emissions",
    "carbon",
    "solar",
    "wind",
    "power",
    "plant",
    "nuclear",
    "fisheries",
    "islands",
    "coast",
    "port",
    "shipping",
    "container",
    "freight",
    "airline",
    "flights",
    "tourism",
    "visitors",
    "festival",
    "museum",
    "exhibition",
    "film",
    "director",
    "new",
    "first",
    "last",
    "two",
    "three",
    "several",
    "major",
    "local",
    "national",
    "foreign",
    "spokesperson",
    "declined",
    "comment",
    "expected",
    "announced",
    "plans",
    "proposal",
    "Berlin",
    "Paris",
    "London",
    "Washington",
    "Beijing",
    "Seoul",
    "Delhi",
    "Ankara",
    "Kyiv",
    "Brussels",
    "Canberra",
    "Ottawa",
    "Brasilia",
    "Cairo",
    "Nairobi",
    "Jakarta",
    "Manila",
];
const RJ_PHRASES: &[&str] = &[
    "Russia and Japan",
    "Moscow and Tokyo",
    "Japanese and Russian diplomats",
    "Tokyo's talks with Moscow",
    "Russia's embassy in Japan",
];
const AGENCIES: &[&str] = &["Reuters", "AP", "AFP", "Kyodo", "TASS"];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(a: u64, b: u64) -> Rng {
        Rng((a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }
    fn word(&mut self) -> &'static str {
        PROSE[self.below(PROSE.len())]
    }
    fn words(&mut self, n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            // A rarer word now and then: names, figures.
            match self.below(10) {
                0 => write!(s, "Name{}", self.below(20_000)).ok(),
                1 => write!(s, "{}", self.below(1000)).ok(),
                _ => {
                    s.push_str(self.word());
                    None
                }
            };
        }
        s
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Rss2,
    Atom,
    Rss1,
}

fn format_of(feed: usize) -> Format {
    match feed % 3 {
        0 => Format::Rss2,
        1 => Format::Atom,
        _ => Format::Rss1,
    }
}

/// One generated item.
struct Item {
    guid: String,
    link: String,
    title: String,
    html: String,
    published: i64,
    russia_japan: bool,
}

/// When item `k` of every feed is published: copies of a wire story, which
/// share k, carry the same time. With a longer step than `STEP`, every
/// item (those time advances to as well) is published before the 8-hour
/// workload begins.
fn published(k: usize) -> i64 {
    let step = ITEM_STEP.load(Ordering::Relaxed);
    BASE_TIME - (ITEMS + NEW_PER_ADVANCE) as i64 * (step - STEP) + k as i64 * step
}

/// Item `k` of feed `n`: its own story, or a copy of wire story (k, bucket).
fn item(n: usize, k: usize) -> Item {
    let mut r = Rng::new(n as u64 + 1, k as u64 + 1);
    let wire = r.below(8) == 0;
    // A wire story is shared by the feeds that draw the same bucket for
    // the same slot k, about 8 feeds per story at 1000 feeds.
    let story_seed = if wire {
        (k as u64) << 8 | r.below(16) as u64
    } else {
        (n as u64) << 32 | k as u64 | 1 << 63
    };
    let mut s = Rng::new(story_seed, 7);
    let russia_japan = s.below(20) == 0;
    let mut headline = s.words(9);
    if russia_japan {
        headline = format!("{} {}", RJ_PHRASES[s.below(RJ_PHRASES.len())], headline);
    }
    let mut paragraphs: Vec<String> = (0..3)
        .map(|_| {
            let n = 25 + s.below(20);
            s.words(n)
        })
        .collect();
    if russia_japan {
        paragraphs[1] = format!(
            "{} {} {}",
            paragraphs[1],
            RJ_PHRASES[s.below(RJ_PHRASES.len())],
            s.words(10)
        );
    }
    let agency = AGENCIES[s.below(AGENCIES.len())];
    // Each feed edits the copy a little: its own headline prefix, a
    // dateline, sometimes a paragraph of its own.
    let (title, link) = if wire {
        let prefix = ["", "UPDATE 1-", "Breaking: ", "WRAPUP-"][r.below(4)];
        let link = if r.below(2) == 0 {
            format!(
                "https://wire.example/{}/story/{story_seed}?utm_source=site{n}",
                agency.to_lowercase()
            )
        } else {
            format!("https://site{n}.example/world/{k}-{}", r.below(1_000_000))
        };
        (format!("{prefix}{headline}"), link)
    } else {
        (headline, format!("https://site{n}.example/news/{k}"))
    };
    let mut html = String::with_capacity(1200);
    if wire {
        write!(html, "<p><strong>CITY ({agency})</strong> - ").ok();
    } else {
        html.push_str("<p>");
    }
    html.push_str(&paragraphs[0]);
    html.push_str(".</p>\n");
    if r.below(3) == 0 {
        writeln!(
            html,
            "<figure><img src=\"https://cdn.site{n}.example/img/{k}.jpg\" alt=\"{}\" width=\"640\" height=\"360\"><figcaption>{} &#8212; photo</figcaption></figure>",
            r.words(4),
            r.words(6)
        )
        .ok();
    }
    write!(
        html,
        "<p>{} <a href=\"https://site{n}.example/topics/{}\">{}</a> &amp; {}.</p>\n<p><em>{}</em>&#8217;s {}.</p>",
        paragraphs[1],
        r.below(500),
        r.words(3),
        r.words(8),
        r.words(2),
        paragraphs[2]
    )
    .ok();
    if r.below(10) == 0 {
        html.push_str("<script>track('view')</script>");
    }
    if wire {
        write!(html, "<p>({agency})</p>").ok();
    }
    Item {
        guid: format!("https://site{n}.example/?p={k}"),
        link,
        title,
        html,
        published: published(k),
        russia_japan,
    }
}

fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

fn rfc2822(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc2822()
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Feed `n` at `version`: items version×NEW .. +ITEMS, newest first.
fn feed_doc(n: usize, version: usize) -> (String, Vec<Item>) {
    let first = version * NEW_PER_ADVANCE;
    let items: Vec<Item> = (first..first + ITEMS).rev().map(|k| item(n, k)).collect();
    let updated = items.first().map_or(BASE_TIME, |i| i.published);
    let mut s = String::with_capacity(ITEMS * 2000);
    let site = format!("https://site{n}.example/");
    match format_of(n) {
        Format::Rss2 => {
            write!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Site {n} News</title><link>{site}</link><description>News from site {n}</description><language>en</language><lastBuildDate>{}</lastBuildDate>\n", rfc2822(updated)).ok();
            for it in &items {
                s.push_str("<item><title>");
                xml_escape(&it.title, &mut s);
                write!(s, "</title><link>").ok();
                xml_escape(&it.link, &mut s);
                write!(
                    s,
                    "</link><guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate><dc:creator>Staff</dc:creator><category>World</category><description>",
                    it.guid,
                    rfc2822(it.published)
                )
                .ok();
                xml_escape(&it.html, &mut s);
                s.push_str("</description></item>\n");
            }
            s.push_str("</channel></rss>\n");
        }
        Format::Atom => {
            write!(s, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\"><title>Site {n} News</title><id>{site}</id><link rel=\"alternate\" href=\"{site}\"/><updated>{}</updated>\n", rfc3339(updated)).ok();
            for it in &items {
                s.push_str("<entry><title>");
                xml_escape(&it.title, &mut s);
                s.push_str("</title><link rel=\"alternate\" href=\"");
                xml_escape(&it.link, &mut s);
                write!(
                    s,
                    "\"/><id>{}</id><published>{}</published><updated>{}</updated><author><name>Staff</name></author><content type=\"html\">",
                    it.guid,
                    rfc3339(it.published),
                    rfc3339(it.published)
                )
                .ok();
                xml_escape(&it.html, &mut s);
                s.push_str("</content></entry>\n");
            }
            s.push_str("</feed>\n");
        }
        Format::Rss1 => {
            write!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel rdf:about=\"{site}\"><title>Site {n} News</title><link>{site}</link><description>News from site {n}</description><items><rdf:Seq>").ok();
            for it in &items {
                s.push_str("<rdf:li rdf:resource=\"");
                xml_escape(&it.link, &mut s);
                s.push_str("\"/>");
            }
            s.push_str("</rdf:Seq></items></channel>\n");
            for it in &items {
                s.push_str("<item rdf:about=\"");
                xml_escape(&it.link, &mut s);
                s.push_str("\"><title>");
                xml_escape(&it.title, &mut s);
                s.push_str("</title><link>");
                xml_escape(&it.link, &mut s);
                write!(
                    s,
                    "</link><dc:date>{}</dc:date><description>",
                    rfc3339(it.published)
                )
                .ok();
                xml_escape(&it.html, &mut s);
                s.push_str("</description></item>\n");
            }
            s.push_str("</rdf:RDF>\n");
        }
    }
    (s, items)
}

/// A feed document as served: gzipped once, unpacked for clients that do
/// not ask for gzip.
struct Doc {
    etag: String,
    last_modified: String,
    gz: Bytes,
}

fn gzip(s: &str) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(s.as_bytes()).expect("gzip in memory");
    Bytes::from(e.finish().expect("gzip in memory"))
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out)
        .expect("our own gzip");
    out
}

/// Every second feed changes when time advances.
fn changes(n: usize) -> bool {
    n.is_multiple_of(2)
}

/// What the generated workload should leave in the database after a cold
/// poll: items stored (distinct links) and items in the topic.
#[derive(Default)]
struct Expect {
    items: usize,
    topic: usize,
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    conditional: AtomicUsize,
    not_modified: AtomicUsize,
    gzipped: AtomicUsize,
}

/// One generator thread's share: version 0 and 1 documents, the distinct
/// links and the links of topic items among them.
type Part = (Vec<Doc>, Vec<Doc>, HashSet<String>, HashSet<String>);

struct Feeds {
    /// docs[version][feed].
    docs: [Vec<Doc>; 2],
    advanced: AtomicBool,
    counters: Counters,
    expect: Expect,
}

impl Feeds {
    fn build(feeds: usize) -> Feeds {
        // Two threads: this happens before anything is timed.
        let half = feeds.div_ceil(2);
        let parts: Vec<Part> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..2)
                .map(|part| {
                    sc.spawn(move || {
                        let (mut v0, mut v1) = (Vec::new(), Vec::new());
                        let (mut links, mut topic) = (HashSet::new(), HashSet::new());
                        for n in (part * half)..((part + 1) * half).min(feeds) {
                            for version in 0..2 {
                                let (body, items) = feed_doc(n, version);
                                if version == 0 {
                                    for it in &items {
                                        let key = it.link.split('?').next().unwrap_or("");
                                        links.insert(key.to_owned());
                                        if it.russia_japan {
                                            topic.insert(key.to_owned());
                                        }
                                    }
                                }
                                let doc = Doc {
                                    etag: format!("\"v{version}-{n}\""),
                                    last_modified: httpdate::fmt_http_date(
                                        std::time::UNIX_EPOCH
                                            + Duration::from_secs(
                                                BASE_TIME as u64 + version as u64 * 6000,
                                            ),
                                    ),
                                    gz: gzip(&body),
                                };
                                if version == 0 { &mut v0 } else { &mut v1 }.push(doc);
                            }
                        }
                        (v0, v1, links, topic)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("generator thread"))
                .collect()
        });
        let (mut v0, mut v1) = (Vec::new(), Vec::new());
        let (mut links, mut topic) = (HashSet::new(), HashSet::new());
        for (a, b, l, t) in parts {
            v0.extend(a);
            v1.extend(b);
            links.extend(l);
            topic.extend(t);
        }
        Feeds {
            docs: [v0, v1],
            advanced: AtomicBool::new(false),
            counters: Counters::default(),
            expect: Expect {
                items: links.len(),
                topic: topic.len(),
            },
        }
    }

    fn doc(&self, n: usize) -> Option<&Doc> {
        let v = usize::from(self.advanced.load(Ordering::Relaxed) && changes(n));
        self.docs[v].get(n)
    }

    fn snapshot(&self) -> [usize; 4] {
        let c = &self.counters;
        [
            c.requests.load(Ordering::Relaxed),
            c.conditional.load(Ordering::Relaxed),
            c.not_modified.load(Ordering::Relaxed),
            c.gzipped.load(Ordering::Relaxed),
        ]
    }

    fn since(&self, before: [usize; 4]) -> [usize; 4] {
        let now = self.snapshot();
        [0, 1, 2, 3].map(|i| now[i] - before[i])
    }
}

async fn serve_feed(
    State(feeds): State<Arc<Feeds>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let c = &feeds.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    let Some(doc) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| feeds.doc(n))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let ims = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if inm.is_some() || ims.is_some() {
        c.conditional.fetch_add(1, Ordering::Relaxed);
    }
    // RFC 9110: If-None-Match wins over If-Modified-Since when both come.
    let fresh = match inm {
        Some(tag) => tag == doc.etag,
        None => ims == Some(doc.last_modified.as_str()),
    };
    if fresh {
        c.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, doc.etag.clone())]).into_response();
    }
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let mut h = vec![
        (header::CONTENT_TYPE, "application/xml".to_owned()),
        (header::ETAG, doc.etag.clone()),
        (header::LAST_MODIFIED, doc.last_modified.clone()),
        (header::VARY, "Accept-Encoding".to_owned()),
    ];
    let body = if gzip_ok {
        c.gzipped.fetch_add(1, Ordering::Relaxed);
        h.push((header::CONTENT_ENCODING, "gzip".to_owned()));
        doc.gz.clone()
    } else {
        Bytes::from(gunzip(&doc.gz))
    };
    let mut resp = body.into_response();
    for (k, v) in h {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

async fn hang() -> Response {
    std::future::pending::<()>().await;
    StatusCode::OK.into_response()
}

async fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "120")],
    )
        .into_response()
}

/// Starts the server on 127.0.1.1..=127.0.1.HOSTS, one port for all.
fn start_server(feeds: usize) -> (Vec<SocketAddr>, Arc<Feeds>) {
    let state = Arc::new(Feeds::build(feeds));
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
                .route("/err/{name}", axum::routing::get(unavailable))
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

/// Feed urls; `faulty` feeds of each kind (hanging, 503) are spread one per
/// block of feeds, each on a different host: a few publishers' servers
/// failing, not a whole host whose per_host slots would all be taken (see
/// BENCHMARKS.md).
fn feed_urls(addrs: &[SocketAddr], feeds: usize, faulty: usize) -> Vec<String> {
    (0..feeds)
        .map(|n| {
            let a = addrs[n % addrs.len()];
            let fault = feeds.checked_div(faulty).and_then(|block| {
                let at = (n / block) % addrs.len();
                if n % block == at {
                    Some("hang")
                } else if n % block == (at + 1) % block {
                    Some("err")
                } else {
                    None
                }
            });
            format!("http://{a}/{}/{n}.xml", fault.unwrap_or("f"))
        })
        .collect()
}

fn write_config(dir: &Path, urls: &[String], listen: &str) {
    let mut c = format!(
        "[server]\nlisten = \"{listen}\"\n[storage]\npath = \"feedsift.db\"\n[polling]\ninterval = \"1h\"\ntimeout = \"{TIMEOUT_SECS}s\"\n\n"
    );
    for u in urls {
        writeln!(c, "[[feed]]\nurl = \"{u}\"").ok();
    }
    c.push_str("\n[alias]\nrussia = [\"Russia\", \"Moscow\", \"Russian\"]\njapan = [\"Japan\", \"Tokyo\", \"Japanese\"]\n[topic.russia-japan]\nquery = '@russia AND @japan'\n");
    // The idle daemon's story window, kept a while and then unloaded (see
    // `idle_rss`): both states are measured.
    writeln!(c, "\n[stories]\nunload_after = \"{UNLOAD_SECS}s\"").ok();
    std::fs::write(dir.join("config.toml"), c).expect("write config");
}

/// How long a child took and its peak resident memory.
#[derive(Clone, Copy)]
struct Run {
    took: Duration,
    max_rss_kib: i64,
    /// User and system CPU time of the measured process: steadier than
    /// wall time on a shared 2-core machine, for comparing builds.
    cpu: Duration,
}

/// Runs a command to completion, reaping it with wait4 so its own peak
/// RSS is known (RUSAGE_CHILDREN would mix every child so far).
// The child is reaped by wait4, which clippy does not see.
#[allow(clippy::zombie_processes)]
/// Set in the environment of the bench binary re-run as a launcher.
const LAUNCHER: &str = "FEEDSIFT_BENCH_LAUNCHER";

/// Runs `cmd` and measures it. The measured process is started by a fresh,
/// small copy of this binary (`launch`), not by this process: Linux keeps a
/// process's peak RSS across exec, so a child spawned straight from here
/// would report at least this process's own peak (the generated workload,
/// 65 MiB for 1000 feeds) whatever it used itself.
fn run_measured(cmd: &mut Command, what: &str, log: &Path) -> Run {
    let err = std::fs::File::create(log).expect("log file");
    let mut launcher = Command::new(std::env::current_exe().expect("the bench binary"));
    launcher
        .env(LAUNCHER, "1")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => launcher.env(k, v),
            None => launcher.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        launcher.current_dir(dir);
    }
    let start = Instant::now();
    let out = launcher
        .stdin(Stdio::null())
        .stderr(err)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let took = start.elapsed();
    let report = String::from_utf8_lossy(&out.stdout);
    let mut fields = report.split_whitespace();
    let status: i32 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
    let max_rss_kib: i64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let cpu_us: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(
        out.status.success() && status == 0,
        "{what} failed ({status}): {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    Run {
        took,
        max_rss_kib,
        cpu: Duration::from_micros(cpu_us),
    }
}

/// The launcher: runs the command in its arguments (output to /dev/null,
/// errors inherited) and prints its exit code, peak RSS in KiB and CPU
/// time (user and system) in microseconds.
fn launch(args: &[String]) -> ! {
    let child = Command::new(&args[0])
        .args(&args[1..])
        .env_remove(LAUNCHER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        println!("-1 0");
        std::process::exit(1);
    };
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes only into the status and rusage we pass it; the
    // child is ours and has not been waited for.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let r = libc::wait4(pid, &mut status, 0, &mut ru);
        assert_eq!(r, pid, "wait4");
        ru
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    println!(
        "{code} {} {}",
        ru.ru_maxrss,
        us(ru.ru_utime) + us(ru.ru_stime)
    );
    std::process::exit(0);
}

/// The binary under test: this build's, or another (`FEEDSIFT_BENCH_BIN`,
/// to compare builds on the same workload).
fn feedsift_bin() -> std::path::PathBuf {
    std::env::var_os("FEEDSIFT_BENCH_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_feedsift").into(), Into::into)
}

/// `FEEDSIFT_BENCH_WRAP="perf record -g -o /tmp/poll.data --"` runs every
/// poll under that command, to profile it (the timings and RSS are then
/// the wrapper's, not feedsift's alone).
fn feedsift_command() -> Command {
    let wrap = std::env::var("FEEDSIFT_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    match words.next() {
        None => Command::new(feedsift_bin()),
        Some(first) => {
            let mut c = Command::new(first);
            c.args(words).arg(feedsift_bin());
            c
        }
    }
}

fn poll(dir: &Path) -> Run {
    run_measured(
        feedsift_command()
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("poll")
            .env("FEEDSIFT_LOG", "warn"),
        "feedsift poll",
        &dir.join("poll.log"),
    )
}

/// newsboat reloading the same feeds, with as many threads as feedsift's
/// default concurrency and the same timeout.
fn newsboat_poll(dir: &Path) -> Run {
    run_measured(
        Command::new("newsboat")
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
            .env("HOME", dir),
        "newsboat",
        &dir.join("newsboat.log"),
    )
}

fn count(dir: &Path, sql: &str) -> usize {
    let c = rusqlite::Connection::open(dir.join("feedsift.db")).expect("open db");
    let n: i64 = c.query_row(sql, [], |r| r.get(0)).expect("query");
    usize::try_from(n).expect("a count")
}

fn median_time(v: &[Run]) -> Duration {
    let mut t: Vec<Duration> = v.iter().map(|r| r.took).collect();
    t.sort();
    t[t.len() / 2]
}

fn max_rss_mib(v: &[Run]) -> f64 {
    v.iter().map(|r| r.max_rss_kib).max().unwrap_or(0) as f64 / 1024.0
}

fn report(name: &str, v: &[Run]) {
    let each: Vec<String> = v
        .iter()
        .map(|r| format!("{:.3}", r.took.as_secs_f64()))
        .collect();
    let mut cpu: Vec<Duration> = v.iter().map(|r| r.cpu).collect();
    cpu.sort();
    println!(
        "  {name:<8} median {:>7.3} s  [{}]  peak RSS {:.0} MiB, CPU {:.2} s",
        median_time(v).as_secs_f64(),
        each.join(", "),
        max_rss_mib(v),
        cpu[cpu.len() / 2].as_secs_f64()
    );
}

fn newsboat_available() -> bool {
    Command::new("newsboat").arg("--version").output().is_ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// CPU ticks (user + system) a process used so far.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// What the idle daemon held: its VmRSS once settled, its peak, how long
/// settling took, and (`after_unload`) its VmRSS once it unloaded the story
/// window and settled again.
struct Idle {
    rss: u64,
    hwm: u64,
    settled: Duration,
    after_unload: Option<u64>,
}

/// `feedsift run` on a polled database (nothing due for an hour): once its
/// CPU time stops moving (stories grouped, caches warm), its VmRSS; with
/// `unloads`, again once it logged unloading its idle story window
/// (`UNLOAD_SECS` later) and settled.
fn idle_rss(dir: &Path, unloads: bool) -> Option<Idle> {
    let log = dir.join("run.log");
    let mut child = Command::new(feedsift_bin())
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("run")
        .env("FEEDSIFT_LOG", "warn,feedsift::store=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).ok()?)
        .spawn()
        .ok()?;
    let pid = child.id();
    let settle = || {
        let start = Instant::now();
        let mut last = None;
        let mut quiet = 0;
        while start.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(500));
            let t = cpu_ticks(pid);
            quiet = if t.is_some() && t == last {
                quiet + 1
            } else {
                0
            };
            last = t;
            if quiet >= 4 {
                break;
            }
        }
        start.elapsed()
    };
    let settled = settle();
    let rss = status_kib(pid, "VmRSS:");
    let hwm = status_kib(pid, "VmHWM:");
    let mut after_unload = None;
    if unloads {
        let unloaded = || {
            std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains("unloaded the idle story window"))
        };
        let start = Instant::now();
        while !unloaded() && start.elapsed() < Duration::from_secs(UNLOAD_SECS + 60) {
            std::thread::sleep(Duration::from_millis(200));
        }
        if unloaded() {
            settle();
            after_unload = status_kib(pid, "VmRSS:");
        }
    }
    // SAFETY: plain kill(2) of our own child by its pid.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
    Some(Idle {
        rss: rss?,
        hwm: hwm?,
        settled,
        after_unload,
    })
}

/// The next new items after the window was unloaded: the stories of the
/// newest 100 items are taken apart, and a restarted daemon, finding their
/// items waiting, reads the window back from the database first. Returns its
/// log line for that (items and milliseconds).
fn reload_window(dir: &Path) -> Option<String> {
    let c = rusqlite::Connection::open(dir.join("feedsift.db")).ok()?;
    // Their stories go whole (a story's uid comes from its first member,
    // which grouping them again would give it again).
    c.execute_batch(
        "CREATE TEMP TABLE taken AS SELECT DISTINCT story_id AS id FROM items
           WHERE id IN (SELECT id FROM items ORDER BY sort_time DESC LIMIT 100);
         UPDATE items SET story_id = NULL, sketch = NULL, cites = NULL
           WHERE story_id IN (SELECT id FROM taken);
         DELETE FROM stories WHERE id IN (SELECT id FROM taken);",
    )
    .ok()?;
    drop(c);
    idle_rss(dir, false)?;
    let log = std::fs::read_to_string(dir.join("run.log")).ok()?;
    let line = log
        .lines()
        .find(|l| l.contains("loaded the story window from the database"))?;
    Some(
        line.split_whitespace()
            .filter(|w| w.starts_with("items=") || w.starts_with("ms="))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A poll after time advanced: every second feed has new items.
fn advance_and_poll(d: &Path, server: &Feeds) {
    server.advanced.store(true, Ordering::Relaxed);
    poll(d);
    server.advanced.store(false, Ordering::Relaxed);
}

/// The idle daemon twice: right after it grouped the first poll's backlog
/// into stories, with the story index in memory as a running daemon keeps
/// it, and started again on the same database, where nothing is left to
/// group and the index waits for the next new item to be loaded: the
/// memory of everything but the index.
fn report_idle(d: &Path, feeds: usize, what: &str) {
    let items = count(d, "SELECT count(*) FROM items");
    for (when, unloads) in [
        ("after grouping the backlog", true),
        ("restarted, story index not loaded yet", false),
    ] {
        match idle_rss(d, unloads) {
            Some(i) => {
                println!(
                    "  idle     `feedsift run` with {feeds} feeds, {items} items stored ({what}), {when}: VmRSS {:.1} MiB (peak {:.1} MiB), settled after {:.1} s",
                    i.rss as f64 / 1024.0,
                    i.hwm as f64 / 1024.0,
                    i.settled.as_secs_f64()
                );
                if unloads {
                    match i.after_unload {
                        Some(kib) => println!(
                            "  idle     the same, once idle for `unload_after` ({UNLOAD_SECS} s) and the story window unloaded: VmRSS {:.1} MiB",
                            kib as f64 / 1024.0
                        ),
                        None => println!("  idle     the story window was not unloaded"),
                    }
                }
            }
            None => println!("  idle     could not measure `feedsift run`"),
        }
    }
    // For profiling the idle daemon by hand (heaptrack feedsift --config
    // KEPT/config.toml run): a copy of the database it idled on.
    if let Some(keep) = std::env::var_os("FEEDSIFT_BENCH_KEEP") {
        let to = Path::new(&keep).join(what.replace(' ', "-"));
        let copied = Command::new("cp").arg("-a").arg(d).arg(&to).status();
        println!("  (database copied to {}: {copied:?})", to.display());
    }
    match reload_window(d) {
        Some(what) => {
            println!("  reload   the next new items read the unloaded story window back: {what}")
        }
        None => println!("  reload   could not measure reading the story window back"),
    }
}

fn main() {
    if std::env::var_os(LAUNCHER).is_some() {
        let argv: Vec<String> = std::env::args().collect();
        launch(&argv[1..]);
    }
    let args = args::Args::from_env();
    let smoke = args.has("--smoke");
    let feeds = args.value("--feeds", if smoke { 100 } else { 1000 });
    let runs = args.value("--runs", if smoke { 1 } else { 3 }).max(1);
    let peer_runs = args.value("--peer-runs", if smoke { 1 } else { 3 });
    // For profiling one scenario: the cold polls and nothing else.
    let cold_only = args.has("--cold-only");
    // For the idle daemon's memory: one cold poll of each workload, no timings.
    let idle_only = args.has("--idle-only");
    let idle_days = args.value("--idle-days", 90);
    // newsboat takes minutes at 10,000 feeds: only on request there.
    let peer = !args.has("--no-peer") && (feeds <= 2000 || args.has("--peer")) && peer_runs > 0;
    let generating = Instant::now();
    let (addrs, server) = start_server(feeds);
    let gz_bytes: usize = server.docs[0].iter().map(|d| d.gz.len()).sum();
    let plain_bytes: usize = server.docs[0]
        .iter()
        .take(30)
        .map(|d| gunzip(&d.gz).len())
        .sum::<usize>()
        / feeds.min(30);
    println!(
        "feedsift poll benchmark: {feeds} feeds x {ITEMS} items (RSS 2.0, Atom 1.0, RSS 1.0) on {HOSTS} loopback hosts, {runs} runs each"
    );
    println!(
        "  workload: ~{} KiB per feed, {} MiB gzipped in all, {} distinct items, {} on the topic; generated in {:.1} s",
        plain_bytes / 1024,
        gz_bytes / (1024 * 1024),
        server.expect.items,
        server.expect.topic,
        generating.elapsed().as_secs_f64()
    );

    if args.has("--postgres") {
        postgres_scenario(&addrs, &server, feeds, runs, cold_only);
        return;
    }

    let (mut cold, mut warm, mut steady) = (Vec::new(), Vec::new(), Vec::new());
    let mut dir_keep = None;
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let listen = format!("127.0.0.1:{}", free_port());
        write_config(d, &feed_urls(&addrs, feeds, 0), &listen);
        server.advanced.store(false, Ordering::Relaxed);

        let before = server.snapshot();
        cold.push(poll(d));
        let [req, _, _, gz] = server.since(before);
        assert_eq!((req, gz), (feeds, feeds), "every body gzipped");
        assert_eq!(
            count(d, "SELECT count(*) FROM item_sources"),
            feeds * ITEMS,
            "every entry of every feed stored"
        );
        assert_eq!(
            count(d, "SELECT count(*) FROM items"),
            server.expect.items,
            "wire copies linking one page stored once"
        );
        assert_eq!(
            count(d, "SELECT count(*) FROM topic_items"),
            server.expect.topic,
            "the topic holds exactly the Russia–Japan items"
        );

        if cold_only {
            continue;
        }
        if idle_only {
            dir_keep = Some(dir);
            break;
        }
        let before = server.snapshot();
        warm.push(poll(d));
        let [req, cond, nm, _] = server.since(before);
        assert_eq!(
            (req, cond, nm),
            (feeds, feeds, feeds),
            "every request conditional, every answer 304"
        );

        server.advanced.store(true, Ordering::Relaxed);
        let before = server.snapshot();
        steady.push(poll(d));
        let [req, _, nm, _] = server.since(before);
        let changed = (0..feeds).filter(|&n| changes(n)).count();
        assert_eq!(
            (req, nm),
            (feeds, feeds - changed),
            "half the feeds changed"
        );
        assert_eq!(
            count(d, "SELECT count(*) FROM item_sources"),
            feeds * ITEMS + changed * NEW_PER_ADVANCE,
            "the new items of the changed feeds stored"
        );
        server.advanced.store(false, Ordering::Relaxed);
        dir_keep = Some(dir);
    }
    println!("feedsift (median of {runs}; each run; peak RSS of the poll process):");
    report("cold", &cold);
    if cold_only {
        return;
    }
    if !idle_only {
        report("warm", &warm);
        report("steady", &steady);
    }

    // The database of a cold poll and one advance of time (over 500,000
    // items at 10,000 feeds), for the idle daemon: this workload's, whose
    // items all fall within the story window, and one whose items span
    // `--idle-days` (a feed's 50 items days apart, as most feeds publish
    // them), where the window holds a few days' worth.
    if let Some(dir) = &dir_keep {
        let d = dir.path();
        if idle_only {
            advance_and_poll(d, &server);
        }
        report_idle(d, feeds, "items over 8 hours, all in the story window");
    }
    if idle_days > 0 {
        ITEM_STEP.store(idle_days as i64 * 86_400 / ITEMS as i64, Ordering::Relaxed);
        let (addrs, spread) = start_server(feeds);
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write_config(
            d,
            &feed_urls(&addrs, feeds, 0),
            &format!("127.0.0.1:{}", free_port()),
        );
        poll(d);
        advance_and_poll(d, &spread);
        report_idle(d, feeds, &format!("items over {idle_days} days"));
        ITEM_STEP.store(STEP, Ordering::Relaxed);
    }
    if idle_only {
        return;
    }

    // Faults: hanging servers and 503s.
    let faulty = (feeds / 100).max(1);
    let mut fault_runs = Vec::new();
    for _ in 0..runs.min(3) {
        let dir = tempfile::tempdir().expect("tempdir");
        let listen = format!("127.0.0.1:{}", free_port());
        write_config(dir.path(), &feed_urls(&addrs, feeds, faulty), &listen);
        let r = poll(dir.path());
        let failing = |status: &str| {
            count(
                dir.path(),
                &format!("SELECT count(*) FROM feeds WHERE last_status = '{status}'"),
            )
        };
        let (hung, refused) = (failing("timeout"), failing("503"));
        assert_eq!((hung, refused), (faulty, faulty), "every fault reported");
        assert_eq!(
            count(dir.path(), "SELECT count(*) FROM item_sources"),
            (feeds - hung - refused) * ITEMS,
            "every healthy item stored"
        );
        fault_runs.push(r);
    }
    println!("  (faults: {faulty} hanging + {faulty} answering 503, timeout {TIMEOUT_SECS} s)");
    report("faults", &fault_runs);
    // A hanging feed may add its timeout to the poll, and no more. (Not
    // "the timeout plus 2 s" as before: the stages between fetch and store
    // are bounded now, so a feed late in the list is fetched late in a
    // large poll, and its timeout starts then.)
    let limit = median_time(&cold) + Duration::from_secs(TIMEOUT_SECS) + Duration::from_secs(1);
    assert!(
        fault_runs.iter().all(|r| r.took < limit),
        "a hanging feed held the poll up longer than its timeout: {:?} against {limit:?}",
        fault_runs.iter().map(|r| r.took).collect::<Vec<_>>()
    );

    if !peer {
        println!(
            "newsboat: not run (not installed, --no-peer, or more than 2000 feeds without --peer)"
        );
        return;
    }
    if !newsboat_available() {
        println!("newsboat not installed: no peer comparison (apt-get install newsboat)");
        return;
    }
    let (mut nb_cold, mut nb_warm) = (Vec::new(), Vec::new());
    let mut nb_counts = [0; 4];
    for _ in 0..peer_runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("urls"), feed_urls(&addrs, feeds, 0).join("\n")).expect("urls");
        std::fs::write(
            d.join("newsboat.conf"),
            format!("reload-threads 32\ndownload-timeout {TIMEOUT_SECS}\n"),
        )
        .expect("conf");
        nb_cold.push(newsboat_poll(d));
        let before = server.snapshot();
        nb_warm.push(newsboat_poll(d));
        let c = server.since(before);
        for i in 0..4 {
            nb_counts[i] += c[i];
        }
    }
    println!("newsboat (reload-threads 32, median of {peer_runs}):");
    report("cold", &nb_cold);
    report("warm", &nb_warm);
    println!(
        "  its unchanged reloads sent {} requests, {} conditional, {} answered 304",
        nb_counts[0], nb_counts[1], nb_counts[2]
    );
    let ratio = |ours: &[Run], theirs: &[Run]| {
        median_time(ours).as_secs_f64() / median_time(theirs).as_secs_f64()
    };
    println!(
        "ratio feedsift / newsboat: cold {:.3} (target <= 0.075), warm {:.4}; peak RSS cold {:.0} / {:.0} MiB",
        ratio(&cold, &nb_cold),
        ratio(&warm, &nb_warm),
        max_rss_mib(&cold),
        max_rss_mib(&nb_cold)
    );
}

/// The PostgreSQL server scripts/test.sh starts (trust auth).
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of the benchmark's own, dropped after.
struct PgBench {
    url: String,
    name: String,
}

impl PgBench {
    fn create(n: usize) -> PgBench {
        let name = format!("feedsift_bench_{}_{n}", std::process::id());
        let mut admin = postgres::Client::connect(PG_ADMIN, postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (user postgres) for --postgres");
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .expect("create the bench database");
        }
        PgBench {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }

    fn try_count(&self, sql: &str) -> Option<usize> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).ok()?;
        let n: i64 = c.query_one(sql, &[]).ok()?.get(0);
        usize::try_from(n).ok()
    }

    fn count(&self, sql: &str) -> usize {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        let n: i64 = c.query_one(sql, &[]).expect(sql).get(0);
        usize::try_from(n).expect("a count")
    }
}

impl Drop for PgBench {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `d`'s config with `[storage] url` instead of the SQLite file.
fn use_postgres(d: &Path, url: &str) {
    let path = d.join("config.toml");
    let c = std::fs::read_to_string(&path).expect("config");
    let c = c.replace("path = \"feedsift.db\"", &format!("url = \"{url}\""));
    std::fs::write(path, c).expect("write config");
}

/// Starts `feedsift run --role ROLE` on `d`'s config, its log in `d`.
fn start_role(d: &Path, role: &str, n: usize) -> std::process::Child {
    let log = std::fs::File::create(d.join(format!("{role}{n}.log"))).expect("log");
    Command::new(feedsift_bin())
        .arg("--config")
        .arg(d.join("config.toml"))
        .args(["run", "--role", role])
        .env("FEEDSIFT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start feedsift run")
}

/// `wrk` for `secs` against each url at once; the sum of their req/s.
fn wrk_all(urls: &[String], secs: u64) -> Option<f64> {
    let children: Vec<_> = urls
        .iter()
        .map(|u| {
            Command::new("wrk")
                .args([
                    "-t1",
                    "-c16",
                    &format!("-d{secs}s"),
                    "-H",
                    "Accept-Encoding: gzip",
                    u,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .collect::<Option<_>>()?;
    let mut sum = 0.0;
    for c in children {
        let out = c.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let rps: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))?
            .trim()
            .parse()
            .ok()?;
        sum += rps;
    }
    Some(sum)
}

/// Issue 22's numbers: the cold poll on PostgreSQL against SQLite in the
/// same run (`feedsift poll`, one process each), the time for 1, 2 and 3
/// `run --role poll` processes sharing the feeds to poll them all, and
/// the req/s of 1 and 2 `serve` processes. `cold_only`: the cold polls
/// alone (the ratio), for trying a change in a minute rather than five.
fn postgres_scenario(
    addrs: &[SocketAddr],
    server: &Feeds,
    feeds: usize,
    runs: usize,
    cold_only: bool,
) {
    let urls = feed_urls(addrs, feeds, 0);
    let (mut sqlite, mut pg) = (Vec::new(), Vec::new());
    let mut shared: [Vec<Duration>; 3] = Default::default();
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), &urls, "127.0.0.1:0");
        sqlite.push(poll(dir.path()));

        let db = PgBench::create(0);
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), &urls, "127.0.0.1:0");
        use_postgres(dir.path(), &db.url);
        pg.push(poll(dir.path()));
        assert_eq!(db.count("SELECT count(*) FROM item_sources"), feeds * ITEMS);
        assert_eq!(db.count("SELECT count(*) FROM items"), server.expect.items);
        if cold_only {
            continue;
        }

        for (i, times) in shared.iter_mut().enumerate() {
            let pollers = i + 1;
            let db = PgBench::create(pollers);
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path();
            write_config(d, &urls, "127.0.0.1:0");
            use_postgres(d, &db.url);
            let start = Instant::now();
            let mut children: Vec<_> = (0..pollers).map(|n| start_role(d, "poll", n)).collect();
            // Until the first poller has created the schema, there is
            // nothing to count.
            while db
                .try_count("SELECT count(*) FROM feeds WHERE last_success IS NOT NULL")
                .unwrap_or(0)
                < feeds
            {
                assert!(
                    start.elapsed() < Duration::from_secs(600),
                    "pollers stalled"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            times.push(start.elapsed());
            assert_eq!(db.count("SELECT count(*) FROM item_sources"), feeds * ITEMS);
            for c in &mut children {
                let _ = c.kill();
                let _ = c.wait();
            }
            if run + 1 == runs
                && pollers == 3
                && Command::new("wrk").arg("--version").output().is_ok()
            {
                // Group every story first (`export` does), so the servers
                // publish the whole topic.
                let _ = feedsift_command()
                    .arg("--config")
                    .arg(d.join("config.toml"))
                    .args(["export", "russia-japan"])
                    .env("FEEDSIFT_LOG", "warn")
                    .stdout(Stdio::null())
                    .status();
                serve_rates(d, &db);
            }
        }
    }
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    println!("cold poll, one `feedsift poll` process (median of {runs}; each run; peak RSS):");
    report("sqlite", &sqlite);
    report("postgres", &pg);
    println!(
        "  ratio postgres / sqlite: {:.2} (target <= 1.5)",
        median_time(&pg).as_secs_f64() / median_time(&sqlite).as_secs_f64()
    );
    if cold_only {
        return;
    }
    println!(
        "`run --role poll` processes sharing the feeds, start to every feed polled (median of {runs}):"
    );
    for (i, t) in shared.iter().enumerate() {
        let each: Vec<String> = t
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect();
        println!(
            "  {} poller(s): {:.2} s ({})",
            i + 1,
            median(t).as_secs_f64(),
            each.join(", ")
        );
    }
}

/// req/s of the topic feed from 1 `serve` process, then from 2 at once.
fn serve_rates(d: &Path, _db: &PgBench) {
    let mut servers: Vec<_> = (0..2).map(|n| start_role(d, "serve", n)).collect();
    let addr = |n: usize| -> Option<String> {
        let log = std::fs::read_to_string(d.join(format!("serve{n}.log"))).ok()?;
        log.lines()
            .filter(|l| l.contains(" serving "))
            .find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("listen="))
                    .map(str::to_owned)
            })
    };
    let start = Instant::now();
    let addrs: Vec<String> = loop {
        if let (Some(a), Some(b)) = (addr(0), addr(1)) {
            break vec![a, b];
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "servers did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let urls: Vec<String> = addrs
        .iter()
        .map(|a| format!("http://{a}/topics/russia-japan.atom"))
        .collect();
    // Warm both caches (and group the stories' first page) first.
    for u in &urls {
        let _ = wrk_all(std::slice::from_ref(u), 1);
    }
    let one = wrk_all(&urls[..1], 5);
    let two = wrk_all(&urls, 5);
    if let (Some(one), Some(two)) = (one, two) {
        println!(
            "serving /topics/russia-japan.atom (gzip, wrk -c16 per server, 5 s): 1 serve process {one:.0} req/s, 2 serve processes {two:.0} req/s in all"
        );
    }
    for s in &mut servers {
        let _ = s.kill();
        let _ = s.wait();
    }
}
