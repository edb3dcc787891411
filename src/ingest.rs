//! One poll of one source: fetch → read (as its kind reads, [`kind::read`]) → normalize →
//! store, and when to poll it next.
//!
//! A failing source is data, not a crash: every failure becomes an [`Outcome::Failed`] with a
//! [`PollError`], whose words are stored on the source's row (`last_error`, `failures`) with a
//! later `next_poll`; other sources go on. Reading runs on a blocking thread, and normalizing
//! and the store transaction together on another, so the async runtime only waits on the
//! network. Once the body is in hand the rest is not cancelled: shutdown waits for the
//! transaction in flight.

pub mod discover;
pub mod entry;
pub mod feed;
pub mod fetch;
pub mod kind;
pub mod normalize;
pub mod pages;
pub mod preview;
pub mod recall;
pub mod scrape;
pub mod sitemap;
pub mod sniff;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::article::NewArticle;
use crate::config::{Config, Schedule, Source};
use crate::store::{Candidate, Carried, RematchStats};
use crate::store::{IngestStats, PollRecord, SourceState, Store, StoreError};
use crate::topics::{Matcher, SourceRef, TopicMatch};
use entry::{DateContext, Listing};
use fetch::{Body, FetchError, Fetcher, Request, Response};
use kind::ReadError;
use url::Url;

/// Longest delay between two polls of a source, whatever backoff or hints say.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// First backoff step after a failure; doubles with each consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(5 * 60);

/// What one poll did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A feed was parsed and stored; `dropped` placeholder items were skipped. `pages`: the
    /// article pages fetched after it (sources whose article pages are read).
    Stored {
        stats: IngestStats,
        dropped: usize,
        pages: pages::PageRound,
    },
    /// A valid feed with no items.
    Empty,
    /// 304 Not Modified: nothing parsed.
    NotModified,
    /// The source answered 410 earlier (or now): not polled until its config entry changes.
    Gone,
    Failed(PollError),
    /// Shutdown interrupted the fetch; nothing was recorded.
    Cancelled,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Stored {
                stats,
                dropped,
                pages,
            } => {
                let kind = if stats.new > 0 {
                    "new"
                } else if stats.updated > 0 {
                    "updated"
                } else {
                    "unchanged"
                };
                write!(
                    f,
                    "{kind}: {} new, {} updated, {} unchanged",
                    stats.new, stats.updated, stats.unchanged
                )?;
                if stats.tombstoned > 0 {
                    write!(f, ", {} pruned earlier", stats.tombstoned)?;
                }
                if *dropped > 0 {
                    write!(f, ", {dropped} placeholder items dropped")?;
                }
                if pages.fetched + pages.failed > 0 {
                    write!(f, "; pages: {pages}")?;
                }
                Ok(())
            }
            Outcome::Empty => f.write_str("empty: valid feed with no items"),
            Outcome::NotModified => f.write_str("not modified (304)"),
            Outcome::Gone => {
                f.write_str("gone (HTTP 410): not polled until its url changes in the config")
            }
            Outcome::Failed(e) => write!(f, "error: {e}"),
            Outcome::Cancelled => f.write_str("cancelled by shutdown"),
        }
    }
}

/// Why a poll failed. Turned into text only where it is stored on the source's row, printed or
/// logged; the words are those `bantin sources` has always shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The poll panicked ([`crate::guard`]): a bug, recorded like any other failure.
    #[error(transparent)]
    Panic(crate::guard::Panic),
    /// The store failed while polling (its error is not `Clone`, so its words are kept).
    #[error("database error: {0}")]
    Database(String),
    #[error("no such source in the config")]
    UnknownSource,
}

impl PollError {
    /// Whether the failure was a bug rather than the source's doing (counted in `/metrics`).
    pub fn is_panic(&self) -> bool {
        matches!(self, PollError::Panic(_))
    }
}

/// The result of polling one source.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: String,
    pub outcome: Outcome,
    pub next_poll: DateTime<Utc>,
}

/// Records a poll of `source` that panicked (a bug meeting input nobody foresaw) as the
/// source's failure like any other: on its row, retried with backoff ([`crate::guard`]).
pub async fn record_panic(
    store: &Store,
    config: &Config,
    source: &Source,
    panic: crate::guard::Panic,
) -> Result<Report, StoreError> {
    let error = panic.to_string();
    tracing::error!(source = %source.id, %error, "poll panicked; recorded as the source's error");
    let (st, ids) = (store.clone(), vec![source.id.clone()]);
    let failures = crate::store::blocking(move || st.source_states(&ids))
        .await?
        .first()
        .map_or(0, |s| s.failures);
    let now = Utc::now();
    let schedule = source
        .schedule
        .clone()
        .unwrap_or_else(|| config.poll.schedule.clone());
    let next = next_poll(&schedule, now, None, failures + 1);
    let (st, id, record) = (
        store.clone(),
        source.id.clone(),
        PollRecord::Failed {
            error: error.clone(),
            gone: false,
        },
    );
    crate::store::blocking(move || st.record_poll(&id, &record, now, next)).await?;
    Ok(Report {
        source: source.id.clone(),
        outcome: Outcome::Failed(PollError::Panic(panic)),
        next_poll: next,
    })
}

/// Polls `source` once and records the result. Only a database failure is an error; everything
/// the source does wrong is an [`Outcome`]. `cancel` interrupts the fetch, never the store.
/// A panic goes up to the caller's task edge ([`record_panic`]).
pub async fn poll_source(
    fetcher: &Fetcher,
    store: &Store,
    config: &Arc<Config>,
    source: &Source,
    state: Option<&SourceState>,
    cancel: &CancellationToken,
) -> Result<Report, StoreError> {
    let request = Request::poll(source, state);
    let fetched = tokio::select! {
        r = fetcher.fetch(&request) => r,
        _ = cancel.cancelled() => {
            return Ok(Report { source: source.id.clone(), outcome: Outcome::Cancelled, next_poll: Utc::now() });
        }
    };
    // Once the body is in hand the rest is not cancelled.
    let now = Utc::now();
    let polled = match fetched {
        Ok(Response::NotModified { moved_to }) => Ok(Polled::NotModified { moved_to }),
        Ok(Response::Body(body)) => {
            let body: Arc<Body> = Arc::from(body);
            match recall::look(store, source, &body, now).await {
                recall::Recall::Known(known) => Ok(Polled::Recalled {
                    body: headers_only(body),
                    known,
                }),
                recall::Recall::Unknown(items) => {
                    let ctx = kind::Context {
                        fetcher,
                        cancel,
                        dates: DateContext::of(source, now),
                        since: state.and_then(|s| s.last_success),
                    };
                    match kind::read(&ctx, source, body.clone()).await {
                        // A sitemap index whose children did not change since the last poll.
                        Ok(listed) if listed.unchanged() => Ok(Polled::NotModified {
                            moved_to: body.moved_to.clone(),
                        }),
                        Ok(listed) => Ok(Polled::Read {
                            complete: listed.complete(),
                            listing: listed.listing,
                            body: headers_only(body),
                            items,
                        }),
                        // Shutdown came before a kind that fetches further documents read
                        // any: as if it had come during the fetch.
                        Err(ReadError::Interrupted) if cancel.is_cancelled() => {
                            return Ok(Report {
                                source: source.id.clone(),
                                outcome: Outcome::Cancelled,
                                next_poll: Utc::now(),
                            });
                        }
                        Err(e) => Err(PollError::Read(e)),
                    }
                }
            }
        }
        Err(e) => Err(PollError::Fetch(e)),
    };
    let mut report = settle(store, config, source, state, now, polled).await?;
    if source.fetches_pages() && report.outcome != Outcome::Gone {
        // The list is stored first; its pages (new ones, and earlier failures now due) follow.
        let round = pages::fetch_due(fetcher, store, config, source, cancel).await?;
        if let Outcome::Stored { pages, .. } = &mut report.outcome {
            *pages = round;
        }
    }
    Ok(report)
}

/// Records what a poll's fetch and read brought, on a blocking thread.
async fn settle(
    store: &Store,
    config: &Arc<Config>,
    source: &Source,
    state: Option<&SourceState>,
    now: DateTime<Utc>,
    polled: Result<Polled, PollError>,
) -> Result<Report, StoreError> {
    let job = Settle {
        store: store.clone(),
        source: source.clone(),
        schedule: source
            .schedule
            .clone()
            .unwrap_or_else(|| config.poll.schedule.clone()),
        config: config.clone(),
        failures: state.map(|s| s.failures).unwrap_or(0),
        now,
    };
    match tokio::task::spawn_blocking(move || job.run(polled)).await {
        Ok(r) => r,
        // Up to the poll's edge, where it becomes the source's error.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Task(e)),
    }
}

/// `body` without its bytes, once its listing is read: a poll waiting for the store's write
/// lock then holds its entries, not its document as well.
fn headers_only(body: Arc<Body>) -> Arc<Body> {
    match Arc::try_unwrap(body) {
        Ok(mut b) => {
            b.bytes = Vec::new();
            Arc::new(b)
        }
        // Still shared (no kind keeps one after reading today): left whole.
        Err(shared) => shared,
    }
}

/// A parsed feed made ready for [`Store::record_poll`].
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// New or changed items, normalized.
    pub articles: Vec<NewArticle>,
    /// Identity keys of the items the store already has unchanged (not normalized again).
    pub seen: Vec<Vec<String>>,
    /// Placeholder items dropped.
    pub dropped: usize,
    /// Per entry, the identity keys and content hash identifying gave, for an item identified
    /// on its own ([`normalize::Identified::on_its_own`]); None for the others.
    pub identified: Vec<Option<(Vec<String>, String)>>,
}

/// Identifies every entry, asks the store which it already has unchanged, and normalizes only
/// the others: most items of a re-polled feed cost their hashes and a share of one query.
/// New and changed articles are matched against `topics` as `tags` (the source's) allow.
pub fn prepare(
    store: &Store,
    feed: &Listing,
    ctx: &normalize::Context,
    topics: &Matcher,
    tags: &[String],
) -> Prepared {
    let mut ids = normalize::identify_keys(feed, ctx);
    let identified = ids
        .iter()
        .map(|id| {
            let id = id.as_ref().filter(|id| id.on_its_own())?;
            Some((id.keys.clone(), id.content_hash.clone()))
        })
        .collect();
    let present: Vec<(usize, &normalize::Identified)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((i, id.as_ref().filter(|id| !id.repeat)?)))
        .collect();
    let probe: Vec<(&[String], &str)> = present
        .iter()
        .map(|(_, id)| (id.keys.as_slice(), id.content_hash.as_str()))
        .collect();
    // A failed probe only costs the shortcut: then everything is normalized.
    let known = store.unchanged(&probe).unwrap_or_default();
    let mut skip = vec![false; ids.len()];
    for ((i, _), unchanged) in present.iter().zip(known) {
        skip[*i] = unchanged;
    }
    // An item found unchanged is only recorded as seen: its keys move there.
    let seen = ids
        .iter_mut()
        .zip(&skip)
        .filter(|(_, skipped)| **skipped)
        .filter_map(|(id, _)| id.as_mut())
        .map(|id| std::mem::take(&mut id.keys))
        .collect();
    normalize::describe(feed, &mut ids, ctx, |i| !skip[i]);
    claim_known(store, &mut ids, &skip);
    let carrier = [SourceRef {
        id: ctx.source_id,
        tags,
    }];
    // One item's match input at a time: it is dropped once matched, not kept for the feed.
    let articles = normalize::build(feed, &ids, ctx, |i| !skip[i])
        .map(|(mut a, input)| {
            a.matches = topics.matches(&input, &carrier);
            a
        })
        .collect();
    Prepared {
        articles,
        seen,
        dropped: ids.iter().filter(|i| i.is_none()).count(),
        identified,
    }
}

/// An item is identified by its link unless different items of its document share that link;
/// then by its title. Which applies can change between polls, so a new-looking item whose other
/// key is known, under an article with its title and link, is that article (never a second
/// article for a known URL). A failed lookup only loses this refinement.
fn claim_known(store: &Store, ids: &mut [Option<normalize::Identified>], skip: &[bool]) {
    let wanted: Vec<usize> = (0..ids.len())
        .filter(|i| !skip[*i])
        .filter(|i| ids[*i].as_ref().is_some_and(|id| id.alt_key.is_some()))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let keys: Vec<&str> = wanted
        .iter()
        .filter_map(|i| ids[*i].as_ref()?.alt_key.as_deref())
        .collect();
    let known = store.articles_by_key(&keys).unwrap_or_default();
    for i in wanted {
        if let Some(id) = ids[i].as_mut() {
            let same = id
                .alt_key
                .as_ref()
                .and_then(|k| known.get(k))
                .is_some_and(|stored| id.is(stored));
            if same {
                id.claim();
            }
        }
    }
}

/// Moves the articles the store already has (under any of their keys) from `p.articles` to
/// `p.seen`: they only gain the source, and are not changed ([`kind::updates_known`]). A failed
/// lookup leaves them to be stored as they are.
fn keep_known(store: &Store, p: &mut Prepared) {
    let keys: Vec<&str> = p
        .articles
        .iter()
        .flat_map(|a| a.keys.iter().map(String::as_str))
        .collect();
    let known = store.articles_by_key(&keys).unwrap_or_default();
    if known.is_empty() {
        return;
    }
    let (stored, new): (Vec<NewArticle>, Vec<NewArticle>) = std::mem::take(&mut p.articles)
        .into_iter()
        .partition(|a| a.keys.iter().any(|k| known.contains_key(k)));
    p.articles = new;
    p.seen.extend(stored.into_iter().map(|a| a.keys));
}

/// Matches the articles first seen within `config.rematch_days` against the config's topics
/// again and stores the result. First-seen times are untouched: re-matching never makes an old
/// article new.
pub fn rematch(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<RematchStats, StoreError> {
    let since = now - chrono::Duration::days(i64::from(config.rematch_days));
    // Read and matched a chunk at a time, on every core; written at the end in one
    // transaction, only what changed.
    let mut results = Vec::new();
    store.match_candidates_by_chunk(since, |chunk| {
        results.extend(match_candidates(config, &chunk));
        Ok(())
    })?;
    store.replace_matches(&results, now)
}

/// Matches again articles ingest has just changed (a poll, an article page) or found carried by
/// another source. A topic an article comes to match this way is news to the topic's webhook,
/// queued with the match (`store::webhooks`): a topic limited to some sources, say, matches an
/// article once one of them carries it, or its page brought the text it matches.
pub(crate) fn rematch_candidates(
    store: &Store,
    config: &Config,
    candidates: &[Candidate],
    now: DateTime<Utc>,
) -> Result<RematchStats, StoreError> {
    let results = match_candidates(config, candidates);
    if config.webhooks.is_empty() {
        return store.replace_matches(&results, now);
    }
    crate::webhook::with_topic_hooks(config, |hooks| {
        store.replace_matches_and_queue(&results, now, hooks)
    })
}

/// The topics each stored article matches now, with every source that carries it.
fn match_candidates(config: &Config, candidates: &[Candidate]) -> Vec<(i64, Vec<TopicMatch>)> {
    crate::parallel::map(candidates, |c| {
        let carriers: Vec<SourceRef> = c
            .sources
            .iter()
            .map(|id| SourceRef {
                id,
                tags: config.source(id).map(|s| s.tags.as_slice()).unwrap_or(&[]),
            })
            .collect();
        // The stored fields, as at ingest (`normalize::build`): both see the same text.
        (c.id, config.topics.matches(&c.match_input(), &carriers))
    })
}

/// The key under which the fingerprint of the topics last matched is kept.
pub const TOPICS_FINGERPRINT: &str = "topics_fingerprint";

/// Re-matches (see [`rematch`]) when the topics differ from those stored articles were last
/// matched with; returns the stats when it did.
pub fn rematch_if_changed(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<RematchStats>, StoreError> {
    let fingerprint = config.topics_fingerprint();
    if store.meta(TOPICS_FINGERPRINT)?.as_deref() == Some(fingerprint.as_str()) {
        return Ok(None);
    }
    let stats = rematch(store, config, now)?;
    store.set_meta(TOPICS_FINGERPRINT, &fingerprint)?;
    Ok(Some(stats))
}

/// What a poll's fetch and read brought.
enum Polled {
    /// 304 Not Modified.
    NotModified { moved_to: Option<Url> },
    /// A body, and the entries its source's kind read from it; `complete` unless part of what
    /// it points to could not be read ([`kind::Listed::complete`]).
    Read {
        body: Arc<Body>,
        listing: Listing,
        complete: bool,
        /// The items of a feed read in full, to remember once stored ([`recall`]).
        items: Option<recall::Items>,
    },
    /// A body whose every item was recalled ([`recall`]): read as a whole feed found unchanged.
    Recalled {
        body: Arc<Body>,
        known: recall::Known,
    },
}

/// What a read listing holds, ready for the store.
struct Read {
    articles: Vec<NewArticle>,
    /// Keys of items already stored unchanged.
    seen: Vec<Vec<String>>,
    /// Items recalled unchanged ([`recall`]).
    carried: Vec<Carried>,
    dropped: usize,
    hint: Option<Duration>,
    /// What reading needed (a feed's repairs, a sitemap's notes), for the source's row.
    note: Option<String>,
    /// Per entry, what identifying gave ([`Prepared::identified`]).
    identified: Vec<Option<(Vec<String>, String)>>,
}

/// The blocking half of a poll: normalize, decide the next poll, record it all in one
/// transaction.
struct Settle {
    store: Store,
    source: Source,
    schedule: Schedule,
    config: Arc<Config>,
    /// Consecutive failures before this poll.
    failures: u32,
    now: DateTime<Utc>,
}

impl Settle {
    fn run(self, polled: Result<Polled, PollError>) -> Result<Report, StoreError> {
        let now = self.now;
        let (record, outcome, next) = match polled {
            Ok(Polled::NotModified { moved_to }) => (
                PollRecord::NotModified {
                    moved_to: moved_to.map(String::from),
                },
                Outcome::NotModified,
                next_poll(&self.schedule, now, None, 0),
            ),
            Ok(Polled::Read {
                body,
                listing,
                complete,
                items,
            }) => {
                let mut read = self.prepare(&body, &listing);
                let identified = std::mem::take(&mut read.identified);
                let remember = items
                    .as_ref()
                    .map(|items| items.to_remember(&listing, &identified))
                    .unwrap_or_default();
                // The entries and articles are not held while the items are remembered.
                drop(listing);
                let (record, outcome, next) = self.fetched(&body, read, complete);
                let stats = self.record(&record, next)?;
                drop(record);
                // Only the next poll's shortcut depends on it.
                if let Err(error) =
                    self.store
                        .remember_items(&self.source.id, remember.current, &remember.new)
                {
                    tracing::warn!(source = %self.source.id, %error, "items not remembered");
                }
                return self.report(stats, outcome, next);
            }
            Ok(Polled::Recalled { body, known }) => {
                let read = Read {
                    articles: Vec::new(),
                    seen: Vec::new(),
                    carried: known.carried,
                    dropped: 0,
                    hint: known.poll_hint.max(body.max_age),
                    note: None,
                    identified: Vec::new(),
                };
                self.fetched(&body, read, true)
            }
            Err(PollError::Fetch(FetchError::Gone)) => (
                PollRecord::Failed {
                    error: FetchError::Gone.to_string(),
                    gone: true,
                },
                Outcome::Gone,
                now + chrono::Duration::from_std(MAX_DELAY).unwrap_or_default(),
            ),
            Err(e @ PollError::Fetch(FetchError::Throttled { retry_after, .. })) => {
                self.failed(e, retry_after)
            }
            Err(e) => self.failed(e, None),
        };
        let stats = self.record(&record, next)?;
        self.report(stats, outcome, next)
    }

    /// Records the poll; with the POSTs to the topics' webhooks its articles call for, when the
    /// config has any (`store::webhooks`).
    fn record(&self, record: &PollRecord, next: DateTime<Utc>) -> Result<IngestStats, StoreError> {
        if self.config.webhooks.is_empty() {
            return self.store.record_poll_now(&self.source.id, record, next);
        }
        crate::webhook::with_topic_hooks(&self.config, |hooks| {
            self.store
                .record_poll_now_and_queue(&self.source.id, record, next, hooks)
        })
    }

    /// The record of a poll that read `read` from `body`, its outcome and next poll.
    fn fetched(
        &self,
        body: &Body,
        read: Read,
        complete: bool,
    ) -> (PollRecord, Outcome, DateTime<Utc>) {
        let Read {
            articles,
            seen,
            carried,
            dropped,
            hint,
            note,
            identified: _,
        } = read;
        let outcome = if articles.is_empty() && seen.is_empty() && carried.is_empty() {
            Outcome::Empty
        } else {
            Outcome::Stored {
                stats: IngestStats::default(),
                dropped,
                pages: pages::PageRound::default(),
            }
        };
        let record = PollRecord::Fetched {
            articles,
            seen,
            carried,
            etag: body.etag.clone(),
            last_modified: body.last_modified.clone(),
            moved_to: body.moved_to.as_ref().map(Url::to_string),
            pages: self.source.fetches_pages(),
            note,
            complete,
        };
        (
            record,
            outcome,
            next_poll(&self.schedule, self.now, hint, 0),
        )
    }

    /// The report of a recorded poll; articles changed by it matched again.
    fn report(
        self,
        stats: IngestStats,
        outcome: Outcome,
        next: DateTime<Utc>,
    ) -> Result<Report, StoreError> {
        let now = self.now;
        if !stats.rematch.is_empty() && !self.config.topics.is_empty() {
            // Changed articles, and articles another source carried first, were matched with
            // this source alone: match them again with every source that carries them.
            let candidates = self.store.match_candidates_for(&stats.rematch)?;
            rematch_candidates(&self.store, &self.config, &candidates, now)?;
        }
        Ok(Report {
            source: self.source.id,
            outcome: match outcome {
                Outcome::Stored { dropped, pages, .. } => Outcome::Stored {
                    stats,
                    dropped,
                    pages,
                },
                other => other,
            },
            next_poll: next,
        })
    }

    /// Normalizes a listing. Items the store already has unchanged are only identified, not
    /// normalized again (most items of a re-polled feed).
    fn prepare(&self, body: &Body, listing: &Listing) -> Read {
        crate::guard::failpoint("poll", &self.source.id);
        let ctx = normalize::Context {
            source_id: &self.source.id,
            source_host: body.final_url.host_str().unwrap_or_default(),
            timezone: self.source.timezone,
            now: self.now,
        };
        let mut p = prepare(
            &self.store,
            listing,
            &ctx,
            &self.config.topics,
            &self.source.tags,
        );
        if !kind::updates_known(&self.source) {
            keep_known(&self.store, &mut p);
        }
        Read {
            articles: p.articles,
            seen: p.seen,
            carried: Vec::new(),
            dropped: p.dropped,
            hint: listing.poll_hint.max(body.max_age),
            note: kind::note(&self.source, listing),
            identified: p.identified,
        }
    }

    /// A failed poll: backoff from the failure count, at least `wait` (Retry-After).
    fn failed(
        &self,
        error: PollError,
        wait: Option<Duration>,
    ) -> (PollRecord, Outcome, DateTime<Utc>) {
        let mut next = next_poll(&self.schedule, self.now, None, self.failures + 1);
        if let Some(w) = wait {
            next = next
                .max(self.now + chrono::Duration::from_std(w.min(MAX_DELAY)).unwrap_or_default());
        }
        (
            PollRecord::Failed {
                error: error.to_string(),
                gone: false,
            },
            Outcome::Failed(error),
            next,
        )
    }
}

/// When to poll next: the schedule's next tick, pushed later (never earlier) by the publisher's
/// hint (`<ttl>`, `sy:updatePeriod`, Cache-Control max-age) and by exponential backoff with
/// jitter after `failures` consecutive failures; never more than [`MAX_DELAY`] away.
pub fn next_poll(
    schedule: &crate::config::Schedule,
    now: DateTime<Utc>,
    hint: Option<Duration>,
    failures: u32,
) -> DateTime<Utc> {
    let cap = now + chrono::Duration::from_std(MAX_DELAY).unwrap_or_default();
    let mut next = schedule.next_after(now).unwrap_or(cap).min(cap);
    if let Some(h) = hint {
        next = next.max(now + chrono::Duration::from_std(h.min(MAX_DELAY)).unwrap_or_default());
    }
    if failures > 0 {
        let exp = BACKOFF_BASE.saturating_mul(1u32 << (failures - 1).min(16));
        let jitter = rand::rng().random_range(0.8..1.2);
        let backoff = exp.mul_f64(jitter).min(MAX_DELAY);
        next = next.max(now + chrono::Duration::from_std(backoff).unwrap_or_default());
    }
    next.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Schedule;
    use chrono::TimeZone;

    #[test]
    fn next_poll_never_earlier_than_schedule_and_capped() {
        let s = Schedule::parse("0 */15 * * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 3, 1, 0).unwrap();
        let tick = Utc.with_ymd_and_hms(2026, 11, 28, 3, 15, 0).unwrap();
        assert_eq!(next_poll(&s, now, None, 0), tick);
        assert_eq!(next_poll(&s, now, Some(Duration::from_secs(60)), 0), tick);
        assert_eq!(
            next_poll(&s, now, Some(Duration::from_secs(3600)), 0),
            now + chrono::Duration::hours(1)
        );
        assert_eq!(
            next_poll(&s, now, Some(Duration::from_secs(90 * 3600)), 0),
            now + chrono::Duration::hours(24)
        );
        let after_5 = next_poll(&s, now, None, 5);
        assert!(
            after_5 >= now + chrono::Duration::minutes(64)
                && after_5 <= now + chrono::Duration::minutes(96),
            "{after_5}"
        );
        assert_eq!(
            next_poll(&s, now, None, 40),
            now + chrono::Duration::hours(24)
        );
    }
}
