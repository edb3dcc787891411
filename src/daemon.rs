//! The scheduler: polls every source when it is due, until told to stop.
//!
//! Each source's next poll time lives in the database (set by the poll that just finished), so a
//! restart picks up where the last run left off; the loop keeps a copy in memory (`agenda`),
//! taken from each poll's report and loaded again from the rows every few seconds, and wakes
//! for the next source due, so its cost does not grow with the number of sources squared.
//! Polls run as tasks owned by one `JoinSet`; shutdown cancels fetches in flight, then waits for
//! the store transactions in flight (they are never interrupted), then returns.
//!
//! Under systemd ([`crate::notify`]) the loop reports `READY=1` once the config, the database and
//! the HTTP listener are up and the scheduler has turned once; a one-line `STATUS=` when the
//! summary changes; `WATCHDOG=1` only from the loop itself and only after the database answered,
//! so a stuck loop or a stuck database gets the service restarted; reload and stop as they
//! happen. The loop also prunes old articles: at start, then daily.
//!
//! Here are the public entry points ([`run`], [`Ingestor`]); `service` is the loop itself, one
//! step per event; `agenda` is when each source is due; `reload` reads the configuration again
//! (SIGHUP, changed files); `status` writes the service manager's status line.

mod agenda;
mod reload;
mod service;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::fetch::{FetchError, Fetcher};
use crate::ingest::{self, Outcome, PollError, Report};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::{blocking, SourceHealth, SourceSpec, SourceState, Store, StoreError};
use agenda::Next;
use service::Daemon;

/// How long shutdown waits for work in flight before giving up on it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Client(#[source] FetchError),
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
        let fetcher = Fetcher::new(&config.poll).map_err(DaemonError::Client)?;
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
        // A closed semaphore admits no more polls: the poll is cancelled, as at shutdown, and
        // its source stays due. Nothing closes it today; it is not the store's failure.
        let Ok(_slot) = self.slots.acquire().await else {
            return Ok(Report {
                source: id.to_string(),
                outcome: Outcome::Cancelled,
                next_poll: Utc::now(),
            });
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
            Err(panic) => ingest::record_panic(&self.store, &self.config, source, panic).await,
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
                Err(e) => return Err(StoreError::Task(e)),
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
    ingestor: Ingestor,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()>,
    notifier: Notifier,
) -> Result<(), DaemonError> {
    tracing::info!(
        sources = ingestor.config.sources.len(),
        database = %ingestor.store.path().display(),
        "bantin started"
    );
    Daemon::start(ingestor, listener, notifier)
        .run(shutdown)
        .await
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

/// Logs a finished poll; returns its source id, how many new articles it stored and when the
/// source is due again.
fn log_joined(
    joined: Result<(String, Result<Report, StoreError>), tokio::task::JoinError>,
    metrics: &Metrics,
) -> Option<(String, usize, Next)> {
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
            Some((id, new, Next::of(&report)))
        }
        Ok((id, Err(e))) => {
            tracing::error!(source = %id, error = %e, "database error while recording a poll");
            Some((id, 0, Next::Unknown))
        }
        Err(e) => {
            tracing::error!(error = %e, "poll task failed");
            None
        }
    }
}
