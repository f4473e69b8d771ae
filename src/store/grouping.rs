//! Story grouping over any backend: each item waiting for a story is
//! sketched, given a story by the in-memory `StoryIndex` (or one of its
//! own), and its story's lead (the original source) is chosen again. The
//! index is rebuilt from the stored sketches when first needed, so it
//! survives restarts without a file of its own.

use std::collections::HashMap;

use crate::cluster::{self, StoryIndex};
use crate::config::Stories;
use crate::storage::{Backend, Sketched, StoreError};

/// Items a daemon assigns in one transaction between store jobs.
pub const BATCH: usize = 256;

/// Items read for a batch: a batch smaller than this still reads this
/// many waiting items, to count those within `cluster::LOOK_AHEAD` ahead
/// (see `assign_batch`); the daemon groups 256 at a time between store
/// jobs and would otherwise see a first poll's backlog only a few hours
/// ahead.
const READ_AHEAD: usize = 1000;

/// The story index and what it was built with; one per store thread.
pub struct Grouper {
    cfg: Stories,
    /// Loaded the first time an item is assigned to a story.
    index: Option<StoryIndex>,
    /// Items read ahead by the last batch and not assigned yet, by id, so
    /// that the next batch need not read and sign them again.
    ready: HashMap<i64, Prepared>,
    /// Whether the index has given back its spare memory since it last
    /// grew: once when nothing waits, not on every idle check.
    settled: bool,
}

impl Grouper {
    pub fn new(cfg: Stories) -> Grouper {
        Grouper {
            cfg,
            index: None,
            ready: HashMap::new(),
            settled: true,
        }
    }

    fn window(&self) -> i64 {
        self.cfg.window.as_secs() as i64
    }

    /// Forgets the index (after a prune removed items it may hold); the
    /// next assignment rebuilds it.
    pub fn forget(&mut self) {
        self.index = None;
        self.ready.clear();
    }

    /// Assigns up to `limit` items stored without a story (new items are
    /// stored first and grouped after, off the polling path), in one
    /// transaction. Returns how many were assigned; 0 when none wait.
    pub fn assign(&mut self, db: &mut dyn Backend, limit: usize) -> Result<usize, StoreError> {
        let waiting = db.waiting_for_story(limit.max(READ_AHEAD))?;
        if waiting.is_empty() {
            self.ready.clear();
            // Idle: the index keeps its buffers while items come (they
            // would only grow again), and gives their spare room back now.
            if let Some(index) = self.index.as_mut().filter(|_| !self.settled) {
                index.release_spare();
            }
            self.settled = true;
            return Ok(0);
        }
        self.settled = false;
        let pending = &waiting[..waiting.len().min(limit)];
        if self.index.is_none() {
            let mut index = StoryIndex::new(self.window(), self.cfg.threshold);
            load_index(db, &mut index)?;
            self.index = Some(index);
        }
        let Some(index) = self.index.as_mut() else {
            return Ok(0);
        };
        let now = chrono::Utc::now().timestamp();
        let ready = std::mem::take(&mut self.ready);
        db.begin()?;
        let written = read_batch(db, &waiting, ready).and_then(|batch| {
            assign_batch(db, index, &batch, pending.len(), now)?;
            db.commit()?;
            Ok(batch)
        });
        match written {
            Ok(batch) => {
                self.ready = batch
                    .into_iter()
                    .skip(pending.len())
                    .map(|p| (p.id, p))
                    .collect();
                db.note_grouped(pending)?;
                Ok(pending.len())
            }
            Err(e) => {
                db.rollback();
                // The index may hold what was never committed.
                self.index = None;
                Err(e)
            }
        }
    }

    /// Assigns every waiting item, in the batches a daemon groups between
    /// store jobs, so that `feedsift poll` groups as `feedsift run` does.
    pub fn catch_up(&mut self, db: &mut dyn Backend) -> Result<(), StoreError> {
        while self.assign(db, BATCH)? > 0 {}
        Ok(())
    }

    /// `feedsift story ID --why`: each member's score against the lead and
    /// the others, with the weights the window around the story gives,
    /// keyed by item uid.
    pub fn explain(
        &self,
        db: &mut dyn Backend,
        story: i64,
    ) -> Result<Vec<(String, cluster::MemberWhy)>, StoreError> {
        let Some(texts) = db.story_texts(story)? else {
            return Ok(Vec::new());
        };
        let (uids, members): (Vec<String>, Vec<cluster::MemberText>) =
            texts.members.into_iter().unzip();
        let (Some(first), Some(last)) = (
            members.iter().map(|m| m.time).min(),
            members.iter().map(|m| m.time).max(),
        ) else {
            return Ok(Vec::new());
        };
        // The weights: the items stored within reach of the story's members.
        let mut index = StoryIndex::new(self.window(), self.cfg.threshold);
        let from = first.saturating_sub(index.horizon() / 2);
        index_between(db, &mut index, from, last)?;
        let why = cluster::explain(&index, &members, texts.lead);
        Ok(uids.into_iter().zip(why).collect())
    }
}

/// What assigning an item needs: its bodies are read once, for its
/// signature and the agency it cites, and not kept (a batch of 1,000
/// full-text items would hold tens of megabytes).
struct Prepared {
    id: i64,
    uid: String,
    title: String,
    sort_time: i64,
    feed: i64,
    cites: Option<&'static str>,
    sig: cluster::Signature,
}

/// The items of a batch, prepared, in the batch's order (sort time):
/// those the last batch read ahead from `ready`, the others read now.
/// (An item's text is read once, before its turn: one that changes in
/// between, a matter of a store job or two, is grouped by what it said.)
fn read_batch(
    db: &mut dyn Backend,
    waiting: &[i64],
    mut ready: HashMap<i64, Prepared>,
) -> Result<Vec<Prepared>, StoreError> {
    waiting
        .iter()
        .map(|&id| {
            if let Some(p) = ready.remove(&id) {
                return Ok(p);
            }
            let it = db.grouping_input(id)?;
            let body = it
                .summary
                .as_deref()
                .or(it.content.as_deref())
                .unwrap_or("");
            let sig = cluster::signature(&it.title, body);
            // The attribution line is often in the full text only; read
            // its first 64 KiB (a long article's whole text, not a hostile
            // megabyte).
            let cites = [it.content.as_deref(), it.summary.as_deref()]
                .into_iter()
                .flatten()
                .find_map(|h| {
                    let h = crate::text::cut(h, 2 * cluster::MAX_BODY_HTML);
                    cluster::cited_agency(&crate::text::html_to_text(h))
                })
                .or_else(|| cluster::cited_agency(&it.title));
            Ok(Prepared {
                id,
                uid: it.uid,
                title: it.title,
                sort_time: it.sort_time,
                feed: it.feed,
                cites,
                sig,
            })
        })
        .collect()
}

/// Assigns the first `assign` items of a batch, in order. The items of
/// the batch up to `cluster::LOOK_AHEAD` after the one being assigned are
/// counted in the window's frequencies before their turn
/// (`StoryIndex::expect`): a first poll's backlog is all stored before it
/// is grouped, and its first items would otherwise be judged by a window
/// too empty to show which words and headline templates are common.
fn assign_batch(
    db: &mut dyn Backend,
    index: &mut StoryIndex,
    batch: &[Prepared],
    assign: usize,
    now: i64,
) -> Result<(), StoreError> {
    let mut expected = 0;
    for (n, it) in batch.iter().enumerate().take(assign) {
        let until = it.sort_time.saturating_add(cluster::LOOK_AHEAD);
        while let Some(next) = batch.get(expected)
            && next.sort_time <= until
        {
            index.expect(&next.sig);
            expected += 1;
        }
        if n < expected {
            index.unexpect(&it.sig);
        }
        assign_one(db, index, it, now)?;
    }
    // Those counted but left for the next batch leave the counts.
    for it in batch.iter().take(expected).skip(assign) {
        index.unexpect(&it.sig);
    }
    Ok(())
}

/// Assigns an item (already stored) to a story. Returns the story and
/// whether it is new.
fn assign_one(
    db: &mut dyn Backend,
    index: &mut StoryIndex,
    it: &Prepared,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    let (item_id, sig, cites) = (it.id, &it.sig, it.cites);
    let source = source_of(it.feed);
    let (story, is_new) = match index.find(sig, it.sort_time, source) {
        Some((story, _)) => {
            if let Some(why) = index.suspect(story, it.sort_time) {
                crate::metrics::METRICS.story_suspect();
                tracing::warn!(
                    story,
                    item = item_id,
                    title = %it.title,
                    "story looks like several events merged ({why}); `feedsift story {story} --why` shows what joined its members"
                );
            }
            db.story_grew(story, now, it.sort_time)?;
            (story, false)
        }
        None => (db.new_story(&it.uid, now, it.sort_time, item_id)?, true),
    };
    db.file_in_story(item_id, story, &cluster::to_bytes(sig), cites)?;
    index.insert(item_id, sig, it.sort_time, story, source);
    if !is_new && lead_may_change(db, story, item_id, cites, it.sort_time)? {
        choose_lead(db, story)?;
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
    db: &mut dyn Backend,
    story: i64,
    item_id: i64,
    cites: Option<&str>,
    sort_time: i64,
) -> Result<bool, StoreError> {
    if cites.is_some() {
        return Ok(true);
    }
    let (feed_title, lead_time) = db.lead_facts(item_id, story)?;
    Ok(sort_time < lead_time || cluster::agency_named(&feed_title).is_some())
}

/// The lead is the member from the agency the others cite ("citing TASS"
/// makes the TASS item the lead); without one, the earliest member.
fn choose_lead(db: &mut dyn Backend, story: i64) -> Result<(), StoreError> {
    let members = db.lead_candidates(story)?;
    let cited: Vec<&str> = members.iter().filter_map(|m| m.cites.as_deref()).collect();
    let lead = members
        .iter()
        .find(|m| cluster::agency_named(&m.feed_title).is_some_and(|a| cited.contains(&a)))
        .or_else(|| members.first())
        .map(|m| m.item);
    if let Some(lead) = lead {
        db.set_lead(story, lead)?;
    }
    Ok(())
}

/// Rebuilds the in-memory index from the sketches of the items within its
/// horizon before the newest one.
fn load_index(db: &mut dyn Backend, index: &mut StoryIndex) -> Result<(), StoreError> {
    let Some(newest) = db.newest_grouped()? else {
        return Ok(());
    };
    let from = newest.saturating_sub(index.horizon());
    index_between(db, index, from, i64::MAX)
}

/// Indexes the stored sketches of the grouped items with a sort time from
/// `from` to `to`, oldest first.
fn index_between(
    db: &mut dyn Backend,
    index: &mut StoryIndex,
    from: i64,
    to: i64,
) -> Result<(), StoreError> {
    db.sketches_between(from, to, &mut |s: Sketched| {
        if let Some(sig) = cluster::from_bytes(&s.sketch) {
            index.insert(s.item, &sig, s.sort_time, s.story, source_of(s.feed));
        }
    })
}
