//! The scheduler: polls every source when it is due, until told to stop.
//!
//! Each source's next poll time lives in the database (set by the poll that just finished), so a
//! restart picks up where the last run left off and the loop itself holds no schedule state.
//! Polls run as tasks owned by one `JoinSet`; shutdown cancels fetches in flight, then waits for
//! the store transactions in flight (they are never interrupted), then returns.
//!
//! Under systemd ([`crate::notify`]) the loop reports `READY=1` once the config, the database and
//! the HTTP listener are up and the scheduler has turned once; a one-line `STATUS=` when the
//! summary changes; `WATCHDOG=1` only from the loop itself and only after the database answered,
//! so a stuck loop or a stuck database gets the service restarted; reload and stop as they
//! happen. The loop also prunes old articles: at start, then daily.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::http::{self, AppState};
use crate::ingest::fetch::Fetcher;
use crate::ingest::{self, Outcome, PollError, Report};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::postman::Postman;
use crate::store::{blocking, SourceHealth, SourceSpec, SourceState, Store, StoreError};

/// How long shutdown waits for work in flight before giving up on it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// The loop wakes at least this often, even when nothing is due.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How often the service manager's status line is brought up to date (when it changed). A
/// line stays at least half this long, so a reload's result can be read before the summary
/// comes back.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// Old articles are pruned at start, then this often.
const PRUNE_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Client(String),
}

/// The config, the database and the HTTP client: what polling needs.
#[derive(Clone)]
pub struct Ingestor {
    pub config: Arc<Config>,
    pub store: Store,
    fetcher: Arc<Fetcher>,
    /// Polls in flight, from the fetch to the stored result: `[poll] concurrency`. The fetcher
    /// bounds fetches alone; without this, bodies fetched faster than they are stored would
    /// wait for the database in memory (2,000 small feeds in one `bantin fetch`: 400 MB).
    slots: Arc<tokio::sync::Semaphore>,
}

impl Ingestor {
    /// Opens the database (creating it), records the configured sources, re-matches stored
    /// articles if the topics changed since the last run, and builds the client.
    pub async fn open(config: Config) -> Result<Ingestor, DaemonError> {
        let path = config.storage.path.clone();
        let store = blocking(move || Store::open(&path)).await?;
        Ingestor::with_store(config, store).await
    }

    /// The same on an open store (used on reload: the database stays, the config changes).
    pub async fn with_store(config: Config, store: Store) -> Result<Ingestor, DaemonError> {
        let specs = source_specs(&config);
        let config = Arc::new(config);
        let (st, cf) = (store.clone(), config.clone());
        let rematched = blocking(move || {
            st.sync_sources(&specs)?;
            ingest::rematch_if_changed(&st, &cf, Utc::now())
        })
        .await?;
        if let Some(stats) = rematched {
            tracing::info!(
                articles = stats.articles,
                added = stats.added,
                removed = stats.removed,
                days = config.rematch_days,
                "topics changed: recent articles re-matched"
            );
        }
        let fetcher = Fetcher::new(&config.poll).map_err(|e| DaemonError::Client(e.to_string()))?;
        Ok(Ingestor {
            slots: Arc::new(tokio::sync::Semaphore::new(config.poll.concurrency)),
            config,
            store,
            fetcher: Arc::new(fetcher),
        })
    }

    /// Stored state of every configured source, in config order.
    pub async fn states(&self) -> Result<Vec<SourceState>, StoreError> {
        let store = self.store.clone();
        let ids: Vec<String> = self.config.sources.iter().map(|s| s.id.clone()).collect();
        blocking(move || store.source_states(&ids)).await
    }

    /// Polls one source now (gone sources are skipped) and records the result. This is the
    /// poll's task edge: a panic anywhere in it is recorded as the source's failure
    /// ([`ingest::record_panic`]), and the scheduler goes on polling the source.
    pub async fn poll(&self, id: &str, cancel: &CancellationToken) -> Result<Report, StoreError> {
        let Some(source) = self.config.sources.iter().find(|s| s.id == id) else {
            return Ok(Report {
                source: id.to_string(),
                outcome: Outcome::Failed(PollError::UnknownSource),
                next_poll: Utc::now(),
            });
        };
        // Closed only when the Ingestor is gone, which cannot happen while `self` is borrowed.
        let Ok(_slot) = self.slots.acquire().await else {
            return Err(StoreError::Task("poll slots closed".into()));
        };
        let polled = crate::guard::catch_async(async {
            let (store, ids) = (self.store.clone(), vec![id.to_string()]);
            let state = blocking(move || store.source_states(&ids))
                .await?
                .into_iter()
                .next();
            if let Some(s) = state.as_ref().filter(|s| s.health == SourceHealth::Gone) {
                return Ok(Report {
                    source: id.to_string(),
                    outcome: Outcome::Gone,
                    next_poll: s.next_poll.unwrap_or_else(Utc::now),
                });
            }
            ingest::poll_source(
                &self.fetcher,
                &self.store,
                &self.config,
                source,
                state.as_ref(),
                cancel,
            )
            .await
        })
        .await;
        match polled {
            Ok(report) => report,
            Err(error) => ingest::record_panic(&self.store, &self.config, source, error).await,
        }
    }

    /// Polls the given sources (all when `ids` is empty) concurrently, within the fetcher's
    /// limits; `on_report` sees each report as it arrives. Reports come back in config order.
    pub async fn poll_now(
        &self,
        ids: &[String],
        mut on_report: impl FnMut(&Report),
    ) -> Result<Vec<Report>, StoreError> {
        let wanted: Vec<String> = if ids.is_empty() {
            self.config.sources.iter().map(|s| s.id.clone()).collect()
        } else {
            ids.to_vec()
        };
        let cancel = CancellationToken::new();
        let mut set = JoinSet::new();
        for id in &wanted {
            let me = self.clone();
            let id = id.clone();
            let cancel = cancel.clone();
            set.spawn(async move {
                let r = me.poll(&id, &cancel).await;
                (id, r)
            });
        }
        // One report per source, whatever happened to the others: a database error or a bug
        // while polling one source is that source's line.
        let mut reports = Vec::new();
        while let Some(joined) = set.join_next().await {
            let report = match joined {
                Ok((_, Ok(report))) => report,
                Ok((id, Err(e))) => Report {
                    source: id,
                    outcome: Outcome::Failed(PollError::Database(e.to_string())),
                    next_poll: Utc::now(),
                },
                Err(e) => return Err(StoreError::Task(e.to_string())),
            };
            on_report(&report);
            reports.push(report);
        }
        reports.sort_by_key(|r| wanted.iter().position(|w| *w == r.source));
        Ok(reports)
    }
}

/// Runs the daemon until `shutdown` resolves; then cancels fetches in flight, lets store
/// transactions in flight commit, and returns.
///
/// With a `listener`, feeds, the index page, health and metrics are served on it meanwhile
/// (see [`crate::http`]); the server follows reloads and stops with the daemon. The service
/// manager named by `NOTIFY_SOCKET`, if any, is kept informed ([`run_notifying`]).
pub async fn run(
    ingestor: Ingestor,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_notifying(ingestor, listener, shutdown, Notifier::from_env()).await
}

/// [`run`], reporting readiness, status, reloads, shutdown and liveness to `notifier`.
pub async fn run_notifying(
    mut ingestor: Ingestor,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()>,
    notifier: Notifier,
) -> Result<(), DaemonError> {
    tracing::info!(
        sources = ingestor.config.sources.len(),
        database = %ingestor.store.path().display(),
        "bantin started"
    );
    let mut summary = Summary {
        listen: listener.as_ref().and_then(|l| l.local_addr().ok()),
        ..Summary::default()
    };
    let mut status = StatusLine::default();
    let mut ready = false;
    let watchdog = notifier.watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(MAX_SLEEP));
    watchdog_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut status_tick = tokio::time::interval(STATUS_INTERVAL);
    status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune_tick = tokio::time::interval(PRUNE_INTERVAL);
    prune_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune_task: Option<tokio::task::JoinHandle<()>> = None;
    let cancel = CancellationToken::new();
    let mut tasks: JoinSet<(String, Result<Report, StoreError>)> = JoinSet::new();
    let mut running: HashSet<String> = HashSet::new();
    tokio::pin!(shutdown);
    let mut watch = Watch::new(ingestor.config.files());
    let mut watch_tick = tokio::time::interval(WATCH_INTERVAL);
    watch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hangup = Hangup::new();
    let mut postman = start_postman(&ingestor);
    let mut digest_tick = tokio::time::interval(DIGEST_INTERVAL);
    digest_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut digest_task: Option<tokio::task::JoinHandle<()>> = None;
    let metrics = Arc::new(Metrics::default());
    let http_stop = CancellationToken::new();
    let server = match listener {
        Some(listener) => {
            let app = AppState::new(
                ingestor.config.clone(),
                ingestor.store.clone(),
                metrics.clone(),
            );
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(listen = %addr, public_url = %ingestor.config.http.public_url, "serving feeds");
            }
            let stop = http_stop.clone();
            let handle = tokio::spawn(http::serve(listener, app.clone(), async move {
                stop.cancelled().await
            }));
            Some((app, handle))
        }
        None => None,
    };
    if let (Some((app, _)), Some(p)) = (&server, &postman) {
        app.set_secret(Some(p.secret().clone()));
    }

    loop {
        let states = ingestor.states().await?;
        let now = Utc::now();
        metrics.beat(now.timestamp());
        summary.observe(&states);
        if !ready {
            // Config, database and listener are up, and the scheduler has turned once (so
            // /healthz says ok from now on). `shutdown` is polled once first: a signal handler
            // it installs when first polled (the CLI's does) is then in place before anyone is
            // told that bantin is up, and stops it cleanly from then on.
            let stop_now = tokio::select! {
                biased;
                _ = &mut shutdown => true,
                _ = std::future::ready(()) => false,
            };
            if stop_now {
                break;
            }
            ready = true;
            let line = summary.to_string();
            notifier.ready(&line);
            status.sent(line);
            tracing::info!(
                watchdog = ?watchdog,
                notify = notifier.is_enabled(),
                "ready"
            );
        }
        let mut wake = now + chrono::Duration::from_std(MAX_SLEEP).unwrap_or_default();
        for state in &states {
            if running.contains(&state.id) || state.health == SourceHealth::Gone {
                continue;
            }
            match state.next_poll {
                Some(t) if t > now => wake = wake.min(t),
                _ => {
                    running.insert(state.id.clone());
                    let me = ingestor.clone();
                    let id = state.id.clone();
                    let cancel = cancel.clone();
                    tasks.spawn(async move {
                        let r = me.poll(&id, &cancel).await;
                        (id, r)
                    });
                }
            }
        }
        let sleep = (wake - now).to_std().unwrap_or_default();
        let reload_now = tokio::select! {
            _ = &mut shutdown => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Some((id, new)) = log_joined(joined, &metrics) {
                    running.remove(&id);
                    summary.round_new += new;
                }
                if tasks.is_empty() {
                    summary.round_finished();
                }
                false
            }
            _ = tokio::time::sleep(sleep) => false,
            _ = digest_tick.tick() => {
                // One digest round at a time; a slow SMTP server delays the next, never doubles it.
                if digest_task.as_ref().is_none_or(|t| t.is_finished()) {
                    if let Some(p) = postman.clone() {
                        let metrics = metrics.clone();
                        digest_task = Some(tokio::spawn(async move {
                            let round = p.round(Utc::now()).await;
                            if let Ok(r) = &round {
                                for _ in 0..r.panicked {
                                    metrics.panicked("digest");
                                }
                            }
                            match round {
                                Ok(r) if r.composed + r.sent + r.retrying + r.failed > 0 => {
                                    tracing::info!(composed = r.composed, sent = r.sent, retrying = r.retrying, failed = r.failed, "digests")
                                }
                                Ok(_) => {}
                                Err(e) => tracing::error!(error = %e, "digest round failed"),
                            }
                        }));
                    }
                }
                false
            }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                true
            }
            _ = watch_tick.tick() => {
                let changed = watch.settled_change();
                if changed {
                    tracing::info!("configuration files changed: reloading");
                }
                changed
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                // From the loop itself, and only when the database answers: a loop stuck
                // elsewhere, or a database that hangs, stops the pings and systemd restarts us.
                match database_answers(&ingestor.store, watchdog.unwrap_or(MAX_SLEEP)).await {
                    Ok(()) => notifier.watchdog(),
                    Err(e) => tracing::warn!(error = %e, "the database did not answer; watchdog ping withheld"),
                }
                false
            }
            _ = status_tick.tick(), if notifier.is_enabled() => {
                if status.since() >= STATUS_INTERVAL / 2 {
                    let line = summary.to_string();
                    if status.changed(&line) {
                        notifier.status(&line);
                        status.sent(line);
                    }
                }
                false
            }
            _ = prune_tick.tick() => {
                // One prune at a time; it runs beside polling (each is its own transaction).
                if prune_task.as_ref().is_none_or(|t| t.is_finished()) {
                    prune_task = Some(tokio::spawn(prune(
                        ingestor.store.clone(),
                        ingestor.config.storage.keep_days,
                        cancel.clone(),
                    )));
                }
                false
            }
        };
        if reload_now {
            notifier.reloading();
            let (next, outcome) = reload(ingestor).await;
            ingestor = next;
            summary.reload_failed = outcome.failure();
            let line = outcome.to_string();
            notifier.reloaded(&line);
            status.sent(line);
            watch = Watch::new(ingestor.config.files());
            postman = start_postman(&ingestor);
            if let Some((app, _)) = &server {
                app.set_config(ingestor.config.clone());
                app.set_secret(postman.as_ref().map(|p| p.secret().clone()));
            }
        }
    }

    tracing::info!(in_flight = tasks.len(), "shutting down");
    notifier.stopping();
    cancel.cancel();
    http_stop.cancel();
    // Polls, mail and pruning wind down together: one deadline for all of them, so the process
    // is gone within SHUTDOWN_GRACE (plus a second for the HTTP server) whatever is in flight.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    let drain = async {
        while let Some(joined) = tasks.join_next().await {
            log_joined(joined, &metrics);
        }
    };
    if tokio::time::timeout_at(deadline, drain).await.is_err() {
        tracing::warn!(
            "work still in flight after {}s; leaving it",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    if let Some(task) = digest_task {
        // The mail in flight is finished (or given up on) before exit.
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            tracing::warn!("digest delivery still in flight at shutdown; the outbox keeps it for the next start");
        }
    }
    if let Some(task) = prune_task {
        // A prune commits batch by batch on a blocking thread; whatever is left then is cut
        // short at exit, between batches or by a rollback, and done at the next start.
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            tracing::warn!("pruning still in flight at shutdown; leaving it");
        }
    }
    if let Some((_, handle)) = server {
        let http_deadline = (deadline + Duration::from_secs(1))
            .min(tokio::time::Instant::now() + Duration::from_secs(2));
        match tokio::time::timeout_at(http_deadline, handle).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server failed"),
            Err(_) => tracing::warn!("HTTP connections still open at shutdown; closing them"),
            _ => {}
        }
    }
    tracing::info!("bantin stopped");
    Ok(())
}

/// What the store keeps of each configured source.
pub fn source_specs(config: &Config) -> Vec<SourceSpec> {
    config
        .sources
        .iter()
        .map(|s| SourceSpec {
            id: s.id.clone(),
            url: s.url.to_string(),
        })
        .collect()
}

/// How often digest windows and the outbox are looked at.
const DIGEST_INTERVAL: Duration = Duration::from_secs(20);

/// Digests for this configuration; None (logged) when mail cannot be set up, so polling and
/// feeds go on while the admin fixes it.
fn start_postman(ingestor: &Ingestor) -> Option<Postman> {
    match Postman::new(ingestor.config.clone(), ingestor.store.clone()) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "digests are off until the mail configuration is fixed");
            None
        }
    }
}

/// How often config files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// A change is acted on once the files have stayed the same this long (editors write in steps).
const WATCH_SETTLE: Duration = Duration::from_millis(700);

/// How a reload went, as the service manager's status line says it.
enum Reloaded {
    Yes {
        sources: usize,
        topics: usize,
    },
    /// The files have this many problems.
    Invalid(usize),
    Failed(String),
}

impl Reloaded {
    /// Why it failed, in a few words; None when it did not.
    fn failure(&self) -> Option<String> {
        match self {
            Reloaded::Yes { .. } => None,
            Reloaded::Invalid(n) => Some(count(*n, "problem")),
            Reloaded::Failed(e) => Some(e.clone()),
        }
    }
}

impl std::fmt::Display for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keeping = "keeping the running configuration";
        match self {
            Reloaded::Yes { sources, topics } => write!(
                f,
                "configuration reloaded: {}, {}",
                count(*sources, "source"),
                count(*topics, "topic")
            ),
            Reloaded::Invalid(n) => write!(f, "reload failed: {}; {keeping}", count(*n, "problem")),
            Reloaded::Failed(e) => write!(f, "reload failed: {e}; {keeping}"),
        }
    }
}

/// Reads the configuration again. On success the new config (sources, topics, poll settings)
/// takes over on the same database, and stored articles are re-matched if the topics changed; on
/// failure every problem is logged and the running config stays.
async fn reload(current: Ingestor) -> (Ingestor, Reloaded) {
    let bound = current.config.http.listen;
    let path = current.config.path.clone();
    let loaded = tokio::task::spawn_blocking(move || config::load(&path)).await;
    let config = match loaded {
        Ok(Ok(mut c)) => {
            // The listener stays: a changed `[http] listen` takes effect at restart.
            c.http.bound(bound);
            c
        }
        Ok(Err(problems)) => {
            for p in &problems.0 {
                tracing::error!(problem = %p, "invalid configuration; keeping the running one");
            }
            return (current, Reloaded::Invalid(problems.0.len()));
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running configuration");
            return (current, Reloaded::Failed(e.to_string()));
        }
    };
    let (sources, topics) = (config.sources.len(), config.topics.len());
    match Ingestor::with_store(config, current.store.clone()).await {
        Ok(next) => {
            tracing::info!(sources, topics, "configuration reloaded");
            (next, Reloaded::Yes { sources, topics })
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running configuration");
            (current, Reloaded::Failed(e.to_string()))
        }
    }
}

/// What the status line says: sources and their health, the last poll round, where feeds are
/// served, and a failed reload until one succeeds.
#[derive(Debug, Default)]
struct Summary {
    sources: usize,
    failing: usize,
    gone: usize,
    /// Articles new in the polls finished since the last time none was in flight.
    round_new: usize,
    /// The same for the last round that finished; None before the first.
    last_round_new: Option<usize>,
    listen: Option<std::net::SocketAddr>,
    reload_failed: Option<String>,
}

impl Summary {
    fn observe(&mut self, states: &[SourceState]) {
        let health = |h: SourceHealth| states.iter().filter(|s| s.health == h).count();
        self.sources = states.len();
        self.failing = health(SourceHealth::Failing);
        self.gone = health(SourceHealth::Gone);
    }

    /// No poll is in flight any more: what they stored is one round.
    fn round_finished(&mut self) {
        self.last_round_new = Some(std::mem::take(&mut self.round_new));
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", count(self.sources, "source"))?;
        match self.failing {
            0 => write!(f, ", none failing")?,
            n => write!(f, ", {n} failing")?,
        }
        if self.gone > 0 {
            write!(f, ", {} gone", self.gone)?;
        }
        match self.last_round_new {
            None => write!(f, "; no poll round finished yet")?,
            Some(n) => write!(f, "; {} new in the last poll round", count(n, "article"))?,
        }
        match self.listen {
            Some(addr) => write!(f, "; serving on {addr}")?,
            None => write!(f, "; not serving HTTP")?,
        }
        if let Some(e) = &self.reload_failed {
            write!(f, "; the last reload failed ({e})")?;
        }
        Ok(())
    }
}

/// "1 source", "16 sources".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The last status line sent to the service manager, and when.
struct StatusLine {
    text: String,
    at: Instant,
}

impl Default for StatusLine {
    fn default() -> StatusLine {
        StatusLine {
            text: String::new(),
            at: Instant::now(),
        }
    }
}

impl StatusLine {
    fn sent(&mut self, text: String) {
        self.text = text;
        self.at = Instant::now();
    }

    fn changed(&self, text: &str) -> bool {
        self.text != text
    }

    fn since(&self) -> Duration {
        self.at.elapsed()
    }
}

/// A query through the store (its lock, its connection), answered within `within`.
async fn database_answers(store: &Store, within: Duration) -> Result<(), String> {
    let store = store.clone();
    match tokio::time::timeout(within, blocking(move || store.article_count())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", within.as_secs_f32())),
    }
}

/// Deletes articles first seen more than `keep_days` ago (`[storage] keep_days`; their keys
/// stay as tombstones) and gives the space back.
async fn prune(store: Store, keep_days: u32, stop: CancellationToken) {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(keep_days));
    match blocking(move || store.prune_until(cutoff, false, &|| stop.is_cancelled())).await {
        Ok(stats) => tracing::info!(
            articles = stats.articles,
            tombstones = stats.tombstones,
            bytes_reclaimed = stats.bytes_reclaimed,
            database_bytes = stats.database_bytes,
            keep_days,
            cutoff = %cutoff.to_rfc3339(),
            interrupted = stats.interrupted,
            "pruned old articles"
        ),
        Err(e) => tracing::error!(error = %e, keep_days, "pruning old articles failed"),
    }
}

/// Notices changed files by polling their modification time and size (robust to editors that
/// replace files, and to network file systems where inotify says nothing), debounced.
struct Watch {
    files: Vec<PathBuf>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    changed_at: Option<Instant>,
}

impl Watch {
    fn new(files: Vec<PathBuf>) -> Watch {
        let stamps = files.iter().map(|f| stamp(f)).collect();
        Watch {
            files,
            stamps,
            changed_at: None,
        }
    }

    /// True once, when files changed and have since stayed the same for [`WATCH_SETTLE`].
    fn settled_change(&mut self) -> bool {
        let now: Vec<_> = self.files.iter().map(|f| stamp(f)).collect();
        if now != self.stamps {
            self.stamps = now;
            self.changed_at = Some(Instant::now());
            return false;
        }
        match self.changed_at {
            Some(t) if t.elapsed() >= WATCH_SETTLE => {
                self.changed_at = None;
                true
            }
            _ => false,
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// SIGHUP, where there is such a thing.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup())
                .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; file changes still reload"))
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// Logs a finished poll; returns its source id and how many new articles it stored.
fn log_joined(
    joined: Result<(String, Result<Report, StoreError>), tokio::task::JoinError>,
    metrics: &Metrics,
) -> Option<(String, usize)> {
    match joined {
        Ok((id, Ok(report))) => {
            match &report.outcome {
                Outcome::Failed(e) if e.is_panic() => metrics.panicked("poll"),
                Outcome::Stored { pages, .. } => {
                    for _ in 0..pages.panicked {
                        metrics.panicked("page");
                    }
                }
                _ => {}
            }
            metrics.fetched(match &report.outcome {
                Outcome::Stored { .. } => "stored",
                Outcome::Empty => "empty",
                Outcome::NotModified => "not_modified",
                Outcome::Gone => "gone",
                Outcome::Failed(_) => "failed",
                Outcome::Cancelled => "cancelled",
            });
            match &report.outcome {
                Outcome::Failed(e) => {
                    tracing::warn!(source = %report.source, error = %e, next_poll = %report.next_poll, "poll failed")
                }
                Outcome::Cancelled => {
                    tracing::info!(source = %report.source, "poll cancelled by shutdown")
                }
                o => {
                    tracing::info!(source = %report.source, outcome = %o, next_poll = %report.next_poll, "polled")
                }
            }
            let new = match &report.outcome {
                Outcome::Stored { stats, .. } => stats.new,
                _ => 0,
            };
            Some((id, new))
        }
        Ok((id, Err(e))) => {
            tracing::error!(source = %id, error = %e, "database error while recording a poll");
            Some((id, 0))
        }
        Err(e) => {
            tracing::error!(error = %e, "poll task failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let check = |s: Summary, expected: &str| assert_eq!(s.to_string(), expected);
        let listen = Some("127.0.0.1:8080".parse().unwrap());
        check(
            Summary {
                sources: 16,
                listen,
                ..Summary::default()
            },
            "16 sources, none failing; no poll round finished yet; serving on 127.0.0.1:8080",
        );
        check(
            Summary {
                sources: 16,
                failing: 3,
                gone: 1,
                last_round_new: Some(12),
                listen,
                ..Summary::default()
            },
            "16 sources, 3 failing, 1 gone; 12 articles new in the last poll round; serving on 127.0.0.1:8080",
        );
        check(
            Summary {
                sources: 1,
                last_round_new: Some(1),
                reload_failed: Reloaded::Invalid(2).failure(),
                ..Summary::default()
            },
            "1 source, none failing; 1 article new in the last poll round; not serving HTTP; the last reload failed (2 problems)",
        );
    }

    #[test]
    fn rounds_end_when_no_poll_is_in_flight() {
        let mut s = Summary::default();
        s.round_new += 3;
        s.round_new += 4;
        s.round_finished();
        assert_eq!((s.last_round_new, s.round_new), (Some(7), 0));
        s.round_finished();
        assert_eq!(s.last_round_new, Some(0));
    }

    #[test]
    fn reload_results() {
        let check = |r: Reloaded, expected: &str| assert_eq!(r.to_string(), expected);
        check(
            Reloaded::Yes {
                sources: 16,
                topics: 1,
            },
            "configuration reloaded: 16 sources, 1 topic",
        );
        check(
            Reloaded::Invalid(3),
            "reload failed: 3 problems; keeping the running configuration",
        );
        check(
            Reloaded::Failed("database is locked".into()),
            "reload failed: database is locked; keeping the running configuration",
        );
        assert_eq!(
            Reloaded::Yes {
                sources: 1,
                topics: 0
            }
            .failure(),
            None
        );
    }
}
