//! Old and loose feed dialects rewritten into the forms feed-rs reads, before it reads them.
//!
//! feed-rs reads RSS 0.91/0.92/2.0, RSS 1.0 and Atom 1.0, and is strict about each. Feeds in
//! the wild (and feedparser's corpus, which collects them) also carry: `<rss>` with no
//! `version` or another one (0.93, 0.94, 2.01), RSS 0.90 (`<rdf:RDF>` in Netscape's namespace),
//! RSS 2.0 in Userland's namespace, Atom 0.3 (`http://purl.org/atom/ns#`: `issued`,
//! `modified`, `tagline`, MIME types in `type`, `mode="escaped"|"base64"`), Atom text with a MIME
//! type (`application/xhtml+xml`, which feed-rs refuses, failing the whole feed), `dc:title` as
//! the only title, and RSS 1.0 items with no `<link>` (which feed-rs drops).
//!
//! The document is parsed with roxmltree only to find where to edit; the edits are splices into
//! the original text, so everything else reaches feed-rs byte for byte. A document that needs
//! none (every feed bantin read before) is passed on untouched, and one roxmltree cannot parse
//! is too (feed-rs may still read it, or the repair step fixes it first).
//!
//! Most feeds are plain RSS 2.0 that need no edit, and parsing them only to learn that cost
//! as much as feed-rs's own read. A scan of their tags ([`proven_unneeded`]) tells those apart
//! first: it answers "no edit" only when every rule below provably finds nothing, and leaves
//! anything it is unsure of (a DTD, a default namespace, a namespace declaration it cannot read
//! literally, prefixed RSS elements...) to the parse, so the outcome is the parse's in every case.

use std::ops::Range;

use roxmltree::{Document, Node, ParsingOptions};

const ATOM03: &str = "http://purl.org/atom/ns#";
const ATOM10: &str = "http://www.w3.org/2005/Atom";
const RSS10: &str = "http://purl.org/rss/1.0/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// Namespaces other generations of RSS used for what feed-rs knows as RSS 1.0/2.0 elements.
const RSS_ALIASES: &[&str] = &[
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://channel.netscape.com/rdf/simple/0.9/",
    "http://backend.userland.com/rss",
    "http://backend.userland.com/rss2",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://purl.org/net/rss1.1#",
];
/// The `version`s feed-rs dispatches on for `<rss>`.
const RSS_VERSIONS: &[&str] = &["2.0", "0.91", "0.92", ""];

/// The rewritten text and what, among the changes, was a repair of a broken feed rather than
/// the reading of an old dialect; None when nothing needed changing.
pub(super) struct Rewritten {
    pub text: String,
    pub repairs: Vec<String>,
}

/// What the check found a document to need.
pub(super) enum Check {
    /// Nothing: the scan or the parse proved every rule finds nothing to edit.
    Plain,
    /// roxmltree could not parse the document: it is passed on untouched, unproven.
    Unparsed,
    Rewritten(Rewritten),
}

pub(super) fn rewrite(text: &str) -> Check {
    if proven_unneeded(text).is_some() {
        return Check::Plain;
    }
    rewrite_parsed(text)
}

/// [`rewrite`] without the scan: the document parsed and every rule applied.
fn rewrite_parsed(text: &str) -> Check {
    let opts = ParsingOptions {
        allow_dtd: true,
        nodes_limit: 4_000_000,
    };
    let Ok(doc) = Document::parse_with_options(text, opts) else {
        return Check::Unparsed;
    };
    let mut e = Edits::default();
    let root = doc.root_element();
    let mut repairs = Vec::new();
    match root.tag_name().name() {
        "rss" => {
            match root.attribute("version") {
                None => {
                    repairs.push("rss version missing (read as 2.0)".to_string());
                    e.set_attr(text, root, "version", "2.0");
                }
                Some(v) if !RSS_VERSIONS.contains(&v.trim()) => {
                    e.set_attr(text, root, "version", "2.0")
                }
                Some(_) => {}
            }
            // RSS 0.9x feeds seen with their items straight under <rss>.
            let has_channel = root
                .children()
                .any(|c| c.is_element() && c.tag_name().name() == "channel");
            if !has_channel {
                e.wrap_children(text, root, "channel");
            }
        }
        "RDF" | "feed" | "entry" => {}
        _ => return Check::Plain,
    }
    for node in doc.descendants().filter(Node::is_element) {
        e.namespace_aliases(text, node);
        match node.tag_name().namespace() {
            Some(ATOM03) => atom03(text, node, &mut e),
            Some(ATOM10) => atom10(text, node, &mut e),
            _ => {}
        }
        let name = node.tag_name().name();
        if matches!(name, "item" | "channel") && is_rss(node) {
            dc_title(text, node, &mut e);
        }
        if name == "item" && is_rss(node) && root.tag_name().name() == "RDF" {
            rss1_item_link(text, node, &mut e);
        }
        if name == "item" && is_rss(node) && root.tag_name().name() == "rss" {
            permalink_guid(text, node, &mut e);
        }
        if name == "entry" && node.tag_name().namespace() == Some(ATOM03) {
            dc_title(text, node, &mut e);
        }
    }
    if e.0.is_empty() {
        return Check::Plain;
    }
    match e.apply(text) {
        Some(text) => Check::Rewritten(Rewritten { text, repairs }),
        None => Check::Unparsed,
    }
}

/// Some when a scan of the tags proves [`rewrite_parsed`] would change nothing: an `<rss>` root
/// with a version feed-rs reads and a `<channel>`, no default namespace (so an unprefixed
/// element has none, as RSS 2.0's), no prefix bound to an old RSS or Atom 0.3 namespace, no
/// prefixed RSS element, no prefixed text construct with a `type` (Atom 1.0's), and every
/// item or channel either titled or with no prefixed title (`dc:title`), every item either
/// linked or with no `<guid>`. None when unsure: the parse decides. A document the parse would
/// reject may pass the scan; both then leave it untouched.
fn proven_unneeded(text: &str) -> Option<()> {
    let mut open: Vec<Open> = Vec::with_capacity(16);
    let mut root_seen = false;
    let mut root_has_channel = false;
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        let tag = rest.get(lt..)?;
        let (len, start) = if tag.starts_with("<!--") {
            (tag.find("-->")? + 3, None)
        } else if tag.starts_with("<![CDATA[") {
            (tag.find("]]>")? + 3, None)
        } else if tag.starts_with("<?") {
            (tag.find("?>")? + 2, None)
        } else if tag.starts_with("<!") {
            return None; // a DTD: entities could say anything
        } else if let Some(end) = tag.strip_prefix("</") {
            let len = end.find('>')?;
            let name = end.get(..len)?.trim_end();
            let closed = open.pop()?;
            if closed.name != name || !closes_cleanly(&closed) {
                return None;
            }
            (len + 3, None)
        } else {
            let len = start_tag_len(tag)?;
            (len, Some(tag.get(1..len - 1)?))
        };
        rest = tag.get(len..)?;
        let Some(inner) = start else { continue };
        let self_closing = inner.ends_with('/');
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let name_len = inner
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(inner.len());
        let name = inner.get(..name_len)?;
        let attrs = Attributes(inner.get(name_len..)?);
        let mut typed = false;
        let mut version = None;
        for (attr, value) in attrs {
            match attr? {
                "xmlns" => return None,
                "type" => typed = true,
                "version" => version = Some(value),
                a if a.starts_with("xmlns:") => {
                    let old = RSS_ALIASES
                        .iter()
                        .chain([&ATOM03])
                        .any(|n| value.contains(n));
                    if old || value.contains('&') {
                        return None;
                    }
                }
                _ => {}
            }
        }
        match open.last_mut() {
            None => {
                if root_seen || name != "rss" {
                    return None;
                }
                let version = version?;
                if version.contains('&') || !RSS_VERSIONS.contains(&version.trim()) {
                    return None;
                }
                root_seen = true;
            }
            Some(parent) => match name.split_once(':') {
                Some((_, local)) => {
                    if matches!(local, "item" | "channel" | "rss") {
                        return None;
                    }
                    let text_construct = matches!(
                        local,
                        "title" | "subtitle" | "summary" | "rights" | "content"
                    );
                    if text_construct && typed {
                        return None;
                    }
                    parent.prefixed_title |= local == "title";
                }
                None => {
                    parent.title |= name == "title";
                    parent.link |= name == "link";
                    parent.guid |= name == "guid";
                    if name == "channel" && open.len() == 1 {
                        root_has_channel = true;
                    }
                }
            },
        }
        let element = Open {
            name,
            title: false,
            prefixed_title: false,
            link: false,
            guid: false,
        };
        if self_closing {
            if !closes_cleanly(&element) {
                return None;
            }
        } else {
            open.push(element);
        }
    }
    (root_seen && root_has_channel && open.is_empty()).then_some(())
}

/// An element open in [`proven_unneeded`]'s scan, and what its children showed so far.
struct Open<'t> {
    name: &'t str,
    title: bool,
    prefixed_title: bool,
    link: bool,
    guid: bool,
}

/// An item or channel with no title of its own but a prefixed one may take `dc:title`; an item
/// with no link but a guid may be linked to it.
fn closes_cleanly(e: &Open) -> bool {
    let titled = !(matches!(e.name, "item" | "channel") && !e.title && e.prefixed_title);
    let linked = !(e.name == "item" && !e.link && e.guid);
    titled && linked
}

/// Length of the start tag at the head of `tag`, to its `>` outside quotes.
fn start_tag_len(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in tag.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The attributes of a start tag after its name, as (name, raw value); an Err item when they
/// do not read as `name="value"` or `name='value'`.
struct Attributes<'t>(&'t str);

impl<'t> Iterator for Attributes<'t> {
    type Item = (Option<&'t str>, &'t str);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.0.trim_start();
        if rest.is_empty() {
            return None;
        }
        let malformed = (None, "");
        let Some((name, after)) = rest.split_once('=') else {
            self.0 = "";
            return Some(malformed);
        };
        let after = after.trim_start();
        let Some(quote) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
            self.0 = "";
            return Some(malformed);
        };
        let body = after.get(1..).unwrap_or_default();
        let Some(end) = body.find(quote) else {
            self.0 = "";
            return Some(malformed);
        };
        self.0 = body.get(end + 1..).unwrap_or_default();
        Some((Some(name.trim_end()), body.get(..end).unwrap_or_default()))
    }
}

/// An element of RSS 0.9x/1.0/2.0: no namespace, RSS 1.0's, or one of its aliases.
fn is_rss(node: Node) -> bool {
    node.tag_name()
        .namespace()
        .is_none_or(|ns| ns == RSS10 || RSS_ALIASES.contains(&ns))
}

/// Atom 0.3 → Atom 1.0 names and content types (the namespace itself is swapped by
/// [`Edits::namespace_aliases`]).
fn atom03(text: &str, node: Node, e: &mut Edits) {
    let name = node.tag_name().name();
    let renamed = match name {
        "issued" => Some("published"),
        // `created` is the date only when `issued` is missing.
        "created" if !has_sibling(node, ATOM03, "issued") => Some("published"),
        "modified" => Some("updated"),
        "tagline" => Some("subtitle"),
        "copyright" => Some("rights"),
        "url" if matches!(parent_name(node), Some("author" | "contributor")) => Some("uri"),
        _ => None,
    };
    if let Some(new) = renamed {
        e.rename(text, node, new);
    }
    if !matches!(
        name,
        "title" | "tagline" | "subtitle" | "summary" | "content" | "copyright" | "rights" | "info"
    ) {
        return;
    }
    // Atom 0.3 content: a MIME type (default text/plain) and a mode (default xml).
    let mime = node.attribute("type").unwrap_or("text/plain").trim();
    let markup = mime.contains("html");
    let mode = node.attribute("mode").unwrap_or("xml").trim();
    let atom10_type = match mode {
        "base64" => {
            let decoded = base64_text(node);
            e.replace_content(text, node, &escape(&decoded));
            if markup {
                "html"
            } else {
                "text"
            }
        }
        "escaped" if markup => "html",
        "escaped" => "text",
        // Inline markup: Atom 1.0's xhtml.
        _ if markup && has_element_children(node) => "xhtml",
        _ if markup => "html",
        _ => "text",
    };
    e.set_attr(text, node, "type", atom10_type);
}

/// Atom 1.0 text constructs with a type feed-rs refuses (a MIME type, or empty).
fn atom10(text: &str, node: Node, e: &mut Edits) {
    let name = node.tag_name().name();
    let Some(kind) = node.attribute("type").map(str::trim) else {
        return;
    };
    let text_construct = matches!(name, "title" | "subtitle" | "summary" | "rights");
    if !text_construct && name != "content" {
        return;
    }
    let known = ["text", "html", "xhtml", "text/html"];
    if known.contains(&kind) || (name == "content" && node.attribute("src").is_some()) {
        return;
    }
    let xml = kind.ends_with("+xml") || kind.ends_with("/xml");
    let new = if xml && has_element_children(node) {
        "xhtml"
    } else if kind.starts_with("text/") || kind.is_empty() || xml {
        if kind.contains("html") {
            "html"
        } else if text_construct {
            "text"
        } else {
            return; // content with a text/* type: feed-rs reads it as is
        }
    } else {
        // RFC 4287 4.1.3.3: any other type is base64.
        let decoded = base64_text(node);
        e.replace_content(text, node, &escape(&decoded));
        "html"
    };
    e.set_attr(text, node, "type", new);
}

/// `dc:title` read as the title of an item, channel or Atom 0.3 entry that has none.
fn dc_title(text: &str, node: Node, e: &mut Edits) {
    let own_ns = node.tag_name().namespace();
    let has_title = node.children().any(|c| {
        c.is_element() && c.tag_name().name() == "title" && c.tag_name().namespace() == own_ns
    });
    if has_title {
        return;
    }
    let Some(dc) = node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(DC) && c.tag_name().name() == "title"
    }) else {
        return;
    };
    // The unprefixed name must land in the parent's namespace.
    if dc.default_namespace() != own_ns {
        return;
    }
    e.rename_qname(text, dc, "title");
}

/// RSS 1.0 says an item's `rdf:about` should equal its `<link>`; feed-rs drops an item with no
/// `<link>`, so one is given: `rdf:about` when it is a web address, otherwise a link that is no
/// web address (bantin keeps the item, titled, without a link).
fn rss1_item_link(text: &str, node: Node, e: &mut Edits) {
    let own_ns = node.tag_name().namespace();
    let has_link = node.children().any(|c| {
        c.is_element() && c.tag_name().name() == "link" && c.tag_name().namespace() == own_ns
    });
    if has_link || node.default_namespace() != own_ns {
        return;
    }
    let about = node
        .attribute((RDF, "about"))
        .map(str::trim)
        .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
        .unwrap_or("about:invalid");
    e.append_child(text, node, &format!("<link>{}</link>", escape(about)));
}

/// RSS 2.0: a `<guid>` is a permalink unless `isPermaLink="false"`; an item with no `<link>`
/// is linked to it, as feedparser and the spec's readers do.
fn permalink_guid(text: &str, node: Node, e: &mut Edits) {
    let own_ns = node.tag_name().namespace();
    let child = |name: &str| {
        node.children().find(|c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == own_ns
        })
    };
    if child("link").is_some() {
        return;
    }
    let Some(guid) = child("guid") else {
        return;
    };
    if guid
        .attribute("isPermaLink")
        .is_some_and(|p| p.trim() == "false")
    {
        return;
    }
    let Some(url) = guid.text().map(str::trim) else {
        return;
    };
    if url.starts_with("http://") || url.starts_with("https://") {
        e.append_child(text, node, &format!("<link>{}</link>", escape(url)));
    }
}

fn has_sibling(node: Node, ns: &str, name: &str) -> bool {
    node.parent().is_some_and(|p| {
        p.children().any(|c| {
            c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
        })
    })
}

fn parent_name<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.parent_element().map(|p| p.tag_name().name())
}

fn has_element_children(node: Node) -> bool {
    node.children().any(|c| c.is_element())
}

/// The element's text, base64-decoded; the raw text when it is not base64.
fn base64_text(node: Node) -> String {
    use base64::Engine;
    let raw: String = node
        .descendants()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect();
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or(raw)
}

fn escape(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// Splices into the original text: (range, replacement), applied from the end.
#[derive(Default)]
struct Edits(Vec<(Range<usize>, String)>);

impl Edits {
    /// The start tag's text, from `<` to its `>`; the qname follows `<`.
    fn start_tag<'t>(text: &'t str, node: Node) -> Option<(usize, &'t str)> {
        let start = node.range().start;
        let tag = text.get(start..node.range().end)?;
        // roxmltree parsed it, so the first `>` outside quotes ends the start tag.
        let mut quote = None;
        for (i, c) in tag.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => return Some((start, tag.get(..=i)?)),
                _ => {}
            }
        }
        None
    }

    /// The byte range of the qname in the start tag and, unless self-closing, the end tag.
    fn qnames(text: &str, node: Node) -> Option<(Range<usize>, Option<Range<usize>>)> {
        let (start, tag) = Self::start_tag(text, node)?;
        let len = tag
            .get(1..)?
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')?;
        let open = start + 1..start + 1 + len;
        if tag.ends_with("/>") {
            return Some((open, None));
        }
        let whole = text.get(node.range())?;
        let close_at = node.range().start + whole.rfind("</")? + 2;
        Some((open, Some(close_at..close_at + len)))
    }

    fn rename(&mut self, text: &str, node: Node, local: &str) {
        let Some((open, close)) = Self::qnames(text, node) else {
            return;
        };
        let Some(qname) = text.get(open.clone()) else {
            return;
        };
        let new = match qname.split_once(':') {
            Some((prefix, _)) => format!("{prefix}:{local}"),
            None => local.to_string(),
        };
        self.rename_to(open, close, &new);
    }

    /// Replaces the whole qname, prefix included.
    fn rename_qname(&mut self, text: &str, node: Node, qname: &str) {
        if let Some((open, close)) = Self::qnames(text, node) {
            self.rename_to(open, close, qname);
        }
    }

    fn rename_to(&mut self, open: Range<usize>, close: Option<Range<usize>>, new: &str) {
        self.0.push((open, new.to_string()));
        if let Some(c) = close {
            self.0.push((c, new.to_string()));
        }
    }

    fn set_attr(&mut self, text: &str, node: Node, name: &str, value: &str) {
        if let Some(a) = node
            .attributes()
            .find(|a| a.name() == name && a.namespace().is_none())
        {
            if a.value() != value {
                self.0.push((a.range_value(), value.to_string()));
            }
            return;
        }
        if let Some((open, _)) = Self::qnames(text, node) {
            self.0
                .push((open.end..open.end, format!(" {name}=\"{value}\"")));
        }
    }

    /// Everything between the start and end tags.
    fn replace_content(&mut self, text: &str, node: Node, content: &str) {
        let Some((start, tag)) = Self::start_tag(text, node) else {
            return;
        };
        if tag.ends_with("/>") {
            return;
        }
        let Some(whole) = text.get(node.range()) else {
            return;
        };
        let Some(close) = whole.rfind("</") else {
            return;
        };
        self.0.push((
            start + tag.len()..node.range().start + close,
            content.to_string(),
        ));
    }

    /// Wraps the element's whole content in `<name>`.
    fn wrap_children(&mut self, text: &str, node: Node, name: &str) {
        let Some((start, tag)) = Self::start_tag(text, node) else {
            return;
        };
        let Some(whole) = text.get(node.range()) else {
            return;
        };
        if tag.ends_with("/>") {
            return;
        }
        if let Some(close) = whole.rfind("</") {
            let open_at = start + tag.len();
            let close_at = node.range().start + close;
            self.0.push((open_at..open_at, format!("<{name}>")));
            self.0.push((close_at..close_at, format!("</{name}>")));
        }
    }

    fn append_child(&mut self, text: &str, node: Node, child: &str) {
        let Some(whole) = text.get(node.range()) else {
            return;
        };
        if whole.ends_with("/>") {
            return;
        }
        if let Some(close) = whole.rfind("</") {
            let at = node.range().start + close;
            self.0.push((at..at, child.to_string()));
        }
    }

    /// Namespace declarations of old RSS and Atom 0.3 point at the namespaces feed-rs knows.
    fn namespace_aliases(&mut self, text: &str, node: Node) {
        let Some((start, tag)) = Self::start_tag(text, node) else {
            return;
        };
        // Every element passes here, and almost none declares a namespace: without this, the
        // searches below cost a sixth of a cold ingest.
        if !tag.contains("xmlns") {
            return;
        }
        for (from, to) in RSS_ALIASES
            .iter()
            .map(|a| (*a, RSS10))
            .chain([(ATOM03, ATOM10)])
        {
            for quote in ['"', '\''] {
                let needle = format!("{quote}{from}{quote}");
                for (at, _) in tag.match_indices(&needle) {
                    let before = tag.get(..at).unwrap_or_default().trim_end();
                    let before = before.strip_suffix('=').unwrap_or_default().trim_end();
                    let attr = before
                        .rsplit(char::is_whitespace)
                        .next()
                        .unwrap_or_default();
                    if attr == "xmlns" || attr.starts_with("xmlns:") {
                        let value = start + at + 1;
                        self.0.push((value..value + from.len(), to.to_string()));
                    }
                }
            }
        }
    }

    fn apply(mut self, text: &str) -> Option<String> {
        self.0.sort_by_key(|(r, _)| (r.start, r.end));
        let mut out = String::with_capacity(text.len() + 256);
        let mut at = 0;
        for (range, new) in &self.0 {
            if range.start < at {
                continue; // overlapping edits: the first wins
            }
            out.push_str(text.get(at..range.start)?);
            out.push_str(new);
            at = range.end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Check {
        fn text(self) -> Option<String> {
            match self {
                Check::Rewritten(r) => Some(r.text),
                Check::Plain | Check::Unparsed => None,
            }
        }
    }

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(rewrite_parsed(input).text().as_deref(), expected, "{input}");
        assert_eq!(rewrite(input).text().as_deref(), expected, "{input}");
    }

    #[test]
    fn rewrites() {
        check(
            "<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
            None,
        );
        check(
            "<rss><channel><title>t</title></channel></rss>",
            Some("<rss version=\"2.0\"><channel><title>t</title></channel></rss>"),
        );
        check(
            "<rss version=\"0.94\"><channel/></rss>",
            Some("<rss version=\"2.0\"><channel/></rss>"),
        );
        check(
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>x</tagline><entry><issued>2004</issued><title type=\"text/html\" mode=\"escaped\">&lt;b&gt;</title></entry></feed>",
            Some("<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><subtitle type=\"text\">x</subtitle><entry><published>2004</published><title type=\"html\" mode=\"escaped\">&lt;b&gt;</title></entry></feed>"),
        );
        check(
            "<a:feed xmlns:a='http://purl.org/atom/ns#'><a:entry><a:content mode=\"base64\">PGI+eDwvYj4=</a:content></a:entry></a:feed>",
            Some("<a:feed xmlns:a='http://www.w3.org/2005/Atom'><a:entry><a:content type=\"text\" mode=\"base64\">&lt;b&gt;x&lt;/b&gt;</a:content></a:entry></a:feed>"),
        );
        check(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"application/xhtml+xml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></title></feed>",
            Some("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></title></feed>"),
        );
        check(
            "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><item><dc:title>T</dc:title></item></channel></rss>",
            Some("<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><item><title>T</title></item></channel></rss>"),
        );
        check(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><item rdf:about=\"http://a.vn/1\"><title>T</title></item></rdf:RDF>",
            Some("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><item rdf:about=\"http://a.vn/1\"><title>T</title><link>http://a.vn/1</link></item></rdf:RDF>"),
        );
        check(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><item><title>T</title><link>http://a.vn/1</link></item></rdf:RDF>",
            Some("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><item><title>T</title><link>http://a.vn/1</link></item></rdf:RDF>"),
        );
        check(
            "<rss version=\"2.0\"><item><title>a</title></item></rss>",
            Some("<rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>"),
        );
        check(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"\">a</title></entry></feed>",
            Some("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"text\">a</title></entry></feed>"),
        );
        check(
            "<rss version=\"2.0\"><channel><item><guid>http://a.vn/1</guid></item><item><guid isPermaLink=\"false\">http://a.vn/2</guid></item></channel></rss>",
            Some("<rss version=\"2.0\"><channel><item><guid>http://a.vn/1</guid><link>http://a.vn/1</link></item><item><guid isPermaLink=\"false\">http://a.vn/2</guid></item></channel></rss>"),
        );
        // Not XML roxmltree reads, or not a feed: untouched.
        check("<rss><channel><title>a & b</title></channel></rss>", None);
        check("<html><rss/></html>", None);
    }

    /// The scan passes plain RSS 2.0 and sends everything that may need an edit to the parse.
    #[test]
    fn scan_proves_only_what_the_parse_would_leave() {
        let plain = [
            "<?xml version=\"1.0\"?><!-- c --><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>t</title><atom:link href=\"x\" rel=\"self\" type=\"application/rss+xml\"/><item><title><![CDATA[a <guid>b</guid> ]]></title><link>http://a.vn/1</link><guid>1</guid><dc:title>d</dc:title><description>&lt;p&gt;</description></item><item><title>b</title></item></channel></rss>",
            "<rss version='0.91'><channel><item><title>a</title><guid isPermaLink=\"false\">x</guid><link>l</link></item></channel></rss>",
        ];
        for doc in plain {
            assert!(proven_unneeded(doc).is_some(), "{doc}");
            assert!(matches!(rewrite_parsed(doc), Check::Plain), "{doc}");
        }
        let unsure = [
            "<rss><channel/></rss>",
            "<rss version=\"0.94\"><channel/></rss>",
            "<rss version=\"2.0\"><item><title>a</title></item></rss>",
            "<rss version=\"2.0\"><channel><item><guid>http://a.vn/1</guid></item></channel></rss>",
            "<rss version=\"2.0\"><channel><item><title>a</title><description><![CDATA[<link>]]></description><guid>http://a.vn/1</guid></item></channel></rss>",
            "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><item><dc:title>T</dc:title></item></channel></rss>",
            "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel/></rss>",
            "<rss version=\"2.0\" xmlns:a=\"http://purl.org/atom/ns#\"><channel/></rss>",
            "<rss version=\"2.0\" xmlns:a=\"http://www.w3.org/2005/Atom\"><channel><a:title type=\"text/plain\">x</a:title></channel></rss>",
            "<rss version=\"2.0\" xmlns:r=\"http://purl.org/rss/1.0/\"><channel><r:item/></channel></rss>",
            "<!DOCTYPE rss [<!ENTITY v \"0.94\">]><rss version=\"&v;\"><channel/></rss>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
        ];
        for doc in unsure {
            assert!(proven_unneeded(doc).is_none(), "{doc}");
        }
    }
}
