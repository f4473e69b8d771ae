//! Counters the daemon keeps while it runs, and the Prometheus text
//! exposition of them plus what the database holds (`/metrics`). Counters
//! are process-wide atomics: polls run on many tasks and nothing here may
//! block them.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::store::{PushState, StoreStats};

/// Upper bounds (seconds) of the fetch duration histogram: loopback and
/// nearby servers answer in milliseconds, slow publishers in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How a poll ended, for `feedsift_polls_total{result=...}`.
#[derive(Debug, Clone, Copy)]
pub enum PollResult {
    /// A new document was parsed and stored.
    Ok,
    /// The same, after its ill-formed XML was repaired.
    Malformed,
    /// A new document that parsed to no items.
    NoItems,
    /// 304, or the same bytes as last time.
    NotModified,
    Failed,
}

pub struct Metrics {
    polls: [AtomicU64; 5],
    items_ingested: AtomicU64,
    fetch_buckets: [AtomicU64; BUCKETS.len()],
    fetch_count: AtomicU64,
    fetch_micros: AtomicU64,
    /// Unix seconds of the scheduler's last sign of life.
    scheduler_beat: AtomicI64,
    stories_suspect: AtomicU64,
    /// Content pushed by feeds' WebSub hubs: stored, and discarded (bad or
    /// missing signature, no active subscription, not a feed).
    pushes_stored: AtomicU64,
    pushes_rejected: AtomicU64,
}

/// Upper bounds of the story size histogram (members): most stories are
/// one item, copies come by the handful, and past `SUSPECT_MEMBERS` (25)
/// a story is suspect.
pub const STORY_BUCKETS: [u64; 8] = [1, 2, 3, 5, 8, 13, 25, 50];

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

pub static METRICS: Metrics = Metrics::new();

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// All counters at zero.
    pub const fn new() -> Metrics {
        Metrics {
            polls: [ZERO; 5],
            items_ingested: ZERO,
            fetch_buckets: [ZERO; BUCKETS.len()],
            fetch_count: ZERO,
            fetch_micros: ZERO,
            scheduler_beat: AtomicI64::new(0),
            stories_suspect: ZERO,
            pushes_stored: ZERO,
            pushes_rejected: ZERO,
        }
    }

    /// A hub pushed content that was stored, with its new items.
    pub fn push_stored(&self, new_items: u64) {
        self.pushes_stored.fetch_add(1, Relaxed);
        self.items_ingested.fetch_add(new_items, Relaxed);
    }

    /// A hub's push was discarded.
    pub fn push_rejected(&self) {
        self.pushes_rejected.fetch_add(1, Relaxed);
    }

    /// A story grew past what one event gets (see `cluster::Suspect`).
    pub fn story_suspect(&self) {
        self.stories_suspect.fetch_add(1, Relaxed);
    }

    /// Records a finished poll: its result, how long the fetch and store
    /// took, and how many new items it brought.
    pub fn poll(&self, result: PollResult, took: Duration, new_items: u64) {
        self.polls[result as usize].fetch_add(1, Relaxed);
        self.items_ingested.fetch_add(new_items, Relaxed);
        let secs = took.as_secs_f64();
        // Buckets are stored non-cumulatively and summed when rendered.
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.fetch_buckets[i].fetch_add(1, Relaxed);
        }
        self.fetch_count.fetch_add(1, Relaxed);
        self.fetch_micros
            .fetch_add(took.as_micros().min(u128::from(u64::MAX)) as u64, Relaxed);
    }

    /// The scheduler is alive (called from its loop).
    pub fn beat(&self, now_unix: i64) {
        self.scheduler_beat.store(now_unix, Relaxed);
    }

    /// Unix seconds of the scheduler's last beat; 0 before the first.
    pub fn last_beat(&self) -> i64 {
        self.scheduler_beat.load(Relaxed)
    }

    /// The Prometheus text format (version 0.0.4) of the counters and of
    /// `stats`.
    pub fn render(&self, stats: &StoreStats) -> String {
        let mut out = String::with_capacity(2048);
        family(
            &mut out,
            "feedsift_polls_total",
            "counter",
            "Feed polls finished, by result.",
        );
        for (label, i) in [
            ("ok", PollResult::Ok),
            ("malformed", PollResult::Malformed),
            ("no_items", PollResult::NoItems),
            ("not_modified", PollResult::NotModified),
            ("failed", PollResult::Failed),
        ] {
            let _ = writeln!(
                out,
                "feedsift_polls_total{{result=\"{label}\"}} {}",
                self.polls[i as usize].load(Relaxed)
            );
        }
        family(
            &mut out,
            "feedsift_fetch_duration_seconds",
            "histogram",
            "Time from the start of a poll's fetch until its result was stored.",
        );
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.fetch_buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                out,
                "feedsift_fetch_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = self.fetch_count.load(Relaxed);
        let _ = writeln!(
            out,
            "feedsift_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {count}\nfeedsift_fetch_duration_seconds_sum {}\nfeedsift_fetch_duration_seconds_count {count}",
            self.fetch_micros.load(Relaxed) as f64 / 1e6
        );
        let gauges: [(&str, &str, &str, f64); 7] = [
            (
                "feedsift_items_ingested_total",
                "counter",
                "New items stored since the daemon started.",
                self.items_ingested.load(Relaxed) as f64,
            ),
            (
                "feedsift_items",
                "gauge",
                "Items stored.",
                stats.items as f64,
            ),
            (
                "feedsift_stories",
                "gauge",
                "Stories stored.",
                stats.stories as f64,
            ),
            (
                "feedsift_feeds",
                "gauge",
                "Feeds configured.",
                stats.feeds as f64,
            ),
            (
                "feedsift_feeds_in_backoff",
                "gauge",
                "Feeds whose last poll failed; they wait longer before the next.",
                stats.feeds_failing as f64,
            ),
            (
                "feedsift_database_bytes",
                "gauge",
                "Size of the database file (pages in use and free).",
                stats.db_bytes as f64,
            ),
            (
                "feedsift_last_poll_timestamp_seconds",
                "gauge",
                "Unix time of the last poll of any feed; 0 before the first.",
                stats.last_poll.map_or(0.0, |t| t.timestamp() as f64),
            ),
        ];
        for (name, kind, help, value) in gauges {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        family(
            &mut out,
            "feedsift_stories_suspect_total",
            "counter",
            "Stories that grew past what one event gets (too many members, or members days apart); each is logged once.",
        );
        let _ = writeln!(
            out,
            "feedsift_stories_suspect_total {}",
            self.stories_suspect.load(Relaxed)
        );
        family(
            &mut out,
            "feedsift_story_size",
            "histogram",
            "Members per story, over the stories a member joined in the last 7 days.",
        );
        let (mut cumulative, mut sum, mut count) = (0u64, 0u64, 0u64);
        for &(size, n) in &stats.story_sizes {
            sum += size * n;
            count += n;
        }
        for b in STORY_BUCKETS {
            cumulative = stats
                .story_sizes
                .iter()
                .filter(|(size, _)| *size <= b)
                .map(|(_, n)| n)
                .sum::<u64>()
                .max(cumulative);
            let _ = writeln!(out, "feedsift_story_size_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "feedsift_story_size_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "feedsift_story_size_sum {sum}");
        let _ = writeln!(out, "feedsift_story_size_count {count}");
        family(
            &mut out,
            "feedsift_websub_pushes_total",
            "counter",
            "Content pushed by the WebSub hubs of feeds we subscribe to, by what became of it.",
        );
        for (label, n) in [
            ("stored", &self.pushes_stored),
            ("rejected", &self.pushes_rejected),
        ] {
            let _ = writeln!(
                out,
                "feedsift_websub_pushes_total{{result=\"{label}\"}} {}",
                n.load(Relaxed)
            );
        }
        family(
            &mut out,
            "feedsift_websub_subscriptions",
            "gauge",
            "Feeds whose WebSub hub we know, by where our subscription stands.",
        );
        for state in PushState::ALL {
            let n = stats
                .push_states
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "feedsift_websub_subscriptions{{state=\"{state}\"}} {n}"
            );
        }
        family(
            &mut out,
            "feedsift_websub_kept_pushes",
            "gauge",
            "Pushed documents a serving process kept that no polling process has refreshed yet; growing means no poller is taking them.",
        );
        let _ = writeln!(out, "feedsift_websub_kept_pushes {}", stats.kept_pushes);
        family(
            &mut out,
            "feedsift_topic_items",
            "gauge",
            "Items in each topic.",
        );
        for (slug, n) in &stats.topic_items {
            let _ = writeln!(
                out,
                "feedsift_topic_items{{topic=\"{}\"}} {n}",
                escape(slug)
            );
        }
        out
    }
}

/// The HELP and TYPE lines that open a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn story_sizes_render_as_a_cumulative_histogram() {
        let m = Metrics::new();
        m.story_suspect();
        let stats = StoreStats {
            story_sizes: vec![(1, 10), (2, 3), (4, 1), (30, 1)],
            ..StoreStats::default()
        };
        let text = m.render(&stats);
        for line in [
            "feedsift_story_size_bucket{le=\"1\"} 10",
            "feedsift_story_size_bucket{le=\"3\"} 13",
            "feedsift_story_size_bucket{le=\"5\"} 14",
            "feedsift_story_size_bucket{le=\"25\"} 14",
            "feedsift_story_size_bucket{le=\"50\"} 15",
            "feedsift_story_size_bucket{le=\"+Inf\"} 15",
            "feedsift_story_size_sum 50",
            "feedsift_story_size_count 15",
            "feedsift_stories_suspect_total 1",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.poll(PollResult::Ok, Duration::from_millis(5), 3);
        m.poll(PollResult::Failed, Duration::from_millis(300), 0);
        m.poll(PollResult::NotModified, Duration::from_secs(60), 0);
        let text = m.render(&StoreStats::default());
        assert!(
            text.contains("feedsift_fetch_duration_seconds_bucket{le=\"0.01\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("feedsift_fetch_duration_seconds_bucket{le=\"0.5\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("feedsift_fetch_duration_seconds_bucket{le=\"10\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("feedsift_fetch_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("feedsift_polls_total{result=\"failed\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("feedsift_items_ingested_total 3\n"), "{text}");
    }
}
