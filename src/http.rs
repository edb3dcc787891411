//! The HTTP server, the only place that knows axum: this file is the boundary (shared state,
//! the route table, the layers every request goes through, binding and serving); each route's
//! handlers live in a module of their own.
//!
//! - `feeds`: merged and per-topic feeds in every [`Format`], and `/sources.opml`;
//! - `search`: `/search.EXT?q=`, search results as a feed in every [`Format`];
//! - `index`: the index page;
//! - `health`: `/healthz` and `/metrics`;
//! - `unsubscribe`: the unsubscribe pages;
//! - `cache`: rendered bodies kept with their gzip and brotli forms and a strong ETag per
//!   encoding ([`CACHE_MAX_AGE`]), answered with 304 when the client's validators match; at
//!   most a bounded number and size of them, since clients choose the keys (pages, `since`);
//! - [`connections`]: the accept loop: a deadline for each request head and a cap on
//!   connections at once, so slow clients cannot take the descriptors everything else needs.
//!
//! What the pages show is [`crate::site`]'s (which the static export renders too), and every
//! path is [`crate::site::paths`]'s: the routes below are mounted from it and from
//! [`Format::ALL`].
//!
//! Responses never carry internal error text: a failure is logged and answered with a short
//! message, and a handler that panics answers 500 for that request alone (counted in
//! `/metrics` as `bantin_panics_total{unit="http"}`) while the server goes on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::publish::Format;
use crate::site::paths::{self, Links};
use crate::site::Scope;
use crate::store::Store;
use crate::unsubscribe::Secret;

mod cache;
pub mod connections;
mod feeds;
mod health;
mod index;
mod search;
mod unsubscribe;

pub use cache::CACHE_MAX_AGE;

/// A request taking longer than this is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    config: RwLock<Arc<Config>>,
    /// Bumped on every reload: part of every cache entry's validity.
    config_generation: AtomicU64,
    store: Store,
    metrics: Arc<Metrics>,
    cache: Mutex<cache::Bodies>,
    /// Verifies unsubscribe links; None until digests are set up.
    secret: RwLock<Option<Secret>>,
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
    let mut router = Router::new().route(&paths::route(paths::INDEX), get(index::index));
    for format in Format::ALL {
        router = router.route(
            &merged_feed_route(format),
            get(move |s, q, h| feeds::feed(s, q, h, format)),
        );
        router = router.route(
            &paths::route(&paths::search(format)),
            get(move |s, q, h| search::search(s, q, h, format)),
        );
    }
    router
        .route(
            &paths::route(&format!("{}/{{file}}", paths::TOPICS)),
            get(feeds::topic_feed),
        )
        .route(&paths::route(paths::SOURCES_OPML), get(feeds::opml))
        .route(&paths::route(paths::HEALTHZ), get(health::healthz))
        .route(&paths::route(paths::METRICS), get(health::metrics))
        .route(
            &paths::route(paths::UNSUBSCRIBE),
            get(unsubscribe::page).post(unsubscribe::post),
        )
        .fallback(not_found)
}

/// The route of the merged feed in `format` (`/feed.rss`), also its label in `/metrics`.
fn merged_feed_route(format: Format) -> String {
    paths::route(&paths::feed(&Scope::All, format, Links::Live))
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

/// Query parameters.
type Params = Query<HashMap<String, String>>;

/// A short plain-text answer, counted under `route`.
fn plain(app: &AppState, route: &str, status: StatusCode, msg: &str) -> Response {
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
