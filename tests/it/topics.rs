//! Topic matching as an admin sees it: matches stored at ingest, `fields` and `sources`, topics
//! changed under a running daemon (file watcher, SIGHUP), across restarts, and the commands that
//! show and explain matches (`topics`, `topics test`, `match`, `articles --topic`, `check`).
//!
//! Fixture items are short Vietnamese news items; each one's link slug names the property it
//! exercises, and assertions compare those slugs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use bantin::daemon::{self, Ingestor};
use bantin::ingest::{self, Outcome};
use bantin::store::{ArticleQuery, Store, StoredArticle};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A `dan-van` topic shaped like the shipped one (positive phrases and organisation names,
/// `ignore` for words that span the syllables "dân vận", a `none` veto), and a second topic so
/// that an article can belong to two.
const DAN_VAN: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = [
    "dân vận",
    "công tác dân vận",
    "dân vận khéo",
    "Ban Dân vận",
    "quy chế dân chủ ở cơ sở",
    "Mặt trận Tổ quốc",
]
ignore = [
    "nhân dân vận dụng",
    "người dân vận dụng",
    "người dân vận chuyển",
    "nông dân vận hành",
    "dân vận hành",
]
none = ["bóng đá"]

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính", "thủ tục hành chính"]
"#;

/// "Thi đua dân vận khéo ở cơ sở", every accent decomposed (NFD), as Nhân Dân often sends.
const NFD_TITLE: &str =
    "Thi đua da\u{302}n va\u{323}\u{302}n khe\u{301}o o\u{31b}\u{309} co\u{31b} so\u{31b}\u{309}";

/// One fixture item: the slug of its link (named by the property it exercises), its title and
/// summary HTML as published, and the topics it must match under [`DAN_VAN`].
type Item = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const DAN_VAN_FEED: &[Item] = &[
    (
        "phrase-in-title",
        "Tăng cường công tác dân vận trong tình hình mới",
        "<p>Hội nghị toàn quốc tổng kết năm.</p>",
        &["dan-van"],
    ),
    (
        "bold-markup-in-summary",
        "Hội nghị giao ban khối cơ quan",
        "<p>Phát huy vai trò <b>dân</b> vận của chính quyền các cấp.</p>",
        &["dan-van"],
    ),
    (
        "nfd-title",
        NFD_TITLE,
        "<p>Nhiều mô hình hay được nhân rộng.</p>",
        &["dan-van"],
    ),
    (
        "organisation-name",
        "Ban Dân vận Tỉnh ủy tổng kết công tác năm 2026",
        "<p>Tóm tắt hoạt động trong năm.</p>",
        &["dan-van"],
    ),
    (
        "entities-in-summary",
        "Khen thưởng mô hình hay ở xã",
        "<p>Mô hình d&acirc;n v&#7853;n khéo của xã được biểu dương.</p>",
        &["dan-van"],
    ),
    (
        "ignored-but-also-positive",
        "Nhân dân vận dụng sáng tạo nghị quyết vào cuộc sống",
        "<p>Các cấp ủy làm tốt công tác dân vận.</p>",
        &["dan-van"],
    ),
    (
        "two-topics",
        "Dân vận khéo trong cải cách hành chính",
        "<p>Người dân hài lòng.</p>",
        &["cai-cach-hanh-chinh", "dan-van"],
    ),
    (
        "other-topic-only",
        "Cắt giảm thủ tục hành chính cho doanh nghiệp",
        "<p>Tiết kiệm chi phí tuân thủ.</p>",
        &["cai-cach-hanh-chinh"],
    ),
    (
        "other-accents-dan-van",
        "Người dân vẫn chờ xe buýt dưới nắng",
        "<p>Tuyến xe thưa chuyến.</p>",
        &[],
    ),
    (
        "only-inside-ignore",
        "Nhân dân vận dụng sáng tạo nghị quyết",
        "<p>Nghị quyết đi vào cuộc sống.</p>",
        &[],
    ),
    (
        "dan-van-phong",
        "Giới dân văn phòng đổ xô đi ăn trưa",
        "<p>Quán xá đông đúc.</p>",
        &[],
    ),
    (
        "vetoed-by-bong-da",
        "Giải bóng đá chào mừng ngày truyền thống ngành Dân vận",
        "<p>Các đội thi đấu sôi nổi.</p>",
        &[],
    ),
];

/// An RSS feed of `items`, linked on `host`, a minute apart on the morning of 28 Nov 2026.
fn feed(host: &str, items: &[Item]) -> String {
    rss(&items
        .iter()
        .enumerate()
        .map(|(i, (slug, title, summary, _))| news(host, slug, title, summary, i))
        .collect::<String>())
}

/// One RSS item: link `https://{host}/{slug}.html`, or `https://{slug}.html` when the slug
/// names its own host (`nhandan.vn/bai-viet`, for an article another source also carries); guid
/// `{slug}`.
fn news(host: &str, slug: &str, title: &str, summary_html: &str, minute: usize) -> String {
    let link = if slug.contains('/') {
        format!("https://{slug}.html")
    } else {
        format!("https://{host}/{slug}.html")
    };
    format!(
        "<item><title><![CDATA[{title}]]></title><link>{link}</link>\
         <guid isPermaLink=\"false\">{slug}</guid><pubDate>Sat, 28 Nov 2026 08:{minute:02}:00 +0700</pubDate>\
         <description><![CDATA[{summary_html}]]></description></item>\n"
    )
}

/// Slugs of the items of `items` that must match `topic`.
fn expected(items: &[Item], topic: &str) -> BTreeSet<String> {
    items
        .iter()
        .filter(|(_, _, _, topics)| topics.contains(&topic))
        .map(|(slug, ..)| slug_of_url(slug))
        .collect()
}

fn set(slugs: &[&str]) -> BTreeSet<String> {
    slugs.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn topics_path(env: &Env) -> std::path::PathBuf {
    env.dir.path().join("topics.toml")
}

/// Writes `topics.toml` beside the main config (loaded from there automatically).
fn write_topics(env: &Env, text: &str) {
    std::fs::write(topics_path(env), text).unwrap();
}

/// Polls `ids` now and expects each to store its feed.
async fn poll_stored(ing: &Ingestor, ids: &[&str]) {
    for r in poll(ing, ids).await {
        assert!(
            matches!(r.outcome, Outcome::Stored { .. }),
            "{}: {}",
            r.source,
            r.outcome
        );
    }
}

/// The slug of an article's link: `https://host/SLUG.html`.
fn slug_of_url(url: &str) -> String {
    let last = url.rsplit('/').next().unwrap_or(url);
    last.strip_suffix(".html").unwrap_or(last).to_string()
}

fn slug(a: &StoredArticle) -> String {
    slug_of_url(a.url.as_deref().unwrap_or_default())
}

/// Slugs of the stored articles matching `topic`, as `Store::articles` lists them.
fn matching(store: &Store, topic: &str) -> BTreeSet<String> {
    store
        .articles(&ArticleQuery {
            topic: Some(topic.to_string()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(slug)
        .collect()
}

/// Every stored article's topics, by slug.
fn topics_by_slug(store: &Store) -> BTreeMap<String, Vec<String>> {
    store
        .articles(&ArticleQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| (slug(&a), a.topics))
        .collect()
}

/// Every stored article's first-seen time, by slug.
fn first_seen(store: &Store) -> BTreeMap<String, DateTime<Utc>> {
    store
        .articles(&ArticleQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| (slug(&a), a.first_seen))
        .collect()
}

/// Makes the article at `url` look first seen `days` earlier than it was. The store has no API
/// for this (nothing but ingest should set first-seen times), so the test writes the column.
fn backdate(db: &Path, url: &str, days: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let n = conn
        .execute(
            "UPDATE articles SET first_seen = first_seen - ?1 WHERE url = ?2",
            rusqlite::params![days * 86_400_000, url],
        )
        .unwrap();
    assert_eq!(n, 1, "no article at {url}");
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both streams, for assertion messages.
fn shown(o: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", shown(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", shown(o)))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

/// The slugs of the articles in a `bantin articles --json` array.
fn slugs_of_json(list: &Value) -> BTreeSet<String> {
    array(list)
        .iter()
        .map(|a| slug_of_url(str_of(&a["url"])))
        .collect()
}

/// Articles in a `topics test` list, by slug (the report has titles, not links).
fn tested_by_slug<'v>(
    list: &'v Value,
    titles: &BTreeMap<String, String>,
) -> BTreeMap<String, &'v Value> {
    array(list)
        .iter()
        .map(|a| {
            let title = str_of(&a["title"]);
            let slug = titles
                .iter()
                .find(|(_, t)| t.as_str() == title)
                .map(|(s, _)| s.clone())
                .unwrap_or_else(|| panic!("unknown title {title:?}"));
            (slug, a)
        })
        .collect()
}

/// Stored titles by slug.
fn titles(store: &Store) -> BTreeMap<String, String> {
    store
        .articles(&ArticleQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| (slug(&a), a.title))
        .collect()
}

/// What tracing writes, kept for the test to read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Matches stored at ingest

#[tokio::test]
async fn matches_are_stored_at_ingest_and_listed_by_topic() {
    let srv = Server::start().await;
    srv.set(
        "/nhandan.rss",
        Route::feed(feed("nhandan.vn", DAN_VAN_FEED)),
    );
    let env = Env::new(&source(
        "nhandan",
        &srv.url("/nhandan.rss"),
        "tags = [\"dang\"]",
    ));
    write_topics(&env, DAN_VAN);
    let ing = env.ingestor().await;
    poll_stored(&ing, &["nhandan"]).await;

    let want = expected(DAN_VAN_FEED, "dan-van");
    assert_eq!(matching(&ing.store, "dan-van"), want);
    assert_eq!(
        matching(&ing.store, "cai-cach-hanh-chinh"),
        expected(DAN_VAN_FEED, "cai-cach-hanh-chinh")
    );
    let stored = topics_by_slug(&ing.store);
    assert_eq!(stored.len(), DAN_VAN_FEED.len(), "{stored:#?}");
    for (slug, _, _, topics) in DAN_VAN_FEED {
        assert_eq!(stored[*slug], *topics, "topics of {slug}");
    }
    assert_eq!(
        titles(&ing.store)["nfd-title"],
        "Thi đua dân vận khéo ở cơ sở",
        "the NFD title is stored composed"
    );

    // The same through the binary, as an admin lists a topic.
    let o = run_bantin(
        Some(&env.config_path),
        &["articles", "--topic", "dan-van", "--json"],
    )
    .await;
    let listed = json(&o);
    assert_eq!(slugs_of_json(&listed), want, "{}", shown(&o));
    for a in array(&listed) {
        let slug = slug_of_url(str_of(&a["url"]));
        let topics: Vec<&str> = array(&a["topics"]).iter().map(str_of).collect();
        assert_eq!(topics, stored[&slug], "topics of {slug} in --json");
    }
    let o = run_bantin(
        Some(&env.config_path),
        &["articles", "--topic", "khong-co", "--json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "unknown topic: {}", shown(&o));
    assert!(
        stderr(&o).contains("unknown topic \"khong-co\""),
        "{}",
        shown(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. `fields` and `sources`

const FIELDS_AND_SOURCES: &str = r#"
[[topics]]
id = "tieu-de"
name = "Cải cách hành chính (tiêu đề)"
any = ["cải cách hành chính"]
fields = ["title"]

[[topics]]
id = "xay-dung-dang"
name = "Xây dựng Đảng"
any = ["xây dựng Đảng"]
sources = ["tag:dang"]
"#;

/// Two sources, one tagged `dang`.
fn tagged_and_untagged(srv: &Server) -> Env {
    let env = Env::new(
        &[
            source("nhandan", &srv.url("/nhandan.rss"), "tags = [\"dang\"]"),
            source("vtv", &srv.url("/vtv.rss"), "tags = [\"bao-chi\"]"),
        ]
        .concat(),
    );
    write_topics(&env, FIELDS_AND_SOURCES);
    env
}

#[tokio::test]
async fn fields_and_sources_limit_what_a_topic_matches() {
    let srv = Server::start().await;
    let shared = (
        "nhandan.vn/xay-dung-dang-trong-sach",
        "Xây dựng Đảng trong sạch, vững mạnh",
        "<p>Bài viết của Nhân Dân, VTV đăng lại.</p>",
        &[][..],
    );
    srv.set(
        "/nhandan.rss",
        Route::feed(feed(
            "nhandan.vn",
            &[
                (
                    "phrase-in-title",
                    "Đẩy mạnh cải cách hành chính năm 2027",
                    "<p>Nhiều giải pháp mới.</p>",
                    &[],
                ),
                (
                    "phrase-in-summary-only",
                    "Hội nghị trực tuyến toàn quốc",
                    "<p>Bàn giải pháp cải cách hành chính năm 2027.</p>",
                    &[],
                ),
                (
                    "tagged-source",
                    "Công tác xây dựng Đảng ở cơ sở",
                    "<p>Chi bộ sinh hoạt định kỳ.</p>",
                    &[],
                ),
                shared,
            ],
        )),
    );
    srv.set(
        "/vtv.rss",
        Route::feed(feed(
            "vtv.vn",
            &[
                (
                    "untagged-source-only",
                    "Nâng cao chất lượng xây dựng Đảng",
                    "<p>Phóng sự của VTV.</p>",
                    &[],
                ),
                shared,
            ],
        )),
    );
    let env = tagged_and_untagged(&srv);
    let ing = env.ingestor().await;
    poll_stored(&ing, &["nhandan"]).await;
    poll_stored(&ing, &["vtv"]).await;

    assert_eq!(
        matching(&ing.store, "tieu-de"),
        set(&["phrase-in-title"]),
        "a title-only topic ignores a phrase that is only in the summary"
    );
    assert_eq!(
        matching(&ing.store, "xay-dung-dang"),
        set(&["tagged-source", "xay-dung-dang-trong-sach"]),
        "a topic limited to tag:dang matches only what a dang-tagged source carried"
    );
    let both = ing
        .store
        .articles(&ArticleQuery {
            topic: Some("xay-dung-dang".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .find(|a| slug(a) == "xay-dung-dang-trong-sach")
        .unwrap();
    assert_eq!(both.sources, ["nhandan", "vtv"], "{both:#?}");
}

#[tokio::test]
async fn an_article_matches_a_tag_limited_topic_whichever_carrier_came_first() {
    let srv = Server::start().await;
    let first_vtv = (
        "nhandan.vn/vtv-first-then-nhandan",
        "Xây dựng Đảng trong sạch, vững mạnh",
        "<p>Phóng sự.</p>",
        &[][..],
    );
    let nhandan_first = (
        "nhandan.vn/nhandan-first-then-vtv-updated",
        "Nâng cao chất lượng công tác xây dựng Đảng",
        "<p>Bài của Nhân Dân.</p>",
        &[][..],
    );
    // The untagged source carries the first article before the tagged one does.
    srv.set("/vtv.rss", Route::feed(feed("vtv.vn", &[first_vtv])));
    let env = tagged_and_untagged(&srv);
    let ing = env.ingestor().await;
    poll_stored(&ing, &["vtv"]).await;
    assert_eq!(
        matching(&ing.store, "xay-dung-dang"),
        set(&[]),
        "carried by the untagged source only"
    );

    srv.set(
        "/nhandan.rss",
        Route::feed(feed("nhandan.vn", &[first_vtv, nhandan_first])),
    );
    poll_stored(&ing, &["nhandan"]).await;
    assert_eq!(
        ing.store
            .articles(&ArticleQuery {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|a| (slug(a), a.sources.clone()))
            .collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            (
                "vtv-first-then-nhandan".to_string(),
                vec!["vtv".to_string(), "nhandan".to_string()]
            ),
            (
                "nhandan-first-then-vtv-updated".to_string(),
                vec!["nhandan".to_string()]
            ),
        ])
    );
    assert_eq!(
        matching(&ing.store, "xay-dung-dang"),
        set(&["vtv-first-then-nhandan", "nhandan-first-then-vtv-updated"]),
        "once the dang-tagged source carries an article, it matches the tag:dang topic"
    );

    // The untagged source then carries the second article with a longer summary: the article
    // is updated, and it is still carried by the tagged source.
    srv.set(
        "/vtv.rss",
        Route::feed(feed(
            "vtv.vn",
            &[
                first_vtv,
                (
                    nhandan_first.0,
                    nhandan_first.1,
                    "<p>Bài của Nhân Dân, VTV đăng lại với phần tóm tắt dài hơn.</p>",
                    &[],
                ),
            ],
        )),
    );
    poll_stored(&ing, &["vtv"]).await;
    assert_eq!(
        matching(&ing.store, "xay-dung-dang"),
        set(&["vtv-first-then-nhandan", "nhandan-first-then-vtv-updated"]),
        "an update seen through the untagged source keeps the match of the tagged carrier"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Topics changed under the running daemon (in process)

/// Three articles, each with one phrase the topic versions below pick from.
const THREE: &[Item] = &[
    (
        "a-chuyen-doi-so",
        "Đẩy mạnh chuyển đổi số trong cơ quan nhà nước",
        "<p>Ứng dụng công nghệ.</p>",
        &[],
    ),
    (
        "b-cai-cach",
        "Cải cách hành chính tạo thuận lợi cho người dân",
        "<p>Giảm thời gian chờ.</p>",
        &[],
    ),
    (
        "c-ket-nap",
        "Kết nạp đảng viên mới ở chi bộ thôn",
        "<p>Lễ kết nạp trang trọng.</p>",
        &[],
    ),
];

fn one_topic(id: &str, any: &[&str]) -> String {
    let any: Vec<String> = any.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "[[topics]]\nid = \"{id}\"\nname = \"Theo dõi\"\nany = [{}]\n",
        any.join(", ")
    )
}

#[tokio::test]
async fn the_running_daemon_follows_topics_file_changes_and_survives_a_broken_one() {
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let log = log.clone();
            move || log.clone()
        })
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The test runs on one thread (tokio's current-thread runtime), daemon tasks included.
    let _logging = tracing::subscriber::set_default(subscriber);

    let srv = Server::start().await;
    srv.set(
        "/rss",
        Route::feed(feed("xaydungchinhsach.chinhphu.vn", THREE)),
    );
    let env = Env::new(&source("xaydung", &srv.url("/rss"), ""));
    write_topics(&env, &one_topic("theo-doi", &["chuyển đổi số"]));
    let ing = env.ingestor().await;
    let store = ing.store.clone();

    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(ing, None, async move {
        let _ = stopped.await;
    }));
    wait_until("the first poll stored its matches", WITHIN, || {
        let m = matching(&store, "theo-doi");
        async move { m == set(&["a-chuyen-doi-so"]) }
    })
    .await;
    let seen = first_seen(&store);
    assert_eq!(seen.len(), 3, "{seen:?}");

    write_topics(&env, &one_topic("theo-doi", &["cải cách hành chính"]));
    wait_until(
        "the new topics are applied to stored articles",
        WITHIN,
        || {
            let m = matching(&store, "theo-doi");
            async move { m == set(&["b-cai-cach"]) }
        },
    )
    .await;
    assert_eq!(first_seen(&store), seen, "re-matching kept first_seen");
    // Re-matching commits before the reload is logged: wait for the line, don't race it.
    wait_until("the reload is logged", WITHIN, || {
        let reloaded = log.text().contains("configuration reloaded");
        async move { reloaded }
    })
    .await;

    // A broken edit: an unknown key. Read leniently it would switch the topic back to A.
    let broken = format!(
        "{}fieldz = [\"title\"]\n",
        one_topic("theo-doi", &["chuyển đổi số"])
    );
    write_topics(&env, &broken);
    let problem = format!(
        "{}:5:1: unknown key `topics[0].fieldz`, did you mean `fields`?",
        topics_path(&env).display()
    );
    wait_until("the broken file is read and refused", WITHIN, || {
        let text = log.text();
        let refused = text.contains(&problem)
            && text.contains("invalid configuration; keeping the running one");
        async move { refused }
    })
    .await;
    assert!(
        !daemon.is_finished(),
        "the daemon stopped on a broken topics file"
    );
    assert_eq!(
        matching(&store, "theo-doi"),
        set(&["b-cai-cach"]),
        "the running topics stay after a broken edit"
    );

    // Fixed again, with a third rule: the daemon survived and still watches the file.
    write_topics(
        &env,
        &one_topic("theo-doi", &["chuyển đổi số", "kết nạp đảng viên"]),
    );
    wait_until("the fixed topics are applied", WITHIN, || {
        let m = matching(&store, "theo-doi");
        async move { m == set(&["a-chuyen-doi-so", "c-ket-nap"]) }
    })
    .await;
    assert_eq!(first_seen(&store), seen, "re-matching kept first_seen");
    assert_eq!(
        srv.hits("/rss"),
        1,
        "reloads re-match stored articles, they do not poll"
    );

    stop.send(()).unwrap();
    let result = tokio::time::timeout(WITHIN, daemon)
        .await
        .expect("run did not return after shutdown");
    result.unwrap().expect("run returned an error");
}

// ---------------------------------------------------------------------------------------------
// 4. SIGHUP to the real binary

#[tokio::test]
async fn sighup_reloads_topics_in_bantin_run() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(feed("baochinhphu.vn", THREE)));
    let env = Env::new(&source("baochinhphu", &srv.url("/rss"), ""));
    write_topics(&env, &one_topic("theo-doi", &["chuyển đổi số"]));
    // Create the database first, so the daemon and the test's reads do not race to create it.
    let created = run_bantin(Some(&env.config_path), &["sources", "--json"]).await;
    assert!(created.status.success(), "{}", shown(&created));
    let store = Store::open(&env.db_path()).unwrap();

    let log = env.dir.path().join("bantin.log");
    let mut running = Running::start(&env.config_path, log);

    // Read through the store, not the CLI: a command must not be what applies new topics.
    let deadline = tokio::time::Instant::now() + WITHIN;
    while matching(&store, "theo-doi") != set(&["a-chuyen-doi-so"]) {
        running.assert_alive();
        assert!(
            tokio::time::Instant::now() < deadline,
            "matches never appeared:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = first_seen(&store);

    // A new topic replaces the old one; SIGHUP at once (the file watcher may win the race).
    write_topics(&env, &one_topic("cai-cach", &["cải cách hành chính"]));
    running.signal("HUP");
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !(matching(&store, "cai-cach") == set(&["b-cai-cach"])
        && running.log().contains("configuration reloaded"))
    {
        running.assert_alive();
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemon never re-matched after SIGHUP:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        matching(&store, "theo-doi"),
        set(&[]),
        "matches of the removed topic are gone"
    );
    assert_eq!(first_seen(&store), seen, "re-matching kept first_seen");

    let o = run_bantin(
        Some(&env.config_path),
        &["articles", "--topic", "cai-cach", "--json"],
    )
    .await;
    assert_eq!(
        slugs_of_json(&json(&o)),
        set(&["b-cai-cach"]),
        "{}",
        shown(&o)
    );

    running.signal("TERM");
    let deadline = tokio::time::Instant::now() + WITHIN;
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bantin run still running after SIGTERM:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{status}\n{}", running.log());
    assert!(
        running.log().contains("configuration reloaded"),
        "{}",
        running.log()
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Restart

#[tokio::test]
async fn a_restart_with_changed_topics_rematches_recent_articles_once() {
    let srv = Server::start().await;
    let old = (
        "d-cu-chuyen-doi-so",
        "Chuyển đổi số ở cấp xã: nhìn lại",
        "<p>Bài học kinh nghiệm.</p>",
        &[][..],
    );
    let items: Vec<Item> = THREE.iter().copied().chain([old]).collect();
    srv.set("/rss", Route::feed(feed("nhandan.vn", &items)));
    let env = Env::new(&source("nhandan", &srv.url("/rss"), ""));
    write_topics(&env, &one_topic("theo-doi", &["chuyển đổi số"]));
    let ing = env.ingestor().await;
    poll_stored(&ing, &["nhandan"]).await;
    assert_eq!(
        matching(&ing.store, "theo-doi"),
        set(&["a-chuyen-doi-so", "d-cu-chuyen-doi-so"])
    );
    // Older than rematch_days (30): left as it was by any re-match.
    backdate(
        &env.db_path(),
        "https://nhandan.vn/d-cu-chuyen-doi-so.html",
        40,
    );
    let seen = first_seen(&ing.store);
    drop(ing);

    write_topics(&env, &one_topic("theo-doi", &["cải cách hành chính"]));
    let ing = Ingestor::open(env.config()).await.unwrap();
    assert_eq!(
        matching(&ing.store, "theo-doi"),
        set(&["b-cai-cach", "d-cu-chuyen-doi-so"]),
        "recent articles follow the new topics at once; the 40-day-old one is not re-matched"
    );
    assert_eq!(first_seen(&ing.store), seen, "re-matching kept first_seen");
    assert_eq!(
        ingest::rematch_if_changed(&ing.store, &ing.config, Utc::now()).unwrap(),
        None,
        "the same topics again: no re-match"
    );
    drop(ing);

    let ing = Ingestor::open(env.config()).await.unwrap();
    assert_eq!(
        ingest::rematch_if_changed(&ing.store, &ing.config, Utc::now()).unwrap(),
        None,
        "reopened with the same topics: no re-match"
    );
    assert_eq!(
        matching(&ing.store, "theo-doi"),
        set(&["b-cai-cach", "d-cu-chuyen-doi-so"])
    );
}

// ---------------------------------------------------------------------------------------------
// 6. `bantin topics`

#[tokio::test]
async fn topics_lists_counts_per_configured_topic() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(feed("nhandan.vn", DAN_VAN_FEED)));
    let env = Env::new(&source("nhandan", &srv.url("/rss"), ""));
    let no_matches =
        "\n[[topics]]\nid = \"chuyen-doi-so\"\nname = \"Chuyển đổi số\"\nany = [\"chuyển đổi số\"]\n";
    write_topics(&env, &format!("{DAN_VAN}{no_matches}"));
    let ing = env.ingestor().await;
    poll_stored(&ing, &["nhandan"]).await;
    drop(ing);
    // dan-van: 7 matches, one first seen 3 days ago, one 10 days ago.
    // cai-cach-hanh-chinh: 2 matches, one first seen 3 days ago.
    backdate(&env.db_path(), "https://nhandan.vn/phrase-in-title.html", 3);
    backdate(
        &env.db_path(),
        "https://nhandan.vn/organisation-name.html",
        10,
    );
    backdate(
        &env.db_path(),
        "https://nhandan.vn/other-topic-only.html",
        3,
    );

    let o = run_bantin(Some(&env.config_path), &["topics", "--json"]).await;
    let rows: Vec<(String, String, u64, u64, u64)> = array(&json(&o))
        .iter()
        .map(|r| {
            (
                str_of(&r["id"]).to_string(),
                str_of(&r["name"]).to_string(),
                r["day"].as_u64().unwrap(),
                r["week"].as_u64().unwrap(),
                r["total"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("dan-van", "Dân vận", 5, 6, 7),
        ("cai-cach-hanh-chinh", "Cải cách hành chính", 1, 2, 2),
        ("chuyen-doi-so", "Chuyển đổi số", 0, 0, 0),
    ];
    assert_eq!(
        rows,
        want.map(|(i, n, d, w, t)| (i.to_string(), n.to_string(), d, w, t)),
        "{}",
        shown(&o)
    );

    let o = run_bantin(Some(&env.config_path), &["topics"]).await;
    assert!(o.status.success(), "{}", shown(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1 + want.len(),
        "a header and a row per topic\n{out}"
    );
    for (line, (id, name, day, week, total)) in lines[1..].iter().zip(want) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words[..4],
            [
                id.to_string(),
                day.to_string(),
                week.to_string(),
                total.to_string()
            ],
            "{out}"
        );
        assert!(line.ends_with(name), "{line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. `bantin topics test`

/// [`DAN_VAN`] edited: the bare "dân vận", "công tác dân vận" and "Ban Dân vận" dropped, "xe buyt"
/// added, "thủ tục hành chính" typed without diacritics (both matched accent-insensitively).
const DAN_VAN_EDITED: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận khéo", "xe buyt", "quy chế dân chủ ở cơ sở", "Mặt trận Tổ quốc"]
ignore = [
    "nhân dân vận dụng",
    "người dân vận dụng",
    "người dân vận chuyển",
    "nông dân vận hành",
    "dân vận hành",
]
none = ["bóng đá"]

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính", "thu tuc hanh chinh"]
"#;

/// The Nhân Dân feed of [`DAN_VAN_FEED`] polled and stored under the [`DAN_VAN`] topics (the
/// server is returned to keep serving).
async fn dan_van_stored() -> (Server, Env, Ingestor) {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(feed("nhandan.vn", DAN_VAN_FEED)));
    let env = Env::new(&source("nhandan", &srv.url("/rss"), ""));
    write_topics(&env, DAN_VAN);
    let ing = env.ingestor().await;
    poll_stored(&ing, &["nhandan"]).await;
    (srv, env, ing)
}

/// `topics test` and a re-match read each article's stored search text (through its layout)
/// instead of its HTML: the same reports and the same matches as from the HTML, which is what
/// an article stored before its layout was kept still gets.
#[tokio::test]
async fn matching_the_stored_text_gives_what_matching_the_html_gives() {
    let (_srv, env, ing) = dan_van_stored().await;
    drop(ing);

    // The same database three times: with the layouts ingest stored, without any, and with
    // layouts that do not fit the text (each article is then matched from its HTML).
    let html_db = env.dir.path().join("from-html.db");
    let unfit_db = env.dir.path().join("unfit.db");
    {
        let conn = rusqlite::Connection::open(env.db_path()).unwrap();
        let laid_out: usize = conn
            .query_row(
                "SELECT count(*) FROM articles WHERE search_layout IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(laid_out, DAN_VAN_FEED.len(), "ingest keeps every layout");
        conn.execute("VACUUM INTO ?1", [html_db.to_str().unwrap()])
            .unwrap();
        conn.execute("VACUUM INTO ?1", [unfit_db.to_str().unwrap()])
            .unwrap();
        let copy = rusqlite::Connection::open(&html_db).unwrap();
        copy.execute("UPDATE articles SET search_layout = NULL", [])
            .unwrap();
        let copy = rusqlite::Connection::open(&unfit_db).unwrap();
        copy.execute("UPDATE articles SET search_layout = '1 1 1'", [])
            .unwrap();
    }
    let from_text = Store::open(&env.db_path()).unwrap();
    let from_html = Store::open(&html_db).unwrap();
    let unfit = Store::open(&unfit_db).unwrap();

    write_topics(&env, DAN_VAN_EDITED);
    let config = env.config();
    let now = Utc::now();
    for topic in ["dan-van", "cai-cach-hanh-chinh"] {
        for as_json in [false, true] {
            let report = |store: &Store| {
                let mut out = Vec::new();
                bantin::cli::topics::write_test(&config, store, topic, 30, now, as_json, &mut out)
                    .unwrap();
                String::from_utf8(out).unwrap()
            };
            let text = report(&from_text);
            assert!(text.contains(topic), "{text}");
            assert_eq!(text, report(&from_html), "{topic}, json: {as_json}");
            assert_eq!(text, report(&unfit), "{topic}, json: {as_json}");
        }
    }

    let text_stats = ingest::rematch(&from_text, &config, now).unwrap();
    let html_stats = ingest::rematch(&from_html, &config, now).unwrap();
    let unfit_stats = ingest::rematch(&unfit, &config, now).unwrap();
    assert_eq!(text_stats, html_stats);
    assert_eq!(text_stats, unfit_stats);
    assert!(text_stats.added + text_stats.removed > 0, "{text_stats:?}");
    assert_eq!(topics_by_slug(&from_text), topics_by_slug(&from_html));
    assert_eq!(topics_by_slug(&from_text), topics_by_slug(&unfit));
}

#[tokio::test]
async fn topics_test_explains_stored_articles_with_the_file_as_it_is_now() {
    let (_srv, env, ing) = dan_van_stored().await;
    let titles = titles(&ing.store);
    drop(ing);

    let o = run_bantin(
        Some(&env.config_path),
        &["topics", "test", "dan-van", "--json"],
    )
    .await;
    let report = json(&o);
    assert_eq!(report["topic"], "dan-van");
    assert_eq!(report["considered"], DAN_VAN_FEED.len(), "{}", shown(&o));

    let matched = tested_by_slug(&report["matched"], &titles);
    assert_eq!(
        matched.keys().cloned().collect::<BTreeSet<_>>(),
        expected(DAN_VAN_FEED, "dan-van")
    );
    for (slug, a) in &matched {
        assert_eq!(a["stored_match"], true, "{slug}: {a}");
        let hits = array(&a["hits"]);
        assert!(!hits.is_empty(), "{slug}: {a}");
        for h in hits {
            let context = str_of(&h["context"]);
            assert!(
                context.contains('«') && context.contains('»'),
                "{slug}: {h}"
            );
        }
    }
    let hits = array(&matched["phrase-in-title"]["hits"]);
    assert!(
        hits.iter().any(|h| h["phrase"] == "công tác dân vận"
            && h["role"] == "any"
            && h["field"] == "title"
            && h["context"] == "tăng cường «công tác dân vận» trong tình hình mới"),
        "{hits:#?}"
    );
    let hits = array(&matched["bold-markup-in-summary"]["hits"]);
    assert!(
        hits.iter().any(|h| h["phrase"] == "dân vận"
            && h["field"] == "summary"
            && str_of(&h["context"]).contains("«dân vận»")),
        "{hits:#?}"
    );

    let vetoed = tested_by_slug(&report["vetoed"], &titles);
    assert_eq!(
        vetoed.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["vetoed-by-bong-da"])
    );
    assert_eq!(vetoed["vetoed-by-bong-da"]["vetoed_by"], "bóng đá");

    let masked = tested_by_slug(&report["masked"], &titles);
    assert_eq!(
        masked.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["only-inside-ignore"])
    );
    let m = masked["only-inside-ignore"];
    assert_eq!(
        m["masked_by"],
        serde_json::json!(["nhân dân vận dụng"]),
        "{m}"
    );
    assert!(
        array(&m["hits"])
            .iter()
            .any(|h| h["phrase"] == "dân vận" && h["masked_by"] == "nhân dân vận dụng"),
        "{m}"
    );
    assert_eq!(report["would_stop_matching"], serde_json::json!([]));

    // Edit the topic with no daemon running: `topics test` shows the file as it is now, against
    // the matches stored under the old one, and leaves those alone.
    let stored_before = matching(&Store::open(&env.db_path()).unwrap(), "dan-van");
    write_topics(&env, DAN_VAN_EDITED);
    let o = run_bantin(
        Some(&env.config_path),
        &["topics", "test", "dan-van", "--json"],
    )
    .await;
    let report = json(&o);
    let matched = tested_by_slug(&report["matched"], &titles);
    let stored_match: BTreeMap<&str, bool> = matched
        .iter()
        .map(|(s, a)| (s.as_str(), a["stored_match"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        stored_match,
        BTreeMap::from([
            ("nfd-title", true),
            ("entities-in-summary", true),
            ("two-topics", true),
            ("other-accents-dan-van", false),
        ]),
        "{}",
        shown(&o)
    );
    let stopping = tested_by_slug(&report["would_stop_matching"], &titles);
    assert_eq!(
        stopping.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "phrase-in-title",
            "bold-markup-in-summary",
            "organisation-name",
            "ignored-but-also-positive",
        ]),
        "{}",
        shown(&o)
    );
    assert!(stopping.values().all(|a| a["stored_match"] == true));
    assert_eq!(
        matching(&Store::open(&env.db_path()).unwrap(), "dan-van"),
        stored_before,
        "`topics test` changed the stored matches"
    );

    let o = run_bantin(
        Some(&env.config_path),
        &["topics", "test", "khong-co", "--json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    assert!(
        stderr(&o).contains("unknown topic \"khong-co\""),
        "{}",
        shown(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// 8. `bantin match`

#[tokio::test]
async fn match_explains_one_piece_of_text() {
    let env = Env::new("");
    write_topics(&env, DAN_VAN);
    let explain = |text: &'static str| {
        let config = env.config_path.clone();
        async move {
            let o = run_bantin(Some(&config), &["match", "--topic", "dan-van", text]).await;
            assert!(o.status.success(), "{}", shown(&o));
            stdout(&o)
        }
    };

    let out = explain("Nhân dân vận dụng sáng tạo").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "normalized: nhân dân vận dụng sáng tạo", "{out}");
    assert!(
        lines.iter().any(
            |l| l.contains("ignore \"nhân dân vận dụng\"") && l.contains("«nhân dân vận dụng»")
        ),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.contains("any \"dân vận\"")
            && l.contains("inside ignore \"nhân dân vận dụng\"")
            && l.contains("nhân «dân vận» dụng")),
        "{out}"
    );
    let verdict = lines.last().copied().unwrap_or_default();
    assert!(
        verdict.starts_with("verdict: does not match") && verdict.contains("`ignore`"),
        "{out}"
    );

    let out = explain("Làm tốt CÔNG TÁC DÂN VẬN ở cơ sở").await;
    assert!(
        out.starts_with("normalized: làm tốt công tác dân vận ở cơ sở\n"),
        "{out}"
    );
    assert!(out.contains("any \"công tác dân vận\""), "{out}");
    assert_eq!(
        out.lines().last(),
        Some("verdict: matches topic dan-van"),
        "{out}"
    );

    let out = explain("Người dân vẫn chờ").await;
    assert!(out.contains("phrases found: none"), "{out}");
    assert_eq!(
        out.lines().last(),
        Some("verdict: does not match: no phrase found"),
        "{out}"
    );

    let o = run_bantin(
        Some(&env.config_path),
        &["match", "--topic", "khong-co", "dân vận"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
}

// ---------------------------------------------------------------------------------------------
// 9. `bantin check`

#[tokio::test]
async fn check_reports_every_topics_problem_with_its_position() {
    let env = Env::new(&source(
        "nhandan",
        "https://nhandan.vn/rss/home.rss",
        "tags = [\"dang\"]",
    ));
    write_topics(
        &env,
        concat!(
            "[[topics]]\n",                            // 1
            "id = \"dan-van\"\n",                      // 2
            "name = \"Dân vận\"\n",                    // 3
            "any = [\"dân vận\", \"  \"]\n",           // 4 empty phrase
            "nonee = [\"bóng đá\"]\n",                 // 5 typo
            "sources = [\"nhandam\", \"tag:dang\"]\n", // 6 unknown source
            "regex = [\"dân (vận\"]\n",                // 7 bad regex
        ),
    );
    let o = run_bantin(Some(&env.config_path), &["check"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let t = topics_path(&env);
    let t = t.display();
    let want = [
        format!("{t}:4:19: phrase \"  \" is empty after normalization"),
        format!("{t}:5:1: unknown key `topics[0].nonee`, did you mean `none`?"),
        format!("{t}:6:12: unknown source \"nhandam\", did you mean \"nhandan\"?"),
        format!("{t}:7:10: invalid regex \"dân (vận\""),
    ];
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), want.len() + 1, "{}", shown(&o));
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "{line:?} should start with {want:?}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("{}: 4 problem(s)", env.config_path.display()).as_str())
    );
    assert!(!stdout(&o).contains("ok"), "{}", shown(&o));
}

#[tokio::test]
async fn check_accepts_the_shipped_topics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bantin.toml");
    let o = run_bantin(Some(&path), &["check"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let out = stdout(&o);
    let topics = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/topics.toml");
    assert!(
        out.contains(&format!(", 4 topics in {}", topics.display())),
        "{}",
        shown(&o)
    );
}
