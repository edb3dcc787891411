//! The depth guard: html5ever spends time quadratic in the nesting depth on block elements
//! (40,000 nested `<div>` take seconds), so a page nesting deeper than [`MAX_DEPTH`] is refused
//! before parsing ([`nests_deeper_than`], a linear lexical estimate), and subtrees nested deeper
//! than that anyway (formatting elements, which html5ever nests cheaply) are cut after parsing
//! ([`cut_below`]). Walks over a parsed page are iterative ([`Walk`]), never recursive.

use scraper::Html;

use super::NodeRef;

/// Deepest element nesting accepted (Blink caps its DOM at the same depth). News pages nest
/// about 30 deep.
pub const MAX_DEPTH: usize = 512;

/// Elements that never stay open: void elements.
const VOID: [&str; 16] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "frame",
];
/// Elements the parser closes by itself (`<p>`, `<li>`, table cells) or keeps from nesting
/// deeply (formatting elements, see the adoption agency algorithm): not counted.
const SELF_LIMITING: [&str; 37] = [
    "html", "head", "body", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "a", "b", "big", "code", "em",
    "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u", "image", "basefont",
    "bgsound",
];
/// Elements whose content is text, not markup.
const RAW_TEXT: [&str; 9] = [
    "script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes",
];

/// A linear lexical estimate of the nesting depth, run before parsing: start tags that stay
/// open minus their end tags. Elements that close themselves are not counted, so sloppy pages
/// with unclosed `<p>` or `<font>` do not add up.
pub(super) fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    let mut at = 0;
    let mut depth = 0usize;
    // Inside <svg> or <math>, `<path/>` really is self-closing.
    let mut foreign = 0usize;
    while let Some(offset) = b.get(at..).and_then(|r| r.iter().position(|&c| c == b'<')) {
        let lt = at + offset;
        let rest = &b[lt + 1..];
        if rest.starts_with(b"!--") {
            at = find_bytes(b, b"-->", lt + 4).map_or(b.len(), |e| e + 3);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b':')
            .count();
        if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
            // `<!doctype`, `<?xml`, a `<` in text.
            at = lt + 1;
            continue;
        }
        let name = &b[name_start..name_start + name_len];
        let tag_end = b[name_start..]
            .iter()
            .position(|&c| c == b'>')
            .map_or(b.len(), |p| name_start + p);
        let self_closing = tag_end > 0 && b.get(tag_end - 1) == Some(&b'/');
        let is = |list: &[&str]| list.iter().any(|t| name.eq_ignore_ascii_case(t.as_bytes()));
        let is_foreign = name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math");
        let counted = !is(&VOID) && !is(&SELF_LIMITING) && !is(&RAW_TEXT);
        at = tag_end + 1;
        if closing {
            if counted {
                depth = depth.saturating_sub(1);
            }
            if is_foreign {
                foreign = foreign.saturating_sub(1);
            }
            continue;
        }
        if is(&RAW_TEXT) && !self_closing {
            // Skip to the matching end tag: `<div>` inside a script is not markup.
            let mut end_tag = b"</".to_vec();
            end_tag.extend(name.iter().map(u8::to_ascii_lowercase));
            at = find_ignore_case(b, &end_tag, at).unwrap_or(b.len());
            continue;
        }
        if counted && !(self_closing && (foreign > 0 || is_foreign)) {
            depth += 1;
            if is_foreign {
                foreign += 1;
            }
            if depth > limit {
                return true;
            }
        }
    }
    false
}

fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ignore_case(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Detaches every node deeper than `limit` (the document node is depth 0).
pub(super) fn cut_below(html: &mut Html, limit: usize) {
    let mut cut = Vec::new();
    let mut stack = vec![(html.tree.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        for child in node.children() {
            if depth + 1 > limit {
                cut.push(child.id());
            } else {
                stack.push((child, depth + 1));
            }
        }
    }
    for id in cut {
        if let Some(mut node) = html.tree.get_mut(id) {
            node.detach();
        }
    }
}

/// Pre-order walk of a node's descendants without recursion; [`Walk::skip_children`] prunes.
pub(super) struct Walk<'a> {
    root: NodeRef<'a>,
    next: Option<NodeRef<'a>>,
}

impl<'a> Walk<'a> {
    pub(super) fn new(root: NodeRef<'a>) -> Self {
        Walk {
            root,
            next: root.first_child(),
        }
    }

    /// Do not visit the children of `node`, the node last returned.
    pub(super) fn skip_children(&mut self, node: NodeRef<'a>) {
        self.next = after(node, self.root);
    }

    /// Do not visit what follows `node` inside its parent: go on after the parent.
    pub(super) fn skip_rest_of_parent(&mut self, node: NodeRef<'a>) {
        self.next = node.parent().and_then(|p| after(p, self.root));
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        let node = self.next?;
        self.next = node.first_child().or_else(|| after(node, self.root));
        Some(node)
    }
}

/// The node after `node` and its descendants in document order, within `root`.
fn after<'a>(node: NodeRef<'a>, root: NodeRef<'a>) -> Option<NodeRef<'a>> {
    let mut n = node;
    loop {
        if n == root {
            return None;
        }
        if let Some(sibling) = n.next_sibling() {
            return Some(sibling);
        }
        n = n.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use super::*;
    use crate::config::ListRules;

    #[test]
    fn hostile_html_neither_panics_nor_blows_up() {
        let base = url("https://example.vn/");
        let rules = ListRules {
            summary: Some(css("p")),
            ..list_rules("div.item", "a")
        };
        let article = Some(article_rules("div.content"));

        // 100,000 nested <div>: html5ever would take minutes; refused before parsing.
        let deep = format!("{}x{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        assert_eq!(
            parse_list(deep.as_bytes(), None, &base, &rules, ctx()).unwrap_err(),
            ScrapeError::TooDeep
        );
        assert_eq!(
            extract_article(deep.as_bytes(), None, &base, None, ctx()).unwrap_err(),
            ScrapeError::TooDeep
        );
        assert!(advertised_feeds(&deep, &base).is_empty());

        // 50,000 nested <b> parse quickly but make a 50,000-deep tree: cut to MAX_DEPTH.
        let bold = format!(
            "<div class='item'><a href='/a-12345.html'>Tin</a><p>{}tóm tắt</p></div><div class='content'><p>Bài</p>{}</div>",
            "<b>".repeat(50_000),
            "<i>".repeat(20_000)
        );
        let feed = parse_list(bold.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(feed.entries[0].title.as_deref(), Some("Tin"));
        let _ = extract_article(bold.as_bytes(), None, &base, article.as_ref(), ctx());
        let _ = extract_article(bold.as_bytes(), None, &base, None, ctx());

        // A 2 MB attribute, an unterminated tag, stray end tags, a NUL, broken entities.
        let huge = format!(
            "<div class='item'><a href='/b-12345.html' data-x='{}'>Tin <b>một</a></p></div></div>\
             <div class='item'><a href='/c-12346.html'>Tin &#xFFFFFFFF; &bogus; \0 hai</a>\
             <div class='content'><p>Bài <img src='{}'></p><p title=\"unterminated",
            "x".repeat(2 << 20),
            "y".repeat(1 << 20)
        );
        let feed = parse_list(huge.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(feed.entries.len(), 2);
        let _ = extract_article(huge.as_bytes(), None, &base, article.as_ref(), ctx());
        let _ = extract_article(huge.as_bytes(), None, &base, None, ctx());

        // Many chrome headings in a row: bounded work, no panic.
        let markers = format!(
            "<div class='content'><p>Bài</p>{}</div>",
            "<p>Bình luận</p><p>chữ</p>".repeat(20_000)
        );
        let _ = extract_article(markers.as_bytes(), None, &base, article.as_ref(), ctx());

        // Binary garbage.
        let garbage: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let _ = parse_list(&garbage, None, &base, &rules, ctx());
        let _ = extract_article(&garbage, None, &base, None, ctx());
    }

    #[test]
    fn nesting_estimate_ignores_self_closing_and_raw_text() {
        let deeper = |html: &str| nests_deeper_than(html, MAX_DEPTH);
        assert!(deeper(&"<div>".repeat(MAX_DEPTH + 1)));
        assert!(deeper(&"<section><span>".repeat(MAX_DEPTH)));
        assert!(!deeper(&"<div>".repeat(MAX_DEPTH)));
        // Unclosed paragraphs, list items and font tags close themselves.
        assert!(!deeper(&"<p><li><font face=Arial>text".repeat(10_000)));
        assert!(!deeper(&"<div></div><br><img src=x>".repeat(10_000)));
        // Self-closing SVG children; markup inside scripts and comments.
        assert!(!deeper(&format!(
            "<svg>{}</svg>",
            "<path d='M0'/>".repeat(10_000)
        )));
        assert!(!deeper(&format!(
            "<script>{}</script>",
            "<div>".repeat(10_000)
        )));
        assert!(!deeper(&format!("<!--{}-->", "<div>".repeat(10_000))));
        assert!(!deeper(&"a < b <3 <".repeat(10_000)));
    }
}
