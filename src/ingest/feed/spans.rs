//! Where each item of a feed document lies in its text: the byte ranges of its `<item>` and
//! `<entry>` elements, found by a scan of the tags, without parsing the document.
//!
//! The scan only has to be sure, not complete: it answers None whenever it is unsure (a
//! DOCTYPE, a tag that does not close, an end tag that does not match its item's start, an
//! element left open), and the caller then reads the document in full. Comments, CDATA
//! sections and processing instructions are passed over whole, and a `>` inside a quoted
//! attribute value does not end its tag, so markup written inside them is never taken for an
//! item. An item inside another item is part of the outer one.

use std::ops::Range;

/// The byte ranges of the document's items (elements named `item` or `entry`, with or without
/// a prefix, not inside another), in document order, each from its `<` to the end of its end
/// tag (or of its start tag when it closes itself). None when the scan is unsure.
pub(super) fn locate(text: &str) -> Option<Vec<Range<usize>>> {
    let bytes = text.as_bytes();
    let mut items = Vec::new();
    let mut depth = 0usize;
    // The open item: where it starts, the depth outside it, its qualified name.
    let mut open: Option<(usize, usize, &[u8])> = None;
    let mut at = 0;
    while let Some(lt) = find(bytes, at, b"<") {
        let tag = bytes.get(lt..)?;
        at = if tag.starts_with(b"<!--") {
            lt + find(tag, 4, b"-->")? + 3
        } else if tag.starts_with(b"<![CDATA[") {
            lt + find(tag, 9, b"]]>")? + 3
        } else if tag.starts_with(b"<?") {
            lt + find(tag, 2, b"?>")? + 2
        } else if tag.starts_with(b"<!") {
            // A DOCTYPE (its internal subset can declare anything): unsure.
            return None;
        } else if tag.starts_with(b"</") {
            let end = find(tag, 2, b">")?;
            let name = tag.get(2..end)?.trim_ascii_end();
            depth = depth.checked_sub(1)?;
            if let Some((start, _, item)) = open.filter(|o| o.1 == depth) {
                if name != item {
                    return None;
                }
                items.push(start..lt + end + 1);
                open = None;
            }
            lt + end + 1
        } else {
            let len = start_tag_len(tag)?;
            let inner = tag.get(1..len - 1)?;
            let closes_itself = inner.ends_with(b"/");
            let name_len = inner
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'/')
                .unwrap_or(inner.len());
            let name = inner.get(..name_len)?;
            if name.is_empty() {
                return None;
            }
            if open.is_none() && is_item(name) {
                if closes_itself {
                    items.push(lt..lt + len);
                } else {
                    open = Some((lt, depth, name));
                }
            }
            if !closes_itself {
                depth += 1;
            }
            lt + len
        };
    }
    (open.is_none() && depth == 0).then_some(items)
}

/// `item` or `entry`, with or without a prefix.
fn is_item(name: &[u8]) -> bool {
    let local = match name.iter().rposition(|b| *b == b':') {
        Some(colon) => name.get(colon + 1..).unwrap_or_default(),
        None => name,
    };
    local == b"item" || local == b"entry"
}

/// Where `needle` next starts in `hay`, from `from` on.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = hay.get(from..)?;
    let found = match needle {
        [byte] => memchr::memchr(*byte, rest),
        _ => memchr::memmem::find(rest, needle),
    };
    Some(from + found?)
}

/// Length of the start tag at the head of `tag`, to its `>` outside quotes.
fn start_tag_len(tag: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, b) in tag.iter().enumerate() {
        match (quote, *b) {
            (None, b'"' | b'\'') => quote = Some(*b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<&[&str]>) {
        let got = locate(text).map(|spans| {
            spans
                .into_iter()
                .map(|r| text.get(r).unwrap().to_string())
                .collect::<Vec<_>>()
        });
        let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expected, "{text}");
    }

    #[test]
    fn items_are_found_whole_and_only_where_they_are_elements() {
        check(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\n<item><title>a</title></item>\n<item><title>b</title><description><![CDATA[<item>x</item>]]></description></item></channel></rss>",
            Some(&[
                "<item><title>a</title></item>",
                "<item><title>b</title><description><![CDATA[<item>x</item>]]></description></item>",
            ]),
        );
        check(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><!-- <entry> --><entry a=\"x>y\"><title>a</title><entry/></entry><atom:entry/></feed>",
            Some(&[
                "<entry a=\"x>y\"><title>a</title><entry/></entry>",
                "<atom:entry/>",
            ]),
        );
        check("<rss><channel><items/></channel></rss>", Some(&[]));
    }

    #[test]
    fn the_scan_is_unsure_of_what_it_cannot_close() {
        check("<!DOCTYPE rss><rss><channel><item/></channel></rss>", None);
        check("<rss><channel><item><title>a</title></channel></rss>", None);
        check("<rss><channel><item><title>a</title></item>", None);
        check("<rss><channel><item><title>a</titl", None);
        check("<rss><channel><item><!-- a </item>", None);
        check("<rss><channel></channel></rss></rss>", None);
    }
}
