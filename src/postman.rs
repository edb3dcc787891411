//! Digests, end to end: closes subscribers' windows when their schedule says so, composes the
//! digest into the outbox, and delivers what the outbox holds, retrying transient failures.
//!
//! Exactly once: a digest is recorded in the outbox (with its Message-ID) in the same
//! transaction that closes its window, before any attempt to send it; sending marks the row sent
//! only after the server accepted it. A crash between the two resends the same message with the
//! same Message-ID. The one window that cannot be closed: the server accepted the message and
//! the process died before recording it — then the subscriber gets it twice.
//!
//! The outbox keeps a message as what its bytes are built from (format 3): its
//! headers, its MIME boundary, and its bodies as the subscriber's own values between the
//! literals of its window's digest, which are stored once per window ([`SharedPart`]). Sending
//! builds it ([`mail::Built::with_boundary`]): the same bytes at every attempt, and the bytes
//! of the message built from the whole digest. Messages queued in the formats before (2: the
//! built bytes; 1: the JSON of the parts) still send.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest as _, Sha256};

use crate::config::{Config, CredentialError, MailTransport, SmtpSecurity, Subscriber};
use crate::digest::{
    Body, DigestArticle, DigestInput, DigestTopic, Frame, Literals, Split, TemplateError, Templates,
};
use crate::guard;
use crate::mail::{self, MailError, Mailer, Outgoing};
use crate::media;
use crate::publish::Format;
use crate::site::paths::{self, Links};
use crate::site::Scope;
use crate::store::{
    blocking, Closed, NewDigest, OutboxEntry, OutboxKind, SharedPart, Store, StoreError,
    StoredArticle, StoredMessage, SubscriberState,
};
use crate::unsubscribe::{self, Request, Secret, SecretError};

/// First retry after a transient failure; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: chrono::Duration = chrono::Duration::seconds(60);
const RETRY_MAX: chrono::Duration = chrono::Duration::hours(1);
/// Articles of a window, by (topic ids, window start, window end).
type WindowArticles = HashMap<(Vec<String>, i64, i64), Arc<[DigestArticle]>>;

/// A window's digest for all its subscribers, by (topic ids, window start, window end, time
/// zone, entries per topic).
type WindowFrames =
    HashMap<(Vec<String>, i64, i64, &'static str, usize), Arc<OnceLock<Arc<WindowFrame>>>>;

/// A window's digest rendered once, and what its subscribers' messages share, as the outbox
/// keeps it (recorded once, with the first of them).
struct WindowFrame {
    frame: Frame,
    shared: Option<Arc<SharedPart>>,
}

/// The shared parts read back by the senders, at most this many at once (a round sends the
/// windows of a few topic sets and time zones; each part is about the size of one digest).
const SHARED_READ_MAX: usize = 16;

/// Window articles cached within one compose round, and the last article id when the cache was
/// emptied: every list in it holds every article up to that id (it was queried later). With
/// them, each window's digest rendered once ([`Frame`]; a frame checks that it is the
/// subscriber's window, so a stale one only costs a full render).
#[derive(Default)]
struct ArticleCache {
    up_to: i64,
    windows: WindowArticles,
    frames: WindowFrames,
}

/// Threads composing digests at once, at most: rendering is CPU work, recording them is one
/// writer; more threads than cores only take turns.
const COMPOSE_THREADS: usize = 4;
/// How far composing may run ahead of recording, in subscribers: bounds the digests held in
/// memory (about 250 KB each) while one slow digest is still being composed.
const COMPOSE_AHEAD: usize = 64;

/// One subscriber's window as a compose thread left it, for the recording thread.
struct Prepared {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// The digest, or the panic that composing it raised.
    composed: Result<Result<Composition, PostmanError>, guard::Panic>,
}

/// A composed window: the digest (None: nothing to send) and the last article id the articles
/// it lists were read up to ([`Store::close_window`] checks the window against it).
struct Composition {
    digest: Option<Ready>,
    up_to: i64,
}

/// A digest ready for the outbox: the message (without its bodies), its bodies in parts, its
/// article count, the message as the outbox keeps it ([`encode`]), made on the composing
/// thread, and what it shares with its window's.
struct Ready {
    out: Outgoing,
    split: Split,
    articles: usize,
    stored: Vec<u8>,
    shared: Option<Arc<SharedPart>>,
}

/// What happened to one digest in a send round.
enum Delivery {
    Sent,
    Retrying,
    Failed,
    /// Sending panicked: recorded as a transient failure.
    Panicked,
    /// Not ours to send (claimed elsewhere) or cancelled.
    Skipped,
}

fn count(
    round: &mut Round,
    done: Result<Result<Delivery, PostmanError>, tokio::task::JoinError>,
) -> Result<(), PostmanError> {
    match done.map_err(StoreError::Task)?? {
        Delivery::Sent => round.sent += 1,
        Delivery::Retrying => round.retrying += 1,
        Delivery::Failed => round.failed += 1,
        Delivery::Panicked => {
            round.retrying += 1;
            round.panicked += 1;
        }
        Delivery::Skipped => {}
    }
    Ok(())
}

/// A digest that panicked while being composed is tried again this much later.
const COMPOSE_RETRY: chrono::Duration = chrono::Duration::minutes(15);
/// How long a claim on a digest lasts unless its sender renews it. A sender renews it every
/// [`CLAIM_RENEW`] for as long as it is sending, however slow the server, so the lease only has
/// to outlive a late renewal (a busy database); and a sender that was killed (a crash, the OOM
/// killer, a power cut) stops renewing, so the next start sends its digests within the lease,
/// not ten minutes later (a fixed lease had to outlast the slowest send).
const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(30);
const CLAIM_RENEW: std::time::Duration = std::time::Duration::from_secs(10);
/// Where the secret for unsubscribe links is kept when neither a file nor BANTIN_SECRET gives one.
const SECRET_META: &str = "unsubscribe_secret";

#[derive(Debug, thiserror::Error)]
pub enum PostmanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport cannot be set up.
    #[error("mail: {0}")]
    Mail(#[from] MailError),
    /// The SMTP password named in `[mail.smtp]` cannot be read (`password_file`,
    /// `password_env`).
    #[error("mail: {0}")]
    Password(CredentialError),
    #[error("templates: {0}")]
    Templates(#[from] TemplateError),
    /// The secret's text or stored key is not usable.
    #[error("unsubscribe secret: {0}")]
    Secret(#[from] SecretError),
    /// `[mail] secret_file` names a systemd credential outside the service.
    #[error("unsubscribe secret: {0}")]
    SecretPath(CredentialError),
    #[error("unsubscribe secret: cannot read {}: {source}", path.display())]
    SecretFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// What a send round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    pub composed: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Digests whose composing or sending panicked (a bug; recorded, tried again later).
    pub panicked: usize,
}

/// Everything digests need; cheap to clone.
#[derive(Clone)]
pub struct Postman {
    config: Arc<Config>,
    store: Store,
    mailer: Mailer,
    templates: Arc<Templates>,
    secret: Secret,
    /// Articles per (topics, window) within one compose round: subscribers with the same topics
    /// and schedule share a window, so the query runs once for all of them.
    articles: Arc<Mutex<ArticleCache>>,
    /// The shared parts of outbox messages, by id, as the senders read them back.
    shared: Arc<Mutex<HashMap<i64, Arc<Literals>>>>,
}

impl Postman {
    /// Sets up the transport (SMTP password read now), the templates (config/templates beside
    /// the main config, else the built-in ones) and the unsubscribe secret. Must run inside a
    /// tokio runtime (the SMTP pool lives there).
    pub fn new(config: Arc<Config>, store: Store) -> Result<Postman, PostmanError> {
        let transport = match &config.mail.transport {
            MailTransport::Maildir(p) => mail::Transport::Maildir(p.clone()),
            MailTransport::Smtp(s) => mail::Transport::Smtp(mail::SmtpSettings {
                host: s.host.clone(),
                port: s.port,
                security: match s.security {
                    SmtpSecurity::StartTls => mail::Security::StartTls,
                    SmtpSecurity::Tls => mail::Security::Tls,
                    SmtpSecurity::None => mail::Security::None,
                },
                username: s.username.clone(),
                password: s.password.resolve().map_err(PostmanError::Password)?,
                timeout: s.timeout,
                extra_root_der: None,
            }),
        };
        let connections = match &config.mail.transport {
            MailTransport::Smtp(s) => s.connections,
            MailTransport::Maildir(_) => mail::DEFAULT_CONNECTIONS,
        };
        let mailer = Mailer::with_connections(&transport, connections)?;
        let dir = config
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .join("templates");
        let templates = Templates::load(&dir)?;
        let secret = load_secret(&config, &store)?;
        store.sync_subscribers(
            &config
                .subscribers
                .iter()
                .map(|s| s.email.clone())
                .collect::<Vec<_>>(),
            Utc::now(),
        )?;
        Ok(Postman {
            config,
            store,
            mailer,
            templates: Arc::new(templates),
            secret,
            articles: Arc::default(),
            shared: Arc::default(),
        })
    }

    /// For tests: an SMTP server with its own certificate.
    pub fn with_mailer(mut self, mailer: Mailer) -> Postman {
        self.mailer = mailer;
        self
    }

    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// What the store keeps of a subscriber (None before their first window).
    pub fn subscriber_state(&self, email: &str) -> Result<Option<SubscriberState>, StoreError> {
        self.store.subscriber_state(email)
    }

    /// Closes every subscriber window that a schedule tick has ended by `now` (one window from
    /// the last end to the latest tick: after downtime the missed digest covers the whole gap),
    /// and records the digests. Blocking (database).
    pub fn compose_due(&self, now: DateTime<Utc>) -> Result<usize, PostmanError> {
        Ok(self.compose_due_counted(now)?.composed)
    }

    /// [`Postman::compose_due`], counting the digests that panicked while being composed: each
    /// is recorded on its subscriber (shown by `bantin subscribers`) and tried again after
    /// [`COMPOSE_RETRY`]; the window stays open, so nothing is skipped.
    ///
    /// Digests are composed (articles read, templates rendered) on up to [`COMPOSE_THREADS`]
    /// threads and recorded on this one, one window after another in the config's order, each
    /// in its own transaction, as if composed here: the outbox keeps that order.
    fn compose_due_counted(&self, now: DateTime<Utc>) -> Result<Round, PostmanError> {
        self.forget_articles()?;
        let subscribers = &self.config.subscribers;
        let threads = crate::parallel::cores()
            .clamp(1, COMPOSE_THREADS)
            .min(subscribers.len());
        let mut round = Round::default();
        let next = AtomicUsize::new(0);
        let recorded = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let tx = tx.clone();
                let (next, recorded, stop) = (&next, &recorded, &stop);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::AcqRel);
                    let Some(s) = subscribers.get(i) else {
                        return;
                    };
                    while i >= recorded.load(Ordering::Acquire) + COMPOSE_AHEAD
                        && !stop.load(Ordering::Acquire)
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    if stop.load(Ordering::Acquire) || tx.send((i, self.prepare(s, now))).is_err() {
                        return;
                    }
                });
            }
            drop(tx);
            // However recording ends (an error, a panic), the compose threads stop waiting.
            let _stop = StopOnDrop(&stop);
            self.record_in_order(&rx, &recorded, now, &mut round)
        })?;
        Ok(round)
    }

    /// Reads `s`'s window and, when a tick has closed it, composes its digest (a panic while
    /// composing is caught and kept). None: nothing to close now.
    fn prepare(
        &self,
        s: &Subscriber,
        now: DateTime<Utc>,
    ) -> Result<Option<Prepared>, PostmanError> {
        let Some(state) = self.store.subscriber_state(&s.email)? else {
            return Ok(None);
        };
        if state.compose_retry.is_some_and(|t| t > now) {
            return Ok(None);
        }
        let Some(end) = last_tick(s, state.window_end, now) else {
            return Ok(None);
        };
        let start = state.window_end;
        Ok(Some(Prepared {
            start,
            end,
            composed: guard::catch(|| self.compose_first(s, start, end)),
        }))
    }

    /// Records what the compose threads send, in subscriber order, noting in `recorded` how
    /// many subscribers are done (the threads stay at most [`COMPOSE_AHEAD`] ahead of it).
    fn record_in_order(
        &self,
        rx: &mpsc::Receiver<(usize, Result<Option<Prepared>, PostmanError>)>,
        recorded: &AtomicUsize,
        now: DateTime<Utc>,
        round: &mut Round,
    ) -> Result<(), PostmanError> {
        let mut early = BTreeMap::new();
        for (i, s) in self.config.subscribers.iter().enumerate() {
            let prepared = loop {
                if let Some(p) = early.remove(&i) {
                    break p;
                }
                match rx.recv() {
                    Ok((j, p)) => {
                        early.insert(j, p);
                    }
                    // Every compose thread is gone: one panicked outside its guard, and the
                    // scope passes that panic on.
                    Err(_) => return Ok(()),
                }
            };
            if let Some(Prepared {
                start,
                end,
                composed,
            }) = prepared?
            {
                let closed = composed
                    .and_then(|first| guard::catch(|| self.close(s, start, end, now, first)));
                match closed {
                    Ok(closed) => round.composed += usize::from(closed?),
                    Err(error) => {
                        tracing::error!(subscriber = %s.email, %error, "composing a digest panicked; recorded, tried again later");
                        self.store.compose_failed(
                            &s.email,
                            &error.to_string(),
                            now + COMPOSE_RETRY,
                        )?;
                        round.panicked += 1;
                    }
                }
            }
            recorded.store(i + 1, Ordering::Release);
        }
        Ok(())
    }

    /// Closes the named subscriber's current window now (`bantin digest send --now`).
    pub fn compose_now(&self, email: &str, now: DateTime<Utc>) -> Result<bool, PostmanError> {
        self.forget_articles()?;
        let Some(s) = self.config.subscribers.iter().find(|s| s.email == email) else {
            return Ok(false);
        };
        let Some(state) = self.store.subscriber_state(&s.email)? else {
            return Ok(false);
        };
        if now <= state.window_end {
            return Ok(false);
        }
        let first = self.compose_first(s, state.window_end, now);
        self.close(s, state.window_end, now, now, first)
    }

    /// What would go out for `email` if its window closed now; records nothing.
    pub fn preview(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Outgoing, usize)>, PostmanError> {
        self.forget_articles()?;
        let Some(s) = self.config.subscribers.iter().find(|s| s.email == email) else {
            return Ok(None);
        };
        let Some(state) = self.store.subscriber_state(&s.email)? else {
            return Ok(None);
        };
        let Some(ready) = self.compose(s, state.window_end, now)?.digest else {
            return Ok(None);
        };
        let Some(bodies) = ready.split.fill() else {
            return Ok(None);
        };
        let out = Outgoing {
            text: bodies.text,
            html: bodies.html,
            ..ready.out
        };
        Ok(Some((out, ready.articles)))
    }

    /// The first composition of a window ([`Postman::close`] composes it again if articles
    /// arrived meanwhile).
    fn compose_first(
        &self,
        s: &Subscriber,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Composition, PostmanError> {
        guard::failpoint("compose", &s.email);
        self.compose(s, start, end)
    }

    /// Records one window, composed as `first`; true when a digest went into the outbox.
    fn close(
        &self,
        s: &Subscriber,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        first: Result<Composition, PostmanError>,
    ) -> Result<bool, PostmanError> {
        let mut first = Some(first);
        // A poll that commits while the window is composed has the window composed again; polls
        // after the close fall in the next window, so this settles at once.
        for _ in 0..3 {
            let Composition { digest, up_to } = match first.take() {
                Some(composed) => composed?,
                None => self.compose(s, start, end)?,
            };
            let digest = digest.map(|ready| NewDigest {
                email: s.email.clone(),
                window_start: start,
                window_end: end,
                message_id: ready.out.message_id,
                subject: ready.out.subject,
                message: ready.stored,
                articles: ready.articles as u32,
                shared: ready.shared,
            });
            match self
                .store
                .close_window(&s.email, start, end, up_to, digest.as_ref(), now)?
            {
                Closed::Yes => return Ok(self.closed(s, end, digest.as_ref())),
                Closed::Refused => return Ok(false),
                Closed::Changed => self.forget_articles()?,
            }
        }
        tracing::debug!(subscriber = %s.email, window_end = %end, "articles still arriving in the window: closed at the next round");
        Ok(false)
    }

    /// Logs a closed window; true when it had a digest.
    fn closed(&self, s: &Subscriber, end: DateTime<Utc>, digest: Option<&NewDigest>) -> bool {
        match digest {
            Some(d) => {
                tracing::info!(subscriber = %s.email, articles = d.articles, window_end = %end, "digest composed")
            }
            None => {
                tracing::debug!(subscriber = %s.email, window_end = %end, "no new articles: no digest")
            }
        }
        digest.is_some()
    }

    /// The digest for `[start, end)` (None when there is nothing to send), with the last article
    /// id its articles were read up to.
    fn compose(
        &self,
        s: &Subscriber,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Composition, PostmanError> {
        let up_to = self.cache().up_to;
        let digest = self.compose_digest(s, start, end, up_to)?;
        Ok(Composition { digest, up_to })
    }

    fn compose_digest(
        &self,
        s: &Subscriber,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        up_to: i64,
    ) -> Result<Option<Ready>, PostmanError> {
        let state = self.store.subscriber_state(&s.email)?;
        if state.as_ref().is_some_and(|st| st.unsubscribed_all) {
            return Ok(None);
        }
        let dropped: Vec<String> = state.map(|st| st.unsubscribed_topics).unwrap_or_default();
        let topics: Vec<&String> = s.topics.iter().filter(|t| !dropped.contains(t)).collect();
        if topics.is_empty() {
            return Ok(None);
        }
        let ids: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let articles = self.window_articles(&ids, start, end, up_to)?;
        if articles.is_empty() {
            return Ok(None);
        }
        let base = &self.config.http.public_url;
        let link = |topic: Option<&str>| {
            let token = unsubscribe::token(
                &self.secret,
                &Request {
                    email: s.email.clone(),
                    topic: topic.map(String::from),
                },
            );
            paths::absolute(base, &paths::unsubscribe(&token))
        };
        let names: std::collections::HashMap<&str, &str> = self.config.topics.topics().collect();
        let input = DigestInput {
            subscriber_name: s.name.clone(),
            email: s.email.clone(),
            topics: ids
                .iter()
                .map(|id| DigestTopic {
                    id: id.clone(),
                    name: names.get(id.as_str()).copied().unwrap_or(id).to_string(),
                    unsubscribe_url: link(Some(id)),
                    feed_url: paths::absolute(
                        base,
                        &paths::feed(&Scope::Topic(id.clone()), Format::DEFAULT, Links::Live),
                    ),
                })
                .collect(),
            articles,
            window_start: start,
            window_end: end,
            timezone: s.timezone,
            max_items: s.max_items,
            unsubscribe_all_url: link(None),
        };
        let window = self.frame(&input);
        let Some(split) = window.frame.split(&input, &self.templates) else {
            return Ok(None);
        };
        let to = format!(
            "{} <{}>",
            s.name.replace(['<', '>', '"', '\r', '\n'], " "),
            s.email
        );
        let out = Outgoing {
            from: self.config.mail.from.clone(),
            reply_to: self.config.mail.reply_to.clone(),
            to,
            subject: split.subject.clone(),
            // Filled from `split` when sent (or previewed).
            text: String::new(),
            html: String::new(),
            message_id: message_id(&s.email, end, &self.config.mail.from),
            date: end,
            unsubscribe_url: link(None),
            unsubscribe_mailto: Some(format!(
                "mailto:{}?subject=unsubscribe%20{}",
                bare_address(
                    self.config
                        .mail
                        .reply_to
                        .as_deref()
                        .unwrap_or(&self.config.mail.from)
                ),
                s.email
            )),
        };
        let shared = split.literals.as_ref().and(window.shared.clone());
        Ok(Some(Ready {
            stored: encode(&out, &split, &mail::new_boundary()),
            articles: split.articles,
            out,
            split,
            shared,
        }))
    }

    fn cache(&self) -> MutexGuard<'_, ArticleCache> {
        self.articles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empties the cache of window articles, noting the last article id: what every query that
    /// fills it again reads at least, and what [`Store::close_window`] checks the windows
    /// against.
    fn forget_articles(&self) -> Result<(), StoreError> {
        let up_to = self.store.last_article_id()?;
        let mut cache = self.cache();
        cache.windows.clear();
        cache.frames.clear();
        cache.up_to = up_to;
        Ok(())
    }

    /// The rendered digest of `input`'s window, made from `input` when no subscriber of that
    /// window has had one yet.
    fn frame(&self, input: &DigestInput) -> Arc<WindowFrame> {
        let key = (
            input.topics.iter().map(|t| t.id.clone()).collect(),
            input.window_start.timestamp_millis(),
            input.window_end.timestamp_millis(),
            input.timezone.name(),
            input.max_items,
        );
        let cell = Arc::clone(self.cache().frames.entry(key).or_default());
        // Rendered unlocked (the other compose threads go on with other windows), once: the
        // threads that need this window meanwhile wait for it, and all its messages refer to
        // one shared part.
        let frame = cell.get_or_init(|| {
            let frame = Frame::render(input, &self.templates);
            // Serializing plain strings to JSON cannot fail.
            let shared = frame.literals().map(|l| {
                Arc::new(SharedPart::new(
                    serde_json::to_vec(&**l).unwrap_or_default(),
                ))
            });
            Arc::new(WindowFrame { frame, shared })
        });
        Arc::clone(frame)
    }

    /// The articles of a window, read after the last article id was `up_to`: from the cache
    /// while it still holds that id, else from the store (kept only if it still does).
    fn window_articles(
        &self,
        topics: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        up_to: i64,
    ) -> Result<Arc<[DigestArticle]>, StoreError> {
        let key = (
            topics.to_vec(),
            start.timestamp_millis(),
            end.timestamp_millis(),
        );
        {
            let cache = self.cache();
            if let Some(hit) = cache.windows.get(&key).filter(|_| cache.up_to == up_to) {
                return Ok(hit.clone());
            }
        }
        let found: Arc<[DigestArticle]> = self
            .store
            .digest_articles(topics, start, end)?
            .into_iter()
            .map(|a| self.digest_article(a))
            .collect();
        let mut cache = self.cache();
        if cache.up_to != up_to {
            return Ok(found);
        }
        // Another composing thread may have read the window meanwhile: its list is the one
        // every subscriber of the window shares (a frame is for one list, `Frame::is_for`).
        Ok(cache.windows.entry(key).or_insert(found).clone())
    }

    /// A stored article as digests list it: its sources by name.
    fn digest_article(&self, a: StoredArticle) -> DigestArticle {
        DigestArticle {
            id: a.id,
            story: a.story,
            title: a.title,
            url: a.url,
            summary_html: a.summary_html,
            published: a.published,
            sources: a
                .sources
                .iter()
                .map(|id| {
                    self.config
                        .source(id)
                        .map(|x| x.name.clone())
                        .unwrap_or_else(|| id.clone())
                })
                .collect(),
            topics: a.topics,
            image: match self.config.mail.images {
                true => media::image(&a.media).cloned(),
                false => None,
            },
            listed_summary: OnceLock::new(),
        }
    }

    /// Delivers every due outbox entry; transient failures are retried later (first after a
    /// minute, then doubling up to an hour), permanent ones marked failed.
    pub async fn send_due(&self, now: DateTime<Utc>) -> Result<Round, PostmanError> {
        let store = self.store.clone();
        let due = tokio::task::spawn_blocking(move || store.due_digests(now))
            .await
            .map_err(StoreError::Task)??;
        let mut round = Round::default();
        // One delivery in flight per pooled connection: each costs several SMTP round trips.
        let concurrency = self.mailer.connections();
        let mut tasks = tokio::task::JoinSet::new();
        for entry in due {
            while tasks.len() >= concurrency {
                if let Some(done) = tasks.join_next().await {
                    count(&mut round, done)?;
                }
            }
            let me = self.clone();
            tasks.spawn(async move { me.deliver(entry, now).await });
        }
        while let Some(done) = tasks.join_next().await {
            count(&mut round, done)?;
        }
        Ok(round)
    }

    /// Claims, checks and sends one digest, and records the result.
    async fn deliver(
        &self,
        entry: OutboxEntry,
        now: DateTime<Utc>,
    ) -> Result<Delivery, PostmanError> {
        let (store, id) = (self.store.clone(), entry.id);
        // The message is read once claimed: only the digests being sent are in memory.
        let claimed = blocking(move || {
            if store.claim_digest(id, now, CLAIM_LEASE)? {
                Ok(Some(store.outbox_message(id)?))
            } else {
                Ok(None)
            }
        })
        .await?;
        let Some(message) = claimed else {
            return Ok(Delivery::Skipped);
        };
        // An unsubscribe (or removal from the config) after composing still stops the mail.
        // Alerts go to whoever `[alerts] email` names, subscriber or not.
        let active = entry.kind == OutboxKind::Alert
            || self
                .config
                .subscribers
                .iter()
                .any(|s| s.email == entry.email)
                && {
                    let (store, email) = (self.store.clone(), entry.email.clone());
                    let state = blocking(move || store.subscriber_state(&email)).await?;
                    !state.is_some_and(|s| s.unsubscribed_all)
                };
        if !active {
            let store = self.store.clone();
            blocking(move || {
                store.mark_cancelled(id, "cancelled: unsubscribed or removed before delivery")
            })
            .await?;
            tracing::info!(subscriber = %entry.email, "digest cancelled: no longer subscribed");
            return Ok(Delivery::Skipped);
        }
        let stored = match message {
            Some(m) => self.read_back(m).await?,
            None => None,
        };
        let result = match stored {
            // A panic while sending (a bug) is this digest's transient failure: retried later.
            Some(stored) => {
                let _renewing = self.renew_claim_while_sending(id, now);
                match guard::catch_async(async {
                    guard::failpoint("send", &entry.email);
                    match &stored {
                        Stored::Built(built) => self.mailer.send_built(built).await,
                        Stored::Parts(out) => self.mailer.send(out).await,
                        Stored::Framed(out, boundary) => {
                            let built = mail::Built::with_boundary(out, boundary)?;
                            self.mailer.send_built(&built).await
                        }
                        // `read_back` fills every record.
                        Stored::Record(_) => Err(MailError::Invalid(
                            "stored message cannot be read back".into(),
                        )),
                    }
                })
                .await
                {
                    Ok(sent) => sent,
                    Err(error) => {
                        let next = now + backoff(entry.attempts);
                        tracing::error!(subscriber = %entry.email, %error, next_attempt = %next, "sending a digest panicked; will retry");
                        let store = self.store.clone();
                        blocking(move || store.mark_retry(id, &error.to_string(), next)).await?;
                        return Ok(Delivery::Panicked);
                    }
                }
            }
            None => Err(MailError::Invalid(
                "stored message cannot be read back".into(),
            )),
        };
        let store = self.store.clone();
        match result {
            Ok(reply) => {
                tracing::info!(subscriber = %entry.email, reply = %reply, "digest sent");
                blocking(move || store.mark_sent(id, &reply, Utc::now())).await?;
                Ok(Delivery::Sent)
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(subscriber = %entry.email, error = %e, "digest failed permanently");
                let msg = e.to_string();
                blocking(move || store.mark_failed(id, &msg, Utc::now())).await?;
                Ok(Delivery::Failed)
            }
            Err(e) => {
                let next = now + backoff(entry.attempts);
                tracing::warn!(subscriber = %entry.email, error = %e, next_attempt = %next, "digest not sent; will retry");
                let msg = e.to_string();
                blocking(move || store.mark_retry(id, &msg, next)).await?;
                Ok(Delivery::Retrying)
            }
        }
    }

    /// A stored message as it goes out, its shared part read back (and kept for the next
    /// messages of its window); None when it cannot be read.
    async fn read_back(&self, m: StoredMessage) -> Result<Option<Stored>, PostmanError> {
        let Some(stored) = decode(&m.message) else {
            return Ok(None);
        };
        let Stored::Record(record) = stored else {
            return Ok(Some(stored));
        };
        let literals = match m.shared {
            None => None,
            Some(id) => {
                let known = self.shared_read().get(&id).cloned();
                match known {
                    Some(l) => Some(l),
                    None => {
                        let store = self.store.clone();
                        let part = blocking(move || store.outbox_shared(id)).await?;
                        let Some(l) = part.and_then(|p| serde_json::from_slice(&p).ok()) else {
                            return Ok(None);
                        };
                        let l: Arc<Literals> = Arc::new(l);
                        let mut read = self.shared_read();
                        if read.len() >= SHARED_READ_MAX {
                            read.clear();
                        }
                        read.insert(id, Arc::clone(&l));
                        Some(l)
                    }
                }
            }
        };
        Ok(assemble(*record, literals.as_deref())
            .map(|(out, boundary)| Stored::Framed(Box::new(out), boundary)))
    }

    fn shared_read(&self) -> MutexGuard<'_, HashMap<i64, Arc<Literals>>> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renews the claim on digest `id` (made at `now`) every [`CLAIM_RENEW`] until the returned
    /// guard is dropped: when the send ends, or is cancelled.
    fn renew_claim_while_sending(&self, id: i64, now: DateTime<Utc>) -> AbortOnDrop {
        let store = self.store.clone();
        let started = std::time::Instant::now();
        AbortOnDrop(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + CLAIM_RENEW, CLAIM_RENEW);
            loop {
                tick.tick().await;
                let elapsed = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
                let until = now + elapsed + CLAIM_LEASE;
                let store = store.clone();
                if let Err(e) = blocking(move || store.renew_claim(id, until)).await {
                    tracing::warn!(error = %e, "cannot renew the claim on a digest being sent");
                }
            }
        }))
    }

    /// One full round: compose what is due, then send what the outbox holds.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<Round, PostmanError> {
        let me = self.clone();
        let composed = tokio::task::spawn_blocking(move || me.compose_due_counted(now))
            .await
            .map_err(StoreError::Task)??;
        let mut r = self.send_due(now).await?;
        r.composed = composed.composed;
        r.panicked += composed.panicked;
        Ok(r)
    }

    /// The outbox, newest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.store.outbox(limit)
    }
}

/// Raises its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The latest schedule tick in `(after, now]`, if any. Bounded: a very frequent schedule over a
/// very long gap closes the window at `now`.
fn last_tick(s: &Subscriber, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = s.timezone.from_utc_datetime(&after.naive_utc());
    let mut last = None;
    for (i, tick) in s.schedule.cron.after(&local).enumerate() {
        let t = tick.with_timezone(&Utc);
        if t > now {
            break;
        }
        last = Some(t);
        if i > 100_000 {
            return Some(now);
        }
    }
    last
}

/// The wait before the next attempt after `attempts` failed ones: a minute, doubling up to an
/// hour. Webhooks retry on the same steps.
pub(crate) fn backoff(attempts: u32) -> chrono::Duration {
    let factor = 1i32 << attempts.min(10);
    (RETRY_FIRST * factor).min(RETRY_MAX)
}

/// Stable per subscriber and window, so a resend carries the same Message-ID.
fn message_id(email: &str, window_end: DateTime<Utc>, from: &str) -> String {
    message_id_of("digest", email, window_end, from)
}

/// A Message-ID for a message of `kind` (`digest`, `alert`) to `email` about `instant`, on the
/// host of the `from` address.
pub(crate) fn message_id_of(kind: &str, email: &str, instant: DateTime<Utc>, from: &str) -> String {
    let who = hex::encode(&Sha256::digest(email.as_bytes())[..6]);
    let host = bare_address(from)
        .rsplit_once('@')
        .map(|(_, h)| h.to_string())
        .unwrap_or_else(|| "bantin".into());
    format!("{kind}.{who}.{}@{host}", instant.timestamp_millis())
}

/// A message built once, as the outbox keeps it (format 2): sent as these bytes at every
/// attempt. Alerts are stored so; digests keep their parts (format 3).
pub(crate) fn stored_built(built: &mail::Built) -> Vec<u8> {
    let mut stored = BUILT_V2.to_vec();
    let envelope = StoredEnvelope {
        from: built.envelope_from.clone(),
        to: built.envelope_to.clone(),
    };
    // Serializing plain strings to JSON cannot fail.
    let _ = serde_json::to_writer(&mut stored, &envelope);
    stored.push(b'\n');
    stored.extend_from_slice(&built.bytes);
    stored
}

fn bare_address(s: &str) -> String {
    s.rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>'))
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// The first bytes of a stored message in format 3 (what the outbox keeps now): the message's
/// own parts, its bodies in parts ([`Record`]); what its window's messages share is stored once,
/// apart ([`Literals`], a [`SharedPart`]).
const FRAMED_V3: &[u8] = b"bantin-message/3\n";

/// The first bytes of a stored message in format 2, which the outbox kept before format 3: the
/// message as built at composition. A message in format 1 (what it held before that) is the
/// JSON of [`Parts`], so starts with `{`.
const BUILT_V2: &[u8] = b"bantin-message/2\n";

/// A stored message in format 1: its parts, built into bytes when sent.
#[derive(serde::Serialize, serde::Deserialize)]
struct Parts {
    from: String,
    reply_to: Option<String>,
    to: String,
    subject: String,
    text: String,
    html: String,
    message_id: String,
    date: DateTime<Utc>,
    unsubscribe_url: Option<String>,
    unsubscribe_mailto: Option<String>,
}

/// The envelope line of a stored message in format 2.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEnvelope {
    from: Option<String>,
    to: Vec<String>,
}

/// A stored message in format 3: everything of the message fixed at composition (its
/// Message-ID, date and MIME boundary among it), its bodies as [`Body`] parts. Built from it and
/// its window's literals, a message is the same bytes at every attempt.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Record {
    from: String,
    reply_to: Option<String>,
    to: String,
    subject: String,
    message_id: String,
    date: DateTime<Utc>,
    unsubscribe_url: Option<String>,
    unsubscribe_mailto: Option<String>,
    boundary: String,
    text: Body,
    html: Body,
}

/// A message as the outbox keeps it, read back.
#[derive(Debug)]
enum Stored {
    /// Format 1: built when sent.
    Parts(Box<Outgoing>),
    /// Format 2: sent as it is.
    Built(mail::Built),
    /// Format 3, before its shared part is read.
    Record(Box<Record>),
    /// Format 3 with its bodies filled: built with its boundary when sent.
    Framed(Box<Outgoing>, String),
}

/// The outbox keeps a message as its own parts (format 3): `FRAMED_V3`, then the JSON of its
/// [`Record`]: the message without its bodies, `boundary`, and the bodies as `split` has them.
/// The bodies' literals (`split.literals`) are stored apart, once per window. Nothing is encoded
/// or built here: sending builds the message ([`mail::Built::with_boundary`]); one that cannot
/// be built fails then, permanently, with the reason.
fn encode(o: &Outgoing, split: &Split, boundary: &str) -> Vec<u8> {
    let record = Record {
        from: o.from.clone(),
        reply_to: o.reply_to.clone(),
        to: o.to.clone(),
        subject: o.subject.clone(),
        message_id: o.message_id.clone(),
        date: o.date,
        unsubscribe_url: o.unsubscribe_url.clone(),
        unsubscribe_mailto: o.unsubscribe_mailto.clone(),
        boundary: boundary.to_owned(),
        text: split.text.clone(),
        html: split.html.clone(),
    };
    let mut stored = FRAMED_V3.to_vec();
    // Serializing plain strings to JSON cannot fail.
    let _ = serde_json::to_writer(&mut stored, &record);
    stored
}

/// A message of format 3 with its bodies filled from its window's `literals`, and its MIME
/// boundary; None when they do not fit together.
fn assemble(r: Record, literals: Option<&Literals>) -> Option<(Outgoing, String)> {
    let text = r.text.fill(literals.and_then(|l| l.text.as_deref()))?;
    let html = r.html.fill(literals.and_then(|l| l.html.as_deref()))?;
    Some((
        Outgoing {
            from: r.from,
            reply_to: r.reply_to,
            to: r.to,
            subject: r.subject,
            text,
            html,
            message_id: r.message_id,
            date: r.date,
            unsubscribe_url: r.unsubscribe_url,
            unsubscribe_mailto: r.unsubscribe_mailto,
        },
        r.boundary,
    ))
}

/// A stored message in any format; None when it cannot be read.
fn decode(message: &[u8]) -> Option<Stored> {
    if let Some(rest) = message.strip_prefix(FRAMED_V3) {
        return serde_json::from_slice(rest)
            .ok()
            .map(|r| Stored::Record(Box::new(r)));
    }
    if let Some(rest) = message.strip_prefix(BUILT_V2) {
        let line = rest.iter().position(|&b| b == b'\n')?;
        let (head, bytes) = rest.split_at(line);
        let envelope: StoredEnvelope = serde_json::from_slice(head).ok()?;
        return Some(Stored::Built(mail::Built {
            envelope_from: envelope.from,
            envelope_to: envelope.to,
            bytes: bytes.get(1..)?.to_vec(),
        }));
    }
    let s: Parts = serde_json::from_slice(message).ok()?;
    Some(Stored::Parts(Box::new(Outgoing {
        from: s.from,
        reply_to: s.reply_to,
        to: s.to,
        subject: s.subject,
        text: s.text,
        html: s.html,
        message_id: s.message_id,
        date: s.date,
        unsubscribe_url: s.unsubscribe_url,
        unsubscribe_mailto: s.unsubscribe_mailto,
    })))
}

/// The unsubscribe secret: `[mail] secret_file`, else `BANTIN_SECRET`, else one generated once
/// and kept in the database.
fn load_secret(config: &Config, store: &Store) -> Result<Secret, PostmanError> {
    if let Some(f) = &config.mail.secret_file {
        let path = crate::config::credential_path(f).map_err(PostmanError::SecretPath)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|source| PostmanError::SecretFile { path, source })?;
        return Ok(Secret::from_text(&text)?);
    }
    if let Ok(text) = std::env::var("BANTIN_SECRET") {
        return Ok(Secret::from_text(&text)?);
    }
    if let Some(hex) = store.meta(SECRET_META)? {
        return Ok(Secret::from_hex(&hex)?);
    }
    let secret = Secret::generate();
    store.set_meta(SECRET_META, &secret.to_hex())?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_a_minute_and_stops_at_an_hour() {
        assert_eq!(backoff(0), chrono::Duration::seconds(60));
        assert_eq!(backoff(1), chrono::Duration::seconds(120));
        assert_eq!(backoff(5), chrono::Duration::seconds(1920));
        assert_eq!(backoff(6), chrono::Duration::hours(1));
        assert_eq!(backoff(40), chrono::Duration::hours(1));
    }

    #[test]
    fn message_ids_are_stable_per_window() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        let a = message_id("hoa@example.vn", t, "bantin <tin@example.vn>");
        assert_eq!(
            a,
            message_id("hoa@example.vn", t, "bantin <tin@example.vn>")
        );
        assert!(
            a.ends_with(&format!(".{}@example.vn", t.timestamp_millis())),
            "{a}"
        );
        assert_ne!(a, message_id("an@example.vn", t, "bantin <tin@example.vn>"));
    }

    fn outgoing() -> Outgoing {
        Outgoing {
            from: "Bản tin <tin@example.vn>".into(),
            reply_to: None,
            to: "Hoa <hoa@example.vn>".into(),
            subject: "Bản tin 28/11/2026: Dân vận".into(),
            text: "Chào Hoa,\n\nCó 1 bài mới.\n".into(),
            html: "<p>Chào Hoa,</p>\n".into(),
            message_id: "digest.1.1764288000000@example.vn".into(),
            date: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
            unsubscribe_url: Some("https://bantin.example.vn/unsubscribe?token=x".into()),
            unsubscribe_mailto: Some("mailto:tin@example.vn?subject=unsubscribe".into()),
        }
    }

    /// `out`'s bodies in parts: the text framed around the name, the HTML whole.
    fn split_of(out: &Outgoing) -> (Split, Literals) {
        let (before, after) = out.text.split_once("Hoa").unwrap();
        let literals = Literals {
            text: Some(vec![before.to_owned(), after.to_owned()]),
            html: None,
        };
        let split = Split {
            subject: out.subject.clone(),
            articles: 1,
            text: Body::Framed(vec!["Hoa".into()]),
            html: Body::Full(out.html.clone()),
            literals: Some(Arc::new(literals.clone())),
        };
        (split, literals)
    }

    #[test]
    fn a_message_is_stored_as_its_own_parts_and_built_the_same_every_time() {
        let out = outgoing();
        let (split, literals) = split_of(&out);
        let boundary = mail::new_boundary();
        let stored = encode(&out, &split, &boundary);
        assert!(stored.starts_with(FRAMED_V3));
        assert!(!String::from_utf8_lossy(&stored).contains("bài mới"));
        let Some(Stored::Record(record)) = decode(&stored) else {
            panic!("not read back as a record");
        };
        let (read, read_boundary) = assemble(*record, Some(&literals)).unwrap();
        assert_eq!(read_boundary, boundary);
        let built = mail::Built::with_boundary(&read, &boundary).unwrap();
        // Byte for byte the message built from the whole parts, at every build.
        assert_eq!(built, mail::Built::with_boundary(&out, &boundary).unwrap());
        assert_eq!(built, mail::Built::with_boundary(&read, &boundary).unwrap());
        assert_eq!(built.envelope_to, ["hoa@example.vn"]);
        let text = String::from_utf8(built.bytes).unwrap();
        assert!(text.contains("Message-ID: <digest.1.1764288000000@example.vn>\r\n"));
        assert!(text.contains(&format!("boundary=\"{boundary}\"")), "{text}");
        // Without its window's literals, or with another window's, it cannot be read.
        let Some(Stored::Record(record)) = decode(&stored) else {
            panic!("not read back as a record");
        };
        assert!(assemble(*record, None).is_none());
        // A message that cannot be built is stored all the same, and fails when sent, as before.
        let bad = Outgoing {
            to: "not an address".into(),
            ..outgoing()
        };
        let Some(Stored::Record(record)) = decode(&encode(&bad, &split, &boundary)) else {
            panic!("not read back as a record");
        };
        let (read, boundary) = assemble(*record, Some(&literals)).unwrap();
        assert!(mail::Built::with_boundary(&read, &boundary)
            .unwrap_err()
            .is_permanent());
    }

    #[test]
    fn a_message_stored_as_built_before_still_reads() {
        // Format 2, as the outbox held it before format 3: the envelope, then the bytes.
        let built = mail::Built::of(&outgoing()).unwrap();
        let mut stored = BUILT_V2.to_vec();
        stored.extend_from_slice(br#"{"from":"tin@example.vn","to":["hoa@example.vn"]}"#);
        stored.push(b'\n');
        stored.extend_from_slice(&built.bytes);
        assert_eq!(stored_built(&built), stored);
        let Some(Stored::Built(read)) = decode(&stored) else {
            panic!("format 2 not read");
        };
        assert_eq!(read, built);
        assert!(decode(b"bantin-message/2\nno envelope").is_none());
    }

    #[test]
    fn a_message_stored_as_parts_before_still_reads() {
        // Format 1, as the outbox held it before format 2, field for field.
        let old = r#"{"from":"Bản tin <tin@example.vn>","reply_to":null,"to":"Hoa <hoa@example.vn>","subject":"Bản tin 28/11/2026: Dân vận","text":"Chào Hoa,\n\nCó 1 bài mới.\n","html":"<p>Chào Hoa,</p>\n","message_id":"digest.1.1764288000000@example.vn","date":"2026-11-28T00:00:00Z","unsubscribe_url":"https://bantin.example.vn/unsubscribe?token=x","unsubscribe_mailto":"mailto:tin@example.vn?subject=unsubscribe"}"#;
        let Some(Stored::Parts(read)) = decode(old.as_bytes()) else {
            panic!("format 1 not read");
        };
        let want = outgoing();
        assert_eq!(
            (&read.from, &read.to, &read.subject, &read.text, &read.html),
            (&want.from, &want.to, &want.subject, &want.text, &want.html)
        );
        assert_eq!(
            (&read.message_id, read.date, &read.unsubscribe_url),
            (&want.message_id, want.date, &want.unsubscribe_url)
        );
        assert_eq!(read.unsubscribe_mailto, want.unsubscribe_mailto);
        assert!(decode(b"bantin-message/3\n{}").is_none());
        assert!(decode(b"garbage").is_none());
    }

    #[test]
    fn the_last_tick_covers_downtime_once() {
        let s = Subscriber {
            email: "hoa@example.vn".into(),
            name: "Hoa".into(),
            topics: vec!["dan-van".into()],
            schedule: crate::config::Schedule::parse("0 0 7 * * *").unwrap(),
            timezone: chrono_tz::Asia::Ho_Chi_Minh,
            max_items: 30,
        };
        // 07:00 in Hanoi is 00:00 UTC.
        let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        assert_eq!(last_tick(&s, day(25, 1), day(25, 23)), None);
        assert_eq!(last_tick(&s, day(25, 1), day(26, 0)), Some(day(26, 0)));
        // Down for three days: one window to the latest tick.
        assert_eq!(last_tick(&s, day(25, 1), day(28, 5)), Some(day(28, 0)));
    }
}
