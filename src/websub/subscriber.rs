//! The subscriber half of WebSub (W3C WebSub, sections 4–8): push *in*
//! for the feeds we poll, so news arrives the moment its publisher's hub
//! sends it, and polling becomes a safety net.
//!
//! A poll that finds a hub (`Refreshed::push`: the response's `Link`
//! header or the document's `rel="hub"`) hands it to `discovered`, which
//! asks the hub for a subscription: topic the feed's self url, callback
//! `{base_url}websub/callback/{token}` with an unguessable token per
//! subscription, a random secret, and the lease `[websub] lease`. The hub
//! verifies our intent with a GET to the callback (`verify`), which we
//! answer only for a subscription we asked for. Content it POSTs there is
//! taken (`content`) only when signed with our secret, and goes through
//! `refresh::refresh` exactly as a polled body does.
//!
//! Every subscription is a row (`Backend::push_*`), so a restart keeps it;
//! this process keeps a copy to answer the scheduler without a query.
//! `run` renews leases at 85% of their length, gives up on hubs that never
//! verify, and notices lapsed leases. While a feed's subscription is
//! active its polls are at most every `SAFETY_NET`; every change of state
//! is announced on `watch()`, so a feed whose subscription fails or lapses
//! is polled on its own interval again at once.
//!
//! Hubs are addresses a feed gives us: they go through the same guard as
//! feed urls and the built-in hub's callbacks (`fetch::check_address`,
//! `fetch::guarded_client`, `[polling] allow_private_networks`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::fetch;
use crate::metrics::METRICS;
use crate::parse::{FeedHints, PushLinks};
use crate::refresh;
use crate::store::{InboxPush, PushState, PushSubscription, Store, StoreError};

/// While a subscription is active, a feed is still polled, at most this
/// often: a hub can lose a delivery, and the publisher's hub can vanish.
pub const SAFETY_NET: Duration = Duration::from_secs(6 * 3600);
/// A hub's request to the hub, and the hub's answer, take at most this.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A hub that has not verified our request within this has failed.
const VERIFY_WITHIN: i64 = 120;
/// A failed subscription is asked for again (at a poll that still finds
/// the hub) no sooner than this after the last request.
const RETRY_FAILED: i64 = 3600;
/// Pushed documents refreshed at once; more are answered 429, and the hub
/// retries.
const REFRESHING: usize = 8;
/// The longest check interval of `run`, so a row another process wrote
/// is seen within it.
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// How often a polling process looks for pushes kept by serving ones when
/// no notification says so (SQLite has none; a lost PostgreSQL
/// connection loses them).
const LOOK_KEPT: Duration = Duration::from_secs(2);
/// A kept push taken by a process that dies is taken by another after
/// this many seconds.
const HOLD_KEPT: i64 = 60;
/// Of the hub's answer to a refused request, this much goes in the log.
const MAX_REASON: usize = 200;

/// Why a request to a hub failed.
#[derive(Debug, Error)]
pub enum RequestError {
    #[error("the hub {hub} is refused: {why}")]
    Refused { hub: String, why: String },
    #[error("cannot reach the hub {hub}: {why}")]
    Unreachable { hub: String, why: String },
    #[error("the hub {hub} answered HTTP {status}: {body}")]
    Status {
        hub: String,
        status: u16,
        body: String,
    },
    #[error("cannot store the subscription: {0}")]
    Store(#[from] StoreError),
}

/// Redirects followed for one subscription request.
const MAX_HUB_REDIRECTS: usize = 3;

/// What the callback answers a hub's verification of intent (WebSub 5.3).
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// 200 with this body (the challenge).
    Echo(String),
    /// 404: not a subscription we asked for.
    Unknown,
}

/// What became of pushed content (WebSub 7), and so the callback's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Refreshed; 2xx.
    Stored,
    /// Refused but answered 2xx, as WebSub 8 asks (a forger learns
    /// nothing); logged and counted.
    Discarded,
    /// No such subscription: 410, so the hub stops sending.
    Gone,
    /// Too many pushes being refreshed: 429, the hub retries.
    Busy,
}

/// The query of a hub's verification request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Verification {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.topic")]
    pub topic: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
    #[serde(rename = "hub.lease_seconds")]
    pub lease_seconds: Option<String>,
    #[serde(rename = "hub.reason")]
    pub reason: Option<String>,
}

/// What the subscriber reads of config.toml; replaced on reload.
struct Settings {
    base_url: String,
    enabled: bool,
    reject_sha1: bool,
    lease: Duration,
    feeds: HashMap<String, Arc<config::Feed>>,
}

impl Settings {
    fn of(cfg: &Config, polls: bool) -> Settings {
        Settings {
            base_url: cfg.server.base_url.clone(),
            enabled: cfg.websub.enabled && polls,
            reject_sha1: cfg.websub.reject_sha1,
            lease: cfg.websub.lease,
            feeds: cfg
                .feeds
                .iter()
                .map(|f| (f.url.clone(), f.clone()))
                .collect(),
        }
    }
}

pub struct Subscriber {
    store: Store,
    client: reqwest::Client,
    allow_private: bool,
    /// This process refreshes (polls): it subscribes, renews, and takes
    /// pushed content itself. One that only serves keeps what it is
    /// pushed for one that polls (`Backend::inbox_put`).
    polls: bool,
    settings: RwLock<Settings>,
    /// The rows, by feed url: this process's copy of the table.
    subs: Mutex<HashMap<String, PushSubscription>>,
    /// Bumped on every change of a feed's state (the scheduler watches).
    changed: watch::Sender<u64>,
    /// Wakes `run` when a row changed.
    wake: Notify,
    refreshing: Semaphore,
    stop: CancellationToken,
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// 128 random bits as hex: callback tokens and secrets.
fn random_hex() -> String {
    format!(
        "{:016x}{:016x}",
        crate::schedule::random_u64(),
        crate::schedule::random_u64()
    )
}

impl Subscriber {
    /// A subscriber with the subscriptions stored by earlier runs.
    /// `polls`: whether this process polls (`--role all` or `poll`).
    /// Processes that poll make the requests to hubs; the callbacks under
    /// base_url are answered by whichever process serves there (this one
    /// with `--role all`), from the rows every process shares.
    pub async fn start(
        store: Store,
        cfg: &Config,
        polls: bool,
        stop: CancellationToken,
    ) -> anyhow::Result<Arc<Subscriber>> {
        let rows = store.push_subscriptions().await?;
        let sub = Arc::new(Subscriber {
            client: fetch::guarded_client(cfg.polling.allow_private_networks, TIMEOUT)?,
            allow_private: cfg.polling.allow_private_networks,
            polls,
            settings: RwLock::new(Settings::of(cfg, polls)),
            subs: Mutex::new(rows.into_iter().map(|r| (r.feed_url.clone(), r)).collect()),
            changed: watch::Sender::new(0),
            wake: Notify::new(),
            refreshing: Semaphore::new(REFRESHING),
            store,
            stop,
        });
        sub.retire().await;
        Ok(sub)
    }

    /// A reload: new feeds, base_url or settings. Feeds gone from
    /// config.toml are unsubscribed.
    pub async fn set_config(&self, cfg: &Config) {
        *self
            .settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Settings::of(cfg, self.polls);
        self.retire().await;
    }

    fn settings<R>(&self, f: impl FnOnce(&Settings) -> R) -> R {
        f(&self
            .settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, HashMap<String, PushSubscription>> {
        self.subs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes of any feed's push state: the scheduler re-plans its polls.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `feed_url`'s subscription is active now.
    pub fn is_active(&self, feed_url: &str) -> bool {
        self.subs().get(feed_url).is_some_and(|s| {
            s.state == PushState::Active && s.lease_until.is_some_and(|t| t > now())
        })
    }

    /// How often `feed` is polled: its interval, or no more than every
    /// `SAFETY_NET` while pushed.
    pub fn poll_interval(&self, feed: &config::Feed) -> Duration {
        if self.is_active(&feed.url) {
            feed.interval.max(SAFETY_NET)
        } else {
            feed.interval
        }
    }

    /// Stores a row, updates the copy and tells the scheduler and `run`.
    /// A subscription that becomes active puts its feed's stored next poll
    /// off to the safety net, and one that stops being active brings it
    /// back to the feed's interval: the lease loop of a shared database
    /// schedules from there (the scheduler hears `changed`).
    async fn put(&self, row: PushSubscription) -> Result<(), StoreError> {
        self.store.push_put(row.clone()).await?;
        let was_active = self
            .subs()
            .get(&row.feed_url)
            .is_some_and(|s| s.state == PushState::Active);
        let is_active = row.state == PushState::Active;
        let interval = self.settings(|s| s.feeds.get(&row.feed_url).map(|f| f.interval));
        if let Some(i) = interval.filter(|_| was_active != is_active) {
            let wait = if is_active { i.max(SAFETY_NET) } else { i };
            let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.store
                .reschedule(row.feed_url.clone(), at, is_active)
                .await?;
        }
        self.subs().insert(row.feed_url.clone(), row);
        self.changed.send_modify(|n| *n += 1);
        self.wake.notify_one();
        Ok(())
    }

    async fn forget(&self, feed_url: &str) -> Result<(), StoreError> {
        self.store.push_delete(feed_url.to_owned()).await?;
        self.subs().remove(feed_url);
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// A poll of `feed_url` advertised `links`: subscribe when push is on
    /// and we are not subscribed to that hub for that topic already.
    pub async fn discovered(&self, feed_url: &str, links: &PushLinks) {
        let Some(hub) = links.hub.clone() else {
            return;
        };
        let topic = links
            .self_url
            .clone()
            .unwrap_or_else(|| feed_url.to_owned());
        let (enabled, configured) = self.settings(|s| (s.enabled, s.feeds.contains_key(feed_url)));
        if !configured {
            return;
        }
        let old = self.subs().get(feed_url).cloned();
        let same = old.as_ref().filter(|o| o.hub == hub && o.topic == topic);
        let wanted = if enabled {
            PushState::Pending
        } else {
            PushState::Discovered
        };
        match same.map(|o| o.state) {
            Some(PushState::Pending | PushState::Active | PushState::Unsubscribing) => return,
            Some(PushState::Failed) if now() - same.map_or(0, |o| o.requested) < RETRY_FAILED => {
                return;
            }
            Some(PushState::Discovered) if !enabled => return,
            _ => {}
        }
        // A hub or topic that changed is a new subscription: new token and
        // secret, so nothing the old hub sends is taken for the new one.
        // The old hub is told we are done (best effort: its lease ends
        // anyway, and what it still sends finds no subscription, 410).
        if let Some(old) = old.filter(|o| {
            enabled
                && (o.hub != hub || o.topic != topic)
                && matches!(o.state, PushState::Active | PushState::Pending)
        }) {
            match self.request("unsubscribe", &old).await {
                Ok(()) => {
                    tracing::info!(feed_url, hub = %old.hub, new_hub = %hub, "websub: the feed moved to another hub; unsubscribing from the old one")
                }
                Err(e) => {
                    tracing::info!(feed_url, hub = %old.hub, new_hub = %hub, "websub: the feed moved to another hub; cannot unsubscribe from the old one ({e}), its lease ends by itself")
                }
            }
        }
        let row = PushSubscription {
            feed_url: feed_url.to_owned(),
            hub: hub.clone(),
            topic: topic.clone(),
            state: wanted,
            token: random_hex(),
            secret: format!("{}{}", random_hex(), random_hex()),
            lease_until: None,
            renew_at: None,
            requested: now(),
            error: None,
        };
        if !enabled {
            tracing::info!(feed_url, %hub, "websub: the feed advertises a hub; not subscribing ([websub] enabled = false)");
            if let Err(e) = self.put(row).await {
                tracing::warn!(feed_url, error = %e, "websub: cannot store the feed's hub");
            }
            return;
        }
        self.subscribe(row).await;
    }

    /// Asks the hub for `row` (new, or a renewal) and records the outcome.
    async fn subscribe(&self, mut row: PushSubscription) {
        row.requested = now();
        let (feed_url, hub) = (row.feed_url.clone(), row.hub.clone());
        let outcome = async {
            // Stored before asking: the hub may verify before it answers.
            self.put(row.clone()).await?;
            self.request("subscribe", &row).await
        }
        .await;
        match outcome {
            Ok(()) => {
                tracing::info!(feed_url, %hub, topic = %row.topic, status = %row.state, "websub: subscription requested");
            }
            Err(e) => {
                tracing::warn!(feed_url, %hub, status = "failed", "websub: cannot subscribe, polling as usual: {e}");
                // A renewal that failed keeps its lease while it runs.
                if row.state != PushState::Active {
                    row.state = PushState::Failed;
                }
                row.error = Some(e.to_string());
                if let Err(e) = self.put(row).await {
                    tracing::warn!(feed_url, error = %e, "websub: cannot store the failure");
                }
            }
        }
    }

    /// POSTs a subscription request (WebSub 5.1) for `row` in `mode`. A
    /// hub that moved answers 307 or 308: the request is sent again, as
    /// it was, to where it points (at most `MAX_HUB_REDIRECTS` hops, each
    /// through the same address guard); 301–303 would turn the POST into
    /// a GET, which no hub takes, so they count as the hub's answer.
    async fn request(&self, mode: &str, row: &PushSubscription) -> Result<(), RequestError> {
        let (callback, lease) = self.settings(|s| {
            (
                format!("{}websub/callback/{}", s.base_url, row.token),
                s.lease,
            )
        });
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("hub.mode", mode)
                .append_pair("hub.topic", &row.topic)
                .append_pair("hub.callback", &callback);
            if mode == "subscribe" {
                form.append_pair("hub.secret", &row.secret)
                    .append_pair("hub.lease_seconds", &lease.as_secs().to_string());
            }
            form.finish()
        };
        let mut hub = row.hub.clone();
        let mut hops = 0;
        loop {
            fetch::check_address(&hub, self.allow_private).map_err(|why| {
                RequestError::Refused {
                    hub: hub.clone(),
                    why,
                }
            })?;
            let resp = self
                .client
                .post(&hub)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.clone())
                .send()
                .await
                .map_err(|e| RequestError::Unreachable {
                    hub: hub.clone(),
                    why: e.to_string(),
                })?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let moved_to = matches!(status.as_u16(), 307 | 308)
                .then(|| resp.headers().get(reqwest::header::LOCATION))
                .flatten()
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url::Url::parse(&hub).ok()?.join(l).ok());
            match moved_to {
                Some(next) if hops < MAX_HUB_REDIRECTS => {
                    tracing::debug!(hub = %hub, to = %next, status = status.as_u16(), "the hub moved; asking again there");
                    hub = next.to_string();
                    hops += 1;
                }
                _ => {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(RequestError::Status {
                        hub,
                        status: status.as_u16(),
                        body: body.trim().chars().take(MAX_REASON).collect(),
                    });
                }
            }
        }
    }

    /// The row a callback token names, as stored: another process may
    /// have subscribed, or changed the row since this one looked.
    async fn by_token(&self, token: &str) -> Option<PushSubscription> {
        match self.store.push_by_token(token.to_owned()).await {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(error = %e, "websub: cannot read the subscription a callback names");
                None
            }
        }
    }

    /// The hub's verification of intent (WebSub 5.3) at our callback: the
    /// challenge is echoed only for a request we made, for that topic.
    pub async fn verify(&self, token: &str, q: Verification) -> Verified {
        let Some(mut row) = self.by_token(token).await else {
            // Ending a subscription we do not hold is agreeing with what
            // we want: this is how the hub a feed moved away from hears
            // that we are done (the row now names the new hub).
            if q.mode.as_deref() == Some("unsubscribe") {
                tracing::info!(topic = ?q.topic, status = 200, "websub: an unsubscription for no subscription of ours; confirmed");
                return Verified::Echo(q.challenge.unwrap_or_default());
            }
            tracing::info!(
                status = 404,
                "websub: a verification for no subscription of ours; refused"
            );
            return Verified::Unknown;
        };
        let (feed_url, hub) = (row.feed_url.clone(), row.hub.clone());
        if q.topic.as_deref() != Some(row.topic.as_str()) {
            tracing::warn!(feed_url, %hub, topic = ?q.topic, status = 404, "websub: a verification for another topic; refused");
            return Verified::Unknown;
        }
        let challenge = q.challenge.unwrap_or_default();
        match (q.mode.as_deref(), row.state) {
            (Some("subscribe"), PushState::Pending | PushState::Active) => {
                let asked = self.settings(|s| s.lease.as_secs());
                let lease = q
                    .lease_seconds
                    .and_then(|l| l.trim().parse::<i64>().ok())
                    .filter(|l| *l > 0)
                    .unwrap_or(i64::try_from(asked).unwrap_or(i64::MAX))
                    // No lease is longer than a few years; the cap keeps
                    // the arithmetic below from overflowing.
                    .min(i64::from(u32::MAX));
                let at = now();
                row.state = PushState::Active;
                row.lease_until = Some(at.saturating_add(lease));
                // Renewed at 85% of the lease, and never later than a
                // second before it ends.
                row.renew_at =
                    Some(at.saturating_add((lease * 85 / 100).clamp(1, lease.max(2) - 1)));
                row.error = None;
                if let Err(e) = self.put(row).await {
                    tracing::error!(feed_url, error = %e, "websub: cannot store the lease; the hub is told no");
                    return Verified::Unknown;
                }
                tracing::info!(feed_url, %hub, lease, status = "active", "websub: subscription verified");
                Verified::Echo(challenge)
            }
            (Some("unsubscribe"), PushState::Unsubscribing) => {
                if let Err(e) = self.forget(&feed_url).await {
                    tracing::warn!(feed_url, error = %e, "websub: cannot forget the subscription");
                }
                tracing::info!(feed_url, %hub, status = "unsubscribed", "websub: unsubscription verified");
                Verified::Echo(challenge)
            }
            (Some("denied"), _) => {
                let reason = q.reason.unwrap_or_else(|| "no reason given".into());
                tracing::warn!(feed_url, %hub, status = "failed", "websub: the hub denied the subscription ({reason}); polling as usual");
                row.state = PushState::Failed;
                row.lease_until = None;
                row.renew_at = None;
                row.error = Some(format!(
                    "denied by the hub: {}",
                    reason.chars().take(MAX_REASON).collect::<String>()
                ));
                let _ = self.put(row).await;
                Verified::Echo(String::new())
            }
            (mode, state) => {
                tracing::warn!(feed_url, %hub, ?mode, %state, status = 404, "websub: a verification we did not ask for; refused");
                Verified::Unknown
            }
        }
    }

    /// Content the hub pushed (WebSub 7): checked against our secret,
    /// then refreshed as a polled body would be.
    pub async fn content(
        &self,
        token: &str,
        signature: Option<&str>,
        content_type: Option<String>,
        body: bytes::Bytes,
    ) -> Pushed {
        let Some(row) = self.by_token(token).await else {
            return Pushed::Gone;
        };
        let (feed_url, hub) = (row.feed_url.clone(), row.hub.clone());
        let (reject_sha1, feed) =
            self.settings(|s| (s.reject_sha1, s.feeds.get(&feed_url).cloned()));
        let bytes = body.len();
        let discard = |why: &str| {
            METRICS.push_rejected();
            tracing::warn!(feed_url, %hub, status = "discarded", bytes, "websub: pushed content discarded: {why}");
            Pushed::Discarded
        };
        if let Err(e) = super::check_signature(&row.secret, signature, &body, reject_sha1) {
            return discard(&e.to_string());
        }
        let Some(feed) = feed.filter(|_| row.state == PushState::Active) else {
            return discard(&format!(
                "the subscription is {} (the feed left config.toml, or its lease ended)",
                row.state
            ));
        };
        if !self.polls {
            // A serving process keeps it for a polling one, which refreshes
            // it within a second (NOTIFY over PostgreSQL).
            let kept = InboxPush {
                id: 0,
                feed_url: feed.url.clone(),
                content_type,
                body: body.to_vec(),
                received: now(),
            };
            return match self.store.inbox_put(kept).await {
                Ok(()) => {
                    tracing::info!(feed_url, %hub, bytes, status = "kept", "websub: pushed content kept for a polling process");
                    Pushed::Stored
                }
                // Not taken: the hub sends it again.
                Err(e) => {
                    tracing::warn!(feed_url, %hub, error = %e, "websub: cannot keep pushed content; the hub is asked to retry");
                    Pushed::Busy
                }
            };
        }
        let Ok(_slot) = self.refreshing.try_acquire() else {
            return Pushed::Busy;
        };
        match self.refresh_pushed(&feed, body, content_type).await {
            Ok(()) => Pushed::Stored,
            Err(why) => discard(&why),
        }
    }

    /// Refreshes `feed` from a pushed body, as a poll would from a
    /// fetched one; why not, for the log.
    async fn refresh_pushed(
        &self,
        feed: &config::Feed,
        body: bytes::Bytes,
        content_type: Option<String>,
    ) -> Result<(), String> {
        let feed = config::Feed {
            interval: self.poll_interval(feed),
            ..feed.clone()
        };
        let state = self
            .store
            .feed_state(feed.url.clone())
            .await
            .map_err(|e| format!("cannot read the feed's state: {e}"))?;
        let fetched = refresh::delivered(&feed.url, body, content_type);
        let done = refresh::refresh(
            &self.store,
            &feed,
            &state,
            fetched,
            &mut FeedHints::default(),
        )
        .await
        .map_err(|e| format!("the document was not read: {e}"))?;
        METRICS.push_stored(done.stats.new_items as u64);
        tracing::info!(feed_url = %feed.url, status = %done.status, new_items = done.stats.new_items, "websub: pushed content stored");
        Ok(())
    }

    /// In a polling process: refreshes the content serving processes kept
    /// (`content` with `--role serve`), as it arrives, until shutdown.
    pub async fn take_kept(self: Arc<Self>) {
        if !self.polls {
            return;
        }
        let mut pushes = self.store.versions().pushes();
        loop {
            loop {
                let at = now();
                let taken = match self.store.inbox_take(at, at + HOLD_KEPT, REFRESHING).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "websub: cannot read kept pushes; trying again shortly");
                        break;
                    }
                };
                if taken.is_empty() {
                    break;
                }
                for p in taken {
                    let feed = self.settings(|s| s.feeds.get(&p.feed_url).cloned());
                    let waited = now() - p.received;
                    match feed {
                        Some(feed) => {
                            if let Err(why) = self
                                .refresh_pushed(&feed, p.body.into(), p.content_type)
                                .await
                            {
                                METRICS.push_rejected();
                                tracing::warn!(feed_url = %p.feed_url, waited, status = "discarded", "websub: kept push discarded: {why}");
                            }
                        }
                        None => {
                            tracing::info!(feed_url = %p.feed_url, status = "discarded", "websub: kept push for a feed no longer in config.toml; dropped");
                        }
                    }
                    if let Err(e) = self.store.inbox_done(p.id).await {
                        tracing::warn!(feed_url = %p.feed_url, error = %e, "websub: cannot drop a refreshed push; it is refreshed again (items are kept once)");
                    }
                }
            }
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = pushes.changed() => {}
                _ = tokio::time::sleep(LOOK_KEPT) => {}
            }
        }
    }

    /// Feeds gone from config.toml: unsubscribed (verified by the hub, or
    /// forgotten when it cannot be asked).
    async fn retire(&self) {
        if !self.polls {
            return;
        }
        self.reload().await;
        let configured: HashSet<String> = self.settings(|s| s.feeds.keys().cloned().collect());
        let gone: Vec<PushSubscription> = self
            .subs()
            .values()
            .filter(|s| !configured.contains(&s.feed_url) && s.state != PushState::Unsubscribing)
            .cloned()
            .collect();
        for mut row in gone {
            let feed_url = row.feed_url.clone();
            // Every polling process reloads the same config.toml: one
            // unsubscribes.
            if !self.claim(&mut row).await {
                continue;
            }
            if !matches!(row.state, PushState::Active | PushState::Pending) {
                let _ = self.forget(&feed_url).await;
                continue;
            }
            row.state = PushState::Unsubscribing;
            row.requested = now();
            let asked = match self.put(row.clone()).await {
                Ok(()) => self.request("unsubscribe", &row).await,
                Err(e) => Err(e.into()),
            };
            match asked {
                Ok(()) => {
                    tracing::info!(feed_url, hub = %row.hub, status = %row.state, "websub: the feed left config.toml; unsubscribing")
                }
                Err(e) => {
                    tracing::warn!(feed_url, hub = %row.hub, "websub: cannot unsubscribe ({e}); forgetting the subscription, its lease ends by itself");
                    let _ = self.forget(&feed_url).await;
                }
            }
        }
    }

    /// Renews leases before they end, fails hubs that never verify, and
    /// notices lapsed leases, until shutdown.
    pub async fn run(self: Arc<Self>) {
        // Leases are kept by processes that poll (they make requests); a
        // serving one only answers the hub.
        if !self.polls {
            return;
        }
        let mut rows_changed = self.store.versions().push_rows();
        loop {
            // The rows as stored: a serving process (or another poller)
            // may have changed them.
            self.reload().await;
            let at = now();
            let mut next = at + LOOK_EVERY.as_secs() as i64;
            let mut due = Vec::new();
            // With push turned off, leases run out unrenewed.
            let renewing = self.settings(|c| c.enabled);
            for s in self.subs().values() {
                let when = match s.state {
                    PushState::Active if renewing => {
                        s.renew_at.into_iter().chain(s.lease_until).min()
                    }
                    PushState::Active => s.lease_until,
                    PushState::Pending | PushState::Unsubscribing => {
                        Some(s.requested + VERIFY_WITHIN)
                    }
                    PushState::Failed | PushState::Discovered => None,
                };
                match when {
                    Some(t) if t <= at => due.push(s.clone()),
                    Some(t) => next = next.min(t),
                    None => {}
                }
            }
            for s in due {
                self.due(s, at).await;
            }
            let wait = Duration::from_secs(u64::try_from(next - now()).unwrap_or(0).max(1));
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = rows_changed.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Replaces this process's copy of the rows with the stored ones: a
    /// serving process (or another poller) may have changed them. The
    /// scheduler hears when any did, so a feed verified elsewhere stops
    /// being polled on its interval.
    async fn reload(&self) {
        let rows = match self.store.push_subscriptions().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "websub: cannot read the subscriptions; using the last ones read");
                return;
            }
        };
        let rows: HashMap<String, PushSubscription> =
            rows.into_iter().map(|r| (r.feed_url.clone(), r)).collect();
        let differs = {
            let mut subs = self.subs();
            let differs = *subs != rows;
            *subs = rows;
            differs
        };
        if differs {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Takes the next step of `row` for this process (`Backend::
    /// push_claim`): false when another process took it, or the row
    /// changed since it was read.
    async fn claim(&self, row: &mut PushSubscription) -> bool {
        let at = now().max(row.requested + 1);
        match self.store.push_claim(row.clone(), at).await {
            Ok(true) => {
                row.requested = at;
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(feed_url = %row.feed_url, error = %e, "websub: cannot claim the subscription's next step; leaving it for now");
                false
            }
        }
    }

    /// What is due for one subscription at `at`.
    async fn due(&self, mut s: PushSubscription, at: i64) {
        let feed_url = s.feed_url.clone();
        // Only pending, active and unsubscribing rows come here.
        if !self.claim(&mut s).await {
            return;
        }
        match s.state {
            PushState::Active if s.lease_until.is_some_and(|t| t <= at) => {
                tracing::warn!(feed_url, hub = %s.hub, status = "failed", "websub: the lease ended without a renewal; polling as usual");
                s.state = PushState::Failed;
                s.error = Some("the lease ended without a renewal".into());
                s.renew_at = None;
                let _ = self.put(s).await;
            }
            PushState::Active => {
                // Asked once per lease: the next look is at its end.
                s.renew_at = s.lease_until;
                tracing::info!(feed_url, hub = %s.hub, "websub: renewing the lease");
                self.subscribe(s).await;
            }
            PushState::Pending => {
                tracing::warn!(feed_url, hub = %s.hub, status = "failed", "websub: the hub did not verify the subscription within {VERIFY_WITHIN} s; polling as usual");
                s.state = PushState::Failed;
                s.error = Some(format!(
                    "the hub did not verify the subscription within {VERIFY_WITHIN} s"
                ));
                let _ = self.put(s).await;
            }
            PushState::Unsubscribing => {
                tracing::info!(feed_url, hub = %s.hub, "websub: the hub did not confirm the unsubscription; forgetting it");
                let _ = self.forget(&feed_url).await;
            }
            PushState::Failed | PushState::Discovered => {}
        }
    }
}
