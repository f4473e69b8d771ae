//! The SQLite backend: one file, WAL, driven only from the store thread.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::rows::{from_ts, lines, story_reasons, summary, ts};
use super::schema::{MIGRATIONS, Migration};
use super::{
    Backend, Counts, Entry, FeedSpec, FeedState, FeedStatus, GroupingInput, HubSubscriber,
    InboxPush, IngestStats, LeadCandidate, MatchRow, Member, PollRecord, PruneBatch, PushState,
    PushSubscription, Sketched, SourceFeed, StoreError, StoreStats, StoredItem, StoryDetail,
    StoryInfo, StoryTexts, TopicEntries, TopicMatcher, Touched,
};
use crate::parse::{NewItem, ParsedFeed};
use crate::topics::Topic;

pub struct Db {
    conn: Connection,
    /// Topics whose published documents this job changed; the store
    /// thread hands them to its document versions after each job.
    touched: Touched,
    /// The last `PRAGMA data_version` seen, for `check_external_writes`.
    data_version: Option<i64>,
    /// Copies the WAL back into the database off this connection's thread
    /// (see `Checkpointer`); `None` for a read-only connection, or when it
    /// could not start (SQLite's own checkpoints run then).
    checkpointer: Option<Checkpointer>,
}

/// Checkpoints on a thread and connection of their own. SQLite checkpoints
/// on the committing connection, with an fsync of the WAL and one of the
/// database: in a 10,000-feed first poll the store thread sat in those
/// fsyncs for about 2 s of its 14.5 (measured with `synchronous = OFF`),
/// and every parser waiting to hand it a feed sat with it. A checkpoint
/// from another connection is an ordinary SQLite operation and runs beside
/// the writer (`PASSIVE`: it copies what is committed and never blocks a
/// commit), so the store thread only asks for one (see `Db::open`).
///
/// The thread ends when the one sender of its requests, held by the
/// connection's WAL hook, is dropped: with the connection, or by taking
/// the hook off (`Db::close`). `Db` declares `conn` first, so a dropped
/// `Db` closes it before joining the thread.
struct Checkpointer {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<(Checkpointer, AskCheckpoint), String> {
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        // One request waiting is enough: the next checkpoint copies all
        // that was committed before it starts.
        let (wake, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let turn = std::sync::Arc::new(std::sync::Mutex::new(()));
        let ours = turn.clone();
        let thread = std::thread::Builder::new()
            .name("feedsift-checkpoint".into())
            .spawn(move || {
                for () in asked {
                    let _turn = ours.lock();
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "cannot copy the write-ahead log into the database; trying again after the next commits");
                    }
                    #[cfg(test)]
                    CHECKPOINTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok((
            Checkpointer {
                thread: Some(thread),
            },
            AskCheckpoint { wake, turn },
        ))
    }
}

/// What the writing connection's WAL hook holds (see `Db::open`).
struct AskCheckpoint {
    wake: std::sync::mpsc::SyncSender<()>,
    /// Held by whoever checkpoints: SQLite runs one checkpoint at a time
    /// and answers any other with "busy" at once, whatever the timeout.
    turn: std::sync::Arc<std::sync::Mutex<()>>,
}

/// Checkpoints the checkpointers ran (what the tests check).
#[cfg(test)]
static CHECKPOINTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Checkpointer {
    /// Waits for a checkpoint in progress, so that the caller's own final
    /// one finds the log to itself.
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The items waiting for a story, oldest first. The index is named, since
/// without statistics the planner would rather take `items_story` and sort.
const PENDING: &str = "SELECT id FROM items INDEXED BY items_pending
     WHERE story_id IS NULL ORDER BY sort_time, id LIMIT ?1";

/// WAL pages between checkpoints (see `Db::open`).
const WAL_CHECKPOINT_PAGES: i64 = 8000;

const ITEM_ROW: &str = concat!(
    "SELECT i.id, i.title, i.summary, i.content, i.author, i.categories, i.sort_time,
        (SELECT group_concat(f.url, char(10)) FROM item_sources s
           JOIN feeds f ON f.id = s.feed_id WHERE s.item_id = i.id),
        (SELECT group_concat(",
    feed_label!(),
    ", char(10))
           FROM item_sources s JOIN feeds f ON f.id = s.feed_id WHERE s.item_id = i.id),
        (SELECT f.language FROM feeds f WHERE f.id = i.first_feed_id)
     FROM items i"
);

fn read_match_row(r: &rusqlite::Row) -> rusqlite::Result<MatchRow> {
    Ok(MatchRow {
        id: r.get(0)?,
        title: r.get(1)?,
        summary: r.get(2)?,
        content: r.get(3)?,
        author: r.get(4)?,
        categories: r.get(5)?,
        sort_time: r.get(6)?,
        urls: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        feed_labels: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        language: r.get(9)?,
    })
}

const INSERT_MEMBER: &str =
    "INSERT OR IGNORE INTO topic_items (slug, item_id, sort_time, matched) VALUES (?1, ?2, ?3, ?4)";

impl Db {
    /// Whether every topic is to be published again already: a batch of a
    /// first poll's backlog touches them all in its first items, and the
    /// query for each item after them was a quarter of the store
    /// thread's grouping time.
    fn every_topic_touched(&mut self) -> Result<bool, StoreError> {
        if self.touched.all {
            return Ok(true);
        }
        if self.touched.slugs.is_empty() {
            return Ok(false);
        }
        let mut st = self.conn.prepare_cached("SELECT slug FROM topics")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            match r.get_ref(0)?.as_str() {
                Ok(slug) if self.touched.slugs.contains(slug) => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("folder {} does not exist", dir.display()),
            });
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // WAL + NORMAL: a crash loses at most the last transactions, never
        // corrupts; fsync on every commit would cost more than it buys here.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Each feed of a batch is stored in a savepoint of its own, and
        // SQLite keeps the original of every page a savepoint changes in a
        // statement journal, a temporary file once it outgrows 64 KiB: a
        // quarter of the store thread's time in a 10,000-feed first poll
        // went to writing it. In memory it costs what the pages changed by
        // one feed weigh, freed when the feed is stored.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        // SQLite copies the WAL back into the database every 1000 pages by
        // default, on the writer's thread, with an fsync: a first poll of
        // 10,000 feeds spent a fifth of the store thread there. Every 8000
        // pages (32 MiB), the index pages rewritten by many transactions
        // are copied once instead of many times: that poll took 19.5 s
        // instead of 24.8 s. The file is cut back to that size after.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_size_limit", WAL_CHECKPOINT_PAGES * 4096)
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        migrate(&mut conn, path)?;
        let checkpointer = match Checkpointer::start(path) {
            Ok((c, ask)) => {
                // Replaces SQLite's own checkpoints (`wal_autocheckpoint`
                // installs this same hook). Commits that never pause keep
                // the other thread from finishing a copy before more is
                // committed, and SQLite starts the log over only after a
                // copy of all of it: past four times the usual size, the
                // writer waits for the other thread's copy and copies the
                // rest itself, as SQLite would have.
                conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
                    let pages = i64::from(pages);
                    if pages >= 4 * WAL_CHECKPOINT_PAGES {
                        let _turn = ask.turn.lock();
                        let _ = wal.checkpoint();
                    } else if pages >= WAL_CHECKPOINT_PAGES {
                        let _ = ask.wake.try_send(());
                    }
                    Ok(())
                }))
                .map_err(open_err)?;
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot start a thread to checkpoint the database; checkpointing on the store thread");
                None
            }
        };
        let db = Db {
            conn,
            touched: Touched::default(),
            data_version: None,
            checkpointer,
        };
        Ok(db)
    }

    /// Opens an existing database for reading only: listings (`feeds`,
    /// `story`, `topic test`) must not change what they list, nor upgrade
    /// the schema under a running daemon. SQLite refuses any write made
    /// through this connection.
    pub fn open_read_only(path: &Path) -> Result<Db, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        if !path.exists() {
            return Err(open_err(
                "there is no database yet: `feedsift poll` or `feedsift run` creates it".into(),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| open_err(e.to_string()))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        if version < known {
            return Err(open_err(format!(
                "it is at schema {version}, this feedsift reads {known}: `feedsift poll` or `feedsift run` upgrades it"
            )));
        }
        Ok(Db {
            conn,
            touched: Touched::default(),
            data_version: None,
            checkpointer: None,
        })
    }

    fn freelist(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?)
    }

    /// Records what a committed ingest changed.
    fn note(&mut self, done: Ingested) -> IngestStats {
        self.touched.all |= done.feed_changed;
        self.touched.slugs.extend(done.touched);
        done.stats
    }

    /// One entry per story with a member in the topic: the lead item, with
    /// every member listed, newest story first.
    fn topic_stories(
        &mut self,
        slug: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let stories: Vec<(i64, String, i64, i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT s.id, s.uid, s.first_seen, s.updated, s.sort_time, s.lead_item_id
                 FROM stories s
                 WHERE s.id IN (SELECT i.story_id FROM topic_items t JOIN items i ON i.id = t.item_id
                                WHERE t.slug = ?1)
                 ORDER BY s.sort_time DESC, s.id DESC
                 LIMIT ?2 OFFSET ?3",
            )?
            .query_map(params![slug, limit as i64, offset as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(stories.len());
        for (id, uid, first_seen, updated, sort_time, lead) in stories {
            let mut e = self
                .conn
                .prepare_cached(&format!(
                    "{ENTRY_SELECT} FROM items i JOIN feeds f ON f.id = i.first_feed_id WHERE i.id = ?1"
                ))?
                .query_row([lead], read_entry)?;
            let whys: Vec<Option<String>> = self
                .conn
                .prepare_cached(STORY_WHYS)?
                .query_map(params![slug, id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            e.matched = story_reasons(whys);
            e.story = Some(StoryInfo {
                uid,
                first_seen: from_ts(Some(first_seen)).unwrap_or_default(),
                updated: from_ts(Some(updated)).unwrap_or_default(),
                sort_time: from_ts(Some(sort_time)).unwrap_or_default(),
                members: self.story_members(id)?,
            });
            out.push(e);
        }
        Ok(out)
    }

    /// Every item of a story, earliest first.
    pub fn story_members(&mut self, story: i64) -> Result<Vec<Member>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT i.uid, i.title, coalesce(i.canonical_url, i.link), coalesce(f.config_title, f.title, f.url),
                        f.url, i.sort_time, i.cites
                 FROM items i JOIN feeds f ON f.id = i.first_feed_id
                 WHERE i.story_id = ?1 ORDER BY i.sort_time, i.id",
            )?
            .query_map([story], |r| {
                Ok(Member {
                    uid: r.get(0)?,
                    title: r.get(1)?,
                    link: r.get(2)?,
                    feed_title: r.get(3)?,
                    feed_url: r.get(4)?,
                    date: from_ts(r.get(5)?).unwrap_or_default(),
                    cites: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl Backend for Db {
    fn push_subscriptions(&mut self) -> Result<Vec<PushSubscription>, StoreError> {
        let mut st = self.conn.prepare_cached(concat!(
            "SELECT ",
            push_columns!(),
            " FROM websub_subscriptions ORDER BY feed_url"
        ))?;
        let rows = st.query_map([], push_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn push_by_token(&mut self, token: &str) -> Result<Option<PushSubscription>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(concat!(
                "SELECT ",
                push_columns!(),
                " FROM websub_subscriptions WHERE token = ?1"
            ))?
            .query_row([token], push_row)
            .optional()?)
    }

    fn push_claim(&mut self, s: &PushSubscription, requested: i64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE websub_subscriptions SET requested = ?6
             WHERE feed_url = ?1 AND token = ?2 AND state = ?3 AND requested = ?4
               AND lease_until IS ?5",
            params![
                s.feed_url,
                s.token,
                s.state.as_str(),
                s.requested,
                s.lease_until,
                requested
            ],
        )?;
        Ok(n == 1)
    }

    fn inbox_put(&mut self, p: &InboxPush) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO websub_inbox (feed_url, content_type, body, received) VALUES (?1, ?2, ?3, ?4)",
            params![p.feed_url, p.content_type, p.body, p.received],
        )?;
        Ok(())
    }

    fn inbox_take(
        &mut self,
        now: i64,
        hold_until: i64,
        limit: usize,
    ) -> Result<Vec<InboxPush>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Read first: an UPDATE takes the write lock even when it changes
        // nothing, and this is asked every few seconds.
        let waiting: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM websub_inbox WHERE held_until <= ?1)")?
            .query_row([now], |r| r.get(0))?;
        if !waiting {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare_cached(
            "UPDATE websub_inbox SET held_until = ?2
             WHERE id IN (SELECT id FROM websub_inbox WHERE held_until <= ?1 ORDER BY id LIMIT ?3)
             RETURNING id, feed_url, content_type, body, received",
        )?;
        let rows = st.query_map(params![now, hold_until, limit], |r| {
            Ok(InboxPush {
                id: r.get(0)?,
                feed_url: r.get(1)?,
                content_type: r.get(2)?,
                body: r.get(3)?,
                received: r.get(4)?,
            })
        })?;
        let mut taken: Vec<InboxPush> = rows.collect::<Result<_, _>>()?;
        taken.sort_by_key(|p| p.id);
        Ok(taken)
    }

    fn inbox_done(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM websub_inbox WHERE id = ?1", [id])?;
        Ok(())
    }

    fn push_put(&mut self, s: &PushSubscription) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(concat!(
                "INSERT OR REPLACE INTO websub_subscriptions (",
                push_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?
            .execute(params![
                s.feed_url,
                s.hub,
                s.topic,
                s.state.as_str(),
                s.token,
                s.secret,
                s.lease_until,
                s.renew_at,
                s.requested,
                s.error
            ])?;
        Ok(())
    }

    fn reschedule(&mut self, feed_url: &str, at: i64, later: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE feeds SET next_poll = ?2
             WHERE url = ?1 AND (next_poll IS NULL OR (?3 AND next_poll < ?2) OR (NOT ?3 AND next_poll > ?2))",
            params![feed_url, at, later],
        )?;
        Ok(())
    }

    fn push_delete(&mut self, feed_url: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM websub_subscriptions WHERE feed_url = ?1",
            [feed_url],
        )?;
        Ok(())
    }

    fn hub_subscribe(&mut self, s: &HubSubscriber, now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO hub_subscribers (topic, callback, secret, expires, created)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (topic, callback) DO UPDATE SET secret = excluded.secret, expires = excluded.expires",
            params![s.topic, s.callback, s.secret, s.expires, now],
        )?;
        Ok(())
    }

    fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM hub_subscribers WHERE topic = ?1 AND callback = ?2",
            params![topic, callback],
        )?;
        Ok(n > 0)
    }

    fn hub_subscribers(&mut self, topic: &str, now: i64) -> Result<Vec<HubSubscriber>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT topic, callback, secret, expires FROM hub_subscribers
             WHERE topic = ?1 AND expires > ?2 ORDER BY callback",
        )?;
        let rows = st.query_map(params![topic, now], |r| {
            Ok(HubSubscriber {
                topic: r.get(0)?,
                callback: r.get(1)?,
                secret: r.get(2)?,
                expires: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn hub_expire(&mut self, now: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM hub_subscribers WHERE expires <= ?1", [now])?)
    }

    fn hub_count(&mut self, topic: &str, callback: &str, now: i64) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM hub_subscribers WHERE topic = ?1 AND expires > ?2 AND callback <> ?3",
            params![topic, now, callback],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Did another process (say `feedsift poll` next to the daemon) commit
    /// since the last call? SQLite's data_version moves only for other
    /// connections' commits; when it does, every topic may have changed.
    fn check_external_writes(&mut self) -> Result<bool, StoreError> {
        let v: i64 = self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?;
        let changed = self.data_version.is_some_and(|old| old != v);
        self.data_version = Some(v);
        self.touched.all |= changed;
        Ok(changed)
    }

    /// What the jobs since the last call changed.
    fn take_touched(&mut self) -> Touched {
        std::mem::take(&mut self.touched)
    }

    /// Removes up to `max` items first seen before `cutoff`, in one
    /// transaction, with every row that refers to them, then gives up to
    /// `vacuum_pages` free pages back to the file system. Kept: items a
    /// topic feed shows (see `fill_keep`), and every member of a story that
    /// has a member seen since `cutoff` or a kept one, so a story is pruned
    /// whole or not at all.
    fn prune_batch(
        &mut self,
        cutoff: DateTime<Utc>,
        max: usize,
        vacuum_pages: u32,
        topics: &[Topic],
    ) -> Result<PruneBatch, StoreError> {
        let cutoff = ts(cutoff);
        let tx = self.conn.transaction()?;
        // A story's lead may go before the rest of it (a batch can end in
        // the middle of a story); the lead is moved below, and the
        // references are checked at commit.
        tx.pragma_update(None, "defer_foreign_keys", "ON")?;
        fill_keep(&tx, topics)?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS prune_batch (id INTEGER PRIMARY KEY);
             DELETE FROM temp.prune_batch;",
        )?;
        let items = tx
            .prepare_cached(
                "INSERT INTO temp.prune_batch
                 SELECT i.id FROM items i
                 WHERE i.first_seen < ?1
                   AND i.id NOT IN (SELECT id FROM temp.prune_keep)
                   AND (i.story_id IS NULL OR NOT EXISTS (
                        SELECT 1 FROM items m WHERE m.story_id = i.story_id
                          AND (m.first_seen >= ?1 OR m.id IN (SELECT id FROM temp.prune_keep))))
                 ORDER BY i.first_seen, i.id
                 LIMIT ?2",
            )?
            .execute(params![cutoff, max as i64])?;
        let mut stories = 0;
        if items > 0 {
            let touched: Vec<i64> = tx
                .prepare_cached(
                    "SELECT DISTINCT story_id FROM items
                     WHERE id IN (SELECT id FROM temp.prune_batch) AND story_id IS NOT NULL",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            tx.execute_batch(
                "DELETE FROM topic_items WHERE item_id IN (SELECT id FROM temp.prune_batch);
                 DELETE FROM item_sources WHERE item_id IN (SELECT id FROM temp.prune_batch);
                 DELETE FROM items WHERE id IN (SELECT id FROM temp.prune_batch);",
            )?;
            for story in touched {
                stories += tx
                    .prepare_cached(
                        "DELETE FROM stories WHERE id = ?1
                         AND NOT EXISTS (SELECT 1 FROM items WHERE story_id = ?1)",
                    )?
                    .execute([story])?;
                // What is left of a story goes in a later batch; until then
                // its earliest remaining member leads it.
                tx.prepare_cached(
                    "UPDATE stories SET lead_item_id =
                         (SELECT id FROM items WHERE story_id = ?1 ORDER BY sort_time, id LIMIT 1)
                     WHERE id = ?1 AND lead_item_id NOT IN (SELECT id FROM items)",
                )?
                .execute([story])?;
            }
        }
        tx.commit()?;
        if items > 0 {
            // Pruned items may be in cached documents (older pages).
            self.touched.all = true;
        }
        let free_before = self.freelist()?;
        // The pragma frees one page a step and returns a row for each:
        // `execute_batch` steps a statement once, so every batch freed one
        // page, and a prune with nothing left to remove ran a whole batch
        // (the keep set, the search, a commit) per free page: 193 of them,
        // 8 s of the store thread, at a daemon's start after 52,000 items'
        // stories were reset. Stepped to the end here.
        {
            let mut vacuum = self
                .conn
                .prepare(&format!("PRAGMA incremental_vacuum({vacuum_pages})"))?;
            let mut steps = vacuum.query([])?;
            while steps.next()?.is_some() {}
        }
        let free_after = self.freelist()?;
        Ok(PruneBatch {
            items,
            stories,
            vacuumed_pages: (free_before - free_after).max(0) as u64,
            free_pages: free_after.max(0) as u64,
        })
    }

    fn close(mut self: Box<Self>) {
        // The hook holds the checkpointer's only sender: taking it off
        // ends the thread.
        type Hook = fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>;
        let _ = self.conn.wal_hook(None::<Hook>);
        drop(self.checkpointer.take());
        // Fold the WAL back so the file is complete on its own.
        let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(error = %e, "closing the database failed");
        }
    }

    fn sync_feeds(&mut self, feeds: &[FeedSpec]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO feeds (url, config_title, tags) VALUES (?1, ?2, ?3)
                 ON CONFLICT(url) DO UPDATE SET config_title = excluded.config_title, tags = excluded.tags",
            )?;
            for f in feeds {
                let tags = (!f.tags.is_empty()).then(|| f.tags.join(" "));
                up.execute(params![f.url, f.title, tags])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn feed_state(&mut self, url: &str) -> Result<FeedState, StoreError> {
        let st = self
            .conn
            .prepare_cached(
                "SELECT etag, last_modified, body_hash, error_count, effective_url
                 FROM feeds WHERE url = ?1",
            )?
            .query_row([url], |r| {
                Ok(FeedState {
                    etag: r.get(0)?,
                    last_modified: r.get(1)?,
                    body_hash: r.get(2)?,
                    error_count: r.get(3)?,
                    effective_url: r.get(4)?,
                })
            })
            .optional()?;
        Ok(st.unwrap_or_default())
    }
    fn record_unchanged(&mut self, feed_url: &str, rec: &PollRecord) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let done = ingest_into(&tx, None, feed_url, None, rec)?;
        tx.commit()?;
        self.note(done);
        Ok(())
    }

    /// Several feeds' polls in one transaction. A feed whose write fails
    /// is rolled back alone and gets the error; the others are stored. A
    /// failed commit fails them all.
    ///
    /// The batch is first written without a savepoint per feed: a
    /// savepoint makes SQLite copy every page it changes aside first, a
    /// tenth of the store thread's time in a first poll, for failures that
    /// almost never happen. Should one feed fail, the whole transaction is
    /// rolled back and the batch written again, each feed in a savepoint.
    fn ingest_batch(
        &mut self,
        mut work: Vec<(String, ParsedFeed, PollRecord)>,
        topics: &dyn TopicMatcher,
    ) -> Vec<Result<IngestStats, StoreError>> {
        let n = work.len();
        // `isolate`: each feed in a savepoint, its failure its own.
        let write = |conn: &mut Connection,
                     work: &mut [(String, ParsedFeed, PollRecord)],
                     isolate: bool| {
            let mut tx = conn.transaction()?;
            let mut out = Vec::with_capacity(n);
            for (url, feed, rec) in work.iter_mut() {
                if isolate {
                    let sp = tx.savepoint()?;
                    let r = ingest_into(&sp, Some(topics), url, Some(feed), rec);
                    if r.is_ok() {
                        sp.commit()?;
                    }
                    out.push(r);
                } else {
                    out.push(Ok(ingest_into(&tx, Some(topics), url, Some(feed), rec)?));
                }
            }
            tx.commit()?;
            Ok::<_, StoreError>(out)
        };
        let first = match write(&mut self.conn, &mut work, false) {
            Err(e) if n > 1 => {
                tracing::debug!(error = %e, feeds = n, "a feed of the batch failed to store; storing each apart");
                write(&mut self.conn, &mut work, true)
            }
            done => done,
        };
        match first {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map(|done| self.note(done)))
                .collect(),
            Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
        }
    }

    fn items_since(&mut self, since: DateTime<Utc>) -> Result<Vec<StoredItem>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM ({ITEM_ROW} WHERE i.sort_time >= ?1) m
             JOIN (SELECT i.id AS iid, coalesce(f.config_title, f.title, f.url) AS ftitle,
                          i.story_id AS sid,
                          (SELECT count(*) FROM items x WHERE x.story_id = i.story_id) AS ssize
                   FROM items i JOIN feeds f ON f.id = i.first_feed_id) t ON t.iid = m.id
             ORDER BY m.sort_time DESC, m.id DESC"
        ))?;
        let rows = st
            .query_map([ts(since)], |r| {
                let m = read_match_row(r)?;
                Ok(StoredItem {
                    date: from_ts(Some(m.sort_time)).unwrap_or_default(),
                    feed_title: r.get(11)?,
                    story: r.get(12)?,
                    story_size: r.get(13)?,
                    title: m.title,
                    summary: m.summary,
                    content: m.content,
                    author: m.author,
                    categories: m.categories.unwrap_or_default(),
                    feed_urls: m.urls,
                    feed_labels: m.feed_labels,
                    language: m.language,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn record_failure(
        &mut self,
        feed_url: &str,
        status: &str,
        error: &str,
        now: DateTime<Utc>,
        next_poll: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let feed_id = feed_row(&tx, feed_url)?;
        tx.execute(
            "UPDATE feeds SET last_attempt = ?2, last_status = ?3, last_error = ?4, next_poll = ?5,
                    error_count = error_count + 1
             WHERE id = ?1",
            params![feed_id, ts(now), status, error, next_poll.map(ts)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn stats(&mut self, counts: Counts) -> Result<StoreStats, StoreError> {
        let one = |sql: &str| -> Result<i64, StoreError> {
            Ok(self
                .conn
                .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?
                .unwrap_or(0))
        };
        let db_bytes = one("PRAGMA page_count")? * one("PRAGMA page_size")?;
        let summary = summary(one, db_bytes)?;
        if counts == Counts::Summary {
            return Ok(summary);
        }
        let count = |n: i64| n.max(0) as u64;
        let topic_items = self
            .conn
            .prepare_cached("SELECT slug, count(*) FROM topic_items GROUP BY slug ORDER BY slug")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .map(|r| r.map(|(s, n)| (s, count(n))))
            .collect::<Result<_, _>>()?;
        let week_ago = ts(Utc::now()) - 7 * 86_400;
        let story_sizes = self
            .conn
            .prepare_cached(STORY_SIZES)?
            .query_map([week_ago], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .map(|r| r.map(|(a, b)| (count(a), count(b))))
            .collect::<Result<_, _>>()?;
        let push_states = self
            .conn
            .prepare_cached(
                "SELECT state, count(*) FROM websub_subscriptions GROUP BY state ORDER BY state",
            )?
            .query_map([], |r| {
                Ok((PushState::parse(&r.get::<_, String>(0)?), count(r.get(1)?)))
            })?
            .collect::<Result<_, _>>()?;
        let kept_pushes = count(self.conn.query_row(
            "SELECT count(*) FROM websub_inbox",
            [],
            |r| r.get(0),
        )?);
        Ok(StoreStats {
            topic_items,
            story_sizes,
            push_states,
            kept_pushes,
            ..summary
        })
    }

    fn feeds(&mut self) -> Result<Vec<FeedStatus>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT f.url, coalesce(f.config_title, f.title), f.last_status, f.last_error,
                    f.last_attempt, f.last_success, f.next_poll, f.error_count, f.effective_url,
                    (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id), w.state
             FROM feeds f LEFT JOIN websub_subscriptions w ON w.feed_url = f.url
             ORDER BY f.url",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(FeedStatus {
                    url: r.get(0)?,
                    title: r.get(1)?,
                    last_status: r.get(2)?,
                    last_error: r.get(3)?,
                    last_attempt: from_ts(r.get(4)?),
                    last_success: from_ts(r.get(5)?),
                    next_poll: from_ts(r.get(6)?),
                    error_count: r.get(7)?,
                    effective_url: r.get(8)?,
                    items: r.get(9)?,
                    push: r
                        .get::<_, Option<String>>(10)?
                        .as_deref()
                        .map(PushState::parse),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn topic_entries(
        &mut self,
        slug: &str,
        limit: usize,
        by_story: bool,
        offset: usize,
    ) -> Result<TopicEntries, StoreError> {
        let defined_at: Option<i64> = self
            .conn
            .query_row("SELECT changed FROM topics WHERE slug = ?1", [slug], |r| {
                r.get(0)
            })
            .optional()?;
        let entries = if by_story {
            self.topic_stories(slug, limit, offset)?
        } else {
            self.conn
                .prepare_cached(&format!(
                    "{ENTRY_SELECT}, t.matched FROM topic_items t
                     JOIN items i ON i.id = t.item_id
                     JOIN feeds f ON f.id = i.first_feed_id
                     WHERE t.slug = ?1
                     ORDER BY t.sort_time DESC, t.item_id DESC
                     LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![slug, limit as i64, offset as i64], |r| {
                    let mut e = read_entry(r)?;
                    e.matched = lines(r.get(16)?);
                    Ok(e)
                })?
                .collect::<Result<_, _>>()?
        };
        // Every entry on every page, so the publisher can link the last page.
        let total: i64 = self
            .conn
            .prepare_cached(if by_story {
                "SELECT count(DISTINCT i.story_id) FROM topic_items t JOIN items i ON i.id = t.item_id
                 WHERE t.slug = ?1"
            } else {
                "SELECT count(*) FROM topic_items WHERE slug = ?1"
            })?
            .query_row([slug], |r| r.get(0))?;
        Ok(TopicEntries {
            entries,
            defined_at: from_ts(defined_at).unwrap_or_default(),
            total: usize::try_from(total).unwrap_or_default(),
        })
    }

    /// A story by its number or uid, with its members.
    fn story(&mut self, key: &str) -> Result<Option<StoryDetail>, StoreError> {
        let found: Option<(i64, String, String)> = self
            .conn
            .query_row(
                "SELECT s.id, s.uid, i.uid FROM stories s JOIN items i ON i.id = s.lead_item_id
                 WHERE s.uid = ?1 OR CAST(s.id AS TEXT) = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match found {
            None => Ok(None),
            Some((id, uid, lead_uid)) => Ok(Some(StoryDetail {
                id,
                uid,
                lead_uid,
                members: self.story_members(id)?,
            })),
        }
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "rolling back a transaction failed");
        }
    }

    fn topic_fingerprints(&mut self) -> Result<HashMap<String, String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT slug, fingerprint FROM topics")?;
        let known = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(known)
    }

    fn remove_topic(&mut self, slug: &str) -> Result<(), StoreError> {
        self.touched.slugs.insert(slug.to_string());
        self.conn
            .execute("DELETE FROM topic_items WHERE slug = ?1", [slug])?;
        self.conn
            .execute("DELETE FROM topics WHERE slug = ?1", [slug])?;
        Ok(())
    }

    fn reset_topic(&mut self, slug: &str, fingerprint: &str, now: i64) -> Result<(), StoreError> {
        self.touched.slugs.insert(slug.to_string());
        self.conn
            .execute("DELETE FROM topic_items WHERE slug = ?1", [slug])?;
        self.conn.execute(
            "INSERT INTO topics (slug, fingerprint, changed) VALUES (?1, ?2, ?3)
             ON CONFLICT(slug) DO UPDATE SET fingerprint = excluded.fingerprint, changed = excluded.changed",
            params![slug, fingerprint, now],
        )?;
        Ok(())
    }

    fn items_to_match(&mut self, after: i64, limit: usize) -> Result<Vec<MatchRow>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(&format!(
                "{ITEM_ROW} WHERE i.id > ?1 ORDER BY i.id LIMIT ?2"
            ))?
            .query_map(params![after, limit as i64], read_match_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn add_to_topic(
        &mut self,
        slug: &str,
        item: i64,
        sort_time: i64,
        why: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(INSERT_MEMBER)?
            .execute(params![slug, item, sort_time, why])?;
        Ok(())
    }

    fn waiting_for_story(&mut self, limit: usize) -> Result<Vec<i64>, StoreError> {
        let pending = self
            .conn
            .prepare_cached(PENDING)?
            .query_map([limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(pending)
    }

    fn grouping_input(&mut self, item: i64) -> Result<GroupingInput, StoreError> {
        let input = self
            .conn
            .prepare_cached(
                "SELECT uid, title, summary, content, sort_time, first_feed_id FROM items WHERE id = ?1",
            )?
            .query_row([item], |r| {
                Ok(GroupingInput {
                    uid: r.get(0)?,
                    title: r.get(1)?,
                    summary: r.get(2)?,
                    content: r.get(3)?,
                    sort_time: r.get(4)?,
                    feed: r.get(5)?,
                })
            })?;
        Ok(input)
    }

    fn next_story_id(&mut self) -> Result<i64, StoreError> {
        // What SQLite itself gives an INTEGER PRIMARY KEY row.
        let id = self
            .conn
            .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM stories")?
            .query_row([], |r| r.get(0))?;
        Ok(id)
    }

    fn stories_numbered_below(&mut self, _next: i64) -> Result<(), StoreError> {
        // The next number is always read from the table.
        Ok(())
    }

    fn new_story(
        &mut self,
        id: i64,
        uid: &str,
        now: i64,
        sort_time: i64,
        lead: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO stories (id, uid, first_seen, updated, sort_time, lead_item_id)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
            )?
            .execute(params![id, uid, now, sort_time, lead])?;
        Ok(())
    }

    fn story_grew(&mut self, story: i64, now: i64, sort_time: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE stories SET updated = ?2, sort_time = min(sort_time, ?3) WHERE id = ?1",
            )?
            .execute(params![story, now, sort_time])?;
        Ok(())
    }

    fn file_in_story(
        &mut self,
        item: i64,
        story: i64,
        sketch: &[u8],
        cites: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE items SET story_id = ?2, sketch = ?3, cites = ?4 WHERE id = ?1",
            )?
            .execute(params![item, story, sketch, cites])?;
        Ok(())
    }

    fn lead_facts(&mut self, item: i64, story: i64) -> Result<(String, i64), StoreError> {
        let facts = self
            .conn
            .prepare_cached(
                "SELECT coalesce(f.config_title, f.title, f.url),
                        (SELECT l.sort_time FROM stories s JOIN items l ON l.id = s.lead_item_id WHERE s.id = ?2)
                 FROM items i JOIN feeds f ON f.id = i.first_feed_id WHERE i.id = ?1",
            )?
            .query_row(params![item, story], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(facts)
    }

    fn lead_candidates(&mut self, story: i64) -> Result<Vec<LeadCandidate>, StoreError> {
        let members = self
            .conn
            .prepare_cached(
                "SELECT i.id, i.cites, coalesce(f.config_title, f.title, f.url), i.sort_time
                 FROM items i JOIN feeds f ON f.id = i.first_feed_id
                 WHERE i.story_id = ?1 ORDER BY i.sort_time, i.id",
            )?
            .query_map([story], |r| {
                Ok(LeadCandidate {
                    item: r.get(0)?,
                    cites: r.get(1)?,
                    feed_title: r.get(2)?,
                    sort_time: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(members)
    }

    fn set_lead(&mut self, story: i64, lead: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE stories SET lead_item_id = ?2 WHERE id = ?1")?
            .execute(params![story, lead])?;
        Ok(())
    }

    fn note_grouped(&mut self, item: i64) -> Result<(), StoreError> {
        if self.every_topic_touched()? {
            return Ok(());
        }
        // A story's entry lists every member, so a topic changes when any
        // item joins one of its stories, in it or not.
        let mut st = self.conn.prepare_cached(STORY_TOPICS)?;
        for slug in st.query_map([item], |r| r.get::<_, String>(0))? {
            self.touched.slugs.insert(slug?);
        }
        Ok(())
    }

    fn newest_grouped(&mut self) -> Result<Option<i64>, StoreError> {
        let newest = self
            .conn
            .query_row(
                "SELECT max(sort_time) FROM items WHERE story_id IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(newest)
    }

    fn sketches_between(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(Sketched),
    ) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, sketch, sort_time, story_id, first_feed_id FROM items
             WHERE story_id IS NOT NULL AND sort_time BETWEEN ?1 AND ?2 ORDER BY sort_time",
        )?;
        let mut rows = st.query([from, to])?;
        while let Some(r) = rows.next()? {
            let Some(sketch) = r.get::<_, Option<Vec<u8>>>(1)? else {
                continue;
            };
            each(Sketched {
                item: r.get(0)?,
                sketch,
                sort_time: r.get(2)?,
                story: r.get(3)?,
                feed: r.get(4)?,
            });
        }
        Ok(())
    }

    fn story_texts(&mut self, story: i64) -> Result<Option<StoryTexts>, StoreError> {
        let Some(lead) = self
            .conn
            .prepare_cached("SELECT lead_item_id FROM stories WHERE id = ?1")?
            .query_row([story], |r| r.get(0))
            .optional()?
        else {
            return Ok(None);
        };
        let mut members = Vec::new();
        let mut st = self.conn.prepare_cached(
            "SELECT id, uid, sort_time, title, summary, content FROM items
             WHERE story_id = ?1 ORDER BY sort_time, id",
        )?;
        let mut rows = st.query([story])?;
        while let Some(r) = rows.next()? {
            let (summary, content): (Option<String>, Option<String>) = (r.get(4)?, r.get(5)?);
            members.push((
                r.get::<_, String>(1)?,
                crate::cluster::MemberText {
                    item: r.get(0)?,
                    time: r.get(2)?,
                    title: r.get(3)?,
                    body: summary.or(content).unwrap_or_default(),
                },
            ));
        }
        Ok(Some(StoryTexts { lead, members }))
    }
}

/// Columns 0..=14 of an entry; `read_entry` reads them.
const ENTRY_SELECT: &str =
    "SELECT i.uid, i.title, coalesce(i.canonical_url, i.link), i.summary, i.content, i.author,
        i.published, i.updated, i.first_seen, i.sort_time,
        f.url, coalesce(f.config_title, f.title, f.url), f.site_url, f.feed_ident, i.story_id,
        f.language";

fn read_entry(r: &rusqlite::Row) -> rusqlite::Result<Entry> {
    let first_seen = from_ts(r.get(8)?).unwrap_or_default();
    Ok(Entry {
        uid: r.get(0)?,
        title: r.get(1)?,
        link: r.get(2)?,
        summary: r.get(3)?,
        content: r.get(4)?,
        author: r.get(5)?,
        published: from_ts(r.get(6)?),
        updated: from_ts(r.get(7)?),
        first_seen,
        sort_time: from_ts(r.get(9)?).unwrap_or(first_seen),
        source: SourceFeed {
            url: r.get(10)?,
            title: r.get(11)?,
            site_url: r.get(12)?,
            ident: r.get(13)?,
            language: r.get(15)?,
        },
        matched: Vec::new(),
        story: None,
    })
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    if version == 0 {
        // A new file: the mode must be set before its first table exists.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        match step {
            Migration::Sql(sql) => {
                let tx = conn.transaction()?;
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
                tx.commit()?;
            }
            Migration::IncrementalAutoVacuum => {
                let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
                if mode != AUTO_VACUUM_INCREMENTAL {
                    // Databases from before this step are small (nothing was
                    // ever pruned), so the one-off rewrite is quick. Should it
                    // be interrupted, the step simply runs again.
                    tracing::info!(
                        "switching the database to incremental auto-vacuum (a one-off VACUUM)"
                    );
                    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
                    conn.execute_batch("VACUUM")?;
                }
                conn.pragma_update(None, "user_version", (i + 1) as i64)?;
            }
            Migration::Rebuild(sql) => {
                tracing::info!(
                    version = i + 1,
                    "rebuilding a table of the database (once; a large database takes a while)"
                );
                // A no-op inside a transaction, hence before it.
                conn.pragma_update(None, "foreign_keys", "OFF")?;
                let rebuilt = (|| {
                    let tx = conn.transaction()?;
                    tx.execute_batch(sql)?;
                    let broken: i64 =
                        tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                            r.get(0)
                        })?;
                    if broken > 0 {
                        // Rolled back when `tx` drops: the old table stays.
                        return Err(StoreError::Migration {
                            path: path.to_path_buf(),
                            version: i + 1,
                            reason: format!("{broken} rows would refer to missing rows"),
                        });
                    }
                    tx.pragma_update(None, "user_version", (i + 1) as i64)?;
                    tx.commit()?;
                    Ok(())
                })();
                conn.pragma_update(None, "foreign_keys", "ON")?;
                rebuilt?;
            }
        }
        tracing::info!(version = i + 1, "database schema migrated");
    }
    Ok(())
}

/// `PRAGMA auto_vacuum` reads 2 in incremental mode.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;

/// Fills `temp.prune_keep` with the items pruning must leave alone because
/// a topic feed shows them: each topic's `limit` newest items, and in a
/// topic shown by story every member of its `limit` newest stories (an
/// entry lists them all). Topics in the database that the running config
/// does not describe (none should be) get the default limit, both ways.
fn fill_keep(tx: &Transaction, topics: &[Topic]) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS prune_keep (id INTEGER PRIMARY KEY);
         DELETE FROM temp.prune_keep;",
    )?;
    let slugs: Vec<String> = tx
        .prepare_cached("SELECT slug FROM topics")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for slug in slugs {
        let (limit, by_story) = topics
            .iter()
            .find(|t| t.slug == slug)
            .map_or((100, true), |t| (t.limit as i64, t.by_story));
        tx.prepare_cached(
            "INSERT OR IGNORE INTO temp.prune_keep
             SELECT item_id FROM topic_items WHERE slug = ?1
             ORDER BY sort_time DESC, item_id DESC LIMIT ?2",
        )?
        .execute(params![slug, limit])?;
        if by_story {
            // The same stories `topic_stories` publishes.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO temp.prune_keep
                 SELECT m.id FROM items m WHERE m.story_id IN (
                     SELECT s.id FROM stories s
                     WHERE s.id IN (SELECT i.story_id FROM topic_items t JOIN items i ON i.id = t.item_id
                                    WHERE t.slug = ?1)
                     ORDER BY s.sort_time DESC, s.id DESC LIMIT ?2)",
            )?
            .execute(params![slug, limit])?;
        }
    }
    Ok(())
}

/// Why each member of a story is in a topic. CROSS JOIN makes SQLite start
/// from the story's few members: left to itself it walked every item of
/// the topic for each story (2 s per rebuild of a 25,000-item topic).
const STORY_WHYS: &str =
    "SELECT t.matched FROM items i CROSS JOIN topic_items t ON t.slug = ?1 AND t.item_id = i.id
     WHERE i.story_id = ?2 ORDER BY i.sort_time, i.id";

/// (members, stories) over the stories updated since ?1. Each story's
/// members are counted from its row: written as `story_id IN (SELECT ...)`,
/// SQLite first built the list of the week's stories in memory, 14 MB in
/// 435,000 allocations at 480,000 stories.
const STORY_SIZES: &str = "SELECT n, count(*) FROM (
         SELECT (SELECT count(*) FROM items i WHERE i.story_id = s.id) n
         FROM stories s WHERE s.updated >= ?1)
     WHERE n > 0 GROUP BY n ORDER BY n";

/// The topics holding any member of an item's story.
const STORY_TOPICS: &str =
    "SELECT DISTINCT t.slug FROM items x JOIN items i ON i.story_id = x.story_id
     JOIN topic_items t ON t.item_id = i.id WHERE x.id = ?1";

/// What one feed's ingest did, for `Db::note` once it is committed.
struct Ingested {
    stats: IngestStats,
    touched: HashSet<String>,
    feed_changed: bool,
}

/// Writes one poll's items and the feed's new state, inside the caller's
/// transaction or savepoint.
fn ingest_into(
    conn: &Connection,
    topics: Option<&dyn TopicMatcher>,
    feed_url: &str,
    feed: Option<&mut ParsedFeed>,
    rec: &PollRecord,
) -> Result<Ingested, StoreError> {
    let feed_id = feed_row(conn, feed_url)?;
    let mut stats = IngestStats::default();
    let mut touched = HashSet::new();
    let mut feed_changed = false;
    if let (Some(feed), Some(topics)) = (feed, topics) {
        // The feed's own title first, so items are matched with the labels
        // a later re-evaluation will see. Only a real change counts:
        // atom:source in every topic shows these.
        feed_changed =
            conn.prepare_cached(
                "UPDATE feeds SET title = ?2, site_url = ?3, feed_ident = ?4, language = ?5
                 WHERE id = ?1 AND (title IS NOT ?2 OR site_url IS NOT ?3 OR feed_ident IS NOT ?4
                                    OR language IS NOT ?5)",
            )?
            .execute(params![
                feed_id,
                feed.title,
                feed.site_url,
                feed.id,
                feed.language
            ])? > 0;
        // Matches made on the parser's thread count only if they were made
        // with the topics and labels in force here.
        let matched = match &feed.matched {
            Some(m) => {
                let labels: String = conn
                    .prepare_cached(concat!(
                        "SELECT ",
                        feed_label!(),
                        " FROM feeds f WHERE f.id = ?1"
                    ))?
                    .query_row([feed_id], |r| r.get(0))?;
                topics.current(m, &labels).then_some(m)
            }
            _ => None,
        };
        let mut pre = matched.map(|m| m.per_item.iter());
        let source = Source { feed_id, feed_url };
        for item in &feed.items {
            let pre_matched = pre.as_mut().and_then(Iterator::next).map(Vec::as_slice);
            touched.extend(add_item(
                conn,
                topics,
                &source,
                item,
                pre_matched,
                rec.at,
                &mut stats,
            )?);
        }
    }
    conn.prepare_cached(
        // A 304 or the same bytes say nothing new: a feed whose document
        // had no items (or needed repair) keeps saying so, rather than
        // turning into a healthy-looking "not-modified".
        "UPDATE feeds SET last_attempt = ?2, last_success = ?2,
                last_status = CASE WHEN ?9 AND last_status IN ('no-items', 'malformed')
                                   THEN last_status ELSE ?3 END,
                last_error = CASE WHEN ?9 AND last_status IN ('no-items', 'malformed')
                                  THEN last_error ELSE ?10 END,
                next_poll = ?4, error_count = 0,
                etag = coalesce(?5, etag), last_modified = coalesce(?6, last_modified),
                body_hash = coalesce(?7, body_hash), effective_url = coalesce(?8, effective_url)
         WHERE id = ?1",
    )?
    .execute(params![
        feed_id,
        ts(rec.at),
        rec.status.as_str(),
        ts(rec.next_poll),
        rec.etag,
        rec.last_modified,
        rec.body_hash,
        rec.moved_to,
        rec.status.is_repeat(),
        rec.note
    ])?;
    Ok(Ingested {
        stats,
        touched,
        feed_changed,
    })
}

/// The feed an ingest's items came from.
struct Source<'a> {
    feed_id: i64,
    feed_url: &'a str,
}

fn feed_row(tx: &Connection, url: &str) -> Result<i64, StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO feeds (url) VALUES (?1)")?
        .execute([url])?;
    Ok(tx
        .prepare_cached("SELECT id FROM feeds WHERE url = ?1")?
        .query_row([url], |r| r.get(0))?)
}

/// Adds one parsed entry: new item, new source of a known item, or nothing.
fn add_item(
    tx: &Connection,
    topics: &dyn TopicMatcher,
    source: &Source,
    item: &NewItem,
    pre_matched: Option<&[(usize, String)]>,
    now: DateTime<Utc>,
    stats: &mut IngestStats,
) -> Result<Vec<String>, StoreError> {
    let Source { feed_id, feed_url } = *source;
    let known: Option<i64> = tx
        .prepare_cached("SELECT item_id FROM item_sources WHERE feed_id = ?1 AND entry_key = ?2")?
        .query_row(params![feed_id, item.entry_key], |r| r.get(0))
        .optional()?;
    if known.is_some() {
        stats.unchanged += 1;
        return Ok(Vec::new());
    }
    let same_url: Option<i64> = match &item.canonical_url {
        Some(c) => tx
            .prepare_cached("SELECT id FROM items WHERE canonical_url = ?1")?
            .query_row([c], |r| r.get(0))
            .optional()?,
        None => None,
    };
    // A new item's topics were decided on the parser's thread
    // (`ParsedFeed::match_topics`). A known one, seen again in another
    // feed, is matched again as stored, with all its feeds.
    let mut fresh: Option<(i64, &[(usize, String)])> = None;
    let item_id = match same_url {
        Some(found) => {
            stats.new_sources += 1;
            found
        }
        None => {
            // A date in the future or none at all would let an item jump
            // the order: such items sort by when we first saw them.
            let first_seen = ts(now);
            let sort_time = item
                .published
                .or(item.updated)
                .map_or(first_seen, |d| ts(d).min(first_seen));
            let categories = (!item.categories.is_empty()).then(|| item.categories.join("\n"));
            tx.prepare_cached(
                "INSERT INTO items (uid, canonical_url, link, title, summary, content, author,
                                    categories, published, updated, first_seen, sort_time, first_feed_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                item.uid(feed_url),
                item.canonical_url,
                item.link,
                item.title,
                item.summary,
                item.content,
                item.author,
                categories,
                item.published.map(ts),
                item.updated.map(ts),
                first_seen,
                sort_time,
                feed_id
            ])?;
            stats.new_items += 1;
            fresh = pre_matched.map(|m| (sort_time, m));
            tx.last_insert_rowid()
        }
    };
    tx.prepare_cached(
        "INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![feed_id, item.entry_key, item_id, ts(now)])?;

    if topics.is_empty() {
        return Ok(Vec::new());
    }
    // Membership depends on every feed the item was seen in (topic feed
    // filters), so a new source can bring a known item into a topic. The
    // text matched is the stored item's, whichever feed brought it.
    let rematched;
    let (sort_time, matches) = match fresh {
        Some(f) => f,
        None => {
            let row = tx
                .prepare_cached(&format!("{ITEM_ROW} WHERE i.id = ?1"))?
                .query_row([item_id], read_match_row)?;
            rematched = topics.match_row(&row);
            (row.sort_time, rematched.as_slice())
        }
    };
    let mut ins = tx.prepare_cached(INSERT_MEMBER)?;
    let mut touched = Vec::new();
    for (i, why) in matches {
        let Some(slug) = topics.slug(*i) else {
            continue;
        };
        ins.execute(params![slug, item_id, sort_time, why])?;
        touched.push(slug.to_string());
    }
    Ok(touched)
}

/// A `websub_subscriptions` row read as `push_columns!` lists them.
fn push_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PushSubscription> {
    Ok(PushSubscription {
        feed_url: r.get(0)?,
        hub: r.get(1)?,
        topic: r.get(2)?,
        state: PushState::parse(&r.get::<_, String>(3)?),
        token: r.get(4)?,
        secret: r.get(5)?,
        lease_until: r.get(6)?,
        renew_at: r.get(7)?,
        requested: r.get(8)?,
        error: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps SQLite plans for `sql` on a fresh database.
    fn plan(sql: &str, args: impl rusqlite::Params) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(args, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn kept_pushes_and_subscription_claims() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("t.db")).unwrap();
        crate::storage::backend::shared_tests::inbox_and_claims(&mut db);
    }

    #[test]
    fn waiting_items_are_read_in_order_without_sorting_them_all() {
        let plan = plan(PENDING, [256]);
        assert!(
            plan.iter().any(|step| step.contains("items_pending"))
                && plan.iter().all(|step| !step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }

    #[test]
    fn grouping_finds_a_story_s_topics_through_an_index() {
        let plan = plan(STORY_TOPICS, [1]);
        // A scan of topic_items per new copy made grouping quadratic.
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_story_s_reasons_are_read_from_its_members_not_the_whole_topic() {
        let plan = plan(STORY_WHYS, params!["t", 1]);
        assert!(
            plan.first().is_some_and(|s| s.contains("items_story")),
            "{plan:?}"
        );
    }

    #[test]
    fn story_sizes_count_the_week_s_stories_and_a_summary_skips_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("t.db")).unwrap();
        let now = ts(Utc::now());
        db.conn
            .execute_batch(&format!(
                "INSERT INTO feeds (id, url) VALUES (1, 'https://a.example/');
                 INSERT INTO items (id, uid, title, first_seen, sort_time, first_feed_id)
                 VALUES (1, 'u1', 'a', {now}, {now}, 1), (2, 'u2', 'b', {now}, {now}, 1),
                        (3, 'u3', 'c', {now}, {now}, 1), (4, 'u4', 'd', 1, 1, 1);
                 INSERT INTO stories (id, uid, first_seen, updated, sort_time, lead_item_id)
                 VALUES (1, 's1', {now}, {now}, {now}, 1), (2, 's2', {now}, {now}, {now}, 3),
                        (3, 's3', 1, 1, 1, 4);
                 UPDATE items SET story_id = CASE id WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 ELSE 3 END;
                 INSERT INTO topic_items (slug, item_id, sort_time) VALUES ('t', 1, {now});"
            ))
            .unwrap();
        let full = db.stats(Counts::Full).unwrap();
        // Story 3 last changed long before the week.
        assert_eq!(full.story_sizes, [(1, 1), (2, 1)]);
        assert_eq!(full.topic_items, [("t".to_owned(), 1)]);
        let summary = db.stats(Counts::Summary).unwrap();
        for s in [&full, &summary] {
            assert_eq!((s.feeds, s.items, s.stories), (1, 4, 3));
        }
        assert!(summary.story_sizes.is_empty() && summary.topic_items.is_empty());
        let plan = plan(STORY_SIZES, [0]);
        assert!(
            plan.iter().all(|step| !step.contains("LIST SUBQUERY")),
            "{plan:?}"
        );
    }

    fn auto_vacuum(path: &Path) -> i64 {
        let c = Connection::open(path).unwrap();
        c.pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_stored_feed_label_is_the_one_topics_match_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        for (url, title, tags) in [
            (
                "https://a.example/rss",
                Some("TASS"),
                vec!["ru".to_string(), "wire".to_string()],
            ),
            ("https://b.example/rss", None, vec![]),
        ] {
            let joined = (!tags.is_empty()).then(|| tags.join(" "));
            db.conn
                .execute(
                    "INSERT INTO feeds (url, config_title, tags) VALUES (?1, ?2, ?3)",
                    params![url, title, joined],
                )
                .unwrap();
            let stored: String = db
                .conn
                .query_row(
                    concat!("SELECT ", feed_label!(), " FROM feeds f WHERE f.url = ?1"),
                    [url],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stored, crate::topics::feed_labels(url, title, &tags));
        }
    }

    #[test]
    fn a_new_database_is_incremental_from_its_first_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Box::new(Db::open(&path).unwrap()).close();
        assert_eq!(auto_vacuum(&path), AUTO_VACUUM_INCREMENTAL);
    }

    /// A database as feedsift left it at schema 7, with a story of two
    /// items from two feeds in a topic, plus `extra` SQL run with foreign
    /// keys off.
    fn schema_7_database(path: &Path, extra: &str) {
        let c = Connection::open(path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        for step in &MIGRATIONS[..7] {
            if let Migration::Sql(sql) = step {
                c.execute_batch(sql).unwrap();
            }
        }
        c.pragma_update(None, "user_version", 7).unwrap();
        c.execute_batch(
            "INSERT INTO feeds (id, url) VALUES (1, 'https://a.example/'), (2, 'https://b.example/');
             INSERT INTO items (id, uid, canonical_url, title, first_seen, sort_time, first_feed_id)
             VALUES (10, 'u1', 'https://a.example/1', 'one', 1, 1, 1),
                    (20, 'u2', 'https://b.example/2', 'two', 2, 2, 2);
             INSERT INTO stories (id, uid, first_seen, updated, sort_time, lead_item_id)
             VALUES (5, 's5', 1, 2, 1, 10);
             UPDATE items SET story_id = 5, sketch = x'0102', cites = 'TASS';
             INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen)
             VALUES (1, 'k1', 10, 1), (2, 'k2', 20, 2);
             INSERT INTO topic_items (slug, item_id, sort_time, matched) VALUES ('t', 10, 1, 'why');",
        )
        .unwrap();
        c.pragma_update(None, "foreign_keys", "OFF").unwrap();
        c.execute_batch(extra).unwrap();
    }

    fn one(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn items_are_rebuilt_without_the_uid_index_keeping_every_row_and_reference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seven.db");
        schema_7_database(&path, "");
        let db = Db::open(&path).unwrap();
        let c = &db.conn;
        assert_eq!(one(c, "PRAGMA user_version"), MIGRATIONS.len() as i64);
        assert_eq!(
            one(
                c,
                "SELECT count(*) FROM items WHERE id IN (10, 20) AND story_id = 5 AND sketch = x'0102' AND cites = 'TASS'"
            ),
            2
        );
        assert_eq!(
            one(
                c,
                "SELECT count(*) FROM item_sources JOIN items ON items.id = item_id"
            ),
            2
        );
        assert_eq!(
            one(
                c,
                "SELECT count(*) FROM topic_items JOIN items ON items.id = item_id"
            ),
            1
        );
        // No index covers uid any more; the other indexes are back.
        assert_eq!(
            one(
                c,
                "SELECT count(*) FROM pragma_index_list('items') l, pragma_index_info(l.name) i WHERE i.name = 'uid'"
            ),
            0
        );
        assert_eq!(
            one(
                c,
                "SELECT count(*) FROM pragma_index_list('items') WHERE name IN ('items_story', 'items_sort', 'items_first_seen')"
            ),
            3
        );
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        // Foreign keys are enforced again, against the new table.
        assert_eq!(one(c, "PRAGMA foreign_keys"), 1);
        assert!(
            c.execute("INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen) VALUES (1, 'k9', 999, 1)", [])
                .is_err()
        );
        // The same canonical URL still cannot be stored twice.
        assert!(
            c.execute("INSERT INTO items (uid, canonical_url, title, first_seen, sort_time, first_feed_id) VALUES ('u3', 'https://a.example/1', 'x', 3, 3, 1)", [])
                .is_err()
        );
        Box::new(db).close();
    }

    #[test]
    fn a_rebuild_that_would_break_references_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.db");
        schema_7_database(
            &path,
            "INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen) VALUES (1, 'gone', 77, 1);",
        );
        let err = Db::open(&path).err().expect("refused");
        assert!(
            err.to_string()
                .contains("cannot upgrade the database to schema 8"),
            "{err}"
        );
        let c = Connection::open(&path).unwrap();
        assert_eq!(one(&c, "PRAGMA user_version"), 7);
        assert_eq!(one(&c, "SELECT count(*) FROM items"), 2);
        // The old table, with its uid index, is still there.
        assert_eq!(
            one(
                &c,
                "SELECT count(*) FROM pragma_index_list('items') l, pragma_index_info(l.name) i WHERE i.name = 'uid'"
            ),
            1
        );
    }

    #[test]
    fn an_existing_database_is_switched_to_incremental_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // As feedsift left it before migration 5: WAL, no auto-vacuum.
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            for step in &MIGRATIONS[..4] {
                if let Migration::Sql(sql) = step {
                    c.execute_batch(sql).unwrap();
                }
            }
            c.pragma_update(None, "user_version", 4).unwrap();
            c.execute_batch(
                "INSERT INTO feeds (url) VALUES ('https://a.example/');
                 INSERT INTO items (uid, title, first_seen, sort_time, first_feed_id)
                 VALUES ('u', 't', 1, 1, 1);",
            )
            .unwrap();
        }
        assert_eq!(auto_vacuum(&path), 0);
        let db = Db::open(&path).unwrap();
        let items: i64 = db
            .conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        let version: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        Box::new(db).close();
        assert_eq!((items, version), (1, MIGRATIONS.len() as i64));
        assert_eq!(auto_vacuum(&path), AUTO_VACUUM_INCREMENTAL);
    }

    #[test]
    fn the_log_is_copied_into_the_database_by_the_checkpoint_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::open(&path).unwrap();
        let wal = path.with_extension("db-wal");
        let before = CHECKPOINTS.load(std::sync::atomic::Ordering::Relaxed);
        db.conn.execute("CREATE TABLE t (b BLOB)", []).unwrap();
        // 48 MiB in 1 MiB commits: the log passes its 32 MiB mark, and
        // the other thread copies it into the database.
        let insert = || {
            db.conn
                .execute("INSERT INTO t VALUES (zeroblob(1048576))", [])
                .unwrap()
        };
        for _ in 0..48 {
            insert();
        }
        wait_until(|| CHECKPOINTS.load(std::sync::atomic::Ordering::Relaxed) > before);
        assert!(std::fs::metadata(&path).unwrap().len() > 30 << 20);
        // Commits that never pause keep the other thread from finishing a
        // copy before the next one: past four times the mark, the writer
        // copies the log itself, so it does not grow without end.
        let mut largest_wal = 0;
        for _ in 0..160 {
            insert();
            largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
        }
        assert!(
            largest_wal < (4 * WAL_CHECKPOINT_PAGES as u64 * 4096) + (16 << 20),
            "the log grew to {largest_wal} bytes"
        );
        // Closing stops the thread (it would hang here otherwise) and
        // leaves a database complete without its log.
        Box::new(db).close();
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
        let c = Connection::open(&path).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 208);
    }

    fn wait_until(mut f: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !f() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "timed out"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
