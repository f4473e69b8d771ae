//! Logging to stderr through tracing. Under systemd (JOURNAL_STREAM set)
//! lines carry no timestamp or colour, which the journal adds or does not
//! want, and start with a syslog priority `<N>` so `journalctl -p` filters
//! by level. The filter comes from `RUST_LOG` (or `FEEDSIFT_LOG`), else from
//! `[log] level` in config.toml once it is loaded, else "info".

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

static HANDLE: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The filter set in the environment, if any: it wins over config.toml.
fn env_filter() -> Option<String> {
    ["FEEDSIFT_LOG", "RUST_LOG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let initial = env_filter()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(initial);
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let output = if journal {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(Journal)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed()
    };
    if tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .is_ok()
    {
        let _ = HANDLE.set(handle);
    }
}

/// Applies `[log] level` from config.toml, unless the environment set a
/// filter (an operator debugging with RUST_LOG keeps it across reloads).
pub fn apply_config_level(level: &str) {
    if env_filter().is_some() {
        return;
    }
    let (Some(handle), Ok(filter)) = (HANDLE.get(), EnvFilter::try_new(level)) else {
        return;
    };
    if let Err(e) = handle.reload(filter) {
        tracing::warn!(error = %e, "cannot change the log level");
    }
}

/// The syslog priority of a level (sd-daemon(3) prefixes).
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// `<6>feedsift::daemon: message field=value`: what the journal wants.
struct Journal;

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
