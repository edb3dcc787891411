//! Keeping the database healthy for years: retention, space, backups.
//!
//! - **Pruning** ([`Store::prune`]) deletes articles first seen before a cutoff. Their identity
//!   keys stay in `article_keys` with `article_id = NULL` (tombstones, `ON DELETE SET NULL`), so
//!   a source that serves a pruned item again never gets it stored again. Matches, provenance
//!   and queued pages go with the article (`ON DELETE CASCADE`: foreign keys are switched on in
//!   [`Store::open`], outside any transaction, where the pragma takes effect). The outbox is
//!   independent: a sent digest stays sent.
//! - **Space**: databases use `auto_vacuum = INCREMENTAL`, so pages freed by pruning are given
//!   back to the file system by `PRAGMA incremental_vacuum` rather than only reused. A new file
//!   gets the mode before its first table; an older file (mode NONE) is rebuilt once by `VACUUM`
//!   when opened.
//! - **Backups** ([`Store::backup`]) go through SQLite's online backup API from one read
//!   snapshot into a temporary file beside the target, are checked (`PRAGMA integrity_check`)
//!   and only then renamed into place, so a backup file is always whole.
//! - **Restores** ([`Store::restore`]) refuse while any process has the database open, and keep the
//!   replaced database beside the restored one.
//!
//! Long work is done in short transactions (a batch of articles, a run of pages) with the
//! store's lock released in between, so a daemon's polls are never held up for long.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::backup::Backup;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{schema, unix_ms, Store, StoreError};

/// Articles deleted per transaction.
const PRUNE_BATCH: i64 = 2_000;
/// Pages given back to the file system per transaction (4 MiB of 4 KiB pages).
const VACUUM_STEP_PAGES: i64 = 1_024;

/// What [`Store::prune`] removed, or would remove in a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneStats {
    /// Nothing was changed: the counts say what would go.
    pub dry_run: bool,
    pub articles: usize,
    /// Topic matches of those articles.
    pub matches: usize,
    /// Provenance rows: which source carried which article.
    pub source_links: usize,
    /// Queued or fetched article pages.
    pub page_jobs: usize,
    /// Identity keys of the pruned articles, kept as tombstones: these items are never stored
    /// again.
    pub tombstones: usize,
    /// Database pages given back to the file system (0 in a dry run, and when the database is
    /// not in incremental auto-vacuum mode yet).
    pub pages_freed: u64,
    /// `pages_freed` in bytes.
    pub bytes_reclaimed: u64,
    /// Size of the database (pages in use and free) afterwards, in bytes.
    pub database_bytes: u64,
    /// Stopped early (shutdown): whole batches are done, the rest is left for the next prune.
    pub interrupted: bool,
}

impl PruneStats {
    fn add(&mut self, batch: &PruneStats) {
        self.articles += batch.articles;
        self.matches += batch.matches;
        self.source_links += batch.source_links;
        self.page_jobs += batch.page_jobs;
        self.tombstones += batch.tombstones;
    }
}

/// How [`Store::backup`] copies.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Replace the target file when it exists (otherwise the backup is refused).
    pub overwrite: bool,
    /// Pages copied per step (4 KiB each).
    pub pages_per_step: i32,
    /// Pause between two steps, leaving the disk to the daemon.
    pub pause: Duration,
}

impl Default for BackupOptions {
    fn default() -> BackupOptions {
        BackupOptions {
            overwrite: false,
            pages_per_step: 256,
            pause: Duration::from_millis(5),
        }
    }
}

/// A backup written and checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub articles: u64,
    /// Its schema version.
    pub schema_version: i64,
    pub elapsed_ms: u64,
}

/// A database replaced by a backup.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub database: PathBuf,
    pub articles: u64,
    pub bytes: u64,
    /// Where the database it replaced was moved (None when there was none).
    pub previous: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path:?} already exists (left as it is)")]
    Exists { path: PathBuf },
    // Not a `source`: the message already says it, and error chains would repeat it.
    #[error("{path:?}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path:?} fails the integrity check: {report}")]
    Corrupt { path: PathBuf, report: String },
    #[error(
        "database {path:?} is in use by another process (is `bantin run` still running?); \
         stop it before restoring"
    )]
    InUse { path: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> BackupError {
        BackupError::Store(StoreError::Sql(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Gives a database with no tables yet incremental auto-vacuum. Must run before anything
/// writes the file: once page 1 exists the mode can only change through `VACUUM`.
pub(super) fn enable_incremental_vacuum_if_new(conn: &Connection) -> rusqlite::Result<()> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables == 0 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// Rebuilds a database made without auto-vacuum (mode NONE) in incremental mode, once. `VACUUM`
/// rewrites the whole file and needs as much free disk space again; it runs outside any
/// transaction. A failure (another writer, a full disk) is logged and tried again at the next
/// open: pruning still works meanwhile, freed pages are then only reused.
pub(super) fn convert_to_incremental_vacuum(conn: &Connection, path: &Path) {
    let mode = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get::<_, i64>(0));
    if !matches!(mode, Ok(0)) {
        return;
    }
    tracing::info!(
        database = %path.display(),
        "converting the database to incremental auto-vacuum (once: VACUUM rewrites the file)"
    );
    let started = Instant::now();
    match conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;") {
        Ok(()) => tracing::info!(
            database = %path.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "database converted to incremental auto-vacuum"
        ),
        Err(e) => tracing::warn!(
            database = %path.display(),
            error = %e,
            "cannot convert the database to incremental auto-vacuum; tried again at next start"
        ),
    }
}

/// Counts of what deleting the articles in `doomed` (a SELECT of ids) takes with it.
fn count_doomed(
    conn: &Connection,
    doomed: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<PruneStats> {
    conn.prepare_cached(&format!(
        "WITH doomed AS ({doomed})
         SELECT (SELECT count(*) FROM doomed),
                (SELECT count(*) FROM matches WHERE article_id IN doomed),
                (SELECT count(*) FROM article_sources WHERE article_id IN doomed),
                (SELECT count(*) FROM pages WHERE article_id IN doomed),
                (SELECT count(*) FROM article_keys WHERE article_id IN doomed)"
    ))?
    .query_row(params, |r| {
        Ok(PruneStats {
            articles: r.get(0)?,
            matches: r.get(1)?,
            source_links: r.get(2)?,
            page_jobs: r.get(3)?,
            tombstones: r.get(4)?,
            ..Default::default()
        })
    })
}

/// The next batch of articles to prune, oldest first (the same rows every time it runs in one
/// transaction). In the order of the `articles_first_seen` index, which it reads from its
/// start: ordered by id, it would walk the table from its first row past every younger
/// article whose id is lower than an old one's.
const NEXT_BATCH: &str =
    "SELECT id FROM articles WHERE first_seen < ?1 ORDER BY first_seen, id LIMIT ?2";

fn page_counts(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let count: u64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((count, size))
}

impl Store {
    /// Deletes the articles first seen before `cutoff` with their matches, provenance and
    /// pages; their identity keys stay as tombstones. Then gives free pages back to the file
    /// system. With `dry_run`, only counts what would go.
    ///
    /// Works in batches of 2,000 articles, one transaction each, so a running daemon
    /// waits at most one batch; an interrupted prune leaves whole batches done.
    pub fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<PruneStats, StoreError> {
        self.prune_until(cutoff, dry_run, &|| false)
    }

    /// [`Store::prune`], stopping between two batches (of deletes, or of vacuum steps) once
    /// `stop` says so: the daemon's shutdown must not wait for a year of articles to go.
    pub fn prune_until(
        &self,
        cutoff: DateTime<Utc>,
        dry_run: bool,
        stop: &dyn Fn() -> bool,
    ) -> Result<PruneStats, StoreError> {
        let cutoff = unix_ms(cutoff);
        if dry_run {
            let conn = self.lock()?;
            let mut stats = count_doomed(
                &conn,
                "SELECT id FROM articles WHERE first_seen < ?1",
                [cutoff],
            )?;
            stats.dry_run = true;
            let (pages, size) = page_counts(&conn)?;
            stats.database_bytes = pages * size;
            return Ok(stats);
        }
        let mut stats = PruneStats::default();
        loop {
            if stop() {
                stats.interrupted = true;
                break;
            }
            let mut conn = self.lock()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let batch = count_doomed(&tx, NEXT_BATCH, params![cutoff, PRUNE_BATCH])?;
            if batch.articles == 0 {
                break;
            }
            // Settled webhook deliveries of these articles go with them (a pruned article is
            // never matched again, so the row is no longer needed to post it once); one still
            // queued stays, its body frozen, until it is delivered.
            tx.execute(
                &format!(
                    "DELETE FROM webhook_outbox WHERE article_id IN ({NEXT_BATCH})
                       AND status <> 'pending'"
                ),
                params![cutoff, PRUNE_BATCH],
            )?;
            let deleted = tx.execute(
                &format!("DELETE FROM articles WHERE id IN ({NEXT_BATCH})"),
                params![cutoff, PRUNE_BATCH],
            )?;
            debug_assert_eq!(deleted, batch.articles);
            tx.commit()?;
            drop(conn);
            self.bump();
            stats.add(&batch);
        }
        let (freed, size, after) = self.vacuum_free_pages(stop)?;
        stats.interrupted |= stop();
        stats.pages_freed = freed;
        stats.bytes_reclaimed = freed * size;
        stats.database_bytes = after * size;
        Ok(stats)
    }

    /// Gives every free page back to the file system, [`VACUUM_STEP_PAGES`] per transaction.
    /// Returns the pages freed, the page size and the page count afterwards.
    fn vacuum_free_pages(&self, stop: &dyn Fn() -> bool) -> Result<(u64, u64, u64), StoreError> {
        let (before, size) = page_counts(&*self.lock()?)?;
        while !stop() {
            let conn = self.lock()?;
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
            if free == 0 || mode != 2 {
                break;
            }
            // The pragma frees one page per step of its statement (it returns a row for each),
            // so it has to be stepped to the end: a plain execute would free a single page.
            let mut stmt =
                conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            let left: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            if left >= free {
                break;
            }
        }
        let conn = self.lock()?;
        let (after, _) = page_counts(&conn)?;
        // Copy the shrunk database back from the WAL now when no reader is in the way, so the
        // file shrinks on disk too; PASSIVE never waits for anyone.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok((before.saturating_sub(after), size, after))
    }

    /// Copies the database into `target` while others go on using it, through SQLite's online
    /// backup API, then checks the copy.
    ///
    /// The copy is made from one read snapshot held for its whole length: in WAL mode that
    /// never blocks writers, and writes made meanwhile (by this process or a daemon) do not
    /// restart it, as they would if each step began a new snapshot. It is written to a
    /// temporary file beside `target`, switched out of WAL mode (a backup is one
    /// self-contained file), checked with `PRAGMA integrity_check`, synced, and only then
    /// renamed to `target`.
    pub fn backup(
        &self,
        target: &Path,
        options: &BackupOptions,
    ) -> Result<BackupReport, BackupError> {
        let started = Instant::now();
        if !options.overwrite && target.symlink_metadata().is_ok() {
            return Err(BackupError::Exists {
                path: target.to_path_buf(),
            });
        }
        let temp = Partial::beside(target);
        let src = Connection::open(&self.path)?;
        src.busy_timeout(Duration::from_secs(10))?;
        src.execute_batch("BEGIN")?;
        // The first read starts the snapshot.
        src.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        let mut dst = Connection::open(&temp.0)?;
        Backup::new(&src, &mut dst)?.run_to_completion(
            options.pages_per_step,
            options.pause,
            None,
        )?;
        src.execute_batch("COMMIT")?;
        drop(src);
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        let (articles, schema_version) = check(&dst, &temp.0)?;
        drop(dst);
        sync(&temp.0)?;
        temp.place(target, options.overwrite)?;
        let bytes = std::fs::metadata(target).map_err(io_err(target))?.len();
        Ok(BackupReport {
            path: target.to_path_buf(),
            bytes,
            articles,
            schema_version,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// `PRAGMA integrity_check` and the article count and schema version of a copy.
fn check(conn: &Connection, path: &Path) -> Result<(u64, i64), BackupError> {
    let corrupt = |report: String| BackupError::Corrupt {
        path: path.to_path_buf(),
        report,
    };
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| corrupt(e.to_string()))?;
    if problems != ["ok"] {
        return Err(corrupt(problems.join("; ")));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let articles = conn
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .map_err(|e| corrupt(format!("not a bantin database ({e})")))?;
    Ok((articles, version))
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

/// The directory entry of `path` made durable (best effort: not every platform can sync a
/// directory).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
}

/// A file being written beside its target; removed (with any journal) unless placed.
struct Partial(PathBuf);

impl Partial {
    fn beside(target: &Path) -> Partial {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bantin.db".into());
        Partial(target.with_file_name(format!(".{name}.partial-{}", std::process::id())))
    }

    /// Renames the file to `target`. Without `overwrite` it is linked instead, which fails
    /// rather than replace a file that appeared meanwhile.
    fn place(self, target: &Path, overwrite: bool) -> Result<(), BackupError> {
        if !overwrite {
            match std::fs::hard_link(&self.0, target) {
                Ok(()) => {
                    sync_dir(target);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(BackupError::Exists {
                        path: target.to_path_buf(),
                    })
                }
                // No hard links on this file system: check, then rename.
                Err(_) if target.symlink_metadata().is_ok() => {
                    return Err(BackupError::Exists {
                        path: target.to_path_buf(),
                    })
                }
                Err(_) => {}
            }
        }
        std::fs::rename(&self.0, target).map_err(io_err(target))?;
        sync_dir(target);
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut journal = self.0.clone().into_os_string();
        journal.push("-journal");
        let _ = std::fs::remove_file(journal);
    }
}

/// `path` with `suffix` appended to its file name (`bantin.db` → `bantin.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Store {
    /// Replaces the database at `database` with the backup at `backup`, which must pass the
    /// integrity check and not come from a newer bantin. Refused while any process has the
    /// database open: a connection in WAL mode holds a shared lock on the file for as long as it
    /// is open, so an exclusive lock cannot be had while a daemon (even an idle one) runs.
    ///
    /// The backup is first copied to a temporary file beside the database and synced. Then the
    /// database being replaced (its WAL checkpointed into it) is renamed to
    /// `DATABASE.before-restore-TIMESTAMP`, with any leftover `-wal`/`-shm`, and the copy is
    /// renamed into place (should that fail, the old database is put back). The restored file
    /// is then opened once, which brings its schema up to date.
    pub fn restore(
        backup: &Path,
        database: &Path,
        now: DateTime<Utc>,
    ) -> Result<RestoreReport, BackupError> {
        std::fs::metadata(backup).map_err(io_err(backup))?;
        let conn =
            Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
                BackupError::Corrupt {
                    path: backup.to_path_buf(),
                    report: e.to_string(),
                }
            })?;
        let (_, version) = check(&conn, backup)?;
        drop(conn);
        if version > schema::VERSION {
            return Err(StoreError::TooNew {
                path: backup.to_path_buf(),
                found: version,
                known: schema::VERSION,
            }
            .into());
        }
        if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        // The copy first: nothing is moved until the new file is whole on disk.
        let temp = Partial::beside(database);
        std::fs::copy(backup, &temp.0).map_err(io_err(&temp.0))?;
        sync(&temp.0)?;
        let previous = if database.exists() {
            take_exclusively(database)?;
            let aside = with_suffix(
                database,
                &format!(".before-restore-{}", now.format("%Y%m%dT%H%M%SZ")),
            );
            move_with_wal(database, &aside)?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = temp.place(database, false) {
            if let Some(aside) = &previous {
                // Put the old database back rather than leave none.
                let _ = move_with_wal(aside, database);
            }
            return Err(e);
        }
        let store = Store::open(database)?;
        let articles = store.article_count()?;
        drop(store);
        let bytes = std::fs::metadata(database).map_err(io_err(database))?.len();
        Ok(RestoreReport {
            database: database.to_path_buf(),
            articles,
            bytes,
            previous,
        })
    }
}

/// Renames a database file and, when present, its `-wal` and `-shm`.
fn move_with_wal(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::rename(from, to).map_err(io_err(from))?;
    for suffix in ["-wal", "-shm"] {
        let f = with_suffix(from, suffix);
        if f.exists() {
            std::fs::rename(&f, with_suffix(to, suffix)).map_err(io_err(&f))?;
        }
    }
    Ok(())
}

/// Makes sure no other process has `database` open, and leaves it whole: its WAL checkpointed
/// into the main file. A database too damaged to lock (restoring it is the point) is let
/// through; a busy one is refused.
fn take_exclusively(database: &Path) -> Result<(), BackupError> {
    let conn = Connection::open(database)?;
    let locked = conn
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;"));
    if let Err(e) = locked {
        return match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Err(BackupError::InUse {
                path: database.to_path_buf(),
            }),
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                tracing::warn!(
                    database = %database.display(),
                    error = %e,
                    "the database being replaced is damaged; replacing it without a lock"
                );
                Ok(())
            }
            _ => Err(e.into()),
        };
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(
            database = %database.display(),
            error = %e,
            "cannot checkpoint the database being replaced; its -wal is kept beside it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// An article with two identity keys, a match, a provenance row and a page, first seen at
    /// `first_seen` (Unix seconds), with `body` bytes of content.
    fn insert(store: &Store, id: i64, first_seen: i64, body: usize) {
        let first_seen = first_seen * 1000;
        let conn = store.lock().unwrap();
        conn.execute(
            "INSERT OR IGNORE INTO sources (id, config_url, current_url) VALUES ('s', 'u', 'u')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO articles (id, title, title_key, search_text, published, first_seen,
               content_hash, content_html, ident)
             VALUES (?1, 't', 't', 't', ?2, ?2, 'h', ?3, ?4)",
            params![id, first_seen, "x".repeat(body), format!("guid:{id}")],
        )
        .unwrap();
        for k in [format!("guid:{id}"), format!("url:{id}")] {
            conn.execute(
                "INSERT INTO article_keys (key, article_id) VALUES (?1, ?2)",
                params![k, id],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO article_sources (article_id, source_id, first_seen, last_seen)
             VALUES (?1, 's', ?2, ?2)",
            params![id, first_seen],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO matches (topic_id, article_id, phrases, matched_at) VALUES ('t', ?1, 'p', 0)",
            [id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO pages (article_id, source_id, url, status) VALUES (?1, 's', 'u', 'done')",
            [id],
        )
        .unwrap();
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store
            .lock()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn a_new_database_is_in_incremental_auto_vacuum_and_has_foreign_keys_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        assert_eq!(count(&store, "PRAGMA auto_vacuum"), 2);
        assert_eq!(count(&store, "PRAGMA foreign_keys"), 1);
        assert_eq!(
            store
                .lock()
                .unwrap()
                .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
                .unwrap(),
            "wal"
        );
    }

    #[test]
    fn an_old_database_without_auto_vacuum_is_converted_once_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        {
            let store = Store::open(&path).unwrap();
            insert(&store, 1, 100, 10);
        }
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
                .unwrap();
            let mode: i64 = conn
                .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, 0, "the test needs an old-style database");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(count(&store, "PRAGMA auto_vacuum"), 2);
        assert_eq!(store.article_count().unwrap(), 1);
    }

    #[test]
    fn prune_deletes_old_articles_and_what_hangs_on_them_and_keeps_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        for id in 1..=5 {
            insert(&store, id, 1_000 + id, 10);
        }
        let stats = store.prune(at(1_004), false).unwrap();
        assert_eq!(
            (
                stats.dry_run,
                stats.articles,
                stats.matches,
                stats.source_links,
                stats.page_jobs,
                stats.tombstones
            ),
            (false, 3, 3, 3, 3, 6),
            "{stats:?}"
        );
        assert_eq!(store.article_count().unwrap(), 2);
        for (sql, n) in [
            ("SELECT count(*) FROM matches", 2),
            ("SELECT count(*) FROM article_sources", 2),
            ("SELECT count(*) FROM pages", 2),
            ("SELECT count(*) FROM article_keys", 10),
            (
                "SELECT count(*) FROM article_keys WHERE article_id IS NULL",
                6,
            ),
            ("SELECT count(*) FROM pragma_foreign_key_check", 0),
        ] {
            assert_eq!(count(&store, sql), n, "{sql}");
        }
        // The source itself stays.
        assert_eq!(count(&store, "SELECT count(*) FROM sources"), 1);
    }

    #[test]
    fn a_dry_run_counts_the_same_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        for id in 1..=5 {
            insert(&store, id, 1_000 + id, 10);
        }
        let before = store.generation();
        let dry = store.prune(at(1_004), true).unwrap();
        assert!(dry.dry_run);
        assert_eq!(store.article_count().unwrap(), 5);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM article_keys WHERE article_id IS NULL"
            ),
            0
        );
        assert_eq!(store.generation(), before);
        let real = store.prune(at(1_004), false).unwrap();
        assert_eq!(
            PruneStats {
                dry_run: true,
                pages_freed: 0,
                bytes_reclaimed: 0,
                database_bytes: 0,
                ..real.clone()
            },
            PruneStats {
                database_bytes: 0,
                ..dry
            }
        );
    }

    #[test]
    fn pruning_many_articles_in_batches_gives_the_space_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let n = PRUNE_BATCH * 2 + 7;
        for id in 1..=n {
            insert(&store, id, id, 2_000);
        }
        insert(&store, n + 1, n + 1_000, 2_000);
        let before = count(&store, "PRAGMA page_count");
        let stats = store.prune(at(n + 1), false).unwrap();
        assert_eq!(stats.articles as i64, n);
        let after = count(&store, "PRAGMA page_count");
        assert!(after * 4 < before, "{before} pages → {after}");
        assert_eq!(stats.pages_freed as i64, before - after);
        assert_eq!(stats.bytes_reclaimed, stats.pages_freed * 4096);
        assert_eq!(count(&store, "PRAGMA freelist_count"), 0);
        assert_eq!(store.integrity_check().unwrap(), Ok(()));
        assert_eq!(store.article_count().unwrap(), 1);
    }

    #[test]
    fn a_prune_told_to_stop_stops_between_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let n = PRUNE_BATCH * 3;
        for id in 1..=n {
            insert(&store, id, id, 100);
        }
        // Shutdown arrives while the first batch is deleted.
        let asked = std::cell::Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        let stats = store.prune_until(at(n + 1), false, &stop).unwrap();
        assert!(stats.interrupted);
        assert_eq!(stats.articles as i64, PRUNE_BATCH);
        assert_eq!(store.article_count().unwrap() as i64, n - PRUNE_BATCH);
        assert_eq!(store.integrity_check().unwrap(), Ok(()));
        // The next prune finishes the job.
        let rest = store.prune(at(n + 1), false).unwrap();
        assert!(!rest.interrupted);
        assert_eq!(rest.articles as i64, n - PRUNE_BATCH);
    }

    #[test]
    fn a_backup_taken_while_another_thread_writes_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        for id in 1..=300 {
            insert(&store, id, id, 3_000);
        }
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let written = std::sync::Arc::new(AtomicI64::new(0));
        let writer = {
            let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let id = 1_000 + written.load(Ordering::SeqCst);
                    insert(&store, id, id, 3_000);
                    written.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // The writer is under way before the backup starts.
        while written.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let before = store.article_count().unwrap();
        let target = dir.path().join("copy.db");
        let report = store
            .backup(
                &target,
                &BackupOptions {
                    pages_per_step: 8,
                    pause: Duration::from_millis(1),
                    ..Default::default()
                },
            )
            .unwrap();
        let after = store.article_count().unwrap();
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        assert!(
            (before..=after).contains(&report.articles),
            "{before}..={after}: {report:?}"
        );
        assert_eq!(report.schema_version, schema::VERSION);
        let copy = Connection::open(&target).unwrap();
        let mode: String = copy
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "a backup is one self-contained file");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_backup_never_replaces_a_file_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let target = dir.path().join("copy.db");
        std::fs::write(&target, "precious").unwrap();
        let err = store
            .backup(&target, &BackupOptions::default())
            .unwrap_err();
        assert!(matches!(err, BackupError::Exists { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        let report = store
            .backup(
                &target,
                &BackupOptions {
                    overwrite: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(report.articles, 0);
    }

    #[test]
    fn restore_is_refused_while_the_database_is_open_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("b.db");
        let backup = dir.path().join("backup.db");
        let store = Store::open(&live).unwrap();
        insert(&store, 1, 100, 10);
        store.backup(&backup, &BackupOptions::default()).unwrap();
        insert(&store, 2, 200, 10);

        let err = Store::restore(&backup, &live, at(0)).unwrap_err();
        assert!(matches!(err, BackupError::InUse { .. }), "{err}");
        assert_eq!(store.article_count().unwrap(), 2);
        drop(store);

        let report = Store::restore(&backup, &live, at(0)).unwrap();
        assert_eq!(report.articles, 1);
        let previous = report.previous.unwrap();
        assert_eq!(Store::open(&live).unwrap().article_count().unwrap(), 1);
        assert_eq!(Store::open(&previous).unwrap().article_count().unwrap(), 2);
    }

    #[test]
    fn restore_replaces_a_damaged_database() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("b.db");
        let backup = dir.path().join("backup.db");
        let store = Store::open(&live).unwrap();
        insert(&store, 1, 100, 10);
        store.backup(&backup, &BackupOptions::default()).unwrap();
        drop(store);
        std::fs::write(&live, vec![0x5a; 8192]).unwrap();
        let report = Store::restore(&backup, &live, at(0)).unwrap();
        assert_eq!(report.articles, 1);
        assert_eq!(
            std::fs::read(report.previous.unwrap()).unwrap(),
            vec![0x5a; 8192]
        );
    }

    #[test]
    fn restore_refuses_what_is_not_a_sound_backup() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("b.db");
        let garbage = dir.path().join("garbage.db");
        let store = Store::open(&live).unwrap();
        insert(&store, 1, 100, 10);
        drop(store);
        std::fs::write(&garbage, "not a database at all, just text").unwrap();
        let err = Store::restore(&garbage, &live, at(0)).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
        let err = Store::restore(&dir.path().join("missing.db"), &live, at(0)).unwrap_err();
        assert!(matches!(err, BackupError::Io { .. }), "{err}");
        assert_eq!(Store::open(&live).unwrap().article_count().unwrap(), 1);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("before-restore") || n.contains("partial"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn restore_refuses_a_backup_from_a_newer_bantin() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("b.db");
        let backup = dir.path().join("backup.db");
        Store::open(&live)
            .unwrap()
            .backup(&backup, &BackupOptions::default())
            .unwrap();
        Connection::open(&backup)
            .unwrap()
            .pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
        let err = Store::restore(&backup, &live, at(0)).unwrap_err();
        assert!(
            err.to_string().contains("newer than this bantin knows"),
            "{err}"
        );
    }
}
