//! The daemon's moving parts: polling one feed end to end, polling all once,
//! the per-feed schedule, signals and reload, and an orderly shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
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

/// Polls one feed forever on its interval. `retire` ends the loop between
/// polls (a reload lets a poll in flight finish); `abort` (shutdown) also
/// abandons a poll in flight. With `push`, a hub the poll finds is
/// subscribed to, and while that subscription is active the feed waits
/// at least `subscriber::SAFETY_NET` between polls; when it fails or
/// lapses the feed is due on its own interval again at once.
async fn feed_loop(
    feed: config::Feed,
    fetcher: Arc<Fetcher>,
    store: Store,
    first_in: Duration,
    push: Option<Arc<Subscriber>>,
    retire: CancellationToken,
    abort: CancellationToken,
) {
    let start = tokio::time::Instant::now();
    let mut due = start + first_in;
    // When the last poll ended (the start, before any).
    let mut polled = start;
    let mut doc_hints = FeedHints::default();
    let mut changes = push.as_ref().map(|p| p.watch());
    let mut pushed = push.as_ref().is_some_and(|p| p.is_active(&feed.url));
    loop {
        tokio::select! {
            _ = retire.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
            // Boxed for the same reason as the poll below: every waiting
            // feed holds this future.
            Some(()) = Box::pin(push_changed(&mut changes)) => {
                let now_pushed = push.as_ref().is_some_and(|p| p.is_active(&feed.url));
                if now_pushed != pushed {
                    pushed = now_pushed;
                    due = if pushed {
                        due.max(polled + SAFETY_NET)
                    } else {
                        due.min(polled + feed.interval)
                    };
                }
                continue;
            }
        }
        let polled_feed = match &push {
            Some(p) => config::Feed {
                interval: p.poll_interval(&feed),
                ..feed.clone()
            },
            None => feed.clone(),
        };
        // Boxed: a future holds the state of its largest await, and the
        // poll's (the HTTP request, the body, the store job) is ~2.8 KB. Kept
        // inline, every sleeping feed carried it: 28 MB of idle memory at
        // 10,000 feeds. On the heap, it exists only while a poll runs.
        let report = tokio::select! {
            // Abandoning the fetch is safe: a store job already sent still
            // commits whole on the store thread.
            _ = abort.cancelled() => return,
            r = Box::pin(refresh::poll_feed(&fetcher, &store, &polled_feed, &mut doc_hints)) => r,
        };
        polled = tokio::time::Instant::now();
        if let (Some(p), Ok(done)) = (&push, &report.result) {
            Box::pin(p.discovered(&feed.url, &done.push)).await;
        }
        let Some(next) = report.next_poll else {
            tracing::warn!(
                feed_url = %feed.url,
                status = "410",
                "the feed is gone (HTTP 410): polling stops until feedsift restarts or reloads; remove it from config.toml"
            );
            return;
        };
        due = polled + (next - Utc::now()).to_std().unwrap_or_default();
    }
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

/// Starts one polling task per feed in `set`; a feed polled recently waits
/// for its stored next-poll time instead of polling again at start.
async fn start_scheduler(
    cfg: &Config,
    store: &Store,
    push: Option<&Arc<Subscriber>>,
    set: &mut JoinSet<()>,
    retire: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<()> {
    let fetcher = Arc::new(Fetcher::new(&cfg.polling)?);
    let states = store.feeds().await?;
    let next_polls: HashMap<&str, _> = states
        .iter()
        .map(|s| (s.url.as_str(), s.next_poll))
        .collect();
    let now = Utc::now();
    for feed in cfg.feeds.clone() {
        let due = next_polls
            .get(feed.url.as_str())
            .copied()
            .flatten()
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or_default()
            .min(push.map_or(feed.interval, |p| p.poll_interval(&feed)));
        // Spread the start so feeds of one host do not fire together.
        let first_in = due + Duration::from_secs(2).mul_f64(schedule::random_fraction());
        set.spawn(feed_loop(
            feed,
            fetcher.clone(),
            store.clone(),
            first_in,
            push.cloned(),
            retire.clone(),
            abort.clone(),
        ));
    }
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
    let feeds: HashMap<String, config::Feed> = cfg
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
                            // While pushed, the next poll stored is a
                            // safety net's (see feed_loop).
                            let polled_feed = match &push {
                                Some(p) => config::Feed { interval: p.poll_interval(&feed), ..feed.clone() },
                                None => feed.clone(),
                            };
                            let report = refresh::poll_feed(&fetcher, &store, &polled_feed, &mut doc_hints).await;
                            if let (Some(p), Ok(done)) = (&push, &report.result) {
                                p.discovered(&feed.url, &done.push).await;
                            }
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

/// Starts polling: leased from a shared database, or one task per feed.
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
    match store.stats().await {
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
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = ticks.tick() => daemon.heartbeat().await,
            _ = hup.recv() => daemon.reload().await,
        }
    }
    daemon.stop().await;
    Ok(())
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
    /// One task per feed; `generation` retires them at a reload.
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
    /// the status line and the metrics' heartbeat.
    async fn heartbeat(&self) {
        match tokio::time::timeout(self.beat, self.store.stats()).await {
            Ok(Ok(stats)) => {
                METRICS.beat(Utc::now().timestamp());
                if self.watchdog.is_some() {
                    notify::watchdog();
                }
                notify::status(&notify::summary(&stats));
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the database does not answer; not feeding the watchdog")
            }
            Err(_) => tracing::error!(
                waited = ?self.beat,
                "the database did not answer in time; not feeding the watchdog"
            ),
        }
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

    /// A feed waiting for its next poll is a task on the runtime for as
    /// long as the daemon runs, so its size is idle memory times the
    /// number of feeds.
    #[tokio::test]
    async fn a_waiting_feed_costs_little_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = Config::from_str(
            &dir.path().join("config.toml"),
            "[[feed]]\nurl = \"http://127.0.0.1:9/feed.xml\"\n",
        )
        .expect("config");
        let store = Store::open(
            &crate::config::Storage::file(dir.path().join("feedsift.db")),
            cfg.stories,
        )
        .expect("store");
        let fetcher = Arc::new(Fetcher::new(&cfg.polling).expect("fetcher"));
        let token = CancellationToken::new();
        let task = feed_loop(
            cfg.feeds[0].clone(),
            fetcher,
            store,
            Duration::from_secs(3600),
            None,
            token.clone(),
            token,
        );
        // The poll itself (request, body, store job) was ~2.8 KB inline.
        let size = std::mem::size_of_val(&task);
        assert!(size < 1024, "a waiting feed's task is {size} bytes");
    }
}
