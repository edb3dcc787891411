//! The body of every fuzz target, shared by the cargo-fuzz binaries (`fuzz/fuzz_targets/`) and
//! by `tests/it/fuzz_regressions.rs`, which replays every saved crash under plain `cargo test`.
//!
//! Each function takes arbitrary bytes, drives one public entry point of bantin the way ingest
//! or the CLI does, and checks what a user would: nothing panics, and the output keeps the
//! promises its documentation makes (clean text is clean, a re-polled feed stores nothing new,
//! a problem points inside the file it names). Any failed assertion is a crash to fix.
//!
//! Only crates that bantin's tests can also use appear here (the fuzz crate depends on the same
//! versions).

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;

use bantin::config::{ArticleRules, Css, ListRules};
use bantin::date::{self, DateOrder};
use bantin::ingest::entry::DateContext;
use bantin::ingest::feed;
use bantin::ingest::sitemap::{self, Sitemap};
use bantin::ingest::{normalize, scrape, sniff};
use bantin::publish;
use bantin::site::opml;
use bantin::site::paging::{self, Cursor};
use bantin::store::{ArticleQuery, PollRecord, SourceSpec, Store};
use bantin::text;
use bantin::topics::{MatchInput, Matcher, Role, SourceRef, TopicSpec};
use bantin::unsubscribe::{self, Request, Secret};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use unicode_normalization::is_nfc;
use url::Url;

/// The instant every target treats as "now" (unless it varies `now` on purpose).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).single().unwrap()
}

const VN: Tz = chrono_tz::Asia::Ho_Chi_Minh;

fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Bytes alternate between the two day/month orders, so both are exercised by every corpus.
fn order_of(data: &[u8]) -> DateOrder {
    if data.len() % 2 == 0 {
        DateOrder::Dmy
    } else {
        DateOrder::Mdy
    }
}

// ---------------------------------------------------------------------------------------------
// feed: bytes → parse → normalize → topics → a real SQLite store, polled twice

const FEED_URL: &str = "https://baomoi.example.vn/rss/tin-moi-nhat.rss";

/// A feed body through the real ingest path (`feed::parse`, `ingest::prepare`,
/// `Store::record_poll`) into a fresh SQLite database, then the same body again, as the next
/// poll would bring it. Checks: the stored articles are as many as the poll said were new,
/// each has its own public id, titles are clean display text, and the second poll of the same
/// bytes stores nothing new. The re-poll's scan of the items (`feed::items`) reads the same
/// bytes first.
pub fn feed(data: &[u8]) {
    let base = Url::parse(FEED_URL).unwrap();
    let dates = DateContext {
        tz: VN,
        order: order_of(data),
        now: now(),
    };
    if let Some(items) = feed::items(data, &base, dates, b"fuzz") {
        assert!(!items.hashes.is_empty());
    }
    let parsed = match feed::parse(data, None, &base, dates) {
        Ok(feed) => feed,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    // A fresh database per input, so that a crash replays alone.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bantin.db")).unwrap();
    store
        .sync_sources(&[SourceSpec {
            id: "fuzz".into(),
            url: FEED_URL.into(),
        }])
        .unwrap();
    let topics = Matcher::compile(vec![TopicSpec {
        id: "dan-van".into(),
        name: "Dân vận".into(),
        any: vec!["dân vận".into(), "mặt trận".into()],
        none: vec!["quảng cáo".into()],
        ..TopicSpec::default()
    }])
    .unwrap();
    let ctx = normalize::Context {
        source_id: "fuzz",
        source_host: base.host_str().unwrap(),
        timezone: VN,
        now: now(),
    };
    let poll = |at: DateTime<Utc>| {
        let p = bantin::ingest::prepare(&store, &parsed, &ctx, &topics, &[]);
        let record = PollRecord::Fetched {
            articles: p.articles,
            seen: p.seen,
            carried: Vec::new(),
            etag: None,
            last_modified: None,
            moved_to: None,
            pages: false,
            note: None,
            complete: true,
        };
        store
            .record_poll("fuzz", &record, at, at + chrono::Duration::minutes(15))
            .unwrap()
    };
    let first = poll(now());
    let stored = store
        .articles(&ArticleQuery {
            limit: usize::MAX >> 1,
            ..ArticleQuery::default()
        })
        .unwrap();
    assert_eq!(
        stored.len(),
        first.new,
        "the poll reported {} new articles, the store holds {}",
        first.new,
        stored.len()
    );
    let mut idents = HashSet::new();
    for a in &stored {
        assert!(
            idents.insert(a.ident.as_str()),
            "two articles are {:?}",
            a.ident
        );
        assert_clean(&a.title);
        assert!(
            !a.title.is_empty() || a.url.is_some(),
            "an article with neither title nor link"
        );
        assert_media(&a.media);
    }
    assert_media_republished(&stored, &base, dates);
    let second = poll(now() + chrono::Duration::minutes(15));
    assert_eq!(
        second.new, 0,
        "the same feed polled again stored new articles"
    );
    assert_eq!(store.article_count().unwrap(), stored.len() as u64);
}

/// What `bantin::media` promises of an article's media: web URLs of bounded length, each once,
/// a bounded number of them, well-formed types.
fn assert_media(media: &[bantin::media::Media]) {
    assert!(
        media.len() <= bantin::media::MAX_PER_ARTICLE,
        "{} media kept",
        media.len()
    );
    let mut urls = HashSet::new();
    for m in media {
        let url = Url::parse(&m.url).unwrap_or_else(|e| panic!("media URL {:?}: {e}", m.url));
        assert!(
            matches!(url.scheme(), "http" | "https"),
            "media URL {:?}",
            m.url
        );
        assert!(
            m.url.len() <= bantin::media::MAX_URL_BYTES,
            "a media URL of {} bytes",
            m.url.len()
        );
        assert!(urls.insert(m.url.as_str()), "media URL {:?} twice", m.url);
        if let Some(t) = &m.mime_type {
            assert!(
                t.split_once('/')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                    && !t.contains(|c: char| c.is_whitespace() || c == '<' || c == '"'),
                "media type {t:?}"
            );
        }
    }
}

/// The stored articles published as RSS and read back by the feed kind: each keeps its media,
/// in order (the RSS enclosure is the first, `media:content` lists them all).
fn assert_media_republished(
    stored: &[bantin::store::StoredArticle],
    base: &Url,
    dates: DateContext,
) {
    // The entries the feeds make of them, with a configuration of defaults.
    let config = bantin::config::parse(Path::new("fuzz.toml"), "").expect("defaults load");
    let entries: Vec<publish::Entry> = stored
        .iter()
        .map(|a| bantin::site::feeds::article_entry(&config, a))
        .collect();
    let channel = publish::Channel {
        title: "bantin".into(),
        description: "fuzz".into(),
        link: FEED_URL.into(),
        self_url: FEED_URL.into(),
        ttl_minutes: 15,
        updated: now(),
        pages: publish::PageLinks::default(),
    };
    let rss = publish::render(publish::Format::Rss, &channel, &entries);
    let read = feed::parse(&rss, None, base, dates)
        .unwrap_or_else(|e| panic!("bantin's RSS does not read back: {e}"));
    assert_eq!(read.entries.len(), entries.len(), "items read back");
    for (a, e) in stored.iter().zip(&read.entries) {
        let urls = |media: &[bantin::media::Media]| -> Vec<String> {
            media.iter().map(|m| m.url.clone()).collect()
        };
        assert_eq!(urls(&e.media), urls(&a.media), "the media of {:?}", a.title);
    }
}

/// What `text::clean` promises of display text.
fn assert_clean(s: &str) {
    assert!(is_nfc(s), "not NFC: {s:?}");
    assert_eq!(s.trim(), s, "untrimmed: {s:?}");
    assert!(!s.contains("  "), "double space: {s:?}");
    assert!(
        !s.chars().any(|c| c.is_control()),
        "control character: {s:?}"
    );
    assert!(
        !s.chars()
            .any(|c| matches!(c, '\u{D0}' | '\u{F0}' | '\u{189}' | '\u{256}')),
        "Đ impostor: {s:?}"
    );
    if !s.contains('&') {
        assert_eq!(text::clean(s), s, "clean is not idempotent on {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// HTML pages

const PAGE_URL: &str = "https://thanhuytphcm.example.vn/tin-tuc/chinh-tri";

fn css(s: &str) -> Css {
    Css::parse(s).unwrap()
}

/// List pages read with the selectors of two real kinds of site (a CMS with `<article>` items,
/// one with `li.item` rows and a link whose `title` attribute holds the title). Checks: every
/// item has an absolute web link, a non-empty title, and no link comes twice.
pub fn html_list(data: &[u8]) {
    let base = Url::parse(PAGE_URL).unwrap();
    let dates = DateContext {
        tz: VN,
        order: order_of(data),
        now: now(),
    };
    let rules = [
        ListRules {
            item: css("article, .story, .box-news"),
            link: css("h2 a, h3 a, a"),
            link_attr: "href".into(),
            title: Some(css("h2, h3, .title")),
            date: Some(css("time, .date, .time")),
            summary: Some(css(".sapo, p")),
        },
        ListRules {
            item: css("li.item, ul > li"),
            link: css("a[href]"),
            link_attr: "href".into(),
            title: None,
            date: None,
            summary: None,
        },
        ListRules {
            item: css("div[data-id]"),
            link: css("[data-href]"),
            link_attr: "data-href".into(),
            title: Some(css("[title]")),
            date: Some(css("span:nth-child(2)")),
            summary: None,
        },
    ];
    for (i, rules) in rules.iter().enumerate() {
        let charset = (i == 1).then_some("windows-1258");
        let feed = match scrape::parse_list(data, charset, &base, rules, dates) {
            Ok(feed) => feed,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                continue;
            }
        };
        assert!(!feed.entries.is_empty(), "Ok with no items");
        let mut links = HashSet::new();
        for e in &feed.entries {
            let link = e.link.as_ref().expect("an item without a link");
            assert!(matches!(link.scheme(), "http" | "https"), "{link}");
            let mut key = link.clone();
            key.set_fragment(None);
            assert!(links.insert(key), "{link} twice");
            assert!(
                e.title
                    .as_deref()
                    .is_some_and(|t| !text::clean(t).is_empty()),
                "an item without a title: {e:?}"
            );
        }
        // And on to what would be stored: normalizing never panics either.
        let ctx = normalize::Context {
            source_id: "fuzz",
            source_host: base.host_str().unwrap(),
            timezone: VN,
            now: now(),
        };
        let n = normalize::normalize(&feed, &ctx);
        for a in &n.articles {
            assert_clean(&a.title);
        }
    }
}

/// Article pages, with selectors (the content selector path) and without (readability). When a
/// body is found it is non-empty HTML; a title found is clean text.
pub fn html_article(data: &[u8]) {
    let url = Url::parse("https://dangcongsan.example.vn/thoi-su/hoi-nghi-123456.html").unwrap();
    let dates = DateContext {
        tz: VN,
        order: order_of(data),
        now: now(),
    };
    let with = ArticleRules {
        content: Some(css(".detail-content, article .content, #content")),
        date: Some(css(".date, time")),
        author: Some(css(".author, .tac-gia")),
        remove: vec![css(".related, .box-tin-lien-quan"), css("table.ads")],
    };
    for rules in [Some(&with), Some(&ArticleRules::default()), None] {
        match scrape::extract_article(data, None, &url, rules, dates) {
            Ok(page) => {
                let html = page.content_html.expect("Ok without a body");
                assert!(!html.trim().is_empty(), "Ok with an empty body");
                if let Some(t) = &page.title {
                    assert!(!t.is_empty());
                }
                // What ingest does with the body next.
                let _ = normalize::sanitize(&html);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let page = lossy(data);
    for feed in scrape::advertised_feeds(&page, &url) {
        assert!(matches!(feed.scheme(), "http" | "https"), "{feed}");
    }
    let _ = sniff::html_title(&page);
}

// ---------------------------------------------------------------------------------------------
// sitemap

const SITEMAP_URL: &str = "https://www.baochinhphu.example.vn/sitemaps/news.xml";

/// The decompressed-size cap the sitemap target reads with (small, so a bomb is quick to hit).
const SITEMAP_CAP: u64 = 1 << 20;

/// `sitemap::parse` of the bytes as a body, and of the same bytes gzip-compressed (which must
/// read the same), then what a poll does next: `to_feed` and normalizing, or
/// `children_to_fetch`; and `robots_sitemaps` of the bytes as text. Checks: entries and children
/// are absolute http(s) URLs, each once, at most `MAX_ENTRIES`; every date is `date::parse` of
/// its raw string; feed items follow the rules of the module doc (link, guid, title, date);
/// normalized titles are clean; the children picked are on the index's site, newest first.
pub fn sitemap(data: &[u8]) {
    use std::io::Write;

    let base = Url::parse(SITEMAP_URL).unwrap();
    let dates = DateContext {
        tz: VN,
        order: order_of(data),
        now: now(),
    };
    let read = sitemap::parse(data, None, &base, dates, SITEMAP_CAP);
    match &read {
        Ok(Sitemap::Urls(set)) => check_urlset(set, dates),
        Ok(Sitemap::Index(index)) => check_index(index, &base, dates),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(s) = &read {
        for note in s.notes() {
            assert!(!note.to_string().is_empty());
        }
    }
    // A .xml.gz file holds the same document: it reads the same. (Not for bytes that are gzip
    // already: those are unpacked once, not twice.)
    if !data.starts_with(&[0x1f, 0x8b]) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        let gz = encoder.finish().unwrap();
        let again = sitemap::parse(&gz, None, &base, dates, SITEMAP_CAP);
        if data.len() as u64 > SITEMAP_CAP {
            assert!(matches!(again, Err(sitemap::SitemapError::TooLarge { .. })));
        } else {
            assert_eq!(again, read, "the gzip-compressed body reads differently");
        }
    }
    let robots_base = Url::parse("https://www.baochinhphu.example.vn/robots.txt").unwrap();
    let found = sitemap::robots_sitemaps(&lossy(data), &robots_base);
    let unique: HashSet<&Url> = found.iter().collect();
    assert_eq!(unique.len(), found.len(), "a sitemap twice: {found:?}");
    for u in &found {
        assert!(matches!(u.scheme(), "http" | "https"), "{u}");
    }
}

/// A raw date as `date::parse` reads it.
fn assert_date(d: &bantin::ingest::entry::RawDate, dates: DateContext) {
    assert!(!d.raw.is_empty() && d.raw.trim() == d.raw, "{:?}", d.raw);
    assert_eq!(
        d.parsed,
        date::parse(&d.raw, dates.tz, dates.order, dates.now),
        "{:?}",
        d.raw
    );
}

fn check_urlset(set: &sitemap::UrlSet, dates: DateContext) {
    assert!(set.entries.len() <= sitemap::MAX_ENTRIES);
    let mut pages = HashSet::new();
    for e in &set.entries {
        assert!(matches!(e.loc.scheme(), "http" | "https"), "{}", e.loc);
        let mut key = e.loc.clone();
        key.set_fragment(None);
        assert!(pages.insert(key), "{} twice", e.loc);
        if let Some(image) = &e.image {
            assert!(matches!(image.scheme(), "http" | "https"), "{image}");
        }
        for d in e
            .lastmod
            .iter()
            .chain(e.news.iter().flat_map(|n| &n.publication_date))
        {
            assert_date(d, dates);
        }
        if let Some(news) = &e.news {
            for k in &news.keywords {
                assert!(!k.is_empty() && k.trim() == k && !k.contains(','), "{k:?}");
            }
        }
    }
    let feed = set.to_feed();
    assert_eq!(feed.entries.len(), set.entries.len());
    let rebuilt = set
        .notes
        .iter()
        .any(|n| matches!(n, sitemap::Note::SameLastmod { .. }));
    for (item, e) in feed.entries.iter().zip(&set.entries) {
        assert_eq!(item.link.as_ref(), Some(&e.loc));
        assert_eq!(item.guid, scrape::article_id(&e.loc));
        let news = e.news.as_ref();
        assert_eq!(item.title, news.and_then(|n| n.title.clone()));
        let expected = match news.and_then(|n| n.publication_date.as_ref()) {
            Some(published) => Some(published),
            None if rebuilt => None,
            None => e.lastmod.as_ref(),
        };
        assert_eq!(item.date.as_ref(), expected);
    }
    // And on to what would be stored: normalizing never panics either.
    let ctx = normalize::Context {
        source_id: "fuzz",
        source_host: "baochinhphu.example.vn",
        timezone: VN,
        now: now(),
    };
    for a in &normalize::normalize(&feed, &ctx).articles {
        assert_clean(&a.title);
    }
}

fn check_index(index: &sitemap::Index, base: &Url, dates: DateContext) {
    assert!(index.children.len() <= sitemap::MAX_ENTRIES);
    let mut seen = HashSet::new();
    for c in &index.children {
        assert!(matches!(c.loc.scheme(), "http" | "https"), "{}", c.loc);
        assert!(seen.insert(&c.loc), "{} twice", c.loc);
        if let Some(d) = &c.lastmod {
            assert_date(d, dates);
        }
    }
    let picked = sitemap::children_to_fetch(index, base, 5);
    assert!(picked.len() <= 5);
    for c in &picked {
        let host = c.loc.host_str().unwrap_or_default().to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        assert!(
            host == "baochinhphu.example.vn" || host.ends_with(".baochinhphu.example.vn"),
            "off the site: {}",
            c.loc
        );
        assert_ne!(c.loc, *base, "the index as its own child");
    }
    let instants: Vec<_> = picked
        .iter()
        .map(|c| c.lastmod.as_ref().and_then(|d| d.parsed))
        .collect();
    assert!(
        instants.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {instants:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// date

/// `date::parse` under both orders, two zones, and `now` at ordinary and extreme instants
/// (relative phrases and 2-digit years are computed from it).
pub fn date(data: &[u8]) {
    let raw = lossy(data);
    let nows = [
        now(),
        DateTime::<Utc>::UNIX_EPOCH,
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    ];
    for order in [DateOrder::Dmy, DateOrder::Mdy] {
        for tz in [VN, chrono_tz::UTC, chrono_tz::America::New_York] {
            for n in nows {
                if let Some(t) = date::parse(&raw, tz, order, n) {
                    let utc = t.with_timezone(&Utc);
                    let _ = date::is_plausible(utc, n);
                    // The instant can be written back out as RFC 3339 and read again (which
                    // has no seconds in offsets: before 1906, Asia/Ho_Chi_Minh was +07:06:40).
                    let again = DateTime::parse_from_rfc3339(&t.to_rfc3339());
                    let whole_minutes = t.offset().local_minus_utc() % 60 == 0;
                    if (0..=9999).contains(&chrono::Datelike::year(&t)) && whole_minutes {
                        assert_eq!(again.ok(), Some(t), "{raw:?}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// text

/// `clean`, `html_to_text`, `clean_html`, `match_key`, `fold` and `decode`, with the
/// properties their documentation states.
pub fn text(data: &[u8]) {
    for charset in [None, Some("windows-1258"), Some("utf-8"), Some("x-unknown")] {
        let d = text::decode(data, charset);
        assert!(!d.encoding.is_empty());
    }
    let s = lossy(data);
    let c = text::clean(&s);
    assert_clean(&c);
    let plain = text::html_to_text(&s);
    assert_clean(&plain);

    let h = text::clean_html(&s);
    assert!(is_nfc(&h), "clean_html not NFC: {h:?}");
    assert_eq!(text::clean_html(&h), h, "clean_html is not idempotent");

    let key = text::match_key(&s);
    assert_eq!(key, text::match_key_of_clean(&c));
    if !c.contains('&') {
        // "match_key and fold accept raw or already-cleaned text".
        assert_eq!(
            text::match_key(&c),
            key,
            "match_key(clean(x)) != match_key(x)"
        );
        assert_eq!(text::fold(&c), text::fold(&s), "fold(clean(x)) != fold(x)");
    }
    let folded = text::fold(&s);
    assert_eq!(folded.trim(), folded, "fold untrimmed: {folded:?}");
    assert!(!folded.contains("  "), "fold double space: {folded:?}");
    assert!(!folded.contains(['đ', 'Đ']), "fold kept đ: {folded:?}");
}

// ---------------------------------------------------------------------------------------------
// topics and config

const TOPICS_MAIN: &str = r#"
[[sources]]
id = "nhandan"
url = "https://nhandan.vn/rss/home.rss"
tags = ["dang"]

[[sources]]
id = "baochinhphu"
url = "https://baochinhphu.vn/home.rss"
tags = ["chinh-phu"]
date_order = "mdy"
"#;

/// Texts every compiled topic set is matched against, besides the input's own.
const ARTICLES: [(&str, &str, &str); 3] = [
    (
        "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026",
        "<p>Sáng 19/1, Ban Dân vận Trung ương tổ chức hội nghị.</p>",
        "<p>Phong trào thi đua <b>Dân vận khéo</b> được Mặt trận Tổ quốc hưởng ứng.</p>",
    ),
    (
        "ĐẢNG ỦY KHỐI CÁC CƠ QUAN TRUNG ƯƠNG: Hoà hợp, thuỷ lợi, khoẻ mạnh",
        "",
        "Người dân vẫn tin tưởng vào sự lãnh đạo của Đảng",
    ),
    ("", "", ""),
];

/// Writes `files` into a fresh directory and loads `bantin.toml` from it, as `bantin check` does.
fn load_files(files: &[(&str, &str)]) -> Result<bantin::config::Config, bantin::config::Problems> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let result = bantin::config::load(&dir.path().join("bantin.toml"));
    if let Err(problems) = &result {
        assert_problems_located(problems, dir.path(), files);
    }
    result
}

/// Every problem names one of the files and a position inside it.
fn assert_problems_located(
    problems: &bantin::config::Problems,
    dir: &Path,
    files: &[(&str, &str)],
) {
    assert!(!problems.0.is_empty(), "Err with no problem");
    assert!(!problems.to_string().is_empty());
    for p in &problems.0 {
        let Some((_, text)) = files.iter().find(|(name, _)| dir.join(name) == p.file) else {
            panic!("problem in an unknown file: {p}");
        };
        let lines = text.split('\n').count();
        assert!(p.line >= 1 && p.line <= lines, "line out of the file: {p}");
        assert!(p.col >= 1, "column 0: {p}");
        assert!(
            !p.message.trim().is_empty() || p.to_string().contains(':'),
            "{p}"
        );
    }
}

/// A topics file from the input, beside a fixed main config with two tagged sources; when it
/// compiles, it is matched against fixed articles and against the input's own text, and
/// `explain` agrees with `matches` for every topic, and with its screen.
pub fn topics(data: &[u8]) {
    let (toml_part, text_part) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let topics_text = lossy(toml_part);
    let own = lossy(text_part);
    let Ok(config) = load_files(&[("bantin.toml", TOPICS_MAIN), ("topics.toml", &topics_text)])
    else {
        return;
    };
    let matcher = &config.topics;
    let ids: Vec<&str> = matcher.topics().map(|(id, _)| id).collect();
    let tags = [vec!["dang".to_string()], vec!["chinh-phu".to_string()]];
    let carriers = [
        vec![SourceRef {
            id: "nhandan",
            tags: &tags[0],
        }],
        vec![
            SourceRef {
                id: "baochinhphu",
                tags: &tags[1],
            },
            SourceRef {
                id: "nhandan",
                tags: &tags[0],
            },
        ],
    ];
    let mut inputs: Vec<MatchInput> = ARTICLES
        .iter()
        .map(|(t, s, c)| MatchInput::from_html(&text::clean(t), Some(s), Some(c)))
        .collect();
    inputs.push(MatchInput::from_html(&text::clean(&own), Some(&own), None));
    inputs.push(MatchInput::from_plain(&own, &own, &own));
    for input in &inputs {
        for sources in &carriers {
            let found = matcher.matches(input, sources);
            for m in &found {
                assert!(ids.contains(&m.topic.as_str()), "unknown topic {}", m.topic);
                assert!(!m.phrases.is_empty(), "{} matched by no phrase", m.topic);
            }
            for id in &ids {
                let e = matcher
                    .explain(id, input, sources)
                    .expect("explain a known topic");
                let matched = found.iter().any(|m| m.topic == *id);
                assert_eq!(e.matched(), matched, "explain and matches disagree on {id}");
                // The screen of `topics test` never turns away an article with a hit.
                if let Some(screen) = matcher.screen(id) {
                    if !screen.may_hit(bantin::ingest::normalize::search_text(input).as_bytes()) {
                        assert!(
                            e.hits.iter().all(|h| h.role == Role::Ignore),
                            "{id} screened away an article it has a hit in"
                        );
                    }
                }
            }
        }
    }
}

/// Keys whose value is a path `load` reads: the fuzzer must not point them at /dev/zero.
fn reads_other_files(main: &str) -> bool {
    let Ok(table) = toml::from_str::<toml::Table>(main) else {
        return true;
    };
    ["topics_file", "subscribers_file"]
        .iter()
        .any(|k| match table.get(*k) {
            None => false,
            Some(v) => !matches!(v.as_str(), Some("topics.toml" | "subscribers.toml")),
        })
}

/// The main config, topics and subscribers files from the input (split at NUL bytes), read
/// with `config::parse` (main file alone) and `config::load` (all three files in a temp
/// directory). Checks: every problem points inside its file; a loaded config's subscribers
/// only want topics it has.
pub fn config(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0).map(lossy);
    let main = parts.next().unwrap_or_default();
    let topics = parts.next().unwrap_or_default();
    let subscribers = parts.next().unwrap_or_default();
    let path = Path::new("/etc/bantin/bantin.toml");
    match bantin::config::parse(path, &main) {
        Ok(c) => {
            for s in &c.sources {
                assert!(bantin::config::is_slug(&s.id), "source id {:?}", s.id);
            }
        }
        Err(problems) => assert_problems_located(
            &problems,
            Path::new("/etc/bantin"),
            &[("bantin.toml", &main)],
        ),
    }
    if reads_other_files(&main) {
        return;
    }
    let files = [
        ("bantin.toml", main.as_str()),
        ("topics.toml", topics.as_str()),
        ("subscribers.toml", subscribers.as_str()),
    ];
    if let Ok(c) = load_files(&files) {
        let ids: Vec<&str> = c.topics.topics().map(|(id, _)| id).collect();
        for s in &c.subscribers {
            for t in &s.topics {
                assert!(
                    ids.contains(&t.as_str()),
                    "{} wants unknown topic {t}",
                    s.email
                );
            }
        }
        let _ = c.topics_fingerprint();
    }
}

// ---------------------------------------------------------------------------------------------
// unsubscribe

const SECRET_TEXT: &str = "fuzzing-secret-not-a-real-one";

/// Tokens: arbitrary strings never verify (or verify to a request whose own token verifies the
/// same); every request round-trips; and messages correctly signed but made up by the fuzzer
/// (as a holder of the secret could) decode only when they are exactly what `token` would
/// produce.
pub fn unsubscribe(data: &[u8]) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    let secret = Secret::from_text(SECRET_TEXT).unwrap();
    let s = lossy(data);
    if let Ok(req) = unsubscribe::verify(&secret, &s) {
        assert_eq!(unsubscribe::token(&secret, &req), s);
    }

    let (email, topic) = match data.iter().position(|&b| b == 0) {
        Some(i) => (lossy(&data[..i]), Some(lossy(&data[i + 1..]))),
        None => (s.clone(), None),
    };
    let req = Request {
        email: email.clone(),
        topic,
    };
    let t = unsubscribe::token(&secret, &req);
    assert!(
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{t}"
    );
    if t.len() <= 1024 {
        let back = unsubscribe::verify(&secret, &t).expect("a token we made verifies");
        assert_eq!(back.email, email.to_lowercase());
        assert_eq!(back.topic, req.topic);
    }
    let other = Secret::from_text("another-installation-secret").unwrap();
    assert!(
        unsubscribe::verify(&other, &t).is_err(),
        "verified under another secret"
    );

    // Signed by us, with the key `Secret::from_text` derives.
    let key = Sha256::digest(SECRET_TEXT.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(data);
    let mut signed = data.to_vec();
    signed.extend_from_slice(&mac.finalize().into_bytes());
    let forged = URL_SAFE_NO_PAD.encode(&signed);
    if let Ok(req) = unsubscribe::verify(&secret, &forged) {
        assert_eq!(
            unsubscribe::token(&secret, &req),
            forged,
            "a message token() never makes was accepted: {req:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// opml: an OPML file, as `bantin opml import` reads it

/// An OPML file through `site::opml::parse`, as `bantin opml import` reads it. Checks: every
/// outline is an http(s) feed with a non-empty, clean title and slug tags; and the outlines
/// written back as OPML (as `/sources.opml` writes the sources) read back as the same feeds.
pub fn opml(data: &[u8]) {
    let input = lossy(data);
    let Ok(outlines) = opml::parse(&input) else {
        return;
    };
    for o in &outlines {
        assert!(matches!(o.url.scheme(), "http" | "https"), "{}", o.url);
        assert!(!o.title.is_empty());
        assert!(
            !o.title.chars().any(char::is_control),
            "control character in {:?}",
            o.title
        );
        for tag in &o.tags {
            assert!(bantin::config::is_slug(tag), "tag {tag:?}");
        }
    }
    let ids: Vec<String> = (1..=outlines.len()).map(|i| format!("feed-{i}")).collect();
    let written = opml::write(outlines.iter().zip(&ids).map(|(o, id)| opml::Feed {
        id,
        name: &o.title,
        url: o.url.as_str(),
        tags: &o.tags,
    }));
    let back = opml::parse(&written)
        .unwrap_or_else(|e| panic!("our own OPML does not read back: {e}\n{written}"));
    assert_eq!(back.len(), outlines.len(), "{written}");
    for (first, again) in outlines.iter().zip(&back) {
        assert_eq!(first.url, again.url);
        assert_eq!(first.tags, again.tags);
        // Titles are cleaned on each read, and cleaning decodes entities once by design (see
        // the `text` target): a title still holding `&` may lose one level of escaping. One
        // holding a character XML cannot carry is written without it.
        if !first.title.contains('&') && publish::xml_text(&first.title) == first.title {
            assert_eq!(first.title, again.title);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// page_query

/// A feed request's page parameters, as `?before=`, `?after=` and `?since=` values (the bytes,
/// lossy UTF-8): a cursor is refused or reads back from its own value; a `since` is refused or
/// is an instant that reads back from the form links write it in.
pub fn page_query(data: &[u8]) {
    let value = lossy(data);
    for (before, after) in [
        (Some(value.as_str()), None),
        (None, Some(value.as_str())),
        (Some(value.as_str()), Some(value.as_str())),
    ] {
        if let Ok(Some(cursor)) = Cursor::from_params(before, after) {
            let again = cursor.value();
            assert_eq!(again, value, "a cursor has one spelling");
            let (b, a) = match cursor {
                Cursor::Before(_) => (Some(again.as_str()), None),
                Cursor::After(_) => (None, Some(again.as_str())),
            };
            assert_eq!(Cursor::from_params(b, a), Ok(Some(cursor)));
        }
    }
    if let Ok(since) = paging::since(&value) {
        let written = paging::since_param(since);
        assert!(written
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'+' && b != b'&'));
        assert_eq!(paging::since(&written), Ok(since), "{value:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// search

/// A store with an empty search index, made once per process: every query that parses is
/// searched on it, so a query FTS5 would refuse (an error, not a result) is a crash here.
fn search_store() -> &'static Store {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, Store)> = std::sync::OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("search.db")).unwrap();
        (dir, store)
    });
    store
}

/// A search query as a reader types it (`bantin search`, `/search.rss?q=`), and, after a NUL
/// byte, an article's search text. Checks: the query parses or is refused with a message; a
/// parsed one has 1 to `MAX_TERMS` terms of non-empty syllables that hold no space and no quote,
/// all in one mode (exact or folded, and folded only when every syllable is ASCII), and SQLite
/// runs its FTS5 query; the text's indexed form has as many tokens exact as folded.
pub fn search_query(data: &[u8]) {
    use bantin::search::{self, Query, MAX_TERMS};
    let (query_part, text_part) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let typed = lossy(query_part);
    match Query::parse(&typed) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(q) => {
            let terms = q.terms();
            assert!((1..=MAX_TERMS).contains(&terms.len()), "{typed:?}");
            let folded = terms[0].folded;
            for t in terms {
                assert_eq!(t.folded, folded, "{typed:?}: one mode for the query");
                assert!(!t.syllables.is_empty());
                for s in &t.syllables {
                    assert!(!s.is_empty() && !s.contains([' ', '"']), "{typed:?}: {s:?}");
                    assert!(!t.folded || s.is_ascii(), "{typed:?}: {s:?}");
                }
            }
            let found = search_store().search(&bantin::store::SearchQuery {
                query: q.clone(),
                topic: None,
                since: None,
                limit: 10,
            });
            assert!(found.is_ok(), "{typed:?}: {} → {found:?}", q.fts5());
        }
    }
    let text = text::match_key(&lossy(text_part));
    let indexed = search::indexed(&text, None);
    assert_eq!(
        indexed.exact.split(' ').count(),
        indexed.folded.split(' ').count(),
        "{text:?}"
    );
}
