//! Subscribers' digest windows and the outbox: the tables that make "delivered exactly once" a
//! property of the schema.
//!
//! - A subscriber's `window_end` only moves forward, and only in the transaction that records
//!   the digest for the window it closes: windows never overlap and never leave gaps.
//! - An outbox row is written (with everything its bytes are built from, and its Message-ID)
//!   before any attempt to send it, and `(email, window_start)` is UNIQUE: a crash before
//!   sending resends the same message; nothing composes a second one for the same window.
//! - A message may keep what the messages of its window share apart, once per window
//!   ([`SharedPart`], table `outbox_shared`), referred to by each message; the part goes with the
//!   last message referring to it (a trigger).
//! - Status moves pending → sent (with the server's reply) or → failed (permanent); a transient
//!   failure stays pending with a later `next_attempt`.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{from_unix, unix_ms, Store, StoreError, StoredArticle};

/// What the store knows of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberState {
    pub email: String,
    /// When the subscriber first appeared in the config: their first digest starts here.
    pub added_at: DateTime<Utc>,
    /// End of the last window a digest was made for (`added_at` before the first).
    pub window_end: DateTime<Utc>,
    pub unsubscribed_all: bool,
    pub unsubscribed_topics: Vec<String>,
    /// Why the last digest could not be composed (a bug caught at its edge), until one is.
    pub compose_error: Option<String>,
    /// Not composed again before this.
    pub compose_retry: Option<DateTime<Utc>>,
}

/// A digest in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub email: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub message_id: String,
    pub subject: String,
    pub articles: u32,
    /// "pending", "sent" or "failed".
    pub status: String,
    pub attempts: u32,
    pub next_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub reply: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// What it carries: a subscriber's digest, or an admin's alerts.
    pub kind: OutboxKind,
}

/// What an outbox row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxKind {
    Digest,
    /// Admin alerts ([`crate::alerts`]): sent to `[alerts] email`, who need not subscribe.
    Alert,
}

impl OutboxKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Digest => "digest",
            OutboxKind::Alert => "alert",
        }
    }

    fn parse(s: &str) -> OutboxKind {
        match s {
            "alert" => OutboxKind::Alert,
            _ => OutboxKind::Digest,
        }
    }
}

/// What [`Store::close_window`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Yes,
    /// The window does not start where the last one ended (another sender closed it).
    Refused,
    /// Articles arrived in the window while it was composed: compose it again.
    Changed,
}

/// A composed digest to record.
#[derive(Debug, Clone)]
pub struct NewDigest {
    pub email: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub message_id: String,
    pub subject: String,
    /// The message's own part (with `shared`, the whole message).
    pub message: Vec<u8>,
    pub articles: u32,
    /// What it shares with the other messages of its window, recorded once for all of them.
    pub shared: Option<Arc<SharedPart>>,
}

/// What the messages of one window share: recorded with the first of them, referred to by the
/// others.
#[derive(Debug)]
pub struct SharedPart {
    bytes: Vec<u8>,
    /// Its row, once the transaction that inserted it has committed.
    recorded: Mutex<Option<i64>>,
}

impl SharedPart {
    pub fn new(bytes: Vec<u8>) -> SharedPart {
        SharedPart {
            bytes,
            recorded: Mutex::new(None),
        }
    }

    fn recorded(&self) -> MutexGuard<'_, Option<i64>> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A stored message: its own part, and the id of the part it shares with its window's (read
/// with [`Store::outbox_shared`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub message: Vec<u8>,
    pub shared: Option<i64>,
}

impl Store {
    /// Records subscribers not seen before, their windows starting `now` (a new subscriber
    /// starts with what arrives after they were added, not with the whole history).
    pub fn sync_subscribers(
        &self,
        emails: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut add = tx.prepare_cached(
                "INSERT INTO subscribers (email, added_at, window_end) VALUES (?1, ?2, ?2)
                 ON CONFLICT(email) DO NOTHING",
            )?;
            for e in emails {
                add.execute(params![e, unix_ms(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn subscriber_state(&self, email: &str) -> Result<Option<SubscriberState>, StoreError> {
        let conn = self.lock()?;
        let row = conn
            .prepare_cached(
                "SELECT email, added_at, window_end, unsubscribed_all, unsubscribed_topics,
                        compose_error, compose_retry
                 FROM subscribers WHERE email = ?1",
            )?
            .query_row([email], |r| {
                let topics: String = r.get(4)?;
                Ok(SubscriberState {
                    email: r.get(0)?,
                    added_at: from_unix(r.get(1)?).unwrap_or_default(),
                    window_end: from_unix(r.get(2)?).unwrap_or_default(),
                    unsubscribed_all: r.get(3)?,
                    unsubscribed_topics: topics
                        .split('\n')
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect(),
                    compose_error: r.get(5)?,
                    compose_retry: r.get::<_, Option<i64>>(6)?.and_then(from_unix),
                })
            })
            .optional()?;
        Ok(row)
    }

    /// Records that `email`'s digest could not be composed, and when to try again.
    pub fn compose_failed(
        &self,
        email: &str,
        error: &str,
        retry: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock()?.execute(
            "UPDATE subscribers SET compose_error = ?2, compose_retry = ?3 WHERE email = ?1",
            params![email, error, unix_ms(retry)],
        )?;
        Ok(())
    }

    /// Articles first seen in `[since, until)` that match any of `topics`, newest first.
    pub fn digest_articles(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<StoredArticle>, StoreError> {
        let ids: Vec<i64> = {
            let conn = self.lock()?;
            // One range of the `matches_seen` index per topic: matches carry their article's
            // first_seen (schema 10).
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT article_id FROM matches
                 WHERE topic_id IN (SELECT value FROM json_each(?1))
                   AND first_seen >= ?2 AND first_seen < ?3",
            )?;
            let topics = serde_json::Value::from(topics.to_vec()).to_string();
            let rows = stmt.query_map(params![topics, unix_ms(since), unix_ms(until)], |r| {
                r.get(0)
            })?;
            rows.collect::<Result<_, _>>()?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.articles(&super::ArticleQuery {
            limit: ids.len(),
            ids: Some(ids),
            ..Default::default()
        })
    }

    /// The highest article id so far: taken before composing a window, it tells
    /// [`Store::close_window`] which articles the digest could not have seen.
    pub fn last_article_id(&self) -> Result<i64, StoreError> {
        let conn = self.lock()?;
        Ok(
            conn.query_row("SELECT coalesce(max(id), 0) FROM articles", [], |r| {
                r.get(0)
            })?,
        )
    }

    /// Closes a subscriber's window: records the digest (if it has one) and moves the window
    /// end, in one write transaction. Refuses, changing nothing, when the window does not start
    /// where the last one ended (windows never overlap and never leave gaps), and when an
    /// article after `composed_up_to` (see [`Store::last_article_id`]) was first seen before
    /// the window's end: a poll committed while the digest was being composed, and the window
    /// must be composed again, or that article would never be in a digest.
    pub fn close_window(
        &self,
        email: &str,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        composed_up_to: i64,
        digest: Option<&NewDigest>,
        now: DateTime<Utc>,
    ) -> Result<Closed, StoreError> {
        let mut conn = self.lock()?;
        // The write lock first: every poll that committed before it is seen here, and every
        // poll after it stamps its articles later than `window_end`
        // ([`Store::record_poll_now`]).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Cached statements: a mail-out runs these once per subscriber.
        let arrived: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM articles WHERE id > ?1 AND first_seen < ?2)",
            )?
            .query_row(params![composed_up_to, unix_ms(window_end)], |r| r.get(0))?;
        if arrived {
            return Ok(Closed::Changed);
        }
        let moved = tx
            .prepare_cached(
                "UPDATE subscribers SET window_end = ?3, compose_error = NULL, compose_retry = NULL
                 WHERE email = ?1 AND window_end = ?2 AND ?3 > ?2",
            )?
            .execute(params![email, unix_ms(window_start), unix_ms(window_end)])?;
        if moved == 0 {
            return Ok(Closed::Refused);
        }
        let mut shared_inserted = None;
        if let Some(d) = digest {
            let shared = match &d.shared {
                None => None,
                Some(part) => {
                    // Recorded with an earlier message of the window, and still there.
                    let recorded = *part.recorded();
                    let known = match recorded {
                        Some(id) => tx
                            .prepare_cached(
                                "SELECT EXISTS (SELECT 1 FROM outbox_shared WHERE id = ?1)",
                            )?
                            .query_row([id], |r| r.get::<_, bool>(0))?
                            .then_some(id),
                        None => None,
                    };
                    match known {
                        Some(id) => Some(id),
                        None => {
                            tx.prepare_cached("INSERT INTO outbox_shared (part) VALUES (?1)")?
                                .execute([&part.bytes])?;
                            let id = tx.last_insert_rowid();
                            shared_inserted = Some((part, id));
                            Some(id)
                        }
                    }
                }
            };
            tx.prepare_cached(
                "INSERT INTO outbox (email, window_start, window_end, message_id, subject, articles,
                                     status, attempts, next_attempt, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
            )?
            .execute(params![
                    d.email,
                    unix_ms(d.window_start),
                    unix_ms(d.window_end),
                    d.message_id,
                    d.subject,
                    d.articles,
                    unix_ms(now)
                ],
            )?;
            tx.prepare_cached(
                "INSERT INTO outbox_messages (id, message, shared) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tx.last_insert_rowid(), d.message, shared])?;
        }
        tx.commit()?;
        if let Some((part, id)) = shared_inserted {
            *part.recorded() = Some(id);
        }
        Ok(Closed::Yes)
    }

    /// Pending digests whose next attempt is due, oldest first; their messages are read one at
    /// a time ([`Store::outbox_message`]), as each is sent, not all at once (a day's mail-out
    /// to 10,000 subscribers is a gigabyte).
    pub fn due_digests(&self, now: DateTime<Utc>) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_where(
            "status = 'pending' AND next_attempt <= ?1 ORDER BY id",
            unix_ms(now),
        )
    }

    /// The stored message of digest `id` (None when there is no such digest).
    pub fn outbox_message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        let conn = self.lock()?;
        let message = conn
            .prepare_cached("SELECT message, shared FROM outbox_messages WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(StoredMessage {
                    message: r.get(0)?,
                    shared: r.get(1)?,
                })
            })
            .optional()?;
        Ok(message)
    }

    /// The part `id` that the messages of a window share (None when there is none).
    pub fn outbox_shared(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.lock()?;
        let part = conn
            .prepare_cached("SELECT part FROM outbox_shared WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(part)
    }

    /// The outbox, newest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.outbox_where("1 ORDER BY id DESC LIMIT ?1", limit)
    }

    fn outbox_where(&self, clause: &str, arg: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let conn = self.lock()?;
        let sql = format!(
            "SELECT id, email, window_start, window_end, message_id, subject, articles,
                    status, attempts, next_attempt, last_error, reply, sent_at, kind
             FROM outbox WHERE {clause}"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([arg], |r| {
            Ok(OutboxEntry {
                id: r.get(0)?,
                email: r.get(1)?,
                window_start: from_unix(r.get(2)?).unwrap_or_default(),
                window_end: from_unix(r.get(3)?).unwrap_or_default(),
                message_id: r.get(4)?,
                subject: r.get(5)?,
                articles: r.get(6)?,
                status: r.get(7)?,
                attempts: r.get(8)?,
                next_attempt: r.get::<_, Option<i64>>(9)?.and_then(from_unix),
                last_error: r.get(10)?,
                reply: r.get(11)?,
                sent_at: r.get::<_, Option<i64>>(12)?.and_then(from_unix),
                kind: OutboxKind::parse(&r.get::<_, String>(13)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims a due digest for one sender: pushes its next attempt `lease` ahead, so another
    /// process (a `bantin digest send` beside the daemon) does not send it too. False when it is
    /// no longer due (someone else has it, or it was sent). A live sender renews its claim
    /// ([`Store::renew_claim`]); one that dies leaves it to expire, and the digest is sent again
    /// then (same Message-ID).
    pub fn claim_digest(
        &self,
        id: i64,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let n = conn.execute(
            "UPDATE outbox SET next_attempt = ?3 WHERE id = ?1 AND status = 'pending' AND next_attempt <= ?2",
            params![id, unix_ms(now), unix_ms(now + lease)],
        )?;
        Ok(n == 1)
    }

    /// Extends a claim (a sender still at it) to `until`; never shortens it. Nothing happens
    /// when the digest is no longer pending.
    pub fn renew_claim(&self, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE outbox SET next_attempt = max(next_attempt, ?2) WHERE id = ?1 AND status = 'pending'",
            params![id, unix_ms(until)],
        )?;
        Ok(())
    }

    /// The server accepted the digest. A subscriber whose digests were failing is well again
    /// ([`crate::alerts`]).
    pub fn mark_sent(&self, id: i64, reply: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "UPDATE outbox SET status = 'sent', reply = ?2, sent_at = ?3, attempts = attempts + 1,
                               next_attempt = NULL, last_error = NULL
             WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, reply, unix_ms(now)])?;
        tx.prepare_cached(
            "UPDATE alert_state SET condition = 'ok', detail = NULL, since = ?2
             WHERE subject = (SELECT 'digest:' || email FROM outbox WHERE id = ?1 AND kind = 'digest')
               AND condition != 'ok'",
        )?
        .execute(params![id, unix_ms(now)])?;
        tx.commit()?;
        Ok(())
    }

    /// A transient failure: try again at `next_attempt`.
    pub fn mark_retry(
        &self,
        id: i64,
        error: &str,
        next_attempt: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id, error, unix_ms(next_attempt)],
        )?;
        Ok(())
    }

    /// A permanent failure: kept, visible, never retried. A digest's failure is its
    /// subscriber's condition for [`crate::alerts`] until one is sent.
    pub fn mark_failed(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let failed = tx.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, next_attempt = NULL
             WHERE id = ?1 AND status = 'pending'",
            params![id, error],
        )?;
        if failed == 1 {
            tx.execute(
                "INSERT INTO alert_state (subject, condition, detail, since)
                   SELECT 'digest:' || email, 'digest-failed', ?2, ?3 FROM outbox
                   WHERE id = ?1 AND kind = 'digest'
                 ON CONFLICT (subject) DO UPDATE SET detail = excluded.detail,
                   since = CASE WHEN condition = excluded.condition THEN since ELSE excluded.since END,
                   condition = excluded.condition",
                params![id, error, unix_ms(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A digest not sent because its subscriber left before it went: failed, and nothing to
    /// alert anyone about.
    pub fn mark_cancelled(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, next_attempt = NULL
             WHERE id = ?1 AND status = 'pending'",
            params![id, reason],
        )?;
        Ok(())
    }

    /// Unsubscribes from everything (`topic` None) or from one topic. Survives config reloads
    /// until [`Store::enable_subscriber`].
    pub fn unsubscribe(
        &self,
        email: &str,
        topic: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let n = match topic {
            None => conn.execute(
                "UPDATE subscribers SET unsubscribed_all = 1, unsubscribed_at = ?2 WHERE email = ?1",
                params![email, unix_ms(now)],
            )?,
            Some(t) => conn.execute(
                "UPDATE subscribers SET unsubscribed_at = ?3,
                   unsubscribed_topics = CASE
                     WHEN instr(char(10) || unsubscribed_topics || char(10), char(10) || ?2 || char(10)) > 0
                       THEN unsubscribed_topics
                     WHEN unsubscribed_topics = '' THEN ?2
                     ELSE unsubscribed_topics || char(10) || ?2 END
                 WHERE email = ?1",
                params![email, t, unix_ms(now)],
            )?,
        };
        Ok(n > 0)
    }

    /// Undoes every unsubscribe of `email`.
    pub fn enable_subscriber(&self, email: &str) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let n = conn.execute(
            "UPDATE subscribers SET unsubscribed_all = 0, unsubscribed_topics = '', unsubscribed_at = NULL
             WHERE email = ?1",
            [email],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, 0, 0).unwrap()
    }

    fn digest(email: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> NewDigest {
        NewDigest {
            email: email.into(),
            window_start: from,
            window_end: to,
            message_id: format!("digest.{}@test", to.timestamp()),
            subject: "Bản tin".into(),
            message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            articles: 2,
            shared: None,
        }
    }

    /// A fresh database with one subscriber, added at `at`.
    fn subscribed_at(at: DateTime<Utc>) -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let e = "hoa@example.vn".to_string();
        store
            .sync_subscribers(std::slice::from_ref(&e), at)
            .unwrap();
        (dir, store, e)
    }

    #[test]
    fn a_digest_failing_for_good_marks_its_subscriber_until_one_is_sent() {
        let (_dir, store, e) = subscribed_at(t(1));
        let condition = || {
            store
                .alert_states()
                .unwrap()
                .into_iter()
                .map(|s| (s.subject, s.condition, s.detail))
                .collect::<Vec<_>>()
        };
        for (from, to) in [(t(1), t(7)), (t(7), t(8)), (t(8), t(9))] {
            store
                .close_window(&e, from, to, 0, Some(&digest(&e, from, to)), to)
                .unwrap();
        }
        let due = store.due_digests(t(9)).unwrap();
        store
            .mark_cancelled(due[0].id, "cancelled: unsubscribed")
            .unwrap();
        assert!(
            condition().is_empty(),
            "a cancelled digest is nobody's failure"
        );
        store
            .mark_failed(due[1].id, "550 no such user", t(9))
            .unwrap();
        let failed = (
            "digest:hoa@example.vn".to_string(),
            "digest-failed".to_string(),
            Some("550 no such user".to_string()),
        );
        assert_eq!(condition(), [failed]);
        store.mark_sent(due[2].id, "250 ok", t(10)).unwrap();
        assert!(condition().is_empty(), "well again, and nothing was said");
    }

    #[test]
    fn windows_never_overlap_nor_leave_gaps_and_sending_is_recorded_once() {
        let (_dir, store, e) = subscribed_at(t(1));
        store
            .sync_subscribers(std::slice::from_ref(&e), t(5))
            .unwrap();
        let s = store.subscriber_state(&e).unwrap().unwrap();
        assert_eq!(
            (s.added_at, s.window_end),
            (t(1), t(1)),
            "a known subscriber keeps its window"
        );

        let close = |from, to, d: Option<&NewDigest>| store.close_window(&e, from, to, 0, d, to);
        assert_eq!(
            close(t(1), t(7), Some(&digest(&e, t(1), t(7)))).unwrap(),
            Closed::Yes
        );
        // The same window again, an overlapping one and one leaving a gap are refused.
        assert_eq!(
            close(t(1), t(7), Some(&digest(&e, t(1), t(7)))).unwrap(),
            Closed::Refused
        );
        assert_eq!(close(t(3), t(9), None).unwrap(), Closed::Refused);
        assert_eq!(close(t(8), t(9), None).unwrap(), Closed::Refused);
        // An empty window moves on without a message.
        assert_eq!(close(t(7), t(8), None).unwrap(), Closed::Yes);
        assert_eq!(
            store.subscriber_state(&e).unwrap().unwrap().window_end,
            t(8)
        );

        let due = store.due_digests(t(7)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            store.outbox_message(due[0].id).unwrap(),
            Some(StoredMessage {
                message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
                shared: None
            })
        );
        store.mark_retry(due[0].id, "451 try later", t(9)).unwrap();
        assert!(store.due_digests(t(8)).unwrap().is_empty());
        let due = store.due_digests(t(9)).unwrap();
        assert_eq!(due[0].attempts, 1);
        store.mark_sent(due[0].id, "250 ok", t(9)).unwrap();
        store.mark_failed(due[0].id, "too late", t(9)).unwrap();
        let all = store.outbox(10).unwrap();
        assert_eq!(
            (
                all[0].status.as_str(),
                all[0].attempts,
                all[0].reply.as_deref()
            ),
            ("sent", 2, Some("250 ok"))
        );
        assert!(store.due_digests(t(23)).unwrap().is_empty());
    }

    #[test]
    fn a_shared_part_is_stored_once_and_again_when_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let emails = ["hoa@example.vn", "an@example.vn", "binh@example.vn"].map(String::from);
        store.sync_subscribers(&emails, t(1)).unwrap();
        let part = Arc::new(SharedPart::new(b"literals".to_vec()));
        let close = |e: &String| {
            let d = NewDigest {
                shared: Some(Arc::clone(&part)),
                ..digest(e, t(1), t(7))
            };
            let d = NewDigest {
                message_id: format!("{e}.{}", d.message_id),
                ..d
            };
            assert_eq!(
                store
                    .close_window(e, t(1), t(7), 0, Some(&d), t(7))
                    .unwrap(),
                Closed::Yes
            );
        };
        let shared_of = |e: &str| {
            let id: i64 = store
                .lock()
                .unwrap()
                .query_row("SELECT id FROM outbox WHERE email = ?1", [e], |r| r.get(0))
                .unwrap();
            store.outbox_message(id).unwrap().unwrap().shared.unwrap()
        };
        close(&emails[0]);
        close(&emails[1]);
        let first = shared_of(&emails[0]);
        assert_eq!(shared_of(&emails[1]), first);
        assert_eq!(
            store.outbox_shared(first).unwrap().as_deref(),
            Some(&b"literals"[..])
        );
        // Its messages deleted, the part goes; the next message of the window stores it again.
        store
            .lock()
            .unwrap()
            .execute("DELETE FROM outbox", [])
            .unwrap();
        assert_eq!(store.outbox_shared(first).unwrap(), None);
        close(&emails[2]);
        let again = shared_of(&emails[2]);
        assert_ne!(again, first, "ids are never given again");
        assert_eq!(
            store.outbox_shared(again).unwrap().as_deref(),
            Some(&b"literals"[..])
        );
    }

    #[test]
    fn unsubscribes_accumulate_and_are_undone_by_enable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let e = "an@example.vn".to_string();
        store
            .sync_subscribers(std::slice::from_ref(&e), t(1))
            .unwrap();
        store.unsubscribe(&e, Some("dan-van"), t(2)).unwrap();
        store.unsubscribe(&e, Some("dan-van"), t(2)).unwrap();
        store.unsubscribe(&e, Some("xay-dung-dang"), t(2)).unwrap();
        let s = store.subscriber_state(&e).unwrap().unwrap();
        assert_eq!(s.unsubscribed_topics, vec!["dan-van", "xay-dung-dang"]);
        assert!(!s.unsubscribed_all);
        store.unsubscribe(&e, None, t(3)).unwrap();
        assert!(
            store
                .subscriber_state(&e)
                .unwrap()
                .unwrap()
                .unsubscribed_all
        );
        assert!(store.enable_subscriber(&e).unwrap());
        let s = store.subscriber_state(&e).unwrap().unwrap();
        assert!(!s.unsubscribed_all && s.unsubscribed_topics.is_empty());
        assert!(!store.unsubscribe("nobody@example.vn", None, t(3)).unwrap());
    }
}
