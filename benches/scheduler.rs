//! The scheduler's own cost with 1,000 sources on one daemon, under the default politeness.
//!
//! `cargo bench --bench scheduler` (optionally `-- SOURCES HOSTS ROUNDS`, default 1000 100 4).
//!
//! A fixture server (its own thread and runtime, named `fixture`) listens on HOSTS loopback
//! addresses (127.0.1.1, 127.0.1.2, …), so the per-host limits apply as they would to HOSTS
//! sites; each source is one feed path on one of them. A source's first fetch gets a small feed
//! (3 items) with an ETag, every later one a 304. The config keeps the shipped politeness
//! (`concurrency` 8, `per_host` 2, `host_interval` 1 s) and polls every 30 s
//! (`schedule = "0,30 * * * * *"`) instead of every 15 minutes, so that a round comes often.
//!
//! `bantin::daemon::run` runs on the bench's main thread (`Runtime::block_on`), its tasks on a
//! runtime whose threads are named `daemon`; logs go at `info` to a sink, as a real daemon
//! writes them. After the first (cold) round, each 30-s window from one schedule tick to the
//! next holds one round of polls and the idle time after it. For each window the bench reads,
//! from `/proc/self/task/*/schedstat` (nanoseconds on CPU, whatever the machine's load):
//!
//! - the loop's own thread (the main thread: every turn of the loop, its steps, the logging of
//!   each finished poll): what the scheduler costs on the runtime, measured directly;
//! - every daemon thread (loop, workers, blocking pool): the polls and everything else.
//!
//! Then the daemon is stopped and the same rounds are polled with `Ingestor::poll_now` (one task
//! per source, no scheduler): the polls' own cost. The daemon's CPU per window minus that is
//! the scheduler's whole overhead (its database reads included), an upper bound (the
//! window's idle ticks are counted in it). Both are reported per round and as a share of one
//! core over the 30-s window; at the shipped 15-minute schedule the share is 30 times smaller.
//!
//! Asserts that each round polls every source once and that every source stored its 3 articles.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Timelike, Utc};

const ITEMS: usize = 3;
const PERIOD_SECS: i64 = 30;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let sources = args.first().copied().unwrap_or(1000);
    let hosts = args.get(1).copied().unwrap_or(100).clamp(1, 250);
    let rounds = args.get(2).copied().unwrap_or(4).max(1);

    let fixture = Fixture::start(sources, hosts);
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("bantin.toml");
    write_config(&config_path, &dir.path().join("bantin.db"), &fixture);
    let config = bantin::config::load(&config_path).unwrap_or_else(|p| panic!("config: {p}"));

    tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("daemon")
        // Blocking threads stay, so that their CPU time can be read at the end of a window.
        .thread_keep_alive(Duration::from_secs(3600))
        .build()
        .expect("runtime");
    let ingestor = rt
        .block_on(bantin::daemon::Ingestor::open(config))
        .expect("open");

    println!(
        "{sources} sources on {hosts} hosts; politeness: concurrency {}, per_host {}, host_interval {:?}; a round every {PERIOD_SECS} s",
        ingestor.config.poll.concurrency,
        ingestor.config.poll.per_host,
        ingestor.config.poll.host_interval
    );

    // The daemon, on this thread; a monitor thread reads the clocks at the window boundaries
    // and stops it after the last window.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let monitor = {
        let fixture = fixture.clone();
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || watch_rounds(&fixture, sources, rounds, stop))
            .expect("monitor thread")
    };
    rt.block_on(bantin::daemon::run(ingestor.clone(), None, async move {
        let _ = stopped.await;
    }))
    .expect("daemon");
    let windows = monitor.join().expect("monitor");

    // The same polls without the scheduler.
    let mut bare = Vec::new();
    for _ in 0..rounds {
        let before = fixture.total_hits();
        let cpu = Cpu::now();
        let reports = rt
            .block_on(ingestor.poll_now(&[], |_| {}))
            .expect("poll_now");
        let used = Cpu::now().since(&cpu);
        assert_eq!(reports.len(), sources);
        assert_eq!(
            fixture.total_hits() - before,
            sources,
            "every source polled once"
        );
        bare.push(used.daemon);
    }
    let stored = ingestor.store.article_count().expect("count");
    assert_eq!(
        stored as usize,
        sources * ITEMS,
        "every source's articles stored"
    );

    println!();
    println!("| window | polls | round took | loop thread CPU | daemon CPU |");
    println!("|---:|---:|---:|---:|---:|");
    for (i, w) in windows.iter().enumerate() {
        println!(
            "| {} | {} | {:.1} s | {:.1} ms | {:.0} ms |",
            i + 1,
            w.polls,
            w.round.as_secs_f64(),
            ms(w.cpu.main),
            ms(w.cpu.daemon)
        );
    }
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let loop_cpu = median(windows.iter().map(|w| w.cpu.main).collect());
    let daemon_cpu = median(windows.iter().map(|w| w.cpu.daemon).collect());
    let bare_cpu = median(bare.clone());
    let round = median(windows.iter().map(|w| w.round.as_nanos() as u64).collect());
    let period = PERIOD_SECS as f64 * 1e9;
    println!();
    println!(
        "same polls without the scheduler (Ingestor::poll_now), daemon CPU per round: {} (median {:.0} ms)",
        bare.iter()
            .map(|n| format!("{:.0} ms", ms(*n)))
            .collect::<Vec<_>>()
            .join(", "),
        ms(bare_cpu)
    );
    println!(
        "loop thread: {:.1} ms per round ({:.1} µs per poll) = {:.3} % of one core over the {PERIOD_SECS}-s window, {:.3} % during the round itself",
        ms(loop_cpu),
        loop_cpu as f64 / 1e3 / sources as f64,
        100.0 * loop_cpu as f64 / period,
        100.0 * loop_cpu as f64 / round.max(1) as f64
    );
    let overhead = daemon_cpu.saturating_sub(bare_cpu);
    println!(
        "daemon CPU minus the polls' own: {:.0} ms per round = {:.2} % of one core over the {PERIOD_SECS}-s window ({:.3} % at the shipped 15-minute schedule)",
        ms(overhead),
        100.0 * overhead as f64 / period,
        100.0 * overhead as f64 / (900.0 * 1e9)
    );
    println!("{stored} articles stored");
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// One window from a schedule tick to the next.
struct Window {
    polls: usize,
    /// From the window's first fetch to its last.
    round: Duration,
    cpu: Used,
}

/// Waits for the cold round, then measures `rounds` windows of [`PERIOD_SECS`] each, starting
/// a second before a schedule tick; stops the daemon after the last.
fn watch_rounds(
    fixture: &Fixture,
    sources: usize,
    rounds: usize,
    stop: tokio::sync::oneshot::Sender<()>,
) -> Vec<Window> {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while fixture.total_hits() < sources {
        assert!(
            std::time::Instant::now() < deadline,
            "the cold round did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The first boundary: a second before the next tick at least 5 s away (the cold round's
    // last polls are recorded by then).
    let mut boundary = next_tick(Utc::now() + chrono::Duration::seconds(6)) - one_second();
    sleep_until(boundary);
    let mut windows = Vec::new();
    let mut cpu = Cpu::now();
    for _ in 0..rounds {
        let hits = fixture.total_hits();
        fixture.reset_times();
        boundary += chrono::Duration::seconds(PERIOD_SECS);
        sleep_until(boundary);
        let now = Cpu::now();
        let polls = fixture.total_hits() - hits;
        assert_eq!(polls, sources, "every source polled once in the window");
        windows.push(Window {
            polls,
            round: fixture.round_time(),
            cpu: now.since(&cpu),
        });
        cpu = now;
    }
    let _ = stop.send(());
    windows
}

fn one_second() -> chrono::Duration {
    chrono::Duration::seconds(1)
}

/// The first tick of `0,30 * * * * *` at or after `t`.
fn next_tick(t: DateTime<Utc>) -> DateTime<Utc> {
    let base = t.with_nanosecond(0).unwrap_or(t);
    let s = i64::from(base.second());
    let add = (PERIOD_SECS - s % PERIOD_SECS) % PERIOD_SECS;
    base + chrono::Duration::seconds(add)
}

fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        std::thread::sleep(d);
    }
}

/// CPU time of this process's threads, in nanoseconds: the main thread (the daemon's loop) and
/// all threads of the daemon's runtime (the main thread included).
#[derive(Clone, Copy, Default)]
struct Used {
    main: u64,
    daemon: u64,
}

/// Per-thread CPU times at one moment.
struct Cpu(HashMap<u32, (String, u64)>);

impl Cpu {
    fn now() -> Cpu {
        let mut threads = HashMap::new();
        for entry in std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .flatten()
        {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            let ns = std::fs::read_to_string(entry.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            threads.insert(tid, (comm.trim().to_string(), ns));
        }
        Cpu(threads)
    }

    fn since(&self, earlier: &Cpu) -> Used {
        let main_tid = std::process::id();
        let mut used = Used::default();
        for (tid, (comm, ns)) in &self.0 {
            let before = earlier.0.get(tid).map_or(0, |(_, n)| *n);
            let d = ns.saturating_sub(before);
            if *tid == main_tid {
                used.main += d;
                used.daemon += d;
            } else if comm == "daemon" {
                used.daemon += d;
            }
        }
        used
    }
}

/// The feeds, on `hosts` loopback addresses; counts fetches and notes the first and last of a
/// round.
#[derive(Clone)]
struct Fixture {
    addrs: Arc<Vec<std::net::SocketAddr>>,
    sources: usize,
    hits: Arc<Vec<AtomicUsize>>,
    times: Arc<std::sync::Mutex<Option<(std::time::Instant, std::time::Instant)>>>,
}

impl Fixture {
    fn start(sources: usize, hosts: usize) -> Fixture {
        let (tx, rx) = std::sync::mpsc::channel();
        let hits: Arc<Vec<AtomicUsize>> =
            Arc::new((0..sources).map(|_| AtomicUsize::new(0)).collect());
        let times = Arc::new(std::sync::Mutex::new(None));
        let state = Served {
            hits: hits.clone(),
            times: times.clone(),
        };
        std::thread::Builder::new()
            .name("fixture".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fixture runtime");
                rt.block_on(async move {
                    let mut addrs = Vec::new();
                    for h in 1..=hosts {
                        let ip = format!("127.0.1.{h}");
                        let listener = tokio::net::TcpListener::bind((ip.as_str(), 0))
                            .await
                            .expect("bind a loopback address");
                        addrs.push(listener.local_addr().expect("addr"));
                        let app = axum::Router::new()
                            .fallback(serve)
                            .with_state(state.clone());
                        tokio::spawn(async move {
                            let _ = axum::serve(listener, app).await;
                        });
                    }
                    tx.send(addrs).expect("send addresses");
                    std::future::pending::<()>().await;
                });
            })
            .expect("fixture thread");
        let addrs = rx.recv().expect("fixture addresses");
        Fixture {
            addrs: Arc::new(addrs),
            sources,
            hits,
            times,
        }
    }

    fn url(&self, source: usize) -> String {
        let addr = self.addrs[source % self.addrs.len()];
        format!("http://{addr}/feed/{source}")
    }

    fn total_hits(&self) -> usize {
        self.hits.iter().map(|h| h.load(Ordering::Relaxed)).sum()
    }

    fn reset_times(&self) {
        *self.times.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn round_time(&self) -> Duration {
        self.times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::ZERO, |(a, b)| b - a)
    }
}

#[derive(Clone)]
struct Served {
    hits: Arc<Vec<AtomicUsize>>,
    times: Arc<std::sync::Mutex<Option<(std::time::Instant, std::time::Instant)>>>,
}

const ETAG: &str = "\"v1\"";

async fn serve(State(s): State<Served>, req: Request) -> Response {
    let n: Option<usize> = req
        .uri()
        .path()
        .strip_prefix("/feed/")
        .and_then(|n| n.parse().ok());
    let Some(n) = n.filter(|n| *n < s.hits.len()) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("response");
    };
    s.hits[n].fetch_add(1, Ordering::Relaxed);
    {
        let now = std::time::Instant::now();
        let mut t = s.times.lock().unwrap_or_else(|p| p.into_inner());
        *t = Some(t.map_or((now, now), |(a, _)| (a, now)));
    }
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == ETAG.as_bytes());
    if unchanged {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, ETAG)
            .body(Body::empty())
            .expect("response");
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")
        .header(header::ETAG, ETAG)
        .body(Body::from(feed(n)))
        .expect("response")
}

fn feed(n: usize) -> String {
    let items: String = (0..ITEMS)
        .map(|i| {
            format!(
                "<item><title>Tin {i} của nguồn {n}: Hội nghị triển khai công tác dân vận năm 2026</title>\
                 <link>https://bao{n}.example.vn/tin-{i}.html</link><guid>bao{n}-{i}</guid>\
                 <pubDate>Sat, 22 Aug 2026 {:02}:00:00 +0700</pubDate>\
                 <description><![CDATA[<p>Tóm tắt tin {i} của nguồn {n}.</p>]]></description></item>",
                21 - i
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Báo {n}</title>\
         <link>https://bao{n}.example.vn/</link><description>d</description>{items}</channel></rss>"
    )
}

fn write_config(path: &Path, db: &Path, fixture: &Fixture) {
    let mut text = format!(
        "[storage]\npath = {db:?}\n\n[poll]\nschedule = \"0,30 * * * * *\"\n\n",
        db = db.display().to_string()
    );
    for i in 0..fixture.sources {
        text.push_str(&format!(
            "[[sources]]\nid = \"nguon-{i}\"\nurl = \"{}\"\n\n",
            fixture.url(i)
        ));
    }
    std::fs::write(path, text).expect("write config");
}
