//! HTML pages → items and article text: the only place that knows `scraper` and
//! `dom_smoothie`; their types stay here.
//!
//! Many Party and government sites publish no feed (thanhuytphcm.vn, dangcongsan.vn,
//! mattran.org.vn, most `*.gov.vn` portals), so a source can instead be a list page read with
//! CSS selectors ([`parse_list`], in `list`) whose article pages carry the full text
//! ([`extract_article`], in `article`, with page chrome removed by `chrome`). This file holds
//! what they share: the parsed `Page`, its errors, links, dates and text of elements; and
//! what `bantin discover` reads from any page ([`advertised_feeds`], [`page_links`]).
//!
//! Pure: bytes in, data out; no I/O and no clock (`now` comes in [`DateContext`]).
//!
//! Invariants:
//! - Bytes are decoded once, by [`text::decode`], and judged by [`sniff`] (empty, a feed) like
//!   every other body; text stays raw (normalization cleans it later) and every date goes
//!   through [`date::parse`] with the raw string kept beside the instant.
//! - Links and URLs in kept HTML are absolute (against the page URL, or its `<base href>`); only
//!   `http`/`https` links become items.
//! - Hostile markup costs linear time and never panics: every page goes through the depth
//!   guard (`depth`) before and after parsing. Selections always start from the root element,
//!   so cut subtrees are never visited again.

mod article;
mod chrome;
mod css;
mod depth;
mod list;

use std::ops::Deref;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

pub use article::{extract_article, ArticlePage};
pub use css::{Css, CssError};
pub use depth::MAX_DEPTH;
use depth::{cut_below, nests_deeper_than};
pub use list::parse_list;

#[cfg(doc)]
use crate::date;
use crate::ingest::entry::{DateContext, RawDate};
use crate::ingest::sniff::{self, Payload};
use crate::text;

/// A node of a parsed page (`ego_tree::NodeRef`, named through `ElementRef` so that `ego_tree`
/// need not be a direct dependency).
type NodeRef<'a> = <ElementRef<'a> as Deref>::Target;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeError {
    #[error("empty body")]
    Empty,
    #[error("this URL serves a feed, not an HTML page: use kind = \"feed\"")]
    Feed,
    #[error("JavaScript cookie challenge page instead of the page (the site wants a browser)")]
    CookieChallenge,
    #[error("elements nested more than {MAX_DEPTH} deep: refused as broken or hostile HTML")]
    TooDeep,
    #[error("list selector `{selector}` matched nothing{}", quoted_title(title))]
    NoItems {
        selector: String,
        title: Option<String>,
    },
    #[error("`{item}` matched {count} {} but none had a link (`{link}` [{attr}])", items(*count))]
    NoLinks {
        item: String,
        count: usize,
        link: String,
        attr: String,
    },
    #[error("`{item}` matched {count} {} with links but none had a title ({title})", items(*count))]
    NoTitles {
        item: String,
        count: usize,
        /// Where titles were looked for, as the message shows it.
        title: String,
    },
    #[error(
        "content selector `{selector}` matched nothing on the article page{}",
        quoted_title(title)
    )]
    NoContent {
        selector: String,
        title: Option<String>,
    },
    #[error(
        "content selector `{selector}` matched, but no text was left once page chrome was removed"
    )]
    EmptyContent { selector: String },
    #[error("no article text found on the page (no content selector, and readability found nothing usable){}", quoted_title(title))]
    NotReadable { title: Option<String> },
}

fn items(count: usize) -> &'static str {
    if count == 1 {
        "item"
    } else {
        "items"
    }
}

fn quoted_title(title: &Option<String>) -> String {
    title
        .as_ref()
        .map(|t| format!(" (page title: {t:?})"))
        .unwrap_or_default()
}

/// Feeds a page advertises: `<link rel="alternate" type="application/rss+xml|atom+xml|
/// feed+json|json">`, resolved (also against `<base href>`), deduplicated, in page order.
/// WordPress advertises its REST API as `application/json` alternates on every page
/// (`/wp-json/…`, `?rest_route=`): those are not feeds and are left out.
pub fn advertised_feeds(html: &str, base: &Url) -> Vec<Url> {
    const FEED_TYPES: [&str; 4] = [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
    ];
    let Ok(page) = Page::parse(html, base) else {
        return Vec::new();
    };
    let mut feeds: Vec<Url> = Vec::new();
    for link in page.select(&SELECTORS.alternate) {
        let rel = link.attr("rel").unwrap_or_default();
        if !rel
            .split_ascii_whitespace()
            .any(|r| r.eq_ignore_ascii_case("alternate"))
        {
            continue;
        }
        let kind = link.attr("type").unwrap_or_default().trim();
        if !FEED_TYPES.iter().any(|t| kind.eq_ignore_ascii_case(t)) {
            continue;
        }
        let Some(url) = link.attr("href").and_then(|h| web_link(h, &page.base)) else {
            continue;
        };
        let wordpress_api =
            url.path().contains("/wp-json/") || url.query_pairs().any(|(k, _)| k == "rest_route");
        if !wordpress_api && !feeds.contains(&url) {
            feeds.push(url);
        }
    }
    feeds
}

/// The numeric article id at the end of a URL: `…-1234567.html`, `…-post983654.html`,
/// `/1234567.vnp`, `/tin-tuc/1234567`, or an `id`, `newsid`, `itemid` or `articleid` query
/// parameter (any case). At least 4 digits; a bare 4-digit year (1900–2099) is not an id, since
/// slugs often end with one (`…-dai-hoi-dang-2020.html`) and a false id would merge articles.
pub fn article_id(url: &Url) -> Option<String> {
    const KEYS: [&str; 4] = ["id", "newsid", "itemid", "articleid"];
    let from_query = url
        .query_pairs()
        .filter(|(k, _)| KEYS.iter().any(|key| k.eq_ignore_ascii_case(key)))
        .find_map(|(_, v)| numeric_id(v.trim()));
    if from_query.is_some() {
        return from_query;
    }
    let last = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    let stem = match last.rsplit_once('.') {
        // An extension: `.html`, `.htm`, `.vnp`, `.aspx`, `.php`.
        Some((stem, ext))
            if (1..=6).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                && ext.bytes().any(|b| b.is_ascii_alphabetic()) =>
        {
            stem
        }
        _ => last,
    };
    let start = stem
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    numeric_id(stem.get(start..).unwrap_or_default())
}

fn numeric_id(s: &str) -> Option<String> {
    let digits = s.len() >= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let year = s.len() == 4 && (s.starts_with("19") || s.starts_with("20"));
    (digits && !year).then(|| s.to_string())
}

/// The text of the first `count` paragraphs (or headings, list items, captions, quotes) of an
/// HTML fragment that have any.
pub fn first_paragraphs(html: &str, count: usize) -> Vec<String> {
    Html::parse_fragment(html)
        .select(&SELECTORS.block)
        .map(element_text)
        .filter(|t| !t.is_empty())
        .take(count)
        .collect()
}

/// Every web link (`<a href>`) on a page, resolved against its `<base href>` or `base`, in
/// document order. A page nesting deeper than [`MAX_DEPTH`] has none (it is refused before
/// parsing, as everywhere else a remote page is read).
pub fn page_links(html: &str, base: &Url) -> Vec<Url> {
    let Ok(page) = Page::parse(html, base) else {
        return Vec::new();
    };
    page.select(&SELECTORS.anchor)
        .filter_map(|a| web_link(a.attr("href")?, &page.base))
        .collect()
}

/// A parsed page and the URL its relative links resolve against.
struct Page {
    html: Html,
    base: Url,
    /// [`sniff::html_title`].
    title: Option<String>,
    /// [`sniff::is_cookie_challenge`].
    challenge: bool,
}

impl Page {
    /// Decodes, refuses what is not an HTML page ([`sniff`]), parses.
    fn read(bytes: &[u8], charset: Option<&str>, url: &Url) -> Result<Page, ScrapeError> {
        let decoded = text::decode(bytes, charset);
        let body = decoded.text.trim_start_matches('\u{feff}');
        match sniff::sniff(bytes, body) {
            Payload::Empty => Err(ScrapeError::Empty),
            Payload::Feed => Err(ScrapeError::Feed),
            Payload::Html | Payload::Markup | Payload::Binary | Payload::Text => {
                Page::parse(body, url)
            }
        }
    }

    fn parse(html: &str, url: &Url) -> Result<Page, ScrapeError> {
        if nests_deeper_than(html, MAX_DEPTH) {
            return Err(ScrapeError::TooDeep);
        }
        let title = sniff::html_title(html);
        let challenge = sniff::is_cookie_challenge(html);
        let mut html = Html::parse_document(html);
        cut_below(&mut html, MAX_DEPTH);
        let base = html
            .root_element()
            .select(&SELECTORS.base)
            .next()
            .and_then(|b| b.attr("href"))
            .and_then(|href| web_link(href, url))
            .unwrap_or_else(|| url.clone());
        Ok(Page {
            html,
            base,
            title,
            challenge,
        })
    }

    /// Matches in the page, in document order. Never `Html::select`: that one also visits the
    /// subtrees [`cut_below`] detached.
    fn select<'a, 'b>(&'a self, selector: &'b Selector) -> scraper::element_ref::Select<'a, 'b> {
        self.html.root_element().select(selector)
    }

    fn title(&self) -> Option<String> {
        self.title.clone()
    }

    fn title_for_error(&self) -> Option<String> {
        self.title
            .as_ref()
            .map(|t| t.chars().take(sniff::TITLE_IN_ERROR).collect())
    }

    /// `error`, unless the page is a JavaScript cookie challenge (laodong.vn answers with one,
    /// status 200): then that, which tells the admin more than "matched nothing".
    fn challenge_or(&self, error: ScrapeError) -> ScrapeError {
        if self.challenge {
            ScrapeError::CookieChallenge
        } else {
            error
        }
    }

    /// `content` of the first `<meta>` matching `selector` that has one.
    fn meta(&self, selector: &Selector) -> Option<String> {
        self.select(selector)
            .filter_map(|m| m.attr("content"))
            .map(str::trim)
            .find(|c| !c.is_empty())
            .map(str::to_string)
    }
}

/// Selectors the module itself uses.
struct Selectors {
    base: Selector,
    alternate: Selector,
    time: Selector,
    published: Selector,
    json_ld: Selector,
    author: Selector,
    og_title: Selector,
    og_image: Selector,
    og_image_type: Selector,
    og_image_width: Selector,
    og_image_height: Selector,
    twitter_image: Selector,
    h1: Selector,
    img: Selector,
    anchor: Selector,
    block: Selector,
}

static SELECTORS: LazyLock<Selectors> = LazyLock::new(|| {
    // The selectors are literals below, and a unit test parses them all.
    let css = |s: &str| Selector::parse(s).expect("a built-in selector is valid CSS");
    Selectors {
        base: css("base[href]"),
        alternate: css("link[rel][href]"),
        time: css("time[datetime]"),
        published: css(
            "meta[property='article:published_time'], meta[name='article:published_time'], \
             meta[itemprop='datePublished'], meta[name='pubdate'], [itemprop='datePublished']",
        ),
        json_ld: css("script[type]"),
        author: css("meta[name='author']"),
        og_title: css("meta[property='og:title']"),
        og_image: css("meta[property='og:image'], meta[property='og:image:url']"),
        og_image_type: css("meta[property='og:image:type']"),
        og_image_width: css("meta[property='og:image:width']"),
        og_image_height: css("meta[property='og:image:height']"),
        twitter_image: css("meta[name='twitter:image'], meta[property='twitter:image']"),
        h1: css("h1"),
        anchor: css("a[href]"),
        img: css("img[src]"),
        block: css("p, h1, h2, h3, h4, li, figcaption, blockquote"),
    }
});

/// `href` as a link a reader can follow: resolved against `base`, http or https only; None for
/// an empty link or one to a fragment of this page (`#`, `#top`).
fn web_link(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    base.join(href)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// What a date element may hold, most precise first.
fn date_strings(el: ElementRef) -> Vec<String> {
    let mut out: Vec<String> = ["datetime", "content", "title"]
        .iter()
        .filter_map(|a| el.attr(a))
        .map(squash)
        .collect();
    out.push(squash(&el.text().collect::<String>()));
    out.retain(|s| !s.is_empty());
    out
}

/// The first candidate that parses; else the first, unparsed (the admin sees what was there).
fn pick_date(candidates: Vec<String>, dates: DateContext) -> Option<RawDate> {
    let mut first = None;
    for raw in candidates {
        let parsed = RawDate::read(&raw, dates);
        if parsed.parsed.is_some() {
            return Some(parsed);
        }
        first.get_or_insert(parsed);
    }
    first
}

/// Whitespace collapsed, nothing else changed: raw strings stay raw.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn element_text(el: ElementRef) -> String {
    text::clean(&el.text().collect::<String>())
}

/// Visible text or an image.
fn has_substance(el: ElementRef) -> bool {
    el.text().any(|t| !t.trim().is_empty()) || el.select(&SELECTORS.img).next().is_some()
}

/// Makes `href`, `src`, `poster` and `srcset` absolute against `base` everywhere in the tree,
/// and gives lazy-loaded images (`data-src` with a placeholder `src`) their real `src`.
fn absolutize(html: &mut Html, base: &Url) {
    let mut fixes = Vec::new();
    for el in html.root_element().descendent_elements() {
        let e = el.value();
        for name in ["href", "src", "poster"] {
            let Some(value) = e.attr(name) else { continue };
            let lazy = ["data-src", "data-original", "data-lazy-src"]
                .iter()
                .filter(|_| name == "src")
                .find_map(|a| e.attr(a))
                .filter(|v| !v.trim().is_empty());
            let wanted = lazy.unwrap_or(value).trim();
            // `#note` stays a link inside the article; `javascript:` is the sanitizer's job.
            if wanted.is_empty() || wanted.starts_with('#') {
                continue;
            }
            let Ok(absolute) = base.join(wanted) else {
                continue;
            };
            if absolute.as_str() != value {
                fixes.push((el.id(), name, absolute.to_string()));
            }
        }
        if let Some(srcset) = e.attr("srcset") {
            let fixed = absolute_srcset(srcset, base);
            if fixed != srcset {
                fixes.push((el.id(), "srcset", fixed));
            }
        }
    }
    for (id, name, value) in fixes {
        let Some(mut node) = html.tree.get_mut(id) else {
            continue;
        };
        if let Node::Element(element) = node.value() {
            for (key, v) in element.attrs.iter_mut() {
                if &*key.local == name {
                    *v = value.as_str().into();
                }
            }
        }
    }
}

/// `a.jpg 1x, /b.jpg 2x` → each URL absolute, descriptors kept.
fn absolute_srcset(srcset: &str, base: &Url) -> String {
    srcset
        .split(',')
        .map(|candidate| {
            let candidate = candidate.trim();
            let (url, descriptor) = candidate
                .split_once(char::is_whitespace)
                .unwrap_or((candidate, ""));
            let url = base
                .join(url)
                .map_or_else(|_| url.to_string(), String::from);
            if descriptor.trim().is_empty() {
                url
            } else {
                format!("{url} {}", descriptor.trim())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An HTML fragment with its links made absolute.
fn absolute_fragment(fragment: &str, base: &Url) -> String {
    let mut html = Html::parse_fragment(fragment);
    absolutize(&mut html, base);
    html.root_element().inner_html().trim().to_string()
}

/// Helpers the tests of this module and its children share.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::config::{ArticleRules, Css, ListRules};
    use crate::date::DateOrder;
    use chrono::{DateTime, TimeZone, Utc};

    pub(super) fn ctx() -> DateContext {
        DateContext {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            order: DateOrder::Dmy,
            now: Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(),
        }
    }

    pub(super) fn css(s: &str) -> Css {
        Css::parse(s).unwrap()
    }

    pub(super) fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    pub(super) fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub(super) fn instant(d: &Option<RawDate>) -> Option<DateTime<Utc>> {
        d.as_ref()?.parsed.map(|t| t.with_timezone(&Utc))
    }

    pub(super) fn list_rules(item: &str, link: &str) -> ListRules {
        ListRules {
            item: css(item),
            link: css(link),
            link_attr: "href".into(),
            title: None,
            date: None,
            summary: None,
        }
    }

    pub(super) fn article_rules(content: &str) -> ArticleRules {
        ArticleRules {
            content: Some(css(content)),
            date: None,
            author: None,
            remove: Vec::new(),
        }
    }

    /// `page` extracted as an article at a fixed URL with `rules`.
    pub(super) fn extract(page: &str, rules: ArticleRules) -> ArticlePage {
        extract_article(
            page.as_bytes(),
            None,
            &url("https://example.vn/a-12345.html"),
            Some(&rules),
            ctx(),
        )
        .unwrap()
    }

    /// The article body as a reader sees it.
    pub(super) fn body_text(page: &ArticlePage) -> String {
        text::html_to_text(page.content_html.as_deref().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::config::ListRules;

    #[test]
    fn advertised_feeds_in_page_order() {
        let page = r#"<html><head><base href="https://baochinhphu.vn/">
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="Trang chủ" href="/rss/home.rss">
            <link rel="Alternate" type="application/atom+xml" href="https://baochinhphu.vn/atom.xml">
            <link rel="alternate" type="application/rss+xml" href="rss/home.rss">
            <link rel="alternate" type="application/feed+json" href="/feed.json">
            <link rel="alternate" type="application/json" href="https://baochinhphu.vn/wp-json/wp/v2/posts/42">
            <link rel="alternate" type="application/json" href="/tin-moi.json">
            <link rel="alternate" hreflang="en" href="https://en.baochinhphu.vn/">
            <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
            </head><body></body></html>"#;
        let got: Vec<String> = advertised_feeds(page, &url("https://baochinhphu.vn/thoi-su.htm"))
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            got,
            [
                "https://baochinhphu.vn/rss/home.rss",
                "https://baochinhphu.vn/atom.xml",
                "https://baochinhphu.vn/feed.json",
                "https://baochinhphu.vn/tin-moi.json",
            ]
        );
        assert!(advertised_feeds("<p>no head</p>", &url("https://x.vn/")).is_empty());
    }

    #[test]
    fn article_ids() {
        let check = |u: &str, expected: Option<&str>| {
            assert_eq!(article_id(&url(u)).as_deref(), expected, "{u}");
        };
        check(
            "https://thanhuytphcm.vn/tin-tuc/hoi-nghi-dan-van-1491881281",
            Some("1491881281"),
        );
        check(
            "https://dangcongsan.vn/thoi-su/hoi-nghi-toan-quoc-1234567.html",
            Some("1234567"),
        );
        check("https://nhandan.vn/dan-van-post983654.html", Some("983654"));
        check(
            "https://tuoitre.vn/hoi-nghi-102260801112725882.htm",
            Some("102260801112725882"),
        );
        check("https://www.vietnamplus.vn/1234567.vnp", Some("1234567"));
        check("https://example.vn/tin-tuc/1234567", Some("1234567"));
        check("https://example.vn/tin-tuc/1234567/", Some("1234567"));
        check(
            "https://example.gov.vn/news.aspx?id=1234567",
            Some("1234567"),
        );
        check(
            "https://example.gov.vn/Pages/chi-tiet.aspx?ItemID=45678&cat=2",
            Some("45678"),
        );
        check("https://example.vn/detail.php?NewsID=98765", Some("98765"));
        check("https://example.vn/view?articleId=123456", Some("123456"));
        // Too short, a year, no number, a number that is not at the end.
        check("https://example.vn/tin-tuc/bai-123.html", None);
        check("https://example.vn/tin-tuc/dai-hoi-dang-2020.html", None);
        check("https://example.vn/tin-tuc/dai-hoi-dang", None);
        check("https://example.vn/2026/11/12345/tieu-de.html", None);
        check("https://example.vn/news.aspx?id=abc&page=12345", None);
        check("https://example.vn/", None);
    }

    #[test]
    fn errors_name_the_selector() {
        let base = url("https://dangcongsan.vn/thoi-su");
        let list = |page: &str, rules: &ListRules| {
            parse_list(page.as_bytes(), None, &base, rules, ctx()).unwrap_err()
        };
        let rules = list_rules("div.news-item", "a");
        let err = list(
            "<html><head><title>404 - Không tìm thấy trang</title></head><body></body></html>",
            &rules,
        );
        assert_eq!(
            err.to_string(),
            "list selector `div.news-item` matched nothing (page title: \"404 - Không tìm thấy trang\")"
        );
        let items = "<div class='news-item'><span>a</span></div>".repeat(12);
        assert_eq!(
            list(&items, &rules).to_string(),
            "`div.news-item` matched 12 items but none had a link (`a` [href])"
        );
        let items = "<div class='news-item'><a href='/x-12345.html'><img src='a.jpg'></a></div>";
        assert_eq!(
            list(items, &rules).to_string(),
            "`div.news-item` matched 1 item with links but none had a title (text or title of `a`)"
        );
        let err = extract_article(
            b"<html><body><div class='detail'>x</div></body></html>",
            None,
            &base,
            Some(&article_rules("div.detail-content")),
            ctx(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "content selector `div.detail-content` matched nothing on the article page"
        );
        let err = extract_article(
            b"<div class='detail'><div class='comment'>only comments</div></div>",
            None,
            &base,
            Some(&article_rules("div.detail")),
            ctx(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ScrapeError::EmptyContent {
                selector: "div.detail".into()
            }
        );
        assert_eq!(list(" \n ", &rules), ScrapeError::Empty);
        assert_eq!(list("", &rules).to_string(), "empty body");
        let rss = r#"<?xml version="1.0" encoding="utf-8"?>
            <!-- generated --><rss version="2.0"><channel><title>t</title></channel></rss>"#;
        assert_eq!(
            list(rss, &rules).to_string(),
            "this URL serves a feed, not an HTML page: use kind = \"feed\""
        );
        assert_eq!(
            list(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed>",
                &rules
            ),
            ScrapeError::Feed
        );
        assert_eq!(
            list(
                r#"{"version": "https://jsonfeed.org/version/1.1", "items": []}"#,
                &rules
            ),
            ScrapeError::Feed
        );
        // XHTML is a page, not a feed.
        assert!(matches!(
            list(r#"<?xml version="1.0"?><html><body></body></html>"#, &rules),
            ScrapeError::NoItems { .. }
        ));
        let challenge =
            "<html><body><script>document.cookie='d=1';location.reload();</script></body></html>";
        assert_eq!(list(challenge, &rules), ScrapeError::CookieChallenge);
    }

    #[test]
    fn built_in_selectors_parse() {
        LazyLock::force(&SELECTORS);
    }
}
