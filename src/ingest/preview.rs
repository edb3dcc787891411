//! `bantin sources test ID`: fetch one source now and show exactly what would be extracted,
//! without storing anything. This is how an admin writes and checks selectors.

use chrono::Utc;
use scraper::{Html, Selector};
use url::Url;

use super::entry::{DateContext, RawDate};
use super::fetch::{Fetcher, Request, Response};
use super::normalize;
use super::scrape;
use crate::config::{Source, SourceKind};
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
) -> Result<SourceTest, String> {
    let now = Utc::now();
    let dates = DateContext::of(source, now);
    let body = fetch(fetcher, &source.url, source).await?;
    let feed = super::read_items(source, &body, dates)?;
    let mut items = Vec::new();
    for (i, e) in feed.entries.iter().enumerate() {
        let text_html = e.content.as_deref().or(e.summary.as_deref()).unwrap_or("");
        let page = match (&e.link, source.fetches_pages() && i < pages) {
            (Some(link), true) => Some(page_preview(fetcher, source, link, dates).await),
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
        kind: match source.kind {
            SourceKind::Feed => "feed",
            SourceKind::Html => "html",
        },
        title: feed.title.as_deref().map(text::clean),
        items,
    })
}

async fn page_preview(
    fetcher: &Fetcher,
    source: &Source,
    link: &Url,
    dates: DateContext,
) -> PagePreview {
    let failed = |error: String| PagePreview {
        error: Some(error),
        date: None,
        authors: Vec::new(),
        content_chars: 0,
        first_lines: Vec::new(),
    };
    let body = match fetch(fetcher, link, source).await {
        Ok(b) => b,
        Err(e) => return failed(e),
    };
    let page = match scrape::extract_article(
        &body.bytes,
        body.charset.as_deref(),
        &body.final_url,
        source.article.as_ref(),
        dates,
    ) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    let content = page.content_html.as_deref().and_then(normalize::sanitize);
    PagePreview {
        error: content
            .is_none()
            .then(|| "no article text found on the page".to_string()),
        date: page.date.as_ref().map(|d| date_preview(d, dates.now)),
        authors: normalize::clean_authors(&page.authors),
        content_chars: content
            .as_deref()
            .map(|c| text::html_to_text(c).chars().count())
            .unwrap_or(0),
        first_lines: content.as_deref().map(first_lines).unwrap_or_default(),
    }
}

/// The first three paragraphs' text.
fn first_lines(html: &str) -> Vec<String> {
    let doc = Html::parse_fragment(html);
    let Ok(blocks) = Selector::parse("p, h1, h2, h3, h4, li, figcaption, blockquote") else {
        return Vec::new();
    };
    let lines: Vec<String> = doc
        .select(&blocks)
        .map(|e| text::clean(&e.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .take(3)
        .collect();
    if lines.is_empty() {
        let all = text::html_to_text(html);
        return vec![all.chars().take(200).collect()];
    }
    lines
}

fn date_preview(d: &RawDate, now: chrono::DateTime<Utc>) -> DatePreview {
    DatePreview {
        raw: d.raw.clone(),
        parsed: d
            .parsed
            .filter(|t| date::is_plausible(t.with_timezone(&Utc), now))
            .map(|t| t.to_rfc3339()),
    }
}

async fn fetch(
    fetcher: &Fetcher,
    url: &Url,
    source: &Source,
) -> Result<Box<super::fetch::Body>, String> {
    let request = Request {
        url: url.clone(),
        etag: None,
        last_modified: None,
        user_agent: source.user_agent.clone(),
        prime_url: source.prime_url.clone(),
    };
    match fetcher.fetch(&request).await {
        Ok(Response::Body(b)) => Ok(b),
        Ok(Response::NotModified { .. }) => Err("unexpected 304 Not Modified".into()),
        Err(e) => Err(e.to_string()),
    }
}
