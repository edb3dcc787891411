//! HTML pages → items and article text (list pages, article pages, feed discovery).
//!
//! Pure: bytes in, data out; no I/O and no clock (`now` comes in [`DateContext`]). The only
//! place that knows `scraper` and `dom_smoothie`; their types stay here.
//!
//! Many Party and government sites publish no feed (thanhuytphcm.vn, dangcongsan.vn,
//! mattran.org.vn, most `*.gov.vn` portals), so a source can instead be a list page read with
//! CSS selectors ([`parse_list`]) whose article pages carry the full text ([`extract_article`]).
//!
//! Invariants:
//! - Bytes are decoded once, by [`text::decode`]; text stays raw (normalization cleans it later)
//!   and every date goes through [`date::parse`] with the raw string kept beside the instant.
//! - Links and URLs in kept HTML are absolute (against the page URL, or its `<base href>`); only
//!   `http`/`https` links become items.
//! - Hostile markup costs linear time and never panics: html5ever spends time quadratic in the
//!   nesting depth on block elements (40,000 nested `<div>` take seconds), so a page nesting
//!   deeper than [`MAX_DEPTH`] is refused before parsing, and subtrees nested deeper than that
//!   anyway (formatting elements, which html5ever nests cheaply) are cut after parsing. Every
//!   walk here is iterative. Selections always start from the root element, so cut subtrees
//!   are never visited again.
//! - Page chrome (comment boxes, related news, share bars) is stripped from article text, so
//!   that topics never match the titles of other articles listed under this one.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::config::{ArticleRules, Css, ListRules};
use crate::date;
use crate::ingest::entry::{DateContext, Listing, RawDate, RawEntry};
use crate::ingest::sniff::{self, Payload};
use crate::text;

/// Deepest element nesting accepted (Blink caps its DOM at the same depth). News pages nest
/// about 30 deep.
pub const MAX_DEPTH: usize = 512;

/// Most elements handed to the readability extractor (a long news page has about 5,000).
const MAX_READABILITY_ELEMENTS: usize = 100_000;

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

/// What an article page holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticlePage {
    pub title: Option<String>,
    /// The body as HTML (not yet sanitized), links absolute, page chrome removed.
    pub content_html: Option<String>,
    pub date: Option<RawDate>,
    pub authors: Vec<String>,
}

/// A list page → one RawEntry per item element. `base` resolves relative links (and `<base
/// href>` when the page has one). guid = [`article_id`] of the link. Title: `rules.title` text,
/// else the link element's text (or its `title` attribute). Summary: inner HTML of
/// `rules.summary`. Date: text of `rules.date` (or its `datetime`/`title` attribute when
/// present), else a `<time datetime>` inside the item. Items without a usable link (none, `#`,
/// `javascript:`, `mailto:`) or without a title are skipped; the same link twice on a page is
/// kept once. `Listing::title` is the page's `<title>`.
pub fn parse_list(
    bytes: &[u8],
    charset: Option<&str>,
    base: &Url,
    rules: &ListRules,
    dates: DateContext,
) -> Result<Listing, ScrapeError> {
    let page = Page::read(bytes, charset, base)?;
    let items: Vec<ElementRef> = page.select(&rules.item.selector).collect();
    if items.is_empty() {
        return Err(page.challenge_or(ScrapeError::NoItems {
            selector: rules.item.text.clone(),
            title: page.title_for_error(),
        }));
    }
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let mut summaries = Vec::new();
    let mut linked = 0;
    for &item in &items {
        let Some(link) = item_link(item, rules, &page.base) else {
            continue;
        };
        linked += 1;
        let Some(title) = item_title(item, rules, &link, &page.base) else {
            continue;
        };
        let mut key = link.clone();
        key.set_fragment(None);
        if !seen.insert(key) {
            continue;
        }
        if let Some(summary) = rules
            .summary
            .as_ref()
            .and_then(|s| item.select(&s.selector).next())
            .filter(|s| has_substance(*s))
        {
            summaries.push((entries.len(), summary.inner_html()));
        }
        entries.push(RawEntry {
            guid: article_id(&link),
            date: item_date(item, rules, dates),
            link: Some(link),
            title: Some(title),
            ..RawEntry::default()
        });
    }
    if entries.is_empty() {
        return Err(if linked == 0 {
            ScrapeError::NoLinks {
                item: rules.item.text.clone(),
                count: items.len(),
                link: rules.link.text.clone(),
                attr: rules.link_attr.clone(),
            }
        } else {
            ScrapeError::NoTitles {
                item: rules.item.text.clone(),
                count: linked,
                title: match &rules.title {
                    Some(t) => format!("`{}`", t.text),
                    None => format!("text or title of `{}`", rules.link.text),
                },
            }
        });
    }
    let title = page.title();
    for (index, summary) in summaries {
        entries[index].summary = Some(absolute_fragment(&summary, &page.base));
    }
    Ok(Listing {
        title,
        poll_hint: None,
        entries,
        repairs: Vec::new(),
    })
}

/// An article page → its body, date and authors. With `rules.content`, its first match is the
/// body; without (or without `rules`), a readability extractor (dom_smoothie) finds it. Either
/// way, dropped from the body: `rules.remove`, `rules.date` and `rules.author` matches; script, style, noscript, iframe, form,
/// button, input, nav, aside, svg (and other controls); elements whose class or id contains
/// "comment", "binh-luan", "related", "tin-khac", "social" or "share"; and a heading such as
/// "Tin liên quan", "Ý kiến bạn đọc", "Bình luận" or "Thông báo" with everything after it in its
/// container, when what follows is not body text. Relative links and image sources become
/// absolute against `url` (or the page's `<base href>`).
///
/// Date, the first that parses (else the first found, unparsed): `rules.date`;
/// `article:published_time`, `itemprop="datePublished"` or `pubdate` meta; JSON-LD
/// `datePublished`; the first `<time datetime>`. Authors: `rules.author` matches (without a
/// "Tác giả:" label); else `<meta name="author">`; else JSON-LD author names.
pub fn extract_article(
    bytes: &[u8],
    charset: Option<&str>,
    url: &Url,
    rules: Option<&ArticleRules>,
    dates: DateContext,
) -> Result<ArticlePage, ScrapeError> {
    let mut page = Page::read(bytes, charset, url)?;
    let json_ld = json_ld_objects(&page);
    let date = article_date(&page, rules.and_then(|r| r.date.as_ref()), &json_ld, dates);
    let authors = article_authors(&page, rules.and_then(|r| r.author.as_ref()), &json_ld);
    let title = article_title(&page);
    let chrome = Chrome {
        remove: rules.map(|r| r.remove.as_slice()).unwrap_or_default(),
        // The date and author lines are read into their own fields; inside the body they would
        // only repeat them.
        lines: rules
            .map(|r| r.date.iter().chain(r.author.as_ref()).collect())
            .unwrap_or_default(),
    };

    if let Some(content) = rules.and_then(|r| r.content.as_ref()) {
        if page.select(&content.selector).next().is_none() {
            return Err(page.challenge_or(ScrapeError::NoContent {
                selector: content.text.clone(),
                title: page.title_for_error(),
            }));
        }
        let base = page.base.clone();
        let root = Root::FirstMatch(&content.selector);
        let html = clean_content(&mut page.html, root, &chrome, &base).ok_or_else(|| {
            ScrapeError::EmptyContent {
                selector: content.text.clone(),
            }
        })?;
        return Ok(ArticlePage {
            title,
            content_html: Some(html),
            date,
            authors,
        });
    }

    let not_readable = || ScrapeError::NotReadable {
        title: page.title_for_error(),
    };
    let article = readability(&page, url).ok_or_else(|| page.challenge_or(not_readable()))?;
    let mut fragment = Html::parse_fragment(&article.content);
    let html =
        clean_content(&mut fragment, Root::Whole, &chrome, &page.base).ok_or_else(not_readable)?;
    let byline = article.byline.as_deref().map(text::clean);
    Ok(ArticlePage {
        title: title.or_else(|| Some(text::clean(&article.title)).filter(|t| !t.is_empty())),
        content_html: Some(html),
        date: date.or_else(|| {
            let raw = article.published_time.as_deref()?.trim();
            (!raw.is_empty()).then(|| raw_date(raw, dates))
        }),
        authors: if authors.is_empty() {
            byline.filter(|b| !b.is_empty()).into_iter().collect()
        } else {
            authors
        },
    })
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

// ---------------------------------------------------------------------------------------------
// The page

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
    h1: Selector,
    img: Selector,
    anchor: Selector,
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
        h1: css("h1"),
        anchor: css("a[href]"),
        img: css("img[src]"),
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

// ---------------------------------------------------------------------------------------------
// Hostile nesting

/// Elements that never stay open: void elements.
const VOID: [&str; 16] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "frame",
];
/// Elements the parser closes by itself (`<p>`, `<li>`, table cells) or keeps from nesting
/// deeply (formatting elements, see the adoption agency algorithm): not counted.
const SELF_LIMITING: [&str; 37] = [
    "html", "head", "body", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "a", "b", "big", "code", "em",
    "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u", "image", "basefont",
    "bgsound",
];
/// Elements whose content is text, not markup.
const RAW_TEXT: [&str; 9] = [
    "script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes",
];

/// A linear lexical estimate of the nesting depth, run before parsing: start tags that stay
/// open minus their end tags. Elements that close themselves are not counted, so sloppy pages
/// with unclosed `<p>` or `<font>` do not add up.
fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    let mut at = 0;
    let mut depth = 0usize;
    // Inside <svg> or <math>, `<path/>` really is self-closing.
    let mut foreign = 0usize;
    while let Some(offset) = b.get(at..).and_then(|r| r.iter().position(|&c| c == b'<')) {
        let lt = at + offset;
        let rest = &b[lt + 1..];
        if rest.starts_with(b"!--") {
            at = find_bytes(b, b"-->", lt + 4).map_or(b.len(), |e| e + 3);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b':')
            .count();
        if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
            // `<!doctype`, `<?xml`, a `<` in text.
            at = lt + 1;
            continue;
        }
        let name = &b[name_start..name_start + name_len];
        let tag_end = b[name_start..]
            .iter()
            .position(|&c| c == b'>')
            .map_or(b.len(), |p| name_start + p);
        let self_closing = tag_end > 0 && b.get(tag_end - 1) == Some(&b'/');
        let is = |list: &[&str]| list.iter().any(|t| name.eq_ignore_ascii_case(t.as_bytes()));
        let is_foreign = name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math");
        let counted = !is(&VOID) && !is(&SELF_LIMITING) && !is(&RAW_TEXT);
        at = tag_end + 1;
        if closing {
            if counted {
                depth = depth.saturating_sub(1);
            }
            if is_foreign {
                foreign = foreign.saturating_sub(1);
            }
            continue;
        }
        if is(&RAW_TEXT) && !self_closing {
            // Skip to the matching end tag: `<div>` inside a script is not markup.
            let mut end_tag = b"</".to_vec();
            end_tag.extend(name.iter().map(u8::to_ascii_lowercase));
            at = find_ignore_case(b, &end_tag, at).unwrap_or(b.len());
            continue;
        }
        if counted && !(self_closing && (foreign > 0 || is_foreign)) {
            depth += 1;
            if is_foreign {
                foreign += 1;
            }
            if depth > limit {
                return true;
            }
        }
    }
    false
}

fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ignore_case(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Detaches every node deeper than `limit` (the document node is depth 0).
fn cut_below(html: &mut Html, limit: usize) {
    let mut cut = Vec::new();
    let mut stack = vec![(html.tree.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        for child in node.children() {
            if depth + 1 > limit {
                cut.push(child.id());
            } else {
                stack.push((child, depth + 1));
            }
        }
    }
    for id in cut {
        if let Some(mut node) = html.tree.get_mut(id) {
            node.detach();
        }
    }
}

/// Pre-order walk of a node's descendants without recursion; [`Walk::skip_children`] prunes.
struct Walk<'a> {
    root: NodeRef<'a>,
    next: Option<NodeRef<'a>>,
}

impl<'a> Walk<'a> {
    fn new(root: NodeRef<'a>) -> Self {
        Walk {
            root,
            next: root.first_child(),
        }
    }

    /// Do not visit the children of `node`, the node last returned.
    fn skip_children(&mut self, node: NodeRef<'a>) {
        self.next = after(node, self.root);
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        let node = self.next?;
        self.next = node.first_child().or_else(|| after(node, self.root));
        Some(node)
    }
}

/// The node after `node` and its descendants in document order, within `root`.
fn after<'a>(node: NodeRef<'a>, root: NodeRef<'a>) -> Option<NodeRef<'a>> {
    let mut n = node;
    loop {
        if n == root {
            return None;
        }
        if let Some(sibling) = n.next_sibling() {
            return Some(sibling);
        }
        n = n.parent()?;
    }
}

// ---------------------------------------------------------------------------------------------
// List pages

/// The item's link: the first match of `rules.link` (the item itself included) whose
/// `link_attr` is a web link.
fn item_link(item: ElementRef, rules: &ListRules, base: &Url) -> Option<Url> {
    link_elements(item, &rules.link.selector)
        .find_map(|a| web_link(a.attr(&rules.link_attr)?, base))
}

fn link_elements<'a>(
    item: ElementRef<'a>,
    link: &'a Selector,
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    let own = link.matches(&item).then_some(item);
    own.into_iter().chain(item.select(link))
}

/// `rules.title` text; else the text of a link element pointing to `link` (a thumbnail link
/// without text usually comes first), else such an element's `title` attribute.
fn item_title(item: ElementRef, rules: &ListRules, link: &Url, base: &Url) -> Option<String> {
    if let Some(title) = rules.title.as_ref().and_then(|t| {
        item.select(&t.selector)
            .map(element_text)
            .find(|t| !t.is_empty())
    }) {
        return Some(title);
    }
    let same: Vec<ElementRef> = link_elements(item, &rules.link.selector)
        .filter(|a| {
            a.attr(&rules.link_attr)
                .and_then(|h| web_link(h, base))
                .is_some_and(|u| u == *link)
        })
        .collect();
    same.iter()
        .map(|a| element_text(*a))
        .chain(same.iter().filter_map(|a| a.attr("title")).map(text::clean))
        .find(|t| !t.is_empty())
}

/// `rules.date` (its `datetime`, `content` or `title` attribute, or its text), else a `<time
/// datetime>` in the item.
fn item_date(item: ElementRef, rules: &ListRules, dates: DateContext) -> Option<RawDate> {
    let mut candidates = Vec::new();
    if let Some(el) = rules
        .date
        .as_ref()
        .and_then(|d| item.select(&d.selector).next())
    {
        candidates.extend(date_strings(el));
    }
    candidates.extend(
        item.select(&SELECTORS.time)
            .filter_map(|t| t.attr("datetime"))
            .map(str::to_string),
    );
    pick_date(candidates, dates)
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
        let parsed = raw_date(&raw, dates);
        if parsed.parsed.is_some() {
            return Some(parsed);
        }
        first.get_or_insert(parsed);
    }
    first
}

fn raw_date(raw: &str, dates: DateContext) -> RawDate {
    RawDate {
        raw: raw.to_string(),
        parsed: date::parse(raw, dates.tz, dates.order, dates.now),
    }
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

// ---------------------------------------------------------------------------------------------
// Article pages

fn article_title(page: &Page) -> Option<String> {
    page.meta(&SELECTORS.og_title)
        .map(|t| text::clean(&t))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            page.select(&SELECTORS.h1)
                .map(element_text)
                .find(|t| !t.is_empty())
        })
        .or_else(|| page.title())
}

fn article_date(
    page: &Page,
    rule: Option<&Css>,
    json_ld: &[serde_json::Value],
    dates: DateContext,
) -> Option<RawDate> {
    let mut candidates = Vec::new();
    if let Some(el) = rule.and_then(|r| page.select(&r.selector).next()) {
        candidates.extend(date_strings(el));
    }
    for el in page.select(&SELECTORS.published) {
        candidates.extend(date_strings(el));
    }
    candidates.extend(
        json_ld
            .iter()
            .filter_map(|o| string_or_first(o.get("datePublished")?))
            .map(squash),
    );
    if let Some(time) = page.select(&SELECTORS.time).next() {
        candidates.extend(time.attr("datetime").map(squash));
    }
    candidates.retain(|c| !c.is_empty());
    pick_date(candidates, dates)
}

fn article_authors(page: &Page, rule: Option<&Css>, json_ld: &[serde_json::Value]) -> Vec<String> {
    let mut authors: Vec<String> = Vec::new();
    let add = |authors: &mut Vec<String>, name: String| {
        if !name.is_empty() && !authors.contains(&name) {
            authors.push(name);
        }
    };
    if let Some(rule) = rule {
        for el in page.select(&rule.selector) {
            add(
                &mut authors,
                without_author_label(&element_text(el)).to_string(),
            );
        }
    }
    if authors.is_empty() {
        if let Some(meta) = page.meta(&SELECTORS.author) {
            add(&mut authors, text::clean(&meta));
        }
    }
    if authors.is_empty() {
        for author in json_ld.iter().filter_map(|o| o.get("author")).take(1) {
            let list = match author {
                serde_json::Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            for a in list {
                let name = match a {
                    serde_json::Value::String(s) => Some(s.as_str()),
                    other => other.get("name").and_then(|n| n.as_str()),
                };
                add(&mut authors, name.map(text::clean).unwrap_or_default());
            }
        }
    }
    authors
}

/// "Tác giả: Minh Anh" → "Minh Anh". Only that label: "Theo", "PV" and the like stay.
fn without_author_label(s: &str) -> &str {
    let label_end = s.char_indices().nth(7).map_or(s.len(), |(i, _)| i);
    let Some((label, rest)) = s.split_at_checked(label_end) else {
        return s;
    };
    if text::fold(label) != "tac gia" {
        return s;
    }
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return s;
    }
    rest.trim_start_matches(|c: char| c == ':' || c.is_whitespace())
}

fn string_or_first(v: &serde_json::Value) -> Option<&str> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Array(a) => a.iter().find_map(|x| x.as_str()),
        _ => None,
    }
}

/// The objects of the page's JSON-LD blocks, article types first: top-level objects, array
/// items and `@graph` members. A block that is not JSON is skipped; one with raw line breaks in
/// strings (common) is read after turning control characters into spaces.
fn json_ld_objects(page: &Page) -> Vec<serde_json::Value> {
    const MAX_OBJECTS: usize = 64;
    let mut objects = Vec::new();
    for script in page.select(&SELECTORS.json_ld) {
        let kind = script.attr("type").unwrap_or_default().trim();
        if !kind.eq_ignore_ascii_case("application/ld+json") {
            continue;
        }
        let code: String = script.text().collect();
        let value = serde_json::from_str::<serde_json::Value>(code.trim()).or_else(|_| {
            let spaced: String = code
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            serde_json::from_str(spaced.trim())
        });
        let Ok(value) = value else { continue };
        let mut pending = vec![value];
        while let Some(v) = pending.pop() {
            match v {
                serde_json::Value::Array(items) => pending.extend(items.into_iter().rev()),
                serde_json::Value::Object(mut map) => {
                    if let Some(graph) = map.remove("@graph") {
                        pending.push(graph);
                    }
                    objects.push(serde_json::Value::Object(map));
                }
                _ => {}
            }
            if objects.len() >= MAX_OBJECTS {
                break;
            }
        }
    }
    // Article types first: a WebPage or Organization may carry dates and names too.
    let is_article = |o: &serde_json::Value| {
        let t = o.get("@type").map(|t| t.to_string()).unwrap_or_default();
        t.contains("Article") || t.contains("BlogPosting")
    };
    let (mut articles, others): (Vec<_>, Vec<_>) = objects.into_iter().partition(is_article);
    articles.extend(others);
    articles
}

/// Runs the readability extractor on the (depth-cut) page; None when it finds nothing.
fn readability(page: &Page, url: &Url) -> Option<dom_smoothie::Article> {
    let cfg = dom_smoothie::Config {
        max_elements_to_parse: MAX_READABILITY_ELEMENTS,
        ..dom_smoothie::Config::default()
    };
    let source = page.html.html();
    // A heuristic third-party extractor on untrusted markup: a panic in it must cost one
    // article, not the poll of the whole source.
    std::panic::catch_unwind(|| {
        dom_smoothie::Readability::new(source, Some(url.as_str()), Some(cfg))
            .and_then(|mut r| r.parse())
            .ok()
    })
    .ok()
    .flatten()
}

// ---------------------------------------------------------------------------------------------
// Cleaning an article body

/// Elements that are never article text.
const DROP_TAGS: [&str; 16] = [
    "script", "style", "noscript", "iframe", "form", "button", "input", "nav", "aside", "svg",
    "textarea", "select", "template", "object", "embed", "dialog",
];

/// Class or id fragments of page chrome inside article bodies.
const CHROME_NAMES: [&str; 10] = [
    "comment",
    "binh-luan",
    "binhluan",
    "related",
    "tin-khac",
    "tinkhac",
    "lien-quan",
    "lienquan",
    "social",
    "share",
];

/// Headings that start the widgets Vietnamese news pages put after the article, folded
/// (lowercase, no diacritics): "Ý kiến bạn đọc", "Tin liên quan", "Thông báo", …
const CHROME_MARKERS: [&str; 9] = [
    "y kien ban doc",
    "y kien cua ban",
    "binh luan",
    "tin khac",
    "tin lien quan",
    "cac tin khac",
    "tin cung chuyen muc",
    "thong bao",
    "gui binh luan",
];

/// Most marker headings weighed per page (each costs a walk over the text around it).
const MAX_MARKER_CHECKS: usize = 16;

/// Where the body sits in the tree being cleaned.
enum Root<'s> {
    /// The first match of the content selector.
    FirstMatch(&'s Selector),
    /// The root element (of a fragment).
    Whole,
}

/// Cleans the body in place and returns its inner HTML; None when no text or image is left.
///
/// Dropped: `remove` matches; [`DROP_TAGS`]; elements whose class or id names chrome
/// ([`CHROME_NAMES`]); and, inside the container of a chrome heading ([`CHROME_MARKERS`]), that
/// heading and everything after it. Then relative `href`/`src`/`srcset`/`poster` become
/// absolute against `base`, and lazy-loaded images get their real `src`.
///
/// (Node ids stay inside this function: their type, `ego_tree::NodeId`, is not nameable here.)
/// What the admin's selectors drop from a body.
struct Chrome<'r> {
    /// `rules.remove`: every match goes.
    remove: &'r [Css],
    /// `rules.date` and `rules.author`: matches go when they are a line, not a block that holds
    /// the body (a broad selector must not empty the article).
    lines: Vec<&'r Css>,
}

/// Longest text (non-space characters) of a date or author match dropped from a body.
const LINE_LEN: usize = 200;

fn clean_content(html: &mut Html, root: Root, chrome: &Chrome, base: &Url) -> Option<String> {
    let root_id = match root {
        Root::FirstMatch(selector) => html.root_element().select(selector).next()?.id(),
        Root::Whole => html.root_element().id(),
    };
    let detach = |html: &mut Html, ids: Vec<_>| {
        for id in ids {
            if let Some(mut node) = html.tree.get_mut(id) {
                node.detach();
            }
        }
    };
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    let doomed = page_chrome(element, chrome)
        .iter()
        .map(|n| n.id())
        .collect();
    detach(html, doomed);
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    let doomed = widgets_after_markers(element)
        .iter()
        .map(|n| n.id())
        .collect();
    detach(html, doomed);
    absolutize(html, base);
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    has_substance(element).then(|| element.inner_html().trim().to_string())
}

/// `remove` matches, date and author lines, [`DROP_TAGS`] and elements named as chrome,
/// outermost only.
fn page_chrome<'a>(root: ElementRef<'a>, chrome: &Chrome) -> Vec<NodeRef<'a>> {
    let lines = chrome
        .lines
        .iter()
        .flat_map(|css| root.select(&css.selector))
        .filter(|e| e.text().map(visible_len).sum::<usize>() <= LINE_LEN);
    let removed: HashSet<_> = chrome
        .remove
        .iter()
        .flat_map(|css| root.select(&css.selector))
        .chain(lines)
        .map(|e| e.id())
        .collect();
    let mut doomed = Vec::new();
    let mut walk = Walk::new(*root);
    while let Some(node) = walk.next() {
        let Node::Element(e) = node.value() else {
            continue;
        };
        let named_chrome = || {
            [e.attr("class"), e.id()].into_iter().flatten().any(|v| {
                let v = v.to_ascii_lowercase();
                CHROME_NAMES.iter().any(|c| v.contains(c))
            })
        };
        let dropped_tag =
            DROP_TAGS.contains(&e.name()) && !(e.name() == "form" && is_page_form(node));
        if removed.contains(&node.id()) || dropped_tag || named_chrome() {
            doomed.push(node);
            walk.skip_children(node);
        }
    }
    doomed
}

/// ASP.NET pages (many `*.gov.vn` portals) wrap the whole page in one `<form>`: a form with
/// that much text is the page, not a comment box.
fn is_page_form(form: NodeRef) -> bool {
    const PAGE_TEXT: usize = 1000;
    let mut total = 0;
    for node in form.descendants() {
        if let Node::Text(t) = node.value() {
            total += visible_len(t);
            if total > PAGE_TEXT {
                return true;
            }
        }
    }
    false
}

/// Chrome headings ("Tin liên quan", "Ý kiến bạn đọc", …) and everything after each inside
/// its container. A heading counts only when what follows it is not mostly body text: the
/// text after it outside links must not exceed the text before it. Government pages print
/// "THÔNG BÁO" as the first line of an official notice, and that must not cut the notice.
fn widgets_after_markers(root: ElementRef) -> Vec<NodeRef> {
    let mut doomed = Vec::new();
    let mut before = 0usize;
    let mut checks = 0;
    let mut walk = Walk::new(*root);
    while let Some(node) = walk.next() {
        match node.value() {
            Node::Text(t) => before += visible_len(t),
            Node::Element(_) if checks < MAX_MARKER_CHECKS => {
                let Some(el) = ElementRef::wrap(node) else {
                    continue;
                };
                if !is_marker(el) {
                    continue;
                }
                checks += 1;
                if unlinked_text_after(node, before) > before {
                    // Body text follows: the heading is part of the body. Its children hold
                    // the same text, so they are not weighed again.
                    before += el.text().map(visible_len).sum::<usize>();
                    walk.skip_children(node);
                    continue;
                }
                doomed.push(node);
                doomed.extend(node.next_siblings());
                // Everything after the heading in its container is gone: go on after it.
                walk.next = node.parent().and_then(|p| after(p, *root));
            }
            _ => {}
        }
    }
    doomed
}

/// A short element whose whole text is a chrome heading, standing alone (no text beside it:
/// "Xem <b>Bình luận</b> dưới đây" is a sentence, not a heading).
fn is_marker(el: ElementRef) -> bool {
    const MAX_LEN: usize = 48;
    const MAX_NODES: usize = 32;
    let mut text = String::new();
    for node in el.descendants().take(MAX_NODES + 1) {
        if let Node::Text(t) = node.value() {
            text.push_str(t);
            if text.len() > MAX_LEN * 4 {
                return false;
            }
        }
    }
    if el.descendants().nth(MAX_NODES).is_some() {
        return false;
    }
    let folded = text::fold(&text);
    let folded = folded.trim().trim_end_matches(':').trim_end();
    if !CHROME_MARKERS.contains(&folded) {
        return false;
    }
    let beside_text = el
        .prev_siblings()
        .chain(el.next_siblings())
        .any(|s| matches!(s.value(), Node::Text(t) if !t.trim().is_empty()));
    !beside_text
}

/// Visible characters of the text after `node` in its container, outside links, counted up
/// to just past `cap`.
fn unlinked_text_after(node: NodeRef, cap: usize) -> usize {
    let mut total = 0;
    for sibling in node.next_siblings() {
        match sibling.value() {
            Node::Text(t) => total += visible_len(t),
            Node::Element(e) if e.name() == "a" => continue,
            _ => {}
        }
        let mut walk = Walk::new(sibling);
        while let Some(n) = walk.next() {
            match n.value() {
                Node::Element(e) if e.name() == "a" => walk.skip_children(n),
                Node::Text(t) => total += visible_len(t),
                _ => {}
            }
            if total > cap {
                return total;
            }
        }
        if total > cap {
            return total;
        }
    }
    total
}

fn visible_len(t: &str) -> usize {
    t.chars().filter(|c| !c.is_whitespace()).count()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::DateOrder;
    use chrono::{DateTime, TimeZone, Utc};

    fn ctx() -> DateContext {
        DateContext {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            order: DateOrder::Dmy,
            now: Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(),
        }
    }

    fn css(s: &str) -> Css {
        Css::parse(s).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn instant(d: &Option<RawDate>) -> Option<DateTime<Utc>> {
        d.as_ref()?.parsed.map(|t| t.with_timezone(&Utc))
    }

    fn list_rules(item: &str, link: &str) -> ListRules {
        ListRules {
            item: css(item),
            link: css(link),
            link_attr: "href".into(),
            title: None,
            date: None,
            summary: None,
        }
    }

    fn article_rules(content: &str) -> ArticleRules {
        ArticleRules {
            content: Some(css(content)),
            date: None,
            author: None,
            remove: Vec::new(),
        }
    }

    /// `page` extracted as an article at a fixed URL with `rules`.
    fn extract(page: &str, rules: ArticleRules) -> ArticlePage {
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
    fn body_text(page: &ArticlePage) -> String {
        text::html_to_text(page.content_html.as_deref().unwrap_or_default())
    }

    /// A thanhuytphcm.vn category page: thumbnail link first, then the headline; several date
    /// styles; junk items (ads, login, contact, a photo without caption, a repeat).
    const LIST_PAGE: &str = r##"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>
    Tin tức - Thành ủy Thành phố Hồ Chí Minh
</title></head>
<body>
<nav><a href="/">Trang chủ</a> <a href="/tin-tuc-su-kien">Tin tức</a></nav>
<div class="list-news">
  <div class="news-item">
    <a class="thumb" href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281"><img src="/uploads/2020/01/dv.jpg" alt=""></a>
    <h3><a href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281">
        Hội nghị tổng kết công tác dân vận năm 2019
    </a></h3>
    <div class="date">Thứ Hai, 19/01/2020 10:30 (GMT+7)</div>
    <div class="sapo">Sáng 19/1, Ban Dân vận Thành ủy tổ chức hội nghị. <a href="/chu-de/dan-van">Xem thêm</a> <img src="../uploads/a.jpg"></div>
  </div>
  <div class="news-item">
    <h3><a href="https://thanhuytphcm.vn/tin-tuc/mat-tran-to-quoc-1491881282">Mặt trận Tổ quốc Thành phố giám sát quy chế dân chủ ở cơ sở</a></h3>
    <span class="date">10:30 | 19/01/2020</span>
  </div>
  <div class="news-item">
    <a href="tin-tuc/dan-van-kheo-1491881283?utm_source=home" title="Phong trào Dân vận khéo năm 2026"><img src="x.jpg"></a>
    <span class="date">15 giờ trước</span>
  </div>
  <div class="news-item"><h3><a href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281#binh-luan">Hội nghị tổng kết (bình luận)</a></h3></div>
  <div class="news-item"><a href="#">Quảng cáo</a></div>
  <div class="news-item"><a href="javascript:void(0)">Đăng nhập</a></div>
  <div class="news-item"><a href="mailto:bbt@thanhuytphcm.vn">Liên hệ</a></div>
  <div class="news-item"><a href="/tin-tuc/anh-1491881284"><img src="y.jpg"></a></div>
  <div class="news-item">
    <h3><a href="/tin-tuc/dai-hoi-dang-bo-2020">Đại hội Đảng bộ Thành phố</a></h3>
    <time datetime="2026-11-27T08:00:00">Hôm qua</time>
  </div>
</div>
</body></html>"##;

    #[test]
    fn list_page_items_links_titles_and_dates() {
        let rules = ListRules {
            date: Some(css(".date")),
            summary: Some(css(".sapo")),
            ..list_rules("div.news-item", "a")
        };
        let base = url("https://thanhuytphcm.vn/tin-tuc-su-kien");
        let feed = parse_list(LIST_PAGE.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(
            feed.title.as_deref(),
            Some("Tin tức - Thành ủy Thành phố Hồ Chí Minh")
        );
        let got: Vec<_> = feed
            .entries
            .iter()
            .map(|e| {
                (
                    e.title.as_deref().unwrap(),
                    e.link.as_ref().unwrap().as_str(),
                    e.guid.as_deref(),
                    instant(&e.date),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Hội nghị tổng kết công tác dân vận năm 2019",
                    "https://thanhuytphcm.vn/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281",
                    Some("1491881281"),
                    Some(utc("2020-01-19T03:30:00Z")),
                ),
                (
                    "Mặt trận Tổ quốc Thành phố giám sát quy chế dân chủ ở cơ sở",
                    "https://thanhuytphcm.vn/tin-tuc/mat-tran-to-quoc-1491881282",
                    Some("1491881282"),
                    Some(utc("2020-01-19T03:30:00Z")),
                ),
                (
                    "Phong trào Dân vận khéo năm 2026",
                    "https://thanhuytphcm.vn/tin-tuc/dan-van-kheo-1491881283?utm_source=home",
                    Some("1491881283"),
                    // 15 hours before now.
                    Some(utc("2026-11-27T12:00:00Z")),
                ),
                (
                    "Đại hội Đảng bộ Thành phố",
                    "https://thanhuytphcm.vn/tin-tuc/dai-hoi-dang-bo-2020",
                    None,
                    // <time datetime> without offset: Vietnamese wall time.
                    Some(utc("2026-11-27T01:00:00Z")),
                ),
            ]
        );
        let first = &feed.entries[0];
        assert_eq!(
            first.date.as_ref().unwrap().raw,
            "Thứ Hai, 19/01/2020 10:30 (GMT+7)"
        );
        let summary = first.summary.as_deref().unwrap();
        assert!(summary.contains("Ban Dân vận Thành ủy"), "{summary}");
        assert!(
            summary.contains(r#"href="https://thanhuytphcm.vn/chu-de/dan-van""#),
            "{summary}"
        );
        assert!(
            summary.contains(r#"src="https://thanhuytphcm.vn/uploads/a.jpg""#),
            "{summary}"
        );
        assert_eq!(feed.entries[1].summary, None);
    }

    #[test]
    fn list_page_title_selector_and_base_href() {
        // mattran.org.vn style: relative links written against <base href>, headline in <h3>.
        let page = r#"<html><head><base href="https://mattran.org.vn/"><title>Tin tức</title></head><body>
            <ul class="list">
              <li><a href="tin-tuc/hiep-thuong-12345.html"><span class="tit">Hội nghị hiệp thương</span></a>
                  <p class="time" title="20/11/2026 08:15">3 ngày trước</p></li>
              <li><a href="tin-tuc/giam-sat-12346.html" title="Tooltip"><span class="tit"> </span>Giám sát</a></li>
            </ul></body></html>"#;
        let rules = ListRules {
            title: Some(css(".tit")),
            date: Some(css(".time")),
            ..list_rules("ul.list > li", "a")
        };
        let base = url("https://mattran.org.vn/chuyen-muc/tin-tuc/trang-2.html");
        let feed = parse_list(page.as_bytes(), None, &base, &rules, ctx()).unwrap();
        let e = &feed.entries[0];
        assert_eq!(
            e.link.as_ref().unwrap().as_str(),
            "https://mattran.org.vn/tin-tuc/hiep-thuong-12345.html"
        );
        assert_eq!(e.title.as_deref(), Some("Hội nghị hiệp thương"));
        // The `title` attribute holds the exact date; the text is relative.
        assert_eq!(e.date.as_ref().unwrap().raw, "20/11/2026 08:15");
        assert_eq!(instant(&e.date), Some(utc("2026-11-20T01:15:00Z")));
        // An empty title match falls back to the link text.
        assert_eq!(feed.entries[1].title.as_deref(), Some("Giám sát"));
        assert_eq!(feed.entries[1].date, None);
    }

    #[test]
    fn list_item_that_is_itself_the_link() {
        let page = r#"<div><a class="news" href="/a-123456.html">Tin một</a><a class="news" href="/b-123457.html">Tin hai</a></div>"#;
        let base = url("https://tuyengiaodanvan.vn/");
        let feed = parse_list(
            page.as_bytes(),
            None,
            &base,
            &list_rules("a.news", "a"),
            ctx(),
        )
        .unwrap();
        let titles: Vec<_> = feed.entries.iter().map(|e| e.title.as_deref()).collect();
        assert_eq!(titles, [Some("Tin một"), Some("Tin hai")]);
    }

    /// A dangcongsan.vn article: date line, title, photo with caption, body, author line, then
    /// the widgets (share bar, related news, readers' comments, comment form, notices).
    const ARTICLE_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>Hội nghị toàn quốc về công tác dân vận - Báo điện tử Đảng Cộng sản Việt Nam</title>
<meta property="og:title" content="Hội nghị toàn quốc về công tác dân vận">
<meta name="author" content="Báo điện tử Đảng Cộng sản Việt Nam">
</head><body>
<header><nav><a href="/">Trang chủ</a><a href="/thoi-su">Thời sự</a></nav></header>
<div class="detail-content">
  <div class="date">Thứ Hai, 19/01/2020 10:30 (GMT+7)</div>
  <h1 class="title">Hội nghị toàn quốc về công tác dân vận</h1>
  <figure class="image"><img src="/Uploads/Images/2020/1/19/hoinghi.jpg" alt="">
    <figcaption>Quang cảnh hội nghị. (Ảnh: TTXVN)</figcaption></figure>
  <p>ĐCSVN – Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương tổ chức hội nghị toàn quốc tổng kết
     công tác dân vận năm 2019, triển khai nhiệm vụ năm 2020.</p>
  <p>Phát biểu tại hội nghị, đồng chí Trưởng Ban nhấn mạnh việc thực hiện
     <a href="/dan-van/quy-che-dan-chu-o-co-so-543210.html">quy chế dân chủ ở cơ sở</a> và phong trào thi đua
     "Dân vận khéo" trong cả hệ thống chính trị.</p>
  <div class="ads">QUẢNG CÁO GIỮA BÀI</div>
  <script>var tracking = "mã theo dõi";</script>
  <p class="author">Tác giả: Minh Anh</p>
  <div class="box-share"><a href="https://facebook.com/sharer">Chia sẻ Facebook</a></div>
  <div class="box">
    <h3 class="box-title">Tin liên quan</h3>
    <ul>
      <li><a href="/x-1000001.html">Tin khác số một về hội nghị</a></li>
      <li><a href="/x-1000002.html">Tin khác số hai về đại hội</a></li>
    </ul>
  </div>
  <div class="box-title"><span>Ý kiến bạn đọc:</span></div>
  <div class="list">Bạn đọc Nguyễn Văn A: Bài viết rất hay.</div>
  <form><textarea>Nội dung</textarea><button>Gửi bình luận</button></form>
  <div id="comment-list"><p>Bạn đọc B: Đồng ý với tác giả.</p></div>
</div>
<div class="footer">Bản quyền thuộc Báo điện tử Đảng Cộng sản Việt Nam</div>
</body></html>"#;

    #[test]
    fn article_body_kept_and_chrome_dropped() {
        let rules = ArticleRules {
            date: Some(css(".date")),
            author: Some(css(".author")),
            remove: vec![css(".ads")],
            ..article_rules("div.detail-content")
        };
        let page_url = url("https://dangcongsan.vn/thoi-su/hoi-nghi-toan-quoc-1234567.html");
        let page = extract_article(
            ARTICLE_PAGE.as_bytes(),
            None,
            &page_url,
            Some(&rules),
            ctx(),
        )
        .unwrap();
        assert_eq!(
            page.title.as_deref(),
            Some("Hội nghị toàn quốc về công tác dân vận")
        );
        assert_eq!(instant(&page.date), Some(utc("2020-01-19T03:30:00Z")));
        assert_eq!(page.authors, ["Minh Anh"]);

        let body = body_text(&page);
        for kept in [
            "Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương",
            "quy chế dân chủ ở cơ sở",
            "Quang cảnh hội nghị. (Ảnh: TTXVN)",
        ] {
            assert!(body.contains(kept), "{kept:?} missing from {body:?}");
        }
        for dropped in [
            // Read into `authors` and `date`, not repeated in the body.
            "Tác giả: Minh Anh",
            "GMT+7",
            "QUẢNG CÁO",
            "mã theo dõi",
            "Chia sẻ",
            "Tin liên quan",
            "Tin khác số một",
            "Ý kiến bạn đọc",
            "Bài viết rất hay",
            "Gửi bình luận",
            "Đồng ý với tác giả",
            "Trang chủ",
            "Bản quyền",
        ] {
            assert!(!body.contains(dropped), "{dropped:?} left in {body:?}");
        }
        let html = page.content_html.unwrap();
        assert!(
            html.contains(r#"src="https://dangcongsan.vn/Uploads/Images/2020/1/19/hoinghi.jpg""#),
            "{html}"
        );
        assert!(
            html.contains(
                r#"href="https://dangcongsan.vn/dan-van/quy-che-dan-chu-o-co-so-543210.html""#
            ),
            "{html}"
        );
    }

    #[test]
    fn chrome_headings_only_cut_after_the_body() {
        // An official notice starts with the word THÔNG BÁO: that is the document, not chrome.
        let page = r#"<div class="content">
            <p style="text-align:center"><strong>THÔNG BÁO</strong></p>
            <p>Kết luận của Bộ Chính trị về tiếp tục thực hiện Nghị quyết số 25 về tăng cường
               và đổi mới sự lãnh đạo của Đảng đối với công tác dân vận trong tình hình mới.</p>
            <p>Xem <b>Bình luận</b> của chuyên gia ở phần sau của văn bản.</p>
            <p>Các cấp ủy đảng tổ chức quán triệt, triển khai thực hiện nghiêm túc.</p>
            <div><b>Ý kiến của bạn</b></div>
            <p>Thông báo: Ý kiến của bạn sẽ được biên tập trước khi đăng.</p>
            </div>"#;
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://dangcongsan.vn/van-ban/thong-bao-123456.html"),
            Some(&article_rules("div.content")),
            ctx(),
        )
        .unwrap();
        let body = body_text(&page);
        assert!(
            body.starts_with("THÔNG BÁO Kết luận của Bộ Chính trị"),
            "{body}"
        );
        assert!(body.contains("Xem Bình luận của chuyên gia"), "{body}");
        assert!(body.contains("triển khai thực hiện nghiêm túc"), "{body}");
        assert!(!body.contains("biên tập trước khi đăng"), "{body}");
    }

    #[test]
    fn windows_1258_page_declared_only_in_meta() {
        // windows-1258 writes tones as combining marks after the base letter: "à" is "a" + 0xCC.
        let page = "<html><head>\
            <meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1258\">\
            <title>Tha\u{300}nh u\u{309}y Tha\u{300}nh phô\u{301} Hô\u{300} Chi\u{301} Minh</title></head>\
            <body><div class=\"detail\"><p>Công ta\u{301}c dân vâ\u{323}n cu\u{309}a \u{110}a\u{309}ng</p></div></body></html>";
        let (bytes, _, lossy) = encoding_rs::WINDOWS_1258.encode(page);
        assert!(!lossy);
        assert!(std::str::from_utf8(&bytes).is_err(), "must not be UTF-8");
        let page = extract_article(
            &bytes,
            None,
            &url("https://hcmcpv.org.vn/tin-tuc/cong-tac-dan-van-1491881290"),
            Some(&article_rules("div.detail")),
            ctx(),
        )
        .unwrap();
        assert_eq!(
            page.title.as_deref(),
            Some("Thành ủy Thành phố Hồ Chí Minh")
        );
        assert_eq!(body_text(&page), "Công tác dân vận của Đảng");
        assert_eq!(
            sniff::html_title(&text::decode(&bytes, None).text).as_deref(),
            Some("Thành ủy Thành phố Hồ Chí Minh")
        );
    }

    #[test]
    fn date_only_in_meta_is_local_time() {
        let page = r#"<html><head>
            <meta property="article:published_time" content="2026-11-20T08:15:00">
            </head><body><div class="noidung"><p>Nội dung bài viết.</p></div></body></html>"#;
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://tuyengiaodanvan.vn/tin-tuc/bai-viet-123456"),
            Some(&article_rules(".noidung")),
            ctx(),
        )
        .unwrap();
        let date = page.date.unwrap();
        assert_eq!(date.raw, "2026-11-20T08:15:00");
        assert_eq!(
            date.parsed.map(|t| t.with_timezone(&Utc)),
            Some(utc("2026-11-20T01:15:00Z"))
        );
    }

    #[test]
    fn date_and_authors_from_json_ld() {
        // A broken block first (skipped), then a @graph whose article has a raw line break in
        // a string (read anyway).
        let page = "<html><head>
            <script type=\"application/ld+json\">{\"@context\": \"https://schema.org\", </script>
            <script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":[
              {\"@type\":\"WebSite\",\"name\":\"Báo Nhân Dân\",\"datePublished\":\"2010-01-01\"},
              {\"@type\":\"NewsArticle\",\"headline\":\"Dân vận\",\"description\":\"dòng một\ndòng hai\",
               \"datePublished\":\"2026-11-21T09:00:00+07:00\",
               \"author\":[{\"@type\":\"Person\",\"name\":\"Lan Hương\"},{\"name\":\"Quốc Việt\"}]}]}
            </script></head><body><article><p>Nội dung.</p></article></body></html>";
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://nhandan.vn/dan-van-post912345.html"),
            Some(&article_rules("article")),
            ctx(),
        )
        .unwrap();
        assert_eq!(instant(&page.date), Some(utc("2026-11-21T02:00:00Z")));
        assert_eq!(page.date.unwrap().raw, "2026-11-21T09:00:00+07:00");
        assert_eq!(page.authors, ["Lan Hương", "Quốc Việt"]);
    }

    #[test]
    fn date_order_of_preference() {
        let check = |head: &str, body: &str, expected: Option<&str>| {
            let page = format!(
                "<html><head>{head}</head><body><div class=\"c\">{body}<p>Nội dung.</p></div></body></html>"
            );
            let got = extract(
                &page,
                ArticleRules {
                    date: Some(css(".ngay")),
                    ..article_rules(".c")
                },
            );
            assert_eq!(
                instant(&got.date),
                expected.map(utc),
                "{head} {body}: {:?}",
                got.date
            );
        };
        let meta =
            r#"<meta property="article:published_time" content="2026-11-20T08:15:00+07:00">"#;
        let time = r#"<time datetime="2026-11-22T10:00:00+07:00">22/11</time>"#;
        // The rule wins over the meta tag, the meta tag over <time>.
        check(
            meta,
            r#"<span class="ngay">Chủ Nhật, ngày 19 tháng 1 năm 2020</span>"#,
            Some("2020-01-18T17:00:00Z"),
        );
        check(meta, time, Some("2026-11-20T01:15:00Z"));
        check("", time, Some("2026-11-22T03:00:00Z"));
        check(
            r#"<meta itemprop="datePublished" content="2026-11-23T07:00:00">"#,
            "",
            Some("2026-11-23T00:00:00Z"),
        );
        check("", "", None);
        // A rule match that does not parse is kept raw when nothing else has a date.
        let page = r#"<div class="c"><span class="ngay">Cập nhật: không rõ</span><p>x</p></div>"#;
        let got = extract(
            page,
            ArticleRules {
                date: Some(css(".ngay")),
                ..article_rules(".c")
            },
        );
        assert_eq!(
            got.date,
            Some(RawDate {
                raw: "Cập nhật: không rõ".into(),
                parsed: None
            })
        );
    }

    #[test]
    fn authors_from_rule_meta_or_nothing() {
        let check = |page: &str, rule: Option<&str>, expected: &[&str]| {
            // A body beside the author lines (which are dropped from it).
            let page = format!(
                "{page}<p>Ban Dân vận Trung ương tổ chức hội nghị toàn quốc tổng kết công tác dân vận năm 2019, triển khai nhiệm vụ năm 2020.</p>"
            );
            let got = extract(
                &page,
                ArticleRules {
                    author: rule.map(css),
                    ..article_rules("body")
                },
            );
            assert_eq!(got.authors, expected, "{page}");
        };
        check(
            r#"<p class="tg">Tác giả:  Minh  Anh </p><p class="tg">Quốc Việt</p><p>x</p>"#,
            Some(".tg"),
            &["Minh Anh", "Quốc Việt"],
        );
        check(
            r#"<p class="tg">Theo TTXVN</p>"#,
            Some(".tg"),
            &["Theo TTXVN"],
        );
        check(
            r#"<head><meta name="author" content="Hồng Phúc"></head><p>x</p>"#,
            Some(".tg"),
            &["Hồng Phúc"],
        );
        check("<p>x</p>", None, &[]);
    }

    #[test]
    fn readability_fallback_without_selectors() {
        let paragraph = "Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương tổ chức hội nghị toàn quốc \
            tổng kết công tác dân vận năm 2019 và triển khai nhiệm vụ năm 2020. Hội nghị được \
            kết nối trực tuyến tới các tỉnh ủy, thành ủy trong cả nước, với sự tham dự của \
            nhiều đồng chí lãnh đạo các ban, bộ, ngành và đoàn thể chính trị - xã hội.";
        let page = format!(
            r#"<html><head><title>Hội nghị dân vận - Mặt trận Tổ quốc Việt Nam</title>
            <meta property="article:published_time" content="2026-11-20T08:15:00"></head>
            <body>
            <div class="menu"><ul><li><a href="/">Trang chủ</a></li><li><a href="/tin-tuc">Tin tức</a></li></ul></div>
            <div class="sidebar"><h4>Đọc nhiều</h4><ul><li><a href="/a-1.html">Tin đọc nhiều nhất</a></li></ul></div>
            <div class="main"><div class="article">
              <h1>Hội nghị toàn quốc tổng kết công tác dân vận</h1>
              <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p>
              <figure><img src="/uploads/hoinghi.jpg"><figcaption>Quang cảnh hội nghị</figcaption></figure>
              <p>Phát biểu chỉ đạo, đồng chí Trưởng Ban nhấn mạnh phong trào thi đua Dân vận khéo.</p>
              <h3>Tin liên quan</h3>
              <ul><li><a href="/tin-tuc/khac-1000001.html">Tin khác số một về hội nghị</a></li>
                  <li><a href="/tin-tuc/khac-1000002.html">Tin khác số hai về đại hội</a></li></ul>
              <div class="comment-box"><p>Bạn đọc A: Bài viết rất hay và bổ ích cho cán bộ cơ sở.</p></div>
            </div></div>
            <div class="footer">Bản quyền thuộc Mặt trận Tổ quốc Việt Nam</div>
            </body></html>"#
        );
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://mattran.org.vn/tin-tuc/hoi-nghi-dan-van-54321.html"),
            None,
            ctx(),
        )
        .unwrap();
        let body = body_text(&page);
        assert!(body.contains("Ban Dân vận Trung ương tổ chức"), "{body}");
        assert!(body.contains("phong trào thi đua Dân vận khéo"), "{body}");
        for dropped in [
            "Tin liên quan",
            "Tin khác số một",
            "Bài viết rất hay",
            "Tin đọc nhiều",
            "Bản quyền",
        ] {
            assert!(!body.contains(dropped), "{dropped:?} left in {body:?}");
        }
        assert_eq!(instant(&page.date), Some(utc("2026-11-20T01:15:00Z")));
        assert!(page.title.is_some());
    }

    #[test]
    fn readability_finds_nothing_on_an_empty_page() {
        let err = extract_article(
            "<html><head><title>Trang chủ</title></head><body><nav><a href='/'>x</a></nav></body></html>"
                .as_bytes(),
            None,
            &url("https://example.vn/"),
            None,
            ctx(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ScrapeError::NotReadable {
                title: Some("Trang chủ".into())
            }
        );
    }

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
    fn hostile_html_neither_panics_nor_blows_up() {
        let base = url("https://example.vn/");
        let rules = ListRules {
            summary: Some(css("p")),
            ..list_rules("div.item", "a")
        };
        let article = Some(article_rules("div.content"));

        // 100,000 nested <div>: html5ever would take minutes; refused before parsing.
        let deep = format!("{}x{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        assert_eq!(
            parse_list(deep.as_bytes(), None, &base, &rules, ctx()).unwrap_err(),
            ScrapeError::TooDeep
        );
        assert_eq!(
            extract_article(deep.as_bytes(), None, &base, None, ctx()).unwrap_err(),
            ScrapeError::TooDeep
        );
        assert!(advertised_feeds(&deep, &base).is_empty());

        // 50,000 nested <b> parse quickly but make a 50,000-deep tree: cut to MAX_DEPTH.
        let bold = format!(
            "<div class='item'><a href='/a-12345.html'>Tin</a><p>{}tóm tắt</p></div><div class='content'><p>Bài</p>{}</div>",
            "<b>".repeat(50_000),
            "<i>".repeat(20_000)
        );
        let feed = parse_list(bold.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(feed.entries[0].title.as_deref(), Some("Tin"));
        let _ = extract_article(bold.as_bytes(), None, &base, article.as_ref(), ctx());
        let _ = extract_article(bold.as_bytes(), None, &base, None, ctx());

        // A 2 MB attribute, an unterminated tag, stray end tags, a NUL, broken entities.
        let huge = format!(
            "<div class='item'><a href='/b-12345.html' data-x='{}'>Tin <b>một</a></p></div></div>\
             <div class='item'><a href='/c-12346.html'>Tin &#xFFFFFFFF; &bogus; \0 hai</a>\
             <div class='content'><p>Bài <img src='{}'></p><p title=\"unterminated",
            "x".repeat(2 << 20),
            "y".repeat(1 << 20)
        );
        let feed = parse_list(huge.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(feed.entries.len(), 2);
        let _ = extract_article(huge.as_bytes(), None, &base, article.as_ref(), ctx());
        let _ = extract_article(huge.as_bytes(), None, &base, None, ctx());

        // Many chrome headings in a row: bounded work, no panic.
        let markers = format!(
            "<div class='content'><p>Bài</p>{}</div>",
            "<p>Bình luận</p><p>chữ</p>".repeat(20_000)
        );
        let _ = extract_article(markers.as_bytes(), None, &base, article.as_ref(), ctx());

        // Binary garbage.
        let garbage: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let _ = parse_list(&garbage, None, &base, &rules, ctx());
        let _ = extract_article(&garbage, None, &base, None, ctx());
    }

    #[test]
    fn nesting_estimate_ignores_self_closing_and_raw_text() {
        let deeper = |html: &str| nests_deeper_than(html, MAX_DEPTH);
        assert!(deeper(&"<div>".repeat(MAX_DEPTH + 1)));
        assert!(deeper(&"<section><span>".repeat(MAX_DEPTH)));
        assert!(!deeper(&"<div>".repeat(MAX_DEPTH)));
        // Unclosed paragraphs, list items and font tags close themselves.
        assert!(!deeper(&"<p><li><font face=Arial>text".repeat(10_000)));
        assert!(!deeper(&"<div></div><br><img src=x>".repeat(10_000)));
        // Self-closing SVG children; markup inside scripts and comments.
        assert!(!deeper(&format!(
            "<svg>{}</svg>",
            "<path d='M0'/>".repeat(10_000)
        )));
        assert!(!deeper(&format!(
            "<script>{}</script>",
            "<div>".repeat(10_000)
        )));
        assert!(!deeper(&format!("<!--{}-->", "<div>".repeat(10_000))));
        assert!(!deeper(&"a < b <3 <".repeat(10_000)));
    }

    #[test]
    fn built_in_selectors_parse() {
        LazyLock::force(&SELECTORS);
    }
}
