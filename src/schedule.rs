//! When to poll a feed next: the policy, as pure functions of the outcome
//! and the clock, so it can be tested without a network.
//!
//! After a success the feed's interval is raised to honour what the server
//! (Cache-Control max-age, Expires) and the document (RSS ttl, sy:update*)
//! ask for, capped at a day, then moved out of skipHours/skipDays. After a
//! failure the wait doubles from the interval up to a day; Retry-After
//! waits at least as long as asked. Jitter spreads feeds of one host.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::fetch::HttpHints;
use crate::parse::FeedHints;

/// No feed waits longer than this between polls, whatever it asks.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);
/// Retry-After is honoured up to this; beyond it a server is confused.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Jitter after a success is at most a tenth of the wait, and this.
const MAX_JITTER: Duration = Duration::from_secs(300);

/// 64 unpredictable bits, different on every call: the standard library's
/// randomly keyed hasher over a counter and the time (no crate needed for
/// jitter, names and challenges).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A fraction in [0, 1), different on every call.
pub fn random_fraction() -> f64 {
    (random_u64() % 1_000_000) as f64 / 1_000_000.0
}

fn add(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
}

/// The wait after a successful poll (200 or 304), before jitter.
pub fn success_wait(interval: Duration, http: HttpHints, doc: &FeedHints) -> Duration {
    [Some(interval), http.fresh_for, doc.ttl, doc.update_every]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(interval)
        .min(MAX_WAIT)
}

/// The next poll after a success; `jitter` in [0, 1).
pub fn after_success(
    interval: Duration,
    http: HttpHints,
    doc: &FeedHints,
    now: DateTime<Utc>,
    jitter: f64,
) -> DateTime<Utc> {
    let wait = success_wait(interval, http, doc);
    let spread = (wait / 10).min(MAX_JITTER).mul_f64(jitter.clamp(0.0, 1.0));
    let t = add(now, wait + spread);
    skip_forward(t, doc, add(now, MAX_WAIT))
}

/// Moves `t` to the first hour that is neither a skipped hour nor on a
/// skipped day (both in GMT, as RSS defines them), but not past `limit`.
fn skip_forward(mut t: DateTime<Utc>, doc: &FeedHints, limit: DateTime<Utc>) -> DateTime<Utc> {
    if doc.skip_hours.is_empty() && doc.skip_days.is_empty() {
        return t;
    }
    for _ in 0..(24 * 8) {
        let skipped = doc.skip_hours.contains(&t.hour()) || doc.skip_days.contains(&t.weekday());
        if !skipped {
            return t;
        }
        // To the start of the next hour.
        let next = t + chrono::Duration::hours(1);
        t = next
            .with_minute(0)
            .and_then(|x| x.with_second(0))
            .and_then(|x| x.with_nanosecond(0))
            .unwrap_or(next);
        if t >= limit {
            return limit;
        }
    }
    t.min(limit)
}

/// The wait after `consecutive` failures in a row (1 for the first),
/// before jitter: the interval, doubled per further failure, up to a day.
pub fn backoff(interval: Duration, consecutive: u32) -> Duration {
    let doublings = consecutive.saturating_sub(1).min(20);
    interval
        .saturating_mul(1u32 << doublings)
        .min(MAX_WAIT)
        .max(interval.min(MAX_WAIT))
}

/// The next poll after a failure; `jitter` in [0, 1) scales the backoff by
/// 0.9–1.1 (still at most a day). Retry-After is a floor.
pub fn after_failure(
    interval: Duration,
    consecutive: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    jitter: f64,
) -> DateTime<Utc> {
    let b = backoff(interval, consecutive)
        .mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0))
        .min(MAX_WAIT);
    let wait = match retry_after {
        Some(r) => b.max(r.min(MAX_RETRY_AFTER)),
        None => b,
    };
    add(now, wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Weekday};

    const M15: Duration = Duration::from_secs(15 * 60);

    fn at(h: u32) -> DateTime<Utc> {
        // 2026-11-27 is a Friday.
        Utc.with_ymd_and_hms(2026, 11, 27, h, 10, 0).unwrap()
    }

    #[test]
    fn success_honours_the_longest_hint_up_to_a_day() {
        let none = FeedHints::default();
        assert_eq!(success_wait(M15, HttpHints::default(), &none), M15);
        let http = HttpHints {
            fresh_for: Some(Duration::from_secs(3600)),
        };
        assert_eq!(success_wait(M15, http, &none), Duration::from_secs(3600));
        let doc = FeedHints {
            ttl: Some(Duration::from_secs(7200)),
            update_every: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        assert_eq!(success_wait(M15, http, &doc), Duration::from_secs(7200));
        let weekly = FeedHints {
            update_every: Some(Duration::from_secs(604_800)),
            ..Default::default()
        };
        assert_eq!(success_wait(M15, http, &weekly), MAX_WAIT);
        // A short max-age never makes us poll more often than the interval.
        let short = HttpHints {
            fresh_for: Some(Duration::from_secs(10)),
        };
        assert_eq!(success_wait(M15, short, &none), M15);
    }

    #[test]
    fn jitter_is_bounded() {
        let none = FeedHints::default();
        let lo = after_success(M15, HttpHints::default(), &none, at(12), 0.0);
        let hi = after_success(M15, HttpHints::default(), &none, at(12), 0.999);
        assert_eq!(lo, at(12) + chrono::Duration::minutes(15));
        assert!(hi > lo && hi <= lo + chrono::Duration::seconds(90), "{hi}");
    }

    #[test]
    fn skip_hours_and_days_push_the_poll_out() {
        let doc = FeedHints {
            skip_hours: vec![12, 13],
            ..Default::default()
        };
        let t = after_success(
            M15,
            HttpHints::default(),
            &doc,
            at(11) + chrono::Duration::minutes(50),
            0.0,
        );
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap());
        let weekend = FeedHints {
            skip_days: vec![Weekday::Sat, Weekday::Sun],
            ..Default::default()
        };
        let t = after_success(
            M15,
            HttpHints::default(),
            &weekend,
            at(23) + chrono::Duration::minutes(45),
            0.0,
        );
        // Saturday 00:10 is skipped; capped at a day after "now".
        assert_eq!(
            t,
            at(23) + chrono::Duration::minutes(45) + chrono::Duration::days(1)
        );
    }

    #[test]
    fn failures_back_off_exponentially_to_a_day_and_honour_retry_after() {
        let waits: Vec<u64> = (1..=10).map(|n| backoff(M15, n).as_secs() / 60).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1440, 1440, 1440]);
        let now = at(12);
        let t = after_failure(M15, 1, Some(Duration::from_secs(7200)), now, 0.5);
        assert_eq!(t, now + chrono::Duration::hours(2));
        let t = after_failure(M15, 1, None, now, 0.0);
        assert_eq!(t, now + chrono::Duration::seconds(15 * 60 * 9 / 10));
    }

    /// Drives the policy on tokio's paused clock: a feed failing eight times
    /// and then recovering waits 15m, 30m, ... 24h, then its interval again.
    #[tokio::test(start_paused = true)]
    async fn backoff_then_reset_on_the_paused_clock() {
        let start = tokio::time::Instant::now();
        let mut consecutive = 0u32;
        let mut waits = Vec::new();
        for outcome_ok in [
            false, false, false, false, false, false, false, false, true, true,
        ] {
            let now = Utc::now();
            let next = if outcome_ok {
                consecutive = 0;
                after_success(M15, HttpHints::default(), &FeedHints::default(), now, 0.0)
            } else {
                consecutive += 1;
                after_failure(M15, consecutive, None, now, 0.5)
            };
            let wait = (next - now).to_std().unwrap();
            let before = tokio::time::Instant::now();
            tokio::time::sleep(wait).await;
            waits.push((tokio::time::Instant::now() - before).as_secs() / 60);
        }
        assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1440, 15, 15]);
        let total: u64 = waits.iter().sum();
        assert_eq!((tokio::time::Instant::now() - start).as_secs() / 60, total);
    }
}
