//! The database schema as an append-only list of migrations. A database
//! records how many it has applied in `PRAGMA user_version`; never edit an
//! entry once released, add a new one.

/// One step of the schema's history.
pub enum Migration {
    /// Statements run in one transaction.
    Sql(&'static str),
    /// Switches the file to `auto_vacuum = INCREMENTAL`, so space freed by
    /// pruning can be given back to the file system a little at a time.
    /// An existing file needs one VACUUM for that, which cannot run in a
    /// transaction; new files get the mode before their first table.
    IncrementalAutoVacuum,
    /// Statements that rebuild a table (SQLite cannot drop a constraint in
    /// place): run in one transaction with foreign keys off, so dropping
    /// the old table does not touch the rows that refer to it, and checked
    /// with `PRAGMA foreign_key_check` before the commit.
    Rebuild(&'static str),
}

use Migration::{IncrementalAutoVacuum, Rebuild, Sql};

pub const MIGRATIONS: &[Migration] = &[
    // 1: feeds, items, the feeds each item was seen in, topic membership.
    Sql(r#"
    CREATE TABLE feeds (
        id            INTEGER PRIMARY KEY,
        url           TEXT NOT NULL UNIQUE,
        config_title  TEXT,
        title         TEXT,
        site_url      TEXT,
        feed_ident    TEXT,
        language      TEXT,
        last_attempt  INTEGER,
        last_success  INTEGER,
        last_status   TEXT,
        last_error    TEXT,
        next_poll     INTEGER
    );
    CREATE TABLE items (
        id             INTEGER PRIMARY KEY,
        uid            TEXT NOT NULL UNIQUE,
        canonical_url  TEXT UNIQUE,
        link           TEXT,
        title          TEXT NOT NULL,
        summary        TEXT,
        content        TEXT,
        author         TEXT,
        categories     TEXT,
        published      INTEGER,
        updated        INTEGER,
        first_seen     INTEGER NOT NULL,
        sort_time      INTEGER NOT NULL,
        first_feed_id  INTEGER NOT NULL REFERENCES feeds(id)
    );
    CREATE TABLE item_sources (
        feed_id     INTEGER NOT NULL REFERENCES feeds(id),
        entry_key   TEXT NOT NULL,
        item_id     INTEGER NOT NULL REFERENCES items(id),
        first_seen  INTEGER NOT NULL,
        PRIMARY KEY (feed_id, entry_key)
    ) WITHOUT ROWID;
    CREATE INDEX item_sources_item ON item_sources(item_id);
    CREATE TABLE topics (
        slug         TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        changed      INTEGER NOT NULL
    );
    CREATE TABLE topic_items (
        slug       TEXT NOT NULL,
        item_id    INTEGER NOT NULL REFERENCES items(id),
        sort_time  INTEGER NOT NULL,
        PRIMARY KEY (slug, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX topic_items_order ON topic_items(slug, sort_time DESC, item_id DESC);
    "#),
    // 2: what polite polling remembers per feed.
    Sql(r#"
    ALTER TABLE feeds ADD COLUMN etag TEXT;
    ALTER TABLE feeds ADD COLUMN last_modified TEXT;
    ALTER TABLE feeds ADD COLUMN body_hash TEXT;
    ALTER TABLE feeds ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN effective_url TEXT;
    "#),
    // 3: feed tags (for feed: queries) and why an item is in a topic.
    Sql(r#"
    ALTER TABLE feeds ADD COLUMN tags TEXT;
    ALTER TABLE topic_items ADD COLUMN matched TEXT;
    "#),
    // 4: stories: items about one event across feeds.
    Sql(r#"
    CREATE TABLE stories (
        id            INTEGER PRIMARY KEY,
        uid           TEXT NOT NULL UNIQUE,
        first_seen    INTEGER NOT NULL,
        updated       INTEGER NOT NULL,
        sort_time     INTEGER NOT NULL,
        lead_item_id  INTEGER NOT NULL REFERENCES items(id)
    );
    ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id);
    ALTER TABLE items ADD COLUMN sketch BLOB;
    ALTER TABLE items ADD COLUMN cites TEXT;
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_sort ON items(sort_time);
    "#),
    // 5: retention prunes by first-seen time.
    Sql("CREATE INDEX items_first_seen ON items(first_seen);"),
    // 6: freed pages go back to the file system (see `Migration`).
    IncrementalAutoVacuum,
    // 7: which topics hold an item, without knowing the topic: grouping a
    // new copy into a story asks this of every member, and without it each
    // question scanned the whole table (4 ms per item at 25,000 items).
    Sql("CREATE INDEX topic_items_item ON topic_items(item_id);"),
    // 8: items.uid without its UNIQUE index. The uid is a hash of the
    // canonical URL or of feed and entry key, both already unique
    // (`canonical_url`, the key of `item_sources`), and nothing looks an
    // item up by it; its index took one random page per new item: a first
    // poll of 10,000 feeds took 19.3 s with it and 14.3 s without.
    Rebuild(
        r#"
    CREATE TABLE items_new (
        id             INTEGER PRIMARY KEY,
        uid            TEXT NOT NULL,
        canonical_url  TEXT UNIQUE,
        link           TEXT,
        title          TEXT NOT NULL,
        summary        TEXT,
        content        TEXT,
        author         TEXT,
        categories     TEXT,
        published      INTEGER,
        updated        INTEGER,
        first_seen     INTEGER NOT NULL,
        sort_time      INTEGER NOT NULL,
        first_feed_id  INTEGER NOT NULL REFERENCES feeds(id),
        story_id       INTEGER REFERENCES stories(id),
        sketch         BLOB,
        cites          TEXT
    );
    INSERT INTO items_new (id, uid, canonical_url, link, title, summary, content, author,
                           categories, published, updated, first_seen, sort_time,
                           first_feed_id, story_id, sketch, cites)
        SELECT id, uid, canonical_url, link, title, summary, content, author,
               categories, published, updated, first_seen, sort_time,
               first_feed_id, story_id, sketch, cites
        FROM items;
    DROP TABLE items;
    ALTER TABLE items_new RENAME TO items;
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_sort ON items(sort_time);
    CREATE INDEX items_first_seen ON items(first_seen);
    "#,
    ),
    // 9: the items waiting for a story, in the order they are grouped.
    // Without it each batch of 256 sorted every waiting item: after a
    // first poll of 470,000 items the daemon took 536 s to group them.
    // Only waiting items are in it, so it stays small once they are.
    Sql("CREATE INDEX items_pending ON items(sort_time) WHERE story_id IS NULL;"),
    // 10: subscribers of the built-in WebSub hub, by the topic feed url
    // they subscribed to; kept across restarts until their lease ends.
    Sql(r#"
    CREATE TABLE hub_subscribers (
        topic     TEXT NOT NULL,
        callback  TEXT NOT NULL,
        secret    TEXT,
        expires   INTEGER NOT NULL,
        created   INTEGER NOT NULL,
        PRIMARY KEY (topic, callback)
    );
    "#),
    // 11: our subscriptions to the WebSub hubs of feeds we poll, one per
    // feed url (a feed removed from config.toml keeps its row until the
    // hub confirms the unsubscription). `token` names the subscription in
    // the callback url the hub calls.
    Sql(r#"
    CREATE TABLE websub_subscriptions (
        feed_url     TEXT PRIMARY KEY,
        hub          TEXT NOT NULL,
        topic        TEXT NOT NULL,
        state        TEXT NOT NULL,
        token        TEXT NOT NULL UNIQUE,
        secret       TEXT NOT NULL,
        lease_until  INTEGER,
        renew_at     INTEGER,
        requested    INTEGER NOT NULL,
        error        TEXT
    );
    "#),
    // 12: content a hub pushed to a `--role serve` process, kept until a
    // polling process refreshes it (`held_until`: the unix second when a
    // process that took it and died lets another one take it).
    Sql(r#"
    CREATE TABLE websub_inbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        feed_url      TEXT NOT NULL,
        content_type  TEXT,
        body          BLOB NOT NULL,
        received      INTEGER NOT NULL,
        held_until    INTEGER NOT NULL DEFAULT 0
    );
    "#),
];
