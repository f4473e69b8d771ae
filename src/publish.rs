//! Rendering topic feeds. Pure functions from stored entries to documents:
//! no I/O here, so the CLI export and the HTTP server produce the same bytes.

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};

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
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
    let mut h = format!("<p>Reported by {} sources:</p><ul>", members.len());
    for m in members {
        let headline = match &m.link {
            Some(l) => format!("<a href=\"{}\">{}</a>", attr(l), text(&m.title)),
            None => text(&m.title).into_owned(),
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

fn atom_entry(topic: &Topic, e: &Entry) -> atom::Entry {
    let story = e.story.as_ref().filter(|s| s.members.len() > 1);
    let mut entry = atom::Entry {
        id: match &e.story {
            Some(s) => format!("{TAG}story:{}", s.uid),
            None => format!("{TAG}item:{}", e.uid),
        },
        title: atom::Text::plain(xml_safe(if e.title.is_empty() {
            "(untitled)"
        } else {
            &e.title
        })),
        // A story moves when a source joins, so readers see it again.
        updated: fixed(story.map_or(entry_updated(e), |s| s.updated.max(entry_updated(e)))),
        published: Some(fixed(e.story.as_ref().map_or(e.sort_time, |s| s.sort_time))),
        authors: vec![person(e.author.as_deref().unwrap_or(&e.source.title))],
        ..Default::default()
    };
    if let Some(l) = &e.link {
        entry.links.push(link(l, "alternate", Some("text/html")));
    }
    if let Some(s) = story {
        for m in s.members.iter().filter(|m| m.uid != e.uid) {
            if let Some(l) = &m.link {
                let mut rel = link(l, "related", Some("text/html"));
                rel.title = Some(xml_safe(&format!("{}: {}", m.feed_title, m.title)));
                entry.links.push(rel);
            }
        }
    }
    entry.summary = e.summary.as_deref().map(|s| atom::Text::html(xml_safe(s)));
    let body = e
        .content
        .as_deref()
        .or(if e.link.is_none() || story.is_some() {
            // Without a link, the entry must carry content (RFC 4287 4.1.2);
            // a story's content carries its list of sources.
            e.summary.as_deref()
        } else {
            None
        });
    let body = match (body, story) {
        (b, Some(s)) => Some(format!("{}{}", b.unwrap_or(""), sources_html(&s.members))),
        (b, None) => b.map(str::to_owned),
    };
    entry.content = match body {
        Some(b) => Some(atom::Content {
            value: Some(xml_safe(&b)),
            content_type: Some("html".into()),
            ..Default::default()
        }),
        None if e.link.is_none() => Some(atom::Content {
            value: Some(xml_safe(&e.title)),
            content_type: Some("text".into()),
            ..Default::default()
        }),
        None => None,
    };
    let src = &e.source;
    let mut source = atom::Source {
        id: xml_safe(src.ident.as_deref().unwrap_or(&src.url)),
        title: atom::Text::plain(xml_safe(&src.title)),
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

/// Renders a topic as an Atom 1.0 document (RFC 4287), newest first.
pub fn atom_feed(
    topic: &Topic,
    base_url: &str,
    data: &TopicEntries,
) -> Result<String, PublishError> {
    let entries: Vec<atom::Entry> = data.entries.iter().map(|e| atom_entry(topic, e)).collect();
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or(fixed(data.defined_at));
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
        links: vec![
            link(
                &topic_atom_url(base_url, &topic.slug),
                "self",
                Some("application/atom+xml"),
            ),
            link(base_url, "alternate", Some("text/html")),
        ],
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

/// Rendering failed; with in-memory output this means a bug, not bad input.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the feed: {0}")]
pub struct PublishError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(xml_safe("a\u{1}b\u{0}c\td"), "abc\td");
    }
}
