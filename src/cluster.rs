//! Story detection: items from different feeds about the same event (wire
//! copies, rewrites, "X reports citing TASS") are grouped into one story.
//!
//! Each item gets a signature (see `signature`): the distinctive tokens of
//! its headline and lead, and a one-permutation MinHash sketch of them.
//! Locality-sensitive hashing over bands of the sketch finds the few
//! earlier items worth comparing, among those within the time window, so
//! the cost per item stays flat as the database grows; a second stage, the
//! verifier, decides on those candidates by newsroom rules (shared content
//! words, names, figures and days, time apart). Only the window's tokens
//! and band keys are kept in memory, the signatures live in the database.
//!
//! Three things keep a story one event however busy the day (see README,
//! "Stories"): tokens weigh by how rare they are in the window (IDF), so
//! background paragraphs and a topic's everyday names are weak evidence;
//! an item joins a story only when it agrees with the story as a whole,
//! its lead and most of its recent members, never through one member
//! alone (which chained A~B~C into bags of events); and where the window
//! is crowded with look-alikes (one headline template filled with other
//! actors, figures and places) a verifier fitted on such days weighs all
//! of the rules' measures at once instead of any one rule deciding.

mod signature;
mod verifier_trees;

use std::collections::VecDeque;
use std::sync::LazyLock;

use regex::Regex;
use rustc_hash::FxHashMap;

use signature::{K, Side, max_hours, mix, score};
pub use signature::{
    MAX_BODY_HTML, Signature, from_bytes, same_event, signature, signature_explained, to_bytes,
};

use crate::text::{fold, words};

/// LSH bands and rows per band (BANDS * ROWS = K). Two rows per band make
/// pairs sharing a fifth of their tokens candidates 73% of the time and a
/// third of them 97%; the verifier, not the sketch, decides.
const BANDS: usize = 32;
const ROWS: usize = K / BANDS;

/// Bands an indexed item must share with a new one to be compared: one
/// shared band is common between unrelated items that share a few
/// everyday names, two are rare unless they share a good part of their
/// sketched tokens.
const MIN_BAND_HITS: usize = 2;

/// Candidates compared per LSH bucket, newest first.
const MAX_PER_BUCKET: usize = 64;

/// The second lookup: items are also filed under each of their names and
/// figures (`Signature::anchors`), and an earlier item sharing two of them
/// with a new one is compared too. A rewrite with a new headline and lead
/// ("Abe resigns, ending Japan's longest-serving premiership") or a
/// translation shares few words, hence few sketch bands, with its original,
/// but keeps its people, places and figures. Only distinctive anchors
/// count: a name filed under by more than `MAX_PER_ANCHOR` items in the
/// window ("Russia" in a feed about Russia) says nothing, and skipping it
/// keeps the lookup cheap.
const MAX_PER_ANCHOR: usize = 24;
// An anchor's bucket is read whole while it may be read at all.
const _: () = assert!(MAX_PER_BUCKET > MAX_PER_ANCHOR);
/// Candidates scored per item at most, those with the most hits first.
const MAX_SCORED: usize = 48;
const MIN_ANCHOR_HITS: usize = 2;

/// Members from which a story is suspect: no event gets this many copies
/// in a few days from the feeds one operator follows (the busy-day set's
/// largest has 15), while a bag of merged events grows past it.
pub const SUSPECT_MEMBERS: u32 = 25;
/// Hours between a story's first and newest member from which it is
/// suspect, when it has at least `SUSPECT_SPAN_MEMBERS` members: copies
/// follow their original within hours, not days.
pub const SUSPECT_HOURS: i64 = 48;
const SUSPECT_SPAN_MEMBERS: u32 = 5;

/// Why a story looks like several events merged (see
/// [`StoryIndex::suspect`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Suspect {
    Members(u32),
    Hours(i64),
}

impl std::fmt::Display for Suspect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Suspect::Members(n) => write!(f, "{n} members in the story window"),
            Suspect::Hours(h) => write!(f, "members {h} hours apart"),
        }
    }
}

/// What [`StoryIndex::decide`] found for a new item.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub story: i64,
    /// The mean of its scores against the members compared.
    pub score: f64,
    /// Members it reached the threshold with, of those compared.
    pub agreed: usize,
    pub scored: usize,
}

/// Where `StoryIndex::read_buckets` tags a slot with the bucket it read:
/// the bands' first, then the anchors'.
const WALK_TAG: u32 = 48;

/// Anchor keys are odd and band keys even, so that the index can tell
/// an anchor's bucket from a band's (see `bucket_cap`).
fn anchor_key(a: u32) -> u32 {
    (mix(u64::from(a) | (1 << 32)) >> 32) as u32 | 1
}

/// The entries of a bucket that lookups can read: a band's newest
/// MAX_PER_BUCKET; an anchor's all, up to MAX_PER_ANCHOR, and beyond that
/// none (one more entry says the anchor is too common to look up).
fn bucket_cap(key: u32) -> usize {
    if key & 1 == 1 {
        MAX_PER_ANCHOR + 1
    } else {
        MAX_PER_BUCKET
    }
}
/// A story stops taking members here: no event has hundreds of copies in a
/// few days, but a feed of near-identical boilerplate items would otherwise
/// grow one story without end (and its bookkeeping with it).
pub const MAX_STORY_SIZE: u32 = 200;

fn band_keys(s: &Signature) -> Option<[u32; BANDS]> {
    if s.tokens.is_empty() {
        // Nothing to compare: such an item never joins a story.
        return None;
    }
    let mut keys = [0u32; BANDS];
    for (band, key) in keys.iter_mut().enumerate() {
        let mut h = band as u64;
        for v in &s.sketch[band * ROWS..(band + 1) * ROWS] {
            h = (h << 16) | u64::from(*v);
        }
        *key = (mix(h) >> 32) as u32 & !1;
    }
    Some(keys)
}

/// An indexed item; its tokens are `tokens[start - token_base..][..len]`.
struct Indexed {
    id: i64,
    time: i64,
    story: i64,
    /// The low 32 bits of the position of its tokens in the arena (see
    /// `full_start`): the arena never holds 2^32 tokens.
    start: u32,
    /// The feed it came from (see `decide`).
    source: u32,
    len: u16,
    /// `Signature::flags`.
    flags: u8,
    /// Its slots (`Signature::slots`) follow its tokens in the arena.
    slots: u8,
    /// The slot (low 32 bits) of the story's previous member in the index,
    /// or `NO_SLOT`: the members of a story, newest first, without a list
    /// per story (the field fits in the struct's padding).
    prev: u32,
    /// Its tokens that only background sentences gave when it was indexed
    /// (see `SentenceCounts`), a bit per token.
    background: u64,
}

const NO_SLOT: u32 = u32::MAX;

/// A feed's second item in a story must score this against the first: a
/// feed reports an event once, and a second item from it is an update of
/// its report ("UPDATE 1-..."), not a look-alike from another event.
const UPDATE_BAR: f64 = 0.8;

/// A story with members in the index.
#[derive(Clone, Copy)]
struct StoryEntry {
    size: u32,
    /// Slots (low 32 bits) of its first and newest members.
    first: u32,
    newest: u32,
}

/// A sentence after the lead that this many stories of the window have
/// carried is background: the standard description of a dispute, a
/// newsroom's furniture ("The ambassador rejected the protest, the
/// ministry said.") pasted under other news. Copies of one report repeat
/// its sentences too, but within their one story. A copy the grouping
/// missed makes its sentences look like background to the copies after
/// it; they still share the report's headline and lead, which always
/// weigh in full. (Three stories was measured too: fewer false merges
/// than none, more than two; see BENCHMARKS.md, session 10.)
const BACKGROUND_STORIES: u32 = 2;

/// What a token only background sentences give weighs, as a share of its
/// weight by rarity.
const BACKGROUND_WEIGHT: f32 = 0.1;

/// Sentence counts: sets of this many cells, picked by the key.
const SENTENCE_WAYS: usize = 4;
const SENTENCE_SET_BITS: u32 = 12;

/// Whether each sentence after the lead has been carried by more than one
/// story, by the sentence's key (see `Signature::sentences`): a fixed
/// table of 2^12 sets of 4 cells (192 KiB), each cell the key, the first
/// story that carried it and whether another has. A new sentence takes
/// the cell of its set least worth keeping (an empty one, else one seen
/// in one story only), so background, once seen, stays. Nothing is taken
/// back when items leave the window: a sentence pasted under two events'
/// news is background on the fourth day too.
struct SentenceCounts {
    cells: Vec<[u32; 3]>,
}

impl SentenceCounts {
    fn set(&self, key: u32) -> std::ops::Range<usize> {
        let s = (key.wrapping_mul(0x9E37_79B1) >> (32 - SENTENCE_SET_BITS)) as usize;
        s * SENTENCE_WAYS..(s + 1) * SENTENCE_WAYS
    }

    fn is_background(&self, key: u32) -> bool {
        key != 0
            && self.cells.get(self.set(key)).is_some_and(|set| {
                set.iter()
                    .any(|c| c[0] == key && c[2] >= BACKGROUND_STORIES)
            })
    }

    /// The tokens of `s` that only background sentences give.
    fn background(&self, s: &Signature) -> u64 {
        let (mut bg, mut keep) = (0u64, 0u64);
        for &(key, mask) in &s.sentences {
            if self.is_background(key) {
                bg |= mask;
            } else {
                keep |= mask;
            }
        }
        bg & !keep
    }

    /// Counts the sentences of an item of `story`.
    fn count(&mut self, s: &Signature, story: i64) {
        const _: () = assert!(
            BACKGROUND_STORIES == 2,
            "a cell tells one story from others"
        );
        if self.cells.is_empty() {
            self.cells = vec![[0; 3]; SENTENCE_WAYS << SENTENCE_SET_BITS];
        }
        // Stories by their low 32 bits: two stories alike in them (ids
        // 2^32 apart) count as one.
        let story = story as u32;
        for &(key, _) in s.sentences.iter().filter(|e| e.0 != 0) {
            let range = self.set(key);
            let Some(set) = self.cells.get_mut(range) else {
                continue;
            };
            if let Some(c) = set.iter_mut().find(|c| c[0] == key) {
                if c[1] != story {
                    c[2] = BACKGROUND_STORIES;
                }
            } else if let Some(c) = set.iter_mut().min_by_key(|c| (c[0] != 0, c[2])) {
                *c = [key, story, 1];
            }
        }
    }
}

/// Whether token `i` of an item is in its background `mask`.
fn in_mask(mask: u64, i: usize) -> bool {
    i < 64 && mask >> i & 1 != 0
}

/// A figure in more items of the window than this is too common to be an
/// event's own: a score ("1-0"), a year, a count of one.
const COMMON_FIGURE_DF: u16 = 20;

/// Tokens in at most this many items all weigh the most: an event's own
/// words recur in each of its copies, and a story of eight copies must
/// not make them look common.
const DF_FULL: u16 = 8;

/// A member "agrees" with a new item from this share of the threshold:
/// copies of one report agree with each other less than with their
/// original (rewrites reword different parts).
const AGREE_FACTOR: f64 = 0.6;

/// The verifier's probability that counts as the threshold.
const VERIFIER_BAR: f64 = 0.5;

/// The strict rules apply when the item passes for a copy of two or more
/// stories at this share of the threshold by the plain rules...
const RIVAL_BAR: f64 = 0.7;
/// ...or when at least `COMMON_SHARE` of its headline's words occur in
/// `COMMON_DF` or more items of the window: the headline is one filling of
/// a template the window holds others of.
const COMMON_DF: u16 = 5;
const COMMON_SHARE: f64 = 0.5;
/// `COMMON_DF` where items still waiting their turn count too (see
/// `StoryIndex::expect`): higher, since an event's own coming copies
/// (up to 6 within hours on the hand-labelled set) must not make its
/// headline look like a template.
const COMMON_DF_AHEAD: u16 = 10;

/// How far ahead of the item being grouped the items waiting in its batch
/// count in the window's frequencies (see `StoryIndex::expect`).
pub const LOOK_AHEAD: i64 = 6 * 3600;

/// Members a new item is scored against, at most: the story's first item
/// (usually the original the others copy) and its newest ones.
const MAX_MEMBERS: usize = 8;

/// Document frequencies: one 16-bit counter per cell, the cell picked by a
/// token's hash. A fixed 512 KiB whatever the window holds; two tokens in
/// one cell (a few percent of them at 100,000 distinct tokens) only make
/// the rarer one look a little commoner.
const DF_BITS: u32 = 18;
/// IDF smoothing: the window counts as holding this many more items that
/// share nothing, so that a nearly empty window (a first run, a quiet
/// topic) does not make every token look common.
const DF_PRIOR: f32 = 50.0;

/// ln(1 + df), from a table: a logarithm per token and candidate was a
/// third of assigning's time. The table covers every count (256 KiB):
/// after a first poll of thousands of feeds, the commonest words count in
/// the tens of thousands, and a logarithm each was still 2% of grouping.
fn ln_1p(df: u16) -> f32 {
    static TABLE: LazyLock<Vec<f32>> =
        LazyLock::new(|| (0..=u16::MAX).map(|d| (f32::from(d) + 1.0).ln()).collect());
    TABLE[usize::from(df)]
}

fn df_cell(t: u32) -> usize {
    ((t & !signature::FLAG_BITS).wrapping_mul(0x9E37_79B1) >> (32 - DF_BITS)) as usize
}

/// The items within the time window and their LSH buckets.
///
/// Items live in a queue in insertion order (which is nearly time order),
/// numbered by a running slot number, so evicting is popping the front.
/// The buckets are a sorted array of entries with a directory by the
/// key's top 16 bits, plus a small hash table of chains for the items
/// added since the array was last rebuilt; merging the two is a linear
/// pass, done when the recent part grows to a quarter of the rest. This
/// keeps a bucket entry at 4 bytes and no per-bucket allocation.
pub struct StoryIndex {
    window: i64,
    threshold: f64,
    items: VecDeque<Indexed>,
    /// Slot number of `items[0]`.
    slot_base: u64,
    tokens: Vec<u32>,
    token_base: u64,
    /// The sorted buckets, one `u32` an entry (an item has one per band
    /// and anchor, so this is a third of the index): the entry's key is
    /// its directory cell (the key's top 16 bits, see `dir`) and the
    /// entry's top 8 bits (the key's low 8), its item the low 24 bits of
    /// its slot (see `full_slot24`). Keys are kept to 24 bits here: two
    /// keys that share them share a bucket, which adds a candidate that
    /// must still be seen in a second band or anchor to be scored.
    sorted: Vec<u32>,
    /// `dir[k]..dir[k + 1]`: the entries of `sorted` whose key starts with k.
    dir: Vec<u32>,
    recent_heads: FxHashMap<u32, u32>,
    /// (slot, index of the next older entry with the same key or u32::MAX).
    recent: Vec<(u32, u32)>,
    /// The stories with an item in the index.
    stories: FxHashMap<i64, StoryEntry>,
    /// In how many indexed items each token occurs (see `DF_BITS`);
    /// allocated with the first item. Counts the items from slot `df_from`
    /// on: those within reach of the newest, while eviction, which runs in
    /// batches, may keep older ones a while longer.
    df: Vec<u16>,
    df_from: u64,
    /// Items counted ahead of their turn (see `expect`), and their token
    /// counts, kept apart from `df` for the crowded-window test; allocated
    /// with the first such item.
    ahead: u64,
    df_ahead: Vec<u16>,
    sentences: SentenceCounts,
    newest: i64,
}

const DIR_BITS: u32 = 16;
const SLOT24: u32 = (1 << 24) - 1;
const SLOT40: u64 = (1 << 40) - 1;

/// The index holds at most this many items (2^22, some 2.5 GiB): the
/// oldest go early past it, so that 24 bits tell its slots apart (see
/// `full_slot24`).
const MAX_ITEMS: usize = 1 << 22;

/// A bucket key as the sorted array keeps it: the top 16 bits (the
/// directory cell) and the low 8 (which hold the anchor bit).
fn key24(key: u32) -> u32 {
    ((key >> (32 - DIR_BITS)) << 8) | (key & 0xff)
}

/// The values a digit of `counting_pass` takes: half of a 24-bit key.
const DIGITS: usize = 1 << 12;

/// One stable counting-sort pass of `from` into `to` by `digit` (below
/// `DIGITS`).
fn counting_pass(from: &[u64], to: &mut [u64], digit: impl Fn(u64) -> usize) {
    let mut starts = vec![0usize; DIGITS];
    for &e in from {
        starts[digit(e)] += 1;
    }
    let mut sum = 0;
    for c in &mut starts {
        (*c, sum) = (sum, sum + *c);
    }
    for &e in from {
        let at = &mut starts[digit(e)];
        to[*at] = e;
        *at += 1;
    }
}

impl StoryIndex {
    /// `window` in seconds: items further apart never join; `threshold`:
    /// the verifier's score (see [`same_event`]) from which they do.
    pub fn new(window: i64, threshold: f64) -> StoryIndex {
        StoryIndex {
            window,
            threshold,
            items: VecDeque::new(),
            slot_base: 0,
            tokens: Vec::new(),
            token_base: 0,
            sorted: Vec::new(),
            dir: vec![0; (1 << DIR_BITS) + 1],
            recent_heads: FxHashMap::default(),
            recent: Vec::new(),
            stories: FxHashMap::default(),
            df: Vec::new(),
            df_from: 0,
            ahead: 0,
            df_ahead: Vec::new(),
            sentences: SentenceCounts { cells: Vec::new() },
            newest: i64::MIN,
        }
    }

    fn item(&self, slot: u64) -> Option<&Indexed> {
        self.items
            .get(usize::try_from(slot.checked_sub(self.slot_base)?).ok()?)
    }

    /// An item's tokens start here (see `Indexed::start`).
    fn full_start(&self, low: u32) -> u64 {
        let high = self.token_base & !u64::from(u32::MAX);
        let s = high | u64::from(low);
        if s < self.token_base {
            s + (1 << 32)
        } else {
            s
        }
    }

    fn slots_of(&self, it: &Indexed) -> Option<&[u32]> {
        let start = usize::try_from(self.full_start(it.start).checked_sub(self.token_base)?)
            .ok()?
            + usize::from(it.len);
        self.tokens.get(start..start + usize::from(it.slots))
    }

    fn tokens_of(&self, it: &Indexed) -> Option<&[u32]> {
        let start =
            usize::try_from(self.full_start(it.start).checked_sub(self.token_base)?).ok()?;
        self.tokens.get(start..start + usize::from(it.len))
    }

    /// The number of entries under `key`, counting up to `limit` + 1.
    #[cfg(test)]
    fn bucket_len(&self, key: u32, limit: usize) -> usize {
        let mut out = Vec::new();
        self.read_buckets(&[(key, limit + 1)], &mut out);
        out.len()
    }

    /// Every slot under `key`, newest first.
    #[cfg(test)]
    fn bucket(&self, key: u32) -> Vec<u64> {
        let mut out = Vec::new();
        self.read_buckets(&[(key, usize::MAX)], &mut out);
        out
    }

    /// The sorted part of the bucket of `key`, oldest first, by two
    /// plain binary searches (what `read_buckets` is checked against).
    #[cfg(test)]
    fn sorted_bucket(&self, key: u32) -> &[u32] {
        let (lo, hi) = self.dir_cell(key);
        let low = key as u8;
        let range = &self.sorted[lo..hi];
        let first = range.partition_point(|&e| ((e >> 24) as u8) < low);
        let end = range.partition_point(|&e| ((e >> 24) as u8) <= low);
        &range[first..end]
    }

    /// Reads the buckets of `keys`, each newest first and up to its count
    /// (a bucket only grows huge for boilerplate every item shares; its
    /// newest entries are the ones worth comparing), into `out`: the full
    /// slot of every entry, tagged with its bucket's place in `keys` from
    /// bit `WALK_TAG` on. Returns a bit per bucket read to its count.
    ///
    /// The recent chains are walked one step of each in turn. Each step
    /// reads from anywhere in `recent`, tens of megabytes after a first
    /// poll: walked one chain after the other, every read waited for the
    /// one before, and the walks were a quarter of grouping's time. In
    /// turn, the processor has a read of every chain in flight at once.
    fn read_buckets(&self, keys: &[(u32, usize)], out: &mut Vec<u64>) -> u64 {
        const _: () = assert!(BANDS + signature::MAX_ANCHORS <= 64);
        let mut walks = [(u32::MAX, 0usize); BANDS + signature::MAX_ANCHORS];
        let walks = &mut walks[..keys.len().min(BANDS + signature::MAX_ANCHORS)];
        for (walk, &(key, max)) in walks.iter_mut().zip(keys) {
            *walk = (
                self.recent_heads.get(&key).copied().unwrap_or(u32::MAX),
                max,
            );
        }
        let mut moved = true;
        while moved {
            moved = false;
            for (w, (at, left)) in walks.iter_mut().enumerate() {
                if *left == 0 {
                    continue;
                }
                let Some(&(slot, next)) = self.recent.get(*at as usize) else {
                    continue;
                };
                out.push(self.full_slot(u64::from(slot)) | (w as u64) << WALK_TAG);
                (*at, *left) = (next, *left - 1);
                moved = true;
            }
        }
        // The sorted parts: where each bucket ends in its directory cell,
        // found by binary searches taken a step of each in turn (as the
        // chains are walked, and for the same reason), then read back
        // from its end. Its start is where the entries stop carrying the
        // key, and is never searched for.
        let mut ends = [(0usize, 0usize); BANDS + signature::MAX_ANCHORS];
        let ends = &mut ends[..walks.len()];
        for ((end, &(key, _)), &(_, left)) in ends.iter_mut().zip(keys).zip(walks.iter()) {
            if left > 0 {
                let (lo, hi) = self.dir_cell(key);
                *end = (lo, hi - lo);
            }
        }
        let ends_in = |e: u32, key: u32| (e >> 24) as u8 <= key as u8;
        let mut stepped = true;
        while stepped {
            stepped = false;
            for ((base, size), &(key, _)) in ends.iter_mut().zip(keys) {
                if *size > 1 {
                    let half = *size / 2;
                    if ends_in(self.sorted[*base + half], key) {
                        *base += half;
                    }
                    *size -= half;
                    stepped = true;
                }
            }
        }
        let mut full = 0u64;
        for (w, ((&(key, _), (_, left)), &(base, size))) in keys
            .iter()
            .zip(walks.iter_mut())
            .zip(ends.iter())
            .enumerate()
        {
            if *left > 0 && size == 1 {
                let end = base + usize::from(ends_in(self.sorted[base], key));
                let start = self.dir_cell(key).0;
                for &e in self.sorted[start..end].iter().rev() {
                    if *left == 0 || (e >> 24) as u8 != key as u8 {
                        break;
                    }
                    out.push(self.full_slot24(e) | (w as u64) << WALK_TAG);
                    *left -= 1;
                }
            }
            if *left == 0 {
                full |= 1 << w;
            }
        }
        full
    }

    /// The range of `sorted` holding the keys that share `key`'s
    /// directory cell.
    fn dir_cell(&self, key: u32) -> (usize, usize) {
        let d = (key >> (32 - DIR_BITS)) as usize;
        (self.dir[d] as usize, self.dir[d + 1] as usize)
    }

    /// How much a token says, from how many indexed items carry it: the
    /// square of its IDF, as a shared term counts in the cosine of two
    /// TF-IDF vectors. A name in every other item of a topic ("Japan" in
    /// a Russia–Japan feed), a background sentence pasted under many
    /// events, weigh a fraction of what the event's own words do.
    fn weight(&self, t: u32) -> f32 {
        self.weight_with(self.ln_counted(), t)
    }

    /// ln of the items the document frequencies count, plus the prior.
    fn ln_counted(&self) -> f32 {
        let counted = self.slot_base + self.items.len() as u64 - self.df_from.max(self.slot_base)
            + self.ahead;
        (counted as f32 + DF_PRIOR).ln()
    }

    fn weight_with(&self, ln_counted: f32, t: u32) -> f32 {
        let cell = df_cell(t);
        let df = self.df.get(cell).copied().unwrap_or(0);
        let df = df
            .saturating_add(self.df_ahead.get(cell).copied().unwrap_or(0))
            .max(DF_FULL);
        let idf = ln_counted - ln_1p(df);
        // Never zero: a token every item carries still counts a little.
        idf.max(0.1).powi(2)
    }

    /// [`same_event`] with this index's weights.
    pub fn weighed_score(&self, a: &Signature, b: &Signature, hours: f64) -> f64 {
        let (bg_a, bg_b) = (self.sentences.background(a), self.sentences.background(b));
        self.weighed_score_with((a, bg_a), (b, bg_b), hours)
    }

    /// `weighed_score` with each side's background mask (see
    /// `SentenceCounts::background`) already read.
    fn weighed_score_with(&self, a: (&Signature, u64), b: (&Signature, u64), hours: f64) -> f64 {
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        self.weights_into(&a.0.tokens, a.1, &mut wa);
        self.weights_into(&b.0.tokens, b.1, &mut wb);
        let rare = self.rare_figure();
        score(
            Side::new(&a.0.tokens, &wa, a.0.flags(), &a.0.slots).rare(rare),
            Side::new(&b.0.tokens, &wb, b.0.flags(), &b.0.slots).rare(rare),
            hours,
        )
    }

    /// The weight of a token in `COMMON_FIGURE_DF` items: a figure both
    /// headlines-and-leads give counts as the event's own from it.
    fn rare_figure(&self) -> f32 {
        (self.ln_counted() - ln_1p(COMMON_FIGURE_DF))
            .max(0.1)
            .powi(2)
    }

    /// The threshold it joins items at.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether an item at `time` joining `story` makes it look like
    /// several events merged: said once per story, when it crosses
    /// `SUSPECT_MEMBERS` or `SUSPECT_HOURS`.
    pub fn suspect(&self, story: i64, time: i64) -> Option<Suspect> {
        let e = self.stories.get(&story)?;
        let size = e.size + 1;
        if size == SUSPECT_MEMBERS {
            return Some(Suspect::Members(size));
        }
        let first = self.item(self.full_slot(u64::from(e.first)))?.time;
        let newest = self.item(self.full_slot(u64::from(e.newest)))?.time;
        let before = (newest - first).abs() / 3600;
        let after = (time.max(newest) - time.min(first)) / 3600;
        (size >= SUSPECT_SPAN_MEMBERS
            && after > SUSPECT_HOURS
            && (before <= SUSPECT_HOURS || e.size < SUSPECT_SPAN_MEMBERS))
            .then_some(Suspect::Hours(after))
    }

    /// Members of `story` in the index.
    pub fn story_size(&self, story: i64) -> u32 {
        self.stories.get(&story).map_or(0, |e| e.size)
    }

    /// The weights of `tokens`, those in the `background` mask at
    /// `BACKGROUND_WEIGHT`.
    fn weights_into(&self, tokens: &[u32], background: u64, out: &mut Vec<f32>) {
        let ln_counted = self.ln_counted();
        out.clear();
        out.extend(tokens.iter().enumerate().map(|(i, &t)| {
            let w = self.weight_with(ln_counted, t);
            if in_mask(background, i) {
                w * BACKGROUND_WEIGHT
            } else {
                w
            }
        }));
    }

    /// The story the new item belongs to, if any, with its score: the
    /// mean of its scores against the members it was compared with.
    pub fn find(&self, s: &Signature, time: i64, source: u32) -> Option<(i64, f64)> {
        self.decide(s, time, source).map(|d| (d.story, d.score))
    }

    /// Finds the story for a new item. Candidates come from the LSH
    /// bands and the anchors; they are grouped by story, and a story is
    /// taken only when the item agrees (scores at least the threshold) with
    /// one of its candidates (tried most shared bands first), with the
    /// story's lead (its first item in the window) and with more than half
    /// of the members it is compared with: the lead and the newest ones, up
    /// to `MAX_MEMBERS` (half will do with the lead among them). Of the
    /// stories that pass, the best mean score wins. Pairs are scored by the
    /// rules, or where the window is crowded by the fitted verifier
    /// (`signature::verify`).
    pub fn decide(&self, s: &Signature, time: i64, source: u32) -> Option<Decision> {
        let hits = self.candidates(s, time);
        if hits.is_empty() {
            return None;
        }
        let mut w_new = Vec::with_capacity(s.tokens.len());
        self.weights_into(&s.tokens, self.sentences.background(s), &mut w_new);
        let rare = self.rare_figure();
        let new = Side::new(&s.tokens, &w_new, s.flags(), &s.slots).rare(rare);
        // Scores by slot, plain and strict: the rivals pass and the
        // stories pass ask for the same pairs.
        let mut memo: Vec<(u64, f64, f64)> = Vec::with_capacity(hits.len() + 16);
        let mut w_other = Vec::with_capacity(64);
        // With the score, whether the two headlines are one template
        // filled twice (`signature::template_fillings`), read from the same
        // pass over the pair where the plain rules score it; false when
        // scored strictly or remembered.
        let mut score_in = |slot: u64, strict: bool| -> (f64, bool) {
            if let Some(m) = memo.iter().find(|m| m.0 == slot) {
                let v = if strict { m.2 } else { m.1 };
                if !v.is_nan() {
                    return (v, false);
                }
            }
            let Some(it) = self.item(slot) else {
                return (0.0, false);
            };
            let Some(other) = self.tokens_of(it) else {
                return (0.0, false);
            };
            self.weights_into(other, it.background, &mut w_other);
            let hours = (it.time - time).abs() as f64 / 3600.0;
            let slots = self.slots_of(it).unwrap_or_default();
            let other = Side::new(other, &w_other, it.flags, slots).rare(rare);
            // Where the window is crowded the fitted verifier decides,
            // its probability put on the rules' scale (VERIFIER_BAR at the
            // threshold); elsewhere the rules do. Two items in a script the
            // window holds few of (Russian copies in a mostly English
            // topic) go to the verifier too: the window's counts cannot
            // show that their own neighbourhood is crowded.
            let minority = new.flags & signature::LATIN == 0 && other.flags & signature::LATIN == 0;
            let verified = || signature::verify(new, other, hours) * self.threshold / VERIFIER_BAR;
            let (v, filled) = if strict {
                (verified(), false)
            } else if minority {
                (verified(), signature::template_fillings(new, other))
            } else {
                signature::score_plain(new, other, hours)
            };
            match memo.iter_mut().find(|m| m.0 == slot) {
                Some(m) if strict => m.2 = v,
                Some(m) => m.1 = v,
                None if strict => memo.push((slot, f64::NAN, v)),
                None => memo.push((slot, v, f64::NAN)),
            }
            (v, filled)
        };
        // A crowded neighbourhood, where the strict rules decide: a
        // headline most of whose words many items in the window share (one
        // of a template's fillings), or an item that passes for a copy of
        // more than one story by the plain rules (what a template or a
        // shared background looks like).
        let (mut title_words, mut common) = (0usize, 0usize);
        for &t in s.tokens.iter().filter(|t| signature::is_title_word(**t)) {
            title_words += 1;
            let cell = df_cell(t);
            let behind = self.df.get(cell).copied().unwrap_or(0);
            let ahead = self.df_ahead.get(cell).copied().unwrap_or(0);
            common +=
                usize::from(behind >= COMMON_DF || behind.saturating_add(ahead) >= COMMON_DF_AHEAD);
        }
        // STRICT=1 (for the evaluations) makes every item's neighbourhood
        // crowded; read once, not per item.
        static ALL_STRICT: LazyLock<bool> = LazyLock::new(|| std::env::var_os("STRICT").is_some());
        let mut strict =
            *ALL_STRICT || (title_words > 0 && common as f64 >= COMMON_SHARE * title_words as f64);
        if !strict {
            // Each story by its best-placed candidate, as below.
            let (mut seen, mut rivals) = (Vec::new(), 0);
            for &(_, slot, it) in &hits {
                if seen.contains(&it.story) {
                    continue;
                }
                seen.push(it.story);
                // A template filled twice (another company, another
                // figure in the same headline) makes the neighbourhood
                // crowded however new the window: at a first run's start
                // no word has been seen often enough to look common.
                let (score, filled) = score_in(slot, false);
                if filled {
                    strict = true;
                    break;
                }
                if score >= self.threshold * RIVAL_BAR {
                    rivals += 1;
                    if rivals >= 2 {
                        strict = true;
                        break;
                    }
                }
            }
        }
        let mut score_slot = |slot: u64| score_in(slot, strict).0;
        let mut seen_stories: Vec<i64> = Vec::with_capacity(16);
        let mut best: Option<Decision> = None;
        let mut members: Vec<u64> = Vec::with_capacity(MAX_MEMBERS + 2);
        for &(_, slot, it) in &hits {
            if seen_stories.contains(&it.story) {
                continue;
            }
            // The candidate itself first: most stories it brings up are
            // not the item's, and then nothing else need be scored. One
            // under the threshold leaves its story to its next candidate:
            // the member sharing the most bands may be a rewrite the new
            // item does not match while another member is its copy.
            let first_score = score_slot(slot);
            if first_score < self.threshold {
                continue;
            }
            seen_stories.push(it.story);
            let Some(entry) = self.stories.get(&it.story) else {
                continue;
            };
            members.clear();
            members.push(slot);
            let first = self.full_slot(u64::from(entry.first));
            if first != slot && self.item(first).is_some() {
                members.push(first);
            }
            let mut at = u64::from(entry.newest);
            while members.len() < MAX_MEMBERS + 1 {
                let full = self.full_slot(at);
                let Some(m) = self.item(full) else { break };
                if !members.contains(&full) {
                    members.push(full);
                }
                if m.prev == NO_SLOT {
                    break;
                }
                at = u64::from(m.prev);
            }
            // One item per feed and event, updates aside: a member from
            // the same feed must be the report this item updates.
            if self.same_source_conflict(it.story, source, &mut score_slot) {
                continue;
            }
            let scored = members.len();
            let mut agreed = 1;
            let mut first_agreed = first == slot;
            let mut total = first_score;
            for (n, &m) in members.iter().enumerate().skip(1) {
                // Stop once a majority is out of reach.
                if (agreed + scored - n) * 2 < scored {
                    break;
                }
                let sc = score_slot(m);
                total += sc.max(0.0);
                if sc >= self.threshold * AGREE_FACTOR {
                    agreed += 1;
                    first_agreed |= m == first;
                }
            }
            // The story's lead must be among those agreeing (when it is
            // still in the window): most members alone let a story drift
            // from its event one look-alike at a time.
            let lead_ok = first_agreed || self.item(first).is_none();
            let passes = lead_ok && (agreed * 2 > scored || (agreed * 2 == scored && first_agreed));
            let mean = total / scored as f64;
            if passes && best.as_ref().is_none_or(|b| mean > b.score) {
                best = Some(Decision {
                    story: it.story,
                    score: mean,
                    agreed,
                    scored,
                });
            }
        }
        best
    }

    /// Whether `story` has a member from feed `source` that the new item
    /// does not update (see `UPDATE_BAR`).
    fn same_source_conflict(
        &self,
        story: i64,
        source: u32,
        score_slot: &mut impl FnMut(u64) -> f64,
    ) -> bool {
        let Some(entry) = self.stories.get(&story) else {
            return false;
        };
        let mut at = u64::from(entry.newest);
        for _ in 0..MAX_STORY_SIZE {
            let full = self.full_slot(at);
            let Some(m) = self.item(full) else { break };
            if m.source == source && score_slot(full) < UPDATE_BAR {
                return true;
            }
            if m.prev == NO_SLOT {
                break;
            }
            at = u64::from(m.prev);
        }
        false
    }

    /// (hits, slot, item) of the indexed items worth scoring against a new
    /// one, most hits first.
    fn candidates(&self, s: &Signature, time: i64) -> Vec<(usize, u64, &Indexed)> {
        let Some(keys) = band_keys(s) else {
            return Vec::new();
        };
        // Every band's bucket, and every anchor's read to one past the
        // limit: over it, the anchor is too common to say anything, and its
        // entries are taken back.
        let mut buckets = [(0u32, 0usize); BANDS + signature::MAX_ANCHORS];
        let mut n = 0;
        for key in keys.into_iter().chain(s.anchors().map(anchor_key)) {
            buckets[n] = (key, bucket_cap(key));
            n += 1;
        }
        let mut cands: Vec<u64> = Vec::with_capacity(n * MAX_PER_BUCKET);
        let full = self.read_buckets(&buckets[..n], &mut cands);
        let taken_back = full & !((1u64 << BANDS) - 1);
        cands.retain(|c| taken_back & (1 << (c >> WALK_TAG)) == 0);
        cands.sort_unstable_by_key(|c| c & SLOT40);
        // (hits, slot) of every candidate seen in enough bands or anchors.
        let mut seen: Vec<(usize, u64)> = cands
            .chunk_by(|a, b| (a & SLOT40) == (b & SLOT40))
            .filter_map(|run| {
                let by_anchor = run
                    .iter()
                    .filter(|c| *c >> WALK_TAG >= BANDS as u64)
                    .count();
                let by_band = run.len() - by_anchor;
                (by_band >= MIN_BAND_HITS || by_anchor >= MIN_ANCHOR_HITS)
                    .then(|| (run.len(), run[0] & SLOT40))
            })
            .collect();
        // When a window holds many look-alikes (a feed of template items),
        // every bucket is full and scoring all of them made each item cost
        // milliseconds: only the candidates sharing the most bands (the
        // newest among equals) are kept. Sorted first, so that only those
        // taken are looked up (an item and its story, each a read from
        // anywhere in the index) to see whether they are within reach.
        seen.sort_unstable_by_key(|h| std::cmp::Reverse(*h));
        seen.into_iter()
            .filter_map(|(hits, slot)| self.within_reach(slot, time).map(|it| (hits, slot, it)))
            .take(MAX_SCORED)
            .collect()
    }

    /// The item in `slot` if it is still indexed, close enough in time to
    /// be scored, and in a story that may still grow.
    fn within_reach(&self, slot: u64, time: i64) -> Option<&Indexed> {
        let it = self.item(slot)?;
        let apart = (it.time - time).abs();
        ((apart as f64 / 3600.0) <= max_hours(self.threshold)
            && apart <= self.window
            && self
                .stories
                .get(&it.story)
                .is_none_or(|e| e.size < MAX_STORY_SIZE))
        .then_some(it)
    }

    /// Slots are kept as their low 32 bits in the tables; the index never
    /// holds 2^31 items, so the full number is the one nearest the base
    /// (below it for an evicted item, which the caller then skips).
    fn full_slot(&self, low: u64) -> u64 {
        let high = self.slot_base & !u64::from(u32::MAX);
        let s = high | (low & u64::from(u32::MAX));
        if s + (1 << 31) < self.slot_base {
            s + (1 << 32)
        } else {
            s
        }
    }

    /// `full_slot` for the 24 bits of a sorted bucket entry: the index
    /// never holds `MAX_ITEMS` (2^22) items, nor keeps an evicted item's
    /// entries long.
    fn full_slot24(&self, low: u32) -> u64 {
        let high = self.slot_base & !u64::from(SLOT24);
        let s = high | u64::from(low & SLOT24);
        if s + (1 << 23) < self.slot_base {
            s + (1 << 24)
        } else {
            s
        }
    }

    /// Counts an item waiting its turn in the document frequencies: a
    /// first poll's backlog is stored before it is grouped, and without
    /// it the backlog's first items would be weighed by a nearly empty
    /// window, where a background paragraph pasted under every other
    /// report looks as rare as the news. `unexpect` takes the item out
    /// again just before its turn (`insert` then counts it for good).
    pub fn expect(&mut self, s: &Signature) {
        if self.df_ahead.is_empty() {
            self.df_ahead = vec![0; 1 << DF_BITS];
        }
        for &t in &s.tokens {
            let c = &mut self.df_ahead[df_cell(t)];
            *c = c.saturating_add(1);
        }
        self.ahead += 1;
    }

    /// Undoes `expect`.
    pub fn unexpect(&mut self, s: &Signature) {
        for &t in &s.tokens {
            if let Some(c) = self.df_ahead.get_mut(df_cell(t)) {
                *c = c.saturating_sub(1);
            }
        }
        self.ahead = self.ahead.saturating_sub(1);
        if self.ahead == 0 {
            // Not kept between batches: half a megabyte an idle daemon
            // does not need.
            self.df_ahead = Vec::new();
        }
    }

    /// Indexes item `item` from feed `source` as a member of `story`.
    pub fn insert(&mut self, item: i64, s: &Signature, time: i64, story: i64, source: u32) {
        let slot = self.slot_base + self.items.len() as u64;
        let start = self.token_base + self.tokens.len() as u64;
        let len = s.tokens.len().min(usize::from(u16::MAX));
        let nslots = s.slots.len().min(usize::from(u8::MAX));
        self.tokens.extend(s.tokens[..len].iter().copied());
        self.tokens.extend(s.slots[..nslots].iter().copied());
        if self.df.is_empty() {
            self.df = vec![0; 1 << DF_BITS];
        }
        for &t in &s.tokens {
            let c = &mut self.df[df_cell(t)];
            *c = c.saturating_add(1);
        }
        let low = slot as u32;
        let entry = self.stories.entry(story).or_insert(StoryEntry {
            size: 0,
            first: low,
            newest: NO_SLOT,
        });
        let prev = if entry.size == 0 {
            entry.first = low;
            NO_SLOT
        } else {
            entry.newest
        };
        entry.size += 1;
        entry.newest = low;
        let background = self.sentences.background(s);
        self.sentences.count(s, story);
        self.items.push_back(Indexed {
            id: item,
            time,
            story,
            start: start as u32,
            source,
            len: len as u16,
            flags: s.flags(),
            slots: nslots as u8,
            prev,
            background,
        });
        if let Some(keys) = band_keys(s) {
            for key in keys.into_iter().chain(s.anchors().map(anchor_key)) {
                let next = self.recent_heads.get(&key).copied().unwrap_or(u32::MAX);
                self.recent_heads.insert(key, self.recent.len() as u32);
                self.recent.push((slot as u32, next));
            }
        }
        self.newest = self.newest.max(time);
        self.forget_counts();
        // Evicted in batches: when the recent buckets have grown to half
        // the sorted ones (each fold rewrites all of them: at a quarter,
        // folding was a fifteenth of assigning an item), or when the
        // oldest item is a whole horizon past it (a quiet stream would
        // otherwise keep stale items in its buckets, where they count
        // against `MAX_PER_ANCHOR`).
        let stale = self
            .items
            .front()
            .is_some_and(|it| it.time < self.newest.saturating_sub(self.horizon() * 2));
        let full = self.items.len() >= MAX_ITEMS;
        if stale || full || self.recent_holds(2) {
            self.fold();
        }
    }

    /// Whether the recent buckets hold a `1/share` of the sorted ones (and
    /// at least a thousand entries a band): when a fold is worth its cost.
    fn recent_holds(&self, share: usize) -> bool {
        self.recent.len() >= (BANDS * 1024).max(self.sorted.len() / share)
    }

    /// Takes the items that fell out of reach of the newest one out of
    /// the document frequencies.
    fn forget_counts(&mut self) {
        let cutoff = self.newest.saturating_sub(self.horizon() / 2);
        self.df_from = self.df_from.max(self.slot_base);
        while self.item(self.df_from).is_some_and(|it| it.time < cutoff) {
            self.uncount(self.df_from);
            self.df_from += 1;
        }
    }

    fn uncount(&mut self, slot: u64) {
        let Some(it) = self.item(slot) else { return };
        let start = usize::try_from(self.full_start(it.start).saturating_sub(self.token_base))
            .unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::from(it.len));
        let Some(toks) = self.tokens.get(start..end) else {
            return;
        };
        for &t in toks {
            if let Some(c) = self.df.get_mut(df_cell(t)) {
                *c = c.saturating_sub(1);
            }
        }
    }

    /// How far back from the newest item the index keeps items, in
    /// seconds: twice the reach, since items may arrive somewhat out of
    /// order. The reach is the window, or less when the verifier's time
    /// penalty rules out pairs further apart (55 hours at the default
    /// threshold): keeping items no pair can reach cost a quarter of the
    /// index's memory for nothing.
    pub fn horizon(&self) -> i64 {
        let reach = (max_hours(self.threshold) * 3600.0).min(self.window as f64);
        2 * (reach.max(0.0) as i64)
    }

    /// Forgets items that no new item can reach any more and folds the
    /// recent buckets into the sorted array, returning the memory the
    /// window no longer needs.
    pub fn evict(&mut self) {
        self.fold();
        self.recent = Vec::new();
        self.recent_heads = FxHashMap::default();
        self.items.shrink_to_fit();
        self.tokens.shrink_to_fit();
    }

    /// Gives back the room the buffers kept as they grew (the recent
    /// buckets' from their last fold, the arena's and the items' from
    /// their last doubling) where more than a quarter of it is unused:
    /// what an index idling between polls need not hold. Each keeps an
    /// eighth to spare, so a few more items do not make it grow (and copy
    /// itself) again at once. It folds only when the recent buckets hold
    /// an eighth of the sorted ones: a fold at every idle moment would
    /// rewrite a large window for a handful of items, but between folds at
    /// half the sorted size the recent buckets (8 bytes an entry and a
    /// map, against 4) held 6 MiB more of a 52,000-item window.
    pub fn release_spare(&mut self) {
        if self.recent_holds(8) {
            self.fold();
        }
        let spare =
            |len: usize, capacity: usize| (capacity > len + len / 4).then_some(len + len / 8);
        if let Some(to) = spare(self.recent.len(), self.recent.capacity()) {
            self.recent.shrink_to(to);
        }
        if let Some(to) = spare(self.recent_heads.len(), self.recent_heads.capacity()) {
            self.recent_heads.shrink_to(to);
        }
        if let Some(to) = spare(self.tokens.len(), self.tokens.capacity()) {
            self.tokens.shrink_to(to);
        }
        if let Some(to) = spare(self.items.len(), self.items.capacity()) {
            self.items.shrink_to(to);
        }
    }

    /// `evict` without giving memory back: `insert` folds every few
    /// thousand items, and the buffers would only grow again (shrinking
    /// and regrowing them was a fiftieth of assigning an item).
    fn fold(&mut self) {
        let cutoff = self.newest.saturating_sub(self.horizon());
        let most = MAX_ITEMS - MAX_ITEMS / 4;
        while self
            .items
            .front()
            .is_some_and(|it| it.time < cutoff || self.items.len() > most)
        {
            if self.df_from <= self.slot_base {
                self.uncount(self.slot_base);
                self.df_from = self.slot_base + 1;
            }
            if let Some(it) = self.items.pop_front() {
                self.slot_base += 1;
                if let Some(e) = self.stories.get_mut(&it.story) {
                    e.size -= 1;
                    if e.size == 0 {
                        self.stories.remove(&it.story);
                    }
                }
            }
        }
        // The evicted items' tokens are the front of the arena.
        let keep_from = self
            .items
            .front()
            .map_or(self.token_base + self.tokens.len() as u64, |it| {
                self.full_start(it.start)
            });
        let drop = usize::try_from(keep_from.saturating_sub(self.token_base))
            .unwrap_or(usize::MAX)
            .min(self.tokens.len());
        self.tokens.drain(..drop);
        self.token_base += drop as u64;
        // Entries as `key24 << 40 | full slot`, so that a bucket's entries
        // sort oldest first whatever the 24 bits stored of their slots.
        let base = self.slot_base;
        let fresh = self.recent_sorted();
        // The old entries, their keys rebuilt from the directory, in (key,
        // slot) order, merged with the fresh ones.
        let old = std::mem::take(&mut self.sorted);
        let mut sorted = Vec::with_capacity(old.len() + fresh.len());
        let mut counts = vec![0u32; self.dir.len()];
        // Entries come in (key, slot) order, so a bucket's newest are its
        // last: past the newest `bucket_cap`, an entry is never read
        // (lookups stop there, and only entries newer than it arrive)
        // before eviction, which takes the oldest first, would drop it.
        // Dropping it now changes no lookup, and no anchor's count either
        // (an anchor keeps one entry more than it may have).
        let mut group: Option<(u32, usize)> = None;
        let trim = |group: Option<(u32, usize)>, sorted: &mut Vec<u32>, counts: &mut [u32]| {
            let Some((key, start)) = group else { return };
            let excess = (sorted.len() - start).saturating_sub(bucket_cap(key));
            if excess > 0 {
                sorted.copy_within(start + excess.., start);
                sorted.truncate(sorted.len() - excess);
                counts[(key >> 8) as usize + 1] -= excess as u32;
            }
        };
        let mut keep = |e: u64| {
            if e & SLOT40 >= base {
                let key = (e >> 40) as u32;
                if group.is_none_or(|(k, _)| k != key) {
                    trim(group, &mut sorted, &mut counts);
                    group = Some((key, sorted.len()));
                }
                sorted.push((key << 24) | (e as u32 & SLOT24));
                counts[(key >> 8) as usize + 1] += 1;
            }
        };
        let mut f = 0;
        for d in 0..self.dir.len() - 1 {
            for &e in &old[self.dir[d] as usize..self.dir[d + 1] as usize] {
                let key = ((d as u64) << 8) | u64::from(e >> 24);
                let o = (key << 40) | self.full_slot24(e);
                while f < fresh.len() && fresh[f] < o {
                    keep(fresh[f]);
                    f += 1;
                }
                keep(o);
            }
        }
        for &e in &fresh[f..] {
            keep(e);
        }
        trim(group, &mut sorted, &mut counts);
        sorted.shrink_to_fit();
        self.sorted = sorted;
        self.recent_heads.clear();
        self.recent.clear();
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        self.dir = counts;
    }

    /// The recent buckets' entries as `key24 << 40 | full slot`, sorted.
    /// `recent` holds them oldest first, so two stable counting passes by
    /// key (low half, then high) sort them: a third of the comparison
    /// sort's time, which was a fortieth of assigning an item.
    fn recent_sorted(&self) -> Vec<u64> {
        let mut keys = vec![0u32; self.recent.len()];
        for (&key, &head) in &self.recent_heads {
            let mut at = head;
            while let Some(&(_, next)) = self.recent.get(at as usize) {
                keys[at as usize] = key24(key);
                at = next;
            }
        }
        let mut entries: Vec<u64> = self
            .recent
            .iter()
            .zip(keys)
            .map(|(&(slot, _), key)| (u64::from(key) << 40) | self.full_slot(u64::from(slot)))
            .collect();
        let mut spare = vec![0u64; entries.len()];
        let half = |e: u64, shift: u32| ((e >> (40 + shift)) as usize) & (DIGITS - 1);
        counting_pass(&entries, &mut spare, |e| half(e, 0));
        counting_pass(&spare, &mut entries, |e| half(e, DIGITS.trailing_zeros()));
        entries
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item ids in the index, oldest first.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.items.iter().map(|it| it.id)
    }

    /// Approximate heap use, for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.heap_parts().iter().map(|p| p.1).sum()
    }

    /// `heap_bytes` by part, for the benchmark's account of where an
    /// item's bytes go.
    pub fn heap_parts(&self) -> [(&'static str, usize); 7] {
        [
            (
                "items",
                self.items.capacity() * std::mem::size_of::<Indexed>(),
            ),
            ("tokens and slots", self.tokens.capacity() * 4),
            (
                "bucket entries",
                self.sorted.capacity() * 4
                    + self.recent.capacity() * 8
                    + self.recent_heads.capacity() * 9,
            ),
            ("bucket directory", self.dir.capacity() * 4),
            (
                "stories",
                self.stories.capacity() * (std::mem::size_of::<(i64, StoryEntry)>() + 1),
            ),
            (
                "token counts",
                (self.df.capacity() + self.df_ahead.capacity()) * 2,
            ),
            ("sentence counts", self.sentences.cells.capacity() * 12),
        ]
    }
}

/// One member of a story, as `feedsift story --why` explains it.
#[derive(Debug, Clone)]
pub struct MemberWhy {
    pub item: i64,
    /// Its score against the lead (none for the lead itself).
    pub vs_lead: Option<f64>,
    /// Of the other members, how many it reaches the threshold with.
    pub agrees_with: usize,
    pub others: usize,
    /// What it shares with the lead, the rarest in the window first.
    pub names: Vec<String>,
    pub figures: Vec<String>,
    pub words: Vec<String>,
    /// Shared, but given on either side only by sentences the window
    /// knows for background (see `SentenceCounts`): they weigh a tenth.
    pub background: Vec<String>,
}

/// A story member's text, for [`explain`].
pub struct MemberText {
    pub item: i64,
    pub time: i64,
    pub title: String,
    pub body: String,
}

/// Scores every member of a story against its lead and the others with
/// the weights of `index` (loaded with the items around the story), and
/// names the evidence each shares with the lead.
pub fn explain(index: &StoryIndex, members: &[MemberText], lead: i64) -> Vec<MemberWhy> {
    let sigs: Vec<_> = members
        .iter()
        .map(|m| signature_explained(&m.title, &m.body))
        .collect();
    let lead_at = members.iter().position(|m| m.item == lead);
    let backgrounds: Vec<u64> = sigs
        .iter()
        .map(|s| index.sentences.background(&s.0))
        .collect();
    // Whether the window knows token `t` of member `m` for background.
    let in_background = |m: usize, t: u32| {
        let toks = &sigs[m].0.tokens;
        toks.binary_search_by_key(&t, |x| x & !signature::FLAG_BITS)
            .is_ok_and(|at| in_mask(backgrounds[m], at))
    };
    let pair = |i: usize, j: usize| {
        let hours = (members[i].time - members[j].time).abs() as f64 / 3600.0;
        index.weighed_score_with(
            (&sigs[i].0, backgrounds[i]),
            (&sigs[j].0, backgrounds[j]),
            hours,
        )
    };
    (0..members.len())
        .map(|i| {
            let others: Vec<usize> = (0..members.len()).filter(|&j| j != i).collect();
            let agrees_with = others
                .iter()
                .filter(|&&j| pair(i, j) >= index.threshold)
                .count();
            let (mut names, mut figures, mut words, mut background) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut vs_lead = None;
            if let Some(l) = lead_at.filter(|&l| l != i) {
                vs_lead = Some(pair(i, l));
                let mut shared = signature::shared_tokens(&sigs[i].0.tokens, &sigs[l].0.tokens);
                shared.sort_by(|a, b| index.weight(b.0).total_cmp(&index.weight(a.0)));
                for (t, kind) in shared {
                    let Some(text) = sigs[i].1.get(&t) else {
                        continue;
                    };
                    let list = match kind {
                        _ if in_background(i, t) || in_background(l, t) => &mut background,
                        1 => &mut names,
                        2 => &mut figures,
                        _ => &mut words,
                    };
                    if !list.contains(text) {
                        list.push(text.clone());
                    }
                }
                // A name's word is also a word: say it once, as a name.
                words.retain(|w| !names.contains(w));
                background.retain(|w| !names.contains(w) && !words.contains(w));
            }
            MemberWhy {
                item: members[i].item,
                vs_lead,
                agrees_with,
                others: others.len(),
                names,
                figures,
                words,
                background,
            }
        })
        .collect()
}

/// News agencies whose copy others republish, as (canonical name, the
/// names feeds and attributions use).
const AGENCIES: &[(&str, &[&str])] = &[
    ("TASS", &["tass", "тасс"]),
    ("Interfax", &["interfax", "интерфакс"]),
    ("RIA Novosti", &["ria novosti", "риа новости", "ria"]),
    ("Kyodo", &["kyodo", "共同通信", "共同"]),
    ("Reuters", &["reuters"]),
    ("AP", &["associated press", "ap"]),
    ("AFP", &["afp", "agence france-presse"]),
    ("NHK", &["nhk"]),
    ("Jiji", &["jiji", "時事通信"]),
    ("Trend", &["trend"]),
    ("APA", &["apa"]),
];

/// The agency an item says it reports from: "citing TASS", "— TASS",
/// "/TASS/", "(Reuters) -", «сообщает ТАСС», 「共同通信によると」.
pub fn cited_agency(text: &str) -> Option<&'static str> {
    ATTRIBUTIONS.iter().find_map(|a| match &a.ends_with {
        Some(end) => end.find_iter(text).find_map(|m| {
            let mut from = m.start().saturating_sub(ENDS_WITH_REACH);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            agency_in(&a.pattern, &text[..m.end()], from)
        }),
        // Most texts cite nobody. Asked for captures straight away, the
        // regex engine ran its backtracker over the whole text; a match
        // test first runs on its DFA (a third of story grouping's time).
        None => a
            .pattern
            .is_match(text)
            .then(|| agency_in(&a.pattern, text, 0))
            .flatten(),
    })
}

/// A pattern naming who an item cites, in its first capture group.
struct Attribution {
    pattern: Regex,
    /// What every match ends with, for a pattern whose match may start
    /// anywhere: "X reported". Searching a whole text for a counted run of
    /// letters followed by a word, the regex's lazy DFA gives up and falls
    /// back to a slow engine (92 µs an item, a third of grouping a
    /// backlog), so the ending is searched for instead and the pattern run
    /// over the `ENDS_WITH_REACH` bytes before each occurrence.
    ends_with: Option<Regex>,
}

/// How far before its ending a match can start: a name of at most 31
/// letters, and the space after it.
const ENDS_WITH_REACH: usize = 96;

static ATTRIBUTIONS: LazyLock<Vec<Attribution>> = LazyLock::new(|| {
    [
        // ASCII word boundaries: the names are ASCII, and a Unicode
        // boundary kept the regex engine off its DFA on Russian and
        // Japanese text (a quarter of story grouping's time).
        (
            r"(?i)(?-u:\b)(?:citing|according to|quoting|via|cited by)\s+(?:the\s+)?([A-Za-z][A-Za-z .-]{1,30}?)(?:\s+news agency|\s+reported|\s+said|[.,;]|$)",
            None,
        ),
        (
            r"(?i)(?-u:\b)([A-Za-z][A-Za-z .-]{1,30}?)\s+(?:reported|reports|news agency reported)(?-u:\b)",
            Some(r"(?i)report(?:ed|s)(?-u:\b)"),
        ),
        (r"/\s*([A-Za-z]{2,12})\s*/", None),
        (r"^\s*\(([A-Za-z][A-Za-z .-]{1,30})\)\s*[-–—]", None),
        (r"[—–-]\s*([A-Z][A-Za-z]{1,12})\.?\s*$", None),
        (
            r"(?i)(?:сообщает|сообщил[аои]?|передает|передаёт|по данным|со ссылкой на)\s+([А-Яа-яЁёA-Za-z ]{2,30}?)(?:[.,;]|$)",
            None,
        ),
        (r"([\p{Han}\p{Katakana}]{2,6})(?:によると|が報じた|の報道)", None),
        (r"（([\p{Han}]{2,4})）|\(([\p{Han}]{2,4})\)", None),
    ]
    .into_iter()
    .map(|(pattern, ends_with)| Attribution {
        pattern: Regex::new(pattern).expect("static regex"),
        ends_with: ends_with.map(|e| Regex::new(e).expect("static regex")),
    })
    .collect()
});

/// The first agency a match of `p` in `hay`, from byte `at` on, names.
/// (`captures_at` sees the text before `at`: a start mid-word is not a
/// word boundary.)
fn agency_in(p: &Regex, hay: &str, mut at: usize) -> Option<&'static str> {
    while let Some(c) = p.captures_at(hay, at) {
        let whole = c.get(0)?;
        if let Some(agency) = c
            .iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|name| agency_named(name.as_str()))
        {
            return Some(agency);
        }
        if whole.end() <= at {
            break;
        }
        at = whole.end();
    }
    None
}

/// The canonical agency a name (a feed title, an attribution) refers to.
pub fn agency_named(name: &str) -> Option<&'static str> {
    let n = fold(name.trim());
    let ws: Vec<&str> = words(&n).collect();
    AGENCIES.iter().find_map(|(canon, names)| {
        names
            .iter()
            .any(|alias| {
                let a: Vec<&str> = words(alias).collect();
                if a.is_empty() {
                    // A name in a script without spaces: a substring will do.
                    return n.contains(alias);
                }
                ws.windows(a.len()).any(|w| w == a.as_slice())
                    || (a
                        .iter()
                        .all(|x| x.chars().any(crate::text::is_unspaced_script))
                        && n.contains(alias))
            })
            .then_some(*canon)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 1.0;

    #[test]
    fn copies_are_the_same_event_and_other_events_are_not() {
        let orig = signature(
            "Japan seeks to bring relations with Russia to new level",
            "MOSCOW, May 10 /TASS/ - Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov on Friday.",
        );
        let copy = signature(
            "UPDATE 1-Japan seeks to bring relations with Russia to new level",
            "<p>Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergei Lavrov on Friday.</p><p>Axar.az reports citing TASS.</p>",
        );
        let other = signature(
            "Lavrov and Kono discuss fishing quotas near the Kurils",
            "Russian Foreign Minister Sergey Lavrov and Japanese Foreign Minister Taro Kono discussed salmon fishing quotas in talks in Tokyo on Monday.",
        );
        let (same, diff) = (
            same_event(&orig, &copy, HOUR),
            same_event(&orig, &other, 20.0 * HOUR),
        );
        assert!(same > 0.9, "{same}");
        assert!(diff < 0.3, "{diff}");
        assert_eq!(from_bytes(&to_bytes(&orig)), Some(orig));
    }

    #[test]
    fn different_figures_are_different_events() {
        let a = signature(
            "Russia seizes Japanese fishing boat",
            "Russian border guards seized the 9.7-ton Shinsei Maru No. 8 with five crew off Kunashiri.",
        );
        let b = signature(
            "Russia seizes Japanese fishing boat",
            "Russian border guards seized the 4.9-ton Kaiyo Maru No. 3 with three crew off Kunashiri.",
        );
        let c = signature(
            "Japanese boat and 5 crew held off Kunashir",
            "The Shinsei Maru No. 8, a 9.7-ton boat, was seized by Russian border guards.",
        );
        assert!(same_event(&a, &b, HOUR) < same_event(&a, &c, HOUR));
        assert!(same_event(&a, &b, HOUR) + 0.2 < same_event(&a, &c, HOUR));
    }

    #[test]
    fn a_translation_matches_on_names_and_figures() {
        let en = signature(
            "Russia bars 63 Japanese including Kishida",
            "Russia has barred 63 Japanese citizens, including Prime Minister Fumio Kishida and Foreign Minister Yoshimasa Hayashi, from entering the country.",
        );
        let ru = signature(
            "МИД РФ закрыл въезд в Россию 63 гражданам Японии",
            "Россия закрыла въезд 63 гражданам Японии, в том числе премьер-министру Фумио Кисиде и министру иностранных дел Ёсимасе Хаяси.",
        );
        assert!(en.latin && !ru.latin);
        assert!(same_event(&en, &ru, HOUR) >= 1.0);
        assert!(same_event(&en, &ru, 30.0 * HOUR) < 0.5);
    }

    #[test]
    fn the_two_sides_of_one_meeting_are_two_stories() {
        let kono = signature(
            "Japan seeks to bring relations with Russia to new level",
            "Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov in Moscow on Friday.",
        );
        let kono_copy = signature(
            "UPDATE 1-Japan, Russia foreign ministers discuss peace treaty, islands",
            "MOSCOW, May 10 (Reuters) - Tokyo wants to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono told his Russian counterpart Sergei Lavrov at a meeting in Moscow on Friday.",
        );
        let lavrov = signature(
            "Lavrov: Russia's sovereignty over Kurils not up for discussion",
            "Russia's sovereignty over the southern Kuril Islands is not a subject for discussion, Russian Foreign Minister Sergey Lavrov told a news conference following talks with his Japanese counterpart Taro Kono in Moscow on Friday.",
        );
        assert!(same_event(&kono, &kono_copy, HOUR) > 0.45);
        assert_eq!(same_event(&kono, &lavrov, HOUR), 0.0);
        assert_eq!(same_event(&kono_copy, &lavrov, HOUR), 0.0);
        // Speakers named in either order, or together, still agree.
        let both = signature(
            "Putin, Abe say more work needed on WW2 peace treaty",
            "Russian President Vladimir Putin and Japanese Prime Minister Shinzo Abe said on Tuesday there was a lot of painstaking work ahead before they could sign a peace treaty.",
        );
        let putin = signature(
            "Putin: Painstaking work ahead to reach peace deal with Japan",
            "There is a lot of painstaking work ahead before Russia and Japan can sign a peace treaty, Russian President Vladimir Putin said after talks with Japanese Prime Minister Shinzo Abe on Tuesday.",
        );
        assert!(same_event(&both, &putin, HOUR) > 0.45);
    }

    #[test]
    fn a_preview_a_protest_and_a_side_event_are_not_the_event() {
        let report = signature(
            "Lavrov, Kono hold talks in Moscow",
            "Russian Foreign Minister Sergey Lavrov held talks with his Japanese counterpart Taro Kono in Moscow on Friday. The ministers discussed the peace treaty and joint economic activities on the southern Kuril Islands.",
        );
        let preview = signature(
            "Lavrov, Kono to discuss peace treaty at Moscow talks on Friday",
            "Russian Foreign Minister Sergey Lavrov will hold talks with his Japanese counterpart Taro Kono in Moscow on Friday. The ministers are expected to discuss the peace treaty and joint economic activities on the southern Kuril Islands.",
        );
        assert!(!report.preview && preview.preview);
        assert_eq!(same_event(&report, &preview, 20.0 * HOUR), 0.0);

        let visit = signature(
            "Medvedev visits disputed island",
            "Russian Prime Minister Dmitry Medvedev visited Etorofu, one of the Russian-held islands claimed by Japan, on Friday.",
        );
        let protest = signature(
            "Japan protests Medvedev's visit to disputed island",
            "Japan lodged a protest with Russia on Friday over Prime Minister Dmitry Medvedev's visit to Etorofu, one of the Russian-held islands claimed by Tokyo.",
        );
        assert!(protest.reaction && !visit.reaction);
        assert_eq!(same_event(&visit, &protest, HOUR), 0.0);

        let side = signature(
            "Iwaya and Shoigu agree to expand defense exchanges",
            "Japanese Defense Minister Takeshi Iwaya and Russian Defense Minister Sergei Shoigu held talks in Tokyo on Thursday, separately from the two-plus-two meeting.",
        );
        let main = signature(
            "Japan, Russia hold 2-plus-2 talks in Tokyo",
            "Japan and Russia held a two-plus-two security dialogue in Tokyo on Thursday, with Defense Minister Takeshi Iwaya and Foreign Minister Taro Kono meeting Sergei Shoigu and Sergei Lavrov.",
        );
        assert_eq!(same_event(&side, &main, HOUR), 0.0);
    }

    #[test]
    fn the_first_day_given_is_the_events_day() {
        let thursday = signature(
            "OPEC agrees in principle to deeper cuts, awaits Russia",
            "OPEC agreed on Thursday to deepen oil output cuts by an extra 500,000 barrels per day, but needed approval from Russia at a meeting on Friday.",
        );
        let friday = signature(
            "OPEC+ agrees to deepen oil output cuts by 500,000 bpd",
            "OPEC and its allies led by Russia agreed on Friday to deepen oil output cuts by 500,000 barrels per day.",
        );
        assert_eq!(same_event(&thursday, &friday, 20.0 * HOUR), 0.0);
    }

    #[test]
    fn a_translation_without_figures_matches_on_names_and_day() {
        let en = signature(
            "Japan seeks to bring relations with Russia to new level",
            "Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov in Moscow on Friday.",
        );
        let ru = signature(
            "Коно: Япония стремится вывести отношения с Россией на новый уровень",
            "Токио стремится вывести отношения с Москвой на новый уровень, заявил министр иностранных дел Японии Таро Коно на встрече с российским коллегой Сергеем Лавровым в пятницу в Москве.",
        );
        assert!(same_event(&en, &ru, HOUR) >= 1.0);
        // Another day's meeting of the same two is not it.
        let monday = signature(
            "Коно: Япония стремится вывести отношения с Россией на новый уровень",
            "Токио стремится вывести отношения с Москвой на новый уровень, заявил министр иностранных дел Японии Таро Коно на встрече с российским коллегой Сергеем Лавровым в понедельник в Москве.",
        );
        assert_eq!(same_event(&en, &monday, HOUR), 0.0);
    }

    #[test]
    fn a_decimal_comma_is_the_decimal_point_of_the_english_copy() {
        let en = signature(
            "Japan's imports from Russia rise 14.8% in June",
            "Japan's imports from Russia rose 14.8% in June from a year earlier to 68.2 billion yen, Finance Ministry data showed.",
        );
        let ru = signature(
            "Импорт японии из россии в июне вырос на 14,8%",
            "Импорт японии из россии в июне вырос на 14,8% в годовом выражении, до 68,2 млрд иен, следует из данных Минфина Японии.",
        );
        assert!(same_event(&en, &ru, HOUR) >= 1.0);
        // A comma before three digits still separates thousands.
        let a = signature("Drills", "About 2,050 troops took part.");
        let b = signature("Drills", "About 2050 troops took part.");
        assert_eq!(a.tokens, b.tokens);
    }

    #[test]
    fn a_translation_without_figures_matches_on_three_names_and_the_day() {
        let en = signature(
            "Aliyev, Pashinyan discuss peace treaty in Granada",
            "Aliyev and Pashinyan discussed the text of a peace treaty at talks in Granada on Wednesday.",
        );
        let ru = signature(
            "Алиев и Пашинян обсудили мирный договор в Гранаде",
            "Алиев и Пашинян в среду обсудили в Гранаде текст мирного договора.",
        );
        assert!(same_event(&en, &ru, HOUR) >= 1.0);
        let thursday = signature(
            "Алиев и Пашинян обсудили мирный договор в Гранаде",
            "Алиев и Пашинян в четверг обсудили в Гранаде текст мирного договора.",
        );
        assert_eq!(same_event(&en, &thursday, HOUR), 0.0);
    }

    #[test]
    fn a_translation_counts_names_of_its_headline_and_lead_only() {
        // One speaker, one day, two statements: the English report's
        // background names Tokyo, as the Russian one's headline does.
        let ru = signature(
            "Руденко: наращивание военного потенциала Токио угрожает региону",
            "Замминистра иностранных дел России Андрей Руденко в понедельник заявил, что наращивание военного потенциала Токио угрожает региону.",
        );
        let other = signature(
            "Rudenko says no plans to cut gas supplies to Japan",
            "Deputy Foreign Minister Andrei Rudenko said on Monday that Russia has no plans to cut gas supplies to Japan. Markets in Tokyo and Moscow have been volatile in recent weeks.",
        );
        assert_eq!(same_event(&ru, &other, HOUR), 0.0);
        let same = signature(
            "Rudenko says Tokyo's military build-up threatens the region",
            "Deputy Foreign Minister Andrei Rudenko said on Monday that Tokyo's military build-up threatens the region.",
        );
        assert!(same_event(&ru, &same, HOUR) >= 1.0);
    }

    #[test]
    fn a_template_filler_named_only_in_background_is_another_filling() {
        // Peskov is named in Rudenko's item, but in a background sentence
        // pasted under it, not as the one who spoke.
        let rudenko = signature(
            "Rudenko says Kurils are Russian, issue closed",
            "Deputy Foreign Minister Andrei Rudenko said on Monday that the Kuril Islands are Russian territory and the issue is closed. Kremlin spokesman Dmitry Peskov has said that Moscow sees no basis for continuing peace treaty negotiations with Tokyo.",
        );
        let peskov = signature(
            "Peskov says Kurils are Russian, issue closed",
            "Kremlin spokesman Dmitry Peskov said on Monday that the Kuril Islands are Russian territory and the issue is closed.",
        );
        assert_eq!(same_event(&rudenko, &peskov, HOUR), 0.0);
    }

    #[test]
    fn a_rewrite_around_the_same_figure_is_the_same_event() {
        let wire = signature(
            "Earthquake of magnitude 5.3 hits the Kamchatka Peninsula",
            "An earthquake of magnitude 5.3 struck the Kamchatka Peninsula on Monday at a depth of 45 kilometres, seismologists said.",
        );
        let rewrite = signature(
            "Magnitude 5.3 quake strikes off the Kamchatka Peninsula, no tsunami warning",
            "A magnitude 5.3 quake hit the Kamchatka Peninsula on Monday; its focus was 45 km deep and no tsunami warning was issued.",
        );
        let other = signature(
            "Magnitude 6.1 quake strikes off the Kamchatka Peninsula, no tsunami warning",
            "A magnitude 6.1 quake hit the Kamchatka Peninsula on Monday; its focus was 20 km deep and no tsunami warning was issued.",
        );
        assert!(same_event(&wire, &rewrite, HOUR) >= 0.45);
        assert_eq!(same_event(&wire, &other, HOUR), 0.0);
    }

    #[test]
    fn a_rewrite_sharing_names_but_few_words_is_a_candidate() {
        let wire = signature(
            "Abe to resign as prime minister due to health problems",
            "Prime Minister Shinzo Abe said Friday he will resign due to a relapse of a chronic intestinal disease, bringing an end to his record-long tenure as Japan's leader.",
        );
        let rewrite = signature(
            "Abe resigns, ending Japan's longest-serving premiership",
            "Shinzo Abe, Japan's longest-serving prime minister, stepped down on Friday citing ill health, capping a record tenure marked by Abenomics.",
        );
        let mut idx = StoryIndex::new(72 * 3600, 0.0);
        idx.insert(1, &wire, 1_000_000, 10, 1);
        assert_eq!(
            idx.find(&rewrite, 1_000_000 + 3600, 2).map(|(s, _)| s),
            Some(10)
        );
    }

    #[test]
    fn the_index_finds_copies_within_the_window_only() {
        let a = signature(
            "Quake hits Hokkaido",
            "A strong earthquake struck Hokkaido on Sunday morning, the Japan Meteorological Agency said.",
        );
        let b = signature(
            "UPDATE 1-Quake hits Hokkaido",
            "A strong earthquake struck Hokkaido on Sunday morning, the Japan Meteorological Agency said, with no tsunami warning.",
        );
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        idx.insert(1, &a, 1_000_000, 10, 1);
        assert_eq!(idx.find(&b, 1_000_000 + 3600, 2).map(|(s, _)| s), Some(10));
        assert_eq!(idx.find(&b, 1_000_000 + 80 * 3600, 2), None);
        // Still found once the recent buckets are folded into the array.
        idx.evict();
        assert_eq!(idx.find(&b, 1_000_000 + 3600, 2).map(|(s, _)| s), Some(10));
    }

    #[test]
    fn a_sentence_two_stories_carry_is_background() {
        const BG: &str = "Russia and Japan have never signed a peace treaty formally ending World War II hostilities because of the dispute over the islands off Hokkaido.";
        let boat = signature(
            "Russia summons Japanese ambassador over the detention of a fishing boat",
            &format!(
                "Russia's Foreign Ministry summoned the Japanese ambassador on Monday to protest the detention of a fishing boat. {BG}"
            ),
        );
        let sanctions = signature(
            "Japan summons Russian ambassador over new sanctions",
            &format!(
                "Japan's Foreign Ministry summoned the Russian ambassador on Monday to protest new sanctions. {BG}"
            ),
        );
        let drills = signature(
            "Russia holds drills on Matua",
            &format!("Russia's Eastern Military District began drills on Matua on Monday. {BG}"),
        );
        let keys = |s: &Signature| -> Vec<u32> {
            s.sentences
                .iter()
                .map(|e| e.0)
                .filter(|&k| k != 0)
                .collect()
        };
        assert_eq!(keys(&boat).len(), 1);
        assert_eq!(keys(&boat), keys(&sanctions));
        // The same items, indexed as one story (copies repeat their
        // sentences) and as two (the sentence pasted under other news).
        let t = 1_000_000;
        let mut one = StoryIndex::new(72 * 3600, 0.45);
        let mut two = StoryIndex::new(72 * 3600, 0.45);
        one.insert(1, &boat, t, 10, 1);
        two.insert(1, &boat, t, 10, 1);
        one.insert(2, &drills, t + 60, 10, 2);
        two.insert(2, &drills, t + 60, 11, 2);
        assert_eq!(one.sentences.background(&sanctions), 0);
        let mask = two.sentences.background(&sanctions);
        let masked = mask.count_ones() as usize;
        assert!(masked > 0 && masked < sanctions.tokens.len(), "{masked}");
        // What only the sentence gives weighs less, so the two summonses
        // share less than they did.
        let (before, after) = (
            one.weighed_score(&boat, &sanctions, HOUR),
            two.weighed_score(&boat, &sanctions, HOUR),
        );
        assert!(after < before, "{after} >= {before}");
        // `story --why` shows what only the sentence gives apart.
        let text = |item: i64, title: &str, lead: &str| MemberText {
            item,
            time: t,
            title: title.to_owned(),
            body: format!("{lead} {BG}"),
        };
        let members = [
            text(
                1,
                "Russia summons Japanese ambassador over the detention of a fishing boat",
                "Russia's Foreign Ministry summoned the Japanese ambassador on Monday to protest the detention of a fishing boat.",
            ),
            text(
                3,
                "Japan summons Russian ambassador over new sanctions",
                "Japan's Foreign Ministry summoned the Russian ambassador on Monday to protest new sanctions.",
            ),
        ];
        for (index, shown) in [(&one, false), (&two, true)] {
            let why = explain(index, &members, 1);
            let other = &why[1];
            assert_eq!(
                other.background.contains(&"treaty".to_owned()),
                shown,
                "{other:?}"
            );
            assert_eq!(
                other.words.contains(&"treaty".to_owned()),
                !shown,
                "{other:?}"
            );
            assert!(other.words.contains(&"ambassador".to_owned()), "{other:?}");
        }
        // Kept through the stored form, and read back by a new index.
        assert_eq!(
            from_bytes(&to_bytes(&boat)).map(|s| s.sentences),
            Some(boat.sentences.clone())
        );
    }

    #[test]
    fn bucket_entries_find_their_items_across_the_24_bit_wrap() {
        // Slots numbered past 2^24 while the sorted array holds 24 bits
        // of each: items on both sides of the wrap are still found, and
        // newest first.
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        idx.slot_base = (1 << 24) - 3;
        idx.token_base = (1 << 32) - 40;
        let s = signature(
            "Kestrel Systems opens a plant in Sapporo",
            "Kestrel Systems opened a plant in Sapporo on Monday, hiring 450 people.",
        );
        for i in 0..6 {
            idx.insert(i, &s, 1000 + i, 7, i as u32);
        }
        idx.evict();
        let band = band_keys(&s).expect("keys")[0];
        let v = idx.bucket(band);
        let base = (1u64 << 24) - 3;
        assert_eq!(v, (base..base + 6).rev().collect::<Vec<_>>());
        assert_eq!(
            idx.find(&s, 1010, 99).map(|(story, _)| story),
            Some(7),
            "items past the wrap are read back whole"
        );
    }

    #[test]
    fn the_recent_entries_sort_as_a_comparison_sort_does() {
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        // Shared names and figures, so that buckets hold several entries
        // and keys share their low and high halves.
        for i in 0..3000i64 {
            let s = signature(
                &format!("Kono meets Lavrov{} over quota {}", i % 7, i % 13),
                &format!("Talks w{i} in Tokyo{} on Friday.", i % 5),
            );
            idx.insert(i, &s, i * 60, i, 1);
            if idx.recent.is_empty() {
                continue;
            }
            let mut expected: Vec<u64> = Vec::new();
            for (&key, &head) in &idx.recent_heads {
                let mut at = head;
                while let Some(&(slot, next)) = idx.recent.get(at as usize) {
                    expected.push((u64::from(key24(key)) << 40) | idx.full_slot(u64::from(slot)));
                    at = next;
                }
            }
            expected.sort_unstable();
            if i % 97 == 0 || i == 2999 {
                assert_eq!(idx.recent_sorted(), expected, "after item {i}");
            }
        }
        assert!(idx.recent.len() > 1000);
    }

    #[test]
    fn folding_keeps_the_buffers_and_idling_or_evicting_gives_them_back() {
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let sig = |i: i64| {
            signature(
                &format!("Event number w{i} x{i} y{i}"),
                &format!("Text u{i} v{i}."),
            )
        };
        let mut i = 0;
        // Until the recent buckets have been folded at least once.
        while idx.sorted.is_empty() || idx.recent.is_empty() {
            idx.insert(i, &sig(i), i * 60, i, 1);
            i += 1;
            assert!(i < 100_000, "never folded");
        }
        assert!(
            idx.recent.capacity() >= BANDS * 1024 && idx.recent.len() < BANDS * 1024,
            "a fold keeps the recent buffer: {} of {}",
            idx.recent.len(),
            idx.recent.capacity()
        );
        let before = idx.heap_bytes();
        idx.release_spare();
        assert!(
            idx.recent.capacity() <= 2 * idx.recent.len().max(8),
            "idle, the spare room goes: {} of {}",
            idx.recent.len(),
            idx.recent.capacity()
        );
        assert!(idx.heap_bytes() < before);
        idx.evict();
        assert_eq!(idx.recent.capacity(), 0);
        assert!(
            idx.heap_bytes() < before,
            "{} against {before}",
            idx.heap_bytes()
        );
        // The newest item is still found, from the sorted buckets now.
        let last = i - 1;
        assert_eq!(
            idx.find(&sig(last), last * 60, 2).map(|(s, _)| s),
            Some(last)
        );
    }

    #[test]
    fn eviction_forgets_items_outside_the_window() {
        let mut idx = StoryIndex::new(3600, 0.4);
        for i in 0..5000 {
            let s = signature(
                &format!("Event number w{i} x{i}"),
                &format!("Text y{i} z{i}."),
            );
            idx.insert(i, &s, i * 60, i, 1);
        }
        idx.evict();
        // 2 h of slack at one item a minute.
        assert!((115..=125).contains(&idx.len()), "{}", idx.len());
        let s = signature("Event number w4990 x4990", "Text y4990 z4990.");
        assert_eq!(idx.find(&s, 4990 * 60, 2).map(|(s, _)| s), Some(4990));
        let old = signature("Event number w10 x10", "Text y10 z10.");
        assert_eq!(idx.find(&old, 10 * 60, 2), None);
    }

    #[test]
    fn items_counted_ahead_weigh_on_the_window_until_their_turn() {
        const BACKGROUND: &str =
            "Relations between Moscow and Tokyo have sunk to their lowest level in decades.";
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let first = signature("Tohoku Electric receives LNG cargo", BACKGROUND);
        idx.insert(0, &first, 1000, 0, 1);
        // Twenty reports still waiting, each with the same background.
        let coming: Vec<Signature> = (0..20)
            .map(|i| signature(&format!("Report number w{i}"), BACKGROUND))
            .collect();
        let bare = |t: u32| t & !signature::FLAG_BITS;
        let t = *first
            .tokens
            .iter()
            .find(|t| {
                coming
                    .iter()
                    .all(|c| c.tokens.iter().any(|o| bare(*o) == bare(**t)))
            })
            .expect("a background token");
        let alone = idx.weight(t);
        for s in &coming {
            idx.expect(s);
        }
        assert!(
            idx.weight(t) < alone / 2.0,
            "{} against {alone}",
            idx.weight(t)
        );
        for s in &coming {
            idx.unexpect(s);
        }
        assert_eq!(idx.weight(t), alone);
        assert!(idx.df_ahead.is_empty(), "the counts ahead are freed");
    }

    #[test]
    fn a_rebuilt_bucket_keeps_only_what_lookups_read() {
        // 200 items with one text: every band and anchor bucket of theirs
        // holds all 200 until the window is rebuilt.
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let s = signature(
            "Kestrel Systems opens a plant in Sapporo",
            "Kestrel Systems opened a plant in Sapporo on Monday, hiring 450 people.",
        );
        for i in 0..200 {
            idx.insert(i, &s, 1000 + i, i, i as u32);
        }
        let band = band_keys(&s).expect("keys")[0];
        let anchor = anchor_key(s.anchors().next().expect("an anchor"));
        let slots = |idx: &StoryIndex, key: u32| idx.bucket(key);
        assert_eq!(slots(&idx, band).len(), 200);
        idx.evict();
        // A band keeps its newest MAX_PER_BUCKET, newest first, as read.
        let kept = slots(&idx, band);
        assert_eq!(
            kept,
            (200 - MAX_PER_BUCKET as u64..200).rev().collect::<Vec<_>>()
        );
        // An anchor keeps one more than it may have, so it still counts
        // as too common to look up.
        assert_eq!(slots(&idx, anchor).len(), MAX_PER_ANCHOR + 1);
        assert!(idx.bucket_len(anchor, MAX_PER_ANCHOR) > MAX_PER_ANCHOR);
        assert_eq!(
            idx.sorted.len(),
            BANDS * MAX_PER_BUCKET + s.anchors().count() * (MAX_PER_ANCHOR + 1)
        );
    }

    #[test]
    fn buckets_read_in_turn_are_the_buckets_read_one_by_one() {
        // 20 items folded into the sorted array, 15 more in the recent
        // chains: every bucket spans both, and the anchors' hold more than
        // MAX_PER_ANCHOR.
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let s = signature(
            "Kestrel Systems opens a plant in Sapporo",
            "Kestrel Systems opened a plant in Sapporo on Monday, hiring 450 people.",
        );
        for i in 0..20 {
            idx.insert(i, &s, 1000 + i, i, i as u32);
        }
        idx.evict();
        for i in 20..35 {
            idx.insert(i, &s, 1000 + i, i, i as u32);
        }
        assert!(!idx.sorted.is_empty() && !idx.recent.is_empty());
        let keys: Vec<(u32, usize)> = band_keys(&s)
            .expect("keys")
            .into_iter()
            .chain(s.anchors().map(anchor_key))
            .map(|k| (k, bucket_cap(k)))
            .collect();
        let mut together = Vec::new();
        let full = idx.read_buckets(&keys, &mut together);
        for (w, &(key, max)) in keys.iter().enumerate() {
            let alone: Vec<u64> = idx.bucket(key).into_iter().take(max).collect();
            let read: Vec<u64> = together
                .iter()
                .filter(|c| *c >> WALK_TAG == w as u64)
                .map(|c| c & SLOT40)
                .collect();
            assert_eq!(read, alone, "bucket {w}");
            assert_eq!(full >> w & 1 == 1, alone.len() == max, "bucket {w}");
        }
        // Every anchor is too common now, so its entries are taken back:
        // the candidates come from the bands alone.
        assert!(full >> BANDS != 0);
        let hits = idx.candidates(&s, 1040);
        assert_eq!(hits.len(), MAX_SCORED.min(35));
        assert!(hits.iter().all(|h| h.0 == BANDS));
    }

    #[test]
    fn a_bucket_is_found_among_the_others_of_its_directory_cell() {
        // One directory cell holding nine entries under five keys, the
        // first and last low bytes among them.
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let cell = 0x1234u32;
        let lows: [u8; 9] = [0, 1, 1, 3, 3, 3, 7, 200, 255];
        idx.sorted = (0u32..)
            .zip(lows)
            .map(|(slot, low)| u32::from(low) << 24 | slot)
            .collect();
        idx.dir = vec![0; (1 << DIR_BITS) + 1];
        for d in &mut idx.dir[cell as usize + 1..] {
            *d = lows.len() as u32;
        }
        let key = |low: u8| cell << (32 - DIR_BITS) | u32::from(low);
        assert_eq!(idx.bucket(key(3)), [5, 4, 3]);
        assert!(idx.bucket(key(2)).is_empty());
        for low in 0..=255u8 {
            let want: Vec<u64> = idx
                .sorted_bucket(key(low))
                .iter()
                .rev()
                .map(|&e| idx.full_slot24(e))
                .collect();
            assert_eq!(idx.bucket(key(low)), want, "low byte {low}");
        }
        // Read together, each to a cap of two; the buckets of one entry
        // or none are read whole, the others to the cap.
        let keys: Vec<(u32, usize)> = [0, 1, 2, 3, 7, 255].map(|l| (key(l), 2)).to_vec();
        let mut out = Vec::new();
        let full = idx.read_buckets(&keys, &mut out);
        let slots: Vec<u64> = out.iter().map(|c| c & SLOT40).collect();
        assert_eq!(slots, [0, 2, 1, 5, 4, 6, 8]);
        assert_eq!(full, 0b01010);
    }

    #[test]
    fn one_template_filled_twice_is_told_by_its_headlines() {
        let pair = |a: (&str, &str), b: (&str, &str)| {
            let (a, b) = (signature(a.0, a.1), signature(b.0, b.1));
            let (wa, wb) = (vec![1.0f32; a.tokens.len()], vec![1.0f32; b.tokens.len()]);
            signature::template_fillings(
                Side::new(&a.tokens, &wa, a.flags(), &a.slots),
                Side::new(&b.tokens, &wb, b.flags(), &b.slots),
            )
        };
        let drills = |place: &str| {
            (
                format!("Japan's Prime Minister calls for calm after Russian drills near {place}"),
                format!(
                    "Japan's Prime Minister called for calm on Monday after Russian drills near {place}."
                ),
            )
        };
        let (a, b) = (drills("Iturup"), drills("Matua"));
        // Another place in the same headline.
        assert!(pair((&a.0, &a.1), (&b.0, &b.1)));
        // A copy with the same headline is not another filling.
        assert!(!pair(
            (&a.0, &a.1),
            (&a.0, "Kishida said the drills were unacceptable.")
        ));
        // Another figure.
        assert!(pair(
            (
                "Earthquake of magnitude 6.5 hits eastern Hokkaido",
                "An earthquake of magnitude 6.5 struck on Monday."
            ),
            (
                "Earthquake of magnitude 5.1 hits eastern Hokkaido",
                "An earthquake of magnitude 5.1 struck on Monday."
            ),
        ));
        // A copy retold with an attribution is not another filling.
        assert!(!pair(
            (
                "Alexey Navalny detained at Sheremetyevo Airport",
                "Alexey Navalny was detained at Sheremetyevo airport on his return."
            ),
            (
                "FSIN says Navalny detained at Sheremetyevo for probation violations",
                "Alexei Navalny has been detained at Sheremetyevo airport, the FSIN said."
            ),
        ));
    }

    #[test]
    fn the_horizon_is_the_reach_of_the_time_penalty_when_that_is_shorter() {
        // At 0.45 no pair more than 55 h apart can score enough, so a
        // 72 h window keeps 110 h of items, not 144.
        assert_eq!(StoryIndex::new(72 * 3600, 0.45).horizon(), 110 * 3600);
        // A short window is its own reach.
        assert_eq!(StoryIndex::new(3600, 0.45).horizon(), 2 * 3600);
        // At threshold 0 the penalty reaches 100 h, beyond the window.
        assert_eq!(StoryIndex::new(72 * 3600, 0.0).horizon(), 144 * 3600);
    }

    #[test]
    fn a_story_is_suspect_once_when_it_grows_too_big_or_too_long() {
        let s = signature("Daily notice", "The same text every time, word for word.");
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        let mut said = Vec::new();
        for i in 0..40i64 {
            if let Some(why) = idx.suspect(7, 1000 + i) {
                said.push((i, why));
            }
            idx.insert(i, &s, 1000 + i, 7, i as u32);
        }
        let n = i64::from(SUSPECT_MEMBERS) - 1;
        assert_eq!(said, [(n, Suspect::Members(SUSPECT_MEMBERS))]);
        // Members spread over more than two days.
        let mut idx = StoryIndex::new(72 * 3600, 0.0);
        let mut said = Vec::new();
        for i in 0..8i64 {
            let t = i * 10 * 3600;
            if let Some(why) = idx.suspect(3, t) {
                said.push((i, why));
            }
            idx.insert(i, &s, t, 3, i as u32);
        }
        assert_eq!(said, [(5, Suspect::Hours(50))]);
    }

    #[test]
    fn a_story_stops_growing_at_its_cap() {
        let s = signature(
            "Daily notice",
            "The same boilerplate text every time, word for word.",
        );
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        for i in 0..i64::from(MAX_STORY_SIZE) {
            assert!(i == 0 || idx.find(&s, 1000 + i, i as u32).is_some());
            idx.insert(i, &s, 1000 + i, 7, i as u32);
        }
        assert_eq!(
            idx.find(&s, 5000, 9999),
            None,
            "a full story takes no more members"
        );
    }

    #[test]
    fn attributions_name_the_agency() {
        for (text, agency) in [
            ("Axar.az reports citing TASS.", "TASS"),
            ("MOSCOW, May 10 /TASS/ - Japan said", "TASS"),
            ("(Reuters) - Japan's foreign minister said", "Reuters"),
            ("The talks went well — TASS", "TASS"),
            ("Kyodo News reported on Friday.", "Kyodo"),
            ("according to Interfax.", "Interfax"),
            ("Переговоры прошли в Москве, сообщает ТАСС.", "TASS"),
            ("共同通信によると、外相が会談した。", "Kyodo"),
        ] {
            assert_eq!(cited_agency(text), Some(agency), "{text}");
        }
        assert_eq!(
            cited_agency("The minister said talks would continue."),
            None
        );
        assert_eq!(agency_named("TASS"), Some("TASS"));
        assert_eq!(agency_named("ТАСС"), Some("TASS"));
        assert_eq!(agency_named("Kyodo News"), Some("Kyodo"));
        assert_eq!(agency_named("The Japan Times"), None);
    }

    proptest::proptest! {
        /// Searching for "reported" first and matching just before it
        /// finds what matching the whole text finds.
        #[test]
        fn the_windowed_attribution_search_agrees_with_the_plain_one(
            words in proptest::collection::vec(
                "Kyodo|News|TASS|the|Reuters|reported|Reported|reports|reportedly|news agency|said|minister|Tokyo|,|\\.|-|  |\n|Ab[a-z]{0,40}|Москва|共同通信",
                0..60,
            )
        ) {
            let text = words.join(" ");
            let plain = ATTRIBUTIONS.iter().find_map(|a| {
                a.pattern.captures_iter(&text).find_map(|c| {
                    agency_named(c.iter().skip(1).flatten().next()?.as_str())
                })
            });
            proptest::prop_assert_eq!(cited_agency(&text), plain, "{}", text);
        }
    }
}

#[cfg(test)]
mod eval {
    //! In-process scoring of the labelled sets (tests/integration/stories.rs does it end
    //! to end through the binary), for tuning the rules: `cargo test --lib
    //! eval_ -- --ignored --nocapture` prints the scores. Set VERBOSE to
    //! list every wrong pair, DECISIONS every wrong join with the story's
    //! first item, TRACE=<item id> one item's candidates and scores,
    //! VETOES to count why true pairs fall under the threshold (or
    //! VETOES=<rule> to list them), THRESH=0.5 to try another threshold,
    //! EVAL_FILE=<path> to score another set in place of busy.json (say,
    //! `scripts/gen_busy_day.py --seed 7 --out /tmp/busy7.json`), and
    //! DUMP=<prefix> to write each item's signature as a JSON line to
    //! `<prefix>.<set>` for prototyping a decision outside Rust,
    //! FEATS=<prefix> to write every candidate pair's verifier features
    //! (the input of `scripts/fit_verifier.py`), MIXED to list the stories
    //! that mix more than two events, ORACLE=1 to refuse wrong joins and
    //! CANDORACLE=1 to join any true candidate (the recall a perfect
    //! precision, or a perfect verifier, would reach).
    use super::*;

    #[derive(serde::Deserialize)]
    struct Item {
        id: String,
        story: String,
        feed: String,
        title: String,
        summary: String,
        published: String,
    }

    fn evaluate(file: &str) {
        #[derive(serde::Deserialize)]
        struct F {
            items: Vec<Item>,
        }
        // EVAL_FILE=/path/to/set.json scores another set (another seed of
        // scripts/gen_busy_day.py) in place of the busy-day fixture.
        let file = match std::env::var("EVAL_FILE") {
            Ok(f) if file == "busy.json" => f,
            _ => file.to_owned(),
        };
        let p = if file.contains('/') {
            file.clone()
        } else {
            format!(
                "{}/tests/fixtures/stories/{file}",
                env!("CARGO_MANIFEST_DIR")
            )
        };
        let f: F = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let mut items = f.items;
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        items.sort_by_key(|i| t(&i.published));
        let th = std::env::var("THRESH")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(crate::config::DEFAULT_STORY_THRESHOLD);
        let verbose = std::env::var("VERBOSE").is_ok();
        let mut idx = StoryIndex::new(72 * 3600, th);
        let mut pred = Vec::new();
        let started = std::time::Instant::now();
        let decisions = std::env::var("DECISIONS").is_ok();
        let mut feeds: Vec<String> = Vec::new();
        let mut source = |f: &str| -> u32 {
            if let Some(i) = feeds.iter().position(|x| *x == f) {
                return i as u32;
            }
            feeds.push(f.to_owned());
            (feeds.len() - 1) as u32
        };
        let mut sigs: Vec<Signature> = Vec::new();
        // DUMP=<path>: the signatures as JSON lines, for prototyping.
        let mut dump = std::env::var("DUMP")
            .ok()
            .map(|d| std::fs::File::create(format!("{d}.{}", file.replace('/', "_"))).unwrap());
        let mut first_of: FxHashMap<i64, usize> = FxHashMap::default();
        let mut feats = std::env::var("FEATS")
            .ok()
            .map(|d| std::fs::File::create(format!("{d}.{}", file.replace('/', "_"))).unwrap());
        // As the grouper does with a batch (store/grouping.rs), over the
        // whole set; AHEAD=<seconds> (0: none) to try others.
        let ahead: i64 = std::env::var("AHEAD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(LOOK_AHEAD);
        let mut expected: std::collections::VecDeque<Signature> = Default::default();
        let mut next_expect = 0;
        for (n, it) in items.iter().enumerate() {
            if ahead > 0 {
                let until = t(&it.published) + ahead;
                while next_expect < items.len() && t(&items[next_expect].published) <= until {
                    let o = &items[next_expect];
                    let s = signature(&o.title, &o.summary);
                    idx.expect(&s);
                    expected.push_back(s);
                    next_expect += 1;
                }
                if let Some(e) = expected.pop_front() {
                    idx.unexpect(&e);
                }
            }
            let s = signature(&it.title, &it.summary);
            let src = source(&it.feed);
            if let Some(d) = dump.as_mut() {
                use std::io::Write;
                let line = serde_json::json!({
                    "id": it.id, "story": it.story, "feed": src, "t": t(&it.published),
                    "flags": s.flags(), "tokens": s.tokens, "slots": s.slots,
                    "title": it.title,
                });
                writeln!(d, "{line}").unwrap();
            }
            let mut d = idx.decide(&s, t(&it.published), src);
            if let Some(f) = feats.as_mut() {
                use std::io::Write;
                let mut wa = Vec::new();
                idx.weights_into(&s.tokens, idx.sentences.background(&s), &mut wa);
                for (_, _, c) in idx.candidates(&s, t(&it.published)) {
                    let mut wb = Vec::new();
                    let toks = idx.tokens_of(c).unwrap();
                    idx.weights_into(toks, c.background, &mut wb);
                    let x = signature::features(
                        Side::new(&s.tokens, &wa, s.flags(), &s.slots).rare(idx.rare_figure()),
                        Side::new(toks, &wb, c.flags, idx.slots_of(c).unwrap()),
                        (c.time - t(&it.published)).abs() as f64 / 3600.0,
                    );
                    let y = u8::from(items[c.id as usize].story == it.story);
                    let xs: Vec<String> = x.iter().map(|v| format!("{v:.4}")).collect();
                    writeln!(f, "{y},{},{},{}", n, c.id, xs.join(",")).unwrap();
                }
            }
            if std::env::var("CANDORACLE").is_ok() {
                d = idx
                    .candidates(&s, t(&it.published))
                    .into_iter()
                    .find(|c| items[c.2.id as usize].story == it.story)
                    .map(|c| Decision {
                        story: c.2.story,
                        score: 1.0,
                        agreed: 1,
                        scored: 1,
                    });
            }
            if std::env::var("TRACE").is_ok_and(|x| x == it.id) {
                for (h, slot, c) in idx.candidates(&s, t(&it.published)) {
                    let o = &items[c.id as usize];
                    let (mut wa, mut wb) = (Vec::new(), Vec::new());
                    idx.weights_into(&s.tokens, idx.sentences.background(&s), &mut wa);
                    let toks = idx.tokens_of(c).unwrap();
                    idx.weights_into(toks, c.background, &mut wb);
                    let sc = signature::score(
                        Side::new(&s.tokens, &wa, s.flags(), &s.slots).rare(idx.rare_figure()),
                        Side::new(toks, &wb, c.flags, idx.slots_of(c).unwrap()),
                        (c.time - t(&it.published)).abs() as f64 / 3600.0,
                    );
                    println!(
                        "  cand {h} slot {slot} story {} [{}] score {sc:.2}: {} ({})",
                        c.story, o.story, o.title, o.feed
                    );
                }
                println!(
                    "  decision {d:?}, pred of truth: {:?}",
                    items[..n]
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| o.story == it.story)
                        .map(|(m, _)| pred[m])
                        .collect::<Vec<_>>()
                );
            }
            // ORACLE: refuse wrong joins, to see what recall precision costs.
            let d = d.filter(|d| {
                std::env::var("ORACLE").is_err() || items[first_of[&d.story]].story == it.story
            });
            let story = d.as_ref().map_or(n as i64, |d| d.story);
            if let (true, Some(d)) = (decisions, &d) {
                let f = &items[first_of[&d.story]];
                if f.story != it.story {
                    println!(
                        "WRONG {:.2} {}/{}\n   {} | {}\n   {} | {}",
                        d.score, d.agreed, d.scored, f.title, f.summary, it.title, it.summary
                    );
                }
            }
            first_of.entry(story).or_insert(n);
            idx.insert(n as i64, &s, t(&it.published), story, src);
            sigs.push(s);
            pred.push(story);
        }
        let took = started.elapsed();
        if std::env::var("VETOES").is_ok() {
            // Why true pairs (same language) score under the threshold.
            let mut why: FxHashMap<&'static str, usize> = FxHashMap::default();
            let mut low = 0;
            let wi = vec![1.0f32; 0];
            let _ = wi;
            for i in 0..items.len() {
                for j in 0..i {
                    if items[i].story != items[j].story || sigs[i].latin != sigs[j].latin {
                        continue;
                    }
                    let (wa, wb) = (
                        vec![1.0; sigs[i].tokens.len()],
                        vec![1.0; sigs[j].tokens.len()],
                    );
                    let hours =
                        (t(&items[i].published) - t(&items[j].published)).abs() as f64 / 3600.0;
                    let sc = signature::score_with(
                        Side::new(&sigs[i].tokens, &wa, sigs[i].flags(), &sigs[i].slots),
                        Side::new(&sigs[j].tokens, &wb, sigs[j].flags(), &sigs[j].slots),
                        hours,
                        true,
                    );
                    if sc < th {
                        let v = signature::VETO.with(|v| v.get());
                        let v = if v.is_empty() { "low-score" } else { v };
                        *why.entry(v).or_default() += 1;
                        low += 1;
                        if std::env::var("VETOES").is_ok_and(|x| x == v) {
                            println!(
                                "VETO {v} {:.2}: {} | {}\n     {} | {}",
                                sc,
                                items[i].title,
                                items[i].summary,
                                items[j].title,
                                items[j].summary
                            );
                        }
                    }
                }
            }
            println!("true pairs under the threshold (uniform weights, strict): {low}: {why:?}");
        }
        let (mut tp, mut fp, mut fnn) = (0, 0, 0);
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                match (items[i].story == items[j].story, pred[i] == pred[j]) {
                    (true, true) => tp += 1,
                    (false, true) => {
                        fp += 1;
                        if verbose {
                            println!(
                                "FP {} + {}: {:?} / {:?}",
                                items[i].id, items[j].id, items[i].title, items[j].title
                            );
                        }
                    }
                    (true, false) => {
                        fnn += 1;
                        if verbose {
                            println!(
                                "FN {} / {}: {:?} / {:?}",
                                items[i].id, items[j].id, items[i].title, items[j].title
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut events: FxHashMap<i64, std::collections::BTreeSet<&str>> = FxHashMap::default();
        for (it, p) in items.iter().zip(&pred) {
            events.entry(*p).or_default().insert(&it.story);
        }
        if std::env::var("MIXED").is_ok() {
            for (p, e) in &events {
                if e.len() > 2 {
                    println!("MIXED story {p}: {} events", e.len());
                    for (it, q) in items.iter().zip(&pred) {
                        if q == p {
                            println!(
                                "   [{}] {} ({}) {}",
                                it.story, it.title, it.feed, it.published
                            );
                        }
                    }
                }
            }
        }
        let mixed = events.values().filter(|e| e.len() > 1).count();
        let widest = events.values().map(|e| e.len()).max().unwrap_or(0);
        println!(
            "{file}: {} items, {took:.2?}; tp {tp} fp {fp} fn {fnn} precision {:.3} recall {:.3}; {mixed} stories mix events, at most {widest}",
            items.len(),
            tp as f64 / (tp + fp) as f64,
            tp as f64 / (tp + fnn) as f64
        );
    }

    #[test]
    #[ignore]
    fn eval_labelled() {
        evaluate("labelled.json");
    }

    #[test]
    #[ignore]
    fn eval_busy() {
        evaluate("busy.json");
    }
}
