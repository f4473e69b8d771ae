//! The subcommands behind the CLI, each returning the process exit code.
//! Errors travel as anyhow here: this is the edge where they become text.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::config::{Config, parse_duration};
use crate::daemon;
use crate::fetch::{Body, Fetcher, Validators};
use crate::opml;
use crate::publish::{self, Format, Page};
use crate::store::{FeedStatus, Store, StoreError, StoredItem};
use crate::topics::{self, Document, ItemText, Topic};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load(path: &Path) -> anyhow::Result<Config> {
    let cfg = Config::load(path)?;
    crate::logging::apply_config_level(&cfg.log_level);
    Ok(cfg)
}

pub fn run(path: &Path, role: daemon::Role) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    runtime()?.block_on(daemon::run(cfg, role))?;
    Ok(ExitCode::SUCCESS)
}

pub fn poll(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let s = daemon::poll_all(&cfg, &store).await?;
        // Stories are not grouped here: that is the daemon's idle work (or
        // `export`'s), and grouping a first poll of 50,000 items took 25 s
        // more than the poll itself (BENCHMARKS.md, issue 21).
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
        cfg.storage.location,
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
    writeln!(
        out,
        "  stories: within {}, from a score of {}, window freed after {} idle",
        human(cfg.stories.window),
        cfg.stories.threshold,
        human(cfg.stories.unload_after)
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

/// Renders one topic from the database, as one document without paging
/// links (a file cannot answer `?page=N`).
async fn render_topic(
    store: &Store,
    cfg: &Config,
    topic: &Topic,
    format: Format,
) -> anyhow::Result<String> {
    let data = store
        .topic_entries(topic.slug.clone(), topic.limit, topic.by_story)
        .await?;
    let hub = cfg.websub.hub_url(&cfg.server.base_url);
    let base = &crate::publish::Place {
        base_url: &cfg.server.base_url,
        hub: hub.as_deref(),
    };
    Ok(format.render(topic, base, &data, Page::SINGLE)?)
}

pub fn export(
    path: &Path,
    slug: &str,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let topic = find_topic(&cfg, slug)?;
    let doc = runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let doc = render_topic(&store, &cfg, &topic, format).await;
        store.close().await;
        doc
    })?;
    match output {
        None => std::io::stdout().lock().write_all(doc.as_bytes())?,
        Some(file) => write_atomically(file, doc.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `feedsift export --all -o DIR`: every topic's Atom and JSON Feed, the
/// OPML list and the index page, laid out as the daemon serves them
/// (`DIR/topics/SLUG.atom`, `DIR/topics.opml`, `DIR/index.html`), so a web
/// server whose root is DIR serves the same addresses.
pub fn export_all(path: &Path, dir: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let topics_dir = dir.join("topics");
    std::fs::create_dir_all(&topics_dir).with_context(|| {
        format!(
            "cannot create {}: check the path and its permissions",
            topics_dir.display()
        )
    })?;
    let written = runtime()?.block_on(async {
        let store = daemon::open_store(&cfg).await?;
        let result = export_into(&store, &cfg, dir).await;
        store.close().await;
        result
    })?;
    tracing::info!(dir = %dir.display(), files = written, "exported every topic");
    Ok(ExitCode::SUCCESS)
}

async fn export_into(store: &Store, cfg: &Config, dir: &Path) -> anyhow::Result<usize> {
    let mut written = 0;
    let mut firsts = Vec::with_capacity(cfg.topics.len());
    for topic in &cfg.topics {
        for format in Format::ALL {
            let doc = render_topic(store, cfg, topic, format).await?;
            let ext = format.spec().extension;
            write_atomically(
                &dir.join("topics").join(format!("{}.{ext}", topic.slug)),
                doc.as_bytes(),
            )?;
            written += 1;
        }
        firsts.push(
            store
                .topic_page(
                    topic.slug.clone(),
                    publish::INDEX_STORIES,
                    topic.by_story,
                    0,
                )
                .await?,
        );
    }
    let base = &cfg.server.base_url;
    write_atomically(
        &dir.join("topics.opml"),
        publish::opml(&cfg.topics, base).as_bytes(),
    )?;
    let pairs: Vec<_> = cfg.topics.iter().zip(&firsts).collect();
    write_atomically(
        &dir.join("index.html"),
        publish::index_html(&pairs, base).as_bytes(),
    )?;
    Ok(written + 2)
}

/// Writes via a temporary file in the same folder and a rename, so a reader
/// (say, nginx serving the file, or the daemon reloading config.toml) never
/// sees half a document. A file being replaced keeps its permissions (a
/// config.toml readable only by the service stays so).
fn write_atomically(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .with_context(|| format!("{} is not a file name", file.display()))?;
    // The process id keeps two exports running at once off each other's file.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = std::fs::metadata(file) {
            f.set_permissions(meta.permissions())?;
        }
        // On disk before the rename, so a crash leaves the old or the new file.
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| {
            format!(
                "cannot write {}: check that the folder exists and is writable",
                tmp.display()
            )
        });
    }
    if let Err(e) = std::fs::rename(&tmp, file) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot replace {}", file.display()));
    }
    Ok(())
}

/// `feedsift opml import FILE`: adds the file's feeds that config.toml does
/// not have yet, keeping everything already written there.
pub fn opml_import(path: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    // The config must be valid first: its feeds decide what is new, and an
    // import should not be blamed for an error that was already there.
    let cfg = load(path).context("config.toml must be valid before importing into it")?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let found = opml::read(file)?;
    let source = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let merged = opml::add_to_config(path, &text, &cfg.feeds, &found.feeds, &source)?;
    if !merged.added.is_empty() {
        // The loader has the last word: what it refuses is never written.
        Config::from_str(path, &merged.text).map_err(|e| {
            anyhow::anyhow!(
                "the feeds of {} would make {} invalid, so nothing was changed:\n{e}",
                file.display(),
                path.display()
            )
        })?;
        // A symlinked config.toml (say, into a git checkout) stays a
        // symlink: the file it points at is the one replaced.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        write_atomically(&target, merged.text.as_bytes())?;
    }
    tracing::info!(
        opml = %file.display(),
        config = %path.display(),
        added = merged.added.len(),
        already = merged.already.len(),
        not_feeds = found.unusable.len(),
        "opml imported"
    );
    let mut out = std::io::stdout().lock();
    let tags = |t: &[String]| {
        if t.is_empty() {
            String::new()
        } else {
            format!("  [{}]", t.join(", "))
        }
    };
    writeln!(
        out,
        "added {} feeds to {}",
        merged.added.len(),
        path.display()
    )?;
    for f in &merged.added {
        let title = f.title.as_deref().unwrap_or("");
        writeln!(out, "  + {}  {title}{}", f.url, tags(&f.tags))?;
    }
    if !merged.already.is_empty() {
        writeln!(out, "skipped {} already there:", merged.already.len())?;
        for f in &merged.already {
            writeln!(out, "  = {}", f.url)?;
        }
    }
    if !found.unusable.is_empty() {
        writeln!(out, "skipped {} that are not feeds:", found.unusable.len())?;
        for u in &found.unusable {
            writeln!(out, "  - {} (line {}): {}", u.url, u.line, u.reason)?;
        }
    }
    if !merged.added.is_empty() {
        writeln!(
            out,
            "run `feedsift check`, then reload the daemon (systemctl reload feedsift) to poll them"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `feedsift opml export`: the configured feeds as OPML 2.0 on stdout.
pub fn opml_export(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    std::io::stdout()
        .lock()
        .write_all(opml::render(&cfg.feeds, Utc::now()).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A feed as `feedsift feeds` shows it: its stored state and where it
/// stands with config.toml.
#[derive(serde::Serialize)]
struct FeedLine {
    url: String,
    title: Option<String>,
    /// The last poll's status, or "never polled", "removed from config",
    /// "gone" (410, polling stopped).
    status: String,
    configured: bool,
    needs_attention: bool,
    last_attempt: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    next_poll: Option<DateTime<Utc>>,
    errors_in_a_row: u32,
    items: i64,
    /// The last failure's error, or why a read feed is not healthy.
    last_error: Option<String>,
    moved_to: Option<String>,
    /// Where our subscription to the feed's WebSub hub stands; None when
    /// it advertises none.
    push: Option<crate::store::PushState>,
}

impl FeedLine {
    fn new(f: FeedStatus, configured: bool) -> FeedLine {
        let status = match (configured, f.last_status.as_deref(), f.next_poll) {
            (false, _, _) => "removed from config".to_owned(),
            (true, None, _) => "never polled".to_owned(),
            (true, Some("410"), None) => "gone".to_owned(),
            (true, Some(s), _) => s.to_owned(),
        };
        let healthy = matches!(
            status.as_str(),
            "ok" | "not-modified" | "unchanged" | "never polled"
        );
        FeedLine {
            needs_attention: !healthy || f.error_count > 0 || f.effective_url.is_some(),
            url: f.url,
            title: f.title,
            status,
            configured,
            last_attempt: f.last_attempt,
            last_success: f.last_success,
            next_poll: f.next_poll.filter(|_| configured),
            errors_in_a_row: f.error_count,
            items: f.items,
            last_error: f.last_error,
            moved_to: f.effective_url,
            push: f.push,
        }
    }

    /// The summary's name for the status: healthy polls are all "ok".
    fn kind(&self) -> String {
        match self.status.as_str() {
            "ok" | "not-modified" | "unchanged" => "ok".into(),
            s if s.parse::<u16>().is_ok() => format!("HTTP {s}"),
            s => s.replace('-', " "),
        }
    }
}

/// `feedsift feeds [URL] [--failing] [--json]`.
pub fn feeds(
    path: &Path,
    url: Option<&str>,
    failing: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    // A listing writes nothing: the database is opened read-only, and
    // feeds configured since the last poll are listed from config.toml.
    // (A PostgreSQL database is asked: it says when it holds nothing yet.)
    let mut stored = if cfg.storage.path().is_none_or(Path::exists) {
        runtime()?.block_on(async {
            let store = match Store::open_read_only(&cfg.storage, cfg.stories) {
                Err(StoreError::NoData) => return anyhow::Ok(Vec::new()),
                opened => opened?,
            };
            let feeds = store.feeds().await;
            store.close().await;
            anyhow::Ok(feeds?)
        })?
    } else {
        Vec::new()
    };
    for c in &cfg.feeds {
        if !stored.iter().any(|f| f.url == c.url) {
            stored.push(FeedStatus::never_polled(&c.url, c.title.as_deref()));
        }
    }
    stored.sort_by(|a, b| a.url.cmp(&b.url));
    let mut lines: Vec<FeedLine> = stored
        .into_iter()
        .map(|f| {
            let configured = cfg.feeds.iter().any(|c| c.url == f.url);
            FeedLine::new(f, configured)
        })
        .collect();
    if let Some(url) = url {
        let Some(one) = lines.iter().find(|l| l.url == url) else {
            anyhow::bail!(
                "no feed {url:?} in config.toml or the database: `feedsift feeds` lists them all"
            );
        };
        let mut out = std::io::stdout().lock();
        if json {
            serde_json::to_writer_pretty(&mut out, one)?;
            writeln!(out)?;
        } else {
            feed_detail(&mut out, one)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The summary counts every feed, whatever is listed below it.
    let summary = feeds_summary(&lines);
    if failing {
        lines.retain(|l| l.needs_attention);
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &lines)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{summary}")?;
    // Those that need attention first, as Miniflux shows feeds with errors.
    lines.sort_by_key(|l| !l.needs_attention);
    let width = lines.iter().map(|l| l.status.len()).max().unwrap_or(0);
    // The push column: the WebSub subscription's state, "-" for a feed
    // with no hub.
    let push = |l: &FeedLine| l.push.map_or("-", |p| p.as_str());
    let push_width = lines.iter().map(|l| push(l).len()).max().unwrap_or(0);
    for l in &lines {
        let errors = match l.errors_in_a_row {
            0 => String::new(),
            1 => "1 error".into(),
            n => format!("{n} errors"),
        };
        writeln!(
            out,
            "{:width$}  {:16}  {:>6} items  {:10}  {:push_width$}  {}{}",
            l.status,
            short_time(l.last_success),
            l.items,
            errors,
            push(l),
            l.url,
            l.title
                .as_deref()
                .map_or(String::new(), |t| format!("  ({t})")),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// "2,767 feeds: 2,714 ok, 44 not a feed, 9 no items", largest first.
fn feeds_summary(lines: &[FeedLine]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in lines {
        let k = l.kind();
        match counts.iter_mut().find(|(name, _)| *name == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let noun = if lines.len() == 1 { "feed" } else { "feeds" };
    format!("{} {noun}: {}", lines.len(), parts.join(", "))
}

/// One feed in full, for `feedsift feeds URL`.
fn feed_detail(out: &mut dyn Write, l: &FeedLine) -> std::io::Result<()> {
    writeln!(out, "{}", l.url)?;
    if let Some(t) = &l.title {
        writeln!(out, "  title:        {t}")?;
    }
    let status = if l.status == "gone" {
        "410 gone: polling stopped"
    } else {
        &l.status
    };
    writeln!(out, "  status:       {status}")?;
    writeln!(out, "  last success: {}", when(l.last_success))?;
    if l.errors_in_a_row > 0 {
        writeln!(out, "  errors:       {} in a row", l.errors_in_a_row)?;
    }
    writeln!(out, "  next poll:    {}", when(l.next_poll))?;
    writeln!(out, "  items:        {}", l.items)?;
    if let Some(p) = l.push {
        writeln!(out, "  push:         {p} (WebSub)")?;
    }
    if let Some(moved) = &l.moved_to {
        writeln!(
            out,
            "  moved to:     {moved} (permanent redirect; update config.toml)"
        )?;
    }
    if let Some(e) = &l.last_error {
        // A failure's error, or why a read feed is not healthy (no items,
        // repaired XML).
        if l.errors_in_a_row > 0 {
            writeln!(out, "  last error:   {e}")?;
        } else {
            writeln!(out, "  why:          {e}")?;
        }
    }
    Ok(())
}

fn short_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or("never".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// `feedsift topic test`: replays stored items through a query. Reads only.
pub fn topic_test(
    path: &Path,
    slug: Option<&str>,
    query: Option<&str>,
    since: &str,
) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let window = parse_duration(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let topic = match slug {
        None => None,
        Some(slug) => Some(find_topic(&cfg, slug)?),
    };
    let proposed = match query {
        None => None,
        Some(q) => Some(
            topics::compile(q, &cfg.aliases)
                .map_err(|e| anyhow::anyhow!("in --query: {}", e.render(q)))?,
        ),
    };
    let since_time = Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
    let items = runtime()?.block_on(async {
        let store = Store::open_read_only(&cfg.storage, cfg.stories)?;
        let items = store.items_since(since_time).await;
        store.close().await;
        anyhow::Ok(items?)
    })?;
    // The topic's feed filter applies to both sides of a comparison.
    let in_scope = |it: &StoredItem| {
        topic
            .as_ref()
            .and_then(|t| t.feed_filter.as_ref())
            .is_none_or(|allowed| it.feed_urls.lines().any(|u| allowed.contains(u)))
    };
    let mut out = std::io::stdout().lock();
    let line = |out: &mut dyn Write, mark: &str, it: &StoredItem, why: &[String]| {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!("  [{}]", why.join(" "))
        };
        let story = match it.story {
            Some(id) if it.story_size > 1 => format!("  (story {id}: {} sources)", it.story_size),
            _ => String::new(),
        };
        writeln!(
            out,
            "{mark}{}  {:<20}  {}{why}{story}",
            it.date.format("%Y-%m-%d %H:%M"),
            truncate(&it.feed_title, 20),
            it.title,
        )
    };
    let (mut old_n, mut new_n, mut added, mut dropped) = (0, 0, 0, 0);
    // query word -> (form seen -> occurrences), over the items listed.
    let mut forms: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> =
        std::collections::BTreeMap::new();
    for it in &items {
        let doc = Document::new(&ItemText {
            title: &it.title,
            summary_html: it.summary.as_deref(),
            content_html: it.content.as_deref(),
            author: it.author.as_deref(),
            categories: &it.categories,
            feeds: &it.feed_labels,
            language: it.language.as_deref(),
        });
        let scoped = in_scope(it);
        let old = topic
            .as_ref()
            .filter(|_| scoped)
            .filter(|t| t.matcher.matches(&doc));
        let new = proposed
            .as_ref()
            .filter(|_| scoped)
            .filter(|m| m.matches(&doc));
        old_n += usize::from(old.is_some());
        new_n += usize::from(new.is_some());
        let shown = new.or(old.map(|t| &t.matcher));
        for (word, form) in shown.map(|m| m.other_forms(&doc)).unwrap_or_default() {
            *forms.entry(word).or_default().entry(form).or_default() += 1;
        }
        match (old, new, proposed.is_some() && topic.is_some()) {
            // A comparison lists only the differences.
            (Some(_), None, true) => {
                dropped += 1;
                line(&mut out, "- ", it, &[])?;
            }
            (None, Some(m), true) => {
                added += 1;
                line(&mut out, "+ ", it, &m.explain(&doc))?;
            }
            (_, _, true) => {}
            (Some(t), _, false) => line(&mut out, "", it, &t.matcher.explain(&doc))?,
            (_, Some(m), false) => line(&mut out, "", it, &m.explain(&doc))?,
            _ => {}
        }
    }
    let scope = format!(
        "{} items stored since {}",
        items.len(),
        since_time.format("%Y-%m-%d")
    );
    match (&topic, query) {
        (Some(t), Some(_)) => writeln!(
            out,
            "the new query would add {added} and drop {dropped}: {new_n} items instead of {old_n} for topic {} ({scope})",
            t.slug
        )?,
        (Some(t), None) => writeln!(out, "{old_n} items match topic {} ({scope})", t.slug)?,
        (None, _) => writeln!(out, "{new_n} items match the query ({scope})")?,
    }
    // What word forms added: "япония → японии 12, японию 4".
    for (word, seen) in &forms {
        let mut seen: Vec<(&String, &usize)> = seen.iter().collect();
        seen.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let list: Vec<String> = seen.iter().map(|(f, n)| format!("{f} {n}")).collect();
        writeln!(out, "{word} → {}", list.join(", "))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `feedsift story ID`: a story's members, the lead marked.
pub fn story(path: &Path, key: &str, why: bool) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let (found, reasons) = runtime()?.block_on(async {
        let store = Store::open_read_only(&cfg.storage, cfg.stories)?;
        let s = store.story(key.to_owned()).await;
        let reasons = match (&s, why) {
            (Ok(Some(s)), true) => store.story_why(s.id).await,
            _ => Ok(Vec::new()),
        };
        store.close().await;
        anyhow::Ok((s?, reasons?))
    })?;
    let Some(s) = found else {
        anyhow::bail!(
            "no story {key:?}: give the number `feedsift topic test` shows, or a story id from a topic feed"
        );
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "story {} (tag:feedsift,2026:story:{}), {} sources:",
        s.id,
        s.uid,
        s.members.len()
    )?;
    for m in &s.members {
        let lead = if m.uid == s.lead_uid { "* " } else { "  " };
        let cites = m
            .cites
            .as_deref()
            .map_or(String::new(), |c| format!("  (cites {c})"));
        writeln!(
            out,
            "{lead}{}  {:<20}  {}{cites}",
            m.date.format("%Y-%m-%d %H:%M"),
            truncate(&m.feed_title, 20),
            m.title
        )?;
        if let Some(l) = &m.link {
            writeln!(out, "    {l}")?;
        }
        if let Some((_, w)) = reasons.iter().find(|(uid, _)| *uid == m.uid) {
            writeln!(out, "    {}", why_line(w))?;
        }
    }
    writeln!(
        out,
        "* the lead: the source the others cite, else the earliest"
    )?;
    if why {
        writeln!(
            out,
            "scores: 1 and above is as sure as the rules get; an item joins at {} or more against most of the members it is compared with",
            cfg.stories.threshold
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One member's evidence: its score against the lead, how many other
/// members it agrees with, and what it shares with the lead.
fn why_line(w: &crate::cluster::MemberWhy) -> String {
    let mut parts = Vec::new();
    match w.vs_lead {
        Some(s) => parts.push(format!("score {s:.2} against the lead")),
        None => parts.push("the lead".to_owned()),
    }
    if w.others > 0 {
        parts.push(format!(
            "agrees with {} of {} other members",
            w.agrees_with, w.others
        ));
    }
    let list = |what: &str, v: &[String]| {
        (!v.is_empty()).then(|| {
            let shown: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
            format!("{what} {}", shown.join(", "))
        })
    };
    let shared: Vec<String> = [
        list("names", &w.names),
        list("figures", &w.figures),
        list("words", &w.words),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !shared.is_empty() {
        parts.push(format!("shares {}", shared.join("; ")));
    } else if w.vs_lead.is_some() {
        parts.push("shares nothing with the lead".to_owned());
    }
    // Shared only through sentences pasted under other stories too: shown
    // apart, since they weigh a tenth.
    if let Some(b) = list("background", &w.background) {
        parts.push(format!("{b} (sentences other stories carry)"));
    }
    format!("why: {}", parts.join("; "))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn find_topic(cfg: &Config, slug: &str) -> anyhow::Result<Topic> {
    cfg.topics
        .iter()
        .find(|t| t.slug == slug)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<_> = cfg.topics.iter().map(|t| t.slug.as_str()).collect();
            anyhow::anyhow!(
                "no topic {slug:?} in {}: known topics are {}",
                cfg.path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
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

/// A feed found for `feeds add`, tried with a real fetch.
struct Found {
    url: String,
    outcome: Result<(Option<String>, usize), String>,
}

/// A fetched document: where it came from after redirects, its bytes and
/// its content type.
struct Fetched {
    url: String,
    bytes: bytes::Bytes,
    content_type: Option<String>,
}

/// GETs `url` unconditionally, redirects followed.
async fn fetch_page(fetcher: &Fetcher, url: &str) -> Result<Fetched, String> {
    let fetched = fetcher
        .fetch(url, url, &Validators::default(), None)
        .await
        .map_err(|e| e.to_string())?;
    match fetched.body {
        Body::Full {
            bytes,
            content_type,
            ..
        } => Ok(Fetched {
            url: fetched.final_url,
            bytes,
            content_type,
        }),
        Body::NotModified => Err("the server answered 304 to a request without validators".into()),
    }
}

/// A fetched document read as a feed: (title, items) or why not.
fn read_feed(page: &Fetched) -> Result<(Option<String>, usize), String> {
    let feed = crate::parse::parse_feed(&page.url, &page.bytes, page.content_type.as_deref())
        .map_err(|e| e.to_string())?;
    Ok((feed.title.clone(), feed.items.len()))
}

/// `feedsift feeds add URL [--pick N]`: finds the feed of a website (or
/// takes a feed address as it is), shows what a test fetch found, and
/// appends it to config.toml as a `[[feed]]`, leaving the rest of the file
/// as it was.
pub fn feeds_add(path: &Path, url: &str, pick: Option<usize>) -> anyhow::Result<ExitCode> {
    let cfg = load(path).context("config.toml must be valid before adding a feed to it")?;
    let page = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .with_context(|| format!("{url:?} is not an http(s) address"))?
        .to_string();
    let fetcher = Fetcher::new(&cfg.polling)?;
    let found: Vec<Found> = runtime()?.block_on(async {
        let fetched = fetch_page(&fetcher, &page)
            .await
            .map_err(|e| anyhow::anyhow!("cannot fetch {page}: {e}"))?;
        let ct = fetched.content_type.as_deref();
        let Some(links) = crate::parse::announced_feeds(&fetched.url, &fetched.bytes, ct) else {
            // Not a web page: the address itself, read from what came.
            let outcome = read_feed(&fetched);
            return anyhow::Ok(vec![Found {
                url: page.clone(),
                outcome,
            }]);
        };
        // A web page: the feeds it announces, each fetched and read.
        let mut found = Vec::with_capacity(links.len());
        for url in links {
            let outcome = fetch_page(&fetcher, &url).await.and_then(|p| read_feed(&p));
            found.push(Found { url, outcome });
        }
        anyhow::Ok(found)
    })?;
    let mut out = std::io::stdout().lock();
    let usable: Vec<&Found> = found.iter().filter(|f| f.outcome.is_ok()).collect();
    if found.is_empty() {
        anyhow::bail!(
            "{page} is a web page that announces no feed (no <link rel=\"alternate\" type=\"application/rss+xml\"> or Atom or JSON Feed link): look for the feed address on the site and give that"
        );
    }
    for (i, f) in found.iter().enumerate() {
        match &f.outcome {
            Ok((title, items)) => writeln!(
                out,
                "{}. {}  {} items{}",
                i + 1,
                f.url,
                items,
                title
                    .as_deref()
                    .map_or(String::new(), |t| format!("  ({t})"))
            )?,
            Err(e) => writeln!(out, "{}. {}  not usable: {e}", i + 1, f.url)?,
        }
    }
    let chosen = match (pick, usable.len()) {
        (Some(n), _) => found
            .get(n.wrapping_sub(1))
            .filter(|f| f.outcome.is_ok())
            .with_context(|| format!("--pick {n}: choose one of the usable feeds listed above"))?,
        (None, 1) => usable[0],
        (None, 0) => anyhow::bail!("none of the feeds {page} announces can be read (see above)"),
        (None, n) => anyhow::bail!(
            "{page} announces {n} feeds: run again with --pick N to add one of those listed above"
        ),
    };
    let title = chosen.outcome.as_ref().ok().and_then(|(t, _)| t.clone());
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let feed = opml::OpmlFeed {
        url: chosen.url.clone(),
        title,
        tags: Vec::new(),
        line: 0,
    };
    let merged = opml::add_to_config(path, &text, &cfg.feeds, &[feed], "feedsift feeds add")?;
    if merged.added.is_empty() {
        writeln!(out, "{} is already in {}", chosen.url, path.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    // The loader has the last word: what it refuses is never written.
    Config::from_str(path, &merged.text).map_err(|e| {
        anyhow::anyhow!(
            "adding {} would make {} invalid, so nothing was changed:\n{e}",
            chosen.url,
            path.display()
        )
    })?;
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    write_atomically(&target, merged.text.as_bytes())?;
    writeln!(
        out,
        "added {} to {}; `systemctl reload feedsift` (or SIGHUP) starts polling it",
        chosen.url,
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `feedsift store copy --to TARGET`: the configured database into an
/// empty one (SQLite ↔ PostgreSQL), ids kept. Stop the daemon first: rows
/// written during the copy would not be in it.
pub fn store_copy(path: &Path, to: &str) -> anyhow::Result<ExitCode> {
    let cfg = load(path)?;
    let target = if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        crate::storage::check_postgres_url(to)
            .map_err(|reason| anyhow::anyhow!("--to {to}: {reason}"))?;
        crate::config::Location::Postgres(to.to_owned())
    } else {
        crate::config::Location::File(std::path::PathBuf::from(to))
    };
    let from = &cfg.storage.location;
    tracing::info!(%from, to = %target, "copying the database");
    let mut last = std::time::Instant::now();
    let copied = crate::storage::copy::copy(from, &target, |table, done, total| {
        // Large copies report every few seconds; every table reports its end.
        if done == total || last.elapsed() >= std::time::Duration::from_secs(2) {
            last = std::time::Instant::now();
            tracing::info!(table, copied = done, rows = total, "copying");
        }
    })
    .with_context(|| format!("cannot copy {from} to {target}"))?;
    let summary: Vec<String> = copied
        .tables
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    println!("copied {} into {target}", summary.join(", "));
    println!(
        "to use it, set [storage] {} in {}",
        match &target {
            crate::config::Location::Postgres(_) => format!("url = \"{target}\""),
            crate::config::Location::File(p) => format!("path = \"{}\"", p.display()),
        },
        cfg.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
