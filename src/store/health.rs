//! The sources' health at a glance, counted once for everything that shows it: `/healthz`,
//! `/metrics`, the daemon's status line. Pure: computed from the stored [`SourceState`]s,
//! `now` and `[poll] stale_days`.

use chrono::{DateTime, Utc};

use super::{SourceHealth, SourceState};

/// Sources by health, and the stale ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSummary {
    /// Sources counted.
    pub sources: usize,
    /// Sources in each state, in the order of [`SourceHealth::ALL`].
    counts: [usize; SourceHealth::ALL.len()],
    /// Ids of the stale sources ([`SourceState::stale_days`]), in the order given.
    pub stale: Vec<String>,
}

impl HealthSummary {
    pub fn of(states: &[SourceState], now: DateTime<Utc>, stale_days: u32) -> HealthSummary {
        let mut counts = [0; SourceHealth::ALL.len()];
        for s in states {
            counts[position(s.health)] += 1;
        }
        HealthSummary {
            sources: states.len(),
            counts,
            stale: states
                .iter()
                .filter(|s| s.stale_days(now, stale_days).is_some())
                .map(|s| s.id.clone())
                .collect(),
        }
    }

    /// Sources in state `health`.
    pub fn count(&self, health: SourceHealth) -> usize {
        self.counts[position(health)]
    }

    /// Every state with its count, in the order of [`SourceHealth::ALL`].
    pub fn counts(&self) -> impl Iterator<Item = (SourceHealth, usize)> + '_ {
        SourceHealth::ALL.into_iter().zip(self.counts)
    }

    /// Failing, gone or stale sources: they degrade the service without making it unavailable.
    pub fn troubled(&self) -> usize {
        self.count(SourceHealth::Failing) + self.count(SourceHealth::Gone) + self.stale.len()
    }
}

fn position(health: SourceHealth) -> usize {
    SourceHealth::ALL
        .iter()
        .position(|h| *h == health)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn state(id: &str, health: SourceHealth, days_quiet: Option<i64>) -> SourceState {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        SourceState {
            items: None,
            usual_items: None,
            id: id.to_owned(),
            current_url: format!("https://{id}.example.vn/rss"),
            etag: None,
            last_modified: None,
            health,
            last_attempt: days_quiet.map(|_| now),
            last_success: None,
            last_error: None,
            failures: 0,
            next_poll: None,
            articles: 0,
            last_new: None,
            first_attempt: days_quiet.map(|d| now - chrono::Duration::days(d)),
            last_note: None,
        }
    }

    #[test]
    fn counts_and_stale_sources() {
        use SourceHealth::*;
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let states = [
            state("a", Ok, Some(1)),
            state("b", Ok, Some(9)),
            state("c", Failing, Some(2)),
            state("d", Gone, Some(30)),
            state("e", Pending, None),
            state("f", Empty, Some(8)),
        ];
        let h = HealthSummary::of(&states, now, 7);
        assert_eq!(h.sources, 6);
        let counts: Vec<(SourceHealth, usize)> = h.counts().collect();
        assert_eq!(
            counts,
            [(Pending, 1), (Ok, 2), (Failing, 1), (Gone, 1), (Empty, 1)]
        );
        // Gone sources are never stale: they are not polled any more.
        assert_eq!(h.stale, ["b", "f"]);
        assert_eq!(h.troubled(), 1 + 1 + 2);
        assert_eq!(HealthSummary::of(&[], now, 7), HealthSummary::default());
    }
}
