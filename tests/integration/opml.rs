//! `feedsift opml import` / `opml export` through the real binary: files as
//! Miniflux, FreshRSS and newsboat export them go into a hand-written,
//! commented config.toml without disturbing a byte of it.

use std::path::Path;

use crate::util::*;
use feedsift::config::Config;

/// A config as a person writes it: comments everywhere, odd spacing.
const BASE: &str = r#"# My feeds.   Keep this comment exactly.

[server]
listen = "127.0.0.1:0"          # not served in these tests
base_url = "http://feeds.example.org/"

[[feed]]
url = "https://tass.com/rss/v2.xml"
title = "TASS"
tags = ["wire", "russia"]       # the agency

[[feed]]
url  =  "https://www.japantimes.co.jp/feed/"
# no title: the feed's own

# Term lists, used in queries as @name.
[alias]
russia = ["Russia", "Moscow"]
japan  = ["Japan", "Tokyo"]

[topic.russia-japan]   # the slug
query = '@russia AND @japan'
feeds = ["wire"]
"#;

fn opml_fixture(name: &str) -> std::path::PathBuf {
    fixtures().join("opml").join(name)
}

/// The feeds of a config, as (url, title, tags), sorted by url.
fn feeds_of(config: &Path) -> Vec<(String, Option<String>, Vec<String>)> {
    let cfg = Config::load(config).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Vec<_> = cfg
        .feeds
        .into_iter()
        .map(|f| (f.url.clone(), f.title.clone(), f.tags.clone()))
        .collect();
    v.sort();
    v
}

fn feed(url: &str, title: Option<&str>, tags: &[&str]) -> (String, Option<String>, Vec<String>) {
    (
        url.to_owned(),
        title.map(str::to_owned),
        tags.iter().map(|t| (*t).to_owned()).collect(),
    )
}

/// `after` is `before` with one block inserted: every byte of `before` is
/// still there, in order and together.
#[track_caller]
fn assert_only_inserted(before: &str, after: &str) {
    let prefix = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = before[prefix..]
        .bytes()
        .rev()
        .zip(after[prefix..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(
        prefix + suffix,
        before.len(),
        "the original text was changed, not only added to:\n{after}"
    );
}

fn import(site: &Site, file: &Path) -> (bool, String, String) {
    let out = site.run(&["opml", "import", file.to_str().unwrap()]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
    )
}

#[test]
fn files_from_miniflux_freshrss_and_newsboat_are_added_keeping_the_config_intact() {
    let base_feeds = [
        feed(
            "https://tass.com/rss/v2.xml",
            Some("TASS"),
            &["wire", "russia"],
        ),
        feed("https://www.japantimes.co.jp/feed/", None, &[]),
    ];
    let cases = [
        (
            "miniflux.opml",
            vec![
                feed(
                    "https://hnrss.org/frontpage",
                    Some("Hacker News: Front Page"),
                    &["All"],
                ),
                feed(
                    "https://asia.nikkei.com/rss/feed/nar",
                    Some("Nikkei Asia"),
                    &["Japan"],
                ),
                feed(
                    "https://www.themoscowtimes.com/rss/news",
                    Some("The Moscow Times - Independent News From Russia"),
                    &["Russia & Ukraine"],
                ),
                feed(
                    "https://meduza.io/rss/en/all",
                    Some("Meduza — \"The Real Russia. Today.\""),
                    &["Russia & Ukraine"],
                ),
            ],
            2,
            0,
        ),
        (
            "freshrss.opml",
            vec![
                feed(
                    "https://github.com/FreshRSS/FreshRSS/releases.atom",
                    Some("FreshRSS releases"),
                    &["Uncategorized"],
                ),
                feed(
                    "https://www3.nhk.or.jp/rss/news/cat0.xml",
                    Some("NHK ニュース"),
                    &["Japon"],
                ),
                feed(
                    "https://www.asahi.com/rss/asahi/newsheadlines.rdf",
                    Some("朝日新聞デジタル"),
                    &["Japon"],
                ),
                feed("https://tass.ru/rss/v2.xml", Some("ТАСС"), &["Russie"]),
            ],
            0,
            1,
        ),
        (
            "newsboat.opml",
            vec![
                feed("https://lwn.net/headlines/rss", Some("LWN.net"), &[]),
                feed("https://www.kyodonews.net/rss/news.xml", None, &[]),
                feed(
                    "https://blog.rust-lang.org/feed.xml",
                    Some("Rust Blog"),
                    &[],
                ),
                feed(
                    "https://www.nippon.com/en/feed/",
                    Some("nippon.com & Japan Data"),
                    &[],
                ),
            ],
            1,
            1,
        ),
    ];
    for (file, added, already, not_feeds) in cases {
        let site = Site::new(BASE);
        let (ok, stdout, err) = import(&site, &opml_fixture(file));
        assert!(ok, "{file}: import failed:\n{err}");
        assert!(
            stdout.starts_with(&format!("added {} feeds", added.len())),
            "{file}:\n{stdout}"
        );
        if already > 0 {
            assert!(
                stdout.contains(&format!("skipped {already} already there")),
                "{file}:\n{stdout}"
            );
        }
        if not_feeds > 0 {
            assert!(
                stdout.contains(&format!("skipped {not_feeds} that are not feeds")),
                "{file}:\n{stdout}"
            );
        }
        let after = std::fs::read_to_string(site.config()).unwrap();
        assert_only_inserted(BASE, &after);
        assert!(
            after.contains(&format!("# imported from {file}")),
            "{after}"
        );
        let mut expected: Vec<_> = base_feeds.iter().cloned().chain(added).collect();
        expected.sort();
        assert_eq!(feeds_of(&site.config()), expected, "{file}:\n{after}");
        let check = site.run(&["check"]);
        assert!(check.status.success(), "{file}: check:\n{}", stderr(&check));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(site.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.toml"], "{file}");
    }
}

#[test]
fn importing_the_same_file_twice_adds_nothing_the_second_time() {
    let site = Site::new(BASE);
    let (ok, _, err) = import(&site, &opml_fixture("miniflux.opml"));
    assert!(ok, "{err}");
    let once = std::fs::read(site.config()).unwrap();
    let (ok, stdout, err) = import(&site, &opml_fixture("miniflux.opml"));
    assert!(ok, "{err}");
    assert!(stdout.starts_with("added 0 feeds"), "{stdout}");
    assert!(stdout.contains("skipped 6 already there"), "{stdout}");
    assert_eq!(std::fs::read(site.config()).unwrap(), once);
}

#[test]
fn export_then_import_into_an_empty_config_gives_the_same_feeds() {
    let from = Site::new(&format!(
        "{BASE}
[[feed]]
url = \"https://example.org/a?x=1&y=2\"
title = \"Ampersands & <angle> \\\"quotes\\\"\"
tags = [\"wire\", \"x & y\"]

[[feed]]
url = \"https://example.org/b\"
tags = [\"russia\"]
"
    ));
    let out = from.run(&["opml", "export"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let opml = String::from_utf8(out.stdout).unwrap();
    assert!(opml.contains("<opml version=\"2.0\">"), "{opml}");
    // Tags are folders: the feeds tagged "wire" first sit in one.
    assert!(
        opml.contains("<outline text=\"wire\" title=\"wire\">"),
        "{opml}"
    );
    let file = from.dir.path().join("exported.opml");
    std::fs::write(&file, &opml).unwrap();

    let to = Site::new("");
    let (ok, _, err) = import(&to, &file);
    assert!(ok, "{err}");
    assert_eq!(
        feeds_of(&to.config()),
        feeds_of(&from.config()),
        "{opml}\n{}",
        std::fs::read_to_string(to.config()).unwrap()
    );
    let check = to.run(&["check"]);
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn bad_opml_is_refused_with_its_place_and_the_config_is_untouched() {
    let cases = [
        (
            "truncated.opml",
            "<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><body>\n<outline text=\"A\" xmlUrl=\"https://a.example/rss\">\n</body></opml>\n",
            "not well-formed XML",
        ),
        (
            "feed.xml",
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>x</title></channel></rss>\n",
            "<rss>, not <opml>",
        ),
        (
            "empty.opml",
            "<opml version=\"1.0\"><head/><body><outline text=\"Folder\"/></body></opml>",
            "no <outline> with an xmlUrl",
        ),
        (
            "bad-url.opml",
            "<opml version=\"2.0\"><body>\n<outline text=\"Good\" xmlUrl=\"https://a.example/rss\"/>\n<outline text=\"Bad one\" xmlUrl=\"ftp://b.example/rss\"/>\n</body></opml>",
            "bad-url.opml:3: outline \"Bad one\"",
        ),
        (
            "relative.opml",
            "<opml version=\"2.0\"><body><outline text=\"Rel\" xmlUrl=\"/feed.xml\"/></body></opml>",
            "is not a valid URL",
        ),
        ("binary.opml", "\u{1}\u{2}garbage", "not well-formed XML"),
    ];
    for (name, text, says) in cases {
        let site = Site::new(BASE);
        let file = site.dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, err) = import(&site, &file);
        assert!(!ok, "{name} was accepted:\n{stdout}");
        assert!(
            err.contains(name) && err.contains(says) && err.contains("hint:"),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read_to_string(site.config()).unwrap(), BASE);
    }
}

#[test]
fn a_missing_file_is_named() {
    let site = Site::new(BASE);
    let (ok, _, err) = import(&site, Path::new("/nonexistent/subs.opml"));
    assert!(!ok);
    assert!(err.contains("/nonexistent/subs.opml"), "{err}");
    assert_eq!(std::fs::read_to_string(site.config()).unwrap(), BASE);
}
