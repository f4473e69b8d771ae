//! The HTTP `Content-Type` charset rules (RFC 3023, as feedparser's
//! encoding tests encode them), tested with the headers actually served:
//! each document is served on 127.0.0.1:0 with its own header, polled by
//! the real binary, and its stored title compared with what a reader sees.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::util::*;

/// One served document: its path, Content-Type, body and the item title
/// it must be stored with.
struct Case {
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    title: &'static str,
    rule: &'static str,
}

/// An RSS document with one item; the item's link is unique to `path`, so
/// no two cases share an item.
fn rss(path: &str, decl_encoding: Option<&str>, title: &[u8]) -> Vec<u8> {
    let decl = match decl_encoding {
        Some(e) => format!("<?xml version=\"1.0\" encoding=\"{e}\"?>\n"),
        None => String::new(),
    };
    let head = format!(
        "<rss version=\"2.0\"><channel><title>Charsets</title><link>https://cs.example/</link>\
         <item><guid>{path}</guid><link>https://cs.example/{path}</link><title>"
    );
    [
        decl.as_bytes(),
        head.as_bytes(),
        title,
        b"</title></item></channel></rss>",
    ]
    .concat()
}

fn cases() -> Vec<Case> {
    let ru = "Москва и Токио";
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(ru);
    let (koi8, _, _) = encoding_rs::KOI8_R.encode(ru);
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode("Café crème");
    let mut utf16 = vec![0xFF, 0xFE];
    for u in String::from_utf8(rss("bom-beats-header", Some("utf-16"), "Япония".as_bytes()))
        .expect("utf-8")
        .encode_utf16()
    {
        utf16.extend(u.to_le_bytes());
    }
    vec![
        Case {
            path: "text-xml-ascii",
            content_type: "text/xml",
            // The declaration names an encoding the bytes cannot be in;
            // text/xml without a charset is us-ascii and does not read it.
            body: rss("text-xml-ascii", Some("utf-16"), b"Plain ASCII title"),
            title: "Plain ASCII title",
            rule: "text/xml without charset is us-ascii",
        },
        Case {
            path: "text-xml-non-ascii",
            content_type: "text/xml",
            body: rss("text-xml-non-ascii", Some("windows-1251"), &cp1251),
            title: ru,
            rule: "text/xml without charset on non-ASCII bytes falls back to the declaration",
        },
        Case {
            path: "application-xml",
            content_type: "application/xml",
            body: rss("application-xml", Some("windows-1251"), &cp1251),
            title: ru,
            rule: "application/xml defers to the document",
        },
        Case {
            path: "application-rss-undeclared",
            content_type: "application/rss+xml",
            body: rss(
                "application-rss-undeclared",
                None,
                "Москва и Токио".as_bytes(),
            ),
            title: ru,
            rule: "application/*+xml with no declaration is UTF-8",
        },
        Case {
            path: "charset-overrides-prolog",
            content_type: "application/rss+xml; charset=KOI8-R",
            body: rss("charset-overrides-prolog", Some("windows-1251"), &koi8),
            title: ru,
            rule: "a charset parameter overrides the XML declaration",
        },
        Case {
            path: "text-xml-charset",
            content_type: "text/xml; charset=\"windows-1252\"",
            body: rss("text-xml-charset", None, &latin1),
            title: "Café crème",
            rule: "text/xml with a (quoted) charset uses it",
        },
        Case {
            path: "bogus-charset",
            content_type: "text/xml; charset=no-such-charset",
            body: rss("bogus-charset", Some("windows-1251"), &cp1251),
            title: ru,
            rule: "an unknown charset falls back to the declaration",
        },
        Case {
            path: "impossible-charset",
            content_type: "application/xml; charset=utf-16",
            body: rss("impossible-charset", Some("KOI8-R"), &koi8),
            title: ru,
            rule: "a charset the bytes cannot be in falls back to the declaration",
        },
        Case {
            path: "replacement-charset",
            content_type: "application/xml; charset=iso-2022-kr",
            body: rss("replacement-charset", None, "Москва и Токио".as_bytes()),
            title: ru,
            rule: "a charset decoders refuse (replacement) falls back",
        },
        Case {
            path: "bom-beats-header",
            content_type: "text/xml; charset=iso-8859-1",
            body: utf16,
            title: "Япония",
            rule: "a byte order mark outranks the header",
        },
    ]
}

fn serve(cases: &[Case]) -> SocketAddr {
    let table: Arc<HashMap<String, (String, Vec<u8>)>> = Arc::new(
        cases
            .iter()
            .map(|c| {
                (
                    c.path.to_owned(),
                    (c.content_type.to_owned(), c.body.clone()),
                )
            })
            .collect(),
    );
    serve_app(axum::Router::new().route(
        "/{name}",
        axum::routing::get(move |UrlPath(name): UrlPath<String>| {
            let table = table.clone();
            async move {
                match table.get(&name) {
                    Some((ct, body)) => {
                        ([(header::CONTENT_TYPE, ct.clone())], body.clone()).into_response()
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    ))
}

#[test]
fn content_type_charset_rules_are_followed_as_served() {
    let cases = cases();
    let addr = serve(&cases);
    let site = Site::new(&feeds_config(
        cases.iter().map(|c| format!("http://{addr}/{}", c.path)),
        "",
    ));
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "poll failed:\n{}", stderr(&out));

    let conn = rusqlite::Connection::open(site.db()).expect("open db");
    let mut failures = Vec::new();
    for c in &cases {
        let url = format!("http://{addr}/{}", c.path);
        let titles: Vec<String> = conn
            .prepare(
                "SELECT i.title FROM items i JOIN item_sources s ON s.item_id = i.id
                 JOIN feeds f ON f.id = s.feed_id WHERE f.url = ?1",
            )
            .expect("prepare")
            .query_map([&url], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        if titles != [c.title] {
            failures.push(format!(
                "{} ({}; served as {:?}): stored {titles:?}, want [{:?}]",
                c.path, c.rule, c.content_type, c.title
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
