//! What a fetched body is, told from its text before any parser sees it: empty, a feed, an
//! HTML page (perhaps a JavaScript cookie challenge), binary data or stray text; its root
//! element; the page's title. Every source kind and `bantin discover` ask here, so a body is
//! judged by the same rules wherever it arrives.
//!
//! Pure and lexical: no parser, linear time, never panics. Every offset comes from `find` on
//! ASCII needles in text whose ASCII letters alone were lowercased, so each is a char boundary
//! of the original text too.

use crate::text;

/// Longest page title quoted in an error message.
pub const TITLE_IN_ERROR: usize = 120;

/// How far into the body the HTML markers are looked for.
const HEAD_CHARS: usize = 4096;

/// What a body is, judged from its text (decoded, byte order mark removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Nothing but whitespace.
    Empty,
    /// An XML document whose root is `rss`, `feed` or `rdf:RDF`, or a JSON Feed (naming its
    /// `jsonfeed.org/version` near the start).
    Feed,
    /// An HTML page: it starts with `<!DOCTYPE html>` or `<html>`, or its root is `html`, or
    /// it has an `<html` tag near the start and no feed element there.
    Html,
    /// Other markup or JSON: perhaps a feed a parser can still read, perhaps not.
    Markup,
    /// Neither markup nor JSON, and it has NUL or low control bytes or many undecodable
    /// characters near the start.
    Binary,
    /// Neither markup nor JSON: text of some other kind.
    Text,
}

/// Judges `text`, the decoded form of `bytes`. Order: empty, a feed root, HTML, markup, then
/// binary or text.
pub fn sniff(bytes: &[u8], text: &str) -> Payload {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.is_empty() {
        return Payload::Empty;
    }
    if is_feed(body) {
        return Payload::Feed;
    }
    let head: String = body.chars().take(HEAD_CHARS).collect();
    let lower = head.to_lowercase();
    let html = lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || root(body).is_some_and(|r| r.eq_ignore_ascii_case("html"))
        || (lower.contains("<html")
            && !["<rss", "<feed", "<rdf:rdf", "<channel"]
                .iter()
                .any(|t| lower.contains(t)));
    if html {
        return Payload::Html;
    }
    if body.starts_with('<') || body.starts_with('{') {
        return Payload::Markup;
    }
    let control = bytes.iter().take(512).any(|b| *b < 0x09);
    let undecodable = body.chars().take(512).filter(|c| *c == '\u{fffd}').count() > 8;
    if control || undecodable {
        Payload::Binary
    } else {
        Payload::Text
    }
}

/// A feed: an XML document whose root element is `rss`, `feed` or `rdf:RDF` (any case), or
/// a JSON document naming a JSON Feed version in its first kilobyte.
fn is_feed(body: &str) -> bool {
    if body.starts_with('{') {
        let head = body.get(..1024).unwrap_or(body);
        return head.contains("jsonfeed.org/version");
    }
    root(body).is_some_and(|r| {
        ["rss", "feed", "rdf:rdf"]
            .iter()
            .any(|f| r.eq_ignore_ascii_case(f))
    })
}

/// The qualified name of the document's first element, skipping the prolog (XML declaration,
/// processing instructions, comments, doctype). None when the text does not start with markup
/// (whitespace aside) or ends before an element.
pub fn root(text: &str) -> Option<&str> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let after = rest.strip_prefix('<')?;
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.split_once("-->")?.1.trim_start();
            continue;
        }
        if after.starts_with('?') || after.starts_with('!') {
            rest = after.get(after.find('>')? + 1..)?.trim_start();
            continue;
        }
        let end = after.find(|c: char| c.is_whitespace() || c == '/' || c == '>')?;
        return after.get(..end).filter(|name| !name.is_empty());
    }
}

/// The root element's name without its prefix (`rdf:RDF` → `RDF`), for messages.
pub fn root_name(text: &str) -> Option<&str> {
    let qname = root(text)?;
    Some(qname.rsplit(':').next().unwrap_or(qname))
}

/// Whether the prolog (everything before the feed's root element) declares DTD entities:
/// feeds never need them, so such a document is an entity-expansion attack or junk.
pub fn declares_entities(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut first_root: Option<usize> = None;
    for root in ["<rss", "<feed", "<rdf:RDF", "<rdf:rdf"] {
        // Only a root starting before the first found so far can end the prolog sooner: the
        // others are not searched for through the rest of a feed of megabytes.
        let limit = first_root.map_or(bytes.len(), |at| (at + root.len()).min(bytes.len()));
        let found = bytes
            .get(..limit)
            .and_then(|b| memchr::memmem::find(b, root.as_bytes()));
        first_root = match (first_root, found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let prolog_end = first_root.unwrap_or(text.len().min(64 * 1024));
    text.get(..prolog_end)
        .is_some_and(|prolog| prolog.contains("<!ENTITY") || prolog.contains("<!entity"))
}

/// Whether an HTML page is a JavaScript cookie challenge (laodong.vn answers feed and page URLs
/// with one, status 200; Cloudflare's "checking your browser" is another): a `<script>` whose
/// code sets a cookie and then reloads or navigates, or whose tag or code names a challenge.
/// Only script elements count: an article about a "challenge" on a page with scripts is no
/// challenge.
pub fn is_cookie_challenge(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(open) = lower
        .get(at..)
        .and_then(|r| r.find("<script"))
        .map(|i| at + i)
    {
        let Some(tag_end) = lower
            .get(open..)
            .and_then(|r| r.find('>'))
            .map(|i| open + i)
        else {
            return false;
        };
        let close = lower
            .get(tag_end..)
            .and_then(|r| r.find("</script"))
            .map_or(lower.len(), |i| tag_end + i);
        let tag = lower.get(open..tag_end).unwrap_or_default();
        let code = lower.get(tag_end + 1..close).unwrap_or_default();
        let sets_cookie_and_moves = code.contains("document.cookie")
            && (code.contains("location") || code.contains("reload"));
        if sets_cookie_and_moves || tag.contains("challenge") || code.contains("challenge") {
            return true;
        }
        at = close;
    }
    false
}

/// The page's title: the text of its first non-empty `<title>` element outside comments,
/// entities decoded and whitespace collapsed ([`text::clean`]).
pub fn html_title(html: &str) -> Option<String> {
    // ASCII lowercasing keeps every byte offset, so offsets found in `lower` are char
    // boundaries of `html` too (full lowercasing changes lengths: "İ" becomes three bytes).
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    loop {
        let rest = lower.get(at..)?;
        let title = rest.find("<title");
        let comment = rest.find("<!--");
        if let (Some(c), Some(t)) = (comment, title) {
            if c < t {
                at += c + 4;
                at += lower.get(at..)?.find("-->")? + 3;
                continue;
            }
        }
        let start = at + title?;
        let name_end = start + "<title".len();
        let open_end = name_end + lower.get(name_end..)?.find('>')? + 1;
        let close = open_end + lower.get(open_end..)?.find("</title")?;
        at = close;
        // `<titlebar>` is another element.
        let boundary = lower
            .get(name_end..)
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c == '>' || c == '/' || c.is_ascii_whitespace());
        if !boundary {
            at = name_end;
            continue;
        }
        let t = text::clean(html.get(open_end..close)?);
        if !t.is_empty() {
            return Some(t);
        }
    }
}

/// [`html_title`] cut to [`TITLE_IN_ERROR`] characters, as error messages quote it.
pub fn title_for_error(html: &str) -> Option<String> {
    html_title(html).map(|t| t.chars().take(TITLE_IN_ERROR).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_count_only_before_the_first_root() {
        let check = |text: &str, expected: bool| {
            assert_eq!(declares_entities(text), expected, "{text}");
        };
        check(
            "<!DOCTYPE x [<!ENTITY a \"b\">]><rss><channel/></rss>",
            true,
        );
        check("<!DOCTYPE x [<!ENTITY a \"b\">]><feed/><rss/>", true);
        check("<rss><channel><!ENTITY a></channel></rss>", false);
        check("<feed><!ENTITY a><rss/></feed>", false);
        check("<rdf:RDF><!ENTITY a><feed/></rdf:RDF>", false);
        check("<rdf:rdf/><!ENTITY a><rss/>", false);
        check("<x><!ENTITY a></x>", true);
    }

    #[test]
    fn payloads() {
        let check = |body: &str, expected: Payload| {
            assert_eq!(sniff(body.as_bytes(), body), expected, "{body:?}");
        };
        check("", Payload::Empty);
        check("\u{feff}  \n ", Payload::Empty);
        check("<rss version=\"2.0\"><channel/></rss>", Payload::Feed);
        check(
            "<?xml version=\"1.0\"?>\n<!-- generated --><!DOCTYPE x><feed xmlns=\"a\"/>",
            Payload::Feed,
        );
        check("<rdf:RDF xmlns:rdf=\"r\"/>", Payload::Feed);
        check(
            r#"{"version": "https://jsonfeed.org/version/1.1", "items": []}"#,
            Payload::Feed,
        );
        check("<rss-like/>", Payload::Markup);
        check(r#"{"items": []}"#, Payload::Markup);
        check("<!DOCTYPE html><html><body></body></html>", Payload::Html);
        check("<?xml version=\"1.0\"?><html><body/></html>", Payload::Html);
        check("<br>Warning: x<html><body>", Payload::Html);
        check("<foo><bar/></foo>", Payload::Markup);
        check("Hello", Payload::Text);
        assert_eq!(sniff(b"\x00\x01abc", "\u{0}\u{1}abc"), Payload::Binary);
    }

    #[test]
    fn roots() {
        assert_eq!(
            root("<?xml version=\"1.0\"?><!-- c --><foo><bar/></foo>"),
            Some("foo")
        );
        assert_eq!(root("<rdf:RDF>"), Some("rdf:RDF"));
        assert_eq!(root_name("<rdf:RDF>"), Some("RDF"));
        assert_eq!(root("text <rss>"), None);
        assert_eq!(root("<!-- unterminated"), None);
        let prolog = "<!-- c -->".repeat(100);
        assert_eq!(root(&format!("{prolog}<rss>")), Some("rss"));
    }

    #[test]
    fn cookie_challenges() {
        assert!(is_cookie_challenge(
            "<html><body><script>document.cookie='a=b';location.reload();</script></body></html>"
        ));
        assert!(is_cookie_challenge(
            "<script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate.js\"></script>"
        ));
        // A script that only reads cookies; a page that only talks of a challenge.
        assert!(!is_cookie_challenge(
            "<script>var c = document.cookie;</script><p>location</p>"
        ));
        assert!(!is_cookie_challenge(
            "<p>The challenge ahead</p><script>init()</script>"
        ));
        assert!(!is_cookie_challenge("<script"));
    }

    #[test]
    fn titles() {
        assert_eq!(
            html_title("<html><head><TITLE>İstanbul ổ</TITLE></head></html>"),
            Some("İstanbul ổ".into())
        );
        assert_eq!(html_title("<title>İİİ"), None);
        assert_eq!(
            html_title("<html><head><title>\n  Trang chủ  \n</title></head></html>").as_deref(),
            Some("Trang chủ")
        );
        assert_eq!(html_title("<title> </title>"), None);
        assert_eq!(html_title("<p>no title</p>"), None);
        assert_eq!(
            html_title("<!-- <title>old</title> --><titlebar>x</titlebar><title>A &amp; B</title>")
                .as_deref(),
            Some("A & B")
        );
        assert_eq!(
            title_for_error(&format!("<title>{}</title>", "ổ".repeat(200)))
                .map(|t| t.chars().count()),
            Some(TITLE_IN_ERROR)
        );
    }
}
