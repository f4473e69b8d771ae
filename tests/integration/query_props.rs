//! Properties of the topic query language that must hold for every input:
//! compiling never panics and errors point inside the query; matching and
//! explaining never panic; boolean operators compose as booleans; and
//! parsing and matching take time roughly linear in the size of the input.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use feedsift::topics::{Aliases, Document, ItemText, Matcher, QueryError, compile};
use proptest::prelude::*;

/// The timing tests run alone (write lock) so the property tests, which may
/// run in parallel with each other (read lock), do not disturb the clocks.
/// Tests of the binary's other modules may still run alongside: the
/// timings are the best of three runs, with slack, for that.
static GATE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|e| e.into_inner())
}

fn aliases() -> Aliases {
    let a: &[(&str, &[&str])] = &[
        ("japan", &["Japan", "Tokyo", "日本", "Япони*"]),
        (
            "russia",
            &["Russia", "Moscow", "Росси*", "ロシア", "@putin"],
        ),
        ("putin", &["Putin", "Путин*"]),
        (
            "kurils",
            &[
                "Kuril Islands",
                "\"Northern Territories\"~2",
                "Курил*",
                "/habomai|shikotan/",
            ],
        ),
        ("east", &["@japan", "@kurils"]),
        ("loop-a", &["@loop-b"]),
        ("loop-b", &["x OR @loop-a"]),
        ("empty", &[]),
        ("bad", &["/(/"]),
    ];
    a.iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn check_error(q: &str, e: &QueryError) {
    assert!(
        e.at <= q.len(),
        "query {q:?}: at {} past the end ({})",
        e.at,
        q.len()
    );
    assert!(
        q.is_char_boundary(e.at),
        "query {q:?}: at {} inside a character",
        e.at
    );
    assert!(!e.message.is_empty(), "query {q:?}: empty message");
    let r = e.render(q);
    assert!(r.starts_with(&e.message), "query {q:?}: render:\n{r}");
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Pieces of query syntax, operators and words in several scripts, glued
/// together at random: mostly invalid queries that get far into the parser.
fn syntax_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "(", ")", "\"", "*", "@", "/", ":", "~", "-", " ", "  ", "\t", "\n", "\\", "\\/",
            "AND", "OR", "NOT", " AND ", " OR ", " NOT ", "and", "or",
            "title:", "summary:", "content:", "author:", "category:", "feed:", "titel:", "Title:",
            "japan", "Russia", "Россия", "ёлка", "日本", "ロシア", "ＪＡＰＡＮ", "ﬁ", "İ", "ß",
            "é", "\u{301}", "\u{200d}", "’", "'", ".", "U.S.", "~10", "~0", "~1001",
            "~99999999999999", "@japan", "@east", "@loop-a", "@empty", "@bad", "@nope", "@",
            "a*", "*a", "Kuril*", "Курил*", "北方*", "[", "]", "{", "}", "+", "?", "|", "^", "$",
            "\\b", "(?", "1", "10",
        ]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Queries built from the grammar: they must all compile.
fn valid_query() -> impl Strategy<Value = String> {
    let term = prop::sample::select(vec![
        "Japan",
        "russia",
        "Россия",
        "ёлка",
        "日本",
        "ロシア",
        "ＪＡＰＡＮ",
        "café",
        "U.S.",
        "Russia's",
        "Kuril*",
        "Курил*",
        "北方*",
        "\"peace treaty\"",
        "\"Russia Japan\"~3",
        "\"Россия Япония\"~10",
        "\"a a\"~2",
        "/kuril(e|s)?/",
        "/\\bmoex\\b/",
        "/^japan/",
        "/a\\/b/",
        "@japan",
        "@russia",
        "@east",
        "@kurils",
        "sport",
        "and",
    ])
    .prop_map(str::to_owned);
    let field = prop::sample::select(vec![
        "",
        "",
        "",
        "title:",
        "summary:",
        "content:",
        "author:",
        "category:",
        "feed:",
    ]);
    let leaf = (field, term).prop_map(|(f, t)| format!("{f}{t}"));
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            inner.clone().prop_map(|e| format!("NOT {e}")),
            inner.clone().prop_map(|e| format!("-({e})")),
            inner.prop_map(|e| format!("title:({e})")),
        ]
    })
}

/// Text in the vocabulary of the queries, with punctuation, HTML and
/// arbitrary characters mixed in.
fn item_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "Japan", "japanese", "RUSSIA", "Russia’s", "Россия", "России", "Ёлка", "елка",
            "日本", "とロシア", "ﾛｼｱ", "ＪＡＰＡＮ", "Café", "cafe\u{301}", "U.S.", "U.S.-Japan",
            "Kuril", "Kurile", "Islands", "Курилы", "北方領土", "peace", "treaty", "sport",
            "MOEX", "a/b", "shikotan", "Tokyo", "Moscow", "Putin", "Путина", "Northern",
            "Territories", "and", "x",
        ]).prop_map(str::to_owned),
        3 => prop::sample::select(vec![
            " ", " ", " ", "  ", "\n", ", ", ". ", "-", "'", "’", "<p>", "</p>", "<b>", "</b>",
            "<br>", "<script>", "</script>", "<style>", "<!--", "-->", "<a href=\"/x\">", "</a>",
            "&amp;", "&nbsp;", "&#1056;", "&", "<", ">", "&lt;", "\u{a0}", "\u{200b}",
        ]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
struct Item {
    title: String,
    summary: Option<String>,
    content: Option<String>,
    author: Option<String>,
    categories: String,
    feeds: String,
}

fn item() -> impl Strategy<Value = Item> {
    (
        item_text(),
        prop::option::of(item_text()),
        prop::option::of(item_text()),
        prop::option::of(item_text()),
        item_text(),
        item_text(),
    )
        .prop_map(
            |(title, summary, content, author, categories, feeds)| Item {
                title,
                summary,
                content,
                author,
                categories,
                feeds,
            },
        )
}

fn doc(i: &Item) -> Document<'_> {
    Document::new(&ItemText {
        title: &i.title,
        summary_html: i.summary.as_deref(),
        content_html: i.content.as_deref(),
        author: i.author.as_deref(),
        categories: &i.categories,
        feeds: &i.feeds,
        language: None,
    })
}

fn must_compile(q: &str, a: &Aliases) -> Matcher {
    compile(q, a).unwrap_or_else(|e| panic!("{}", e.render(q)))
}

// ---------------------------------------------------------------------------
// (a) compile never panics; (b) matching and explaining never panic
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compile_arbitrary_strings(q in any::<String>()) {
        let _g = shared();
        if let Err(e) = compile(&q, &aliases()) {
            check_error(&q, &e);
        }
    }

    #[test]
    fn compile_syntax_soup(q in syntax_soup()) {
        let _g = shared();
        if let Err(e) = compile(&q, &aliases()) {
            check_error(&q, &e);
        }
    }

    #[test]
    fn soup_queries_match_without_panicking(q in syntax_soup(), it in item()) {
        let _g = shared();
        match compile(&q, &aliases()) {
            Ok(m) => {
                let d = doc(&it);
                let hit = m.matches(&d);
                let why = m.explain(&d);
                prop_assert_eq!(hit, m.matches(&d));
                prop_assert_eq!(why, m.explain(&d));
            }
            Err(e) => check_error(&q, &e),
        }
    }

    #[test]
    fn grammar_queries_compile_and_match(q in valid_query(), it in item()) {
        let _g = shared();
        let a = aliases();
        let m = must_compile(&q, &a);
        let d = doc(&it);
        let hit = m.matches(&d);
        let why = m.explain(&d);
        // explain() names only terms outside NOT; a query without NOT that
        // matches has a reason.
        if hit && !q.contains("NOT") && !q.contains('-') {
            prop_assert!(!why.is_empty(), "query {:?} matched {:?} with no reason", q, it);
        }
    }

    /// AND, OR and NOT compose as booleans over any item.
    #[test]
    fn operators_are_boolean(a in valid_query(), b in valid_query(), it in item()) {
        let _g = shared();
        let al = aliases();
        let d = doc(&it);
        let ma = must_compile(&a, &al).matches(&d);
        let mb = must_compile(&b, &al).matches(&d);
        prop_assert_eq!(must_compile(&format!("({a}) OR ({b})"), &al).matches(&d), ma || mb);
        prop_assert_eq!(must_compile(&format!("({a}) ({b})"), &al).matches(&d), ma && mb);
        prop_assert_eq!(must_compile(&format!("({a}) AND ({b})"), &al).matches(&d), ma && mb);
        prop_assert_eq!(must_compile(&format!("NOT ({a})"), &al).matches(&d), !ma);
        prop_assert_eq!(must_compile(&format!("-({a})"), &al).matches(&d), !ma);
    }

    /// A title always contains itself as a phrase (when it has words):
    /// query and item text are folded and split the same way.
    #[test]
    fn a_title_matches_itself_as_a_phrase(t in item_text()) {
        let _g = shared();
        prop_assume!(!t.contains('"'));
        let q = format!("\"{t}\"");
        if let Ok(m) = compile(&q, &Aliases::new()) {
            let d = Document::new(&ItemText { title: &t, ..Default::default() });
            prop_assert!(m.matches(&d), "title {:?} does not match {:?}", t, q);
            let qt = format!("title:\"{t}\"");
            prop_assert!(must_compile(&qt, &Aliases::new()).matches(&d));
        }
    }
}

// ---------------------------------------------------------------------------
// Nesting: refused past the limit, never a stack overflow
// ---------------------------------------------------------------------------

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let _g = shared();
    let a = aliases();
    let n = 100_000;
    for q in [
        "(".repeat(n),
        format!("{}a{}", "(".repeat(n), ")".repeat(n)),
        format!("{}a", "NOT ".repeat(n)),
        format!("{}a", "-".repeat(n)),
        format!("{}a", "title:(".repeat(n)),
    ] {
        let e = compile(&q, &a)
            .err()
            .unwrap_or_else(|| panic!("{}... compiled", &q[..20]));
        check_error(&q, &e);
    }
    // A chain of aliases each naming the next, far deeper than the limit.
    let mut chain = Aliases::new();
    for i in 0..500 {
        chain.insert(format!("c{i}"), vec![format!("@c{}", i + 1)]);
    }
    chain.insert("c500".into(), vec!["x".into()]);
    let e = compile("@c0", &chain).expect_err("500 nested aliases");
    check_error("@c0", &e);
    // Nesting within the limit works and matches.
    let q = format!("{}Japan{}", "(".repeat(50), ")".repeat(50));
    let d = Document::new(&ItemText {
        title: "Japan",
        ..Default::default()
    });
    assert!(must_compile(&q, &a).matches(&d));
    let q = format!("{}Japan", "NOT ".repeat(50));
    assert!(must_compile(&q, &a).matches(&d));
}

// ---------------------------------------------------------------------------
// (c) Time grows roughly linearly with the input
// ---------------------------------------------------------------------------

/// The fastest of three runs: the least disturbed by a busy machine.
fn best_of_3(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

/// `work(n)` and `work(8 * n)`: the second may take at most 20 times the
/// first (linear would be 8), plus 50 ms of slack for timer and scheduler
/// noise on tiny inputs.
#[track_caller]
fn assert_linear(what: &str, n: usize, mut work: impl FnMut(usize)) {
    work(n); // warm up: allocator, lazy statics
    let small = best_of_3(|| work(n));
    let large = best_of_3(|| work(8 * n));
    eprintln!("{what}: n={n} {small:?}, 8n {large:?}");
    assert!(
        large < small * 20 + Duration::from_millis(50),
        "{what}: n={n} took {small:?} but 8n took {large:?} (> 20x): super-linear"
    );
}

#[test]
fn parsing_long_or_chains_is_linear() {
    let _g = alone();
    let a = aliases();
    assert_linear("a OR a OR ...", 2_000, |n| {
        let q = vec!["a"; n].join(" OR ");
        std::hint::black_box(must_compile(&q, &a));
    });
    assert_linear("Japan Kuril* \"peace treaty\" @japan ...", 100, |n| {
        let q = vec!["Japan OR Kuril* \"peace treaty\" -@japan /x+y/"; n].join(" OR ");
        std::hint::black_box(must_compile(&q, &a));
    });
}

#[test]
fn parsing_many_deep_groups_is_linear() {
    let _g = alone();
    let a = aliases();
    // Each group is nested to just inside the limit.
    let group = format!("{}Japan{}", "(".repeat(60), ")".repeat(60));
    assert_linear("deep groups", 100, |n| {
        let q = vec![group.as_str(); n].join(" OR ");
        std::hint::black_box(must_compile(&q, &a));
    });
    assert_linear("one long word", 100_000, |n| {
        let q = "ab".repeat(n / 2);
        std::hint::black_box(must_compile(&q, &a));
    });
    assert_linear("one long phrase", 20_000, |n| {
        let q = format!("\"{}\"~1000", "Russia Japan ".repeat(n / 13));
        std::hint::black_box(must_compile(&q, &a));
    });
}

/// About `bytes` of HTML with words in three scripts, tags and entities:
/// the proximity words are frequent, so every window is examined.
fn big_html(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "Russia",
        "and",
        "Japan",
        "<b>talks</b>",
        "on",
        "the",
        "Kuril",
        "Islands",
        "Россия",
        "и",
        "Япония",
        "&amp;",
        "日本とロシア",
        "treaty",
        "<p>",
        "markets",
        "</p>",
        "Moscow’s",
        "U.S.",
        "&nbsp;",
        "sport",
        "Курилы",
        "Tokyo",
        "peace",
    ];
    let mut s = String::with_capacity(bytes + 32);
    let mut i = 0usize;
    while s.len() < bytes {
        s.push_str(WORDS[(i * 7 + i / 5) % WORDS.len()]);
        s.push(' ');
        i += 1;
    }
    s
}

#[test]
fn big_items_with_proximity_and_regex_are_linear() {
    let _g = alone();
    let a = aliases();
    let queries = [
        "\"Russia Japan\"~10",
        "\"peace treaty Kuril\"~5",
        "/kuril(e|s)? islands?/",
        "/(россия|日本).{0,40}(япония|ロシア)/",
        "\"Kuril Islands\" Kuril* -nothing",
        "@east @russia",
    ];
    let ms: Vec<Matcher> = queries.iter().map(|q| must_compile(q, &a)).collect();
    // 128 KB and 1 MB.
    assert_linear("build + match a big item", 128 << 10, |n| {
        let html = big_html(n);
        let d = Document::new(&ItemText {
            title: "x",
            summary_html: Some(&html),
            ..Default::default()
        });
        for m in &ms {
            std::hint::black_box(m.matches(&d));
            std::hint::black_box(m.explain(&d));
        }
    });
    // The proximity words far apart: one "japan" after n "russia".
    let near = must_compile("\"Russia Japan\"~3", &a);
    assert_linear("proximity, words far apart", 16 << 10, |n| {
        let t = format!("{} x x x x Japan", "Russia ".repeat(n / 7));
        let d = Document::new(&ItemText {
            title: &t,
            ..Default::default()
        });
        assert!(!near.matches(&d));
    });
    // Bare '<', broken entities, a stray '>'.
    assert_linear("broken markup", 64 << 10, |n| {
        let html = "a < b &amp c &#x; > Japan &".repeat(n / 27);
        let d = Document::new(&ItemText {
            title: "x",
            summary_html: Some(&html),
            ..Default::default()
        });
        std::hint::black_box(ms[0].matches(&d));
    });
}

#[test]
fn matching_long_or_chains_is_linear() {
    let _g = alone();
    let a = aliases();
    let html = big_html(4 << 10);
    let d = Document::new(&ItemText {
        title: "nothing to see",
        summary_html: Some(&html),
        ..Default::default()
    });
    assert_linear("match a OR-chain of absent words", 1_000, |n| {
        let q = (0..n)
            .map(|i| format!("w{i} OR \"p{i} q\" OR z{i}*"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let m = must_compile(&q, &a);
        assert!(!m.matches(&d));
        assert!(m.explain(&d).is_empty());
    });
}

/// Hostile inputs found while writing these tests, each once super-linear.
#[test]
fn hostile_inputs_stay_linear() {
    let _g = alone();
    let a = aliases();
    // Many <script> blocks: stripping once re-scanned the rest per block.
    assert_linear("<script> blocks", 2_000, |n| {
        let html = "<script>x</script>Japan ".repeat(n);
        std::hint::black_box(Document::new(&ItemText {
            title: "",
            summary_html: Some(&html),
            ..Default::default()
        }));
    });
    // Words full of colons: the field check once rescanned the prefix.
    assert_linear("a...1:::", 1_000, |n| {
        let q = format!("{}1{}", "a".repeat(n), ":".repeat(n));
        let _ = std::hint::black_box(feedsift::topics::compile(&q, &a));
    });
}

#[test]
fn aliases_doubling_at_every_level_are_refused_not_expanded() {
    let mut a = Aliases::new();
    a.insert("l0".into(), vec!["x".into()]);
    for i in 1..40 {
        a.insert(
            format!("l{i}"),
            vec![format!("@l{}", i - 1), format!("@l{}", i - 1)],
        );
    }
    let start = std::time::Instant::now();
    let e = feedsift::topics::compile("@l39", &a).expect_err("2^39 terms");
    assert!(e.message.contains("more than 10000 terms"), "{}", e.message);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
