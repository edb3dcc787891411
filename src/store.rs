//! The only place with SQL. One SQLite file (WAL, foreign keys, busy timeout), versioned
//! migrations, and the invariants that make "every article once" hold:
//!
//! - `article_keys.key` is UNIQUE: an identity key (canonical URL, guid, title hash) belongs
//!   to at most one article, ever. When an article is pruned its keys stay with
//!   `article_id = NULL` (tombstones), so it never comes back as new.
//! - `article_sources` records provenance: which sources carried an article and when each first
//!   saw it.
//! - One transaction per source poll ([`Store::record_poll`]): articles, provenance and the
//!   source's state commit together or not at all.
//!
//! All calls block; async callers run them in `spawn_blocking`.

mod alerts;
mod health;
mod keys;
mod outbox;
mod pages;
#[cfg(test)]
mod query_plans;
mod recall;
mod retention;
mod schedule;
mod schema;
mod search;
mod webhooks;

pub use alerts::{AlertMail, AlertPost, AlertRecord, AlertState, Condition, NewAlert, ALERT_EVERY};
pub use health::HealthSummary;
pub use outbox::{
    Closed, NewDigest, OutboxEntry, OutboxKind, SharedPart, StoredMessage, SubscriberState,
};
pub use pages::{
    PageCounts, PageError, PageJob, PageSearchLayout, PageTitle, PageUpdate,
    MAX_ATTEMPTS as MAX_PAGE_ATTEMPTS,
};
pub use recall::Recalled;
pub use retention::{BackupError, BackupOptions, BackupReport, PruneStats, RestoreReport};
pub use schedule::PollTime;
pub use search::SearchQuery;
pub use webhooks::{
    Delivery, NewDelivery, TopicHooks, WebhookStatus, ALERT_KIND, ALERT_SUBJECT, TOPIC_KIND,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use self::keys::StoredKey;
use crate::article::NewArticle;
use crate::media::{self, Media};
use crate::topics::{MatchInput, TopicMatch};

/// How long a syndicated copy may lag the first one and still be the same story.
const STORY_WINDOW_MS: i64 = 72 * 3600 * 1000;
/// The periods `articles_story` orders articles by (`published / STORY_PERIOD_MS`, schema 15):
/// twice the window, so the window around any instant lies within two periods that follow
/// each other. Fixed by the index: changing it takes a migration.
const STORY_PERIOD_MS: i64 = 518_400_000;
const _: () = assert!(STORY_PERIOD_MS >= 2 * STORY_WINDOW_MS);
/// Articles per chunk of [`Store::match_candidates_by_chunk`] (a few MB of text).
const CANDIDATE_CHUNK: i64 = 2_000;
/// Titles shorter than this (in syllables) are too generic to link stories ("Tin tức").
const STORY_MIN_SYLLABLES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create directory {path:?}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path:?}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path:?} has schema version {found}, newer than this bantin knows ({known}); \
         upgrade bantin or restore a backup (the database was not changed)"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A task doing the store's work did not finish: cancelled, or panicked where it was not
    /// run through [`blocking`] (which passes a panic on to its unit's task edge).
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("database lock poisoned by a panic in another thread")]
    Poisoned,
}

/// Runs blocking store work on tokio's blocking pool: how async code calls the store.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        // A panic goes on up to the task edge of the unit it belongs to (see crate::guard),
        // where it is recorded as that unit's error.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Task(e)),
    }
}

/// A handle on the database; cheap to clone (one connection behind a mutex).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// Bumped by every commit that changes what readers see (articles, matches): caches of
    /// rendered feeds compare it instead of querying.
    generation: Arc<AtomicU64>,
}

/// What the config says about a source; kept in sync at startup.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub id: String,
    pub url: String,
}

/// Health of a source as `bantin sources` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceHealth {
    /// Never polled yet.
    Pending,
    Ok,
    /// The last poll failed; retried with backoff.
    Failing,
    /// HTTP 410: not polled again until its config entry changes.
    Gone,
    /// A valid feed with zero items.
    Empty,
}

impl SourceHealth {
    /// Every state, in the order counts are listed (`/metrics`).
    pub const ALL: [SourceHealth; 5] = [
        SourceHealth::Pending,
        SourceHealth::Ok,
        SourceHealth::Failing,
        SourceHealth::Gone,
        SourceHealth::Empty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceHealth::Pending => "pending",
            SourceHealth::Ok => "ok",
            SourceHealth::Failing => "failing",
            SourceHealth::Gone => "gone",
            SourceHealth::Empty => "empty",
        }
    }

    fn parse(s: &str) -> SourceHealth {
        match s {
            "ok" => SourceHealth::Ok,
            "failing" => SourceHealth::Failing,
            "gone" => SourceHealth::Gone,
            "empty" => SourceHealth::Empty,
            _ => SourceHealth::Pending,
        }
    }
}

/// A source's stored state.
#[derive(Debug, Clone)]
pub struct SourceState {
    pub id: String,
    /// The URL polled now: the configured one, or where a permanent redirect pointed.
    pub current_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub health: SourceHealth,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    pub articles: u64,
    /// When the source last brought an article it had not carried before: one new to the
    /// store, or a story already stored from another outlet (a source that syndicates others
    /// is not stale for that).
    pub last_new: Option<DateTime<Utc>>,
    /// Its first poll at its current URL (reset when the configured URL changes).
    pub first_attempt: Option<DateTime<Utc>>,
    /// What the last parsed feed needed ("feed needed repair (…)"), if anything.
    pub last_note: Option<String>,
    /// Items the last successful read yielded (new, known and recalled alike).
    pub items: Option<u32>,
    /// How many items a read usually yields: a moving average that leaves out reads yielding
    /// under half of it, so a list page whose selectors broke does not become the new usual.
    pub usual_items: Option<f64>,
}

impl SourceState {
    /// Since when the source has brought nothing new: the latest of [`SourceState::last_new`]
    /// and [`SourceState::first_attempt`], so a source that never brought anything is counted
    /// from its first poll, and a source whose URL was changed starts afresh. None until it is
    /// first polled.
    pub fn nothing_new_since(&self) -> Option<DateTime<Utc>> {
        let start = self.first_attempt?;
        Some(self.last_new.map_or(start, |t| t.max(start)))
    }

    /// Whole days with nothing new, when that is at least `stale_days`: the source is stale
    /// (government sites move their feeds without notice). Gone sources are never stale: they
    /// are not polled any more.
    pub fn stale_days(&self, now: DateTime<Utc>, stale_days: u32) -> Option<u32> {
        if self.health == SourceHealth::Gone {
            return None;
        }
        let days = (now - self.nothing_new_since()?).num_days();
        u32::try_from(days).ok().filter(|d| *d >= stale_days)
    }
}

/// The result of one poll, recorded in one transaction.
#[derive(Debug, Clone)]
pub enum PollRecord {
    /// A feed was fetched and parsed.
    Fetched {
        /// New or changed items, to store.
        articles: Vec<NewArticle>,
        /// Identity keys of items [`Store::unchanged`] found stored and unchanged: only their
        /// provenance is recorded.
        seen: Vec<Vec<String>>,
        /// Items recalled unchanged ([`Store::recall_items`]), recorded as `seen` records them
        /// by their article's id.
        carried: Vec<Carried>,
        etag: Option<String>,
        last_modified: Option<String>,
        /// Set after a permanent redirect (301/308): poll this from now on.
        moved_to: Option<String>,
        /// Queue the page of every article this source carries for the first time (and again
        /// for changed ones): the source's article pages are fetched.
        pages: bool,
        /// What the feed needed before it parsed ("feed needed repair (…)"); None clears the
        /// previous poll's note.
        note: Option<String>,
        /// False when part of the source could not be read (a child sitemap of an index
        /// failed): the articles are stored, but not the validators, and `last_success` stays,
        /// so the next poll reads the whole source again rather than take a 304 or pass over
        /// what changed since.
        complete: bool,
    },
    /// 304: nothing changed.
    NotModified { moved_to: Option<String> },
    /// The poll failed; `gone` after HTTP 410.
    Failed { error: String, gone: bool },
}

/// An item recalled unchanged: the article it is stored under, and its identity keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub article: i64,
    pub keys: Vec<String>,
}

/// Counts from one recorded poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestStats {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Items whose article was pruned earlier (tombstoned keys): not stored again.
    pub tombstoned: usize,
    /// Known articles that changed or gained a source in this poll: their matches were computed
    /// from this source alone, so they are matched again with all their sources.
    #[serde(skip)]
    pub rematch: Vec<i64>,
}

/// A stored article as the CLI and (later) feeds see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredArticle {
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub guid: Option<String>,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub authors: Vec<String>,
    pub published: DateTime<FixedOffset>,
    pub date_guessed: bool,
    pub date_raw: Option<String>,
    /// Every source that carried it, in the order they first saw it.
    pub sources: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    /// Articles of one story share this id (syndicated copies from several outlets).
    pub story: i64,
    /// Stable public id (its first identity key): never changes for an article.
    pub ident: String,
    /// Topics it matches.
    pub topics: Vec<String>,
    /// Enclosures and images ([`crate::media`]).
    pub media: Vec<Media>,
}

/// The `media` column of `media` ([`media::to_stored`]): NULL when there are none.
fn media_column(media: &[Media]) -> Option<String> {
    media::to_stored(media)
}

/// The media stored in a `media` column.
fn media_of(column: Option<&str>) -> Vec<Media> {
    column.map(media::from_stored).unwrap_or_default()
}

/// A stored article, as matching needs it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub title: String,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub search_text: String,
    /// See [`NewArticle::search_layout`].
    pub search_layout: Option<String>,
    /// Every source that carried it.
    pub sources: Vec<String>,
}

impl Candidate {
    /// Whether [`Candidate::match_input`] rebuilds it from its search text (not its HTML).
    fn matches_from_search_text(&self) -> bool {
        self.search_layout.as_deref().is_some_and(|layout| {
            MatchInput::fits_search_layout(self.search_text.as_bytes(), layout)
        })
    }

    /// What topics match: rebuilt from the stored search text when its layout is known (the
    /// same keys, without the HTML work), else from the HTML as at ingest.
    pub fn match_input(&self) -> MatchInput {
        self.search_layout
            .as_deref()
            .and_then(|layout| MatchInput::from_search_text(&self.search_text, layout))
            .unwrap_or_else(|| {
                MatchInput::from_html(
                    &self.title,
                    self.summary_html.as_deref(),
                    self.content_html.as_deref(),
                )
            })
    }
}

/// What [`Store::replace_matches`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RematchStats {
    pub articles: usize,
    pub added: usize,
    pub removed: usize,
}

/// Matching articles of one topic, by when they were first seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicCount {
    pub topic: String,
    pub day: u64,
    pub week: u64,
    pub total: u64,
}

/// Filters for [`Store::articles`].
#[derive(Debug, Clone, Default)]
pub struct ArticleQuery {
    pub source: Option<String>,
    /// Only articles matching this topic.
    pub topic: Option<String>,
    /// Only articles carried by one of these sources (a tag's sources).
    pub any_source: Option<Vec<String>>,
    /// Only these articles.
    pub ids: Option<Vec<i64>>,
    pub since: Option<DateTime<Utc>>,
    /// Only articles first seen (arrived) after this instant.
    pub seen_after: Option<DateTime<Utc>>,
    /// Only articles before this place in feed order (older).
    pub older_than: Option<FeedKey>,
    /// Only articles after this place in feed order (newer).
    pub newer_than: Option<FeedKey>,
    /// Only the articles of these stories (the ids [`StoredArticle::story`] gives).
    pub stories: Option<Vec<i64>>,
    pub order: FeedOrder,
    pub limit: usize,
}

/// An article's place in feed order, newest first: published, then first seen, then id. Every
/// article has its own (ids are unique), so a page of a feed can end at one and the next begin
/// right after it, however many articles arrive meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedKey {
    /// Milliseconds since the Unix epoch, as stored.
    pub published: i64,
    pub first_seen: i64,
    pub id: i64,
}

impl FeedKey {
    /// The place just older than this one, so that "newer than" it takes this one in.
    pub fn just_older(self) -> FeedKey {
        FeedKey {
            id: self.id.saturating_sub(1),
            ..self
        }
    }

    /// The place just newer than this one, so that "older than" it takes this one in.
    pub fn just_newer(self) -> FeedKey {
        FeedKey {
            id: self.id.saturating_add(1),
            ..self
        }
    }
}

/// Which end of the feed order [`Store::articles`] reads from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FeedOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

impl StoredArticle {
    /// Its place in feed order.
    pub fn feed_key(&self) -> FeedKey {
        FeedKey {
            published: self.published.timestamp_millis(),
            first_seen: unix_ms(self.first_seen),
            id: self.id,
        }
    }
}

/// The smallest page cache, KiB: what a fresh or small database gets.
const CACHE_MIN_KIB: i64 = 8 * 1024;
/// The largest page cache, KiB: the inner pages of a database of about 6 GB.
const CACHE_MAX_KIB: i64 = 64 * 1024;

/// The page cache, in KiB as `PRAGMA cache_size` takes it when negative: 1% of the database,
/// between 8 MiB and 64 MiB (SQLite's default is 2 MiB).
///
/// What the cache must hold is the inner pages of every table and index (about 1% of a
/// B-tree of 4 KiB pages) and the newest leaves that feeds and digests read. Identity keys are
/// hashes, so their lookups and inserts land all over their index: with the inner pages
/// cached, each costs one leaf read from the OS page cache (microseconds); without them, one
/// per level. Measured on a year of news (5 GB, `cargo bench --bench year`): a poll cost +139%
/// of the same poll on an empty database with 8 MiB of cache, +40% with 64 MiB, and a prune of
/// a month 26 s against 19 s. A small database gets 8 MiB, so a cold `bantin fetch` into a
/// fresh one stays under 64 MiB of RSS in all (64 MiB here filled most of that budget). The
/// size is fixed when the store opens; a database that grows into a bigger cache gets it at
/// the next start.
fn cache_kib(conn: &Connection) -> rusqlite::Result<i64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(cache_kib_for(pages.saturating_mul(page_size)))
}

/// The cache for a database of `bytes`, negative as `PRAGMA cache_size` reads KiB.
fn cache_kib_for(bytes: i64) -> i64 {
    -(bytes / 1024 / 100).clamp(CACHE_MIN_KIB, CACHE_MAX_KIB)
}

impl Store {
    /// Opens (creating when missing) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // Before anything writes the file: switching WAL on already creates page 1.
        retention::enable_incremental_vacuum_if_new(&conn).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", cache_kib(&conn).map_err(open_err)?)
            .map_err(open_err)?;
        // Checkpoint every 8192 pages (32 MiB of WAL) rather than 1000: index pages rewritten
        // by many polls are then copied back once, not once per 4 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(open_err)?;
        // After a checkpoint the WAL file is truncated back to this size (a big prune or a
        // burst of polls would otherwise leave it at its largest until the daemon stops).
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(open_err)?;
        schema::migrate(&mut conn, path)?;
        retention::convert_to_incremental_vacuum(&conn, path);
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
            generation: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes whenever this process commits something readers see.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The connection. A panic while another thread held it (caught at its task edge, see
    /// [`crate::guard`]) poisons the mutex; the connection itself is whole (the transaction
    /// that was open rolled back when it was dropped during unwinding; a leftover one is rolled
    /// back here), so the lock is taken over instead of failing every later query.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        match self.conn.lock() {
            Ok(conn) => Ok(conn),
            Err(poisoned) => {
                self.conn.clear_poison();
                let conn = poisoned.into_inner();
                if !conn.is_autocommit() {
                    conn.execute_batch("ROLLBACK")
                        .map_err(|_| StoreError::Poisoned)?;
                }
                Ok(conn)
            }
        }
    }

    /// Makes the `sources` table match the config. A source whose configured URL changed starts
    /// afresh (a gone source is polled again, redirects and validators are forgotten). Sources
    /// removed from the config keep their rows, so their articles keep their provenance.
    pub fn sync_sources(&self, specs: &[SourceSpec]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        for s in specs {
            tx.execute(
                "INSERT INTO sources (id, config_url, current_url) VALUES (?1, ?2, ?2)
                 ON CONFLICT(id) DO UPDATE SET
                   current_url = CASE WHEN config_url = excluded.config_url THEN current_url ELSE excluded.config_url END,
                   etag = CASE WHEN config_url = excluded.config_url THEN etag END,
                   last_modified = CASE WHEN config_url = excluded.config_url THEN last_modified END,
                   health = CASE WHEN config_url = excluded.config_url THEN health ELSE 'pending' END,
                   failures = CASE WHEN config_url = excluded.config_url THEN failures ELSE 0 END,
                   next_poll = CASE WHEN config_url = excluded.config_url THEN next_poll END,
                   first_attempt = CASE WHEN config_url = excluded.config_url THEN first_attempt END,
                   items = CASE WHEN config_url = excluded.config_url THEN items END,
                   usual_items = CASE WHEN config_url = excluded.config_url THEN usual_items END,
                   config_url = excluded.config_url",
                params![s.id, s.url],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored state of every source in the config order of `ids` (unknown ids are skipped).
    pub fn source_states(&self, ids: &[String]) -> Result<Vec<SourceState>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, current_url, etag, last_modified, health, last_attempt, last_success,
                    last_error, failures, next_poll,
                    (SELECT count(*) FROM article_sources a WHERE a.source_id = s.id),
                    last_new,
                    -- The source's latest provenance row (rowids grow): when it last carried
                    -- an article for the first time. Found in its covering index.
                    (SELECT first_seen FROM article_sources WHERE rowid =
                       (SELECT max(rowid) FROM article_sources a WHERE a.source_id = s.id)),
                    first_attempt, last_note, items, usual_items
             FROM sources s WHERE id = ?1",
        )?;
        let mut out = Vec::new();
        for id in ids {
            let row = stmt
                .query_row([id], |r| {
                    Ok(SourceState {
                        id: r.get(0)?,
                        current_url: r.get(1)?,
                        etag: r.get(2)?,
                        last_modified: r.get(3)?,
                        health: SourceHealth::parse(&r.get::<_, String>(4)?),
                        last_attempt: r.get::<_, Option<i64>>(5)?.and_then(from_unix),
                        last_success: r.get::<_, Option<i64>>(6)?.and_then(from_unix),
                        last_error: r.get(7)?,
                        failures: r.get(8)?,
                        next_poll: r.get::<_, Option<i64>>(9)?.and_then(from_unix),
                        articles: r.get(10)?,
                        last_new: r
                            .get::<_, Option<i64>>(11)?
                            .max(r.get::<_, Option<i64>>(12)?)
                            .and_then(from_unix),
                        first_attempt: r.get::<_, Option<i64>>(13)?.and_then(from_unix),
                        last_note: r.get(14)?,
                        items: r.get(15)?,
                        usual_items: r.get(16)?,
                    })
                })
                .optional()?;
            out.extend(row);
        }
        Ok(out)
    }

    /// Records one poll of `source` at `now` in a single transaction and schedules the next one.
    pub fn record_poll(
        &self,
        source: &str,
        record: &PollRecord,
        now: DateTime<Utc>,
        next_poll: DateTime<Utc>,
    ) -> Result<IngestStats, StoreError> {
        self.record_poll_at(source, record, Some(now), next_poll, None)
    }

    /// [`Store::record_poll`] at the time the write lock is taken, which is how the daemon
    /// records: a digest window closes in a write transaction too ([`Store::close_window`]), so
    /// a window that closed before this poll ended before its articles were first seen, and
    /// they fall in the next window. With a time read before the lock, a window could close in
    /// between, end after the articles' `first_seen`, and never list them.
    pub fn record_poll_now(
        &self,
        source: &str,
        record: &PollRecord,
        next_poll: DateTime<Utc>,
    ) -> Result<IngestStats, StoreError> {
        self.record_poll_at(source, record, None, next_poll, None)
    }

    /// [`Store::record_poll_now`], queuing in the same transaction a POST to the webhook of
    /// each topic an article comes to match ([`TopicHooks`]; see `store::webhooks`).
    pub fn record_poll_now_and_queue(
        &self,
        source: &str,
        record: &PollRecord,
        next_poll: DateTime<Utc>,
        hooks: &TopicHooks,
    ) -> Result<IngestStats, StoreError> {
        self.record_poll_at(source, record, None, next_poll, Some(hooks))
    }

    /// `now` None: when the write lock is taken.
    fn record_poll_at(
        &self,
        source: &str,
        record: &PollRecord,
        now: Option<DateTime<Utc>>,
        next_poll: DateTime<Utc>,
        hooks: Option<&TopicHooks>,
    ) -> Result<IngestStats, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now_s = unix_ms(now.unwrap_or_else(Utc::now));
        let mut stats = IngestStats::default();
        // Starts the staleness clock of a source that never brings anything new.
        tx.prepare_cached(
            "UPDATE sources SET first_attempt = coalesce(first_attempt, ?2) WHERE id = ?1",
        )?
        .execute(params![source, now_s])?;
        match record {
            PollRecord::Fetched {
                articles,
                seen,
                carried,
                etag,
                last_modified,
                moved_to,
                pages,
                note,
                complete,
            } => {
                // Articles that came to match a topic with a webhook: (published, id, topics).
                let mut gained = hooks.map(|_| Vec::new());
                for a in articles {
                    ingest_one(&tx, source, a, now_s, &mut stats, gained.as_mut())?;
                }
                if let (Some(hooks), Some(mut gained)) = (hooks, gained) {
                    // Oldest first, as a reader of the webhook's chat expects, whatever order
                    // the feed lists them in.
                    gained.sort_unstable_by_key(|(published, id, _)| (*published, *id));
                    for (_, id, topics) in &gained {
                        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                        webhooks::queue_matched(&tx, hooks, *id, &topics, now_s)?;
                    }
                }
                for keys in seen {
                    touch(&tx, source, keys, now_s, &mut stats)?;
                }
                for c in carried {
                    carry(&tx, source, c, now_s, &mut stats)?;
                }
                if *pages {
                    pages::queue_new(&tx, source, now_s)?;
                }
                let health = if articles.is_empty() && seen.is_empty() && carried.is_empty() {
                    "empty"
                } else {
                    "ok"
                };
                let (etag, last_modified) = match complete {
                    true => (etag.as_deref(), last_modified.as_deref()),
                    false => (None, None),
                };
                let items = articles.len() + seen.len() + carried.len();
                tx.execute(
                    "UPDATE sources SET etag = ?2, last_modified = ?3, health = ?4, last_attempt = ?5,
                       last_success = CASE WHEN ?10 THEN ?5 ELSE last_success END,
                       last_error = NULL, failures = 0, next_poll = ?6,
                       current_url = coalesce(?7, current_url),
                       last_new = CASE WHEN ?8 > 0 THEN ?5 ELSE last_new END, last_note = ?9,
                       items = ?11,
                       usual_items = CASE WHEN usual_items IS NULL THEN ?11
                                          WHEN ?11 * 2 < usual_items THEN usual_items
                                          ELSE usual_items * 0.8 + ?11 * 0.2 END
                     WHERE id = ?1",
                    params![source, etag, last_modified, health, now_s, unix_ms(next_poll), moved_to, stats.new, note, complete, items as i64],
                )?;
            }
            PollRecord::NotModified { moved_to } => {
                tx.execute(
                    "UPDATE sources SET health = CASE WHEN health IN ('empty') THEN health ELSE 'ok' END,
                       last_attempt = ?2, last_success = ?2, last_error = NULL, failures = 0,
                       next_poll = ?3, current_url = coalesce(?4, current_url)
                     WHERE id = ?1",
                    params![source, now_s, unix_ms(next_poll), moved_to],
                )?;
            }
            PollRecord::Failed { error, gone } => {
                tx.execute(
                    "UPDATE sources SET health = ?2, last_attempt = ?3, last_error = ?4,
                       failures = failures + 1, next_poll = ?5
                     WHERE id = ?1",
                    params![
                        source,
                        if *gone { "gone" } else { "failing" },
                        now_s,
                        error,
                        unix_ms(next_poll)
                    ],
                )?;
            }
        }
        tx.commit()?;
        if stats.new + stats.updated > 0 {
            self.bump();
        }
        Ok(stats)
    }

    /// For each item (its identity keys, most authoritative first, and its content hash): true
    /// when its first known key belongs to a stored article with the same content hash, or is
    /// a tombstone. Such items need not be normalized again. A read outside any write
    /// transaction: [`Store::record_poll`] checks again.
    pub fn unchanged(&self, items: &[(&[String], &str)]) -> Result<Vec<bool>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT a.content_hash FROM article_keys k LEFT JOIN articles a ON a.id = k.article_id
             WHERE k.key = ?1",
        )?;
        let mut out = Vec::with_capacity(items.len());
        for (keys, hash) in items {
            let mut same = false;
            for k in keys.iter() {
                if let Some(stored) = stmt
                    .query_row([StoredKey::of(k)], |r| r.get::<_, Option<String>>(0))
                    .optional()?
                {
                    same = stored.is_none_or(|h| h == *hash);
                    break;
                }
            }
            out.push(same);
        }
        Ok(out)
    }

    /// The title and canonical URL of the article stored under each of `keys` that is known
    /// (tombstones have none): key → (title, canonical URL).
    pub fn articles_by_key(
        &self,
        keys: &[&str],
    ) -> Result<HashMap<String, (String, Option<String>)>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT a.title, a.canonical_url FROM article_keys k
             JOIN articles a ON a.id = k.article_id WHERE k.key = ?1",
        )?;
        let mut out = HashMap::new();
        for k in keys {
            if let Some(found) = stmt
                .query_row([StoredKey::of(k)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                out.insert((*k).to_string(), found);
            }
        }
        Ok(out)
    }

    /// Stored articles, newest first (published time, then first seen).
    pub fn articles(&self, q: &ArticleQuery) -> Result<Vec<StoredArticle>, StoreError> {
        let conn = self.lock()?;
        read_articles(&conn, q)
    }

    /// Articles first seen at or after `since`, with what matching needs.
    pub fn match_candidates(&self, since: DateTime<Utc>) -> Result<Vec<Candidate>, StoreError> {
        let mut out = Vec::new();
        self.match_candidates_by_chunk(since, |chunk| {
            out.extend(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Store::match_candidates`] a chunk at a time, in first-seen order, without holding
    /// the store between chunks: a month of articles (90,000, some 300 MB of text) is
    /// matched without being held in memory at once, and polls go on meanwhile. Each chunk is
    /// one range of `articles_first_seen` read in one statement, sources included.
    pub fn match_candidates_by_chunk(
        &self,
        since: DateTime<Utc>,
        mut each: impl FnMut(Vec<Candidate>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Where the next chunk starts: past this (first_seen, id).
        let mut after = (unix_ms(since), 0_i64);
        loop {
            let chunk = {
                let conn = self.lock()?;
                // The HTML is read only for articles stored without a search layout: the
                // others are matched from their search text (half the bytes of a month).
                let mut stmt = conn.prepare_cached(
                    "SELECT a.id, a.title,
                            CASE WHEN a.search_layout IS NULL THEN a.summary_html END,
                            CASE WHEN a.search_layout IS NULL THEN a.content_html END,
                            a.first_seen,
                            (SELECT group_concat(source_id, char(10) ORDER BY rowid)
                               FROM article_sources s WHERE s.article_id = a.id),
                            a.search_text, a.search_layout
                     FROM articles a
                     WHERE a.first_seen >= ?1 AND (a.first_seen, a.id) > (?1, ?2)
                     ORDER BY a.first_seen, a.id LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![after.0, after.1, CANDIDATE_CHUNK], |r| {
                    let sources: Option<String> = r.get(5)?;
                    Ok((
                        r.get::<_, i64>(4)?,
                        Candidate {
                            id: r.get(0)?,
                            title: r.get(1)?,
                            summary_html: r.get(2)?,
                            content_html: r.get(3)?,
                            search_text: r.get(6)?,
                            search_layout: r.get(7)?,
                            // Source ids are slugs: never a line break.
                            sources: sources
                                .map(|s| s.split('\n').map(String::from).collect())
                                .unwrap_or_default(),
                        },
                    ))
                })?;
                let mut chunk = rows.collect::<Result<Vec<_>, _>>()?;
                for (_, c) in &mut chunk {
                    if c.search_layout.is_some() && !c.matches_from_search_text() {
                        (c.summary_html, c.content_html) = html_of(&conn, c.id)?;
                    }
                }
                chunk
            };
            let Some((first_seen, last)) = chunk.last().map(|(t, c)| (*t, c.id)) else {
                return Ok(());
            };
            let full = chunk.len() == CANDIDATE_CHUNK as usize;
            after = (first_seen, last);
            each(chunk.into_iter().map(|(_, c)| c).collect())?;
            if !full {
                return Ok(());
            }
        }
    }

    /// [`Store::match_candidates_by_chunk`] of the articles `keep(id, search text's bytes)`
    /// lets through, with the number of articles each chunk looked at. `keep` runs on every
    /// core, without the store. An article is read whole only if kept; one without a search
    /// text to match from (stored before it had one) is always kept, since its text is
    /// rebuilt from its HTML.
    pub fn screened_candidates_by_chunk(
        &self,
        since: DateTime<Utc>,
        keep: impl Fn(i64, &[u8]) -> bool + Sync,
        mut each: impl FnMut(Vec<Candidate>, usize) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = (unix_ms(since), 0_i64);
        loop {
            // (id, search text, whether it can be screened)
            let rows: Vec<(i64, Vec<u8>, bool)> = {
                let conn = self.lock()?;
                let mut stmt = conn.prepare_cached(
                    "SELECT a.id, a.first_seen, a.search_text, a.search_layout
                     FROM articles a
                     WHERE a.first_seen >= ?1 AND (a.first_seen, a.id) > (?1, ?2)
                     ORDER BY a.first_seen, a.id LIMIT ?3",
                )?;
                let mut rows = stmt.query(params![after.0, after.1, CANDIDATE_CHUNK])?;
                let mut out = Vec::with_capacity(CANDIDATE_CHUNK as usize);
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    after = (r.get(1)?, id);
                    // Bytes, their UTF-8 unchecked: most articles are looked at, not kept.
                    let text = r
                        .get_ref(2)?
                        .as_bytes_or_null()
                        .map_err(|e| conversion(2, e))?
                        .unwrap_or_default();
                    let screened = borrowed_text(r, 3)?
                        .is_some_and(|layout| MatchInput::fits_search_layout(text, layout));
                    out.push((id, text.to_vec(), screened));
                }
                out
            };
            let kept: Vec<i64> = crate::parallel::map(&rows, |(id, text, screened)| {
                (!screened || keep(*id, text)).then_some(*id)
            })
            .into_iter()
            .flatten()
            .collect();
            let looked = rows.len();
            drop(rows);
            let chunk = {
                let conn = self.lock()?;
                candidates(&conn, &kept)?
            };
            if looked > 0 {
                each(chunk, looked)?;
            }
            if looked < CANDIDATE_CHUNK as usize {
                return Ok(());
            }
        }
    }

    /// The given articles (those still stored), with what matching needs.
    pub fn match_candidates_for(&self, ids: &[i64]) -> Result<Vec<Candidate>, StoreError> {
        let conn = self.lock()?;
        candidates(&conn, ids)
    }

    /// Replaces the matches of the given articles, in one transaction. `matched_at` of a match
    /// that already existed is kept; articles' `first_seen` is never touched, so re-matching
    /// never makes an old article look new.
    pub fn replace_matches(
        &self,
        results: &[(i64, Vec<TopicMatch>)],
        now: DateTime<Utc>,
    ) -> Result<RematchStats, StoreError> {
        self.replace_matches_at(results, now, None)
    }

    /// [`Store::replace_matches`] of articles a poll just changed or found carried by another
    /// source, queuing in the same transaction a POST to the webhook of each topic one comes to
    /// match (see `store::webhooks`). A re-match after a topics edit is not this: it posts
    /// nothing.
    pub fn replace_matches_and_queue(
        &self,
        results: &[(i64, Vec<TopicMatch>)],
        now: DateTime<Utc>,
        hooks: &TopicHooks,
    ) -> Result<RematchStats, StoreError> {
        self.replace_matches_at(results, now, Some(hooks))
    }

    fn replace_matches_at(
        &self,
        results: &[(i64, Vec<TopicMatch>)],
        now: DateTime<Utc>,
        hooks: Option<&TopicHooks>,
    ) -> Result<RematchStats, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let mut stats = RematchStats::default();
        {
            // Only what changed is written: a re-match after an edit of one topic leaves the
            // other topics' rows (nearly all of them) untouched.
            let mut old =
                tx.prepare_cached("SELECT topic_id, phrases FROM matches WHERE article_id = ?1")?;
            let mut delete =
                tx.prepare_cached("DELETE FROM matches WHERE article_id = ?1 AND topic_id = ?2")?;
            for (id, matches) in results {
                let before: Vec<(String, String)> = old
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (t, _) in &before {
                    if !matches.iter().any(|m| &m.topic == t) {
                        delete.execute(params![id, t])?;
                        stats.removed += 1;
                    }
                }
                let mut gained = Vec::new();
                for m in matches {
                    let phrases = m.phrases.join("\n");
                    match before.iter().find(|(t, _)| *t == m.topic) {
                        Some((_, stored)) if *stored == phrases => continue,
                        Some(_) => {}
                        None => {
                            stats.added += 1;
                            gained.push(m.topic.as_str());
                        }
                    }
                    insert_match(&tx, *id, &m.topic, &phrases, unix_ms(now))?;
                }
                if let Some(hooks) = hooks.filter(|_| !gained.is_empty()) {
                    webhooks::queue_matched(&tx, hooks, *id, &gained, unix_ms(now))?;
                }
                stats.articles += 1;
            }
        }
        tx.commit()?;
        if stats.added + stats.removed > 0 {
            self.bump();
        }
        Ok(stats)
    }

    /// Ids of articles first seen at or after `since` stored as matching `topic`.
    pub fn matching_ids(&self, topic: &str, since: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT article_id FROM matches WHERE topic_id = ?1 AND first_seen >= ?2",
        )?;
        let rows = stmt.query_map(params![topic, unix_ms(since)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per topic: matching articles first seen in the last 24 h, the last 7 days, and in all.
    pub fn topic_counts(&self, now: DateTime<Utc>) -> Result<Vec<TopicCount>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT topic_id, sum(first_seen >= ?1), sum(first_seen >= ?2), count(*)
             FROM matches INDEXED BY matches_seen GROUP BY topic_id",
        )?;
        let day = unix_ms(now) - 86_400_000;
        let week = unix_ms(now) - 7 * 86_400_000;
        let rows = stmt.query_map([day, week], |r| {
            Ok(TopicCount {
                topic: r.get(0)?,
                day: r.get(1)?,
                week: r.get(2)?,
                total: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock()?;
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Number of stored articles (pruned ones excluded).
    pub fn article_count(&self) -> Result<u64, StoreError> {
        let conn = self.lock()?;
        Ok(conn.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?)
    }

    /// Runs `PRAGMA integrity_check`; Ok(()) when the database is sound.
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
        let conn = self.lock()?;
        let s: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(if s == "ok" { Ok(()) } else { Err(s) })
    }
}

/// Stores one item: known key → same article (updated in place if its content changed, one more
/// source in its provenance); tombstoned key → skipped; otherwise a new article with all its keys.
fn ingest_one(
    tx: &Transaction,
    source: &str,
    a: &NewArticle,
    now: i64,
    stats: &mut IngestStats,
    gained_topics: Option<&mut Vec<(i64, i64, Vec<String>)>>,
) -> Result<(), StoreError> {
    let mut lookup = tx.prepare_cached("SELECT article_id FROM article_keys WHERE key = ?1")?;
    let mut found: Option<Option<i64>> = None;
    for k in &a.keys {
        if let Some(id) = lookup
            .query_row([StoredKey::of(k)], |r| r.get::<_, Option<i64>>(0))
            .optional()?
        {
            found = Some(id);
            break;
        }
    }
    let known = found.is_some();
    let mut updated_now = false;
    // Topics the article matches now and did not before this poll.
    let mut gained: Vec<&str> = Vec::new();
    let id = match found {
        Some(None) => {
            stats.tombstoned += 1;
            return Ok(());
        }
        Some(Some(id)) => {
            let changed = tx.prepare_cached(
                "UPDATE articles SET title = ?2, title_key = ?3, summary_html = ?4, content_html = ?5,
                   search_text = ?6, authors = ?7, content_hash = ?8, updated = ?9,
                   url = coalesce(url, ?10), canonical_url = coalesce(canonical_url, ?11),
                   title_guessed = ?12, search_layout = ?13, media = ?14
                 WHERE id = ?1 AND content_hash <> ?8",
            )?
            .execute(params![
                    id,
                    a.title,
                    a.title_key,
                    a.summary_html,
                    a.content_html,
                    a.search_text,
                    a.authors.join("\n"),
                    a.content_hash,
                    now,
                    a.url,
                    a.canonical_url,
                    a.title_guessed,
                    a.search_layout,
                    media_column(&a.media),
                ])?;
            if changed > 0 {
                updated_now = true;
                stats.updated += 1;
                pages::requeue(tx, id)?;
                let before: Vec<String> = match gained_topics.as_ref() {
                    Some(_) => tx
                        .prepare_cached("SELECT topic_id FROM matches WHERE article_id = ?1")?
                        .query_map([id], |r| r.get(0))?
                        .collect::<Result<_, _>>()?,
                    None => Vec::new(),
                };
                search::reindex(tx, id)?;
                tx.prepare_cached("DELETE FROM matches WHERE article_id = ?1")?
                    .execute([id])?;
                insert_matches(tx, id, &a.matches, now)?;
                gained = a
                    .matches
                    .iter()
                    .map(|m| m.topic.as_str())
                    .filter(|t| !before.iter().any(|b| b == t))
                    .collect();
            } else {
                stats.unchanged += 1;
            }
            id
        }
        None => {
            let (published, offset) = (
                unix_ms(a.published.with_timezone(&Utc)),
                a.published.offset().local_minus_utc(),
            );
            let story = find_story(tx, &a.title_key, a.host.as_deref(), published)?;
            tx.prepare_cached(
                "INSERT INTO articles (url, canonical_url, host, guid, title, title_key, summary_html,
                   content_html, search_text, authors, published, published_offset, date_guessed,
                   date_raw, first_seen, content_hash, story_id, ident, title_guessed, search_layout,
                   media)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            )?
            .execute(params![
                a.url,
                a.canonical_url,
                a.host,
                a.guid,
                a.title,
                a.title_key,
                a.summary_html,
                a.content_html,
                a.search_text,
                a.authors.join("\n"),
                published,
                offset,
                a.date_guessed,
                a.date_raw,
                now,
                a.content_hash,
                story,
                a.keys.first(),
                a.title_guessed,
                a.search_layout,
                media_column(&a.media),
            ])?;
            let id = tx.last_insert_rowid();
            search::index_new(tx, id)?;
            insert_matches(tx, id, &a.matches, now)?;
            gained = a.matches.iter().map(|m| m.topic.as_str()).collect();
            stats.new += 1;
            id
        }
    };
    if link(tx, source, &a.keys, id, known, now)? && known || updated_now {
        stats.rematch.push(id);
    }
    if let Some(out) = gained_topics.filter(|_| !gained.is_empty()) {
        let published = unix_ms(a.published.with_timezone(&Utc));
        out.push((
            published,
            id,
            gained.iter().map(|t| t.to_string()).collect(),
        ));
    }
    Ok(())
}

/// Stored articles, newest first, read through `conn` (the store's connection, or a
/// transaction open on it: a webhook's body is read in the transaction that stores the match).
fn read_articles(conn: &Connection, q: &ArticleQuery) -> Result<Vec<StoredArticle>, StoreError> {
    let (sql, params) = article_select(q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let named: Vec<(&str, &dyn rusqlite::ToSql)> = params
        .iter()
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect();
    let rows = stmt.query_map(named.as_slice(), |r| {
        let published: i64 = r.get(8)?;
        let offset: i32 = r.get(9)?;
        let authors: String = r.get(7)?;
        Ok(StoredArticle {
            id: r.get(0)?,
            title: r.get(1)?,
            url: r.get(2)?,
            canonical_url: r.get(3)?,
            guid: r.get(4)?,
            summary_html: r.get(5)?,
            content_html: r.get(6)?,
            authors: authors
                .split('\n')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            published: to_fixed(published, offset),
            date_guessed: r.get(10)?,
            date_raw: r.get(11)?,
            sources: Vec::new(),
            first_seen: from_unix(r.get(12)?).unwrap_or_default(),
            updated: r.get::<_, Option<i64>>(13)?.and_then(from_unix),
            story: r.get(14)?,
            ident: r.get(15)?,
            topics: Vec::new(),
            media: media_of(borrowed_text(r, 16)?),
        })
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    let mut src = conn.prepare_cached(
        "SELECT source_id FROM article_sources WHERE article_id = ?1 ORDER BY rowid",
    )?;
    let mut topics = conn
        .prepare_cached("SELECT topic_id FROM matches WHERE article_id = ?1 ORDER BY topic_id")?;
    for a in &mut out {
        a.sources = src
            .query_map([a.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        a.topics = topics
            .query_map([a.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

/// The SQL of [`Store::articles`] for the filters `q` sets, with its parameters by name. Each
/// filter adds its own condition, so the planner sees only what is asked (one statement with a
/// `?n IS NULL OR …` per filter hides every index from it). A topic's articles are read in
/// feed order from the `matches_feed` index, however rare the topic; given ids are looked up
/// by id, given stories by their ids and `articles_copies`; articles that arrived after an
/// instant by arrival (`articles_first_seen`, `matches_seen`); everything else walks
/// `articles_published` from the newest, from a page's place when it has one.
fn article_select(q: &ArticleQuery) -> (String, Vec<(&'static str, rusqlite::types::Value)>) {
    use rusqlite::types::Value;
    let json = |v: serde_json::Value| Value::Text(v.to_string());
    let mut params = vec![(
        ":limit",
        Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)),
    )];
    let mut sql = String::from(
        "SELECT a.id, a.title, a.url, a.canonical_url, a.guid, a.summary_html, a.content_html,
                a.authors, a.published, a.published_offset, a.date_guessed, a.date_raw,
                a.first_seen, a.updated, coalesce(a.story_id, a.id),
                coalesce(a.ident, 'id:' || a.id), a.media",
    );
    let mut conditions: Vec<String> = Vec::new();
    // The order is the same for both: `matches` carries its article's (published,
    // first_seen), kept equal by the schema's triggers.
    // What arrived after an instant is read by arrival, then sorted: a reader polling twice a
    // day asks for a few hundred articles, which walking the feed order from the newest would
    // find only after reading everything published since the oldest of them (all of it, when
    // fewer than the limit arrived).
    let by_arrival = q.seen_after.is_some() && q.stories.is_none();
    let (published, first_seen, id) = match (&q.topic, &q.stories) {
        (Some(topic), None) => {
            sql.push_str(if by_arrival {
                " FROM matches m INDEXED BY matches_seen JOIN articles a ON a.id = m.article_id"
            } else {
                " FROM matches m JOIN articles a ON a.id = m.article_id"
            });
            conditions.push("m.topic_id = :topic".into());
            params.push((":topic", Value::Text(topic.clone())));
            ("m.published", "m.first_seen", "m.article_id")
        }
        // A few stories' copies are found from the stories, then checked for the topic: from
        // the topic's index, SQLite would walk every match newer than the page.
        (Some(topic), Some(_)) => {
            sql.push_str(" FROM articles a");
            conditions.push(
                "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic_id = :topic)"
                    .into(),
            );
            params.push((":topic", Value::Text(topic.clone())));
            ("a.published", "a.first_seen", "a.id")
        }
        (None, _) => {
            sql.push_str(if by_arrival {
                " FROM articles a INDEXED BY articles_first_seen"
            } else {
                " FROM articles a"
            });
            ("a.published", "a.first_seen", "a.id")
        }
    };
    if let Some(since) = q.since {
        conditions.push(format!("{published} >= :since"));
        params.push((":since", Value::Integer(unix_ms(since))));
    }
    if let Some(seen_after) = q.seen_after {
        conditions.push(format!("{first_seen} > :seen_after"));
        params.push((":seen_after", Value::Integer(unix_ms(seen_after))));
    }
    // Row values compare as the feed's index is sorted, so SQLite seeks to where a page starts.
    let place = format!("({published}, {first_seen}, {id})");
    for (key, cmp, names) in [
        (q.older_than, "<", [":older_p", ":older_f", ":older_id"]),
        (q.newer_than, ">", [":newer_p", ":newer_f", ":newer_id"]),
    ] {
        if let Some(key) = key {
            conditions.push(format!(
                "{place} {cmp} ({}, {}, {})",
                names[0], names[1], names[2]
            ));
            params.push((names[0], Value::Integer(key.published)));
            params.push((names[1], Value::Integer(key.first_seen)));
            params.push((names[2], Value::Integer(key.id)));
        }
    }
    if let Some(stories) = &q.stories {
        // A story's id is its first article's; its copies point at it (`articles_copies`).
        conditions.push(
            "(a.id IN (SELECT value FROM json_each(:stories))
              OR a.story_id IN (SELECT value FROM json_each(:stories)))"
                .into(),
        );
        params.push((":stories", json(stories.clone().into())));
    }
    let direction = match q.order {
        FeedOrder::NewestFirst => " DESC",
        FeedOrder::OldestFirst => "",
    };
    let order = format!("{published}{direction}, {first_seen}{direction}, {id}{direction}");
    if let Some(source) = &q.source {
        conditions.push(
            "EXISTS (SELECT 1 FROM article_sources s
                     WHERE s.article_id = a.id AND s.source_id = :source)"
                .into(),
        );
        params.push((":source", Value::Text(source.clone())));
    }
    if let Some(sources) = &q.any_source {
        conditions.push(
            "EXISTS (SELECT 1 FROM article_sources s
                     WHERE s.article_id = a.id
                       AND s.source_id IN (SELECT value FROM json_each(:sources)))"
                .into(),
        );
        params.push((":sources", json(sources.clone().into())));
    }
    if let Some(ids) = &q.ids {
        conditions.push("a.id IN (SELECT value FROM json_each(:ids))".into());
        params.push((":ids", json(ids.clone().into())));
    }
    for (i, c) in conditions.iter().enumerate() {
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        sql.push_str(c);
    }
    sql.push_str(" ORDER BY ");
    sql.push_str(&order);
    sql.push_str(" LIMIT :limit");
    (sql, params)
}

fn candidates(conn: &Connection, ids: &[i64]) -> Result<Vec<Candidate>, StoreError> {
    let mut article = conn.prepare_cached(
        "SELECT title, summary_html, content_html, search_text, search_layout
             FROM articles WHERE id = ?1",
    )?;
    let mut src = conn.prepare_cached(
        "SELECT source_id FROM article_sources WHERE article_id = ?1 ORDER BY rowid",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some((title, summary_html, content_html, search_text, search_layout)) = article
            .query_row([id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?
        else {
            continue;
        };
        let sources = src
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        out.push(Candidate {
            id,
            title,
            summary_html,
            content_html,
            search_text,
            search_layout,
            sources,
        });
    }
    Ok(out)
}

/// Column `i` of a row as text, without copying it; NULL as `None`.
fn borrowed_text<'r>(r: &'r rusqlite::Row, i: usize) -> Result<Option<&'r str>, rusqlite::Error> {
    r.get_ref(i)?.as_str_or_null().map_err(|e| conversion(i, e))
}

fn conversion(column: usize, e: rusqlite::types::FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}

/// An article's summary and content HTML.
fn html_of(conn: &Connection, id: i64) -> Result<(Option<String>, Option<String>), StoreError> {
    let html = conn
        .prepare_cached("SELECT summary_html, content_html FROM articles WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(html.unwrap_or_default())
}

fn insert_matches(
    tx: &Transaction,
    id: i64,
    matches: &[TopicMatch],
    now: i64,
) -> Result<(), StoreError> {
    let mut stmt = insert_statement(tx)?;
    for m in matches {
        stmt.execute(params![m.topic, id, m.phrases.join("\n"), now])?;
    }
    Ok(())
}

/// Stores a match (topic, article id, phrases, now); an existing one only takes the new
/// phrases (`matched_at` stays). The article's feed order comes with it (schema 10), read in
/// the same statement.
fn insert_statement<'t>(tx: &'t Transaction) -> Result<rusqlite::CachedStatement<'t>, StoreError> {
    Ok(tx.prepare_cached(
        "INSERT INTO matches (topic_id, article_id, phrases, matched_at, published, first_seen)
         SELECT ?1, id, ?3, ?4, published, first_seen FROM articles WHERE id = ?2
         ON CONFLICT(topic_id, article_id) DO UPDATE SET phrases = excluded.phrases",
    )?)
}

/// One match of [`insert_matches`], its phrases joined already.
fn insert_match(
    tx: &Transaction,
    id: i64,
    topic: &str,
    phrases: &str,
    now: i64,
) -> Result<(), StoreError> {
    insert_statement(tx)?.execute(params![topic, id, phrases, now])?;
    Ok(())
}

/// An item found unchanged: its article gains any new key and this source's provenance.
fn touch(
    tx: &Transaction,
    source: &str,
    keys: &[String],
    now: i64,
    stats: &mut IngestStats,
) -> Result<(), StoreError> {
    let mut lookup = tx.prepare_cached("SELECT article_id FROM article_keys WHERE key = ?1")?;
    let mut found = None;
    for (at, k) in keys.iter().enumerate() {
        if let Some(id) = lookup
            .query_row([StoredKey::of(k)], |r| r.get::<_, Option<i64>>(0))
            .optional()?
        {
            found = Some((at, id));
            break;
        }
    }
    match found {
        Some((at, Some(id))) => {
            stats.unchanged += 1;
            // The key just found is stored already: inserting it again would do nothing.
            let rest = keys.iter().enumerate().filter(|(i, _)| *i != at);
            if link(tx, source, rest.map(|(_, k)| k), id, true, now)? {
                stats.rematch.push(id);
            }
            Ok(())
        }
        Some((_, None)) => {
            stats.tombstoned += 1;
            Ok(())
        }
        // Keys are never deleted (pruning leaves tombstones), so an item seen a moment ago is
        // still known; nothing to do if not.
        None => Ok(()),
    }
}

/// An item recalled unchanged, recorded as [`touch`] records it. Every key of a recalled item
/// is stored, the first under its article (`store::recall`), so `touch` would find that
/// article by the first key, insert no key, and update the provenance: that update alone is
/// made. When it finds no provenance to update (the article went since it was recalled, or
/// this source's provenance did), `touch` decides.
fn carry(
    tx: &Transaction,
    source: &str,
    c: &Carried,
    now: i64,
    stats: &mut IngestStats,
) -> Result<(), StoreError> {
    let carried = still_carried(tx, source, c.article, now)?;
    if carried == 0 {
        return touch(tx, source, &c.keys, now, stats);
    }
    stats.unchanged += 1;
    Ok(())
}

/// Records that `source` still carries article `id` at `now`; the rows updated (0: it has no
/// provenance from `source`).
fn still_carried(tx: &Transaction, source: &str, id: i64, now: i64) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE article_sources SET last_seen = ?3 WHERE article_id = ?1 AND source_id = ?2",
        )?
        .execute(params![id, source, now])?)
}

/// Records `keys` for article `id` (existing keys keep their article) and that `source`
/// carried it; `stored` false when the article was inserted in this transaction (no source
/// carries it yet).
/// Returns true when `source` carries the article for the first time.
fn link<'k>(
    tx: &Transaction,
    source: &str,
    keys: impl IntoIterator<Item = &'k String>,
    id: i64,
    stored: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let mut add_key = tx.prepare_cached(
        "INSERT INTO article_keys (key, article_id) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
    )?;
    for k in keys {
        add_key.execute(params![StoredKey::of(k), id])?;
    }
    // Most polls carry what the source carried before: the update alone then records it (one
    // statement, where an insert that conflicts and then the update took two). An article
    // inserted in this transaction skips straight to the insert. The row ends the same.
    if stored {
        let carried = still_carried(tx, source, id, now)?;
        if carried > 0 {
            return Ok(false);
        }
    }
    let added = tx
        .prepare_cached(
            "INSERT INTO article_sources (article_id, source_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(article_id, source_id) DO NOTHING",
        )?
        .execute(params![id, source, now])?;
    if added == 0 {
        still_carried(tx, source, id, now)?;
    }
    Ok(added > 0)
}

/// A syndicated copy: another outlet's article (not on `host`) with the title key `title_key`,
/// published within the window of `published`. Returns the story's id: the id of its first
/// article.
fn find_story(
    tx: &Transaction,
    title_key: &str,
    host: Option<&str>,
    published: i64,
) -> Result<Option<i64>, StoreError> {
    if title_key.split(' ').count() < STORY_MIN_SYLLABLES {
        return Ok(None);
    }
    // The index's periods are SQLite's integer division, which truncates toward zero like
    // Rust's, so `first` is the period of the window's start. The window (at most one period
    // long) ends in that period or the next; where the division truncates toward zero a period
    // is longer, never shorter.
    let first = published.saturating_sub(STORY_WINDOW_MS) / STORY_PERIOD_MS;
    let mut stmt = tx.prepare_cached(
        "SELECT coalesce(story_id, id) FROM articles
         WHERE published / 518400000 IN (?5, ?5 + 1) AND title_key = ?1
           AND coalesce(host, '') <> coalesce(?2, '')
           AND published BETWEEN ?3 - ?4 AND ?3 + ?4
         ORDER BY id LIMIT 1",
    )?;
    Ok(stmt
        .query_row(
            params![title_key, host, published, STORY_WINDOW_MS, first],
            |r| r.get(0),
        )
        .optional()?)
}

// Instants are stored as milliseconds since the Unix epoch (schema 7; whole seconds before).
// Seconds were too coarse: `bantin fetch && bantin digest send --now` in one second put the
// fresh articles at the window's exclusive end, and they waited for the next digest.

/// An instant as stored.
fn unix_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_unix(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn to_fixed(ms: i64, offset: i32) -> DateTime<FixedOffset> {
    let off = FixedOffset::east_opt(offset).unwrap_or_else(|| Utc.fix());
    off.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syndicated copy is found wherever its window falls among the periods of
    /// `articles_story`: across a period's end, at the window's edges, and before 1970, where
    /// the division truncates toward zero (the period around 0 is twice as long).
    #[test]
    fn a_copy_is_found_across_the_periods_of_the_story_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let mut conn = store.lock().unwrap();
        let tx = conn.transaction().unwrap();
        let key = "thủ tướng chủ trì hội nghị hòa giải tranh chấp";
        let (p, w) = (STORY_PERIOD_MS, STORY_WINDOW_MS);
        let mut checked = 0;
        for base in [
            0,
            p,
            5 * p,
            p + p / 2,
            -p,
            -5 * p,
            -p - p / 2,
            1_800_000_000_000,
        ] {
            for (first, copy, linked) in [
                (base - 1, base + 1, true),
                (base + 1, base - 1, true),
                (base - w, base, true),
                (base, base - w, true),
                (base, base + w, true),
                (base + w, base, true),
                (base - w / 2, base + w / 2, true),
                (base, base + w + 1, false),
                (base + w + 1, base, false),
                (base - w, base + w, false),
            ] {
                tx.execute("DELETE FROM articles", []).unwrap();
                tx.execute(
                    "INSERT INTO articles (id, host, title, title_key, search_text, published,
                       first_seen, content_hash) VALUES (7, 'a.vn', 't', ?1, 't', ?2, 0, 'h')",
                    params![key, first],
                )
                .unwrap();
                let found = find_story(&tx, key, Some("b.vn"), copy).unwrap();
                assert_eq!(found == Some(7), linked, "first {first}, copy {copy}");
                assert_eq!(find_story(&tx, key, Some("a.vn"), copy).unwrap(), None);
                checked += 1;
            }
        }
        assert_eq!(checked, 80);
    }

    #[test]
    fn a_source_is_stale_after_stale_days_with_nothing_new() {
        let day = |d: i64| Utc.timestamp_opt(1_800_000_000 + d * 86_400, 0).single();
        let now = day(30).unwrap();
        // (health, first attempt, last new) → days stale with stale_days = 7
        let check = |health, first: Option<i64>, new: Option<i64>, want: Option<u32>| {
            let s = SourceState {
                items: None,
                usual_items: None,
                id: "s".into(),
                current_url: String::new(),
                etag: None,
                last_modified: None,
                health,
                last_attempt: day(29),
                last_success: day(29),
                last_error: None,
                failures: 0,
                next_poll: None,
                articles: 0,
                last_new: new.and_then(day),
                first_attempt: first.and_then(day),
                last_note: None,
            };
            assert_eq!(s.stale_days(now, 7), want, "{health:?} {first:?} {new:?}");
        };
        use SourceHealth::*;
        check(Ok, Some(0), Some(29), None);
        check(Ok, Some(0), Some(24), None);
        check(Ok, Some(0), Some(23), Some(7));
        check(Ok, Some(0), Some(10), Some(20));
        // Never new: counted from the first poll.
        check(Empty, Some(24), None, None);
        check(Empty, Some(20), None, Some(10));
        // The URL was changed (first attempt reset): counted from the first poll there.
        check(Ok, Some(28), Some(1), None);
        // Never polled, or gone: never stale.
        check(Pending, None, None, None);
        check(Gone, Some(0), Some(1), None);
        // Failing for long is stale too.
        check(Failing, Some(0), Some(2), Some(28));
    }

    #[test]
    fn the_page_cache_grows_with_the_database_between_its_bounds() {
        const MIB: i64 = 1024 * 1024;
        assert_eq!(cache_kib_for(0), -8 * 1024);
        assert_eq!(cache_kib_for(100 * MIB), -8 * 1024);
        assert_eq!(cache_kib_for(2048 * MIB), -20 * 1024 - 491);
        assert_eq!(cache_kib_for(5 * 1024 * MIB), -51 * 1024 - 204);
        assert_eq!(cache_kib_for(50 * 1024 * MIB), -64 * 1024);
        assert_eq!(cache_kib_for(i64::MAX), -64 * 1024);

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).unwrap();
        let size: i64 = store
            .conn
            .lock()
            .unwrap()
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(size, -8 * 1024, "a fresh database gets the smallest cache");
    }

    #[test]
    fn a_database_from_a_newer_bantin_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path)
            .err()
            .expect("newer schema must be refused");
        assert!(
            matches!(err, StoreError::TooNew { found, .. } if found == schema::VERSION + 1),
            "{err}"
        );
        assert!(
            err.to_string().contains("newer than this bantin knows"),
            "{err}"
        );
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::VERSION + 1);
    }
}
