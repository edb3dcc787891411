//! Sitemap sources over loopback: a news sitemap index whose children are compressed, nested,
//! failing and more than the bound; conditional requests per child (requests counted per path
//! at the fixture server); titles from article pages; dedup with a feed; topics; `bantin
//! discover` and `bantin sources test` with the real binary; config errors.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use serde_json::Value;

use crate::common::*;
use bantin::ingest::Outcome;
use bantin::store::StoredArticle;

/// `t` as a sitemap writes it, in Vietnam's offset.
fn w3c(t: DateTime<Utc>) -> String {
    let vn = FixedOffset::east_opt(7 * 3600).unwrap();
    t.with_timezone(&vn)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A news sitemap: (path, title, publication date).
fn news_sitemap(srv: &Server, entries: &[(&str, &str, &str)]) -> String {
    let urls: String = entries
        .iter()
        .map(|(path, title, date)| {
            format!(
                "<url><loc>{}</loc><news:news><news:publication><news:name>Báo Thử</news:name>\
                 <news:language>vi</news:language></news:publication>\
                 <news:publication_date>{date}</news:publication_date>\
                 <news:title><![CDATA[{title}]]></news:title></news:news></url>\n",
                srv.url(path)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
         xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\">\n{urls}</urlset>\n"
    )
}

/// A sitemap without the News extension: (path, lastmod).
fn plain_sitemap(srv: &Server, entries: &[(&str, &str)]) -> String {
    let urls: String = entries
        .iter()
        .map(|(path, lastmod)| {
            format!(
                "<url><loc>{}</loc><lastmod>{lastmod}</lastmod><changefreq>daily</changefreq></url>\n",
                srv.url(path)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n{urls}</urlset>\n"
    )
}

/// A sitemap index: (absolute URL, lastmod).
fn index(children: &[(String, DateTime<Utc>)]) -> String {
    let entries: String = children
        .iter()
        .map(|(url, lastmod)| {
            format!(
                "<sitemap><loc>{url}</loc><lastmod>{}</lastmod></sitemap>\n",
                w3c(*lastmod)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n{entries}</sitemapindex>\n"
    )
}

/// A sitemap document last modified at `at` (Last-Modified, so If-Modified-Since works).
fn xml(body: impl Into<Vec<u8>>, at: DateTime<Utc>) -> Route {
    Route::feed(body)
        .with_content_type("application/xml; charset=utf-8")
        .with_last_modified(&http_date(at))
}

/// A `.xml.gz` file as servers send it: compressed bytes, no Content-Encoding.
fn gzip_file(body: &str, at: DateTime<Utc>) -> Route {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    Route::feed(encoder.finish().unwrap())
        .with_content_type("application/x-gzip")
        .with_last_modified(&http_date(at))
}

/// An article page: its title in `og:title` and `<h1>`, the body in `div.noi-dung`.
fn page(title: &str, body: &str) -> Route {
    Route::feed(format!(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta property=\"og:title\" content=\"{title}\"><title>{title} - Báo Thử</title></head>\
         <body><nav><a href=\"/\">Trang chủ</a></nav><h1>{title}</h1>\
         <div class=\"noi-dung\"><p>{body}</p></div></body></html>"
    ))
    .with_content_type("text/html; charset=utf-8")
}

/// A sitemap source reading its article pages' `div.noi-dung`.
fn sitemap_source(id: &str, url: &str, more: &str) -> String {
    format!(
        "[[sources]]\nid = \"{id}\"\nname = \"{id}\"\nurl = \"{url}\"\nkind = \"sitemap\"\n{more}\n"
    )
}

const FULL_TEXT: &str = "full_text = true\n[sources.article]\ncontent = \"div.noi-dung\"\n";

/// The article at `path` (its stored link may carry a feed's tracking parameters).
fn by_path<'a>(srv: &Server, all: &'a [StoredArticle], path: &str) -> &'a StoredArticle {
    let url = srv.url(path);
    all.iter()
        .find(|a| a.url.as_deref().and_then(|u| u.split('?').next()) == Some(url.as_str()))
        .unwrap_or_else(|| {
            let urls: Vec<_> = all.iter().map(|a| a.url.clone()).collect();
            panic!("no article at {url} in {urls:#?}")
        })
}

fn stored(report: &bantin::ingest::Report) -> (usize, usize, usize) {
    match &report.outcome {
        Outcome::Stored { stats, .. } => (stats.new, stats.updated, stats.unchanged),
        other => panic!("expected stored, got {other}"),
    }
}

// The articles of the news site of the first tests. N: in the news sitemap (titled); P: in
// sitemaps without titles (their titles come from their pages).
const N1: &str = "/thoi-su/hoi-nghi-toan-quoc-cong-tac-dan-van-1491881281.html";
const N2: &str = "/thoi-su/be-mac-ky-hop-thu-muoi-quoc-hoi-1491881282.html";
const N3: &str = "/kinh-te/xuat-khau-gao-dat-ky-luc-1491881283.html";
const P1: &str = "/dia-phuong/mat-tran-phuong-ben-nghe-1491881284.html";
const P2: &str = "/dia-phuong/ket-nap-dang-vien-khu-pho-3-1491881285.html";
const P3: &str = "/dia-phuong/nong-thon-moi-xa-tan-phu-1491881286.html";
const P4: &str = "/thoi-su/tong-ket-bau-cu-1491881287.html";
const ARCHIVES: [&str; 3] = [
    "/sitemaps/2026-10.xml",
    "/sitemaps/2026-09.xml",
    "/sitemaps/2026-08.xml",
];
const CHILDREN: [&str; 5] = [
    "/sitemaps/news.xml.gz",
    "/sitemaps/chuyen-muc.xml",
    "/sitemaps/chuyen-muc-1.xml",
    "/sitemaps/chuyen-muc-2.xml",
    "/sitemaps/2026-11.xml",
];

/// The news site: an index at /sitemap.xml (regenerated on every request: no validators) of a
/// gzip-compressed news sitemap, a nested index of two section sitemaps without titles, a
/// month's sitemap, three older months (past the bound) and a sitemap on another site; the
/// article pages; a feed carrying N2. Every sitemap's lastmod is at least two hours before
/// `t0`, so a poll right after the first passes over all but the newest.
fn news_site(srv: &Server, t0: DateTime<Utc>) {
    let h = Duration::hours(1);
    let d = Duration::days(1);
    let news = news_sitemap(
        srv,
        &[
            (
                N1,
                "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026",
                "2026-11-27T20:30:15+07:00",
            ),
            (
                N2,
                "Kỳ họp thứ mười Quốc hội khóa XV bế mạc",
                "2026-11-28T09:05:00+07:00",
            ),
            (N3, "Xuất khẩu gạo đạt kỷ lục", "2026-11-28T07:00:00Z"),
        ],
    );
    srv.set("/sitemaps/news.xml.gz", gzip_file(&news, t0 - h * 2));
    srv.set(
        "/sitemaps/chuyen-muc.xml",
        xml(
            index(&[
                (srv.url("/sitemaps/chuyen-muc-2.xml"), t0 - d * 3),
                (srv.url("/sitemaps/chuyen-muc-1.xml"), t0 - h * 3),
            ]),
            t0 - h * 3,
        ),
    );
    srv.set(
        "/sitemaps/chuyen-muc-1.xml",
        xml(
            plain_sitemap(
                srv,
                &[
                    (P1, "2026-11-26T08:00:00+07:00"),
                    (P2, "2026-11-26T10:15:00+07:00"),
                    // Also in the news sitemap: one article.
                    (N1, "2026-11-27T20:31:00+07:00"),
                ],
            ),
            t0 - h * 3,
        ),
    );
    srv.set(
        "/sitemaps/chuyen-muc-2.xml",
        xml(plain_sitemap(srv, &[(P3, "2026-11-20")]), t0 - d * 3),
    );
    srv.set(
        "/sitemaps/2026-11.xml",
        xml(
            plain_sitemap(srv, &[(P4, "2026-11-25T14:00:00+07:00")]),
            t0 - d * 2,
        ),
    );
    for (i, path) in ARCHIVES.iter().enumerate() {
        let old = format!("/thoi-su/bai-cu-{i}-149188120{i}.html");
        srv.set(
            path,
            xml(plain_sitemap(srv, &[(&old, "2026-08-01")]), t0 - d * 30),
        );
    }
    let mut children = vec![
        (srv.url("/sitemaps/2026-11.xml"), t0 - d * 2),
        (srv.url("/sitemaps/chuyen-muc.xml"), t0 - h * 3),
        (srv.url("/sitemaps/news.xml.gz"), t0 - h * 2),
        ("http://bao-khac.example.vn/sitemap.xml".to_string(), t0 - h),
    ];
    children.extend(
        ARCHIVES
            .iter()
            .enumerate()
            .map(|(i, p)| (srv.url(p), t0 - d * (30 * (i as i32 + 1)))),
    );
    srv.set(
        "/sitemap.xml",
        Route::feed(index(&children)).with_content_type("text/xml"),
    );

    let pages = [
        (
            N1,
            "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026 | Báo Thử",
            "Sáng 27-11, hội nghị toàn quốc tổng kết công tác dân vận được tổ chức tại Hà Nội.",
        ),
        (
            N2,
            "Bế mạc kỳ họp thứ mười",
            "Chiều 28-11, Quốc hội bế mạc kỳ họp thứ mười sau 40 ngày làm việc.",
        ),
        (
            N3,
            "Xuất khẩu gạo năm 2026",
            "Xuất khẩu gạo năm 2026 đạt kỷ lục 9 triệu tấn.",
        ),
        (
            P1,
            "Mặt trận phường Bến Nghé gặp mặt người có uy tín",
            "Ủy ban MTTQ phường gặp mặt người có uy tín, phát huy phong trào dân vận khéo.",
        ),
        (
            P2,
            "Kết nạp đảng viên mới tại khu phố 3",
            "Chi bộ khu phố 3 trang trọng tổ chức lễ kết nạp đảng viên.",
        ),
        (
            P3,
            "Xã Tân Phú về đích nông thôn mới",
            "Xã Tân Phú hoàn thành 19 tiêu chí nông thôn mới.",
        ),
        (
            P4,
            "Tổng kết cuộc bầu cử đại biểu Hội đồng nhân dân",
            "Ủy ban bầu cử thành phố tổng kết cuộc bầu cử.",
        ),
    ];
    for (path, title, body) in pages {
        srv.set(path, page(title, body));
    }
    srv.set(
        "/rss",
        Route::feed(rss(&item(
            "Bế mạc Kỳ họp thứ mười, Quốc hội khóa XV",
            &format!("{}?utm_source=rss", srv.url(N2)),
            None,
            "Sat, 28 Nov 2026 09:05:00 +0700",
        ))),
    );
}

fn news_env(srv: &Server) -> Env {
    let env = Env::new(
        &[
            source("bao-rss", &srv.url("/rss"), ""),
            sitemap_source("bao-sitemap", &srv.url("/sitemap.xml"), FULL_TEXT),
            // The same sitemaps, without the article pages: untitled entries stay untitled.
            sitemap_source("bao-khong-trang", &srv.url("/sitemap.xml"), ""),
        ]
        .concat(),
    );
    std::fs::write(
        env.dir.path().join("topics.toml"),
        "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận\"]\n",
    )
    .unwrap();
    env
}

#[tokio::test]
async fn a_news_sitemap_index_is_followed_within_its_bound_and_polled_again_conditionally() {
    let srv = Server::start().await;
    let t0 = Utc::now();
    news_site(&srv, t0);
    let env = news_env(&srv);
    let ing = env.ingestor().await;

    assert_eq!(stored(&poll(&ing, &["bao-rss"]).await[0]), (1, 0, 0));
    let reports = poll(&ing, &["bao-sitemap"]).await;
    // N2 came through the feed: the sitemap adds its source to it, nothing else.
    assert_eq!(stored(&reports[0]), (6, 0, 1), "{:?}", reports[0]);
    assert!(
        matches!(&reports[0].outcome, Outcome::Stored { pages, .. } if pages.fetched == 7),
        "{:?}",
        reports[0]
    );

    // The bound: five child documents (the news sitemap, the nested index and its two
    // children, the month), newest first; the older months are not fetched.
    for path in CHILDREN {
        assert_eq!(srv.hits(path), 1, "{path}");
    }
    for path in ARCHIVES {
        assert_eq!(srv.hits(path), 0, "{path}");
    }

    let all = articles(&ing);
    assert_eq!(all.len(), 7, "{:#?}", all);
    // Exact dates, with the publisher's zone: news:publication_date, else lastmod.
    let n1 = by_path(&srv, &all, N1);
    assert_eq!(n1.published.to_rfc3339(), "2026-11-27T20:30:15+07:00");
    assert_eq!(
        by_path(&srv, &all, N3).published.to_rfc3339(),
        "2026-11-28T07:00:00+00:00"
    );
    assert_eq!(
        by_path(&srv, &all, P1).published.to_rfc3339(),
        "2026-11-26T08:00:00+07:00"
    );
    assert_eq!(
        by_path(&srv, &all, P3).published.to_rfc3339(),
        "2026-11-20T00:00:00+07:00"
    );
    assert!(all.iter().all(|a| !a.date_guessed), "{all:#?}");
    // News titles as published; titles of entries without one from their pages.
    assert_eq!(
        n1.title,
        "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026"
    );
    assert_eq!(
        by_path(&srv, &all, P1).title,
        "Mặt trận phường Bến Nghé gặp mặt người có uy tín"
    );
    assert_eq!(
        by_path(&srv, &all, P4).title,
        "Tổng kết cuộc bầu cử đại biểu Hội đồng nhân dân"
    );
    // The feed's article keeps the feed's title and summary, and has both sources.
    let n2 = by_path(&srv, &all, N2);
    assert_eq!(n2.title, "Bế mạc Kỳ họp thứ mười, Quốc hội khóa XV");
    assert!(n2.summary_html.is_some());
    assert_eq!(n2.sources, ["bao-rss", "bao-sitemap"]);
    assert_eq!(n2.published.to_rfc3339(), "2026-11-28T09:05:00+07:00");
    // Topics: N1 by its title, P1 by its page's body.
    let matched: Vec<&str> = all
        .iter()
        .filter(|a| a.topics == ["dan-van"])
        .filter_map(|a| a.url.as_deref())
        .collect();
    assert_eq!(matched.len(), 2, "{matched:?}");
    assert!(matched.contains(&srv.url(N1).as_str()) && matched.contains(&srv.url(P1).as_str()));

    let state = &ing.states().await.unwrap()[1];
    assert_eq!(state.id, "bao-sitemap");
    assert!(
        state.last_success.is_some() && state.last_note.is_none(),
        "{state:?}"
    );

    // A second poll: the index again (no validators), the newest child asked whether it
    // changed since the last poll (304), the others passed over by their lastmod.
    let again = poll(&ing, &["bao-sitemap"]).await;
    assert_eq!(again[0].outcome, Outcome::NotModified, "{:?}", again[0]);
    assert_eq!(srv.hits("/sitemap.xml"), 2);
    let news = srv.seen("/sitemaps/news.xml.gz");
    assert_eq!(news.len(), 2);
    assert!(news[0].headers.get("if-modified-since").is_none());
    assert!(
        news[1].headers.get("if-modified-since").is_some(),
        "{news:?}"
    );
    assert_eq!(news[1].status, 304);
    for path in &CHILDREN[1..] {
        assert_eq!(srv.hits(path), 1, "{path}");
    }
    assert_eq!(articles(&ing).len(), 7);
    for path in [N1, P1, P4] {
        assert_eq!(srv.hits(path), 1, "each page once: {path}");
    }

    // A new article in the news sitemap: the next poll stores it, and only it.
    let t1 = Utc::now();
    let news = news_sitemap(
        &srv,
        &[
            (
                "/thoi-su/tin-moi-1491881290.html",
                "Tin mới nhất về công tác dân vận",
                "2026-11-28T10:00:00+07:00",
            ),
            (
                N1,
                "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026",
                "2026-11-27T20:30:15+07:00",
            ),
        ],
    );
    srv.set("/sitemaps/news.xml.gz", gzip_file(&news, t1));
    srv.set(
        "/thoi-su/tin-moi-1491881290.html",
        page("Tin mới nhất", "Nội dung tin mới."),
    );
    let third = poll(&ing, &["bao-sitemap"]).await;
    assert_eq!(stored(&third[0]), (1, 0, 1), "{:?}", third[0]);
    let all = articles(&ing);
    assert_eq!(all.len(), 8);
    let new = by_path(&srv, &all, "/thoi-su/tin-moi-1491881290.html");
    assert_eq!(new.title, "Tin mới nhất về công tác dân vận");
    assert_eq!(new.topics, ["dan-van"]);
}

#[tokio::test]
async fn sources_test_shows_the_child_sitemaps_read_and_passed_over() {
    let srv = Server::start().await;
    news_site(&srv, Utc::now());
    let env = news_env(&srv);

    let v = bantin_json(
        &env.config_path,
        &["sources", "test", "bao-sitemap", "--pages", "7", "--json"],
    )
    .await;
    assert_eq!(v["kind"], "sitemap");
    assert_eq!(v["title"], "Báo Thử");
    let followed: Vec<(String, u64, String, Value)> = v["followed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["url"].as_str().unwrap().replace(&srv.url(""), ""),
                f["depth"].as_u64().unwrap(),
                f["fate"].as_str().unwrap().to_string(),
                f["count"].clone(),
            )
        })
        .collect();
    let row = |path: &str, depth: u64, fate: &str, count: Value| {
        (path.to_string(), depth, fate.to_string(), count)
    };
    assert_eq!(
        followed,
        [
            row("/sitemap.xml", 0, "index", 7.into()),
            row("/sitemaps/news.xml.gz", 1, "read", 3.into()),
            row("/sitemaps/chuyen-muc.xml", 1, "index", 2.into()),
            row("/sitemaps/chuyen-muc-1.xml", 2, "read", 3.into()),
            row("/sitemaps/chuyen-muc-2.xml", 2, "read", 1.into()),
            row("/sitemaps/2026-11.xml", 1, "read", 1.into()),
        ],
        "{v:#}"
    );
    assert_eq!(
        v["followed"][0]["why"],
        "1 not on the index's own site, 3 not read (at most 5 child sitemaps a poll)"
    );
    let items = v["items"].as_array().unwrap();
    // N1 is in two child sitemaps: one item.
    assert_eq!(items.len(), 7, "{v:#}");
    assert_eq!(
        items[0]["title"],
        "Hội nghị toàn quốc tổng kết công tác dân vận năm 2026"
    );
    assert_eq!(items[0]["date"]["parsed"], "2026-11-27T20:30:15+07:00");
    assert_eq!(items[0]["guid"], "1491881281");
    let p1 = items
        .iter()
        .find(|i| i["link"] == srv.url(P1))
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(p1["title"], "");
    assert_eq!(
        p1["page"]["title"],
        "Mặt trận phường Bến Nghé gặp mặt người có uy tín"
    );
    assert!(v.get("warnings").is_none(), "{v:#}");

    // The text form, and the source without full_text: told its entries have no titles.
    let out = run_bantin(
        Some(&env.config_path),
        &["sources", "test", "bao-khong-trang"],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for expected in [
        "bao-khong-trang (sitemap)".to_string(),
        format!("\n{}  sitemap index, 7 child sitemaps: 1 not on the index's own site, 3 not read (at most 5 child sitemaps a poll)\n", srv.url("/sitemap.xml")),
        format!("\n  {} (lastmod ", srv.url("/sitemaps/news.xml.gz")),
        format!("\n    {} (lastmod ", srv.url("/sitemaps/chuyen-muc-1.xml")),
        "  read, 3 entries\n".to_string(),
        "\n7 items\n".to_string(),
        "  4. (no title)\n".to_string(),
        "warning: 4 of 7 entries carry no title (no news:title): they are titled by their URL unless the article pages are read (full_text = true)".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }
    // Nothing was stored.
    let out = run_bantin(Some(&env.config_path), &["articles", "--json"]).await;
    let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored.as_array().map(Vec::len), Some(0), "{stored}");
}

#[tokio::test]
async fn a_failing_child_is_a_note_and_the_next_poll_reads_everything_again() {
    let srv = Server::start().await;
    let t0 = Utc::now();
    let h = Duration::hours(1);
    let children = [
        (srv.url("/a.xml"), t0 - h * 2),
        (srv.url("/b.xml"), t0 - h * 3),
    ];
    srv.set(
        "/sitemap.xml",
        Route::feed(index(&children))
            .with_content_type("text/xml")
            .with_etag("\"v1\""),
    );
    srv.set("/a.xml", Route::status(500, "lỗi máy chủ"));
    srv.set(
        "/b.xml",
        xml(
            plain_sitemap(
                &srv,
                &[("/tin/b-1491881301.html", "2026-11-27T08:00:00+07:00")],
            ),
            t0 - h * 3,
        ),
    );
    let env = Env::new(&sitemap_source("portal", &srv.url("/sitemap.xml"), ""));
    let ing = env.ingestor().await;

    let first = poll(&ing, &["portal"]).await;
    assert_eq!(stored(&first[0]), (1, 0, 0), "{:?}", first[0]);
    let state = &ing.states().await.unwrap()[0];
    let note = state.last_note.as_deref().unwrap_or_default();
    assert_eq!(
        note,
        format!(
            "sitemap: child sitemap {} failed (HTTP 500): read again at the next poll",
            srv.url("/a.xml")
        )
    );
    // Not read whole: neither the index's validators nor the time are kept.
    assert_eq!((state.etag.as_deref(), state.last_success), (None, None));
    let out = run_bantin(Some(&env.config_path), &["sources"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed (HTTP 500)"), "{text}");

    // Repaired: the index is fetched whole (no If-None-Match), both children read.
    srv.set(
        "/a.xml",
        xml(
            plain_sitemap(
                &srv,
                &[("/tin/a-1491881300.html", "2026-11-28T08:00:00+07:00")],
            ),
            t0 - h * 2,
        ),
    );
    let second = poll(&ing, &["portal"]).await;
    assert_eq!(stored(&second[0]), (1, 0, 1), "{:?}", second[0]);
    assert!(srv.seen("/sitemap.xml")[1]
        .headers
        .get("if-none-match")
        .is_none());
    assert!(srv.seen("/b.xml")[1]
        .headers
        .get("if-modified-since")
        .is_none());
    let state = &ing.states().await.unwrap()[0];
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert!(
        state.last_success.is_some() && state.last_note.is_none(),
        "{state:?}"
    );

    // The index unchanged: 304, no child asked.
    let third = poll(&ing, &["portal"]).await;
    assert_eq!(third[0].outcome, Outcome::NotModified);
    assert_eq!((srv.hits("/a.xml"), srv.hits("/b.xml")), (2, 2));

    // Every child fetched failing is the poll's error, naming the first.
    let t1 = Utc::now();
    srv.set(
        "/sitemap.xml",
        Route::feed(index(&[(srv.url("/a.xml"), t1), (srv.url("/b.xml"), t1)]))
            .with_content_type("text/xml")
            .with_etag("\"v2\""),
    );
    srv.set("/a.xml", Route::status(500, "lỗi"));
    srv.set("/b.xml", Route::status(404, "không có"));
    let fourth = poll(&ing, &["portal"]).await;
    match &fourth[0].outcome {
        Outcome::Failed(e) => assert_eq!(
            e.to_string(),
            format!(
                "all 2 child sitemaps fetched failed; the first, {}: HTTP 500",
                srv.url("/a.xml")
            )
        ),
        other => panic!("expected a failure, got {other}"),
    }
    assert_eq!(articles(&ing).len(), 2, "stored articles stay");
}

#[tokio::test]
async fn discover_lists_the_sitemaps_of_robots_txt_and_the_usual_paths() {
    let srv = Server::start().await;
    let t0 = Utc::now();
    srv.set(
        "/",
        Route::feed(
            "<html><head><title>Cổng thông tin điện tử tỉnh</title></head><body><a href=\"/tin-tuc\">Tin tức</a></body></html>",
        )
        .with_content_type("text/html; charset=utf-8"),
    );
    srv.set(
        "/robots.txt",
        Route::feed(format!(
            "User-agent: *\nDisallow: /admin\nSitemap: {}\nSitemap: /sitemap-news.xml\n",
            srv.url("/sitemap_index.xml")
        ))
        .with_content_type("text/plain"),
    );
    srv.set(
        "/sitemap_index.xml",
        xml(
            index(&[
                (srv.url("/sitemap-news.xml"), t0),
                (srv.url("/sitemap-pages.xml"), t0),
            ]),
            t0,
        ),
    );
    srv.set(
        "/sitemap-news.xml",
        xml(
            plain_sitemap(
                &srv,
                &[
                    ("/tin-tuc/a-1764000100", "2026-11-27"),
                    ("/tin-tuc/b-1764000101", "2026-11-27"),
                    ("/tin-tuc/c-1764000102", "2026-11-28"),
                ],
            ),
            t0,
        ),
    );
    srv.set(
        "/google-news-sitemap.xml",
        xml(
            news_sitemap(
                &srv,
                &[
                    (
                        "/tin-tuc/d-1764000103",
                        "Hội nghị tỉnh ủy",
                        "2026-11-28T08:00:00+07:00",
                    ),
                    (
                        "/tin-tuc/e-1764000104",
                        "Tiếp xúc cử tri",
                        "2026-11-28T09:00:00+07:00",
                    ),
                ],
            ),
            t0,
        ),
    );
    let env = Env::new("");
    let v = bantin_json(&env.config_path, &["discover", &srv.url("/"), "--json"]).await;
    assert_eq!(v["feeds"], Value::Array(Vec::new()));
    let found: Vec<(String, String, String, Value, Value)> = v["sitemaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["url"].as_str().unwrap().replace(&srv.url(""), ""),
                s["via"].as_str().unwrap().to_string(),
                s["kind"].as_str().unwrap().to_string(),
                s.get("entries").or(s.get("children")).cloned().unwrap(),
                s.get("titled").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let row = |path: &str, via: &str, kind: &str, n: u64, titled: Value| {
        (
            path.to_string(),
            via.to_string(),
            kind.to_string(),
            Value::from(n),
            titled,
        )
    };
    assert_eq!(
        found,
        [
            row("/sitemap_index.xml", "robots", "index", 2, Value::Null),
            row("/sitemap-news.xml", "robots", "urlset", 3, 0.into()),
            row(
                "/google-news-sitemap.xml",
                "common_path",
                "urlset",
                2,
                2.into()
            ),
        ],
        "{v:#}"
    );

    let out = run_bantin(Some(&env.config_path), &["discover", &srv.url("/")]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for expected in [
        "no feed found: the sitemaps below can be read with `kind = \"sitemap\"`".to_string(),
        format!(
            "{}  sitemap index, 2 child sitemaps (named in robots.txt)",
            srv.url("/sitemap_index.xml")
        ),
        format!(
            "{}  sitemap, 3 entries without titles (named in robots.txt): full_text = true reads their titles from the article pages",
            srv.url("/sitemap-news.xml")
        ),
        format!(
            "{}  news sitemap, 2 entries with titles (common path)",
            srv.url("/google-news-sitemap.xml")
        ),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }

    // A sitemap's own URL.
    let out = run_bantin(
        Some(&env.config_path),
        &["discover", &srv.url("/google-news-sitemap.xml"), "--json"],
    )
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sitemaps"][0]["via"], "itself", "{v:#}");
    assert_eq!(v["sitemaps"][0]["entries"], 2, "{v:#}");
}

#[tokio::test]
async fn check_reports_sitemap_source_problems_with_their_position() {
    let env = Env::new(concat!(
        "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/sitemap.xml\"\nkind = \"sitemap\"\n",
        "[sources.list]\nitem = \"li\"\nlink = \"a\"\n",
        "[[sources]]\nid = \"b\"\nurl = \"https://b.vn/sitemap.xml\"\nkind = \"sitemaps\"\n",
    ));
    let out = run_bantin(Some(&env.config_path), &["check"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let line_of = |needle: &str| 1 + text.lines().position(|l| l == needle).unwrap();
    let p = env.config_path.display();
    for expected in [
        format!(
            "{p}:{}:10: `[sources.list]` is only read for `kind = \"html\"` sources",
            line_of("[sources.list]")
        ),
        format!(
            "{p}:{}:8: `sources[1].kind`: unknown source kind \"sitemaps\": expected \"feed\", \"html\" or \"sitemap\"",
            line_of("kind = \"sitemaps\"")
        ),
    ] {
        assert!(
            err.lines().any(|l| l == expected),
            "{expected:?} not in:\n{err}"
        );
    }
}

/// Polls `id`, cancelling as at shutdown once a request is in flight on `gauge`'s route.
async fn poll_cancelled_in_flight(
    ing: &bantin::daemon::Ingestor,
    id: &str,
    gauge: &Gauge,
) -> bantin::ingest::Report {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (report, ()) = tokio::join!(ing.poll(id, &cancel), async {
        let within = std::time::Duration::from_secs(10);
        wait_until("a child is in flight", within, || {
            let busy = gauge.max() > 0;
            async move { busy }
        })
        .await;
        cancel.cancel();
    });
    report.unwrap()
}

#[tokio::test]
async fn shutdown_stops_the_reading_between_children_and_keeps_what_was_read() {
    let srv = Server::start().await;
    let t0 = Utc::now();
    let h = Duration::hours(1);
    // A child that takes seconds to answer, and one that answers at once.
    let slow = |gauge: &Arc<Gauge>| Route::Slow {
        body: plain_sitemap(&srv, &[("/tin/cham-1491881400.html", "2026-11-28")]).into_bytes(),
        every: std::time::Duration::from_secs(2),
        gauge: gauge.clone(),
    };
    srv.set(
        "/a.xml",
        xml(
            plain_sitemap(
                &srv,
                &[("/tin/a-1491881401.html", "2026-11-28T08:00:00+07:00")],
            ),
            t0 - h,
        ),
    );
    let index_of = |first: &str, second: &str| {
        Route::feed(index(&[
            (srv.url(first), t0 - h),
            (srv.url(second), t0 - h * 2),
        ]))
        .with_content_type("text/xml")
    };
    let env = Env::new(&sitemap_source("portal", &srv.url("/sitemap.xml"), ""));
    let ing = env.ingestor().await;

    // Shutdown while the first child is fetched: nothing read, nothing recorded.
    let gauge = Arc::new(Gauge::default());
    srv.set("/sitemap.xml", index_of("/slow.xml", "/a.xml"));
    srv.set("/slow.xml", slow(&gauge));
    let report = poll_cancelled_in_flight(&ing, "portal", &gauge).await;
    assert_eq!(report.outcome, Outcome::Cancelled, "{report:?}");
    assert_eq!(srv.hits("/a.xml"), 0, "no child after shutdown");
    let state = &ing.states().await.unwrap()[0];
    assert_eq!((state.failures, state.last_error.as_deref()), (0, None));

    // Shutdown while the second is fetched: the first child's entries are stored, and the
    // poll is not the source's last success (the next one reads everything again).
    let gauge = Arc::new(Gauge::default());
    srv.set("/sitemap.xml", index_of("/a.xml", "/slow.xml"));
    srv.set("/slow.xml", slow(&gauge));
    let report = poll_cancelled_in_flight(&ing, "portal", &gauge).await;
    assert_eq!(stored(&report), (1, 0, 0), "{report:?}");
    let state = &ing.states().await.unwrap()[0];
    assert_eq!(state.last_success, None, "{state:?}");
}

#[tokio::test]
async fn more_changed_children_than_the_bound_are_said_in_the_note() {
    let srv = Server::start().await;
    let t0 = Utc::now();
    // Seven section sitemaps, all changed a minute ago: more than a poll reads.
    let mut children = Vec::new();
    for i in 0..7 {
        let path = format!("/sitemaps/muc-{i}.xml");
        let article = format!("/muc-{i}/bai-149188150{i}.html");
        srv.set(
            &path,
            xml(plain_sitemap(&srv, &[(&article, "2026-11-28")]), t0),
        );
        children.push((srv.url(&path), t0 - Duration::minutes(1 + i)));
    }
    srv.set(
        "/sitemap.xml",
        Route::feed(index(&children)).with_content_type("text/xml"),
    );
    let env = Env::new(&sitemap_source("portal", &srv.url("/sitemap.xml"), ""));
    let ing = env.ingestor().await;

    // A first poll reads the newest five and says nothing: the older were never promised.
    assert_eq!(stored(&poll(&ing, &["portal"]).await[0]), (5, 0, 0));
    assert_eq!(ing.states().await.unwrap()[0].last_note, None);
    assert_eq!(
        (
            srv.hits("/sitemaps/muc-5.xml"),
            srv.hits("/sitemaps/muc-6.xml")
        ),
        (0, 0)
    );

    // Later, the two left over changed since the last poll and were not read: said so.
    poll(&ing, &["portal"]).await;
    let note = ing.states().await.unwrap()[0].last_note.clone();
    assert_eq!(
        note.as_deref(),
        Some(
            format!(
                "sitemap: 2 child sitemaps of {} changed since the last poll were not read (at most 5 a poll): read the news sitemap itself to miss nothing",
                srv.url("/sitemap.xml")
            )
            .as_str()
        )
    );
}
