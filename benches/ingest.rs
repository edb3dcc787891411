//! Ingest throughput: parse → normalize → dedup → store, into a fresh SQLite file.
//!
//! `cargo bench --bench ingest` (optionally `-- FEEDS ITEMS_PER_FEED`). Feeds are generated:
//! realistic Vietnamese items (NFD and old tone style mixed in, CDATA HTML summaries, the date
//! forms of real outlets, tracking parameters), and a second pass re-ingests every feed so the
//! "already known" path is measured too. Reports items per second for each stage and in total.

use std::time::{Duration, Instant};

use bantin::date::DateOrder;
use bantin::ingest::entry::DateContext;
use bantin::ingest::feed;
use bantin::ingest::normalize::Context;
use bantin::store::{PollRecord, SourceSpec, Store};
use chrono::{TimeZone, Utc};

const TITLES: &[&str] = &[
    "Tăng cường công tác dân vận trong tình hình mới",
    "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ tháng 11",
    "Đẩy mạnh cải cách hành chính, chuyển đổi số quốc gia",
    "Phát huy vai trò của Mặt trận Tổ quốc Việt Nam ở cơ sở",
    "Hội nghị Ban Chấp hành Trung ương Đảng lần thứ mười bốn",
    "Ủy ban nhân dân thành phố triển khai quy chế dân chủ ở cơ sở",
    "Thông điệp về hoà bình và hợp tác phát triển bền vững",
    "Xây dựng Đảng và hệ thống chính trị trong sạch, vững mạnh",
];

const DATES: &[&str] = &[
    "Sat, 22 Aug 2026 23:55:31 +0700",
    "Fri, 21 Aug 2026 23:19:06 +07:00",
    "Sat, 22 Aug 2026 23:13:00 +07",
    "8/22/2026 9:15:00 PM",
];

fn feed(f: usize, items: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Báo</title><link>https://bao.example.vn/</link><description>d</description>\n",
    );
    for i in 0..items {
        let n = f * items + i;
        let title = TITLES[n % TITLES.len()];
        // Every fifth title arrives decomposed, as Nhân Dân's often do.
        let title: String = if n % 5 == 0 {
            unicode_nfd(title)
        } else {
            title.to_string()
        };
        s.push_str(&format!(
            "<item><title><![CDATA[ {title} (số {n}) ]]></title>\
             <link>https://bao.example.vn/thoi-su/bai-viet-so-{n}-post{n}.html?utm_source=rss&amp;at_medium=RSS</link>\
             <guid isPermaLink=\"false\">{n}</guid><pubDate>{}</pubDate>\
             <description><![CDATA[<a href=\"https://bao.example.vn/{n}\"><img src=\"https://bao.example.vn/{n}.jpg\" /></a><p>Chiều 22/8, tại Hà Nội, đồng chí Trưởng ban đã chủ trì hội nghị về {title}. Hội nghị nhấn mạnh việc <b>đổi mới</b> phương thức, nâng cao chất lượng, hiệu quả; lắng nghe ý kiến của nhân dân và giải quyết kịp thời những vấn đề bức xúc ở cơ sở.</p>]]></description></item>\n",
            DATES[n % DATES.len()]
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn unicode_nfd(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd().collect()
}

/// Per-stage times of one pass over all feeds.
#[derive(Clone, Copy, Default)]
struct Pass {
    parse: Duration,
    /// identify, probe the store, normalize what is new or changed
    normalize: Duration,
    store: Duration,
    total: Duration,
    new: usize,
    unchanged: usize,
}

fn run_pass(store: &Store, docs: &[String], now: chrono::DateTime<Utc>) -> Pass {
    let base = url::Url::parse("https://bao.example.vn/rss/home.rss").expect("url");
    let dates = DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: DateOrder::Mdy,
        now,
    };
    let ctx = Context {
        source_id: "bench",
        source_host: "bao.example.vn",
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        now,
    };
    let topics = bantin::topics::Matcher::empty();
    let mut p = Pass::default();
    let start = Instant::now();
    for doc in docs {
        let t = Instant::now();
        let parsed = feed::parse(doc.as_bytes(), Some("utf-8"), &base, dates).expect("parse");
        p.parse += t.elapsed();
        // The daemon's path: identify, ask the store what it has unchanged, normalize the rest.
        let t = Instant::now();
        let prepared = bantin::ingest::prepare(store, &parsed, &ctx, &topics, &[]);
        p.normalize += t.elapsed();
        let t = Instant::now();
        let record = PollRecord::Fetched {
            articles: prepared.articles,
            seen: prepared.seen,
            carried: Vec::new(),
            etag: None,
            last_modified: None,
            moved_to: None,
            pages: false,
            note: None,
            complete: true,
        };
        let stats = store
            .record_poll("bench", &record, now, now)
            .expect("store");
        p.store += t.elapsed();
        p.new += stats.new;
        p.unchanged += stats.unchanged;
    }
    p.total = start.elapsed();
    p
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let feeds = args.first().copied().unwrap_or(200);
    let per_feed = args.get(1).copied().unwrap_or(100);
    let rounds = args.get(2).copied().unwrap_or(5).max(1);
    let docs: Vec<String> = (0..feeds).map(|f| feed(f, per_feed)).collect();
    let items = feeds * per_feed;
    let bytes: usize = docs.iter().map(String::len).sum();
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 3, 0, 0)
        .single()
        .expect("now");
    println!(
        "ingest bench: {feeds} feeds x {per_feed} items = {items} items, {:.1} MiB of XML, {rounds} rounds, one thread",
        bytes as f64 / 1048576.0
    );

    // Each round: a fresh database, a first pass (every item new), a second pass (every item
    // known). The median round (by total time) is reported: this is a shared VM.
    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("bench.db")).expect("open store");
        let spec = SourceSpec {
            id: "bench".into(),
            url: "https://bao.example.vn/rss".into(),
        };
        store.sync_sources(&[spec]).expect("sync");
        let first = run_pass(&store, &docs, now);
        assert_eq!(
            (first.new, first.unchanged),
            (items, 0),
            "first pass stores every item"
        );
        let second = run_pass(&store, &docs, now);
        assert_eq!(
            (second.new, second.unchanged),
            (0, items),
            "second pass finds every item"
        );
        assert_eq!(store.article_count().expect("count"), items as u64);
        firsts.push(first);
        seconds.push(second);
    }
    for (name, mut passes) in [
        ("first pass (all new)", firsts),
        ("second pass (all known)", seconds),
    ] {
        passes.sort_by_key(|p| p.total);
        let totals: Vec<String> = passes
            .iter()
            .map(|p| format!("{:.0}", items as f64 / p.total.as_secs_f64()))
            .collect();
        let p = passes[passes.len() / 2];
        let rate = |d: Duration| items as f64 / d.as_secs_f64();
        println!("{name}: median round");
        println!("  parse      {:>8.0} items/s", rate(p.parse));
        println!("  normalize  {:>8.0} items/s", rate(p.normalize));
        println!("  store      {:>8.0} items/s", rate(p.store));
        println!(
            "  total      {:>8.0} items/s  (all rounds: {})",
            rate(p.total),
            totals.join(", ")
        );
    }
}
