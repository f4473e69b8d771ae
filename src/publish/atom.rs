//! Atom 1.0 (RFC 4287) topic feeds: entries with atom:source, the
//! categories that say why an item is in the topic, and RFC 5005 paging.

use super::Place;
use atom_syndication as atom;

use super::{
    Format, Page, PublishError, Spec, TAG, fixed, page_links, page_url, sanitize, view, xml_safe,
};
use crate::store::{Entry, TopicEntries};
use crate::topics::Topic;

pub(super) const SPEC: Spec = Spec {
    extension: "atom",
    content_type: "application/atom+xml; charset=utf-8",
    media_type: "application/atom+xml",
    name: "Atom",
    render: atom_feed,
};

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

/// The scheme of categories that say which alias or term matched.
const MATCHED_SCHEME: &str = "tag:feedsift,2026:matched";

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

/// Renders a page of a topic as an Atom 1.0 document (RFC 4287), newest first.
fn atom_feed(
    topic: &Topic,
    place: &Place,
    data: &TopicEntries,
    page: Page,
) -> Result<String, PublishError> {
    let base_url = place.base_url;
    let entries: Vec<atom::Entry> = data.entries.iter().map(|e| atom_entry(topic, e)).collect();
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or(fixed(data.defined_at));
    let url = Format::Atom.url(base_url, &topic.slug);
    let mut links = vec![
        link(
            &page_url(&url, page.number),
            "self",
            Some("application/atom+xml"),
        ),
        link(base_url, "alternate", Some("text/html")),
    ];
    // The same topic in every other format.
    for f in Format::ALL.into_iter().filter(|f| *f != Format::Atom) {
        links.push(link(
            &f.url(base_url, &topic.slug),
            "alternate",
            Some(f.spec().media_type),
        ));
    }
    for (rel, href) in page_links(&url, page) {
        links.push(link(&href, rel, Some("application/atom+xml")));
    }
    // WebSub discovery (W3C WebSub 4): the hub and the topic's own url.
    if let Some(hub) = place.hub {
        links.push(link(hub, "hub", None));
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
