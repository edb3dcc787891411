//! Bytes → [`ParsedFeed`]: payload check, decoding once, feed-rs. The only place that knows
//! feed-rs; its types stay here.
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

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use url::Url;

use crate::date::{self, DateOrder};
use crate::text;

/// A feed as parsed, before normalization.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// `<ttl>` or `sy:updatePeriod`/`sy:updateFrequency`: how often the publisher says to poll.
    pub poll_hint: Option<Duration>,
    pub entries: Vec<RawEntry>,
}

/// One item as the feed carried it (text not yet cleaned, HTML not yet sanitized).
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    /// The item's own id; None when the feed gave none.
    pub guid: Option<String>,
    /// The item's link, resolved against xml:base and the feed URL.
    pub link: Option<Url>,
    pub title: Option<String>,
    /// HTML.
    pub summary: Option<String>,
    /// HTML.
    pub content: Option<String>,
    pub authors: Vec<String>,
    pub date: Option<RawDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawDate {
    pub raw: String,
    pub parsed: Option<DateTime<FixedOffset>>,
}

/// How to read a source's zone-less and numeric dates.
#[derive(Debug, Clone, Copy)]
pub struct DateContext {
    pub tz: Tz,
    pub order: DateOrder,
    pub now: DateTime<Utc>,
}

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
}

/// Parses a fetched body. `charset` is the HTTP charset; `base` resolves relative links.
pub fn parse(
    bytes: &[u8],
    charset: Option<&str>,
    base: &Url,
    dates: DateContext,
) -> Result<ParsedFeed, ParseError> {
    let decoded = text::decode(bytes, charset);
    let body = declare_utf8(&decoded.text);
    check_payload(bytes, &body)?;

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
    let feed = parser
        .parse(body.as_bytes())
        .map_err(|e| ParseError::Malformed(e.to_string()))?;
    let raw_dates = raw_dates.lock().unwrap_or_else(|p| p.into_inner());
    let date_of = |t: Option<DateTime<Utc>>| -> Option<RawDate> {
        let raw = raw_dates.get(sentinel_index(t?)?)?.clone();
        let parsed = date::parse(&raw, dates.tz, dates.order, dates.now);
        Some(RawDate { raw, parsed })
    };

    let entries = feed
        .entries
        .into_iter()
        .map(|e| {
            let entry_base = e
                .base
                .as_deref()
                .and_then(|b| base.join(b).ok())
                .unwrap_or_else(|| base.clone());
            // Only web links: a `javascript:` or `data:` link must never reach a reader.
            let link = pick_link(&e.links)
                .and_then(|href| entry_base.join(href.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            RawEntry {
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
    Ok(ParsedFeed {
        title: feed.title.map(|t| text::clean(&t.content)),
        poll_hint: feed
            .ttl
            .map(|m| Duration::from_secs(u64::from(m) * 60))
            .or_else(|| sy_update_period(&body)),
        entries,
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
    let trimmed = t.trim_start();
    if !trimmed.starts_with("<?xml") {
        return t.into();
    }
    let Some(end) = trimmed.find("?>") else {
        return t.into();
    };
    let decl = &trimmed[..end];
    let Some(pos) = decl.find("encoding") else {
        return t.into();
    };
    let after = &decl[pos..];
    let Some(q1) = after.find(['"', '\'']) else {
        return t.into();
    };
    let quote = after.as_bytes()[q1] as char;
    let Some(q2) = after[q1 + 1..].find(quote) else {
        return t.into();
    };
    let value = &after[q1 + 1..q1 + 1 + q2];
    if value.eq_ignore_ascii_case("utf-8") {
        return t.into();
    }
    let start = t.len() - trimmed.len() + pos;
    let mut out = String::with_capacity(t.len());
    out.push_str(&t[..start]);
    out.push_str("encoding=\"UTF-8\"");
    out.push_str(&t[start + q1 + 2 + q2..]);
    out.into()
}

/// Tells apart what servers put at feed URLs instead of a feed.
fn check_payload(bytes: &[u8], body: &str) -> Result<(), ParseError> {
    let head: String = body.trim_start().chars().take(4096).collect();
    if head.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let lower = head.to_lowercase();
    let first = lower
        .trim_start_matches("<?xml")
        .chars()
        .next()
        .unwrap_or(' ');
    let is_html = lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || (lower.contains("<html")
            && !["<rss", "<feed", "<rdf:rdf", "<channel"]
                .iter()
                .any(|t| lower.contains(t)));
    if is_html {
        let whole = body.to_lowercase();
        let script_cookie = whole.contains("document.cookie")
            && (whole.contains("location") || whole.contains("reload"));
        let challenge = whole.contains("challenge") && whole.contains("<script");
        if script_cookie || challenge {
            return Err(ParseError::CookieChallenge);
        }
        return Err(ParseError::Html {
            title: html_title(body),
        });
    }
    if declares_entities(body) {
        return Err(ParseError::Malformed(
            "the DOCTYPE declares entities (refused: entity expansion can blow up memory)".into(),
        ));
    }
    if first != '<' && first != '{' && !lower.starts_with('<') {
        let binary = bytes
            .iter()
            .take(512)
            .filter(|b| **b == 0 || (**b < 0x09))
            .count()
            > 0
            || body.chars().take(512).filter(|c| *c == '\u{fffd}').count() > 8;
        return Err(ParseError::NotAFeed(if binary {
            "binary data".into()
        } else {
            format!(
                "starts with {:?}",
                head.chars().take(40).collect::<String>()
            )
        }));
    }
    Ok(())
}

/// Feeds never need DTD entities; a document declaring them before its root element is an
/// entity-expansion attack or junk. (The XML reader would not expand them, but would keep
/// `&lol9;` as a title.)
fn declares_entities(body: &str) -> bool {
    let prolog_end = ["<rss", "<feed", "<rdf:RDF", "<rdf:rdf"]
        .iter()
        .filter_map(|root| body.find(root))
        .min()
        .unwrap_or(body.len().min(64 * 1024));
    body.get(..prolog_end)
        .is_some_and(|prolog| prolog.contains("<!ENTITY") || prolog.contains("<!entity"))
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let t = text::clean(body.get(open_end..close)?);
    (!t.is_empty()).then(|| t.chars().take(120).collect())
}

/// sy:updatePeriod (hourly, daily, weekly, monthly, yearly) divided by sy:updateFrequency.
fn sy_update_period(body: &str) -> Option<Duration> {
    // The first 8 KiB, cut back to a character boundary (a Tuổi Trẻ feed has a multi-byte
    // character across byte 8192).
    let mut cut = body.len().min(8192);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = body.get(..cut).unwrap_or_default();
    let tag = |name: &str| -> Option<String> {
        let open = format!("<sy:{name}>");
        let start = head.find(&open)? + open.len();
        let end = start + head[start..].find('<')?;
        Some(head[start..end].trim().to_string())
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
    use super::*;

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
    fn malformed_xml_is_an_error() {
        let err = parse(b"<rss><channel><item><title>a</titl", None, &base(), ctx()).unwrap_err();
        assert!(matches!(err, ParseError::Malformed(_)), "{err:?}");
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
    }

    #[test]
    fn sy_update_period_is_read() {
        assert_eq!(
            sy_update_period("<rss><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"),
            Some(Duration::from_secs(1800))
        );
    }
}
