//! The PostgreSQL backend: the same tables and the same answers as
//! `sqlite.rs`, for operators who outgrow one file. One connection, owned
//! by the store thread like SQLite's; the synchronous `postgres` client
//! fits that thread (it runs a small runtime of its own, so it must never
//! be called from async code: the store thread opens and closes it too).
//!
//! Every query is SQLite's, translated: `INSERT OR IGNORE` → `ON CONFLICT
//! DO NOTHING`, `group_concat` → `string_agg` with the order SQLite's index
//! gave, `last_insert_rowid` → `RETURNING id`, `min(a, b)` → `LEAST`, `IS
//! NOT` → `IS DISTINCT FROM`. The orders (`sort_time DESC, id DESC`...)
//! are the same, so both backends publish byte-identical documents.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement};

use super::pg_schema::MIGRATIONS;
use super::rows::{from_ts, lines, story_reasons, summary, ts};
use super::{
    Backend, Claim, Counts, Entry, FeedSpec, FeedState, FeedStatus, GroupingInput, HubSubscriber,
    InboxPush, IngestStats, LeadCandidate, MatchRow, Member, PollRecord, PruneBatch, PushState,
    PushSubscription, Sketched, SourceFeed, StoreError, StoreStats, StoredItem, StoryDetail,
    StoryInfo, StoryTexts, TopicEntries, TopicMatcher, Touched,
};
use crate::parse::{NewItem, ParsedFeed};
use crate::topics::Topic;

type PgResult<T> = Result<T, postgres::Error>;
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub struct Db {
    client: Client,
    /// For reconnecting (`reconnect_if_lost`), as first opened.
    url: String,
    read_only: bool,
    stmts: Stmts,
    /// Topics whose published documents this job changed; the store
    /// thread hands them to its document versions after each job.
    touched: Touched,
    /// Between `begin` and `commit`/`rollback`.
    in_transaction: bool,
    /// Whether this connection holds `GROUPING_LOCK`, and when it last
    /// asked for it.
    grouping: bool,
    grouping_asked: Option<std::time::Instant>,
    /// Whether this connection holds `HUB_LOCK`.
    hub: bool,
}

/// Prepared statements by their text: the `postgres` client prepares a
/// `&str` query on every call (a round trip of its own), so the queries an
/// ingest runs per item are prepared once per connection.
#[derive(Default)]
struct Stmts(HashMap<&'static str, Statement>);

impl Stmts {
    fn get(&mut self, c: &mut impl GenericClient, sql: &'static str) -> PgResult<Statement> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql)?;
        self.0.insert(sql, s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
        params: Params,
    ) -> PgResult<Vec<Row>> {
        let s = self.get(c, sql)?;
        c.query(&s, params)
    }

    fn opt(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
        params: Params,
    ) -> PgResult<Option<Row>> {
        let s = self.get(c, sql)?;
        c.query_opt(&s, params)
    }

    fn one(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
        params: Params,
    ) -> PgResult<Row> {
        let s = self.get(c, sql)?;
        c.query_one(&s, params)
    }

    fn exec(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
        params: Params,
    ) -> PgResult<u64> {
        let s = self.get(c, sql)?;
        c.execute(&s, params)
    }
}

/// Serialises schema upgrades between processes opening one database at
/// once (an advisory lock held by the upgrading transaction).
const MIGRATION_LOCK: i64 = 0x6665_6564_7369_6674; // "feedsift"
/// Held for the length of one `claim_due` transaction: claims are short
/// and taken one at a time, so two processes never count the same free
/// slot of a host (`per_host`) or lease the same feed.
const CLAIM_LOCK: i64 = MIGRATION_LOCK + 1;
/// Held, for the life of its connection, by the one process that groups
/// stories and prunes. When that process dies its session ends, the lock
/// is free, and the next process to ask takes over.
const GROUPING_LOCK: i64 = MIGRATION_LOCK + 2;
/// Held, for the life of its connection, by the one serving process that
/// delivers the WebSub hub's pushes.
const HUB_LOCK: i64 = MIGRATION_LOCK + 3;
/// How often a process that does not group asks for the grouping lock.
const GROUPING_RETRY: Duration = Duration::from_secs(2);
/// The channel on which every writing process announces, at commit, the
/// topics whose documents changed: a space-separated list of slugs, or
/// `*` for all. Serving processes LISTEN on it (`listen`).
pub const CHANGES: &str = "feedsift_changed";
/// The NOTIFY channel of content kept for polling processes
/// (`Backend::inbox_put`).
pub const PUSHED: &str = "feedsift_pushed";
/// The payload on `PUSHED` that says a subscription row changed (an empty
/// one: content was kept).
pub const PUSH_ROWS: &str = "rows";
/// NOTIFY payloads must stay under 8000 bytes; longer lists become `*`.
const MAX_PAYLOAD: usize = 7000;

/// How long a connection attempt may take before it is reported.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if e.code() == Some(&SqlState::DISK_FULL) {
            return StoreError::DiskFull;
        }
        match e.as_db_error() {
            // The server's own words and its SQLSTATE, without the
            // client's "db error: ERROR:" prefix.
            Some(db) => {
                StoreError::Database(format!("{} (sqlstate {})", db.message(), db.code().code()))
            }
            None => StoreError::Database(e.to_string()),
        }
    }
}

/// Checks a `[storage] url` the way `open` will read it: a config error
/// then names the line, before anything runs.
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(
            "[storage] url must start with postgres:// (PostgreSQL is the database server feedsift can use; a SQLite file is `path`)"
                .into(),
        );
    }
    let cfg = postgres::Config::from_str(url)
        .map_err(|e| format!("[storage] url is not a PostgreSQL url: {}", with_causes(&e)))?;
    if cfg.get_hosts().is_empty() {
        return Err("[storage] url names no host".into());
    }
    Ok(())
}

/// An error and what caused it: the client's own message is often only
/// "invalid connection string", the cause says which option.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Where a connection goes, for messages: hosts, ports and database,
/// never the password.
fn target(cfg: &postgres::Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = cfg
                .get_ports()
                .get(i)
                .or(cfg.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{} (port {port})", dir.display()),
            }
        })
        .collect();
    format!(
        "{} (database {}, user {})",
        hosts.join(", "),
        cfg.get_dbname().or(cfg.get_user()).unwrap_or("?"),
        cfg.get_user().unwrap_or("?")
    )
}

/// Connects as `url` says. The password is the url's, else `$PGPASSWORD`
/// (as libpq does; the `postgres` crate reads no environment). TLS is used
/// when the url says `sslmode=require`, with rustls and the system's root
/// certificates, and the server's certificate is verified (libpq's
/// `verify-full`: an unverified TLS connection protects against nothing
/// but a passive listener). `prefer`, the default, connects without TLS:
/// ask for it to get it.
pub(super) fn connect(url: &str) -> Result<Client, StoreError> {
    let mut cfg = postgres::Config::from_str(url).map_err(|e| StoreError::Connect {
        target: "[storage] url".into(),
        reason: with_causes(&e),
    })?;
    password_from_env(&mut cfg, std::env::var_os("PGPASSWORD"));
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    cfg.application_name("feedsift");
    // The server's NOTICEs ("relation ... already exists, skipping") would
    // reach the log at info through the client; warnings still do.
    // Added to the url's own `options`, if it has any.
    let options = match cfg.get_options() {
        Some(own) => format!("{own} -c client_min_messages=warning"),
        None => "-c client_min_messages=warning".to_owned(),
    };
    cfg.options(&options);
    let target = target(&cfg);
    let connected = if cfg.get_ssl_mode() == SslMode::Require {
        let tls = rustls_connector().map_err(|reason| StoreError::Connect {
            target: target.clone(),
            reason,
        })?;
        cfg.connect(tls)
    } else {
        cfg.connect(NoTls)
    };
    connected.map_err(|e| StoreError::Connect {
        target,
        reason: connect_reason(&e),
    })
}

/// libpq's rule: `$PGPASSWORD` (here `env`) when the url has no password;
/// the url's own password wins.
fn password_from_env(cfg: &mut postgres::Config, env: Option<std::ffi::OsString>) {
    if cfg.get_password().is_none()
        && let Some(pw) = env
    {
        cfg.password(pw.as_encoded_bytes());
    }
}

/// Why a connection failed, in words an operator acts on.
fn connect_reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (sqlstate {})", db.message(), db.code().code());
    }
    // The io error under "error connecting to server".
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    reason.to_lowercase()
}

fn rustls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the system lists but rustls cannot read is skipped,
        // as every TLS client does; the others still verify.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(
            "sslmode=require, but this system has no root certificates to verify the server with: install ca-certificates"
                .into(),
        );
    }
    // The provider reqwest already brings (aws-lc-rs), named rather than
    // left to rustls's process default, which would be ambiguous should a
    // dependency ever enable a second one.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// PostgreSQL's text cannot hold U+0000, which SQLite stores and which a
/// JSON feed may well send ("\u0000"): without this, such a feed would
/// fail to store on PostgreSQL only. It is dropped, as the publisher drops
/// it from every document anyway (XML cannot carry it), so documents stay
/// identical to SQLite's. Item uids are computed before (see `add_item`).
fn drop_nul(s: &mut String) {
    if s.contains('\0') {
        s.retain(|c| c != '\0');
    }
}

fn drop_nul_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        drop_nul(s);
    }
}

/// `drop_nul` for text that is only read.
fn nul_free(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// An item with what a topic query reads. The feeds are listed in the
/// order SQLite's `group_concat` gives them (its `item_sources_item` index:
/// feed, then entry key).
///
/// Each source's feed is looked up by its key (a scalar subquery per
/// source), not joined: as a join, the plan cached for a young database
/// hashed all 1,000 feed rows for each feed's items matched again, twice:
/// 0.58 s of a cold poll of 1,000 feeds, 0.25 s as lookups.
macro_rules! item_row {
    () => {
        concat!(
            "SELECT i.id, i.title, i.summary, i.content, i.author, i.categories, i.sort_time,
                (SELECT string_agg((SELECT f.url FROM feeds f WHERE f.id = s.feed_id),
                                   E'\\n' ORDER BY s.feed_id, s.entry_key)
                   FROM item_sources s WHERE s.item_id = i.id) AS urls,
                (SELECT string_agg((SELECT ",
            feed_label!(),
            " FROM feeds f WHERE f.id = s.feed_id),
                                   E'\\n' ORDER BY s.feed_id, s.entry_key)
                   FROM item_sources s WHERE s.item_id = i.id) AS labels,
                (SELECT f.language FROM feeds f WHERE f.id = i.first_feed_id) AS language
             FROM items i"
        )
    };
}

/// Columns 0..=15 of an entry; `read_entry` reads them.
macro_rules! entry_select {
    () => {
        "SELECT i.uid, i.title, coalesce(i.canonical_url, i.link), i.summary, i.content, i.author,
            i.published, i.updated, i.first_seen, i.sort_time,
            f.url, coalesce(f.config_title, f.title, f.url), f.site_url, f.feed_ident, i.story_id,
            f.language"
    };
}

fn read_match_row(r: &Row) -> PgResult<MatchRow> {
    Ok(MatchRow {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        summary: r.try_get(2)?,
        content: r.try_get(3)?,
        author: r.try_get(4)?,
        categories: r.try_get(5)?,
        sort_time: r.try_get(6)?,
        urls: r.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
        feed_labels: r.try_get::<_, Option<String>>(8)?.unwrap_or_default(),
        language: r.try_get(9)?,
    })
}

fn read_entry(r: &Row) -> PgResult<Entry> {
    let first_seen = from_ts(r.try_get(8)?).unwrap_or_default();
    Ok(Entry {
        uid: r.try_get(0)?,
        title: r.try_get(1)?,
        link: r.try_get(2)?,
        summary: r.try_get(3)?,
        content: r.try_get(4)?,
        author: r.try_get(5)?,
        published: from_ts(r.try_get(6)?),
        updated: from_ts(r.try_get(7)?),
        first_seen,
        sort_time: from_ts(r.try_get(9)?).unwrap_or(first_seen),
        source: SourceFeed {
            url: r.try_get(10)?,
            title: r.try_get(11)?,
            site_url: r.try_get(12)?,
            ident: r.try_get(13)?,
            language: r.try_get(15)?,
        },
        matched: Vec::new(),
        story: None,
    })
}

const INSERT_MEMBER: &str = "INSERT INTO topic_items (slug, item_id, sort_time, matched)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// The items waiting for a story, oldest first (the partial index
/// `items_pending` holds exactly them, in this order).
const PENDING: &str = "SELECT id FROM items WHERE story_id IS NULL ORDER BY sort_time, id LIMIT $1";

/// Why each member of a story is in a topic.
const STORY_WHYS: &str = "SELECT t.matched FROM items i
     JOIN topic_items t ON t.slug = $1 AND t.item_id = i.id
     WHERE i.story_id = $2 ORDER BY i.sort_time, i.id";

/// The topics holding any member of an item's story.
const STORY_TOPICS: &str =
    "SELECT DISTINCT t.slug FROM items x JOIN items i ON i.story_id = x.story_id
     JOIN topic_items t ON t.item_id = i.id WHERE x.id = $1";

const STORY_MEMBERS: &str = "SELECT i.uid, i.title, coalesce(i.canonical_url, i.link),
        coalesce(f.config_title, f.title, f.url), f.url, i.sort_time, i.cites
     FROM items i JOIN feeds f ON f.id = i.first_feed_id
     WHERE i.story_id = $1 ORDER BY i.sort_time, i.id";

impl Db {
    /// Whether every topic is to be published again already (see the
    /// SQLite backend's).
    fn every_topic_touched(&mut self) -> Result<bool, StoreError> {
        if self.touched.all {
            return Ok(true);
        }
        if self.touched.slugs.is_empty() {
            return Ok(false);
        }
        let rows = self
            .stmts
            .query(&mut self.client, "SELECT slug FROM topics", &[])?;
        for r in rows {
            if !self.touched.slugs.contains(r.try_get::<_, &str>(0)?) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Connects, creating or upgrading the schema as needed.
    pub fn open(url: &str) -> Result<Db, StoreError> {
        let mut client = connect(url)?;
        migrate(&mut client)?;
        Ok(Db::with(client, url, false))
    }

    /// Connects for reading only: listings (`feeds`, `story`, `topic
    /// test`) must not change what they list, nor upgrade the schema under
    /// a running daemon. The session refuses every write.
    pub fn open_read_only(url: &str) -> Result<Db, StoreError> {
        let mut client = connect(url)?;
        read_only_session(&mut client)?;
        let known = MIGRATIONS.len() as i64;
        let version = schema_version(&mut client)?;
        let not_ready = |reason: String| StoreError::NotReady { reason };
        match version {
            None => Err(StoreError::NoData),
            Some(v) if v > known => Err(StoreError::TooNew { found: v, known }),
            Some(v) if v < known => Err(not_ready(format!(
                "it is at schema {v}, this feedsift reads {known}: `feedsift poll` or `feedsift run` upgrades it"
            ))),
            Some(_) => Ok(Db::with(client, url, true)),
        }
    }

    fn with(client: Client, url: &str, read_only: bool) -> Db {
        Db {
            client,
            url: url.to_owned(),
            read_only,
            stmts: Stmts::default(),
            touched: Touched::default(),
            in_transaction: false,
            grouping: false,
            grouping_asked: None,
            hub: false,
        }
    }

    /// Records what a committed ingest changed.
    fn note(&mut self, done: Ingested) -> IngestStats {
        self.touched.all |= done.feed_changed;
        self.touched.slugs.extend(done.touched);
        done.stats
    }

    fn story_members(&mut self, story: i64) -> PgResult<Vec<Member>> {
        self.stmts
            .query(&mut self.client, STORY_MEMBERS, &[&story])?
            .iter()
            .map(|r| {
                Ok(Member {
                    uid: r.try_get(0)?,
                    title: r.try_get(1)?,
                    link: r.try_get(2)?,
                    feed_title: r.try_get(3)?,
                    feed_url: r.try_get(4)?,
                    date: from_ts(r.try_get(5)?).unwrap_or_default(),
                    cites: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// One entry per story with a member in the topic: the lead item, with
    /// every member listed, newest story first.
    fn topic_stories(&mut self, slug: &str, limit: i64, offset: i64) -> PgResult<Vec<Entry>> {
        let stories = self.stmts.query(
            &mut self.client,
            "SELECT s.id, s.uid, s.first_seen, s.updated, s.sort_time, s.lead_item_id
             FROM stories s
             WHERE s.id IN (SELECT i.story_id FROM topic_items t JOIN items i ON i.id = t.item_id
                            WHERE t.slug = $1)
             ORDER BY s.sort_time DESC, s.id DESC
             LIMIT $2 OFFSET $3",
            &[&slug, &limit, &offset],
        )?;
        let mut out = Vec::with_capacity(stories.len());
        for s in stories {
            let (id, uid): (i64, String) = (s.try_get(0)?, s.try_get(1)?);
            let lead: i64 = s.try_get(5)?;
            let row = self.stmts.one(
                &mut self.client,
                concat!(
                    entry_select!(),
                    " FROM items i JOIN feeds f ON f.id = i.first_feed_id WHERE i.id = $1"
                ),
                &[&lead],
            )?;
            let mut e = read_entry(&row)?;
            let whys = self
                .stmts
                .query(&mut self.client, STORY_WHYS, &[&slug, &id])?
                .iter()
                .map(|w| w.try_get(0))
                .collect::<PgResult<Vec<Option<String>>>>()?;
            e.matched = story_reasons(whys);
            e.story = Some(StoryInfo {
                uid,
                first_seen: from_ts(s.try_get(2)?).unwrap_or_default(),
                updated: from_ts(s.try_get(3)?).unwrap_or_default(),
                sort_time: from_ts(s.try_get(4)?).unwrap_or_default(),
                members: self.story_members(id)?,
            });
            out.push(e);
        }
        Ok(out)
    }
}

impl Backend for Db {
    fn push_subscriptions(&mut self) -> Result<Vec<PushSubscription>, StoreError> {
        self.stmts
            .query(
                &mut self.client,
                concat!(
                    "SELECT ",
                    push_columns!(),
                    " FROM websub_subscriptions ORDER BY feed_url"
                ),
                &[],
            )?
            .iter()
            .map(push_row)
            .collect::<PgResult<_>>()
            .map_err(StoreError::from)
    }

    fn push_by_token(&mut self, token: &str) -> Result<Option<PushSubscription>, StoreError> {
        self.stmts
            .query(
                &mut self.client,
                concat!(
                    "SELECT ",
                    push_columns!(),
                    " FROM websub_subscriptions WHERE token = $1"
                ),
                &[&nul_free(token)],
            )?
            .first()
            .map(push_row)
            .transpose()
            .map_err(StoreError::from)
    }

    fn push_claim(&mut self, s: &PushSubscription, requested: i64) -> Result<bool, StoreError> {
        let n = self.stmts.exec(
            &mut self.client,
            "UPDATE websub_subscriptions SET requested = $6
             WHERE feed_url = $1 AND token = $2 AND state = $3 AND requested = $4
               AND lease_until IS NOT DISTINCT FROM $5",
            &[
                &nul_free(&s.feed_url),
                &s.token,
                &s.state.as_str(),
                &s.requested,
                &s.lease_until,
                &requested,
            ],
        )?;
        Ok(n == 1)
    }

    /// Kept, and announced on `PUSHED` so a polling process takes it at
    /// once rather than at its next look.
    fn inbox_put(&mut self, p: &InboxPush) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "INSERT INTO websub_inbox (feed_url, content_type, body, received) VALUES ($1, $2, $3, $4)",
            &[
                &nul_free(&p.feed_url),
                &p.content_type.as_deref().map(nul_free),
                &p.body,
                &p.received,
            ],
        )?;
        self.stmts
            .exec(&mut self.client, "SELECT pg_notify($1, '')", &[&PUSHED])?;
        Ok(())
    }

    /// `SKIP LOCKED`: processes taking at once get different pushes.
    fn inbox_take(
        &mut self,
        now: i64,
        hold_until: i64,
        limit: usize,
    ) -> Result<Vec<InboxPush>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut taken = self
            .stmts
            .query(
                &mut self.client,
                "UPDATE websub_inbox SET held_until = $2
                 WHERE id IN (SELECT id FROM websub_inbox WHERE held_until <= $1
                              ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, feed_url, content_type, body, received",
                &[&now, &hold_until, &limit],
            )?
            .iter()
            .map(|r| {
                Ok(InboxPush {
                    id: r.try_get(0)?,
                    feed_url: r.try_get(1)?,
                    content_type: r.try_get(2)?,
                    body: r.try_get(3)?,
                    received: r.try_get(4)?,
                })
            })
            .collect::<PgResult<Vec<InboxPush>>>()?;
        taken.sort_by_key(|p| p.id);
        Ok(taken)
    }

    fn inbox_done(&mut self, id: i64) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "DELETE FROM websub_inbox WHERE id = $1",
            &[&id],
        )?;
        Ok(())
    }

    fn push_put(&mut self, s: &PushSubscription) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            concat!(
                "INSERT INTO websub_subscriptions (",
                push_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (feed_url) DO UPDATE SET hub = excluded.hub, topic = excluded.topic,
                     state = excluded.state, token = excluded.token, secret = excluded.secret,
                     lease_until = excluded.lease_until, renew_at = excluded.renew_at,
                     requested = excluded.requested, error = excluded.error"
            ),
            &[
                &nul_free(&s.feed_url),
                &nul_free(&s.hub),
                &nul_free(&s.topic),
                &s.state.as_str(),
                &s.token,
                &s.secret,
                &s.lease_until,
                &s.renew_at,
                &s.requested,
                &s.error.as_deref().map(nul_free),
            ],
        )?;
        // Polling processes hear it at once: one whose subscription the
        // serving process just verified stops polling it.
        self.stmts.exec(
            &mut self.client,
            "SELECT pg_notify($1, $2)",
            &[&PUSHED, &PUSH_ROWS],
        )?;
        Ok(())
    }

    fn reschedule(&mut self, feed_url: &str, at: i64, later: bool) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE feeds SET next_poll = $2
             WHERE url = $1 AND (next_poll IS NULL OR ($3 AND next_poll < $2) OR (NOT $3 AND next_poll > $2))",
            &[&feed_url, &at, &later],
        )?;
        Ok(())
    }

    fn push_delete(&mut self, feed_url: &str) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "DELETE FROM websub_subscriptions WHERE feed_url = $1",
            &[&feed_url],
        )?;
        Ok(())
    }

    /// Asked once per change: cheap next to a delivery.
    fn holds_hub(&mut self) -> Result<bool, StoreError> {
        if !self.hub {
            self.hub = self
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&HUB_LOCK])?
                .try_get(0)?;
            if self.hub {
                tracing::info!("this process delivers the WebSub hub's pushes");
            }
        }
        Ok(self.hub)
    }

    fn hub_subscribe(&mut self, s: &HubSubscriber, now: i64) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "INSERT INTO hub_subscribers (topic, callback, secret, expires, created)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (topic, callback) DO UPDATE SET secret = excluded.secret, expires = excluded.expires",
            &[&nul_free(&s.topic), &nul_free(&s.callback), &s.secret.as_deref().map(nul_free), &s.expires, &now],
        )?;
        Ok(())
    }

    fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool, StoreError> {
        let n = self.stmts.exec(
            &mut self.client,
            "DELETE FROM hub_subscribers WHERE topic = $1 AND callback = $2",
            &[&topic, &callback],
        )?;
        Ok(n > 0)
    }

    fn hub_subscribers(&mut self, topic: &str, now: i64) -> Result<Vec<HubSubscriber>, StoreError> {
        self.stmts
            .query(
                &mut self.client,
                "SELECT topic, callback, secret, expires FROM hub_subscribers
                 WHERE topic = $1 AND expires > $2 ORDER BY callback",
                &[&topic, &now],
            )?
            .iter()
            .map(|r| {
                Ok(HubSubscriber {
                    topic: r.try_get(0)?,
                    callback: r.try_get(1)?,
                    secret: r.try_get(2)?,
                    expires: r.try_get(3)?,
                })
            })
            .collect::<PgResult<_>>()
            .map_err(StoreError::from)
    }

    fn hub_expire(&mut self, now: i64) -> Result<usize, StoreError> {
        let n = self.stmts.exec(
            &mut self.client,
            "DELETE FROM hub_subscribers WHERE expires <= $1",
            &[&now],
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn hub_count(&mut self, topic: &str, callback: &str, now: i64) -> Result<usize, StoreError> {
        let n: i64 = self
            .stmts
            .query(
                &mut self.client,
                "SELECT count(*) FROM hub_subscribers
                 WHERE topic = $1 AND expires > $2 AND callback <> $3",
                &[&nul_free(topic), &now, &nul_free(callback)],
            )?
            .first()
            .map_or(Ok(0), |r| r.try_get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Always false for now: a PostgreSQL database is shared by design,
    /// and other processes' commits will be announced with LISTEN/NOTIFY
    /// (it comes with the `serve` role); there is no cheap counter to poll
    /// like SQLite's `data_version`.
    fn check_external_writes(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Also announces the change to every process listening (`listen`),
    /// after the commit that made it: NOTIFY outside a transaction is
    /// delivered at once.
    fn take_touched(&mut self) -> Touched {
        let t = std::mem::take(&mut self.touched);
        if (t.all || !t.slugs.is_empty()) && !self.read_only && !self.in_transaction {
            let payload = change_payload(&t);
            if let Err(e) = self
                .client
                .execute("SELECT pg_notify($1, $2)", &[&CHANGES, &payload])
            {
                tracing::warn!(error = %e, "cannot announce a change to other processes");
            }
        }
        t
    }

    fn shares_feeds(&self) -> bool {
        true
    }

    fn claim_due(&mut self, c: &Claim<'_>) -> Result<Vec<String>, StoreError> {
        let Db { client, stmts, .. } = self;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK])?;
        let mut busy: HashMap<String, usize> = HashMap::new();
        for r in stmts.query(
            &mut tx,
            "SELECT url FROM feeds WHERE lease_until > $1",
            &[&c.now],
        )? {
            *busy
                .entry(host_of(&r.try_get::<_, String>(0)?))
                .or_default() += 1;
        }
        // Never polled, or due; a feed that is gone (410) has no next poll.
        let limit = i64::try_from(c.max.saturating_mul(4).saturating_add(64)).unwrap_or(i64::MAX);
        let due = stmts.query(
            &mut tx,
            "SELECT url FROM feeds
             WHERE NOT retired
               AND (next_poll <= $1 OR (next_poll IS NULL AND last_attempt IS NULL))
               AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY next_poll NULLS FIRST, id LIMIT $2",
            &[&c.now, &limit],
        )?;
        let mut picked = Vec::new();
        for r in due {
            if picked.len() >= c.max {
                break;
            }
            let url: String = r.try_get(0)?;
            let n = busy.entry(host_of(&url)).or_default();
            if *n < c.per_host {
                *n += 1;
                picked.push(url);
            }
        }
        if !picked.is_empty() {
            stmts.exec(
                &mut tx,
                "UPDATE feeds SET lease_owner = $1, lease_until = $2 WHERE url = ANY($3)",
                &[&c.owner, &c.until, &picked],
            )?;
        }
        tx.commit()?;
        Ok(picked)
    }

    /// Only rows whose flag changes are written.
    fn lease_only(&mut self, urls: &[String]) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE feeds SET retired = NOT (url = ANY($1)) WHERE retired = (url = ANY($1))",
            &[&urls],
        )?;
        Ok(())
    }

    fn renew_leases(&mut self, owner: &str, until: i64) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE feeds SET lease_until = $2 WHERE lease_owner = $1",
            &[&owner, &until],
        )?;
        Ok(())
    }

    fn release_leases(&mut self, owner: &str, url: Option<&str>) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL
             WHERE lease_owner = $1 AND ($2::text IS NULL OR url = $2)",
            &[&owner, &url],
        )?;
        Ok(())
    }

    fn holds_grouping(&mut self) -> Result<bool, StoreError> {
        if self.grouping || self.read_only {
            return Ok(self.grouping);
        }
        if self
            .grouping_asked
            .is_some_and(|t| t.elapsed() < GROUPING_RETRY)
        {
            return Ok(false);
        }
        self.grouping_asked = Some(std::time::Instant::now());
        self.grouping = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&GROUPING_LOCK])?
            .try_get(0)?;
        if self.grouping {
            tracing::info!("this process groups stories and prunes for the database");
        }
        Ok(self.grouping)
    }

    /// As SQLite's: up to `max` items first seen before `cutoff` in one
    /// transaction, keeping what topic feeds show and stories with a recent
    /// or kept member whole. Free space is PostgreSQL's (autovacuum), so
    /// nothing is handed back here and both page counts are 0.
    fn prune_batch(
        &mut self,
        cutoff: DateTime<Utc>,
        max: usize,
        _vacuum_pages: u32,
        topics: &[Topic],
    ) -> Result<PruneBatch, StoreError> {
        let cutoff = ts(cutoff);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let Db { client, stmts, .. } = self;
        let mut tx = client.transaction()?;
        // A story's lead may go before the rest of it (a batch can end in
        // the middle of a story); the lead is moved below, and the
        // reference is checked at commit.
        tx.batch_execute("SET CONSTRAINTS ALL DEFERRED")?;
        fill_keep(&mut tx, stmts, topics)?;
        tx.batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS prune_batch (id BIGINT PRIMARY KEY);
             DELETE FROM prune_batch;",
        )?;
        let items = stmts.exec(
            &mut tx,
            "INSERT INTO prune_batch
             SELECT i.id FROM items i
             WHERE i.first_seen < $1
               AND i.id NOT IN (SELECT id FROM prune_keep)
               AND (i.story_id IS NULL OR NOT EXISTS (
                    SELECT 1 FROM items m WHERE m.story_id = i.story_id
                      AND (m.first_seen >= $1 OR m.id IN (SELECT id FROM prune_keep))))
             ORDER BY i.first_seen, i.id
             LIMIT $2",
            &[&cutoff, &max],
        )?;
        let mut stories = 0;
        if items > 0 {
            let touched: Vec<i64> = stmts
                .query(
                    &mut tx,
                    "SELECT DISTINCT story_id FROM items
                     WHERE id IN (SELECT id FROM prune_batch) AND story_id IS NOT NULL",
                    &[],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<PgResult<_>>()?;
            tx.batch_execute(
                "DELETE FROM topic_items WHERE item_id IN (SELECT id FROM prune_batch);
                 DELETE FROM item_sources WHERE item_id IN (SELECT id FROM prune_batch);
                 DELETE FROM items WHERE id IN (SELECT id FROM prune_batch);",
            )?;
            for story in touched {
                stories += stmts.exec(
                    &mut tx,
                    "DELETE FROM stories WHERE id = $1
                     AND NOT EXISTS (SELECT 1 FROM items WHERE story_id = $1)",
                    &[&story],
                )?;
                // What is left of a story goes in a later batch; until then
                // its earliest remaining member leads it.
                stmts.exec(
                    &mut tx,
                    "UPDATE stories SET lead_item_id =
                         (SELECT id FROM items WHERE story_id = $1 ORDER BY sort_time, id LIMIT 1)
                     WHERE id = $1 AND lead_item_id NOT IN (SELECT id FROM items)",
                    &[&story],
                )?;
            }
        }
        tx.commit()?;
        if items > 0 {
            // Pruned items may be in cached documents (older pages).
            self.touched.all = true;
        }
        Ok(PruneBatch {
            items: usize::try_from(items).unwrap_or(usize::MAX),
            stories: usize::try_from(stories).unwrap_or(usize::MAX),
            vacuumed_pages: 0,
            free_pages: 0,
        })
    }

    /// A new connection once the old one is closed (the server restarted,
    /// or the network dropped it): the job that found it broken failed,
    /// the next one runs on the new connection. Its prepared statements
    /// died with the old one; an open transaction was rolled back by the
    /// server. The schema is not migrated again (it was, at open).
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        if !self.client.is_closed() {
            return Ok(());
        }
        tracing::warn!("the database connection was lost; reconnecting");
        let mut client = connect(&self.url)?;
        if self.read_only {
            read_only_session(&mut client)?;
        }
        self.client = client;
        self.stmts = Stmts::default();
        self.in_transaction = false;
        // The session lock ended with the old session; another process
        // may hold it now.
        if self.grouping {
            tracing::warn!("lost the story grouping lock with the connection");
        }
        self.grouping = false;
        self.grouping_asked = None;
        self.hub = false;
        tracing::info!("reconnected to the database");
        Ok(())
    }

    fn close(self: Box<Self>) {
        if let Err(e) = self.client.close() {
            tracing::warn!(error = %e, "closing the database connection failed");
        }
    }

    /// Writes only the feeds that are new or changed, in url order: other
    /// processes sharing the database hold the rows of feeds they are
    /// storing polls of, and rewriting every row (as SQLite's does, alone)
    /// made each start wait on them, and deadlock with them.
    fn sync_feeds(&mut self, feeds: &[FeedSpec]) -> Result<(), StoreError> {
        let Db { client, stmts, .. } = self;
        let stored: HashMap<String, (Option<String>, Option<String>)> = stmts
            .query(client, "SELECT url, config_title, tags FROM feeds", &[])?
            .iter()
            .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .collect::<PgResult<_>>()?;
        let mut changed: Vec<&FeedSpec> = feeds
            .iter()
            .filter(|f| {
                let tags = (!f.tags.is_empty()).then(|| f.tags.join(" "));
                stored.get(&f.url) != Some(&(f.title.clone(), tags))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        changed.sort_by(|a, b| a.url.cmp(&b.url));
        let mut tx = client.transaction()?;
        for f in changed {
            let tags = (!f.tags.is_empty()).then(|| f.tags.join(" "));
            stmts.exec(
                &mut tx,
                "INSERT INTO feeds (url, config_title, tags) VALUES ($1, $2, $3)
                 ON CONFLICT (url) DO UPDATE SET config_title = excluded.config_title, tags = excluded.tags",
                &[&f.url, &f.title, &tags],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn feed_state(&mut self, url: &str) -> Result<FeedState, StoreError> {
        let row = self.stmts.opt(
            &mut self.client,
            "SELECT etag, last_modified, body_hash, error_count, effective_url
             FROM feeds WHERE url = $1",
            &[&url],
        )?;
        let Some(r) = row else {
            return Ok(FeedState::default());
        };
        Ok(FeedState {
            etag: r.try_get(0)?,
            last_modified: r.try_get(1)?,
            body_hash: r.try_get(2)?,
            error_count: u32::try_from(r.try_get::<_, i32>(3)?).unwrap_or(0),
            effective_url: r.try_get(4)?,
        })
    }

    fn feeds(&mut self) -> Result<Vec<FeedStatus>, StoreError> {
        let rows = self.stmts.query(
            &mut self.client,
            "SELECT f.url, coalesce(f.config_title, f.title), f.last_status, f.last_error,
                    f.last_attempt, f.last_success, f.next_poll, f.error_count, f.effective_url,
                    (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id), w.state
             FROM feeds f LEFT JOIN websub_subscriptions w ON w.feed_url = f.url
             ORDER BY f.url",
            &[],
        )?;
        let feeds = rows
            .iter()
            .map(|r| {
                Ok(FeedStatus {
                    url: r.try_get(0)?,
                    title: r.try_get(1)?,
                    last_status: r.try_get(2)?,
                    last_error: r.try_get(3)?,
                    last_attempt: from_ts(r.try_get(4)?),
                    last_success: from_ts(r.try_get(5)?),
                    next_poll: from_ts(r.try_get(6)?),
                    error_count: u32::try_from(r.try_get::<_, i32>(7)?).unwrap_or(0),
                    effective_url: r.try_get(8)?,
                    items: r.try_get(9)?,
                    push: r.try_get::<_, Option<&str>>(10)?.map(PushState::parse),
                })
            })
            .collect::<PgResult<_>>()?;
        Ok(feeds)
    }

    /// Several feeds' polls in one transaction. First all together: a
    /// savepoint per feed was two more round trips per feed (a fifth of
    /// them), for errors that hardly ever happen. If anything fails, the
    /// batch is undone and written again with each feed in a savepoint of
    /// its own: a feed whose write fails is rolled back alone and gets the
    /// error; the others are stored. A failed commit fails them all.
    fn ingest_batch(
        &mut self,
        work: Vec<(String, ParsedFeed, PollRecord)>,
        topics: &dyn TopicMatcher,
    ) -> Vec<Result<IngestStats, StoreError>> {
        let n = work.len();
        let Db { client, stmts, .. } = self;
        let results = match ingest_together(client, stmts, topics, &work) {
            Ok(done) => done.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "a batch of polls is written again feed by feed");
                match ingest_each(client, stmts, topics, &work) {
                    Ok(results) => results,
                    Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
                }
            }
        };
        results
            .into_iter()
            .map(|r: Result<Ingested, StoreError>| r.map(|done| self.note(done)))
            .collect()
    }

    fn record_unchanged(&mut self, feed_url: &str, rec: &PollRecord) -> Result<(), StoreError> {
        let Db { client, stmts, .. } = self;
        let mut tx = client.transaction()?;
        let done = ingest_into(&mut tx, stmts, None, feed_url, None, rec)?;
        tx.commit()?;
        self.note(done);
        Ok(())
    }

    fn record_failure(
        &mut self,
        feed_url: &str,
        status: &str,
        error: &str,
        now: DateTime<Utc>,
        next_poll: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let Db { client, stmts, .. } = self;
        let mut tx = client.transaction()?;
        let feed_id = feed_row(&mut tx, stmts, feed_url)?;
        stmts.exec(
            &mut tx,
            "UPDATE feeds SET last_attempt = $2, last_status = $3, last_error = $4, next_poll = $5,
                    error_count = error_count + 1
             WHERE id = $1",
            &[
                &feed_id,
                &ts(now),
                &nul_free(status),
                &nul_free(error),
                &next_poll.map(ts),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn items_since(&mut self, since: DateTime<Utc>) -> Result<Vec<StoredItem>, StoreError> {
        let rows = self.stmts.query(
            &mut self.client,
            concat!(
                "SELECT * FROM (",
                item_row!(),
                " WHERE i.sort_time >= $1) m
                 JOIN (SELECT i.id AS iid, coalesce(f.config_title, f.title, f.url) AS ftitle,
                              i.story_id AS sid,
                              (SELECT count(*) FROM items x WHERE x.story_id = i.story_id) AS ssize
                       FROM items i JOIN feeds f ON f.id = i.first_feed_id) t ON t.iid = m.id
                 ORDER BY m.sort_time DESC, m.id DESC"
            ),
            &[&ts(since)],
        )?;
        let items = rows
            .iter()
            .map(|r| {
                let m = read_match_row(r)?;
                Ok(StoredItem {
                    date: from_ts(Some(m.sort_time)).unwrap_or_default(),
                    feed_title: r.try_get(11)?,
                    story: r.try_get(12)?,
                    story_size: r.try_get(13)?,
                    title: m.title,
                    summary: m.summary,
                    content: m.content,
                    author: m.author,
                    categories: m.categories.unwrap_or_default(),
                    feed_urls: m.urls,
                    feed_labels: m.feed_labels,
                    language: m.language,
                })
            })
            .collect::<PgResult<_>>()?;
        Ok(items)
    }

    fn topic_entries(
        &mut self,
        slug: &str,
        limit: usize,
        by_story: bool,
        offset: usize,
    ) -> Result<TopicEntries, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let defined_at: Option<i64> = self
            .stmts
            .opt(
                &mut self.client,
                "SELECT changed FROM topics WHERE slug = $1",
                &[&slug],
            )?
            .map(|r| r.try_get(0))
            .transpose()?;
        let entries = if by_story {
            self.topic_stories(slug, limit, offset)?
        } else {
            self.stmts
                .query(
                    &mut self.client,
                    concat!(
                        entry_select!(),
                        ", t.matched FROM topic_items t
                         JOIN items i ON i.id = t.item_id
                         JOIN feeds f ON f.id = i.first_feed_id
                         WHERE t.slug = $1
                         ORDER BY t.sort_time DESC, t.item_id DESC
                         LIMIT $2 OFFSET $3"
                    ),
                    &[&slug, &limit, &offset],
                )?
                .iter()
                .map(|r| {
                    let mut e = read_entry(r)?;
                    e.matched = lines(r.try_get(16)?);
                    Ok(e)
                })
                .collect::<PgResult<_>>()?
        };
        // Every entry on every page, so the publisher can link the last page.
        let total: i64 = self
            .stmts
            .one(
                &mut self.client,
                if by_story {
                    "SELECT count(DISTINCT i.story_id) FROM topic_items t JOIN items i ON i.id = t.item_id
                     WHERE t.slug = $1"
                } else {
                    "SELECT count(*) FROM topic_items WHERE slug = $1"
                },
                &[&slug],
            )?
            .try_get(0)?;
        Ok(TopicEntries {
            entries,
            defined_at: from_ts(defined_at).unwrap_or_default(),
            total: usize::try_from(total).unwrap_or_default(),
        })
    }

    fn story(&mut self, key: &str) -> Result<Option<StoryDetail>, StoreError> {
        let found = self.stmts.opt(
            &mut self.client,
            "SELECT s.id, s.uid, i.uid FROM stories s JOIN items i ON i.id = s.lead_item_id
             WHERE s.uid = $1 OR CAST(s.id AS TEXT) = $1",
            &[&key],
        )?;
        let Some(r) = found else { return Ok(None) };
        let id: i64 = r.try_get(0)?;
        Ok(Some(StoryDetail {
            id,
            uid: r.try_get(1)?,
            lead_uid: r.try_get(2)?,
            members: self.story_members(id)?,
        }))
    }

    fn stats(&mut self, counts: Counts) -> Result<StoreStats, StoreError> {
        let mut one = |sql: &'static str| -> Result<i64, StoreError> {
            let r = self.stmts.one(&mut self.client, sql, &[])?;
            Ok(r.try_get::<_, Option<i64>>(0)?.unwrap_or(0))
        };
        // The whole database, as SQLite's figure is the whole file.
        let db_bytes = one("SELECT pg_database_size(current_database())")?;
        let summary = summary(one, db_bytes)?;
        if counts == Counts::Summary {
            return Ok(summary);
        }
        let topic_items = self
            .stmts
            .query(
                &mut self.client,
                "SELECT slug, count(*) FROM topic_items GROUP BY slug ORDER BY slug",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, count(r.try_get(1)?))))
            .collect::<PgResult<_>>()?;
        let week_ago = ts(Utc::now()) - 7 * 86_400;
        let story_sizes = self
            .stmts
            .query(
                &mut self.client,
                "SELECT n, count(*) FROM (
                     SELECT count(*) n FROM items
                     WHERE story_id IN (SELECT id FROM stories WHERE updated >= $1)
                     GROUP BY story_id) sizes
                 GROUP BY n ORDER BY n",
                &[&week_ago],
            )?
            .iter()
            .map(|r| Ok((count(r.try_get(0)?), count(r.try_get(1)?))))
            .collect::<PgResult<_>>()?;
        let push_states = self
            .stmts
            .query(
                &mut self.client,
                "SELECT state, count(*) FROM websub_subscriptions GROUP BY state ORDER BY state",
                &[],
            )?
            .iter()
            .map(|r| Ok((PushState::parse(r.try_get(0)?), count(r.try_get(1)?))))
            .collect::<PgResult<_>>()?;
        let kept_pushes = count(
            self.stmts
                .query(&mut self.client, "SELECT count(*) FROM websub_inbox", &[])?
                .first()
                .map_or(Ok(0), |r| r.try_get(0))?,
        );
        Ok(StoreStats {
            topic_items,
            story_sizes,
            push_states,
            kept_pushes,
            ..summary
        })
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute("BEGIN")?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        // A failed COMMIT ends the transaction too (PostgreSQL rolls back).
        self.in_transaction = false;
        self.client.batch_execute("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) {
        if std::mem::take(&mut self.in_transaction)
            && let Err(e) = self.client.batch_execute("ROLLBACK")
        {
            tracing::warn!(error = %e, "rolling back a transaction failed");
        }
    }

    fn topic_fingerprints(&mut self) -> Result<HashMap<String, String>, StoreError> {
        let known = self
            .stmts
            .query(
                &mut self.client,
                "SELECT slug, fingerprint FROM topics",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<PgResult<_>>()?;
        Ok(known)
    }

    fn remove_topic(&mut self, slug: &str) -> Result<(), StoreError> {
        self.touched.slugs.insert(slug.to_string());
        let c = &mut self.client;
        self.stmts
            .exec(c, "DELETE FROM topic_items WHERE slug = $1", &[&slug])?;
        self.stmts
            .exec(c, "DELETE FROM topics WHERE slug = $1", &[&slug])?;
        Ok(())
    }

    fn reset_topic(&mut self, slug: &str, fingerprint: &str, now: i64) -> Result<(), StoreError> {
        self.touched.slugs.insert(slug.to_string());
        let c = &mut self.client;
        self.stmts
            .exec(c, "DELETE FROM topic_items WHERE slug = $1", &[&slug])?;
        self.stmts.exec(
            c,
            "INSERT INTO topics (slug, fingerprint, changed) VALUES ($1, $2, $3)
             ON CONFLICT (slug) DO UPDATE SET fingerprint = excluded.fingerprint, changed = excluded.changed",
            &[&slug, &fingerprint, &now],
        )?;
        Ok(())
    }

    fn items_to_match(&mut self, after: i64, limit: usize) -> Result<Vec<MatchRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.stmts.query(
            &mut self.client,
            concat!(item_row!(), " WHERE i.id > $1 ORDER BY i.id LIMIT $2"),
            &[&after, &limit],
        )?;
        Ok(rows.iter().map(read_match_row).collect::<PgResult<_>>()?)
    }

    fn add_to_topic(
        &mut self,
        slug: &str,
        item: i64,
        sort_time: i64,
        why: &str,
    ) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            INSERT_MEMBER,
            &[&slug, &item, &sort_time, &why],
        )?;
        Ok(())
    }

    fn waiting_for_story(&mut self, limit: usize) -> Result<Vec<i64>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.stmts.query(&mut self.client, PENDING, &[&limit])?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<PgResult<_>>()?)
    }

    fn grouping_input(&mut self, item: i64) -> Result<GroupingInput, StoreError> {
        let r = self.stmts.one(
            &mut self.client,
            "SELECT uid, title, summary, content, sort_time, first_feed_id FROM items WHERE id = $1",
            &[&item],
        )?;
        Ok(GroupingInput {
            uid: r.try_get(0)?,
            title: r.try_get(1)?,
            summary: r.try_get(2)?,
            content: r.try_get(3)?,
            sort_time: r.try_get(4)?,
            feed: r.try_get(5)?,
        })
    }

    fn next_story_id(&mut self) -> Result<i64, StoreError> {
        // Past every story and every number the sequence gave out (a row
        // added without a number, by an older feedsift).
        let r = self.stmts.one(
            &mut self.client,
            "SELECT greatest((SELECT coalesce(max(id), 0) FROM stories),
                             coalesce(pg_sequence_last_value(s.seq), 0)) + 1
             FROM (SELECT pg_get_serial_sequence('stories', 'id')::regclass AS seq) s",
            &[],
        )?;
        Ok(r.try_get(0)?)
    }

    fn stories_numbered_below(&mut self, next: i64) -> Result<(), StoreError> {
        // A row added without a number then takes `next` or later. setval
        // is not undone by a rollback, which only leaves a gap.
        self.stmts.exec(
            &mut self.client,
            "SELECT setval(pg_get_serial_sequence('stories', 'id'), greatest($1::bigint, 2) - 1)",
            &[&next],
        )?;
        Ok(())
    }

    fn new_story(
        &mut self,
        id: i64,
        uid: &str,
        now: i64,
        sort_time: i64,
        lead: i64,
    ) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "INSERT INTO stories (id, uid, first_seen, updated, sort_time, lead_item_id)
             VALUES ($1, $2, $3, $3, $4, $5)",
            &[&id, &uid, &now, &sort_time, &lead],
        )?;
        Ok(())
    }

    fn story_grew(&mut self, story: i64, now: i64, sort_time: i64) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE stories SET updated = $2, sort_time = LEAST(sort_time, $3) WHERE id = $1",
            &[&story, &now, &sort_time],
        )?;
        Ok(())
    }

    fn file_in_story(
        &mut self,
        item: i64,
        story: i64,
        sketch: &[u8],
        cites: Option<&str>,
    ) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE items SET story_id = $2, sketch = $3, cites = $4 WHERE id = $1",
            &[&item, &story, &sketch, &cites],
        )?;
        Ok(())
    }

    fn lead_facts(&mut self, item: i64, story: i64) -> Result<(String, i64), StoreError> {
        let r = self.stmts.one(
            &mut self.client,
            "SELECT coalesce(f.config_title, f.title, f.url),
                    (SELECT l.sort_time FROM stories s JOIN items l ON l.id = s.lead_item_id WHERE s.id = $2)
             FROM items i JOIN feeds f ON f.id = i.first_feed_id WHERE i.id = $1",
            &[&item, &story],
        )?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }

    fn lead_candidates(&mut self, story: i64) -> Result<Vec<LeadCandidate>, StoreError> {
        let rows = self.stmts.query(
            &mut self.client,
            "SELECT i.id, i.cites, coalesce(f.config_title, f.title, f.url), i.sort_time
             FROM items i JOIN feeds f ON f.id = i.first_feed_id
             WHERE i.story_id = $1 ORDER BY i.sort_time, i.id",
            &[&story],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(LeadCandidate {
                    item: r.try_get(0)?,
                    cites: r.try_get(1)?,
                    feed_title: r.try_get(2)?,
                    sort_time: r.try_get(3)?,
                })
            })
            .collect::<PgResult<_>>()?)
    }

    fn set_lead(&mut self, story: i64, lead: i64) -> Result<(), StoreError> {
        self.stmts.exec(
            &mut self.client,
            "UPDATE stories SET lead_item_id = $2 WHERE id = $1",
            &[&story, &lead],
        )?;
        Ok(())
    }

    fn note_grouped(&mut self, item: i64) -> Result<(), StoreError> {
        if self.every_topic_touched()? {
            return Ok(());
        }
        // A story's entry lists every member, so a topic changes when any
        // item joins one of its stories, in it or not.
        for r in self.stmts.query(&mut self.client, STORY_TOPICS, &[&item])? {
            self.touched.slugs.insert(r.try_get(0)?);
        }
        Ok(())
    }

    fn newest_grouped(&mut self) -> Result<Option<i64>, StoreError> {
        let r = self.stmts.one(
            &mut self.client,
            "SELECT max(sort_time) FROM items WHERE story_id IS NOT NULL",
            &[],
        )?;
        Ok(r.try_get(0)?)
    }

    fn sketches_between(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(Sketched),
    ) -> Result<(), StoreError> {
        // Ties in time in id order, as SQLite reads them from `items_sort`.
        let rows = self.stmts.query(
            &mut self.client,
            "SELECT id, sketch, sort_time, story_id, first_feed_id FROM items
             WHERE story_id IS NOT NULL AND sort_time BETWEEN $1 AND $2 ORDER BY sort_time, id",
            &[&from, &to],
        )?;
        for r in rows {
            let Some(sketch) = r.try_get::<_, Option<Vec<u8>>>(1)? else {
                continue;
            };
            each(Sketched {
                item: r.try_get(0)?,
                sketch,
                sort_time: r.try_get(2)?,
                story: r.try_get(3)?,
                feed: r.try_get(4)?,
            });
        }
        Ok(())
    }

    fn story_texts(&mut self, story: i64) -> Result<Option<StoryTexts>, StoreError> {
        let Some(lead) = self.stmts.opt(
            &mut self.client,
            "SELECT lead_item_id FROM stories WHERE id = $1",
            &[&story],
        )?
        else {
            return Ok(None);
        };
        let lead: i64 = lead.try_get(0)?;
        let mut members = Vec::new();
        for r in self.stmts.query(
            &mut self.client,
            "SELECT id, uid, sort_time, title, summary, content FROM items
             WHERE story_id = $1 ORDER BY sort_time, id",
            &[&story],
        )? {
            let (summary, content): (Option<String>, Option<String>) =
                (r.try_get(4)?, r.try_get(5)?);
            members.push((
                r.try_get::<_, String>(1)?,
                crate::cluster::MemberText {
                    item: r.try_get(0)?,
                    time: r.try_get(2)?,
                    title: r.try_get(3)?,
                    body: summary.or(content).unwrap_or_default(),
                },
            ));
        }
        Ok(Some(StoryTexts { lead, members }))
    }
}

/// The host of a feed url, lowercased, for counting leases per host (as
/// the fetcher's own `per_host` gate counts requests).
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// What a NOTIFY on `CHANGES` says about `t`.
fn change_payload(t: &Touched) -> String {
    if t.all {
        return "*".into();
    }
    let mut slugs: Vec<&str> = t.slugs.iter().map(String::as_str).collect();
    slugs.sort_unstable();
    let payload = slugs.join(" ");
    if payload.len() > MAX_PAYLOAD || payload.is_empty() {
        "*".into()
    } else {
        payload
    }
}

/// What a NOTIFY payload on `CHANGES` says changed.
pub fn parse_change(payload: &str) -> Touched {
    let mut t = Touched::default();
    for slug in payload.split_ascii_whitespace() {
        if slug == "*" {
            t.all = true;
        } else {
            t.slugs.insert(slug.to_owned());
        }
    }
    t.all |= t.slugs.is_empty();
    t
}

/// Follows the changes other processes announce, on a connection of its
/// own, until `stop`: `changed` gets each announcement, and `all` after
/// every (re)connection, since announcements made while disconnected are
/// lost. Reconnects with a growing pause when the server goes away. Runs
/// on a thread of its own (the client blocks).
pub fn listen(
    url: &str,
    stop: &std::sync::atomic::AtomicBool,
    mut changed: impl FnMut(Touched),
    mut pushed: impl FnMut(&str),
) {
    use std::sync::atomic::Ordering;
    let mut pause = Duration::from_millis(250);
    while !stop.load(Ordering::Acquire) {
        let mut client = match connect(url).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANGES}; LISTEN {PUSHED}"))
                .map(|()| c)
                .map_err(StoreError::from)
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes made by other processes; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        pause = Duration::from_millis(250);
        tracing::debug!("listening for changes made by other processes");
        changed(parse_change("*"));
        // What changed while this connection was down is read now.
        pushed("");
        pushed(PUSH_ROWS);
        while !stop.load(Ordering::Acquire) {
            let next = {
                let mut n = client.notifications();
                let mut it = n.timeout_iter(Duration::from_millis(250));
                postgres::fallible_iterator::FallibleIterator::next(&mut it)
            };
            match next {
                Ok(Some(note)) if note.channel() == PUSHED => pushed(note.payload()),
                Ok(Some(note)) => changed(parse_change(note.payload())),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that listens for changes; reconnecting");
                    break;
                }
                Ok(None) if client.is_closed() => break,
                Ok(None) => {}
            }
        }
    }
}

/// A `websub_subscriptions` row read as `push_columns!` lists them.
fn push_row(r: &Row) -> PgResult<PushSubscription> {
    Ok(PushSubscription {
        feed_url: r.try_get(0)?,
        hub: r.try_get(1)?,
        topic: r.try_get(2)?,
        state: PushState::parse(r.try_get(3)?),
        token: r.try_get(4)?,
        secret: r.try_get(5)?,
        lease_until: r.try_get(6)?,
        renew_at: r.try_get(7)?,
        requested: r.try_get(8)?,
        error: r.try_get(9)?,
    })
}

/// Listings must never write: the session refuses to.
fn read_only_session(c: &mut Client) -> Result<(), StoreError> {
    c.batch_execute("SET default_transaction_read_only = on")?;
    Ok(())
}

/// The schema version a database records; None when it has no feedsift
/// tables yet.
fn schema_version(c: &mut Client) -> Result<Option<i64>, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('feedsift_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let v: Option<i32> = c
        .query_opt("SELECT version FROM feedsift_schema", &[])?
        .map(|r| r.try_get(0))
        .transpose()?;
    Ok(Some(i64::from(v.unwrap_or(0))))
}

/// Applies the pending migrations in one transaction, holding an advisory
/// lock so two processes starting together upgrade once.
fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS feedsift_schema (
             one      BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
             version  INTEGER NOT NULL
         );
         INSERT INTO feedsift_schema (version) VALUES (0) ON CONFLICT DO NOTHING;",
    )?;
    let version = i64::from(
        tx.query_one("SELECT version FROM feedsift_schema", &[])?
            .try_get::<_, i32>(0)?,
    );
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    let first = usize::try_from(version).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(first) {
        tx.batch_execute(sql).map_err(|e| StoreError::Upgrade {
            version: i + 1,
            reason: StoreError::from(e).to_string(),
        })?;
        tx.execute(
            "UPDATE feedsift_schema SET version = $1",
            &[&i32::try_from(i + 1).unwrap_or(i32::MAX)],
        )?;
    }
    tx.commit()?;
    for v in first..MIGRATIONS.len() {
        tracing::info!(version = v + 1, "database schema migrated");
    }
    Ok(())
}

/// Fills `prune_keep` with the items pruning must leave alone because a
/// topic feed shows them (see SQLite's `fill_keep`).
fn fill_keep(
    tx: &mut postgres::Transaction,
    stmts: &mut Stmts,
    topics: &[Topic],
) -> Result<(), StoreError> {
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS prune_keep (id BIGINT PRIMARY KEY);
         DELETE FROM prune_keep;",
    )?;
    let slugs: Vec<String> = stmts
        .query(tx, "SELECT slug FROM topics", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<PgResult<_>>()?;
    for slug in slugs {
        let (limit, by_story) = topics
            .iter()
            .find(|t| t.slug == slug)
            .map_or((100, true), |t| (t.limit as i64, t.by_story));
        stmts.exec(
            tx,
            "INSERT INTO prune_keep
             SELECT item_id FROM topic_items WHERE slug = $1
             ORDER BY sort_time DESC, item_id DESC LIMIT $2
             ON CONFLICT DO NOTHING",
            &[&slug, &limit],
        )?;
        if by_story {
            // The same stories `topic_stories` publishes.
            stmts.exec(
                tx,
                "INSERT INTO prune_keep
                 SELECT m.id FROM items m WHERE m.story_id IN (
                     SELECT s.id FROM stories s
                     WHERE s.id IN (SELECT i.story_id FROM topic_items t JOIN items i ON i.id = t.item_id
                                    WHERE t.slug = $1)
                     ORDER BY s.sort_time DESC, s.id DESC LIMIT $2)
                 ON CONFLICT DO NOTHING",
                &[&slug, &limit],
            )?;
        }
    }
    Ok(())
}

/// Opens an ingest transaction.
fn ingest_transaction(client: &mut Client) -> PgResult<postgres::Transaction<'_>> {
    let mut tx = client.transaction()?;
    // The lookups of a feed's entries (`FEED_AND_LOOKUPS`) are planned
    // when the tables are young: a fresh database's first poll planned
    // them as sequential scans, hashing every stored url for every feed
    // (34 s for 50,000 items). Index lookups are right at every size;
    // this holds for this transaction only.
    tx.batch_execute("SET LOCAL enable_seqscan = off")?;
    Ok(tx)
}

/// Every poll of a batch in one transaction, all or nothing.
fn ingest_together(
    client: &mut Client,
    stmts: &mut Stmts,
    topics: &dyn TopicMatcher,
    work: &[(String, ParsedFeed, PollRecord)],
) -> Result<Vec<Ingested>, StoreError> {
    let mut tx = ingest_transaction(client)?;
    let mut out = Vec::with_capacity(work.len());
    for (url, feed, rec) in work {
        out.push(ingest_into(
            &mut tx,
            stmts,
            Some(topics),
            url,
            Some(feed),
            rec,
        )?);
    }
    tx.commit()?;
    Ok(out)
}

/// Every poll of a batch in one transaction, each in a savepoint of its
/// own: each feed's result, or the error that failed them all.
fn ingest_each(
    client: &mut Client,
    stmts: &mut Stmts,
    topics: &dyn TopicMatcher,
    work: &[(String, ParsedFeed, PollRecord)],
) -> Result<Vec<Result<Ingested, StoreError>>, StoreError> {
    let mut tx = ingest_transaction(client)?;
    let mut out = Vec::with_capacity(work.len());
    for (url, feed, rec) in work {
        let mut sp = tx.savepoint("feed")?;
        let r = ingest_into(&mut sp, stmts, Some(topics), url, Some(feed), rec);
        if r.is_ok() {
            sp.commit()?;
        }
        // Dropped uncommitted, the savepoint is rolled back.
        out.push(r);
    }
    tx.commit()?;
    Ok(out)
}

/// What one feed's ingest did, for `Db::note` once it is committed.
struct Ingested {
    stats: IngestStats,
    touched: HashSet<String>,
    feed_changed: bool,
}

/// The feed row for `url`, made if missing. Looked up first, so a known
/// feed does not use up an identity value on every poll.
fn feed_row(c: &mut impl GenericClient, stmts: &mut Stmts, url: &str) -> PgResult<i64> {
    const FIND: &str = "SELECT id FROM feeds WHERE url = $1";
    if let Some(r) = stmts.opt(c, FIND, &[&url])? {
        return r.try_get(0);
    }
    stmts.exec(
        c,
        "INSERT INTO feeds (url) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&url],
    )?;
    stmts.one(c, FIND, &[&url])?.try_get(0)
}

/// A poll's new feed state and its entries' lookups, in one statement (one
/// round trip per feed where there were six): the feed row is updated
/// (its title and the like only when `$11`, a document was read, and
/// compared with the old row `o` to tell whether they changed), and
/// returned as a row of kind 0 with its label (`feed_label!`, as the
/// topics match on it: of the new title); then kind 1, the entry keys
/// `$16` this feed has stored; then kind 2, the items stored under the
/// canonical urls `$17` (md5 first, for the indexes: see pg_schema.rs;
/// the caller compares the text). No row of kind 0: there is no feed row.
///
/// Updating first, where the items were written first, changes nothing
/// seen: it is all one savepoint, and the label reads only the title.
const FEED_AND_LOOKUPS: &str = concat!(
    "WITH o AS (
         SELECT id, title, site_url, feed_ident, language FROM feeds WHERE url = $1
         FOR NO KEY UPDATE
     ), f AS (
         UPDATE feeds f SET
             title = CASE WHEN $11 THEN $12 ELSE f.title END,
             site_url = CASE WHEN $11 THEN $13 ELSE f.site_url END,
             feed_ident = CASE WHEN $11 THEN $14 ELSE f.feed_ident END,
             language = CASE WHEN $11 THEN $15 ELSE f.language END,
             last_attempt = $2, last_success = $2,
             -- A 304 or the same bytes say nothing new: a feed whose
             -- document had no items (or needed repair) keeps saying so.
             last_status = CASE WHEN $9 AND f.last_status IN ('no-items', 'malformed')
                                THEN f.last_status ELSE $3 END,
             last_error = CASE WHEN $9 AND f.last_status IN ('no-items', 'malformed')
                               THEN f.last_error ELSE $10 END,
             next_poll = $4, error_count = 0,
             etag = coalesce($5, f.etag), last_modified = coalesce($6, f.last_modified),
             body_hash = coalesce($7, f.body_hash), effective_url = coalesce($8, f.effective_url)
         FROM o WHERE f.id = o.id
         RETURNING f.id, ",
    feed_label!(),
    " AS label,
             $11 AND (o.title IS DISTINCT FROM $12 OR o.site_url IS DISTINCT FROM $13
                      OR o.feed_ident IS DISTINCT FROM $14 OR o.language IS DISTINCT FROM $15)
                 AS changed
     )
     SELECT 0, id, label, changed FROM f
     UNION ALL
     SELECT 1, NULL, entry_key, NULL FROM item_sources
     WHERE feed_id = (SELECT id FROM o)
       AND md5(entry_key) IN (SELECT md5(k) FROM unnest($16::text[]) k)
     UNION ALL
     SELECT 2, id, canonical_url, NULL FROM items
     WHERE md5(canonical_url) IN (SELECT md5(u) FROM unnest($17::text[]) u)"
);

/// A feed's new items and every new source, in one statement: the items
/// in entry order (so ids, and so the documents, are SQLite's), returning
/// (uid, id); each source names a stored item (`$15`) or the uid of a new
/// one (`$16`). The sources' foreign key is checked at the end of the
/// statement, when the new items are there.
const INSERT_ITEMS_AND_SOURCES: &str = "WITH new AS (
         INSERT INTO items (uid, canonical_url, link, title, summary, content, author,
                            categories, published, updated, first_seen, sort_time, first_feed_id)
         SELECT uid, canonical_url, link, title, summary, content, author, categories,
                published, updated, $11, sort_time, $12
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::bigint[], $10::bigint[], $13::bigint[])
              WITH ORDINALITY AS t(uid, canonical_url, link, title, summary, content, author,
                                   categories, published, updated, sort_time, ord)
         ORDER BY ord
         RETURNING uid, id
     ), src AS (
         INSERT INTO item_sources (feed_id, entry_key, item_id, first_seen)
         SELECT $12, s.k, coalesce(s.i, new.id), $11
         FROM unnest($14::text[], $15::bigint[], $16::text[]) WITH ORDINALITY AS s(k, i, u, ord)
              LEFT JOIN new ON new.uid = s.u
         ORDER BY s.ord
     )
     SELECT uid, id FROM new";

/// Writes one poll's items and the feed's new state, inside the caller's
/// transaction or savepoint (SQLite's `ingest_into`, translated). The
/// statements are few and fixed per feed, whatever its number of entries:
/// each is a round trip, and on a busy machine a round trip waits for the
/// server process to be scheduled as well as for its work.
fn ingest_into(
    c: &mut impl GenericClient,
    stmts: &mut Stmts,
    topics: Option<&dyn TopicMatcher>,
    feed_url: &str,
    feed: Option<&ParsedFeed>,
    rec: &PollRecord,
) -> Result<Ingested, StoreError> {
    let mut stats = IngestStats::default();
    // Items are stored when a document was read (and topics are given:
    // `ingest_batch`); a 304 or the same bytes only update the feed row.
    // The feed is borrowed (a batch may be written twice, see
    // `ingest_batch`): what is stored is copied, made storable on the way.
    let (feed, topics) = match (feed, topics) {
        (Some(feed), Some(topics)) => (Some(feed), Some(topics)),
        _ => (None, None),
    };
    let storable = |text: &Option<String>| {
        let mut text = text.clone();
        drop_nul_opt(&mut text);
        text
    };
    let (title, site_url, ident, language) = match feed {
        Some(f) => (
            storable(&f.title),
            storable(&f.site_url),
            storable(&f.id),
            storable(&f.language),
        ),
        None => (None, None, None, None),
    };
    let mut entries: Vec<Incoming> = feed.map_or_else(Vec::new, |f| {
        f.items
            .iter()
            .map(|item| Incoming::new(item.clone(), feed_url))
            .collect()
    });
    let keys: Vec<&str> = entries.iter().map(|e| e.item.entry_key.as_str()).collect();
    let urls: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.item.canonical_url.as_deref())
        .collect();
    let note = rec.note.as_deref().map(nul_free);
    let params: [&(dyn ToSql + Sync); 17] = [
        &feed_url,
        &ts(rec.at),
        &rec.status.as_str(),
        &ts(rec.next_poll),
        &rec.etag,
        &rec.last_modified,
        &rec.body_hash,
        &rec.moved_to,
        &rec.status.is_repeat(),
        &note,
        &feed.is_some(),
        &title,
        &site_url,
        &ident,
        &language,
        &keys,
        &urls,
    ];
    let mut rows = stmts.query(c, FEED_AND_LOOKUPS, &params)?;
    if !rows
        .iter()
        .any(|r| r.try_get::<_, i32>(0).is_ok_and(|k| k == 0))
    {
        // A feed polled before `sync_feeds` wrote its row (a one-off poll
        // of a url given on the command line): made, then looked up again.
        stmts.exec(
            c,
            "INSERT INTO feeds (url) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&feed_url],
        )?;
        rows = stmts.query(c, FEED_AND_LOOKUPS, &params)?;
    }
    let mut feed_row = None;
    let (mut known, mut stored) = (HashSet::new(), HashMap::new());
    for r in &rows {
        match r.try_get::<_, i32>(0)? {
            0 => {
                let id: i64 = r.try_get(1)?;
                let label: String = r.try_get(2)?;
                let changed: Option<bool> = r.try_get(3)?;
                feed_row = Some((id, label, changed.unwrap_or(false)));
            }
            1 => {
                known.insert(r.try_get(2)?);
            }
            _ => {
                stored.insert(r.try_get(2)?, r.try_get(1)?);
            }
        }
    }
    let Some((feed_id, labels, feed_changed)) = feed_row else {
        return Err(StoreError::Database(format!(
            "the feed row of {feed_url} could not be made"
        )));
    };
    let mut touched = HashSet::new();
    if let (Some(feed), Some(topics)) = (feed, topics) {
        // Matches made on the parser's thread count only if they were made
        // with the topics and labels in force here.
        let matched = feed.matched.as_ref().filter(|m| topics.current(m, &labels));
        if let Some(m) = matched {
            for (entry, pre) in entries.iter_mut().zip(&m.per_item) {
                entry.pre = Some(pre.clone());
            }
        }
        let found = Found {
            feed_id,
            known,
            stored,
        };
        touched.extend(add_items(
            c, stmts, topics, entries, found, rec.at, &mut stats,
        )?);
    }
    Ok(Ingested {
        stats,
        touched,
        feed_changed,
    })
}

/// The topics an entry matched on the parser's thread: (topic, why).
type Matches = Vec<(usize, String)>;

/// A parsed entry on its way in.
struct Incoming {
    /// From the text as parsed, as SQLite's.
    uid: String,
    /// Then made text PostgreSQL can store (see `drop_nul`).
    item: NewItem,
    /// Its topics, when matched on the parser's thread with the topics in
    /// force.
    pre: Option<Matches>,
}

impl Incoming {
    fn new(mut item: NewItem, feed_url: &str) -> Incoming {
        let uid = item.uid(feed_url);
        drop_nul(&mut item.entry_key);
        drop_nul(&mut item.title);
        for text in [
            &mut item.link,
            &mut item.canonical_url,
            &mut item.summary,
            &mut item.content,
            &mut item.author,
        ] {
            drop_nul_opt(text);
        }
        item.categories.iter_mut().for_each(drop_nul);
        Incoming {
            uid,
            item,
            pre: None,
        }
    }
}

/// What `FEED_AND_LOOKUPS` found: the feed row, and of its entries:
struct Found {
    feed_id: i64,
    /// Entry keys this feed has stored.
    known: HashSet<String>,
    /// Items stored under these canonical urls.
    stored: HashMap<String, i64>,
}

/// What becomes of one parsed entry in `add_items`.
enum Fate {
    /// Its entry key is stored for this feed already.
    Known,
    /// A new source of a stored item.
    Source(i64),
    /// A new source of the new item made by entry `n` of this batch (two
    /// entries with one canonical url).
    SourceOfNew(usize),
    /// A new item.
    New,
}

/// Adds a feed's parsed entries: new items, new sources of known items,
/// or nothing. The same decisions as SQLite's one-entry-at-a-time
/// `add_item`, in a fixed number of statements per feed (each entry's
/// own lookups and inserts were a round trip apiece: a cold poll of
/// 50,000 items took 6.8 times SQLite's time).
fn add_items(
    c: &mut impl GenericClient,
    stmts: &mut Stmts,
    topics: &dyn TopicMatcher,
    items: Vec<Incoming>,
    found: Found,
    now: DateTime<Utc>,
    stats: &mut IngestStats,
) -> Result<Vec<String>, StoreError> {
    let Found {
        feed_id,
        known,
        stored,
    } = found;
    if items.is_empty() {
        return Ok(Vec::new());
    }

    // Each entry's fate, in order, as one at a time would decide it.
    let mut fates = Vec::with_capacity(items.len());
    let mut seen_keys: HashSet<&str> = HashSet::new();
    let mut new_by_url: HashMap<&str, usize> = HashMap::new();
    for (n, Incoming { item, .. }) in items.iter().enumerate() {
        let fate = if known.contains(&item.entry_key) || !seen_keys.insert(&item.entry_key) {
            Fate::Known
        } else {
            match item.canonical_url.as_deref() {
                Some(u) => match (stored.get(u), new_by_url.get(u)) {
                    (Some(id), _) => Fate::Source(*id),
                    (None, Some(first)) => Fate::SourceOfNew(*first),
                    (None, None) => {
                        new_by_url.insert(u, n);
                        Fate::New
                    }
                },
                None => Fate::New,
            }
        };
        match fate {
            Fate::Known => stats.unchanged += 1,
            Fate::New => stats.new_items += 1,
            Fate::Source(_) | Fate::SourceOfNew(_) => stats.new_sources += 1,
        }
        fates.push(fate);
    }

    // The new items and every new source, in one statement.
    // A date in the future or none at all would let an item jump the
    // order: such items sort by when we first saw them.
    let first_seen = ts(now);
    let sort_time = |item: &NewItem| {
        item.published
            .or(item.updated)
            .map_or(first_seen, |d| ts(d).min(first_seen))
    };
    let new: Vec<&Incoming> = items
        .iter()
        .zip(&fates)
        .filter(|(_, f)| matches!(f, Fate::New))
        .map(|(e, _)| e)
        .collect();
    let (mut src_keys, mut src_items, mut src_new) = (Vec::new(), Vec::new(), Vec::new());
    for (n, Incoming { item, .. }) in items.iter().enumerate() {
        let (stored_id, new_uid) = match fates[n] {
            Fate::Known => continue,
            Fate::Source(id) => (Some(id), None),
            Fate::SourceOfNew(first) => (None, Some(items[first].uid.as_str())),
            Fate::New => (None, Some(items[n].uid.as_str())),
        };
        src_keys.push(item.entry_key.as_str());
        src_items.push(stored_id);
        src_new.push(new_uid);
    }
    let mut new_ids: HashMap<&str, i64> = HashMap::new();
    if !src_keys.is_empty() {
        let col = |f: &dyn Fn(&NewItem) -> Option<&str>| -> Vec<Option<&str>> {
            new.iter().map(|e| f(&e.item)).collect()
        };
        let uids: Vec<&str> = new.iter().map(|e| e.uid.as_str()).collect();
        let categories: Vec<Option<String>> = new
            .iter()
            .map(|e| (!e.item.categories.is_empty()).then(|| e.item.categories.join("\n")))
            .collect();
        let published: Vec<Option<i64>> = new.iter().map(|e| e.item.published.map(ts)).collect();
        let updated: Vec<Option<i64>> = new.iter().map(|e| e.item.updated.map(ts)).collect();
        let sorts: Vec<i64> = new.iter().map(|e| sort_time(&e.item)).collect();
        let rows = stmts.query(
            c,
            INSERT_ITEMS_AND_SOURCES,
            &[
                &uids,
                &col(&|i| i.canonical_url.as_deref()),
                &col(&|i| i.link.as_deref()),
                &col(&|i| Some(i.title.as_str())),
                &col(&|i| i.summary.as_deref()),
                &col(&|i| i.content.as_deref()),
                &col(&|i| i.author.as_deref()),
                &categories,
                &published,
                &updated,
                &first_seen,
                &feed_id,
                &sorts,
                &src_keys,
                &src_items,
                &src_new,
            ],
        )?;
        // By uid, which differs between the new items of one batch (one
        // per canonical url, or per entry key); the order of RETURNING
        // rows is not promised.
        let by_uid: HashMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<PgResult<_>>()?;
        for e in &new {
            let id = by_uid.get(&e.uid).copied().ok_or_else(|| {
                StoreError::Database("an inserted item came back without its id".into())
            })?;
            new_ids.insert(e.uid.as_str(), id);
        }
    }
    let item_of = |n: usize| -> Option<i64> {
        match fates[n] {
            Fate::Known => None,
            Fate::Source(id) => Some(id),
            Fate::SourceOfNew(first) => new_ids.get(items[first].uid.as_str()).copied(),
            Fate::New => new_ids.get(items[n].uid.as_str()).copied(),
        }
    };
    if topics.is_empty() {
        return Ok(Vec::new());
    }

    // Membership depends on every feed an item was seen in (topic feed
    // filters), so a new source can bring a known item into a topic: such
    // items, and new ones not matched on the parser's thread, are matched
    // as stored, now that their sources are.
    let rematch: Vec<i64> = (0..items.len())
        .filter(|n| match fates[*n] {
            Fate::New => items[*n].pre.is_none(),
            Fate::Source(_) | Fate::SourceOfNew(_) => true,
            Fate::Known => false,
        })
        .filter_map(item_of)
        .collect();
    let mut matched_rows: HashMap<i64, MatchRow> = HashMap::new();
    if !rematch.is_empty() {
        for r in stmts.query(
            c,
            concat!(item_row!(), " WHERE i.id = ANY($1)"),
            &[&rematch],
        )? {
            let row = read_match_row(&r)?;
            matched_rows.insert(row.id, row);
        }
    }
    let (mut slugs, mut ids, mut sorts, mut whys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut touched = Vec::new();
    for (n, Incoming { item, pre, .. }) in items.iter().enumerate() {
        let Some(id) = item_of(n) else { continue };
        let (sort, matches) = match (&fates[n], pre) {
            (Fate::New, Some(m)) => (sort_time(item), m.clone()),
            _ => match matched_rows.get(&id) {
                Some(row) => (row.sort_time, topics.match_row(row)),
                None => continue,
            },
        };
        for (i, why) in matches {
            let Some(slug) = topics.slug(i) else { continue };
            slugs.push(slug.to_string());
            ids.push(id);
            sorts.push(sort);
            whys.push(why);
            touched.push(slug.to_string());
        }
    }
    if !slugs.is_empty() {
        stmts.exec(
            c,
            "INSERT INTO topic_items (slug, item_id, sort_time, matched)
             SELECT s, i, t, w FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])
                  WITH ORDINALITY AS x(s, i, t, w, ord)
             ORDER BY ord
             ON CONFLICT DO NOTHING",
            &[&slugs, &ids, &sorts, &whys],
        )?;
    }
    Ok(touched)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A database of its own on the local test server (127.0.0.1:5432,
    /// user postgres, trust auth), dropped with the guard. None, with a
    /// SKIPPED line, when no server answers there.
    pub struct TestDb {
        pub url: String,
        name: String,
    }

    const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    impl TestDb {
        pub fn create(test: &str) -> Option<TestDb> {
            let mut admin = match postgres::Client::connect(ADMIN, NoTls) {
                Ok(c) => c,
                // A server that answers but refuses (authentication, say) is a
                // broken setup, not a missing one: that fails, it does not skip.
                Err(e) if e.as_db_error().is_some() => {
                    panic!("PostgreSQL at 127.0.0.1:5432 refused user postgres: {e}")
                }
                Err(e) => {
                    eprintln!("SKIPPED {test}: no PostgreSQL at 127.0.0.1:5432 ({e})");
                    return None;
                }
            };
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = format!(
                "feedsift_t_{}_{nanos}_{}",
                std::process::id(),
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create a test database");
            Some(TestDb {
                url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                name,
            })
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Ok(mut admin) = postgres::Client::connect(ADMIN, NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }

    #[test]
    fn the_stored_feed_label_is_the_one_topics_match_on() {
        let Some(t) = TestDb::create("the_stored_feed_label_is_the_one_topics_match_on") else {
            return;
        };
        let mut db = Db::open(&t.url).unwrap();
        for (url, title, tags) in [
            (
                "https://a.example/rss",
                Some("TASS"),
                vec!["ru".to_string(), "wire".to_string()],
            ),
            ("https://b.example/rss", None, vec![]),
        ] {
            let joined = (!tags.is_empty()).then(|| tags.join(" "));
            db.client
                .execute(
                    "INSERT INTO feeds (url, config_title, tags) VALUES ($1, $2, $3)",
                    &[&url, &title, &joined],
                )
                .unwrap();
            let stored: String = db
                .client
                .query_one(
                    concat!("SELECT ", feed_label!(), " FROM feeds f WHERE f.url = $1"),
                    &[&url],
                )
                .unwrap()
                .get(0);
            assert_eq!(stored, crate::topics::feed_labels(url, title, &tags));
        }
        Box::new(db).close();
    }

    /// No topics to match or file.
    struct NoTopics;

    impl TopicMatcher for NoTopics {
        fn is_empty(&self) -> bool {
            true
        }
        fn current(&self, _: &crate::topics::Matched, _: &str) -> bool {
            false
        }
        fn match_row(&self, _: &MatchRow) -> Vec<(usize, String)> {
            Vec::new()
        }
        fn slug(&self, _: usize) -> Option<&str> {
            None
        }
    }

    /// A batch is written all together first; when one feed's write fails,
    /// it is written again feed by feed, and only that feed fails.
    #[test]
    fn kept_pushes_and_subscription_claims() {
        let Some(t) = TestDb::create("kept_pushes_and_subscription_claims") else {
            return;
        };
        let mut db = Db::open(&t.url).unwrap();
        crate::storage::backend::shared_tests::inbox_and_claims(&mut db);
    }

    #[test]
    fn a_feed_whose_write_fails_fails_alone() {
        let Some(t) = TestDb::create("a_feed_whose_write_fails_fails_alone") else {
            return;
        };
        let mut db = Db::open(&t.url).unwrap();
        db.client
            .batch_execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.title = 'boom' THEN RAISE EXCEPTION 'refused'; END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER refuse BEFORE INSERT ON items
                     FOR EACH ROW EXECUTE FUNCTION refuse();",
            )
            .unwrap();
        let now = Utc::now();
        // Feeds without a row yet (no `sync_feeds`): the poll makes it.
        let work = ["a", "boom", "c"]
            .iter()
            .map(|t| {
                let url = format!("https://{t}.example/rss");
                let rss = format!(
                    r#"<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>
                    <link>https://{t}.example/</link><item><title>{t}</title>
                    <link>https://{t}.example/1</link><guid>{t}-1</guid></item></channel></rss>"#
                );
                let feed = crate::parse::parse_feed(&url, rss.as_bytes(), None).unwrap();
                let rec = PollRecord::new(crate::storage::PollStatus::Ok, now);
                (url, feed, rec)
            })
            .collect();
        let results = db.ingest_batch(work, &NoTopics);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().unwrap().new_items, 1);
        assert_eq!(results[2].as_ref().unwrap().new_items, 1);
        match &results[1] {
            Err(StoreError::Database(m)) => assert!(m.contains("refused"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut rows = |sql: &str| -> Vec<String> {
            db.client
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        assert_eq!(rows("SELECT title FROM items ORDER BY id"), ["a", "c"]);
        assert_eq!(
            rows("SELECT entry_key FROM item_sources ORDER BY entry_key"),
            ["a-1", "c-1"]
        );
        // The failed feed's poll left nothing, not even its new row.
        assert_eq!(
            rows("SELECT url FROM feeds WHERE last_success IS NOT NULL ORDER BY url"),
            ["https://a.example/rss", "https://c.example/rss"]
        );
        Box::new(db).close();
    }

    #[test]
    fn migrations_run_once_and_listings_cannot_write() {
        let Some(t) = TestDb::create("migrations_run_once_and_listings_cannot_write") else {
            return;
        };
        // A listing before anything made the schema says so.
        let err = Db::open_read_only(&t.url).err().expect("refused");
        assert!(err.to_string().contains("no feedsift data yet"), "{err}");
        Box::new(Db::open(&t.url).unwrap()).close();
        // A second open finds the schema current and changes nothing.
        let mut db = Db::open(&t.url).unwrap();
        let v: i32 = db
            .client
            .query_one("SELECT version FROM feedsift_schema", &[])
            .unwrap()
            .get(0);
        assert_eq!(v as usize, MIGRATIONS.len());
        Box::new(db).close();
        let mut ro = Db::open_read_only(&t.url).unwrap();
        let err = ro
            .sync_feeds(&[FeedSpec {
                url: "https://a.example/".into(),
                title: None,
                tags: vec![],
            }])
            .expect_err("a read-only session refuses writes");
        assert!(err.to_string().contains("read-only"), "{err}");
        assert!(ro.feeds().unwrap().is_empty());
        Box::new(ro).close();
    }

    #[test]
    fn the_pending_index_serves_the_waiting_items_query() {
        let Some(t) = TestDb::create("the_pending_index_serves_the_waiting_items_query") else {
            return;
        };
        let mut db = Db::open(&t.url).unwrap();
        // Without statistics on an empty table the planner would scan it;
        // ask what it does when scans are dear, as on a large table.
        db.client.batch_execute("SET enable_seqscan = off").unwrap();
        let plan: Vec<String> = db
            .client
            .query(&format!("EXPLAIN {}", PENDING.replace("$1", "256")), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            plan.iter().any(|l| l.contains("items_pending"))
                && plan.iter().all(|l| !l.contains("Sort")),
            "{plan:?}"
        );
        Box::new(db).close();
    }

    #[test]
    fn a_lost_connection_is_replaced_before_the_next_job() {
        let Some(t) = TestDb::create("a_lost_connection_is_replaced_before_the_next_job") else {
            return;
        };
        let mut db = Db::open(&t.url).unwrap();
        db.feeds().unwrap();
        // As a server restart would: the server ends this session.
        let pid: i32 = db
            .client
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        postgres::Client::connect(&t.url, NoTls)
            .unwrap()
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
        // The job that finds it gone fails; the next one is served.
        let _ = db.feeds();
        assert!(db.client.is_closed());
        db.reconnect_if_lost().unwrap();
        assert!(!db.client.is_closed());
        assert!(db.feeds().unwrap().is_empty());
        Box::new(db).close();
    }

    #[test]
    fn a_url_without_a_reachable_server_names_the_host_and_the_setting() {
        // Port 9 (discard) on loopback: nothing listens there.
        let err = Db::open("postgres://feedsift@127.0.0.1:9/feedsift")
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(text.contains("127.0.0.1:9"), "{text}");
        assert!(text.contains("[storage] url"), "{text}");
        assert!(text.contains("refused"), "{text}");
    }

    #[test]
    fn the_password_is_the_url_s_else_pgpassword() {
        let with = |url: &str, env: Option<&str>| {
            let mut cfg = postgres::Config::from_str(url).unwrap();
            password_from_env(&mut cfg, env.map(Into::into));
            cfg.get_password().map(<[u8]>::to_vec)
        };
        assert_eq!(
            with("postgres://u@h/db", Some("env")),
            Some(b"env".to_vec())
        );
        assert_eq!(
            with("postgres://u:url@h/db", Some("env")),
            Some(b"url".to_vec())
        );
        assert_eq!(with("postgres://u@h/db", None), None);
    }

    #[test]
    fn urls_are_checked_as_they_will_be_read() {
        assert!(check_url("postgres://u@h:5432/db").is_ok());
        assert!(check_url("postgresql://u:pw@h/db?sslmode=require").is_ok());
        assert!(check_url("mysql://u@h/db").is_err());
        assert!(check_url("postgres://u@h/db?sslmode=sometimes").is_err());
    }
}
