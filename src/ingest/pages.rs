//! Article pages: after a source's list or feed is stored, each new article's own page is
//! fetched once for its full text, date and author.
//!
//! Pages go through the same [`Fetcher`] as feeds, so the per-host limits and spacing apply.
//! A page that fails (HTTP error, no article text) is recorded on its row and retried at a later
//! poll with backoff; the list never waits for it. At most [`PAGES_PER_POLL`] pages are fetched
//! per poll of a source, so a first poll of a busy list page is spread over a few polls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::entry::DateContext;
use super::fetch::{Fetcher, Request, Response};
use super::normalize;
use super::scrape;
use crate::config::{Config, Source};
use crate::date;
use crate::store::{blocking, PageJob, PageUpdate, Store, StoreError};
use crate::topics::MatchInput;

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
        let request = Request {
            url,
            etag: None,
            last_modified: None,
            user_agent: source.user_agent.clone(),
            prime_url: None,
        };
        let fetched = tokio::select! {
            r = fetcher.fetch(&request) => r,
            _ = cancel.cancelled() => break,
        };
        let (st, cf, src) = (store.clone(), config.clone(), source.clone());
        let ok = blocking(move || {
            let now = Utc::now();
            let result = match fetched {
                // A panic while reading one page is that page's failure, retried like others.
                Ok(Response::Body(body)) => {
                    crate::guard::catch(|| read_page(&src, &job, &body, now)).and_then(|r| r)
                }
                Ok(Response::NotModified { .. }) => Err("unexpected 304 Not Modified".into()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(update) => {
                    st.page_done(job.article_id, &update, now)?;
                    let candidates = st.match_candidates_for(&[job.article_id])?;
                    super::rematch_candidates(&st, &cf, &candidates, now)?;
                    Ok(PageOutcome::Fetched)
                }
                Err(error) => {
                    tracing::warn!(source = %src.id, url = %job.url, attempt = job.attempts + 1, %error, "article page failed");
                    st.page_failed(job.article_id, &error, now + retry_delay(job.attempts))?;
                    Ok(PageOutcome::Failed {
                        panicked: crate::guard::is_panic(&error),
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

/// The article's body, date and authors from its fetched page.
fn read_page(
    source: &Source,
    job: &PageJob,
    body: &super::fetch::Body,
    now: DateTime<Utc>,
) -> Result<PageUpdate, String> {
    crate::guard::failpoint("page", &source.id);
    let dates = DateContext::of(source, now);
    let page = scrape::extract_article(
        &body.bytes,
        body.charset.as_deref(),
        &body.final_url,
        source.article.as_ref(),
        dates,
    )
    .map_err(|e| e.to_string())?;
    let content_html = page
        .content_html
        .as_deref()
        .and_then(normalize::sanitize)
        .ok_or_else(|| "no article text found on the page".to_string())?;
    let input = MatchInput::from_html(&job.title, job.summary_html.as_deref(), Some(&content_html));
    let published = page
        .date
        .and_then(|d| d.parsed)
        .filter(|t| date::is_plausible(t.with_timezone(&Utc), now));
    Ok(PageUpdate {
        search_text: normalize::search_text(&input),
        content_html,
        authors: normalize::clean_authors(&page.authors),
        published,
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
    fn retries_back_off_and_are_capped() {
        assert_eq!(retry_delay(0), chrono::Duration::minutes(10));
        assert_eq!(retry_delay(1), chrono::Duration::minutes(20));
        assert_eq!(retry_delay(3), chrono::Duration::minutes(80));
        assert_eq!(retry_delay(20), chrono::Duration::hours(24));
    }
}
