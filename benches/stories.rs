//! Story assignment benchmark: sketching items and finding their story in
//! the windowed LSH index, on one core, with synthetic news items in which
//! a fifth of the stories are carried by several outlets.
//!
//! `cargo bench --bench stories` runs 50,000 items (timing, 5 runs) and
//! 500,000 items spread over 90 days (memory of the window's sketches);
//! `-- --smoke` a small version. `STORIES_TIMED_ONLY=1` stops after the
//! timed part, for profiling it alone (`perf record`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use feedsift::cluster::{StoryIndex, signature};

const WORDS: &[&str] = &[
    "Russia",
    "Japan",
    "Moscow",
    "Tokyo",
    "Lavrov",
    "Kono",
    "Putin",
    "Abe",
    "Kishida",
    "minister",
    "foreign",
    "talks",
    "treaty",
    "peace",
    "islands",
    "Kuril",
    "fisheries",
    "quota",
    "visa",
    "energy",
    "Sakhalin",
    "gas",
    "oil",
    "yen",
    "rouble",
    "market",
    "shares",
    "exports",
    "drill",
    "military",
    "navy",
    "border",
    "Azerbaijan",
    "Armenia",
    "Baku",
    "Yerevan",
    "summit",
    "agreement",
    "economic",
    "cooperation",
    "investment",
    "sanctions",
    "flights",
    "tourism",
    "visit",
    "delegation",
    "parliament",
    "election",
    "governor",
    "region",
    "budget",
    "inflation",
    "bank",
    "rate",
    "hockey",
    "football",
    "match",
    "season",
    "coach",
    "record",
    "weather",
    "earthquake",
    "typhoon",
    "rescue",
];

/// A deterministic pseudo-random stream (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Item {
    title: String,
    body: String,
    time: i64,
    /// The feed: copies come from other feeds than their original.
    source: u32,
}

/// A made-up word for `n`, letters only (digits would make it a figure to
/// the tokenizer, and real rare words are names and terms, not numbers).
fn rare_word(mut n: usize) -> String {
    let mut w = String::from("q");
    loop {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return w;
        }
    }
}

/// `n` items over `days`; every fifth story is republished 1–4 times with
/// a changed headline and an attribution line.
fn items(n: usize, days: i64) -> Vec<Item> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(n);
    let span = days * 86_400;
    while out.len() < n {
        let time = (out.len() as i64 * span) / n as i64;
        // News vocabulary plus rarer words (names, figures, places) that
        // make each story's text its own, as in real copy.
        let word = |rng: &mut Rng| -> String {
            if rng.pick(3) == 0 {
                WORDS[rng.pick(WORDS.len())].to_owned()
            } else {
                rare_word(rng.pick(20_000))
            }
        };
        let title: Vec<String> = (0..8).map(|_| word(&mut rng)).collect();
        let body: Vec<String> = (0..60).map(|_| word(&mut rng)).collect();
        let (title, body) = (title.join(" "), format!("<p>{}.</p>", body.join(" ")));
        let copies = if rng.pick(5) == 0 { 1 + rng.pick(4) } else { 0 };
        let source = rng.pick(100) as u32;
        for c in 0..copies {
            out.push(Item {
                title: format!("UPDATE {c}-{title}"),
                body: format!("{body}<p>Outlet {c} reports citing TASS.</p>"),
                time: time + 600 * (c as i64 + 1),
                source: (source + 1 + c as u32) % 100,
            });
        }
        out.push(Item {
            title,
            body,
            time,
            source,
        });
    }
    out.truncate(n);
    out.sort_by_key(|i| i.time);
    out
}

fn assign_all(items: &[Item]) -> (usize, StoryIndex) {
    let mut index = StoryIndex::new(72 * 3600, feedsift::config::DEFAULT_STORY_THRESHOLD);
    let mut next_story = 0i64;
    let mut joined = 0;
    for (i, it) in items.iter().enumerate() {
        let s = signature(&it.title, &it.body);
        let story = match index.find(&s, it.time, it.source) {
            Some((story, _)) => {
                joined += 1;
                story
            }
            None => {
                next_story += 1;
                next_story
            }
        };
        index.insert(i as i64, &s, it.time, story, it.source);
    }
    (joined, index)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (n, runs, big) = if smoke {
        (5_000, 1, 50_000)
    } else {
        (50_000, 5, 500_000)
    };

    let data = items(n, 30);
    let mut times = Vec::new();
    let mut joined = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let (j, index) = assign_all(black_box(&data));
        times.push(start.elapsed());
        joined = j;
        black_box(index);
    }
    let t = median(times);
    println!(
        "stories: assigned {n} items over 30 days in {:.3} s median of {runs} ({:.1} µs per item; {joined} joined an existing story)",
        t.as_secs_f64(),
        t.as_secs_f64() * 1e6 / n as f64
    );

    // The share of that spent on signatures (tokenising, rules, sketch).
    let start = Instant::now();
    for it in &data {
        black_box(signature(&it.title, &it.body));
    }
    println!(
        "stories: of which signatures {:.3} s",
        start.elapsed().as_secs_f64()
    );

    if std::env::var_os("STORIES_TIMED_ONLY").is_some() {
        return;
    }
    let data = items(big, 90);
    let (_, mut index) = assign_all(&data);
    index.evict();
    println!(
        "stories: {big} items over 90 days: {} sketches in the window, {:.1} MiB of index",
        index.len(),
        index.heap_bytes() as f64 / (1 << 20) as f64
    );
    let per_item = |bytes: usize| bytes as f64 / index.len().max(1) as f64;
    let parts: Vec<String> = index
        .heap_parts()
        .iter()
        .map(|(what, bytes)| format!("{what} {:.0}", per_item(*bytes)))
        .collect();
    println!(
        "stories: bytes per item in the window: {:.0} ({})",
        per_item(index.heap_bytes()),
        parts.join(", ")
    );
}
