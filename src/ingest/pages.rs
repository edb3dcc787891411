//! Article pages: after a source's list or feed is stored, each new article's own page is
//! fetched once for its full text, date and author, its title when the entry had none, and its
//! image (`og:image`) when the entry named none.
//!
//! Pages go through the same [`Fetcher`] as feeds, so the per-host limits and spacing apply.
//! A page that fails (HTTP error, no article text) is recorded on its row and retried at a later
//! poll with backoff; the list never waits for it. At most [`PAGES_PER_POLL`] pages are fetched
//! per poll of a source, so a first poll of a busy list page is spread over a few polls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::entry::{DateContext, RawDate};
use super::fetch::{Body, FetchError, Fetcher, Request};
use super::normalize;
use super::scrape::{self, ScrapeError};
use crate::config::{Config, Source};
use crate::date;
use crate::media::Media;
use crate::store::{blocking, PageJob, PageSearchLayout, PageTitle, PageUpdate, Store, StoreError};
use crate::topics::{Field, MatchInput};

/// Pages fetched in one poll of one source, at most.
pub const PAGES_PER_POLL: usize = 30;
/// First retry delay after a failed page; doubles with each attempt, capped at a day.
const RETRY_BASE: Duration = Duration::from_secs(10 * 60);
const RETRY_MAX: Duration = Duration::from_secs(24 * 3600);

/// What one round of page fetches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageRound {
    pub fetched: usize,
    pub failed: usize,
    /// Of the failed, those that panicked (a bug; counted in `/metrics`).
    #[serde(skip_serializing_if = "is_zero")]
    pub panicked: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl fmt::Display for PageRound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} fetched", self.fetched)?;
        if self.failed > 0 {
            write!(f, ", {} failed (retried later)", self.failed)?;
        }
        Ok(())
    }
}

/// Fetches the pages of `source` that are due, one after another (they share one host, whose
/// spacing sets the pace anyway), until done or cancelled.
pub async fn fetch_due(
    fetcher: &Fetcher,
    store: &Store,
    config: &Arc<Config>,
    source: &Source,
    cancel: &CancellationToken,
) -> Result<PageRound, StoreError> {
    let (st, id) = (store.clone(), source.id.clone());
    let jobs = blocking(move || st.due_pages(&id, Utc::now(), PAGES_PER_POLL)).await?;
    let mut round = PageRound::default();
    for job in jobs {
        if cancel.is_cancelled() {
            break;
        }
        let Ok(url) = url::Url::parse(&job.url) else {
            continue;
        };
        let fetched = tokio::select! {
            r = fetch_page(fetcher, source, &url) => r,
            _ = cancel.cancelled() => break,
        };
        let (st, cf, src) = (store.clone(), config.clone(), source.clone());
        let ok = blocking(move || {
            let now = Utc::now();
            // A panic while reading one page is that page's failure, retried like others.
            let result = fetched.and_then(|body| {
                crate::guard::catch(|| {
                    crate::guard::failpoint("page", &src.id);
                    read_page(&src, &body, now)
                })
                .map_err(PageError::Panic)?
            });
            match result {
                Ok(page) => {
                    st.page_done(job.article_id, &page.update(&job), now)?;
                    let candidates = st.match_candidates_for(&[job.article_id])?;
                    super::rematch_candidates(&st, &cf, &candidates, now)?;
                    Ok(PageOutcome::Fetched)
                }
                Err(error) => {
                    tracing::warn!(source = %src.id, url = %job.url, attempt = job.attempts + 1, %error, "article page failed");
                    let text = error.to_string();
                    st.page_failed(job.article_id, &text, now + retry_delay(job.attempts))?;
                    Ok(PageOutcome::Failed {
                        panicked: matches!(error, PageError::Panic(_)),
                    })
                }
            }
        })
        .await?;
        match ok {
            PageOutcome::Fetched => round.fetched += 1,
            PageOutcome::Failed { panicked } => {
                round.failed += 1;
                round.panicked += usize::from(panicked);
            }
        }
    }
    Ok(round)
}

/// How one page job ended.
enum PageOutcome {
    Fetched,
    /// Recorded on the page row, retried later; `panicked` when the failure was a bug.
    Failed {
        panicked: bool,
    },
}

/// Why an article page gave no text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Scrape(#[from] ScrapeError),
    /// Extracted, but nothing was left once sanitized.
    #[error("no article text found on the page")]
    NoText,
    /// Reading the page panicked ([`crate::guard`]): a bug.
    #[error(transparent)]
    Panic(crate::guard::Panic),
}

/// An article page as the daemon stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleText {
    /// The page's title, cleaned: the article's title when its entry had none.
    pub title: Option<String>,
    /// The body, sanitized.
    pub content_html: String,
    /// Cleaned names.
    pub authors: Vec<String>,
    /// The page's date as it was found.
    pub date: Option<RawDate>,
    /// `date`, when it was read and is plausible: the article's publication time.
    pub published: Option<DateTime<FixedOffset>>,
    /// The page's image (`og:image`): the article's when it has none.
    pub image: Option<Media>,
}

impl ArticleText {
    /// What is stored for `job`'s article: its search text covers the title and summary the
    /// list gave it, and this body. A title that was a stand-in (the entry had none: a sitemap
    /// without news titles) gives way to the page's.
    fn update(self, job: &PageJob) -> PageUpdate {
        let title = self.title.filter(|t| job.title_guessed && !t.is_empty());
        let input = MatchInput::from_html(
            title.as_deref().unwrap_or(&job.title),
            job.summary_html.as_deref(),
            Some(&self.content_html),
        );
        PageUpdate {
            title: title.map(|title| PageTitle {
                key: input.normalized(Field::Title).to_string(),
                title,
            }),
            search_text: normalize::search_text(&input),
            search_layout: Some(PageSearchLayout {
                layout: input.search_layout(),
                title_key: input.normalized(Field::Title).to_string(),
                summary_html: job.summary_html.clone(),
            }),
            content_html: self.content_html,
            authors: self.authors,
            published: self.published,
            image: self.image,
        }
    }
}

/// The page pipeline, first half: fetches an article page of `source` ([`Request::page`]).
/// The daemon and `bantin sources test` both fetch pages here, and read them with
/// [`read_page`], so the preview shows exactly what the daemon would store.
pub async fn fetch_page(
    fetcher: &Fetcher,
    source: &Source,
    url: &Url,
) -> Result<Box<Body>, PageError> {
    Ok(fetcher
        .fetch_body(&Request::page(source, url.clone()))
        .await?)
}

/// The page pipeline, second half: the article's body (extracted with the source's article
/// rules, then sanitized), authors and plausible date from its fetched page.
pub fn read_page(
    source: &Source,
    body: &Body,
    now: DateTime<Utc>,
) -> Result<ArticleText, PageError> {
    let page = scrape::extract_article(
        &body.bytes,
        body.charset.as_deref(),
        &body.final_url,
        source.kind.pages(),
        DateContext::of(source, now),
    )?;
    let content_html = page
        .content_html
        .as_deref()
        .and_then(normalize::sanitize)
        .ok_or(PageError::NoText)?;
    let published = page
        .date
        .as_ref()
        .and_then(|d| d.parsed)
        .filter(|t| date::is_plausible(t.with_timezone(&Utc), now));
    Ok(ArticleText {
        title: page.title,
        content_html,
        authors: normalize::clean_authors(&page.authors),
        date: page.date,
        published,
        image: page.image,
    })
}

/// Delay before the next try of a page that failed `attempts` times before this failure.
fn retry_delay(attempts: u32) -> chrono::Duration {
    let d = RETRY_BASE
        .saturating_mul(1u32 << attempts.min(16))
        .min(RETRY_MAX);
    chrono::Duration::from_std(d).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_title_stands_for_the_article_only_when_its_entry_had_none() {
        let page = ArticleText {
            title: Some("Hội nghị tổng kết công tác dân vận".into()),
            content_html: "<p>Sáng 23-11, hội nghị đã diễn ra.</p>".into(),
            authors: Vec::new(),
            date: None,
            published: None,
            image: None,
        };
        let job = |title: &str, title_guessed: bool| PageJob {
            article_id: 1,
            url: "https://nhandan.vn/a-1".into(),
            attempts: 0,
            title: title.into(),
            summary_html: None,
            date_guessed: false,
            title_guessed,
        };
        let stand_in = page.clone().update(&job("https://nhandan.vn/a-1", true));
        let title = stand_in.title.expect("the page's title");
        assert_eq!(title.title, "Hội nghị tổng kết công tác dân vận");
        assert_eq!(title.key, "hội nghị tổng kết công tác dân vận");
        assert!(
            stand_in.search_text.starts_with("hội nghị tổng kết"),
            "{}",
            stand_in.search_text
        );
        assert!(!stand_in.search_text.contains("nhandan"));
        let own = page.clone().update(&job("Tiêu đề của bài", false));
        assert_eq!(own.title, None);
        assert!(own.search_text.starts_with("tiêu đề của bài"));
        let untitled_page = ArticleText {
            title: None,
            ..page
        };
        assert_eq!(
            untitled_page
                .update(&job("https://nhandan.vn/a-1", true))
                .title,
            None
        );
    }

    #[test]
    fn retries_back_off_and_are_capped() {
        assert_eq!(retry_delay(0), chrono::Duration::minutes(10));
        assert_eq!(retry_delay(1), chrono::Duration::minutes(20));
        assert_eq!(retry_delay(3), chrono::Duration::minutes(80));
        assert_eq!(retry_delay(20), chrono::Duration::hours(24));
    }
}
