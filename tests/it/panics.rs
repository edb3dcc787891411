//! A panic is one unit's error, never the daemon's: a source poll or an article page that
//! panics (here on demand, through the crate's test-only failpoints) is recorded on its row,
//! retried with backoff, counted in `/metrics`, and every other source goes on. Failpoints are
//! armed per source id, so these tests do not disturb each other.

use std::time::Duration;

use crate::common::*;
use bantin::daemon;
use bantin::guard;
use bantin::ingest::Outcome;
use chrono::Utc;
use tokio::sync::oneshot;

const WITHIN: Duration = Duration::from_secs(15);

fn feed(host: &str, slugs: &[&str]) -> String {
    rss(&slugs
        .iter()
        .map(|s| {
            item(
                &format!("Tin {s} của tỉnh"),
                &format!("https://{host}/{s}.html"),
                None,
                "Mon, 23 Nov 2026 09:00:00 +0700",
            )
        })
        .collect::<String>())
}

fn sqlite(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.db_path()).unwrap()
}

#[tokio::test]
async fn a_poll_that_panics_is_its_sources_error_and_the_others_go_on() {
    let srv = Server::start().await;
    srv.set("/a.rss", Route::feed(feed("a.example.vn", &["a-1001"])));
    srv.set("/b.rss", Route::feed(feed("b.example.vn", &["b-2001"])));
    let env = Env::new(
        &[
            source("panics-once", &srv.url("/a.rss"), ""),
            source("steady", &srv.url("/b.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;
    guard::fail_on("poll", "panics-once");
    let before = Utc::now();
    let reports = poll(&ing, &[]).await;
    assert_eq!(reports.len(), 2, "one report per source: {reports:?}");
    let failed = reports[0].outcome.to_string();
    assert!(
        failed.starts_with("error: internal error (a bug in bantin"),
        "{failed}"
    );
    assert!(failed.contains("failpoint poll"), "{failed}");
    assert!(matches!(reports[1].outcome, Outcome::Stored { .. }));

    let states = ing.states().await.unwrap();
    let s = &states[0];
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("internal error")),
        "{s:?}"
    );
    assert_eq!(s.failures, 1);
    // Backoff like any failure: not before about five minutes.
    assert!(
        s.next_poll.unwrap() > before + chrono::Duration::minutes(3),
        "{s:?}"
    );
    assert_eq!(states[1].failures, 0);

    guard::disarm("poll", "panics-once");
    let reports = poll(&ing, &["panics-once"]).await;
    assert!(
        matches!(reports[0].outcome, Outcome::Stored { .. }),
        "{reports:?}"
    );
    assert_eq!(ing.states().await.unwrap()[0].failures, 0);
}

#[tokio::test]
async fn the_daemon_keeps_polling_a_source_whose_poll_panicked() {
    let srv = Server::start().await;
    srv.set("/a.rss", Route::feed(feed("a.example.vn", &["a-3001"])));
    let env = Env::new(&source(
        "panicky",
        &srv.url("/a.rss"),
        "schedule = \"* * * * * *\"",
    ));
    let mut config = env.config();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.http.bound(listener.local_addr().unwrap());
    let metrics_url = format!("{}metrics", config.http.public_url);
    let ing = daemon::Ingestor::open(config).await.unwrap();
    let store = ing.store.clone();
    guard::fail_on("poll", "panicky");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(daemon::run(ing, Some(listener), async move {
        let _ = stopped.await;
    }));

    wait_until("the panic is counted in /metrics", WITHIN, || {
        let url = metrics_url.clone();
        async move {
            let Ok(r) = reqwest::get(&url).await else {
                return false;
            };
            let text = r.text().await.unwrap_or_default();
            text.contains("bantin_panics_total{unit=\"poll\"} 1")
        }
    })
    .await;
    let states = store.source_states(&["panicky".to_string()]).unwrap();
    assert!(
        states[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("failpoint poll")),
        "{:?}",
        states[0]
    );
    assert_eq!(store.article_count().unwrap(), 0);

    // The bug is fixed and the backoff has run out: the daemon polls the source again (before,
    // the source stayed marked as in flight and was never polled again until a restart).
    guard::disarm("poll", "panicky");
    sqlite(&env)
        .execute("UPDATE sources SET next_poll = 0 WHERE id = 'panicky'", [])
        .unwrap();
    wait_until("the source is polled again and stored", WITHIN, || {
        let n = store.article_count().unwrap();
        async move { n == 1 }
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(WITHIN, task)
        .await
        .expect("run returned")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_article_page_that_panics_is_that_pages_error() {
    let srv = Server::start().await;
    let link = srv.url("/bai/hoi-nghi-1001.html");
    srv.set(
        "/rss",
        Route::feed(rss(&item(
            "Hội nghị Ban Chấp hành Đảng bộ quận",
            &link,
            None,
            "Mon, 23 Nov 2026 09:00:00 +0700",
        ))),
    );
    srv.set(
        "/bai/hoi-nghi-1001.html",
        Route::feed(
            "<html><body><article><p>Hội nghị đã thảo luận nhiều nội dung quan trọng về phát \
             triển kinh tế xã hội của quận trong năm tới, và thi đua dân vận khéo.</p></article>\
             </body></html>",
        )
        .with_content_type("text/html; charset=utf-8"),
    );
    let env = Env::new(&source("page-panics", &srv.url("/rss"), "full_text = true"));
    let ing = env.ingestor().await;
    guard::fail_on("page", "page-panics");
    let reports = poll(&ing, &["page-panics"]).await;
    match &reports[0].outcome {
        Outcome::Stored { stats, pages, .. } => {
            assert_eq!(stats.new, 1, "the list is stored whatever its pages do");
            assert_eq!((pages.fetched, pages.failed, pages.panicked), (0, 1, 1));
        }
        o => panic!("{o:?}"),
    }
    let error: String = sqlite(&env)
        .query_row("SELECT last_error FROM pages", [], |r| r.get(0))
        .unwrap();
    assert!(error.contains("internal error"), "{error}");
    assert_eq!(
        ing.states().await.unwrap()[0].failures,
        0,
        "not the source's"
    );

    guard::disarm("page", "page-panics");
    sqlite(&env)
        .execute("UPDATE pages SET next_try = 0", [])
        .unwrap();
    let reports = poll(&ing, &["page-panics"]).await;
    assert!(
        matches!(&reports[0].outcome, Outcome::Stored { pages, .. } if pages.fetched == 1),
        "{reports:?}"
    );
    let a = &articles(&ing)[0];
    assert!(
        a.content_html
            .as_deref()
            .is_some_and(|c| c.contains("dân vận khéo")),
        "{a:?}"
    );
}
