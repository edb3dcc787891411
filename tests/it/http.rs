//! The HTTP side as a feed reader, a browser and an admin see it: the daemon's `run` in process,
//! serving on a real listener on 127.0.0.1:0 while it polls a fixture feed server, fetched with
//! a real HTTP client; every feed is read back with feed-rs, every page with an HTML parser (and
//! once with headless Chromium), and `export` is checked file by file.
//!
//! The fixture is two outlets carrying short Vietnamese news items, two of them about "dân vận"
//! and one story syndicated by both; titles name what each item is there for.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use bantin::daemon::{self, DaemonError, Ingestor};
use bantin::store::{SourceHealth, Store};
use chrono::{DateTime, FixedOffset, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::oneshot;

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// `dan-van` as shipped (phrases, an `ignore`), and a second topic nothing here matches.
const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận", "công tác dân vận", "Ban Dân vận"]
ignore = ["nhân dân vận dụng"]

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính", "thủ tục hành chính"]
"#;

/// One fixture item: link, title, minutes before now it was published.
type News = (&'static str, &'static str, i64);

const DAN_VAN_NHANDAN: News = (
    "https://nhandan.vn/tang-cuong-cong-tac-dan-van.html",
    "Tăng cường công tác dân vận trong tình hình mới",
    10,
);
const DAN_VAN_VTV: News = (
    "https://vtv.vn/ban-dan-van-tong-ket.html",
    "Ban Dân vận Trung ương tổng kết công tác năm",
    70,
);
/// The same story on both outlets (same title of more than five syllables, two hours apart):
/// one entry in the merged feed, under the newer copy's link.
const SYNDICATED_NHANDAN: News = (
    "https://nhandan.vn/thu-tuong-chu-tri-hoi-nghi.html",
    "Thủ tướng chủ trì hội nghị Chính phủ với các địa phương",
    130,
);
const SYNDICATED_VTV: News = (
    "https://vtv.vn/thu-tuong-hoi-nghi-dia-phuong.html",
    "Thủ tướng chủ trì hội nghị Chính phủ với các địa phương",
    150,
);
const OTHER_NHANDAN: News = (
    "https://nhandan.vn/khai-mac-ky-hop.html",
    "Khai mạc kỳ họp thứ mười Quốc hội khóa XV",
    190,
);
const OTHER_VTV: News = (
    "https://vtv.vn/gia-xang-giam.html",
    "Giá xăng giảm nhẹ từ chiều nay",
    250,
);

const NHANDAN: &[News] = &[DAN_VAN_NHANDAN, SYNDICATED_NHANDAN, OTHER_NHANDAN];
const VTV: &[News] = &[DAN_VAN_VTV, SYNDICATED_VTV, OTHER_VTV];
/// Stored articles: the syndicated story is two of them.
const STORED: usize = 6;

/// The merged feed, newest first: one entry per story.
const MERGED: &[News] = &[
    DAN_VAN_NHANDAN,
    DAN_VAN_VTV,
    SYNDICATED_NHANDAN,
    OTHER_NHANDAN,
    OTHER_VTV,
];

/// `minutes` before now, as a Vietnamese outlet writes it (RFC 822, +0700).
fn pub_date(minutes: i64) -> String {
    let ict = FixedOffset::east_opt(7 * 3600).unwrap();
    (Utc::now() - chrono::Duration::minutes(minutes))
        .with_timezone(&ict)
        .to_rfc2822()
}

/// An RSS document of `items`, each with its link as guid.
fn feed_of_news(items: &[News]) -> String {
    rss(&items
        .iter()
        .map(|(link, title, minutes)| item(title, link, Some(link), &pub_date(*minutes)))
        .collect::<String>())
}

/// A `[[sources]]` table with a display name and tags.
fn source_named(id: &str, name: &str, url: &str, tags: &[&str]) -> String {
    format!("[[sources]]\nid = \"{id}\"\nname = {name:?}\nurl = \"{url}\"\ntags = {tags:?}\n\n")
}

/// The fixture server with both outlets, and a config with their sources and [`TOPICS`].
async fn two_outlets() -> (Server, Env) {
    let srv = Server::start().await;
    srv.set("/nhandan.rss", Route::feed(feed_of_news(NHANDAN)));
    srv.set("/vtv.rss", Route::feed(feed_of_news(VTV)));
    let env = Env::new(
        &[
            source_named(
                "nhandan",
                "Báo Nhân Dân",
                &srv.url("/nhandan.rss"),
                &["dang", "bao-in"],
            ),
            source_named(
                "vtv",
                "Truyền hình Việt Nam",
                &srv.url("/vtv.rss"),
                &["truyen-hinh"],
            ),
        ]
        .concat(),
    );
    std::fs::write(env.dir.path().join("topics.toml"), TOPICS).unwrap();
    (srv, env)
}

/// Sets `[http] public_url` in the env's config file.
fn set_public_url(env: &Env, url: &str) {
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text = text.replacen(
        "listen = \"127.0.0.1:0\"\n",
        &format!("listen = \"127.0.0.1:0\"\npublic_url = \"{url}\"\n"),
        1,
    );
    std::fs::write(&env.config_path, text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The daemon, serving

/// `bantin::daemon::run` in a task, serving on a listener of its own.
struct Daemon {
    ing: Ingestor,
    /// The public URL the feeds link to: `http://127.0.0.1:PORT/`.
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    /// Binds 127.0.0.1:0, opens the database with the config bound to that address (so feeds
    /// link to the real port), and runs the daemon with the listener.
    async fn start(env: &Env) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = env.config();
        config.http.bound(listener.local_addr().unwrap());
        let base = config.http.public_url.to_string();
        let ing = Ingestor::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(ing.clone(), Some(listener), async move {
            let _ = stopped.await;
        }));
        Daemon {
            ing,
            base,
            stop,
            task,
        }
    }

    /// [`Daemon::start`], then waits until every source is polled and `n` articles are stored.
    async fn start_and_poll(env: &Env, n: usize) -> Daemon {
        let d = Daemon::start(env).await;
        let ing = d.ing.clone();
        wait_until("every source is polled and stored", WITHIN, move || {
            let ing = ing.clone();
            async move {
                let states = ing.states().await.unwrap();
                states.iter().all(|s| s.health == SourceHealth::Ok) && articles(&ing).len() == n
            }
        })
        .await;
        d
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
            .expect("run returned an error");
    }
}

// ---------------------------------------------------------------------------------------------
// The client side

/// A client as a feed reader has one: it asks for gzip and brotli and decodes them.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// A client that sends only the headers it is given and shows bodies as they come.
fn raw_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap()
}

/// One response, read whole.
#[derive(Debug)]
struct Got {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn feed(&self) -> feed_rs::model::Feed {
        feed_rs::parser::parse(&self.body[..]).unwrap_or_else(|e| {
            panic!("not a feed ({e}):\n{}", String::from_utf8_lossy(&self.body))
        })
    }
}

async fn request(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
) -> Got {
    let mut req = c.request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Got {
        status,
        headers,
        body,
    }
}

async fn get(c: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Got {
    request(c, reqwest::Method::GET, url, headers).await
}

/// GET with the plain client; expects 200.
async fn get_ok(url: &str) -> Got {
    let got = get(&client(), url, &[]).await;
    assert_eq!(got.status, 200, "{url}: {got:?}");
    got
}

/// A feed entry as a reader shows it.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    id: String,
    title: String,
    /// Every link of the entry.
    links: Vec<String>,
    published: Option<DateTime<Utc>>,
    categories: Vec<String>,
}

fn shown(feed: &feed_rs::model::Feed) -> Vec<Shown> {
    feed.entries
        .iter()
        .map(|e| Shown {
            id: e.id.clone(),
            title: e
                .title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default(),
            links: e.links.iter().map(|l| l.href.clone()).collect(),
            published: e.published,
            categories: e
                .categories
                .iter()
                .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
                .collect(),
        })
        .collect()
}

fn titles(entries: &[Shown]) -> Vec<&str> {
    entries.iter().map(|e| e.title.as_str()).collect()
}

/// Each entry's one link (an entry must have exactly one).
fn links(entries: &[Shown]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| {
            assert_eq!(e.links.len(), 1, "one link per entry: {e:?}");
            e.links[0].as_str()
        })
        .collect()
}

fn news_titles(news: &[News]) -> Vec<&'static str> {
    news.iter().map(|n| n.1).collect()
}

fn news_links(news: &[News]) -> Vec<&'static str> {
    news.iter().map(|n| n.0).collect()
}

const FORMATS: [(&str, &str); 3] = [
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    ("json", "application/feed+json; charset=utf-8"),
];

/// Fetches a feed, checks its Content-Type, parses it.
async fn feed_at(url: &str, content_type: &str) -> (feed_rs::model::Feed, Vec<Shown>) {
    let got = get_ok(url).await;
    assert_eq!(got.header("content-type"), Some(content_type), "{url}");
    let feed = got.feed();
    let entries = shown(&feed);
    (feed, entries)
}

fn assert_newest_first(url: &str, entries: &[Shown]) {
    let dates: Vec<DateTime<Utc>> = entries
        .iter()
        .map(|e| {
            e.published
                .unwrap_or_else(|| panic!("{url}: no date on {e:?}"))
        })
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "{url}: not newest first: {dates:?}"
    );
}

/// Retries `attempt` every 20 ms until it gives `Ok`; on timeout, fails with `what` and the last
/// `Err` (what was seen instead).
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        match attempt().await {
            Ok(t) => return t,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {WITHIN:?} waiting until {what}; last seen:\n{last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The parsed HTML of a page.
fn html(text: &str) -> scraper::Html {
    scraper::Html::parse_document(text)
}

fn select<'a>(doc: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&scraper::Selector::parse(css).unwrap())
        .collect()
}

fn text_of(e: &scraper::ElementRef) -> String {
    e.text().collect::<String>()
}

/// `(type, title, href)` of every `<link rel="alternate">`.
fn alternates(doc: &scraper::Html) -> BTreeSet<(String, String, String)> {
    select(doc, r#"link[rel="alternate"]"#)
        .iter()
        .map(|l| {
            let a = |n: &str| l.value().attr(n).unwrap_or("").to_string();
            (a("type"), a("title"), a("href"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Routes and formats

#[tokio::test]
async fn merged_and_topic_feeds_in_every_format_carry_the_original_articles_newest_first() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;

    for (ext, content_type) in FORMATS {
        let url = d.url(&format!("feed.{ext}"));
        let (feed, entries) = feed_at(&url, content_type).await;
        assert_eq!(
            feed.title.as_ref().map(|t| t.content.as_str()),
            Some("bantin – Tất cả nguồn"),
            "{url}"
        );
        assert!(
            feed.links.iter().any(|l| l.href == url),
            "{url}: the feed names its own URL (with the bound port): {:?}",
            feed.links
        );
        assert_eq!(titles(&entries), news_titles(MERGED), "{url}");
        assert_eq!(
            links(&entries),
            news_links(MERGED),
            "{url}: original article URLs"
        );
        assert_newest_first(&url, &entries);
        let ids: BTreeSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            entries.len(),
            "{url}: ids are unique: {entries:#?}"
        );
        assert!(
            entries[0].categories.contains(&"Dân vận".to_string()),
            "{url}: a matching article is filed under its topic's name: {:?}",
            entries[0]
        );
        assert!(
            entries[3].categories.is_empty(),
            "{url}: no topic, no category: {:?}",
            entries[3]
        );

        let url = d.url(&format!("topics/dan-van.{ext}"));
        let (feed, entries) = feed_at(&url, content_type).await;
        assert_eq!(
            feed.title.as_ref().map(|t| t.content.as_str()),
            Some("bantin – Dân vận"),
            "{url}"
        );
        assert!(
            feed.links.iter().any(|l| l.href == url),
            "{url}: the feed names its own URL: {:?}",
            feed.links
        );
        assert_eq!(
            titles(&entries),
            news_titles(&[DAN_VAN_NHANDAN, DAN_VAN_VTV]),
            "{url}: only articles matching the topic"
        );
        assert_eq!(
            links(&entries),
            news_links(&[DAN_VAN_NHANDAN, DAN_VAN_VTV]),
            "{url}"
        );
        assert_newest_first(&url, &entries);

        let url = d.url(&format!("topics/cai-cach-hanh-chinh.{ext}"));
        let (feed, entries) = feed_at(&url, content_type).await;
        assert!(entries.is_empty(), "{url}: nothing matches: {entries:#?}");
        assert_eq!(
            feed.title.as_ref().map(|t| t.content.as_str()),
            Some("bantin – Cải cách hành chính"),
            "{url}"
        );
    }
    d.stop().await;
}

#[tokio::test]
async fn a_syndicated_story_appears_once_in_the_merged_feed_and_in_each_outlets_feed() {
    let (srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let story = SYNDICATED_NHANDAN.1;

    for (ext, content_type) in FORMATS {
        let url = d.url(&format!("feed.{ext}"));
        let (_, entries) = feed_at(&url, content_type).await;
        let copies: Vec<&Shown> = entries.iter().filter(|e| e.title == story).collect();
        assert_eq!(copies.len(), 1, "{url}: the story once: {entries:#?}");
        assert_eq!(
            copies[0].links,
            [SYNDICATED_NHANDAN.0],
            "{url}: under the newer copy's link"
        );

        for (source, copy) in [("nhandan", SYNDICATED_NHANDAN), ("vtv", SYNDICATED_VTV)] {
            let url = d.url(&format!("feed.{ext}?source={source}"));
            let (_, entries) = feed_at(&url, content_type).await;
            let copies: Vec<&Shown> = entries.iter().filter(|e| e.title == story).collect();
            assert_eq!(copies.len(), 1, "{url}: {entries:#?}");
            assert_eq!(copies[0].links, [copy.0], "{url}: the outlet's own copy");
        }
    }

    // RSS says which outlet carried it.
    let rss = get_ok(&d.url("feed.rss")).await.text();
    assert!(
        rss.contains(&format!(
            "<source url=\"{}\">Báo Nhân Dân</source>",
            srv.url("/nhandan.rss")
        )),
        "{rss}"
    );
    d.stop().await;
}

#[tokio::test]
async fn feed_ids_stay_the_same_across_requests_and_restarts() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let paths = [
        "feed.rss",
        "feed.atom",
        "feed.json",
        "topics/dan-van.rss",
        "topics/dan-van.atom",
        "topics/dan-van.json",
    ];
    let ids_now = |d: &Daemon| {
        let urls: Vec<String> = paths.iter().map(|p| d.url(p)).collect();
        async move {
            let mut all = Vec::new();
            for url in urls {
                let entries = shown(&get_ok(&url).await.feed());
                all.push(
                    entries
                        .iter()
                        .map(|e| (e.title.clone(), e.id.clone()))
                        .collect::<Vec<_>>(),
                );
            }
            all
        }
    };
    let first = ids_now(&d).await;
    assert_eq!(ids_now(&d).await, first, "two requests, the same ids");
    for (p, ids) in paths.iter().zip(&first) {
        assert!(
            ids.iter()
                .all(|(_, id)| !id.is_empty() && !id.contains("127.0.0.1")),
            "{p}: ids do not depend on where the feed is served: {ids:?}"
        );
    }
    let rss_ids: Vec<&String> = first[0].iter().map(|(_, id)| id).collect();
    let atom_ids: Vec<&String> = first[1].iter().map(|(_, id)| id).collect();
    let json_ids: Vec<&String> = first[2].iter().map(|(_, id)| id).collect();
    assert_eq!(rss_ids, atom_ids, "one id per article in every format");
    assert_eq!(rss_ids, json_ids, "one id per article in every format");

    // A restart (on another port) serves the same ids.
    let old_base = d.base.clone();
    d.stop().await;
    let d = Daemon::start(&env).await;
    assert_ne!(d.base, old_base);
    assert_eq!(ids_now(&d).await, first, "the same ids after a restart");
    d.stop().await;
}

#[tokio::test]
async fn source_tag_and_limit_narrow_a_feed() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;

    for (ext, content_type) in FORMATS {
        let cases: [(String, &str, &[News]); 5] = [
            (
                format!("feed.{ext}?source=vtv"),
                "bantin – Truyền hình Việt Nam",
                VTV,
            ),
            (
                format!("feed.{ext}?source=nhandan"),
                "bantin – Báo Nhân Dân",
                NHANDAN,
            ),
            (
                format!("feed.{ext}?tag=dang"),
                "bantin – Nhóm nguồn dang",
                NHANDAN,
            ),
            (
                format!("feed.{ext}?tag=truyen-hinh"),
                "bantin – Nhóm nguồn truyen-hinh",
                VTV,
            ),
            (
                format!("feed.{ext}?limit=1"),
                "bantin – Tất cả nguồn",
                &[DAN_VAN_NHANDAN],
            ),
        ];
        for (path, title, expected) in cases {
            let url = d.url(&path);
            let (feed, entries) = feed_at(&url, content_type).await;
            assert_eq!(
                feed.title.as_ref().map(|t| t.content.as_str()),
                Some(title),
                "{url}"
            );
            assert_eq!(titles(&entries), news_titles(expected), "{url}");
            assert_eq!(links(&entries), news_links(expected), "{url}");
            assert!(
                feed.links.iter().any(|l| l.href == url),
                "{url}: the feed names its own URL, query included: {:?}",
                feed.links
            );
        }
        let url = d.url(&format!("topics/dan-van.{ext}?limit=1"));
        let (_, entries) = feed_at(&url, content_type).await;
        assert_eq!(titles(&entries), news_titles(&[DAN_VAN_NHANDAN]), "{url}");
    }
    d.stop().await;
}

#[tokio::test]
async fn index_opml_and_metrics_answer_with_their_types() {
    let (srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;

    // The index page: every topic with its newest articles, feed links, and the sources.
    let got = get_ok(&d.url("/")).await;
    assert_eq!(got.header("content-type"), Some("text/html; charset=utf-8"));
    let doc = html(&got.text());
    let headings: Vec<String> = select(&doc, "h3").iter().map(text_of).collect();
    assert_eq!(headings, ["Dân vận", "Cải cách hành chính"]);
    let anchors: Vec<(String, String)> = select(&doc, "a[href]")
        .iter()
        .map(|a| (text_of(a), a.value().attr("href").unwrap().to_string()))
        .collect();
    for (link, title, _) in MERGED {
        assert!(
            anchors.contains(&(title.to_string(), link.to_string())),
            "{title} links to {link}: {anchors:#?}"
        );
    }
    for href in [
        "feed.rss",
        "feed.atom",
        "feed.json",
        "sources.opml",
        "topics/dan-van.rss",
        "topics/dan-van.atom",
        "topics/dan-van.json",
        "topics/cai-cach-hanh-chinh.rss",
    ] {
        assert!(
            anchors.iter().any(|(_, h)| h == href),
            "a link to {href}: {anchors:#?}"
        );
        // Relative links resolve on this server.
        let url = d.url(href);
        assert_eq!(get(&client(), &url, &[]).await.status, 200, "{url}");
    }
    let alt = alternates(&doc);
    for (kind, title, path) in [
        (
            "application/rss+xml",
            "bantin – Tất cả nguồn (RSS)",
            "feed.rss",
        ),
        (
            "application/atom+xml",
            "bantin – Tất cả nguồn (Atom)",
            "feed.atom",
        ),
        (
            "application/feed+json",
            "bantin – Tất cả nguồn (JSON Feed)",
            "feed.json",
        ),
        (
            "application/rss+xml",
            "bantin – Dân vận (RSS)",
            "topics/dan-van.rss",
        ),
        (
            "application/atom+xml",
            "bantin – Dân vận (Atom)",
            "topics/dan-van.atom",
        ),
        (
            "application/feed+json",
            "bantin – Dân vận (JSON Feed)",
            "topics/dan-van.json",
        ),
    ] {
        let want = (kind.to_string(), title.to_string(), d.url(path));
        assert!(alt.contains(&want), "{want:?} in {alt:#?}");
    }
    let source_rows: Vec<String> = select(&doc, "tr").iter().map(text_of).collect();
    assert!(
        source_rows
            .iter()
            .any(|r| r.contains("Báo Nhân Dân") && r.contains("tốt") && r.contains('3')),
        "{source_rows:#?}"
    );

    // OPML: every source, by name, with its feed URL and tags.
    let got = get_ok(&d.url("sources.opml")).await;
    assert_eq!(
        got.header("content-type"),
        Some("text/x-opml; charset=utf-8")
    );
    let opml = got.text();
    assert!(opml.starts_with("<?xml"), "{opml}");
    for (name, path, tags, id) in [
        ("Báo Nhân Dân", "/nhandan.rss", "dang,bao-in", "nhandan"),
        ("Truyền hình Việt Nam", "/vtv.rss", "truyen-hinh", "vtv"),
    ] {
        let line = format!(
            "<outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\" category=\"{tags}\" bantinId=\"{id}\"/>",
            srv.url(path)
        );
        assert!(opml.contains(&line), "{line}\nin\n{opml}");
    }

    // Metrics: Prometheus text, counting what happened.
    let metrics_url = d.url("metrics");
    let want = [
        "bantin_articles 6\n",
        "bantin_topic_matches{topic=\"dan-van\"} 2\n",
        "bantin_topic_matches{topic=\"cai-cach-hanh-chinh\"} 0\n",
        "bantin_sources{state=\"ok\"} 2\n",
        "bantin_fetches_total{outcome=\"stored\"} 2\n",
        "bantin_http_requests_total{route=\"/sources.opml\",status=\"200\"} 2\n",
        "bantin_http_requests_total{route=\"/feed.rss\",status=\"200\"} 1\n",
        "bantin_http_requests_total{route=\"/topics/{id}\",status=\"200\"} 4\n",
    ];
    let last = eventually("metrics count both polls and the requests", || {
        let url = metrics_url.clone();
        async move {
            let got = get_ok(&url).await;
            assert_eq!(
                got.header("content-type"),
                Some("text/plain; version=0.0.4; charset=utf-8")
            );
            let text = got.text();
            if want.iter().all(|w| text.contains(w)) {
                Ok(text)
            } else {
                Err(text)
            }
        }
    })
    .await;
    assert!(last.contains("# TYPE bantin_articles gauge\n"), "{last}");
    d.stop().await;
}

#[tokio::test]
async fn the_index_page_lists_a_syndicated_story_once_as_the_merged_feed_does() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let doc = html(&get_ok(&d.url("/")).await.text());
    let lists = select(&doc, "ul.articles");
    let latest: Vec<String> = select(&doc, "ul.articles")
        .last()
        .map(|ul| {
            ul.select(&scraper::Selector::parse("li").unwrap())
                .map(|li| text_of(&li))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        lists.len(),
        2,
        "dan-van (the topic with articles), then the newest"
    );
    let story: Vec<&String> = latest
        .iter()
        .filter(|li| li.starts_with(SYNDICATED_NHANDAN.1))
        .collect();
    assert_eq!(
        story.len(),
        1,
        "\"Mới nhất\" shows the story once, like /feed.rss: {latest:#?}"
    );
    assert!(
        story[0].contains("Báo Nhân Dân") && story[0].contains("Truyền hình Việt Nam"),
        "with both outlets that carried it: {story:?}"
    );
    assert_eq!(latest.len(), MERGED.len(), "{latest:#?}");
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Validators and encodings

fn decode_gzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn decode_brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// What a cache and a conditional client see on `url`.
async fn check_validators_and_encodings(url: &str, has_last_modified: bool) {
    let raw = raw_client();
    let plain = get(&raw, url, &[]).await;
    assert_eq!(plain.status, 200, "{url}");
    assert_eq!(
        plain.header("content-encoding"),
        None,
        "{url}: identity by default"
    );
    let etag = plain.header("etag").expect("an ETag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "{url}: strong: {etag}"
    );
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"), "{url}");
    let cache_control = plain.header("cache-control").unwrap();
    let max_age: u64 = cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("{url}: no max-age in {cache_control:?}"))
        .parse()
        .unwrap();
    assert!(max_age >= 60, "{url}: {cache_control}");

    let again = get(&raw, url, &[]).await;
    assert_eq!(again.header("etag"), Some(etag.as_str()), "{url}: stable");
    assert_eq!(again.body, plain.body, "{url}");

    // If-None-Match.
    let not_modified = get(&raw, url, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(not_modified.status, 304, "{url}: {not_modified:?}");
    assert!(not_modified.body.is_empty(), "{url}: a 304 has no body");
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()), "{url}");
    let other = get(&raw, url, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(other.status, 200, "{url}: another tag gets the body");
    assert_eq!(other.body, plain.body, "{url}");

    // If-Modified-Since.
    match plain.header("last-modified") {
        Some(lm) => {
            assert!(has_last_modified, "{url}: Last-Modified {lm}");
            let r = get(&raw, url, &[("if-modified-since", lm)]).await;
            assert_eq!(r.status, 304, "{url}: If-Modified-Since: {lm}");
            assert!(r.body.is_empty(), "{url}");
            let earlier = "Mon, 01 Jan 2001 00:00:00 GMT";
            let r = get(&raw, url, &[("if-modified-since", earlier)]).await;
            assert_eq!(r.status, 200, "{url}: changed since 2001");
            assert_eq!(r.body, plain.body, "{url}");
        }
        None => assert!(!has_last_modified, "{url}: no Last-Modified"),
    }

    // HEAD: the same headers, no body.
    let head = request(&raw, reqwest::Method::HEAD, url, &[]).await;
    assert_eq!(head.status, 200, "{url}");
    assert!(head.body.is_empty(), "{url}: HEAD has no body");
    for h in [
        "etag",
        "content-type",
        "cache-control",
        "vary",
        "last-modified",
    ] {
        assert_eq!(head.header(h), plain.header(h), "{url}: HEAD {h}");
    }
    if let Some(len) = head.header("content-length") {
        assert_eq!(
            len,
            plain.body.len().to_string(),
            "{url}: HEAD Content-Length"
        );
    }

    // Encodings: decoded bodies equal the identity body; each has its own tag.
    let gz = get(&raw, url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.status, 200, "{url}");
    assert_eq!(gz.header("content-encoding"), Some("gzip"), "{url}");
    assert_eq!(decode_gzip(&gz.body), plain.body, "{url}: gzip");
    let br = get(&raw, url, &[("accept-encoding", "br")]).await;
    assert_eq!(br.header("content-encoding"), Some("br"), "{url}");
    assert_eq!(decode_brotli(&br.body), plain.body, "{url}: brotli");
    let both = get(&raw, url, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(
        both.header("content-encoding"),
        Some("br"),
        "{url}: the smaller one"
    );
    let refused = get(&raw, url, &[("accept-encoding", "br;q=0, gzip")]).await;
    assert_eq!(
        refused.header("content-encoding"),
        Some("gzip"),
        "{url}: br;q=0 refuses br"
    );
    for ae in ["identity", "deflate", "gzip;q=0", "compress"] {
        let r = get(&raw, url, &[("accept-encoding", ae)]).await;
        assert_eq!(
            r.header("content-encoding"),
            None,
            "{url}: Accept-Encoding: {ae}"
        );
        assert_eq!(r.body, plain.body, "{url}: Accept-Encoding: {ae}");
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{url}: {ae}");
    }
    let tags: BTreeSet<&str> = [&plain, &gz, &br]
        .iter()
        .map(|r| r.header("etag").unwrap())
        .collect();
    assert_eq!(tags.len(), 3, "{url}: one ETag per encoding: {tags:?}");
    for r in [&gz, &br] {
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{url}");
        assert_eq!(
            r.header("content-type"),
            plain.header("content-type"),
            "{url}"
        );
    }

    // A conditional request for an encoded body.
    let gz_tag = gz.header("etag").unwrap();
    let r = get(
        &raw,
        url,
        &[("accept-encoding", "gzip"), ("if-none-match", gz_tag)],
    )
    .await;
    assert_eq!(r.status, 304, "{url}: gzip tag");
    assert_eq!(r.header("etag"), Some(gz_tag), "{url}");
    assert!(r.body.is_empty(), "{url}");

    // A reader's client decodes on its own and gets the same bytes.
    let decoded = get(&client(), url, &[]).await;
    assert_eq!(decoded.body, plain.body, "{url}: decoded by reqwest");
}

#[tokio::test]
async fn feeds_and_pages_answer_conditional_requests_and_compress() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    for (path, has_last_modified) in [
        ("feed.rss", true),
        ("feed.atom", true),
        ("feed.json", true),
        ("topics/dan-van.rss", true),
        ("feed.json?source=vtv", true),
        ("feed.atom?tag=dang", true),
        ("", false),
        ("sources.opml", false),
    ] {
        check_validators_and_encodings(&d.url(path), has_last_modified).await;
    }
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Invalidation

/// A new "dân vận" article on Nhân Dân, newer than every other.
const NEW_DAN_VAN: News = (
    "https://nhandan.vn/hoi-nghi-dan-van-toan-quoc.html",
    "Hội nghị toàn quốc về công tác dân vận năm 2026",
    1,
);

/// Pages that must show [`NEW_DAN_VAN`] once it is stored.
const SHOWING_NEW: [&str; 4] = ["feed.rss", "feed.json", "topics/dan-van.atom", ""];

/// The ETag of each of [`SHOWING_NEW`].
async fn etags_now(d: &Daemon) -> Vec<String> {
    let mut tags = Vec::new();
    for p in SHOWING_NEW {
        let got = get(&raw_client(), &d.url(p), &[]).await;
        assert_eq!(got.status, 200);
        tags.push(got.header("etag").unwrap().to_string());
    }
    tags
}

/// Puts [`NEW_DAN_VAN`] at the top of Nhân Dân's feed on the fixture server.
fn publish_new_article(srv: &Server) {
    let mut items = vec![NEW_DAN_VAN];
    items.extend_from_slice(NHANDAN);
    srv.set("/nhandan.rss", Route::feed(feed_of_news(&items)));
}

/// With the new article stored, each page shows it on the next request (no waiting: the store's
/// generation invalidates every cached body), under a new ETag that the old one does not match.
async fn assert_pages_show_new_article(d: &Daemon, before: &[String]) {
    let raw = raw_client();
    for (p, old) in SHOWING_NEW.iter().zip(before) {
        let url = d.url(p);
        let got = get(&raw, &url, &[]).await;
        assert_eq!(got.status, 200, "{url}");
        assert!(
            got.text().contains(NEW_DAN_VAN.1),
            "{url}: the new article at once:\n{}",
            got.text()
        );
        assert_ne!(got.header("etag"), Some(old.as_str()), "{url}: a new ETag");
        let r = get(&raw, &url, &[("if-none-match", old.as_str())]).await;
        assert_eq!(r.status, 200, "{url}: the old ETag no longer matches");
        assert_eq!(r.body, got.body, "{url}");
        if !p.is_empty() {
            let entries = shown(&got.feed());
            assert_eq!(entries[0].title, NEW_DAN_VAN.1, "{url}: newest first");
            assert_eq!(entries[0].links, [NEW_DAN_VAN.0], "{url}");
        }
    }
}

#[tokio::test]
async fn a_poll_that_stores_an_article_changes_every_page_at_once() {
    let (srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let before = etags_now(&d).await;
    assert_eq!(etags_now(&d).await, before, "nothing changed yet");

    publish_new_article(&srv);
    let reports = poll(&d.ing, &["nhandan"]).await;
    assert!(
        matches!(reports[0].outcome, bantin::ingest::Outcome::Stored { .. }),
        "{reports:?}"
    );
    assert_pages_show_new_article(&d, &before).await;
    d.stop().await;
}

#[tokio::test]
async fn the_daemons_own_poll_shows_in_the_feeds_before_the_cache_would_expire() {
    let (srv, env) = two_outlets().await;
    // Nhân Dân every second, so the daemon itself picks up the new article.
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text = text.replacen(
        "id = \"nhandan\"\n",
        "id = \"nhandan\"\nschedule = \"* * * * * *\"\n",
        1,
    );
    std::fs::write(&env.config_path, text).unwrap();
    let d = Daemon::start_and_poll(&env, STORED).await;
    let before = etags_now(&d).await;

    publish_new_article(&srv);
    // WITHIN (15 s) is shorter than CACHE_MAX_AGE: only invalidation can make this pass.
    assert!(WITHIN < bantin::http::CACHE_MAX_AGE);
    let url = d.url("feed.rss");
    eventually(
        "the daemon stores the new article and /feed.rss shows it",
        || {
            let url = url.clone();
            async move {
                let got = get(&raw_client(), &url, &[]).await;
                let text = got.text();
                if text.contains(NEW_DAN_VAN.1) {
                    Ok(())
                } else {
                    Err(text)
                }
            }
        },
    )
    .await;
    assert_pages_show_new_article(&d, &before).await;
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Limits and errors

#[tokio::test]
async fn bad_requests_get_a_helpful_plain_answer() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let cases: &[(&str, u16, &[&str])] = &[
        ("feed.rss?limit=0", 400, &["limit", "1 to 500", "\"0\""]),
        (
            "feed.atom?limit=501",
            400,
            &["limit", "1 to 500", "\"501\""],
        ),
        (
            "feed.json?limit=abc",
            400,
            &["limit", "1 to 500", "\"abc\""],
        ),
        ("feed.rss?limit=", 400, &["limit", "1 to 500"]),
        ("feed.rss?limit=-1", 400, &["limit", "1 to 500"]),
        ("topics/dan-van.rss?limit=0", 400, &["limit", "1 to 500"]),
        ("topics/dan-van.json?limit=abc", 400, &["limit"]),
        (
            "topics/khong-co.rss",
            404,
            &["khong-co", "dan-van", "cai-cach-hanh-chinh"],
        ),
        ("topics/khong-co.atom", 404, &["dan-van"]),
        (
            "feed.rss?source=khong-co",
            404,
            &["khong-co", "/sources.opml"],
        ),
        ("feed.json?tag=khong-co", 404, &["khong-co"]),
        ("feed.rss?source=vtv&tag=dang", 400, &["source", "tag"]),
        ("nope", 404, &["not found"]),
        ("feed.xml", 404, &["not found"]),
        ("topics/dan-van.xml", 404, &["/topics/ID.rss"]),
        ("topics/dan-van", 404, &["/topics/ID.rss"]),
        ("topics/", 404, &["not found"]),
        ("topics", 404, &["not found"]),
        ("topics/../feed.rss/x", 404, &["not found"]),
    ];
    let tmp = env.dir.path().to_string_lossy().to_string();
    for (path, status, says) in cases {
        let url = d.url(path);
        let got = get(&client(), &url, &[]).await;
        let body = got.text();
        assert_eq!(got.status, *status, "{url}: {body}");
        assert_eq!(
            got.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{url}"
        );
        for s in *says {
            assert!(body.contains(s), "{url}: {body:?} should say {s:?}");
        }
        for leak in [
            "Error(",
            "panicked",
            ".rs:",
            "/src/",
            "bantin.db",
            tmp.as_str(),
        ] {
            assert!(!body.contains(leak), "{url}: {body:?} shows {leak:?}");
        }
        assert!(body.len() < 300, "{url}: short: {body:?}");
    }
    let ok = get(&client(), &d.url("feed.rss?limit=500"), &[]).await;
    assert_eq!(ok.status, 200, "500 is allowed");
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Hostile input

#[tokio::test]
async fn markup_in_titles_and_names_is_text_and_script_links_go_nowhere() {
    let srv = Server::start().await;
    let script_title = r#"<script>alert("x")</script> Tin & "nháy""#;
    // Entities inside CDATA: the title, once decoded, is the literal text of a script tag.
    let escaped_title = r#"&lt;script&gt;alert("y")&lt;/script&gt; Tin &amp; "nháy" hai"#;
    let literal_title = r#"<script>alert("y")</script> Tin & "nháy" hai"#;
    srv.set(
        "/doc-hai.rss",
        Route::feed(rss(&[
            item(
                script_title,
                "javascript:alert(1)",
                Some("doc-hai-1"),
                &pub_date(5),
            ),
            item(
                escaped_title,
                "https://nhandan.vn/tin-nhay.html",
                Some("doc-hai-2"),
                &pub_date(15),
            ),
        ]
        .concat())),
    );
    let name = r#"<b>Báo</b> "Thử" & co"#;
    let env = Env::new(&source_named(
        "doc-hai",
        name,
        &srv.url("/doc-hai.rss"),
        &["thu"],
    ));
    let d = Daemon::start_and_poll(&env, 2).await;

    // What was stored: a plain title; a non-web link is no link.
    let stored = articles(&d.ing);
    let from_script = stored
        .iter()
        .find(|a| a.guid.as_deref() == Some("doc-hai-1"))
        .unwrap();
    assert_eq!(
        from_script.url, None,
        "javascript: is not a link: {from_script:?}"
    );
    assert!(
        from_script.title.ends_with(r#"Tin & "nháy""#) && !from_script.title.contains('<'),
        "the script element is not part of the title: {from_script:?}"
    );
    let from_escaped = stored
        .iter()
        .find(|a| a.guid.as_deref() == Some("doc-hai-2"))
        .unwrap();
    assert_eq!(from_escaped.title, literal_title);
    let stored_titles: BTreeSet<&str> = stored.iter().map(|a| a.title.as_str()).collect();

    // Feeds: the titles come back as the same text; the item without a web link has no link.
    for (ext, content_type) in FORMATS {
        for path in [
            format!("feed.{ext}"),
            format!("feed.{ext}?source=doc-hai"),
            format!("feed.{ext}?tag=thu"),
        ] {
            let url = d.url(&path);
            let got = get_ok(&url).await;
            assert_eq!(got.header("content-type"), Some(content_type));
            let body = got.text();
            assert!(
                !body.to_lowercase().contains("javascript:"),
                "{url}: {body}"
            );
            if ext != "json" {
                assert!(!body.contains("<script"), "{url}: markup escaped: {body}");
            }
            let feed = got.feed();
            let entries = shown(&feed);
            assert_eq!(
                entries
                    .iter()
                    .map(|e| e.title.as_str())
                    .collect::<BTreeSet<_>>(),
                stored_titles,
                "{url}"
            );
            for e in &entries {
                if e.title == from_script.title {
                    assert!(e.links.is_empty(), "{url}: no link: {e:?}");
                } else {
                    assert_eq!(e.links, ["https://nhandan.vn/tin-nhay.html"], "{url}");
                }
            }
            if path.contains("source=") {
                assert_eq!(
                    feed.title.map(|t| t.content),
                    Some(format!("bantin – {name}")),
                    "{url}: the source's name as text"
                );
            }
        }
    }

    // The index page: no script element, no bold element, the titles and the name as text.
    let page = get_ok(&d.url("/")).await.text();
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    assert!(!page.to_lowercase().contains("javascript:"), "{page}");
    let doc = html(&page);
    assert!(select(&doc, "script").is_empty());
    assert!(select(&doc, "b").is_empty());
    let items: Vec<String> = select(&doc, "ul.articles li").iter().map(text_of).collect();
    for t in &stored_titles {
        assert!(
            items.iter().any(|i| i.starts_with(t)),
            "{t:?} in {items:#?}"
        );
    }
    let linked: Vec<(String, String)> = select(&doc, "ul.articles a")
        .iter()
        .map(|a| (text_of(a), a.value().attr("href").unwrap().to_string()))
        .collect();
    assert_eq!(
        linked,
        [(
            literal_title.to_string(),
            "https://nhandan.vn/tin-nhay.html".to_string()
        )],
        "only the article with a web link is a link"
    );
    let cells: Vec<String> = select(&doc, "td a").iter().map(text_of).collect();
    assert_eq!(cells, [name], "the source's name as text");

    // OPML: the name in attributes, escaped.
    let opml = get_ok(&d.url("sources.opml")).await.text();
    assert!(
        opml.contains(r#"text="&lt;b&gt;Báo&lt;/b&gt; &quot;Thử&quot; &amp; co""#),
        "{opml}"
    );
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Health

#[tokio::test]
async fn healthz_says_ok_while_the_daemon_runs() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let got = get_ok(&d.url("healthz")).await;
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("cache-control"), Some("no-store"));
    let v: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["database"], true, "{v}");
    assert_eq!(v["scheduler"], true, "{v}");
    assert_eq!(v["articles"], STORED, "{v}");
    assert_eq!(v["sources"]["ok"], 2, "{v}");
    assert_eq!(v["sources"]["failing"], 0, "{v}");
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 7. The index page in a browser

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM Chromium builds for `url` (headless, no network but loopback, a throwaway profile).
async fn chromium_dom(url: &str, profile: &Path) -> String {
    let out = profile.join("dom.html");
    let err = profile.join("chromium.log");
    let mut cmd = std::process::Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!(
        "--user-data-dir={}",
        profile.join("profile").display()
    ))
    .arg("--dump-dom")
    .arg(url)
    .env("HOME", profile)
    .stdin(std::process::Stdio::null())
    .stdout(std::fs::File::create(&out).unwrap())
    .stderr(std::fs::File::create(&err).unwrap());
    let (o, e) = (out.clone(), err.clone());
    let status = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("cannot start chromium");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish within 60 s:\n{}",
                    std::fs::read_to_string(&e).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "chromium: {status}\n{log}");
    let dom = std::fs::read_to_string(&o).unwrap();
    assert!(!dom.is_empty(), "chromium printed no DOM:\n{log}");
    dom
}

#[tokio::test]
async fn the_index_page_renders_in_a_browser() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (apt-get install chromium)");
        return;
    }
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start_and_poll(&env, STORED).await;
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium_dom(&d.base, profile.path()).await;
    let doc = html(&dom);

    let title: Vec<String> = select(&doc, "title").iter().map(text_of).collect();
    assert_eq!(title, ["bantin – Bản tin"], "{dom}");
    let headings: Vec<String> = select(&doc, "h3").iter().map(text_of).collect();
    assert_eq!(headings, ["Dân vận", "Cải cách hành chính"], "{dom}");
    let anchors: Vec<(String, String)> = select(&doc, "a[href]")
        .iter()
        .map(|a| (text_of(a), a.value().attr("href").unwrap().to_string()))
        .collect();
    for (link, title, _) in MERGED {
        assert!(
            anchors.contains(&(title.to_string(), link.to_string())),
            "{title} links to {link}: {anchors:#?}"
        );
    }
    for (text, href) in [
        ("RSS", "feed.rss"),
        ("Atom", "feed.atom"),
        ("JSON Feed", "feed.json"),
        ("OPML", "sources.opml"),
        ("RSS", "topics/dan-van.rss"),
        ("Atom", "topics/dan-van.atom"),
        ("JSON Feed", "topics/dan-van.json"),
        ("Báo Nhân Dân", "feed.rss?source=nhandan"),
    ] {
        let want = (text.to_string(), href.to_string());
        assert!(anchors.contains(&want), "{want:?} in {anchors:#?}");
    }
    let alt = alternates(&doc);
    for (kind, title, path) in [
        (
            "application/rss+xml",
            "bantin – Tất cả nguồn (RSS)",
            "feed.rss",
        ),
        (
            "application/atom+xml",
            "bantin – Dân vận (Atom)",
            "topics/dan-van.atom",
        ),
        (
            "application/feed+json",
            "bantin – Cải cách hành chính (JSON Feed)",
            "topics/cai-cach-hanh-chinh.json",
        ),
    ] {
        let want = (kind.to_string(), title.to_string(), d.url(path));
        assert!(alt.contains(&want), "{want:?} in {alt:#?}");
    }
    assert_eq!(
        alt.len(),
        9,
        "three formats for the merged feed and each topic: {alt:#?}"
    );
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Export

/// Every file under `dir`, relative, with `/` separators.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

#[tokio::test]
async fn export_writes_every_feed_the_server_serves_as_static_files() {
    let (_srv, env) = two_outlets().await;
    let public = "https://tin.example.vn/bantin/";
    set_public_url(&env, public);
    let ing = env.ingestor().await;
    for r in poll(&ing, &[]).await {
        assert!(
            matches!(r.outcome, bantin::ingest::Outcome::Stored { .. }),
            "{r:?}"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("site");
    let (config, db) = (ing.config.clone(), env.db_path());
    let d2 = dir.clone();
    let written: Vec<PathBuf> = tokio::task::spawn_blocking(move || {
        let store = Store::open(&db).unwrap();
        bantin::export::write(&config, &store, &d2).unwrap()
    })
    .await
    .unwrap();

    let mut expected: BTreeSet<String> = ["index.html", "sources.opml"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for base in [
        "feed",
        "topics/dan-van",
        "topics/cai-cach-hanh-chinh",
        "sources/nhandan",
        "sources/vtv",
        "tags/dang",
        "tags/bao-in",
        "tags/truyen-hinh",
    ] {
        for (ext, _) in FORMATS {
            expected.insert(format!("{base}.{ext}"));
        }
    }
    let on_disk = files_under(&dir);
    assert_eq!(on_disk, expected);
    let listed: BTreeSet<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(listed, expected, "export returns what it wrote");

    let cases: [(&str, &str, &[News]); 6] = [
        ("feed", "bantin – Tất cả nguồn", MERGED),
        (
            "topics/dan-van",
            "bantin – Dân vận",
            &[DAN_VAN_NHANDAN, DAN_VAN_VTV],
        ),
        (
            "topics/cai-cach-hanh-chinh",
            "bantin – Cải cách hành chính",
            &[],
        ),
        ("sources/vtv", "bantin – Truyền hình Việt Nam", VTV),
        ("sources/nhandan", "bantin – Báo Nhân Dân", NHANDAN),
        ("tags/dang", "bantin – Nhóm nguồn dang", NHANDAN),
    ];
    // Every way a reader of the hosted files would land on the wrong file.
    let mut wrong_links = Vec::new();
    for (base, title, news) in cases {
        for (ext, _) in FORMATS {
            let file = format!("{base}.{ext}");
            let bytes = std::fs::read(dir.join(&file)).unwrap();
            let feed = feed_rs::parser::parse(&bytes[..])
                .unwrap_or_else(|e| panic!("{file} is not a feed: {e}"));
            let entries = shown(&feed);
            assert_eq!(
                feed.title.as_ref().map(|t| t.content.as_str()),
                Some(title),
                "{file}"
            );
            assert_eq!(titles(&entries), news_titles(news), "{file}");
            assert_eq!(links(&entries), news_links(news), "{file}");
            // Hosted as files, a feed's self link must be the file's own address.
            let own = format!("{public}{file}");
            if !feed.links.iter().any(|l| l.href == own) {
                wrong_links.push(format!(
                    "{file} names {:?}",
                    feed.links.iter().map(|l| &l.href).collect::<Vec<_>>()
                ));
            }
        }
    }
    for file in &expected {
        if let Some(ext) = file
            .rsplit('.')
            .next()
            .filter(|e| ["rss", "atom", "json"].contains(e))
        {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            assert!(
                feed_rs::parser::parse(&bytes[..]).is_ok(),
                "{file} ({ext}) parses"
            );
        }
    }

    // The exported page: every relative link names an exported file (a plain web server
    // ignores query strings, so `feed.rss?source=x` would be the merged feed).
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let doc = html(&page);
    let hrefs: Vec<String> = select(&doc, "a[href]")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .filter(|h| !h.starts_with("https://"))
        .collect();
    assert!(!hrefs.is_empty());
    for h in hrefs.iter().filter(|h| !expected.contains(*h)) {
        wrong_links.push(format!(
            "index.html links to {h:?}, which is no exported file"
        ));
    }
    let alt = alternates(&doc);
    assert!(
        alt.iter().all(|(_, _, href)| href
            .strip_prefix(public)
            .is_some_and(|f| expected.contains(f))),
        "{alt:#?}"
    );
    let opml = std::fs::read_to_string(dir.join("sources.opml")).unwrap();
    assert!(opml.contains("text=\"Báo Nhân Dân\""), "{opml}");
    assert!(
        wrong_links.is_empty(),
        "exported files must link to exported files (a feed's self link is its own file):\n{}",
        wrong_links.join("\n")
    );
}
