//! HTTP fetching of feeds: one shared client, bounded concurrency overall and
//! per host, a total timeout and a body cap enforced while streaming (after
//! decompression, so a compressed bomb stops at the cap too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::config::Polling;

#[derive(Debug, Error)]
pub enum FetchError {
    #[error(
        "timed out after {0:?}: the server is slow or unreachable; raise [polling] timeout if it is just slow"
    )]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("server answered HTTP {status}{}", hint_for_status(*status))]
    Status { status: u16 },
    #[error(
        "the body is larger than the {limit} byte limit: raise [polling] max_body if the feed is really that big"
    )]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Other(String),
}

fn hint_for_status(status: u16) -> &'static str {
    match status {
        404 => ": the feed is not there; check its url in config.toml",
        401 | 403 => ": the server refuses us; the feed may need a login or block robots",
        410 => ": the feed is gone for good; remove it from config.toml",
        429 => ": too many requests; polling less often helps",
        500..=599 => ": a server error, usually temporary",
        _ => "",
    }
}

impl FetchError {
    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// A fetched feed body.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub body: Bytes,
}

pub struct Fetcher {
    client: reqwest::Client,
    global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
    timeout: Duration,
    max_body: u64,
}

impl Fetcher {
    pub fn new(p: &Polling) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "feedsift/",
                env!("CARGO_PKG_VERSION"),
                " (self-hosted feed aggregator)"
            ))
            .connect_timeout(p.timeout.min(Duration::from_secs(10)))
            .timeout(p.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            global: Arc::new(Semaphore::new(p.concurrency)),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: p.per_host,
            timeout: p.timeout,
            max_body: p.max_body_bytes,
        })
    }

    fn host_gate(&self, url: &str) -> Arc<Semaphore> {
        let host = url::Url::parse(url)
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

    /// GETs `url`, waiting first for a per-host and a global slot (waiting
    /// does not count against the timeout).
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let host = self.host_gate(url);
        let _host_permit = host
            .acquire()
            .await
            .map_err(|_| FetchError::Other("fetcher is shutting down".into()))?;
        let _permit = self
            .global
            .acquire()
            .await
            .map_err(|_| FetchError::Other("fetcher is shutting down".into()))?;
        tokio::time::timeout(self.timeout, self.get(url))
            .await
            .map_err(|_| FetchError::Timeout(self.timeout))?
    }

    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut resp = self
            .client
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            )
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(FetchError::Status { status });
        }
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            body: Bytes::from(body),
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else if e.is_redirect() {
            FetchError::Other(format!(
                "too many redirects or a redirect loop: {}",
                error_chain(&e)
            ))
        } else {
            FetchError::Other(error_chain(&e))
        }
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
