//! HTML page reading throughput: `cargo bench --bench pages` (optionally `-- PAGES`).
//!
//! Generated pages shaped like the Party sites' (menus, a list of 40 items with Vietnamese date
//! lines; article pages of ~1,500 words with a photo caption, author line, "Ý kiến bạn đọc",
//! "Tin khác" and a comment form). Reports list pages/s through `parse_list` and article
//! pages/s through `extract_article` with selectors and with the readability extractor, median
//! of 3 rounds. Sanitizing the extracted body (as ingest stores it) is included.

use std::time::{Duration, Instant};

use bantin::config::{ArticleRules, Css, ListRules};
use bantin::date::DateOrder;
use bantin::ingest::entry::DateContext;
use bantin::ingest::normalize;
use bantin::ingest::scrape;
use chrono::{TimeZone, Utc};
use url::Url;

const SENTENCES: &[&str] = &[
    "Ban Dân vận Thành ủy tổ chức hội nghị tổng kết công tác dân vận năm 2026.",
    "Phong trào thi đua dân vận khéo đã lan tỏa đến từng khu phố, ấp và tổ dân phố.",
    "Các đại biểu thảo luận giải pháp nâng cao chất lượng tiếp xúc, đối thoại với nhân dân.",
    "Mặt trận Tổ quốc và các đoàn thể chính trị - xã hội phối hợp giám sát, phản biện xã hội.",
    "Hội nghị biểu dương các tập thể, cá nhân có thành tích xuất sắc trong năm qua.",
];

fn list_page(items: usize) -> String {
    let mut s = String::from(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Tin tức</title></head><body>\
         <nav><ul><li><a href=\"/\">Trang chủ</a></li><li><a href=\"/tin-tuc\">Tin tức</a></li></ul></nav><div class=\"list-news\">",
    );
    for i in 0..items {
        s.push_str(&format!(
            "<div class=\"news-item\"><a href=\"/tin-tuc/bai-{i}-14918{i:05}\"><img src=\"/img/{i}.jpg\"></a>\
             <h3><a href=\"/tin-tuc/bai-{i}-14918{i:05}\">{}</a></h3><span class=\"time\">Thứ Hai, {:02}/11/2026 10:30 (GMT+7)</span>\
             <p class=\"sapo\">{}</p></div>",
            SENTENCES[i % SENTENCES.len()],
            1 + i % 27,
            SENTENCES[(i + 1) % SENTENCES.len()],
        ));
    }
    s.push_str("</div><footer>Bản quyền</footer></body></html>");
    s
}

fn article_page(words: usize) -> String {
    let mut body = String::new();
    let mut n = 0;
    let mut i = 0;
    while n < words {
        let mut p = String::new();
        for _ in 0..4 {
            let sentence = SENTENCES[i % SENTENCES.len()];
            n += sentence.split(' ').count();
            i += 1;
            p.push_str(sentence);
            p.push(' ');
        }
        body.push_str(&format!("<p>{p}</p>\n"));
    }
    format!(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Hội nghị</title>\
         <meta property=\"article:published_time\" content=\"2026-11-23T10:30:00+07:00\"></head><body>\
         <header><nav><a href=\"/\">Trang chủ</a><a href=\"/tin-tuc\">Tin tức</a></nav></header>\
         <article class=\"detail\"><div class=\"date-time\">Thứ Hai, 23/11/2026 10:30 (GMT+7)</div>\
         <h1>Hội nghị tổng kết công tác dân vận</h1><div class=\"detail-content\">\
         <figure><img src=\"/anh.jpg\"><figcaption>Quang cảnh hội nghị</figcaption></figure>{body}\
         <p class=\"author\">THU HƯƠNG</p>\
         <div class=\"box\"><h3>Ý kiến bạn đọc</h3><p>Bài viết hay.</p></div>\
         <div class=\"related-news\"><h3>Tin khác</h3><ul><li><a href=\"/x\">Tin khác</a></li></ul></div>\
         <div class=\"comment-box\"><form><textarea></textarea></form></div></div></article>\
         <footer>Bản quyền</footer></body></html>"
    )
}

fn css(s: &str) -> Css {
    Css::parse(s).unwrap()
}

/// Median of 3 rounds of `n` calls, as calls per second.
fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed()
        })
        .collect();
    rounds.sort();
    n as f64 / rounds[1].as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let base = Url::parse("https://www.thanhuytphcm.vn/tin-tuc").unwrap();
    let dates = DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: DateOrder::Dmy,
        now: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    let list_rules = ListRules {
        item: css("div.news-item"),
        link: css("h3 a"),
        link_attr: "href".into(),
        title: Some(css("h3")),
        date: Some(css(".time")),
        summary: Some(css(".sapo")),
    };
    let article_rules = ArticleRules {
        content: Some(css("div.detail-content")),
        date: Some(css(".date-time")),
        author: Some(css(".author")),
        remove: vec![css(".comment-box"), css(".related-news")],
    };
    let list = list_page(40);
    let article = article_page(1500);
    let url = base.join("/tin-tuc/bai-1-1491800001").unwrap();

    let items = scrape::parse_list(list.as_bytes(), None, &base, &list_rules, dates)
        .unwrap()
        .entries
        .len();
    assert_eq!(items, 40);
    let lists = rate(n, || {
        let feed = scrape::parse_list(list.as_bytes(), None, &base, &list_rules, dates).unwrap();
        std::hint::black_box(feed);
    });
    let extract = |rules: Option<&ArticleRules>| {
        let page = scrape::extract_article(article.as_bytes(), None, &url, rules, dates).unwrap();
        let html = page.content_html.as_deref().and_then(normalize::sanitize);
        assert!(html.is_some_and(|h| h.contains("dân vận khéo") && !h.contains("Ý kiến")));
    };
    let with_selectors = rate(n, || extract(Some(&article_rules)));
    let readability = rate(n, || extract(None));
    println!(
        "list page (40 items, {} KiB):         {lists:8.0} pages/s ({:.0} items/s)",
        list.len() / 1024,
        lists * 40.0
    );
    println!(
        "article page ({} KiB), selectors:     {with_selectors:8.0} pages/s",
        article.len() / 1024
    );
    println!(
        "article page ({} KiB), readability:   {readability:8.0} pages/s",
        article.len() / 1024
    );
}
