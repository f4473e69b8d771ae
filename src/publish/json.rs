//! JSON Feed 1.1 topic feeds: the same entries as the Atom feed, with the
//! same ids, so a reader switching formats sees no repeats.

use super::Place;
use chrono::{DateTime, Utc};

use super::{Format, Page, PublishError, Spec, page_url, sanitize, view};
use crate::store::TopicEntries;
use crate::topics::Topic;

pub(super) const SPEC: Spec = Spec {
    extension: "json",
    content_type: "application/feed+json",
    media_type: "application/feed+json",
    name: "JSON Feed",
    render: json_feed,
};

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
    /// WebSub hubs (JSON Feed 1.1 `hubs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub>,
    authors: Vec<JsonAuthor>,
    items: Vec<JsonItem>,
}

#[derive(serde::Serialize)]
struct JsonHub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
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
fn json_feed(
    topic: &Topic,
    place: &Place,
    data: &TopicEntries,
    page: Page,
) -> Result<String, PublishError> {
    let base_url = place.base_url;
    let url = Format::Json.url(base_url, &topic.slug);
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
        hubs: place
            .hub
            .map(|url| JsonHub {
                kind: "WebSub",
                url: url.to_owned(),
            })
            .into_iter()
            .collect(),
        authors: vec![JsonAuthor {
            name: "feedsift".into(),
        }],
        items,
    };
    let mut out = serde_json::to_string_pretty(&feed).map_err(|e| PublishError(e.to_string()))?;
    out.push('\n');
    Ok(out)
}
