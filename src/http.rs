//! The HTTP server: merged and per-topic feeds in three formats, the index page, OPML, health
//! and metrics. The only place that knows axum.
//!
//! Rendered bodies are cached (with their gzip and brotli forms and a strong ETag per encoding)
//! and reused until the store's generation changes (ingest or re-matching committed something
//! readers see), the configuration is reloaded, or [`CACHE_MAX_AGE`] passes (another process,
//! such as `bantin fetch`, may have written to the database). A busy feed therefore costs a
//! lookup and a copy, not a query.
//!
//! Responses never carry internal error text: a failure is logged and answered with a short
//! message, and a handler that panics answers 500 for that request alone (counted in
//! `/metrics` as `bantin_panics_total{unit="http"}`) while the server goes on.
//!
//! Connections are accepted by [`connections`]: a deadline for each request head and a cap on
//! connections at once, so slow clients cannot take the descriptors everything else needs.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::publish::{self, Channel, Entry, Format};
use crate::store::{ArticleQuery, SourceHealth, Store, StoreError, StoredArticle};
use crate::unsubscribe::{self, Secret};

pub mod connections;

/// Items in a feed unless `?limit=` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// A cached body is rendered again after this long even if nothing in this process changed.
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(30);
/// A request taking longer than this is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The scheduler is considered dead when it has not turned for this long.
const HEARTBEAT_MAX_AGE: i64 = 180;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    config: RwLock<Arc<Config>>,
    /// Bumped on every reload: part of every cache entry's validity.
    config_generation: AtomicU64,
    store: Store,
    metrics: Arc<Metrics>,
    cache: Mutex<HashMap<String, Arc<Rendered>>>,
    /// Verifies unsubscribe links; None until digests are set up.
    secret: RwLock<Option<Secret>>,
}

/// A rendered body with everything needed to answer for it.
struct Rendered {
    made: Instant,
    generation: (u64, u64),
    status: StatusCode,
    content_type: &'static str,
    /// Strong validator of the identity body (hex); encodings get a suffix.
    hash: String,
    last_modified: Option<DateTime<Utc>>,
    max_age: u64,
    body: Vec<u8>,
    gzip: Vec<u8>,
    brotli: Vec<u8>,
}

impl AppState {
    pub fn new(config: Arc<Config>, store: Store, metrics: Arc<Metrics>) -> AppState {
        AppState(Arc::new(Shared {
            config: RwLock::new(config),
            config_generation: AtomicU64::new(0),
            store,
            metrics,
            cache: Mutex::default(),
            secret: RwLock::new(None),
        }))
    }

    /// The key unsubscribe links are signed with.
    pub fn set_secret(&self, secret: Option<Secret>) {
        *self.0.secret.write().unwrap_or_else(|p| p.into_inner()) = secret;
    }

    /// Takes a reloaded configuration: topics, sources and links change, caches are dropped.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.0.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        self.0.config_generation.fetch_add(1, Ordering::AcqRel);
        self.0
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn config(&self) -> Arc<Config> {
        self.0
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn generation(&self) -> (u64, u64) {
        (
            self.0.store.generation(),
            self.0.config_generation.load(Ordering::Acquire),
        )
    }
}

/// All routes, with the layers every request goes through.
pub fn router(state: AppState) -> Router {
    with_layers(routes(), state)
}

/// The route table, without layers or state. Public for tests only, which add a route of their
/// own and serve it through [`with_layers`] and [`serve_router`] as the daemon does.
#[doc(hidden)]
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/feed.rss", get(|s, q, h| feed(s, q, h, Format::Rss)))
        .route("/feed.atom", get(|s, q, h| feed(s, q, h, Format::Atom)))
        .route("/feed.json", get(|s, q, h| feed(s, q, h, Format::Json)))
        .route("/topics/{file}", get(topic_feed))
        .route("/sources.opml", get(opml))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe_post))
        .fallback(not_found)
}

/// `routes` behind the layers [`router`] uses: the request timeout, and a caught panic turned
/// into a 500 for that request.
#[doc(hidden)]
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let metrics = state.0.metrics.clone();
    routes
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            move |panic: Box<dyn std::any::Any + Send>| panicked(&metrics, panic.as_ref()),
        ))
        .with_state(state)
}

/// The answer for a request whose handler panicked: logged with the panic message, counted,
/// and a short 500 without the message.
fn panicked(metrics: &Metrics, panic: &(dyn std::any::Any + Send)) -> Response {
    let panic = crate::guard::Panic::from_payload(panic);
    tracing::error!(panic = panic.message(), "HTTP handler panicked");
    metrics.panicked("http");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "internal error\n",
    )
        .into_response()
}

/// Connections the kernel completes and queues for [`serve`] to accept. A burst of slow clients
/// arrives faster than it is accepted; past the queue, new connections (a health probe among
/// them) are dropped and retried by the client a second later. Linux caps it at
/// `net.core.somaxconn` (4096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` for [`serve`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std's and tokio's own `bind`: a restart can listen again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, within the `[http]` limits
/// (header timeout, connection cap) read at the start; a reload does not change them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let http = state.config().http.clone();
    let file_limit = connections::file_limit();
    let max_connections = connections::connection_cap(http.max_connections, file_limit);
    if let (Some(wanted), Some(files)) = (http.max_connections, file_limit) {
        if wanted > max_connections {
            tracing::warn!(
                max_connections = wanted,
                file_limit = files,
                serving = max_connections,
                "[http] max_connections is more than half the file limit allows; serving fewer (raise LimitNOFILE)"
            );
        }
    }
    let limits = connections::Limits {
        max_connections,
        header_timeout: http.header_timeout,
    };
    tracing::info!(
        max_connections,
        file_limit,
        header_timeout = %humantime::format_duration(limits.header_timeout),
        "HTTP limits"
    );
    serve_router(listener, router(state), limits, shutdown).await
}

/// Serves any router (tests: [`with_layers`] around [`routes`] and a route of their own) as
/// [`serve`] does.
#[doc(hidden)]
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: connections::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve(listener, router, limits, shutdown).await
}

/// What a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Source(String),
    Tag(String),
    Topic(String),
}

type Params = Query<HashMap<String, String>>;

async fn feed(
    State(app): State<AppState>,
    Query(q): Params,
    headers: HeaderMap,
    format: Format,
) -> Response {
    let route = match format {
        Format::Rss => "/feed.rss",
        Format::Atom => "/feed.atom",
        Format::Json => "/feed.json",
    };
    let config = app.config();
    let scope = match (q.get("source"), q.get("tag")) {
        (Some(_), Some(_)) => {
            return plain(
                &app,
                route,
                StatusCode::BAD_REQUEST,
                "use either ?source= or ?tag=, not both",
            )
        }
        (Some(s), None) => {
            if config.source(s).is_none() {
                let msg = format!("no source {s:?}; see /sources.opml for the sources");
                return plain(&app, route, StatusCode::NOT_FOUND, &msg);
            }
            Scope::Source(s.clone())
        }
        (None, Some(t)) => {
            if !config.sources.iter().any(|s| s.tags.contains(t)) {
                let msg = format!("no source has the tag {t:?}");
                return plain(&app, route, StatusCode::NOT_FOUND, &msg);
            }
            Scope::Tag(t.clone())
        }
        (None, None) => Scope::All,
    };
    let limit = match limit_of(&q) {
        Ok(l) => l,
        Err(msg) => return plain(&app, route, StatusCode::BAD_REQUEST, &msg),
    };
    serve_feed(app, route, scope, format, limit, &headers).await
}

async fn topic_feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let route = "/topics/{id}";
    let Some((id, format)) = file
        .rsplit_once('.')
        .and_then(|(id, ext)| Some((id, Format::from_extension(ext)?)))
    else {
        return plain(
            &app,
            route,
            StatusCode::NOT_FOUND,
            "not found: topic feeds are /topics/ID.rss, /topics/ID.atom and /topics/ID.json",
        );
    };
    let config = app.config();
    if !config.topics.topics().any(|(t, _)| t == id) {
        let known: Vec<&str> = config.topics.topics().map(|(t, _)| t).collect();
        let msg = format!(
            "no topic {id:?}; topics: {}",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
        return plain(&app, route, StatusCode::NOT_FOUND, &msg);
    }
    let limit = match limit_of(&q) {
        Ok(l) => l,
        Err(msg) => return plain(&app, route, StatusCode::BAD_REQUEST, &msg),
    };
    serve_feed(
        app,
        route,
        Scope::Topic(id.to_string()),
        format,
        limit,
        &headers,
    )
    .await
}

fn limit_of(q: &HashMap<String, String>) -> Result<usize, String> {
    match q.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit must be a number from 1 to {MAX_LIMIT}, not {v:?}"
            )),
        },
    }
}

async fn serve_feed(
    app: AppState,
    route: &'static str,
    scope: Scope,
    format: Format,
    limit: usize,
    headers: &HeaderMap,
) -> Response {
    let key = format!("feed|{scope:?}|{}|{limit}", format.extension());
    let rendered = cached(&app, key, move |app| {
        let config = app.config();
        let (entries, last_modified) = feed_entries(&config, &app.0.store, &scope, limit)?;
        let channel = channel(&config, &scope, format, limit, last_modified, Links::Live);
        let body = publish::render(format, &channel, &entries);
        Ok(Page {
            status: StatusCode::OK,
            max_age: poll_seconds(&config),
            content_type: format.content_type(),
            body,
            last_modified,
        })
    })
    .await;
    respond(&app, route, rendered, headers)
}

/// Newest first, one entry per story (with every source of the story), at most `limit`; and
/// when the newest of them last changed (Last-Modified).
fn feed_entries(
    config: &Config,
    store: &Store,
    scope: &Scope,
    limit: usize,
) -> Result<(Vec<Entry>, Option<DateTime<Utc>>), StoreError> {
    let mut q = ArticleQuery {
        // Room for syndicated copies folded into their story.
        limit: limit * 3,
        ..Default::default()
    };
    match scope {
        Scope::All => {}
        Scope::Source(s) => q.source = Some(s.clone()),
        Scope::Tag(t) => {
            q.any_source = Some(
                config
                    .sources
                    .iter()
                    .filter(|s| s.tags.contains(t))
                    .map(|s| s.id.clone())
                    .collect(),
            );
        }
        Scope::Topic(t) => q.topic = Some(t.clone()),
    }
    let stories = stories(store, &q, limit)?;
    let topic_names: HashMap<&str, &str> = config.topics.topics().collect();
    let mut last_changed: Option<DateTime<Utc>> = None;
    let entries = stories
        .into_iter()
        .map(|story| {
            let topics: Vec<String> = story
                .topics
                .iter()
                .map(|t| {
                    topic_names
                        .get(t.as_str())
                        .copied()
                        .unwrap_or(t)
                        .to_string()
                })
                .collect();
            last_changed = last_changed.max(Some(story.changed));
            let (a, sources) = (story.lead, story.sources);
            Entry {
                id: format!("urn:bantin:{}", a.ident),
                title: a.title,
                link: a.url,
                summary_html: a.summary_html,
                content_html: a.content_html,
                published: a.published,
                updated: a.updated,
                authors: a.authors,
                categories: topics,
                sources: sources
                    .iter()
                    .map(|id| match config.source(id) {
                        Some(s) => (s.name.clone(), s.url.to_string()),
                        None => (id.clone(), config.http.public_url.to_string()),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok((entries, last_changed))
}

/// A story: its newest article, with the sources and topics of all its syndicated copies, and
/// when any of them last changed.
struct Story {
    lead: StoredArticle,
    sources: Vec<String>,
    topics: Vec<String>,
    changed: DateTime<Utc>,
}

/// Stored articles for `q`, newest first, one per story, at most `limit` stories.
fn stories(store: &Store, q: &ArticleQuery, limit: usize) -> Result<Vec<Story>, StoreError> {
    let mut out: Vec<Story> = Vec::new();
    for a in store.articles(q)? {
        let changed = a.updated.unwrap_or(a.first_seen).max(a.first_seen);
        match out.iter().position(|s| s.lead.story == a.story) {
            Some(i) => {
                let story = &mut out[i];
                for s in &a.sources {
                    if !story.sources.contains(s) {
                        story.sources.push(s.clone());
                    }
                }
                for t in &a.topics {
                    if !story.topics.contains(t) {
                        story.topics.push(t.clone());
                    }
                }
                story.changed = story.changed.max(changed);
            }
            None if out.len() < limit => out.push(Story {
                sources: a.sources.clone(),
                topics: a.topics.clone(),
                changed,
                lead: a,
            }),
            None => {}
        }
    }
    Ok(out)
}

/// Where feeds live: on the running server (query parameters) or as exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    Live,
    Static,
}

/// The path of a feed, relative to the public URL.
fn feed_path(scope: &Scope, format: Format, links: Links) -> String {
    let ext = format.extension();
    match (scope, links) {
        (Scope::All, _) => format!("feed.{ext}"),
        (Scope::Topic(t), _) => format!("topics/{t}.{ext}"),
        (Scope::Source(s), Links::Live) => format!("feed.{ext}?source={s}"),
        (Scope::Tag(t), Links::Live) => format!("feed.{ext}?tag={t}"),
        (Scope::Source(s), Links::Static) => format!("sources/{s}.{ext}"),
        (Scope::Tag(t), Links::Static) => format!("tags/{t}.{ext}"),
    }
}

fn channel(
    config: &Config,
    scope: &Scope,
    format: Format,
    limit: usize,
    updated: Option<DateTime<Utc>>,
    links: Links,
) -> Channel {
    let base = &config.http.public_url;
    let title = match scope {
        Scope::All => "Tất cả nguồn".to_string(),
        Scope::Source(s) => config
            .source(s)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| s.clone()),
        Scope::Tag(t) => format!("Nhóm nguồn {t}"),
        Scope::Topic(t) => config
            .topics
            .topics()
            .find(|(id, _)| id == t)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| t.clone()),
    };
    let path = feed_path(scope, format, links);
    let path = if limit == DEFAULT_LIMIT {
        path
    } else if path.contains('?') {
        format!("{path}&limit={limit}")
    } else {
        format!("{path}?limit={limit}")
    };
    // An empty feed has no time of its own: the epoch keeps the bytes (and the ETag) stable.
    let updated = updated.unwrap_or_default();
    Channel {
        title: format!("bantin – {title}"),
        description: format!("{title}: tin tổng hợp từ các báo Đảng và Chính phủ"),
        link: base.to_string(),
        self_url: base
            .join(&path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| base.to_string()),
        ttl_minutes: (poll_seconds(config) / 60).max(1) as u32,
        updated,
    }
}

/// Seconds between two polls on the default schedule (Cache-Control max-age, RSS ttl).
fn poll_seconds(config: &Config) -> u64 {
    let now = Utc::now();
    let mut ticks = config.poll.schedule.cron.after(&now);
    match (ticks.next(), ticks.next()) {
        (Some(a), Some(b)) => (b - a).num_seconds().clamp(60, 86_400) as u64,
        _ => 900,
    }
}

/// What a renderer returns.
struct Page {
    status: StatusCode,
    /// Cache-Control max-age, seconds.
    max_age: u64,
    content_type: &'static str,
    body: Vec<u8>,
    last_modified: Option<DateTime<Utc>>,
}

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("index template: {0}")]
    Template(#[from] minijinja::Error),
}

/// The cached rendering under `key`, or a fresh one (rendered on a blocking thread).
async fn cached(
    app: &AppState,
    key: String,
    render: impl FnOnce(&AppState) -> Result<Page, RenderError> + Send + 'static,
) -> Result<Arc<Rendered>, RenderError> {
    let generation = app.generation();
    if let Some(hit) = app
        .0
        .cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        if hit.generation == generation && hit.made.elapsed() < CACHE_MAX_AGE {
            return Ok(hit.clone());
        }
    }
    let me = app.clone();
    let rendered = tokio::task::spawn_blocking(move || -> Result<Rendered, RenderError> {
        let page = render(&me)?;
        let hash = hex::encode(&Sha256::digest(&page.body)[..16]);
        Ok(Rendered {
            made: Instant::now(),
            generation,
            status: page.status,
            content_type: page.content_type,
            hash,
            last_modified: page.last_modified,
            max_age: page.max_age,
            gzip: gzip(&page.body),
            brotli: brotli(&page.body),
            body: page.body,
        })
    })
    .await
    .map_err(StoreError::Task)??;
    let rendered = Arc::new(rendered);
    app.0
        .cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, rendered.clone());
    Ok(rendered)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(body);
    e.finish().unwrap_or_default()
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        // Writing to a Vec cannot fail.
        let _ = w.write_all(body);
    }
    out
}

/// Answers with a cached rendering: 304 when the client's validators match, the best encoding
/// the client accepts otherwise.
fn respond(
    app: &AppState,
    route: &'static str,
    rendered: Result<Arc<Rendered>, RenderError>,
    headers: &HeaderMap,
) -> Response {
    let r = match rendered {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, route, "cannot render");
            return plain(
                app,
                route,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            );
        }
    };
    let accepts = |enc: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim();
                let refused =
                    parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                name.eq_ignore_ascii_case(enc) && !refused
            })
    };
    let (body, encoding, tag) = if accepts("br") {
        (&r.brotli, Some("br"), format!("\"{}-br\"", r.hash))
    } else if accepts("gzip") {
        (&r.gzip, Some("gzip"), format!("\"{}-gz\"", r.hash))
    } else {
        (&r.body, None, format!("\"{}\"", r.hash))
    };
    let mut h = HeaderMap::new();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(&mut h, header::ETAG, &tag);
    set(
        &mut h,
        header::CACHE_CONTROL,
        &format!("public, max-age={}", r.max_age),
    );
    set(&mut h, header::VARY, "Accept-Encoding");
    if let Some(lm) = r.last_modified {
        set(&mut h, header::LAST_MODIFIED, &http_date(lm));
    }
    if r.status == StatusCode::OK && not_modified(headers, &r) {
        app.0.metrics.request(route, 304);
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    set(&mut h, header::CONTENT_TYPE, r.content_type);
    if let Some(enc) = encoding {
        set(&mut h, header::CONTENT_ENCODING, enc);
    }
    app.0.metrics.request(route, r.status.as_u16());
    (r.status, h, Body::from(body.clone())).into_response()
}

/// If-None-Match (any encoding's tag of this body, or `*`) wins over If-Modified-Since.
fn not_modified(headers: &HeaderMap, r: &Rendered) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|t| {
                t == "*"
                    || t == r.hash
                    || t.strip_suffix("-gz").or_else(|| t.strip_suffix("-br"))
                        == Some(r.hash.as_str())
            });
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    match (since, r.last_modified) {
        (Some(since), Some(lm)) => lm.timestamp() <= since.timestamp(),
        _ => false,
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn plain(app: &AppState, route: &'static str, status: StatusCode, msg: &str) -> Response {
    app.0.metrics.request(route, status.as_u16());
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

async fn not_found(State(app): State<AppState>) -> Response {
    plain(
        &app,
        "other",
        StatusCode::NOT_FOUND,
        "not found; feeds are listed at /",
    )
}

const INDEX_TEMPLATE: &str = include_str!("http/index.html");

async fn index(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let rendered = cached(&app, "index".into(), |app| {
        let config = app.config();
        let body = render_index(&config, &app.0.store, Links::Live)?;
        Ok(Page {
            status: StatusCode::OK,
            // Source health changes with every poll: a minute, not a poll interval.
            max_age: 60,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            last_modified: None,
        })
    })
    .await;
    respond(&app, "/", rendered, &headers)
}

#[derive(serde::Serialize)]
struct FeedLinks {
    rss: String,
    atom: String,
    json: String,
}

fn feed_links(path: &str) -> FeedLinks {
    FeedLinks {
        rss: format!("{path}.rss"),
        atom: format!("{path}.atom"),
        json: format!("{path}.json"),
    }
}

#[derive(serde::Serialize)]
struct IndexArticle {
    title: String,
    url: Option<String>,
    when: String,
    sources: String,
}

fn render_index(config: &Config, store: &Store, links: Links) -> Result<String, RenderError> {
    let name_of = |id: &String| {
        config
            .source(id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.clone())
    };
    let display = |s: &Story| IndexArticle {
        title: s.lead.title.clone(),
        url: s.lead.url.clone(),
        when: s
            .lead
            .published
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("%H:%M %d/%m/%Y")
            .to_string(),
        sources: s.sources.iter().map(name_of).collect::<Vec<_>>().join(", "),
    };
    let newest = |q: ArticleQuery, n: usize| -> Result<Vec<IndexArticle>, StoreError> {
        Ok(stories(store, &ArticleQuery { limit: n * 3, ..q }, n)?
            .iter()
            .map(display)
            .collect())
    };
    let mut topics = Vec::new();
    for (id, name) in config.topics.topics() {
        let articles = newest(
            ArticleQuery {
                topic: Some(id.to_string()),
                ..Default::default()
            },
            5,
        )?;
        topics.push(minijinja::context! {
            id, name,
            feeds => feed_links(&format!("topics/{id}")),
            articles,
        });
    }
    let latest = newest(ArticleQuery::default(), 10)?;
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let states = store.source_states(&ids)?;
    let now = Utc::now();
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|s| {
            let st = states.iter().find(|x| x.id == s.id);
            let health = st.map(|x| x.health).unwrap_or(SourceHealth::Pending);
            minijinja::context! {
                id => s.id, name => s.name, url => s.url.to_string(),
                state => health.as_str(),
                state_vi => match health {
                    SourceHealth::Pending => "chưa lấy",
                    SourceHealth::Ok => "tốt",
                    SourceHealth::Failing => "đang lỗi",
                    SourceHealth::Gone => "đã ngừng",
                    SourceHealth::Empty => "trống",
                },
                last_success => st.and_then(|x| x.last_success).map(|t| t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).format("%H:%M %d/%m").to_string()),
                last_error => st.and_then(|x| x.last_error.clone()),
                articles => st.map(|x| x.articles).unwrap_or(0),
                stale_days => st.and_then(|x| x.stale_days(now, config.poll.stale_days)),
                feeds => feed_path(&Scope::Source(s.id.clone()), Format::Rss, links),
            }
        })
        .collect();
    let mut env = minijinja::Environment::new();
    // Autoescaping follows the template name: ".html" escapes every value.
    env.add_template("index.html", INDEX_TEMPLATE)?;
    let tmpl = env.get_template("index.html")?;
    tmpl.render(minijinja::context! {
        base => config.http.public_url.to_string(),
        merged => feed_links("feed"),
        topics, latest, sources,
    })
    .map_err(RenderError::Template)
}

async fn opml(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let rendered = cached(&app, "opml".into(), |app| {
        Ok(Page {
            status: StatusCode::OK,
            max_age: 300,
            content_type: "text/x-opml; charset=utf-8",
            body: sources_opml(&app.config()).into_bytes(),
            last_modified: None,
        })
    })
    .await;
    respond(&app, "/sources.opml", rendered, &headers)
}

/// The configured sources as OPML 2.0 (also `bantin opml export`).
pub fn sources_opml(config: &Config) -> String {
    use html_escape::encode_double_quoted_attribute as attr;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>bantin – nguồn tin</title>\n  </head>\n  <body>\n");
    for s in &config.sources {
        let tags = s.tags.join(",");
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\" category=\"{}\" bantinId=\"{}\"/>\n",
            attr(&s.name),
            attr(&s.name),
            attr(s.url.as_str()),
            attr(&tags),
            attr(&s.id),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

async fn healthz(State(app): State<AppState>) -> Response {
    let store = app.0.store.clone();
    let config = app.config();
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let db = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        Ok((store.article_count()?, store.source_states(&ids)?))
    })
    .await
    .map_err(StoreError::Task)
    .and_then(|r| r);
    let beat = app.0.metrics.last_beat();
    let scheduler = beat > 0 && Utc::now().timestamp() - beat <= HEARTBEAT_MAX_AGE;
    let (status, body) = match &db {
        Ok((articles, states)) => {
            let count = |h: SourceHealth| states.iter().filter(|x| x.health == h).count();
            let now = Utc::now();
            let stale: Vec<&str> = states
                .iter()
                .filter(|s| s.stale_days(now, config.poll.stale_days).is_some())
                .map(|s| s.id.as_str())
                .collect();
            let ok = scheduler;
            let troubled = count(SourceHealth::Failing) + count(SourceHealth::Gone) + stale.len();
            (
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                serde_json::json!({
                    // Failing, gone or stale sources degrade the service but do not make it
                    // unavailable.
                    "status": if !ok {
                        "unavailable"
                    } else if troubled > 0 {
                        "degraded"
                    } else {
                        "ok"
                    },
                    "database": true,
                    "scheduler": scheduler,
                    "articles": articles,
                    "sources": {
                        "ok": count(SourceHealth::Ok),
                        "failing": count(SourceHealth::Failing),
                        "gone": count(SourceHealth::Gone),
                        "empty": count(SourceHealth::Empty),
                        "pending": count(SourceHealth::Pending),
                        "stale": stale.len(),
                    },
                    // No new article for `stale_days` days: their feeds may have moved.
                    "stale": stale,
                    "stale_days": config.poll.stale_days,
                }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": false, "scheduler": scheduler }),
            )
        }
    };
    app.0.metrics.request("/healthz", status.as_u16());
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn metrics(State(app): State<AppState>) -> Response {
    let store = app.0.store.clone();
    let config = app.config();
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let db = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        Ok((
            store.article_count()?,
            store.topic_counts(Utc::now())?,
            store.source_states(&ids)?,
        ))
    })
    .await
    .map_err(StoreError::Task)
    .and_then(|r| r);
    let Ok((articles, topics, states)) = db else {
        return plain(
            &app,
            "/metrics",
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        );
    };
    let m = &app.0.metrics;
    let mut out = String::new();
    out.push_str("# HELP bantin_fetches_total Source polls by outcome.\n# TYPE bantin_fetches_total counter\n");
    for (outcome, n) in m.fetch_counts() {
        out.push_str(&format!(
            "bantin_fetches_total{{outcome=\"{outcome}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP bantin_articles Stored articles.\n# TYPE bantin_articles gauge\n");
    out.push_str(&format!("bantin_articles {articles}\n"));
    out.push_str("# HELP bantin_topic_matches Stored articles matching each topic.\n# TYPE bantin_topic_matches gauge\n");
    for (id, _) in config.topics.topics() {
        let n = topics.iter().find(|t| t.topic == id).map_or(0, |t| t.total);
        out.push_str(&format!("bantin_topic_matches{{topic=\"{id}\"}} {n}\n"));
    }
    out.push_str("# HELP bantin_sources Sources by state.\n# TYPE bantin_sources gauge\n");
    for h in [
        SourceHealth::Pending,
        SourceHealth::Ok,
        SourceHealth::Failing,
        SourceHealth::Gone,
        SourceHealth::Empty,
    ] {
        let n = states.iter().filter(|s| s.health == h).count();
        out.push_str(&format!("bantin_sources{{state=\"{}\"}} {n}\n", h.as_str()));
    }
    let now = Utc::now();
    let stale = states
        .iter()
        .filter(|s| s.stale_days(now, config.poll.stale_days).is_some())
        .count();
    out.push_str("# HELP bantin_sources_stale Sources with no new article for [poll] stale_days days.\n# TYPE bantin_sources_stale gauge\n");
    out.push_str(&format!("bantin_sources_stale {stale}\n"));
    out.push_str("# HELP bantin_http_requests_total HTTP requests by route and status.\n# TYPE bantin_http_requests_total counter\n");
    for ((route, status), n) in m.request_counts() {
        out.push_str(&format!(
            "bantin_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP bantin_panics_total Panics caught at a task edge, by unit of work.\n# TYPE bantin_panics_total counter\n");
    for (unit, n) in m.panic_counts() {
        out.push_str(&format!("bantin_panics_total{{unit=\"{unit}\"}} {n}\n"));
    }
    app.0.metrics.request("/metrics", 200);
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}

/// Writes every feed the server would serve (merged, per source, per tag and per topic, three
/// formats each, the default limit), the index page and the OPML file under `dir`, for hosting
/// on a plain web server. Returns the files written.
pub fn export(
    config: &Config,
    store: &Store,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    let mut write = |rel: String, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    let mut scopes = vec![(Scope::All, "feed".to_string())];
    for (id, _) in config.topics.topics() {
        scopes.push((Scope::Topic(id.to_string()), format!("topics/{id}")));
    }
    for s in &config.sources {
        scopes.push((Scope::Source(s.id.clone()), format!("sources/{}", s.id)));
    }
    let mut tags: Vec<&String> = config.sources.iter().flat_map(|s| &s.tags).collect();
    tags.sort();
    tags.dedup();
    for t in tags {
        scopes.push((Scope::Tag(t.clone()), format!("tags/{t}")));
    }
    for (scope, path) in scopes {
        let (entries, updated) = feed_entries(config, store, &scope, DEFAULT_LIMIT)?;
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let channel = channel(
                config,
                &scope,
                format,
                DEFAULT_LIMIT,
                updated,
                Links::Static,
            );
            write(
                format!("{path}.{}", format.extension()),
                &publish::render(format, &channel, &entries),
            )?;
        }
    }
    write(
        "index.html".into(),
        render_index(config, store, Links::Static)?.as_bytes(),
    )?;
    write("sources.opml".into(), sources_opml(config).as_bytes())?;
    Ok(written)
}

/// The request a token carries, or a page saying the link is not valid.
fn verified(
    app: &AppState,
    q: &HashMap<String, String>,
) -> Result<unsubscribe::Request, Box<Response>> {
    let secret = app
        .0
        .secret
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let request = match (secret, q.get("token")) {
        (Some(secret), Some(token)) => unsubscribe::verify(&secret, token).ok(),
        _ => None,
    };
    request.ok_or_else(|| {
        Box::new(page(
            app,
            StatusCode::BAD_REQUEST,
            "Liên kết không hợp lệ",
            "Liên kết hủy đăng ký này không hợp lệ hoặc đã bị sửa đổi.",
        ))
    })
}

fn what(req: &unsubscribe::Request, config: &Config) -> String {
    match &req.topic {
        None => "tất cả bản tin".to_string(),
        Some(t) => {
            let name = config
                .topics
                .topics()
                .find(|(id, _)| id == t)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| t.clone());
            format!("bản tin chủ đề “{name}”")
        }
    }
}

/// GET: a confirmation page with a button (mail scanners follow links; only a POST acts).
async fn unsubscribe_page(State(app): State<AppState>, Query(q): Params) -> Response {
    let req = match verified(&app, &q) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let token = q.get("token").cloned().unwrap_or_default();
    let body = format!(
        "<p>Hủy đăng ký {} cho địa chỉ <b>{}</b>?</p>\n<form method=\"post\" action=\"unsubscribe?token={}\"><button type=\"submit\">Hủy đăng ký</button></form>",
        html_escape::encode_text(&what(&req, &app.config())),
        html_escape::encode_text(&req.email),
        html_escape::encode_double_quoted_attribute(&token),
    );
    page(&app, StatusCode::OK, "Hủy đăng ký", &body)
}

/// POST: unsubscribes (also the RFC 8058 one-click POST mail clients send).
async fn unsubscribe_post(State(app): State<AppState>, Query(q): Params) -> Response {
    let req = match verified(&app, &q) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let store = app.0.store.clone();
    let (email, topic) = (req.email.clone(), req.topic.clone());
    let done = tokio::task::spawn_blocking(move || {
        store.unsubscribe(&email, topic.as_deref(), Utc::now())
    })
    .await
    .map_err(StoreError::Task)
    .and_then(|r| r);
    match done {
        Ok(true) => {
            tracing::info!(subscriber = %req.email, topic = ?req.topic, "unsubscribed");
            let body = format!(
                "<p>Đã hủy đăng ký {} cho <b>{}</b>. Bạn sẽ không nhận các bản tin này nữa.</p>",
                html_escape::encode_text(&what(&req, &app.config())),
                html_escape::encode_text(&req.email)
            );
            page(&app, StatusCode::OK, "Đã hủy đăng ký", &body)
        }
        Ok(false) => page(
            &app,
            StatusCode::NOT_FOUND,
            "Không tìm thấy",
            "Địa chỉ này không có trong danh sách nhận bản tin.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            page(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Lỗi",
                "Chưa hủy được; xin thử lại sau.",
            )
        }
    }
}

/// A small Vietnamese HTML page; `body` is already escaped HTML.
fn page(app: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    app.0.metrics.request("/unsubscribe", status.as_u16());
    let html = format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} – bantin</title></head>\n<body style=\"font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem\"><h1 style=\"font-size: 1.4rem\">{t}</h1>\n{body}\n</body></html>\n",
        t = html_escape::encode_text(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}
