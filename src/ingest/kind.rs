//! Source kinds: a fetched body of a source → its [`Listing`]. The one place that dispatches on
//! [`SourceKind`]; the poll and `bantin sources test` both read bodies here.
//!
//! Each kind is one module that turns bytes into entries: `kind = "feed"` is [`super::feed`],
//! `kind = "html"` is [`super::scrape::parse_list`] (a list page read with the source's
//! selectors). Pure kinds run on a blocking thread: parsing is CPU work the async runtime must
//! not wait on. [`read`] is async and has the [`Fetcher`] and the shutdown signal so that a
//! kind whose document points to others (a sitemap index and its child sitemaps) can fetch
//! them here, without another dispatch: a new kind is a variant of the config enum, a module,
//! and an arm below. The first body is never cancelled once in hand; further fetches a kind
//! makes should stop on `cancel`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use url::Url;

use super::entry::{DateContext, Listing};
use super::feed::{self, ParseError};
use super::fetch::{Body, Fetcher};
use super::scrape::{self, ScrapeError};
use crate::config::{Source, SourceKind};

/// Why a fetched body yielded no listing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Feed(ParseError),
    /// A feed source answered with an HTML page; `feeds` are those the page advertises.
    #[error("{error}; {}", advertised(feeds))]
    PageInsteadOfFeed { error: ParseError, feeds: Vec<Url> },
    #[error(transparent)]
    List(#[from] ScrapeError),
    /// The runtime shut down while the body was being read.
    #[error("reading was interrupted by shutdown")]
    Interrupted,
}

fn advertised(feeds: &[Url]) -> String {
    if feeds.is_empty() {
        "the page advertises no feed (an html source with selectors can read it: `bantin discover URL`, `kind = \"html\"`)".to_string()
    } else {
        let list: Vec<String> = feeds.iter().map(Url::to_string).collect();
        format!("the page advertises: {}", list.join(", "))
    }
}

/// The entries of `body`, fetched from `source`, read as the source's kind reads them.
/// (`fetcher` and `cancel` are for kinds that fetch more than the first body; today's do not.)
pub async fn read(
    _fetcher: &Fetcher,
    _cancel: &CancellationToken,
    source: &Source,
    body: Arc<Body>,
    dates: DateContext,
) -> Result<Listing, ReadError> {
    match &source.kind {
        SourceKind::Html { list, .. } => {
            let rules = list.clone();
            off_runtime(move || {
                let charset = body.charset.as_deref();
                Ok(scrape::parse_list(
                    &body.bytes,
                    charset,
                    &body.final_url,
                    &rules,
                    dates,
                )?)
            })
            .await?
        }
        SourceKind::Feed { .. } => off_runtime(move || read_feed(&body, dates)).await?,
    }
}

/// A feed. A feed source answered with an HTML page says which feeds that page advertises.
fn read_feed(body: &Body, dates: DateContext) -> Result<Listing, ReadError> {
    let charset = body.charset.as_deref();
    feed::parse(&body.bytes, charset, &body.final_url, dates).map_err(|error| match error {
        ParseError::Html { .. } => {
            let page = crate::text::decode(&body.bytes, charset).text;
            ReadError::PageInsteadOfFeed {
                error,
                feeds: scrape::advertised_feeds(&page, &body.final_url),
            }
        }
        error => ReadError::Feed(error),
    })
}

/// Runs `f` on a blocking thread. A panic there goes on up to the caller's task edge
/// ([`crate::guard`]), as if it had happened here.
async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReadError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ReadError::Interrupted),
    }
}
