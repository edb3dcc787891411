//! The status line the service manager shows (`systemctl status`): a one-line [`Summary`] of
//! the sources' health, the last poll round, where feeds are served and a failed reload, and
//! the [`StatusLine`] last sent, so an unchanged line is not sent again and a new one stays up
//! long enough to be read.

use std::time::{Duration, Instant};

use crate::store::SourceHealth;

/// What the status line says: sources and their health, the last poll round, where feeds are
/// served, and a failed reload until one succeeds.
#[derive(Debug, Default)]
pub(super) struct Summary {
    pub(super) sources: usize,
    pub(super) failing: usize,
    pub(super) gone: usize,
    /// Articles new in the polls finished since the last time none was in flight.
    pub(super) round_new: usize,
    /// The same for the last round that finished; None before the first.
    pub(super) last_round_new: Option<usize>,
    pub(super) listen: Option<std::net::SocketAddr>,
    pub(super) reload_failed: Option<String>,
}

impl Summary {
    /// Takes the health of every configured source.
    pub(super) fn observe(&mut self, health: impl Iterator<Item = SourceHealth>) {
        (self.sources, self.failing, self.gone) = (0, 0, 0);
        for h in health {
            self.sources += 1;
            self.failing += usize::from(h == SourceHealth::Failing);
            self.gone += usize::from(h == SourceHealth::Gone);
        }
    }

    /// No poll is in flight any more: what they stored is one round.
    pub(super) fn round_finished(&mut self) {
        self.last_round_new = Some(std::mem::take(&mut self.round_new));
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", count(self.sources, "source"))?;
        match self.failing {
            0 => write!(f, ", none failing")?,
            n => write!(f, ", {n} failing")?,
        }
        if self.gone > 0 {
            write!(f, ", {} gone", self.gone)?;
        }
        match self.last_round_new {
            None => write!(f, "; no poll round finished yet")?,
            Some(n) => write!(f, "; {} new in the last poll round", count(n, "article"))?,
        }
        match self.listen {
            Some(addr) => write!(f, "; serving on {addr}")?,
            None => write!(f, "; not serving HTTP")?,
        }
        if let Some(e) = &self.reload_failed {
            write!(f, "; the last reload failed ({e})")?;
        }
        Ok(())
    }
}

/// "1 source", "16 sources".
pub(super) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The last status line sent to the service manager, and when.
pub(super) struct StatusLine {
    text: String,
    at: Instant,
}

impl Default for StatusLine {
    fn default() -> StatusLine {
        StatusLine {
            text: String::new(),
            at: Instant::now(),
        }
    }
}

impl StatusLine {
    pub(super) fn sent(&mut self, text: String) {
        self.text = text;
        self.at = Instant::now();
    }

    pub(super) fn changed(&self, text: &str) -> bool {
        self.text != text
    }

    pub(super) fn since(&self) -> Duration {
        self.at.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::reload::Reloaded;

    #[test]
    fn status_lines() {
        let check = |s: Summary, expected: &str| assert_eq!(s.to_string(), expected);
        let listen = Some("127.0.0.1:8080".parse().unwrap());
        check(
            Summary {
                sources: 16,
                listen,
                ..Summary::default()
            },
            "16 sources, none failing; no poll round finished yet; serving on 127.0.0.1:8080",
        );
        check(
            Summary {
                sources: 16,
                failing: 3,
                gone: 1,
                last_round_new: Some(12),
                listen,
                ..Summary::default()
            },
            "16 sources, 3 failing, 1 gone; 12 articles new in the last poll round; serving on 127.0.0.1:8080",
        );
        check(
            Summary {
                sources: 1,
                last_round_new: Some(1),
                reload_failed: Reloaded::Invalid(2).failure(),
                ..Summary::default()
            },
            "1 source, none failing; 1 article new in the last poll round; not serving HTTP; the last reload failed (2 problems)",
        );
    }

    #[test]
    fn rounds_end_when_no_poll_is_in_flight() {
        let mut s = Summary::default();
        s.round_new += 3;
        s.round_new += 4;
        s.round_finished();
        assert_eq!((s.last_round_new, s.round_new), (Some(7), 0));
        s.round_finished();
        assert_eq!(s.last_round_new, Some(0));
    }
}
