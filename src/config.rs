//! config.toml -> a validated `Config`. Everything the daemon will refuse to
//! do is refused here, before anything runs, with the file, line, column and
//! a fix.

use crate::topics::{self, Aliases, Topic};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use toml::Spanned;

/// The lease asked of a feed's WebSub hub: 10 days, the common default.
const DEFAULT_PUSH_LEASE: Duration = Duration::from_secs(10 * 24 * 3600);

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; relative paths inside are resolved against its folder.
    pub path: PathBuf,
    pub server: Server,
    pub storage: Storage,
    pub polling: Polling,
    pub stories: Stories,
    pub websub: Websub,
    /// `[log] level`: a tracing filter such as "info" or
    /// "info,feedsift::fetch=debug"; `RUST_LOG` overrides it.
    pub log_level: String,
    /// Shared: the scheduler, the WebSub subscriber and the server each
    /// hold the feeds, and at 10,000 feeds a copy each was megabytes of an
    /// idle daemon's memory.
    pub feeds: Vec<Arc<Feed>>,
    pub aliases: Aliases,
    pub topics: Vec<Topic>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// Always ends with '/'.
    pub base_url: String,
}

/// `[websub]`: push. Topic feeds advertise a hub (the built-in one, or
/// `hub`) that delivers each new version to its subscribers.
#[derive(Debug, Clone)]
pub struct Websub {
    /// Default: on when `base_url` is not a loopback address (a hub and
    /// its subscribers must be able to reach it).
    pub enabled: bool,
    /// An external hub to advertise and ping instead of the built-in one.
    pub hub: Option<String>,
    /// `reject_sha1`: refuse pushed content signed with HMAC-SHA1. Off by
    /// default: WebSub allows sha1, and long-running hubs sign with it
    /// only; an HMAC-SHA1 is not weakened by SHA-1 collisions.
    pub reject_sha1: bool,
    /// `lease`: the lease asked of feeds' hubs (they may grant another).
    pub lease: Duration,
}

impl Websub {
    /// The hub topic feeds advertise: the external one, or ours.
    pub fn hub_url(&self, base_url: &str) -> Option<String> {
        self.enabled.then(|| {
            self.hub
                .clone()
                .unwrap_or_else(|| format!("{base_url}websub/hub"))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Storage {
    /// Where the items are kept: `[storage] path` or `[storage] url`.
    pub location: Location,
    pub retention: Duration,
}

/// A store's place: one SQLite file (the embedded default), or a
/// PostgreSQL database for operators who outgrow one machine.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, resolved against the config file's folder.
    File(PathBuf),
    /// A `postgres://` url, as written (it may hold a password: print it
    /// with `Display`, which hides the user info).
    Postgres(String),
}

impl Storage {
    /// The SQLite file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// A SQLite file at `path`, with the default retention: for tests and
    /// tools that make a store without a config file.
    pub fn file(path: impl Into<PathBuf>) -> Storage {
        Storage {
            location: Location::File(path.into()),
            retention: DEFAULT_RETENTION,
        }
    }
}

/// Never the password: this reaches logs and `feedsift check`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&redact_userinfo(url)),
        }
    }
}

/// `Debug` goes through `Display`, so a derived `Debug` of `Config` in a
/// log or a panic message cannot show a password either.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(_) => write!(f, "File({self})"),
            Location::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

/// `[storage] retention` when not set: 90 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

#[derive(Debug, Clone)]
pub struct Polling {
    pub interval: Duration,
    pub concurrency: usize,
    pub per_host: usize,
    pub timeout: Duration,
    pub max_body_bytes: u64,
    /// Let feeds reach loopback and private networks by name or redirect.
    pub allow_private_networks: bool,
}

/// How items are grouped into stories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stories {
    /// Items further apart than this never join one story.
    pub window: Duration,
    /// The verifier's score (shared content words, names and headline
    /// words, less penalties for disagreeing figures or days and for time
    /// apart) from which two items are copies of one story (0 to 1).
    pub threshold: f64,
    /// A daemon with nothing to group for this long frees its story
    /// window (the index of the items within reach) and reads it back from
    /// the stored sketches with the next new item: a first poll's backlog
    /// keeps hundreds of megabytes of window that an idle daemon need not
    /// hold, and reading it back costs seconds, not the minutes the first
    /// grouping took.
    pub unload_after: Duration,
}

impl Default for Stories {
    fn default() -> Stories {
        Stories {
            window: Duration::from_secs(72 * 3600),
            threshold: DEFAULT_STORY_THRESHOLD,
            unload_after: Duration::from_secs(600),
        }
    }
}

/// Tuned on the labelled fixture set in tests/fixtures/stories.
pub const DEFAULT_STORY_THRESHOLD: f64 = 0.45;

#[derive(Debug, Clone)]
pub struct Feed {
    /// Normalised by the URL parser (lowercase scheme and host), so that the
    /// same address is one feed however it was typed. Without credentials:
    /// this is the feed's identity in logs, the database and published
    /// feeds, so `user:password@` is moved to `credentials`.
    pub url: String,
    /// From `https://user:password@host/...` in config.toml; sent as HTTP
    /// Basic authentication to the feed's own host only.
    pub credentials: Option<Credentials>,
    pub title: Option<String>,
    pub interval: Duration,
    pub tags: Vec<String>,
}

/// A feed's user name and password. Its Debug form hides them, so they
/// cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Why a configuration was refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "cannot read config file {path}: {source}\n  hint: pass --config PATH, set FEEDSIFT_CONFIG, or create ./config.toml"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Box<Located>),
}

/// An error at a place in the file, shown the way compilers show them.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    source_line: String,
    caret_len: usize,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.line.to_string().len();
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(self.caret_len.max(1))
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {h}", "")?;
        }
        Ok(())
    }
}

/// Whether a base_url names this machine only (a hub elsewhere could not
/// reach it, so push is off by default).
fn is_loopback_url(base_url: &str) -> bool {
    match url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => true,
    }
}

// ---- raw, as written -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    stories: RawStories,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    websub: RawWebsub,
    #[serde(default)]
    feed: Vec<RawFeed>,
    #[serde(default)]
    alias: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    topic: BTreeMap<Spanned<String>, RawTopic>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Listen>,
    base_url: Option<BaseUrl>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    retention: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    interval: Option<Dur>,
    concurrency: Option<Spanned<usize>>,
    per_host: Option<Spanned<usize>>,
    timeout: Option<Dur>,
    max_body: Option<Size>,
    allow_private_networks: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebsub {
    enabled: Option<bool>,
    hub: Option<Spanned<String>>,
    reject_sha1: Option<bool>,
    lease: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStories {
    window: Option<Dur>,
    threshold: Option<Spanned<f64>>,
    unload_after: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<FeedUrl>,
    title: Option<String>,
    interval: Option<Dur>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    title: Option<String>,
    query: Spanned<String>,
    #[serde(default)]
    feeds: Vec<Spanned<String>>,
    limit: Option<Spanned<usize>>,
    group: Option<Spanned<String>>,
}

/// Parses "30s", "15m", "2h", "90d", "1w" and sums like "1h30m".
///
/// ```
/// use std::time::Duration;
/// use feedsift::config::parse_duration;
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(parse_duration("15 minutes").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "bad duration {s:?}: write a number and a unit (s, m, h, d, w), like \"30s\", \"15m\", \"2h\" or \"90d\""
        )
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let mult = match rest[digits..digits + unit_len].trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[digits + unit_len..];
    }
    Ok(Duration::from_secs(total))
}

struct Dur(Spanned<Duration>);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<String>::deserialize(d)?;
        let span = s.span();
        let v = parse_duration(s.get_ref()).map_err(serde::de::Error::custom)?;
        if v.is_zero() {
            return Err(serde::de::Error::custom(format!(
                "duration {:?} is zero: give a positive duration",
                s.get_ref()
            )));
        }
        Ok(Dur(Spanned::new(span, v)))
    }
}

/// A byte size: a number of bytes, or a string like "16MiB".
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        let bad = |s: &str| {
            serde::de::Error::custom(format!(
                "bad size {s:?}: write bytes or a number with KiB, MiB or GiB, like \"16MiB\""
            ))
        };
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => {
                let t = s.trim();
                let (num, mult) = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
                    .iter()
                    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim(), *m)))
                    .unwrap_or((t, 1));
                let n: u64 = num.parse().map_err(|_| bad(&s))?;
                n.checked_mul(mult).map(Size).ok_or_else(|| bad(&s))
            }
        }
    }
}

struct Listen(SocketAddr);

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(Listen).map_err(|_| {
            serde::de::Error::custom(format!(
                "bad listen address {s:?}: write an IP address and port, like \"127.0.0.1:8080\" or \"[::]:8080\""
            ))
        })
    }
}

struct BaseUrl(String);

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match url::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                let mut v = u.to_string();
                if !v.ends_with('/') {
                    v.push('/');
                }
                Ok(BaseUrl(v))
            }
            _ => Err(serde::de::Error::custom(format!(
                "bad base_url {s:?}: write the public address readers use, like \"https://news.example.org/\""
            ))),
        }
    }
}

struct FeedUrl(String, Option<Credentials>);

impl<'de> Deserialize<'de> for FeedUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Messages quote the address without any password in it.
        let shown = redact_userinfo(s.trim());
        let normal = feed_url(&s)
            .map_err(|e| serde::de::Error::custom(format!("feed url {shown:?} {e}")))?;
        let (url, credentials) = split_credentials(&normal);
        Ok(FeedUrl(url, credentials))
    }
}

/// Takes `user:password@` out of a normalised feed url: the url without
/// them is the feed's identity; they are sent as Basic authentication.
fn split_credentials(normal: &str) -> (String, Option<Credentials>) {
    let Ok(mut u) = url::Url::parse(normal) else {
        return (normal.to_owned(), None);
    };
    if u.username().is_empty() {
        return (normal.to_owned(), None);
    }
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = Credentials {
        user: decode(u.username()),
        password: u.password().map(decode),
    };
    // Infallible for http(s) urls with a host, which `feed_url` ensures.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    (u.to_string(), Some(credentials))
}

/// Why a string is not a feed address config.toml accepts.
#[derive(Debug, Error, PartialEq)]
pub enum FeedUrlError {
    #[error("uses {0}:, but only http and https feeds can be polled")]
    Scheme(String),
    #[error("is not a valid URL ({0}): write it in full, like \"https://example.org/rss\"")]
    Invalid(String),
}

/// A feed address the way config.toml keeps it: http(s) with a host,
/// normalised by the URL parser (lower-case scheme and host), so that the
/// same address is one feed however it was typed.
pub fn feed_url(s: &str) -> Result<String, FeedUrlError> {
    match url::Url::parse(s.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u.to_string()),
        Ok(u) => Err(FeedUrlError::Scheme(u.scheme().to_owned())),
        Err(e) => Err(FeedUrlError::Invalid(e.to_string())),
    }
}

/// A config line with the `user:password` of any url in it replaced by
/// asterisks of the same width, so the caret under it still points right.
fn mask_userinfo(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(['/', '?', '#', '"', '\'', ' '])
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.extend(std::iter::repeat_n('*', rest[..at].chars().count()));
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host/...` as `scheme://***@host/...`: for
/// messages about addresses that may hold credentials.
pub fn redact_userinfo(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_owned();
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &s[..scheme_end], &rest[at + 1..]),
        None => s.to_owned(),
    }
}

// ---- loading ---------------------------------------------------------------

/// Where the config is looked for: `--config`, then `./config.toml`, then
/// `$FEEDSIFT_CONFIG`, then `/etc/feedsift/config.toml`.
pub fn resolve_path(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    let local = PathBuf::from("config.toml");
    if local.exists() {
        return local;
    }
    if let Some(env) = std::env::var_os("FEEDSIFT_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(env);
    }
    PathBuf::from("/etc/feedsift/config.toml")
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_str(path, &text)
    }

    /// Validates `text` as if read from `path`.
    pub fn from_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let cx = Cx { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_owned();
            let hint = hint_for_toml(&message);
            cx.err(span, message, hint)
        })?;
        cx.validate(raw)
    }
}

fn hint_for_toml(message: &str) -> Option<String> {
    if message.contains("duplicate key") {
        Some(
            "each key, [topic.SLUG] and [alias] name may appear once: rename or merge the two"
                .into(),
        )
    } else if message.contains("unknown field") {
        Some("check the spelling against config.toml in the README".into())
    } else if message.contains("missing field") {
        Some("add the missing key to this table".into())
    } else {
        None
    }
}

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Cx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..start].matches('\n').count() + 1;
        let column = self.text[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        ConfigError::Invalid(Box::new(Located {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
            hint,
            source_line: mask_userinfo(self.text[line_start..line_end].trim_end_matches('\r')),
            caret_len: self.text[start..end].chars().count(),
        }))
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let base_dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));

        let listen = raw
            .server
            .listen
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)), |l| l.0);
        let base_url = raw
            .server
            .base_url
            .map_or_else(|| format!("http://{listen}/"), |b| b.0);

        let websub = Websub {
            enabled: raw
                .websub
                .enabled
                .unwrap_or_else(|| !is_loopback_url(&base_url)),
            hub: match raw.websub.hub {
                None => None,
                Some(h) => {
                    let ok = url::Url::parse(h.get_ref()).is_ok_and(|u| {
                        matches!(u.scheme(), "http" | "https") && u.host().is_some()
                    });
                    if !ok {
                        return Err(self.err(
                            h.span(),
                            format!("[websub] hub {:?} is not an http(s) address", h.get_ref()),
                            Some("write the external hub's address, like \"https://pubsubhubbub.appspot.com/\", or remove hub to use the built-in one".into()),
                        ));
                    }
                    Some(h.into_inner())
                }
            },
            reject_sha1: raw.websub.reject_sha1.unwrap_or(false),
            lease: raw
                .websub
                .lease
                .map_or(DEFAULT_PUSH_LEASE, |d| *d.0.get_ref()),
        };

        let location = match (raw.storage.path, raw.storage.url) {
            (Some(_), Some(url)) => {
                return Err(self.err(
                    url.span(),
                    "[storage] has both path and url: a store is one SQLite file or one PostgreSQL database",
                    Some("keep path for SQLite, or url for PostgreSQL, and remove the other".into()),
                ));
            }
            (None, Some(url)) => {
                if let Err(reason) = crate::storage::check_postgres_url(url.get_ref()) {
                    return Err(self.err(
                        url.span(),
                        reason,
                        Some(
                            "write it as url = \"postgres://USER@HOST:5432/DATABASE\" (the password may come from $PGPASSWORD)"
                                .into(),
                        ),
                    ));
                }
                Location::Postgres(url.into_inner())
            }
            // A relative path lives in $STATE_DIRECTORY under systemd.
            (path, None) => Location::File(
                state_dir(std::env::var_os("STATE_DIRECTORY"))
                    .as_deref()
                    .unwrap_or(base_dir)
                    .join(path.map_or_else(|| "feedsift.db".to_owned(), Spanned::into_inner)),
            ),
        };
        let storage = Storage {
            location,
            retention: raw
                .storage
                .retention
                .map_or(DEFAULT_RETENTION, |d| *d.0.get_ref()),
        };

        let positive = |v: Option<Spanned<usize>>, default: usize, key: &str| match v {
            None => Ok(default),
            Some(s) if *s.get_ref() == 0 => Err(self.err(
                s.span(),
                format!("{key} must be at least 1"),
                Some(format!("remove {key} to use the default of {default}")),
            )),
            Some(s) => Ok(s.into_inner()),
        };
        let polling = Polling {
            interval: raw
                .polling
                .interval
                .map_or(Duration::from_secs(15 * 60), |d| *d.0.get_ref()),
            concurrency: positive(raw.polling.concurrency, 32, "concurrency")?,
            per_host: positive(raw.polling.per_host, 2, "per_host")?,
            timeout: raw
                .polling
                .timeout
                .map_or(Duration::from_secs(30), |d| *d.0.get_ref()),
            max_body_bytes: raw.polling.max_body.map_or(16 << 20, |s| s.0),
            allow_private_networks: raw.polling.allow_private_networks.unwrap_or(false),
        };

        let stories = Stories {
            window: raw
                .stories
                .window
                .map_or(Stories::default().window, |d| *d.0.get_ref()),
            unload_after: raw
                .stories
                .unload_after
                .map_or(Stories::default().unload_after, |d| *d.0.get_ref()),
            threshold: match raw.stories.threshold {
                None => DEFAULT_STORY_THRESHOLD,
                Some(t) if (0.0..=1.0).contains(t.get_ref()) && *t.get_ref() > 0.0 => *t.get_ref(),
                Some(t) => {
                    return Err(self.err(
                        t.span(),
                        "threshold must be above 0 and at most 1",
                        Some(format!(
                            "it is the score from which two items count as copies (about the share of content words and names they have in common); the default is {DEFAULT_STORY_THRESHOLD}"
                        )),
                    ));
                }
            },
        };

        let log_level = match raw.log.level {
            None => "info".to_owned(),
            Some(l) => {
                let level = l.get_ref().trim().to_owned();
                if let Err(e) = tracing_subscriber::EnvFilter::try_new(&level) {
                    return Err(self.err(
                        l.span(),
                        format!("bad log level: {e}"),
                        Some("use error, warn, info, debug or trace, optionally per module: \"info,feedsift::fetch=debug\"".into()),
                    ));
                }
                level
            }
        };

        let mut feeds = Vec::with_capacity(raw.feed.len());
        let mut seen_urls = HashSet::new();
        for f in raw.feed {
            let span = f.url.span();
            let FeedUrl(url, credentials) = f.url.into_inner();
            if !seen_urls.insert(url.clone()) {
                return Err(self.err(
                    span,
                    format!("feed {url} is listed twice"),
                    Some("remove one of the two [[feed]] entries".into()),
                ));
            }
            feeds.push(Arc::new(Feed {
                url,
                credentials,
                title: f.title.filter(|t| !t.trim().is_empty()),
                interval: f.interval.map_or(polling.interval, |d| *d.0.get_ref()),
                tags: f.tags,
            }));
        }

        let mut aliases = Aliases::new();
        let mut alias_spans = Vec::new();
        for (name, terms) in raw.alias {
            let valid = !name.get_ref().is_empty()
                && name
                    .get_ref()
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(self.err(
                    name.span(),
                    format!("bad alias name {:?}", name.get_ref()),
                    Some(
                        "use letters, digits, '_' and '-' only, so it can be written as @name"
                            .into(),
                    ),
                ));
            }
            alias_spans.push((name.get_ref().clone(), name.span()));
            aliases.insert(name.into_inner(), terms);
        }
        // Every alias must compile on its own, used or not: a cycle or a bad
        // entry is reported at the alias, not later at some query using it.
        for (name, span) in alias_spans {
            if let Err(e) = topics::compile(&format!("@{name}"), &aliases) {
                return Err(self.err(span, e.message, e.hint));
            }
        }

        let mut topics_in_file: Vec<_> = raw.topic.into_iter().collect();
        topics_in_file.sort_by_key(|(slug, _)| slug.span().start);
        let mut topics = Vec::with_capacity(topics_in_file.len());
        for (slug, t) in topics_in_file {
            topics.push(self.topic(slug, t, &aliases, &feeds)?);
        }

        Ok(Config {
            path: self.path.to_path_buf(),
            server: Server { listen, base_url },
            storage,
            polling,
            stories,
            websub,
            log_level,
            feeds,
            aliases,
            topics,
        })
    }

    fn topic(
        &self,
        slug: Spanned<String>,
        t: RawTopic,
        aliases: &Aliases,
        feeds: &[Arc<Feed>],
    ) -> Result<Topic, ConfigError> {
        let slug_span = slug.span();
        let slug = slug.into_inner();
        let slug_ok = slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok {
            return Err(self.err(
                slug_span,
                format!("bad topic slug {slug:?}: it becomes the address /topics/{slug}.atom"),
                Some(
                    "use lower-case letters a-z, digits and '-', starting with a letter or digit, like [topic.russia-japan]"
                        .into(),
                ),
            ));
        }

        let q_span = t.query.span();
        let query = t.query.into_inner();
        let matcher = topics::compile(&query, aliases).map_err(|e| {
            // Point inside the string: skip its opening quote(s).
            let raw_value = &self.text[q_span.clone()];
            let open = if raw_value.starts_with("'''") || raw_value.starts_with("\"\"\"") {
                3
            } else {
                1
            };
            let at = q_span.start + open + e.at;
            let len = query[e.at..]
                .find(char::is_whitespace)
                .unwrap_or(query.len() - e.at)
                .max(1);
            self.err(
                at..at + len,
                format!("in topic {slug:?}: {}", e.message),
                e.hint.clone(),
            )
        })?;

        let feed_filter = if t.feeds.is_empty() {
            None
        } else {
            let mut allowed = BTreeSet::new();
            for sel in &t.feeds {
                let s = sel.get_ref().trim();
                let normalised = url::Url::parse(s).map(|u| u.to_string()).ok();
                let before = allowed.len();
                for f in feeds {
                    if Some(&f.url) == normalised.as_ref() || f.tags.iter().any(|tag| tag == s) {
                        allowed.insert(f.url.clone());
                    }
                }
                if allowed.len() == before
                    && !feeds.iter().any(|f| Some(&f.url) == normalised.as_ref())
                {
                    return Err(self.err(
                        sel.span(),
                        format!("topic {slug:?} names {s:?}, which is neither a [[feed]] url nor a tag of one"),
                        Some("write a feed url exactly as in its [[feed]] entry, or one of its tags".into()),
                    ));
                }
            }
            Some(allowed)
        };

        let limit = match t.limit {
            Some(l) if *l.get_ref() == 0 => {
                return Err(self.err(
                    l.span(),
                    "limit must be at least 1",
                    Some("remove it to use the default of 100 entries".into()),
                ));
            }
            Some(l) => l.into_inner(),
            None => 100,
        };

        let by_story = match t.group {
            None => true,
            Some(g) if g.get_ref() == "story" => true,
            Some(g) if g.get_ref() == "item" => false,
            Some(g) => {
                return Err(self.err(
                    g.span(),
                    format!("group must be \"story\" or \"item\", not {:?}", g.get_ref()),
                    Some("\"story\" (the default) shows one entry per story with its sources; \"item\" one per item".into()),
                ));
            }
        };

        let mut h = Sha256::new();
        h.update(format!("{matcher:?}\n{feed_filter:?}").as_bytes());
        let fingerprint = crate::text::hex(&h.finalize()[..16]);
        Ok(Topic {
            title: t
                .title
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| slug.clone()),
            slug,
            matcher,
            feed_filter,
            limit,
            by_story,
            fingerprint,
        })
    }
}

/// Where a relative `[storage] path` lives under systemd: the first folder
/// of `$STATE_DIRECTORY` (set from `StateDirectory=`, writable by the
/// service), rather than the config file's folder (/etc/feedsift, read-only
/// under `ProtectSystem=strict`). An absolute path is used as written.
fn state_dir(var: Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = var?;
    let first = std::env::split_paths(&var).next()?;
    (!first.as_os_str().is_empty()).then_some(first)
}
#[cfg(test)]
mod tests {
    #[test]
    fn credentials_leave_the_feed_url_and_never_show_in_errors() {
        let cfg = Config::from_str(
            Path::new("c.toml"),
            "[[feed]]\nurl = \"https://alice:s3cr%40t@example.org/private.rss\"\n",
        )
        .unwrap();
        assert_eq!(cfg.feeds[0].url, "https://example.org/private.rss");
        let c = cfg.feeds[0].credentials.clone().unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_deref()),
            ("alice", Some("s3cr@t"))
        );
        assert_eq!(format!("{c:?}"), "Credentials(<redacted>)");
        let twice = "[[feed]]\nurl = \"https://alice:s3cret@example.org/a\"\n[[feed]]\nurl = \"https://alice:s3cret@example.org/a\"\n";
        let e = Config::from_str(Path::new("c.toml"), twice)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret") && !e.contains("alice"), "{e}");
        assert!(e.contains("https://************@example.org/a"), "{e}");
        let bad = "[[feed]]\nurl = \"ftp://bob:hunter2@example.org/x\"\n";
        let e = Config::from_str(Path::new("c.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9999"
base_url = "https://news.example.org/feeds"

[storage]
path = "data/x.db"
retention = "90d"

[polling]
interval = "15m"
timeout = "30s"

[[feed]]
url = "https://Example.org/rss"
tags = ["wire"]

[[feed]]
url = "https://other.example/atom"
interval = "1h30m"

[alias]
russia = ["Russia", "Moscow"]
japan = ["Japan", "Tokyo"]

[topic.russia-japan]
title = "Russia–Japan relations"
query = '(@russia AND @japan) OR "peace treaty"'
feeds = ["wire"]
limit = 20
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(Path::new("/etc/feedsift/config.toml"), text)
    }

    #[track_caller]
    fn refused(text: &str) -> Located {
        match load(text) {
            Err(ConfigError::Invalid(l)) => *l,
            Err(e) => panic!("unexpected error kind: {e}"),
            Ok(_) => panic!("config was accepted:\n{text}"),
        }
    }

    #[test]
    fn a_state_directory_takes_relative_storage_paths() {
        assert_eq!(state_dir(None), None);
        assert_eq!(state_dir(Some("".into())), None);
        assert_eq!(
            state_dir(Some("/var/lib/feedsift".into())),
            Some(PathBuf::from("/var/lib/feedsift"))
        );
        // systemd joins several StateDirectory= folders with colons.
        assert_eq!(
            state_dir(Some("/var/lib/a:/var/lib/b".into())),
            Some(PathBuf::from("/var/lib/a"))
        );
    }

    #[test]
    fn good_config_loads_with_resolved_values() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.server.base_url, "https://news.example.org/feeds/");
        assert_eq!(c.storage.path(), Some(Path::new("/etc/feedsift/data/x.db")));
        assert_eq!(c.feeds[0].url, "https://example.org/rss");
        assert_eq!(c.feeds[1].interval, Duration::from_secs(5400));
        assert_eq!(c.polling.per_host, 2);
        let t = &c.topics[0];
        assert_eq!((t.slug.as_str(), t.limit), ("russia-japan", 20));
        assert_eq!(
            t.feed_filter.as_ref().unwrap().iter().collect::<Vec<_>>(),
            ["https://example.org/rss"]
        );
    }

    #[test]
    fn push_in_settings_have_documented_defaults() {
        let c = load(GOOD).unwrap();
        assert!(!c.websub.reject_sha1, "sha1 is accepted by default");
        assert_eq!(c.websub.lease, Duration::from_secs(10 * 86400));
        let c = load(&format!(
            "{GOOD}\n[websub]\nreject_sha1 = true\nlease = \"2d\"\n"
        ))
        .unwrap();
        assert!(c.websub.reject_sha1);
        assert_eq!(c.websub.lease, Duration::from_secs(2 * 86400));
        refused(&format!("{GOOD}\n[websub]\nreject_sha = true\n"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let l = refused(&GOOD.replace("interval = \"1h30m\"", "intervl = \"1h30m\""));
        assert_eq!((l.line, l.column), (20, 1));
        assert!(
            l.message.contains("unknown field `intervl`"),
            "{}",
            l.message
        );
    }

    #[test]
    fn bad_duration_is_refused_with_its_line() {
        let l = refused(&GOOD.replace("\"15m\"", "\"15 minutes\""));
        assert_eq!((l.line, l.column), (11, 12));
        assert!(l.message.contains("bad duration"), "{}", l.message);
        assert!(l.to_string().contains("^^^^^^^^^^^^"), "{l}");
    }

    #[test]
    fn the_story_window_unloads_after_ten_idle_minutes_unless_told() {
        assert_eq!(
            load(GOOD).unwrap().stories.unload_after,
            Duration::from_secs(600)
        );
        let c = load(&format!("{GOOD}\n[stories]\nunload_after = \"90s\"\n")).unwrap();
        assert_eq!(c.stories.unload_after, Duration::from_secs(90));
        let l = refused(&format!("{GOOD}\n[stories]\nunload_after = \"0s\"\n"));
        assert!(l.message.contains("is zero"), "{}", l.message);
    }

    #[test]
    fn duplicate_slug_is_refused() {
        let text = format!("{GOOD}\n[topic.russia-japan]\nquery = \"x\"\n");
        let l = refused(&text);
        assert!(l.message.contains("duplicate"), "{}", l.message);
        assert_eq!(l.line, 32);
        assert!(l.hint.unwrap().contains("once"));
    }

    #[test]
    fn bad_slug_characters_are_refused() {
        let l = refused(&GOOD.replace("[topic.russia-japan]", "[topic.\"Russia Japan\"]"));
        assert_eq!(l.line, 26);
        assert!(l.message.contains("bad topic slug"), "{}", l.message);
    }

    #[test]
    fn unknown_alias_points_into_the_query() {
        let l = refused(&GOOD.replace("@japan", "@nippon"));
        assert_eq!((l.line, l.column), (28, 23));
        assert!(l.message.contains("unknown alias @nippon"), "{}", l.message);
        assert!(l.hint.unwrap().contains("@japan"));
    }

    #[test]
    fn query_syntax_error_points_into_the_query() {
        let l = refused(&GOOD.replace("(@russia AND", "(@russia AND ("));
        assert_eq!(l.line, 28);
        assert!(l.message.contains("unclosed '('"), "{}", l.message);
        assert_eq!(l.column, 10);
    }

    #[test]
    fn alias_cycles_and_bad_entries_are_refused_at_the_alias() {
        let l = refused(&GOOD.replace(
            "japan = [\"Japan\", \"Tokyo\"]",
            "japan = [\"Japan\", \"@nihon\"]\nnihon = [\"@japan\"]",
        ));
        assert_eq!(l.line, 24);
        assert!(
            l.message.contains("cycle: @japan -> @nihon -> @japan"),
            "{}",
            l.message
        );
        let l = refused(&GOOD.replace("\"Tokyo\"]", "\"/Tok(yo/\"]"));
        assert_eq!(l.line, 24);
        assert!(
            l.message.contains("in alias @japan") && l.message.contains("bad /regex/"),
            "{}",
            l.message
        );
    }

    #[test]
    fn non_http_feed_url_is_refused() {
        let l = refused(&GOOD.replace("https://Example.org/rss", "ftp://example.org/rss"));
        assert_eq!((l.line, l.column), (15, 7));
        assert!(l.message.contains("only http and https"), "{}", l.message);
        let l = refused(&GOOD.replace("https://Example.org/rss", "example.org/rss"));
        assert!(l.message.contains("not a valid URL"), "{}", l.message);
    }

    #[test]
    fn topic_feeds_must_name_a_feed_or_tag() {
        let l = refused(&GOOD.replace("feeds = [\"wire\"]", "feeds = [\"wir\"]"));
        assert_eq!(l.line, 29);
        assert!(
            l.message.contains("neither a [[feed]] url nor a tag"),
            "{}",
            l.message
        );
    }

    #[test]
    fn duplicate_feed_url_is_refused() {
        let l = refused(&GOOD.replace("https://other.example/atom", "https://example.org/rss"));
        assert_eq!(l.line, 19);
        assert!(l.message.contains("listed twice"));
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = Config::load(Path::new("/nonexistent/feedsift.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/feedsift.toml"), "{e}");
    }

    #[test]
    fn storage_url_is_an_alternative_to_path() {
        let c = load(&GOOD.replace(
            "path = \"data/x.db\"",
            "url = \"postgres://feedsift:secret@db.example:5432/feedsift\"",
        ))
        .unwrap();
        assert_eq!(
            c.storage.location,
            Location::Postgres("postgres://feedsift:secret@db.example:5432/feedsift".into())
        );
        assert_eq!(c.storage.path(), None);
        // Printed (by `check`, in logs) without the password.
        let shown = format!("{} {:?}", c.storage.location, c.storage);
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn storage_path_and_url_together_are_refused() {
        let l = refused(&GOOD.replace(
            "path = \"data/x.db\"",
            "path = \"data/x.db\"\nurl = \"postgres://u:pw@h/db\"",
        ));
        assert_eq!(l.line, 8);
        assert!(l.message.contains("both path and url"), "{}", l.message);
        assert!(!l.source_line.contains("pw"), "{}", l.source_line);
    }

    #[test]
    fn storage_url_must_be_postgres() {
        for (url, says) in [
            ("mysql://u@h/db", "postgres://"),
            ("sqlite:///var/lib/x.db", "postgres://"),
            ("postgres://u@h/db?sslmode=bogus", "sslmode"),
            ("postgres://u@h/db?colour=blue", "colour"),
        ] {
            let l = refused(&GOOD.replace("path = \"data/x.db\"", &format!("url = \"{url}\"")));
            assert_eq!(l.line, 7, "{url}");
            assert!(l.message.contains(says), "{url}: {}", l.message);
        }
    }
}
