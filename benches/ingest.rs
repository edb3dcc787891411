//! Ingest throughput: parse → normalize → dedup → store, into a fresh SQLite file.
//!
//! `cargo bench --bench ingest` (optionally `-- FEEDS ITEMS_PER_FEED`). Feeds are generated:
//! realistic Vietnamese items (NFD and old tone style mixed in, CDATA HTML summaries, the date
//! forms of real outlets, tracking parameters), and a second pass re-ingests every feed so the
//! "already known" path is measured too. Reports items per second for each stage and in total.

use std::time::{Duration, Instant};

use bantin::date::DateOrder;
use bantin::ingest::normalize::{self, Context};
use bantin::ingest::parse::{self, DateContext};
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

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let feeds = args.first().copied().unwrap_or(200);
    let per_feed = args.get(1).copied().unwrap_or(100);
    let docs: Vec<String> = (0..feeds).map(|f| feed(f, per_feed)).collect();
    let total_items = feeds * per_feed;
    let bytes: usize = docs.iter().map(String::len).sum();

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db")).expect("open store");
    store
        .sync_sources(&[SourceSpec {
            id: "bench".into(),
            url: "https://bao.example.vn/rss".into(),
        }])
        .expect("sync");
    let base = url::Url::parse("https://bao.example.vn/rss/home.rss").expect("url");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 3, 0, 0)
        .single()
        .expect("now");
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

    println!(
        "ingest bench: {feeds} feeds x {per_feed} items = {total_items} items, {:.1} MiB of XML",
        bytes as f64 / 1048576.0
    );
    for pass in ["first pass (all new)", "second pass (all known)"] {
        let (mut t_parse, mut t_norm, mut t_store) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let (mut new, mut unchanged) = (0, 0);
        let start = Instant::now();
        for doc in &docs {
            let t = Instant::now();
            let parsed = parse::parse(doc.as_bytes(), Some("utf-8"), &base, dates).expect("parse");
            t_parse += t.elapsed();
            let t = Instant::now();
            let n = normalize::normalize(&parsed, &ctx);
            t_norm += t.elapsed();
            let t = Instant::now();
            let stats = store
                .record_poll(
                    "bench",
                    &PollRecord::Fetched {
                        articles: n.articles,
                        etag: None,
                        last_modified: None,
                        moved_to: None,
                    },
                    now,
                    now,
                )
                .expect("store");
            t_store += t.elapsed();
            new += stats.new;
            unchanged += stats.unchanged;
        }
        let all = start.elapsed();
        let rate = |d: Duration| total_items as f64 / d.as_secs_f64();
        println!("{pass}: {new} new, {unchanged} unchanged");
        println!("  parse      {:>10.0} items/s", rate(t_parse));
        println!("  normalize  {:>10.0} items/s", rate(t_norm));
        println!("  store      {:>10.0} items/s", rate(t_store));
        println!(
            "  total      {:>10.0} items/s  ({:.2} s)",
            rate(all),
            all.as_secs_f64()
        );
    }
    println!("articles stored: {}", store.article_count().expect("count"));
}
