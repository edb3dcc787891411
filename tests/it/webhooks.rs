//! Topic webhooks as a receiver sees them: a fixture feed polled into a temp database, its
//! articles matched to a topic whose webhook is a receiver on 127.0.0.1:0 (axum, in the test)
//! that plays an outage (500s, a stall past the timeout, a 429 with Retry-After, a 404) before
//! it answers 200. Delivery rounds are driven with explicit `now`s, as the digests' tests drive
//! the postman (no waiting out the backoff); a restart is a new `Webhooks` over the database
//! opened again. The daemon's own rounds are checked once, through `daemon::run`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bantin::daemon::{self, Ingestor};
use bantin::webhook::{self, Round, Webhooks};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

const WITHIN: Duration = Duration::from_secs(15);
const SECRET: &str = "khoá bí mật của máy nhận";

const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận"]
webhook = "{HOOK}"
webhook_secret_file = "{SECRET_FILE}"
webhook_timeout = "1s"

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính"]
"#;

/// (link slug, title): the first three are about dân vận, in the feed's order (newest first).
const FIRST: &[(&str, &str)] = &[
    ("dan-van-co-so", "Tăng cường công tác dân vận ở cơ sở"),
    ("cai-cach", "Đẩy mạnh cải cách hành chính năm 2027"),
    ("ban-dan-van", "Ban Dân vận tỉnh tổng kết năm 2026"),
    ("gia-xang", "Giá xăng giảm nhẹ từ chiều nay"),
    (
        "dan-van-kheo",
        "Thi đua dân vận khéo trong cải cách hành chính",
    ),
];
/// Arrives while the receiver is down.
const LATER: (&str, &str) = (
    "dan-van-mien-nam",
    "Hội nghị công tác dân vận khu vực phía Nam",
);

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Answers 200 only after this long: past the webhook's timeout.
    Stall(Duration),
    /// 429 with `Retry-After` in seconds.
    Busy(u64),
}

/// A POST the receiver accepted.
#[derive(Debug, Clone)]
struct Accepted {
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct ReceiverState {
    /// Answers to give, in order; 200 once they run out.
    plan: VecDeque<Answer>,
    attempts: usize,
    accepted: Vec<Accepted>,
}

/// The webhook's receiver on 127.0.0.1:0.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(plan: &[Answer]) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            plan: plan.iter().copied().collect(),
            ..Default::default()
        }));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = shared.clone();
                async move {
                    let answer = {
                        let mut s = state.lock().unwrap();
                        s.attempts += 1;
                        s.plan.pop_front()
                    };
                    match answer {
                        None => {
                            state.lock().unwrap().accepted.push(Accepted {
                                headers,
                                body: body.to_vec(),
                            });
                            StatusCode::NO_CONTENT.into_response()
                        }
                        Some(Answer::Status(code)) => {
                            StatusCode::from_u16(code).unwrap().into_response()
                        }
                        Some(Answer::Stall(d)) => {
                            tokio::time::sleep(d).await;
                            StatusCode::OK.into_response()
                        }
                        Some(Answer::Busy(secs)) => (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", secs.to_string())],
                        )
                            .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    fn accepted(&self) -> Vec<Accepted> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// The titles of the items accepted, in the order they came.
    fn titles(&self) -> Vec<String> {
        self.accepted()
            .iter()
            .map(|a| item_of(a)["title"].as_str().unwrap().to_string())
            .collect()
    }
}

fn item_of(a: &Accepted) -> serde_json::Value {
    serde_json::from_slice(&a.body).expect("the body is JSON")
}

fn header<'a>(a: &'a Accepted, name: &str) -> &'a str {
    a.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// A bantin whose topic `dan-van` posts to a receiver, its outlet polled once.
struct Setup {
    feed: Server,
    env: Env,
    receiver: Receiver,
    ing: Ingestor,
}

fn news_items(news: &[(&str, &str)]) -> String {
    news.iter()
        .enumerate()
        .map(|(i, (slug, title))| {
            let link = format!("https://bao.example.vn/{slug}.html");
            let date = (Utc::now() - chrono::Duration::minutes(10 + 10 * i as i64)).to_rfc2822();
            item(title, &link, Some(&link), &date)
        })
        .collect()
}

impl Setup {
    async fn start(plan: &[Answer]) -> Setup {
        let feed = Server::start().await;
        feed.set("/bao.rss", Route::feed(rss(&news_items(FIRST))));
        let receiver = Receiver::start(plan).await;
        let env = Env::new(&source("bao", &feed.url("/bao.rss"), ""));
        let secret_file = env.dir.path().join("hook.secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let topics = TOPICS
            .replace("{HOOK}", &receiver.url)
            .replace("{SECRET_FILE}", &secret_file.display().to_string());
        std::fs::write(env.dir.path().join("topics.toml"), topics).unwrap();
        let ing = env.ingestor().await;
        poll_stored(&ing).await;
        Setup {
            feed,
            env,
            receiver,
            ing,
        }
    }

    fn webhooks(&self) -> Webhooks {
        Webhooks::new(self.ing.store.clone(), webhook::endpoints(&self.ing.config)).unwrap()
    }
}

async fn poll_stored(ing: &Ingestor) {
    for r in poll(ing, &[]).await {
        assert!(
            matches!(r.outcome, bantin::ingest::Outcome::Stored { .. }),
            "{}: {:?}",
            r.source,
            r.outcome
        );
    }
}

async fn round(w: &Webhooks, now: DateTime<Utc>) -> Round {
    w.deliver_due(now).await.unwrap()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// The titles about dân vận in [`FIRST`], in the order the poll stored them.
fn dan_van_titles() -> Vec<String> {
    FIRST
        .iter()
        .map(|(_, t)| t.to_string())
        .filter(|t| t.to_lowercase().contains("dân vận"))
        .collect()
}

#[tokio::test]
async fn a_receiver_that_fails_stalls_and_recovers_gets_every_article_once_in_order_signed() {
    let s = Setup::start(&[Answer::Status(500), Answer::Stall(Duration::from_secs(3))]).await;
    let t = Utc::now();
    let w = s.webhooks();

    // Down: the first article fails and holds back the others.
    assert_eq!(
        round(&w, t).await,
        Round {
            retrying: 1,
            ..Round::default()
        }
    );
    assert_eq!(s.receiver.attempts(), 1);
    // Not again before its backoff (a minute).
    assert_eq!(round(&w, t + secs(59)).await, Round::default());
    assert_eq!(s.receiver.attempts(), 1);
    // Stalled past the timeout: a failure like any other.
    let started = std::time::Instant::now();
    assert_eq!(round(&w, t + secs(60)).await.retrying, 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut it short"
    );
    assert_eq!(s.receiver.attempts(), 2);
    assert!(s.receiver.accepted().is_empty());

    // A restart: the outbox is in the database; an article arrives meanwhile.
    let Setup {
        feed,
        env,
        receiver,
        ing,
    } = s;
    drop((w, ing));
    let mut news = vec![LATER];
    news.extend_from_slice(FIRST);
    feed.set("/bao.rss", Route::feed(rss(&news_items(&news))));
    let ing = env.ingestor().await;
    poll_stored(&ing).await;
    let w = Webhooks::new(ing.store.clone(), webhook::endpoints(&ing.config)).unwrap();

    // Up again (the backoff has doubled to two minutes): everything, in order, once.
    assert_eq!(round(&w, t + secs(60 + 119)).await, Round::default());
    let r = round(&w, t + secs(60 + 120)).await;
    assert_eq!(r.delivered, 4, "{r:?}");
    let mut want = dan_van_titles();
    want.push(LATER.1.to_string());
    assert_eq!(receiver.titles(), want);
    for a in receiver.accepted() {
        let expected = webhook::sign(SECRET.as_bytes(), &a.body);
        assert_eq!(header(&a, "x-bantin-signature"), expected);
        assert_eq!(header(&a, "x-bantin-topic"), "dan-van");
        assert_eq!(header(&a, "x-bantin-event"), "topic");
        assert!(header(&a, "content-type").starts_with("application/json"));
        let item = item_of(&a);
        assert!(item["id"].as_str().unwrap().starts_with("urn:bantin:"));
        assert!(item["url"]
            .as_str()
            .unwrap()
            .starts_with("https://bao.example.vn/"));
        assert!(item["tags"].as_array().unwrap().contains(&"Dân vận".into()));
        assert!(item["date_published"].is_string());
    }
    let ids: std::collections::HashSet<String> = receiver
        .accepted()
        .iter()
        .map(|a| header(a, "x-bantin-delivery").to_string())
        .collect();
    assert_eq!(ids.len(), 4, "each delivery has its own id");

    // Nothing more, however often it is asked, and however often the feed is polled again.
    poll_stored(&ing).await;
    for later in [secs(3600), secs(86_400)] {
        assert_eq!(round(&w, t + later).await, Round::default());
    }
    assert_eq!(receiver.accepted().len(), 4);
    assert_eq!(receiver.attempts(), 6);

    let listed = bantin_json(&env.config_path, &["webhooks", "--json"]).await;
    let hook = &listed[0];
    assert_eq!(hook["subject"], "dan-van");
    assert_eq!(hook["endpoint"], receiver.url.as_str());
    assert_eq!(
        (
            hook["queued"].as_u64(),
            hook["delivered"].as_u64(),
            hook["failing"].as_u64()
        ),
        (Some(0), Some(4), Some(0))
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_refused_post_is_kept_failed_while_the_next_goes() {
    let s = Setup::start(&[Answer::Busy(300), Answer::Status(404)]).await;
    let t = Utc::now();
    let w = s.webhooks();
    assert_eq!(round(&w, t).await.retrying, 1);
    let head = s.ing.store.delivery_head(&s.receiver.url).unwrap().unwrap();
    assert_eq!(
        head.next_attempt.timestamp_millis(),
        (t + secs(300)).timestamp_millis(),
        "Retry-After, not the minute of backoff"
    );
    assert_eq!(round(&w, t + secs(299)).await, Round::default());
    assert_eq!(
        round(&w, t + secs(300)).await,
        Round {
            delivered: 2,
            failed: 1,
            ..Round::default()
        }
    );
    assert_eq!(s.receiver.titles(), dan_van_titles()[1..]);
    // Refused for good: never tried again, and listed with its reason.
    assert_eq!(round(&w, t + secs(86_400)).await, Round::default());
    let statuses = s.ing.store.webhook_statuses().unwrap();
    assert_eq!((statuses[0].failed, statuses[0].delivered), (1, 2));
    assert_eq!(
        statuses[0].last_error.as_deref(),
        Some("HTTP 404 Not Found")
    );
}

#[tokio::test]
async fn a_topics_edit_posts_no_old_article_and_a_removed_webhook_cancels_what_it_queued() {
    let s = Setup::start(&[Answer::Status(503)]).await;
    let t = Utc::now();
    assert_eq!(round(&s.webhooks(), t).await.retrying, 1);
    // The webhook moves to the other topic, which now matches articles stored before.
    let topics = std::fs::read_to_string(s.env.dir.path().join("topics.toml")).unwrap();
    let (dan_van, rest) = topics
        .split_once("[[topics]]\nid = \"cai-cach-hanh-chinh\"")
        .unwrap();
    let hook_lines: String = dan_van
        .lines()
        .filter(|l| l.starts_with("webhook"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dan_van: String = dan_van
        .lines()
        .filter(|l| !l.starts_with("webhook"))
        .map(|l| format!("{l}\n"))
        .collect();
    let edited = format!("{dan_van}[[topics]]\nid = \"cai-cach-hanh-chinh\"{rest}{hook_lines}");
    std::fs::write(s.env.dir.path().join("topics.toml"), edited).unwrap();
    let ing = s.env.ingestor().await;
    assert!(ing.config.webhooks[0].topic == "cai-cach-hanh-chinh");
    let w = Webhooks::new(ing.store.clone(), webhook::endpoints(&ing.config)).unwrap();
    assert_eq!(
        round(&w, t + secs(3600)).await,
        Round {
            cancelled: 3,
            ..Round::default()
        }
    );
    assert_eq!(s.receiver.attempts(), 1, "no old article is posted");
    let statuses = ing.store.webhook_statuses().unwrap();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(
        (statuses[0].subject.as_str(), statuses[0].cancelled),
        ("dan-van", 3)
    );
}

#[tokio::test]
async fn the_daemon_delivers_what_its_polls_match() {
    let s = Setup::start(&[]).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(s.ing.clone(), None, async move {
        let _ = stopped.await;
    }));
    wait_until("the receiver has every article", WITHIN, || {
        let n = s.receiver.accepted().len();
        async move { n == 3 }
    })
    .await;
    assert_eq!(s.receiver.titles(), dan_van_titles());
    stop.send(()).unwrap();
    tokio::time::timeout(WITHIN, daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    drop(s.feed);
}
