//! Telling systemd how the daemon is doing (sd_notify(3)): READY once the
//! database is open and the server listens, STATUS lines, WATCHDOG pings
//! while the daemon's loop and database answer, RELOADING around a reload,
//! STOPPING on shutdown. Without NOTIFY_SOCKET (not under systemd) every
//! call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::store::StoreStats;

fn send(states: &[NotifyState]) {
    // A lost notification must never stop the daemon; systemd notices a
    // missing READY or WATCHDOG on its own.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// RELOADING=1 with the monotonic time systemd (v253+) asks to go with it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog: half of WatchdogSec, as sd_watchdog_enabled(3)
/// advises; None when systemd set no watchdog for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// The one-line summary for STATUS= and logs.
pub fn summary(stats: &StoreStats) -> String {
    let failing = match stats.feeds_failing {
        0 => String::new(),
        n => format!(" ({n} failing)"),
    };
    let last = stats.last_poll.map_or_else(
        || "no poll yet".to_owned(),
        |t| format!("last poll {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
    );
    format!(
        "{} feeds{failing}, {} items, {} stories; {last}",
        stats.feeds, stats.items, stats.stories
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_as_one_line() {
        let s = StoreStats {
            feeds: 8,
            feeds_failing: 2,
            items: 1234,
            stories: 99,
            ..Default::default()
        };
        assert_eq!(
            summary(&s),
            "8 feeds (2 failing), 1234 items, 99 stories; no poll yet"
        );
    }
}
