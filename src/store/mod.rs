//! The store: every item once, the feeds it was seen in, and topic
//! membership. One thread owns the SQLite connection and runs jobs from a
//! bounded channel, so writes are serialised without locks and async tasks
//! never block on disk. Callers see only the types below, never rusqlite's,
//! so another backend can stand behind the same interface.

mod schema;
mod sqlite;
mod stories;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::parse::ParsedFeed;
use crate::topics::Topic;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error(
        "cannot open the database {path}: {reason}\n  hint: check that its folder exists and is writable, or change [storage] path"
    )]
    Open { path: PathBuf, reason: String },
    #[error("database error: {0}")]
    Sqlite(String),
    #[error(
        "the database was written by a newer feedsift (schema {found}, this one knows {known}): upgrade feedsift"
    )]
    TooNew { found: i64, known: i64 },
    #[error(
        "cannot upgrade the database to schema {version} ({path}): {reason}; nothing was changed\n  hint: `sqlite3 {path} 'PRAGMA foreign_key_check'` lists those rows; remove them, or report it"
    )]
    Migration {
        path: PathBuf,
        version: usize,
        reason: String,
    },
    #[error("the store has shut down")]
    Closed,
    #[error(
        "the disk holding the database is full: free some space there; what is stored stays served, and polls store again once there is room"
    )]
    DiskFull,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

/// What one poll of a feed added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestStats {
    /// Items never seen before in any feed.
    pub new_items: usize,
    /// Items already stored from another feed, now also seen in this one.
    pub new_sources: usize,
    /// Entries this feed had already given us.
    pub unchanged: usize,
}

/// What one prune transaction removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneBatch {
    pub items: usize,
    /// Stories whose last member went.
    pub stories: usize,
    /// Free pages given back to the file system after the transaction.
    pub vacuumed_pages: u64,
    /// Free pages still in the file.
    pub free_pages: u64,
}

/// A feed as configured, for `Store::sync_feeds`.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

/// A feed's state, for `feedsift feeds` and the scheduler.
#[derive(Debug, Clone)]
pub struct FeedStatus {
    pub url: String,
    pub title: Option<String>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub next_poll: Option<DateTime<Utc>>,
    pub error_count: u32,
    pub effective_url: Option<String>,
    pub items: i64,
}

/// Counts for status lines, health checks and metrics.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    pub feeds: u64,
    /// Feeds whose last poll failed (they wait longer before the next one).
    pub feeds_failing: u64,
    pub items: u64,
    pub stories: u64,
    /// Items per topic, by slug.
    pub topic_items: Vec<(String, u64)>,
    /// Bytes the database file holds (pages in use and free).
    pub db_bytes: u64,
    /// When any feed was last polled.
    pub last_poll: Option<DateTime<Utc>>,
    /// (members, stories of that size) over the stories a member joined
    /// in the last 7 days.
    pub story_sizes: Vec<(u64, u64)>,
}

/// What the fetcher needs to know about a feed before polling it.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    pub error_count: u32,
    /// Where the feed permanently moved, if it did.
    pub effective_url: Option<String>,
}

/// What a successful poll found, as `feedsift feeds`, the log and
/// `/metrics` name it. A feed that yields nothing is never `Ok`: an
/// operator must see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// A document with items, read as it is.
    Ok,
    /// Ill-formed XML whose complete items were read after repair.
    Malformed,
    /// A document that parsed to no items (an empty channel, or a dialect
    /// we do not read); the record's note says which.
    NoItems,
    /// 304 Not Modified.
    NotModified,
    /// The same bytes as last time.
    Unchanged,
}

impl PollStatus {
    /// The name stored in `feeds.last_status` and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::Malformed => "malformed",
            PollStatus::NoItems => "no-items",
            PollStatus::NotModified => "not-modified",
            PollStatus::Unchanged => "unchanged",
        }
    }

    /// Nothing new was read: the feed keeps what its last document said.
    pub fn is_repeat(self) -> bool {
        matches!(self, PollStatus::NotModified | PollStatus::Unchanged)
    }
}

impl std::fmt::Display for PollStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a successful poll, recorded with or without new items.
#[derive(Debug, Clone)]
pub struct PollRecord {
    pub status: PollStatus,
    /// Why the status is what it is (no items, repaired XML); kept in the
    /// feed's last error, shown by `feedsift feeds`.
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    pub next_poll: DateTime<Utc>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    /// Set when the feed just moved permanently.
    pub moved_to: Option<String>,
}

/// The feed an entry came from, for atom:source.
#[derive(Debug, Clone)]
pub struct SourceFeed {
    pub url: String,
    pub title: String,
    pub site_url: Option<String>,
    pub ident: Option<String>,
    /// The feed's declared language (`xml:lang` on what we republish).
    pub language: Option<String>,
}

/// One item of a topic, ready to publish.
#[derive(Debug, Clone)]
pub struct Entry {
    pub uid: String,
    pub title: String,
    /// The canonical link when there is one (tracking parameters dropped).
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub sort_time: DateTime<Utc>,
    pub source: SourceFeed,
    /// Why the item is in the topic: the aliases and terms that matched.
    pub matched: Vec<String>,
    /// In a topic shown by story: the story this item leads.
    pub story: Option<StoryInfo>,
}

/// A story, as its lead entry carries it.
#[derive(Debug, Clone)]
pub struct StoryInfo {
    pub uid: String,
    pub first_seen: DateTime<Utc>,
    /// When the last source joined.
    pub updated: DateTime<Utc>,
    /// The earliest member's date.
    pub sort_time: DateTime<Utc>,
    /// Every item of the story, earliest first, the lead among them.
    pub members: Vec<Member>,
}

/// A story with all its members, for `feedsift story`.
#[derive(Debug, Clone)]
pub struct StoryDetail {
    pub id: i64,
    pub uid: String,
    pub lead_uid: String,
    pub members: Vec<Member>,
}

/// One source of a story.
#[derive(Debug, Clone)]
pub struct Member {
    pub uid: String,
    pub title: String,
    pub link: Option<String>,
    pub feed_title: String,
    pub feed_url: String,
    pub date: DateTime<Utc>,
    /// The agency this copy says it cites.
    pub cites: Option<String>,
}

/// A stored item with what a topic query looks at, for `topic test`.
#[derive(Debug, Clone)]
pub struct StoredItem {
    pub date: DateTime<Utc>,
    pub feed_title: String,
    /// The story's number and how many items it has.
    pub story: Option<i64>,
    pub story_size: i64,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    /// One per line.
    pub categories: String,
    /// Urls of the feeds it was seen in, one per line.
    pub feed_urls: String,
    /// "url title tags" of those feeds, one per line.
    pub feed_labels: String,
}

/// A topic's newest entries.
#[derive(Debug, Clone)]
pub struct TopicEntries {
    pub entries: Vec<Entry>,
    /// When the topic's definition last changed; the feed's `updated` when
    /// it has no entries.
    pub defined_at: DateTime<Utc>,
    /// How many entries the topic has on all pages together.
    pub total: usize,
}

/// Change counters of published documents, readable without the database:
/// the server keys its cache of rendered documents on them, so a request
/// for an unchanged topic costs no store round trip. The store thread bumps
/// them after each job that changed what a topic shows.
#[derive(Debug, Default)]
pub struct Versions {
    /// Bumped by changes every topic may show (a feed renamed, say).
    global: AtomicU64,
    /// Bumped by any change: for documents covering every topic.
    any: AtomicU64,
    topics: RwLock<HashMap<String, u64>>,
}

impl Versions {
    /// The version of one topic's documents; it grows whenever they change.
    pub fn topic(&self, slug: &str) -> u64 {
        let own = self
            .topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(slug)
            .copied()
            .unwrap_or(0);
        self.global.load(Ordering::Acquire) + own
    }

    /// The version of documents that cover every topic (OPML, the index).
    pub fn any(&self) -> u64 {
        self.any.load(Ordering::Acquire)
    }

    fn apply(&self, t: sqlite::Touched) {
        if !t.all && t.slugs.is_empty() {
            return;
        }
        if !t.slugs.is_empty() {
            let mut map = self
                .topics
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for slug in t.slugs {
                *map.entry(slug).or_default() += 1;
            }
        }
        if t.all {
            self.global.fetch_add(1, Ordering::AcqRel);
        }
        self.any.fetch_add(1, Ordering::AcqRel);
    }
}

type Call = Box<dyn FnOnce(&mut sqlite::Db) + Send>;

/// Work for the store thread. Ingests are their own kind so the thread can
/// write several waiting feeds in one transaction.
enum Job {
    Call(Call),
    Ingest(Box<Ingest>),
}

struct Ingest {
    feed_url: String,
    feed: ParsedFeed,
    record: PollRecord,
    reply: oneshot::Sender<Result<IngestStats, StoreError>>,
}

/// Feeds written in one transaction at most. One commit per feed was a
/// fifth of the store thread's time on a large first poll (WAL frames for
/// the same index pages, written again for every feed); 64 feeds of 50
/// items hold the thread for about a tenth of a second.
const MAX_BATCH: usize = 64;

/// A cheap, clonable handle to the store thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    versions: Arc<Versions>,
    /// The topics last installed, for matching on parser threads.
    topics: Arc<RwLock<Arc<Vec<Topic>>>>,
}

/// Large blocks on their own mappings, always. glibc's threshold for that
/// starts at 128 KiB but rises to the size of any such block freed (up to
/// 32 MiB), so after the first big buffer the story index's arrays,
/// megabytes each and rebuilt as the index grows, land in the heap, and
/// smaller blocks kept alive beside them pin the freed space: 53 MiB idle
/// against 44 MiB with the threshold held, at 10,000 feeds and 516,000
/// items (BENCHMARKS.md). 1 MiB rather than the 128 KiB start: the same
/// idle memory (256 KiB measured 44.9 MiB, 1 MiB 43.9), and feed bodies and
/// parse buffers, mostly under it, keep coming from the heap without an
/// mmap and munmap each. Call before threads start.
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and only sets glibc's own tunable.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Returns the memory a burst of work freed (a poll's parsed feeds, a
/// grouping pass) to the system. glibc keeps freed memory in each thread's
/// arena for reuse, so a daemon that once polled 1000 feeds at once went on
/// holding that peak while idle.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it walks glibc's own arenas
    // under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`.
    /// Opens for one-off commands: stories are grouped only when a topic or
    /// story is read.
    pub fn open(path: &Path, stories: crate::config::Stories) -> Result<Store, StoreError> {
        Store::open_with(path, stories, false)
    }

    /// Opens for the daemon: between jobs, the store thread also groups new
    /// items into stories, so topic feeds find them grouped.
    pub fn open_for_daemon(
        path: &Path,
        stories: crate::config::Stories,
    ) -> Result<Store, StoreError> {
        Store::open_with(path, stories, true)
    }

    fn open_with(
        path: &Path,
        stories: crate::config::Stories,
        group_when_idle: bool,
    ) -> Result<Store, StoreError> {
        let mut db = sqlite::Db::open(path, stories)?;
        db.groups_when_idle = group_when_idle;
        // Small: the writer is fast and back-pressure keeps memory bounded.
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let versions = Arc::new(Versions::default());
        let bump = versions.clone();
        let thread = std::thread::Builder::new()
            .name("feedsift-store".into())
            .spawn(move || {
                let mut db = db;
                let mut next: Option<Job> = None;
                // Work done since the daemon last gave memory back.
                let mut busy = false;
                loop {
                    // Between jobs, new items are grouped into stories in
                    // small batches, so polling never waits for it.
                    let job = match next.take().map_or_else(|| rx.try_recv(), Ok) {
                        Ok(job) => job,
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                        Err(mpsc::error::TryRecvError::Empty) if group_when_idle => {
                            let assigned = db.assign_stories(256);
                            bump.apply(db.take_touched());
                            match assigned {
                                Ok(n) if n > 0 => {
                                    busy = true;
                                    continue;
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::error!(error = %e, "cannot group items into stories")
                                }
                            }
                            // (The next job marks it busy again.)
                            if busy {
                                give_back_memory();
                            }
                            match rx.blocking_recv() {
                                Some(job) => job,
                                None => break,
                            }
                        }
                        Err(mpsc::error::TryRecvError::Empty) => match rx.blocking_recv() {
                            Some(job) => job,
                            None => break,
                        },
                    };
                    busy = true;
                    match job {
                        Job::Call(call) => call(&mut db),
                        Job::Ingest(first) => {
                            // Every ingest already waiting joins this one.
                            let mut batch = vec![first];
                            while batch.len() < MAX_BATCH {
                                match rx.try_recv() {
                                    Ok(Job::Ingest(more)) => batch.push(more),
                                    Ok(other) => {
                                        next = Some(other);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            let (work, replies): (Vec<_>, Vec<_>) = batch
                                .into_iter()
                                .map(|i| {
                                    let Ingest {
                                        feed_url,
                                        feed,
                                        record,
                                        reply,
                                    } = *i;
                                    ((feed_url, feed, record), reply)
                                })
                                .unzip();
                            let results = db.ingest_batch(work);
                            // Before the replies: whoever waited for a write
                            // sees its effect.
                            bump.apply(db.take_touched());
                            for (reply, result) in replies.into_iter().zip(results) {
                                let _ = reply.send(result);
                            }
                        }
                    }
                }
                db.close();
            })
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot start the store thread: {e}"),
            })?;
        Ok(Store {
            tx,
            thread: Arc::new(Mutex::new(Some(thread))),
            versions,
            topics: Arc::default(),
        })
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut sqlite::Db) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, rx) = oneshot::channel();
        let versions = self.versions.clone();
        let job = Job::Call(Box::new(move |db| {
            let result = f(db);
            // Before the reply: whoever waited for a write sees its effect.
            versions.apply(db.take_touched());
            let _ = reply.send(result);
        }));
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Makes sure every configured feed has a row, and records its title.
    pub async fn sync_feeds(&self, feeds: Vec<FeedSpec>) -> Result<(), StoreError> {
        self.call(move |db| db.sync_feeds(&feeds)).await
    }

    /// Installs the topics; any whose definition changed since the last run
    /// is re-evaluated over every stored item. Returns (slug, items) for the
    /// topics that were re-evaluated.
    pub async fn set_topics(
        &self,
        topics: Arc<Vec<Topic>>,
    ) -> Result<Vec<(String, usize)>, StoreError> {
        let installed = topics.clone();
        let r = self.call(move |db| db.set_topics(topics)).await?;
        if let Ok(mut t) = self.topics.write() {
            *t = installed;
        }
        Ok(r)
    }

    /// The topics in force, for `ParsedFeed::match_topics`. Matches made
    /// with topics since replaced are made again by the store.
    pub fn topics(&self) -> Arc<Vec<Topic>> {
        self.topics.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// What polling needs to know about a feed; defaults for a new one.
    pub async fn feed_state(&self, feed_url: String) -> Result<FeedState, StoreError> {
        self.call(move |db| db.feed_state(&feed_url)).await
    }

    /// Stores a successful poll's items and the feed's new state in one
    /// transaction.
    pub async fn ingest(
        &self,
        feed_url: String,
        feed: ParsedFeed,
        record: PollRecord,
    ) -> Result<IngestStats, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Ingest(Box::new(Ingest {
            feed_url,
            feed,
            record,
            reply,
        }));
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Records a successful poll that brought nothing to parse (304, or the
    /// same bytes as last time).
    pub async fn record_unchanged(
        &self,
        feed_url: String,
        record: PollRecord,
    ) -> Result<(), StoreError> {
        self.call(move |db| db.ingest(&feed_url, None, &record).map(|_| ()))
            .await
    }

    /// Records a failed poll; stored items are untouched. `next_poll` None
    /// means the feed is not polled again (410 Gone).
    pub async fn record_failure(
        &self,
        feed_url: String,
        status: String,
        error: String,
        now: DateTime<Utc>,
        next_poll: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.call(move |db| db.record_failure(&feed_url, &status, &error, now, next_poll))
            .await
    }

    /// Every item sorted at or after `since`, newest first.
    pub async fn items_since(&self, since: DateTime<Utc>) -> Result<Vec<StoredItem>, StoreError> {
        self.call(move |db| db.items_since(since)).await
    }

    pub async fn feeds(&self) -> Result<Vec<FeedStatus>, StoreError> {
        self.call(|db| db.feeds()).await
    }

    /// The newest `limit` entries of a topic, newest first: one per story
    /// when `by_story`, else one per item.
    pub async fn topic_entries(
        &self,
        slug: String,
        limit: usize,
        by_story: bool,
    ) -> Result<TopicEntries, StoreError> {
        self.topic_page(slug, limit, by_story, 0).await
    }

    /// Like `topic_entries`, skipping the newest `offset` entries: older pages.
    pub async fn topic_page(
        &self,
        slug: String,
        limit: usize,
        by_story: bool,
        offset: usize,
    ) -> Result<TopicEntries, StoreError> {
        self.call(move |db| db.topic_entries(&slug, limit, by_story, offset))
            .await
    }

    /// Counts of what the database holds; also proves it answers.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.call(|db| db.stats()).await
    }

    /// Notices commits by other processes, so cached documents built before
    /// them are rebuilt; returns whether there were any.
    pub async fn check_external_writes(&self) -> Result<bool, StoreError> {
        self.call(|db| db.check_external_writes()).await
    }

    /// The change counters of published documents.
    pub fn versions(&self) -> Arc<Versions> {
        self.versions.clone()
    }

    /// Prunes up to `max` items first seen before `cutoff` in one
    /// transaction and returns up to `vacuum_pages` free pages to the file
    /// system. Items a topic feed shows and stories with a member seen since
    /// `cutoff` are kept whole. Call again until nothing is left: other jobs
    /// (polls) run in between.
    pub async fn prune_batch(
        &self,
        cutoff: DateTime<Utc>,
        max: usize,
        vacuum_pages: u32,
    ) -> Result<PruneBatch, StoreError> {
        self.call(move |db| db.prune_batch(cutoff, max, vacuum_pages))
            .await
    }

    /// A story by its number or uid.
    pub async fn story(&self, key: String) -> Result<Option<StoryDetail>, StoreError> {
        self.call(move |db| db.story(&key)).await
    }

    /// Why each member of story `id` is in it, by item uid.
    pub async fn story_why(
        &self,
        id: i64,
    ) -> Result<Vec<(String, crate::cluster::MemberWhy)>, StoreError> {
        self.call(move |db| db.story_why(id)).await
    }

    /// Finishes queued jobs, closes the database and joins the thread.
    /// Other handles still alive keep it open until they drop.
    pub async fn close(self) {
        let thread = self.thread.clone();
        drop(self);
        let handle = thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            // Joining blocks until all handles drop and the queue drains.
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}
