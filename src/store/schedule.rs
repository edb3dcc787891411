//! The sources' poll times, as the scheduler reads them: each configured source's health and
//! next poll, from one pass over the `sources` table. Nothing else of a source is read (not its
//! article count, not its history), so the daemon can read it every few seconds whatever the
//! number of sources and articles.

use std::collections::HashMap;

use super::{from_unix, SourceHealth, Store, StoreError};
use chrono::{DateTime, Utc};

/// When a source is to be polled next, and its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTime {
    pub id: String,
    pub health: SourceHealth,
    /// None: never polled at its current URL (due now).
    pub next_poll: Option<DateTime<Utc>>,
}

impl Store {
    /// The poll times of the sources among `ids` that have a row, in the order of `ids`.
    pub fn poll_times(&self, ids: &[String]) -> Result<Vec<PollTime>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached("SELECT id, health, next_poll FROM sources")?;
        let rows = stmt.query_map([], |r| {
            Ok(PollTime {
                id: r.get(0)?,
                health: SourceHealth::parse(&r.get::<_, String>(1)?),
                next_poll: r.get::<_, Option<i64>>(2)?.and_then(from_unix),
            })
        })?;
        let mut by_id = HashMap::with_capacity(ids.len());
        for row in rows {
            let row = row?;
            by_id.insert(row.id.clone(), row);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PollRecord, SourceSpec};

    #[test]
    fn poll_times_are_those_of_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let spec = |id: &str| SourceSpec {
            id: id.into(),
            url: format!("https://{id}.example.vn/rss"),
        };
        store
            .sync_sources(&[spec("a"), spec("b"), spec("c")])
            .unwrap();
        let now = Utc::now();
        let next = now + chrono::Duration::minutes(15);
        store
            .record_poll("a", &PollRecord::NotModified { moved_to: None }, now, next)
            .unwrap();
        let gone = PollRecord::Failed {
            error: "gone".into(),
            gone: true,
        };
        store.record_poll("b", &gone, now, next).unwrap();
        let ids = ["a", "b", "unknown"].map(String::from);
        let times = store.poll_times(&ids).unwrap();
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        assert_eq!(
            times
                .iter()
                .map(|t| (t.id.as_str(), t.health, t.next_poll.map(ms)))
                .collect::<Vec<_>>(),
            [
                ("a", SourceHealth::Ok, Some(ms(next))),
                ("b", SourceHealth::Gone, Some(ms(next))),
            ]
        );
        let c = store.poll_times(&["c".to_string()]).unwrap();
        assert_eq!(c[0].next_poll, None);
        assert_eq!(c[0].health, SourceHealth::Pending);
    }
}
