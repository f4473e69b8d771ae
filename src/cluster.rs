//! Story detection: items from different feeds about the same event (wire
//! copies, rewrites, "X reports citing TASS") are grouped into one story.
//!
//! Each item gets a MinHash sketch of the word shingles of its title and
//! summary. Locality-sensitive hashing over bands of the sketch finds the
//! few earlier items worth comparing, among those within the time window,
//! so the cost per item stays flat as the database grows; only the window's
//! sketches are kept in memory, the rest live in the database.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::topics::text::{fold, html_to_text, words};

/// Hash functions per sketch.
pub const K: usize = 64;
/// LSH bands and rows per band (BANDS * ROWS = K). Two rows per band make
/// pairs with a Jaccard similarity of 0.3 candidates 95% of the time.
const BANDS: usize = 32;
const ROWS: usize = K / BANDS;

/// Candidates compared per LSH bucket, newest first.
const MAX_PER_BUCKET: usize = 64;
/// A story stops taking members here: no event has hundreds of copies in a
/// few days, but a feed of near-identical boilerplate items would otherwise
/// grow one story without end (and its bookkeeping with it).
pub const MAX_STORY_SIZE: u32 = 200;

/// A MinHash sketch.
pub type Sketch = [u32; K];

/// Words that carry no meaning of their own; left out of shingles so that
/// "the", "of" and "said" do not make unrelated items look alike.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "he", "in",
    "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "were",
    "will", "with", "said", "says", "also", "after", "but", "not", "which", "who", "would", "и",
    "в", "во", "не", "что", "на", "с", "со", "по", "о", "об", "к", "из", "за", "для", "от",
];

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: a fast, well-distributed 64-bit mix.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a, then mixed: stable across runs and platforms (sketches are
    // stored), unlike std's randomly keyed hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// The shingles of an item's text: each word, and each pair of adjacent
/// words, of the folded title and summary, stopwords left out. Single words
/// keep rewrites with reordered phrasing close; pairs keep different events
/// about the same people apart.
fn shingles(title: &str, body_text: &str) -> Vec<u64> {
    let text = fold(&format!("{title}\n{body_text}"));
    let ws: Vec<&str> = words(&text)
        .filter(|w| !STOPWORDS.contains(w) && !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let mut out: Vec<u64> = ws.iter().map(|w| hash_str(w)).collect();
    out.extend(
        ws.windows(2)
            .map(|p| mix(hash_str(p[0]) ^ hash_str(p[1]).rotate_left(17))),
    );
    // Scripts without spaces have no words to pair: use character bigrams.
    let cjk: Vec<char> = text
        .chars()
        .filter(|c| crate::topics::text::is_unspaced_script(*c))
        .collect();
    out.extend(
        cjk.windows(2)
            .map(|p| mix((u64::from(p[0] as u32) << 32) | u64::from(p[1] as u32))),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// The sketch of an item: title plus its summary (or content) as HTML.
pub fn sketch(title: &str, body_html: &str) -> Sketch {
    let body = html_to_text(body_html);
    // The lead carries the event; long bodies would drown it.
    let body: String = body
        .split_whitespace()
        .take(120)
        .collect::<Vec<_>>()
        .join(" ");
    let sh = shingles(title, &body);
    let mut s = [u32::MAX; K];
    for &x in &sh {
        for (i, slot) in s.iter_mut().enumerate() {
            let h = (mix(x ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    s
}

/// Estimated Jaccard similarity of the two shingle sets.
pub fn similarity(a: &Sketch, b: &Sketch) -> f64 {
    let same = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x == y && **x != u32::MAX)
        .count();
    same as f64 / K as f64
}

pub fn to_bytes(s: &Sketch) -> Vec<u8> {
    s.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn from_bytes(b: &[u8]) -> Option<Sketch> {
    if b.len() != K * 4 {
        return None;
    }
    let mut s = [0u32; K];
    for (i, c) in b.chunks_exact(4).enumerate() {
        s[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    Some(s)
}

fn band_key(band: usize, s: &Sketch) -> u64 {
    let mut h = band as u64;
    for v in &s[band * ROWS..(band + 1) * ROWS] {
        h = mix(h ^ u64::from(*v));
    }
    h
}

struct Indexed {
    sketch: Sketch,
    time: i64,
    story: i64,
}

/// The sketches of the items within the time window, with an LSH table.
pub struct StoryIndex {
    window: i64,
    threshold: f64,
    items: HashMap<i64, Indexed>,
    buckets: HashMap<u64, Vec<i64>>,
    /// Members per story, for the stories with an item in the index.
    sizes: HashMap<i64, u32>,
    newest: i64,
    since_evict: usize,
}

impl StoryIndex {
    /// `window` in seconds: items further apart never join; `threshold`:
    /// the estimated Jaccard similarity from which they do.
    pub fn new(window: i64, threshold: f64) -> StoryIndex {
        StoryIndex {
            window,
            threshold,
            items: HashMap::new(),
            buckets: HashMap::new(),
            sizes: HashMap::new(),
            newest: i64::MIN,
            since_evict: 0,
        }
    }

    /// The story of the most similar indexed item within the window, if it
    /// reaches the threshold.
    pub fn find(&self, s: &Sketch, time: i64) -> Option<(i64, f64)> {
        let mut best: Option<(i64, f64)> = None;
        let mut seen: rustc_hash::FxHashSet<i64> = Default::default();
        for band in 0..BANDS {
            let Some(ids) = self.buckets.get(&band_key(band, s)) else {
                continue;
            };
            // A bucket only grows huge for boilerplate every item shares;
            // its newest entries are the ones worth comparing.
            for id in ids.iter().rev().take(MAX_PER_BUCKET) {
                if !seen.insert(*id) {
                    continue;
                }
                let Some(it) = self.items.get(id) else {
                    continue;
                };
                if (it.time - time).abs() > self.window
                    || self
                        .sizes
                        .get(&it.story)
                        .is_some_and(|&n| n >= MAX_STORY_SIZE)
                {
                    continue;
                }
                let sim = similarity(s, &it.sketch);
                if sim >= self.threshold && best.is_none_or(|(_, b)| sim > b) {
                    best = Some((it.story, sim));
                }
            }
        }
        best
    }

    pub fn insert(&mut self, item: i64, s: Sketch, time: i64, story: i64) {
        for band in 0..BANDS {
            self.buckets
                .entry(band_key(band, &s))
                .or_default()
                .push(item);
        }
        self.items.insert(
            item,
            Indexed {
                sketch: s,
                time,
                story,
            },
        );
        *self.sizes.entry(story).or_default() += 1;
        self.newest = self.newest.max(time);
        self.since_evict += 1;
        if self.since_evict >= 4096 {
            self.evict();
        }
    }

    /// Forgets items that no new item can reach any more. Items may arrive
    /// somewhat out of order, so a second window of slack is kept.
    pub fn evict(&mut self) {
        self.since_evict = 0;
        let cutoff = self.newest.saturating_sub(2 * self.window);
        self.items.retain(|_, it| it.time >= cutoff);
        let items = &self.items;
        self.buckets.retain(|_, ids| {
            ids.retain(|id| items.contains_key(id));
            !ids.is_empty()
        });
        let live: std::collections::HashSet<i64> = items.values().map(|i| i.story).collect();
        self.sizes.retain(|s, _| live.contains(s));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Approximate heap use, for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        let item = std::mem::size_of::<(i64, Indexed)>() + 8;
        let bucket_ids: usize = self
            .buckets
            .values()
            .map(|v| v.capacity() * 8 + 24 + 16)
            .sum();
        self.items.capacity() * item + bucket_ids
    }
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
    static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        [
            r"(?i)\b(?:citing|according to|quoting|via|cited by)\s+(?:the\s+)?([A-Za-z][A-Za-z .-]{1,30}?)(?:\s+news agency|\s+reported|\s+said|[.,;]|$)",
            r"(?i)\b([A-Za-z][A-Za-z .-]{1,30}?)\s+(?:reported|reports|news agency reported)\b",
            r"/\s*([A-Za-z]{2,12})\s*/",
            r"^\s*\(([A-Za-z][A-Za-z .-]{1,30})\)\s*[-–—]",
            r"[—–-]\s*([A-Z][A-Za-z]{1,12})\.?\s*$",
            r"(?i)(?:сообщает|сообщил[аои]?|передает|передаёт|по данным|со ссылкой на)\s+([А-Яа-яЁёA-Za-z ]{2,30}?)(?:[.,;]|$)",
            r"([\p{Han}\p{Katakana}]{2,6})(?:によると|が報じた|の報道)",
            r"（([\p{Han}]{2,4})）|\(([\p{Han}]{2,4})\)",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    });
    for p in PATTERNS.iter() {
        for c in p.captures_iter(text) {
            let Some(name) = c.iter().skip(1).flatten().next() else {
                continue;
            };
            if let Some(agency) = agency_named(name.as_str()) {
                return Some(agency);
            }
        }
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
                        .all(|x| x.chars().any(crate::topics::text::is_unspaced_script))
                        && n.contains(alias))
            })
            .then_some(*canon)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_similar_and_other_events_are_not() {
        let orig = sketch(
            "Japan seeks to bring relations with Russia to new level",
            "Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov on Friday.",
        );
        let copy = sketch(
            "Japan seeks to bring relations with Russia to new level",
            "<p>Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov on Friday.</p><p>Axar.az reports citing TASS.</p>",
        );
        let other = sketch(
            "Lavrov and Kono discuss fishing quotas near the Kurils",
            "Russian Foreign Minister Sergey Lavrov and Japanese Foreign Minister Taro Kono discussed salmon fishing quotas in talks in Tokyo on Monday.",
        );
        assert!(
            similarity(&orig, &copy) > 0.7,
            "{}",
            similarity(&orig, &copy)
        );
        assert!(
            similarity(&orig, &other) < 0.3,
            "{}",
            similarity(&orig, &other)
        );
        assert_eq!(from_bytes(&to_bytes(&orig)), Some(orig));
    }

    #[test]
    fn the_index_finds_copies_within_the_window_only() {
        let a = sketch(
            "Quake hits Hokkaido",
            "A strong earthquake struck Hokkaido on Sunday morning, the Japan Meteorological Agency said.",
        );
        let b = sketch(
            "UPDATE 1-Quake hits Hokkaido",
            "A strong earthquake struck Hokkaido on Sunday morning, the Japan Meteorological Agency said, with no tsunami warning.",
        );
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        idx.insert(1, a, 1_000_000, 10);
        assert_eq!(idx.find(&b, 1_000_000 + 3600).map(|(s, _)| s), Some(10));
        assert_eq!(idx.find(&b, 1_000_000 + 80 * 3600), None);
    }

    #[test]
    fn a_story_stops_growing_at_its_cap() {
        let s = sketch(
            "Daily notice",
            "The same boilerplate text every time, word for word.",
        );
        let mut idx = StoryIndex::new(72 * 3600, 0.4);
        for i in 0..i64::from(MAX_STORY_SIZE) {
            assert!(i == 0 || idx.find(&s, 1000 + i).is_some());
            idx.insert(i, s, 1000 + i, 7);
        }
        assert_eq!(
            idx.find(&s, 5000),
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
}
