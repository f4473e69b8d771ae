//! HTTP fetching of feeds, polite and hard to abuse: conditional requests,
//! redirects followed by hand (so permanent moves are noticed and every hop
//! is checked against private addresses), bounded concurrency overall and
//! per host, a total timeout, and a body cap enforced while streaming after
//! decompression (a compressed bomb stops at the cap too).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{Credentials, Polling};
use crate::parse::{PushLinks, link_header};

/// Most redirects followed for one poll.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Error)]
pub enum FetchError {
    #[error(
        "timed out after {0:?}: the server is slow or unreachable; raise [polling] timeout if it is just slow"
    )]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("server answered HTTP {status}{}", hint_for_status(*status))]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error(
        "the body is larger than the {limit} byte limit: raise [polling] max_body if the feed is really that big"
    )]
    TooLarge { limit: u64 },
    #[error("redirect loop: {0} was reached twice")]
    RedirectLoop(String),
    #[error("more than {MAX_REDIRECTS} redirects, last to {0}")]
    TooManyRedirects(String),
    #[error(
        "{url} leads to the private address {addr}: refused to protect the local network; name the address literally in config.toml or set [polling] allow_private_networks = true"
    )]
    PrivateAddress { url: String, addr: IpAddr },
    #[error("{0}")]
    Other(String),
}

fn hint_for_status(status: u16) -> &'static str {
    match status {
        404 => ": the feed is not there; check its url in config.toml",
        401 | 403 => ": the server refuses us; the feed may need a login or block robots",
        410 => {
            ": the feed is gone for good; polling stops until restart, remove it from config.toml"
        }
        429 => ": too many requests; waiting as long as the server asks",
        500..=599 => ": a server error, usually temporary",
        _ => "",
    }
}

impl FetchError {
    /// A short status for `feedsift feeds`: the HTTP code or the error class.
    pub fn status(&self) -> String {
        match self {
            FetchError::Status { status, .. } => status.to_string(),
            FetchError::Timeout(_) => "timeout".into(),
            FetchError::Connect(_) => "unreachable".into(),
            FetchError::TooLarge { .. } => "too-large".into(),
            FetchError::RedirectLoop(_) => "redirect-loop".into(),
            FetchError::TooManyRedirects(_) => "too-many-redirects".into(),
            FetchError::PrivateAddress { .. } => "private-address".into(),
            FetchError::Other(_) => "error".into(),
        }
    }

    /// How long the server asked us to wait (429/503 Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status: 410, .. })
    }
}

/// What the validators of the last good response were.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Caching hints from the response headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpHints {
    /// Cache-Control max-age, or Expires minus now.
    pub fresh_for: Option<Duration>,
}

#[derive(Debug)]
pub enum Body {
    /// 304: what we have is current.
    NotModified,
    /// 200 with the body and what the headers said about it.
    Full {
        bytes: Bytes,
        content_type: Option<String>,
        validators: Validators,
    },
}

/// A completed fetch.
#[derive(Debug)]
pub struct Fetched {
    pub body: Body,
    pub hints: HttpHints,
    /// Set when the first hops were permanent redirects (301/308): the
    /// address to poll from now on.
    pub moved_to: Option<String>,
    /// Where the body came from, after every redirect: what relative
    /// addresses in it are relative to.
    pub final_url: String,
    /// The feed's place among those between fetch and store (see
    /// `Fetcher::in_flight`): hold it until the body is stored or dropped.
    pub slot: Option<OwnedSemaphorePermit>,
    /// The WebSub hub and self links of the response's `Link` headers.
    pub links: PushLinks,
}

/// The resolver for public names: addresses outside the public internet are
/// dropped, and a name with nothing else is refused.
struct PublicOnly;

#[derive(Debug, Error)]
#[error("{name} resolves to the private address {addr}")]
struct ResolvedPrivate {
    name: String,
    addr: IpAddr,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            match (public.is_empty(), all.first()) {
                (true, Some(first)) => Err(Box::new(ResolvedPrivate {
                    name: host,
                    addr: first.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// Addresses a feed must not reach unless the operator says so: loopback,
/// private, carrier-grade NAT, link-local (cloud metadata lives at
/// 169.254.169.254), unique-local, unspecified, broadcast and multicast.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// An HTTP client for addresses others give us (WebSub callbacks): the
/// same guard as feeds (names resolving to private addresses refused
/// unless `allow_private`), no redirects followed, `timeout` per request.
pub fn guarded_client(
    allow_private: bool,
    timeout: Duration,
) -> Result<reqwest::Client, FetchError> {
    let mut b = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build()
        .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))
}

/// Why `url` may not be requested on someone else's word: not http(s), no
/// host, or a literal private address (names are checked when resolved,
/// by `guarded_client`).
pub fn check_address(url: &str, allow_private: bool) -> Result<Url, String> {
    let u = Url::parse(url).map_err(|e| format!("not a url ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{} is not http or https", u.scheme()));
    }
    if u.host().is_none() {
        return Err("no host".into());
    }
    if let Some(ip) = literal_ip(&u).filter(|ip| is_private(*ip))
        && !allow_private
    {
        return Err(format!(
            "{ip} is a private address ([polling] allow_private_networks = true allows it)"
        ));
    }
    Ok(u)
}

fn literal_ip(u: &Url) -> Option<IpAddr> {
    match u.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

pub struct Fetcher {
    /// Resolves names to public addresses only.
    guarded: reqwest::Client,
    /// Resolves anything; used when private networks are allowed.
    open: reqwest::Client,
    allow_private: bool,
    global: Arc<Semaphore>,
    /// Feeds fetched or being fetched whose bodies are not yet stored.
    /// Fetching outpaces parsing and the one store writer, and without a
    /// bound every body of a large first poll (and its parsed items) waited
    /// in memory at once: 161 MiB at 1000 feeds. Taken after the per-host
    /// slot, so feeds waiting for a busy host do not hold places.
    in_flight: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
    timeout: Duration,
    max_body: u64,
}

/// Identifies us to publishers, with where to learn more.
pub const USER_AGENT: &str = concat!(
    "feedsift/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_HOMEPAGE"),
    ")"
);

impl Fetcher {
    pub fn new(p: &Polling) -> Result<Fetcher, FetchError> {
        let build = |guarded: bool| {
            let mut b = reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(p.timeout.min(Duration::from_secs(10)))
                .timeout(p.timeout)
                // Redirects are followed by hand, see `fetch`.
                .redirect(reqwest::redirect::Policy::none());
            if guarded {
                b = b.dns_resolver(Arc::new(PublicOnly));
            }
            b.build()
                .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))
        };
        Ok(Fetcher {
            guarded: build(true)?,
            open: build(false)?,
            allow_private: p.allow_private_networks,
            global: Arc::new(Semaphore::new(p.concurrency)),
            in_flight: Arc::new(Semaphore::new(p.concurrency.saturating_mul(2))),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: p.per_host,
            timeout: p.timeout,
            max_body: p.max_body_bytes,
        })
    }

    fn host_gate(&self, url: &str) -> Arc<Semaphore> {
        let host = Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let mut map = self
            .per_host
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
            .clone()
    }

    /// GETs a feed. `configured` is the url as written in config.toml (its
    /// literal private address, if any, is allowed); `url` is where to ask
    /// (the configured url, or where it permanently moved). Waiting for a
    /// per-host and a global slot does not count against the timeout.
    pub async fn fetch(
        &self,
        configured: &str,
        url: &str,
        validators: &Validators,
        credentials: Option<&Credentials>,
    ) -> Result<Fetched, FetchError> {
        let host = self.host_gate(url);
        let closed = |_| FetchError::Other("fetcher is shutting down".into());
        let _host_permit = host.acquire().await.map_err(closed)?;
        let slot = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(closed)?;
        let _permit = self.global.acquire().await.map_err(closed)?;
        let mut fetched = tokio::time::timeout(
            self.timeout,
            self.follow(configured, url, validators, credentials),
        )
        .await
        .map_err(|_| FetchError::Timeout(self.timeout))??;
        fetched.slot = Some(slot);
        Ok(fetched)
    }

    async fn follow(
        &self,
        configured: &str,
        start: &str,
        validators: &Validators,
        credentials: Option<&Credentials>,
    ) -> Result<Fetched, FetchError> {
        let configured_url = Url::parse(configured).ok();
        let allowed_literal = configured_url.as_ref().and_then(literal_ip);
        // Credentials go to the feed's own origin only, never to another
        // host a redirect points at (as curl and browsers do).
        let origin = configured_url.as_ref().map(Url::origin);
        let mut url =
            Url::parse(start).map_err(|e| FetchError::Other(format!("bad url {start}: {e}")))?;
        let mut seen = vec![url.to_string()];
        let mut moved_to = None;
        let mut still_permanent = true;
        loop {
            if let Some(ip) = literal_ip(&url)
                && is_private(ip)
                && !self.allow_private
                && Some(ip) != allowed_literal
            {
                return Err(FetchError::PrivateAddress {
                    url: url.to_string(),
                    addr: ip,
                });
            }
            let auth = credentials.filter(|_| origin.as_ref() == Some(&url.origin()));
            let resp = self.request(&url, validators, auth).await?;
            let status = resp.status();
            if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Other(format!(
                            "HTTP {} without a Location header",
                            status.as_u16()
                        ))
                    })?;
                let next = url
                    .join(location)
                    .map_err(|e| FetchError::Other(format!("bad redirect to {location:?}: {e}")))?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::Other(format!(
                        "redirect to a non-http url {next}"
                    )));
                }
                let permanent = matches!(status.as_u16(), 301 | 308);
                still_permanent &= permanent;
                if still_permanent {
                    moved_to = Some(next.to_string());
                }
                if seen.contains(&next.to_string()) {
                    return Err(FetchError::RedirectLoop(next.to_string()));
                }
                if seen.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(next.to_string()));
                }
                seen.push(next.to_string());
                url = next;
                continue;
            }
            let hints = http_hints(resp.headers());
            let links = link_header(
                resp.headers()
                    .get_all(header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
                url.as_str(),
            );
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(Fetched {
                    body: Body::NotModified,
                    hints,
                    moved_to,
                    final_url: url.to_string(),
                    slot: None,
                    links,
                });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: retry_after(resp.headers()),
                });
            }
            let headers = resp.headers();
            let content_type = header_str(headers, header::CONTENT_TYPE);
            let validators = Validators {
                etag: header_str(headers, header::ETAG),
                last_modified: header_str(headers, header::LAST_MODIFIED),
            };
            let bytes = self.read_capped(resp).await?;
            return Ok(Fetched {
                body: Body::Full {
                    bytes,
                    content_type,
                    validators,
                },
                hints,
                moved_to,
                final_url: url.to_string(),
                slot: None,
                links,
            });
        }
    }

    async fn request(
        &self,
        url: &Url,
        v: &Validators,
        auth: Option<&Credentials>,
    ) -> Result<reqwest::Response, FetchError> {
        let client = if self.allow_private || literal_ip(url).is_some() {
            // Literal addresses were checked above; no resolution happens.
            &self.open
        } else {
            &self.guarded
        };
        let mut req = client.get(url.as_str()).header(
            header::ACCEPT,
            "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        );
        if let Some(etag) = &v.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &v.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        if let Some(c) = auth {
            req = req.basic_auth(&c.user, c.password.as_ref());
        }
        req.send().await.map_err(|e| self.classify(url, e))
    }

    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<Bytes, FetchError> {
        let too_large = FetchError::TooLarge {
            limit: self.max_body,
        };
        // Content-Length describes the compressed size; still a cheap early out.
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        let url = resp.url().clone();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&url, e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }

    fn classify(&self, url: &Url, e: reqwest::Error) -> FetchError {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cur {
            if let Some(p) = c.downcast_ref::<ResolvedPrivate>() {
                return FetchError::PrivateAddress {
                    url: url.to_string(),
                    addr: p.addr,
                };
            }
            cur = c.source();
        }
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else if e.is_decode() || e.is_body() {
            FetchError::Other(format!("cannot read the body: {}", error_chain(&e)))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Parses an HTTP date (IMF-fixdate, RFC 9110) or RFC 850/asctime-free
/// variants that RFC 2822 parsing accepts.
fn http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = header_str(h, header::RETRY_AFTER)?;
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    (http_date(&v)? - Utc::now()).to_std().ok()
}

fn http_hints(h: &HeaderMap) -> HttpHints {
    let max_age = header_str(h, header::CACHE_CONTROL).and_then(|cc| {
        cc.split(',').find_map(|d| {
            let d = d.trim();
            d.strip_prefix("max-age=")
                .or_else(|| d.strip_prefix("s-maxage="))
                .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
                .map(Duration::from_secs)
        })
    });
    let expires = || {
        let t = http_date(&header_str(h, header::EXPIRES)?)?;
        (t - Utc::now()).to_std().ok()
    };
    HttpHints {
        fresh_for: max_age.or_else(expires),
    }
}

/// reqwest's top-level message is vague and repeats the url ("error sending
/// request for url (...)"); the cause chain says what actually happened
/// (DNS, refused, TLS...), so that is what we keep.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let m = c.to_string();
        let wrapper = m.starts_with("error sending request") || m.starts_with("client error (");
        if !wrapper && !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(a.parse().unwrap()), "{a} should be private");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_private(a.parse().unwrap()), "{a} should be public");
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        let later = (Utc::now() + chrono::Duration::hours(2))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        h.insert(header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(7100) && d <= Duration::from_secs(7200),
            "{d:?}"
        );
    }

    #[test]
    fn cache_hints() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=1800".parse().unwrap(),
        );
        assert_eq!(http_hints(&h).fresh_for, Some(Duration::from_secs(1800)));
        let mut h = HeaderMap::new();
        let later = (Utc::now() + chrono::Duration::hours(1))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        h.insert(header::EXPIRES, later.parse().unwrap());
        assert!(http_hints(&h).fresh_for.unwrap() > Duration::from_secs(3500));
    }
}
