//! Search as a reader and an admin use it: `/search.{rss,atom,json}?q=` from the daemon's
//! `run` serving on 127.0.0.1:0, read back with feed-rs, and `bantin search` run as a binary,
//! over articles a fixture outlet published in every spelling the Vietnamese rules cover:
//! capitals, decomposed accents, the old tone-mark style, look-alike syllables ("dẫn vận",
//! "đan vân"), punctuation between the two syllables of a phrase.

use std::time::Duration;

use crate::common::*;
use bantin::daemon::{self, DaemonError};
use bantin::store::SourceHealth;
use chrono::{FixedOffset, Utc};
use tokio::sync::oneshot;
use unicode_normalization::UnicodeNormalization;

const WITHIN: Duration = Duration::from_secs(15);

const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận"]
"#;

const KHEO: &str = "Dân vận khéo ở cơ sở";
const CAPITALS: &str = "DÂN VẬN TRONG TÌNH HÌNH MỚI";
/// Sent decomposed (NFD), as Nhân Dân's feeds often are.
const DECOMPOSED: &str = "Công tác dân vận năm 2026";
const DAN_VAN_LOOKALIKE: &str = "Hướng dẫn vận hành máy gặt";
const DAN_VAN_FOLDED: &str = "Đan vân tay cho thiếu nhi";
const OLD_TONE_STYLE: &str = "Hoà giải ở cơ sở";
const PUNCTUATION_BETWEEN: &str = "Nhân dân. Vận động bầu cử";
const AN_NINH: &str = "An ninh trật tự được giữ vững";
const SAN_BAY: &str = "Sân bay Long Thành đón khách";

/// Title, minutes before now it was published (newest first).
const NEWS: &[(&str, i64)] = &[
    (KHEO, 10),
    (CAPITALS, 20),
    (DECOMPOSED, 30),
    (DAN_VAN_LOOKALIKE, 40),
    (DAN_VAN_FOLDED, 50),
    (OLD_TONE_STYLE, 60),
    (PUNCTUATION_BETWEEN, 70),
    (AN_NINH, 80),
    (SAN_BAY, 90),
];

fn outlet_feed() -> String {
    let ict = FixedOffset::east_opt(7 * 3600).unwrap();
    rss(&NEWS
        .iter()
        .enumerate()
        .map(|(i, (title, minutes))| {
            let title: String = if *title == DECOMPOSED {
                title.nfd().collect()
            } else {
                title.to_string()
            };
            let when = (Utc::now() - chrono::Duration::minutes(*minutes)).with_timezone(&ict);
            let link = format!("https://bao.example.vn/tin-{i}.html");
            item(&title, &link, Some(&link), &when.to_rfc2822())
        })
        .collect::<String>())
}

/// The daemon, serving, with the outlet polled and stored.
struct Served {
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
    _srv: Server,
    env: Env,
}

impl Served {
    async fn start() -> Served {
        let srv = Server::start().await;
        srv.set("/bao.rss", Route::feed(outlet_feed()));
        let env = Env::new(&source("bao", &srv.url("/bao.rss"), ""));
        std::fs::write(env.dir.path().join("topics.toml"), TOPICS).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = env.config();
        config.http.bound(listener.local_addr().unwrap());
        let base = config.http.public_url.to_string();
        let ing = bantin::daemon::Ingestor::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(ing.clone(), Some(listener), async move {
            let _ = stopped.await;
        }));
        wait_until("the outlet is polled and stored", WITHIN, || {
            let ing = ing.clone();
            async move {
                let states = ing.states().await.unwrap();
                states.iter().all(|s| s.health == SourceHealth::Ok)
                    && articles(&ing).len() == NEWS.len()
            }
        })
        .await;
        Served {
            base,
            stop,
            task,
            _srv: srv,
            env,
        }
    }

    /// GET `/search.EXT` with `query` (already a query string); status, headers, body.
    async fn get(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Got {
        let url = format!("{}{}", self.base, path_and_query.trim_start_matches('/'));
        let mut req = reqwest::Client::new().get(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        Got {
            status: resp.status().as_u16(),
            etag: resp
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string()),
            body: resp.text().await.unwrap(),
        }
    }

    /// The titles of `/search.EXT?q=…&rest`, in feed order; the response must be a feed.
    async fn titles(&self, ext: &str, q: &str, rest: &str) -> Vec<String> {
        let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let got = self.get(&format!("/search.{ext}?q={q}{rest}"), &[]).await;
        assert_eq!(got.status, 200, "{q}: {}", got.body);
        let feed = feed_rs::parser::parse(got.body.as_bytes())
            .unwrap_or_else(|e| panic!("not a feed ({e}): {}", got.body));
        feed.entries
            .iter()
            .map(|e| {
                e.title
                    .as_ref()
                    .map(|t| t.content.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Stops the daemon; the config and database stay for the CLI.
    async fn stop(self) -> Env {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
            .expect("run returned an error");
        self.env
    }
}

struct Got {
    status: u16,
    etag: Option<String>,
    body: String,
}

fn titles(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_feeds_follow_the_vietnamese_rules() {
    let s = Served::start().await;
    let both_words = titles(&[KHEO, CAPITALS, DECOMPOSED, PUNCTUATION_BETWEEN]);
    let phrase = titles(&[KHEO, CAPITALS, DECOMPOSED]);
    for ext in ["rss", "atom", "json"] {
        assert_eq!(s.titles(ext, "dân vận", "").await, both_words, "{ext}");
    }
    // Capitals, decomposed accents and the old tone style in the query mean the same.
    assert_eq!(s.titles("rss", "DÂN VẬN", "").await, both_words);
    let nfd: String = "dân vận".nfd().collect();
    assert_eq!(s.titles("rss", &nfd, "").await, both_words);
    assert_eq!(s.titles("rss", "\"dân vận\"", "").await, phrase);
    // Without diacritics: accent-free, đ folded to d.
    assert_eq!(
        s.titles("rss", "\"dan van\"", "").await,
        titles(&[
            KHEO,
            CAPITALS,
            DECOMPOSED,
            DAN_VAN_LOOKALIKE,
            DAN_VAN_FOLDED
        ])
    );
    assert_eq!(s.titles("json", "dan van", "").await.len(), 6);
    // Whole syllables only: "an" is not in "dân" nor "sân".
    assert_eq!(s.titles("rss", "an", "").await, titles(&[AN_NINH]));
    for q in ["hòa giải", "hoà giải", "\"hoa giai\""] {
        assert_eq!(
            s.titles("rss", q, "").await,
            titles(&[OLD_TONE_STYLE]),
            "{q}"
        );
    }
    // Narrowed by topic, limit and time.
    assert_eq!(
        s.titles("rss", "cơ sở", "&topic=dan-van").await,
        titles(&[KHEO])
    );
    assert_eq!(
        s.titles("atom", "dân vận", "&limit=2").await,
        titles(&[KHEO, CAPITALS])
    );
    assert_eq!(
        s.titles("rss", "dan van", "&since=25m").await,
        titles(&[KHEO, CAPITALS])
    );
    // A query with nothing found is an empty feed, not an error.
    assert_eq!(s.titles("rss", "bóng đá", "").await, Vec::<String>::new());
    // An open quote runs to the end of the query.
    assert_eq!(s.titles("rss", "\"dân vận khéo", "").await, titles(&[KHEO]));

    // ETag and 304, as the other feeds.
    let first = s.get("/search.rss?q=d%C3%A2n", &[]).await;
    assert_eq!(first.status, 200);
    let etag = first.etag.expect("an ETag");
    let again = s
        .get("/search.rss?q=d%C3%A2n", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, 304);

    // What cannot be searched is a 400 that says why; an unknown topic a 404.
    let huge = format!("/search.rss?q={}", "a".repeat(10_000));
    let cases = [
        ("/search.rss", 400, "?q="),
        ("/search.json?q=", 400, "empty"),
        ("/search.atom?q=%20%20", 400, "empty"),
        ("/search.rss?q=%3F%21%E2%80%A6", 400, "no words"),
        ("/search.rss?q=%22%22%22", 400, "no words"),
        (huge.as_str(), 400, "too long"),
        ("/search.rss?q=d%C3%A2n&limit=0", 400, "limit"),
        ("/search.rss?q=d%C3%A2n&since=yesterday", 400, "since"),
        ("/search.rss?q=d%C3%A2n&topic=bong-da", 404, "no topic"),
    ];
    for (path, status, says) in cases {
        let got = s.get(path, &[]).await;
        let shown: String = path.chars().take(60).collect();
        assert_eq!(got.status, status, "{shown}: {}", got.body);
        assert!(got.body.contains(says), "{shown}: {}", got.body);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bantin_search_lists_the_newest_matches() {
    let env = Served::start().await.stop().await;
    let config = env.config_path.clone();
    let found = bantin_json(&config, &["search", "--json", "dân", "vận"]).await;
    let shown: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(shown, [KHEO, CAPITALS, DECOMPOSED, PUNCTUATION_BETWEEN]);
    let found = bantin_json(
        &config,
        &[
            "search",
            "--json",
            "--limit",
            "1",
            "--since",
            "1h",
            "\"dan van\"",
        ],
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["title"], KHEO);
    let found = bantin_json(
        &config,
        &["search", "--json", "--topic", "dan-van", "\"cơ sở\""],
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    // Plain output: a line per article, then its link.
    let out = run_bantin(Some(&config), &["search", "hoà", "giải"]).await;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(OLD_TONE_STYLE), "{text}");
    assert!(text.contains("https://bao.example.vn/tin-5.html"), "{text}");
    // Usage errors: exit 2 and why.
    for (args, says) in [
        (&["search", "?!"][..], "no words"),
        (&["search", "dân", "--since", "7y"], "since"),
        (&["search", "dân", "--topic", "bong-da"], "unknown topic"),
    ] {
        let out = run_bantin(Some(&config), args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
