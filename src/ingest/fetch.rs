//! Polite, conditional HTTP fetching: the only place that knows reqwest.
//!
//! - One client for the process: rustls, a cookie store (qdnd.vn redirects to itself until it
//!   has its cookie), gzip/brotli/deflate.
//! - Redirects are followed here, not by reqwest, so that 301/308 can be told from 302/307 and
//!   loops caught: at most [`MAX_REDIRECTS`] hops.
//! - The body cap is enforced while streaming; the total timeout covers connect, headers and
//!   body, so a server that trickles bytes cannot hold a poll forever.
//! - Politeness: a global limit, at most `per_host` requests in flight per host and a minimum
//!   spacing between requests to one host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::config::{Poll, Source};
use crate::store::SourceState;

pub const MAX_REDIRECTS: usize = 10;

/// An instant as HTTP writes it (IMF-fixdate, RFC 9110 §5.6.7), for a UTC time.
const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

/// What to fetch, with the validators of the last successful fetch.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: Url,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub user_agent: Option<String>,
    /// Fetched first (its body discarded) so that the site sets its cookies.
    pub prime_url: Option<Url>,
}

impl Request {
    /// A poll of `source`: from the URL its state says (it moves after a permanent redirect),
    /// with the validators of its last fetch, its user agent, and its `prime_url` fetched first.
    pub fn poll(source: &Source, state: Option<&SourceState>) -> Request {
        Request {
            url: state
                .and_then(|s| Url::parse(&s.current_url).ok())
                .unwrap_or_else(|| source.url.clone()),
            etag: state.and_then(|s| s.etag.clone()),
            last_modified: state.and_then(|s| s.last_modified.clone()),
            user_agent: source.user_agent.clone(),
            prime_url: source.prime_url.clone(),
        }
    }

    /// An article page of `source`: unconditional (each page is fetched once), with the
    /// source's user agent.
    ///
    /// Never primed, in the daemon and in `bantin sources test` alike: pages are fetched right
    /// after a poll of their source, which primed the shared cookie jar before its list, so a
    /// page fetch behaves the same in both and the preview cannot pass where the daemon fails.
    pub fn page(source: &Source, url: Url) -> Request {
        Request {
            url,
            etag: None,
            last_modified: None,
            user_agent: source.user_agent.clone(),
            prime_url: None,
        }
    }

    /// A document a source's own document points to (a sitemap index's child sitemap), with the
    /// source's user agent, never primed (the poll just was). `changed_since`: sent as
    /// If-Modified-Since; a child has no validators of its own, so the time since which it is
    /// wanted stands in for them.
    pub fn followed(source: &Source, url: Url, changed_since: Option<DateTime<Utc>>) -> Request {
        Request {
            url,
            etag: None,
            last_modified: changed_since.map(|t| t.format(HTTP_DATE).to_string()),
            user_agent: source.user_agent.clone(),
            prime_url: None,
        }
    }

    /// A URL no source stands behind (`bantin discover`): the default user agent,
    /// unconditional, no priming.
    pub fn plain(url: Url) -> Request {
        Request {
            url,
            etag: None,
            last_modified: None,
            user_agent: None,
            prime_url: None,
        }
    }
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub enum Response {
    /// 304: the feed has not changed since the validators were stored.
    NotModified {
        moved_to: Option<Url>,
    },
    Body(Box<Body>),
}

#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// The `charset` parameter of Content-Type, if any.
    pub charset: Option<String>,
    pub content_type: Option<String>,
    /// Where the body came from after all redirects (the base for relative links).
    pub final_url: Url,
    /// Set when the chain started with permanent redirects (301/308): the URL to poll from now on.
    pub moved_to: Option<Url>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Cache-Control max-age: the server's hint for the next poll.
    pub max_age: Option<Duration>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum FetchError {
    #[error("gone (HTTP 410): not polled again until its url changes in the config")]
    Gone,
    #[error("HTTP {status}{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("HTTP {0}")]
    Status(u16),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("redirect without a usable Location header")]
    BadRedirect,
    #[error("body larger than the {limit}-byte cap (max_bytes)")]
    TooLarge { limit: u64 },
    #[error("timed out after {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("{0}")]
    Network(String),
    /// A 304 to a request without validators ([`Fetcher::fetch_body`]).
    #[error("unexpected 304 Not Modified")]
    UnexpectedNotModified,
}

/// Per-host politeness state.
struct HostGate {
    in_flight: Arc<Semaphore>,
    next_slot: Mutex<Instant>,
}

/// The process's HTTP client with its politeness limits.
pub struct Fetcher {
    client: reqwest::Client,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    per_host: usize,
    host_interval: Duration,
    timeout: Duration,
    max_bytes: u64,
    user_agent: String,
}

impl Fetcher {
    pub fn new(poll: &Poll) -> Result<Fetcher, FetchError> {
        // reqwest is built without a default crypto provider; ring is the one we ship. A second
        // install (tests build several fetchers) fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(poll.connect_timeout)
            .timeout(poll.timeout)
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| {
                FetchError::Network(format!("cannot build HTTP client: {}", error_chain(&e)))
            })?;
        Ok(Fetcher {
            client,
            global: Semaphore::new(poll.concurrency),
            hosts: Mutex::new(HashMap::new()),
            per_host: poll.per_host,
            host_interval: poll.host_interval,
            timeout: poll.timeout,
            max_bytes: poll.max_bytes,
            user_agent: poll.user_agent.clone(),
        })
    }

    /// The body cap (`[poll] max_bytes`): also the cap of a compressed document once
    /// decompressed.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Fetches a feed, within the global and per-host limits and the total timeout.
    pub async fn fetch(&self, req: &Request) -> Result<Response, FetchError> {
        let _global = self
            .global
            .acquire()
            .await
            .map_err(|_| FetchError::Network("shutting down".into()))?;
        if let Some(prime) = &req.prime_url {
            // Cookies only: a failure here shows up as the feed's own failure, if any.
            let _ = tokio::time::timeout(self.timeout, self.chain(prime, req, false)).await;
        }
        match tokio::time::timeout(self.timeout, self.chain(&req.url, req, true)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(self.timeout)),
        }
    }

    /// Fetches a body: for unconditional requests, where a 304 is the server's mistake.
    pub async fn fetch_body(&self, req: &Request) -> Result<Box<Body>, FetchError> {
        match self.fetch(req).await? {
            Response::Body(body) => Ok(body),
            Response::NotModified { .. } => Err(FetchError::UnexpectedNotModified),
        }
    }

    fn gate(&self, url: &Url) -> Arc<HostGate> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    in_flight: Arc::new(Semaphore::new(self.per_host)),
                    next_slot: Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Follows redirects by hand from `start`.
    async fn chain(
        &self,
        start: &Url,
        req: &Request,
        conditional: bool,
    ) -> Result<Response, FetchError> {
        let mut url = start.clone();
        let mut seen = vec![url.clone()];
        let mut moved_to: Option<Url> = None;
        let mut all_permanent = true;
        loop {
            // The host permit is held until the body is read: bodies count as requests in flight.
            let (resp, _permit) = self.one(&url, req, conditional).await?;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| url.join(loc.trim()).ok())
                    .ok_or(FetchError::BadRedirect)?;
                let permanent = matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                all_permanent &= permanent;
                if all_permanent {
                    moved_to = Some(next.clone());
                }
                if seen.contains(&next) {
                    return Err(FetchError::RedirectLoop(next.to_string()));
                }
                if seen.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                seen.push(next.clone());
                url = next;
                continue;
            }
            return self.finish(resp, url, moved_to).await;
        }
    }

    /// One request, through the host's gate; returns the response with the host permit.
    async fn one(
        &self,
        url: &Url,
        req: &Request,
        conditional: bool,
    ) -> Result<(reqwest::Response, OwnedSemaphorePermit), FetchError> {
        let gate = self.gate(url);
        let permit = gate
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FetchError::Network("shutting down".into()))?;
        let wait_until = {
            let mut slot = gate.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = (*slot).max(now);
            *slot = at + self.host_interval;
            at
        };
        tokio::time::sleep_until(wait_until).await;

        let mut headers = HeaderMap::new();
        let ua = req.user_agent.as_deref().unwrap_or(&self.user_agent);
        if let Ok(v) = HeaderValue::from_str(ua) {
            headers.insert(header::USER_AGENT, v);
        }
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            ),
        );
        if conditional {
            if let Some(v) = req
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(header::IF_NONE_MATCH, v);
            }
            if let Some(v) = req
                .last_modified
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, v);
            }
        }
        self.client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map(|resp| (resp, permit))
            .map_err(|e| request_error(&e, self.timeout))
    }

    /// Turns the final response into a result, streaming the body under the cap.
    async fn finish(
        &self,
        mut resp: reqwest::Response,
        url: Url,
        moved_to: Option<Url>,
    ) -> Result<Response, FetchError> {
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Response::NotModified { moved_to });
        }
        if status == StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(FetchError::Throttled {
                status: status.as_u16(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let h = resp.headers();
        let text = |name: header::HeaderName| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        let content_type = text(header::CONTENT_TYPE);
        let charset = content_type.as_deref().and_then(charset_of);
        let etag = text(header::ETAG);
        let last_modified = text(header::LAST_MODIFIED);
        let max_age = text(header::CACHE_CONTROL).as_deref().and_then(max_age_of);

        // Sized once when the length is announced: grown by doubling, a body's buffer costs up
        // to twice the body and a copy at each step.
        let announced = resp.content_length().unwrap_or(0).min(self.max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() as u64 + chunk.len() as u64 > self.max_bytes {
                        return Err(FetchError::TooLarge {
                            limit: self.max_bytes,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(request_error(&e, self.timeout)),
            }
        }
        Ok(Response::Body(Box::new(Body {
            bytes,
            charset,
            content_type,
            final_url: url,
            moved_to,
            etag,
            last_modified,
            max_age,
        })))
    }
}

fn request_error(e: &reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout(timeout);
    }
    // reqwest's outer messages ("error sending request for url (…)", "client error (Connect)")
    // say nothing the source line does not; the innermost cause is what an admin can act on.
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "body interrupted"
    } else {
        "request failed"
    };
    FetchError::Network(format!("{what}: {cause}"))
}

/// "error sending request: connection refused" rather than reqwest's outer message alone.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn max_age_of(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|d| {
        let (k, v) = d.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("max-age"))
            .then(|| v.trim().parse().ok().map(Duration::from_secs))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(
            charset_of("application/rss+xml; charset=\"windows-1258\""),
            Some("windows-1258".into())
        );
        assert_eq!(charset_of("text/xml"), None);
        assert_eq!(
            max_age_of("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age_of("no-cache"), None);
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn a_followed_document_is_asked_for_changes_since_a_time() {
        use chrono::TimeZone;
        let source = crate::config::parse(
            std::path::Path::new("b.toml"),
            "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/sitemap.xml\"\nkind = \"sitemap\"\nuser_agent = \"Mozilla/5.0\"\n",
        )
        .unwrap()
        .sources
        .remove(0);
        let url = Url::parse("https://a.vn/sitemap-news.xml").unwrap();
        let since = Utc.with_ymd_and_hms(2026, 11, 28, 2, 5, 9).unwrap();
        let req = Request::followed(&source, url.clone(), Some(since));
        assert_eq!(
            req.last_modified.as_deref(),
            Some("Sat, 28 Nov 2026 02:05:09 GMT")
        );
        assert_eq!(req.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!((req.etag, req.prime_url), (None, None));
        assert_eq!(Request::followed(&source, url, None).last_modified, None);
    }
}
