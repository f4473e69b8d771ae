//! The daemon's moving parts: polling one feed end to end, polling all once,
//! the per-feed schedule, signals and reload, and an orderly shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::fetch::{FetchError, Fetcher};
use crate::parse::{ParseError, parse_feed};
use crate::server::{self, AppState};
use crate::store::{FeedSpec, IngestStats, Store, StoreError};

#[derive(Debug, Error)]
pub enum PollError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl PollError {
    /// A short status for `feedsift feeds`: the HTTP code or the error class.
    fn status(&self) -> String {
        match self {
            PollError::Fetch(e) => match e.status() {
                Some(s) => s.to_string(),
                None => match e {
                    FetchError::Timeout(_) => "timeout".into(),
                    FetchError::Connect(_) => "unreachable".into(),
                    FetchError::TooLarge { .. } => "too-large".into(),
                    _ => "error".into(),
                },
            },
            PollError::Parse(_) => "not-a-feed".into(),
            PollError::Store(_) => "store-error".into(),
        }
    }
}

/// Opens the store and brings it in line with the config: feed rows exist,
/// topics whose definition changed are re-evaluated over the history.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&cfg.storage.path)?;
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
                })
                .collect(),
        )
        .await?;
    for (topic, n) in store.set_topics(Arc::new(cfg.topics.clone())).await? {
        tracing::info!(%topic, items = n, "topic evaluated over stored items");
    }
    Ok(())
}

/// Fetches, parses and stores one feed, recording the outcome either way.
pub async fn poll_feed(
    fetcher: &Fetcher,
    store: &Store,
    feed: &config::Feed,
) -> Result<IngestStats, PollError> {
    let started = Utc::now();
    let next = started + chrono::Duration::from_std(feed.interval).unwrap_or_default();
    let result = async {
        let fetched = fetcher.fetch(&feed.url).await?;
        let url = feed.url.clone();
        // Parsing is CPU work: keep it off the async worker threads.
        let parsed = tokio::task::spawn_blocking(move || parse_feed(&url, &fetched.body))
            .await
            .map_err(|e| PollError::Fetch(FetchError::Other(format!("parser crashed: {e}"))))??;
        let n = parsed.items.len();
        let stats = store
            .ingest(feed.url.clone(), parsed, Utc::now(), next)
            .await?;
        Ok::<_, PollError>((n, stats))
    }
    .await;
    match result {
        Ok((entries, stats)) => {
            tracing::info!(
                feed_url = %feed.url,
                status = "ok",
                entries,
                new_items = stats.new_items,
                new_sources = stats.new_sources,
                "polled"
            );
            Ok(stats)
        }
        Err(e) => {
            tracing::warn!(feed_url = %feed.url, status = %e.status(), error = %e, "poll failed");
            if !matches!(e, PollError::Store(_))
                && let Err(se) = store
                    .record_failure(feed.url.clone(), e.status(), e.to_string(), started, next)
                    .await
            {
                tracing::error!(feed_url = %feed.url, error = %se, "cannot record the failure");
            }
            Err(e)
        }
    }
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
        set.spawn(async move { poll_feed(&fetcher, &store, &feed).await });
    }
    let mut summary = PollSummary::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(stats)) => {
                summary.ok += 1;
                summary.new_items += stats.new_items;
            }
            _ => summary.failed += 1,
        }
    }
    Ok(summary)
}

/// A pseudo-random fraction of `max`, different per feed and per call, so
/// feeds sharing an interval do not fire together.
fn jitter(key: &str, max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(key.as_bytes());
    let frac = (h.finish() % 10_000) as f64 / 10_000.0;
    max.mul_f64(frac)
}

/// Polls one feed forever on its interval. `retire` ends the loop between
/// polls (a reload lets a poll in flight finish); `abort` (shutdown) also
/// abandons a poll in flight.
async fn feed_loop(
    feed: config::Feed,
    fetcher: Arc<Fetcher>,
    store: Store,
    first_in: Duration,
    retire: CancellationToken,
    abort: CancellationToken,
) {
    let mut wait = first_in;
    loop {
        tokio::select! {
            _ = retire.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        tokio::select! {
            // Abandoning the fetch is safe: a store job already sent still
            // commits whole on the store thread.
            _ = abort.cancelled() => return,
            _ = poll_feed(&fetcher, &store, &feed) => {}
        }
        wait = feed.interval + jitter(&feed.url, feed.interval / 10);
    }
}

/// Starts one polling task per feed in `set`; a feed polled recently waits
/// for its stored next-poll time instead of polling again at start.
async fn start_scheduler(
    cfg: &Config,
    store: &Store,
    set: &mut JoinSet<()>,
    retire: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<()> {
    let fetcher = Arc::new(Fetcher::new(&cfg.polling)?);
    let states = store.feeds().await?;
    let now = Utc::now();
    for feed in cfg.feeds.clone() {
        let due = states
            .iter()
            .find(|s| s.url == feed.url)
            .and_then(|s| s.next_poll)
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or_default()
            .min(feed.interval);
        let first_in = due + jitter(&feed.url, Duration::from_secs(2));
        set.spawn(feed_loop(
            feed,
            fetcher.clone(),
            store.clone(),
            first_in,
            retire.clone(),
            abort.clone(),
        ));
    }
    tracing::info!(feeds = cfg.feeds.len(), "scheduler started");
    Ok(())
}

/// Reads config.toml again and applies it to the store and the server.
/// On error nothing has changed and the caller keeps the running config.
async fn reload(old: &Config, store: &Store, state: &AppState) -> anyhow::Result<Config> {
    let new = Config::load(&old.path)?;
    sync_store(store, &new).await?;
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

/// `feedsift run`: serve and poll until SIGTERM or SIGINT; SIGHUP reloads.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    // Handlers first, so a signal during start-up is not fatal by default.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;

    let store = open_store(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} ([server] listen in {}): is another process using the port?",
                cfg.server.listen,
                cfg.path.display()
            )
        })?;
    let state = Arc::new(AppState::new(store.clone(), &cfg));
    let shutdown = CancellationToken::new();
    let mut server = tokio::spawn(server::serve(listener, state.clone(), shutdown.clone()));
    tracing::info!(listen = %cfg.server.listen, base_url = %cfg.server.base_url, "serving");

    let mut cfg = cfg;
    let mut pollers = JoinSet::new();
    let mut generation = shutdown.child_token();
    start_scheduler(
        &cfg,
        &store,
        &mut pollers,
        generation.clone(),
        shutdown.clone(),
    )
    .await?;

    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                tracing::info!(config = %cfg.path.display(), "SIGHUP: reloading");
                match reload(&cfg, &store, &state).await {
                    Err(e) => tracing::error!(
                        config = %cfg.path.display(),
                        "reload refused, keeping the running config: {e:#}"
                    ),
                    Ok(new) => {
                        // Old pollers finish a poll in flight, then exit.
                        generation.cancel();
                        while pollers.try_join_next().is_some() {}
                        generation = shutdown.child_token();
                        cfg = new;
                        if let Err(e) = start_scheduler(&cfg, &store, &mut pollers, generation.clone(), shutdown.clone()).await {
                            tracing::error!("cannot restart polling after reload: {e:#}");
                        }
                    }
                }
            }
        }
    }

    shutdown.cancel();
    while pollers.join_next().await.is_some() {}
    match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server stopped with an error"),
        Err(_) => {
            tracing::warn!("server did not stop within 5 s; closing its connections");
            server.abort();
            let _ = server.await;
        }
        _ => {}
    }
    drop(state);
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
