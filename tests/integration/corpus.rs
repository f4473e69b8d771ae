//! The real-world corpus: every file in tests/fixtures/corpus is served on
//! 127.0.0.1:0 and polled by the real binary into a fresh database, then
//! checked against tests/fixtures/corpus/expected.toml: stored with the
//! recorded number of items and fields (title as a reader sees it, absolute
//! link, date or "first_seen"), or refused with the recorded reason. Nothing
//! may panic. `cargo test --test integration corpus::every_corpus --
//! --nocapture` prints the counts.
//!
//! The files are made by scripts/gen_corpus.py; add a shape there and an
//! expectation here.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::util::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    feed: Vec<FeedCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedCase {
    file: String,
    /// What publisher habit the file stands for.
    shape: String,
    /// Stored with this many items...
    items: Option<usize>,
    /// ...or refused with an error containing this.
    refused: Option<String>,
    /// The status a read feed must have: "ok" unless said otherwise
    /// ("malformed" when repaired, "no-items" when it has none).
    status: Option<String>,
    /// A piece of why it has that status (the feed's recorded note).
    note: Option<String>,
    #[serde(default)]
    item: Vec<ItemCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemCase {
    /// The title as published (plain text); the item is found by it.
    title: String,
    /// Absolute; `{base}` stands for the corpus server's `http://host:port`.
    link: Option<String>,
    /// RFC 3339, or "first_seen" when the item must sort by when it was
    /// first seen (no date, a placeholder, or one in the future).
    date: Option<String>,
    author: Option<String>,
    /// A substring of the summary or content.
    text: Option<String>,
}

struct StoredItem {
    title: String,
    link: Option<String>,
    author: Option<String>,
    body: String,
    first_seen: i64,
    sort_time: i64,
}

fn corpus_dir() -> std::path::PathBuf {
    fixtures().join("corpus")
}

#[test]
fn every_corpus_file_is_stored_with_sensible_fields_or_refused_with_a_reason() {
    let expected: Expected = toml::from_str(
        &std::fs::read_to_string(corpus_dir().join("expected.toml")).expect("read expected.toml"),
    )
    .expect("expected.toml parses");

    // Every file has an expectation and every expectation a file.
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("read corpus dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "expected.toml")
        .collect();
    let listed: BTreeSet<String> = expected.feed.iter().map(|f| f.file.clone()).collect();
    assert_eq!(on_disk, listed, "corpus files and expected.toml disagree");
    assert_eq!(listed.len(), expected.feed.len(), "a file is listed twice");

    let addr = serve_dir(corpus_dir());
    let base = format!("http://{addr}");
    let site = Site::new(&feeds_config(
        expected.feed.iter().map(|f| format!("{base}/{}", f.file)),
        r#"
[topic.everything]
title = "Everything"
query = '/./'
limit = 1000
"#,
    ));

    let out = site.run(&["poll"]);
    let err = stderr(&out);
    assert!(out.status.success(), "poll failed:\n{err}");
    assert!(!err.contains("panicked"), "a panic:\n{err}");

    let conn = rusqlite::Connection::open(site.db()).expect("open db");
    let (mut stored, mut refused, mut failures) = (0, 0, Vec::new());
    for case in &expected.feed {
        let url = format!("{base}/{}", case.file);
        let (status, error): (Option<String>, Option<String>) = conn
            .query_row(
                "SELECT last_status, last_error FROM feeds WHERE url = ?1",
                [&url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("{}: no feeds row: {e}", case.file));
        let items = stored_items(&conn, &url);
        let mut fail =
            |what: String| failures.push(format!("{} ({}): {what}", case.file, case.shape));
        match (&case.items, &case.refused) {
            (Some(n), None) => {
                // A feed with no items is never "ok".
                let want_status =
                    case.status
                        .as_deref()
                        .unwrap_or(if *n == 0 { "no-items" } else { "ok" });
                let note_ok = match (&case.note, &error) {
                    (Some(want), Some(e)) => e.contains(want.as_str()),
                    (Some(_), None) => false,
                    // An ok feed has nothing to explain.
                    (None, e) => want_status != "ok" || e.is_none(),
                };
                if status.as_deref() != Some(want_status) || !note_ok || items.len() != *n {
                    fail(format!(
                        "want {n} items, status {want_status}{}, got {} (status {status:?}, error {error:?})",
                        case.note
                            .as_ref()
                            .map_or(String::new(), |w| format!(" saying {w:?}")),
                        items.len()
                    ));
                    continue;
                }
                stored += 1;
                for want in &case.item {
                    let Some(got) = items.iter().find(|i| i.title == want.title) else {
                        let titles: Vec<_> = items.iter().map(|i| i.title.as_str()).collect();
                        fail(format!("no item titled {:?} among {titles:?}", want.title));
                        continue;
                    };
                    check_item(want, got, &base, &mut fail);
                }
            }
            (None, Some(reason)) => {
                let reason = reason.replace("{base}", &base);
                let e = error.unwrap_or_default();
                if !items.is_empty() || !e.contains(&reason) {
                    fail(format!(
                        "want refused with {reason:?}, got {} items, status {status:?}, error {e:?}",
                        items.len()
                    ));
                    continue;
                }
                refused += 1;
            }
            _ => fail("expected.toml must give exactly one of items and refused".into()),
        }
    }
    println!(
        "corpus: {} files, {stored} stored as expected, {refused} refused as expected, {} wrong",
        expected.feed.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // What was stored publishes, and a second poll of the same bytes stores
    // nothing new.
    let out = site.run(&["export", "everything"]);
    assert!(out.status.success(), "export: {}", stderr(&out));
    let before: i64 = conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .expect("count");
    let out = site.run(&["poll"]);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let after: i64 = conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .expect("count");
    assert_eq!(before, after, "a second poll of the corpus added items");
}

fn stored_items(conn: &rusqlite::Connection, url: &str) -> Vec<StoredItem> {
    let mut st = conn
        .prepare(
            "SELECT i.title, i.link, i.author, coalesce(i.summary, '') || '\n' || coalesce(i.content, ''),
                    i.first_seen, i.sort_time
             FROM items i JOIN item_sources s ON s.item_id = i.id JOIN feeds f ON f.id = s.feed_id
             WHERE f.url = ?1 ORDER BY i.id",
        )
        .expect("prepare");
    st.query_map([url], |r| {
        Ok(StoredItem {
            title: feedsift::sanitize::plain_text(&r.get::<_, String>(0)?),
            link: r.get(1)?,
            author: r.get(2)?,
            body: r.get(3)?,
            first_seen: r.get(4)?,
            sort_time: r.get(5)?,
        })
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn check_item(want: &ItemCase, got: &StoredItem, base: &str, fail: &mut impl FnMut(String)) {
    let t = &want.title;
    if let Some(link) = &want.link {
        let link = link.replace("{base}", base);
        if got.link.as_deref() != Some(link.as_str()) {
            fail(format!("{t:?}: link {:?}, want {link:?}", got.link));
        }
    }
    match want.date.as_deref() {
        None => {}
        Some("first_seen") if got.sort_time != got.first_seen => {
            fail(format!(
                "{t:?}: sorts at {}, want its first-seen time {}",
                got.sort_time, got.first_seen
            ));
        }
        Some("first_seen") => {}
        Some(d) => match DateTime::parse_from_rfc3339(d) {
            Ok(d) => {
                let want_ts = d.with_timezone(&Utc).timestamp();
                if got.sort_time != want_ts {
                    let shown = DateTime::from_timestamp(got.sort_time, 0);
                    fail(format!("{t:?}: date {shown:?}, want {d}"));
                }
            }
            Err(e) => fail(format!("{t:?}: expected.toml date {d:?}: {e}")),
        },
    }
    if let Some(a) = &want.author
        && got.author.as_deref() != Some(a.as_str())
    {
        fail(format!("{t:?}: author {:?}, want {a:?}", got.author));
    }
    if let Some(s) = &want.text
        && !got.body.contains(s.as_str())
    {
        fail(format!("{t:?}: summary/content lacks {s:?}"));
    }
}
