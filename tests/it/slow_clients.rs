//! Slow and hostile HTTP clients against the real server (issue 10, defect 10): connections
//! that never finish their request head, idle keep-alives, more connections than the cap, and
//! a handler that panics. The server must stay reachable for `/healthz` and the daemon must go
//! on polling, within the file limit a service gets by default.
//!
//! Clients here speak HTTP/1.1 by hand over TCP, so that each test controls exactly what is
//! sent and when, and no client-side connection pool hides what the server does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use axum::routing::get;
use bantin::daemon::{self, DaemonError, Ingestor};
use bantin::http::{self, connections::Limits, AppState};
use bantin::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);
/// What an admin's health probe waits for an answer.
const PROBE_WITHIN: Duration = Duration::from_secs(1);
/// The slow connections of the reproduction (1,100 took the server down).
const SLOW_CLIENTS: usize = 2000;
/// The file limit systemd gives a service unless its unit says otherwise.
const SERVICE_FILE_LIMIT: u64 = 1024;

/// Raises this process's soft file limit to its hard limit: it holds the slow connections.
fn raise_own_file_limit() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("cannot raise the file limit");
    assert!(
        limit >= SLOW_CLIENTS as u64 + 500,
        "this test holds {SLOW_CLIENTS} connections and needs a hard file limit above that (ulimit -Hn: {limit})"
    );
}

// ---------------------------------------------------------------------------------------------
// A client by hand

/// An HTTP answer: status, head (lower-cased) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete HTTP head in {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// `GET path` on a new connection that the server closes after answering.
async fn get_once(addr: SocketAddr, path: &str) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).await.unwrap();
    parse_answer(&bytes)
}

/// Reads one answer with a Content-Length body from a connection kept open.
async fn read_answer(s: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before a whole answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("an answer with Content-Length");
            if body.len() >= length {
                return parse_answer(&bytes);
            }
        }
    }
}

/// Waits until the server closes `s`, returning what it sent first; panics after `within`.
async fn closed_by_server(s: &mut TcpStream, within: Duration, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("{what}: still open after {within:?}"));
    got
}

// ---------------------------------------------------------------------------------------------
// The reproduction: the real binary under the default service file limit

/// The `bantin run` binary with its file limit set to `limit` (soft and hard, so it cannot
/// raise it), logging to `log`.
fn start_limited(config: &Path, log: &Path, limit: u64) -> Running {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("BANTIN_CONFIG")
        .env("RUST_LOG", "info")
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit));
    }
    Running {
        child: cmd.spawn().unwrap(),
        log: log.to_path_buf(),
    }
}

/// The address `bantin run` logged it serves on.
async fn served_address(running: &mut Running) -> SocketAddr {
    let mut addr = None;
    wait_until("bantin run serves feeds", WITHIN, || {
        running.assert_alive();
        addr = running.log().lines().find_map(|l| {
            let (_, rest) = l.split_once("serving feeds listen=")?;
            rest.split_whitespace().next()?.parse().ok()
        });
        let found = addr.is_some();
        async move { found }
    })
    .await;
    addr.unwrap()
}

/// Opens `n` connections at once; every other one sends half a request head, the rest nothing.
async fn open_slow_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..n {
        opening.spawn(async move {
            let mut s = tokio::time::timeout(WITHIN, TcpStream::connect(addr))
                .await
                .ok()?
                .ok()?;
            if i % 2 == 1 {
                let half = format!("GET /feed.rss HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: sl");
                s.write_all(half.as_bytes()).await.ok()?;
            }
            Some(s)
        });
    }
    let mut open = Vec::new();
    while let Some(joined) = opening.join_next().await {
        open.extend(joined.unwrap());
    }
    assert_eq!(
        open.len(),
        n,
        "only {} of {n} slow connections could connect",
        open.len()
    );
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_leave_healthz_and_polls_alone() {
    raise_own_file_limit();
    let feeds = Server::start().await;
    feeds.set("/rss", Route::feed(feed_of("nhandan.vn", 3)));
    // Polled every second, so that polls going on can be counted while the slow clients hold
    // their connections.
    let env = Env::new(&source(
        "nhandan",
        &feeds.url("/rss"),
        "schedule = \"*/1 * * * * *\"",
    ));
    let log = env.dir.path().join("bantin.log");
    let mut running = start_limited(&env.config_path, &log, SERVICE_FILE_LIMIT);
    let addr = served_address(&mut running).await;
    wait_until("/healthz says ok", WITHIN, || async move {
        get_once(addr, "/healthz").await.status == 200
    })
    .await;

    let slow = open_slow_connections(addr, SLOW_CLIENTS).await;

    // With the slow connections held: /healthz answers within a second every time, and the
    // source goes on being polled (three more polls, one a second).
    let polls_before = feeds.hits("/rss");
    let mut probes = 0;
    let deadline = tokio::time::Instant::now() + WITHIN;
    while feeds.hits("/rss") < polls_before + 3 || probes < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "polls stalled with slow clients connected: {} polls in {WITHIN:?}\n{}",
            feeds.hits("/rss") - polls_before,
            running.log()
        );
        let probe = tokio::time::timeout(PROBE_WITHIN, get_once(addr, "/healthz")).await;
        let answer = probe.unwrap_or_else(|_| {
            panic!(
                "/healthz did not answer within {PROBE_WITHIN:?} with {SLOW_CLIENTS} slow clients connected (probe {probes})\n{}",
                running.log()
            )
        });
        assert_eq!(answer.status, 200, "{answer:?}");
        probes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.assert_alive();
    let log_text = running.log();
    assert!(
        log_text.contains("HTTP connection cap reached"),
        "the cap never acted: {SLOW_CLIENTS} connections fit under it?\n{log_text}"
    );
    assert!(log_text.contains("max_connections=512"), "{log_text}");

    // Stopping with the slow connections still open: they do not hold up the exit.
    running.signal("TERM");
    let waited = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            if let Some(status) = running.child.try_wait().unwrap() {
                return (status, running.log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "bantin run did not exit after SIGTERM\n{}",
                running.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let (status, log_text) = waited.await.unwrap();
    assert!(status.success(), "{status}\n{log_text}");
    assert!(
        !log_text.contains("HTTP connections still open at shutdown"),
        "{log_text}"
    );
    drop(slow);
}

// ---------------------------------------------------------------------------------------------
// The daemon in process, with `[http]` limits of the test's own

/// `bantin::daemon::run` in a task, serving on 127.0.0.1:0 with `http` as the rest of `[http]`.
struct Daemon {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    async fn start(http: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("bantin.toml");
        let db = dir.path().join("data/bantin.db");
        let text = format!(
            "[storage]\npath = {db:?}\n\n[http]\nlisten = \"127.0.0.1:0\"\n{http}\n\n[poll]\n{QUIET}\n"
        );
        std::fs::write(&config_path, text).unwrap();
        let mut config = bantin::config::load(&config_path).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.http.bound(addr);
        let ing = Ingestor::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(ing, Some(listener), async move {
            let _ = stopped.await;
        }));
        Daemon {
            addr,
            stop,
            task,
            _dir: dir,
        }
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

#[tokio::test]
async fn a_client_that_does_not_finish_its_request_is_closed_after_the_header_timeout() {
    let d = Daemon::start("header_timeout = \"1s\"").await;
    let addr = d.addr;
    let half_sent = async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /feed.rss HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
            .await
            .unwrap();
        closed_by_server(&mut s, WITHIN, "a half-sent request head").await
    };
    let silent = async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        closed_by_server(&mut s, WITHIN, "a connection that sends nothing").await
    };
    // An idle keep-alive connection is closed by the same timer, started again after the answer.
    let idle = async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /feed.rss HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let answer = read_answer(&mut s).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(!answer.head.contains("connection: close"), "{answer:?}");
        closed_by_server(&mut s, WITHIN, "an idle keep-alive connection").await
    };
    let (half_sent, silent, idle) = tokio::join!(half_sent, silent, idle);
    // Closed without an answer: there was no request to answer.
    assert!(
        half_sent.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&half_sent)
    );
    assert!(silent.is_empty(), "{:?}", String::from_utf8_lossy(&silent));
    assert!(idle.is_empty(), "{:?}", String::from_utf8_lossy(&idle));
    d.stop().await;
}

#[tokio::test]
async fn at_the_cap_a_new_client_takes_the_place_of_the_longest_waiting() {
    let d = Daemon::start("max_connections = 2\nheader_timeout = \"1h\"").await;
    let mut oldest = TcpStream::connect(d.addr).await.unwrap();
    // Half a request line: waiting too, but since later.
    let mut second = TcpStream::connect(d.addr).await.unwrap();
    second
        .write_all(b"GET /feed.rss HTTP/1.1\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(WITHIN, get_once(d.addr, "/feed.rss"))
        .await
        .expect("no answer with the cap full of silent connections");
    assert_eq!(answer.status, 200, "{answer:?}");
    let got = closed_by_server(&mut oldest, WITHIN, "the longest-waiting connection").await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The real router and accept loop, with a route of the test's own

/// A server with the daemon's routes and layers plus `extra`, on the daemon's accept loop.
struct Served {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _env: Env,
}

impl Served {
    async fn start(
        limits: Limits,
        extra: impl FnOnce(axum::Router<AppState>) -> axum::Router<AppState>,
    ) -> Served {
        let env = Env::new("");
        let ing = env.ingestor().await;
        let metrics = Arc::new(Metrics::default());
        let state = AppState::new(ing.config.clone(), ing.store.clone(), metrics.clone());
        let router = http::with_layers(extra(http::routes()), state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(http::serve_router(listener, router, limits, async move {
            let _ = stopped.await;
        }));
        Served {
            addr,
            metrics,
            stop,
            task,
            _env: env,
        }
    }
}

#[tokio::test]
async fn when_every_connection_is_in_a_request_a_newcomer_gets_a_polite_503() {
    // A handler that holds its request until the test lets it go, saying when it started.
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<()>();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let hold = move || {
        let (entered_tx, gate) = (entered_tx.clone(), g.clone());
        async move {
            entered_tx.send(()).unwrap();
            let _ = gate.acquire().await.unwrap();
            "held\n"
        }
    };
    let limits = Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(3600),
    };
    let served = Served::start(limits, |r| r.route("/hold", get(hold))).await;
    let addr = served.addr;
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get_once(addr, "/hold").await }))
        .collect();
    for _ in 0..2 {
        tokio::time::timeout(WITHIN, entered.recv())
            .await
            .expect("a held request never reached its handler");
    }

    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let got = closed_by_server(&mut s, WITHIN, "a refused connection").await;
    let refused = parse_answer(&got);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.head.contains("\r\nretry-after: 5"), "{refused:?}");
    assert!(
        refused.head.contains("\r\nconnection: close"),
        "{refused:?}"
    );
    assert_eq!(
        refused.body,
        "too many connections; try again in a few seconds\n"
    );

    // The held requests finish; then there is room again.
    gate.add_permits(2);
    for h in held {
        let answer = tokio::time::timeout(WITHIN, h).await.unwrap().unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, "held\n");
    }
    let answer = tokio::time::timeout(WITHIN, get_once(addr, "/feed.rss"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");

    // Shutdown with a silent connection open: it is closed, and the server returns.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    served.stop.send(()).unwrap();
    closed_by_server(&mut silent, WITHIN, "a silent connection at shutdown").await;
    tokio::time::timeout(WITHIN, served.task)
        .await
        .expect("the server did not return after shutdown")
        .unwrap()
        .unwrap();
}

/// A handler with a bug: it panics, with internal detail in the message.
async fn panics() -> &'static str {
    let db = Path::new("/var/lib/bantin/bantin.db");
    panic!("internal detail: {}", db.display())
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    let limits = Limits {
        max_connections: 16,
        header_timeout: Duration::from_secs(10),
    };
    let served = Served::start(limits, |r| r.route("/panics", get(panics))).await;
    let addr = served.addr;

    let answer = tokio::time::timeout(WITHIN, get_once(addr, "/panics"))
        .await
        .expect("no answer from a panicking handler");
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.body, "internal error\n");
    assert!(!answer.body.contains("internal detail"), "{answer:?}");

    // Again on a kept-alive connection: the panic took nothing else with it.
    let mut s = TcpStream::connect(addr).await.unwrap();
    for path in ["/panics", "/feed.rss"] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let answer = tokio::time::timeout(WITHIN, read_answer(&mut s))
            .await
            .unwrap();
        let expected = if path == "/panics" { 500 } else { 200 };
        assert_eq!(answer.status, expected, "{path}: {answer:?}");
    }

    let metrics = tokio::time::timeout(WITHIN, get_once(addr, "/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert!(
        metrics
            .body
            .contains("bantin_panics_total{unit=\"http\"} 2\n"),
        "{}",
        metrics.body
    );
    assert!(served.metrics.panic_counts().contains(&("http", 2)));
}
