//! Story bookkeeping in SQLite: each new item is sketched, joined to the
//! story of its most similar recent item or made a story of its own, and
//! the story's lead (the original source) is chosen again.

use rusqlite::{OptionalExtension, Transaction, params};

use super::StoreError;
use crate::cluster::{self, StoryIndex};

/// Assigns item `item_id` (already inserted) to a story. Returns the story
/// id and whether the story is new.
pub fn assign(
    tx: &Transaction,
    index: &mut StoryIndex,
    item_id: i64,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    let (uid, title, summary, content, sort_time, feed): (
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
    ) = tx
        .prepare_cached(
            "SELECT uid, title, summary, content, sort_time, first_feed_id FROM items WHERE id = ?1",
        )?
        .query_row([item_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
    let source = source_of(feed);
    let body = summary.as_deref().or(content.as_deref()).unwrap_or("");
    let sig = cluster::signature(&title, body);
    // The attribution line is often in the full text only.
    let cites = [content.as_deref(), summary.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|h| cluster::cited_agency(&crate::topics::text::html_to_text(h)))
        .or_else(|| cluster::cited_agency(&title));
    let (story, is_new) = match index.find(&sig, sort_time, source) {
        Some((story, _)) => {
            if let Some(why) = index.suspect(story, sort_time) {
                crate::metrics::METRICS.story_suspect();
                tracing::warn!(
                    story,
                    item = item_id,
                    title = %title,
                    "story looks like several events merged ({why}); `feedsift story {story} --why` shows what joined its members"
                );
            }
            tx.prepare_cached(
                "UPDATE stories SET updated = ?2, sort_time = min(sort_time, ?3) WHERE id = ?1",
            )?
            .execute(params![story, now, sort_time])?;
            (story, false)
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO stories (uid, first_seen, updated, sort_time, lead_item_id)
                 VALUES (?1, ?2, ?2, ?3, ?4)",
            )?
            .execute(params![uid, now, sort_time, item_id])?;
            (tx.last_insert_rowid(), true)
        }
    };
    tx.prepare_cached("UPDATE items SET story_id = ?2, sketch = ?3, cites = ?4 WHERE id = ?1")?
        .execute(params![item_id, story, cluster::to_bytes(&sig), cites])?;
    index.insert(item_id, &sig, sort_time, story, source);
    if !is_new && lead_may_change(tx, story, item_id, cites, sort_time)? {
        choose_lead(tx, story)?;
    }
    Ok((story, is_new))
}

/// The index's name for a feed: its row id (feeds are never renumbered;
/// four billion feeds are not a concern).
fn source_of(feed: i64) -> u32 {
    feed as u32
}

/// Whether a new member can change the lead: it cites an agency, comes
/// from one, or is earlier than the lead. Most copies do none of these,
/// and then the members need not be read again.
fn lead_may_change(
    tx: &Transaction,
    story: i64,
    item_id: i64,
    cites: Option<&str>,
    sort_time: i64,
) -> Result<bool, StoreError> {
    if cites.is_some() {
        return Ok(true);
    }
    let (feed_title, lead_time): (String, i64) = tx
        .prepare_cached(
            "SELECT coalesce(f.config_title, f.title, f.url),
                    (SELECT l.sort_time FROM stories s JOIN items l ON l.id = s.lead_item_id WHERE s.id = ?2)
             FROM items i JOIN feeds f ON f.id = i.first_feed_id WHERE i.id = ?1",
        )?
        .query_row(params![item_id, story], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(sort_time < lead_time || cluster::agency_named(&feed_title).is_some())
}

/// The lead is the member from the agency the others cite ("citing TASS"
/// makes the TASS item the lead); without one, the earliest member.
fn choose_lead(tx: &Transaction, story: i64) -> Result<(), StoreError> {
    let members: Vec<(i64, Option<String>, String, i64)> = tx
        .prepare_cached(
            "SELECT i.id, i.cites, coalesce(f.config_title, f.title, f.url), i.sort_time
             FROM items i JOIN feeds f ON f.id = i.first_feed_id
             WHERE i.story_id = ?1 ORDER BY i.sort_time, i.id",
        )?
        .query_map([story], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let cited: Vec<&str> = members.iter().filter_map(|m| m.1.as_deref()).collect();
    let lead = members
        .iter()
        .find(|m| cluster::agency_named(&m.2).is_some_and(|a| cited.contains(&a)))
        .or_else(|| members.first())
        .map(|m| m.0);
    if let Some(lead) = lead {
        tx.prepare_cached("UPDATE stories SET lead_item_id = ?2 WHERE id = ?1")?
            .execute(params![story, lead])?;
    }
    Ok(())
}

/// `feedsift story ID --why`: each member's score against the lead and
/// the others, with the weights the window around the story gives, keyed
/// by item uid.
pub fn explain(
    conn: &rusqlite::Connection,
    story: i64,
    window: i64,
    threshold: f64,
) -> Result<Vec<(String, cluster::MemberWhy)>, StoreError> {
    let lead: i64 = conn
        .prepare_cached("SELECT lead_item_id FROM stories WHERE id = ?1")?
        .query_row([story], |r| r.get(0))?;
    let mut uids = Vec::new();
    let mut members = Vec::new();
    let mut st = conn.prepare_cached(
        "SELECT id, uid, sort_time, title, summary, content FROM items
         WHERE story_id = ?1 ORDER BY sort_time, id",
    )?;
    let mut rows = st.query([story])?;
    while let Some(r) = rows.next()? {
        let (summary, content): (Option<String>, Option<String>) = (r.get(4)?, r.get(5)?);
        uids.push(r.get::<_, String>(1)?);
        members.push(cluster::MemberText {
            item: r.get(0)?,
            time: r.get(2)?,
            title: r.get(3)?,
            body: summary.or(content).unwrap_or_default(),
        });
    }
    let (Some(first), Some(last)) = (
        members.iter().map(|m| m.time).min(),
        members.iter().map(|m| m.time).max(),
    ) else {
        return Ok(Vec::new());
    };
    // The weights: the items stored within reach of the story's members.
    let mut index = StoryIndex::new(window, threshold);
    let from = first.saturating_sub(index.horizon() / 2);
    index_between(conn, &mut index, from, last)?;
    let why = cluster::explain(&index, &members, lead);
    Ok(uids.into_iter().zip(why).collect())
}

/// Rebuilds the in-memory index from the sketches of the items within its
/// horizon before the newest one.
pub fn load_index(conn: &rusqlite::Connection, index: &mut StoryIndex) -> Result<(), StoreError> {
    let newest: Option<i64> = conn
        .query_row(
            "SELECT max(sort_time) FROM items WHERE story_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(newest) = newest else {
        return Ok(());
    };
    index_between(
        conn,
        index,
        newest.saturating_sub(index.horizon()),
        i64::MAX,
    )
}

/// Indexes the stored sketches of the grouped items with a sort time from
/// `from` to `to`, oldest first.
fn index_between(
    conn: &rusqlite::Connection,
    index: &mut StoryIndex,
    from: i64,
    to: i64,
) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, sketch, sort_time, story_id, first_feed_id FROM items
         WHERE story_id IS NOT NULL AND sort_time BETWEEN ?1 AND ?2 ORDER BY sort_time",
    )?;
    let mut rows = st.query([from, to])?;
    while let Some(r) = rows.next()? {
        let blob: Option<Vec<u8>> = r.get(1)?;
        if let Some(sig) = blob.as_deref().and_then(cluster::from_bytes) {
            index.insert(r.get(0)?, &sig, r.get(2)?, r.get(3)?, source_of(r.get(4)?));
        }
    }
    Ok(())
}
