//! Every article once: across polls, across sources, through changes, tracking parameters and
//! missing guids.

mod common;

use common::*;

#[tokio::test]
async fn same_feed_twice_stores_each_article_once() {
    let srv = Server::start().await;
    let body = rss(&[
        item("Tăng cường công tác dân vận", "https://bao.example.vn/a-1.html", Some("1"), "Sat, 22 Aug 2026 23:55:31 +0700"),
        item("Hội nghị Trung ương", "https://bao.example.vn/a-2.html", Some("2"), "Sat, 22 Aug 2026 20:00:00 +0700"),
    ]
    .concat());
    srv.set("/rss", Route::feed(body));
    let env = Env::new(&source("a", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;

    let r = poll(&ing, &["a"]).await;
    assert_eq!(r[0].outcome.to_string(), "new: 2 new, 0 updated, 0 unchanged");
    let r = poll(&ing, &["a"]).await;
    assert_eq!(r[0].outcome.to_string(), "unchanged: 0 new, 0 updated, 2 unchanged");
    let list = articles(&ing);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].title, "Tăng cường công tác dân vận");
    assert_eq!(list[0].published.to_rfc3339(), "2026-08-22T23:55:31+07:00");
    assert_eq!(list[0].sources, vec!["a"]);
}
