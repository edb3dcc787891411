//! The feed kind: bytes of an RSS, Atom or JSON Feed document → [`Listing`]. Payload check,
//! decoding once, old dialects rewritten, broken feeds repaired, feed-rs. The only place that
//! knows feed-rs; its types stay here.
//!
//! Before parsing, the payload is checked: government sites answer feed URLs with HTML pages,
//! JavaScript cookie challenges (status 200) and empty bodies, and each gets its own readable
//! error instead of an XML parser's complaint.
//!
//! Dates: feed-rs accepts one timestamp hook returning UTC, which would lose both the raw string
//! and the publisher's offset. Our hook therefore records every raw date string and returns a
//! sentinel instant far before year 0 that encodes the string's index; after parsing, each
//! sentinel is swapped for the raw string and parsed by `date::parse` with the source's zone and
//! day/month order. So every date goes through our lenient parser exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use url::Url;

use super::entry::{DateContext, Listing, RawDate, RawEntry};
use super::sniff::{self, Payload};
use crate::date;
use crate::text;

pub mod cap;
mod dialect;
mod media;
mod repair;
mod spans;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty body")]
    Empty,
    #[error("HTML page instead of a feed{}", title.as_ref().map(|t| format!(" (page title: {t:?})")).unwrap_or_default())]
    Html { title: Option<String> },
    #[error("JavaScript cookie challenge page instead of a feed (the site wants a browser)")]
    CookieChallenge,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    Malformed(String),
    #[error("no items: {0}")]
    NoItems(String),
}

/// Parses a fetched body. `charset` is the HTTP charset; `base` resolves relative links.
///
/// Old dialects are rewritten first (`feed::dialect`). When the strict parse fails, or reads no
/// item from a document that has some, the known breakage is repaired (`feed::repair`) and the
/// document parsed again; [`Listing::repairs`] says what was repaired. A document that still
/// yields no item is an error naming why, unless it is a valid feed with no items.
///
/// What is past the caps ([`cap`]: items per document, the length of a title, a summary, a
/// body) is left out, and the cut is listed with the repairs.
pub fn parse(
    bytes: &[u8],
    charset: Option<&str>,
    base: &Url,
    dates: DateContext,
) -> Result<Listing, ParseError> {
    let decoded = text::decode(bytes, charset);
    let body = declare_utf8(&decoded.text);
    check_payload(bytes, &body)?;
    let (body, cut_items) = match cap::keep_first_items(&body, item_elements(&body)) {
        Some((kept, items)) => (kept.into(), Some(items)),
        None => (body, None),
    };

    let strict = read(&body, base, dates);
    let items = item_elements(&body);
    let needs_repair = match &strict {
        Ok(f) => f.entries.is_empty() && items > 0,
        Err(_) => true,
    };
    let mut feed = match (needs_repair, strict) {
        (false, strict) => strict?,
        (true, strict) => match repair::repair(&body) {
            Some((fixed, what)) => match (read(&fixed, base, dates), strict) {
                (Ok(mut f), Err(_)) => {
                    f.repairs
                        .extend(what.iter().map(|r| r.describe().to_string()));
                    f
                }
                (Ok(mut f), Ok(_)) if !f.entries.is_empty() => {
                    f.repairs
                        .extend(what.iter().map(|r| r.describe().to_string()));
                    f
                }
                (_, strict) => strict?,
            },
            None => strict?,
        },
    };
    let cut = repair::Repair::UnfinishedItem.describe();
    if feed.entries.is_empty() && feed.repairs.iter().any(|r| r == cut) {
        return Err(ParseError::NoItems(
            "the document is cut off inside its first item".into(),
        ));
    }
    if feed.entries.is_empty() && items > 0 {
        return Err(ParseError::NoItems(format!(
            "the document has {items} <item> or <entry> elements but none where its {} has them",
            sniff::root_name(&body).map_or("root".to_string(), |r| format!("<{r}>"))
        )));
    }
    if feed.poll_hint.is_none() {
        feed.poll_hint = sy_update_period(&body);
    }
    feed.verbatim &= !needs_repair && cut_items.is_none() && feed.repairs.is_empty();
    feed.repairs.extend(cut_items.map(cap::items_note));
    Ok(feed)
}

/// A feed document cut at its items, read without reading them: what recognizing a re-poll
/// by its items' bytes needs ([`crate::ingest::recall`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Items {
    /// Per item, in document order: SHA-256 of `context`, the document outside its items and
    /// the item's bytes. Equal hashes: the same item bytes in the same surroundings.
    pub hashes: Vec<[u8; 32]>,
    /// The poll hint [`parse`] reads, from the document outside its items.
    pub poll_hint: Option<Duration>,
}

/// The items of `bytes` located and hashed with `context` (what else, outside the document,
/// reading and identifying its items depends on). None where the shortcut is unsure, so that
/// the caller parses: a body not plain UTF-8 (a BOM, another encoding, bytes that do not
/// decode), a payload that is no feed, no items or more item tags than [`cap::MAX_ITEMS`], a
/// scan that is unsure (`feed::spans`), anything but white space between two items, or a document
/// outside its items that feed-rs does not read.
///
/// Every step [`parse`] takes before feed-rs is taken here on the same text, and feed-rs reads
/// the document outside its items, as a document of its own, for the poll hint.
pub fn items(bytes: &[u8], base: &Url, dates: DateContext, context: &[u8]) -> Option<Items> {
    use sha2::{Digest, Sha256};
    if encoding_rs::Encoding::for_bom(bytes).is_some() {
        return None;
    }
    let body = declare_utf8(std::str::from_utf8(bytes).ok()?);
    check_payload(bytes, &body).ok()?;
    let spans = spans::locate(&body)?;
    let (first, last) = (spans.first()?, spans.last()?);
    if spans.len() > cap::MAX_ITEMS || over_item_cap(&body) {
        return None;
    }
    let between_items = spans.windows(2).all(|w| {
        body.get(w[0].end..w[1].start)
            .is_some_and(|gap| gap.trim().is_empty())
    });
    if !between_items {
        return None;
    }
    let (head, tail) = (body.get(..first.start)?, body.get(last.end..)?);
    let mut outside = Sha256::new();
    for part in [
        context,
        without_feed_dates(head).as_bytes(),
        tail.as_bytes(),
    ] {
        outside.update((part.len() as u64).to_le_bytes());
        outside.update(part);
    }
    let hashes = spans
        .iter()
        .map(|span| {
            let item = body.get(span.clone()).unwrap_or_default();
            outside
                .clone()
                .chain_update(item.as_bytes())
                .finalize()
                .into()
        })
        .collect();
    let header = read_as_is(&format!("{head}{tail}"), Vec::new(), base, dates).ok()?;
    Some(Items {
        hashes,
        poll_hint: header.poll_hint.or_else(|| sy_update_period(&body)),
    })
}

/// The document before its items without the feed's own dates (`<pubDate>`, `<lastBuildDate>`,
/// Atom's `<updated>`), which many feeds move at every request or every new article: reading an
/// item never looks at them (feed-rs keeps them on the feed, and an item's date is its own), so
/// an item in surroundings that differ only there reads to the same. Only an element of plain
/// text is left out (no attribute, no markup inside), so nothing that could change how the rest
/// parses is.
fn without_feed_dates(head: &str) -> std::borrow::Cow<'_, str> {
    const DATES: [(&str, &str); 3] = [
        ("<pubDate>", "</pubDate>"),
        ("<lastBuildDate>", "</lastBuildDate>"),
        ("<updated>", "</updated>"),
    ];
    if !DATES.iter().any(|(open, _)| head.contains(open)) {
        return std::borrow::Cow::Borrowed(head);
    }
    let mut out = String::with_capacity(head.len());
    let mut rest = head;
    loop {
        let next = DATES
            .iter()
            .filter_map(|&(open, close)| Some((rest.find(open)?, open, close)))
            .min_by_key(|(at, _, _)| *at);
        let Some((before, from, open, close)) = next.and_then(|(at, open, close)| {
            let (before, from) = rest.split_at_checked(at)?;
            Some((before, from.strip_prefix(open)?, open, close))
        }) else {
            break;
        };
        out.push_str(before);
        match from.split_once(close) {
            Some((text, after)) if !text.contains('<') => rest = after,
            _ => {
                out.push_str(open);
                rest = from;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// One strict read: dialects rewritten, then feed-rs.
fn read(text: &str, base: &Url, dates: DateContext) -> Result<Listing, ParseError> {
    match dialect::rewrite(text) {
        // Should a rewrite ever break what feed-rs read before, the original is read instead.
        dialect::Check::Rewritten(r) => read_as_is(&r.text, r.repairs, base, dates)
            .or_else(|_| read_as_is(text, Vec::new(), base, dates)),
        dialect::Check::Unparsed => read_as_is(text, Vec::new(), base, dates),
        dialect::Check::Plain => read_as_is(text, Vec::new(), base, dates).map(|mut f| {
            f.verbatim = f.repairs.is_empty();
            f
        }),
    }
}

/// feed-rs on `text` as it is.
fn read_as_is(
    text: &str,
    repairs: Vec<String>,
    base: &Url,
    dates: DateContext,
) -> Result<Listing, ParseError> {
    let raw_dates: Arc<Mutex<Vec<String>>> = Arc::default();
    let hook_dates = raw_dates.clone();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .sanitize_content(false)
        // An empty id marks "the feed gave none"; feed-rs would otherwise invent one.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |s: &str| {
            let mut v = hook_dates.lock().unwrap_or_else(|p| p.into_inner());
            v.push(s.to_string());
            sentinel(v.len() - 1)
        })
        .build();
    // quick-xml, under feed-rs, panics on some broken XML declarations ("set_encoding() called
    // after prefix buffer was drained": an unclosed declaration, then another; found by fuzzing,
    // tests/fuzz/feed/). A failure of the parser is this document's error, not the poll's panic.
    let parsed = crate::guard::catch(|| parser.parse(text.as_bytes())).map_err(|panic| {
        ParseError::Malformed(format!("the XML reader failed ({})", panic.message()))
    })?;
    let feed = parsed.map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ) => ParseError::NoItems(match sniff::root_name(text) {
            Some("rss") => "<rss> without <channel>".to_string(),
            Some(root) => format!("the document's root is <{root}>, not a feed's"),
            None => "no root element".to_string(),
        }),
        e => ParseError::Malformed(e.to_string()),
    })?;
    let raw_dates = raw_dates.lock().unwrap_or_else(|p| p.into_inner());
    let date_of = |t: Option<DateTime<Utc>>| -> Option<RawDate> {
        let raw = raw_dates.get(sentinel_index(t?)?)?.clone();
        let parsed = date::parse(&raw, dates.tz, dates.order, dates.now);
        Some(RawDate { raw, parsed })
    };

    // A JSON Feed's items are not cut in the text: the cap applies once they are read.
    let items = feed.entries.len();
    let bases: Vec<Url> = feed
        .entries
        .iter()
        .take(cap::MAX_ITEMS)
        .map(|e| {
            e.base
                .as_deref()
                .and_then(|b| base.join(b).ok())
                .unwrap_or_else(|| base.clone())
        })
        .collect();
    let media = media::of_entries(text, &feed.entries, &bases);
    let mut entries: Vec<RawEntry> = feed
        .entries
        .into_iter()
        .zip(bases)
        .zip(media)
        .map(|((e, entry_base), media)| {
            // Only web links: a `javascript:` or `data:` link must never reach a reader.
            let link = pick_link(&e.links)
                .and_then(|href| entry_base.join(href.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            RawEntry {
                media,
                guid: Some(e.id.trim().to_string()).filter(|s| !s.is_empty()),
                link,
                title: e.title.map(|t| t.content),
                summary: e.summary.map(|t| t.content),
                content: e.content.and_then(|c| c.body),
                authors: e.authors.into_iter().filter_map(|p| p.name).collect(),
                date: date_of(e.published).or_else(|| date_of(e.updated)),
            }
        })
        .collect();
    let mut repairs = repairs;
    if items > cap::MAX_ITEMS {
        repairs.push(cap::items_note(items));
    }
    repairs.extend(cap::cut_texts(&mut entries));
    Ok(Listing {
        title: feed.title.map(|t| text::clean(&t.content)),
        poll_hint: feed.ttl.map(|m| Duration::from_secs(u64::from(m) * 60)),
        entries,
        repairs,
        verbatim: false,
    })
}

/// The item's page: an `alternate` (or rel-less) link, else the first.
fn pick_link(links: &[feed_rs::model::Link]) -> Option<&str> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(links.first())
        .map(|l| l.href.as_str())
        .filter(|h| !h.trim().is_empty())
}

const SENTINEL_BASE: i64 = -100_000_000_000; // about 1200 BC: no real date gets there

fn sentinel(index: usize) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(SENTINEL_BASE + index as i64, 0).single()
}

fn sentinel_index(t: DateTime<Utc>) -> Option<usize> {
    (t.year() < 0).then(|| usize::try_from(t.timestamp() - SENTINEL_BASE).ok())?
}

/// The text is UTF-8 now; an XML declaration naming another encoding would make the XML
/// reader decode it a second time.
fn declare_utf8(text: &str) -> std::borrow::Cow<'_, str> {
    let t = text.trim_start_matches('\u{feff}');
    rewrite_encoding(t).map_or(t.into(), Into::into)
}

/// `t` with the XML declaration's encoding replaced by UTF-8; None when there is nothing to
/// replace. Every offset comes from `find` on ASCII needles, so each is a char boundary.
fn rewrite_encoding(t: &str) -> Option<String> {
    let lead = t.len() - t.trim_start().len();
    if !t.get(lead..)?.starts_with("<?xml") {
        return None;
    }
    let decl_start = lead;
    let decl_end = decl_start + t.get(decl_start..)?.find("?>")?;
    let decl = t.get(decl_start..decl_end)?;
    let key = decl_start + decl.find("encoding")?;
    let after = t.get(key..decl_end)?;
    let q1 = after.find(['"', '\''])?;
    let quote = if after.get(q1..)?.starts_with('"') {
        '"'
    } else {
        '\''
    };
    let value_start = key + q1 + 1;
    let value_end = value_start + t.get(value_start..decl_end)?.find(quote)?;
    let value = t.get(value_start..value_end)?;
    if value.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    Some(format!(
        "{}encoding=\"UTF-8\"{}",
        t.get(..key)?,
        t.get(value_end + 1..)?
    ))
}

/// Tells apart what servers put at feed URLs instead of a feed ([`sniff`]).
fn check_payload(bytes: &[u8], body: &str) -> Result<(), ParseError> {
    let payload = sniff::sniff(bytes, body);
    match payload {
        Payload::Empty => return Err(ParseError::Empty),
        Payload::Html if sniff::is_cookie_challenge(body) => {
            return Err(ParseError::CookieChallenge)
        }
        Payload::Html => {
            return Err(ParseError::Html {
                title: sniff::title_for_error(body),
            })
        }
        Payload::Feed | Payload::Markup | Payload::Binary | Payload::Text => {}
    }
    if sniff::declares_entities(body) {
        return Err(ParseError::Malformed(
            "the DOCTYPE declares entities (refused: entity expansion can blow up memory)".into(),
        ));
    }
    match payload {
        Payload::Binary => Err(ParseError::NotAFeed("binary data".into())),
        Payload::Text => {
            let head: String = body.trim_start().chars().take(40).collect();
            Err(ParseError::NotAFeed(format!("starts with {head:?}")))
        }
        _ => Ok(()),
    }
}

/// How many `<item>` and `<entry>` elements (any prefix) the text has: a document with some
/// that yields no item was misread, not empty.
fn item_elements(text: &str) -> usize {
    static ITEM: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]").ok()
    });
    ITEM.as_ref().map_or(0, |re| re.find_iter(text).count())
}

/// Whether [`parse`] cuts `text` ([`cap::keep_first_items`]: more than [`cap::MAX_ITEMS`]
/// [`item_elements`]). Each of those holds its own `item` or `entry`, and neither word can
/// overlap itself, so a text with no more of them than the cap is not cut: counted with
/// `memchr`, that spares a megabyte feed the regex.
fn over_item_cap(text: &str) -> bool {
    let words = |w: &[u8]| memchr::memmem::find_iter(text.as_bytes(), w).count();
    words(b"item") + words(b"entry") > cap::MAX_ITEMS && item_elements(text) > cap::MAX_ITEMS
}

/// sy:updatePeriod (hourly, daily, weekly, monthly, yearly) divided by sy:updateFrequency.
fn sy_update_period(body: &str) -> Option<Duration> {
    // Only the channel's head is searched. Cut at a char boundary: real Tuổi Trẻ and Tiền Phong
    // feeds have a multi-byte character across byte 8192.
    let cut = (0..=body.len().min(8192))
        .rev()
        .find(|i| body.is_char_boundary(*i))
        .unwrap_or(0);
    let head = body.get(..cut)?;
    let tag = |name: &str| -> Option<String> {
        let open = format!("<sy:{name}>");
        let (_, after) = head.split_once(&open)?;
        let (value, _) = after.split_once('<')?;
        Some(value.trim().to_string())
    };
    let period = match tag("updatePeriod")?.as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let freq: u64 = tag("updateFrequency")
        .and_then(|f| f.parse().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(period / freq))
}

#[cfg(test)]
mod tests {
    /// The feed's own dates are left out of what surrounds its items; anything that could
    /// change how the rest parses stays.
    #[test]
    fn the_feeds_own_dates_are_not_part_of_the_surroundings() {
        let cases = [
            ("<channel><title>T</title>", "<channel><title>T</title>"),
            (
                "<channel><pubDate>Mon, 07 Dec 2026 08:00:00 +0700</pubDate><ttl>5</ttl>",
                "<channel><ttl>5</ttl>",
            ),
            (
                "<lastBuildDate>x</lastBuildDate><pubDate>y</pubDate><updated>z</updated>|",
                "|",
            ),
            // Markup inside, an attribute, or no end: kept as it is.
            (
                "<pubDate><![CDATA[x]]></pubDate>",
                "<pubDate><![CDATA[x]]></pubDate>",
            ),
            (
                "<pubDate a=\"1\">x</pubDate>",
                "<pubDate a=\"1\">x</pubDate>",
            ),
            ("<pubDate>x", "<pubDate>x"),
            (
                "<updated>x<link/></updated><pubDate>ngày 7</pubDate>",
                "<updated>x<link/></updated>",
            ),
            ("đ<pubDate>ạ</pubDate>ố", "đố"),
        ];
        for (head, want) in cases {
            assert_eq!(without_feed_dates(head), want, "{head}");
        }
    }

    use super::*;
    use crate::date::DateOrder;

    fn ctx() -> DateContext {
        DateContext {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            order: DateOrder::Dmy,
            now: Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(),
        }
    }

    fn base() -> Url {
        Url::parse("https://example.vn/rss/home.rss").unwrap()
    }

    #[test]
    fn payload_errors_are_specific() {
        let check = |body: &str, expected: ParseError| {
            assert_eq!(
                parse(body.as_bytes(), None, &base(), ctx()).unwrap_err(),
                expected,
                "{body:?}"
            );
        };
        check("", ParseError::Empty);
        check("  \n ", ParseError::Empty);
        check(
            "<!DOCTYPE html><html><head><title>Trang chủ</title></head><body></body></html>",
            ParseError::Html {
                title: Some("Trang chủ".into()),
            },
        );
        check(
            "<html><body><script>document.cookie='a=b';location.reload();</script></body></html>",
            ParseError::CookieChallenge,
        );
        check(
            "Hello",
            ParseError::NotAFeed("starts with \"Hello\"".into()),
        );
    }

    #[test]
    fn a_parser_panic_is_the_documents_error() {
        let body =
            b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"windows-1258\"T>s58\"T\xad_-<?xml ar";
        // Repaired, the document makes the parser panic; that read names the panic, and the
        // document is an error like any other broken one.
        let decoded = text::decode(body, None);
        let text = declare_utf8(&decoded.text);
        let (repaired, _) = repair::repair(&text).unwrap();
        let strict = read_as_is(&repaired, Vec::new(), &base(), ctx()).unwrap_err();
        assert!(
            matches!(&strict, ParseError::Malformed(m) if m.starts_with("the XML reader failed (set_encoding()")),
            "{strict:?}"
        );
        assert_eq!(
            parse(body, None, &base(), ctx()).unwrap_err(),
            ParseError::NoItems("no root element".into())
        );
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let err = parse(
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>a</title><content src=\"/a\" type=\"text/html\">b</content></entry></feed>",
            None,
            &base(),
            ctx(),
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn repaired_feeds_say_what_was_repaired() {
        let check = |body: &str, titles: &[&str], repairs: &[&str]| {
            let f = parse(body.as_bytes(), None, &base(), ctx())
                .unwrap_or_else(|e| panic!("{body}: {e}"));
            let got: Vec<&str> = f
                .entries
                .iter()
                .filter_map(|e| e.title.as_deref())
                .collect();
            let repaired: Vec<&str> = f.repairs.iter().map(String::as_str).collect();
            assert_eq!(
                (got.as_slice(), repaired.as_slice()),
                (titles, repairs),
                "{body}"
            );
        };
        check(
            "<rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>",
            &["a"],
            &[],
        );
        check(
            "<rss version=\"2.0\"><channel><item><title>a</title></item><item><title>b</titl",
            &["a"],
            &["truncated tail closed", "unfinished last item dropped"],
        );
        check(
            "<rss version=\"2.0\"><channel><item><title>Q&A&nbsp;x</title><link>https://a.vn/?a=1&b=2</link></item></channel></rss>",
            &["Q&A\u{a0}x"],
            &["bare \"&\" escaped", "HTML entities made character references"],
        );
        check(
            "<rss><channel><item><title>a</title></item></channel></rss>",
            &["a"],
            &["rss version missing (read as 2.0)"],
        );
    }

    #[test]
    fn no_items_is_an_error_naming_why() {
        let check = |body: &str, why: &str| {
            assert_eq!(
                parse(body.as_bytes(), None, &base(), ctx()).unwrap_err(),
                ParseError::NoItems(why.to_string()),
                "{body}"
            );
        };
        check(
            "<?xml version=\"1.0\"?><!-- c --><foo><bar/></foo>",
            "the document's root is <foo>, not a feed's",
        );
        check("<rss version=\"2.0\"/>", "<rss> without <channel>");
        check(
            "<rss version=\"2.0\"><channel><title>t</title><item><title><![CD",
            "the document is cut off inside its first item",
        );
        check(
            "<rss version=\"2.0\"><channel><title>t</title></channel><item><title>a</title></item></rss>",
            "the document has 1 <item> or <entry> elements but none where its <rss> has them",
        );
        // A valid feed with no items is no error.
        let f = parse(
            b"<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
            None,
            &base(),
            ctx(),
        )
        .unwrap();
        assert!(f.entries.is_empty() && f.repairs.is_empty());
    }

    #[test]
    fn dates_keep_raw_and_offset() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><ttl>30</ttl>
<item><title>a</title><link>/a-1.html</link><pubDate>Fri, 21 Aug 2026 23:19:06 +07:00</pubDate></item>
<item><title>b</title><link>https://example.vn/b</link><pubDate>không rõ</pubDate></item>
</channel></rss>"#;
        let f = parse(body.as_bytes(), None, &base(), ctx()).unwrap();
        assert_eq!(f.poll_hint, Some(Duration::from_secs(1800)));
        let a = &f.entries[0];
        assert_eq!(
            a.link.as_ref().unwrap().as_str(),
            "https://example.vn/a-1.html"
        );
        assert_eq!(a.guid, None);
        let d = a.date.as_ref().unwrap();
        assert_eq!(d.parsed.unwrap().to_rfc3339(), "2026-08-21T23:19:06+07:00");
        let b = f.entries[1].date.as_ref().unwrap();
        assert_eq!((b.raw.as_str(), b.parsed), ("không rõ", None));
    }

    #[test]
    fn xml_declaration_is_rewritten_after_decoding() {
        assert_eq!(
            declare_utf8("<?xml version=\"1.0\" encoding=\"windows-1258\"?><rss/>"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>"
        );
        assert_eq!(declare_utf8("<rss/>"), "<rss/>");
        assert_eq!(
            declare_utf8("\u{feff} <?xml version='1.0' encoding='TCVN3'?><rss/>"),
            " <?xml version='1.0' encoding=\"UTF-8\"?><rss/>"
        );
        // Unterminated or odd declarations are left alone, whatever their bytes.
        for odd in [
            "<?xml version=\"1.0\" encoding=\"utf-8",
            "<?xml encoding=\"ổ?>",
            "<?xml encodingổ?><rss/>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        ] {
            assert_eq!(declare_utf8(odd), odd);
        }
    }

    /// A multi-byte character across byte 8192 (where the channel head is cut), as in real Tuổi
    /// Trẻ and Tiền Phong feeds, once panicked.
    #[test]
    fn multibyte_character_across_the_head_cut() {
        let start = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Tuổi Trẻ</title><description>";
        let mut body = start.to_string();
        body.push_str(&"a".repeat(8191 - body.len()));
        body.push_str("ổ</description><sy:updatePeriod>hourly</sy:updatePeriod>");
        assert!(!body.is_char_boundary(8192));
        body.push_str(
            "<item><title>Tin</title><link>https://tuoitre.vn/a.htm</link></item></channel></rss>",
        );
        let f = parse(body.as_bytes(), None, &base(), ctx()).unwrap();
        assert_eq!(f.entries.len(), 1);
        // The hint is past the cut: not read, and nothing panics.
        assert_eq!(f.poll_hint, None);
    }

    #[test]
    fn the_item_cap_is_told_as_parse_tells_it() {
        let over = cap::MAX_ITEMS + 1;
        let items = format!("<rss><channel>{}</channel></rss>", "<item/>".repeat(over));
        assert!(over_item_cap(&items));
        assert!(!over_item_cap(&items.replacen("<item/>", "", 1)));
        let words = format!(
            "<rss><channel><title>{}</title></channel></rss>",
            "item entry ".repeat(over)
        );
        assert!(!over_item_cap(&words));
    }

    #[test]
    fn sy_update_period_is_read() {
        assert_eq!(
            sy_update_period("<rss><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"),
            Some(Duration::from_secs(1800))
        );
    }
}
