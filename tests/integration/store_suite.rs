//! The store's behaviour, one suite run against both backends: each test
//! below is written once against a `Backend` (a `[storage]` table and a
//! way to count rows) and `both!` makes it a `sqlite` and a `postgres`
//! test. Without a PostgreSQL server at 127.0.0.1:5432 the `postgres` half
//! says SKIPPED and passes.

use crate::util::*;

/// Where a test's site keeps its data.
enum Backend {
    Sqlite,
    Postgres(PgDb),
}

impl Backend {
    /// A site on this backend with `config` (which has no `[storage]`).
    fn site(&self, config: &str) -> Site {
        match self {
            Backend::Sqlite => Site::new(config),
            Backend::Postgres(db) => Site::with_storage_url(config, &db.url),
        }
    }

    /// The single number `sql` selects, in `site`'s database.
    fn count(&self, site: &Site, sql: &str) -> i64 {
        match self {
            Backend::Sqlite => rusqlite::Connection::open(site.db())
                .expect("open the database")
                .query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Backend::Postgres(db) => db.count(sql),
        }
    }

    /// Runs `sql` in `site`'s database.
    fn exec(&self, site: &Site, sql: &str) {
        match self {
            Backend::Sqlite => rusqlite::Connection::open(site.db())
                .expect("open the database")
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Backend::Postgres(db) => db
                .client()
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                if let Some(db) = crate::util::PgDb::create(concat!("store_suite::", stringify!($name))) {
                    super::$name(super::Backend::Postgres(db));
                }
            }
        }
    )*};
}

both!(
    an_item_in_two_feeds_is_stored_once_with_two_sources,
    an_unchanged_poll_stores_nothing_new,
    a_changed_topic_is_evaluated_over_stored_items,
    stories_keep_their_ids_across_runs,
    new_stories_are_numbered_past_every_story_before_them,
    a_failing_feed_is_recorded_and_its_items_kept,
);

fn ok(site: &Site, args: &[&str]) -> String {
    site.output(args)
}

fn an_item_in_two_feeds_is_stored_once_with_two_sources(b: Backend) {
    // markets.json carries one of tass.rss's items (the same link).
    let site = b.site(&fixture_config(serve_fixtures(), &[]));
    ok(&site, &["poll"]);
    let items = b.count(&site, "SELECT count(*) FROM items");
    let sources = b.count(&site, "SELECT count(*) FROM item_sources");
    assert!(items > 0);
    assert_eq!(
        sources,
        items + 1,
        "one item has two sources, every other one"
    );
    assert_eq!(
        b.count(
            &site,
            "SELECT count(*) FROM (SELECT item_id FROM item_sources GROUP BY item_id HAVING count(*) = 2) t"
        ),
        1
    );
}

fn an_unchanged_poll_stores_nothing_new(b: Backend) {
    let site = b.site(&fixture_config(serve_fixtures(), &[]));
    ok(&site, &["poll"]);
    let before = (
        b.count(&site, "SELECT count(*) FROM items"),
        b.count(&site, "SELECT count(*) FROM item_sources"),
        b.count(&site, "SELECT count(*) FROM topic_items"),
    );
    ok(&site, &["poll"]);
    let after = (
        b.count(&site, "SELECT count(*) FROM items"),
        b.count(&site, "SELECT count(*) FROM item_sources"),
        b.count(&site, "SELECT count(*) FROM topic_items"),
    );
    assert_eq!(before, after);
    assert_eq!(
        b.count(
            &site,
            "SELECT count(*) FROM feeds WHERE last_status = 'unchanged'"
        ),
        4,
        "every feed recorded as unchanged"
    );
}

fn a_changed_topic_is_evaluated_over_stored_items(b: Backend) {
    let config = fixture_config(serve_fixtures(), &[]);
    let site = b.site(&config);
    ok(&site, &["poll"]);
    let members = |site: &Site| {
        b.count(
            site,
            "SELECT count(*) FROM topic_items WHERE slug = 'russia-japan'",
        )
    };
    let wide = members(&site);
    assert!(wide > 0);
    // A narrower query, with no poll in between: only stored items.
    let written = std::fs::read_to_string(site.config()).expect("read config");
    let narrow = written.replace(
        r#"query = '(@russia AND @japan) OR "Kuril Islands" OR "Northern Territories" OR "peace treaty"'"#,
        r#"query = '"peace treaty"'"#,
    );
    assert_ne!(narrow, written);
    std::fs::write(site.config(), &narrow).expect("write config");
    let atom = ok(&site, &["export", "russia-japan"]);
    let now = members(&site);
    assert!(0 < now && now < wide, "{now} of {wide} items kept");
    assert!(atom.to_lowercase().contains("peace treaty"), "{atom}");
}

fn stories_keep_their_ids_across_runs(b: Backend) {
    let site = b.site(&fixture_config(serve_fixtures(), &[]));
    ok(&site, &["poll"]);
    let ids = |atom: &str| -> Vec<String> {
        atom.lines()
            .filter_map(|l| l.trim().strip_prefix("<id>"))
            .map(str::to_owned)
            .collect()
    };
    let first = ids(&ok(&site, &["export", "russia-japan"]));
    assert!(
        first.iter().any(|i| i.contains(":story:")),
        "no story entries: {first:?}"
    );
    assert_eq!(
        b.count(&site, "SELECT count(*) FROM items WHERE story_id IS NULL"),
        0,
        "every item in a story"
    );
    // A second poll and export: the same entries under the same ids.
    ok(&site, &["poll"]);
    assert_eq!(ids(&ok(&site, &["export", "russia-japan"])), first);
    let story = ok(&site, &["story", "1"]);
    assert!(story.contains("the lead"), "{story}");
}

fn new_stories_are_numbered_past_every_story_before_them(b: Backend) {
    // Story numbers are given out before their rows are written (the
    // index places a batch while the store thread writes it).
    let site = b.site(&fixture_config(serve_fixtures(), &[]));
    // `export` groups what the poll stored.
    let group = || {
        ok(&site, &["poll"]);
        ok(&site, &["export", "russia-japan"]);
    };
    group();
    let stories = b.count(&site, "SELECT count(*) FROM stories");
    assert!(stories > 1, "{stories} stories");
    assert_eq!(
        b.count(&site, "SELECT max(id) FROM stories"),
        stories,
        "numbered from 1 in turn"
    );
    // Every item waits for a story again, and one story is left, memberless,
    // numbered far past the others.
    b.exec(
        &site,
        "UPDATE items SET story_id = NULL, sketch = NULL, cites = NULL;
         DELETE FROM stories WHERE id > 1;
         UPDATE stories SET id = 1000, uid = 'kept';",
    );
    group();
    assert_eq!(b.count(&site, "SELECT count(*) FROM stories"), stories + 1);
    assert_eq!(
        b.count(&site, "SELECT min(id) FROM stories WHERE id <> 1000"),
        1001
    );
    assert_eq!(
        b.count(&site, "SELECT max(id) FROM stories"),
        1000 + stories
    );
    assert_eq!(
        b.count(&site, "SELECT count(*) FROM items WHERE story_id IS NULL"),
        0
    );
    // A row numbered by the database itself takes none of those numbers.
    b.exec(
        &site,
        "INSERT INTO stories (uid, first_seen, updated, sort_time, lead_item_id)
         SELECT 'by default', 0, 0, 0, min(id) FROM items",
    );
    assert_eq!(
        b.count(&site, "SELECT id FROM stories WHERE uid = 'by default'"),
        1001 + stories
    );
}

fn a_failing_feed_is_recorded_and_its_items_kept(b: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = dir.path().join("f.rss");
    std::fs::copy(fixtures().join("feeds/tass.rss"), &feed).expect("copy");
    let addr = serve_dir(dir.path().to_path_buf());
    let site = b.site(&feeds_config([format!("http://{addr}/f.rss")], ""));
    ok(&site, &["poll"]);
    let items = b.count(&site, "SELECT count(*) FROM items");
    assert!(items > 0);
    std::fs::remove_file(&feed).expect("remove");
    let out = site.run(&["poll"]);
    assert!(!out.status.success(), "every feed failed: exit 1");
    assert_eq!(b.count(&site, "SELECT count(*) FROM items"), items);
    let failing = ok(&site, &["feeds", "--failing"]);
    assert!(failing.contains("404"), "{failing}");
    assert_eq!(
        b.count(
            &site,
            "SELECT count(*) FROM feeds WHERE error_count = 1 AND last_success IS NOT NULL"
        ),
        1
    );
}
