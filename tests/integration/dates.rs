//! Bad dates never move entries: a feed whose items have no date, a
//! placeholder date, a date in the future or words for a date is polled,
//! polled again seconds later (same items, re-parsed because the channel's
//! build date changed), and the topic feed's order and atom:updated values
//! are the same both times. Undated items keep their first-seen time.

use crate::util::*;

const ITEMS: &str = r#"
<item><title>Dated lighthouse story</title><link>https://d.example/1</link><guid>d-1</guid><pubDate>Mon, 04 Mar 2024 10:15:00 GMT</pubDate></item>
<item><title>Undated harbour story</title><link>https://d.example/2</link><guid>d-2</guid></item>
<item><title>Future railway story</title><link>https://d.example/3</link><guid>d-3</guid><pubDate>Thu, 01 Jan 2099 00:00:00 GMT</pubDate></item>
<item><title>Placeholder bridge story</title><link>https://d.example/4</link><guid>d-4</guid><pubDate>0000-00-00 00:00:00</pubDate></item>
<item><title>Wordy airport story</title><link>https://d.example/5</link><guid>d-5</guid><pubDate>sometime last week</pubDate></item>
<item><title>Moscow time museum story</title><link>https://d.example/6</link><guid>d-6</guid><pubDate>Tue, 05 Mar 24 12:00:00 MSK</pubDate></item>
"#;

fn feed(build_date: &str, items: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title><link>https://d.example/</link>
<lastBuildDate>{build_date}</lastBuildDate>{items}</channel></rss>"#
    )
}

/// (entry id, atom:updated) in document order.
fn entries(site: &Site) -> Vec<(String, String)> {
    let out = site.run(&["export", "all"]);
    assert!(out.status.success(), "export: {}", stderr(&out));
    let atom = String::from_utf8(out.stdout).expect("utf-8");
    assert_valid_atom(&atom);
    let feed: atom_syndication::Feed = atom.parse().expect("atom");
    feed.entries
        .iter()
        .map(|e| (e.id.clone(), e.updated.to_rfc3339()))
        .collect()
}

#[test]
fn bad_dates_keep_their_place_across_polls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dates.rss");
    std::fs::write(&file, feed("Mon, 04 Mar 2024 11:00:00 GMT", ITEMS)).expect("write");
    let addr = serve_dir(dir.path().to_path_buf());
    let site = Site::new(&feeds_config(
        [format!("http://{addr}/dates.rss")],
        "[topic.all]\ntitle = \"All\"\nquery = 'story'\ngroup = \"item\"\n",
    ));

    let out = site.run(&["poll"]);
    assert!(out.status.success(), "poll: {}", stderr(&out));
    let first = entries(&site);
    assert_eq!(first.len(), 6, "{first:?}");

    // Seconds later, the same items (in another order) under a new build
    // date, so the document is parsed again rather than skipped as
    // unchanged. "now" must not leak into any entry.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let reordered: Vec<&str> = ITEMS.lines().rev().collect();
    std::fs::write(
        &file,
        feed("Mon, 04 Mar 2024 12:00:00 GMT", &reordered.join("\n")),
    )
    .expect("rewrite");
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "poll: {}", stderr(&out));
    let err = stderr(&out);
    let conn = rusqlite::Connection::open(site.db()).expect("db");
    let status: String = conn
        .query_row("SELECT last_status FROM feeds", [], |r| r.get(0))
        .expect("status");
    assert_eq!(
        status, "ok",
        "the second poll must parse the feed again: {err}"
    );
    let second = entries(&site);
    assert_eq!(first, second, "entries moved or changed their dates");

    // The undated, placeholder-dated, future-dated and unreadable items sort
    // by when they were first seen; the two real dates are kept.
    let rows: Vec<(String, i64, i64)> = conn
        .prepare("SELECT title, first_seen, sort_time FROM items ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (title, first_seen, sort_time) in &rows {
        let dated = title.starts_with("Dated") || title.starts_with("Moscow");
        assert_eq!(
            sort_time == first_seen,
            !dated,
            "{title}: sort_time {sort_time}, first_seen {first_seen}"
        );
    }
    let moscow = rows
        .iter()
        .find(|r| r.0.starts_with("Moscow"))
        .expect("the MSK item");
    assert_eq!(
        chrono::DateTime::from_timestamp(moscow.2, 0).map(|d| d.to_rfc3339()),
        Some("2024-03-05T09:00:00+00:00".to_owned())
    );
}
