//! `[storage]`: where the database is and how long articles are kept.
//!
//! Keys: `path` (default `data/bantin.db`, relative to the working directory) and `keep_days`
//! (1 to 36,500, default 365).

use std::path::PathBuf;

use super::reader::{Reporter, Section};

const DEFAULT_DB: &str = "data/bantin.db";
const DEFAULT_KEEP_DAYS: u32 = 365;
const STORAGE_KEYS: &[&str] = &["path", "keep_days"];

#[derive(Debug, Clone)]
pub struct Storage {
    /// SQLite database file; relative paths are relative to the working directory.
    pub path: PathBuf,
    /// Articles first seen longer ago than this are pruned (their identity keys stay as
    /// tombstones, so they never come back as new).
    pub keep_days: u32,
}

pub(super) fn read_storage(r: &mut Reporter, root: &Section) -> Storage {
    match root.table(r, "storage") {
        Some(t) => {
            let s = Storage {
                path: t
                    .string(r, "path")
                    .map(|s| PathBuf::from(s.as_ref()))
                    .unwrap_or_else(|| DEFAULT_DB.into()),
                keep_days: t
                    .integer_in(r, "keep_days", 1..=36_500)
                    .map(|n| n as u32)
                    .unwrap_or(DEFAULT_KEEP_DAYS),
            };
            t.finish(r, STORAGE_KEYS);
            s
        }
        None => Storage {
            path: DEFAULT_DB.into(),
            keep_days: DEFAULT_KEEP_DAYS,
        },
    }
}
