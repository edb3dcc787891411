//! A year of news: `cargo bench --bench year` (optionally `-- DAYS PER_DAY`, default 365 3000).
//!
//! Builds, once, a database of DAYS × PER_DAY articles (a year of 3,000 a day: about a million)
//! from 200 sources and 20 topics, under `target/year/` (`target/year-DAYSxPER_DAY/` for other
//! sizes), through the store's own API: every day of the simulated year each source is polled
//! four times and `Store::record_poll` stores what it brought (Vietnamese titles, HTML
//! summaries, full article bodies for the quarter of the sources whose pages are fetched, two
//! identity keys, matches from the real topic matcher, syndicated copies that share a story,
//! cross-posts from a sibling category feed, page jobs); ten subscribers' daily digests are
//! closed and sent through the outbox. A build that was interrupted resumes where it stopped.
//!
//! Then it times, on that database, each figure of issue 12 next to its goal, with the CPU
//! time the process spent meanwhile (on a machine shared with other builds, the part of the
//! wall time that is not waiting for a core):
//!
//! - a poll of one source (10 new items, 40 known), parse to commit as the daemon does it,
//!   against the same poll on an empty database;
//! - an uncached topic feed (`site::feeds`, then RSS bytes: what HTTP serves), every topic;
//! - paged feeds (`pages`): 200 pages of the merged feed and of a topic, walked along their
//!   cursors, and every page of what arrived in the last 12 hours;
//! - the digest window query the postman runs (`Store::digest_articles`), each subscriber's day;
//! - `bantin search` (`Store::search`, the newest 50 of a two-word query, with and without
//!   diacritics, a phrase, rare and common words), each checked against a slow reference: the
//!   topic matcher run over every article of the last day, against the same query limited to
//!   that day;
//! - `bantin topics test` over 30 days (its code path, output thrown away);
//! - a re-match after a topics edit (`ingest::rematch` over `rematch_days`), then the one that
//!   puts the topics back;
//! - the prune of the oldest month (`Store::prune`), after which the month is generated again
//!   at the young end, so the database stays a year long (its clock moves a month per run).
//!
//! `cargo bench --bench year -- --generate` only builds (or tops up) the database;
//! `-- --only topics-test,prune` (any of `poll`, `feed`, `pages`, `digest`, `search`,
//! `topics-test`, `rematch`, `prune`) times only those figures, to profile one of them. The
//! database's clock ("now" of every figure) is the end of its last generated day, kept in its
//! `meta` table; nothing here reads the wall clock except to time.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bantin::article::NewArticle;
use bantin::config::Config;
use bantin::date::DateOrder;
use bantin::ingest::entry::DateContext;
use bantin::ingest::{feed, normalize};
use bantin::publish::Format;
use bantin::site::paths::Links;
use bantin::site::{feeds, Scope};
use bantin::store::{NewDigest, PollRecord, SourceSpec, Store};
use bantin::topics::{MatchInput, SourceRef};
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

const SOURCES: usize = 200;
const SUBSCRIBERS: usize = 10;
const POLLS_PER_DAY: usize = 4;
/// Day 0 of the simulated year.
const START: (i32, u32, u32) = (2025, 9, 1);
const DAY_MS: i64 = 86_400_000;
const META_DAYS: &str = "bench_year_days";
const META_FIRST: &str = "bench_year_first_day";

/// Topics: id, name, phrases planted, how often an article is about it (the rest of the
/// matches are chance hits of the running text).
const TOPICS: &[(&str, &str, &[&str], f64)] = &[
    (
        "dan-van",
        "Dân vận",
        &["công tác dân vận", "dân vận khéo", "Ban Dân vận"],
        0.040,
    ),
    (
        "xay-dung-dang",
        "Xây dựng Đảng",
        &["xây dựng Đảng", "chỉnh đốn Đảng"],
        0.060,
    ),
    (
        "chuyen-doi-so",
        "Chuyển đổi số",
        &["chuyển đổi số", "chính phủ số"],
        0.050,
    ),
    (
        "kinh-te",
        "Kinh tế",
        &["tăng trưởng kinh tế", "xuất khẩu"],
        0.080,
    ),
    (
        "quoc-phong",
        "Quốc phòng",
        &["quốc phòng toàn dân", "Quân đội nhân dân"],
        0.040,
    ),
    (
        "an-ninh",
        "An ninh trật tự",
        &["an ninh trật tự", "Công an nhân dân"],
        0.040,
    ),
    (
        "giao-duc",
        "Giáo dục",
        &["giáo dục đào tạo", "học sinh"],
        0.030,
    ),
    ("y-te", "Y tế", &["bệnh viện", "chăm sóc sức khỏe"], 0.030),
    (
        "nong-nghiep",
        "Nông nghiệp",
        &["nông thôn mới", "sản xuất nông nghiệp"],
        0.030,
    ),
    (
        "moi-truong",
        "Môi trường",
        &["biến đổi khí hậu", "bảo vệ môi trường"],
        0.020,
    ),
    (
        "doi-ngoai",
        "Đối ngoại",
        &["hoạt động đối ngoại", "ngoại giao"],
        0.020,
    ),
    ("mat-tran", "Mặt trận Tổ quốc", &["Mặt trận Tổ quốc"], 0.015),
    (
        "tham-nhung",
        "Phòng, chống tham nhũng",
        &["tham nhũng", "lãng phí"],
        0.010,
    ),
    (
        "cai-cach",
        "Cải cách hành chính",
        &["cải cách hành chính"],
        0.010,
    ),
    ("di-san", "Di sản văn hóa", &["di sản văn hóa"], 0.008),
    ("bien-dao", "Biển đảo", &["chủ quyền biển đảo"], 0.005),
    ("thanh-nien", "Thanh niên", &["Đoàn Thanh niên"], 0.004),
    ("phu-nu", "Phụ nữ", &["Hội Liên hiệp Phụ nữ"], 0.003),
    ("ton-giao", "Tôn giáo", &["tín ngưỡng, tôn giáo"], 0.002),
    (
        "dan-toc",
        "Dân tộc thiểu số",
        &["đồng bào dân tộc thiểu số"],
        0.001,
    ),
];

/// Running text: common syllables of Party and government news.
const VOCABULARY: &[&str] = &[
    "công",
    "tác",
    "nhân",
    "ủy",
    "ban",
    "tỉnh",
    "hội",
    "nghị",
    "chính",
    "phủ",
    "nhà",
    "nước",
    "phát",
    "triển",
    "xã",
    "văn",
    "hóa",
    "cán",
    "bộ",
    "đoàn",
    "thể",
    "thành",
    "phố",
    "hà",
    "nội",
    "trung",
    "ương",
    "cơ",
    "sở",
    "chủ",
    "quyền",
    "lợi",
    "người",
    "lao",
    "động",
    "thực",
    "hiện",
    "nhiệm",
    "vụ",
    "năm",
    "tháng",
    "ngày",
    "đồng",
    "chí",
    "bí",
    "thư",
    "tịch",
    "thủ",
    "tướng",
    "đại",
    "biểu",
    "lãnh",
    "đạo",
    "chỉ",
    "tăng",
    "cường",
    "đẩy",
    "mạnh",
    "nâng",
    "cao",
    "chất",
    "lượng",
    "hiệu",
    "quả",
    "quản",
    "lý",
    "đổi",
    "mới",
    "sáng",
    "tạo",
    "khoa",
    "học",
    "kỹ",
    "thuật",
    "ninh",
    "giới",
    "hải",
    "bảo",
    "vệ",
    "thôn",
    "nghiệp",
    "doanh",
    "đầu",
    "tư",
    "hạ",
    "tầng",
    "giao",
    "thông",
    "vốn",
    "ngân",
    "sách",
    "thuế",
    "chương",
    "trình",
    "kế",
    "hoạch",
    "mục",
    "tiêu",
    "giải",
    "pháp",
    "đề",
    "án",
    "dự",
    "luật",
    "pháp",
    "lệnh",
    "quyết",
    "định",
    "thông",
    "tư",
    "hướng",
    "dẫn",
    "kiểm",
    "tra",
    "giám",
    "sát",
    "đánh",
    "giá",
    "tổng",
    "kết",
    "sơ",
    "bàn",
    "thảo",
    "luận",
    "ý",
    "kiến",
    "đóng",
    "góp",
    "tiếp",
    "thu",
    "trách",
    "cộng",
    "địa",
    "phương",
    "huyện",
    "khu",
    "vực",
    "miền",
    "bắc",
    "nam",
    "tây",
    "đông",
    "sông",
    "núi",
    "rừng",
    "đất",
    "nguồn",
    "lực",
    "nhanh",
    "bền",
    "vững",
    "toàn",
    "diện",
    "sâu",
    "rộng",
    "lớn",
    "nhỏ",
    "tốt",
    "đẹp",
    "hơn",
    "nhất",
    "nhiều",
    "ít",
    "các",
    "những",
    "một",
    "hai",
    "ba",
    "bốn",
    "mười",
    "trăm",
    "nghìn",
    "triệu",
    "tỷ",
    "đồng",
    "và",
    "của",
    "cho",
    "với",
    "trong",
    "ngoài",
    "trên",
    "dưới",
    "đã",
    "đang",
    "sẽ",
    "được",
    "bị",
    "là",
    "có",
    "không",
    "này",
    "đó",
    "khi",
    "để",
    "theo",
    "từ",
    "đến",
    "tại",
    "về",
    "qua",
    "sau",
    "trước",
    "gắn",
    "liền",
    "thi",
    "đua",
    "khen",
    "thưởng",
    "gương",
    "điển",
    "hình",
    "tiên",
    "tiến",
    "sản",
    "xuất",
    "kinh",
    "doanh",
    "thị",
    "trường",
    "giá",
    "trị",
    "hàng",
    "hóa",
    "dịch",
    "vụ",
    "du",
    "lịch",
    "hạn",
    "mức",
    "tiến",
    "độ",
    "công",
    "trình",
    "dự",
    "án",
    "trọng",
    "điểm",
    "cấp",
    "bách",
];

const AUTHORS: &[&str] = &[
    "THU HƯƠNG",
    "MINH ANH",
    "PV",
    "NGỌC LAN",
    "VĂN HÙNG",
    "TTXVN",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A syllable of running text, the first ones of the list more often.
    fn syllable(&mut self) -> &'static str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        VOCABULARY[((u * u) * VOCABULARY.len() as f64) as usize]
    }
}

/// Sentences of 8–24 syllables, capitalized, with commas; `plant` somewhere inside.
fn sentences(rng: &mut Rng, syllables: usize, plant: Option<&str>) -> String {
    let mut out = String::with_capacity(syllables * 6);
    let mut in_sentence = 0;
    let mut sentence_len = 8 + rng.below(17);
    let plant_at = plant.map(|_| rng.below(syllables.max(1)));
    for i in 0..syllables {
        let word = match (plant_at, plant) {
            (Some(at), Some(p)) if at == i => p,
            _ => rng.syllable(),
        };
        if in_sentence == 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(if rng.below(10) == 0 { ", " } else { " " });
            out.push_str(word);
        }
        in_sentence += 1;
        if in_sentence == sentence_len {
            out.push('.');
            in_sentence = 0;
            sentence_len = 8 + rng.below(17);
        }
    }
    if in_sentence > 0 {
        out.push('.');
    }
    out
}

fn hex_sha256(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// One of the 200 sources: 70 sites, most with two or three category feeds.
struct SourceInfo {
    id: String,
    host: String,
    tags: Vec<String>,
    /// Its article pages are fetched: its articles carry their full text.
    pages: bool,
    /// Relative volume.
    weight: f64,
}

fn sources() -> Vec<SourceInfo> {
    (0..SOURCES)
        .map(|i| {
            let site = i * 70 / SOURCES;
            let tags = if site < 20 {
                vec!["trung-uong".to_string()]
            } else {
                vec!["dia-phuong".to_string()]
            };
            SourceInfo {
                id: format!("s{i:03}"),
                host: format!("bao{site:02}.example.vn"),
                tags,
                pages: i % 4 == 1,
                weight: 0.3 + ((i * 37) % 23) as f64 / 10.0,
            }
        })
        .collect()
}

fn config_files(dir: &Path, db: &Path, srcs: &[SourceInfo], edited: bool) -> PathBuf {
    let mut main = format!(
        "rematch_days = 30\ntopics_file = \"topics.toml\"\n\n[storage]\npath = {:?}\nkeep_days = 365\n",
        db.to_string_lossy()
    );
    for s in srcs {
        main.push_str(&format!(
            "\n[[sources]]\nid = \"{}\"\nname = \"Báo {}\"\nurl = \"https://{}/rss/{}.rss\"\ntags = [\"{}\"]\n",
            s.id,
            s.id,
            s.host,
            s.id,
            s.tags.join("\", \"")
        ));
    }
    let mut topics = String::new();
    for (i, (id, name, phrases, _)) in TOPICS.iter().enumerate() {
        let mut any: Vec<String> = phrases.iter().map(|p| format!("{p:?}")).collect();
        // The edit: the first topic loses its first phrase and gains a common one typed
        // without diacritics (matched accent-insensitively), as an editor widening a topic
        // would.
        if edited && i == 0 {
            any.remove(0);
            any.push("\"phat trien ben vung\"".into());
        }
        topics.push_str(&format!(
            "[[topics]]\nid = \"{id}\"\nname = \"{name}\"\nany = [{}]\n",
            any.join(", ")
        ));
        if *id == "dan-van" {
            topics
                .push_str("ignore = [\"nhân dân vận dụng\"]\nnone = [\"người dân vận chuyển\"]\n");
        }
        if *id == "di-san" {
            topics.push_str("sources = [\"tag:dia-phuong\"]\n");
        }
        if *id == "dan-toc" {
            topics.push_str("fields = [\"title\", \"summary\"]\n");
        }
        topics.push('\n');
    }
    let name = if edited { "edited" } else { "bantin" };
    std::fs::write(dir.join(format!("{name}-topics.toml")), topics).expect("write topics");
    let main = main.replace("topics.toml", &format!("{name}-topics.toml"));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, main).expect("write config");
    path
}

/// A `topics test` report's first line and digest: two versions of the code that give the
/// same report on the same database print the same.
fn print_report(report: &[u8]) {
    let first = report.split(|&b| b == b'\n').next().unwrap_or_default();
    println!(
        "  report: {} ({} bytes, sha256 {:x})",
        String::from_utf8_lossy(first),
        report.len(),
        Sha256::digest(report)
    );
}

fn load(path: &Path) -> Config {
    match bantin::config::load(path) {
        Ok(c) => c,
        Err(p) => panic!("bench config does not load:\n{p}"),
    }
}

fn start() -> DateTime<Utc> {
    let (y, m, d) = START;
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("start")
}

fn day_start(day: i64) -> DateTime<Utc> {
    start() + chrono::Duration::milliseconds(day * DAY_MS)
}

/// One poll's worth of new articles, ready for `record_poll`.
struct Poll {
    source: usize,
    at: DateTime<Utc>,
    articles: Vec<NewArticle>,
}

/// The articles of day `day`, grouped into polls in time order. Deterministic in `day`.
fn generate_day(day: i64, per_day: usize, srcs: &[SourceInfo], config: &Config) -> Vec<Poll> {
    let mut rng = Rng::new(day as u64 + 1);
    let total_weight: f64 = srcs.iter().map(|s| s.weight).sum();
    let mut polls: HashMap<(usize, usize), Vec<NewArticle>> = HashMap::new();
    // Titles of the day, for syndicated copies: (title, host).
    let mut titles: Vec<(String, usize)> = Vec::new();
    for n in 0..per_day {
        let g = day as usize * per_day + n;
        let mut pick = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total_weight;
        let mut source = 0;
        for (i, s) in srcs.iter().enumerate() {
            if pick < s.weight {
                source = i;
                break;
            }
            pick -= s.weight;
        }
        let slot = rng.below(POLLS_PER_DAY);
        let s = &srcs[source];
        let mut about: Vec<&str> = Vec::new();
        for t in TOPICS {
            if rng.chance(t.3) {
                about.push(t.2[rng.below(t.2.len())]);
            }
        }
        let syndicated = titles
            .len()
            .checked_sub(1)
            .filter(|_| rng.chance(0.03))
            .map(|last| &titles[last - rng.below(last.min(50) + 1)])
            .filter(|(_, host)| *host != source * 70 / SOURCES)
            .map(|(t, _)| t.clone());
        let title = syndicated.unwrap_or_else(|| {
            let plant = about.first().filter(|_| rng.chance(0.4)).copied();
            let len = 10 + rng.below(11);
            let t = sentences(&mut rng, len, plant);
            t.trim_end_matches('.').to_string()
        });
        titles.push((title.clone(), source * 70 / SOURCES));
        let plant_summary = about.first().copied();
        let mut summary = String::new();
        if rng.chance(0.4) {
            summary.push_str(&format!(
                "<a href=\"https://{}/tin-{g}.html\"><img src=\"https://{}/anh/{g}.jpg\" alt=\"\"></a>",
                s.host, s.host
            ));
        }
        summary.push_str(&format!("<p>{}</p>", {
            let len = 30 + rng.below(41);
            sentences(&mut rng, len, plant_summary)
        }));
        let content = s.pages.then(|| {
            let paragraphs = 6 + rng.below(13);
            let mut html = String::new();
            for p in 0..paragraphs {
                let plant = about.get(1 + p).copied();
                html.push_str("<p>");
                let len = 40 + rng.below(41);
                html.push_str(&sentences(&mut rng, len, plant));
                html.push_str("</p>");
            }
            html
        });
        let input = MatchInput::from_html(&title, Some(&summary), content.as_deref());
        let carriers = [SourceRef {
            id: &s.id,
            tags: &s.tags,
        }];
        let slug = format!("bai-viet-{g}");
        let canonical = format!("https://{}/{slug}-post{g}.html", s.host);
        let mut keys = vec![hex_sha256(&["url", &canonical])];
        if rng.chance(0.5) {
            keys.push(hex_sha256(&["guid", &s.host, &g.to_string()]));
        } else {
            keys.push(hex_sha256(&["title", &s.id, &title]));
        }
        let at = poll_time(day, slot, source);
        let published = at - chrono::Duration::minutes(5 + rng.below(300) as i64);
        let offset = chrono::FixedOffset::east_opt(7 * 3600).expect("offset");
        let article = NewArticle {
            content_hash: hex_sha256(&[&title, &summary]),
            url: Some(format!("{canonical}?utm_source=rss")),
            canonical_url: Some(canonical),
            host: Some(s.host.clone()),
            guid: Some(g.to_string()),
            title_key: input.normalized(bantin::topics::Field::Title).to_string(),
            search_text: normalize::search_text(&input),
            search_layout: Some(input.search_layout()),
            title,
            title_guessed: false,
            summary_html: Some(summary),
            content_html: content,
            authors: if rng.chance(0.5) {
                vec![AUTHORS[rng.below(AUTHORS.len())].to_string()]
            } else {
                Vec::new()
            },
            published: published.with_timezone(&offset),
            date_guessed: false,
            date_raw: None,
            matches: config.topics.matches(&input, &carriers),
            media: Vec::new(),
            keys,
        };
        polls.entry((slot, source)).or_default().push(article);
    }
    let mut out: Vec<Poll> = polls
        .into_iter()
        .map(|((slot, source), articles)| Poll {
            source,
            at: poll_time(day, slot, source),
            articles,
        })
        .collect();
    out.sort_by_key(|p| (p.at, p.source));
    out
}

/// Sources are polled at their own minute of each six-hour slot.
fn poll_time(day: i64, slot: usize, source: usize) -> DateTime<Utc> {
    day_start(day)
        + chrono::Duration::hours(6 * slot as i64)
        + chrono::Duration::seconds(source as i64 * 97)
}

fn days_generated(store: &Store) -> (i64, i64) {
    let get = |k| {
        store
            .meta(k)
            .expect("meta")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    (get(META_FIRST), get(META_DAYS))
}

/// Generates days `from..to`, committing each poll; the day count in `meta` follows.
fn generate(
    store: &Store,
    config: &Config,
    srcs: &[SourceInfo],
    per_day: usize,
    days: std::ops::Range<i64>,
) {
    if days.is_empty() {
        return;
    }
    let t = Instant::now();
    let emails: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("doc-gia-{i}@example.vn"))
        .collect();
    store
        .sync_subscribers(&emails, day_start(days.start))
        .expect("subscribers");
    let count = days.end - days.start;
    // Making the articles (text, keys, matching) on one core while the store writes on the
    // other.
    let (tx, rx) = mpsc::sync_channel::<(i64, Vec<Poll>)>(2);
    std::thread::scope(|scope| {
        let from = days.start;
        let to = days.end;
        scope.spawn(move || {
            for day in from..to {
                if tx
                    .send((day, generate_day(day, per_day, srcs, config)))
                    .is_err()
                {
                    break;
                }
            }
        });
        let mut cross: HashMap<usize, Vec<Vec<String>>> = HashMap::new();
        let mut rng = Rng::new(0xc0ffee);
        for (day, polls) in rx {
            for p in polls {
                let s = &srcs[p.source];
                // 8% are cross-posted by a sibling category feed of the same site, seen at
                // its next poll.
                let sibling = [p.source + 1, p.source.wrapping_sub(1)]
                    .into_iter()
                    .find(|&o| o < SOURCES && srcs[o].host == s.host);
                if let Some(o) = sibling {
                    for a in &p.articles {
                        if rng.chance(0.08) {
                            cross.entry(o).or_default().push(a.keys.clone());
                        }
                    }
                }
                let record = PollRecord::Fetched {
                    articles: p.articles,
                    seen: cross.remove(&p.source).unwrap_or_default(),
                    carried: Vec::new(),
                    etag: Some(format!("\"{}\"", p.at.timestamp())),
                    last_modified: None,
                    moved_to: None,
                    pages: s.pages,
                    note: None,
                    complete: true,
                };
                let next = p.at + chrono::Duration::hours(6);
                store
                    .record_poll(&s.id, &record, p.at, next)
                    .expect("record poll");
            }
            digests(store, &emails, day);
            store
                .set_meta(META_DAYS, &(day + 1).to_string())
                .expect("meta");
            let done = day + 1 - from;
            if done % 30 == 0 || done == count {
                println!(
                    "  generated day {} ({done}/{count} in {:.0} s)",
                    day + 1,
                    t.elapsed().as_secs_f64()
                );
            }
        }
    });
    settle_pages(store, days.end);
}

/// Each subscriber's daily digest for `day`, closed and sent as the postman does.
fn digests(store: &Store, emails: &[String], day: i64) {
    let end = day_start(day + 1) - chrono::Duration::hours(7);
    let up_to = store.last_article_id().expect("last id");
    for (i, email) in emails.iter().enumerate() {
        let state = store
            .subscriber_state(email)
            .expect("state")
            .expect("subscriber");
        if state.window_end >= end {
            continue;
        }
        let body = "Tin tổng hợp trong ngày. ".repeat(400 + i * 40);
        let digest = NewDigest {
            email: email.clone(),
            window_start: state.window_end,
            window_end: end,
            message_id: format!("<{day}.{i}@bantin.example.vn>"),
            subject: format!("Bản tin ngày {day}"),
            message: body.into_bytes(),
            articles: 40,
            shared: None,
        };
        store
            .close_window(email, state.window_end, end, up_to, Some(&digest), end)
            .expect("close window");
    }
    for d in store.due_digests(end).expect("due") {
        store.mark_sent(d.id, "250 2.0.0 OK", end).expect("sent");
    }
}

/// Page jobs older than a day are done (a few failed), as a daemon keeps them; the newest
/// are still pending. Bench-only SQL: the store has no call that marks a page done without
/// its new content, and the generated articles carry theirs already.
fn settle_pages(store: &Store, days: i64) {
    let conn = rusqlite::Connection::open(store.path()).expect("open for pages");
    conn.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    let cutoff = day_start(days - 1).timestamp_millis();
    conn.execute(
        "UPDATE pages SET status = CASE WHEN article_id % 50 = 0 THEN 'failed' ELSE 'done' END,
           attempts = CASE WHEN article_id % 50 = 0 THEN 5 ELSE 1 END,
           last_error = CASE WHEN article_id % 50 = 0 THEN 'HTTP 404' END,
           fetched_at = ?1
         WHERE status = 'pending'
           AND article_id IN (SELECT id FROM articles WHERE first_seen < ?1)",
        [cutoff],
    )
    .expect("settle pages");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn file_size(path: &Path) -> u64 {
    let wal = path.with_extension("db-wal");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// CPU time of this process so far (user and system, every thread), from `/proc/self/stat`
/// in ticks of 10 ms: on a machine shared with other builds it tells what a step costs apart
/// from waiting for a core. Zero where there is no `/proc`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis start at the 3rd; utime and stime
    // are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Wall time, and the CPU time the process spent meanwhile: `f`'s result with both.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration, Duration) {
    let (cpu, wall) = (cpu_time(), Instant::now());
    let r = f();
    (r, wall.elapsed(), cpu_time().saturating_sub(cpu))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn verdict(d: Duration, goal: Duration) -> &'static str {
    if d <= goal {
        "ok"
    } else {
        "OVER"
    }
}

/// A feed of one source: `known` items stored by the first poll, then `new` fresh ones.
fn poll_feed(source: &SourceInfo, known: usize, new: usize, round: usize) -> String {
    let mut rng = Rng::new(7);
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Báo</title><link>https://bao.example.vn/</link><description>d</description>\n",
    );
    let items = (0..known)
        .map(|i| format!("k{i}"))
        .chain((0..new).map(|i| format!("n{round}-{i}")));
    for id in items {
        let title = sentences(&mut rng, 12, None);
        let summary = sentences(&mut rng, 50, None);
        s.push_str(&format!(
            "<item><title><![CDATA[ {title} ]]></title>\
             <link>https://{host}/poll/bai-{id}.html?utm_source=rss</link>\
             <guid isPermaLink=\"false\">{id}</guid><pubDate>Sat, 22 Aug 2026 23:55:31 +0700</pubDate>\
             <description><![CDATA[<p>{summary}</p>]]></description></item>\n",
            host = source.host
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// The daemon's poll minus the network: parse, identify, probe the store, normalize and match
/// what is new, record it all in one transaction.
fn poll_once(
    store: &Store,
    config: &Config,
    source: &SourceInfo,
    doc: &str,
    now: DateTime<Utc>,
) -> usize {
    let base =
        url::Url::parse(&format!("https://{}/rss/{}.rss", source.host, source.id)).expect("url");
    let dates = DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: DateOrder::Dmy,
        now,
    };
    let parsed = feed::parse(doc.as_bytes(), Some("utf-8"), &base, dates).expect("parse");
    let ctx = normalize::Context {
        source_id: &source.id,
        source_host: &source.host,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        now,
    };
    let prepared = bantin::ingest::prepare(store, &parsed, &ctx, &config.topics, &source.tags);
    let record = PollRecord::Fetched {
        articles: prepared.articles,
        seen: prepared.seen,
        carried: Vec::new(),
        etag: None,
        last_modified: None,
        moved_to: None,
        pages: source.pages,
        note: None,
        complete: true,
    };
    let stats = store
        .record_poll(
            &source.id,
            &record,
            now,
            now + chrono::Duration::minutes(15),
        )
        .expect("record");
    stats.new
}

const POLL_KNOWN: usize = 40;
const POLL_NEW: usize = 10;
const POLL_ROUNDS: usize = 30;

/// Median time of a poll with `POLL_NEW` new and `POLL_KNOWN` known items. Every article the
/// bench stored (the known ones too) is deleted again afterwards (bench-only SQL), so the
/// database is left with the year's articles only.
fn bench_poll(store: &Store, config: &Config, source: &SourceInfo, now: DateTime<Utc>) -> Duration {
    let before = store.last_article_id().expect("last id");
    poll_once(
        store,
        config,
        source,
        &poll_feed(source, POLL_KNOWN, 0, 0),
        now,
    );

    let docs: Vec<String> = (0..POLL_ROUNDS)
        .map(|r| poll_feed(source, POLL_KNOWN, POLL_NEW, r + 1))
        .collect();
    let mut times = Vec::new();
    for doc in &docs {
        let t = Instant::now();
        let new = poll_once(store, config, source, doc, now);
        times.push(t.elapsed());
        assert_eq!(new, POLL_NEW, "every poll brings its new items");
    }
    let conn = rusqlite::Connection::open(store.path()).expect("open");
    conn.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         DELETE FROM article_keys WHERE article_id > {before};
         DELETE FROM articles WHERE id > {before};"
    ))
    .expect("clean up");
    median(times)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let generate_only = args.iter().any(|a| a == "--generate");
    // `--only poll,feed,digest,search,topics-test,rematch,prune`: those figures alone (for
    // profiling).
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(String::from).collect());
    let wanted = |figure: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == figure));
    let days = numbers.first().copied().unwrap_or(365) as i64;
    let per_day = numbers.get(1).copied().unwrap_or(3000);

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = if (days, per_day) == (365, 3000) {
        target.join("year")
    } else {
        target.join(format!("year-{days}x{per_day}"))
    };
    std::fs::create_dir_all(&dir).expect("bench dir");
    let db = dir.join("bantin.db");
    let srcs = sources();
    let config = load(&config_files(&dir, &db, &srcs, false));
    let edited = load(&config_files(&dir, &db, &srcs, true));

    let (store, opened, opened_cpu) = timed(|| Store::open(&db).expect("open store"));
    // Long only when a migration ran (the search index's fills it from every article).
    if opened > Duration::from_secs(1) {
        println!(
            "opening the store (migrations): {:.1} s, CPU {:.1} s",
            opened.as_secs_f64(),
            opened_cpu.as_secs_f64()
        );
    }
    store
        .sync_sources(
            &config
                .sources
                .iter()
                .map(|s| SourceSpec {
                    id: s.id.clone(),
                    url: s.url.to_string(),
                })
                .collect::<Vec<_>>(),
        )
        .expect("sources");
    let (first, done) = days_generated(&store);
    if done < first + days {
        println!(
            "generating days {}..{} ({} articles a day) into {}",
            done,
            first + days,
            per_day,
            db.display()
        );
        generate(&store, &config, &srcs, per_day, done..first + days);
    }
    let (first, done) = days_generated(&store);
    let now = day_start(done);
    let articles = store.article_count().expect("count");
    let bytes = file_size(&db);
    println!(
        "database: {articles} articles (days {first}..{done}, now = {now}), {:.0} MiB, {:.0} bytes per article",
        mib(bytes),
        bytes as f64 / articles as f64
    );
    // A few syndicated copies of a source's own title are the same article by key: a handful
    // fewer than made.
    let made = (days as u64) * per_day as u64;
    assert!(
        articles <= made && articles * 1000 >= made * 999,
        "the year is whole: {articles} articles of {made}"
    );
    if generate_only {
        return;
    }

    if wanted("poll") {
        // A poll, on the year and on an empty database.
        let empty_dir = tempfile::tempdir().expect("temp dir");
        let empty = Store::open(&empty_dir.path().join("bantin.db")).expect("open empty");
        empty
            .sync_sources(&[SourceSpec {
                id: srcs[1].id.clone(),
                url: "https://x.example.vn/rss".into(),
            }])
            .expect("sync");
        let (on_empty, _, empty_cpu) = timed(|| bench_poll(&empty, &config, &srcs[1], now));
        let (on_year, _, year_cpu) = timed(|| bench_poll(&store, &config, &srcs[1], now));
        let ratio = on_year.as_secs_f64() / on_empty.as_secs_f64();
        println!(
        "poll (10 new + 40 known items, median of {POLL_ROUNDS}): {} on the year, {} on an empty database: {:+.0}% (goal ±20%) {}",
        ms(on_year),
        ms(on_empty),
        (ratio - 1.0) * 100.0,
        if (ratio - 1.0).abs() <= 0.2 { "ok" } else { "OVER" }
    );
        // The CPU figures include each store's first poll (40 items new) and its clean-up.
        println!(
            "  CPU for the {} polls: {} on the year, {} on an empty database: {:+.0}%",
            POLL_ROUNDS + 1,
            ms(year_cpu),
            ms(empty_cpu),
            (year_cpu.as_secs_f64() / empty_cpu.as_secs_f64().max(1e-3) - 1.0) * 100.0
        );
    }
    if wanted("feed") {
        // Topic feeds, uncached: the HTTP handler's work for one request.
        let mut worst = (Duration::ZERO, "");
        let mut all = Vec::new();
        let feeds_cpu = cpu_time();
        for (id, _, _, _) in TOPICS {
            let scope = Scope::Topic(id.to_string());
            let mut times = Vec::new();
            let mut size = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let first = bantin::site::paging::PageQuery {
                    limit: feeds::DEFAULT_LIMIT,
                    since: None,
                    cursor: None,
                };
                let page = feeds::page(&config, &store, &scope, &first).expect("entries");
                let channel =
                    feeds::channel(&config, &scope, Format::Rss, &first, &page, Links::Live);
                let body = bantin::publish::render(Format::Rss, &channel, &page.entries);
                let entries = page.entries;
                times.push(t.elapsed());
                size = body.len();
                assert!(!entries.is_empty(), "topic {id} has a feed");
            }
            let m = median(times);
            println!("  topic feed {id:<14} {:>10}  ({size} bytes)", ms(m));
            all.push(m);
            if m > worst.0 {
                worst = (m, id);
            }
        }
        println!(
            "topic feed, uncached (50 stories, RSS): median {}, slowest {} ({}) (goal ≤ 5 ms) {}",
            ms(median(all)),
            ms(worst.0),
            worst.1,
            verdict(worst.0, Duration::from_millis(5))
        );
        println!(
            "  CPU: {} a feed on average",
            ms(cpu_time().saturating_sub(feeds_cpu) / (5 * TOPICS.len() as u32))
        );
    }
    if wanted("pages") {
        // Paged feeds, uncached: the merged feed walked 200 pages back (10,000 stories, about
        // three days), a topic's too, and what arrived in the last 12 hours.
        use bantin::site::paging::PageQuery;
        for scope in [Scope::All, Scope::Topic(TOPICS[0].0.to_string())] {
            let mut query = PageQuery {
                limit: feeds::DEFAULT_LIMIT,
                since: None,
                cursor: None,
            };
            let mut times = Vec::new();
            let mut stories = 0;
            let pages_cpu = cpu_time();
            for _ in 0..200 {
                let t = Instant::now();
                let page = feeds::page(&config, &store, &scope, &query).expect("page");
                let channel =
                    feeds::channel(&config, &scope, Format::Rss, &query, &page, Links::Live);
                let body = bantin::publish::render(Format::Rss, &channel, &page.entries);
                times.push(t.elapsed());
                stories += page.entries.len();
                assert!(!body.is_empty());
                match page.older {
                    Some(c) => query.cursor = Some(c),
                    None => break,
                }
            }
            let pages = times.len() as u32;
            let last = times.last().copied().unwrap_or_default();
            println!(
                "{scope:?}: {pages} pages ({stories} stories), median {}, slowest {}, the last {} (CPU {} a page)",
                ms(median(times.clone())),
                ms(times.iter().copied().max().unwrap_or_default()),
                ms(last),
                ms(cpu_time().saturating_sub(pages_cpu) / pages.max(1))
            );
        }
        let since = PageQuery {
            limit: feeds::DEFAULT_LIMIT,
            since: Some(now - chrono::Duration::hours(12)),
            cursor: None,
        };
        let mut times = Vec::new();
        let mut walked = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let mut query = since.clone();
            walked = 0;
            loop {
                let page = feeds::page(&config, &store, &Scope::All, &query).expect("page");
                walked += page.entries.len();
                match page.older {
                    Some(c) => query.cursor = Some(c),
                    None => break,
                }
            }
            times.push(t.elapsed());
        }
        println!(
            "since 12 hours ago, every page: {walked} stories in {} (median of 5)",
            ms(median(times))
        );
    }
    if wanted("digest") {
        // The digest window query, each subscriber's last day.
        let mut times = Vec::new();
        let mut found = 0;
        let digest_cpu = cpu_time();
        for i in 0..SUBSCRIBERS {
            let topics: Vec<String> = (0..3)
                .map(|k| TOPICS[(i * 3 + k) % TOPICS.len()].0.to_string())
                .collect();
            let t = Instant::now();
            let got = store
                .digest_articles(&topics, now - chrono::Duration::days(1), now)
                .expect("digest");
            times.push(t.elapsed());
            found += got.len();
        }
        let worst = times.iter().max().copied().unwrap_or_default();
        println!(
        "digest window query (a day, 3 topics): median {}, slowest {}, {:.0} articles each (goal ≤ 10 ms) {}",
        ms(median(times)),
        ms(worst),
        found as f64 / SUBSCRIBERS as f64,
        verdict(worst, Duration::from_millis(10))
    );
        println!(
            "  CPU: {} a query on average",
            ms(cpu_time().saturating_sub(digest_cpu) / SUBSCRIBERS as u32)
        );
    }
    if wanted("search") {
        bench_search(&store, now);
    }
    if wanted("topics-test") {
        // `bantin topics test` over 30 days, then the same topic as edited: with a phrase
        // typed without diacritics, which is looked for in the fold of every article.
        for (config, what) in [
            (&config, "topics test dan-van"),
            (
                &edited,
                "topics test of the edited dan-van (an accent-free phrase)",
            ),
        ] {
            let (report, d, cpu) = timed(|| {
                let mut report = Vec::new();
                bantin::cli::topics::write_test(
                    config,
                    &store,
                    "dan-van",
                    30,
                    now,
                    false,
                    &mut report,
                )
                .expect("topics test");
                report
            });
            println!(
                "{what} over 30 days ({} articles): {:.2} s, CPU {:.2} s (goal ≤ 1 s) {}",
                30 * per_day,
                d.as_secs_f64(),
                cpu.as_secs_f64(),
                verdict(d, Duration::from_secs(1))
            );
            print_report(&report);
        }
    }
    if wanted("rematch") {
        // A re-match after a topics edit, and the one that puts the topics back.
        let (stats, d, cpu) =
            timed(|| bantin::ingest::rematch(&store, &edited, now).expect("rematch"));
        println!(
        "re-match after a topics edit ({} articles, +{} -{} matches): {:.2} s, CPU {:.2} s (goal ≤ 10 s) {}",
        stats.articles,
        stats.added,
        stats.removed,
        d.as_secs_f64(),
        cpu.as_secs_f64(),
        verdict(d, Duration::from_secs(10))
    );
        let t = Instant::now();
        let back = bantin::ingest::rematch(&store, &config, now).expect("rematch back");
        println!(
            "  re-match back to the topics as generated (+{} -{}): {:.2} s",
            back.added,
            back.removed,
            t.elapsed().as_secs_f64()
        );
        assert_eq!(
            (back.added, back.removed),
            (stats.removed, stats.added),
            "the edit is undone"
        );
    }
    if wanted("prune") {
        // Prune of the oldest month, then the month again at the young end.
        let cutoff = day_start(first + 30);
        let (pruned, d, cpu) = timed(|| store.prune(cutoff, false).expect("prune"));
        println!(
        "prune of a month ({} articles, {} matches, {} tombstones, {:.0} MiB reclaimed): {:.2} s, CPU {:.2} s (goal ≤ 10 s) {}",
        pruned.articles,
        pruned.matches,
        pruned.tombstones,
        mib(pruned.bytes_reclaimed),
        d.as_secs_f64(),
        cpu.as_secs_f64(),
        verdict(d, Duration::from_secs(10))
    );
        store
            .set_meta(META_FIRST, &(first + 30).to_string())
            .expect("meta");
        println!("topping the year up by the month pruned (the database's clock moves on 30 days)");
        generate(&store, &config, &srcs, per_day, done..done + 30);
        let _ = std::io::stdout().flush();
    }
}

/// Search queries: the words of the query as a topic's `all` phrases (the reference), and what
/// a reader types.
const SEARCHES: &[(&[&str], &str)] = &[
    (&["công", "tác"], "công tác"),
    (&["cong", "tac"], "cong tac"),
    (&["dan", "van"], "dan van"),
    (&["công tác dân vận"], "\"công tác dân vận\""),
    (&["tham", "nhũng"], "tham nhũng"),
    (&["tham nhũng", "công"], "\"tham nhũng\" công"),
    (&["lãng", "phí"], "lãng phí"),
];

/// Times `Store::search` (the newest 50, as `bantin search` asks) for each of [`SEARCHES`], and
/// checks each against the topic matcher, which reads the same rules: over the last day, the
/// search must find exactly the articles the matcher finds, and the 50 newest must all match.
fn bench_search(store: &Store, now: DateTime<Utc>) {
    use bantin::search::Query;
    use bantin::store::SearchQuery;
    use bantin::topics::{Matcher, TopicSpec};

    let day = now - chrono::Duration::days(1);
    let conn = rusqlite::Connection::open(store.path()).expect("open for the reference");
    let inputs: Vec<(i64, MatchInput)> = conn
        .prepare("SELECT id, search_text, search_layout FROM articles WHERE published >= ?1")
        .expect("reference query")
        .query_map([day.timestamp_millis()], |r| {
            let (id, text, layout): (i64, String, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            let input = layout
                .and_then(|l| MatchInput::from_search_text(&text, &l))
                .unwrap_or_else(|| MatchInput::from_plain(&text, "", ""));
            Ok((id, input))
        })
        .expect("reference rows")
        .collect::<Result<_, _>>()
        .expect("reference rows");
    let mut search_cpu = Duration::ZERO;
    let mut all = Vec::new();
    let mut worst = (Duration::ZERO, "");
    for (phrases, typed) in SEARCHES {
        let matcher = Matcher::compile(vec![TopicSpec {
            id: "q".into(),
            name: "q".into(),
            all: phrases.iter().map(|p| p.to_string()).collect(),
            ..TopicSpec::default()
        }])
        .expect("reference topic");
        let matches = |input: &MatchInput| !matcher.matches(input, &[]).is_empty();
        let query = Query::parse(typed).expect("query");
        let search = |since, limit| {
            store
                .search(&SearchQuery {
                    query: query.clone(),
                    topic: None,
                    since,
                    limit,
                })
                .expect("search")
        };
        let mut times = Vec::new();
        let mut newest = Vec::new();
        let cpu = cpu_time();
        for _ in 0..7 {
            let t = Instant::now();
            newest = search(None, 50);
            times.push(t.elapsed());
        }
        search_cpu += cpu_time().saturating_sub(cpu);
        // The reference: the last day, whole.
        let mut of_day = search(Some(day), 1_000_000);
        of_day.sort_unstable();
        let mut expected: Vec<i64> = inputs
            .iter()
            .filter(|(_, input)| matches(input))
            .map(|(id, _)| *id)
            .collect();
        expected.sort_unstable();
        assert_eq!(of_day, expected, "{typed}: the search of the last day");
        let by_id: HashMap<i64, &MatchInput> = inputs.iter().map(|(id, i)| (*id, i)).collect();
        assert_eq!(newest.len(), 50, "{typed}: 50 found");
        for id in &newest {
            if let Some(input) = by_id.get(id) {
                assert!(matches(input), "{typed}: article {id} does not match");
            }
        }
        let m = median(times.clone());
        let slowest = times.iter().max().copied().unwrap_or_default();
        println!(
            "  search {:<24} median {:>8}, slowest {:>8}  ({} in the last day)",
            typed,
            ms(m),
            ms(slowest),
            expected.len()
        );
        all.extend(times);
        if slowest > worst.0 {
            worst = (slowest, typed);
        }
    }
    let runs = all.len() as u32;
    println!(
        "search, the newest 50 (two words, a phrase, with and without diacritics): median {}, slowest {} ({}) (goal ≤ 50 ms) {}",
        ms(median(all)),
        ms(worst.0),
        worst.1,
        verdict(worst.0, Duration::from_millis(50))
    );
    println!("  CPU: {} a search on average", ms(search_cpu / runs));
    let size: i64 = ["data", "idx", "docsize", "config"]
        .iter()
        .map(|t| {
            conn.query_row(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?1",
                [format!("article_search_{t}")],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
        })
        .sum();
    println!("  the search index: {:.0} MiB", size as f64 / 1048576.0);
}
