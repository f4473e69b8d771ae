//! Polite, robust polling against a hostile server: the real binary polls a
//! local fault-injecting HTTP server (slow, hanging, endless, erroring,
//! redirecting, lying about charsets, compressed bombs, entity tricks) and
//! the `feeds` table says what happened to each feed, while the healthy feeds
//! in the same poll are stored in full.
//!
//! Only loopback addresses (127.0.0.0/8) ever receive traffic here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use rusqlite::types::Value;

use crate::util::*;

// ---------------------------------------------------------------------------
// The fault-injecting server
// ---------------------------------------------------------------------------

/// One request the server saw.
#[derive(Clone, Debug)]
struct Seen {
    /// "main" (127.0.0.1) or "other" (127.0.0.2).
    listener: &'static str,
    path: String,
    headers: HeaderMap,
    /// What we answered; None while the handler runs (or forever, for /hang).
    status: Option<u16>,
}

#[derive(Clone)]
struct Ctx {
    listener: &'static str,
    main: SocketAddr,
    other: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// A fault-injecting server on 127.0.0.1:0, plus the same routes on a second
/// loopback address (127.0.0.2:0) that only the SSRF redirect points at.
struct Hostile {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    fn start() -> Hostile {
        let log = Arc::new(Mutex::new(Vec::new()));
        // Any 127/8 address works on Linux loopback.
        let (main, other) = (listen("127.0.0.1"), listen("127.0.0.2"));
        let (ma, oa) = (main.local_addr().unwrap(), other.local_addr().unwrap());
        let app = |listener| {
            axum::Router::new().fallback(handle).with_state(Ctx {
                listener,
                main: ma,
                other: oa,
                log: log.clone(),
            })
        };
        let addr = serve_on(main, app("main"));
        serve_on(other, app("other"));
        Hostile { addr, log }
    }

    /// `http://127.0.0.1:PORT{path}`
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Requests for `path` on the main listener.
    fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.listener == "main" && s.path == path)
            .collect()
    }

    fn hits(&self, path: &str) -> usize {
        self.requests(path).len()
    }

    /// Requests that reached the 127.0.0.2 listener at all.
    fn other_hits(&self) -> usize {
        self.seen().iter().filter(|s| s.listener == "other").count()
    }

    /// How many requests so far; pass to `since` to see only later ones.
    fn mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    fn since(&self, mark: usize, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .skip(mark)
            .filter(|s| s.listener == "main" && s.path == path)
            .collect()
    }

    fn dump(&self) -> String {
        self.seen()
            .iter()
            .map(|s| {
                let h = |n: &str| {
                    s.headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned()
                };
                format!(
                    "  {} {} -> {:?} (host {}, if-none-match {}, if-modified-since {})\n",
                    s.listener,
                    s.path,
                    s.status,
                    h("host"),
                    h("if-none-match"),
                    h("if-modified-since")
                )
            })
            .collect()
    }
}

async fn handle(State(cx): State<Ctx>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let index = {
        let mut log = cx.log.lock().unwrap();
        log.push(Seen {
            listener: cx.listener,
            path: path.clone(),
            headers: headers.clone(),
            status: None,
        });
        log.len() - 1
    };
    let resp = route(&cx, &path, &headers).await;
    cx.log.lock().unwrap()[index].status = Some(resp.status().as_u16());
    resp
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).expect("response")
}

fn redirect(status: u16, location: &str) -> Response {
    respond(
        status,
        &[("location", location), ("content-type", "text/html")],
        format!("<a href=\"{location}\">moved</a>"),
    )
}

const RSS: &str = "application/rss+xml";
const LAST_MODIFIED: &str = "Fri, 10 May 2019 15:00:00 GMT";

fn etag_of(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

/// The strong ETag `/ok/NAME` sends.
fn fixture_etag(name: &str) -> String {
    etag_of(&std::fs::read(fixtures().join("feeds").join(name)).expect("fixture"))
}

async fn route(cx: &Ctx, path: &str, headers: &HeaderMap) -> Response {
    if let Some(name) = path.strip_prefix("/ok/") {
        return ok_file(name, headers);
    }
    if let Some(n) = path.strip_prefix("/redirect/") {
        return match n.parse::<u32>() {
            Ok(0) => respond(
                200,
                &[("content-type", RSS)],
                small_rss(
                    "Redirect target",
                    &[(
                        "Reached the end of the redirects",
                        "http://redirect.example/0",
                    )],
                ),
            ),
            // Relative Location: the client must resolve it.
            Ok(n) => redirect(302, &format!("/redirect/{}", n - 1)),
            Err(_) => respond(404, &[], "no such redirect"),
        };
    }
    let main = cx.main;
    match path {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            respond(
                200,
                &[("content-type", RSS)],
                small_rss(
                    "Slow",
                    &[("A slow but healthy feed", "http://slow.example/1")],
                ),
            )
        }
        "/hang" => std::future::pending().await,
        "/endless" => endless(),
        "/trickle" => respond(
            200,
            &[("content-type", RSS)],
            trickle(
                b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Trickle</title>",
            ),
        ),
        "/same" => respond(
            200,
            &[("content-type", RSS)],
            small_rss("Same", &[("Always the same body", "http://same.example/1")]),
        ),
        // Fails on its first request, then recovers.
        "/flaky" => {
            let seen = cx
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.path == "/flaky")
                .count();
            if seen <= 1 {
                respond(500, &[("content-type", "text/plain")], "oops")
            } else {
                respond(
                    200,
                    &[("content-type", RSS)],
                    small_rss(
                        "Flaky",
                        &[("Flaky feed recovered", "http://flaky.example/1")],
                    ),
                )
            }
        }
        "/404" => respond(404, &[("content-type", "text/html")], "<h1>Not Found</h1>"),
        "/410" => respond(410, &[("content-type", "text/html")], "<h1>Gone</h1>"),
        "/500" => respond(
            500,
            &[("content-type", "text/html")],
            "<h1>Internal Server Error</h1>",
        ),
        "/429" => respond(
            429,
            &[("content-type", "text/plain"), ("retry-after", "3600")],
            "slow down",
        ),
        "/503" => {
            let when = (chrono::Utc::now() + chrono::Duration::hours(2))
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            respond(
                503,
                &[("content-type", "text/plain"), ("retry-after", &when)],
                "maintenance",
            )
        }
        "/loop-a" => redirect(302, &format!("http://{main}/loop-b")),
        "/loop-b" => redirect(302, &format!("http://{main}/loop-a")),
        "/moved" => redirect(301, &format!("http://{main}/ok/tass.rss")),
        "/moved308" => redirect(308, &format!("http://{main}/ok/axar.atom")),
        "/temp" => redirect(307, &format!("http://{main}/ok/nhk.rdf")),
        "/to-other-loopback" => redirect(302, &format!("http://{}/ok/tass.rss", cx.other)),
        "/garbage" => respond(200, &[("content-type", RSS)], garbage()),
        "/truncated" => respond(200, &[("content-type", RSS)], TRUNCATED),
        "/html" => respond(200, &[("content-type", "text/html; charset=utf-8")], HTML),
        "/bomb" => {
            let body = tokio::task::spawn_blocking(bomb).await.expect("bomb");
            respond(
                200,
                &[("content-type", RSS), ("content-encoding", "gzip")],
                Body::from(body.as_slice()),
            )
        }
        "/laughs" => respond(200, &[("content-type", RSS)], laughs()),
        "/xxe" => respond(200, &[("content-type", RSS)], XXE),
        "/entities" => respond(200, &[("content-type", RSS)], ENTITIES),
        "/control" => respond(200, &[("content-type", RSS)], CONTROL),
        "/rss-noversion" => respond(200, &[("content-type", RSS)], RSS_NOVERSION),
        "/rss094" => respond(200, &[("content-type", RSS)], RSS094),
        "/atom03" => respond(200, &[("content-type", "application/atom+xml")], ATOM03),
        _ => match CHARSETS.iter().find(|c| c.path == path) {
            Some(c) => respond(200, &[("content-type", c.content_type)], c.body()),
            None => respond(404, &[], "not here"),
        },
    }
}

/// `/ok/NAME`: the fixture with a strong ETag and a Last-Modified, answering
/// conditional requests with 304.
fn ok_file(name: &str, headers: &HeaderMap) -> Response {
    if name.contains("..") || name.contains('/') {
        return respond(400, &[], "");
    }
    let Ok(bytes) = std::fs::read(fixtures().join("feeds").join(name)) else {
        return respond(404, &[], "no such fixture");
    };
    let etag = etag_of(&bytes);
    let ct = match name.rsplit('.').next() {
        Some("json") => "application/feed+json",
        Some("atom") => "application/atom+xml",
        Some("rss") => "application/rss+xml",
        _ => "application/xml",
    };
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let fresh = match (get(header::IF_NONE_MATCH), get(header::IF_MODIFIED_SINCE)) {
        (Some(inm), _) => inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*"),
        (None, Some(ims)) => match (
            chrono::DateTime::parse_from_rfc2822(ims),
            chrono::DateTime::parse_from_rfc2822(LAST_MODIFIED),
        ) {
            (Ok(ims), Ok(lm)) => lm <= ims,
            _ => false,
        },
        (None, None) => false,
    };
    let meta = [
        ("etag", etag.as_str()),
        ("last-modified", LAST_MODIFIED),
        ("cache-control", "max-age=0"),
    ];
    if fresh {
        respond(304, &meta, Body::empty())
    } else {
        let mut h = meta.to_vec();
        h.push(("content-type", ct));
        respond(200, &h, bytes)
    }
}

fn small_rss(channel: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{channel}</title><link>http://example.invalid/</link><description>{channel}</description>\n"
    );
    for (title, link) in items {
        s.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
             <description>{title}.</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// 200 with a body that never ends: valid-looking RSS items, ~8 KB a
/// millisecond (so a client without a cap grows by megabytes, not gigabytes).
fn endless() -> Response {
    let stream = futures_util::stream::unfold(0u64, |n| async move {
        let mut chunk = String::with_capacity(10_000);
        if n == 0 {
            chunk.push_str(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                 <title>Endless</title><link>http://endless.example/</link><description>x</description>\n",
            );
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for i in n * 100..(n + 1) * 100 {
            chunk.push_str(&format!(
                "<item><title>Endless item {i}</title><link>http://endless.example/{i}</link></item>\n"
            ));
        }
        Some((
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk)),
            n + 1,
        ))
    });
    respond(200, &[("content-type", RSS)], Body::from_stream(stream))
}

/// 4 KiB of deterministic noise.
fn garbage() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// gzip of 64 MiB of zeros (about 64 KiB), built once.
fn bomb() -> &'static Vec<u8> {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    })
}

const TRUNCATED_COMPLETE: &str = "Complete first item";
const TRUNCATED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<rss version=\"2.0\"><channel><title>Truncated</title><link>http://trunc.example/</link>
<description>cut short</description>
<item><title>Complete first item</title><link>http://trunc.example/1</link><guid>trunc-1</guid><description>Whole.</description></item>
<item><title>Second item is cut o";

const HTML: &str = "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>News site</title>
<link rel=\"stylesheet\" href=\"/style.css\">
<link rel=\"alternate\" type=\"application/rss+xml\" title=\"News\" href=\"/ok/tass.rss\">
</head><body><h1>News</h1><p>Latest stories from <a href=\"/news/1\">Moscow</a> and Tokyo.</p></body></html>
";

fn laughs() -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..=9 {
        let p = format!("&lol{};", i - 1);
        s.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", p.repeat(10)));
    }
    s.push_str(
        "]>\n<rss version=\"2.0\"><channel><title>Laughs</title><link>http://laughs.example/</link>\
         <description>laughs</description>\n\
         <item><title>&lol9;</title><link>http://laughs.example/1</link><description>&lol9;</description></item>\n\
         <item><title>Plain laughs item</title><link>http://laughs.example/2</link><description>plain</description></item>\n\
         </channel></rss>\n",
    );
    s
}

const XXE: &str = "<?xml version=\"1.0\"?>
<!DOCTYPE rss [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>
<rss version=\"2.0\"><channel><title>XXE &x;</title><link>http://xxe.example/</link><description>&x;</description>
<item><title>Leak &x;</title><link>http://xxe.example/1</link><description>&x;</description></item>
</channel></rss>
";

const ENTITIES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<rss version=\"2.0\"><channel><title>Entities</title><link>http://entities.example/</link><description>x</description>
<item><title>Tokyo&nbsp;talks: &eacute;tude</title><link>http://entities.example/1</link><description>caf&eacute;</description></item>
</channel></rss>
";

const CONTROL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<rss version=\"2.0\"><channel><title>Control</title><link>http://control.example/</link><description>x</description>
<item><title>Control\u{1} character</title><link>http://control.example/1</link><description>bell\u{1}</description></item>
</channel></rss>
";

const RSS_NOVERSION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<rss><channel><title>No version</title><link>http://noversion.example/</link><description>x</description>
<item><title>Unversioned RSS first</title><link>http://noversion.example/1</link></item>
<item><title>Unversioned RSS second</title><link>http://noversion.example/2</link></item>
</channel></rss>
";

const RSS094: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<rss version=\"0.94\"><channel><title>RSS 0.94</title><link>http://rss094.example/</link><description>x</description>
<item><title>RSS 0.94 first</title><link>http://rss094.example/1</link><description>one</description></item>
<item><title>RSS 0.94 second</title><link>http://rss094.example/2</link><description>two</description></item>
</channel></rss>
";

const ATOM03: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\" xml:lang=\"en\">
  <title>Atom 0.3 feed</title>
  <link rel=\"alternate\" type=\"text/html\" href=\"http://atom03.example/\"/>
  <modified>2019-05-10T12:00:00Z</modified>
  <author><name>Old Atom</name></author>
  <entry>
    <title>Atom 0.3 first entry</title>
    <link rel=\"alternate\" type=\"text/html\" href=\"http://atom03.example/1\"/>
    <id>tag:atom03.example,2019:1</id>
    <issued>2019-05-10T10:00:00Z</issued>
    <modified>2019-05-10T10:30:00Z</modified>
    <summary>The first entry.</summary>
  </entry>
  <entry>
    <title>Atom 0.3 second entry</title>
    <link rel=\"alternate\" type=\"text/html\" href=\"http://atom03.example/2\"/>
    <id>tag:atom03.example,2019:2</id>
    <issued>2019-05-10T11:00:00Z</issued>
    <modified>2019-05-10T11:30:00Z</modified>
    <summary>The second entry.</summary>
  </entry>
</feed>
";

/// A one-item RSS document in some charset, and where that charset is said.
struct Charset {
    path: &'static str,
    /// The item title, as Unicode; the stored title must equal it.
    title: &'static str,
    /// The XML declaration as written.
    decl: &'static str,
    content_type: &'static str,
    /// None: UTF-16BE with a BOM.
    encoding: Option<&'static encoding_rs::Encoding>,
    /// A longer description, to give detection something to go on.
    text: &'static str,
}

const CHARSETS: &[Charset] = &[
    Charset {
        path: "/cp1251",
        title: "Россия и Япония обсудили мирный договор",
        decl: "<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
        content_type: "application/rss+xml",
        encoding: Some(encoding_rs::WINDOWS_1251),
        text: "Министры иностранных дел России и Японии провели переговоры в Москве.",
    },
    Charset {
        path: "/koi8r",
        title: "Лавров: переговоры с Токио продолжатся",
        decl: "<?xml version=\"1.0\"?>",
        content_type: "application/xml; charset=koi8-r",
        encoding: Some(encoding_rs::KOI8_R),
        text: "Сергей Лавров заявил, что диалог с Японией будет продолжен.",
    },
    Charset {
        path: "/sjis",
        title: "日本とロシアの外相が会談",
        decl: "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>",
        content_type: "application/rss+xml",
        encoding: Some(encoding_rs::SHIFT_JIS),
        text: "河野外務大臣はモスクワでラブロフ外相と会談しました。",
    },
    Charset {
        path: "/eucjp",
        title: "北方領土問題で協議を継続",
        decl: "<?xml version=\"1.0\"?>",
        content_type: "application/xml; charset=EUC-JP",
        encoding: Some(encoding_rs::EUC_JP),
        text: "両国は平和条約締結交渉を継続することで一致しました。",
    },
    Charset {
        path: "/iso2022jp",
        title: "平和条約交渉を再開へ",
        decl: "<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>",
        content_type: "application/rss+xml",
        encoding: Some(encoding_rs::ISO_2022_JP),
        text: "日本とロシアは平和条約交渉を再開する方針です。",
    },
    Charset {
        path: "/utf16be",
        title: "Россия и Япония: 日本とロシア",
        decl: "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
        content_type: "application/rss+xml",
        encoding: None,
        text: "Двусторонние отношения — 二国間関係",
    },
    Charset {
        path: "/lying-latin1",
        title: "Москва — Café «naïve» 東京",
        decl: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        content_type: "application/rss+xml; charset=utf-8",
        encoding: Some(encoding_rs::UTF_8),
        text: "The HTTP header is right, the declaration lies.",
    },
    Charset {
        path: "/cp1252-undeclared",
        title: "Café – naïve résumé",
        decl: "<?xml version=\"1.0\"?>",
        content_type: "application/rss+xml",
        encoding: Some(encoding_rs::WINDOWS_1252),
        text: "Le café du coin sert une crème brûlée très appréciée ; à côté, \
               un élève naïf étudie à la bibliothèque près de l’église.",
    },
];

impl Charset {
    fn xml(&self) -> String {
        let slug = self.path.trim_start_matches('/');
        format!(
            "{}\n<rss version=\"2.0\"><channel><title>Charset {slug}</title>\
             <link>http://charset.example/{slug}/</link><description>{}</description>\n\
             <item><title>{}</title><link>http://charset.example/{slug}/1</link>\
             <guid isPermaLink=\"false\">{slug}-1</guid><description>{}</description></item>\n\
             </channel></rss>\n",
            self.decl, self.text, self.title, self.text
        )
    }

    fn body(&self) -> Vec<u8> {
        let xml = self.xml();
        match self.encoding {
            None => {
                let mut v = vec![0xFE, 0xFF];
                for u in xml.encode_utf16() {
                    v.extend_from_slice(&u.to_be_bytes());
                }
                v
            }
            Some(enc) => {
                let (bytes, used, unmappable) = enc.encode(&xml);
                assert!(
                    !unmappable && used == enc,
                    "{}: fixture not encodable",
                    self.path
                );
                bytes.into_owned()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Config, running the binary, reading the feeds table
// ---------------------------------------------------------------------------

fn config(feeds: &[String], polling_extra: &str) -> String {
    let mut s = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.example.org/\"\n\n\
         [polling]\ninterval = \"1h\"\ntimeout = \"2s\"\nmax_body = \"1MiB\"\n{polling_extra}\n\n"
    );
    for f in feeds {
        s.push_str(&format!("[[feed]]\nurl = \"{f}\"\n\n"));
    }
    s
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `feedsift poll`, killed (and the test failed) if it runs past `limit`.
fn poll(site: &Site, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let child = site
        .cmd()
        .arg("poll")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn feedsift poll");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (out.expect("feedsift poll output"), start.elapsed()),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            let out = rx.recv().expect("killed poll").expect("output");
            panic!(
                "`feedsift poll` still running after {limit:?}; killed it. stderr:\n{}",
                stderr(&out)
            );
        }
    }
}

/// One row of the feeds table, every column by name (so a missing column is
/// a readable failure, not an SQL error).
struct Row {
    url: String,
    cols: Vec<(String, Value)>,
}

impl Row {
    fn get(&self, col: &str) -> Option<&Value> {
        self.cols.iter().find(|(c, _)| c == col).map(|(_, v)| v)
    }

    fn text(&self, col: &str) -> Option<String> {
        match self.get(col) {
            Some(Value::Text(s)) => Some(s.clone()),
            Some(Value::Integer(i)) => Some(i.to_string()),
            _ => None,
        }
    }

    fn int(&self, col: &str) -> Option<i64> {
        match self.get(col) {
            Some(Value::Integer(i)) => Some(*i),
            Some(Value::Text(s)) => s.parse().ok(),
            _ => None,
        }
    }

    fn status(&self) -> String {
        self.text("last_status").unwrap_or_default()
    }

    fn error(&self) -> String {
        self.text("last_error").unwrap_or_default()
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "feeds row for {}:", self.url)?;
        if self.cols.is_empty() {
            return write!(f, " (no row)");
        }
        for (c, v) in &self.cols {
            let v = match v {
                Value::Null => "NULL".to_owned(),
                Value::Integer(i) => i.to_string(),
                Value::Real(r) => r.to_string(),
                Value::Text(s) => format!("{s:?}"),
                Value::Blob(b) => format!("<{} bytes>", b.len()),
            };
            write!(f, "\n    {c} = {v}")?;
        }
        Ok(())
    }
}

struct Db {
    conn: rusqlite::Connection,
}

impl Db {
    fn open(site: &Site) -> Db {
        Db {
            conn: rusqlite::Connection::open(site.db()).expect("open feedsift.db"),
        }
    }

    fn row(&self, url: &str) -> Row {
        let mut st = self
            .conn
            .prepare("SELECT * FROM feeds WHERE url = ?1")
            .unwrap();
        let names: Vec<String> = st.column_names().map(str::to_owned).collect();
        let cols = st
            .query_row([url], |r| {
                Ok(names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), r.get::<_, Value>(i).unwrap()))
                    .collect())
            })
            .unwrap_or_default();
        Row {
            url: url.to_owned(),
            cols,
        }
    }

    /// Titles of the items seen in the feed with this configured url.
    fn titles(&self, url: &str) -> Vec<String> {
        self.texts(url, "i.title")
    }

    /// One column (`i.title`, `i.summary`, ...) of the feed's items.
    fn texts(&self, url: &str, col: &str) -> Vec<String> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT coalesce({col}, '') FROM items i
                 JOIN item_sources s ON s.item_id = i.id
                 JOIN feeds f ON f.id = s.feed_id
                 WHERE f.url = ?1 ORDER BY i.title"
            ))
            .unwrap();
        st.query_map([url], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn items(&self, url: &str) -> usize {
        self.titles(url).len()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

/// Collects failed expectations so one run reports all of them, grouped by
/// feed, each group with the feed's row.
#[derive(Default)]
struct Checks {
    /// (feed url, its row as text, what failed), in order.
    failures: Vec<(String, String, String)>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl std::fmt::Display, row: &Row) {
        if !ok {
            self.failures
                .push((row.url.clone(), row.to_string(), what.to_string()));
        }
    }

    fn status(&mut self, row: &Row, allowed: &[&str]) {
        let s = row.status();
        self.check(
            allowed.contains(&s.as_str()),
            format!(
                "{}: last_status {s:?}, expected one of {allowed:?}",
                row.url
            ),
            row,
        );
    }

    fn error_contains(&mut self, row: &Row, needle: &str) {
        let e = row.error();
        self.check(
            e.contains(needle),
            format!("{}: last_error {e:?} should contain {needle:?}", row.url),
            row,
        );
    }

    fn finish(self, context: &str) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = String::new();
        let mut urls: Vec<&str> = Vec::new();
        for (url, _, _) in &self.failures {
            if !urls.contains(&url.as_str()) {
                urls.push(url);
            }
        }
        for url in urls {
            let mut row = "";
            for (u, r, what) in &self.failures {
                if u == url {
                    text.push_str(&format!("- {what}\n"));
                    row = r;
                }
            }
            text.push_str(&format!("  {row}\n\n"));
        }
        panic!(
            "{} failed expectation(s):\n\n{text}{context}",
            self.failures.len()
        );
    }
}

const TASS_TITLES: [&str; 4] = [
    "Hockey: Russian team wins friendly against Finland",
    "Japan seeks to bring relations with Russia to new level",
    "Kremlin comments on Tokyo visit",
    "Lavrov and Kono to meet again in June",
];

/// The healthy fixture feed is fully stored: its four items.
fn check_tass(c: &mut Checks, db: &Db, url: &str) {
    let row = db.row(url);
    c.status(&row, &["ok", "not-modified", "unchanged"]);
    let titles = db.titles(url);
    c.check(
        titles == TASS_TITLES,
        format!("{url}: the healthy feed's 4 items should be stored, got {titles:?}"),
        &row,
    );
}

fn context(site: &Site, server: &Hostile, out: &Output) -> String {
    let table = rusqlite::Connection::open(site.db())
        .ok()
        .and_then(|c| {
            let mut st = c
                .prepare("SELECT url, last_status, last_error FROM feeds ORDER BY url")
                .ok()?;
            let rows: Vec<String> = st
                .query_map([], |r| {
                    Ok(format!(
                        "  {} | {} | {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(2)?.unwrap_or_default()
                    ))
                })
                .ok()?
                .filter_map(Result::ok)
                .collect();
            Some(rows.join("\n"))
        })
        .unwrap_or_else(|| "(no database)".into());
    format!(
        "feeds table:\n{table}\n\nrequests the server saw:\n{}\npoll exit: {:?}\npoll stderr:\n{}",
        server.dump(),
        out.status,
        stderr(out)
    )
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// One poll of every broken, tricky and hostile route at once, with a healthy
/// feed among them.
#[test]
fn one_poll_of_every_hostile_route() {
    let server = Hostile::start();
    bomb(); // built before the poll, so building it is not timed
    let charset_paths: Vec<&str> = CHARSETS.iter().map(|c| c.path).collect();
    let mut paths = vec![
        "/ok/tass.rss",
        "/trickle",
        "/404",
        "/410",
        "/500",
        "/429",
        "/503",
        "/redirect/3",
        "/redirect/6",
        "/loop-a",
        "/garbage",
        "/truncated",
        "/html",
        "/bomb",
        "/laughs",
        "/xxe",
        "/entities",
        "/control",
        "/rss-noversion",
        "/rss094",
        "/atom03",
    ];
    paths.extend(&charset_paths);
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let site = Site::new(&config(&urls, "per_host = 8"));

    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");

    let db = Db::open(&site);
    let row = |p: &str| db.row(&server.url(p));
    let mut c = Checks::default();

    check_tass(&mut c, &db, &server.url("/ok/tass.rss"));

    // HTTP errors.
    for (p, code, needle) in [
        ("/404", "404", "HTTP 404"),
        ("/410", "410", "gone"),
        ("/500", "500", "HTTP 500"),
        ("/429", "429", "HTTP 429"),
        ("/503", "503", "HTTP 503"),
    ] {
        let r = row(p);
        c.status(&r, &[code]);
        c.error_contains(&r, needle);
        c.check(
            r.int("error_count") == Some(1),
            format!("{p}: error_count should be 1 after one failed poll"),
            &r,
        );
        c.check(
            db.items(&r.url) == 0,
            format!("{p}: no items from an error page"),
            &r,
        );
    }

    // A body that never ends but never stalls either.
    let r = row("/trickle");
    c.status(&r, &["timeout"]);
    c.error_contains(&r, "timed out");
    c.check(db.items(&r.url) == 0, "/trickle: no items", &r);

    // Redirects.
    let r = row("/redirect/3");
    c.status(&r, &["ok"]);
    c.check(
        db.titles(&r.url) == ["Reached the end of the redirects"],
        "/redirect/3: the target's item is stored",
        &r,
    );
    c.check(
        r.text("effective_url").is_none(),
        "/redirect/3: 302s are temporary, effective_url stays NULL",
        &r,
    );
    let r = row("/redirect/6");
    c.status(&r, &["too-many-redirects"]);
    c.error_contains(&r, "more than 5 redirects");
    let r = row("/loop-a");
    c.status(&r, &["redirect-loop"]);
    c.error_contains(&r, "redirect loop");
    c.check(
        server.hits("/loop-a") + server.hits("/loop-b") <= 12,
        format!(
            "/loop-a: the loop should be cut short, the server saw {} + {} requests",
            server.hits("/loop-a"),
            server.hits("/loop-b")
        ),
        &r,
    );

    // Not feeds.
    let r = row("/garbage");
    c.status(&r, &["not-a-feed"]);
    c.check(db.items(&r.url) == 0, "/garbage: no items", &r);

    // Cut off: every complete item is kept (as feedparser's loose mode
    // does), the cut one is not, and the feed says it was malformed.
    let r = row("/truncated");
    c.status(&r, &["malformed"]);
    c.error_contains(&r, "ill-formed XML");
    let titles = db.titles(&r.url);
    c.check(
        titles == [TRUNCATED_COMPLETE],
        format!("/truncated: exactly the complete item must be stored, got {titles:?}"),
        &r,
    );

    let r = row("/html");
    c.status(&r, &["web-page"]);
    c.error_contains(&r, "this is a web page, not a feed");
    c.error_contains(&r, &server.url("/ok/tass.rss"));
    c.check(db.items(&r.url) == 0, "/html: no items", &r);

    // Size and entity attacks.
    let r = row("/bomb");
    c.status(&r, &["too-large"]);
    c.error_contains(&r, "larger than");

    let r = row("/laughs");
    c.status(&r, &["not-a-feed", "ok"]);
    let titles = db.titles(&r.url);
    c.check(
        titles.iter().all(|t| t.chars().count() <= 1000),
        format!(
            "/laughs: entity expansion reached a title ({} chars max)",
            titles.iter().map(|t| t.chars().count()).max().unwrap_or(0)
        ),
        &r,
    );
    for col in ["i.summary", "i.content"] {
        let longest = db
            .texts(&r.url, col)
            .iter()
            .map(|t| t.len())
            .max()
            .unwrap_or(0);
        c.check(
            longest <= 100_000,
            format!("/laughs: entity expansion reached {col} ({longest} bytes)"),
            &r,
        );
    }

    let r = row("/xxe");
    let leaked = db.count(
        "SELECT count(*) FROM items WHERE title LIKE '%root:%'
         OR coalesce(summary, '') LIKE '%root:%' OR coalesce(content, '') LIKE '%root:%'",
    ) + db
        .count("SELECT count(*) FROM feeds WHERE coalesce(title, '') LIKE '%root:%'");
    c.check(
        leaked == 0,
        "/xxe: /etc/passwd must never be read into the database",
        &r,
    );

    // Charsets: each title exactly right.
    for cs in CHARSETS {
        let r = row(cs.path);
        c.status(&r, &["ok"]);
        let titles = db.titles(&r.url);
        c.check(
            titles == [cs.title],
            format!(
                "{}: stored titles {titles:?}, expected [{:?}]",
                cs.path, cs.title
            ),
            &r,
        );
    }

    let r = row("/entities");
    c.status(&r, &["ok"]);
    let titles = db.titles(&r.url);
    c.check(
        titles.len() == 1
            && titles[0].contains('\u{a0}')
            && titles[0].contains("étude")
            && !titles[0].contains('&'),
        format!("/entities: HTML entities should be decoded to \\u{{a0}} and é, got {titles:?}"),
        &r,
    );

    let r = row("/control");
    c.status(&r, &["ok"]);
    let titles = db.titles(&r.url);
    c.check(
        titles.len() == 1
            && !titles[0].contains('\u{1}')
            && titles[0].starts_with("Control")
            && titles[0].ends_with("character"),
        format!("/control: the control character should be dropped, got {titles:?}"),
        &r,
    );

    // Old and sloppy formats.
    for (p, want) in [
        (
            "/rss-noversion",
            &["Unversioned RSS first", "Unversioned RSS second"],
        ),
        ("/rss094", &["RSS 0.94 first", "RSS 0.94 second"]),
        (
            "/atom03",
            &["Atom 0.3 first entry", "Atom 0.3 second entry"],
        ),
    ] {
        let r = row(p);
        c.status(&r, &["ok"]);
        let titles = db.titles(&r.url);
        c.check(
            titles == want,
            format!("{p}: stored titles {titles:?}, expected {want:?}"),
            &r,
        );
    }

    c.finish(&ctx);
}

/// A feed that never answers and one that never stops cost at most the
/// timeout, and do not hold up the healthy feeds.
#[test]
fn a_hanging_and_an_endless_feed_cost_only_the_timeout() {
    let server = Hostile::start();
    let paths = [
        "/ok/tass.rss",
        "/ok/axar.atom",
        "/ok/nhk.rdf",
        "/slow",
        "/hang",
        "/endless",
    ];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let site = Site::new(&config(&urls, ""));

    let (out, took) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    assert!(
        took < Duration::from_secs(4),
        "the whole poll took {took:?}, more than timeout (2s) + 2s\n{ctx}"
    );

    let db = Db::open(&site);
    let mut c = Checks::default();
    check_tass(&mut c, &db, &server.url("/ok/tass.rss"));
    for (p, n) in [("/ok/axar.atom", 3), ("/ok/nhk.rdf", 2), ("/slow", 1)] {
        let r = db.row(&server.url(p));
        c.status(&r, &["ok"]);
        c.check(
            db.items(&r.url) == n,
            format!("{p}: expected {n} items, got {}", db.items(&r.url)),
            &r,
        );
    }
    let r = db.row(&server.url("/hang"));
    c.status(&r, &["timeout"]);
    c.error_contains(&r, "timed out");
    let r = db.row(&server.url("/endless"));
    c.status(&r, &["too-large", "timeout"]);
    c.check(
        db.items(&r.url) == 0,
        "/endless: nothing from a body that was cut off",
        &r,
    );
    c.finish(&ctx);
}

/// Errors count up, each failure waits longer, Retry-After is obeyed and a
/// success resets the count.
#[test]
fn failing_feeds_back_off_and_obey_retry_after() {
    let server = Hostile::start();
    let paths = ["/ok/tass.rss", "/404", "/500", "/flaky", "/429", "/503"];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let site = Site::new(&config(&urls, ""));

    let t1 = now();
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    let db = Db::open(&site);
    let mut c = Checks::default();
    check_tass(&mut c, &db, &server.url("/ok/tass.rss"));
    let mut first_delay = HashMap::new();
    for (p, code) in [("/404", "404"), ("/500", "500"), ("/flaky", "500")] {
        let r = db.row(&server.url(p));
        c.status(&r, &[code]);
        c.check(
            r.int("error_count") == Some(1),
            format!("{p}: error_count should be 1 after the first failure"),
            &r,
        );
        let next = r.int("next_poll").unwrap_or(0);
        c.check(
            next > t1,
            format!("{p}: next_poll should be in the future"),
            &r,
        );
        first_delay.insert(p, next - t1);
    }
    let r = db.row(&server.url("/429"));
    c.status(&r, &["429"]);
    c.check(
        r.int("next_poll").unwrap_or(0) >= t1 + 3600 - 60,
        format!("/429: Retry-After: 3600 means next_poll >= {}", t1 + 3540),
        &r,
    );
    let r = db.row(&server.url("/503"));
    c.status(&r, &["503"]);
    c.check(
        r.int("next_poll").unwrap_or(0) >= t1 + 7200 - 60,
        format!(
            "/503: Retry-After two hours ahead means next_poll >= {}",
            t1 + 7140
        ),
        &r,
    );
    c.finish(&ctx);

    std::thread::sleep(Duration::from_millis(1100)); // a new second
    let t2 = now();
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "second poll should exit 0\n{ctx}");
    let mut c = Checks::default();
    check_tass(&mut c, &db, &server.url("/ok/tass.rss"));
    for p in ["/404", "/500"] {
        let r = db.row(&server.url(p));
        c.status(&r, &[p.trim_start_matches('/')]);
        c.check(
            r.int("error_count") == Some(2),
            format!("{p}: error_count should be 2 after two failed polls"),
            &r,
        );
        let delay = r.int("next_poll").unwrap_or(0) - t2;
        c.check(
            delay > first_delay[p],
            format!(
                "{p}: the second failure should wait longer: {delay}s now, {}s after the first",
                first_delay[p]
            ),
            &r,
        );
    }
    let r = db.row(&server.url("/flaky"));
    c.status(&r, &["ok"]);
    c.check(
        r.int("error_count") == Some(0),
        "/flaky: a success resets error_count to 0",
        &r,
    );
    c.check(
        db.titles(&r.url) == ["Flaky feed recovered"],
        "/flaky: the recovered feed's item is stored",
        &r,
    );
    c.check(
        r.int("last_success").is_some_and(|t| t >= t2),
        "/flaky: last_success is set by the successful poll",
        &r,
    );
    c.finish(&ctx);
}

/// A second poll asks conditionally, gets 304 and stores nothing new; a
/// server that ignores conditionals but sends the same bytes is "unchanged".
#[test]
fn second_poll_is_conditional_and_304_is_success() {
    let server = Hostile::start();
    let fixtures = [("tass.rss", 4), ("axar.atom", 3), ("nhk.rdf", 2)];
    let mut urls: Vec<String> = fixtures
        .iter()
        .map(|(n, _)| server.url(&format!("/ok/{n}")))
        .collect();
    urls.push(server.url("/same"));
    let site = Site::new(&config(&urls, ""));

    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    let db = Db::open(&site);
    let mut c = Checks::default();
    for (name, n) in fixtures {
        let r = db.row(&server.url(&format!("/ok/{name}")));
        c.status(&r, &["ok"]);
        c.check(db.items(&r.url) == n, format!("{name}: {n} items"), &r);
        c.check(
            r.text("etag") == Some(fixture_etag(name)),
            format!("{name}: the ETag should be remembered"),
            &r,
        );
        c.check(
            r.text("last_modified").as_deref() == Some(LAST_MODIFIED),
            format!("{name}: Last-Modified should be remembered"),
            &r,
        );
    }
    let r = db.row(&server.url("/same"));
    c.status(&r, &["ok"]);
    c.finish(&ctx);
    let items = db.count("SELECT count(*) FROM items");
    let sources = db.count("SELECT count(*) FROM item_sources");

    let mark = server.mark();
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(
        out.status.success(),
        "second poll should exit 0 (304 is success)\n{ctx}"
    );
    let mut c = Checks::default();
    for (name, n) in fixtures {
        let path = format!("/ok/{name}");
        let r = db.row(&server.url(&path));
        let reqs = server.since(mark, &path);
        c.check(
            reqs.len() == 1,
            format!("{path}: one request in the second poll, saw {}", reqs.len()),
            &r,
        );
        for req in &reqs {
            let inm = req
                .headers
                .get("if-none-match")
                .and_then(|v| v.to_str().ok());
            let ims = req
                .headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok());
            c.check(
                inm == Some(fixture_etag(name).as_str()) || ims == Some(LAST_MODIFIED),
                format!(
                    "{path}: second request should be conditional, had If-None-Match {inm:?}, If-Modified-Since {ims:?}"
                ),
                &r,
            );
            c.check(
                req.status == Some(304),
                format!(
                    "{path}: server should have answered 304, answered {:?}",
                    req.status
                ),
                &r,
            );
        }
        c.status(&r, &["not-modified"]);
        c.check(
            r.int("error_count").unwrap_or(-1) == 0,
            format!("{path}: 304 is no error"),
            &r,
        );
        c.check(
            db.items(&r.url) == n,
            format!("{name}: still {n} items"),
            &r,
        );
    }
    let r = db.row(&server.url("/same"));
    c.status(&r, &["unchanged"]);
    c.check(db.items(&r.url) == 1, "/same: still 1 item", &r);
    c.check(
        db.count("SELECT count(*) FROM items") == items
            && db.count("SELECT count(*) FROM item_sources") == sources,
        "the second poll stored nothing new",
        &r,
    );
    c.finish(&ctx);
}

/// 301 and 308 move the feed for good (and the log says to update the
/// config); 307 is temporary and asked again next time.
#[test]
fn permanent_redirects_are_followed_from_then_on() {
    let server = Hostile::start();
    let urls: Vec<String> = ["/moved", "/moved308", "/temp"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    let site = Site::new(&config(&urls, ""));

    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    let err = stderr(&out);
    assert!(
        err.contains("moved permanently") && err.contains("update config.toml"),
        "a permanent redirect should be logged with \"moved permanently\" and \"update config.toml\"\n{ctx}"
    );
    let db = Db::open(&site);
    let mut c = Checks::default();
    for (p, target, n) in [
        ("/moved", Some("/ok/tass.rss"), 4),
        ("/moved308", Some("/ok/axar.atom"), 3),
        ("/temp", None, 2),
    ] {
        let r = db.row(&server.url(p));
        c.status(&r, &["ok"]);
        c.check(db.items(&r.url) == n, format!("{p}: {n} items"), &r);
        let want = target.map(|t| server.url(t));
        c.check(
            r.text("effective_url") == want,
            format!("{p}: effective_url should be {want:?}"),
            &r,
        );
    }
    check_tass(&mut c, &db, &server.url("/moved"));
    c.finish(&ctx);

    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "second poll should exit 0\n{ctx}");
    let mut c = Checks::default();
    for (p, target, n, hits) in [
        ("/moved", "/ok/tass.rss", 4, 1),
        ("/moved308", "/ok/axar.atom", 3, 1),
        ("/temp", "/ok/nhk.rdf", 2, 2),
    ] {
        let r = db.row(&server.url(p));
        c.status(&r, &["ok", "not-modified", "unchanged"]);
        c.check(
            server.hits(p) == hits,
            format!(
                "{p}: the server saw {} requests for it over two polls, expected {hits}",
                server.hits(p)
            ),
            &r,
        );
        c.check(
            server.hits(target) == 2,
            format!(
                "{target}: the server saw {} requests over two polls, expected 2",
                server.hits(target)
            ),
            &r,
        );
        c.check(db.items(&r.url) == n, format!("{p}: still {n} items"), &r);
    }
    c.finish(&ctx);
}

/// Names that resolve to private addresses, and redirects to a private
/// address other than the one configured, are refused unless
/// `allow_private_networks = true`.
#[test]
fn private_addresses_are_refused_unless_allowed() {
    let server = Hostile::start();
    let port = server.addr.port();
    let by_name = format!("http://localhost:{port}/ok/tass.rss");
    let bounce = server.url("/to-other-loopback");
    let healthy = server.url("/ok/axar.atom");
    let urls = vec![by_name.clone(), bounce.clone(), healthy.clone()];

    let site = Site::new(&config(&urls, ""));
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    let db = Db::open(&site);
    let mut c = Checks::default();
    let r = db.row(&by_name);
    c.status(&r, &["private-address"]);
    c.error_contains(&r, "allow_private_networks");
    c.check(db.items(&by_name) == 0, "localhost: no items", &r);
    let r = db.row(&bounce);
    c.status(&r, &["private-address"]);
    c.check(db.items(&bounce) == 0, "bounce: no items", &r);
    c.check(
        server.hits("/ok/tass.rss") == 0 && server.other_hits() == 0,
        format!(
            "refused addresses must not receive a request: /ok/tass.rss saw {}, 127.0.0.2 saw {}",
            server.hits("/ok/tass.rss"),
            server.other_hits()
        ),
        &r,
    );
    let r = db.row(&healthy);
    c.status(&r, &["ok"]);
    c.check(db.items(&healthy) == 3, "the healthy feed: 3 items", &r);
    c.finish(&ctx);

    let allowed = Site::new(&config(&urls, "allow_private_networks = true"));
    let (out, _) = poll(&allowed, Duration::from_secs(60));
    let ctx = context(&allowed, &server, &out);
    assert!(out.status.success(), "poll should exit 0\n{ctx}");
    let db = Db::open(&allowed);
    let mut c = Checks::default();
    check_tass(&mut c, &db, &by_name);
    let r = db.row(&bounce);
    c.status(&r, &["ok"]);
    c.check(
        db.items(&bounce) == 4 && server.other_hits() == 1,
        format!(
            "bounce: with allow_private_networks the redirect to 127.0.0.2 is followed (127.0.0.2 saw {})",
            server.other_hits()
        ),
        &r,
    );
    let r = db.row(&healthy);
    c.status(&r, &["ok"]);
    c.finish(&ctx);
}

/// `poll` exits 0 when everything answered 304, and 1 only when every feed
/// failed, whatever the way.
#[test]
fn poll_exit_code_counts_304_as_success() {
    let server = Hostile::start();
    let only = server.url("/ok/nhk.rdf");
    let site = Site::new(&config(std::slice::from_ref(&only), ""));
    let (out, _) = poll(&site, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "first poll should exit 0\n{}",
        context(&site, &server, &out)
    );
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    let db = Db::open(&site);
    let r = db.row(&only);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a poll where the only feed answered 304 succeeded\n{r}\n{ctx}"
    );
    assert_eq!(r.status(), "not-modified", "{r}\n{ctx}");

    let failing: Vec<String> = ["/410", "/garbage", "/html", "/loop-a", "/redirect/9"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    let site = Site::new(&config(&failing, ""));
    let (out, _) = poll(&site, Duration::from_secs(60));
    let ctx = context(&site, &server, &out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "every feed failed, so poll should exit 1\n{ctx}"
    );
    let db = Db::open(&site);
    let mut c = Checks::default();
    for url in &failing {
        let r = db.row(url);
        c.check(
            !["ok", "not-modified", "unchanged", ""].contains(&r.status().as_str()),
            format!("{url}: recorded as a failure"),
            &r,
        );
        c.check(
            r.int("error_count") == Some(1),
            format!("{url}: error_count 1"),
            &r,
        );
    }
    c.finish(&ctx);
}
