//! Serving benchmark: what thousands of subscribers polling a topic feed
//! cost. The real release binary (`feedsift run`) polls one in-process feed
//! of 120 items into a 100-entry topic, then wrk (`-t2 -c32`) hammers the
//! topic's Atom feed on loopback, on the same two cores:
//!   plain       — full 200 responses, no compression;
//!   gzip        — full responses, `Accept-Encoding: gzip` as readers send;
//!   conditional — `If-None-Match` with the current ETag: every answer 304.
//!
//! `cargo bench --bench serve` runs 3 × 10 s per scenario and reports
//! medians; `-- --smoke` runs 1 × 2 s (CI), checking that every response
//! was a success and every conditional one a 304. `-- --runs R --secs S`
//! to change them. Needs wrk (apt-get install wrk).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, Site, free_port, serve_dir};

const ITEMS: usize = 120;
const LIMIT: usize = 100;

/// News-like items: their own titles and ~600 bytes of varied text each
/// (words drawn from a 600-word vocabulary, so the feed compresses about
/// as well as real prose), so the 100-entry feed weighs what a real one does.
fn feed_body() -> String {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let vocabulary: Vec<String> = (0..600)
        .map(|_| {
            let len = 3 + (next() % 8) as usize;
            (0..len)
                .map(|_| char::from(b'a' + (next() % 26) as u8))
                .collect()
        })
        .collect();
    let mut words = |n: usize| {
        (0..n)
            .map(|_| vocabulary[(next() % 600) as usize].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Bench wire</title><link>https://wire.example/</link><description>bench</description><language>en</language>\n",
    );
    for i in 0..ITEMS {
        let date = chrono::DateTime::from_timestamp(1_700_000_000 + i as i64 * 600, 0)
            .unwrap_or_default()
            .to_rfc2822();
        s.push_str(&format!(
            "<item><title>Japan Russia {i}: {}</title><link>https://wire.example/news/{i}</link><guid>bench-{i}</guid><pubDate>{date}</pubDate><description><![CDATA[<p>{}.</p><p>{}. <a href=\"/related/{i}\">Related</a></p>]]></description></item>\n",
            words(7),
            words(50),
            words(40),
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p99_ms: f64,
    /// Responses outside 2xx/3xx.
    errors: u64,
}

fn millis(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix("us") {
        Some(n.parse::<f64>().ok()? / 1000.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        n.parse().ok()
    } else if let Some(n) = v.strip_suffix('s') {
        Some(n.parse::<f64>().ok()? * 1000.0)
    } else {
        None
    }
}

fn wrk(url: &str, secs: u64, headers: &[&str]) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{secs}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk is not installed: apt-get install wrk (scripts/test.sh does)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed:\n{text}");
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(millis)
        .unwrap_or_else(|| panic!("no 99% latency in wrk output:\n{text}"));
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Run {
        rps,
        p99_ms,
        errors,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let smoke = args.iter().any(|a| a == "--smoke");
    let runs = value("--runs", if smoke { 1 } else { 3 });
    let secs = value("--secs", if smoke { 2 } else { 10 });

    let feeds = tempfile::tempdir().expect("tempdir");
    std::fs::write(feeds.path().join("wire.rss"), feed_body()).expect("write the feed");
    let feed = serve_dir(feeds.path().to_path_buf());
    let port = free_port();
    let site = Site::new(&format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
base_url = "http://127.0.0.1:{port}/"

[polling]
interval = "1h"

[[feed]]
url = "http://{feed}/wire.rss"

[topic.bench]
title = "Japan and Russia"
query = "Japan Russia"
limit = {LIMIT}
group = "item"
"#
    ));
    let _daemon = Daemon::start(&site, port);
    let url = format!("http://127.0.0.1:{port}/topics/bench.atom");
    let client = reqwest::blocking::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    let start = Instant::now();
    let (etag, bytes) = loop {
        if let Ok(r) = client.get(&url).send()
            && r.status() == 200
        {
            let etag = r
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = r.text().unwrap_or_default();
            if body.matches("<entry>").count() == LIMIT {
                break (etag, body.len());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the topic did not fill in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let inm = format!("If-None-Match: {etag}");
    let check = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .expect("conditional request");
    assert_eq!(check.status(), 304, "a conditional request must get 304");
    let gz_len = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .and_then(|r| r.bytes())
        .map_or(0, |b| b.len());
    println!(
        "serve: {LIMIT}-entry Atom feed ({bytes} bytes, {gz_len} gzipped), wrk -t2 -c32 -d{secs}s, {runs} run(s) each"
    );

    let scenarios: [(&str, Vec<&str>); 3] = [
        ("plain", vec![]),
        ("gzip", vec!["Accept-Encoding: gzip"]),
        ("conditional (If-None-Match → 304)", vec![inm.as_str()]),
    ];
    for (name, headers) in scenarios {
        let results: Vec<Run> = (0..runs).map(|_| wrk(&url, secs, &headers)).collect();
        let errors: u64 = results.iter().map(|r| r.errors).sum();
        assert_eq!(errors, 0, "{name}: {errors} responses were not 2xx/3xx");
        let rps = median(results.iter().map(|r| r.rps).collect());
        let p99 = median(results.iter().map(|r| r.p99_ms).collect());
        let verdict = if rps >= 20_000.0 && p99 <= 10.0 {
            "meets ≥ 20,000 req/s, p99 ≤ 10 ms"
        } else {
            "BELOW the target of ≥ 20,000 req/s, p99 ≤ 10 ms"
        };
        let each: Vec<String> = results
            .iter()
            .map(|r| format!("{:.0}/{:.1}", r.rps, r.p99_ms))
            .collect();
        println!(
            "  {name:<36} {rps:>9.0} req/s   p99 {p99:>6.2} ms   ({verdict}; runs req/s/p99 ms: {})",
            each.join(", ")
        );
    }
}
