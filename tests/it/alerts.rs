//! Admin alerts as an admin receives them: sources served on loopback turn failing, yield far
//! fewer items, recover; digests fail for good at the test SMTP server; each alert arrives by
//! mail over TCP, once, and `bantin alerts` lists it. Rounds are driven with explicit `now`s
//! (a day passes without sleeping), and one daemon run checks the round is part of its loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::smtp::{Mode, SmtpOptions, SmtpServer};
use crate::common::*;
use axum::http::HeaderMap;
use bantin::alerts;
use bantin::config::Config;
use bantin::postman::Postman;
use bantin::webhook::{self, Webhooks};
use chrono::{DateTime, Utc};

const WITHIN: Duration = Duration::from_secs(15);
const ADMIN: &str = "admin@bantin.example.vn";

/// `[mail]` through `smtp`, and `[alerts]` to [`ADMIN`] with `alerts_extra`.
fn mail_and_alerts(smtp: &SmtpServer, alerts_extra: &str) -> String {
    format!(
        "[mail]\nfrom = \"Bản tin <tin@bantin.example.vn>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntimeout = \"5s\"\nsecurity = \"none\"\n\n[alerts]\nemail = [\"{ADMIN}\"]\n{alerts_extra}\n",
        smtp.port()
    )
}

/// Sends what the outbox holds at `now`.
async fn send(config: &Config, store: &bantin::store::Store, now: DateTime<Utc>) {
    let postman = Postman::new(Arc::new(config.clone()), store.clone()).unwrap();
    let r = postman.send_due(now).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}: {:?}", store.outbox(10).unwrap());
}

/// A round of alerts at `now`: the subjects and conditions said.
fn round(config: &Config, store: &bantin::store::Store, now: DateTime<Utc>) -> Vec<String> {
    alerts::round(config, store, now)
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {}", a.subject, a.condition))
        .collect()
}

#[tokio::test]
async fn a_failing_source_is_told_once_and_its_recovery_a_day_later() {
    let server = Server::start().await;
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    server.set("/a.xml", Route::status(503, "busy"));
    server.set(
        "/b.xml",
        Route::feed(rss(&item("Tin", "https://b.vn/1", None, ""))),
    );
    let env = Env::new(&format!(
        "{}{}{}",
        mail_and_alerts(&smtp, "failures = 2"),
        source("a", &server.url("/a.xml"), ""),
        source("b", &server.url("/b.xml"), "")
    ));
    let ing = env.ingestor().await;
    let config = env.config();
    let t0 = Utc::now();

    poll(&ing, &["a", "b"]).await;
    assert!(
        round(&config, &ing.store, t0).is_empty(),
        "one failure is not news"
    );
    poll(&ing, &["a"]).await;
    assert_eq!(round(&config, &ing.store, t0), ["source:a failing"]);
    assert!(round(&config, &ing.store, t0).is_empty(), "said once");
    send(&config, &ing.store, t0).await;
    let got = smtp.wait_for(1, WITHIN).await;
    assert_eq!(got[0].to, [ADMIN]);
    let mail = got[0].parse();
    assert_eq!(
        mail.subject.as_deref(),
        Some("bantin: source a is failing: 2 polls in a row failed; the last: HTTP 503")
    );
    let text = mail.text.unwrap();
    assert!(text.contains("`bantin alerts`"), "{text}");

    // It recovers within the hour: told a day after the first alert, not before.
    server.set(
        "/a.xml",
        Route::feed(rss(&item("Tin A", "https://a.vn/1", None, ""))),
    );
    poll(&ing, &["a"]).await;
    let hour = chrono::Duration::hours(1);
    assert!(round(&config, &ing.store, t0 + hour).is_empty());
    let listed = bantin_json(&env.config_path, &["alerts", "--json"]).await;
    assert_eq!(listed["now"][0]["subject"], "source:a");
    assert_eq!(listed["now"][0]["condition"], "ok");
    assert_eq!(listed["now"][0]["reported"], "failing");
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 1);

    let later = t0 + chrono::Duration::hours(25);
    assert_eq!(round(&config, &ing.store, later), ["source:a ok"]);
    send(&config, &ing.store, later).await;
    let got = smtp.wait_for(2, WITHIN).await;
    assert_eq!(
        got[1].parse().subject.as_deref(),
        Some("bantin: source a recovered (it was failing)")
    );
    assert!(round(&config, &ing.store, later + hour * 48).is_empty());

    let out = run_bantin(Some(&env.config_path), &["alerts"]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("nothing is wrong now"), "{shown}");
    assert!(
        shown.contains("failing → ok  source a recovered"),
        "{shown}"
    );
    assert!(
        shown.contains("ok → failing  source a is failing"),
        "{shown}"
    );
}

/// A list page of `n` items.
fn list_page(n: usize) -> String {
    let items: String = (0..n)
        .map(|i| format!("<div class=\"news\"><a href=\"/bai-{i}.html\">Bài số {i} về công tác dân vận</a></div>\n"))
        .collect();
    format!("<!doctype html><html><head><title>Tin tức</title></head><body>{items}</body></html>")
}

#[tokio::test]
async fn a_list_page_yielding_far_fewer_items_is_told() {
    let server = Server::start().await;
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    let page = |n| Route::feed(list_page(n)).with_content_type("text/html; charset=utf-8");
    server.set("/tin", page(20));
    let env = Env::new(&format!(
        "{}{}[sources.list]\nitem = \"div.news\"\nlink = \"a\"\n",
        mail_and_alerts(&smtp, ""),
        source("portal", &server.url("/tin"), "kind = \"html\"")
    ));
    let ing = env.ingestor().await;
    let config = env.config();
    let t0 = Utc::now();
    for _ in 0..3 {
        poll(&ing, &["portal"]).await;
    }
    assert!(round(&config, &ing.store, t0).is_empty());
    // The site's template changed: the selector now catches two leftovers.
    server.set("/tin", page(2));
    poll(&ing, &["portal"]).await;
    assert_eq!(round(&config, &ing.store, t0), ["source:portal fewer"]);
    send(&config, &ing.store, t0).await;
    let got = smtp.wait_for(1, WITHIN).await;
    assert_eq!(
        got[0].parse().subject.as_deref(),
        Some("bantin: source portal yields far fewer items than usual: 2 items where it usually yields 20")
    );
    // Still broken at the next poll: the usual count is not dragged down, nothing more is said.
    poll(&ing, &["portal"]).await;
    assert!(round(&config, &ing.store, t0 + chrono::Duration::days(2)).is_empty());
    server.set("/tin", page(20));
    poll(&ing, &["portal"]).await;
    assert_eq!(
        round(&config, &ing.store, t0 + chrono::Duration::days(2)),
        ["source:portal ok"]
    );
}

#[tokio::test]
async fn a_digest_failing_for_good_is_told_to_the_admin() {
    let server = Server::start().await;
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    server.set(
        "/a.xml",
        Route::feed(rss(&item("Công tác dân vận", "https://a.vn/1", None, ""))),
    );
    let env = Env::new(&format!(
        "{}{}",
        mail_and_alerts(&smtp, ""),
        source("a", &server.url("/a.xml"), "")
    ));
    std::fs::write(
        env.dir.path().join("topics.toml"),
        "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận\"]\n",
    )
    .unwrap();
    std::fs::write(
        env.dir.path().join("subscribers.toml"),
        "[[subscribers]]\nemail = \"hoa@example.vn\"\ntopics = [\"dan-van\"]\n",
    )
    .unwrap();
    let ing = env.ingestor().await;
    let config = Arc::new(env.config());
    let postman = Postman::new(config.clone(), ing.store.clone()).unwrap();
    let t0 = Utc::now();
    postman.compose_due(t0).unwrap();
    poll(&ing, &["a"]).await;
    smtp.set_mode(Mode::PermFail);
    let day = t0 + chrono::Duration::days(1);
    let r = postman.round(day).await.unwrap();
    assert_eq!(r.failed, 1, "{r:?}");
    smtp.set_mode(Mode::Accept);
    assert_eq!(
        round(&config, &ing.store, day),
        ["digest:hoa@example.vn digest-failed"]
    );
    postman.send_due(day).await.unwrap();
    let got = smtp.wait_for(1, WITHIN).await;
    assert_eq!(got[0].to, [ADMIN]);
    let subject = got[0].parse().subject.unwrap();
    assert!(
        subject.starts_with("bantin: the digests to hoa@example.vn failed for good: ")
            && subject.contains("550"),
        "{subject}"
    );
    // The alert itself is not a digest: delivered, it tells nothing new.
    assert!(round(&config, &ing.store, day + chrono::Duration::days(2)).is_empty());
}

/// A webhook receiver on 127.0.0.1:0 answering 204: its URL and the POSTs it got (headers,
/// body).
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((headers, body.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn alerts_are_posted_signed_to_the_alerts_webhook() {
    let server = Server::start().await;
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    let (url, posts) = receiver().await;
    server.set("/a.xml", Route::status(500, "boom"));
    let env = Env::new("");
    let secret = env.dir.path().join("alerts.secret");
    std::fs::write(&secret, "khoá cảnh báo\n").unwrap();
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        text + &format!(
            "{}webhook = \"{url}\"\nwebhook_secret_file = {secret:?}\nfailures = 1\n{}",
            mail_and_alerts(&smtp, ""),
            source("a", &server.url("/a.xml"), "")
        ),
    )
    .unwrap();
    let ing = env.ingestor().await;
    let config = env.config();
    poll(&ing, &["a"]).await;
    // Between the daemon's rounds (or without a daemon) the listing shows what holds now.
    let out = run_bantin(Some(&env.config_path), &["alerts"]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("source:a  failing since")
            && shown.contains("to be told at the daemon's next round"),
        "{shown}"
    );
    let t0 = Utc::now();
    assert_eq!(round(&config, &ing.store, t0), ["source:a failing"]);
    let hooks = Webhooks::new(ing.store.clone(), webhook::endpoints(&config)).unwrap();
    let r = hooks.deliver_due(t0).await.unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");
    let posts = posts.lock().unwrap().clone();
    let (headers, body) = &posts[0];
    assert_eq!(headers["x-bantin-event"], "alert");
    assert_eq!(
        headers["x-bantin-signature"].to_str().unwrap(),
        webhook::sign("khoá cảnh báo".as_bytes(), body)
    );
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["source"], "a");
    assert_eq!(json["condition"], "failing");
    assert_eq!(json["was"], "ok");
    assert_eq!(
        json["message"],
        "source a is failing: its last poll failed: HTTP 500"
    );
    // The mail went into the outbox too, beside the POST.
    send(&config, &ing.store, t0).await;
    assert_eq!(smtp.wait_for(1, WITHIN).await[0].to, [ADMIN]);
}

#[tokio::test]
async fn the_daemon_says_alerts_in_its_rounds() {
    let server = Server::start().await;
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    server.set("/gone.xml", Route::status(410, "gone"));
    let env = Env::new(&format!(
        "{}{}",
        mail_and_alerts(&smtp, ""),
        source("cu", &server.url("/gone.xml"), "")
    ));
    let ing = env.ingestor().await;
    poll(&ing, &["cu"]).await;
    drop(ing);
    let mut daemon = Running::start(&env.config_path, env.dir.path().join("run.log"));
    let got = smtp.wait_for(1, WITHIN).await;
    daemon.assert_alive();
    daemon.signal("TERM");
    assert_eq!(got[0].to, [ADMIN]);
    let subject = got[0].parse().subject.unwrap();
    assert!(
        subject.starts_with("bantin: source cu is gone (not polled again until its entry changes)"),
        "{subject}"
    );
}
