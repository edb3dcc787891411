//! What an article carries besides its text: images, audio and video by URL (RSS
//! `<enclosure>`, Media RSS `media:content` and `media:thumbnail`, Atom `rel="enclosure"` links,
//! JSON Feed `image`, `banner_image` and `attachments`, an article page's `og:image`, and, when
//! an item names none of these, the first image of its description). Checked once, where the
//! kind that read them hands them over; stored with the article; published in every feed
//! format and, when `[mail] images` is on, beside each title of the HTML digest. Pure.
//!
//! Invariants of a [`Media`] list:
//!
//! - Every URL is an absolute `http`/`https` URL (resolved against the item's or the document's
//!   base when relative, parsed by `url`), at most [`MAX_URL_BYTES`] long: a `javascript:` or
//!   `data:` URL never reaches a reader or a mail client.
//! - No URL twice (a later mention fills in what the first lacked: its type, size), at most
//!   [`MAX_PER_ARTICLE`], in the order the item gave them: what the publisher put first (its
//!   enclosure) stays first, which is what RSS, allowing one enclosure, publishes.
//! - A type is a well-formed `type/subtype` (given, else guessed from the URL's extension), or
//!   none; sizes and dimensions are numbers or none.

use serde::{Deserialize, Serialize};
use url::Url;

/// Media kept per article, at most. Items with more (an outlet's gallery, a hostile feed with a
/// thousand enclosures) keep their first: the ones readers show.
pub const MAX_PER_ARTICLE: usize = 8;
/// The longest URL kept, in bytes. CDN image URLs with resizing parameters run to 300 bytes;
/// anything much longer is a data blob or a hostile feed, and would bloat every feed it is in.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest media type kept (`application/vnd.openxmlformats-officedocument…` is 73).
const MAX_TYPE_BYTES: usize = 100;
/// Width and height larger than this are not believed.
const MAX_DIMENSION: u32 = 100_000;

/// One medium of an article, checked ([`Media::at`]). Serialized whole (`bantin articles
/// --json`); stored in the shorter form of [`to_stored`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    /// Absolute `http`/`https`.
    pub url: String,
    /// `type/subtype`, lower case: as given, else guessed from the URL's extension.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Bytes, as the publisher gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub medium: Medium,
}

/// `media` as the store keeps them: a JSON array without what can be derived again (the type
/// when the URL's extension gives the same, the medium when the type gives the same); most
/// articles have one image, whose URL is then all but the whole record. None when empty.
pub fn to_stored(media: &[Media]) -> Option<String> {
    let stored: Vec<Stored> = media.iter().cloned().map(Stored::from).collect();
    // Serializing strings and numbers cannot fail.
    (!stored.is_empty()).then(|| serde_json::to_string(&stored).unwrap_or_default())
}

/// The media of a [`to_stored`] value. Only bantin writes it; a value it cannot read (none so
/// far) counts as no media, rather than making the article, and every feed it is in,
/// unreadable.
pub fn from_stored(stored: &str) -> Vec<Media> {
    serde_json::from_str::<Vec<Stored>>(stored)
        .map(|v| v.into_iter().map(Media::from).collect())
        .unwrap_or_default()
}

/// The stored form of a [`Media`]. Field names are the stored format: never rename one.
#[derive(Serialize, Deserialize)]
struct Stored {
    url: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    medium: Option<Medium>,
}

impl From<Media> for Stored {
    fn from(m: Media) -> Stored {
        let guessed = guess_type(&m.url);
        let mime_type = m.mime_type.filter(|t| Some(t.as_str()) != guessed);
        let derived = mime_type
            .as_deref()
            .or(guessed)
            .map_or(Medium::Other, Medium::of_type);
        Stored {
            medium: (m.medium != derived).then_some(m.medium),
            url: m.url,
            mime_type,
            length: m.length,
            width: m.width,
            height: m.height,
        }
    }
}

impl From<Stored> for Media {
    fn from(s: Stored) -> Media {
        let mime_type = s
            .mime_type
            .or_else(|| guess_type(&s.url).map(str::to_string));
        let derived = mime_type.as_deref().map_or(Medium::Other, Medium::of_type);
        Media {
            medium: s.medium.unwrap_or(derived),
            url: s.url,
            mime_type,
            length: s.length,
            width: s.width,
            height: s.height,
        }
    }
}

/// What kind of medium it is: from its type, else from where it was found (a thumbnail, an
/// `og:image` and an `<img>` are images).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    Image,
    Video,
    Audio,
    #[default]
    Other,
}

impl Medium {
    fn of_type(mime_type: &str) -> Medium {
        match mime_type.split_once('/').map(|(kind, _)| kind) {
            Some("image") => Medium::Image,
            Some("video") => Medium::Video,
            Some("audio") => Medium::Audio,
            _ => Medium::Other,
        }
    }
}

impl Media {
    /// `raw` resolved against `base`, when it is a web URL of at most [`MAX_URL_BYTES`]; its
    /// type guessed from its extension. None for anything else (`javascript:`, `data:`, an
    /// empty or unparsable URL, a huge one).
    pub fn at(raw: &str, base: &Url) -> Option<Media> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_URL_BYTES {
            return None;
        }
        let url = base
            .join(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())?;
        let url = String::from(url);
        if url.len() > MAX_URL_BYTES {
            return None;
        }
        let mime_type = guess_type(&url).map(str::to_string);
        let medium = mime_type.as_deref().map_or(Medium::Other, Medium::of_type);
        Some(Media {
            url,
            mime_type,
            length: None,
            width: None,
            height: None,
            medium,
        })
    }

    /// With the type the publisher gave, when it is a well-formed `type/subtype`.
    pub fn typed(mut self, mime_type: Option<&str>) -> Media {
        if let Some(t) = mime_type.and_then(checked_type) {
            self.medium = Medium::of_type(&t);
            self.mime_type = Some(t);
        }
        self
    }

    /// Known to be an image (a thumbnail, an `og:image`, an `<img>`) whatever its type says.
    pub fn image(mut self) -> Media {
        if self.medium == Medium::Other {
            self.medium = Medium::Image;
        }
        self
    }

    /// With its size in bytes, when given and not zero.
    pub fn sized(mut self, length: Option<u64>) -> Media {
        self.length = length.filter(|n| *n > 0);
        self
    }

    /// With its width and height, when given and believable.
    pub fn dimensions(mut self, width: Option<u32>, height: Option<u32>) -> Media {
        let fit = |n: Option<u32>| n.filter(|n| (1..=MAX_DIMENSION).contains(n));
        self.width = fit(width);
        self.height = fit(height);
        self
    }

    /// Fills in what `self` lacks from `other`, a mention of the same URL.
    fn fill_from(&mut self, other: Media) {
        if self.mime_type.is_none() {
            self.mime_type = other.mime_type;
        }
        if self.medium == Medium::Other {
            self.medium = other.medium;
        }
        self.length = self.length.or(other.length);
        self.width = self.width.or(other.width);
        self.height = self.height.or(other.height);
    }

    /// The type to publish: RSS `<enclosure type>` and JSON Feed `mime_type` require one.
    pub fn published_type(&self) -> &str {
        match (&self.mime_type, self.medium) {
            (Some(t), _) => t,
            // An image whose format nobody said: `image/*` is what readers need to show it.
            (None, Medium::Image) => "image/*",
            (None, _) => "application/octet-stream",
        }
    }
}

/// `found` in order, without a URL twice (later mentions fill in the first), at most
/// [`MAX_PER_ARTICLE`].
pub fn keep(found: impl IntoIterator<Item = Media>) -> Vec<Media> {
    let mut kept: Vec<Media> = Vec::new();
    for m in found {
        if let Some(k) = kept.iter_mut().find(|k| k.url == m.url) {
            k.fill_from(m);
        } else if kept.len() < MAX_PER_ARTICLE {
            kept.push(m);
        }
    }
    kept
}

/// The article's image: its first image.
pub fn image(media: &[Media]) -> Option<&Media> {
    media.iter().find(|m| m.medium == Medium::Image)
}

/// `media` with `page`'s image (`og:image`) added when it has none: the feed's own image (or
/// its description's) is what the publisher chose for readers of the feed, and the page's is
/// mostly the same picture in another size.
pub fn with_page_image(media: Vec<Media>, page: Option<Media>) -> Vec<Media> {
    match page {
        Some(page) if image(&media).is_none() => keep(media.into_iter().chain([page])),
        _ => media,
    }
}

/// The first image of sanitized HTML (what `ingest::normalize::sanitize` returns), resolved
/// against `base`: what feed readers show for the many Vietnamese feeds that put their image
/// only in the description (`<a href…><img src…></a>` in a CDATA summary). Images of at most
/// 2×2 pixels (tracking pixels) are passed over.
///
/// The sanitizer's serializer writes every attribute as `name="value"` with `&` and `"`
/// escaped, so the tag is read here without another HTML parse; a `>` inside a quoted value
/// is skipped over.
pub fn first_image_in(html: &str, base: &Url) -> Option<Media> {
    let mut rest = html;
    for _ in 0..MAX_PER_ARTICLE {
        let at = memchr::memmem::find(rest.as_bytes(), b"<img ")?;
        let tag = rest.get(at + "<img ".len()..)?;
        let (attrs, after) = attributes(tag);
        rest = after;
        let value = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| html_escape::decode_html_entities(v))
        };
        let number = |name: &str| value(name).and_then(|v| v.trim().parse::<u32>().ok());
        let (width, height) = (number("width"), number("height"));
        if width.is_some_and(|w| w <= 2) || height.is_some_and(|h| h <= 2) {
            continue;
        }
        if let Some(m) = value("src").and_then(|src| Media::at(&src, base)) {
            return Some(m.image().dimensions(width, height));
        }
    }
    None
}

/// The attributes of a tag whose name was read, as `name="value"` pairs (values still escaped),
/// and the text after the tag.
fn attributes(tag: &str) -> (Vec<(&str, &str)>, &str) {
    let mut attrs = Vec::new();
    let mut rest = tag;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return (attrs, rest);
        }
        if let Some(after) = rest.strip_prefix('>').or_else(|| rest.strip_prefix("/>")) {
            return (attrs, after);
        }
        let name_end = rest
            .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_end);
        match after.strip_prefix("=\"").and_then(|v| v.split_once('"')) {
            Some((value, after)) => {
                attrs.push((name, value));
                rest = after;
            }
            None if name.is_empty() => {
                // Not the sanitizer's form: skip a character and go on.
                let mut chars = after.chars();
                chars.next();
                rest = chars.as_str();
            }
            None => rest = after,
        }
    }
}

/// `t` as a media type to keep: `type/subtype` of token characters, lower case, parameters
/// dropped.
fn checked_type(t: &str) -> Option<String> {
    let t = t.split(';').next()?.trim();
    let (kind, sub) = t.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (t.len() <= MAX_TYPE_BYTES && token(kind) && token(sub)).then(|| t.to_ascii_lowercase())
}

/// The type of a URL by its path's extension, for the formats news sites publish.
fn guess_type(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jfif" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://bao.example.vn/rss/home.rss").unwrap()
    }

    #[test]
    fn only_web_urls_of_bounded_length_are_kept() {
        let check = |raw: &str, want: Option<&str>| {
            assert_eq!(
                Media::at(raw, &base()).map(|m| m.url),
                want.map(str::to_string),
                "{raw:?}"
            );
        };
        check("/anh/1.jpg", Some("https://bao.example.vn/anh/1.jpg"));
        check(
            " http://cdn.example.vn/a b.png ",
            Some("http://cdn.example.vn/a%20b.png"),
        );
        check("javascript:alert(1)", None);
        check("JaVaScRiPt:alert(1)", None);
        check("data:image/png;base64,iVBORw0KGgo=", None);
        check("file:///etc/passwd", None);
        check("", None);
        check("http://", None);
        let long = format!("https://cdn.example.vn/{}.jpg", "a".repeat(MAX_URL_BYTES));
        check(&long, None);
    }

    #[test]
    fn types_are_checked_or_guessed() {
        let m = |raw: &str, t: Option<&str>| {
            let m = Media::at(raw, &base()).unwrap().typed(t);
            (m.mime_type, m.medium)
        };
        let image = |t: &str| (Some(t.to_string()), Medium::Image);
        assert_eq!(m("/a.JPG?w=1200&h=0", None), image("image/jpeg"));
        assert_eq!(m("/a", Some("Image/PNG; q=1")), image("image/png"));
        assert_eq!(
            m("/a.mp3", Some("audio/mpeg")),
            (Some("audio/mpeg".into()), Medium::Audio)
        );
        // A malformed type is dropped; the guess stays.
        assert_eq!(m("/a.webp", Some("<script>")), image("image/webp"));
        assert_eq!(m("/a", Some("text")), (None, Medium::Other));
        assert_eq!(m("/a", Some(&"x/".repeat(200))), (None, Medium::Other));
        let bare = Media::at("/a", &base()).unwrap();
        assert_eq!(bare.published_type(), "application/octet-stream");
        assert_eq!(bare.image().published_type(), "image/*");
    }

    #[test]
    fn a_url_is_kept_once_and_the_list_is_capped() {
        let at = |p: &str| Media::at(p, &base()).unwrap();
        let kept = keep([
            at("/1.jpg"),
            at("/2.mp3").sized(Some(0)),
            at("/1.jpg")
                .sized(Some(1200))
                .dimensions(Some(800), Some(0)),
        ]);
        assert_eq!(kept.len(), 2);
        assert_eq!(
            (kept[0].length, kept[0].width, kept[0].height),
            (Some(1200), Some(800), None)
        );
        assert_eq!(kept[1].length, None);
        let many = keep((0..1000).map(|i| at(&format!("/{i}.jpg"))));
        assert_eq!(many.len(), MAX_PER_ARTICLE);
        assert!(many[0].url.ends_with("/0.jpg"));
    }

    #[test]
    fn the_first_image_of_a_description() {
        let check = |html: &str, want: Option<(&str, Option<u32>)>| {
            let got = first_image_in(html, &base());
            assert_eq!(
                got.as_ref().map(|m| (m.url.as_str(), m.width)),
                want,
                "{html}"
            );
            if let Some(m) = got {
                assert_eq!(m.medium, Medium::Image);
            }
        };
        check(
            r#"<a href="https://thanhnien.vn/a.htm" rel="noopener noreferrer"><img src="https://images2.thanhnien.vn/zoom/600_315/a.jpg"></a> Làn sóng"#,
            Some(("https://images2.thanhnien.vn/zoom/600_315/a.jpg", None)),
        );
        check(
            r#"<img width="130" height="100" src="/2019/02/14/a_180x108.jpg?x=1&amp;y=2">"#,
            Some((
                "https://bao.example.vn/2019/02/14/a_180x108.jpg?x=1&y=2",
                Some(130),
            )),
        );
        check(
            r#"<img alt="a > b &quot;c&quot;" src="https://cdn.example.vn/b.png">"#,
            Some(("https://cdn.example.vn/b.png", None)),
        );
        // A tracking pixel, then a relative image without a usable URL, then the real one.
        check(
            r#"<img src="https://t.example.vn/p.gif" width="1" height="1"><img src="http://"><img src="https://cdn.example.vn/c.jpg">"#,
            Some(("https://cdn.example.vn/c.jpg", None)),
        );
        check("<p>Không có ảnh</p>", None);
        check("<img", None);
        check("<img src=\"", None);
        check("<img ==\"\" =x", None);
        check(
            "<img src=\"https://cdn.example.vn/đ.jpg\"",
            Some(("https://cdn.example.vn/%C4%91.jpg", None)),
        );
    }

    #[test]
    fn a_page_image_is_added_only_to_an_article_without_one() {
        let at = |p: &str| Media::at(p, &base()).unwrap();
        let og = Some(at("/og.jpg").image());
        assert_eq!(with_page_image(vec![at("/a.jpg")], og.clone()).len(), 1);
        let audio = vec![at("/a.mp3")];
        let both = with_page_image(audio, og.clone());
        assert_eq!(
            image(&both).map(|m| m.url.as_str()),
            Some("https://bao.example.vn/og.jpg")
        );
        assert_eq!(with_page_image(Vec::new(), None), Vec::new());
    }

    /// Stored as JSON with the article: the field names are the stored format.
    #[test]
    fn the_stored_form_is_small_and_stable() {
        let m = Media::at("/a.jpg", &base())
            .unwrap()
            .sized(Some(1200))
            .dimensions(Some(600), Some(315));
        let check = |m: Media, stored: &str| {
            let json = to_stored(std::slice::from_ref(&m)).unwrap();
            assert_eq!(json, format!("[{stored}]"));
            assert_eq!(from_stored(&json), [m], "{stored}");
        };
        assert_eq!(to_stored(&[]), None);
        assert_eq!(from_stored("{\"url\": 1}"), []);
        // The type its extension gives, and the medium its type gives, are not stored.
        check(
            m,
            r#"{"url":"https://bao.example.vn/a.jpg","length":1200,"width":600,"height":315}"#,
        );
        check(
            Media::at("/a", &base()).unwrap(),
            r#"{"url":"https://bao.example.vn/a"}"#,
        );
        check(
            Media::at("/a", &base()).unwrap().image(),
            r#"{"url":"https://bao.example.vn/a","medium":"image"}"#,
        );
        check(
            Media::at("/a.jpg", &base())
                .unwrap()
                .typed(Some("image/png")),
            r#"{"url":"https://bao.example.vn/a.jpg","type":"image/png"}"#,
        );
        check(
            Media::at("/a.mp4", &base())
                .unwrap()
                .typed(Some("application/x-mpegurl"))
                .image(),
            r#"{"url":"https://bao.example.vn/a.mp4","type":"application/x-mpegurl","medium":"image"}"#,
        );
    }
}
