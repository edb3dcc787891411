//! The scheduler: polls every source when it is due, until told to stop.
//!
//! Each source's next poll time lives in the database (set by the poll that just finished), so a
//! restart picks up where the last run left off and the loop itself holds no schedule state.
//! Polls run as tasks owned by one `JoinSet`; shutdown cancels fetches in flight, then waits for
//! the store transactions in flight (they are never interrupted), then returns.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::fetch::Fetcher;
use crate::ingest::{self, Outcome, Report};
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
    /// Opens the database (creating it), records the configured sources and builds the client.
    pub async fn open(config: Config) -> Result<Ingestor, DaemonError> {
        let path = config.storage.path.clone();
        let specs: Vec<SourceSpec> = config
            .sources
            .iter()
            .map(|s| SourceSpec {
                id: s.id.clone(),
                url: s.url.to_string(),
            })
            .collect();
        let store = blocking(move || {
            let store = Store::open(&path)?;
            store.sync_sources(&specs)?;
            Ok(store)
        })
        .await?;
        let fetcher = Fetcher::new(&config.poll).map_err(|e| DaemonError::Client(e.to_string()))?;
        Ok(Ingestor {
            config: Arc::new(config),
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
            &self.config.poll,
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
pub async fn run(
    ingestor: Ingestor,
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

    loop {
        let states = ingestor.states().await?;
        let now = Utc::now();
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
        tokio::select! {
            _ = &mut shutdown => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Some(id) = log_joined(joined) {
                    running.remove(&id);
                }
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    tracing::info!(in_flight = tasks.len(), "shutting down");
    cancel.cancel();
    let drain = async {
        while let Some(joined) = tasks.join_next().await {
            log_joined(joined);
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            "work still in flight after {}s; leaving it",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    tracing::info!("bantin stopped");
    Ok(())
}

/// Logs a finished poll; returns its source id.
fn log_joined(
    joined: Result<(String, Result<Report, StoreError>), tokio::task::JoinError>,
) -> Option<String> {
    match joined {
        Ok((id, Ok(report))) => {
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
