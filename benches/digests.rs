//! Digest throughput: compose and deliver one digest per subscriber to a local SMTP sink.
//!
//! `cargo bench --bench digests` (optionally `-- SUBSCRIBERS`, default 10,000). The bench writes
//! a config into a temp dir (3 topics; subscribers with 1–3 topics each and the default daily
//! schedule; `[mail.smtp]` pointing at a sink inside this process), loads it with
//! `bantin::config::load`, creates the `Postman` (which starts every subscriber's window now),
//! then stores ~200 realistic articles of those topics through the ingest path. It then
//! measures, on a multi-threaded tokio runtime:
//!
//! - compose: `Postman::compose_due(now + 1 day)`: every window closes at the next 07:00 tick,
//!   each digest is rendered and recorded in the outbox;
//! - send: `Postman::send_due(now + 1 day)`: every outbox entry is delivered over SMTP (lettre's
//!   pooled client, plain text on loopback) and marked sent.
//!
//! The sink answers the SMTP commands lettre uses and counts messages and bytes; it does no
//! other work, so the send figure is bantin's (and lettre's) side of the conversation plus that
//! reading (it shares the runtime's threads). One run, not a median: a run is a whole day's
//! mail-out, and the database is not fresh afterwards.
//!
//! Each step also prints the CPU time the whole process spent on it per message (user + system,
//! from /proc/self/stat, 10 ms ticks): on a machine busy with other work the rates fall, the CPU
//! time much less.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bantin::date::DateOrder;
use bantin::ingest::entry::DateContext;
use bantin::ingest::feed;
use bantin::ingest::normalize::Context;
use bantin::postman::Postman;
use bantin::store::{PollRecord, SourceSpec, Store};
use chrono::{FixedOffset, Utc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const ARTICLES: usize = 200;
const SOURCE_ID: &str = "bao-bench";
const SOURCE_URL: &str = "https://bao.example.vn/rss/thoi-su.rss";

const TOPICS_TOML: &str = r#"[[topics]]
id = "dan-van"
name = "Dân vận"
any = ["dân vận", "công tác dân vận", "dân vận khéo", "Mặt trận Tổ quốc", "dân chủ ở cơ sở"]
ignore = ["nhân dân vận dụng", "người dân vận chuyển"]

[[topics]]
id = "xay-dung-dang"
name = "Xây dựng Đảng"
any = ["xây dựng Đảng", "chỉnh đốn Đảng", "tổ chức cơ sở đảng", "đảng viên", "kiểm tra, giám sát"]

[[topics]]
id = "chuyen-doi-so"
name = "Chuyển đổi số"
any = ["chuyển đổi số", "chính phủ số", "kinh tế số", "dữ liệu số", "chính quyền số"]
"#;

/// Title leads: each names one topic, a few two (so some articles appear under two topics).
const LEADS: &[&str] = &[
    "Nâng cao hiệu quả công tác dân vận ở cơ sở",
    "Phong trào thi đua dân vận khéo lan tỏa khắp các thôn, bản",
    "Mặt trận Tổ quốc lắng nghe ý kiến cử tri",
    "Thực hiện quy chế dân chủ ở cơ sở gắn với cải cách hành chính",
    "Đẩy mạnh xây dựng Đảng và hệ thống chính trị trong sạch, vững mạnh",
    "Kết nạp đảng viên mới trong đoàn viên thanh niên",
    "Củng cố tổ chức cơ sở đảng ở vùng đồng bào dân tộc thiểu số",
    "Tăng cường kiểm tra, giám sát và kỷ luật đảng",
    "Chuyển đổi số toàn diện trong cơ quan nhà nước",
    "Xây dựng chính quyền số phục vụ người dân và doanh nghiệp",
    "Phát triển kinh tế số, dữ liệu số là động lực tăng trưởng mới",
    "Đảng viên đi đầu trong chuyển đổi số ở cơ sở",
];

const PLACES: &[&str] = &[
    "Hà Nội",
    "Thành phố Hồ Chí Minh",
    "Hải Phòng",
    "Đà Nẵng",
    "Cần Thơ",
    "Huế",
    "Quảng Ninh",
    "Nghệ An",
    "Thanh Hóa",
    "Lâm Đồng",
    "Đắk Lắk",
    "Gia Lai",
    "Khánh Hòa",
    "An Giang",
    "Cà Mau",
    "Lào Cai",
    "Điện Biên",
    "Sơn La",
    "Tuyên Quang",
    "Bắc Ninh",
];

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
];
const MIDDLE: &[&str] = &["Thị", "Văn", "Đức", "Minh", "Thu", "Quốc", "Ngọc", "Hữu"];
const GIVEN: &[&str] = &[
    "Hoa", "An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hương", "Lan", "Long", "Mai", "Nam",
    "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến",
];
const TOPIC_IDS: &[&str] = &["dan-van", "xay-dung-dang", "chuyen-doi-so"];

/// `subscribers.toml` with `n` subscribers, each with 1–3 topics (every non-empty subset, in
/// varying order) and the default daily schedule.
fn subscribers_toml(n: usize) -> String {
    let mut s = String::with_capacity(n * 160);
    for i in 0..n {
        let mask = i % 7 + 1;
        let mut topics: Vec<&str> = (0..3)
            .filter(|b| mask & (1 << b) != 0)
            .map(|b| TOPIC_IDS[b])
            .collect();
        let turn = i / 7 % topics.len();
        topics.rotate_left(turn);
        let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
        s.push_str(&format!(
            "[[subscribers]]\nemail = \"doc{i}@don-vi{}.example.vn\"\nname = \"{} {} {}\"\ntopics = [{}]\nschedule = \"0 0 7 * * *\"\n\n",
            i % 50,
            FAMILY[i % FAMILY.len()],
            MIDDLE[i / 3 % MIDDLE.len()],
            GIVEN[i / 7 % GIVEN.len()],
            topics.join(", ")
        ));
    }
    s
}

/// One RSS document with `n` articles published over the last hours, as an outlet serves it.
fn feed(n: usize, now: chrono::DateTime<Utc>) -> String {
    let ict = FixedOffset::east_opt(7 * 3600).expect("offset");
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Báo Thời sự</title><link>https://bao.example.vn/</link><description>Tin tức thời sự</description>\n",
    );
    for i in 0..n {
        let lead = LEADS[i % LEADS.len()];
        let place = PLACES[i / LEADS.len() % PLACES.len()];
        let date = (now - chrono::Duration::minutes(7 * i as i64))
            .with_timezone(&ict)
            .to_rfc2822();
        s.push_str(&format!(
            "<item><title><![CDATA[{lead} tại {place}]]></title>\
             <link>https://bao.example.vn/thoi-su/bai-viet-{i}-post{}.html?utm_source=rss</link>\
             <guid isPermaLink=\"false\">{}</guid><pubDate>{date}</pubDate>\
             <description><![CDATA[<a href=\"https://bao.example.vn/{i}\"><img src=\"https://bao.example.vn/anh/{i}.jpg\" /></a>\
             <p>Sáng nay, tại {place}, các đồng chí lãnh đạo đã dự hội nghị về chủ đề: {lead}. \
             Hội nghị nhấn mạnh việc <b>đổi mới</b> phương thức, nâng cao chất lượng, hiệu quả; \
             lắng nghe ý kiến của nhân dân và giải quyết kịp thời những vấn đề bức xúc ở cơ sở.</p>]]></description></item>\n",
            900_000 + i,
            900_000 + i
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// What the sink saw.
#[derive(Default)]
struct Sink {
    connections: AtomicUsize,
    messages: AtomicUsize,
    bytes: AtomicU64,
}

/// Accepts SMTP connections forever (until the runtime shuts down).
async fn serve(listener: TcpListener, sink: Arc<Sink>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let sink = Arc::clone(&sink);
        tokio::spawn(async move {
            // A client that goes away mid-conversation is not the bench's concern.
            let _ = session(sock, &sink).await;
        });
    }
}

/// One SMTP conversation: enough of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP,
/// QUIT); DATA is read to the lone "." line and counted.
async fn session(sock: TcpStream, sink: &Sink) -> std::io::Result<()> {
    sink.connections.fetch_add(1, Ordering::Relaxed);
    sock.set_nodelay(true)?;
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink.localhost ESMTP bench\r\n").await?;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).map(|v| v.to_ascii_uppercase());
        let reply: &[u8] = match verb.as_deref() {
            Some(b"EHLO") => {
                b"250-sink.localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            }
            Some(b"HELO") => b"250 sink.localhost\r\n",
            Some(b"MAIL" | b"RCPT" | b"RSET" | b"NOOP") => b"250 2.0.0 OK\r\n",
            Some(b"DATA") => {
                w.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut size = 0u64;
                loop {
                    line.clear();
                    if r.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    size += line.len() as u64;
                }
                sink.messages.fetch_add(1, Ordering::Relaxed);
                sink.bytes.fetch_add(size, Ordering::Relaxed);
                b"250 2.0.0 queued\r\n"
            }
            Some(b"QUIT") => {
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognized\r\n",
        };
        w.write_all(reply).await?;
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// CPU time (user + system) of this process so far; zero where /proc is not there.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces) start with the state (3);
            // utime and stime are fields 14 and 15, in ticks of 1/100 s.
            let rest = stat.rsplit_once(')')?.1;
            let mut fields = rest.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let subscribers = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(10_000)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _entered = rt.enter();

    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind the SMTP sink");
    let port = listener.local_addr().expect("sink address").port();
    let sink = Arc::new(Sink::default());
    rt.spawn(serve(listener, Arc::clone(&sink)));

    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("bantin.db");
    let main_toml = format!(
        "[storage]\npath = {db:?}\n\n[mail]\nfrom = \"bantin <tin@example.vn>\"\n\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\n[[sources]]\nid = \"{SOURCE_ID}\"\nname = \"Báo Thời sự\"\nurl = \"{SOURCE_URL}\"\n",
        db = db.to_string_lossy()
    );
    std::fs::write(dir.path().join("bantin.toml"), main_toml).expect("write bantin.toml");
    std::fs::write(dir.path().join("topics.toml"), TOPICS_TOML).expect("write topics.toml");
    std::fs::write(
        dir.path().join("subscribers.toml"),
        subscribers_toml(subscribers),
    )
    .expect("write subscribers.toml");

    let t = Instant::now();
    let config = match bantin::config::load(&dir.path().join("bantin.toml")) {
        Ok(c) => Arc::new(c),
        Err(p) => panic!("bench config does not load:\n{p}"),
    };
    let load_time = t.elapsed();
    assert_eq!(config.subscribers.len(), subscribers);
    let topic_refs: usize = config.subscribers.iter().map(|s| s.topics.len()).sum();

    let store = Store::open(&config.storage.path).expect("open store");
    store
        .sync_sources(&[SourceSpec {
            id: SOURCE_ID.into(),
            url: SOURCE_URL.into(),
        }])
        .expect("sync sources");
    // The postman starts every subscriber's window now; the articles come after.
    let t = Instant::now();
    let postman = Postman::new(Arc::clone(&config), store.clone()).expect("postman");
    let postman_time = t.elapsed();

    let t = Instant::now();
    let now = Utc::now();
    let doc = feed(ARTICLES, now);
    let base = url::Url::parse(SOURCE_URL).expect("url");
    let dates = DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: DateOrder::Dmy,
        now,
    };
    let parsed = feed::parse(doc.as_bytes(), Some("utf-8"), &base, dates).expect("parse");
    let ctx = Context {
        source_id: SOURCE_ID,
        source_host: "bao.example.vn",
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        now,
    };
    let prepared = bantin::ingest::prepare(&store, &parsed, &ctx, &config.topics, &[]);
    let matched = prepared
        .articles
        .iter()
        .filter(|a| !a.matches.is_empty())
        .count();
    let record = PollRecord::Fetched {
        articles: prepared.articles,
        seen: prepared.seen,
        carried: Vec::new(),
        etag: None,
        last_modified: None,
        moved_to: None,
        pages: false,
        note: None,
        complete: true,
    };
    let stats = store
        .record_poll(SOURCE_ID, &record, now, now)
        .expect("store articles");
    assert_eq!(stats.new, ARTICLES, "every article is new");
    assert_eq!(matched, ARTICLES, "every article matches a topic");
    let ingest_time = t.elapsed();

    println!(
        "digests bench: {subscribers} subscribers ({:.2} topics each), {ARTICLES} articles in 3 topics, SMTP sink on 127.0.0.1:{port}, {} runtime threads, {} CPUs",
        topic_refs as f64 / subscribers as f64,
        rt.metrics().num_workers(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "setup: config load {:.2}s, Postman::new {:.2}s, ingest {:.2}s",
        load_time.as_secs_f64(),
        postman_time.as_secs_f64(),
        ingest_time.as_secs_f64()
    );

    // Every window closes at the next 07:00 (Hanoi) tick, within a day.
    let due = now + chrono::Duration::days(1);

    let (t, cpu) = (Instant::now(), cpu_time());
    let composed = postman.compose_due(due).expect("compose");
    let (compose_time, compose_cpu) = (t.elapsed(), cpu_time() - cpu);
    assert_eq!(composed, subscribers, "one digest per subscriber");

    let (t, cpu) = (Instant::now(), cpu_time());
    let round = rt.block_on(postman.send_due(due)).expect("send");
    let (send_time, send_cpu) = (t.elapsed(), cpu_time() - cpu);
    assert_eq!(
        (round.sent, round.retrying, round.failed),
        (subscribers, 0, 0),
        "every digest delivered at once"
    );

    let received = sink.messages.load(Ordering::Relaxed);
    assert_eq!(received, subscribers, "the sink got every message");
    let outbox = postman.outbox(usize::MAX).expect("outbox");
    let sent = outbox.iter().filter(|e| e.status == "sent").count();
    assert_eq!(
        (outbox.len(), sent),
        (subscribers, subscribers),
        "the outbox has every digest, sent"
    );
    let articles_listed: u64 = outbox.iter().map(|e| u64::from(e.articles)).sum();
    let bytes = sink.bytes.load(Ordering::Relaxed);
    let db_size = std::fs::metadata(&config.storage.path).map_or(0, |m| m.len())
        + std::fs::metadata(config.storage.path.with_extension("db-wal")).map_or(0, |m| m.len());

    let total = compose_time + send_time;
    println!(
        "compose  {:>8.0} messages/s  ({} digests in {:.2}s, {:.0} µs each; CPU {:.0} µs each)",
        rate(composed, compose_time),
        composed,
        compose_time.as_secs_f64(),
        compose_time.as_secs_f64() * 1e6 / composed as f64,
        compose_cpu.as_secs_f64() * 1e6 / composed as f64
    );
    println!(
        "send     {:>8.0} messages/s  ({} over {} SMTP connection(s) in {:.2}s, {:.0} µs each; CPU {:.0} µs each)",
        rate(round.sent, send_time),
        round.sent,
        sink.connections.load(Ordering::Relaxed),
        send_time.as_secs_f64(),
        send_time.as_secs_f64() * 1e6 / round.sent as f64,
        send_cpu.as_secs_f64() * 1e6 / round.sent as f64
    );
    println!(
        "total    {:>8.0} messages/s  ({:.2}s; CPU {:.0} µs each; aim: at least 1,000 messages/s)",
        rate(subscribers, total),
        total.as_secs_f64(),
        (compose_cpu + send_cpu).as_secs_f64() * 1e6 / subscribers as f64
    );
    println!(
        "messages: {:.1} KiB on average as sent ({:.1} MiB in all), {:.1} articles listed on average; database + WAL {:.1} MiB",
        bytes as f64 / received as f64 / 1024.0,
        bytes as f64 / 1048576.0,
        articles_listed as f64 / subscribers as f64,
        db_size as f64 / 1048576.0
    );
}
