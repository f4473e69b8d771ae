//! Topic matching benchmark, single thread, no I/O: 50 realistic topic
//! queries against 50,000 synthetic items (a title and about 1 KB of HTML
//! summary each; about 80% English, 15% Russian, 5% Japanese), generated
//! deterministically from word lists.
//!
//! Measured (medians):
//!   (a) compile  — compiling all 50 topics (20 runs; target < 10 ms);
//!   (b) build    — building the `Document` of every item;
//!   (c) match    — matching the 50 topics against the prebuilt Documents;
//!   (d) together — build each item's Document and match it, as the store
//!                  does for new items (target < 1 s).
//! (b), (c) and (d) take 5 runs each. The summed match counts are printed so
//! the work cannot be optimised away.
//!
//! `cargo bench --bench topics` runs it all; `-- --smoke` runs 5,000 items
//! once. `-- --items N --runs R` to change the size; `-- --per-topic` adds
//! the time each topic takes to match.

#[path = "common/args.rs"]
mod args;

use std::hint::black_box;
use std::time::{Duration, Instant};

use feedsift::topics::{Aliases, Document, ItemText, Matcher, compile};

const TOPICS: &[&str] = &[
    "@russia @japan",
    "\"peace treaty\" (@russia OR @japan)",
    "@kurils",
    "Kuril* OR Курил* OR 北方領土",
    "\"Russia Japan\"~10",
    "title:@japan -category:sport",
    "@markets @japan",
    "@markets @russia -@sport",
    "@sport @japan",
    "feed:tass @japan",
    "author:Ivanova OR author:\"Kenji Sato\"",
    "/kuril(e|s)? islands?/",
    "/\\b(nikkei|topix)\\b.{0,60}\\b(record|high)\\b/",
    "Putin OR Путин* OR プーチン",
    "\"trade deal\" OR \"торговое соглашение\" OR 貿易協定",
    "@energy (@russia OR @japan)",
    "LNG OR \"Sakhalin-2\" OR Сахалин*",
    "yen -@sport",
    "rouble OR ruble OR рубл*",
    "category:politics @japan",
    "@east -@markets",
    "@treaty",
    "\"foreign minister\"~2 @russia",
    "title:(Tokyo OR Moscow) summary:talks",
    "@sport -football",
    "hockey OR хокке* OR ホッケー",
    "\"central bank\" (rate* OR ставк*)",
    "NOT @sport NOT @markets @russia",
    "Japan Russia OR Япония Россия OR 日本 ロシア",
    "fisher* OR рыба* OR 漁業",
    "\"Northern Territories\" OR \"Южные Курилы\"",
    "feed:nhk -@sport",
    "feed:(reuters OR bbc) @kurils",
    "\"sanctions\" @russia -@sport",
    "Kishida OR Ishiba OR Кисида OR Исиба OR 石破",
    "\"stock market\"~3 (record OR high OR рекорд*)",
    "/\\bg(7|20)\\b/ @japan",
    "Olympic* OR олимпи* OR 五輪",
    "@diplomacy",
    "visa* OR виз* OR ビザ",
    "Sakhalin* -@energy",
    "\"Moscow Tokyo\"~5 OR \"Москва Токио\"~5",
    "category:(economy OR markets) @russia",
    "author:Ivanova -@markets",
    "@energy @markets",
    "(@russia OR @japan) (@sport OR @markets) -NOTHINGHERE",
    "summary:\"peace treaty\" -title:treaty",
    "Tokyo* OR Токио OR 東京",
    "\"Kuril Islands\" OR /курил\\w* остров\\w*/",
    "@russia OR @japan OR @kurils OR @sport OR @markets",
];

fn aliases() -> Aliases {
    let a: &[(&str, &[&str])] = &[
        (
            "russia",
            &[
                "Russia",
                "Russian",
                "Moscow",
                "Kremlin",
                "Putin",
                "Росси*",
                "Москв*",
                "Кремл*",
                "ロシア",
                "モスクワ",
            ],
        ),
        (
            "japan",
            &[
                "Japan",
                "Japanese",
                "Tokyo",
                "Kishida",
                "Ishiba",
                "Япони*",
                "Токио",
                "日本",
                "東京",
            ],
        ),
        (
            "kurils",
            &[
                "Kuril Islands",
                "Kuril*",
                "\"Northern Territories\"",
                "Курил*",
                "北方領土",
                "/habomai|shikotan|etorofu|iturup/",
            ],
        ),
        (
            "sport",
            &[
                "sport*",
                "football",
                "soccer",
                "hockey",
                "Olympic*",
                "спорт*",
                "футбол*",
                "хокке*",
                "スポーツ",
                "サッカー",
            ],
        ),
        (
            "markets",
            &[
                "stock market",
                "Nikkei",
                "Topix",
                "MOEX",
                "shares",
                "stocks",
                "рын*",
                "акци*",
                "Мосбирж*",
                "株価",
                "日経平均",
            ],
        ),
        (
            "energy",
            &[
                "LNG",
                "oil",
                "gas",
                "Sakhalin-2",
                "нефт*",
                "газ*",
                "СПГ",
                "原油",
                "ガス",
            ],
        ),
        (
            "treaty",
            &["\"peace treaty\"~3", "мирный договор", "平和条約"],
        ),
        ("east", &["@japan", "@kurils"]),
        (
            "diplomacy",
            &[
                "@treaty",
                "\"foreign minister\"",
                "министр иностранных дел",
                "外相",
                "summit*",
            ],
        ),
    ];
    a.iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Everyday words: most of any text.
const EN_FILLER: &[&str] = &[
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "on",
    "for",
    "with",
    "after",
    "as",
    "said",
    "officials",
    "people",
    "year",
    "week",
    "new",
    "report",
    "city",
    "local",
    "company",
    "plans",
    "would",
    "could",
    "has",
    "have",
    "been",
    "more",
    "than",
    "over",
    "about",
    "its",
    "their",
    "which",
    "will",
    "also",
    "government",
    "minister",
    "president",
    "meeting",
    "statement",
    "according",
    "data",
    "percent",
    "million",
    "billion",
    "on Friday",
    "on Monday",
    "last",
    "first",
    "two",
    "is",
    "was",
    "are",
    "it",
    "by",
    "from",
    "at",
    "this",
    "that",
    "not",
    "but",
    "they",
    "he",
    "she",
    "we",
    "told",
    "reporters",
    "expected",
    "since",
    "while",
    "during",
    "amid",
    "weather",
    "election",
    "parliament",
    "budget",
    "tourism",
    "border",
    "cafe",
    "café",
    "U.S.",
    "it's",
];
/// Words of the themes the topics look for, one list per theme.
const EN_THEMES: &[&[&str]] = &[
    &[
        "Russia",
        "Russia's",
        "Japan",
        "Japanese",
        "Tokyo",
        "Moscow",
        "Kremlin",
        "Putin",
        "Ishiba",
        "Kuril Islands",
        "Kurils",
        "Northern Territories",
        "peace treaty",
        "foreign minister",
        "talks",
        "sanctions",
        "visa",
        "fishermen",
        "summit",
        "G7",
        "Prussian",
        "Japanology",
    ],
    &[
        "stock market",
        "Nikkei",
        "Topix",
        "record",
        "high",
        "shares",
        "yen",
        "rouble",
        "central bank",
        "rates",
        "inflation",
        "exports",
        "trade deal",
        "Moscowitz",
    ],
    &[
        "football", "hockey", "Olympic", "sport", "match", "league", "season", "coach", "Tokyo",
    ],
    &[
        "LNG",
        "oil",
        "gas",
        "Sakhalin-2",
        "energy",
        "exports",
        "Japan",
        "Russia",
    ],
    &[
        "weather",
        "typhoon",
        "earthquake",
        "island",
        "navy",
        "defence",
        "security",
        "G20",
    ],
];
const RU_FILLER: &[&str] = &[
    "и",
    "в",
    "на",
    "с",
    "по",
    "что",
    "не",
    "это",
    "как",
    "год",
    "году",
    "заявил",
    "сообщил",
    "правительство",
    "министр",
    "президент",
    "встреча",
    "после",
    "также",
    "более",
    "около",
    "учёные",
    "ёлка",
    "погода",
    "выборы",
    "бюджет",
    "граница",
    "флот",
    "экономика",
];
const RU_THEMES: &[&[&str]] = &[
    &[
        "Россия",
        "России",
        "Япония",
        "Японии",
        "Москва",
        "Токио",
        "Кремль",
        "Путин",
        "Путина",
        "Курильские острова",
        "Южные Курилы",
        "мирный договор",
        "министр иностранных дел",
        "переговоры",
        "санкции",
        "визы",
        "рыбаки",
    ],
    &[
        "рынок",
        "акции",
        "Мосбиржа",
        "рекорд",
        "рубль",
        "иена",
        "ставка",
        "центробанк",
        "торговое соглашение",
    ],
    &["футбол", "хоккей", "спорт", "матч", "сезон", "Олимпиада"],
    &["СПГ", "нефть", "газ", "Сахалин"],
];
const JA_FILLER: &[&str] = &[
    "は",
    "を",
    "に",
    "で",
    "が",
    "と",
    "の",
    "。",
    "、",
    "政府",
    "発表",
    "今年",
    "関係者",
    "によると",
    "した",
    "する",
    "について",
];
const JA_THEMES: &[&[&str]] = &[
    &[
        "日本",
        "ロシア",
        "北方領土",
        "交渉",
        "平和条約",
        "外相",
        "会談",
        "東京",
        "モスクワ",
        "プーチン大統領",
        "石破首相",
        "漁業",
        "ビザ",
        "ﾛｼｱ",
        "ＪＡＰＡＮ",
    ],
    &["日経平均株価", "上昇", "円安", "貿易協定", "株価"],
    &["サッカー", "ホッケー", "五輪", "スポーツ"],
    &["原油", "ガス", "サハリン"],
];
const CATEGORIES: &[&str] = &[
    "politics", "economy", "markets", "sport", "world", "asia", "europe", "energy",
];
const FEEDS: &[&str] = &[
    "https://tass.com/rss/v2.xml TASS russia news",
    "https://www3.nhk.or.jp/rss/news/cat0.xml NHK japan",
    "https://feeds.reuters.com/reuters/worldNews Reuters world",
    "https://feeds.bbci.co.uk/news/world/rss.xml BBC world",
    "https://ria.ru/export/rss2/archive/index.xml РИА Новости",
    "https://www.japantimes.co.jp/feed/ The Japan Times",
];
const AUTHORS: &[&str] = &[
    "Anna Ivanova",
    "Kenji Sato",
    "John Smith",
    "Мария Петрова",
    "山田太郎",
    "Reuters staff",
];

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

struct Item {
    title: String,
    summary: String,
    author: Option<&'static str>,
    categories: String,
    feeds: String,
}

/// A language's word lists and separator, and the theme this item is about.
struct Voice {
    filler: &'static [&'static str],
    theme: &'static [&'static str],
    sep: &'static str,
}

impl Voice {
    /// One word: about one in twelve from the item's theme.
    fn word(&self, rng: &mut Rng) -> &'static str {
        if rng.below(12) == 0 {
            rng.pick(self.theme)
        } else {
            rng.pick(self.filler)
        }
    }

    fn words(&self, rng: &mut Rng, n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push_str(self.sep);
            }
            // Titles lean on the theme.
            s.push_str(if i % 3 == 1 {
                rng.pick(self.theme)
            } else {
                self.word(rng)
            });
        }
        s
    }

    /// About 1 KB of HTML in paragraphs, with inline markup, entities and
    /// the odd script, as feeds send it.
    fn summary(&self, rng: &mut Rng) -> String {
        let mut s = String::with_capacity(1200);
        while s.len() < 1000 {
            s.push_str("<p>");
            let n = 12 + rng.below(20);
            for i in 0..n {
                if i > 0 {
                    s.push_str(self.sep);
                }
                match rng.below(40) {
                    0 => s.push_str(&format!("<b>{}</b>", self.word(rng))),
                    1 => s.push_str(&format!(
                        "<a href=\"https://example.com/{}\">{}</a>",
                        rng.below(1000),
                        self.word(rng)
                    )),
                    2 => s.push_str("&amp;"),
                    3 => s.push_str("&nbsp;"),
                    4 => s.push_str("&quot;"),
                    _ => s.push_str(self.word(rng)),
                }
            }
            s.push_str(if self.sep.is_empty() {
                "。</p>"
            } else {
                ".</p>"
            });
            if rng.below(50) == 0 {
                s.push_str("<script>var tracker = 'Japan Russia';</script>");
            }
        }
        s
    }
}

fn items(n: usize) -> Vec<Item> {
    let mut rng = Rng(0x5EED_F00D);
    (0..n)
        .map(|_| {
            let lang = rng.below(100);
            let (filler, themes, sep): (
                &'static [&'static str],
                &'static [&'static [&'static str]],
                _,
            ) = if lang < 80 {
                (EN_FILLER, EN_THEMES, " ")
            } else if lang < 95 {
                (RU_FILLER, RU_THEMES, " ")
            } else {
                (JA_FILLER, JA_THEMES, "")
            };
            let voice = Voice {
                filler,
                theme: themes[rng.below(themes.len())],
                sep,
            };
            let mut categories = String::new();
            for i in 0..1 + rng.below(3) {
                if i > 0 {
                    categories.push('\n');
                }
                categories.push_str(rng.pick(CATEGORIES));
            }
            let mut feeds = rng.pick(FEEDS).to_owned();
            if rng.below(10) == 0 {
                feeds.push('\n');
                feeds.push_str(rng.pick(FEEDS));
            }
            let title_words = 6 + rng.below(8);
            Item {
                title: voice.words(&mut rng, title_words),
                summary: voice.summary(&mut rng),
                author: (rng.below(3) > 0).then(|| rng.pick(AUTHORS)),
                categories,
                feeds,
            }
        })
        .collect()
}

fn document(it: &Item) -> Document<'_> {
    Document::new(&ItemText {
        title: &it.title,
        summary_html: Some(&it.summary),
        content_html: None,
        author: it.author,
        categories: &it.categories,
        feeds: &it.feeds,
        language: None,
    })
}

fn compile_all(aliases: &Aliases) -> Vec<Matcher> {
    TOPICS
        .iter()
        .map(|q| compile(q, aliases).unwrap_or_else(|e| panic!("{}", e.render(q))))
        .collect()
}

/// Matches per topic, summed over the documents.
fn match_all(topics: &[Matcher], docs: &[Document], counts: &mut [usize]) {
    for d in docs {
        for (t, c) in topics.iter().zip(counts.iter_mut()) {
            *c += black_box(t.matches(black_box(d))) as usize;
        }
    }
}

/// CPU time this thread has used: on a busy machine it tells what the work
/// costs on one core better than the wall clock, which also counts the
/// time other processes held the core.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args = args::Args::from_env();
    let smoke = args.has("--smoke");
    let n = args.value("--items", if smoke { 5_000 } else { 50_000 });
    let runs = args.value("--runs", if smoke { 1 } else { 5 });
    let compile_runs = if smoke { 1 } else { 20 };

    let aliases = aliases();
    let t = Instant::now();
    let items = items(n);
    let bytes: usize = items.iter().map(|i| i.title.len() + i.summary.len()).sum();
    println!(
        "feedsift topics benchmark: {} topics, {n} items ({:.1} MB of title + summary, generated in {}), single thread",
        TOPICS.len(),
        bytes as f64 / 1e6,
        ms(t.elapsed())
    );

    // (a) compile
    let compile_times: Vec<Duration> = (0..compile_runs)
        .map(|_| {
            let t = Instant::now();
            black_box(compile_all(&aliases));
            t.elapsed()
        })
        .collect();
    let topics = compile_all(&aliases);

    // (b) build, (c) match
    let mut build_times = Vec::new();
    let mut match_times = Vec::new();
    let mut counts = vec![0usize; topics.len()];
    for _ in 0..runs {
        let t = Instant::now();
        let docs: Vec<Document> = items.iter().map(document).collect();
        build_times.push(t.elapsed());
        let docs = black_box(docs);
        counts.iter_mut().for_each(|c| *c = 0);
        let t = Instant::now();
        match_all(&topics, &docs, &mut counts);
        match_times.push(t.elapsed());
    }

    // (d) build and match together, one item at a time
    let mut both_times = Vec::new();
    let mut both_cpu = Vec::new();
    let mut counts_d = vec![0usize; topics.len()];
    for _ in 0..runs {
        counts_d.iter_mut().for_each(|c| *c = 0);
        let cpu = thread_cpu();
        let t = Instant::now();
        for it in &items {
            let d = document(it);
            match_all(&topics, std::slice::from_ref(&d), &mut counts_d);
        }
        both_times.push(t.elapsed());
        both_cpu.push(thread_cpu() - cpu);
    }
    assert_eq!(counts, counts_d, "the same matches either way");

    let (a, b, c, d) = (
        median(compile_times),
        median(build_times),
        median(match_times),
        median(both_times),
    );
    let total: usize = counts.iter().sum();
    println!(
        "(a) compile {} topics:        {} (median of {compile_runs}; target < 10 ms)",
        TOPICS.len(),
        ms(a)
    );
    println!("(b) build {n} documents:  {} (median of {runs})", ms(b));
    println!(
        "(c) match {} x {n}:       {} (median of {runs})",
        TOPICS.len(),
        ms(c)
    );
    println!(
        "(d) build + match:            {} (median of {runs}; target < 1000 ms); thread CPU time {}",
        ms(d),
        ms(median(both_cpu))
    );
    println!(
        "    per item: build {:.1} us, match all topics {:.1} us",
        b.as_secs_f64() * 1e6 / n as f64,
        c.as_secs_f64() * 1e6 / n as f64
    );
    println!("matches summed over topics: {total}");
    for (q, c) in TOPICS.iter().zip(&counts) {
        println!("  {c:>7}  {q}");
    }
    if args.has("--per-topic") {
        let docs: Vec<Document> = items.iter().map(document).collect();
        let mut times: Vec<(Duration, &str)> = topics
            .iter()
            .zip(TOPICS)
            .map(|(t, q)| {
                let start = Instant::now();
                for d in &docs {
                    black_box(t.matches(black_box(d)));
                }
                (start.elapsed(), *q)
            })
            .collect();
        times.sort_by_key(|t| std::cmp::Reverse(t.0));
        println!("slowest topics to match over {n} documents:");
        for (t, q) in times.iter().take(10) {
            println!("  {:>9}  {q}", ms(*t));
        }
        // Building cost by script: the first letter of the title tells.
        let mut by_script: Vec<(&str, Duration, usize)> = vec![
            ("latin", Duration::ZERO, 0),
            ("cyrillic", Duration::ZERO, 0),
            ("japanese", Duration::ZERO, 0),
        ];
        for it in &items {
            let first = it.title.chars().next().unwrap_or(' ');
            let k = match first {
                'А'..='я' | 'Ё' | 'ё' => 1,
                c if c.is_ascii() => 0,
                _ => 2,
            };
            let start = Instant::now();
            black_box(document(it));
            by_script[k].1 += start.elapsed();
            by_script[k].2 += 1;
        }
        println!("building, by the script of the item:");
        for (name, t, count) in by_script {
            let per = t.as_secs_f64() * 1e6 / count.max(1) as f64;
            println!("  {name:<9} {count:>6} items, {per:.1} us each");
        }
    }
    if a > Duration::from_millis(10) {
        println!("WARNING: compiling took {} (target < 10 ms)", ms(a));
    }
    if d > Duration::from_secs(1) && n >= 50_000 {
        println!("WARNING: build + match took {} (target < 1 s)", ms(d));
    }
}
