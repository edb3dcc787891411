//! `bantin sources test ID`: fetch one source now and show exactly what would be extracted,
//! without storing anything. This is how an admin writes and checks selectors, and sees which
//! child sitemaps of an index are read.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::entry::{DateContext, RawDate};
use super::fetch::{Body, Fetcher, Request};
use super::scrape;
use super::sitemap::follow::{Fate, Followed, MAX_DEPTH, MAX_FOLLOWED};
use super::{kind, pages, PollError};
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
    /// A sitemap index and its child sitemaps: which were read, and which not and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub followed: Vec<FollowedPreview>,
    /// What reading noted (a sitemap's notes, a child that failed; a feed's repairs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the admin should know before adding the source as it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub items: Vec<ItemPreview>,
}

/// A document read (or not) while following a sitemap index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FollowedPreview {
    pub url: String,
    /// 0: the source's index; 1: its children; 2: children of an index among them.
    pub depth: u8,
    pub lastmod: Option<String>,
    /// `index`, `read`, `not_modified`, `not_followed`, `failed` or `cancelled`.
    pub fate: &'static str,
    /// Children of an index, entries of a sitemap read.
    pub count: Option<usize>,
    /// Why not read, or what of an index's children was not.
    pub why: Option<String>,
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
    /// The page's title: the article's, when its entry had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
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
    // As a poll fetches it: primed, unconditional (no validators stored here), and as a first
    // poll reads it (nothing passed over as unchanged since an earlier one).
    let body: Arc<Body> = Arc::from(fetcher.fetch_body(&Request::poll(source, None)).await?);
    let ctx = kind::Context {
        fetcher,
        cancel: &CancellationToken::new(),
        dates,
        since: None,
    };
    let listed = kind::read(&ctx, source, body.clone()).await?;
    let feed = &listed.listing;
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
    let untitled = feed.entries.iter().filter(|e| e.title.is_none()).count();
    let warnings = match source.kind {
        SourceKind::Sitemap { .. } if untitled > 0 && !source.fetches_pages() => vec![format!(
            "{untitled} of {} entries carry no title (no news:title): they are titled by their URL unless the article pages are read (full_text = true)",
            feed.entries.len()
        )],
        _ => Vec::new(),
    };
    Ok(SourceTest {
        source: source.id.clone(),
        url: body.final_url.to_string(),
        kind: source.kind.name(),
        title: feed.title.as_deref().map(text::clean),
        followed: listed.followed.iter().map(FollowedPreview::of).collect(),
        notes: feed.repairs.clone(),
        warnings,
        items,
    })
}

impl FollowedPreview {
    fn of(f: &Followed) -> FollowedPreview {
        let (fate, count, why) = match &f.fate {
            Fate::Index {
                children,
                off_site,
                unchanged,
                left,
            } => {
                let mut why = Vec::new();
                if *off_site > 0 {
                    why.push(format!("{off_site} not on the index's own site"));
                }
                if *unchanged > 0 {
                    why.push(format!("{unchanged} not changed since the last poll"));
                }
                if *left > 0 {
                    why.push(format!(
                        "{left} not read (at most {MAX_FOLLOWED} child sitemaps a poll)"
                    ));
                }
                (
                    "index",
                    Some(*children),
                    Some(why.join(", ")).filter(|w| !w.is_empty()),
                )
            }
            Fate::Read { entries } => ("read", Some(*entries), None),
            Fate::NotModified => ("not_modified", None, None),
            Fate::TooDeep { children } => (
                "not_followed",
                Some(*children),
                Some(format!("an index nested more than {MAX_DEPTH} levels deep")),
            ),
            Fate::Failed(e) => ("failed", None, Some(e.to_string())),
            Fate::Cancelled => ("cancelled", None, Some("shutdown".to_string())),
        };
        FollowedPreview {
            url: f.url.to_string(),
            depth: f.depth,
            lastmod: f.lastmod.clone(),
            fate,
            count,
            why,
        }
    }
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
            title: page.title.clone(),
            date: page.date.as_ref().map(|d| date_preview(d, now)),
            content_chars: text::html_to_text(&page.content_html).chars().count(),
            first_lines: first_lines(&page.content_html),
            authors: page.authors,
        },
        Err(e) => PagePreview {
            error: Some(e.to_string()),
            title: None,
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
