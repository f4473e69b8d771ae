//! One refresh path per feed: whatever brings a feed's document (a poll
//! by the scheduler, a one-off `feedsift poll`, or a body delivered to
//! us), it goes through `refresh`: change detection, parsing off the async
//! threads, topic matching, storing, and the feed's next poll. `poll_feed`
//! is the fetch in front of it plus the outcome recorded either way. The
//! daemon schedules and the server serves; neither owns this pipeline.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::config;
use crate::fetch::{Body, FetchError, Fetched, Fetcher, HttpHints, Validators};
use crate::metrics::{METRICS, PollResult};
use crate::parse::{FeedHints, ParseError, PushLinks, parse_feed};
use crate::schedule;
use crate::store::{FeedState, IngestStats, PollRecord, PollStatus, Store, StoreError};
use crate::text::hex;

/// Why a refresh failed; each kind keeps its own typed error as source.
#[derive(Debug, Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PollError {
    /// A short status for `feedsift feeds`: the HTTP code or the error class.
    pub fn status(&self) -> String {
        match self {
            PollError::Fetch(e) => e.status(),
            PollError::Parse(e) => e.status().into(),
            PollError::Store(_) => "store-error".into(),
        }
    }

    /// 410 Gone: the publisher says the feed will not come back.
    pub fn is_gone(&self) -> bool {
        matches!(self, PollError::Fetch(e) if e.is_gone())
    }
}

/// What one poll did and when the feed is due again (None: never, it is gone).
pub struct PollReport {
    pub result: Result<Refreshed, PollError>,
    pub next_poll: Option<DateTime<Utc>>,
}

/// What a refresh that reached the store found.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub stats: IngestStats,
    pub status: PollStatus,
    /// Why the status is not plain `Ok` (no items, repaired XML).
    pub note: Option<String>,
    pub next_poll: DateTime<Utc>,
    /// The WebSub hub and self url the response advertised (its `Link`
    /// headers first, then the document when one was read).
    pub push: PushLinks,
}

/// A body that reached us without a fetch of ours (pushed by a hub), as
/// the refresh path takes it: no validators, no schedule hints.
pub fn delivered(url: &str, bytes: bytes::Bytes, content_type: Option<String>) -> Fetched {
    Fetched {
        body: Body::Full {
            bytes,
            content_type,
            validators: Validators::default(),
        },
        hints: HttpHints::default(),
        moved_to: None,
        final_url: url.to_owned(),
        slot: None,
        links: PushLinks::default(),
    }
}

/// Fetches, parses and stores one feed, recording the outcome either way.
/// `doc_hints` carries what the last parsed document said about its
/// schedule, since a 304 brings no document.
pub async fn poll_feed(
    fetcher: &Fetcher,
    store: &Store,
    feed: &config::Feed,
    doc_hints: &mut FeedHints,
) -> PollReport {
    let state = match store.feed_state(feed.url.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(feed_url = %feed.url, error = %e, "cannot read the feed's state");
            return PollReport {
                result: Err(e.into()),
                next_poll: Some(
                    Utc::now() + chrono::Duration::from_std(feed.interval).unwrap_or_default(),
                ),
            };
        }
    };
    let started = Utc::now();
    let target = state.effective_url.as_deref().unwrap_or(&feed.url);
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let clock = std::time::Instant::now();
    let outcome = match fetcher
        .fetch(&feed.url, target, &validators, feed.credentials.as_ref())
        .await
    {
        Ok(f) => refresh(store, feed, &state, f, doc_hints).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(done) => {
            let Refreshed {
                stats,
                status,
                ref note,
                next_poll: next,
                ..
            } = done;
            let result = match status {
                PollStatus::Ok => PollResult::Ok,
                PollStatus::Malformed => PollResult::Malformed,
                PollStatus::NoItems => PollResult::NoItems,
                PollStatus::NotModified | PollStatus::Unchanged => PollResult::NotModified,
            };
            METRICS.poll(result, clock.elapsed(), stats.new_items as u64);
            if state.error_count > 0 {
                tracing::info!(feed_url = %feed.url, errors = state.error_count, "feed recovered");
            }
            match note {
                // Read, but not healthy: an operator should look.
                Some(note) => tracing::warn!(
                    feed_url = %feed.url,
                    status = %status,
                    new_items = stats.new_items,
                    next_poll = %next.format("%H:%M:%S"),
                    "polled: {note}"
                ),
                None => tracing::info!(
                    feed_url = %feed.url,
                    status = %status,
                    new_items = stats.new_items,
                    new_sources = stats.new_sources,
                    next_poll = %next.format("%H:%M:%S"),
                    "polled"
                ),
            }
            PollReport {
                next_poll: Some(next),
                result: Ok(done),
            }
        }
        Err(e) => {
            METRICS.poll(PollResult::Failed, clock.elapsed(), 0);
            let errors = state.error_count + 1;
            let next = if e.is_gone() {
                None
            } else {
                let retry = match &e {
                    PollError::Fetch(f) => f.retry_after(),
                    _ => None,
                };
                Some(schedule::after_failure(
                    feed.interval,
                    errors,
                    retry,
                    Utc::now(),
                    schedule::random_fraction(),
                ))
            };
            tracing::warn!(
                feed_url = %feed.url,
                status = %e.status(),
                errors,
                next_poll = %next.map_or("never (gone)".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                "poll failed: {e}"
            );
            if !matches!(e, PollError::Store(_))
                && let Err(se) = store
                    .record_failure(feed.url.clone(), e.status(), e.to_string(), started, next)
                    .await
            {
                tracing::error!(feed_url = %feed.url, error = %se, "cannot record the failure");
            }
            PollReport {
                result: Err(e),
                next_poll: next,
            }
        }
    }
}

/// Parsers running at once: one per core.
static PARSERS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Takes a feed's document in, fetched or delivered: nothing new (304 or
/// identical bytes), or a document to parse, match and store. `state` is
/// the feed's stored state; `doc_hints` what the last parsed document said
/// about its schedule (a 304 brings none), updated here.
pub async fn refresh(
    store: &Store,
    feed: &config::Feed,
    state: &FeedState,
    fetched: Fetched,
    doc_hints: &mut FeedHints,
) -> Result<Refreshed, PollError> {
    // Held until the body is stored or dropped: bounds bodies in memory.
    let _slot = fetched.slot;
    let links = fetched.links;
    if let Some(to) = &fetched.moved_to
        && state.effective_url.as_ref() != Some(to)
    {
        tracing::warn!(
            feed_url = %feed.url,
            moved_to = %to,
            "feed moved permanently to {to}: polling the new address from now on; update config.toml"
        );
    }
    let now = Utc::now();
    let mut record = PollRecord {
        moved_to: fetched.moved_to,
        ..PollRecord::new(PollStatus::NotModified, now)
    };
    let next = |hints: &FeedHints| {
        schedule::after_success(
            feed.interval,
            fetched.hints,
            hints,
            now,
            schedule::random_fraction(),
        )
    };
    let Body::Full {
        bytes,
        content_type,
        validators,
    } = fetched.body
    else {
        record.next_poll = next(doc_hints);
        return nothing_new(store, &feed.url, record, links).await;
    };
    record.etag = validators.etag;
    record.last_modified = validators.last_modified;
    let hash = hex(&Sha256::digest(&bytes)[..16]);
    if state.body_hash.as_deref() == Some(hash.as_str()) {
        record.status = PollStatus::Unchanged;
        record.next_poll = next(doc_hints);
        return nothing_new(store, &feed.url, record, links).await;
    }
    let url = feed.url.clone();
    let (topics, title, tags) = (store.topics(), feed.title.clone(), feed.tags.clone());
    // Parsing is CPU work: keep it off the async worker threads, and run no
    // more parsers than there are cores. Unbounded, a large first poll had
    // hundreds of blocking threads parsing at once, each with its document
    // half built, and none finishing sooner for it.
    let parsed = {
        let _parser = PARSERS.acquire().await.map_err(|_| {
            ParseError::NotAFeed("the parser stopped: feedsift is shutting down".into())
        })?;
        tokio::task::spawn_blocking(move || {
            parse_feed(&url, &bytes, content_type.as_deref()).map(|mut p| {
                p.match_topics(topics, &url, title.as_deref(), &tags);
                p
            })
        })
        .await
        .map_err(|e| ParseError::NotAFeed(format!("the parser stopped: {e}")))??
    };
    *doc_hints = parsed.hints.clone();
    let push = links.or(parsed.push.clone());
    // A document with no items is never "ok"; one that needed repair says
    // so too. The note goes where `feedsift feeds` shows it.
    (record.status, record.note) = match (parsed.no_items_reason(), &parsed.malformed) {
        // (A repaired document with no items is refused in parse_feed.)
        (Some(why), _) => (PollStatus::NoItems, Some(why)),
        (None, Some(m)) => (
            PollStatus::Malformed,
            Some(format!(
                "ill-formed XML ({m}); every complete item was read after repair: tell the publisher"
            )),
        ),
        (None, None) => (PollStatus::Ok, None),
    };
    record.body_hash = Some(hash);
    record.next_poll = next(doc_hints);
    let (next_poll, status, note) = (record.next_poll, record.status, record.note.clone());
    let stats = store.ingest(feed.url.clone(), parsed, record).await?;
    Ok(Refreshed {
        stats,
        status,
        note,
        next_poll,
        push,
    })
}

/// A refresh that brought nothing to parse (304, or the same bytes):
/// recorded as `record` says, reported with its status and next poll.
async fn nothing_new(
    store: &Store,
    feed_url: &str,
    record: PollRecord,
    push: PushLinks,
) -> Result<Refreshed, PollError> {
    let (status, next_poll) = (record.status, record.next_poll);
    store.record_unchanged(feed_url.to_owned(), record).await?;
    Ok(Refreshed {
        stats: IngestStats::default(),
        status,
        note: None,
        next_poll,
        push,
    })
}
