//! Pure: articles → RSS 2.0 / Atom 1.0 / JSON Feed 1.1 bytes. No I/O, no clock.
//!
//! The caller maps stored articles to [`Entry`] values (ids, topic names, source names) and
//! supplies the [`Channel`], including its `updated` time; this module only renders.
//!
//! Invariants:
//!
//! - Deterministic: the same input gives the same bytes (the HTTP layer hashes them for a strong
//!   ETag). Nothing here reads the clock, iterates a hash map, or writes a version number.
//! - Valid for every standard parser, whatever the text: markup in a title is escaped as text by
//!   the XML writers (and `]]>` in HTML is split across CDATA sections by the `rss` crate), and
//!   characters XML 1.0 cannot carry at all (C0 controls, U+FFFE, U+FFFF) are dropped from the
//!   XML formats, because no escape exists for them and one would make the whole feed unreadable.
//! - Every URL is used as given: the caller supplies absolute URLs (validated upstream).
//!
//! `rss` and `atom_syndication` live behind this module only; their types never appear in its
//! signatures.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use crate::media::{self, Media, Medium};

/// The feed language, for every format: all our sources publish in Vietnamese.
const LANGUAGE: &str = "vi";
/// RSS `<generator>` and Atom `<generator>`; no version, so a release does not change the bytes.
const GENERATOR: &str = "bantin";
/// Atom requires an author on every entry or on the feed (RFC 4287 §4.1.1): entries without one
/// inherit this. Always written, so the feed stays valid whichever entries it holds.
const FEED_AUTHOR: &str = "bantin";

/// An output format. A new one is a variant here, its entry in [`Format::ALL`] and its
/// renderer in [`render`]: the HTTP routes, the index page's links and the static export all
/// follow [`Format::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// Every format, in the order pages list them.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The format of the one feed link a digest or a table row shows.
    pub const DEFAULT: Format = Format::Rss;

    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The inverse of [`Format::extension`]; exact (lowercase) so each feed has one URL.
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The media type without parameters, as RSS `atom:link type`, Atom `link type` and HTML
    /// `<link rel="alternate" type>` want it.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// What a person calls it: the text of its links on the index page.
    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }
}

/// The feed itself.
#[derive(Debug, Clone)]
pub struct Channel {
    /// E.g. "bantin – Dân vận".
    pub title: String,
    pub description: String,
    /// Absolute URL of the human page (the site's "/" page).
    pub link: String,
    /// Absolute URL this feed is served at (atom:link rel=self, Atom self link, JSON feed_url).
    pub self_url: String,
    /// Minutes; RSS `<ttl>`.
    pub ttl_minutes: u32,
    /// Newest item time, or "now" supplied by the caller when there are no items (never read the
    /// clock here).
    pub updated: DateTime<Utc>,
    /// The pages around this one, when the feed is paged.
    pub pages: PageLinks,
}

/// A paged feed's links (RFC 5005 §3), absolute URLs: RSS `atom:link` and Atom `link` with
/// `rel` first, next and prev; JSON Feed's `next_url` (it has no other).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLinks {
    /// The first page (the newest stories). Also the id of every page of an Atom feed, so its
    /// pages are one feed.
    pub first: Option<String>,
    /// The next page: older stories.
    pub next: Option<String>,
    /// The previous page: newer stories.
    pub prev: Option<String>,
}

impl PageLinks {
    /// (rel, URL) of each link there is, in a fixed order.
    fn each(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("first", &self.first),
            ("prev", &self.prev),
            ("next", &self.next),
        ]
        .into_iter()
        .filter_map(|(rel, url)| Some((rel, url.as_deref()?)))
    }
}

/// One entry. Text fields are already clean (plain title; sanitized HTML summary/content).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Stable id that never changes for an article, e.g. "urn:bantin:article:3f2a…" (the caller
    /// supplies it). RSS guid isPermaLink="false", Atom id, JSON id.
    pub id: String,
    pub title: String,
    /// The original article URL (absolute). May be None for rare link-less items: then no link
    /// element / url field.
    pub link: Option<String>,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub published: DateTime<FixedOffset>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    /// Topic names (RSS `<category>`, Atom category term+label, JSON tags).
    pub categories: Vec<String>,
    /// Every source that carried it (a syndicated story appears once with all its sources): name +
    /// the source's feed URL. The first is used for RSS <source url="…">name</source> and Atom
    /// <source> (title + link + id).
    pub sources: Vec<(String, String)>,
    /// Enclosures and images, checked at ingest ([`crate::media`]): RSS `<enclosure>` (the
    /// first) and `media:content` (all), Atom `rel="enclosure"` links, JSON Feed `image` (the
    /// first image) and `attachments`.
    pub media: Vec<Media>,
}

pub fn render(format: Format, channel: &Channel, entries: &[Entry]) -> Vec<u8> {
    match format {
        Format::Rss => rss(channel, entries),
        Format::Atom => atom(channel, entries),
        Format::Json => json_feed(channel, entries),
    }
}

/// RSS 2.0 (<https://www.rssboard.org/rss-specification>) with the `atom` (self link), `content`
/// (`content:encoded`) and `dc` (`dc:creator`) namespaces, declared on `<rss>` by the writer for
/// the extensions actually used.
pub fn rss(channel: &Channel, entries: &[Entry]) -> Vec<u8> {
    use rss::extension::atom::{AtomExtension, Link};
    use rss::extension::dublincore::DublinCoreExtension;

    let items: Vec<rss::Item> = entries
        .iter()
        .map(|entry| {
            let mut item = rss::Item::default();
            item.set_title(xml_text(&entry.title));
            item.set_link(entry.link.as_deref().map(xml_text));
            item.set_description(entry.summary_html.as_deref().map(xml_text));
            item.set_content(entry.content_html.as_deref().map(xml_text));
            item.set_guid(rss::Guid {
                value: xml_text(&entry.id),
                permalink: false,
            });
            // RFC 822 date-time with the article's own offset ("+0700"), as published.
            item.set_pub_date(entry.published.to_rfc2822());
            item.set_categories(
                entry
                    .categories
                    .iter()
                    .map(|name| rss::Category {
                        name: xml_text(name),
                        domain: None,
                    })
                    .collect::<Vec<_>>(),
            );
            item.set_source(entry.sources.first().map(|(name, url)| rss::Source {
                url: xml_text(url),
                title: Some(xml_text(name)),
            }));
            // RSS <author> must be an email address; outlets give names, so dc:creator.
            // RSS allows one enclosure: the first medium, which is the one the publisher put
            // first (its own `<enclosure>`, as `crate::media` keeps the order). Every medium
            // also goes as `media:content`, which readers use for images.
            item.set_enclosure(entry.media.first().map(|m| rss::Enclosure {
                url: xml_text(&m.url),
                // Required; 0 when unknown, as the RSS Advisory Board recommends.
                length: m.length.unwrap_or(0).to_string(),
                mime_type: xml_text(m.published_type()),
            }));
            if !entry.media.is_empty() {
                let mut media = std::collections::BTreeMap::new();
                media.insert(
                    "content".to_owned(),
                    entry.media.iter().map(media_content).collect(),
                );
                item.extensions.insert(MEDIA_PREFIX.to_owned(), media);
            }
            if !entry.authors.is_empty() {
                let mut dc = DublinCoreExtension::default();
                dc.set_creators(
                    entry
                        .authors
                        .iter()
                        .map(|a| xml_text(a))
                        .collect::<Vec<_>>(),
                );
                item.set_dublin_core_ext(dc);
            }
            item
        })
        .collect();

    let mut feed = rss::Channel::default();
    feed.set_title(xml_text(&channel.title));
    feed.set_link(xml_text(&channel.link));
    feed.set_description(xml_text(&channel.description));
    feed.set_language(LANGUAGE.to_owned());
    feed.set_last_build_date(channel.updated.to_rfc2822());
    feed.set_generator(GENERATOR.to_owned());
    feed.set_ttl(channel.ttl_minutes.to_string());
    // The W3C validator asks for atom:link rel="self" so readers can find the canonical URL.
    let self_link = Link {
        href: xml_text(&channel.self_url),
        rel: "self".to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Link::default()
    };
    let mut links = vec![self_link];
    links.extend(channel.pages.each().map(|(rel, href)| Link {
        href: xml_text(href),
        rel: rel.to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Link::default()
    }));
    let mut atom_ext = AtomExtension::default();
    atom_ext.set_links(links);
    feed.set_atom_ext(atom_ext);
    // Declared only when used, so a feed without media keeps its bytes (and its ETag).
    if entries.iter().any(|e| !e.media.is_empty()) {
        feed.namespaces
            .insert(MEDIA_PREFIX.to_owned(), MEDIA_NAMESPACE.to_owned());
    }
    feed.set_items(items);

    // Writing to a Vec<u8> cannot fail: the only errors the writer returns are I/O errors from
    // the sink, and Vec's `Write` impl never returns one.
    feed.write_to(Vec::new())
        .expect("writing XML to a Vec<u8> cannot fail")
}

/// The Media RSS namespace (<https://www.rssboard.org/media-rss>) and its usual prefix.
const MEDIA_NAMESPACE: &str = "http://search.yahoo.com/mrss/";
const MEDIA_PREFIX: &str = "media";

/// `<media:content url type fileSize width height medium/>`.
fn media_content(m: &Media) -> rss::extension::Extension {
    let mut attrs = std::collections::BTreeMap::new();
    attrs.insert("url".to_owned(), xml_text(&m.url));
    attrs.insert("type".to_owned(), xml_text(m.published_type()));
    let mut number = |name: &str, n: Option<u64>| {
        if let Some(n) = n {
            attrs.insert(name.to_owned(), n.to_string());
        }
    };
    number("fileSize", m.length);
    number("width", m.width.map(u64::from));
    number("height", m.height.map(u64::from));
    let medium = match m.medium {
        Medium::Image => Some("image"),
        Medium::Video => Some("video"),
        Medium::Audio => Some("audio"),
        Medium::Other => None,
    };
    if let Some(medium) = medium {
        attrs.insert("medium".to_owned(), medium.to_owned());
    }
    rss::extension::Extension {
        name: format!("{MEDIA_PREFIX}:content"),
        attrs,
        ..rss::extension::Extension::default()
    }
}

/// Atom 1.0 (RFC 4287).
pub fn atom(channel: &Channel, entries: &[Entry]) -> Vec<u8> {
    use atom_syndication::{Category, Content, Generator, Link, Person, Source, Text};

    let link = |href: &str, rel: &str, mime_type: Option<&str>| Link {
        href: xml_text(href),
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    };
    let person = |name: &str| Person {
        name: xml_text(name),
        ..Person::default()
    };

    let atom_entries: Vec<atom_syndication::Entry> = entries
        .iter()
        .map(|entry| {
            let updated = entry
                .updated
                .map(|u| u.fixed_offset())
                .unwrap_or(entry.published);
            // RFC 4287 §4.1.2: an entry without content must have an alternate link. For the rare
            // link-less item, an (possibly empty) html content keeps the entry valid.
            let content_html = match (&entry.content_html, &entry.link) {
                (Some(content), _) => Some(content.as_str()),
                (None, None) => Some(entry.summary_html.as_deref().unwrap_or("")),
                (None, Some(_)) => None,
            };
            let mut out = atom_syndication::Entry {
                id: xml_text(&entry.id),
                title: Text::plain(xml_text(&entry.title)),
                updated,
                published: Some(entry.published),
                ..atom_syndication::Entry::default()
            };
            out.links = entry
                .link
                .iter()
                .map(|href| link(href, "alternate", None))
                .chain(entry.media.iter().map(|m| Link {
                    length: m.length.map(|n| n.to_string()),
                    ..link(&m.url, "enclosure", Some(m.published_type()))
                }))
                .collect();
            out.summary = entry
                .summary_html
                .as_deref()
                .map(|s| Text::html(xml_text(s)));
            out.content = content_html.map(|html| Content {
                value: Some(xml_text(html)),
                content_type: Some("html".to_owned()),
                ..Content::default()
            });
            out.authors = entry.authors.iter().map(|a| person(a)).collect();
            out.categories = entry
                .categories
                .iter()
                .map(|name| Category {
                    term: xml_text(name),
                    scheme: None,
                    label: Some(xml_text(name)),
                })
                .collect();
            // atom:source (§4.2.11) keeps the original feed's metadata. The writer always emits
            // <updated> there; we do not know the source feed's own time, so use the entry's,
            // which the source feed was necessarily updated at or after.
            out.source = entry.sources.first().map(|(name, url)| Source {
                title: Text::plain(xml_text(name)),
                id: xml_text(url),
                updated,
                links: vec![link(url, "self", None)],
                ..Source::default()
            });
            out
        })
        .collect();

    let mut links = vec![
        link(&channel.link, "alternate", Some("text/html")),
        link(&channel.self_url, "self", Some(Format::Atom.media_type())),
    ];
    links.extend(
        channel
            .pages
            .each()
            .map(|(rel, href)| link(href, rel, Some(Format::Atom.media_type()))),
    );
    let feed = atom_syndication::Feed {
        id: xml_text(channel.pages.first.as_deref().unwrap_or(&channel.self_url)),
        title: Text::plain(xml_text(&channel.title)),
        subtitle: Some(Text::plain(xml_text(&channel.description))),
        updated: channel.updated.fixed_offset(),
        links,
        authors: vec![person(FEED_AUTHOR)],
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            uri: None,
            version: None,
        }),
        lang: Some(LANGUAGE.to_owned()),
        entries: atom_entries,
        ..atom_syndication::Feed::default()
    };

    // Writing to a Vec<u8> cannot fail: the only errors the writer returns are I/O errors from
    // the sink, and Vec's `Write` impl never returns one.
    feed.write_to(Vec::new())
        .expect("writing XML to a Vec<u8> cannot fail")
}

/// JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>).
pub fn json_feed(channel: &Channel, entries: &[Entry]) -> Vec<u8> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &channel.title,
        home_page_url: &channel.link,
        feed_url: &channel.self_url,
        next_url: channel.pages.next.as_deref(),
        description: &channel.description,
        language: LANGUAGE,
        items: entries.iter().map(json_item).collect(),
    };
    // Serializing cannot fail: every map key is a struct field name and every value a string,
    // number or sequence of them; Vec's `Write` impl never returns an error.
    serde_json::to_vec(&feed).expect("serializing a JSON feed to a Vec<u8> cannot fail")
}

/// One item of [`json_feed`] alone, as the feed's `items` hold it (the body of a topic's
/// webhook POST).
pub fn json_feed_item(entry: &Entry) -> Vec<u8> {
    // As in `json_feed`: strings, numbers and sequences of them into a Vec cannot fail.
    serde_json::to_vec(&json_item(entry)).expect("serializing a JSON item to a Vec<u8> cannot fail")
}

fn json_item(entry: &Entry) -> JsonItem<'_> {
    // JSON Feed requires content_html or content_text on every item. Summary HTML stands in when
    // the full text is unknown; an empty content_text when there is nothing at all.
    let content_html = entry
        .content_html
        .as_deref()
        .or(entry.summary_html.as_deref());
    JsonItem {
        id: &entry.id,
        url: entry.link.as_deref(),
        title: &entry.title,
        content_html,
        content_text: content_html.is_none().then_some(""),
        summary: entry
            .summary_html
            .as_deref()
            .map(crate::text::html_to_text)
            .filter(|s| !s.is_empty()),
        date_published: entry.published.to_rfc3339(),
        date_modified: entry.updated.map(|u| u.to_rfc3339()),
        authors: entry
            .authors
            .iter()
            .map(|name| JsonAuthor { name })
            .collect(),
        tags: entry.categories.iter().map(String::as_str).collect(),
        image: media::image(&entry.media).map(|m| m.url.as_str()),
        attachments: entry
            .media
            .iter()
            .map(|m| JsonAttachment {
                url: &m.url,
                mime_type: m.published_type(),
                size_in_bytes: m.length,
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    description: &'a str,
    language: &'static str,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

/// `s` without the characters XML 1.0 cannot represent, even escaped (§2.2 `Char`): C0 controls
/// other than tab, newline and carriage return, and U+FFFE/U+FFFF. Text is cleaned at ingest, so
/// this rarely drops anything; it guards the feed, which one stray byte would make unparsable.
/// The OPML writer ([`crate::site::opml`]) guards its attributes with it too.
pub fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HOSTILE: &str = r#"<script>alert("x")</script> & ]]>"#;

    fn ict() -> FixedOffset {
        FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset")
    }

    fn channel() -> Channel {
        Channel {
            title: "bantin – Dân vận".to_owned(),
            description: "Tin về công tác dân vận".to_owned(),
            link: "https://bantin.example/".to_owned(),
            self_url: "https://bantin.example/topics/dan-van.rss".to_owned(),
            ttl_minutes: 30,
            updated: Utc.with_ymd_and_hms(2026, 8, 22, 14, 15, 0).unwrap(),
            pages: PageLinks::default(),
        }
    }

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                id: "urn:bantin:article:3f2a01".to_owned(),
                title: "Hội nghị toàn quốc về công tác dân vận năm 2026".to_owned(),
                link: Some("https://nhandan.vn/hoi-nghi-dan-van-post1.html".to_owned()),
                summary_html: Some(
                    "<p>Sáng 22/8, <b>Ban Dân vận</b> tổ chức hội nghị.</p>".to_owned(),
                ),
                content_html: Some("<p>Toàn văn bài viết về hội nghị.</p>".to_owned()),
                published: ict().with_ymd_and_hms(2026, 8, 22, 21, 15, 0).unwrap(),
                updated: None,
                authors: vec!["Nguyễn Văn Đức".to_owned()],
                categories: vec!["Dân vận".to_owned()],
                sources: vec![(
                    "Nhân Dân".to_owned(),
                    "https://nhandan.vn/rss/chinhtri.rss".to_owned(),
                )],
                media: Vec::new(),
            },
            Entry {
                id: "urn:bantin:article:3f2a02".to_owned(),
                title: HOSTILE.to_owned(),
                link: Some("https://baochinhphu.vn/bai-viet-102.htm?a=1&b=2".to_owned()),
                summary_html: Some("<p>Tóm tắt có ]]&gt; và ]]> bên trong.</p>".to_owned()),
                content_html: None,
                published: ict().with_ymd_and_hms(2026, 8, 22, 9, 0, 0).unwrap(),
                updated: None,
                authors: vec![],
                categories: vec!["Dân vận".to_owned()],
                sources: vec![(
                    "Báo Chính phủ".to_owned(),
                    "https://baochinhphu.vn/rss/home.rss".to_owned(),
                )],
                media: Vec::new(),
            },
            Entry {
                id: "urn:bantin:article:3f2a03".to_owned(),
                title: "Đẩy mạnh chuyển đổi số trong hệ thống chính trị".to_owned(),
                link: Some("https://dangcongsan.vn/chuyen-doi-so-103.html".to_owned()),
                summary_html: Some("Chuyển đổi số &amp; dân vận".to_owned()),
                content_html: Some("<p>Nội dung đầy đủ.</p>".to_owned()),
                published: ict().with_ymd_and_hms(2026, 8, 21, 7, 30, 0).unwrap(),
                updated: Some(Utc.with_ymd_and_hms(2026, 8, 21, 3, 0, 0).unwrap()),
                authors: vec!["Trần Thị Hoà".to_owned(), "Lê Minh".to_owned()],
                categories: vec!["Dân vận".to_owned(), "Chuyển đổi số".to_owned()],
                sources: vec![
                    (
                        "Đảng Cộng sản".to_owned(),
                        "https://dangcongsan.vn/rss/thoi-su.rss".to_owned(),
                    ),
                    (
                        "Nhân Dân".to_owned(),
                        "https://nhandan.vn/rss/chinhtri.rss".to_owned(),
                    ),
                ],
                media: Vec::new(),
            },
        ]
    }

    const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// Parses with feed-rs, and for XML also with the reading side of the crate that wrote it
    /// (a stricter reader of its own namespaces and elements).
    fn parse(format: Format, bytes: &[u8]) -> feed_rs::model::Feed {
        match format {
            Format::Rss => drop(rss::Channel::read_from(bytes).expect("rss reads it back")),
            Format::Atom => drop(
                atom_syndication::Feed::read_from(bytes).expect("atom_syndication reads it back"),
            ),
            Format::Json => {}
        }
        feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
            panic!(
                "{format:?} does not parse: {e}\n{}",
                String::from_utf8_lossy(bytes)
            )
        })
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("feeds are UTF-8")
    }

    /// What every format must carry through a standard parser, checked for all three.
    #[test]
    fn entries_survive_a_parser_in_every_format() {
        let entries = entries();
        for format in ALL {
            let feed = parse(format, &render(format, &channel(), &entries));
            assert_eq!(feed.entries.len(), entries.len(), "{format:?}");
            assert_eq!(
                feed.title.as_ref().map(|t| t.content.as_str()),
                Some("bantin – Dân vận"),
                "{format:?}"
            );
            if format == Format::Atom {
                // Entries without authors inherit this one (RFC 4287 §4.1.1); feed-rs keeps it on
                // the feed rather than copying it onto them.
                let authors: Vec<_> = feed
                    .authors
                    .iter()
                    .filter_map(|p| p.name.as_deref())
                    .collect();
                assert_eq!(authors, [FEED_AUTHOR]);
            }
            for (parsed, entry) in feed.entries.iter().zip(&entries) {
                assert_eq!(parsed.id, entry.id, "{format:?}");
                assert_eq!(
                    parsed.title.as_ref().map(|t| t.content.as_str()),
                    Some(entry.title.as_str()),
                    "{format:?}"
                );
                let links: Vec<&str> = parsed.links.iter().map(|l| l.href.as_str()).collect();
                assert_eq!(links, [entry.link.as_deref().unwrap()], "{format:?}");
                assert_eq!(
                    parsed.published,
                    Some(entry.published.with_timezone(&Utc)),
                    "{format:?} {}",
                    entry.id
                );
                let categories: Vec<&str> =
                    parsed.categories.iter().map(|c| c.term.as_str()).collect();
                assert_eq!(categories, entry.categories, "{format:?}");
                let authors: Vec<&str> = parsed
                    .authors
                    .iter()
                    .filter_map(|p| p.name.as_deref())
                    .collect();
                assert_eq!(authors, entry.authors, "{format:?}");
            }
        }
    }

    /// Media go out in each format's own terms, and every parser reads them back; a feed
    /// without media declares no Media RSS namespace, so its bytes are what they were.
    #[test]
    fn media_in_every_format() {
        let base = url::Url::parse("https://nhandan.vn/").unwrap();
        let at = |p: &str| Media::at(p, &base).unwrap();
        let mut entries = entries();
        entries[0].media = vec![
            at("/audio/ban-tin.mp3?a=1&b=2").sized(Some(4096)),
            at("/anh/1").image().dimensions(Some(600), Some(315)),
        ];
        let rss_bytes = render(Format::Rss, &channel(), &entries);
        let rss = text(&rss_bytes);
        assert!(
            rss.contains(r#"<enclosure url="https://nhandan.vn/audio/ban-tin.mp3?a=1&amp;b=2" length="4096" type="audio/mpeg"/>"#),
            "{rss}"
        );
        assert!(
            rss.contains(r#"<media:content height="315" medium="image" type="image/*" url="https://nhandan.vn/anh/1" width="600"></media:content>"#),
            "{rss}"
        );
        assert_eq!(rss.matches("<enclosure").count(), 1);
        assert!(rss.contains(r#"xmlns:media="http://search.yahoo.com/mrss/""#));
        let atom_bytes = render(Format::Atom, &channel(), &entries);
        let atom = text(&atom_bytes);
        assert!(
            atom.contains(r#"<link href="https://nhandan.vn/audio/ban-tin.mp3?a=1&amp;b=2" rel="enclosure" type="audio/mpeg" length="4096"/>"#),
            "{atom}"
        );
        assert!(
            atom.contains(
                r#"<link href="https://nhandan.vn/anh/1" rel="enclosure" type="image/*"/>"#
            ),
            "{atom}"
        );
        for format in ALL {
            let feed = parse(format, &render(format, &channel(), &entries));
            let first = &feed.entries[0];
            let urls: Vec<String> = first
                .media
                .iter()
                .flat_map(|m| {
                    m.content
                        .iter()
                        .filter_map(|c| Some(c.url.as_ref()?.to_string()))
                })
                .chain(
                    first
                        .links
                        .iter()
                        .filter(|l| l.rel.as_deref() != Some("alternate"))
                        .map(|l| l.href.clone()),
                )
                .collect();
            assert!(
                urls.contains(&"https://nhandan.vn/audio/ban-tin.mp3?a=1&b=2".to_string()),
                "{format:?}: {urls:?}"
            );
        }
        let json: serde_json::Value =
            serde_json::from_slice(&render(Format::Json, &channel(), &entries)).unwrap();
        assert_eq!(json["items"][0]["image"], "https://nhandan.vn/anh/1");
        assert_eq!(
            json["items"][0]["attachments"],
            serde_json::json!([
                {"url": "https://nhandan.vn/audio/ban-tin.mp3?a=1&b=2", "mime_type": "audio/mpeg", "size_in_bytes": 4096},
                {"url": "https://nhandan.vn/anh/1", "mime_type": "image/*"}
            ])
        );
        assert!(json["items"][1].get("attachments").is_none());
        let none = render(Format::Rss, &channel(), &self::entries());
        assert!(!text(&none).contains("mrss"));
    }

    #[test]
    fn empty_feed_is_valid_in_every_format() {
        for format in ALL {
            let bytes = render(format, &channel(), &[]);
            let feed = parse(format, &bytes);
            assert!(feed.entries.is_empty(), "{format:?}");
            assert_eq!(
                feed.title.map(|t| t.content),
                Some("bantin – Dân vận".to_owned()),
                "{format:?}"
            );
        }
    }

    #[test]
    fn same_input_gives_same_bytes() {
        for format in ALL {
            let first = render(format, &channel(), &entries());
            let second = render(format, &channel(), &entries());
            assert_eq!(first, second, "{format:?}");
        }
    }

    #[test]
    fn hostile_title_is_text_in_every_format() {
        for format in ALL {
            let bytes = render(format, &channel(), &entries());
            let xml = text(&bytes);
            // The XML writers escape it; JSON carries it in a string, where it is inert.
            if format != Format::Json {
                assert!(
                    !xml.contains("<script>"),
                    "{format:?}: raw markup in\n{xml}"
                );
            }
            let feed = parse(format, &bytes);
            let title = feed.entries[1].title.as_ref().map(|t| t.content.as_str());
            assert_eq!(title, Some(HOSTILE), "{format:?}");
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let mut entry = entries().remove(0);
        entry.title = "Tin\u{1}nóng\u{FFFF}\tmới".to_owned();
        for format in ALL {
            let feed = parse(format, &render(format, &channel(), &[entry.clone()]));
            let title = feed.entries[0].title.as_ref().map(|t| t.content.clone());
            let expected = match format {
                Format::Json => "Tin\u{1}nóng\u{FFFF}\tmới", // JSON escapes them instead
                Format::Rss | Format::Atom => "Tinnóng\tmới",
            };
            assert_eq!(title.as_deref(), Some(expected), "{format:?}");
        }
    }

    #[test]
    fn page_links() {
        let mut paged = channel();
        paged.self_url = "https://bantin.example/feed.rss?before=B".to_owned();
        paged.pages = PageLinks {
            first: Some("https://bantin.example/feed.rss".to_owned()),
            next: Some("https://bantin.example/feed.rss?before=C&limit=5".to_owned()),
            prev: Some("https://bantin.example/feed.rss?after=A".to_owned()),
        };
        let bytes = rss(&paged, &entries());
        let xml = text(&bytes);
        for expected in [
            r#"<atom:link href="https://bantin.example/feed.rss?before=B" rel="self" type="application/rss+xml"/>"#,
            r#"<atom:link href="https://bantin.example/feed.rss" rel="first" type="application/rss+xml"/>"#,
            r#"<atom:link href="https://bantin.example/feed.rss?after=A" rel="prev" type="application/rss+xml"/>"#,
            r#"<atom:link href="https://bantin.example/feed.rss?before=C&amp;limit=5" rel="next" type="application/rss+xml"/>"#,
        ] {
            assert!(xml.contains(expected), "missing {expected}\nin {xml}");
        }
        let bytes = atom(&paged, &entries());
        let xml = text(&bytes);
        for expected in [
            // Every page of a feed is the same Atom feed.
            "<id>https://bantin.example/feed.rss</id>",
            r#"<link href="https://bantin.example/feed.rss?before=B" rel="self" type="application/atom+xml"/>"#,
            r#"<link href="https://bantin.example/feed.rss?after=A" rel="prev" type="application/atom+xml"/>"#,
            r#"<link href="https://bantin.example/feed.rss?before=C&amp;limit=5" rel="next" type="application/atom+xml"/>"#,
        ] {
            assert!(xml.contains(expected), "missing {expected}\nin {xml}");
        }
        let json: serde_json::Value =
            serde_json::from_slice(&json_feed(&paged, &entries())).unwrap();
        assert_eq!(
            json["next_url"],
            "https://bantin.example/feed.rss?before=C&limit=5"
        );
        assert_eq!(json["feed_url"], "https://bantin.example/feed.rss?before=B");
        // A feed that is not paged says nothing of pages.
        for format in ALL {
            let bytes = render(format, &channel(), &entries());
            let body = text(&bytes);
            for absent in ["\"next", "\"first", "\"prev", "next_url"] {
                assert!(!body.contains(absent), "{format:?}: {absent} in {body}");
            }
        }
    }

    #[test]
    fn rss_markup() {
        let bytes = rss(&channel(), &entries());
        let xml = text(&bytes);
        for expected in [
            r#"<rss version="2.0""#,
            r#"xmlns:atom="http://www.w3.org/2005/Atom""#,
            r#"xmlns:content="http://purl.org/rss/1.0/modules/content/""#,
            r#"xmlns:dc="http://purl.org/dc/elements/1.1/""#,
            "<language>vi</language>",
            "<lastBuildDate>Sat, 22 Aug 2026 14:15:00 +0000</lastBuildDate>",
            "<ttl>30</ttl>",
            r#"<atom:link href="https://bantin.example/topics/dan-van.rss" rel="self" type="application/rss+xml"/>"#,
            r#"<guid isPermaLink="false">urn:bantin:article:3f2a01</guid>"#,
            "<pubDate>Sat, 22 Aug 2026 21:15:00 +0700</pubDate>",
            "<pubDate>Fri, 21 Aug 2026 07:30:00 +0700</pubDate>",
            "<content:encoded><![CDATA[<p>Toàn văn bài viết về hội nghị.</p>]]></content:encoded>",
            "<dc:creator>Nguyễn Văn Đức</dc:creator>",
            "<category>Dân vận</category><category>Chuyển đổi số</category>",
            // The first source only.
            r#"<source url="https://dangcongsan.vn/rss/thoi-su.rss">Đảng Cộng sản</source>"#,
            "<link>https://baochinhphu.vn/bai-viet-102.htm?a=1&amp;b=2</link>",
        ] {
            assert!(xml.contains(expected), "missing {expected}\nin {xml}");
        }
        assert_eq!(
            xml.matches("<content:encoded>").count(),
            2,
            "no content, no element"
        );
        assert!(!xml.contains("<author>"), "RSS <author> must be an email");

        // `]]>` inside HTML must not end the CDATA section early.
        let feed = parse(Format::Rss, &bytes);
        let summary = feed.entries[1].summary.as_ref().map(|t| t.content.as_str());
        assert_eq!(summary, Some("<p>Tóm tắt có ]]&gt; và ]]> bên trong.</p>"));
        let content = feed.entries[0]
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref());
        assert_eq!(content, Some("<p>Toàn văn bài viết về hội nghị.</p>"));
    }

    #[test]
    fn atom_markup() {
        let bytes = atom(&channel(), &entries());
        let xml = text(&bytes);
        for expected in [
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">"#,
            "<id>https://bantin.example/topics/dan-van.rss</id>",
            "<updated>2026-08-22T14:15:00+00:00</updated>",
            r#"<link href="https://bantin.example/" rel="alternate" type="text/html"/>"#,
            r#"<link href="https://bantin.example/topics/dan-van.rss" rel="self" type="application/atom+xml"/>"#,
            "<author><name>bantin</name></author>",
            r#"<category term="Chuyển đổi số" label="Chuyển đổi số"/>"#,
            "<published>2026-08-22T21:15:00+07:00</published>",
            // `updated` is the entry's own when known, else its published time.
            "<updated>2026-08-21T03:00:00+00:00</updated>",
            "<updated>2026-08-22T21:15:00+07:00</updated>",
            r#"<summary type="html">&lt;p&gt;Sáng 22/8"#,
            r#"<content type="html">&lt;p&gt;Nội dung đầy đủ.&lt;/p&gt;</content>"#,
            "<source><title>Đảng Cộng sản</title><id>https://dangcongsan.vn/rss/thoi-su.rss</id>",
            r#"<link href="https://dangcongsan.vn/rss/thoi-su.rss" rel="self"/></source>"#,
        ] {
            assert!(xml.contains(expected), "missing {expected}\nin {xml}");
        }
        assert_eq!(
            xml.matches("<content ").count(),
            2,
            "no content, no element"
        );
        assert_eq!(xml.matches("<source>").count(), 3, "the first source only");

        let feed = parse(Format::Atom, &bytes);
        let self_link = feed.links.iter().find(|l| l.rel.as_deref() == Some("self"));
        assert_eq!(
            self_link.map(|l| l.href.as_str()),
            Some("https://bantin.example/topics/dan-van.rss")
        );
        let updated = feed.entries[2].updated;
        assert_eq!(updated, entries()[2].updated);
    }

    #[test]
    fn atom_entry_without_link_has_content() {
        // RFC 4287 §4.1.2: no content requires an alternate link; with neither, we add content.
        let mut entry = entries().remove(1);
        entry.link = None;
        let bytes = atom(&channel(), &[entry]);
        let xml = text(&bytes);
        assert!(!xml.contains(r#"rel="alternate"/><published>"#), "{xml}");
        assert!(
            xml.contains(r#"<content type="html">&lt;p&gt;Tóm tắt"#),
            "{xml}"
        );
        let feed = parse(Format::Atom, &bytes);
        assert!(feed.entries[0].links.is_empty());
    }

    #[test]
    fn an_item_alone_is_the_feeds_item() {
        let entries = entries();
        let feed: serde_json::Value =
            serde_json::from_slice(&json_feed(&channel(), &entries)).unwrap();
        for (i, entry) in entries.iter().enumerate() {
            let alone: serde_json::Value = serde_json::from_slice(&json_feed_item(entry)).unwrap();
            assert_eq!(alone, feed["items"][i]);
        }
    }

    #[test]
    fn json_feed_fields() {
        let bytes = json_feed(&channel(), &entries());
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(json["home_page_url"], "https://bantin.example/");
        assert_eq!(
            json["feed_url"],
            "https://bantin.example/topics/dan-van.rss"
        );
        assert_eq!(json["description"], "Tin về công tác dân vận");
        assert_eq!(json["language"], "vi");

        let items = json["items"].as_array().expect("items");
        assert_eq!(
            items[0]["content_html"],
            "<p>Toàn văn bài viết về hội nghị.</p>"
        );
        assert_eq!(
            items[0]["summary"],
            "Sáng 22/8, Ban Dân vận tổ chức hội nghị."
        );
        assert_eq!(items[0]["date_published"], "2026-08-22T21:15:00+07:00");
        assert_eq!(
            items[0]["authors"],
            serde_json::json!([{"name": "Nguyễn Văn Đức"}])
        );
        assert!(items[0].get("date_modified").is_none());
        // No content: the summary HTML stands in, as JSON Feed requires content.
        assert_eq!(
            items[1]["content_html"],
            "<p>Tóm tắt có ]]&gt; và ]]> bên trong.</p>"
        );
        assert!(items[1].get("authors").is_none());
        assert_eq!(items[2]["summary"], "Chuyển đổi số & dân vận");
        assert_eq!(items[2]["date_modified"], "2026-08-21T03:00:00+00:00");
        assert_eq!(
            items[2]["tags"],
            serde_json::json!(["Dân vận", "Chuyển đổi số"])
        );
    }

    #[test]
    fn json_item_without_link_or_text() {
        let mut entry = entries().remove(1);
        entry.link = None;
        entry.summary_html = None;
        let bytes = json_feed(&channel(), &[entry]);
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let item = &json["items"][0];
        assert!(item.get("url").is_none());
        assert!(item.get("summary").is_none());
        assert_eq!(item["content_text"], "");
        parse(Format::Json, &bytes);
    }

    #[test]
    fn formats_and_extensions() {
        for (format, ext, content_type) in [
            (Format::Rss, "rss", "application/rss+xml; charset=utf-8"),
            (Format::Atom, "atom", "application/atom+xml; charset=utf-8"),
            (Format::Json, "json", "application/feed+json; charset=utf-8"),
        ] {
            assert_eq!(format.extension(), ext);
            assert_eq!(format.content_type(), content_type);
            assert_eq!(Format::from_extension(ext), Some(format));
        }
        for unknown in ["", "xml", "RSS", "html"] {
            assert_eq!(Format::from_extension(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn all_lists_every_format_once() {
        // A new variant fails to compile here until it has its place in `Format::ALL`.
        let place = |f: Format| match f {
            Format::Rss => 0,
            Format::Atom => 1,
            Format::Json => 2,
        };
        for (i, format) in Format::ALL.into_iter().enumerate() {
            assert_eq!(place(format), i, "{format:?}");
        }
        assert!(Format::ALL.contains(&Format::DEFAULT));
    }
}
