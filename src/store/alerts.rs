//! What admin alerts keep ([`crate::alerts`]): each subject's condition now and what was last
//! said of it (`alert_state`), and every alert said (`alerts`).
//!
//! - A subject is `source:ID` or `digest:EMAIL`. Its condition is written by whoever sees it: the
//!   alerts round for sources, [`Store::mark_failed`] / [`Store::mark_sent`] for digests.
//! - An alert is due when the condition differs from what was last said and nothing was said
//!   of that subject for a day: never more than one alert per subject per day.
//! - Alerts, what they say of each subject, their mail and their webhook POSTs are recorded in
//!   one transaction: an alert recorded is queued for every recipient, and is not said again.

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;

use super::outbox::OutboxKind;
use super::webhooks::{self, NewDelivery, ALERT_KIND, ALERT_SUBJECT};
use super::{from_unix, unix_ms, Store, StoreError};

/// Subjects are said no more often than this.
pub const ALERT_EVERY: Duration = Duration::days(1);

/// A subject's condition now, and what was last said of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertState {
    pub subject: String,
    /// `ok`, or what is wrong (`failing`, `gone`, `stale`, `fewer`, `digest-failed`).
    pub condition: String,
    /// What the condition is about (the last error, how many items); None when ok.
    pub detail: Option<String>,
    /// Since when the condition holds.
    pub since: DateTime<Utc>,
    /// The condition the last alert told (`ok` before any).
    pub reported: String,
    pub reported_at: Option<DateTime<Utc>>,
}

/// A condition as the alerts round sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub subject: String,
    pub condition: String,
    pub detail: Option<String>,
}

/// An alert to record: what changed, and what the message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub subject: String,
    pub condition: String,
    /// What was said before (`ok` when the subject was well).
    pub was: String,
    pub message: String,
    /// What `[alerts] webhook` is POSTed, when there is one.
    pub post: Option<AlertPost>,
}

/// An alert's POST to `[alerts] webhook`, queued with it (`store::webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPost {
    pub endpoint: String,
    pub body: Vec<u8>,
}

/// An alert said, as `bantin alerts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub subject: String,
    pub condition: String,
    pub was: String,
    pub message: String,
}

/// An alert's mail to one recipient, as the outbox keeps it.
#[derive(Debug, Clone)]
pub struct AlertMail {
    pub email: String,
    pub message_id: String,
    pub subject: String,
    /// The stored message (the postman's format).
    pub message: Vec<u8>,
}

impl Store {
    /// Writes the sources' conditions (`conditions`, every subject under `source:`); subjects
    /// under `source:` not among them (sources no longer configured) are forgotten.
    pub fn set_source_conditions(
        &self,
        conditions: &[Condition],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut set = tx.prepare_cached(
                "INSERT INTO alert_state (subject, condition, detail, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (subject) DO UPDATE SET detail = excluded.detail,
                   since = CASE WHEN condition = excluded.condition THEN since ELSE excluded.since END,
                   condition = excluded.condition
                 WHERE condition != excluded.condition OR detail IS NOT excluded.detail",
            )?;
            for c in conditions {
                set.execute(params![c.subject, c.condition, c.detail, unix_ms(now)])?;
            }
        }
        let subjects: Vec<&str> = conditions.iter().map(|c| c.subject.as_str()).collect();
        tx.execute(
            "DELETE FROM alert_state WHERE subject >= 'source:' AND subject < 'source;'
               AND subject NOT IN (SELECT value FROM json_each(?1))",
            [serde_json::to_string(&subjects).unwrap_or_default()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Subjects whose condition is not what was last said of them, and of which nothing was
    /// said for [`ALERT_EVERY`].
    pub fn due_alerts(&self, now: DateTime<Utc>) -> Result<Vec<AlertState>, StoreError> {
        self.alert_states_where(
            "condition != reported AND (reported_at IS NULL OR reported_at <= ?1)",
            unix_ms(now - ALERT_EVERY),
        )
    }

    /// Every subject that is not well, or of which something was said (the newest first).
    pub fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        self.alert_states_where("condition != 'ok' OR reported != 'ok' OR ?1", 0)
    }

    fn alert_states_where(&self, clause: &str, arg: i64) -> Result<Vec<AlertState>, StoreError> {
        let conn = self.lock()?;
        let sql = format!(
            "SELECT subject, condition, detail, since, reported, reported_at FROM alert_state
             WHERE {clause} ORDER BY since DESC, subject"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([arg], |r| {
            Ok(AlertState {
                subject: r.get(0)?,
                condition: r.get(1)?,
                detail: r.get(2)?,
                since: from_unix(r.get(3)?).unwrap_or_default(),
                reported: r.get(4)?,
                reported_at: r.get::<_, Option<i64>>(5)?.and_then(from_unix),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records `alerts` as said at `now` and queues `mails`, in one transaction. When a subject
    /// changed since the alerts were worked out (its condition is no longer the one its alert
    /// tells), nothing is recorded and the result is empty: the next round tells what holds then.
    pub fn record_alerts(
        &self,
        alerts: &[NewAlert],
        mails: &[AlertMail],
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now_ms = unix_ms(now);
        let mut recorded = Vec::new();
        for a in alerts {
            let said = tx
                .prepare_cached(
                    "UPDATE alert_state SET reported = ?2, reported_at = ?3
                     WHERE subject = ?1 AND condition = ?2 AND reported = ?4",
                )?
                .execute(params![a.subject, a.condition, now_ms, a.was])?;
            if said == 0 {
                return Ok(Vec::new());
            }
            tx.prepare_cached(
                "INSERT INTO alerts (at, subject, condition, was, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![now_ms, a.subject, a.condition, a.was, a.message])?;
            if let Some(post) = &a.post {
                let delivery = NewDelivery {
                    kind: ALERT_KIND,
                    subject: ALERT_SUBJECT,
                    article: None,
                    endpoint: &post.endpoint,
                    body: &post.body,
                };
                webhooks::queue(&tx, &delivery, now)?;
            }
            recorded.push(AlertRecord {
                id: tx.last_insert_rowid(),
                at: now,
                subject: a.subject.clone(),
                condition: a.condition.clone(),
                was: a.was.clone(),
                message: a.message.clone(),
            });
        }
        for m in mails {
            // A window of one instant, the alerts' own: `(email, window_start)` stays unique
            // beside the recipient's digests, whose windows never start at an alert's instant
            // but by a coincidence of milliseconds, which the next round gets past.
            tx.prepare_cached(
                "INSERT INTO outbox (email, window_start, window_end, message_id, subject, articles,
                                     status, attempts, next_attempt, created_at, kind)
                 VALUES (?1, ?2, ?2, ?3, ?4, 0, 'pending', 0, ?2, ?2, ?5)",
            )?
            .execute(params![
                m.email,
                now_ms,
                m.message_id,
                m.subject,
                OutboxKind::Alert.as_str()
            ])?;
            tx.prepare_cached("INSERT INTO outbox_messages (id, message) VALUES (?1, ?2)")?
                .execute(params![tx.last_insert_rowid(), m.message])?;
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// The alerts said, newest first.
    pub fn alerts(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, subject, condition, was, message FROM alerts ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(AlertRecord {
                id: r.get(0)?,
                at: from_unix(r.get(1)?).unwrap_or_default(),
                subject: r.get(2)?,
                condition: r.get(3)?,
                was: r.get(4)?,
                message: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn cond(subject: &str, condition: &str) -> Condition {
        Condition {
            subject: subject.into(),
            condition: condition.into(),
            detail: (condition != "ok").then(|| format!("{condition} detail")),
        }
    }

    fn say(store: &Store, due: &[AlertState], now: DateTime<Utc>) -> Vec<AlertRecord> {
        let alerts: Vec<NewAlert> = due
            .iter()
            .map(|d| NewAlert {
                subject: d.subject.clone(),
                condition: d.condition.clone(),
                was: d.reported.clone(),
                message: format!("{} is {}", d.subject, d.condition),
                post: None,
            })
            .collect();
        store.record_alerts(&alerts, &[], now).unwrap()
    }

    #[test]
    fn a_subject_is_said_once_a_day_at_most_and_its_last_state_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        store
            .set_source_conditions(&[cond("source:a", "failing"), cond("source:b", "ok")], t(0))
            .unwrap();
        let due = store.due_alerts(t(0)).unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(say(&store, &due, t(0)).len(), 1);
        assert!(store.due_alerts(t(0)).unwrap().is_empty());
        // Recovered within the day: held back until a day after the last alert.
        store
            .set_source_conditions(&[cond("source:a", "ok"), cond("source:b", "ok")], t(2))
            .unwrap();
        assert!(store.due_alerts(t(23)).unwrap().is_empty());
        // Failing again before then: nothing to say, it is what was said.
        store
            .set_source_conditions(&[cond("source:a", "failing"), cond("source:b", "ok")], t(5))
            .unwrap();
        assert!(store.due_alerts(t(30)).unwrap().is_empty());
        store
            .set_source_conditions(&[cond("source:a", "ok"), cond("source:b", "ok")], t(31))
            .unwrap();
        let due = store.due_alerts(t(31)).unwrap();
        assert_eq!(
            (due[0].condition.as_str(), due[0].reported.as_str()),
            ("ok", "failing")
        );
        let said = say(&store, &due, t(31));
        assert_eq!(said[0].was, "failing");
        assert_eq!(store.alerts(10).unwrap().len(), 2);
    }

    #[test]
    fn a_condition_that_changed_meanwhile_is_not_said() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        store
            .set_source_conditions(&[cond("source:a", "failing")], t(0))
            .unwrap();
        let due = store.due_alerts(t(0)).unwrap();
        store
            .set_source_conditions(&[cond("source:a", "ok")], t(0))
            .unwrap();
        assert!(say(&store, &due, t(0)).is_empty());
        assert!(store.alerts(10).unwrap().is_empty());
    }

    #[test]
    fn sources_no_longer_configured_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        store
            .set_source_conditions(&[cond("source:a", "gone"), cond("source:b", "stale")], t(0))
            .unwrap();
        store
            .set_source_conditions(&[cond("source:b", "stale")], t(1))
            .unwrap();
        let subjects: Vec<String> = store
            .alert_states()
            .unwrap()
            .into_iter()
            .map(|s| s.subject)
            .collect();
        assert_eq!(subjects, ["source:b"]);
    }
}
