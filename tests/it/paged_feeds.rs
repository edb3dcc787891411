//! Paged feeds as a reader walks them: the daemon's `run` in process, serving on 127.0.0.1:0
//! what it polled from two fixture outlets that syndicate a third of each other's news. Every
//! feed (merged, per source, per tag, per topic) in every format is walked page by page along
//! its `next` links, and must give every story still stored exactly once, newest first; `prev`
//! leads back; new articles arriving mid-walk move nothing; `?since=` gives what arrived
//! after an instant. Python feedparser and newsboat read the same feeds over loopback.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use bantin::daemon::{self, DaemonError, Ingestor};
use bantin::site::paging::Cursor;
use bantin::store::{ArticleQuery, FeedKey, SourceHealth};
use bantin::stories;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use tokio::sync::oneshot;

const WITHIN: Duration = Duration::from_secs(15);

const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận"]
"#;

/// Stories the first outlet carries; every third is also on the second outlet a few minutes
/// later, every third but one a few minutes earlier (that copy leads its story).
const STORIES: usize = 24;
/// Stories only the second outlet carries.
const OWN: usize = 10;
/// Articles stored: [`STORIES`], their copies, [`OWN`].
const STORED: usize = STORIES + STORIES / 3 * 2 + OWN;

/// One item: link, title, minutes before now.
type News = (String, String, i64);

fn first_outlet() -> Vec<News> {
    (0..STORIES as i64)
        .map(|i| {
            (
                format!("https://nhandan.vn/tin-{i}.html"),
                story_title(i),
                10 + i * 30,
            )
        })
        .collect()
}

fn second_outlet() -> Vec<News> {
    let copies = (0..STORIES as i64).filter_map(|i| {
        let minutes = match i % 3 {
            0 => 10 + i * 30 + 7,
            1 => 10 + i * 30 - 7,
            _ => return None,
        };
        Some((
            format!("https://vtv.vn/ban-sao-{i}.html"),
            story_title(i),
            minutes,
        ))
    });
    let own = (0..OWN as i64).map(|j| {
        let about = if j % 2 == 0 {
            "công tác dân vận"
        } else {
            "giao thông"
        };
        (
            format!("https://vtv.vn/rieng-{j}.html"),
            format!("Phóng sự riêng số {j} của truyền hình về {about}"),
            25 + j * 45,
        )
    });
    copies.chain(own).collect()
}

/// A story's title: more than five syllables (copies are matched by title), every fourth about
/// "dân vận".
fn story_title(i: i64) -> String {
    let about = if i % 4 == 0 {
        "công tác dân vận"
    } else {
        "kinh tế vùng"
    };
    format!("Hội nghị số {i} của Chính phủ với các địa phương về {about}")
}

fn pub_date(minutes: i64) -> String {
    let ict = FixedOffset::east_opt(7 * 3600).unwrap();
    (Utc::now() - chrono::Duration::minutes(minutes))
        .with_timezone(&ict)
        .to_rfc2822()
}

fn feed_of_news(items: &[News]) -> String {
    rss(&items
        .iter()
        .map(|(link, title, minutes)| item(title, link, Some(link), &pub_date(*minutes)))
        .collect::<String>())
}

/// The fixture server with both outlets, and a config with their sources (tags: both are
/// "bao-chi", the second also "truyen-hinh") and [`TOPICS`].
async fn two_outlets() -> (Server, Env) {
    let srv = Server::start().await;
    srv.set("/nhandan.rss", Route::feed(feed_of_news(&first_outlet())));
    srv.set("/vtv.rss", Route::feed(feed_of_news(&second_outlet())));
    let env = Env::new(
        &[
            source("nhandan", &srv.url("/nhandan.rss"), "tags = [\"bao-chi\"]"),
            source(
                "vtv",
                &srv.url("/vtv.rss"),
                "tags = [\"bao-chi\", \"truyen-hinh\"]",
            ),
        ]
        .concat(),
    );
    std::fs::write(env.dir.path().join("topics.toml"), TOPICS).unwrap();
    (srv, env)
}

/// `bantin::daemon::run` serving on a listener of its own, its sources polled.
struct Daemon {
    ing: Ingestor,
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    async fn start(env: &Env, stored: usize) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = env.config();
        config.http.bound(listener.local_addr().unwrap());
        let base = config.http.public_url.to_string();
        let ing = Ingestor::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(ing.clone(), Some(listener), async move {
            let _ = stopped.await;
        }));
        let polled = ing.clone();
        wait_until("every source is polled and stored", WITHIN, move || {
            let ing = polled.clone();
            async move {
                let states = ing.states().await.unwrap();
                states.iter().all(|s| s.health == SourceHealth::Ok)
                    && articles(&ing).len() == stored
            }
        })
        .await;
        Daemon {
            ing,
            base,
            stop,
            task,
        }
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

/// The feeds walked: (path without extension and query, query, the filters that select the
/// same articles from the store).
fn scopes() -> Vec<(&'static str, &'static str, ArticleQuery)> {
    let q = ArticleQuery {
        limit: 10_000,
        ..Default::default()
    };
    vec![
        ("feed", "", q.clone()),
        (
            "feed",
            "source=vtv",
            ArticleQuery {
                source: Some("vtv".into()),
                ..q.clone()
            },
        ),
        (
            "feed",
            "source=nhandan",
            ArticleQuery {
                source: Some("nhandan".into()),
                ..q.clone()
            },
        ),
        (
            "feed",
            "tag=bao-chi",
            ArticleQuery {
                any_source: Some(vec!["nhandan".into(), "vtv".into()]),
                ..q.clone()
            },
        ),
        (
            "topics/dan-van",
            "",
            ArticleQuery {
                topic: Some("dan-van".into()),
                ..q
            },
        ),
    ]
}

/// The entry ids a feed of `q` must show across its pages: one per story, at its newest copy,
/// newest first; and the number of articles those stories hold.
fn expected_ids(ing: &Ingestor, q: &ArticleQuery) -> (Vec<String>, usize) {
    let all = ing.store.articles(q).unwrap();
    let merged = stories::merge(&all);
    let ids = merged
        .iter()
        .map(|s| format!("urn:bantin:{}", s.lead.ident))
        .collect();
    (ids, merged.iter().map(|s| s.articles.len()).sum())
}

/// What a reader takes from one page.
#[derive(Debug, Default, Clone)]
struct Read {
    ids: Vec<String>,
    self_url: Option<String>,
    first: Option<String>,
    next: Option<String>,
    prev: Option<String>,
}

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// A page's entry ids and page links, read as a reader reads them: RSS `guid` and
/// `atom:link`, Atom `id` and `link`, JSON Feed `id`, `feed_url` and `next_url`.
fn read_page(ext: &str, body: &[u8]) -> Read {
    let text = std::str::from_utf8(body).unwrap();
    let mut read = Read::default();
    if ext == "json" {
        let json: Value = serde_json::from_str(text).unwrap();
        read.ids = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        read.self_url = json["feed_url"].as_str().map(String::from);
        read.next = json["next_url"].as_str().map(String::from);
        return read;
    }
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let (container, id) = match ext {
        "rss" => ("channel", "guid"),
        _ => ("feed", "id"),
    };
    let top = doc
        .descendants()
        .find(|n| n.tag_name().name() == container)
        .unwrap();
    for n in top.children().filter(|n| n.is_element()) {
        let is_entry = matches!(n.tag_name().name(), "item" | "entry");
        if is_entry {
            let id = n.children().find(|c| c.tag_name().name() == id).unwrap();
            read.ids.push(id.text().unwrap().to_string());
        }
        if n.tag_name().name() == "link" && n.tag_name().namespace() == Some(ATOM_NS) {
            let href = n.attribute("href").map(String::from);
            match n.attribute("rel") {
                Some("self") => read.self_url = href,
                Some("first") => read.first = href,
                Some("next") => read.next = href,
                Some("prev") => read.prev = href,
                _ => {}
            }
        }
    }
    read
}

async fn get_page(c: &reqwest::Client, url: &str, ext: &str) -> Read {
    let resp = c.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    read_page(ext, &resp.bytes().await.unwrap())
}

/// Every page from `url` along `next`, in order.
async fn walk(c: &reqwest::Client, url: &str, ext: &str) -> Vec<Read> {
    let mut pages = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(url) = next {
        assert!(pages.len() < 100, "a walk that does not end: {url}");
        let page = get_page(c, &url, ext).await;
        assert_eq!(page.self_url.as_deref(), Some(url.as_str()), "self link");
        next = page.next.clone();
        pages.push(page);
    }
    pages
}

fn feed_url(d: &Daemon, path: &str, ext: &str, query: &str) -> String {
    let query = [query, "limit=4"]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    d.url(&format!("{path}.{ext}?{query}"))
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

#[tokio::test]
async fn walking_every_page_gives_every_story_once_newest_first() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    for (path, query, q) in scopes() {
        let (expected, articles) = expected_ids(&d.ing, &q);
        assert_eq!(
            articles,
            d.ing.store.articles(&q).unwrap().len(),
            "each article is in one story"
        );
        assert!(expected.len() > 8, "{path}?{query}: more than two pages");
        for ext in ["rss", "atom", "json"] {
            let first = feed_url(&d, path, ext, query);
            let pages = walk(&c, &first, ext).await;
            let ids: Vec<String> = pages.iter().flat_map(|p| p.ids.clone()).collect();
            assert_eq!(ids, expected, "{first}: every story once, newest first");
            assert_eq!(
                pages.len(),
                expected.len().div_ceil(4),
                "{first}: full pages"
            );
            if ext == "json" {
                continue;
            }
            for (i, page) in pages.iter().enumerate() {
                assert_eq!(page.first.as_deref(), Some(first.as_str()), "{first}");
                // Each page but the first leads back to the one before it.
                match (i, &page.prev) {
                    (0, None) => {}
                    (0, Some(prev)) => panic!("{first}: the first page has prev {prev}"),
                    (_, None) => panic!("{first}: page {i} has no prev"),
                    (_, Some(prev)) => {
                        let back = get_page(&c, prev, ext).await;
                        assert_eq!(back.ids, pages[i - 1].ids, "{prev}: the page before {i}");
                        assert!(back.next.is_some(), "{prev}");
                        assert_eq!(back.prev.is_some(), i > 1, "{prev}: prev of page {}", i - 1);
                    }
                }
            }
        }
    }
    // A page older than everything is empty and leads back to the oldest stories.
    let (expected, _) = expected_ids(&d.ing, &scopes()[0].2);
    let oldest = Cursor::Before(FeedKey {
        published: 0,
        first_seen: 0,
        id: 0,
    });
    let past = get_page(
        &c,
        &d.url(&format!("feed.atom?limit=4&before={}", oldest.value())),
        "atom",
    )
    .await;
    assert!(past.ids.is_empty() && past.next.is_none(), "{past:?}");
    let back = get_page(&c, past.prev.as_deref().unwrap(), "atom").await;
    assert_eq!(back.ids, expected[expected.len() - 4..]);
    assert!(back.prev.is_some() && back.next.is_some(), "{back:?}");
    // One story per page at most, whatever its copies: still each story once.
    let pages = walk(&c, &d.url("feed.atom?limit=1"), "atom").await;
    let ids: Vec<String> = pages.iter().flat_map(|p| p.ids.clone()).collect();
    assert_eq!(ids, expected);
    d.stop().await;
}

#[tokio::test]
async fn a_walk_is_not_moved_by_new_articles() {
    let (srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    let (expected, _) = expected_ids(&d.ing, &scopes()[0].2);
    let first = d.url("feed.rss?limit=5");
    let page1 = get_page(&c, &first, "rss").await;
    let page2 = get_page(&c, page1.next.as_deref().unwrap(), "rss").await;
    // Five new stories arrive, newer than everything: an offset would now repeat five.
    let mut news = first_outlet();
    for k in 0..5 {
        news.push((
            format!("https://nhandan.vn/moi-{k}.html"),
            format!("Tin mới số {k} vừa đăng về đại hội đại biểu toàn quốc"),
            1,
        ));
    }
    srv.set("/nhandan.rss", Route::feed(feed_of_news(&news)));
    poll(&d.ing, &["nhandan"]).await;
    assert_eq!(articles(&d.ing).len(), STORED + 5);
    let mut ids = [page1.ids, page2.ids.clone()].concat();
    for page in walk(&c, page2.next.as_deref().unwrap(), "rss").await {
        ids.extend(page.ids);
    }
    assert_eq!(ids, expected, "the rest of the walk as it was");
    // The first page now shows the new stories, and the page it was is the one before the
    // second.
    let now = get_page(&c, &first, "rss").await;
    assert_eq!(now.ids.len(), 5);
    assert!(!expected.contains(&now.ids[0]));
    let back = get_page(&c, page2.prev.as_deref().unwrap(), "rss").await;
    assert_eq!(back.ids, expected[..5]);
    assert!(back.prev.is_some(), "newer stories arrived above it");
    d.stop().await;
}

#[tokio::test]
async fn since_gives_what_arrived_after_an_instant_paged() {
    let (srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    let polled = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Three arrive: two fresh, one published two days ago (a late find still arrives now).
    let mut news = first_outlet();
    news.push((
        "https://nhandan.vn/moi-a.html".into(),
        "Tin mới A về công tác dân vận ở vùng cao".into(),
        2,
    ));
    news.push((
        "https://nhandan.vn/moi-b.html".into(),
        "Tin mới B về giá lúa gạo vụ đông xuân".into(),
        3,
    ));
    news.push((
        "https://nhandan.vn/cu-c.html".into(),
        "Tin cũ C mới tìm thấy về công tác dân vận".into(),
        2 * 24 * 60,
    ));
    srv.set("/nhandan.rss", Route::feed(feed_of_news(&news)));
    poll(&d.ing, &["nhandan"]).await;
    // As the links write it, so that each page's self link is the URL asked for.
    let since = polled.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let links_of = |ids: &[String]| -> Vec<String> {
        let all = articles(&d.ing);
        ids.iter()
            .map(|id| {
                let a = all
                    .iter()
                    .find(|a| format!("urn:bantin:{}", a.ident) == *id)
                    .unwrap();
                a.url.clone().unwrap()
            })
            .collect()
    };
    for ext in ["rss", "atom", "json"] {
        let url = d.url(&format!("feed.{ext}?limit=2&since={since}"));
        let pages = walk(&c, &url, ext).await;
        assert_eq!(pages.len(), 2, "{url}: three stories, two a page");
        let ids: Vec<String> = pages.iter().flat_map(|p| p.ids.clone()).collect();
        assert_eq!(
            links_of(&ids),
            [
                "https://nhandan.vn/moi-a.html",
                "https://nhandan.vn/moi-b.html",
                "https://nhandan.vn/cu-c.html"
            ],
            "{url}"
        );
    }
    // With an offset, `+` escaped as a form would send it, or not.
    let local = polled.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap());
    let plus = local.to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    for since in [plus.replace('+', "%2B"), plus.clone()] {
        let url = d.url(&format!("topics/dan-van.json?since={since}"));
        let page = get_page(&c, &url, "json").await;
        assert_eq!(
            links_of(&page.ids),
            [
                "https://nhandan.vn/moi-a.html",
                "https://nhandan.vn/cu-c.html"
            ],
            "{url}"
        );
    }
    // Nothing arrived after now.
    let later = DateTime::<Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let page = get_page(&c, &d.url(&format!("feed.rss?since={later}")), "rss").await;
    assert!(page.ids.is_empty() && page.next.is_none(), "{page:?}");
    d.stop().await;
}

#[tokio::test]
async fn bad_page_parameters_are_a_clear_400() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    let good = get_page(&c, &d.url("feed.rss?limit=3"), "rss")
        .await
        .next
        .unwrap();
    let cursor = good.split("before=").nth(1).unwrap().to_string();
    for (query, message) in [
        (
            "before=abc".to_string(),
            "before=\"abc\" is not a page cursor: use the next and prev links of the feed",
        ),
        (
            format!("after={cursor}x"),
            "is not a page cursor: use the next and prev links of the feed",
        ),
        (
            format!("before={cursor}&after={cursor}"),
            "use either ?before= or ?after=, not both",
        ),
        (
            "since=yesterday".to_string(),
            "since=\"yesterday\" is not an RFC 3339 time such as 2026-12-07T06:00:00Z",
        ),
        ("since=2026-12-07".to_string(), "is not an RFC 3339 time"),
    ] {
        for path in ["feed.rss", "feed.json", "topics/dan-van.atom"] {
            let url = d.url(&format!("{path}?{query}"));
            let resp = c.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 400, "{url}");
            let text = resp.text().await.unwrap();
            assert!(text.contains(message), "{url}: {text}");
        }
    }
    d.stop().await;
}

#[tokio::test]
async fn each_page_has_its_own_etag() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    let first = d.url("topics/dan-van.atom?limit=2");
    let r1 = c.get(&first).send().await.unwrap();
    let etag1 = r1.headers()["etag"].to_str().unwrap().to_string();
    let next = read_page("atom", &r1.bytes().await.unwrap()).next.unwrap();
    let r2 = c.get(&next).send().await.unwrap();
    let etag2 = r2.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(etag1, etag2);
    for (url, etag) in [(&first, &etag1), (&next, &etag2)] {
        let again = c
            .get(url.as_str())
            .header("if-none-match", etag.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{url}");
        let other = if etag == &etag1 { &etag2 } else { &etag1 };
        let changed = c
            .get(url.as_str())
            .header("if-none-match", other.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{url}: another page's ETag");
    }
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Real readers

/// The Python with feedparser: `BANTIN_READERS_PYTHON`, or the venv `.ci/run` makes under the
/// target dir. Missing is a failure, not a skip.
fn feedparser_python() -> PathBuf {
    let python = std::env::var_os("BANTIN_READERS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/readers-venv/bin/python")
        });
    let ok = std::process::Command::new(&python)
        .args(["-c", "import feedparser"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import feedparser: run `python3 -m venv target/readers-venv && \
         target/readers-venv/bin/pip install feedparser` (as .ci/run does), or set \
         BANTIN_READERS_PYTHON",
        python.display()
    );
    python
}

/// Walks a feed with feedparser along its `next` links; prints the ids of each page as JSON.
const WALK_PY: &str = r#"
import json, sys, feedparser
url, pages = sys.argv[1], []
while url and len(pages) < 100:
    d = feedparser.parse(url)
    if d.bozo:
        sys.exit("%s: %r" % (url, d.bozo_exception))
    if d.get("status") != 200:
        sys.exit("%s: status %s" % (url, d.get("status")))
    links = {l.get("rel"): l.get("href") for l in d.feed.get("links", [])}
    pages.append({"ids": [e.id for e in d.entries], "self": links.get("self"), "next": links.get("next")})
    url = links.get("next")
print(json.dumps(pages))
"#;

#[tokio::test]
async fn feedparser_follows_the_next_links() {
    let python = feedparser_python();
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    for (path, query, q) in [&scopes()[0], &scopes()[4]] {
        let (expected, _) = expected_ids(&d.ing, q);
        for ext in ["rss", "atom"] {
            let url = feed_url(&d, path, ext, query);
            let mut cmd = std::process::Command::new(&python);
            cmd.args(["-c", WALK_PY, &url]);
            let out = run_command(cmd).await;
            assert!(
                out.status.success(),
                "feedparser on {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let pages: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(pages.len(), expected.len().div_ceil(4), "{url}");
            assert_eq!(pages[0]["self"], url.as_str());
            assert!(pages[0]["next"].is_string(), "{url}: feedparser sees next");
            let ids: Vec<String> = pages
                .iter()
                .flat_map(|p| p["ids"].as_array().unwrap().clone())
                .map(|id| id.as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids, expected, "{url}");
        }
    }
    d.stop().await;
}

/// Runs newsboat headless on `urls` with its cache in `dir`; the (feed URL, guid) of every item
/// it stored.
async fn newsboat(dir: &Path, urls: &[String]) -> Vec<(String, String)> {
    let urls_file = dir.join("urls");
    std::fs::write(&urls_file, urls.join("\n") + "\n").unwrap();
    let config = dir.join("config");
    std::fs::write(&config, "reload-threads 1\nmax-items 0\n").unwrap();
    let cache = dir.join("cache.db");
    let mut cmd = std::process::Command::new("newsboat");
    cmd.env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config-home"))
        .env("XDG_DATA_HOME", dir.join("data-home"))
        .arg("-x")
        .arg("reload")
        .arg("-u")
        .arg(&urls_file)
        .arg("-c")
        .arg(&cache)
        .arg("-C")
        .arg(&config);
    let out = match cmd.spawn() {
        Ok(child) => tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap(),
        Err(e) => panic!(
            "cannot run newsboat ({e}): install it (`apt-get install -y newsboat`, as .ci/run does)"
        ),
    };
    assert!(
        out.status.success(),
        "newsboat: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(&cache).unwrap();
    let mut stmt = db
        .prepare("SELECT feedurl, guid FROM rss_item ORDER BY feedurl, pubDate DESC")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<(String, String)>, _>>()
        .unwrap();
    rows
}

/// newsboat reads the page it is given and does not follow `next`: what it stores of each page
/// must be exactly that page's stories, so a reader subscribed to the first page gets the
/// newest and a script can hand it older pages.
#[tokio::test]
async fn newsboat_reads_each_page_it_is_given() {
    let (_srv, env) = two_outlets().await;
    let d = Daemon::start(&env, STORED).await;
    let c = client();
    // One cache per format: newsboat keeps an item once by its guid, across feeds.
    for ext in ["rss", "atom"] {
        let dir = tempfile::tempdir().unwrap();
        let mut urls = Vec::new();
        let mut want: HashSet<(String, String)> = HashSet::new();
        let first = feed_url(&d, "feed", ext, "");
        let pages = walk(&c, &first, ext).await;
        // The first page and the second, as a reader subscribed to both would have them.
        for page in &pages[..2] {
            let url = page.self_url.clone().unwrap();
            want.extend(page.ids.iter().map(|id| (url.clone(), id.clone())));
            urls.push(url);
        }
        let got: HashSet<(String, String)> =
            newsboat(dir.path(), &urls).await.into_iter().collect();
        assert_eq!(got, want, "{ext}");
        assert_eq!(got.len(), 8, "{ext}: two pages of four");
    }
    d.stop().await;
}
