//! The breakage real feeds carry, repaired when the strict parse failed: one pass over the text
//! that escapes a bare `&` (VnExpress's "thế giới" feed has one in an attribute), turns HTML
//! entities XML does not define (`&nbsp;`, `&eacute;`) into character references, drops control
//! characters XML forbids, drops end tags that close nothing, and closes what a truncated tail
//! left open. CDATA sections, comments and processing instructions are copied as they are.

use std::collections::BTreeSet;

/// What was repaired, in words `bantin sources` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Repair {
    BareAmpersand,
    BareLessThan,
    HtmlEntity,
    ControlCharacter,
    StrayEndTag,
    UnclosedElement,
    MisspeltEndTag,
    TruncatedTail,
    UnfinishedItem,
}

impl Repair {
    pub fn describe(self) -> &'static str {
        match self {
            Repair::BareAmpersand => "bare \"&\" escaped",
            Repair::BareLessThan => "bare \"<\" escaped",
            Repair::HtmlEntity => "HTML entities made character references",
            Repair::ControlCharacter => "control characters removed",
            Repair::StrayEndTag => "end tags that closed nothing removed",
            Repair::UnclosedElement => "unclosed elements closed",
            Repair::MisspeltEndTag => "misspelt end tags read as the open element's",
            Repair::TruncatedTail => "truncated tail closed",
            Repair::UnfinishedItem => "unfinished last item dropped",
        }
    }
}

/// The repaired text and what was repaired; None when nothing needed it.
pub(super) fn repair(text: &str) -> Option<(String, Vec<Repair>)> {
    let mut done = BTreeSet::new();
    let mut out = String::with_capacity(text.len() + 64);
    // Open elements, each with where its start tag begins in `out`.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            rest = markup(rest, &mut out, &mut open, &mut done);
        } else if c == '&' {
            rest = reference(rest, &mut out, &mut done);
        } else {
            push_char(c, &mut out, &mut done);
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
    }
    if !open.is_empty() {
        done.insert(Repair::TruncatedTail);
        // A document cut inside an item: the item is dropped, not kept half-read (a title cut
        // mid-word, no link).
        if let Some(at) = open.iter().position(|(n, _)| is_item(n)) {
            out.truncate(open[at].1);
            open.truncate(at);
            done.insert(Repair::UnfinishedItem);
        }
        for (name, _) in open.iter().rev() {
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    (!done.is_empty()).then(|| (out, done.into_iter().collect()))
}

fn push_char(c: char, out: &mut String, done: &mut BTreeSet<Repair>) {
    if is_xml_char(c) {
        out.push(c);
    } else {
        done.insert(Repair::ControlCharacter);
    }
}

/// XML 1.0's Char production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Copies one piece of markup starting at `<`; returns the rest.
fn markup<'t>(
    rest: &'t str,
    out: &mut String,
    open: &mut Vec<(&'t str, usize)>,
    done: &mut BTreeSet<Repair>,
) -> &'t str {
    for (start, end) in [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")] {
        if rest.starts_with(start) {
            return copy_until(rest, end, out, done);
        }
    }
    if rest.starts_with("<!") {
        return doctype(rest, out, done);
    }
    let opens_tag = rest
        .get(1..)
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | ':' | '/'));
    let tag_end = tag_end(rest);
    let later_markup = rest.get(1..).is_some_and(|r| r.contains('<'));
    let Some(tag_end) = tag_end.filter(|_| opens_tag) else {
        if opens_tag && !later_markup {
            // A tag cut off by the end of the document.
            done.insert(Repair::TruncatedTail);
            return "";
        }
        // A `<` that opens no tag: text.
        done.insert(Repair::BareLessThan);
        out.push_str("&lt;");
        return rest.get(1..).unwrap_or_default();
    };
    let tag = rest.get(..tag_end).unwrap_or_default();
    let after = rest.get(tag_end..).unwrap_or_default();
    if let Some(body) = tag.strip_prefix("</") {
        let name = body.trim_end_matches('>').trim();
        let matching = open.iter().rposition(|(n, _)| *n == name);
        // `</titel>` for `<title>`: a typo closes the element it was meant for. Anything else
        // that closes nothing (an HTML `</br>` outside CDATA) is dropped.
        let misspelt = matching.is_none()
            && open
                .last()
                .is_some_and(|(n, _)| strsim::levenshtein(n, name) <= 2 && n.len() > 3);
        match matching {
            Some(at) => {
                if at + 1 < open.len() {
                    done.insert(Repair::UnclosedElement);
                }
                close(open, at, out);
            }
            None if misspelt => {
                done.insert(Repair::MisspeltEndTag);
                close(open, open.len() - 1, out);
            }
            None => {
                done.insert(Repair::StrayEndTag);
            }
        }
        return after;
    }
    let name_len = tag
        .get(1..)
        .and_then(|t| t.find(|c: char| c.is_whitespace() || c == '/' || c == '>'))
        .unwrap_or(0);
    let name = tag.get(1..1 + name_len).unwrap_or_default();
    let start = out.len();
    // Attribute values: the same entity repair as text.
    let mut t = tag;
    while let Some(c) = t.chars().next() {
        if c == '&' {
            t = reference(t, out, done);
        } else {
            push_char(c, out, done);
            t = t.get(c.len_utf8()..).unwrap_or_default();
        }
    }
    if !tag.ends_with("/>") {
        open.push((name, start));
    }
    after
}

/// Closes `open[at..]`, innermost first.
fn close(open: &mut Vec<(&str, usize)>, at: usize, out: &mut String) {
    for (inner, _) in open.drain(at..).rev() {
        out.push_str("</");
        out.push_str(inner);
        out.push('>');
    }
}

/// An RSS item or Atom entry, with any prefix.
fn is_item(qname: &str) -> bool {
    matches!(qname.rsplit(':').next(), Some("item" | "entry"))
}

/// The end of the tag at the start of `rest` (after its `>`), skipping `>` inside quotes.
fn tag_end(rest: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in rest.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            // A new tag before this one closed: the `>` went missing.
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// Copies through `end`; a section cut off by the end of the document is closed.
fn copy_until<'t>(
    rest: &'t str,
    end: &str,
    out: &mut String,
    done: &mut BTreeSet<Repair>,
) -> &'t str {
    match rest.find(end) {
        Some(at) => {
            let (piece, after) = rest.split_at(at + end.len());
            piece.chars().for_each(|c| push_char(c, out, done));
            after
        }
        None => {
            rest.chars().for_each(|c| push_char(c, out, done));
            out.push_str(end);
            done.insert(Repair::TruncatedTail);
            ""
        }
    }
}

/// `<!DOCTYPE …>`, with an internal subset in brackets.
fn doctype<'t>(rest: &'t str, out: &mut String, done: &mut BTreeSet<Repair>) -> &'t str {
    let mut depth = 0usize;
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => {
                let (piece, after) = rest.split_at(i + 1);
                out.push_str(piece);
                return after;
            }
            _ => {}
        }
    }
    done.insert(Repair::TruncatedTail);
    ""
}

/// Copies the reference at `&`, or repairs it: a known HTML entity becomes character
/// references, anything else an escaped `&`.
fn reference<'t>(rest: &'t str, out: &mut String, done: &mut BTreeSet<Repair>) -> &'t str {
    let after_amp = rest.get(1..).unwrap_or_default();
    let name_len = after_amp
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
        .unwrap_or(after_amp.len());
    let name = after_amp.get(..name_len).unwrap_or_default();
    let terminated = after_amp
        .get(name_len..)
        .is_some_and(|r| r.starts_with(';'));
    if terminated && !name.is_empty() {
        let consumed = rest.get(name_len + 2..).unwrap_or_default();
        if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            if code.and_then(char::from_u32).is_some_and(is_xml_char) {
                out.push('&');
                out.push_str(name);
                out.push(';');
            } else {
                done.insert(Repair::ControlCharacter);
            }
            return consumed;
        }
        if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            out.push('&');
            out.push_str(name);
            out.push(';');
            return consumed;
        }
        let entity = format!("&{name};");
        let decoded = html_escape::decode_html_entities(&entity);
        if decoded != entity {
            done.insert(Repair::HtmlEntity);
            for c in decoded.chars() {
                out.push_str(&format!("&#x{:X};", u32::from(c)));
            }
            return consumed;
        }
    }
    done.insert(Repair::BareAmpersand);
    out.push_str("&amp;");
    after_amp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(&str, &[Repair])>) {
        let got = repair(input);
        assert_eq!(
            got.as_ref().map(|(t, r)| (t.as_str(), r.as_slice())),
            expected,
            "{input:?}"
        );
    }

    #[test]
    fn repairs() {
        use Repair::*;
        check(
            "<rss><a href=\"x\">y &amp; &#233; &#x1F600;</a></rss>",
            None,
        );
        check(
            "<rss><title>Q&A</title><link>http://a.vn/?a=1&b=2</link></rss>",
            Some((
                "<rss><title>Q&amp;A</title><link>http://a.vn/?a=1&amp;b=2</link></rss>",
                &[BareAmpersand],
            )),
        );
        check(
            "<rss><t a=\"x&y\">&nbsp;&eacute;</t></rss>",
            Some((
                "<rss><t a=\"x&amp;y\">&#xA0;&#xE9;</t></rss>",
                &[BareAmpersand, HtmlEntity],
            )),
        );
        check(
            "<rss><t>a\u{1}b&#2;</t></rss>",
            Some(("<rss><t>ab</t></rss>", &[ControlCharacter])),
        );
        check(
            "<rss><channel><item><title>A</title></item><item><title>Tin</title><description><![CDATA[<p>a & b",
            Some((
                "<rss><channel><item><title>A</title></item></channel></rss>",
                &[TruncatedTail, UnfinishedItem],
            )),
        );
        check(
            "<rss><channel><title>T</title><ti",
            Some((
                "<rss><channel><title>T</title></channel></rss>",
                &[TruncatedTail],
            )),
        );
        check(
            "<rss><channel><description><![CDATA[<p>a",
            Some((
                "<rss><channel><description><![CDATA[<p>a]]></description></channel></rss>",
                &[TruncatedTail],
            )),
        );
        check(
            "<rss><channel><item><title>Bài mới</titel><link>x</link></item></channel></rss>",
            Some((
                "<rss><channel><item><title>Bài mới</title><link>x</link></item></channel></rss>",
                &[MisspeltEndTag],
            )),
        );
        check(
            "<rss><channel><description>a</br>b</description></channel></rss>",
            Some((
                "<rss><channel><description>ab</description></channel></rss>",
                &[StrayEndTag],
            )),
        );
        check(
            "<rss><channel><b></channel></x></rss>",
            Some((
                "<rss><channel><b></b></channel></rss>",
                &[StrayEndTag, UnclosedElement],
            )),
        );
        check(
            "<rss><t>1 < 2 <b>x</b></t></rss>",
            Some(("<rss><t>1 &lt; 2 <b>x</b></t></rss>", &[BareLessThan])),
        );
        // Multi-byte text around every repair stays whole.
        check(
            "<rss><t>Tiền Phong & Tuổi Trẻ&hellip;</t></rss>",
            Some((
                "<rss><t>Tiền Phong &amp; Tuổi Trẻ&#x2026;</t></rss>",
                &[BareAmpersand, HtmlEntity],
            )),
        );
    }
}
