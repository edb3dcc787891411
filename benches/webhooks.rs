//! Topic webhooks: what queuing the POSTs costs the poll that stores the matches, and how fast
//! the outbox drains to a receiver on loopback.
//!
//! `cargo bench --bench webhooks` (optionally `-- ARTICLES ROUNDS`). Each round stores the same
//! articles (every one matching a topic) into two fresh databases, polls of 50 articles each:
//! once without webhooks, once with the topic's webhook (each article read back in the
//! transaction, rendered as its JSON Feed item, queued). Then the queued POSTs are delivered to
//! an axum receiver on 127.0.0.1:0 that answers 204 at once: one endpoint, so one POST at a
//! time, in order. The median round is reported: this is a shared VM.

use std::path::Path;
use std::time::{Duration, Instant};

use bantin::article::NewArticle;
use bantin::store::{PollRecord, SourceSpec, Store};
use bantin::topics::TopicMatch;
use bantin::webhook::{self, Webhooks};
use chrono::{TimeZone, Utc};

const PER_POLL: usize = 50;

fn article(n: usize) -> NewArticle {
    let title = format!("Tăng cường công tác dân vận ở cơ sở, bài số {n}");
    let url = format!("https://bao.example.vn/thoi-su/bai-{n}.html");
    NewArticle {
        keys: vec![format!("url:{url}"), format!("guid:{n}")],
        url: Some(url.clone()),
        canonical_url: Some(url),
        host: Some("bao.example.vn".into()),
        guid: Some(n.to_string()),
        title_key: bantin::text::match_key(&title),
        search_text: bantin::text::match_key(&title),
        search_layout: None,
        title,
        title_guessed: false,
        summary_html: Some(
            "<p>Chiều 22/8, tại Hà Nội, Ban Dân vận Trung ương tổ chức hội nghị tổng kết công tác \
             dân vận năm 2026; lắng nghe ý kiến của nhân dân ở cơ sở.</p>"
                .into(),
        ),
        content_html: None,
        authors: vec!["Nguyễn Văn Đức".into()],
        published: Utc
            .with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
            .single()
            .expect("date")
            .fixed_offset()
            + chrono::Duration::seconds(n as i64),
        date_guessed: false,
        date_raw: None,
        content_hash: format!("h{n}"),
        media: Vec::new(),
        matches: vec![TopicMatch {
            topic: "dan-van".into(),
            phrases: vec!["công tác dân vận".into()],
        }],
    }
}

fn record(articles: &[NewArticle]) -> PollRecord {
    PollRecord::Fetched {
        articles: articles.to_vec(),
        seen: Vec::new(),
        carried: Vec::new(),
        etag: None,
        last_modified: None,
        moved_to: None,
        pages: false,
        note: None,
        complete: true,
    }
}

fn open(dir: &Path, name: &str) -> Store {
    let store = Store::open(&dir.join(name)).expect("open store");
    let spec = SourceSpec {
        id: "bao".into(),
        url: "https://bao.example.vn/rss".into(),
    };
    store.sync_sources(&[spec]).expect("sync");
    store
}

struct Pass {
    plain: Duration,
    queuing: Duration,
    delivery: Duration,
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2_000);
    let rounds = args.get(1).copied().unwrap_or(5).max(1);
    let articles: Vec<NewArticle> = (0..n).map(article).collect();
    let config = bantin::config::parse(Path::new("bench.toml"), "").expect("config");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(async {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    });
    println!(
        "webhooks bench: {n} articles, each matching a topic, polls of {PER_POLL}, {rounds} rounds"
    );

    let mut passes = Vec::new();
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let next = Utc::now();

        let plain = open(dir.path(), "plain.db");
        let started = Instant::now();
        for chunk in articles.chunks(PER_POLL) {
            plain
                .record_poll_now("bao", &record(chunk), next)
                .expect("poll");
        }
        let plain_took = started.elapsed();

        let hooked = open(dir.path(), "hooked.db");
        let endpoints = [("dan-van".to_string(), url.clone())];
        let render = |a: &bantin::store::StoredArticle| webhook::topic_body(&config, a);
        let hooks = bantin::store::TopicHooks {
            endpoints: &endpoints,
            render: &render,
        };
        let started = Instant::now();
        for chunk in articles.chunks(PER_POLL) {
            hooked
                .record_poll_now_and_queue("bao", &record(chunk), next, &hooks)
                .expect("poll");
        }
        let queuing_took = started.elapsed();

        let endpoint = webhook::Endpoint {
            kind: bantin::store::TOPIC_KIND.into(),
            subject: "dan-van".into(),
            url: url.clone(),
            secret_file: None,
            timeout: Duration::from_secs(10),
        };
        let webhooks = Webhooks::new(hooked.clone(), vec![endpoint]).expect("webhooks");
        let started = Instant::now();
        let mut delivered = 0;
        while delivered < n {
            let round = runtime
                .block_on(webhooks.deliver_due(Utc::now()))
                .expect("round");
            assert!(round.delivered > 0, "{round:?}");
            delivered += round.delivered;
        }
        let delivery_took = started.elapsed();
        passes.push(Pass {
            plain: plain_took,
            queuing: queuing_took,
            delivery: delivery_took,
        });
    }
    passes.sort_by_key(|p| p.queuing);
    let p = &passes[passes.len() / 2];
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!("median round:");
    println!("  store, no webhook     {:>8.1} µs/article", per(p.plain));
    println!(
        "  store and queue       {:>8.1} µs/article  (+{:.1} µs)",
        per(p.queuing),
        per(p.queuing) - per(p.plain)
    );
    println!(
        "  deliver (one endpoint) {:>7.0} POSTs/s",
        n as f64 / p.delivery.as_secs_f64()
    );
}
