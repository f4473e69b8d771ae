//! End to end through the real binary: poll fixture feeds from a local HTTP
//! server into SQLite, export the topic, and check what a reader would get.

use crate::util::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn expected_titles() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("expected-russia-japan.txt")).unwrap();
    sorted(text.lines().map(str::to_owned).collect())
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn poll_then_export_gives_exactly_the_topic_and_a_second_poll_changes_nothing() {
    let addr = serve_fixtures();
    let site = Site::new(&fixture_config(addr, &["broken.xml", "missing.xml"]));

    let out = site.run(&["poll"]);
    let err = stderr(&out);
    assert!(out.status.success(), "poll failed:\n{err}");
    // Failing feeds are named with their reason, and did not stop the rest.
    assert!(
        err.contains(&format!("http://{addr}/broken.xml")) && err.contains("not a feed"),
        "{err}"
    );
    assert!(
        err.contains(&format!("http://{addr}/missing.xml")) && err.contains("HTTP 404"),
        "{err}"
    );

    let out = site.run(&["export", "russia-japan"]);
    assert!(out.status.success(), "export failed:\n{}", stderr(&out));
    let first = String::from_utf8(out.stdout).unwrap();
    assert_valid_atom(&first);
    assert_eq!(sorted(titles(&first)), expected_titles(), "{first}");

    // Entries are newest first, name their source feed and link the article.
    let feed: atom_syndication::Feed = first.parse().unwrap();
    let dates: Vec<_> = feed.entries.iter().map(|e| e.published.unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    // Axar.az's copy "citing TASS" is one story with the TASS original,
    // which leads it; Axar's link is a related source of that entry. The
    // other reports of the same day (the agreement to meet again, the
    // Kremlin's comment) are stories of their own.
    let story = feed
        .entries
        .iter()
        .find(|e| e.links.iter().any(|l| l.href.contains("axar.example")))
        .expect("the Axar.az copy is in the topic");
    assert_eq!(story.source.as_ref().unwrap().title.value, "TASS");
    assert!(
        story
            .links
            .iter()
            .any(|l| l.rel == "related" && l.href.contains("axar.example")),
        "{first}"
    );
    // As items, the copy keeps its own source and content.
    let by_item = fixture_config(addr, &["broken.xml", "missing.xml"]).replace(
        "[topic.russia-japan]",
        "[topic.russia-japan]\ngroup = \"item\"",
    );
    std::fs::write(site.config(), &by_item).unwrap();
    let items: atom_syndication::Feed =
        String::from_utf8(site.run(&["export", "russia-japan"]).stdout)
            .unwrap()
            .parse()
            .unwrap();
    let axar = items
        .entries
        .iter()
        .find(|e| e.links.iter().any(|l| l.href.contains("axar.example")))
        .expect("the Axar.az copy is in the topic");
    assert_eq!(axar.source.as_ref().unwrap().title.value, "Axar.az");
    assert!(
        axar.content
            .as_ref()
            .unwrap()
            .value
            .as_ref()
            .unwrap()
            .contains("citing TASS"),
        "content kept"
    );
    assert_eq!(items.entries.len(), feed.entries.len() + 1);
    std::fs::write(
        site.config(),
        fixture_config(addr, &["broken.xml", "missing.xml"]),
    )
    .unwrap();
    // The item seen in two feeds (utm-tagged link) is one entry with the
    // canonical link's identity, seen in both feeds.
    assert_eq!(
        count(
            &site.db(),
            "SELECT count(*) FROM item_sources s JOIN items i ON i.id = s.item_id
             WHERE i.canonical_url = 'https://tass.example/politics/1002'"
        ),
        2
    );

    let items_before = count(&site.db(), "SELECT count(*) FROM items");
    let sources_before = count(&site.db(), "SELECT count(*) FROM item_sources");
    assert_eq!(
        items_before, 11,
        "4 TASS + 3 Axar + 2 NHK + 3 markets - 1 shared"
    );

    let out = site.run(&["poll"]);
    assert!(
        out.status.success(),
        "second poll failed:\n{}",
        stderr(&out)
    );
    assert_eq!(
        count(&site.db(), "SELECT count(*) FROM items"),
        items_before
    );
    assert_eq!(
        count(&site.db(), "SELECT count(*) FROM item_sources"),
        sources_before
    );

    let out_file = site.dir.path().join("topic.atom");
    let out = site.run(&["export", "russia-japan", "-o", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(first, second, "a second poll changed the topic feed");
}

#[test]
fn a_topic_added_later_fills_from_stored_history() {
    let addr = serve_fixtures();
    let config = fixture_config(addr, &[]);
    let site = Site::new(&config);
    assert!(site.run(&["poll"]).status.success());

    std::fs::write(
        site.config(),
        format!("{config}\n[topic.caucasus]\ntitle = \"South Caucasus\"\nquery = \"Armenia OR Caucasus\"\n"),
    )
    .unwrap();
    // No poll in between: the new topic is evaluated over what is stored.
    let out = site.run(&["export", "caucasus"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = String::from_utf8(out.stdout).unwrap();
    assert_valid_atom(&doc);
    assert_eq!(
        sorted(titles(&doc)),
        [
            "President: Rapprochement between Turkiye and Armenia",
            "Some attempts to draw dividing lines in the South Caucasus"
        ]
    );
}

#[test]
fn poll_exits_1_only_when_every_feed_fails() {
    let addr = serve_fixtures();
    let site = Site::new(&format!(
        "[[feed]]\nurl = \"http://{addr}/broken.xml\"\n[[feed]]\nurl = \"http://{addr}/nope.xml\"\n"
    ));
    let out = site.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Feed state is recorded and shown by `feeds`.
    let out = site.run(&["feeds"]);
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("not-a-feed") && listing.contains("404"),
        "{listing}"
    );
}

#[test]
fn a_feed_with_no_items_is_never_shown_as_ok() {
    let addr = serve_fixtures();
    let site = Site::new(&format!(
        "[[feed]]\nurl = \"http://{addr}/empty-channel.rss\"\n[[feed]]\nurl = \"http://{addr}/tass.rss\"\n"
    ));
    // The same bytes twice: the second poll finds them unchanged, and the
    // feed must still say it has no items.
    for _ in 0..2 {
        let out = site.run(&["poll"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.lines()
                .any(|l| l.contains("empty-channel.rss") && l.contains("status=")),
            "{err}"
        );
        let detail = |name: &str| {
            let out = site.run(&["feeds", &format!("http://{addr}/{name}")]);
            assert!(out.status.success(), "{}", stderr(&out));
            String::from_utf8(out.stdout).unwrap()
        };
        let empty = detail("empty-channel.rss");
        assert!(
            empty.contains("status:       no-items")
                && empty.contains("why:          no items:")
                && empty.contains("empty channel"),
            "{empty}"
        );
        assert!(!detail("tass.rss").contains("why:"));
        // In the listing it needs attention, so it comes first.
        let out = site.run(&["feeds"]);
        let listing = String::from_utf8(out.stdout).unwrap();
        let mut lines = listing.lines();
        assert_eq!(lines.next(), Some("2 feeds: 1 no items, 1 ok"), "{listing}");
        let first = lines.next().unwrap_or_default();
        assert!(
            first.starts_with("no-items") && first.contains("empty-channel.rss"),
            "{listing}"
        );
    }
}

#[test]
fn export_of_an_unknown_topic_names_the_known_ones() {
    let addr = serve_fixtures();
    let site = Site::new(&fixture_config(addr, &[]));
    let out = site.run(&["export", "russia-japn"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no topic \"russia-japn\"") && err.contains("russia-japan"),
        "{err}"
    );
}

#[test]
fn check_accepts_the_shipped_config_and_refuses_a_bad_one() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feedsift"))
        .arg("--config")
        .arg(&shipped)
        .arg("check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("russia-japan") && text.contains("8 feeds"),
        "{text}"
    );
    assert!(
        text.contains("stories: within 3d, from a score of 0.45, window freed after 10m idle"),
        "{text}"
    );

    let site = Site::new("[polling]\ninterval = \"soon\"\n");
    let out = site.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("config.toml:2:12: bad duration \"soon\""),
        "{err}"
    );
}

#[test]
fn topic_test_replays_history_and_writes_nothing() {
    let addr = serve_fixtures();
    let site = Site::new(&fixture_config(addr, &[]));
    assert!(site.run(&["poll"]).status.success());
    let db_before = std::fs::read(site.db()).unwrap();

    let out = site.run(&["topic", "test", "russia-japan", "--since", "100000d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("5 items match topic russia-japan (11 items stored"),
        "{text}"
    );
    assert!(
        text.contains("Kremlin comments on Tokyo visit  [@russia @japan]"),
        "{text}"
    );

    // A proposed query against the configured one: only the differences.
    let out = site.run(&[
        "topic",
        "test",
        "russia-japan",
        "--query",
        "@russia AND @japan AND NOT 日本",
        "--since",
        "100000d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("- 2019-05-10 11:15  NHK News"), "{text}");
    assert!(
        text.contains("would add 0 and drop 1: 4 items instead of 5"),
        "{text}"
    );

    // A query alone; and one with an error gets a caret.
    let out = site.run(&[
        "topic",
        "test",
        "--query",
        "title:Kuril* OR Armenia",
        "--since",
        "100000d",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 items match the query"), "{text}");
    let out = site.run(&[
        "topic",
        "test",
        "--query",
        "Japan AND (Russia",
        "--since",
        "100000d",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unclosed '('") && err.contains("  | Japan AND (Russia\n  |           ^"),
        "{err}"
    );

    // The window applies: nothing in these fixtures is from the last 30 days.
    let out = site.run(&["topic", "test", "russia-japan"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("0 items match")
    );

    assert!(
        std::fs::read(site.db()).unwrap() == db_before,
        "topic test changed the database"
    );
}

#[test]
fn entries_say_why_they_are_in_the_topic() {
    let addr = serve_fixtures();
    let site = Site::new(&fixture_config(addr, &[]));
    assert!(site.run(&["poll"]).status.success());
    let out = site.run(&["export", "russia-japan"]);
    let feed: atom_syndication::Feed = String::from_utf8(out.stdout).unwrap().parse().unwrap();
    let kremlin = feed
        .entries
        .iter()
        .find(|e| e.title.value == "Kremlin comments on Tokyo visit")
        .unwrap();
    let terms: Vec<_> = kremlin.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(terms, ["russia-japan", "@russia", "@japan"]);
    let axar = feed
        .entries
        .iter()
        .find(|e| e.links.iter().any(|l| l.href.contains("axar.example")))
        .unwrap();
    assert!(axar.categories.iter().any(|c| c.term == "\"peace treaty\""));
}

/// `feeds`, `story` and `topic test` list; they never write, even when
/// config.toml has changed since the last poll (a new feed, a new topic)
/// and a daemon could be writing the same file.
#[test]
fn listings_write_nothing() {
    let addr = serve_fixtures();
    let config = fixture_config(addr, &[]);
    let site = Site::new(&config);
    assert!(site.run(&["poll"]).status.success());
    // `export` groups the stories (listings never do).
    assert!(site.run(&["export", "russia-japan"]).status.success());
    std::fs::write(
        site.config(),
        format!(
            "{config}\n[[feed]]\nurl = \"http://{addr}/added-later.rss\"\n\n[topic.caucasus]\nquery = \"Armenia OR Caucasus\"\n"
        ),
    )
    .unwrap();
    let snapshot = || {
        let wal = site.db().with_extension("db-wal");
        (
            std::fs::read(site.db()).unwrap(),
            std::fs::read(&wal).unwrap_or_default(),
        )
    };
    let before = snapshot();

    let out = site.run(&["feeds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = String::from_utf8(out.stdout).unwrap();
    // The feed added since the poll is listed from config.toml.
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("never polled") && l.contains("added-later.rss")),
        "{listing}"
    );
    assert!(listing.contains("tass.rss"), "{listing}");

    // `export` grouped the stories, so a listing finds them without writing.
    let story: i64 = rusqlite::Connection::open_with_flags(
        site.db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
    .query_row("SELECT min(id) FROM stories", [], |r| r.get(0))
    .unwrap();
    for args in [
        vec!["story", &story.to_string(), "--why"],
        vec!["topic", "test", "russia-japan", "--since", "100000d"],
    ] {
        let args: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
        let out = site.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert!(before == snapshot(), "a listing changed the database");
}

/// `feedsift feeds` at a glance: a summary of every feed on top, one line
/// per feed, those needing attention first; `--failing` lists exactly
/// those; `--json` parses; `feeds URL` shows one feed in full.
#[test]
fn feeds_at_a_glance_summary_failing_and_json() {
    let addr = serve_fixtures();
    let healthy = ["tass.rss", "axar.atom", "nhk.rdf", "markets.json"];
    let failing = ["broken.xml", "nope.xml", "empty-channel.rss"];
    let urls: Vec<String> = healthy
        .iter()
        .chain(&failing)
        .map(|n| format!("http://{addr}/{n}"))
        .collect();
    let site = Site::new(&feeds_config(urls.clone(), ""));
    assert!(site.run(&["poll"]).status.success());

    let out = site.run(&["feeds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(
        lines[0], "7 feeds: 4 ok, 1 HTTP 404, 1 no items, 1 not a feed",
        "{listing}"
    );
    assert_eq!(lines.len(), 8, "one line per feed\n{listing}");
    // The three that need attention come first.
    for l in &lines[1..4] {
        assert!(failing.iter().any(|n| l.contains(n)), "{listing}");
    }

    let out = site.run(&["feeds", "--failing"]);
    let listed = String::from_utf8(out.stdout).unwrap();
    let named: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(named.len(), failing.len(), "{listed}");
    for n in failing {
        assert!(named.iter().any(|l| l.contains(n)), "{n} missing\n{listed}");
    }

    let out = site.run(&["feeds", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let all = all.as_array().expect("an array");
    assert_eq!(all.len(), 7);
    let nope = all
        .iter()
        .find(|f| f["url"].as_str().is_some_and(|u| u.ends_with("nope.xml")))
        .expect("nope.xml");
    assert_eq!(nope["status"], "404");
    assert_eq!(nope["needs_attention"], true);
    assert_eq!(nope["errors_in_a_row"], 1);
    let tass = all
        .iter()
        .find(|f| f["url"].as_str().is_some_and(|u| u.ends_with("tass.rss")))
        .expect("tass.rss");
    assert_eq!(tass["needs_attention"], false);
    assert!(tass["items"].as_i64().unwrap_or(0) > 0);

    let out = site.run(&["feeds", &urls[5]]);
    let one = String::from_utf8(out.stdout).unwrap();
    assert!(
        one.starts_with(&urls[5]) && one.contains("errors:       1 in a row"),
        "{one}"
    );
    let out = site.run(&["feeds", "http://example.invalid/none"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no feed"), "{}", stderr(&out));
}

/// `topic test` shows which forms of a word a query matched, so the
/// operator sees what stemming added: `япония → японии 2, ...`.
#[test]
fn topic_test_shows_the_word_forms_it_matched() {
    let item = |n: usize, title: &str| {
        format!(
            "<item><title>{title}</title><link>http://ru.example/{n}</link><pubDate>Mon, 06 May 2019 10:0{n}:00 +0000</pubDate></item>"
        )
    };
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>ТАСС</title>{}{}{}{}{}</channel></rss>",
        item(1, "Посол Японии вызван в МИД"),
        item(2, "Визит в Японию отложен"),
        item(3, "Переговоры с Японией продолжатся"),
        item(4, "Япония и Россия: итоги года"),
        item(5, "Погода в Москве"),
    );
    let addr = serve_app(axum::Router::new().route(
        "/ru.rss",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move {
                (
                    [("content-type", "application/rss+xml; charset=utf-8")],
                    doc,
                )
            }
        }),
    ));
    let site = Site::new(&feeds_config(
        [format!("http://{addr}/ru.rss")],
        "[topic.jp]\nquery = \"Япония\"\n",
    ));
    assert!(site.run(&["poll"]).status.success());
    let out = site.run(&["topic", "test", "jp", "--since", "100000d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("4 items match topic jp"), "{text}");
    assert!(
        text.contains("япония → японией 1, японии 1, японию 1"),
        "{text}"
    );
    // Written =Япония, only the form as written.
    let out = site.run(&["topic", "test", "--query", "=Япония", "--since", "100000d"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 items match the query"), "{text}");
    assert!(!text.contains("→"), "{text}");
}
