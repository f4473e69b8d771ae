//! The built-in WebSub hub for our topic feeds (W3C WebSub, sections 5–7).
//!
//! A subscriber POSTs `hub.mode`, `hub.topic` (one of our topic feed urls),
//! `hub.callback` and optionally `hub.secret` and `hub.lease_seconds` to
//! `/websub/hub`. The request is answered 202 at once; the hub then
//! verifies the intent (a GET to the callback with a random
//! `hub.challenge` it must echo) before it stores or removes anything, so
//! no one can subscribe a third party. Subscriptions live in the database
//! (`hub_subscribers`): they survive restarts and are shared by every
//! process serving the same PostgreSQL database.
//!
//! Whenever a topic's documents change (the store's `Versions`), the new
//! first page is POSTed to each subscriber of that format, signed with
//! their secret (`X-Hub-Signature: sha256=...`), with `Link` headers naming
//! the hub and the topic. Deliveries run concurrently up to a bound, each
//! with a timeout; a failed one is retried with backoff unless a newer
//! version has gone out meanwhile, and a 410 ends the subscription. A slow
//! or dead subscriber holds one delivery slot for at most the timeout, so
//! it never delays the others, and polling never waits for the hub.
//!
//! Callbacks go through the same guard as feed urls: private addresses
//! are refused unless `[polling] allow_private_networks` is set.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::fetch;
use crate::publish::Format;
use crate::storage::HubSubscriber;
use crate::store::{Store, Versions};

/// Leases granted: what the subscriber asks within these bounds, else the
/// default (WebSub 5.1 lets the hub decide).
const MIN_LEASE: u64 = 1;
const DEFAULT_LEASE: u64 = 10 * 24 * 3600;
const MAX_LEASE: u64 = 30 * 24 * 3600;
/// A callback answers a verification or a delivery within this.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Verifications and deliveries in flight at once, each.
const VERIFYING: usize = 16;
const DELIVERING: usize = 64;
/// Subscribers of one topic feed url at most.
const MAX_SUBSCRIBERS: usize = 10_000;
/// Longest callback url and secret accepted (WebSub 5.1: a secret is
/// less than 200 bytes).
const MAX_CALLBACK: usize = 2048;
const MAX_SECRET: usize = 199;
/// The challenge echoed must come back in the first this-many bytes; the
/// rest of a hostile answer is never read.
const MAX_ECHO: usize = 1024;
/// Waits before each retry of a failed delivery.
const RETRIES: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
];
/// How often expired subscriptions are removed.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// A subscription request, as POSTed (WebSub 5.1).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Request {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.topic")]
    pub topic: Option<String>,
    #[serde(rename = "hub.callback")]
    pub callback: Option<String>,
    #[serde(rename = "hub.secret")]
    pub secret: Option<String>,
    #[serde(rename = "hub.lease_seconds")]
    pub lease_seconds: Option<String>,
}

/// Why a request was refused: the HTTP status and a message for the
/// subscriber (WebSub 5.1.1: 4xx with a description).
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// Renders the first page of a topic in a format: the same bytes the
/// server serves (None when it cannot).
pub type Render = Arc<
    dyn Fn(String, Format) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync,
>;

/// What the hub knows of the config; replaced on reload.
struct Published {
    base_url: String,
    /// Our own hub's url, as topic feeds advertise it.
    hub_url: String,
    /// `[websub] hub`: an external hub we ping instead of delivering.
    external: Option<String>,
    slugs: Vec<String>,
}

pub struct Hub {
    store: Store,
    client: reqwest::Client,
    allow_private: bool,
    published: RwLock<Published>,
    verifying: Arc<Semaphore>,
    delivering: Arc<Semaphore>,
    /// The newest delivery generation per topic feed url: a retry of an
    /// older one gives up (the subscriber gets the newer document).
    generation: Mutex<HashMap<String, u64>>,
    /// Shutdown: verifications and deliveries in flight (or waiting to
    /// retry) end, so the store they hold closes.
    stop: CancellationToken,
}

impl Hub {
    pub fn new(
        store: Store,
        cfg: &Config,
        stop: CancellationToken,
    ) -> Result<Arc<Hub>, fetch::FetchError> {
        Ok(Arc::new(Hub {
            store,
            client: fetch::guarded_client(cfg.polling.allow_private_networks, TIMEOUT)?,
            allow_private: cfg.polling.allow_private_networks,
            published: RwLock::new(Published::of(cfg)),
            verifying: Arc::new(Semaphore::new(VERIFYING)),
            delivering: Arc::new(Semaphore::new(DELIVERING)),
            generation: Mutex::default(),
            stop,
        }))
    }

    /// A reload: new topics, base_url or external hub.
    pub fn set_config(&self, cfg: &Config) {
        *self
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Published::of(cfg);
    }

    fn published<R>(&self, f: impl FnOnce(&Published) -> R) -> R {
        f(&self
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Checks a subscription request and starts verifying it; the caller
    /// answers 202 Accepted on Ok.
    pub fn request(self: &Arc<Self>, r: Request) -> Result<(), Refused> {
        if let Some(external) = self.published(|p| p.external.clone()) {
            return Err(refuse(
                400,
                format!("this server's topic feeds use the hub at {external}"),
            ));
        }
        let mode = match r.mode.as_deref() {
            Some(m @ ("subscribe" | "unsubscribe")) => m.to_owned(),
            Some(other) => {
                return Err(refuse(
                    400,
                    format!("hub.mode {other:?}: this hub takes subscribe or unsubscribe"),
                ));
            }
            None => return Err(refuse(400, "hub.mode is missing")),
        };
        let topic = r.topic.ok_or_else(|| refuse(400, "hub.topic is missing"))?;
        if !self.published(|p| p.knows(&topic)) {
            return Err(refuse(
                404,
                format!("hub.topic {topic:?} is not a topic feed of this server"),
            ));
        }
        let callback = r
            .callback
            .ok_or_else(|| refuse(400, "hub.callback is missing"))?;
        if callback.len() > MAX_CALLBACK {
            return Err(refuse(400, "hub.callback is too long"));
        }
        fetch::check_address(&callback, self.allow_private)
            .map_err(|why| refuse(400, format!("hub.callback refused: {why}")))?;
        let secret = r.secret.filter(|s| !s.is_empty());
        if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET) {
            return Err(refuse(400, "hub.secret must be shorter than 200 bytes"));
        }
        let lease = r
            .lease_seconds
            .and_then(|l| l.trim().parse::<u64>().ok())
            .map_or(DEFAULT_LEASE, |l| l.clamp(MIN_LEASE, MAX_LEASE));
        let permit = self.verifying.clone().try_acquire_owned().map_err(|_| {
            refuse(
                429,
                "too many subscriptions being verified; try again shortly",
            )
        })?;
        let hub = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stop = hub.stop.clone();
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = hub.verify(mode, topic, callback, secret, lease) => {}
            }
        });
        Ok(())
    }

    /// WebSub 5.3: asks the callback to echo a challenge; only then is the
    /// subscription stored (or removed).
    async fn verify(
        &self,
        mode: String,
        topic: String,
        callback: String,
        secret: Option<String>,
        lease: u64,
    ) {
        let challenge = format!(
            "{:016x}{:016x}",
            crate::schedule::random_u64(),
            crate::schedule::random_u64()
        );
        let Ok(mut url) = reqwest::Url::parse(&callback) else {
            return;
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("hub.mode", &mode)
                .append_pair("hub.topic", &topic)
                .append_pair("hub.challenge", &challenge);
            if mode == "subscribe" {
                q.append_pair("hub.lease_seconds", &lease.to_string());
            }
        }
        let echoed = match self.client.get(url).send().await {
            Ok(resp) if resp.status().is_success() => read_at_most(resp, MAX_ECHO).await,
            Ok(resp) => {
                tracing::info!(%callback, %topic, status = resp.status().as_u16(), "websub: the subscriber did not confirm; nothing changed");
                return;
            }
            Err(e) => {
                tracing::info!(%callback, %topic, error = %e, "websub: cannot verify the subscription; nothing changed");
                return;
            }
        };
        if echoed.as_deref().map(str::trim) != Some(challenge.as_str()) {
            tracing::info!(%callback, %topic, "websub: the callback did not echo the challenge; nothing changed");
            return;
        }
        let done = if mode == "subscribe" {
            match self.store.hub_count(topic.clone(), callback.clone()).await {
                Ok(others) if others >= MAX_SUBSCRIBERS => {
                    tracing::warn!(%topic, "websub: subscriber limit reached; subscription refused");
                    return;
                }
                _ => {}
            }
            let expires = chrono::Utc::now().timestamp() + lease as i64;
            self.store
                .hub_subscribe(HubSubscriber {
                    topic: topic.clone(),
                    callback: callback.clone(),
                    secret,
                    expires,
                })
                .await
                .map(|()| true)
        } else {
            self.store
                .hub_unsubscribe(topic.clone(), callback.clone())
                .await
        };
        match done {
            Ok(_) => {
                tracing::info!(%callback, %topic, %mode, lease, "websub: subscription verified")
            }
            Err(e) => {
                tracing::error!(%callback, %topic, error = %e, "websub: cannot store the subscription")
            }
        }
    }

    /// Delivers every change of a topic's documents until `stop`, and
    /// removes expired subscriptions. With an external hub, pings it
    /// instead (`hub.mode=publish`).
    pub async fn run(self: Arc<Self>, versions: Arc<Versions>, render: Render) {
        let stop = self.stop.clone();
        let mut changes = versions.subscribe();
        // What was current at start is what subscribers last got (or could
        // fetch); only changes from now on are pushed.
        let mut seen: HashMap<String, u64> = self.published(|p| {
            p.slugs
                .iter()
                .map(|s| (s.clone(), versions.topic(s)))
                .collect()
        });
        // The bytes last delivered per topic feed url: a change that left
        // a document as it was (another topic's, say) is not pushed.
        let mut sent: HashMap<String, [u8; 32]> = HashMap::new();
        let mut expire = tokio::time::interval(EXPIRE_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = expire.tick() => {
                    match self.store.hub_expire().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(subscriptions = n, "websub: leases ended"),
                        Err(e) => tracing::warn!(error = %e, "websub: cannot remove ended leases"),
                    }
                    continue;
                }
                r = changes.changed() => if r.is_err() { return },
            }
            let slugs = self.published(|p| p.slugs.clone());
            for slug in slugs {
                let v = versions.topic(&slug);
                if seen.get(&slug) == Some(&v) {
                    continue;
                }
                seen.insert(slug.clone(), v);
                for format in Format::ALL {
                    self.clone()
                        .publish(&slug, format, &render, &mut sent)
                        .await;
                }
            }
        }
    }

    /// One topic feed changed: deliver it to its subscribers (or ping the
    /// external hub).
    async fn publish(
        self: Arc<Self>,
        slug: &str,
        format: Format,
        render: &Render,
        sent: &mut HashMap<String, [u8; 32]>,
    ) {
        let (url, hub_url, external) = self.published(|p| {
            (
                format.url(&p.base_url, slug),
                p.hub_url.clone(),
                p.external.clone(),
            )
        });
        if let Some(external) = external {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("hub.mode", "publish")
                .append_pair("hub.url", &url)
                .finish();
            let r = self
                .client
                .post(&external)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => {}
                Ok(resp) => {
                    tracing::warn!(hub = %external, topic = %url, status = resp.status().as_u16(), "websub: the external hub refused the ping")
                }
                Err(e) => {
                    tracing::warn!(hub = %external, topic = %url, error = %e, "websub: cannot ping the external hub")
                }
            }
            return;
        }
        // Over a shared database, one server delivers; the others see the
        // same change and leave it to that one.
        match self.store.holds_hub().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(topic = %url, error = %e, "websub: cannot tell whether this process delivers");
                return;
            }
        }
        let subscribers = match self.store.hub_subscribers(url.clone()).await {
            Ok(s) if s.is_empty() => return,
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(topic = %url, error = %e, "websub: cannot read the subscribers");
                return;
            }
        };
        let Some(body) = render(slug.to_owned(), format).await else {
            tracing::warn!(topic = %url, "websub: cannot render the topic feed to deliver it");
            return;
        };
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
        if sent.get(&url) == Some(&digest) {
            return;
        }
        sent.insert(url.clone(), digest);
        let generation = {
            let mut g = self
                .generation
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = g.entry(url.clone()).or_default();
            *n += 1;
            *n
        };
        let body = bytes::Bytes::from(body);
        let link = format!("<{hub_url}>; rel=\"hub\", <{url}>; rel=\"self\"");
        tracing::debug!(topic = %url, subscribers = subscribers.len(), "websub: delivering");
        for s in subscribers {
            let hub = self.clone();
            let (body, link, url) = (body.clone(), link.clone(), url.clone());
            tokio::spawn(async move {
                let stop = hub.stop.clone();
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = hub.deliver(s, &url, format, body, &link, generation) => {}
                }
            });
        }
    }

    fn current(&self, url: &str, generation: u64) -> bool {
        self.generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(url)
            .is_none_or(|g| *g == generation)
    }

    /// WebSub 7: one subscriber gets one version, retried with backoff
    /// while it is still the newest.
    async fn deliver(
        &self,
        s: HubSubscriber,
        url: &str,
        format: Format,
        body: bytes::Bytes,
        link: &str,
        generation: u64,
    ) {
        let signature = s.secret.as_deref().map(|k| super::signature(k, &body));
        for attempt in 0..=RETRIES.len() {
            if attempt > 0 {
                tokio::time::sleep(RETRIES[attempt - 1]).await;
                if !self.current(url, generation) {
                    return;
                }
            }
            let Ok(_slot) = self.delivering.acquire().await else {
                return;
            };
            let mut req = self
                .client
                .post(&s.callback)
                .header("Content-Type", format.spec().content_type)
                .header("Link", link)
                .body(body.clone());
            if let Some(sig) = &signature {
                req = req.header("X-Hub-Signature", sig);
            }
            // The answer's body is never read: a subscriber cannot make us
            // download anything.
            match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    tracing::debug!(callback = %s.callback, topic = %url, "websub: delivered");
                    return;
                }
                Ok(resp) if resp.status() == reqwest::StatusCode::GONE => {
                    tracing::info!(callback = %s.callback, topic = %url, "websub: the subscriber is gone (410); subscription removed");
                    let _ = self
                        .store
                        .hub_unsubscribe(s.topic.clone(), s.callback.clone())
                        .await;
                    return;
                }
                Ok(resp) => {
                    tracing::info!(callback = %s.callback, topic = %url, status = resp.status().as_u16(), attempt, "websub: delivery refused")
                }
                Err(e) => {
                    tracing::info!(callback = %s.callback, topic = %url, error = %e, attempt, "websub: delivery failed")
                }
            }
        }
        tracing::warn!(callback = %s.callback, topic = %url, "websub: delivery failed after retries; the next change is tried again");
    }
}

impl Published {
    fn of(cfg: &Config) -> Published {
        let base_url = cfg.server.base_url.clone();
        Published {
            hub_url: format!("{base_url}websub/hub"),
            external: cfg.websub.hub.clone(),
            slugs: cfg.topics.iter().map(|t| t.slug.clone()).collect(),
            base_url,
        }
    }

    /// Whether `topic` is the url of one of our topic feeds.
    fn knows(&self, topic: &str) -> bool {
        self.slugs.iter().any(|slug| {
            Format::ALL
                .into_iter()
                .any(|f| f.url(&self.base_url, slug) == topic)
        })
    }
}

/// Up to `max` bytes of a response's body, as text; None when it is
/// longer (a hostile callback may answer with gigabytes).
async fn read_at_most(mut resp: reqwest::Response, max: usize) -> Option<String> {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() > max {
            return None;
        }
    }
    String::from_utf8(buf).ok()
}
