//! Topics: the operator's queries, compiled once at load and matched against
//! every stored item. `query` turns text into an expression tree, `text`
//! normalises item text the same way on both sides, `matcher` evaluates.

#[cfg(test)]
mod cases;
#[cfg(test)]
mod forms;
mod matcher;
mod query;

use std::collections::{BTreeMap, BTreeSet};

pub use matcher::{Document, ItemText, Matcher};
pub use query::{QueryError, parse_query};

/// One topic as the store and publisher see it: a compiled query plus the
/// feed filter and presentation settings from `[topic.SLUG]`.
#[derive(Debug, Clone)]
pub struct Topic {
    pub slug: String,
    pub title: String,
    pub matcher: Matcher,
    /// Feed urls this topic draws from; `None` means every feed.
    pub feed_filter: Option<BTreeSet<String>>,
    pub limit: usize,
    /// One entry per story (the default) rather than per item.
    pub by_story: bool,
    /// Changes whenever anything that decides membership changes, so the
    /// store knows to re-evaluate the topic over the stored history.
    pub fingerprint: String,
}

impl Topic {
    /// Does this topic take an item seen in `feed_urls` with this text?
    pub fn accepts<'a>(
        &self,
        feed_urls: impl IntoIterator<Item = &'a str>,
        doc: &Document,
    ) -> bool {
        let from_allowed_feed = match &self.feed_filter {
            None => true,
            Some(allowed) => feed_urls.into_iter().any(|u| allowed.contains(u)),
        };
        from_allowed_feed && self.matcher.matches(doc)
    }
}

/// What a topic's `feed:` field sees of one feed: its url, title (the
/// configured one, else the feed's own) and tags. The store's `ITEM_ROW`
/// builds the same line in SQL, one per feed an item was seen in.
pub fn feed_labels(url: &str, title: Option<&str>, tags: &[String]) -> String {
    format!("{url} {} {}", title.unwrap_or(""), tags.join(" "))
}

/// The topics of a feed's new items, decided on the parser's thread with
/// the topics and feed labels of that moment. The store takes them when
/// both are still what it has, and matches again itself otherwise.
#[derive(Debug, Clone)]
pub struct Matched {
    pub topics: std::sync::Arc<Vec<Topic>>,
    pub labels: String,
    /// Per item: (index into `topics`, why it matched).
    pub per_item: Vec<Vec<(usize, String)>>,
}

/// Matches one item against every topic: (topic index, why) for each that
/// takes it. `urls`: the feeds it was seen in, one per line; `item.feeds`
/// their labels (`feed_labels`).
pub fn match_item(topics: &[Topic], urls: &str, item: &ItemText) -> Vec<(usize, String)> {
    let doc = Document::new(item);
    topics
        .iter()
        .enumerate()
        .filter(|(_, t)| t.accepts(urls.split('\n'), &doc))
        .map(|(i, t)| (i, t.matcher.explain(&doc).join("\n")))
        .collect()
}

/// Aliases as written in `[alias]`: name -> list of terms.
pub type Aliases = BTreeMap<String, Vec<String>>;

/// Compile a query with its aliases into a matcher.
pub fn compile(query: &str, aliases: &Aliases) -> Result<Matcher, QueryError> {
    let expr = parse_query(query, aliases)?;
    Ok(Matcher::new(expr))
}
