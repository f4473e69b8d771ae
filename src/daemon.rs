//! The daemon's moving parts: polling one feed end to end, polling all once,
//! the per-feed schedule, signals and reload, and an orderly shutdown.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::fetch::Fetcher;
use crate::metrics::METRICS;
use crate::notify;
use crate::parse::FeedHints;
use crate::refresh;
use crate::schedule;
use crate::server::{self, AppState};
use crate::store::{FeedSpec, Store, StoreError};
use crate::websub::subscriber::{SAFETY_NET, Subscriber};

/// Items one prune transaction removes at most: a poll queued behind it
/// waits milliseconds, not the whole prune.
const PRUNE_BATCH: usize = 500;
/// Free pages (4 KiB each) handed back to the file system after a batch.
const VACUUM_PAGES: u32 = 1024;
/// How often the daemon prunes, besides once at start.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often the daemon looks for database commits by other processes.
const EXTERNAL_WRITES_EVERY: Duration = Duration::from_secs(5);

/// How long a feed leased from a shared database stays leased without a
/// renewal: a process that dies loses its leases within this.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a polling process renews the leases of the polls it runs.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How often a polling process looks for due feeds when nothing finishes.
const CLAIM_EVERY: Duration = Duration::from_secs(1);

/// What a `feedsift run` process does (`--role`). Over SQLite one process
/// does everything; over PostgreSQL any number of `poll` processes share
/// the feeds and any number of `serve` processes publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Poll and serve (the default).
    All,
    /// Poll, store, evaluate topics and (one process at a time) group
    /// stories and prune; no HTTP server.
    Poll,
    /// Serve topic feeds from the database; never polls or writes.
    Serve,
}

impl Role {
    fn polls(self) -> bool {
        self != Role::Serve
    }
    fn serves(self) -> bool {
        self != Role::Poll
    }
}

/// Opens the store and brings it in line with the config: feed rows exist,
/// topics whose definition changed are re-evaluated over the history.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&cfg.storage, cfg.stories)?;
    sync_store(&store, cfg).await?;
    Ok(store)
}

/// The same for the daemon, whose store groups stories while idle.
async fn open_daemon_store(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::open_for_daemon(&cfg.storage, cfg.stories)?;
    sync_store(&store, cfg).await?;
    Ok(store)
}

async fn sync_store(store: &Store, cfg: &Config) -> anyhow::Result<()> {
    store
        .sync_feeds(
            cfg.feeds
                .iter()
                .map(|f| FeedSpec {
                    url: f.url.clone(),
                    title: f.title.clone(),
                    tags: f.tags.clone(),
                })
                .collect(),
        )
        .await?;
    for (topic, n) in store.set_topics(Arc::new(cfg.topics.clone())).await? {
        tracing::info!(%topic, items = n, "topic evaluated over stored items");
    }
    Ok(())
}

/// Summary of `poll_all`.
#[derive(Debug, Default)]
pub struct PollSummary {
    pub ok: usize,
    pub failed: usize,
    pub new_items: usize,
}

/// Polls every configured feed once, concurrently within the fetcher's limits.
pub async fn poll_all(cfg: &Config, store: &Store) -> anyhow::Result<PollSummary> {
    let fetcher = Arc::new(Fetcher::new(&cfg.polling)?);
    let mut set = JoinSet::new();
    for feed in cfg.feeds.clone() {
        let (fetcher, store) = (fetcher.clone(), store.clone());
        set.spawn(async move {
            refresh::poll_feed(&fetcher, &store, &feed, &mut FeedHints::default())
                .await
                .result
        });
    }
    let mut summary = PollSummary::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(done)) => {
                summary.ok += 1;
                summary.new_items += done.stats.new_items;
            }
            _ => summary.failed += 1,
        }
    }
    Ok(summary)
}

/// A configured feed in the scheduler's table: what it remembers of the
/// feed between polls. About 130 bytes where a task per feed cost about
/// 1 KB (its future, the runtime's task cell, its join handle): 10 MB of
/// an idle daemon's memory at 10,000 feeds.
struct Planned {
    feed: Arc<config::Feed>,
    /// When the next poll is due (while the feed waits).
    due: Instant,
    /// When the last poll ended (the start, before any).
    polled: Instant,
    /// ttl, skipHours... from the feed's last document; lent to a poll.
    hints: FeedHints,
    /// Whether its WebSub subscription was active when last looked at.
    pushed: bool,
    state: Turn,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Waiting,
    Polling,
    /// HTTP 410: not polled again until a restart or reload.
    Gone,
}

impl Planned {
    /// A change of push state moves the next poll: an active subscription
    /// makes polls a safety net at least `SAFETY_NET` apart; a failed or
    /// lapsed one makes the feed due on its own interval at once.
    fn replan(&mut self, pushed: bool) {
        if pushed != self.pushed {
            self.pushed = pushed;
            self.due = if pushed {
                self.due.max(self.polled + SAFETY_NET)
            } else {
                self.due.min(self.polled + self.feed.interval)
            };
        }
    }
}

/// Polls every configured feed on its own schedule, from one task: a
/// queue of due times, and a task per poll while it runs. `retire` stops
/// new polls and lets those in flight finish (a reload); `abort`
/// (shutdown) abandons them. With `push`, a hub a poll finds is subscribed
/// to (see `Planned::replan` for what that does to the schedule).
async fn schedule_loop(
    plan: Vec<(Arc<config::Feed>, Duration)>,
    fetcher: Arc<Fetcher>,
    store: Store,
    push: Option<Arc<Subscriber>>,
    retire: CancellationToken,
    abort: CancellationToken,
) {
    let start = Instant::now();
    let mut feeds: Vec<Planned> = plan
        .into_iter()
        .map(|(feed, first_in)| Planned {
            pushed: push.as_ref().is_some_and(|p| p.is_active(&feed.url)),
            feed,
            due: start + first_in,
            polled: start,
            hints: FeedHints::default(),
            state: Turn::Waiting,
        })
        .collect();
    // Entries whose feed has since moved or started are skipped when they
    // come up (a feed's current entry is the one matching its `due`).
    let mut queue: BinaryHeap<Reverse<(Instant, usize)>> = feeds
        .iter()
        .enumerate()
        .map(|(i, f)| Reverse((f.due, i)))
        .collect();
    let mut running: JoinSet<(FeedHints, Option<Duration>)> = JoinSet::new();
    let mut polling: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut changes = push.as_ref().map(|p| p.watch());
    loop {
        if retire.is_cancelled() {
            if running.is_empty() {
                return;
            }
        } else {
            let now = Instant::now();
            while let Some(&Reverse((at, i))) = queue.peek() {
                if at > now {
                    break;
                }
                queue.pop();
                let f = &mut feeds[i];
                if f.state != Turn::Waiting || f.due != at {
                    continue;
                }
                f.state = Turn::Polling;
                let (feed, fetcher, store, push) =
                    (f.feed.clone(), fetcher.clone(), store.clone(), push.clone());
                let mut hints = std::mem::take(&mut f.hints);
                let task = running.spawn(async move {
                    let next =
                        poll_once(&fetcher, &store, &feed, push.as_deref(), &mut hints).await;
                    (hints, next)
                });
                polling.insert(task.id(), i);
            }
        }
        let next_due = queue.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            // Abandoning a fetch is safe: a store job already sent still
            // commits whole on the store thread.
            _ = abort.cancelled() => {
                running.abort_all();
                while running.join_next().await.is_some() {}
                return;
            }
            _ = retire.cancelled(), if !retire.is_cancelled() => {}
            _ = tokio::time::sleep_until(next_due.unwrap_or(start)),
                if next_due.is_some() && !retire.is_cancelled() => {}
            Some(done) = running.join_next_with_id() => {
                let (id, outcome) = match done {
                    Ok((id, (hints, next))) => (id, Some((hints, next))),
                    Err(e) => (e.id(), None),
                };
                let Some(i) = polling.remove(&id) else { continue };
                let f = &mut feeds[i];
                f.polled = Instant::now();
                f.state = Turn::Waiting;
                match outcome {
                    Some((hints, Some(next))) => {
                        f.hints = hints;
                        f.due = f.polled + next;
                    }
                    Some((_, None)) => {
                        f.state = Turn::Gone;
                        tracing::warn!(
                            feed_url = %f.feed.url,
                            status = "410",
                            "the feed is gone (HTTP 410): polling stops until feedsift restarts or reloads; remove it from config.toml"
                        );
                        continue;
                    }
                    None => {
                        tracing::error!(feed_url = %f.feed.url, "a poll of the feed stopped unexpectedly; it is polled again after its interval");
                        f.due = f.polled + f.feed.interval;
                    }
                }
                if let Some(p) = &push {
                    f.replan(p.is_active(&f.feed.url));
                }
                queue.push(Reverse((f.due, i)));
            }
            Some(()) = push_changed(&mut changes) => {
                let Some(p) = &push else { continue };
                // A feed being polled is re-planned when its poll ends,
                // from the state it was polled in: its next poll is only
                // known then.
                for (i, f) in feeds.iter_mut().enumerate() {
                    if f.state != Turn::Waiting {
                        continue;
                    }
                    let due = f.due;
                    f.replan(p.is_active(&f.feed.url));
                    if f.due != due {
                        queue.push(Reverse((f.due, i)));
                    }
                }
                // Moved feeds leave stale entries behind: drop them before
                // they outnumber the feeds.
                if queue.len() > 2 * feeds.len() {
                    queue.retain(|Reverse((at, i))| {
                        feeds[*i].state == Turn::Waiting && feeds[*i].due == *at
                    });
                }
            }
        }
    }
}

/// One scheduled poll of `feed` and, when its answer names a WebSub hub,
/// the subscription to it. Returns the wait until the next poll, or `None`
/// when the feed is gone (HTTP 410).
async fn poll_once(
    fetcher: &Fetcher,
    store: &Store,
    feed: &config::Feed,
    push: Option<&Subscriber>,
    doc_hints: &mut FeedHints,
) -> Option<Duration> {
    let pushed;
    let feed = match push {
        // A feed pushed to us is polled only as a safety net.
        Some(p) => {
            pushed = config::Feed {
                interval: p.poll_interval(feed),
                ..feed.clone()
            };
            &pushed
        }
        None => feed,
    };
    let report = refresh::poll_feed(fetcher, store, feed, doc_hints).await;
    if let (Some(p), Ok(done)) = (push, &report.result) {
        p.discovered(&feed.url, &done.push).await;
    }
    let next = report.next_poll?;
    Some((next - Utc::now()).to_std().unwrap_or_default())
}

/// The next change of push states, for a `select!`; never, without a
/// subscriber (or once it is gone).
async fn push_changed(changes: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Option<()> {
    match changes {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(()),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Starts the per-feed schedule (`schedule_loop`) in `set`; a feed polled
/// recently waits for its stored next-poll time instead of polling again
/// at start.
async fn start_scheduler(
    cfg: &Config,
    store: &Store,
    push: Option<&Arc<Subscriber>>,
    set: &mut JoinSet<()>,
    retire: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<()> {
    let fetcher = Arc::new(Fetcher::new(&cfg.polling)?);
    let next_polls: HashMap<String, _> = store
        .feeds()
        .await?
        .into_iter()
        .map(|s| (s.url, s.next_poll))
        .collect();
    let now = Utc::now();
    let plan = cfg
        .feeds
        .iter()
        .map(|feed| {
            let due = next_polls
                .get(&feed.url)
                .copied()
                .flatten()
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or_default()
                .min(push.map_or(feed.interval, |p| p.poll_interval(feed)));
            // Spread the start so feeds of one host do not fire together.
            let first_in = due + Duration::from_secs(2).mul_f64(schedule::random_fraction());
            (feed.clone(), first_in)
        })
        .collect();
    set.spawn(schedule_loop(
        plan,
        fetcher,
        store.clone(),
        push.cloned(),
        retire,
        abort,
    ));
    tracing::info!(feeds = cfg.feeds.len(), "scheduler started");
    Ok(())
}

/// Polls feeds leased from a database shared with other processes: every
/// second (or as a poll finishes) it claims as many due feeds as it has
/// free slots, polls each through the same `refresh::poll_feed` as the
/// per-feed schedule, and gives the lease back once the result is stored,
/// with the feed's next poll in it. Leases of polls still running are
/// renewed; at `retire` polls in flight finish, at `abort` they are
/// abandoned and their leases given back.
async fn lease_loop(
    cfg: Config,
    fetcher: Arc<Fetcher>,
    store: Store,
    push: Option<Arc<Subscriber>>,
    retire: CancellationToken,
    abort: CancellationToken,
) {
    let owner: Arc<str> = Arc::from(lease_owner());
    let feeds: HashMap<String, Arc<config::Feed>> = cfg
        .feeds
        .iter()
        .map(|f| (f.url.clone(), f.clone()))
        .collect();
    let slots = cfg.polling.concurrency;
    // Each feed's document hints (ttl, skipHours...) from its last parse,
    // kept while this process runs, as the per-feed schedule keeps them.
    let mut hints: HashMap<String, FeedHints> = HashMap::new();
    let mut running: JoinSet<(String, FeedHints)> = JoinSet::new();
    let mut renew =
        tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
    tracing::info!(feeds = feeds.len(), %owner, "polling feeds leased from the shared database");
    loop {
        let free = slots.saturating_sub(running.len());
        if free > 0 && !retire.is_cancelled() {
            match store
                .claim_due(owner.clone(), free, cfg.polling.per_host, LEASE)
                .await
            {
                Ok(claimed) => {
                    for url in claimed {
                        // Another process's config.toml lists it, not
                        // ours (a rollout in progress): leave it to them.
                        let Some(feed) = feeds.get(&url).cloned() else {
                            tracing::debug!(feed_url = %url, "leased a feed this config.toml does not list; giving it back");
                            let _ = store.release_leases(owner.clone(), Some(url)).await;
                            continue;
                        };
                        let (fetcher, store, owner, push) =
                            (fetcher.clone(), store.clone(), owner.clone(), push.clone());
                        let mut doc_hints = hints.remove(&url).unwrap_or_default();
                        running.spawn(async move {
                            poll_once(&fetcher, &store, &feed, push.as_deref(), &mut doc_hints).await;
                            if let Err(e) = store.release_leases(owner, Some(url.clone())).await {
                                tracing::warn!(feed_url = %url, error = %e, "cannot give back the feed's lease; it expires by itself");
                            }
                            (url, doc_hints)
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot claim due feeds; trying again"),
            }
        }
        if retire.is_cancelled() && running.is_empty() {
            return;
        }
        tokio::select! {
            _ = abort.cancelled() => {
                running.abort_all();
                while running.join_next().await.is_some() {}
                if let Err(e) = store.release_leases(owner.clone(), None).await {
                    tracing::warn!(error = %e, "cannot give back leases at shutdown; they expire within a minute");
                }
                return;
            }
            done = running.join_next(), if !running.is_empty() => {
                if let Some(Ok((url, h))) = done {
                    hints.insert(url, h);
                }
                // Polls that finished meanwhile free their slots together.
                while let Some(Ok((url, h))) = running.try_join_next() {
                    hints.insert(url, h);
                }
            }
            _ = renew.tick() => {
                if let Err(e) = store.renew_leases(owner.clone(), LEASE).await {
                    tracing::warn!(error = %e, "cannot renew feed leases");
                }
            }
            _ = tokio::time::sleep(CLAIM_EVERY) => {}
            _ = retire.cancelled(), if !retire.is_cancelled() => {}
        }
    }
}

/// Names this process among those sharing a database: host, pid and a
/// random part (a pid is reused after a restart).
fn lease_owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        schedule::random_u64() as u32
    )
}

/// Starts polling: leased from a shared database, or on the per-feed schedule.
async fn start_polling(
    cfg: &Config,
    store: &Store,
    push: Option<&Arc<Subscriber>>,
    set: &mut JoinSet<()>,
    retire: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<()> {
    if store.shares_feeds() {
        store
            .lease_only(cfg.feeds.iter().map(|f| f.url.clone()).collect())
            .await?;
        let fetcher = Arc::new(Fetcher::new(&cfg.polling)?);
        set.spawn(lease_loop(
            cfg.clone(),
            fetcher,
            store.clone(),
            push.cloned(),
            retire,
            abort,
        ));
        Ok(())
    } else {
        start_scheduler(cfg, store, push, set, retire, abort).await
    }
}

/// Reads config.toml again and applies it to the store and the server.
/// On error nothing has changed and the caller keeps the running config.
async fn reload(
    old: &Config,
    role: Role,
    store: &Store,
    state: &AppState,
) -> anyhow::Result<Config> {
    let new = Config::load(&old.path)?;
    // A server writes nothing: the polling processes bring the database
    // in line with the new topics, and their changes reach it.
    if role.polls() {
        sync_store(store, &new).await?;
    }
    state.set_topics(&new);
    if new.server.listen != old.server.listen {
        tracing::warn!(
            old = %old.server.listen,
            new = %new.server.listen,
            "[server] listen changed: restart feedsift to move the listener"
        );
    }
    Ok(new)
}

/// How often STATUS= is refreshed when no watchdog asks for more.
const STATUS_EVERY: Duration = Duration::from_secs(30);

async fn status_line(store: &Store) -> String {
    match store.summary().await {
        Ok(stats) => notify::summary(&stats),
        Err(e) => format!("database error: {e}"),
    }
}

/// What one `prune` run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneSummary {
    pub items: usize,
    pub stories: usize,
    pub batches: usize,
    pub vacuumed_pages: u64,
}

/// Removes items first seen longer than `retention` ago that no topic feed
/// shows and no story still within `retention` holds, in small
/// transactions, and gives the freed space back to the file system. Stops
/// between batches when `stop` is cancelled. Only the daemon prunes: a
/// one-off `feedsift poll` never does.
pub async fn prune(
    store: &Store,
    retention: Duration,
    stop: &CancellationToken,
) -> Result<PruneSummary, StoreError> {
    let mut summary = PruneSummary::default();
    // A retention longer than the calendar can express keeps everything.
    let Some(cutoff) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
    else {
        return Ok(summary);
    };
    while !stop.is_cancelled() {
        let b = store.prune_batch(cutoff, PRUNE_BATCH, VACUUM_PAGES).await?;
        summary.batches += 1;
        summary.items += b.items;
        summary.stories += b.stories;
        summary.vacuumed_pages += b.vacuumed_pages;
        // Done when nothing is left to remove and vacuuming stopped helping.
        if b.items == 0 && (b.free_pages == 0 || b.vacuumed_pages == 0) {
            break;
        }
        // Store jobs run in order, so polls queued meanwhile go before the
        // next batch; yielding lets their tasks queue them.
        tokio::task::yield_now().await;
    }
    if summary.items > 0 || summary.vacuumed_pages > 0 {
        tracing::info!(
            items = summary.items,
            stories = summary.stories,
            batches = summary.batches,
            vacuumed_pages = summary.vacuumed_pages,
            cutoff = %cutoff.format("%Y-%m-%d %H:%M:%S"),
            "pruned items older than the retention"
        );
    }
    Ok(summary)
}

/// Prunes at start and then every hour until `stop`; the retention comes
/// from the running config, so a reload changes it.
async fn prune_loop(
    store: Store,
    retention: tokio::sync::watch::Receiver<Duration>,
    stop: CancellationToken,
) {
    loop {
        let keep_for = *retention.borrow();
        if let Err(e) = prune(&store, keep_for, &stop).await {
            tracing::error!(error = %e, "pruning old items failed; trying again in an hour");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// `feedsift run`: serve and poll until SIGTERM or SIGINT; SIGHUP reloads.
/// `feedsift run`: start, then react to signals and the heartbeat until
/// SIGTERM or SIGINT, then stop cleanly.
pub async fn run(cfg: Config, role: Role) -> anyhow::Result<()> {
    // Handlers first, so a signal during start-up is not fatal by default.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;

    let mut daemon = Running::start(cfg, role).await?;
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + daemon.beat, daemon.beat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopped = loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break Ok(()); }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break Ok(()); }
            _ = ticks.tick() => if let Err(e) = daemon.heartbeat().await { break Err(e); },
            _ = hup.recv() => daemon.reload().await,
        }
    };
    daemon.stop().await;
    stopped
}

/// A started daemon: what `run` holds between start and stop.
struct Running {
    cfg: Config,
    role: Role,
    /// The built-in WebSub hub and its delivery task, when push is on.
    hub: Option<(Arc<crate::websub::hub::Hub>, tokio::task::JoinHandle<()>)>,
    /// Our subscriptions to feeds' hubs and their renewal task, in a
    /// process that polls.
    subscriber: Option<(Arc<Subscriber>, tokio::task::JoinHandle<()>)>,
    store: Store,
    state: Arc<AppState>,
    /// Cancelled once, at shutdown; every task watches it.
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    watcher: tokio::task::JoinHandle<()>,
    pruner: Option<tokio::task::JoinHandle<()>>,
    /// The polling task (`schedule_loop` or `lease_loop`); `generation`
    /// retires it at a reload.
    pollers: JoinSet<()>,
    generation: CancellationToken,
    retention: tokio::sync::watch::Sender<Duration>,
    /// systemd's watchdog interval, when it asks for pings.
    watchdog: Option<Duration>,
    /// How often the heartbeat runs.
    beat: Duration,
}

impl Running {
    /// Opens the store, starts serving, polling, watching and pruning, and
    /// tells systemd the daemon is ready.
    async fn start(cfg: Config, role: Role) -> anyhow::Result<Running> {
        let store = if role.polls() {
            open_daemon_store(&cfg).await?
        } else {
            Store::open_for_serving(&cfg.storage, cfg.stories)?
        };
        let state = Arc::new(AppState::new(store.clone(), &cfg));
        let shutdown = CancellationToken::new();
        let server = if role.serves() {
            let listener = tokio::net::TcpListener::bind(cfg.server.listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} ([server] listen in {}): is another process using the port?",
                        cfg.server.listen,
                        cfg.path.display()
                    )
                })?;
            // The address actually bound: with port 0 in config.toml (the
            // tests) the system picks the port, and this line is how one
            // learns it.
            let listen = listener.local_addr().unwrap_or(cfg.server.listen);
            let server = tokio::spawn(server::serve(listener, state.clone(), shutdown.clone()));
            tracing::info!(%listen, base_url = %cfg.server.base_url, ?role, "serving");
            Some(server)
        } else {
            None
        };

        let hub = if role.serves() && cfg.websub.enabled {
            let hub = crate::websub::hub::Hub::new(store.clone(), &cfg, shutdown.clone())?;
            state.set_hub(Some(hub.clone()));
            let st = state.clone();
            let render: crate::websub::hub::Render = Arc::new(move |slug, format| {
                let st = st.clone();
                Box::pin(async move { st.render_first_page(slug, format).await })
            });
            let task = tokio::spawn(hub.clone().run(store.versions(), render));
            tracing::info!(hub = %cfg.websub.hub_url(&cfg.server.base_url).unwrap_or_default(), "websub: topic feeds advertise a hub");
            Some((hub, task))
        } else {
            None
        };

        // Push in: processes that poll subscribe and refresh what is
        // pushed (the same refresh, and writes, as a poll); a process that
        // serves answers the hubs at its callbacks, and with `--role
        // serve` keeps pushed content for a polling process to take.
        let subscriber = {
            let sub =
                Subscriber::start(store.clone(), &cfg, role.polls(), shutdown.clone()).await?;
            if role.serves() {
                state.set_subscriber(Some(sub.clone()));
            }
            let leases = tokio::spawn(sub.clone().run());
            let kept = tokio::spawn(sub.clone().take_kept());
            let task = tokio::spawn(async move {
                let _ = tokio::join!(leases, kept);
            });
            Some((sub, task))
        };

        let watcher = tokio::spawn(watch_external_writes(store.clone(), shutdown.clone()));
        let mut pollers = JoinSet::new();
        let generation = shutdown.child_token();
        let (retention, retention_rx) = tokio::sync::watch::channel(cfg.storage.retention);
        let mut pruner = None;
        if role.polls() {
            start_polling(
                &cfg,
                &store,
                subscriber.as_ref().map(|(s, _)| s),
                &mut pollers,
                generation.clone(),
                shutdown.clone(),
            )
            .await?;
            pruner = Some(tokio::spawn(prune_loop(
                store.clone(),
                retention_rx,
                shutdown.clone(),
            )));
        }

        METRICS.beat(Utc::now().timestamp());
        notify::ready(&status_line(&store).await);
        // The watchdog is fed from the heartbeat, after the database
        // answered: a stuck loop or a stuck store thread stops the pings,
        // and systemd restarts the service. STATUS= is refreshed on the
        // same beat.
        let watchdog = notify::watchdog_interval();
        let beat = watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY));
        Ok(Running {
            cfg,
            role,
            hub,
            subscriber,
            store,
            state,
            shutdown,
            server,
            watcher,
            pruner,
            pollers,
            generation,
            retention,
            watchdog,
            beat,
        })
    }

    /// Proves the database answers, then feeds the watchdog and refreshes
    /// the status line and the metrics' heartbeat. An error when the store
    /// thread is gone (it panicked): nothing would be stored again, so the
    /// daemon stops and exits with an error for its supervisor to restart
    /// it, rather than serve stale feeds and log the same error forever.
    async fn heartbeat(&self) -> anyhow::Result<()> {
        match tokio::time::timeout(self.beat, self.store.summary()).await {
            Ok(Ok(stats)) => {
                METRICS.beat(Utc::now().timestamp());
                if self.watchdog.is_some() {
                    notify::watchdog();
                }
                notify::status(&notify::summary(&stats));
            }
            Ok(Err(StoreError::Closed)) => {
                tracing::error!(
                    "the store thread has stopped (see the error above): shutting down; restart feedsift (under systemd it restarts by itself)"
                );
                anyhow::bail!(
                    "the store thread stopped unexpectedly; nothing can be stored until feedsift restarts"
                )
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the database does not answer; not feeding the watchdog")
            }
            Err(_) => tracing::error!(
                waited = ?self.beat,
                "the database did not answer in time; not feeding the watchdog"
            ),
        }
        Ok(())
    }

    /// SIGHUP: reads config.toml again. A bad file changes nothing; a good
    /// one re-evaluates changed topics and restarts polling with it.
    async fn reload(&mut self) {
        tracing::info!(config = %self.cfg.path.display(), "SIGHUP: reloading");
        notify::reloading();
        match reload(&self.cfg, self.role, &self.store, &self.state).await {
            Err(e) => tracing::error!(
                config = %self.cfg.path.display(),
                "reload refused, keeping the running config: {e:#}"
            ),
            Ok(new) => {
                // Old pollers finish a poll in flight, then exit.
                self.generation.cancel();
                while self.pollers.try_join_next().is_some() {}
                self.generation = self.shutdown.child_token();
                if let Some((hub, _)) = &self.hub {
                    hub.set_config(&new);
                }
                // Feeds gone from config.toml are unsubscribed here.
                if let Some((sub, _)) = &self.subscriber {
                    sub.set_config(&new).await;
                }
                if new.websub.enabled != self.cfg.websub.enabled {
                    tracing::warn!(
                        "[websub] enabled changed: restart feedsift to start or stop the hub"
                    );
                }
                self.cfg = new;
                crate::logging::apply_config_level(&self.cfg.log_level);
                self.retention.send_replace(self.cfg.storage.retention);
                if self.role.polls()
                    && let Err(e) = start_polling(
                        &self.cfg,
                        &self.store,
                        self.subscriber.as_ref().map(|(s, _)| s),
                        &mut self.pollers,
                        self.generation.clone(),
                        self.shutdown.clone(),
                    )
                    .await
                {
                    tracing::error!("cannot restart polling after reload: {e:#}");
                }
                tracing::info!(
                    feeds = self.cfg.feeds.len(),
                    topics = self.cfg.topics.len(),
                    "reloaded"
                );
            }
        }
        notify::ready(&status_line(&self.store).await);
    }

    /// Stops in order: no new work, pollers and the pruner finish what is
    /// in flight (a store job already sent commits whole), the server gets
    /// 5 s to finish its responses, and the store is closed last.
    async fn stop(mut self) {
        notify::stopping();
        self.shutdown.cancel();
        let _ = self.watcher.await;
        while self.pollers.join_next().await.is_some() {}
        if let Some(pruner) = self.pruner {
            let _ = pruner.await;
        }
        // The hub and the subscriber hold store handles: they must be gone
        // before the close.
        self.state.set_hub(None);
        self.state.set_subscriber(None);
        if let Some((sub, task)) = self.subscriber.take() {
            let _ = task.await;
            drop(sub);
        }
        if let Some((hub, task)) = self.hub.take() {
            let _ = task.await;
            drop(hub);
        }
        if let Some(mut server) = self.server {
            match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server stopped with an error"),
                Err(_) => {
                    tracing::warn!("server did not stop within 5 s; closing its connections");
                    server.abort();
                    let _ = server.await;
                }
                _ => {}
            }
        }
        drop(self.state);
        self.store.close().await;
        tracing::info!("stopped");
    }
}

/// Another process may write the database too (`feedsift poll` by hand,
/// or a second daemon): look for its commits now and then, so served
/// documents catch up within seconds.
async fn watch_external_writes(store: Store, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EXTERNAL_WRITES_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.check_external_writes().await {
            Ok(true) => tracing::debug!("the database changed outside this process"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check the database for outside writes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(interval: Duration) -> Planned {
        let cfg = Config::from_str(
            std::path::Path::new("config.toml"),
            &format!(
                "[[feed]]\nurl = \"http://127.0.0.1:9/feed.xml\"\ninterval = \"{}s\"\n",
                interval.as_secs()
            ),
        )
        .expect("config");
        let now = Instant::now();
        Planned {
            feed: cfg.feeds[0].clone(),
            due: now + interval,
            polled: now,
            hints: FeedHints::default(),
            pushed: false,
            state: Turn::Waiting,
        }
    }

    /// A feed waiting for its next poll is an entry in the scheduler's
    /// table for as long as the daemon runs, so its size is idle memory
    /// times the number of feeds (a task per feed was about 1 KB).
    #[test]
    fn a_waiting_feed_costs_little_memory() {
        let size =
            std::mem::size_of::<Planned>() + std::mem::size_of::<Reverse<(Instant, usize)>>();
        assert!(size <= 192, "a waiting feed costs {size} bytes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_whose_store_thread_died_stops_with_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("feedsift.db");
        let cfg = Config::from_str(
            &dir.path().join("config.toml"),
            &format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n",
                db.display()
            ),
        )
        .expect("config");
        let daemon = Running::start(cfg, Role::All).await.expect("start");
        daemon.heartbeat().await.expect("a live store beats");
        daemon.store.crash_for_test().await;
        let err = daemon
            .heartbeat()
            .await
            .expect_err("a dead store thread stops the daemon");
        assert!(err.to_string().contains("store thread stopped"), "{err:#}");
        // Stopping still finishes.
        tokio::time::timeout(Duration::from_secs(10), daemon.stop())
            .await
            .expect("the daemon stops");
    }

    #[test]
    fn an_active_subscription_spaces_polls_and_a_lapse_brings_the_next_back() {
        let interval = Duration::from_secs(600);
        let mut f = planned(interval);
        let polled = f.polled;
        f.replan(false);
        assert_eq!(f.due, polled + interval, "no change, no move");
        f.replan(true);
        assert_eq!(
            f.due,
            polled + SAFETY_NET,
            "pushed: the safety net's interval"
        );
        f.replan(true);
        assert_eq!(f.due, polled + SAFETY_NET);
        f.replan(false);
        assert_eq!(f.due, polled + interval, "lapsed: its own interval again");
        // A lapse never makes a feed already due sooner wait longer.
        f.replan(true);
        f.due = polled + Duration::from_secs(5);
        f.replan(false);
        assert_eq!(f.due, polled + Duration::from_secs(5));
    }
}
