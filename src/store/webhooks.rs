//! The webhook outbox: POSTs to make, each a row written in the transaction that decided it, its
//! body frozen then; [`crate::webhook`] delivers them.
//!
//! - A topic's delivery is queued in the transaction that stores the article's new match
//!   ([`queue_matched`], called by `record_poll` and by the re-match that follows a poll): a
//!   crash never loses one, and `(kind, subject, article_id)` is UNIQUE, so an article goes to a
//!   topic's webhook at most once, whatever re-polls, edits or re-matches follow. A poll queues
//!   its articles oldest first (by publication), whatever order its feed lists them in.
//!   Re-matching after a topics edit queues nothing: old articles are not posted.
//! - Other kinds (an admin alert, say) queue their POST with [`queue`] inside their own open
//!   transaction (from another `store` module), or with [`Store::queue_delivery`] in one of its
//!   own; `kind` and `subject` say what the row is for, `endpoint` where it goes.
//! - Rows go out oldest first per endpoint, one at a time (head of line): the endpoint's next row
//!   waits until the one before it is delivered or has failed for good.
//! - Status moves pending → delivered (the body is dropped then: the receiver has it), → failed
//!   (refused for good; kept, body and all) or → cancelled (its webhook is gone from the
//!   config). A transient failure stays pending with a later `next_attempt`.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::{from_unix, read_articles, unix_ms, ArticleQuery, Store, StoreError, StoredArticle};

/// The kind of the rows a topic's webhook queues; their subject is the topic id.
pub const TOPIC_KIND: &str = "topic";
/// The kind of the rows `[alerts] webhook` gets, all under one subject ([`ALERT_SUBJECT`]).
pub const ALERT_KIND: &str = "alert";
pub const ALERT_SUBJECT: &str = "alerts";

/// What a poll needs to queue its topics' webhooks.
pub struct TopicHooks<'a> {
    /// (topic id, endpoint URL) of every topic that has a webhook.
    pub endpoints: &'a [(String, String)],
    /// The body POSTed for an article: what the topic's feeds show of it.
    pub render: &'a (dyn Fn(&StoredArticle) -> Vec<u8> + Sync),
}

impl TopicHooks<'_> {
    fn endpoint(&self, topic: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, e)| e.as_str())
    }
}

/// A POST to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// What queued it ([`TOPIC_KIND`], …).
    pub kind: &'a str,
    /// What it is about within its kind (a topic id, a source id).
    pub subject: &'a str,
    /// The article it carries, if any: one row per (kind, subject, article).
    pub article: Option<i64>,
    pub endpoint: &'a str,
    pub body: &'a [u8],
}

/// A queued POST, as the deliverer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    /// Its public id, sent with every attempt (`X-Bantin-Delivery`): a receiver that got it
    /// already (the process died before recording the answer) can tell.
    pub delivery: String,
    pub kind: String,
    pub subject: String,
    pub endpoint: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The deliveries of one (kind, subject, endpoint), as `bantin webhooks` lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookStatus {
    pub kind: String,
    pub subject: String,
    pub endpoint: String,
    /// Waiting to be delivered (first attempt or a retry).
    pub queued: u64,
    pub delivered: u64,
    /// Refused for good.
    pub failed: u64,
    /// Dropped: the webhook was removed from the config or changed its URL.
    pub cancelled: u64,
    /// Queued rows whose last attempt failed: the endpoint is failing now.
    pub failing: u64,
    /// The error of the newest row that has one (retrying or failed).
    pub last_error: Option<String>,
    pub last_delivered: Option<DateTime<Utc>>,
}

/// Queues `d` inside the caller's open transaction; false when that (kind, subject, article)
/// was queued before (nothing changes then).
pub(crate) fn queue(
    tx: &Transaction,
    d: &NewDelivery,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO webhook_outbox
               (delivery, kind, subject, article_id, endpoint, body, next_attempt, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![
            hex::encode(rand::random::<[u8; 16]>()),
            d.kind,
            d.subject,
            d.article,
            d.endpoint,
            d.body,
            unix_ms(now)
        ])?;
    Ok(n == 1)
}

/// Queues article `id` for the webhooks of `topics`, which it has just come to match (its
/// matches stored already, in `tx`). A syndicated copy of a story the topic already matched is
/// not posted: the receiver has the story (the topic's feeds show it once too).
pub(super) fn queue_matched(
    tx: &Transaction,
    hooks: &TopicHooks,
    id: i64,
    topics: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    let mut article: Option<Option<StoredArticle>> = None;
    for topic in topics {
        let Some(endpoint) = hooks.endpoint(topic) else {
            continue;
        };
        let a = match &article {
            Some(a) => a,
            None => article.insert(
                read_articles(
                    tx,
                    &ArticleQuery {
                        ids: Some(vec![id]),
                        limit: 1,
                        ..Default::default()
                    },
                )?
                .pop(),
            ),
        };
        let Some(a) = a else { return Ok(()) };
        if a.story != a.id {
            let known: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM matches WHERE topic_id = ?1 AND article_id = ?2)",
                )?
                .query_row(params![topic, a.story], |r| r.get(0))?;
            if known {
                continue;
            }
        }
        let body = (hooks.render)(a);
        let at = from_unix(now).unwrap_or_default();
        queue(
            tx,
            &NewDelivery {
                kind: TOPIC_KIND,
                subject: topic,
                article: Some(id),
                endpoint,
                body: &body,
            },
            at,
        )?;
    }
    Ok(())
}

const DELIVERY_COLUMNS: &str =
    "id, delivery, kind, subject, endpoint, body, attempts, next_attempt, created_at";

fn delivery(r: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        delivery: r.get(1)?,
        kind: r.get(2)?,
        subject: r.get(3)?,
        endpoint: r.get(4)?,
        body: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt: from_unix(r.get(7)?).unwrap_or_default(),
        created_at: from_unix(r.get(8)?).unwrap_or_default(),
    })
}

impl Store {
    /// Queues `d` in a transaction of its own (see [`queue`] to queue within one already open).
    pub fn queue_delivery(&self, d: &NewDelivery, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let queued = queue(&tx, d, now)?;
        tx.commit()?;
        Ok(queued)
    }

    /// The endpoints with a queued delivery: each one's oldest row (whether due or not).
    pub fn delivery_heads(&self) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_outbox
             WHERE id IN (SELECT min(id) FROM webhook_outbox WHERE status = 'pending'
                          GROUP BY endpoint)
             ORDER BY id"
        ))?;
        let rows = stmt.query_map([], delivery)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The oldest queued delivery to `endpoint`.
    pub fn delivery_head(&self, endpoint: &str) -> Result<Option<Delivery>, StoreError> {
        let conn = self.lock()?;
        let row = conn
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_outbox
                 WHERE endpoint = ?1 AND status = 'pending' ORDER BY id LIMIT 1"
            ))?
            .query_row([endpoint], delivery)
            .optional()?;
        Ok(row)
    }

    /// The receiver accepted delivery `id` (HTTP `response`): its body goes.
    pub fn mark_delivered(
        &self,
        id: i64,
        response: u16,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock()?.execute(
            "UPDATE webhook_outbox SET status = 'delivered', body = x'', response = ?2,
               delivered_at = ?3, attempts = attempts + 1, last_error = NULL
             WHERE id = ?1 AND status = 'pending'",
            params![id, response, unix_ms(now)],
        )?;
        Ok(())
    }

    /// A transient failure (`response` when the receiver answered): tried again at `next`.
    pub fn mark_delivery_retry(
        &self,
        id: i64,
        error: &str,
        response: Option<u16>,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock()?.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?2, response = ?3,
               next_attempt = ?4
             WHERE id = ?1 AND status = 'pending'",
            params![id, error, response, unix_ms(next)],
        )?;
        Ok(())
    }

    /// Refused for good: kept, with its body, never tried again.
    pub fn mark_delivery_failed(
        &self,
        id: i64,
        error: &str,
        response: Option<u16>,
    ) -> Result<(), StoreError> {
        self.lock()?.execute(
            "UPDATE webhook_outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2,
               response = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id, error, response],
        )?;
        Ok(())
    }

    /// Not to be sent: its webhook is no longer configured (`why` says so on the row).
    pub fn cancel_delivery(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.lock()?.execute(
            "UPDATE webhook_outbox SET status = 'cancelled', last_error = ?2
             WHERE id = ?1 AND status = 'pending'",
            params![id, why],
        )?;
        Ok(())
    }

    /// Every (kind, subject, endpoint) that has deliveries, with their counts.
    pub fn webhook_statuses(&self) -> Result<Vec<WebhookStatus>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT kind, subject, endpoint,
                    sum(status = 'pending'), sum(status = 'delivered'), sum(status = 'failed'),
                    sum(status = 'cancelled'), sum(status = 'pending' AND last_error IS NOT NULL),
                    (SELECT last_error FROM webhook_outbox l
                      WHERE l.kind = w.kind AND l.subject = w.subject AND l.endpoint = w.endpoint
                        AND l.last_error IS NOT NULL AND l.status IN ('pending', 'failed')
                      ORDER BY l.id DESC LIMIT 1),
                    max(delivered_at)
             FROM webhook_outbox w GROUP BY kind, subject, endpoint ORDER BY kind, subject, endpoint",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WebhookStatus {
                kind: r.get(0)?,
                subject: r.get(1)?,
                endpoint: r.get(2)?,
                queued: r.get(3)?,
                delivered: r.get(4)?,
                failed: r.get(5)?,
                cancelled: r.get(6)?,
                failing: r.get(7)?,
                last_error: r.get(8)?,
                last_delivered: r.get::<_, Option<i64>>(9)?.and_then(from_unix),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 8, m, 0).unwrap()
    }

    fn alert<'a>(subject: &'a str, endpoint: &'a str, body: &'a [u8]) -> NewDelivery<'a> {
        NewDelivery {
            kind: "alert",
            subject,
            article: None,
            endpoint,
            body,
        }
    }

    #[test]
    fn each_endpoint_sends_its_oldest_row_first_and_moves_on_only_when_it_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let (a, b) = ("https://a.example/hook", "https://b.example/hook");
        for (subject, endpoint, body) in [("1", a, "a1"), ("2", b, "b1"), ("3", a, "a2")] {
            assert!(store
                .queue_delivery(&alert(subject, endpoint, body.as_bytes()), t(0))
                .unwrap());
        }
        let heads = store.delivery_heads().unwrap();
        let bodies: Vec<&[u8]> = heads.iter().map(|d| d.body.as_slice()).collect();
        assert_eq!(bodies, [b"a1", b"b1"]);
        assert_ne!(heads[0].delivery, heads[1].delivery);

        // A retry keeps the row at the head of its endpoint.
        store
            .mark_delivery_retry(heads[0].id, "HTTP 500", Some(500), t(5))
            .unwrap();
        let head = store.delivery_head(a).unwrap().unwrap();
        assert_eq!(
            (head.id, head.attempts, head.next_attempt),
            (heads[0].id, 1, t(5))
        );
        store.mark_delivered(head.id, 204, t(6)).unwrap();
        assert_eq!(store.delivery_head(a).unwrap().unwrap().body, b"a2");
        store
            .mark_delivery_failed(heads[1].id, "HTTP 404", Some(404))
            .unwrap();
        assert_eq!(store.delivery_head(b).unwrap(), None);

        let statuses = store.webhook_statuses().unwrap();
        let of = |s: &str| statuses.iter().find(|x| x.subject == s).unwrap();
        assert_eq!((of("1").delivered, of("1").last_delivered), (1, Some(t(6))));
        assert_eq!(
            (of("2").failed, of("2").last_error.as_deref()),
            (1, Some("HTTP 404"))
        );
        assert_eq!((of("3").queued, of("3").failing), (1, 0));
        let body: Vec<u8> = store
            .lock()
            .unwrap()
            .query_row(
                "SELECT body FROM webhook_outbox WHERE id = ?1",
                [head.id],
                |r| r.get(0),
            )
            .unwrap();
        assert!(body.is_empty(), "a delivered row keeps no body");
    }

    #[test]
    fn a_poll_queues_its_new_matches_oldest_first_once_and_never_a_story_the_topic_has() {
        use crate::store::query_plans::{article, fetched};
        use crate::store::SourceSpec;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let sources = ["a", "b"].map(|id| SourceSpec {
            id: id.into(),
            url: format!("https://{id}.example.vn/rss"),
        });
        store.sync_sources(&sources).unwrap();
        let endpoints = [(
            "dan-van".to_string(),
            "https://hook.example.vn/".to_string(),
        )];
        let render = |a: &StoredArticle| a.title.clone().into_bytes();
        let hooks = TopicHooks {
            endpoints: &endpoints,
            render: &render,
        };
        let bodies = || -> Vec<(String, String)> {
            let conn = store.lock().unwrap();
            let mut stmt = conn
                .prepare("SELECT CAST(body AS TEXT), status FROM webhook_outbox ORDER BY id")
                .unwrap();
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        let title = |n: usize| article(n, &[]).title;
        let pending = |n: usize| (title(n), "pending".to_string());

        // Listed newest first, queued oldest first; an article no webhook's topic matches is not.
        let poll = vec![
            article(2, &["dan-van"]),
            article(1, &["dan-van"]),
            article(3, &[]),
        ];
        let record = fetched(poll.clone(), Vec::new());
        store
            .record_poll_now_and_queue("a", &record, t(0), &hooks)
            .unwrap();
        assert_eq!(bodies(), [pending(1), pending(2)]);
        // Polled again, changed: nothing new to post.
        let changed: Vec<_> = poll
            .into_iter()
            .map(|mut a| {
                a.content_hash.push_str("-edited");
                a
            })
            .collect();
        store
            .record_poll_now_and_queue("a", &fetched(changed, Vec::new()), t(0), &hooks)
            .unwrap();
        // Another outlet's copy of a story the topic has: not posted again.
        let mut copy = article(1, &["dan-van"]);
        copy.keys = vec!["url:https://b.example.vn/1.html".into()];
        copy.host = Some("b.example.vn".into());
        store
            .record_poll_now_and_queue("b", &fetched(vec![copy], Vec::new()), t(0), &hooks)
            .unwrap();
        assert_eq!(bodies(), [pending(1), pending(2)]);

        // A prune takes the settled rows with their articles; a queued one waits to be sent.
        let first = store.delivery_heads().unwrap()[0].id;
        store.mark_delivered(first, 200, t(1)).unwrap();
        store
            .prune(Utc::now() + chrono::Duration::days(1), false)
            .unwrap();
        assert_eq!(bodies(), [pending(2)]);
    }

    #[test]
    fn an_article_is_queued_once_per_kind_and_subject() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let d = |subject| NewDelivery {
            kind: TOPIC_KIND,
            subject,
            article: Some(7),
            endpoint: "https://a.example/hook",
            body: b"{}",
        };
        assert!(store.queue_delivery(&d("dan-van"), t(0)).unwrap());
        assert!(!store.queue_delivery(&d("dan-van"), t(1)).unwrap());
        assert!(store.queue_delivery(&d("kinh-te"), t(1)).unwrap());
        // Rows without an article are never the same row.
        let e = alert("nhandan", "https://a.example/hook", b"{}");
        assert!(store.queue_delivery(&e, t(0)).unwrap());
        assert!(store.queue_delivery(&e, t(0)).unwrap());
        let rows: i64 = store
            .lock()
            .unwrap()
            .query_row("SELECT count(*) FROM webhook_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4);
    }
}
