//! Feeds behind HTTP Basic authentication: `https://user:password@host/…`
//! in config.toml works, and the password appears nowhere else: not in
//! logs, `feedsift feeds`, the database, published feeds or metrics, and
//! not sent to another host a redirect points at.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::util::*;

const SECRET: &str = "s3cr%40t"; // "s3cr@t", percent-encoded in the url
const AUTH: &str = "Basic YWxpY2U6czNjckB0"; // alice:s3cr@t

/// Serves `/private.rss` to requests carrying `AUTH` (401 otherwise) and
/// `/away.rss` as a redirect to `elsewhere`. Records every request's
/// Authorization header.
fn serve(elsewhere: Option<SocketAddr>, seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let answer = move |State(seen): State<Arc<Mutex<Vec<String>>>>, req: Request| async move {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        seen.lock().unwrap().push(auth.clone());
        if req.uri().path() == "/away.rss" {
            let to = elsewhere.map_or(String::new(), |a| format!("http://{a}/private.rss"));
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        } else if auth == AUTH {
            let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Members only</title><link>http://example.org/</link><description>d</description><item><title>Private harbour report</title><link>http://example.org/p/1</link><guid>p1</guid><description>Harbour news for members.</description></item></channel></rss>";
            ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"members\"")],
            )
                .into_response()
        }
    };
    serve_app(axum::Router::new().fallback(answer).with_state(seen))
}

#[test]
fn credentials_in_a_feed_url_work_and_never_leak() {
    let other_seen = Arc::new(Mutex::new(Vec::new()));
    let other = serve(None, other_seen.clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = serve(Some(other), seen.clone());
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[polling]\nallow_private_networks = true\n\n\
         [[feed]]\nurl = \"http://alice:{SECRET}@{addr}/private.rss\"\n\n\
         [[feed]]\nurl = \"http://alice:{SECRET}@{addr}/away.rss\"\n\n\
         [topic.harbour]\nquery = \"harbour\"\n"
    );
    let site = Site::new(&config);
    let leaks = |what: &str, text: &str| {
        assert!(
            !text.contains("s3cr") && !text.contains("alice"),
            "{what} shows the credentials:\n{text}"
        );
    };

    let out = site
        .cmd()
        .arg("poll")
        .env("FEEDSIFT_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    leaks("the poll's log", &stderr(&out));
    assert!(seen.lock().unwrap().iter().any(|a| a == AUTH));
    // The redirect to another origin did not carry the password.
    assert!(
        other_seen.lock().unwrap().iter().all(|a| a.is_empty()),
        "credentials sent to another host: {:?}",
        other_seen.lock().unwrap()
    );

    let feeds = site.run(&["feeds"]);
    let listing = String::from_utf8_lossy(&feeds.stdout).into_owned();
    assert!(
        listing.contains(&format!("http://{addr}/private.rss")),
        "{listing}"
    );
    leaks("feedsift feeds", &listing);
    leaks("feedsift feeds' errors", &stderr(&feeds));

    let atom = site.run(&["export", "harbour"]);
    let atom = String::from_utf8_lossy(&atom.stdout).into_owned();
    assert!(atom.contains("Private harbour report"), "{atom}");
    leaks("the topic feed", &atom);

    let db = std::fs::read(site.db()).unwrap();
    leaks("the database", &String::from_utf8_lossy(&db));

    let daemon = Daemon::start(&site);
    for path in ["/metrics", "/topics/harbour.json", "/topics.opml", "/"] {
        let text = reqwest::blocking::get(format!("{}{path}", daemon.base()))
            .unwrap()
            .text()
            .unwrap();
        leaks(path, &text);
    }
    leaks("the daemon's log", &daemon.log());
    drop(daemon);
}
