//! Storage: what is persisted and the interface a backend implements.
//! The types below are all the rest of the program sees of a database;
//! `Backend` is the one way to reach one. SQLite (`sqlite.rs`) is the
//! embedded default, PostgreSQL (`postgres.rs`) the server for operators
//! who outgrow one file; topic evaluation and story grouping are not here
//! but in `crate::store`, which calls a backend through this trait.

/// `topics::feed_labels` in SQL, for feed row `f`, in both backends'
/// dialects: the one definition of the stored label format (each backend
/// has a unit test holding it to `topics::feed_labels`). Defined before
/// the backends, which use it inside `concat!`.
macro_rules! feed_label {
    () => {
        "f.url || ' ' || coalesce(f.config_title, f.title, '') || ' ' || coalesce(f.tags, '')"
    };
}

/// The columns of `websub_subscriptions` in the order both backends read
/// and write them (`PushSubscription`'s fields).
macro_rules! push_columns {
    () => {
        "feed_url, hub, topic, state, token, secret, lease_until, renew_at, requested, error"
    };
}

mod backend;
pub mod copy;
mod pg_schema;
mod postgres;
mod rows;
mod schema;
mod sqlite;

pub use backend::{
    Backend, Claim, GroupingInput, HubSubscriber, InboxPush, LeadCandidate, MatchRow,
    PushSubscription, Sketched, StoryTexts, TopicMatcher, Touched,
};
pub use postgres::{Db as Postgres, PUSH_ROWS, check_url as check_postgres_url, listen};
pub use sqlite::Db as Sqlite;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error(
        "cannot open the database {path}: {reason}\n  hint: check that its folder exists and is writable by feedsift, or change [storage] path (a relative path is inside $STATE_DIRECTORY under systemd, else next to config.toml)"
    )]
    Open { path: PathBuf, reason: String },
    /// What the database said when a statement failed (either backend).
    #[error("database error: {0}")]
    Database(String),
    #[error(
        "cannot connect to PostgreSQL at {target}: {reason}\n  hint: check that the server runs and accepts this user there (password from the url or $PGPASSWORD), or change [storage] url"
    )]
    Connect { target: String, reason: String },
    /// A listing found a PostgreSQL database feedsift never wrote to (a
    /// missing SQLite file is `Open`: `feedsift feeds` tells them apart
    /// by this variant and lists the configured feeds).
    #[error(
        "the database holds no feedsift data yet: `feedsift poll` or `feedsift run` creates it"
    )]
    NoData,
    /// A listing found a PostgreSQL database with an older schema.
    #[error("cannot read the database: {reason}")]
    NotReady { reason: String },
    #[error(
        "cannot upgrade the PostgreSQL database to schema {version}: {reason}; nothing was changed\n  hint: check that the user in [storage] url may create tables there"
    )]
    Upgrade { version: usize, reason: String },
    #[error("cannot start the store thread: {0}")]
    Thread(String),
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
            _ => StoreError::Database(e.to_string()),
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
    /// Where our subscription to the feed's WebSub hub stands; None when
    /// the feed advertises no hub.
    pub push: Option<PushState>,
}

impl FeedStatus {
    /// A configured feed the database does not know yet.
    pub fn never_polled(url: &str, title: Option<&str>) -> FeedStatus {
        FeedStatus {
            url: url.to_owned(),
            title: title.map(str::to_owned),
            last_status: None,
            last_error: None,
            last_attempt: None,
            last_success: None,
            next_poll: None,
            error_count: 0,
            effective_url: None,
            items: 0,
            push: None,
        }
    }
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
    /// (state, feeds) of our subscriptions to feeds' WebSub hubs.
    pub push_states: Vec<(PushState, u64)>,
    /// Pushed documents kept by a serving process that no polling one
    /// has refreshed yet (`Backend::inbox_put`).
    pub kept_pushes: u64,
}

/// How much `Backend::stats` counts. The heartbeat runs every 30 s and
/// a health check whenever a monitor asks, so they take the few counts a
/// status line shows; the breakdowns (items per topic, the story size
/// histogram, push states) read every story a week holds and are for
/// `/metrics` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    /// Feeds, failing feeds, items, stories, database size, last poll.
    Summary,
    /// The summary and the breakdowns.
    Full,
}

/// Where our subscription to a feed's hub stands (stored as its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PushState {
    /// The feed advertises a hub, but push is off (`[websub] enabled`).
    Discovered,
    /// Asked; the hub has not yet verified our intent.
    Pending,
    /// Verified, within its lease: the feed is polled only as a safety net.
    Active,
    /// Denied, refused, unverified or lapsed: polled as usual; tried again
    /// later.
    Failed,
    /// The feed left config.toml: we asked the hub to stop.
    Unsubscribing,
}

impl PushState {
    pub const ALL: [PushState; 5] = [
        PushState::Discovered,
        PushState::Pending,
        PushState::Active,
        PushState::Failed,
        PushState::Unsubscribing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Discovered => "discovered",
            PushState::Pending => "pending",
            PushState::Active => "active",
            PushState::Failed => "failed",
            PushState::Unsubscribing => "unsubscribing",
        }
    }

    /// The stored name back; an unknown one (a newer feedsift's) reads as
    /// failed, which is polled as usual and tried again.
    pub fn parse(s: &str) -> PushState {
        PushState::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or(PushState::Failed)
    }
}

impl std::fmt::Display for PushState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

impl PollRecord {
    /// A poll at `at` with nothing else known yet: no validators, no note,
    /// the next poll due at once until the schedule says otherwise.
    pub fn new(status: PollStatus, at: DateTime<Utc>) -> PollRecord {
        PollRecord {
            status,
            note: None,
            at,
            next_poll: at,
            etag: None,
            last_modified: None,
            body_hash: None,
            moved_to: None,
        }
    }
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
    /// The language the feed that first brought it declares.
    pub language: Option<String>,
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
