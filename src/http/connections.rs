//! The accept loop: every connection gets a deadline for its request head and a place under
//! the connection cap, so slow or idle clients cannot hold the process's file descriptors.
//!
//! `axum::serve` sets neither: a client that opens a connection and never finishes its request
//! head was held forever, and 1,100 of them from one machine used up the 1,024 descriptors a
//! service gets by default, so `/healthz`, polls and SQLite all failed (issue 10). Here:
//!
//! - hyper's `header_read_timeout` closes a connection that has not sent a complete request
//!   head within `[http] header_timeout` of opening, or of the end of its previous response
//!   (hyper restarts the same timer while a keep-alive connection idles);
//! - at most `cap` connections are served at once. A connection past the cap takes the place
//!   of the one that has waited longest without a request in progress (a slow or silent client,
//!   an idle keep-alive, a client not reading its answer), so a real client is served even when
//!   the cap is full of slow ones; only when every connection is in the middle of a request is
//!   the newcomer refused, with a short `503` and `Retry-After`;
//! - on shutdown, connections waiting for a request are closed at once and those in the middle
//!   of one finish it, then close.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Connections served at once when `[http] max_connections` is not set (and the file limit
/// allows it: see [`connection_cap`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// What a refused client is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: u64 = 5;
/// Refusals being written at once; past this a refused connection is closed without a word
/// (each refusal holds a descriptor while it is written and the client's request drained).
const REFUSALS_AT_ONCE: usize = 32;
/// How long a refusal may take, from the first byte written to the close.
const REFUSAL_GRACE: Duration = Duration::from_secs(2);
/// What a refusal reads (and drops) of the client's request before closing.
const REFUSAL_DRAIN: usize = 64 * 1024;
/// Pause after an accept error, so a lasting one (no descriptor left) does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one log line per this long about refusals, evictions and accept errors.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Limits of the accept loop, from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a complete request head (also the keep-alive idle timeout).
    pub header_timeout: Duration,
}

/// The connection cap in force: `[http] max_connections`, or [`DEFAULT_MAX_CONNECTIONS`], but
/// never more than half the soft file limit, since polls, SQLite, mail and logs need the rest.
pub fn connection_cap(configured: Option<usize>, file_limit: Option<u64>) -> usize {
    let wanted = configured.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let room = file_limit
        .map(|n| usize::try_from(n / 2).unwrap_or(usize::MAX))
        .unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

/// The soft file descriptor limit of this process, when the platform has one.
pub fn file_limit() -> Option<u64> {
    rlimit::Resource::NOFILE.get_soft().ok()
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets requests
/// in progress finish and returns when every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    let stop = CancellationToken::new();
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut tasks = JoinSet::new();
    let mut report = Report::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!(error = %e, "HTTP connection task panicked");
                    }
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if is_out_of_descriptors(&e) {
                    // Make room as a newcomer past the cap would: the longest waiter goes.
                    lock(&table).evict_longest_waiting();
                }
                report.accept_error(&e);
                if !is_per_connection(&e) {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let admitted = lock(&table).admit(limits.max_connections);
        match admitted {
            Admission::Admitted { id, close, evicted } => {
                if evicted {
                    report.evicted += 1;
                }
                tasks.spawn(connection(
                    stream,
                    router.clone(),
                    limits.header_timeout,
                    Registration {
                        table: table.clone(),
                        id,
                    },
                    close,
                    stop.clone(),
                ));
            }
            Admission::Refused => {
                report.refused += 1;
                refuse(stream, &refusals);
            }
        }
        report.flush(limits.max_connections);
    }
    drop(listener);
    stop.cancel();
    lock(&table).close_waiting();
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                tracing::error!(error = %e, "HTTP connection task panicked");
            }
        }
    }
    Ok(())
}

/// Serves one connection until it ends, is evicted (`close`) or the server stops (`stop`).
async fn connection(
    stream: TcpStream,
    router: Router,
    header_timeout: Duration,
    registration: Registration,
    close: CancellationToken,
    stop: CancellationToken,
) {
    let registration = Arc::new(registration);
    let marks = registration.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let router = router.clone();
        let busy = marks.busy();
        async move {
            let response = tower::ServiceExt::oneshot(router, req).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "HTTP connection ended");
                }
                break;
            }
            _ = close.cancelled() => break,
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection past the cap with a short 503 and closes it, in the background.
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let body = "too many connections; try again in a few seconds\n";
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: {RETRY_AFTER_SECS}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let answer = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            // A staged close (RFC 9112 §9.6): half-close, then read what the client sent, so
            // that the close is not a reset that could destroy the answer before it is read.
            stream.shutdown().await?;
            let mut buf = [0u8; 4096];
            let mut drained = 0;
            while drained < REFUSAL_DRAIN {
                match stream.read(&mut buf).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<(), io::Error>(())
        };
        let _ = tokio::time::timeout(REFUSAL_GRACE, answer).await;
    });
}

/// The connections being served, with what each is doing.
#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

struct Entry {
    /// Since when it has been waiting for a request head (since it opened, or since its last
    /// response); None while a request is being handled.
    waiting_since: Option<Instant>,
    /// Cancelled to close it.
    close: CancellationToken,
}

enum Admission {
    Admitted {
        id: u64,
        close: CancellationToken,
        /// Whether another connection was closed to make room.
        evicted: bool,
    },
    Refused,
}

impl Table {
    fn admit(&mut self, cap: usize) -> Admission {
        let mut evicted = false;
        if self.open.len() >= cap {
            if !self.evict_longest_waiting() {
                return Admission::Refused;
            }
            evicted = true;
        }
        let id = self.next_id;
        self.next_id += 1;
        let close = CancellationToken::new();
        self.open.insert(
            id,
            Entry {
                waiting_since: Some(Instant::now()),
                close: close.clone(),
            },
        );
        Admission::Admitted { id, close, evicted }
    }

    /// Closes the connection that has waited longest for a request; false when every
    /// connection is in the middle of one.
    fn evict_longest_waiting(&mut self) -> bool {
        let longest = self
            .open
            .iter()
            .filter_map(|(id, e)| e.waiting_since.map(|t| (t, *id)))
            .min();
        let Some((_, id)) = longest else {
            return false;
        };
        if let Some(e) = self.open.remove(&id) {
            e.close.cancel();
        }
        true
    }

    /// At shutdown: closes every connection not in the middle of a request.
    fn close_waiting(&mut self) {
        self.open.retain(|_, e| {
            if e.waiting_since.is_some() {
                e.close.cancel();
                false
            } else {
                true
            }
        });
    }

    fn set_waiting(&mut self, id: u64, since: Option<Instant>) {
        if let Some(e) = self.open.get_mut(&id) {
            e.waiting_since = since;
        }
    }
}

fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    // The table stays consistent whatever panicked while holding it: every change is one map
    // operation.
    table.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection's place in the table, given up when its task ends (or unwinds).
struct Registration {
    table: Arc<Mutex<Table>>,
    id: u64,
}

impl Registration {
    /// Marks the connection as handling a request until the guard is dropped.
    fn busy(self: &Arc<Self>) -> Busy {
        lock(&self.table).set_waiting(self.id, None);
        Busy(self.clone())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.table).open.remove(&self.id);
    }
}

/// A request in progress on a connection; when it ends, the connection waits again.
struct Busy(Arc<Registration>);

impl Drop for Busy {
    fn drop(&mut self) {
        lock(&self.0.table).set_waiting(self.0.id, Some(Instant::now()));
    }
}

/// Errors of `accept` that concern only the connection being accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// EMFILE or ENFILE: no descriptor for the new connection.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    // 24 is EMFILE and 23 ENFILE on Linux, the BSDs and macOS.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Counts of what the accept loop did about load, logged at most once per [`REPORT_EVERY`]
/// so that a flood of connections is not also a flood of log lines.
#[derive(Default)]
struct Report {
    evicted: u64,
    refused: u64,
    accept_errors: u64,
    last_error: Option<String>,
    last: Option<Instant>,
}

impl Report {
    fn accept_error(&mut self, e: &io::Error) {
        self.accept_errors += 1;
        self.last_error = Some(e.to_string());
    }

    fn flush(&mut self, cap: usize) {
        if self.evicted + self.refused + self.accept_errors == 0 {
            return;
        }
        if self.last.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        tracing::warn!(
            max_connections = cap,
            closed_to_make_room = self.evicted,
            refused = self.refused,
            accept_errors = self.accept_errors,
            last_accept_error = self.last_error.as_deref().unwrap_or(""),
            "HTTP connection cap reached ([http] max_connections)"
        );
        *self = Report {
            last: Some(Instant::now()),
            ..Report::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_half_the_file_limit() {
        let check = |configured, limit, expected| {
            assert_eq!(
                connection_cap(configured, limit),
                expected,
                "{configured:?} {limit:?}"
            )
        };
        check(None, Some(65_536), DEFAULT_MAX_CONNECTIONS);
        check(None, Some(1024), 512);
        check(Some(5000), Some(65_536), 5000);
        check(Some(5000), Some(4096), 2048);
        check(Some(10), None, 10);
        check(None, Some(1), 1);
    }

    #[test]
    fn the_longest_waiting_connection_makes_room() {
        let mut t = Table::default();
        let ids: Vec<u64> = (0..3)
            .map(|_| match t.admit(3) {
                Admission::Admitted { id, evicted, .. } => {
                    assert!(!evicted);
                    id
                }
                Admission::Refused => panic!("refused under the cap"),
            })
            .collect();
        // The oldest is handling a request: the next oldest goes.
        t.set_waiting(ids[0], None);
        let Admission::Admitted { evicted: true, .. } = t.admit(3) else {
            panic!("not admitted at the cap with connections waiting")
        };
        assert!(t.open.contains_key(&ids[0]));
        assert!(!t.open.contains_key(&ids[1]));
        assert!(t.open.contains_key(&ids[2]));
        // All busy: refused.
        let busy: Vec<u64> = t.open.keys().copied().collect();
        for id in busy {
            t.set_waiting(id, None);
        }
        assert!(matches!(t.admit(3), Admission::Refused));
        assert_eq!(t.open.len(), 3);
    }
}
