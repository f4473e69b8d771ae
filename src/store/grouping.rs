//! Story grouping over any backend: each item waiting for a story is
//! sketched, given a story by the in-memory `StoryIndex` (or one of its
//! own), and its story's lead (the original source) is chosen again. The
//! index is rebuilt from the stored sketches when first needed, so it
//! survives restarts without a file of its own.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, mpsc};

use crate::cluster::{self, StoryIndex};
use crate::config::Stories;
use crate::storage::{Backend, GroupingInput, Sketched, StoreError};

/// Items a daemon assigns in one transaction between store jobs: a store
/// job waits at most a batch's time (some 0.15 s on a 2-core machine).
/// Four times 256, which grouped a first poll's backlog 7% slower, each
/// batch's commit writing much the same pages for fewer items.
pub const BATCH: usize = 1024;

/// Waiting items read past those a batch assigns, to count those within
/// `cluster::LOOK_AHEAD` ahead (see `Placer`): a first poll's backlog is
/// otherwise seen only a batch ahead.
const READ_PAST: usize = 768;

/// Items past those a batch reads that are handed to the signer thread
/// with each batch (see `Ahead`): a batch's worth, so that the next batch
/// finds them signed.
const SIGN_AHEAD: usize = BATCH;

/// Placements the index's thread hands the store thread at a time.
const PLACED_CHUNK: usize = 16;

/// Story windows of at least this many items are loaded and unloaded with
/// a line at info (smaller ones at debug: a quiet daemon does both every
/// few polls).
const LOGGED_WINDOW: usize = 10_000;

/// A `tracing` event about a window of `$items` items, at the level
/// `LOGGED_WINDOW` gives it.
macro_rules! window_event {
    ($items:expr, $($event:tt)+) => {
        if $items >= LOGGED_WINDOW {
            tracing::info!($($event)+)
        } else {
            tracing::debug!($($event)+)
        }
    };
}

/// The story index and what it was built with; one per store thread.
pub struct Grouper {
    cfg: Stories,
    /// Loaded the first time an item is assigned to a story.
    index: Option<StoryIndex>,
    /// Items read and signed ahead of their batch.
    ahead: Ahead,
    /// Whether the index has given back its spare memory since it last
    /// grew: once when nothing waits, not on every idle check.
    settled: bool,
    /// Since when nothing has waited for a story while the index was
    /// loaded (see `unload_due`).
    idle_since: Option<std::time::Instant>,
    /// Whether items are placed in the index on a thread of their own
    /// (see `Run::on_placer_thread`); the tests place them in turn too.
    placer_thread: bool,
}

impl Grouper {
    pub fn new(cfg: Stories) -> Grouper {
        Grouper {
            cfg,
            index: None,
            ahead: Ahead::default(),
            settled: true,
            idle_since: None,
            placer_thread: true,
        }
    }

    /// How long until the idle index is to be unloaded (`[stories]
    /// unload_after`); `None` while items wait or when none is loaded.
    pub fn unload_due(&self) -> Option<std::time::Duration> {
        let since = self.idle_since.filter(|_| self.index.is_some())?;
        Some(self.cfg.unload_after.saturating_sub(since.elapsed()))
    }

    /// Frees the index (the next item to group reads it back from the
    /// stored sketches), saying so in the log.
    pub fn unload(&mut self) {
        if let Some(index) = &self.index {
            let (items, bytes) = (index.len(), index.heap_bytes());
            let idle_s = self.idle_since.map_or(0, |t| t.elapsed().as_secs());
            let mib = format_args!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
            window_event!(
                items,
                items,
                mib,
                idle_s,
                "unloaded the idle story window; the next new item reads it back from the database"
            );
        }
        self.forget();
        self.idle_since = None;
    }

    fn window(&self) -> i64 {
        self.cfg.window.as_secs() as i64
    }

    /// Forgets the index (after a prune removed items it may hold); the
    /// next assignment rebuilds it.
    pub fn forget(&mut self) {
        self.index = None;
        self.ahead.clear();
    }

    /// Assigns up to `limit` items stored without a story (new items are
    /// stored first and grouped after, off the polling path), in one
    /// transaction. Returns how many were assigned; 0 when none wait.
    pub fn assign(&mut self, db: &mut dyn Backend, limit: usize) -> Result<usize, StoreError> {
        self.assign_while(db, limit, &mut || false, &mut |_| {})
    }

    /// Assigns batches of up to `limit` waiting items, each in a
    /// transaction of its own, for as long as `more` says so when a batch
    /// is placed (a store job waits at most one batch) and items wait.
    /// `committed` runs after each commit. Returns how many were assigned.
    ///
    /// While one batch commits, the index already places the next: a
    /// first poll's backlog left the index's thread idle for a tenth of
    /// the time when each batch waited for the one before to commit.
    pub fn assign_while(
        &mut self,
        db: &mut dyn Backend,
        limit: usize,
        more: &mut dyn FnMut() -> bool,
        committed: &mut dyn FnMut(&mut dyn Backend),
    ) -> Result<usize, StoreError> {
        let Some(first) = self.next_batch(db, limit)? else {
            self.ahead.clear();
            // Idle: the index keeps its buffers while items come (they
            // would only grow again), and gives their spare room back now.
            if let Some(index) = self.index.as_mut().filter(|_| !self.settled) {
                index.release_spare();
            }
            self.settled = true;
            if self.index.is_some() {
                self.idle_since.get_or_insert_with(std::time::Instant::now);
            }
            return Ok(0);
        };
        self.settled = false;
        self.idle_since = None;
        let mut index = match self.index.take() {
            Some(index) => index,
            None => {
                let started = std::time::Instant::now();
                let mut index = StoryIndex::new(self.window(), self.cfg.threshold);
                load_index(db, &mut index)?;
                let (items, ms) = (index.len(), started.elapsed().as_millis() as u64);
                if items > 0 {
                    window_event!(
                        items,
                        items,
                        ms,
                        "loaded the story window from the database"
                    );
                }
                index
            }
        };
        let mut run = Run {
            grouper: &mut *self,
            db: &mut *db,
            limit,
            more,
            committed,
        };
        let done = if run.grouper.placer_thread {
            run.on_placer_thread(&mut index, first)
        } else {
            run.in_turn(&mut index, first)
        };
        match done {
            Ok(n) => {
                self.index = Some(index);
                Ok(n)
            }
            Err(e) => {
                db.rollback();
                // The index may hold what was never committed (it is
                // left unloaded).
                Err(e)
            }
        }
    }

    /// The next batch's items, read and signed; `None` when none wait.
    fn next_batch(
        &mut self,
        db: &mut dyn Backend,
        limit: usize,
    ) -> Result<Option<Batch>, StoreError> {
        let read = limit + READ_PAST;
        let waiting = db.waiting_for_story(read + SIGN_AHEAD)?;
        if waiting.is_empty() {
            return Ok(None);
        }
        let read = waiting.len().min(read);
        let items = self.ahead.batch(db, &waiting[..read])?;
        Ok(Some(Batch {
            items: Arc::new(items),
            assign: read.min(limit),
            waiting,
            read,
        }))
    }

    /// Assigns every waiting item, in the batches a daemon groups between
    /// store jobs, so that `feedsift poll` groups as `feedsift run` does.
    pub fn catch_up(&mut self, db: &mut dyn Backend) -> Result<(), StoreError> {
        while self.assign_while(db, BATCH, &mut || true, &mut |_| {})? > 0 {}
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

/// Items prepared ahead of their batch, and a thread that prepares them.
///
/// Signing an item (its tokens, sketch and slots, and the agency it
/// cites) is a tenth of grouping's time and needs nothing from the index,
/// so the items a later batch will need are read here and signed on a
/// thread of their own while this one assigns the current batch: when a
/// first poll's backlog is grouped, the second core has nothing else to
/// do. Reading stays on the store thread, which owns the database.
#[derive(Default)]
struct Ahead {
    /// Signed, not assigned yet, by id.
    ready: HashMap<i64, Prepared>,
    /// Sent to the signer and not back yet.
    signing: HashSet<i64>,
    /// Started with the first items to sign; `None` before, or when it
    /// could not be started (then this thread signs everything).
    signer: Option<Signer>,
    /// Whether starting the signer was tried.
    started: bool,
    /// Counts `clear`s: what the signer gives back with an older count
    /// was read before the index was forgotten (a prune may have deleted
    /// the item, and SQLite may give its id to a new one) and is dropped.
    epoch: u64,
    /// Items the signer gave back (what the tests check).
    #[cfg(test)]
    from_signer: usize,
}

struct Signer {
    to: mpsc::Sender<(u64, i64, GroupingInput)>,
    from: mpsc::Receiver<(u64, Prepared)>,
}

impl Signer {
    fn start() -> std::io::Result<Signer> {
        let (to, inputs) = mpsc::channel::<(u64, i64, GroupingInput)>();
        let (done, from) = mpsc::channel();
        std::thread::Builder::new()
            .name("feedsift-signer".into())
            .spawn(move || {
                for (epoch, id, it) in inputs {
                    if done.send((epoch, prepare(id, it))).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Signer { to, from })
    }
}

impl Ahead {
    fn clear(&mut self) {
        self.ready.clear();
        self.signing.clear();
        self.epoch += 1;
    }

    /// The `needed` items, prepared, in order: those signed ahead, the
    /// others read and signed now. (An item's text is read once, before
    /// its turn: one that changes in between, a matter of a store job or
    /// two, is grouped by what it said.)
    fn batch(&mut self, db: &mut dyn Backend, needed: &[i64]) -> Result<Vec<Prepared>, StoreError> {
        let mut batch = Vec::with_capacity(needed.len());
        for &id in needed {
            let ahead = match self.ready.remove(&id) {
                None if self.signing.contains(&id) => self.wait_for(id),
                p => p,
            };
            batch.push(match ahead {
                Some(p) => p,
                None => prepare(id, db.grouping_input(id)?),
            });
        }
        Ok(batch)
    }

    /// Reads the items neither signed nor being signed and hands them to
    /// the signer.
    fn send(&mut self, db: &mut dyn Backend, ids: &[i64]) -> Result<(), StoreError> {
        let epoch = self.epoch;
        for &id in ids {
            if self.ready.contains_key(&id) || self.signing.contains(&id) {
                continue;
            }
            let Some(signer) = self.signer() else {
                return Ok(());
            };
            let it = db.grouping_input(id)?;
            if signer.to.send((epoch, id, it)).is_err() {
                self.stopped();
                return Ok(());
            }
            self.signing.insert(id);
        }
        Ok(())
    }

    fn signer(&mut self) -> Option<&Signer> {
        if !self.started {
            self.started = true;
            match Signer::start() {
                Ok(s) => self.signer = Some(s),
                Err(e) => tracing::warn!(
                    error = %e,
                    "cannot start a thread to sign items for stories; signing them on the store thread"
                ),
            }
        }
        self.signer.as_ref()
    }

    /// Waits for the signer to give back `id`, keeping what comes before
    /// it; `None` if the signer is gone.
    fn wait_for(&mut self, id: i64) -> Option<Prepared> {
        let signer = self.signer.as_ref()?;
        loop {
            let Ok((epoch, p)) = signer.from.recv() else {
                self.stopped();
                return None;
            };
            if epoch != self.epoch {
                continue;
            }
            self.signing.remove(&p.id);
            #[cfg(test)]
            {
                self.from_signer += 1;
            }
            if p.id == id {
                return Some(p);
            }
            self.ready.insert(p.id, p);
        }
    }

    /// The signer died (a bug): what it held is signed here instead.
    fn stopped(&mut self) {
        tracing::error!(
            "the thread signing items for stories stopped; signing them on the store thread"
        );
        self.signer = None;
        self.signing.clear();
    }

    /// Keeps the prepared items still waiting (those read for the last
    /// batch and not assigned); others, pruned or assigned elsewhere,
    /// are dropped.
    fn keep(&mut self, read: impl Iterator<Item = Prepared>, waiting: &[i64]) {
        self.ready.extend(read.map(|p| (p.id, p)));
        let waiting: HashSet<i64> = waiting.iter().copied().collect();
        self.ready.retain(|id, _| waiting.contains(id));
    }
}

/// Reads what grouping needs from an item's text: its signature and the
/// agency it cites. The bodies are not kept.
fn prepare(id: i64, it: GroupingInput) -> Prepared {
    let body = it
        .summary
        .as_deref()
        .or(it.content.as_deref())
        .unwrap_or("");
    let sig = cluster::signature(&it.title, body);
    // The attribution line is often in the full text only; read its
    // first 64 KiB (a long article's whole text, not a hostile megabyte).
    let cites = [it.content.as_deref(), it.summary.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|h| {
            let h = crate::text::cut(h, 2 * cluster::MAX_BODY_HTML);
            cluster::cited_agency(&crate::text::html_to_text(h))
        })
        .or_else(|| cluster::cited_agency(&it.title));
    Prepared {
        id,
        uid: it.uid,
        title: it.title,
        sort_time: it.sort_time,
        feed: it.feed,
        cites,
        sig,
    }
}

/// A batch's items, read and signed, shared with the index's thread.
struct Batch {
    items: Arc<Vec<Prepared>>,
    /// How many of them are assigned (those after are counted ahead).
    assign: usize,
    /// The waiting items as read for this batch, oldest first: the batch's
    /// items, then those handed to the signer for the batches after.
    waiting: Vec<i64>,
    /// How many of `waiting` are in `items`.
    read: usize,
}

/// Writes a batch's placements (at the time given) and returns the number
/// the next new story takes.
type WriteBatch<'w> = dyn FnMut(&mut dyn Backend, &Batch, i64) -> Result<i64, StoreError> + 'w;

/// What the index's thread hands the store thread.
enum FromPlacer {
    Placed(Vec<Placed>),
    /// The batch is placed; the next new story takes this number.
    Done(i64),
}

/// One `Grouper::assign_while`: batches placed and written in turn, each
/// committed in a transaction of its own.
struct Run<'a> {
    grouper: &'a mut Grouper,
    db: &'a mut dyn Backend,
    limit: usize,
    more: &'a mut dyn FnMut() -> bool,
    committed: &'a mut dyn FnMut(&mut dyn Backend),
}

impl Run<'_> {
    /// The index places the items on a thread of its own while this one
    /// writes each placement as it comes, and commits each batch while
    /// the next is placed: placing an item needs nothing from the database
    /// (new stories take numbers given out ahead, see
    /// `Backend::next_story_id`), and a first poll's backlog is otherwise
    /// grouped on one core while the other waits. If the thread cannot be
    /// started, the items are placed here in turn.
    fn on_placer_thread(
        &mut self,
        index: &mut StoryIndex,
        first: Batch,
    ) -> Result<usize, StoreError> {
        let started = std::thread::scope(|scope| {
            let (to_placer, batches) = mpsc::channel::<(Arc<Vec<Prepared>>, usize, i64)>();
            let (to_store, placed) = mpsc::channel::<FromPlacer>();
            let placer_index = &mut *index;
            let spawned = std::thread::Builder::new()
                .name("feedsift-placer".into())
                .spawn_scoped(scope, move || {
                    for (items, assign, next_story) in batches {
                        let mut placer = Placer::new(&items, assign, next_story);
                        // Sent a few at a time: waking the store thread
                        // for each item cost a twentieth of the grouping
                        // time.
                        let mut chunk = Vec::with_capacity(PLACED_CHUNK);
                        while let Some(p) = placer.next(placer_index) {
                            chunk.push(p);
                            if chunk.len() == PLACED_CHUNK {
                                let full =
                                    std::mem::replace(&mut chunk, Vec::with_capacity(PLACED_CHUNK));
                                // Stops early when the writer has failed
                                // and gone.
                                if to_store.send(FromPlacer::Placed(full)).is_err() {
                                    return;
                                }
                            }
                        }
                        let next_story = placer.next_story;
                        // Given back before `Done`: the store thread then
                        // holds the batch alone and keeps what it read ahead.
                        drop(items);
                        if to_store.send(FromPlacer::Placed(chunk)).is_err()
                            || to_store.send(FromPlacer::Done(next_story)).is_err()
                        {
                            return;
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(
                    error = %e,
                    "cannot start a thread to place items in stories; placing them on the store thread"
                );
                return Ok(Err(first));
            }
            let mut hand_over = |b: &Batch, next_story: i64| {
                to_placer
                    .send((b.items.clone(), b.assign, next_story))
                    .map_err(|_| placer_gone())
            };
            let mut write = |db: &mut dyn Backend, b: &Batch, now: i64| loop {
                match placed.recv() {
                    Ok(FromPlacer::Placed(chunk)) => {
                        for p in chunk {
                            write_placed(db, &b.items[p.n], p, now)?;
                        }
                    }
                    Ok(FromPlacer::Done(next_story)) => return Ok(next_story),
                    Err(_) => return Err(placer_gone()),
                }
            };
            self.batches(first, &mut hand_over, &mut write).map(Ok)
        })?;
        match started {
            Ok(n) => Ok(n),
            Err(first) => self.in_turn(index, first),
        }
    }

    /// Places each batch on this thread, then writes it.
    fn in_turn(&mut self, index: &mut StoryIndex, first: Batch) -> Result<usize, StoreError> {
        let next_story = std::cell::Cell::new(0);
        let mut hand_over = |_: &Batch, n: i64| {
            next_story.set(n);
            Ok(())
        };
        let mut write = |db: &mut dyn Backend, b: &Batch, now: i64| {
            let mut placer = Placer::new(&b.items, b.assign, next_story.get());
            while let Some(p) = placer.next(index) {
                write_placed(db, &b.items[p.n], p, now)?;
            }
            Ok(placer.next_story)
        };
        self.batches(first, &mut hand_over, &mut write)
    }

    /// The batches from `first` on: `hand_over` gives a batch to be placed
    /// with the number its first new story takes, `write` writes its
    /// placements and returns the number after its last new story.
    fn batches(
        &mut self,
        first: Batch,
        hand_over: &mut dyn FnMut(&Batch, i64) -> Result<(), StoreError>,
        write: &mut WriteBatch,
    ) -> Result<usize, StoreError> {
        let mut next_story = self.db.next_story_id()?;
        let mut batch = first;
        hand_over(&batch, next_story)?;
        let mut assigned = 0;
        loop {
            let now = chrono::Utc::now().timestamp();
            self.db.begin()?;
            // The items for a later batch are read while the index places
            // this one.
            self.grouper
                .ahead
                .send(self.db, &batch.waiting[batch.read..])?;
            let after = write(self.db, &batch, now)?;
            assigned += batch.assign;
            let Batch {
                items,
                assign,
                waiting,
                ..
            } = batch;
            // (Shared only if the index's thread broke off: then the items
            // read ahead are read again.)
            if let Ok(items) = Arc::try_unwrap(items) {
                self.grouper
                    .ahead
                    .keep(items.into_iter().skip(assign), &waiting[assign..]);
            }
            // A failure to read the next batch does not undo this one:
            // it is committed first, and the failure returned after.
            let (upcoming, unread) = if (self.more)() {
                match self.grouper.next_batch(self.db, self.limit) {
                    Ok(b) => (b, None),
                    Err(e) => (None, Some(e)),
                }
            } else {
                (None, None)
            };
            if let Some(b) = &upcoming {
                hand_over(b, after)?;
            }
            if after > next_story {
                self.db.stories_numbered_below(after)?;
            }
            self.db.commit()?;
            (self.committed)(self.db);
            if let Some(e) = unread {
                return Err(e);
            }
            next_story = after;
            match upcoming {
                Some(b) => batch = b,
                None => return Ok(assigned),
            }
        }
    }
}

/// The index's thread stopped before it placed a batch (a bug: it
/// panicked, and the panic follows).
fn placer_gone() -> StoreError {
    StoreError::Thread("the thread placing items in stories stopped".into())
}

/// Where the index put an item (the `n`th of its batch).
struct Placed {
    n: usize,
    story: i64,
    is_new: bool,
    suspect: Option<cluster::Suspect>,
}

/// Places a batch's items in the index, one by one. The items of the
/// batch up to `cluster::LOOK_AHEAD` after the one being placed are
/// counted in the window's frequencies before their turn
/// (`StoryIndex::expect`): a first poll's backlog is all stored before it
/// is grouped, and its first items would otherwise be judged by a window
/// too empty to show which words and headline templates are common.
struct Placer<'a> {
    batch: &'a [Prepared],
    assign: usize,
    /// The next item to place, and the first not yet counted ahead.
    n: usize,
    expected: usize,
    /// The number the next new story takes.
    next_story: i64,
}

impl<'a> Placer<'a> {
    fn new(batch: &'a [Prepared], assign: usize, next_story: i64) -> Placer<'a> {
        Placer {
            batch,
            assign: assign.min(batch.len()),
            n: 0,
            expected: 0,
            next_story,
        }
    }

    /// Places the next item; `None` after the last, when those counted
    /// but left for the next batch have left the counts.
    fn next(&mut self, index: &mut StoryIndex) -> Option<Placed> {
        let n = self.n;
        if n == self.assign {
            for it in self.batch.iter().take(self.expected).skip(n) {
                index.unexpect(&it.sig);
            }
            self.expected = self.expected.min(n);
            return None;
        }
        self.n += 1;
        let it = &self.batch[n];
        let until = it.sort_time.saturating_add(cluster::LOOK_AHEAD);
        while let Some(next) = self.batch.get(self.expected)
            && next.sort_time <= until
        {
            index.expect(&next.sig);
            self.expected += 1;
        }
        if n < self.expected {
            index.unexpect(&it.sig);
        }
        let source = source_of(it.feed);
        let (story, is_new, suspect) = match index.find(&it.sig, it.sort_time, source) {
            Some((story, _)) => (story, false, index.suspect(story, it.sort_time)),
            None => {
                self.next_story += 1;
                (self.next_story - 1, true, None)
            }
        };
        index.insert(it.id, &it.sig, it.sort_time, story, source);
        Some(Placed {
            n,
            story,
            is_new,
            suspect,
        })
    }
}

/// Stores where the index put an item (already stored) and chooses its
/// story's lead again if the item may have changed it.
fn write_placed(
    db: &mut dyn Backend,
    it: &Prepared,
    p: Placed,
    now: i64,
) -> Result<(), StoreError> {
    let (item_id, story, cites) = (it.id, p.story, it.cites);
    if let Some(why) = p.suspect {
        crate::metrics::METRICS.story_suspect();
        tracing::warn!(
            story,
            item = item_id,
            title = %it.title,
            "story looks like several events merged ({why}); `feedsift story {story} --why` shows what joined its members"
        );
    }
    if p.is_new {
        db.new_story(story, &it.uid, now, it.sort_time, item_id)?;
    } else {
        db.story_grew(story, now, it.sort_time)?;
    }
    db.file_in_story(item_id, story, &cluster::to_bytes(&it.sig), cites)?;
    if !p.is_new && lead_may_change(db, story, item_id, cites, it.sort_time)? {
        choose_lead(db, story)?;
    }
    // Noted inside the transaction, while the index places the next
    // items; a rollback after it only publishes a topic once more.
    db.note_grouped(item_id)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{PollRecord, PollStatus, Sqlite};
    use crate::store::topics::Evaluator;

    /// A database holding `n` items from three feeds: each event is
    /// reported by two of them in other words, within the hour.
    fn stored(dir: &std::path::Path, n: usize) -> Sqlite {
        let mut db = Sqlite::open(&dir.join("t.db")).unwrap();
        ingest(&mut db, 0..n / 3, chrono::Utc::now());
        db
    }

    /// Polls the three feeds once, each with its items numbered `items`,
    /// published from `now` less 48 hours on.
    fn ingest(db: &mut Sqlite, items: std::ops::Range<usize>, now: chrono::DateTime<chrono::Utc>) {
        let start = now - chrono::Duration::hours(48);
        let count = items.len();
        let work = (0..3)
            .map(|f| {
                let items: String = items
                    .clone()
                    .map(|i| {
                        let event = i * 3 / 2 + f;
                        let at = start + chrono::Duration::minutes((event * 2 + f) as i64);
                        // Made-up names, four to an event, none shared.
                        let name = |k: usize| {
                            let syl = ["ka", "to", "mi", "ra", "no", "shi", "be", "lu", "go", "ve"];
                            let k = event * 4 + k;
                            format!("V{}{}{}", syl[k % 10], syl[k / 10 % 10], syl[k / 100 % 10])
                        };
                        let (a, b, c, d) = (name(0), name(1), name(2), name(3));
                        let (title, body) = if f % 2 == 0 {
                            (
                                format!("{a} and {b} sign {c} accord in {d}"),
                                format!("Leaders of {a} and {b} signed the {c} accord in {d} on Monday."),
                            )
                        } else {
                            (
                                format!("{d}: {a}, {b} agree on {c}"),
                                format!("{a} and {b} agreed in {d} on the {c} accord, officials said."),
                            )
                        };
                        format!(
                            "<item><title>{title}</title><description>{body}</description>
                             <guid>f{f}-{i}</guid><pubDate>{}</pubDate></item>",
                            at.to_rfc2822()
                        )
                    })
                    .collect();
                let url = format!("https://f{f}.example/rss");
                let rss = format!(
                    r#"<?xml version="1.0"?><rss version="2.0"><channel><title>F{f}</title><link>https://f{f}.example/</link>{items}</channel></rss>"#
                );
                let feed = crate::parse::parse_feed(&url, rss.as_bytes(), None).unwrap();
                let rec = PollRecord::new(PollStatus::Ok, chrono::Utc::now());
                (url, feed, rec)
            })
            .collect();
        let eval = Evaluator {
            topics: std::sync::Arc::default(),
        };
        for r in db.ingest_batch(work, &eval) {
            assert_eq!(r.unwrap().new_items, count);
        }
    }

    fn stories_of(db: &mut dyn Backend) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        db.sketches_between(i64::MIN, i64::MAX, &mut |s: Sketched| {
            out.push((s.item, s.story))
        })
        .unwrap();
        out.sort_unstable();
        out
    }

    #[test]
    fn what_the_signer_read_before_the_index_was_forgotten_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = stored(dir.path(), 30);
        let ids = db.waiting_for_story(100).unwrap();
        assert_eq!(ids.len(), 30);
        let mut ahead = Ahead::default();
        ahead.send(&mut db, &ids).unwrap();
        // A prune forgets the index; SQLite may then give a deleted item's
        // id to a new item, with other text.
        ahead.clear();
        rusqlite::Connection::open(dir.path().join("t.db"))
            .unwrap()
            .execute("UPDATE items SET title = 'renumbered ' || id", [])
            .unwrap();
        ahead.send(&mut db, &ids).unwrap();
        let batch = ahead.batch(&mut db, &ids).unwrap();
        let titles: Vec<String> = batch.iter().map(|p| p.title.clone()).collect();
        let expected: Vec<String> = ids.iter().map(|id| format!("renumbered {id}")).collect();
        assert_eq!(titles, expected);
        assert_eq!(
            ahead.from_signer, 30,
            "the second reading came from the signer"
        );
        assert!(ahead.ready.is_empty() && ahead.signing.is_empty());
    }

    #[test]
    fn items_signed_and_placed_on_threads_of_their_own_are_grouped_as_in_turn() {
        let n = 3 * 700;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut threaded, mut inline) = (stored(a.path(), n), stored(b.path(), n));
        let mut with_signer = Grouper::new(Stories::default());
        with_signer.catch_up(&mut threaded).unwrap();
        let mut alone = Grouper::new(Stories::default());
        // Tried and not started: everything is signed on this thread, and
        // placed on it.
        alone.ahead.started = true;
        alone.placer_thread = false;
        alone.catch_up(&mut inline).unwrap();

        let grouped = stories_of(&mut threaded);
        assert_eq!(grouped.len(), n, "every item is in a story");
        assert_eq!(grouped, stories_of(&mut inline));
        let stories: HashSet<i64> = grouped.iter().map(|g| g.1).collect();
        // Numbered from 1 in turn, by numbers given out ahead of the rows.
        assert_eq!(stories.iter().max(), Some(&(stories.len() as i64)));
        assert!(
            stories.len() < n * 3 / 4,
            "copies of one event joined: {} stories for {n} items",
            stories.len()
        );
        // Each batch after the first found the next batch's items signed
        // by the other thread.
        assert!(
            with_signer.ahead.from_signer >= n - BATCH - READ_PAST,
            "{} items came from the signer",
            with_signer.ahead.from_signer
        );
        assert_eq!(alone.ahead.from_signer, 0);
    }

    #[test]
    fn a_run_of_batches_stops_when_asked_and_commits_each_batch_on_its_own() {
        let n = 3 * 1100;
        let dir = tempfile::tempdir().unwrap();
        let mut db = stored(dir.path(), n);
        let mut grouper = Grouper::new(Stories::default());
        let (mut asked, mut waiting_after) = (0, Vec::new());
        // Asked after each batch is placed: one more, then no more.
        let mut more = || {
            asked += 1;
            asked == 1
        };
        let mut committed = |db: &mut dyn Backend| {
            // Each commit is seen from another connection.
            let other = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
            let waiting: i64 = other
                .query_row(
                    "SELECT count(*) FROM items WHERE story_id IS NULL",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            waiting_after.push((waiting, db.waiting_for_story(n).unwrap().len()));
        };
        let assigned = grouper
            .assign_while(&mut db, BATCH, &mut more, &mut committed)
            .unwrap();
        assert_eq!(assigned, 2 * BATCH);
        assert_eq!(asked, 2);
        let left = |k: usize| (n - k * BATCH) as i64;
        assert_eq!(
            waiting_after,
            [(left(1), left(1) as usize), (left(2), left(2) as usize)]
        );
        // The rest in one more call; then nothing waits.
        grouper.catch_up(&mut db).unwrap();
        assert_eq!(stories_of(&mut db).len(), n);
        assert_eq!(grouper.assign(&mut db, BATCH).unwrap(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_stopping_mid_backlog_stops_grouping_after_the_batch_at_hand() {
        let n = 3 * 6000;
        let dir = tempfile::tempdir().unwrap();
        drop(stored(dir.path(), n));
        let path = dir.path().join("t.db");
        let waiting = || -> i64 {
            rusqlite::Connection::open(&path)
                .unwrap()
                .query_row(
                    "SELECT count(*) FROM items WHERE story_id IS NULL",
                    [],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let store = crate::store::Store::open_for_daemon(
            &crate::config::Storage::file(&path),
            Stories::default(),
        )
        .unwrap();
        // Grouping has begun when the first batch is committed.
        let started = std::time::Instant::now();
        while waiting() == n as i64 {
            assert!(started.elapsed().as_secs() < 60, "grouping never began");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        store.close().await;
        // The run ends with the batch being placed when the store closed
        // (one more may be placed already), not with the whole backlog.
        let left = waiting();
        assert!(
            left >= (n - 4 * BATCH) as i64,
            "{left} items still wait for a story after closing: the backlog was grouped first"
        );
    }

    #[test]
    fn an_unloaded_window_is_read_back_and_groups_as_if_kept() {
        let per_feed = 300;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut unloaded, mut kept) = (
            Sqlite::open(&a.path().join("t.db")).unwrap(),
            Sqlite::open(&b.path().join("t.db")).unwrap(),
        );
        let now = chrono::Utc::now();
        let cfg = Stories {
            unload_after: std::time::Duration::ZERO,
            ..Stories::default()
        };
        let (mut g_unloaded, mut g_kept) = (Grouper::new(cfg), Grouper::new(Stories::default()));
        for (db, g) in [(&mut unloaded, &mut g_unloaded), (&mut kept, &mut g_kept)] {
            ingest(db, 0..per_feed / 2, now);
            g.catch_up(db).unwrap();
            assert_eq!(g.assign(db, BATCH).unwrap(), 0, "nothing waits");
            assert!(g.unload_due().is_some(), "idle with a window loaded");
        }
        assert_eq!(g_unloaded.unload_due(), Some(std::time::Duration::ZERO));
        g_unloaded.unload();
        assert!(g_unloaded.index.is_none() && g_unloaded.unload_due().is_none());
        let first_half = stories_of(&mut unloaded);

        for (db, g) in [(&mut unloaded, &mut g_unloaded), (&mut kept, &mut g_kept)] {
            ingest(db, per_feed / 2..per_feed, now);
            g.catch_up(db).unwrap();
        }
        assert_eq!(
            g_unloaded.index.as_ref().map(StoryIndex::len),
            Some(3 * per_feed),
            "read back, then grown by the second half"
        );
        let grouped = stories_of(&mut unloaded);
        assert_eq!(
            grouped,
            stories_of(&mut kept),
            "the same stories either way"
        );
        // Copies of events on both sides of the unload joined.
        let before: HashSet<i64> = first_half.iter().map(|g| g.1).collect();
        let last_old = first_half.iter().map(|g| g.0).max().unwrap();
        let joined = grouped
            .iter()
            .filter(|g| g.0 > last_old && before.contains(&g.1))
            .count();
        assert!(joined > 0, "no later copy joined an earlier story");
    }
}
