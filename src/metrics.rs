//! Process counters for `/metrics` and `/healthz`: atomics the daemon and the HTTP server bump,
//! read without locks. Counts from the database (articles, matches, sources) are read at
//! request time instead.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Units of work whose panics are caught and counted: a source poll, an article page job, a
/// digest compose or send, an HTTP request.
pub const PANIC_UNITS: [&str; 4] = ["poll", "page", "digest", "http"];

/// Outcome kinds of a poll, as counted.
pub const FETCH_OUTCOMES: [&str; 6] = [
    "stored",
    "empty",
    "not_modified",
    "gone",
    "failed",
    "cancelled",
];

#[derive(Debug, Default)]
pub struct Metrics {
    fetches: [AtomicU64; FETCH_OUTCOMES.len()],
    /// (route, status) → requests. Routes are the router's paths ([`crate::site::paths`]),
    /// built at run time from the formats, so they are owned.
    http: Mutex<BTreeMap<(String, u16), u64>>,
    /// Unix time of the scheduler loop's last turn (0: never).
    heartbeat: AtomicI64,
    /// Caught panics, by unit ([`PANIC_UNITS`]).
    panics: [AtomicU64; PANIC_UNITS.len()],
}

impl Metrics {
    /// Counts a poll outcome (one of [`FETCH_OUTCOMES`]; others are ignored).
    pub fn fetched(&self, outcome: &str) {
        if let Some(i) = FETCH_OUTCOMES.iter().position(|o| *o == outcome) {
            self.fetches[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn fetch_counts(&self) -> Vec<(&'static str, u64)> {
        FETCH_OUTCOMES
            .iter()
            .zip(&self.fetches)
            .map(|(o, n)| (*o, n.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn request(&self, route: &str, status: u16) {
        let mut m = self.http.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_owned(), status)).or_default() += 1;
    }

    pub fn request_counts(&self) -> Vec<((String, u16), u64)> {
        let m = self.http.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Counts a caught panic of a unit of work (one of [`PANIC_UNITS`]; others are ignored).
    pub fn panicked(&self, unit: &str) {
        if let Some(i) = PANIC_UNITS.iter().position(|u| *u == unit) {
            self.panics[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn panic_counts(&self) -> Vec<(&'static str, u64)> {
        PANIC_UNITS
            .iter()
            .zip(&self.panics)
            .map(|(u, n)| (*u, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Called by the scheduler at every turn of its loop.
    pub fn beat(&self, now: i64) {
        self.heartbeat.store(now, Ordering::Relaxed);
    }

    pub fn last_beat(&self) -> i64 {
        self.heartbeat.load(Ordering::Relaxed)
    }
}
