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
    /// Answers to give, in order; 204 once they run out.
    plan: VecDeque<Answer>,
    /// How long accepting takes (the POST is accepted, then answered).
    accept_after: Duration,
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
        Receiver::with_state(ReceiverState {
            plan: plan.iter().copied().collect(),
            ..Default::default()
        })
        .await
    }

    /// A receiver that accepts every POST and answers `after` later.
    async fn slow(after: Duration) -> Receiver {
        Receiver::with_state(ReceiverState {
            accept_after: after,
            ..Default::default()
        })
        .await
    }

    async fn with_state(state: ReceiverState) -> Receiver {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = shared.clone();
                async move {
                    let (answer, after) = {
                        let mut s = state.lock().unwrap();
                        s.attempts += 1;
                        (s.plan.pop_front(), s.accept_after)
                    };
                    match answer {
                        None => {
                            state.lock().unwrap().accepted.push(Accepted {
                                headers,
                                body: body.to_vec(),
                            });
                            tokio::time::sleep(after).await;
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

/// The titles about dân vận in [`FIRST`], oldest first: the order their POSTs go in.
fn dan_van_titles() -> Vec<String> {
    FIRST
        .iter()
        .rev()
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

/// `bantin run` killed with SIGKILL again and again while it polls a growing feed and posts to a
/// slow receiver (killed at random, or while a POST waits for its answer), then left to finish:
/// the receiver has every article matched to the topic, in the order they were matched, and
/// twice only when the receiver accepted it and the process died before recording that, then
/// with the same delivery id.
#[tokio::test]
async fn kills_lose_no_post_and_double_none_but_with_the_same_delivery_id() {
    use rand::{Rng, SeedableRng};
    const KILLS: usize = 6;
    let seed: u64 = std::env::var("BANTIN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("webhook kill test seed: {seed} (replay with BANTIN_KILL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let feed = Server::start().await;
    let receiver = Receiver::slow(Duration::from_millis(150)).await;
    let env = Env::new(&source(
        "bao",
        &feed.url("/bao.rss"),
        "schedule = \"* * * * * *\"",
    ));
    std::fs::write(
        env.dir.path().join("topics.toml"),
        format!(
            "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\"]\nwebhook = {:?}\n",
            receiver.url
        ),
    )
    .unwrap();
    let mut news: Vec<(String, String)> = Vec::new();
    let serve = |news: &mut Vec<(String, String)>, n: usize| {
        for _ in 0..n {
            let i = news.len();
            let title = match i % 3 {
                2 => format!("Giá vàng hôm nay, bản tin số {i}"),
                _ => format!("Công tác dân vận ở cơ sở, bài số {i}"),
            };
            news.insert(0, (format!("bai-{i}"), title));
        }
        let refs: Vec<(&str, &str)> = news.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        feed.set("/bao.rss", Route::feed(rss(&news_items(&refs))));
    };
    for run in 0..KILLS {
        serve(&mut news, rng.random_range(2..=4));
        let attempts = receiver.attempts();
        let mut running = Running::start(
            &env.config_path,
            env.dir.path().join(format!("run-{run}.log")),
        );
        if rng.random_bool(0.5) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..6000))).await;
        } else {
            // While a POST waits for its answer (the receiver has it already, or not quite).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(7);
            while receiver.attempts() == attempts && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..200))).await;
        }
        running.assert_alive();
        running.child.kill().unwrap();
        running.child.wait().unwrap();
    }

    let want: Vec<String> = news
        .iter()
        .rev()
        .map(|(_, t)| t.clone())
        .filter(|t| t.contains("dân vận"))
        .collect();
    let mut running = Running::start(&env.config_path, env.dir.path().join("final.log"));
    // Up, its signal handlers in place, before it can be told to stop (the earlier runs may
    // have delivered everything already).
    wait_until("the last run is ready", Duration::from_secs(30), || {
        let ready = running.log().contains(": ready");
        async move { ready }
    })
    .await;
    wait_until(
        "the receiver has every article",
        Duration::from_secs(30),
        || {
            let mut got: Vec<String> = receiver.titles();
            got.dedup();
            let n = want.len();
            async move { got.len() >= n }
        },
    )
    .await;
    running.signal("TERM");
    assert!(running.child.wait().unwrap().success(), "{}", running.log());

    // Every article once, by delivery id; a second copy only of the one before it, resent.
    let accepted = receiver.accepted();
    let mut firsts: Vec<(String, String)> = Vec::new();
    let mut resent = 0;
    for a in &accepted {
        let id = header(a, "x-bantin-delivery").to_string();
        let title = item_of(a)["title"].as_str().unwrap().to_string();
        match firsts.iter().find(|(d, _)| *d == id) {
            Some((_, t)) => {
                assert_eq!(*t, title, "a delivery id names one article");
                resent += 1;
            }
            None => {
                assert!(
                    !firsts.iter().any(|(_, t)| *t == title),
                    "{title:?} was posted twice under two delivery ids"
                );
                firsts.push((id, title));
            }
        }
    }
    eprintln!("{} posts, {resent} resent after a kill", accepted.len());
    assert!(resent <= KILLS, "at most one resend per kill");
    // In the order they were matched, and within a poll oldest first: by number.
    let got: Vec<String> = firsts.into_iter().map(|(_, t)| t).collect();
    assert_eq!(got.len(), want.len(), "{got:#?}");
    let numbers: Vec<usize> = got
        .iter()
        .map(|t| t.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "out of order: {numbers:?}"
    );
}

#[tokio::test]
async fn check_counts_the_webhooks_and_warns_of_a_missing_secret_file() {
    let env = Env::new("");
    std::fs::write(
        env.dir.path().join("topics.toml"),
        "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\"]\nwebhook = \"https://bot.example.vn/hook\"\nwebhook_secret_file = \"/nonexistent/hook.secret\"\n",
    )
    .unwrap();
    let out = run_bantin(Some(&env.config_path), &["check"]).await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(", 1 topics in "), "{stdout}");
    assert!(stdout.trim_end().ends_with(", 1 webhooks)"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("warning: topic \"dan-van\": webhook secret file /nonexistent/hook.secret:"),
        "{stderr}"
    );
    // A receiver that is not there: the error is on the row, without the URL.
    let ing = env.ingestor().await;
    let hook = bantin::store::NewDelivery {
        kind: "topic",
        subject: "dan-van",
        article: None,
        endpoint: "http://127.0.0.1:9/hook?token=bí-mật",
        body: b"{}",
    };
    ing.store.queue_delivery(&hook, Utc::now()).unwrap();
    let endpoints = vec![webhook::Endpoint {
        kind: "topic".into(),
        subject: "dan-van".into(),
        url: hook.endpoint.into(),
        secret_file: None,
        timeout: Duration::from_secs(2),
    }];
    let w = Webhooks::new(ing.store.clone(), endpoints).unwrap();
    assert_eq!(round(&w, Utc::now()).await.retrying, 1);
    let error = ing.store.webhook_statuses().unwrap()[0]
        .last_error
        .clone()
        .unwrap();
    assert!(!error.contains("token"), "{error}");
}
