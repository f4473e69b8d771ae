//! Topic membership over any backend: installing the configured topics
//! (re-evaluating every stored item for the ones whose definition
//! changed), and the `TopicMatcher` a backend calls while it stores a
//! poll's items.

use std::collections::HashSet;
use std::sync::Arc;

use crate::storage::{Backend, MatchRow, StoreError, TopicMatcher};
use crate::topics::{Document, Matched, Topic, match_item};

/// Items read per query while re-evaluating a topic: enough to make the
/// per-query cost vanish, small enough to keep memory flat on any store.
const MATCH_PAGE: usize = 512;

/// The topics in force, as a backend's ingest sees them.
pub struct Evaluator {
    pub topics: Arc<Vec<Topic>>,
}

impl TopicMatcher for Evaluator {
    fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    fn current(&self, m: &Matched, labels: &str) -> bool {
        // Matches made on a parser thread count only if they were made
        // with the topics and labels in force here.
        Arc::ptr_eq(&m.topics, &self.topics) && m.labels == labels
    }

    fn match_row(&self, row: &MatchRow) -> Vec<(usize, String)> {
        match_item(&self.topics, &row.urls, &row.text())
    }

    fn slug(&self, i: usize) -> Option<&str> {
        self.topics.get(i).map(|t| t.slug.as_str())
    }
}

/// Installs `topics`, in one transaction: topics no longer configured are
/// forgotten (re-adding one rebuilds it), and each topic whose definition
/// (fingerprint) changed is filled again from every stored item. Returns
/// (slug, items) for the topics that were re-evaluated.
pub fn install(db: &mut dyn Backend, topics: &[Topic]) -> Result<Vec<(String, usize)>, StoreError> {
    db.begin()?;
    let done = fill(db, topics).and_then(|out| db.commit().map(|()| out));
    if done.is_err() {
        db.rollback();
    }
    done
}

fn fill(db: &mut dyn Backend, topics: &[Topic]) -> Result<Vec<(String, usize)>, StoreError> {
    let now = chrono::Utc::now().timestamp();
    let known = db.topic_fingerprints()?;
    let configured: HashSet<&str> = topics.iter().map(|t| t.slug.as_str()).collect();
    for slug in known.keys().filter(|s| !configured.contains(s.as_str())) {
        db.remove_topic(slug)?;
    }
    let changed: Vec<&Topic> = topics
        .iter()
        .filter(|t| known.get(&t.slug) != Some(&t.fingerprint))
        .collect();
    let mut counts = vec![0usize; changed.len()];
    if !changed.is_empty() {
        for t in &changed {
            db.reset_topic(&t.slug, &t.fingerprint, now)?;
        }
        let mut after = i64::MIN;
        loop {
            let rows = db.items_to_match(after, MATCH_PAGE)?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                let doc = Document::new(&row.text());
                for (t, n) in changed.iter().zip(counts.iter_mut()) {
                    if !t.accepts(row.urls.split('\n'), &doc) {
                        continue;
                    }
                    let why = t.matcher.explain(&doc).join("\n");
                    db.add_to_topic(&t.slug, row.id, row.sort_time, &why)?;
                    *n += 1;
                }
            }
        }
    }
    Ok(changed
        .iter()
        .zip(counts)
        .map(|(t, n)| (t.slug.clone(), n))
        .collect())
}
