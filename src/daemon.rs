//! The scheduler: polls every source when it is due, until told to stop.
//!
//! Each source's next poll time lives in the database (set by the poll that just finished), so a
//! restart picks up where the last run left off and the loop itself holds no schedule state.
//! Polls run as tasks owned by one `JoinSet`; shutdown cancels fetches in flight, then waits for
//! the store transactions in flight (they are never interrupted), then returns.

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
use crate::ingest::{self, Outcome, Report};
use crate::metrics::Metrics;
use crate::postman::Postman;
use crate::store::{SourceHealth, SourceSpec, SourceState, Store, StoreError};

/// How long shutdown waits for work in flight before giving up on it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// The loop wakes at least this often, even when nothing is due.
const MAX_SLEEP: Duration = Duration::from_secs(60);

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

    /// Polls one source now (gone sources are skipped) and records the result.
    pub async fn poll(&self, id: &str, cancel: &CancellationToken) -> Result<Report, StoreError> {
        let Some(source) = self.config.sources.iter().find(|s| s.id == id) else {
            return Ok(Report {
                source: id.to_string(),
                outcome: Outcome::Failed("no such source in the config".into()),
                next_poll: Utc::now(),
            });
        };
        let state = self.states().await?.into_iter().find(|s| s.id == id);
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
            set.spawn(async move { me.poll(&id, &cancel).await });
        }
        let mut reports = Vec::new();
        while let Some(joined) = set.join_next().await {
            let report = joined.map_err(|e| StoreError::Task(e.to_string()))??;
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
/// (see [`crate::http`]); the server follows reloads and stops with the daemon.
pub async fn run(
    mut ingestor: Ingestor,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    tracing::info!(
        sources = ingestor.config.sources.len(),
        database = %ingestor.store.path().display(),
        "bantin started"
    );
    let cancel = CancellationToken::new();
    let mut tasks: JoinSet<(String, Result<Report, StoreError>)> = JoinSet::new();
    let mut running: HashSet<String> = HashSet::new();
    tokio::pin!(shutdown);
    let mut watch = Watch::new(watched_files(&ingestor.config));
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
                if let Some(id) = log_joined(joined, &metrics) {
                    running.remove(&id);
                }
                false
            }
            _ = tokio::time::sleep(sleep) => false,
            _ = digest_tick.tick() => {
                // One digest round at a time; a slow SMTP server delays the next, never doubles it.
                if digest_task.as_ref().is_none_or(|t| t.is_finished()) {
                    if let Some(p) = postman.clone() {
                        digest_task = Some(tokio::spawn(async move {
                            match p.round(Utc::now()).await {
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
        };
        if reload_now {
            ingestor = reload(ingestor).await;
            watch = Watch::new(watched_files(&ingestor.config));
            postman = start_postman(&ingestor);
            if let Some((app, _)) = &server {
                app.set_config(ingestor.config.clone());
                app.set_secret(postman.as_ref().map(|p| p.secret().clone()));
            }
        }
    }

    tracing::info!(in_flight = tasks.len(), "shutting down");
    cancel.cancel();
    http_stop.cancel();
    let drain = async {
        while let Some(joined) = tasks.join_next().await {
            log_joined(joined, &metrics);
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            "work still in flight after {}s; leaving it",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    if let Some(task) = digest_task {
        // The mail in flight is finished (or given up on) before exit.
        if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
            tracing::warn!("digest delivery still in flight at shutdown; the outbox keeps it for the next start");
        }
    }
    if let Some((_, handle)) = server {
        match tokio::time::timeout(Duration::from_secs(2), handle).await {
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

/// Reads the configuration again. On success the new config (sources, topics, poll settings)
/// takes over on the same database, and stored articles are re-matched if the topics changed; on
/// failure every problem is logged and the running config stays.
async fn reload(current: Ingestor) -> Ingestor {
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
            return current;
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running configuration");
            return current;
        }
    };
    let (sources, topics) = (config.sources.len(), config.topics.len());
    match Ingestor::with_store(config, current.store.clone()).await {
        Ok(next) => {
            tracing::info!(sources, topics, "configuration reloaded");
            next
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running configuration");
            current
        }
    }
}

/// The main config file and the topics file (where it would be, even before it exists).
fn watched_files(config: &Config) -> Vec<PathBuf> {
    let mut files = vec![config.path.clone()];
    files.push(config.topics_path.clone().unwrap_or_else(|| {
        config
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .join("topics.toml")
    }));
    files
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

/// Logs a finished poll; returns its source id.
fn log_joined(
    joined: Result<(String, Result<Report, StoreError>), tokio::task::JoinError>,
    metrics: &Metrics,
) -> Option<String> {
    match joined {
        Ok((id, Ok(report))) => {
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
            Some(id)
        }
        Ok((id, Err(e))) => {
            tracing::error!(source = %id, error = %e, "database error while recording a poll");
            Some(id)
        }
        Err(e) => {
            tracing::error!(error = %e, "poll task failed");
            None
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}
