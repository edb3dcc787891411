//! Sources without feeds: HTML list pages, article pages and full text, over loopback with
//! fixture pages modelled on thanhuytphcm.vn, dangcongsan.vn and mattran.org.vn.

use crate::common::*;
use bantin::ingest::Outcome;
use bantin::store::StoredArticle;

/// The list page of a Party committee's site: relative links ending in a 10-digit id,
/// Vietnamese date lines, a sapo, and page chrome around the list.
fn list_page(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(slug, title, date)| {
            format!(
                r#"<div class="news-item">
  <a href="/tin-tuc/{slug}"><img src="/img/{slug}.jpg" alt=""></a>
  <h3><a href="/tin-tuc/{slug}">{title}</a></h3>
  <span class="time">{date}</span>
  <p class="sapo">Tóm tắt: {title}</p>
</div>
"#
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Tin tức - Thành ủy TP.HCM</title></head>
<body>
<nav class="menu"><a href="/">Trang chủ</a><a href="/tin-tuc">Tin tức</a></nav>
<div class="list-news">
{items}</div>
<footer>Cổng Thông tin điện tử Đảng bộ TP.HCM</footer>
</body></html>
"#
    )
}

/// An article page as these sites lay it out: date line, title, photo and caption, body, author
/// line, then "Ý kiến bạn đọc", "Tin khác", "Thông báo" and a comment widget.
fn article_page(title: &str, date_line: &str, body: &[&str], author: &str) -> String {
    let paragraphs: String = body.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<header><nav><a href="/">Trang chủ</a></nav></header>
<div class="detail">
  <div class="date-time">{date_line}</div>
  <h1 class="title">{title}</h1>
  <div class="detail-content">
    <figure><img src="/uploads/anh-1.jpg"><figcaption>Quang cảnh hội nghị. Ảnh: THU HƯƠNG</figcaption></figure>
    {paragraphs}
    <p class="author">{author}</p>
    <div class="box-y-kien"><h3>Ý kiến bạn đọc</h3><p>Bạn đọc Nguyễn Văn A: bài viết rất hay, cảm ơn tác giả.</p></div>
    <div class="related-news"><h3>Tin khác</h3><ul><li><a href="/tin-tuc/khac-1491881999">Tin khác hoàn toàn không liên quan</a></li></ul></div>
    <div class="thong-bao"><h3>Thông báo</h3><p>Lịch tiếp công dân tháng 12.</p></div>
    <div class="comment-box"><form><textarea>Viết bình luận của bạn</textarea><button>Gửi</button></form></div>
  </div>
</div>
<footer>Bản quyền thuộc Thành ủy TP.HCM</footer>
</body></html>
"#
    )
}

fn html(body: impl Into<Vec<u8>>) -> Route {
    Route::feed(body).with_content_type("text/html; charset=utf-8")
}

/// The `[[sources]]` table of an HTML list source with article selectors.
fn html_source(id: &str, url: &str, more: &str) -> String {
    format!(
        r#"[[sources]]
id = "{id}"
name = "{id}"
url = "{url}"
kind = "html"
{more}
[sources.list]
item = "div.news-item"
link = "h3 a"
title = "h3"
date = ".time"
summary = ".sapo"
[sources.article]
content = "div.detail-content"
date = ".date-time"
author = ".author"
remove = [".comment-box", ".related-news"]
"#
    )
}

fn write_topics(env: &Env, text: &str) {
    std::fs::write(env.dir.path().join("topics.toml"), text).unwrap();
}

fn by_title<'a>(all: &'a [StoredArticle], title: &str) -> &'a StoredArticle {
    all.iter()
        .find(|a| a.title == title)
        .unwrap_or_else(|| panic!("no article {title:?} in {:?}", titles(all)))
}

fn titles(all: &[StoredArticle]) -> Vec<&str> {
    all.iter().map(|a| a.title.as_str()).collect()
}

fn text_of(a: &StoredArticle) -> String {
    bantin::text::html_to_text(a.content_html.as_deref().unwrap_or(""))
}

const A: (&str, &str, &str) = (
    "hoi-nghi-dan-van-1491881281",
    "Hội nghị tổng kết công tác dân vận năm 2026",
    "Thứ Hai, 23/11/2026 10:30 (GMT+7)",
);
const B: (&str, &str, &str) = (
    "ket-nap-dang-vien-moi-1491881282",
    "Kết nạp đảng viên mới tại khu phố 3",
    "14:15 | 22/11/2026",
);
const C: (&str, &str, &str) = (
    "mat-tran-to-quoc-1491881283",
    "Mặt trận Tổ quốc phường Bến Nghé gặp mặt người có uy tín",
    "Chủ Nhật, ngày 22 tháng 11 năm 2026",
);

fn serve_articles(srv: &Server) {
    srv.set(
        &format!("/tin-tuc/{}", A.0),
        html(article_page(
            A.1,
            "Thứ Hai, 23/11/2026 10:30 (GMT+7)",
            &[
                "Sáng 23-11, Ban Dân vận Thành ủy tổ chức hội nghị tổng kết.",
                "Đồng chí Trưởng ban nhấn mạnh: phong trào thi đua dân vận khéo đã lan tỏa đến từng khu phố, ấp.",
            ],
            "Tác giả: THU HƯƠNG",
        )),
    );
    srv.set(
        &format!("/tin-tuc/{}", B.0),
        html(article_page(
            B.1,
            "14:15 | 22/11/2026",
            &["Chi bộ khu phố 3 trang trọng tổ chức lễ kết nạp đảng viên."],
            "Tác giả: MINH ANH",
        )),
    );
    srv.set(
        &format!("/tin-tuc/{}", C.0),
        html(article_page(
            C.1,
            "Chủ Nhật, ngày 22 tháng 11 năm 2026",
            &["Ủy ban MTTQ phường gặp mặt người có uy tín trong đồng bào dân tộc."],
            "Tác giả: HOÀNG LONG",
        )),
    );
}

#[tokio::test]
async fn an_html_list_source_stores_its_articles_with_their_full_text_and_no_page_chrome() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A, B, C])));
    serve_articles(&srv);
    let env = Env::new(&html_source("thanh-uy", &srv.url("/tin-tuc"), ""));
    write_topics(
        &env,
        "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận khéo\"]\n",
    );
    let ing = env.ingestor().await;

    let reports = poll(&ing, &["thanh-uy"]).await;
    match &reports[0].outcome {
        Outcome::Stored { stats, pages, .. } => {
            assert_eq!(stats.new, 3, "{:?}", reports[0]);
            assert_eq!((pages.fetched, pages.failed), (3, 0), "{:?}", reports[0]);
        }
        other => panic!("expected stored, got {other}"),
    }
    let all = articles(&ing);
    assert_eq!(all.len(), 3, "{:?}", titles(&all));

    let a = by_title(&all, A.1);
    // Relative links resolved against the list page.
    assert_eq!(
        a.url.as_deref(),
        Some(srv.url(&format!("/tin-tuc/{}", A.0)).as_str())
    );
    // "Thứ Hai, 23/11/2026 10:30 (GMT+7)"
    assert_eq!(a.published.to_rfc3339(), "2026-11-23T10:30:00+07:00");
    assert!(!a.date_guessed);
    let body = text_of(a);
    assert!(body.contains("dân vận khéo đã lan tỏa"), "{body}");
    assert!(
        body.contains("Quang cảnh hội nghị"),
        "photo caption kept: {body}"
    );
    for chrome in [
        "Ý kiến bạn đọc",
        "Bạn đọc Nguyễn Văn A",
        "Tin khác",
        "không liên quan",
        "Thông báo",
        "Lịch tiếp công dân",
        "Viết bình luận",
        "Trang chủ",
        "Bản quyền",
    ] {
        assert!(
            !body.contains(chrome),
            "page chrome {chrome:?} in content: {body}"
        );
    }
    assert_eq!(a.authors, ["THU HƯƠNG"]);
    // The author and date lines went to their fields, not into the body.
    assert!(!body.contains("Tác giả"), "{body}");
    assert!(!body.contains("GMT+7"), "{body}");
    // The topic phrase is only in the body (the list carries title and sapo).
    assert_eq!(a.topics, ["dan-van"]);

    let b = by_title(&all, B.1);
    assert_eq!(b.published.to_rfc3339(), "2026-11-22T14:15:00+07:00"); // "14:15 | 22/11/2026"
    assert!(b.topics.is_empty());
    let c = by_title(&all, C.1);
    assert_eq!(c.published.to_rfc3339(), "2026-11-22T00:00:00+07:00");

    // The same list again: nothing new, and no page is fetched twice.
    let again = poll(&ing, &["thanh-uy"]).await;
    match &again[0].outcome {
        Outcome::Stored { stats, pages, .. } => {
            assert_eq!((stats.new, stats.updated), (0, 0), "{:?}", again[0]);
            assert_eq!(pages.fetched, 0);
        }
        other => panic!("expected stored, got {other}"),
    }
    for (slug, _, _) in [A, B, C] {
        assert_eq!(srv.hits(&format!("/tin-tuc/{slug}")), 1, "{slug}");
    }
    // The full text stays: the unchanged list entry does not overwrite it.
    assert!(text_of(by_title(&articles(&ing), A.1)).contains("dân vận khéo"));
}

#[tokio::test]
async fn a_list_page_that_changes_between_polls_adds_only_the_new_article() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A, B])));
    serve_articles(&srv);
    let env = Env::new(&html_source("thanh-uy", &srv.url("/tin-tuc"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["thanh-uy"]).await;
    assert_eq!(articles(&ing).len(), 2);

    // C appears on top, B scrolls off, A stays.
    srv.set("/tin-tuc", html(list_page(&[C, A])));
    let reports = poll(&ing, &["thanh-uy"]).await;
    match &reports[0].outcome {
        Outcome::Stored { stats, pages, .. } => {
            assert_eq!(stats.new, 1, "{:?}", reports[0]);
            assert_eq!(pages.fetched, 1, "only C's page: {:?}", reports[0]);
        }
        other => panic!("expected stored, got {other}"),
    }
    let all = articles(&ing);
    assert_eq!(all.len(), 3, "{:?}", titles(&all));
    assert_eq!(srv.hits(&format!("/tin-tuc/{}", A.0)), 1);
}

#[tokio::test]
async fn an_article_page_in_windows_1258_is_decoded() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A])));
    // windows-1258 writes most tone marks as combining characters after the base letter:
    // "Dân vận" is D, â (0xE2), n, space, v, â, combining dot below (0xF2), n.
    let mut page = Vec::new();
    page.extend_from_slice(
        b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1258\"><title>t</title></head><body>\
          <div class=\"date-time\">23/11/2026 10:30</div><div class=\"detail-content\"><p>C\xF4ng t\xE1c D\xE2n v\xE2\xF2n n\xE3m 2026.</p></div></body></html>",
    );
    srv.set(
        &format!("/tin-tuc/{}", A.0),
        // No charset in the HTTP header: only the page's <meta> says it.
        Route::feed(page).with_content_type("text/html"),
    );
    let env = Env::new(&html_source("thanh-uy", &srv.url("/tin-tuc"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["thanh-uy"]).await;
    let all = articles(&ing);
    let body = text_of(by_title(&all, A.1));
    assert!(body.contains("Công tác Dân vận năm 2026"), "{body:?}");
}

#[tokio::test]
async fn a_date_only_in_the_page_meta_is_used_for_a_list_without_dates() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[(A.0, A.1, "")])));
    srv.set(
        &format!("/tin-tuc/{}", A.0),
        html(
            "<html><head><meta property=\"article:published_time\" content=\"2026-11-20T08:15:00\"></head>\
             <body><div class=\"detail-content\"><p>Nội dung bài viết về công tác dân vận.</p></div></body></html>",
        ),
    );
    // The list has no usable date and the article rules no date selector: only the meta tag.
    let source =
        html_source("thanh-uy", &srv.url("/tin-tuc"), "").replace("date = \".date-time\"\n", "");
    let env = Env::new(&source);
    let ing = env.ingestor().await;
    poll(&ing, &["thanh-uy"]).await;
    let a = &articles(&ing)[0];
    // Zone-less: local time in Asia/Ho_Chi_Minh.
    assert_eq!(a.published.to_rfc3339(), "2026-11-20T08:15:00+07:00");
    assert!(!a.date_guessed);
}

#[tokio::test]
async fn a_summary_only_feed_with_full_text_matches_a_phrase_found_only_in_the_body() {
    let srv = Server::start().await;
    let items = [
        (
            "Hội nghị Ban Chấp hành Đảng bộ quận",
            "/bai/hoi-nghi-1001.html",
        ),
        ("Tin thời tiết cuối tuần", "/bai/thoi-tiet-1002.html"),
    ];
    let feed = rss(&items
        .iter()
        .map(|(t, l)| item(t, &srv.url(l), None, "Mon, 23 Nov 2026 09:00:00 +0700"))
        .collect::<String>());
    srv.set("/rss", Route::feed(feed));
    // Pages without any selector config: the readability extractor finds the body.
    srv.set(
        items[0].1,
        html(
            "<html><head><title>Hội nghị</title></head><body><nav><a href='/'>Trang chủ</a> <a href='/x'>Thời sự</a></nav>\
             <article><h1>Hội nghị Ban Chấp hành Đảng bộ quận</h1>\
             <p>Hội nghị đã thảo luận nhiều nội dung quan trọng về phát triển kinh tế xã hội của quận trong năm tới.</p>\
             <p>Trong đó, các đại biểu thống nhất đẩy mạnh phong trào thi đua dân vận khéo ở cơ sở, gắn với cải cách hành chính.</p>\
             <p>Hội nghị cũng đánh giá kết quả thực hiện nghị quyết, chỉ ra những hạn chế và giải pháp khắc phục trong thời gian tới.</p>\
             </article><aside><h3>Tin khác</h3><a href='/y'>Một tin khác</a></aside></body></html>",
        ),
    );
    srv.set(
        items[1].1,
        html("<html><body><article><p>Trời nắng nhẹ, nhiệt độ cao nhất 33 độ, thích hợp cho các hoạt động ngoài trời trong dịp cuối tuần này của người dân thành phố.</p></article></body></html>"),
    );
    let env = Env::new(&source("quan-uy", &srv.url("/rss"), "full_text = true"));
    write_topics(
        &env,
        "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận khéo\"]\n",
    );
    let ing = env.ingestor().await;
    let reports = poll(&ing, &["quan-uy"]).await;
    assert!(
        matches!(&reports[0].outcome, Outcome::Stored { pages, .. } if pages.fetched == 2),
        "{:?}",
        reports[0]
    );
    let all = articles(&ing);
    let a = by_title(&all, items[0].0);
    assert_eq!(
        a.topics,
        ["dan-van"],
        "the phrase is only in the article body"
    );
    let body = text_of(a);
    assert!(body.contains("thi đua dân vận khéo"), "{body}");
    assert!(!body.contains("Một tin khác"), "{body}");
    assert!(by_title(&all, items[1].0).topics.is_empty());

    // The republished feed carries the full text.
    let dir = tempfile::tempdir().unwrap();
    bantin::export::write(&ing.config, &ing.store, dir.path()).unwrap();
    let served = std::fs::read_to_string(dir.path().join("topics/dan-van.rss")).unwrap();
    assert!(served.contains("thi đua dân vận khéo"), "{served}");
}

#[tokio::test]
async fn a_list_selector_matching_nothing_is_the_sources_error() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A])));
    let source = html_source("thanh-uy", &srv.url("/tin-tuc"), "")
        .replace("item = \"div.news-item\"", "item = \"li.bai-viet\"");
    let env = Env::new(&source);
    let ing = env.ingestor().await;
    let reports = poll(&ing, &["thanh-uy"]).await;
    match &reports[0].outcome {
        Outcome::Failed(e) => assert!(e.to_string().contains("li.bai-viet"), "{e}"),
        other => panic!("expected a failure naming the selector, got {other}"),
    }
    let states = ing.states().await.unwrap();
    assert!(
        states[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("li.bai-viet"),
        "{:?}",
        states[0]
    );
}

#[tokio::test]
async fn failing_article_pages_are_recorded_per_article_and_retried_without_blocking_the_list() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A, B, C])));
    serve_articles(&srv);
    // B's page is missing; C's page has no element matching the content selector.
    srv.set(
        &format!("/tin-tuc/{}", B.0),
        Route::status(404, "Không tìm thấy"),
    );
    srv.set(
        &format!("/tin-tuc/{}", C.0),
        html("<html><body><div class='noi-dung'><p>Bài viết.</p></div></body></html>"),
    );
    let env = Env::new(&html_source("thanh-uy", &srv.url("/tin-tuc"), ""));
    let ing = env.ingestor().await;
    let reports = poll(&ing, &["thanh-uy"]).await;
    match &reports[0].outcome {
        Outcome::Stored { stats, pages, .. } => {
            assert_eq!(stats.new, 3, "the list is stored whatever its pages do");
            assert_eq!((pages.fetched, pages.failed), (1, 2));
        }
        other => panic!("expected stored, got {other}"),
    }
    let errors = ing.store.page_errors("thanh-uy", 10).unwrap();
    let error_of = |slug: &str| {
        errors
            .iter()
            .find(|e| e.url.ends_with(slug))
            .map(|e| (e.attempts, e.error.clone(), e.next_try))
            .unwrap_or_else(|| panic!("no error recorded for {slug}: {errors:?}"))
    };
    let (attempts, e, next) = error_of(B.0);
    assert_eq!(attempts, 1);
    assert!(e.contains("404"), "{e}");
    assert!(
        next.is_some_and(|t| t > chrono::Utc::now()),
        "retried later"
    );
    let (_, e, _) = error_of(C.0);
    assert!(e.contains("div.detail-content"), "{e}");
    // Articles without their page keep the list's title and summary.
    let all = articles(&ing);
    assert!(by_title(&all, B.1).summary_html.is_some());

    // Not due yet: the next poll does not hammer the failing pages.
    poll(&ing, &["thanh-uy"]).await;
    assert_eq!(srv.hits(&format!("/tin-tuc/{}", B.0)), 1);

    // `bantin sources` shows the page errors.
    let out = run_bantin(Some(&env.config_path), &["sources"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pages: 1 fetched, 2 waiting, 0 given up"),
        "{text}"
    );
}

#[tokio::test]
async fn sources_test_shows_what_would_be_extracted_and_stores_nothing() {
    let srv = Server::start().await;
    srv.set("/tin-tuc", html(list_page(&[A, B])));
    serve_articles(&srv);
    let env = Env::new(&html_source("thanh-uy", &srv.url("/tin-tuc"), ""));

    let v = bantin_json(&env.config_path, &["sources", "test", "thanh-uy", "--json"]).await;
    assert_eq!(v["kind"], "html");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v:#}");
    assert_eq!(items[0]["title"], A.1);
    assert_eq!(items[0]["link"], srv.url(&format!("/tin-tuc/{}", A.0)));
    assert_eq!(items[0]["guid"], "1491881281");
    assert_eq!(items[0]["date"]["raw"], A.2);
    assert_eq!(items[0]["date"]["parsed"], "2026-11-23T10:30:00+07:00");
    let page = &items[0]["page"];
    assert!(page["error"].is_null(), "{page}");
    assert!(page["content_chars"].as_u64().unwrap() > 100, "{page}");
    let first = page["first_lines"].to_string();
    assert!(first.contains("Ban Dân vận Thành ủy"), "{first}");
    assert!(!first.contains("Ý kiến bạn đọc"), "{first}");

    // The text form, as an admin reads it.
    let out = run_bantin(Some(&env.config_path), &["sources", "test", "thanh-uy"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 items"), "{text}");
    assert!(
        text.contains("\"14:15 | 22/11/2026\" → 2026-11-22T14:15:00+07:00"),
        "{text}"
    );

    // Nothing was stored.
    let out = run_bantin(Some(&env.config_path), &["articles", "--json"]).await;
    let stored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored.as_array().map(Vec::len), Some(0), "{stored}");
}

#[tokio::test]
async fn discover_lists_advertised_feeds_and_a_feed_source_serving_html_names_them() {
    let srv = Server::start().await;
    let feed = feed_of("mattran.org.vn", 3);
    srv.set("/rss/tin-tuc.rss", Route::feed(feed.clone()));
    srv.set("/rss/dan-van.rss", Route::feed(feed));
    srv.set(
        "/",
        html(format!(
            "<html><head><title>Mặt trận Tổ quốc Việt Nam</title>\
             <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Tin tức\" href=\"{}\"></head><body></body></html>",
            "/rss/tin-tuc.rss"
        )),
    );
    // A feed index page at a common path, linking to category feeds.
    srv.set(
        "/rss.html",
        html(
            "<html><body><ul><li><a href=\"/rss/dan-van.rss\">Dân vận</a></li></ul></body></html>",
        ),
    );
    let env = Env::new("");
    let v = bantin_json(&env.config_path, &["discover", &srv.url("/"), "--json"]).await;
    let feeds: Vec<(String, String)> = v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["url"].as_str().unwrap().to_string(),
                f["via"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        feeds,
        [
            (srv.url("/rss/tin-tuc.rss"), "advertised".to_string()),
            (srv.url("/rss/dan-van.rss"), "index".to_string()),
        ],
        "{v:#}"
    );
    assert_eq!(v["feeds"][0]["items"], 3);

    // A feed source whose URL serves that page: the error names the advertised feed.
    let env = Env::new(&source("mattran", &srv.url("/"), ""));
    let ing = env.ingestor().await;
    let reports = poll(&ing, &["mattran"]).await;
    match &reports[0].outcome {
        Outcome::Failed(e) => {
            assert!(e.to_string().contains("HTML page"), "{e}");
            assert!(e.to_string().contains(&srv.url("/rss/tin-tuc.rss")), "{e}");
        }
        other => panic!("expected a failure, got {other}"),
    }
}
