//! Feed bytes -> our `ParsedFeed`. `prepare` turns what publishers serve
//! into clean UTF-8; feed-rs does the format work (RSS 0.9x, 1.0, 2.0, Atom
//! 0.3/1.0, JSON Feed); here we decide identity (stable keys, canonical
//! URLs), read scheduling hints and keep only the fields we publish.

mod date;
mod prepare;

pub use date::parse_date;

pub use prepare::header_charset;
// OPML files are XML from other programs, with the same charset troubles.
pub(crate) use prepare::decode as decode_xml;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc, Weekday};
use regex::Regex;
use sha2::{Digest, Sha256};
use thiserror::Error;
use url::Url;

use crate::text::hex;
use crate::topics::{ItemText, Matched, Topic, feed_labels, match_item};

#[derive(Debug, Error)]
pub enum ParseError {
    #[error("this is a web page, not a feed{}", match .feed_link {
        Some(l) => format!("; it links a feed at {l}: use that url in config.toml"),
        None => "; check the feed address (look for an RSS or Atom link on the page)".into(),
    })]
    WebPage { feed_link: Option<String> },
    #[error("not a feed: {0}")]
    NotAFeed(String),
}

impl ParseError {
    pub fn status(&self) -> &'static str {
        match self {
            ParseError::WebPage { .. } => "web-page",
            ParseError::NotAFeed(_) => "not-a-feed",
        }
    }
}

/// What the document says about how often to poll it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHints {
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// `sy:updatePeriod` divided by `sy:updateFrequency`.
    pub update_every: Option<Duration>,
    /// RSS `<skipHours>`: hours (0-23, GMT) not to poll in.
    pub skip_hours: Vec<u32>,
    /// RSS `<skipDays>`.
    pub skip_days: Vec<Weekday>,
}

/// Where a feed says it is pushed from (WebSub 4, discovery): its hub and
/// its own canonical url, the topic to subscribe to. From the document
/// (Atom `<link rel="hub">`, RSS `<atom:link rel="hub">`) or the HTTP
/// `Link` header (`link_header`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushLinks {
    pub hub: Option<String>,
    pub self_url: Option<String>,
}

impl PushLinks {
    /// What `self` says, and what `other` says where `self` is silent:
    /// the HTTP header first, as WebSub 4 has publishers put it there.
    pub fn or(self, other: PushLinks) -> PushLinks {
        PushLinks {
            hub: self.hub.or(other.hub),
            self_url: self.self_url.or(other.self_url),
        }
    }
}

/// A JSON Feed's WebSub hub (the first of `hubs` whose type is WebSub)
/// and its `feed_url`, as written (not yet absolute).
fn json_push_links(text: &str) -> PushLinks {
    #[derive(serde::Deserialize)]
    struct Hub {
        #[serde(rename = "type", default)]
        kind: String,
        url: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Top {
        feed_url: Option<String>,
        #[serde(default)]
        hubs: Vec<Hub>,
    }
    // feed-rs read the same text, so this fails only on odd shapes of the
    // two fields; then the document names no hub.
    let Ok(top) = serde_json::from_str::<Top>(text) else {
        return PushLinks::default();
    };
    PushLinks {
        hub: top
            .hubs
            .into_iter()
            .find(|h| h.kind.eq_ignore_ascii_case("websub"))
            .and_then(|h| h.url),
        self_url: top.feed_url,
    }
}

/// The hub and self links of HTTP `Link` header values (RFC 8288:
/// `<url>; rel="hub", <url>; rel="self"`), made absolute against `base`.
/// The first of each counts; anything unreadable is skipped.
pub fn link_header<'a>(values: impl IntoIterator<Item = &'a str>, base: &str) -> PushLinks {
    let base = Url::parse(base).ok();
    let mut links = PushLinks::default();
    for value in values {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('>') else { break };
            let target = &after[..close];
            let tail = &after[close + 1..];
            // The parameters run to the comma before the next link (a
            // quoted ',' in a title only shortens them; rel comes first
            // in practice).
            let comma = tail.find(',').unwrap_or(tail.len());
            let next = tail[comma..].find('<').map_or(tail.len(), |i| comma + i);
            let absolute = base
                .as_ref()
                .map_or_else(|| Url::parse(target.trim()), |b| b.join(target.trim()))
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(String::from);
            for param in tail[..comma].split(';') {
                let Some((key, val)) = param.split_once('=') else {
                    continue;
                };
                if !key.trim().eq_ignore_ascii_case("rel") {
                    continue;
                }
                for rel in val.trim().trim_matches('"').split_ascii_whitespace() {
                    let slot = match rel.to_ascii_lowercase().as_str() {
                        "hub" => &mut links.hub,
                        "self" => &mut links.self_url,
                        _ => continue,
                    };
                    if slot.is_none() {
                        slot.clone_from(&absolute);
                    }
                }
            }
            rest = &tail[next..];
        }
    }
    links
}

/// A feed as we keep it.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The feed's own id (Atom id, or the site link), for atom:source.
    pub id: Option<String>,
    pub site_url: Option<String>,
    pub language: Option<String>,
    pub items: Vec<NewItem>,
    pub hints: FeedHints,
    /// The encoding the body was read as.
    pub encoding: &'static str,
    /// The new items' topics, when decided on the parser's thread: see
    /// `match_topics`.
    pub matched: Option<Matched>,
    /// Item or entry elements in the document, counted only when none
    /// were read (to say why).
    pub unread_entries: usize,
    /// Set when the document was ill-formed and read only after repair
    /// (tags balanced, a cut-off entry dropped): the parser's complaint.
    pub malformed: Option<String>,
    /// The hub and self links the document names.
    pub push: PushLinks,
}

impl ParsedFeed {
    /// Why a feed that parsed has no items, for its "no items" status:
    /// None when it has some.
    pub fn no_items_reason(&self) -> Option<String> {
        if !self.items.is_empty() {
            return None;
        }
        Some(match self.unread_entries {
            0 => "no items: the feed has no item or entry elements (an empty channel)".into(),
            n => format!(
                "no items: the document has {n} item or entry elements in a dialect feedsift does not read; report the feed so it can be supported"
            ),
        })
    }
}

impl ParsedFeed {
    /// Matches every item against `topics`, as seen in the feed at `url`
    /// with that configured title and tags. This runs on the parser's
    /// thread: on the one store thread, folding and indexing item text was
    /// the largest single cost of a first poll.
    pub fn match_topics(
        &mut self,
        topics: Arc<Vec<Topic>>,
        url: &str,
        config_title: Option<&str>,
        tags: &[String],
    ) {
        if topics.is_empty() {
            return;
        }
        let labels = feed_labels(url, config_title.or(self.title.as_deref()), tags);
        let per_item = self
            .items
            .iter()
            .map(|i| {
                let categories = i.categories.join("\n");
                let text = ItemText {
                    title: &i.title,
                    summary_html: i.summary.as_deref(),
                    content_html: i.content.as_deref(),
                    author: i.author.as_deref(),
                    categories: &categories,
                    feeds: &labels,
                    language: self.language.as_deref(),
                };
                match_item(&topics, url, &text)
            })
            .collect();
        self.matched = Some(Matched {
            topics,
            labels,
            per_item,
        });
    }
}

/// One entry of a feed, before the store decides whether it is new.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// Identity inside its feed: the feed's guid/id when it gives one, else
    /// the canonical link, else a hash of title and content.
    pub entry_key: String,
    /// Link to the article, absolute.
    pub link: Option<String>,
    /// Identity across feeds; see `canonical_url`.
    pub canonical_url: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl NewItem {
    /// A stable id for the item across feeds and databases: derived from the
    /// canonical URL when there is one, else from the feed and entry key.
    pub fn uid(&self, feed_url: &str) -> String {
        let basis = match &self.canonical_url {
            Some(u) => format!("url\n{u}"),
            None => format!("entry\n{feed_url}\n{}", self.entry_key),
        };
        hex(&Sha256::digest(basis.as_bytes())[..16])
    }
}

/// Query parameters that only track the reader and never change the page.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || n.starts_with("mc_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "yclid"
                | "igshid"
                | "_hsenc"
                | "_hsmi"
                | "ocid"
        )
}

/// The canonical form of an article URL, so two feeds linking the same page
/// agree: lowercase scheme and host, no default port, no fragment, no
/// tracking parameters; the remaining query keeps its order.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut u = Url::parse(link.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(u.to_string())
}

/// The feeds a web page at `page_url` announces (`<link rel="alternate">`),
/// or None when the body is not a web page.
pub fn announced_feeds(
    page_url: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Option<Vec<String>> {
    let prepared = prepare::prepare(body, content_type);
    prepare::looks_like_html(&prepared.text)
        .then(|| prepare::alternate_feed_links(&prepared.text, page_url))
}

/// Parses feed bytes fetched from `feed_url`, served with `content_type`.
/// No input panics: a panic inside the XML parser is caught and reported
/// as "not a feed".
pub fn parse_feed(
    feed_url: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let prepared = prepare::prepare(body, content_type);
    if prepare::looks_like_html(&prepared.text) {
        return Err(ParseError::WebPage {
            feed_link: prepare::alternate_feed_link(&prepared.text, feed_url),
        });
    }
    let text = prepared.text;
    let first = text
        .trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n'])
        .chars()
        .next();
    if !matches!(first, Some('<' | '{')) {
        return Err(ParseError::NotAFeed(match first {
            None => "the body is empty".into(),
            Some(_) => "the body is neither XML nor JSON".into(),
        }));
    }
    // Repaired before parsing (a bare `&`), or below (tags balanced).
    let mut malformed = prepared.repaired.map(str::to_owned);
    let feed = match feed_rs_parse(&text, feed_url)? {
        Ok(feed) => feed,
        // Ill-formed XML gets one more try with its tags balanced (see
        // `prepare::balance_tags`): pasted HTML and a forgotten `</item>`
        // should not cost a whole feed. Only on failure, so a well-formed
        // document is never rewritten; JSON has nothing to balance.
        Err(e) => {
            let balanced = (first == Some('<'))
                .then(|| prepare::balance_tags(&text))
                // Nothing to balance: the same document would fail the same way.
                .filter(|b| *b != text);
            match balanced.map(|b| feed_rs_parse(&b, feed_url)).transpose()? {
                // Repaired, but not one complete entry in it (cut off in
                // its head, or not a feed at all): nothing was read, and
                // that is a failure, not an empty feed.
                Some(Ok(feed)) if feed.entries.is_empty() => {
                    return Err(ParseError::NotAFeed(e.to_string()));
                }
                Some(Ok(feed)) => {
                    malformed = Some(e.to_string());
                    feed
                }
                // The original complaint says more than one about our repair.
                _ => return Err(ParseError::NotAFeed(e.to_string())),
            }
        }
    };
    let hints = feed_hints(&text, feed.ttl);
    let encoding = prepared.encoding;
    let base = Url::parse(feed_url).ok();
    let absolute = |href: &str| -> Option<String> {
        let href = href.trim();
        if href.is_empty() {
            return None;
        }
        match &base {
            Some(b) => b.join(href).ok().map(|u| u.to_string()),
            None => Url::parse(href).ok().map(|u| u.to_string()),
        }
    };
    let site_url = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| absolute(&l.href));
    let rel = |name: &str| {
        feed.links
            .iter()
            .find(|l| {
                l.rel
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(name))
            })
            .and_then(|l| absolute(&l.href))
    };
    let push = PushLinks {
        hub: rel("hub"),
        self_url: rel("self"),
    };
    // feed-rs keeps a JSON Feed's `feed_url` as a link without a rel and
    // drops `hubs` (JSON Feed 1.1): both read here.
    let push = if feed.feed_type == feed_rs::model::FeedType::JSON {
        let json = json_push_links(&text);
        PushLinks {
            hub: json.hub.as_deref().and_then(absolute),
            self_url: json.self_url.as_deref().and_then(absolute),
        }
        .or(push)
    } else {
        push
    };

    let items: Vec<NewItem> = feed
        .entries
        .into_iter()
        .map(|e| {
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| e.links.first())
                .and_then(|l| absolute(&l.href));
            let canonical = link.as_deref().and_then(canonical_url);
            let title = e
                .title
                .map(|t| t.content.trim().to_owned())
                .unwrap_or_default();
            let summary = e
                .summary
                .map(|t| t.content)
                .filter(|s| !s.trim().is_empty());
            let content = e
                .content
                .and_then(|c| c.body)
                .filter(|s| !s.trim().is_empty());
            let guid = e.id.trim();
            let entry_key = if !guid.is_empty() {
                guid.to_owned()
            } else if let Some(c) = &canonical {
                format!("url:{c}")
            } else {
                let mut h = Sha256::new();
                h.update(title.as_bytes());
                h.update(b"\n");
                h.update(
                    content
                        .as_deref()
                        .or(summary.as_deref())
                        .unwrap_or("")
                        .as_bytes(),
                );
                format!("sha256:{}", hex(&h.finalize()[..16]))
            };
            let author = e
                .authors
                .iter()
                .filter_map(|p| p.name.as_deref().map(str::trim))
                .find(|n| !n.is_empty())
                .map(str::to_owned);
            NewItem {
                entry_key,
                link,
                canonical_url: canonical,
                title,
                summary,
                content,
                author,
                categories: e.categories.into_iter().map(|c| c.term).collect(),
                published: e.published,
                updated: e.updated,
            }
        })
        .collect();

    let items_read = items.len();
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| t.content.trim().to_owned())
            .filter(|t| !t.is_empty()),
        id: Some(feed.id).filter(|i| !i.trim().is_empty()),
        site_url,
        language: feed.language,
        items,
        hints,
        encoding,
        matched: None,
        unread_entries: if items_read == 0 {
            count_entry_elements(&text)
        } else {
            0
        },
        malformed,
        push,
    })
}

/// Elements named item or entry (any prefix), the entries of every feed
/// dialect; only looked at when none were read.
fn count_entry_elements(text: &str) -> usize {
    static ENTRY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(?:[\w.-]+:)?(?:item|entry)[\s/>]").expect("static regex"));
    ENTRY.find_iter(text).count()
}

/// feed-rs with our settings, a panic inside it caught and reported as
/// "not a feed".
fn feed_rs_parse(
    text: &str,
    feed_url: &str,
) -> Result<Result<feed_rs::model::Feed, feed_rs::parser::ParseFeedError>, ParseError> {
    std::panic::catch_unwind(|| {
        feed_rs::parser::Builder::new()
            .base_uri(Some(feed_url))
            // Missing ids stay empty so we can tell them apart: feed-rs would
            // otherwise invent one (a random UUID when there is no link).
            .id_generator(|_, _, _| String::new())
            // We sanitise at publication, with our own rules.
            .sanitize_content(false)
            // Every date element goes through our reader (see date.rs).
            .timestamp_parser(date::parse_date)
            .build()
            .parse(text.as_bytes())
    })
    .map_err(|_| ParseError::NotAFeed("the document crashed the XML parser".into()))
}

/// Reads the scheduling elements feed-rs does not model (sy:, skipHours,
/// skipDays) straight from the text; they are flat and simple.
fn feed_hints(text: &str, ttl_minutes: Option<u32>) -> FeedHints {
    static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<(?:[\w.-]+:)?updatePeriod>\s*(\w+)\s*<").expect("static regex")
    });
    static FREQ: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<(?:[\w.-]+:)?updateFrequency>\s*(\d+)\s*<").expect("static regex")
    });
    static SKIP_HOURS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<skipHours>(.*?)</skipHours>").expect("static regex"));
    static HOUR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<hour>\s*(\d{1,2})\s*</hour>").expect("static regex"));
    static SKIP_DAYS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<skipDays>(.*?)</skipDays>").expect("static regex"));
    static DAY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<day>\s*(\w+)\s*</day>").expect("static regex"));

    // A literal search first: most feeds have none of these, and the
    // regexes would try every `<` of the document.
    let has = |word: &str| memchr::memmem::find(text.as_bytes(), word.as_bytes()).is_some();
    let period = Some(text)
        .filter(|_| has("updatePeriod>"))
        .and_then(|t| PERIOD.captures(t))
        .and_then(|c| match c[1].to_ascii_lowercase().as_str() {
            "hourly" => Some(3600u64),
            "daily" => Some(86_400),
            "weekly" => Some(604_800),
            "monthly" => Some(2_592_000),
            "yearly" => Some(31_536_000),
            _ => None,
        });
    let freq = Some(text)
        .filter(|_| has("updateFrequency>"))
        .and_then(|t| FREQ.captures(t))
        .and_then(|c| c[1].parse::<u64>().ok())
        .filter(|&f| f > 0)
        .unwrap_or(1);
    let skip_hours = Some(text)
        .filter(|_| has("<skipHours>"))
        .and_then(|t| SKIP_HOURS.captures(t))
        .map(|c| {
            HOUR.captures_iter(&c[1])
                .filter_map(|h| h[1].parse::<u32>().ok())
                .map(|h| h % 24)
                .collect()
        })
        .unwrap_or_default();
    let skip_days = Some(text)
        .filter(|_| has("<skipDays>"))
        .and_then(|t| SKIP_DAYS.captures(t))
        .map(|c| {
            DAY.captures_iter(&c[1])
                .filter_map(|d| d[1].parse::<Weekday>().ok())
                .collect()
        })
        .unwrap_or_default();
    FeedHints {
        ttl: ttl_minutes
            .filter(|&m| m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        update_every: period.map(|p| Duration::from_secs(p / freq)),
        skip_hours,
        skip_days,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn websub_links_come_from_the_header_and_the_document() {
        let h = super::link_header(
            [
                r#"<https://hub.example/>; rel="hub", </feed.xml>; rel="self""#,
                r#"<https://other.example/>; rel="hub""#,
            ],
            "https://pub.example/x/feed.xml",
        );
        assert_eq!(h.hub.as_deref(), Some("https://hub.example/"));
        assert_eq!(h.self_url.as_deref(), Some("https://pub.example/feed.xml"));
        let rss = br#"<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title><link>https://pub.example/</link>
<atom:link rel="hub" href="https://hub.example/hub"/><atom:link rel="self" href="https://pub.example/rss"/>
<item><title>A</title><link>https://pub.example/a</link></item></channel></rss>"#;
        let p = super::parse_feed("https://pub.example/rss?x", rss, None).expect("parses");
        assert_eq!(p.push.hub.as_deref(), Some("https://hub.example/hub"));
        assert_eq!(p.push.self_url.as_deref(), Some("https://pub.example/rss"));
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
<link rel="hub" href="/hub"/><entry><title>A</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated></entry></feed>"#;
        let p = super::parse_feed("https://pub.example/f.atom", atom, None).expect("parses");
        assert_eq!(p.push.hub.as_deref(), Some("https://pub.example/hub"));
        assert_eq!(p.push.self_url, None);
        // The header wins where both speak.
        let both = h.or(p.push);
        assert_eq!(both.hub.as_deref(), Some("https://hub.example/"));
        // JSON Feed 1.1: `hubs` (the WebSub one) and `feed_url`.
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "home_page_url":"https://pub.example/","feed_url":"https://pub.example/feed.json",
            "hubs":[{"type":"rssCloud","url":"https://cloud.example/"},{"type":"WebSub","url":"/websub"}],
            "items":[{"id":"1","title":"A","content_text":"x"}]}"#;
        let j = super::parse_feed("https://pub.example/feed.json", json.as_bytes(), None)
            .expect("parses");
        assert_eq!(j.push.hub.as_deref(), Some("https://pub.example/websub"));
        assert_eq!(
            j.push.self_url.as_deref(),
            Some("https://pub.example/feed.json")
        );
    }

    use super::*;

    #[test]
    fn canonical_urls() {
        assert_eq!(
            canonical_url("https://TASS.example:443/politics/1002?utm_source=x&utm_medium=rss&fbclid=abc#comments").as_deref(),
            Some("https://tass.example/politics/1002")
        );
        assert_eq!(
            canonical_url("HTTP://Example.org:80/a?id=7&gclid=z&mc_cid=1&page=2").as_deref(),
            Some("http://example.org/a?id=7&page=2")
        );
        // A non-default port and path case are meaningful and kept.
        assert_eq!(
            canonical_url("http://example.org:8080/A/B").as_deref(),
            Some("http://example.org:8080/A/B")
        );
        assert_eq!(canonical_url("mailto:a@example.org"), None);
        assert_eq!(canonical_url("not a url"), None);
    }

    const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>T</title><link>https://t.example/</link>
<item><title>With guid</title><guid isPermaLink="false">g-1</guid><link>/a/1?utm_source=rss</link></item>
<item><title>Link only</title><link>https://t.example/a/2#top</link></item>
<item><title>Nothing</title><description>Body text</description></item>
</channel></rss>"#;

    #[test]
    fn keys_prefer_guid_then_link_then_content_hash() {
        let f = parse_feed("https://t.example/rss", RSS.as_bytes(), None).unwrap();
        assert_eq!(f.title.as_deref(), Some("T"));
        let keys: Vec<_> = f.items.iter().map(|i| i.entry_key.as_str()).collect();
        assert_eq!(keys[0], "g-1");
        assert_eq!(keys[1], "url:https://t.example/a/2");
        assert!(keys[2].starts_with("sha256:"), "{}", keys[2]);
        // Relative links are resolved against the feed's address.
        assert_eq!(
            f.items[0].link.as_deref(),
            Some("https://t.example/a/1?utm_source=rss")
        );
        assert_eq!(
            f.items[0].canonical_url.as_deref(),
            Some("https://t.example/a/1")
        );
    }

    #[test]
    fn keys_are_stable_across_parses() {
        let a = parse_feed("https://t.example/rss", RSS.as_bytes(), None).unwrap();
        let b = parse_feed("https://t.example/rss", RSS.as_bytes(), None).unwrap();
        assert_eq!(a.items, b.items);
        assert_eq!(a.items[2].uid("x"), b.items[2].uid("x"));
        // Same canonical URL, same uid, whatever the feed.
        assert_eq!(a.items[1].uid("https://a/"), a.items[1].uid("https://b/"));
    }

    #[test]
    fn html_pages_are_named_as_such() {
        let e = parse_feed(
            "https://t.example/",
            b"<!DOCTYPE html><html><body>hi</body></html>",
            Some("text/html"),
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::WebPage { feed_link: None }), "{e}");
        // Cut off before any complete item: nothing to keep, a failure.
        let e = parse_feed("https://t.example/", b"<rss><channel><title>Broken", None).unwrap_err();
        assert!(matches!(e, ParseError::NotAFeed(_)), "{e}");
        // Cut off after one: that one is kept, and the feed marked.
        let f = parse_feed(
            "https://t.example/",
            b"<rss version=\"2.0\"><channel><title>Cut</title><item><title>Whole</title><link>https://t.example/1</link></item><item><title>Ha",
            None,
        )
        .unwrap();
        assert!(f.malformed.is_some());
        assert_eq!(f.items.len(), 1);
        assert_eq!(f.items[0].title, "Whole");
    }

    #[test]
    fn one_odd_element_costs_that_element_not_the_feed() {
        let media = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>M</title>
<item><title>Clip</title><link>https://m.example/1</link><media:content url="https://m.example/1.mp4" type="video/mp4"><media:title type="text/html">Yum</media:title></media:content><media:description></media:description></item></channel></rss>"#;
        let f = parse_feed("https://m.example/rss", media.as_bytes(), None).unwrap();
        assert_eq!(f.items.len(), 1);
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="image/jpeg">x</title><id>tag:a,2024:f</id>
<entry><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">One</div></title><id>tag:a,2024:1</id></entry></feed>"#;
        let f = parse_feed("https://a.example/atom", atom.as_bytes(), None).unwrap();
        assert_eq!(f.items.len(), 1);
        assert_eq!(f.items[0].title, "One");
    }

    #[test]
    fn schedule_hints_are_read() {
        let doc = r#"<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>T</title><ttl>45</ttl><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>
<skipHours><hour>0</hour><hour>23</hour></skipHours><skipDays><day>Saturday</day><day>Sunday</day></skipDays>
</channel></rss>"#;
        let f = parse_feed("https://t.example/rss", doc.as_bytes(), None).unwrap();
        assert_eq!(f.hints.ttl, Some(Duration::from_secs(45 * 60)));
        assert_eq!(f.hints.update_every, Some(Duration::from_secs(1800)));
        assert_eq!(f.hints.skip_hours, [0, 23]);
        assert_eq!(f.hints.skip_days, [Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn utf16_and_atom03_parse_with_their_entries() {
        let mut utf16: Vec<u8> = vec![0xFE, 0xFF];
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>T</title><item><title>Япония</title><guid>1</guid></item></channel></rss>";
        for u in doc.encode_utf16() {
            utf16.extend(u.to_be_bytes());
        }
        let f = parse_feed("https://t.example/rss", &utf16, None).unwrap();
        assert_eq!(f.items[0].title, "Япония");
        let atom03 = r#"<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title>
<entry><title>One</title><id>tag:x,2004:1</id><link rel="alternate" type="text/html" href="https://o.example/1"/><issued>2004-01-01T00:00:00Z</issued><modified>2004-01-02T00:00:00Z</modified></entry>
<entry><title>Two</title><id>tag:x,2004:2</id><issued>2004-01-03T00:00:00Z</issued></entry></feed>"#;
        let f = parse_feed("https://o.example/atom", atom03.as_bytes(), None).unwrap();
        assert_eq!(f.items.len(), 2);
        assert!(f.items[0].published.is_some());
    }
}
