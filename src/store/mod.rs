//! The store: the one handle the rest of the program reads and writes
//! through. One thread owns a storage backend (`crate::storage`) and runs
//! jobs from a bounded channel, so writes are serialised without locks and
//! async tasks never block on disk. The same thread runs what is decided
//! over stored items whatever the backend: topic membership (`topics.rs`)
//! and story grouping (`grouping.rs`).

mod grouping;
mod topics;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Location, Storage};
use crate::parse::ParsedFeed;
use crate::storage::{Backend, Counts, Touched};
pub use crate::storage::{
    Entry, FeedSpec, FeedState, FeedStatus, InboxPush, IngestStats, Member, PollRecord, PollStatus,
    PruneBatch, PushState, PushSubscription, SourceFeed, StoreError, StoreStats, StoredItem,
    StoryDetail, StoryInfo, TopicEntries,
};
use crate::topics::Topic;

/// Change counters of published documents, readable without the database:
/// the server keys its cache of rendered documents on them, so a request
/// for an unchanged topic costs no store round trip. The store thread bumps
/// them after each job that changed what a topic shows.
#[derive(Debug)]
pub struct Versions {
    /// Bumped by changes every topic may show (a feed renamed, say).
    global: AtomicU64,
    /// Bumped by any change: for documents covering every topic.
    any: AtomicU64,
    topics: RwLock<HashMap<String, u64>>,
    /// Ticks after every change, for those who act on changes rather than
    /// on requests (the WebSub hub's deliveries).
    changes: tokio::sync::watch::Sender<u64>,
    /// Ticks when another process kept pushed content for pollers.
    pushes: tokio::sync::watch::Sender<u64>,
    /// Ticks when another process changed a WebSub subscription row.
    push_rows: tokio::sync::watch::Sender<u64>,
}

impl Default for Versions {
    fn default() -> Versions {
        Versions {
            global: AtomicU64::default(),
            any: AtomicU64::default(),
            topics: RwLock::default(),
            changes: tokio::sync::watch::Sender::new(0),
            pushes: tokio::sync::watch::Sender::new(0),
            push_rows: tokio::sync::watch::Sender::new(0),
        }
    }
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

    fn apply(&self, t: Touched) {
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
        self.changes.send_modify(|n| *n += 1);
    }

    /// Wakes on every change after this call.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn pushed(&self, what: &str) {
        if what == crate::storage::PUSH_ROWS {
            self.push_rows.send_modify(|n| *n += 1);
        } else {
            self.pushes.send_modify(|n| *n += 1);
        }
    }

    /// Wakes when a process changed a WebSub subscription row (PostgreSQL
    /// only; with SQLite the subscriber looks every minute).
    pub fn push_rows(&self) -> tokio::sync::watch::Receiver<u64> {
        self.push_rows.subscribe()
    }

    /// Wakes when another process kept pushed content for pollers
    /// (`Store::inbox_put`; PostgreSQL only).
    pub fn pushes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.pushes.subscribe()
    }
}

/// What the store thread owns: the backend, and the state of the logic
/// that writes through it.
struct Worker {
    db: Box<dyn Backend>,
    grouper: grouping::Grouper,
    /// The topics last installed.
    topics: Arc<Vec<Topic>>,
    /// Set in the daemon, whose store thread groups new items between
    /// jobs: reading a topic then groups only a bounded batch first, so no
    /// single job holds the thread for seconds after a large poll.
    groups_when_idle: bool,
    /// Opened for a listing or a `serve` process: reading groups nothing
    /// (it would write).
    read_only: bool,
    /// Whether this process grouped stories at the last look: over a
    /// shared database only one does at a time (`Backend::holds_grouping`).
    grouping: bool,
}

impl Worker {
    /// Whether this process may group stories (and prune) now. A process
    /// that just took over from another rebuilds its story index from the
    /// database, which holds every story the other one made.
    fn may_group(&mut self) -> bool {
        if self.read_only {
            return false;
        }
        let holds = match self.db.holds_grouping() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether this process groups stories");
                false
            }
        };
        if holds && !self.grouping {
            self.grouper.forget();
        }
        self.grouping = holds;
        holds
    }

    fn topic_entries(
        &mut self,
        slug: &str,
        limit: usize,
        by_story: bool,
        offset: usize,
    ) -> Result<TopicEntries, StoreError> {
        if by_story && self.may_group() {
            if self.groups_when_idle {
                // The rest follows between jobs, and the topic is rebuilt
                // then: items of a huge poll appear within seconds.
                self.grouper.assign(self.db.as_mut(), 1000)?;
            } else {
                self.grouper.catch_up(self.db.as_mut())?;
            }
        }
        self.db.topic_entries(slug, limit, by_story, offset)
    }

    fn ingest_batch(
        &mut self,
        work: Vec<(String, ParsedFeed, PollRecord)>,
    ) -> Vec<Result<IngestStats, StoreError>> {
        let eval = topics::Evaluator {
            topics: self.topics.clone(),
        };
        self.db.ingest_batch(work, &eval)
    }
}

/// What an idle store thread's wait ended with.
enum Waited {
    Job(Job),
    /// Every sender is gone.
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// Waits for the next job, or until `deadline` (the idle story window's
/// unloading) passes. A timed wait needs a timer: a runtime of the store
/// thread's own, made the first time one is needed, since the daemon's
/// could shut down under a wait in progress.
fn idle_wait(
    timer: &mut Option<tokio::runtime::Runtime>,
    rx: &mut mpsc::Receiver<Job>,
    deadline: Option<std::time::Duration>,
) -> Waited {
    let untimed =
        |rx: &mut mpsc::Receiver<Job>| rx.blocking_recv().map_or(Waited::Closed, Waited::Job);
    let Some(deadline) = deadline else {
        return untimed(rx);
    };
    let rt = match timer {
        Some(rt) => rt,
        None => match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => timer.insert(rt),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a timer to unload the idle story window; keeping it");
                return untimed(rx);
            }
        },
    };
    // The timeout is made inside the runtime, whose timer it registers with.
    match rt.block_on(async { tokio::time::timeout(deadline, rx.recv()).await }) {
        Ok(Some(job)) => Waited::Job(job),
        Ok(None) => Waited::Closed,
        Err(_) => Waited::TimedOut,
    }
}

/// The backend `location` names, opened as `mode` needs.
fn open_backend(location: &Location, mode: Mode) -> Result<Box<dyn Backend>, StoreError> {
    use crate::storage::{Postgres, Sqlite};
    Ok(match (location, mode) {
        (Location::File(path), Mode::ReadOnly) => Box::new(Sqlite::open_read_only(path)?),
        (Location::File(path), _) => Box::new(Sqlite::open(path)?),
        (Location::Postgres(url), Mode::ReadOnly) => Box::new(Postgres::open_read_only(url)?),
        (Location::Postgres(url), _) => Box::new(Postgres::open(url)?),
    })
}

type Call = Box<dyn FnOnce(&mut Worker) + Send>;

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

/// How a store is used, which decides when items are grouped into stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The daemon: grouped between jobs.
    Daemon,
    /// A one-off command that may write: grouped when read.
    OneOff,
    /// A listing: never written, so never grouped.
    ReadOnly,
    /// A `serve` process: reads, and learns of other processes' writes;
    /// never groups (a `poll` process does).
    Serve,
}

/// A cheap, clonable handle to the store thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    versions: Arc<Versions>,
    /// The topics last installed, for matching on parser threads.
    topics: Arc<RwLock<Arc<Vec<Topic>>>>,
    /// Whether feeds are leased from a database shared with other
    /// processes (`Backend::shares_feeds`).
    shares_feeds: bool,
    /// Stops the thread that listens for other processes' changes.
    stop_listening: Arc<std::sync::atomic::AtomicBool>,
}

impl Store {
    /// Opens (creating and migrating as needed) the configured database.
    /// Opens for one-off commands: stories are grouped only when a topic or
    /// story is read.
    pub fn open(storage: &Storage, stories: crate::config::Stories) -> Result<Store, StoreError> {
        Store::start(storage, stories, Mode::OneOff)
    }

    /// Opens an existing database for a listing: nothing is written, not
    /// even stories for items still waiting for one.
    pub fn open_read_only(
        storage: &Storage,
        stories: crate::config::Stories,
    ) -> Result<Store, StoreError> {
        Store::start(storage, stories, Mode::ReadOnly)
    }

    /// Opens for the daemon: between jobs, the store thread also groups new
    /// items into stories, so topic feeds find them grouped.
    pub fn open_for_daemon(
        storage: &Storage,
        stories: crate::config::Stories,
    ) -> Result<Store, StoreError> {
        Store::start(storage, stories, Mode::Daemon)
    }

    /// Opens for a `serve` process: it reads, and follows what the
    /// polling processes write.
    pub fn open_for_serving(
        storage: &Storage,
        stories: crate::config::Stories,
    ) -> Result<Store, StoreError> {
        Store::start(storage, stories, Mode::Serve)
    }

    /// Starts the store thread, which opens the backend itself: a
    /// PostgreSQL client runs a runtime of its own and must be made, used
    /// and dropped off the async threads. The caller waits for the open
    /// (as it waited for SQLite's before), so a bad path or an unreachable
    /// server is its error, not a log line from a thread.
    fn start(
        storage: &Storage,
        stories: crate::config::Stories,
        mode: Mode,
    ) -> Result<Store, StoreError> {
        let location = storage.location.clone();
        let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel::<Result<bool, StoreError>>(1);
        let group_when_idle = mode == Mode::Daemon;
        // Small: the writer is fast and back-pressure keeps memory bounded.
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let versions = Arc::new(Versions::default());
        let bump = versions.clone();
        let thread = std::thread::Builder::new()
            .name("feedsift-store".into())
            .spawn(move || {
                let db = match open_backend(&location, mode) {
                    Ok(db) => {
                        let _ = opened_tx.send(Ok(db.shares_feeds()));
                        db
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let mut worker = Worker {
                    db,
                    grouper: grouping::Grouper::new(stories),
                    topics: Arc::default(),
                    groups_when_idle: group_when_idle,
                    read_only: matches!(mode, Mode::ReadOnly | Mode::Serve),
                    grouping: false,
                };
                let mut next: Option<Job> = None;
                // Work done since the daemon last gave memory back.
                let mut busy = false;
                // For waiting on jobs with a deadline (see `idle_wait`).
                let mut timer = None;
                loop {
                    // Between jobs, new items are grouped into stories in
                    // small batches, so polling never waits for it.
                    let job = match next.take().map_or_else(|| rx.try_recv(), Ok) {
                        Ok(job) => job,
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                        Err(mpsc::error::TryRecvError::Empty)
                            if group_when_idle && worker.may_group() =>
                        {
                            // Batch after batch until a job comes, each
                            // batch's topics republished once committed.
                            let assigned = worker.grouper.assign_while(
                                worker.db.as_mut(),
                                grouping::BATCH,
                                // (Empty is also what a closed channel
                                // says: a daemon stopping would otherwise
                                // group its whole backlog first.)
                                &mut || rx.is_empty() && !rx.is_closed(),
                                &mut |db| bump.apply(db.take_touched()),
                            );
                            bump.apply(worker.db.take_touched());
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
                                crate::memory::give_back();
                                busy = false;
                            }
                            match idle_wait(&mut timer, &mut rx, worker.grouper.unload_due()) {
                                Waited::Job(job) => job,
                                Waited::Closed => break,
                                Waited::TimedOut => {
                                    worker.grouper.unload();
                                    crate::memory::give_back();
                                    continue;
                                }
                            }
                        }
                        Err(mpsc::error::TryRecvError::Empty) => match rx.blocking_recv() {
                            Some(job) => job,
                            None => break,
                        },
                    };
                    busy = true;
                    if let Err(e) = worker.db.reconnect_if_lost() {
                        tracing::error!(error = %e, "cannot reconnect to the database");
                    }
                    match job {
                        Job::Call(call) => call(&mut worker),
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
                            let results = worker.ingest_batch(work);
                            // Before the replies: whoever waited for a write
                            // sees its effect.
                            bump.apply(worker.db.take_touched());
                            for (reply, result) in replies.into_iter().zip(results) {
                                let _ = reply.send(result);
                            }
                        }
                    }
                }
                worker.db.close();
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        let shares_feeds = opened_rx
            .recv()
            .map_err(|_| StoreError::Thread("it stopped while opening the database".into()))??;
        let stop_listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Other processes write a PostgreSQL database: a daemon or a server
        // learns of their commits as they happen, and rebuilds what they
        // changed.
        if let (Location::Postgres(url), Mode::Daemon | Mode::Serve) = (&storage.location, mode) {
            let (url, stop, versions) = (url.clone(), stop_listening.clone(), versions.clone());
            std::thread::Builder::new()
                .name("feedsift-listen".into())
                .spawn(move || {
                    crate::storage::listen(
                        &url,
                        &stop,
                        |t| versions.apply(t),
                        |w| versions.pushed(w),
                    )
                })
                .map_err(|e| StoreError::Thread(e.to_string()))?;
        }
        Ok(Store {
            tx,
            thread: Arc::new(Mutex::new(Some(thread))),
            versions,
            topics: Arc::default(),
            shares_feeds,
            stop_listening,
        })
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, rx) = oneshot::channel();
        let versions = self.versions.clone();
        let job = Job::Call(Box::new(move |db| {
            let result = f(db);
            // Before the reply: whoever waited for a write sees its effect.
            versions.apply(db.db.take_touched());
            let _ = reply.send(result);
        }));
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Makes sure every configured feed has a row, and records its title.
    pub async fn sync_feeds(&self, feeds: Vec<FeedSpec>) -> Result<(), StoreError> {
        self.call(move |w| w.db.sync_feeds(&feeds)).await
    }

    /// Installs the topics; any whose definition changed since the last run
    /// is re-evaluated over every stored item. Returns (slug, items) for the
    /// topics that were re-evaluated.
    pub async fn set_topics(
        &self,
        topics: Arc<Vec<Topic>>,
    ) -> Result<Vec<(String, usize)>, StoreError> {
        let installed = topics.clone();
        let r = self
            .call(move |w| {
                let r = topics::install(w.db.as_mut(), &topics)?;
                w.topics = topics;
                Ok(r)
            })
            .await?;
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
        self.call(move |w| w.db.feed_state(&feed_url)).await
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
        self.call(move |w| w.db.record_unchanged(&feed_url, &record))
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
        self.call(move |w| {
            w.db.record_failure(&feed_url, &status, &error, now, next_poll)
        })
        .await
    }

    /// Every item sorted at or after `since`, newest first.
    pub async fn items_since(&self, since: DateTime<Utc>) -> Result<Vec<StoredItem>, StoreError> {
        self.call(move |w| w.db.items_since(since)).await
    }

    pub async fn feeds(&self) -> Result<Vec<FeedStatus>, StoreError> {
        self.call(|w| w.db.feeds()).await
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
        self.call(move |w| w.topic_entries(&slug, limit, by_story, offset))
            .await
    }

    /// Counts of what the database holds, with the breakdowns `/metrics`
    /// shows; also proves it answers.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.call(|w| w.db.stats(Counts::Full)).await
    }

    /// The counts of a status line (no breakdowns: see `Counts`); also
    /// proves the database answers.
    pub async fn summary(&self) -> Result<StoreStats, StoreError> {
        self.call(|w| w.db.stats(Counts::Summary)).await
    }

    /// Notices commits by other processes, so cached documents built before
    /// them are rebuilt; returns whether there were any.
    pub async fn check_external_writes(&self) -> Result<bool, StoreError> {
        self.call(|w| w.db.check_external_writes()).await
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
        self.call(move |w| {
            // One process prunes a shared database: the one that groups.
            if !w.may_group() {
                return Ok(PruneBatch::default());
            }
            let done = w.db.prune_batch(cutoff, max, vacuum_pages, &w.topics)?;
            if done.items > 0 {
                // The story index may hold sketches of pruned items.
                w.grouper.forget();
            }
            Ok(done)
        })
        .await
    }

    /// A story by its number or uid.
    pub async fn story(&self, key: String) -> Result<Option<StoryDetail>, StoreError> {
        self.call(move |w| {
            if w.may_group() {
                w.grouper.catch_up(w.db.as_mut())?;
            }
            w.db.story(&key)
        })
        .await
    }

    /// Why each member of story `id` is in it, by item uid.
    pub async fn story_why(
        &self,
        id: i64,
    ) -> Result<Vec<(String, crate::cluster::MemberWhy)>, StoreError> {
        self.call(move |w| w.grouper.explain(w.db.as_mut(), id))
            .await
    }

    /// Whether feeds are leased from a shared database (`claim_due`)
    /// rather than scheduled by this process alone.
    pub fn shares_feeds(&self) -> bool {
        self.shares_feeds
    }

    /// Leases due feeds to this process; see `Backend::claim_due`.
    pub async fn claim_due(
        &self,
        owner: Arc<str>,
        max: usize,
        per_host: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        self.call(move |w| {
            let now = Utc::now().timestamp();
            w.db.claim_due(&crate::storage::Claim {
                owner: &owner,
                max,
                per_host,
                now,
                until: now + lease.as_secs() as i64,
            })
        })
        .await
    }

    /// Makes `urls` the feeds handed out by lease (a polling daemon's
    /// config.toml).
    pub async fn lease_only(&self, urls: Vec<String>) -> Result<(), StoreError> {
        self.call(move |w| w.db.lease_only(&urls)).await
    }

    /// Extends every lease this process holds by `lease` from now.
    pub async fn renew_leases(
        &self,
        owner: Arc<str>,
        lease: std::time::Duration,
    ) -> Result<(), StoreError> {
        self.call(move |w| {
            w.db.renew_leases(&owner, Utc::now().timestamp() + lease.as_secs() as i64)
        })
        .await
    }

    /// Gives back the lease on `url`, or every lease when None.
    pub async fn release_leases(
        &self,
        owner: Arc<str>,
        url: Option<String>,
    ) -> Result<(), StoreError> {
        self.call(move |w| w.db.release_leases(&owner, url.as_deref()))
            .await
    }

    /// Adds or renews a subscriber of the built-in WebSub hub.
    pub async fn hub_subscribe(&self, s: crate::storage::HubSubscriber) -> Result<(), StoreError> {
        self.call(move |w| w.db.hub_subscribe(&s, Utc::now().timestamp()))
            .await
    }

    /// Removes a hub subscriber; whether there was one.
    pub async fn hub_unsubscribe(
        &self,
        topic: String,
        callback: String,
    ) -> Result<bool, StoreError> {
        self.call(move |w| w.db.hub_unsubscribe(&topic, &callback))
            .await
    }

    /// The hub's current subscribers of a topic feed url.
    pub async fn hub_subscribers(
        &self,
        topic: String,
    ) -> Result<Vec<crate::storage::HubSubscriber>, StoreError> {
        self.call(move |w| w.db.hub_subscribers(&topic, Utc::now().timestamp()))
            .await
    }

    /// Whether this process delivers the hub's pushes (one at a time over
    /// a shared database).
    pub async fn holds_hub(&self) -> Result<bool, StoreError> {
        self.call(|w| w.db.holds_hub()).await
    }

    /// Forgets hub subscribers whose lease ended.
    pub async fn hub_expire(&self) -> Result<usize, StoreError> {
        self.call(|w| w.db.hub_expire(Utc::now().timestamp())).await
    }

    /// Our subscriptions to feeds' WebSub hubs.
    pub async fn push_subscriptions(&self) -> Result<Vec<PushSubscription>, StoreError> {
        self.call(|w| w.db.push_subscriptions()).await
    }

    /// Adds or replaces a feed's subscription.
    pub async fn push_put(&self, s: PushSubscription) -> Result<(), StoreError> {
        self.call(move |w| w.db.push_put(&s)).await
    }

    /// Moves a feed's next poll to `at` if that is later (`later`) or
    /// earlier than the stored one.
    pub async fn reschedule(
        &self,
        feed_url: String,
        at: DateTime<Utc>,
        later: bool,
    ) -> Result<(), StoreError> {
        self.call(move |w| w.db.reschedule(&feed_url, at.timestamp(), later))
            .await
    }

    /// Forgets a feed's subscription.
    pub async fn push_delete(&self, feed_url: String) -> Result<(), StoreError> {
        self.call(move |w| w.db.push_delete(&feed_url)).await
    }

    /// See `Backend::push_by_token`.
    pub async fn push_by_token(
        &self,
        token: String,
    ) -> Result<Option<PushSubscription>, StoreError> {
        self.call(move |w| w.db.push_by_token(&token)).await
    }

    /// See `Backend::push_claim`.
    pub async fn push_claim(
        &self,
        s: PushSubscription,
        requested: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |w| w.db.push_claim(&s, requested)).await
    }

    /// See `Backend::inbox_put`.
    pub async fn inbox_put(&self, p: InboxPush) -> Result<(), StoreError> {
        self.call(move |w| w.db.inbox_put(&p)).await
    }

    /// See `Backend::inbox_take`.
    pub async fn inbox_take(
        &self,
        now: i64,
        hold_until: i64,
        limit: usize,
    ) -> Result<Vec<InboxPush>, StoreError> {
        self.call(move |w| w.db.inbox_take(now, hold_until, limit))
            .await
    }

    /// See `Backend::inbox_done`.
    pub async fn inbox_done(&self, id: i64) -> Result<(), StoreError> {
        self.call(move |w| w.db.inbox_done(id)).await
    }

    /// See `Backend::hub_count`.
    pub async fn hub_count(&self, topic: String, callback: String) -> Result<usize, StoreError> {
        let now = Utc::now().timestamp();
        self.call(move |w| w.db.hub_count(&topic, &callback, now))
            .await
    }

    /// Makes the store thread panic, as a bug in a job would.
    #[cfg(test)]
    pub(crate) async fn crash_for_test(&self) {
        let _ = self
            .call(|_| -> Result<(), StoreError> { panic!("a store job failed (test)") })
            .await;
    }

    /// Finishes queued jobs, closes the database and joins the thread.
    /// Other handles still alive keep it open until they drop.
    pub async fn close(self) {
        self.stop_listening
            .store(true, std::sync::atomic::Ordering::Release);
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
