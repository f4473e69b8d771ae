//! What both backends share in reading rows into the stored types:
//! timestamps as stored, the reasons a story's members are in a topic, and
//! the summary counts.

use chrono::{DateTime, TimeZone, Utc};

use super::{StoreError, StoreStats};

/// A time as both backends store it: Unix seconds.
pub(super) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(super) fn from_ts(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

/// A stored list, one entry per line.
pub(super) fn lines(v: Option<String>) -> Vec<String> {
    v.map(|m| m.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Why a story is in a topic: every reason any member matched with, each
/// once, in the members' order.
pub(super) fn story_reasons(whys: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut matched: Vec<String> = Vec::new();
    for m in whys.into_iter().flat_map(lines) {
        if !matched.contains(&m) {
            matched.push(m);
        }
    }
    matched
}

/// The counts of `Counts::Summary`, the same queries in both backends:
/// `one` runs a query that returns one integer (NULL as 0); `db_bytes` is
/// the backend's own measure of its size.
pub(super) fn summary(
    mut one: impl FnMut(&'static str) -> Result<i64, StoreError>,
    db_bytes: i64,
) -> Result<StoreStats, StoreError> {
    let count = |n: i64| n.max(0) as u64;
    Ok(StoreStats {
        feeds: count(one("SELECT count(*) FROM feeds")?),
        feeds_failing: count(one("SELECT count(*) FROM feeds WHERE error_count > 0")?),
        items: count(one("SELECT count(*) FROM items")?),
        stories: count(one("SELECT count(*) FROM stories")?),
        db_bytes: count(db_bytes),
        last_poll: from_ts(Some(one("SELECT max(last_attempt) FROM feeds")?).filter(|&t| t > 0)),
        ..StoreStats::default()
    })
}
