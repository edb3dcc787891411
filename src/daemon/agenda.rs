//! When each source is due, kept in memory: a turn of the loop looks at the earliest entry
//! instead of reading every source's row. (Reading them all at every turn, and a turn after
//! every finished poll, made a round of 1,000 sources cost 1,000 × 1,000 row reads.)
//!
//! The database stays the record. Each poll stores its source's next time on the source's row
//! and reports it; the agenda takes it from the report. The agenda is loaded from the rows
//! ([`Agenda::load`]) at start, after a reload and every few seconds, so that what others write
//! there (`bantin fetch` run beside the daemon, an admin's edit, a reload's reset of a moved
//! source) is followed soon; a load leaves the sources in flight alone, since their rows are
//! about to change and their reports will say how.
//!
//! Sources due at the same time are polled in config order, as the rows are given: the shipped
//! politeness admits a few polls at a time, and a config lists its hosts' feeds in the order
//! the admin chose.
//!
//! Invariants: a configured source that is not gone is either waiting (at one time) or in
//! flight, never both; a gone source is neither; nothing is in flight twice. Pure: `now` is a
//! parameter.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::ingest::{Outcome, PollError, Report};
use crate::store::{PollTime, SourceHealth};

/// When each configured source is due, and which are being polled.
#[derive(Debug, Default)]
pub(super) struct Agenda {
    /// Waiting sources by due time, then config position: the first is the next due.
    waiting: BTreeSet<(DateTime<Utc>, usize, String)>,
    /// The due time of each waiting source (with its position, its key in `waiting`).
    due_at: HashMap<String, (DateTime<Utc>, usize)>,
    in_flight: HashSet<String>,
    /// The sources of the last load, each with its position in it: a report of any other is
    /// dropped.
    known: HashMap<String, usize>,
}

/// What became of a poll, for the agenda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Its next poll, as recorded on its row.
    At(DateTime<Utc>),
    /// Gone (HTTP 410): not polled again until a reload changes its URL.
    Never,
    /// Its row says (nothing could be recorded, or the task was lost): taken from the next load.
    Unknown,
}

impl Next {
    /// What a poll's report says of its source's next poll. A poll that recorded nothing
    /// (cancelled, or its source unknown) leaves the row as it was: the next load reads it.
    pub(super) fn of(report: &Report) -> Next {
        match &report.outcome {
            Outcome::Gone => Next::Never,
            Outcome::Cancelled
            | Outcome::Failed(PollError::UnknownSource | PollError::Database(_)) => Next::Unknown,
            _ => Next::At(report.next_poll),
        }
    }
}

impl Agenda {
    /// Takes the sources' rows (those of the configured sources, in config order): every source not in flight
    /// waits for the time its row says, now when it was never polled; gone sources are dropped,
    /// and so are the sources no longer configured.
    pub(super) fn load(&mut self, rows: &[PollTime]) {
        self.known = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.waiting.clear();
        self.due_at.clear();
        for row in rows {
            if row.health == SourceHealth::Gone || self.in_flight.contains(&row.id) {
                continue;
            }
            self.wait(&row.id, row.next_poll.unwrap_or(DateTime::<Utc>::MIN_UTC));
        }
    }

    /// The waiting sources due at `now`, earliest first; they are in flight from now on.
    pub(super) fn take_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((at, _, _)) = self.waiting.first() {
            if *at > now {
                break;
            }
            if let Some((_, _, id)) = self.waiting.pop_first() {
                self.due_at.remove(&id);
                self.in_flight.insert(id.clone());
                due.push(id);
            }
        }
        due
    }

    /// When the first waiting source is due; None when none waits.
    pub(super) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.waiting.first().map(|(at, _, _)| *at)
    }

    /// A poll of `id` is over: the source waits for `next`.
    pub(super) fn finished(&mut self, id: &str, next: Next) {
        self.in_flight.remove(id);
        if let Next::At(at) = next {
            if self.known.contains_key(id) {
                self.wait(id, at);
            }
        }
    }

    fn wait(&mut self, id: &str, at: DateTime<Utc>) {
        let position = self.known.get(id).copied().unwrap_or(usize::MAX);
        if let Some((old, p)) = self.due_at.insert(id.to_string(), (at, position)) {
            self.waiting.remove(&(old, p, id.to_string()));
        }
        self.waiting.insert((at, position, id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 3, min, 0).unwrap()
    }

    fn row(id: &str, health: SourceHealth, next: Option<u32>) -> PollTime {
        PollTime {
            id: id.to_string(),
            health,
            next_poll: next.map(t),
        }
    }

    #[test]
    fn sources_come_due_in_order_and_once() {
        use SourceHealth::*;
        let mut a = Agenda::default();
        a.load(&[
            row("later", Ok, Some(30)),
            row("soon", Failing, Some(10)),
            row("new", Pending, None),
            row("gone", Gone, Some(0)),
        ]);
        assert_eq!(a.next_due(), Some(DateTime::<Utc>::MIN_UTC));
        assert_eq!(a.take_due(t(0)), ["new"]);
        assert_eq!(a.next_due(), Some(t(10)));
        assert_eq!(a.take_due(t(9)), Vec::<String>::new());
        assert_eq!(a.take_due(t(30)), ["soon", "later"]);
        assert_eq!(a.next_due(), None);
        // Nothing in flight comes due again until its poll is over.
        assert_eq!(a.take_due(t(59)), Vec::<String>::new());
        a.finished("soon", Next::At(t(45)));
        a.finished("later", Next::Never);
        a.finished("new", Next::Unknown);
        assert_eq!(a.next_due(), Some(t(45)));
        assert_eq!(a.take_due(t(50)), ["soon"]);
    }

    #[test]
    fn a_load_follows_the_rows_but_leaves_polls_in_flight_alone() {
        use SourceHealth::*;
        let mut a = Agenda::default();
        a.load(&[row("a", Ok, Some(5)), row("b", Ok, Some(1))]);
        assert_eq!(a.take_due(t(1)), ["b"]);
        // Another process polled "a" (its row moved), "b" is in flight and its row is about to
        // change, "c" is new in the config, "d" is reset (its URL changed in a reload).
        a.load(&[
            row("a", Ok, Some(40)),
            row("b", Ok, Some(1)),
            row("c", Pending, None),
            row("d", Pending, None),
        ]);
        assert_eq!(a.take_due(t(2)), ["c", "d"]);
        a.finished("b", Next::At(t(20)));
        assert_eq!(a.next_due(), Some(t(20)));
        // A source dropped from the config is not scheduled again when its poll ends.
        a.load(&[row("a", Ok, Some(40))]);
        a.finished("c", Next::At(t(3)));
        assert_eq!(a.take_due(t(59)), ["a"]);
        assert_eq!(a.next_due(), None);
    }

    #[test]
    fn sources_due_together_come_in_config_order() {
        let mut a = Agenda::default();
        let rows = ["nguon-2", "nguon-10", "nguon-1"].map(|id| row(id, SourceHealth::Ok, Some(5)));
        a.load(&rows);
        assert_eq!(a.take_due(t(5)), ["nguon-2", "nguon-10", "nguon-1"]);
        // Back from their polls in another order, they keep theirs.
        for id in ["nguon-1", "nguon-2", "nguon-10"] {
            a.finished(id, Next::At(t(20)));
        }
        assert_eq!(a.take_due(t(20)), ["nguon-2", "nguon-10", "nguon-1"]);
    }

    #[test]
    fn a_poll_whose_result_is_unknown_is_taken_from_the_next_load() {
        let mut a = Agenda::default();
        a.load(&[row("a", SourceHealth::Ok, Some(0))]);
        assert_eq!(a.take_due(t(0)), ["a"]);
        a.finished("a", Next::Unknown);
        assert_eq!(a.next_due(), None);
        a.load(&[row("a", SourceHealth::Ok, Some(0))]);
        assert_eq!(a.take_due(t(0)), ["a"]);
    }
}
