//! The media of a feed's items ([`crate::media`]), from what feed-rs read and what it leaves
//! out.
//!
//! feed-rs maps `<enclosure>`, `media:content` (also inside `media:group`) and
//! `media:thumbnail` to `Entry::media`, and Atom links with their `rel`. It drops two things
//! real feeds carry: a `media:thumbnail` with no `media:content` beside it (BBC's feeds, and
//! Vietnamese ones built on the same CMS templates), and an `<enclosure>` when the item also has
//! `media:content` (the Media RSS object wins the merge). JSON Feed's `image` and
//! `banner_image` it does not read at all, and `attachments` become links without a `rel`. So:
//!
//! - XML: the elements are also read from each item's own text ([`from_items`]), in document
//!   order, when the document has any (`<enclosure` or `<media:`, found by `memchr`); feed-rs's
//!   objects and Atom `rel="enclosure"` links are added after them.
//! - JSON Feed: `image`, `banner_image` and `attachments` are read from the document by serde,
//!   in that order.

use serde::Deserialize;
use url::Url;

use super::spans;
use crate::media::{self, Media};

/// The media of each of `entries` (feed-rs's, read from `text`), in entry order.
pub(super) fn of_entries(
    text: &str,
    entries: &[feed_rs::model::Entry],
    bases: &[Url],
) -> Vec<Vec<Media>> {
    let json = text.trim_start().starts_with('{');
    let mut extra: Vec<Vec<Media>> = match json {
        true => from_json(text, bases),
        false => from_items(text, entries.len(), bases),
    };
    extra.resize_with(entries.len(), Vec::new);
    entries
        .iter()
        .zip(bases)
        .zip(extra)
        .map(|((e, base), first)| media::keep(first.into_iter().chain(from_entry(e, base))))
        .collect()
}

/// What feed-rs kept of an entry's media: its media objects' contents and thumbnails, and its
/// Atom `rel="enclosure"` links.
fn from_entry(e: &feed_rs::model::Entry, base: &Url) -> Vec<Media> {
    let contents = e.media.iter().flat_map(|o| &o.content).filter_map(|c| {
        let m = Media::at(c.url.as_ref()?.as_str(), base)?;
        Some(
            m.typed(c.content_type.as_ref().map(|t| t.to_string()).as_deref())
                .sized(c.size)
                .dimensions(c.width, c.height),
        )
    });
    let thumbnails = e.media.iter().flat_map(|o| &o.thumbnails).filter_map(|t| {
        Some(
            Media::at(&t.image.uri, base)?
                .image()
                .dimensions(t.image.width, t.image.height),
        )
    });
    let enclosures = e
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .filter_map(|l| {
            Some(
                Media::at(&l.href, base)?
                    .typed(l.media_type.as_deref())
                    .sized(l.length),
            )
        });
    // Each is capped as it is read: a thousand enclosures cost no more than eight.
    contents
        .chain(thumbnails)
        .chain(enclosures)
        .take(4 * media::MAX_PER_ARTICLE)
        .collect()
}

/// `<enclosure>`, `<media:content>` and `<media:thumbnail>` read from the text of each item, in
/// document order; empty lists when the document has none of them, or when its items cannot be
/// told apart with certainty (`feed::spans`) or are not `count`.
fn from_items(text: &str, count: usize, bases: &[Url]) -> Vec<Vec<Media>> {
    let has = |needle: &[u8]| memchr::memmem::find(text.as_bytes(), needle).is_some();
    if !has(b"<enclosure") && !has(b"<media:") {
        return Vec::new();
    }
    let Some(spans) = spans::locate(text).filter(|s| s.len() == count) else {
        return Vec::new();
    };
    spans
        .into_iter()
        .zip(bases)
        .map(|(span, base)| text.get(span).map_or_else(Vec::new, |t| in_item(t, base)))
        .collect()
}

/// The media elements of one item's text.
fn in_item(item: &str, base: &Url) -> Vec<Media> {
    const TAGS: [&str; 3] = ["<enclosure", "<media:content", "<media:thumbnail"];
    let mut found = Vec::new();
    let mut rest = item;
    while found.len() < 4 * media::MAX_PER_ARTICLE {
        let Some((at, tag)) = TAGS
            .iter()
            .filter_map(|t| Some((memchr::memmem::find(rest.as_bytes(), t.as_bytes())?, *t)))
            .min_by_key(|(at, _)| *at)
        else {
            break;
        };
        let Some(after) = rest.get(at + tag.len()..) else {
            break;
        };
        rest = after;
        // `<enclosure>` but not `<enclosures>`: the name ends here.
        if !after.starts_with(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>') {
            continue;
        }
        let attr = |name: &str| attribute(after, name);
        let number = |name: &str| attr(name).and_then(|v| v.trim().parse::<u64>().ok());
        let dimension = |name: &str| number(name).and_then(|n| u32::try_from(n).ok());
        let Some(m) = attr("url").and_then(|u| Media::at(&u, base)) else {
            continue;
        };
        let m = match tag {
            "<enclosure" => m.typed(attr("type").as_deref()).sized(number("length")),
            "<media:content" => {
                let m = m
                    .typed(attr("type").as_deref())
                    .sized(number("fileSize"))
                    .dimensions(dimension("width"), dimension("height"));
                match attr("medium").as_deref() {
                    Some("image") => m.image(),
                    _ => m,
                }
            }
            _ => m
                .image()
                .dimensions(dimension("width"), dimension("height")),
        };
        found.push(m);
    }
    found
}

/// The value of attribute `name` in the start tag at the head of `tag` (after its name), XML
/// entities decoded; None when the tag has none, or does not end.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        rest = rest.trim_start();
        if rest.starts_with('>') || rest.starts_with("/>") || rest.is_empty() {
            return None;
        }
        let eq = rest.find('=')?;
        let (key, after) = rest.split_at_checked(eq)?;
        if key.contains(['>', '<']) {
            return None;
        }
        let after = after.get(1..)?.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let (value, next) = after.get(1..)?.split_once(quote)?;
        if key.trim() == name {
            return Some(html_escape::decode_html_entities(value).into_owned());
        }
        rest = next;
    }
}

/// A JSON Feed's items as far as their media go.
#[derive(Deserialize)]
struct JsonFeed {
    #[serde(default)]
    items: Vec<JsonItem>,
}

#[derive(Deserialize)]
struct JsonItem {
    image: Option<serde_json::Value>,
    banner_image: Option<serde_json::Value>,
    attachments: Option<Vec<serde_json::Value>>,
}

/// `image`, `banner_image` and `attachments` of each item of a JSON Feed; empty lists when the
/// document does not read as one. A field of the wrong shape is left out, not the item.
fn from_json(text: &str, bases: &[Url]) -> Vec<Vec<Media>> {
    let Ok(feed) = serde_json::from_str::<JsonFeed>(text) else {
        return Vec::new();
    };
    feed.items
        .into_iter()
        .zip(bases)
        .map(|(item, base)| {
            let image = |v: Option<serde_json::Value>| Some(Media::at(v?.as_str()?, base)?.image());
            let attachments = item.attachments.into_iter().flatten().filter_map(|a| {
                let m = Media::at(a.get("url")?.as_str()?, base)?;
                Some(
                    m.typed(a.get("mime_type").and_then(|t| t.as_str()))
                        .sized(a.get("size_in_bytes").and_then(|n| n.as_u64())),
                )
            });
            let found = [image(item.image), image(item.banner_image)]
                .into_iter()
                .flatten()
                .chain(attachments.take(4 * media::MAX_PER_ARTICLE));
            media::keep(found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://bao.example.vn/rss/").unwrap()
    }

    #[test]
    fn media_elements_are_read_from_an_items_text() {
        let item = r#"<item><title>a</title><enclosures/><enclosure type="image/jpeg" length="1200" url="https://i1.example.vn/a.jpg?w=1200&amp;h=0"/>
            <media:content url='/v.mp4' type="video/mp4" fileSize="99" width="640" height="360"><media:title>x</media:title></media:content>
            <media:thumbnail url="https://i1.example.vn/t.jpg" width="180" height="108" />
            <media:content medium="image" url="https://i1.example.vn/noext"/>
            <enclosure url="javascript:alert(1)" type="image/png"/><enclosure/><enclosure url="data:image/png;base64,AAAA"/>
            </item>"#;
        type Row = (String, Option<String>, Option<u64>, Option<u32>);
        let got: Vec<Row> = in_item(item, &base())
            .into_iter()
            .map(|m| (m.url, m.mime_type, m.length, m.width))
            .collect();
        let row = |u: &str, t: Option<&str>, l: Option<u64>, w: Option<u32>| {
            (u.to_string(), t.map(str::to_string), l, w)
        };
        assert_eq!(
            got,
            [
                row(
                    "https://i1.example.vn/a.jpg?w=1200&h=0",
                    Some("image/jpeg"),
                    Some(1200),
                    None
                ),
                row(
                    "https://bao.example.vn/v.mp4",
                    Some("video/mp4"),
                    Some(99),
                    Some(640)
                ),
                row(
                    "https://i1.example.vn/t.jpg",
                    Some("image/jpeg"),
                    None,
                    Some(180)
                ),
                row("https://i1.example.vn/noext", None, None, None),
            ]
        );
    }

    #[test]
    fn attributes_are_read_from_the_start_tag_only() {
        assert_eq!(
            attribute(r#" a="1" url='x&amp;y'/>"#, "url"),
            Some("x&y".into())
        );
        assert_eq!(attribute(r#" a="1"/><b url="x"/>"#, "url"), None);
        assert_eq!(attribute(r#" url="x"#, "url"), None);
        assert_eq!(attribute(r#" url=x>"#, "url"), None);
        assert_eq!(attribute(" ", "url"), None);
    }

    #[test]
    fn json_feed_images_and_attachments() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
            {"id":"1","image":"/a.png","banner_image":"https://cdn.example.vn/b.jpg",
             "attachments":[{"url":"https://cdn.example.vn/p.mp3","mime_type":"audio/mpeg","size_in_bytes":5},
                            {"url":"javascript:x","mime_type":"image/png"},{"mime_type":"x/y"}, 7]},
            {"id":"2","image":42}]}"#;
        let got = from_json(doc, &[base(), base()]);
        let urls: Vec<Vec<&str>> = got
            .iter()
            .map(|m| m.iter().map(|m| m.url.as_str()).collect())
            .collect();
        assert_eq!(
            urls,
            [
                vec![
                    "https://bao.example.vn/a.png",
                    "https://cdn.example.vn/b.jpg",
                    "https://cdn.example.vn/p.mp3"
                ],
                vec![]
            ]
        );
        assert_eq!(got[0][2].length, Some(5));
        assert!(from_json("{", &[base()]).is_empty());
    }
}
