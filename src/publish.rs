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

/// The feed language, for every format: all our sources publish in Vietnamese.
const LANGUAGE: &str = "vi";
/// Generator name for RSS `<generator>` and Atom `<generator>`, and the Atom feed-level author.
const GENERATOR: &str = "bantin";
/// Atom requires an author on every entry or on the feed (RFC 4287 §4.1.1): entries without one
/// inherit this. Always written, so the feed stays valid whichever entries it holds.
const FEED_AUTHOR: &str = "bantin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
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
        match ext {
            "rss" => Some(Format::Rss),
            "atom" => Some(Format::Atom),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The media type without parameters, as RSS `atom:link type` and Atom `link type` want it.
    fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
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
    /// Minutes; RSS <ttl>.
    pub ttl_minutes: u32,
    /// Newest item time, or "now" supplied by the caller when there are no items (never read the
    /// clock here).
    pub updated: DateTime<Utc>,
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
    /// Topic names (RSS <category>, Atom category term+label, JSON tags).
    pub categories: Vec<String>,
    /// Every source that carried it (a syndicated story appears once with all its sources): name +
    /// the source's feed URL. The first is used for RSS <source url="…">name</source> and Atom
    /// <source> (title + link + id).
    pub sources: Vec<(String, String)>,
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
            if !entry.authors.is_empty() {
                let mut dc = DublinCoreExtension::default();
                dc.set_creators(entry.authors.iter().map(|a| xml_text(a)).collect::<Vec<_>>());
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
    let mut atom_ext = AtomExtension::default();
    atom_ext.set_links(vec![self_link]);
    feed.set_atom_ext(atom_ext);
    feed.set_items(items);

    // Writing to a Vec<u8> cannot fail: the only errors the writer returns are I/O errors from
    // the sink, and Vec's `Write` impl never returns one.
    feed.write_to(Vec::new())
        .expect("writing XML to a Vec<u8> cannot fail")
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
                .collect();
            out.summary = entry.summary_html.as_deref().map(|s| Text::html(xml_text(s)));
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

    let feed = atom_syndication::Feed {
        id: xml_text(&channel.self_url),
        title: Text::plain(xml_text(&channel.title)),
        subtitle: Some(Text::plain(xml_text(&channel.description))),
        updated: channel.updated.fixed_offset(),
        links: vec![
            link(&channel.link, "alternate", Some("text/html")),
            link(&channel.self_url, "self", Some(Format::Atom.media_type())),
        ],
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
        description: &channel.description,
        language: LANGUAGE,
        items: entries.iter().map(json_item).collect(),
    };
    // Serializing cannot fail: every map key is a struct field name and every value a string,
    // number or sequence of them; Vec's `Write` impl never returns an error.
    serde_json::to_vec(&feed).expect("serializing a JSON feed to a Vec<u8> cannot fail")
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
    }
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
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
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

/// `s` without the characters XML 1.0 cannot represent, even escaped (§2.2 `Char`): C0 controls
/// other than tab, newline and carriage return, and U+FFFE/U+FFFF. Text is cleaned at ingest, so
/// this rarely drops anything; it guards the feed, which one stray byte would make unparsable.
fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}'))
        .collect()
}
