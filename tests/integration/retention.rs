//! Retention on a real SQLite file: fixture feeds polled by the binary, rows
//! aged and synthetic ones added with SQL, then pruned through the store API
//! the daemon uses. Topic feeds must read the same before and after.

use std::sync::Arc;
use std::time::Duration;

use crate::util::*;
use feedsift::config::Config;
use feedsift::daemon;
use feedsift::store::Store;
use rusqlite::{Connection, params};
use tokio_util::sync::CancellationToken;

const DAY: i64 = 86_400;

fn config(addr: std::net::SocketAddr) -> String {
    with_retention(fixture_config(addr, &[]))
}

/// `base` (a fixture config) with the retention tests' settings: items
/// older than 30 days go, and topics keep one entry each.
pub fn with_retention(base: String) -> String {
    base.replace(
            "[polling]",
            "[storage]\nretention = \"30d\"\n\n[polling]",
        )
        .replace(
            "\"peace treaty\"'\n",
            "\"peace treaty\"'\nlimit = 1\n\n[topic.sport]\nquery = 'Hockey OR Moscowitz'\ngroup = \"item\"\nlimit = 1\n",
        )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn pragma(c: &Connection, name: &str) -> i64 {
    c.pragma_query_value(None, name, |r| r.get(0)).unwrap()
}

/// Inserts an item straight into the tables, as if stored `age_days` ago.
fn insert_item(c: &Connection, uid: &str, age_days: i64, story: Option<i64>, body: &str) -> i64 {
    c.execute(
        "INSERT OR IGNORE INTO feeds (url) VALUES ('http://synthetic.example/feed')",
        [],
    )
    .unwrap();
    let feed: i64 = c
        .query_row(
            "SELECT id FROM feeds WHERE url = 'http://synthetic.example/feed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let seen = now() - age_days * DAY;
    c.execute(
        "INSERT INTO items (uid, title, content, first_seen, sort_time, first_feed_id, story_id)
         VALUES (?1, ?1, ?2, ?3, ?3, ?4, ?5)",
        params![uid, body, seen, feed, story],
    )
    .unwrap();
    let id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen) VALUES (?1, ?2, ?3, ?4)",
        params![feed, uid, id, seen],
    )
    .unwrap();
    id
}

/// A story of the given items, led by the first.
fn insert_story(c: &Connection, uid: &str, items: &[i64]) -> i64 {
    let seen: i64 = c
        .query_row(
            "SELECT min(first_seen) FROM items WHERE id = ?1",
            [items[0]],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "INSERT INTO stories (uid, first_seen, updated, sort_time, lead_item_id)
         VALUES (?1, ?2, ?2, ?2, ?3)",
        params![uid, seen, items[0]],
    )
    .unwrap();
    let story = c.last_insert_rowid();
    for id in items {
        c.execute(
            "UPDATE items SET story_id = ?1 WHERE id = ?2",
            params![story, id],
        )
        .unwrap();
    }
    story
}

fn exists(c: &Connection, uid: &str) -> bool {
    count(
        c,
        &format!("SELECT count(*) FROM items WHERE uid = '{uid}'"),
    ) == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_items_go_topic_feeds_and_live_stories_stay_and_the_file_shrinks() {
    let addr = serve_fixtures();
    let site = Site::new(&config(addr));
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let export = |slug: &str| {
        let out = site.run(&["export", slug]);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    // Exporting groups the stories, as the daemon does while idle.
    export("russia-japan");

    let c = Connection::open(site.db()).unwrap();
    assert_eq!(
        pragma(&c, "auto_vacuum"),
        2,
        "new databases are incremental"
    );
    // Everything polled is now 100 days old, beyond the 30 days kept.
    c.execute("UPDATE items SET first_seen = first_seen - 100 * 86400", [])
        .unwrap();
    drop(c);
    let before = (export("russia-japan"), export("sport"));
    let c = Connection::open(site.db()).unwrap();
    let topic_items_before = count(&c, "SELECT count(*) FROM topic_items");
    let fixture_items = count(&c, "SELECT count(*) FROM items");
    // A story with one recent member is kept whole; an old one goes whole.
    let live_old = insert_item(&c, "live-old", 60, None, "x");
    let live_new = insert_item(&c, "live-new", 1, None, "x");
    insert_story(&c, "story-live", &[live_old, live_new]);
    let dead = [
        insert_item(&c, "dead-a", 60, None, "x"),
        insert_item(&c, "dead-b", 50, None, "x"),
        insert_item(&c, "dead-c", 40, None, "x"),
    ];
    // Led by its newest member, which goes in the same batch as the rest.
    insert_story(&c, "story-dead", &[dead[2], dead[0], dead[1]]);
    insert_item(&c, "recent", 2, None, "x");
    // Bulk: enough old items for several batches and many pages.
    let body = "lorem ipsum ".repeat(200);
    c.execute_batch("BEGIN").unwrap();
    for i in 0..3000 {
        insert_item(&c, &format!("bulk-{i}"), 45, None, &body);
    }
    c.execute_batch("COMMIT").unwrap();
    let pages_before = pragma(&c, "page_count");
    drop(c);

    let cfg = Config::load(&site.config()).unwrap();
    assert_eq!(cfg.storage.retention, Duration::from_secs(30 * 86_400));
    let store = Store::open(&cfg.storage, cfg.stories).unwrap();
    store
        .set_topics(Arc::new(cfg.topics.clone()))
        .await
        .unwrap();
    let pruned = daemon::prune(&store, cfg.storage.retention, &CancellationToken::new())
        .await
        .unwrap();
    // Run again: nothing more to do.
    let again = daemon::prune(&store, cfg.storage.retention, &CancellationToken::new())
        .await
        .unwrap();
    store.close().await;
    // 3,003 items in batches of 500, and the freed pages (about 2,000)
    // given back 1,024 at a time: not a batch per page.
    assert!((7..=10).contains(&pruned.batches), "{pruned:?}");
    assert!(pruned.vacuumed_pages >= 1000, "{pruned:?}");
    assert!(pruned.items >= 3003, "{pruned:?}");
    assert!(pruned.stories >= 1, "{pruned:?}");
    assert_eq!(again.items, 0, "{again:?}");

    let c = Connection::open(site.db()).unwrap();
    assert!(exists(&c, "live-old") && exists(&c, "live-new") && exists(&c, "recent"));
    for uid in ["dead-a", "dead-b", "dead-c", "bulk-0", "bulk-2999"] {
        assert!(!exists(&c, uid), "{uid} was kept");
    }
    assert_eq!(
        count(&c, "SELECT count(*) FROM stories WHERE uid = 'story-dead'"),
        0
    );
    assert_eq!(
        count(&c, "SELECT count(*) FROM stories WHERE uid = 'story-live'"),
        1
    );
    // Old fixture items no topic feed shows are gone...
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM items WHERE title LIKE 'Yen weakens%'"
        ),
        0
    );
    let fixture_left = count(
        &c,
        "SELECT count(*) FROM items WHERE uid NOT LIKE 'live-%' AND uid <> 'recent'",
    );
    assert!(
        fixture_left < fixture_items,
        "{fixture_left} of {fixture_items}"
    );
    assert!(count(&c, "SELECT count(*) FROM topic_items") < topic_items_before);
    // ...and no row points at a pruned one.
    for (what, sql) in [
        (
            "topic_items",
            "SELECT count(*) FROM topic_items WHERE item_id NOT IN (SELECT id FROM items)",
        ),
        (
            "item_sources",
            "SELECT count(*) FROM item_sources WHERE item_id NOT IN (SELECT id FROM items)",
        ),
        (
            "story leads",
            "SELECT count(*) FROM stories WHERE lead_item_id NOT IN (SELECT id FROM items)",
        ),
        (
            "empty stories",
            "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id)",
        ),
        (
            "item stories",
            "SELECT count(*) FROM items WHERE story_id IS NOT NULL AND story_id NOT IN (SELECT id FROM stories)",
        ),
    ] {
        assert_eq!(count(&c, sql), 0, "dangling {what}");
    }
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(
        c.prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count(),
        0
    );
    // The freed pages went back to the file system.
    assert_eq!(pragma(&c, "freelist_count"), 0);
    let pages_after = pragma(&c, "page_count");
    assert!(
        pages_after * 3 < pages_before,
        "{pages_before} -> {pages_after} pages"
    );
    drop(c);

    // The topic feeds lost nothing they showed.
    assert_eq!((export("russia-japan"), export("sport")), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_prune_stops_between_batches() {
    let site = Site::new("[storage]\nretention = \"1d\"\n");
    let cfg = Config::load(&site.config()).unwrap();
    // Creates the database.
    Store::open(&cfg.storage, cfg.stories)
        .unwrap()
        .close()
        .await;
    let c = Connection::open(site.db()).unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 0..1200 {
        insert_item(&c, &format!("old-{i}"), 10, None, "x");
    }
    c.execute_batch("COMMIT").unwrap();
    drop(c);
    let store = Store::open(&cfg.storage, cfg.stories).unwrap();
    let stop = CancellationToken::new();
    stop.cancel();
    let s = daemon::prune(&store, cfg.storage.retention, &stop)
        .await
        .unwrap();
    assert_eq!(s.items, 0);
    let s = daemon::prune(&store, cfg.storage.retention, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((s.items, s.batches >= 3), (1200, true), "{s:?}");
    store.close().await;
}

#[test]
fn the_daemon_prunes_at_start_and_logs_what_went() {
    let addr = serve_fixtures();
    let site = Site::new(&config(addr));
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = Connection::open(site.db()).unwrap();
    c.execute("UPDATE items SET first_seen = first_seen - 100 * 86400", [])
        .unwrap();
    insert_item(&c, "old-alone", 40, None, "x");
    let items_before = count(&c, "SELECT count(*) FROM items");
    drop(c);
    // A poll never prunes.
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("pruned"), "{}", stderr(&out));

    let log = site.dir.path().join("daemon.log");
    let mut daemon = site
        .cmd()
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let pruned = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("pruned items older than the retention") {
            break true;
        }
        if start.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: a plain kill(2) on the child we spawned.
    unsafe {
        libc::kill(daemon.id() as i32, libc::SIGTERM);
    }
    let status = daemon.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(pruned, "no prune logged:\n{text}");
    assert!(status.success(), "{text}");
    let c = Connection::open(site.db()).unwrap();
    assert!(!exists(&c, "old-alone"));
    assert!(count(&c, "SELECT count(*) FROM items") < items_before);
}
