//! Sitemaps → the pages they list, or the sitemaps an index lists. Pure: bytes in, data out; no
//! I/O, no clock (`now` comes in [`DateContext`]).
//!
//! Most Vietnamese outlets publish [sitemaps](https://www.sitemaps.org/protocol.html), many with
//! the [Google News extension](https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap)
//! (title, publication date with its zone), and government portals with no feed at all often
//! have one. [`parse()`] reads one sitemap document: a `<urlset>` (or a plain-text sitemap, one URL
//! a line) becomes a [`UrlSet`], a `<sitemapindex>` an [`Index`]. A source polls it like this:
//!
//! ```text
//! parse(body) ─┬─ Sitemap::Urls(set)    → set.to_feed() → normalize, as any feed
//!              └─ Sitemap::Index(index) → children_to_fetch(&index, url, n) → fetch and parse
//!                                         each (the protocol has no index of indexes: a child
//!                                         that is one is followed once more, no deeper)
//! ```
//!
//! [`follow`] is that poll, the async half of `kind = "sitemap"`: it fetches, and this module
//! reads.
//!
//! [`robots_sitemaps`] reads the `Sitemap:` lines of a robots.txt, for `bantin discover`.
//!
//! # Entries
//!
//! An entry is a [`UrlEntry`], not a [`RawEntry`]: it keeps what a sitemap says and a feed item
//! cannot (`lastmod` beside the publication date, the publication's name and language, keywords,
//! the first image), and [`UrlSet::to_feed`] is the one place that decides how it becomes a
//! feed item:
//!
//! - link: `<loc>`, resolved against the sitemap's URL (relative `loc`s exist, though the
//!   protocol forbids them); entries whose `loc` is missing or not http(s) are dropped, and the
//!   same page listed twice (fragment aside) is kept once, as on list pages.
//! - title: `<news:title>`, else none. Sitemaps without the News extension carry no titles:
//!   their entries need the article pages for one (a source that reads them); without those,
//!   normalizing titles an entry by its URL. (Tuổi Trẻ's `image:title` is the article's title in
//!   practice, but an image's title is not an article's in general, so it is not read.)
//! - date: `<news:publication_date>`, else `<lastmod>`, each through [`date::parse`] with the raw
//!   string kept ([`RawDate`]). A `lastmod` that is the same instant in every entry is the time
//!   the sitemap was rebuilt, not a date of its pages (bocongan.gov.vn lists 500 pages at
//!   `2025-08-20T08:02:22+00:00`): then it dates nothing ([`Note::SameLastmod`]).
//! - guid: [`scrape::article_id`] of the link, as for list pages: the numeric id most of these
//!   CMSs end article URLs with survives a changed slug, and an article found both through a
//!   list page and a sitemap of one site gets the same identity keys
//!   ([`normalize::identity_keys`](super::normalize::identity_keys)).
//!
//! # What real sitemaps do, and what is done about it
//!
//! - Namespaces are not checked: elements are known by local name and place (`<loc>` in
//!   `<url>`, `<name>` in `<news:publication>` …), so the old Google namespace
//!   (`http://www.google.com/schemas/sitemap/0.84`), none at all, an undeclared `news:` prefix
//!   and other prefixes all read the same. Names compare ASCII case-insensitively.
//! - CDATA, character references and the five XML entities are read; a bare `&` stays `&`;
//!   other named entities (`&nbsp;`) stay as written, for [`text::clean`] to decode once, as
//!   with feeds. URLs, dates, names and keywords are trimmed; titles are kept as carried
//!   (normalizing cleans them).
//! - BOM, XSL stylesheet instruction, comments and text after the root (PHP warnings) are
//!   ignored; text before the root is skipped when `<urlset` or `<sitemapindex` starts in the
//!   first 4 KiB.
//! - A plain-text sitemap is one absolute http(s) URL a line (sitemaps.org allows it); lines
//!   that are not are dropped and counted ([`Note::Dropped`]), CR, LF or both.
//! - A `.xml.gz` served as a file (`application/x-gzip`, `application/octet-stream`; not as
//!   `Content-Encoding`, which the fetcher undoes) starts with the gzip magic bytes and is
//!   decompressed first, to at most the caller's `max_bytes`: a gzip bomb stops there with
//!   [`SitemapError::TooLarge`]. What decompressed before damage is read like a cut-off body.
//! - A document cut off (a body truncated at the fetch cap) keeps its complete entries; an
//!   unfinished last entry is dropped ([`Note::CutOff`]). XML broken in the middle keeps the
//!   entries before the break ([`Note::BrokenAt`]). Either with no complete entry is an error.
//! - Entity declarations in a DOCTYPE are refused, as for feeds.
//! - Anything that is not a sitemap (an HTML page, a cookie challenge, a feed, binary data, an
//!   empty body, another XML root) is a [`SitemapError`] naming what it is. HTML pages, cookie
//!   challenges and what is not markup are told apart by [`sniff`], as for every kind.
//!
//! # Bounds
//!
//! At most [`MAX_ENTRIES`] entries or children per document (the protocol's limit). More is a
//! cut, not an error: the first ones are kept and [`Note::OverLimit`] says how many were not.
//! A publisher overshooting the limit should not cost the 50,000 entries it got right, and news
//! sitemaps list the newest first. The reader streams (quick-xml, no tree): measured on a
//! 33 MB news sitemap of 50,000 entries, release build, roxmltree took 0.49 s and 72 MB on top of
//! the text, the stream 0.21 s and nothing beyond the entries it keeps. Nesting depth is a
//! counter, never recursion; memory is linear in the input; nothing panics (fuzzed: `sitemap`).

pub mod follow;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use quick_xml::errors::SyntaxError;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;
use url::{Host, Url};

use super::entry::{DateContext, Listing, RawDate, RawEntry};
use super::scrape;
use super::sniff::{self, Payload};
use crate::date;
use crate::text;

/// Most entries of a `<urlset>`, or children of a `<sitemapindex>`, kept from one document
/// (the sitemaps.org limit).
pub const MAX_ENTRIES: usize = 50_000;

/// The first bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How far into a body that does not start with markup `<urlset` or `<sitemapindex` may start
/// for the text before it to be skipped as junk (a PHP notice).
const ROOT_SEARCH: usize = 4096;

/// At least this many entries sharing one `lastmod` to the second make it a rebuild stamp.
const SAME_LASTMOD_MIN: usize = 3;

/// One sitemap document.
#[derive(Debug, Clone, PartialEq)]
pub enum Sitemap {
    /// A `<urlset>` or a plain-text sitemap: pages.
    Urls(UrlSet),
    /// A `<sitemapindex>`: other sitemaps.
    Index(Index),
}

impl Sitemap {
    /// What was off about the document, in reading order.
    pub fn notes(&self) -> &[Note] {
        match self {
            Sitemap::Urls(set) => &set.notes,
            Sitemap::Index(index) => &index.notes,
        }
    }
}

/// The pages a sitemap lists, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlSet {
    pub entries: Vec<UrlEntry>,
    pub notes: Vec<Note>,
}

/// One `<url>` as the sitemap carried it: text not yet cleaned (normalizing does that).
#[derive(Debug, Clone, PartialEq)]
pub struct UrlEntry {
    /// `<loc>`, absolute, http or https.
    pub loc: Url,
    /// `<lastmod>`: when the page last changed, by the publisher's word.
    pub lastmod: Option<RawDate>,
    /// `<news:news>`, when present.
    pub news: Option<News>,
    /// `<image:loc>` of the first `<image:image>`, absolute, http or https.
    pub image: Option<Url>,
}

/// The Google News extension of one entry (`<news:news>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct News {
    /// `<news:publication>/<news:name>`.
    pub publication: Option<String>,
    /// `<news:publication>/<news:language>` (ISO 639: `vi`).
    pub language: Option<String>,
    /// `<news:publication_date>`.
    pub publication_date: Option<RawDate>,
    /// `<news:title>`.
    pub title: Option<String>,
    /// `<news:keywords>`, split at commas, empty ones dropped.
    pub keywords: Vec<String>,
}

/// The sitemaps an index lists, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Index {
    pub children: Vec<Child>,
    pub notes: Vec<Note>,
}

/// One `<sitemap>` of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// `<loc>`, absolute, http or https.
    pub loc: Url,
    /// `<lastmod>`: when that sitemap last changed.
    pub lastmod: Option<RawDate>,
}

/// Something off about a document that was read anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The document ends before its root closes (a body cut at the size cap): complete entries
    /// are kept, an unfinished last one is dropped.
    CutOff { unfinished: bool },
    /// The XML breaks at `line`: the `kept` entries before it are kept, the rest is not read.
    BrokenAt {
        line: u64,
        error: String,
        kept: usize,
    },
    /// More than [`MAX_ENTRIES`] entries: `beyond` more were not kept.
    OverLimit { beyond: usize },
    /// Entries without a usable `loc` (missing, empty, not http(s)), or lines of a plain-text
    /// sitemap that are not web URLs; `example` quotes the first.
    Dropped { count: usize, example: String },
    /// Entries listing a page an earlier entry lists (kept once).
    Duplicates { count: usize },
    /// Every entry has the same `lastmod`, to the second: a rebuild stamp, not used as a date.
    SameLastmod { lastmod: String },
    /// Entries whose `loc` looks like a sitemap (`.xml`, `.xml.gz`): the site lists its
    /// sitemaps in a `<urlset>` (tingia.gov.vn does), not in a `<sitemapindex>`.
    SitemapLocs { count: usize },
    /// Text before the root element was skipped.
    TextBeforeRoot,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::CutOff { unfinished: true } => {
                f.write_str("cut off: complete entries kept, the unfinished last one dropped")
            }
            Note::CutOff { unfinished: false } => f.write_str("cut off after its last entry"),
            Note::BrokenAt { line, error, kept } => write!(
                f,
                "XML broken at line {line} ({error}): the {kept} entries before it kept"
            ),
            Note::OverLimit { beyond } => write!(
                f,
                "more than {MAX_ENTRIES} entries: the first {MAX_ENTRIES} kept, {beyond} more dropped"
            ),
            Note::Dropped { count, example } => {
                write!(f, "{count} entries without a web URL dropped (first: {example:?})")
            }
            Note::Duplicates { count } => write!(f, "{count} repeated entries kept once"),
            Note::SameLastmod { lastmod } => write!(
                f,
                "every lastmod is {lastmod:?} (when the sitemap was rebuilt): not used as a date"
            ),
            Note::SitemapLocs { count } => write!(
                f,
                "{count} entries look like sitemaps (.xml): the site may list its sitemaps here instead of in an index"
            ),
            Note::TextBeforeRoot => f.write_str("text before the root element skipped"),
        }
    }
}

/// Why a body was not read as a sitemap. Messages name what was found instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SitemapError {
    #[error("empty body")]
    Empty,
    #[error("HTML page instead of a sitemap{}", title.as_ref().map(|t| format!(" (page title: {t:?})")).unwrap_or_default())]
    Html { title: Option<String> },
    #[error("JavaScript cookie challenge page instead of a sitemap (the site wants a browser)")]
    CookieChallenge,
    #[error("this URL serves a feed ({0}), not a sitemap: use kind = \"feed\"")]
    Feed(&'static str),
    #[error("not a sitemap: the document's root is <{0}>, not <urlset> or <sitemapindex>")]
    OtherRoot(String),
    #[error("not a sitemap: {0}")]
    NotASitemap(String),
    #[error("malformed sitemap: {0}")]
    Malformed(String),
    #[error("the DOCTYPE declares entities (refused: entity expansion can blow up memory)")]
    Entities,
    #[error("gzip-compressed sitemap larger than the {limit}-byte cap once decompressed")]
    TooLarge { limit: u64 },
    #[error("corrupt gzip data: {0}")]
    Gzip(String),
}

/// Reads one sitemap document. `charset` is the HTTP charset; `base` (the sitemap's URL)
/// resolves relative `loc`s; `dates` reads `lastmod` and `news:publication_date`; `max_bytes`
/// caps a gzip-compressed body once decompressed (the fetch cap is a natural choice).
pub fn parse(
    bytes: &[u8],
    charset: Option<&str>,
    base: &Url,
    dates: DateContext,
    max_bytes: u64,
) -> Result<Sitemap, SitemapError> {
    let plain = gunzip(bytes, max_bytes)?;
    let decoded = text::decode(&plain, charset);
    let body = decoded.text.trim_start_matches('\u{feff}');
    let head = body.trim_start();
    let ctx = ReadContext { base, dates };
    if head.is_empty() {
        return Err(SitemapError::Empty);
    }
    if head.starts_with('<') {
        // Not `head`: line numbers in errors count the blank lines too.
        return ctx.xml(body, Vec::new());
    }
    if let Some(set) = ctx.plain_text(head) {
        return Ok(Sitemap::Urls(set));
    }
    match root_start(head) {
        Some(at) => ctx.xml(
            head.get(at..).unwrap_or_default(),
            vec![Note::TextBeforeRoot],
        ),
        None => Err(ctx.not_a_sitemap(head, None, None)),
    }
}

/// `bytes` decompressed when they are a gzip stream (to at most `max_bytes`), else as they are.
fn gunzip(bytes: &[u8], max_bytes: u64) -> Result<Cow<'_, [u8]>, SitemapError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    // Multi-member: `cat a.gz b.gz` is a valid gzip file, and some generators write that way.
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(max_bytes.saturating_add(1));
    let mut out = Vec::new();
    match decoder.read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > max_bytes => Err(SitemapError::TooLarge { limit: max_bytes }),
        Ok(_) => Ok(Cow::Owned(out)),
        Err(e) if out.is_empty() => Err(SitemapError::Gzip(e.to_string())),
        // `read_to_end` keeps what it read before the error: read like a cut-off body.
        Err(_) => Ok(Cow::Owned(out)),
    }
}

/// Where `<urlset` or `<sitemapindex` starts in the head of a body, when it does.
fn root_start(body: &str) -> Option<usize> {
    ["<urlset", "<sitemapindex"]
        .iter()
        .filter_map(|root| body.find(root))
        .filter(|at| *at < ROOT_SEARCH)
        .min()
}

/// What reading needs besides the text.
#[derive(Clone, Copy)]
struct ReadContext<'a> {
    base: &'a Url,
    dates: DateContext,
}

/// The two kinds of sitemap document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Urlset,
    Index,
}

impl<'a> ReadContext<'a> {
    /// An XML sitemap. `notes` holds what was noted before the XML.
    fn xml(self, text: &str, notes: Vec<Note>) -> Result<Sitemap, SitemapError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        // `?a=1&b=2` in a `loc` is common; the `&` is kept as written.
        config.allow_dangling_amp = true;
        let (name, open) = loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => break (e.local_name().into_inner().to_string(), true),
                Ok(Event::Empty(e)) => break (e.local_name().into_inner().to_string(), false),
                Ok(Event::DocType(d)) if declares_entities(&d) => {
                    return Err(SitemapError::Entities)
                }
                Ok(Event::Eof) => {
                    return Err(self.not_a_sitemap(text, None, Some("no root element".into())))
                }
                Err(e) => {
                    let at = line_of(text, reader.error_position());
                    let error = format!("line {at}: {e}");
                    return Err(self.not_a_sitemap(text, None, Some(error)));
                }
                Ok(_) => {}
            }
        };
        let kind = if name.eq_ignore_ascii_case("urlset") {
            Kind::Urlset
        } else if name.eq_ignore_ascii_case("sitemapindex") {
            Kind::Index
        } else {
            return Err(self.not_a_sitemap(text, Some(&name), None));
        };
        let mut walk = Walk::new(self, kind, notes);
        if open {
            walk.read(&mut reader, text)?;
        }
        Ok(walk.finish())
    }

    /// A plain-text sitemap (one URL a line), when the first line is an absolute web URL.
    /// Relative lines are not resolved: any text would resolve to some URL.
    fn plain_text(self, body: &str) -> Option<UrlSet> {
        let mut lines = body
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty());
        web_url(lines.next()?)?;
        let mut pages = Pages::default();
        for line in body.split(['\n', '\r']).map(str::trim) {
            if line.is_empty() {
                continue;
            }
            match web_url(line) {
                Some(loc) => pages.add(UrlEntry {
                    loc,
                    lastmod: None,
                    news: None,
                    image: None,
                }),
                None => pages.reject(line),
            }
        }
        Some(pages.finish(Vec::new()))
    }

    /// The error for a body that is no sitemap. `root` is the XML root element's local name
    /// when there is one; `xml_error` why the XML did not get that far.
    fn not_a_sitemap(
        self,
        text: &str,
        root: Option<&str>,
        xml_error: Option<String>,
    ) -> SitemapError {
        let markup = text.trim_start().starts_with('<');
        match root.map(str::to_ascii_lowercase).as_deref() {
            Some("rss") => SitemapError::Feed("RSS"),
            Some("feed") => SitemapError::Feed("Atom"),
            Some("rdf") => SitemapError::Feed("RSS 1.0"),
            Some("html") => self.html_page(text),
            Some(_) => SitemapError::OtherRoot(root.unwrap_or_default().to_string()),
            None if markup && text.to_ascii_lowercase().contains("<html") => self.html_page(text),
            None if markup => {
                SitemapError::Malformed(xml_error.unwrap_or_else(|| "no root element".into()))
            }
            // Not markup: the sniffing rules every kind shares name what it is.
            None => match sniff::sniff(text.as_bytes(), text) {
                Payload::Empty => SitemapError::Empty,
                Payload::Html => self.html_page(text),
                Payload::Feed => SitemapError::Feed("JSON Feed"),
                Payload::Markup => SitemapError::NotASitemap("a JSON document".into()),
                Payload::Binary => SitemapError::NotASitemap("binary data".into()),
                Payload::Text => {
                    let head: String = text.trim_start().chars().take(40).collect();
                    SitemapError::NotASitemap(format!("starts with {head:?}"))
                }
            },
        }
    }

    /// The error for an HTML page: a cookie challenge, or a page with its title.
    fn html_page(self, text: &str) -> SitemapError {
        if sniff::is_cookie_challenge(text) {
            SitemapError::CookieChallenge
        } else {
            SitemapError::Html {
                title: sniff::title_for_error(text),
            }
        }
    }

    fn date(self, raw: &str) -> Option<RawDate> {
        let raw = raw.trim();
        (!raw.is_empty()).then(|| RawDate {
            raw: raw.to_string(),
            parsed: date::parse(raw, self.dates.tz, self.dates.order, self.dates.now),
        })
    }

    /// A `loc` resolved against the sitemap's URL; None when empty or not http(s) (an empty
    /// reference would resolve to the sitemap itself).
    fn link(self, raw: &str) -> Option<Url> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        self.base
            .join(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
    }
}

/// An absolute http(s) URL, or None.
fn web_url(s: &str) -> Option<Url> {
    Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Whether a DOCTYPE declares entities.
fn declares_entities(doctype: &str) -> bool {
    doctype.to_ascii_uppercase().contains("<!ENTITY")
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: u64) -> u64 {
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let newlines = text.as_bytes().get(..end).unwrap_or_default();
    1 + newlines.iter().filter(|b| **b == b'\n').count() as u64
}

// ---------------------------------------------------------------------------------------------
// The XML walk

/// What an element is, by its local name and its parent's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `<url>` or `<sitemap>`.
    Record,
    Loc,
    Lastmod,
    News,
    Publication,
    PublicationName,
    Language,
    PublicationDate,
    Title,
    Keywords,
    Image,
    ImageLoc,
}

impl Role {
    /// The role of element `name` inside `parent` (None: directly inside the root). None for
    /// an element nothing is read from: its whole subtree is skipped.
    fn of(name: &str, parent: Option<Role>, kind: Kind) -> Option<Role> {
        let is = |s: &str| name.eq_ignore_ascii_case(s);
        match (parent, kind) {
            (None, Kind::Urlset) if is("url") => Some(Role::Record),
            (None, Kind::Index) if is("sitemap") => Some(Role::Record),
            (Some(Role::Record), _) if is("loc") => Some(Role::Loc),
            (Some(Role::Record), _) if is("lastmod") => Some(Role::Lastmod),
            (Some(Role::Record), Kind::Urlset) if is("news") => Some(Role::News),
            (Some(Role::Record), Kind::Urlset) if is("image") => Some(Role::Image),
            (Some(Role::News), _) if is("publication") => Some(Role::Publication),
            (Some(Role::News), _) if is("publication_date") => Some(Role::PublicationDate),
            (Some(Role::News), _) if is("title") => Some(Role::Title),
            (Some(Role::News), _) if is("keywords") => Some(Role::Keywords),
            (Some(Role::Publication), _) if is("name") => Some(Role::PublicationName),
            (Some(Role::Publication), _) if is("language") => Some(Role::Language),
            (Some(Role::Image), _) if is("loc") => Some(Role::ImageLoc),
            _ => None,
        }
    }

    /// Whether the element's text is read.
    fn has_text(self) -> bool {
        !matches!(
            self,
            Role::Record | Role::News | Role::Publication | Role::Image
        )
    }
}

/// One `<url>` or `<sitemap>` being read: raw values, first occurrence of each.
#[derive(Debug, Default)]
struct Record {
    loc: Option<String>,
    lastmod: Option<String>,
    news: Option<RawNews>,
    image: Option<String>,
}

#[derive(Debug, Default)]
struct RawNews {
    publication: Option<String>,
    language: Option<String>,
    publication_date: Option<String>,
    title: Option<String>,
    keywords: Option<String>,
}

/// The state of one pass over the root element's content. Depth is the role stack (at most
/// four deep) plus a counter for skipped subtrees: no recursion, whatever the input.
struct Walk<'a> {
    ctx: ReadContext<'a>,
    kind: Kind,
    notes: Vec<Note>,
    roles: Vec<Role>,
    /// Depth inside an element nothing is read from (0: not inside one).
    skipped: u64,
    /// Text of the innermost element being read.
    text: String,
    record: Option<Record>,
    pages: Pages,
    children: Children,
}

impl<'a> Walk<'a> {
    fn new(ctx: ReadContext<'a>, kind: Kind, notes: Vec<Note>) -> Walk<'a> {
        Walk {
            ctx,
            kind,
            notes,
            roles: Vec::new(),
            skipped: 0,
            text: String::new(),
            record: None,
            pages: Pages::default(),
            children: Children::default(),
        }
    }

    /// Reads up to the root's end tag (what follows it is ignored), the end of the text, or
    /// the first XML error.
    fn read(&mut self, reader: &mut Reader<&[u8]>, text: &str) -> Result<(), SitemapError> {
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => self.open(e.local_name().into_inner()),
                Ok(Event::Empty(e)) => {
                    self.open(e.local_name().into_inner());
                    if !self.close() {
                        return Ok(());
                    }
                }
                Ok(Event::End(_)) => {
                    if !self.close() {
                        return Ok(());
                    }
                }
                Ok(Event::Text(t)) => self.push_text(&t.xml10_content()),
                Ok(Event::CData(t)) => self.push_text(&t.xml10_content()),
                Ok(Event::GeneralRef(r)) => self.push_text(&resolve(&r)),
                Ok(Event::DocType(d)) if declares_entities(&d) => {
                    return Err(SitemapError::Entities)
                }
                Ok(Event::Eof) => {
                    let unfinished = self.record.is_some();
                    return self.stop(Note::CutOff { unfinished }, "the document is cut off");
                }
                Ok(_) => {}
                // Every "unclosed" syntax error is the end of the text arriving inside markup.
                Err(quick_xml::Error::Syntax(e)) if e != SyntaxError::InvalidBangMarkup => {
                    let unfinished = true;
                    return self.stop(Note::CutOff { unfinished }, "the document is cut off");
                }
                Err(e) => {
                    let line = line_of(text, reader.error_position());
                    let note = Note::BrokenAt {
                        line,
                        error: e.to_string(),
                        kept: self.kept(),
                    };
                    return self.stop(note, &format!("line {line}: {e}"));
                }
            }
        }
    }

    /// Ends reading early with `note`, or with an error when not one complete entry was read.
    fn stop(&mut self, note: Note, why: &str) -> Result<(), SitemapError> {
        if self.kept() == 0 {
            return Err(SitemapError::Malformed(format!(
                "{why} before its first complete entry"
            )));
        }
        self.notes.push(note);
        Ok(())
    }

    fn kept(&self) -> usize {
        match self.kind {
            Kind::Urlset => self.pages.entries.len(),
            Kind::Index => self.children.children.len(),
        }
    }

    fn open(&mut self, name: &str) {
        if self.skipped > 0 {
            self.skipped += 1;
            return;
        }
        match Role::of(name, self.roles.last().copied(), self.kind) {
            Some(role) => {
                self.roles.push(role);
                self.text.clear();
                match role {
                    Role::Record => self.record = Some(Record::default()),
                    Role::News => {
                        if let Some(r) = self.record.as_mut() {
                            r.news.get_or_insert_with(RawNews::default);
                        }
                    }
                    _ => {}
                }
            }
            None => self.skipped = 1,
        }
    }

    /// Closes the innermost element; false when that was the root.
    fn close(&mut self) -> bool {
        if self.skipped > 0 {
            self.skipped -= 1;
            return true;
        }
        let Some(role) = self.roles.pop() else {
            return false;
        };
        if role == Role::Record {
            if let Some(record) = self.record.take() {
                self.finish_record(record);
            }
            return true;
        }
        if !role.has_text() {
            return true;
        }
        let value = std::mem::take(&mut self.text);
        let Some(record) = self.record.as_mut() else {
            return true;
        };
        let slot = match role {
            Role::Loc => &mut record.loc,
            Role::Lastmod => &mut record.lastmod,
            Role::ImageLoc => &mut record.image,
            _ => {
                let Some(news) = record.news.as_mut() else {
                    return true;
                };
                match role {
                    Role::PublicationName => &mut news.publication,
                    Role::Language => &mut news.language,
                    Role::PublicationDate => &mut news.publication_date,
                    Role::Title => &mut news.title,
                    _ => &mut news.keywords,
                }
            }
        };
        if slot.is_none() {
            *slot = Some(value);
        }
        true
    }

    fn push_text(&mut self, s: &str) {
        if self.skipped == 0 && self.roles.last().is_some_and(|r| r.has_text()) {
            self.text.push_str(s);
        }
    }

    fn finish_record(&mut self, record: Record) {
        let raw_loc = record.loc.as_deref().unwrap_or_default();
        let Some(loc) = self.ctx.link(raw_loc) else {
            match self.kind {
                Kind::Urlset => self.pages.reject(raw_loc),
                Kind::Index => self.children.dropped.add(raw_loc),
            }
            return;
        };
        let lastmod = record.lastmod.as_deref().and_then(|d| self.ctx.date(d));
        match self.kind {
            Kind::Index => self.children.add(Child { loc, lastmod }),
            Kind::Urlset => {
                let ctx = self.ctx;
                let news = record.news.map(|n| News {
                    publication: n.publication.map(trimmed).filter(|s| !s.is_empty()),
                    language: n.language.map(trimmed).filter(|s| !s.is_empty()),
                    publication_date: n.publication_date.as_deref().and_then(|d| ctx.date(d)),
                    title: n.title.filter(|t| !t.trim().is_empty()),
                    keywords: n
                        .keywords
                        .as_deref()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(String::from)
                        .collect(),
                });
                let image = record.image.as_deref().and_then(|i| ctx.link(i));
                self.pages.add(UrlEntry {
                    loc,
                    lastmod,
                    news,
                    image,
                });
            }
        }
    }

    fn finish(self) -> Sitemap {
        match self.kind {
            Kind::Urlset => Sitemap::Urls(self.pages.finish(self.notes)),
            Kind::Index => Sitemap::Index(self.children.finish(self.notes)),
        }
    }
}

fn trimmed(s: String) -> String {
    s.trim().to_string()
}

/// A reference's text: a character, one of the five XML entities, or, for any other name
/// (`&nbsp;`), the reference as written, left for [`text::clean`].
fn resolve(r: &BytesRef) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match quick_xml::escape::resolve_predefined_entity(r) {
        Some(s) => s.to_string(),
        None => format!("&{};", &**r),
    }
}

// ---------------------------------------------------------------------------------------------
// Collecting entries

/// Entries without a usable `loc`.
#[derive(Debug, Default)]
struct Dropped {
    count: usize,
    example: Option<String>,
}

impl Dropped {
    fn add(&mut self, raw: &str) {
        self.count += 1;
        if self.example.is_none() {
            self.example = Some(raw.trim().chars().take(120).collect());
        }
    }

    fn note(self) -> Option<Note> {
        (self.count > 0).then(|| Note::Dropped {
            count: self.count,
            example: self.example.unwrap_or_default(),
        })
    }
}

/// The pages of a `<urlset>` or a plain-text sitemap: each once, at most [`MAX_ENTRIES`].
#[derive(Debug, Default)]
struct Pages {
    entries: Vec<UrlEntry>,
    /// Pages listed so far, fragment removed.
    seen: HashSet<Url>,
    duplicates: usize,
    beyond: usize,
    dropped: Dropped,
}

impl Pages {
    fn add(&mut self, entry: UrlEntry) {
        if self.entries.len() >= MAX_ENTRIES {
            self.beyond += 1;
            return;
        }
        let mut key = entry.loc.clone();
        key.set_fragment(None);
        if self.seen.insert(key) {
            self.entries.push(entry);
        } else {
            self.duplicates += 1;
        }
    }

    fn reject(&mut self, raw: &str) {
        self.dropped.add(raw);
    }

    fn finish(self, mut notes: Vec<Note>) -> UrlSet {
        notes.extend(self.dropped.note());
        if self.duplicates > 0 {
            notes.push(Note::Duplicates {
                count: self.duplicates,
            });
        }
        if self.beyond > 0 {
            notes.push(Note::OverLimit {
                beyond: self.beyond,
            });
        }
        if let Some(lastmod) = same_lastmod(&self.entries) {
            notes.push(Note::SameLastmod { lastmod });
        }
        let sitemaps = self
            .entries
            .iter()
            .filter(|e| looks_like_sitemap(&e.loc))
            .count();
        if sitemaps > 0 {
            notes.push(Note::SitemapLocs { count: sitemaps });
        }
        UrlSet {
            entries: self.entries,
            notes,
        }
    }
}

/// The `lastmod` every entry has, when there are enough entries for a shared one to be a
/// rebuild stamp and it has a time of day (a shared date alone is a daily sitemap's honest
/// answer).
fn same_lastmod(entries: &[UrlEntry]) -> Option<String> {
    let first = entries.first()?.lastmod.as_ref()?;
    let shared = entries.len() >= SAME_LASTMOD_MIN
        && first.raw.contains(':')
        && entries
            .iter()
            .all(|e| e.lastmod.as_ref().is_some_and(|d| d.raw == first.raw));
    shared.then(|| first.raw.clone())
}

fn looks_like_sitemap(u: &Url) -> bool {
    let path = u.path().to_ascii_lowercase();
    path.ends_with(".xml") || path.ends_with(".xml.gz")
}

/// The children of a `<sitemapindex>`: each once, at most [`MAX_ENTRIES`].
#[derive(Debug, Default)]
struct Children {
    children: Vec<Child>,
    seen: HashSet<Url>,
    duplicates: usize,
    beyond: usize,
    dropped: Dropped,
}

impl Children {
    fn add(&mut self, child: Child) {
        if self.children.len() >= MAX_ENTRIES {
            self.beyond += 1;
        } else if self.seen.insert(child.loc.clone()) {
            self.children.push(child);
        } else {
            self.duplicates += 1;
        }
    }

    fn finish(self, mut notes: Vec<Note>) -> Index {
        notes.extend(self.dropped.note());
        if self.duplicates > 0 {
            notes.push(Note::Duplicates {
                count: self.duplicates,
            });
        }
        if self.beyond > 0 {
            notes.push(Note::OverLimit {
                beyond: self.beyond,
            });
        }
        Index {
            children: self.children,
            notes,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entries → feed items

impl UrlSet {
    /// The entries as feed items, for normalizing like any feed's (the rules are in the
    /// module doc, "Entries"). `title`: the first publication name; `repairs`: the notes.
    pub fn to_feed(&self) -> Listing {
        let lastmod_dates = !self
            .notes
            .iter()
            .any(|n| matches!(n, Note::SameLastmod { .. }));
        Listing {
            title: self
                .entries
                .iter()
                .find_map(|e| e.news.as_ref()?.publication.as_deref())
                .map(text::clean)
                .filter(|t| !t.is_empty()),
            poll_hint: None,
            entries: self
                .entries
                .iter()
                .map(|e| {
                    let news = e.news.as_ref();
                    let published = news.and_then(|n| n.publication_date.clone());
                    let lastmod = e.lastmod.clone().filter(|_| lastmod_dates);
                    RawEntry {
                        guid: scrape::article_id(&e.loc),
                        link: Some(e.loc.clone()),
                        title: news.and_then(|n| n.title.clone()),
                        date: published.or(lastmod),
                        ..RawEntry::default()
                    }
                })
                .collect(),
            repairs: self.notes.iter().map(Note::to_string).collect(),
            verbatim: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// For the caller: which children, and robots.txt

/// The children of `index` (fetched from `index_url`) worth fetching in one poll, at most
/// `max`: newest `lastmod` first, then those without one in document order (sort them out by
/// naming the news sitemap itself as the source when the index lists its archive first).
///
/// Only children on the index's own site: its host with any `www.` removed, or a subdomain of
/// that (`www.qdnd.vn` → `qdnd.vn`, `static.qdnd.vn`); an IP address only as itself. A sitemap
/// lists its own site's pages, and an index is text anyone who controls it can fill: without
/// this, it could point bantin at another site, at `localhost` or at a cloud metadata address.
/// The index itself is never its own child.
pub fn children_to_fetch<'a>(index: &'a Index, index_url: &Url, max: usize) -> Vec<&'a Child> {
    let mut own = index_url.clone();
    own.set_fragment(None);
    let mut picked: Vec<&Child> = index
        .children
        .iter()
        .filter(|c| on_site(&c.loc, index_url))
        .filter(|c| {
            let mut loc = c.loc.clone();
            loc.set_fragment(None);
            loc != own
        })
        .collect();
    // Stable: equal dates, and all the undated, keep document order.
    picked.sort_by_key(|c| std::cmp::Reverse(instant(c)));
    picked.truncate(max);
    picked
}

fn instant(c: &Child) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    c.lastmod.as_ref()?.parsed
}

/// Whether `url` is on the site of `site_url` (see [`children_to_fetch`]).
fn on_site(url: &Url, site_url: &Url) -> bool {
    let host = |u: &Url| {
        u.host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    };
    let (Some(site), Some(candidate)) = (host(site_url), host(url)) else {
        return false;
    };
    match site_url.host() {
        Some(Host::Domain(_)) => {
            let site = site.strip_prefix("www.").unwrap_or(&site);
            candidate == site
                || candidate
                    .strip_suffix(site)
                    .is_some_and(|sub| sub.ends_with('.'))
        }
        _ => candidate == site,
    }
}

/// The sitemaps a robots.txt names (`Sitemap:` lines, field name in any case), resolved
/// against `base` (the robots.txt URL: relative ones exist), http(s) only, each once, in
/// order. Comments (`#`), CRLF or CR line ends and a BOM are fine.
pub fn robots_sitemaps(robots_txt: &str, base: &Url) -> Vec<Url> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for line in robots_txt.split(['\n', '\r']) {
        let line = line.split('#').next().unwrap_or_default();
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let field = field.trim().trim_start_matches('\u{feff}');
        if !field.eq_ignore_ascii_case("sitemap") {
            continue;
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let Some(url) = base
            .join(value)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            continue;
        };
        if seen.insert(url.clone()) {
            found.push(url);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::date::DateOrder;

    /// A cap far above every test document.
    const CAP: u64 = 64 << 20;

    fn ctx() -> DateContext {
        DateContext {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            order: DateOrder::Dmy,
            now: Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(),
        }
    }

    fn base() -> Url {
        Url::parse("https://example.vn/sitemaps/news.xml").unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/feeds/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn read(body: &[u8], base: &Url) -> Sitemap {
        parse(body, None, base, ctx(), CAP)
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(body)))
    }

    fn urls_at(body: &[u8], base: &Url) -> UrlSet {
        match read(body, base) {
            Sitemap::Urls(set) => set,
            Sitemap::Index(i) => panic!("an index: {i:?}"),
        }
    }

    fn urls(body: &[u8]) -> UrlSet {
        urls_at(body, &base())
    }

    fn index_of(body: &[u8]) -> Index {
        match read(body, &base()) {
            Sitemap::Index(i) => i,
            Sitemap::Urls(set) => panic!("a urlset: {set:?}"),
        }
    }

    fn locs(set: &UrlSet) -> Vec<&str> {
        set.entries.iter().map(|e| e.loc.as_str()).collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// An entry as a feed item: link, title, raw date, guid.
    type Item<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    fn items(feed: &Listing) -> Vec<Item<'_>> {
        feed.entries
            .iter()
            .map(|e| {
                (
                    e.link.as_ref().map_or("", Url::as_str),
                    e.title.as_deref(),
                    e.date.as_ref().map(|d| d.raw.as_str()),
                    e.guid.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn googles_news_example_reads() {
        let set = urls(&fixture("sitemap_news_google_example.xml"));
        assert!(set.notes.is_empty(), "{:?}", set.notes);
        let [entry] = set.entries.as_slice() else {
            panic!("{:?}", set.entries);
        };
        assert_eq!(
            entry.loc.as_str(),
            "http://www.example.org/business/article55.html"
        );
        let news = entry.news.as_ref().unwrap();
        assert_eq!(news.publication.as_deref(), Some("The Example Times"));
        assert_eq!(news.language.as_deref(), Some("en"));
        assert_eq!(
            news.title.as_deref(),
            Some("Companies A, B in Merger Talks")
        );
        let date = news.publication_date.as_ref().unwrap();
        // A date without a time is 00:00 in the source's zone.
        assert_eq!(
            (
                date.raw.as_str(),
                date.parsed.unwrap().to_rfc3339().as_str()
            ),
            ("2008-12-23", "2008-12-23T00:00:00+07:00")
        );
        let feed = set.to_feed();
        assert_eq!(feed.title.as_deref(), Some("The Example Times"));
        assert_eq!(
            items(&feed),
            vec![(
                "http://www.example.org/business/article55.html",
                Some("Companies A, B in Merger Talks"),
                Some("2008-12-23"),
                None
            )]
        );
    }

    #[test]
    fn sitemaps_org_examples_read() {
        let set = urls(&fixture("sitemap_sitemaps_org_example.xml"));
        assert!(set.notes.is_empty(), "{:?}", set.notes);
        assert_eq!(
            locs(&set),
            [
                "http://www.example.com/",
                "http://www.example.com/catalog?item=12&desc=vacation_hawaii",
                "http://www.example.com/catalog?item=73&desc=vacation_new_zealand",
                "http://www.example.com/catalog?item=74&desc=vacation_newfoundland",
                "http://www.example.com/catalog?item=83&desc=vacation_usa",
            ]
        );
        let lastmods: Vec<Option<String>> = set
            .entries
            .iter()
            .map(|e| Some(e.lastmod.as_ref()?.parsed?.to_rfc3339()))
            .collect();
        assert_eq!(
            lastmods,
            [
                Some("2005-01-01T00:00:00+07:00".to_string()),
                None,
                Some("2004-12-23T00:00:00+07:00".to_string()),
                Some("2004-12-23T18:00:15+00:00".to_string()),
                Some("2004-11-23T00:00:00+07:00".to_string()),
            ]
        );
        assert!(set
            .entries
            .iter()
            .all(|e| e.news.is_none() && e.image.is_none()));

        let index = index_of(&fixture("sitemap_index_sitemaps_org_example.xml"));
        assert!(index.notes.is_empty(), "{:?}", index.notes);
        let children: Vec<(&str, &str)> = index
            .children
            .iter()
            .map(|c| (c.loc.as_str(), c.lastmod.as_ref().unwrap().raw.as_str()))
            .collect();
        assert_eq!(
            children,
            [
                (
                    "http://www.example.com/sitemap1.xml.gz",
                    "2004-10-01T18:23:17+00:00"
                ),
                ("http://www.example.com/sitemap2.xml.gz", "2005-01-01"),
            ]
        );
    }

    /// The shapes Vietnamese outlets publish (each fixture names its origin), as feed items.
    #[test]
    fn vietnamese_outlets_shapes_read() {
        let check =
            |name: &str, at: &str, title: Option<&str>, expected: &[Item], notes: &[Note]| {
                let set = urls_at(&fixture(name), &Url::parse(at).unwrap());
                assert_eq!(set.notes, notes, "{name}");
                let feed = set.to_feed();
                assert_eq!(feed.title.as_deref(), title, "{name}");
                assert_eq!(items(&feed), expected, "{name}");
            };
        check(
            "sitemap_news_dantri_shape.xml",
            "https://dantri.com.vn/google-news-sitemap.xml",
            Some("Báo Dân trí"),
            &[
                (
                    "https://dantri.com.vn/xa-hoi/thu-tuong-chu-tri-hoi-nghi-toan-quoc-ve-cong-tac-dan-van-20261127203015482.htm",
                    Some("Thủ tướng chủ trì hội nghị toàn quốc về công tác dân vận"),
                    Some("2026-11-27T20:30:15+07:00"),
                    Some("20261127203015482"),
                ),
                (
                    "https://dantri.com.vn/kinh-doanh/gia-vang-hom-nay-28-11-20261128061205113.htm",
                    Some("Giá vàng hôm nay 28/11: Vàng nhẫn & vàng miếng cùng giảm"),
                    Some("2026-11-28T06:12:05+07:00"),
                    Some("20261128061205113"),
                ),
            ],
            &[],
        );
        check(
            "sitemap_news_congly_shape.xml",
            "http://congly.vn/sitemap_news.xml",
            Some("Báo Công lý"),
            &[
                (
                    "http://congly.vn/thoi-su/toa-an-nhan-dan-toi-cao-tong-ket-cong-tac-nam-2026-412345.html",
                    // Raw as carried: normalizing trims and cleans it.
                    Some("\n\t\t\t\tTòa án nhân dân tối cao tổng kết công tác năm 2026\n\t\t\t"),
                    Some("2026-11-27T09:45:00+07:00"),
                    Some("412345"),
                ),
                (
                    "http://congly.vn/phap-luat/xet-xu-vu-an-412346.html",
                    Some("Xét xử vụ án"),
                    Some("2026-11-28T08:00:00+07:00"),
                    Some("412346"),
                ),
            ],
            &[],
        );
        check(
            "sitemap_urlset_at_rss_url_tuoitre_shape.xml",
            "https://tuoitre.vn/sitemaps/latest-news.rss",
            None,
            &[
                (
                    "https://tuoitre.vn/hoi-nghi-toan-quoc-quan-triet-nghi-quyet-102261128070512345.htm",
                    None,
                    Some("2026-11-28T07:05:12+07:00"),
                    Some("102261128070512345"),
                ),
                (
                    "https://tuoitre.vn/nld/gia-xang-giam-102261128063011111.htm",
                    None,
                    Some("2026-11-28T06:30:11+07:00"),
                    Some("102261128063011111"),
                ),
            ],
            &[],
        );
        check(
            "sitemap_php_generator_thethaotv_shape.xml",
            "https://thethaotv.example.vn/sitemap-news.xml",
            Some("Thể thao TV"),
            // The publication date wins over lastmod.
            &[(
                "https://thethaotv.example.vn/bong-da/doi-tuyen-viet-nam-thang-dam-1234567.html",
                Some("Đội tuyển Việt Nam thắng đậm"),
                Some("2026-11-27T21:30:00+07:00"),
                Some("1234567"),
            )],
            &[],
        );
        check(
            "sitemap_rebuild_stamp_bocongan_shape.xml",
            "https://bocongan.gov.vn/sitemap.xml",
            None,
            &[
                (
                    "https://bocongan.gov.vn/bai-viet/canh-bao-lua-dao-qua-mang-1764000001",
                    None,
                    None,
                    Some("1764000001"),
                ),
                (
                    "https://bocongan.gov.vn/bai-viet/bo-truong-tiep-doan-dai-bieu-1764000002",
                    None,
                    None,
                    Some("1764000002"),
                ),
                (
                    "https://bocongan.gov.vn/bai-viet/tong-ket-phong-trao-toan-dan-1764000003",
                    None,
                    None,
                    Some("1764000003"),
                ),
            ],
            &[Note::SameLastmod {
                lastmod: "2025-08-20T08:02:22+00:00".into(),
            }],
        );
    }

    #[test]
    fn extension_fields_are_kept() {
        let set = urls(&fixture("sitemap_news_dantri_shape.xml"));
        let news = set.entries[0].news.as_ref().unwrap();
        assert_eq!(
            news.keywords,
            ["thủ tướng", "dân vận", "hội nghị toàn quốc"]
        );
        assert_eq!(news.language.as_deref(), Some("vi"));
        assert_eq!(
            set.entries[0].image.as_ref().map(Url::as_str),
            Some("https://cdnphoto.dantri.com.vn/2026/11/27/hoi-nghi-1764250215.jpg")
        );
        let set = urls(&fixture("sitemap_news_congly_shape.xml"));
        assert_eq!(
            set.entries[0].news.as_ref().unwrap().keywords,
            ["tòa án", "tổng kết"]
        );
        assert!(set.entries[1].news.as_ref().unwrap().keywords.is_empty());
        // Only the first image; an image:title is not the entry's title.
        assert_eq!(
            set.entries[0].image.as_ref().map(Url::as_str),
            Some("https://congly.vn/data/new/2026/11/27/tong-ket.jpg")
        );
        let set = urls(
            br#"<urlset><url><loc>/a-12345.html</loc><image:image><image:loc>/1.jpg</image:loc></image:image><image:image><image:loc>/2.jpg</image:loc></image:image><image:image><image:loc>javascript:alert(1)</image:loc></image:image></url>
            <url><loc>/b-12346.html</loc><image:image><image:loc>javascript:alert(1)</image:loc></image:image></url></urlset>"#,
        );
        let images: Vec<Option<&str>> = set
            .entries
            .iter()
            .map(|e| e.image.as_ref().map(Url::as_str))
            .collect();
        assert_eq!(images, [Some("https://example.vn/1.jpg"), None]);
    }

    /// What real sitemaps do that the protocol does not allow, or allows but rarely sees.
    #[test]
    fn messy_sitemaps_read() {
        let check = |body: &str, expected: &[&str], notes: &[Note]| {
            let set = urls(body.as_bytes());
            assert_eq!(
                (locs(&set).as_slice(), set.notes.as_slice()),
                (expected, notes),
                "{body}"
            );
        };
        let one = ["https://example.vn/a-1234567.html"];
        // Namespaces: none, the old Google one, other prefixes, an undeclared prefix.
        check(
            "<urlset><url><loc>https://example.vn/a-1234567.html</loc></url></urlset>",
            &one,
            &[],
        );
        check(
            r#"<urlset xmlns="http://www.google.com/schemas/sitemap/0.84"><url><loc>https://example.vn/a-1234567.html</loc></url></urlset>"#,
            &one,
            &[],
        );
        check(
            r#"<s:urlset xmlns:s="http://www.sitemaps.org/schemas/sitemap/0.9"><s:url><s:loc>https://example.vn/a-1234567.html</s:loc></s:url></s:urlset>"#,
            &one,
            &[],
        );
        check(
            r#"<URLSET><URL><LOC>https://example.vn/a-1234567.html</LOC></URL></URLSET>"#,
            &one,
            &[],
        );
        // Whitespace, CDATA, BOM, processing instructions, comments, a DOCTYPE without entities.
        check(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"/sitemap.xsl\"?>\n<!-- generated -->\n<!DOCTYPE urlset>\n<urlset>\n  <url>\n    <loc>\n      <![CDATA[ https://example.vn/a-1234567.html ]]>\n    </loc>\n  </url>\n</urlset>\n",
            &one,
            &[],
        );
        check(
            "\n\n  <urlset><url><loc> <!-- c -->https://example.vn/a-<![CDATA[1234567]]>.html </loc></url></urlset>",
            &one,
            &[],
        );
        // Escaped and bare ampersands, character references, the sitemaps.org escaping example.
        check(
            "<urlset><url><loc>https://example.vn/x?a=1&amp;b=2</loc></url><url><loc>https://example.vn/y?a=1&b=2</loc></url><url><loc>https://example.vn/&#122;&#x7A;</loc></url><url><loc>http://www.example.com/%C3%BCmlat.php&amp;q=name</loc></url></urlset>",
            &[
                "https://example.vn/x?a=1&b=2",
                "https://example.vn/y?a=1&b=2",
                "https://example.vn/zz",
                "http://www.example.com/%C3%BCmlat.php&q=name",
            ],
            &[],
        );
        // Relative locs resolve against the sitemap's URL; others are dropped and counted.
        check(
            "<urlset><url><loc>/a-1234567.html</loc></url><url><loc>b.html</loc></url><url><loc>//cdn.example.vn/c.html</loc></url></urlset>",
            &[
                "https://example.vn/a-1234567.html",
                "https://example.vn/sitemaps/b.html",
                "https://cdn.example.vn/c.html",
            ],
            &[],
        );
        check(
            "<urlset><url><loc>javascript:alert(1)</loc></url><url><loc>mailto:a@example.vn</loc></url><url><loc>ftp://example.vn/x</loc></url><url><loc>  </loc></url><url/><url><lastmod>2026-11-27</lastmod></url><url><loc>https://example.vn/a-1234567.html</loc></url></urlset>",
            &one,
            &[Note::Dropped {
                count: 6,
                example: "javascript:alert(1)".into(),
            }],
        );
        // The same page twice (fragment aside) is one entry; the first one's fields are kept.
        check(
            "<urlset><url><loc>https://example.vn/a-1234567.html</loc></url><url><loc>https://example.vn/a-1234567.html#top</loc></url><url><loc>https://example.vn/a-1234567.html</loc><lastmod>2026-11-27</lastmod></url></urlset>",
            &one,
            &[Note::Duplicates { count: 2 }],
        );
        // Two locs in one entry: the first.
        check(
            "<urlset><url><loc>https://example.vn/a-1234567.html</loc><loc>https://example.vn/b</loc></url></urlset>",
            &one,
            &[],
        );
        // Unknown elements, however deep, and text outside entries are skipped.
        check(
            "<urlset>junk<foo><url><loc>https://example.vn/in-foo</loc></url></foo><url><xhtml:link rel=\"alternate\" hreflang=\"en\" href=\"https://example.vn/en\"/><video:video><video:title>v</video:title><video:loc>https://example.vn/v</video:loc></video:video><loc>https://example.vn/a-1234567.html</loc><changefreq>daily</changefreq><priority>0.8</priority></url></urlset>",
            &one,
            &[],
        );
        // Junk before the root (a PHP notice) and after it.
        check(
            "Notice: Undefined index: page in /var/www/sitemap.php on line 3\n<?xml version=\"1.0\"?><urlset><url><loc>https://example.vn/a-1234567.html</loc></url></urlset>",
            &one,
            &[Note::TextBeforeRoot],
        );
        check(
            "<urlset><url><loc>https://example.vn/a-1234567.html</loc></url></urlset>\n<br />\n<b>Warning</b>: mysql_close() <url><loc>https://example.vn/after</loc></url>",
            &one,
            &[],
        );
        // A urlset listing sitemaps (tingia.gov.vn's shape).
        check(
            "<urlset><url><loc>https://tingia.gov.vn/sitemap/tin-vua-check.xml</loc></url><url><loc>https://tingia.gov.vn/sitemap/multimedia.XML.gz</loc></url><url><loc>https://tingia.gov.vn/gioi-thieu</loc></url></urlset>",
            &[
                "https://tingia.gov.vn/sitemap/tin-vua-check.xml",
                "https://tingia.gov.vn/sitemap/multimedia.XML.gz",
                "https://tingia.gov.vn/gioi-thieu",
            ],
            &[Note::SitemapLocs { count: 2 }],
        );
        // An empty urlset is a valid sitemap with no entries.
        check("<urlset/>", &[], &[]);
        check(
            "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n</urlset>",
            &[],
            &[],
        );
    }

    #[test]
    fn text_values_are_read_as_carried() {
        let set = urls(
            "<urlset><url><loc>https://example.vn/a-1234567.html</loc><news:news><news:publication><news:name> Báo  Nhân Dân </news:name></news:publication><news:title>Lynk &amp;amp; Co &nbsp;ra mắt&#8203; &lt;b&gt;</news:title></news:news></url></urlset>"
                .as_bytes(),
        );
        let news = set.entries[0].news.as_ref().unwrap();
        // Trimmed only; `text::clean` does the rest when normalizing, entities included.
        assert_eq!(news.publication.as_deref(), Some("Báo  Nhân Dân"));
        assert_eq!(
            news.title.as_deref(),
            Some("Lynk &amp; Co &nbsp;ra mắt\u{200b} <b>")
        );
        assert_eq!(set.to_feed().title.as_deref(), Some("Báo Nhân Dân"));
        // A news:news with an empty title gives no title.
        let set = urls(b"<urlset><url><loc>/a</loc><news:news><news:title> </news:title></news:news></url></urlset>");
        assert_eq!(set.entries[0].news.as_ref().unwrap().title, None);
    }

    /// `lastmod` as sitemaps write it: W3C datetime in all its precisions, and what generators
    /// make of it.
    #[test]
    fn lastmod_forms() {
        let check = |raw: &str, expected: Option<&str>| {
            let body = format!("<urlset><url><loc>/a</loc><lastmod>{raw}</lastmod></url></urlset>");
            let set = urls(body.as_bytes());
            let date = set.entries[0].lastmod.as_ref().unwrap();
            assert_eq!(date.raw, raw.trim(), "{raw}");
            assert_eq!(
                date.parsed.map(|t| t.to_rfc3339()).as_deref(),
                expected,
                "{raw}"
            );
        };
        check("2026-11-27", Some("2026-11-27T00:00:00+07:00"));
        check(
            " 2026-11-27T10:00:00+07:00\n",
            Some("2026-11-27T10:00:00+07:00"),
        );
        check("2026-11-27T03:00:00Z", Some("2026-11-27T03:00:00+00:00"));
        check(
            "2026-11-27T10:00:00.123+07:00",
            Some("2026-11-27T10:00:00.123+07:00"),
        );
        check("2026-11-27T10:00+07:00", Some("2026-11-27T10:00:00+07:00"));
        check("2026-11-27T10:00", Some("2026-11-27T10:00:00+07:00"));
        check("2026-11-27T10:00:00", Some("2026-11-27T10:00:00+07:00"));
        check("2026-11-27 10:00:00", Some("2026-11-27T10:00:00+07:00"));
        check("2024-01-27 10:00:00", Some("2024-01-27T10:00:00+07:00"));
        check("27/11/2026", Some("2026-11-27T00:00:00+07:00"));
        check("tháng trước", None);
        // An empty lastmod is none.
        let set = urls(b"<urlset><url><loc>/a</loc><lastmod> </lastmod></url></urlset>");
        assert_eq!(set.entries[0].lastmod, None);
    }

    #[test]
    fn dates_prefer_publication_date_and_skip_rebuild_stamps() {
        let feed = |body: &str| urls(body.as_bytes()).to_feed();
        let dates = |f: &Listing| -> Vec<Option<String>> {
            f.entries
                .iter()
                .map(|e| e.date.as_ref().map(|d| d.raw.clone()))
                .collect()
        };
        let f = feed("<urlset><url><loc>/a</loc><lastmod>2026-11-27T10:00:00+07:00</lastmod><news:news><news:publication_date>2026-11-26T09:00:00+07:00</news:publication_date></news:news></url><url><loc>/b</loc><lastmod>2026-11-27T11:00:00+07:00</lastmod><news:news/></url></urlset>");
        assert_eq!(
            dates(&f),
            [
                Some("2026-11-26T09:00:00+07:00".to_string()),
                Some("2026-11-27T11:00:00+07:00".to_string())
            ]
        );
        // Three entries at one instant: a rebuild stamp. Two, or a shared day, are not.
        let same = "<url><loc>/{}</loc><lastmod>2026-11-27T10:00:00+07:00</lastmod></url>";
        let body = |n: usize, lastmod: &str| {
            let mut s = String::from("<urlset>");
            for i in 0..n {
                s.push_str(
                    &same
                        .replace("{}", &i.to_string())
                        .replace("2026-11-27T10:00:00+07:00", lastmod),
                );
            }
            s + "</urlset>"
        };
        assert_eq!(
            dates(&feed(&body(3, "2026-11-27T10:00:00+07:00"))),
            [None, None, None]
        );
        assert_eq!(
            dates(&feed(&body(2, "2026-11-27T10:00:00+07:00")))
                .iter()
                .flatten()
                .count(),
            2
        );
        assert_eq!(
            dates(&feed(&body(3, "2026-11-27")))
                .iter()
                .flatten()
                .count(),
            3
        );
        // A publication date still dates its entry.
        let f = feed(&body(3, "2026-11-27T10:00:00+07:00").replace(
            "<loc>/0</loc>",
            "<loc>/0</loc><news:news><news:publication_date>2026-11-26</news:publication_date></news:news>",
        ));
        assert_eq!(dates(&f), [Some("2026-11-26".to_string()), None, None]);
        assert_eq!(
            f.repairs,
            ["every lastmod is \"2026-11-27T10:00:00+07:00\" (when the sitemap was rebuilt): not used as a date"]
        );
    }

    #[test]
    fn guids_are_article_ids() {
        let f = urls(b"<urlset><url><loc>https://nhandan.vn/dan-van-post983654.html</loc></url><url><loc>https://www.vietnamplus.vn/1234567.vnp</loc></url><url><loc>https://example.gov.vn/news.aspx?ItemID=45678</loc></url><url><loc>https://example.vn/dai-hoi-dang-2020.html</loc></url></urlset>").to_feed();
        let guids: Vec<Option<&str>> = f.entries.iter().map(|e| e.guid.as_deref()).collect();
        assert_eq!(
            guids,
            [Some("983654"), Some("1234567"), Some("45678"), None]
        );
    }

    #[test]
    fn plain_text_sitemaps_read() {
        let set = urls_at(
            &fixture("sitemap_plain_text_crlf.txt"),
            &Url::parse("https://daklak.gov.vn/sitemap.txt").unwrap(),
        );
        assert_eq!(
            locs(&set),
            [
                "https://daklak.gov.vn/tin-tuc/hoi-nghi-tong-ket-1764000100",
                "https://daklak.gov.vn/tin-tuc/ky-hop-hdnd-1764000101"
            ]
        );
        assert_eq!(
            set.notes,
            [
                Note::Dropped {
                    count: 1,
                    example: "not a url".into()
                },
                Note::Duplicates { count: 1 }
            ]
        );
        // UTF-8 BOM, blank lines first, LF or CR.
        let set = urls("\u{feff}\n\nhttps://example.vn/a\rhttps://example.vn/b\n".as_bytes());
        assert_eq!(locs(&set), ["https://example.vn/a", "https://example.vn/b"]);
        // Relative lines are not pages: any text would resolve to one.
        let set = urls(b"https://example.vn/a\n/b\nc d\n");
        assert_eq!(locs(&set), ["https://example.vn/a"]);
        assert_eq!(
            set.notes,
            [Note::Dropped {
                count: 2,
                example: "/b".into()
            }]
        );
    }

    #[test]
    fn not_a_sitemap_says_what_it_is() {
        let check = |body: &[u8], expected: SitemapError| {
            assert_eq!(
                parse(body, None, &base(), ctx(), CAP).unwrap_err(),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        };
        check(b"", SitemapError::Empty);
        check(b" \r\n\t", SitemapError::Empty);
        check("\u{feff}".as_bytes(), SitemapError::Empty);
        check(
            "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Trang chủ</title></head><body></body></html>".as_bytes(),
            SitemapError::Html {
                title: Some("Trang chủ".into()),
            },
        );
        check(
            b"<html><body><script>document.cookie='a=b';location.reload();</script></body></html>",
            SitemapError::CookieChallenge,
        );
        check(
            b"<!doctype html>\n<html><head><title>L\xe1\xbb\x97i 404</title><meta charset=utf-8></head></html>",
            SitemapError::Html {
                title: Some("L\u{1ed7}i 404".into()),
            },
        );
        check(
            b"<!-- Cloudflare -->\n<HTML><HEAD><TITLE>Just a moment...</TITLE></HEAD><BODY><script>challenge()</script></BODY></HTML>",
            SitemapError::CookieChallenge,
        );
        check(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title></channel></rss>",
            SitemapError::Feed("RSS"),
        );
        check(
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>",
            SitemapError::Feed("Atom"),
        );
        check(
            b"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"></rdf:RDF>",
            SitemapError::Feed("RSS 1.0"),
        );
        check(
            br#"{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "url": "https://example.vn/a", "title": "a"}]}"#,
            SitemapError::Feed("JSON Feed"),
        );
        check(
            b"<?xml version=\"1.0\"?><!-- c --><foo><url><loc>https://example.vn/a</loc></url></foo>",
            SitemapError::OtherRoot("foo".into()),
        );
        check(
            b"<x:sitemaps><sitemap/></x:sitemaps>",
            SitemapError::OtherRoot("sitemaps".into()),
        );
        check(
            b"Hello",
            SitemapError::NotASitemap("starts with \"Hello\"".into()),
        );
        check(
            br#"{"data": [1, 2]}"#,
            SitemapError::NotASitemap("a JSON document".into()),
        );
        check(
            b"Warning: x <html><head><title>Trang</title></head></html>",
            SitemapError::Html {
                title: Some("Trang".into()),
            },
        );
        check(
            b"\x00\x01\x02PK\x03\x04",
            SitemapError::NotASitemap("binary data".into()),
        );
        check(
            b"<?xml version=\"1.0\"?><!DOCTYPE urlset [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><urlset><url><loc>https://example.vn/&lol2;</loc></url></urlset>",
            SitemapError::Entities,
        );
        check(
            b"<?xml version=\"1.0\"?><!doctype urlset [<!entity x \"y\">]><urlset/>",
            SitemapError::Entities,
        );
        check(
            b"<urlset><url><loc>https://example.vn/a</loc></uurl></urlset>",
            SitemapError::Malformed(
                "line 1: ill-formed document: expected `</url>`, but `</uurl>` was found before its first complete entry".into(),
            ),
        );
        check(
            b"<urlset>\n<url><loc>https://example.vn/a",
            SitemapError::Malformed(
                "the document is cut off before its first complete entry".into(),
            ),
        );
        check(
            b"<?xml version=\"1.0\"?>",
            SitemapError::Malformed("no root element".into()),
        );
        // What the fuzzer found (decompressed): never handed to the feed parser, which panics.
        check(
            b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"windows-1258\"T>s58\"T\xad_-<?xml ar",
            SitemapError::Malformed(
                "line 1: syntax error: XML declaration not closed: `?>` not found before end of input"
                    .into(),
            ),
        );
        // Every message names the problem without the body.
        for e in [
            SitemapError::TooLarge { limit: 10 },
            SitemapError::Gzip("x".into()),
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn cut_off_and_broken_documents_keep_complete_entries() {
        let check = |body: &str, expected: &[&str], notes: &[Note]| {
            let set = urls(body.as_bytes());
            assert_eq!(
                (locs(&set).as_slice(), set.notes.as_slice()),
                (expected, notes),
                "{body}"
            );
        };
        let head = "<?xml version=\"1.0\"?>\n<urlset>\n<url><loc>https://example.vn/a</loc></url>\n<url><loc>https://example.vn/b</loc></url>\n";
        // Cut inside an entry, a tag, a CDATA section, a comment, after the last entry.
        for tail in [
            "<url><loc>https://example.vn/c",
            "<url><loc>https://example.vn/c</loc><lastm",
            "<url><loc><![CDATA[https://example.vn/c",
            "<url><!-- a",
            "<url",
        ] {
            check(
                &format!("{head}{tail}"),
                &["https://example.vn/a", "https://example.vn/b"],
                &[Note::CutOff { unfinished: true }],
            );
        }
        check(
            head,
            &["https://example.vn/a", "https://example.vn/b"],
            &[Note::CutOff { unfinished: false }],
        );
        // Broken in the middle: what came before is kept.
        check(
            &format!("{head}<url><loc>https://example.vn/c</loc></uurl>\n<url><loc>https://example.vn/d</loc></url></urlset>"),
            &["https://example.vn/a", "https://example.vn/b"],
            &[Note::BrokenAt {
                line: 5,
                error: "ill-formed document: expected `</url>`, but `</uurl>` was found".into(),
                kept: 2,
            }],
        );
    }

    #[test]
    fn gzip_sitemaps_are_decompressed_within_the_cap() {
        let index = index_of(&fixture("sitemap_index_gz.xml.gz"));
        assert!(index.notes.is_empty(), "{:?}", index.notes);
        let children: Vec<&str> = index.children.iter().map(|c| c.loc.as_str()).collect();
        assert_eq!(
            children,
            [
                "https://vnexpress.net/articles-2026-sitemap.xml?m=11&d=27",
                "https://vnexpress.net/articles-2026-sitemap.xml?m=11&d=28",
                "https://vnexpress.net/google-news-sitemap.xml"
            ]
        );
        // The same document compressed or not reads the same.
        let plain = fixture("sitemap_news_dantri_shape.xml");
        assert_eq!(read(&gzip(&plain), &base()), read(&plain, &base()));
        // Several gzip members are one file.
        let mut two = gzip(b"<urlset><url><loc>/a</loc></url>");
        two.extend(gzip(b"<url><loc>/b</loc></url></urlset>"));
        assert_eq!(
            locs(&urls(&two)),
            ["https://example.vn/a", "https://example.vn/b"]
        );
        // A bomb stops at the cap: 64 MiB of spaces from a 64 KiB body (64 gzip members of
        // 1 MiB each, to keep the test quick), cap 1 MiB.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 1 << 20]).unwrap();
        let bomb = encoder.finish().unwrap().repeat(64);
        assert!(bomb.len() < 128 << 10, "{}", bomb.len());
        assert_eq!(
            parse(&bomb, None, &base(), ctx(), 1 << 20).unwrap_err(),
            SitemapError::TooLarge { limit: 1 << 20 }
        );
        // Exactly at the cap is fine.
        let body = b"<urlset><url><loc>/a</loc></url></urlset>";
        assert!(parse(&gzip(body), None, &base(), ctx(), body.len() as u64).is_ok());
        assert_eq!(
            parse(&gzip(body), None, &base(), ctx(), body.len() as u64 - 1).unwrap_err(),
            SitemapError::TooLarge {
                limit: body.len() as u64 - 1
            }
        );
        // Damage: nothing decompressed is an error; a cut stream reads like a cut body.
        assert!(matches!(
            parse(
                &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff],
                None,
                &base(),
                ctx(),
                CAP
            ),
            Err(SitemapError::Gzip(_))
        ));
        let mut long = String::from("<urlset>");
        for i in 0..2000 {
            long.push_str(&format!("<url><loc>/{i}-{}</loc></url>", i * 7919 % 10007));
        }
        long.push_str("</urlset>");
        let compressed = gzip(long.as_bytes());
        let set = urls(compressed.get(..compressed.len() / 2).unwrap());
        assert!(
            set.entries.len() > 100 && set.entries.len() < 2000,
            "{}",
            set.entries.len()
        );
        assert!(
            matches!(set.notes.as_slice(), [Note::CutOff { .. }]),
            "{:?}",
            set.notes
        );
        // Gzip inside gzip is not unpacked twice.
        assert_eq!(
            parse(&gzip(&gzip(body)), None, &base(), ctx(), CAP).unwrap_err(),
            SitemapError::NotASitemap("binary data".into())
        );
    }

    #[test]
    fn at_most_max_entries_are_kept() {
        let mut body = String::from("<urlset>");
        for i in 0..=MAX_ENTRIES + 1 {
            body.push_str(&format!("<url><loc>/{i}</loc></url>"));
        }
        body.push_str("</urlset>");
        let set = urls(body.as_bytes());
        assert_eq!(set.entries.len(), MAX_ENTRIES);
        assert_eq!(set.entries.last().unwrap().loc.path(), "/49999");
        assert_eq!(set.notes, [Note::OverLimit { beyond: 2 }]);

        let mut body = String::from("<sitemapindex>");
        for i in 0..=MAX_ENTRIES {
            body.push_str(&format!("<sitemap><loc>/s{i}.xml</loc></sitemap>"));
        }
        body.push_str("</sitemapindex>");
        let index = index_of(body.as_bytes());
        assert_eq!(index.children.len(), MAX_ENTRIES);
        assert_eq!(index.notes, [Note::OverLimit { beyond: 1 }]);
    }

    /// Nesting is a counter: deep documents neither recurse nor panic.
    #[test]
    fn deep_nesting_is_harmless() {
        let depth = 100_000;
        let deep = format!(
            "<urlset><url><loc>/a</loc>{}{}</url>{}</urlset>",
            "<x>".repeat(depth),
            "</x>".repeat(depth),
            "<url><loc>/b</loc></url>"
        );
        assert_eq!(
            locs(&urls(deep.as_bytes())),
            ["https://example.vn/a", "https://example.vn/b"]
        );
        let unclosed = format!(
            "<urlset><url><loc>/a</loc></url>{}",
            "<url><x>".repeat(depth)
        );
        let set = urls(unclosed.as_bytes());
        assert_eq!(locs(&set), ["https://example.vn/a"]);
        assert_eq!(set.notes, [Note::CutOff { unfinished: true }]);
    }

    #[test]
    fn index_children_read() {
        let index = index_of(&fixture("sitemap_index_vtv_shape_no_lastmod.xml"));
        let children: Vec<(&str, bool)> = index
            .children
            .iter()
            .map(|c| (c.loc.as_str(), c.lastmod.is_none()))
            .collect();
        assert_eq!(
            children,
            [
                ("https://vtv.vn/sitemaps/sitemaps-2026-11-21-25.xml", true),
                ("https://vtv.vn/sitemaps/sitemaps-2026-11-26-30.xml", true)
            ]
        );
        // Relative, repeated, unusable; no news or image in an index.
        let index = index_of(b"<sitemapindex><sitemap><loc>a.xml</loc><news:news/></sitemap><sitemap><loc>/sitemaps/a.xml</loc></sitemap><sitemap><loc>file:///etc/passwd</loc></sitemap></sitemapindex>");
        let children: Vec<&str> = index.children.iter().map(|c| c.loc.as_str()).collect();
        assert_eq!(children, ["https://example.vn/sitemaps/a.xml"]);
        assert_eq!(
            index.notes,
            [
                Note::Dropped {
                    count: 1,
                    example: "file:///etc/passwd".into()
                },
                Note::Duplicates { count: 1 }
            ]
        );
    }

    fn child(loc: &str, lastmod: Option<&str>) -> Child {
        Child {
            loc: Url::parse(loc).unwrap(),
            lastmod: lastmod.map(|raw| RawDate {
                raw: raw.to_string(),
                parsed: date::parse(raw, ctx().tz, ctx().order, ctx().now),
            }),
        }
    }

    #[test]
    fn children_to_fetch_are_the_newest_on_the_site() {
        let index = Index {
            children: vec![
                child(
                    "https://www.qdnd.vn/sitemaps/2026-10.xml",
                    Some("2026-10-31T23:00:00+07:00"),
                ),
                child("https://qdnd.vn/sitemaps/undated-1.xml", None),
                child(
                    "https://static.qdnd.vn/sitemaps/2026-11.xml",
                    Some("2026-11-28T09:00:00+07:00"),
                ),
                child("https://qdnd.vn/sitemaps/2026-09.xml", Some("2026-09-30")),
                child(
                    "https://www.qdnd.vn/sitemap.xml",
                    Some("2026-11-28T10:00:00+07:00"),
                ),
                child(
                    "https://qdnd.vn.evil.example/sitemap.xml",
                    Some("2026-11-28T10:00:00+07:00"),
                ),
                child(
                    "https://evilqdnd.vn/sitemap.xml",
                    Some("2026-11-28T10:00:00+07:00"),
                ),
                child(
                    "http://169.254.169.254/latest/meta-data/",
                    Some("2026-11-28T10:00:00+07:00"),
                ),
                child("https://localhost/sitemap.xml", None),
                child("https://qdnd.vn/sitemaps/undated-2.xml", None),
                child("https://qdnd.vn/sitemaps/unparsed.xml", Some("không rõ")),
            ],
            notes: Vec::new(),
        };
        let at = Url::parse("https://www.qdnd.vn/sitemap.xml#index").unwrap();
        let picked = |max: usize| -> Vec<&str> {
            children_to_fetch(&index, &at, max)
                .iter()
                .map(|c| c.loc.as_str())
                .collect()
        };
        assert_eq!(
            picked(10),
            [
                "https://static.qdnd.vn/sitemaps/2026-11.xml",
                "https://www.qdnd.vn/sitemaps/2026-10.xml",
                "https://qdnd.vn/sitemaps/2026-09.xml",
                "https://qdnd.vn/sitemaps/undated-1.xml",
                "https://qdnd.vn/sitemaps/undated-2.xml",
                "https://qdnd.vn/sitemaps/unparsed.xml",
            ]
        );
        assert_eq!(
            picked(2),
            [
                "https://static.qdnd.vn/sitemaps/2026-11.xml",
                "https://www.qdnd.vn/sitemaps/2026-10.xml"
            ]
        );
        assert!(picked(0).is_empty());
        // A host without www. allows its www. and other subdomains, not its parent.
        let at = Url::parse("https://static.qdnd.vn/sitemap.xml").unwrap();
        let on = |u: &str| on_site(&Url::parse(u).unwrap(), &at);
        assert!(on("https://static.qdnd.vn/a.xml") && on("https://a.static.qdnd.vn/a.xml"));
        assert!(!on("https://qdnd.vn/a.xml") && !on("https://www.qdnd.vn/a.xml"));
        // An IP address is only itself; case and a trailing dot do not matter.
        let at = Url::parse("http://127.0.0.1:8080/sitemap.xml").unwrap();
        let on = |u: &str| on_site(&Url::parse(u).unwrap(), &at);
        assert!(on("http://127.0.0.1:9090/a.xml") && !on("http://127.0.0.2/a.xml"));
        let at = Url::parse("https://Nhandan.VN./sitemap.xml").unwrap();
        assert!(on_site(
            &Url::parse("https://WWW.nhandan.vn/a.xml").unwrap(),
            &at
        ));
    }

    #[test]
    fn robots_txt_sitemaps() {
        let at = Url::parse("https://daklak.gov.vn/robots.txt").unwrap();
        let check = |robots: &str, expected: &[&str]| {
            let found: Vec<String> = robots_sitemaps(robots, &at)
                .iter()
                .map(Url::to_string)
                .collect();
            assert_eq!(found, expected, "{robots:?}");
        };
        // daklak.gov.vn's robots.txt, as a public survey quoted it.
        check(
            "User-Agent: *\nDisallow:\nSitemap: https://daklak.gov.vn/sitemap.xml\n",
            &["https://daklak.gov.vn/sitemap.xml"],
        );
        check(
            "\u{feff}sitemap:https://a.vn/1.xml\r\nSITEMAP :  https://a.vn/2.xml  # news\r\n# Sitemap: https://a.vn/commented.xml\r\nSite-map: https://a.vn/x.xml\rSitemap: /relative.xml\nSitemap: https://a.vn/1.xml\nSitemap:\nSitemap: javascript:alert(1)\nUser-agent: *\nDisallow: /sitemap: no\n  Sitemap: https://a.vn/indented.xml.gz",
            &[
                "https://a.vn/1.xml",
                "https://a.vn/2.xml",
                "https://daklak.gov.vn/relative.xml",
                "https://a.vn/indented.xml.gz",
            ],
        );
        check("", &[]);
        check("<html><body>404</body></html>", &[]);
    }
}
