//! Table-driven tests of the query language as the README describes it
//! ("### Query language"): one line per (query, item, expected) case, and
//! one line per bad query with where its error must point.
//!
//! Item notation, so each case fits on one line: the item is split at
//! " ‖ " into parts; a part starting with `summary=`, `content=`, `author=`,
//! `category=` or `feed=` fills that field (summary and content are HTML,
//! categories and feeds one per line), any other part is the title.

use super::{Aliases, Document, ItemText, compile};

/// The aliases every case may use, as they would appear under `[alias]`.
fn aliases() -> Aliases {
    let a: &[(&str, &[&str])] = &[
        ("japan", &["Japan", "Tokyo", "日本", "Япони*"]),
        ("putin", &["Putin", "Путин*"]),
        // Nested: @russia holds @putin.
        (
            "russia",
            &["Russia", "Moscow", "Kremlin", "Росси*", "ロシア", "@putin"],
        ),
        // An entry with spaces is a phrase; prefixes in two scripts; a regex.
        (
            "kurils",
            &[
                "Kuril Islands",
                "\"Northern Territories\"",
                "Курил*",
                "北方領土",
                "/habomai|shikotan/",
            ],
        ),
        ("isles", &["Kuril Islands"]),
        ("talks", &["\"Russia Japan\"~3"]),
        ("sport", &["sport*", "football", "спорт*", "スポーツ"]),
        ("markets", &["Nikkei", "/\\bmoex\\b/", "stock market"]),
        // Two levels of nesting: @east -> @kurils, @east -> @japan.
        ("east", &["@japan", "@kurils"]),
        ("loop-a", &["@loop-b"]),
        ("loop-b", &["x OR @loop-a"]),
        ("self", &["@self"]),
        ("empty", &[]),
        ("bad-re", &["/Kuril(/"]),
    ];
    a.iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// (query, item, expected).
#[rustfmt::skip]
const CASES: &[(&str, &str, bool)] = &[
    // --- English, case, whole words -----------------------------------
    ("Japan", "Japan votes", true),
    ("japan", "JAPAN VOTES", true),
    ("JAPAN", "japan votes", true),
    ("JaPaN", "jApAn votes", true),
    ("Japan", "Japanese yen falls", false),
    ("Japan", "Japanology conference", false),
    ("Japan", "Japan-Russia talks", true),
    ("Japan", "Talks end. Japan.", true),
    ("Russian", "Prussian history", false),
    ("Russian", "Russian navy", true),
    ("Moscow", "Moscowitz Capital buys", false),
    ("Moscow", "Moscow-based bank", true),
    ("Russia", "Russia's gas", true),
    ("Russia", "Russia\u{2019}s gas", true),
    ("Russia", "Russians protest", false),
    ("U.S.", "U.S. sanctions", true),
    ("U.S.", "U.S.-Japan alliance", true),
    ("U.S.", "the US and Japan", false),
    ("\"Russia's stance\"", "Russia\u{2019}s stance hardens", true),
    ("war and peace", "war and peace", true),
    ("war and peace", "war, then peace", false),
    ("Japan or Russia", "Japan Russia", false),
    // --- Accents, case folding, NFKC ------------------------------------
    ("cafe", "Café opens", true),
    ("café", "CAFE OPENS", true),
    ("cafe", "Cafe\u{301} opens", true),
    ("Muller", "Thomas MÜLLER scores", true),
    ("Müller", "Thomas Muller scores", true),
    ("straße", "STRASSE closed", true),
    ("STRASSE", "Straße closed", true),
    ("Istanbul", "İSTANBUL summit", true),
    ("Viet Nam", "Việt Nam exports", true),
    ("JAPAN", "ＪＡＰＡＮ ＴＯＤＡＹ", true),
    ("ＪＡＰＡＮ", "japan today", true),
    ("final", "The ﬁnal round", true),
    ("ﬁnal", "The final round", true),
    ("2024", "Election ２０２４", true),
    // --- Russian ------------------------------------------------------
    ("Россия", "Россия и Япония", true),
    ("россия", "РОССИЯ И ЯПОНИЯ", true),
    // Changed by word forms (issue 25): an unquoted Russian word matches
    // its inflections, as the README's query table says.
    ("Россия", "Позиция России", true),
    ("Росси*", "Позиция России", true),
    ("Россия", "Россиянин на Курилах", false),
    ("Москва", "Москвич продан", false),
    ("елка", "Ёлка в Кремле", true),
    ("Королёв", "Город Королев", true),
    ("йод", "иод и бром", false),
    ("йод", "и\u{306}од и бром", true),
    ("Йошкар", "Йошкар-Ола", true),
    ("\"мирный договор\"", "Мирный договор не подписан", true),
    ("\"мирный договор\"", "договор мирный", false),
    ("Курил*", "Курильские острова", true),
    ("Курил*", "Южно-Курильск", true),
    ("Курил*", "Кур и гусь", false),
    ("Россия -спорт", "Россия: спорт", false),
    ("Россия -спорт", "Россия: экономика", true),
    // --- Japanese -----------------------------------------------------
    ("日本", "日本とロシア", true),
    ("日本", "日本人観光客", true),
    ("ロシア", "日本とロシアの外相が会談", true),
    ("ロシア", "ﾛｼｱ外相", true),
    ("@russia AND @japan", "日本とロシアの外相が会談", true),
    ("@russia AND @japan", "日経平均株価　続伸", false),
    ("北方*", "北方領土問題", true),
    ("@kurils", "北方領土問題の解決", true),
    ("日本 -@sport", "日本のスポーツ", false),
    ("日本 -@sport", "日本の経済", true),
    ("Japan", "日本Japanニュース", true),
    ("title:東京", "東京株式市場 ‖ summary=大阪", true),
    ("title:大阪", "東京株式市場 ‖ summary=大阪", false),
    // --- Prefixes -----------------------------------------------------
    ("Kuril*", "Kuril", true),
    ("Kuril*", "the Kurils", true),
    ("Kuril*", "KURILE chain", true),
    ("Kuril*", "Kur", false),
    ("Kuril*", "Southern-Kurils", true),
    ("Japan*", "Japanology conference", true),
    ("Moscow*", "Moscowitz Capital", true),
    ("Mül*", "Muller", true),
    ("ＪＡＰ*", "Japanese yen", true),
    ("ﬁn*", "Finance ministers", true),
    // --- Phrases ------------------------------------------------------
    ("\"peace treaty\"", "no peace treaty yet", true),
    ("\"peace treaty\"", "treaty of peace", false),
    ("\"peace treaty\"", "peace, then a treaty", false),
    ("\"peace treaty\"", "PEACE—TREATY", true),
    ("\"peace treaty\"", "summary=<p>no <b>peace</b> treaty yet</p>", true),
    ("\"treaty talks\"", "peace treaty ‖ summary=talks resume", false),
    // --- Proximity ----------------------------------------------------
    ("\"Russia Japan\"~3", "Russia a b Japan", true),
    ("\"Russia Japan\"~3", "Russia a b c Japan", false),
    ("\"Russia Japan\"~3", "Japan and then Russia", true),
    ("\"Russia Japan\"~10", "Russia 1 2 3 4 5 6 7 8 9 Japan", true),
    ("\"Russia Japan\"~10", "Russia 1 2 3 4 5 6 7 8 9 10 Japan", false),
    ("\"Russia Japan\"~1", "Japan Russia", true),
    ("\"Russia Japan\"~3", "Russia a b c d Japan x Russia", true),
    ("\"Russia Japan\"~1", "Russia a Russia b Russia Japan", true),
    ("\"Russia Japan\"~1", "Japan a Japan b Russia c Japan", false),
    ("\"Russia Japan Russia\"~3", "Russia x Japan", true),
    ("\"Russia Japan treaty\"~4", "treaty Japan x y Russia", true),
    ("\"Russia Japan treaty\"~4", "treaty x Japan y z Russia", false),
    ("\"Russia Japan\"~5", "Russia ‖ summary=Japan", false),
    ("\"Россия Япония\"~3", "Япония и Россия", true),
    // --- Precedence ---------------------------------------------------
    ("Japan Russia OR Tokyo", "Tokyo", true),
    ("Japan Russia OR Tokyo", "Japan", false),
    ("Japan Russia OR Tokyo", "Russia Japan", true),
    ("Tokyo OR Japan Russia", "Japan", false),
    ("Tokyo OR Japan Russia", "Tokyo", true),
    ("Tokyo OR Japan Russia", "Russia Japan", true),
    ("NOT sport Japan", "Japan", true),
    ("NOT sport Japan", "Japan sport", false),
    ("NOT sport Japan", "markets", false),
    ("Japan OR NOT sport markets", "markets", true),
    ("Japan OR NOT sport markets", "sport markets", false),
    ("Japan OR NOT sport markets", "Japan sport", true),
    ("-sport", "markets", true),
    ("-sport", "Sport", false),
    ("Japan -sport", "Japan economy", true),
    ("Japan -sport", "Japan sport news", false),
    ("NOT (Japan OR Russia)", "Russia", false),
    ("-(Japan OR Russia) markets", "markets", true),
    ("NOT NOT Japan", "Japan", true),
    ("(Japan OR Tokyo) Russia", "Tokyo Russia", true),
    ("(Japan OR Tokyo) Russia", "Tokyo Moscow", false),
    ("Japan AND Russia", "Japan Russia", true),
    // --- Fields -------------------------------------------------------
    ("title:Kuril*", "Kurils dispute", true),
    ("title:Kuril*", "Dispute ‖ summary=Kurils", false),
    ("title:(Japan OR Russia)", "Russia votes", true),
    ("title:(Japan OR Russia)", "Vote ‖ summary=Russia", false),
    ("title:\"peace treaty\"", "Peace treaty talks", true),
    ("summary:Japan", "x ‖ summary=<p>Japan</p>", true),
    ("summary:Japan", "Japan ‖ content=<p>Japan</p>", false),
    ("content:Japan", "x ‖ content=<div>Japan</div>", true),
    ("content:Japan", "Japan ‖ summary=Japan", false),
    ("author:Kono", "x ‖ author=Taro Kono", true),
    ("author:Kono", "x ‖ author=Konoe", false),
    ("author:\"Taro Kono\"", "x ‖ author=TARO KONO", true),
    ("Kono", "x ‖ author=Taro Kono", false),
    ("category:sport", "x ‖ category=World\nSport", true),
    ("category:sport", "sport", false),
    ("sport", "x ‖ category=sport", false),
    ("Japan -category:sport", "Japan ‖ category=Politics", true),
    ("Japan -category:sport", "Japan ‖ category=Politics\nSport", false),
    ("feed:tass", "x ‖ feed=https://tass.com/rss TASS news", true),
    ("feed:tass", "TASS reports ‖ feed=https://ria.ru/export/rss2 RIA", false),
    ("feed:nhk", "x ‖ feed=https://a.example/rss A\nhttps://www3.nhk.or.jp/rss/news/cat0.xml NHK japan", true),
    ("feed:japan", "x ‖ feed=https://a.example/rss Asia news japan", true),
    ("feed:tass.com", "x ‖ feed=https://tass.com/rss TASS", true),
    ("title:@japan", "Tokyo stocks", true),
    ("title:@japan", "x ‖ summary=Tokyo stocks", false),
    // --- Aliases ------------------------------------------------------
    ("@japan", "Tokyo stocks", true),
    ("@japan", "Японии и России", true),
    ("@russia", "Putin speaks", true),
    ("@russia", "Путина спросили", true),
    ("@russia", "Prussian history", false),
    ("@east", "Kuril Islands", true),
    ("@east", "Tokyo", true),
    ("@east", "Shikotan fishermen", true),
    ("@east", "Moscow", false),
    ("@isles", "the Kuril Islands dispute", true),
    ("@isles", "islands of the Kuril chain", false),
    ("@kurils", "Northern Territories day", true),
    ("@kurils", "Territories in the north", false),
    ("@kurils", "Курилы", true),
    ("@talks", "Japan and Russia", true),
    ("@talks", "Japan a b c Russia", false),
    ("@markets", "MOEX index up", true),
    ("@markets", "MOEXI fund", false),
    ("@markets", "the stock market", true),
    ("@russia @japan -@sport", "Tokyo and Moscow talk trade", true),
    ("@russia @japan -@sport", "Tokyo and Moscow talk football", false),
    ("@russia @japan -@sport", "Russia Japan sporting links", false),
    // --- Regexes ------------------------------------------------------
    ("/Kuril(e|s)? Islands?/", "the Kurile Islands", true),
    ("/Kuril(e|s)? Islands?/", "KURIL ISLAND", true),
    ("/Kuril(e|s)? Islands?/", "Kuril isles", false),
    ("/\\bmoex\\b/", "MOEX index", true),
    ("/\\bmoex\\b/", "MOEXI index", false),
    ("/^japan/", "Japan wins", true),
    ("/^japan/", "New Japan", false),
    ("/cafe/", "Café", true),
    ("/курил/", "КУРИЛЫ", true),
    ("/href/", "x ‖ summary=<a href=\"/x\">link</a>", false),
    ("/a\\/b/", "a/b testing", true),
    ("title:/^breaking:/", "BREAKING: Japan", true),
    ("/japan/ -/sport/", "Japan sport", false),
    // --- HTML ---------------------------------------------------------
    ("script", "x ‖ summary=<script>x</script>hello", false),
    ("Kremlin", "x ‖ summary=<p>a</p><script>var Kremlin=1;</script>", false),
    ("Kremlin", "x ‖ summary=<SCRIPT type=\"x\">Kremlin</SCRIPT>after", false),
    ("after", "x ‖ summary=<SCRIPT type=\"x\">Kremlin</SCRIPT>after", true),
    ("Japan", "x ‖ summary=<style>.Japan{color:red}</style>", false),
    ("href", "x ‖ summary=<a href=\"/x\">link</a>", false),
    ("link", "x ‖ summary=<a href=\"/x\">link</a>", true),
    ("Japan", "x ‖ summary=<img alt=\"Japan\" src=\"j.png\">", false),
    ("Moscow", "x ‖ summary=Tokyo&nbsp;&amp;&nbsp;Moscow", true),
    ("\"Tokyo Moscow\"", "x ‖ summary=Tokyo&nbsp;&amp;&nbsp;Moscow", true),
    ("amp", "x ‖ summary=Tokyo &amp; Moscow", false),
    ("nbsp", "x ‖ summary=Tokyo&nbsp;Moscow", false),
    ("cafe", "x ‖ summary=caf&eacute;", true),
    ("Россия", "x ‖ summary=&#1056;&#1086;&#1089;&#1089;&#1080;&#1103;", true),
    ("\"Japan Russia\"", "x ‖ summary=Japan<br>Russia", true),
    ("JapanRussia", "x ‖ summary=Japan<br>Russia", false),
    ("Japan", "x ‖ summary=a < b Japan", true),
    ("Japan", "x ‖ summary=&lt;Japan&gt;", true),
    ("Japan", "x ‖ summary=&lt;script&gt;Japan&lt;/script&gt;", true),
    ("Japan", "x ‖ summary=<!-- Japan -->", false),
    ("/Kuril Islands/", "x ‖ summary=Kuril&nbsp;Islands", true),
];

/// The fields of an item, owned, as a case describes them.
#[derive(Default)]
struct Item {
    title: String,
    summary: Option<String>,
    content: Option<String>,
    author: Option<String>,
    categories: String,
    feeds: String,
}

/// Builds the item a case describes (see the module doc).
fn item(spec: &str) -> Item {
    let mut it = Item::default();
    for part in spec.split(" ‖ ") {
        if let Some(v) = part.strip_prefix("summary=") {
            it.summary = Some(v.to_owned());
        } else if let Some(v) = part.strip_prefix("content=") {
            it.content = Some(v.to_owned());
        } else if let Some(v) = part.strip_prefix("author=") {
            it.author = Some(v.to_owned());
        } else if let Some(v) = part.strip_prefix("category=") {
            it.categories = v.to_owned();
        } else if let Some(v) = part.strip_prefix("feed=") {
            it.feeds = v.to_owned();
        } else {
            it.title = part.to_owned();
        }
    }
    it
}

fn document(it: &Item) -> Document<'_> {
    Document::new(&ItemText {
        title: &it.title,
        summary_html: it.summary.as_deref(),
        content_html: it.content.as_deref(),
        author: it.author.as_deref(),
        categories: &it.categories,
        feeds: &it.feeds,
        language: None,
    })
}

#[test]
fn table_of_queries_and_items() {
    assert!(CASES.len() >= 70, "only {} cases", CASES.len());
    let aliases = aliases();
    let mut failures = Vec::new();
    for (i, &(query, text, want)) in CASES.iter().enumerate() {
        let m = match compile(query, &aliases) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!(
                    "case {i}: query {query:?} did not compile:\n{}",
                    e.render(query)
                ));
                continue;
            }
        };
        let it = item(text);
        let doc = document(&it);
        let got = m.matches(&doc);
        if got != want {
            failures.push(format!(
                "case {i}: query {query:?} on item {text:?}: expected {want}, got {got} (explain: {:?})",
                m.explain(&doc)
            ));
        }
        // explain() names something exactly when a positive query matched.
        let why = m.explain(&doc);
        if got && !query.starts_with('-') && !query.starts_with("NOT") {
            assert!(
                !why.is_empty(),
                "case {i}: query {query:?} on item {text:?} matched but explain() is empty"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn explain_names_aliases_and_terms_outside_not() {
    let aliases = aliases();
    let m = compile(
        "(@russia OR \"peace treaty\") title:Kuril* -@sport",
        &aliases,
    )
    .unwrap();
    let it = item("Kurils: peace treaty ‖ summary=<p>Putin and Kono</p>");
    let doc = document(&it);
    assert!(m.matches(&doc));
    assert_eq!(
        m.explain(&doc),
        ["@russia", "\"peace treaty\"", "title:Kuril*"]
    );
}

/// (query, byte offset of the error, part of its message, the character the
/// rendered caret must sit under; '\0' for "just past the end").
#[rustfmt::skip]
const ERRORS: &[(&str, usize, &str, char)] = &[
    ("(Russia OR Japan", 0, "unclosed '('", '('),
    ("Japan (Russia OR (Tokyo)", 6, "unclosed '('", '('),
    ("Russia OR Japan)", 15, "unmatched ')'", ')'),
    (")Japan", 0, "unmatched ')'", ')'),
    ("Japan titel:Kuril", 6, "unknown field titel:", 't'),
    ("Russia AND @korea", 11, "unknown alias @korea", '@'),
    ("Japan \"\"", 6, "empty phrase", '"'),
    ("Japan \" , \"", 6, "empty phrase", '"'),
    ("Japan \"treaty", 6, "unclosed quote", '"'),
    ("Japan /Kuril(/", 6, "bad /regex/", '/'),
    ("Japan /Kuril", 6, "unclosed /regex/", '/'),
    ("Japan //", 6, "empty /regex/", '/'),
    ("Russia OR", 7, "OR needs a term on its right", 'O'),
    ("Russia AND", 7, "AND needs a term on its right", 'A'),
    ("Russia (Japan OR) x", 14, "OR needs a term on its right", 'O'),
    ("AND Russia", 0, "AND needs a term on its left", 'A'),
    ("Russia NOT", 7, "NOT needs a term after it", 'N'),
    ("Japan - sport", 6, "'-' must stand directly before", '-'),
    ("Japan -", 6, "'-' must stand directly before", '-'),
    ("\"Russia Japan\"~", 14, "'~' must be followed by a distance", '~'),
    ("\"Russia Japan\"~x", 14, "'~' must be followed by a distance", '~'),
    ("\"Russia Japan\"~0", 14, "'~' must be followed by a distance", '~'),
    ("\"Russia Japan\"~1001", 14, "'~' must be followed by a distance", '~'),
    ("Japan *", 6, "a * needs letters before it", '*'),
    ("Ku*ril", 0, "a * may only end a word", 'K'),
    ("Japan @", 6, "'@' must be followed by an alias name", '@'),
    ("Japan ()", 6, "empty parentheses", '('),
    ("Japan ...", 6, "holds no letters or digits", '.'),
    ("   ", 0, "the query is empty", ' '),
    ("Japan @loop-a", 6, "cycle: @loop-a -> @loop-b -> @loop-a", '@'),
    ("@self", 0, "cycle: @self -> @self", '@'),
    ("x @empty", 2, "alias @empty is empty", '@'),
    ("x OR @bad-re", 5, "in alias @bad-re", '@'),
    ("\"日本 ロシア\"~3", 0, "proximity needs words separated by spaces", '"'),
    // Multi-byte text before the error: the caret counts characters.
    ("Россия OR (Япония", 16, "unclosed '('", '('),
    ("Курилы AND @корея", 17, "unknown alias @корея", '@'),
    ("日本 titel:x", 7, "unknown field titel:", 't'),
    ("Москва ИЛИ -", 20, "'-' must stand directly before", '-'),
];

#[test]
fn errors_point_at_the_problem() {
    assert!(ERRORS.len() >= 10);
    let aliases = aliases();
    let mut failures = Vec::new();
    for &(query, at, message, under) in ERRORS {
        let e = match compile(query, &aliases) {
            Ok(_) => {
                failures.push(format!(
                    "query {query:?} compiled, expected an error {message:?}"
                ));
                continue;
            }
            Err(e) => e,
        };
        let r = e.render(query);
        if e.at != at || !e.message.contains(message) {
            failures.push(format!(
                "query {query:?}: expected at {at} with {message:?}, got at {} with {:?}\n{r}",
                e.at, e.message
            ));
            continue;
        }
        assert!(
            query.is_char_boundary(e.at),
            "query {query:?}: at {} is not a char boundary",
            e.at
        );
        // The rendered query line, then a line whose caret sits under the
        // character at `at`, counted in characters.
        let lines: Vec<&str> = r.lines().collect();
        let qline = lines
            .iter()
            .position(|l| *l == format!("  | {query}"))
            .unwrap_or_else(|| panic!("query {query:?}: no query line in\n{r}"));
        let caret = lines
            .get(qline + 1)
            .and_then(|l| l.strip_prefix("  | "))
            .unwrap_or_else(|| panic!("query {query:?}: no caret line in\n{r}"));
        let col = caret.chars().count() - 1;
        assert!(
            caret.ends_with('^') && caret[..caret.len() - 1].chars().all(|c| c == ' '),
            "query {query:?}: bad caret line {caret:?}\n{r}"
        );
        let got = query.chars().nth(col).unwrap_or('\0');
        if got != under {
            failures.push(format!(
                "query {query:?}: caret at column {col} is under {got:?}, expected {under:?}\n{r}"
            ));
        }
        assert!(
            r.starts_with(&e.message),
            "query {query:?}: render starts with the message\n{r}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
