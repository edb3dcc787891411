//! The running daemon, step by step. [`Daemon`] owns everything that lives from start to
//! shutdown: the polls in flight, the ticks, the HTTP server, the postman, the status line.
//! [`Daemon::start`] builds it, [`Daemon::run`] is the loop, which only dispatches each event
//! to the step named for it, and [`Daemon::shut_down`] drains what is in flight under one
//! deadline.
//!
//! Invariants: a source has at most one poll in flight (the [`Agenda`] keeps it); one digest
//! round, one webhook round and one prune at a time; the watchdog is pinged only from the loop, and only after the database answered; the
//! store is reached only through [`blocking`], so no step blocks the runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::agenda::Agenda;
use super::reload::{self, Hangup, Watch, WATCH_INTERVAL};
use super::status::{StatusLine, Summary};
use super::{log_joined, DaemonError, Ingestor, SHUTDOWN_GRACE};
use crate::alerts;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::Report;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::postman::Postman;
use crate::store::{blocking, Store, StoreError};
use crate::webhook::Webhooks;

/// The loop wakes at least this often, even when nothing is due.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How often the sources' rows are read again into the agenda (and the status line's health
/// counts): what another process wrote there (`bantin fetch` beside the daemon) is followed
/// within this. One pass over the `sources` table, whatever the number of articles.
const AGENDA_INTERVAL: Duration = Duration::from_secs(5);
/// How often the service manager's status line is brought up to date (when it changed). A
/// line stays at least half this long, so a reload's result can be read before the summary
/// comes back.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// Old articles are pruned at start, then this often.
const PRUNE_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often digest windows and the outbox are looked at.
const DIGEST_INTERVAL: Duration = Duration::from_secs(20);
/// How often the webhook outbox is looked at: a chat bot hears of an article within this of
/// the poll that found it.
const WEBHOOK_INTERVAL: Duration = Duration::from_secs(5);

/// A poll task's result: its source, and what the poll recorded.
type PollTask = (String, Result<Report, StoreError>);

/// The daemon between two turns of its loop.
pub(super) struct Daemon {
    ingestor: Ingestor,
    notifier: Notifier,
    /// The service manager's watchdog interval, when it asked for pings.
    watchdog: Option<Duration>,
    metrics: Arc<Metrics>,
    summary: Summary,
    status: StatusLine,
    /// Whether the service manager has been told that bantin is up.
    ready: bool,
    ticks: Ticks,
    polls: JoinSet<PollTask>,
    /// When each source is due, and which are being polled.
    agenda: Agenda,
    /// Cancels fetches in flight (and stops a prune between batches) at shutdown.
    cancel: CancellationToken,
    watch: Watch,
    hangup: Hangup,
    /// None while mail cannot be set up ([`start_postman`]).
    postman: Option<Postman>,
    digest_task: Option<JoinHandle<()>>,
    /// None when the HTTP client cannot be set up ([`start_webhooks`]).
    webhooks: Option<Webhooks>,
    webhook_task: Option<JoinHandle<()>>,
    prune_task: Option<JoinHandle<()>>,
    server: Option<Server>,
}

/// The periodic events. A tick missed while the loop was busy is taken late, not repeated.
struct Ticks {
    agenda: Interval,
    watchdog: Interval,
    status: Interval,
    prune: Interval,
    watch: Interval,
    digest: Interval,
    webhook: Interval,
}

/// The HTTP server: the state it serves (which follows reloads), its task, and its stop.
struct Server {
    app: AppState,
    task: JoinHandle<std::io::Result<()>>,
    stop: CancellationToken,
}

impl Daemon {
    /// Everything the loop needs: the ticks (each fires at once, then every interval), the
    /// SIGHUP handler, the config file watch, the postman, and the HTTP server on `listener`.
    pub(super) fn start(
        ingestor: Ingestor,
        listener: Option<tokio::net::TcpListener>,
        notifier: Notifier,
    ) -> Daemon {
        let summary = Summary {
            listen: listener.as_ref().and_then(|l| l.local_addr().ok()),
            ..Summary::default()
        };
        let watchdog = notifier.watchdog_interval();
        let ticks = Ticks {
            agenda: every(AGENDA_INTERVAL),
            watchdog: every(watchdog.unwrap_or(MAX_SLEEP)),
            status: every(STATUS_INTERVAL),
            prune: every(PRUNE_INTERVAL),
            watch: every(WATCH_INTERVAL),
            digest: every(DIGEST_INTERVAL),
            webhook: every(WEBHOOK_INTERVAL),
        };
        let watch = Watch::new(ingestor.config.files());
        let hangup = Hangup::new();
        let postman = start_postman(&ingestor);
        let webhooks = start_webhooks(&ingestor);
        let metrics = Arc::new(Metrics::default());
        let server = listener.map(|listener| Server::start(&ingestor, listener, metrics.clone()));
        if let (Some(server), Some(p)) = (&server, &postman) {
            server.app.set_secret(Some(p.secret().clone()));
        }
        Daemon {
            ingestor,
            notifier,
            watchdog,
            metrics,
            summary,
            status: StatusLine::default(),
            ready: false,
            ticks,
            polls: JoinSet::new(),
            agenda: Agenda::default(),
            cancel: CancellationToken::new(),
            watch,
            hangup,
            postman,
            digest_task: None,
            webhooks,
            webhook_task: None,
            prune_task: None,
            server,
        }
    }

    /// The loop, until `shutdown` resolves: each turn spawns the polls that are due, then
    /// handles the first event to come (the agenda's tick loads it, and its first tick comes
    /// before readiness). Only a database that cannot be read ends it early, with that error.
    pub(super) async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DaemonError> {
        tokio::pin!(shutdown);
        self.ticks.agenda.tick().await;
        self.load_agenda().await?;
        loop {
            // A turn began: the loop is alive (`/healthz` reads the beat).
            self.metrics.beat(Utc::now().timestamp());
            if !self.ready {
                if stopped_already(&mut shutdown).await {
                    break;
                }
                self.announce_ready();
            }
            let sleep = self.spawn_due_polls();
            tokio::select! {
                _ = &mut shutdown => break,
                Some(joined) = self.polls.join_next(), if !self.polls.is_empty() => {
                    self.poll_finished(joined)
                }
                // The next poll is due (or MAX_SLEEP passed): the next turn spawns it.
                _ = tokio::time::sleep(sleep) => {}
                _ = self.ticks.agenda.tick() => self.load_agenda().await?,
                _ = self.ticks.digest.tick() => self.digest_round(),
                _ = self.ticks.webhook.tick() => self.webhook_round(),
                _ = self.hangup.recv() => self.hangup().await?,
                _ = self.ticks.watch.tick() => self.check_config_files().await?,
                _ = self.ticks.watchdog.tick(), if self.watchdog.is_some() => self.watchdog().await,
                _ = self.ticks.status.tick(), if self.notifier.is_enabled() => self.update_status(),
                _ = self.ticks.prune.tick() => self.prune(),
            }
        }
        self.shut_down().await;
        Ok(())
    }

    /// Reads the configured sources' poll times into the agenda, and their health into the
    /// summary.
    async fn load_agenda(&mut self) -> Result<(), StoreError> {
        let store = self.ingestor.store.clone();
        let ids: Vec<String> = self
            .ingestor
            .config
            .sources
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let rows = blocking(move || store.poll_times(&ids)).await?;
        self.agenda.load(&rows);
        self.summary.observe(rows.iter().map(|r| r.health));
        Ok(())
    }

    /// Config, database and listener are up, and the scheduler has turned once (so /healthz
    /// says ok from now on): the service manager is told, with the first status line.
    fn announce_ready(&mut self) {
        self.ready = true;
        let line = self.summary.to_string();
        self.notifier.ready(&line);
        self.status.sent(line);
        tracing::info!(
            watchdog = ?self.watchdog,
            notify = self.notifier.is_enabled(),
            "ready"
        );
    }

    /// Spawns a poll of each source that is due (the agenda holds neither gone sources nor
    /// those in flight); returns how long until the next one is due (at most [`MAX_SLEEP`]).
    fn spawn_due_polls(&mut self) -> Duration {
        let now = Utc::now();
        for id in self.agenda.take_due(now) {
            let me = self.ingestor.clone();
            let cancel = self.cancel.clone();
            self.polls.spawn(async move {
                let r = me.poll(&id, &cancel).await;
                (id, r)
            });
        }
        self.agenda
            .next_due()
            .map_or(MAX_SLEEP, |t| (t - now).to_std().unwrap_or_default())
            .min(MAX_SLEEP)
    }

    /// A poll finished: it is logged and counted, and its source waits for its next poll.
    /// When none is left in flight, the round is over.
    fn poll_finished(&mut self, joined: Result<PollTask, tokio::task::JoinError>) {
        if let Some((id, new, next)) = log_joined(joined, &self.metrics) {
            self.agenda.finished(&id, next);
            self.summary.round_new += new;
        }
        if self.polls.is_empty() {
            self.summary.round_finished();
        }
    }

    /// Starts a digest round: the admin alerts worked out and queued, windows closed, the
    /// outbox sent. One round at a time; a slow SMTP server delays the next, never doubles it.
    fn digest_round(&mut self) {
        if self.digest_task.as_ref().is_none_or(|t| t.is_finished()) {
            let (config, store) = (self.ingestor.config.clone(), self.ingestor.store.clone());
            let postman = self.postman.clone();
            let metrics = self.metrics.clone();
            self.digest_task = Some(tokio::spawn(async move {
                say_alerts(config, store).await;
                if let Some(p) = postman {
                    send_digests(p, metrics).await;
                }
            }));
        }
    }

    /// Starts a webhook round: the due rows of the webhook outbox delivered. One round at a
    /// time; a slow receiver delays the next, never doubles it.
    fn webhook_round(&mut self) {
        if self.webhook_task.as_ref().is_none_or(|t| t.is_finished()) {
            if let Some(w) = self.webhooks.clone() {
                self.webhook_task = Some(tokio::spawn(deliver_webhooks(w)));
            }
        }
    }

    /// SIGHUP: the configuration is read again.
    async fn hangup(&mut self) -> Result<(), StoreError> {
        tracing::info!("SIGHUP: reloading the configuration");
        self.reload().await
    }

    /// Looks at the config files; once a change has settled, the configuration is read again.
    async fn check_config_files(&mut self) -> Result<(), StoreError> {
        if self.watch.settled_change() {
            tracing::info!("configuration files changed: reloading");
            self.reload().await?;
        }
        Ok(())
    }

    /// Reads the configuration again and tells the service manager how it went. What depends
    /// on the config follows the new one: the file watch, the postman, the HTTP server, and
    /// the agenda (sources added, dropped or reset).
    async fn reload(&mut self) -> Result<(), StoreError> {
        self.notifier.reloading();
        let (next, outcome) = reload::reload(self.ingestor.clone()).await;
        self.ingestor = next;
        self.summary.reload_failed = outcome.failure();
        let line = outcome.to_string();
        self.notifier.reloaded(&line);
        self.status.sent(line);
        self.watch = Watch::new(self.ingestor.config.files());
        self.postman = start_postman(&self.ingestor);
        self.webhooks = start_webhooks(&self.ingestor);
        if let Some(server) = &self.server {
            server.app.set_config(self.ingestor.config.clone());
            server
                .app
                .set_secret(self.postman.as_ref().map(|p| p.secret().clone()));
        }
        self.load_agenda().await
    }

    /// Pings the service manager's watchdog. From the loop itself, and only when the database
    /// answers: a loop stuck elsewhere, or a database that hangs, stops the pings and systemd
    /// restarts us.
    async fn watchdog(&self) {
        match database_answers(&self.ingestor.store, self.watchdog.unwrap_or(MAX_SLEEP)).await {
            Ok(()) => self.notifier.watchdog(),
            Err(e) => {
                tracing::warn!(error = %e, "the database did not answer; watchdog ping withheld")
            }
        }
    }

    /// Sends the status line if the summary changed and the last line has been up long enough.
    fn update_status(&mut self) {
        if self.status.since() >= STATUS_INTERVAL / 2 {
            let line = self.summary.to_string();
            if self.status.changed(&line) {
                self.notifier.status(&line);
                self.status.sent(line);
            }
        }
    }

    /// Starts pruning old articles. One prune at a time; it runs beside polling (each is its
    /// own transaction).
    fn prune(&mut self) {
        if self.prune_task.as_ref().is_none_or(|t| t.is_finished()) {
            self.prune_task = Some(tokio::spawn(prune_old_articles(
                self.ingestor.store.clone(),
                self.ingestor.config.storage.keep_days,
                self.cancel.clone(),
            )));
        }
    }

    /// Stops: fetches in flight are cancelled and the HTTP server told to stop; then polls,
    /// mail and pruning wind down together under one deadline, so the process is gone within
    /// [`SHUTDOWN_GRACE`] (plus a second for the HTTP server) whatever is in flight.
    async fn shut_down(mut self) {
        tracing::info!(in_flight = self.polls.len(), "shutting down");
        self.notifier.stopping();
        self.cancel.cancel();
        if let Some(server) = &self.server {
            server.stop.cancel();
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let drain = async {
            while let Some(joined) = self.polls.join_next().await {
                log_joined(joined, &self.metrics);
            }
        };
        if tokio::time::timeout_at(deadline, drain).await.is_err() {
            tracing::warn!(
                "work still in flight after {}s; leaving it",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        if let Some(task) = self.digest_task {
            // The mail in flight is finished (or given up on) before exit.
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("digest delivery still in flight at shutdown; the outbox keeps it for the next start");
            }
        }
        if let Some(task) = self.webhook_task {
            // Each row is recorded as its answer comes; one cut short is sent again at the next
            // start, with the same delivery id.
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("webhook delivery still in flight at shutdown; the outbox keeps it for the next start");
            }
        }
        if let Some(task) = self.prune_task {
            // A prune commits batch by batch on a blocking thread; whatever is left then is cut
            // short at exit, between batches or by a rollback, and done at the next start.
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("pruning still in flight at shutdown; leaving it");
            }
        }
        if let Some(server) = self.server {
            let http_deadline = (deadline + Duration::from_secs(1))
                .min(tokio::time::Instant::now() + Duration::from_secs(2));
            match tokio::time::timeout_at(http_deadline, server.task).await {
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server failed"),
                Err(_) => tracing::warn!("HTTP connections still open at shutdown; closing them"),
                _ => {}
            }
        }
        tracing::info!("bantin stopped");
    }
}

impl Server {
    /// Serves feeds, the index page, health and metrics on `listener` until stopped.
    fn start(
        ingestor: &Ingestor,
        listener: tokio::net::TcpListener,
        metrics: Arc<Metrics>,
    ) -> Server {
        let app = AppState::new(ingestor.config.clone(), ingestor.store.clone(), metrics);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(listen = %addr, public_url = %ingestor.config.http.public_url, "serving feeds");
        }
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(http::serve(listener, app.clone(), async move {
            stopped.cancelled().await
        }));
        Server { app, task, stop }
    }
}

/// An interval whose first tick is now.
fn every(period: Duration) -> Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

/// True when `shutdown` has already resolved. Polled once before readiness is announced, so a
/// signal handler it installs when first polled (the CLI's does) is in place before anyone is
/// told that bantin is up, and stops it cleanly from then on.
async fn stopped_already(shutdown: &mut Pin<&mut impl Future<Output = ()>>) -> bool {
    tokio::select! {
        biased;
        _ = shutdown => true,
        _ = std::future::ready(()) => false,
    }
}

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

/// One round of admin alerts ([`alerts::round`]); a failure is logged and the next round tries
/// again.
async fn say_alerts(config: Arc<Config>, store: Store) {
    let said = tokio::task::spawn_blocking(move || alerts::round(&config, &store, Utc::now()));
    match said.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "admin alerts could not be worked out"),
        Err(e) => tracing::error!(error = %e, "working out admin alerts panicked"),
    }
}

/// The webhooks of this configuration; None (logged) when the HTTP client cannot be set up.
/// Built even when no webhook is configured: the rows queued for one removed since are
/// cancelled.
fn start_webhooks(ingestor: &Ingestor) -> Option<Webhooks> {
    let endpoints = crate::webhook::endpoints(&ingestor.config);
    match Webhooks::new(ingestor.store.clone(), endpoints) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, "webhooks are off");
            None
        }
    }
}

/// One webhook round, logged.
async fn deliver_webhooks(webhooks: Webhooks) {
    match webhooks.deliver_due(Utc::now()).await {
        Ok(r) if r.delivered + r.retrying + r.failed + r.cancelled > 0 => tracing::info!(
            delivered = r.delivered,
            retrying = r.retrying,
            failed = r.failed,
            cancelled = r.cancelled,
            "webhooks"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "webhook round failed"),
    }
}

/// One digest round, logged and its panics counted.
async fn send_digests(postman: Postman, metrics: Arc<Metrics>) {
    let round = postman.round(Utc::now()).await;
    if let Ok(r) = &round {
        for _ in 0..r.panicked {
            metrics.panicked("digest");
        }
    }
    match round {
        Ok(r) if r.composed + r.sent + r.retrying + r.failed > 0 => {
            tracing::info!(
                composed = r.composed,
                sent = r.sent,
                retrying = r.retrying,
                failed = r.failed,
                "digests"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "digest round failed"),
    }
}

/// Why the database did not answer the watchdog's query.
#[derive(Debug, thiserror::Error)]
enum NoAnswer {
    #[error(transparent)]
    Failed(StoreError),
    #[error("no answer within {}s", .0.as_secs_f32())]
    TimedOut(Duration),
}

/// A query through the store (its lock, its connection), answered within `within`.
async fn database_answers(store: &Store, within: Duration) -> Result<(), NoAnswer> {
    let store = store.clone();
    match tokio::time::timeout(within, blocking(move || store.article_count())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(NoAnswer::Failed(e)),
        Err(_) => Err(NoAnswer::TimedOut(within)),
    }
}

/// Deletes articles first seen more than `keep_days` ago (`[storage] keep_days`; their keys
/// stay as tombstones) and gives the space back.
async fn prune_old_articles(store: Store, keep_days: u32, stop: CancellationToken) {
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
