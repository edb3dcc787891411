//! `[poll]`: when sources are polled and how politely: the schedule, concurrency over all
//! hosts and per host, spacing between requests to one host, timeouts, the body cap, the
//! user agent and when a quiet source is flagged stale.
//!
//! Keys: `schedule`, `concurrency`, `per_host`, `host_interval`, `timeout`, `connect_timeout`,
//! `max_bytes`, `user_agent`, `stale_days`. [`Schedule`], a cron schedule with its text, is
//! also what `[[sources]] schedule` and a subscriber's digest schedule are.

use std::str::FromStr;
use std::time::Duration;

use super::reader::{Reporter, Section};

/// Every 15 minutes, on the minute (cron with a seconds field).
pub const DEFAULT_SCHEDULE: &str = "0 */15 * * * *";
const DEFAULT_STALE_DAYS: u32 = 7;
const DEFAULT_USER_AGENT: &str = concat!(
    "bantin/",
    env!("CARGO_PKG_VERSION"),
    " (news bulletin; feed reader; polite polling)"
);

#[derive(Debug, Clone)]
pub struct Poll {
    pub schedule: Schedule,
    /// Fetches in flight at once, over all hosts.
    pub concurrency: usize,
    /// Fetches in flight at once to one host.
    pub per_host: usize,
    /// Minimum spacing between two requests to one host.
    pub host_interval: Duration,
    /// Total time for one fetch: connect, headers and body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Body cap, enforced while streaming.
    pub max_bytes: u64,
    pub user_agent: String,
    /// A source with no new article for this many days is flagged stale (sites move feeds
    /// without notice).
    pub stale_days: u32,
}

/// A cron schedule together with the text it came from (for display).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub text: String,
    pub cron: cron::Schedule,
}

/// Why a schedule's text is not a [`Schedule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron schedule {text:?}: {reason} (6 fields: sec min hour day month weekday, e.g. \"0 */15 * * * *\")")]
    Invalid { text: String, reason: String },
    /// Valid cron, but no time ever matches it (February 30th).
    #[error("cron schedule {text:?} never fires")]
    NeverFires { text: String },
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let cron = cron::Schedule::from_str(text).map_err(|e| {
            // The cron crate's messages span several lines (with a caret); keep the last one.
            let e = e.to_string();
            let reason = e
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && *l != "^")
                .unwrap_or("");
            ScheduleError::Invalid {
                text: text.to_string(),
                reason: reason.to_string(),
            }
        })?;
        if cron.upcoming(chrono::Utc).next().is_none() {
            return Err(ScheduleError::NeverFires {
                text: text.to_string(),
            });
        }
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }

    /// The first tick strictly after `t`.
    pub fn next_after(
        &self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.cron.after(&t).next()
    }
}

const POLL_KEYS: &[&str] = &[
    "schedule",
    "concurrency",
    "per_host",
    "host_interval",
    "timeout",
    "connect_timeout",
    "max_bytes",
    "user_agent",
    "stale_days",
];

pub(super) fn read_poll(r: &mut Reporter, root: &Section) -> Poll {
    let default_schedule =
        || Schedule::parse(DEFAULT_SCHEDULE).expect("the default schedule is valid");
    let mut poll = Poll {
        schedule: default_schedule(),
        concurrency: 8,
        per_host: 2,
        host_interval: Duration::from_secs(1),
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        max_bytes: 16 * 1024 * 1024,
        user_agent: DEFAULT_USER_AGENT.to_string(),
        stale_days: DEFAULT_STALE_DAYS,
    };
    let Some(t) = root.table(r, "poll") else {
        return poll;
    };
    if let Some(s) = t.parsed(r, "schedule", Schedule::parse) {
        poll.schedule = s;
    }
    if let Some(n) = t.integer_in(r, "concurrency", 1..=256) {
        poll.concurrency = n as usize;
    }
    if let Some(n) = t.integer_in(r, "per_host", 1..=16) {
        poll.per_host = n as usize;
    }
    if let Some(d) = t.duration(r, "host_interval") {
        poll.host_interval = d;
    }
    if let Some(d) = t.duration(r, "timeout") {
        poll.timeout = d;
    }
    if let Some(d) = t.duration(r, "connect_timeout") {
        poll.connect_timeout = d;
    }
    if let Some(n) = t.integer_in(r, "max_bytes", 1024..=1 << 34) {
        poll.max_bytes = n as u64;
    }
    if let Some(s) = t.string(r, "user_agent") {
        poll.user_agent = s.into_inner();
    }
    if let Some(n) = t.integer_in(r, "stale_days", 1..=3650) {
        poll.stale_days = n as u32;
    }
    t.finish(r, POLL_KEYS);
    poll
}
