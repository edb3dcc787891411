//! Digests as a subscriber receives them: a fixture feed polled into a temp database, topics
//! matched, `Postman` rounds driven with explicit `now`s (no sleeping until 07:00), and every
//! message delivered over TCP to the test SMTP server on 127.0.0.1:0 and decoded as a mail
//! client shows it. Unsubscribe links are followed over HTTP against the daemon's `run`, and the
//! admin commands (`digest preview`, `digests`, `subscribers enable`) run as the real binary.
//!
//! Time: an article's `first_seen` is the real clock at ingest, and a subscriber's first window
//! starts when a `Postman` first sees them. So every test creates the `Postman` before polling
//! the feed, then closes windows with `round(t0 + 1 day)` and so on; only one window per
//! subscriber can hold articles (later ones start in the future of the real clock).
//!
//! The fixture is one outlet's feed of short Vietnamese items (and a second outlet where a story
//! is syndicated); each item's link slug names what it is there for, and its title is what the
//! subscriber must (or must not) read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::smtp::{Mode, Parsed, Received, SmtpOptions, SmtpServer, Tls};
use crate::common::*;
use bantin::daemon::{self, DaemonError, Ingestor};
use bantin::ingest::Outcome;
use bantin::mail::{Mailer, Outgoing, Security, SmtpSettings, Transport};
use bantin::postman::{Postman, Round};
use bantin::store::{OutboxEntry, Store, SubscriberState};
use bantin::unsubscribe::{self, Request, Secret};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use mail_parser::MimeHeaders;
use tokio::sync::oneshot;

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// `dan-van` and `cai-cach-hanh-chinh` as shipped (shortened), and a topic nothing here matches.
const TOPICS: &str = r#"
[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận", "công tác dân vận", "Ban Dân vận"]
ignore = ["nhân dân vận dụng"]

[[topics]]
id = "cai-cach-hanh-chinh"
name = "Cải cách hành chính"
any = ["cải cách hành chính", "thủ tục hành chính"]

[[topics]]
id = "xay-dung-dang"
name = "Xây dựng Đảng"
any = ["xây dựng Đảng", "chỉnh đốn Đảng"]
"#;

/// One fixture item: its link slug, its title as the outlet publishes it, and the title as a
/// reader must see it (NFC, one line).
#[derive(Clone, Copy, Debug)]
struct News {
    slug: &'static str,
    title: &'static str,
    shown: &'static str,
}

const DAN_VAN: News = News {
    slug: "cong-tac-dan-van",
    title: "Tăng cường công tác dân vận ở cơ sở",
    shown: "Tăng cường công tác dân vận ở cơ sở",
};
/// Every accent decomposed (NFD), as Nhân Dân often sends: the digest shows it composed.
const DAN_VAN_NFD: News = News {
    slug: "nfd-title",
    title: "Thi đua da\u{302}n va\u{323}\u{302}n khe\u{301}o",
    shown: "Thi đua dân vận khéo",
};
const BAN_DAN_VAN: News = News {
    slug: "organisation-name",
    title: "Ban Dân vận tỉnh tổng kết năm 2026",
    shown: "Ban Dân vận tỉnh tổng kết năm 2026",
};
/// Matches `dan-van` and `cai-cach-hanh-chinh`.
const TWO_TOPICS: News = News {
    slug: "two-topics",
    title: "Dân vận khéo trong cải cách hành chính",
    shown: "Dân vận khéo trong cải cách hành chính",
};
const CCHC_ONLY: News = News {
    slug: "other-topic-only",
    title: "Cắt giảm thủ tục hành chính cho doanh nghiệp",
    shown: "Cắt giảm thủ tục hành chính cho doanh nghiệp",
};
const NO_TOPIC: News = News {
    slug: "no-topic",
    title: "Giá xăng giảm nhẹ từ chiều nay",
    shown: "Giá xăng giảm nhẹ từ chiều nay",
};
/// "nhân dân vận dụng" is ignored: not about dân vận.
const IGNORED_PHRASE: News = News {
    slug: "ignored-phrase",
    title: "Nhân dân vận dụng sáng tạo nghị quyết",
    shown: "Nhân dân vận dụng sáng tạo nghị quyết",
};

/// The first poll's feed.
const FEED: &[News] = &[
    DAN_VAN,
    DAN_VAN_NFD,
    BAN_DAN_VAN,
    TWO_TOPICS,
    CCHC_ONLY,
    NO_TOPIC,
    IGNORED_PHRASE,
];
/// What a `dan-van` subscriber reads from [`FEED`].
const DAN_VAN_NEWS: &[News] = &[DAN_VAN, DAN_VAN_NFD, BAN_DAN_VAN, TWO_TOPICS];
/// What a `dan-van` subscriber never reads from [`FEED`].
const NOT_DAN_VAN: &[News] = &[CCHC_ONLY, NO_TOPIC, IGNORED_PHRASE];

/// Arrive in a second poll.
const LATER: &[News] = &[
    News {
        slug: "later-dan-van",
        title: "Hội nghị Ban Dân vận khu vực phía Nam",
        shown: "Hội nghị Ban Dân vận khu vực phía Nam",
    },
    News {
        slug: "later-no-topic",
        title: "Thời tiết Hà Nội chuyển lạnh",
        shown: "Thời tiết Hà Nội chuyển lạnh",
    },
];

const HOA: &str = "hoa@example.vn";
const AN: &str = "an@example.vn";
const BINH: &str = "binh@example.vn";
const KHANG: &str = "khang@example.vn";

/// Where unsubscribe mail goes (the `mailto:` of List-Unsubscribe).
const REPLY_TO: &str = "ban-bien-tap@bantin.example.vn";

/// Minutes before now, as a Vietnamese outlet writes it (RFC 822, +0700).
fn pub_date(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes))
        .with_timezone(&ict())
        .to_rfc2822()
}

fn news_item(n: &News, minutes: i64) -> String {
    let link = format!("https://bao.example.vn/{}.html", n.slug);
    item(n.title, &link, Some(&link), &pub_date(minutes))
}

/// The RSS document of `news`, newest first.
fn feed(news: &[News]) -> String {
    rss(&news
        .iter()
        .enumerate()
        .map(|(i, n)| news_item(n, 10 + 10 * i as i64))
        .collect::<String>())
}

/// A `[[subscribers]]` table with the default schedule (daily 07:00) and time zone (Hanoi).
fn subscriber(email: &str, name: &str, topics: &[&str]) -> String {
    format!("[[subscribers]]\nemail = {email:?}\nname = {name:?}\ntopics = {topics:?}\n\n")
}

// ---------------------------------------------------------------------------------------------
// Time: Hanoi is UTC+7 all year, and the default schedule is 07:00 there.

fn ict() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

/// The latest 07:00 in Hanoi at or before `t`.
fn seven_am_until(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&ict());
    let seven = ict()
        .from_local_datetime(&local.date_naive().and_hms_opt(7, 0, 0).unwrap())
        .unwrap();
    let seven = if seven > local {
        seven - chrono::Duration::days(1)
    } else {
        seven
    };
    seven.with_timezone(&Utc)
}

/// dd/mm/yyyy in Hanoi, as the subject dates a digest.
fn date_vn(t: DateTime<Utc>) -> String {
    t.with_timezone(&ict()).format("%d/%m/%Y").to_string()
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

/// Waits until the clock has left the second of `t`, so that what happens next is strictly
/// later than `t` (the store keeps milliseconds; these tests keep a second's margin).
async fn past_the_second_of(t: DateTime<Utc>) {
    wait_until(
        "the clock reaches the next second",
        WITHIN,
        move || async move { Utc::now().timestamp() > t.timestamp() },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The setup

/// What a test starts with.
struct Options {
    subscribers: String,
    /// RSS items of the outlet `bao`, polled once at the start.
    items: Vec<String>,
    topics: &'static str,
    smtp: SmtpOptions,
    /// `[mail.smtp]` lines besides host, port and timeout.
    smtp_extra: String,
    /// The SMTP password, written to a file `password_file` names.
    password: Option<&'static str>,
    /// Bind an HTTP listener and make the config's public URL point at it.
    http: bool,
    /// More outlets: (id, display name, RSS items).
    outlets: Vec<(&'static str, &'static str, Vec<String>)>,
    /// More `[mail]` lines.
    mail_extra: &'static str,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            subscribers: subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            items: items(FEED),
            topics: TOPICS,
            smtp: SmtpOptions::plain(),
            smtp_extra: "security = \"none\"\n".into(),
            password: None,
            http: false,
            outlets: Vec::new(),
            mail_extra: "",
        }
    }
}

fn items(news: &[News]) -> Vec<String> {
    news.iter()
        .enumerate()
        .map(|(i, n)| news_item(n, 10 + 10 * i as i64))
        .collect()
}

/// A configured bantin with its feed polled once, after its subscribers were first seen.
struct Digests {
    feed: Server,
    smtp: SmtpServer,
    env: Env,
    ing: Ingestor,
    postman: Postman,
    listener: Option<tokio::net::TcpListener>,
    /// Just after the first poll.
    t0: DateTime<Utc>,
}

impl Digests {
    /// The digest of the window that closes at `t1` for HOA, as its parts (a preview), and as
    /// queued by composing it (its outbox row, with the same Message-ID).
    async fn queued_with_its_parts(&self, t1: DateTime<Utc>) -> (Outgoing, OutboxEntry) {
        let (p, end) = (self.postman.clone(), seven_am_until(t1));
        let (out, _) = tokio::task::spawn_blocking(move || p.preview(HOA, end))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(self.compose_due(t1).await, 1);
        let draft = self.outbox()[0].clone();
        assert_eq!(draft.message_id, out.message_id);
        (out, draft)
    }

    /// `compose_due(now)` off the runtime, as the daemon runs it: the digests composed.
    async fn compose_due(&self, now: DateTime<Utc>) -> usize {
        let p = self.postman.clone();
        tokio::task::spawn_blocking(move || p.compose_due(now))
            .await
            .unwrap()
            .unwrap()
    }

    async fn start(opts: Options) -> Digests {
        let feed = Server::start().await;
        feed.set("/bao.rss", Route::feed(rss(&opts.items.concat())));
        let smtp = SmtpServer::start(opts.smtp.clone()).await;
        let env = Env::new("");
        let mut smtp_extra = opts.smtp_extra.clone();
        if let Some(password) = opts.password {
            let file = env.dir.path().join("smtp-password");
            std::fs::write(&file, format!("{password}\n")).unwrap();
            smtp_extra.push_str(&format!("password_file = {file:?}\n"));
        }
        let mail = format!(
            "[mail]\nfrom = \"Bản tin <tin@bantin.example.vn>\"\nreply_to = \"{REPLY_TO}\"\n{}\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntimeout = \"5s\"\n{smtp_extra}\n",
            opts.mail_extra,
            smtp.port()
        );
        let mut sources = source("bao", &feed.url("/bao.rss"), "");
        for (id, name, items) in &opts.outlets {
            let path = format!("/{id}.rss");
            feed.set(&path, Route::feed(rss(&items.concat())));
            sources.push_str(&format!(
                "[[sources]]\nid = {id:?}\nname = {name:?}\nurl = {:?}\n\n",
                feed.url(&path)
            ));
        }
        append(&env.config_path, &format!("{mail}\n{sources}"));
        std::fs::write(env.dir.path().join("topics.toml"), opts.topics).unwrap();
        std::fs::write(env.dir.path().join("subscribers.toml"), &opts.subscribers).unwrap();

        let mut config = env.config();
        let listener = if opts.http {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            config.http.bound(l.local_addr().unwrap());
            Some(l)
        } else {
            None
        };
        let ing = Ingestor::open(config).await.unwrap();
        // Before polling: the subscribers' first window starts here.
        let postman = Postman::new(ing.config.clone(), ing.store.clone()).unwrap();
        poll_ok(&ing).await;
        Digests {
            feed,
            smtp,
            env,
            ing,
            postman,
            listener,
            t0: Utc::now(),
        }
    }

    async fn round(&self, now: DateTime<Utc>) -> Round {
        self.postman.round(now).await.unwrap()
    }

    fn store(&self) -> &Store {
        &self.ing.store
    }

    /// The outbox, newest first.
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.store().outbox(100).unwrap()
    }

    fn state(&self, email: &str) -> SubscriberState {
        self.store().subscriber_state(email).unwrap().unwrap()
    }

    /// Messages received for `email` (by envelope), oldest first.
    fn received_by(&self, email: &str) -> Vec<Received> {
        self.smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == email))
            .collect()
    }

    /// `public_url` + `unsubscribe?token=…` for `email` (and `topic`), signed with the secret
    /// the Postman uses.
    fn unsubscribe_url(&self, email: &str, topic: Option<&str>) -> String {
        format!(
            "{}unsubscribe?token={}",
            self.ing.config.http.public_url,
            token(self.postman.secret(), email, topic)
        )
    }
}

fn token(secret: &Secret, email: &str, topic: Option<&str>) -> String {
    unsubscribe::token(
        secret,
        &Request {
            email: email.to_string(),
            topic: topic.map(str::to_string),
        },
    )
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

/// Polls the fixture source and insists it was stored.
/// Polls every source and insists each was stored.
async fn poll_ok(ing: &Ingestor) {
    for r in poll(ing, &[]).await {
        assert!(
            matches!(r.outcome, Outcome::Stored { .. }),
            "{}: {:?}",
            r.source,
            r.outcome
        );
    }
}

/// The first header field called `name`, as written (unfolded): mail-parser reads
/// List-Unsubscribe as an address list and drops its brackets.
fn raw_header(data: &[u8], name: &str) -> Option<String> {
    raw_headers(data)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every header field of the top level, as written, unfolded.
fn raw_headers(data: &[u8]) -> Vec<(String, String)> {
    let raw = String::from_utf8_lossy(data);
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ");
    head.split("\r\n")
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Asserts that `part` (a body, as decoded) shows every title of `shown` and none of `hidden`.
#[track_caller]
fn shows(what: &str, part: &str, shown: &[News], hidden: &[News]) {
    for n in shown {
        assert!(
            part.contains(n.shown),
            "{what} lacks {:?} ({}):\n{part}",
            n.shown,
            n.slug
        );
    }
    for n in hidden {
        assert!(
            !part.contains(n.shown),
            "{what} shows {:?} ({}):\n{part}",
            n.shown,
            n.slug
        );
    }
}

/// Asserts the message is one multipart/alternative with a text and an HTML part, each showing
/// `shown` and not `hidden`; returns the text part.
#[track_caller]
fn both_parts_show(m: &Parsed, shown: &[News], hidden: &[News]) -> String {
    let ct = m.message.content_type().expect("a Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "{ct:?}"
    );
    let text = m.text.clone().expect("a text/plain part");
    let html = m.html.clone().expect("a text/html part");
    shows("the text part", &text, shown, hidden);
    shows("the HTML part", &html, shown, hidden);
    text
}

// ---------------------------------------------------------------------------------------------
// Scheduled delivery

#[tokio::test]
async fn a_scheduled_digest_brings_the_subscribers_topics_and_nothing_else() {
    let d = Digests::start(Options {
        subscribers: [
            subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            // Follows a topic nothing matched: no mail at all.
            subscriber(KHANG, "Lê Khang", &["xay-dung-dang"]),
        ]
        .concat(),
        ..Options::default()
    })
    .await;
    let added = d.state(HOA).added_at;
    let t1 = d.t0 + days(1);
    let end = seven_am_until(t1);

    let r = d.round(t1).await;
    assert_eq!(
        r,
        Round {
            composed: 1,
            sent: 1,
            retrying: 0,
            failed: 0,
            panicked: 0
        }
    );
    let got = d.smtp.messages();
    assert_eq!(got.len(), 1, "one digest, for Hoa only");
    let r = &got[0];
    assert_eq!(r.to, [HOA], "one recipient");
    assert_eq!(r.from, "tin@bantin.example.vn");
    let m = r.parse();
    assert_eq!(m.to, [HOA]);
    assert_eq!(
        m.subject.as_deref(),
        Some(format!("Bản tin Dân vận – {}", date_vn(end)).as_str())
    );
    both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);

    // RFC 2369 / RFC 8058: a one-click URL and a mailto.
    let list = raw_header(&r.data, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        list.contains(&format!("<{}>", d.unsubscribe_url(HOA, None))),
        "{list}"
    );
    assert!(
        list.contains(&format!("<mailto:{REPLY_TO}?subject=unsubscribe")),
        "{list}"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );

    // The outbox records what went out, with the server's reply.
    let outbox = d.outbox();
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    let e = &outbox[0];
    assert_eq!(
        (e.email.as_str(), e.status.as_str(), e.attempts, e.articles),
        (HOA, "sent", 1, DAN_VAN_NEWS.len() as u32)
    );
    assert_eq!((e.window_start, e.window_end), (added, end));
    assert_eq!(e.reply.as_deref(), Some("250 2.0.0 OK queued"));
    assert_eq!(e.last_error, None);
    assert_eq!(m.message.message_id(), Some(e.message_id.as_str()));

    // …and so does `bantin digests --json`.
    let list = bantin_json(&d.env.config_path, &["digests", "--json"]).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["email"], HOA);
    assert_eq!(list[0]["status"], "sent");
    assert_eq!(list[0]["message_id"], e.message_id.as_str());
    assert_eq!(list[0]["reply"], "250 2.0.0 OK queued");
    assert_eq!(list[0]["articles"], DAN_VAN_NEWS.len());
}

/// With `[mail] images = true`, the HTML part shows each listed article's image before its
/// title, at a fixed size with the title as its alt text (a client that blocks images keeps the
/// layout); the text part shows no image. Without the key, the HTML loads nothing.
#[tokio::test]
async fn with_images_on_each_article_of_the_html_digest_shows_its_image() {
    let image = |n: &News| format!("https://cdn.bao.example.vn/{}.jpg", n.slug);
    let items: Vec<String> = FEED
        .iter()
        .enumerate()
        .map(|(i, n)| {
            news_item(n, 10 + 10 * i as i64).replace(
                "</item>",
                &format!(
                    "<enclosure url=\"{}\" type=\"image/jpeg\" length=\"0\"/></item>",
                    image(n)
                ),
            )
        })
        .collect();
    let on = Digests::start(Options {
        items: items.clone(),
        mail_extra: "images = true\n",
        ..Options::default()
    })
    .await;
    let off = Digests::start(Options {
        items,
        ..Options::default()
    })
    .await;
    let mut parts = Vec::new();
    for d in [&on, &off] {
        assert_eq!(d.round(d.t0 + days(1)).await.sent, 1);
        let m = d.smtp.messages()[0].parse();
        let text = both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
        parts.push((text, m.html.unwrap()));
    }
    let (text, html) = &parts[0];
    for n in DAN_VAN_NEWS {
        let title = html_escape::encode_double_quoted_attribute(n.shown);
        let tag = format!(
            r#"<img src="{}" alt="{title}" width="120" height="80""#,
            image(n)
        );
        let at = html
            .find(&tag)
            .unwrap_or_else(|| panic!("no {tag} in\n{html}"));
        let title_at = html
            .get(at..)
            .and_then(|after| after.find(&format!(">{}<", html_escape::encode_text(n.shown))));
        assert!(title_at.is_some(), "{} comes after its image", n.slug);
    }
    for n in NOT_DAN_VAN {
        assert!(!html.contains(&image(n)));
    }
    assert!(!text.contains("cdn.bao.example.vn"), "{text}");
    let (_, plain_html) = &parts[1];
    assert!(!plain_html.contains("<img"), "{plain_html}");
}

#[tokio::test]
async fn a_story_two_outlets_carry_is_listed_once_with_both_sources() {
    const STORY: &str = "Thủ tướng dự hội nghị tổng kết công tác dân vận toàn quốc";
    let copy = |outlet: &str, minutes: i64| {
        let link = format!("https://{outlet}/thu-tuong-du-hoi-nghi.html");
        item(STORY, &link, Some(&link), &pub_date(minutes))
    };
    let d = Digests::start(Options {
        items: [items(FEED), vec![copy("bao.example.vn", 30)]].concat(),
        outlets: vec![("vtv", "Truyền hình Việt Nam", vec![copy("vtv.vn", 90)])],
        ..Options::default()
    })
    .await;
    assert_eq!(d.round(d.t0 + days(1)).await.sent, 1);
    let m = d.smtp.messages()[0].parse();
    let text = both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
    let entries: Vec<&str> = text
        .lines()
        .filter(|l| *l == format!("* {STORY}"))
        .collect();
    assert_eq!(entries.len(), 1, "{text}");
    let html = m.html.clone().unwrap();
    assert_eq!(html.matches(&format!(">{STORY}</a>")).count(), 1, "{html}");
    // The line under the title names both outlets.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == format!("* {STORY}"))
        .unwrap();
    let sources = lines[at + 1];
    assert!(
        sources.contains("bao") && sources.contains("Truyền hình Việt Nam"),
        "{sources:?}"
    );
    assert_eq!(d.outbox()[0].articles, DAN_VAN_NEWS.len() as u32 + 1);
}

#[tokio::test]
async fn a_sent_digest_is_not_sent_again_on_later_ticks() {
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    assert_eq!(d.round(t1).await.sent, 1);

    // The next daemon tick (the daemon looks every 20 s), a minute later, and the next day's
    // 07:00 with nothing new: no mail, no outbox entry.
    for now in [
        t1,
        t1 + chrono::Duration::seconds(20),
        t1 + chrono::Duration::minutes(1),
        d.t0 + days(2),
    ] {
        assert_eq!(d.round(now).await, Round::default(), "at {now}");
    }
    assert_eq!(d.smtp.messages().len(), 1);
    assert_eq!(d.outbox().len(), 1);
    // The empty window was closed all the same.
    assert_eq!(d.state(HOA).window_end, seven_am_until(d.t0 + days(2)));
}

/// How the relay fails while it is out.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// Nothing listens on the port.
    Stopped,
    /// 451 to every message.
    TempFail,
    /// The port accepts and hangs up at once.
    Down,
}

#[tokio::test]
async fn a_relay_outage_delays_the_digest_which_then_arrives_once() {
    for outage in [Outage::Stopped, Outage::TempFail, Outage::Down] {
        let d = Digests::start(Options::default()).await;
        match outage {
            Outage::Stopped => d.smtp.stop().await,
            Outage::TempFail => d.smtp.set_mode(Mode::TempFail),
            Outage::Down => d.smtp.set_mode(Mode::Down),
        }
        let t1 = d.t0 + days(1);
        let r = d.round(t1).await;
        assert_eq!(
            r,
            Round {
                composed: 1,
                sent: 0,
                retrying: 1,
                failed: 0,
                panicked: 0
            },
            "{outage:?}"
        );
        let e = &d.outbox()[0];
        assert_eq!(
            (e.status.as_str(), e.attempts),
            ("pending", 1),
            "{outage:?}"
        );
        assert!(
            e.last_error.as_ref().is_some_and(|s| !s.is_empty()),
            "{outage:?}: {e:?}"
        );
        let next = e.next_attempt.expect("a next attempt");
        assert_eq!(
            next.timestamp(),
            (t1 + chrono::Duration::minutes(1)).timestamp(),
            "{outage:?}: the first retry is a minute later"
        );
        assert!(d.smtp.messages().is_empty(), "{outage:?}");

        // Before the next attempt is due: no attempt at all.
        let connections = d.smtp.connections();
        let r = d.round(t1 + chrono::Duration::seconds(30)).await;
        assert_eq!(r, Round::default(), "{outage:?}");
        assert_eq!(d.smtp.connections(), connections, "{outage:?}");
        assert_eq!(d.outbox()[0].attempts, 1, "{outage:?}");

        // The relay is back: delivered once, when due.
        match outage {
            Outage::Stopped => d.smtp.restart().await,
            Outage::TempFail | Outage::Down => d.smtp.set_mode(Mode::Accept),
        }
        let r = d.round(next).await;
        assert_eq!((r.composed, r.sent, r.retrying), (0, 1, 0), "{outage:?}");
        let got = d.smtp.messages();
        assert_eq!(got.len(), 1, "{outage:?}");
        let m = got[0].parse();
        both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
        let e = &d.outbox()[0];
        assert_eq!(
            (e.status.as_str(), e.attempts, e.last_error.as_deref()),
            ("sent", 2, None),
            "{outage:?}"
        );
        assert_eq!(m.message.message_id(), Some(e.message_id.as_str()));

        // Nothing more, ever.
        for now in [next, next + chrono::Duration::hours(1), d.t0 + days(2)] {
            assert_eq!(d.round(now).await.sent, 0, "{outage:?} at {now}");
        }
        assert_eq!(d.smtp.messages().len(), 1, "{outage:?}");
    }
}

#[tokio::test]
async fn a_refused_digest_is_marked_failed_and_never_retried() {
    let d = Digests::start(Options {
        smtp: SmtpOptions::plain().with_mode(Mode::PermFail),
        ..Options::default()
    })
    .await;
    let t1 = d.t0 + days(1);
    let r = d.round(t1).await;
    assert_eq!(
        r,
        Round {
            composed: 1,
            sent: 0,
            retrying: 0,
            failed: 1,
            panicked: 0
        }
    );
    let e = &d.outbox()[0];
    assert_eq!((e.status.as_str(), e.attempts), ("failed", 1));
    assert!(
        e.last_error.as_deref().is_some_and(|s| s.contains("550")),
        "{e:?}"
    );
    assert_eq!(e.next_attempt, None);

    // Even once the relay would take it: a 5xx is final.
    d.smtp.set_mode(Mode::Accept);
    let connections = d.smtp.connections();
    for now in [t1 + chrono::Duration::hours(2), d.t0 + days(2)] {
        assert_eq!(d.round(now).await, Round::default(), "at {now}");
    }
    assert_eq!(d.smtp.connections(), connections);
    assert!(d.smtp.messages().is_empty());
    assert_eq!(d.outbox()[0].status, "failed");
}

#[tokio::test]
async fn two_senders_at_once_deliver_a_digest_once() {
    // The daemon's round and an admin's `bantin digest send` on the same database: two
    // processes, each with its own database handle, sending what is due at the same moment.
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    assert_eq!(d.compose_due(t1).await, 1);
    let config = Arc::new(d.env.config());
    let other = Postman::new(config.clone(), Store::open(&config.storage.path).unwrap()).unwrap();
    let (a, b) = tokio::join!(d.postman.send_due(t1), other.send_due(t1));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 1, "{a:?} {b:?}");
    assert_eq!(d.smtp.messages().len(), 1);
}

/// An unsubscribe stops mail at once (RFC 8058 §4: no more messages after the POST), including a
/// digest composed before it and still waiting for the relay. What the outbox then says of it is
/// the sender's business; the subscriber must not receive it.
#[tokio::test]
async fn a_digest_waiting_for_the_relay_is_not_sent_after_an_unsubscribe() {
    let mut d = Digests::start(Options {
        http: true,
        ..Options::default()
    })
    .await;
    let daemon = Daemon::start(&mut d);
    d.smtp.set_mode(Mode::TempFail);
    let t1 = d.t0 + days(1);
    assert_eq!(d.round(t1).await.retrying, 1);
    // The subscriber reads an earlier digest and clicks one-click unsubscribe meanwhile.
    let (status, page) = one_click(&d.unsubscribe_url(HOA, None)).await;
    assert_eq!(status, 200, "{page}");
    d.smtp.set_mode(Mode::Accept);
    d.round(t1 + chrono::Duration::hours(1)).await;
    daemon.stop().await;
    assert!(
        d.smtp.messages().is_empty(),
        "a digest went out after the unsubscribe: {:#?}",
        d.outbox()
    );
}

#[tokio::test]
async fn a_digest_composed_before_a_restart_goes_out_after_it_with_the_same_message_id() {
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    assert_eq!(d.compose_due(t1).await, 1);
    let draft = d.outbox()[0].clone();
    assert_eq!((draft.status.as_str(), draft.attempts), ("pending", 0));
    assert!(d.smtp.messages().is_empty());

    // The process dies here: the Postman and its database handle go away unsent.
    let Digests {
        smtp, env, postman, ..
    } = d;
    drop(postman);

    // A new process on the same database.
    let config = Arc::new(env.config());
    let store = Store::open(&config.storage.path).unwrap();
    let postman = Postman::new(config, store.clone()).unwrap();
    let r = postman.round(t1).await.unwrap();
    assert_eq!((r.composed, r.sent), (0, 1), "sent, not composed again");
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    let m = got[0].parse();
    assert_eq!(m.message.message_id(), Some(draft.message_id.as_str()));
    both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
    let after = store.outbox(10).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].id, after[0].status.as_str()), (draft.id, "sent"));

    assert_eq!(postman.round(t1 + days(1)).await.unwrap(), Round::default());
    assert_eq!(smtp.messages().len(), 1);
}

/// The MIME boundary of a received message.
fn boundary_of(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let (_, after) = text.split_once("boundary=\"").expect("a multipart message");
    after.split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_window_shares_one_stored_part_and_each_digest_goes_out_as_built_in_full_at_every_attempt(
) {
    let d = Digests::start(Options {
        subscribers: [
            subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            subscriber(AN, "Trần Văn An", &["dan-van"]),
        ]
        .concat(),
        ..Options::default()
    })
    .await;
    let t1 = d.t0 + days(1);
    let end = seven_am_until(t1);
    // Each subscriber's message built from the whole digest.
    let mut whole = Vec::new();
    for email in [HOA, AN] {
        let p = d.postman.clone();
        let (out, _) = tokio::task::spawn_blocking(move || p.preview(email, end))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        whole.push(out);
    }
    assert_eq!(d.compose_due(t1).await, 2);

    // One shared part for the window; each message keeps only its own, a fraction of it.
    let db = rusqlite::Connection::open(d.env.db_path()).unwrap();
    db.pragma_update(None, "foreign_keys", "ON").unwrap();
    let one = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(one("SELECT count(*) FROM outbox_shared"), 1);
    assert_eq!(
        one("SELECT count(DISTINCT shared) FROM outbox_messages WHERE shared IS NOT NULL"),
        1
    );
    let (own, shared) = (
        one("SELECT max(length(message)) FROM outbox_messages"),
        one("SELECT length(part) FROM outbox_shared"),
    );
    assert!(own * 2 < shared, "own {own} bytes, shared {shared}");

    // Sent by a new process, then again (a resend after a lost reply), by another.
    let Digests {
        smtp, env, postman, ..
    } = d;
    drop(postman);
    let mut received = Vec::new();
    for attempt in 0..2 {
        let config = Arc::new(env.config());
        let store = Store::open(&config.storage.path).unwrap();
        let postman = Postman::new(config, store).unwrap();
        assert_eq!(
            postman.round(t1).await.unwrap().sent,
            2,
            "attempt {attempt}"
        );
        db.execute("UPDATE outbox SET status = 'pending', next_attempt = 0", [])
            .unwrap();
        received.push(smtp.messages());
    }
    let (first, again) = (&received[0], &received[1][2..]);
    assert_eq!(first.len(), 2);
    for (out, email) in whole.iter().zip([HOA, AN]) {
        let got: Vec<_> = first
            .iter()
            .chain(again)
            .filter(|m| m.to == [email])
            .collect();
        assert_eq!(got.len(), 2, "{email}");
        assert_eq!(
            got[0].data, got[1].data,
            "{email}: the same bytes at every attempt"
        );
        let built = bantin::mail::Built::with_boundary(out, &boundary_of(&got[0].data)).unwrap();
        // The relay receives the message as built, ended by the CRLF before the final dot.
        assert_eq!(
            String::from_utf8_lossy(&got[0].data),
            String::from_utf8_lossy(&[&built.bytes[..], b"\r\n"].concat()),
            "{email}: the message built in full"
        );
    }
    // The shared part goes with the last message referring to it.
    db.execute("DELETE FROM outbox WHERE email = ?1", [HOA])
        .unwrap();
    assert_eq!(one("SELECT count(*) FROM outbox_shared"), 1);
    db.execute("DELETE FROM outbox", []).unwrap();
    assert_eq!(one("SELECT count(*) FROM outbox_shared"), 0);
}

#[tokio::test]
async fn a_digest_queued_in_the_older_format_still_goes_out() {
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    let (out, draft) = d.queued_with_its_parts(t1).await;

    // Queued by a bantin that kept a message as the JSON of its parts (format 1).
    let old = serde_json::json!({
        "from": out.from,
        "reply_to": out.reply_to,
        "to": out.to,
        "subject": out.subject,
        "text": out.text,
        "html": out.html,
        "message_id": out.message_id,
        "date": out.date,
        "unsubscribe_url": out.unsubscribe_url,
        "unsubscribe_mailto": out.unsubscribe_mailto,
    });
    let db = rusqlite::Connection::open(d.env.db_path()).unwrap();
    let changed = db
        .execute(
            "UPDATE outbox_messages SET message = ?1 WHERE id = ?2",
            rusqlite::params![serde_json::to_vec(&old).unwrap(), draft.id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);

    assert_eq!(d.round(t1).await.sent, 1);
    let got = d.received_by(HOA);
    assert_eq!(got.len(), 1);
    let m = got[0].parse();
    assert_eq!(m.message.message_id(), Some(draft.message_id.as_str()));
    both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
    assert_eq!(d.outbox()[0].status, "sent");
}

#[tokio::test]
async fn a_digest_queued_as_built_bytes_still_goes_out_as_they_are() {
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    let (out, draft) = d.queued_with_its_parts(t1).await;

    // Queued by a bantin that kept the message as built (format 2): the envelope, the bytes.
    let built = bantin::mail::Built::of(&out).unwrap();
    let mut old = b"bantin-message/2\n".to_vec();
    old.extend_from_slice(
        serde_json::json!({"from": built.envelope_from, "to": built.envelope_to})
            .to_string()
            .as_bytes(),
    );
    old.push(b'\n');
    old.extend_from_slice(&built.bytes);
    let db = rusqlite::Connection::open(d.env.db_path()).unwrap();
    let changed = db
        .execute(
            "UPDATE outbox_messages SET message = ?1, shared = NULL WHERE id = ?2",
            rusqlite::params![old, draft.id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);

    assert_eq!(d.round(t1).await.sent, 1);
    let got = d.received_by(HOA);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, [&built.bytes[..], b"\r\n"].concat());
    both_parts_show(&got[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
    assert_eq!(d.outbox()[0].status, "sent");
}

/// A relay that accepts connections and never says a word: a delivery to it hangs.
async fn silent_relay() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    port
}

#[tokio::test]
async fn a_sender_that_dies_mid_delivery_leaves_the_digest_to_the_next_one_once() {
    let d = Digests::start(Options::default()).await;
    let t1 = d.t0 + days(1);
    let hanging = d.postman.clone().with_mailer(
        Mailer::new(&Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port: silent_relay().await,
            security: Security::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(60),
            extra_root_der: None,
        }))
        .unwrap(),
    );
    let sender = tokio::spawn(async move { hanging.round(t1).await });
    wait_until("the digest is being sent", WITHIN, || {
        let claimed = d
            .outbox()
            .first()
            .and_then(|e| e.next_attempt)
            .is_some_and(|n| n.timestamp() > t1.timestamp());
        async move { claimed }
    })
    .await;
    // The process dies in the middle of the SMTP conversation.
    sender.abort();
    assert!(sender.await.unwrap_err().is_cancelled());
    let draft = d.outbox()[0].clone();
    assert_eq!((draft.status.as_str(), draft.attempts), ("pending", 0));

    // The next process leaves it alone while the dead sender could still be at it, then, as
    // the dead sender renews nothing, sends it within a minute, with the same Message-ID, once.
    let config = Arc::new(d.env.config());
    let postman = Postman::new(config.clone(), Store::open(&config.storage.path).unwrap()).unwrap();
    for now in [t1, t1 + chrono::Duration::seconds(20)] {
        assert_eq!(
            postman.round(now).await.unwrap(),
            Round::default(),
            "at {now}"
        );
    }
    assert!(d.smtp.messages().is_empty());
    let r = postman
        .round(t1 + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(r.sent, 1);
    let got = d.smtp.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].parse().message.message_id(),
        Some(draft.message_id.as_str())
    );
    assert_eq!(
        postman
            .round(t1 + chrono::Duration::hours(2))
            .await
            .unwrap()
            .sent,
        0
    );
    assert_eq!(d.smtp.messages().len(), 1);
}

#[tokio::test]
async fn after_days_of_downtime_one_digest_covers_the_whole_gap() {
    let d = Digests::start(Options::default()).await;
    let added = d.state(HOA).added_at;
    // No round for three days (three 07:00 ticks missed), then one.
    let now = d.t0 + days(3);
    let r = d.round(now).await;
    assert_eq!((r.composed, r.sent), (1, 1));
    let got = d.smtp.messages();
    assert_eq!(got.len(), 1, "one digest for the whole gap");
    let end = seven_am_until(now);
    let m = got[0].parse();
    assert_eq!(
        m.subject.as_deref(),
        Some(format!("Bản tin Dân vận – {}", date_vn(end)).as_str())
    );
    both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
    let e = &d.outbox()[0];
    assert_eq!((e.window_start, e.window_end), (added, end));
    assert_eq!(e.articles, DAN_VAN_NEWS.len() as u32);
    assert_eq!(d.state(HOA).window_end, end);

    assert_eq!(d.round(now).await, Round::default());
    assert_eq!(d.round(d.t0 + days(4)).await, Round::default());
    assert_eq!(d.smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_new_subscriber_starts_with_what_arrives_after_they_were_added() {
    let d = Digests::start(Options::default()).await;
    // An (a new line in subscribers.toml) is first seen strictly after the first poll.
    let newest = articles(&d.ing).iter().map(|a| a.first_seen).max().unwrap();
    past_the_second_of(newest).await;
    std::fs::write(
        d.env.dir.path().join("subscribers.toml"),
        [
            subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            subscriber(AN, "Trần Văn An", &["dan-van"]),
        ]
        .concat(),
    )
    .unwrap();
    let postman = Postman::new(Arc::new(d.env.config()), d.store().clone()).unwrap();
    assert!(d.state(AN).added_at > newest);
    // Then more news.
    d.feed
        .set("/bao.rss", Route::feed(feed(&[LATER, FEED].concat())));
    poll_ok(&d.ing).await;

    let r = postman.round(d.t0 + days(1)).await.unwrap();
    assert_eq!((r.composed, r.sent), (2, 2));
    let hoa = d.received_by(HOA);
    let an = d.received_by(AN);
    assert_eq!((hoa.len(), an.len()), (1, 1));
    let later_dan_van = &LATER[..1];
    both_parts_show(
        &hoa[0].parse(),
        &[DAN_VAN_NEWS, later_dan_van].concat(),
        NOT_DAN_VAN,
    );
    both_parts_show(
        &an[0].parse(),
        later_dan_van,
        &[DAN_VAN_NEWS, NOT_DAN_VAN].concat(),
    );
}

#[tokio::test]
async fn the_running_daemon_delivers_what_is_due() {
    let mut d = Digests::start(Options {
        http: true,
        ..Options::default()
    })
    .await;
    // A window closed at the real clock (as `digest send --now` does), so the digest is due now:
    // after the last article, since windows end exclusive.
    let newest = articles(&d.ing).iter().map(|a| a.first_seen).max().unwrap();
    past_the_second_of(newest).await;
    let p = d.postman.clone();
    let composed = tokio::task::spawn_blocking(move || p.compose_now(HOA, Utc::now()))
        .await
        .unwrap()
        .unwrap();
    assert!(composed);
    assert!(d.smtp.messages().is_empty());

    let daemon = Daemon::start(&mut d);
    let got = d.smtp.wait_for(1, WITHIN).await;
    assert_eq!(got[0].to, [HOA]);
    let m = got[0].parse();
    both_parts_show(&m, DAN_VAN_NEWS, NOT_DAN_VAN);
    // Composed with the config bound to the daemon's listener: its links lead there.
    let list = raw_header(&got[0].data, "List-Unsubscribe").unwrap();
    assert!(
        list.contains(&format!("<{}>", d.unsubscribe_url(HOA, None))),
        "{list}"
    );
    wait_until("the outbox says sent", WITHIN, || {
        let status = d.outbox()[0].status.clone();
        async move { status == "sent" }
    })
    .await;
    daemon.stop().await;
    assert_eq!(d.smtp.messages().len(), 1);
}

#[tokio::test]
async fn digest_send_now_closes_the_window_and_sends_at_once() {
    let d = Digests::start(Options::default()).await;
    let newest = articles(&d.ing).iter().map(|a| a.first_seen).max().unwrap();
    past_the_second_of(newest).await;
    let out = run_bantin(Some(&d.env.config_path), &["digest", "send", "--now", HOA]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 sent"), "{stdout}");
    let got = d.smtp.messages();
    assert_eq!(got.len(), 1);
    both_parts_show(&got[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
    let e = &d.outbox()[0];
    assert_eq!(e.status, "sent");
    assert_eq!(d.state(HOA).window_end, e.window_end);

    // Nothing new: nothing sent, and the scheduled tick has nothing left either.
    let out = run_bantin(Some(&d.env.config_path), &["digest", "send", "--now", HOA]).await;
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing new to send"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(d.round(d.t0 + days(1)).await.sent, 0);
    assert_eq!(d.smtp.messages().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Unsubscribing

/// The daemon's `run` in a task, serving on the setup's listener.
struct Daemon {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    fn start(d: &mut Digests) -> Daemon {
        let listener = d.listener.take().expect("a setup with http");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(d.ing.clone(), Some(listener), async move {
            let _ = stopped.await;
        }));
        Daemon { stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
            .expect("run returned an error");
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(WITHIN).build().unwrap()
}

/// GET `url`: status and body.
async fn get(url: &str) -> (u16, String) {
    let resp = client().get(url).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// POST `url` as an RFC 8058 one-click unsubscribe: status and body.
async fn one_click(url: &str) -> (u16, String) {
    let resp = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Every subscriber's (unsubscribed_all, unsubscribed_topics).
fn unsubscribed(d: &Digests) -> Vec<(bool, Vec<String>)> {
    [HOA, AN, BINH]
        .iter()
        .map(|e| {
            let s = d.state(e);
            (s.unsubscribed_all, s.unsubscribed_topics)
        })
        .collect()
}

#[tokio::test]
async fn unsubscribe_links_work_over_http_and_enable_undoes_them() {
    let both = ["dan-van", "cai-cach-hanh-chinh"];
    let mut d = Digests::start(Options {
        subscribers: [
            // Leaves everything by one-click.
            subscriber(HOA, "Nguyễn Thị Hoa", &both),
            // Leaves one topic.
            subscriber(AN, "Trần Văn An", &both),
            // Leaves everything, and the admin enables them again.
            subscriber(BINH, "Phạm Bình", &both),
        ]
        .concat(),
        http: true,
        ..Options::default()
    })
    .await;
    let t1 = d.t0 + days(1);
    let date = date_vn(seven_am_until(t1));
    let daemon = Daemon::start(&mut d);

    // The links the digests will carry are the ones tested here.
    let hoa_all = d.unsubscribe_url(HOA, None);
    let an_cchc = d.unsubscribe_url(AN, Some("cai-cach-hanh-chinh"));
    let binh_all = d.unsubscribe_url(BINH, None);
    let (hoa_preview, _) = d
        .postman
        .preview(HOA, t1)
        .unwrap()
        .expect("a digest for Hoa");
    assert_eq!(
        hoa_preview.unsubscribe_url.as_deref(),
        Some(hoa_all.as_str())
    );
    let (an_preview, _) = d.postman.preview(AN, t1).unwrap().expect("a digest for An");
    assert!(an_preview.text.contains(&an_cchc), "{}", an_preview.text);

    let nobody = vec![(false, Vec::new()); 3];
    assert_eq!(unsubscribed(&d), nobody);

    // GET (a mail scanner following the link) asks, and changes nothing.
    let (status, page) = get(&hoa_all).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(page.contains(HOA), "{page}");
    let (status, page) = get(&an_cchc).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Cải cách hành chính"), "{page}");
    assert_eq!(unsubscribed(&d), nobody);

    // Links not signed with the daemon's secret, or altered, do nothing.
    let base = format!("{}unsubscribe", d.ing.config.http.public_url);
    let forger = Secret::from_text("một bí mật khác, đủ dài để ký").unwrap();
    let real = token(d.postman.secret(), HOA, None);
    let mut altered: Vec<char> = real.chars().collect();
    altered[10] = if altered[10] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    let bad = [
        (
            "forged",
            format!("{base}?token={}", token(&forger, HOA, None)),
        ),
        ("altered", format!("{base}?token={altered}")),
        (
            "truncated",
            format!("{base}?token={}", real.get(..real.len() - 1).unwrap()),
        ),
        ("missing", base.clone()),
    ];
    for (what, url) in &bad {
        let (status, page) = get(url).await;
        assert_eq!(status, 400, "GET {what}: {page}");
        let (status, page) = one_click(url).await;
        assert_eq!(status, 400, "POST {what}: {page}");
    }
    assert_eq!(unsubscribed(&d), nobody);

    // One-click POSTs, as mail clients send them.
    let (status, page) = one_click(&hoa_all).await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = one_click(&an_cchc).await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = one_click(&binh_all).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        unsubscribed(&d),
        [
            (true, vec![]),
            (false, vec!["cai-cach-hanh-chinh".to_string()]),
            (true, vec![]),
        ]
    );

    // The admin enables Bình again.
    let out = run_bantin(Some(&d.env.config_path), &["subscribers", "enable", BINH]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.state(BINH).unsubscribed_all);

    let r = d.round(t1).await;
    assert_eq!((r.composed, r.sent, r.failed), (2, 2, 0));
    assert!(d.received_by(HOA).is_empty(), "Hoa unsubscribed");
    let an = d.received_by(AN);
    assert_eq!(an.len(), 1);
    let m = an[0].parse();
    assert_eq!(
        m.subject.as_deref(),
        Some(format!("Bản tin Dân vận – {date}").as_str())
    );
    let text = both_parts_show(&m, DAN_VAN_NEWS, &[CCHC_ONLY, NO_TOPIC]);
    assert!(!text.contains("== Cải cách hành chính"), "{text}");
    let binh = d.received_by(BINH);
    assert_eq!(binh.len(), 1);
    let m = binh[0].parse();
    assert_eq!(
        m.subject.as_deref(),
        Some(format!("Bản tin Dân vận, Cải cách hành chính – {date}").as_str())
    );
    both_parts_show(&m, &[DAN_VAN_NEWS, &[CCHC_ONLY]].concat(), &[NO_TOPIC]);
    assert_eq!(d.smtp.messages().len(), 2);

    daemon.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Transport and message safety

#[tokio::test]
async fn a_digest_goes_through_starttls_and_auth() {
    let d = Digests::start(Options {
        smtp: SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("bantin", "mật-khẩu"),
        smtp_extra: "security = \"starttls\"\nusername = \"bantin\"\n".into(),
        password: Some("mật-khẩu"),
        ..Options::default()
    })
    .await;
    // The config's relay with the test server's certificate trusted.
    let mailer = Mailer::new(&Transport::Smtp(SmtpSettings {
        host: "127.0.0.1".into(),
        port: d.smtp.port(),
        security: Security::StartTls,
        username: Some("bantin".into()),
        password: Some("mật-khẩu".into()),
        timeout: Duration::from_secs(5),
        extra_root_der: Some(d.smtp.cert_der().to_vec()),
    }))
    .unwrap();
    let postman = d.postman.clone().with_mailer(mailer);
    let r = postman.round(d.t0 + days(1)).await.unwrap();
    assert_eq!(
        (r.sent, r.retrying, r.failed),
        (1, 0, 0),
        "{:#?}",
        d.outbox()
    );
    let got = d.smtp.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "sent under TLS");
    assert_eq!(got[0].auth_user.as_deref(), Some("bantin"));
    both_parts_show(&got[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
}

#[tokio::test]
async fn nothing_a_feed_or_a_config_says_adds_a_header_or_a_recipient() {
    const EVIL: &str = "Bcc: evil@example.com";
    let injected_title = format!(
        "<item><title>Tin dân vận&#13;&#10;{EVIL}</title><link>https://bao.example.vn/crlf.html</link><guid>crlf</guid><pubDate>{}</pubDate><description>Bài về công tác dân vận.</description></item>\n",
        pub_date(5)
    );
    let lf_title = format!(
        "<item><title>Tin dân vận số hai&#10;{EVIL}</title><link>https://bao.example.vn/lf.html</link><guid>lf</guid><pubDate>{}</pubDate><description>Bài về công tác dân vận.</description></item>\n",
        pub_date(6)
    );
    // What the case injects, and where a reader sees it instead: on one line, in its place.
    let cases: Vec<(&str, Options, Shown)> = vec![
        (
            "CR LF and LF in titles",
            Options {
                items: [items(FEED), vec![injected_title, lf_title]].concat(),
                ..Options::default()
            },
            Shown::Text(&["Tin dân vận Bcc: evil@example.com", "Tin dân vận số hai Bcc: evil@example.com"]),
        ),
        (
            "CR LF in the subscriber's name",
            Options {
                subscribers: format!(
                    "[[subscribers]]\nemail = \"{HOA}\"\nname = \"Hoa\\r\\n{EVIL}\"\ntopics = [\"dan-van\"]\n"
                ),
                ..Options::default()
            },
            Shown::ToName(EVIL),
        ),
        (
            "CR LF in the topic's name (the subject)",
            Options {
                topics: "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\\r\\nBcc: evil@example.com\"\nany = [\"dân vận\"]\nignore = [\"nhân dân vận dụng\"]\n",
                ..Options::default()
            },
            Shown::Subject("Bản tin Dân vận Bcc: evil@example.com – "),
        ),
    ];
    for (what, opts, shown) in cases {
        let d = Digests::start(opts).await;
        let r = d.round(d.t0 + days(1)).await;
        assert_eq!((r.sent, r.failed), (1, 0), "{what}: {:#?}", d.outbox());
        let got = d.smtp.messages();
        assert_eq!(got.len(), 1, "{what}");
        assert_eq!(got[0].to, [HOA], "{what}: one recipient");
        let m = got[0].parse();
        assert_eq!(m.to, [HOA], "{what}");
        assert!(m.header_all("Bcc").is_empty(), "{what}: {:#?}", m.headers);
        assert!(m.header_all("Cc").is_empty(), "{what}: {:#?}", m.headers);
        assert_eq!(m.header_all("To").len(), 1, "{what}");
        let names: Vec<String> = raw_headers(&got[0].data)
            .into_iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        assert!(!names.contains(&"bcc".to_string()), "{what}: {names:?}");
        let subject = m.subject.clone().unwrap();
        assert!(!subject.contains(['\r', '\n']), "{what}: {subject:?}");
        // The text part shows the injected text on one line, never as a line of its own.
        let text = m.text.clone().unwrap();
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("Bcc:")),
            "{what}:\n{text}"
        );
        shows(what, &text, &[DAN_VAN, BAN_DAN_VAN], &[NO_TOPIC]);
        match shown {
            Shown::Text(lines) => {
                for l in lines {
                    assert!(
                        text.lines().any(|t| t.contains(l)),
                        "{what}: {l:?} in\n{text}"
                    );
                }
            }
            Shown::ToName(name) => {
                let to = m.header("To").unwrap_or_default();
                assert!(
                    to.contains(name) && to.ends_with(&format!("<{HOA}>")),
                    "{what}: {to:?}"
                );
            }
            Shown::Subject(start) => assert!(subject.starts_with(start), "{what}: {subject:?}"),
        }
    }
}

#[tokio::test]
async fn display_names_reach_the_to_header_as_a_reader_wrote_them() {
    // (address, name in subscribers.toml, the words a mail client shows)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "bbt@example.vn",
            "Ban biên tập, Báo Nhân Dân",
            &["Ban", "biên", "tập,", "Báo", "Nhân", "Dân"],
        ),
        (
            "hoa@example.vn",
            "Hoa (phòng tin)",
            &["Hoa", "(phòng", "tin)"],
        ),
        ("an@example.vn", "an@nha.vn", &["an@nha.vn"]),
        ("be@example.vn", "Trần \"Bé\" Hoa", &["Trần", "Bé", "Hoa"]),
        ("le@example.vn", "Lê <An>", &["Lê", "An"]),
        (
            "sp@example.vn",
            "Hoa; khang@example.vn",
            &["Hoa;", "khang@example.vn"],
        ),
    ];
    let d = Digests::start(Options {
        subscribers: cases
            .iter()
            .map(|(email, name, _)| subscriber(email, name, &["dan-van"]))
            .collect(),
        ..Options::default()
    })
    .await;
    let r = d.round(d.t0 + days(1)).await;
    assert_eq!((r.sent, r.failed), (cases.len(), 0), "{:#?}", d.outbox());
    for (email, name, words) in cases {
        let got = d.received_by(email);
        assert_eq!(got.len(), 1, "{name:?}");
        assert_eq!(got[0].to, [*email], "{name:?}: one recipient");
        let m = got[0].parse();
        assert_eq!(m.to, [*email], "{name:?}");
        let to = m.header("To").unwrap();
        let shown = to
            .strip_suffix(&format!("<{email}>"))
            .unwrap_or_else(|| panic!("{name:?}: {to:?}"));
        assert_eq!(
            shown.split_whitespace().collect::<Vec<_>>(),
            *words,
            "{name:?}: {to:?}"
        );
    }
    assert_eq!(d.smtp.messages().len(), cases.len());
}

/// Where an injection attempt must end up visible, harmless.
enum Shown {
    /// Each on one line of the text part.
    Text(&'static [&'static str]),
    /// In the To header's display name.
    ToName(&'static str),
    /// The subject starts so.
    Subject(&'static str),
}

// ---------------------------------------------------------------------------------------------
// The admin's commands

#[tokio::test]
async fn preview_prints_the_digest_writes_the_html_and_sends_nothing() {
    let d = Digests::start(Options::default()).await;
    // A preview closes the window at its own now, exclusive at the store's one-second
    // resolution: run it once the clock has left the second of the last article.
    let newest = articles(&d.ing).iter().map(|a| a.first_seen).max().unwrap();
    past_the_second_of(newest).await;
    let window_end = d.state(HOA).window_end;
    let html = d.env.dir.path().join("preview.html");
    let before = Utc::now();
    let out = run_bantin(
        Some(&d.env.config_path),
        &["digest", "preview", HOA, "--html", html.to_str().unwrap()],
    )
    .await;
    let after = Utc::now();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let subjects = [before, after].map(|t| format!("Subject: Bản tin Dân vận – {}", date_vn(t)));
    assert!(
        subjects.iter().any(|s| stdout.contains(s.as_str())),
        "{subjects:?} in:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("To: Nguyễn Thị Hoa <{HOA}>")),
        "{stdout}"
    );
    shows("the preview", &stdout, DAN_VAN_NEWS, NOT_DAN_VAN);
    let page = std::fs::read_to_string(&html).expect("the HTML part written");
    assert!(page.to_lowercase().contains("<html"), "{page}");
    shows("the HTML file", &page, DAN_VAN_NEWS, NOT_DAN_VAN);

    // Nothing sent, nothing recorded, the window still open.
    assert!(d.smtp.messages().is_empty());
    assert_eq!(d.smtp.connections(), 0);
    assert!(d.outbox().is_empty());
    assert_eq!(d.state(HOA).window_end, window_end);
    // The real digest is still to come, whole.
    assert_eq!(d.round(d.t0 + days(1)).await.sent, 1);
    both_parts_show(&d.smtp.messages()[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
}

#[tokio::test]
async fn the_running_daemon_follows_subscribers_file_changes() {
    let mut d = Digests::start(Options {
        http: true,
        ..Options::default()
    })
    .await;
    let daemon = Daemon::start(&mut d);
    // Serving means the daemon is up and watching its files.
    let health = format!("{}healthz", d.ing.config.http.public_url);
    wait_until("the daemon serves", WITHIN, || {
        let health = health.clone();
        async move { get(&health).await.0 > 0 }
    })
    .await;
    assert!(d.store().subscriber_state(HOA).unwrap().is_some());
    assert!(d.store().subscriber_state(AN).unwrap().is_none());
    // An admin adds a subscriber while the daemon runs: no restart, no SIGHUP.
    append(
        &d.env.dir.path().join("subscribers.toml"),
        &subscriber(AN, "Trần Văn An", &["dan-van"]),
    );
    wait_until("the daemon registers the added subscriber", WITHIN, || {
        let known = d.store().subscriber_state(AN).unwrap().is_some();
        async move { known }
    })
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn fetch_then_send_now_at_once_sends_what_was_just_fetched() {
    // `bantin fetch && bantin digest send --now EMAIL`: no waiting for the clock. Times kept
    // in whole seconds put the fresh articles at the window's (exclusive) end, and nothing went.
    let d = Digests::start(Options::default()).await;
    let out = run_bantin(Some(&d.env.config_path), &["digest", "send", "--now", HOA]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 sent"), "{stdout}");
    let got = d.received_by(HOA);
    assert_eq!(got.len(), 1);
    both_parts_show(&got[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
}

#[tokio::test]
async fn send_now_without_an_email_sends_every_active_subscriber_their_window() {
    let d = Digests::start(Options {
        subscribers: [
            subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            subscriber(AN, "Trần Văn An", &["cai-cach-hanh-chinh"]),
            subscriber(BINH, "Lê Bình", &["dan-van"]),
        ]
        .concat(),
        ..Options::default()
    })
    .await;
    // Binh followed the unsubscribe link of an earlier digest.
    d.store().unsubscribe(BINH, None, Utc::now()).unwrap();

    let out = run_bantin(Some(&d.env.config_path), &["digest", "send", "--now"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 composed, 2 sent"), "{stdout}");
    assert_eq!(d.received_by(HOA).len(), 1);
    assert_eq!(d.received_by(AN).len(), 1);
    assert!(d.received_by(BINH).is_empty(), "unsubscribed: nothing");
    both_parts_show(
        &d.received_by(AN)[0].parse(),
        &[TWO_TOPICS, CCHC_ONLY],
        &[DAN_VAN, NO_TOPIC],
    );
}

#[tokio::test]
async fn a_digest_that_panics_is_its_subscribers_error_and_the_others_go_out() {
    // Failpoints (test-only) make one digest panic while composed and another while sent.
    const LOI: &str = "loi.compose@example.vn";
    const GUI: &str = "loi.send@example.vn";
    let d = Digests::start(Options {
        subscribers: [
            subscriber(HOA, "Nguyễn Thị Hoa", &["dan-van"]),
            subscriber(LOI, "Lỗi Soạn", &["dan-van"]),
            subscriber(GUI, "Lỗi Gửi", &["dan-van"]),
        ]
        .concat(),
        ..Options::default()
    })
    .await;
    bantin::guard::fail_on("compose", LOI);
    bantin::guard::fail_on("send", GUI);
    let t1 = d.t0 + days(1);
    let r = d.round(t1).await;
    assert_eq!((r.composed, r.sent, r.retrying, r.panicked), (2, 1, 1, 2));
    assert_eq!(d.received_by(HOA).len(), 1);
    let loi = d.state(LOI);
    assert!(
        loi.compose_error
            .as_deref()
            .is_some_and(|e| e.contains("failpoint compose")),
        "{loi:?}"
    );
    let gui = d.outbox().into_iter().find(|e| e.email == GUI).unwrap();
    assert_eq!(gui.status, "pending");
    assert!(gui
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("failpoint send")));
    let out = run_bantin(Some(&d.env.config_path), &["subscribers"]).await;
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("last error: internal error"), "{listing}");

    // Not retried at once...
    let r = d.round(t1 + chrono::Duration::seconds(30)).await;
    assert_eq!((r.composed, r.panicked), (0, 0));
    // ...then, the bug fixed, both go out once, with the whole window.
    bantin::guard::disarm("compose", LOI);
    bantin::guard::disarm("send", GUI);
    let r = d.round(t1 + chrono::Duration::minutes(16)).await;
    assert_eq!((r.composed, r.sent, r.panicked), (1, 2, 0));
    for who in [HOA, LOI, GUI] {
        let got = d.received_by(who);
        assert_eq!(got.len(), 1, "{who}");
        both_parts_show(&got[0].parse(), DAN_VAN_NEWS, NOT_DAN_VAN);
    }
    assert_eq!(d.state(LOI).compose_error, None);
}
