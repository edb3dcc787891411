//! `bantin discover URL`: the feeds and sitemaps a site offers, so an admin finds one before
//! writing selectors.
//!
//! Looked at, in order: the URL itself (it may be a feed or a sitemap), the feeds its page
//! advertises (`<link rel="alternate">`), and common feed paths on its host (`/rss`, `/feed`, …).
//! Vietnamese outlets often keep an HTML index of their feeds at `/rss` or `/rss.html`; links to
//! `.rss` and `.xml` files on such a page are tried too. Then the sitemaps: those the host's
//! `robots.txt` names, and the usual sitemap paths ([`SITEMAP_PATHS`]). Every candidate is
//! fetched and parsed: only real feeds and sitemaps are reported, feeds with their title and
//! item count, sitemaps with what they are (news titles or not, an index and its children).

use std::collections::HashSet;

use chrono::Utc;
use url::Url;

use super::entry::DateContext;
use super::feed;
use super::fetch::{Body, FetchError, Fetcher, Request};
use super::scrape;
use super::sitemap::{self, Sitemap};
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

/// Sitemap paths tried on the page's host, after those its robots.txt names. Public crawler
/// configurations for Vietnamese outlets name these: `/sitemap.xml` (the protocol's usual
/// place: tuoitre.vn, thanhnien.vn, nhandan.vn, most portals), `/google-news-sitemap.xml`
/// (dantri.com.vn, tuoitre.vn, thanhnien.vn, laodong.vn, cafef.vn and the other sites of their
/// CMS), `/sitemap-news.xml` (nhandan.vn, vietnamnet.vn, vov.vn, congly.vn, daibieunhandan.vn,
/// baodanang.vn) and `/news-sitemap.xml` (congthuong.vn, vietnam.vn).
pub const SITEMAP_PATHS: &[&str] = &[
    "/sitemap.xml",
    "/google-news-sitemap.xml",
    "/sitemap-news.xml",
    "/news-sitemap.xml",
];
/// Sitemaps named by robots.txt fetched at most.
const MAX_ROBOTS_SITEMAPS: usize = 10;

/// How a feed or sitemap was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The URL given is itself a feed or a sitemap.
    Itself,
    /// `<link rel="alternate">` on the page.
    Advertised,
    /// A common feed or sitemap path on the host.
    CommonPath,
    /// Linked from an HTML feed index (such as `/rss.html`).
    Index,
    /// A `Sitemap:` line of the host's robots.txt.
    Robots,
}

/// A sitemap found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoundSitemap {
    pub url: Url,
    pub via: Via,
    #[serde(flatten)]
    pub shape: Shape,
}

/// What a sitemap is: what `kind = "sitemap"` would read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// Pages: `entries` of them, `titled` with a `news:title` (the others need `full_text`
    /// for a title).
    Urlset { entries: usize, titled: usize },
    /// An index of `children` sitemaps (its newest are read, see `sitemap::follow`).
    Index { children: usize },
}

impl Shape {
    fn of(sitemap: &Sitemap) -> Shape {
        match sitemap {
            Sitemap::Urls(set) => Shape::Urlset {
                entries: set.entries.len(),
                titled: set
                    .entries
                    .iter()
                    .filter(|e| e.news.as_ref().is_some_and(|n| n.title.is_some()))
                    .count(),
            },
            Sitemap::Index(index) => Shape::Index {
                children: index.children.len(),
            },
        }
    }
}

/// A feed found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub url: Url,
    pub via: Via,
    pub title: Option<String>,
    pub items: usize,
}

/// What the URL turned out to be and the feeds and sitemaps found from it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Discovery {
    /// The page's `<title>` (None when the URL is a feed or a sitemap).
    pub page_title: Option<String>,
    pub feeds: Vec<Found>,
    pub sitemaps: Vec<FoundSitemap>,
    /// Advertised feeds that did not load, with why (the others are only tried, not reported).
    pub broken: Vec<(Url, String)>,
}

/// Looks for the feeds and sitemaps behind `url`. An error only when the URL itself cannot be
/// fetched.
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
            sitemaps: Vec::new(),
            broken: Vec::new(),
        });
    }
    if let Some(shape) = sitemap_shape(fetcher, &body) {
        return Ok(Discovery {
            page_title: None,
            feeds: Vec::new(),
            sitemaps: vec![FoundSitemap {
                url: body.final_url.clone(),
                via: Via::Itself,
                shape,
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
        sitemaps: Vec::new(),
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
    out.sitemaps = sitemaps(fetcher, base).await;
    Ok(out)
}

/// The sitemaps of `base`'s host: those its robots.txt names, then the usual paths; each that
/// reads as a sitemap, once.
async fn sitemaps(fetcher: &Fetcher, base: &Url) -> Vec<FoundSitemap> {
    let mut candidates: Vec<(Url, Via)> = Vec::new();
    if let Ok(robots_url) = base.join("/robots.txt") {
        if let Ok(body) = fetch(fetcher, &robots_url).await {
            let text = crate::text::decode(&body.bytes, body.charset.as_deref()).text;
            candidates.extend(
                sitemap::robots_sitemaps(&text, &body.final_url)
                    .into_iter()
                    .take(MAX_ROBOTS_SITEMAPS)
                    .map(|u| (u, Via::Robots)),
            );
        }
    }
    candidates.extend(
        SITEMAP_PATHS
            .iter()
            .filter_map(|p| base.join(p).ok())
            .map(|u| (u, Via::CommonPath)),
    );
    let mut tried = HashSet::new();
    let mut found: Vec<FoundSitemap> = Vec::new();
    for (candidate, via) in candidates {
        if !tried.insert(candidate.clone()) {
            continue;
        }
        let Ok(body) = fetch(fetcher, &candidate).await else {
            continue;
        };
        if found.iter().any(|f| f.url == body.final_url) {
            continue;
        }
        if let Some(shape) = sitemap_shape(fetcher, &body) {
            found.push(FoundSitemap {
                url: body.final_url.clone(),
                via,
                shape,
            });
        }
    }
    found
}

/// What `body` is as a sitemap, when it is one.
fn sitemap_shape(fetcher: &Fetcher, body: &Body) -> Option<Shape> {
    let charset = body.charset.as_deref();
    let read = sitemap::parse(
        &body.bytes,
        charset,
        &body.final_url,
        dates(),
        fetcher.max_bytes(),
    );
    read.ok().map(|s| Shape::of(&s))
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
