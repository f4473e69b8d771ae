//! `feedsift feeds add URL`: a website's address finds the feed the page
//! announces (RSS, Atom or JSON Feed, relative or absolute, behind a
//! redirect), several are listed to pick from, none is a clear error, and
//! config.toml keeps every byte it had, the new `[[feed]]` appended.

use std::net::SocketAddr;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::util::*;

fn page(links: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>A site</title>\n{links}\n</head><body><p>News.</p></body></html>\n"
    )
}

fn link(ty: &str, href: &str) -> String {
    format!("<link rel=\"alternate\" type=\"{ty}\" href=\"{href}\">")
}

fn html(body: String) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// A site: pages announcing feeds, and the fixture feeds under /feeds/.
fn serve_site() -> SocketAddr {
    let feed = |name: &'static str| {
        get(move || async move {
            match std::fs::read(fixtures().join("feeds").join(name)) {
                Ok(b) => b.into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        })
    };
    let app = axum::Router::new()
        .route("/feeds/tass.rss", feed("tass.rss"))
        .route("/feeds/axar.atom", feed("axar.atom"))
        .route("/feeds/markets.json", feed("markets.json"))
        .route("/blog/feed.xml", feed("tass.rss"))
        .route(
            "/rss.html",
            get(|| async { html(page(&link("application/rss+xml", "/feeds/tass.rss"))) }),
        )
        .route(
            "/atom.html",
            get(|| async { html(page(&link("application/atom+xml", "feeds/axar.atom"))) }),
        )
        .route(
            "/json.html",
            get(|| async { html(page(&link("application/feed+json", "/feeds/markets.json"))) }),
        )
        .route(
            "/many.html",
            get(|| async {
                html(page(&format!(
                    "{}\n{}",
                    link("application/rss+xml", "/feeds/tass.rss"),
                    link("application/atom+xml", "/feeds/axar.atom")
                )))
            }),
        )
        .route(
            "/none.html",
            get(|| async { html(page("<link rel=\"stylesheet\" href=\"/s.css\">")) }),
        )
        // A page moved: its relative link is relative to where it is now.
        .route(
            "/old",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/blog/")]).into_response() }),
        )
        .route(
            "/blog/",
            get(|| async { html(page(&link("application/rss+xml", "feed.xml"))) }),
        );
    serve_app(app)
}

const CONFIG: &str = "# my feeds, hand-written\n[server]\nlisten = \"127.0.0.1:0\"  # loopback only\n\n[[feed]]\nurl = \"http://127.0.0.1:9/existing.xml\"\ntitle = \"Existing\"\n";

/// Runs `feeds add ARGS`; returns (exit code, stdout, stderr, config.toml).
fn add(site: &Site, args: &[&str]) -> (Option<i32>, String, String, String) {
    let mut all = vec!["feeds", "add"];
    all.extend_from_slice(args);
    let out = site.run(&all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
        std::fs::read_to_string(site.config()).unwrap(),
    )
}

#[test]
fn a_website_address_finds_the_feed_it_announces() {
    let addr = serve_site();
    for (path, feed) in [
        ("rss.html", "feeds/tass.rss"),
        ("atom.html", "feeds/axar.atom"),
        ("json.html", "feeds/markets.json"),
        ("old", "blog/feed.xml"),
    ] {
        let site = Site::new(CONFIG);
        let (code, out, err, config) = add(&site, &[&format!("http://{addr}/{path}")]);
        assert_eq!(code, Some(0), "{path}: {err}\n{out}");
        let url = format!("http://{addr}/{feed}");
        assert!(out.contains(&format!("added {url}")), "{path}: {out}");
        // Every byte that was there stays; one table is appended.
        let rest = config.strip_prefix(CONFIG).unwrap_or_else(|| {
            panic!("{path}: config.toml changed before the new table:\n{config}")
        });
        assert!(
            rest.contains("[[feed]]") && rest.contains(&format!("url = \"{url}\"")),
            "{rest}"
        );
        assert_eq!(rest.matches("[[feed]]").count(), 1, "{rest}");
        assert!(site.run(&["check"]).status.success(), "{config}");
        // Adding it again changes nothing.
        let (code, out, _, again) = add(&site, &[&format!("http://{addr}/{path}")]);
        assert_eq!(code, Some(0));
        assert!(out.contains("already in"), "{out}");
        assert_eq!(again, config);
    }
}

#[test]
fn a_feed_address_is_added_as_it_is_with_its_title() {
    let addr = serve_site();
    let site = Site::new(CONFIG);
    let url = format!("http://{addr}/feeds/tass.rss");
    let (code, out, err, config) = add(&site, &[&url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("items") && out.contains("TASS"), "{out}");
    assert!(config.contains("title = \"TASS"), "{config}");
}

#[test]
fn several_feeds_are_listed_to_pick_from() {
    let addr = serve_site();
    let site = Site::new(CONFIG);
    let page = format!("http://{addr}/many.html");
    let (code, out, err, config) = add(&site, &[&page]);
    assert_eq!(code, Some(1), "{out}");
    assert!(err.contains("--pick"), "{err}");
    assert!(out.contains("1. ") && out.contains("2. "), "{out}");
    assert_eq!(config, CONFIG, "nothing written before a choice");
    let (code, _, err, config) = add(&site, &[&page, "--pick", "2"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        config.contains(&format!("http://{addr}/feeds/axar.atom")),
        "{config}"
    );
    assert!(!config.contains("tass.rss"), "{config}");
}

#[test]
fn a_page_without_a_feed_is_a_clear_error_and_changes_nothing() {
    let addr = serve_site();
    let site = Site::new(CONFIG);
    let (code, _, err, config) = add(&site, &[&format!("http://{addr}/none.html")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("announces no feed"), "{err}");
    assert_eq!(config, CONFIG);
    let (code, _, err, _) = add(&site, &["ftp://example.org/feed"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not an http(s) address"), "{err}");
}
