//! Source kinds: a fetched body of a source → its [`Listing`]. The one place that dispatches on
//! [`SourceKind`]; the poll and `bantin sources test` both read bodies here.
//!
//! Each kind is one module that turns bytes into entries: `kind = "feed"` is [`super::feed`],
//! `kind = "html"` is [`super::scrape::parse_list`] (a list page read with the source's
//! selectors), `kind = "sitemap"` is [`super::sitemap`] (and [`super::sitemap::follow`] for an
//! index's child sitemaps). Pure kinds run on a blocking thread: parsing is CPU work the async
//! runtime must not wait on. [`read`] is async and has the [`Fetcher`] and the shutdown signal
//! ([`Context`]) so that a kind whose document points to others (a sitemap index and its child
//! sitemaps) can fetch them here, without another dispatch: a new kind is a variant of the
//! config enum, a module, and an arm below. The first body is never cancelled once in hand;
//! further fetches a kind makes stop on `cancel`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::entry::{DateContext, Listing};
use super::feed::{self, ParseError};
use super::fetch::{Body, Fetcher};
use super::scrape::{self, ScrapeError};
use super::sitemap::follow::{self, ChildError, Fate, Followed};
use super::sitemap::SitemapError;
use crate::config::{Source, SourceKind};

/// What reading a body needs besides the body.
pub struct Context<'a> {
    /// For the documents a kind fetches after the first (politeness applies to them too).
    pub fetcher: &'a Fetcher,
    /// Shutdown: stops those further fetches.
    pub cancel: &'a CancellationToken,
    pub dates: DateContext,
    /// When the source was last read whole (None: never, or `bantin sources test`): a kind
    /// that follows further documents fetches only those changed since.
    pub since: Option<DateTime<Utc>>,
}

/// What a body listed.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub listing: Listing,
    /// The documents fetched (or passed over) after the first, in order: a sitemap index,
    /// its child sitemaps. Empty for the kinds that read one document.
    pub followed: Vec<Followed>,
}

impl Listed {
    fn one(listing: Listing) -> Listed {
        Listed {
            listing,
            followed: Vec::new(),
        }
    }

    /// Whether every document the source points to was read (none failed, shutdown did not
    /// stop the reading). When not, the poll stores what it read but not the source's
    /// validators, and does not count as the source's last success: the next poll reads the
    /// whole again instead of taking a 304 or passing a child over as unchanged.
    pub fn complete(&self) -> bool {
        !self
            .followed
            .iter()
            .any(|f| matches!(f.fate, Fate::Failed(_) | Fate::Cancelled))
    }

    /// Whether nothing changed although the body did: an index whose every child answered 304
    /// or was passed over as unchanged since the last poll. The poll is then "not modified".
    pub fn unchanged(&self) -> bool {
        let mut passed_over = false;
        for f in &self.followed {
            match &f.fate {
                Fate::NotModified => passed_over = true,
                Fate::Index { unchanged, .. } => passed_over |= *unchanged > 0,
                Fate::Read { .. } | Fate::Failed(_) | Fate::Cancelled | Fate::TooDeep { .. } => {
                    return false
                }
            }
        }
        passed_over && self.listing.entries.is_empty()
    }
}

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
    #[error(transparent)]
    Sitemap(#[from] SitemapError),
    /// Every child sitemap of an index that was fetched failed; `url` and `error` are the
    /// first's.
    #[error("{}", children_failed(url, error, *failed))]
    Children {
        url: Url,
        error: Box<ChildError>,
        failed: usize,
    },
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

fn children_failed(url: &Url, error: &ChildError, failed: usize) -> String {
    match failed {
        0 | 1 => format!("child sitemap {url}: {error}"),
        n => format!("all {n} child sitemaps fetched failed; the first, {url}: {error}"),
    }
}

/// The entries of `body`, fetched from `source`, read as the source's kind reads them.
pub async fn read(
    ctx: &Context<'_>,
    source: &Source,
    body: Arc<Body>,
) -> Result<Listed, ReadError> {
    let dates = ctx.dates;
    match &source.kind {
        SourceKind::Html { list, .. } => {
            let rules = list.clone();
            off_runtime(move || {
                let charset = body.charset.as_deref();
                Ok(Listed::one(scrape::parse_list(
                    &body.bytes,
                    charset,
                    &body.final_url,
                    &rules,
                    dates,
                )?))
            })
            .await?
        }
        SourceKind::Feed { .. } => {
            off_runtime(move || read_feed(&body, dates).map(Listed::one)).await?
        }
        SourceKind::Sitemap { .. } => follow::read(ctx, source, body).await,
    }
}

/// Whether the entries of `source` change the stored articles they describe when they change.
/// A sitemap's do not: an entry carries a link, a date, at most a title, less than a feed item
/// or the article's page gave the article, and storing it would wipe that; a sitemap entry of
/// a known article only adds its source.
pub fn updates_known(source: &Source) -> bool {
    match source.kind {
        SourceKind::Feed { .. } | SourceKind::Html { .. } => true,
        SourceKind::Sitemap { .. } => false,
    }
}

/// The words `bantin sources` shows for what reading needed (the listing's repairs), in the
/// kind's terms; None when it needed nothing.
pub fn note(source: &Source, listing: &Listing) -> Option<String> {
    if listing.repairs.is_empty() {
        return None;
    }
    Some(match source.kind {
        SourceKind::Feed { .. } | SourceKind::Html { .. } => {
            format!("feed needed repair ({})", listing.repairs.join(", "))
        }
        // A sitemap's notes are sentences with commas of their own.
        SourceKind::Sitemap { .. } => format!("sitemap: {}", listing.repairs.join("; ")),
    })
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

/// Bodies being read at once, in the whole process: one per core. Reading is CPU work, so more
/// at once is no faster, and each costs several times its body in memory while it runs (the
/// decoded text, the dialect check's tree, feed-rs's model): with one per poll in flight, eight
/// feeds of a megabyte held 60 MiB at once. Polls past this wait with their body alone.
static READERS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
});

/// Runs `f` on a blocking thread, once one of [`READERS`] is free. A panic there goes on up to
/// the caller's task edge ([`crate::guard`]), as if it had happened here.
pub(super) async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReadError> {
    // Nothing closes the semaphore; were it closed, reading would be as if interrupted.
    let Ok(_reading) = READERS.acquire().await else {
        return Err(ReadError::Interrupted);
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ReadError::Interrupted),
    }
}
