//! Reloading the configuration: on SIGHUP ([`Hangup`]) or when the config files change
//! ([`Watch`], debounced), the files are read again; a valid configuration takes over on the
//! same database, an invalid one is logged problem by problem and the running one stays.
//! [`Reloaded`] is how it went, as the status line says it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::status::count;
use super::Ingestor;
use crate::config;

/// How often config files are checked for changes.
pub(super) const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// A change is acted on once the files have stayed the same this long (editors write in steps).
const WATCH_SETTLE: Duration = Duration::from_millis(700);

/// How a reload went, as the service manager's status line says it.
pub(super) enum Reloaded {
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
    pub(super) fn failure(&self) -> Option<String> {
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
pub(super) async fn reload(current: Ingestor) -> (Ingestor, Reloaded) {
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

/// Notices changed files by polling their modification time and size (robust to editors that
/// replace files, and to network file systems where inotify says nothing), debounced.
pub(super) struct Watch {
    files: Vec<PathBuf>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    changed_at: Option<Instant>,
}

impl Watch {
    pub(super) fn new(files: Vec<PathBuf>) -> Watch {
        let stamps = files.iter().map(|f| stamp(f)).collect();
        Watch {
            files,
            stamps,
            changed_at: None,
        }
    }

    /// True once, when files changed and have since stayed the same for [`WATCH_SETTLE`].
    pub(super) fn settled_change(&mut self) -> bool {
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
pub(super) struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    pub(super) fn new() -> Hangup {
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

    pub(super) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
