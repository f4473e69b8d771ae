//! The PostgreSQL backend against a real server: the same fixture feeds
//! polled into SQLite and into PostgreSQL (`[storage] url`) must give the
//! same documents, stories, listings and pruning. Each test has a
//! database of its own (`util::PgDb`); without a server at
//! 127.0.0.1:5432 the tests say SKIPPED and pass.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use feedsift::config::Config;
use feedsift::daemon;
use feedsift::store::Store;
use tokio_util::sync::CancellationToken;

use crate::util::*;

/// `text` with every time from `since` on written as NOW: the two backends
/// poll seconds apart, so the times a poll stamps (first seen, last
/// success, a topic's definition) differ; everything else must not.
fn normalized(text: &str, since: NaiveDateTime) -> String {
    let stamp = regex::Regex::new(
        r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?",
    )
    .unwrap();
    // Minutes are the coarsest a listing shows.
    let since = since - chrono::Duration::minutes(2);
    stamp
        .replace_all(text, |c: &regex::Captures| {
            let at =
                NaiveDateTime::parse_from_str(&format!("{} {}", &c[1], &c[2]), "%Y-%m-%d %H:%M");
            match at {
                Ok(t) if t >= since => "NOW".to_owned(),
                _ => c[0].to_owned(),
            }
        })
        // A feed's next poll has a random spread of its own.
        .lines()
        .filter(|l| !l.trim_start().starts_with("next poll:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts `sqlite` and `postgres` are the same text, naming the first
/// line where they are not (whole documents are too long to compare by
/// eye).
#[track_caller]
fn assert_same(sqlite: &str, postgres: &str, what: &str) {
    if sqlite == postgres {
        return;
    }
    let (a, b): (Vec<_>, Vec<_>) = (sqlite.lines().collect(), postgres.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{what} differs from line {}:\n  sqlite:   {:?}\n  postgres: {:?}\n(sqlite {} lines, postgres {})",
        at + 1,
        a.get(at),
        b.get(at),
        a.len(),
        b.len()
    );
}

fn output(site: &Site, args: &[&str]) -> String {
    site.output(args)
}

/// The fixture config without markets.json, whose one item is also in
/// tass.rss: which copy is stored first (and so is the item's text and
/// source) depends on which fetch ends first, on either backend. Tests
/// that compare backends add it in a second poll, when the order is known.
fn config_without_markets(addr: std::net::SocketAddr, extra: &[&str]) -> String {
    fixture_config(addr, extra).replace(
        &format!("[[feed]]\nurl = \"http://{addr}/markets.json\"\n\n"),
        "",
    )
}

fn sqlite_count(site: &Site, sql: &str) -> i64 {
    rusqlite::Connection::open(site.db())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_site_on_postgres_publishes_what_the_same_site_on_sqlite_does() {
    let Some(db) = PgDb::create("a_site_on_postgres_publishes_what_the_same_site_on_sqlite_does")
    else {
        return;
    };
    let since = Utc::now().naive_utc();
    let addr = serve_fixtures();
    let config = config_without_markets(addr, &["broken.xml"]);
    assert!(!config.contains("markets.json"));
    let lite = Site::new(&config);
    let pg = Site::with_storage_url(&config, &db.url);
    let both = [&lite, &pg];

    // Before any poll, the listing names the configured feeds from both.
    let [a, b] = both.map(|s| normalized(&output(s, &["feeds"]), since));
    assert_same(&a, &b, "the listing");
    assert!(b.contains("never"), "{b}");

    for s in both {
        let out = s.run(&["poll"]);
        assert!(out.status.success(), "poll failed:\n{}", stderr(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM items"), 9);
    assert_eq!(sqlite_count(&lite, "SELECT count(*) FROM items"), 9);

    // The topic, byte for byte, in both formats, and as items.
    let [a, b] = both.map(|s| output(s, &["export", "russia-japan"]));
    assert_valid_atom(&b);
    assert_eq!(titles(&b).len(), 4, "{b}");
    assert_same(&normalized(&a, since), &normalized(&b, since), "the export");
    let [a, b] = both.map(|s| output(s, &["export", "russia-japan", "--format", "json"]));
    assert_same(&normalized(&a, since), &normalized(&b, since), "the export");

    // The same stories, with the same numbers, members and leads.
    let stories = db.count("SELECT count(*) FROM stories");
    assert_eq!(stories, sqlite_count(&lite, "SELECT count(*) FROM stories"));
    assert!(stories >= 4, "{stories} stories");
    for n in 1..=stories {
        let n = n.to_string();
        let [a, b] = both.map(|s| output(s, &["story", &n, "--why"]));
        assert_same(
            &normalized(&a, since),
            &normalized(&b, since),
            &format!("story {n}"),
        );
    }
    // Story membership as sets of item uids, besides the printed form.
    let members = |rows: Vec<(i64, String)>| {
        let mut by_story = std::collections::BTreeMap::<i64, Vec<String>>::new();
        for (story, uid) in rows {
            by_story.entry(story).or_default().push(uid);
        }
        by_story
    };
    let sql = "SELECT story_id, uid FROM items WHERE story_id IS NOT NULL ORDER BY story_id, uid";
    let on_pg = db
        .client()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let c = rusqlite::Connection::open(lite.db()).unwrap();
    let on_sqlite = c
        .prepare(sql)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(members(on_pg), members(on_sqlite));

    // Listings: feeds (the broken one with its error) and topic test.
    let [a, b] = both.map(|s| normalized(&output(s, &["feeds"]), since));
    assert_same(&a, &b, "the listing");
    assert!(b.contains("not a feed"), "{b}");
    let [a, b] = both.map(|s| {
        normalized(
            &output(s, &["topic", "test", "russia-japan", "--since", "10000d"]),
            since,
        )
    });
    assert_same(&a, &b, "the listing");
    assert!(b.contains("Kremlin comments on Tokyo visit"), "{b}");
    let [a, b] = both.map(|s| {
        normalized(
            &output(
                s,
                &["topic", "test", "--query", "Hockey", "--since", "10000d"],
            ),
            since,
        )
    });
    assert_same(&a, &b, "the listing");

    // markets.json joins: its copy of a TASS item (same link) becomes a
    // second source of the stored item, the rest are new.
    let with_markets = fixture_config(addr, &["broken.xml"]);
    std::fs::write(lite.config(), &with_markets).unwrap();
    std::fs::write(
        pg.config(),
        format!("[storage]\nurl = \"{}\"\n{with_markets}", db.url),
    )
    .unwrap();
    for s in both {
        let out = s.run(&["poll"]);
        assert!(out.status.success(), "poll failed:\n{}", stderr(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM items"), 11);
    assert_eq!(db.count("SELECT count(*) FROM item_sources"), 12);
    assert_eq!(sqlite_count(&lite, "SELECT count(*) FROM items"), 11);
    let [a, b] = both.map(|s| output(s, &["export", "russia-japan"]));
    assert_same(&normalized(&a, since), &normalized(&b, since), "the export");
    let atom = b;
    let stories = db.count("SELECT count(*) FROM stories");
    assert_eq!(stories, sqlite_count(&lite, "SELECT count(*) FROM stories"));

    // Another poll finds every entry known: nothing is added anywhere.
    let out = pg.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("feeds_failed=1 new_items=0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), 11);
    assert_eq!(db.count("SELECT count(*) FROM item_sources"), 12);
    assert_eq!(db.count("SELECT count(*) FROM stories"), stories);
    assert_eq!(
        normalized(&output(&pg, &["export", "russia-japan"]), since),
        normalized(&atom, since)
    );
}

/// The retention test's config: topics keep one entry each, items older
/// than 30 days go.
fn retention_config(addr: std::net::SocketAddr) -> String {
    crate::retention::with_retention(config_without_markets(addr, &[]))
}

/// Prunes `site`'s store as the daemon does.
async fn prune(site: &Site) -> daemon::PruneSummary {
    let cfg = Config::load(&site.config()).unwrap();
    let store = Store::open(&cfg.storage, cfg.stories).unwrap();
    store
        .set_topics(Arc::new(cfg.topics.clone()))
        .await
        .unwrap();
    let pruned = daemon::prune(&store, cfg.storage.retention, &CancellationToken::new())
        .await
        .unwrap();
    store.close().await;
    pruned
}

/// Sync, with a runtime for the store calls only: the `postgres` client
/// this test reads the database with must not run on an async thread.
#[test]
fn pruning_on_postgres_keeps_and_removes_what_it_does_on_sqlite() {
    let Some(db) = PgDb::create("pruning_on_postgres_keeps_and_removes_what_it_does_on_sqlite")
    else {
        return;
    };
    let addr = serve_fixtures();
    let config = retention_config(addr);
    let lite = Site::new(&config);
    // The url goes in the [storage] table the config already has.
    let pg =
        Site::new(&config.replace("[storage]\n", &format!("[storage]\nurl = \"{}\"\n", db.url)));
    for s in [&lite, &pg] {
        let out = s.run(&["poll"]);
        assert!(out.status.success(), "poll failed:\n{}", stderr(&out));
    }
    // Everything polled is now 100 days old, beyond the 30 days kept.
    let age = "UPDATE items SET first_seen = first_seen - 100 * 86400";
    db.client().execute(age, &[]).unwrap();
    rusqlite::Connection::open(lite.db())
        .unwrap()
        .execute(age, [])
        .unwrap();
    let exports = |s: &Site| {
        [
            output(s, &["export", "russia-japan"]),
            output(s, &["export", "sport"]),
        ]
    };
    let before = [exports(&lite), exports(&pg)];

    let rt = tokio::runtime::Runtime::new().unwrap();
    let on_sqlite = rt.block_on(prune(&lite));
    let on_pg = rt.block_on(prune(&pg));
    assert!(on_pg.items > 0, "{on_pg:?}");
    assert_eq!(
        (on_pg.items, on_pg.stories),
        (on_sqlite.items, on_sqlite.stories)
    );
    // A second run finds nothing more.
    assert_eq!(rt.block_on(prune(&pg)).items, 0);

    // Topic feeds read the same after as before, on both.
    assert_eq!([exports(&lite), exports(&pg)], before);
    // The same items are left, and no row refers to a pruned one.
    let sql = "SELECT uid FROM items ORDER BY uid";
    let left_pg: Vec<String> = db
        .client()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let c = rusqlite::Connection::open(lite.db()).unwrap();
    let left_sqlite: Vec<String> = c
        .prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left_pg, left_sqlite);
    assert!(left_pg.len() < 11, "{left_pg:?}");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM stories s WHERE NOT EXISTS
               (SELECT 1 FROM items i WHERE i.id = s.lead_item_id AND i.story_id = s.id)"
        ),
        0
    );
}

#[test]
fn run_serves_a_topic_from_postgres_and_stops_cleanly() {
    let Some(db) = PgDb::create("run_serves_a_topic_from_postgres_and_stops_cleanly") else {
        return;
    };
    let since = Utc::now().naive_utc();
    let addr = serve_fixtures();
    // Two stories a page: the four stories make two pages.
    let config = config_without_markets(addr, &[])
        .replace("\"peace treaty\"'\n", "\"peace treaty\"'\nlimit = 2\n");
    assert!(config.contains("limit = 2"));
    let pg = Site::with_storage_url(&config, &db.url);
    let mut daemon = Daemon::start(&pg);
    // Every feed stored and every item grouped (the daemon groups while
    // idle), then the topic as served.
    wait_for(
        "every feed polled and grouped",
        Duration::from_secs(20),
        || {
            let polled = db.count("SELECT count(*) FROM feeds WHERE last_success IS NOT NULL");
            let waiting = db.count("SELECT count(*) FROM items WHERE story_id IS NULL");
            (polled == 3 && waiting == 0).then_some(())
        },
    );
    let url = format!("{}/topics/russia-japan.atom", daemon.base());
    let served = reqwest::blocking::get(&url).unwrap().text().unwrap();
    let page2 = reqwest::blocking::get(format!("{url}?page=2"))
        .unwrap()
        .text()
        .unwrap();
    // Four stories (Axar.az's copy joins the TASS original), two a page,
    // none on both.
    let (first, second) = (titles(&served), titles(&page2));
    assert_eq!((first.len(), second.len()), (2, 2), "{served}\n{page2}");
    assert!(
        first.iter().all(|t| !second.contains(t)),
        "{first:?} {second:?}"
    );
    assert_valid_atom(&served);

    // What it serves is what the same feeds give on SQLite, but for story
    // ids: a story takes the uid of the item that started it, and the
    // daemon stores feeds in the order their fetches end (a one-off poll
    // groups everything at the end, in date order).
    let lite = Site::new(&config);
    let out = lite.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = output(&lite, &["export", "russia-japan"]);
    // The server also links the other pages (RFC 5005); an export does not.
    let story_ids = regex::Regex::new(r":story:[0-9a-f]+<").unwrap();
    let paging =
        regex::Regex::new(r#"(?m)^ *<link [^>]*rel="(first|next|previous|last)"[^>]*/>\n"#)
            .unwrap();
    let comparable = |doc: &str| {
        let doc = story_ids.replace_all(doc, ":story:…<");
        normalized(&paging.replace_all(&doc, ""), since)
    };
    assert_same(
        &comparable(&exported),
        &comparable(&served),
        "the served topic",
    );

    // Metrics read their counts from PostgreSQL (the size from
    // pg_database_size).
    let metrics = reqwest::blocking::get(format!("{}/metrics", daemon.base()))
        .unwrap()
        .text()
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert_eq!(value("feedsift_items"), 9.0);
    assert_eq!(value("feedsift_feeds"), 3.0);
    assert!(value("feedsift_database_bytes") > 1e6, "{metrics}");

    signal(&daemon.child, "TERM");
    let status = wait_for("exit after SIGTERM", Duration::from_secs(10), || {
        daemon.child.try_wait().unwrap()
    });
    assert!(status.success(), "exit status {status:?}");
    let log = daemon.final_log();
    assert!(log.contains("stopped"), "{log}");
    assert_eq!(db.count("SELECT count(*) FROM items"), 9);
}

#[test]
fn an_unreachable_server_is_named_with_the_setting_to_check() {
    // Nothing listens on loopback port 9 (discard): refused at once.
    let site = Site::with_storage_url(
        &fixture_config(serve_fixtures(), &[]),
        "postgres://feedsift@127.0.0.1:9/feedsift",
    );
    let out = site.run(&["poll"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to PostgreSQL at 127.0.0.1:9")
            && err.contains("[storage] url"),
        "{err}"
    );
}

/// Text SQLite takes and PostgreSQL would refuse as it is: U+0000 (a JSON
/// feed can send it; PostgreSQL's text cannot hold it), and a guid and
/// link longer than a B-tree index entry may be (about 2.7 kB). Both are
/// stored, the NUL dropped, and published as on SQLite (whose publisher
/// drops the NUL too).
#[test]
fn text_postgres_cannot_index_or_hold_is_stored_and_published_as_on_sqlite() {
    let Some(db) =
        PgDb::create("text_postgres_cannot_index_or_hold_is_stored_and_published_as_on_sqlite")
    else {
        return;
    };
    let since = Utc::now().naive_utc();
    // Incompressible (an index entry is compressed before it is measured).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let long: String = (0..6000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(x >> 58) as usize % 36])
        })
        .collect();
    let body = format!(
        r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "Nul\u0000Wire",
        "items": [{{"id": "a\u0000b", "url": "https://nul.example/1",
                   "title": "Japan and Russia\u0000 talk", "content_text": "x\u0000y",
                   "date_published": "2019-05-10T10:00:00Z"}},
                  {{"id": "{long}", "url": "https://long.example/{long}",
                   "title": "Japan: a long guid", "content_text": "long",
                   "date_published": "2019-05-10T11:00:00Z"}}]}}"#
    );
    let addr = serve_app(axum::Router::new().route(
        "/nul.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/feed+json")],
                    body,
                )
            }
        }),
    ));
    let config = feeds_config(
        [format!("http://{addr}/nul.json")],
        "[topic.talks]\nquery = \"Japan\"\n",
    );
    let lite = Site::new(&config);
    let pg = Site::with_storage_url(&config, &db.url);
    for s in [&lite, &pg] {
        let out = s.run(&["poll"]);
        assert!(out.status.success(), "poll failed:\n{}", stderr(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM items"), 2);
    let [a, b] = [&lite, &pg].map(|s| output(s, &["export", "talks"]));
    assert!(
        b.contains("Japan and Russia talk") && b.contains("a long guid"),
        "{b}"
    );
    assert_same(&normalized(&a, since), &normalized(&b, since), "the export");
}

/// ingest_batch.rs's checks on PostgreSQL: topics decided on parser
/// threads equal a re-evaluation from the stored rows, and a feed whose
/// write fails is rolled back alone (its savepoint) while the feeds
/// written in the same transaction are stored.
#[test]
fn ingests_match_topics_as_the_rows_do_and_roll_back_a_failed_feed_alone() {
    let Some(db) =
        PgDb::create("ingests_match_topics_as_the_rows_do_and_roll_back_a_failed_feed_alone")
    else {
        return;
    };
    let addr = serve_fixtures();
    let site = Site::with_storage_url(&crate::ingest_batch::config(addr), &db.url);
    let cfg = Config::load(&site.config()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let memberships = || -> std::collections::BTreeSet<(String, i64, Option<String>)> {
        db.client()
            .query("SELECT slug, item_id, matched FROM topic_items", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };

    // Schema and feed rows first; then a trigger refuses one NHK item,
    // after that feed's first item was written in the same savepoint.
    rt.block_on(async {
        daemon::open_store(&cfg).await.unwrap().close().await;
    });
    db.client()
        .batch_execute(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.title LIKE '日経平均株価%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER poison BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION poison();",
        )
        .unwrap();
    let results = rt.block_on(async {
        let store = daemon::open_store(&cfg).await.unwrap();
        let fetcher = Arc::new(feedsift::fetch::Fetcher::new(&cfg.polling).unwrap());
        // All feeds at once, so their writes share transactions.
        let polls = cfg.feeds.iter().map(|feed| {
            let (fetcher, store) = (fetcher.clone(), store.clone());
            async move {
                let r =
                    feedsift::refresh::poll_feed(&fetcher, &store, feed, &mut Default::default())
                        .await;
                (
                    feed.url.clone(),
                    r.result.map(|s| s.stats.new_items + s.stats.new_sources),
                )
            }
        });
        let results = futures_util::future::join_all(polls).await;
        store.close().await;
        results
    });
    let mut c = db.client();
    for (url, result) in results {
        let row = c
            .query_one(
                "SELECT (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id), f.last_status
                 FROM feeds f WHERE f.url = $1",
                &[&url],
            )
            .unwrap();
        let (stored, status): (i64, Option<String>) = (row.get(0), row.get(1));
        if url.ends_with("nhk.rdf") {
            let err = result.expect_err("the refused feed reports an error");
            assert!(err.to_string().contains("refused by the test"), "{err}");
            assert_eq!(stored, 0, "none of {url}'s items stays");
            assert_ne!(status.as_deref(), Some("ok"), "{url}");
        } else {
            let new = result.unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(new > 0, "{url}");
            assert_eq!(stored as usize, new, "{url}: every item stored");
            assert_eq!(status.as_deref(), Some("ok"), "{url}");
        }
    }

    // Without the trigger, a poll stores NHK too; then every membership
    // is forgotten and the store, opened again, evaluates each topic over
    // the stored rows: the same memberships, the same reasons.
    c.batch_execute("DROP TRIGGER poison ON items").unwrap();
    rt.block_on(async {
        let store = daemon::open_store(&cfg).await.unwrap();
        let summary = daemon::poll_all(&cfg, &store).await.unwrap();
        assert_eq!(summary.failed, 0, "{summary:?}");
        store.close().await;
    });
    let polled = memberships();
    for slug in [
        "russia-japan",
        "by-title",
        "by-tag",
        "own-title",
        "filtered",
    ] {
        assert!(
            polled.iter().any(|(s, _, _)| s == slug),
            "topic {slug} is empty: {polled:#?}"
        );
    }
    c.batch_execute("DELETE FROM topic_items; DELETE FROM topics;")
        .unwrap();
    rt.block_on(async {
        daemon::open_store(&cfg).await.unwrap().close().await;
    });
    assert_eq!(memberships(), polled);
}

#[test]
fn store_copy_moves_a_site_to_postgres_and_back_with_the_same_documents() {
    let Some(db) =
        PgDb::create("store_copy_moves_a_site_to_postgres_and_back_with_the_same_documents")
    else {
        return;
    };
    let addr = serve_fixtures();
    let config = fixture_config(addr, &[]);
    let sqlite = Site::new(&config);
    output(&sqlite, &["poll"]);
    let docs = |site: &Site| {
        [
            output(site, &["export", "russia-japan"]),
            output(site, &["export", "russia-japan", "--format", "json"]),
        ]
    };
    // Exporting groups the stories, so the copy carries them.
    let before = docs(&sqlite);
    assert!(
        before[0].contains("<entry>"),
        "nothing to copy:\n{}",
        before[0]
    );

    let copied = output(&sqlite, &["store", "copy", "--to", &db.url]);
    assert!(copied.contains("items"), "{copied}");
    let pg = Site::with_storage_url(&config, &db.url);
    let on_pg = docs(&pg);
    assert_same(
        &before[0],
        &on_pg[0],
        "the Atom feed after the copy to PostgreSQL",
    );
    assert_same(
        &before[1],
        &on_pg[1],
        "the JSON Feed after the copy to PostgreSQL",
    );
    assert_eq!(
        db.count("SELECT count(*) FROM items"),
        sqlite_count(&sqlite, "SELECT count(*) FROM items")
    );

    // A second copy into a database that holds data is refused, and
    // changes nothing.
    let again = sqlite.run(&["store", "copy", "--to", &db.url]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("is not empty"),
        "{}",
        stderr(&again)
    );

    // And back, into a new SQLite file.
    let back = sqlite.dir.path().join("back.db");
    let back_path = back.to_str().expect("utf-8 path");
    output(&pg, &["store", "copy", "--to", back_path]);
    let returned = Site::new(&format!("[storage]\npath = \"{back_path}\"\n{config}"));
    let after = docs(&returned);
    assert_same(&before[0], &after[0], "the Atom feed after the round trip");
    assert_same(&before[1], &after[1], "the JSON Feed after the round trip");

    // New rows continue after the copied ids: polling the copy works.
    let out = pg.run(&["poll"]);
    assert!(
        out.status.success(),
        "poll after the copy: {}",
        stderr(&out)
    );
}
