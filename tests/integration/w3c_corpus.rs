//! Conformance against third-party feed test files: the 1,824 documents of
//! the W3C Feed Validation Service's test suite (`../shared/corpus`, not
//! copied into this repository), served on 127.0.0.1:0 and polled by the
//! real binary in one `feedsift poll`. Every file's stored item count,
//! status and reason are compared with `tests/fixtures/w3c-expected.tsv`,
//! which `scripts/gen_w3c_expected.py` writes from a run and feedparser's
//! counts; a file feedparser reads entries from that feedsift stores none
//! of, or refuses, must have a reason stated there.
//!
//! The corpus is found at `$FEEDSIFT_W3C_CORPUS`, else `<repo>/../shared/corpus`;
//! without it the test says loudly that it was skipped. With
//! `FEEDSIFT_W3C_OBSERVED=FILE` it also writes what it saw, for the script;
//! `FEEDSIFT_W3C_BIN=PATH` polls with another build of feedsift.
//! `cargo test --test integration w3c_corpus:: -- --nocapture` prints the
//! counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::util::*;

/// One row of the expected table.
#[derive(Debug)]
struct Expected {
    feedparser: usize,
    items: usize,
    /// `read`, `no-items` or `refused`.
    outcome: String,
    reason: String,
}

/// What one file came to.
#[derive(Debug)]
struct Observed {
    items: usize,
    outcome: &'static str,
    status: String,
    error: String,
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FEEDSIFT_W3C_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    };
    dir.join("index.tsv").is_file().then_some(dir)
}

/// `path -> feedparser entries` from the corpus's index.tsv.
fn index(dir: &std::path::Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join("index.tsv")).expect("read index.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "index.tsv: bad line {l:?}");
            (f[0].to_owned(), f[3].parse().expect("feedparser count"))
        })
        .collect()
}

fn expected() -> BTreeMap<String, Expected> {
    let path = fixtures().join("w3c-expected.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("path\t") && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            assert_eq!(f.len(), 5, "w3c-expected.tsv: bad line {l:?}");
            let n = |s: &str| s.parse::<usize>().expect("a count");
            (
                f[0].to_owned(),
                Expected {
                    feedparser: n(f[1]),
                    items: n(f[2]),
                    outcome: f[3].to_owned(),
                    reason: f[4].to_owned(),
                },
            )
        })
        .collect()
}

/// An error message without the parts that vary (positions, ports), so
/// refusals group by cause.
fn reason_class(error: &str) -> String {
    let mut out = String::new();
    let mut last_digit = false;
    for c in error.chars().take(90) {
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('N');
            }
            last_digit = true;
        } else {
            out.push(c);
            last_digit = false;
        }
    }
    out
}

#[test]
fn every_w3c_test_file_is_read_as_far_as_a_tolerant_reader_reads_it() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "\n*** w3c_corpus SKIPPED: no corpus at $FEEDSIFT_W3C_CORPUS or {}/../shared/corpus \
             (index.tsv missing); CI runs it where ../shared exists ***\n",
            env!("CARGO_MANIFEST_DIR")
        );
        return;
    };
    let index = index(&dir);
    let addr = serve_tree(dir.clone());
    let base = format!("http://{addr}");
    let mut config = String::from(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "http://feeds.example.org/"

[polling]
interval = "1h"
timeout = "20s"
concurrency = 16
per_host = 16

"#,
    );
    for path in index.keys() {
        let _ = writeln!(config, "[[feed]]\nurl = \"{base}/{path}\"\n");
    }
    let site = Site::new(&config);
    let started = std::time::Instant::now();
    // `FEEDSIFT_W3C_BIN` runs another build (an older one, to measure
    // "before" for RELIABILITY.md) against the same files.
    let out = match std::env::var_os("FEEDSIFT_W3C_BIN") {
        Some(bin) => std::process::Command::new(bin)
            .arg("--config")
            .arg(site.config())
            .arg("poll")
            .env("FEEDSIFT_LOG", "info")
            .output()
            .expect("run the other feedsift"),
        None => site.run(&["poll"]),
    };
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "a panic:\n{err}");
    let took = started.elapsed();

    let conn = rusqlite::Connection::open(site.db()).expect("open db");
    let mut st = conn
        .prepare(
            "SELECT f.url, coalesce(f.last_status, ''), coalesce(f.last_error, ''),
                    (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id)
             FROM feeds f",
        )
        .expect("prepare");
    let rows: BTreeMap<String, Observed> = st
        .query_map([], |r| {
            let url: String = r.get(0)?;
            let status: String = r.get(1)?;
            let error: String = r.get(2)?;
            let items: i64 = r.get(3)?;
            Ok((url, status, error, items))
        })
        .expect("query")
        .map(|r| r.expect("row"))
        .filter_map(|(url, status, error, items)| {
            let path = url.strip_prefix(&format!("{base}/"))?.to_owned();
            let items = usize::try_from(items).unwrap_or(0);
            let outcome = match (items, status.as_str()) {
                (n, _) if n > 0 => "read",
                (_, "ok" | "malformed" | "no-items") => "no-items",
                _ => "refused",
            };
            let error = error.replace(&base, "{base}");
            Some((
                path,
                Observed {
                    items,
                    outcome,
                    status,
                    error,
                },
            ))
        })
        .collect();

    // The counts, before any comparison, so a run always reports them.
    let read = rows.values().filter(|o| o.outcome == "read").count();
    let malformed = rows.values().filter(|o| o.status == "malformed").count();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut empties: BTreeMap<String, usize> = BTreeMap::new();
    let mut missed = 0;
    for (path, o) in &rows {
        let class = format!("{}: {}", o.status, reason_class(&o.error));
        match o.outcome {
            "refused" => *refusals.entry(class).or_default() += 1,
            "no-items" => *empties.entry(class).or_default() += 1,
            _ => {}
        }
        if o.items == 0 && index.get(path).is_some_and(|&n| n > 0) {
            missed += 1;
        }
    }
    println!(
        "w3c corpus: {} files, {read} read ({malformed} of them repaired), {} refused, {} with 0 items; \
         {missed} where feedparser reads entries and feedsift stores none; poll took {:.1} s",
        rows.len(),
        refusals.values().sum::<usize>(),
        empties.values().sum::<usize>(),
        took.as_secs_f64()
    );
    for (what, map) in [("refused", &refusals), ("0 items", &empties)] {
        for (class, n) in map {
            println!("  {what} {n:>4}  {class}");
        }
    }
    if let Some(file) = std::env::var_os("FEEDSIFT_W3C_OBSERVED") {
        let mut tsv = String::from("path\titems\toutcome\tstatus\terror\n");
        for (path, o) in &rows {
            let error = o.error.replace(['\t', '\n'], " ");
            let _ = writeln!(
                tsv,
                "{path}\t{}\t{}\t{}\t{error}",
                o.items, o.outcome, o.status
            );
        }
        std::fs::write(&file, tsv).expect("write the observations");
    }

    // Now the table, file by file.
    let expected = expected();
    let mut failures = Vec::new();
    let listed: Vec<&String> = expected.keys().collect();
    let indexed: Vec<&String> = index.keys().collect();
    if listed != indexed {
        failures.push(format!(
            "w3c-expected.tsv lists {} files, the corpus index {}: regenerate it with scripts/gen_w3c_expected.py",
            listed.len(),
            indexed.len()
        ));
    }
    for (path, want) in &expected {
        let Some(got) = rows.get(path) else {
            failures.push(format!("{path}: not polled"));
            continue;
        };
        if index.get(path) != Some(&want.feedparser) {
            failures.push(format!(
                "{path}: the table says feedparser reads {}, the index {:?}",
                want.feedparser,
                index.get(path)
            ));
        }
        if want.feedparser > 0 && want.items == 0 && want.reason.trim().is_empty() {
            failures.push(format!(
                "{path}: feedparser reads {} entries, the table expects none and states no reason",
                want.feedparser
            ));
        }
        if got.items != want.items || got.outcome != want.outcome {
            failures.push(format!(
                "{path}: want {} ({} items{}), got {} ({} items, status {}, error {:?})",
                want.outcome,
                want.items,
                if want.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", want.reason)
                },
                got.outcome,
                got.items,
                got.status,
                got.error
            ));
        }
        // A feed that yields nothing must never look healthy.
        if got.items == 0 && got.status == "ok" {
            failures.push(format!("{path}: 0 items stored with status ok"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ from tests/fixtures/w3c-expected.tsv:\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
}
