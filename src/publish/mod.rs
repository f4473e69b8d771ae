//! Rendering: stored entries to documents, as pure functions (no I/O), so
//! the CLI export and the HTTP server produce the same bytes. A topic feed
//! format is one file here (`atom.rs`, `json.rs`) and one `Format` variant;
//! `site.rs` renders the documents about all topics (OPML, the index page).

mod atom;
mod json;
mod site;

use chrono::{DateTime, FixedOffset, Utc};

pub use site::{INDEX_STORIES, index_html, opml};

use crate::sanitize;
use crate::store::{Entry, Member, TopicEntries};
use crate::topics::Topic;

/// The tagging entity for our ids (RFC 4151). Ids must never change, so
/// they do not depend on `base_url`, which an operator may move.
const TAG: &str = "tag:feedsift,2026:";

/// A topic feed format: what the server serves at `/topics/SLUG.EXT` and
/// `feedsift export --format` writes. Everything else about a format is in
/// its `Spec`, in the format's own file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    Atom,
    Json,
}

/// What a format is: its file extension, media type and renderer.
pub struct Spec {
    /// The extension of its address (`/topics/SLUG.EXT`).
    pub extension: &'static str,
    /// The Content-Type it is served with.
    pub content_type: &'static str,
    /// The media type links to it carry (`type` of `<link>`).
    pub media_type: &'static str,
    /// A human name, for the index page.
    pub name: &'static str,
    render: fn(&Topic, &Place, &TopicEntries, Page) -> Result<String, PublishError>,
}

/// Where topic feeds are published: the base url every address starts
/// with, and the WebSub hub they advertise (README, "Push").
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub base_url: &'a str,
    pub hub: Option<&'a str>,
}

impl Format {
    /// Every format, in the order the index page offers them.
    pub const ALL: [Format; 2] = [Format::Atom, Format::Json];

    pub fn spec(self) -> &'static Spec {
        match self {
            Format::Atom => &atom::SPEC,
            Format::Json => &json::SPEC,
        }
    }

    /// The format whose extension `ext` is.
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.spec().extension == ext)
    }

    /// The public address of a topic's feed in this format.
    pub fn url(self, base_url: &str, slug: &str) -> String {
        format!("{base_url}topics/{slug}.{}", self.spec().extension)
    }

    /// Renders a page of a topic, newest entry first.
    pub fn render(
        self,
        topic: &Topic,
        place: &Place,
        data: &TopicEntries,
        page: Page,
    ) -> Result<String, PublishError> {
        (self.spec().render)(topic, place, data, page)
    }
}

/// The public address of a topic's Atom feed, the one readers subscribe to.
pub fn topic_atom_url(base_url: &str, slug: &str) -> String {
    Format::Atom.url(base_url, slug)
}

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// XML 1.0 forbids most control characters; a feed that smuggles one in
/// (JSON Feed can) must not make our document unreadable.
fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

fn entry_updated(e: &Entry) -> DateTime<Utc> {
    // Never later than when we first saw it: a future date from a
    // publisher must not pin the entry to the top.
    e.updated
        .or(e.published)
        .map_or(e.first_seen, |d| d.min(e.first_seen))
}

/// The list of a story's sources, as HTML: feed, headline, link.
fn sources_html(members: &[Member]) -> String {
    use crate::sanitize::plain_text;
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
    let mut h = format!("<p>Reported by {} sources:</p><ul>", members.len());
    for m in members {
        let headline = match &m.link {
            Some(l) => format!(
                "<a href=\"{}\">{}</a>",
                attr(l),
                text(&plain_text(&m.title))
            ),
            None => text(&plain_text(&m.title)).into_owned(),
        };
        h.push_str(&format!(
            "<li>{}: {headline} ({})</li>",
            text(&m.feed_title),
            m.date.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    h.push_str("</ul>");
    h
}

/// What every format shows of one entry, computed once: sanitised HTML,
/// plain-text title, dates and language. Atom and JSON Feed differ only in
/// how they write it down.
pub(crate) struct View<'a> {
    id: String,
    title: String,
    link: Option<&'a str>,
    published: DateTime<Utc>,
    updated: DateTime<Utc>,
    author: String,
    /// Sanitised summary HTML.
    summary: Option<String>,
    /// Sanitised content HTML; for a story, followed by its sources.
    content: Option<String>,
    lang: Option<String>,
    /// The other sources of a story: (link, "feed: headline").
    related: Vec<(&'a str, String)>,
}

fn view(e: &Entry) -> View<'_> {
    let story = e.story.as_ref().filter(|s| s.members.len() > 1);
    // Only web links: a `javascript:` link from a hostile feed would run
    // in the reader when clicked.
    let link = e.link.as_deref().filter(|l| is_web_url(l));
    let clean = |html: &str| Some(sanitize::clean_html(html, link)).filter(|s| !s.is_empty());
    let summary = e.summary.as_deref().and_then(clean);
    // Without a link the entry must carry content (RFC 4287 4.1.2); a
    // story's content carries its list of sources. Links in that list come
    // from feeds too, so the whole body goes through the sanitiser.
    let raw = e
        .content
        .as_deref()
        .or(if link.is_none() || story.is_some() {
            e.summary.as_deref()
        } else {
            None
        });
    let body = match (raw, story) {
        (b, Some(s)) => clean(&format!(
            "{}{}",
            b.unwrap_or_default(),
            sources_html(&s.members)
        )),
        (b, None) => b.and_then(clean),
    };
    let title = sanitize::plain_text(&e.title);
    View {
        id: match &e.story {
            Some(s) => format!("{TAG}story:{}", s.uid),
            None => format!("{TAG}item:{}", e.uid),
        },
        title: if title.is_empty() {
            "(untitled)".into()
        } else {
            title
        },
        link,
        // A story moves when a source joins, so readers see it again.
        updated: story.map_or(entry_updated(e), |s| s.updated.max(entry_updated(e))),
        published: e.story.as_ref().map_or(e.sort_time, |s| s.sort_time),
        author: sanitize::plain_text(e.author.as_deref().unwrap_or(&e.source.title)),
        summary,
        content: body,
        lang: e.source.language.as_deref().and_then(lang_tag),
        related: story.map_or(Vec::new(), |s| {
            s.members
                .iter()
                .filter(|m| m.uid != e.uid)
                .filter_map(|m| {
                    let l = m.link.as_deref().filter(|l| is_web_url(l))?;
                    Some((
                        l,
                        format!("{}: {}", m.feed_title, sanitize::plain_text(&m.title)),
                    ))
                })
                .collect()
        }),
    }
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// A feed's language as an RFC 3066 tag (what `xml:lang` and JSON Feed
/// take), or nothing: feeds write "en_US", "EN", or junk.
fn lang_tag(raw: &str) -> Option<String> {
    let tag = raw.trim().replace('_', "-").to_ascii_lowercase();
    let ok = !tag.is_empty()
        && tag.split('-').enumerate().all(|(i, part)| {
            (1..=8).contains(&part.len())
                && if i == 0 {
                    part.bytes().all(|b| b.is_ascii_alphabetic())
                } else {
                    part.bytes().all(|b| b.is_ascii_alphanumeric())
                }
        });
    ok.then_some(tag)
}

/// Which page of a topic a document is (RFC 5005 paged feeds): page 1 holds
/// the newest `limit` entries, page 2 the next, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: usize,
    pub pages: usize,
}

impl Page {
    /// The whole topic as one document without paging links: for static
    /// export, where `?page=N` cannot be served.
    pub const SINGLE: Page = Page {
        number: 1,
        pages: 1,
    };

    /// Page `number` of a topic with `total` entries shown `limit` a page,
    /// or None when there is no such page. Page 1 always exists.
    pub fn of(number: usize, total: usize, limit: usize) -> Option<Page> {
        let pages = total.div_ceil(limit.max(1)).max(1);
        (1..=pages)
            .contains(&number)
            .then_some(Page { number, pages })
    }

    /// How many entries come before this page.
    pub fn offset(number: usize, limit: usize) -> usize {
        number.saturating_sub(1).saturating_mul(limit)
    }
}

/// The address of page `n` of a document at `url`; page 1 is `url` itself,
/// so the subscription address and the first page are one document.
pub fn page_url(url: &str, n: usize) -> String {
    if n <= 1 {
        url.to_owned()
    } else {
        format!("{url}?page={n}")
    }
}

/// RFC 5005 links between pages, as (rel, url).
fn page_links(url: &str, page: Page) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if page.pages > 1 {
        out.push(("first", page_url(url, 1)));
        out.push(("last", page_url(url, page.pages)));
    }
    if page.number > 1 {
        out.push(("previous", page_url(url, page.number - 1)));
    }
    if page.number < page.pages {
        out.push(("next", page_url(url, page.number + 1)));
    }
    out
}

fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(&xml_safe(s)).into_owned()
}

fn text(s: &str) -> String {
    html_escape::encode_text(&xml_safe(s)).into_owned()
}

/// Rendering failed; with in-memory output this means a bug, not bad input.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the feed: {0}")]
pub struct PublishError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_the_topic_and_page_one_always_exists() {
        assert_eq!(
            Page::of(1, 0, 100),
            Some(Page {
                number: 1,
                pages: 1
            })
        );
        assert_eq!(
            Page::of(3, 5, 2),
            Some(Page {
                number: 3,
                pages: 3
            })
        );
        assert_eq!(Page::of(4, 5, 2), None);
        assert_eq!(Page::of(0, 5, 2), None);
        assert_eq!(Page::offset(3, 2), 4);
        let links = page_links(
            "u",
            Page {
                number: 2,
                pages: 3,
            },
        );
        assert_eq!(
            links,
            vec![
                ("first", "u".to_owned()),
                ("last", "u?page=3".to_owned()),
                ("previous", "u".to_owned()),
                ("next", "u?page=3".to_owned()),
            ]
        );
        assert!(page_links("u", Page::SINGLE).is_empty());
    }

    #[test]
    fn languages_become_tags_or_nothing() {
        assert_eq!(lang_tag("en_US").as_deref(), Some("en-us"));
        assert_eq!(lang_tag(" ja ").as_deref(), Some("ja"));
        assert_eq!(lang_tag("english (uk)"), None);
        assert_eq!(lang_tag(""), None);
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(xml_safe("a\u{1}b\u{0}c\td"), "abc\td");
    }
}
