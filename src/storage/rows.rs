//! What both backends share in reading rows into the stored types:
//! timestamps as stored, and the reasons a story's members are in a topic.

use chrono::{DateTime, TimeZone, Utc};

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
