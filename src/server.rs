//! HTTP: topic feeds (Atom, JSON Feed), the OPML list of topics, the index
//! page and health, served until the shutdown token fires.
//!
//! Topic feeds are polled by every subscriber's reader, mostly to hear that
//! nothing changed, so they are built once and kept: each rendered document
//! sits in memory with its gzip and brotli forms, its strong ETag and its
//! Last-Modified, stamped with the store's change counter for its topic. A
//! request whose stamp still matches (the common case) is answered from
//! memory without a store round trip; a conditional one gets a bodiless 304.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::METRICS;
use crate::publish::{self, Format, Page};
use crate::store::{Store, StoreError, TopicEntries, Versions};
use crate::topics::Topic;

/// What the configuration says about publishing; swapped whole on reload.
struct Published {
    topics: Vec<Topic>,
    base_url: String,
    /// The WebSub hub topic feeds advertise, when push is on.
    hub: Option<String>,
    /// The configured feeds (their urls and poll intervals), for Cache-Control.
    feeds: Vec<Arc<crate::config::Feed>>,
    default_interval: Duration,
    /// Bumped by every reload, so documents built before it are not reused.
    epoch: u64,
}

impl Published {
    fn place(&self) -> publish::Place<'_> {
        publish::Place {
            base_url: &self.base_url,
            hub: self.hub.as_deref(),
        }
    }

    fn new(cfg: &Config, epoch: u64) -> Published {
        Published {
            topics: cfg.topics.clone(),
            base_url: cfg.server.base_url.clone(),
            hub: cfg.websub.hub_url(&cfg.server.base_url),
            feeds: cfg.feeds.clone(),
            default_interval: cfg.polling.interval,
            epoch,
        }
    }

    /// How long a reader may keep a document: until the soonest poll of a
    /// feed it draws from could change it.
    fn max_age(&self, topic: Option<&Topic>) -> u64 {
        let filter = topic.and_then(|t| t.feed_filter.as_ref());
        self.feeds
            .iter()
            .filter(|feed| filter.is_none_or(|f| f.contains(&feed.url)))
            .map(|feed| feed.interval)
            .min()
            .unwrap_or(self.default_interval)
            .as_secs()
    }
}

/// What a cached document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Topic(Format),
    Opml,
    Index,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Topic(f) => f.spec().content_type,
            Kind::Opml => "text/x-opml; charset=utf-8",
            Kind::Index => "text/html; charset=utf-8",
        }
    }
}

/// (config epoch, store version): what a document was built from.
type Stamp = (u64, u64);

/// Cached documents by (what, page), then by topic ("" for site-wide):
/// nested so a lookup borrows the slug instead of allocating a key.
type Cache = HashMap<(Kind, usize), HashMap<String, Arc<Doc>>>;

/// A rendered document, ready to send in any encoding. Header values are
/// made once here, so answering a request only copies references.
struct Doc {
    /// (config epoch, store version) it was built at.
    stamp: Stamp,
    /// Hash of the identity body; the gzip and brotli forms get suffixes,
    /// since a strong ETag names exact bytes.
    etag: String,
    last_modified: SystemTime,
    kind: Kind,
    /// (body, ETag header) per encoding, in `Encoding` order.
    forms: [(Bytes, HeaderValue); 3],
    last_modified_header: HeaderValue,
    cache_control: HeaderValue,
    /// `Link: <hub>; rel="hub", <self>; rel="self"` on topic feeds, when
    /// push is on (WebSub 4: discovery from the HTTP headers).
    link: Option<HeaderValue>,
}

/// At most this many documents are kept; past it, older pages are dropped
/// (first pages, what readers poll, stay).
const CACHE_LIMIT: usize = 512;

/// What request handlers share. The configuration sits behind a lock so a
/// reload can swap it without restarting the server.
pub struct AppState {
    store: Store,
    versions: Arc<Versions>,
    published: RwLock<Arc<Published>>,
    cache: RwLock<Cache>,
    /// Each topic's page count at a stamp, so a request for a page past the
    /// end (a crawler counting up) is refused without a database query.
    pages: RwLock<HashMap<String, (Stamp, usize)>>,
    /// Documents being rebuilt. A change reaches every subscriber's next
    /// request at once; without this, each of a thousand concurrent requests
    /// queried the store and rendered and compressed the same document
    /// (measured: a poll 14× slower and 474 MiB under `wrk -c500`).
    building: std::sync::Mutex<HashSet<(Kind, usize, String)>>,
    /// Woken when a rebuild ends, for requests that had no document to serve.
    built: tokio::sync::Notify,
    /// The built-in WebSub hub, when push is on (`/websub/hub`).
    hub: RwLock<Option<Arc<crate::websub::hub::Hub>>>,
    /// Our subscriptions to feeds' hubs, in a process that polls
    /// (`/websub/callback/...`).
    subscriber: RwLock<Option<Arc<crate::websub::subscriber::Subscriber>>>,
    /// Pushed content is read up to this (`[polling] max_body`, as a
    /// polled body).
    max_push: usize,
}

/// Who answers a request for a document that is stale or missing.
enum Turn {
    /// This request rebuilds it (holding the claim until done or dropped);
    /// the previous document, if any, is passed on for Last-Modified.
    Build(Claim, Option<Arc<Doc>>),
    /// Another request is rebuilding it: serve what there is meanwhile (a
    /// few milliseconds old), or the new one once it is there.
    Serve(Arc<Doc>),
}

/// The right to rebuild one document; released on drop, so a request that
/// fails or whose client goes away mid-rebuild lets the next one try.
struct Claim {
    state: Arc<AppState>,
    key: (Kind, usize, String),
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(self.state.building.lock()).remove(&self.key);
        self.state.built.notify_waiters();
    }
}

#[derive(Debug, Error)]
enum ServeError {
    #[error("cannot read the topic: {0}")]
    Store(#[from] StoreError),
    #[error("cannot render the document: {0}")]
    Render(String),
}

fn lock<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    pub fn new(store: Store, cfg: &Config) -> AppState {
        AppState {
            versions: store.versions(),
            store,
            published: RwLock::new(Arc::new(Published::new(cfg, 0))),
            cache: RwLock::new(HashMap::new()),
            pages: RwLock::new(HashMap::new()),
            building: std::sync::Mutex::new(HashSet::new()),
            built: tokio::sync::Notify::new(),
            hub: RwLock::new(None),
            subscriber: RwLock::new(None),
            max_push: usize::try_from(cfg.polling.max_body_bytes).unwrap_or(usize::MAX),
        }
    }

    /// Answers `/websub/callback/...` with `subscriber` from now on.
    pub fn set_subscriber(&self, subscriber: Option<Arc<crate::websub::subscriber::Subscriber>>) {
        *lock(self.subscriber.write()) = subscriber;
    }

    /// Answers `/websub/hub` with `hub` from now on.
    pub fn set_hub(&self, hub: Option<Arc<crate::websub::hub::Hub>>) {
        *lock(self.hub.write()) = hub;
    }

    /// The first page of a topic in `format`, rendered from the database
    /// as a request for it would be (the hub delivers these bytes).
    pub async fn render_first_page(&self, slug: String, format: Format) -> Option<String> {
        let p = self.published();
        let topic = p.topics.iter().find(|t| t.slug == slug)?.clone();
        let data = self
            .store
            .topic_page(topic.slug.clone(), topic.limit, topic.by_story, 0)
            .await
            .ok()?;
        let page = Page::of(1, data.total, topic.limit)?;
        tokio::task::spawn_blocking(move || format.render(&topic, &p.place(), &data, page).ok())
            .await
            .ok()
            .flatten()
    }

    /// Decides who rebuilds a document that is not current at `stamp`: the
    /// first request claims the rebuild; the others are served the previous
    /// document meanwhile, or wait for the new one when none exists yet.
    async fn turn(self: &Arc<Self>, kind: Kind, slug: &str, page: usize, stamp: Stamp) -> Turn {
        loop {
            // Created before the checks, so a rebuild ending in between
            // still wakes this request.
            let ended = self.built.notified();
            let old = self.cached(kind, slug, page);
            if let Some(doc) = old.as_ref().filter(|d| d.stamp == stamp) {
                return Turn::Serve(doc.clone());
            }
            let key = (kind, page, slug.to_owned());
            if lock(self.building.lock()).insert(key.clone()) {
                let claim = Claim {
                    state: self.clone(),
                    key,
                };
                return Turn::Build(claim, old);
            }
            if let Some(doc) = old {
                return Turn::Serve(doc);
            }
            ended.await;
        }
    }

    /// Applies a reloaded config: new topics, titles, base_url and intervals;
    /// every cached document is rebuilt on its next request.
    pub fn set_topics(&self, cfg: &Config) {
        let mut p = lock(self.published.write());
        *p = Arc::new(Published::new(cfg, p.epoch + 1));
        lock(self.cache.write()).clear();
        lock(self.pages.write()).clear();
    }

    fn known_pages(&self, slug: &str, stamp: Stamp) -> Option<usize> {
        lock(self.pages.read())
            .get(slug)
            .filter(|(at, _)| *at == stamp)
            .map(|(_, n)| *n)
    }

    fn published(&self) -> Arc<Published> {
        lock(self.published.read()).clone()
    }

    fn cached(&self, kind: Kind, slug: &str, page: usize) -> Option<Arc<Doc>> {
        lock(self.cache.read())
            .get(&(kind, page))
            .and_then(|m| m.get(slug))
            .cloned()
    }

    fn keep(&self, kind: Kind, slug: &str, page: usize, doc: Arc<Doc>) {
        let mut cache = lock(self.cache.write());
        if cache.values().map(HashMap::len).sum::<usize>() >= CACHE_LIMIT {
            cache.retain(|k, _| k.1 <= 1);
        }
        cache
            .entry((kind, page))
            .or_default()
            .insert(slug.to_owned(), doc);
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    // `get` also answers HEAD (same headers, no body); any other method
    // gets 405 with an Allow header from axum.
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/topics.opml", get(opml))
        .route("/topics/{file}", get(topic_feed))
        .route(
            "/websub/hub",
            axum::routing::post(websub_hub).layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
        )
        .route(
            "/websub/callback/{token}",
            get(websub_verify).post(websub_content),
        )
        .with_state(state)
}

/// How long the database may take to answer a health check or a scrape.
const STORE_ANSWER: Duration = Duration::from_secs(2);

/// The scheduler's loop beats at least every 30 s; three missed beats make
/// the daemon unhealthy.
const BEAT_STALE_SECS: i64 = 90;

/// 200 when the database answers and the scheduler ran recently, else 503
/// with the reason: what a load balancer or monitor wants to know.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let answer = tokio::time::timeout(STORE_ANSWER, state.store.summary()).await;
    let beat = METRICS.last_beat();
    let age = chrono::Utc::now().timestamp() - beat;
    let unhealthy = |why: String| (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    match answer {
        Ok(Ok(_)) if beat > 0 && age <= BEAT_STALE_SECS => "ok\n".into_response(),
        Ok(Ok(_)) if beat == 0 => unhealthy("the scheduler has not started yet\n".into()),
        Ok(Ok(_)) => unhealthy(format!("the scheduler has not run for {age} s\n")),
        Ok(Err(e)) => unhealthy(format!("the database does not answer: {e}\n")),
        Err(_) => unhealthy(format!(
            "the database did not answer within {} s\n",
            STORE_ANSWER.as_secs()
        )),
    }
}

/// Prometheus text format: the daemon's counters and the database's counts.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match tokio::time::timeout(STORE_ANSWER, state.store.stats()).await {
        Ok(Ok(stats)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            METRICS.render(&stats),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database did not answer in time\n",
        )
            .into_response(),
    }
}

/// A client must send a request's head within this time, or the connection
/// is closed: slow clients (slowloris) cannot hold connections for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a request head may take (hyper answers 431 beyond it); our
/// requests are a path and a few headers.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Open connections at most; beyond that new ones wait in the kernel's
/// backlog. Each costs a task and its buffers (tens of KiB), so this bounds
/// the server's memory whatever clients do.
const MAX_CONNECTIONS: usize = 4096;

/// Serves until `stop` is cancelled, then lets in-flight requests finish.
///
/// The accept loop is our own (hyper-util's connection builder) rather than
/// `axum::serve`, for what that lacks: a deadline on request heads, a cap on
/// head size and a bound on concurrent connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let app = router(state);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .max_concurrent_streams(64);
    let slots = Arc::new(tokio::sync::Semaphore::new(connection_limit()));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little and go on serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // In-flight requests finish; the caller bounds how long it waits.
    graceful.shutdown().await;
    Ok(())
}

/// `MAX_CONNECTIONS`, or fewer when the process may not open that many
/// files: half of the descriptors stay for the database and polling.
fn connection_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc != 0 {
        return 512;
    }
    // Raise the soft limit to the hard one: systemd's default soft limit
    // (1024) is meant to be raised by programs that need more.
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let files = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
    MAX_CONNECTIONS.min(files / 2).max(64)
}

fn plain(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

fn failed(what: &str, e: &ServeError) -> Response {
    tracing::error!(document = what, error = %e, "cannot serve the document");
    match e {
        ServeError::Store(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable; try again shortly\n".into(),
        ),
        ServeError::Render(_) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot render this document\n".into(),
        ),
    }
}

fn no_such_page(slug: &str, page: usize, pages: usize) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        format!("no page {page} of topic {slug:?}: it has {pages}\n"),
    )
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<String>,
}

async fn topic_feed(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((slug, format)) = file
        .rsplit_once('.')
        .and_then(|(slug, ext)| Some((slug, Format::from_extension(ext)?)))
    else {
        let forms: Vec<String> = Format::ALL
            .iter()
            .map(|f| format!("/topics/SLUG.{}", f.spec().extension))
            .collect();
        return plain(
            StatusCode::NOT_FOUND,
            format!("not found: topic feeds are at {}\n", forms.join(" and ")),
        );
    };
    let kind = Kind::Topic(format);
    let page = match q.page.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "bad page: give ?page=N with N = 1, 2, ...\n".into(),
            );
        }
    };
    let p = state.published();
    let Some(topic) = p.topics.iter().find(|t| t.slug == slug) else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no topic {slug:?} in config.toml\n"),
        );
    };
    let stamp = (p.epoch, state.versions.topic(slug));
    if let Some(doc) = state.cached(kind, slug, page).filter(|d| d.stamp == stamp) {
        return respond(&doc, &headers);
    }
    if let Some(pages) = state.known_pages(slug, stamp)
        && page > pages
    {
        return no_such_page(slug, page, pages);
    }
    let (_claim, old) = match state.turn(kind, slug, page, stamp).await {
        Turn::Serve(doc) => return respond(&doc, &headers),
        Turn::Build(claim, old) => (claim, old),
    };
    let data = state
        .store
        .topic_page(
            topic.slug.clone(),
            topic.limit,
            topic.by_story,
            Page::offset(page, topic.limit),
        )
        .await;
    let data = match data {
        Ok(d) => d,
        // While the database is away (a PostgreSQL restart, say) readers
        // get the last document built rather than an error.
        Err(e) => match old {
            Some(old) => {
                tracing::warn!(topic = %slug, error = %e, "cannot read the database; serving the last document built");
                return respond(&old, &headers);
            }
            None => return failed(&topic.slug, &e.into()),
        },
    };
    let number = page;
    let pages = data.total.div_ceil(topic.limit.max(1)).max(1);
    lock(state.pages.write()).insert(slug.to_owned(), (stamp, pages));
    let Some(page) = Page::of(page, data.total, topic.limit) else {
        return no_such_page(slug, page, pages);
    };
    let (t, max_age, p2) = (topic.clone(), p.max_age(Some(topic)), p.clone());
    let link = p.hub.as_ref().map(|hub| {
        format!(
            "<{hub}>; rel=\"hub\", <{}>; rel=\"self\"",
            format.url(&p.base_url, slug)
        )
    });
    let built = build(kind, stamp, max_age, link, old, move || {
        format.render(&t, &p2.place(), &data, page)
    })
    .await;
    match built {
        Ok(doc) => {
            tracing::debug!(topic = %slug, page = number, format = ?kind, bytes = doc.forms[0].0.len(), "document rebuilt");
            state.keep(kind, slug, number, doc.clone());
            respond(&doc, &headers)
        }
        Err(e) => failed(&topic.slug, &e),
    }
}

/// The built-in WebSub hub: a subscription request (see `websub::hub`).
async fn websub_hub(
    State(state): State<Arc<AppState>>,
    form: Result<
        axum::extract::Form<crate::websub::hub::Request>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    let hub = lock(state.hub.read()).clone();
    let Some(hub) = hub else {
        return plain(
            StatusCode::NOT_FOUND,
            "no hub here: push is off ([websub] enabled = false)\n".into(),
        );
    };
    let Ok(axum::extract::Form(request)) = form else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a hub request is a form (application/x-www-form-urlencoded) with hub.mode, hub.topic and hub.callback\n".into(),
        );
    };
    match hub.request(request) {
        Ok(()) => plain(
            StatusCode::ACCEPTED,
            "accepted: the callback will be asked to confirm\n".into(),
        ),
        Err(r) => plain(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{}\n", r.message),
        ),
    }
}

/// A feed's hub verifying our intent (see `websub::subscriber`): the
/// challenge for a subscription we asked for, 404 for anything else.
async fn websub_verify(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    query: Result<
        Query<crate::websub::subscriber::Verification>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    use crate::websub::subscriber::Verified;
    let subscriber = lock(state.subscriber.read()).clone();
    let (Some(subscriber), Ok(Query(q))) = (subscriber, query) else {
        return plain(StatusCode::NOT_FOUND, "no such subscription\n".into());
    };
    match subscriber.verify(&token, q).await {
        Verified::Echo(challenge) => plain(StatusCode::OK, challenge),
        Verified::Unknown => plain(StatusCode::NOT_FOUND, "no such subscription\n".into()),
    }
}

/// Content a feed's hub pushed. Answered 2xx whether it is stored or
/// discarded for its signature (WebSub 8: a forger learns nothing).
async fn websub_content(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    use crate::websub::subscriber::Pushed;
    let subscriber = lock(state.subscriber.read()).clone();
    // Not 410: a process that does not take pushes (`--role serve`)
    // cannot tell whether another one behind the same base_url does.
    let Some(subscriber) = subscriber else {
        return plain(
            StatusCode::NOT_FOUND,
            "this process takes no pushes\n".into(),
        );
    };
    let Ok(bytes) = axum::body::to_bytes(body, state.max_push).await else {
        crate::metrics::METRICS.push_rejected();
        tracing::warn!(
            limit = state.max_push,
            "websub: pushed content over [polling] max_body (or cut off); refused"
        );
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the content is larger than this subscriber takes\n".into(),
        );
    };
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let signature = header(header::HeaderName::from_static("x-hub-signature"));
    let content_type = header(header::CONTENT_TYPE);
    match subscriber
        .content(&token, signature.as_deref(), content_type, bytes)
        .await
    {
        Pushed::Stored | Pushed::Discarded => plain(StatusCode::OK, "received\n".into()),
        Pushed::Gone => plain(StatusCode::GONE, "no such subscription\n".into()),
        Pushed::Busy => plain(
            StatusCode::TOO_MANY_REQUESTS,
            "busy: send it again shortly\n".into(),
        ),
    }
}

async fn opml(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let p = state.published();
    // The list depends on the config alone.
    let stamp = (p.epoch, 0);
    let old = state.cached(Kind::Opml, "", 1);
    if let Some(doc) = old.as_ref().filter(|d| d.stamp == stamp) {
        return respond(doc, &headers);
    }
    let q = p.clone();
    match build(Kind::Opml, stamp, p.max_age(None), None, old, move || {
        Ok(publish::opml(&q.topics, &q.base_url))
    })
    .await
    {
        Ok(doc) => {
            state.keep(Kind::Opml, "", 1, doc.clone());
            respond(&doc, &headers)
        }
        Err(e) => failed("topics.opml", &e),
    }
}

async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let p = state.published();
    let stamp = (p.epoch, state.versions.any());
    let (_claim, old) = match state.turn(Kind::Index, "", 1, stamp).await {
        Turn::Serve(doc) => return respond(&doc, &headers),
        Turn::Build(claim, old) => (claim, old),
    };
    let mut data: Vec<TopicEntries> = Vec::with_capacity(p.topics.len());
    for t in &p.topics {
        match state
            .store
            .topic_page(t.slug.clone(), publish::INDEX_STORIES, t.by_story, 0)
            .await
        {
            Ok(d) => data.push(d),
            Err(e) => return failed("/", &e.into()),
        }
    }
    let q = p.clone();
    match build(Kind::Index, stamp, p.max_age(None), None, old, move || {
        let pairs: Vec<(&Topic, &TopicEntries)> = q.topics.iter().zip(&data).collect();
        Ok(publish::index_html(&pairs, &q.base_url))
    })
    .await
    {
        Ok(doc) => {
            state.keep(Kind::Index, "", 1, doc.clone());
            respond(&doc, &headers)
        }
        Err(e) => failed("/", &e),
    }
}

/// Renders and compresses off the async workers (brotli on a large feed
/// takes milliseconds). Last-Modified stays put when the bytes did not
/// change, and otherwise moves forward by at least a second, so
/// If-Modified-Since never mistakes a new document for the old one.
async fn build(
    kind: Kind,
    stamp: Stamp,
    max_age: u64,
    link: Option<String>,
    old: Option<Arc<Doc>>,
    render: impl FnOnce() -> Result<String, publish::PublishError> + Send + 'static,
) -> Result<Arc<Doc>, ServeError> {
    tokio::task::spawn_blocking(move || {
        let body = render().map_err(|e| ServeError::Render(e.to_string()))?;
        let etag = crate::text::hex(&Sha256::digest(body.as_bytes())[..16]);
        let now = whole_seconds(SystemTime::now());
        let last_modified = match &old {
            Some(o) if o.etag == etag => o.last_modified,
            Some(o) => now.max(o.last_modified + Duration::from_secs(1)),
            None => now,
        };
        let gzip = gzip(body.as_bytes()).map_err(|e| ServeError::Render(e.to_string()))?;
        let br = brotli(body.as_bytes()).map_err(|e| ServeError::Render(e.to_string()))?;
        let hv = |s: String| {
            HeaderValue::from_str(&s).map_err(|e| ServeError::Render(format!("header {s:?}: {e}")))
        };
        Ok(Arc::new(Doc {
            stamp,
            forms: [
                (Bytes::from(body), hv(format!("\"{etag}\""))?),
                (Bytes::from(gzip), hv(format!("\"{etag}-gz\""))?),
                (Bytes::from(br), hv(format!("\"{etag}-br\""))?),
            ],
            last_modified_header: hv(httpdate::fmt_http_date(last_modified))?,
            cache_control: hv(format!("public, max-age={max_age}"))?,
            link: link.map(hv).transpose()?,
            etag,
            last_modified,
            kind,
        }))
    })
    .await
    .map_err(|e| ServeError::Render(format!("the renderer stopped: {e}")))?
}

/// HTTP dates have whole seconds; comparing with If-Modified-Since needs the same.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body)?;
    enc.finish()
}

fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        // Quality 9 of 11: nearly the smallest output at a fraction of the
        // time of 11, and it runs once per change, not per request.
        let mut w = ::brotli::CompressorWriter::new(&mut out, 16 * 1024, 9, 22);
        w.write_all(body)?;
        w.flush()?;
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity = 0,
    Gzip = 1,
    Br = 2,
}

/// The best encoding the client accepts (`q=0` refuses one): brotli, then
/// gzip, then none.
fn negotiate(headers: &HeaderMap) -> Encoding {
    let (mut gzip, mut br) = (false, false);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match name.as_str() {
                "gzip" | "x-gzip" => gzip = !refused,
                "br" => br = !refused,
                _ => {}
            }
        }
    }
    if br {
        Encoding::Br
    } else if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Does If-None-Match name the current document? Any of its encodings
/// counts: they are the same content, and the weak comparison RFC 9110
/// prescribes for If-None-Match ignores `W/`.
fn none_match_hits(value: &str, etag: &str) -> bool {
    value.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*"
            || t.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .is_some_and(|t| {
                    t.strip_prefix(etag)
                        .is_some_and(|rest| matches!(rest, "" | "-gz" | "-br"))
                })
    })
}

fn not_modified(doc: &Doc, headers: &HeaderMap) -> bool {
    // If-None-Match wins when both are sent (RFC 9110 13.2.2).
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        return inm.to_str().is_ok_and(|v| none_match_hits(v, &doc.etag));
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| doc.last_modified <= since)
}

fn respond(doc: &Doc, req: &HeaderMap) -> Response {
    let encoding = negotiate(req);
    let (body, etag) = &doc.forms[encoding as usize];
    let mut h = HeaderMap::with_capacity(8);
    h.insert(header::ETAG, etag.clone());
    h.insert(header::LAST_MODIFIED, doc.last_modified_header.clone());
    h.insert(header::CACHE_CONTROL, doc.cache_control.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(link) = &doc.link {
        h.insert(header::LINK, link.clone());
    }
    if not_modified(doc, req) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.kind.content_type()),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if doc.kind == Kind::Index {
        // Our page needs nothing but its own inline style.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    match encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Encoding::Br => {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
    }
    (StatusCode::OK, h, body.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn encodings_are_negotiated() {
        let n = |v: &str| negotiate(&headers(&[(header::ACCEPT_ENCODING, v)]));
        assert_eq!(n("gzip, deflate"), Encoding::Gzip);
        assert_eq!(n("gzip, deflate, br"), Encoding::Br);
        assert_eq!(n("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(n("identity"), Encoding::Identity);
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn if_none_match_accepts_any_encoding_of_the_document() {
        assert!(none_match_hits("\"abc\"", "abc"));
        assert!(none_match_hits("\"x\", W/\"abc-gz\"", "abc"));
        assert!(none_match_hits("*", "abc"));
        assert!(!none_match_hits("\"abcd\"", "abc"));
        assert!(!none_match_hits("\"abc-zz\"", "abc"));
    }
}
