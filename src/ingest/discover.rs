//! `bantin discover URL`: the feeds a site offers, so an admin finds one before writing
//! selectors.
//!
//! Looked at, in order: the URL itself (it may be a feed), the feeds its page advertises
//! (`<link rel="alternate">`), and common feed paths on its host (`/rss`, `/feed`, …). Vietnamese
//! outlets often keep an HTML index of their feeds at `/rss` or `/rss.html`; links to `.rss` and
//! `.xml` files on such a page are tried too. Every candidate is fetched and parsed: only real
//! feeds are reported, with their title and item count.

use std::collections::HashSet;

use chrono::Utc;
use url::Url;

use super::entry::DateContext;
use super::feed;
use super::fetch::{Body, FetchError, Fetcher, Request};
use super::scrape;
use super::sniff;
use crate::date::DateOrder;

/// Paths tried on the page's host.
const COMMON_PATHS: &[&str] = &[
    "/rss",
    "/rss.html",
    "/rss.xml",
    "/feed",
    "/feed.xml",
    "/feeds",
    "/atom.xml",
    "/index.rss",
    "/rss/home.rss",
    "/rss/trang-chu.rss",
];
/// Candidates fetched at most (index pages can list hundreds of category feeds).
const MAX_CANDIDATES: usize = 40;

/// How a feed was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The URL given is itself a feed.
    Itself,
    /// `<link rel="alternate">` on the page.
    Advertised,
    /// A common feed path on the host.
    CommonPath,
    /// Linked from an HTML feed index (such as `/rss.html`).
    Index,
}

/// A feed found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub url: Url,
    pub via: Via,
    pub title: Option<String>,
    pub items: usize,
}

/// What the URL turned out to be and the feeds found from it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Discovery {
    /// The page's `<title>` (None when the URL is a feed).
    pub page_title: Option<String>,
    pub feeds: Vec<Found>,
    /// Advertised feeds that did not load, with why (the others are only tried, not reported).
    pub broken: Vec<(Url, String)>,
}

/// Looks for the feeds behind `url`. An error only when the URL itself cannot be fetched.
pub async fn discover(fetcher: &Fetcher, url: &Url) -> Result<Discovery, FetchError> {
    let body = fetch(fetcher, url).await?;
    if let Ok(feed) = feed::parse(
        &body.bytes,
        body.charset.as_deref(),
        &body.final_url,
        dates(),
    ) {
        return Ok(Discovery {
            page_title: None,
            feeds: vec![Found {
                url: body.final_url.clone(),
                via: Via::Itself,
                title: feed.title,
                items: feed.entries.len(),
            }],
            broken: Vec::new(),
        });
    }
    let page = crate::text::decode(&body.bytes, body.charset.as_deref()).text;
    let base = &body.final_url;
    let mut candidates: Vec<(Url, Via)> = scrape::advertised_feeds(&page, base)
        .into_iter()
        .map(|u| (u, Via::Advertised))
        .collect();
    for path in COMMON_PATHS {
        if let Ok(u) = base.join(path) {
            candidates.push((u, Via::CommonPath));
        }
    }
    let mut tried = HashSet::new();
    let mut out = Discovery {
        page_title: sniff::html_title(&page),
        feeds: Vec::new(),
        broken: Vec::new(),
    };
    let mut i = 0;
    while i < candidates.len() && tried.len() < MAX_CANDIDATES {
        let (candidate, via) = candidates[i].clone();
        i += 1;
        if !tried.insert(candidate.clone()) {
            continue;
        }
        let body = match fetch(fetcher, &candidate).await {
            Ok(b) => b,
            Err(e) => {
                if via == Via::Advertised {
                    out.broken.push((candidate, e.to_string()));
                }
                continue;
            }
        };
        match feed::parse(
            &body.bytes,
            body.charset.as_deref(),
            &body.final_url,
            dates(),
        ) {
            Ok(feed) => {
                if out.feeds.iter().all(|f| f.url != body.final_url) {
                    out.feeds.push(Found {
                        url: body.final_url.clone(),
                        via,
                        title: feed.title,
                        items: feed.entries.len(),
                    });
                }
            }
            Err(feed::ParseError::Html { .. }) if via == Via::CommonPath => {
                // A feed index page: try the feeds it links to.
                let index = crate::text::decode(&body.bytes, body.charset.as_deref()).text;
                for link in index_links(&index, &body.final_url) {
                    candidates.push((link, Via::Index));
                }
            }
            Err(e) => {
                if via == Via::Advertised {
                    out.broken.push((candidate, e.to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// Links to `.rss`/`.xml` files (or paths under `/rss/`) on the index page's own host.
fn index_links(html: &str, base: &Url) -> Vec<Url> {
    let mut seen = HashSet::new();
    scrape::page_links(html, base)
        .into_iter()
        .filter(|u| u.host_str() == base.host_str())
        .filter(|u| {
            let p = u.path().to_ascii_lowercase();
            p.ends_with(".rss") || p.ends_with(".xml") || p.contains("/rss/")
        })
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

async fn fetch(fetcher: &Fetcher, url: &Url) -> Result<Box<Body>, FetchError> {
    fetcher.fetch_body(&Request::plain(url.clone())).await
}

fn dates() -> DateContext {
    DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: DateOrder::Dmy,
        now: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_pages_link_to_feeds_on_their_own_host() {
        let base = Url::parse("https://baochinhphu.vn/rss.html").unwrap();
        let html = r#"<ul>
            <li><a href="/rss/thoi-su.rss">Thời sự</a></li>
            <li><a href="https://baochinhphu.vn/rss/kinh-te.rss">Kinh tế</a></li>
            <li><a href="/rss/thoi-su.rss">again</a></li>
            <li><a href="https://other.vn/a.rss">other host</a></li>
            <li><a href="/gioi-thieu.htm">not a feed</a></li>
        </ul>"#;
        let links: Vec<String> = index_links(html, &base)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            links,
            [
                "https://baochinhphu.vn/rss/thoi-su.rss",
                "https://baochinhphu.vn/rss/kinh-te.rss"
            ]
        );
    }

    #[test]
    fn an_index_page_nested_past_the_limit_is_not_parsed() {
        // Parsed as it is, 20,000 nested <div>s cost seconds and deep recursion downstream;
        // like every other remote page it is refused before parsing.
        let base = Url::parse("https://baochinhphu.vn/rss.html").unwrap();
        let deep = format!(
            "{}<a href=\"/rss/thoi-su.rss\">Thời sự</a>{}",
            "<div>".repeat(20_000),
            "</div>".repeat(20_000)
        );
        assert_eq!(index_links(&deep, &base), Vec::<Url>::new());
        let shallow = format!(
            "{}<a href=\"/rss/thoi-su.rss\">Thời sự</a>{}",
            "<div>".repeat(100),
            "</div>".repeat(100)
        );
        assert_eq!(index_links(&shallow, &base).len(), 1);
    }
}
