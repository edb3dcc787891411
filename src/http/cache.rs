//! Rendered bodies, kept and answered from: each with its gzip and brotli forms and a strong
//! ETag per encoding, and a 304 when the client's validators match.
//!
//! A body is reused until the store's generation changes (ingest or re-matching committed
//! something readers see), the configuration is reloaded, or [`CACHE_MAX_AGE`] passes (another
//! process, such as `bantin fetch`, may have written to the database). A busy feed therefore
//! costs a lookup and a copy, not a query.
//!
//! Clients choose the keys (every page of every feed, every `?since=`), so the cache is bounded
//! ([`Bodies`]): at most [`MAX_BODIES`] bodies of [`MAX_BYTES`] in all, the least recently used
//! dropped first.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{plain, AppState};
use crate::site::index::IndexError;
use crate::store::StoreError;

/// A cached body is rendered again after this long even if nothing in this process changed.
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(30);
/// Bodies kept at most: every feed of a large configuration (sources, tags and topics, three
/// formats each) with room for the pages readers walk.
pub const MAX_BODIES: usize = 2048;
/// Bytes kept at most, each body counted with its compressed forms and its key.
pub const MAX_BYTES: usize = 48 * 1024 * 1024;

/// The rendered bodies kept, least recently used first out.
pub(super) struct Bodies {
    lru: lru::LruCache<String, Arc<Rendered>>,
    bytes: usize,
}

impl Default for Bodies {
    fn default() -> Self {
        Bodies {
            lru: lru::LruCache::unbounded(),
            bytes: 0,
        }
    }
}

impl Bodies {
    fn get(&mut self, key: &str) -> Option<Arc<Rendered>> {
        self.lru.get(key).cloned()
    }

    /// Keeps `rendered` under `key`, dropping the least recently used bodies past the bounds; a
    /// body larger than all of them is not kept.
    fn insert(&mut self, key: String, rendered: Arc<Rendered>) {
        let size = key.len() + rendered.size();
        if let Some((old_key, old)) = self.lru.pop_entry(&key) {
            self.bytes -= old_key.len() + old.size();
        }
        if size > MAX_BYTES {
            return;
        }
        while self.lru.len() >= MAX_BODIES || self.bytes + size > MAX_BYTES {
            let Some((k, r)) = self.lru.pop_lru() else {
                break;
            };
            self.bytes -= k.len() + r.size();
        }
        self.bytes += size;
        self.lru.put(key, rendered);
    }

    pub(super) fn clear(&mut self) {
        self.lru.clear();
        self.bytes = 0;
    }

    /// Bodies kept and their bytes.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        (self.lru.len(), self.bytes)
    }
}

/// A rendered body with everything needed to answer for it.
pub(super) struct Rendered {
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

impl Rendered {
    /// Bytes it holds.
    fn size(&self) -> usize {
        self.body.len() + self.gzip.len() + self.brotli.len() + self.hash.len()
    }
}

/// What a renderer returns.
pub(super) struct Page {
    pub status: StatusCode,
    /// Cache-Control max-age, seconds.
    pub max_age: u64,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// Why a body could not be rendered (logged; the client gets a short 500).
#[derive(Debug, thiserror::Error)]
pub(super) enum RenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("rendering task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The cached rendering under `key`, or a fresh one (rendered on a blocking thread).
pub(super) async fn cached(
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
    let rendered = Arc::new(render_now(app, generation, render).await?);
    app.0
        .cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, rendered.clone());
    Ok(rendered)
}

/// A rendering made now and not kept: for pages whose keys readers choose (a search's query),
/// which would fill the cache without bound. Answered like a cached one (ETag, 304).
pub(super) async fn fresh(
    app: &AppState,
    render: impl FnOnce(&AppState) -> Result<Page, RenderError> + Send + 'static,
) -> Result<Arc<Rendered>, RenderError> {
    Ok(Arc::new(render_now(app, app.generation(), render).await?))
}

/// Renders on a blocking thread, with the encodings and the ETag.
async fn render_now(
    app: &AppState,
    generation: (u64, u64),
    render: impl FnOnce(&AppState) -> Result<Page, RenderError> + Send + 'static,
) -> Result<Rendered, RenderError> {
    let me = app.clone();
    tokio::task::spawn_blocking(move || -> Result<Rendered, RenderError> {
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
    .await?
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
pub(super) fn respond(
    app: &AppState,
    route: &str,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: usize) -> Arc<Rendered> {
        Arc::new(Rendered {
            made: Instant::now(),
            generation: (0, 0),
            status: StatusCode::OK,
            content_type: "text/plain",
            hash: String::new(),
            last_modified: None,
            max_age: 0,
            body: vec![b'x'; bytes],
            gzip: Vec::new(),
            brotli: Vec::new(),
        })
    }

    #[test]
    fn bodies_stay_within_their_bounds() {
        let mut bodies = Bodies::default();
        // Many small pages: at most MAX_BODIES of them, the newest kept.
        for i in 0..MAX_BODIES + 100 {
            bodies.insert(format!("page {i:05}"), body(10));
        }
        assert_eq!(bodies.usage().0, MAX_BODIES);
        assert!(bodies.get("page 00000").is_none(), "the oldest went first");
        assert!(bodies
            .get(&format!("page {:05}", MAX_BODIES + 99))
            .is_some());
        // Large pages: never more than MAX_BYTES in all.
        let big = MAX_BYTES / 10;
        for i in 0..50 {
            bodies.insert(format!("big {i}"), body(big));
            assert!(bodies.usage().1 <= MAX_BYTES, "{:?}", bodies.usage());
        }
        assert!(bodies.get("big 49").is_some());
        // A body bigger than the whole cache is served, not kept.
        bodies.insert("huge".into(), body(MAX_BYTES + 1));
        assert!(bodies.get("huge").is_none());
        // A key rendered again replaces its body and its bytes.
        bodies.clear();
        bodies.insert("a".into(), body(100));
        bodies.insert("a".into(), body(50));
        assert_eq!(bodies.usage(), (1, 51));
        // Using a body keeps it: the least recently used goes.
        bodies.clear();
        let fits = MAX_BYTES / 3 - 10;
        bodies.insert("x".into(), body(fits));
        bodies.insert("y".into(), body(fits));
        bodies.insert("z".into(), body(fits));
        assert!(bodies.get("x").is_some());
        bodies.insert("w".into(), body(fits));
        assert!(bodies.get("x").is_some() && bodies.get("y").is_none());
    }
}
