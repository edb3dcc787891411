//! Test harness: a fixture HTTP server on 127.0.0.1:0 whose routes the tests set and change,
//! temp config files, and helpers to open the daemon's parts in process.
pub mod smtp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bantin::config::{self, Config};
use bantin::daemon::Ingestor;
use bantin::ingest::Report;
use bantin::store::{ArticleQuery, StoredArticle};

/// What the fixture server answers on one path.
#[derive(Clone, Debug)]
pub enum Route {
    /// A body with status 200 (or `status`), extra headers, and optional validators: a request
    /// whose If-None-Match equals `etag`, or whose If-Modified-Since is `last_modified` or later
    /// (HTTP dates, RFC 9110 §13.1.3; other text only when equal), gets 304.
    Page {
        status: u16,
        body: Vec<u8>,
        content_type: String,
        headers: Vec<(String, String)>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Redirect {
        status: u16,
        location: String,
    },
    /// Sends `bytes` one byte per `every`.
    Trickle {
        bytes: Vec<u8>,
        every: Duration,
    },
    /// A body of `size` bytes streamed in 64 KiB chunks, without Content-Length when `chunked`.
    Huge {
        size: u64,
        chunked: bool,
    },
    /// 302 to itself unless the request carries `cookie`.
    NeedsCookie {
        cookie: String,
        body: Vec<u8>,
    },
    /// Sets `cookie` and answers 200.
    SetsCookie {
        cookie: String,
    },
    /// A slow exchange: waits `every` before the headers, then sends `body` in four pieces
    /// `every` apart. `gauge` counts exchanges in flight, from the request's arrival to the end
    /// of its body.
    Slow {
        body: Vec<u8>,
        every: Duration,
        gauge: Arc<Gauge>,
    },
}

/// Exchanges in flight on [`Route::Slow`] routes, and the most seen at once.
#[derive(Debug, Default)]
pub struct Gauge {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most exchanges that were in flight at once.
    pub fn max(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Route {
    pub fn feed(body: impl Into<Vec<u8>>) -> Route {
        Route::Page {
            status: 200,
            body: body.into(),
            content_type: "application/rss+xml; charset=utf-8".into(),
            headers: Vec::new(),
            etag: None,
            last_modified: None,
        }
    }

    pub fn status(status: u16, body: &str) -> Route {
        Route::Page {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "text/plain".into(),
            headers: Vec::new(),
            etag: None,
            last_modified: None,
        }
    }

    pub fn with_content_type(mut self, ct: &str) -> Route {
        if let Route::Page { content_type, .. } = &mut self {
            *content_type = ct.to_string();
        }
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Route {
        if let Route::Page { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    pub fn with_etag(mut self, tag: &str) -> Route {
        if let Route::Page { etag, .. } = &mut self {
            *etag = Some(tag.to_string());
        }
        self
    }

    pub fn with_last_modified(mut self, lm: &str) -> Route {
        if let Route::Page { last_modified, .. } = &mut self {
            *last_modified = Some(lm.to_string());
        }
        self
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    routes: HashMap<String, Route>,
    seen: Vec<Seen>,
}

/// The fixture server. Dropping it does not stop it; tests end with their runtime.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl Server {
    pub async fn start() -> Server {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.shared
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    /// Requests seen on `path`, oldest first.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.shared
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen(path).len()
    }
}

async fn serve(State(shared): State<Arc<Mutex<Shared>>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let route = shared.lock().unwrap().routes.get(&path).cloned();
    let resp = match route {
        None => plain(404, "no such fixture"),
        Some(Route::Page {
            status,
            body,
            content_type,
            headers: extra,
            etag,
            last_modified,
        }) => {
            let header_is = |name: header::HeaderName, v: &Option<String>| {
                v.is_some() && headers.get(name).and_then(|h| h.to_str().ok()) == v.as_deref()
            };
            let since = headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|h| h.to_str().ok());
            let not_modified = header_is(header::IF_NONE_MATCH, &etag)
                || header_is(header::IF_MODIFIED_SINCE, &last_modified)
                || not_modified_since(since, last_modified.as_deref());
            let mut b = Response::builder().status(if not_modified { 304 } else { status });
            if let Some(e) = &etag {
                b = b.header(header::ETAG, e);
            }
            if let Some(lm) = &last_modified {
                b = b.header(header::LAST_MODIFIED, lm);
            }
            for (k, v) in &extra {
                b = b.header(k.as_str(), v.as_str());
            }
            if not_modified {
                b.body(Body::empty()).unwrap()
            } else {
                b.header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(body))
                    .unwrap()
            }
        }
        Some(Route::Redirect { status, location }) => Response::builder()
            .status(status)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap(),
        Some(Route::Trickle { bytes, every }) => {
            let stream = async_stream(bytes, every);
            Response::builder()
                .header(header::CONTENT_TYPE, "application/rss+xml")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Some(Route::Huge { size, chunked }) => {
            let chunk = vec![b'x'; 64 * 1024];
            let n = size.div_ceil(chunk.len() as u64);
            let stream = futures_iter(n, chunk);
            let mut b = Response::builder().header(header::CONTENT_TYPE, "application/rss+xml");
            if !chunked {
                b = b.header(header::CONTENT_LENGTH, (n * 64 * 1024).to_string());
            }
            b.body(Body::from_stream(stream)).unwrap()
        }
        Some(Route::NeedsCookie { cookie, body }) => {
            let has = headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.split(';').any(|c| c.trim() == cookie));
            if has {
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/rss+xml")
                    .body(Body::from(body))
                    .unwrap()
            } else {
                Response::builder()
                    .status(302)
                    .header(header::LOCATION, path.clone())
                    .body(Body::empty())
                    .unwrap()
            }
        }
        Some(Route::SetsCookie { cookie }) => Response::builder()
            .header(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!("{cookie}; Path=/")).unwrap(),
            )
            .body(Body::from("ok"))
            .unwrap(),
        Some(Route::Slow { body, every, gauge }) => {
            gauge.enter();
            tokio::time::sleep(every).await;
            Response::builder()
                .header(header::CONTENT_TYPE, "application/rss+xml")
                .body(Body::from_stream(slow_stream(body, every, gauge)))
                .unwrap()
        }
    };
    shared.lock().unwrap().seen.push(Seen {
        path,
        headers,
        status: resp.status().as_u16(),
    });
    resp
}

/// Whether a document last modified at `last_modified` is unchanged since `since` (both HTTP
/// dates; false when either is missing or unreadable).
fn not_modified_since(since: Option<&str>, last_modified: Option<&str>) -> bool {
    let date = |s: Option<&str>| chrono::DateTime::parse_from_rfc2822(s?.trim()).ok();
    matches!((date(since), date(last_modified)), (Some(s), Some(m)) if m <= s)
}

/// An instant as HTTP writes it (IMF-fixdate).
pub fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn plain(status: u16, body: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::from(body.to_string()))
        .unwrap()
}

type Chunk = Result<Vec<u8>, std::io::Error>;

fn async_stream(bytes: Vec<u8>, every: Duration) -> impl futures_core::Stream<Item = Chunk> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(1);
    tokio::spawn(async move {
        for b in bytes {
            tokio::time::sleep(every).await;
            if tx.send(Ok(vec![b])).await.is_err() {
                return;
            }
        }
    });
    tokio_stream(rx)
}

fn futures_iter(n: u64, chunk: Vec<u8>) -> impl futures_core::Stream<Item = Chunk> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    tokio::spawn(async move {
        for _ in 0..n {
            if tx.send(Ok(chunk.clone())).await.is_err() {
                return;
            }
        }
    });
    tokio_stream(rx)
}

/// `body` in four pieces `every` apart; leaves `gauge` before the stream ends, so a client never
/// sees the end of the body while the exchange still counts as in flight.
fn slow_stream(
    body: Vec<u8>,
    every: Duration,
    gauge: Arc<Gauge>,
) -> impl futures_core::Stream<Item = Chunk> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(1);
    tokio::spawn(async move {
        let piece = body.len().div_ceil(4).max(1);
        for chunk in body.chunks(piece) {
            tokio::time::sleep(every).await;
            if tx.send(Ok(chunk.to_vec())).await.is_err() {
                break;
            }
        }
        gauge.leave();
        drop(tx);
    });
    tokio_stream(rx)
}

/// An mpsc receiver as a Stream, without pulling in tokio-stream.
fn tokio_stream(
    rx: tokio::sync::mpsc::Receiver<Chunk>,
) -> impl futures_core::Stream<Item = Chunk> + Send {
    struct S(tokio::sync::mpsc::Receiver<Chunk>);
    impl futures_core::Stream for S {
        type Item = Chunk;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Chunk>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}

/// A temp dir with a config file and a database path inside it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

/// The test default `[poll] schedule`: once a year, so a daemon started by a test polls each
/// source once and never again on its own. (The shipped default ticks every quarter hour, which
/// a test running across a quarter-hour boundary would see as an extra poll.) Tests that want
/// repeated polls set a per-source `schedule`.
pub const QUIET: &str = "schedule = \"0 0 3 1 1 *\"";

impl Env {
    /// Writes `bantin.toml` with a storage path in the temp dir, fast polite settings for tests,
    /// then `extra` (sources etc.).
    pub fn new(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("bantin.toml");
        let db = dir.path().join("data/bantin.db");
        let text = format!(
            "[storage]\npath = {db:?}\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[poll]\n{QUIET}\nhost_interval = \"0s\"\ntimeout = \"5s\"\nconnect_timeout = \"2s\"\n\n{extra}"
        );
        std::fs::write(&config_path, text).unwrap();
        Env { dir, config_path }
    }

    pub fn config(&self) -> Config {
        config::load(&self.config_path).unwrap_or_else(|p| panic!("bad test config:\n{p}"))
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data/bantin.db")
    }

    pub async fn ingestor(&self) -> Ingestor {
        Ingestor::open(self.config()).await.unwrap()
    }
}

/// A `[[sources]]` table.
pub fn source(id: &str, url: &str, extra: &str) -> String {
    format!("[[sources]]\nid = \"{id}\"\nname = \"{id}\"\nurl = \"{url}\"\n{extra}\n")
}

/// Polls the given sources now and returns the reports.
pub async fn poll(ing: &Ingestor, ids: &[&str]) -> Vec<Report> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ing.poll_now(&ids, |_| {}).await.unwrap()
}

/// All stored articles, newest first.
pub fn articles(ing: &Ingestor) -> Vec<StoredArticle> {
    ing.store
        .articles(&ArticleQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

/// An RSS 2.0 document around `items`.
pub fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n<title>Báo thử</title>\n<link>https://bao.example.vn/</link>\n<description>d</description>\n{items}\n</channel>\n</rss>\n"
    )
}

/// One RSS item.
pub fn item(title: &str, link: &str, guid: Option<&str>, pub_date: &str) -> String {
    let guid = guid
        .map(|g| format!("<guid isPermaLink=\"false\">{g}</guid>"))
        .unwrap_or_default();
    format!(
        "<item><title><![CDATA[{title}]]></title><link>{link}</link>{guid}<pubDate>{pub_date}</pubDate><description><![CDATA[<p>Tóm tắt: {title}</p>]]></description></item>\n"
    )
}

/// Path of the built `bantin` binary.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bantin"))
}

impl Env {
    /// Like [`Env::new`], with `poll` as the whole `[poll]` table (for timeouts, body caps and
    /// politeness limits other than the defaults of [`Env::new`]).
    pub fn with_poll(poll: &str, extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("bantin.toml");
        let db = dir.path().join("data/bantin.db");
        let quiet = if poll.contains("schedule") { "" } else { QUIET };
        let text = format!("[storage]\npath = {db:?}\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[poll]\n{quiet}\n{poll}\n\n{extra}");
        std::fs::write(&config_path, text).unwrap();
        Env { dir, config_path }
    }
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` when `within` has passed.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the `bantin` binary with `args` (and `config` as `--config`, when given) on a blocking
/// thread, so that the fixture server keeps serving on the test's runtime meanwhile.
pub async fn run_bantin(config: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("BANTIN_CONFIG").env("RUST_LOG", "warn");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(args);
    run_command(cmd).await
}

/// Runs the bantin binary with `args` (which ask for `--json`) on `config`; it must succeed
/// (its stderr is the failure message), and its stdout is the JSON returned.
pub async fn bantin_json(config: &Path, args: &[&str]) -> serde_json::Value {
    let out = run_bantin(Some(config), args).await;
    assert!(
        out.status.success(),
        "bantin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bantin {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `cmd` to completion on a blocking thread.
pub async fn run_command(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("cannot run the bantin binary"))
        .await
        .unwrap()
}

/// A feed with `n` items on `host`, newest first, an hour apart from 22 Aug 2026 21:00 +07:00.
pub fn feed_of(host: &str, n: usize) -> String {
    rss(&(0..n)
        .map(|i| {
            item(
                &format!("Tin {i} của {host}"),
                &format!("https://{host}/tin-{i}.html"),
                Some(&format!("{host}-{i}")),
                &format!("Sat, 22 Aug 2026 {:02}:00:00 +0700", 21 - i),
            )
        })
        .collect::<String>())
}

/// A `bantin run` process (stderr to `log`), killed if the test ends without stopping it.
pub struct Running {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Running {
    /// Starts `bantin run --config CONFIG` with its log in `log`.
    pub fn start(config: &Path, log: PathBuf) -> Running {
        let child = std::process::Command::new(bin())
            .env_remove("BANTIN_CONFIG")
            .env("RUST_LOG", "info")
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Running { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("bantin run exited early with {status}:\n{}", self.log());
        }
    }

    /// Sends a signal by name ("TERM", "INT", "HUP") with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(&pid)
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {pid} failed");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
