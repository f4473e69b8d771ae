//! The subcommands behind the CLI, each returning the process exit code.
//! Errors travel as anyhow here: this is the edge where they become text.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::daemon;
use crate::publish;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ExportFormat {
    Atom,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}

pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    runtime()?.block_on(daemon::run(cfg))?;
    Ok(ExitCode::SUCCESS)
}

pub fn poll(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let s = daemon::poll_all(&cfg, &store).await?;
        store.close().await;
        tracing::info!(
            feeds_ok = s.ok,
            feeds_failed = s.failed,
            new_items = s.new_items,
            "poll finished"
        );
        Ok(if s.ok == 0 && s.failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: ok", cfg.path.display())?;
    writeln!(
        out,
        "  server:  listen {}, base_url {}",
        cfg.server.listen, cfg.server.base_url
    )?;
    writeln!(
        out,
        "  storage: {} (retention {})",
        cfg.storage.path.display(),
        human(cfg.storage.retention)
    )?;
    writeln!(
        out,
        "  polling: every {} by default, {} at once, {} per host, timeout {}",
        human(cfg.polling.interval),
        cfg.polling.concurrency,
        cfg.polling.per_host,
        human(cfg.polling.timeout)
    )?;
    writeln!(out, "  {} feeds:", cfg.feeds.len())?;
    for f in &cfg.feeds {
        let title = f.title.as_deref().unwrap_or("");
        writeln!(out, "    {}  every {}  {title}", f.url, human(f.interval))?;
    }
    writeln!(out, "  {} aliases: {}", cfg.aliases.len(), {
        let names: Vec<_> = cfg.aliases.keys().map(|k| format!("@{k}")).collect();
        names.join(", ")
    })?;
    writeln!(out, "  {} topics:", cfg.topics.len())?;
    for t in &cfg.topics {
        let scope = t
            .feed_filter
            .as_ref()
            .map_or("all feeds".to_owned(), |f| format!("{} feeds", f.len()));
        writeln!(
            out,
            "    {}  \"{}\"  ({scope}, newest {})  {}",
            t.slug,
            t.title,
            t.limit,
            publish::topic_atom_url(&cfg.server.base_url, &t.slug)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(
    path: &Path,
    slug: &str,
    _format: ExportFormat,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let Some(topic) = cfg.topics.iter().find(|t| t.slug == slug).cloned() else {
        let known: Vec<_> = cfg.topics.iter().map(|t| t.slug.as_str()).collect();
        bail!(
            "no topic {slug:?} in {}: known topics are {}",
            cfg.path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let doc = runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let data = store.topic_entries(topic.slug.clone(), topic.limit).await;
        store.close().await;
        anyhow::Ok(publish::atom_feed(&topic, &cfg.server.base_url, &data?)?)
    })?;
    match output {
        None => std::io::stdout().lock().write_all(doc.as_bytes())?,
        Some(file) => write_atomically(file, doc.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes via a temporary file in the same folder and a rename, so a reader
/// (say, nginx serving the file) never sees half a document.
fn write_atomically(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .with_context(|| format!("{} is not a file name", file.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("cannot replace {}", file.display()))?;
    Ok(())
}

pub fn feeds(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let feeds = runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let feeds = store.feeds().await;
        store.close().await;
        anyhow::Ok(feeds?)
    })?;
    let mut out = std::io::stdout().lock();
    for f in feeds {
        let configured = cfg.feeds.iter().any(|c| c.url == f.url);
        let status = match (configured, f.last_status.as_deref(), f.next_poll) {
            (false, _, _) => "removed from config".to_owned(),
            (true, None, _) => "never polled".to_owned(),
            (true, Some("410"), None) => "410 gone: polling stopped".to_owned(),
            (true, Some(s), _) => s.to_owned(),
        };
        writeln!(out, "{}", f.url)?;
        if let Some(t) = &f.title {
            writeln!(out, "  title:        {t}")?;
        }
        writeln!(out, "  status:       {status}")?;
        writeln!(out, "  last success: {}", when(f.last_success))?;
        if f.error_count > 0 {
            writeln!(out, "  errors:       {} in a row", f.error_count)?;
        }
        writeln!(
            out,
            "  next poll:    {}",
            if configured {
                when(f.next_poll)
            } else {
                "-".into()
            }
        )?;
        writeln!(out, "  items:        {}", f.items)?;
        if let Some(moved) = &f.effective_url {
            writeln!(
                out,
                "  moved to:     {moved} (permanent redirect; update config.toml)"
            )?;
        }
        if let Some(e) = &f.last_error
            && f.error_count > 0
        {
            writeln!(out, "  last error:   {e}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Durations the way config.toml writes them.
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= n && s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}
