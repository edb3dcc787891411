//! `bantin run` killed with SIGKILL, again and again, while it ingests and mails: nothing a kill
//! does may corrupt the database, lose or double an article, or put a story in front of a
//! subscriber twice.
//!
//! The real binary polls three fixture feeds every second (they grow between runs, so every run
//! has something new to store) and mails digests to three subscribers every two seconds, over
//! SMTP to the test server behind a slow relay (each server reply held back, so a run is often
//! killed in the middle of a conversation). Each run is killed at a moment drawn from a seeded
//! RNG (printed; `BANTIN_KILL_SEED=N` replays it): at random, just after a feed was fetched,
//! during DATA, or just after the server accepted a message. Then a last run is left to finish
//! and stopped with SIGTERM, and the final state is checked:
//!
//! - `PRAGMA integrity_check` is ok and no foreign key dangles;
//! - every item the feeds served is stored exactly once (by URL, by guid, one provenance row);
//! - every digest in the outbox was sent, and every subscriber's windows cover every article;
//! - each subscriber received each article of their topics in exactly one message, counting
//!   messages by Message-ID: the one window no sender can close (the server accepted the message
//!   and the process died before recording it) resends the same message with the same
//!   Message-ID, which a receiving mail system drops as a duplicate. Such re-deliveries must
//!   carry the same articles; they are counted and printed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::smtp::{SmtpOptions, SmtpServer};
use crate::common::*;
use bantin::ingest::Outcome;
use bantin::postman::{Postman, Round};
use bantin::store::{ArticleQuery, Closed, Store};
use chrono::{FixedOffset, Utc};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough for a loaded machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(20);
/// Runs killed before the last one.
const KILLS: usize = 30;
/// Each server reply is held back this long by the relay: a digest takes a few hundred ms.
const RELAY_DELAY: Duration = Duration::from_millis(40);
/// The last run: long enough for every digest (a killed sender's claim must expire first).
const FINAL_WITHIN: Duration = Duration::from_secs(120);

const SOURCES: &[&str] = &["nhandan", "tuoitre", "vnexpress"];

const HOA: &str = "hoa@example.vn";
const AN: &str = "an@example.vn";
const BINH: &str = "binh@example.vn";

const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận", "công tác dân vận"]

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính", "thủ tục hành chính"]
"#;

/// (email, topics) of each subscriber.
const SUBSCRIBERS: &[(&str, &[&str])] = &[
    (HOA, &["dan-van"]),
    (AN, &["cai-cach-hanh-chinh"]),
    (BINH, &["dan-van", "cai-cach-hanh-chinh"]),
];

/// One item a feed served.
#[derive(Clone, Debug)]
struct Served {
    url: String,
    guid: Option<String>,
    topic: Option<&'static str>,
    xml: String,
}

/// The growing feeds.
struct Feeds {
    server: Server,
    items: BTreeMap<&'static str, Vec<Served>>,
    next: usize,
}

impl Feeds {
    fn new(server: Server) -> Feeds {
        Feeds {
            server,
            items: SOURCES.iter().map(|s| (*s, Vec::new())).collect(),
            next: 0,
        }
    }

    /// Adds one item to `source`'s feed (newest first) and publishes the feed.
    fn add(&mut self, source: &'static str) {
        let n = self.next;
        self.next += 1;
        let (topic, title) = match n % 3 {
            0 => (
                Some("dan-van"),
                format!("Đẩy mạnh công tác dân vận ở xã vùng cao, bài số {n}"),
            ),
            1 => (
                Some("cai-cach-hanh-chinh"),
                format!("Cắt giảm thủ tục hành chính cho doanh nghiệp, đợt {n}"),
            ),
            _ => (None, format!("Thời tiết Hà Nội hôm nay, bản tin {n}")),
        };
        let url = format!("https://{source}.example.vn/bai-{n}.html");
        // Every other item without a guid: then the URL is its identity.
        let guid = (n % 2 == 0).then(|| format!("{source}-{n}"));
        let published = (Utc::now() - chrono::Duration::minutes(5))
            .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
            .to_rfc2822();
        let xml = item(&title, &url, guid.as_deref(), &published);
        let list = self.items.get_mut(source).unwrap();
        list.insert(
            0,
            Served {
                url,
                guid,
                topic,
                xml,
            },
        );
        let body = rss(&list.iter().map(|s| s.xml.as_str()).collect::<String>());
        self.server
            .set(&format!("/{source}.rss"), Route::feed(body));
    }

    fn all(&self) -> Vec<Served> {
        self.items.values().flatten().cloned().collect()
    }

    fn hits(&self) -> usize {
        SOURCES
            .iter()
            .map(|s| self.server.hits(&format!("/{s}.rss")))
            .sum()
    }
}

/// A TCP relay in front of the SMTP server that holds each server reply back (by a delay that
/// can be changed while replies are held), and counts the DATA commands it passes on.
#[derive(Clone)]
struct SlowRelay {
    port: u16,
    shared: Arc<RelayShared>,
}

struct RelayShared {
    delay_ms: AtomicU64,
    data_commands: AtomicUsize,
}

impl SlowRelay {
    async fn start(upstream: u16, delay: Duration) -> SlowRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(RelayShared {
            delay_ms: AtomicU64::new(delay.as_millis() as u64),
            data_commands: AtomicUsize::new(0),
        });
        let relayed = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = relayed.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    relay(client, server, shared).await;
                });
            }
        });
        SlowRelay { port, shared }
    }

    fn data_commands(&self) -> usize {
        self.shared.data_commands.load(Ordering::SeqCst)
    }

    /// Replies held now go out once they have been held `delay` in all.
    fn set_delay(&self, delay: Duration) {
        self.shared
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Pumps both ways until either side closes; a killed client closes the server's session too.
async fn relay(client: TcpStream, server: TcpStream, shared: Arc<RelayShared>) {
    let counting = shared.clone();
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if chunk
                .windows(6)
                .any(|w| w.eq_ignore_ascii_case(b"DATA\r\n"))
            {
                counting.data_commands.fetch_add(1, Ordering::SeqCst);
            }
            if server_tx.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let held = tokio::time::Instant::now();
            while held.elapsed().as_millis() < u128::from(shared.delay_ms.load(Ordering::SeqCst)) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if client_tx.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// The moment a run is killed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Moment {
    /// After a random delay (5 ms to 2 s).
    Random,
    /// Just after a feed was fetched: the poll is being parsed or recorded.
    AfterFetch,
    /// While the relay holds back the replies to DATA.
    DuringData,
    /// Just after the server accepted a message: the sender has not recorded it yet.
    AfterAccept,
}

/// The sources, topics and subscribers above, mailing through `smtp_port` with an SMTP
/// `timeout` such as `"5s"`.
fn write_config(env: &Env, feeds: &Feeds, smtp_port: u16, timeout: &str) {
    let mut text = std::fs::read_to_string(&env.config_path).unwrap();
    text.push_str(&format!(
        "[mail]\nfrom = \"Bản tin <tin@bantin.example.vn>\"\n\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\ntimeout = \"{timeout}\"\n\n"
    ));
    for s in SOURCES {
        text.push_str(&source(
            s,
            &feeds.server.url(&format!("/{s}.rss")),
            "schedule = \"* * * * * *\"",
        ));
    }
    std::fs::write(&env.config_path, text).unwrap();
    std::fs::write(env.dir.path().join("topics.toml"), TOPICS).unwrap();
    let subscribers: String = SUBSCRIBERS
        .iter()
        .map(|(email, topics)| {
            format!(
                "[[subscribers]]\nemail = {email:?}\nname = \"Bạn đọc\"\ntopics = {topics:?}\nschedule = \"*/2 * * * * *\"\nmax_items = 500\n\n"
            )
        })
        .collect();
    std::fs::write(env.dir.path().join("subscribers.toml"), subscribers).unwrap();
}

/// Waits until `cond` holds or `within` has passed; true when it held.
async fn until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

fn sqlite(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// Article links (`https://SOURCE.example.vn/bai-N.html`) in a digest's text part.
fn links(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("https://") && w.contains(".example.vn/bai-"))
        .map(str::to_string)
        .collect()
}

/// Everything is stored, every window covers every article, and the outbox has nothing left
/// to send.
fn all_done(db: &Path, served: usize) -> bool {
    if !db.exists() {
        return false;
    }
    let Ok(store) = Store::open(db) else {
        return false;
    };
    let Ok(articles) = store.articles(&ArticleQuery {
        limit: 100_000,
        ..Default::default()
    }) else {
        return false;
    };
    if articles.len() < served {
        return false;
    }
    let windows_cover = SUBSCRIBERS.iter().all(|(email, topics)| {
        let Ok(Some(state)) = store.subscriber_state(email) else {
            return false;
        };
        articles
            .iter()
            .filter(|a| a.topics.iter().any(|t| topics.contains(&t.as_str())))
            .all(|a| a.first_seen < state.window_end)
    });
    let outbox_empty = store
        .outbox(100_000)
        .is_ok_and(|o| o.iter().all(|e| e.status != "pending"));
    windows_cover && outbox_empty
}

/// What [`all_done`] waits for and is not there yet, for a failure message.
fn what_is_left(db: &Path, served: usize) -> String {
    let store = Store::open(db).unwrap();
    let articles = store
        .articles(&ArticleQuery {
            limit: 100_000,
            ..Default::default()
        })
        .unwrap();
    let mut out = format!("{} of {served} items stored\n", articles.len());
    for (email, topics) in SUBSCRIBERS {
        let state = store.subscriber_state(email).unwrap();
        let Some(state) = state else {
            out.push_str(&format!("{email}: not in the database\n"));
            continue;
        };
        for a in articles
            .iter()
            .filter(|a| a.topics.iter().any(|t| topics.contains(&t.as_str())))
            .filter(|a| a.first_seen >= state.window_end)
        {
            out.push_str(&format!(
                "{email}: {:?} first seen {} after the window end {}\n",
                a.url, a.first_seen, state.window_end
            ));
        }
    }
    for e in store.outbox(100_000).unwrap() {
        if e.status == "pending" {
            out.push_str(&format!("pending: {e:?}\n"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_loses_nothing_and_mails_each_story_once() {
    let seed: u64 = std::env::var("BANTIN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("kill test seed: {seed} (replay with BANTIN_KILL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    let relay = SlowRelay::start(smtp.port(), RELAY_DELAY).await;
    let mut feeds = Feeds::new(Server::start().await);
    for s in SOURCES {
        feeds.add(s);
    }
    let env = Env::new("");
    write_config(&env, &feeds, relay.port, "5s");
    let db = env.db_path();

    let mut moments: BTreeMap<Moment, usize> = BTreeMap::new();
    for run in 0..KILLS {
        // Something new for every run.
        for _ in 0..rng.random_range(1..=2) {
            let s = SOURCES[rng.random_range(0..SOURCES.len())];
            feeds.add(s);
        }
        let moment = match rng.random_range(0..10) {
            0..=3 => Moment::Random,
            4..=5 => Moment::AfterFetch,
            6..=7 => Moment::DuringData,
            _ => Moment::AfterAccept,
        };
        let (hits, datas, accepted) = (feeds.hits(), relay.data_commands(), smtp.messages().len());
        let log = env.dir.path().join(format!("run-{run}.log"));
        let mut running = Running::start(&env.config_path, log);
        let reached = match moment {
            Moment::Random => {
                let ms = rng.random_range(5..2000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                true
            }
            Moment::AfterFetch => {
                let reached = until(Duration::from_secs(3), || feeds.hits() > hits).await;
                let ms = rng.random_range(0..30);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                reached
            }
            Moment::DuringData => {
                let reached = until(Duration::from_secs(3), || relay.data_commands() > datas).await;
                let ms = rng.random_range(0..2 * RELAY_DELAY.as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                reached
            }
            Moment::AfterAccept => {
                until(Duration::from_secs(3), || smtp.messages().len() > accepted).await
            }
        };
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!(
                "run {run}: bantin run exited by itself with {status}:\n{}",
                running.log()
            );
        }
        running.child.kill().unwrap();
        running.child.wait().unwrap();
        // A moment not reached within its wait was a random one.
        let moment = if reached { moment } else { Moment::Random };
        *moments.entry(moment).or_default() += 1;
    }

    // The last run: left alone until everything is stored and mailed, then stopped.
    let served = feeds.all();
    let log = env.dir.path().join("final.log");
    let mut running = Running::start(&env.config_path, log);
    let deadline = tokio::time::Instant::now() + FINAL_WITHIN;
    loop {
        running.assert_alive();
        let done = {
            let db = db.clone();
            let n = served.len();
            tokio::task::spawn_blocking(move || all_done(&db, n))
                .await
                .unwrap()
        };
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after {FINAL_WITHIN:?} the last run has not stored and mailed everything:\n{}\n{}",
            running.log(),
            what_is_left(&db, served.len())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.signal("TERM");
    let status = running.child.wait().unwrap();
    assert!(status.success(), "{status}:\n{}", running.log());
    // Nothing the kills left behind is an error to the run after them.
    let log = running.log();
    assert!(
        !log.contains(" ERROR ") && !log.contains("panicked"),
        "the last run logged errors:\n{log}"
    );

    // The database is whole.
    let conn = sqlite(&db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "foreign keys that point nowhere");

    // Every served item stored once, under one identity.
    let count = |sql: &str, arg: &str| -> i64 { conn.query_row(sql, [arg], |r| r.get(0)).unwrap() };
    for s in &served {
        assert_eq!(
            count("SELECT count(*) FROM articles WHERE url = ?1", &s.url),
            1,
            "{}",
            s.url
        );
        if let Some(g) = &s.guid {
            assert_eq!(
                count("SELECT count(*) FROM articles WHERE guid = ?1", g),
                1,
                "{g}"
            );
        }
    }
    let total = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(total("SELECT count(*) FROM articles"), served.len() as i64);
    assert_eq!(
        total("SELECT count(*) FROM article_sources"),
        served.len() as i64,
        "one provenance row per article"
    );
    assert_eq!(
        total("SELECT count(*) FROM article_keys WHERE article_id IS NULL"),
        0,
        "nothing pruned, so no tombstone"
    );
    drop(conn);

    let store = Store::open(&db).unwrap();
    let outbox = store.outbox(100_000).unwrap();
    assert!(
        outbox.iter().all(|e| e.status == "sent"),
        "every digest sent: {outbox:#?}"
    );

    // What each subscriber received, by Message-ID.
    let messages = smtp.messages();
    let mut redeliveries = 0;
    for (email, topics) in SUBSCRIBERS {
        let mut by_id: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in messages.iter().filter(|m| m.to.iter().any(|t| t == email)) {
            let parsed = m.parse();
            let id = parsed
                .message
                .message_id()
                .expect("a Message-ID")
                .to_string();
            let text = parsed.text.clone().expect("a text part");
            let got = links(&text);
            assert!(!got.is_empty(), "a digest without articles:\n{text}");
            match by_id.get(&id) {
                Some(before) => {
                    redeliveries += 1;
                    assert_eq!(
                        before, &got,
                        "{email}: {id} delivered again with other articles"
                    );
                }
                None => {
                    by_id.insert(id, got);
                }
            }
        }
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, urls) in &by_id {
            for u in urls {
                seen.entry(u.as_str()).or_default().push(id.as_str());
            }
        }
        for (url, ids) in &seen {
            assert_eq!(
                ids.len(),
                1,
                "{email} read {url} in {} messages: {ids:?}",
                ids.len()
            );
        }
        let expected: BTreeSet<&str> = served
            .iter()
            .filter(|s| s.topic.is_some_and(|t| topics.contains(&t)))
            .map(|s| s.url.as_str())
            .collect();
        let received: BTreeSet<&str> = seen.keys().copied().collect();
        assert_eq!(
            received, expected,
            "{email}: what was received against what was due"
        );
        // Each message received is a digest the outbox recorded as sent.
        let sent: BTreeSet<&str> = outbox
            .iter()
            .filter(|e| e.email == *email)
            .map(|e| e.message_id.as_str())
            .collect();
        let ids: BTreeSet<&str> = by_id.keys().map(String::as_str).collect();
        assert_eq!(ids, sent, "{email}: Message-IDs received and recorded");
    }
    eprintln!(
        "kill test: {KILLS} kills ({:?}), {} items, {} messages received, {} distinct digests, {redeliveries} re-deliveries with the same Message-ID",
        moments,
        served.len(),
        messages.len(),
        outbox.len(),
    );
}

/// The other side of a short claim: a sender that is alive but slow (a relay that takes longer
/// than the claim's lease to answer) renews its claim, so a second sender (`bantin digest send`
/// beside the daemon) leaves the digest alone, and the subscriber gets it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sender_keeps_its_claim_past_the_lease_and_the_digest_goes_out_once() {
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    // Every reply held back for a minute, until the test lets them through.
    let relay = SlowRelay::start(smtp.port(), Duration::from_secs(60)).await;
    let mut feeds = Feeds::new(Server::start().await);
    feeds.add("nhandan"); // about dân vận: for Hoa and Bình
    let env = Env::new("");
    write_config(&env, &feeds, relay.port, "120s");
    let ing = env.ingestor().await;
    let postman = Postman::new(ing.config.clone(), ing.store.clone()).unwrap();
    for r in poll(&ing, &["nhandan"]).await {
        assert!(matches!(r.outcome, Outcome::Stored { .. }), "{r:?}");
    }

    // The rounds run at a `now` a day ahead: every window is due by then.
    let t1 = Utc::now() + chrono::Duration::days(1);
    let sender = tokio::spawn({
        let p = postman.clone();
        async move { p.round(t1).await }
    });
    // Past the 30 s lease the claims were given, for as long as the sender is at it.
    let renewed = t1 + chrono::Duration::seconds(35);
    wait_until("both claims are renewed past the lease", WITHIN, || {
        let outbox = ing.store.outbox(10).unwrap();
        let ok = outbox.len() == 2
            && outbox
                .iter()
                .all(|e| e.next_attempt.is_some_and(|t| t > renewed));
        async move { ok }
    })
    .await;
    let other = Postman::new(Arc::new(env.config()), Store::open(&env.db_path()).unwrap()).unwrap();
    assert_eq!(other.round(renewed).await.unwrap(), Round::default());

    relay.set_delay(Duration::ZERO);
    let r = tokio::time::timeout(WITHIN, sender)
        .await
        .expect("the slow sender finishes once the relay answers")
        .unwrap()
        .unwrap();
    assert_eq!((r.composed, r.sent), (2, 2));
    let mut to: Vec<String> = smtp.messages().iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, [BINH, HOA]);
    assert!(ing
        .store
        .outbox(10)
        .unwrap()
        .iter()
        .all(|e| e.status == "sent"));
}

/// Found while writing the kill test: a poll that records its articles while a digest window
/// closes (the daemon polling, `bantin digest send` beside it). The poll had read the clock
/// before taking the write lock, so its articles were first seen before the end of a window
/// that had closed without them: they were in no digest, ever.
///
/// A third connection holds the write lock (as a long transaction would), so the poll waits
/// with its articles in hand; a schedule tick passes; the lock is released and the window closes
/// at once, before the waiting poll's next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_recorded_while_a_window_closes_is_in_the_next_digest() {
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    let mut feeds = Feeds::new(Server::start().await);
    feeds.add("nhandan"); // about dân vận: for Hoa and Bình
    let env = Env::new("");
    write_config(&env, &feeds, smtp.port(), "5s");
    let ing = env.ingestor().await;
    // The other process, on its own connection; the windows start now.
    let postman =
        Postman::new(Arc::new(env.config()), Store::open(&env.db_path()).unwrap()).unwrap();

    let blocker = sqlite(&env.db_path());
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let polling = tokio::spawn({
        let ing = ing.clone();
        async move { poll(&ing, &["nhandan"]).await }
    });
    wait_until("the feed is fetched", WITHIN, || {
        let hit = feeds.hits() == 1;
        async move { hit }
    })
    .await;
    // The subscribers' schedule ticks every even second: the first tick a second or more after
    // the fetch, so the poll has its articles in hand before it.
    let fetched = Utc::now().timestamp();
    let tick = (fetched + 2) / 2 * 2;
    wait_until("the tick passes", WITHIN, || async move {
        Utc::now().timestamp() > tick
    })
    .await;
    let p = postman.clone();
    let composed = tokio::task::spawn_blocking(move || {
        blocker.execute_batch("COMMIT").unwrap();
        p.compose_due(Utc::now())
    })
    .await
    .unwrap()
    .unwrap();
    for r in polling.await.unwrap() {
        assert!(matches!(r.outcome, Outcome::Stored { .. }), "{r:?}");
    }

    // The article is in the window after the one that was closing, if not in that one.
    let stored = articles(&ing);
    assert_eq!(stored.len(), 1);
    let seen = stored[0].first_seen.timestamp();
    wait_until("the next tick passes", WITHIN, || async move {
        Utc::now().timestamp() > seen + 2
    })
    .await;
    let p = postman.clone();
    let later = tokio::task::spawn_blocking(move || p.compose_due(Utc::now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(composed + later, 2, "one digest each for Hoa and Bình");
    let mut outbox: Vec<(String, u32)> = postman
        .outbox(10)
        .unwrap()
        .into_iter()
        .map(|e| (e.email, e.articles))
        .collect();
    outbox.sort();
    assert_eq!(outbox, [(BINH.to_string(), 1), (HOA.to_string(), 1)]);
}

/// The other order: a poll commits after a window was composed and before it closes. The close
/// is refused, and the window composed again has the article.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_composed_before_a_poll_committed_is_composed_again() {
    let smtp = SmtpServer::start(SmtpOptions::plain()).await;
    let mut feeds = Feeds::new(Server::start().await);
    feeds.add("nhandan"); // about dân vận: for Hoa and Bình
    let env = Env::new("");
    write_config(&env, &feeds, smtp.port(), "5s");
    let ing = env.ingestor().await;
    let postman =
        Postman::new(Arc::new(env.config()), Store::open(&env.db_path()).unwrap()).unwrap();
    let other = Store::open(&env.db_path()).unwrap();
    let state = other.subscriber_state(HOA).unwrap().unwrap();

    // Composing starts (with no article yet); a poll commits meanwhile.
    let up_to = other.last_article_id().unwrap();
    for r in poll(&ing, &["nhandan"]).await {
        assert!(matches!(r.outcome, Outcome::Stored { .. }), "{r:?}");
    }
    let seen = articles(&ing)[0].first_seen;
    let end = seen + chrono::Duration::seconds(1);
    assert_eq!(
        other
            .close_window(HOA, state.window_end, end, up_to, None, end)
            .unwrap(),
        Closed::Changed
    );
    assert_eq!(
        other.subscriber_state(HOA).unwrap().unwrap().window_end,
        state.window_end,
        "the window stays open"
    );

    wait_until("the window's end passes", WITHIN, || async move {
        Utc::now() > end + chrono::Duration::seconds(2)
    })
    .await;
    let p = postman.clone();
    let composed = tokio::task::spawn_blocking(move || p.compose_due(Utc::now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(composed, 2, "one digest each for Hoa and Bình");
    assert!(postman.outbox(10).unwrap().iter().all(|e| e.articles == 1));
}
