//! Republishing end to end: the real daemon, polling fixture feeds from a
//! local HTTP server into a temp SQLite file, serves every topic document
//! (Atom, JSON Feed, OPML, the index page); each is validated, fetched the
//! way readers fetch (conditional, compressed, paged), read by a real feed
//! reader (newsboat), and checked for what a hostile feed tried to smuggle.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::util::*;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

/// A client that sends only the headers we give it: no automatic
/// Accept-Encoding, no transparent decompression.
fn client() -> Client {
    Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .expect("client")
}

fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = client().request(method.parse().expect("method"), url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().expect("body").to_vec(),
    }
}

fn get(url: &str) -> Resp {
    request("GET", url, &[])
}

/// The required fields of JSON Feed 1.1 and the ones we promise.
fn assert_valid_json_feed(body: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON Feed parses");
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1", "{body}");
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(
        v["feed_url"]
            .as_str()
            .is_some_and(|u| url::Url::parse(u).is_ok()),
        "{body}"
    );
    let items = v["items"].as_array().expect("items is an array");
    let mut ids = HashSet::new();
    for it in items {
        let id = it["id"].as_str().expect("item id is a string");
        assert!(!id.is_empty() && ids.insert(id.to_owned()), "id {id}");
        if let Some(u) = it.get("url") {
            assert!(
                u.as_str().is_some_and(|u| url::Url::parse(u).is_ok()),
                "{it}"
            );
        }
        assert!(
            it["content_html"].is_string() || it["content_text"].is_string(),
            "item {id} has neither content_html nor content_text"
        );
        let date = it["date_published"].as_str().expect("date_published");
        chrono::DateTime::parse_from_rfc3339(date).expect("date_published is RFC 3339");
        let authors = it["authors"].as_array().expect("authors");
        assert!(
            !authors.is_empty() && authors.iter().all(|a| a["name"].is_string()),
            "{it}"
        );
    }
    v
}

/// An OPML 2.0 list; returns its outlines' (text, xmlUrl).
fn assert_valid_opml(body: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(body).expect("OPML is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "opml");
    assert_eq!(root.attribute("version"), Some("2.0"));
    let head = root
        .children()
        .find(|n| n.has_tag_name("head"))
        .expect("head");
    assert!(head.children().any(|n| n.has_tag_name("title")));
    let body = root
        .children()
        .find(|n| n.has_tag_name("body"))
        .expect("body");
    body.children()
        .filter(|n| n.has_tag_name("outline"))
        .map(|o| {
            let text = o.attribute("text").expect("outline text").to_owned();
            let xml = o.attribute("xmlUrl").expect("outline xmlUrl").to_owned();
            assert!(url::Url::parse(&xml).is_ok(), "{xml}");
            assert_eq!(o.attribute("type"), Some("rss"));
            (text, xml)
        })
        .collect()
}

fn atom_ids(doc: &str) -> Vec<String> {
    let feed: atom_syndication::Feed = doc.parse().expect("Atom parses");
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

fn atom_link(doc: &str, rel: &str) -> Option<String> {
    let feed: atom_syndication::Feed = doc.parse().expect("Atom parses");
    feed.links
        .iter()
        .find(|l| l.rel == rel)
        .map(|l| l.href.clone())
}

fn copy_fixture_feeds(to: &Path) {
    for f in std::fs::read_dir(fixtures().join("feeds")).expect("fixtures") {
        let f = f.expect("entry");
        std::fs::copy(f.path(), to.join(f.file_name())).expect("copy fixture");
    }
}

/// A feed the test changes while the daemon runs; polled every second.
fn extra_feed(items: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Extra</title><link>https://extra.example/</link><description>d</description>\n",
    );
    for (i, (title, date)) in items.iter().enumerate() {
        s.push_str(&format!(
            "<item><title>{title}</title><link>https://extra.example/{i}</link><guid>extra-{i}</guid><pubDate>{date}</pubDate><description>{title}.</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn topic_rows(db: &Path, slug: &str) -> i64 {
    let c = rusqlite::Connection::open(db).expect("db");
    c.query_row(
        "SELECT count(*) FROM topic_items WHERE slug = ?1",
        [slug],
        |r| r.get(0),
    )
    .expect("count")
}

const MORE_TOPICS: &str = r#"
[topic.paged]
title = "Everything, two a page"
query = '@russia OR @japan OR Armenia OR Caucasus OR Hostile OR markets OR stocks OR oil'
limit = 2
group = "item"

[topic.hostile]
title = "Hostile"
query = "Hostile"
group = "item"
"#;

#[test]
fn the_daemon_serves_every_document_valid_cached_compressed_and_paged() {
    let feeds_dir = tempfile::tempdir().unwrap();
    copy_fixture_feeds(feeds_dir.path());
    let extra = feeds_dir.path().join("extra.rss");
    std::fs::write(
        &extra,
        extra_feed(&[("Armenia talks resume", "Fri, 10 May 2019 08:00:00 +0000")]),
    )
    .unwrap();
    let addr = serve_dir(feeds_dir.path().to_path_buf());
    let hostile_url = format!("http://{addr}/hostile.rss");
    let config = fixture_config(addr, &["hostile.rss", "extra.rss"]).replace(
        &format!("url = \"http://{addr}/extra.rss\"\n"),
        &format!("url = \"http://{addr}/extra.rss\"\ninterval = \"1s\"\n"),
    ) + &MORE_TOPICS.replace(
        "query = \"Hostile\"",
        &format!("query = \"Hostile\"\nfeeds = [\"{hostile_url}\"]"),
    );
    let site = Site::new(&config);
    // Rebuilds of cached documents are logged at debug: counted below.
    let daemon = Daemon::start_logging(&site, "info,feedsift::server=debug");
    let base = daemon.base();
    let public = "http://feeds.example.org/";

    let atom_url = format!("{base}/topics/russia-japan.atom");
    wait_for("the topic to fill", Duration::from_secs(20), || {
        let r = get(&atom_url);
        (r.status == 200 && titles(&r.text()).len() == 4).then_some(())
    });
    // Every feed polled, so the counts below do not move under us.
    site.wait_until_polled(6);
    // The store groups stories between jobs, which can still change the
    // document after the polls: wait until two fetches agree.
    let first = wait_for("the topic to settle", Duration::from_secs(20), || {
        let a = get(&atom_url);
        std::thread::sleep(Duration::from_millis(300));
        let b = get(&atom_url);
        (b.status == 200 && a.header("etag") == b.header("etag")).then_some(b)
    });

    // --- Every document, valid, with its content type.
    for slug in ["russia-japan", "paged", "hostile"] {
        let r = get(&format!("{base}/topics/{slug}.atom"));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            "application/atom+xml; charset=utf-8"
        );
        let doc = r.text();
        assert_valid_atom(&doc);
        assert_eq!(
            atom_link(&doc, "self").as_deref(),
            Some(format!("{public}topics/{slug}.atom").as_str())
        );
        let r = get(&format!("{base}/topics/{slug}.json"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), "application/feed+json");
        let json = assert_valid_json_feed(&r.text());
        // The same entries as the Atom feed, with the same ids.
        let json_ids: Vec<String> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(json_ids, atom_ids(&doc), "{slug}");
    }
    // xml:lang where the source says its language (TASS: en, NHK: ja).
    let doc = first.text();
    assert!(doc.contains("xml:lang=\"en\""), "{doc}");
    assert!(doc.contains("xml:lang=\"ja\""), "{doc}");

    let r = get(&format!("{base}/topics.opml"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/x-opml; charset=utf-8");
    let outlines = assert_valid_opml(&r.text());
    let urls: BTreeSet<_> = outlines.iter().map(|(_, u)| u.as_str()).collect();
    let want: BTreeSet<String> = ["russia-japan", "paged", "hostile"]
        .iter()
        .map(|s| format!("{public}topics/{s}.atom"))
        .collect();
    assert_eq!(urls, want.iter().map(String::as_str).collect());
    assert!(outlines.iter().any(|(t, _)| t == "Russia–Japan relations"));

    let r = get(&format!("{base}/"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    let html = r.text();
    assert!(html.contains("<meta name=\"viewport\""), "{html}");
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    for slug in ["russia-japan", "paged", "hostile"] {
        for ext in ["atom", "json"] {
            let href = format!("href=\"{public}topics/{slug}.{ext}\"");
            assert!(html.contains(&href), "no {href} in {html}");
        }
    }
    assert!(
        html.contains("Lavrov and Kono to meet again in June"),
        "{html}"
    );

    // --- HEAD and other methods.
    let head = request("HEAD", &atom_url, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), first.header("etag"));
    assert_eq!(request("POST", &atom_url, &[]).status, 405);
    assert_eq!(request("DELETE", &format!("{base}/"), &[]).status, 405);

    // --- Compression: each encoding decodes to the same document.
    for url in [
        atom_url.clone(),
        format!("{base}/topics/paged.json"),
        format!("{base}/topics.opml"),
        format!("{base}/"),
    ] {
        let plain = get(&url);
        assert_eq!(plain.header("content-encoding"), "");
        assert!(plain.header("vary").contains("accept-encoding"));
        let gz = request("GET", &url, &[("accept-encoding", "gzip")]);
        assert_eq!(gz.header("content-encoding"), "gzip", "{url}");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body, "{url}: gzip");
        assert!(gz.body.len() < plain.body.len());
        let br = request("GET", &url, &[("accept-encoding", "gzip, deflate, br")]);
        assert_eq!(br.header("content-encoding"), "br", "{url}");
        let mut out = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body, "{url}: brotli");
        // A strong ETag names exact bytes: one per encoding.
        let tags: HashSet<_> = [&plain, &gz, &br]
            .iter()
            .map(|r| r.header("etag"))
            .collect();
        assert_eq!(tags.len(), 3, "{url}");
    }

    // --- Paging: walking rel="next" returns every entry exactly once.
    let total = topic_rows(&site.db(), "paged") as usize;
    assert!(total >= 10, "the paged topic has {total} entries");
    let pages = total.div_ceil(2);
    let mut seen = Vec::new();
    let mut next = Some(format!("{public}topics/paged.atom"));
    let mut n = 0;
    while let Some(url) = next {
        n += 1;
        let local = url.replace(public, &format!("{base}/"));
        let r = get(&local);
        assert_eq!(r.status, 200, "{local}");
        let doc = r.text();
        if n <= 2 || n == pages {
            assert_valid_atom(&doc);
        }
        assert!(atom_ids(&doc).len() <= 2);
        seen.extend(atom_ids(&doc));
        assert_eq!(
            atom_link(&doc, "last"),
            Some(format!("{public}topics/paged.atom?page={pages}"))
        );
        assert_eq!(
            atom_link(&doc, "previous").is_some(),
            n > 1,
            "page {n}: previous"
        );
        next = atom_link(&doc, "next");
        assert!(n <= pages, "more pages than {pages}");
    }
    assert_eq!(n, pages);
    assert_eq!(seen.len(), total, "{seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total, "{seen:?}");
    // The JSON Feed walks the same way with next_url.
    let mut json_seen = Vec::new();
    let mut next = Some(format!("{public}topics/paged.json"));
    while let Some(url) = next {
        let r = get(&url.replace(public, &format!("{base}/")));
        let v = assert_valid_json_feed(&r.text());
        json_seen.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        next = v["next_url"].as_str().map(str::to_owned);
    }
    assert_eq!(json_seen, seen);
    let paged = format!("{base}/topics/paged.atom");
    assert_eq!(get(&format!("{paged}?page={}", pages + 1)).status, 404);
    assert_eq!(get(&format!("{paged}?page=0")).status, 400);
    assert_eq!(get(&format!("{paged}?page=x")).status, 400);
    assert_eq!(get(&format!("{base}/topics/nope.json")).status, 404);

    // --- Caching: max-age is the shortest poll interval of the topic's
    // feeds (extra.rss: 1s; the hostile topic reads only hostile.rss: 1h).
    assert_eq!(first.header("cache-control"), "public, max-age=1");
    assert_eq!(
        get(&format!("{base}/topics/hostile.atom")).header("cache-control"),
        "public, max-age=3600"
    );
    // Same ETag twice: 304 without a body; the same for the date.
    let etag = first.header("etag").to_owned();
    let modified = first.header("last-modified").to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    for _ in 0..2 {
        let r = request("GET", &atom_url, &[("if-none-match", &etag)]);
        assert_eq!(r.status, 304);
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), etag);
    }
    let r = request("GET", &atom_url, &[("if-modified-since", &modified)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(get(&atom_url).header("etag"), etag, "the ETag is stable");
    // Requests for an unchanged topic are answered from memory: no rebuild
    // (so no database query and no rendering), whatever the encoding.
    let rebuilds = || {
        daemon
            .log()
            .lines()
            .filter(|l| l.contains("document rebuilt") && l.contains("russia-japan"))
            .count()
    };
    let before = rebuilds();
    for enc in ["identity", "gzip", "br"] {
        for _ in 0..10 {
            assert_eq!(
                request("GET", &atom_url, &[("accept-encoding", enc)]).status,
                200
            );
            assert_eq!(
                request("GET", &atom_url, &[("if-none-match", &etag)]).status,
                304
            );
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rebuilds(), before, "a cached document was rebuilt");
    assert!(before > 0, "rebuilds are logged");

    // A poll that adds an item to the topic: 200 with a new ETag.
    std::fs::write(
        &extra,
        extra_feed(&[
            ("Armenia talks resume", "Fri, 10 May 2019 08:00:00 +0000"),
            (
                "Japan and Russia sign a fisheries deal",
                "Fri, 10 May 2019 20:00:00 +0000",
            ),
        ]),
    )
    .unwrap();
    let changed = wait_for("the new item", Duration::from_secs(20), || {
        let r = request("GET", &atom_url, &[("if-none-match", &etag)]);
        (r.status == 200).then_some(r)
    });
    assert_ne!(changed.header("etag"), etag);
    let doc = changed.text();
    assert_valid_atom(&doc);
    assert!(
        titles(&doc).contains(&"Japan and Russia sign a fisheries deal".to_owned()),
        "{doc}"
    );
    let r = request("GET", &atom_url, &[("if-modified-since", &modified)]);
    assert_eq!(r.status, 200, "Last-Modified moved on");
    drop(daemon);
}

#[test]
fn newsboat_reads_exactly_the_topic() {
    if std::process::Command::new("newsboat")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: newsboat is not installed (apt-get install newsboat, or bash scripts/test.sh)"
        );
        return;
    }
    let addr = serve_fixtures();
    let config = fixture_config(addr, &[]);
    let site = Site::new(&config);
    let daemon = Daemon::start(&site);
    let atom_url = format!("{}/topics/russia-japan.atom", daemon.base());
    let doc = wait_for("the topic to fill", Duration::from_secs(20), || {
        let r = get(&atom_url);
        (r.status == 200 && titles(&r.text()).len() == 4).then(|| r.text())
    });

    let home = tempfile::tempdir().unwrap();
    let urls = home.path().join("urls");
    std::fs::write(&urls, format!("{atom_url}\n")).unwrap();
    let conf = home.path().join("config");
    std::fs::write(&conf, "reload-threads 2\ndownload-timeout 30\n").unwrap();
    let cache = home.path().join("cache.db");
    let out = std::process::Command::new("newsboat")
        .env("HOME", home.path())
        .arg("-u")
        .arg(&urls)
        .arg("-c")
        .arg(&cache)
        .arg("-C")
        .arg(&conf)
        .args(["-x", "reload"])
        .output()
        .expect("run newsboat");
    assert!(
        out.status.success(),
        "newsboat failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let c = rusqlite::Connection::open(&cache).unwrap();
    let feed_title: String = c
        .query_row(
            "SELECT title FROM rss_feed WHERE rssurl = ?1",
            [&atom_url],
            |r| r.get(0),
        )
        .expect("newsboat stored the feed");
    assert_eq!(feed_title, "Russia–Japan relations");
    let mut got: Vec<(String, String)> = c
        .prepare("SELECT title, url FROM rss_item WHERE feedurl = ?1")
        .unwrap()
        .query_map([&atom_url], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    got.sort();
    // Exactly the topic's entries: the expected titles, each with the link
    // our feed gives it (an entry without a link has none in newsboat).
    let feed: atom_syndication::Feed = doc.parse().unwrap();
    let mut want: Vec<(String, String)> = feed
        .entries
        .iter()
        .map(|e| {
            let link = e
                .links
                .iter()
                .find(|l| l.rel == "alternate")
                .map_or(String::new(), |l| l.href.clone());
            (e.title.value.clone(), link)
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    let mut expected: Vec<String> =
        std::fs::read_to_string(fixtures().join("expected-russia-japan.txt"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
    expected.sort();
    assert_eq!(
        got.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(
        got.iter()
            .any(|(_, l)| l == "https://tass.example/politics/1002")
    );
    drop(daemon);
}

/// Start tags of ammonia-serialised HTML: (name, [(attribute, value)]).
fn elements(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let tag = regex::Regex::new(
        r"<([A-Za-z][A-Za-z0-9:-]*)((?:\s+[^\s=/>]+(?:=\x22[^\x22]*\x22)?)*)\s*/?>",
    )
    .unwrap();
    let attr = regex::Regex::new(r#"([^\s=/>]+)(?:="([^"]*)")?"#).unwrap();
    tag.captures_iter(html)
        .map(|c| {
            let attrs = attr
                .captures_iter(&c[2])
                .map(|a| {
                    let v = a.get(2).map_or("", |m| m.as_str());
                    (
                        a[1].to_ascii_lowercase(),
                        html_escape::decode_html_entities(v).into_owned(),
                    )
                })
                .collect();
            (c[1].to_ascii_lowercase(), attrs)
        })
        .collect()
}

/// Every element and attribute of a sanitised fragment is harmless.
fn assert_harmless(html: &str) {
    const ALLOWED: &[&str] = &[
        "p",
        "a",
        "img",
        "div",
        "ul",
        "ol",
        "li",
        "b",
        "i",
        "em",
        "strong",
        "br",
        "span",
        "h1",
        "h2",
        "h3",
        "blockquote",
        "pre",
        "code",
        "small",
        "mi",
    ];
    for (name, attrs) in elements(html) {
        assert!(ALLOWED.contains(&name.as_str()), "<{name}> in {html}");
        for (a, v) in attrs {
            assert!(!a.starts_with("on"), "handler {a} on <{name}> in {html}");
            assert!(a != "style", "style on <{name}> in {html}");
            if a == "href" || a == "src" {
                let u = url::Url::parse(&v).unwrap_or_else(|_| panic!("{a}={v:?} not absolute"));
                assert!(
                    matches!(u.scheme(), "http" | "https" | "mailto"),
                    "{a}={v:?} in {html}"
                );
            }
        }
    }
    let lower = html.to_lowercase();
    for bad in [
        "alert(",
        "steal()",
        "expression(",
        "javascript:",
        "vbscript:",
        "data:",
        "<script",
        "<iframe",
        "<svg",
        "<style",
        "<form",
        "<object",
        "<embed",
        "<meta",
        "<base",
        "<link",
    ] {
        assert!(!lower.contains(bad), "{bad:?} survived in {html}");
    }
}

#[test]
fn hostile_content_is_sanitised_element_by_element() {
    let addr = serve_fixtures();
    let site = Site::new(&(fixture_config(addr, &["hostile.rss"]) + MORE_TOPICS));
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = site.run(&["export", "hostile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = String::from_utf8(out.stdout).unwrap();
    assert_valid_atom(&doc);
    assert!(doc.contains("xml:lang=\"en-gb\""), "{doc}");
    let feed: atom_syndication::Feed = doc.parse().unwrap();
    assert_eq!(feed.entries.len(), 2, "{doc}");
    let one = &feed.entries[0];
    // Titles are plain text: tags gone (a script's text with them), entities decoded.
    assert_eq!(one.title.value, "Hostile one: Kuril talks & scripts");
    assert_eq!(one.source.as_ref().unwrap().title.value, "Hostile Wire");
    let content = one.content.as_ref().unwrap().value.clone().unwrap();
    assert_harmless(&content);
    for kept in [
        "Plain paragraph kept.",
        "Handlers go, text stays.",
        "css expression",
        "js link",
        r#"href="https://hostile.example/world/1""#,
        r#"href="https://hostile.example/politics/2?x=1#f""#,
        r#"src="https://hostile.example/news/img/photo.jpg""#,
        r#"width="600""#,
    ] {
        assert!(content.contains(kept), "{kept:?} lost from {content}");
    }
    for gone in [
        "pixel.gif",
        "zero.gif",
        "pixel2.gif",
        "iframe fallback",
        "object fallback",
        "evil.example",
        "password",
    ] {
        assert!(!content.contains(gone), "{gone:?} survived in {content}");
    }
    let summary = one.summary.as_ref().unwrap().value.clone();
    assert_harmless(&summary);
    assert!(summary.contains("Summary with handlers"), "{summary}");

    let two = &feed.entries[1];
    let summary = two.summary.as_ref().unwrap().value.clone();
    assert_harmless(&summary);
    assert!(
        summary.contains(r#"href="https://hostile.example/news/relative/page.html""#),
        "{summary}"
    );

    // The JSON Feed carries the same sanitised HTML; its summary is text.
    let out = site.run(&["export", "hostile", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = assert_valid_json_feed(&String::from_utf8(out.stdout).unwrap());
    for it in v["items"].as_array().unwrap() {
        assert_harmless(it["content_html"].as_str().unwrap());
        assert!(!it["title"].as_str().unwrap().contains('<'));
        if let Some(s) = it["summary"].as_str() {
            assert!(!s.contains('<') && !s.contains("alert"), "{s}");
        }
    }
    assert_eq!(
        v["items"][0]["content_html"].as_str().unwrap(),
        content,
        "Atom and JSON Feed agree"
    );
}

#[test]
fn export_all_writes_every_document_atomically() {
    let addr = serve_fixtures();
    let site = Site::new(&(fixture_config(addr, &["hostile.rss"]) + MORE_TOPICS));
    assert!(site.run(&["poll"]).status.success());
    let dir = site.dir.path().join("public");
    let out = site.run(&["export", "--all", "-o", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for slug in ["russia-japan", "paged", "hostile"] {
        let atom = std::fs::read_to_string(dir.join(format!("topics/{slug}.atom"))).unwrap();
        assert_valid_atom(&atom);
        // One document per topic: no links to pages a file cannot serve.
        assert!(atom_link(&atom, "next").is_none());
        let single = site.run(&["export", slug]);
        assert_eq!(atom.as_bytes(), &single.stdout[..], "{slug}");
        let json = std::fs::read_to_string(dir.join(format!("topics/{slug}.json"))).unwrap();
        assert_valid_json_feed(&json);
        let single = site.run(&["export", slug, "--format", "json"]);
        assert_eq!(json.as_bytes(), &single.stdout[..], "{slug}");
    }
    let opml = std::fs::read_to_string(dir.join("topics.opml")).unwrap();
    assert_eq!(assert_valid_opml(&opml).len(), 3);
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("Russia–Japan relations"));
    // Nothing half-written left behind.
    let leftovers: Vec<_> = walk(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let out = site.run(&["export"]);
    assert!(!out.status.success());
    let out = site.run(&["export", "--all"]);
    assert!(!out.status.success(), "--all needs -o DIR");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_poll_by_another_process_reaches_the_served_feed_within_seconds() {
    let feeds_dir = tempfile::tempdir().unwrap();
    copy_fixture_feeds(feeds_dir.path());
    let late = feeds_dir.path().join("late.rss");
    std::fs::write(&late, extra_feed(&[])).unwrap();
    let addr = serve_dir(feeds_dir.path().to_path_buf());
    let config = fixture_config(addr, &["late.rss"]);
    let site = Site::new(&config);
    let daemon = Daemon::start_logging(&site, "info,feedsift::daemon=debug");
    let atom_url = format!("{}/topics/russia-japan.atom", daemon.base());
    wait_for("the topic to fill", Duration::from_secs(20), || {
        (titles(&get(&atom_url).text()).len() == 4).then_some(())
    });
    site.wait_until_polled(5);
    // Settle: stories grouped, the cached feed built from all of it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(titles(&get(&atom_url).text()).len(), 4);

    // `feedsift poll` by hand while the daemon runs (it would poll again
    // only in an hour): its commit is noticed and the cached feed rebuilt.
    std::fs::write(
        &late,
        extra_feed(&[(
            "Tokyo and Moscow reopen consulates",
            "Fri, 10 May 2019 21:00:00 +0000",
        )]),
    )
    .unwrap();
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(
        "the daemon to serve the new item",
        Duration::from_secs(15),
        || {
            titles(&get(&atom_url).text())
                .contains(&"Tokyo and Moscow reopen consulates".to_owned())
                .then_some(())
        },
    );
    // It was the daemon noticing the outside commit that rebuilt the feed.
    wait_for("the daemon's log line", Duration::from_secs(5), || {
        daemon
            .log()
            .contains("the database changed outside this process")
            .then_some(())
    });
    drop(daemon);
}
