//! `bantin sources test ID`: fetch one source now and show exactly what would be extracted,
//! without storing anything. This is how an admin writes and checks selectors.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::entry::{DateContext, RawDate};
use super::fetch::{Body, Fetcher, Request};
use super::scrape;
use super::{kind, pages, PollError};
use crate::config::Source;
use crate::date;
use crate::text;

/// What one source yields now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceTest {
    pub source: String,
    /// Where the body came from, after redirects.
    pub url: String,
    pub kind: &'static str,
    pub title: Option<String>,
    pub items: Vec<ItemPreview>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ItemPreview {
    pub title: String,
    pub link: Option<String>,
    pub guid: Option<String>,
    pub date: Option<DatePreview>,
    /// Plain-text length of the summary or content the list/feed carried.
    pub text_chars: usize,
    /// The article page, for the first items of a source whose pages are read.
    pub page: Option<PagePreview>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DatePreview {
    pub raw: String,
    /// RFC 3339, or None when the string could not be read (or is implausible).
    pub parsed: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PagePreview {
    pub error: Option<String>,
    pub date: Option<DatePreview>,
    pub authors: Vec<String>,
    /// Plain-text length of the extracted body (sanitized as it would be stored).
    pub content_chars: usize,
    /// Its first paragraphs.
    pub first_lines: Vec<String>,
}

/// Fetches `source` and previews its items; the first `pages` items' article pages are fetched
/// and extracted too when the source reads its pages.
pub async fn test_source(
    fetcher: &Fetcher,
    source: &Source,
    pages: usize,
) -> Result<SourceTest, PollError> {
    let now = Utc::now();
    let dates = DateContext::of(source, now);
    // As a poll fetches it: primed, unconditional (no validators stored here).
    let body: Arc<Body> = Arc::from(fetcher.fetch_body(&Request::poll(source, None)).await?);
    let feed = kind::read(
        fetcher,
        &CancellationToken::new(),
        source,
        body.clone(),
        dates,
    )
    .await?;
    let mut items = Vec::new();
    for (i, e) in feed.entries.iter().enumerate() {
        let text_html = e.content.as_deref().or(e.summary.as_deref()).unwrap_or("");
        let page = match (&e.link, source.fetches_pages() && i < pages) {
            (Some(link), true) => Some(page_preview(fetcher, source, link, now).await),
            _ => None,
        };
        items.push(ItemPreview {
            title: e.title.as_deref().map(text::clean).unwrap_or_default(),
            link: e.link.as_ref().map(Url::to_string),
            guid: e.guid.clone(),
            date: e.date.as_ref().map(|d| date_preview(d, now)),
            text_chars: text::html_to_text(text_html).chars().count(),
            page,
        });
    }
    Ok(SourceTest {
        source: source.id.clone(),
        url: body.final_url.to_string(),
        kind: source.kind.name(),
        title: feed.title.as_deref().map(text::clean),
        items,
    })
}

/// The article page at `link` through the daemon's own page pipeline ([`pages::fetch_page`],
/// [`pages::read_page`]).
async fn page_preview(
    fetcher: &Fetcher,
    source: &Source,
    link: &Url,
    now: DateTime<Utc>,
) -> PagePreview {
    let read = match pages::fetch_page(fetcher, source, link).await {
        Ok(body) => pages::read_page(source, &body, now),
        Err(e) => Err(e),
    };
    match read {
        Ok(page) => PagePreview {
            error: None,
            date: page.date.as_ref().map(|d| date_preview(d, now)),
            content_chars: text::html_to_text(&page.content_html).chars().count(),
            first_lines: first_lines(&page.content_html),
            authors: page.authors,
        },
        Err(e) => PagePreview {
            error: Some(e.to_string()),
            date: None,
            authors: Vec::new(),
            content_chars: 0,
            first_lines: Vec::new(),
        },
    }
}

/// The first three paragraphs' text.
fn first_lines(html: &str) -> Vec<String> {
    let lines = scrape::first_paragraphs(html, 3);
    if lines.is_empty() {
        let all = text::html_to_text(html);
        return vec![all.chars().take(200).collect()];
    }
    lines
}

fn date_preview(d: &RawDate, now: DateTime<Utc>) -> DatePreview {
    DatePreview {
        raw: d.raw.clone(),
        parsed: d
            .parsed
            .filter(|t| date::is_plausible(t.with_timezone(&Utc), now))
            .map(|t| t.to_rfc3339()),
    }
}
