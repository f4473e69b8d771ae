//! Rendering topic feeds: Atom, JSON Feed, OPML and the HTML index. Pure
//! functions from stored entries to documents: no I/O here, so the CLI
//! export and the HTTP server produce the same bytes.

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};

use crate::sanitize;
use crate::store::{Entry, Member, TopicEntries};
use crate::topics::Topic;

/// The tagging entity for our ids (RFC 4151). Ids must never change, so
/// they do not depend on `base_url`, which an operator may move.
const TAG: &str = "tag:feedsift,2026:";

/// The public address of a topic's Atom feed.
pub fn topic_atom_url(base_url: &str, slug: &str) -> String {
    format!("{base_url}topics/{slug}.atom")
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

fn link(href: &str, rel: &str, mime: Option<&str>) -> atom::Link {
    atom::Link {
        href: xml_safe(href),
        rel: rel.to_owned(),
        mime_type: mime.map(str::to_owned),
        ..Default::default()
    }
}

fn person(name: &str) -> atom::Person {
    atom::Person {
        name: xml_safe(name),
        ..Default::default()
    }
}

fn entry_updated(e: &Entry) -> DateTime<Utc> {
    // Never later than when we first saw it: a future date from a
    // publisher must not pin the entry to the top.
    e.updated
        .or(e.published)
        .map_or(e.first_seen, |d| d.min(e.first_seen))
}

/// The scheme of categories that say which alias or term matched.
const MATCHED_SCHEME: &str = "tag:feedsift,2026:matched";

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
struct View<'a> {
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

fn atom_entry(topic: &Topic, e: &Entry) -> atom::Entry {
    let v = view(e);
    let mut title = atom::Text::plain(xml_safe(&v.title));
    title.lang = v.lang.clone();
    let mut entry = atom::Entry {
        id: v.id,
        title,
        updated: fixed(v.updated),
        published: Some(fixed(v.published)),
        authors: vec![person(&v.author)],
        ..Default::default()
    };
    if let Some(l) = v.link {
        entry.links.push(link(l, "alternate", Some("text/html")));
    }
    for (l, t) in &v.related {
        let mut rel = link(l, "related", Some("text/html"));
        rel.title = Some(xml_safe(t));
        entry.links.push(rel);
    }
    entry.summary = v.summary.as_deref().map(|s| {
        let mut t = atom::Text::html(xml_safe(s));
        t.lang = v.lang.clone();
        t
    });
    entry.content = match (&v.content, v.link) {
        (Some(b), _) => Some(atom::Content {
            value: Some(xml_safe(b)),
            content_type: Some("html".into()),
            lang: v.lang.clone(),
            ..Default::default()
        }),
        (None, None) => Some(atom::Content {
            value: Some(xml_safe(&v.title)),
            content_type: Some("text".into()),
            lang: v.lang.clone(),
            ..Default::default()
        }),
        (None, Some(_)) => None,
    };
    let src = &e.source;
    let mut source = atom::Source {
        id: xml_safe(src.ident.as_deref().unwrap_or(&src.url)),
        title: atom::Text::plain(xml_safe(&sanitize::plain_text(&src.title))),
        // When we saw the source carry this entry: stable across polls,
        // unlike the source's own updated time.
        updated: fixed(e.first_seen),
        ..Default::default()
    };
    source.links.push(link(&src.url, "self", None));
    if let Some(site) = &src.site_url {
        source
            .links
            .push(link(site, "alternate", Some("text/html")));
    }
    entry.source = Some(source);
    // Why it is here: the topic, then what matched.
    entry.categories.push(atom::Category {
        term: topic.slug.clone(),
        label: Some(xml_safe(&topic.title)),
        ..Default::default()
    });
    for m in &e.matched {
        entry.categories.push(atom::Category {
            term: xml_safe(m),
            scheme: Some(MATCHED_SCHEME.into()),
            ..Default::default()
        });
    }
    entry
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

/// Renders a page of a topic as an Atom 1.0 document (RFC 4287), newest first.
pub fn atom_feed(
    topic: &Topic,
    base_url: &str,
    data: &TopicEntries,
    page: Page,
) -> Result<String, PublishError> {
    let entries: Vec<atom::Entry> = data.entries.iter().map(|e| atom_entry(topic, e)).collect();
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or(fixed(data.defined_at));
    let url = topic_atom_url(base_url, &topic.slug);
    let mut links = vec![
        link(
            &page_url(&url, page.number),
            "self",
            Some("application/atom+xml"),
        ),
        link(base_url, "alternate", Some("text/html")),
        link(
            &topic_json_url(base_url, &topic.slug),
            "alternate",
            Some("application/feed+json"),
        ),
    ];
    for (rel, href) in page_links(&url, page) {
        links.push(link(&href, rel, Some("application/atom+xml")));
    }
    let feed = atom::Feed {
        id: format!("{TAG}topic:{}", topic.slug),
        title: atom::Text::plain(xml_safe(&topic.title)),
        updated,
        authors: vec![person("feedsift")],
        generator: Some(atom::Generator {
            value: "feedsift".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links,
        entries,
        ..Default::default()
    };
    let config = atom::WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    let mut out = feed
        .write_with_config(Vec::new(), config)
        .map_err(|e| PublishError(e.to_string()))?;
    out.push(b'\n');
    String::from_utf8(out).map_err(|e| PublishError(e.to_string()))
}

/// The public address of a topic's JSON Feed.
pub fn topic_json_url(base_url: &str, slug: &str) -> String {
    format!("{base_url}topics/{slug}.json")
}

/// JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), the fields we fill.
#[derive(serde::Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<String>,
    description: String,
    authors: Vec<JsonAuthor>,
    items: Vec<JsonItem>,
}

#[derive(serde::Serialize)]
struct JsonAuthor {
    name: String,
}

#[derive(serde::Serialize)]
struct JsonItem {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: String,
    /// The spec wants content_html or content_text in every item.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<String>,
    /// Plain text, as the spec says.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    authors: Vec<JsonAuthor>,
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Renders a page of a topic as JSON Feed 1.1: the same entries as the Atom
/// feed, with the same ids, so a reader switching formats sees no repeats.
pub fn json_feed(
    topic: &Topic,
    base_url: &str,
    data: &TopicEntries,
    page: Page,
) -> Result<String, PublishError> {
    let url = topic_json_url(base_url, &topic.slug);
    let items = data
        .entries
        .iter()
        .map(|e| {
            let v = view(e);
            let summary = v.summary.as_deref().map(sanitize::plain_text);
            let content_text =
                (v.content.is_none() && v.summary.is_none()).then(|| v.title.clone());
            JsonItem {
                id: v.id,
                url: v.link.map(str::to_owned),
                content_html: v.content.or(v.summary),
                content_text,
                summary,
                date_published: rfc3339(v.published),
                date_modified: rfc3339(v.updated),
                authors: vec![JsonAuthor { name: v.author }],
                tags: std::iter::once(topic.slug.clone())
                    .chain(e.matched.iter().cloned())
                    .collect(),
                language: v.lang,
                title: v.title,
            }
        })
        .collect();
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &topic.title,
        home_page_url: base_url,
        feed_url: page_url(&url, page.number),
        next_url: (page.number < page.pages).then(|| page_url(&url, page.number + 1)),
        description: format!("feedsift topic {}: {}", topic.slug, topic.title),
        authors: vec![JsonAuthor {
            name: "feedsift".into(),
        }],
        items,
    };
    let mut out = serde_json::to_string_pretty(&feed).map_err(|e| PublishError(e.to_string()))?;
    out.push('\n');
    Ok(out)
}

fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(&xml_safe(s)).into_owned()
}

fn text(s: &str) -> String {
    html_escape::encode_text(&xml_safe(s)).into_owned()
}

/// Every topic as an OPML 2.0 subscription list, so a reader imports all
/// topic feeds at once.
pub fn opml(topics: &[Topic], base_url: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>feedsift topics</title>\n  </head>\n  <body>\n",
    );
    for t in topics {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{xml}\" htmlUrl=\"{html}\"/>\n",
            title = attr(&t.title),
            xml = attr(&topic_atom_url(base_url, &t.slug)),
            html = attr(base_url),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// How many stories of each topic the index page lists.
pub const INDEX_STORIES: usize = 5;

/// The front page: every topic with its subscribe links and latest stories.
/// Plain HTML and a little CSS, no script; one column, readable on a phone.
pub fn index_html(topics: &[(&Topic, &TopicEntries)], base_url: &str) -> String {
    let mut h = String::from(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>feedsift topics</title>\n",
        "<style>body{max-width:42rem;margin:0 auto;padding:1rem;font:1rem/1.5 system-ui,sans-serif;color:#222;background:#fff}",
        "h2{margin:1.5rem 0 .25rem;font-size:1.2rem}ul{padding-left:1.2rem}li{margin:.4rem 0}",
        "small{color:#666}a{color:#0645ad;overflow-wrap:anywhere}",
        "@media (prefers-color-scheme:dark){body{color:#ddd;background:#111}a{color:#8ab4f8}small{color:#aaa}}</style>\n",
    ));
    for (t, _) in topics {
        h.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}\">\n",
            attr(&t.title),
            attr(&topic_atom_url(base_url, &t.slug))
        ));
    }
    h.push_str("</head>\n<body>\n<h1>feedsift topics</h1>\n");
    h.push_str(&format!(
        "<p>Subscribe to one topic below, or to <a href=\"{}\">all of them (OPML)</a>.</p>\n",
        attr(&format!("{base_url}topics.opml"))
    ));
    for (t, data) in topics {
        h.push_str(&format!(
            "<section>\n<h2 id=\"{slug}\">{title}</h2>\n<p>Subscribe: <a href=\"{atom}\">Atom</a> · <a href=\"{json}\">JSON Feed</a></p>\n<ul>\n",
            slug = attr(&t.slug),
            title = text(&t.title),
            atom = attr(&topic_atom_url(base_url, &t.slug)),
            json = attr(&topic_json_url(base_url, &t.slug)),
        ));
        for e in data.entries.iter().take(INDEX_STORIES) {
            let v = view(e);
            let title = match v.link {
                Some(l) => format!("<a href=\"{}\">{}</a>", attr(l), text(&v.title)),
                None => text(&v.title),
            };
            let sources = e.story.as_ref().map_or(1, |s| s.members.len().max(1));
            let more = if sources > 1 {
                format!(" and {} more", sources - 1)
            } else {
                String::new()
            };
            h.push_str(&format!(
                "<li>{title}<br><small>{}{more} · {}</small></li>\n",
                text(&sanitize::plain_text(&e.source.title)),
                v.published.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        if data.entries.is_empty() {
            h.push_str("<li><small>nothing yet</small></li>\n");
        }
        h.push_str("</ul>\n</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
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
