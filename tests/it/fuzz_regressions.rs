//! Every input a fuzz target ever crashed on, replayed through the same target body under plain
//! `cargo test` (stable): a crash fixed once stays fixed. Inputs live in `tests/fuzz/<target>/`,
//! one file each, named for what they exercise; the targets are in `fuzz/targets.rs` (README,
//! "Fuzzing").

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;

/// Runs every saved input of `target` through `run`; returns how many there were. A panic
/// fails the test and names the input.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    files.sort();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{} panics", f.display());
    }
    files.len()
}

/// The number of files under `tests/fuzz/` in all: a file saved under a misspelt target
/// directory would otherwise never run.
fn saved_inputs() -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    std::fs::read_dir(root)
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

/// The targets with saved inputs, and the function that replays them.
/// A target's body: bytes in, a panic on a defect.
type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 12] = [
    ("feed", targets::feed),
    ("html_list", targets::html_list),
    ("html_article", targets::html_article),
    ("date", targets::date),
    ("text", targets::text),
    ("topics", targets::topics),
    ("config", targets::config),
    ("unsubscribe", targets::unsubscribe),
    ("opml", targets::opml),
    ("sitemap", targets::sitemap),
    ("page_query", targets::page_query),
    ("search_query", targets::search_query),
];

#[test]
fn every_saved_crash_replays_without_panicking() {
    let replayed: usize = TARGETS.iter().map(|(name, run)| replay(name, *run)).sum();
    assert!(replayed > 0, "no saved input found under tests/fuzz/");
    // A file saved under a misspelt target directory would otherwise never run.
    assert_eq!(
        replayed,
        saved_inputs(),
        "files under tests/fuzz/ outside the nine targets"
    );
}
