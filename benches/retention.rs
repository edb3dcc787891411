//! Retention and backup on a large database: `cargo bench --bench retention` (optionally
//! `-- ARTICLES`, default 100,000).
//!
//! Stores ARTICLES articles (about 4 KB of HTML each, two identity keys, one topic match) first
//! seen 400 days ago into a fresh SQLite file, then times `prune --dry-run`, `backup` of the full
//! database, and `prune` of everything (incremental vacuum included), with file sizes.

use std::time::Instant;

use bantin::article::NewArticle;
use bantin::store::{PollRecord, SourceSpec, Store};
use bantin::topics::TopicMatch;
use chrono::{Duration, Utc};

const BATCH: usize = 2_000;

fn article(i: usize) -> NewArticle {
    let title = format!("Hội nghị tổng kết công tác dân vận năm 2026, bài số {i}");
    let paragraph = "<p>Ban Dân vận Thành ủy tổ chức hội nghị tổng kết công tác dân vận; phong trào thi đua dân vận khéo đã lan tỏa đến từng khu phố, ấp và tổ dân phố.</p>";
    let content = paragraph.repeat(24);
    let now = Utc::now() - Duration::days(400);
    NewArticle {
        keys: vec![format!("url:{i:064}"), format!("guid:bao.example.vn:{i}")],
        url: Some(format!("https://bao.example.vn/tin-{i}.html")),
        canonical_url: Some(format!("https://bao.example.vn/tin-{i}.html")),
        host: Some("bao.example.vn".into()),
        guid: Some(i.to_string()),
        title_key: format!("hoi nghi tong ket {i}"),
        title,
        title_guessed: false,
        summary_html: Some(paragraph.to_string()),
        search_text: bantin::text::match_key(&content),
        search_layout: None,
        content_html: Some(content),
        authors: vec!["THU HƯƠNG".into()],
        published: now.fixed_offset(),
        date_guessed: false,
        date_raw: None,
        content_hash: format!("{i:064x}"),
        matches: vec![TopicMatch {
            topic: "dan-van".into(),
            phrases: vec!["dân vận".into()],
        }],
        media: Vec::new(),
    }
}

fn mib(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bantin.db");
    let store = Store::open(&path).expect("open");
    store
        .sync_sources(&[SourceSpec {
            id: "bao".into(),
            url: "https://bao.example.vn/rss".into(),
        }])
        .expect("sources");
    let old = Utc::now() - Duration::days(400);
    let t = Instant::now();
    for start in (0..n).step_by(BATCH) {
        let record = PollRecord::Fetched {
            articles: (start..(start + BATCH).min(n)).map(article).collect(),
            seen: Vec::new(),
            carried: Vec::new(),
            etag: None,
            last_modified: None,
            moved_to: None,
            pages: false,
            note: None,
            complete: true,
        };
        store.record_poll("bao", &record, old, old).expect("store");
    }
    println!(
        "setup: {n} articles stored in {:.1}s; database {:.1} MiB",
        t.elapsed().as_secs_f64(),
        mib(&path)
    );
    let cutoff = Utc::now() - Duration::days(365);

    let t = Instant::now();
    let dry = store.prune(cutoff, true).expect("dry run");
    println!(
        "prune --dry-run: {:.2}s ({} articles would go)",
        t.elapsed().as_secs_f64(),
        dry.articles
    );

    let copy = dir.path().join("backup.db");
    let t = Instant::now();
    store
        .backup(&copy, &bantin::store::BackupOptions::default())
        .expect("backup");
    println!(
        "backup: {:.2}s ({:.1} MiB)",
        t.elapsed().as_secs_f64(),
        mib(&copy)
    );

    let t = Instant::now();
    let done = store.prune(cutoff, false).expect("prune");
    println!(
        "prune: {:.2}s ({} articles, {} tombstones kept, {:.1} MiB reclaimed); database now {:.1} MiB",
        t.elapsed().as_secs_f64(),
        done.articles,
        done.tombstones,
        done.bytes_reclaimed as f64 / (1024.0 * 1024.0),
        mib(&path)
    );
}
