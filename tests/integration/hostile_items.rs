//! One hostile item — a megabyte of 100,000 nested `<div>`s, which takes
//! an HTML sanitiser tens of seconds unchecked — must not hold up a poll,
//! nor the topic feed that republishes it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::header;

use crate::util::*;

fn rss(items: &[(String, String)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>http://example.org/</link><description>d</description>",
    );
    for (i, (title, html)) in items.iter().enumerate() {
        s.push_str(&format!(
            "<item><title>{title}</title><link>http://example.org/{i}</link><guid>g{i}</guid><description><![CDATA[{html}]]></description></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// Serves `/calm.rss` and `/hostile.rss`.
fn serve() -> SocketAddr {
    let normal: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("Harbour report {i}"),
                format!("<p>Quay {i} reopened.</p>"),
            )
        })
        .collect();
    let mut hostile = normal.clone();
    hostile.push((
        "Harbour report nested".into(),
        format!(
            "{}harbour{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        ),
    ));
    let calm = rss(&normal);
    let hostile = rss(&hostile);
    assert!(hostile.len() > 1_000_000);
    let feed = |body: String| {
        let body = bytes::Bytes::from(body);
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/rss+xml")], body) }
        })
    };
    serve_app(
        axum::Router::new()
            .route("/calm.rss", feed(calm))
            .route("/hostile.rss", feed(hostile)),
    )
}

fn site(addr: SocketAddr, feed: &str) -> Site {
    Site::new(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[polling]\nallow_private_networks = true\n\n\
         [[feed]]\nurl = \"http://{addr}/{feed}\"\n\n[topic.harbour]\nquery = \"harbour\"\ngroup = \"item\"\n"
    ))
}

fn timed(site: &Site, args: &[&str]) -> (Duration, std::process::Output) {
    let t = Instant::now();
    let out = site.run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    (t.elapsed(), out)
}

/// The fastest of three runs, the one least slowed by the other tests of
/// the binary running alongside, and the last run's output.
fn best_of_3(
    mut run: impl FnMut() -> (Duration, std::process::Output),
) -> (Duration, std::process::Output) {
    let (mut best, mut out) = run();
    for _ in 0..2 {
        let (took, o) = run();
        (best, out) = (best.min(took), o);
    }
    (best, out)
}

/// The first poll of `feed` into a fresh site, timed as `best_of_3`; the
/// site polled last.
fn first_poll(addr: SocketAddr, feed: &str) -> (Duration, Site) {
    let mut last = None;
    let (took, _) = best_of_3(|| {
        let s = site(addr, feed);
        let run = timed(&s, &["poll"]);
        last = Some(s);
        run
    });
    (took, last.expect("polled"))
}

#[test]
fn a_hostile_item_delays_neither_the_poll_nor_the_topic_feed_by_a_second() {
    let addr = serve();
    let (calm_poll, calm) = first_poll(addr, "calm.rss");
    let (hostile_poll, hostile) = first_poll(addr, "hostile.rss");
    assert!(
        hostile_poll < calm_poll + Duration::from_secs(1),
        "poll: {calm_poll:?} calm, {hostile_poll:?} with the hostile item"
    );
    let (calm_export, _) = best_of_3(|| timed(&calm, &["export", "harbour"]));
    let (hostile_export, out) = best_of_3(|| timed(&hostile, &["export", "harbour"]));
    let atom = String::from_utf8_lossy(&out.stdout);
    // The item is kept and published, its nesting flattened.
    assert!(
        atom.contains("Harbour report nested"),
        "{}",
        &atom[..atom.len().min(2000)]
    );
    assert!(atom.matches("&lt;div&gt;").count() < 1000);
    assert!(
        hostile_export < calm_export + Duration::from_secs(1),
        "export: {calm_export:?} calm, {hostile_export:?} with the hostile item"
    );
}
