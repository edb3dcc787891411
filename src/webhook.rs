//! Webhooks, end to end: what a topic's webhook POSTs (an article's JSON Feed item, as the
//! topic's feeds show it), and the delivery of what the webhook outbox holds
//! (`store::webhooks`), with retries, in order per endpoint.
//!
//! Exactly once, as for digests: a POST is in the outbox, its body frozen, in the transaction
//! that stores the match it announces; it is marked delivered only after the receiver answered
//! 2xx. The one gap that cannot be closed: the receiver accepted it and the process died before
//! recording that. Then it comes again with the same `X-Bantin-Delivery` id, by which a receiver
//! can tell.
//!
//! In order: each endpoint gets its rows oldest first, one at a time; a row that fails for now
//! holds back the rows behind it (head of line), so after an outage the receiver gets every
//! article once, in the order they were matched. Endpoints do not wait for each other.
//!
//! - 2xx: delivered. 408, 429 and 5xx, timeouts and refused connections: tried again after a
//!   minute, doubling up to an hour, or when `Retry-After` says (429, 503). Any other answer
//!   (3xx included: redirects are not followed, a POST must not turn into a GET) is refused for
//!   good: the row is failed, kept, and the next one goes.
//! - A row whose webhook is no longer in the config (its topic removed, its URL changed) is
//!   cancelled, not sent: the rows queued since go to the new URL.
//! - Signed when the endpoint has a secret: `X-Bantin-Signature: sha256=<hex>`, the HMAC-SHA256
//!   of the exact body, as GitHub signs its webhooks. The secret file is read at every round, so
//!   a rotated secret is used at once; one that cannot be read holds the endpoint's rows back
//!   (retried), the reason on the row.
//!
//! reqwest lives here for POSTs, as it lives in `ingest::fetch` for GETs; its types stay here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Config;
use crate::store::{
    blocking, Delivery, Store, StoreError, StoredArticle, TopicHooks, ALERT_KIND, ALERT_SUBJECT,
    TOPIC_KIND,
};

/// The longest `Retry-After` honoured; a longer one is taken as this.
const RETRY_AFTER_MAX: chrono::Duration = chrono::Duration::hours(24);
/// Rows delivered to one endpoint in one round at most: a long backlog goes over a few rounds,
/// and the other endpoints' tasks are not held up at the round's end.
const ROUND_MAX: usize = 1_000;

/// The headers of a POST.
pub const SIGNATURE_HEADER: &str = "X-Bantin-Signature";
pub const DELIVERY_HEADER: &str = "X-Bantin-Delivery";
pub const EVENT_HEADER: &str = "X-Bantin-Event";
pub const TOPIC_HEADER: &str = "X-Bantin-Topic";
/// The body's type: a JSON Feed item (the items of `application/feed+json`) is JSON.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("webhooks: cannot set up the HTTP client: {0}")]
    Client(String),
}

/// A configured webhook: where the rows of (kind, subject) go, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: String,
    pub subject: String,
    pub url: String,
    /// The file holding the signing key; None: not signed.
    pub secret_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Every webhook the config names: the topics' (`[[topics]] webhook`) and the admin alerts'
/// (`[alerts] webhook`, whose rows `store::alerts` queues with `store::webhooks::queue`).
pub fn endpoints(config: &Config) -> Vec<Endpoint> {
    let alerts = config.alerts.webhook.as_ref().map(|url| Endpoint {
        kind: ALERT_KIND.to_string(),
        subject: ALERT_SUBJECT.to_string(),
        url: url.to_string(),
        secret_file: config.alerts.webhook_secret_file.clone(),
        timeout: crate::config::DEFAULT_WEBHOOK_TIMEOUT,
    });
    config
        .webhooks
        .iter()
        .map(|w| Endpoint {
            kind: TOPIC_KIND.to_string(),
            subject: w.topic.clone(),
            url: w.url.to_string(),
            secret_file: w.secret_file.clone(),
            timeout: w.timeout,
        })
        .chain(alerts)
        .collect()
}

/// (topic id, URL) of each topic with a webhook, as a poll queues them
/// ([`crate::store::TopicHooks`]).
pub fn topic_endpoints(config: &Config) -> Vec<(String, String)> {
    config
        .webhooks
        .iter()
        .map(|w| (w.topic.clone(), w.url.to_string()))
        .collect()
}

/// Runs `f` with what a poll needs to queue the topics' webhooks: their URLs, and
/// [`topic_body`] to freeze each POST's body.
pub fn with_topic_hooks<T>(config: &Config, f: impl FnOnce(&TopicHooks) -> T) -> T {
    let endpoints = topic_endpoints(config);
    let render = |a: &StoredArticle| topic_body(config, a);
    f(&TopicHooks {
        endpoints: &endpoints,
        render: &render,
    })
}

/// What a topic's webhook POSTs for `article`: its JSON Feed item, the fields the topic's JSON
/// Feed gives it.
pub fn topic_body(config: &Config, article: &StoredArticle) -> Vec<u8> {
    crate::publish::json_feed_item(&crate::site::feeds::article_entry(config, article))
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `key`: the signature header's value.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl Round {
    fn add(&mut self, other: Round) {
        self.delivered += other.delivered;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
    }
}

/// The deliverer; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    client: reqwest::Client,
    endpoints: Arc<Vec<Endpoint>>,
}

/// How one attempt went.
enum Attempt {
    Delivered(u16),
    /// Try again at the time given.
    Retry {
        error: String,
        response: Option<u16>,
        at: DateTime<Utc>,
    },
    Refused {
        error: String,
        response: Option<u16>,
    },
}

impl Webhooks {
    /// A deliverer for `endpoints` (see [`endpoints`]).
    pub fn new(store: Store, endpoints: Vec<Endpoint>) -> Result<Webhooks, WebhookError> {
        // reqwest is built without a default crypto provider; ring is the one we ship (as in
        // `ingest::fetch`; a second install is refused harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("bantin/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Webhooks {
            store,
            client,
            endpoints: Arc::new(endpoints),
        })
    }

    /// The webhooks it delivers to; rows queued for any other are cancelled.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Delivers what is due at `now`: per endpoint, its rows oldest first until one fails for
    /// now or none is due; the endpoints at once.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<Round, WebhookError> {
        let store = self.store.clone();
        let heads = blocking(move || store.delivery_heads()).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for head in heads.into_iter().filter(|h| h.next_attempt <= now) {
            let me = self.clone();
            tasks.spawn(async move { me.deliver_endpoint(head, now).await });
        }
        let mut round = Round::default();
        while let Some(done) = tasks.join_next().await {
            round.add(done.map_err(StoreError::Task)??);
        }
        Ok(round)
    }

    /// One endpoint's due rows, `head` first, in order.
    async fn deliver_endpoint(
        &self,
        head: Delivery,
        now: DateTime<Utc>,
    ) -> Result<Round, WebhookError> {
        let mut round = Round::default();
        let mut next = Some(head);
        for _ in 0..ROUND_MAX {
            let Some(row) = next.take().filter(|r| r.next_attempt <= now) else {
                break;
            };
            let (store, id) = (self.store.clone(), row.id);
            let go_on = match self.configured(&row) {
                None => {
                    tracing::info!(kind = %row.kind, subject = %row.subject, "webhook delivery cancelled: its webhook is no longer configured");
                    blocking(move || {
                        store.cancel_delivery(
                            id,
                            "cancelled: the webhook was removed or its URL changed",
                        )
                    })
                    .await?;
                    round.cancelled += 1;
                    true
                }
                // A panic while sending (a bug) is this POST's failure for now, retried.
                Some(endpoint) => {
                    match crate::guard::catch_async(self.attempt(endpoint, &row, now))
                        .await
                        .unwrap_or_else(|panic| Attempt::Retry {
                            error: panic.to_string(),
                            response: None,
                            at: now + backoff(row.attempts),
                        }) {
                        Attempt::Delivered(code) => {
                            tracing::info!(kind = %row.kind, subject = %row.subject, status = code, "webhook delivered");
                            blocking(move || store.mark_delivered(id, code, now)).await?;
                            round.delivered += 1;
                            true
                        }
                        Attempt::Retry {
                            error,
                            response,
                            at,
                        } => {
                            tracing::warn!(kind = %row.kind, subject = %row.subject, %error, next_attempt = %at, "webhook not delivered; will retry");
                            blocking(move || store.mark_delivery_retry(id, &error, response, at))
                                .await?;
                            round.retrying += 1;
                            false
                        }
                        Attempt::Refused { error, response } => {
                            tracing::error!(kind = %row.kind, subject = %row.subject, %error, "webhook refused; not retried");
                            blocking(move || store.mark_delivery_failed(id, &error, response))
                                .await?;
                            round.failed += 1;
                            true
                        }
                    }
                }
            };
            if !go_on {
                break;
            }
            let (store, url) = (self.store.clone(), row.endpoint.clone());
            next = blocking(move || store.delivery_head(&url)).await?;
        }
        Ok(round)
    }

    /// The configured webhook `row` was queued for, if it still is.
    fn configured(&self, row: &Delivery) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.kind == row.kind && e.subject == row.subject && e.url == row.endpoint)
    }

    /// One POST of `row`, and what to make of its answer.
    async fn attempt(&self, endpoint: &Endpoint, row: &Delivery, now: DateTime<Utc>) -> Attempt {
        let retry = |error: String, response: Option<u16>| Attempt::Retry {
            error,
            response,
            at: now + backoff(row.attempts),
        };
        let mut request = self
            .client
            .post(&row.endpoint)
            .timeout(endpoint.timeout)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(DELIVERY_HEADER, &row.delivery)
            .header(EVENT_HEADER, &row.kind);
        if row.kind == TOPIC_KIND {
            request = request.header(TOPIC_HEADER, &row.subject);
        }
        if let Some(file) = &endpoint.secret_file {
            match read_secret(file) {
                Ok(key) => request = request.header(SIGNATURE_HEADER, sign(&key, &row.body)),
                Err(error) => return retry(error, None),
            }
        }
        let response = match request.body(row.body.clone()).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return retry(
                    format!("no answer within {}s", endpoint.timeout.as_secs_f32()),
                    None,
                )
            }
            // Without the URL: it may carry a token (a chat bot's), and the row and the log keep
            // the error.
            Err(e) => return retry(error_chain(&e.without_url()), None),
        };
        let status = response.status();
        let code = status.as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::ingest::fetch::parse_retry_after);
        // The answer's body is not read: only its status counts.
        drop(response);
        if status.is_success() {
            return Attempt::Delivered(code);
        }
        let error = format!("HTTP {status}");
        match code {
            408 | 429 | 500..=599 => {
                let at = match retry_after.filter(|_| matches!(code, 429 | 503)) {
                    Some(d) => {
                        now + chrono::Duration::from_std(d)
                            .unwrap_or(RETRY_AFTER_MAX)
                            .min(RETRY_AFTER_MAX)
                    }
                    None => now + backoff(row.attempts),
                };
                Attempt::Retry {
                    error,
                    response: Some(code),
                    at,
                }
            }
            _ => Attempt::Refused {
                error,
                response: Some(code),
            },
        }
    }
}

/// A secret file's key: its bytes, the trailing newline trimmed.
fn read_secret(file: &std::path::Path) -> Result<Vec<u8>, String> {
    let path = crate::config::credential_path(file).map_err(|e| e.to_string())?;
    let mut key = std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the webhook secret file {}: {e}",
            path.display()
        )
    })?;
    while key.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        key.pop();
    }
    if key.is_empty() {
        return Err(format!(
            "the webhook secret file {} is empty",
            path.display()
        ));
    }
    Ok(key)
}

/// An error with its causes ("error sending request: connection refused"), as a row keeps it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// As for digests: a minute, doubling up to an hour.
fn backoff(attempts: u32) -> chrono::Duration {
    crate::postman::backoff(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_githubs_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_secret_file_is_read_without_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook.secret");
        std::fs::write(&file, "bí mật\r\n").unwrap();
        assert_eq!(read_secret(&file).unwrap(), "bí mật".as_bytes());
        std::fs::write(&file, "\n").unwrap();
        assert!(read_secret(&file).unwrap_err().contains("is empty"));
        let missing = read_secret(&dir.path().join("none")).unwrap_err();
        assert!(
            missing.starts_with("cannot read the webhook secret file"),
            "{missing}"
        );
    }
}
